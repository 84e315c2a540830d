/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "etcd-common.h"
#include "etcd-watch.h"
#include "util.h"

/* Each byte is searched for a newline once and each complete line moved once: a long line
 * arriving in small chunks, or many lines in one chunk, costs the bytes, not their square. */
int etcd_watch_feed(EtcdWatchStream *s, const char *data, size_t size, etcd_watch_line_t on_line, void *userdata) {
        size_t start = 0;
        char *nl;
        int k = 0;

        if (size > SIZE_MAX - s->len - 1)
                return -EMSGSIZE;
        char *b = realloc(s->buf, s->len + size + 1);
        if (!b)
                return -ENOMEM;
        s->buf = b;
        memcpy(s->buf + s->len, data, size);
        s->len += size;
        s->buf[s->len] = 0;
        while ((nl = memchr(s->buf + s->seen, '\n', s->len - s->seen))) {
                *nl = 0;
                size_t end = (size_t) (nl - s->buf);
                k = on_line(s->buf + start, end - start, userdata);
                start = s->seen = end + 1;
                if (k < 0)
                        break;
        }
        if (start > 0) {
                memmove(s->buf, s->buf + start, s->len - start);
                s->len -= start;
                s->buf[s->len] = 0;
        }
        if (k < 0) {
                s->seen = 0; /* the lines after the refused one are searched again next time */
                return k;
        }
        s->seen = s->len;
        if (s->len > ETCD_WATCH_LINE_MAX)
                return -EMSGSIZE;
        return 0;
}

void etcd_watch_reset(EtcdWatchStream *s) {
        s->len = s->seen = 0;
}

void etcd_watch_stream_done(EtcdWatchStream *s) {
        s->buf = mfree(s->buf);
        s->len = s->seen = 0;
}

void etcd_watch_msg_done(EtcdWatchMsg *m) {
        for (size_t i = 0; i < m->n_events; i++)
                free(m->events[i].key);
        free(m->events);
        free(m->why);
        json_object_put(m->line);
        *m = (EtcdWatchMsg) {};
}

int etcd_watch_parse(const char *line, size_t len, EtcdWatchMsg *ret) {
        EtcdWatchMsg m = { .line = json_tokener_parse(line) };
        struct json_object *res = jget(m.line, "result"), *events;

        (void) len; /* the line is read up to its first NUL, as json-c reads a string */
        *ret = (EtcdWatchMsg) {};
        if (jget(m.line, "error")) {
                m.kind = ETCD_WATCH_ERROR;
                m.why = str_excerpt(json_object_to_json_string(jget(m.line, "error")), ETCD_WATCH_WHY_MAX);
                goto done;
        }
        if (!res)
                goto done; /* OTHER */
        m.revision = jint(jget(res, "header"), "revision");
        if (jtrue(jget(res, "canceled"))) {
                m.kind = ETCD_WATCH_CANCELED;
                m.why = str_excerpt(json_object_get_string(jget(res, "cancel_reason")) ?: "compacted or removed",
                                    ETCD_WATCH_WHY_MAX);
                goto done;
        }
        m.kind = ETCD_WATCH_RESPONSE;
        m.created = jtrue(jget(res, "created"));
        events = jget(res, "events");
        if (!events || !json_object_is_type(events, json_type_array))
                goto done;
        m.has_events = true;
        m.n_events = jlen(events);
        if (m.n_events > 0 && !(m.events = calloc(m.n_events, sizeof(*m.events)))) {
                m.n_events = 0;
                goto nomem;
        }
        for (size_t i = 0; i < m.n_events; i++) {
                struct json_object *ev = jidx(events, i), *kv = jget(ev, "kv");
                EtcdWatchEvent *e = &m.events[i];
                e->kv = kv;
                e->key = unb64(json_object_get_string(jget(kv, "key")) ?: "");
                e->deleted = streq_ptr(json_object_get_string(jget(ev, "type")), "DELETE");
                e->mod_revision = jint(kv, "mod_revision");
        }
done:
        if ((m.kind == ETCD_WATCH_ERROR || m.kind == ETCD_WATCH_CANCELED) && !m.why)
                goto nomem;
        *ret = m;
        return 0;
nomem:
        etcd_watch_msg_done(&m);
        return -ENOMEM;
}
