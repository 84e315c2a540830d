/* SPDX-License-Identifier: MIT */
/* The `medic` table: what checks and rules may use. Everything that waits yields the
 * coroutine to the event loop (exec, sleep); nothing here blocks for long. */
#include <fcntl.h>
#include <glob.h>
#include <json-c/json.h>
#include <lauxlib.h>
#include <regex.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "duration.h"
#include "log.h"
#include "lua-api.h"
#include "lua-pattern.h"

#define READ_DEFAULT_MAX (1024 * 1024)

static int push_errno(lua_State *L, const char *path, int err) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(err));
        return 2;
}

static uint64_t check_duration(lua_State *L, int idx) {
        uint64_t usec;
        if (lua_type(L, idx) == LUA_TNUMBER) {
                lua_Number n = lua_tonumber(L, idx);
                luaL_argcheck(L, n >= 0 && n < 1e12, idx, "duration out of range");
                return (uint64_t) (n * 1e6);
        }
        const char *s = luaL_checkstring(L, idx);
        if (duration_parse(s, &usec) < 0)
                luaL_error(L, "invalid duration '%s' (expected e.g. \"30s\", \"5m\", \"1h30m\")", s);
        return usec;
}

static int l_read(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        lua_Integer max = luaL_optinteger(L, 2, READ_DEFAULT_MAX);
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        luaL_argcheck(L, max > 0 && max <= 64 * 1024 * 1024, 2, "max_bytes must be 1..64MiB");
        r = read_file(path, (size_t) max, &buf, &size);
        if (r < 0)
                return push_errno(L, path, -r);
        lua_pushlstring(L, buf, size);
        return 1;
}

static int l_lines(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        _cleanup_free_ char *buf = NULL;
        size_t size, start = 0;
        int r, n = 0;

        r = read_file(path, READ_DEFAULT_MAX, &buf, &size);
        if (r < 0)
                return push_errno(L, path, -r);
        lua_newtable(L);
        for (size_t i = 0; i <= size; i++) {
                if (i == size || buf[i] == '\n') {
                        if (i == size && i == start)
                                break;
                        lua_pushlstring(L, buf + start, i - start);
                        lua_rawseti(L, -2, ++n);
                        start = i + 1;
                }
        }
        return 1;
}

static int l_exists(lua_State *L) {
        struct stat st;
        lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0);
        return 1;
}

static int l_stat(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        struct stat st;

        if (lstat(path, &st) < 0)
                return push_errno(L, path, errno);
        lua_createtable(L, 0, 6);
        lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir"
                       : S_ISLNK(st.st_mode) ? "link" : "other");
        lua_setfield(L, -2, "type");
        lua_pushinteger(L, (lua_Integer) st.st_size);
        lua_setfield(L, -2, "size");
        lua_pushinteger(L, (lua_Integer) (st.st_mode & 07777));
        lua_setfield(L, -2, "mode");
        lua_pushinteger(L, (lua_Integer) st.st_uid);
        lua_setfield(L, -2, "uid");
        lua_pushinteger(L, (lua_Integer) st.st_gid);
        lua_setfield(L, -2, "gid");
        lua_pushinteger(L, (lua_Integer) st.st_mtime);
        lua_setfield(L, -2, "mtime");
        return 1;
}

static int l_statvfs(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        struct statvfs sv;

        if (statvfs(path, &sv) < 0)
                return push_errno(L, path, errno);
        lua_createtable(L, 0, 6);
        lua_pushinteger(L, (lua_Integer) (sv.f_blocks * sv.f_frsize));
        lua_setfield(L, -2, "size");
        lua_pushinteger(L, (lua_Integer) (sv.f_bfree * sv.f_frsize));
        lua_setfield(L, -2, "free");
        lua_pushinteger(L, (lua_Integer) (sv.f_bavail * sv.f_frsize));
        lua_setfield(L, -2, "avail");
        lua_pushinteger(L, (lua_Integer) sv.f_files);
        lua_setfield(L, -2, "files");
        lua_pushinteger(L, (lua_Integer) sv.f_ffree);
        lua_setfield(L, -2, "ffree");
        lua_pushboolean(L, !!(sv.f_flag & ST_RDONLY));
        lua_setfield(L, -2, "readonly");
        return 1;
}


static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int l_glob_sorted(lua_State *L) {
        const char *pattern = luaL_checkstring(L, 1);
        glob_t g = {};
        int r = glob(pattern, GLOB_NOSORT, NULL, &g);

        lua_newtable(L);
        if (r == 0) {
                qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_strp);
                for (size_t i = 0; i < g.gl_pathc; i++) {
                        lua_pushstring(L, g.gl_pathv[i]);
                        lua_rawseti(L, -2, (lua_Integer) i + 1);
                }
        }
        globfree(&g);
        return 1;
}

static int l_match(lua_State *L) {
        const char *s = luaL_checkstring(L, 1);
        const char *re = luaL_checkstring(L, 2);
        regmatch_t m[10];
        regex_t rx;
        int r;

        if (regex_refuse_backrefs(re) < 0)
                return luaL_error(L, "invalid regular expression '%s': back-references (\\1…\\9) are not allowed "
                                  "(their matching can take exponential time)", re);
        r = regcomp(&rx, re, REG_EXTENDED);
        if (r != 0) {
                char buf[256];
                regerror(r, &rx, buf, sizeof buf);
                return luaL_error(L, "invalid regular expression '%s': %s", re, buf);
        }
        r = regexec(&rx, s, ELEMENTSOF(m), m, 0);
        if (r != 0) {
                regfree(&rx);
                lua_pushnil(L);
                return 1;
        }
        int n = 0;
        for (size_t i = 0; i <= rx.re_nsub && i < ELEMENTSOF(m); i++, n++) {
                if (m[i].rm_so < 0)
                        lua_pushnil(L);
                else
                        lua_pushlstring(L, s + m[i].rm_so, (size_t) (m[i].rm_eo - m[i].rm_so));
        }
        regfree(&rx);
        return n;
}

static int l_duration(lua_State *L) {
        lua_pushnumber(L, (lua_Number) check_duration(L, 1) / 1e6);
        return 1;
}

static int l_version_compare(lua_State *L) {
        int r = strverscmp(luaL_checkstring(L, 1), luaL_checkstring(L, 2));
        lua_pushinteger(L, r < 0 ? -1 : r > 0 ? 1 : 0);
        return 1;
}

static int l_uname(lua_State *L) {
        struct utsname u;
        uname(&u);
        lua_createtable(L, 0, 5);
        lua_pushstring(L, u.sysname);
        lua_setfield(L, -2, "sysname");
        lua_pushstring(L, u.nodename);
        lua_setfield(L, -2, "nodename");
        lua_pushstring(L, u.release);
        lua_setfield(L, -2, "release");
        lua_pushstring(L, u.version);
        lua_setfield(L, -2, "version");
        lua_pushstring(L, u.machine);
        lua_setfield(L, -2, "machine");
        return 1;
}

static int l_now(lua_State *L) {
        lua_pushnumber(L, (lua_Number) now_realtime() / 1e6);
        return 1;
}

static int l_log(lua_State *L) {
        static const char *const levels[] = { "debug", "info", "notice", "warning", "error", NULL };
        static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR };
        int lvl = luaL_checkoption(L, 1, NULL, levels);
        const char *msg = luaL_checkstring(L, 2);
        lua_Debug ar;
        int line = 0;

        if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
                line = ar.currentline;
        log_full_errno(prio[lvl], 0, "%s:%d: %s", luafile_from_state(L)->path, line, msg);
        return 0;
}

static int l_condition(lua_State *L) {
        LuaFile *f = luafile_from_state(L);
        const char *name = luaL_checkstring(L, 1);
        const Condition *c = f->host->find_condition ? f->host->find_condition(f->host->userdata, name) : NULL;

        if (!c) {
                lua_pushnil(L);
                return 1;
        }
        lua_createtable(L, 0, 5);
        lua_pushstring(L, cond_state_to_string(c->state));
        lua_setfield(L, -2, "state");
        lua_pushinteger(L, (lua_Integer) (c->since / USEC_PER_SEC));
        lua_setfield(L, -2, "since");
        lua_pushstring(L, c->message ? c->message : "");
        lua_setfield(L, -2, "message");
        lua_push_json(L, c->details);
        lua_setfield(L, -2, "details");
        lua_pushboolean(L, c->flapping);
        lua_setfield(L, -2, "flapping");
        return 1;
}

/* medic.group_view(): the group from the coordinator's copy (no request), or nil, why. */
static int l_group_view(lua_State *L) {
        LuaFile *f = luafile_from_state(L);
        _cleanup_free_ char *why = NULL, *json = NULL;

        if (!f->host->group_view)
                why = strdup("no coordinator in this process");
        else
                json = f->host->group_view(f->host->userdata, &why);
        if (!json) {
                lua_pushnil(L);
                lua_pushstring(L, why ? why : "no view of the group");
                return 2;
        }
        lua_push_json(L, json);
        return 1;
}

/* ---- exec and sleep ------------------------------------------------------------------ */

static void push_exec_result(lua_State *co, const ExecResult *r, void *userdata) {
        lua_createtable(co, 0, 8);
        if (r->exited) {
                lua_pushinteger(co, r->exit_status);
                lua_setfield(co, -2, "status");
        }
        if (r->signaled) {
                lua_pushinteger(co, r->term_signal);
                lua_setfield(co, -2, "signal");
        }
        lua_pushlstring(co, r->out ? r->out : "", r->out_size);
        lua_setfield(co, -2, "stdout");
        lua_pushlstring(co, r->err ? r->err : "", r->err_size);
        lua_setfield(co, -2, "stderr");
        lua_pushboolean(co, r->timed_out);
        lua_setfield(co, -2, "timed_out");
        lua_pushnumber(co, (lua_Number) r->duration_usec / 1e6);
        lua_setfield(co, -2, "duration");
        if (r->spawn_errno) {
                lua_pushfstring(co, "could not start: %s", strerror(r->spawn_errno));
                lua_setfield(co, -2, "error");
        }
}

static int l_exec(lua_State *L) {
        LuaRun *run = lua_run_current(L);
        StrList argv = {}, env = {};
        ExecOptions o = {};
        int r, n;

        luaL_checktype(L, 1, LUA_TTABLE);
        if (!run)
                return luaL_error(L, "medic.exec can only be used while a check or a remedy runs");
        if (!lua_isyieldable(L))
                return luaL_error(L, "medic.exec cannot be used here (inside a metamethod or iterator)");

        n = (int) lua_rawlen(L, 1);
        if (n == 0)
                return luaL_error(L, "medic.exec: the argument vector is empty");
        for (int i = 1; i <= n; i++) {
                lua_rawgeti(L, 1, i);
                const char *s = lua_tostring(L, -1);
                if (!s) {
                        strlist_clear(&argv);
                        return luaL_error(L, "medic.exec: argument %d is not a string", i);
                }
                strlist_add(&argv, s);
                lua_pop(L, 1);
        }
        if (lua_getfield(L, 1, "timeout") != LUA_TNIL)
                o.timeout_usec = check_duration(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "max_output") != LUA_TNIL)
                o.max_output = (size_t) luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "stdin") != LUA_TNIL)
                o.input = luaL_checkstring(L, -1); /* stays referenced by the argument table */
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "env") == LUA_TTABLE) {
                lua_pushnil(L);
                while (lua_next(L, -2)) {
                        if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1))
                                strlist_addf(&env, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
                        lua_pop(L, 1);
                }
        }
        lua_pop(L, 1);
        o.env = env.v;

        r = lua_run_wait_exec(run, argv.v, &o, push_exec_result, NULL);
        strlist_clear(&argv);
        strlist_clear(&env);
        if (r < 0)
                return luaL_error(L, "medic.exec: %s", strerror(-r));
        return lua_yield(L, 0);
}

static int l_sleep(lua_State *L) {
        LuaRun *run = lua_run_current(L);
        uint64_t usec = check_duration(L, 1);
        int r;

        if (!run || !lua_isyieldable(L))
                return luaL_error(L, "medic.sleep can only be used while a check or a remedy runs");
        r = lua_run_wait_sleep(run, usec);
        if (r < 0)
                return luaL_error(L, "medic.sleep: %s", strerror(-r));
        return lua_yield(L, 0);
}

/* ---- JSON <-> Lua -------------------------------------------------------------------- */

static void push_json_object(lua_State *L, struct json_object *o, int depth) {
        if (!o || depth > 64) {
                lua_pushnil(L);
                return;
        }
        switch (json_object_get_type(o)) {
        case json_type_boolean:
                lua_pushboolean(L, json_object_get_boolean(o));
                break;
        case json_type_int:
                lua_pushinteger(L, (lua_Integer) json_object_get_int64(o));
                break;
        case json_type_double:
                lua_pushnumber(L, json_object_get_double(o));
                break;
        case json_type_string:
                lua_pushlstring(L, json_object_get_string(o), (size_t) json_object_get_string_len(o));
                break;
        case json_type_array: {
                size_t n = json_object_array_length(o);
                lua_createtable(L, (int) n, 0);
                for (size_t i = 0; i < n; i++) {
                        push_json_object(L, json_object_array_get_idx(o, i), depth + 1);
                        lua_rawseti(L, -2, (lua_Integer) i + 1);
                }
                break;
        }
        case json_type_object:
                lua_newtable(L);
                json_object_object_foreach(o, k, v) {
                        push_json_object(L, v, depth + 1);
                        lua_setfield(L, -2, k);
                }
                break;
        default:
                lua_pushnil(L);
        }
}

void lua_push_json(lua_State *L, const char *json) {
        struct json_object *o = json ? json_tokener_parse(json) : NULL;
        push_json_object(L, o, 0);
        json_object_put(o);
}

/* What a conversion may still produce (about: JSON text bytes), and how often it looks at the
 * clock: a huge table is converted in C, where the hook does not run. */
typedef struct JsonBudget {
        size_t left;
        unsigned values;
        bool too_big;
} JsonBudget;

static struct json_object *to_json(lua_State *L, int idx, int depth, JsonBudget *b, char **err) {
        idx = lua_absindex(L, idx);
        if (depth > 32 || !lua_checkstack(L, 8)) {
                *err = strdup("nested too deeply (or a cycle)");
                return NULL;
        }
        if (b->left < 8) {
                b->too_big = true;
                *err = strdup("too large");
                return NULL;
        }
        b->left -= 8;
        if ((++b->values & 4095) == 0 && lua_budget_exceeded(L)) {
                *err = strdup("the run's time is up");
                return NULL;
        }
        switch (lua_type(L, idx)) {
        case LUA_TNIL:
                return NULL;
        case LUA_TBOOLEAN:
                return json_object_new_boolean(lua_toboolean(L, idx));
        case LUA_TNUMBER:
                if (lua_isinteger(L, idx))
                        return json_object_new_int64(lua_tointeger(L, idx));
                return json_object_new_double(lua_tonumber(L, idx));
        case LUA_TSTRING: {
                size_t len;
                const char *s = lua_tolstring(L, idx, &len);
                if (len > b->left || len > INT32_MAX) {
                        b->too_big = true;
                        *err = strdup("too large");
                        return NULL;
                }
                b->left -= len;
                return json_object_new_string_len(s, (int) len);
        }
        case LUA_TTABLE: {
                lua_Integer n = (lua_Integer) lua_rawlen(L, idx), count = 0;
                lua_pushnil(L);
                while (lua_next(L, idx)) {
                        count++;
                        lua_pop(L, 1);
                }
                if (n > 0 && count == n) {
                        struct json_object *a = json_object_new_array();
                        for (lua_Integer i = 1; i <= n; i++) {
                                lua_rawgeti(L, idx, i);
                                struct json_object *v = to_json(L, -1, depth + 1, b, err);
                                lua_pop(L, 1);
                                if (*err) {
                                        json_object_put(a);
                                        return NULL;
                                }
                                json_object_array_add(a, v);
                        }
                        return a;
                }
                struct json_object *o = json_object_new_object();
                lua_pushnil(L);
                while (lua_next(L, idx)) {
                        lua_pushvalue(L, -2);
                        const char *k = lua_tostring(L, -1); /* on the copy: lua_next keeps working */
                        struct json_object *v = to_json(L, -2, depth + 1, b, err);
                        if (!*err)
                                json_object_object_add(o, k ? k : "?", v);
                        lua_pop(L, 2);
                        if (*err) {
                                lua_pop(L, 1);
                                json_object_put(o);
                                return NULL;
                        }
                }
                return o;
        }
        default:
                *err = strprintf("cannot store a %s in details", luaL_typename(L, idx));
                return NULL;
        }
}

int lua_to_json_max(lua_State *L, int idx, size_t max, char **ret_json, char **ret_error) {
        JsonBudget b = { .left = max };
        char *err = NULL, *s;
        struct json_object *o = to_json(L, idx, 0, &b, &err);

        if (b.too_big) {
                free(err);
                return -E2BIG;
        }
        if (err) {
                *ret_error = err;
                return -EINVAL;
        }
        s = strdup(o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "null");
        json_object_put(o);
        if (!s)
                return -ENOMEM;
        if (strlen(s) > max) {
                free(s);
                return -E2BIG;
        }
        *ret_json = s;
        return 0;
}

char *lua_to_json(lua_State *L, int idx, char **ret_error) {
        char *s = NULL;
        int r = lua_to_json_max(L, idx, SIZE_MAX, &s, ret_error);

        if (r == -E2BIG)
                *ret_error = strdup("too large");
        return r < 0 ? NULL : s;
}

static int l_json_decode(lua_State *L) {
        size_t len;
        const char *s = luaL_checklstring(L, 1, &len);
        struct json_tokener *tok = json_tokener_new_ex(64);
        /* With the terminating NUL (Lua guarantees one): without it json-c waits for more after
         * a document that is a scalar (null, true, 12) and answers "continue". */
        struct json_object *o = tok ? json_tokener_parse_ex(tok, s, (int) len + 1) : NULL;
        enum json_tokener_error e = tok ? json_tokener_get_error(tok) : json_tokener_error_depth;

        if (e != json_tokener_success || (size_t) json_tokener_get_parse_end(tok) != len) {
                json_object_put(o);
                json_tokener_free(tok);
                lua_pushnil(L);
                lua_pushfstring(L, "invalid JSON: %s", e != json_tokener_success ? json_tokener_error_desc(e)
                                                                                  : "trailing characters");
                return 2;
        }
        json_tokener_free(tok);
        push_json_object(L, o, 0);
        json_object_put(o);
        return 1;
}

static int l_json_encode(lua_State *L) {
        char *err = NULL, *s;

        luaL_checkany(L, 1);
        s = lua_to_json(L, 1, &err);
        if (!s) {
                /* lua_error() does not return: err is freed first (valgrind found the leak). */
                lua_pushfstring(L, "medic.json_encode: %s", err ? err : "out of memory");
                free(err);
                return lua_error(L);
        }
        lua_pushstring(L, s);
        free(s);
        return 1;
}

void lua_api_open(LuaFile *f) {
        static const luaL_Reg funcs[] = {
                { "read", l_read },
                { "lines", l_lines },
                { "exists", l_exists },
                { "stat", l_stat },
                { "statvfs", l_statvfs },
                { "glob", l_glob_sorted },
                { "match", l_match },
                { "duration", l_duration },
                { "version_compare", l_version_compare },
                { "uname", l_uname },
                { "now", l_now },
                { "exec", l_exec },
                { "sleep", l_sleep },
                { "condition", l_condition },
                { "group_view", l_group_view },
                { "log", l_log },
                { "json_decode", l_json_decode },
                { "json_encode", l_json_encode },
                { NULL, NULL },
        };
        lua_State *L = f->L;
        const Config *c = f->host->config;

        luaL_newlib(L, funcs);
        lua_pushstring(L, c->node);
        lua_setfield(L, -2, "node");
        lua_pushstring(L, c->group);
        lua_setfield(L, -2, "group");
        lua_pushboolean(L, f->host->dry_run);
        lua_setfield(L, -2, "dry_run");
        lua_pushstring(L, c->settings_dir);
        lua_setfield(L, -2, "settings_dir");
        lua_pushboolean(L, c->verify_owner);
        lua_setfield(L, -2, "verify_owner");
        lua_createtable(L, 0, (int) c->labels.n);
        for (size_t i = 0; i < c->labels.n; i++) {
                const char *eq = strchr(c->labels.v[i], '=');
                lua_pushlstring(L, c->labels.v[i], (size_t) (eq - c->labels.v[i]));
                lua_pushstring(L, eq + 1);
                lua_settable(L, -3);
        }
        lua_setfield(L, -2, "labels");
        lua_setglobal(L, "medic");
        lua_modules_open(f);
}
