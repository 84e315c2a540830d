/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-c/json.h>

#include "config.h"

/* `medicctl fleet`: the whole fleet as the etcd coordinator holds it, read directly (no medicd)
 * with the node's own [coordinator] settings and credentials, in ONE range read of PREFIX/. */
typedef struct FleetFilter {
        const char *group;      /* only this group (NULL: every group) */
        const char *label;      /* "KEY=VALUE": only nodes registered with that label (NULL: all) */
} FleetFilter;

/* Reads and builds the view: {ok, backend, endpoint, prefix, revision, read_ms, nodes,
 * switches: [{key, scope, group?, name, value}], groups: [{name, members, alive, healthy,
 * budget{…}, stop, holders[{node, rule, since, alive, healthy}], queue[{position, node, rule,
 * since, reason}], unhealthy[{node, checks[]}], dead[NODE], parked[{node, rule, reason}],
 * sick[{node, rule, reason}], reboot_requests[{node, reason}]}]}. On failure returns a negative
 * errno and *ret_error (malloc'ed) says why. */
int fleet_read(const Config *cfg, const FleetFilter *filter, struct json_object **ret, char **ret_error);
