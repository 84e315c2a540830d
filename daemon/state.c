/* SPDX-License-Identifier: MIT */
/* Conditions, rule counters and the history, in STATE_DIR/state.json, written atomically.
 * A file that does not parse is moved aside and the daemon starts clean. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "manager.h"
#include "state.h"

#define STATE_MAX (64 * 1024 * 1024)

static char *state_path(Manager *m) {
        return strprintf("%s/state.json", m->config->state_dir);
}

static struct json_object *eventlog_to_json(const EventLog *l) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < l->n; i++)
                json_object_array_add(a, json_object_new_int64((int64_t) l->t[i]));
        return a;
}

/* Any number of times in any order: sorted once, the newest EVENTLOG_MAX kept (lib/ratelimit.h). */
static void eventlog_from_json(EventLog *l, struct json_object *a) {
        _cleanup_free_ uint64_t *t = NULL;
        size_t n;

        if (!json_object_is_type(a, json_type_array))
                return;
        n = json_object_array_length(a);
        t = n > 0 ? malloc(n * sizeof(uint64_t)) : NULL;
        if (n > 0 && !t)
                return (void) log_warning("Not enough memory for %zu event times in the state file, ignoring them", n);
        for (size_t i = 0; i < n; i++)
                t[i] = (uint64_t) json_object_get_int64(json_object_array_get_idx(a, i));
        if (eventlog_load(l, t, n) < 0)
                log_warning("Not enough memory for %zu event times in the state file, ignoring them", n);
}

int state_save(Manager *m) {
        _cleanup_free_ char *path = state_path(m);
        struct json_object *root = json_object_new_object(), *conds = json_object_new_object(),
                           *rules = json_object_new_object();
        const char *text;
        int r;

        json_object_object_add(root, "version", json_object_new_int(1));
        json_object_object_add(root, "boot_id", m->boot_id ? json_object_new_string(m->boot_id) : NULL);
        for (size_t i = 0; i < m->conds.n; i++) {
                Condition *c = m->conds.v[i];
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "state", json_object_new_string(cond_state_to_string(c->state)));
                json_object_object_add(o, "since", json_object_new_int64((int64_t) c->since));
                json_object_object_add(o, "message", json_object_new_string(c->message ? c->message : ""));
                json_object_object_add(o, "details", c->details ? json_tokener_parse(c->details) : NULL);
                json_object_object_add(o, "changes", eventlog_to_json(&c->changes));
                json_object_object_add(o, "flapping", json_object_new_boolean(c->flapping));
                json_object_object_add(o, "last_run", json_object_new_int64((int64_t) c->last_run));
                /* Boot-clock time of the change: meaningful in this boot only (see boot_id). */
                if (c->since_bt)
                        json_object_object_add(o, "since_bt", json_object_new_int64((int64_t) c->since_bt));
                json_object_object_add(conds, c->name, o);
        }
        for (size_t i = 0; i < m->rstates.n; i++) {
                RuleState *s = m->rstates.v[i];
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "fired", eventlog_to_json(&s->fired));
                json_object_object_add(o, "last_fired", json_object_new_int64((int64_t) s->last_fired));
                if (s->last_fired_bt)
                        json_object_object_add(o, "last_fired_bt", json_object_new_int64((int64_t) s->last_fired_bt));
                if (s->waiting_since) {
                        json_object_object_add(o, "waiting_since", json_object_new_int64((int64_t) s->waiting_since));
                        json_object_object_add(o, "waiting_since_bt", json_object_new_int64((int64_t) s->waiting_since_bt));
                        json_object_object_add(o, "stuck_escalated", json_object_new_boolean(s->stuck_escalated));
                }
                json_object_object_add(o, "episode", json_object_new_int64((int64_t) s->episode));
                json_object_object_add(o, "attempts", json_object_new_int64(s->attempts));
                json_object_object_add(o, "escalated", json_object_new_boolean(s->escalated));
                json_object_object_add(o, "exhausted_logged", json_object_new_boolean(s->exhausted_logged));
                json_object_object_add(o, "maintenance", s->maintenance ? json_object_new_string(s->maintenance) : NULL);
                json_object_object_add(o, "maintenance_condition",
                                       s->maintenance_condition ? json_object_new_string(s->maintenance_condition) : NULL);
                if (s->maintenance_since)
                        json_object_object_add(o, "maintenance_since", json_object_new_int64((int64_t) s->maintenance_since));
                json_object_object_add(rules, s->name, o);
        }
        json_object_object_add(root, "conditions", conds);
        json_object_object_add(root, "rules", rules);
        json_object_object_add(root, "history", json_object_get(m->journal.history));
        json_object_object_add(root, "disruptions", eventlog_to_json(&m->disruptions));
        json_object_object_add(root, "parked", json_object_new_boolean(m->journal.parked));
        json_object_object_add(root, "parked_reason", m->journal.parked_reason ? json_object_new_string(m->journal.parked_reason) : NULL);
        json_object_object_add(root, "parked_rule", m->journal.parked_rule ? json_object_new_string(m->journal.parked_rule) : NULL);

        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        r = write_file_atomic(path, text, strlen(text), 0600);
        json_object_put(root);
        if (r < 0) {
                if (!m->save_failing)
                        log_error_errno(r, "Cannot save state to %s: %m; no disruptive remedy runs until it can be saved", path);
                m->save_failing = true;
                return r;
        }
        if (m->save_failing)
                log_notice("State saved to %s again", path);
        m->save_failing = false;
        m->dirty = false;
        return 0;
}

static uint64_t get_u64(struct json_object *o, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) ? (uint64_t) json_object_get_int64(v) : 0;
}

static const char *get_str(struct json_object *o, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                ? json_object_get_string(v) : NULL;
}

static int move_aside(Manager *m, const char *path, const char *why) {
        _cleanup_free_ char *aside = strprintf("%s.corrupt-%llu", path,
                                               (unsigned long long) (now_realtime() / USEC_PER_SEC));
        if (aside && rename(path, aside) == 0)
                log_event(LOG_ERR, MEDIC_MSG_STATE_CORRUPT, NULL,
                          "%s: %s; moved it to %s and starting with a clean state", path, why, aside);
        else
                log_event(LOG_ERR, MEDIC_MSG_STATE_CORRUPT, NULL,
                          "%s: %s; cannot move it aside (%m); starting with a clean state", path, why);
        return 0;
}

int state_parse(const StateParts *p, const char *text, char **ret_why) {
        struct json_object *root, *conds, *rules, *hist;
        enum json_tokener_error jerr;

        root = json_tokener_parse_verbose(text, &jerr);
        if (!root || !json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "conditions", &conds) || !json_object_is_type(conds, json_type_object) ||
            !json_object_object_get_ex(root, "rules", &rules) || !json_object_is_type(rules, json_type_object)) {
                *ret_why = strprintf("not a valid state file (%s)",
                                     root ? "missing conditions or rules" : json_tokener_error_desc(jerr));
                json_object_put(root);
                return -EBADMSG;
        }

        /* Boot-clock times count only in the boot they were taken in. */
        bool same_boot = p->boot_id && streq_ptr(get_str(root, "boot_id"), p->boot_id);
        json_object_object_foreach(conds, name, o) {
                CondState st = cond_state_from_string(get_str(o, "state"));
                Condition *c;
                struct json_object *v;
                if (st < 0 || !json_object_is_type(o, json_type_object))
                        continue;
                c = condtable_get(p->conds, name);
                if (!c)
                        break;
                c->state = st;
                c->since = get_u64(o, "since");
                c->last_run = get_u64(o, "last_run");
                c->since_bt = same_boot ? get_u64(o, "since_bt") : 0;
                c->observed_bt = 0; /* restored, not observed by this process */
                free(c->message);
                c->message = strdup_or_null(get_str(o, "message"));
                free(c->details);
                c->details = json_object_object_get_ex(o, "details", &v) && v
                        ? strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) : NULL;
                if (json_object_object_get_ex(o, "changes", &v))
                        eventlog_from_json(&c->changes, v);
                c->flapping = json_object_object_get_ex(o, "flapping", &v) && json_object_get_boolean(v);
        }
        json_object_object_foreach(rules, rname, ro) {
                RuleState *s;
                struct json_object *v;
                if (!json_object_is_type(ro, json_type_object))
                        continue;
                s = ruletable_get(p->rstates, rname, true);
                if (!s)
                        break;
                if (json_object_object_get_ex(ro, "fired", &v))
                        eventlog_from_json(&s->fired, v);
                s->last_fired = get_u64(ro, "last_fired");
                s->last_fired_bt = same_boot ? get_u64(ro, "last_fired_bt") : 0;
                s->waiting_since = get_u64(ro, "waiting_since");
                s->waiting_since_bt = same_boot ? get_u64(ro, "waiting_since_bt") : 0;
                s->stuck_escalated = json_object_object_get_ex(ro, "stuck_escalated", &v) && json_object_get_boolean(v);
                s->episode = get_u64(ro, "episode");
                s->attempts = (unsigned) get_u64(ro, "attempts");
                s->escalated = json_object_object_get_ex(ro, "escalated", &v) && json_object_get_boolean(v);
                s->exhausted_logged = json_object_object_get_ex(ro, "exhausted_logged", &v) && json_object_get_boolean(v);
                s->maintenance = strdup_or_null(get_str(ro, "maintenance"));
                s->maintenance_condition = strdup_or_null(get_str(ro, "maintenance_condition"));
                /* A settle restored starts again (maintenance_settle is zero): only shown. */
                s->maintenance_since = get_u64(ro, "maintenance_since");
        }
        if (json_object_object_get_ex(root, "history", &hist) && json_object_is_type(hist, json_type_array)) {
                json_object_put(p->journal->history);
                p->journal->history = json_object_get(hist);
        }
        if (json_object_object_get_ex(root, "disruptions", &hist))
                eventlog_from_json(p->disruptions, hist);
        if (json_object_object_get_ex(root, "parked", &hist) && json_object_get_boolean(hist)) {
                p->journal->parked = true;
                p->journal->parked_reason = strdup_or_null(get_str(root, "parked_reason"));
                p->journal->parked_rule = strdup_or_null(get_str(root, "parked_rule"));
                log_warning("This node is parked (%s): no automation until 'medicctl unpark'",
                            p->journal->parked_reason ? p->journal->parked_reason : "reboot-loop protection");
        }
        json_object_put(root);
        return 0;
}

int state_load(Manager *m) {
        _cleanup_free_ char *path = state_path(m), *buf = NULL, *why = NULL;
        size_t size;
        int r;

        r = read_file(path, STATE_MAX, &buf, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                why = strprintf("cannot read: %s", strerror(-r));
                return move_aside(m, path, why);
        }
        r = state_parse(&(StateParts) { .conds = &m->conds, .rstates = &m->rstates, .journal = &m->journal,
                                        .disruptions = &m->disruptions, .boot_id = m->boot_id },
                        buf, &why);
        if (r < 0)
                return move_aside(m, path, why);
        log_info("Restored %zu conditions and %zu rule states from %s", m->conds.n, m->rstates.n, path);
        return 0;
}
