/* SPDX-License-Identifier: MIT */
/* The kill points of the hooked test build (see killpoint.h). Never linked into medicd. */
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "killpoint.h"

static struct {
        bool init;
        unsigned long at, nth, seq, matched;
        const char *point, *log, *list;
} kp;

static void append(const char *path, const char *line) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0)
                return;
        (void) !write(fd, line, strlen(line));
        close(fd);
}

static unsigned long env_ul(const char *var, unsigned long dflt) {
        const char *v = getenv(var);
        char *end;
        unsigned long n;

        if (!v || !*v)
                return dflt;
        n = strtoul(v, &end, 10);
        return *end ? dflt : n;
}

unsigned long killpoint_env_ms(const char *var) {
        return env_ul(var, 0);
}

void killpoint(const char *name, const char *detail) {
        char full[256], line[320];

        if (!kp.init) {
                kp.init = true;
                kp.at = env_ul("MEDIC_KILL_AT", 0);
                kp.nth = env_ul("MEDIC_KILL_NTH", 1);
                kp.point = getenv("MEDIC_KILL_POINT");
                kp.log = getenv("MEDIC_KILL_LOG");
                kp.list = getenv("MEDIC_KILL_LIST");
        }
        if (detail) {
                /* A path names its last two parts (pre-reboot.d/10-drain, state/state.json). */
                const char *p = detail + strlen(detail), *d = detail;
                int slashes = 0;
                while (p > detail && slashes < 2)
                        if (*--p == '/' && ++slashes == 2)
                                d = p + 1;
                snprintf(full, sizeof full, "%s:%s", name, d);
        } else
                snprintf(full, sizeof full, "%s", name);
        kp.seq++;
        if (kp.list) {
                snprintf(line, sizeof line, "%lu %s\n", kp.seq, full);
                append(kp.list, line);
                return;
        }
        bool die = kp.at && kp.seq == kp.at;
        if (kp.point && strcmp(kp.point, full) == 0 && ++kp.matched == kp.nth)
                die = true;
        if (!die)
                return;
        snprintf(line, sizeof line, "%s %lu %lu\n", full, kp.matched, kp.seq);
        if (kp.log)
                append(kp.log, line);
        raise(SIGKILL);
}
