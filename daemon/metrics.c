/* SPDX-License-Identifier: MIT */
/* Prometheus metrics: the text exposition rendered from the manager, written atomically for
 * node_exporter's textfile collector and served by a tiny loopback HTTP responder. Nothing
 * here blocks: the textfile lives on a local file system and is written without fsync (it is
 * regenerated every minute anyway), and the HTTP connections are non-blocking sd-event
 * sources with a deadline. */
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "maintenance.h"
#include "manager.h"
#include "metrics.h"
#include "permission.h"
#include "reboot.h"

#define REWRITE_USEC (60 * USEC_PER_SEC)        /* unchanged content is rewritten this often */
#define LISTEN_RETRY_USEC (30 * USEC_PER_SEC)
#define HTTP_REQUEST_MAX 8192
#define HTTP_CONN_MAX 16
#define HTTP_TIMEOUT_USEC (5 * USEC_PER_SEC)

/* Upper bounds of the check duration buckets, in seconds (+Inf is implied). */
static const double duration_buckets[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define N_BUCKETS ELEMENTSOF(duration_buckets)

static const char *const remedy_results[_METRICS_REMEDY_MAX] = {
        [METRICS_REMEDY_DONE] = "done",
        [METRICS_REMEDY_FAILED] = "failed",
        [METRICS_REMEDY_DRY_RUN] = "dry-run",
};

typedef struct CheckStats {
        char *name;
        uint64_t buckets[N_BUCKETS + 1];        /* per bucket, not cumulative; last is +Inf */
        uint64_t count;
        uint64_t sum_usec;
        uint64_t failures;
        uint64_t last_success;                  /* realtime usec, 0 = not known */
} CheckStats;

typedef struct RuleStats {
        char *name;
        uint64_t remedies[_METRICS_REMEDY_MAX];
} RuleStats;

typedef struct HttpConn HttpConn;

struct Metrics {
        Manager *m;
        CheckStats **checks;
        size_t n_checks;
        StrMap check_index;     /* name → CheckStats */
        RuleStats **rules;
        size_t n_rules;

        char *textfile;         /* the path written last (config can change on reload) */
        char *last_text;
        uint64_t last_write;    /* monotonic usec */
        int write_error;        /* errno of the last failed write, logged once */

        char *listen;           /* the address wanted */
        int http_fd;
        sd_event_source *http_source;
        uint64_t listen_retry;  /* monotonic usec */
        int listen_error;
        HttpConn *conns;
        size_t n_conns;
};

/* ---- counters ---------------------------------------------------------------------------- */

static CheckStats *check_stats(Metrics *x, const char *name, bool create) {
        CheckStats *found = strmap_get(&x->check_index, name);
        if (found || !create)
                return found;
        CheckStats *s = calloc(1, sizeof(*s));
        CheckStats **a = s ? realloc(x->checks, (x->n_checks + 1) * sizeof(*a)) : NULL;
        if (a)
                x->checks = a;
        if (!a || !(s->name = strdup(name)) || strmap_put(&x->check_index, s->name, s) < 0) {
                if (s)
                        free(s->name);
                free(s);
                return NULL;
        }
        x->checks = a;
        x->checks[x->n_checks++] = s;
        return s;
}

static RuleStats *rule_stats(Metrics *x, const char *name, bool create) {
        for (size_t i = 0; i < x->n_rules; i++)
                if (strcmp(x->rules[i]->name, name) == 0)
                        return x->rules[i];
        if (!create)
                return NULL;
        RuleStats *s = calloc(1, sizeof(*s));
        RuleStats **a = s ? realloc(x->rules, (x->n_rules + 1) * sizeof(*a)) : NULL;
        if (!a || !(s->name = strdup(name))) {
                if (a)
                        x->rules = a;
                free(s);
                return NULL;
        }
        x->rules = a;
        x->rules[x->n_rules++] = s;
        return s;
}

void metrics_check_finished(Metrics *x, const char *check, uint64_t duration_usec, int state) {
        CheckStats *s;
        size_t b = 0;

        if (!x || state == CHECK_SKIP)
                return;
        s = check_stats(x, check, true);
        if (!s)
                return;
        while (b < N_BUCKETS && (double) duration_usec > duration_buckets[b] * (double) USEC_PER_SEC)
                b++;
        s->buckets[b]++;
        s->count++;
        s->sum_usec += duration_usec;
        /* unknown: the check could not tell (error, timeout, memory cap, invalid result). */
        if (state == COND_UNKNOWN)
                s->failures++;
        else
                s->last_success = now_realtime();
}

void metrics_remedy(Metrics *x, const char *rule, MetricsRemedyResult result) {
        RuleStats *s;

        if (!x || result < 0 || result >= _METRICS_REMEDY_MAX)
                return;
        s = rule_stats(x, rule, true);
        if (s)
                s->remedies[result]++;
}

/* Forgets the counters of checks and rules that no longer exist (after a reload). */
static void prune(Metrics *x) {
        LuaSet *set = x->m->set;

        for (size_t i = 0; i < x->n_checks;)
                if (!set || !luaset_find_check(set, x->checks[i]->name)) {
                        (void) strmap_remove(&x->check_index, x->checks[i]->name);
                        free(x->checks[i]->name);
                        free(x->checks[i]);
                        x->checks[i] = x->checks[--x->n_checks];
                } else
                        i++;
        for (size_t i = 0; i < x->n_rules;)
                if (!set || !luaset_find_rule(set, x->rules[i]->name)) {
                        free(x->rules[i]->name);
                        free(x->rules[i]);
                        x->rules[i] = x->rules[--x->n_rules];
                } else
                        i++;
}

/* ---- rendering --------------------------------------------------------------------------- */

typedef struct Label {
        const char *name;
        const char *value;
} Label;

#define LABELS(...) ((const Label[]) { __VA_ARGS__, { NULL, NULL } })
#define NO_LABELS NULL

static void family(FILE *f, const char *name, const char *type, const char *help) {
        /* HELP texts are constants without backslashes or newlines. */
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label_value(FILE *f, const char *v) {
        for (; *v; v++)
                switch (*v) {
                case '\\': fputs("\\\\", f); break;
                case '"':  fputs("\\\"", f); break;
                case '\n': fputs("\\n", f); break;
                default:   fputc(*v, f);
                }
}

static void sample(FILE *f, const char *name, const Label *labels, const char *value) {
        fputs(name, f);
        if (labels && labels[0].name) {
                fputc('{', f);
                for (const Label *l = labels; l->name; l++) {
                        fprintf(f, "%s%s=\"", l == labels ? "" : ",", l->name);
                        label_value(f, l->value ? l->value : "");
                        fputc('"', f);
                }
                fputc('}', f);
        }
        fprintf(f, " %s\n", value);
}

static void sample_u(FILE *f, const char *name, const Label *labels, uint64_t v) {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, v);
        sample(f, name, labels, buf);
}

/* Realtime usec as seconds with millisecond precision. */
static void sample_time(FILE *f, const char *name, const Label *labels, uint64_t usec) {
        char buf[48];
        if (usec == 0)
                return sample(f, name, labels, "0");
        snprintf(buf, sizeof buf, "%" PRIu64 ".%03" PRIu64, usec / USEC_PER_SEC, usec % USEC_PER_SEC / USEC_PER_MSEC);
        sample(f, name, labels, buf);
}

static int cmp_condition(const void *a, const void *b) {
        return strcmp((*(Condition *const *) a)->name, (*(Condition *const *) b)->name);
}

static void render_daemon(FILE *f, Manager *m) {
        family(f, "medic_info", "gauge", "Always 1; the labels say which medicd runs where.");
        sample(f, "medic_info", LABELS({ "version", PACKAGE_VERSION }, { "node", m->config->node },
                                       { "group", m->config->group }), "1");
        family(f, "medic_start_time_seconds", "gauge", "When medicd started, in seconds since the epoch.");
        sample_time(f, "medic_start_time_seconds", NO_LABELS, m->started);
        family(f, "medic_dry_run", "gauge", "1 while medicd runs in dry-run (decisions are logged, no remedy runs).");
        sample(f, "medic_dry_run", NO_LABELS, manager_dry_run(m) ? "1" : "0");
        family(f, "medic_last_reload_success", "gauge", "1 when the last start or reload loaded without error.");
        sample(f, "medic_last_reload_success", NO_LABELS, m->last_reload_ok ? "1" : "0");
        family(f, "medic_last_reload_timestamp_seconds", "gauge", "When the configuration was last loaded or a reload was tried.");
        sample_time(f, "medic_last_reload_timestamp_seconds", NO_LABELS, m->last_reload);
        family(f, "medic_parked", "gauge", "1 while the node is parked (reboot-loop protection: no automation until medicctl unpark).");
        sample(f, "medic_parked", NO_LABELS, m->journal.parked ? "1" : "0");
        const char *sick = m->rebooter ? rebooter_sick(m->rebooter, NULL) : NULL;
        if (!sick)
                sick = maintenance_sick(&m->act, NULL);
        family(f, "medic_came_back_sick", "gauge",
               "1 while the node came back from a reboot or a maintenance and is not healthy by settle_timeout "
               "(it keeps the slot; the rule is a label).");
        if (sick)
                sample(f, "medic_came_back_sick", LABELS({ "rule", sick }), "1");
        else
                sample(f, "medic_came_back_sick", LABELS({ "rule", "" }), "0");
}

static void render_conditions(FILE *f, Metrics *x) {
        Manager *m = x->m;
        _cleanup_free_ Condition **v = NULL;
        size_t n = m->conds.n;

        if (n > 0) {
                v = malloc(n * sizeof(*v));
                if (!v)
                        return;
                memcpy(v, m->conds.v, n * sizeof(*v));
                qsort(v, n, sizeof(*v), cmp_condition);
        }
        family(f, "medic_condition_state", "gauge",
               "1 for the state the condition is in (ok, problem or unknown), 0 for the others.");
        for (size_t i = 0; i < n; i++)
                for (CondState s = 0; s < _COND_STATE_MAX; s++)
                        sample(f, "medic_condition_state", LABELS({ "condition", v[i]->name }, { "state", cond_state_to_string(s) }),
                               v[i]->state == s ? "1" : "0");
        family(f, "medic_condition_since_timestamp_seconds", "gauge", "When the condition last changed state.");
        for (size_t i = 0; i < n; i++)
                sample_time(f, "medic_condition_since_timestamp_seconds", LABELS({ "condition", v[i]->name }), v[i]->since);
        family(f, "medic_condition_flapping", "gauge", "1 while the condition is flapping.");
        for (size_t i = 0; i < n; i++)
                sample(f, "medic_condition_flapping", LABELS({ "condition", v[i]->name }), v[i]->flapping ? "1" : "0");
        family(f, "medic_check_last_run_timestamp_seconds", "gauge", "When the check last delivered a result.");
        for (size_t i = 0; i < n; i++)
                sample_time(f, "medic_check_last_run_timestamp_seconds", LABELS({ "check", v[i]->name }), v[i]->last_run);
        family(f, "medic_check_last_success_timestamp_seconds", "gauge",
               "When the check last ran successfully (result ok or problem); 0 if it has not since medicd started and its last known result is unknown.");
        for (size_t i = 0; i < n; i++) {
                CheckStats *s = check_stats(x, v[i]->name, false);
                uint64_t t = s ? s->last_success : 0;
                sample_time(f, "medic_check_last_success_timestamp_seconds", LABELS({ "check", v[i]->name }), t);
        }
}

static void render_checks(FILE *f, Metrics *x) {
        LuaSet *set = x->m->set;
        size_t n = set ? set->n_checks : 0;
        char le[32], value[48];

        family(f, "medic_check_duration_seconds", "histogram", "How long check runs took.");
        for (size_t i = 0; i < n; i++) {
                const char *name = set->checks[i]->name;
                CheckStats *s = check_stats(x, name, true);
                uint64_t cum = 0;
                if (!s)
                        continue;
                for (size_t b = 0; b <= N_BUCKETS; b++) {
                        cum += s->buckets[b];
                        if (b < N_BUCKETS)
                                snprintf(le, sizeof le, "%g", duration_buckets[b]);
                        else
                                strcpy(le, "+Inf");
                        sample_u(f, "medic_check_duration_seconds_bucket", LABELS({ "check", name }, { "le", le }), cum);
                }
                snprintf(value, sizeof value, "%" PRIu64 ".%06" PRIu64, s->sum_usec / USEC_PER_SEC, s->sum_usec % USEC_PER_SEC);
                sample(f, "medic_check_duration_seconds_sum", LABELS({ "check", name }), value);
                sample_u(f, "medic_check_duration_seconds_count", LABELS({ "check", name }), s->count);
        }
        family(f, "medic_check_failures_total", "counter",
               "Check runs that failed (error, timeout, memory cap, invalid result: the condition became unknown).");
        for (size_t i = 0; i < n; i++) {
                CheckStats *s = check_stats(x, set->checks[i]->name, false);
                sample_u(f, "medic_check_failures_total", LABELS({ "check", set->checks[i]->name }), s ? s->failures : 0);
        }
}

static void render_rules(FILE *f, Metrics *x) {
        Manager *m = x->m;
        LuaSet *set = m->set;
        size_t n = set ? set->n_rules : 0;

        family(f, "medic_remedies_total", "counter",
               "Remedies by rule and result: done (succeeded), failed (failed or could not start), dry-run (would have run).");
        for (size_t i = 0; i < n; i++) {
                RuleStats *s = rule_stats(x, set->rules[i]->name, false);
                for (MetricsRemedyResult r = 0; r < _METRICS_REMEDY_MAX; r++)
                        sample_u(f, "medic_remedies_total", LABELS({ "rule", set->rules[i]->name }, { "result", remedy_results[r] }),
                                 s ? s->remedies[r] : 0);
        }
        family(f, "medic_rule_attempts", "gauge", "Times the rule fired in its current problem episode.");
        for (size_t i = 0; i < n; i++) {
                RuleState *s = ruletable_get(&m->rstates, set->rules[i]->name, false);
                sample_u(f, "medic_rule_attempts", LABELS({ "rule", set->rules[i]->name }), s ? s->attempts : 0);
        }
        family(f, "medic_rule_last_fired_timestamp_seconds", "gauge", "When the rule last fired (0: never).");
        for (size_t i = 0; i < n; i++) {
                RuleState *s = ruletable_get(&m->rstates, set->rules[i]->name, false);
                sample_time(f, "medic_rule_last_fired_timestamp_seconds", LABELS({ "rule", set->rules[i]->name }),
                            s ? s->last_fired : 0);
        }
        family(f, "medic_rule_waiting_since_timestamp_seconds", "gauge",
               "Since when the rule wants to act and is held back (blocked, outside its window, stopped, "
               "waiting for the coordinator); 0: it is not.");
        for (size_t i = 0; i < n; i++) {
                RuleState *s = ruletable_get(&m->rstates, set->rules[i]->name, false);
                sample_time(f, "medic_rule_waiting_since_timestamp_seconds", LABELS({ "rule", set->rules[i]->name }),
                            s ? s->waiting_since : 0);
        }
        family(f, "medic_rule_stuck", "gauge", "1 when the rule has been held back longer than stuck_after.");
        for (size_t i = 0; i < n; i++) {
                RuleState *s = ruletable_get(&m->rstates, set->rules[i]->name, false);
                sample(f, "medic_rule_stuck", LABELS({ "rule", set->rules[i]->name }), s && s->stuck_escalated ? "1" : "0");
        }
        family(f, "medic_rule_limit_exhausted", "gauge",
               "1 while the rule has fired as often as its limit allows within the limit's window (it escalates instead).");
        uint64_t now = now_realtime();
        for (size_t i = 0; i < n; i++) {
                const RuleDecl *d = set->rules[i];
                RuleState *s = ruletable_get(&m->rstates, d->name, false);
                bool exhausted = d->limit.count > 0 && s && eventlog_count(&s->fired, now, d->limit.window_usec) >= d->limit.count;
                sample(f, "medic_rule_limit_exhausted", LABELS({ "rule", d->name }), exhausted ? "1" : "0");
        }
}

static void render_coordinator(FILE *f, Manager *m) {
        struct json_object *st = coordinator_status(m->coord), *v;
        /* What the node's permission owner says, not a copy of it. */
        bool holding = permission_held(m->perm);
        size_t waiting = permission_rule(m->perm) && !holding ? 1 : 0;
        uint64_t since = holding ? permission_since(m->perm) : 0;

        family(f, "medic_coordinator_info", "gauge", "Always 1; the label names the coordinator backend.");
        sample(f, "medic_coordinator_info", LABELS({ "backend", m->coord->ops->name }), "1");
        family(f, "medic_coordinator_holding", "gauge", "1 while this node holds the coordinator's slot for a disruptive remedy.");
        sample(f, "medic_coordinator_holding", NO_LABELS, holding ? "1" : "0");
        if (holding && since) {
                family(f, "medic_coordinator_holding_since_timestamp_seconds", "gauge", "Since when this node holds the slot.");
                sample_time(f, "medic_coordinator_holding_since_timestamp_seconds", NO_LABELS, since);
        }
        family(f, "medic_coordinator_waiting", "gauge", "Rules waiting for the coordinator's permission.");
        sample_u(f, "medic_coordinator_waiting", NO_LABELS, waiting);

        family(f, "medic_coordinator_stop", "gauge",
               "1 while a stop switch is set (scope local: the stop file); no permission is granted then.");
        sample(f, "medic_coordinator_stop", LABELS({ "scope", "local" }), coordinator_stopped_locally(m->coord) ? "1" : "0");
        json_object_object_foreach(st, key, val) {
                if (strncmp(key, "stopped_", 8) != 0 || strcmp(key, "stopped_locally") == 0 ||
                    !json_object_is_type(val, json_type_boolean))
                        continue;
                sample(f, "medic_coordinator_stop", LABELS({ "scope", key + 8 }), json_object_get_boolean(val) ? "1" : "0");
        }
        /* The storm breaker, as the backend last saw its trips (etcd only). */
        bool breaker_family = false;
        json_object_object_foreach(st, bkey, bval) {
                if (strncmp(bkey, "breaker_tripped_", 16) != 0 || !json_object_is_type(bval, json_type_boolean))
                        continue;
                if (!breaker_family)
                        family(f, "medic_breaker_tripped", "gauge",
                               "1 while the storm breaker of the scope (group, cluster) is tripped; "
                               "nothing is granted until an operator resumes.");
                breaker_family = true;
                sample(f, "medic_breaker_tripped", LABELS({ "scope", bkey + 16 }), json_object_get_boolean(bval) ? "1" : "0");
        }

        static const struct { const char *key, *name, *help; } budget[] = {
                { "budget_used", "medic_coordinator_budget_used", "Disruptions of the group's budget in use now." },
                { "budget_allowed", "medic_coordinator_budget_allowed", "Disruptions the group's budget allows at once." },
        };
        for (size_t i = 0; i < ELEMENTSOF(budget); i++)
                if (json_object_object_get_ex(st, budget[i].key, &v) && json_object_is_type(v, json_type_int)) {
                        family(f, budget[i].name, "gauge", budget[i].help);
                        sample_u(f, budget[i].name, NO_LABELS, (uint64_t) (json_object_get_int64(v) > 0 ? json_object_get_int64(v) : 0));
                }
        json_object_put(st);
}

char *metrics_render(Metrics *x) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!x)
                return NULL;
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        prune(x);
        render_daemon(f, x->m);
        render_conditions(f, x);
        render_checks(f, x);
        render_rules(f, x);
        render_coordinator(f, x->m);
        if (ferror(f) | fclose(f)) {  /* both, always */
                free(buf);
                return NULL;
        }
        return buf;
}

/* ---- textfile ---------------------------------------------------------------------------- */

/* Temporary file beside the target, hidden and not ending in .prom, so that the textfile
 * collector never reads a half-written file; then rename(2). */
static int write_textfile(const char *path, const char *text) {
        _cleanup_free_ char *tmp = NULL;
        const char *slash = strrchr(path, '/');
        size_t len = strlen(text), done = 0;
        int fd, r = 0;

        tmp = slash ? strprintf("%.*s/.%s.tmp", (int) (slash - path), path, slash + 1) : strprintf(".%s.tmp", path);
        if (!tmp)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
        if (fd < 0)
                return -errno;
        while (done < len) {
                ssize_t n = write(fd, text + done, len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                done += (size_t) n;
        }
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

static void textfile_tick(Metrics *x) {
        const char *want = x->m->config->metrics_textfile;
        _cleanup_free_ char *text = NULL;
        uint64_t now = now_monotonic();
        int r;

        if (!streq_ptr(want, x->textfile)) {
                if (x->textfile && x->last_text)
                        (void) unlink(x->textfile);  /* not ours to keep: the path changed */
                free(x->textfile);
                x->textfile = strdup_or_null(want);
                free(x->last_text);
                x->last_text = NULL;
                x->write_error = 0;
        }
        if (!x->textfile)
                return;
        text = metrics_render(x);
        if (!text)
                return (void) log_oom();
        if (x->last_text && strcmp(text, x->last_text) == 0 && now - x->last_write < REWRITE_USEC)
                return;
        r = write_textfile(x->textfile, text);
        if (r < 0) {
                if (x->write_error != -r)
                        log_error_errno(r, "Cannot write the metrics to %s (retrying every second): %m", x->textfile);
                x->write_error = -r;
                return;
        }
        if (x->write_error)
                log_info("Metrics are written to %s again", x->textfile);
        x->write_error = 0;
        x->last_write = now;
        free(x->last_text);
        x->last_text = TAKE_PTR(text);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

struct HttpConn {
        Metrics *x;
        int fd;
        sd_event_source *io, *timer;
        char in[HTTP_REQUEST_MAX + 1];
        size_t in_size;
        char *out;
        size_t out_size, out_done;
        HttpConn *next, *prev;
};

static void conn_free(HttpConn *c) {
        if (!c)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                c->x->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->x->n_conns--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        if (c->fd >= 0)
                close(c->fd);
        free(c->out);
        free(c);
}

static void conn_respond(HttpConn *c, const char *status, const char *extra_headers, const char *body, bool head) {
        size_t len = strlen(body);
        c->out = strprintf("HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n%s", status, len,
                           extra_headers, head ? "" : body);
        c->out_size = c->out ? strlen(c->out) : 0;
        if (!c->out || sd_event_source_set_io_events(c->io, EPOLLOUT) < 0)
                conn_free(c);
}

static void conn_handle(HttpConn *c) {
        char method[16], target[256];
        const char *sp1, *sp2;
        bool head;

        /* Request line: METHOD SP TARGET SP VERSION */
        sp1 = memchr(c->in, ' ', c->in_size);
        sp2 = sp1 ? memchr(sp1 + 1, ' ', c->in_size - (size_t) (sp1 + 1 - c->in)) : NULL;
        if (!sp2 || (size_t) (sp1 - c->in) >= sizeof method || (size_t) (sp2 - sp1 - 1) >= sizeof target)
                return conn_respond(c, "400 Bad Request", "Content-Type: text/plain\r\n", "bad request\n", false);
        memcpy(method, c->in, (size_t) (sp1 - c->in));
        method[sp1 - c->in] = 0;
        memcpy(target, sp1 + 1, (size_t) (sp2 - sp1 - 1));
        target[sp2 - sp1 - 1] = 0;
        target[strcspn(target, "?")] = 0;

        head = strcmp(method, "HEAD") == 0;
        if (!head && strcmp(method, "GET") != 0)
                return conn_respond(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\nContent-Type: text/plain\r\n",
                                    "only GET and HEAD\n", false);
        if (strcmp(target, "/metrics") != 0)
                return conn_respond(c, "404 Not Found", "Content-Type: text/plain\r\n", "medicd serves /metrics\n", head);
        _cleanup_free_ char *text = metrics_render(c->x);
        if (!text)
                return conn_respond(c, "500 Internal Server Error", "Content-Type: text/plain\r\n", "out of memory\n", head);
        conn_respond(c, "200 OK", "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", text, head);
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HttpConn *c = userdata;

        if (c->out) {
                while (c->out_done < c->out_size) {
                        ssize_t n = write(fd, c->out + c->out_done, c->out_size - c->out_done);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        return 0;
                                break;
                        }
                        c->out_done += (size_t) n;
                }
                conn_free(c);
                return 0;
        }
        for (;;) {
                ssize_t n = read(fd, c->in + c->in_size, HTTP_REQUEST_MAX - c->in_size);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        conn_free(c);
                        return 0;
                }
                if (n == 0) {  /* closed before the end of the headers */
                        conn_free(c);
                        return 0;
                }
                c->in_size += (size_t) n;
                c->in[c->in_size] = 0;
                if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n")) {
                        conn_handle(c);
                        return 0;
                }
                if (c->in_size >= HTTP_REQUEST_MAX) {
                        conn_respond(c, "431 Request Header Fields Too Large", "Content-Type: text/plain\r\n",
                                     "request too large\n", false);
                        return 0;
                }
        }
}

static int on_conn_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        conn_free(userdata);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Metrics *x = userdata;
        HttpConn *c;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        if (x->n_conns >= HTTP_CONN_MAX) {
                /* Idle clients must not lock the scraper out: drop the oldest connection. */
                HttpConn *oldest = x->conns;
                while (oldest->next)
                        oldest = oldest->next;
                log_debug("Metrics: %u connections open, closing the oldest", HTTP_CONN_MAX);
                conn_free(oldest);
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                close(cfd);
                return 0;
        }
        c->x = x;
        c->fd = cfd;
        c->next = x->conns;
        if (x->conns)
                x->conns->prev = c;
        x->conns = c;
        x->n_conns++;
        if (sd_event_add_io(x->m->event, &c->io, cfd, EPOLLIN, on_conn_io, c) < 0 ||
            sd_event_add_time_relative(x->m->event, &c->timer, CLOCK_MONOTONIC, HTTP_TIMEOUT_USEC, USEC_PER_SEC,
                                       on_conn_timeout, c) < 0)
                conn_free(c);
        return 0;
}

static void http_stop(Metrics *x) {
        while (x->conns)
                conn_free(x->conns);
        x->http_source = sd_event_source_disable_unref(x->http_source);
        if (x->http_fd >= 0)
                close(x->http_fd);
        x->http_fd = -1;
}

static int http_start(Metrics *x) {
        struct sockaddr_storage sa;
        socklen_t len;
        int r, one = 1;

        r = parse_loopback_address(x->listen, &sa, &len);
        if (r < 0)
                return r; /* the configuration parser refused it already */
        x->http_fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (x->http_fd < 0)
                return -errno;
        (void) setsockopt(x->http_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (sa.ss_family == AF_INET6)
                (void) setsockopt(x->http_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(x->http_fd, (struct sockaddr *) &sa, len) < 0 || listen(x->http_fd, 16) < 0) {
                r = -errno;
                http_stop(x);
                return r;
        }
        r = sd_event_add_io(x->m->event, &x->http_source, x->http_fd, EPOLLIN, on_accept, x);
        if (r < 0) {
                http_stop(x);
                return r;
        }
        (void) sd_event_source_set_description(x->http_source, "metrics-http");
        return 0;
}

static void listen_tick(Metrics *x) {
        const char *want = x->m->config->metrics_listen;
        uint64_t now = now_monotonic();
        int r;

        if (!streq_ptr(want, x->listen)) {
                http_stop(x);
                free(x->listen);
                x->listen = strdup_or_null(want);
                x->listen_retry = 0;
                x->listen_error = 0;
        }
        if (!x->listen || x->http_fd >= 0 || now < x->listen_retry)
                return;
        r = http_start(x);
        if (r < 0) {
                if (x->listen_error != -r)
                        log_error_errno(r, "Cannot serve the metrics on %s (retrying every %us): %m", x->listen,
                                        (unsigned) (LISTEN_RETRY_USEC / USEC_PER_SEC));
                x->listen_error = -r;
                x->listen_retry = now + LISTEN_RETRY_USEC;
                return;
        }
        log_info("Serving metrics on http://%s/metrics", x->listen);
        x->listen_error = 0;
}

/* ---- life ---------------------------------------------------------------------------------- */

void metrics_tick(Metrics *x) {
        if (!x)
                return;
        listen_tick(x);
        textfile_tick(x);
}

int metrics_new(Manager *m, Metrics **ret) {
        Metrics *x = calloc(1, sizeof(*x));

        if (!x)
                return -ENOMEM;
        x->m = m;
        x->http_fd = -1;
        /* The last success survives a restart as far as the state tells: a condition that is
         * not unknown got its last result from a successful run. */
        for (size_t i = 0; i < m->conds.n; i++)
                if (m->conds.v[i]->state != COND_UNKNOWN) {
                        CheckStats *s = check_stats(x, m->conds.v[i]->name, true);
                        if (s)
                                s->last_success = m->conds.v[i]->last_run;
                }
        metrics_tick(x);
        *ret = x;
        return 0;
}

Metrics *metrics_free(Metrics *x) {
        if (!x)
                return NULL;
        http_stop(x);
        for (size_t i = 0; i < x->n_checks; i++) {
                free(x->checks[i]->name);
                free(x->checks[i]);
        }
        free(x->checks);
        strmap_clear(&x->check_index);
        for (size_t i = 0; i < x->n_rules; i++) {
                free(x->rules[i]->name);
                free(x->rules[i]);
        }
        free(x->rules);
        free(x->textfile);
        free(x->last_text);
        free(x->listen);
        free(x);
        return NULL;
}
