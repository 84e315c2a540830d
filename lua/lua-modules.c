/* SPDX-License-Identifier: MIT */
/* The list of binding modules opened into every Lua file's `medic` table. A module is one
 * file, daemon/lua-NAME.c, with a function that adds its entries to the table on top of
 * the stack of f->L. */
#include <lua.h>

#include "lua-api.h"

typedef void (*lua_module_open_t)(LuaFile *f);

void lua_ipmi_open(LuaFile *f);          /* lua-ipmi.c: medic.ipmi */
void lua_kmsg_open(LuaFile *f);          /* lua-kmsg.c: medic.kmsg, medic.kmsg_info */
void lua_logins_open(LuaFile *f);        /* lua-logins.c: medic.logins */
void lua_procmaps_open(LuaFile *f);      /* lua-procmaps.c: medic.deleted_libraries */
void lua_http_open(LuaFile *f);          /* lua-http.c: medic.http, http_check */
void lua_systemd_open(LuaFile *f);       /* lua-systemd.c: medic.systemd */
void lua_links_open(LuaFile *f);         /* lua-links.c: medic.links */

static const lua_module_open_t modules[] = {
        lua_kmsg_open,
        lua_logins_open,
        lua_ipmi_open,
        lua_procmaps_open,
        lua_http_open,
        lua_systemd_open,
        lua_links_open,
};

void lua_modules_open(LuaFile *f) {
        lua_getglobal(f->L, "medic");
        for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
                modules[i](f);
        lua_pop(f->L, 1);
}
