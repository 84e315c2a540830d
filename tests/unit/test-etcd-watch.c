/* SPDX-License-Identifier: MIT */
/* etcd's watch stream as the backend reads it (coord/etcd-watch.h) and the base64 it decodes
 * keys with (coord/etcd-common.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "etcd-common.h"
#include "etcd-watch.h"

typedef struct Seen {
        char lines[8][256];
        size_t n;
        int fail_at; /* the line (1-based) on_line refuses, 0: none */
} Seen;

static int on_line(const char *line, size_t len, void *userdata) {
        Seen *s = userdata;

        assert_int_equal(strlen(line), len);
        assert_true(s->n < 8 && len < 256);
        memcpy(s->lines[s->n++], line, len + 1);
        return (int) s->n == s->fail_at ? -ECANCELED : 0;
}

/* A key of nothing but padding decoded to -1 bytes (out[-1] written); more than two padding
 * bytes is not base64. */
static void test_unb64(void **state) {
        char *s;

        assert_non_null(s = unb64("QQ=="));
        assert_string_equal(s, "A");
        free(s);
        assert_non_null(s = unb64("QUI="));
        assert_string_equal(s, "AB");
        free(s);
        assert_non_null(s = unb64(""));
        assert_string_equal(s, "");
        free(s);
        assert_null(unb64("===="));
        assert_null(unb64("========"));
        assert_null(unb64("Q==="));
        assert_null(unb64("QQ="));
}

static void test_framing(void **state) {
        EtcdWatchStream w = {};
        Seen s = {};

        assert_int_equal(etcd_watch_feed(&w, "{\"a\":1}\n{\"b\"", 12, on_line, &s), 0);
        assert_int_equal(s.n, 1);
        assert_string_equal(s.lines[0], "{\"a\":1}");
        assert_int_equal(etcd_watch_feed(&w, ":2", 2, on_line, &s), 0);
        assert_int_equal(s.n, 1); /* still incomplete */
        assert_int_equal(etcd_watch_feed(&w, "}\n\n{\"c\":3}\n", 11, on_line, &s), 0);
        assert_int_equal(s.n, 4);
        assert_string_equal(s.lines[1], "{\"b\":2}");
        assert_string_equal(s.lines[2], "");
        assert_string_equal(s.lines[3], "{\"c\":3}");
        assert_int_equal(w.len, 0);

        /* The stream ended: an incomplete line is dropped, not joined to the next stream's. */
        assert_int_equal(etcd_watch_feed(&w, "{\"lost\"", 7, on_line, &s), 0);
        etcd_watch_reset(&w);
        assert_int_equal(etcd_watch_feed(&w, "{\"d\":4}\n", 8, on_line, &s), 0);
        assert_string_equal(s.lines[4], "{\"d\":4}");

        /* A refusal stops at that line; the lines after it stay for the next feed. */
        s.fail_at = 6;
        assert_int_equal(etcd_watch_feed(&w, "x\ny\nz\n", 6, on_line, &s), -ECANCELED);
        assert_int_equal(s.n, 6);
        assert_string_equal(s.lines[5], "x");
        s.fail_at = 0;
        assert_int_equal(etcd_watch_feed(&w, "", 0, on_line, &s), 0);
        assert_int_equal(s.n, 8);
        assert_string_equal(s.lines[7], "z");
        etcd_watch_stream_done(&w);
}

static void test_line_too_long(void **state) {
        EtcdWatchStream w = {};
        Seen s = {};
        size_t n = ETCD_WATCH_LINE_MAX / 4 + 1;
        char *chunk = malloc(n);

        assert_non_null(chunk);
        memset(chunk, 'x', n);
        for (int i = 0; i < 3; i++)
                assert_int_equal(etcd_watch_feed(&w, chunk, n, on_line, &s), 0);
        assert_int_equal(etcd_watch_feed(&w, chunk, n, on_line, &s), -EMSGSIZE);
        assert_int_equal(s.n, 0);
        free(chunk);
        etcd_watch_stream_done(&w);
}

static void parse(const char *line, EtcdWatchMsg *m) {
        assert_int_equal(etcd_watch_parse(line, strlen(line), m), 0);
}

static void test_parse(void **state) {
        EtcdWatchMsg m;

        parse("{\"result\":{\"header\":{\"revision\":\"12\"},\"created\":true}}", &m);
        assert_int_equal(m.kind, ETCD_WATCH_RESPONSE);
        assert_true(m.created);
        assert_int_equal(m.revision, 12);
        assert_false(m.has_events);
        etcd_watch_msg_done(&m);

        /* key "/k" and "====" (not base64: no key, the backend reads again) */
        parse("{\"result\":{\"header\":{\"revision\":\"13\"},\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2s=\","
              "\"mod_revision\":\"13\"}},{\"kv\":{\"key\":\"====\",\"mod_revision\":\"13\"}},{\"kv\":\"x\"},7]}}", &m);
        assert_int_equal(m.kind, ETCD_WATCH_RESPONSE);
        assert_false(m.created);
        assert_true(m.has_events);
        assert_int_equal(m.n_events, 4);
        assert_string_equal(m.events[0].key, "/k");
        assert_true(m.events[0].deleted);
        assert_int_equal(m.events[0].mod_revision, 13);
        assert_non_null(m.events[0].kv);
        assert_null(m.events[1].key);
        assert_false(m.events[1].deleted);
        assert_string_equal(m.events[2].key, ""); /* no key: the empty key, as before */
        assert_int_equal(m.events[2].mod_revision, 0);
        etcd_watch_msg_done(&m);

        parse("{\"result\":{\"events\":{\"not\":\"an array\"}}}", &m);
        assert_int_equal(m.kind, ETCD_WATCH_RESPONSE);
        assert_false(m.has_events);
        etcd_watch_msg_done(&m);

        parse("{\"result\":{\"canceled\":true,\"cancel_reason\":\"mvcc: compacted\\nnext line\"}}", &m);
        assert_int_equal(m.kind, ETCD_WATCH_CANCELED);
        assert_string_equal(m.why, "mvcc: compacted next line");
        etcd_watch_msg_done(&m);

        parse("{\"result\":{\"canceled\":\"yes\"}}", &m); /* only a JSON true */
        assert_int_equal(m.kind, ETCD_WATCH_RESPONSE);
        etcd_watch_msg_done(&m);

        parse("{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: no leader\"}}", &m);
        assert_int_equal(m.kind, ETCD_WATCH_ERROR);
        assert_non_null(strstr(m.why, "no leader"));
        etcd_watch_msg_done(&m);

        parse("not json", &m);
        assert_int_equal(m.kind, ETCD_WATCH_OTHER);
        etcd_watch_msg_done(&m);
        parse("[1,2]", &m);
        assert_int_equal(m.kind, ETCD_WATCH_OTHER);
        etcd_watch_msg_done(&m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unb64),
                cmocka_unit_test(test_framing),
                cmocka_unit_test(test_line_too_long),
                cmocka_unit_test(test_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
