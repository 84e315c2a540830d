/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "grant.h"
#include "util.h"

static bool unavailable(const GroupMember *m) {
        return m->holder || !m->alive || !m->healthy;
}

void grant_counts(const GroupView *v, GroupCounts *ret) {
        GroupCounts c = {};

        for (size_t i = 0; i < v->n; i++) {
                const GroupMember *m = &v->members[i];
                if (!m->registered && !m->holder)
                        continue;
                c.members++;
                c.unavailable += unavailable(m);
                c.healthy += !unavailable(m);
                c.holders += m->holder;
                c.waiting += m->queued && !m->holder;
        }
        c.allowed = budget_max_unavailable(&v->max_unavailable, c.members);
        c.min_healthy = budget_min_healthy(&v->min_healthy, c.members);
        *ret = c;
}

bool grant_within_budget(const GroupView *v) {
        GroupCounts c;

        grant_counts(v, &c);
        return c.unavailable <= c.allowed && c.healthy >= c.min_healthy;
}

static int cmp_queue(const void *a, const void *b) {
        const GroupMember *x = *(GroupMember *const *) a, *y = *(GroupMember *const *) b;
        if (x->queue_rev != y->queue_rev)
                return x->queue_rev < y->queue_rev ? -1 : 1;
        return strcmp(x->name, y->name);
}

GrantVerdict grant_decide(const GroupView *v, const char *node, unsigned *ret_position, char **ret_reason) {
        GroupCounts c;
        GroupMember **queue;
        size_t nq = 0;
        unsigned position = 0;
        GrantVerdict verdict = GRANT_WAIT;
        char *reason = NULL;

        if (ret_position)
                *ret_position = 0;
        for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->members[i].name, node) == 0 && v->members[i].holder) {
                        if (ret_reason)
                                *ret_reason = strdup("already holds permission");
                        return GRANT_HELD;
                }
        if (v->stopped) {
                if (ret_reason)
                        *ret_reason = strdup("a stop switch is set");
                return GRANT_STOPPED;
        }

        grant_counts(v, &c);
        queue = calloc(v->n ? v->n : 1, sizeof(*queue));
        if (!queue)
                return GRANT_WAIT;
        for (size_t i = 0; i < v->n; i++)
                if (v->members[i].queued && !v->members[i].holder)
                        queue[nq++] = &v->members[i];
        qsort(queue, nq, sizeof(*queue), cmp_queue);

        /* Grant the waiters one after the other, in order, as long as the budget allows. */
        unsigned unavail = c.unavailable, healthy = c.healthy;
        if (healthy < c.min_healthy)
                reason = strprintf("the group is below its minimum of healthy members (%u of %u healthy, "
                                   "min_healthy %u): nothing is granted", healthy, c.members, c.min_healthy);
        for (size_t i = 0; i < nq && !reason; i++) {
                GroupMember *w = queue[i];
                bool adds = !unavailable(w);   /* an unhealthy or dead waiter is already counted */
                unsigned u2 = unavail + adds, h2 = healthy - adds;

                if (u2 > c.allowed) {
                        reason = strprintf("budget used: %u of %u unavailable; %s is waiting at place %zu",
                                           unavail, c.allowed, w->name, i + 1);
                        break;
                }
                if (h2 < c.min_healthy) {
                        reason = strprintf("granting %s would leave %u healthy, below min_healthy %u",
                                           w->name, h2, c.min_healthy);
                        break;
                }
                if (strcmp(w->name, node) == 0) {
                        verdict = GRANT_YES;
                        position = (unsigned) i + 1;
                        break;
                }
                unavail = u2;
                healthy = h2;
        }
        for (size_t i = 0; i < nq; i++)
                if (strcmp(queue[i]->name, node) == 0)
                        position = (unsigned) i + 1;
        free(queue);
        if (verdict == GRANT_YES && !reason)
                reason = strprintf("granted: %u of %u unavailable before this grant", c.unavailable, c.allowed);
        if (!reason)
                reason = strdup(position ? "waiting for the waiters ahead" : "not queued");
        if (ret_position)
                *ret_position = position;
        if (ret_reason)
                *ret_reason = reason;
        else
                free(reason);
        return verdict;
}

bool breaker_trips(const BreakerSpec *spec, const BreakerEvent *ev, size_t n, const char *group, int64_t since,
                   int64_t now, const char *node, unsigned members, StrList *ret_nodes, unsigned *ret_allowed) {
        StrList nodes = {};
        int64_t from = now - (int64_t) (spec->window_usec / USEC_PER_SEC);
        unsigned allowed = breaker_allowed(spec, members);
        bool trips;

        if (ret_allowed)
                *ret_allowed = allowed;
        if (spec->window_usec == 0)
                return false;
        strlist_add(&nodes, node);
        for (size_t i = 0; i < n; i++) {
                if (group && !streq_ptr(ev[i].group, group))
                        continue;
                if (ev[i].time <= from || (since > 0 && ev[i].rev <= since) || !ev[i].node)
                        continue;
                if (!strlist_contains(&nodes, ev[i].node))
                        strlist_add(&nodes, ev[i].node);
        }
        trips = nodes.n > allowed;
        if (ret_nodes)
                *ret_nodes = nodes;
        else
                strlist_clear(&nodes);
        return trips;
}
