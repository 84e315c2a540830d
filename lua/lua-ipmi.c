/* SPDX-License-Identifier: MIT */
/* medic.ipmi: IPMI sensors and the SEL, read by the helper program medic-ipmi (the library's
 * calls block, so they never run in the daemon). The binding builds the helper's arguments
 * from the [ipmi] section, runs it through the exec machinery (non-blocking, process group,
 * killed at the timeout), and turns its JSON into Lua values in a continuation once the
 * coroutine resumes.
 *
 * SEL positions ("cursors") live in STATE_DIR/ipmi-sel.json:
 *   {"version": 1, "cursors": {NAME: {"id": N, "timestamp": T, "updated": EPOCH_S}
 *                                   | {"empty": true, "updated": EPOCH_S}}}
 * (read and checked by lib/ipmi-sel.c). One cursor per check by default (the check's name), so
 * that two checks never steal each other's events. */
#include <json-c/json.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "duration.h"
#include "ipmi-sel.h"
#include "log.h"
#include "lua-api.h"

#ifndef PKGLIBEXECDIR
#define PKGLIBEXECDIR "/usr/libexec/medic"
#endif

#define IPMI_SEL_STATE "ipmi-sel.json"
#define IPMI_SDR_CACHE "ipmi-sdr-cache"
#define IPMI_SEL_MAX_OUTPUT (16 * 1024 * 1024)
#define CURSOR_NAME_MAX 128

enum { IPMI_SENSORS, IPMI_SEL };

/* Stack slots of the yielding call, kept across the yield for the continuation. */
enum {
        SLOT_OPTS = 1,    /* the options table or nil */
        SLOT_CURSOR,      /* cursor name, or nil with all = true */
        SLOT_HAD_CURSOR,  /* boolean: a position was stored before */
        SLOT_TIMEOUT,     /* number: the helper's timeout, seconds */
        SLOT_RESULT,      /* the table push_result built */
};

static const char *helper_path(const Config *c) {
        return c->ipmi.helper ? c->ipmi.helper : PKGLIBEXECDIR "/medic-ipmi";
}

static bool inband_device(void) {
        static const char *const devs[] = { "/dev/ipmi0", "/dev/ipmi/0", "/dev/ipmidev/0" };
        struct stat st;

        for (size_t i = 0; i < ELEMENTSOF(devs); i++)
                if (stat(devs[i], &st) == 0)
                        return true;
        return false;
}

/* medic.ipmi.available() -> true, "lan"|"inband" | false, reason */
static int l_available(lua_State *L) {
        const Config *c = luafile_from_state(L)->host->config;

        if (c->ipmi.host) {
                lua_pushboolean(L, 1);
                lua_pushliteral(L, "lan");
        } else if (inband_device()) {
                lua_pushboolean(L, 1);
                lua_pushliteral(L, "inband");
        } else {
                lua_pushboolean(L, 0);
                lua_pushliteral(L, "no BMC: no /dev/ipmi0 and no [ipmi] host in medic.conf");
        }
        return 2;
}

/* ---- SEL cursors -------------------------------------------------------------------- */

static char *sel_state_path(const Config *c) {
        return strprintf("%s/" IPMI_SEL_STATE, c->state_dir);
}

/* The whole state file as a json object (a fresh one when missing or unreadable). */
static struct json_object *sel_state_load(const Config *c) {
        _cleanup_free_ char *path = sel_state_path(c), *text = NULL;
        size_t size;
        bool unreadable;

        struct json_object *o = sel_state_parse(path && read_file(path, 1024 * 1024, &text, &size) == 0 ? text : NULL,
                                                &unreadable);
        if (unreadable)
                log_warning("%s does not parse, starting the IPMI SEL positions afresh", path);
        return o;
}

static int sel_cursor_save(const Config *c, const char *name, struct json_object *last) {
        _cleanup_free_ char *path = sel_state_path(c);
        struct json_object *state = sel_state_load(c), *cursors, *cur = json_object_new_object(), *v;
        int r;

        if (last && json_object_object_get_ex(last, "id", &v)) {
                json_object_object_add(cur, "id", json_object_get(v));
                json_object_object_add(cur, "timestamp", json_object_object_get_ex(last, "timestamp", &v)
                                       ? json_object_get(v) : json_object_new_int(0));
        } else
                json_object_object_add(cur, "empty", json_object_new_boolean(1));
        json_object_object_add(cur, "updated", json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
        json_object_object_get_ex(state, "cursors", &cursors);
        json_object_object_add(cursors, name, cur);

        const char *text = json_object_to_json_string_ext(state, JSON_C_TO_STRING_PRETTY);
        r = path ? mkdir_p(c->state_dir, 0755) : -ENOMEM;
        if (r >= 0)
                r = write_file_atomic(path, text, strlen(text), 0600);
        json_object_put(state);
        if (r < 0)
                log_warning("Cannot write %s, the IPMI SEL position of %s is not kept: %s",
                            path ? path : IPMI_SEL_STATE, name, strerror(-r));
        return r;
}

static bool cursor_name_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > CURSOR_NAME_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '-' || *s == '_' || *s == '.'))
                        return false;
        return true;
}

/* ---- running the helper -------------------------------------------------------------- */

static void push_result(lua_State *co, const ExecResult *r, void *userdata) {
        lua_createtable(co, 0, 6);
        lua_pushlstring(co, r->out ? r->out : "", r->out_size);
        lua_setfield(co, -2, "stdout");
        lua_pushlstring(co, r->err ? r->err : "", r->err_size);
        lua_setfield(co, -2, "stderr");
        lua_pushboolean(co, r->timed_out);
        lua_setfield(co, -2, "timed_out");
        lua_pushboolean(co, r->out_truncated);
        lua_setfield(co, -2, "truncated");
        if (r->exited) {
                lua_pushinteger(co, r->exit_status);
                lua_setfield(co, -2, "status");
        }
        if (r->signaled) {
                lua_pushinteger(co, r->term_signal);
                lua_setfield(co, -2, "signal");
        }
        if (r->spawn_errno) {
                lua_pushstring(co, strerror(r->spawn_errno));
                lua_setfield(co, -2, "spawn_error");
        }
}

static int push_fail(lua_State *L, const char *fmt, ...) _printf_(2, 3);
static int push_fail(lua_State *L, const char *fmt, ...) {
        char buf[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        lua_pushnil(L);
        lua_pushstring(L, buf);
        return 2;
}

static bool get_field_bool(lua_State *L, int idx, const char *k) {
        bool b;
        lua_getfield(L, idx, k);
        b = lua_toboolean(L, -1);
        lua_pop(L, 1);
        return b;
}

/* Turns the helper's output into nil, error or the helper's JSON document (on top of
 * the stack as a json-c object in *ret). */
static int parse_helper(lua_State *L, const Config *c, struct json_object **ret) {
        struct json_object *o, *e;
        const char *out;
        size_t len;

        lua_getfield(L, SLOT_RESULT, "spawn_error");
        if (!lua_isnil(L, -1))
                return push_fail(L, "IPMI: cannot run %s: %s", helper_path(c), lua_tostring(L, -1));
        lua_pop(L, 1);
        if (get_field_bool(L, SLOT_RESULT, "timed_out"))
                return push_fail(L, "IPMI: the BMC did not answer within %.1fs", lua_tonumber(L, SLOT_TIMEOUT));
        if (get_field_bool(L, SLOT_RESULT, "truncated"))
                return push_fail(L, "IPMI: the helper's output was too large");

        lua_getfield(L, SLOT_RESULT, "stdout");
        out = lua_tolstring(L, -1, &len);
        o = out && len > 0 ? json_tokener_parse(out) : NULL;
        lua_pop(L, 1);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                lua_getfield(L, SLOT_RESULT, "stderr");
                lua_getfield(L, SLOT_RESULT, "status");
                return push_fail(L, "IPMI: %s failed (status %s): %s", helper_path(c),
                                 lua_isnil(L, -1) ? "none" : lua_tostring(L, -1), lua_tostring(L, -2));
        }
        if (json_object_object_get_ex(o, "error", &e)) {
                lua_pushnil(L);
                lua_pushfstring(L, "IPMI: %s", json_object_get_string(e));
                json_object_put(o);
                return 2;
        }
        *ret = o;
        return 0;
}

static int finish_k(lua_State *L, int status, lua_KContext ctx) {
        LuaFile *f = luafile_from_state(L);
        const Config *c = f->host->config;
        struct json_object *o = NULL, *v, *last = NULL;
        int n;

        n = parse_helper(L, c, &o);
        if (n > 0)
                return n;

        if (ctx == IPMI_SENSORS) {
                json_object_object_get_ex(o, "sensors", &v);
                lua_push_json(L, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
                if (!lua_istable(L, -1))
                        return push_fail(L, "IPMI: the helper's output has no sensor list");
                return 1;
        }

        /* SEL */
        const char *cursor = lua_tostring(L, SLOT_CURSOR);
        bool had = lua_toboolean(L, SLOT_HAD_CURSOR), cleared = false;
        lua_Integer records = 0;

        if (json_object_object_get_ex(o, "records", &v))
                records = json_object_get_int(v);
        if (json_object_object_get_ex(o, "cleared", &v))
                cleared = json_object_get_boolean(v);
        json_object_object_get_ex(o, "last", &last);

        lua_createtable(L, 0, 5);
        if (cursor && !had)
                lua_newtable(L); /* the first read sets the position: old events are not new */
        else {
                json_object_object_get_ex(o, "events", &v);
                lua_push_json(L, v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "[]");
        }
        lua_setfield(L, -2, "events");
        lua_pushinteger(L, records);
        lua_setfield(L, -2, "records");
        lua_pushboolean(L, cleared);
        lua_setfield(L, -2, "cleared");
        lua_pushboolean(L, cursor && !had);
        lua_setfield(L, -2, "first");
        if (cursor) {
                lua_pushstring(L, cursor);
                lua_setfield(L, -2, "cursor");
                (void) sel_cursor_save(c, cursor, json_object_is_type(last, json_type_object) ? last : NULL);
        }
        json_object_put(o);
        return 1;
}

static int run_helper(lua_State *L, int what) {
        LuaRun *run = lua_run_current(L);
        LuaFile *f = luafile_from_state(L);
        const Config *c = f->host->config;
        const IpmiConfig *ic = &c->ipmi;
        /* Not _cleanup_: lua_yieldk() and luaL_error() do not return (valgrind found sdr and
         * after lost on every call); each is freed once argv holds its copy. */
        char *sdr = NULL, *after = NULL;
        StrList argv = {};
        ExecOptions o = {};
        uint64_t now = now_monotonic(), deadline, budget, session, limit = 0;
        const char *cursor = NULL;
        bool all = false, had = false;
        int r;

        if (!lua_isnoneornil(L, 1))
                luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
        if (!run || !lua_isyieldable(L))
                return luaL_error(L, "medic.ipmi can only be used while a check or a remedy runs");

        if (lua_istable(L, 1)) {
                if (lua_getfield(L, 1, "timeout") != LUA_TNIL) {
                        const char *s = lua_tostring(L, -1);
                        if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) > 0)
                                limit = (uint64_t) (lua_tonumber(L, -1) * 1e6);
                        else if (!s || duration_parse(s, &limit) < 0 || limit == 0)
                                return luaL_error(L, "medic.ipmi: invalid timeout (expected e.g. 10 or \"10s\")");
                }
                lua_pop(L, 1);
                if (what == IPMI_SEL) {
                        all = get_field_bool(L, 1, "all");
                        if (lua_getfield(L, 1, "cursor") != LUA_TNIL) {
                                cursor = lua_tostring(L, -1);
                                if (!cursor || !cursor_name_valid(cursor))
                                        return luaL_error(L, "medic.ipmi.sel: invalid cursor name (letters, digits, '-', '_', '.'; at most %d)",
                                                          CURSOR_NAME_MAX);
                        }
                        lua_pop(L, 1);
                }
        }
        if (what == IPMI_SEL && !all && !cursor) {
                cursor = lua_run_what(run);
                if (!cursor || !cursor_name_valid(cursor))
                        return luaL_error(L, "medic.ipmi.sel: give a cursor name (opts.cursor)");
        }

        /* The helper must end before the run's deadline so that the check reports why. */
        deadline = lua_run_deadline(run);
        budget = deadline > now ? deadline - now : 0;
        budget -= budget / 10 < 500 * USEC_PER_MSEC ? budget / 10 : 500 * USEC_PER_MSEC;
        if (limit && limit < budget)
                budget = limit;
        if (budget < 200 * USEC_PER_MSEC)
                return push_fail(L, "IPMI: not enough time left in this run (%.1fs)", (double) budget / 1e6);
        session = ic->session_timeout;
        if (session > budget - budget / 5)
                session = budget - budget / 5;
        if (session < 100 * USEC_PER_MSEC)
                session = 100 * USEC_PER_MSEC;

        sdr = strprintf("%s/" IPMI_SDR_CACHE, c->state_dir);
        if (!sdr)
                return luaL_error(L, "out of memory");
        if (mkdir_p(sdr, 0700) < 0)
                log_warning("Cannot create %s, the IPMI SDR cache may not work", sdr);

        strlist_add(&argv, helper_path(c));
        strlist_add(&argv, "--sdr-cache-dir");
        strlist_add(&argv, sdr);
        sdr = mfree(sdr);
        strlist_addf(&argv, "--session-timeout=%" PRIu64, session / USEC_PER_MSEC);
        if (ic->host) {
                strlist_add(&argv, "--host");
                strlist_add(&argv, ic->host);
                strlist_addf(&argv, "--port=%u", ic->port);
                strlist_addf(&argv, "--cipher-suite=%d", ic->cipher_suite);
                if (ic->user) {
                        strlist_add(&argv, "--user");
                        strlist_add(&argv, ic->user);
                }
                if (ic->password_file) {
                        strlist_add(&argv, "--password-file");
                        strlist_add(&argv, ic->password_file);
                }
                if (ic->privilege) {
                        strlist_add(&argv, "--privilege");
                        strlist_add(&argv, ic->privilege);
                }
        }
        for (size_t i = 0; i < ic->workarounds.n; i++) {
                strlist_add(&argv, "--workaround");
                strlist_add(&argv, ic->workarounds.v[i]);
        }
        if (ic->interpret_file) {
                strlist_add(&argv, "--interpret-file");
                strlist_add(&argv, ic->interpret_file);
        }
        if (what == IPMI_SEL) {
                strlist_add(&argv, "sel");
                if (cursor) {
                        struct json_object *state = sel_state_load(c);
                        char text[SEL_POSITION_TEXT_MAX];
                        SelPosition pos;
                        switch (sel_cursor_get(state, cursor, &pos)) {
                        case SEL_CURSOR_NONE:
                                break;
                        case SEL_CURSOR_INVALID:
                                /* Read as no position (the first read sets it again): the
                                 * helper would refuse it on every call. */
                                log_warning("The IPMI SEL position of %s in %s/" IPMI_SEL_STATE
                                            " cannot be read; starting it afresh", cursor, c->state_dir);
                                break;
                        case SEL_CURSOR_EMPTY:
                                had = true; /* the SEL had no record; every record now is new */
                                break;
                        case SEL_CURSOR_AT:
                                had = true;
                                after = strprintf("--after=%s", sel_position_format(&pos, text));
                                break;
                        }
                        json_object_put(state);
                        if (after)
                                strlist_add(&argv, after);
                        after = mfree(after);
                }
                o.max_output = IPMI_SEL_MAX_OUTPUT;
        } else
                strlist_add(&argv, "sensors");

        o.timeout_usec = budget;
        o.kill_grace_usec = 200 * USEC_PER_MSEC;

        /* Slots for the continuation (SLOT_*). */
        if (cursor)
                lua_pushstring(L, cursor);
        else
                lua_pushnil(L);
        lua_pushboolean(L, had);
        lua_pushnumber(L, (lua_Number) budget / 1e6);

        r = argv.v ? lua_run_wait_exec(run, argv.v, &o, push_result, NULL) : -ENOMEM;
        strlist_clear(&argv);
        if (r < 0)
                return luaL_error(L, "medic.ipmi: %s", strerror(-r));
        return lua_yieldk(L, 0, what, finish_k);
}

static int l_sensors(lua_State *L) {
        return run_helper(L, IPMI_SENSORS);
}

static int l_sel(lua_State *L) {
        return run_helper(L, IPMI_SEL);
}

void lua_ipmi_open(LuaFile *f);
void lua_ipmi_open(LuaFile *f) {
        static const luaL_Reg funcs[] = {
                { "available", l_available },
                { "sensors", l_sensors },
                { "sel", l_sel },
                { NULL, NULL },
        };

        luaL_newlib(f->L, funcs);
        lua_setfield(f->L, -2, "ipmi");
}
