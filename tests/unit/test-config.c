/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "util.h"

static char *tmpdir;

static int setup(void **state) {
        char t[] = "/tmp/medic-test-config-XXXXXX";

        if (!mkdtemp(t))
                return -1;
        tmpdir = strdup(t);
        return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
        int r = rmdir(tmpdir) < 0 ? -1 : 0;  /* every test removes its files: must be empty */
        free(tmpdir);
        return r;
}

/* Writes content to tmpdir/name and returns the path. */
static char *write_conf(const char *name, const char *content) {
        char *path = strprintf("%s/%s", tmpdir, name);

        assert_non_null(path);
        assert_int_equal(write_file_atomic(path, content, strlen(content), 0644), 0);
        return path;
}

static void dump_errors(const StrList *errors) {
        for (size_t i = 0; i < errors->n; i++)
                print_message("  error: %s\n", errors->v[i]);
}

static Config *load_ok(const char *content) {
        _cleanup_free_ char *path = write_conf("medic.conf", content);
        StrList errors = {};
        Config *c = NULL;
        int r;

        r = config_load(path, &c, &errors);
        if (r != 0) {
                dump_errors(&errors);
                fail_msg("config_load() = %d", r);
        }
        assert_int_equal(errors.n, 0);
        assert_non_null(c);
        assert_string_equal(c->path, path);
        assert_int_equal(unlink(path), 0);
        return c;
}

/* Loads content expecting failure; the errors must be exactly the given lines, each
 * "medic.conf:LINE: " followed by text containing the given fragment. Terminated by 0. */
static void load_err(const char *content, ...) {
        _cleanup_free_ char *path = write_conf("medic.conf", content);
        StrList errors = {};
        Config *c = (Config *) 0x1;
        size_t n = 0;
        va_list ap;

        assert_int_equal(config_load(path, &c, &errors), -EINVAL);
        assert_ptr_equal(c, (Config *) 0x1);   /* not set */

        va_start(ap, content);
        for (;;) {
                int line = va_arg(ap, int);
                const char *frag;
                _cleanup_free_ char *prefix = NULL;

                if (line == 0)
                        break;
                frag = va_arg(ap, const char *);
                prefix = strprintf("%s:%d: ", path, line);
                if (n >= errors.n) {
                        dump_errors(&errors);
                        fail_msg("missing error %zu: %s...%s", n, prefix, frag);
                }
                if (strncmp(errors.v[n], prefix, strlen(prefix)) != 0 || !strstr(errors.v[n], frag)) {
                        dump_errors(&errors);
                        fail_msg("error %zu is \"%s\", expected \"%s...%s\"", n, errors.v[n], prefix, frag);
                }
                n++;
        }
        va_end(ap);
        if (n != errors.n) {
                dump_errors(&errors);
                fail_msg("%zu errors, expected %zu", errors.n, n);
        }
        strlist_clear(&errors);
        assert_int_equal(unlink(path), 0);
}

static void test_defaults(void **state) {
        Config *c = NULL;
        char host[HOST_NAME_MAX + 1] = {};

        assert_int_equal(config_new_default(&c), 0);
        assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
        assert_string_equal(c->node, host);
        assert_string_equal(c->group, "default");
        assert_int_equal(c->check_dirs.n, 2);
        assert_string_equal(c->check_dirs.v[0], PKGDATADIR "/checks");
        assert_string_equal(c->check_dirs.v[1], SYSCONFDIR "/medic/checks.d");
        assert_int_equal(c->rule_dirs.n, 2);
        assert_string_equal(c->rule_dirs.v[0], PKGDATADIR "/rules");
        assert_string_equal(c->rule_dirs.v[1], SYSCONFDIR "/medic/rules.d");
        assert_string_equal(c->state_dir, LOCALSTATEDIR "/lib/medic");
        assert_string_equal(c->socket_path, DEFAULT_SOCKET); /* the one medicctl uses */
        assert_string_equal(c->stop_file, SYSCONFDIR "/medic/stop");
        assert_int_equal(c->log_level, LOG_INFO);
        assert_true(c->dry_run);
        assert_true(c->verify_owner);
        assert_int_equal(c->lua_memory_limit, 64 * 1024 * 1024);
        assert_int_equal(c->check_timeout, 30 * USEC_PER_SEC);
        assert_int_equal(c->flapping.count, 5);
        assert_int_equal(c->flapping.window_usec, 600 * USEC_PER_SEC);
        assert_int_equal(c->history_size, 1000);
        assert_string_equal(c->coordinator, "local");
        assert_null(c->path);
        assert_int_equal(c->breaker_group.window_usec, 0);   /* no storm breaker by default */
        assert_int_equal(c->breaker_cluster.window_usec, 0);
        assert_null(config_free(c));
        assert_null(config_free(NULL));
}

static void test_empty_file_is_defaults(void **state) {
        Config *c = load_ok("; nothing here\n\n# nor here\n");

        assert_string_equal(c->group, "default");
        assert_true(c->dry_run);
        assert_int_equal(c->check_dirs.n, 2);
        config_free(c);

        c = load_ok("[medic]\n[coordinator]\n");
        assert_string_equal(c->coordinator, "local");
        config_free(c);
}

static void test_every_key(void **state) {
        Config *c = load_ok(
                "# medic configuration\n"
                "[medic]\n"
                "node = web-01\n"
                "group = web\n"
                "checks = /opt/checks /srv/more-checks\n"
                "rules = /opt/rules\n"
                "state_dir = /srv/state\n"
                "socket = /srv/medic.sock\n"
                "stop_file = /srv/stop\n"
                "log_level = debug\n"
                "dry_run = no\n"
                "verify_owner = off\n"
                "lua_memory_limit = 128M\n"
                "check_timeout = 1m30s\n"
                "flapping = 3/5m\n"
                "history_size = 250\n"
                "\n"
                "[coordinator]\n"
                "backend = local\n");

        assert_string_equal(c->node, "web-01");
        assert_string_equal(c->group, "web");
        assert_int_equal(c->check_dirs.n, 2);
        assert_string_equal(c->check_dirs.v[0], "/opt/checks");
        assert_string_equal(c->check_dirs.v[1], "/srv/more-checks");
        assert_null(c->check_dirs.v[2]);
        assert_int_equal(c->rule_dirs.n, 1);
        assert_string_equal(c->rule_dirs.v[0], "/opt/rules");
        assert_string_equal(c->state_dir, "/srv/state");
        assert_string_equal(c->socket_path, "/srv/medic.sock");
        assert_string_equal(c->stop_file, "/srv/stop");
        assert_int_equal(c->log_level, LOG_DEBUG);
        assert_false(c->dry_run);
        assert_false(c->verify_owner);
        assert_int_equal(c->lua_memory_limit, 128 * 1024 * 1024);
        assert_int_equal(c->check_timeout, 90 * USEC_PER_SEC);
        assert_int_equal(c->flapping.count, 3);
        assert_int_equal(c->flapping.window_usec, 300 * USEC_PER_SEC);
        assert_int_equal(c->history_size, 250);
        assert_string_equal(c->coordinator, "local");
        config_free(c);
}

static void test_breaker(void **state) {
        Config *c = load_ok("[coordinator]\nbackend = etcd\nendpoints = http://127.0.0.1:2379\n"
                            "breaker_group = 30%/10m\nbreaker_cluster = 20/1h\n");

        assert_true(c->breaker_group.limit.percent);
        assert_int_equal(c->breaker_group.limit.value, 30);
        assert_int_equal(c->breaker_group.window_usec, 600 * USEC_PER_SEC);
        assert_false(c->breaker_cluster.limit.percent);
        assert_int_equal(c->breaker_cluster.limit.value, 20);
        assert_int_equal(c->breaker_cluster.window_usec, 3600 * USEC_PER_SEC);
        config_free(c);
        load_err("[coordinator]\nbackend = etcd\nendpoints = http://127.0.0.1:2379\nbreaker_group = 30%\n", 4,
                 "invalid breaker_group '30%' (expected N/DURATION", 0);
        load_err("[coordinator]\nbackend = etcd\nendpoints = http://127.0.0.1:2379\nbreaker_cluster = 20%/1h\n", 4,
                 "a node does not know the cluster's size", 0);
        load_err("[coordinator]\nbackend = local\nbreaker_group = 3/1h\n", 2,
                 "breaker_group and breaker_cluster need backend = etcd", 0);
}

static void test_value_forms(void **state) {
        /* Inline comments, ':' separator, case of booleans and levels, continuation lines for
         * lists, a BOM, CRLF line ends. */
        Config *c = load_ok(
                "\xEF\xBB\xBF[medic]\r\n"
                "dry_run = YES ; comment\r\n"
                "log_level: Warning\r\n"
                "checks =\r\n"
                "    /a /b\r\n"
                "    /c\r\n"
                "; a comment between\r\n"
                "verify_owner = 1\r\n");

        assert_true(c->dry_run);
        assert_true(c->verify_owner);
        assert_int_equal(c->log_level, LOG_WARNING);
        assert_int_equal(c->check_dirs.n, 3);
        assert_string_equal(c->check_dirs.v[0], "/a");
        assert_string_equal(c->check_dirs.v[1], "/b");
        assert_string_equal(c->check_dirs.v[2], "/c");
        /* rules untouched: defaults */
        assert_int_equal(c->rule_dirs.n, 2);
        config_free(c);
}

/* actual must be base + "/" + rest. */
static void assert_path(const char *actual, const char *base, const char *rest) {
        _cleanup_free_ char *expected = strprintf("%s/%s", base, rest);

        assert_non_null(actual);
        assert_string_equal(actual, expected);
}

static void test_relative_paths(void **state) {
        _cleanup_free_ char *sub = strprintf("%s/sub", tmpdir);
        _cleanup_free_ char *path = strprintf("%s/sub/medic.conf", tmpdir);
        _cleanup_free_ char *oldcwd = getcwd(NULL, 0), *cwd = NULL;
        const char *text =
                "[medic]\n"
                "checks = checks.d /abs/checks ../shared\n"
                "rules = rules.d\n"
                "state_dir = state\n"
                "socket = run/medicd.sock\n"
                "stop_file = ./stop\n";
        StrList errors = {};
        Config *c = NULL;

        assert_non_null(oldcwd);
        assert_int_equal(mkdir(sub, 0755), 0);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);

        /* Absolute config path. */
        assert_int_equal(config_load(path, &c, &errors), 0);
        assert_int_equal(c->check_dirs.n, 3);
        assert_path(c->check_dirs.v[0], tmpdir, "sub/checks.d");
        assert_string_equal(c->check_dirs.v[1], "/abs/checks");
        assert_path(c->check_dirs.v[2], tmpdir, "sub/../shared");
        assert_int_equal(c->rule_dirs.n, 1);
        assert_path(c->rule_dirs.v[0], tmpdir, "sub/rules.d");
        assert_path(c->state_dir, tmpdir, "sub/state");
        assert_path(c->socket_path, tmpdir, "sub/run/medicd.sock");
        assert_path(c->stop_file, tmpdir, "sub/./stop");
        config_free(c);
        c = NULL;

        /* Relative config path: the paths become absolute through the working directory. */
        assert_int_equal(chdir(tmpdir), 0);
        cwd = getcwd(NULL, 0);
        assert_non_null(cwd);
        assert_int_equal(config_load("sub/medic.conf", &c, &errors), 0);
        assert_path(c->state_dir, cwd, "sub/state");
        assert_path(c->check_dirs.v[0], cwd, "sub/checks.d");
        config_free(c);
        c = NULL;

        /* Config file in the working directory itself. */
        assert_int_equal(chdir(sub), 0);
        assert_int_equal(config_load("medic.conf", &c, &errors), 0);
        assert_path(c->state_dir, cwd, "sub/state");
        config_free(c);

        assert_int_equal(errors.n, 0);
        assert_int_equal(chdir(oldcwd), 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(sub), 0);
}

static void test_many_errors(void **state) {
        load_err(
                "[medic]\n"                             /* 1 */
                "node = a\n"                            /* 2 */
                "dry_run = maybe\n"                     /* 3 */
                "bogus = 1\n"                           /* 4 */
                "node = b\n"                            /* 5 */
                "[nonsense]\n"                          /* 6 */
                "foo = bar\n"                           /* 7: not reported again */
                "[coordinator]\n"                       /* 8 */
                "backend = zookeeper\n"                 /* 9 */
                "this line is garbage\n"                /* 10 */
                "[medic]\n"                             /* 11 */
                "log_level = loud\n"                    /* 12 */
                "check_timeout = 5x\n"                  /* 13 */
                "flapping = 5\n"                        /* 14 */
                "lua_memory_limit = 12Q\n"              /* 15 */
                "history_size = -1\n"                   /* 16 */
                "group = has space\n"                   /* 17 */
                "  continued\n"                         /* 18 */
                "verify_owner =\n"                      /* 19 */
                "dry_run = yes\n"                       /* 20: first was bad, still a duplicate */
                "[broken\n",                            /* 21 */
                3, "invalid boolean 'maybe' for dry_run",
                4, "unknown key 'bogus' in section [medic]",
                5, "duplicate key 'node' (already set on line 2)",
                6, "unknown section [nonsense]",
                9, "unknown coordinator backend 'zookeeper' (expected local, etcd or fleetlock)",
                10, "expected 'key = value'",
                12, "invalid log_level 'loud'",
                13, "invalid duration '5x' for check_timeout",
                14, "invalid rate '5' for flapping",
                15, "invalid size '12Q' for lua_memory_limit",
                16, "invalid history_size '-1'",
                17, "invalid group 'has space'",
                18, "unexpected indented line",
                19, "invalid boolean '' for verify_owner",
                20, "duplicate key 'dry_run' (already set on line 3)",
                21, "missing ']'",
                0);
}

static void test_key_outside_section(void **state) {
        load_err("node = x\n[medic]\nnode = y\n",
                 1, "key 'node' outside of a section", 0);
}

static void test_duplicate_across_sections(void **state) {
        load_err("[medic]\ngroup = a\n[coordinator]\nbackend = local\n[medic]\ngroup = b\n",
                 6, "duplicate key 'group' (already set on line 2)", 0);
        load_err("[coordinator]\nbackend = local\nbackend = local\n",
                 3, "duplicate key 'backend'", 0);
}

static void test_unknown_key_in_coordinator(void **state) {
        /* Keys belong to their section. */
        load_err("[coordinator]\nnode = x\n[medic]\nbackend = local\n",
                 2, "unknown key 'node' in section [coordinator]",
                 4, "unknown key 'backend' in section [medic]", 0);
}

static void test_bad_values(void **state) {
        load_err("[medic]\ndry_run = 2\n", 2, "invalid boolean '2' for dry_run", 0);
        load_err("[medic]\nverify_owner = nope\n", 2, "invalid boolean 'nope' for verify_owner", 0);
        load_err("[coordinator]\nbackend = fleetlock\n",
                 2, "backend = fleetlock needs url = http://HOST:PORT", 0);
        load_err("[coordinator]\nbackend = fleetlock\nurl = ftp://x\n", 3, "invalid url 'ftp://x'",
                 2, "backend = fleetlock needs url", 0);
        load_err("[medic]\ngroup = a_b\n[coordinator]\nbackend = fleetlock\nurl = http://127.0.0.1:1\n",
                 4, "group 'a_b' cannot be used with FleetLock", 0);
        load_err("[coordinator]\nbackend = zookeeper\n", 2, "unknown coordinator backend 'zookeeper'", 0);
        load_err("[medic]\ncheck_timeout = 0\n", 2, "invalid duration '0'", 0);
        load_err("[medic]\nflapping = 0/10m\n", 2, "invalid rate", 0);
        load_err("[medic]\nlua_memory_limit = 1000\n", 2, "too small", 0);
        load_err("[medic]\nhistory_size = 99999999999\n", 2, "invalid history_size", 0);
        load_err("[medic]\nhistory_size = 12abc\n", 2, "invalid history_size", 0);
        load_err("[medic]\nnode =\n", 2, "invalid node ''", 0);
        load_err("[medic]\nstate_dir =\n", 2, "empty value for 'state_dir'", 0);
        load_err("[medic]\nsocket = /tmp/"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                 2, "is too long", 0);
}

static void test_labels(void **state) {
        Config *c = load_ok("[medic]\n");
        assert_int_equal(c->labels.n, 0);
        assert_null(labels_get(&c->labels, "role"));
        config_free(c);

        /* Commas or blanks between labels, continuation lines, values as given. */
        c = load_ok("[medic]\nlabels = role=controller, rack=r12\n  zone=eu-1.a\n");
        assert_int_equal(c->labels.n, 3);
        assert_string_equal(c->labels.v[0], "role=controller");
        assert_string_equal(c->labels.v[1], "rack=r12");
        assert_string_equal(labels_get(&c->labels, "role"), "controller");
        assert_string_equal(labels_get(&c->labels, "rack"), "r12");
        assert_string_equal(labels_get(&c->labels, "zone"), "eu-1.a");
        assert_null(labels_get(&c->labels, "rol"));
        assert_null(labels_get(&c->labels, "controller"));
        config_free(c);

        /* Every bad label is reported with its line; the good ones around it do not hide it. */
        load_err("[medic]\nlabels = role\n", 2, "invalid label 'role' (expected KEY=VALUE", 0);
        load_err("[medic]\nlabels = =x, y=\n", 2, "invalid label '=x'", 2, "invalid label 'y='", 0);
        load_err("[medic]\nlabels = a=b\n  a=c\n", 3, "label 'a' is given twice", 0);
        load_err("[medic]\nlabels = role=a/b r@ck=1 _x=1\n", 2, "invalid label 'role=a/b'",
                 2, "invalid label 'r@ck=1'", 2, "invalid label '_x=1'", 0);
        load_err("[medic]\nlabels = role = controller\n", 2, "invalid label 'role'", 2, "invalid label '='",
                 2, "invalid label 'controller'", 0);
        load_err("[medic]\nlabels = k=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                 2, "at most 63 characters", 0);
        load_err("[medic]\nlabels = a=1\nlabels = b=2\n", 3, "duplicate key 'labels'", 0);
        load_err("[coordinator]\nlabels = a=1\n", 2, "unknown key 'labels' in section [coordinator]", 0);
}

static void test_fleetlock(void **state) {
        Config *c = load_ok("[medic]\ngroup = web-1.eu\n[coordinator]\nbackend = fleetlock\n"
                            "url = https://locks.example:3333/base//\n");
        assert_string_equal(c->coordinator, "fleetlock");
        assert_string_equal(c->url, "https://locks.example:3333/base");
        config_free(c);
}

static void test_long_line(void **state) {
        char text[1024];
        int n;

        n = snprintf(text, sizeof(text), "[medic]\n; comment\nnode = ");
        memset(text + n, 'x', 400);
        n += 400;
        snprintf(text + n, sizeof(text) - (size_t) n, "\ngroup = g\ngroup = h\n");
        /* The long line is refused as a whole (not split into pieces that parse as keys), and
         * the line numbers after it stay right. */
        load_err(text, 3, "line too long", 5, "duplicate key 'group' (already set on line 4)", 0);
}

static void test_missing_file(void **state) {
        _cleanup_free_ char *path = strprintf("%s/does-not-exist.conf", tmpdir);
        _cleanup_free_ char *expected = strprintf("%s: No such file or directory", path);
        StrList errors = {};
        Config *c = NULL;

        assert_int_equal(config_load(path, &c, &errors), -EINVAL);
        assert_null(c);
        assert_int_equal(errors.n, 1);
        assert_string_equal(errors.v[0], expected);
        strlist_clear(&errors);

        /* A directory is not a config file. */
        assert_int_equal(config_load(tmpdir, &c, &errors), -EINVAL);
        assert_null(c);
        assert_int_equal(errors.n, 1);
        assert_non_null(strstr(errors.v[0], "Is a directory"));
        strlist_clear(&errors);

        /* errors may be NULL. */
        assert_int_equal(config_load(path, &c, NULL), -EINVAL);
}

static void test_errors_appended(void **state) {
        _cleanup_free_ char *path = write_conf("x.conf", "[medic]\ndry_run = perhaps\n");
        StrList errors = {};
        Config *c = NULL;

        /* Errors are appended to what the list already holds. */
        assert_int_equal(strlist_add(&errors, "earlier"), 0);
        assert_int_equal(config_load(path, &c, &errors), -EINVAL);
        assert_int_equal(errors.n, 2);
        assert_string_equal(errors.v[0], "earlier");
        assert_non_null(strstr(errors.v[1], "x.conf:2: invalid boolean 'perhaps'"));
        strlist_clear(&errors);
        assert_int_equal(unlink(path), 0);
}

static void test_parse_helpers(void **state) {
        const char *yes[] = { "yes", "YES", "true", "on", "1", "True" };
        const char *no[] = { "no", "false", "off", "0", "Off" };
        const char *bad[] = { "", "y", "2", "yess", "maybe" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                assert_int_equal(parse_bool(yes[i]), 1);
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                assert_int_equal(parse_bool(no[i]), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_bool(bad[i]), -EINVAL);
        assert_int_equal(parse_bool(NULL), -EINVAL);

        assert_int_equal(parse_log_level("debug"), LOG_DEBUG);
        assert_int_equal(parse_log_level("info"), LOG_INFO);
        assert_int_equal(parse_log_level("notice"), LOG_NOTICE);
        assert_int_equal(parse_log_level("warning"), LOG_WARNING);
        assert_int_equal(parse_log_level("error"), LOG_ERR);
        assert_int_equal(parse_log_level("loud"), -EINVAL);
        assert_int_equal(parse_log_level(""), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_empty_file_is_defaults),
                cmocka_unit_test(test_every_key),
                cmocka_unit_test(test_breaker),
                cmocka_unit_test(test_value_forms),
                cmocka_unit_test(test_relative_paths),
                cmocka_unit_test(test_many_errors),
                cmocka_unit_test(test_key_outside_section),
                cmocka_unit_test(test_duplicate_across_sections),
                cmocka_unit_test(test_unknown_key_in_coordinator),
                cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_labels),
                cmocka_unit_test(test_fleetlock),
                cmocka_unit_test(test_long_line),
                cmocka_unit_test(test_missing_file),
                cmocka_unit_test(test_errors_appended),
                cmocka_unit_test(test_parse_helpers),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
