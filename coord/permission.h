/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "coordinator.h"
#include "decide.h"

/* The permission owner: the only code that asks the coordinator for the node's slot, gives it
 * back, withdraws from the queue, and knows whether this node holds or may hold it. One rule
 * at a time asks or holds. What it knows is recorded in STATE_DIR/permission.json before it
 * acts on the coordinator ("asking" before a request is sent, "held" when granted), so that a
 * medicd that was killed gives back what it may hold when it starts again. medicctl and the
 * metrics show what this owner says. */
typedef struct Permission Permission;

/* Answers a permission_ask(): granted (recorded as held), denied or unknown. */
typedef void (*permission_answer_t)(CoordAnswer a, const char *reason, void *userdata);

/* The last answer a rule got while it waits: the same answer repeated is counted, not
 * repeated (changed tells the caller to log it). */
typedef struct PermissionAnswer {
        CoordAnswer answer;
        char *reason;
        unsigned count;
        uint64_t since;         /* realtime usec of the first of the run */
        bool changed;           /* this answer differs from the one before */
} PermissionAnswer;

int permission_new(Coordinator *c, const char *state_dir, Permission **ret);
/* At shutdown, before the coordinator is freed (which may answer what is out): answers from
 * now on reach no callback, they only free what they carry. */
void permission_close(Permission *p);
/* Frees the requests never answered too (with their userdata): the coordinator must not
 * answer them afterwards (freed before, or never delivering). */
Permission *permission_free(Permission *p);

/* Asks for the slot for rule. Fails (-EBUSY) when another rule asks or holds, (-EALREADY)
 * when a request is in flight, or with the errno of recording "asking" durably: then nothing
 * was sent and userdata stays the caller's. cb is called from the event loop or before this
 * returns, and then owns userdata; an answer that reaches no callback (a late answer to a
 * request withdrawn or released meanwhile, an answer after permission_close(), a request never
 * answered at permission_free()) calls free_userdata (may be NULL) instead. */
int permission_ask(Permission *p, const char *rule, permission_answer_t cb, void *userdata,
                   void (*free_userdata)(void *userdata));
/* Gives the slot (and any place in the queue) back; why is logged. A grant that arrives
 * after this is given back at once. */
int permission_release(Permission *p, const char *rule, const char *why);
/* The rule stops wanting: leaves the queue (rejoining later at the back); a held slot stays. */
void permission_withdraw(Permission *p, const char *rule, const char *why);
/* At start: a reboot or maintenance restored from its own record holds the slot it had. */
void permission_claim(Permission *p, const char *rule);
/* At start, after the claims: gives back whatever a previous medicd asked for or held and
 * nothing claims. */
void permission_startup(Permission *p);

/* Called periodically (and at start, after permission_startup()): when the backend says this
 * node holds a slot that no rule here holds or asks for, gives it back (each time it is seen;
 * logged once); while a rule holds, permission_verify(). */
void permission_reconcile(Permission *p);

/* While a rule holds: asks the backend whether it still shows this node as holder
 * (coordinator_held(), from what it already keeps). NOT_HELD is recorded (logged once, with the
 * reason "the coordinator no longer shows this node as holder") and stays until the slot is
 * given back: a re-decision refuses to act on it. HELD or UNKNOWN change nothing (etcd's watch
 * may lag behind the grant). Called by every decision of the holding rule and by
 * permission_reconcile(). */
CoordHeld permission_verify(Permission *p);
/* Why the slot held was taken back (see permission_verify()), or NULL. */
const char *permission_revoked(const Permission *p);

PermState permission_state(const Permission *p, const char *rule);
/* The rule that asks or holds, or NULL. */
const char *permission_rule(const Permission *p);
bool permission_held(const Permission *p);
bool permission_in_flight(const Permission *p);
/* usec (realtime) since the rule holds, or asks. */
uint64_t permission_since(const Permission *p);
const PermissionAnswer *permission_last_answer(const Permission *p);
const char *permission_backend(const Permission *p);

/* {"backend", "holder" (this node's rule or null), "since", "revoked", "asking", "last_answer",
 *  "answers", "stopped", and the backend's view under "backend_status"} */
struct json_object *permission_status(Permission *p);
