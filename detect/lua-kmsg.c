/* SPDX-License-Identifier: MIT */
/* medic.kmsg([since_seq [, patterns]]): the kernel log records the kmsg source
 * (detect/kmsg.c) holds. With patterns (POSIX EREs), only the records matching one of them
 * are returned, matched here with each expression compiled once: the ring can hold
 * thousands of records, and a check that matches them one medic.match() at a time would
 * compile every expression for every record. */
#include <lauxlib.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "kmsg.h"
#include "lua-api.h"
#include "lua-pattern.h"

#define PATTERNS_MAX 256

static void free_patterns(regex_t *rx, int n) {
        for (int i = 0; i < n; i++)
                regfree(&rx[i]);
        free(rx);
}

/* Compiles the array at idx; on error pushes the message and returns NULL with *ret_n < 0. */
static regex_t *compile_patterns(lua_State *L, int idx, int *ret_n) {
        int n = (int) lua_rawlen(L, idx);
        regex_t *rx;

        *ret_n = -1;
        if (n > PATTERNS_MAX) {
                lua_pushfstring(L, "medic.kmsg: at most %d patterns", PATTERNS_MAX);
                return NULL;
        }
        rx = calloc((size_t) n + 1, sizeof(regex_t));
        if (!rx) {
                lua_pushliteral(L, "medic.kmsg: out of memory");
                return NULL;
        }
        for (int i = 0; i < n; i++) {
                lua_rawgeti(L, idx, i + 1);
                const char *p = lua_tostring(L, -1);
                bool backref = p && regex_refuse_backrefs(p) < 0;
                int r = p && !backref ? regcomp(&rx[i], p, REG_EXTENDED | REG_NOSUB) : -1;
                if (r != 0) {
                        char buf[256] = "not a string";
                        if (backref)
                                snprintf(buf, sizeof buf, "back-references are not allowed (their matching can take exponential time)");
                        else if (r > 0)
                                regerror(r, &rx[i], buf, sizeof buf);
                        lua_pop(L, 1);
                        free_patterns(rx, i);
                        lua_pushfstring(L, "medic.kmsg: pattern %d: invalid regular expression: %s", i + 1, buf);
                        return NULL;
                }
                lua_pop(L, 1);
        }
        *ret_n = n;
        return rx;
}

static int l_kmsg(lua_State *L) {
        lua_Integer since = luaL_optinteger(L, 1, -1);
        const char *err;
        const Kmsg *k = kmsg_current(&err);
        uint64_t now_rt = now_realtime(), now_mono = now_monotonic(), newest = 0;
        regex_t *rx = NULL;
        int n_rx = 0, out = 0;
        bool any = false;
        size_t n, first = 0;

        if (!lua_isnoneornil(L, 2)) {
                luaL_checktype(L, 2, LUA_TTABLE);
                rx = compile_patterns(L, 2, &n_rx);
                if (!rx)
                        return lua_error(L);
        }
        if (!k) {
                free_patterns(rx, n_rx);
                lua_pushnil(L);
                lua_pushstring(L, err);
                return 2;
        }
        n = kmsg_count(k);
        if (since >= 0)  /* records are in order of arrival; seq grows with it */
                while (first < n && kmsg_get(k, first)->seq <= (uint64_t) since)
                        first++;
        lua_newtable(L);
        for (size_t i = first; i < n; i++) {
                const KmsgRecord *r = kmsg_get(k, i);
                /* The kernel stamps records with CLOCK_MONOTONIC; turn that into wall time. */
                uint64_t t = r->usec <= now_mono ? now_rt - (now_mono - r->usec) : r->received;
                int match = 0;

                if (since >= 0 && r->seq <= (uint64_t) since)
                        continue;
                /* Thousands of records times PATTERNS_MAX expressions, in C: the hook does not
                 * run here, so the run's deadline is checked on the way. */
                if ((i - first) % 64 == 63 && lua_budget_exceeded(L)) {
                        free_patterns(rx, n_rx);
                        return luaL_error(L, "medic.kmsg: the run's time is up after %d of %d records",
                                          (int) (i - first), (int) (n - first));
                }
                if (!any || r->seq > newest)
                        newest = r->seq;
                any = true;
                if (rx) {
                        while (match < n_rx && regexec(&rx[match], r->message, 0, NULL, 0) != 0)
                                match++;
                        if (match == n_rx)
                                continue;
                }
                lua_createtable(L, 0, 7);
                lua_pushinteger(L, (lua_Integer) r->seq);
                lua_setfield(L, -2, "seq");
                lua_pushinteger(L, r->priority);
                lua_setfield(L, -2, "priority");
                lua_pushinteger(L, r->facility);
                lua_setfield(L, -2, "facility");
                lua_pushinteger(L, (lua_Integer) r->usec);
                lua_setfield(L, -2, "usec");
                lua_pushnumber(L, (lua_Number) t / 1e6);
                lua_setfield(L, -2, "time");
                lua_pushstring(L, r->message);
                lua_setfield(L, -2, "message");
                if (rx) {
                        lua_pushinteger(L, match + 1);
                        lua_setfield(L, -2, "pattern");
                }
                lua_rawseti(L, -2, ++out);
        }
        free_patterns(rx, n_rx);
        if (!any)
                return 1;
        lua_pushinteger(L, (lua_Integer) newest);
        return 2;
}

static int l_kmsg_info(lua_State *L) {
        const char *err;
        const Kmsg *k = kmsg_current(&err);

        if (!k) {
                lua_pushnil(L);
                lua_pushstring(L, err);
                return 2;
        }
        lua_createtable(L, 0, 4);
        lua_pushstring(L, kmsg_path(k));
        lua_setfield(L, -2, "path");
        lua_pushinteger(L, (lua_Integer) kmsg_count(k));
        lua_setfield(L, -2, "held");
        lua_pushinteger(L, KMSG_RING_SIZE);
        lua_setfield(L, -2, "capacity");
        lua_pushinteger(L, (lua_Integer) kmsg_dropped(k));
        lua_setfield(L, -2, "dropped");
        if (kmsg_count(k) > 0) {
                lua_pushinteger(L, (lua_Integer) kmsg_get(k, kmsg_count(k) - 1)->seq);
                lua_setfield(L, -2, "last_seq");
        }
        return 1;
}

void lua_kmsg_open(LuaFile *f) {
        static const luaL_Reg funcs[] = {
                { "kmsg", l_kmsg },
                { "kmsg_info", l_kmsg_info },
                { NULL, NULL },
        };
        luaL_setfuncs(f->L, funcs, 0);
}
