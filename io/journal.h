/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"

/* The node's journal: the history `medicctl history` shows (and the state file keeps), the
 * escalations (logged, noted, and told to the notify command), and the park switch of
 * reboot-loop protection. */
typedef struct Journal {
        sd_event *event;
        const Config *config;         /* notify_command, node, group, history_size */
        bool *dirty;                  /* set when something to persist changed */
        struct json_object *history;  /* array, oldest first */
        bool parked;
        char *parked_reason;
        char *parked_rule;          /* the rule whose firing parked the node (may be NULL) */
} Journal;

int journal_init(Journal *j, sd_event *e, const Config *c, bool *dirty);
void journal_done(Journal *j);
/* After a reload. */
void journal_configure(Journal *j, const Config *c);

/* Appends an entry (ownership passes), trimmed to history_size. */
void journal_add(Journal *j, struct json_object *entry);
/* A {time, kind, rule?, condition?, decision?, message} entry. */
void journal_note(Journal *j, const char *kind, const char *rule, const char *condition, const char *decision,
                  const char *message);
/* The same note again (a repeated coordinator answer): the rule's last entry of this kind,
 * if it says the same, gains count, since and last instead of a new entry. */
void journal_note_repeat(Journal *j, const char *kind, const char *rule, const char *decision, const char *message,
                         unsigned count);
/* Logged at crit, noted, and run through the notify command. */
void journal_escalate(Journal *j, const char *event, const char *rule, const char *reason);
/* The same with its own MESSAGE_ID and level (journal_escalate() uses MEDIC_MSG_RULE_ESCALATED). */
void journal_escalate_as(Journal *j, int level, const char *message_id, const char *event, const char *rule,
                         const char *reason);
/* Reboot-loop protection: no automation until an operator unparks. */
void journal_park(Journal *j, const char *rule, const char *reason);
void journal_unpark(Journal *j);
