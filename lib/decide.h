/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "condition.h"
#include "ratelimit.h"
#include "window.h"

/* The decision core: whether a rule may act now. decide() is a pure function of what the
 * caller observed (no I/O, no globals, no clock of its own): the daemon, `medicctl explain`
 * and the unit tests call the same code. Every wait (for the permission, for the tasks
 * before a disruption, for a window) ends with another call, with acting set. */

typedef enum Verdict {
        VERDICT_IDLE,        /* the trigger does not hold */
        VERDICT_DEBOUNCE,
        VERDICT_FLAPPING,
        VERDICT_STALE,       /* the trigger is only restored: no run of its check in this process yet */
        VERDICT_RUNNING,     /* this or another remedy is busy */
        VERDICT_RETRY_WAIT,  /* fired; waiting to see whether it helped */
        VERDICT_BLOCKED,
        VERDICT_WINDOW,
        VERDICT_LIMITED,     /* rate limit reached; exhausted */
        VERDICT_ESCALATE,
        VERDICT_NODE_LIMIT,  /* max_disruptions of the node reached: the caller parks the node */
        VERDICT_STOPPED,     /* the local stop file is present */
        VERDICT_ASKING,      /* waiting for the coordinator */
        VERDICT_FIRE,
        VERDICT_PARKED,      /* reboot-loop protection: no automation until an operator unparks */
        VERDICT_SUPERSEDED,  /* a lesser remedy while a reboot or maintenance that clears its condition is
                              * pending or running on the node */
        VERDICT_REVOKED,     /* the permission held was taken back by the coordinator */
        _VERDICT_MAX,
} Verdict;

const char *verdict_to_string(Verdict v);

/* What the node's permission owner says about this rule. */
typedef enum PermState {
        PERM_NONE,      /* not asked */
        PERM_ASKING,    /* asked, not granted yet (queued, denied and asking again, no answer) */
        PERM_HELD,      /* granted and held for this rule */
} PermState;

typedef struct DecideBlocker {
        const char *name;
        bool present;        /* a condition of that name is known */
        bool pending;        /* not present, but a loaded check of that name has not reported yet: blocks */
        bool stale;          /* present, but only restored: no run of its check in this process yet: blocks */
        CondState state;
        const char *message;
} DecideBlocker;
/* A blocker that is neither present nor pending (no such check, or its check does not apply to
 * the node) blocks nothing. */

typedef struct DecideInput {
        /* The rule. */
        const char *rule;
        bool disruptive;
        uint64_t holds, retry;          /* usec */
        RateSpec limit;
        const char *escalate;           /* rule name or NULL */
        Window *const *windows;
        size_t n_windows;

        /* Its trigger, as the caller found it. */
        bool armed;                     /* the trigger holds */
        const char *trigger_why;        /* one line: what the trigger is (or why it does not hold) */
        uint64_t armed_for;             /* how long it has held (usec), boot clock when known */
        bool fresh;                     /* reported by a run of its check in this process */
        const char *trigger_condition;  /* the condition's name, NULL for a predicate */
        bool flapping;

        const DecideBlocker *blockers;
        size_t n_blockers;

        /* The rule's record. */
        bool same_episode;              /* the rule already worked on this very problem */
        unsigned attempts;              /* firings in this episode */
        uint64_t since_fired;           /* usec since the last firing; UINT64_MAX: never */
        bool escalated;                 /* this episode was handed on already */
        const EventLog *fired;          /* realtime usec of the firings (rate limit) */

        /* The node. */
        const char *busy;               /* why a remedy in progress excludes this one, or NULL */
        const char *superseded_by;      /* a disruptive remedy pending (asking for or holding the
                                         * permission, its tasks) or running that clears this rule's
                                         * condition ("reboot of rule R (asking for permission)"), or
                                         * NULL; applies to a lesser (not disruptive) remedy only */
        bool parked;
        const char *parked_reason;
        const char *stop_file;          /* the local stop file when it is present, else NULL */
        RateSpec max_disruptions;
        const EventLog *disruptions;    /* realtime usec of the node's disruptions */
        bool dry_run;

        /* The permission (disruptive remedies only). */
        PermState perm;
        const char *perm_backend;       /* "etcd", "fleetlock", "local" */
        const char *perm_answer;        /* last answer ("denied", "unknown") while asking, or NULL */
        const char *perm_reason;        /* its reason (queue place, budget, …) */
        unsigned perm_count;            /* how many times that same answer came */
        uint64_t perm_waiting_for;      /* usec since the rule started asking */
        /* Held, but the backend no longer shows this node as holder (an operator took the slot
         * back): why, or NULL. Only "not held" counts: a backend that cannot tell (a lagging
         * watch, FleetLock) leaves it NULL and the grant stands. */
        const char *perm_revoked;

        /* A re-decision of an action already begun and recorded (after the grant, after the
         * tasks before a disruption): its own firing is counted already and its own retry
         * wait does not apply; everything else must still hold. */
        bool acting;

        uint64_t now;                   /* realtime usec: windows, rate limits */
} DecideInput;

/* Decides what the rule should do now. steps (may be NULL) receives one object per step
 * {step, ok, detail}, each step exactly once, for `medicctl explain`; ret_reason (may be
 * NULL) a one-line reason, owned by the caller. */
Verdict decide(const DecideInput *in, struct json_object *steps, char **ret_reason);
