/* SPDX-License-Identifier: MIT */
/* The scripted backend, used only by `medicd --test`: the test's timeline says what the
 * coordinator answers (granted, denied or unknown, from a step on; granted by default). Like
 * the local backend it has one slot; nothing is written. Its group is this node. */
#include <string.h>

#include "coordinator.h"

typedef struct ScriptCoord {
        CoordAnswer answer;
        char *reason;
        char *holder;
        uint64_t since; /* realtime usec */
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

static int script_request(Coordinator *c, const char *holder, coord_answer_t cb, void *userdata) {
        ScriptCoord *s = c->data;

        if (s->answer != COORD_GRANTED) {
                cb(s->answer, s->reason ? s->reason : s->answer == COORD_DENIED ? "denied by the test" : "unknown (the test)",
                   userdata);
                return 0;
        }
        if (s->holder && strcmp(s->holder, holder) != 0) {
                _cleanup_free_ char *why = strprintf("the slot is held by %s", s->holder);
                cb(COORD_DENIED, why, userdata);
                return 0;
        }
        if (!s->holder) {
                s->holder = strdup(holder);
                if (!s->holder) {
                        cb(COORD_UNKNOWN, "out of memory", userdata);
                        return 0;
                }
                s->since = now_realtime();
        }
        cb(COORD_GRANTED, NULL, userdata);
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
