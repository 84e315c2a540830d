/* SPDX-License-Identifier: MIT */
/* IPMI SEL positions (lib/ipmi-sel.h): the helper's --after text and the cursors of
 * ipmi-sel.json. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ipmi-sel.h"

static void test_position_text(void **state) {
        char buf[SEL_POSITION_TEXT_MAX];
        SelPosition p = { 1, 2 };

        assert_int_equal(sel_position_parse("12:1700000000", &p), 0);
        assert_int_equal(p.id, 12);
        assert_int_equal(p.timestamp, 1700000000);
        assert_int_equal(sel_position_parse("65535:9223372036854775807", &p), 0);
        assert_int_equal(p.id, 65535);
        assert_true(p.timestamp == INT64_MAX);
        assert_string_equal(sel_position_format(&p, buf), "65535:9223372036854775807");

        const char *bad[] = { "", ":", "1:", ":1", "1", "65536:0", "-1:0", "1:-1", "+1:0", " 1:0", "1:0 ",
                              "1:9223372036854775808", "1:2:3", "0x10:0", "1:1e3", NULL };
        for (size_t i = 0; bad[i]; i++) {
                p = (SelPosition) { 7, 7 };
                assert_int_equal(sel_position_parse(bad[i], &p), -EINVAL);
                assert_int_equal(p.id, 7); /* untouched */
        }
        assert_int_equal(sel_position_parse(NULL, &p), -EINVAL);

        p = (SelPosition) { 65536, 0 };
        assert_null(sel_position_format(&p, buf));
        p = (SelPosition) { 0, -1 };
        assert_null(sel_position_format(&p, buf));
}

static SelCursorKind cursor_of(const char *text, SelPosition *p) {
        bool unreadable;
        struct json_object *s = sel_state_parse(text, &unreadable);

        assert_non_null(s);
        SelCursorKind k = sel_cursor_get(s, "c", p);
        json_object_put(s);
        return k;
}

/* A cursor the helper would refuse (it came back as --after on every read, each failed, no
 * new position was ever saved) reads as INVALID: the binding starts afresh. */
static void test_cursors(void **state) {
        SelPosition p = {};
        bool unreadable;
        struct json_object *s;

        assert_int_equal(cursor_of("{\"cursors\":{\"c\":{\"id\":42,\"timestamp\":1733300000}}}", &p), SEL_CURSOR_AT);
        assert_int_equal(p.id, 42);
        assert_int_equal(p.timestamp, 1733300000);
        assert_int_equal(cursor_of("{\"cursors\":{\"c\":{\"id\":7}}}", &p), SEL_CURSOR_AT);
        assert_int_equal(p.timestamp, 0);
        assert_int_equal(cursor_of("{\"cursors\":{\"c\":{\"empty\":true}}}", &p), SEL_CURSOR_EMPTY);
        assert_int_equal(cursor_of("{\"cursors\":{\"d\":{\"id\":1}}}", &p), SEL_CURSOR_NONE);
        assert_int_equal(cursor_of("{\"cursors\":{\"c\":5}}", &p), SEL_CURSOR_NONE);
        assert_int_equal(cursor_of("{\"cursors\":[]}", &p), SEL_CURSOR_NONE);

        const char *invalid[] = {
                "{\"cursors\":{\"c\":{\"id\":864444444444,\"timestamp\":1}}}", /* regress-id-out-of-range */
                "{\"cursors\":{\"c\":{\"id\":65536}}}",
                "{\"cursors\":{\"c\":{\"id\":-1}}}",
                "{\"cursors\":{\"c\":{\"id\":1,\"timestamp\":-5}}}",
                "{\"cursors\":{\"c\":{\"id\":1,\"timestamp\":18446744073709551615}}}",
                "{\"cursors\":{\"c\":{\"id\":\"12\"}}}",
                "{\"cursors\":{\"c\":{\"id\":1.5}}}",
                "{\"cursors\":{\"c\":{\"id\":null}}}",
                "{\"cursors\":{\"c\":{\"id\":1,\"timestamp\":\"x\"}}}",
                NULL,
        };
        for (size_t i = 0; invalid[i]; i++)
                assert_int_equal(cursor_of(invalid[i], &p), SEL_CURSOR_INVALID);

        assert_non_null(s = sel_state_parse("not json", &unreadable));
        assert_true(unreadable);
        assert_non_null(json_object_object_get(s, "cursors"));
        json_object_put(s);
        assert_non_null(s = sel_state_parse("[1]", &unreadable));
        assert_true(unreadable);
        json_object_put(s);
        assert_non_null(s = sel_state_parse(NULL, &unreadable));
        assert_false(unreadable);
        json_object_put(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_position_text),
                cmocka_unit_test(test_cursors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
