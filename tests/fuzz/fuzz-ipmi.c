/* SPDX-License-Identifier: MIT */
/* The IPMI helper's JSON (detect/medic-ipmi.c prints it, lua/lua-ipmi.c reads it): the fields
 * medic.ipmi.sensors() and medic.ipmi.sel() take from it, pushed to Lua by lua_push_json() as
 * the binding does. */
#include <lauxlib.h>
#include <json-c/json.h>
#include <lualib.h>

#include "fuzz.h"
#include "lua-api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static lua_State *L;
        struct json_object *o, *v;
        char *s = fuzz_string(data, size);

        if (!L && !(L = luaL_newstate()))
                abort();
        o = json_tokener_parse(s);
        if (o && json_object_is_type(o, json_type_object) && !json_object_object_get_ex(o, "error", &v)) {
                json_object_object_get_ex(o, "sensors", &v);
                lua_push_json(L, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
                lua_pop(L, 1);
                if (json_object_object_get_ex(o, "records", &v))
                        (void) json_object_get_int(v);
                if (json_object_object_get_ex(o, "events", &v))
                        lua_push_json(L, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
                else
                        lua_push_json(L, "[]");
                lua_pop(L, 1);
        }
        json_object_put(o);
        /* Whatever the helper printed, as a JSON text. */
        lua_push_json(L, s);
        lua_settop(L, 0);
        free(s);
        return 0;
}
