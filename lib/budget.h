/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

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

/* A storm breaker: at most `limit` nodes (a count, or a share of the group's members) may start
 * a disruptive remedy or become unhealthy within any sliding window of `window_usec`; one more
 * trips it. window_usec 0: no breaker. */
typedef struct BreakerSpec {
        BudgetValue limit;
        uint64_t window_usec;
} BreakerSpec;

/* Parses "N/DURATION" or "N%/DURATION" ("30%/10m", "20/1h"); -EINVAL when malformed (no '/',
 * a bad count or share, a bad or zero duration). */
int breaker_parse(const char *s, BreakerSpec *ret);
/* Formats as "30%/10m" into buf (n bytes). */
char *breaker_format(const BreakerSpec *b, char *buf, unsigned long n);
/* How many nodes the window may hold for a group of `members` (a share rounds down, but a
 * non-zero share of a non-empty group is at least 1, as for max_unavailable). */
unsigned breaker_allowed(const BreakerSpec *b, unsigned members);
