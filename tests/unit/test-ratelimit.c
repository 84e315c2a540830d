/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ratelimit.h"
#include "util.h"

#define SEC USEC_PER_SEC
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
/* A realistic realtime base (2024-01-01T00:00:00Z) so that now - window never underflows. */
#define T0 (UINT64_C(1704067200) * SEC)

static void test_spec_parse(void **state) {
        RateSpec r;
        char buf[64];

        assert_int_equal(ratespec_parse("3/1h", &r), 0);
        assert_int_equal(r.count, 3);
        assert_int_equal(r.window_usec, HOUR);
        assert_string_equal(ratespec_format(&r, buf, sizeof(buf)), "3/1h");

        assert_int_equal(ratespec_parse("1/24h", &r), 0);
        assert_int_equal(r.count, 1);
        assert_int_equal(r.window_usec, 24 * HOUR);
        assert_string_equal(ratespec_format(&r, buf, sizeof(buf)), "1/1d");

        assert_int_equal(ratespec_parse("5/10m", &r), 0);
        assert_int_equal(r.count, 5);
        assert_int_equal(r.window_usec, 10 * MIN);

        assert_int_equal(ratespec_parse("2/1h30m", &r), 0);
        assert_int_equal(r.window_usec, HOUR + 30 * MIN);
        assert_string_equal(ratespec_format(&r, buf, sizeof(buf)), "2/1h30m");
}

static void test_spec_parse_errors(void **state) {
        const char *bad[] = {
                "", "3", "3/", "/1h", "0/1h", "-1/1h", "x/1h", "3/0", "3/0s", "3/1x", "3 /1h",
                "1.5/1h", "99999999999/1h", "3/1h/2",
        };
        RateSpec r = { .count = 42, .window_usec = 42 };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (ratespec_parse(bad[i], &r) != -EINVAL)
                        fail_msg("ratespec_parse(\"%s\") accepted", bad[i]);
        assert_int_equal(ratespec_parse(NULL, &r), -EINVAL);
        assert_int_equal(r.count, 42);
        assert_int_equal(r.window_usec, 42);
}

static void test_eventlog_order(void **state) {
        EventLog l = {};

        /* Enough entries to force several reallocations. */
        for (uint64_t i = 0; i < 100; i++)
                assert_int_equal(eventlog_add(&l, T0 + i * SEC), 0);
        /* Out of order (clock stepped back): still sorted. */
        assert_int_equal(eventlog_add(&l, T0 + 50 * SEC + 1), 0);
        assert_int_equal(eventlog_add(&l, T0 - 1), 0);
        assert_int_equal(l.n, 102);
        for (size_t i = 1; i < l.n; i++)
                assert_true(l.t[i - 1] <= l.t[i]);
        assert_int_equal(l.t[0], T0 - 1);
        assert_int_equal(l.t[52], T0 + 50 * SEC + 1);

        eventlog_free(&l);
        assert_null(l.t);
        assert_int_equal(l.n, 0);
        eventlog_free(&l); /* twice is fine */
}

static void test_eventlog_window_boundaries(void **state) {
        EventLog l = {};
        uint64_t now = T0 + HOUR;

        assert_int_equal(eventlog_add(&l, now - HOUR), 0);          /* exactly at now - window: outside */
        assert_int_equal(eventlog_add(&l, now - HOUR + 1), 0);      /* just inside */
        assert_int_equal(eventlog_add(&l, now), 0);                 /* now: inside */

        assert_int_equal(eventlog_count(&l, now, HOUR), 2);
        assert_int_equal(eventlog_count(&l, now + 1, HOUR), 1);
        assert_int_equal(eventlog_count(&l, now, HOUR + 1), 3);
        assert_int_equal(eventlog_count(&l, now + HOUR, HOUR), 0);
        /* A window longer than the time since the epoch covers everything. */
        assert_int_equal(eventlog_count(&l, 10, 100), 3);

        eventlog_free(&l);
}

static void test_eventlog_prune(void **state) {
        EventLog l = {};
        uint64_t now = T0 + HOUR;

        for (uint64_t i = 0; i <= 60; i++)
                assert_int_equal(eventlog_add(&l, T0 + i * MIN), 0);
        eventlog_prune(&l, now, 30 * MIN);
        /* Entries in (now - 30m, now] stay: T0+31m .. T0+60m; T0+30m is on the boundary and
         * would not be counted in a 30m window any more. */
        assert_int_equal(l.n, 30);
        assert_int_equal(l.t[0], T0 + 31 * MIN);
        assert_int_equal(l.t[29], T0 + 60 * MIN);
        assert_int_equal(eventlog_count(&l, now, 30 * MIN), 30);

        /* Future entries are kept. */
        assert_int_equal(eventlog_add(&l, now + HOUR), 0);
        eventlog_prune(&l, now, MIN);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.t[0], now);
        assert_int_equal(l.t[1], now + HOUR);

        /* keep longer than the epoch: nothing dropped. */
        eventlog_prune(&l, 5, 10);
        assert_int_equal(l.n, 2);

        eventlog_prune(&l, now + 2 * HOUR, 1);
        assert_int_equal(l.n, 0);
        eventlog_free(&l);
}

static void test_ratelimit_sliding(void **state) {
        RateSpec r;
        EventLog l = {};
        uint64_t now = T0;

        assert_int_equal(ratespec_parse("3/1h", &r), 0);
        assert_true(ratelimit_allows(&r, &l, now));
        assert_int_equal(ratelimit_next_allowed(&r, &l, now), now);

        assert_int_equal(eventlog_add(&l, T0), 0);
        assert_int_equal(eventlog_add(&l, T0 + 10 * MIN), 0);
        assert_true(ratelimit_allows(&r, &l, T0 + 20 * MIN));
        assert_int_equal(eventlog_add(&l, T0 + 20 * MIN), 0);

        /* Three in the last hour: refused until the first one leaves the window. */
        assert_false(ratelimit_allows(&r, &l, T0 + 20 * MIN));
        assert_false(ratelimit_allows(&r, &l, T0 + HOUR - 1));
        assert_true(ratelimit_allows(&r, &l, T0 + HOUR));
        assert_int_equal(ratelimit_next_allowed(&r, &l, T0 + 30 * MIN), T0 + HOUR);
        assert_int_equal(ratelimit_next_allowed(&r, &l, T0 + HOUR), T0 + HOUR);

        /* It is a sliding window, not a fixed one: after one more event at T0+1h, the next is
         * only allowed when the event at T0+10m has aged out. */
        assert_int_equal(eventlog_add(&l, T0 + HOUR), 0);
        assert_false(ratelimit_allows(&r, &l, T0 + HOUR + 5 * MIN));
        assert_int_equal(ratelimit_next_allowed(&r, &l, T0 + HOUR + 5 * MIN), T0 + HOUR + 10 * MIN);

        eventlog_free(&l);
}

static void test_ratelimit_one_per_day(void **state) {
        RateSpec r;
        EventLog l = {};

        assert_int_equal(ratespec_parse("1/24h", &r), 0);
        assert_int_equal(eventlog_add(&l, T0), 0);
        assert_false(ratelimit_allows(&r, &l, T0 + 23 * HOUR));
        assert_int_equal(ratelimit_next_allowed(&r, &l, T0 + 23 * HOUR), T0 + 24 * HOUR);
        assert_true(ratelimit_allows(&r, &l, T0 + 24 * HOUR));
        eventlog_free(&l);
}

static void test_ratelimit_clock_stepped_back(void **state) {
        RateSpec r;
        EventLog l = {};

        assert_int_equal(ratespec_parse("1/1h", &r), 0);
        assert_int_equal(eventlog_add(&l, T0 + 10 * HOUR), 0);
        /* The clock jumped back 10 hours: the event lies in the future. It still counts. */
        assert_int_equal(eventlog_count(&l, T0, HOUR), 1);
        assert_false(ratelimit_allows(&r, &l, T0));
        /* And the limit lifts one window after the event, not earlier. */
        assert_int_equal(ratelimit_next_allowed(&r, &l, T0), T0 + 11 * HOUR);
        /* Pruning must not drop it either. */
        eventlog_prune(&l, T0, HOUR);
        assert_int_equal(l.n, 1);
        eventlog_free(&l);
}

static void test_ratelimit_no_spec(void **state) {
        EventLog l = {};

        assert_int_equal(eventlog_add(&l, T0), 0);
        assert_true(ratelimit_allows(NULL, &l, T0));
        eventlog_free(&l);
}

static void test_ratelimit_next_allowed_saturates(void **state) {
        RateSpec r = { .count = 1, .window_usec = UINT64_MAX - 10 };
        EventLog l = {};

        assert_int_equal(eventlog_add(&l, T0), 0);
        assert_false(ratelimit_allows(&r, &l, T0));
        assert_int_equal(ratelimit_next_allowed(&r, &l, T0), UINT64_MAX);
        eventlog_free(&l);
}

/* A state file with 100,000 firing times in descending order (issue 13): loading them one
 * eventlog_add() at a time was quadratic and kept every one. The log keeps at most what the
 * largest count of any N/DURATION needs, and an entry older than all of a full log costs
 * nothing. */
static void test_eventlog_bounded_descending(void **state) {
        EventLog l = {};
        const size_t n = 100000;

        for (size_t i = 0; i < n; i++)
                assert_int_equal(eventlog_add(&l, T0 + (n - i) * SEC), 0);
        assert_true(l.n <= 1024);
        assert_true(l.cap <= 2048);
        /* The newest are the ones kept, in order. */
        assert_int_equal(l.t[l.n - 1], T0 + n * SEC);
        for (size_t i = 1; i < l.n; i++)
                assert_true(l.t[i - 1] < l.t[i]);
        eventlog_free(&l);
}

/* eventlog_load(): one sort, then the newest EVENTLOG_MAX; the work done is counted. */
static void test_eventlog_load(void **state) {
        const size_t n = 100000;
        uint64_t *t = malloc(n * sizeof(uint64_t));
        EventLog l = {};
        RateSpec r;

        assert_non_null(t);
        for (size_t i = 0; i < n; i++)
                t[i] = T0 + (n - i) * SEC;      /* descending */
        t[7] = T0 + 2 * n * SEC;                /* one in the future (clock stepped back) */
        assert_int_equal(eventlog_load(&l, t, n), 0);
        assert_int_equal(l.n, EVENTLOG_MAX);
        assert_true(l.cap <= EVENTLOG_MAX);
        assert_int_equal(l.t[l.n - 1], T0 + 2 * n * SEC);
        assert_int_equal(l.t[l.n - 2], T0 + n * SEC);
        for (size_t i = 1; i < l.n; i++)
                assert_true(l.t[i - 1] < l.t[i]);
        /* A rate limit of the largest count still sees all it needs. */
        assert_int_equal(ratespec_parse("1000/1000d", &r), 0);
        assert_int_equal(r.count, RATE_COUNT_MAX);
        assert_false(ratelimit_allows(&r, &l, T0 + n * SEC));
        assert_int_equal(ratespec_parse("1001/1h", &r), -EINVAL);

        /* Loading again replaces; a few entries stay as they are. */
        assert_int_equal(eventlog_load(&l, t + n - 3, 3), 0);
        assert_int_equal(l.n, 3);
        assert_int_equal(l.t[0], T0 + 1 * SEC);
        assert_int_equal(l.t[2], T0 + 3 * SEC);
        assert_int_equal(eventlog_load(&l, NULL, 0), 0);
        assert_int_equal(l.n, 0);
        eventlog_free(&l);
        free(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spec_parse),
                cmocka_unit_test(test_spec_parse_errors),
                cmocka_unit_test(test_eventlog_order),
                cmocka_unit_test(test_eventlog_window_boundaries),
                cmocka_unit_test(test_eventlog_prune),
                cmocka_unit_test(test_ratelimit_sliding),
                cmocka_unit_test(test_ratelimit_one_per_day),
                cmocka_unit_test(test_ratelimit_clock_stepped_back),
                cmocka_unit_test(test_ratelimit_no_spec),
                cmocka_unit_test(test_ratelimit_next_allowed_saturates),
                cmocka_unit_test(test_eventlog_bounded_descending),
                cmocka_unit_test(test_eventlog_load),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
