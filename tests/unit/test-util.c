/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

static char *tmpdir;

static int setup(void **state) {
        char t[] = "/tmp/medic-test-util-XXXXXX";

        if (!mkdtemp(t))
                return -1;
        tmpdir = strdup(t);
        return tmpdir ? 0 : -1;
}

static int rm_rf(const char *path) {
        struct stat st;
        DIR *d;
        struct dirent *de;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlink(path) < 0 ? -errno : 0;
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char *p;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                p = strprintf("%s/%s", path, de->d_name);
                if (p)
                        (void) rm_rf(p);
                free(p);
        }
        closedir(d);
        return rmdir(path) < 0 ? -errno : 0;
}

static int teardown(void **state) {
        int r = rm_rf(tmpdir);
        free(tmpdir);
        return r;
}

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static void test_strlist(void **state) {
        StrList l = {};

        assert_false(strlist_contains(&l, "a"));
        assert_int_equal(strlist_add(&l, "a"), 0);
        assert_int_equal(strlist_addf(&l, "%s-%d", "b", 2), 0);
        for (int i = 0; i < 50; i++)
                assert_int_equal(strlist_addf(&l, "x%d", i), 0);
        assert_int_equal(l.n, 52);
        assert_string_equal(l.v[0], "a");
        assert_string_equal(l.v[1], "b-2");
        assert_string_equal(l.v[51], "x49");
        assert_null(l.v[52]);                   /* NULL-terminated */
        assert_true(strlist_contains(&l, "b-2"));
        assert_true(strlist_contains(&l, "x49"));
        assert_false(strlist_contains(&l, "b"));
        assert_false(strlist_contains(&l, NULL));

        strlist_clear(&l);
        assert_int_equal(l.n, 0);
        assert_null(l.v);
        assert_false(strlist_contains(&l, "a"));
        strlist_clear(&l);                      /* twice is fine */
}

static void test_strings(void **state) {
        char *s;

        assert_true(streq_ptr(NULL, NULL));
        assert_false(streq_ptr("a", NULL));
        assert_false(streq_ptr(NULL, "a"));
        assert_true(streq_ptr("a", "a"));
        assert_false(streq_ptr("a", "b"));

        assert_null(strdup_or_null(NULL));
        s = strdup_or_null("x");
        assert_string_equal(s, "x");
        free(s);

        s = strprintf("%s=%d", "n", 42);
        assert_string_equal(s, "n=42");
        free(s);
}

static void test_clocks(void **state) {
        uint64_t a = now_monotonic(), b = now_monotonic();
        uint64_t r = now_realtime();

        assert_true(a > 0);
        assert_true(b >= a);
        /* Realtime in usec since the epoch: after 2020-01-01 and consistent with time(). */
        assert_true(r > UINT64_C(1577836800) * USEC_PER_SEC);
        assert_true(r / USEC_PER_SEC + 2 >= (uint64_t) time(NULL));
        assert_true(r / USEC_PER_SEC <= (uint64_t) time(NULL));
}

static void test_write_file_atomic(void **state) {
        _cleanup_free_ char *path = strprintf("%s/state.json", tmpdir);
        char *data = NULL;
        size_t size = 0;
        struct stat st;

        assert_int_equal(write_file_atomic(path, "first version, long text", 24, 0600), 0);
        assert_int_equal(read_file(path, 1024, &data, &size), 0);
        assert_int_equal(size, 24);
        assert_string_equal(data, "first version, long text");
        free(data);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* Replacing with shorter content: no leftovers of the old content. */
        assert_int_equal(write_file_atomic(path, "second", 6, 0644), 0);
        assert_int_equal(read_file(path, 1024, &data, &size), 0);
        assert_int_equal(size, 6);
        assert_string_equal(data, "second");
        free(data);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);

        /* Empty content. */
        assert_int_equal(write_file_atomic(path, "", 0, 0600), 0);
        assert_int_equal(read_file(path, 1024, &data, &size), 0);
        assert_int_equal(size, 0);
        assert_string_equal(data, "");
        free(data);

        /* No temporary files are left behind. */
        assert_int_equal(count_entries(tmpdir), 1);
        assert_int_equal(unlink(path), 0);
}

static void test_write_file_atomic_keeps_old_on_failure(void **state) {
        _cleanup_free_ char *path = strprintf("%s/keep", tmpdir);
        _cleanup_free_ char *missing = strprintf("%s/no/such/dir/file", tmpdir);
        _cleanup_free_ char *dirpath = strprintf("%s/adir", tmpdir);
        char *data = NULL;

        assert_int_equal(write_file_atomic(path, "old", 3, 0600), 0);
        assert_int_equal(write_file_atomic(missing, "x", 1, 0600), -ENOENT);

        /* rename() over a directory fails: the temp file must be removed again. */
        assert_int_equal(mkdir(dirpath, 0700), 0);
        assert_true(write_file_atomic(dirpath, "x", 1, 0600) < 0);
        assert_int_equal(count_entries(tmpdir), 2);     /* keep, adir */

        assert_int_equal(read_file(path, 1024, &data, NULL), 0);
        assert_string_equal(data, "old");
        free(data);
        assert_int_equal(write_file_atomic("", "x", 1, 0600), -EINVAL);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dirpath), 0);
}

/* What a write killed before its rename leaves (".NAME.XXXXXX") goes; nothing else does. */
static void test_atomic_temps_remove(void **state) {
        _cleanup_free_ char *dir = strprintf("%s/temps", tmpdir);
        const char *keep[] = { "state.json", ".hidden", ".a.toolong7", "lock" };
        const char *gone[] = { ".state.json.Ab3dE9", ".permission.json.xYz012" };

        assert_int_equal(mkdir(dir, 0700), 0);
        for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
                _cleanup_free_ char *p = strprintf("%s/%s", dir, keep[i]);
                assert_int_equal(write_file_atomic(p, "{}", 2, 0600), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(gone); i++) {
                _cleanup_free_ char *p = strprintf("%s/%s", dir, gone[i]);
                int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                assert_true(fd >= 0);
                close(fd);
        }
        assert_int_equal(atomic_temps_remove(dir), 2);
        assert_int_equal(count_entries(dir), 4);
        assert_int_equal(atomic_temps_remove(dir), 0);
        assert_true(atomic_temps_remove("/nonexistent/medic") < 0);
}

static void test_write_file_atomic_large(void **state) {
        _cleanup_free_ char *path = strprintf("%s/large", tmpdir);
        const size_t n = 3 * 1024 * 1024 + 17;
        char *big = malloc(n), *data = NULL;
        size_t size;

        assert_non_null(big);
        for (size_t i = 0; i < n; i++)
                big[i] = (char) ('a' + i % 26);
        assert_int_equal(write_file_atomic(path, big, n, 0600), 0);
        assert_int_equal(read_file(path, n, &data, &size), 0);
        assert_int_equal(size, n);
        assert_memory_equal(data, big, n);
        free(data);

        /* One byte more than allowed: -EFBIG, nothing returned. */
        data = NULL;
        assert_int_equal(read_file(path, n - 1, &data, &size), -EFBIG);
        assert_null(data);

        free(big);
        assert_int_equal(unlink(path), 0);
}

static void test_read_word(void **state) {
        _cleanup_free_ char *path = strprintf("%s/boot_id", tmpdir);
        char *word = NULL;

        assert_int_equal(write_file_atomic(path, "3f2a-11\n", 8, 0600), 0);
        assert_int_equal(read_word(path, 256, &word), 0);
        assert_string_equal(word, "3f2a-11");
        free(word);
        word = NULL;
        assert_int_equal(write_file_atomic(path, "  a b\n", 6, 0600), 0);
        assert_int_equal(read_word(path, 256, &word), 0);
        assert_string_equal(word, "a");
        free(word);
        word = NULL;
        assert_int_equal(write_file_atomic(path, " \n", 2, 0600), 0);
        assert_int_equal(read_word(path, 256, &word), -ENODATA);
        assert_null(word);
        assert_int_equal(read_word(path, 1, &word), -EFBIG);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(read_word(path, 256, &word), -ENOENT);
        assert_null(word);
}

static void test_read_file(void **state) {
        _cleanup_free_ char *path = strprintf("%s/small", tmpdir);
        _cleanup_free_ char *missing = strprintf("%s/missing", tmpdir);
        char *data = NULL;
        size_t size = 99;

        assert_int_equal(write_file_atomic(path, "hello\n", 6, 0600), 0);
        assert_int_equal(read_file(path, 6, &data, &size), 0);
        assert_int_equal(size, 6);
        assert_string_equal(data, "hello\n");
        free(data);
        data = NULL;

        assert_int_equal(read_file(path, 5, &data, &size), -EFBIG);
        assert_null(data);
        assert_int_equal(read_file(path, 0, &data, &size), -EFBIG);
        assert_int_equal(read_file(missing, 100, &data, &size), -ENOENT);
        assert_int_equal(read_file(tmpdir, 100, &data, &size), -EISDIR);
        assert_int_equal(read_file("/dev/null", 100, &data, &size), -EINVAL);

        /* Files whose st_size is 0 (procfs) are read until EOF. */
        if (access("/proc/self/status", R_OK) == 0) {
                assert_int_equal(read_file("/proc/self/status", 1024 * 1024, &data, &size), 0);
                assert_true(size > 0);
                assert_non_null(strstr(data, "Name:"));
                free(data);
                data = NULL;
                assert_int_equal(read_file("/proc/self/status", 10, &data, &size), -EFBIG);
                assert_null(data);
        }
        assert_int_equal(unlink(path), 0);
}

static void test_mkdir_p(void **state) {
        _cleanup_free_ char *deep = strprintf("%s/a/b//c/d/", tmpdir);
        _cleanup_free_ char *file = strprintf("%s/file", tmpdir);
        _cleanup_free_ char *under_file = strprintf("%s/file/sub", tmpdir);
        _cleanup_free_ char *check = strprintf("%s/a/b/c/d", tmpdir);
        mode_t old_umask = umask(022);
        struct stat st;

        assert_int_equal(mkdir_p(deep, 0750), 0);
        assert_int_equal(stat(check, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0750);
        umask(old_umask);
        /* Existing: fine. */
        assert_int_equal(mkdir_p(deep, 0750), 0);
        assert_int_equal(mkdir_p(tmpdir, 0750), 0);

        /* A file in the way. */
        assert_int_equal(write_file_atomic(file, "x", 1, 0600), 0);
        assert_int_equal(mkdir_p(file, 0750), -ENOTDIR);
        assert_int_equal(mkdir_p(under_file, 0750), -ENOTDIR);

        assert_int_equal(mkdir_p("", 0750), -EINVAL);
        assert_int_equal(rm_rf(file), 0);
}

static void test_str_excerpt(void **state) {
        char *x;

        x = str_excerpt("plain", 100);
        assert_string_equal(x, "plain");
        free(x);
        x = str_excerpt("a\x01" "b\nc\x7f\x1b[31m", 100);
        assert_string_equal(x, "a b c  [31m");
        free(x);
        x = str_excerpt("abcdef", 3);
        assert_string_equal(x, "abc...");
        free(x);
        /* not cut inside a UTF-8 sequence: "é" is 2 bytes at 2-3 */
        x = str_excerpt("ab\xc3\xa9" "cd", 3);
        assert_string_equal(x, "ab...");
        free(x);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strlist),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_clocks),
                cmocka_unit_test(test_write_file_atomic),
                cmocka_unit_test(test_write_file_atomic_keeps_old_on_failure),
                cmocka_unit_test(test_atomic_temps_remove),
                cmocka_unit_test(test_write_file_atomic_large),
                cmocka_unit_test(test_read_file),
                cmocka_unit_test(test_read_word),
                cmocka_unit_test(test_mkdir_p),
                cmocka_unit_test(test_str_excerpt),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
