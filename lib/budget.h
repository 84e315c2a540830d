/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* A group's budget value: a count ("2") or a percentage of the registered members ("10%"). */
typedef struct BudgetValue {
        unsigned value;
        bool percent;
} BudgetValue;

/* Parses "N" or "N%" (0..100 for percentages). Returns 0 or -EINVAL. */
int budget_parse(const char *s, BudgetValue *ret);
/* Formats as "2" or "10%". */
char *budget_format(const BudgetValue *b, char *buf, unsigned long n);

/* max_unavailable for a group of `members`: a count as is; a percentage rounds down, but a
 * non-zero percentage of a non-empty group is at least 1 (only an explicit 0 means none). */
unsigned budget_max_unavailable(const BudgetValue *b, unsigned members);
/* min_healthy for a group of `members`: a percentage rounds up (90% of 15 = 14). */
unsigned budget_min_healthy(const BudgetValue *b, unsigned members);
