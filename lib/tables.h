/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "condition.h"
#include "ratelimit.h"
#include "strmap.h"

/* The node's two tables: the conditions the checks report, and what is remembered about each
 * rule. The manager owns one of each; the rule engine, the state file and the views read and
 * update them. Nothing here runs anything. */

typedef struct CondTable {
        Condition **v;
        size_t n;
        StrMap index;            /* name → condition */
        bool all_observed;       /* known: every condition was observed by this process (see condtable_all_observed) */
} CondTable;

Condition *condtable_find(const CondTable *t, const char *name);
/* Finds the condition, or adds a new one (state unknown, no result yet). NULL: out of memory. */
Condition *condtable_get(CondTable *t, const char *name);
/* Returns whether it was there. */
bool condtable_remove(CondTable *t, const char *name);
void condtable_clear(CondTable *t);
/* Whether every condition has observed_bt set; remembered once true, until a condition is
 * added (an observed condition never goes back to unobserved). */
bool condtable_all_observed(CondTable *t);

/* A settle after a disruption (act/settle.c drives it), on CLOCK_BOOTTIME. Not persisted: a
 * medicd that restarts during a settle settles again, on fresh observations. */
typedef struct SettleState {
        uint64_t start_bt;       /* the settle began (0: not in this process): only runs begun since count */
        uint64_t healthy_bt;     /* healthy continuously since, 0 = not healthy */
        bool sick_escalated;     /* came-back-sick was escalated in this settle */
        char *sick_why;          /* why (malloc'ed), while sick_escalated */
} SettleState;

/* What the daemon remembers about a rule across reloads, restarts and reboots. */
typedef struct RuleState {
        char *name;
        EventLog fired;          /* realtime usec of each firing, for the rate limit */
        uint64_t last_fired;     /* realtime usec */
        uint64_t episode;        /* since of the problem the rule is working on, 0 = none */
        unsigned attempts;       /* firings in this episode */
        bool escalated;          /* this episode was handed on to the escalation rule */
        bool exhausted_logged;
        uint64_t last_fired_bt;  /* the same on CLOCK_BOOTTIME, when it was in this boot (persisted with the boot id) */
        uint64_t armed_since;    /* predicate rules: when the predicate became true, realtime (not persisted) */
        uint64_t armed_since_bt; /* the same on CLOCK_BOOTTIME */
        char *last_decision;     /* for `medicctl rules` */
        uint64_t waiting_since;  /* realtime usec: wants to act but is held back (blocked, window, stop, coordinator); 0 = not (persisted) */
        uint64_t waiting_since_bt; /* the same on CLOCK_BOOTTIME, in this boot (persisted with the boot id) */
        bool stuck_escalated;    /* this wait was escalated (stuck_after) already (persisted) */
        struct Remedy *running;  /* not persisted; cancelled by its owner before the state is freed */
        char *maintenance;       /* maintenance remedy: "draining", "holding", "undraining", "settling", "undoing" (undraining after an abandoned or failed drain) or NULL (persisted) */
        char *maintenance_condition;
        uint64_t maintenance_since; /* realtime usec: the settle began (persisted; shown, never counted) */
        SettleState maintenance_settle;
        struct TaskRun *maintenance_tasks; /* as running */
        uint64_t maintenance_retry; /* monotonic usec: when to try undrain again after a failure */
} RuleState;

typedef struct RuleTable {
        RuleState **v;
        size_t n;
        StrMap index;            /* name → state */
} RuleTable;

/* Finds the rule's state, or (create) adds an empty one. NULL: not there, or out of memory. */
RuleState *ruletable_get(RuleTable *t, const char *name, bool create);
/* Frees every state; what runs for them must have been cancelled. */
void ruletable_clear(RuleTable *t);
