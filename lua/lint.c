/* SPDX-License-Identifier: MIT */
/* medicd --lint: what a loaded set of checks and rules gets wrong although it loads. The
 * loader (lua-decl.c) already refuses what does not parse (unknown fields and remedies,
 * durations, rates, windows); here are the mistakes that only show when the set runs. */
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"

static _printf_(4, 5) int add(LintFindings *l, const char *file, int line, const char *fmt, ...) {
        LintFinding *v = realloc(l->v, (l->n + 1) * sizeof(*v));
        va_list ap;
        char *m;

        if (!v)
                return -ENOMEM;
        l->v = v;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        v[l->n] = (LintFinding) { .file = strdup(file), .line = line, .message = m };
        if (!m || !v[l->n].file) {
                free(m);
                free(v[l->n].file);
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

void lint_findings_clear(LintFindings *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].file);
                free(l->v[i].message);
        }
        free(l->v);
        *l = (LintFindings) {};
}

static bool is_ident(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* True when the text has the word "exec" (medic.exec, or a local alias of it). */
static bool mentions_exec(const char *text, size_t len) {
        for (size_t i = 0; i + 4 <= len; i++)
                if (memcmp(text + i, "exec", 4) == 0 && (i == 0 || !is_ident(text[i - 1])) &&
                    (i + 4 == len || !is_ident(text[i + 4])))
                        return true;
        return false;
}

/* Whether a check runs commands: the text of its run function (lines linedefined to
 * lastlinedefined of the file it was written in) mentions exec. A run function from a helper
 * (command_check, http_check: not written in the file) never counts. A heuristic: a command
 * run by a function the run function calls is not seen. */
static bool check_runs_commands(const CheckDecl *c) {
        _cleanup_free_ char *buf = NULL;
        lua_State *L = c->file->L;
        const char *p, *start = NULL, *end = NULL;
        lua_Debug ar = {};
        size_t size;
        int line = 1;

        if (c->fn_ref == LUA_NOREF || lua_rawgeti(L, LUA_REGISTRYINDEX, c->fn_ref) != LUA_TFUNCTION) {
                lua_pop(L, 1);
                return false;
        }
        if (!lua_getinfo(L, ">S", &ar) || ar.source[0] != '@' || strcmp(ar.source + 1, c->file->path) != 0 ||
            ar.linedefined <= 0)
                return false;
        if (read_file(c->file->path, 4 * 1024 * 1024, &buf, &size) < 0)
                return false;
        for (p = buf; p < buf + size; p++) {
                if (line == ar.linedefined && !start)
                        start = p;
                if (*p == '\n' && ++line > ar.lastlinedefined) {
                        end = p;
                        break;
                }
        }
        if (!start)
                return false;
        return mentions_exec(start, (size_t) ((end ? end : buf + size) - start));
}

int lint_set(const LuaSet *s, time_t now, LintFindings *ret) {
        int r = 0;

        for (size_t i = 0; i < s->n_checks; i++) {
                const CheckDecl *c = s->checks[i];
                if (!c->timeout_set && check_runs_commands(c))
                        r |= add(ret, c->file->path, c->line,
                                 "check '%s' runs commands (medic.exec) but sets no timeout: it gets check_timeout "
                                 "(%llus); set timeout = \"...\" to what its commands need",
                                 c->name, (unsigned long long) (c->timeout / USEC_PER_SEC));
        }
        for (size_t i = 0; i < s->n_rules; i++) {
                const RuleDecl *rule = s->rules[i];
                const char *path = rule->file->path;

                if (rule->when && !luaset_find_check(s, rule->when))
                        r |= add(ret, path, rule->line, "rule '%s' waits for condition '%s', which no check declares",
                                 rule->name, rule->when);
                for (size_t k = 0; k < rule->unless.n; k++) {
                        if (!luaset_find_check(s, rule->unless.v[k]))
                                r |= add(ret, path, rule->line,
                                         "rule '%s' is blocked by condition '%s', which no check declares",
                                         rule->name, rule->unless.v[k]);
                        if (streq_ptr(rule->when, rule->unless.v[k]))
                                r |= add(ret, path, rule->line,
                                         "rule '%s': condition '%s' is both its trigger (when) and a blocker "
                                         "(unless): the rule never fires",
                                         rule->name, rule->when);
                }
                for (size_t k = 0; k < rule->n_windows; k++)
                        if (window_next_open(rule->windows[k], now) == (time_t) -1)
                                r |= add(ret, path, rule->line, "rule '%s': window '%s' never opens", rule->name,
                                         window_text(rule->windows[k]));
                if (remedy_is_disruptive(&rule->remedy) && !rule->limit_set)
                        r |= add(ret, path, rule->line,
                                 "rule '%s': disruptive remedy %s without a limit (the default 3/1h applies); "
                                 "set limit = \"1/24h\" or the like",
                                 rule->name, rule->remedy.text);
        }
        return r < 0 ? -ENOMEM : 0;
}
