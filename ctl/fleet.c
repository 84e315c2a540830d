/* SPDX-License-Identifier: MIT */
/* `medicctl fleet`: one range read of the etcd coordinator's PREFIX/ (the key layout of
 * coord/coord-etcd.c, documented in medic.conf(5)) through etcd's JSON gateway with blocking
 * libcurl, turned into every group's budget, holders, queue, unhealthy, dead, parked and
 * sick members, and the switches: the stop switches, the storm breaker's trips, and any other
 * key beside the groups' members. */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "budget.h"
#include "etcd-common.h"
#include "fleet.h"
#include "grant.h"
#include "util.h"

#define BODY_MAX (256u << 20)   /* a range answer of a very large fleet still fits */

static const char *const node_kinds[] = { "registered", "members", "queue", "holders", "reboot_required" };

typedef struct Buf {
        char *s;
        size_t n;
} Buf;

static char *fmt_error(const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
        Buf *b = ud;
        size_t len = size * nmemb;
        char *s;

        if (b->n + len > BODY_MAX || !(s = realloc(b->s, b->n + len + 1)))
                return 0;
        memcpy(s + b->n, p, len);
        b->s = s;
        b->n += len;
        b->s[b->n] = 0;
        return len;
}

/* POSTs body (JSON) to URL/v3/PATH; *ret_reply gets the parsed answer. */
static int post(const Config *cfg, const char *url, const char *path, const char *token, struct json_object *body,
                struct json_object **ret_reply, char **ret_error) {
        _cleanup_free_ char *full = strprintf("%s/v3/%s", url, path), *auth = token ? strprintf("Authorization: %s", token) : NULL;
        struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
        const char *data = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
        CURL *c = curl_easy_init();
        Buf b = {};
        long status = 0;
        CURLcode rc;

        if (!c || !headers || !full) {
                curl_slist_free_all(headers);
                curl_easy_cleanup(c);
                return -ENOMEM;
        }
        if (auth)
                headers = curl_slist_append(headers, auth);
        curl_easy_setopt(c, CURLOPT_URL, full);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) (cfg->request_timeout > 0 ? cfg->request_timeout / 1000 : 10000));
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (cfg->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
        if (cfg->cert_file)
                curl_easy_setopt(c, CURLOPT_SSLCERT, cfg->cert_file);
        if (cfg->key_file)
                curl_easy_setopt(c, CURLOPT_SSLKEY, cfg->key_file);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(headers);
        curl_easy_cleanup(c);
        if (rc != CURLE_OK) {
                free(b.s);
                *ret_error = fmt_error("%s: %s", full, curl_easy_strerror(rc));
                return -EIO;
        }
        struct json_object *reply = b.s ? json_tokener_parse(b.s) : NULL;
        if (status != 200) {
                const char *msg = json_object_get_string(jget(reply, "message")) ?: json_object_get_string(jget(reply, "error"));
                *ret_error = fmt_error("%s: HTTP %ld%s%s", full, status, msg ? ": " : "", msg ? msg : "");
                json_object_put(reply);
                free(b.s);
                return status == 401 ? -EACCES : -EIO;
        }
        free(b.s);
        if (!reply) {
                *ret_error = fmt_error("%s: the answer is not JSON", full);
                return -EBADMSG;
        }
        *ret_reply = reply;
        return 0;
}

/* The range PREFIX/ on the first endpoint that answers (authenticating first with a user). */
static int read_prefix(const Config *cfg, const char *pfx, struct json_object **ret, const char **ret_endpoint, char **ret_error) {
        _cleanup_free_ char *password = NULL, *end = prefix_end(pfx), *k = b64(pfx), *e = end ? b64(end) : NULL;
        int r = -ENOENT;

        if (!k || !e)
                return -ENOMEM;
        if (cfg->user && cfg->password_file && (r = etcd_read_password(cfg->password_file, &password)) < 0) {
                *ret_error = r == -EPERM ? fmt_error("%s is readable by group or others: refusing it", cfg->password_file)
                                         : fmt_error("cannot read password_file %s: %s", cfg->password_file, strerror(-r));
                return r;
        }
        for (size_t i = 0; i < cfg->endpoints.n; i++) {
                const char *url = cfg->endpoints.v[i];
                _cleanup_free_ char *token = NULL;
                struct json_object *reply = NULL, *body;

                free(*ret_error);
                *ret_error = NULL;
                if (cfg->user) {
                        body = json_object_new_object();
                        json_object_object_add(body, "name", json_object_new_string(cfg->user));
                        json_object_object_add(body, "password", json_object_new_string(password ? password : ""));
                        r = post(cfg, url, "auth/authenticate", NULL, body, &reply, ret_error);
                        json_object_put(body);
                        if (r < 0)
                                continue;
                        const char *t = json_object_get_string(jget(reply, "token"));
                        token = t ? strdup(t) : NULL;
                        json_object_put(reply);
                        if (!token) {
                                *ret_error = fmt_error("%s: no token in the answer to auth/authenticate", url);
                                r = -EACCES;
                                continue;
                        }
                }
                body = json_object_new_object();
                json_object_object_add(body, "key", json_object_new_string(k));
                json_object_object_add(body, "range_end", json_object_new_string(e));
                r = post(cfg, url, "kv/range", token, body, &reply, ret_error);
                json_object_put(body);
                if (r >= 0) {
                        *ret = reply;
                        *ret_endpoint = url;
                        return 0;
                }
        }
        if (!*ret_error)
                *ret_error = fmt_error("no etcd endpoint configured");
        return r;
}

/* ---- the view ------------------------------------------------------------------------------- */

static struct json_object *group_of(struct json_object *groups, const char *name) {
        struct json_object *g = jget(groups, name);
        if (!g) {
                g = json_object_new_object();
                json_object_object_add(g, "nodes", json_object_new_object());
                json_object_object_add(groups, name, g);
        }
        return g;
}

static struct json_object *node_of(struct json_object *g, const char *name) {
        struct json_object *nodes = jget(g, "nodes"), *n = jget(nodes, name);
        if (!n) {
                n = json_object_new_object();
                json_object_object_add(nodes, name, n);
        }
        return n;
}

/* A value as JSON when it is JSON, else as a string. */
static struct json_object *value_json(const char *val) {
        struct json_object *v = json_tokener_parse(val);
        return v ? v : json_object_new_string(val);
}

static void add_switch(struct json_object *switches, const char *key, const char *group, const char *name, const char *val) {
        struct json_object *s = json_object_new_object();
        json_object_object_add(s, "key", json_object_new_string(key));
        json_object_object_add(s, "scope", json_object_new_string(group ? "group" : "cluster"));
        if (group)
                json_object_object_add(s, "group", json_object_new_string(group));
        json_object_object_add(s, "name", json_object_new_string(name));
        json_object_object_add(s, "value", value_json(val));
        json_object_array_add(switches, s);
}

/* Sorts one key of the range into its group and node (or the switches). */
static void classify(const char *pfx, struct json_object *kv, struct json_object *groups, struct json_object *switches) {
        _cleanup_free_ char *key = unb64(json_object_get_string(jget(kv, "key")) ?: ""),
                            *val = unb64(json_object_get_string(jget(kv, "value")) ?: "");
        size_t plen = strlen(pfx);

        if (!key || !val || strncmp(key, pfx, plen) != 0)
                return;
        const char *rest = key + plen;
        /* The storm breaker's history (grants, nodes that became unhealthy, resets) is not a
         * switch; a trip (PREFIX/breaker/tripped/cluster/NODE, .../groups/G/NODE) is the
         * breaker of its scope, tripped by NODE: it stops the grants as a stop switch does. */
        if (strncmp(rest, "breaker/events/", 15) == 0 || strncmp(rest, "breaker/reset/", 14) == 0)
                return;
        if (strncmp(rest, "breaker/tripped/", 16) == 0) {
                const char *t = rest + 16, *node = NULL;
                _cleanup_free_ char *gname = NULL;
                if (strncmp(t, "cluster/", 8) == 0)
                        node = t + 8;
                else if (strncmp(t, "groups/", 7) == 0 && (node = strchr(t + 7, '/')) && node > t + 7) {
                        gname = strndup(t + 7, (size_t) (node - t - 7));
                        node++;
                } else
                        node = NULL;
                if (!node || !*node || strchr(node, '/'))
                        return add_switch(switches, key, NULL, rest, val); /* not a trip key: shown as it is */
                if (gname)
                        json_object_object_add(group_of(groups, gname), "tripped", json_object_new_boolean(1));
                add_switch(switches, key, gname, "breaker", val);
                struct json_object *s = json_object_array_get_idx(switches, json_object_array_length(switches) - 1);
                json_object_object_add(s, "tripped_by", json_object_new_string(node));
                return;
        }
        if (strncmp(rest, "groups/", 7) != 0)
                return add_switch(switches, key, NULL, rest, val); /* PREFIX/stop, a breaker, … */
        rest += 7;
        const char *slash = strchr(rest, '/');
        if (!slash || slash == rest)
                return;
        _cleanup_free_ char *gname = strndup(rest, (size_t) (slash - rest));
        struct json_object *g = group_of(groups, gname);
        rest = slash + 1;
        slash = strchr(rest, '/');
        if (!slash) {
                if (strcmp(rest, "budget") == 0)
                        json_object_object_add(g, "budget", value_json(val));
                else {
                        if (strcmp(rest, "stop") == 0)
                                json_object_object_add(g, "stop", json_object_new_boolean(1));
                        add_switch(switches, key, gname, rest, val);
                }
                return;
        }
        size_t kind_len = (size_t) (slash - rest);
        const char *kind = NULL;
        for (size_t i = 0; i < ELEMENTSOF(node_kinds); i++)
                if (strlen(node_kinds[i]) == kind_len && strncmp(rest, node_kinds[i], kind_len) == 0)
                        kind = node_kinds[i];
        if (!kind || !slash[1] || strchr(slash + 1, '/')) {
                /* Something of the group that is not a node's: shown as it is. */
                add_switch(switches, key, gname, rest, val);
                return;
        }
        struct json_object *n = node_of(g, slash + 1);
        json_object_object_add(n, kind, value_json(val));
        if (strcmp(kind, "queue") == 0)
                json_object_object_add(n, "queue_rev", json_object_new_int64(jint(kv, "create_revision")));
}

static bool label_matches(struct json_object *node, const char *label) {
        const char *eq;
        if (!label)
                return true;
        eq = strchr(label, '=');
        struct json_object *labels = jget(jget(node, "registered"), "labels");
        _cleanup_free_ char *k = eq ? strndup(label, (size_t) (eq - label)) : strdup(label);
        const char *v = json_object_get_string(jget(labels, k ? k : ""));
        return v && json_object_is_type(jget(labels, k), json_type_string) && (!eq || strcmp(v, eq + 1) == 0);
}

static void add_named(struct json_object *list, const char *node, struct json_object *from, const char *const *fields) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "node", json_object_new_string(node));
        for (size_t i = 0; fields[i]; i++)
                json_object_object_add(o, fields[i], json_object_get(jget(from, fields[i])));
        json_object_array_add(list, o);
}

typedef struct Waiter {
        unsigned pos;
        const char *name;
        struct json_object *node;
        char *reason;
} Waiter;

static int cmp_waiter(const void *a, const void *b) {
        const Waiter *x = a, *y = b;
        return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_name(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* One group of the output from the keys classified into it; NULL when the label filter leaves
 * none of its nodes. */
static struct json_object *group_build(const Config *cfg, const char *name, struct json_object *g, bool cluster_stop,
                                       const FleetFilter *f) {
        struct json_object *nodes = jget(g, "nodes"), *bj = jget(g, "budget");
        size_t n = (size_t) json_object_object_length(nodes), k = 0, matched = 0;
        _cleanup_free_ GroupMember *m = calloc(n + 1, sizeof *m);
        _cleanup_free_ struct json_object **nv = calloc(n + 1, sizeof *nv);
        _cleanup_free_ const char **names = calloc(n + 1, sizeof *names);
        GroupView gv = { .members = m, .max_unavailable = cfg->max_unavailable, .min_healthy = cfg->min_healthy,
                         .stopped = cluster_stop || json_object_get_boolean(jget(g, "stop")) ||
                                    json_object_get_boolean(jget(g, "tripped")) };
        bool budget_set = false;
        GroupCounts cnt;
        BudgetValue x;
        char b1[16], b2[16];

        if (!m || !nv || !names)
                return NULL;
        json_object_object_foreach(nodes, nname, nval) {
                (void) nval;
                names[k++] = nname;
        }
        qsort(names, n, sizeof *names, cmp_name);
        for (size_t i = 0; i < n; i++) {
                struct json_object *nd = jget(nodes, names[i]), *mem = jget(nd, "members");
                nv[i] = nd;
                m[i] = (GroupMember) { .name = names[i], .registered = jget(nd, "registered") != NULL,
                                       .alive = mem != NULL, .healthy = mem && json_object_get_boolean(jget(mem, "healthy")),
                                       .holder = jget(nd, "holders") != NULL, .queued = jget(nd, "queue") != NULL,
                                       .queue_rev = jint(nd, "queue_rev") };
                matched += label_matches(nd, f->label);
        }
        if (f->label && matched == 0)
                return NULL;
        gv.n = n;
        if (bj) {
                const char *mu = json_object_get_string(jget(bj, "max_unavailable")), *mh = json_object_get_string(jget(bj, "min_healthy"));
                if (mu && budget_parse(mu, &x) >= 0)
                        gv.max_unavailable = x;
                if (mh && budget_parse(mh, &x) >= 0)
                        gv.min_healthy = x;
                budget_set = true;
        }
        grant_counts(&gv, &cnt);

        struct json_object *o = json_object_new_object(), *budget = json_object_new_object(), *holders = json_object_new_array(),
                           *queue = json_object_new_array(), *unhealthy = json_object_new_array(), *dead = json_object_new_array(),
                           *parked = json_object_new_array(), *sick = json_object_new_array(), *requests = json_object_new_array();
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "members", json_object_new_int((int) cnt.members));
        json_object_object_add(budget, "max_unavailable", json_object_new_string(budget_format(&gv.max_unavailable, b1, sizeof b1)));
        json_object_object_add(budget, "min_healthy", json_object_new_string(budget_format(&gv.min_healthy, b2, sizeof b2)));
        json_object_object_add(budget, "set_in_etcd", json_object_new_boolean(budget_set));
        json_object_object_add(budget, "used", json_object_new_int((int) cnt.unavailable));
        json_object_object_add(budget, "allowed", json_object_new_int((int) cnt.allowed));
        json_object_object_add(budget, "healthy", json_object_new_int((int) cnt.healthy));
        json_object_object_add(budget, "min_healthy_count", json_object_new_int((int) cnt.min_healthy));
        json_object_object_add(o, "budget", budget);
        json_object_object_add(o, "stop", json_object_new_boolean(gv.stopped));

        _cleanup_free_ Waiter *w = calloc(cnt.waiting + 1, sizeof *w);
        size_t nw = 0;
        for (size_t i = 0; i < n; i++) {
                struct json_object *nd = nv[i], *mem = jget(nd, "members"), *sum = jget(mem, "summary");
                if (!label_matches(nd, f->label))
                        continue;
                if (m[i].holder) {
                        struct json_object *h = jget(nd, "holders"), *x2 = json_object_new_object();
                        json_object_object_add(x2, "node", json_object_new_string(names[i]));
                        json_object_object_add(x2, "rule", json_object_get(jget(h, "rule")));
                        json_object_object_add(x2, "since", json_object_get(jget(h, "since")));
                        json_object_object_add(x2, "alive", json_object_new_boolean(m[i].alive));
                        json_object_object_add(x2, "healthy", json_object_new_boolean(m[i].healthy));
                        json_object_array_add(holders, x2);
                } else if (m[i].queued && w && nw < cnt.waiting) {
                        w[nw] = (Waiter) { .name = names[i], .node = nd };
                        (void) grant_decide(&gv, names[i], &w[nw].pos, &w[nw].reason);
                        nw++;
                }
                if (m[i].registered && !m[i].alive)
                        json_object_array_add(dead, json_object_new_string(names[i]));
                else if (m[i].alive && !m[i].healthy) {
                        struct json_object *u = json_object_new_object();
                        /* summary: {"unhealthy": [...]}, or the bare array older nodes publish */
                        struct json_object *checks = json_object_is_type(sum, json_type_array) ? sum : jget(sum, "unhealthy");
                        json_object_object_add(u, "node", json_object_new_string(names[i]));
                        json_object_object_add(u, "checks", checks ? json_object_get(checks) : json_object_new_array());
                        json_object_array_add(unhealthy, u);
                }
                static const char *const rr[] = { "rule", "reason", NULL };
                if (json_object_is_type(jget(sum, "parked"), json_type_object))
                        add_named(parked, names[i], jget(sum, "parked"), rr);
                if (json_object_is_type(jget(sum, "sick"), json_type_object))
                        add_named(sick, names[i], jget(sum, "sick"), rr);
                if (jget(nd, "reboot_required")) {
                        struct json_object *q = json_object_new_object(), *rv = jget(nd, "reboot_required");
                        json_object_object_add(q, "node", json_object_new_string(names[i]));
                        json_object_object_add(q, "reason", json_object_is_type(rv, json_type_string) ? json_object_get(rv)
                                                             : json_object_new_string(json_object_to_json_string(rv)));
                        json_object_array_add(requests, q);
                }
        }
        qsort(w, nw, sizeof *w, cmp_waiter);
        for (size_t i = 0; i < nw; i++) {
                struct json_object *q = json_object_new_object(), *qv = jget(w[i].node, "queue");
                json_object_object_add(q, "position", json_object_new_int((int) w[i].pos));
                json_object_object_add(q, "node", json_object_new_string(w[i].name));
                json_object_object_add(q, "rule", json_object_get(jget(qv, "rule")));
                json_object_object_add(q, "since", json_object_get(jget(qv, "since")));
                json_object_object_add(q, "reason", w[i].reason ? json_object_new_string(w[i].reason) : NULL);
                json_object_array_add(queue, q);
                free(w[i].reason);
        }
        json_object_object_add(o, "holders", holders);
        json_object_object_add(o, "queue", queue);
        json_object_object_add(o, "unhealthy", unhealthy);
        json_object_object_add(o, "dead", dead);
        json_object_object_add(o, "parked", parked);
        json_object_object_add(o, "sick", sick);
        json_object_object_add(o, "reboot_requests", requests);
        return o;
}

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

int fleet_read(const Config *cfg, const FleetFilter *filter, struct json_object **ret, char **ret_error) {
        _cleanup_free_ char *pfx = NULL;
        struct json_object *reply = NULL, *groups, *switches, *out, *list, *kvs;
        const char *endpoint = NULL;
        uint64_t t0 = mono_ms();
        int r;

        *ret_error = NULL;
        if (!cfg->coordinator || strcmp(cfg->coordinator, "etcd") != 0) {
                *ret_error = fmt_error("the coordinator backend is %s: medicctl fleet reads an etcd coordinator "
                                       "([coordinator] backend = etcd)", cfg->coordinator ? cfg->coordinator : "local");
                return -EOPNOTSUPP;
        }
        pfx = strprintf("%s/", cfg->prefix ? cfg->prefix : "/medic");
        if (!pfx)
                return -ENOMEM;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = read_prefix(cfg, pfx, &reply, &endpoint, ret_error);
        if (r < 0) {
                curl_global_cleanup();
                return r;
        }
        uint64_t t1 = mono_ms();
        kvs = jget(reply, "kvs");
        groups = json_object_new_object();
        switches = json_object_new_array();
        for (size_t i = 0; kvs && i < json_object_array_length(kvs); i++)
                classify(pfx, json_object_array_get_idx(kvs, i), groups, switches);

        out = json_object_new_object();
        list = json_object_new_array();
        int64_t total = 0;
        json_object_object_add(out, "ok", json_object_new_boolean(1));
        json_object_object_add(out, "backend", json_object_new_string("etcd"));
        json_object_object_add(out, "endpoint", json_object_new_string(endpoint));
        json_object_object_add(out, "prefix", json_object_new_string(cfg->prefix ? cfg->prefix : "/medic"));
        json_object_object_add(out, "revision", json_object_new_int64(jint(jget(reply, "header"), "revision")));
        json_object_object_add(out, "keys", json_object_new_int64(kvs ? (int64_t) json_object_array_length(kvs) : 0));
        _cleanup_free_ const char **gnames = calloc((size_t) json_object_object_length(groups) + 1, sizeof *gnames);
        size_t ng = 0;
        json_object_object_foreach(groups, gname, g) {
                (void) g;
                if (gnames && (!filter->group || strcmp(filter->group, gname) == 0))
                        gnames[ng++] = gname;
        }
        if (gnames)
                qsort(gnames, ng, sizeof *gnames, cmp_name);
        bool cluster_stop = false;
        for (size_t i = 0; i < json_object_array_length(switches); i++) {
                struct json_object *s = json_object_array_get_idx(switches, i);
                cluster_stop |= !jget(s, "group") && (strcmp(json_object_get_string(jget(s, "name")) ?: "", "stop") == 0 ||
                                                      jget(s, "tripped_by")); /* a stop switch or a trip */
        }
        for (size_t i = 0; i < ng; i++) {
                struct json_object *o = group_build(cfg, gnames[i], jget(groups, gnames[i]), cluster_stop, filter);
                if (!o)
                        continue;
                total += jint(o, "members");
                json_object_array_add(list, o);
        }
        /* Switches: the cluster's, and those of the groups shown. */
        struct json_object *sw = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(switches); i++) {
                struct json_object *s = json_object_array_get_idx(switches, i);
                const char *sg = json_object_get_string(jget(s, "group"));
                if (!sg || !filter->group || strcmp(sg, filter->group) == 0)
                        json_object_array_add(sw, json_object_get(s));
        }
        json_object_object_add(out, "nodes", json_object_new_int64(total));
        json_object_object_add(out, "switches", sw);
        json_object_object_add(out, "groups", list);
        json_object_object_add(out, "read_ms", json_object_new_int64((int64_t) (t1 - t0)));
        json_object_object_add(out, "total_ms", json_object_new_int64((int64_t) (mono_ms() - t0)));
        json_object_put(switches);
        json_object_put(groups);
        json_object_put(reply);
        curl_global_cleanup();
        *ret = out;
        return 0;
}
