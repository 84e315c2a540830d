/* SPDX-License-Identifier: MIT */
/* The permission owner (see permission.h). Nothing else calls coordinator_request(),
 * coordinator_release() or coordinator_withdraw(). */
#include <string.h>
#include <unistd.h>

#include "killpoint.h"
#include "log.h"
#include "permission.h"

typedef enum Rec {
        REC_NONE,
        REC_ASKING,
        REC_HELD,
} Rec;

static const char *const rec_names[] = { [REC_NONE] = "none", [REC_ASKING] = "asking", [REC_HELD] = "held" };

typedef struct AskCtx AskCtx;
struct AskCtx {
        Permission *p;
        unsigned gen;
        char *rule;
        permission_answer_t cb;
        void *userdata;
        void (*free_userdata)(void *userdata);
        AskCtx *next;           /* in Permission.asks */
};

struct Permission {
        Coordinator *coord;
        char *path;
        Rec rec;
        char *rule;             /* who asks or holds */
        uint64_t since;         /* realtime usec */
        bool in_flight;
        AskCtx *asks;           /* the requests out (the coordinator holds them until it answers) */
        bool closing;           /* permission_close(): answers only free what they carry */
        unsigned gen;           /* bumped by release/withdraw: an answer to an older request is stale */
        PermissionAnswer last;
        char *revoked;          /* held, but the backend no longer shows this node as holder: why */
        bool orphan_released;   /* an orphan holder was logged (or we released): not logged again (see permission_reconcile) */
        /* Restored from the file at start; given back unless claimed. */
        Rec restored;
        char *restored_rule;
        bool claimed;
};

static int record_save(Permission *p, Rec rec, const char *rule, uint64_t since) {
        struct json_object *o;
        const char *text;
        int r;

        if (rec == REC_NONE) {
                if (unlink(p->path) < 0 && errno != ENOENT)
                        return -errno;
                return 0;
        }
        o = json_object_new_object();
        json_object_object_add(o, "state", json_object_new_string(rec_names[rec]));
        json_object_object_add(o, "rule", json_object_new_string(rule));
        json_object_object_add(o, "since", json_object_new_int64((int64_t) (since / USEC_PER_SEC)));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        r = write_file_atomic(p->path, text, strlen(text), 0600);
        json_object_put(o);
        return r;
}

static void set_state(Permission *p, Rec rec, const char *rule) {
        /* A mark of a taken-back slot belongs to that holding only. */
        if (rec != REC_HELD || p->rec != REC_HELD || !streq_ptr(p->rule, rule))
                p->revoked = mfree(p->revoked);
        if (rec == REC_NONE) {
                p->rule = mfree(p->rule);
                p->since = 0;
        } else if (!streq_ptr(p->rule, rule)) {
                free(p->rule);
                p->rule = strdup(rule);
                p->since = now_realtime();
        } else if (p->rec != rec)
                p->since = now_realtime();
        if (rec != REC_ASKING) {
                p->last.reason = mfree(p->last.reason);
                p->last.count = 0;
        }
        p->rec = rec;
}

int permission_new(Coordinator *c, const char *state_dir, Permission **ret) {
        Permission *p = calloc(1, sizeof(*p));
        _cleanup_free_ char *buf = NULL;
        size_t size;

        if (!p)
                return -ENOMEM;
        p->coord = c;
        p->path = strprintf("%s/permission.json", state_dir);
        if (!p->path) {
                free(p);
                return -ENOMEM;
        }
        if (read_file(p->path, 64 * 1024, &buf, &size) >= 0) {
                struct json_object *o = json_tokener_parse(buf), *v;
                const char *st = NULL, *rule = NULL;
                if (o && json_object_object_get_ex(o, "state", &v))
                        st = json_object_get_string(v);
                if (o && json_object_object_get_ex(o, "rule", &v))
                        rule = json_object_get_string(v);
                if (!o || !st || !rule) {
                        /* Fail safe: the previous medicd may hold something; give it back. */
                        log_error("%s: cannot parse; giving back whatever a previous medicd may hold", p->path);
                        p->restored = REC_ASKING;
                        p->restored_rule = strdup("?");
                } else {
                        p->restored = streq_ptr(st, "held") ? REC_HELD : REC_ASKING;
                        p->restored_rule = strdup(rule);
                }
                json_object_put(o);
        }
        *ret = p;
        return 0;
}

static void ask_unlink(AskCtx *c) {
        for (AskCtx **i = &c->p->asks; *i; i = &(*i)->next)
                if (*i == c) {
                        *i = c->next;
                        break;
                }
}

static void ask_free(AskCtx *c) {
        if (c->free_userdata)
                c->free_userdata(c->userdata);
        free(c->rule);
        free(c);
}

void permission_close(Permission *p) {
        if (p)
                p->closing = true;
}

Permission *permission_free(Permission *p) {
        if (!p)
                return NULL;
        /* Requests never answered (the coordinator is gone, or its answer was lost): what they
         * carry is freed here, not in a callback that will not come. */
        while (p->asks) {
                AskCtx *c = p->asks;
                p->asks = c->next;
                ask_free(c);
        }
        free(p->path);
        free(p->rule);
        free(p->restored_rule);
        free(p->revoked);
        free(p->last.reason);
        free(p);
        return NULL;
}

void permission_claim(Permission *p, const char *rule) {
        if (p->rec == REC_HELD && streq_ptr(p->rule, rule))
                return;
        set_state(p, REC_HELD, rule);
        if (p->restored != REC_NONE && streq_ptr(p->restored_rule, rule))
                p->claimed = true;
        /* The claimant's own record (the reboot intent, the maintenance phase) says it holds;
         * this one follows. */
        int r = record_save(p, REC_HELD, rule, p->since);
        if (r < 0)
                log_warning_errno(r, "Cannot record the permission in %s, ignoring: %m", p->path);
        KILLPOINT("claim-recorded");
}

void permission_startup(Permission *p) {
        if (p->restored == REC_NONE || p->claimed) {
                p->restored = REC_NONE;
                return;
        }
        log_event(LOG_NOTICE, MEDIC_MSG_PERMISSION,
                  LOG_FIELDS({ "MEDIC_RULE", p->restored_rule }, { "MEDIC_DECISION", "release" }),
                  "A previous medicd %s the permission for rule %s and nothing here claims it: giving it back",
                  p->restored == REC_HELD ? "held" : "asked for", p->restored_rule);
        (void) coordinator_release(p->coord, p->restored_rule);
        KILLPOINT("startup-release-sent");
        p->restored = REC_NONE;
        if (p->rec == REC_NONE) {
                int r = record_save(p, REC_NONE, NULL, 0);
                if (r < 0)
                        log_warning_errno(r, "Cannot remove %s, ignoring: %m", p->path);
        }
}

CoordHeld permission_verify(Permission *p) {
        _cleanup_free_ char *why = NULL;
        CoordHeld h;

        if (p->rec != REC_HELD)
                return COORD_HELD_UNKNOWN;
        if (p->revoked)
                return COORD_NOT_HELD;
        h = coordinator_held(p->coord, p->rule, &why);
        if (h != COORD_NOT_HELD)
                return h;
        /* Taken back (an operator's `medicctl coordinator release`, a cleared coordinator.json):
         * whatever waits for this permission must not act on it. Recorded here, once; the
         * remedy holding it gives it back when it stops. */
        p->revoked = strprintf("the coordinator no longer shows this node as holder%s%s%s",
                               why ? " (" : "", why ? why : "", why ? ")" : "");
        log_event(LOG_WARNING, MEDIC_MSG_PERMISSION,
                  LOG_FIELDS({ "MEDIC_RULE", p->rule }, { "MEDIC_DECISION", "revoked" }, { "MEDIC_REASON", p->revoked }),
                  "The permission for rule %s was taken back: %s", p->rule,
                  p->revoked ? p->revoked : "the coordinator no longer shows this node as holder");
        if (!p->revoked)
                p->revoked = strdup("");
        return COORD_NOT_HELD;
}

const char *permission_revoked(const Permission *p) {
        return p->rec == REC_HELD ? p->revoked : NULL;
}

void permission_reconcile(Permission *p) {
        struct json_object *b, *v;
        _cleanup_free_ char *holder = NULL;

        if (p->rec == REC_HELD)
                (void) permission_verify(p);
        if (p->rec != REC_NONE || p->in_flight)
                return;
        b = coordinator_status(p->coord);
        if (b && json_object_object_get_ex(b, "holder", &v) && json_object_is_type(v, json_type_string))
                holder = strdup(json_object_get_string(v));
        json_object_put(b);
        if (!holder) {
                p->orphan_released = false;
                return;
        }
        /* The backend says this node holds, and nothing here holds or asks: a leftover (of a
         * medicd that stopped without its record, of a grant whose answer was lost, or of a
         * request of an earlier medicd or a withdrawn one that landed late). Given back every
         * time it is seen: giving back nothing is harmless, and a new leftover may appear
         * before the backend was ever seen without one (a "once" would leak it). Logged once
         * (and not at all right after our own release: the backend's view may lag). */
        if (!p->orphan_released)
                log_event(LOG_NOTICE, MEDIC_MSG_PERMISSION,
                          LOG_FIELDS({ "MEDIC_RULE", holder }, { "MEDIC_DECISION", "release" }),
                          "The %s coordinator says this node holds a slot (for %s) that nothing here holds or asks for: giving it back",
                          p->coord->ops->name, holder);
        p->orphan_released = true;
        (void) coordinator_release(p->coord, holder);
}

static void note_answer(Permission *p, CoordAnswer a, const char *reason) {
        bool same = p->last.count > 0 && p->last.answer == a && streq_ptr(p->last.reason, reason);

        p->last.changed = !same;
        if (same) {
                p->last.count++;
                return;
        }
        free(p->last.reason);
        p->last.answer = a;
        p->last.reason = strdup_or_null(reason);
        p->last.count = 1;
        p->last.since = now_realtime();
}

static void on_answer(CoordAnswer a, const char *reason, void *userdata) {
        AskCtx *c = userdata;
        Permission *p = c->p;
        _cleanup_free_ char *why = NULL;

        ask_unlink(c);
        if (p->closing) {
                /* Shutting down (the coordinator answers what is out as it goes): no decision
                 * is made on it, the rule engine is gone. */
                ask_free(c);
                return;
        }
        if (c->gen != p->gen || !streq_ptr(p->rule, c->rule) || p->rec != REC_ASKING) {
                /* The rule stopped wanting while the request was out: a late grant goes back.
                 * The backend's slot is the node's: while a newer request is out or a grant
                 * is held, giving it back would give back that one, so it is left to their
                 * release (and a duplicate answer to a held grant changes nothing). */
                if (a == COORD_GRANTED && p->rec == REC_NONE) {
                        log_notice("A late grant for rule %s arrived after it stopped asking; giving it back", c->rule);
                        (void) coordinator_release(p->coord, c->rule);
                } else if (a == COORD_GRANTED)
                        log_debug("A late or repeated grant for rule %s while %s %s: the slot stays with that", c->rule,
                                  p->rule, rec_names[p->rec]);
                if (c->gen == p->gen)
                        p->in_flight = false;
                ask_free(c); /* the caller's userdata too: its callback is not called */
                return;
        }
        p->in_flight = false;
        if (a == COORD_GRANTED) {
                KILLPOINT("grant-received");
                int r = record_save(p, REC_HELD, c->rule, now_realtime());
                if (r < 0) {
                        /* What cannot be recorded does not happen. */
                        log_error_errno(r, "Cannot record the grant for rule %s in %s: %m; giving it back", c->rule, p->path);
                        (void) coordinator_release(p->coord, c->rule);
                        why = strprintf("the grant cannot be recorded durably: %s", strerror(-r));
                        a = COORD_UNKNOWN;
                        reason = why;
                        note_answer(p, a, reason);
                } else {
                        set_state(p, REC_HELD, c->rule);
                        KILLPOINT("grant-recorded");
                }
        } else
                note_answer(p, a, reason);
        c->cb(a, reason, c->userdata);
        free(c->rule);
        free(c);
}

int permission_ask(Permission *p, const char *rule, permission_answer_t cb, void *userdata,
                   void (*free_userdata)(void *userdata)) {
        AskCtx *c;
        int r;

        if (p->rec != REC_NONE && !streq_ptr(p->rule, rule))
                return -EBUSY;
        if (p->rec == REC_HELD)
                return -EBUSY;
        if (p->in_flight)
                return -EALREADY;
        if (p->rec == REC_NONE) {
                /* Recorded before anything is sent: a medicd killed now gives it back when it starts. */
                r = record_save(p, REC_ASKING, rule, now_realtime());
                if (r < 0)
                        return log_error_errno(r, "Cannot record the request for rule %s in %s: %m; not asking",
                                               rule, p->path);
                set_state(p, REC_ASKING, rule);
                KILLPOINT("ask-recorded");
        }
        c = calloc(1, sizeof(*c));
        if (!c || !(c->rule = strdup(rule))) {
                free(c);
                return -ENOMEM;
        }
        c->p = p;
        c->gen = p->gen;
        c->cb = cb;
        c->userdata = userdata;
        c->free_userdata = free_userdata;
        /* Listed before it is sent: the coordinator may answer before it returns. */
        c->next = p->asks;
        p->asks = c;
        p->in_flight = true;
        r = coordinator_request(p->coord, rule, on_answer, c);
        KILLPOINT("ask-sent");
        if (r < 0) {
                /* Not sent: the context was not handed over. */
                if (p->in_flight && c->gen == p->gen) {
                        p->in_flight = false;
                        ask_unlink(c);
                        free(c->rule);
                        free(c);
                }
                return r;
        }
        return 0;
}

int permission_release(Permission *p, const char *rule, const char *why) {
        int r;

        if (p->rec == REC_NONE || !streq_ptr(p->rule, rule))
                return 0;
        log_event(LOG_NOTICE, MEDIC_MSG_PERMISSION,
                  LOG_FIELDS({ "MEDIC_RULE", rule }, { "MEDIC_DECISION", "release" }, { "MEDIC_REASON", why }),
                  "Giving the permission for rule %s back: %s", rule, why ? why : "done");
        p->gen++;
        p->in_flight = false;
        p->orphan_released = true; /* the backend's view of the holder may lag behind */
        KILLPOINT("release-begin");
        r = coordinator_release(p->coord, rule);
        KILLPOINT("release-sent");
        set_state(p, REC_NONE, NULL);
        int k = record_save(p, REC_NONE, NULL, 0);
        if (k < 0)
                log_warning_errno(k, "Cannot remove %s, ignoring: %m", p->path);
        KILLPOINT("release-recorded");
        return r;
}

void permission_withdraw(Permission *p, const char *rule, const char *why) {
        if (p->rec != REC_ASKING || !streq_ptr(p->rule, rule))
                return;
        log_event(LOG_INFO, MEDIC_MSG_PERMISSION,
                  LOG_FIELDS({ "MEDIC_RULE", rule }, { "MEDIC_DECISION", "withdraw" }, { "MEDIC_REASON", why }),
                  "Rule %s stops asking for permission: %s", rule, why ? why : "");
        p->gen++;
        p->in_flight = false;
        coordinator_withdraw(p->coord, rule);
        /* A request may be out (and granted late: on_answer gives such a grant back); a
         * backend without withdraw is told by a release, which also empties any queue. */
        if (!p->coord->ops->withdraw)
                (void) coordinator_release(p->coord, rule);
        set_state(p, REC_NONE, NULL);
        int k = record_save(p, REC_NONE, NULL, 0);
        if (k < 0)
                log_warning_errno(k, "Cannot remove %s, ignoring: %m", p->path);
}

PermState permission_state(const Permission *p, const char *rule) {
        if (!streq_ptr(p->rule, rule))
                return PERM_NONE;
        return p->rec == REC_HELD ? PERM_HELD : p->rec == REC_ASKING ? PERM_ASKING : PERM_NONE;
}

const char *permission_rule(const Permission *p) {
        return p->rule;
}

bool permission_held(const Permission *p) {
        return p->rec == REC_HELD;
}

bool permission_in_flight(const Permission *p) {
        return p->in_flight;
}

uint64_t permission_since(const Permission *p) {
        return p->since;
}

const PermissionAnswer *permission_last_answer(const Permission *p) {
        return p->rec == REC_ASKING && p->last.count > 0 ? &p->last : NULL;
}

const char *permission_backend(const Permission *p) {
        return p->coord->ops->name;
}

struct json_object *permission_status(Permission *p) {
        struct json_object *o = json_object_new_object(), *b = coordinator_status(p->coord), *v;

        json_object_object_add(o, "backend", json_object_new_string(p->coord->ops->name));
        json_object_object_add(o, "holder", p->rec == REC_HELD ? json_object_new_string(p->rule) : NULL);
        json_object_object_add(o, "since", p->rec == REC_HELD ? json_object_new_int64((int64_t) (p->since / USEC_PER_SEC)) : NULL);
        json_object_object_add(o, "revoked", permission_revoked(p) ? json_object_new_string(p->revoked) : NULL);
        json_object_object_add(o, "asking", p->rec == REC_ASKING ? json_object_new_string(p->rule) : NULL);
        json_object_object_add(o, "asking_since", p->rec == REC_ASKING ? json_object_new_int64((int64_t) (p->since / USEC_PER_SEC)) : NULL);
        if (p->rec == REC_ASKING && p->last.count > 0) {
                json_object_object_add(o, "last_answer", json_object_new_string(coord_answer_to_string(p->last.answer)));
                json_object_object_add(o, "last_reason", p->last.reason ? json_object_new_string(p->last.reason) : NULL);
                json_object_object_add(o, "answers", json_object_new_int64(p->last.count));
                json_object_object_add(o, "answer_since", json_object_new_int64((int64_t) (p->last.since / USEC_PER_SEC)));
        }
        /* The backend's own view, for the stop switches, budget and its connection. */
        if (b) {
                json_object_object_foreach(b, k, val) {
                        if (strcmp(k, "holder") == 0 || strcmp(k, "since") == 0 || json_object_object_get_ex(o, k, &v))
                                continue;
                        json_object_object_add(o, k, json_object_get(val));
                }
                json_object_object_add(o, "backend_status", b);
        }
        return o;
}
