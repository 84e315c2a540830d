/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-c/json.h>

#include "act.h"

/* The maintenance remedy: drain, hold while the condition stays, undrain, settle (when the
 * rule has a settle time), release. Its
 * phase lives in the rule's state (persisted by the root). */
int maintenance_start(ActHost *h, const RuleDecl *d, RuleState *s, const char *condition);
/* Drives every rule in maintenance (called after each evaluation). */
void maintenance_tick(ActHost *h);
/* Stops what runs (at shutdown), releasing nothing. */
void maintenance_cancel_all(ActHost *h);
/* Why a rule in maintenance does nothing else, for explain: "in maintenance (holding)", with
 * what a settle waits for and since when (malloc'ed). */
char *maintenance_describe(ActHost *h, const RuleState *s);
/* The rule whose maintenance came back sick in its settle (not healthy by settle_timeout;
 * it keeps the slot), with why in *ret_why when given; NULL when none. */
const char *maintenance_sick(ActHost *h, const char **ret_why);
/* The rule's maintenance for status and explain: {rule, phase, condition} and, settling,
 * {since, settle, settle_timeout, waiting_for, healthy_since, came_back_sick}; NULL when none. */
struct json_object *maintenance_status(ActHost *h, const RuleState *s);
