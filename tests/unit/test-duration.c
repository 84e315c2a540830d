/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "duration.h"
#include "util.h"

#define SEC USEC_PER_SEC
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static void check_ok(const char *s, uint64_t expected) {
        uint64_t v = 12345;
        int r = duration_parse(s, &v);

        if (r != 0 || v != expected)
                fail_msg("duration_parse(\"%s\") = %d, %llu; expected 0, %llu", s, r,
                         (unsigned long long) v, (unsigned long long) expected);
}

static void check_err(const char *s, int expected) {
        uint64_t v = 12345;
        int r = duration_parse(s, &v);

        if (r != expected)
                fail_msg("duration_parse(\"%s\") = %d; expected %d", s, r, expected);
        assert_int_equal(v, 12345); /* untouched on failure */
}

static void test_parse_units(void **state) {
        check_ok("500ms", 500 * USEC_PER_MSEC);
        check_ok("90s", 90 * SEC);
        check_ok("5m", 5 * MIN);
        check_ok("5min", 5 * MIN);
        check_ok("2h", 2 * HOUR);
        check_ok("2d", 2 * DAY);
        check_ok("1w", 7 * DAY);
        check_ok("0", 0);
        check_ok("0s", 0);
}

static void test_parse_compound(void **state) {
        check_ok("1h30m", HOUR + 30 * MIN);
        check_ok("1h 30m", HOUR + 30 * MIN);
        check_ok("  1h30m  ", HOUR + 30 * MIN);
        check_ok("1d2h3m4s5ms", DAY + 2 * HOUR + 3 * MIN + 4 * SEC + 5 * USEC_PER_MSEC);
        check_ok("1m1ms", MIN + USEC_PER_MSEC);   /* "ms" is not "m" followed by "s" */
}

static void test_parse_bare_number(void **state) {
        check_ok("90", 90 * SEC);
        check_ok(" 90 ", 90 * SEC);
        /* A bare number only stands alone. */
        check_err("1h 30", -EINVAL);
        check_err("90 5", -EINVAL);
}

static void test_parse_garbage(void **state) {
        check_err("", -EINVAL);
        check_err("   ", -EINVAL);
        check_err("5x", -EINVAL);
        check_err("x5", -EINVAL);
        check_err("h", -EINVAL);
        check_err("-5s", -EINVAL);
        check_err("1.5h", -EINVAL);
        check_err("5mins", -EINVAL);
        check_err("5 h", -EINVAL);
        check_err("1h30x", -EINVAL);
        check_err("1hh", -EINVAL);
        check_err(NULL, -EINVAL);
}

static void test_parse_overflow(void **state) {
        check_err("18446744073709551616", -ERANGE);    /* 2^64: the digits overflow */
        check_err("18446744073709551615s", -ERANGE);   /* the unit multiplication overflows */
        check_err("40000000w", -ERANGE);
        check_err("20000000w 20000000w", -ERANGE); /* the sum overflows */
        /* Large but representable. */
        check_ok("18446744073709s", UINT64_C(18446744073709) * SEC);
}

static void check_format(uint64_t usec, const char *expected) {
        char buf[64];

        assert_string_equal(duration_format(usec, buf, sizeof(buf)), expected);
}

static void test_format(void **state) {
        check_format(0, "0");
        check_format(500 * USEC_PER_MSEC, "500ms");
        check_format(90 * SEC, "1m30s");
        check_format(HOUR, "1h");
        check_format(2 * DAY + 3 * HOUR, "2d3h");
        check_format(HOUR + 30 * MIN, "1h30m");
        check_format(1500, "1ms500us");
        check_format(USEC_INFINITY, "infinity");
}

static void test_format_roundtrip(void **state) {
        const uint64_t values[] = { 1, 999, 1000, 61 * SEC, 25 * HOUR, 10 * DAY + 1, 123456789012345 };
        char buf[64];

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                uint64_t v;
                assert_int_equal(duration_parse(duration_format(values[i], buf, sizeof(buf)), &v), 0);
                assert_int_equal(v, values[i]);
        }
}

static void test_format_truncates(void **state) {
        char buf[4];

        duration_format(2 * DAY + 3 * HOUR, buf, sizeof(buf));
        assert_true(strlen(buf) < sizeof(buf));
        assert_string_equal(buf, "2d");
}

static void test_size(void **state) {
        uint64_t v;

        assert_int_equal(size_parse("64M", &v), 0);
        assert_int_equal(v, UINT64_C(64) << 20);
        assert_int_equal(size_parse("64MiB", &v), 0);
        assert_int_equal(v, UINT64_C(64) << 20);
        assert_int_equal(size_parse("64m", &v), 0);
        assert_int_equal(v, UINT64_C(64) << 20);
        assert_int_equal(size_parse("1k", &v), 0);
        assert_int_equal(v, 1024);
        assert_int_equal(size_parse("2 GiB", &v), 0);
        assert_int_equal(v, UINT64_C(2) << 30);
        assert_int_equal(size_parse("4096", &v), 0);
        assert_int_equal(v, 4096);
        assert_int_equal(size_parse("0", &v), 0);
        assert_int_equal(v, 0);

        v = 7;
        assert_int_equal(size_parse("", &v), -EINVAL);
        assert_int_equal(size_parse("M", &v), -EINVAL);
        assert_int_equal(size_parse("64X", &v), -EINVAL);
        assert_int_equal(size_parse("64MB", &v), -EINVAL);
        assert_int_equal(size_parse("-1", &v), -EINVAL);
        assert_int_equal(size_parse("1.5G", &v), -EINVAL);
        assert_int_equal(size_parse("99999999999999999999", &v), -ERANGE);
        assert_int_equal(size_parse("17179869184G", &v), -ERANGE); /* 2^34 * 2^30 */
        assert_int_equal(v, 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_units),
                cmocka_unit_test(test_parse_compound),
                cmocka_unit_test(test_parse_bare_number),
                cmocka_unit_test(test_parse_garbage),
                cmocka_unit_test(test_parse_overflow),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_format_roundtrip),
                cmocka_unit_test(test_format_truncates),
                cmocka_unit_test(test_size),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
