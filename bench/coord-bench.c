/* SPDX-License-Identifier: MIT */
/* Many simulated nodes, each with medicd's own coordinator code (coord/coord-etcd.c), in one
 * process and one event loop, against a real etcd. Used by bench/coordinator.sh.
 *
 *   coord-bench ENDPOINTS NODES GROUPS latency SAMPLES   grant latency with a free slot
 *   coord-bench ENDPOINTS NODES GROUPS idle SECONDS      requests per idle node per minute
 *   coord-bench ENDPOINTS NODES 1 rollout HOLD_MS        every node of one group asks at once;
 *                                                        each holds HOLD_MS ("reboots") */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "coordinator.h"
#include "http.h"
#include "log.h"

typedef struct Node {
        int i;
        Config *config;
        Coordinator *coord;
        bool asking, holding;
        uint64_t asked, granted;
        sd_event_source *timer;
} Node;

static sd_event *event;
static Node *nodes;
static int n_nodes, n_groups;
static const char *mode;
static long arg;
static uint64_t *lat;
static int n_lat, holders, max_holders, done_count;
static uint64_t t_start;

static bool all_registered(void) {
        for (int i = 0; i < n_nodes; i++) {
                struct json_object *st = coordinator_status(nodes[i].coord), *v;
                bool reg = json_object_object_get_ex(st, "registered", &v) && json_object_get_boolean(v);
                json_object_put(st);
                if (!reg)
                        return false;
        }
        return true;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void ask(Node *n);

static int on_release_timer(sd_event_source *s, uint64_t usec, void *ud) {
        Node *n = ud;
        n->timer = sd_event_source_disable_unref(n->timer);
        if (getenv("BENCH_DEBUG"))
                fprintf(stderr, "%.3f node %d: release\n", (double) (now_monotonic() - t_start) / 1e6, n->i);
        coordinator_release(n->coord, "bench");
        n->holding = false;
        holders--;
        if (++done_count == n_nodes) {
                double total = (double) (now_monotonic() - t_start) / 1e6;
                int allowed = n_nodes / 10 ? n_nodes / 10 : 1;
                printf("rollout: %d nodes, budget 10%% (%d at once), each holding %ld ms: %.2f s in all = %.1f waves "
                       "(ideal %d); at most %d held at once\n",
                       n_nodes, allowed, arg, total, total / ((double) arg / 1000.0),
                       (n_nodes + allowed - 1) / allowed, max_holders);
                int64_t reads = 0, cached = 0, retries = 0;
                for (int i = 0; i < n_nodes; i++) {
                        struct json_object *st = coordinator_status(nodes[i].coord), *v;
                        if (json_object_object_get_ex(st, "group_reads", &v))
                                reads += json_object_get_int64(v);
                        if (json_object_object_get_ex(st, "decisions_from_watch", &v))
                                cached += json_object_get_int64(v);
                        if (json_object_object_get_ex(st, "grant_retries", &v))
                                retries += json_object_get_int64(v);
                        json_object_put(st);
                }
                printf("rollout: requests decided on a read of the group %lld (%.1f per node), "
                       "on the copy the watch keeps %lld; grants decided again on a failed transaction's read %lld\n",
                       (long long) reads, (double) reads / n_nodes, (long long) cached, (long long) retries);
                sd_event_exit(event, 0);
        }
        return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *ud) {
        Node *n = ud;
        n->timer = sd_event_source_disable_unref(n->timer);
        ask(n);
        return 0;
}

static void on_answer(CoordAnswer a, const char *reason, void *ud) {
        Node *n = ud;
        if (getenv("BENCH_DEBUG"))
                fprintf(stderr, "%.3f node %d: %s %s\n", (double) (now_monotonic() - t_start) / 1e6, n->i, coord_answer_to_string(a), reason ? reason : "");
        if (a != COORD_GRANTED) {
                /* Ask again soon: answers are cached until a watch event, so this costs nothing. */
                sd_event_add_time_relative(event, &n->timer, CLOCK_MONOTONIC, 20 * USEC_PER_MSEC, USEC_PER_MSEC, on_retry, n);
                return;
        }
        n->asking = false;
        n->granted = now_monotonic();
        if (strcmp(mode, "latency") == 0) {
                if (n_lat < arg) /* lat holds arg samples */
                        lat[n_lat++] = n->granted - n->asked;
                coordinator_release(n->coord, "bench");
                return;
        }
        n->holding = true;
        if (++holders > max_holders)
                max_holders = holders;
        sd_event_add_time_relative(event, &n->timer, CLOCK_MONOTONIC, (uint64_t) arg * USEC_PER_MSEC, USEC_PER_MSEC,
                                   on_release_timer, n);
}

static void ask(Node *n) {
        if (!n->asking) {
                n->asking = true;
                n->asked = now_monotonic();
        }
        coordinator_request(n->coord, "bench", on_answer, n);
}

static int on_latency_step(sd_event_source *s, uint64_t usec, void *ud) {
        if (n_lat >= arg) {
                uint64_t first = lat[0];
                qsort(lat, (size_t) n_lat, sizeof(uint64_t), cmp_u64);
                printf("grant latency with a free slot (%d nodes registered, %d samples): p50 %.2f ms, p99 %.2f ms, max %.2f ms "
                       "(the first, right after all registered: %.2f ms)\n",
                       n_nodes, n_lat, lat[n_lat / 2] / 1e3, lat[(n_lat * 99) / 100] / 1e3, lat[n_lat - 1] / 1e3, first / 1e3);
                return sd_event_exit(event, 0);
        }
        Node *n = &nodes[(n_lat * 7919) % n_nodes];
        if (!n->asking)
                ask(n);
        /* The next sample after this one was granted and released (250 ms apart). */
        sd_event_source_set_time(s, usec + 250 * USEC_PER_MSEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static uint64_t idle_start_requests;

static int on_idle_end(sd_event_source *s, uint64_t usec, void *ud) {
        uint64_t n = http_requests_started() - idle_start_requests;
        printf("idle: %d nodes for %ld s made %llu requests: %.2f requests per idle node per minute\n",
               n_nodes, arg, (unsigned long long) n, (double) n / n_nodes / ((double) arg / 60.0));
        return sd_event_exit(event, 0);
}

static int on_ready_poll(sd_event_source *s, uint64_t usec, void *ud) {
        if (!all_registered()) {
                sd_event_source_set_time(s, usec + 100 * USEC_PER_MSEC);
                return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        fprintf(stderr, "all %d nodes registered after %.1f s\n", n_nodes, (double) (now_monotonic() - t_start) / 1e6);
        t_start = now_monotonic();
        if (strcmp(mode, "latency") == 0)
                sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, USEC_PER_SEC, USEC_PER_MSEC, on_latency_step, NULL);
        else if (strcmp(mode, "idle") == 0) {
                idle_start_requests = http_requests_started();
                sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, (uint64_t) arg * USEC_PER_SEC, USEC_PER_MSEC,
                                           on_idle_end, NULL);
        } else
                for (int i = 0; i < n_nodes; i++)
                        ask(&nodes[i]);
        return 0;
}

int main(int argc, char **argv) {
        struct rlimit rl = { 65536, 65536 };

        if (argc != 6) {
                fprintf(stderr, "usage: coord-bench ENDPOINTS NODES GROUPS latency|idle|rollout ARG\n");
                return 2;
        }
        n_nodes = atoi(argv[2]);
        n_groups = atoi(argv[3]);
        mode = argv[4];
        arg = atol(argv[5]);
        /* BENCH_TAG: the names' prefix (default: the mode), so that two runs of one mode on one
         * etcd (the 500-member group after the latency phase, rollout rounds) do not meet. */
        const char *tag = getenv("BENCH_TAG") ?: mode;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        log_setup(LOG_TARGET_STDERR, getenv("BENCH_DEBUG") ? LOG_DEBUG : LOG_ERR);
        sd_event_default(&event);
        nodes = calloc((size_t) n_nodes, sizeof(Node));
        lat = calloc((size_t) (arg > 0 ? arg : 1) + 1, sizeof(uint64_t));
        for (int i = 0; i < n_nodes; i++) {
                Config *c;
                config_new_default(&c);
                free(c->node);
                /* Names of this mode only: the phases share one etcd, and an earlier phase's
                 * registrations (and leases, for lease_ttl) would change this one's budget. */
                c->node = strprintf("%s-%04d", tag, i);
                free(c->group);
                c->group = strprintf("%s-g%d", tag, i % n_groups);
                free(c->coordinator);
                c->coordinator = strdup("etcd");
                free(c->state_dir);
                c->state_dir = strdup("/nonexistent");
                c->lease_ttl = 30 * USEC_PER_SEC;
                c->max_unavailable = (BudgetValue) { .value = 10, .percent = true };
                char *ep = strdup(argv[1]), *save = NULL;
                for (char *w = strtok_r(ep, ",", &save); w; w = strtok_r(NULL, ",", &save))
                        strlist_add(&c->endpoints, w);
                free(ep);
                nodes[i].i = i;
                nodes[i].config = c;
                if (coordinator_new(c, event, &nodes[i].coord) < 0) {
                        fprintf(stderr, "cannot create node %d\n", i);
                        return 1;
                }
        }
        t_start = now_monotonic();
        sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, 100 * USEC_PER_MSEC, USEC_PER_MSEC, on_ready_poll, NULL);
        sd_event_loop(event);
        return 0;
}
