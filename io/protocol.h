/* SPDX-License-Identifier: MIT */
#pragma once

/* The control protocol between medicctl and medicd (HACKING.md has the reply fields): one
 * JSON object per request, {"command": NAME, ...arguments}. The names live here so that the
 * two sides cannot drift apart. */

#define MEDIC_FIELD_COMMAND "command"
#define MEDIC_FIELD_RULE    "rule"     /* explain */
#define MEDIC_FIELD_CHECK   "check"    /* run-check */
#define MEDIC_FIELD_ACTION  "action"   /* request, coordinator */
#define MEDIC_FIELD_LIMIT   "limit"    /* history */
#define MEDIC_FIELD_REASON  "reason"   /* request reboot */

#define MEDIC_CMD_STATUS      "status"
#define MEDIC_CMD_CONDITIONS  "conditions"
#define MEDIC_CMD_RULES       "rules"
#define MEDIC_CMD_HISTORY     "history"
#define MEDIC_CMD_EXPLAIN     "explain"
#define MEDIC_CMD_RUN_CHECK   "run-check"
#define MEDIC_CMD_RELOAD      "reload"
#define MEDIC_CMD_UNPARK      "unpark"
#define MEDIC_CMD_REQUEST     "request"
#define MEDIC_CMD_COORDINATOR "coordinator"

/* Reply fields both sides read or write (the nested objects are described in HACKING.md). */
#define MEDIC_REPLY_OK           "ok"
#define MEDIC_REPLY_ERROR        "error"
#define MEDIC_REPLY_ERRORS       "errors"
#define MEDIC_REPLY_CONDITIONS   "conditions"
#define MEDIC_REPLY_RULES        "rules"
#define MEDIC_REPLY_HISTORY      "history"
#define MEDIC_REPLY_CONDITION    "condition"
#define MEDIC_REPLY_STEPS        "steps"
#define MEDIC_REPLY_WOULD_FIRE   "would_fire"
#define MEDIC_REPLY_DECISION     "decision"
#define MEDIC_REPLY_PERMISSION   "permission"
#define MEDIC_REPLY_COORDINATOR  "coordinator"
#define MEDIC_REPLY_REBOOT       "reboot"
