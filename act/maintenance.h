/* SPDX-License-Identifier: MIT */
#pragma once

#include "act.h"

/* The maintenance remedy: drain, hold while the condition stays, undrain, release. Its
 * phase lives in the rule's state (persisted by the root). */
int maintenance_start(ActHost *h, const RuleDecl *d, RuleState *s, const char *condition);
/* Drives every rule in maintenance (called after each evaluation). */
void maintenance_tick(ActHost *h);
/* Stops what runs (at shutdown), releasing nothing. */
void maintenance_cancel_all(ActHost *h);
