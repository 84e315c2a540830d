/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "budget.h"
#include "util.h"

/* Who may be disrupted next in a group: the pure part of the cluster coordinator, so that
 * it can be tested without a cluster.
 *
 * Unavailable = holding permission, or registered but not alive (lease gone), or alive but
 * unhealthy. Waiters are served strictly in request order (queue_rev): the first waiter that
 * cannot be granted stops everyone behind it, so nobody starves. A grant must keep
 * |unavailable| <= max_unavailable and the healthy count >= min_healthy; a group already
 * below min_healthy grants nothing. */

typedef struct GroupMember {
        const char *name;
        bool registered;    /* counted as a member of the group */
        bool alive;         /* its lease is live */
        bool healthy;       /* alive and reporting every health condition ok */
        bool holder;        /* holds permission */
        bool queued;        /* waits for permission */
        int64_t queue_rev;  /* when it started waiting (etcd create revision) */
} GroupMember;

typedef struct GroupView {
        GroupMember *members;
        size_t n;
        BudgetValue max_unavailable, min_healthy;
        bool stopped;       /* a cluster-wide or group stop switch is set */
} GroupView;

typedef struct GroupCounts {
        unsigned members, unavailable, healthy;
        unsigned allowed;       /* max_unavailable resolved for this many members */
        unsigned min_healthy;   /* min_healthy resolved */
        unsigned holders, waiting;
} GroupCounts;

typedef enum GrantVerdict {
        GRANT_YES,      /* grant it now */
        GRANT_HELD,     /* it holds permission already: the same grant again */
        GRANT_WAIT,     /* not now: keep its place in the queue */
        GRANT_STOPPED,  /* a stop switch is set: refuse */
} GrantVerdict;

void grant_counts(const GroupView *v, GroupCounts *ret);

/* Whether a group as it is after a grant (the new holder included) is within its budget:
 * unavailable <= allowed and healthy >= min_healthy. A grant decided on an older view is
 * checked with this against the group as it was at the grant's own revision. */
bool grant_within_budget(const GroupView *v);

/* Decides for node. ret_position (may be NULL) gets its 1-based place among the waiters
 * (0 when not queued); ret_reason (may be NULL) a malloc'ed one-line reason. */
GrantVerdict grant_decide(const GroupView *v, const char *node, unsigned *ret_position, char **ret_reason);

/* The storm breaker (the etcd backend's breaker_group / breaker_cluster): one entry of the
 * coordinator's history, a node that was granted a disruptive remedy or became unhealthy. */
typedef struct BreakerEvent {
        const char *node, *group;
        int64_t time;       /* epoch s: whether it is inside the window */
        int64_t rev;        /* the revision it was written at: whether it came after the last reset */
} BreakerEvent;

/* Whether granting node now trips the breaker spec: the distinct nodes (node included) with an
 * entry inside the window ending at now (epoch s), written after since (the revision of the
 * last reset; 0: none: whole seconds cannot order a reset and a grant of the same second), and
 * of group (NULL: any), are more than the spec allows for a group of members.
 * Entries in the future (a clock behind) count as inside. ret_nodes (may be NULL) gets the
 * nodes counted; ret_allowed (may be NULL) the limit. A spec without a window never trips. */
bool breaker_trips(const BreakerSpec *spec, const BreakerEvent *ev, size_t n, const char *group, int64_t since,
                   int64_t now, const char *node, unsigned members, StrList *ret_nodes, unsigned *ret_allowed);
