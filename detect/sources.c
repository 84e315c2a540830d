/* SPDX-License-Identifier: MIT */
/* Daemon-side event sources, started with the manager and stopped with it. A source keeps
 * its own view (links, kernel messages, …) for its Lua binding and calls manager_trigger()
 * when something changes, so that checks listing the event run at once. */
#include "log.h"
#include "kmsg.h"
#include "manager.h"
#include "netlink.h"

static const MedicSource *const sources[] = {
        &netlink_source,
        &kmsg_source,
};

#define N_SOURCES (sizeof(sources) / sizeof(sources[0]))

int sources_start(Manager *m) {
        m->source_state = calloc(N_SOURCES, sizeof(void *));
        if (!m->source_state)
                return -ENOMEM;
        for (size_t i = 0; i < N_SOURCES; i++) {
                int r = sources[i]->start(m, &m->source_state[i]);
                if (r < 0)
                        log_warning_errno(r, "Event source %s is not available, ignoring: %m", sources[i]->name);
        }
        return 0;
}

void sources_stop(Manager *m) {
        if (!m->source_state)
                return;
        for (size_t i = 0; i < N_SOURCES; i++)
                if (m->source_state[i])
                        sources[i]->stop(m->source_state[i]);
        free(m->source_state);
        m->source_state = NULL;
}
