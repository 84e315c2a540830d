/* SPDX-License-Identifier: MIT */
/* `dkms status` output through the dkms check's own parser and evaluation (checks/dkms.lua:
 * dkms_parse_status(), dkms_evaluate()), in Lua 5.4 as tests/integration/dkms-parser.lua loads
 * them. A Lua error on any output is a bug: the check must answer, not fail. */
#define _GNU_SOURCE
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

static int l_vercmp(lua_State *L) {
        int r = strverscmp(luaL_checkstring(L, 1), luaL_checkstring(L, 2));
        lua_pushinteger(L, r < 0 ? -1 : r > 0);
        return 1;
}

static const char setup[] =
        "medic = { version_compare = ..., settings_dir = '/nonexistent' }\n"
        "check = function(name) return function(t) end end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static lua_State *L;

        if (!L) {
                const char *dir = getenv("MEDIC_FUZZ_SRCDIR") ?: FUZZ_SRCDIR;
                char path[4096];
                L = luaL_newstate();
                luaL_openlibs(L);
                if (luaL_loadstring(L, setup) != LUA_OK)
                        abort();
                lua_pushcfunction(L, l_vercmp);
                lua_call(L, 1, 0);
                snprintf(path, sizeof path, "%s/checks/dkms.lua", dir);
                if (luaL_dofile(L, path) != LUA_OK) {
                        fprintf(stderr, "%s\n", lua_tostring(L, -1));
                        abort();
                }
        }
        for (int strict = 0; strict <= 1; strict++) {
                lua_settop(L, 0);
                lua_getglobal(L, "dkms_evaluate");
                lua_getglobal(L, "dkms_parse_status");
                lua_pushlstring(L, (const char *) data, size);
                if (lua_pcall(L, 1, 1, 0) != LUA_OK)
                        goto bad;
                lua_pushstring(L, "6.1.0-13-amd64");
                lua_pushstring(L, "x86_64");
                lua_pushboolean(L, strict);
                if (lua_pcall(L, 4, 1, 0) != LUA_OK)
                        goto bad;
        }
        lua_settop(L, 0);
        return 0;
bad:
        fprintf(stderr, "dkms check: %s\n", lua_tostring(L, -1));
        abort();
}
