/* SPDX-License-Identifier: MIT */
/* check{} / rule{} declarations and remedy constructors: Lua tables become C structs, with
 * every mistake reported as file:line. Also: finding the files and loading the whole set. */
#include <dirent.h>
#include <lauxlib.h>
#include <string.h>
#include <sys/stat.h>

#include "duration.h"
#include "log.h"
#include "lua-api.h"
#include "lua-decl.h"
#include "trust.h"

#define REMEDY_MT "medic.remedy"
#define RESULT_MT "medic.result"

static const char *const remedy_names[_REMEDY_KIND_MAX] = {
        [REMEDY_COMMAND] = "command", [REMEDY_RESTART] = "restart", [REMEDY_START] = "start",
        [REMEDY_STOP] = "stop", [REMEDY_CALL] = "call", [REMEDY_REBOOT] = "reboot",
        [REMEDY_MAINTENANCE] = "maintenance",
};

/* The line in the user's file that declared something (helpers such as command_check sit
 * in between and are skipped: their source does not start with '@'). */
static int decl_line(lua_State *L) {
        lua_Debug ar;
        for (int level = 1; lua_getstack(L, level, &ar); level++)
                if (lua_getinfo(L, "Sl", &ar) && ar.source[0] == '@')
                        return ar.currentline;
        return 0;
}

/* The fields of check{}. command_check takes the same ones but run (the command is its run),
 * so that the two never disagree; it gets them as the argument of its chunk. */
static const char *const check_field_names[] = { "every", "timeout", "flapping", "events", "watch", "health", "run", NULL };

/* command_check "name" { "prog", "arg", ..., ok_status = 0, every = "1m", <check{} fields> }:
 * a check whose condition is a command's exit status. Written in Lua on top of check(). */
static const char command_check_lua[] =
        "local CHECK = ...\n"
        "local check, medic, ok, problem, unknown, error, type, ipairs, pairs, tostring, load, pcall, string =\n"
        "      check, medic, ok, problem, unknown, error, type, ipairs, pairs, tostring, load, pcall, string\n"
        "function command_check(name)\n"
        "  if type(name) ~= 'string' then error('command_check: expected a check name', 2) end\n"
        "  return function(spec)\n"
        "    local function fail(msg) error(msg, 3) end\n"
        "    if type(spec) ~= 'table' or #spec == 0 then\n"
        "      fail(\"command_check '\" .. name .. \"': expected { 'program', 'arg', ..., every = '1m' }\")\n"
        "    end\n"
        "    local n, decl = #spec, { every = '1m' }\n"
        "    for k, v in pairs(spec) do\n"
        "      if type(k) == 'number' and k >= 1 and k <= n and k % 1 == 0 then\n"
        "        if type(v) ~= 'string' and type(v) ~= 'number' then\n"
        "          fail(\"command_check '\" .. name .. \"': argument \" .. k .. ' is not a string')\n"
        "        end\n"
        "      elseif k == 'run' then\n"
        "        fail(\"unknown field 'run' in command_check '\" .. name .. \"' (the command is the check)\")\n"
        "      elseif CHECK[k] then decl[k] = v\n"
        "      elseif k ~= 'ok_status' then\n"
        "        fail(\"unknown field '\" .. tostring(k) .. \"' in command_check '\" .. name .. \"'\")\n"
        "      end\n"
        "    end\n"
        "    local want = spec.ok_status or 0\n"
        "    if type(want) ~= 'number' or want % 1 ~= 0 or want < 0 or want > 255 then\n"
        "      fail(\"command_check '\" .. name .. \"': ok_status must be an exit status (0 to 255)\")\n"
        "    end\n"
        "    local argv = {}\n"
        "    for i = 1, n do argv[i] = tostring(spec[i]) end\n"
        "    decl.run = function()\n"
        "      local r = medic.exec(argv)\n"
        "      if r.error then return unknown(r.error) end\n"
        /* Trailing blanks off, in linear time whatever the output (see PATTERNS in medic-lua(7)). */
        "      local out, e = r.stdout, #r.stdout\n"
        "      while e > 0 and out:find('^%s', e) do e = e - 1 end\n"
        "      out = out:sub(1, e)\n"
        "      if r.status == want then return ok(out) end\n"
        "      local how = r.status and ('status ' .. r.status) or ('signal ' .. tostring(r.signal))\n"
        "      local first = (r.stderr ~= '' and r.stderr or out):match('[^\\n]*')\n"
        "      return problem(argv[1] .. ' exited with ' .. how .. (first ~= '' and (': ' .. first) or ''),\n"
        "                     { status = r.status, signal = r.signal, stdout = r.stdout, stderr = r.stderr })\n"
        "    end\n"
        /* check() and its body both raise errors without a position: the user's line is added here. */
        "    local good, err = pcall(function() check(name)(decl) end)\n"
        "    if not good then error(tostring(err):gsub('^[^:]*:%d+: ', ''), 2) end\n"
        "  end\n"
        "end\n"
        /* medic.settings(name, defaults): a check's optional settings file
         * SETTINGS_DIR/NAME.conf of Lua assignments, trusted like check files (root's, not
         * writable by group or others), run in an empty environment; unknown keys are errors.
         * Returns defaults overridden by the file; raises an error (without position) on a
         * bad file. May be called while loading or on every run. */
        "local function load_settings(path, defaults)\n"
        "  local s = {}\n"
        "  for k, v in pairs(defaults) do s[k] = v end\n"
        "  local st = medic.stat(path)\n"
        "  if not st then return s end\n"
        "  if st.type ~= 'file' then return nil, path .. ': refusing: not a regular file' end\n"
        "  if medic.verify_owner and st.uid ~= 0 then\n"
        "    return nil, path .. ': refusing: owned by uid ' .. st.uid .. ' (must be root)'\n"
        "  end\n"
        "  if medic.verify_owner and st.mode & 18 ~= 0 then\n"
        "    return nil, string.format('%s: refusing: writable by group or others (mode %04o)', path, st.mode)\n"
        "  end\n"
        "  local text, err = medic.read(path, 65536)\n"
        "  if not text then return nil, err end\n"
        "  local env = {}\n"
        "  local chunk, perr = load(text, '=' .. path, 't', env)\n"
        "  if not chunk then return nil, perr end\n"
        "  local good, rerr = pcall(chunk)\n"
        "  if not good then return nil, tostring(rerr) end\n"
        "  for k, v in pairs(env) do\n"
        "    if defaults[k] == nil then return nil, path .. \": unknown setting '\" .. tostring(k) .. \"'\" end\n"
        "    s[k] = v\n"
        "  end\n"
        "  return s\n"
        "end\n"
        "function medic.settings(name, defaults)\n"
        "  if type(name) ~= 'string' or not name:match('^[%w._-]+$') then error('medic.settings: invalid name', 2) end\n"
        "  local s, err = load_settings(medic.settings_dir .. '/' .. name .. '.conf', defaults or {})\n"
        "  if not s then error(err, 0) end\n"
        "  return s\n"
        "end\n";

static bool valid_name(const char *s) {
        if (!s || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (const char *p = s; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
                        return false;
        return strlen(s) <= 128;
}

/* Raises an error unless every key of the table at idx is in allowed. */
static void check_fields(lua_State *L, int idx, const char *what, const char *name, const char *const *allowed) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
                bool ok = false;
                if (lua_type(L, -2) == LUA_TSTRING)
                        for (size_t i = 0; allowed[i]; i++)
                                if (strcmp(allowed[i], lua_tostring(L, -2)) == 0)
                                        ok = true;
                if (!ok && !(lua_type(L, -2) == LUA_TNUMBER && strcmp(what, "command") == 0)) {
                        lua_pushvalue(L, -2);
                        luaL_error(L, "unknown field '%s' in %s '%s'", luaL_tolstring(L, -1, NULL), what, name);
                }
                lua_pop(L, 1);
        }
}

static bool opt_duration(lua_State *L, int idx, const char *field, const char *what, const char *name, uint64_t *ret) {
        int t = lua_getfield(L, idx, field);
        if (t == LUA_TNIL) {
                lua_pop(L, 1);
                return false;
        }
        if (t == LUA_TNUMBER) {
                lua_Number n = lua_tonumber(L, -1);
                if (n < 0 || n > 1e9)
                        luaL_error(L, "%s '%s': %s out of range", what, name, field);
                *ret = (uint64_t) (n * 1e6);
        } else {
                const char *s = lua_tostring(L, -1);
                if (t != LUA_TSTRING || duration_parse(s, ret) < 0)
                        luaL_error(L, "%s '%s': invalid duration for %s: '%s' (expected e.g. \"30s\", \"5m\", \"1h\")",
                                   what, name, field, s ? s : luaL_typename(L, -1));
        }
        lua_pop(L, 1);
        return true;
}

/* Returns whether the field was there. */
static bool opt_ratespec(lua_State *L, int idx, const char *field, const char *what, const char *name, RateSpec *ret) {
        bool set = lua_getfield(L, idx, field) != LUA_TNIL;
        if (set) {
                const char *s = lua_tostring(L, -1);
                if (lua_type(L, -1) != LUA_TSTRING || ratespec_parse(s, ret) < 0)
                        luaL_error(L, "%s '%s': invalid %s '%s' (expected COUNT/DURATION, e.g. \"3/1h\")",
                                   what, name, field, s ? s : luaL_typename(L, -1));
        }
        lua_pop(L, 1);
        return set;
}

/* Reads a string or a list of strings at field into l. */
static void opt_strings(lua_State *L, int idx, const char *field, const char *what, const char *name, StrList *l) {
        int t = lua_getfield(L, idx, field);
        if (t == LUA_TSTRING)
                strlist_add(l, lua_tostring(L, -1));
        else if (t == LUA_TTABLE) {
                for (lua_Integer i = 1; i <= (lua_Integer) lua_rawlen(L, -1); i++) {
                        lua_rawgeti(L, -1, i);
                        if (lua_type(L, -1) != LUA_TSTRING)
                                luaL_error(L, "%s '%s': %s must be a string or a list of strings", what, name, field);
                        strlist_add(l, lua_tostring(L, -1));
                        lua_pop(L, 1);
                }
        } else if (t != LUA_TNIL)
                luaL_error(L, "%s '%s': %s must be a string or a list of strings", what, name, field);
        lua_pop(L, 1);
}

/* ---- results: ok() problem() unknown() skip() ---------------------------------------- */

/* The result table, made with what the closure keeps (decl_open()): its state string, the
 * result metatable and the field names, none of them looked up or hashed again per call. */
enum { UP_STATE = 1, UP_MT, UP_K_STATE, UP_K_MESSAGE, UP_K_DETAILS, UP_N = UP_K_DETAILS };

static int push_result(lua_State *L, bool message_required) {
        if (message_required)
                luaL_checkstring(L, 1);
        if (!lua_isnoneornil(L, 2))
                luaL_checktype(L, 2, LUA_TTABLE);
        lua_settop(L, 2);
        lua_createtable(L, 0, 3);
        lua_pushvalue(L, lua_upvalueindex(UP_K_STATE));
        lua_pushvalue(L, lua_upvalueindex(UP_STATE));
        lua_rawset(L, 3);
        if (lua_isstring(L, 1)) {
                lua_pushvalue(L, lua_upvalueindex(UP_K_MESSAGE));
                lua_pushvalue(L, 1);
                lua_rawset(L, 3);
        }
        if (!lua_isnil(L, 2)) {
                lua_pushvalue(L, lua_upvalueindex(UP_K_DETAILS));
                lua_pushvalue(L, 2);
                lua_rawset(L, 3);
        }
        lua_pushvalue(L, lua_upvalueindex(UP_MT));
        lua_setmetatable(L, 3);
        return 1;
}

static int l_ok(lua_State *L) { return push_result(L, false); }
static int l_problem(lua_State *L) { return push_result(L, true); }
static int l_unknown(lua_State *L) { return push_result(L, true); }
static int l_skip(lua_State *L) { return push_result(L, false); }

/* ---- remedies ------------------------------------------------------------------------ */

static int new_remedy(lua_State *L, RemedyKind kind) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, remedy_names[kind]);
        lua_setfield(L, -2, "kind");
        lua_pushvalue(L, 1);
        lua_setfield(L, -2, "spec");
        luaL_setmetatable(L, REMEDY_MT);
        return 1;
}

static int l_command(lua_State *L) {
        static const char *const fields[] = { "timeout", NULL };
        luaL_checktype(L, 1, LUA_TTABLE);
        if (lua_rawlen(L, 1) == 0)
                return luaL_error(L, "command: the argument vector is empty (expected command { \"prog\", \"arg\", ... })");
        check_fields(L, 1, "command", "remedy", fields);
        return new_remedy(L, REMEDY_COMMAND);
}
static int l_unit(lua_State *L, RemedyKind k) {
        const char *u = luaL_checkstring(L, 1);
        if (!*u || strchr(u, '/') || strlen(u) > 255)
                return luaL_error(L, "%s: invalid unit name '%s'", remedy_names[k], u);
        return new_remedy(L, k);
}
static int l_restart(lua_State *L) { return l_unit(L, REMEDY_RESTART); }
static int l_start(lua_State *L) { return l_unit(L, REMEDY_START); }
static int l_stop(lua_State *L) { return l_unit(L, REMEDY_STOP); }
static int l_call(lua_State *L) {
        luaL_checktype(L, 1, LUA_TFUNCTION);
        return new_remedy(L, REMEDY_CALL);
}
static int l_reboot(lua_State *L) {
        static const char *const fields[] = { "methods", NULL };
        if (lua_isnoneornil(L, 1)) {
                lua_settop(L, 0);
                lua_newtable(L);
        }
        luaL_checktype(L, 1, LUA_TTABLE);
        check_fields(L, 1, "reboot", "remedy", fields);
        return new_remedy(L, REMEDY_REBOOT);
}
static int l_maintenance(lua_State *L) {
        static const char *const fields[] = { "drain", "undrain", "settle", "settle_timeout", NULL };
        if (lua_isnoneornil(L, 1)) {
                lua_settop(L, 0);
                lua_newtable(L);
        }
        luaL_checktype(L, 1, LUA_TTABLE);
        check_fields(L, 1, "maintenance", "remedy", fields);
        return new_remedy(L, REMEDY_MAINTENANCE);
}

static void remedy_clear(RemedyDecl *r, lua_State *L) {
        strlist_clear(&r->argv);
        strlist_clear(&r->methods);
        free(r->unit);
        free(r->drain);
        free(r->undrain);
        free(r->text);
        if (L && r->fn_ref != LUA_NOREF)
                luaL_unref(L, LUA_REGISTRYINDEX, r->fn_ref);
}

/* Parses the remedy table at idx into r (a Lua error on mistakes). */
static void parse_remedy(lua_State *L, int idx, const char *rule, RemedyDecl *r) {
        const char *kind;
        int k;

        bool is_remedy = false;
        if (lua_type(L, idx) == LUA_TTABLE && lua_getmetatable(L, idx)) {
                luaL_getmetatable(L, REMEDY_MT);
                is_remedy = lua_rawequal(L, -1, -2);
                lua_pop(L, 2);
        }
        if (!is_remedy)
                luaL_error(L, "rule '%s': remedy must be made with command{}, restart \"unit\", start, stop, call(function), reboot{} or maintenance{}", rule);
        lua_getfield(L, idx, "kind");
        kind = lua_tostring(L, -1);
        for (k = 0; k < _REMEDY_KIND_MAX; k++)
                if (kind && strcmp(kind, remedy_names[k]) == 0)
                        break;
        lua_pop(L, 1);
        r->kind = (RemedyKind) k;
        r->fn_ref = LUA_NOREF;
        lua_getfield(L, idx, "spec");
        int spec = lua_gettop(L);
        switch (r->kind) {
        case REMEDY_COMMAND: {
                size_t n = lua_rawlen(L, spec);
                for (size_t i = 1; i <= n; i++) {
                        lua_rawgeti(L, spec, (lua_Integer) i);
                        if (!lua_isstring(L, -1))
                                luaL_error(L, "rule '%s': command argument %d is not a string", rule, (int) i);
                        strlist_add(&r->argv, lua_tostring(L, -1));
                        lua_pop(L, 1);
                }
                r->timeout = 5 * 60 * USEC_PER_SEC;
                opt_duration(L, spec, "timeout", "rule", rule, &r->timeout);
                r->text = strprintf("command %s%s", r->argv.v[0], r->argv.n > 1 ? " ..." : "");
                break;
        }
        case REMEDY_RESTART:
        case REMEDY_START:
        case REMEDY_STOP:
                r->unit = strdup(lua_tostring(L, spec));
                r->text = strprintf("%s %s", remedy_names[r->kind], r->unit);
                break;
        case REMEDY_CALL:
                lua_pushvalue(L, spec);
                r->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
                r->timeout = 5 * 60 * USEC_PER_SEC;
                r->text = strdup("call (Lua function)");
                break;
        case REMEDY_REBOOT:
                /* No methods: the node's ladder ([reboot] methods in medic.conf). */
                opt_strings(L, spec, "methods", "rule", rule, &r->methods);
                for (size_t i = 0; i < r->methods.n; i++)
                        if (!strlist_contains(&(StrList) { (char *[]) { "systemd", "sysrq", "watchdog", NULL }, 3 },
                                              r->methods.v[i]))
                                luaL_error(L, "rule '%s': unknown reboot method '%s' (expected systemd, sysrq, watchdog)",
                                           rule, r->methods.v[i]);
                r->text = strdup("reboot");
                break;
        case REMEDY_MAINTENANCE:
                if (lua_getfield(L, spec, "drain") == LUA_TSTRING)
                        r->drain = strdup(lua_tostring(L, -1));
                else
                        r->drain = strdup(SYSCONFDIR "/medic/drain.d");
                if (lua_getfield(L, spec, "undrain") == LUA_TSTRING)
                        r->undrain = strdup(lua_tostring(L, -1));
                else
                        r->undrain = strdup(SYSCONFDIR "/medic/undrain.d");
                lua_pop(L, 2);
                opt_duration(L, spec, "settle", "rule", rule, &r->settle);
                if (opt_duration(L, spec, "settle_timeout", "rule", rule, &r->settle_timeout)) {
                        if (r->settle == 0)
                                luaL_error(L, "rule '%s': maintenance: settle_timeout without settle", rule);
                        if (r->settle_timeout < r->settle)
                                luaL_error(L, "rule '%s': maintenance: settle_timeout is shorter than settle", rule);
                } else if (r->settle > 0) {
                        /* Ten settle times, at least half an hour. */
                        r->settle_timeout = r->settle > UINT64_MAX / 10 ? UINT64_MAX : 10 * r->settle;
                        if (r->settle_timeout < 30 * 60 * USEC_PER_SEC)
                                r->settle_timeout = 30 * 60 * USEC_PER_SEC;
                }
                r->text = strdup("maintenance");
                break;
        default:
                luaL_error(L, "rule '%s': unknown remedy kind", rule);
        }
        lua_pop(L, 1);
}

/* ---- check "name" { ... } ------------------------------------------------------------ */

static void set_add(void ***arr, size_t *n, void *item) {
        void **a = realloc(*arr, (*n + 1) * sizeof(void *));
        if (!a)
                abort();
        a[(*n)++] = item;
        *arr = a;
}

static CheckDecl *checkdecl_free(CheckDecl *c) {
        if (!c)
                return NULL;
        free(c->name);
        strlist_clear(&c->events);
        strlist_clear(&c->watch);
        free(c);
        return NULL;
}

static int check_body(lua_State *L) {
        LuaFile *f = luafile_from_state(L);
        const char *name = lua_tostring(L, lua_upvalueindex(1));
        CheckDecl *c;

        luaL_checktype(L, 1, LUA_TTABLE);
        check_fields(L, 1, "check", name, check_field_names);
        if (luaset_find_check(f->set, name))
                return luaL_error(L, "check '%s' is declared twice (also in %s:%d)", name,
                                  luaset_find_check(f->set, name)->file->path, luaset_find_check(f->set, name)->line);
        c = calloc(1, sizeof(*c));
        if (!c)
                return luaL_error(L, "out of memory");
        c->name = strdup(name);
        c->file = f;
        c->line = decl_line(L);
        c->timeout = f->host->config->check_timeout;
        c->flapping = f->host->config->flapping;
        c->fn_ref = LUA_NOREF;
        set_add((void ***) &f->set->checks, &f->set->n_checks, c);   /* owned by the set from here on */
        if (!c->name || strmap_put(&f->set->check_index, c->name, c) < 0)
                return luaL_error(L, "out of memory");

        if (!opt_duration(L, 1, "every", "check", name, &c->every))
                return luaL_error(L, "check '%s': 'every' is required (e.g. every = \"1m\")", name);
        if (c->every < USEC_PER_SEC / 10)
                return luaL_error(L, "check '%s': 'every' must be at least 100ms", name);
        c->timeout_set = opt_duration(L, 1, "timeout", "check", name, &c->timeout);
        if (c->timeout == 0)
                return luaL_error(L, "check '%s': 'timeout' must be positive", name);
        opt_ratespec(L, 1, "flapping", "check", name, &c->flapping);
        opt_strings(L, 1, "events", "check", name, &c->events);
        opt_strings(L, 1, "watch", "check", name, &c->watch);
        for (size_t i = 0; i < c->watch.n; i++) {
                const char *w = c->watch.v[i];
                size_t len = strlen(w);
                if (w[0] != '/' || len < 2 || w[len - 1] == '/')
                        return luaL_error(L, "check '%s': watch: '%s' is not an absolute path of a file", name, w);
        }
        if (lua_getfield(L, 1, "health") != LUA_TNIL) {
                if (!lua_isboolean(L, -1))
                        return luaL_error(L, "check '%s': 'health' must be true or false", name);
                c->health = lua_toboolean(L, -1);
        }
        lua_pop(L, 1);
        if (lua_getfield(L, 1, "run") != LUA_TFUNCTION)
                return luaL_error(L, "check '%s': 'run' must be a function", name);
        c->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return 0;
}

static int l_check(lua_State *L) {
        LuaFile *f = luafile_from_state(L);
        const char *name = luaL_checkstring(L, 1);

        if (f->kind != LUA_FILE_CHECK)
                return luaL_error(L, "check() can only be used in check files, not in rule files");
        if (!valid_name(name))
                return luaL_error(L, "invalid check name '%s' (letters, digits, '.', '_', '-')", name);
        lua_pushvalue(L, 1);
        lua_pushcclosure(L, check_body, 1);
        return 1;
}

/* ---- rule "name" { ... } ------------------------------------------------------------- */

static RuleDecl *ruledecl_free(RuleDecl *r) {
        if (!r)
                return NULL;
        free(r->name);
        free(r->when);
        remedy_clear(&r->remedy, NULL);
        strlist_clear(&r->unless);
        for (size_t i = 0; i < r->n_windows; i++)
                window_free(r->windows[i]);
        free(r->windows);
        free(r->escalate);
        strlist_clear(&r->on_labels);
        free(r->inert);
        free(r->escalated_from);
        free(r);
        return NULL;
}

/* on_labels = { KEY = "VALUE" or { "VALUE", ... }, ... } into r->on_labels ("KEY=VALUE" each). */
static void parse_on_labels(lua_State *L, int idx, const char *name, RuleDecl *r) {
        int t = lua_getfield(L, idx, "on_labels");

        if (t == LUA_TNIL) {
                lua_pop(L, 1);
                return;
        }
        if (t != LUA_TTABLE)
                luaL_error(L, "rule '%s': on_labels must be a table { KEY = \"VALUE\" or { \"VALUE\", ... } }", name);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
                if (lua_type(L, -2) != LUA_TSTRING || !*lua_tostring(L, -2) || strchr(lua_tostring(L, -2), '='))
                        luaL_error(L, "rule '%s': on_labels: keys must be label names (strings without '=')", name);
                const char *key = lua_tostring(L, -2);
                if (lua_type(L, -1) == LUA_TSTRING)
                        strlist_addf(&r->on_labels, "%s=%s", key, lua_tostring(L, -1));
                else if (lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) > 0) {
                        for (lua_Integer i = 1; i <= (lua_Integer) lua_rawlen(L, -1); i++) {
                                if (lua_rawgeti(L, -1, i) != LUA_TSTRING)
                                        luaL_error(L, "rule '%s': on_labels.%s must be a string or a list of strings", name, key);
                                strlist_addf(&r->on_labels, "%s=%s", key, lua_tostring(L, -1));
                                lua_pop(L, 1);
                        }
                } else
                        luaL_error(L, "rule '%s': on_labels.%s must be a string or a list of strings", name, key);
                lua_pop(L, 1);
        }
        lua_pop(L, 1);
}

/* Why a rule with these on_labels does not apply on a node with these labels, or NULL. */
static char *labels_mismatch(const StrList *on_labels, const StrList *labels) {
        for (size_t i = 0; i < on_labels->n; i++) {
                const char *eq = strchr(on_labels->v[i], '=');
                _cleanup_free_ char *key = strndup(on_labels->v[i], (size_t) (eq - on_labels->v[i]));
                const char *have = key ? labels_get(labels, key) : NULL;
                bool match = false;

                if (!key)
                        return strdup("out of memory");
                for (size_t j = 0; j < on_labels->n && !match; j++)
                        match = have && strncmp(on_labels->v[j], key, strlen(key)) == 0 &&
                                on_labels->v[j][strlen(key)] == '=' && strcmp(on_labels->v[j] + strlen(key) + 1, have) == 0;
                if (!match)
                        return have ? strprintf("on_labels wants %s, this node has %s=%s", on_labels->v[i], key, have)
                                    : strprintf("on_labels wants %s, this node has no label '%s'", on_labels->v[i], key);
        }
        return NULL;
}

static int rule_body(lua_State *L) {
        static const char *const fields[] = { "when", "holds", "remedy", "unless", "window", "limit",
                                              "retry", "escalate", "on_labels", NULL };
        LuaFile *f = luafile_from_state(L);
        const char *name = lua_tostring(L, lua_upvalueindex(1));
        StrList windows = {};
        RuleDecl *r;
        int t;

        luaL_checktype(L, 1, LUA_TTABLE);
        check_fields(L, 1, "rule", name, fields);
        if (luaset_find_rule(f->set, name))
                return luaL_error(L, "rule '%s' is declared twice (also in %s:%d)", name,
                                  luaset_find_rule(f->set, name)->file->path, luaset_find_rule(f->set, name)->line);
        /* (inert rules are set apart only after every file loaded, see luaset_load()) */
        r = calloc(1, sizeof(*r));
        if (!r)
                return luaL_error(L, "out of memory");
        r->name = strdup(name);
        r->file = f;
        r->line = decl_line(L);
        r->when_ref = LUA_NOREF;
        r->remedy.fn_ref = LUA_NOREF;
        r->retry = 5 * 60 * USEC_PER_SEC;
        r->limit = (RateSpec) { .count = 3, .window_usec = 3600 * USEC_PER_SEC };
        set_add((void ***) &f->set->rules, &f->set->n_rules, r);
        if (!r->name || strmap_put(&f->set->rule_index, r->name, r) < 0)
                return luaL_error(L, "out of memory");

        t = lua_getfield(L, 1, "when");
        if (t == LUA_TSTRING)
                r->when = strdup(lua_tostring(L, -1));
        else if (t == LUA_TFUNCTION) {
                lua_pushvalue(L, -1);
                r->when_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        } else if (t != LUA_TNIL)
                return luaL_error(L, "rule '%s': 'when' must be a condition name or a function", name);
        lua_pop(L, 1);

        opt_duration(L, 1, "holds", "rule", name, &r->holds);
        opt_duration(L, 1, "retry", "rule", name, &r->retry);
        r->limit_set = opt_ratespec(L, 1, "limit", "rule", name, &r->limit);
        opt_strings(L, 1, "unless", "rule", name, &r->unless);
        parse_on_labels(L, 1, name, r);
        r->inert = labels_mismatch(&r->on_labels, &f->host->config->labels);

        opt_strings(L, 1, "window", "rule", name, &windows);
        for (size_t i = 0; i < windows.n; i++) {
                char *err = NULL;
                Window *w;
                if (window_parse(windows.v[i], &w, &err) < 0) {
                        /* luaL_error() does not return: nothing may be left to a cleanup
                         * (a leak found by tests/fuzz/fuzz-lua). */
                        lua_pushfstring(L, "rule '%s': invalid window '%s': %s", name, windows.v[i], err ? err : "?");
                        free(err);
                        strlist_clear(&windows);
                        return luaL_error(L, "%s", lua_tostring(L, -1));
                }
                set_add((void ***) &r->windows, &r->n_windows, w);
        }
        strlist_clear(&windows);

        if (lua_getfield(L, 1, "escalate") != LUA_TNIL) {
                if (lua_type(L, -1) != LUA_TSTRING)
                        return luaL_error(L, "rule '%s': 'escalate' must be a rule name", name);
                r->escalate = strdup(lua_tostring(L, -1));
        }
        lua_pop(L, 1);

        if (lua_getfield(L, 1, "remedy") == LUA_TNIL)
                return luaL_error(L, "rule '%s': 'remedy' is required", name);
        parse_remedy(L, lua_gettop(L), name, &r->remedy);
        lua_pop(L, 1);
        return 0;
}

static int l_rule(lua_State *L) {
        LuaFile *f = luafile_from_state(L);
        const char *name = luaL_checkstring(L, 1);

        if (f->kind != LUA_FILE_RULE)
                return luaL_error(L, "rule() can only be used in rule files, not in check files");
        if (!valid_name(name))
                return luaL_error(L, "invalid rule name '%s' (letters, digits, '.', '_', '-')", name);
        lua_pushvalue(L, 1);
        lua_pushcclosure(L, rule_body, 1);
        return 1;
}

static void decl_open(LuaFile *f) {
        static const luaL_Reg globals[] = {
                { "check", l_check }, { "rule", l_rule },
                { "command", l_command }, { "restart", l_restart }, { "start", l_start }, { "stop", l_stop },
                { "call", l_call }, { "reboot", l_reboot }, { "maintenance", l_maintenance },
                { NULL, NULL },
        };
        static const luaL_Reg results[] = {
                { "ok", l_ok }, { "problem", l_problem }, { "unknown", l_unknown }, { "skip", l_skip },
        };
        lua_State *L = f->L;

        luaL_newmetatable(L, REMEDY_MT);
        lua_pop(L, 1);
        luaL_newmetatable(L, RESULT_MT);
        lua_pop(L, 1);
        lua_pushglobaltable(L);
        luaL_setfuncs(L, globals, 0);
        for (size_t i = 0; i < ELEMENTSOF(results); i++) {
                lua_pushstring(L, results[i].name);          /* UP_STATE: the name is the state */
                luaL_getmetatable(L, RESULT_MT);
                lua_pushliteral(L, "state");
                lua_pushliteral(L, "message");
                lua_pushliteral(L, "details");
                lua_pushcclosure(L, results[i].func, UP_N);
                lua_setfield(L, -2, results[i].name);
        }
        lua_pop(L, 1);
        if (f->kind != LUA_FILE_CHECK)
                return;
        if (luaL_loadbufferx(L, command_check_lua, sizeof command_check_lua - 1, "=command_check", "t") == LUA_OK) {
                lua_newtable(L);                    /* the chunk's argument: the set of check{} fields */
                for (size_t i = 0; check_field_names[i]; i++) {
                        lua_pushboolean(L, 1);
                        lua_setfield(L, -2, check_field_names[i]);
                }
                if (lua_pcall(L, 1, 0, 0) == LUA_OK)
                        return;
        }
        log_error("BUG: command_check helper: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
}

/* ---- the set ------------------------------------------------------------------------- */

CheckDecl *luaset_find_check(const LuaSet *s, const char *name) {
        return s ? strmap_get(&s->check_index, name) : NULL;
}

RuleDecl *luaset_find_rule(const LuaSet *s, const char *name) {
        return s ? strmap_get(&s->rule_index, name) : NULL;
}

RuleDecl *luaset_find_inert(const LuaSet *s, const char *name) {
        return s ? strmap_get(&s->inert_index, name) : NULL;
}

const RuleDeps *luaset_rules_of_condition(const LuaSet *s, const char *condition) {
        static const RuleDeps none = {};
        const RuleDeps *d = s ? strmap_get(&s->deps, condition) : NULL;
        return d ? d : &none;
}

/* Adds r once (each rule is added in the set's order, so only the last one may be r). */
static void deps_add(RuleDeps *d, RuleDecl *r) {
        if (d->n == 0 || d->v[d->n - 1] != r)
                set_add((void ***) &d->v, &d->n, r);
}

static RuleDeps *deps_of(LuaSet *s, const char *condition) {
        RuleDeps *d = strmap_get(&s->deps, condition);

        if (d)
                return d;
        d = calloc(1, sizeof(*d));
        /* The key is the name of the rule's when or unless entry: it lives as long as the set. */
        if (!d || strmap_put(&s->deps, condition, d) < 0)
                abort();
        return d;
}

/* r is armed by its trigger (src's when or predicate), or by that of a rule escalating to it. */
static void deps_add_trigger(LuaSet *s, RuleDecl *src, RuleDecl *r) {
        if (src->when)
                deps_add(deps_of(s, src->when), r);
        else if (src->when_ref != LUA_NOREF)
                deps_add(&s->any_condition, r);
        for (size_t i = 0; i < src->n_escalated_from; i++)
                deps_add_trigger(s, src->escalated_from[i], r); /* no loops: validate() refused them */
}

/* Once the set is complete (inert rules set apart): who escalates to whom, the rules each
 * condition's result concerns (in the set's order, as rules_run() runs them all), the
 * health checks. */
static void build_index(LuaSet *s) {
        for (size_t i = 0; i < s->n_rules; i++) {
                RuleDecl *r = s->rules[i], *t = r->escalate ? luaset_find_rule(s, r->escalate) : NULL;
                if (t)
                        set_add((void ***) &t->escalated_from, &t->n_escalated_from, r);
        }
        for (size_t i = 0; i < s->n_rules; i++) {
                RuleDecl *r = s->rules[i];
                deps_add_trigger(s, r, r);
                for (size_t k = 0; k < r->unless.n; k++)
                        deps_add(deps_of(s, r->unless.v[k]), r);
        }
        for (size_t i = 0; i < s->n_checks; i++)
                if (s->checks[i]->health)
                        set_add((void ***) &s->health, &s->n_health, s->checks[i]);
}

/* Rules whose on_labels do not match this node leave s->rules: nothing runs them. Done after
 * validate(), so that a set is checked the same on every node. */
static void set_apart_inert(LuaSet *s) {
        size_t k = 0;

        for (size_t i = 0; i < s->n_rules; i++) {
                RuleDecl *r = s->rules[i];
                if (r->inert) {
                        log_info("%s:%d: rule '%s' does not apply on this node: %s", r->file->path, r->line, r->name, r->inert);
                        set_add((void ***) &s->inert, &s->n_inert, r);
                        (void) strmap_remove(&s->rule_index, r->name);
                        if (strmap_put(&s->inert_index, r->name, r) < 0)
                                abort();
                } else
                        s->rules[k++] = r;
        }
        s->n_rules = k;
}

LuaSet *luaset_free(LuaSet *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_checks; i++)
                checkdecl_free(s->checks[i]);
        for (size_t i = 0; i < s->n_rules; i++)
                ruledecl_free(s->rules[i]);
        for (size_t i = 0; i < s->n_inert; i++)
                ruledecl_free(s->inert[i]);
        free(s->inert);
        for (size_t i = 0; i < s->deps.cap; i++)
                if (s->deps.slots[i].key) {
                        RuleDeps *d = s->deps.slots[i].value;
                        free(d->v);
                        free(d);
                }
        strmap_clear(&s->deps);
        strmap_clear(&s->check_index);
        strmap_clear(&s->rule_index);
        strmap_clear(&s->inert_index);
        free(s->any_condition.v);
        free(s->health);
        for (size_t i = 0; i < s->n_files; i++)
                luafile_free(s->files[i]);
        free(s->checks);
        free(s->rules);
        free(s->files);
        free(s);
        return NULL;
}

static int cmp_base(const void *a, const void *b) {
        const char *x = strrchr(*(char *const *) a, '/'), *y = strrchr(*(char *const *) b, '/');
        return strcmp(x ? x + 1 : *(char *const *) a, y ? y + 1 : *(char *const *) b);
}

/* The *.lua files of dirs, later directories overriding earlier ones by base name, an empty
 * file or a link to /dev/null masking, sorted by base name. */
static int list_files(const StrList *dirs, StrList *ret) {
        StrList files = {};

        for (size_t d = 0; d < dirs->n; d++) {
                DIR *dir = opendir(dirs->v[d]);
                struct dirent *de;
                if (!dir) {
                        if (errno != ENOENT)
                                log_warning_errno(errno, "Cannot read %s, ignoring: %m", dirs->v[d]);
                        continue;
                }
                while ((de = readdir(dir))) {
                        size_t len = strlen(de->d_name);
                        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".lua") != 0)
                                continue;
                        for (size_t i = 0; i < files.n; i++) {
                                const char *b = strrchr(files.v[i], '/') + 1;
                                if (strcmp(b, de->d_name) == 0) {
                                        free(files.v[i]);
                                        files.v[i] = files.v[--files.n];
                                        files.v[files.n] = NULL;
                                        break;
                                }
                        }
                        strlist_addf(&files, "%s/%s", dirs->v[d], de->d_name);
                }
                closedir(dir);
        }
        if (files.n > 0) /* qsort() of NULL, 0 is undefined (found by tests/fuzz/fuzz-lua) */
                qsort(files.v, files.n, sizeof(char *), cmp_base);
        /* Drop masks only now, after they replaced what they mask. */
        for (size_t i = 0; i < files.n;) {
                struct stat st;
                if (stat(files.v[i], &st) == 0 && (st.st_size == 0 || S_ISCHR(st.st_mode))) {
                        log_debug("%s masks the file of the same name", files.v[i]);
                        free(files.v[i]);
                        memmove(files.v + i, files.v + i + 1, (files.n - i) * sizeof(char *));
                        files.n--;
                } else
                        i++;
        }
        *ret = files;
        return 0;
}

/* Creates the state of one file, declares into s while it runs. Returns the load's result. */
static int load_one(LuaSet *s, const char *path, LuaFileKind kind, const LuaHost *host, StrList *errors,
                    LuaFile **ret) {
        LuaFile *f;

        if (luafile_new(path, kind, host, s->config->lua_memory_limit, &f) < 0) {
                strlist_addf(errors, "%s: cannot create a Lua state", path);
                return -ENOMEM;
        }
        set_add((void ***) &s->files, &s->n_files, f);
        f->set = s;
        f->load_deadline = s->load_deadline;
        lua_api_open(f);
        decl_open(f);
        *ret = f;
        return luafile_load(f, errors) < 0 ? -EINVAL : 0;
}

static int load_dir_set(LuaSet *s, const StrList *dirs, LuaFileKind kind, const LuaHost *host, StrList *errors) {
        StrList files = {};
        int r = 0;

        list_files(dirs, &files);
        for (size_t i = 0; i < files.n; i++) {
                LuaFile *f;
                if (s->config->verify_owner) {
                        _cleanup_free_ char *why = NULL;
                        int k = trust_verify_file(files.v[i], &why);
                        if (k < 0) {
                                if (why)
                                        strlist_addf(errors, "%s: refusing to load: %s", files.v[i], why);
                                else
                                        strlist_addf(errors, "%s: %s", files.v[i], strerror(-k));
                                r = -EPERM;
                                continue;
                        }
                }
                int k = load_one(s, files.v[i], kind, host, errors, &f);
                if (k < 0)
                        r = k;
        }
        strlist_clear(&files);
        return r;
}

/* Loads path as a check file, or, when it calls rule(), as a rule file (see luaset_load_paths). */
static int load_any(LuaSet *s, const char *path, const LuaHost *host, StrList *errors) {
        size_t n_errors = errors->n;
        LuaFile *f = NULL;
        int r;

        r = load_one(s, path, LUA_FILE_CHECK, host, errors, &f);
        if (r != -EINVAL || errors->n != n_errors + 1 ||
            !strstr(errors->v[n_errors], "rule() can only be used in rule files"))
                return r;
        /* A rule file: forget the check file's try, and what it declared before rule(). */
        free(errors->v[--errors->n]);
        errors->v[errors->n] = NULL;
        for (size_t i = 0; i < s->n_checks;)
                if (s->checks[i]->file == f) {
                        (void) strmap_remove(&s->check_index, s->checks[i]->name);
                        checkdecl_free(s->checks[i]);
                        memmove(s->checks + i, s->checks + i + 1, (s->n_checks - i - 1) * sizeof(CheckDecl *));
                        s->n_checks--;
                } else
                        i++;
        s->n_files--;
        luafile_free(f);
        return load_one(s, path, LUA_FILE_RULE, host, errors, &f);
}

/* Cross-file checks: escalation targets exist and do not loop. */
static int validate(LuaSet *s, StrList *errors) {
        int r = 0;

        for (size_t i = 0; i < s->n_rules; i++) {
                RuleDecl *rule = s->rules[i], *t = rule;
                size_t steps = 0;

                if (!rule->when && rule->when_ref == LUA_NOREF) {
                        bool reached = false;
                        for (size_t j = 0; j < s->n_rules; j++)
                                if (streq_ptr(s->rules[j]->escalate, rule->name))
                                        reached = true;
                        if (!reached) {
                                strlist_addf(errors, "%s:%d: rule '%s' has no 'when' and no rule escalates to it",
                                             rule->file->path, rule->line, rule->name);
                                r = -EINVAL;
                        }
                }
                while (t && t->escalate) {
                        RuleDecl *next = luaset_find_rule(s, t->escalate);
                        if (!next) {
                                if (t == rule) {
                                        strlist_addf(errors, "%s:%d: rule '%s' escalates to unknown rule '%s'",
                                                     rule->file->path, rule->line, rule->name, rule->escalate);
                                        r = -EINVAL;
                                }
                                break;
                        }
                        if (next == rule || ++steps > s->n_rules) {
                                strlist_addf(errors, "%s:%d: rule '%s' escalates in a loop",
                                             rule->file->path, rule->line, rule->name);
                                r = -EINVAL;
                                break;
                        }
                        t = next;
                }
                if (rule->when && !luaset_find_check(s, rule->when))
                        log_warning("%s:%d: rule '%s' waits for condition '%s', which no check declares",
                                    rule->file->path, rule->line, rule->name, rule->when);
                for (size_t k = 0; k < rule->unless.n; k++)
                        if (!luaset_find_check(s, rule->unless.v[k]))
                                log_warning("%s:%d: rule '%s' is blocked by condition '%s', which no check declares",
                                            rule->file->path, rule->line, rule->name, rule->unless.v[k]);
        }
        return r;
}

/* Validates what was loaded into s and hands it out, or frees it on any error. */
static int set_finish(LuaSet *s, int r, StrList *errors, LuaSet **ret) {
        int k = validate(s, errors);

        for (size_t i = 0; i < s->n_files; i++)
                s->files[i]->set = NULL;
        if (r < 0 || k < 0) {
                luaset_free(s);
                return -EINVAL;
        }
        set_apart_inert(s);
        build_index(s);
        *ret = s;
        return 0;
}

void luaset_collect(LuaSet *s) {
        for (size_t i = 0; s && i < s->n_files; i++)
                lua_gc(s->files[i]->L, LUA_GCCOLLECT);
}

int luaset_load(const Config *c, const LuaHost *host, LuaSet **ret, StrList *errors) {
        LuaSet *s = calloc(1, sizeof(*s));
        int r1, r2;

        if (!s)
                return -ENOMEM;
        s->config = c;
        s->load_deadline = now_monotonic() + LUA_SET_LOAD_TIMEOUT;
        r1 = load_dir_set(s, &c->check_dirs, LUA_FILE_CHECK, host, errors);
        r2 = load_dir_set(s, &c->rule_dirs, LUA_FILE_RULE, host, errors);
        return set_finish(s, r1 < 0 ? r1 : r2, errors, ret);
}

int luaset_load_paths(const Config *c, const LuaHost *host, char *const *paths, size_t n_paths, LuaSet **ret,
                      StrList *errors) {
        StrList dirs = {}, files = {};
        LuaSet *s = calloc(1, sizeof(*s));
        int r = 0;

        if (!s)
                return -ENOMEM;
        s->config = c;
        s->load_deadline = now_monotonic() + LUA_SET_LOAD_TIMEOUT;
        for (size_t i = 0; i < n_paths; i++) {
                struct stat st;
                if (stat(paths[i], &st) < 0) {
                        strlist_addf(errors, "%s: %s", paths[i], strerror(errno));
                        r = -EINVAL;
                } else if (S_ISDIR(st.st_mode))
                        strlist_add(&dirs, paths[i]);
        }
        /* The directories as medicd reads them (later ones override by base name), then each file
         * given by name, which replaces a directory's file of the same base name. */
        list_files(&dirs, &files);
        for (size_t i = 0; i < n_paths; i++) {
                struct stat st;
                const char *b = strrchr(paths[i], '/') ? strrchr(paths[i], '/') + 1 : paths[i];
                if (stat(paths[i], &st) < 0 || S_ISDIR(st.st_mode))
                        continue;
                for (size_t j = 0; j < files.n; j++)
                        if (strcmp(strrchr(files.v[j], '/') + 1, b) == 0) {
                                free(files.v[j]);
                                memmove(files.v + j, files.v + j + 1, (files.n - j) * sizeof(char *));
                                files.n--;
                                break;
                        }
                strlist_add(&files, paths[i]);
        }
        for (size_t i = 0; i < files.n; i++) {
                int k = load_any(s, files.v[i], host, errors);
                if (k < 0)
                        r = k;
        }
        strlist_clear(&dirs);
        strlist_clear(&files);
        return set_finish(s, r, errors, ret);
}
