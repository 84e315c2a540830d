/* SPDX-License-Identifier: MIT */
/* The journal: history, escalations with the notify command, the park switch (journal.h). */
#include <string.h>

#include "exec.h"
#include "journal.h"
#include "log.h"

int journal_init(Journal *j, sd_event *e, const Config *c, bool *dirty) {
        *j = (Journal) { .event = e, .config = c, .dirty = dirty, .history = json_object_new_array() };
        return j->history ? 0 : -ENOMEM;
}

void journal_done(Journal *j) {
        json_object_put(j->history);
        free(j->parked_reason);
        free(j->parked_rule);
        *j = (Journal) {};
}

void journal_configure(Journal *j, const Config *c) {
        j->config = c;
}

void journal_add(Journal *j, struct json_object *entry) {
        json_object_array_add(j->history, entry);
        size_t n = json_object_array_length(j->history), max = j->config->history_size;
        if (n > max)
                json_object_array_del_idx(j->history, 0, n - max);
        *j->dirty = true;
}

void journal_note(Journal *j, const char *kind, const char *rule, const char *condition, const char *decision,
                  const char *message) {
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "time", json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
        json_object_object_add(e, "kind", json_object_new_string(kind));
        if (rule)
                json_object_object_add(e, "rule", json_object_new_string(rule));
        if (condition)
                json_object_object_add(e, "condition", json_object_new_string(condition));
        if (decision)
                json_object_object_add(e, "decision", json_object_new_string(decision));
        json_object_object_add(e, "message", json_object_new_string(message ? message : ""));
        journal_add(j, e);
}

void journal_note_repeat(Journal *j, const char *kind, const char *rule, const char *decision, const char *message,
                         unsigned count) {
        size_t n = json_object_array_length(j->history);
        struct json_object *v;

        /* Look back a little: other entries may have come in between. */
        for (size_t i = n, seen = 0; i > 0 && seen < 16; i--, seen++) {
                struct json_object *e = json_object_array_get_idx(j->history, i - 1);
                if (!json_object_object_get_ex(e, "kind", &v) || !streq_ptr(json_object_get_string(v), kind))
                        continue;
                if (!json_object_object_get_ex(e, "rule", &v) || !streq_ptr(json_object_get_string(v), rule))
                        continue;
                if (!json_object_object_get_ex(e, "decision", &v) || !streq_ptr(json_object_get_string(v), decision) ||
                    !json_object_object_get_ex(e, "message", &v) || !streq_ptr(json_object_get_string(v), message ? message : ""))
                        break; /* the last entry of this rule says something else: a new one */
                /* One entry for the run: since its first time, how many, and the last time.
                 * Not saved for this alone: the state file is written when something durable
                 * changes. */
                if (!json_object_object_get_ex(e, "since", NULL) && json_object_object_get_ex(e, "time", &v))
                        json_object_object_add(e, "since", json_object_get(v));
                json_object_object_add(e, "count", json_object_new_int64(count));
                json_object_object_add(e, "last", json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
                return;
        }
        journal_note(j, kind, rule, NULL, decision, message);
}

static void on_notify_done(const ExecResult *r, void *userdata) {
        _cleanup_free_ char *d = exec_result_describe(r, 60 * USEC_PER_SEC);
        if (!(r->exited && r->exit_status == 0))
                log_warning("The notify command %s", d ? d : "failed");
}

void journal_escalate(Journal *j, const char *event, const char *rule, const char *reason) {
        journal_escalate_as(j, LOG_CRIT, MEDIC_MSG_RULE_ESCALATED, event, rule, reason);
}

void journal_escalate_as(Journal *j, int level, const char *message_id, const char *event, const char *rule,
                         const char *reason) {
        log_event(level, message_id,
                  LOG_FIELDS({ "MEDIC_RULE", rule }, { "MEDIC_DECISION", event }, { "MEDIC_REASON", reason }),
                  "Escalation (%s)%s%s: %s", event, rule ? " for rule " : "", rule ? rule : "", reason ? reason : "");
        journal_note(j, "escalation", rule, NULL, event, reason);
        if (!j->config->notify_command)
                return;
        StrList env = {};
        strlist_addf(&env, "MEDIC_EVENT=%s", event);
        strlist_addf(&env, "MEDIC_NODE=%s", j->config->node);
        strlist_addf(&env, "MEDIC_GROUP=%s", j->config->group);
        strlist_addf(&env, "MEDIC_RULE=%s", rule ? rule : "");
        strlist_addf(&env, "MEDIC_REASON=%s", reason ? reason : "");
        char *argv[] = { j->config->notify_command, (char *) event, NULL };
        ExecOptions o = { .timeout_usec = 60 * USEC_PER_SEC, .env = env.v };
        if (exec_start(j->event, argv, &o, on_notify_done, NULL, NULL) < 0)
                log_warning("Cannot run the notify command %s", j->config->notify_command);
        strlist_clear(&env);
}

void journal_park(Journal *j, const char *rule, const char *reason) {
        if (j->parked)
                return;
        j->parked = true;
        free(j->parked_reason);
        j->parked_reason = strdup_or_null(reason);
        free(j->parked_rule);
        j->parked_rule = strdup_or_null(rule);
        *j->dirty = true;
        log_event(LOG_CRIT, MEDIC_MSG_NODE_PARKED,
                  LOG_FIELDS({ "MEDIC_DECISION", "parked" }, { "MEDIC_RULE", rule }, { "MEDIC_REASON", reason }),
                  "Node parked: %s (rule %s). No more automation on this node until an operator runs 'medicctl unpark'",
                  reason, rule ? rule : "-");
        journal_escalate(j, "parked", rule, reason);
}

void journal_unpark(Journal *j) {
        bool was = j->parked;

        j->parked = false;
        j->parked_reason = mfree(j->parked_reason);
        j->parked_rule = mfree(j->parked_rule);
        *j->dirty = true;
        journal_note(j, "operator", NULL, NULL, "unparked", was ? "automation resumed" : "was not parked");
        log_notice("Unparked by an operator: automation resumes");
}
