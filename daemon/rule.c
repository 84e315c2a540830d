/* SPDX-License-Identifier: MIT */
/* The rule engine: for each rule, is its trigger there, held long enough, trusted, not
 * blocked, inside a window, within its rate limit, and (for disruptive remedies) permitted?
 * rule_evaluate() answers without changing anything, so `medicctl explain` shows exactly the
 * reasoning rules_run() acts on. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "reboot.h"
#include "remedy.h"

static const char *const verdict_names[_VERDICT_MAX] = {
        [VERDICT_IDLE] = "idle", [VERDICT_DEBOUNCE] = "debounce", [VERDICT_FLAPPING] = "flapping",
        [VERDICT_RUNNING] = "running", [VERDICT_RETRY_WAIT] = "waiting-for-effect",
        [VERDICT_BLOCKED] = "blocked", [VERDICT_WINDOW] = "outside-window", [VERDICT_LIMITED] = "rate-limited",
        [VERDICT_ESCALATE] = "escalate", [VERDICT_ASKING] = "asking-permission", [VERDICT_FIRE] = "fire",
        [VERDICT_PARKED] = "parked",
};

const char *verdict_to_string(Verdict v) {
        return v >= 0 && v < _VERDICT_MAX ? verdict_names[v] : "?";
}

static void step(struct json_object *steps, const char *name, bool ok, const char *fmt, ...) _printf_(4, 5);
static void step(struct json_object *steps, const char *name, bool ok, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        if (!steps)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "step", json_object_new_string(name));
        json_object_object_add(o, "ok", json_object_new_boolean(ok));
        json_object_object_add(o, "detail", json_object_new_string(buf));
        json_object_array_add(steps, o);
}

static const char *ago(uint64_t now, uint64_t then, char *buf, size_t n) {
        return duration_format(now > then ? (now - then) / USEC_PER_SEC * USEC_PER_SEC : 0, buf, n);
}

/* The condition a rule works on: its own `when`, or that of the rule escalating to it. */
static Condition *trigger_condition(Manager *m, const RuleDecl *d) {
        if (d->when)
                return manager_find_condition(m, d->when);
        for (size_t i = 0; i < m->set->n_rules; i++) {
                RuleDecl *src = m->set->rules[i];
                if (streq_ptr(src->escalate, d->name)) {
                        Condition *c = trigger_condition(m, src);
                        if (c)
                                return c;
                }
        }
        return NULL;
}

bool rule_armed(Manager *m, const RuleDecl *d, RuleState *s, uint64_t now, uint64_t *ret_since, char **ret_why) {
        if (d->when) {
                Condition *c = manager_find_condition(m, d->when);
                if (c && c->state == COND_PROBLEM) {
                        *ret_since = c->since;
                        if (ret_why)
                                *ret_why = strprintf("%s is problem: %s", d->when, c->message ? c->message : "");
                        return true;
                }
                if (ret_why)
                        *ret_why = c ? strprintf("%s is %s", d->when, cond_state_to_string(c->state))
                                     : strprintf("condition %s does not exist (no check reported it)", d->when);
        } else if (d->when_ref != LUA_NOREF) {
                _cleanup_free_ char *err = NULL;
                _cleanup_free_ char *what = strprintf("rule %s: when", d->name);
                lua_State *L = d->file->L;
                int r = luafile_pcall(d->file, d->when_ref, 0, 2, USEC_PER_SEC, what ? what : d->name, &err);
                if (r < 0) {
                        log_debug("%s:%d: rule %s: predicate failed: %s", d->file->path, d->line, d->name, err);
                        if (ret_why)
                                *ret_why = strprintf("predicate failed: %s", err ? err : "?");
                        s->armed_since = 0;
                } else {
                        bool yes = lua_toboolean(L, -2);
                        const char *reason = lua_tostring(L, -1);
                        if (ret_why)
                                *ret_why = strprintf("predicate is %s%s%s", yes ? "true" : "false",
                                                     reason ? ": " : "", reason ? reason : "");
                        lua_pop(L, 2);
                        if (yes) {
                                if (s->armed_since == 0)
                                        s->armed_since = now;
                                *ret_since = s->armed_since;
                                return true;
                        }
                        s->armed_since = 0;
                }
        } else if (ret_why)
                *ret_why = strdup("reached only by escalation");

        /* Escalated to by a rule that gave up on its episode. */
        for (size_t i = 0; i < m->set->n_rules; i++) {
                RuleDecl *src = m->set->rules[i];
                RuleState *ss;
                uint64_t since;
                if (!streq_ptr(src->escalate, d->name))
                        continue;
                ss = manager_rule_state(m, src->name, false);
                if (ss && ss->escalated && rule_armed(m, src, ss, now, &since, NULL)) {
                        *ret_since = ss->episode;
                        if (ret_why) {
                                free(*ret_why);
                                *ret_why = strprintf("escalated from rule %s", src->name);
                        }
                        return true;
                }
        }
        return false;
}

Verdict rule_evaluate(Manager *m, const RuleDecl *d, const RuleState *s_const, uint64_t now,
                      struct json_object *steps, char **ret_reason) {
        RuleState *s = (RuleState *) s_const; /* only the predicate's armed_since may change */
        _cleanup_free_ char *why = NULL;
        bool disruptive = remedy_is_disruptive(&d->remedy);
        Condition *cond = trigger_condition(m, d);
        uint64_t since = 0;
        char b1[32], b2[32];
        Verdict v = _VERDICT_MAX;
        bool armed;

        /* The first failing step decides; when explaining, every step is still shown. */
#define VERDICT(x, ...) do {                                                    \
                if (v == _VERDICT_MAX) {                                        \
                        v = (x);                                                \
                        if (ret_reason)                                         \
                                *ret_reason = strprintf(__VA_ARGS__);           \
                }                                                               \
                if (!steps)                                                     \
                        goto done;                                              \
        } while (0)

        if (m->parked) {
                step(steps, "parked", false, "the node is parked (%s): no automation until 'medicctl unpark'",
                     m->parked_reason ? m->parked_reason : "reboot-loop protection");
                VERDICT(VERDICT_PARKED, "the node is parked");
        }
        armed = rule_armed(m, d, s, now, &since, &why);
        if (!armed) {
                step(steps, "condition", false, "%s", why ? why : "not in problem");
                VERDICT(VERDICT_IDLE, "%s", why ? why : "not in problem");
                step(steps, "debounce", false, "n/a: the trigger does not hold");
                step(steps, "flapping", !(cond && cond->flapping), cond && cond->flapping ? "%s is flapping" : "not flapping",
                     cond ? cond->name : "");
                goto blockers;
        }
        step(steps, "condition", true, "%s", why);

        bool same_episode = s->episode == since;
        if (now - since < d->holds) {
                step(steps, "debounce", false, "problem for %s of %s", ago(now, since, b1, sizeof b1),
                     duration_format(d->holds, b2, sizeof b2));
                VERDICT(VERDICT_DEBOUNCE, "debounce: problem for %s of %s", b1, b2);
        }
        step(steps, "debounce", true, "problem for %s (holds %s)", ago(now, since, b1, sizeof b1),
             duration_format(d->holds, b2, sizeof b2));

        if (cond && cond->flapping) {
                step(steps, "flapping", !disruptive, "%s is flapping%s", cond->name,
                     disruptive ? ": never triggers a disruptive remedy" : "");
                if (disruptive)
                        VERDICT(VERDICT_FLAPPING, "%s is flapping", cond->name);
        } else
                step(steps, "flapping", true, "not flapping");

        if (s->running)
                VERDICT(VERDICT_RUNNING, "remedy is running");
        if (disruptive && rebooter_busy(m->rebooter))
                VERDICT(VERDICT_RUNNING, "a reboot of this node is in progress");
        if (s->maintenance)
                VERDICT(VERDICT_RUNNING, "in maintenance (%s)", s->maintenance);
        if (disruptive)
                for (size_t i = 0; i < m->n_rstates; i++)
                        if (m->rstates[i] != s && m->rstates[i]->maintenance)
                                /* One disruption at a time: the permission is the node's. */
                                VERDICT(VERDICT_RUNNING, "the node is in maintenance for rule %s", m->rstates[i]->name);
        if (s->asking)
                VERDICT(VERDICT_ASKING, "waiting for the coordinator");

        if (same_episode && s->attempts > 0 && now - s->last_fired < d->retry) {
                step(steps, "retry", false, "fired %s ago; waiting %s for the condition to clear",
                     ago(now, s->last_fired, b1, sizeof b1), duration_format(d->retry, b2, sizeof b2));
                VERDICT(VERDICT_RETRY_WAIT, "fired %s ago, waiting %s to see whether it helped", b1, b2);
        }

blockers:;
        bool blocked = false;
        for (size_t i = 0; i < d->unless.n; i++) {
                Condition *b = manager_find_condition(m, d->unless.v[i]);
                if (b && (b->state == COND_PROBLEM || b->state == COND_UNKNOWN)) {
                        blocked = true;
                        step(steps, "blockers", false, "blocked by %s (%s: %s)", b->name,
                             cond_state_to_string(b->state), b->message ? b->message : "");
                        VERDICT(VERDICT_BLOCKED, "blocked by %s (%s)", b->name, cond_state_to_string(b->state));
                }
        }
        if (!blocked)
                step(steps, "blockers", true, d->unless.n ? "no blocker is problem or unknown" : "no blockers");

        if (d->n_windows > 0) {
                bool inside = false;
                time_t t = (time_t) (now / USEC_PER_SEC);
                for (size_t i = 0; i < d->n_windows && !inside; i++)
                        inside = window_contains(d->windows[i], t);
                if (!inside) {
                        time_t next = window_next_open(d->windows[0], t);
                        for (size_t i = 1; i < d->n_windows; i++) {
                                time_t n2 = window_next_open(d->windows[i], t);
                                if (n2 != (time_t) -1 && (next == (time_t) -1 || n2 < next))
                                        next = n2;
                        }
                        step(steps, "window", false, "outside the maintenance window%s (next opens in %s)",
                             d->n_windows > 1 ? "s" : "",
                             next == (time_t) -1 ? "never" : duration_format((uint64_t) (next - t) * USEC_PER_SEC, b1, sizeof b1));
                        VERDICT(VERDICT_WINDOW, "outside the maintenance window");
                }
                step(steps, "window", true, "inside the maintenance window");
        } else
                step(steps, "window", true, "no window: any time");

        if (!ratelimit_allows(&d->limit, &s->fired, now)) {
                uint64_t next = ratelimit_next_allowed(&d->limit, &s->fired, now);
                step(steps, "limit", false, "fired %zu times within %s (limit %s); next allowed in %s",
                     eventlog_count(&s->fired, now, d->limit.window_usec),
                     duration_format(d->limit.window_usec, b1, sizeof b1),
                     ratespec_format(&d->limit, b2, sizeof b2),
                     duration_format(next > now ? (next - now) / USEC_PER_SEC * USEC_PER_SEC : 0, (char[32]) {}, 32));
                if (d->escalate && !(s->episode == since && s->escalated))
                        VERDICT(VERDICT_ESCALATE, "rate limit %s reached: escalating to %s", b2, d->escalate);
                VERDICT(VERDICT_LIMITED, "rate limit %s reached%s", b2,
                        d->escalate ? " (already escalated)" : " (no escalation)");
        }
        step(steps, "limit", true, "%zu of %s used", eventlog_count(&s->fired, now, d->limit.window_usec),
             ratespec_format(&d->limit, b1, sizeof b1));

        if (disruptive) {
                if (coordinator_stopped_locally(m->coord)) {
                        step(steps, "coordinator", false, "stop file %s is present", m->config->stop_file);
                        VERDICT(VERDICT_BLOCKED, "stop file %s is present", m->config->stop_file);
                }
                step(steps, "coordinator", true, "disruptive: permission will be asked from the %s coordinator",
                     m->coord->ops->name);
        } else
                step(steps, "coordinator", true, "not disruptive: no permission needed");

        step(steps, "dry_run", !manager_dry_run(m), manager_dry_run(m) ? "dry-run: would only log" : "acting");
        VERDICT(VERDICT_FIRE, "%s", manager_dry_run(m) ? "would fire (dry-run)" : "firing");
#undef VERDICT
done:
        if (v == _VERDICT_MAX)
                v = VERDICT_FIRE;
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
        return c;
}

static void ctx_free(RuleCtx *c) {
        if (!c)
                return;
        free(c->rule);
        free(c->condition);
        free(c);
}


static void on_remedy_done(bool success, const char *detail, void *userdata) {
        RuleCtx *c = userdata;
        Manager *m = c->m;
        RuleState *s = manager_rule_state(m, c->rule, true);

        s->running = NULL;
        metrics_remedy(m->metrics, c->rule, success ? METRICS_REMEDY_DONE : METRICS_REMEDY_FAILED);
        log_event(success ? LOG_NOTICE : LOG_WARNING, success ? MEDIC_MSG_REMEDY_DONE : MEDIC_MSG_REMEDY_FAILED,
                  LOG_FIELDS({ "MEDIC_RULE", c->rule }, { "MEDIC_CONDITION", c->condition },
                             { "MEDIC_DECISION", success ? "done" : "failed" }, { "MEDIC_REASON", detail }),
                  "Remedy of rule %s %s: %s", c->rule, success ? "succeeded" : "failed", detail ? detail : "");
        manager_note(m, "remedy", c->rule, c->condition, success ? "done" : "failed", detail);
        if (s->holds_slot) {
                /* Disruptive remedies that did not take the node down give the slot back. */
                (void) coordinator_release(m->coord, c->rule);
                s->holds_slot = false;
        }
        ctx_free(c);
        manager_save(m);
}

static void on_reboot_failed(const char *reason, void *userdata) {
        RuleCtx *c = userdata;
        Manager *m = c->m;
        RuleState *s = manager_rule_state(m, c->rule, true);

        /* The rebooter gave the permission back when the pre-reboot tasks failed; after a
         * failed ladder it keeps it (the node needs an operator). */
        if (s && !rebooter_busy(m->rebooter))
                s->holds_slot = false;
        manager_note(m, "remedy", c->rule, c->condition, "failed", reason);
        ctx_free(c);
        manager_save(m);
}

static void run_remedy(Manager *m, const RuleDecl *d, RuleState *s) {
        RuleCtx *c = ctx_new(m, d);
        uint64_t now = now_realtime();
        int r;

        s->attempts++;
        s->last_fired = now;
        (void) eventlog_add(&s->fired, now);
        eventlog_prune(&s->fired, now, d->limit.window_usec);
        m->dirty = true;

        if (manager_dry_run(m)) {
                log_event(LOG_NOTICE, MEDIC_MSG_DRY_RUN,
                          LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_CONDITION", c ? c->condition : NULL },
                                     { "MEDIC_REMEDY", d->remedy.text }, { "MEDIC_DECISION", "dry-run" }),
                          "dry-run: rule %s would run %s (attempt %u)", d->name, d->remedy.text, s->attempts);
                manager_note(m, "decision", d->name, c ? c->condition : NULL, "dry-run", d->remedy.text);
                metrics_remedy(m->metrics, d->name, METRICS_REMEDY_DRY_RUN);
                ctx_free(c);
                return;
        }
        log_event(LOG_NOTICE, MEDIC_MSG_RULE_FIRED,
                  LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_CONDITION", c ? c->condition : NULL },
                             { "MEDIC_REMEDY", d->remedy.text }, { "MEDIC_DECISION", "fire" }),
                  "Rule %s fires: running %s (attempt %u)", d->name, d->remedy.text, s->attempts);
        manager_note(m, "decision", d->name, c ? c->condition : NULL, "fire", d->remedy.text);
        if (!c) {
                log_oom();
                return;
        }
        if (d->remedy.kind == REMEDY_MAINTENANCE) {
                (void) eventlog_add(&m->disruptions, now);
                eventlog_prune(&m->disruptions, now, m->config->max_disruptions.window_usec);
                r = maintenance_start(m, d, s, c->condition);
                if (r < 0)
                        log_error_errno(r, "Cannot start the maintenance for rule %s: %m", d->name);
                ctx_free(c);
                return;
        }
        if (d->remedy.kind == REMEDY_REBOOT) {
                (void) eventlog_add(&m->disruptions, now);
                eventlog_prune(&m->disruptions, now, m->config->max_disruptions.window_usec);
                manager_save(m); /* the disruption counts before anything happens */
                r = rebooter_start(m->rebooter, d, c->condition, on_reboot_failed, c);
                if (r < 0) {
                        log_error_errno(r, "Cannot start the reboot for rule %s: %m", d->name);
                        /* Busy: the permission belongs to the reboot that is running. */
                        if (r != -EBUSY) {
                                (void) coordinator_release(m->coord, d->name);
                                s->holds_slot = false;
                        }
                        ctx_free(c);
                }
                return;
        }
        r = remedy_start(m, d, c->condition, on_remedy_done, c, &s->running);
        if (r < 0) {
                log_event(LOG_WARNING, MEDIC_MSG_REMEDY_FAILED, LOG_FIELDS({ "MEDIC_RULE", d->name }),
                          "Cannot start the remedy of rule %s: %s", d->name, strerror(-r));
                manager_note(m, "remedy", d->name, c->condition, "failed", strerror(-r));
                metrics_remedy(m->metrics, d->name, METRICS_REMEDY_FAILED);
                ctx_free(c);
        }
}

static void on_permission(CoordAnswer a, const char *reason, void *userdata) {
        RuleCtx *c = userdata;
        Manager *m = c->m;
        RuleState *s = manager_rule_state(m, c->rule, true);
        RuleDecl *d = luaset_find_rule(m->set, c->rule);
        uint64_t since;

        s->asking = false;
        log_event(a == COORD_GRANTED ? LOG_NOTICE : LOG_WARNING, MEDIC_MSG_PERMISSION,
                  LOG_FIELDS({ "MEDIC_RULE", c->rule }, { "MEDIC_DECISION", coord_answer_to_string(a) },
                             { "MEDIC_REASON", reason }),
                  "Coordinator answered %s for rule %s%s%s", coord_answer_to_string(a), c->rule,
                  reason ? ": " : "", reason ? reason : "");
        manager_note(m, "permission", c->rule, c->condition, coord_answer_to_string(a), reason);
        if (a == COORD_GRANTED) {
                s->holds_slot = true;
                /* The trigger may have cleared while we waited: then give the slot back, do nothing. */
                if (!d || !rule_armed(m, d, s, now_realtime(), &since, NULL)) {
                        log_info("Rule %s: the trigger cleared while waiting for permission; releasing", c->rule);
                        (void) coordinator_release(m->coord, c->rule);
                        s->holds_slot = false;
                } else
                        run_remedy(m, d, s);
        }
        ctx_free(c);
        manager_save(m);
}

static void decision_changed(Manager *m, const RuleDecl *d, RuleState *s, Verdict v, const char *reason) {
        if (s->last_decision && strcmp(s->last_decision, verdict_to_string(v)) == 0)
                return;
        free(s->last_decision);
        s->last_decision = strdup(verdict_to_string(v));
        if (v == VERDICT_BLOCKED || v == VERDICT_WINDOW || v == VERDICT_FLAPPING) {
                log_event(LOG_INFO, MEDIC_MSG_RULE_BLOCKED,
                          LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_DECISION", verdict_to_string(v) },
                                     { "MEDIC_REASON", reason }),
                          "Rule %s does not fire: %s", d->name, reason ? reason : verdict_to_string(v));
                manager_note(m, "decision", d->name, d->when, verdict_to_string(v), reason);
        } else
                log_debug("Rule %s: %s (%s)", d->name, verdict_to_string(v), reason ? reason : "");
}

void rules_run(Manager *m) {
        uint64_t now = now_realtime();

        if (!m->set)
                return;
        for (size_t i = 0; i < m->set->n_rules; i++) {
                RuleDecl *d = m->set->rules[i];
                RuleState *s = manager_rule_state(m, d->name, true);
                _cleanup_free_ char *reason = NULL;
                uint64_t since = 0;
                bool armed;
                Verdict v;

                if (!s)
                        continue;
                armed = rule_armed(m, d, s, now, &since, NULL);
                if (!armed && s->episode != 0 && !s->running && !s->asking && !s->maintenance) {
                        log_info("Rule %s: the problem is over after %u attempt%s", d->name, s->attempts,
                                 s->attempts == 1 ? "" : "s");
                        manager_note(m, "episode", d->name, d->when, "ended", "condition is no longer problem");
                        if (remedy_is_disruptive(&d->remedy) && !s->holds_slot)
                                coordinator_withdraw(m->coord, d->name);
                        s->episode = 0;
                        s->attempts = 0;
                        s->escalated = false;
                        s->exhausted_logged = false;
                        m->dirty = true;
                } else if (armed && s->episode != since) {
                        s->episode = since;
                        s->attempts = 0;
                        s->escalated = false;
                        s->exhausted_logged = false;
                        m->dirty = true;
                }

                v = rule_evaluate(m, d, s, now, NULL, &reason);
                decision_changed(m, d, s, v, reason);
                switch (v) {
                case VERDICT_FIRE:
                        if (remedy_is_disruptive(&d->remedy) && !manager_dry_run(m) &&
                            !ratelimit_allows(&m->config->max_disruptions, &m->disruptions, now)) {
                                char b1[32];
                                _cleanup_free_ char *why = strprintf(
                                        "%zu disruptive remedies within %s (max_disruptions %s): rule %s wanted another",
                                        eventlog_count(&m->disruptions, now, m->config->max_disruptions.window_usec),
                                        duration_format(m->config->max_disruptions.window_usec, b1, sizeof b1),
                                        ratespec_format(&m->config->max_disruptions, (char[32]) {}, 32), d->name);
                                manager_park(m, why);
                                break;
                        }
                        if (remedy_is_disruptive(&d->remedy) && !manager_dry_run(m)) {
                                RuleCtx *c = ctx_new(m, d);
                                if (!c)
                                        break;
                                s->asking = true;
                                log_event(LOG_NOTICE, MEDIC_MSG_PERMISSION,
                                          LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_DECISION", "ask" }),
                                          "Rule %s wants to run %s: asking the %s coordinator for permission",
                                          d->name, d->remedy.text, m->coord->ops->name);
                                if (coordinator_request(m->coord, d->name, on_permission, c) < 0) {
                                        s->asking = false;
                                        ctx_free(c);
                                }
                        } else
                                run_remedy(m, d, s);
                        break;
                case VERDICT_ESCALATE:
                        s->escalated = true;
                        m->dirty = true;
                        log_event(LOG_WARNING, MEDIC_MSG_RULE_ESCALATED,
                                  LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_DECISION", "escalate" },
                                             { "MEDIC_REASON", reason }),
                                  "Rule %s did not clear the problem: %s", d->name, reason);
                        manager_note(m, "decision", d->name, d->when, "escalate", reason);
                        break;
                case VERDICT_LIMITED:
                        if (!s->exhausted_logged) {
                                s->exhausted_logged = true;
                                log_event(LOG_WARNING, MEDIC_MSG_RULE_EXHAUSTED,
                                          LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_DECISION", "exhausted" },
                                                     { "MEDIC_REASON", reason }),
                                          "Rule %s is exhausted: %s", d->name, reason);
                                manager_note(m, "decision", d->name, d->when, "exhausted", reason);
                        }
                        break;
                default:
                        break;
                }
        }
}
