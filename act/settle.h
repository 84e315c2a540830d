/* SPDX-License-Identifier: MIT */
#pragma once

#include "act.h"

/* The health gate after a disruption (the reboot's, the maintenance's): the permission is
 * kept until every health condition has been ok for the settle time, as reported by runs of
 * its check that began after the settle did (a state restored from the state file, or a run
 * already going when the settle began, never counts). Not healthy within the timeout: the
 * node came back sick, escalated once (came-back-sick); the gate keeps waiting and the
 * permission stays held. */

/* Begins the settle now (and forgets an escalation of an earlier one). */
void settle_begin(SettleState *st);
/* Records that the node came back sick (escalated by the caller, or by settle_tick()). */
void settle_sick(SettleState *st, const char *why);
/* Frees what st holds and zeroes it (no settle). */
void settle_clear(SettleState *st);
/* Drives the gate at now: true once the node has been healthy for settle. rule names the
 * rule, after the disruption ("the reboot", "the maintenance") in messages. */
bool settle_tick(ActHost *h, SettleState *st, const char *rule, const char *after, uint64_t settle,
                 uint64_t timeout);
/* What the gate waits for, for explain and status (malloc'ed): "CHECK is problem: MESSAGE",
 * "healthy for 2m of 10m", ... */
char *settle_describe(ActHost *h, const SettleState *st, uint64_t settle);
/* A CLOCK_BOOTTIME time of the gate on the wall clock (seconds since the epoch), 0 for 0. */
int64_t settle_wall(uint64_t bt);
