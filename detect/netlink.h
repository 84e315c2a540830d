/* SPDX-License-Identifier: MIT */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources.h"

/* How many state changes of one link are remembered (for flapping). */
#define LINK_CHANGES_MAX 128

/* One network link as the netlink source last saw it. */
typedef struct Link {
        int ifindex;
        char name[IF_NAMESIZE];
        char *kind;              /* "veth", "bridge", …; NULL for plain devices */
        unsigned arptype;        /* ARPHRD_* */
        bool up;                 /* administratively up (IFF_UP) */
        bool carrier;            /* IFLA_CARRIER */
        uint8_t operstate;       /* IF_OPER_* (RFC 2863) */
        uint64_t n_changes;      /* times it started or stopped working since medicd started */
        /* The last min(n_changes, LINK_CHANGES_MAX) changes, a ring: monotonic usec for
         * windows, realtime usec for display. */
        uint64_t change_mono[LINK_CHANGES_MAX];
        uint64_t change_real[LINK_CHANGES_MAX];
        unsigned generation;     /* dump generation last seen in, for removing vanished links */
} Link;

/* The source in detect/sources.c: subscribes to RTNLGRP_LINK, then dumps the links, and
 * feeds both through one handler; calls its host's trigger with "link" after every change. */
extern const MedicSource netlink_source;

/* For the Lua binding (detect/lua-links.c): whether the source runs and has finished its
 * first dump, and its links ordered by ifindex. */
bool netlink_ready(void);
size_t netlink_n_links(void);
const Link *netlink_link(size_t i);

/* Whether the link works: administratively up, with carrier, operstate up or unknown. A
 * change is a switch between working and not working: a bounce is two changes. */
bool link_working(const Link *l);

/* Changes of l within the last window_usec (monotonic), or all remembered ones for
 * USEC_INFINITY. The count is capped by LINK_CHANGES_MAX. */
unsigned link_changes_within(const Link *l, uint64_t now_mono, uint64_t window_usec);
/* Realtime usec of the i-th remembered change, oldest first (i < min(n_changes, MAX)). */
uint64_t link_change_time(const Link *l, unsigned i);
unsigned link_n_remembered(const Link *l);
