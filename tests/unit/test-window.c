/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "util.h"
#include "window.h"

/* UTC calendar time to time_t. In January 2024 the 15th is a Monday. */
static time_t utc(int y, int mon, int d, int h, int min) {
        struct tm tm = {
                .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h, .tm_min = min,
        };
        return timegm(&tm);
}

static Window *parse_ok(const char *s) {
        Window *w = NULL;
        char *err = NULL;
        int r = window_parse(s, &w, &err);

        if (r != 0)
                fail_msg("window_parse(\"%s\") = %d: %s", s, r, err ? err : "(no message)");
        assert_null(err);
        assert_non_null(w);
        assert_string_equal(window_text(w), s);
        return w;
}

static void parse_err(const char *s, const char *expected_msg) {
        Window *w = NULL;
        char *err = NULL;

        assert_int_equal(window_parse(s, &w, &err), -EINVAL);
        assert_null(w);
        assert_non_null(err);
        if (expected_msg && !strstr(err, expected_msg))
                fail_msg("window_parse(\"%s\"): message \"%s\" lacks \"%s\"", s, err, expected_msg);
        free(err);
}

static bool have_zone(const char *name) {
        const char *dir = getenv("TZDIR");
        char path[512];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
        return stat(path, &st) == 0;
}

static void test_simple(void **state) {
        Window *w = parse_ok("Mon-Fri 02:00-05:00 UTC");

        assert_false(window_contains(w, utc(2024, 1, 15, 1, 59)));
        assert_true(window_contains(w, utc(2024, 1, 15, 2, 0)));       /* start inclusive */
        assert_true(window_contains(w, utc(2024, 1, 15, 4, 59)));
        assert_false(window_contains(w, utc(2024, 1, 15, 5, 0)));      /* end exclusive */
        assert_true(window_contains(w, utc(2024, 1, 19, 3, 0)));       /* Friday */
        assert_false(window_contains(w, utc(2024, 1, 20, 3, 0)));      /* Saturday */
        assert_false(window_contains(w, utc(2024, 1, 21, 3, 0)));      /* Sunday */
        window_free(w);
}

static void test_crossing_midnight(void **state) {
        /* Friday 22:00 to Saturday 02:00: belongs to Friday. */
        Window *w = parse_ok("Fri 22:00-02:00 UTC");

        assert_false(window_contains(w, utc(2024, 1, 19, 21, 59)));
        assert_true(window_contains(w, utc(2024, 1, 19, 22, 0)));
        assert_true(window_contains(w, utc(2024, 1, 19, 23, 59)));
        assert_true(window_contains(w, utc(2024, 1, 20, 0, 0)));       /* Saturday, still Friday's window */
        assert_true(window_contains(w, utc(2024, 1, 20, 1, 59)));
        assert_false(window_contains(w, utc(2024, 1, 20, 2, 0)));
        assert_false(window_contains(w, utc(2024, 1, 20, 22, 30)));    /* Saturday night: not in DAYS */
        assert_false(window_contains(w, utc(2024, 1, 19, 1, 0)));      /* Friday early: Thursday's window */
        window_free(w);

        w = parse_ok("daily 22:00-04:00 UTC");
        for (int d = 15; d <= 21; d++) {
                assert_true(window_contains(w, utc(2024, 1, d, 23, 0)));
                assert_true(window_contains(w, utc(2024, 1, d, 3, 0)));
                assert_false(window_contains(w, utc(2024, 1, d, 12, 0)));
        }
        window_free(w);

        /* Equal start and end: a full 24 hours from the start. */
        w = parse_ok("Mon 06:00-06:00 UTC");
        assert_false(window_contains(w, utc(2024, 1, 15, 5, 59)));
        assert_true(window_contains(w, utc(2024, 1, 15, 6, 0)));
        assert_true(window_contains(w, utc(2024, 1, 16, 5, 59)));
        assert_false(window_contains(w, utc(2024, 1, 16, 6, 0)));
        window_free(w);
}

static void test_day_ranges(void **state) {
        /* Wrapping range. */
        Window *w = parse_ok("Fri-Mon 10:00-11:00 UTC");
        const bool expect[7] = { true, false, false, false, true, true, true }; /* Mon..Sun */

        for (int i = 0; i < 7; i++)
                if (window_contains(w, utc(2024, 1, 15 + i, 10, 30)) != expect[i])
                        fail_msg("Fri-Mon: day %d wrong", i);
        window_free(w);

        /* Several items, case-insensitive, full names. */
        w = parse_ok("mon,WED,Fri-Sun 10:00-11:00 UTC");
        const bool expect2[7] = { true, false, true, false, true, true, true };
        for (int i = 0; i < 7; i++)
                if (window_contains(w, utc(2024, 1, 15 + i, 10, 30)) != expect2[i])
                        fail_msg("mon,WED,Fri-Sun: day %d wrong", i);
        window_free(w);

        w = parse_ok("Tuesday,Thursday 10:00-11:00 UTC");
        const bool expect3[7] = { false, true, false, true, false, false, false };
        for (int i = 0; i < 7; i++)
                if (window_contains(w, utc(2024, 1, 15 + i, 10, 30)) != expect3[i])
                        fail_msg("Tuesday,Thursday: day %d wrong", i);
        window_free(w);

        w = parse_ok("* 10:00-11:00 UTC");
        for (int i = 0; i < 7; i++)
                assert_true(window_contains(w, utc(2024, 1, 15 + i, 10, 30)));
        window_free(w);
}

static void test_24h(void **state) {
        Window *w = parse_ok("Sat,Sun 00:00-24:00 UTC");

        assert_false(window_contains(w, utc(2024, 1, 19, 23, 59)));
        assert_true(window_contains(w, utc(2024, 1, 20, 0, 0)));
        assert_true(window_contains(w, utc(2024, 1, 20, 23, 59)));
        assert_true(window_contains(w, utc(2024, 1, 21, 23, 59)));
        assert_false(window_contains(w, utc(2024, 1, 22, 0, 0)));
        window_free(w);

        w = parse_ok("Mon 22:00-24:00 UTC");
        assert_true(window_contains(w, utc(2024, 1, 15, 23, 59)));
        assert_false(window_contains(w, utc(2024, 1, 16, 0, 0)));
        window_free(w);
}

static void test_timezone(void **state) {
        Window *berlin, *u;
        /* Monday 2024-01-15 01:30 UTC is 02:30 CET; Monday 2024-07-15 00:30 UTC is 02:30 CEST. */
        time_t winter = utc(2024, 1, 15, 1, 30), summer = utc(2024, 7, 15, 0, 30);

        if (!have_zone("Europe/Berlin"))
                skip();

        berlin = parse_ok("Mon-Fri 02:00-05:00 Europe/Berlin");
        u = parse_ok("Mon-Fri 02:00-05:00 UTC");

        assert_true(window_contains(berlin, winter));
        assert_false(window_contains(u, winter));
        assert_true(window_contains(berlin, summer));
        assert_false(window_contains(u, summer));

        /* 05:00 local is 04:00 UTC in winter, 03:00 UTC in summer. */
        assert_true(window_contains(berlin, utc(2024, 1, 15, 3, 59)));
        assert_false(window_contains(berlin, utc(2024, 1, 15, 4, 0)));
        assert_true(window_contains(berlin, utc(2024, 7, 15, 2, 59)));
        assert_false(window_contains(berlin, utc(2024, 7, 15, 3, 0)));
        /* Sunday 2024-01-14 23:30 UTC is already Monday 00:30 in Berlin; 01:00 UTC is 02:00. */
        assert_true(window_contains(berlin, utc(2024, 1, 15, 1, 0)));
        assert_false(window_contains(berlin, utc(2024, 1, 15, 0, 59)));

        window_free(berlin);
        window_free(u);
}

static void test_timezone_dst_change(void **state) {
        Window *w;

        if (!have_zone("Europe/Berlin"))
                skip();
        /* 2024-03-31: at 02:00 CET clocks jump to 03:00 CEST (01:00 UTC). */
        w = parse_ok("Sun 02:00-04:00 Europe/Berlin");
        assert_false(window_contains(w, utc(2024, 3, 31, 0, 59)));     /* 01:59 CET */
        assert_true(window_contains(w, utc(2024, 3, 31, 1, 0)));       /* 03:00 CEST */
        assert_true(window_contains(w, utc(2024, 3, 31, 1, 59)));      /* 03:59 CEST */
        assert_false(window_contains(w, utc(2024, 3, 31, 2, 0)));      /* 04:00 CEST */
        /* The window opens when the wall clock jumps, not an hour earlier or later. */
        assert_int_equal(window_next_open(w, utc(2024, 3, 31, 0, 0)), utc(2024, 3, 31, 1, 0));
        window_free(w);
}

static void test_tz_restored(void **state) {
        Window *w, *local;
        const char *tz;

        if (!have_zone("Europe/Berlin") || !have_zone("America/New_York"))
                skip();

        /* No zone: the process's local time (here set through $TZ). */
        assert_int_equal(setenv("TZ", ":America/New_York", 1), 0);
        tzset();
        local = parse_ok("Mon 02:00-03:00");
        w = parse_ok("Mon 02:00-03:00 Europe/Berlin");

        /* Monday 02:30 in New York (EST) is 07:30 UTC. */
        assert_true(window_contains(local, utc(2024, 1, 15, 7, 30)));
        assert_false(window_contains(w, utc(2024, 1, 15, 7, 30)));
        assert_true(window_contains(w, utc(2024, 1, 15, 1, 30)));
        /* After using another zone, TZ and localtime are as before. */
        tz = getenv("TZ");
        assert_non_null(tz);
        assert_string_equal(tz, ":America/New_York");
        assert_true(window_contains(local, utc(2024, 1, 15, 7, 30)));
        {
                time_t t = utc(2024, 1, 15, 7, 30);
                struct tm tm;
                assert_non_null(localtime_r(&t, &tm));
                assert_int_equal(tm.tm_hour, 2);
        }

        /* TZ unset before: unset after. */
        assert_int_equal(unsetenv("TZ"), 0);
        tzset();
        (void) window_contains(w, utc(2024, 1, 15, 1, 30));
        assert_null(getenv("TZ"));

        window_free(w);
        window_free(local);
}

static void test_next_open(void **state) {
        Window *w = parse_ok("Mon-Fri 02:00-05:00 UTC");

        /* Open now: now. */
        assert_int_equal(window_next_open(w, utc(2024, 1, 15, 3, 0)), utc(2024, 1, 15, 3, 0));
        /* Later the same day is closed; next is Tuesday 02:00. */
        assert_int_equal(window_next_open(w, utc(2024, 1, 15, 5, 0)), utc(2024, 1, 16, 2, 0));
        /* Before the start on the same day. */
        assert_int_equal(window_next_open(w, utc(2024, 1, 15, 1, 0)), utc(2024, 1, 15, 2, 0));
        /* From Saturday noon over the weekend to Monday. */
        assert_int_equal(window_next_open(w, utc(2024, 1, 20, 12, 0)), utc(2024, 1, 22, 2, 0));
        window_free(w);

        w = parse_ok("Fri 22:00-02:00 UTC");
        assert_int_equal(window_next_open(w, utc(2024, 1, 20, 1, 0)), utc(2024, 1, 20, 1, 0));
        assert_int_equal(window_next_open(w, utc(2024, 1, 20, 2, 0)), utc(2024, 1, 26, 22, 0));
        assert_int_equal(window_next_open(w, utc(2024, 1, 19, 21, 0)), utc(2024, 1, 19, 22, 0));
        window_free(w);
}

static void test_errors(void **state) {
        parse_err("Mox 02:00-05:00", "unknown day 'Mox'");
        parse_err("Mon-Frx 02:00-05:00", "unknown day 'Frx'");
        parse_err("Mon,,Tue 02:00-05:00", "unknown day ''");
        parse_err("Mon- 02:00-05:00", "unknown day");
        parse_err("Mon 02:00-05:00 Mars/Base", "unknown time zone 'Mars/Base'");
        parse_err("Mon 02:00-05:00 ../../../etc/passwd", "unknown time zone");
        parse_err("Mon 02:00-05:00 /etc/localtime", "unknown time zone");
        parse_err("Mon 25:00-05:00", "invalid time range '25:00-05:00'");
        parse_err("Mon 24:00-05:00", "invalid time range");
        parse_err("Mon 02:00-24:01", "invalid time range");
        parse_err("Mon 02:60-05:00", "invalid time range");
        parse_err("Mon 02:00", "invalid time range");
        parse_err("Mon 0200-0500", "invalid time range");
        parse_err("Mon 02:00-05:00x", "invalid time range");
        parse_err("Mon", "expected 'DAYS HH:MM-HH:MM [TIMEZONE]'");
        parse_err("", NULL);
        parse_err("Mon 02:00-05:00 UTC extra", "expected");
}

static void test_single_digit_hour(void **state) {
        Window *w = parse_ok("Mon 2:00-5:30 UTC");

        assert_true(window_contains(w, utc(2024, 1, 15, 5, 29)));
        assert_false(window_contains(w, utc(2024, 1, 15, 5, 30)));
        window_free(w);
        assert_null(window_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_simple),
                cmocka_unit_test(test_crossing_midnight),
                cmocka_unit_test(test_day_ranges),
                cmocka_unit_test(test_24h),
                cmocka_unit_test(test_timezone),
                cmocka_unit_test(test_timezone_dst_change),
                cmocka_unit_test(test_tz_restored),
                cmocka_unit_test(test_next_open),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_single_digit_hour),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
