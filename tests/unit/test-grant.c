/* SPDX-License-Identifier: MIT */
/* grant.c: who may be disrupted next in a group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "grant.h"

#define M(n, ...) ((GroupMember) { .name = n, .registered = true, .alive = true, .healthy = true, __VA_ARGS__ })

static GrantVerdict decide(GroupMember *m, size_t n, BudgetValue maxu, BudgetValue minh, const char *node,
                           unsigned *pos) {
        GroupView v = { .members = m, .n = n, .max_unavailable = maxu, .min_healthy = minh };
        char *why = NULL;
        GrantVerdict r = grant_decide(&v, node, pos, &why);
        assert_non_null(why);
        free(why);
        return r;
}

static const BudgetValue ONE = { 1, false }, ZERO = { 0, false };

static void test_fifo(void **state) {
        GroupMember m[] = { M("a", .queued = true, .queue_rev = 30), M("b", .queued = true, .queue_rev = 10),
                            M("c", .queued = true, .queue_rev = 20) };
        unsigned pos;

        assert_int_equal(decide(m, 3, ONE, ZERO, "b", &pos), GRANT_YES);
        assert_int_equal(pos, 1);
        assert_int_equal(decide(m, 3, ONE, ZERO, "c", &pos), GRANT_WAIT);
        assert_int_equal(pos, 2);
        assert_int_equal(decide(m, 3, ONE, ZERO, "a", &pos), GRANT_WAIT);
        assert_int_equal(pos, 3);
        /* With two slots the first two in line may go. */
        BudgetValue two = { 2, false };
        assert_int_equal(decide(m, 3, two, ZERO, "c", &pos), GRANT_YES);
        assert_int_equal(decide(m, 3, two, ZERO, "a", &pos), GRANT_WAIT);
}

static void test_held_is_idempotent(void **state) {
        GroupMember m[] = { M("a", .holder = true), M("b", .queued = true, .queue_rev = 1) };

        assert_int_equal(decide(m, 2, ONE, ZERO, "a", NULL), GRANT_HELD);
        assert_int_equal(decide(m, 2, ONE, ZERO, "b", NULL), GRANT_WAIT);
}

static void test_unavailable_counts(void **state) {
        /* A sick member or a dead one uses the budget of 1. */
        GroupMember sick[] = { M("a", .healthy = false), M("b", .queued = true, .queue_rev = 1) };
        GroupMember dead[] = { M("a", .alive = false, .healthy = false), M("b", .queued = true, .queue_rev = 1) };
        assert_int_equal(decide(sick, 2, ONE, ZERO, "b", NULL), GRANT_WAIT);
        assert_int_equal(decide(dead, 2, ONE, ZERO, "b", NULL), GRANT_WAIT);
        /* A sick node asking for itself adds nothing: it is already counted. */
        GroupMember self[] = { M("a"), M("b", .healthy = false, .queued = true, .queue_rev = 1) };
        assert_int_equal(decide(self, 2, ONE, ZERO, "b", NULL), GRANT_YES);
}

/* The rule medic.conf(5) states: a waiter that is already unavailable is granted when the
 * group, counting it, is within max_unavailable (it fills the budget itself) and not below
 * min_healthy, in its turn; not when the group is over the budget already. */
static void test_sick_waiter(void **state) {
        BudgetValue two = { 2, false };
        /* b is sick and fills the budget of 1 itself: granted. */
        GroupMember fills[] = { M("a"), M("b", .healthy = false, .queued = true, .queue_rev = 1), M("c") };
        assert_int_equal(decide(fills, 3, ONE, ZERO, "b", NULL), GRANT_YES);
        /* ... also with a holder and a budget of 2: 2 of 2 unavailable, counting b. */
        GroupMember holder[] = { M("a", .holder = true), M("b", .healthy = false, .queued = true, .queue_rev = 1),
                                 M("c") };
        assert_int_equal(decide(holder, 3, two, ZERO, "b", NULL), GRANT_YES);
        /* Over the budget already (a holds, b is sick: 2 of 1): not even b. */
        assert_int_equal(decide(holder, 3, ONE, ZERO, "b", NULL), GRANT_WAIT);
        /* In its turn: a healthy waiter ahead that does not fit stops it. */
        GroupMember behind[] = { M("a", .holder = true), M("c", .queued = true, .queue_rev = 1),
                                 M("b", .healthy = false, .queued = true, .queue_rev = 2), M("d"), M("e") };
        assert_int_equal(decide(behind, 5, two, ZERO, "b", NULL), GRANT_WAIT);
        /* A sick waiter ahead takes nothing from the budget: the healthy one behind it still fits. */
        GroupMember ahead[] = { M("a", .healthy = false, .queued = true, .queue_rev = 1),
                                M("c", .queued = true, .queue_rev = 2), M("d"), M("e") };
        assert_int_equal(decide(ahead, 4, two, ZERO, "c", NULL), GRANT_YES);
}

static void test_percentages(void **state) {
        GroupMember m[10];
        BudgetValue ten = { 10, true }, fifty = { 50, true };
        char names[10][4];

        for (int i = 0; i < 10; i++) {
                snprintf(names[i], sizeof names[i], "n%d", i);
                m[i] = M(names[i], .queued = true, .queue_rev = i + 1);
        }
        /* 10% of 10 = 1 */
        assert_int_equal(decide(m, 10, ten, ZERO, "n0", NULL), GRANT_YES);
        assert_int_equal(decide(m, 10, ten, ZERO, "n1", NULL), GRANT_WAIT);
        /* 10% of 3 rounds to 1, never 0 */
        assert_int_equal(decide(m, 3, ten, ZERO, "n0", NULL), GRANT_YES);
        /* 50% of 10 = 5 */
        assert_int_equal(decide(m, 10, fifty, ZERO, "n4", NULL), GRANT_YES);
        assert_int_equal(decide(m, 10, fifty, ZERO, "n5", NULL), GRANT_WAIT);
        /* 0% explicitly: nothing */
        BudgetValue none = { 0, true };
        assert_int_equal(decide(m, 10, none, ZERO, "n0", NULL), GRANT_WAIT);
}

static void test_min_healthy(void **state) {
        GroupMember m[] = { M("a", .queued = true, .queue_rev = 1), M("b"), M("c") };
        BudgetValue three = { 3, false }, two = { 2, false }, two_slots = { 2, false }, ninety = { 90, true };

        assert_int_equal(decide(m, 3, two_slots, three, "a", NULL), GRANT_WAIT);  /* would leave 2 < 3 */
        assert_int_equal(decide(m, 3, two_slots, two, "a", NULL), GRANT_YES);     /* leaves 2 */
        assert_int_equal(decide(m, 3, two_slots, ninety, "a", NULL), GRANT_WAIT); /* 90% of 3 = 3 */
        /* Already below the minimum: nothing at all, even for a sick node. */
        GroupMember low[] = { M("a", .healthy = false, .queued = true, .queue_rev = 1), M("b", .alive = false), M("c") };
        assert_int_equal(decide(low, 3, three, two, "a", NULL), GRANT_WAIT);
}

static void test_stopped(void **state) {
        GroupMember m[] = { M("a", .queued = true, .queue_rev = 1), M("b", .holder = true) };
        GroupView v = { .members = m, .n = 2, .max_unavailable = { 5, false }, .stopped = true };

        assert_int_equal(grant_decide(&v, "a", NULL, NULL), GRANT_STOPPED);
        /* A holder keeps its grant: the stop switch blocks new grants only. */
        assert_int_equal(grant_decide(&v, "b", NULL, NULL), GRANT_HELD);
}

static void test_counts(void **state) {
        GroupMember m[] = { M("a", .holder = true), M("b", .alive = false, .healthy = false), M("c"),
                            M("d", .queued = true, .queue_rev = 1), M("e", .registered = false, .alive = true) };
        GroupView v = { .members = m, .n = 5, .max_unavailable = { 50, true }, .min_healthy = { 1, false } };
        GroupCounts c;

        grant_counts(&v, &c);
        assert_int_equal(c.members, 4);       /* e never registered */
        assert_int_equal(c.unavailable, 2);   /* a holds, b is dead */
        assert_int_equal(c.healthy, 2);
        assert_int_equal(c.allowed, 2);
        assert_int_equal(c.holders, 1);
        assert_int_equal(c.waiting, 1);
}

/* The storm breaker counts distinct nodes inside its window, after the last reset, of the group
 * (or of every group), this node included; one more than it allows trips it. */
static void test_breaker(void **state) {
        const int64_t now = 100000;
        BreakerSpec g30 = { .limit = { 30, true }, .window_usec = 600 * USEC_PER_SEC };
        BreakerSpec c3 = { .limit = { 3, false }, .window_usec = 3600 * USEC_PER_SEC };
        BreakerSpec off = { .limit = { 0, false } };
        const BreakerEvent ev[] = {
                { "a", "g1", now - 60, 1 }, { "b", "g1", now - 30, 2 }, { "a", "g1", now - 10, 4 }, /* a twice: once */
                { "c", "g2", now - 5, 5 },
                { "old", "g1", now - 601, 0 },                                                    /* outside 10m */
                { "future", "g1", now + 30, 6 },                                                  /* a clock ahead: counts */
        };
        StrList nodes = {};
        unsigned allowed;

        /* g1: a, b, future and d = 4 > 3 (30% of 10). */
        assert_true(breaker_trips(&g30, ev, ELEMENTSOF(ev), "g1", 0, now, "d", 10, &nodes, &allowed));
        assert_int_equal(allowed, 3);
        assert_int_equal(nodes.n, 4);
        assert_true(strlist_contains(&nodes, "d"));
        assert_false(strlist_contains(&nodes, "old"));
        assert_false(strlist_contains(&nodes, "c"));
        strlist_clear(&nodes);
        /* a asking again is counted once: a, b, future = 3, within. */
        assert_false(breaker_trips(&g30, ev, ELEMENTSOF(ev), "g1", 0, now, "a", 10, NULL, NULL));
        /* A reset after b's entry: only a's latest and future count, with d: 3. */
        assert_false(breaker_trips(&g30, ev, ELEMENTSOF(ev), "g1", 3, now, "d", 10, NULL, NULL));
        /* Entries of the reset's own second: the one written after the reset counts, the one
         * before it does not (ordered by etcd revision, not by whole seconds). */
        const BreakerEvent same_second[] = {
                { "e", "g1", now - 5, 10 }, { "f", "g1", now - 5, 12 }, { "g", "g1", now - 5, 13 },
        };
        assert_false(breaker_trips(&g30, same_second, 3, "g1", 11, now, "d", 10, NULL, NULL)); /* f, g, d */
        assert_true(breaker_trips(&g30, same_second, 3, "g1", 9, now, "d", 10, NULL, NULL));   /* e, f, g, d */
        /* A larger group allows more: 30% of 20 = 6. */
        assert_false(breaker_trips(&g30, ev, ELEMENTSOF(ev), "g1", 0, now, "d", 20, NULL, NULL));
        /* Cluster-wide, in the hour: a, b, c, old, future, d = 6 > 3, every group. */
        assert_true(breaker_trips(&c3, ev, ELEMENTSOF(ev), NULL, 0, now, "d", 0, &nodes, NULL));
        assert_int_equal(nodes.n, 6);
        strlist_clear(&nodes);
        /* Exactly at the threshold does not trip: a asking makes 5 of 5; d makes 6. */
        c3.limit.value = 5;
        assert_false(breaker_trips(&c3, ev, ELEMENTSOF(ev), NULL, 0, now, "a", 0, NULL, NULL));
        assert_true(breaker_trips(&c3, ev, ELEMENTSOF(ev), NULL, 0, now, "d", 0, NULL, NULL));
        /* No window: no breaker. */
        assert_false(breaker_trips(&off, ev, ELEMENTSOF(ev), NULL, 0, now, "d", 0, NULL, NULL));
}

static void test_within_budget(void **state) {
        /* After b's grant: b holds, a is fine: 1 of 1 unavailable. */
        GroupMember m[] = { M("a"), M("b", .holder = true), M("c") };
        GroupView v = { .members = m, .n = 3, .max_unavailable = ONE, .min_healthy = ZERO };
        assert_true(grant_within_budget(&v));
        /* a's lease expired while b's grant was decided: 2 of 1. */
        m[0].alive = m[0].healthy = false;
        assert_false(grant_within_budget(&v));
        /* Within max_unavailable but below min_healthy. */
        m[0].alive = m[0].healthy = true;
        v.max_unavailable = (BudgetValue) { 3, false };
        v.min_healthy = (BudgetValue) { 3, false };
        assert_false(grant_within_budget(&v));
        v.min_healthy = (BudgetValue) { 2, false };
        assert_true(grant_within_budget(&v));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fifo),
                cmocka_unit_test(test_held_is_idempotent),
                cmocka_unit_test(test_unavailable_counts),
                cmocka_unit_test(test_sick_waiter),
                cmocka_unit_test(test_percentages),
                cmocka_unit_test(test_min_healthy),
                cmocka_unit_test(test_stopped),
                cmocka_unit_test(test_counts),
                cmocka_unit_test(test_within_budget),
                cmocka_unit_test(test_breaker),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
