/* SPDX-License-Identifier: MIT */
/* Seeded random histories of one node: the decision core (decide()) and the permission owner
 * (permission.c) against a scripted coordinator, with checks results, coordinator answers
 * (granted, denied, unknown, lost, late), ticks, task results, SIGKILL and restart, reboots,
 * wall-clock steps, failing state writes, reloads, the stop file. After every step:
 *
 *   I1  no disruption without the permission held at that moment and a decide() with
 *       acting=true returning FIRE just before it;
 *   I2  at most one disruption per grant and per request;
 *   I3  after a restart nothing begun runs again, and nothing is disrupted on a trigger not
 *       observed (as problem) by a check in this process;
 *   I4  every grant ends released or held: once nothing is in flight, the backend's holder
 *       agrees with the owner (no silent leak);
 *   I5  the node's max_disruptions is never exceeded, also when state writes fail.
 *
 * MEDIC_SEED (default: from the clock, printed) and MEDIC_STEPS (default 100000) choose the
 * histories; a failing history is shrunk and printed with its seed. The node model follows
 * daemon/rule.c (rules_run, on_permission, record_firing, rule_recheck). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "condition.h"
#include "coordinator.h"
#include "decide.h"
#include "log.h"
#include "permission.h"
#include "ratelimit.h"
#include "util.h"
#include "window.h"
#include "invariants-lib.h"

#define SEC USEC_PER_SEC
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define WALL0 (UINT64_C(1705320000) * SEC) /* 2024-01-15 12:00 UTC */

/* What the histories exercised (summed over all of them, printed at the end). */
static struct {
        uint64_t verdicts[_VERDICT_MAX];
        uint64_t late_grants, lost, orphan_grants, kills_holding, write_failures, stale_answers;
} cov;

/* ---- what permission.c links against: logging and the coordinator front end ---------- */

static unsigned n_logged;

int log_internal(int level, int error, const char *message_id, const LogField *fields, const char *func,
                 const char *file, int line, const char *fmt, ...) {
        (void) level, (void) message_id, (void) fields, (void) func, (void) file, (void) line, (void) fmt;
        n_logged++;
        return -abs(error);
}

const char *coord_answer_to_string(CoordAnswer a) {
        return a == COORD_GRANTED ? "granted" : a == COORD_DENIED ? "denied" : "unknown";
}

bool coordinator_stopped_locally(const Coordinator *c) {
        return c->stop_file && access(c->stop_file, F_OK) == 0;
}

/* As coordinator.c: a present stop file denies at once, before the backend is asked. */
int coordinator_request(Coordinator *c, const char *holder, coord_answer_t cb, void *userdata) {
        if (coordinator_stopped_locally(c)) {
                cb(COORD_DENIED, "stop file present", userdata);
                return 0;
        }
        return c->ops->request(c, holder, cb, userdata);
}

int coordinator_release(Coordinator *c, const char *holder) {
        return c->ops->release(c, holder);
}

void coordinator_withdraw(Coordinator *c, const char *holder) {
        if (c->ops->withdraw)
                c->ops->withdraw(c, holder);
}

/* As coordinator.c: a backend without .held cannot tell. */
CoordHeld coordinator_held(Coordinator *c, const char *holder, char **ret_why) {
        *ret_why = NULL;
        return c->ops->held ? c->ops->held(c, holder, ret_why) : COORD_HELD_UNKNOWN;
}

struct json_object *coordinator_status(Coordinator *c) {
        struct json_object *o = c->ops->status(c);
        json_object_object_add(o, "backend", json_object_new_string(c->ops->name));
        return o;
}

/* ---- a history ------------------------------------------------------------------------ */

enum { C_TRIG_A, C_TRIG_B, C_BLOCKER, C_HEALTH, N_COND };
static const char *const cond_names[N_COND] = { "trigger-a", "trigger-b", "blocker", "health" };
static const char *const rule_names[2] = { "reboot-a", "reboot-b" };
#define MAX_PENDING 16

typedef enum EvKind {
        EV_CHECK,       /* a = condition, b = state */
        EV_ANSWER,      /* a = Answer, b = which reason (two, to repeat one) */
        EV_TICK,        /* d = time passing before it (both clocks) */
        EV_TASK,        /* a = rule, b = success */
        EV_KILL,        /* SIGKILL and restart */
        EV_REBOOT,      /* the boot id changes, the boot clock restarts */
        EV_CLOCK,       /* d = wall-clock step */
        EV_DISK,        /* a = DiskMode */
        EV_RELOAD,      /* a = holds choice, b = retry choice; d != 0: toggle rule b */
        EV_STOP,        /* a = stop file present */
        EV_UNPARK,
        _EV_MAX,
} EvKind;

typedef enum Answer { ANS_GRANT, ANS_DENY, ANS_UNKNOWN, ANS_LOST, ANS_LATE, _ANS_MAX } Answer;
static const char *const answer_names[] = { "grant", "deny", "unknown", "lost", "late-grant" };

typedef enum DiskMode { DISK_OK, DISK_FAIL_ALL, DISK_FAIL_STATE, DISK_FAIL_PERMISSION, _DISK_MAX } DiskMode;
static const char *const disk_names[] = { "ok", "all writes fail", "state writes fail", "permission writes fail" };

typedef struct Event {
        EvKind kind;
        int a, b;
        int64_t d;
} Event;

static const uint64_t holds_choices[] = { 0, 10 * MIN, 2 * MIN };
static const uint64_t retry_choices[] = { 0, 30 * MIN, 5 * MIN };

typedef struct Setup {
        unsigned n_rules;               /* 1 or 2 */
        RateSpec limit, max_disruptions;
        bool escalate, window;
        int holds, retry;               /* initial choices */
} Setup;

typedef struct History {
        Setup setup;
        Event *ev;
        size_t n;
} History;

static const char *ev_format(const Event *e, char *buf, size_t n) {
        switch (e->kind) {
        case EV_CHECK:
                snprintf(buf, n, "check %s %s", cond_names[e->a], cond_state_to_string((CondState) e->b));
                break;
        case EV_ANSWER:
                snprintf(buf, n, "answer %s (reason %d)", answer_names[e->a], e->b);
                break;
        case EV_TICK:
                snprintf(buf, n, "tick +%" PRId64 "s", e->d / (int64_t) SEC);
                break;
        case EV_TASK:
                snprintf(buf, n, "task of %s %s", rule_names[e->a], e->b ? "succeeds" : "fails");
                break;
        case EV_KILL:
                snprintf(buf, n, "SIGKILL + restart");
                break;
        case EV_REBOOT:
                snprintf(buf, n, "reboot");
                break;
        case EV_CLOCK:
                snprintf(buf, n, "wall clock %+" PRId64 "s", e->d / (int64_t) SEC);
                break;
        case EV_DISK:
                snprintf(buf, n, "disk: %s", disk_names[e->a]);
                break;
        case EV_RELOAD:
                snprintf(buf, n, "reload: holds %" PRIu64 "s retry %" PRIu64 "s%s", holds_choices[e->a] / SEC,
                         retry_choices[e->b] / SEC, e->d ? ", rule b toggled" : "");
                break;
        case EV_STOP:
                snprintf(buf, n, "stop file %s", e->a ? "created" : "removed");
                break;
        case EV_UNPARK:
                snprintf(buf, n, "medicctl unpark");
                break;
        default:
                snprintf(buf, n, "?");
        }
        return buf;
}

/* ---- the world: clocks, disk, the scripted coordinator, the oracle --------------------- */

typedef struct Pending {
        unsigned id;
        unsigned incarnation;   /* of the medicd that sent it; an older one is dead */
        char *holder;
        coord_answer_t cb;
        void *userdata;
} Pending;

/* The coordinator's side, which survives medicd: one slot per node (like etcd: a release
 * gives the node's slot back whatever rule it names; a request of a node holding it is
 * granted again). */
typedef struct Backend {
        char *holder;
        Pending pend[MAX_PENDING];
        size_t n_pend;
        unsigned next_request, next_grant;
        unsigned last_grant, last_grant_request, last_grant_incarnation; /* of the answer being delivered */
        unsigned requests, grants, releases, withdraws;
} Backend;

typedef enum Phase { PH_NONE, PH_TASKS, PH_DISRUPTING } Phase;

typedef struct RState {
        /* persisted */
        EventLog fired;
        uint64_t last_fired, last_fired_bt, episode;
        unsigned attempts;
        bool escalated;
        /* this process only */
        Phase phase;
        unsigned firing;        /* the recorded firing the tasks belong to */
        uint64_t fired_at;      /* its wall-clock time as first recorded */
} RState;

/* One medicd process. */
typedef struct Node {
        Permission *perm;
        Condition *conds[N_COND];
        RState rs[2];
        EventLog disruptions;
        bool parked, dirty;
        /* What the owner's grant came from (set when it says held). */
        unsigned held_grant, held_request, held_incarnation;
} Node;

typedef struct World {
        const History *h;
        size_t step;
        char *base, *state_dir, *state_path, *perm_path, *stop_path;
        uint64_t wall, bt;
        unsigned boot, incarnation;
        DiskMode disk;
        /* The current configuration (files on disk: a restart reads the same). */
        uint64_t holds, retry;
        bool rule_b;
        Window *window;
        Backend be;
        Coordinator coord;
        Node *node;
        /* Oracle: independent of what the node records. */
        CondState seen[N_COND];          /* last result of a check in this process */
        bool seen_any[N_COND];
        uint64_t *dis_wall;
        uint64_t dis_mark;               /* the latest wall time a firing was recorded at */
        size_t n_dis, cap_dis, n_dis_total;
        unsigned char used_grant[1 << 12], used_request[1 << 12];
        unsigned next_firing;
        unsigned firing_incarnation[1 << 12];
        unsigned refused, abandoned, asks_refused;
        char failure[1024];
} World;

static bool failed(const World *w) {
        return w->failure[0] != 0;
}

static void failf(World *w, const char *fmt, ...) _printf_(2, 3);
static void failf(World *w, const char *fmt, ...) {
        va_list ap;

        if (failed(w))
                return;
        va_start(ap, fmt);
        vsnprintf(w->failure, sizeof w->failure, fmt, ap);
        va_end(ap);
}

/* ---- the scripted coordinator ---------------------------------------------------------- */

static int sc_request(Coordinator *c, const char *holder, coord_answer_t cb, void *userdata) {
        World *w = c->data;
        Backend *b = &w->be;

        if (b->n_pend >= MAX_PENDING)
                return -EAGAIN; /* not sent */
        b->pend[b->n_pend++] = (Pending) { .id = ++b->next_request, .incarnation = w->incarnation,
                                           .holder = strdup(holder), .cb = cb, .userdata = userdata };
        b->requests++;
        return 0;
}

static int sc_release(Coordinator *c, const char *holder) {
        World *w = c->data;
        (void) holder;
        w->be.holder = mfree(w->be.holder);
        w->be.releases++;
        return 0;
}

static void sc_withdraw(Coordinator *c, const char *holder) {
        World *w = c->data;
        /* Leaves the queue; a request already on its way may still be granted (late). */
        (void) holder;
        w->be.withdraws++;
}

static struct json_object *sc_status(Coordinator *c) {
        World *w = c->data;
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "holder", w->be.holder ? json_object_new_string(w->be.holder) : NULL);
        json_object_object_add(o, "stopped", json_object_new_boolean(false));
        return o;
}

static const CoordinatorOps scripted_ops = {
        .name = "scripted",
        .request = sc_request,
        .release = sc_release,
        .status = sc_status,
        .withdraw = sc_withdraw,
};

/* ---- the node model (daemon/rule.c) ----------------------------------------------------- */

static int rule_trigger(int i) {
        return i == 0 ? C_TRIG_A : C_TRIG_B;
}

static bool rule_present(const World *w, int i) {
        return i == 0 || (w->h->setup.n_rules > 1 && w->rule_b);
}

static bool any_tasks(const World *w) {
        for (int i = 0; i < 2; i++)
                if (w->node->rs[i].phase == PH_TASKS)
                        return true;
        return false;
}

static Verdict node_decide(World *w, int i, bool acting, char **ret_reason) {
        Node *n = w->node;
        RState *s = &n->rs[i];
        Condition *c = n->conds[rule_trigger(i)];
        const Setup *su = &w->h->setup;
        const PermissionAnswer *last = permission_last_answer(n->perm);
        PermState perm = permission_state(n->perm, rule_names[i]);
        const char *owner = permission_rule(n->perm);
        DecideBlocker bl[2];
        size_t n_bl = 0;
        _cleanup_free_ char *busy = NULL;
        Window *const wins[1] = { w->window };

        /* busy_reason() for a reboot remedy */
        if (s->phase == PH_DISRUPTING)
                busy = strdup("remedy is running");
        else if (!acting && any_tasks(w))
                busy = strdup("a reboot of this node is in progress");
        else if (owner && strcmp(owner, rule_names[i]) != 0)
                busy = strprintf("rule %s %s the node's permission", owner, permission_held(n->perm) ? "holds" : "asks for");

        for (int k = C_BLOCKER; k <= (i == 0 ? C_BLOCKER : C_HEALTH); k++) {
                Condition *b = n->conds[k];
                bl[n_bl++] = (DecideBlocker) { .name = cond_names[k], .present = b != NULL,
                                               .state = b ? b->state : COND_OK, .message = b ? b->message : NULL };
        }
        bool armed = c && c->state == COND_PROBLEM;
        DecideInput in = {
                .rule = rule_names[i],
                .disruptive = true,
                .holds = w->holds, .retry = w->retry, .limit = su->limit,
                .escalate = i == 0 && su->escalate ? "page-operator" : NULL,
                .windows = wins, .n_windows = su->window ? 1 : 0,
                .armed = armed, .trigger_why = armed ? "problem" : "not problem",
                .armed_for = armed ? condition_held_for(c, w->wall, w->bt) : 0,
                .fresh = armed && c->observed_bt != 0,
                .trigger_condition = cond_names[rule_trigger(i)], .flapping = c && c->flapping,
                .blockers = bl, .n_blockers = n_bl,
                .same_episode = armed && s->episode == c->since, .attempts = s->attempts,
                .since_fired = s->last_fired == 0 ? UINT64_MAX
                               : s->last_fired_bt ? usec_sub_sat(w->bt, s->last_fired_bt)
                                                  : usec_sub_sat(w->wall, s->last_fired),
                .escalated = s->escalated, .fired = &s->fired,
                .busy = busy, .parked = n->parked,
                .stop_file = coordinator_stopped_locally(&w->coord) ? w->stop_path : NULL,
                .max_disruptions = su->max_disruptions, .disruptions = &n->disruptions,
                .perm = perm, .perm_backend = permission_backend(n->perm),
                .perm_answer = perm == PERM_ASKING && last ? coord_answer_to_string(last->answer) : NULL,
                .perm_reason = perm == PERM_ASKING && last ? last->reason : NULL,
                .perm_count = perm == PERM_ASKING && last ? last->count : 0,
                .acting = acting,
                .now = w->wall,
        };
        return decide(&in, NULL, ret_reason);
}

/* ---- the node's state file ---- */

static struct json_object *json_u64(uint64_t v) {
        return json_object_new_int64((int64_t) v);
}

static uint64_t get_u64(struct json_object *o, const char *k) {
        struct json_object *v;
        return json_object_object_get_ex(o, k, &v) ? (uint64_t) json_object_get_int64(v) : 0;
}

static struct json_object *eventlog_json(const EventLog *l) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < l->n; i++)
                json_object_array_add(a, json_u64(l->t[i]));
        return a;
}

static void eventlog_from_json(EventLog *l, struct json_object *o, const char *k) {
        struct json_object *a;
        if (!json_object_object_get_ex(o, k, &a))
                return;
        for (size_t i = 0; i < json_object_array_length(a); i++)
                assert_int_equal(eventlog_add(l, (uint64_t) json_object_get_int64(json_object_array_get_idx(a, i))), 0);
}

static int state_save(World *w) {
        Node *n = w->node;
        struct json_object *root = json_object_new_object(), *conds = json_object_new_array(),
                           *rules = json_object_new_array();
        const char *text;
        int r;

        json_object_object_add(root, "boot", json_u64(w->boot));
        json_object_object_add(root, "parked", json_object_new_boolean(n->parked));
        json_object_object_add(root, "disruptions", eventlog_json(&n->disruptions));
        for (int k = 0; k < N_COND; k++) {
                Condition *c = n->conds[k];
                struct json_object *o = NULL;
                if (c) {
                        o = json_object_new_object();
                        json_object_object_add(o, "state", json_u64(c->state));
                        json_object_object_add(o, "since", json_u64(c->since));
                        json_object_object_add(o, "since_bt", json_u64(c->since_bt));
                        json_object_object_add(o, "changes", eventlog_json(&c->changes));
                        json_object_object_add(o, "flapping", json_object_new_boolean(c->flapping));
                }
                json_object_array_add(conds, o);
        }
        for (int i = 0; i < 2; i++) {
                RState *s = &n->rs[i];
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "fired", eventlog_json(&s->fired));
                json_object_object_add(o, "last_fired", json_u64(s->last_fired));
                json_object_object_add(o, "last_fired_bt", json_u64(s->last_fired_bt));
                json_object_object_add(o, "episode", json_u64(s->episode));
                json_object_object_add(o, "attempts", json_u64(s->attempts));
                json_object_object_add(o, "escalated", json_object_new_boolean(s->escalated));
                json_object_array_add(rules, o);
        }
        json_object_object_add(root, "conditions", conds);
        json_object_object_add(root, "rules", rules);
        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        if (w->disk == DISK_FAIL_STATE)
                fsize_limit(true);
        else if (w->disk == DISK_FAIL_PERMISSION)
                fsize_limit(false);
        r = write_file_atomic(w->state_path, text, strlen(text), 0600);
        cov.write_failures += r < 0;
        if (w->disk == DISK_FAIL_STATE)
                fsize_limit(false);
        else if (w->disk == DISK_FAIL_PERMISSION)
                fsize_limit(true);
        json_object_put(root);
        if (r >= 0)
                n->dirty = false;
        return r;
}

static void state_load(World *w) {
        Node *n = w->node;
        _cleanup_free_ char *buf = NULL;
        size_t size;
        struct json_object *root, *a, *o, *v;
        bool same_boot;

        if (read_file(w->state_path, 1 << 20, &buf, &size) < 0)
                return;
        root = json_tokener_parse(buf);
        if (!root) {
                failf(w, "state file unreadable: %s", buf);
                return;
        }
        same_boot = get_u64(root, "boot") == w->boot;
        n->parked = json_object_object_get_ex(root, "parked", &v) && json_object_get_boolean(v);
        eventlog_from_json(&n->disruptions, root, "disruptions");
        if (json_object_object_get_ex(root, "conditions", &a))
                for (int k = 0; k < N_COND; k++) {
                        o = json_object_array_get_idx(a, k);
                        if (!o)
                                continue;
                        Condition *c = n->conds[k] = condition_new(cond_names[k]);
                        c->state = (CondState) get_u64(o, "state");
                        c->since = get_u64(o, "since");
                        c->since_bt = same_boot ? get_u64(o, "since_bt") : 0;
                        c->observed_bt = 0; /* restored, not observed by this process */
                        c->last_run = c->since;
                        eventlog_from_json(&c->changes, o, "changes");
                        c->flapping = json_object_object_get_ex(o, "flapping", &v) && json_object_get_boolean(v);
                }
        if (json_object_object_get_ex(root, "rules", &a))
                for (int i = 0; i < 2; i++) {
                        RState *s = &n->rs[i];
                        o = json_object_array_get_idx(a, i);
                        eventlog_from_json(&s->fired, o, "fired");
                        s->last_fired = get_u64(o, "last_fired");
                        s->last_fired_bt = same_boot ? get_u64(o, "last_fired_bt") : 0;
                        s->episode = get_u64(o, "episode");
                        s->attempts = (unsigned) get_u64(o, "attempts");
                        s->escalated = json_object_object_get_ex(o, "escalated", &v) && json_object_get_boolean(v);
                }
        json_object_put(root);
}

static void manager_save(World *w) {
        if (w->node->dirty)
                (void) state_save(w); /* logged and retried at the next save in medicd */
}

/* ---- acting ---- */

static void release(World *w, int i, const char *why) {
        (void) permission_release(w->node->perm, rule_names[i], why);
}

static void disrupt(World *w, int i, Verdict v) {
        Node *n = w->node;
        const RateSpec *md = &w->h->setup.max_disruptions;
        int trig = rule_trigger(i);

        /* I1 */
        if (v != VERDICT_FIRE)
                failf(w, "I1: disruption of %s after a verdict %s", rule_names[i], verdict_to_string(v));
        if (permission_state(n->perm, rule_names[i]) != PERM_HELD)
                failf(w, "I1: disruption of %s without the permission held", rule_names[i]);
        if (!w->be.holder)
                failf(w, "I1: disruption of %s while the coordinator says the node holds nothing", rule_names[i]);
        /* I2 */
        if (n->held_grant == 0 || n->held_grant >= ELEMENTSOF(w->used_grant))
                failf(w, "I2: disruption of %s under no known grant", rule_names[i]);
        else if (w->used_grant[n->held_grant]++)
                failf(w, "I2: a second disruption under grant %u", n->held_grant);
        if (n->held_request == 0 || n->held_request >= ELEMENTSOF(w->used_request))
                failf(w, "I2: disruption of %s under no known request", rule_names[i]);
        else if (w->used_request[n->held_request]++)
                failf(w, "I2: a second disruption for request %u", n->held_request);
        /* I3 */
        if (n->held_incarnation != w->incarnation)
                failf(w, "I3: disruption of %s under a grant asked for by an earlier medicd (%u, now %u)", rule_names[i],
                      n->held_incarnation, w->incarnation);
        if (w->firing_incarnation[n->rs[i].firing % ELEMENTSOF(w->firing_incarnation)] != w->incarnation)
                failf(w, "I3: disruption of %s for a firing recorded by an earlier medicd", rule_names[i]);
        if (!w->seen_any[trig] || w->seen[trig] != COND_PROBLEM)
                failf(w, "I3: disruption of %s on %s, which no check in this medicd reported as problem (last: %s)",
                      rule_names[i], cond_names[trig], w->seen_any[trig] ? cond_state_to_string(w->seen[trig]) : "none");
        /* I5: counted as eventlog_count() counts (entries after a clock stepped back count),
         * on the oracle's own list, not on what the node managed to record, at the time the
         * disruption happens (after its tasks; see test_long_tasks_i5). A disruption that had
         * left the window by the time a later firing was recorded is forgotten, as the node's
         * log forgets it then (eventlog_prune): a clock stepped back later does not bring it
         * back. (Measured on the wall clock, as max_disruptions is.) */
        uint64_t t = w->wall;
        size_t kept = 0;
        for (size_t j = 0; j < w->n_dis; j++)
                if (md->count == 0 || w->dis_mark < md->window_usec || w->dis_wall[j] > w->dis_mark - md->window_usec)
                        w->dis_wall[kept++] = w->dis_wall[j];
        w->n_dis = kept;
        if (w->n_dis == w->cap_dis) {
                w->cap_dis = w->cap_dis ? 2 * w->cap_dis : 16;
                w->dis_wall = realloc(w->dis_wall, w->cap_dis * sizeof(*w->dis_wall));
                assert_non_null(w->dis_wall);
        }
        w->dis_wall[w->n_dis++] = t;
        w->n_dis_total++;
        if (md->count > 0) {
                size_t k = 0;
                for (size_t j = 0; j < w->n_dis; j++)
                        k += w->dis_wall[j] + md->window_usec > t;
                if (k > md->count)
                        failf(w, "I5: %zu disruptions within %" PRIu64 "s (max_disruptions %u)", k,
                              md->window_usec / SEC, md->count);
        }
        n->rs[i].phase = PH_DISRUPTING;
}

/* record_firing(): counted first; durably, or not at all. */
static int record_firing(World *w, int i) {
        Node *n = w->node;
        RState *s = &n->rs[i];
        RState saved = *s;
        const Setup *su = &w->h->setup;
        int r;

        s->attempts++;
        s->last_fired = w->wall;
        s->last_fired_bt = w->bt;
        assert_int_equal(eventlog_add(&s->fired, w->wall), 0);
        eventlog_prune(&s->fired, w->wall, su->limit.window_usec);
        assert_int_equal(eventlog_add(&n->disruptions, w->wall), 0);
        eventlog_prune(&n->disruptions, w->wall, su->max_disruptions.window_usec);
        n->dirty = true;
        r = state_save(w);
        if (r < 0) {
                s->attempts = saved.attempts;
                s->last_fired = saved.last_fired;
                s->last_fired_bt = saved.last_fired_bt;
                eventlog_remove(&s->fired, w->wall);
                eventlog_remove(&n->disruptions, w->wall);
                return r;
        }
        return 0;
}

/* rule_recheck(): the disruption happens now, so its time moves here, durably first. */
static int move_firing(World *w, int i) {
        Node *n = w->node;
        RState *s = &n->rs[i];
        uint64_t then = s->last_fired, then_bt = s->last_fired_bt;
        int r;

        if (!then || then == w->wall)
                return 0;
        eventlog_remove(&s->fired, then);
        eventlog_remove(&n->disruptions, then);
        assert_int_equal(eventlog_add(&s->fired, w->wall), 0);
        assert_int_equal(eventlog_add(&n->disruptions, w->wall), 0);
        s->last_fired = w->wall;
        s->last_fired_bt = w->bt;
        n->dirty = true;
        r = state_save(w);
        if (r < 0) {
                eventlog_remove(&s->fired, w->wall);
                eventlog_remove(&n->disruptions, w->wall);
                assert_int_equal(eventlog_add(&s->fired, then), 0);
                assert_int_equal(eventlog_add(&n->disruptions, then), 0);
                s->last_fired = then;
                s->last_fired_bt = then_bt;
                return r;
        }
        return 0;
}

static void run_remedy(World *w, int i) {
        RState *s = &w->node->rs[i];

        if (record_firing(w, i) < 0) {
                w->refused++;
                release(w, i, "the disruption cannot be recorded durably: refused");
                return;
        }
        s->phase = PH_TASKS; /* the tasks before the disruption run */
        s->fired_at = w->wall;
        if (w->wall > w->dis_mark)
                w->dis_mark = w->wall;
        s->firing = ++w->next_firing;
        w->firing_incarnation[s->firing % ELEMENTSOF(w->firing_incarnation)] = w->incarnation;
}

typedef struct AnsCtx {
        World *w;
        int rule;
        unsigned incarnation;
} AnsCtx;

static void on_permission(CoordAnswer a, const char *reason, void *userdata) {
        AnsCtx *c = userdata;
        World *w = c->w;
        Node *n = w->node;
        int i = c->rule;
        unsigned inc = c->incarnation;

        (void) reason;
        free(c);
        if (inc != w->incarnation) {
                failf(w, "an answer reached a medicd that is gone");
                return;
        }
        if (a != COORD_GRANTED)
                return;
        if (permission_state(n->perm, rule_names[i]) != PERM_HELD) {
                failf(w, "granted, but the owner does not say %s holds", rule_names[i]);
                return;
        }
        n->held_grant = w->be.last_grant;
        n->held_request = w->be.last_grant_request;
        n->held_incarnation = w->be.last_grant_incarnation;
        /* Re-decided now, on what this process observes. */
        Verdict v = rule_present(w, i) ? node_decide(w, i, false, NULL) : VERDICT_IDLE;
        if (v != VERDICT_FIRE) {
                w->abandoned++;
                release(w, i, "granted, but no longer wanted");
        } else
                run_remedy(w, i);
        manager_save(w);
}

static void ask(World *w, int i) {
        Node *n = w->node;
        AnsCtx *c;
        int r;

        if (permission_in_flight(n->perm))
                return;
        c = malloc(sizeof(*c));
        assert_non_null(c);
        *c = (AnsCtx) { .w = w, .rule = i, .incarnation = w->incarnation };
        r = permission_ask(n->perm, rule_names[i], on_permission, c, free);
        if (r < 0) {
                if (r != -EALREADY && r != -EBUSY)
                        w->asks_refused++;
                free(c);
        }
}

static void episode_bookkeeping(World *w, int i) {
        Node *n = w->node;
        RState *s = &n->rs[i];
        Condition *c = n->conds[rule_trigger(i)];
        bool armed = c && c->state == COND_PROBLEM;

        if (!armed && s->episode != 0 && s->phase == PH_NONE &&
            permission_state(n->perm, rule_names[i]) != PERM_HELD) {
                s->episode = 0;
                s->attempts = 0;
                s->escalated = false;
                n->dirty = true;
        } else if (armed && s->episode != c->since) {
                s->episode = c->since;
                s->attempts = 0;
                s->escalated = false;
                n->dirty = true;
        }
}

static void rules_run(World *w) {
        Node *n = w->node;

        for (int i = 0; i < 2 && !failed(w); i++) {
                _cleanup_free_ char *reason = NULL;
                Verdict v;

                if (!rule_present(w, i))
                        continue;
                episode_bookkeeping(w, i);
                v = node_decide(w, i, false, &reason);
                cov.verdicts[v]++;
                if (v != VERDICT_ASKING && v != VERDICT_FIRE && permission_state(n->perm, rule_names[i]) == PERM_ASKING)
                        permission_withdraw(n->perm, rule_names[i], reason);
                switch (v) {
                case VERDICT_FIRE:
                case VERDICT_ASKING:
                        ask(w, i);
                        break;
                case VERDICT_NODE_LIMIT:
                        if (!n->parked) {
                                n->parked = true;
                                n->dirty = true;
                        }
                        break;
                case VERDICT_ESCALATE:
                        n->rs[i].escalated = true;
                        n->dirty = true;
                        break;
                default:
                        break;
                }
        }
}

/* The tasks before the disruption finished (rule_recheck()), or the disruptive remedy did. */
static void task_result(World *w, int i, bool ok) {
        RState *s = &w->node->rs[i];

        if (s->phase == PH_DISRUPTING) {
                s->phase = PH_NONE;
                release(w, i, "the remedy is over");
                manager_save(w);
                return;
        }
        if (s->phase != PH_TASKS)
                return;
        s->phase = PH_NONE;
        if (!ok) {
                release(w, i, "the tasks before the disruption failed");
                return;
        }
        if (!rule_present(w, i)) {
                release(w, i, "the rule no longer exists");
                return;
        }
        if (permission_state(w->node->perm, rule_names[i]) != PERM_HELD) {
                release(w, i, "the permission is no longer held");
                return;
        }
        s->phase = PH_TASKS; /* still the reboot in progress while it re-decides */
        Verdict v = node_decide(w, i, true, NULL);
        s->phase = PH_NONE;
        if (v == VERDICT_FIRE && move_firing(w, i) < 0) {
                w->refused++;
                release(w, i, "the disruption cannot be recorded durably: refused");
        } else if (v == VERDICT_FIRE)
                disrupt(w, i, v);
        else {
                w->abandoned++;
                release(w, i, "no longer wanted after the tasks");
        }
}

/* ---- processes ---- */

static void node_start(World *w) {
        Node *n = calloc(1, sizeof(*n));

        assert_non_null(n);
        w->node = n;
        w->incarnation++;
        for (int k = 0; k < N_COND; k++)
                w->seen_any[k] = false;
        state_load(w);
        assert_int_equal(permission_new(&w->coord, w->state_dir, &n->perm), 0);
        /* Nothing here claims (no reboot or maintenance is restored in this model). */
        permission_startup(n->perm);
        permission_reconcile(n->perm);
}

static void node_free(World *w) {
        Node *n = w->node;

        if (!n)
                return;
        permission_free(n->perm);
        for (int k = 0; k < N_COND; k++)
                condition_free(n->conds[k]);
        for (int i = 0; i < 2; i++)
                eventlog_free(&n->rs[i].fired);
        eventlog_free(&n->disruptions);
        free(n);
        w->node = NULL;
}

/* ---- the scripted coordinator's answers ---- */

static void answer(World *w, Answer kind, int which_reason) {
        Backend *b = &w->be;
        Pending p;
        size_t idx;
        static const char *const reasons[] = { "budget 1 used by node-b", "queue place 2" };

        if (b->n_pend == 0)
                return;
        idx = kind == ANS_LATE ? 0 : b->n_pend - 1;
        p = b->pend[idx];
        memmove(&b->pend[idx], &b->pend[idx + 1], (b->n_pend - idx - 1) * sizeof(Pending));
        b->n_pend--;
        bool grant = kind == ANS_GRANT || kind == ANS_LATE || kind == ANS_LOST;
        if (grant) {
                free(b->holder);
                b->holder = strdup(p.holder);
                b->grants++;
                b->last_grant = ++b->next_grant;
                b->last_grant_request = p.id;
                b->last_grant_incarnation = p.incarnation;
        }
        /* An answer to a medicd that is gone reaches nobody; a lost one says "unknown". */
        cov.lost += kind == ANS_LOST;
        cov.orphan_grants += grant && p.incarnation != w->incarnation;
        cov.late_grants += grant && p.incarnation == w->incarnation &&
                           (permission_rule(w->node->perm) == NULL || !permission_in_flight(w->node->perm));
        if (p.incarnation == w->incarnation) {
                if (kind == ANS_LOST)
                        p.cb(COORD_UNKNOWN, "timed out", p.userdata);
                else if (grant)
                        p.cb(COORD_GRANTED, NULL, p.userdata);
                else
                        p.cb(kind == ANS_DENY ? COORD_DENIED : COORD_UNKNOWN, reasons[which_reason & 1], p.userdata);
        }
        b->last_grant = b->last_grant_request = b->last_grant_incarnation = 0;
        free(p.holder);
}

/* ---- one step ---- */

static const RateSpec flap = { .count = 3, .window_usec = 10 * MIN };

static void check_result(World *w, int k, CondState st) {
        Node *n = w->node;
        int r;

        if (!n->conds[k])
                assert_non_null(n->conds[k] = condition_new(cond_names[k]));
        r = condition_update(n->conds[k], st, st == COND_PROBLEM ? "bad" : NULL, NULL, w->wall, &flap);
        assert_true(r >= 0);
        condition_observed(n->conds[k], r > 0, w->bt);
        w->seen[k] = st;
        w->seen_any[k] = true;
        n->dirty = true;
}

static void apply(World *w, const Event *e) {
        switch (e->kind) {
        case EV_CHECK:
                check_result(w, e->a, (CondState) e->b);
                break;
        case EV_ANSWER:
                answer(w, (Answer) e->a, e->b);
                break;
        case EV_TICK:
                w->wall += (uint64_t) e->d;
                w->bt += (uint64_t) e->d;
                /* manager_evaluate(): changes age out of the flapping window */
                for (int k = 0; k < N_COND; k++)
                        if (w->node->conds[k] && w->node->conds[k]->flapping !=
                                                         condition_refresh_flapping(w->node->conds[k], w->wall, &flap))
                                w->node->dirty = true;
                rules_run(w);
                permission_reconcile(w->node->perm);
                manager_save(w);
                break;
        case EV_TASK:
                if (rule_present(w, e->a) || w->node->rs[e->a].phase != PH_NONE)
                        task_result(w, e->a, e->b);
                break;
        case EV_REBOOT:
                w->boot++;
                w->bt = 5 * SEC;
                w->wall += 90 * SEC;
                /* fall through */
        case EV_KILL:
                cov.kills_holding += permission_held(w->node->perm);
                node_free(w);
                node_start(w);
                break;
        case EV_CLOCK:
                w->wall = (uint64_t) ((int64_t) w->wall + e->d);
                break;
        case EV_DISK:
                w->disk = (DiskMode) e->a;
                break;
        case EV_RELOAD:
                w->holds = holds_choices[e->a];
                w->retry = retry_choices[e->b];
                if (e->d)
                        w->rule_b = !w->rule_b;
                break;
        case EV_STOP:
                if (e->a) {
                        int fd = open(w->stop_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
                        assert_true(fd >= 0);
                        close(fd);
                } else
                        (void) unlink(w->stop_path);
                break;
        case EV_UNPARK:
                /* An operator unparks a parked node (the budget starts again), not one that is
                 * in the middle of a disruption. */
                if (!w->node->parked || any_tasks(w) || w->node->rs[0].phase || w->node->rs[1].phase)
                        break;
                w->node->parked = false;
                eventlog_free(&w->node->disruptions);
                w->node->dirty = true;
                manager_save(w);
                /* The operator gives the node a new budget. */
                w->n_dis = 0;
                break;
        default:
                break;
        }
}

/* I4, once nothing is in flight (no request of any medicd is out) after a tick or a start:
 * the backend's holder is the owner's. */
static void check_settled(World *w, const Event *e) {
        Node *n = w->node;

        if (w->be.n_pend > 0 || !(e->kind == EV_TICK || e->kind == EV_KILL || e->kind == EV_REBOOT))
                return;
        if (permission_in_flight(n->perm))
                failf(w, "I4: the owner says a request is in flight, the coordinator has none");
        if (permission_held(n->perm) && !w->be.holder)
                failf(w, "I4: the owner says %s holds, the coordinator says nobody", permission_rule(n->perm));
        if (!permission_rule(n->perm) && w->be.holder)
                failf(w, "I4: leak: the coordinator says the node holds (for %s), the owner holds and asks nothing",
                      w->be.holder);
        if (permission_held(n->perm) && n->held_incarnation != w->incarnation)
                failf(w, "I4: the owner holds without a grant to this medicd");
}

static void world_init(World *w, const History *h, const char *base) {
        *w = (World) { .h = h, .wall = WALL0, .bt = 100 * SEC, .boot = 1 };
        w->base = strdup(base);
        w->state_dir = strprintf("%s/state", base);
        w->state_path = strprintf("%s/state/state.json", base);
        w->perm_path = strprintf("%s/state/permission.json", base);
        w->stop_path = strprintf("%s/stop", base);
        (void) unlink(w->state_path);
        (void) unlink(w->perm_path);
        (void) unlink(w->stop_path);
        assert_int_equal(mkdir_p(w->state_dir, 0700), 0);
        w->holds = holds_choices[h->setup.holds];
        w->retry = retry_choices[h->setup.retry];
        w->rule_b = true;
        if (h->setup.window) {
                char *err = NULL;
                assert_int_equal(window_parse("daily 00:00-18:00 UTC", &w->window, &err), 0);
        }
        w->coord = (Coordinator) { .ops = &scripted_ops, .stop_file = w->stop_path, .data = w };
        node_start(w);
}

static void world_done(World *w) {
        fsize_limit(false);
        node_free(w);
        for (size_t i = 0; i < w->be.n_pend; i++)
                free(w->be.pend[i].holder);
        free(w->be.holder);
        window_free(w->window);
        free(w->dis_wall);
        free(w->base);
        free(w->state_dir);
        free(w->state_path);
        free(w->perm_path);
        free(w->stop_path);
}

/* Runs a history; returns the index of the failing step (failure in w->failure) or -1. */
static ssize_t run_history(World *w, const History *h, const char *base, size_t *ret_steps) {
        ssize_t bad = -1;

        world_init(w, h, base);
        for (size_t k = 0; k < h->n; k++) {
                w->step = k;
                if (w->disk == DISK_FAIL_ALL || w->disk == DISK_FAIL_PERMISSION)
                        fsize_limit(true);
                apply(w, &h->ev[k]);
                fsize_limit(false);
                check_settled(w, &h->ev[k]);
                if (failed(w)) {
                        bad = (ssize_t) k;
                        break;
                }
        }
        if (ret_steps)
                *ret_steps = bad < 0 ? h->n : (size_t) bad + 1;
        return bad;
}

/* ---- random histories ---- */

/* The generator's idea of each condition: checks mostly repeat what they said last (a
 * condition that changes at every run is flapping, and a flapping trigger never fires). */
typedef struct Gen {
        uint64_t s;
        CondState cond[N_COND];
        unsigned storm;         /* the next checks of trigger-a alternate, with short ticks: flapping */
} Gen;

static Event random_event(Gen *g) {
        uint64_t *s = &g->s;
        static const struct {
                EvKind kind;
                unsigned weight;
        } weights[] = {
                { EV_CHECK, 250 }, { EV_TICK, 300 }, { EV_ANSWER, 220 }, { EV_TASK, 90 }, { EV_KILL, 20 },
                { EV_REBOOT, 12 }, { EV_CLOCK, 20 }, { EV_DISK, 25 }, { EV_RELOAD, 12 }, { EV_STOP, 15 },
                { EV_UNPARK, 6 },
        };
        static const int64_t ticks[] = { 1 * SEC, 5 * SEC, 10 * SEC, 10 * SEC, 30 * SEC, 30 * SEC, 60 * SEC, 3 * MIN,
                                         6 * MIN, 20 * MIN, 2 * HOUR };
        static const int64_t steps[] = { -HOUR, HOUR, -3 * HOUR, 25 * HOUR, -25 * HOUR, -30 * SEC, 5 * MIN };
        unsigned total = 0, x;
        Event e = {};

        for (size_t i = 0; i < ELEMENTSOF(weights); i++)
                total += weights[i].weight;
        x = rng_below(s, total);
        for (size_t i = 0; i < ELEMENTSOF(weights); i++) {
                if (x < weights[i].weight) {
                        e.kind = weights[i].kind;
                        break;
                }
                x -= weights[i].weight;
        }
        switch (e.kind) {
        case EV_CHECK: {
                unsigned c = rng_below(s, 10);
                e.a = c < 5 ? C_TRIG_A : c < 7 ? C_TRIG_B : c < 9 ? C_BLOCKER : C_HEALTH;
                unsigned st = rng_below(s, 10);
                if (g->storm == 0 && rng_below(s, 100) < 3)
                        g->storm = 8;
                if (g->storm > 0) {
                        g->storm--;
                        e.a = C_TRIG_A;
                        e.b = g->cond[e.a] == COND_PROBLEM ? COND_OK : COND_PROBLEM;
                } else if (rng_below(s, 100) < 75)
                        e.b = g->cond[e.a];
                else if (e.a <= C_TRIG_B)
                        e.b = st < 7 ? COND_PROBLEM : st < 9 ? COND_OK : COND_UNKNOWN;
                else
                        e.b = st < 7 ? COND_OK : st < 9 ? COND_PROBLEM : COND_UNKNOWN;
                g->cond[e.a] = (CondState) e.b;
                break;
        }
        case EV_ANSWER: {
                unsigned a = rng_below(s, 20);
                e.a = a < 7 ? ANS_GRANT : a < 12 ? ANS_DENY : a < 15 ? ANS_UNKNOWN : a < 17 ? ANS_LOST : ANS_LATE;
                e.b = (int) rng_below(s, 2);
                break;
        }
        case EV_TICK:
                e.d = ticks[rng_below(s, g->storm ? 4 : ELEMENTSOF(ticks))];
                break;
        case EV_TASK:
                e.a = (int) rng_below(s, 2);
                e.b = rng_below(s, 5) != 0;
                break;
        case EV_CLOCK:
                e.d = steps[rng_below(s, ELEMENTSOF(steps))];
                break;
        case EV_DISK:
                e.a = rng_below(s, 4) ? DISK_OK : (int) (1 + rng_below(s, 3));
                break;
        case EV_RELOAD:
                e.a = (int) rng_below(s, ELEMENTSOF(holds_choices));
                e.b = (int) rng_below(s, ELEMENTSOF(retry_choices));
                e.d = rng_below(s, 3) == 0;
                break;
        case EV_STOP:
                e.a = rng_below(s, 5) == 0;
                break;
        default:
                break;
        }
        return e;
}

static void random_history(uint64_t seed, History *h) {
        static const RateSpec limits[] = { { 1, HOUR }, { 3, HOUR }, { 2, 6 * HOUR } };
        static const RateSpec maxd[] = { { 0, 0 }, { 1, 24 * HOUR }, { 2, 6 * HOUR }, { 3, HOUR } };
        Gen g = { .s = seed, .cond = { COND_PROBLEM, COND_PROBLEM, COND_OK, COND_OK } };
        uint64_t *sp = &g.s;

        h->setup = (Setup) {
                .n_rules = 1 + rng_below(sp, 2),
                .limit = limits[rng_below(sp, ELEMENTSOF(limits))],
                .max_disruptions = maxd[rng_below(sp, ELEMENTSOF(maxd))],
                .escalate = rng_below(sp, 2),
                .window = rng_below(sp, 4) == 0,
                .holds = (int) rng_below(sp, ELEMENTSOF(holds_choices)),
                .retry = (int) rng_below(sp, ELEMENTSOF(retry_choices)),
        };
        h->n = 20 + rng_below(sp, 380);
        h->ev = calloc(h->n, sizeof(Event));
        assert_non_null(h->ev);
        for (size_t i = 0; i < h->n; i++)
                h->ev[i] = random_event(&g);
}

static void history_print(const History *h, FILE *f) {
        char buf[128];

        fprintf(f, "# setup: %u rule(s), limit %u/%" PRIu64 "s, max_disruptions %u/%" PRIu64 "s, escalate %s, window %s, "
                "holds %" PRIu64 "s, retry %" PRIu64 "s\n",
                h->setup.n_rules, h->setup.limit.count, h->setup.limit.window_usec / SEC, h->setup.max_disruptions.count,
                h->setup.max_disruptions.window_usec / SEC, h->setup.escalate ? "yes" : "no", h->setup.window ? "yes" : "no",
                holds_choices[h->setup.holds] / SEC, retry_choices[h->setup.retry] / SEC);
        for (size_t i = 0; i < h->n; i++)
                fprintf(f, "#   %3zu  %s\n", i, ev_format(&h->ev[i], buf, sizeof buf));
}

/* Removes events while the history still fails; returns the shortest found. */
static void shrink(History *h, const char *base) {
        World w;
        bool progress = true;
        Event *tmp = calloc(h->n, sizeof(Event));

        assert_non_null(tmp);
        while (progress) {
                progress = false;
                for (size_t chunk = h->n / 2 ? h->n / 2 : 1; chunk >= 1; chunk /= 2) {
                        for (size_t at = 0; at + chunk <= h->n;) {
                                History t = { .setup = h->setup, .ev = tmp, .n = 0 };
                                for (size_t i = 0; i < h->n; i++)
                                        if (i < at || i >= at + chunk)
                                                tmp[t.n++] = h->ev[i];
                                ssize_t bad = run_history(&w, &t, base, NULL);
                                world_done(&w);
                                if (bad >= 0) {
                                        t.n = (size_t) bad + 1;
                                        memcpy(h->ev, tmp, t.n * sizeof(Event));
                                        h->n = t.n;
                                        progress = true;
                                } else
                                        at++;
                        }
                        if (chunk == 1)
                                break;
                }
        }
        free(tmp);
}

static char *make_base(void) {
        const char *tmp = invariants_tmp();
        char *base = strprintf("%s/medic-invariants.XXXXXX", tmp);
        assert_non_null(base);
        assert_non_null(mkdtemp(base));
        return base;
}

static void remove_base(char *base) {
        _cleanup_free_ char *a = strprintf("%s/state/state.json", base), *b = strprintf("%s/state/permission.json", base),
                            *c = strprintf("%s/stop", base), *d = strprintf("%s/state", base);
        (void) unlink(a);
        (void) unlink(b);
        (void) unlink(c);
        (void) rmdir(d);
        (void) rmdir(base);
        free(base);
}

static void test_random(void **state) {
        uint64_t seed = env_u64("MEDIC_SEED", (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 20));
        uint64_t want = env_u64("MEDIC_STEPS", 100000), steps = 0, histories = 0, disruptions = 0, refused = 0;
        uint64_t master = seed;
        char *base = make_base();
        double t0 = now_sec();

        fprintf(stderr, "# MEDIC_SEED=%" PRIu64 " MEDIC_STEPS=%" PRIu64 "\n", seed, want);
        memset(&cov, 0, sizeof cov);
        while (steps < want) {
                History h;
                World w;
                size_t n;
                uint64_t hseed = rng_next(&master); /* see invariants-lib.h */

                random_history(hseed, &h);
                ssize_t bad = run_history(&w, &h, base, &n);
                steps += n;
                disruptions += w.n_dis_total;
                refused += w.refused;
                if (bad >= 0) {
                        char buf[128];
                        fprintf(stderr, "# FAILED: MEDIC_SEED=%" PRIu64 ", history %" PRIu64 ", step %zd (%s): %s\n", seed,
                                histories, bad, ev_format(&h.ev[bad], buf, sizeof buf), w.failure);
                        world_done(&w);
                        h.n = (size_t) bad + 1;
                        shrink(&h, base);
                        run_history(&w, &h, base, NULL);
                        fprintf(stderr, "# shortest failing history (%zu events): %s\n", h.n, w.failure);
                        history_print(&h, stderr);
                        world_done(&w);
                        free(h.ev);
                        remove_base(base);
                        fail_msg("invariant violated (MEDIC_SEED=%" PRIu64 ")", seed);
                }
                world_done(&w);
                free(h.ev);
                histories++;
        }
        double dt = now_sec() - t0;
        fprintf(stderr, "# steps %" PRIu64 ", histories %" PRIu64 ", disruptions %" PRIu64 ", refused %" PRIu64
                ", %.2f s, %.0f steps/s\n", steps, histories, disruptions, refused, dt, dt > 0 ? (double) steps / dt : 0.0);
        fprintf(stderr, "# verdicts:");
        for (int v = 0; v < _VERDICT_MAX; v++)
                fprintf(stderr, " %s %" PRIu64, verdict_to_string((Verdict) v), cov.verdicts[v]);
        fprintf(stderr, "\n# late grants %" PRIu64 ", lost answers %" PRIu64 ", grants to a dead medicd %" PRIu64
                ", kills while holding %" PRIu64 ", failed state writes %" PRIu64 "\n",
                cov.late_grants, cov.lost, cov.orphan_grants, cov.kills_holding, cov.write_failures);
        remove_base(base);
}

/* ---- fixed histories (the failures the decision core was written against) ---------------- */

#define E(k, ...) ((Event) { .kind = (k), __VA_ARGS__ })
#define CHECK(cond_, st_) E(EV_CHECK, .a = (cond_), .b = (st_))
#define TICK(dt_) E(EV_TICK, .d = (int64_t) (dt_))
#define ANSWER(ans_) E(EV_ANSWER, .a = (ans_))
#define TASK(rule_, ok_) E(EV_TASK, .a = (rule_), .b = (ok_))
#define KILL E(EV_KILL)
#define CLOCK(dt_) E(EV_CLOCK, .d = (int64_t) (dt_))
#define DISK(mode_) E(EV_DISK, .a = (mode_))

static const Setup fixed_setup = {
        .n_rules = 1, .limit = { 3, HOUR }, .max_disruptions = { 2, 24 * HOUR }, .holds = 1 /* 10m */, .retry = 1 /* 30m */,
};

typedef struct Run {
        World w;
        char *base;
        History h;
        size_t k;
} Run;

static void run_begin(Run *r, const Setup *su) {
        *r = (Run) { .base = make_base() };
        r->h.setup = *su;
        r->h.ev = calloc(256, sizeof(Event));
        world_init(&r->w, &r->h, r->base);
}

/* Applies events one at a time so that the test can look between them. */
static void run_do(Run *r, Event e) {
        char buf[128];

        assert_true(r->h.n < 256);
        r->h.ev[r->h.n++] = e;
        r->w.step = r->k++;
        if (r->w.disk == DISK_FAIL_ALL || r->w.disk == DISK_FAIL_PERMISSION)
                fsize_limit(true);
        apply(&r->w, &e);
        fsize_limit(false);
        check_settled(&r->w, &e);
        if (failed(&r->w)) {
                history_print(&r->h, stderr);
                fail_msg("step %zu (%s): %s", r->k - 1, ev_format(&e, buf, sizeof buf), r->w.failure);
        }
}

static void run_end(Run *r) {
        world_done(&r->w);
        free(r->h.ev);
        remove_base(r->base);
}

static PermState perm_a(Run *r) {
        return permission_state(r->w.node->perm, rule_names[0]);
}

/* A trigger restored as problem from the state file never fires before a check of this
 * medicd reports it again. */
static void test_restored_trigger_after_restart(void **state) {
        Run r;

        run_begin(&r, &fixed_setup);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(11 * MIN));
        assert_int_equal(r.w.be.requests, 1);
        run_do(&r, KILL);
        /* The request of the dead medicd is granted after it is gone: nobody here wants it. */
        run_do(&r, ANSWER(ANS_GRANT));
        assert_non_null(r.w.be.holder);
        for (int i = 0; i < 5; i++)
                run_do(&r, TICK(10 * MIN));
        assert_null(r.w.be.holder);     /* reconciled: given back */
        assert_int_equal(r.w.be.requests, 1);
        assert_int_equal(perm_a(&r), PERM_NONE);
        assert_int_equal(r.w.node->conds[C_TRIG_A]->state, COND_PROBLEM); /* restored */
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(SEC));
        assert_int_equal(r.w.be.requests, 2);
        run_do(&r, ANSWER(ANS_GRANT));
        run_do(&r, TASK(0, true));
        assert_int_equal(r.w.n_dis_total, 1);
        run_end(&r);
}

/* A blocker appears while the rule waits for the coordinator: the grant is given back, nothing
 * is recorded nor done. */
static void test_blocker_during_wait_then_grant(void **state) {
        Run r;

        run_begin(&r, &fixed_setup);
        run_do(&r, CHECK(C_BLOCKER, COND_OK));
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(11 * MIN));
        assert_int_equal(perm_a(&r), PERM_ASKING);
        run_do(&r, CHECK(C_BLOCKER, COND_PROBLEM));
        run_do(&r, ANSWER(ANS_GRANT));
        assert_int_equal(perm_a(&r), PERM_NONE);
        assert_null(r.w.be.holder);
        assert_int_equal(r.w.node->rs[0].attempts, 0);
        assert_int_equal(r.w.node->disruptions.n, 0);
        assert_int_equal(r.w.abandoned, 1);
        run_do(&r, TICK(MIN));
        assert_int_equal(r.w.be.requests, 1); /* blocked: not asking again */
        run_do(&r, TASK(0, true));
        assert_int_equal(r.w.n_dis_total, 0);
        run_end(&r);
}

/* The rule stops wanting, withdraws, and the grant of its old request arrives afterwards. */
static void test_late_grant_after_withdraw(void **state) {
        Run r;

        run_begin(&r, &fixed_setup);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(11 * MIN));
        assert_int_equal(perm_a(&r), PERM_ASKING);
        run_do(&r, CHECK(C_TRIG_A, COND_OK));
        run_do(&r, TICK(SEC));
        assert_int_equal(perm_a(&r), PERM_NONE);
        assert_int_equal(r.w.be.withdraws, 1);
        unsigned releases = r.w.be.releases;
        run_do(&r, ANSWER(ANS_LATE));
        assert_null(r.w.be.holder);
        assert_int_equal(r.w.be.releases, releases + 1);
        /* And again with the trigger back: a new request, the old answer does not count. */
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(11 * MIN));
        run_do(&r, CHECK(C_TRIG_A, COND_OK));
        run_do(&r, TICK(SEC));
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(11 * MIN));
        assert_int_equal(r.w.be.n_pend, 2);
        run_do(&r, ANSWER(ANS_LATE));  /* the withdrawn one: given back */
        assert_int_equal(perm_a(&r), PERM_ASKING);
        run_do(&r, TICK(SEC));
        run_do(&r, ANSWER(ANS_GRANT)); /* the current one */
        assert_int_equal(perm_a(&r), PERM_HELD);
        run_do(&r, TASK(0, true));
        assert_int_equal(r.w.n_dis_total, 1);
        run_end(&r);
}

/* A rule withdraws, asks again and is granted; then the grant of its withdrawn request
 * arrives. The slot is the node's and it is held: giving that late grant back would give
 * back the slot the disruption is about to use. */
static void test_late_grant_while_held(void **state) {
        Run r;

        run_begin(&r, &fixed_setup);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(11 * MIN));
        run_do(&r, CHECK(C_BLOCKER, COND_PROBLEM));
        run_do(&r, TICK(SEC));
        assert_int_equal(perm_a(&r), PERM_NONE);        /* withdrawn; its request still out */
        run_do(&r, CHECK(C_BLOCKER, COND_OK));
        run_do(&r, TICK(SEC));
        assert_int_equal(r.w.be.n_pend, 2);
        run_do(&r, ANSWER(ANS_GRANT));                  /* the current request */
        assert_int_equal(perm_a(&r), PERM_HELD);
        run_do(&r, ANSWER(ANS_LATE));                   /* the withdrawn one */
        assert_int_equal(perm_a(&r), PERM_HELD);
        assert_non_null(r.w.be.holder);
        run_do(&r, TASK(0, true));
        assert_int_equal(r.w.n_dis_total, 1);
        run_do(&r, TASK(0, true));
        run_do(&r, TICK(SEC));
        assert_null(r.w.be.holder);
        run_end(&r);
}

/* Granted, the firing recorded, the tasks running: SIGKILL. The new medicd gives the slot
 * back and does not go on with the old firing; the firing counts (retry wait, limits). */
static void test_grant_recorded_then_sigkill(void **state) {
        Run r;

        run_begin(&r, &fixed_setup);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(11 * MIN));
        run_do(&r, ANSWER(ANS_GRANT));
        assert_int_equal(perm_a(&r), PERM_HELD);
        assert_int_equal(r.w.node->rs[0].phase, PH_TASKS);
        run_do(&r, KILL);
        assert_null(r.w.be.holder);
        assert_int_equal(perm_a(&r), PERM_NONE);
        assert_int_equal(r.w.node->rs[0].attempts, 1);
        assert_int_equal(r.w.node->disruptions.n, 1);
        run_do(&r, TASK(0, true));      /* the old tasks' result: nobody runs them now */
        assert_int_equal(r.w.n_dis_total, 0);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(MIN));
        assert_int_equal(r.w.be.requests, 1); /* waiting to see whether the firing helped */
        run_do(&r, TICK(30 * MIN));
        assert_int_equal(r.w.be.requests, 2);
        run_do(&r, ANSWER(ANS_GRANT));
        run_do(&r, TASK(0, true));
        assert_int_equal(r.w.n_dis_total, 1);
        /* max_disruptions 2/24h: the aborted firing counts, so no third one. */
        run_do(&r, TASK(0, true));
        run_do(&r, TICK(31 * MIN));
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(MIN));
        assert_true(r.w.node->parked);
        run_end(&r);
}

/* The state file cannot be written when the firing is to be recorded: refused, given back,
 * nothing done; and the permission's own record failing gives the grant back too. */
static void test_write_failure_before_disruption(void **state) {
        Run r;

        run_begin(&r, &fixed_setup);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(11 * MIN));
        run_do(&r, DISK(DISK_FAIL_STATE));
        run_do(&r, ANSWER(ANS_GRANT));
        assert_int_equal(r.w.refused, 1);
        assert_null(r.w.be.holder);
        assert_int_equal(perm_a(&r), PERM_NONE);
        assert_int_equal(r.w.node->rs[0].attempts, 0);
        assert_int_equal(r.w.node->disruptions.n, 0);
        run_do(&r, TASK(0, true));
        assert_int_equal(r.w.n_dis_total, 0);

        /* The grant cannot be recorded. */
        run_do(&r, DISK(DISK_FAIL_PERMISSION));
        run_do(&r, TICK(SEC));
        assert_int_equal(r.w.be.requests, 1);   /* "asking" cannot be recorded: not asked */
        assert_int_equal(perm_a(&r), PERM_NONE);
        run_do(&r, DISK(DISK_OK));
        run_do(&r, TICK(SEC));
        assert_int_equal(r.w.be.requests, 2);
        run_do(&r, DISK(DISK_FAIL_PERMISSION));
        run_do(&r, ANSWER(ANS_GRANT));
        assert_null(r.w.be.holder);
        assert_int_equal(perm_a(&r), PERM_ASKING);
        run_do(&r, DISK(DISK_OK));
        run_do(&r, TICK(SEC));
        run_do(&r, ANSWER(ANS_GRANT));
        run_do(&r, TASK(0, true));
        assert_int_equal(r.w.n_dis_total, 1);

        /* All writes failing across a SIGKILL: what was recorded before still counts. */
        run_do(&r, TASK(0, true));
        run_do(&r, DISK(DISK_FAIL_ALL));
        run_do(&r, KILL);
        assert_int_equal(r.w.node->disruptions.n, 1);
        run_end(&r);
}

/* The wall clock stepped back or forward an hour during the debounce and during the retry
 * wait: both are measured on the boot clock. */
static void test_clock_steps_debounce_retry(void **state) {
        Run r;

        run_begin(&r, &fixed_setup);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(5 * MIN));
        run_do(&r, CLOCK(-HOUR));
        run_do(&r, TICK(3 * SEC));
        run_do(&r, CLOCK(2 * HOUR));
        run_do(&r, TICK(3 * SEC));
        assert_int_equal(r.w.be.requests, 0);
        run_do(&r, TICK(5 * MIN));
        assert_int_equal(r.w.be.requests, 1);
        run_do(&r, ANSWER(ANS_GRANT));
        run_do(&r, TASK(0, true));
        run_do(&r, TASK(0, true));
        assert_int_equal(r.w.n_dis_total, 1);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, CLOCK(HOUR));
        run_do(&r, TICK(MIN));
        run_do(&r, CLOCK(-2 * HOUR));
        run_do(&r, TICK(MIN));
        assert_int_equal(r.w.be.requests, 1);   /* retry wait: 2 minutes of 30 */
        run_do(&r, TICK(28 * MIN));
        assert_int_equal(r.w.be.requests, 2);
        run_end(&r);
}

/* Tasks before a disruption that take longer than max_disruptions' window must not let a
 * second disruption in a minute after the first: the disruption counts when it happens. */
static void test_long_tasks_i5(void **state) {
        static const Setup su = { .n_rules = 1, .limit = { 3, HOUR }, .max_disruptions = { 1, HOUR }, .holds = 0, .retry = 0 };
        Run r;

        run_begin(&r, &su);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(SEC));
        run_do(&r, ANSWER(ANS_GRANT));
        run_do(&r, TICK(2 * HOUR));             /* the tasks before the disruption take 2 h */
        run_do(&r, TASK(0, true));              /* disruption at 2 h */
        run_do(&r, TASK(0, true));
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(MIN));                  /* the firing of 2 h ago has aged out */
        run_do(&r, ANSWER(ANS_GRANT));
        run_do(&r, TASK(0, true));              /* a second one a minute later: refused */
        run_end(&r);
}

/* The same answer repeated is counted, not repeated; a different one starts a new run. */
static void test_repeated_answers(void **state) {
        Run r;
        const PermissionAnswer *last;

        run_begin(&r, &fixed_setup);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        for (int i = 0; i < 3; i++) {
                run_do(&r, TICK(11 * MIN));
                run_do(&r, E(EV_ANSWER, .a = ANS_DENY, .b = 0));
        }
        last = permission_last_answer(r.w.node->perm);
        assert_non_null(last);
        assert_int_equal(last->answer, COORD_DENIED);
        assert_int_equal(last->count, 3);
        assert_false(last->changed);
        run_do(&r, TICK(SEC));
        run_do(&r, E(EV_ANSWER, .a = ANS_DENY, .b = 1));
        last = permission_last_answer(r.w.node->perm);
        assert_int_equal(last->count, 1);
        assert_true(last->changed);
        run_end(&r);
}

/* A lost answer (granted, but the node heard "unknown") while the rule stops wanting: the
 * slot the coordinator gave must come back. */
static void test_lost_grant_then_withdraw(void **state) {
        Run r;

        run_begin(&r, &fixed_setup);
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(11 * MIN));
        run_do(&r, ANSWER(ANS_LOST));
        assert_non_null(r.w.be.holder);
        assert_int_equal(perm_a(&r), PERM_ASKING);
        run_do(&r, CHECK(C_TRIG_A, COND_OK));
        run_do(&r, TICK(SEC));
        assert_null(r.w.be.holder);

        /* Again, after a grant was given back (unwanted: blocked) and the rule asked again at
         * once, before any reconcile saw the slot free. */
        run_do(&r, CHECK(C_TRIG_A, COND_PROBLEM));
        run_do(&r, TICK(11 * MIN));
        run_do(&r, CHECK(C_BLOCKER, COND_PROBLEM));
        run_do(&r, ANSWER(ANS_GRANT));
        assert_null(r.w.be.holder);
        run_do(&r, CHECK(C_BLOCKER, COND_OK));
        run_do(&r, TICK(SEC));
        assert_int_equal(perm_a(&r), PERM_ASKING);
        run_do(&r, ANSWER(ANS_LOST));
        assert_non_null(r.w.be.holder);
        run_do(&r, CHECK(C_TRIG_A, COND_OK));
        run_do(&r, TICK(SEC));
        assert_null(r.w.be.holder);
        run_end(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_restored_trigger_after_restart),
                cmocka_unit_test(test_blocker_during_wait_then_grant),
                cmocka_unit_test(test_late_grant_after_withdraw),
                cmocka_unit_test(test_late_grant_while_held),
                cmocka_unit_test(test_grant_recorded_then_sigkill),
                cmocka_unit_test(test_write_failure_before_disruption),
                cmocka_unit_test(test_clock_steps_debounce_retry),
                cmocka_unit_test(test_repeated_answers),
                cmocka_unit_test(test_lost_grant_then_withdraw),
                cmocka_unit_test(test_long_tasks_i5),
                cmocka_unit_test(test_random),
        };

        signal(SIGXFSZ, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
