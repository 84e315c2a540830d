/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "strmap.h"

static void test_basic(void **state) {
        StrMap m = {};
        int a = 1, b = 2;

        assert_null(strmap_get(&m, "x"));
        assert_null(strmap_remove(&m, "x"));
        assert_int_equal(strmap_put(&m, "x", &a), 0);
        assert_int_equal(strmap_put(&m, "y", &b), 0);
        assert_ptr_equal(strmap_get(&m, "x"), &a);
        assert_ptr_equal(strmap_get(&m, "y"), &b);
        assert_null(strmap_get(&m, "z"));
        assert_null(strmap_get(&m, NULL));
        assert_int_equal(strmap_put(&m, "x", &b), 0); /* replaces */
        assert_int_equal(m.n, 2);
        assert_ptr_equal(strmap_get(&m, "x"), &b);
        assert_ptr_equal(strmap_remove(&m, "x"), &b);
        assert_null(strmap_get(&m, "x"));
        assert_ptr_equal(strmap_get(&m, "y"), &b);
        assert_int_equal(m.n, 1);
        strmap_clear(&m);
        assert_null(strmap_get(&m, "y"));
        assert_int_equal(m.n, 0);
}

/* Random puts and removes against a plain array: every key the model has is found with its
 * value, every other is not (removal by backward shift must not lose a later entry). */
#define KEYS 3000
static void test_against_model(void **state) {
        static char names[KEYS][16];
        static void *model[KEYS];
        StrMap m = {};
        size_t live = 0;

        srand(12);
        for (int i = 0; i < KEYS; i++)
                snprintf(names[i], sizeof names[i], "check-%d", i);
        for (int step = 0; step < 200000; step++) {
                int k = rand() % KEYS;
                if (rand() % 3) {
                        void *v = (void *) (uintptr_t) (step + 1);
                        assert_int_equal(strmap_put(&m, names[k], v), 0);
                        live += !model[k];
                        model[k] = v;
                } else {
                        assert_ptr_equal(strmap_remove(&m, names[k]), model[k]);
                        live -= !!model[k];
                        model[k] = NULL;
                }
                assert_int_equal(m.n, live);
                if (step % 10007 == 0)
                        for (int i = 0; i < KEYS; i++)
                                assert_ptr_equal(strmap_get(&m, names[i]), model[i]);
        }
        for (int i = 0; i < KEYS; i++)
                assert_ptr_equal(strmap_get(&m, names[i]), model[i]);
        assert_true(m.n * 2 <= m.cap);
        strmap_clear(&m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_basic),
                cmocka_unit_test(test_against_model),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
