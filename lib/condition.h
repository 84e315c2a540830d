/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "ratelimit.h"

typedef enum CondState {
        COND_OK,
        COND_PROBLEM,
        COND_UNKNOWN,
        _COND_STATE_MAX,
        _COND_STATE_INVALID = -EINVAL,
} CondState;

const char *cond_state_to_string(CondState s);
CondState cond_state_from_string(const char *s);

/* What a check said last, and since when. Times are realtime usec (they persist). */
typedef struct Condition {
        char *name;
        CondState state;
        uint64_t since;         /* when state last changed */
        char *message;
        char *details;          /* JSON text, or NULL */
        uint64_t last_run;      /* when the last result arrived */
        uint64_t duration_usec; /* how long the last run took */
        EventLog changes;       /* times of state changes, pruned to the flapping window */
        bool flapping;
        /* On CLOCK_BOOTTIME (see now_boottime()): since when the state holds, when it is known
         * in this boot (0: the change happened in an earlier boot, or is not known), and when a
         * run of its check in THIS process last reported it (0: only restored from the state
         * file). Only an observed condition may trigger a disruptive remedy or count as
         * healthy for the post-reboot gate; a restored one is shown and blocks. */
        uint64_t since_bt;
        uint64_t observed_bt;
} Condition;

Condition *condition_new(const char *name);
Condition *condition_free(Condition *c);

/* Applies a check result at now. A state change is recorded in changes and updates since;
 * the same state only refreshes message, details and last_run. flapping is recomputed:
 * true while the number of changes within flap->window_usec is >= flap->count.
 * Returns 1 when the state changed, 0 otherwise, or a negative errno on allocation failure. */
int condition_update(Condition *c, CondState s, const char *message, const char *details,
                     uint64_t now, const RateSpec *flap);

/* Records that a run of the check in this process reported the condition at now_bt
 * (CLOCK_BOOTTIME); changed is what condition_update() returned. */
void condition_observed(Condition *c, bool changed, uint64_t now_bt);

/* How long the current state has held at now (realtime) / now_bt (boottime): on the boot
 * clock when the change is known in this boot, otherwise on the wall clock with saturating
 * arithmetic (a clock stepped back reads as "not yet"). */
uint64_t condition_held_for(const Condition *c, uint64_t now, uint64_t now_bt);

/* Recomputes flapping at now (changes age out of the window). Returns the new value. */
bool condition_refresh_flapping(Condition *c, uint64_t now, const RateSpec *flap);
