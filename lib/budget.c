/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "budget.h"

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
