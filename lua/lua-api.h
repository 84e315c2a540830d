/* SPDX-License-Identifier: MIT */
#pragma once

#include "lua-sandbox.h"

/* Installs the global table `medic` (helpers for checks and rules) into f's state. */
void lua_api_open(LuaFile *f);

/* Pushes a JSON text as a Lua value (tables for objects/arrays), or nil when json is NULL. */
void lua_push_json(lua_State *L, const char *json);
/* Serialises the Lua value at idx to JSON text (tables with only 1..n keys become arrays).
 * Returns a malloc'ed string, or NULL with *ret_error set (functions, cycles, depth > 32). */
char *lua_to_json(lua_State *L, int idx, char **ret_error);
/* The same with at most max bytes of JSON text: 0 with *ret_json, -E2BIG when the value is
 * larger (found early: a huge table is not converted whole), -EINVAL with *ret_error (a
 * function, a cycle, the run's time up), -ENOMEM. */
int lua_to_json_max(lua_State *L, int idx, size_t max, char **ret_json, char **ret_error);

/* Bindings of optional modules (one file each, daemon/lua-*.c): each adds its functions to
 * the `medic` table. Listed in lua/lua-modules.c. */
void lua_modules_open(LuaFile *f);
