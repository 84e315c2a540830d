/* SPDX-License-Identifier: MIT */
/* The FleetLock backend: a client of the FleetLock protocol (Zincati's reboot coordination,
 * served by airlock and compatible servers), so that medic nodes share a reboot budget with
 * Fedora CoreOS fleets.
 *
 *   POST URL/v1/pre-reboot     take a slot (recursive: a holder asking again gets 200)
 *   POST URL/v1/steady-state   give it back (a node that holds nothing gets 200)
 *
 * Both carry the header "fleet-lock-protocol: true" and the body
 * {"client_params":{"id":NODE,"group":GROUP}}. 200 is success; anything else fails, and a
 * FleetLock server explains why with {"kind":…,"value":…}. The server knows nodes, not rules:
 * this node holds one slot at most, and the rule holding it is recorded locally in
 * STATE_DIR/fleetlock.json so that the record survives a restart (and the reboot it was for).
 *
 * Fail safe: only a 200 to pre-reboot is a grant. Time-outs and transport errors are
 * "unknown"; when the request may have reached the server (a time-out, a 5xx) the server may
 * have taken a slot for us, so a rule that gives up afterwards sends steady-state to make sure
 * nothing stays held. A steady-state that fails is retried with back-off, also after a restart.
 *
 * "May hold" (maybe_held): the server may hold a slot for this node that no rule holds. It is
 * set, and written to fleetlock.json, before every pre-reboot is sent, so that a medicd killed
 * while asking gives back at its next start what that request may have taken (the protocol
 * expects a starting client to do so). A server that stalls may process a pre-reboot late,
 * after the client gave up on it, even after a steady-state sent meanwhile: so a pre-reboot
 * that has no answer within request_timeout is answered "unknown" to the rule but is not
 * abandoned; medicd keeps waiting for the server's answer (lock_linger()), and only a
 * steady-state sent after that answer (or after the wait ended without one) and confirmed
 * clears "may hold". A late 200 is a slot no rule holds: it is given back at once. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "coord-fleetlock.h"
#include "coordinator.h"
#include "duration.h"
#include "http.h"
#include "log.h"

#define ASK_INTERVAL (1 * USEC_PER_SEC)     /* a refusal is reused for this long, no traffic */
#define RETRY_MIN (1 * USEC_PER_SEC)
#define RETRY_MAX (30 * USEC_PER_SEC)
#define LINGER_MIN (5 * 60 * USEC_PER_SEC) /* how long an unanswered pre-reboot is awaited: at */
#define LINGER_FACTOR 10                    /* least this, and 10 times request_timeout */
#define MAX_VALUE 200                       /* characters of the server's text kept in a reason */
#define MAX_KIND 64

typedef struct FleetLock {
        Coordinator *c;
        HttpClient *http;
        char *url, *node, *group, *state_path;
        HttpTls tls;
        uint64_t timeout;

        char *holder;                 /* the rule holding this node's slot, as far as we know */
        uint64_t since;               /* realtime usec */
        bool release_pending;         /* a steady-state is owed to the server */
        bool maybe_held;              /* the server may hold a slot for us that no rule holds */
        bool saved_maybe_held;        /* what fleetlock.json says */
        HttpRequest *lock_req, *release_req;
        sd_event_source *release_timer, *answer_timer;
        uint64_t backoff;
        char *release_error;
        bool release_overlaps;        /* the steady-state in flight was sent while a pre-reboot was */
        bool release_again;           /* owed again: the one in flight may predate the reason */

        char *asking;                 /* the rule waiting for the answer to lock_req */
        coord_answer_t cb;
        void *userdata;
        bool released_while_asking;
        bool held_before;             /* maybe_held before lock_req was sent */
        uint64_t lock_sent;           /* realtime usec the pre-reboot in flight was sent */
        bool unanswered;              /* lock_req lingers: its rule was answered "unknown" */

        CoordAnswer last_answer;
        char *last_holder, *last_reason, *last_kind;
        uint64_t last_at;             /* monotonic usec, 0: nothing to reuse */
} FleetLock;

/* ---- helpers ------------------------------------------------------------------------------ */

static void fl_save(FleetLock *f) {
        struct json_object *o = json_object_new_object();
        const char *text;
        int r;

        json_object_object_add(o, "holder", f->holder ? json_object_new_string(f->holder) : NULL);
        json_object_object_add(o, "since", f->holder ? json_object_new_int64((int64_t) (f->since / USEC_PER_SEC)) : NULL);
        json_object_object_add(o, "release_pending", json_object_new_boolean(f->release_pending));
        json_object_object_add(o, "maybe_held", json_object_new_boolean(f->maybe_held));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        r = write_file_atomic(f->state_path, text, strlen(text), 0644);
        if (r < 0)
                log_warning_errno(r, "FleetLock: cannot record the slot in %s, ignoring: %m", f->state_path);
        else
                f->saved_maybe_held = f->maybe_held;
        json_object_put(o);
}

static void fl_load(FleetLock *f) {
        _cleanup_free_ char *buf = NULL;
        struct json_object *o, *v;
        size_t size;

        if (read_file(f->state_path, 64 * 1024, &buf, &size) < 0)
                return;
        o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object)) {
                /* We may hold a slot and not know for which rule: owe the server a release. */
                log_error("%s: cannot parse; giving back any FleetLock slot this node may hold", f->state_path);
                f->release_pending = true;
                json_object_put(o);
                return;
        }
        if (json_object_object_get_ex(o, "holder", &v) && json_object_is_type(v, json_type_string))
                f->holder = strdup(json_object_get_string(v));
        if (json_object_object_get_ex(o, "since", &v))
                f->since = (uint64_t) json_object_get_int64(v) * USEC_PER_SEC;
        if (json_object_object_get_ex(o, "release_pending", &v))
                f->release_pending = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "maybe_held", &v))
                f->maybe_held = f->saved_maybe_held = json_object_get_boolean(v);
        json_object_put(o);
}

static int fl_post(FleetLock *f, const char *endpoint, uint64_t timeout, http_done_t done, HttpRequest **ret) {
        static const char *const headers[] = {
                "fleet-lock-protocol: true", "Content-Type: application/json", "Accept: application/json", NULL
        };
        struct json_object *body = json_object_new_object(), *params = json_object_new_object();
        _cleanup_free_ char *url = strprintf("%s%s", f->url, endpoint);
        int r;

        json_object_object_add(params, "id", json_object_new_string(f->node));
        json_object_object_add(params, "group", json_object_new_string(f->group));
        json_object_object_add(body, "client_params", params);
        HttpOptions o = {
                .url = url, .method = "POST", .headers = headers, .timeout_usec = timeout,
                .max_body = 64 * 1024, .tls = &f->tls,
                .body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
        };
        r = url ? http_request(f->http, &o, done, f, ret) : -ENOMEM;
        json_object_put(body);
        return r;
}

/* How long a pre-reboot is awaited in all (its rule hears "unknown" after request_timeout). */
static uint64_t lock_linger(const FleetLock *f) {
        return f->timeout * LINGER_FACTOR > LINGER_MIN ? f->timeout * LINGER_FACTOR : LINGER_MIN;
}

/* Since the pre-reboot in flight was sent, in whole seconds (0 when the clock stepped back). */
static uint64_t lock_age(const FleetLock *f) {
        uint64_t now = now_realtime();

        return now > f->lock_sent ? (now - f->lock_sent) / USEC_PER_SEC * USEC_PER_SEC : 0;
}

static char *no_answer(FleetLock *f) {
        char t[32];

        return strprintf("no answer from the FleetLock server %s within %s", f->url, duration_format(f->timeout, t, sizeof t));
}

/* Explains a failed call. *ret_kind is the server's error kind (NULL when it gave none: then
 * the answer is not a FleetLock refusal). *ret_ambiguous: the call may have changed the
 * server's state although it failed. */
static char *describe_failure(FleetLock *f, const HttpResponse *r, char **ret_kind, bool *ret_ambiguous) {
        _cleanup_free_ char *value = NULL, *kind = NULL;
        struct json_object *o, *k, *v;
        char *reason;

        *ret_kind = NULL;
        if (r->curl_code != 0) {
                bool unreachable = r->curl_code == 6 /* CURLE_COULDNT_RESOLVE_HOST */ ||
                                   r->curl_code == 7 /* CURLE_COULDNT_CONNECT */;
                /* Not connected, or the TLS handshake failed: nothing was sent. */
                *ret_ambiguous = !(unreachable || r->curl_code == 35 /* CURLE_SSL_CONNECT_ERROR */ ||
                                   r->curl_code == 60 /* CURLE_PEER_FAILED_VERIFICATION */);
                if (r->timed_out)
                        return no_answer(f);
                return strprintf("%s the FleetLock server %s: %s", unreachable ? "cannot reach" : "no usable answer from",
                                 f->url, r->error ? r->error : "transfer failed");
        }
        *ret_ambiguous = r->status >= 500;
        o = json_tokener_parse(r->body);
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "kind", &k) ||
            !json_object_is_type(k, json_type_string) || json_object_get_string_len(k) == 0) {
                _cleanup_free_ char *excerpt = str_excerpt(r->body, 100);
                json_object_put(o);
                return strprintf("the FleetLock server %s answered HTTP %ld without a FleetLock error%s%s", f->url,
                                 r->status, excerpt && *excerpt ? ": " : "", excerpt ? excerpt : "");
        }
        kind = str_excerpt(json_object_get_string(k), MAX_KIND);
        value = str_excerpt(json_object_object_get_ex(o, "value", &v) && json_object_is_type(v, json_type_string)
                                 ? json_object_get_string(v) : "", MAX_VALUE);
        json_object_put(o);
        if (!kind || !value)
                return NULL;

        unsigned slots;
        if (strcmp(kind, "failed_lock") == 0 && sscanf(value, "all %u semaphore slots", &slots) == 1) {
                *ret_ambiguous = false;
                reason = strprintf("all %u slot%s of group %s %s held (failed_lock: %s)", slots, slots == 1 ? "" : "s",
                                   f->group, slots == 1 ? "is" : "are", value);
        } else if (strcmp(kind, "failed_lock") == 0)
                reason = strprintf("the FleetLock server could not take a slot (failed_lock: %s)", value);
        else if (strcmp(kind, "unknown_group") == 0) {
                *ret_ambiguous = false;
                reason = strprintf("the FleetLock server has no group '%s' (unknown_group: %s)", f->group, value);
        } else if (strcmp(kind, "invalid_client_identity") == 0) {
                *ret_ambiguous = false;
                reason = strprintf("the FleetLock server refused the identity id '%s', group '%s' "
                                   "(invalid_client_identity: %s)", f->node, f->group, value);
        } else if (strcmp(kind, "bad_request") == 0) {
                *ret_ambiguous = false;
                reason = strprintf("the FleetLock server refused the request as malformed (bad_request: %s)", value);
        } else
                reason = strprintf("the FleetLock server refused with HTTP %ld (%s: %s)", r->status, kind, value);
        *ret_kind = TAKE_PTR(kind);
        return reason;
}

/* ---- giving the slot back ----------------------------------------------------------------- */

static void start_release(FleetLock *f);

static int on_release_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        start_release(userdata);
        return 0;
}

static void schedule_release(FleetLock *f) {
        char t[32];

        f->backoff = !f->backoff ? RETRY_MIN : f->backoff * 2 > RETRY_MAX ? RETRY_MAX : f->backoff * 2;
        (void) sd_event_source_set_time_relative(f->release_timer, f->backoff);
        (void) sd_event_source_set_enabled(f->release_timer, SD_EVENT_ONESHOT);
        log_warning("FleetLock: cannot give back the slot of %s in group %s: %s; retrying in %s", f->node, f->group,
                    f->release_error ? f->release_error : "", duration_format(f->backoff, t, sizeof t));
}

/* A steady-state is owed. One in flight may reach the server before what makes this one owed
 * (a pre-reboot that took a slot meanwhile): then another follows it. */
static void owe_release(FleetLock *f) {
        f->release_pending = true;
        if (f->release_req)
                f->release_again = true;
}

static void on_release_done(const HttpResponse *r, void *userdata) {
        FleetLock *f = userdata;
        _cleanup_free_ char *kind = NULL;
        bool ambiguous;

        f->release_req = NULL;
        if (r->curl_code == 0 && r->status == 200) {
                f->backoff = 0;
                free(f->release_error);
                f->release_error = NULL;
                if (f->release_again) {
                        f->release_again = false;
                        start_release(f);
                        return;
                }
                f->release_pending = false;
                /* A pre-reboot unanswered when this was sent may still take a slot: "may hold"
                 * stays until a steady-state sent after its answer is confirmed. */
                if (!f->release_overlaps) {
                        log_info("FleetLock: %s gave back its slot in group %s", f->node, f->group);
                        f->maybe_held = false;
                } else
                        log_info("FleetLock: %s gave back its slot in group %s; a pre-reboot sent before is still "
                                 "unanswered and may take one late: this node may still hold a slot",
                                 f->node, f->group);
                fl_save(f);
                return;
        }
        free(f->release_error);
        f->release_error = describe_failure(f, r, &kind, &ambiguous);
        schedule_release(f);
}

/* Sends the steady-state owed, unless a call is in flight that it waits for: another
 * steady-state, or a pre-reboot whose rule still waits (it runs when that one is done). A
 * pre-reboot that lingers unanswered does not hold it back. */
static void start_release(FleetLock *f) {
        int r;

        if (!f->release_pending || f->release_req || f->asking)
                return;
        (void) sd_event_source_set_enabled(f->release_timer, SD_EVENT_OFF);
        f->release_overlaps = f->lock_req != NULL;
        f->release_again = false; /* this one is sent after whatever made it owed */
        r = fl_post(f, "/v1/steady-state", f->timeout, on_release_done, &f->release_req);
        if (r < 0) {
                free(f->release_error);
                f->release_error = strprintf("cannot start an HTTP request: %s", strerror(-r));
                schedule_release(f);
        }
}

/* ---- asking for the slot ------------------------------------------------------------------ */

static void answer(FleetLock *f, CoordAnswer a, const char *reason, const char *kind) {
        coord_answer_t cb = f->cb;
        void *ud = f->userdata;
        _cleanup_free_ char *holder = TAKE_PTR(f->asking);

        f->cb = NULL;
        f->userdata = NULL;
        free(f->last_holder);
        free(f->last_reason);
        free(f->last_kind);
        f->last_holder = strdup_or_null(holder);
        f->last_reason = strdup_or_null(reason);
        f->last_kind = strdup_or_null(kind);
        f->last_answer = a;
        f->last_at = now_monotonic();
        if (cb)
                cb(a, reason, ud);
}

/* A definite refusal: the server holds nothing for us (a recursive lock would have answered
 * 200), whatever our record says. */
static void forget_slot(FleetLock *f) {
        f->maybe_held = false;
        if (f->holder) {
                log_notice("FleetLock: the server holds no slot for %s any more; forgetting rule %s's",
                           f->node, f->holder);
                free(f->holder);
                f->holder = NULL;
                f->since = 0;
                fl_save(f);
        }
}

/* The answer to a pre-reboot whose rule was told "unknown" at request_timeout. Whatever it
 * took, no rule holds it: given back, and "may hold" lasts until that is confirmed. */
static void on_late_answer(FleetLock *f, const HttpResponse *r) {
        _cleanup_free_ char *reason = NULL, *kind = NULL;
        char t[32];
        bool ambiguous;

        if (r->curl_code == 0 && r->status == 200) {
                if (f->holder) {
                        /* A holder asking again: the slot is its own, as before. */
                        f->maybe_held = false;
                        fl_save(f);
                        return;
                }
                log_notice("FleetLock: the server answered %s's pre-reboot late (after %s): it took a slot that no "
                           "rule holds; giving it back", f->node,
                           duration_format(lock_age(f), t, sizeof t));
        } else {
                reason = describe_failure(f, r, &kind, &ambiguous);
                if (!ambiguous && kind) {
                        log_info("FleetLock: the server answered %s's pre-reboot late: %s", f->node, reason ? reason : "");
                        forget_slot(f);
                        start_release(f);
                        return;
                }
                log_warning("FleetLock: %s's pre-reboot got no answer in the end (%s); giving back any slot it may "
                            "have taken", f->node, r->timed_out ? "still none after the longest wait" :
                            reason ? reason : "out of memory");
                if (f->holder) {
                        fl_save(f);
                        return; /* "may hold" stays until the holder gives its slot back */
                }
        }
        owe_release(f);
        fl_save(f);
        start_release(f);
}

static void on_lock_done(const HttpResponse *r, void *userdata) {
        FleetLock *f = userdata;
        _cleanup_free_ char *reason = NULL, *kind = NULL;
        bool ambiguous, late = f->unanswered;

        f->lock_req = NULL;
        f->unanswered = false;
        (void) sd_event_source_set_enabled(f->answer_timer, SD_EVENT_OFF);
        if (late) {
                on_late_answer(f, r);
                return;
        }
        if (r->curl_code == 0 && r->status == 200) {
                f->maybe_held = false;
                if (f->released_while_asking) {
                        /* Given back while we asked: the slot we just got goes back too. */
                        owe_release(f);
                        fl_save(f);
                        answer(f, COORD_UNKNOWN, "the permission was given back while asking for it", NULL);
                        start_release(f);
                        return;
                }
                f->release_pending = false;
                f->backoff = 0;
                (void) sd_event_source_set_enabled(f->release_timer, SD_EVENT_OFF);
                if (!f->holder) {
                        f->holder = strdup(f->asking);
                        f->since = now_realtime();
                        log_notice("FleetLock: %s holds a slot of group %s for rule %s", f->node, f->group, f->asking);
                }
                fl_save(f);
                answer(f, COORD_GRANTED, NULL, NULL);
                return;
        }
        reason = describe_failure(f, r, &kind, &ambiguous);
        /* fleetlock.json keeps "may hold" after a refusal: a start then sends a steady-state that
         * changes nothing, and a node waiting for a slot does not write the file every second. */
        if (!ambiguous && kind)
                forget_slot(f);
        else if (!ambiguous)
                f->maybe_held = f->held_before; /* it never reached the server's semaphore */
        if (f->released_while_asking && f->maybe_held)
                owe_release(f);
        answer(f, kind ? COORD_DENIED : COORD_UNKNOWN, reason ? reason : "out of memory", kind);
        start_release(f); /* one that waited for this call */
}

/* request_timeout passed without an answer: the rule hears "unknown", but the request stays
 * in flight, for the server may still process it (see the top of this file). */
static int on_answer_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        FleetLock *f = userdata;
        _cleanup_free_ char *why = no_answer(f);
        char t[32];

        if (!f->asking || !f->lock_req)
                return 0;
        f->unanswered = true;
        log_info("FleetLock: still waiting for the answer to %s's pre-reboot (up to %s): a stalled server may "
                 "take a slot late", f->node, duration_format(lock_linger(f), t, sizeof t));
        if (f->released_while_asking)
                owe_release(f);
        answer(f, COORD_UNKNOWN, why ? why : "no answer from the FleetLock server", NULL);
        start_release(f);
        return 0;
}

static int fl_request(Coordinator *c, const char *holder, coord_answer_t cb, void *userdata) {
        FleetLock *f = c->data;
        char t[32];
        int r;

        if (f->asking) {
                cb(COORD_UNKNOWN, "another request to the FleetLock server is in flight", userdata);
                return 0;
        }
        if (f->holder && strcmp(f->holder, holder) != 0) {
                _cleanup_free_ char *why = strprintf("this node's FleetLock slot is held by rule %s", f->holder);
                cb(COORD_DENIED, why ? why : "this node's FleetLock slot is held by another rule", userdata);
                return 0;
        }
        if (f->lock_req) {
                _cleanup_free_ char *why = strprintf(
                        "the FleetLock server has not answered this node's pre-reboot sent %s ago yet",
                        duration_format(lock_age(f), t, sizeof t));
                cb(COORD_UNKNOWN, why ? why : "the FleetLock server has not answered the last pre-reboot yet", userdata);
                return 0;
        }
        if (f->release_req) {
                cb(COORD_UNKNOWN, "the previous slot is still being given back to the FleetLock server", userdata);
                return 0;
        }
        /* Asked again right after a refusal: the same answer, without traffic. A grant is never
         * reused: every grant is a fresh 200 from the server. */
        if (f->last_at && f->last_answer != COORD_GRANTED && streq_ptr(f->last_holder, holder) &&
            now_monotonic() - f->last_at < ASK_INTERVAL) {
                cb(f->last_answer, f->last_reason, userdata);
                return 0;
        }
        f->asking = strdup(holder);
        if (!f->asking)
                return -ENOMEM;
        f->cb = cb;
        f->userdata = userdata;
        f->released_while_asking = false;
        /* Recorded before it is sent: a medicd killed now gives back at its start what this
         * request may take. */
        f->held_before = f->maybe_held;
        f->maybe_held = true;
        if (!f->saved_maybe_held)
                fl_save(f);
        f->lock_sent = now_realtime();
        r = fl_post(f, "/v1/pre-reboot", lock_linger(f), on_lock_done, &f->lock_req);
        if (r < 0) {
                _cleanup_free_ char *why = strprintf("cannot start an HTTP request: %s", strerror(-r));
                f->maybe_held = f->held_before; /* nothing was sent */
                answer(f, COORD_UNKNOWN, why, NULL);
                return 0;
        }
        (void) sd_event_source_set_time_relative(f->answer_timer, f->timeout);
        (void) sd_event_source_set_enabled(f->answer_timer, SD_EVENT_ONESHOT);
        return 0;
}

static int fl_release(Coordinator *c, const char *holder) {
        FleetLock *f = c->data;

        /* The slot is the node's: a rule gives back only what it holds or asks for. */
        if (holder && f->holder && strcmp(f->holder, holder) != 0)
                return 0;
        if (holder && !f->holder && f->asking && strcmp(f->asking, holder) != 0)
                return 0;
        if (f->asking)
                f->released_while_asking = true;
        if (f->holder)
                log_info("FleetLock: rule %s gives back the slot of %s", f->holder, f->node);
        free(f->holder);
        f->holder = NULL;
        f->since = 0;
        f->last_at = 0;
        owe_release(f);
        fl_save(f);
        start_release(f);
        return 0;
}

static void fl_withdraw(Coordinator *c, const char *holder) {
        FleetLock *f = c->data;

        f->last_at = 0;
        /* A held slot is given back by its rule; a request in flight settles it itself. */
        if (f->holder || f->asking || !f->maybe_held)
                return;
        log_info("FleetLock: rule %s gave up after an answer that may have taken a slot; giving it back",
                 holder ? holder : "?");
        owe_release(f);
        fl_save(f);
        start_release(f);
}

/* ---- views -------------------------------------------------------------------------------- */

static struct json_object *fl_status(Coordinator *c) {
        FleetLock *f = c->data;
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "url", json_object_new_string(f->url));
        json_object_object_add(o, "id", json_object_new_string(f->node));
        json_object_object_add(o, "group", json_object_new_string(f->group));
        json_object_object_add(o, "holder", f->holder ? json_object_new_string(f->holder) : NULL);
        json_object_object_add(o, "since", f->holder ? json_object_new_int64((int64_t) (f->since / USEC_PER_SEC)) : NULL);
        json_object_object_add(o, "stopped", json_object_new_boolean(coordinator_stopped_locally(c)));
        json_object_object_add(o, "waiting", json_object_new_boolean(f->asking != NULL));
        json_object_object_add(o, "last_answer", f->last_holder ? json_object_new_string(coord_answer_to_string(f->last_answer)) : NULL);
        json_object_object_add(o, "last_reason", f->last_reason ? json_object_new_string(f->last_reason) : NULL);
        json_object_object_add(o, "last_kind", f->last_kind ? json_object_new_string(f->last_kind) : NULL);
        json_object_object_add(o, "release_pending", json_object_new_boolean(f->release_pending));
        json_object_object_add(o, "release_error", f->release_error ? json_object_new_string(f->release_error) : NULL);
        json_object_object_add(o, "maybe_held", json_object_new_boolean(f->maybe_held));
        json_object_object_add(o, "unanswered_since", f->unanswered ? json_object_new_int64((int64_t) (f->lock_sent / USEC_PER_SEC)) : NULL);
        return o;
}

static int fl_admin(Coordinator *c, struct json_object *req, void (*cb)(struct json_object *, void *), void *ud) {
        struct json_object *o = json_object_new_object(), *v;
        const char *action = json_object_object_get_ex(req, "action", &v) ? json_object_get_string(v) : NULL;

        if (streq_ptr(action, "status")) {
                json_object_object_add(o, "ok", json_object_new_boolean(1));
                json_object_object_add(o, "backend", json_object_new_string("fleetlock"));
                json_object_object_add(o, "local", coordinator_status(c));
        } else {
                _cleanup_free_ char *msg = strprintf(
                        "coordinator %s is not available with backend = fleetlock: the FleetLock protocol has no "
                        "operator API (a node can only take and give back its own slot); use the FleetLock "
                        "server's own tools, or the stop file to stop this node", action ? action : "(none)");
                json_object_object_add(o, "ok", json_object_new_boolean(0));
                json_object_object_add(o, "error", json_object_new_string(msg ? msg : "not available with FleetLock"));
        }
        cb(o, ud);
        return 0;
}

/* ---- life --------------------------------------------------------------------------------- */

static void fl_done(Coordinator *c) {
        FleetLock *f = c->data;

        if (!f)
                return;
        if (f->asking)
                answer(f, COORD_UNKNOWN, "shutting down", NULL);
        if (f->maybe_held && !f->holder && !f->release_pending) {
                f->release_pending = true;
                fl_save(f);
        }
        if (f->release_pending)
                log_warning("FleetLock: the slot of %s in group %s is not confirmed given back; "
                            "medicd gives it back when it starts again", f->node, f->group);
        http_client_free(f->http);
        sd_event_source_disable_unref(f->release_timer);
        sd_event_source_disable_unref(f->answer_timer);
        free(f->url);
        free(f->node);
        free(f->group);
        free(f->state_path);
        free((char *) f->tls.ca_file);
        free((char *) f->tls.cert_file);
        free((char *) f->tls.key_file);
        free(f->holder);
        free(f->release_error);
        free(f->asking);
        free(f->last_holder);
        free(f->last_reason);
        free(f->last_kind);
        free(f);
        c->data = NULL;
}

static int fl_init(Coordinator *c) {
        const Config *cfg = c->config;
        FleetLock *f;
        int r;

        if (!cfg->url)
                return log_error_errno(EINVAL, "FleetLock: no url configured");
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        c->data = f;
        f->c = c;
        f->url = strdup(cfg->url);
        f->node = strdup(cfg->node);
        f->group = strdup(cfg->group);
        f->state_path = strprintf("%s/fleetlock.json", cfg->state_dir);
        f->tls.ca_file = strdup_or_null(cfg->ca_file);
        f->tls.cert_file = strdup_or_null(cfg->cert_file);
        f->tls.key_file = strdup_or_null(cfg->key_file);
        f->timeout = cfg->request_timeout;
        if (!f->url || !f->node || !f->group || !f->state_path) {
                r = -ENOMEM;
                goto fail;
        }
        r = http_client_new(c->event, &f->http);
        if (r < 0)
                goto fail;
        r = sd_event_add_time(c->event, &f->release_timer, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC,
                              on_release_timer, f);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(f->release_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(f->release_timer, "fleetlock-release");
        r = sd_event_add_time(c->event, &f->answer_timer, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC,
                              on_answer_timer, f);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(f->answer_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(f->answer_timer, "fleetlock-answer");

        fl_load(f);
        if (f->holder) {
                log_info("FleetLock: rule %s holds the slot of %s in group %s (recorded before this start)",
                         f->holder, f->node, f->group);
                f->maybe_held = false; /* the holder's: given back when the holder releases it */
        } else if (f->maybe_held && !f->release_pending) {
                /* A pre-reboot of the previous medicd may have taken a slot (killed while asking, or
                 * stopped while it was unanswered): a starting client gives back what it may hold. */
                log_info("FleetLock: a pre-reboot sent before this start may have taken a slot for %s", f->node);
                f->release_pending = true;
        }
        if (f->release_pending) {
                log_info("FleetLock: giving back the slot of %s owed from before this start", f->node);
                start_release(f);
        }
        log_debug("FleetLock: %s as id '%s' in group '%s'", f->url, f->node, f->group);
        return 0;
fail:
        fl_done(c);
        return r;
}

/* No .held: the FleetLock protocol has no way to ask whether this node still holds a slot (only
 * pre-reboot and steady-state), so a slot an operator takes back on the server goes unnoticed
 * (coordinator_held() answers UNKNOWN, which does not stop a reboot). */
const CoordinatorOps coord_fleetlock_ops = {
        .name = "fleetlock",
        .init = fl_init,
        .request = fl_request,
        .release = fl_release,
        .status = fl_status,
        .done = fl_done,
        .withdraw = fl_withdraw,
        .admin = fl_admin,
};

/* ---- the reply parser on its own (coord-fleetlock.h) ------------------------------------- */

char *fleetlock_reply_describe(const char *url, const char *group, const char *node, const HttpResponse *r,
                               char **ret_kind, bool *ret_ambiguous) {
        FleetLock f = { .url = (char *) url, .group = (char *) group, .node = (char *) node, .timeout = 10 * USEC_PER_SEC };
        return describe_failure(&f, r, ret_kind, ret_ambiguous);
}
