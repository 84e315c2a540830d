/* SPDX-License-Identifier: MIT */
/* The manager owns the configuration, the loaded Lua set, the check runners, the conditions
 * and rule states; it wires check results to the rule engine and answers the control socket. */
#include <fcntl.h>
#include <libgen.h>
#include <lauxlib.h>
#include <lua.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "control.h"
#include "duration.h"
#include "log.h"
#include "lua-api.h"
#include "manager.h"
#include "metrics.h"
#include "reboot.h"
#include "remedy.h"
#include "exec.h"

#define TICK_USEC USEC_PER_SEC

typedef struct Waiter {
        ControlConn *conn;
        char *check;
        struct Waiter *next;
} Waiter;

static Waiter *waiters;

static const Condition *host_find_condition(void *userdata, const char *name) {
        return manager_find_condition(userdata, name);
}

bool manager_dry_run(const Manager *m) {
        return m->force_dry_run || m->config->dry_run;
}

Condition *manager_find_condition(Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_conds; i++)
                if (strcmp(m->conds[i]->name, name) == 0)
                        return m->conds[i];
        return NULL;
}

RuleState *manager_rule_state(Manager *m, const char *name, bool create) {
        for (size_t i = 0; i < m->n_rstates; i++)
                if (strcmp(m->rstates[i]->name, name) == 0)
                        return m->rstates[i];
        if (!create)
                return NULL;
        RuleState *s = calloc(1, sizeof(*s));
        RuleState **a = realloc(m->rstates, (m->n_rstates + 1) * sizeof(*a));
        if (!s || !a) {
                free(s);
                if (a)
                        m->rstates = a;
                return NULL;
        }
        s->name = strdup(name);
        m->rstates = a;
        m->rstates[m->n_rstates++] = s;
        return s;
}

static void rulestate_free(RuleState *s) {
        if (!s)
                return;
        remedy_cancel(s->running);
        tasks_cancel(s->maintenance_tasks);
        free(s->maintenance);
        free(s->maintenance_condition);
        eventlog_free(&s->fired);
        free(s->last_decision);
        free(s->name);
        free(s);
}

CheckRunner *manager_find_runner(Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_runners; i++)
                if (strcmp(checkrunner_decl(m->runners[i])->name, name) == 0)
                        return m->runners[i];
        return NULL;
}

void manager_history_add(Manager *m, struct json_object *entry) {
        json_object_array_add(m->history, entry);
        size_t n = json_object_array_length(m->history), max = m->config->history_size;
        if (n > max)
                json_object_array_del_idx(m->history, 0, n - max);
        m->dirty = true;
}

void manager_save(Manager *m) {
        if (m->dirty)
                (void) state_save(m);
}

void manager_note(Manager *m, const char *kind, const char *rule, const char *condition, const char *decision,
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
        manager_history_add(m, e);
}

void manager_note_repeat(Manager *m, const char *kind, const char *rule, const char *decision, const char *message,
                         unsigned count) {
        size_t n = json_object_array_length(m->history);
        struct json_object *v;

        /* Look back a little: other entries may have come in between. */
        for (size_t i = n, seen = 0; i > 0 && seen < 16; i--, seen++) {
                struct json_object *e = json_object_array_get_idx(m->history, i - 1);
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
        manager_note(m, kind, rule, NULL, decision, message);
}

static void on_notify_done(const ExecResult *r, void *userdata) {
        _cleanup_free_ char *d = exec_result_describe(r, 60 * USEC_PER_SEC);
        if (!(r->exited && r->exit_status == 0))
                log_warning("The notify command %s", d ? d : "failed");
}

void manager_escalate(Manager *m, const char *event, const char *rule, const char *reason) {
        log_event(LOG_CRIT, MEDIC_MSG_RULE_ESCALATED,
                  LOG_FIELDS({ "MEDIC_RULE", rule }, { "MEDIC_DECISION", event }, { "MEDIC_REASON", reason }),
                  "Escalation (%s)%s%s: %s", event, rule ? " for rule " : "", rule ? rule : "", reason ? reason : "");
        manager_note(m, "escalation", rule, NULL, event, reason);
        if (!m->config->notify_command)
                return;
        StrList env = {};
        strlist_addf(&env, "MEDIC_EVENT=%s", event);
        strlist_addf(&env, "MEDIC_NODE=%s", m->config->node);
        strlist_addf(&env, "MEDIC_GROUP=%s", m->config->group);
        strlist_addf(&env, "MEDIC_RULE=%s", rule ? rule : "");
        strlist_addf(&env, "MEDIC_REASON=%s", reason ? reason : "");
        char *argv[] = { m->config->notify_command, (char *) event, NULL };
        ExecOptions o = { .timeout_usec = 60 * USEC_PER_SEC, .env = env.v };
        if (exec_start(m->event, argv, &o, on_notify_done, NULL, NULL) < 0)
                log_warning("Cannot run the notify command %s", m->config->notify_command);
        strlist_clear(&env);
}

void manager_park(Manager *m, const char *reason) {
        if (m->parked)
                return;
        m->parked = true;
        free(m->parked_reason);
        m->parked_reason = strdup_or_null(reason);
        m->dirty = true;
        log_event(LOG_CRIT, MEDIC_MSG_NODE_PARKED, LOG_FIELDS({ "MEDIC_DECISION", "parked" }, { "MEDIC_REASON", reason }),
                  "Node parked: %s. No more automation on this node until an operator runs 'medicctl unpark'", reason);
        manager_escalate(m, "parked", NULL, reason);
}

char *manager_summary(Manager *m) {
        size_t problem = 0, unknown = 0;
        for (size_t i = 0; i < m->n_conds; i++) {
                problem += m->conds[i]->state == COND_PROBLEM;
                unknown += m->conds[i]->state == COND_UNKNOWN;
        }
        return strprintf("%zu checks, %zu rules; %zu problem, %zu unknown%s%s", m->set ? m->set->n_checks : 0,
                         m->set ? m->set->n_rules : 0, problem, unknown, manager_dry_run(m) ? "; dry-run" : "",
                         m->parked ? "; PARKED" : "");
}

static void notify_status(Manager *m) {
        _cleanup_free_ char *s = manager_summary(m);
        if (s)
                (void) sd_notifyf(false, "STATUS=%s", s);
}

/* ---- JSON views ------------------------------------------------------------------------ */

static struct json_object *condition_json(const Condition *c, Manager *m) {
        struct json_object *o = json_object_new_object();
        CheckRunner *r = manager_find_runner(m, c->name);
        json_object_object_add(o, "name", json_object_new_string(c->name));
        json_object_object_add(o, "state", json_object_new_string(cond_state_to_string(c->state)));
        json_object_object_add(o, "since", json_object_new_int64((int64_t) (c->since / USEC_PER_SEC)));
        json_object_object_add(o, "message", json_object_new_string(c->message ? c->message : ""));
        json_object_object_add(o, "details", c->details ? json_tokener_parse(c->details) : NULL);
        json_object_object_add(o, "flapping", json_object_new_boolean(c->flapping));
        json_object_object_add(o, "last_run", json_object_new_int64((int64_t) (c->last_run / USEC_PER_SEC)));
        json_object_object_add(o, "duration_ms", json_object_new_int64((int64_t) (c->duration_usec / USEC_PER_MSEC)));
        if (r)
                json_object_object_add(o, "check_file", json_object_new_string(checkrunner_decl(r)->file->path));
        return o;
}

static struct json_object *rule_json(Manager *m, const RuleDecl *d) {
        struct json_object *o = json_object_new_object(), *a;
        RuleState *s = manager_rule_state(m, d->name, true);
        uint64_t now = now_realtime();
        char buf[64];

        json_object_object_add(o, "name", json_object_new_string(d->name));
        json_object_object_add(o, "file", json_object_new_string(d->file->path));
        json_object_object_add(o, "line", json_object_new_int(d->line));
        json_object_object_add(o, "when", json_object_new_string(d->when ? d->when
                                                                 : d->when_ref != LUA_NOREF ? "(predicate)" : "(escalation)"));
        json_object_object_add(o, "holds", json_object_new_int64((int64_t) (d->holds / USEC_PER_SEC)));
        json_object_object_add(o, "retry", json_object_new_int64((int64_t) (d->retry / USEC_PER_SEC)));
        json_object_object_add(o, "remedy", json_object_new_string(d->remedy.text ? d->remedy.text : "?"));
        json_object_object_add(o, "disruptive", json_object_new_boolean(remedy_is_disruptive(&d->remedy)));
        json_object_object_add(o, "limit", json_object_new_string(ratespec_format(&d->limit, buf, sizeof buf)));
        json_object_object_add(o, "used", json_object_new_int64(s ? (int64_t) eventlog_count(&s->fired, now, d->limit.window_usec) : 0));
        json_object_object_add(o, "escalate", d->escalate ? json_object_new_string(d->escalate) : NULL);
        a = json_object_new_array();
        for (size_t i = 0; i < d->unless.n; i++)
                json_object_array_add(a, json_object_new_string(d->unless.v[i]));
        json_object_object_add(o, "unless", a);
        a = json_object_new_array();
        for (size_t i = 0; i < d->n_windows; i++)
                json_object_array_add(a, json_object_new_string(window_text(d->windows[i])));
        json_object_object_add(o, "windows", a);
        json_object_object_add(o, "last_fired", s && s->last_fired ? json_object_new_int64((int64_t) (s->last_fired / USEC_PER_SEC)) : NULL);
        json_object_object_add(o, "attempts", json_object_new_int64(s ? s->attempts : 0));
        json_object_object_add(o, "escalated", json_object_new_boolean(s && s->escalated));
        json_object_object_add(o, "status", json_object_new_string(s && s->last_decision ? s->last_decision : "idle"));
        json_object_object_add(o, "maintenance", s && s->maintenance ? json_object_new_string(s->maintenance) : NULL);
        return o;
}

static struct json_object *ok_reply(void) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "ok", json_object_new_boolean(1));
        return o;
}

static struct json_object *strlist_json(const StrList *l) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < l->n; i++)
                json_object_array_add(a, json_object_new_string(l->v[i]));
        return a;
}

static struct json_object *cmd_status(Manager *m) {
        struct json_object *o = ok_reply(), *c = json_object_new_object(), *lr = json_object_new_object();
        size_t n[_COND_STATE_MAX] = {}, flapping = 0;

        for (size_t i = 0; i < m->n_conds; i++) {
                n[m->conds[i]->state]++;
                flapping += m->conds[i]->flapping;
        }
        json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
        json_object_object_add(o, "node", json_object_new_string(m->config->node));
        json_object_object_add(o, "group", json_object_new_string(m->config->group));
        json_object_object_add(o, "dry_run", json_object_new_boolean(manager_dry_run(m)));
        json_object_object_add(o, "pid", json_object_new_int((int) getpid()));
        json_object_object_add(o, "started", json_object_new_int64((int64_t) (m->started / USEC_PER_SEC)));
        json_object_object_add(o, "checks", json_object_new_int64(m->set ? (int64_t) m->set->n_checks : 0));
        json_object_object_add(o, "rules", json_object_new_int64(m->set ? (int64_t) m->set->n_rules : 0));
        json_object_object_add(c, "ok", json_object_new_int64((int64_t) n[COND_OK]));
        json_object_object_add(c, "problem", json_object_new_int64((int64_t) n[COND_PROBLEM]));
        json_object_object_add(c, "unknown", json_object_new_int64((int64_t) n[COND_UNKNOWN]));
        json_object_object_add(c, "flapping", json_object_new_int64((int64_t) flapping));
        json_object_object_add(o, "conditions", c);
        json_object_object_add(o, "coordinator", permission_status(m->perm));
        json_object_object_add(o, "parked", json_object_new_boolean(m->parked));
        if (m->parked)
                json_object_object_add(o, "parked_reason", json_object_new_string(m->parked_reason ? m->parked_reason : ""));
        json_object_object_add(o, "reboot", m->rebooter ? rebooter_status(m->rebooter) : NULL);
        json_object_object_add(o, "disruptions", json_object_new_int64(
                (int64_t) eventlog_count(&m->disruptions, now_realtime(), m->config->max_disruptions.window_usec)));
        json_object_object_add(lr, "time", json_object_new_int64((int64_t) (m->last_reload / USEC_PER_SEC)));
        json_object_object_add(lr, "ok", json_object_new_boolean(m->last_reload_ok));
        json_object_object_add(lr, "errors", strlist_json(&m->last_reload_errors));
        json_object_object_add(o, "last_reload", lr);
        _cleanup_free_ char *summary = manager_summary(m);
        json_object_object_add(o, "summary", json_object_new_string(summary ? summary : ""));
        return o;
}

static struct json_object *cmd_conditions(Manager *m) {
        struct json_object *o = ok_reply(), *a = json_object_new_array();
        for (size_t i = 0; i < m->n_conds; i++)
                json_object_array_add(a, condition_json(m->conds[i], m));
        json_object_object_add(o, "conditions", a);
        return o;
}

static struct json_object *cmd_rules(Manager *m) {
        struct json_object *o = ok_reply(), *a = json_object_new_array();
        for (size_t i = 0; m->set && i < m->set->n_rules; i++)
                json_object_array_add(a, rule_json(m, m->set->rules[i]));
        json_object_object_add(o, "rules", a);
        return o;
}

static struct json_object *cmd_history(Manager *m, struct json_object *req) {
        struct json_object *o = ok_reply(), *a = json_object_new_array(), *v;
        int64_t limit = 50;
        size_t n = json_object_array_length(m->history);

        if (json_object_object_get_ex(req, "limit", &v) && json_object_is_type(v, json_type_int))
                limit = json_object_get_int64(v);
        if (limit < 0)
                limit = 0;
        for (size_t i = n > (size_t) limit ? n - (size_t) limit : 0; i < n; i++)
                json_object_array_add(a, json_object_get(json_object_array_get_idx(m->history, i)));
        json_object_object_add(o, "history", a);
        return o;
}

static const char *req_string(struct json_object *req, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(req, key, &v) && json_object_is_type(v, json_type_string)
                ? json_object_get_string(v) : NULL;
}

static struct json_object *cmd_explain(Manager *m, struct json_object *req) {
        const char *name = req_string(req, "rule");
        RuleDecl *d = name ? luaset_find_rule(m->set, name) : NULL;
        RuleState *s = d ? manager_rule_state(m, name, true) : NULL;
        struct json_object *o, *steps, *perm;
        _cleanup_free_ char *reason = NULL;
        const PermissionAnswer *last;
        Verdict v;

        if (!name)
                return control_error("explain needs a rule name");
        if (!d)
                return control_error("no rule named '%s'", name);
        if (!s)
                return control_error("out of memory");
        steps = json_object_new_array();
        v = rule_decide(m, d, s, now_realtime(), false, steps, &reason);
        o = ok_reply();
        json_object_object_add(o, "rule", json_object_new_string(name));
        json_object_object_add(o, "would_fire", json_object_new_boolean(v == VERDICT_FIRE));
        json_object_object_add(o, "decision", json_object_new_string(verdict_to_string(v)));
        json_object_object_add(o, "reason", json_object_new_string(reason ? reason : ""));
        json_object_object_add(o, "dry_run", json_object_new_boolean(manager_dry_run(m)));
        json_object_object_add(o, "steps", steps);
        /* What the permission owner knows for this rule: the last answer and since when it waits. */
        perm = json_object_new_object();
        json_object_object_add(perm, "state", json_object_new_string(
                permission_state(m->perm, name) == PERM_HELD ? "held" :
                permission_state(m->perm, name) == PERM_ASKING ? "asking" : "none"));
        if (permission_state(m->perm, name) != PERM_NONE)
                json_object_object_add(perm, "since", json_object_new_int64((int64_t) (permission_since(m->perm) / USEC_PER_SEC)));
        last = permission_state(m->perm, name) == PERM_ASKING ? permission_last_answer(m->perm) : NULL;
        if (last) {
                json_object_object_add(perm, "last_answer", json_object_new_string(coord_answer_to_string(last->answer)));
                json_object_object_add(perm, "reason", last->reason ? json_object_new_string(last->reason) : NULL);
                json_object_object_add(perm, "answers", json_object_new_int64(last->count));
                json_object_object_add(perm, "answer_since", json_object_new_int64((int64_t) (last->since / USEC_PER_SEC)));
                unsigned place;
                if (last->reason && sscanf(last->reason, "waiting at place %u", &place) == 1)
                        json_object_object_add(perm, "place", json_object_new_int64(place));
        }
        json_object_object_add(o, "permission", perm);
        return o;
}

static struct json_object *cmd_run_check(Manager *m, ControlConn *conn, struct json_object *req) {
        const char *name = req_string(req, "check");
        CheckRunner *r = name ? manager_find_runner(m, name) : NULL;
        Waiter *w;

        if (!name)
                return control_error("run-check needs a check name");
        if (!r)
                return control_error("no check named '%s'", name);
        w = calloc(1, sizeof(*w));
        if (!w)
                return control_error("out of memory");
        w->conn = conn;
        w->check = strdup(name);
        w->next = waiters;
        waiters = w;
        (void) checkrunner_run_now(r);
        return NULL;
}

static void answer_waiters(Manager *m, const char *check, const Condition *c, const char *error) {
        for (Waiter **p = &waiters; *p;) {
                Waiter *w = *p;
                if (check && strcmp(w->check, check) != 0) {
                        p = &w->next;
                        continue;
                }
                struct json_object *o;
                if (error)
                        o = control_error("%s", error);
                else {
                        o = ok_reply();
                        if (c)
                                json_object_object_add(o, "condition", condition_json(c, m));
                        else
                                json_object_object_add(o, "skipped", json_object_new_boolean(1));
                }
                control_reply(w->conn, o);
                *p = w->next;
                free(w->check);
                free(w);
        }
}

static struct json_object *cmd_reload(Manager *m) {
        StrList errors = {};
        struct json_object *o;

        if (manager_reload(m, &errors) < 0) {
                o = control_error("reload failed; the previous configuration stays in effect");
                json_object_object_add(o, "errors", strlist_json(&errors));
        } else
                o = ok_reply();
        strlist_clear(&errors);
        return o;
}

static void on_coordinator_reply(struct json_object *reply, void *ud) {
        control_reply(ud, reply);
}

static struct json_object *cmd_coordinator(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        const char *action = req_string(req, "action");

        if (!action)
                return control_error("coordinator needs an action");
        if (strcmp(action, "status") != 0 && uid != 0)
                return control_error("permission denied: coordinator %s needs root (you are uid %u)", action, (unsigned) uid);
        if (strcmp(action, "status") == 0 && !m->coord->ops->admin) {
                struct json_object *o = ok_reply();
                json_object_object_add(o, "backend", json_object_new_string(m->coord->ops->name));
                json_object_object_add(o, "local", permission_status(m->perm));
                return o;
        }
        if (coordinator_admin(m->coord, req, on_coordinator_reply, conn) < 0)
                return control_error("cannot ask the coordinator");
        return NULL;
}

static struct json_object *cmd_unpark(Manager *m) {
        bool was = m->parked;
        m->parked = false;
        m->parked_reason = mfree(m->parked_reason);
        eventlog_free(&m->disruptions);
        if (m->rebooter)
                rebooter_clear(m->rebooter);
        m->dirty = true;
        manager_note(m, "operator", NULL, NULL, "unparked", was ? "automation resumed" : "was not parked");
        log_notice("Unparked by an operator: automation resumes");
        manager_save(m);
        return ok_reply();
}

/* `medicctl request reboot [REASON]` / `request clear`: the flag file next to the socket,
 * which the shipped reboot-request check reads (default /run/medic/reboot-request). */
static struct json_object *cmd_request(Manager *m, struct json_object *req) {
        const char *action = req_string(req, "action"), *reason = req_string(req, "reason");
        _cleanup_free_ char *dir = strdup(m->config->socket_path), *path = NULL;
        int r;

        if (!dir)
                return control_error("out of memory");
        path = strprintf("%s/reboot-request", dirname(dir));
        if (streq_ptr(action, "reboot")) {
                _cleanup_free_ char *text = strprintf("%s\n", reason && *reason ? reason : "requested by an operator (medicctl)");
                r = write_file_atomic(path, text, strlen(text), 0644);
                if (r < 0)
                        return control_error("cannot write %s: %s", path, strerror(-r));
                manager_note(m, "operator", NULL, NULL, "reboot-requested", reason);
        } else if (streq_ptr(action, "clear")) {
                if (unlink(path) < 0 && errno != ENOENT)
                        return control_error("cannot remove %s: %m", path);
                manager_note(m, "operator", NULL, NULL, "reboot-request-cleared", NULL);
        } else
                return control_error("request needs 'reboot' or 'clear'");
        manager_trigger(m, "reboot-request");
        struct json_object *o = ok_reply();
        json_object_object_add(o, "file", json_object_new_string(path));
        return o;
}

static struct json_object *on_request(ControlConn *conn, struct json_object *req, uid_t uid, void *userdata) {
        Manager *m = userdata;
        const char *cmd = req_string(req, "command");

        if (!cmd)
                return control_error("request has no \"command\"");
        if (strcmp(cmd, "status") == 0)
                return cmd_status(m);
        if (strcmp(cmd, "conditions") == 0)
                return cmd_conditions(m);
        if (strcmp(cmd, "rules") == 0)
                return cmd_rules(m);
        if (strcmp(cmd, "history") == 0)
                return cmd_history(m, req);
        if (strcmp(cmd, "explain") == 0)
                return cmd_explain(m, req);
        if (strcmp(cmd, "coordinator") == 0)
                return cmd_coordinator(m, conn, req, uid);
        if (strcmp(cmd, "run-check") == 0 || strcmp(cmd, "reload") == 0 || strcmp(cmd, "unpark") == 0 ||
            strcmp(cmd, "request") == 0) {
                if (uid != 0)
                        return control_error("permission denied: %s needs root (you are uid %u)", cmd, (unsigned) uid);
                return strcmp(cmd, "reload") == 0 ? cmd_reload(m) : strcmp(cmd, "unpark") == 0 ? cmd_unpark(m)
                       : strcmp(cmd, "request") == 0 ? cmd_request(m, req) : cmd_run_check(m, conn, req);
        }
        return control_error("unknown command '%s'", cmd);
}

/* ---- checks → conditions → rules -------------------------------------------------------- */

static void remove_condition(Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_conds; i++)
                if (strcmp(m->conds[i]->name, name) == 0) {
                        condition_free(m->conds[i]);
                        m->conds[i] = m->conds[--m->n_conds];
                        m->dirty = true;
                        return;
                }
}

static void on_check_result(const CheckDecl *d, int state, const char *message, const char *details,
                            uint64_t duration, void *userdata) {
        Manager *m = userdata;
        Condition *c = manager_find_condition(m, d->name);
        uint64_t now = now_realtime();

        metrics_check_finished(m->metrics, d->name, duration, state);
        if (state == CHECK_SKIP) {
                if (c)
                        log_info("Check %s does not apply to this node: %s", d->name, message ? message : "");
                remove_condition(m, d->name);
                answer_waiters(m, d->name, NULL, NULL);
                manager_evaluate(m);
                return;
        }
        if (!c) {
                c = condition_new(d->name);
                Condition **a = c ? realloc(m->conds, (m->n_conds + 1) * sizeof(*a)) : NULL;
                if (!a) {
                        condition_free(c);
                        log_oom();
                        return;
                }
                m->conds = a;
                m->conds[m->n_conds++] = c;
        }
        CondState old = c->state;
        bool had_result = c->since != 0, was_flapping = c->flapping;
        bool message_changed = !streq_ptr(c->message, message);
        int r = condition_update(c, (CondState) state, message, details, now, &d->flapping);
        c->duration_usec = duration;
        if (r < 0) {
                log_oom();
                return;
        }
        condition_observed(c, r > 0, now_boottime());
        if (r > 0) {
                char buf[32];
                log_event(state == COND_OK ? LOG_INFO : LOG_NOTICE, MEDIC_MSG_CHECK_CHANGED,
                          LOG_FIELDS({ "MEDIC_CHECK", d->name }, { "MEDIC_CONDITION", d->name },
                                     { "MEDIC_STATE", cond_state_to_string(c->state) }),
                          "Condition %s: %s -> %s: %s", d->name, had_result ? cond_state_to_string(old) : "(none)",
                          cond_state_to_string(c->state), message ? message : "");
                struct json_object *e = json_object_new_object();
                json_object_object_add(e, "time", json_object_new_int64((int64_t) (now / USEC_PER_SEC)));
                json_object_object_add(e, "kind", json_object_new_string("transition"));
                json_object_object_add(e, "condition", json_object_new_string(d->name));
                json_object_object_add(e, "from", json_object_new_string(had_result ? cond_state_to_string(old) : "none"));
                json_object_object_add(e, "to", json_object_new_string(cond_state_to_string(c->state)));
                json_object_object_add(e, "message", json_object_new_string(message ? message : ""));
                manager_history_add(m, e);
                (void) buf;
        } else if (message_changed)
                m->dirty = true;
        if (c->flapping != was_flapping) {
                log_event(LOG_WARNING, MEDIC_MSG_FLAPPING,
                          LOG_FIELDS({ "MEDIC_CONDITION", d->name }, { "MEDIC_STATE", c->flapping ? "flapping" : "steady" }),
                          "Condition %s %s", d->name, c->flapping ? "is flapping" : "stopped flapping");
                m->dirty = true;
        }
        answer_waiters(m, d->name, c, NULL);
        manager_evaluate(m);
}

void manager_trigger(Manager *m, const char *event) {
        for (size_t i = 0; i < m->n_runners; i++)
                if (strlist_contains(&checkrunner_decl(m->runners[i])->events, event))
                        (void) checkrunner_run_now(m->runners[i]);
}

/* The node is healthy when every health condition is ok (unknown is not healthy). */
static void publish_health(Manager *m) {
        struct json_object *bad = json_object_new_array();
        bool healthy = true;

        for (size_t i = 0; m->set && i < m->set->n_checks; i++) {
                CheckDecl *d = m->set->checks[i];
                Condition *c;
                if (!d->health)
                        continue;
                c = manager_find_condition(m, d->name);
                if (c && c->state != COND_OK) {
                        healthy = false;
                        json_object_array_add(bad, json_object_new_string(d->name));
                }
        }
        coordinator_publish_health(m->coord, healthy, json_object_to_json_string_ext(bad, JSON_C_TO_STRING_PLAIN));
        json_object_put(bad);
}

void manager_evaluate(Manager *m) {
        if (m->evaluating)
                return;
        publish_health(m);
        m->evaluating = true;
        uint64_t now = now_realtime();
        for (size_t i = 0; i < m->n_conds; i++) {
                CheckDecl *d = luaset_find_check(m->set, m->conds[i]->name);
                if (d && m->conds[i]->flapping != condition_refresh_flapping(m->conds[i], now, &d->flapping))
                        m->dirty = true;
        }
        rules_run(m);
        maintenance_tick(m);
        if (m->rebooter)
                rebooter_tick(m->rebooter);
        manager_save(m);
        m->evaluating = false;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        manager_evaluate(m);
        permission_reconcile(m->perm);
        notify_status(m);
        metrics_tick(m->metrics);
        return sd_event_source_set_time(s, usec + TICK_USEC);
}

/* ---- loading ---------------------------------------------------------------------------- */

static void stop_runners(Manager *m) {
        for (size_t i = 0; i < m->n_runners; i++)
                checkrunner_free(m->runners[i]);
        free(m->runners);
        m->runners = NULL;
        m->n_runners = 0;
        /* Lua remedies belong to the set that is going away. */
        for (size_t i = 0; i < m->n_rstates; i++)
                if (m->rstates[i]->running) {
                        remedy_cancel(m->rstates[i]->running);
                        m->rstates[i]->running = NULL;
                }
        answer_waiters(m, NULL, NULL, "the configuration was reloaded while the check ran");
}

static int start_runners(Manager *m) {
        m->runners = calloc(m->set->n_checks ? m->set->n_checks : 1, sizeof(*m->runners));
        if (!m->runners)
                return -ENOMEM;
        for (size_t i = 0; i < m->set->n_checks; i++) {
                int r = checkrunner_new(m->event, m->set->checks[i], on_check_result, m, &m->runners[m->n_runners]);
                if (r < 0)
                        return log_error_errno(r, "Cannot schedule check %s: %m", m->set->checks[i]->name);
                m->n_runners++;
        }
        /* Conditions whose check is gone are forgotten. */
        for (size_t i = 0; i < m->n_conds;) {
                if (!luaset_find_check(m->set, m->conds[i]->name)) {
                        log_info("Forgetting condition %s: no check declares it any more", m->conds[i]->name);
                        condition_free(m->conds[i]);
                        m->conds[i] = m->conds[--m->n_conds];
                        m->dirty = true;
                } else
                        i++;
        }
        return 0;
}

static LuaHost *host_new(Manager *m, const Config *c) {
        LuaHost *h = calloc(1, sizeof(*h));
        if (!h)
                return NULL;
        h->event = m->event;
        h->config = c;
        h->dry_run = m->force_dry_run || c->dry_run;
        h->find_condition = host_find_condition;
        h->userdata = m;
        return h;
}

static int take_lock(Manager *m) {
        _cleanup_free_ char *path = strprintf("%s/lock", m->config->state_dir);
        int r = mkdir_p(m->config->state_dir, 0700);

        if (r < 0)
                return log_error_errno(r, "Cannot create state directory %s: %m", m->config->state_dir);
        m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (m->lock_fd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", path);
        if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0)
                return log_error_errno(errno, "Another medicd uses %s (%s is locked)", m->config->state_dir, path);
        return 0;
}

int manager_new(sd_event *e, const char *config_path, Config *config, bool force_dry_run, Manager **ret) {
        Manager *m = calloc(1, sizeof(*m));
        int r;

        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->config = config;
        m->config_path = strdup_or_null(config_path);
        m->force_dry_run = force_dry_run;
        m->history = json_object_new_array();
        m->lock_fd = -1;
        m->started = now_realtime();
        m->boot_id = boot_id_read(config->boot_id_file);
        r = take_lock(m);
        if (r >= 0) {
                r = coordinator_new(config, e, &m->coord);
                if (r < 0)
                        log_error_errno(r, "Cannot set up the %s coordinator: %m", config->coordinator);
        }
        if (r >= 0)
                r = permission_new(m->coord, config->state_dir, &m->perm);
        if (r < 0) {
                m->config = NULL; /* the caller keeps it */
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

int manager_start(Manager *m, StrList *errors) {
        int r;

        m->host = host_new(m, m->config);
        if (!m->host)
                return -ENOMEM;
        r = state_load(m);
        if (r < 0)
                return r;
        r = luaset_load(m->config, m->host, &m->set, errors);
        if (r < 0)
                return r;
        r = start_runners(m);
        if (r < 0)
                return r;
        r = rebooter_new(m, &m->rebooter);
        if (r < 0)
                return r;
        /* A maintenance restored from the state file holds the slot it had. */
        for (size_t i = 0; i < m->n_rstates; i++)
                if (m->rstates[i]->maintenance)
                        permission_claim(m->perm, m->rstates[i]->name);
        /* Whatever a previous medicd asked for or held and nothing claims goes back. */
        permission_startup(m->perm);
        permission_reconcile(m->perm);
        r = sources_start(m);
        if (r < 0)
                return r;
        r = control_new(m->event, m->config->socket_path, on_request, m, &m->control);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(m->event, &m->tick, CLOCK_MONOTONIC, TICK_USEC, 10 * USEC_PER_MSEC, on_tick, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->tick, SD_EVENT_ON);
        (void) sd_event_source_set_description(m->tick, "rule-tick");
        m->last_reload = now_realtime();
        m->last_reload_ok = true;
        r = metrics_new(m, &m->metrics);
        if (r < 0)
                return r;
        if (manager_dry_run(m))
                log_notice("Dry-run: every decision is logged, no remedy runs");
        log_event(LOG_INFO, MEDIC_MSG_STARTED, NULL, "medicd %s started on node %s (group %s): %zu checks, %zu rules",
                  PACKAGE_VERSION, m->config->node, m->config->group, m->set->n_checks, m->set->n_rules);
        manager_save(m);
        return 0;
}

int manager_reload(Manager *m, StrList *errors) {
        Config *nc = NULL;
        LuaSet *ns = NULL;
        LuaHost *nh = NULL;
        int r;

        (void) sd_notifyf(false, "RELOADING=1\nSTATUS=Reloading\nMONOTONIC_USEC=%llu",
                          (unsigned long long) now_monotonic());
        strlist_clear(&m->last_reload_errors);
        r = m->config_path ? config_load(m->config_path, &nc, errors) : config_new_default(&nc);
        if (r >= 0) {
                /* These belong to the running process; changing them takes a restart. */
                if (strcmp(nc->state_dir, m->config->state_dir) != 0 || strcmp(nc->socket_path, m->config->socket_path) != 0 ||
                    strcmp(nc->coordinator, m->config->coordinator) != 0)
                        log_warning("state_dir, socket and the coordinator backend change only when medicd restarts");
                free(nc->state_dir);
                nc->state_dir = strdup(m->config->state_dir);
                free(nc->socket_path);
                nc->socket_path = strdup(m->config->socket_path);
                nh = host_new(m, nc);
                r = nh ? luaset_load(nc, nh, &ns, errors) : -ENOMEM;
        }
        m->last_reload = now_realtime();
        if (r < 0) {
                for (size_t i = 0; i < errors->n; i++)
                        strlist_add(&m->last_reload_errors, errors->v[i]);
                m->last_reload_ok = false;
                for (size_t i = 0; i < errors->n; i++)
                        log_event(LOG_ERR, MEDIC_MSG_CONFIG_ERROR, NULL, "%s", errors->v[i]);
                log_event(LOG_ERR, MEDIC_MSG_RELOAD_FAILED, NULL,
                          "Reload failed with %zu error%s; the previous configuration and rules stay in effect",
                          errors->n, errors->n == 1 ? "" : "s");
                free(nh);
                config_free(nc);
                (void) sd_notify(false, "READY=1");
                notify_status(m);
                return -EINVAL;
        }

        stop_runners(m);
        luaset_free(m->set);
        config_free(m->config);
        m->config = nc;
        free(m->host);
        m->host = nh;
        m->set = ns;
        log_set_max_level(nc->log_level);
        r = start_runners(m);
        m->last_reload_ok = r >= 0;
        log_event(LOG_INFO, MEDIC_MSG_RELOADED, NULL, "Reloaded: %zu checks, %zu rules%s", ns->n_checks, ns->n_rules,
                  manager_dry_run(m) ? " (dry-run)" : "");
        (void) sd_notify(false, "READY=1");
        notify_status(m);
        manager_evaluate(m);
        return r;
}

void manager_stop(Manager *m) {
        stop_runners(m);
        rebooter_cancel(m->rebooter);
        maintenance_cancel_all(m);
        m->dirty = true;
        manager_save(m);
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        stop_runners(m);
        sources_stop(m);
        control_free(m->control);
        metrics_free(m->metrics);
        sd_event_source_disable_unref(m->tick);
        for (size_t i = 0; i < m->n_rstates; i++)
                rulestate_free(m->rstates[i]);
        free(m->rstates);
        for (size_t i = 0; i < m->n_conds; i++)
                condition_free(m->conds[i]);
        free(m->conds);
        luaset_free(m->set);
        rebooter_free(m->rebooter);
        permission_free(m->perm);
        coordinator_free(m->coord);
        free(m->boot_id);
        eventlog_free(&m->disruptions);
        free(m->parked_reason);
        json_object_put(m->history);
        config_free(m->config);
        free(m->host);
        free(m->config_path);
        strlist_clear(&m->last_reload_errors);
        if (m->lock_fd >= 0)
                close(m->lock_fd);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
