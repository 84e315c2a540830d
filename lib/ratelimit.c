/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
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
                if (count > UINT32_MAX)
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

        if (l->n == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 8;
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
