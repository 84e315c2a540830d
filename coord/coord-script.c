/* SPDX-License-Identifier: MIT */
/* The scripted backend, used only by `medicd --test` and the invariants test: the test's
 * timeline says what the coordinator answers (granted, denied or unknown, from a step on;
 * granted by default). Like the local backend it has one slot; nothing is written. Its group
 * is this node. Deferred (coord_script_defer()), requests wait until the test answers them one
 * at a time, as a remote server's answers arrive: late, lost, or never. */
#include <string.h>

#include "coordinator.h"

#define SCRIPT_MAX_PENDING 16

typedef struct ScriptPending {
        char *holder;
        coord_answer_t cb;
        void *userdata;
} ScriptPending;

typedef struct ScriptCoord {
        CoordAnswer answer;
        char *reason;
        char *holder;
        uint64_t since; /* realtime usec */
        bool defer;
        ScriptPending pend[SCRIPT_MAX_PENDING];
        size_t n_pend;
} ScriptCoord;

static int script_init(Coordinator *c) {
        ScriptCoord *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->answer = COORD_GRANTED;
        c->data = s;
        return 0;
}

void coord_script_set_answer(Coordinator *c, CoordAnswer a, const char *reason) {
        ScriptCoord *s = c->data;

        if (c->ops != &coord_script_ops)
                return;
        s->answer = a;
        free(s->reason);
        s->reason = strdup_or_null(reason);
}

/* The server side of an answer a (the slot changes hands on a grant); then cb is told it,
 * or told "unknown" when the answer is lost (how), or nothing (dropped). */
static void script_answer(ScriptCoord *s, CoordAnswer a, const char *reason, const char *holder,
                          CoordScriptDelivery how, coord_answer_t cb, void *userdata) {
        _cleanup_free_ char *why = NULL;

        if (a == COORD_GRANTED && s->holder && strcmp(s->holder, holder) != 0) {
                why = strprintf("the slot is held by %s", s->holder);
                a = COORD_DENIED;
                reason = why;
        } else if (a == COORD_GRANTED && !s->holder) {
                s->holder = strdup(holder);
                if (!s->holder) {
                        a = COORD_UNKNOWN;
                        reason = "out of memory";
                } else
                        s->since = now_realtime();
        } else if (a != COORD_GRANTED && !reason)
                reason = a == COORD_DENIED ? "denied by the test" : "unknown (the test)";
        if (how == COORD_SCRIPT_LOST)
                cb(COORD_UNKNOWN, "the answer was lost (the test)", userdata);
        else if (how == COORD_SCRIPT_DELIVER)
                cb(a, a == COORD_GRANTED ? NULL : reason, userdata);
}

static int script_request(Coordinator *c, const char *holder, coord_answer_t cb, void *userdata) {
        ScriptCoord *s = c->data;

        if (s->defer) {
                if (s->n_pend >= SCRIPT_MAX_PENDING)
                        return -EAGAIN;
                s->pend[s->n_pend] = (ScriptPending) { .holder = strdup(holder), .cb = cb, .userdata = userdata };
                if (!s->pend[s->n_pend].holder)
                        return -ENOMEM;
                s->n_pend++;
                return 0;
        }
        script_answer(s, s->answer, s->reason, holder, COORD_SCRIPT_DELIVER, cb, userdata);
        return 0;
}

void coord_script_defer(Coordinator *c, bool on) {
        if (c->ops == &coord_script_ops)
                ((ScriptCoord *) c->data)->defer = on;
}

int coord_script_deliver(Coordinator *c, CoordAnswer a, const char *reason, CoordScriptDelivery how) {
        ScriptCoord *s = c->data;
        ScriptPending p;

        if (c->ops != &coord_script_ops || s->n_pend == 0)
                return 0;
        p = s->pend[0];
        memmove(s->pend, s->pend + 1, --s->n_pend * sizeof(*s->pend));
        script_answer(s, a, reason, p.holder, how, p.cb, p.userdata);
        free(p.holder);
        return 1;
}

size_t coord_script_pending(const Coordinator *c) {
        return c->ops == &coord_script_ops ? ((const ScriptCoord *) c->data)->n_pend : 0;
}

const char *coord_script_holder(const Coordinator *c) {
        return c->ops == &coord_script_ops ? ((const ScriptCoord *) c->data)->holder : NULL;
}

int coord_script_set_holder(Coordinator *c, const char *holder) {
        ScriptCoord *s = c->data;

        if (c->ops != &coord_script_ops)
                return -EINVAL;
        free(s->holder);
        s->holder = strdup_or_null(holder);
        if (holder && !s->holder)
                return -ENOMEM;
        s->since = holder ? now_realtime() : 0;
        return 0;
}

static int script_release(Coordinator *c, const char *holder) {
        ScriptCoord *s = c->data;

        if (s->holder && (!holder || strcmp(s->holder, holder) == 0))
                s->holder = mfree(s->holder);
        return 0;
}

static struct json_object *script_status(Coordinator *c) {
        ScriptCoord *s = c->data;
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "holder", s->holder ? json_object_new_string(s->holder) : NULL);
        json_object_object_add(o, "since", s->holder ? json_object_new_int64((int64_t) (s->since / USEC_PER_SEC)) : NULL);
        json_object_object_add(o, "answer", json_object_new_string(coord_answer_to_string(s->answer)));
        return o;
}

static int script_group_view(Coordinator *c, struct json_object **ret, char **ret_why) {
        ScriptCoord *s = c->data;

        *ret = coordinator_self_view(c, s->holder != NULL);
        return 0;
}

static void script_done(Coordinator *c) {
        ScriptCoord *s = c->data;

        if (!s)
                return;
        free(s->reason);
        free(s->holder);
        for (size_t i = 0; i < s->n_pend; i++)
                free(s->pend[i].holder);
        free(s);
}

const CoordinatorOps coord_script_ops = {
        .name = "script",
        .init = script_init,
        .request = script_request,
        .release = script_release,
        .status = script_status,
        .done = script_done,
        .group_view = script_group_view,
};
