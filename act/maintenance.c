/* SPDX-License-Identifier: MIT */
/* The maintenance remedy: with permission, run the drain tasks, keep the node out while its
 * condition stays (an IPMI Critical sensor until the hardware is repaired), then run the
 * undrain tasks and give the permission back. The phase is persisted, so a restart or a
 * reboot in the middle carries on where it was. */
#include <string.h>

#include "log.h"
#include "maintenance.h"
#include "permission.h"
#include "reboot.h"

#define UNDRAIN_RETRY (5 * 60 * USEC_PER_SEC)

typedef struct MaintCtx {
        ActHost *h;
        char *rule;
} MaintCtx;

static void set_phase(ActHost *h, RuleState *s, const char *phase) {
        free(s->maintenance);
        s->maintenance = strdup_or_null(phase);
        act_save(h);
}

static char **env_for(ActHost *h, RuleState *s, StrList *l) {
        strlist_addf(l, "MEDIC_NODE=%s", h->config->node);
        strlist_addf(l, "MEDIC_GROUP=%s", h->config->group);
        strlist_addf(l, "MEDIC_RULE=%s", s->name);
        if (s->maintenance_condition)
                strlist_addf(l, "MEDIC_CONDITION=%s", s->maintenance_condition);
        return l->v;
}

static void on_tasks(bool ok, const char *detail, void *userdata) {
        MaintCtx *c = userdata;
        ActHost *h = c->h;
        RuleState *s = ruletable_get(h->rstates, c->rule, false);

        free(c->rule);
        free(c);
        if (!s)
                return;
        s->maintenance_tasks = NULL;
        if (streq_ptr(s->maintenance, "draining")) {
                if (!ok && !permission_revoked(h->perm)) {
                        _cleanup_free_ char *why = strprintf("drain failed: %s", detail ? detail : "?");
                        log_event(LOG_ERR, MEDIC_MSG_REMEDY_FAILED, LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_REASON", why }),
                                  "Maintenance for rule %s: %s; undraining and giving the permission back", s->name, why);
                        journal_escalate(h->journal, "drain-failed", s->name, why);
                        /* Put back what the drain may have done half-way. */
                        set_phase(h, s, "undraining");
                        maintenance_tick(h);
                        return;
                }
                /* The drain took its time: decided again, on what this process observes now (a
                 * drain stopped because the permission was taken back is decided so too). */
                _cleanup_free_ char *changed = h->recheck(h->userdata, s->name);
                if (changed) {
                        _cleanup_free_ char *why = strprintf("no longer wanted after the drain: %s", changed);
                        log_event(LOG_WARNING, MEDIC_MSG_REMEDY_FAILED,
                                  LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_DECISION", "abandon" }, { "MEDIC_REASON", why }),
                                  "Maintenance for rule %s abandoned: %s; running the undrain tasks", s->name, why);
                        journal_note(h->journal, "maintenance", s->name, s->maintenance_condition, "abandoned", why);
                        set_phase(h, s, "undraining");
                        maintenance_tick(h);
                        return;
                }
                log_event(LOG_NOTICE, MEDIC_MSG_REMEDY_DONE, LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_DECISION", "holding" }),
                          "Maintenance for rule %s: drained (%s); holding the node out while %s stays", s->name,
                          detail ? detail : "", s->maintenance_condition ? s->maintenance_condition : "the condition");
                journal_note(h->journal, "maintenance", s->name, s->maintenance_condition, "drained", detail);
                set_phase(h, s, "holding");
                return;
        }
        if (streq_ptr(s->maintenance, "undraining")) {
                if (!ok) {
                        _cleanup_free_ char *why = strprintf("undrain failed: %s", detail ? detail : "?");
                        log_event(LOG_ERR, MEDIC_MSG_REMEDY_FAILED, LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_REASON", why }),
                                  "Maintenance for rule %s: %s; keeping the permission, trying again in 5 minutes",
                                  s->name, why);
                        journal_escalate(h->journal, "undrain-failed", s->name, why);
                        s->maintenance_retry = now_monotonic() + UNDRAIN_RETRY;
                        return;
                }
                log_event(LOG_NOTICE, MEDIC_MSG_REMEDY_DONE, LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_DECISION", "release" }),
                          "Maintenance for rule %s done: undrained (%s); giving the permission back", s->name,
                          detail ? detail : "");
                journal_note(h->journal, "maintenance", s->name, s->maintenance_condition, "done", detail);
                s->maintenance_retry = 0;
                free(s->maintenance_condition);
                s->maintenance_condition = NULL;
                set_phase(h, s, NULL);
                (void) permission_release(h->perm, s->name, "the maintenance is over");
        }
}

static int run_tasks(ActHost *h, RuleState *s, const char *dir) {
        MaintCtx *c = calloc(1, sizeof(*c));
        StrList env = {};
        int r;

        if (!c)
                return -ENOMEM;
        c->h = h;
        c->rule = strdup(s->name);
        r = tasks_run(h, s->name, dir, env_for(h, s, &env), on_tasks, c, &s->maintenance_tasks);
        strlist_clear(&env);
        if (r < 0) {
                free(c->rule);
                free(c);
        } else if (streq_ptr(s->maintenance, "draining"))
                tasks_require_permission(s->maintenance_tasks);
        return r;
}

int maintenance_start(ActHost *h, const RuleDecl *d, RuleState *s, const char *condition) {
        free(s->maintenance_condition);
        s->maintenance_condition = strdup_or_null(condition);
        set_phase(h, s, "draining");
        if (h->record)
                (void) h->record(h->record_data, d->name, "maintenance");
        log_event(LOG_NOTICE, MEDIC_MSG_RULE_FIRED, LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_DECISION", "drain" }),
                  "Maintenance for rule %s: running the drain tasks of %s", d->name, d->remedy.drain);
        int r = run_tasks(h, s, d->remedy.drain);
        if (r < 0) {
                /* Nothing ran: no maintenance (the caller gives the permission back). */
                s->maintenance_condition = mfree(s->maintenance_condition);
                set_phase(h, s, NULL);
        }
        return r;
}

/* Drives every rule in maintenance: after a restart a drain cut short is undone and a hold
 * or undrain carries on; undrains once the condition is ok again (unknown keeps the node
 * out: it is not a healthy signal). */
void maintenance_tick(ActHost *h) {
        for (size_t i = 0; i < h->rstates->n; i++) {
                RuleState *s = h->rstates->v[i];
                RuleDecl *d;
                if (!s->maintenance || s->maintenance_tasks)
                        continue;
                d = luaset_find_rule(h->set, s->name);
                if (!d || d->remedy.kind != REMEDY_MAINTENANCE) {
                        log_warning("Rule %s was in maintenance but no longer exists as a maintenance rule; "
                                    "the permission stays held until an operator releases it", s->name);
                        continue;
                }
                permission_claim(h->perm, s->name);
                if (streq_ptr(s->maintenance, "draining")) {
                        /* A drain no task of this process runs: medicd stopped in the middle.
                         * Nothing is begun again on an old decision: undo it; the rule asks
                         * again if its trigger, observed afresh, still holds. */
                        log_warning("medicd stopped during the drain for rule %s; running the undrain tasks "
                                    "(the rule asks again if its trigger still holds)", s->name);
                        journal_note(h->journal, "maintenance", s->name, s->maintenance_condition, "abandoned",
                                     "medicd stopped during the drain");
                        set_phase(h, s, "undraining");
                        (void) run_tasks(h, s, d->remedy.undrain);
                } else if (streq_ptr(s->maintenance, "holding")) {
                        Condition *c = s->maintenance_condition ? condtable_find(h->conds, s->maintenance_condition) : NULL;
                        if (c && c->state == COND_OK) {
                                log_notice("Maintenance for rule %s: %s is ok again; running the undrain tasks", s->name, c->name);
                                set_phase(h, s, "undraining");
                                (void) run_tasks(h, s, d->remedy.undrain);
                        }
                } else if (streq_ptr(s->maintenance, "undraining") && now_monotonic() >= s->maintenance_retry)
                        (void) run_tasks(h, s, d->remedy.undrain);
        }
}

void maintenance_cancel_all(ActHost *h) {
        for (size_t i = 0; i < h->rstates->n; i++) {
                tasks_cancel(h->rstates->v[i]->maintenance_tasks);
                h->rstates->v[i]->maintenance_tasks = NULL;
        }
}
