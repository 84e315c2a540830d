/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "budget.h"

static void test_parse(void **state) {
        BudgetValue b;

        assert_int_equal(budget_parse("2", &b), 0);
        assert_int_equal(b.value, 2);
        assert_false(b.percent);
        assert_int_equal(budget_parse("10%", &b), 0);
        assert_int_equal(b.value, 10);
        assert_true(b.percent);
        assert_int_equal(budget_parse("0", &b), 0);
        assert_int_equal(budget_parse("100%", &b), 0);
        assert_int_equal(budget_parse("101%", &b), -EINVAL);
        assert_int_equal(budget_parse("-1", &b), -EINVAL);
        assert_int_equal(budget_parse("", &b), -EINVAL);
        assert_int_equal(budget_parse("5 %", &b), -EINVAL);
        assert_int_equal(budget_parse("10%%", &b), -EINVAL);
        assert_int_equal(budget_parse("x", &b), -EINVAL);
}

static void test_breaker_parse(void **state) {
        BreakerSpec b;
        char buf[48];

        assert_int_equal(breaker_parse("30%/10m", &b), 0);
        assert_true(b.limit.percent);
        assert_int_equal(b.limit.value, 30);
        assert_true(b.window_usec == 600 * UINT64_C(1000000));
        assert_string_equal(breaker_format(&b, buf, sizeof buf), "30%/10m");
        assert_int_equal(breaker_allowed(&b, 10), 3);
        assert_int_equal(breaker_allowed(&b, 2), 1);   /* a share of a non-empty group: at least 1 */
        assert_int_equal(breaker_parse("20/1h", &b), 0);
        assert_false(b.limit.percent);
        assert_int_equal(breaker_allowed(&b, 5), 20);
        assert_string_equal(breaker_format(&b, buf, sizeof buf), "20/1h");
        assert_int_equal(breaker_parse("20", &b), -EINVAL);
        assert_int_equal(breaker_parse("20/0s", &b), -EINVAL);
        assert_int_equal(breaker_parse("20/x", &b), -EINVAL);
        assert_int_equal(breaker_parse("/1h", &b), -EINVAL);
        assert_int_equal(breaker_parse("101%/1h", &b), -EINVAL);
        assert_int_equal(breaker_parse(NULL, &b), -EINVAL);
}

static void test_max_unavailable(void **state) {
        BudgetValue ten = { 10, true }, zero = { 0, true }, two = { 2, false }, half = { 50, true };

        assert_int_equal(budget_max_unavailable(&ten, 100), 10);
        assert_int_equal(budget_max_unavailable(&ten, 15), 1);   /* 1.5 rounds down */
        assert_int_equal(budget_max_unavailable(&ten, 3), 1);    /* 0.3: never 0 for a non-empty group */
        assert_int_equal(budget_max_unavailable(&ten, 0), 0);
        assert_int_equal(budget_max_unavailable(&zero, 100), 0); /* an explicit 0 stays 0 */
        assert_int_equal(budget_max_unavailable(&two, 1), 2);
        assert_int_equal(budget_max_unavailable(&half, 5), 2);
}

static void test_min_healthy(void **state) {
        BudgetValue ninety = { 90, true }, three = { 3, false };

        assert_int_equal(budget_min_healthy(&ninety, 15), 14);    /* 13.5 rounds up */
        assert_int_equal(budget_min_healthy(&ninety, 10), 9);
        assert_int_equal(budget_min_healthy(&ninety, 0), 0);
        assert_int_equal(budget_min_healthy(&three, 2), 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_breaker_parse),
                cmocka_unit_test(test_max_unavailable),
                cmocka_unit_test(test_min_healthy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
