/* SPDX-License-Identifier: MIT */
/* coord/etcd-common.c: base64 keys and values as etcd's JSON gateway writes them (RFC 4648,
 * padded), what a bad answer gets (NULL), and prefix_end(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "etcd-common.h"

static void check_b64(const char *plain, const char *coded) {
        char *e = b64(plain), *d = unb64(coded);

        assert_non_null(e);
        assert_string_equal(e, coded);
        assert_non_null(d);
        assert_string_equal(d, plain);
        free(e);
        free(d);
}

static void test_vectors(void **state) {
        /* RFC 4648 section 10 */
        check_b64("", "");
        check_b64("f", "Zg==");
        check_b64("fo", "Zm8=");
        check_b64("foo", "Zm9v");
        check_b64("foob", "Zm9vYg==");
        check_b64("fooba", "Zm9vYmE=");
        check_b64("foobar", "Zm9vYmFy");
        /* every alphabet character, the last two included */
        check_b64("\xfb\xff\xbf", "+/+/");
        check_b64("/medic/members/node-1", "L21lZGljL21lbWJlcnMvbm9kZS0x");
}

static void test_round_trip(void **state) {
        char s[256];

        for (int n = 0; n < 255; n++) {
                for (int i = 0; i < n; i++)
                        s[i] = (char) (1 + (i * 37 + n) % 255);   /* every byte but NUL */
                s[n] = 0;
                char *e = b64(s);
                assert_non_null(e);
                assert_int_equal(strlen(e), 4 * (((size_t) n + 2) / 3));
                char *d = unb64(e);
                assert_non_null(d);
                assert_string_equal(d, s);
                free(e);
                free(d);
        }
}

static void test_bad(void **state) {
        static const char *const bad[] = {
                "Zg=",      /* not a multiple of 4 */
                "Zm9",
                "Z",
                "Zm9v!A==", /* not in the alphabet */
                "Zm\x80v",
                "Zm-v",     /* the URL alphabet is not etcd's */
                "Zm_v",
                "Zg==Zg==", /* padding inside */
                "Z===",     /* more padding than a group can have */
                "====",
                " Zg==",    /* no whitespace */
                "Zg==\n",
                NULL,
        };
        for (size_t i = 0; bad[i]; i++) {
                char *d = unb64(bad[i]);
                if (d)
                        fail_msg("unb64(\"%s\") = \"%s\", expected NULL", bad[i], d);
        }
}

static void test_prefix_end(void **state) {
        char *e = prefix_end("/medic/");
        assert_string_equal(e, "/medic0");
        free(e);
        e = prefix_end("");
        assert_string_equal(e, "");
        free(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vectors),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_bad),
                cmocka_unit_test(test_prefix_end),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
