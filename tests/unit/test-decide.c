/* SPDX-License-Identifier: MIT */
/* decide(): every branch, the order of the steps, and that explaining (steps != NULL) shows
 * each step once and decides exactly as acting does (steps == NULL). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "condition.h"
#include "decide.h"
#include "util.h"
#include "window.h"

#define SEC USEC_PER_SEC
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
/* 2024-01-15 12:00 UTC, a Monday. */
#define T0 (UINT64_C(1705320000) * SEC)

/* One case: a base input changed by setup, and what decide() must say. */
typedef struct Fixture {
        DecideInput in;
        EventLog fired, disruptions;
        DecideBlocker blockers[3];
        Window *windows[2];
} Fixture;

typedef struct Case {
        const char *name;
        void (*setup)(Fixture *f);
        Verdict expect;
        const char *reason;     /* a substring of the reason, or NULL */
} Case;

static Window *window_ok(const char *s) {
        Window *w = NULL;
        char *err = NULL;

        if (window_parse(s, &w, &err) != 0)
                fail_msg("window_parse(\"%s\"): %s", s, err ? err : "?");
        return w;
}

/* A disruptive rule whose trigger has held for an hour, observed in this process, nothing in
 * its way: it asks for permission. */
static void fixture_init(Fixture *f) {
        *f = (Fixture) {};
        f->in = (DecideInput) {
                .rule = "reboot-on-kernel",
                .disruptive = true,
                .holds = 10 * MIN, .retry = 30 * MIN,
                .limit = { .count = 3, .window_usec = HOUR },
                .armed = true, .trigger_why = "kernel is problem: newer kernel", .armed_for = HOUR, .fresh = true,
                .trigger_condition = "kernel",
                .since_fired = UINT64_MAX,
                .fired = &f->fired,
                .max_disruptions = { .count = 1, .window_usec = 24 * HOUR },
                .disruptions = &f->disruptions,
                .perm = PERM_NONE, .perm_backend = "etcd",
                .now = T0,
        };
}

static void fixture_done(Fixture *f) {
        eventlog_free(&f->fired);
        eventlog_free(&f->disruptions);
        for (size_t i = 0; i < ELEMENTSOF(f->windows); i++)
                window_free(f->windows[i]);
}

static void fired_times(EventLog *l, unsigned n, uint64_t first, uint64_t step) {
        for (unsigned i = 0; i < n; i++)
                assert_int_equal(eventlog_add(l, first + i * step), 0);
}

/* ---- the cases ------------------------------------------------------------------------ */

static void c_fire_asks(Fixture *f) { (void) f; }
static void c_idle(Fixture *f) { f->in.armed = false; f->in.trigger_why = "kernel is ok"; f->in.armed_for = 0; }
static void c_idle_flapping(Fixture *f) { c_idle(f); f->in.flapping = true; }
static void c_debounce(Fixture *f) { f->in.armed_for = 9 * MIN; }
static void c_debounce_zero(Fixture *f) { f->in.armed_for = 0; }
static void c_debounce_equal(Fixture *f) { f->in.armed_for = 10 * MIN; }
static void c_debounce_above(Fixture *f) { f->in.armed_for = 10 * MIN + 1; }
static void c_holds_zero(Fixture *f) { f->in.holds = 0; f->in.armed_for = 0; }
static void c_flapping(Fixture *f) { f->in.flapping = true; }
static void c_flapping_nondisruptive(Fixture *f) { f->in.flapping = true; f->in.disruptive = false; }
static void c_stale(Fixture *f) { f->in.fresh = false; }
static void c_stale_nondisruptive(Fixture *f) { f->in.fresh = false; f->in.disruptive = false; }
static void c_running(Fixture *f) { f->in.busy = "remedy is running"; }
static void c_busy_other(Fixture *f) { f->in.busy = "rule other holds the node's permission"; }
/* A lesser remedy while a reboot of the same condition is pending: superseded. */
static void c_superseded(Fixture *f) {
        f->in.disruptive = false;
        f->in.superseded_by = "reboot of rule reboot-on-kernel (asking for permission)";
}
/* A disruptive rule is never superseded (one disruption at a time is the busy step's). */
static void c_superseded_disruptive(Fixture *f) { f->in.superseded_by = "maintenance of rule m (holding)"; }
/* Running comes first: what runs is not superseded, it finishes. */
static void c_superseded_running(Fixture *f) { c_superseded(f); f->in.busy = "remedy is running"; }
static void c_retry_wait(Fixture *f) {
        f->in.same_episode = true;
        f->in.attempts = 1;
        f->in.since_fired = 5 * MIN;
        fired_times(&f->fired, 1, T0 - 5 * MIN, 0);
}
static void c_retry_acting(Fixture *f) { c_retry_wait(f); f->in.acting = true; f->in.perm = PERM_HELD; }
static void c_retry_over(Fixture *f) { c_retry_wait(f); f->in.since_fired = 30 * MIN; }
static void c_retry_other_episode(Fixture *f) { c_retry_wait(f); f->in.same_episode = false; }
static void c_blocker_problem(Fixture *f) {
        f->blockers[0] = (DecideBlocker) { .name = "etcd-health", .present = true, .state = COND_PROBLEM, .message = "no quorum" };
        f->in.blockers = f->blockers;
        f->in.n_blockers = 1;
}
static void c_blocker_unknown(Fixture *f) { c_blocker_problem(f); f->blockers[0].state = COND_UNKNOWN; }
static void c_blocker_ok(Fixture *f) { c_blocker_problem(f); f->blockers[0].state = COND_OK; }
static void c_blocker_absent(Fixture *f) {
        /* No such check, or its check does not apply here: whatever state the slot has, it is
         * not a blocker. */
        c_blocker_problem(f);
        f->blockers[0].present = false;
}
static void c_blocker_pending(Fixture *f) {
        /* Its check is loaded but has not reported since medicd started: not known to be clear. */
        c_blocker_absent(f);
        f->blockers[0].pending = true;
}
static void c_blocker_stale_ok(Fixture *f) {
        /* Restored as ok from the state file, not checked again yet: not known to be clear. */
        c_blocker_ok(f);
        f->blockers[0].stale = true;
}
static void c_blockers_several(Fixture *f) {
        f->blockers[0] = (DecideBlocker) { .name = "absent", .present = false, .state = COND_PROBLEM };
        f->blockers[1] = (DecideBlocker) { .name = "logins", .present = true, .state = COND_UNKNOWN, .message = "utmp?" };
        f->blockers[2] = (DecideBlocker) { .name = "etcd-health", .present = true, .state = COND_PROBLEM, .message = "down" };
        f->in.blockers = f->blockers;
        f->in.n_blockers = 3;
}
static void c_window_closed(Fixture *f) {
        f->windows[0] = window_ok("daily 02:00-03:00 UTC");
        f->in.windows = f->windows;
        f->in.n_windows = 1;
}
static void c_window_open(Fixture *f) {
        c_window_closed(f);
        f->in.now = T0 - 10 * HOUR + 30 * MIN; /* 02:30 UTC */
}
static void c_windows_one_open(Fixture *f) {
        f->windows[0] = window_ok("daily 02:00-03:00 UTC");
        f->windows[1] = window_ok("Mon 11:00-13:00 UTC");
        f->in.windows = f->windows;
        f->in.n_windows = 2;
}
static void c_windows_all_closed(Fixture *f) {
        c_windows_one_open(f);
        f->in.now = T0 + 24 * HOUR; /* Tuesday noon */
}
static void c_limit_full(Fixture *f) { fired_times(&f->fired, 3, T0 - 50 * MIN, 10 * MIN); }
static void c_limit_not_full(Fixture *f) { fired_times(&f->fired, 2, T0 - 50 * MIN, 10 * MIN); }
static void c_limit_aged_out(Fixture *f) { fired_times(&f->fired, 3, T0 - 3 * HOUR, 10 * MIN); }
static void c_limit_future(Fixture *f) {
        /* Firings "in the future" (the clock was stepped back) still count. */
        fired_times(&f->fired, 3, T0 + HOUR, 10 * MIN);
}
static void c_escalate(Fixture *f) { c_limit_full(f); f->in.escalate = "replace-node"; }
static void c_escalated_already(Fixture *f) { c_escalate(f); f->in.same_episode = true; f->in.escalated = true; }
static void c_escalated_other_episode(Fixture *f) { c_escalate(f); f->in.escalated = true; }
static void c_limit_acting_own(Fixture *f) {
        /* Acting: the third firing is this one, recorded already. */
        c_limit_full(f);
        f->in.acting = true;
        f->in.perm = PERM_HELD;
}
static void c_limit_acting_over(Fixture *f) { fired_times(&f->fired, 4, T0 - 50 * MIN, 10 * MIN); f->in.acting = true; f->in.perm = PERM_HELD; }
static void c_node_limit(Fixture *f) { fired_times(&f->disruptions, 1, T0 - HOUR, 0); }
static void c_node_limit_acting_own(Fixture *f) { c_node_limit(f); f->in.acting = true; f->in.perm = PERM_HELD; }
static void c_node_limit_acting_over(Fixture *f) {
        fired_times(&f->disruptions, 2, T0 - HOUR, MIN);
        f->in.acting = true;
        f->in.perm = PERM_HELD;
}
static void c_node_limit_off(Fixture *f) { c_node_limit(f); f->in.max_disruptions = (RateSpec) {}; }
static void c_node_limit_dry_run(Fixture *f) { c_node_limit(f); f->in.dry_run = true; }
static void c_node_limit_nondisruptive(Fixture *f) { c_node_limit(f); f->in.disruptive = false; }
static void c_parked(Fixture *f) { f->in.parked = true; f->in.parked_reason = "3 reboots within 1h"; }
static void c_parked_idle(Fixture *f) { c_parked(f); c_idle(f); }
static void c_stop_file(Fixture *f) { f->in.stop_file = "/run/medic/stop"; }
static void c_stop_file_held(Fixture *f) { c_stop_file(f); f->in.perm = PERM_HELD; }
static void c_stop_file_nondisruptive(Fixture *f) { c_stop_file(f); f->in.disruptive = false; }
static void c_asking(Fixture *f) { f->in.perm = PERM_ASKING; f->in.perm_waiting_for = 42 * SEC; }
static void c_asking_denied(Fixture *f) {
        c_asking(f);
        f->in.perm_answer = "denied";
        f->in.perm_reason = "budget 1 used by node-b";
        f->in.perm_count = 3;
}
static void c_asking_unknown(Fixture *f) { c_asking(f); f->in.perm_answer = "unknown"; f->in.perm_count = 1; }
static void c_held(Fixture *f) { f->in.perm = PERM_HELD; }
static void c_held_acting(Fixture *f) { c_held(f); f->in.acting = true; fired_times(&f->disruptions, 1, T0, 0); fired_times(&f->fired, 1, T0, 0); }
/* An operator took the slot back while the tasks ran (`medicctl coordinator release`): the
 * re-decision at the moment of acting refuses; only "not held" counts, a backend that cannot
 * tell leaves perm_revoked NULL (held-acting). */
static void c_held_revoked_acting(Fixture *f) {
        c_held_acting(f);
        f->in.perm_revoked = "the coordinator no longer shows this node as holder (holders/n1 is absent)";
}
static void c_held_revoked(Fixture *f) {
        c_held(f);
        f->in.perm_revoked = "the coordinator no longer shows this node as holder (holders/n1 is absent)";
}
static void c_revoked_not_held(Fixture *f) { c_asking(f); f->in.perm_revoked = "ignored: not held"; }
static void c_order_stop_revoked(Fixture *f) { c_held_revoked_acting(f); c_stop_file(f); }
static void c_dry_run(Fixture *f) { f->in.dry_run = true; }
static void c_nondisruptive(Fixture *f) { f->in.disruptive = false; }
static void c_nondisruptive_asking_ignored(Fixture *f) { c_nondisruptive(f); f->in.perm = PERM_ASKING; }
/* The first failing step decides. */
static void c_order_debounce_blocked(Fixture *f) { c_debounce(f); c_blocker_problem(f); c_window_closed(f); }
static void c_order_blocked_window(Fixture *f) { c_blocker_unknown(f); c_window_closed(f); c_limit_full(f); }
static void c_order_window_limit(Fixture *f) { c_window_closed(f); c_limit_full(f); c_stop_file(f); }
static void c_order_limit_node(Fixture *f) { c_limit_full(f); c_node_limit(f); c_stop_file(f); }
static void c_order_node_stop(Fixture *f) { c_node_limit(f); c_stop_file(f); c_asking(f); }
static void c_order_running_retry(Fixture *f) { c_retry_wait(f); c_running(f); }
static void c_order_flapping_stale(Fixture *f) { c_flapping(f); c_stale(f); c_running(f); }
static void c_order_debounce_flapping(Fixture *f) { c_debounce(f); c_flapping(f); }

static const Case cases[] = {
        { "fire-asks", c_fire_asks, VERDICT_FIRE, "asking the etcd coordinator" },
        { "idle", c_idle, VERDICT_IDLE, "kernel is ok" },
        { "idle-flapping", c_idle_flapping, VERDICT_IDLE, NULL },
        { "debounce", c_debounce, VERDICT_DEBOUNCE, "debounce: problem for 9m of 10m" },
        { "debounce-zero", c_debounce_zero, VERDICT_DEBOUNCE, NULL },
        { "debounce-equal", c_debounce_equal, VERDICT_FIRE, NULL },
        { "debounce-above", c_debounce_above, VERDICT_FIRE, NULL },
        { "holds-zero", c_holds_zero, VERDICT_FIRE, NULL },
        { "flapping", c_flapping, VERDICT_FLAPPING, "kernel is flapping" },
        { "flapping-nondisruptive", c_flapping_nondisruptive, VERDICT_FIRE, "firing" },
        { "stale", c_stale, VERDICT_STALE, "not observed since medicd started" },
        { "stale-nondisruptive", c_stale_nondisruptive, VERDICT_FIRE, NULL },
        { "running", c_running, VERDICT_RUNNING, "remedy is running" },
        { "busy-other", c_busy_other, VERDICT_RUNNING, "rule other holds" },
        { "superseded", c_superseded, VERDICT_SUPERSEDED,
          "superseded by the reboot of rule reboot-on-kernel (asking for permission)" },
        { "superseded-disruptive", c_superseded_disruptive, VERDICT_FIRE, NULL },
        { "superseded-running", c_superseded_running, VERDICT_RUNNING, "remedy is running" },
        { "retry-wait", c_retry_wait, VERDICT_RETRY_WAIT, "fired 5m ago" },
        { "retry-acting", c_retry_acting, VERDICT_FIRE, "firing" },
        { "retry-over", c_retry_over, VERDICT_FIRE, NULL },
        { "retry-other-episode", c_retry_other_episode, VERDICT_FIRE, NULL },
        { "blocker-problem", c_blocker_problem, VERDICT_BLOCKED, "blocked by etcd-health (problem)" },
        { "blocker-unknown", c_blocker_unknown, VERDICT_BLOCKED, "blocked by etcd-health (unknown)" },
        { "blocker-ok", c_blocker_ok, VERDICT_FIRE, NULL },
        { "blocker-absent", c_blocker_absent, VERDICT_FIRE, NULL },
        { "blocker-pending", c_blocker_pending, VERDICT_BLOCKED, "blocked by etcd-health (not reported yet)" },
        { "blocker-stale-ok", c_blocker_stale_ok, VERDICT_BLOCKED, "blocked by etcd-health (not checked since medicd started)" },
        { "blockers-several", c_blockers_several, VERDICT_BLOCKED, "blocked by logins (unknown) and others" },
        { "window-closed", c_window_closed, VERDICT_WINDOW, "outside the maintenance window" },
        { "window-open", c_window_open, VERDICT_FIRE, NULL },
        { "windows-one-open", c_windows_one_open, VERDICT_FIRE, NULL },
        { "windows-all-closed", c_windows_all_closed, VERDICT_WINDOW, NULL },
        { "limit-full", c_limit_full, VERDICT_LIMITED, "rate limit 3/1h reached (no escalation)" },
        { "limit-not-full", c_limit_not_full, VERDICT_FIRE, NULL },
        { "limit-aged-out", c_limit_aged_out, VERDICT_FIRE, NULL },
        { "limit-future", c_limit_future, VERDICT_LIMITED, NULL },
        { "escalate", c_escalate, VERDICT_ESCALATE, "escalating to replace-node" },
        { "escalated-already", c_escalated_already, VERDICT_LIMITED, "(already escalated)" },
        { "escalated-other-episode", c_escalated_other_episode, VERDICT_ESCALATE, NULL },
        { "limit-acting-own", c_limit_acting_own, VERDICT_FIRE, "firing" },
        { "limit-acting-over", c_limit_acting_over, VERDICT_LIMITED, NULL },
        { "node-limit", c_node_limit, VERDICT_NODE_LIMIT, "rule reboot-on-kernel wanted another" },
        { "node-limit-acting-own", c_node_limit_acting_own, VERDICT_FIRE, "firing" },
        { "node-limit-acting-over", c_node_limit_acting_over, VERDICT_NODE_LIMIT, NULL },
        { "node-limit-off", c_node_limit_off, VERDICT_FIRE, NULL },
        { "node-limit-dry-run", c_node_limit_dry_run, VERDICT_FIRE, "would fire (dry-run)" },
        { "node-limit-nondisruptive", c_node_limit_nondisruptive, VERDICT_FIRE, NULL },
        { "parked", c_parked, VERDICT_PARKED, "the node is parked" },
        { "parked-idle", c_parked_idle, VERDICT_PARKED, NULL },
        { "stop-file", c_stop_file, VERDICT_STOPPED, "stop file /run/medic/stop is present" },
        { "stop-file-held", c_stop_file_held, VERDICT_STOPPED, NULL },
        { "stop-file-nondisruptive", c_stop_file_nondisruptive, VERDICT_FIRE, NULL },
        { "asking", c_asking, VERDICT_ASKING, "waiting for the coordinator" },
        { "asking-denied", c_asking_denied, VERDICT_ASKING, "denied: budget 1 used by node-b" },
        { "asking-unknown", c_asking_unknown, VERDICT_ASKING, "unknown" },
        { "held", c_held, VERDICT_FIRE, "firing" },
        { "held-acting", c_held_acting, VERDICT_FIRE, "firing" },
        { "held-revoked-acting", c_held_revoked_acting, VERDICT_REVOKED, "no longer shows this node as holder" },
        { "held-revoked", c_held_revoked, VERDICT_REVOKED, "holders/n1 is absent" },
        { "revoked-not-held", c_revoked_not_held, VERDICT_ASKING, NULL },
        { "order-stop-revoked", c_order_stop_revoked, VERDICT_STOPPED, NULL },
        { "dry-run", c_dry_run, VERDICT_FIRE, "would fire (dry-run)" },
        { "nondisruptive", c_nondisruptive, VERDICT_FIRE, "firing" },
        { "nondisruptive-asking-ignored", c_nondisruptive_asking_ignored, VERDICT_FIRE, "firing" },
        { "order-debounce-blocked", c_order_debounce_blocked, VERDICT_DEBOUNCE, NULL },
        { "order-blocked-window", c_order_blocked_window, VERDICT_BLOCKED, NULL },
        { "order-window-limit", c_order_window_limit, VERDICT_WINDOW, NULL },
        { "order-limit-node", c_order_limit_node, VERDICT_LIMITED, NULL },
        { "order-node-stop", c_order_node_stop, VERDICT_NODE_LIMIT, NULL },
        { "order-running-retry", c_order_running_retry, VERDICT_RUNNING, NULL },
        { "order-flapping-stale", c_order_flapping_stale, VERDICT_FLAPPING, NULL },
        { "order-debounce-flapping", c_order_debounce_flapping, VERDICT_DEBOUNCE, NULL },
};

static Verdict run_case(const Case *c, struct json_object *steps, char **ret_reason) {
        Fixture f;
        Verdict v;

        fixture_init(&f);
        c->setup(&f);
        v = decide(&f.in, steps, ret_reason);
        fixture_done(&f);
        return v;
}

static void test_cases(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Case *c = &cases[i];
                char *reason = NULL;
                Verdict v = run_case(c, NULL, &reason);

                if (v != c->expect)
                        fail_msg("case %s: verdict %s, expected %s (%s)", c->name, verdict_to_string(v),
                                 verdict_to_string(c->expect), reason ? reason : "no reason");
                if (!reason)
                        fail_msg("case %s: no reason", c->name);
                if (c->reason && !strstr(reason, c->reason))
                        fail_msg("case %s: reason \"%s\" lacks \"%s\"", c->name, reason, c->reason);
                free(reason);
                /* Without ret_reason too. */
                assert_int_equal(run_case(c, NULL, NULL), c->expect);
        }
}

/* The steps every explanation shows exactly once; "parked" and "node-limit" only when they
 * apply (parked node; disruptive rule with max_disruptions). */
static const char *const always[] = {
        "condition", "debounce", "flapping", "fresh", "running", "retry", "blockers", "window", "limit",
        "coordinator", "dry_run",
};

static unsigned count_step(struct json_object *steps, const char *name, bool *ret_ok) {
        unsigned n = 0;

        for (size_t i = 0; i < json_object_array_length(steps); i++) {
                struct json_object *o = json_object_array_get_idx(steps, i), *v;
                assert_true(json_object_object_get_ex(o, "step", &v));
                if (strcmp(json_object_get_string(v), name) != 0)
                        continue;
                n++;
                assert_true(json_object_object_get_ex(o, "ok", &v));
                assert_true(json_object_is_type(v, json_type_boolean));
                if (ret_ok)
                        *ret_ok = json_object_get_boolean(v);
                assert_true(json_object_object_get_ex(o, "detail", &v));
                assert_true(json_object_is_type(v, json_type_string));
                assert_true(strlen(json_object_get_string(v)) > 0);
        }
        return n;
}

static void test_steps_match(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Case *c = &cases[i];
                struct json_object *steps = json_object_new_array();
                char *r1 = NULL, *r2 = NULL;
                Verdict v1 = run_case(c, NULL, &r1), v2 = run_case(c, steps, &r2);
                Fixture f;
                size_t expected_n = ELEMENTSOF(always);
                bool ok = true, any_failed = false;

                if (v1 != v2)
                        fail_msg("case %s: verdict %s with steps, %s without", c->name, verdict_to_string(v2),
                                 verdict_to_string(v1));
                if (!streq_ptr(r1, r2))
                        fail_msg("case %s: reason \"%s\" with steps, \"%s\" without", c->name, r2, r1);
                for (size_t k = 0; k < ELEMENTSOF(always); k++) {
                        unsigned n = count_step(steps, always[k], &ok);
                        if (n != 1)
                                fail_msg("case %s: step %s shown %u times", c->name, always[k], n);
                        any_failed |= !ok;
                }
                fixture_init(&f);
                c->setup(&f);
                bool want_parked = f.in.parked;
                bool want_node = f.in.disruptive && f.in.max_disruptions.count > 0;
                bool want_superseded = f.in.superseded_by && !f.in.disruptive;
                fixture_done(&f);
                if (count_step(steps, "superseded", &ok) != (want_superseded ? 1u : 0u))
                        fail_msg("case %s: step superseded shown wrongly", c->name);
                if (want_superseded) {
                        assert_false(ok);
                        expected_n++;
                        any_failed = true;
                }
                if (count_step(steps, "parked", &ok) != (want_parked ? 1u : 0u))
                        fail_msg("case %s: step parked shown wrongly", c->name);
                if (want_parked) {
                        assert_false(ok);
                        expected_n++;
                }
                if (count_step(steps, "node-limit", &ok) != (want_node ? 1u : 0u))
                        fail_msg("case %s: step node-limit shown wrongly", c->name);
                expected_n += want_node;
                any_failed |= want_node && !ok;
                if (json_object_array_length(steps) != expected_n)
                        fail_msg("case %s: %zu steps, expected %zu: %s", c->name, json_object_array_length(steps),
                                 expected_n, json_object_to_json_string(steps));
                /* A verdict other than fire has a failing step to show for it; fire has none
                 * (dry_run is "ok: false" when it only logs). */
                if (v1 != VERDICT_FIRE && !any_failed && !want_parked)
                        fail_msg("case %s: %s without a failing step", c->name, verdict_to_string(v1));
                free(r1);
                free(r2);
                json_object_put(steps);
        }
}

/* Which step fails, for a few verdicts: the explanation points at the right one. */
static void test_failing_step(void **state) {
        static const struct {
                void (*setup)(Fixture *f);
                const char *step;
        } t[] = {
                { c_idle, "condition" }, { c_debounce, "debounce" }, { c_flapping, "flapping" }, { c_stale, "fresh" },
                { c_running, "running" }, { c_superseded, "superseded" }, { c_retry_wait, "retry" }, { c_blocker_unknown, "blockers" },
                { c_window_closed, "window" }, { c_limit_full, "limit" }, { c_node_limit, "node-limit" },
                { c_stop_file, "coordinator" }, { c_asking_denied, "coordinator" }, { c_dry_run, "dry_run" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                Fixture f;
                struct json_object *steps = json_object_new_array();
                bool ok = true;

                fixture_init(&f);
                t[i].setup(&f);
                (void) decide(&f.in, steps, NULL);
                assert_int_equal(count_step(steps, t[i].step, &ok), 1);
                if (ok)
                        fail_msg("step %s should fail: %s", t[i].step, json_object_to_json_string(steps));
                fixture_done(&f);
                json_object_put(steps);
        }
}

static void test_details(void **state) {
        Fixture f;
        struct json_object *steps = json_object_new_array();
        const char *s;

        fixture_init(&f);
        c_blockers_several(&f);
        c_asking_denied(&f);
        (void) decide(&f.in, steps, NULL);
        s = json_object_to_json_string(steps);
        /* Both blockers that are not ok, not the absent one. */
        assert_non_null(strstr(s, "logins (unknown: utmp?)"));
        assert_non_null(strstr(s, "etcd-health (problem: down)"));
        assert_null(strstr(s, "absent ("));
        assert_non_null(strstr(s, "(repeated)"));
        assert_non_null(strstr(s, "budget 1 used by node-b"));
        fixture_done(&f);
        json_object_put(steps);
}

static void test_verdict_names(void **state) {
        for (int v = 0; v < _VERDICT_MAX; v++) {
                assert_non_null(verdict_to_string((Verdict) v));
                assert_string_not_equal(verdict_to_string((Verdict) v), "?");
                for (int w = 0; w < v; w++)
                        assert_string_not_equal(verdict_to_string((Verdict) v), verdict_to_string((Verdict) w));
        }
        assert_string_equal(verdict_to_string(_VERDICT_MAX), "?");
        assert_string_equal(verdict_to_string(VERDICT_FIRE), "fire");
}

/* The debounce measured as the daemon measures it (condition_held_for()): the wall clock
 * stepped back or forward an hour while the boot clock moved 3 s is 3 s of problem. */
static void test_clock_steps(void **state) {
        static const RateSpec flap = { .count = 5, .window_usec = 10 * MIN };
        static const int64_t steps_usec[] = { -(int64_t) HOUR, (int64_t) HOUR, 0 };
        const uint64_t bt0 = 1000 * SEC;

        for (size_t i = 0; i < ELEMENTSOF(steps_usec); i++) {
                Condition *c = condition_new("kernel");
                Fixture f;
                uint64_t now = T0 + (uint64_t) steps_usec[i] + 3 * SEC, now_bt = bt0 + 3 * SEC;

                assert_non_null(c);
                assert_int_equal(condition_update(c, COND_PROBLEM, "newer kernel", NULL, T0, &flap), 1);
                condition_observed(c, true, bt0);
                fixture_init(&f);
                f.in.holds = 10 * MIN;
                f.in.armed_for = condition_held_for(c, now, now_bt);
                f.in.now = now;
                assert_int_equal(f.in.armed_for, 3 * SEC);
                assert_int_equal(decide(&f.in, NULL, NULL), VERDICT_DEBOUNCE);

                /* Ten minutes later on the boot clock it holds, whatever the wall clock says. */
                f.in.armed_for = condition_held_for(c, now, bt0 + 10 * MIN);
                assert_int_equal(decide(&f.in, NULL, NULL), VERDICT_FIRE);
                fixture_done(&f);

                /* A state only restored (no boot-clock time): a wall clock stepped back reads
                 * as "not yet", and such a trigger is stale for a disruptive rule anyway. */
                c->since_bt = 0;
                c->observed_bt = 0;
                fixture_init(&f);
                f.in.armed_for = condition_held_for(c, T0 - HOUR, bt0 + 3 * SEC);
                f.in.fresh = c->observed_bt != 0;
                assert_int_equal(f.in.armed_for, 0);
                assert_int_equal(decide(&f.in, NULL, NULL), VERDICT_DEBOUNCE);
                f.in.armed_for = condition_held_for(c, T0 + HOUR, bt0 + 3 * SEC);
                assert_int_equal(decide(&f.in, NULL, NULL), VERDICT_STALE);
                fixture_done(&f);
                condition_free(c);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cases),
                cmocka_unit_test(test_steps_match),
                cmocka_unit_test(test_failing_step),
                cmocka_unit_test(test_details),
                cmocka_unit_test(test_verdict_names),
                cmocka_unit_test(test_clock_steps),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
