/* SPDX-License-Identifier: MIT */
/* The etcd v3 backend, through etcd's JSON gateway (POST /v3/...), with libcurl driven by
 * sd-event (http.c). Key layout under PREFIX (default /medic), documented in medic.conf(5):
 *
 *   PREFIX/stop                              cluster-wide stop switch (any value)
 *   PREFIX/groups/G/stop                     stop switch of group G
 *   PREFIX/groups/G/budget                   {"max_unavailable":"10%","min_healthy":"90%"}
 *   PREFIX/groups/G/registered/NODE          {"node":…,"since":…,"labels":{…}}: a member (no lease;
 *                                            removed by `forget`)
 *   PREFIX/groups/G/members/NODE             {"healthy":bool,"summary":…} on NODE's lease: alive
 *   PREFIX/groups/G/queue/NODE               {"rule":…} on NODE's lease: waits; FIFO by create revision
 *   PREFIX/groups/G/holders/NODE             {"rule":…,"since":…} (no lease: survives the reboot)
 *   PREFIX/groups/G/reboot_required/NODE     an operator's reboot request (the reason): served by one
 *                                            reboot, then deleted by NODE (see "reboot requests")
 *   PREFIX/breaker/events/G/NODE             {"node","group","time","what":"granted"|"unhealthy","rule"}:
 *                                            the storm breaker's history (the newest entry of NODE)
 *   PREFIX/breaker/tripped/groups/G/NODE     {"breaker":"group"|"cluster","reason","nodes","since","by",...}:
 *   PREFIX/breaker/tripped/cluster/NODE      NODE tripped the breaker of group G / of the cluster
 *   PREFIX/breaker/reset/cluster             {"time","reason","by","tripped"}: the last `resume` of the
 *   PREFIX/breaker/reset/groups/G            cluster or of group G (entries before it do not count)
 *
 * The storm breaker (breaker_group, breaker_cluster): a grant that would make more nodes than
 * the breaker allows have an entry inside its window (since the last reset) records a trip
 * instead, in the asking node's own trip key of the scope: a node's etcd role (medic-etcd-roles)
 * may write its own keys and never a stop switch, which stay the operators'. The breaker of a
 * scope is tripped while any trip key of it exists, whatever its window says since; every node
 * honours it, with a breaker configured or not. The trip's transaction compares the whole
 * PREFIX/breaker/ range unchanged since the read it was decided on, as the grant's does, so
 * that two nodes cannot both pass it; a grant also compares that the scope's trip ranges are
 * empty. `medicctl coordinator resume --reason` (operators' credentials) deletes the stop
 * switch and the scope's trip keys and records the reset, in one transaction. A node can
 * delete only its own trip key: it can undo a trip it recorded, never one another node did.
 *
 * A grant is a transaction that compares what decides the budget (no holder, registration,
 * budget or stop key created or modified after the revision the decision was made at, and
 * every member key that counted as alive unchanged and still there) and writes the holder key;
 * its failure branch reads the group, on which the node decides again at once. Joining the
 * queue reads the group in the same transaction (after the put), and the node decides on that
 * (no read of its own: in a rollout every waiter joins at once). A node not queued
 * yet is decided as the last of the queue (a free slot costs one transaction), once per request.
 * Any error, time-out or ambiguous answer means "not granted" until a fresh read proves otherwise. */
#include <json-c/json.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "coord-etcd.h"
#include "etcd-common.h"
#include "etcd-watch.h"
#include "duration.h"
#include "coordinator.h"
#include "grant.h"
#include "http.h"
#include "log.h"
#include "strmap.h"

/* etcd refuses a transaction with more compares than its --max-txn-ops (default 128). */
#define ETCD_MAX_TXN_OPS 128
#define MAX_REFUSALS 8 /* grant transactions refused in a row before the request is answered "unknown" */

#define RETRY_MIN (1 * USEC_PER_SEC)
#define RETRY_MAX (30 * USEC_PER_SEC)

typedef struct Etcd Etcd;
typedef struct Call Call;
typedef void (*etcd_cb_t)(Etcd *e, struct json_object *reply, const char *error, void *ud);

typedef struct Pending {
        char *holder;
        coord_answer_t cb;
        void *userdata;
} Pending;

typedef struct Watch {
        Etcd *etcd;
        char *key, *range_end;
        HttpRequest *req;
        EtcdWatchStream stream;
        sd_event_source *retry;
        bool created;                 /* etcd confirmed the watch: it sends every change after created_rev */
        int64_t created_rev;
} Watch;

struct Etcd {
        Coordinator *c;
        HttpClient *http;
        StrList endpoints;
        size_t endpoint;
        char *prefix, *gprefix;       /* PREFIX, PREFIX/groups/G/ */
        char *node, *group;
        HttpTls tls;
        char *user, *password;        /* etcd authentication (auth/authenticate gives a token) */
        char *request_key;            /* PREFIX/groups/G/reboot_required/NODE: an operator asks this node to reboot */
        /* What the last view of the group showed (a read or the watch-kept copy), for status and
         * metrics (may be a little old). */
        bool seen_view, stop_cluster, stop_group, holding;
        int64_t holding_since;
        unsigned budget_used, budget_allowed;
        char *request_flag;           /* mirrored into this file for the reboot-request check */
        /* The request this node accepted (STATE_DIR/reboot-request.json): the key's mod_revision
         * and the boot it was accepted in; see "reboot requests". */
        char *request_record, *boot_id;
        int64_t request_rev;          /* 0: none recorded */
        char *request_boot;
        int64_t request_news_rev;     /* the etcd revision of the newest word about the key */
        bool request_consuming;
        uint64_t request_backoff;
        sd_event_source *request_timer;
        char *token;                  /* "Authorization:" header, NULL until authenticated */
        uint64_t ttl, timeout;
        BudgetValue max_unavailable, min_healthy;
        BreakerSpec breaker_group, breaker_cluster;
        char *bprefix;                /* PREFIX/breaker/ */
        char *tprefix;                /* PREFIX/breaker/tripped/ */
        /* The storm breaker's trips that concern this node (PREFIX/breaker/tripped/cluster/NODE,
         * PREFIX/breaker/tripped/groups/G/NODE of its group): key -> value, as the last view
         * and the trip watch showed; trip_group, trip_cluster: one trip value of each scope
         * (NULL: not tripped). */
        struct json_object *trips;
        char *trip_group, *trip_cluster;

        int64_t lease;                /* 0: none */
        bool registering;
        uint64_t backoff;
        sd_event_source *reg_timer, *keepalive_timer;
        Watch group_watch, stop_watch, trip_watch;
        Call *calls;                  /* out, not answered yet */

        bool healthy;
        bool healthy_published;       /* the health last sent was healthy */
        char *summary;
        bool health_sent, health_in_flight;

        Pending pending;              /* at most one request in flight per node */
        bool attempting;
        unsigned refusals;            /* grant transactions refused in a row, this request */
        /* A release is retried until etcd confirms the delete; until then no request is decided
         * (a read racing the delete would answer "already holds permission" after it). */
        bool release_wanted, release_in_flight;
        uint64_t release_backoff;
        sd_event_source *release_timer;
        /* The group as the watch keeps it, so that a change made by another node is decided on
         * without a read by every waiter: every key under gprefix (decoded) -> etcd's kv object.
         * Valid from a read taken after the group watch was created, while the watch lasts, and
         * until this node writes (its own writes are followed by a read). Only an optimisation:
         * a grant is a compare-and-swap against etcd itself, and a failed one reads afresh. */
        struct json_object *cache;
        int64_t cache_rev;            /* the group's revision it reflects */
        int64_t cache_read_rev;       /* the read it started from (changes up to it are in) */
        bool cache_ok;
        /* The copy follows the group watch (a read after the watch was created, every change since
         * applied): what medic.group_view() shows. Weaker than cache_ok, which this node's own writes
         * clear until a decision reads again; the watch delivers those writes too. */
        bool cache_kept;
        bool view_refreshing;         /* a read to start keeping the copy is out */
        int64_t grant_rev;            /* the revision of this node's last grant (0: none in this process) */
        /* A grant transaction of this process had no answer: etcd may apply it late, and a holder
         * key of this node that is not granted (granted: answered, not yet released) is given
         * back while no request is in flight. */
        bool maybe_granted, granted;
        uint64_t last_contact;        /* CLOCK_MONOTONIC usec of etcd's last answer or watch data */
        struct json_object *gone;     /* node -> when (epoch s) its members/ key left, as the watch saw */
        int64_t group_event_rev;      /* the newest change the group watch delivered */
        uint64_t reads, cached_decisions; /* decisions on a read, on the watch-kept copy */
        uint64_t grant_retries;       /* grants decided again on a failed transaction's own read */
        bool direct_tried;            /* this request tried a grant from outside the queue (decide()) */
        uint64_t view_gen;            /* bumped by every watch event */
        uint64_t cached_gen;          /* the generation cached_answer was computed at */
        CoordAnswer cached_answer;
        char *cached_reason;
        char *cached_holder;
};

/* ---- small helpers ---------------------------------------------------------------------- */

/* The next delay of a retry: RETRY_MIN, then doubled up to RETRY_MAX. */
static uint64_t backoff_next(uint64_t b) {
        return b ? (b * 2 > RETRY_MAX ? RETRY_MAX : b * 2) : RETRY_MIN;
}

/* Arms timer once, after the next delay of *backoff. */
static void retry_later(sd_event_source *timer, uint64_t *backoff) {
        *backoff = backoff_next(*backoff);
        (void) sd_event_source_set_time_relative(timer, *backoff);
        (void) sd_event_source_set_enabled(timer, SD_EVENT_ONESHOT);
}

/* The kvs of response I of a txn reply whose responses are ranges (NULL: none, or not there). */
static struct json_object *txn_kvs(struct json_object *reply, size_t i) {
        struct json_object *resp = jget(reply, "responses"), *kvs;

        /* json-c asserts (aborts medicd) on an array call on anything else: an answer without
         * responses crashed it (found by tests/fuzz/fuzz-etcd). */
        if (!json_object_is_type(resp, json_type_array))
                return NULL;
        kvs = jget(jget(json_object_array_get_idx(resp, i), "response_range"), "kvs");
        return json_object_is_type(kvs, json_type_array) ? kvs : NULL;
}

static void jadd_b64(struct json_object *o, const char *field, const char *value) {
        char *e = b64(value);
        json_object_object_add(o, field, json_object_new_string(e ? e : ""));
        free(e);
}

static struct json_object *range_req(const char *key, const char *end) {
        struct json_object *r = json_object_new_object(), *w = json_object_new_object();
        jadd_b64(r, "key", key);
        if (end)
                jadd_b64(r, "range_end", end);
        json_object_object_add(w, "request_range", r);
        return w;
}

static struct json_object *put_req(const char *key, const char *value, int64_t lease) {
        struct json_object *r = json_object_new_object(), *w = json_object_new_object();
        jadd_b64(r, "key", key);
        jadd_b64(r, "value", value);
        if (lease) {
                char buf[32];
                snprintf(buf, sizeof buf, "%lld", (long long) lease);
                json_object_object_add(r, "lease", json_object_new_string(buf));
        }
        json_object_object_add(w, "request_put", r);
        return w;
}

static struct json_object *delete_req(const char *key, const char *end) {
        struct json_object *r = json_object_new_object(), *w = json_object_new_object();
        jadd_b64(r, "key", key);
        if (end)
                jadd_b64(r, "range_end", end);
        json_object_object_add(w, "request_delete_range", r);
        return w;
}

static struct json_object *compare(const char *target, const char *key, const char *end, const char *result,
                                   const char *field, int64_t value) {
        struct json_object *c = json_object_new_object();
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long) value);
        json_object_object_add(c, "target", json_object_new_string(target));
        json_object_object_add(c, "result", json_object_new_string(result));
        jadd_b64(c, "key", key);
        if (end)
                jadd_b64(c, "range_end", end);
        json_object_object_add(c, field, json_object_new_string(buf));
        return c;
}

static char *gkey(Etcd *e, const char *kind, const char *node) {
        return node ? strprintf("%s%s/%s", e->gprefix, kind, node) : strprintf("%s%s", e->gprefix, kind);
}

/* ---- calls -------------------------------------------------------------------------------- */

struct Call {
        Etcd *etcd;
        char *path, *body;
        etcd_cb_t cb;
        void *ud;
        void (*ud_free)(void *ud);  /* what ud holds, when the call ends without cb (shutdown) */
        unsigned tries;
        Call *prev, *next;          /* in Etcd.calls: every call not yet answered */
};

static void call_send(Call *k);
static void authenticate(Etcd *e, Call *then);
static void etcd_call(Etcd *e, const char *path, struct json_object *body, etcd_cb_t cb, void *ud);

static void call_free(Call *k) {
        if (k->prev)
                k->prev->next = k->next;
        else if (k->etcd->calls == k)
                k->etcd->calls = k->next;
        if (k->next)
                k->next->prev = k->prev;
        free(k->path);
        free(k->body);
        free(k);
}

static void on_call_done(const HttpResponse *r, void *userdata) {
        Call *k = userdata;
        Etcd *e = k->etcd;
        _cleanup_free_ char *err = NULL;
        struct json_object *reply = NULL;

        /* An expired or missing token: authenticate and send the call again, once. */
        if (r->curl_code == 0 && r->status == 401 && e->user && strcmp(k->path, "auth/authenticate") != 0 &&
            k->tries <= e->endpoints.n) {
                e->token = mfree(e->token);
                k->tries = e->endpoints.n + 1;
                authenticate(e, k);
                return;
        }

        if (r->curl_code != 0) {
                /* Not connected at all: nothing was sent, another endpoint may answer. */
                if ((r->curl_code == 7 /* CURLE_COULDNT_CONNECT */ || r->curl_code == 6 /* resolve */) &&
                    k->tries < e->endpoints.n) {
                        e->endpoint = (e->endpoint + 1) % e->endpoints.n;
                        call_send(k);
                        return;
                }
                err = strprintf("%s%s: %s", r->timed_out ? "timed out: " : "", e->endpoints.v[e->endpoint],
                                r->error ? r->error : "transfer failed");
                e->endpoint = (e->endpoint + 1) % e->endpoints.n;
        } else if (r->truncated)
                err = strprintf("etcd answered HTTP %ld with more than %zu bytes", r->status, r->size);
        else
                (void) etcd_reply_parse(r->status, r->body, &reply, &err);
        if (!err)
                e->last_contact = now_monotonic();
        k->cb(e, reply, err, k->ud);
        json_object_put(reply);
        call_free(k);
}

int etcd_reply_parse(long status, const char *body, struct json_object **ret_reply, char **ret_error) {
        struct json_object *reply = json_tokener_parse(body);

        if (status != 200) {
                /* The server's text, cut and cleaned for one log line. */
                struct json_object *m = jget(reply, "message");
                _cleanup_free_ char *msg = str_excerpt(json_object_is_type(m, json_type_string)
                                                               ? json_object_get_string(m) : body, 200);
                *ret_error = strprintf("etcd answered HTTP %ld: %s (code %lld)", status, msg ? msg : "",
                                       (long long) jint(reply, "code"));
                json_object_put(reply);
                return -EPROTO;
        }
        if (!reply || !json_object_is_type(reply, json_type_object)) {
                *ret_error = strprintf("etcd answered something that is not a JSON object (%zu bytes)", strlen(body));
                json_object_put(reply);
                return -EBADMSG;
        }
        *ret_reply = reply;
        return 0;
}

static void call_send(Call *k) {
        Etcd *e = k->etcd;

        if (e->user && !e->token && strcmp(k->path, "auth/authenticate") != 0) {
                authenticate(e, k);
                return;
        }
        _cleanup_free_ char *url = strprintf("%s/v3/%s", e->endpoints.v[e->endpoint], k->path);
        _cleanup_free_ char *auth = e->token ? strprintf("Authorization: %s", e->token) : NULL;
        const char *headers[] = { "Content-Type: application/json", auth, NULL };
        HttpOptions o = {
                .url = url, .body = k->body, .headers = headers, .timeout_usec = e->timeout, .tls = &e->tls,
        };
        k->tries++;
        if (!url || http_request(e->http, &o, on_call_done, k, NULL) < 0) {
                k->cb(e, NULL, "cannot start an HTTP request", k->ud);
                call_free(k);
        }
}

static void on_authenticated(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        Call *then = ud;
        struct json_object *t = NULL;

        if (!error && json_object_object_get_ex(reply, "token", &t) && json_object_is_type(t, json_type_string)) {
                free(e->token);
                e->token = strdup(json_object_get_string(t));
                log_debug("etcd: authenticated as %s", e->user);
                if (then)
                        call_send(then);
                return;
        }
        log_warning("etcd: cannot authenticate as %s: %s", e->user, error ? error : "no token in the answer");
        if (then) {
                then->cb(e, NULL, "etcd authentication failed", then->ud);
                call_free(then);
        }
}

/* Gets a token for user/password, then sends `then` (may be NULL). */
static void authenticate(Etcd *e, Call *then) {
        struct json_object *body = json_object_new_object();
        json_object_object_add(body, "name", json_object_new_string(e->user));
        json_object_object_add(body, "password", json_object_new_string(e->password ? e->password : ""));
        etcd_call(e, "auth/authenticate", body, on_authenticated, then);
}

/* Posts body (consumed) to /v3/path; cb gets the reply object (borrowed) or an error. A call
 * still out when the backend is freed gets no cb: ud_free (may be NULL) frees ud then. */
static void etcd_call_owned(Etcd *e, const char *path, struct json_object *body, etcd_cb_t cb, void *ud,
                            void (*ud_free)(void *ud)) {
        Call *k = calloc(1, sizeof(*k));
        if (!k) {
                json_object_put(body);
                cb(e, NULL, "out of memory", ud);
                return;
        }
        k->etcd = e;
        k->ud_free = ud_free;
        k->next = e->calls;
        if (e->calls)
                e->calls->prev = k;
        e->calls = k;
        k->path = strdup(path);
        k->body = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
        k->cb = cb;
        k->ud = ud;
        json_object_put(body);
        call_send(k);
}

static void etcd_call(Etcd *e, const char *path, struct json_object *body, etcd_cb_t cb, void *ud) {
        etcd_call_owned(e, path, body, cb, ud, NULL);
}

/* ---- the group view --------------------------------------------------------------------- */

typedef struct View {
        int64_t revision;
        GroupMember *m;
        size_t n;
        char **names;              /* owned names */
        int64_t *member_mod;       /* mod revision of members/NODE, 0 = absent */
        char **holder_json;
        char **request;            /* reboot_required/NODE: the reason, NULL = none */
        char **registration;       /* registered/NODE's value, NULL = none */
        int64_t *updated;          /* members/NODE's "updated" (epoch s), 0 = none */
        int64_t *request_mod;      /* its mod revision */
        BudgetValue max_unavailable, min_healthy;
        bool budget_set;
        bool stop_cluster, stop_group;
        char *stop_cluster_value, *stop_group_value;
        struct json_object *trips;    /* the storm breaker's trips of the group and the cluster: key -> value */
        struct json_object *breaker;  /* the kvs under PREFIX/breaker/ (NULL: not read) */
        StrMap index;                 /* name -> its place + 1 (a view of 500 members is 2500 keys:
                                       * a linear search per key was N² per view) */
} View;

/* Which trip a key is: 'c' a trip of the cluster's breaker (PREFIX/breaker/tripped/cluster/NODE),
 * 'g' of the group's (PREFIX/breaker/tripped/groups/GROUP/NODE), 0 neither (another group's,
 * or not a trip key). */
static char trip_scope(const Etcd *e, const char *key, const char *group) {
        size_t tlen = strlen(e->tprefix), glen = strlen(group);
        const char *rest = key + tlen;

        if (strncmp(key, e->tprefix, tlen) != 0)
                return 0;
        if (strncmp(rest, "cluster/", 8) == 0 && rest[8] && !strchr(rest + 8, '/'))
                return 'c';
        if (strncmp(rest, "groups/", 7) == 0 && strncmp(rest + 7, group, glen) == 0 && rest[7 + glen] == '/' &&
            rest[8 + glen] && !strchr(rest + 8 + glen, '/'))
                return 'g';
        return 0;
}

/* One trip value of the scope ('c', 'g') among trips (keys trip_scope() accepted), or NULL. */
static const char *trips_find(const Etcd *e, struct json_object *trips, char scope) {
        size_t tlen = strlen(e->tprefix);

        json_object_object_foreach(trips, key, val)
                if ((strncmp(key + tlen, "cluster/", 8) == 0) == (scope == 'c'))
                        return json_object_get_string(val);
        return NULL;
}

/* A stop switch is set or the storm breaker is tripped: nothing is granted. */
static bool view_stopped(const View *v) {
        return v->stop_cluster || v->stop_group || (v->trips && json_object_object_length(v->trips) > 0);
}

static void view_free(View *v) {
        for (size_t i = 0; i < v->n; i++) {
                free(v->names[i]);
                free(v->holder_json[i]);
                free(v->request[i]);
                free(v->registration[i]);
        }
        free(v->registration);
        free(v->updated);
        free(v->names);
        free(v->request);
        free(v->request_mod);
        free(v->m);
        free(v->member_mod);
        free(v->holder_json);
        free(v->stop_cluster_value);
        free(v->stop_group_value);
        json_object_put(v->trips);
        json_object_put(v->breaker);
        strmap_clear(&v->index);
        *v = (View) {};
}

static size_t view_member(View *v, const char *name) {
        uintptr_t at = (uintptr_t) strmap_get(&v->index, name);
        if (at)
                return (size_t) at - 1;
        size_t n = v->n + 1;
        v->names = realloc(v->names, n * sizeof(char *));
        v->m = realloc(v->m, n * sizeof(GroupMember));
        v->member_mod = realloc(v->member_mod, n * sizeof(int64_t));
        v->holder_json = realloc(v->holder_json, n * sizeof(char *));
        v->request = realloc(v->request, n * sizeof(char *));
        v->request_mod = realloc(v->request_mod, n * sizeof(int64_t));
        v->registration = realloc(v->registration, n * sizeof(char *));
        v->updated = realloc(v->updated, n * sizeof(int64_t));
        if (!v->names || !v->m || !v->member_mod || !v->holder_json || !v->request || !v->request_mod ||
            !v->registration || !v->updated)
                abort();
        v->names[v->n] = strdup(name);
        v->m[v->n] = (GroupMember) { .name = v->names[v->n] };
        v->member_mod[v->n] = 0;
        v->holder_json[v->n] = NULL;
        v->request[v->n] = NULL;
        v->request_mod[v->n] = 0;
        v->registration[v->n] = NULL;
        v->updated[v->n] = 0;
        if (!v->names[v->n] || strmap_put(&v->index, v->names[v->n], (void *) (uintptr_t) (v->n + 1)) < 0)
                abort();
        return v->n++;
}

/* Adds one of the group's keys (an etcd kv object) to the view. -EBADMSG when the key or the
 * value is not base64 (a key the view cannot read may be a holder it would miss). */
static int view_add(View *v, const char *gprefix, struct json_object *kv) {
        size_t glen = strlen(gprefix);
        struct json_object *k = jget(kv, "key"), *jv = jget(kv, "value");
        _cleanup_free_ char *key = json_object_is_type(k, json_type_string) ? unb64(json_object_get_string(k)) : NULL;
        _cleanup_free_ char *val = unb64(json_object_is_type(jv, json_type_string) ? json_object_get_string(jv) : "");

        if (!key || !val)
                return -EBADMSG;
        if (strncmp(key, gprefix, glen) != 0)
                return 0;
        const char *rest = key + glen, *slash = strchr(rest, '/');
        if (!slash) {
                if (strcmp(rest, "stop") == 0) {
                        v->stop_group = true;
                        free(v->stop_group_value);
                        v->stop_group_value = strdup(val);
                }
                else if (strcmp(rest, "budget") == 0) {
                        struct json_object *b = json_tokener_parse(val);
                        const char *mu = json_object_get_string(jget(b, "max_unavailable"));
                        const char *mh = json_object_get_string(jget(b, "min_healthy"));
                        BudgetValue x;
                        if (mu && budget_parse(mu, &x) >= 0)
                                v->max_unavailable = x;
                        if (mh && budget_parse(mh, &x) >= 0)
                                v->min_healthy = x;
                        v->budget_set = true;
                        json_object_put(b);
                }
                return 0;
        }
        size_t kind_len = (size_t) (slash - rest);
        size_t i = view_member(v, slash + 1);
        GroupMember *m = &v->m[i];
        if (strncmp(rest, "registered", kind_len) == 0 && kind_len == 10) {
                m->registered = true;
                free(v->registration[i]);
                v->registration[i] = strdup(val);
        } else if (strncmp(rest, "members", kind_len) == 0 && kind_len == 7) {
                struct json_object *h = json_tokener_parse(val);
                m->alive = true;
                m->healthy = jtrue(jget(h, "healthy"));
                v->member_mod[i] = jint(kv, "mod_revision");
                v->updated[i] = jint(h, "updated");
                json_object_put(h);
        } else if (strncmp(rest, "holders", kind_len) == 0 && kind_len == 7) {
                m->holder = true;
                free(v->holder_json[i]);
                v->holder_json[i] = strdup(val);
        } else if (strncmp(rest, "queue", kind_len) == 0 && kind_len == 5) {
                m->queued = true;
                m->queue_rev = jint(kv, "create_revision");
        } else if (strncmp(rest, "reboot_required", kind_len) == 0 && kind_len == 15) {
                free(v->request[i]);
                v->request[i] = strdup(val);
                v->request_mod[i] = jint(kv, "mod_revision");
        }
        return 0;
}

static void view_finish(View *v) {
        /* healthy implies alive */
        for (size_t i = 0; i < v->n; i++)
                v->m[i].healthy = v->m[i].healthy && v->m[i].alive;
}

/* Builds the view from a txn reply whose responses are [range group prefix, range stop key,
 * range PREFIX/breaker/tripped/, range PREFIX/breaker/ (only with a breaker configured)]. */
static int view_parse_at(Etcd *e, const char *gprefix, struct json_object *reply, size_t off, View *v) {
        struct json_object *resp = jget(reply, "responses");

        *v = (View) { .max_unavailable = e->max_unavailable, .min_healthy = e->min_healthy };
        v->revision = jint(jget(reply, "header"), "revision");
        if (!json_object_is_type(resp, json_type_array) || jlen(resp) < off + 2 || v->revision <= 0)
                return -EBADMSG;
        struct json_object *kvs = txn_kvs(reply, off + 0);
        for (size_t i = 0; kvs && i < jlen(kvs); i++)
                if (view_add(v, gprefix, jidx(kvs, i)) < 0) {
                        view_free(v);
                        return -EBADMSG;
                }
        struct json_object *skvs = txn_kvs(reply, off + 1);
        v->stop_cluster = skvs && jlen(skvs) > 0;
        if (v->stop_cluster)
                v->stop_cluster_value = unb64(json_object_get_string(jget(jidx(skvs, 0), "value")) ?: "");
        /* The trips of this group's breaker and the cluster's (gprefix is PREFIX/groups/G/). */
        size_t goff = strlen(e->prefix) + strlen("/groups/");
        _cleanup_free_ char *group = strlen(gprefix) > goff ? strndup(gprefix + goff, strlen(gprefix) - goff - 1) : strdup("");
        struct json_object *tkvs = txn_kvs(reply, off + 2);
        v->trips = json_object_new_object();
        for (size_t i = 0; group && tkvs && i < jlen(tkvs); i++) {
                struct json_object *kv = jidx(tkvs, i);
                _cleanup_free_ char *key = unb64(json_object_get_string(jget(kv, "key")) ?: "");
                _cleanup_free_ char *val = unb64(json_object_get_string(jget(kv, "value")) ?: "");
                if (key && val && trip_scope(e, key, group))
                        json_object_object_add(v->trips, key, json_object_new_string(val));
        }
        struct json_object *bkvs = txn_kvs(reply, off + 3);
        if (jlen(resp) >= off + 4)
                v->breaker = json_object_is_type(bkvs, json_type_array) ? json_object_get(bkvs) : json_object_new_array();
        view_finish(v);
        return 0;
}

static int view_parse(Etcd *e, const char *gprefix, struct json_object *reply, View *v) {
        return view_parse_at(e, gprefix, reply, 0, v);
}

/* The view from the watch-kept copy of the group; the cluster-wide stop switch as its own watch
 * last said (a grant compares that it is absent, so a stale "absent" cannot grant). */
static int view_from_cache(Etcd *e, View *v) {
        int r = 0;

        *v = (View) { .max_unavailable = e->max_unavailable, .min_healthy = e->min_healthy, .revision = e->cache_rev };
        json_object_object_foreach(e->cache, key, kv) {
                (void) key;
                if (view_add(v, e->gprefix, kv) < 0)
                        r = -EBADMSG; /* a value a watch event brought that cannot be read */
        }
        v->stop_cluster = e->stop_cluster;
        v->trips = json_object_get(e->trips);
        view_finish(v);
        return r;
}

/* A fresh read of this node's group becomes the watch-kept copy, if no change the watch
 * delivered is newer than the read (it would be missing) and both watches (group, cluster-wide
 * stop switch) were there before it. */
static void cache_fill_at(Etcd *e, struct json_object *reply, size_t off) {
        struct json_object *kvs = txn_kvs(reply, off);
        int64_t rev = jint(jget(reply, "header"), "revision");

        json_object_put(e->cache);
        e->cache = json_object_new_object();
        for (size_t i = 0; kvs && i < jlen(kvs); i++) {
                struct json_object *kv = jidx(kvs, i);
                _cleanup_free_ char *key = unb64(json_object_get_string(jget(kv, "key")) ?: "");
                if (key)
                        json_object_object_add(e->cache, key, json_object_get(kv));
        }
        e->cache_rev = e->cache_read_rev = rev;
        e->cache_kept = rev > 0 && e->group_watch.created && e->group_watch.created_rev <= rev && e->group_event_rev <= rev;
        e->cache_ok = e->cache_kept && e->stop_watch.created && e->stop_watch.created_rev <= rev &&
                      e->trip_watch.created && e->trip_watch.created_rev <= rev;
}

static void cache_fill(Etcd *e, struct json_object *reply) {
        cache_fill_at(e, reply, 0);
}

/* One change from the group watch. */
static void cache_apply(Etcd *e, const EtcdWatchEvent *ev) {
        struct json_object *kv = ev->kv;
        int64_t rev = ev->mod_revision;
        const char *key = ev->key;

        if (rev > e->group_event_rev)
                e->group_event_rev = rev;
        /* Not kept, or already in the read. (One revision may bring several changes: a
         * transaction's events share it.) */
        if (!e->cache_kept || !key || rev <= e->cache_read_rev)
                return;
        bool deleted = ev->deleted;
        if (deleted)
                json_object_object_del(e->cache, key);
        else
                json_object_object_add(e->cache, key, json_object_get(kv));
        /* When a member's lease ended, for its last_seen in the group view. */
        size_t mlen = strlen(e->gprefix) + strlen("members/");
        if (strncmp(key, e->gprefix, strlen(e->gprefix)) == 0 && strncmp(key + strlen(e->gprefix), "members/", 8) == 0 &&
            key[mlen]) {
                if (deleted)
                        json_object_object_add(e->gone, key + mlen,
                                               json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
                else
                        json_object_object_del(e->gone, key + mlen);
        }
        if (rev > e->cache_rev)
                e->cache_rev = rev;
}

static bool breaker_on(const Etcd *e);

/* The ranges a decision is made on, as txn operations (view_parse() reads their answers): the
 * group, the cluster-wide stop switch, the storm breaker's trips and (with a breaker) history. */
static struct json_object *view_ops(Etcd *e, const char *gprefix) {
        struct json_object *ops = json_object_new_array();
        _cleanup_free_ char *gend = prefix_end(gprefix), *stop = strprintf("%s/stop", e->prefix),
                            *bend = prefix_end(e->bprefix), *tend = prefix_end(e->tprefix);

        json_object_array_add(ops, range_req(gprefix, gend));
        json_object_array_add(ops, range_req(stop, NULL));
        /* The storm breaker's trips, honoured whether this node has a breaker configured or not. */
        json_object_array_add(ops, range_req(e->tprefix, tend));
        if (breaker_on(e))
                json_object_array_add(ops, range_req(e->bprefix, bend)); /* the storm breaker's history */
        return ops;
}

static void read_view(Etcd *e, const char *gprefix, etcd_cb_t cb, void *ud, void (*ud_free)(void *ud)) {
        struct json_object *body = json_object_new_object();

        json_object_object_add(body, "success", view_ops(e, gprefix));
        etcd_call_owned(e, "kv/txn", body, cb, ud, ud_free);
}

static void on_view_refreshed(Etcd *e, struct json_object *reply, const char *error, void *ud);

/* Starts keeping the copy of the group (for the group view) when the group watch is there and
 * the copy is not kept: one read, then the watch's changes. */
static void view_refresh(Etcd *e) {
        if (e->cache_kept || e->view_refreshing || !e->group_watch.created)
                return;
        e->view_refreshing = true;
        read_view(e, e->gprefix, on_view_refreshed, NULL, NULL);
}

/* After registering or a watch (re)started: one read of the group once this node is registered
 * and all three watches stand, which the copy then follows (not one read per event: in a burst
 * of registrations every read is of a large group). */
static void view_sync(Etcd *e) {
        if (!e->lease || e->registering || e->view_refreshing || e->cache_ok || !e->group_watch.created ||
            !e->stop_watch.created || !e->trip_watch.created)
                return;
        e->view_refreshing = true;
        read_view(e, e->gprefix, on_view_refreshed, NULL, NULL);
}

/* ---- asking for permission ------------------------------------------------------------------ */

static void attempt(Etcd *e);

static void on_ignore(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        if (error)
                log_warning("etcd: %s: %s", (const char *) ud, error);
}

static void leave_queue(Etcd *e) {
        _cleanup_free_ char *queue = gkey(e, "queue", e->node);
        struct json_object *body = json_object_new_object();

        jadd_b64(body, "key", queue);
        e->cache_ok = false;
        etcd_call(e, "kv/deleterange", body, on_ignore, (void *) "leaving the queue");
}

static void release_send(Etcd *e);
static void decide(Etcd *e, View *v);

/* A holder key of this node that no answer granted, from a grant etcd applied late: given back
 * (deleting is harmless when it is not there). force: whether or not the copy shows it. */
static void late_grant_check(Etcd *e, bool force) {
        _cleanup_free_ char *key = NULL;

        if (!e->maybe_granted || e->granted || e->pending.cb || e->release_wanted)
                return;
        if (!force && !((key = gkey(e, "holders", e->node)) && e->cache_kept && jget(e->cache, key)))
                return;
        log_warning("etcd: %s may hold permission in group %s from a grant etcd applied late (after it "
                    "gave up on it); giving it back", e->node, e->group);
        e->release_wanted = true;
        e->view_gen++;
        if (!e->release_in_flight)
                release_send(e);
}

static void answer(Etcd *e, CoordAnswer a, const char *reason) {
        Pending p = e->pending;

        e->pending = (Pending) {};
        e->attempting = false;
        e->refusals = 0;
        if (e->release_wanted && a != COORD_UNKNOWN) {
                /* Released while this request was in flight: whatever it saw is stale. */
                a = COORD_UNKNOWN;
                reason = "the permission was released while the request was in flight";
        }
        if (a != COORD_UNKNOWN) {
                /* Cache the answer until the next watch event says something changed. */
                free(e->cached_reason);
                free(e->cached_holder);
                e->cached_reason = strdup_or_null(reason);
                e->cached_holder = strdup_or_null(p.holder);
                e->cached_answer = a;
                e->cached_gen = e->view_gen;
        }
        if (a == COORD_GRANTED)
                e->granted = true;
        if (p.cb)
                p.cb(a, reason, p.userdata);
        free(p.holder);
        if (e->release_wanted && !e->release_in_flight && !e->pending.cb)
                release_send(e);
        else if (a != COORD_GRANTED)
                late_grant_check(e, false);
}

/* The group as the grant transaction read it back (its third response: the group at the
 * grant's own revision, the new holder included) is within its budget. The stop switches were
 * compared absent or unchanged by the transaction itself. */
static bool granted_within_budget(Etcd *e, struct json_object *reply) {
        struct json_object *kvs = txn_kvs(reply, 2);
        View v = { .max_unavailable = e->max_unavailable, .min_healthy = e->min_healthy };
        bool ok;

        if (!kvs)
                return false; /* a malformed answer proves nothing */
        for (size_t i = 0; i < jlen(kvs); i++)
                if (view_add(&v, e->gprefix, jidx(kvs, i)) < 0) {
                        view_free(&v);
                        return false;
                }
        view_finish(&v);
        GroupView gv = { .members = v.m, .n = v.n, .max_unavailable = v.max_unavailable, .min_healthy = v.min_healthy };
        ok = grant_within_budget(&gv);
        view_free(&v);
        return ok;
}

static void on_grant_txn(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        if (error) {
                /* Outcome unknown: maybe granted, maybe not. Only a fresh read can tell. */
                _cleanup_free_ char *why = strprintf("grant outcome unknown (%s); will re-read", error);
                e->view_gen++;
                e->maybe_granted = true;
                return answer(e, COORD_UNKNOWN, why);
        }
        e->cache_ok = false; /* granted: our own write; refused: the view was behind */
        if (jtrue(jget(reply, "succeeded"))) {
                /* ud: the grant read the group back, to be checked on it. */
                if (ud && !granted_within_budget(e, reply)) {
                        /* Give it back before anyone can act on it: while the release is not
                         * confirmed every request answers "unknown". */
                        log_warning("etcd: the grant to %s in group %s is over the budget at its own revision (a "
                                    "member's lease ended while it was decided); giving it back", e->node, e->group);
                        e->release_wanted = true;
                        e->view_gen++;
                        return answer(e, COORD_UNKNOWN, "a member's lease ended while the grant was decided; given back");
                }
                log_notice("etcd: permission granted to %s in group %s", e->node, e->group);
                e->grant_rev = jint(jget(reply, "header"), "revision");
                return answer(e, COORD_GRANTED, NULL);
        }
        /* Somebody changed the group meanwhile: decide again at once, on the group as the
         * transaction's failure branch read it (view_ops(): no second round trip). Not without
         * end: an etcd (or something posing as one) that refuses every grant is not asked in a
         * loop. */
        if (++e->refusals >= MAX_REFUSALS) {
                _cleanup_free_ char *why = strprintf("etcd refused the grant transaction %d times in a row; the group "
                                                     "changes too fast or etcd misbehaves", MAX_REFUSALS);
                return answer(e, COORD_UNKNOWN, why);
        }
        View v;
        if (!e->lease || view_parse(e, e->gprefix, reply, &v) < 0)
                return attempt(e);
        cache_fill(e, reply);
        e->reads++;
        e->grant_retries++;
        decide(e, &v);
}

/* ---- the storm breaker ------------------------------------------------------------------ */

static bool breaker_on(const Etcd *e) {
        return e->breaker_group.window_usec > 0 || e->breaker_cluster.window_usec > 0;
}

/* trip_cluster, trip_group after the trips changed. */
static void trips_update(Etcd *e) {
        free(e->trip_cluster);
        free(e->trip_group);
        e->trip_cluster = strdup_or_null(trips_find(e, e->trips, 'c'));
        e->trip_group = strdup_or_null(trips_find(e, e->trips, 'g'));
}

/* A stop switch's value when the storm breaker of an older medic wrote it (a JSON object with "breaker"), as a
 * malloc'ed copy; NULL for an operator's stop switch or none. */
static char *trip_of(const char *value) {
        struct json_object *o = value ? json_tokener_parse(value) : NULL;
        char *r = json_object_is_type(o, json_type_object) && jget(o, "breaker") ? strdup(value) : NULL;
        json_object_put(o);
        return r;
}

/* The "reason" of a trip value (or the value itself). */
static char *trip_reason(const char *trip) {
        struct json_object *o = json_tokener_parse(trip);
        const char *r = json_object_get_string(jget(o, "reason"));
        char *s = strdup(r ? r : trip);
        json_object_put(o);
        return s;
}

/* The history under PREFIX/breaker/: its events (pointing into hist, which the caller keeps
 * until it is done with them) and the revisions of the last resets. */
typedef struct BreakerHistory {
        BreakerEvent *ev;
        size_t n;
        int64_t reset_cluster, reset_group;
        struct json_object *values;   /* the parsed values the events point into */
} BreakerHistory;

static void history_free(BreakerHistory *h) {
        free(h->ev);
        json_object_put(h->values);
        *h = (BreakerHistory) {};
}

static void history_parse(Etcd *e, struct json_object *kvs, BreakerHistory *h) {
        size_t blen = strlen(e->bprefix);
        _cleanup_free_ char *greset = strprintf("reset/groups/%s", e->group);

        *h = (BreakerHistory) { .values = json_object_new_array() };
        h->ev = calloc(jlen(kvs) + 1, sizeof(*h->ev));
        if (!h->ev || !h->values || !greset)
                return;
        for (size_t i = 0; i < jlen(kvs); i++) {
                struct json_object *kv = jidx(kvs, i);
                _cleanup_free_ char *key = unb64(json_object_get_string(jget(kv, "key")) ?: "");
                _cleanup_free_ char *val = unb64(json_object_get_string(jget(kv, "value")) ?: "");
                struct json_object *o;
                if (!key || !val || strncmp(key, e->bprefix, blen) != 0)
                        continue;
                o = json_tokener_parse(val);
                if (!json_object_is_type(o, json_type_object)) {
                        json_object_put(o); /* not ours: ignored */
                        continue;
                }
                json_object_array_add(h->values, o);
                const char *rest = key + blen;
                if (strcmp(rest, "reset/cluster") == 0)
                        h->reset_cluster = jint(kv, "mod_revision");
                else if (strcmp(rest, greset) == 0)
                        h->reset_group = jint(kv, "mod_revision");
                else if (strncmp(rest, "events/", 7) == 0)
                        h->ev[h->n++] = (BreakerEvent) { .node = json_object_get_string(jget(o, "node")),
                                                         .group = json_object_get_string(jget(o, "group")),
                                                         .time = jint(o, "time"),
                                                         .rev = jint(kv, "mod_revision") };
        }
}

/* Whether granting this node now trips a breaker; then *ret_key is this node's trip key to set and
 * *ret_value its value (both malloc'ed). Decided on the history the view read. */
static bool breaker_check(Etcd *e, const View *v, const GroupView *gv, char **ret_key, char **ret_value) {
        BreakerHistory h;
        GroupCounts cnt;
        int64_t now = (int64_t) (now_realtime() / USEC_PER_SEC);
        bool tripped = false;

        grant_counts(gv, &cnt);
        history_parse(e, v->breaker, &h);
        for (int cluster = 0; cluster < 2 && !tripped; cluster++) {
                const BreakerSpec *spec = cluster ? &e->breaker_cluster : &e->breaker_group;
                StrList nodes = {};
                unsigned allowed;
                char b[48], w[32];

                if (!breaker_trips(spec, h.ev, h.n, cluster ? NULL : e->group, cluster ? h.reset_cluster : h.reset_group,
                                   now, e->node, cnt.members, &nodes, &allowed)) {
                        strlist_clear(&nodes);
                        continue;
                }
                tripped = true;
                struct json_object *o = json_object_new_object(), *list = json_object_new_array();
                size_t len = 0;
                char names[512] = "";
                for (size_t i = 0; i < nodes.n; i++) {
                        json_object_array_add(list, json_object_new_string(nodes.v[i]));
                        if (len < sizeof names) {
                                int k = snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", nodes.v[i]);
                                len += k > 0 ? (size_t) k : 0;
                        }
                }
                _cleanup_free_ char *reason = strprintf(
                        "storm breaker: %zu nodes %s%s started a disruptive remedy or became unhealthy within %s "
                        "(breaker_%s %s allows %u): %s", nodes.n, cluster ? "of the cluster" : "of group ",
                        cluster ? "" : e->group, duration_format(spec->window_usec, w, sizeof w),
                        cluster ? "cluster" : "group", breaker_format(spec, b, sizeof b), allowed, names);
                json_object_object_add(o, "breaker", json_object_new_string(cluster ? "cluster" : "group"));
                if (!cluster)
                        json_object_object_add(o, "group", json_object_new_string(e->group));
                json_object_object_add(o, "reason", json_object_new_string(reason));
                json_object_object_add(o, "nodes", list);
                json_object_object_add(o, "limit", json_object_new_string(b));
                json_object_object_add(o, "allowed", json_object_new_int((int) allowed));
                json_object_object_add(o, "since", json_object_new_int64(now));
                json_object_object_add(o, "by", json_object_new_string(e->node));
                /* This node's own trip key of the scope: the stop switches are the operators'. */
                *ret_key = cluster ? strprintf("%scluster/%s", e->tprefix, e->node)
                                   : strprintf("%sgroups/%s/%s", e->tprefix, e->group, e->node);
                *ret_value = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
                strlist_clear(&nodes);
        }
        history_free(&h);
        return tripped;
}

static void on_trip_txn(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        _cleanup_free_ char *value = ud;

        e->cache_ok = false;
        if (error) {
                _cleanup_free_ char *why = strprintf("the storm breaker would trip, but etcd did not confirm the "
                                                     "trip (%s); will re-read", error);
                e->view_gen++;
                return answer(e, COORD_UNKNOWN, why);
        }
        if (!jtrue(jget(reply, "succeeded")))
                return attempt(e); /* the history or a trip changed meanwhile: decide again */
        _cleanup_free_ char *reason = trip_reason(value);
        log_warning("etcd: %s; nothing is granted until an operator resumes (medicctl coordinator resume --reason)",
                    reason);
        e->view_gen++;
        _cleanup_free_ char *why = strprintf("the storm breaker tripped: %s", reason);
        answer(e, COORD_DENIED, why);
}

/* Records the trip (this node's key under PREFIX/breaker/tripped/) instead of granting: only if
 * the history and the trips are those the decision read (no trip there then: it would have
 * refused). This node leaves the queue (a tripped breaker refuses). */
static void breaker_trip(Etcd *e, const View *v, const char *key, char *value) {
        struct json_object *body = json_object_new_object(), *cmp = json_object_new_array(),
                           *succ = json_object_new_array();
        _cleanup_free_ char *bend = prefix_end(e->bprefix), *queue = gkey(e, "queue", e->node);

        json_object_array_add(cmp, compare("MOD", e->bprefix, bend, "LESS", "mod_revision", v->revision + 1));
        json_object_array_add(cmp, compare("CREATE", key, NULL, "EQUAL", "create_revision", 0));
        json_object_array_add(succ, put_req(key, value, 0));
        json_object_array_add(succ, delete_req(queue, NULL));
        json_object_object_add(body, "compare", cmp);
        json_object_object_add(body, "success", succ);
        etcd_call_owned(e, "kv/txn", body, on_trip_txn, value, free);
}

/* This node's entry in the breaker's history (what: "granted" or "unhealthy"). */
static struct json_object *history_put(Etcd *e, const char *what, const char *rule) {
        struct json_object *o = json_object_new_object(), *r;
        _cleanup_free_ char *k = strprintf("%sevents/%s/%s", e->bprefix, e->group, e->node);

        json_object_object_add(o, "node", json_object_new_string(e->node));
        json_object_object_add(o, "group", json_object_new_string(e->group));
        json_object_object_add(o, "time", json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
        json_object_object_add(o, "what", json_object_new_string(what));
        if (rule)
                json_object_object_add(o, "rule", json_object_new_string(rule));
        r = put_req(k, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), 0);
        json_object_put(o);
        return r;
}

static void grant(Etcd *e, View *v) {
        struct json_object *body = json_object_new_object(), *cmp = json_object_new_array(),
                           *succ = json_object_new_array(), *h = json_object_new_object();
        _cleanup_free_ char *stop = strprintf("%s/stop", e->prefix),
                            *holder = gkey(e, "holders", e->node), *queue = gkey(e, "queue", e->node);

        /* Nothing that decides the budget changed after the view: no new or changed holder,
         * registration, budget or stop switch. (The queue may change: a waiter that joined later
         * is behind this one anyway, so FIFO holds; leaving it out keeps grants from failing on
         * every join.) */
        static const char *const guarded[] = { "holders/", "registered/" };
        for (size_t i = 0; i < ELEMENTSOF(guarded); i++) {
                _cleanup_free_ char *k = strprintf("%s%s", e->gprefix, guarded[i]), *kend = prefix_end(k);
                json_object_array_add(cmp, compare("MOD", k, kend, "LESS", "mod_revision", v->revision + 1));
        }
        _cleanup_free_ char *budget = gkey(e, "budget", NULL), *gstop = gkey(e, "stop", NULL);
        json_object_array_add(cmp, compare("MOD", budget, NULL, "LESS", "mod_revision", v->revision + 1));
        json_object_array_add(cmp, compare("MOD", gstop, NULL, "LESS", "mod_revision", v->revision + 1));
        /* The cluster-wide switch is outside the group (its own watch, its own revisions): it
         * must not exist, whatever revision the view is of. */
        json_object_array_add(cmp, compare("CREATE", stop, NULL, "EQUAL", "create_revision", 0));
        json_object_array_add(cmp, compare("CREATE", holder, NULL, "EQUAL", "create_revision", 0));
        /* The storm breaker is not tripped: no trip key of the cluster or of the group, whatever
         * the view said (an empty range compares as one key never created). */
        _cleanup_free_ char *tc = strprintf("%scluster/", e->tprefix), *tcend = prefix_end(tc),
                            *tg = strprintf("%sgroups/%s/", e->tprefix, e->group), *tgend = prefix_end(tg);
        json_object_array_add(cmp, compare("CREATE", tc, tcend, "EQUAL", "create_revision", 0));
        json_object_array_add(cmp, compare("CREATE", tg, tgend, "EQUAL", "create_revision", 0));
        /* The breaker's history: unchanged since the read it was decided on (no other grant,
         * trip or reset in between); this grant goes into it below. */
        if (breaker_on(e)) {
                _cleanup_free_ char *bend = prefix_end(e->bprefix);
                json_object_array_add(cmp, compare("MOD", e->bprefix, bend, "LESS", "mod_revision", v->revision + 1));
        }
        /* A member that counted as alive must still be: a vanished lease means one more
         * unavailable. Each alive member's key is compared as long as the compares fit in one
         * transaction. A larger group compares its members/ range (no member key changed or
         * appeared after the view) and reads the group back in the same transaction: a lease
         * that expired meanwhile is a deletion, which no range compare sees, so the grant is
         * then checked against the group at its own revision and given back if it is over the
         * budget there (on_grant_txn). */
        size_t alive = 0;
        for (size_t i = 0; i < v->n; i++)
                alive += v->m[i].alive;
        bool read_back = json_object_array_length(cmp) + alive > ETCD_MAX_TXN_OPS;
        if (read_back) {
                _cleanup_free_ char *mk = strprintf("%smembers/", e->gprefix), *mend = prefix_end(mk);
                json_object_array_add(cmp, compare("MOD", mk, mend, "LESS", "mod_revision", v->revision + 1));
        } else
                for (size_t i = 0; i < v->n; i++)
                        if (v->m[i].alive) {
                                _cleanup_free_ char *mk = gkey(e, "members", v->names[i]);
                                json_object_array_add(cmp, compare("MOD", mk, NULL, "EQUAL", "mod_revision", v->member_mod[i]));
                        }
        json_object_object_add(h, "node", json_object_new_string(e->node));
        json_object_object_add(h, "rule", json_object_new_string(e->pending.holder ? e->pending.holder : ""));
        json_object_object_add(h, "since", json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
        json_object_array_add(succ, put_req(holder, json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN), 0));
        json_object_array_add(succ, delete_req(queue, NULL));
        if (read_back) {
                _cleanup_free_ char *gend = prefix_end(e->gprefix);
                json_object_array_add(succ, range_req(e->gprefix, gend));
        }
        /* This grant in the breaker's history (after the read-back: its index stays 2). */
        json_object_array_add(succ, history_put(e, "granted", e->pending.holder));
        json_object_put(h);
        json_object_object_add(body, "compare", cmp);
        json_object_object_add(body, "success", succ);
        json_object_object_add(body, "failure", view_ops(e, e->gprefix)); /* decided again on it */
#ifdef MEDIC_TEST_HOOKS
        /* tests/helpers/coord-client only: hold the decided grant back, so that a test can let a
         * member's lease end between the decision and the transaction. */
        const char *delay = getenv("MEDIC_TEST_GRANT_DELAY_MS");
        if (delay && atoi(delay) > 0)
                (void) usleep((useconds_t) atoi(delay) * 1000);
#endif
        etcd_call(e, "kv/txn", body, on_grant_txn, read_back ? (void *) "read back" : NULL);
}

static void on_enqueued(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        View v;

        e->cache_ok = false; /* our own write: the next decision reads it back */
        if (error) {
                _cleanup_free_ char *why = strprintf("cannot join the queue: %s", error);
                return answer(e, COORD_UNKNOWN, why);
        }
        /* Joined: the same transaction read the group after the put (its responses 1...: the
         * ranges of view_ops(), which see the new queue key), decided on at once instead of a
         * read of its own (in a rollout every waiter joins at once: one round trip each less).
         * Already queued (the compare failed) or an answer it cannot read: a read. */
        if (!jtrue(jget(reply, "succeeded")) || !e->lease || view_parse_at(e, e->gprefix, reply, 1, &v) < 0)
                return attempt(e);
        cache_fill_at(e, reply, 1);
        e->reads++;
        decide(e, &v);
}

static void enqueue(Etcd *e) {
        struct json_object *body = json_object_new_object(), *cmp = json_object_new_array(),
                           *succ = json_object_new_array(), *q = json_object_new_object();
        _cleanup_free_ char *queue = gkey(e, "queue", e->node);

        json_object_object_add(q, "rule", json_object_new_string(e->pending.holder ? e->pending.holder : ""));
        json_object_object_add(q, "since", json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
        json_object_array_add(cmp, compare("CREATE", queue, NULL, "EQUAL", "create_revision", 0));
        json_object_array_add(succ, put_req(queue, json_object_to_json_string_ext(q, JSON_C_TO_STRING_PLAIN), e->lease));
        json_object_put(q);
        /* The group after the put, to decide on (on_enqueued). */
        struct json_object *ops = view_ops(e, e->gprefix);
        for (size_t i = 0; i < json_object_array_length(ops); i++)
                json_object_array_add(succ, json_object_get(json_object_array_get_idx(ops, i)));
        json_object_put(ops);
        json_object_object_add(body, "compare", cmp);
        json_object_object_add(body, "success", succ);
        etcd_call(e, "kv/txn", body, on_enqueued, NULL);
}

static void remember_view(Etcd *e, const View *v, const GroupView *gv) {
        GroupCounts cnt;

        grant_counts(gv, &cnt);
        e->seen_view = true;
        e->stop_cluster = v->stop_cluster;
        e->stop_group = v->stop_group;
        struct json_object *t = json_object_get(v->trips);
        json_object_put(e->trips);
        e->trips = t ? t : json_object_new_object();
        trips_update(e);
        e->budget_used = cnt.unavailable;
        e->budget_allowed = cnt.allowed;
        e->holding = false;
        for (size_t i = 0; i < v->n; i++)
                if (strcmp(v->names[i], e->node) == 0 && v->m[i].holder) {
                        struct json_object *h = json_tokener_parse(v->holder_json[i] ? v->holder_json[i] : "{}");
                        e->holding = true;
                        e->holding_since = jint(h, "since");
                        json_object_put(h);
                }
}

static void on_first_view(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        View v;

        if (error || view_parse(e, e->gprefix, reply, &v) < 0)
                return;
        cache_fill(e, reply);
        GroupView gv = { .members = v.m, .n = v.n, .max_unavailable = v.max_unavailable,
                         .min_healthy = v.min_healthy, .stopped = view_stopped(&v) };
        remember_view(e, &v, &gv);
        view_free(&v);
}

static void on_view_refreshed(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        e->view_refreshing = false;
        on_first_view(e, reply, error, ud);
}

/* Decides the pending request on a view of the group (consumes it). */
static void decide(Etcd *e, View *v) {
        _cleanup_free_ char *reason = NULL;
        unsigned pos;

        GroupView gv = { .members = v->m, .n = v->n, .max_unavailable = v->max_unavailable,
                         .min_healthy = v->min_healthy, .stopped = view_stopped(v) };
        remember_view(e, v, &gv);
        size_t me = view_member(v, e->node);
        gv.members = v->m; /* view_member may have grown the array */
        gv.n = v->n;
        /* Not queued yet: decided as the last of the queue (behind everyone who joined before),
         * so that a free slot is granted at once; only a node that has to wait joins the queue
         * (the grant deletes the queue key either way). Once per request: a grant that failed
         * its compare had competitors, and nodes outside the queue cannot see each other, so
         * they would all try for every slot; the queue orders them. */
        bool queued = v->m[me].queued, direct = !queued && !e->direct_tried;
        if (direct) {
                v->m[me].queued = true;
                v->m[me].queue_rev = INT64_MAX;
        }
        switch (grant_decide(&gv, e->node, &pos, &reason)) {
        case GRANT_HELD:
                view_free(v);
                return answer(e, COORD_GRANTED, "already holds permission");
        case GRANT_STOPPED: {
                _cleanup_free_ char *why = NULL;
                if (v->stop_cluster || v->stop_group) {
                        _cleanup_free_ char *trip = trip_of(v->stop_cluster ? v->stop_cluster_value : v->stop_group_value),
                                            *tr = trip ? trip_reason(trip) : NULL;
                        why = strprintf("%s stop switch is set%s%s", v->stop_cluster ? "the cluster-wide" : "the group's",
                                        tr ? " by the " : "", tr ? tr : "");
                } else {
                        /* The storm breaker is tripped: one of its trip keys is there. */
                        const char *t = trips_find(e, v->trips, 'c');
                        bool cluster = t != NULL;
                        _cleanup_free_ char *tr = trip_reason(t ? t : trips_find(e, v->trips, 'g') ?: "");
                        why = strprintf("the storm breaker is tripped (%s%s) until an operator resumes it: %s",
                                        cluster ? "cluster" : "group ", cluster ? "" : e->group, tr);
                }
                view_free(v);
                leave_queue(e); /* pending requests are refused */
                return answer(e, COORD_DENIED, why);
        }
        case GRANT_YES: {
                char *key = NULL, *value = NULL;
                if (breaker_on(e) && !v->breaker) {
                        view_free(v);
                        return answer(e, COORD_UNKNOWN, "the storm breaker's history was not read");
                }
                if (breaker_on(e) && breaker_check(e, v, &gv, &key, &value)) {
                        breaker_trip(e, v, key, value); /* takes value */
                        free(key);
                        view_free(v);
                        return;
                }
                if (direct)
                        e->direct_tried = true;
                grant(e, v);
                view_free(v);
                return;
        }
        case GRANT_WAIT:
        default:
                if (!queued) {
                        view_free(v);
                        return enqueue(e);
                }
                view_free(v);
                _cleanup_free_ char *why = strprintf("waiting at place %u: %s", pos, reason ? reason : "");
                return answer(e, COORD_DENIED, why);
        }
}

static void on_view_for_request(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        View v;

        if (error) {
                _cleanup_free_ char *why = strprintf("cannot read the group: %s", error);
                return answer(e, COORD_UNKNOWN, why);
        }
        if (view_parse(e, e->gprefix, reply, &v) < 0)
                return answer(e, COORD_UNKNOWN, "etcd answered a malformed range");
        cache_fill(e, reply);
        e->reads++;
        decide(e, &v);
}

static void attempt(Etcd *e) {
        if (!e->lease) {
                answer(e, COORD_UNKNOWN, "not registered with etcd (no lease)");
                return;
        }
        e->attempting = true;
        /* The storm breaker decides on its history, which only a read brings. */
        if (e->cache_ok && !breaker_on(e)) {
                View v;
                if (view_from_cache(e, &v) == 0) {
                        e->cached_decisions++;
                        return decide(e, &v);
                }
                view_free(&v);
                e->cache_ok = false;
        }
        read_view(e, e->gprefix, on_view_for_request, NULL, NULL);
}

static int etcd_request(Coordinator *c, const char *holder, coord_answer_t cb, void *userdata) {
        Etcd *e = c->data;

        if (e->pending.cb) {
                cb(COORD_UNKNOWN, "another request is in flight", userdata);
                return 0;
        }
        if (e->release_wanted) {
                cb(COORD_UNKNOWN, "the last release is not confirmed by etcd yet", userdata);
                return 0;
        }
        /* Nothing changed since the last answer (no watch event): the same answer, no traffic. */
        if (e->cached_gen == e->view_gen && e->cached_holder && strcmp(e->cached_holder, holder) == 0 &&
            e->cached_answer == COORD_DENIED && e->lease) {
                cb(COORD_DENIED, e->cached_reason, userdata);
                return 0;
        }
        e->pending = (Pending) { .holder = strdup(holder), .cb = cb, .userdata = userdata };
        e->direct_tried = false;
        attempt(e);
        return 0;
}

static void etcd_withdraw(Coordinator *c, const char *holder) {
        Etcd *e = c->data;
        leave_queue(e);
        e->view_gen++;
        late_grant_check(e, true);
}

static int on_release_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Etcd *e = userdata;
        if (e->release_wanted && !e->release_in_flight && !e->pending.cb)
                release_send(e);
        return 0;
}

static void on_released(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        e->release_in_flight = false;
        if (error) {
                /* Maybe applied, maybe not: deleting again is harmless. */
                retry_later(e->release_timer, &e->release_backoff);
                log_warning("etcd: releasing the permission: %s; trying again in %llu s", error,
                            (unsigned long long) (e->release_backoff / USEC_PER_SEC));
                return;
        }
        e->release_wanted = false;
        e->release_backoff = 0;
        e->cache_ok = false;
        e->granted = false;
        e->view_gen++;
}

static void release_send(Etcd *e) {
        struct json_object *body = json_object_new_object(), *succ = json_object_new_array();
        _cleanup_free_ char *hk = gkey(e, "holders", e->node), *qk = gkey(e, "queue", e->node);

        json_object_array_add(succ, delete_req(hk, NULL));
        json_object_array_add(succ, delete_req(qk, NULL));
        json_object_object_add(body, "success", succ);
        e->release_in_flight = true;
        etcd_call(e, "kv/txn", body, on_released, NULL);
}

/* Gives the permission (and any place in the queue) back; retried until etcd confirms it. A
 * request in flight is answered first (its answer becomes "unknown"), so the delete comes after
 * any grant it may write. */
static int etcd_release(Coordinator *c, const char *holder) {
        Etcd *e = c->data;

        e->release_wanted = true;
        e->view_gen++;
        if (!e->release_in_flight && !e->pending.cb)
                release_send(e);
        return 0;
}

/* ---- registration, lease, health ------------------------------------------------------------- */

static void start_registration(Etcd *e);
static void watch_start(Watch *w);
static void read_view(Etcd *e, const char *gprefix, etcd_cb_t cb, void *ud, void (*ud_free)(void *ud));
static void on_first_view(Etcd *e, struct json_object *reply, const char *error, void *ud);
static void request_read(Etcd *e);

static char *health_value(Etcd *e) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "node", json_object_new_string(e->node));
        json_object_object_add(o, "healthy", json_object_new_boolean(e->healthy));
        json_object_object_add(o, "summary", e->summary ? json_tokener_parse(e->summary) : NULL);
        json_object_object_add(o, "updated", json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
        char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return s;
}

static void schedule_registration(Etcd *e) {
        retry_later(e->reg_timer, &e->backoff);
}

static void on_registered(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        e->registering = false;
        if (error) {
                log_warning("etcd: cannot register %s in group %s: %s", e->node, e->group, error);
                e->lease = 0;
                return schedule_registration(e);
        }
        e->backoff = 0;
        e->health_sent = true;
        e->cache_ok = false;
        log_info("etcd: registered %s in group %s (lease %llx)", e->node, e->group, (unsigned long long) e->lease);
        (void) sd_event_source_set_time_relative(e->keepalive_timer, e->ttl / 3);
        (void) sd_event_source_set_enabled(e->keepalive_timer, SD_EVENT_ON);
        e->view_gen++;
        /* The group as it is now (status, metrics; once the watches stand), and a request made
         * while this node was away. */
        view_sync(e);
        request_read(e);
}

static void on_lease(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        if (error || jint(reply, "ID") == 0) {
                e->registering = false;
                log_warning("etcd: cannot get a lease: %s", error ? error : "no ID in the answer");
                return schedule_registration(e);
        }
        e->lease = jint(reply, "ID");

        struct json_object *body = json_object_new_object(), *succ = json_object_new_array(), *r = json_object_new_object();
        _cleanup_free_ char *mk = gkey(e, "members", e->node), *rk = gkey(e, "registered", e->node),
                            *hv = health_value(e);
        json_object_object_add(r, "node", json_object_new_string(e->node));
        json_object_object_add(r, "since", json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
        json_object_object_add(r, "labels", coordinator_labels_json(&e->c->labels));
        json_object_array_add(succ, put_req(mk, hv, e->lease));
        json_object_array_add(succ, put_req(rk, json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN), 0));
        json_object_put(r);
        json_object_object_add(body, "success", succ);
        etcd_call(e, "kv/txn", body, on_registered, NULL);
}

static void start_registration(Etcd *e) {
        struct json_object *body = json_object_new_object();

        if (e->registering)
                return;
        e->registering = true;
        e->lease = 0;

        json_object_object_add(body, "TTL", json_object_new_int64((int64_t) (e->ttl / USEC_PER_SEC)));
        etcd_call(e, "lease/grant", body, on_lease, NULL);
}

static int on_reg_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        start_registration(userdata);
        return 0;
}

static void on_keepalive(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        if (error) {
                /* The lease may still be alive; try again at the next tick. */
                log_warning("etcd: lease keep-alive failed: %s", error);
                return;
        }
        if (jint(jget(reply, "result"), "TTL") <= 0 && jint(reply, "TTL") <= 0) {
                log_warning("etcd: the lease of %s expired; registering again", e->node);
                e->lease = 0;
                (void) sd_event_source_set_enabled(e->keepalive_timer, SD_EVENT_OFF);
                start_registration(e);
        }
}

static int on_keepalive_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Etcd *e = userdata;
        struct json_object *body = json_object_new_object();
        char buf[32];

        if (!e->lease)
                return 0;
        snprintf(buf, sizeof buf, "%lld", (long long) e->lease);
        json_object_object_add(body, "ID", json_object_new_string(buf));
        etcd_call(e, "lease/keepalive", body, on_keepalive, NULL);
        view_refresh(e); /* a read that came too late to keep the copy: try again */
        return sd_event_source_set_time(s, usec + e->ttl / 3);
}

static void on_health_put(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        e->health_in_flight = false;
        e->cache_ok = false; /* our own members/ key changed */
        if (error) {
                log_warning("etcd: cannot publish health: %s", error);
                e->health_sent = false;
                if (strstr(error, "HTTP 404")) { /* a put on a dead lease */
                        e->lease = 0;
                        start_registration(e);
                }
        }
}

static void etcd_publish_health(Coordinator *c, bool healthy, const char *summary_json) {
        Etcd *e = c->data;

        if (e->healthy == healthy && streq_ptr(e->summary, summary_json) && e->health_sent)
                return;
        e->healthy = healthy;
        free(e->summary);
        e->summary = strdup_or_null(summary_json);
        e->health_sent = false;
        if (!e->lease || e->registering || e->health_in_flight)
                return; /* registration publishes the current value */
        _cleanup_free_ char *mk = gkey(e, "members", e->node), *hv = health_value(e);
        struct json_object *body = json_object_new_object(), *succ = json_object_new_array();
        json_object_array_add(succ, put_req(mk, hv, e->lease));
        /* Becoming unhealthy is in the storm breaker's history, with the health itself. */
        if (!healthy && e->healthy_published)
                json_object_array_add(succ, history_put(e, "unhealthy", NULL));
        e->healthy_published = healthy;
        json_object_object_add(body, "success", succ);
        e->health_in_flight = true;
        e->health_sent = true;
        etcd_call(e, "kv/txn", body, on_health_put, NULL);
}

/* ---- watches ------------------------------------------------------------------------------- */

/* The node's reboot request in etcd becomes (or stops being) a flag file, which the shipped
 * reboot-request check reads like any other flag. */
static void mirror_request(Etcd *e, const char *value) {
        if (value) {
                _cleanup_free_ char *text = strprintf("%s\n", *value ? value : "requested through the coordinator"), *old = NULL;
                size_t size;
                if (text && read_file(e->request_flag, 64 * 1024, &old, &size) >= 0 && strcmp(old, text) == 0)
                        return; /* already there (read again after a restart or a new watch) */
                int k = write_file_atomic(e->request_flag, text, strlen(text), 0644);
                if (k < 0)
                        log_warning_errno(k, "Cannot write %s: %m", e->request_flag);
                else
                        log_notice("etcd: a reboot of this node was requested: %s", *value ? value : "(no reason)");
        } else if (unlink(e->request_flag) == 0)
                log_notice("etcd: the reboot request for this node was withdrawn");
}

/* ---- reboot requests ----------------------------------------------------------------------- */

/* An operator's request (reboot_required/NODE) is served by one reboot. Before the node
 * mirrors a request into the flag file it records durably which one it accepted: the key's
 * mod_revision and this boot's id, in STATE_DIR/reboot-request.json. Seen again in the same
 * boot (medicd restarted, even after a SIGKILL at any point) the request is still pending and
 * mirrored again; the reboot it asks for happens once, since a reboot changes the boot id. Seen
 * in another boot it has been served: it is never mirrored again, the flag left from the old
 * boot is removed, and the key is deleted with a compare on that mod_revision, so that a
 * request made (or renewed) meanwhile, which has a newer mod_revision, is kept and counts as a
 * new one. Until the delete, the key is the operator's view of the pending request (medicctl
 * coordinator status) and cancel-reboot withdraws it. Without a readable boot id a request is
 * never taken as served. */

static bool request_served(const Etcd *e) {
        return e->request_rev > 0 && e->boot_id && e->request_boot && *e->request_boot &&
               strcmp(e->boot_id, e->request_boot) != 0;
}

static void request_record_load(Etcd *e) {
        _cleanup_free_ char *buf = NULL;
        struct json_object *o;
        size_t size;
        int k;

        k = read_file(e->request_record, 64 * 1024, &buf, &size);
        if (k < 0) {
                if (k != -ENOENT)
                        log_warning_errno(k, "Cannot read %s, ignoring: %m", e->request_record);
                return;
        }
        o = json_tokener_parse(buf);
        const char *boot = json_object_get_string(jget(o, "boot_id"));
        if (jint(o, "revision") <= 0 || !boot) {
                log_warning("%s is not a reboot request record; ignoring it", e->request_record);
                json_object_put(o);
                return;
        }
        e->request_rev = jint(o, "revision");
        e->request_boot = strdup(boot);
        json_object_put(o);
        /* The flag belongs to the boot that accepted the request (it lives in /run). */
        if (request_served(e) && unlink(e->request_flag) == 0)
                log_info("etcd: the reboot request accepted in boot %s was served by a reboot; removed %s",
                         e->request_boot, e->request_flag);
}

static int request_record_save(Etcd *e, int64_t rev, const char *reason) {
        struct json_object *o = json_object_new_object();
        int k;

        json_object_object_add(o, "revision", json_object_new_int64(rev));
        json_object_object_add(o, "boot_id", json_object_new_string(e->boot_id ? e->boot_id : ""));
        json_object_object_add(o, "reason", json_object_new_string(reason));
        json_object_object_add(o, "accepted", json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        k = write_file_atomic(e->request_record, text, strlen(text), 0600);
        json_object_put(o);
        if (k < 0)
                return log_error_errno(k, "Cannot record the reboot request in %s, not acting on it yet: %m",
                                       e->request_record);
        e->request_rev = rev;
        free(e->request_boot);
        e->request_boot = strdup(e->boot_id ? e->boot_id : "");
        return 0;
}

/* Reads the key at once, from the event loop: a watch event arrives in libcurl's data callback,
 * which cannot start another transfer. */
static void request_read_soon(Etcd *e) {
        (void) sd_event_source_set_time_relative(e->request_timer, 0);
        (void) sd_event_source_set_enabled(e->request_timer, SD_EVENT_ONESHOT);
}

/* Reads the key again later (after an error), backing off. */
static void request_retry(Etcd *e) {
        retry_later(e->request_timer, &e->request_backoff);
}

static void on_request_consumed(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        e->request_consuming = false;
        if (error) {
                log_warning("etcd: cannot remove the served reboot request %s: %s", e->request_key, error);
                request_retry(e);
        } else if (jtrue(jget(reply, "succeeded"))) {
                e->request_backoff = 0;
                log_notice("etcd: the reboot request for this node (revision %lld) was served by a reboot; removed it",
                           (long long) e->request_rev);
        } else
                request_read(e); /* changed meanwhile (a new request) or gone (cancelled): look again */
}

/* Deletes the served request, if it is still the one of revision rev. */
static void request_consume(Etcd *e, int64_t rev) {
        struct json_object *body = json_object_new_object(), *cmp = json_object_new_array(),
                           *succ = json_object_new_array();

        if (e->request_consuming) {
                json_object_put(body);
                json_object_put(cmp);
                json_object_put(succ);
                return;
        }
        json_object_array_add(cmp, compare("MOD", e->request_key, NULL, "EQUAL", "mod_revision", rev));
        json_object_array_add(succ, delete_req(e->request_key, NULL));
        json_object_object_add(body, "compare", cmp);
        json_object_object_add(body, "success", succ);
        e->request_consuming = true;
        etcd_call(e, "kv/txn", body, on_request_consumed, NULL);
}

/* What etcd says about the key as of revision rev (kv NULL: absent), from a read or (in_watch)
 * the watch. */
static void request_news(Etcd *e, struct json_object *kv, int64_t rev, bool in_watch) {
        if (rev < e->request_news_rev)
                return; /* older than what is known (a read answered after a watch event) */
        e->request_news_rev = rev;
        if (!kv) {
                mirror_request(e, NULL);
                return;
        }
        int64_t mod = jint(kv, "mod_revision");
        _cleanup_free_ char *reason = unb64(json_object_get_string(jget(kv, "value")) ?: "");
        if (mod == e->request_rev && request_served(e)) {
                (void) unlink(e->request_flag);
                if (in_watch)
                        request_read_soon(e); /* which consumes it */
                else
                        request_consume(e, mod);
        } else if (mod != e->request_rev && request_record_save(e, mod, reason ? reason : "") < 0)
                request_retry(e); /* not recorded: not acted on */
        else
                mirror_request(e, reason ? reason : "");
}

static void on_request_read(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        struct json_object *kvs = jget(reply, "kvs");

        if (error) {
                log_warning("etcd: cannot read %s: %s", e->request_key, error);
                request_retry(e);
                return;
        }
        e->request_backoff = 0;
        request_news(e, kvs && jlen(kvs) > 0 ? jidx(kvs, 0) : NULL,
                     jint(jget(reply, "header"), "revision"), false);
}

static void request_read(Etcd *e) {
        struct json_object *body = json_object_new_object();

        jadd_b64(body, "key", e->request_key);
        etcd_call(e, "kv/range", body, on_request_read, NULL);
}

static int on_request_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        request_read(userdata);
        return 0;
}

/* This node's side, for coordinator status (local). */
static struct json_object *request_status(const Etcd *e) {
        struct json_object *o;

        if (e->request_rev <= 0)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "revision", json_object_new_int64(e->request_rev));
        json_object_object_add(o, "boot_id", json_object_new_string(e->request_boot ? e->request_boot : ""));
        json_object_object_add(o, "this_boot", json_object_new_boolean(e->boot_id && streq_ptr(e->boot_id, e->request_boot)));
        return o;
}

/* One response of a watch stream (etcd-watch.h); -ECANCELED when etcd ended the watch (the
 * stream is then dropped and a new watch started). */
static int watch_event(Watch *w, const EtcdWatchMsg *m) {
        Etcd *e = w->etcd;

        switch (m->kind) {
        case ETCD_WATCH_OTHER:
                return 0;
        case ETCD_WATCH_ERROR:
                log_warning("etcd: watch error: %s", m->why);
                return -ECANCELED;
        case ETCD_WATCH_CANCELED:
                log_warning("etcd: the watch on %s was cancelled (%s)", w->key, m->why);
                return -ECANCELED;
        case ETCD_WATCH_RESPONSE:
                break;
        }
        if (m->created) {
                w->created = true;
                w->created_rev = m->revision;
                if (w == &e->group_watch)
                        request_read_soon(e); /* a change made while there was no watch */
                /* The copy follows the watches from a read after the last of them stands (a trip,
                 * resume or change made while one was missing is in it). */
                view_sync(e);
        }
        if (!m->has_events)
                return 0;
        e->view_gen++;
        for (size_t i = 0; i < m->n_events; i++) {
                const EtcdWatchEvent *ev = &m->events[i];
                const char *key = ev->key;
                bool deleted = ev->deleted;
                if (!key) {
                        e->cache_ok = e->cache_kept = false; /* a change it cannot read: read again */
                        continue;
                }
                if (w == &e->group_watch)
                        cache_apply(e, ev);
                _cleanup_free_ char *gstop = strprintf("%sstop", e->gprefix), *cstop = strprintf("%s/stop", e->prefix);
                if (streq_ptr(key, gstop) || streq_ptr(key, cstop))
                        *(streq_ptr(key, gstop) ? &e->stop_group : &e->stop_cluster) = !deleted;
                if (w == &e->trip_watch && trip_scope(e, key, e->group)) {
                        _cleanup_free_ char *val =
                                deleted ? NULL : unb64(json_object_get_string(jget(ev->kv, "value")) ?: "");
                        if (val)
                                json_object_object_add(e->trips, key, json_object_new_string(val));
                        else
                                json_object_object_del(e->trips, key);
                        trips_update(e);
                }
                if (strcmp(key, e->request_key) == 0)
                        request_news(e, deleted ? NULL : ev->kv, ev->mod_revision, true);
        }
        log_debug("etcd: %zu change(s) under %s", m->n_events, w->key);
        if (w == &e->group_watch)
                late_grant_check(e, false);
        return 0;
}

static int watch_line(const char *line, size_t len, void *userdata) {
        EtcdWatchMsg m;
        int k = etcd_watch_parse(line, len, &m);

        if (k < 0)
                return k;
        k = watch_event(userdata, &m);
        etcd_watch_msg_done(&m);
        return k;
}

static int watch_data(const char *data, size_t size, void *userdata) {
        Watch *w = userdata;

        w->etcd->last_contact = now_monotonic();
        return etcd_watch_feed(&w->stream, data, size, watch_line, w);
}

static int on_watch_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        watch_start(userdata);
        return 0;
}

static void on_watch_end(const HttpResponse *r, void *userdata) {
        Watch *w = userdata;
        Etcd *e = w->etcd;

        w->req = NULL;
        etcd_watch_reset(&w->stream);
        w->created = false;
        e->cache_ok = false; /* decisions read again until both watches are back */
        if (w == &e->group_watch)
                e->cache_kept = false;
        log_debug("etcd: watch on %s ended (%s); reconnecting", w->key, r->error ? r->error : "closed");
        e->view_gen++; /* events may have been missed */
        if (r->curl_code != 0)
                e->endpoint = (e->endpoint + 1) % e->endpoints.n;
        (void) sd_event_source_set_time_relative(w->retry, RETRY_MIN);
        (void) sd_event_source_set_enabled(w->retry, SD_EVENT_ONESHOT);
}

static void watch_start(Watch *w) {
        Etcd *e = w->etcd;
        struct json_object *body = json_object_new_object(), *cr = json_object_new_object();
        _cleanup_free_ char *url = strprintf("%s/v3/watch", e->endpoints.v[e->endpoint]);
        _cleanup_free_ char *auth = e->token ? strprintf("Authorization: %s", e->token) : NULL;
        const char *headers[] = { "Content-Type: application/json", auth, NULL };

        jadd_b64(cr, "key", w->key);
        if (w->range_end)
                jadd_b64(cr, "range_end", w->range_end);
        json_object_object_add(cr, "progress_notify", json_object_new_boolean(1));
        json_object_object_add(body, "create_request", cr);
        HttpOptions o = {
                .url = url, .body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
                .headers = headers, .tls = &e->tls, .on_data = watch_data,
        };
        if (http_request(e->http, &o, on_watch_end, w, &w->req) < 0) {
                (void) sd_event_source_set_time_relative(w->retry, RETRY_MAX);
                (void) sd_event_source_set_enabled(w->retry, SD_EVENT_ONESHOT);
        }
        json_object_put(body);
        e->view_gen++;
}

static int watch_init(Etcd *e, Watch *w, const char *key, bool prefix) {
        w->etcd = e;
        w->key = strdup(key);
        w->range_end = prefix ? prefix_end(key) : NULL;
        int r = sd_event_add_time(e->c->event, &w->retry, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC, on_watch_retry, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(w->retry, SD_EVENT_OFF);
        watch_start(w);
        return 0;
}

static void watch_done(Watch *w) {
        http_request_cancel(w->req);
        sd_event_source_disable_unref(w->retry);
        free(w->key);
        free(w->range_end);
        etcd_watch_stream_done(&w->stream);
}

/* ---- operators: status, stop/resume, release, forget, set-budget ------------------------------- */

typedef struct Admin {
        char *group, *gprefix;
        char *key, *reason;           /* resume: the stop switch, the operator's reason */
        char *tkey;                   /* resume: the scope's trips, PREFIX/breaker/tripped/{cluster,groups/G}/ */
        bool cluster;
        void (*cb)(struct json_object *reply, void *ud);
        void *ud;
} Admin;

static void admin_free(Admin *a) {
        free(a->group);
        free(a->gprefix);
        free(a->key);
        free(a->tkey);
        free(a->reason);
        free(a);
}

static void admin_free_void(void *a) {
        admin_free(a);
}

static void on_admin_view(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        Admin *a = ud;
        struct json_object *o, *members, *holders, *queue, *budget, *stop;
        GroupCounts cnt;
        View v;
        char b1[16], b2[16], bb[48];

        if (error || view_parse(e, a->gprefix, reply, &v) < 0) {
                a->cb(control_error("cannot read the group from etcd: %s", error ? error : "malformed answer"), a->ud);
                return admin_free(a);
        }
        GroupView gv = { .members = v.m, .n = v.n, .max_unavailable = v.max_unavailable, .min_healthy = v.min_healthy,
                         .stopped = view_stopped(&v) };
        grant_counts(&gv, &cnt);
        if (strcmp(a->group, e->group) == 0)
                remember_view(e, &v, &gv);
        o = json_object_new_object();
        members = json_object_new_array();
        holders = json_object_new_array();
        queue = json_object_new_array();
        json_object_object_add(o, "ok", json_object_new_boolean(1));
        json_object_object_add(o, "backend", json_object_new_string("etcd"));
        json_object_object_add(o, "group", json_object_new_string(a->group));
        json_object_object_add(o, "revision", json_object_new_int64(v.revision));
        json_object_object_add(o, "endpoint", json_object_new_string(e->endpoints.v[e->endpoint]));
        for (size_t i = 0; i < v.n; i++) {
                struct json_object *m = json_object_new_object();
                unsigned pos = 0;
                json_object_object_add(m, "node", json_object_new_string(v.names[i]));
                json_object_object_add(m, "registered", json_object_new_boolean(v.m[i].registered));
                json_object_object_add(m, "alive", json_object_new_boolean(v.m[i].alive));
                json_object_object_add(m, "healthy", json_object_new_boolean(v.m[i].healthy));
                json_object_object_add(m, "holder", json_object_new_boolean(v.m[i].holder));
                /* After the fields that were there first: their order stays as it was. */
                struct json_object *reg = json_tokener_parse(v.registration[i] ?: "{}"), *labels = jget(reg, "labels");
                if (json_object_is_type(labels, json_type_object))
                        json_object_object_add(m, "labels", json_object_get(labels));
                json_object_put(reg);
                if (v.m[i].holder) {
                        struct json_object *h = json_tokener_parse(v.holder_json[i] ? v.holder_json[i] : "{}");
                        struct json_object *x = json_object_new_object();
                        json_object_object_add(x, "node", json_object_new_string(v.names[i]));
                        json_object_object_add(x, "rule", json_object_get(jget(h, "rule")));
                        json_object_object_add(x, "since", json_object_get(jget(h, "since")));
                        json_object_object_add(x, "alive", json_object_new_boolean(v.m[i].alive));
                        json_object_object_add(x, "healthy", json_object_new_boolean(v.m[i].healthy));
                        json_object_array_add(holders, x);
                        json_object_object_add(m, "since", json_object_get(jget(h, "since")));
                        json_object_put(h);
                }
                if (v.m[i].queued && !v.m[i].holder) {
                        (void) grant_decide(&gv, v.names[i], &pos, NULL);
                        json_object_object_add(m, "waiting", json_object_new_int(pos));
                }
                if (v.request[i]) {
                        /* Pending until that node has rebooted and deleted it. */
                        struct json_object *q = json_object_new_object();
                        json_object_object_add(q, "reason", json_object_new_string(v.request[i]));
                        json_object_object_add(q, "revision", json_object_new_int64(v.request_mod[i]));
                        json_object_object_add(m, "reboot_request", q);
                }
                json_object_array_add(members, m);
        }
        /* The queue in order. */
        for (unsigned p = 1; p <= cnt.waiting; p++)
                for (size_t i = 0; i < v.n; i++) {
                        unsigned pos = 0;
                        if (!v.m[i].queued || v.m[i].holder)
                                continue;
                        (void) grant_decide(&gv, v.names[i], &pos, NULL);
                        if (pos == p)
                                json_object_array_add(queue, json_object_new_string(v.names[i]));
                }
        budget = json_object_new_object();
        json_object_object_add(budget, "max_unavailable", json_object_new_string(budget_format(&v.max_unavailable, b1, sizeof b1)));
        json_object_object_add(budget, "min_healthy", json_object_new_string(budget_format(&v.min_healthy, b2, sizeof b2)));
        json_object_object_add(budget, "set_in_etcd", json_object_new_boolean(v.budget_set));
        json_object_object_add(budget, "members", json_object_new_int(cnt.members));
        json_object_object_add(budget, "used", json_object_new_int(cnt.unavailable));
        json_object_object_add(budget, "allowed", json_object_new_int(cnt.allowed));
        json_object_object_add(budget, "healthy", json_object_new_int(cnt.healthy));
        json_object_object_add(budget, "min_healthy_count", json_object_new_int(cnt.min_healthy));
        stop = json_object_new_object();
        json_object_object_add(stop, "cluster", json_object_new_boolean(v.stop_cluster));
        json_object_object_add(stop, "group", json_object_new_boolean(v.stop_group));
        /* The storm breakers: the limits this node is configured with, whether one is tripped
         * (a trip key of the scope; or a stop switch an older medic's breaker set), with the
         * trip's reason, nodes and time, and the trip keys. */
        struct json_object *breaker = json_object_new_object();
        size_t tlen = strlen(e->tprefix);
        for (int cluster = 0; cluster < 2; cluster++) {
                const char *tv = trips_find(e, v.trips, cluster ? 'c' : 'g');
                _cleanup_free_ char *trip = tv ? strdup(tv) : trip_of(cluster ? v.stop_cluster_value : v.stop_group_value);
                const BreakerSpec *spec = cluster ? &e->breaker_cluster : &e->breaker_group;
                struct json_object *x = json_object_new_object(), *keys = json_object_new_array();
                json_object_object_add(x, "limit", spec->window_usec ? json_object_new_string(breaker_format(spec, bb, sizeof bb)) : NULL);
                json_object_object_add(x, "tripped", json_object_new_boolean(trip != NULL));
                if (trip)
                        json_object_object_add(x, "trip", json_tokener_parse(trip));
                json_object_object_foreach(v.trips, tk, tval) {
                        (void) tval;
                        if ((strncmp(tk + tlen, "cluster/", 8) == 0) == (cluster == 1))
                                json_object_array_add(keys, json_object_new_string(tk));
                }
                json_object_object_add(x, "trip_keys", keys);
                json_object_object_add(breaker, cluster ? "cluster" : "group", x);
        }
        json_object_object_add(stop, "breaker", breaker);
        json_object_object_add(o, "members", members);
        json_object_object_add(o, "holders", holders);
        json_object_object_add(o, "queue", queue);
        json_object_object_add(o, "budget", budget);
        json_object_object_add(o, "stop", stop);
        view_free(&v);
        a->cb(o, a->ud);
        admin_free(a);
}

static void on_admin_write(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        Admin *a = ud;
        struct json_object *o;

        if (error)
                o = control_error("etcd refused or did not answer: %s", error);
        else {
                o = json_object_new_object();
                json_object_object_add(o, "ok", json_object_new_boolean(1));
        }
        a->cb(o, a->ud);
        admin_free(a);
}

static void on_admin_resumed(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        Admin *a = ud;
        struct json_object *o;

        if (error)
                o = control_error("etcd refused or did not answer: %s", error);
        else if (!jtrue(jget(reply, "succeeded")))
                o = control_error("the stop switch %s or the storm breaker's trips changed while it was resumed: "
                                  "look at them again", a->key);
        else {
                log_notice("etcd: the %s stop switch %s is resumed by an operator (%s)", a->cluster ? "cluster-wide" : "group",
                           a->key, a->reason ? a->reason : "no reason given");
                o = json_object_new_object();
                json_object_object_add(o, "ok", json_object_new_boolean(1));
        }
        a->cb(o, a->ud);
        admin_free(a);
}

/* resume, after reading the stop switch and the scope's trips: a tripped storm breaker needs a
 * reason; the stop switch and every trip key of the scope go and the reset is recorded
 * (PREFIX/breaker/reset/...: the breaker counts only what comes after it), in one transaction
 * that compares the switch and the trips unchanged since the read. Run with credentials that
 * may write them (the operators' role medic-admin): a node's role may not. */
static void on_admin_resume_read(Etcd *e, struct json_object *reply, const char *error, void *ud) {
        Admin *a = ud;
        struct json_object *kv, *skvs, *tkvs, *body, *cmp, *succ, *rec;

        if (error) {
                a->cb(control_error("cannot read the stop switch and the storm breaker from etcd: %s", error), a->ud);
                return admin_free(a);
        }
        skvs = txn_kvs(reply, 0);
        tkvs = txn_kvs(reply, 1);
        int64_t rev = jint(jget(reply, "header"), "revision");
        kv = skvs ? jidx(skvs, 0) : NULL;
        _cleanup_free_ char *val = kv ? unb64(json_object_get_string(jget(kv, "value")) ?: "") : NULL;
        /* The trip: the first trip key's value (an older medic's breaker set the stop switch). */
        struct json_object *tkv = tkvs ? jidx(tkvs, 0) : NULL;
        _cleanup_free_ char *trip = tkv ? unb64(json_object_get_string(jget(tkv, "value")) ?: "") : trip_of(val);
        size_t ntrips = tkvs ? jlen(tkvs) : 0;
        if (rev <= 0) {
                a->cb(control_error("etcd answered a malformed read of %s", a->key), a->ud);
                return admin_free(a);
        }
        if (trip && (!a->reason || !*a->reason)) {
                _cleanup_free_ char *why = trip_reason(trip);
                a->cb(control_error("the storm breaker is tripped (%s): resume it with --reason TEXT", why), a->ud);
                return admin_free(a);
        }
        _cleanup_free_ char *rk = a->cluster ? strprintf("%sreset/cluster", e->bprefix)
                                             : strprintf("%sreset/groups/%s", e->bprefix, a->group);
        _cleanup_free_ char *tend = prefix_end(a->tkey);
        body = json_object_new_object();
        cmp = json_object_new_array();
        succ = json_object_new_array();
        rec = json_object_new_object();
        json_object_object_add(rec, "time", json_object_new_int64((int64_t) (now_realtime() / USEC_PER_SEC)));
        json_object_object_add(rec, "reason", a->reason ? json_object_new_string(a->reason) : NULL);
        json_object_object_add(rec, "by", json_object_new_string(e->node));
        json_object_object_add(rec, "tripped", trip ? json_tokener_parse(trip) : NULL);
        json_object_object_add(rec, "trips", json_object_new_int64((int64_t) ntrips));
        json_object_array_add(cmp, compare("MOD", a->key, NULL, "EQUAL", "mod_revision", jint(kv, "mod_revision")));
        json_object_array_add(cmp, compare("MOD", a->tkey, tend, "LESS", "mod_revision", rev + 1));
        json_object_array_add(succ, delete_req(a->key, NULL));
        json_object_array_add(succ, delete_req(a->tkey, tend));
        json_object_array_add(succ, put_req(rk, json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN), 0));
        json_object_put(rec);
        json_object_object_add(body, "compare", cmp);
        json_object_object_add(body, "success", succ);
        etcd_call_owned(e, "kv/txn", body, on_admin_resumed, a, admin_free_void);
}

static bool valid_name(const char *s) {
        if (!s || !*s || strlen(s) > 253)
                return false;
        for (; *s; s++)
                if (*s == '/' || *s <= ' ')
                        return false;
        return true;
}

static int etcd_admin(Coordinator *c, struct json_object *req, void (*cb)(struct json_object *, void *), void *ud) {
        Etcd *e = c->data;
        const char *action = json_object_get_string(jget(req, "action"));
        const char *group = json_object_get_string(jget(req, "group"));
        const char *node = json_object_get_string(jget(req, "node"));
        struct json_object *body, *succ;
        Admin *a;

        if (group && !valid_name(group)) {
                cb(control_error("invalid group name '%s'", group), ud);
                return 0;
        }
        if ((streq_ptr(action, "release") || streq_ptr(action, "forget") || streq_ptr(action, "request-reboot") ||
             streq_ptr(action, "cancel-reboot")) && !valid_name(node)) {
                cb(control_error("%s needs a node name", action), ud);
                return 0;
        }
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->group = strdup(group ? group : e->group);
        a->gprefix = strprintf("%s/groups/%s/", e->prefix, a->group);
        a->cb = cb;
        a->ud = ud;

        if (streq_ptr(action, "status")) {
                read_view(e, a->gprefix, on_admin_view, a, admin_free_void);
                return 0;
        }
        if (streq_ptr(action, "resume")) {
                struct json_object *r = json_object_new_object(), *rs = json_object_new_array();
                a->cluster = !group;
                a->key = group ? strprintf("%sstop", a->gprefix) : strprintf("%s/stop", e->prefix);
                a->tkey = group ? strprintf("%sgroups/%s/", e->tprefix, group) : strprintf("%scluster/", e->tprefix);
                a->reason = strdup_or_null(json_object_get_string(jget(req, "reason")));
                _cleanup_free_ char *tend = prefix_end(a->tkey);
                json_object_array_add(rs, range_req(a->key, NULL));
                json_object_array_add(rs, range_req(a->tkey, tend));
                json_object_object_add(r, "success", rs);
                etcd_call_owned(e, "kv/txn", r, on_admin_resume_read, a, admin_free_void);
                return 0;
        }
        body = json_object_new_object();
        succ = json_object_new_array();
        if (streq_ptr(action, "stop")) {
                _cleanup_free_ char *k = group ? strprintf("%sstop", a->gprefix) : strprintf("%s/stop", e->prefix);
                _cleanup_free_ char *v = strprintf("{\"since\":%llu}", (unsigned long long) (now_realtime() / USEC_PER_SEC));
                json_object_array_add(succ, put_req(k, v, 0));
        } else if (streq_ptr(action, "release") || streq_ptr(action, "forget")) {
                static const char *const all[] = { "holders", "queue", "members", "registered" };
                size_t n = streq_ptr(action, "release") ? 1 : ELEMENTSOF(all);
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *k = strprintf("%s%s/%s", a->gprefix, all[i], node);
                        json_object_array_add(succ, delete_req(k, NULL));
                }
        } else if (streq_ptr(action, "request-reboot") || streq_ptr(action, "cancel-reboot")) {
                _cleanup_free_ char *k = strprintf("%sreboot_required/%s", a->gprefix, node);
                const char *reason = json_object_get_string(jget(req, "reason"));
                if (streq_ptr(action, "request-reboot"))
                        json_object_array_add(succ, put_req(k, reason ? reason : "", 0));
                else
                        json_object_array_add(succ, delete_req(k, NULL));
        } else if (streq_ptr(action, "set-budget")) {
                const char *mu = json_object_get_string(jget(req, "max_unavailable"));
                const char *mh = json_object_get_string(jget(req, "min_healthy"));
                BudgetValue x;
                char b1[16], b2[16];
                if ((mu && budget_parse(mu, &x) < 0) || (mh && budget_parse(mh, &x) < 0) || (!mu && !mh)) {
                        json_object_put(body);
                        json_object_put(succ);
                        cb(control_error("set-budget needs max_unavailable=N|N%% and/or min_healthy=N|N%% (%s)",
                                       mu && budget_parse(mu, &x) < 0 ? mu : mh ? mh : "nothing given"), ud);
                        admin_free(a);
                        return 0;
                }
                struct json_object *b = json_object_new_object();
                json_object_object_add(b, "max_unavailable", json_object_new_string(mu ? mu : budget_format(&e->max_unavailable, b1, sizeof b1)));
                json_object_object_add(b, "min_healthy", json_object_new_string(mh ? mh : budget_format(&e->min_healthy, b2, sizeof b2)));
                _cleanup_free_ char *k = strprintf("%sbudget", a->gprefix);
                json_object_array_add(succ, put_req(k, json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN), 0));
                json_object_put(b);
        } else {
                json_object_put(body);
                json_object_put(succ);
                cb(control_error("unknown coordinator action '%s' (expected status, stop, resume, release, forget, "
                                 "set-budget, request-reboot, cancel-reboot)",
                               action ? action : ""), ud);
                admin_free(a);
                return 0;
        }
        json_object_object_add(body, "success", succ);
        etcd_call_owned(e, "kv/txn", body, on_admin_write, a, admin_free_void);
        return 0;
}

static struct json_object *etcd_status(Coordinator *c) {
        Etcd *e = c->data;
        struct json_object *o = json_object_new_object();
        char buf[32];

        json_object_object_add(o, "group", json_object_new_string(e->group));
        json_object_object_add(o, "endpoint", json_object_new_string(e->endpoints.v[e->endpoint]));
        snprintf(buf, sizeof buf, "%llx", (unsigned long long) e->lease);
        json_object_object_add(o, "lease", e->lease ? json_object_new_string(buf) : NULL);
        json_object_object_add(o, "registered", json_object_new_boolean(e->lease != 0 && !e->registering));
        json_object_object_add(o, "healthy", json_object_new_boolean(e->healthy));
        json_object_object_add(o, "waiting", json_object_new_boolean(e->pending.cb != NULL));
        json_object_object_add(o, "last_answer", e->cached_reason ? json_object_new_string(e->cached_reason) : NULL);
        /* How requests were decided: on a read of the group, or on the copy the watch keeps. */
        json_object_object_add(o, "group_reads", json_object_new_int64((int64_t) e->reads));
        json_object_object_add(o, "decisions_from_watch", json_object_new_int64((int64_t) e->cached_decisions));
        json_object_object_add(o, "grant_retries", json_object_new_int64((int64_t) e->grant_retries));
        json_object_object_add(o, "reboot_request", request_status(e));
        /* For metrics (see metrics.h): as of the last view of the group; stop switches live. */
        if (e->seen_view) {
                json_object_object_add(o, "budget_used", json_object_new_int(e->budget_used));
                json_object_object_add(o, "budget_allowed", json_object_new_int(e->budget_allowed));
                json_object_object_add(o, "stopped_cluster", json_object_new_boolean(e->stop_cluster));
                json_object_object_add(o, "stopped_group", json_object_new_boolean(e->stop_group));
                /* The storm breaker (metrics: medic_breaker_tripped): whether a trip key of the
                 * scope is there (the trip watch). */
                json_object_object_add(o, "breaker_tripped_cluster", json_object_new_boolean(e->trip_cluster != NULL));
                json_object_object_add(o, "breaker_tripped_group", json_object_new_boolean(e->trip_group != NULL));
                if (e->trip_cluster || e->trip_group) {
                        _cleanup_free_ char *r = trip_reason(e->trip_cluster ? e->trip_cluster : e->trip_group);
                        json_object_object_add(o, "breaker_reason", json_object_new_string(r));
                }
                if (e->holding) {
                        json_object_object_add(o, "holder", json_object_new_string(e->node));
                        json_object_object_add(o, "since", json_object_new_int64(e->holding_since));
                }
        }
        return o;
}

/* Whether this node still holds (CoordinatorOps.held), from the watch-kept copy only: NOT_HELD
 * when the copy is current (the group watch stands, etcd answered within a lease TTL), reflects
 * the grant's own revision or a later one, and has no holders/NODE (an operator's `medicctl
 * coordinator release NODE` or etcdctl deleted it). A copy the watch has not brought up to the
 * grant yet cannot tell, nor can a broken or silent watch: UNKNOWN. */
static CoordHeld etcd_held(Coordinator *c, const char *holder, char **ret_why) {
        Etcd *e = c->data;
        _cleanup_free_ char *key = gkey(e, "holders", e->node);
        uint64_t now = now_monotonic();

        (void) holder; /* one slot per node: holders/NODE */
        if (!e->group_watch.created || !e->cache_kept) {
                *ret_why = strdup("no current copy of the group (its watch is not established)");
                return COORD_HELD_UNKNOWN;
        }
        if (now - e->last_contact > e->ttl) {
                *ret_why = strprintf("no answer from etcd for %llus",
                                     (unsigned long long) ((now - e->last_contact) / USEC_PER_SEC));
                return COORD_HELD_UNKNOWN;
        }
        if (e->cache_rev < e->grant_rev) {
                *ret_why = strprintf("the copy of the group (revision %lld) is older than the grant (revision %lld)",
                                     (long long) e->cache_rev, (long long) e->grant_rev);
                return COORD_HELD_UNKNOWN;
        }
        if (key && jget(e->cache, key))
                return COORD_HELD;
        *ret_why = strprintf("%s is absent at revision %lld", key ? key : "the holder key", (long long) e->cache_rev);
        return COORD_NOT_HELD;
}

/* ---- the group view (medic.group_view()) ---------------------------------------------------------- */

/* The watch-kept copy, never a request: current while the group watch lasts, a read after its
 * creation filled the copy, and etcd answered within a lease TTL (a watch on a hung etcd stays
 * open but says nothing). */
static int etcd_group_view(Coordinator *c, struct json_object **ret, char **ret_why) {
        Etcd *e = c->data;
        uint64_t now = now_monotonic();
        View v;

        if (!e->group_watch.created) {
                *ret_why = strprintf("the watch on the group in etcd is not established (%s)",
                                     e->endpoints.v[e->endpoint]);
                return -ENODATA;
        }
        if (!e->cache_kept) {
                *ret_why = strdup("no current copy of the group yet (waiting for a read of the group)");
                return -ENODATA;
        }
        if (now - e->last_contact > e->ttl) {
                *ret_why = strprintf("no answer from etcd for %llus (the copy of the group may be stale)",
                                     (unsigned long long) ((now - e->last_contact) / USEC_PER_SEC));
                return -ENODATA;
        }
        (void) view_from_cache(e, &v);
        struct json_object *o = json_object_new_object(), *members = json_object_new_array();
        int64_t wall = (int64_t) (now_realtime() / USEC_PER_SEC);
        for (size_t i = 0; i < v.n; i++) {
                GroupMember *gm = &v.m[i];
                if (!gm->registered && !gm->alive && !gm->holder && !gm->queued)
                        continue; /* only a reboot request */
                struct json_object *m = json_object_new_object(), *reg = json_tokener_parse(v.registration[i] ?: "{}");
                struct json_object *labels = jget(reg, "labels"), *gone = jget(e->gone, v.names[i]);
                json_object_object_add(m, "node", json_object_new_string(v.names[i]));
                json_object_object_add(m, "labels", json_object_is_type(labels, json_type_object)
                                                    ? json_object_get(labels) : json_object_new_object());
                json_object_object_add(m, "self", json_object_new_boolean(strcmp(v.names[i], e->node) == 0));
                json_object_object_add(m, "registered", json_object_new_boolean(gm->registered));
                json_object_object_add(m, "alive", json_object_new_boolean(gm->alive));
                json_object_object_add(m, "healthy", json_object_new_boolean(gm->healthy));
                json_object_object_add(m, "holding", json_object_new_boolean(gm->holder));
                json_object_object_add(m, "queued", json_object_new_boolean(gm->queued && !gm->holder));
                /* Alive: seen now (its lease is live). Gone: when the watch saw its lease end. */
                json_object_object_add(m, "last_seen", gm->alive ? json_object_new_int64(wall)
                                                       : gone ? json_object_get(gone) : NULL);
                json_object_object_add(m, "updated", v.updated[i] ? json_object_new_int64(v.updated[i]) : NULL);
                json_object_array_add(members, m);
                json_object_put(reg);
        }
        json_object_object_add(o, "group", json_object_new_string(e->group));
        json_object_object_add(o, "backend", json_object_new_string("etcd"));
        json_object_object_add(o, "revision", json_object_new_int64(v.revision));
        json_object_object_add(o, "members", members);
        view_free(&v);
        *ret = o;
        return 0;
}

/* ---- life ------------------------------------------------------------------------------------ */

static int etcd_init(Coordinator *c) {
        const Config *cfg = c->config;
        Etcd *e = calloc(1, sizeof(*e));
        int r;

        if (!e)
                return -ENOMEM;
        c->data = e;
        e->c = c;
        for (size_t i = 0; i < cfg->endpoints.n; i++)
                strlist_add(&e->endpoints, cfg->endpoints.v[i]);
        if (e->endpoints.n == 0)
                return log_error_errno(EINVAL, "etcd: no endpoints configured");
        e->prefix = strdup(cfg->prefix);
        e->node = strdup(cfg->node);
        e->group = strdup(cfg->group);
        e->gprefix = strprintf("%s/groups/%s/", cfg->prefix, cfg->group);
        e->request_key = strprintf("%sreboot_required/%s", e->gprefix, cfg->node);
        _cleanup_free_ char *sockdir = strdup(cfg->socket_path);
        e->request_flag = strprintf("%s/coordinator-reboot-request", sockdir ? dirname(sockdir) : "/run/medic");
        e->request_record = strprintf("%s/reboot-request.json", cfg->state_dir);
        r = read_word(cfg->boot_id_file, 256, &e->boot_id);
        if (r < 0)
                log_warning_errno(r, "etcd: cannot read the boot id from %s (%m): a reboot request through the "
                                  "coordinator will not be taken as served by a reboot", cfg->boot_id_file);
        request_record_load(e);
        e->tls.ca_file = strdup_or_null(cfg->ca_file);
        e->tls.cert_file = strdup_or_null(cfg->cert_file);
        e->tls.key_file = strdup_or_null(cfg->key_file);
        e->ttl = cfg->lease_ttl;
        e->timeout = cfg->request_timeout;
        e->max_unavailable = cfg->max_unavailable;
        e->min_healthy = cfg->min_healthy;
        e->breaker_group = cfg->breaker_group;
        e->breaker_cluster = cfg->breaker_cluster;
        e->bprefix = strprintf("%s/breaker/", cfg->prefix);
        e->tprefix = strprintf("%s/breaker/tripped/", cfg->prefix);
        e->trips = json_object_new_object();
        e->healthy = true;
        e->healthy_published = true;
        e->view_gen = 1;
        e->gone = json_object_new_object();
        if (cfg->user) {
                _cleanup_free_ char *pw = NULL;
                if (cfg->password_file) {
                        r = etcd_read_password(cfg->password_file, &pw);
                        if (r == -EPERM)
                                return log_error_errno(r, "etcd: password_file %s is readable by group or others: refusing it",
                                                       cfg->password_file);
                        if (r < 0)
                                return log_error_errno(r, "etcd: cannot read password_file %s: %m", cfg->password_file);
                }
                e->user = strdup(cfg->user);
                e->password = TAKE_PTR(pw);
        }
        r = http_client_new(c->event, &e->http);
        if (r < 0)
                return r;
        r = sd_event_add_time(c->event, &e->reg_timer, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC, on_reg_timer, e);
        if (r >= 0)
                r = sd_event_add_time(c->event, &e->release_timer, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC,
                                      on_release_timer, e);
        if (r >= 0)
                r = sd_event_add_time(c->event, &e->keepalive_timer, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC,
                                      on_keepalive_timer, e);
        if (r >= 0)
                r = sd_event_add_time(c->event, &e->request_timer, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC,
                                      on_request_timer, e);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(e->reg_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(e->keepalive_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(e->release_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(e->request_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(e->request_timer, "etcd-reboot-request");
        (void) sd_event_source_set_description(e->release_timer, "etcd-release");
        (void) sd_event_source_set_description(e->reg_timer, "etcd-register");
        (void) sd_event_source_set_description(e->keepalive_timer, "etcd-keepalive");
        _cleanup_free_ char *stop = strprintf("%s/stop", e->prefix);
        r = watch_init(e, &e->group_watch, e->gprefix, true);
        if (r >= 0)
                r = watch_init(e, &e->stop_watch, stop, false);
        if (r >= 0)
                r = watch_init(e, &e->trip_watch, e->tprefix, true); /* the storm breaker's trips */
        if (r < 0)
                return r;
        start_registration(e);
        return 0;
}

static void etcd_done(Coordinator *c) {
        Etcd *e = c->data;

        if (!e)
                return;
        e->release_wanted = false; /* nothing more is sent */
        if (e->pending.cb)
                answer(e, COORD_UNKNOWN, "shutting down");
        watch_done(&e->group_watch);
        watch_done(&e->stop_watch);
        watch_done(&e->trip_watch);
        http_client_free(e->http); /* drops the requests out, without their callbacks */
        while (e->calls) {
                Call *k = e->calls;
                if (k->ud_free)
                        k->ud_free(k->ud);
                call_free(k);
        }
        sd_event_source_disable_unref(e->reg_timer);
        sd_event_source_disable_unref(e->keepalive_timer);
        sd_event_source_disable_unref(e->release_timer);
        sd_event_source_disable_unref(e->request_timer);
        strlist_clear(&e->endpoints);
        free(e->prefix);
        free(e->gprefix);
        free(e->bprefix);
        free(e->tprefix);
        json_object_put(e->trips);
        free(e->trip_group);
        free(e->trip_cluster);
        free(e->request_key);
        free(e->request_flag);
        free(e->request_record);
        free(e->request_boot);
        free(e->boot_id);
        free(e->node);
        free(e->group);
        free((char *) e->tls.ca_file);
        free((char *) e->tls.cert_file);
        free((char *) e->tls.key_file);
        free(e->user);
        if (e->password)
                explicit_bzero(e->password, strlen(e->password));
        free(e->password);
        free(e->token);
        free(e->summary);
        free(e->cached_reason);
        free(e->cached_holder);
        json_object_put(e->cache);
        json_object_put(e->gone);
        free(e);
        c->data = NULL;
}

const CoordinatorOps coord_etcd_ops = {
        .name = "etcd",
        .init = etcd_init,
        .request = etcd_request,
        .release = etcd_release,
        .status = etcd_status,
        .done = etcd_done,
        .publish_health = etcd_publish_health,
        .withdraw = etcd_withdraw,
        .admin = etcd_admin,
        .group_view = etcd_group_view,
        .held = etcd_held,
};

/* ---- the reply parsers on their own (coord-etcd.h) -------------------------------------- */

int etcd_group_parse(const char *gprefix, struct json_object *reply, size_t *ret_members, bool *ret_within_budget,
                     bool *ret_granted_within_budget) {
        /* gprefix is PREFIX/groups/G/: the view also reads the breaker's keys under PREFIX. */
        const char *g = strstr(gprefix, "/groups/");
        _cleanup_free_ char *prefix = g ? strndup(gprefix, (size_t) (g - gprefix)) : NULL;
        _cleanup_free_ char *tprefix = prefix ? strprintf("%s/breaker/tripped/", prefix) : NULL;
        Etcd e = { .gprefix = (char *) gprefix, .prefix = prefix, .tprefix = tprefix };
        View v;
        int r;

        if (!tprefix)
                return -EINVAL;
        *ret_granted_within_budget = granted_within_budget(&e, reply);
        r = view_parse(&e, gprefix, reply, &v);
        if (r < 0)
                return r;
        GroupView gv = { .members = v.m, .n = v.n, .max_unavailable = v.max_unavailable, .min_healthy = v.min_healthy };
        *ret_within_budget = grant_within_budget(&gv);
        *ret_members = v.n;
        view_free(&v);
        return 0;
}
