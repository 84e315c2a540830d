/* SPDX-License-Identifier: MIT */
/* The FleetLock backend's parser of the server's answers, callable on its own
 * (tests/fuzz/fuzz-fleetlock.c); the backend itself is reached through coordinator.h only. */
#pragma once

#include <stdbool.h>

#include "http.h"

/* Explains an answer other than 200 to a call of this node (URL, GROUP, NODE as configured):
 * the reason (malloc'ed; NULL when out of memory), *ret_kind the server's FleetLock error kind
 * (malloc'ed, NULL when it gave none: then the answer is not a refusal), *ret_ambiguous whether
 * the call may have changed the server's state although it failed. */
char *fleetlock_reply_describe(const char *url, const char *group, const char *node, const HttpResponse *r,
                               char **ret_kind, bool *ret_ambiguous);
