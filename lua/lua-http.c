/* SPDX-License-Identifier: MIT */
/* medic.http{ url = …, method, headers, body, timeout, max_body, ca_file, insecure }: one HTTP
 * request through the daemon's asynchronous client (io/http.h, libcurl multi on sd-event).
 * The calling coroutine is parked with lua_run_wait_op() while the request runs and resumed
 * with { status, body, duration, truncated } or nil, err. Also: the http_check helper for
 * check files, written in Lua on top of check() and medic.http. */
#include <lauxlib.h>
#include <string.h>

#include "duration.h"
#include "http.h"
#include "log.h"
#include "lua-api.h"

#define DEFAULT_TIMEOUT (10 * USEC_PER_SEC)
#define DEFAULT_MAX_BODY (1024 * 1024)
#define MAX_MAX_BODY (64 * 1024 * 1024)
#define TIMEOUT_MARGIN (200 * USEC_PER_MSEC)   /* answer before the check's own deadline */
#define MAX_HEADERS 64

/* One client for the process, on the loop of the first file that asks. */
static HttpClient *client;
static sd_event *client_event;

typedef struct HttpOp {
        LuaRun *run;
        HttpRequest *req;
        sd_event_source *defer;    /* resumes the run outside libcurl's callback */
        uint64_t started, timeout;
        char *url;
        /* the outcome, copied out of the response */
        long status;
        char *body;
        size_t size;
        bool truncated;
        char *error;
} HttpOp;

static HttpOp *op_free(HttpOp *op) {
        if (!op)
                return NULL;
        http_request_cancel(op->req);
        sd_event_source_disable_unref(op->defer);
        free(op->url);
        free(op->body);
        free(op->error);
        free(op);
        return NULL;
}

/* The run ended first (timeout, reload, shutdown): drop the request, never complete. */
static void op_cancel(void *userdata) {
        op_free(userdata);
}

static void push_outcome(lua_State *co, void *userdata) {
        HttpOp *op = userdata;

        if (op->error) {
                lua_pushstring(co, op->error);  /* the continuation turns a string into nil, err */
                return;
        }
        lua_createtable(co, 0, 4);
        lua_pushinteger(co, op->status);
        lua_setfield(co, -2, "status");
        lua_pushlstring(co, op->body ? op->body : "", op->size);
        lua_setfield(co, -2, "body");
        lua_pushnumber(co, (lua_Number) (now_monotonic() - op->started) / 1e6);
        lua_setfield(co, -2, "duration");
        lua_pushboolean(co, op->truncated);
        lua_setfield(co, -2, "truncated");
}

static int on_defer(sd_event_source *s, void *userdata) {
        HttpOp *op = userdata;
        LuaRun *run = op->run;

        op->defer = sd_event_source_disable_unref(op->defer);
        lua_run_complete_op(run, push_outcome, op);   /* no cancel after this: we free it */
        op_free(op);
        return 0;
}

static void on_done(const HttpResponse *r, void *userdata) {
        HttpOp *op = userdata;
        int k;

        op->req = NULL;  /* the client frees it after this callback */
        if (r->timed_out)
                op->error = strprintf("%s: timed out after %.*fs", op->url,
                                      op->timeout % USEC_PER_SEC == 0 ? 0 : 1, (double) op->timeout / 1e6);
        else if (r->curl_code != 0)
                op->error = strprintf("%s: %s", op->url, r->error ? r->error : "request failed");
        else {
                op->status = r->status;
                op->size = r->size;
                op->truncated = r->truncated;
                op->body = malloc(r->size + 1);
                if (op->body) {
                        memcpy(op->body, r->body, r->size);
                        op->body[r->size] = 0;
                } else
                        op->error = strdup("out of memory");
        }
        /* Resume from the loop, not from inside the client's bookkeeping. */
        k = sd_event_add_defer(client_event, &op->defer, on_defer, op);
        if (k < 0) {
                log_error_errno(k, "Cannot resume the check waiting for %s: %m", op->url);
                return;   /* the run's own timeout ends it and cancels us */
        }
        (void) sd_event_source_set_description(op->defer, "lua-http-done");
}

/* After the yield: a string is an error (nil, err), a table the response. */
static int http_continue(lua_State *L, int status, lua_KContext ctx) {
        if (lua_type(L, -1) == LUA_TSTRING) {
                lua_pushnil(L);
                lua_insert(L, -2);
                return 2;
        }
        return 1;
}

static uint64_t field_duration(lua_State *L, int idx, const char *field, uint64_t def) {
        uint64_t usec = def;
        int t = lua_getfield(L, idx, field);

        if (t == LUA_TNUMBER) {
                lua_Number n = lua_tonumber(L, -1);
                if (!(n > 0 && n < 1e9))
                        luaL_error(L, "medic.http: %s out of range", field);
                usec = (uint64_t) (n * 1e6);
        } else if (t == LUA_TSTRING) {
                if (duration_parse(lua_tostring(L, -1), &usec) < 0 || usec == 0)
                        luaL_error(L, "medic.http: invalid duration for %s: '%s' (expected e.g. \"5s\")", field,
                                   lua_tostring(L, -1));
        } else if (t != LUA_TNIL)
                luaL_error(L, "medic.http: %s must be a duration", field);
        lua_pop(L, 1);
        return usec;
}

static const char *field_string(lua_State *L, int idx, const char *field) {
        int t = lua_getfield(L, idx, field);
        const char *s = NULL;

        if (t == LUA_TSTRING)
                s = lua_tostring(L, -1);   /* stays referenced by the argument table */
        else if (t != LUA_TNIL)
                luaL_error(L, "medic.http: %s must be a string", field);
        lua_pop(L, 1);
        return s;
}

static bool header_ok(const char *s) {
        return !strpbrk(s, "\r\n");
}

/* headers = { ["Name"] = "value", … } or { "Name: value", … } → "Name: value" lines. */
static void collect_headers(lua_State *L, int idx, StrList *out) {
        if (lua_getfield(L, idx, "headers") == LUA_TNIL) {
                lua_pop(L, 1);
                return;
        }
        if (!lua_istable(L, -1))
                luaL_error(L, "medic.http: headers must be a table");
        lua_pushnil(L);
        while (lua_next(L, -2)) {
                const char *v = lua_tostring(L, -1);
                if (!v || out->n >= MAX_HEADERS) {
                        strlist_clear(out);
                        luaL_error(L, "medic.http: headers must be at most %d strings", MAX_HEADERS);
                }
                if (lua_type(L, -2) == LUA_TSTRING) {
                        const char *k = lua_tostring(L, -2);
                        if (!*k || strpbrk(k, ": \t") || !header_ok(k) || !header_ok(v)) {
                                strlist_clear(out);
                                luaL_error(L, "medic.http: invalid header '%s'", k);
                        }
                        strlist_addf(out, "%s: %s", k, v);
                } else {
                        if (!strchr(v, ':') || !header_ok(v)) {
                                strlist_clear(out);
                                luaL_error(L, "medic.http: invalid header '%s' (expected \"Name: value\")", v);
                        }
                        strlist_add(out, v);
                }
                lua_pop(L, 1);
        }
        lua_pop(L, 1);
}

static int l_http(lua_State *L) {
        static const char *const fields[] = { "url", "method", "headers", "body", "timeout", "max_body",
                                              "ca_file", "insecure", NULL };
        LuaRun *run = lua_run_current(L);
        LuaFile *f = luafile_from_state(L);
        StrList headers = {};
        HttpTls tls = {};
        HttpOptions o = {};
        HttpOp *op;
        int r;

        luaL_checktype(L, 1, LUA_TTABLE);
        if (!run)
                return luaL_error(L, "medic.http can only be used while a check or a remedy runs");
        if (!lua_isyieldable(L))
                return luaL_error(L, "medic.http cannot be used here (inside a metamethod or iterator)");
        lua_pushnil(L);
        while (lua_next(L, 1)) {
                bool known = false;
                for (size_t i = 0; fields[i] && lua_type(L, -2) == LUA_TSTRING; i++)
                        known = known || strcmp(fields[i], lua_tostring(L, -2)) == 0;
                if (!known) {
                        lua_pop(L, 1);
                        return luaL_error(L, "medic.http: unknown field '%s'", luaL_tolstring(L, -1, NULL));
                }
                lua_pop(L, 1);
        }

        o.url = field_string(L, 1, "url");
        if (!o.url || !(strncmp(o.url, "http://", 7) == 0 || strncmp(o.url, "https://", 8) == 0))
                return luaL_error(L, "medic.http: url must start with http:// or https://");
        o.method = field_string(L, 1, "method");
        if (o.method && (!*o.method || strspn(o.method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(o.method)))
                return luaL_error(L, "medic.http: invalid method '%s'", o.method);
        o.body = field_string(L, 1, "body");
        tls.ca_file = field_string(L, 1, "ca_file");
        lua_getfield(L, 1, "insecure");
        tls.insecure = lua_toboolean(L, -1);
        lua_pop(L, 1);
        o.tls = &tls;

        lua_Integer max = DEFAULT_MAX_BODY;
        if (lua_getfield(L, 1, "max_body") != LUA_TNIL) {
                if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0 || lua_tointeger(L, -1) > MAX_MAX_BODY)
                        return luaL_error(L, "medic.http: max_body must be 1..%d bytes", MAX_MAX_BODY);
                max = lua_tointeger(L, -1);
        }
        lua_pop(L, 1);
        o.max_body = (size_t) max;

        /* What the caller asked for, but never past the run's own deadline. */
        uint64_t timeout = field_duration(L, 1, "timeout", DEFAULT_TIMEOUT), now = now_monotonic();
        uint64_t deadline = lua_run_deadline(run), left = deadline > now ? deadline - now : 0;
        left = left > 2 * TIMEOUT_MARGIN ? left - TIMEOUT_MARGIN : left / 2;
        if (timeout > left)
                timeout = left;
        if (timeout < USEC_PER_MSEC)
                timeout = USEC_PER_MSEC;
        o.timeout_usec = o.connect_timeout_usec = timeout;

        collect_headers(L, 1, &headers);
        o.headers = (const char *const *) headers.v;

        if (!client) {
                r = http_client_new(f->host->event, &client);
                if (r < 0) {
                        strlist_clear(&headers);
                        return luaL_error(L, "medic.http: cannot create the HTTP client: %s", strerror(-r));
                }
                client_event = f->host->event;
        } else if (client_event != f->host->event) {
                strlist_clear(&headers);
                return luaL_error(L, "medic.http: the HTTP client belongs to another event loop");
        }

        op = calloc(1, sizeof(*op));
        if (!op || !(op->url = strdup(o.url))) {
                free(op);
                strlist_clear(&headers);
                return luaL_error(L, "medic.http: out of memory");
        }
        op->run = run;
        op->started = now;
        op->timeout = timeout;
        r = http_request(client, &o, on_done, op, &op->req);
        strlist_clear(&headers);
        if (r < 0) {
                op->req = NULL;
                op_free(op);
                return luaL_error(L, "medic.http: %s", strerror(-r));
        }
        r = lua_run_wait_op(run, op, op_cancel);
        if (r < 0) {
                op_free(op);
                return luaL_error(L, "medic.http: %s", strerror(-r));
        }
        return lua_yieldk(L, 0, 0, http_continue);
}

/* http_check "name" { url = …, expect_status = 200, match = "regex", every = "1m",
 * timeout = "10s", on_error = "unknown", … }. The globals check/ok/problem/unknown are looked
 * up when it is called (they are installed after the binding modules). */
static const char http_check_lua[] =
        "local medic, error, type, pairs, ipairs, tostring, pcall, string, table =\n"
        "      medic, error, type, pairs, ipairs, tostring, pcall, string, table\n"
        "local G = _ENV\n"
        "local REQUEST = { url = true, method = true, headers = true, body = true, max_body = true,\n"
        "                  ca_file = true, insecure = true }\n"
        "local CHECK = { every = true, timeout = true, flapping = true, events = true, health = true }\n"
        "local OWN = { expect_status = true, match = true, on_error = true }\n"
        "function http_check(name)\n"
        "  if type(name) ~= 'string' then error('http_check: expected a check name', 2) end\n"
        "  return function(spec)\n"
        "    local function fail(msg) error(\"http_check '\" .. name .. \"': \" .. msg, 3) end\n"
        "    if type(spec) ~= 'table' then fail(\"expected { url = 'http://…', every = '1m' }\") end\n"
        "    for k in pairs(spec) do\n"
        "      if not (REQUEST[k] or CHECK[k] or OWN[k]) then fail(\"unknown field '\" .. tostring(k) .. \"'\") end\n"
        "    end\n"
        "    if type(spec.url) ~= 'string' then fail('url is required') end\n"
        "    local want = spec.expect_status or 200\n"
        "    if type(want) == 'number' then want = { want } end\n"
        "    if type(want) ~= 'table' or #want == 0 then fail('expect_status must be a number or a list of numbers') end\n"
        "    local on_error = spec.on_error or 'unknown'\n"
        "    if on_error ~= 'unknown' and on_error ~= 'problem' then fail(\"on_error must be 'unknown' or 'problem'\") end\n"
        "    if spec.match ~= nil and type(spec.match) ~= 'string' then fail('match must be a regular expression') end\n"
        "    if spec.match then\n"
        "      local good, e = pcall(medic.match, '', spec.match)\n"
        "      if not good then fail(tostring(e)) end\n"
        "    end\n"
        "    local req = {}\n"
        "    for k in pairs(REQUEST) do req[k] = spec[k] end\n"
        "    req.timeout = spec.timeout or '10s'\n"
        "    local decl = { every = spec.every or '1m', timeout = spec.timeout or '10s', flapping = spec.flapping,\n"
        "                   events = spec.events, health = spec.health }\n"
        "    decl.run = function()\n"
        "      local r, err = medic.http(req)\n"
        "      if not r then\n"
        "        if on_error == 'problem' then return G.problem(err, { url = spec.url, error = err }) end\n"
        "        return G.unknown(err)\n"
        "      end\n"
        "      local d = { url = spec.url, status = r.status, duration = r.duration }\n"
        "      local good = false\n"
        "      for _, s in ipairs(want) do if r.status == s then good = true end end\n"
        "      if not good then\n"
        "        local w = {}\n"
        "        for i, s in ipairs(want) do w[i] = tostring(s) end\n"
        "        d.body = r.body:sub(1, 512)\n"
        "        return G.problem(spec.url .. ': status ' .. r.status .. ', expected ' .. table.concat(w, ' or '), d)\n"
        "      end\n"
        "      if spec.match and not medic.match(r.body, spec.match) then\n"
        "        d.body = r.body:sub(1, 512)\n"
        "        return G.problem(spec.url .. \": body does not match '\" .. spec.match .. \"'\", d)\n"
        "      end\n"
        "      return G.ok(spec.url .. ': status ' .. r.status .. string.format(' in %.3fs', r.duration), d)\n"
        "    end\n"
        "    local good, err = pcall(G.check(name), decl)\n"
        "    if not good then error(tostring(err):gsub('^[^:]*:%d+: ', ''), 2) end\n"
        "  end\n"
        "end\n";

void lua_http_open(LuaFile *f);
void lua_http_open(LuaFile *f) {
        lua_State *L = f->L;

        lua_pushcfunction(L, l_http);
        lua_setfield(L, -2, "http");
        if (f->kind != LUA_FILE_CHECK)
                return;
        if (luaL_loadbufferx(L, http_check_lua, sizeof http_check_lua - 1, "=http_check", "t") != LUA_OK ||
            lua_pcall(L, 0, 0, 0) != LUA_OK) {
                log_error("BUG: http_check helper: %s", lua_tostring(L, -1));
                lua_pop(L, 1);
        }
}
