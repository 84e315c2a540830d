/* SPDX-License-Identifier: MIT */
#pragma once
/* etcd's watch stream (POST /v3/watch on the JSON gateway), read without the backend: the
 * stream's framing (one JSON response per line, a line cut anywhere across the transfer's
 * chunks) and what one response says. coord-etcd.c acts on it; tests/fuzz/fuzz-etcd-watch.c
 * and tests/unit/test-etcd-watch.c feed it directly. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_WATCH_LINE_MAX (16 * 1024 * 1024) /* a longer line ends the stream: -EMSGSIZE */
#define ETCD_WATCH_WHY_MAX 200                 /* the error or cancel reason kept for the log */

typedef struct EtcdWatchStream {
        char *buf;
        size_t len;   /* bytes of an incomplete line */
        size_t seen;  /* of which searched for a newline already */
} EtcdWatchStream;

/* Called with each complete line (without its '\n', NUL-terminated; it may hold NUL bytes
 * before len); a negative return ends etcd_watch_feed() with it. */
typedef int (*etcd_watch_line_t)(const char *line, size_t len, void *userdata);

/* Appends a chunk of the stream and calls on_line for every line it completes, in order.
 * -ENOMEM, -EMSGSIZE (an incomplete line above ETCD_WATCH_LINE_MAX), or on_line's error. */
int etcd_watch_feed(EtcdWatchStream *s, const char *data, size_t size, etcd_watch_line_t on_line, void *userdata);
void etcd_watch_reset(EtcdWatchStream *s); /* drops an incomplete line (the stream ended) */
void etcd_watch_stream_done(EtcdWatchStream *s);

typedef enum EtcdWatchKind {
        ETCD_WATCH_OTHER,     /* not a watch response (not JSON, no "result"): ignored */
        ETCD_WATCH_ERROR,     /* {"error": ...}: the stream is dropped */
        ETCD_WATCH_CANCELED,  /* result.canceled: etcd ended the watch (compacted, removed) */
        ETCD_WATCH_RESPONSE,  /* created, progress or events */
} EtcdWatchKind;

typedef struct EtcdWatchEvent {
        char *key;                /* decoded; NULL: a key that cannot be read (bad base64) */
        bool deleted;             /* type DELETE (else PUT) */
        int64_t mod_revision;
        struct json_object *kv;   /* the event's kv as etcd sent it (borrowed from the message) */
} EtcdWatchEvent;

typedef struct EtcdWatchMsg {
        EtcdWatchKind kind;
        char *why;                /* ERROR, CANCELED: fit for a log line (str_excerpt()) */
        bool created;             /* the response confirming the watch */
        int64_t revision;         /* result.header.revision */
        bool has_events;          /* result.events is an array (possibly empty) */
        EtcdWatchEvent *events;
        size_t n_events;
        struct json_object *line; /* the parsed line, owned */
} EtcdWatchMsg;

/* One line of the stream: 0 (ret set; etcd_watch_msg_done() it), or -ENOMEM. */
int etcd_watch_parse(const char *line, size_t len, EtcdWatchMsg *ret);
void etcd_watch_msg_done(EtcdWatchMsg *m);
