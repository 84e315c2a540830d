/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <syslog.h>

#include "util.h"

/* MESSAGE_IDs, one per kind of event; documented in medicd(8) (and the journal catalog). */
#define MEDIC_MSG_STARTED "fe25058d465c4ba1adb44c481bc323e2"
#define MEDIC_MSG_STOPPING "5f4998b3be3d489db4407d64b46949f6"
#define MEDIC_MSG_RELOADED "86a5db1aab5943758e23628ed87f1c98"
#define MEDIC_MSG_RELOAD_FAILED "233bd1dcccec49d8a5abb6bb638fbba8"
#define MEDIC_MSG_CONFIG_ERROR "ec57b246ee16403c8ee9f2a59776365a"
#define MEDIC_MSG_FILE_REFUSED "8d960306de5e4d9f8eabf2d2f46991da"
#define MEDIC_MSG_CHECK_CHANGED "93d8c132470d43eeb38455bdfc9c30a6"
#define MEDIC_MSG_CHECK_FAILED "13c824ca83bb4aea8f41e76a748f13d8"
#define MEDIC_MSG_FLAPPING "e3dbef003cbe488f954f481e101170cd"
#define MEDIC_MSG_RULE_FIRED "bb7174755be74b42b0e6bfa1760d4c02"
#define MEDIC_MSG_RULE_BLOCKED "716169bb3fcb458dae2d90caa1600737"
#define MEDIC_MSG_RULE_EXHAUSTED "827a4fdf6b9045beb1f929e287ac8b6b"
#define MEDIC_MSG_RULE_ESCALATED "8c67d676ba38477a915ec7eb0cb10bbd"
#define MEDIC_MSG_RULE_STUCK "3d0f6a2c9b1e4f7aa5c84e21d97b6f10"
#define MEDIC_MSG_REMEDY_DONE "56993f923f294ea8baf9bcfb30e24db6"
#define MEDIC_MSG_REMEDY_FAILED "09131216a3154d21877b96b963533f96"
#define MEDIC_MSG_DRY_RUN "0faa8b3683a1412c911f50d5c49cae2c"
#define MEDIC_MSG_PERMISSION "f528c9ae170a46488f04d7fe1b8d5be8"
#define MEDIC_MSG_REBOOT_STARTED "e1f7585d43f841eb84d9bd0bc3768fc2"
#define MEDIC_MSG_REBOOT_METHOD "e6e9f1d1caf14d4c99dbce026c1a9a98"
#define MEDIC_MSG_REBOOT_STUCK "3b9e85c495344d0793f1c7e4bff06b82"
#define MEDIC_MSG_REBOOTED "3558cd328f5f47faaffe6f090266a5ab"
#define MEDIC_MSG_REBOOT_DONE "6b82f7fa6869404b926f77b47beb08fd"
#define MEDIC_MSG_REBOOT_ABORTED "cd141e408fc54339a9013f3e0a5447ab"
#define MEDIC_MSG_NODE_PARKED "ef69eb25cd1049a6b109de8f4d4ac560"
#define MEDIC_MSG_CAME_BACK_SICK "2ea1630964b14f94ad5099b5ba51ddbc"
#define MEDIC_MSG_STATE_CORRUPT "13b65fcb83c540428a50ee657a68c42e"

typedef enum LogTarget {
        LOG_TARGET_AUTO,    /* the journal when stderr is connected to it, else stderr */
        LOG_TARGET_JOURNAL,
        LOG_TARGET_STDERR,
} LogTarget;

void log_setup(LogTarget target, int max_level);
void log_set_max_level(int level);
int log_get_max_level(void);

/* Structured fields passed to the log functions: a NULL-terminated list of "KEY=value"
 * strings built with LOG_FIELD(). Any value may be NULL (the field is then left out). */
typedef struct LogField {
        const char *key;
        const char *value;
} LogField;

/* Logs message at level with a MESSAGE_ID (may be NULL) and extra fields (array terminated
 * by a {NULL, NULL} entry, may be NULL). Returns -abs(error) so callers can
 * "return log_...(r, ...)". */
int log_internal(int level, int error, const char *message_id, const LogField *fields,
                 const char *func, const char *file, int line, const char *fmt, ...) _printf_(8, 9);

#define log_full_errno(level, error, ...) \
        log_internal(level, error, NULL, NULL, __func__, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...)   log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_error_errno(error, ...)   log_full_errno(LOG_ERR, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")

/* An event with a MESSAGE_ID and fields: log_event(LOG_NOTICE, MEDIC_MSG_RULE_FIRED,
 *     LOG_FIELDS({"MEDIC_RULE", name}, {"MEDIC_REMEDY", desc}), "Rule %s fired", name); */
#define LOG_FIELDS(...) ((const LogField[]) { __VA_ARGS__, { NULL, NULL } })
#define log_event(level, id, fields, ...) \
        log_internal(level, 0, id, fields, __func__, __FILE__, __LINE__, __VA_ARGS__)
