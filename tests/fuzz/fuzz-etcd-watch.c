/* SPDX-License-Identifier: MIT */
/* etcd's watch stream (coord/etcd-watch.h) as coord-etcd.c reads it: the input is the stream's
 * bytes, cut into chunks at places the first byte seeds (a line may end in any chunk); each
 * complete line is read as a watch response. The same bytes fed in one chunk must give the
 * same lines. */
#include "etcd-watch.h"
#include "fuzz.h"

typedef struct Lines {
        char **v;
        size_t n;
        size_t *lens;
} Lines;

static int on_line(const char *line, size_t len, void *userdata) {
        Lines *l = userdata;
        EtcdWatchMsg m;

        if (line[len] != 0 || memchr(line, '\n', len))
                abort();
        l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->lens = realloc(l->lens, (l->n + 1) * sizeof(*l->lens));
        if (!l->v || !l->lens || !(l->v[l->n] = malloc(len + 1)))
                abort();
        memcpy(l->v[l->n], line, len + 1);
        l->lens[l->n++] = len;

        if (etcd_watch_parse(line, len, &m) < 0)
                abort();
        switch (m.kind) {
        case ETCD_WATCH_ERROR:
        case ETCD_WATCH_CANCELED:
                /* A reason fit for one log line. */
                if (!m.why || strlen(m.why) > ETCD_WATCH_WHY_MAX + 3)
                        abort();
                for (const char *p = m.why; *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f)
                                abort();
                if (m.n_events || m.created)
                        abort();
                break;
        case ETCD_WATCH_OTHER:
                if (m.why || m.n_events || m.created)
                        abort();
                break;
        case ETCD_WATCH_RESPONSE:
                if (m.why || (m.n_events && !m.has_events))
                        abort();
                for (size_t i = 0; i < m.n_events; i++)
                        if (m.events[i].key)
                                (void) strlen(m.events[i].key);
                break;
        }
        etcd_watch_msg_done(&m);
        return 0;
}

static void lines_free(Lines *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        free(l->lens);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        EtcdWatchStream one = {}, cut = {};
        Lines a = {}, b = {};
        unsigned seed;
        size_t off = 0;

        if (size < 1)
                return 0;
        seed = data[0] * 2654435761u + 1;
        data++, size--;
        if (etcd_watch_feed(&one, (const char *) data, size, on_line, &a) < 0)
                abort(); /* at most 64 KiB here: never too long */
        while (off < size) {
                seed = seed * 1103515245u + 12345u;
                size_t n = 1 + (seed >> 16) % 64;
                if (n > size - off)
                        n = size - off;
                if (etcd_watch_feed(&cut, (const char *) data + off, n, on_line, &b) < 0)
                        abort();
                off += n;
        }
        if (a.n != b.n || one.len != cut.len || memcmp(one.buf ?: "", cut.buf ?: "", one.len) != 0)
                abort();
        for (size_t i = 0; i < a.n; i++)
                if (a.lens[i] != b.lens[i] || memcmp(a.v[i], b.v[i], a.lens[i]) != 0)
                        abort();
        etcd_watch_stream_done(&one);
        etcd_watch_stream_done(&cut);
        lines_free(&a);
        lines_free(&b);
        return 0;
}
