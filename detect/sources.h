/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"

/* Daemon-side event sources (the kernel log, network links): each keeps its own view for its
 * Lua binding and calls the trigger it was given when something changes, so that the checks
 * listing that event run at once. */
typedef struct SourceHost {
        sd_event *event;
        const Config *config;   /* kept current by the root */
        void (*trigger)(void *userdata, const char *event);
        void *userdata;
} SourceHost;

typedef struct MedicSource {
        const char *name;
        int (*start)(const SourceHost *h, void **ret_state);
        void (*stop)(void *state);
} MedicSource;

/* Starts every source (one that is not available is logged and left out); *ret_state holds
 * their states for sources_stop(). h must outlive them. */
int sources_start(const SourceHost *h, void ***ret_state);
void sources_stop(void **state);
