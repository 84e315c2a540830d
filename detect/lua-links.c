/* SPDX-License-Identifier: MIT */
/* medic.links([patterns [, window]]): the network links the netlink source keeps
 * (detect/netlink.c). Reads the daemon's table; never touches the kernel. */
#include <fnmatch.h>
#include <lauxlib.h>
#include <netlink/route/link.h>
#include <netlink/utils.h>
#include <string.h>

#include "duration.h"
#include "lua-api.h"
#include "netlink.h"

void lua_links_open(LuaFile *f);

/* Whether name matches the glob at idx (a string) or any glob of the array at idx;
 * nil matches everything. */
static bool links_match(lua_State *L, int idx, const char *name) {
        if (lua_isnoneornil(L, idx))
                return true;
        if (lua_type(L, idx) == LUA_TSTRING)
                return fnmatch(lua_tostring(L, idx), name, 0) == 0;
        for (lua_Integer i = 1;; i++) {
                int t = lua_rawgeti(L, idx, i);
                bool m = t == LUA_TSTRING && fnmatch(lua_tostring(L, -1), name, 0) == 0;
                lua_pop(L, 1);
                if (t == LUA_TNIL)
                        return false;
                if (m)
                        return true;
        }
}

static uint64_t opt_window(lua_State *L, int idx) {
        uint64_t usec;

        if (lua_isnoneornil(L, idx))
                return USEC_INFINITY;
        if (lua_type(L, idx) == LUA_TNUMBER) {
                lua_Number n = lua_tonumber(L, idx);
                luaL_argcheck(L, n >= 0 && n < 1e12, idx, "window out of range");
                return (uint64_t) (n * 1e6);
        }
        const char *s = luaL_checkstring(L, idx);
        if (duration_parse(s, &usec) < 0)
                luaL_error(L, "medic.links: invalid window '%s' (expected e.g. \"10m\")", s);
        return usec;
}

static int l_links(lua_State *L) {
        lua_Integer n = 0;
        char buf[64];

        lua_settop(L, 2); /* the patterns stay at 1 below the result */
        int t = lua_type(L, 1);
        uint64_t window = opt_window(L, 2), now = now_monotonic();

        luaL_argexpected(L, t == LUA_TNIL || t == LUA_TSTRING || t == LUA_TTABLE, 1,
                         "nil, a glob or an array of globs");
        if (t == LUA_TTABLE)
                for (lua_Integer i = 1;; i++) {
                        int et = lua_rawgeti(L, 1, i);
                        lua_pop(L, 1);
                        if (et == LUA_TNIL)
                                break;
                        if (et != LUA_TSTRING)
                                return luaL_error(L, "medic.links: patterns[%d] is a %s, expected a glob",
                                                  (int) i, lua_typename(L, et));
                }
        if (!netlink_ready()) {
                lua_pushnil(L);
                lua_pushstring(L, "network links are not known (yet): the netlink source is not running");
                return 2;
        }

        lua_newtable(L);
        for (size_t i = 0; i < netlink_n_links(); i++) {
                const Link *l = netlink_link(i);
                unsigned kept = link_n_remembered(l);

                if (!links_match(L, 1, l->name))
                        continue;
                lua_createtable(L, 0, 12);
                lua_pushstring(L, l->name);
                lua_setfield(L, -2, "name");
                lua_pushinteger(L, l->ifindex);
                lua_setfield(L, -2, "index");
                lua_pushboolean(L, l->up);
                lua_setfield(L, -2, "up");
                lua_pushboolean(L, l->carrier);
                lua_setfield(L, -2, "carrier");
                lua_pushstring(L, rtnl_link_operstate2str(l->operstate, buf, sizeof buf));
                lua_setfield(L, -2, "operstate");
                if (l->kind) {
                        lua_pushstring(L, l->kind);
                        lua_setfield(L, -2, "kind");
                }
                lua_pushstring(L, nl_llproto2str((int) l->arptype, buf, sizeof buf));
                lua_setfield(L, -2, "type");
                lua_pushinteger(L, (lua_Integer) link_changes_within(l, now, window));
                lua_setfield(L, -2, "changes");
                lua_pushinteger(L, (lua_Integer) l->n_changes);
                lua_setfield(L, -2, "changes_total");
                lua_createtable(L, (int) kept, 0);
                for (unsigned j = 0; j < kept; j++) {
                        lua_pushnumber(L, (lua_Number) link_change_time(l, j) / 1e6);
                        lua_rawseti(L, -2, (lua_Integer) j + 1);
                }
                lua_setfield(L, -2, "change_times");
                if (kept > 0) {
                        lua_pushnumber(L, (lua_Number) link_change_time(l, kept - 1) / 1e6);
                        lua_setfield(L, -2, "last_change");
                }
                lua_rawseti(L, -2, ++n);
        }
        return 1;
}

void lua_links_open(LuaFile *f) {
        lua_pushcfunction(f->L, l_links);
        lua_setfield(f->L, -2, "links");
}
