/* SPDX-License-Identifier: MIT */
/* The Lua check/rule loader (lua/lua-decl.c, luaset_load_paths() as `medicd --lint` calls it)
 * on one hostile file: it loads or is refused with file:line errors, within its budgets. */
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "lua-decl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char path[64];
        static Config *c;
        static LuaHost host;
        char *paths[1] = { path };
        StrList errors = {};
        LuaSet *set = NULL;
        FILE *f;

        if (!c) {
                log_set_max_level(LOG_EMERG);
                if (config_new_default(&c) < 0)
                        abort();
                c->lua_memory_limit = 16 * 1024 * 1024;
                host = (LuaHost) { .config = c, .dry_run = true };
                snprintf(path, sizeof path, "/tmp/medic-fuzz-lua-%d.lua", (int) getpid());
        }
        f = fopen(path, "we");
        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
                abort();
        if (luaset_load_paths(c, &host, paths, 1, &set, &errors) >= 0)
                luaset_free(set);
        else if (errors.n == 0)
                abort(); /* a refused file says why */
        strlist_clear(&errors);
        return 0;
}
