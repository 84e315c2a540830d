/* SPDX-License-Identifier: MIT */
/* The pure decision: is the trigger there, held long enough, trusted (not flapping, observed
 * in this process), not blocked, inside a window, within the rule's and the node's limits,
 * not stopped, and (for disruptive remedies) permitted? The first step that fails decides;
 * when explaining, every step is still shown once. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "decide.h"
#include "duration.h"
#include "util.h"

static const char *const verdict_names[_VERDICT_MAX] = {
        [VERDICT_IDLE] = "idle", [VERDICT_DEBOUNCE] = "debounce", [VERDICT_FLAPPING] = "flapping",
        [VERDICT_STALE] = "waiting-for-fresh-result", [VERDICT_RUNNING] = "running",
        [VERDICT_RETRY_WAIT] = "waiting-for-effect", [VERDICT_BLOCKED] = "blocked",
        [VERDICT_WINDOW] = "outside-window", [VERDICT_LIMITED] = "rate-limited", [VERDICT_ESCALATE] = "escalate",
        [VERDICT_NODE_LIMIT] = "node-limit", [VERDICT_STOPPED] = "stopped",
        [VERDICT_ASKING] = "asking-permission", [VERDICT_FIRE] = "fire", [VERDICT_PARKED] = "parked",
        [VERDICT_SUPERSEDED] = "superseded",
        [VERDICT_REVOKED] = "permission-revoked",
};

const char *verdict_to_string(Verdict v) {
        return v >= 0 && v < _VERDICT_MAX ? verdict_names[v] : "?";
}

typedef struct Run {
        struct json_object *steps;
        Verdict v;
        char *reason;
} Run;

static void step(Run *run, const char *name, bool ok, const char *fmt, ...) _printf_(4, 5);
static void step(Run *run, const char *name, bool ok, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        if (!run->steps)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "step", json_object_new_string(name));
        json_object_object_add(o, "ok", json_object_new_boolean(ok));
        json_object_object_add(o, "detail", json_object_new_string(buf));
        json_object_array_add(run->steps, o);
}

/* The first failing step sets the verdict. Returns true when the caller may stop (nobody
 * wants the remaining steps). */
static bool verdict(Run *run, Verdict v, const char *fmt, ...) _printf_(3, 4);
static bool verdict(Run *run, Verdict v, const char *fmt, ...) {
        va_list ap;

        if (run->v == _VERDICT_MAX) {
                run->v = v;
                va_start(ap, fmt);
                if (vasprintf(&run->reason, fmt, ap) < 0)
                        run->reason = NULL;
                va_end(ap);
        }
        return !run->steps;
}

static const char *dur(uint64_t usec, char *buf, size_t n) {
        return duration_format(usec / USEC_PER_SEC * USEC_PER_SEC, buf, n);
}

/* Within a limit: one more event allowed, or (acting) the one already recorded is inside it. */
static bool within(const RateSpec *r, const EventLog *l, uint64_t now, bool acting) {
        if (!acting)
                return ratelimit_allows(r, l, now);
        return eventlog_count(l, now, r->window_usec) <= r->count;
}

static bool step_trigger(Run *run, const DecideInput *in) {
        char b1[32], b2[32];

        if (in->parked) {
                step(run, "parked", false, "the node is parked (%s): no automation until 'medicctl unpark'",
                     in->parked_reason ? in->parked_reason : "reboot-loop protection");
                if (verdict(run, VERDICT_PARKED, "the node is parked"))
                        return true;
        }
        if (!in->armed) {
                step(run, "condition", false, "%s", in->trigger_why ? in->trigger_why : "not in problem");
                if (verdict(run, VERDICT_IDLE, "%s", in->trigger_why ? in->trigger_why : "not in problem"))
                        return true;
                step(run, "debounce", false, "n/a: the trigger does not hold");
        } else {
                step(run, "condition", true, "%s", in->trigger_why ? in->trigger_why : "the trigger holds");
                if (in->armed_for < in->holds) {
                        step(run, "debounce", false, "problem for %s of %s", dur(in->armed_for, b1, sizeof b1),
                             duration_format(in->holds, b2, sizeof b2));
                        if (verdict(run, VERDICT_DEBOUNCE, "debounce: problem for %s of %s", b1, b2))
                                return true;
                } else
                        step(run, "debounce", true, "problem for %s (holds %s)", dur(in->armed_for, b1, sizeof b1),
                             duration_format(in->holds, b2, sizeof b2));
        }
        if (in->flapping) {
                step(run, "flapping", !in->disruptive, "%s is flapping%s",
                     in->trigger_condition ? in->trigger_condition : "the trigger",
                     in->disruptive ? ": never triggers a disruptive remedy" : "");
                if (in->disruptive && in->armed &&
                    verdict(run, VERDICT_FLAPPING, "%s is flapping", in->trigger_condition ? in->trigger_condition : "the trigger"))
                        return true;
        } else
                step(run, "flapping", true, "not flapping");
        if (!in->disruptive)
                step(run, "fresh", true, "not disruptive: a restored trigger may act");
        else if (!in->armed)
                step(run, "fresh", true, "n/a: the trigger does not hold");
        else if (!in->fresh) {
                step(run, "fresh", false, "the trigger is only restored from the state file: waiting for a run of its "
                     "check in this process");
                if (verdict(run, VERDICT_STALE, "the trigger was not observed since medicd started"))
                        return true;
        } else
                step(run, "fresh", true, "observed by a run of its check in this process");
        return false;
}

static bool step_progress(Run *run, const DecideInput *in) {
        char b1[32], b2[32];

        if (in->busy) {
                step(run, "running", false, "%s", in->busy);
                if (verdict(run, VERDICT_RUNNING, "%s", in->busy))
                        return true;
        } else
                step(run, "running", true, "nothing in progress");
        /* Shown only when it applies: a lesser remedy that a disruption will make moot. */
        if (in->superseded_by && !in->disruptive) {
                step(run, "superseded", false, "superseded by the %s, which clears %s", in->superseded_by,
                     in->trigger_condition ? in->trigger_condition : "the trigger");
                if (verdict(run, VERDICT_SUPERSEDED, "superseded by the %s", in->superseded_by))
                        return true;
        }
        if (!in->acting && in->armed && in->same_episode && in->attempts > 0 && in->since_fired < in->retry) {
                step(run, "retry", false, "fired %s ago; waiting %s for the condition to clear",
                     dur(in->since_fired, b1, sizeof b1), duration_format(in->retry, b2, sizeof b2));
                if (verdict(run, VERDICT_RETRY_WAIT, "fired %s ago, waiting %s to see whether it helped", b1, b2))
                        return true;
        } else if (in->same_episode && in->attempts > 0)
                step(run, "retry", true, "fired %u time%s in this episode, last %s ago", in->attempts,
                     in->attempts == 1 ? "" : "s",
                     in->since_fired == UINT64_MAX ? "?" : dur(in->since_fired, b1, sizeof b1));
        else
                step(run, "retry", true, "not fired in this episode");
        return false;
}

static bool step_blockers(Run *run, const DecideInput *in) {
        char list[400] = "";
        size_t n = 0, len = 0;
        const DecideBlocker *first = NULL;

        /* Unknown blocks: a blocker that cannot be read is not known to be clear, nor is one
         * whose check has not reported since medicd started (restored, or no result yet). */
        for (size_t i = 0; i < in->n_blockers; i++) {
                const DecideBlocker *b = &in->blockers[i];
                const char *what;
                if (b->present && b->state == COND_OK && !b->stale)
                        continue;
                if (!b->present && !b->pending)
                        continue;
                what = !b->present ? "not reported yet" : b->stale && b->state == COND_OK ? "not checked since medicd started"
                     : cond_state_to_string(b->state);
                if (!first)
                        first = b;
                n++;
                if (len < sizeof list) {
                        int k = snprintf(list + len, sizeof list - len, "%s%s (%s%s%s)", len ? ", " : "", b->name, what,
                                         b->present && b->message ? ": " : "", b->present && b->message ? b->message : "");
                        len += k > 0 ? (size_t) k : 0;
                }
        }
        if (!first) {
                step(run, "blockers", true, in->n_blockers ? "no blocker is problem or unknown" : "no blockers");
                return false;
        }
        step(run, "blockers", false, "blocked by %s", list);
        return verdict(run, VERDICT_BLOCKED, "blocked by %s (%s)%s", first->name,
                       !first->present ? "not reported yet" : first->stale && first->state == COND_OK ?
                       "not checked since medicd started" : cond_state_to_string(first->state),
                       n > 1 ? " and others" : "");
}

static bool step_window(Run *run, const DecideInput *in) {
        char b1[32];
        time_t t = (time_t) (in->now / USEC_PER_SEC), next = (time_t) -1;
        bool inside = false;

        if (in->n_windows == 0) {
                step(run, "window", true, "no window: any time");
                return false;
        }
        for (size_t i = 0; i < in->n_windows && !inside; i++)
                inside = window_contains(in->windows[i], t);
        if (inside) {
                step(run, "window", true, "inside the maintenance window");
                return false;
        }
        for (size_t i = 0; i < in->n_windows; i++) {
                time_t n2 = window_next_open(in->windows[i], t);
                if (n2 != (time_t) -1 && (next == (time_t) -1 || n2 < next))
                        next = n2;
        }
        step(run, "window", false, "outside the maintenance window%s (next opens in %s)", in->n_windows > 1 ? "s" : "",
             next == (time_t) -1 ? "never" : duration_format((uint64_t) (next - t) * USEC_PER_SEC, b1, sizeof b1));
        return verdict(run, VERDICT_WINDOW, "outside the maintenance window");
}

static bool step_limits(Run *run, const DecideInput *in) {
        char b1[32], b2[32], b3[32];
        size_t used = eventlog_count(in->fired, in->now, in->limit.window_usec);

        if (!within(&in->limit, in->fired, in->now, in->acting)) {
                uint64_t next = ratelimit_next_allowed(&in->limit, in->fired, in->now);
                step(run, "limit", false, "fired %zu times within %s (limit %s); next allowed in %s", used,
                     duration_format(in->limit.window_usec, b1, sizeof b1), ratespec_format(&in->limit, b2, sizeof b2),
                     dur(usec_sub_sat(next, in->now), b3, sizeof b3));
                if (in->escalate && !(in->same_episode && in->escalated)) {
                        if (verdict(run, VERDICT_ESCALATE, "rate limit %s reached: escalating to %s", b2, in->escalate))
                                return true;
                } else if (verdict(run, VERDICT_LIMITED, "rate limit %s reached%s", b2,
                                   in->escalate ? " (already escalated)" : " (no escalation)"))
                        return true;
        } else
                step(run, "limit", true, "%zu of %s used", used, ratespec_format(&in->limit, b1, sizeof b1));

        if (!in->disruptive)
                return false;
        if (in->max_disruptions.count > 0 && !in->dry_run &&
            !within(&in->max_disruptions, in->disruptions, in->now, in->acting)) {
                step(run, "node-limit", false, "%zu disruptive remedies within %s (max_disruptions %s)",
                     eventlog_count(in->disruptions, in->now, in->max_disruptions.window_usec),
                     duration_format(in->max_disruptions.window_usec, b1, sizeof b1),
                     ratespec_format(&in->max_disruptions, b2, sizeof b2));
                if (verdict(run, VERDICT_NODE_LIMIT, "%zu disruptive remedies within %s (max_disruptions %s): rule %s wanted another",
                            eventlog_count(in->disruptions, in->now, in->max_disruptions.window_usec), b1, b2,
                            in->rule ? in->rule : "?"))
                        return true;
        } else if (in->max_disruptions.count > 0)
                step(run, "node-limit", true, "%zu of %s disruptions of the node used",
                     eventlog_count(in->disruptions, in->now, in->max_disruptions.window_usec),
                     ratespec_format(&in->max_disruptions, b1, sizeof b1));
        return false;
}

static bool step_permission(Run *run, const DecideInput *in) {
        char b1[32];
        const char *backend = in->perm_backend ? in->perm_backend : "the";

        if (!in->disruptive) {
                step(run, "coordinator", true, "not disruptive: no permission needed");
                return false;
        }
        if (in->stop_file) {
                step(run, "coordinator", false, "stop file %s is present", in->stop_file);
                return verdict(run, VERDICT_STOPPED, "stop file %s is present", in->stop_file);
        }
        switch (in->perm) {
        case PERM_HELD:
                if (in->perm_revoked) {
                        step(run, "coordinator", false, "the %s coordinator took the permission back: %s", backend,
                             in->perm_revoked);
                        return verdict(run, VERDICT_REVOKED, "%s", in->perm_revoked);
                }
                step(run, "coordinator", true, "this rule holds the %s coordinator's permission", backend);
                return false;
        case PERM_ASKING:
                if (in->perm_answer) {
                        step(run, "coordinator", false, "waiting for the %s coordinator for %s; last answer %s%s%s%s",
                             backend, dur(in->perm_waiting_for, b1, sizeof b1), in->perm_answer,
                             in->perm_reason ? ": " : "", in->perm_reason ? in->perm_reason : "",
                             in->perm_count > 1 ? " (repeated)" : "");
                        return verdict(run, VERDICT_ASKING, "waiting for the coordinator: %s%s%s", in->perm_answer,
                                       in->perm_reason ? ": " : "", in->perm_reason ? in->perm_reason : "");
                }
                step(run, "coordinator", false, "asked the %s coordinator %s ago; no answer yet", backend,
                     dur(in->perm_waiting_for, b1, sizeof b1));
                return verdict(run, VERDICT_ASKING, "waiting for the coordinator");
        case PERM_NONE:
        default:
                step(run, "coordinator", true, "disruptive: permission will be asked from the %s coordinator", backend);
                return false;
        }
}

Verdict decide(const DecideInput *in, struct json_object *steps, char **ret_reason) {
        Run run = { .steps = steps, .v = _VERDICT_MAX };

        if (!step_trigger(&run, in) && !step_progress(&run, in) && !step_blockers(&run, in) &&
            !step_window(&run, in) && !step_limits(&run, in) && !step_permission(&run, in)) {
                step(&run, "dry_run", !in->dry_run, in->dry_run ? "dry-run: would only log" : "acting");
                if (in->disruptive && in->perm == PERM_NONE && !in->dry_run)
                        (void) verdict(&run, VERDICT_FIRE, "asking the %s coordinator for permission",
                                       in->perm_backend ? in->perm_backend : "");
                else
                        (void) verdict(&run, VERDICT_FIRE, "%s", in->dry_run ? "would fire (dry-run)" : "firing");
        }
        if (run.v == _VERDICT_MAX)
                run.v = VERDICT_FIRE;
        if (ret_reason)
                *ret_reason = run.reason;
        else
                free(run.reason);
        return run.v;
}
