/* SPDX-License-Identifier: MIT */
/* The manager owns the configuration, the loaded Lua set, the check runners, the conditions
 * and rule states; it wires check results to the rule engine and answers the control socket. */
#include <fcntl.h>
#include <libgen.h>
#include <lauxlib.h>
#include <lua.h>
#if HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "killpoint.h"
#include "commands.h"
#include "control.h"
#include "duration.h"
#include "log.h"
#include "lua-api.h"
#include "manager.h"
#include "maintenance.h"
#include "metrics.h"
#include "reboot.h"
#include "remedy.h"
#include "exec.h"
#include "watch.h"

#ifdef MEDIC_TEST_HOOKS
/* The hooked test build (lib/killpoint.h): MEDIC_TEST_TICK_MS shortens the tick. */
#define TICK_USEC (killpoint_env_ms("MEDIC_TEST_TICK_MS") ? killpoint_env_ms("MEDIC_TEST_TICK_MS") * USEC_PER_MSEC : USEC_PER_SEC)
#else
#define TICK_USEC USEC_PER_SEC
#endif
#define SAVE_INTERVAL USEC_PER_SEC


static const Condition *host_find_condition(void *userdata, const char *name) {
        const Manager *m = userdata;
        return condtable_find(&m->conds, name);
}

static char *host_group_view(void *userdata, char **ret_why) {
        const Manager *m = userdata;
        struct json_object *v = NULL;

        if (coordinator_group_view(m->coord, &v, ret_why) < 0)
                return NULL;
        char *s = strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        json_object_put(v);
        return s;
}

bool manager_dry_run(const Manager *m) {
        return m->force_dry_run || m->config->dry_run;
}

CheckRunner *manager_find_runner(Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_runners; i++)
                if (strcmp(checkrunner_decl(m->runners[i])->name, name) == 0)
                        return m->runners[i];
        return NULL;
}

void manager_save_now(Manager *m) {
        if (!m->dirty)
                return;
        (void) state_save(m); /* logs a failure once; dirty stays set and the next save tries again */
        m->last_save = now_monotonic();
        if (m->save_timer)
                (void) sd_event_source_set_enabled(m->save_timer, SD_EVENT_OFF);
}

static int on_save_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_save_now(userdata);
        return 0;
}

void manager_save(Manager *m) {
        uint64_t now = now_monotonic(), due = m->last_save + SAVE_INTERVAL;
        int enabled = SD_EVENT_OFF;

        if (!m->dirty)
                return;
        if (!m->tick || now >= due || m->last_save == 0)
                return manager_save_now(m);
        if (m->save_timer && sd_event_source_get_enabled(m->save_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return; /* already due at the end of this second */
        if (!m->save_timer) {
                if (sd_event_add_time(m->event, &m->save_timer, CLOCK_MONOTONIC, due, 10 * USEC_PER_MSEC,
                                      on_save_timer, m) < 0)
                        return manager_save_now(m);
                (void) sd_event_source_set_description(m->save_timer, "state-save");
        } else
                (void) sd_event_source_set_time(m->save_timer, due);
        (void) sd_event_source_set_enabled(m->save_timer, SD_EVENT_ONESHOT);
}

char *manager_summary(Manager *m) {
        size_t problem = 0, unknown = 0;
        for (size_t i = 0; i < m->conds.n; i++) {
                problem += m->conds.v[i]->state == COND_PROBLEM;
                unknown += m->conds.v[i]->state == COND_UNKNOWN;
        }
        return strprintf("%zu checks, %zu rules; %zu problem, %zu unknown%s%s", m->set ? m->set->n_checks : 0,
                         m->set ? m->set->n_rules : 0, problem, unknown, manager_dry_run(m) ? "; dry-run" : "",
                         m->journal.parked ? "; PARKED" : "");
}

static void notify_status(Manager *m) {
        _cleanup_free_ char *s = manager_summary(m);
        if (s)
                (void) sd_notifyf(false, "STATUS=%s", s);
}

/* ---- checks → conditions → rules -------------------------------------------------------- */

static void publish_health(Manager *m);

/* A result of d's check: what may change with it, and nothing else (the tick runs the rest
 * every second): its flapping, the health if it is a health check, the rules that depend on
 * the condition (LuaSet.deps) and the predicate rules, and the maintenance that may wait for
 * it (on a change, or for a health check: its settle gate counts every health result). c: the
 * condition, NULL when the check said skip. */
static void evaluate_condition(Manager *m, const CheckDecl *d, Condition *c, bool changed) {
        if (m->evaluating)
                return;
        if (d->health)
                publish_health(m);
        m->evaluating = true;
        if (c && c->flapping != condition_refresh_flapping(c, now_realtime(), &d->flapping))
                m->dirty = true;
        rules_run_some(m, luaset_rules_of_condition(m->set, d->name));
        if (m->set)
                rules_run_some(m, &m->set->any_condition);
        if (changed || d->health)
                maintenance_tick(&m->act);
        if (m->rebooter)
                rebooter_tick(m->rebooter);
        manager_save(m);
        m->evaluating = false;
}

static void on_check_result(const CheckDecl *d, int state, const char *message, const char *details,
                            uint64_t duration, void *userdata) {
        Manager *m = userdata;
        Condition *c = condtable_find(&m->conds, d->name);
        uint64_t now = now_realtime();

        metrics_check_finished(m->metrics, d->name, duration, state);
        if (state == CHECK_SKIP) {
                if (c)
                        log_info("Check %s does not apply to this node: %s", d->name, message ? message : "");
                if (condtable_remove(&m->conds, d->name))
                        m->dirty = true;
                if (!strlist_contains(&m->skipped, d->name))
                        (void) strlist_add(&m->skipped, d->name);
                commands_answer_waiters(m, d->name, NULL, NULL);
                evaluate_condition(m, d, NULL, true);
                return;
        }
        (void) strlist_remove(&m->skipped, d->name);
        if (!c && !(c = condtable_get(&m->conds, d->name))) {
                log_oom();
                return;
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
                journal_add(&m->journal, e);
                (void) buf;
        } else if (message_changed)
                m->dirty = true;
        if (c->flapping != was_flapping) {
                log_event(LOG_WARNING, MEDIC_MSG_FLAPPING,
                          LOG_FIELDS({ "MEDIC_CONDITION", d->name }, { "MEDIC_STATE", c->flapping ? "flapping" : "steady" }),
                          "Condition %s %s", d->name, c->flapping ? "is flapping" : "stopped flapping");
                m->dirty = true;
        }
        commands_answer_waiters(m, d->name, c, NULL);
        evaluate_condition(m, d, c, r > 0);
}

int manager_inject_result(Manager *m, const char *check, int state, const char *message, const char *details) {
        const CheckDecl *d = luaset_find_check(m->set, check);

        if (!d)
                return -ENOENT;
        on_check_result(d, state, message, details, 0, m);
        return 0;
}

void manager_trigger(Manager *m, const char *event) {
        for (size_t i = 0; i < m->n_runners; i++)
                if (strlist_contains(&checkrunner_decl(m->runners[i])->events, event))
                        (void) checkrunner_run_now(m->runners[i]);
}

/* The node is healthy when every health condition is ok (unknown is not healthy). The summary
 * the coordinator publishes with it (medicctl fleet reads it): {"unhealthy": [CHECK...],
 * "parked": {rule, reason} while parked, "sick": {rule, reason} while it came back sick}. */
static void publish_health(Manager *m) {
        struct json_object *summary = json_object_new_object(), *bad = json_object_new_array();
        const char *sick_why = NULL, *sick = m->rebooter ? rebooter_sick(m->rebooter, &sick_why) : NULL;
        bool healthy = true;

        if (!sick)
                sick = maintenance_sick(&m->act, &sick_why);
        for (size_t i = 0; m->set && i < m->set->n_health; i++) {
                CheckDecl *d = m->set->health[i];
                Condition *c = condtable_find(&m->conds, d->name);
                if (c && c->state != COND_OK) {
                        healthy = false;
                        json_object_array_add(bad, json_object_new_string(d->name));
                }
        }
        json_object_object_add(summary, "unhealthy", bad);
        if (m->journal.parked) {
                struct json_object *p = json_object_new_object();
                json_object_object_add(p, "rule", m->journal.parked_rule ? json_object_new_string(m->journal.parked_rule) : NULL);
                json_object_object_add(p, "reason", json_object_new_string(m->journal.parked_reason ? m->journal.parked_reason : ""));
                json_object_object_add(summary, "parked", p);
        }
        if (sick) {
                struct json_object *p = json_object_new_object();
                json_object_object_add(p, "rule", json_object_new_string(sick));
                json_object_object_add(p, "reason", json_object_new_string(sick_why ? sick_why : ""));
                json_object_object_add(summary, "sick", p);
        }
        coordinator_publish_health(m->coord, healthy, json_object_to_json_string_ext(summary, JSON_C_TO_STRING_PLAIN));
        json_object_put(summary);
}

void manager_evaluate(Manager *m) {
        if (m->evaluating)
                return;
        publish_health(m);
        m->evaluating = true;
        uint64_t now = now_realtime();
        for (size_t i = 0; i < m->conds.n; i++) {
                CheckDecl *d = luaset_find_check(m->set, m->conds.v[i]->name);
                if (d && m->conds.v[i]->flapping != condition_refresh_flapping(m->conds.v[i], now, &d->flapping))
                        m->dirty = true;
        }
        rules_run(m);
        maintenance_tick(&m->act);
        if (m->rebooter)
                rebooter_tick(m->rebooter);
        manager_save(m);
        m->evaluating = false;
}

void manager_tick(Manager *m) {
        manager_evaluate(m);
        permission_reconcile(m->perm);
        notify_status(m);
        metrics_tick(m->metrics);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        manager_tick(m);
        pathwatch_arm(m->stop_watch); /* its directory may have appeared */
        return sd_event_source_set_time(s, usec + TICK_USEC);
}

static void on_stop_file(const char *path, void *userdata) {
        log_debug("Stop file %s changed: deciding again", path);
        manager_tick(userdata);
}

/* ---- loading ---------------------------------------------------------------------------- */

static void stop_runners(Manager *m) {
        for (size_t i = 0; i < m->n_runners; i++)
                checkrunner_free(m->runners[i]);
        free(m->runners);
        m->runners = NULL;
        m->n_runners = 0;
        /* Lua remedies belong to the set that is going away. */
        for (size_t i = 0; i < m->rstates.n; i++)
                rule_remedy_cancel(m->rstates.v[i]);
        commands_answer_waiters(m, NULL, NULL, "the configuration was reloaded while the check ran");
}

/* Conditions whose check is gone are forgotten. */
static void forget_gone_conditions(Manager *m) {
        for (size_t i = 0; i < m->conds.n;) {
                if (!luaset_find_check(m->set, m->conds.v[i]->name)) {
                        log_info("Forgetting condition %s: no check declares it any more", m->conds.v[i]->name);
                        (void) condtable_remove(&m->conds, m->conds.v[i]->name); /* moves the last one to i */
                        m->dirty = true;
                } else
                        i++;
        }
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
        forget_gone_conditions(m);
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
        h->group_view = host_group_view;
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
        /* Ours alone now: what a medicd killed in the middle of a write left is removed. */
        r = atomic_temps_remove(m->config->state_dir);
        if (r > 0)
                log_notice("Removed %d temporary file%s a previous medicd left in %s", r, r == 1 ? "" : "s",
                           m->config->state_dir);
        return 0;
}

static void source_trigger(void *userdata, const char *event) {
        manager_trigger(userdata, event);
}

/* The handlers the disruptive remedies are given (ActHost). */
static char *act_recheck(void *userdata, const char *rule) {
        return rule_recheck(userdata, rule);
}

static void act_save_state(void *userdata) {
        Manager *m = userdata;
        m->dirty = true;
        manager_save_now(m);
}

int manager_new(sd_event *e, const char *config_path, Config *config, bool force_dry_run,
                const CoordinatorOps *coord_ops, Manager **ret) {
        Manager *m = calloc(1, sizeof(*m));
        int r;

        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->config = config;
        m->config_path = strdup_or_null(config_path);
        m->force_dry_run = force_dry_run;
        m->lock_fd = -1;
        m->started = now_realtime();
        m->boot_id = boot_id_read(config->boot_id_file);
        r = journal_init(&m->journal, e, config, &m->dirty);
        m->act = (ActHost) {
                .event = e, .config = config, .conds = &m->conds, .rstates = &m->rstates,
                .journal = &m->journal, .recheck = act_recheck, .save = act_save_state, .userdata = m,
        };
        if (r >= 0)
                r = take_lock(m);
        if (r >= 0) {
                r = coord_ops ? coordinator_new_with(coord_ops, config, e, &m->coord)
                              : coordinator_new(config, e, &m->coord);
                if (r < 0)
                        log_error_errno(r, "Cannot set up the %s coordinator: %m", config->coordinator);
        }
        if (r >= 0)
                r = permission_new(m->coord, config->state_dir, &m->perm);
        m->act.perm = m->perm;
        if (r < 0) {
                m->config = NULL; /* the caller keeps it */
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

/* What the daemon and the test runner do alike at start: the state file, the Lua set (the
 * configuration's directories, or paths), the reboot's record, the permission. */
static int start_core(Manager *m, char *const *paths, size_t n_paths, StrList *errors) {
        int r;

        m->host = host_new(m, m->config);
        if (!m->host)
                return -ENOMEM;
        r = state_load(m);
        if (r < 0)
                return r;
        r = paths ? luaset_load_paths(m->config, m->host, paths, n_paths, &m->set, errors)
                  : luaset_load(m->config, m->host, &m->set, errors);
        if (r < 0)
                return r;
        m->act.set = m->set;
        r = rebooter_new(&m->act, &m->rebooter);
        if (r < 0)
                return r;
        /* A maintenance restored from the state file holds the slot it had. */
        for (size_t i = 0; i < m->rstates.n; i++)
                if (m->rstates.v[i]->maintenance)
                        permission_claim(m->perm, m->rstates.v[i]->name);
        /* Whatever a previous medicd asked for or held and nothing claims goes back. */
        permission_startup(m->perm);
        permission_reconcile(m->perm);
        return 0;
}

int manager_start_test(Manager *m, char *const *paths, size_t n_paths, StrList *errors) {
        int r = start_core(m, paths, n_paths, errors);

        if (r < 0)
                return r;
        m->test_mode = true;
        forget_gone_conditions(m);
        manager_save(m);
        return 0;
}

/* After loading a set (and freeing the one it replaces): what loading left behind in the Lua
 * states (the compiler's garbage) collected, and the free memory of the heap given back to
 * the system (glibc keeps it otherwise): 0.1 MiB of the idle daemon's anonymous memory with
 * the shipped checks, the whole old set's after a reload. */
static void memory_settle(Manager *m) {
        luaset_collect(m->set);
#if HAVE_MALLOC_TRIM
        (void) malloc_trim(0);
#endif
}

int manager_start(Manager *m, StrList *errors) {
        int r = start_core(m, NULL, 0, errors);

        if (r < 0)
                return r;
        r = start_runners(m);
        if (r < 0)
                return r;
        m->sources = (SourceHost) { .event = m->event, .config = m->config, .trigger = source_trigger, .userdata = m };
        r = sources_start(&m->sources, &m->source_state);
        if (r < 0)
                return r;
        r = control_new(m->event, m->config->socket_path, commands_dispatch, m, &m->control);
        if (r < 0)
                return r;
        /* Halfway between two points of the 10 ms grid the checks due every second run on
         * (detect/check.c): a tick (all rules decided, the metrics) never runs in their batch,
         * where it would delay them in some rounds and not in others. */
        uint64_t tick_due = (now_monotonic() + TICK_USEC) / (10 * USEC_PER_MSEC) * (10 * USEC_PER_MSEC) + 5 * USEC_PER_MSEC;
        r = sd_event_add_time(m->event, &m->tick, CLOCK_MONOTONIC, tick_due, USEC_PER_MSEC, on_tick, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(m->tick, SD_EVENT_ON);
        (void) sd_event_source_set_description(m->tick, "rule-tick");
        if (m->config->stop_file && m->config->stop_file[0] == '/')
                (void) pathwatch_new(m->event, m->config->stop_file, on_stop_file, m, &m->stop_watch);
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
        memory_settle(m);
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
        journal_configure(&m->journal, nc);
        free(m->host);
        m->host = nh;
        m->set = ns;
        m->act.config = nc;
        m->sources.config = nc;
        m->act.set = ns;
        log_set_max_level(nc->log_level);
        if (m->test_mode) {
                forget_gone_conditions(m);
                r = 0;
        } else
                r = start_runners(m);
        m->last_reload_ok = r >= 0;
        memory_settle(m);
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
        maintenance_cancel_all(&m->act);
        m->dirty = true;
        manager_save_now(m);
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        stop_runners(m);
        sources_stop(m->source_state);
        m->source_state = NULL;
        control_free(m->control);
        metrics_free(m->metrics);
        sd_event_source_disable_unref(m->tick);
        sd_event_source_disable_unref(m->save_timer);
        pathwatch_free(m->stop_watch);
        for (size_t i = 0; i < m->rstates.n; i++) {
                rule_remedy_cancel(m->rstates.v[i]);
                tasks_cancel(m->rstates.v[i]->maintenance_tasks);
        }
        ruletable_clear(&m->rstates);
        condtable_clear(&m->conds);
        strlist_clear(&m->skipped);
        luaset_free(m->set);
        rebooter_free(m->rebooter);
        /* The coordinator first: it may answer what is out as it goes (etcd: "shutting
         * down"), which then only frees what the request carries; the permission owner
         * frees the requests never answered. */
        permission_close(m->perm);
        coordinator_free(m->coord);
        permission_free(m->perm);
        free(m->boot_id);
        eventlog_free(&m->disruptions);
        journal_done(&m->journal);
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
