/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

struct Manager;

/* Prometheus metrics (text exposition format 0.0.4): rendered from the manager's conditions,
 * rules and coordinator, plus the counters kept here (check durations, check failures,
 * remedies). Written to [metrics] textfile for node_exporter's textfile collector, and served
 * on [metrics] listen (loopback only) as GET /metrics. The series are listed in medicd(8).
 *
 * Coordinator backends feed the coordinator series through coordinator_status(): a string
 * "holder" (this node holds the slot; "since" in epoch seconds), integers "budget_used" and
 * "budget_allowed", and booleans "stopped_SCOPE" (one stop switch each, e.g.
 * "stopped_group"; "stopped_locally" is the stop file) are exported when present. */
typedef struct Metrics Metrics;

typedef enum MetricsRemedyResult {
        METRICS_REMEDY_DONE,     /* the remedy ran and succeeded */
        METRICS_REMEDY_FAILED,   /* it failed, or could not be started */
        METRICS_REMEDY_DRY_RUN,  /* dry-run: it would have run */
        _METRICS_REMEDY_MAX,
} MetricsRemedyResult;

/* Call after the state is loaded; starts the HTTP listener when one is configured (a
 * listener that cannot be opened is logged and retried, it does not stop the daemon). */
int metrics_new(struct Manager *m, Metrics **ret);
Metrics *metrics_free(Metrics *x);

/* Hooks; every one accepts x == NULL. state is a CondState or CHECK_SKIP (not counted). */
void metrics_check_finished(Metrics *x, const char *check, uint64_t duration_usec, int state);
void metrics_remedy(Metrics *x, const char *rule, MetricsRemedyResult result);
/* From the manager's tick: follows configuration changes (textfile path, listen address) and
 * rewrites the textfile when its content changed, or every minute (to keep its mtime fresh). */
void metrics_tick(Metrics *x);

/* The exposition text, or NULL on allocation failure. */
char *metrics_render(Metrics *x);
