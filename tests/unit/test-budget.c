/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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
                cmocka_unit_test(test_max_unavailable),
                cmocka_unit_test(test_min_healthy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
