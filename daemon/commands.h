/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-c/json.h>
#include <sys/types.h>

#include "control.h"
#include "manager.h"

/* Answers one control request (control_new()'s handler; userdata is the Manager). */
struct json_object *commands_dispatch(ControlConn *conn, struct json_object *req, uid_t uid, void *userdata);
/* A check finished (c: its condition; NULL: it was skipped) or failed (error): answers the
 * `run-check` requests waiting for it (check NULL: all of them). */
void commands_answer_waiters(Manager *m, const char *check, const Condition *c, const char *error);
