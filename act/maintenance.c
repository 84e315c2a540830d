/* SPDX-License-Identifier: MIT */
/* The maintenance remedy: with permission, run the drain tasks, keep the node out while its
 * condition stays (an IPMI Critical sensor until the hardware is repaired), then run the
 * undrain tasks, settle (with a settle time: keep the permission until the node has been
 * healthy that long, the reboot's health gate) and give the permission back. The phase is
 * persisted, so a restart or a reboot in the middle carries on where it was. */
#include <string.h>

#include "killpoint.h"
#include "duration.h"
#include "log.h"
#include "maintenance.h"
#include "permission.h"
#include "reboot.h"
#include "settle.h"

#define UNDRAIN_RETRY (5 * 60 * USEC_PER_SEC)

typedef struct MaintCtx {
        ActHost *h;
        char *rule;
} MaintCtx;

static void set_phase(ActHost *h, RuleState *s, const char *phase) {
        free(s->maintenance);
        s->maintenance = strdup_or_null(phase);
        act_save(h);
        KILLPOINT_AT("maint-phase", phase ? phase : "none");
}

static char **env_for(ActHost *h, RuleState *s, StrList *l) {
        strlist_addf(l, "MEDIC_NODE=%s", h->config->node);
        strlist_addf(l, "MEDIC_GROUP=%s", h->config->group);
        strlist_addf(l, "MEDIC_RULE=%s", s->name);
        if (s->maintenance_condition)
                strlist_addf(l, "MEDIC_CONDITION=%s", s->maintenance_condition);
        return l->v;
}

/* The maintenance is over (NOTE: "done", or "undone" after an abandoned or failed drain was
 * put back): the permission goes back. */
static void finish(ActHost *h, RuleState *s, const char *note, const char *detail, const char *why) {
        journal_note(h->journal, "maintenance", s->name, s->maintenance_condition, note, detail);
        s->maintenance_retry = 0;
        s->maintenance_since = 0;
        settle_clear(&s->maintenance_settle);
        free(s->maintenance_condition);
        s->maintenance_condition = NULL;
        set_phase(h, s, NULL);
        (void) permission_release(h->perm, s->name, why);
}

static void begin_settle(ActHost *h, RuleState *s, const RuleDecl *d) {
        char a[32], b[32];

        log_event(LOG_NOTICE, MEDIC_MSG_REMEDY_DONE, LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_DECISION", "settling" }),
                  "Maintenance for rule %s: undrained; keeping the permission until the node has been healthy for %s "
                  "(came back sick after %s)", s->name, duration_format(d->remedy.settle, a, sizeof a),
                  duration_format(d->remedy.settle_timeout, b, sizeof b));
        journal_note(h->journal, "maintenance", s->name, s->maintenance_condition, "settling", "undrained");
        s->maintenance_since = now_realtime();
        settle_begin(&s->maintenance_settle);
        set_phase(h, s, "settling");
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
        KILLPOINT_AT("maint-tasks-done", s->maintenance ? s->maintenance : "none");
        if (streq_ptr(s->maintenance, "draining")) {
                if (!ok && !permission_revoked(h->perm)) {
                        _cleanup_free_ char *why = strprintf("drain failed: %s", detail ? detail : "?");
                        log_event(LOG_ERR, MEDIC_MSG_REMEDY_FAILED, LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_REASON", why }),
                                  "Maintenance for rule %s: %s; undraining and giving the permission back", s->name, why);
                        journal_escalate(h->journal, "drain-failed", s->name, why);
                        /* Put back what the drain may have done half-way. */
                        set_phase(h, s, "undoing");
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
                        set_phase(h, s, "undoing");
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
        if (streq_ptr(s->maintenance, "undraining") || streq_ptr(s->maintenance, "undoing")) {
                bool undo = streq_ptr(s->maintenance, "undoing");
                if (!ok) {
                        _cleanup_free_ char *why = strprintf("undrain failed: %s", detail ? detail : "?");
                        log_event(LOG_ERR, MEDIC_MSG_REMEDY_FAILED, LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_REASON", why }),
                                  "Maintenance for rule %s: %s; keeping the permission, trying again in 5 minutes",
                                  s->name, why);
                        journal_escalate(h->journal, "undrain-failed", s->name, why);
                        s->maintenance_retry = now_monotonic() + UNDRAIN_RETRY;
                        return;
                }
                const RuleDecl *d = luaset_find_rule(h->set, s->name);
                s->maintenance_retry = 0;
                if (undo) {
                        /* Nothing was repaired: no settle to wait for, and not "done". */
                        log_event(LOG_NOTICE, MEDIC_MSG_REMEDY_DONE,
                                  LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_DECISION", "release" }),
                                  "Maintenance for rule %s undone: undrained (%s) after it was abandoned; "
                                  "giving the permission back", s->name, detail ? detail : "");
                        finish(h, s, "undone", detail, "the abandoned maintenance is undone");
                        return;
                }
                if (d && d->remedy.kind == REMEDY_MAINTENANCE && d->remedy.settle > 0) {
                        begin_settle(h, s, d);
                        maintenance_tick(h);
                        return;
                }
                log_event(LOG_NOTICE, MEDIC_MSG_REMEDY_DONE, LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_DECISION", "release" }),
                          "Maintenance for rule %s done: undrained (%s); giving the permission back", s->name,
                          detail ? detail : "");
                finish(h, s, "done", detail, "the maintenance is over");
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

/* The settle after the undrain: the permission is kept until the node has been healthy for
 * the rule's settle, as the reboot's health gate does after a boot. */
static void settling(ActHost *h, RuleState *s, const RuleDecl *d) {
        char buf[32];

        if (s->maintenance_settle.start_bt == 0)
                /* Restored from the state file: medicd restarted during the settle. */
                log_notice("Maintenance for rule %s: medicd restarted during the settle; settling again on fresh "
                           "observations, keeping the permission", s->name);
        if (!settle_tick(h, &s->maintenance_settle, s->name, "the maintenance", d->remedy.settle,
                         d->remedy.settle_timeout))
                return;
        log_event(LOG_NOTICE, MEDIC_MSG_REMEDY_DONE, LOG_FIELDS({ "MEDIC_RULE", s->name }, { "MEDIC_DECISION", "release" }),
                  "Maintenance for rule %s done: healthy for %s; giving the permission back", s->name,
                  duration_format(d->remedy.settle, buf, sizeof buf));
        finish(h, s, "done", "healthy after the maintenance; permission released", "healthy after the maintenance");
}

/* Drives every rule in maintenance: after a restart a drain cut short is undone and a hold,
 * undrain or settle carries on (a settle on fresh observations); undrains once the condition
 * is ok again (unknown keeps the node out: it is not a healthy signal); releases once
 * settled. */
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
                        set_phase(h, s, "undoing");
                        (void) run_tasks(h, s, d->remedy.undrain);
                } else if (streq_ptr(s->maintenance, "holding")) {
                        Condition *c = s->maintenance_condition ? condtable_find(h->conds, s->maintenance_condition) : NULL;
                        if (c && c->state == COND_OK) {
                                log_notice("Maintenance for rule %s: %s is ok again; running the undrain tasks", s->name, c->name);
                                set_phase(h, s, "undraining");
                                (void) run_tasks(h, s, d->remedy.undrain);
                        }
                } else if ((streq_ptr(s->maintenance, "undraining") || streq_ptr(s->maintenance, "undoing")) &&
                           now_monotonic() >= s->maintenance_retry)
                        (void) run_tasks(h, s, d->remedy.undrain);
                else if (streq_ptr(s->maintenance, "settling"))
                        settling(h, s, d);
        }
}

void maintenance_cancel_all(ActHost *h) {
        for (size_t i = 0; i < h->rstates->n; i++) {
                tasks_cancel(h->rstates->v[i]->maintenance_tasks);
                h->rstates->v[i]->maintenance_tasks = NULL;
        }
}

char *maintenance_describe(ActHost *h, const RuleState *s) {
        const RuleDecl *d = luaset_find_rule(h->set, s->name);
        _cleanup_free_ char *wait = NULL;
        char buf[32];

        if (!streq_ptr(s->maintenance, "settling") || !d || d->remedy.kind != REMEDY_MAINTENANCE)
                return strprintf("in maintenance (%s)", s->maintenance ? s->maintenance : "?");
        wait = settle_describe(h, &s->maintenance_settle, d->remedy.settle);
        return strprintf("in maintenance (settling for %s: %s)",
                         duration_format(usec_sub_sat(now_realtime(), s->maintenance_since), buf, sizeof buf),
                         wait ? wait : "?");
}

struct json_object *maintenance_status(ActHost *h, const RuleState *s) {
        const RuleDecl *d = luaset_find_rule(h->set, s->name);
        struct json_object *o;

        if (!s->maintenance)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "rule", json_object_new_string(s->name));
        json_object_object_add(o, "phase", json_object_new_string(s->maintenance));
        json_object_object_add(o, "condition", s->maintenance_condition ? json_object_new_string(s->maintenance_condition) : NULL);
        if (streq_ptr(s->maintenance, "settling") && d && d->remedy.kind == REMEDY_MAINTENANCE) {
                _cleanup_free_ char *wait = settle_describe(h, &s->maintenance_settle, d->remedy.settle);
                json_object_object_add(o, "since", json_object_new_int64((int64_t) (s->maintenance_since / USEC_PER_SEC)));
                json_object_object_add(o, "settle", json_object_new_int64((int64_t) (d->remedy.settle / USEC_PER_SEC)));
                json_object_object_add(o, "settle_timeout",
                                       json_object_new_int64((int64_t) (d->remedy.settle_timeout / USEC_PER_SEC)));
                json_object_object_add(o, "waiting_for", json_object_new_string(wait ? wait : ""));
                json_object_object_add(o, "healthy_since", s->maintenance_settle.healthy_bt ?
                                       json_object_new_int64(settle_wall(s->maintenance_settle.healthy_bt)) : NULL);
                json_object_object_add(o, "came_back_sick", s->maintenance_settle.sick_escalated ?
                                       json_object_new_string(s->maintenance_settle.sick_why ? s->maintenance_settle.sick_why : "") : NULL);
        }
        return o;
}

const char *maintenance_sick(ActHost *h, const char **ret_why) {
        for (size_t i = 0; i < h->rstates->n; i++) {
                const RuleState *s = h->rstates->v[i];
                if (streq_ptr(s->maintenance, "settling") && s->maintenance_settle.sick_escalated) {
                        if (ret_why)
                                *ret_why = s->maintenance_settle.sick_why;
                        return s->name;
                }
        }
        return NULL;
}
