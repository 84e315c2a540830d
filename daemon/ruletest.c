/* SPDX-License-Identifier: MIT */
/* medicd --test: unit tests of check and rule files, the way `promtool test rules` tests
 * alerting rules. A test file (Lua) declares tests: the files under test and the node, then a
 * timeline over virtual time of check results, coordinator answers, remedy outcomes and the
 * stop file, and expectations (which rules fired, which tasks ran, whether the node would
 * reboot, what explain says). Each test runs the daemon's own manager (manager_start_test():
 * no check runs, no socket, no event source) on a private state directory, with the scripted
 * coordinator (coord-script.c) and the act/ layer in record-only mode (ActHost.record), on a
 * virtual clock (clock_set_source()). Results go in through manager_inject_result(), time
 * passes in ticks of manager_tick(): the decision code is the daemon's, not a copy. */
#include <ftw.h>
#include <lauxlib.h>
#include <libgen.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "commands.h"
#include "duration.h"
#include "log.h"
#include "manager.h"
#include "ruletest.h"

#define DEFAULT_START "2026-01-01 00:00:00"
#define BOOT_START (100 * USEC_PER_SEC)     /* the virtual boot clock at the test's start */
#define MAX_DRAIN 10000                     /* event-loop iterations after one step */

typedef enum StepKind { STEP_RESULT, STEP_COORDINATOR, STEP_OUTCOME, STEP_STOP, STEP_EXPECT } StepKind;

typedef struct Step {
        StepKind kind;
        int line;
        uint64_t at;            /* usec after the start */
        char *name;             /* result: the check; outcome: the rule */
        int state;              /* result: a CondState or CHECK_SKIP */
        char *message;          /* result: its message; coordinator: the reason */
        CoordAnswer answer;     /* coordinator */
        bool flag;              /* outcome: ok; stop: present */
        StrList fired, not_fired, tasks;
        int rebooted;           /* -1: not expected either way */
        char *explain_rule, *explain_decision, *explain_reason, *explain_permission;
        int explain_would_fire; /* -1: not expected */
} Step;

typedef struct Test {
        char *name;
        int line;
        StrList files;          /* resolved against the test file's directory */
        char *node, *group, *start, *timezone;
        StrList labels;         /* KEY=VALUE, sorted */
        uint64_t tick;
        char *config;           /* medic.conf sections of the test's `config` */
        bool sets_log_level;
        Step *steps;
        size_t n_steps;
} Test;

typedef struct TestFile {
        const char *path;
        char *dir;
        Test *tests;
        size_t n_tests;
} TestFile;

typedef struct Record {
        char *rule, *what;
        uint64_t at;
} Record;

typedef struct Run {
        const TestFile *file;
        const Test *test;
        Record *records;
        size_t n_records, seen; /* seen: records before the previous expectation */
        bool has_prev;
        uint64_t prev_at;       /* the previous expectation's time */
        StrList failing;        /* rules whose remedies and tasks fail (outcome { ok = false }) */
        char *dir, *stop_file;
        unsigned *counter;      /* the TAP test number */
        unsigned passed, failed;
} Run;

/* ---- the virtual clock -------------------------------------------------------------------- */

/* clock_source_t takes no argument: the clock of the test that runs (one at a time). */
static uint64_t virt_realtime, virt_boottime, virt_elapsed;

/* The wall and boot clocks are the test's; the monotonic clock is the kernel's moved on by the
 * virtual time elapsed, so that the Lua time budgets still measure real time. */
static uint64_t test_clock(clockid_t id) {
        if (id == CLOCK_REALTIME)
                return virt_realtime;
        if (id == CLOCK_BOOTTIME)
                return virt_boottime;
        return now_clock_real(id) + virt_elapsed;
}

static const char *fmt_at(uint64_t usec, char *buf, size_t n) {
        if (usec == 0)
                return "0s";
        return duration_format(usec, buf, n);
}

/* ---- reading a test file ------------------------------------------------------------------ */

static void step_free(Step *s) {
        free(s->name);
        free(s->message);
        strlist_clear(&s->fired);
        strlist_clear(&s->not_fired);
        strlist_clear(&s->tasks);
        free(s->explain_rule);
        free(s->explain_decision);
        free(s->explain_reason);
        free(s->explain_permission);
}

static void test_free(Test *t) {
        free(t->name);
        strlist_clear(&t->files);
        free(t->node);
        free(t->group);
        free(t->start);
        free(t->timezone);
        strlist_clear(&t->labels);
        free(t->config);
        for (size_t i = 0; i < t->n_steps; i++)
                step_free(&t->steps[i]);
        free(t->steps);
}

static void testfile_clear(TestFile *f) {
        for (size_t i = 0; i < f->n_tests; i++)
                test_free(&f->tests[i]);
        free(f->tests);
        free(f->dir);
        *f = (TestFile) {};
}

static int caller_line(lua_State *L) {
        lua_Debug ar;
        if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
                return ar.currentline;
        return 0;
}

static TestFile *ctx(lua_State *L) {
        return lua_touserdata(L, lua_upvalueindex(1));
}

/* Raises "FILE:LINE: message" at the caller's line in the test file. */
static _printf_(2, 3) int dsl_error(lua_State *L, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        lua_pushfstring(L, "%s:%d: %s", ctx(L)->path, caller_line(L), buf);
        return lua_error(L);
}

static void oom(lua_State *L) {
        dsl_error(L, "out of memory");
}

/* Every key of the table at idx is one of allowed. */
static void check_fields(lua_State *L, int idx, const char *what, const char *const *allowed) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
                bool known = false;
                lua_pop(L, 1);
                if (lua_type(L, -1) == LUA_TSTRING)
                        for (const char *const *a = allowed; *a; a++)
                                known |= strcmp(*a, lua_tostring(L, -1)) == 0;
                if (!known) {
                        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1);
                        dsl_error(L, "%s: unknown field '%s'", what, k);
                }
        }
}

/* The string field key of the table at idx (malloc'ed), NULL when absent. */
static char *opt_string(lua_State *L, int idx, const char *what, const char *key) {
        char *s = NULL;
        int t = lua_getfield(L, idx, key);

        if (t != LUA_TNIL) {
                if (t != LUA_TSTRING)
                        dsl_error(L, "%s: %s must be a string, not %s", what, key, luaL_typename(L, -1));
                s = strdup(lua_tostring(L, -1));
                if (!s)
                        oom(L);
        }
        lua_pop(L, 1);
        return s;
}

static char *need_string(lua_State *L, int idx, const char *what, const char *key) {
        char *s = opt_string(L, idx, what, key);
        if (!s)
                dsl_error(L, "%s: %s is missing", what, key);
        return s;
}

static uint64_t opt_duration(lua_State *L, int idx, const char *what, const char *key, uint64_t dflt, bool required) {
        _cleanup_free_ char *s = opt_string(L, idx, what, key);
        uint64_t v;

        if (!s) {
                if (required)
                        dsl_error(L, "%s: %s is missing (a duration after the start, like \"5m\")", what, key);
                return dflt;
        }
        if (duration_parse(s, &v) < 0)
                dsl_error(L, "%s: %s: invalid duration '%s'", what, key, s);
        return v;
}

/* -1 absent, else 0/1. */
static int opt_bool(lua_State *L, int idx, const char *what, const char *key) {
        int t = lua_getfield(L, idx, key), v = -1;

        if (t != LUA_TNIL) {
                if (t != LUA_TBOOLEAN)
                        dsl_error(L, "%s: %s must be true or false", what, key);
                v = lua_toboolean(L, -1);
        }
        lua_pop(L, 1);
        return v;
}

/* A string or a list of strings. */
static void opt_strlist(lua_State *L, int idx, const char *what, const char *key, StrList *ret) {
        int t = lua_getfield(L, idx, key);

        if (t == LUA_TSTRING) {
                if (strlist_add(ret, lua_tostring(L, -1)) < 0)
                        oom(L);
        } else if (t == LUA_TTABLE) {
                lua_Integer n = (lua_Integer) lua_rawlen(L, -1);
                for (lua_Integer i = 1; i <= n; i++) {
                        if (lua_rawgeti(L, -1, i) != LUA_TSTRING)
                                dsl_error(L, "%s: %s[%lld] must be a string", what, key, (long long) i);
                        if (strlist_add(ret, lua_tostring(L, -1)) < 0)
                                oom(L);
                        lua_pop(L, 1);
                }
        } else if (t != LUA_TNIL)
                dsl_error(L, "%s: %s must be a string or a list of strings", what, key);
        lua_pop(L, 1);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A scalar value of `config` or `labels`, as medic.conf spells it. */
static const char *conf_value(lua_State *L, int idx, const char *what) {
        if (lua_type(L, idx) == LUA_TBOOLEAN)
                return lua_toboolean(L, idx) ? "yes" : "no";
        if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
                dsl_error(L, "%s must be a string, number or boolean", what);
        return lua_tostring(L, idx);
}

/* config = { SECTION = { KEY = VALUE, ... }, ... } as medic.conf text. */
static void read_config(lua_State *L, int idx, Test *t) {
        StrList lines = {};
        size_t len = 0;

        if (lua_getfield(L, idx, "config") == LUA_TNIL) {
                lua_pop(L, 1);
                return;
        }
        if (!lua_istable(L, -1))
                dsl_error(L, "test: config must be a table of sections");
        lua_pushnil(L);
        while (lua_next(L, -2)) {
                const char *section = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
                if (!section || !lua_istable(L, -1))
                        dsl_error(L, "test: config: each entry is SECTION = { KEY = VALUE, ... }");
                strlist_addf(&lines, "[%s]", section);
                lua_pushnil(L);
                while (lua_next(L, -2)) {
                        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
                        if (!key)
                                dsl_error(L, "test: config.%s: keys must be strings", section);
                        strlist_addf(&lines, "%s = %s", key, conf_value(L, -1, "test: config value"));
                        if (strcmp(section, "medic") == 0 && strcmp(key, "log_level") == 0)
                                t->sets_log_level = true;
                        lua_pop(L, 1);
                }
                lua_pop(L, 1);
        }
        lua_pop(L, 1);
        for (size_t i = 0; i < lines.n; i++)
                len += strlen(lines.v[i]) + 1;
        t->config = calloc(1, len + 1);
        if (!t->config) {
                strlist_clear(&lines);
                oom(L);
        }
        for (size_t i = 0; i < lines.n; i++) {
                strcat(t->config, lines.v[i]);
                strcat(t->config, "\n");
        }
        strlist_clear(&lines);
}

/* test "NAME" { files = {...}, node =, group =, labels = {}, start =, timezone =, tick =, config = {} } */
static int l_test_body(lua_State *L) {
        static const char *const fields[] = { "files", "node", "group", "labels", "start", "timezone", "tick",
                                              "config", NULL };
        TestFile *f = ctx(L);
        StrList files = {};
        Test *v, *t;

        luaL_checktype(L, 1, LUA_TTABLE);
        check_fields(L, 1, "test", fields);
        v = realloc(f->tests, (f->n_tests + 1) * sizeof(*v));
        if (!v)
                oom(L);
        f->tests = v;
        t = &f->tests[f->n_tests++];
        *t = (Test) { .line = caller_line(L), .tick = USEC_PER_SEC };
        t->name = strdup(lua_tostring(L, lua_upvalueindex(2)));
        opt_strlist(L, 1, "test", "files", &files);
        for (size_t i = 0; i < files.n; i++)
                if (files.v[i][0] == '/')
                        strlist_add(&t->files, files.v[i]);
                else
                        strlist_addf(&t->files, "%s/%s", f->dir, files.v[i]);
        strlist_clear(&files);
        if (t->files.n == 0)
                dsl_error(L, "test: files is missing: the check and rule files (or directories) under test");
        t->node = opt_string(L, 1, "test", "node");
        t->group = opt_string(L, 1, "test", "group");
        t->start = opt_string(L, 1, "test", "start");
        t->timezone = opt_string(L, 1, "test", "timezone");
        t->tick = opt_duration(L, 1, "test", "tick", USEC_PER_SEC, false);
        if (t->tick == 0)
                dsl_error(L, "test: tick must be longer than 0");
        if (lua_getfield(L, 1, "labels") != LUA_TNIL) {
                if (!lua_istable(L, -1))
                        dsl_error(L, "test: labels must be a table { KEY = VALUE, ... }");
                lua_pushnil(L);
                while (lua_next(L, -2)) {
                        if (lua_type(L, -2) != LUA_TSTRING)
                                dsl_error(L, "test: labels: keys must be strings");
                        strlist_addf(&t->labels, "%s=%s", lua_tostring(L, -2), conf_value(L, -1, "test: a label"));
                        lua_pop(L, 1);
                }
                if (t->labels.n > 0) /* qsort() of NULL, 0 is undefined */
                        qsort(t->labels.v, t->labels.n, sizeof(char *), cmp_str);
        }
        lua_pop(L, 1);
        read_config(L, 1, t);
        return 0;
}

static int l_test(lua_State *L) {
        luaL_checkstring(L, 1);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_pushvalue(L, 1);
        lua_pushcclosure(L, l_test_body, 2);
        return 1;
}

static Step *new_step(lua_State *L, StepKind kind, const char *what, const char *const *fields) {
        TestFile *f = ctx(L);
        Test *t;
        Step *v;

        luaL_checktype(L, 1, LUA_TTABLE);
        if (f->n_tests == 0)
                dsl_error(L, "%s{} before any test \"NAME\" {}", what);
        check_fields(L, 1, what, fields);
        t = &f->tests[f->n_tests - 1];
        v = realloc(t->steps, (t->n_steps + 1) * sizeof(*v));
        if (!v)
                oom(L);
        t->steps = v;
        v = &t->steps[t->n_steps++];
        *v = (Step) { .kind = kind, .line = caller_line(L), .rebooted = -1, .explain_would_fire = -1 };
        v->at = opt_duration(L, 1, what, "at", 0, true);
        return v;
}

/* result { at =, check =, state = "ok"|"problem"|"unknown"|"skip", message = } */
static int l_result(lua_State *L) {
        static const char *const fields[] = { "at", "check", "state", "message", NULL };
        Step *s = new_step(L, STEP_RESULT, "result", fields);
        _cleanup_free_ char *state = need_string(L, 1, "result", "state");

        s->name = need_string(L, 1, "result", "check");
        s->message = opt_string(L, 1, "result", "message");
        s->state = strcmp(state, "skip") == 0 ? CHECK_SKIP : (int) cond_state_from_string(state);
        if (s->state < 0)
                dsl_error(L, "result: state must be ok, problem, unknown or skip, not '%s'", state);
        return 0;
}

/* coordinator { at =, answer = "granted"|"denied"|"unknown", reason = } */
static int l_coordinator(lua_State *L) {
        static const char *const fields[] = { "at", "answer", "reason", NULL };
        Step *s = new_step(L, STEP_COORDINATOR, "coordinator", fields);
        _cleanup_free_ char *a = need_string(L, 1, "coordinator", "answer");

        s->message = opt_string(L, 1, "coordinator", "reason");
        if (strcmp(a, "granted") == 0 || strcmp(a, "grant") == 0)
                s->answer = COORD_GRANTED;
        else if (strcmp(a, "denied") == 0 || strcmp(a, "deny") == 0)
                s->answer = COORD_DENIED;
        else if (strcmp(a, "unknown") == 0)
                s->answer = COORD_UNKNOWN;
        else
                dsl_error(L, "coordinator: answer must be granted, denied or unknown, not '%s'", a);
        return 0;
}

/* outcome { at =, rule =, ok = BOOL }: the rule's remedies and tasks succeed or fail from then on. */
static int l_outcome(lua_State *L) {
        static const char *const fields[] = { "at", "rule", "ok", NULL };
        Step *s = new_step(L, STEP_OUTCOME, "outcome", fields);
        int ok = opt_bool(L, 1, "outcome", "ok");

        s->name = need_string(L, 1, "outcome", "rule");
        if (ok < 0)
                dsl_error(L, "outcome: ok is missing (true or false)");
        s->flag = ok;
        return 0;
}

/* stop { at =, present = BOOL }: the local stop file. */
static int l_stop(lua_State *L) {
        static const char *const fields[] = { "at", "present", NULL };
        Step *s = new_step(L, STEP_STOP, "stop", fields);
        int present = opt_bool(L, 1, "stop", "present");

        s->flag = present != 0;
        return 0;
}

/* expect { at =, fired = {}, not_fired = {}, tasks = {}, rebooted = BOOL,
 *          explain = { rule =, decision =, reason =, would_fire = } } */
static int l_expect(lua_State *L) {
        static const char *const fields[] = { "at", "fired", "not_fired", "tasks", "rebooted", "explain", NULL };
        static const char *const explain_fields[] = { "rule", "decision", "reason", "would_fire", "permission", NULL };
        Step *s = new_step(L, STEP_EXPECT, "expect", fields);

        opt_strlist(L, 1, "expect", "fired", &s->fired);
        opt_strlist(L, 1, "expect", "not_fired", &s->not_fired);
        opt_strlist(L, 1, "expect", "tasks", &s->tasks);
        s->rebooted = opt_bool(L, 1, "expect", "rebooted");
        if (lua_getfield(L, 1, "explain") != LUA_TNIL) {
                int idx = lua_gettop(L);
                if (!lua_istable(L, idx))
                        dsl_error(L, "expect: explain must be a table { rule =, decision =, reason = }");
                check_fields(L, idx, "expect.explain", explain_fields);
                s->explain_rule = need_string(L, idx, "expect.explain", "rule");
                s->explain_decision = opt_string(L, idx, "expect.explain", "decision");
                s->explain_reason = opt_string(L, idx, "expect.explain", "reason");
                s->explain_would_fire = opt_bool(L, idx, "expect.explain", "would_fire");
                s->explain_permission = opt_string(L, idx, "expect.explain", "permission");
                if (s->explain_permission && strcmp(s->explain_permission, "none") != 0 &&
                    strcmp(s->explain_permission, "asking") != 0 && strcmp(s->explain_permission, "held") != 0)
                        dsl_error(L, "expect.explain: permission must be none, asking or held, not '%s'",
                                  s->explain_permission);
        }
        lua_pop(L, 1);
        if (s->fired.n + s->not_fired.n + s->tasks.n == 0 && s->rebooted < 0 && !s->explain_rule)
                dsl_error(L, "expect: nothing expected (fired, not_fired, tasks, rebooted or explain)");
        return 0;
}

/* Runs the test file in a plain Lua state with the test declarations as its globals. Returns
 * 0, or -EINVAL with the message (FILE:LINE: ...) in *ret_error. */
static int testfile_load(const char *path, TestFile *ret, char **ret_error) {
        static const luaL_Reg libs[] = {
                { LUA_GNAME, luaopen_base }, { LUA_STRLIBNAME, luaopen_string },
                { LUA_TABLIBNAME, luaopen_table }, { LUA_MATHLIBNAME, luaopen_math }, {},
        };
        static const luaL_Reg dsl[] = {
                { "test", l_test }, { "result", l_result }, { "coordinator", l_coordinator },
                { "outcome", l_outcome }, { "stop", l_stop }, { "expect", l_expect }, {},
        };
        _cleanup_free_ char *copy = strdup(path);
        lua_State *L = luaL_newstate();
        int r = 0;

        *ret = (TestFile) { .path = path, .dir = copy ? strdup(dirname(copy)) : NULL };
        if (!L || !ret->dir) {
                if (L)
                        lua_close(L);
                *ret_error = strprintf("%s: out of memory", path);
                return -ENOMEM;
        }
        for (const luaL_Reg *l = libs; l->name; l++) {
                luaL_requiref(L, l->name, l->func, 1);
                lua_pop(L, 1);
        }
        for (const luaL_Reg *d = dsl; d->name; d++) {
                lua_pushlightuserdata(L, ret);
                lua_pushcclosure(L, d->func, 1);
                lua_setglobal(L, d->name);
        }
        if (luaL_loadfilex(L, path, "t") != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK) {
                *ret_error = strdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
                r = -EINVAL;
        } else if (ret->n_tests == 0) {
                *ret_error = strprintf("%s: no test \"NAME\" { ... } in the file", path);
                r = -EINVAL;
        }
        lua_close(L);
        return r;
}

/* ---- running a test ------------------------------------------------------------------------ */

static bool on_record(void *data, const char *rule, const char *what) {
        Run *run = data;
        Record *v = realloc(run->records, (run->n_records + 1) * sizeof(*v));

        if (v) {
                run->records = v;
                v[run->n_records++] = (Record) { .rule = strdup_or_null(rule), .what = strdup(what),
                                                 .at = virt_elapsed };
        }
        return !(rule && strlist_contains(&run->failing, rule));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

/* The configuration of the node under test: the test's node, group, labels and `config`, and
 * everything that could touch the machine pointed into the private directory. */
static int write_config(const Test *t, const char *dir, char **ret_path) {
        _cleanup_free_ char *path = strprintf("%s/medic.conf", dir), *labels = NULL, *text = NULL;
        size_t len = 0;

        for (size_t i = 0; i < t->labels.n; i++)
                len += strlen(t->labels.v[i]) + 2;
        labels = calloc(1, len + 1);
        if (!path || !labels)
                return -ENOMEM;
        for (size_t i = 0; i < t->labels.n; i++) {
                if (i > 0)
                        strcat(labels, ", ");
                strcat(labels, t->labels.v[i]);
        }
        text = strprintf("[medic]\nnode = %s\ngroup = %s\n%s%s%sstate_dir = %s/state\nsocket = %s/medicd.sock\n"
                         "stop_file = %s/stop\ndry_run = no\nverify_owner = no\n%s"
                         "[reboot]\npre_reboot_dir = %s/none\nabort_dir = %s/none\npost_reboot_dir = %s/none\n"
                         "%s",
                         t->node ? t->node : "test-node", t->group ? t->group : "default",
                         t->labels.n ? "labels = " : "", labels, t->labels.n ? "\n" : "", dir, dir, dir,
                         t->sets_log_level ? "" : "log_level = error\n", dir, dir, dir, t->config ? t->config : "");
        if (!text)
                return -ENOMEM;
        int r = write_file_atomic(path, text, strlen(text), 0600);
        if (r < 0)
                return r;
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* "YYYY-MM-DD HH:MM[:SS]" in the test's time zone, or in UTC with a trailing " UTC" or "Z". */
static int parse_start(const char *s, uint64_t *ret) {
        struct tm tm = {};
        const char *end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
        bool utc;
        time_t t;

        if (!end) {
                tm = (struct tm) {};
                end = strptime(s, "%Y-%m-%d %H:%M", &tm);
        }
        if (!end)
                return -EINVAL;
        utc = strcmp(end, " UTC") == 0 || strcmp(end, "Z") == 0;
        if (*end && !utc)
                return -EINVAL;
        tm.tm_isdst = -1;
        t = utc ? timegm(&tm) : mktime(&tm);
        if (t == (time_t) -1 || t < 0)
                return -EINVAL;
        *ret = (uint64_t) t * USEC_PER_SEC;
        return 0;
}

static void set_time(uint64_t start, uint64_t elapsed) {
        virt_elapsed = elapsed;
        virt_realtime = start + elapsed;
        virt_boottime = BOOT_START + elapsed;
}

/* Runs what the loop has ready (deferred remedy results, task runs) until it is idle. */
static void drain(sd_event *e) {
        for (int i = 0; i < MAX_DRAIN && sd_event_run(e, 0) > 0; i++)
                ;
}

static bool is_firing(const Record *r) {
        return strncmp(r->what, "remedy ", 7) == 0 || strcmp(r->what, "maintenance") == 0 ||
               strcmp(r->what, "reboot") == 0;
}

static bool task_matches(const char *what, const char *want) {
        const char *path, *slash;

        if (strncmp(what, "task ", 5) != 0)
                return false;
        path = what + 5;
        slash = strrchr(path, '/');
        return strcmp(path, want) == 0 || (slash && strcmp(slash + 1, want) == 0);
}

/* What the window of records holds, for "got:". */
static char *describe_records(const Run *run) {
        _cleanup_free_ char *s = strdup("");
        char buf[32];

        for (size_t i = run->seen; s && i < run->n_records; i++) {
                const Record *r = &run->records[i];
                char *n = strprintf("%s%s%s %s at %s", s, *s ? "; " : "", r->rule ? r->rule : "-", r->what,
                                    fmt_at(r->at, buf, sizeof buf));
                free(s);
                s = n;
        }
        if (s && !*s)
                return strdup("nothing was recorded");
        return TAKE_PTR(s);
}

static _printf_(3, 4) void mismatch(StrList *out, const char *expected, const char *got_fmt, ...) {
        _cleanup_free_ char *got = NULL;
        va_list ap;

        va_start(ap, got_fmt);
        if (vasprintf(&got, got_fmt, ap) < 0)
                got = NULL;
        va_end(ap);
        strlist_addf(out, "expected: %s", expected);
        strlist_addf(out, "got:      %s", got ? got : "?");
}

static const char *jstring(struct json_object *o, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                ? json_object_get_string(v) : NULL;
}

/* explain through the control command's own handler. */
static void check_explain(Manager *m, const Step *s, StrList *out, StrList *what) {
        struct json_object *req = json_object_new_object(), *reply, *v;
        const char *decision, *reason;

        json_object_object_add(req, "command", json_object_new_string("explain"));
        json_object_object_add(req, "rule", json_object_new_string(s->explain_rule));
        reply = commands_dispatch(NULL, req, 0, m);
        json_object_put(req);
        strlist_addf(what, "explain %s", s->explain_rule);
        if (!reply || !json_object_object_get_ex(reply, "ok", &v) || !json_object_get_boolean(v)) {
                _cleanup_free_ char *e = strprintf("explain of rule %s", s->explain_rule);
                mismatch(out, e ? e : "explain", "error: %s", reply && jstring(reply, "error") ? jstring(reply, "error") : "?");
                json_object_put(reply);
                return;
        }
        decision = jstring(reply, "decision");
        reason = jstring(reply, "reason");
        if (s->explain_decision && !streq_ptr(decision, s->explain_decision)) {
                _cleanup_free_ char *e = strprintf("decision %s", s->explain_decision);
                mismatch(out, e ? e : "?", "decision %s (reason: %s)", decision ? decision : "?", reason ? reason : "");
        }
        if (s->explain_reason && (!reason || !strstr(reason, s->explain_reason))) {
                _cleanup_free_ char *e = strprintf("a reason containing \"%s\"", s->explain_reason);
                mismatch(out, e ? e : "?", "reason \"%s\" (decision %s)", reason ? reason : "", decision ? decision : "?");
        }
        if (s->explain_would_fire >= 0 && json_object_object_get_ex(reply, "would_fire", &v) &&
            json_object_get_boolean(v) != s->explain_would_fire)
                mismatch(out, s->explain_would_fire ? "would_fire true" : "would_fire false",
                         "would_fire %s (decision %s: %s)", json_object_get_boolean(v) ? "true" : "false",
                         decision ? decision : "?", reason ? reason : "");
        if (s->explain_permission) {
                const char *state = json_object_object_get_ex(reply, "permission", &v) ? jstring(v, "state") : NULL;
                if (!streq_ptr(state, s->explain_permission)) {
                        _cleanup_free_ char *e = strprintf("permission %s", s->explain_permission);
                        mismatch(out, e ? e : "?", "permission %s (decision %s: %s)", state ? state : "?",
                                 decision ? decision : "?", reason ? reason : "");
                }
        }
        json_object_put(reply);
}

/* One expectation: one TAP test point. */
static void check_expect(Run *run, Manager *m, const Step *s, uint64_t start) {
        StrList out = {}, what = {};
        _cleanup_free_ char *got = describe_records(run);
        char at[32], since[32], wall[64];
        time_t t = (time_t) ((start + s->at) / USEC_PER_SEC);
        struct tm tm;

        for (size_t i = 0; i < s->fired.n; i++) {
                bool found = false;
                for (size_t k = run->seen; k < run->n_records; k++)
                        found |= is_firing(&run->records[k]) && streq_ptr(run->records[k].rule, s->fired.v[i]);
                strlist_addf(&what, "fired %s", s->fired.v[i]);
                if (!found) {
                        _cleanup_free_ char *e = strprintf("rule %s fired", s->fired.v[i]);
                        mismatch(&out, e ? e : "?", "%s", got);
                }
        }
        for (size_t i = 0; i < s->not_fired.n; i++) {
                bool found = false;
                for (size_t k = run->seen; k < run->n_records; k++)
                        found |= is_firing(&run->records[k]) && streq_ptr(run->records[k].rule, s->not_fired.v[i]);
                strlist_addf(&what, "not fired %s", s->not_fired.v[i]);
                if (found) {
                        _cleanup_free_ char *e = strprintf("rule %s did not fire", s->not_fired.v[i]);
                        mismatch(&out, e ? e : "?", "%s", got);
                }
        }
        for (size_t i = 0; i < s->tasks.n; i++) {
                bool found = false;
                for (size_t k = run->seen; k < run->n_records; k++)
                        found |= task_matches(run->records[k].what, s->tasks.v[i]);
                strlist_addf(&what, "task %s", s->tasks.v[i]);
                if (!found) {
                        _cleanup_free_ char *e = strprintf("task %s ran", s->tasks.v[i]);
                        mismatch(&out, e ? e : "?", "%s", got);
                }
        }
        if (s->rebooted >= 0) {
                bool found = false;
                for (size_t k = run->seen; k < run->n_records; k++)
                        found |= strcmp(run->records[k].what, "reboot") == 0;
                strlist_add(&what, s->rebooted ? "rebooted" : "not rebooted");
                if (found != s->rebooted)
                        mismatch(&out, s->rebooted ? "the node rebooted" : "the node did not reboot", "%s", got);
        }
        if (s->explain_rule)
                check_explain(m, s, &out, &what);
        run->seen = run->n_records;

        _cleanup_free_ char *desc = NULL;
        for (size_t i = 0; i < what.n; i++) {
                char *n = strprintf("%s%s%s", desc ? desc : "", desc ? ", " : "", what.v[i]);
                free(desc);
                desc = n;
        }
        (*run->counter)++;
        printf("%s %u - %s:%d: %s: at %s: %s\n", out.n ? "not ok" : "ok", *run->counter, run->file->path, s->line,
               run->test->name, fmt_at(s->at, at, sizeof at), desc ? desc : "");
        if (out.n) {
                for (size_t i = 0; i < out.n; i++)
                        printf("#   %s\n", out.v[i]);
                if (!localtime_r(&t, &tm) || !strftime(wall, sizeof wall, "%Y-%m-%d %H:%M:%S %Z", &tm))
                        wall[0] = '\0';
                printf("#   step:     %s:%d, virtual time %s (%s); recorded since %s%s\n", run->file->path, s->line,
                       fmt_at(s->at, at, sizeof at), wall, run->has_prev ? "the previous expectation at " : "the start",
                       run->has_prev ? fmt_at(run->prev_at, since, sizeof since) : "");
                run->failed++;
        } else
                run->passed++;
        run->has_prev = true;
        run->prev_at = s->at;
        strlist_clear(&out);
        strlist_clear(&what);
}

/* A stable order by time: steps at the same time keep the file's order. */
static const Step **sorted_steps(const Test *t) {
        const Step **v = calloc(t->n_steps ? t->n_steps : 1, sizeof(*v));

        if (!v)
                return NULL;
        for (size_t i = 0; i < t->n_steps; i++) {
                size_t k = i;
                while (k > 0 && v[k - 1]->at > t->steps[i].at) {
                        v[k] = v[k - 1];
                        k--;
                }
                v[k] = &t->steps[i];
        }
        return v;
}

static bool has_rule(const LuaSet *set, const char *name) {
        return luaset_find_rule(set, name) || luaset_find_inert(set, name);
}

/* Every rule and check a step names is one of the files under test: a misspelt name would
 * make not_fired hold for ever. Reports each at its file:line. */
static int validate_names(const Run *run, const LuaSet *set) {
        const char *path = run->file->path;
        int r = 0;

        for (size_t i = 0; i < run->test->n_steps; i++) {
                const Step *s = &run->test->steps[i];
                const StrList *lists[] = { &s->fired, &s->not_fired };
                if (s->kind == STEP_RESULT && !luaset_find_check(set, s->name)) {
                        fprintf(stderr, "%s:%d: result: no check named '%s' in the files under test\n", path,
                                s->line, s->name);
                        r = -EINVAL;
                }
                if (s->kind == STEP_OUTCOME && !has_rule(set, s->name)) {
                        fprintf(stderr, "%s:%d: outcome: no rule named '%s' in the files under test\n", path,
                                s->line, s->name);
                        r = -EINVAL;
                }
                for (size_t k = 0; k < ELEMENTSOF(lists); k++)
                        for (size_t j = 0; j < lists[k]->n; j++)
                                if (!has_rule(set, lists[k]->v[j])) {
                                        fprintf(stderr, "%s:%d: expect: %s: no rule named '%s' in the files under test\n",
                                                path, s->line, k == 0 ? "fired" : "not_fired", lists[k]->v[j]);
                                        r = -EINVAL;
                                }
                if (s->explain_rule && !has_rule(set, s->explain_rule)) {
                        fprintf(stderr, "%s:%d: expect: explain: no rule named '%s' in the files under test\n", path,
                                s->line, s->explain_rule);
                        r = -EINVAL;
                }
        }
        return r;
}

/* Runs one test: 0 ran (passed/failed counted in run), -EINVAL the test is wrong (reported). */
static int run_test(Run *run) {
        const Test *t = run->test;
        const char *path = run->file->path;
        _cleanup_free_ const Step **steps = NULL;
        _cleanup_free_ char *conf = NULL;
        char tmpl[] = "/tmp/medicd-test-run.XXXXXX";
        const char *tmpdir = getenv("TMPDIR");
        StrList errors = {};
        Manager *m = NULL;
        Config *c = NULL;
        sd_event *e = NULL;
        uint64_t start, now = 0;
        int r;

        run->dir = tmpdir && *tmpdir ? strprintf("%s/medicd-test-run.XXXXXX", tmpdir) : strdup(tmpl);
        if (!run->dir || !mkdtemp(run->dir)) {
                fprintf(stderr, "%s:%d: cannot create a private directory: %m\n", path, t->line);
                return -EINVAL;
        }
        run->stop_file = strprintf("%s/stop", run->dir);
        if (setenv("TZ", t->timezone ? t->timezone : "UTC", 1) < 0)
                return -ENOMEM;
        tzset();
        if (parse_start(t->start ? t->start : DEFAULT_START, &start) < 0) {
                fprintf(stderr, "%s:%d: test %s: start: expected \"YYYY-MM-DD HH:MM[:SS][ UTC]\", not '%s'\n", path,
                        t->line, t->name, t->start);
                return -EINVAL;
        }
        r = write_config(t, run->dir, &conf);
        if (r < 0) {
                fprintf(stderr, "%s:%d: cannot write the test's configuration: %s\n", path, t->line, strerror(-r));
                return -EINVAL;
        }
        r = config_load(conf, &c, &errors);
        if (r < 0) {
                for (size_t i = 0; i < errors.n; i++)
                        fprintf(stderr, "%s:%d: test %s: config: %s\n", path, t->line, t->name, errors.v[i]);
                strlist_clear(&errors);
                return -EINVAL;
        }
        if (!t->sets_log_level)
                log_set_max_level(LOG_ERR);
        else
                log_set_max_level(c->log_level);
        set_time(start, 0);
        clock_set_source(test_clock);

        r = sd_event_new(&e);
        if (r >= 0)
                r = manager_new(e, NULL, c, false, &coord_script_ops, &m);
        if (r < 0) {
                fprintf(stderr, "%s:%d: test %s: cannot set up the manager: %s\n", path, t->line, t->name, strerror(-r));
                config_free(c);
                goto finish;
        }
        m->act.record = on_record;
        m->act.record_data = run;
        r = manager_start_test(m, t->files.v, t->files.n, &errors);
        if (r < 0) {
                for (size_t i = 0; i < errors.n; i++)
                        fprintf(stderr, "%s\n", errors.v[i]);
                fprintf(stderr, "%s:%d: test %s: the files under test do not load%s%s\n", path, t->line, t->name,
                        errors.n ? "" : ": ", errors.n ? "" : strerror(-r));
                goto finish;
        }
        r = validate_names(run, m->set);
        if (r < 0)
                goto finish;
        steps = sorted_steps(t);
        if (!steps) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < t->n_steps; i++) {
                const Step *s = steps[i];
                while (now < s->at) {
                        now = s->at - now > t->tick ? now + t->tick : s->at;
                        set_time(start, now);
                        manager_tick(m);
                        drain(e);
                }
                switch (s->kind) {
                case STEP_RESULT:
                        r = manager_inject_result(m, s->name, s->state, s->message, NULL);
                        if (r < 0)
                                goto finish; /* validate_names() said so */
                        drain(e);
                        break;
                case STEP_COORDINATOR:
                        coord_script_set_answer(m->coord, s->answer, s->message);
                        break;
                case STEP_OUTCOME:
                        if (!s->flag && !strlist_contains(&run->failing, s->name))
                                (void) strlist_add(&run->failing, s->name);
                        else if (s->flag)
                                (void) strlist_remove(&run->failing, s->name);
                        break;
                case STEP_STOP:
                        if (s->flag)
                                r = write_file_atomic(run->stop_file, "test\n", 5, 0644);
                        else if (unlink(run->stop_file) < 0 && errno != ENOENT)
                                r = -errno;
                        if (r < 0) {
                                fprintf(stderr, "%s:%d: stop: %s: %s\n", path, s->line, run->stop_file, strerror(-r));
                                goto finish;
                        }
                        break;
                case STEP_EXPECT:
                        check_expect(run, m, s, start);
                        break;
                }
        }
        r = 0;
finish:
        strlist_clear(&errors);
        manager_free(m);
        sd_event_unref(e);
        clock_set_source(NULL);
        return r < 0 ? -EINVAL : 0;
}

static void run_done(Run *run) {
        for (size_t i = 0; i < run->n_records; i++) {
                free(run->records[i].rule);
                free(run->records[i].what);
        }
        free(run->records);
        strlist_clear(&run->failing);
        if (run->dir)
                (void) nftw(run->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(run->dir);
        free(run->stop_file);
}

int ruletest_run(char *const *files, size_t n_files) {
        const char *tz = getenv("TZ");
        _cleanup_free_ char *saved_tz = strdup_or_null(tz);
        unsigned counter = 0, passed = 0, failed = 0, bad = 0;

        /* Nothing of a test run reaches systemd or the journal. */
        (void) unsetenv("NOTIFY_SOCKET");
        log_setup(LOG_TARGET_STDERR, LOG_ERR);
        if (n_files == 0) {
                fprintf(stderr, "medicd: --test needs at least one test file\n");
                return 2;
        }
        for (size_t i = 0; i < n_files; i++) {
                _cleanup_free_ char *error = NULL;
                TestFile f;

                if (testfile_load(files[i], &f, &error) < 0) {
                        fprintf(stderr, "%s\n", error ? error : files[i]);
                        printf("# %s\n", error ? error : files[i]);
                        testfile_clear(&f);
                        bad++;
                        continue;
                }
                for (size_t k = 0; k < f.n_tests; k++) {
                        Run run = { .file = &f, .test = &f.tests[k], .counter = &counter };
                        if (run_test(&run) < 0)
                                bad++;
                        passed += run.passed;
                        failed += run.failed;
                        run_done(&run);
                }
                testfile_clear(&f);
        }
        if (saved_tz)
                (void) setenv("TZ", saved_tz, 1);
        else
                (void) unsetenv("TZ");
        tzset();
        printf("1..%u\n", counter);
        printf("# %u expectation%s: %u passed, %u failed%s%s\n", counter, counter == 1 ? "" : "s", passed, failed,
               bad ? "; test files with errors: " : "", bad ? "see stderr" : "");
        fflush(stdout);
        return bad ? 2 : failed ? 1 : 0;
}
