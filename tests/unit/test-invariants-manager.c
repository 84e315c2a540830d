/* SPDX-License-Identifier: MIT */
/* The invariants of tests/unit/test-invariants.c, on the daemon's own code: seeded random
 * histories of one node running the real manager (manager_start_test(): no check runs, no
 * socket, no tick timer), rule engine, state file, reboot remedy (record-only, ActHost.record),
 * permission owner and decide(), against the scripted coordinator in deferred mode
 * (coord-script.c), on a virtual clock (clock_set_source()), the way `medicd --test` runs
 * (daemon/ruletest.c). The node has one reboot rule with a trigger, a blocker, a health check,
 * holds, retry, limit, an optional window, max_disruptions and pre-reboot / abort tasks, loaded
 * from files the test writes. Steps: check results (ok/problem/unknown), coordinator answers
 * (granted, denied, unknown, lost; late ones come from requests the rule withdrew), task
 * outcomes, tasks that take time (and meanwhile the stop file appears, the disk fails, or
 * medicd is SIGKILLed), time passing, SIGKILL and restart (the manager freed without a save;
 * the new one starts on what was on disk), reboots (a new boot id), wall-clock steps both
 * ways, failing writes (RLIMIT_FSIZE 0: every write(2) to a file fails, as on a full disk),
 * reloads, the stop file, unpark. Checked at every recorded action and after every step:
 *
 *   I1  the pre-reboot tasks and the reboot only with the permission held (owner and
 *       coordinator agree), and the reboot only when a decision at that moment says FIRE and
 *       what this process observed says so too: trigger problem (for holds, on the boot
 *       clock), blocker ok, window open, no stop file, not parked;
 *   I2  at most one reboot per grant (a grant is one request's answer);
 *   I3  after a restart nothing begun runs again (a reboot in progress in the same boot may
 *       go on; the pre-reboot tasks do not), and no reboot on a trigger not observed as
 *       problem by this process;
 *   I4  once no request is out: the coordinator holds for the node only if the owner holds
 *       or asks (what medicctl shows), and the owner holds only if the coordinator says so;
 *   I5  max_disruptions never exceeded, also when writes fail.
 *
 * MEDIC_SEED (default: from the clock; printed) and MEDIC_STEPS (default below) choose the
 * histories; a failing one is printed with its seed, shrunk. MEDIC_LOG=1 shows the daemon's
 * log. bench/invariants.sh runs it with millions of steps. */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"
#include "manager.h"
#include "invariants-lib.h"

#define SEC USEC_PER_SEC
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define WALL0 (UINT64_C(1705320000) * SEC) /* 2024-01-15 12:00 UTC */
#define DEFAULT_STEPS 100000
#define MAX_FILES 16

enum { C_TRIGGER, C_BLOCKER, C_HEALTH, N_COND };
static const char *const cond_names[N_COND] = { "trigger", "blocker", "health" };
static const char *const rule_name = "reboot";

typedef enum EvKind {
        EV_CHECK,       /* a = condition, b = CondState */
        EV_ANSWER,      /* a = Answer: to the oldest request out */
        EV_TICK,        /* d = time passing (every clock), then a tick */
        EV_OUTCOME,     /* a = tasks succeed from now on */
        EV_SLOW,        /* the next pre-reboot task takes d; meanwhile a = SlowEffect */
        EV_KILL,        /* a: the requests out are granted after medicd died */
        EV_REBOOT,      /* a: as EV_KILL; the boot id changes */
        EV_CLOCK,       /* d = wall-clock step */
        EV_DISK,        /* a = writes fail */
        EV_RELOAD,      /* a = holds choice, b = retry choice; d != 0: the rule is removed */
        EV_STOP,        /* a = stop file present */
        EV_UNPARK,
} EvKind;

typedef enum Answer { ANS_GRANT, ANS_DENY, ANS_UNKNOWN, ANS_LOST, _ANS_MAX } Answer;
static const char *const answer_names[] = { "granted", "denied", "unknown", "granted but lost" };
typedef enum SlowEffect { SLOW_NONE, SLOW_STOP, SLOW_DISK, SLOW_KILL, SLOW_BLOCKER, SLOW_CLEARED, SLOW_POWER, _SLOW_MAX } SlowEffect;
static const char *const slow_names[] = { "", ", the stop file appears", ", the disk fails", ", medicd is SIGKILLed",
                                          ", the blocker turns problem", ", the trigger clears", ", the power fails" };

typedef struct Event {
        EvKind kind;
        int a, b;
        int64_t d;
} Event;

static const uint64_t holds_choices[] = { 0, 10 * MIN, 2 * MIN };
static const uint64_t retry_choices[] = { 0, 30 * MIN, 5 * MIN };

typedef struct Setup {
        RateSpec limit, max_disruptions;
        bool window;
        int holds, retry;
} Setup;

typedef struct History {
        Setup setup;
        Event *ev;
        size_t n;
} History;

/* What a SIGKILL leaves behind: the state directory's files and the coordinator's holder. */
typedef struct Snapshot {
        bool taken;
        size_t n;
        char *name[MAX_FILES], *data[MAX_FILES];
        size_t size[MAX_FILES];
        char *holder;
} Snapshot;

typedef struct World {
        const History *h;
        char *dir, *conf, *state_dir, *rule_path, *boot_path, *stop_path;
        uint64_t wall, bt, elapsed;
        unsigned boot, incarnation;
        int holds, retry;
        bool rule_gone;                 /* the rule file holds no rule (reloaded so) */
        bool disk_fail, tasks_ok;
        int64_t slow_d;
        SlowEffect slow;
        sd_event *event;
        Manager *m;
        char *holder;                   /* the coordinator's, carried across restarts */
        bool starting, dead;            /* manager_start_test() runs; SIGKILLed in a task */
        bool power_lost;                /* dead by a power failure: the next start is in a new boot */
        Snapshot snap;
        /* The oracle: what this test saw, independent of what the node recorded. */
        bool seen_any[N_COND];
        CondState seen[N_COND];         /* the last result in this process */
        bool trig_known;                /* the trigger's problem run began in this boot and process */
        uint64_t trig_since_bt;
        bool reboot_pending;            /* a reboot was recorded in this boot: the machine goes down */
        unsigned grants;                /* grants the rule got since the last reboot */
        bool settling;                  /* rebooted after a recorded reboot: the health gate holds the slot */
        uint64_t health_ok_bt;          /* since when this process sees health ok */
        uint64_t *dis;                  /* wall times of the reboots, in the window */
        size_t n_dis, cap_dis;
        uint64_t dis_mark;
        unsigned reboots, continued, pre_tasks, refused_asks;
        char failure[1024];
} World;

static World *cur; /* the clock source takes no argument */
static struct {
        uint64_t reboots, continued, restarts, boots, grants, lost, late, write_fail_steps, pre_tasks, settled;
        uint64_t verdicts[_VERDICT_MAX];
} cov;

static bool failed(const World *w) {
        return w->failure[0] != 0;
}

static _printf_(2, 3) void failf(World *w, const char *fmt, ...) {
        va_list ap;

        if (failed(w))
                return;
        va_start(ap, fmt);
        vsnprintf(w->failure, sizeof w->failure, fmt, ap);
        va_end(ap);
}

/* ---- the world: clocks, disk, files ---------------------------------------------------- */

static uint64_t world_clock(clockid_t id) {
        if (id == CLOCK_REALTIME)
                return cur->wall;
        if (id == CLOCK_BOOTTIME)
                return cur->bt;
        return now_clock_real(id) + cur->elapsed;
}

static void pass_time(World *w, uint64_t d) {
        w->wall += d;
        w->bt += d;
        w->elapsed += d;
}

static void enter(World *w) {
        fsize_limit(w->disk_fail);
}

static void leave(void) {
        fsize_limit(false);
}

static void put_file(World *w, const char *path, const char *text) {
        if (write_file_atomic(path, text, strlen(text), 0644) < 0)
                failf(w, "test setup: cannot write %s: %m", path);
}

static void write_rule(World *w) {
        const Setup *su = &w->h->setup;
        if (w->rule_gone) {
                put_file(w, w->rule_path, "-- the rule was removed\n");
                return;
        }
        _cleanup_free_ char *text = strprintf(
                "rule \"%s\" {\n  when = \"trigger\",\n  unless = { \"blocker\" },\n  holds = \"%" PRIu64 "s\",\n"
                "  retry = \"%" PRIu64 "s\",\n  limit = \"%u/%" PRIu64 "s\",\n%s  remedy = reboot {},\n}\n",
                rule_name, holds_choices[w->holds] / SEC, retry_choices[w->retry] / SEC, su->limit.count,
                su->limit.window_usec / SEC, su->window ? "  window = \"daily 00:00-20:00 UTC\",\n" : "");
        put_file(w, w->rule_path, text);
}

static void write_boot_id(World *w) {
        _cleanup_free_ char *id = strprintf("6b3f1e2a-0000-4000-8000-%012u\n", w->boot);
        put_file(w, w->boot_path, id);
}

static void world_files(World *w) {
        static const char *const dirs[] = { "checks", "rules", "state", "pre.d", "abort.d", "post.d" };
        static const char *const tasks[] = { "pre.d/10-drain", "pre.d/20-flush", "abort.d/10-undrain" };
        const Setup *su = &w->h->setup;
        _cleanup_free_ char *checks = strprintf("%s/checks/checks.lua", w->dir);
        _cleanup_free_ char *conf = strprintf(
                "[medic]\nnode = n1\ngroup = g\nchecks = %1$s/checks\nrules = %1$s/rules\nstate_dir = %1$s/state\n"
                "socket = %1$s/medicd.sock\nstop_file = %1$s/stop\ndry_run = no\nverify_owner = no\nlog_level = error\n"
                "[reboot]\nmethods = systemd sysrq\nsysrq_trigger = %1$s/sysrq-trigger\nsysrq_enable = %1$s/sysrq\n"
                "watchdog_device = %1$s/watchdog\nboot_id_file = %1$s/boot_id\npre_reboot_dir = %1$s/pre.d\n"
                "abort_dir = %1$s/abort.d\npost_reboot_dir = %1$s/post.d\nsettle = 2m\nsettle_timeout = 30m\n"
                "max_disruptions = %2$u/%3$" PRIu64 "s\n",
                w->dir, su->max_disruptions.count, su->max_disruptions.window_usec / SEC);

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *d = strprintf("%s/%s", w->dir, dirs[i]);
                (void) mkdir_p(d, 0700);
        }
        for (size_t i = 0; i < ELEMENTSOF(tasks); i++) {
                _cleanup_free_ char *p = strprintf("%s/%s", w->dir, tasks[i]);
                put_file(w, p, "#!/bin/sh\nexit 0\n");
                (void) chmod(p, 0755);
        }
        put_file(w, checks,
                 "check \"trigger\" { every = \"1h\", run = function() return ok(\"never run\") end }\n"
                 "check \"blocker\" { every = \"1h\", run = function() return ok(\"never run\") end }\n"
                 "check \"health\" { every = \"1h\", health = true, run = function() return ok(\"never run\") end }\n");
        put_file(w, w->conf, conf);
        write_rule(w);
        write_boot_id(w);
}

static int rm_tree(const char *path) {
        DIR *d = opendir(path);
        struct dirent *de;

        if (!d)
                return unlink(path);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                        _cleanup_free_ char *p = strprintf("%s/%s", path, de->d_name);
                        (void) rm_tree(p);
                }
        closedir(d);
        return rmdir(path);
}

static void snapshot_clear(Snapshot *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->name[i]);
                free(s->data[i]);
        }
        free(s->holder);
        *s = (Snapshot) {};
}

/* What is on disk and at the coordinator now: a SIGKILL now leaves this. */
static void snapshot_take(World *w) {
        Snapshot *s = &w->snap;
        DIR *d = opendir(w->state_dir);
        struct dirent *de;

        snapshot_clear(s);
        s->taken = true;
        s->holder = strdup_or_null(coord_script_holder(w->m->coord));
        while (d && (de = readdir(d)) && s->n < MAX_FILES) {
                _cleanup_free_ char *p = strprintf("%s/%s", w->state_dir, de->d_name);
                if (de->d_name[0] == '.' || read_file(p, 1 << 22, &s->data[s->n], &s->size[s->n]) < 0)
                        continue;
                s->name[s->n++] = strdup(de->d_name);
        }
        if (d)
                closedir(d);
}

static void snapshot_restore(World *w) {
        Snapshot *s = &w->snap;

        (void) rm_tree(w->state_dir);
        (void) mkdir_p(w->state_dir, 0700);
        for (size_t i = 0; i < s->n; i++) {
                _cleanup_free_ char *p = strprintf("%s/%s", w->state_dir, s->name[i]);
                if (write_file_atomic(p, s->data[i], s->size[i], 0600) < 0)
                        failf(w, "test: cannot restore %s", p);
        }
        free(w->holder);
        w->holder = TAKE_PTR(s->holder);
        snapshot_clear(s);
}

/* ---- the oracle at each recorded action ------------------------------------------------- */

static bool in_window(uint64_t wall) {
        return (wall / SEC) % 86400 < 20 * 3600;
}

static void check_permission(World *w, const char *what) {
        const char *holder = coord_script_holder(w->m->coord);

        if (permission_state(w->m->perm, rule_name) != PERM_HELD)
                failf(w, "I1: %s without the permission held (owner: %s)", what,
                      permission_rule(w->m->perm) ? permission_rule(w->m->perm) : "none");
        else if (!streq_ptr(holder, rule_name))
                failf(w, "I1: %s while the coordinator's holder is %s", what, holder ? holder : "nobody");
}

/* I5, counted as the node's event log counts (see test_random() in test-invariants.c): a
 * reboot that had left the window when a later one was recorded is forgotten. */
static void count_disruption(World *w) {
        const RateSpec *md = &w->h->setup.max_disruptions;
        size_t kept = 0, k = 0;

        for (size_t j = 0; j < w->n_dis; j++)
                if (w->dis_mark < md->window_usec || w->dis[j] > w->dis_mark - md->window_usec)
                        w->dis[kept++] = w->dis[j];
        w->n_dis = kept;
        if (w->n_dis == w->cap_dis) {
                w->cap_dis = w->cap_dis ? 2 * w->cap_dis : 16;
                w->dis = realloc(w->dis, w->cap_dis * sizeof(*w->dis));
                if (!w->dis)
                        abort();
        }
        w->dis[w->n_dis++] = w->wall;
        if (w->wall > w->dis_mark)
                w->dis_mark = w->wall;
        for (size_t j = 0; j < w->n_dis; j++)
                k += w->dis[j] + md->window_usec > w->wall;
        if (k > md->count)
                failf(w, "I5: %zu reboots within %" PRIu64 "s (max_disruptions %u)", k, md->window_usec / SEC, md->count);
}

static void check_reboot(World *w) {
        Manager *m = w->m;
        RuleDecl *d = luaset_find_rule(m->set, rule_name);
        RuleState *s = ruletable_get(&m->rstates, rule_name, false);
        _cleanup_free_ char *reason = NULL;

        check_permission(w, "reboot");
        if (!d || !s)
                failf(w, "I1: reboot of a rule the manager does not have");
        else {
                Verdict v = rule_decide(m, d, s, now_realtime(), true, NULL, &reason);
                if (v != VERDICT_FIRE)
                        failf(w, "I1: reboot while a decision now says %s: %s", verdict_to_string(v), reason ? reason : "");
        }
        if (!w->seen_any[C_TRIGGER] || w->seen[C_TRIGGER] != COND_PROBLEM)
                failf(w, "I3: reboot on a trigger this medicd last saw as %s",
                      w->seen_any[C_TRIGGER] ? cond_state_to_string(w->seen[C_TRIGGER]) : "nothing");
        if (w->trig_known && w->bt - w->trig_since_bt < holds_choices[w->holds])
                failf(w, "I1: reboot %" PRIu64 "s into a debounce of %" PRIu64 "s", (w->bt - w->trig_since_bt) / SEC,
                      holds_choices[w->holds] / SEC);
        if (!w->seen_any[C_BLOCKER] || w->seen[C_BLOCKER] != COND_OK)
                failf(w, "I1: reboot with the blocker last seen %s",
                      w->seen_any[C_BLOCKER] ? cond_state_to_string(w->seen[C_BLOCKER]) : "never");
        if (w->h->setup.window && !in_window(w->wall))
                failf(w, "I1: reboot outside the window");
        if (access(w->stop_path, F_OK) == 0)
                failf(w, "I1: reboot with the stop file present");
        if (m->journal.parked)
                failf(w, "I1: reboot of a parked node");
        if (w->grants == 0)
                failf(w, "I2: a second reboot under one grant");
        if (w->reboot_pending)
                failf(w, "I2: a second reboot in one boot");
        count_disruption(w);
        w->grants = 0;
        w->reboot_pending = true;
        w->reboots++;
}

static void see(World *w, int k, CondState st);

static bool on_record(void *data, const char *rule, const char *what) {
        World *w = data;
        bool pre = strstr(what, "/pre.d/") != NULL;

        if (w->dead)
                return true; /* after the SIGKILL: never happened */
        if (strcmp(what, "reboot") == 0) {
                if (!w->starting)
                        check_reboot(w);
                else if (!w->reboot_pending)
                        failf(w, "I3: a new medicd reboots for a reboot whose pre-reboot tasks did not finish");
                else
                        w->continued++; /* the same reboot, its ladder going on in the same boot */
                return true;
        }
        if (strncmp(what, "task ", 5) != 0) {
                failf(w, "unexpected action %s of %s", what, rule ? rule : "-");
                return false;
        }
        if (!pre)
                return w->tasks_ok;
        if (w->starting)
                failf(w, "I3: a new medicd runs the pre-reboot task %s again", what + 5);
        check_permission(w, what);
        w->pre_tasks++;
        if (w->slow_d || w->slow) {
                SlowEffect effect = w->slow;
                leave();
                pass_time(w, (uint64_t) w->slow_d);
                w->slow_d = 0;
                w->slow = SLOW_NONE;
                if (effect == SLOW_STOP)
                        put_file(w, w->stop_path, "test\n");
                else if (effect == SLOW_DISK)
                        w->disk_fail = true;
                else if (effect == SLOW_KILL || effect == SLOW_POWER) {
                        snapshot_take(w);
                        w->dead = true;
                        w->power_lost = effect == SLOW_POWER;
                }
                enter(w);
                if (effect == SLOW_BLOCKER || effect == SLOW_CLEARED) {
                        /* A result while the task runs: the daemon evaluates between its tasks. */
                        int k = effect == SLOW_BLOCKER ? C_BLOCKER : C_TRIGGER;
                        CondState st = effect == SLOW_BLOCKER ? COND_PROBLEM : COND_OK;
                        see(w, k, st);
                        (void) manager_inject_result(w->m, cond_names[k], st, "changed during a task", NULL);
                }
        }
        return w->tasks_ok;
}

/* ---- one medicd process --------------------------------------------------------------- */

static void drain(World *w) {
        for (int i = 0; i < 10000 && sd_event_run(w->event, 0) > 0; i++)
                ;
}

static void quiet_log(void) {
        if (!getenv("MEDIC_LOG"))
                log_set_max_level(0);
}

static void node_start(World *w) {
        _cleanup_(strlist_clear) StrList errors = {};
        Config *c = NULL;
        int r;

        w->incarnation++;
        memset(w->seen_any, 0, sizeof w->seen_any);
        w->trig_known = false;
        w->grants = 0;
        r = config_load(w->conf, &c, &errors);
        if (r >= 0)
                r = sd_event_new(&w->event);
        if (r >= 0)
                r = manager_new(w->event, w->conf, c, false, &coord_script_ops, &w->m);
        else
                config_free(c);
        if (r < 0) {
                failf(w, "cannot set up the manager: %s%s%s", strerror(-r), errors.n ? ": " : "",
                      errors.n ? errors.v[0] : "");
                return;
        }
        coord_script_defer(w->m->coord, true);
        (void) coord_script_set_holder(w->m->coord, w->holder);
        w->m->act.record = on_record;
        w->m->act.record_data = w;
        w->starting = true;
        enter(w);
        r = manager_start_test(w->m, NULL, 0, &errors);
        drain(w);
        leave();
        w->starting = false;
        quiet_log();
        if (r < 0)
                failf(w, "the manager does not start: %s%s%s", strerror(-r), errors.n ? ": " : "",
                      errors.n ? errors.v[0] : "");
}

/* SIGKILL: nothing more is saved; the requests out die with it (or are granted later: the
 * server processes them after the client is gone). */
static void node_kill(World *w, bool granted_late) {
        if (!w->m)
                return;
        while (coord_script_deliver(w->m->coord, granted_late ? COORD_GRANTED : COORD_UNKNOWN, NULL, COORD_SCRIPT_DROP))
                ;
        free(w->holder);
        w->holder = strdup_or_null(coord_script_holder(w->m->coord));
        w->m = manager_free(w->m);
        w->event = sd_event_unref(w->event);
        if (w->snap.taken)
                snapshot_restore(w);
        w->dead = false;
        cov.restarts++;
}

static void node_restart(World *w, bool granted_late) {
        node_kill(w, granted_late);
        node_start(w);
}

/* The machine goes down and comes back with a new boot id; the boot clock starts again. A
 * reboot that was recorded, or a power failure once the reboot's tasks began, is the one the
 * health gate settles. */
static void node_reboot(World *w, bool granted_late) {
        bool rebooting = w->reboot_pending || w->power_lost;

        node_kill(w, granted_late);
        w->settling |= rebooting;
        w->power_lost = false;
        w->boot++;
        write_boot_id(w);
        w->wall += MIN;
        w->bt = 20 * SEC;
        w->reboot_pending = false;
        cov.boots++;
        node_start(w);
}

/* ---- a step --------------------------------------------------------------------------- */

static void deliver(World *w, Answer a) {
        static const CoordAnswer to[] = { COORD_GRANTED, COORD_DENIED, COORD_UNKNOWN, COORD_GRANTED };
        bool held = permission_state(w->m->perm, rule_name) == PERM_HELD;
        bool asking = permission_state(w->m->perm, rule_name) == PERM_ASKING;

        if (!coord_script_deliver(w->m->coord, to[a], NULL, a == ANS_LOST ? COORD_SCRIPT_LOST : COORD_SCRIPT_DELIVER))
                return;
        cov.lost += a == ANS_LOST;
        cov.late += a == ANS_GRANT && !asking;
        if (!held && permission_state(w->m->perm, rule_name) == PERM_HELD) {
                w->grants++;
                cov.grants++;
        }
}

static void unpark(World *w) {
        struct json_object *req = json_object_new_object();

        json_object_object_add(req, "command", json_object_new_string("unpark"));
        json_object_put(commands_dispatch(NULL, req, 0, w->m));
        json_object_put(req);
        w->n_dis = 0; /* the operator gives the node a new budget */
}

static void see(World *w, int k, CondState st) {
        if (k == C_TRIGGER && st == COND_PROBLEM) {
                Condition *c = condtable_find(&w->m->conds, cond_names[k]);
                bool was = w->seen_any[k] ? w->seen[k] == COND_PROBLEM : c && c->state == COND_PROBLEM;
                if (!was) {
                        w->trig_known = true; /* a problem run that begins now */
                        w->trig_since_bt = w->bt;
                } else if (!w->seen_any[k])
                        w->trig_known = false; /* it goes on from before this process: its start is not known here */
        }
        if (k == C_HEALTH && st == COND_OK && (!w->seen_any[k] || w->seen[k] != COND_OK))
                w->health_ok_bt = w->bt;
        w->seen_any[k] = true;
        w->seen[k] = st;
}

static void apply(World *w, const Event *e) {
        switch (e->kind) {
        case EV_CHECK:
                see(w, e->a, (CondState) e->b);
                enter(w);
                (void) manager_inject_result(w->m, cond_names[e->a], e->b, e->b == COND_OK ? "fine" : "bad", NULL);
                drain(w);
                leave();
                break;
        case EV_ANSWER:
                enter(w);
                deliver(w, (Answer) e->a);
                drain(w);
                leave();
                break;
        case EV_TICK:
                pass_time(w, (uint64_t) e->d);
                enter(w);
                manager_tick(w->m);
                drain(w);
                leave();
                break;
        case EV_OUTCOME:
                w->tasks_ok = e->a;
                break;
        case EV_SLOW:
                w->slow_d = e->d;
                w->slow = (SlowEffect) e->a;
                break;
        case EV_KILL:
                node_restart(w, e->a);
                break;
        case EV_REBOOT:
                node_reboot(w, e->a);
                break;
        case EV_CLOCK:
                w->wall = e->d < 0 && (uint64_t) -e->d > w->wall ? 0 : w->wall + (uint64_t) e->d;
                break;
        case EV_DISK:
                w->disk_fail = e->a;
                break;
        case EV_RELOAD: {
                _cleanup_(strlist_clear) StrList errors = {};
                w->holds = e->a;
                w->retry = e->b;
                w->rule_gone = e->d != 0;
                write_rule(w);
                enter(w);
                if (manager_reload(w->m, &errors) < 0)
                        failf(w, "reload failed: %s", errors.n ? errors.v[0] : "?");
                drain(w);
                leave();
                quiet_log();
                break;
        }
        case EV_STOP:
                if (e->a)
                        put_file(w, w->stop_path, "test\n");
                else
                        (void) unlink(w->stop_path);
                break;
        case EV_UNPARK:
                enter(w);
                unpark(w);
                drain(w);
                leave();
                break;
        }
        /* A SIGKILL or a power failure in the middle of the tasks: gone after the step. */
        if (w->snap.taken && w->power_lost)
                node_reboot(w, false);
        else if (w->snap.taken)
                node_restart(w, false);
}

/* I4, once no request is out, after a tick or a start. */
static void check_settled(World *w, const Event *e) {
        Permission *p = w->m->perm;
        const char *holder = coord_script_holder(w->m->coord);

        if (coord_script_pending(w->m->coord) > 0 || !(e->kind == EV_TICK || e->kind == EV_KILL || e->kind == EV_REBOOT))
                return;
        if (permission_in_flight(p))
                failf(w, "I4: the owner says a request is in flight, the coordinator has none");
        else if (permission_held(p) && !holder)
                failf(w, "I4: the owner says %s holds, the coordinator says nobody", permission_rule(p));
        else if (holder && !permission_rule(p))
                failf(w, "I4: leak: the coordinator says the node holds (for %s), the owner neither holds nor asks",
                      holder);
}

/* After the reboot the slot goes back only once this process has seen the node healthy for
 * `settle` (2m) on this boot's clock (issue 10, failure 1: a restored state never counts). */
static void check_health_gate(World *w, bool was_held) {
        if (!w->settling || !was_held || permission_held(w->m->perm))
                return;
        w->settling = false;
        cov.settled++;
        if (!w->seen_any[C_HEALTH] || w->seen[C_HEALTH] != COND_OK)
                failf(w, "I4: the slot was given back after the reboot with health last seen %s by this medicd",
                      w->seen_any[C_HEALTH] ? cond_state_to_string(w->seen[C_HEALTH]) : "never");
        else if (w->bt - w->health_ok_bt < 2 * MIN)
                failf(w, "I4: the slot was given back %" PRIu64 "s into a settle of 120s", (w->bt - w->health_ok_bt) / SEC);
}

static const char *ev_format(const Event *e, char *buf, size_t n) {
        switch (e->kind) {
        case EV_CHECK:
                snprintf(buf, n, "check %s %s", cond_names[e->a], cond_state_to_string((CondState) e->b));
                break;
        case EV_ANSWER:
                snprintf(buf, n, "coordinator answers %s", answer_names[e->a]);
                break;
        case EV_TICK:
                snprintf(buf, n, "tick +%" PRId64 "s", e->d / (int64_t) SEC);
                break;
        case EV_OUTCOME:
                snprintf(buf, n, "tasks %s from now on", e->a ? "succeed" : "fail");
                break;
        case EV_SLOW:
                snprintf(buf, n, "the next pre-reboot task takes %" PRId64 "s%s", e->d / (int64_t) SEC, slow_names[e->a]);
                break;
        case EV_KILL:
                snprintf(buf, n, "SIGKILL + restart%s", e->a ? " (requests out granted after)" : "");
                break;
        case EV_REBOOT:
                snprintf(buf, n, "reboot (new boot id)%s", e->a ? " (requests out granted after)" : "");
                break;
        case EV_CLOCK:
                snprintf(buf, n, "wall clock %+" PRId64 "s", e->d / (int64_t) SEC);
                break;
        case EV_DISK:
                snprintf(buf, n, "writes %s", e->a ? "fail" : "work");
                break;
        case EV_RELOAD:
                if (e->d)
                        snprintf(buf, n, "reload: the rule is removed");
                else
                        snprintf(buf, n, "reload: holds %" PRIu64 "s retry %" PRIu64 "s", holds_choices[e->a] / SEC,
                                 retry_choices[e->b] / SEC);
                break;
        case EV_STOP:
                snprintf(buf, n, "stop file %s", e->a ? "created" : "removed");
                break;
        case EV_UNPARK:
                snprintf(buf, n, "medicctl unpark");
                break;
        }
        return buf;
}

static void world_init(World *w, const History *h, const char *dir) {
        *w = (World) { .h = h, .wall = WALL0, .bt = 100 * SEC, .boot = 1, .holds = h->setup.holds,
                       .retry = h->setup.retry, .tasks_ok = true };
        cur = w;
        w->dir = strdup(dir);
        w->conf = strprintf("%s/medic.conf", dir);
        w->state_dir = strprintf("%s/state", dir);
        w->rule_path = strprintf("%s/rules/reboot.lua", dir);
        w->boot_path = strprintf("%s/boot_id", dir);
        w->stop_path = strprintf("%s/stop", dir);
        (void) rm_tree(dir);
        (void) mkdir_p(dir, 0700);
        world_files(w);
        node_start(w);
}

static void world_done(World *w) {
        leave();
        w->m = manager_free(w->m);
        w->event = sd_event_unref(w->event);
        snapshot_clear(&w->snap);
        free(w->holder);
        free(w->dis);
        free(w->dir);
        free(w->conf);
        free(w->state_dir);
        free(w->rule_path);
        free(w->boot_path);
        free(w->stop_path);
}

/* Runs a history: the index of the failing step (w->failure says why), or -1. */
static ssize_t run_history(World *w, const History *h, const char *dir) {
        char buf[128];

        world_init(w, h, dir);
        if (failed(w))
                return 0;
        for (size_t k = 0; k < h->n; k++) {
                bool held = permission_held(w->m->perm);
                if (getenv("MEDIC_TRACE"))
                        printf("# %4zu %s\n", k, ev_format(&h->ev[k], buf, sizeof buf));
                cov.write_fail_steps += w->disk_fail;
                apply(w, &h->ev[k]);
                if (!failed(w))
                        check_settled(w, &h->ev[k]);
                if (!failed(w))
                        check_health_gate(w, held);
                if (failed(w))
                        return (ssize_t) k;
        }
        return -1;
}

/* ---- random histories ------------------------------------------------------------------ */

static Event random_event(uint64_t *s, CondState *last) {
        static const struct { EvKind kind; unsigned weight; } weights[] = {
                { EV_CHECK, 260 }, { EV_TICK, 280 }, { EV_ANSWER, 200 }, { EV_OUTCOME, 20 }, { EV_SLOW, 25 },
                { EV_KILL, 8 }, { EV_REBOOT, 6 }, { EV_CLOCK, 12 }, { EV_DISK, 12 }, { EV_RELOAD, 8 },
                { EV_STOP, 10 }, { EV_UNPARK, 10 },
        };
        static const int64_t ticks[] = { SEC, 5 * SEC, 30 * SEC, 60 * SEC, 3 * MIN, 6 * MIN, 20 * MIN, 2 * HOUR };
        static const int64_t steps[] = { -HOUR, HOUR, -3 * HOUR, 25 * HOUR, -25 * HOUR, -30 * SEC, 5 * MIN };
        unsigned total = 0, x;
        Event e = {};

        for (size_t i = 0; i < ELEMENTSOF(weights); i++)
                total += weights[i].weight;
        x = rng_below(s, total);
        for (size_t i = 0; i < ELEMENTSOF(weights); x -= weights[i++].weight)
                if (x < weights[i].weight) {
                        e.kind = weights[i].kind;
                        break;
                }
        switch (e.kind) {
        case EV_CHECK: {
                unsigned c = rng_below(s, 10), st = rng_below(s, 10);
                e.a = c < 5 ? C_TRIGGER : c < 8 ? C_BLOCKER : C_HEALTH;
                if (rng_below(s, 100) < 70)
                        e.b = last[e.a];
                else if (e.a == C_TRIGGER)
                        e.b = st < 7 ? COND_PROBLEM : st < 9 ? COND_OK : COND_UNKNOWN;
                else
                        e.b = st < 7 ? COND_OK : st < 9 ? COND_PROBLEM : COND_UNKNOWN;
                last[e.a] = (CondState) e.b;
                break;
        }
        case EV_ANSWER: {
                unsigned a = rng_below(s, 20);
                e.a = a < 10 ? ANS_GRANT : a < 14 ? ANS_DENY : a < 17 ? ANS_UNKNOWN : ANS_LOST;
                break;
        }
        case EV_TICK:
                e.d = ticks[rng_below(s, ELEMENTSOF(ticks))];
                break;
        case EV_OUTCOME:
                e.a = rng_below(s, 4) != 0;
                break;
        case EV_SLOW:
                e.d = ticks[rng_below(s, ELEMENTSOF(ticks))];
                e.a = (int) rng_below(s, _SLOW_MAX);
                break;
        case EV_KILL:
        case EV_REBOOT:
                e.a = rng_below(s, 3) == 0;
                break;
        case EV_CLOCK:
                e.d = steps[rng_below(s, ELEMENTSOF(steps))];
                break;
        case EV_DISK:
                e.a = rng_below(s, 3) == 0;
                break;
        case EV_RELOAD:
                e.a = (int) rng_below(s, ELEMENTSOF(holds_choices));
                e.b = (int) rng_below(s, ELEMENTSOF(retry_choices));
                e.d = rng_below(s, 4) == 0;
                break;
        case EV_STOP:
                e.a = rng_below(s, 4) == 0;
                break;
        default:
                break;
        }
        return e;
}

static void random_history(uint64_t seed, History *h) {
        static const RateSpec limits[] = { { 1, HOUR }, { 3, HOUR }, { 2, 6 * HOUR } };
        static const RateSpec maxd[] = { { 1, 24 * HOUR }, { 2, 6 * HOUR }, { 3, HOUR } };
        CondState last[N_COND] = { COND_PROBLEM, COND_OK, COND_OK };
        uint64_t s = seed;

        h->setup = (Setup) {
                .limit = limits[rng_below(&s, ELEMENTSOF(limits))],
                .max_disruptions = maxd[rng_below(&s, ELEMENTSOF(maxd))],
                .window = rng_below(&s, 4) == 0,
                .holds = (int) rng_below(&s, ELEMENTSOF(holds_choices)),
                .retry = (int) rng_below(&s, ELEMENTSOF(retry_choices)),
        };
        h->n = 20 + rng_below(&s, 280);
        h->ev = calloc(h->n, sizeof(Event));
        if (!h->ev)
                abort();
        for (size_t i = 0; i < h->n; i++)
                h->ev[i] = random_event(&s, last);
}

static void history_print(const History *h, FILE *f) {
        char buf[128];

        fprintf(f, "# setup: limit %u/%" PRIu64 "s, max_disruptions %u/%" PRIu64 "s, window %s, holds %" PRIu64
                "s, retry %" PRIu64 "s\n", h->setup.limit.count, h->setup.limit.window_usec / SEC,
                h->setup.max_disruptions.count, h->setup.max_disruptions.window_usec / SEC, h->setup.window ? "yes" : "no",
                holds_choices[h->setup.holds] / SEC, retry_choices[h->setup.retry] / SEC);
        for (size_t i = 0; i < h->n; i++)
                fprintf(f, "#   %3zu  %s\n", i, ev_format(&h->ev[i], buf, sizeof buf));
}

/* Drops one event at a time, from the end, while the history still fails the same way. */
static void shrink(History *h, const char *dir, const char *failure) {
        Event *tmp = calloc(h->n + 1, sizeof(Event));
        bool progress = true;
        char why[sizeof ((World *) 0)->failure];

        if (!tmp)
                return;
        snprintf(why, sizeof why, "%.4s", failure); /* the same invariant */
        while (progress) {
                progress = false;
                for (size_t at = h->n; at-- > 0;) {
                        History t = { .setup = h->setup, .ev = tmp };
                        World w;
                        for (size_t i = 0; i < h->n; i++)
                                if (i != at)
                                        tmp[t.n++] = h->ev[i];
                        ssize_t bad = run_history(&w, &t, dir);
                        if (bad >= 0 && strncmp(w.failure, why, strlen(why)) == 0) {
                                h->n = (size_t) bad + 1;
                                memcpy(h->ev, tmp, h->n * sizeof(Event));
                                progress = true;
                                at = at > h->n ? h->n : at;
                        }
                        world_done(&w);
                }
        }
        free(tmp);
}

/* Reports a failing history; returns 1. */
static int report(const History *h0, ssize_t bad, const char *failure, uint64_t seed, uint64_t index, const char *dir) {
        History h = { .setup = h0->setup, .n = (size_t) bad + 1 };
        char buf[128];
        World w;

        h.ev = calloc(h.n, sizeof(Event));
        if (!h.ev)
                abort();
        memcpy(h.ev, h0->ev, h.n * sizeof(Event));
        printf("# FAILED: MEDIC_SEED=%" PRIu64 ", history %" PRIu64 ", step %zd (%s): %s\n", seed, index, bad,
               ev_format(&h.ev[bad], buf, sizeof buf), failure);
        shrink(&h, dir, failure);
        bad = run_history(&w, &h, dir);
        printf("# shortest failing history found (%zu events): %s\n", h.n, bad >= 0 ? w.failure : "(passes now?)");
        world_done(&w);
        history_print(&h, stdout);
        free(h.ev);
        return 1;
}

/* ---- fixed histories ------------------------------------------------------------------ */

#define E(k_, ...) { .kind = (k_), __VA_ARGS__ }
#define CHECK(c_, st_) E(EV_CHECK, .a = (c_), .b = (st_))
#define TICK(d_) E(EV_TICK, .d = (int64_t) (d_))
#define ANSWER(a_) E(EV_ANSWER, .a = (a_))

typedef struct Fixed {
        const char *name;
        Setup setup;
        Event ev[32];
        size_t n;
        unsigned reboots;       /* expected at the end */
} Fixed;

#define SETUP_DEFAULT { .limit = { 3, HOUR }, .max_disruptions = { 2, 24 * HOUR }, .holds = 2, .retry = 2 }
#define FIXED_WITH(setup_, name_, reboots_, ...) { .name = (name_), .setup = setup_, .ev = { __VA_ARGS__ }, \
        .n = sizeof((Event[]) { __VA_ARGS__ }) / sizeof(Event), .reboots = (reboots_) }
#define FIXED(name_, reboots_, ...) FIXED_WITH(SETUP_DEFAULT, name_, reboots_, __VA_ARGS__)
#define SETUP_ONE_PER_HOUR { .limit = { 3, HOUR }, .max_disruptions = { 1, HOUR }, .holds = 0, .retry = 0 }

static const Fixed fixed[] = {
        FIXED("a granted reboot after the debounce", 1,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_HEALTH, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), TICK(3 * MIN),
              ANSWER(ANS_GRANT), TICK(SEC)),
        FIXED("a restored trigger does not fire after a restart", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), TICK(3 * MIN), E(EV_KILL, .a = 1),
              CHECK(C_BLOCKER, COND_OK), TICK(3 * MIN), ANSWER(ANS_GRANT), TICK(SEC)),
        FIXED("a blocker during the wait for the grant", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), TICK(3 * MIN), CHECK(C_BLOCKER, COND_PROBLEM),
              ANSWER(ANS_GRANT), TICK(SEC)),
        FIXED("the stop file appears during the pre-reboot tasks", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), E(EV_SLOW, .d = 5 * MIN, .a = SLOW_STOP),
              TICK(3 * MIN), ANSWER(ANS_GRANT), TICK(SEC)),
        FIXED("the blocker turns problem during the pre-reboot tasks", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), E(EV_SLOW, .d = 5 * MIN, .a = SLOW_BLOCKER),
              TICK(3 * MIN), ANSWER(ANS_GRANT), TICK(SEC)),
        FIXED("the trigger clears during the pre-reboot tasks", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), E(EV_SLOW, .d = 5 * MIN, .a = SLOW_CLEARED),
              TICK(3 * MIN), ANSWER(ANS_GRANT), TICK(SEC)),
        FIXED("writes fail during the pre-reboot tasks", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), E(EV_SLOW, .d = 5 * MIN, .a = SLOW_DISK),
              TICK(3 * MIN), ANSWER(ANS_GRANT), TICK(SEC)),
        FIXED("SIGKILL during the pre-reboot tasks: not run again", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), E(EV_SLOW, .d = 5 * MIN, .a = SLOW_KILL),
              TICK(3 * MIN), ANSWER(ANS_GRANT), TICK(SEC), TICK(SEC)),
        FIXED("SIGKILL while rebooting, then the reboot", 1,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_HEALTH, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), TICK(3 * MIN),
              ANSWER(ANS_GRANT), TICK(SEC), E(EV_KILL), TICK(SEC), E(EV_REBOOT), CHECK(C_HEALTH, COND_OK),
              TICK(3 * MIN), TICK(SEC)),
        FIXED("the power fails during the pre-reboot tasks", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), E(EV_SLOW, .d = 5 * MIN, .a = SLOW_POWER),
              TICK(3 * MIN), ANSWER(ANS_GRANT), TICK(SEC), CHECK(C_HEALTH, COND_OK), TICK(3 * MIN), TICK(SEC)),
        /* The firing was recorded at the grant; the tasks took 2 h and the reboot's time cannot
         * be moved to now: going on would leave max_disruptions counting a firing 2 h old. */
        FIXED_WITH(SETUP_ONE_PER_HOUR, "writes fail during 2h of pre-reboot tasks: refused", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), E(EV_SLOW, .d = 2 * HOUR, .a = SLOW_DISK),
              TICK(SEC), ANSWER(ANS_GRANT), TICK(SEC)),
        FIXED("a lost grant is given back", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), TICK(3 * MIN), ANSWER(ANS_LOST),
              CHECK(C_TRIGGER, COND_OK), TICK(SEC)),
        FIXED("writes fail when the reboot is to be recorded", 0,
              CHECK(C_BLOCKER, COND_OK), CHECK(C_TRIGGER, COND_PROBLEM), TICK(3 * MIN), E(EV_DISK, .a = 1),
              ANSWER(ANS_GRANT), TICK(SEC)),
};

static int run_fixed(const char *dir) {
        int bad = 0;

        for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
                const Fixed *f = &fixed[i];
                History h = { .setup = f->setup, .ev = (Event *) f->ev, .n = f->n };
                World w;
                ssize_t k = run_history(&w, &h, dir);
                if (k < 0 && w.reboots != f->reboots)
                        failf(&w, "%u reboot(s), expected %u", w.reboots, f->reboots), k = (ssize_t) h.n - 1;
                if (k >= 0) {
                        printf("not ok %zu - %s: step %zd: %s\n", i + 1, f->name, k, w.failure);
                        history_print(&h, stdout);
                        bad++;
                } else
                        printf("ok %zu - %s\n", i + 1, f->name);
                world_done(&w);
        }
        return bad;
}

int main(void) {
        uint64_t seed = env_u64("MEDIC_SEED", (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 20));
        uint64_t want = env_u64("MEDIC_STEPS", DEFAULT_STEPS), steps = 0, histories = 0;
        const char *tmp = invariants_tmp();
        _cleanup_free_ char *dir = strprintf("%s/medic-invariants-manager.XXXXXX", tmp);
        uint64_t master = seed;
        int bad, bad_random = 0;
        double t0;

        if (!dir || !mkdtemp(dir)) {
                printf("1..0 # SKIP cannot create a directory under %s\n", tmp);
                return 77;
        }
        signal(SIGXFSZ, SIG_IGN);
        (void) unsetenv("NOTIFY_SOCKET");
        (void) setenv("TZ", "UTC", 1);
        log_setup(LOG_TARGET_STDERR, LOG_ERR);
        quiet_log();
        /* A reload sets the configuration's level (error) before quiet_log() is back. */
        if (!getenv("MEDIC_LOG"))
                (void) freopen("/dev/null", "w", stderr);
        clock_set_source(world_clock);
        setvbuf(stdout, NULL, _IOLBF, 0);

        printf("1..%zu\n# MEDIC_SEED=%" PRIu64 " MEDIC_STEPS=%" PRIu64 "\n", ELEMENTSOF(fixed) + 1, seed, want);
        bad = run_fixed(dir);
        t0 = now_sec();
        while (!bad_random && steps < want) {
                /* Not seed + i * the generator's step: history i + 1 would be history i shifted by one. */
                uint64_t hseed = rng_next(&master);
                History h;
                World w;

                random_history(hseed, &h);
                ssize_t k = run_history(&w, &h, dir);
                steps += k < 0 ? h.n : (size_t) k + 1;
                cov.reboots += w.reboots;
                cov.continued += w.continued;
                cov.pre_tasks += w.pre_tasks;
                if (k >= 0) {
                        _cleanup_free_ char *failure = strdup(w.failure);
                        world_done(&w);
                        bad_random = report(&h, k, failure ? failure : "?", seed, histories, dir);
                } else
                        world_done(&w);
                free(h.ev);
                histories++;
        }
        double dt = now_sec() - t0;
        printf("# steps %" PRIu64 ", histories %" PRIu64 ", %.2f s, %.0f steps/s\n", steps, histories, dt,
               dt > 0 ? (double) steps / dt : 0.0);
        printf("# reboots %" PRIu64 " (%" PRIu64 " continued after a restart), pre-reboot tasks %" PRIu64 ", grants %"
               PRIu64 ", late answers %" PRIu64 ", lost %" PRIu64 ", restarts %" PRIu64 ", boots %" PRIu64
               ", steps with failing writes %" PRIu64 ", settled after a reboot %" PRIu64 "\n", cov.reboots, cov.continued,
               cov.pre_tasks, cov.grants, cov.late, cov.lost, cov.restarts, cov.boots, cov.write_fail_steps, cov.settled);
        printf("%s %zu - random histories (MEDIC_SEED=%" PRIu64 ")\n", bad_random ? "not ok" : "ok", ELEMENTSOF(fixed) + 1,
               seed);
        (void) rm_tree(dir);
        clock_set_source(NULL);
        return bad || bad_random ? 1 : 0;
}
