/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "duration.h"

int budget_parse(const char *s, BudgetValue *ret) {
        char *end;
        unsigned long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || v > 1000000)
                return -EINVAL;
        if (*end == '%') {
                if (end[1] || v > 100)
                        return -EINVAL;
                *ret = (BudgetValue) { .value = (unsigned) v, .percent = true };
                return 0;
        }
        if (*end)
                return -EINVAL;
        *ret = (BudgetValue) { .value = (unsigned) v, .percent = false };
        return 0;
}

char *budget_format(const BudgetValue *b, char *buf, unsigned long n) {
        snprintf(buf, n, "%u%s", b->value, b->percent ? "%" : "");
        return buf;
}

unsigned budget_max_unavailable(const BudgetValue *b, unsigned members) {
        if (!b->percent)
                return b->value;
        unsigned v = (unsigned) ((unsigned long long) members * b->value / 100);
        if (v == 0 && b->value > 0 && members > 0)
                v = 1;
        return v;
}

unsigned budget_min_healthy(const BudgetValue *b, unsigned members) {
        if (!b->percent)
                return b->value;
        return (unsigned) (((unsigned long long) members * b->value + 99) / 100);
}

int breaker_parse(const char *s, BreakerSpec *ret) {
        char buf[32];
        const char *slash = s ? strchr(s, '/') : NULL;
        BudgetValue b;
        uint64_t w;

        if (!slash || (size_t) (slash - s) >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, (size_t) (slash - s));
        buf[slash - s] = 0;
        if (budget_parse(buf, &b) < 0 || duration_parse(slash + 1, &w) < 0 || w == 0)
                return -EINVAL;
        *ret = (BreakerSpec) { .limit = b, .window_usec = w };
        return 0;
}

char *breaker_format(const BreakerSpec *b, char *buf, unsigned long n) {
        char l[16], w[32];

        snprintf(buf, n, "%s/%s", budget_format(&b->limit, l, sizeof l), duration_format(b->window_usec, w, sizeof w));
        return buf;
}

unsigned breaker_allowed(const BreakerSpec *b, unsigned members) {
        return budget_max_unavailable(&b->limit, members);
}
