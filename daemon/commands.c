/* SPDX-License-Identifier: MIT */
/* The control commands medicctl sends (see protocol.h for the names and HACKING.md for the
 * fields): views of the manager's tables, explain through the same rule_decide() the daemon
 * acts on, and the operator's commands. */
#include <libgen.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"
#include "maintenance.h"
#include "protocol.h"
#include "reboot.h"
#include "remedy.h"

typedef struct Waiter {
        ControlConn *conn;
        char *check;
        struct Waiter *next;
} Waiter;

static Waiter *waiters;

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
        RuleState *s = ruletable_get(&m->rstates, d->name, true);
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
        json_object_object_add(o, MEDIC_REPLY_OK, json_object_new_boolean(1));
        return o;
}

static struct json_object *strlist_json(const StrList *l) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < l->n; i++)
                json_object_array_add(a, json_object_new_string(l->v[i]));
        return a;
}

/* The node's own stop file: {path, present}; null when none is configured. */
static struct json_object *stop_file_json(Manager *m) {
        struct json_object *o;

        if (!m->config->stop_file)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "path", json_object_new_string(m->config->stop_file));
        json_object_object_add(o, "present", json_object_new_boolean(coordinator_stopped_locally(m->coord)));
        return o;
}

static struct json_object *cmd_status(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        struct json_object *o = ok_reply(), *c = json_object_new_object(), *lr = json_object_new_object();
        size_t n[_COND_STATE_MAX] = {}, flapping = 0;

        for (size_t i = 0; i < m->conds.n; i++) {
                n[m->conds.v[i]->state]++;
                flapping += m->conds.v[i]->flapping;
        }
        json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
        json_object_object_add(o, "node", json_object_new_string(m->config->node));
        json_object_object_add(o, "group", json_object_new_string(m->config->group));
        json_object_object_add(o, "labels", coordinator_labels_json(&m->config->labels));
        json_object_object_add(o, "dry_run", json_object_new_boolean(manager_dry_run(m)));
        json_object_object_add(o, "pid", json_object_new_int((int) getpid()));
        json_object_object_add(o, "started", json_object_new_int64((int64_t) (m->started / USEC_PER_SEC)));
        json_object_object_add(o, "checks", json_object_new_int64(m->set ? (int64_t) m->set->n_checks : 0));
        json_object_object_add(o, MEDIC_REPLY_RULES, json_object_new_int64(m->set ? (int64_t) m->set->n_rules : 0));
        json_object_object_add(c, "ok", json_object_new_int64((int64_t) n[COND_OK]));
        json_object_object_add(c, "problem", json_object_new_int64((int64_t) n[COND_PROBLEM]));
        json_object_object_add(c, "unknown", json_object_new_int64((int64_t) n[COND_UNKNOWN]));
        json_object_object_add(c, "flapping", json_object_new_int64((int64_t) flapping));
        json_object_object_add(o, MEDIC_REPLY_CONDITIONS, c);
        json_object_object_add(o, MEDIC_REPLY_COORDINATOR, permission_status(m->perm));
        json_object_object_add(o, "stop_file", stop_file_json(m));
        json_object_object_add(o, "parked", json_object_new_boolean(m->journal.parked));
        if (m->journal.parked) {
                json_object_object_add(o, "parked_reason", json_object_new_string(m->journal.parked_reason ? m->journal.parked_reason : ""));
                json_object_object_add(o, "parked_rule", m->journal.parked_rule ? json_object_new_string(m->journal.parked_rule) : NULL);
        }
        json_object_object_add(o, MEDIC_REPLY_REBOOT, m->rebooter ? rebooter_status(m->rebooter) : NULL);
        struct json_object *maint = json_object_new_array();
        for (size_t i = 0; i < m->rstates.n; i++)
                if (m->rstates.v[i]->maintenance)
                        json_object_array_add(maint, maintenance_status(&m->act, m->rstates.v[i]));
        json_object_object_add(o, "maintenance", maint);
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

static struct json_object *cmd_conditions(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        struct json_object *o = ok_reply(), *a = json_object_new_array();
        for (size_t i = 0; i < m->conds.n; i++)
                json_object_array_add(a, condition_json(m->conds.v[i], m));
        json_object_object_add(o, MEDIC_REPLY_CONDITIONS, a);
        return o;
}

/* A rule whose on_labels do not match this node: declared, never run. */
static struct json_object *inert_rule_json(const RuleDecl *d) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(d->name));
        json_object_object_add(o, "file", json_object_new_string(d->file->path));
        json_object_object_add(o, "line", json_object_new_int(d->line));
        json_object_object_add(o, "when", json_object_new_string(d->when ? d->when
                                                                 : d->when_ref != LUA_NOREF ? "(predicate)" : "(escalation)"));
        json_object_object_add(o, "remedy", json_object_new_string(d->remedy.text ? d->remedy.text : "?"));
        json_object_object_add(o, "disruptive", json_object_new_boolean(remedy_is_disruptive(&d->remedy)));
        json_object_object_add(o, "on_labels", strlist_json(&d->on_labels));
        json_object_object_add(o, "status", json_object_new_string("inert"));
        json_object_object_add(o, "inert", json_object_new_string(d->inert));
        return o;
}

static struct json_object *cmd_rules(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        struct json_object *o = ok_reply(), *a = json_object_new_array();
        for (size_t i = 0; m->set && i < m->set->n_rules; i++)
                json_object_array_add(a, rule_json(m, m->set->rules[i]));
        for (size_t i = 0; m->set && i < m->set->n_inert; i++)
                json_object_array_add(a, inert_rule_json(m->set->inert[i]));
        json_object_object_add(o, MEDIC_REPLY_RULES, a);
        return o;
}

static struct json_object *cmd_history(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        struct json_object *o = ok_reply(), *a = json_object_new_array(), *v;
        int64_t limit = 50;
        size_t n = json_object_array_length(m->journal.history);

        if (json_object_object_get_ex(req, MEDIC_FIELD_LIMIT, &v) && json_object_is_type(v, json_type_int))
                limit = json_object_get_int64(v);
        if (limit < 0)
                limit = 0;
        for (size_t i = n > (size_t) limit ? n - (size_t) limit : 0; i < n; i++)
                json_object_array_add(a, json_object_get(json_object_array_get_idx(m->journal.history, i)));
        json_object_object_add(o, MEDIC_REPLY_HISTORY, a);
        return o;
}

static const char *req_string(struct json_object *req, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(req, key, &v) && json_object_is_type(v, json_type_string)
                ? json_object_get_string(v) : NULL;
}

static struct json_object *cmd_explain(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        const char *name = req_string(req, MEDIC_FIELD_RULE);
        RuleDecl *d = name ? luaset_find_rule(m->set, name) : NULL;
        RuleState *s = d ? ruletable_get(&m->rstates, name, true) : NULL;
        struct json_object *o, *steps, *perm;
        _cleanup_free_ char *reason = NULL;
        const PermissionAnswer *last;
        Verdict v;

        if (!name)
                return control_error("explain needs a rule name");
        if (!d && luaset_find_inert(m->set, name)) {
                /* Inert: its on_labels do not match this node's labels; nothing decides it. */
                struct json_object *step = json_object_new_object();
                steps = json_object_new_array();
                json_object_object_add(step, "step", json_object_new_string("labels"));
                json_object_object_add(step, "ok", json_object_new_boolean(0));
                json_object_object_add(step, "detail", json_object_new_string(luaset_find_inert(m->set, name)->inert));
                json_object_array_add(steps, step);
                o = ok_reply();
                json_object_object_add(o, "rule", json_object_new_string(name));
                json_object_object_add(o, MEDIC_REPLY_WOULD_FIRE, json_object_new_boolean(0));
                json_object_object_add(o, MEDIC_REPLY_DECISION, json_object_new_string("inert"));
                json_object_object_add(o, "reason", json_object_new_string(luaset_find_inert(m->set, name)->inert));
                json_object_object_add(o, MEDIC_REPLY_STEPS, steps);
                return o;
        }
        if (!d)
                return control_error("no rule named '%s'", name);
        if (!s)
                return control_error("out of memory");
        steps = json_object_new_array();
        v = rule_decide(m, d, s, now_realtime(), false, steps, &reason);
        if (s->maintenance && v != VERDICT_FIRE && !(reason && strncmp(reason, "in maintenance", 14) == 0)) {
                /* Its trigger is over but its maintenance is not (undraining, settling): that
                 * is what the rule waits for. */
                free(reason);
                reason = maintenance_describe(&m->act, s);
        }
        o = ok_reply();
        json_object_object_add(o, "rule", json_object_new_string(name));
        json_object_object_add(o, MEDIC_REPLY_WOULD_FIRE, json_object_new_boolean(v == VERDICT_FIRE));
        json_object_object_add(o, MEDIC_REPLY_DECISION, json_object_new_string(verdict_to_string(v)));
        json_object_object_add(o, "reason", json_object_new_string(reason ? reason : ""));
        json_object_object_add(o, "dry_run", json_object_new_boolean(manager_dry_run(m)));
        json_object_object_add(o, MEDIC_REPLY_STEPS, steps);
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
        json_object_object_add(o, MEDIC_REPLY_PERMISSION, perm);
        /* A maintenance in progress: its phase, and what a settle waits for since when. */
        json_object_object_add(o, "maintenance", maintenance_status(&m->act, s));
        /* Held back (blocked, window, stop, coordinator) since, and whether that was escalated. */
        json_object_object_add(o, "waiting_since", s->waiting_since ?
                               json_object_new_int64((int64_t) (s->waiting_since / USEC_PER_SEC)) : NULL);
        json_object_object_add(o, "stuck", json_object_new_boolean(s->stuck_escalated));
        return o;
}

static struct json_object *cmd_run_check(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        const char *name = req_string(req, MEDIC_FIELD_CHECK);
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

void commands_answer_waiters(Manager *m, const char *check, const Condition *c, const char *error) {
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
                                json_object_object_add(o, MEDIC_REPLY_CONDITION, condition_json(c, m));
                        else
                                json_object_object_add(o, "skipped", json_object_new_boolean(1));
                }
                control_reply(w->conn, o);
                *p = w->next;
                free(w->check);
                free(w);
        }
}

static struct json_object *cmd_reload(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        StrList errors = {};
        struct json_object *o;

        if (manager_reload(m, &errors) < 0) {
                o = control_error("reload failed; the previous configuration stays in effect");
                json_object_object_add(o, MEDIC_REPLY_ERRORS, strlist_json(&errors));
        } else
                o = ok_reply();
        strlist_clear(&errors);
        return o;
}

typedef struct CoordinatorAsk {
        Manager *m;
        ControlConn *conn;
        bool status;
        char *resume;   /* resume: what the operator lifted and why, logged once the backend did it */
} CoordinatorAsk;

static void on_coordinator_reply(struct json_object *reply, void *ud) {
        CoordinatorAsk *a = ud;

        struct json_object *ok = NULL;

        if (a->status && json_object_is_type(reply, json_type_object))
                json_object_object_add(reply, "stop_file", stop_file_json(a->m));
        if (a->resume && json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok)) {
                log_notice("Operator: %s", a->resume);
                journal_note(&a->m->journal, "operator", NULL, NULL, "coordinator-resume", a->resume);
        }
        control_reply(a->conn, reply);
        free(a->resume);
        free(a);
}

static struct json_object *cmd_coordinator(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        const char *action = req_string(req, MEDIC_FIELD_ACTION);

        if (!action)
                return control_error("coordinator needs an action");
        if (strcmp(action, "status") != 0 && uid != 0)
                return control_error("permission denied: coordinator %s needs root (you are uid %u)", action, (unsigned) uid);
        if (strcmp(action, "status") == 0 && !m->coord->ops->admin) {
                struct json_object *o = ok_reply();
                json_object_object_add(o, "backend", json_object_new_string(m->coord->ops->name));
                json_object_object_add(o, "local", permission_status(m->perm));
                json_object_object_add(o, "stop_file", stop_file_json(m));
                return o;
        }
        CoordinatorAsk *a = malloc(sizeof *a);
        if (!a)
                return control_error("out of memory");
        *a = (CoordinatorAsk) { .m = m, .conn = conn, .status = strcmp(action, "status") == 0 };
        if (strcmp(action, "resume") == 0) {
                /* Who lifted a stop switch (the storm breaker's among them), and why. */
                const char *reason = req_string(req, MEDIC_FIELD_REASON), *group = req_string(req, "group");
                a->resume = strprintf("coordinator resume %s%s: %s", group ? "group " : "cluster-wide",
                                      group ? group : "", reason ? reason : "no reason given");
        }
        if (coordinator_admin(m->coord, req, on_coordinator_reply, a) < 0) {
                free(a->resume);
                free(a);
                return control_error("cannot ask the coordinator");
        }
        return NULL;
}

static struct json_object *cmd_unpark(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        journal_unpark(&m->journal);
        eventlog_free(&m->disruptions);
        if (m->rebooter)
                rebooter_clear(m->rebooter);
        manager_save_now(m);
        return ok_reply();
}

/* `medicctl request reboot [REASON]` / `request clear`: the flag file next to the socket,
 * which the shipped reboot-request check reads (default /run/medic/reboot-request). */
static struct json_object *cmd_request(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid) {
        const char *action = req_string(req, MEDIC_FIELD_ACTION), *reason = req_string(req, MEDIC_FIELD_REASON);
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
                journal_note(&m->journal, "operator", NULL, NULL, "reboot-requested", reason);
        } else if (streq_ptr(action, "clear")) {
                if (unlink(path) < 0 && errno != ENOENT)
                        return control_error("cannot remove %s: %m", path);
                journal_note(&m->journal, "operator", NULL, NULL, "reboot-request-cleared", NULL);
        } else
                return control_error("request needs 'reboot' or 'clear'");
        manager_trigger(m, "reboot-request");
        struct json_object *o = ok_reply();
        json_object_object_add(o, "file", json_object_new_string(path));
        return o;
}

/* The commands of the control protocol (protocol.h): a handler returns the reply, or NULL
 * when it answers later through control_reply(); it uses of its arguments what it needs. */
typedef struct Command {
        const char *name;
        bool root_only;
        struct json_object *(*handler)(Manager *m, ControlConn *conn, struct json_object *req, uid_t uid);
} Command;

static const Command commands[] = {
        { MEDIC_CMD_STATUS,      false, cmd_status },
        { MEDIC_CMD_CONDITIONS,  false, cmd_conditions },
        { MEDIC_CMD_RULES,       false, cmd_rules },
        { MEDIC_CMD_HISTORY,     false, cmd_history },
        { MEDIC_CMD_EXPLAIN,     false, cmd_explain },
        { MEDIC_CMD_COORDINATOR, false, cmd_coordinator }, /* checks root per action */
        { MEDIC_CMD_RUN_CHECK,   true,  cmd_run_check },
        { MEDIC_CMD_RELOAD,      true,  cmd_reload },
        { MEDIC_CMD_UNPARK,      true,  cmd_unpark },
        { MEDIC_CMD_REQUEST,     true,  cmd_request },
};

struct json_object *commands_dispatch(ControlConn *conn, struct json_object *req, uid_t uid, void *userdata) {
        Manager *m = userdata;
        const char *cmd = req_string(req, MEDIC_FIELD_COMMAND);

        if (!cmd)
                return control_error("request has no \"command\"");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                if (strcmp(commands[i].name, cmd) != 0)
                        continue;
                if (commands[i].root_only && uid != 0)
                        return control_error("permission denied: %s needs root (you are uid %u)", cmd, (unsigned) uid);
                return commands[i].handler(m, conn, req, uid);
        }
        return control_error("unknown command '%s'", cmd);
}
