/* SPDX-License-Identifier: MIT */
/* The rule engine: gathers what a rule's decision depends on (its trigger, blockers, record,
 * the node's permission) into the input of the pure decide(), and acts on the verdict.
 * `medicctl explain` calls rule_decide() too, so it shows exactly the reasoning acted on. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "killpoint.h"
#include "duration.h"
#include "log.h"
#include "maintenance.h"
#include "manager.h"
#include "metrics.h"
#include "permission.h"
#include "state.h"
#include "reboot.h"
#include "remedy.h"

/* The condition a rule works on: its own `when`, or that of the rule escalating to it. */
static Condition *trigger_condition(Manager *m, const RuleDecl *d) {
        if (d->when)
                return condtable_find(&m->conds, d->when);
        for (size_t i = 0; i < d->n_escalated_from; i++) {
                Condition *c = trigger_condition(m, d->escalated_from[i]);
                if (c)
                        return c;
        }
        return NULL;
}

/* Whether every condition known now was reported by a run of its check in this process: a
 * Lua predicate may read any of them, so it is trusted only then. */
static bool all_observed(Manager *m) {
        return condtable_all_observed(&m->conds);
}

bool rule_armed(Manager *m, const RuleDecl *d, RuleState *s, uint64_t now, Armed *ret) {
        uint64_t now_bt = now_boottime();

        *ret = (Armed) {};
        if (d->when) {
                Condition *c = condtable_find(&m->conds, d->when);
                if (c && c->state == COND_PROBLEM) {
                        ret->armed = true;
                        ret->since = c->since;
                        ret->held_for = condition_held_for(c, now, now_bt);
                        ret->fresh = c->observed_bt != 0;
                        ret->why = strprintf("%s is problem: %s", d->when, c->message ? c->message : "");
                        return true;
                }
                ret->why = c ? strprintf("%s is %s", d->when, cond_state_to_string(c->state))
                             : strprintf("condition %s does not exist (no check reported it)", d->when);
        } else if (d->when_ref != LUA_NOREF) {
                _cleanup_free_ char *err = NULL;
                _cleanup_free_ char *what = strprintf("rule %s: when", d->name);
                lua_State *L = d->file->L;
                int r = luafile_pcall(d->file, d->when_ref, 0, 2, USEC_PER_SEC, what ? what : d->name, &err);
                if (r < 0) {
                        log_debug("%s:%d: rule %s: predicate failed: %s", d->file->path, d->line, d->name, err);
                        ret->why = strprintf("predicate failed: %s", err ? err : "?");
                        s->armed_since = s->armed_since_bt = 0;
                } else {
                        bool yes = lua_toboolean(L, -2);
                        const char *reason = lua_tostring(L, -1);
                        ret->why = strprintf("predicate is %s%s%s", yes ? "true" : "false", reason ? ": " : "",
                                             reason ? reason : "");
                        lua_pop(L, 2);
                        if (yes) {
                                if (s->armed_since == 0) {
                                        s->armed_since = now;
                                        s->armed_since_bt = now_bt;
                                }
                                ret->armed = true;
                                ret->since = s->armed_since;
                                ret->held_for = usec_sub_sat(now_bt, s->armed_since_bt);
                                ret->fresh = all_observed(m);
                                return true;
                        }
                        s->armed_since = s->armed_since_bt = 0;
                }
        } else
                ret->why = strdup("reached only by escalation");

        /* Escalated to by a rule that gave up on its episode. */
        for (size_t i = 0; i < d->n_escalated_from; i++) {
                RuleDecl *src = d->escalated_from[i];
                RuleState *ss;
                Armed a = {};
                ss = ruletable_get(&m->rstates, src->name, false);
                if (ss && ss->escalated && rule_armed(m, src, ss, now, &a)) {
                        free(ret->why);
                        *ret = a;
                        ret->since = ss->episode;
                        free(ret->why);
                        ret->why = strprintf("escalated from rule %s", src->name);
                        return true;
                }
                armed_done(&a);
        }
        return false;
}

void armed_done(Armed *a) {
        a->why = mfree(a->why);
}

/* Why a remedy in progress on this node excludes this one now (NULL: nothing does). self
 * names the work this decision is about (a re-decision after its own tasks), which does not
 * count. */
static char *busy_reason(Manager *m, const RuleDecl *d, const RuleState *s, bool acting) {
        bool disruptive = remedy_is_disruptive(&d->remedy);
        const char *owner = permission_rule(m->perm);

        if (s->running)
                return strdup("remedy is running");
        if (s->maintenance && !acting)
                return maintenance_describe(&m->act, s);
        if (!disruptive)
                return NULL;
        if (!acting && rebooter_busy(m->rebooter))
                return strdup("a reboot of this node is in progress");
        for (size_t i = 0; i < m->rstates.n; i++)
                if (m->rstates.v[i] != s && m->rstates.v[i]->maintenance)
                        /* One disruption at a time: the permission is the node's. */
                        return strprintf("the node is in maintenance for rule %s", m->rstates.v[i]->name);
        if (owner && strcmp(owner, d->name) != 0)
                return strprintf("rule %s %s the node's permission", owner,
                                 permission_held(m->perm) ? "holds" : "asks for");
        return NULL;
}

/* The disruption pending or running on this node that makes this lesser remedy moot: a reboot
 * or maintenance whose rule works on the same condition (its trigger condition is what the
 * disruption clears), while it asks for or holds the node's permission, runs its tasks or
 * holds the node. NULL: none (or this rule is disruptive itself, or has no condition). */
static char *superseded_by(Manager *m, const RuleDecl *d) {
        Condition *mine;
        const char *owner = permission_rule(m->perm);

        if (remedy_is_disruptive(&d->remedy) || !(mine = trigger_condition(m, d)))
                return NULL;
        for (size_t i = 0; i <= m->rstates.n; i++) {
                /* The rule of the node's permission first, then every rule in maintenance. */
                const char *name = i == 0 ? owner : m->rstates.v[i - 1]->maintenance ? m->rstates.v[i - 1]->name : NULL;
                const RuleDecl *x = name ? luaset_find_rule(m->set, name) : NULL;
                if (!x || x == d || !remedy_is_disruptive(&x->remedy) || trigger_condition(m, x) != mine)
                        continue;
                const RuleState *xs = ruletable_get(&m->rstates, x->name, false);
                const char *phase = xs && xs->maintenance ? xs->maintenance
                                  : x->remedy.kind == REMEDY_REBOOT && rebooter_busy(m->rebooter) ? "in progress"
                                  : permission_held(m->perm) && streq_ptr(owner, x->name) ? "permission held"
                                  : "asking for permission";
                return strprintf("%s of rule %s (%s)", x->remedy.kind == REMEDY_REBOOT ? "reboot" : "maintenance",
                                 x->name, phase);
        }
        return NULL;
}

static uint64_t since_fired(const RuleState *s, uint64_t now, uint64_t now_bt) {
        if (s->last_fired == 0)
                return UINT64_MAX;
        if (s->last_fired_bt)
                return usec_sub_sat(now_bt, s->last_fired_bt);
        return usec_sub_sat(now, s->last_fired);
}

Verdict rule_decide(Manager *m, const RuleDecl *d, RuleState *s, uint64_t now, bool acting,
                    struct json_object *steps, char **ret_reason) {
        Condition *cond = trigger_condition(m, d);
        DecideBlocker blockers[d->unless.n ? d->unless.n : 1];
        const PermissionAnswer *last = permission_last_answer(m->perm);
        PermState perm = permission_state(m->perm, d->name);
        /* Whether the coordinator still shows the node as holder, from what the backend keeps. */
        if (perm == PERM_HELD)
                (void) permission_verify(m->perm);
        _cleanup_free_ char *busy = busy_reason(m, d, s, acting), *superseded = superseded_by(m, d);
        Armed a;
        Verdict v;

        (void) rule_armed(m, d, s, now, &a);
        for (size_t i = 0; i < d->unless.n; i++) {
                const char *name = d->unless.v[i];
                Condition *b = condtable_find(&m->conds, name);
                /* Only what this process observed clears a blocker: a restored one, or one
                 * whose check has not reported yet, blocks. */
                blockers[i] = (DecideBlocker) {
                        .name = name, .present = b != NULL, .stale = b && b->observed_bt == 0,
                        .pending = !b && luaset_find_check(m->set, name) && !strlist_contains(&m->skipped, name),
                        .state = b ? b->state : COND_OK, .message = b ? b->message : NULL,
                };
        }
        DecideInput in = {
                .rule = d->name,
                .disruptive = remedy_is_disruptive(&d->remedy),
                .holds = d->holds, .retry = d->retry, .limit = d->limit, .escalate = d->escalate,
                .windows = d->windows, .n_windows = d->n_windows,
                .armed = a.armed, .trigger_why = a.why, .armed_for = a.held_for, .fresh = a.fresh,
                .trigger_condition = cond ? cond->name : NULL, .flapping = cond && cond->flapping,
                .blockers = blockers, .n_blockers = d->unless.n,
                .same_episode = a.armed && s->episode == a.since, .attempts = s->attempts,
                .since_fired = since_fired(s, now, now_boottime()), .escalated = s->escalated, .fired = &s->fired,
                .busy = busy, .superseded_by = superseded, .parked = m->journal.parked, .parked_reason = m->journal.parked_reason,
                .stop_file = coordinator_stopped_locally(m->coord) ? m->config->stop_file : NULL,
                .max_disruptions = m->config->max_disruptions, .disruptions = &m->disruptions,
                .dry_run = manager_dry_run(m),
                .perm = perm, .perm_backend = permission_backend(m->perm),
                .perm_answer = perm == PERM_ASKING && last ? coord_answer_to_string(last->answer) : NULL,
                .perm_reason = perm == PERM_ASKING && last ? last->reason : NULL,
                .perm_count = perm == PERM_ASKING && last ? last->count : 0,
                .perm_waiting_for = perm == PERM_ASKING ? usec_sub_sat(now, permission_since(m->perm)) : 0,
                .perm_revoked = perm == PERM_HELD ? permission_revoked(m->perm) : NULL,
                .acting = acting,
                .now = now,
        };
        v = decide(&in, steps, ret_reason);
        armed_done(&a);
        return v;
}

/* ---- acting --------------------------------------------------------------------------- */

typedef struct RuleCtx {
        Manager *m;
        char *rule;
        char *condition;
} RuleCtx;

static RuleCtx *ctx_new(Manager *m, const RuleDecl *d) {
        RuleCtx *c = calloc(1, sizeof(*c));
        Condition *cond = trigger_condition(m, d);
        if (!c)
                return NULL;
        c->m = m;
        c->rule = strdup(d->name);
        c->condition = strdup_or_null(cond ? cond->name : d->when);
        if (!c->rule) {
                free(c->condition);
                free(c);
                return NULL;
        }
        return c;
}

static void ctx_free(RuleCtx *c) {
        if (!c)
                return;
        free(c->rule);
        free(c->condition);
        free(c);
}

static void ctx_free_void(void *c) {
        ctx_free(c);
}

static void on_remedy_done(bool success, const char *detail, void *userdata) {
        RuleCtx *c = userdata;
        Manager *m = c->m;
        RuleState *s = ruletable_get(&m->rstates, c->rule, true);

        if (s)
                s->running = NULL;
        metrics_remedy(m->metrics, c->rule, success ? METRICS_REMEDY_DONE : METRICS_REMEDY_FAILED);
        log_event(success ? LOG_NOTICE : LOG_WARNING, success ? MEDIC_MSG_REMEDY_DONE : MEDIC_MSG_REMEDY_FAILED,
                  LOG_FIELDS({ "MEDIC_RULE", c->rule }, { "MEDIC_CONDITION", c->condition },
                             { "MEDIC_DECISION", success ? "done" : "failed" }, { "MEDIC_REASON", detail }),
                  "Remedy of rule %s %s: %s", c->rule, success ? "succeeded" : "failed", detail ? detail : "");
        journal_note(&m->journal, "remedy", c->rule, c->condition, success ? "done" : "failed", detail);
        /* A disruptive remedy that did not take the node down gives the slot back. */
        (void) permission_release(m->perm, c->rule, "the remedy is over");
        ctx_free(c);
        manager_save(m);
}

void rule_remedy_cancel(RuleState *s) {
        ctx_free(remedy_cancel(s->running)); /* the RuleCtx on_remedy_done would have freed */
        s->running = NULL;
}

/* The reboot's handlers get the manager (nothing of theirs to free: a reboot that happens,
 * or a medicd stopped in the middle of one, calls neither). */
static void on_reboot_failed(const char *rule, const char *condition, const char *reason, void *userdata) {
        Manager *m = userdata;
        journal_note(&m->journal, "remedy", rule, condition, "failed", reason);
        manager_save(m);
}

static char *on_reboot_recheck(const char *rule, void *userdata) {
        return rule_recheck(userdata, rule);
}

/* Asked by the reboot and the maintenance after each of their waits (the tasks before the
 * disruption): may the disruption still go on? Returns NULL when it may, or why not. */
char *rule_recheck(Manager *m, const char *rule) {
        RuleDecl *d = luaset_find_rule(m->set, rule);
        RuleState *s = ruletable_get(&m->rstates, rule, false);
        char *reason = NULL;

        if (!d || !s)
                return strprintf("rule %s no longer exists", rule);
        if (permission_state(m->perm, rule) != PERM_HELD)
                return strdup("the permission is no longer held");
        uint64_t now = now_realtime();
        Verdict v = rule_decide(m, d, s, now, true, NULL, &reason);
        if (v != VERDICT_FIRE)
                return reason ? reason : strdup(verdict_to_string(v));
        free(reason);
        /* The disruption happens now, not when it was asked for: its time moves here, durably
         * first, so that tasks that took longer than a limit's window cannot let the next
         * disruption in early. */
        RuleState saved = *s;
        uint64_t then = s->last_fired;
        if (then && then != now) {
                eventlog_remove(&s->fired, then);
                eventlog_remove(&m->disruptions, then);
                if (eventlog_add(&s->fired, now) < 0 || eventlog_add(&m->disruptions, now) < 0)
                        return strdup("out of memory");
                s->last_fired = now;
                s->last_fired_bt = now_boottime();
                m->dirty = true;
                int r = state_save(m);
                if (r < 0) {
                        eventlog_remove(&s->fired, now);
                        eventlog_remove(&m->disruptions, now);
                        (void) eventlog_add(&s->fired, then);
                        (void) eventlog_add(&m->disruptions, then);
                        s->last_fired = saved.last_fired;
                        s->last_fired_bt = saved.last_fired_bt;
                        return strprintf("the disruption cannot be recorded durably (%s)", strerror(-r));
                }
                KILLPOINT("recheck-recorded");
        }
        return NULL;
}

/* Counts the firing before anything happens; for a disruptive remedy the record must be
 * durable first. Returns 0, or a negative errno when it could not be recorded (then it is
 * undone in memory too, and nothing may happen). */
static int record_firing(Manager *m, const RuleDecl *d, RuleState *s, uint64_t now) {
        bool disruptive = remedy_is_disruptive(&d->remedy) && !manager_dry_run(m);
        RuleState saved = *s;
        int r;

        s->attempts++;
        s->last_fired = now;
        s->last_fired_bt = now_boottime();
        r = eventlog_add(&s->fired, now);
        if (r < 0)
                return r;
        eventlog_prune(&s->fired, now, d->limit.window_usec);
        if (disruptive) {
                r = eventlog_add(&m->disruptions, now);
                if (r < 0)
                        return r;
                eventlog_prune(&m->disruptions, now, m->config->max_disruptions.window_usec);
        }
        m->dirty = true;
        if (!disruptive)
                return 0;
        KILLPOINT("fire-before-record");
        r = state_save(m);
        if (r < 0) {
                s->attempts = saved.attempts;
                s->last_fired = saved.last_fired;
                s->last_fired_bt = saved.last_fired_bt;
                eventlog_remove(&s->fired, now);
                eventlog_remove(&m->disruptions, now);
                return r;
        }
        KILLPOINT("fire-recorded");
        return 0;
}

static void run_remedy(Manager *m, const RuleDecl *d, RuleState *s) {
        RuleCtx *c = ctx_new(m, d);
        bool disruptive = remedy_is_disruptive(&d->remedy);
        uint64_t now = now_realtime();
        int r;

        if (!c) {
                log_oom();
                if (disruptive)
                        (void) permission_release(m->perm, d->name, "out of memory");
                return;
        }
        r = record_firing(m, d, s, now);
        if (r < 0) {
                _cleanup_free_ char *why = strprintf("the disruption cannot be recorded durably (%s): refused",
                                                     strerror(-r));
                log_event(LOG_ERR, MEDIC_MSG_REMEDY_FAILED,
                          LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_DECISION", "refused" }, { "MEDIC_REASON", why }),
                          "Rule %s: %s; the condition stays, nothing was done", d->name, why);
                journal_note(&m->journal, "decision", d->name, c->condition, "refused", why);
                (void) permission_release(m->perm, d->name, why);
                ctx_free(c);
                return;
        }

        if (manager_dry_run(m)) {
                log_event(LOG_NOTICE, MEDIC_MSG_DRY_RUN,
                          LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_CONDITION", c->condition },
                                     { "MEDIC_REMEDY", d->remedy.text }, { "MEDIC_DECISION", "dry-run" }),
                          "dry-run: rule %s would run %s (attempt %u)", d->name, d->remedy.text, s->attempts);
                journal_note(&m->journal, "decision", d->name, c->condition, "dry-run", d->remedy.text);
                metrics_remedy(m->metrics, d->name, METRICS_REMEDY_DRY_RUN);
                ctx_free(c);
                return;
        }
        log_event(LOG_NOTICE, MEDIC_MSG_RULE_FIRED,
                  LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_CONDITION", c->condition },
                             { "MEDIC_REMEDY", d->remedy.text }, { "MEDIC_DECISION", "fire" }),
                  "Rule %s fires: running %s (attempt %u)", d->name, d->remedy.text, s->attempts);
        journal_note(&m->journal, "decision", d->name, c->condition, "fire", d->remedy.text);
        if (d->remedy.kind == REMEDY_MAINTENANCE) {
                r = maintenance_start(&m->act, d, s, c->condition);
                if (r < 0) {
                        log_error_errno(r, "Cannot start the maintenance for rule %s: %m", d->name);
                        (void) permission_release(m->perm, d->name, "the maintenance could not start");
                }
                ctx_free(c);
                return;
        }
        if (d->remedy.kind == REMEDY_REBOOT) {
                r = rebooter_start(m->rebooter, d, c->condition, on_reboot_failed, on_reboot_recheck, m);
                if (r < 0) {
                        log_error_errno(r, "Cannot start the reboot for rule %s: %m", d->name);
                        /* Busy: the permission belongs to the reboot that is running. */
                        if (r != -EBUSY)
                                (void) permission_release(m->perm, d->name, "the reboot could not start");
                }
                ctx_free(c);
                return;
        }
        r = remedy_start(&m->act, d, c->condition, on_remedy_done, c, &s->running);
        if (r < 0) {
                log_event(LOG_WARNING, MEDIC_MSG_REMEDY_FAILED, LOG_FIELDS({ "MEDIC_RULE", d->name }),
                          "Cannot start the remedy of rule %s: %s", d->name, strerror(-r));
                journal_note(&m->journal, "remedy", d->name, c->condition, "failed", strerror(-r));
                metrics_remedy(m->metrics, d->name, METRICS_REMEDY_FAILED);
                if (disruptive)
                        (void) permission_release(m->perm, d->name, "the remedy could not start");
                ctx_free(c);
        }
}

static void on_permission(CoordAnswer a, const char *reason, void *userdata) {
        RuleCtx *c = userdata;
        Manager *m = c->m;
        RuleDecl *d = luaset_find_rule(m->set, c->rule);
        RuleState *s = ruletable_get(&m->rstates, c->rule, true);
        const PermissionAnswer *last = permission_last_answer(m->perm);

        if (a != COORD_GRANTED && last && !last->changed) {
                /* The same answer again: counted, not logged nor written again. */
                journal_note_repeat(&m->journal, "permission", c->rule, coord_answer_to_string(a), reason, last->count);
                ctx_free(c);
                return;
        }
        log_event(a == COORD_GRANTED ? LOG_NOTICE : LOG_WARNING, MEDIC_MSG_PERMISSION,
                  LOG_FIELDS({ "MEDIC_RULE", c->rule }, { "MEDIC_DECISION", coord_answer_to_string(a) },
                             { "MEDIC_REASON", reason }),
                  "Coordinator answered %s for rule %s%s%s", coord_answer_to_string(a), c->rule,
                  reason ? ": " : "", reason ? reason : "");
        journal_note(&m->journal, "permission", c->rule, c->condition, coord_answer_to_string(a), reason);
        if (a == COORD_GRANTED) {
                /* Re-decided now, on what this process observes: the trigger, the blockers,
                 * the window, the stop switches and the limits may have changed while it waited. */
                _cleanup_free_ char *why = NULL;
                Verdict v = d && s ? rule_decide(m, d, s, now_realtime(), false, NULL, &why) : VERDICT_IDLE;
                if (v != VERDICT_FIRE) {
                        _cleanup_free_ char *msg = strprintf("granted, but no longer wanted: %s",
                                                             why ? why : d ? verdict_to_string(v) : "the rule is gone");
                        log_event(LOG_NOTICE, MEDIC_MSG_PERMISSION,
                                  LOG_FIELDS({ "MEDIC_RULE", c->rule }, { "MEDIC_DECISION", "release" }, { "MEDIC_REASON", msg }),
                                  "Rule %s: %s; giving the permission back, nothing done", c->rule, msg);
                        journal_note(&m->journal, "decision", c->rule, c->condition, "abandoned", msg);
                        (void) permission_release(m->perm, c->rule, msg);
                } else {
                        KILLPOINT("grant-decided");
                        run_remedy(m, d, s);
                }
        }
        ctx_free(c);
        manager_save(m);
}

static void ask(Manager *m, const RuleDecl *d, RuleState *s) {
        RuleCtx *c;
        int r;

        if (permission_in_flight(m->perm))
                return;
        c = ctx_new(m, d);
        if (!c)
                return;
        if (permission_state(m->perm, d->name) == PERM_NONE)
                log_event(LOG_NOTICE, MEDIC_MSG_PERMISSION, LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_DECISION", "ask" }),
                          "Rule %s wants to run %s: asking the %s coordinator for permission", d->name, d->remedy.text,
                          permission_backend(m->perm));
        KILLPOINT("rule-ask");
        r = permission_ask(m->perm, d->name, on_permission, c, ctx_free_void);
        if (r < 0) {
                if (r != -EALREADY && r != -EBUSY)
                        journal_note(&m->journal, "decision", d->name, c->condition, "refused",
                                     "cannot record the request for permission durably");
                ctx_free(c);
        }
}

static void decision_changed(Manager *m, const RuleDecl *d, RuleState *s, Verdict v, const char *reason) {
        if (s->last_decision && strcmp(s->last_decision, verdict_to_string(v)) == 0)
                return;
        free(s->last_decision);
        s->last_decision = strdup(verdict_to_string(v));
        if (v == VERDICT_BLOCKED || v == VERDICT_WINDOW || v == VERDICT_FLAPPING || v == VERDICT_STOPPED ||
            v == VERDICT_SUPERSEDED) {
                log_event(LOG_INFO, MEDIC_MSG_RULE_BLOCKED,
                          LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_DECISION", verdict_to_string(v) },
                                     { "MEDIC_REASON", reason }),
                          "Rule %s does not fire: %s", d->name, reason ? reason : verdict_to_string(v));
                journal_note(&m->journal, "decision", d->name, d->when, verdict_to_string(v), reason);
        } else
                log_debug("Rule %s: %s (%s)", d->name, verdict_to_string(v), reason ? reason : "");
}

/* The rule wants to act and something holds it back. */
static bool verdict_waits(Verdict v) {
        return v == VERDICT_BLOCKED || v == VERDICT_WINDOW || v == VERDICT_STOPPED || v == VERDICT_ASKING;
}

uint64_t rule_waiting_for(const RuleState *s, uint64_t now) {
        if (!s->waiting_since)
                return 0;
        return s->waiting_since_bt ? usec_sub_sat(now_boottime(), s->waiting_since_bt) : usec_sub_sat(now, s->waiting_since);
}

/* Operators want to hear when automation is stuck, not when it works: a wait longer than
 * stuck_after is escalated once. */
static void waiting_bookkeeping(Manager *m, const RuleDecl *d, RuleState *s, Verdict v, const char *reason,
                                uint64_t now) {
        char buf[32];

        if (v == VERDICT_STALE)
                return; /* just restarted: the wait goes on until the trigger is seen again */
        if (!verdict_waits(v)) {
                if (s->waiting_since) {
                        if (s->stuck_escalated)
                                log_notice("Rule %s is no longer held back (%s)", d->name, verdict_to_string(v));
                        s->waiting_since = s->waiting_since_bt = 0;
                        s->stuck_escalated = false;
                        m->dirty = true;
                }
                return;
        }
        if (!s->waiting_since) {
                s->waiting_since = now;
                s->waiting_since_bt = now_boottime();
                m->dirty = true;
        }
        if (m->config->stuck_after == 0 || s->stuck_escalated || rule_waiting_for(s, now) < m->config->stuck_after)
                return;
        s->stuck_escalated = true;
        m->dirty = true;
        _cleanup_free_ char *msg = strprintf("held back for more than %s: %s",
                                             duration_format(m->config->stuck_after, buf, sizeof buf),
                                             reason ? reason : verdict_to_string(v));
        journal_escalate_as(&m->journal, LOG_WARNING, MEDIC_MSG_RULE_STUCK, "waiting-too-long", d->name, msg);
}

static void episode_bookkeeping(Manager *m, const RuleDecl *d, RuleState *s, uint64_t now) {
        Armed a;
        bool armed = rule_armed(m, d, s, now, &a);

        if (!armed && s->episode != 0 && !s->running && !s->maintenance &&
            permission_state(m->perm, d->name) != PERM_HELD) {
                log_info("Rule %s: the problem is over after %u attempt%s", d->name, s->attempts,
                         s->attempts == 1 ? "" : "s");
                journal_note(&m->journal, "episode", d->name, d->when, "ended", "condition is no longer problem");
                s->episode = 0;
                s->attempts = 0;
                s->escalated = false;
                s->exhausted_logged = false;
                m->dirty = true;
        } else if (armed && s->episode != a.since) {
                s->episode = a.since;
                s->attempts = 0;
                s->escalated = false;
                s->exhausted_logged = false;
                m->dirty = true;
        }
        armed_done(&a);
}

static void rule_run(Manager *m, const RuleDecl *d, uint64_t now);

void rules_run(Manager *m) {
        uint64_t now = now_realtime();

        if (!m->set)
                return;
        /* A rule removed by a reload while it waited for the coordinator stops asking (a
         * held permission stays with the remedy that runs). */
        const char *asking = permission_rule(m->perm);
        if (asking && permission_state(m->perm, asking) == PERM_ASKING && !luaset_find_rule(m->set, asking)) {
                _cleanup_free_ char *name = strdup(asking);
                if (name)
                        permission_withdraw(m->perm, name, "the rule no longer exists");
        }
        for (size_t i = 0; i < m->set->n_rules; i++)
                rule_run(m, m->set->rules[i], now);
}

void rules_run_some(Manager *m, const RuleDeps *deps) {
        uint64_t now = now_realtime();

        for (size_t i = 0; m->set && i < deps->n; i++)
                rule_run(m, deps->v[i], now);
}

static void rule_run(Manager *m, const RuleDecl *d, uint64_t now) {
        RuleState *s = ruletable_get(&m->rstates, d->name, true);
        _cleanup_free_ char *reason = NULL;
        bool disruptive = remedy_is_disruptive(&d->remedy);
        Verdict v;

        if (!s)
                return;
        episode_bookkeeping(m, d, s, now);
        v = rule_decide(m, d, s, now, false, NULL, &reason);
        decision_changed(m, d, s, v, reason);
        waiting_bookkeeping(m, d, s, v, reason, now);
        /* Only a rule that would act now keeps its place in the queue. */
        if (v != VERDICT_ASKING && v != VERDICT_FIRE && permission_state(m->perm, d->name) == PERM_ASKING)
                permission_withdraw(m->perm, d->name, reason);
        switch (v) {
        case VERDICT_FIRE:
                if (disruptive && !manager_dry_run(m))
                        ask(m, d, s);
                else
                        run_remedy(m, d, s);
                break;
        case VERDICT_ASKING:
                ask(m, d, s); /* asks again unless a request is out */
                break;
        case VERDICT_NODE_LIMIT:
                journal_park(&m->journal, d->name, reason);
                break;
        case VERDICT_ESCALATE:
                s->escalated = true;
                m->dirty = true;
                log_event(LOG_WARNING, MEDIC_MSG_RULE_ESCALATED,
                          LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_DECISION", "escalate" },
                                     { "MEDIC_REASON", reason }),
                          "Rule %s did not clear the problem: %s", d->name, reason);
                journal_note(&m->journal, "decision", d->name, d->when, "escalate", reason);
                break;
        case VERDICT_LIMITED:
                if (!s->exhausted_logged) {
                        s->exhausted_logged = true;
                        m->dirty = true;
                        log_event(LOG_WARNING, MEDIC_MSG_RULE_EXHAUSTED,
                                  LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_DECISION", "exhausted" },
                                             { "MEDIC_REASON", reason }),
                                  "Rule %s is exhausted: %s", d->name, reason);
                        journal_note(&m->journal, "decision", d->name, d->when, "exhausted", reason);
                }
                break;
        default:
                break;
        }
}
