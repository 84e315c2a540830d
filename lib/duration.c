/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "duration.h"
#include "util.h"

typedef struct Unit {
        const char *name;
        uint64_t usec;
} Unit;

/* Longer names first so that "ms" and "min" win over "m". */
static const Unit duration_units[] = {
        { "min", 60 * USEC_PER_SEC },
        { "ms",  USEC_PER_MSEC },
        { "us",  1 },
        { "s",   USEC_PER_SEC },
        { "m",   60 * USEC_PER_SEC },
        { "h",   3600 * USEC_PER_SEC },
        { "d",   86400 * USEC_PER_SEC },
        { "w",   7 * 86400 * USEC_PER_SEC },
};

/* Parses leading decimal digits. Returns the number of characters consumed (0: none),
 * or -ERANGE on overflow. */
static int parse_digits(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        int i = 0;

        for (; isdigit((unsigned char) s[i]); i++) {
                unsigned d = (unsigned) (s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return i;
}

int duration_parse(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;
        unsigned parts = 0;
        bool bare = false;

        if (!s)
                return -EINVAL;

        for (;;) {
                const Unit *unit = NULL;
                uint64_t v;
                int k;

                while (isspace((unsigned char) *s))
                        s++;
                if (!*s)
                        break;
                if (bare)   /* a bare number may only stand alone */
                        return -EINVAL;

                k = parse_digits(s, &v);
                if (k < 0)
                        return k;
                if (k == 0)
                        return -EINVAL;
                s += k;

                for (size_t i = 0; i < ELEMENTSOF(duration_units); i++) {
                        size_t l = strlen(duration_units[i].name);
                        if (strncmp(s, duration_units[i].name, l) == 0 && !isalpha((unsigned char) s[l])) {
                                unit = &duration_units[i];
                                s += l;
                                break;
                        }
                }
                if (!unit) {
                        if (*s && !isspace((unsigned char) *s))
                                return -EINVAL;
                        if (parts > 0)
                                return -EINVAL;
                        bare = true;
                        unit = &duration_units[3]; /* seconds */
                }

                if (v > UINT64_MAX / unit->usec)
                        return -ERANGE;
                v *= unit->usec;
                if (total > UINT64_MAX - v)
                        return -ERANGE;
                total += v;
                parts++;
        }

        if (parts == 0)
                return -EINVAL;
        if (total == USEC_INFINITY)
                return -ERANGE;
        *ret_usec = total;
        return 0;
}

char *duration_format(uint64_t usec, char *buf, size_t n) {
        static const Unit units[] = {
                { "d",  86400 * USEC_PER_SEC },
                { "h",  3600 * USEC_PER_SEC },
                { "m",  60 * USEC_PER_SEC },
                { "s",  USEC_PER_SEC },
                { "ms", USEC_PER_MSEC },
                { "us", 1 },
        };
        size_t off = 0;

        if (!buf || n == 0)
                return buf;
        buf[0] = '\0';

        if (usec == USEC_INFINITY) {
                snprintf(buf, n, "infinity");
                return buf;
        }
        if (usec == 0) {
                snprintf(buf, n, "0");
                return buf;
        }

        for (size_t i = 0; i < ELEMENTSOF(units) && usec > 0; i++) {
                uint64_t q = usec / units[i].usec;
                int k;

                if (q == 0)
                        continue;
                usec -= q * units[i].usec;
                k = snprintf(buf + off, n - off, "%llu%s", (unsigned long long) q, units[i].name);
                if (k < 0 || (size_t) k >= n - off) {
                        buf[off] = '\0'; /* too small: keep only the complete parts */
                        break;
                }
                off += (size_t) k;
        }
        return buf;
}

int size_parse(const char *s, uint64_t *ret_bytes) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } suffixes[] = {
                { "",    1 },
                { "b",   1 },
                { "k",   UINT64_C(1) << 10 },
                { "kib", UINT64_C(1) << 10 },
                { "m",   UINT64_C(1) << 20 },
                { "mib", UINT64_C(1) << 20 },
                { "g",   UINT64_C(1) << 30 },
                { "gib", UINT64_C(1) << 30 },
                { "t",   UINT64_C(1) << 40 },
                { "tib", UINT64_C(1) << 40 },
        };
        uint64_t v;
        size_t len;
        int k;

        if (!s)
                return -EINVAL;
        while (isspace((unsigned char) *s))
                s++;
        k = parse_digits(s, &v);
        if (k < 0)
                return k;
        if (k == 0)
                return -EINVAL;
        s += k;
        while (isspace((unsigned char) *s))
                s++;
        len = strlen(s);
        while (len > 0 && isspace((unsigned char) s[len - 1]))
                len--;

        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                if (strlen(suffixes[i].suffix) != len || strncasecmp(s, suffixes[i].suffix, len) != 0)
                        continue;
                if (v > UINT64_MAX / suffixes[i].factor)
                        return -ERANGE;
                *ret_bytes = v * suffixes[i].factor;
                return 0;
        }
        return -EINVAL;
}
