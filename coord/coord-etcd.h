/* SPDX-License-Identifier: MIT */
/* The etcd backend's parsers of etcd's replies, callable on their own (tests/fuzz/fuzz-etcd.c);
 * the backend itself is reached through coordinator.h only. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* etcd's answer to one call (gRPC gateway, HTTP status and body): 0 and the reply object
 * (*ret_reply, the caller puts it), or -EPROTO (not 200: etcd's message and code) / -EBADMSG
 * (not a JSON object) with *ret_error (malloc'ed). */
int etcd_reply_parse(long status, const char *body, struct json_object **ret_reply, char **ret_error);

/* A group read (a txn reply whose responses are [range GPREFIX, range stop key]) as the backend
 * reads it: the number of members, and whether one more holder stays within the group's budget
 * (its budget key, or no limit); *ret_granted_within_budget: the same reply read as a grant
 * transaction's read-back (third response). -EBADMSG when it is not a group read. */
int etcd_group_parse(const char *gprefix, struct json_object *reply, size_t *ret_members, bool *ret_within_budget,
                     bool *ret_granted_within_budget);
