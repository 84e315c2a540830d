/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "N/DURATION": at most N events in any sliding window of DURATION ("3/1h", "1/24h").
 * Also used for flapping thresholds ("5/10m": 5 state changes within 10 minutes). */
/* The largest N a spec may have, and so the most entries any window needs: an event log keeps
 * at most EVENTLOG_MAX (a little more than RATE_COUNT_MAX, so that "more than N" is still seen),
 * dropping the oldest. */
#define RATE_COUNT_MAX 1000
#define EVENTLOG_MAX 1024

typedef struct RateSpec {
        unsigned count;
        uint64_t window_usec;
} RateSpec;

/* Returns 0, or -EINVAL for a malformed spec (missing '/', count not a positive integer or
 * above RATE_COUNT_MAX, bad duration, zero window). */
int ratespec_parse(const char *s, RateSpec *ret);

/* Formats as "3/1h" into buf (n bytes). */
char *ratespec_format(const RateSpec *r, char *buf, size_t n);

/* A record of event times (realtime usec since the epoch, because it is persisted across
 * reboots), oldest first, at most EVENTLOG_MAX of them (the newest). */
typedef struct EventLog {
        uint64_t *t;
        size_t n, cap;
} EventLog;

/* Appends an event time. Keeps the array ordered even if t is earlier than the last entry.
 * A full log drops its oldest entry (or t itself, when t is older than all). */
int eventlog_add(EventLog *l, uint64_t t);

/* Replaces the log's entries with n times in any order (a state file's): one sort, then the
 * newest EVENTLOG_MAX are kept. Linear in n apart from the sort; the input is not changed. */
int eventlog_load(EventLog *l, const uint64_t *t, size_t n);

/* Removes one entry equal to t (the newest such), if there is one. */
void eventlog_remove(EventLog *l, uint64_t t);

/* Drops entries older than now - keep_usec. */
void eventlog_prune(EventLog *l, uint64_t now, uint64_t keep_usec);

/* Number of events in (now - window, now]. Entries in the future (clock stepped back) count
 * as inside the window: a rate limit must never be lifted by a clock jump. */
size_t eventlog_count(const EventLog *l, uint64_t now, uint64_t window_usec);

/* True when one more event at now stays within the spec. */
bool ratelimit_allows(const RateSpec *r, const EventLog *l, uint64_t now);

/* When the next event will be allowed (realtime usec): now if allowed now. */
uint64_t ratelimit_next_allowed(const RateSpec *r, const EventLog *l, uint64_t now);

void eventlog_free(EventLog *l);
