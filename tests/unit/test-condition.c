/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "condition.h"
#include "util.h"

#define SEC USEC_PER_SEC
#define MIN (60 * SEC)
#define T0 (UINT64_C(1704067200) * SEC)

static const RateSpec flap = { .count = 3, .window_usec = 10 * MIN };

static void test_strings(void **state) {
        assert_string_equal(cond_state_to_string(COND_OK), "ok");
        assert_string_equal(cond_state_to_string(COND_PROBLEM), "problem");
        assert_string_equal(cond_state_to_string(COND_UNKNOWN), "unknown");
        assert_null(cond_state_to_string(_COND_STATE_MAX));
        assert_null(cond_state_to_string(_COND_STATE_INVALID));
        assert_int_equal(cond_state_from_string("ok"), COND_OK);
        assert_int_equal(cond_state_from_string("problem"), COND_PROBLEM);
        assert_int_equal(cond_state_from_string("unknown"), COND_UNKNOWN);
        assert_int_equal(cond_state_from_string("OK"), _COND_STATE_INVALID);
        assert_int_equal(cond_state_from_string(NULL), _COND_STATE_INVALID);
}

static void test_new(void **state) {
        Condition *c = condition_new("disk-full");

        assert_non_null(c);
        assert_string_equal(c->name, "disk-full");
        assert_int_equal(c->state, COND_UNKNOWN);
        assert_int_equal(c->since, 0);
        assert_false(c->flapping);
        assert_int_equal(c->changes.n, 0);
        assert_null(condition_free(c));
        assert_null(condition_free(NULL));
}

static void test_first_result_not_a_change(void **state) {
        Condition *c = condition_new("x");

        /* The first result sets the state and since, but is not recorded as a change. */
        assert_int_equal(condition_update(c, COND_OK, "fine", NULL, T0, &flap), 1);
        assert_int_equal(c->state, COND_OK);
        assert_int_equal(c->since, T0);
        assert_int_equal(c->last_run, T0);
        assert_int_equal(c->changes.n, 0);
        assert_string_equal(c->message, "fine");
        assert_null(c->details);

        /* Even when the first result is "unknown", the state it already had. */
        condition_free(c);
        c = condition_new("y");
        assert_int_equal(condition_update(c, COND_UNKNOWN, NULL, NULL, T0, &flap), 1);
        assert_int_equal(c->since, T0);
        assert_int_equal(c->changes.n, 0);
        condition_free(c);
}

static void test_same_state_refreshes(void **state) {
        Condition *c = condition_new("x");

        assert_int_equal(condition_update(c, COND_PROBLEM, "bad", "{\"a\":1}", T0, &flap), 1);
        assert_int_equal(condition_update(c, COND_PROBLEM, "still bad", "{\"a\":2}", T0 + MIN, &flap), 0);
        assert_int_equal(c->state, COND_PROBLEM);
        assert_int_equal(c->since, T0);                 /* unchanged */
        assert_int_equal(c->last_run, T0 + MIN);        /* refreshed */
        assert_string_equal(c->message, "still bad");
        assert_string_equal(c->details, "{\"a\":2}");
        assert_int_equal(c->changes.n, 0);

        /* NULL message and details clear them. */
        assert_int_equal(condition_update(c, COND_PROBLEM, NULL, NULL, T0 + 2 * MIN, &flap), 0);
        assert_null(c->message);
        assert_null(c->details);
        condition_free(c);
}

static void test_state_changes(void **state) {
        Condition *c = condition_new("x");

        assert_int_equal(condition_update(c, COND_OK, NULL, NULL, T0, &flap), 1);
        assert_int_equal(condition_update(c, COND_PROBLEM, "bad", NULL, T0 + MIN, &flap), 1);
        assert_int_equal(c->state, COND_PROBLEM);
        assert_int_equal(c->since, T0 + MIN);
        assert_int_equal(c->changes.n, 1);
        assert_int_equal(c->changes.t[0], T0 + MIN);

        assert_int_equal(condition_update(c, COND_UNKNOWN, "timeout", NULL, T0 + 2 * MIN, &flap), 1);
        assert_int_equal(c->state, COND_UNKNOWN);
        assert_int_equal(c->since, T0 + 2 * MIN);
        assert_int_equal(c->changes.n, 2);
        assert_false(c->flapping);
        condition_free(c);
}

static void test_flapping_on_off(void **state) {
        Condition *c = condition_new("x");
        uint64_t t = T0;

        assert_int_equal(condition_update(c, COND_OK, NULL, NULL, t, &flap), 1);
        /* Two changes: below 3/10m. */
        assert_int_equal(condition_update(c, COND_PROBLEM, NULL, NULL, t += MIN, &flap), 1);
        assert_int_equal(condition_update(c, COND_OK, NULL, NULL, t += MIN, &flap), 1);
        assert_false(c->flapping);
        /* Third change within 10 minutes: flapping. */
        assert_int_equal(condition_update(c, COND_PROBLEM, NULL, NULL, t += MIN, &flap), 1);
        assert_true(c->flapping);
        assert_int_equal(c->changes.n, 3);
        /* Same state results keep it flapping while the changes are in the window. */
        assert_int_equal(condition_update(c, COND_PROBLEM, NULL, NULL, t += MIN, &flap), 0);
        assert_true(c->flapping);

        /* The first change (T0+1m) leaves the window at T0+11m: no longer flapping. */
        assert_true(condition_refresh_flapping(c, T0 + 11 * MIN - 1, &flap));
        assert_false(condition_refresh_flapping(c, T0 + 11 * MIN, &flap));
        assert_false(c->flapping);
        /* Pruned to the flapping window. */
        assert_true(c->changes.n <= 2);

        /* A stable state for longer than the window is not flapping. */
        assert_int_equal(condition_update(c, COND_PROBLEM, NULL, NULL, T0 + 30 * MIN, &flap), 0);
        assert_false(c->flapping);
        assert_int_equal(c->changes.n, 0);
        condition_free(c);
}

static void test_flapping_slow_changes(void **state) {
        Condition *c = condition_new("x");
        CondState s = COND_OK;

        /* A change every 6 minutes: never 3 within 10 minutes. */
        assert_int_equal(condition_update(c, s, NULL, NULL, T0, &flap), 1);
        for (int i = 1; i <= 10; i++) {
                s = s == COND_OK ? COND_PROBLEM : COND_OK;
                assert_int_equal(condition_update(c, s, NULL, NULL, T0 + (uint64_t) i * 6 * MIN, &flap), 1);
                assert_false(c->flapping);
        }
        condition_free(c);
}

static void test_flapping_disabled(void **state) {
        const RateSpec off = { .count = 0, .window_usec = 10 * MIN };
        Condition *c = condition_new("x");

        assert_int_equal(condition_update(c, COND_OK, NULL, NULL, T0, &off), 1);
        for (int i = 1; i <= 10; i++)
                condition_update(c, i % 2 ? COND_PROBLEM : COND_OK, NULL, NULL, T0 + (uint64_t) i * SEC, &off);
        assert_false(c->flapping);
        condition_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_new),
                cmocka_unit_test(test_first_result_not_a_change),
                cmocka_unit_test(test_same_state_refreshes),
                cmocka_unit_test(test_state_changes),
                cmocka_unit_test(test_flapping_on_off),
                cmocka_unit_test(test_flapping_slow_changes),
                cmocka_unit_test(test_flapping_disabled),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
