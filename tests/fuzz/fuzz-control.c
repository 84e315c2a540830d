/* SPDX-License-Identifier: MIT */
/* The control-request handler: a request line through control_request_parse() (io/control.c)
 * and commands_dispatch() (daemon/commands.c) on the daemon's real manager as `medicd --test`
 * builds it (manager_start_test(): no check runs, no socket, the scripted coordinator), with
 * the shipped reboot check and rule loaded. The first byte picks the peer: root or not.
 * "reload" is answered without running (it would read this machine's medic.conf). */
#include <stdio.h>
#include <syslog.h>

#include "commands.h"
#include "coordinator.h"
#include "fuzz.h"
#include "log.h"
#include "manager.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static Manager *m;
        struct json_object *req, *reply, *cmd;
        char *line;

        if (!m) {
                static char dir[] = "/tmp/medic-fuzz-control.XXXXXX";
                const char *src = getenv("MEDIC_FUZZ_SRCDIR") ?: FUZZ_SRCDIR;
                char *paths[2] = { strprintf("%s/checks/reboot-required.lua", src), strprintf("%s/rules/50-reboot.lua", src) };
                StrList errors = {};
                sd_event *e;
                Config *c;

                log_set_max_level(LOG_EMERG);
                if (!mkdtemp(dir) || config_new_default(&c) < 0 || sd_event_new(&e) < 0)
                        abort();
                free(c->state_dir);
                c->state_dir = strdup(dir);
                if (manager_new(e, NULL, c, true, &coord_script_ops, &m) < 0 ||
                    manager_start_test(m, paths, 2, &errors) < 0) {
                        for (size_t i = 0; i < errors.n; i++)
                                fprintf(stderr, "%s\n", errors.v[i]);
                        abort();
                }
                strlist_clear(&errors);
                free(paths[0]);
                free(paths[1]);
        }
        if (size < 1)
                return 0;
        line = fuzz_string(data + 1, size - 1);
        req = control_request_parse(line);
        if (req && !(json_object_object_get_ex(req, "command", &cmd) &&
                     streq_ptr(json_object_get_string(cmd), "reload"))) {
                reply = commands_dispatch(NULL, req, data[0] & 1 ? 1000 : 0, m);
                if (reply && !json_object_object_get_ex(reply, "ok", NULL))
                        abort(); /* every answer says ok or not */
                json_object_put(reply);
        }
        json_object_put(req);
        free(line);
        return 0;
}
