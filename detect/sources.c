/* SPDX-License-Identifier: MIT */
/* Daemon-side event sources (sources.h), started and stopped by the daemon's root. */
#include "log.h"
#include "kmsg.h"
#include "sources.h"
#include "netlink.h"

static const MedicSource *const sources[] = {
        &netlink_source,
        &kmsg_source,
};

#define N_SOURCES (sizeof(sources) / sizeof(sources[0]))

int sources_start(const SourceHost *h, void ***ret_state) {
        void **state = calloc(N_SOURCES, sizeof(void *));

        if (!state)
                return -ENOMEM;
        for (size_t i = 0; i < N_SOURCES; i++) {
                int r = sources[i]->start(h, &state[i]);
                if (r < 0)
                        log_warning_errno(r, "Event source %s is not available, ignoring: %m", sources[i]->name);
        }
        *ret_state = state;
        return 0;
}

void sources_stop(void **state) {
        if (!state)
                return;
        for (size_t i = 0; i < N_SOURCES; i++)
                if (state[i])
                        sources[i]->stop(state[i]);
        free(state);
}
