/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "ratelimit.h"
#include "util.h"

int ratespec_parse(const char *s, RateSpec *ret) {
        const char *slash;
        uint64_t count = 0, window;
        int r;

        if (!s)
                return -EINVAL;
        while (isspace((unsigned char) *s))
                s++;
        slash = strchr(s, '/');
        if (!slash || slash == s)
                return -EINVAL;
        for (const char *p = s; p < slash; p++) {
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                count = count * 10 + (unsigned) (*p - '0');
                if (count > RATE_COUNT_MAX)
                        return -EINVAL;
        }
        if (count == 0)
                return -EINVAL;

        r = duration_parse(slash + 1, &window);
        if (r < 0 || window == 0)
                return -EINVAL;

        ret->count = (unsigned) count;
        ret->window_usec = window;
        return 0;
}

char *ratespec_format(const RateSpec *r, char *buf, size_t n) {
        char d[64];

        if (!buf || n == 0)
                return buf;
        snprintf(buf, n, "%u/%s", r->count, duration_format(r->window_usec, d, sizeof(d)));
        return buf;
}

int eventlog_add(EventLog *l, uint64_t t) {
        size_t i;

        if (l->n >= EVENTLOG_MAX) {
                /* Full: the oldest entry goes, or t itself when it is the oldest. */
                if (t < l->t[0])
                        return 0;
                memmove(l->t, l->t + 1, (l->n - 1) * sizeof(uint64_t));
                l->n--;
        }
        if (l->n == l->cap) {
                size_t ncap = l->cap ? (l->cap * 2 < EVENTLOG_MAX ? l->cap * 2 : EVENTLOG_MAX) : 8;
                uint64_t *nt = realloc(l->t, ncap * sizeof(uint64_t));
                if (!nt)
                        return -ENOMEM;
                l->t = nt;
                l->cap = ncap;
        }
        /* Insert in order; normally this is an append. */
        for (i = l->n; i > 0 && l->t[i - 1] > t; i--)
                l->t[i] = l->t[i - 1];
        l->t[i] = t;
        l->n++;
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int eventlog_load(EventLog *l, const uint64_t *t, size_t n) {
        _cleanup_free_ uint64_t *all = NULL;
        size_t keep = n < EVENTLOG_MAX ? n : EVENTLOG_MAX;
        uint64_t *nt;

        l->n = 0;
        if (n == 0)
                return 0;
        all = malloc(n * sizeof(uint64_t));
        if (!all)
                return -ENOMEM;
        memcpy(all, t, n * sizeof(uint64_t));
        qsort(all, n, sizeof(uint64_t), cmp_u64);
        if (l->cap < keep) {
                nt = realloc(l->t, keep * sizeof(uint64_t));
                if (!nt)
                        return -ENOMEM;
                l->t = nt;
                l->cap = keep;
        }
        memcpy(l->t, all + (n - keep), keep * sizeof(uint64_t));
        l->n = keep;
        return 0;
}

void eventlog_remove(EventLog *l, uint64_t t) {
        for (size_t i = l->n; i > 0; i--)
                if (l->t[i - 1] == t) {
                        memmove(l->t + i - 1, l->t + i, (l->n - i) * sizeof(uint64_t));
                        l->n--;
                        return;
                }
}

void eventlog_prune(EventLog *l, uint64_t now, uint64_t keep_usec) {
        uint64_t cutoff;
        size_t i = 0;

        if (now < keep_usec)
                return;
        /* Entries at exactly now - keep_usec are outside any window of that length too. */
        cutoff = now - keep_usec;
        while (i < l->n && l->t[i] <= cutoff)
                i++;
        if (i == 0)
                return;
        memmove(l->t, l->t + i, (l->n - i) * sizeof(uint64_t));
        l->n -= i;
}

size_t eventlog_count(const EventLog *l, uint64_t now, uint64_t window_usec) {
        size_t c = 0;

        if (!l)
                return 0;
        if (now < window_usec)
                return l->n;
        /* Entries after now (clock stepped back) are counted too. */
        for (size_t i = l->n; i > 0 && l->t[i - 1] > now - window_usec; i--)
                c++;
        return c;
}

bool ratelimit_allows(const RateSpec *r, const EventLog *l, uint64_t now) {
        if (!r)
                return true;
        return eventlog_count(l, now, r->window_usec) < r->count;
}

uint64_t ratelimit_next_allowed(const RateSpec *r, const EventLog *l, uint64_t now) {
        uint64_t t;

        if (ratelimit_allows(r, l, now))
                return now;
        if (r->count == 0)
                return UINT64_MAX;
        /* Not allowed, so there are at least count entries inside the window. One more is
         * allowed once the count-th newest entry has left the window. */
        t = l->t[l->n - r->count];
        if (t > UINT64_MAX - r->window_usec)
                return UINT64_MAX;
        t += r->window_usec;
        return t > now ? t : now;
}

void eventlog_free(EventLog *l) {
        if (!l)
                return;
        free(l->t);
        l->t = NULL;
        l->n = l->cap = 0;
}
