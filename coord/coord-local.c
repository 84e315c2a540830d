/* SPDX-License-Identifier: MIT */
/* The local backend: one slot on this node, kept in STATE_DIR/coordinator.json, so that two
 * disruptive remedies never run at once and a reboot does not forget who held it. */
#include <string.h>

#include "coordinator.h"
#include "log.h"

typedef struct LocalSlot {
        char *path;
        char *holder;
        uint64_t since; /* realtime usec */
} LocalSlot;

static int slot_save(LocalSlot *s) {
        struct json_object *o = json_object_new_object();
        const char *text;
        int r;

        json_object_object_add(o, "holder", s->holder ? json_object_new_string(s->holder) : NULL);
        json_object_object_add(o, "since", json_object_new_int64((int64_t) (s->since / USEC_PER_SEC)));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        r = write_file_atomic(s->path, text, strlen(text), 0644);
        json_object_put(o);
        return r;
}

static int local_init(Coordinator *c) {
        LocalSlot *s = calloc(1, sizeof(*s));
        _cleanup_free_ char *buf = NULL;
        size_t size;

        if (!s)
                return -ENOMEM;
        s->path = strprintf("%s/coordinator.json", c->state_dir);
        c->data = s;
        if (read_file(s->path, 64 * 1024, &buf, &size) >= 0) {
                struct json_object *o = json_tokener_parse(buf), *v;
                if (!o || !json_object_is_type(o, json_type_object)) {
                        /* Fail safe: an unreadable slot file means somebody may hold it. */
                        log_error("%s: cannot parse, treating the slot as held until an operator fixes it", s->path);
                        s->holder = strdup("(unreadable coordinator.json)");
                } else {
                        if (json_object_object_get_ex(o, "holder", &v) && json_object_is_type(v, json_type_string))
                                s->holder = strdup(json_object_get_string(v));
                        if (json_object_object_get_ex(o, "since", &v))
                                s->since = (uint64_t) json_object_get_int64(v) * USEC_PER_SEC;
                }
                json_object_put(o);
        }
        return 0;
}

static int local_request(Coordinator *c, const char *holder, coord_answer_t cb, void *userdata) {
        LocalSlot *s = c->data;
        int r;

        if (s->holder && strcmp(s->holder, holder) != 0) {
                _cleanup_free_ char *why = strprintf("the local slot is held by %s", s->holder);
                cb(COORD_DENIED, why, userdata);
                return 0;
        }
        if (!s->holder) {
                s->holder = strdup(holder);
                s->since = now_realtime();
                r = slot_save(s);
                if (r < 0) {
                        /* Not recorded durably: not granted. */
                        free(s->holder);
                        s->holder = NULL;
                        log_error_errno(r, "Cannot record the local slot in %s: %m", s->path);
                        cb(COORD_UNKNOWN, "cannot record the grant durably", userdata);
                        return 0;
                }
        }
        cb(COORD_GRANTED, NULL, userdata);
        return 0;
}

static int local_release(Coordinator *c, const char *holder) {
        LocalSlot *s = c->data;

        if (!s->holder || (holder && strcmp(s->holder, holder) != 0))
                return 0;
        free(s->holder);
        s->holder = NULL;
        s->since = 0;
        return slot_save(s);
}

static struct json_object *local_status(Coordinator *c) {
        LocalSlot *s = c->data;
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "holder", s->holder ? json_object_new_string(s->holder) : NULL);
        json_object_object_add(o, "since", s->holder ? json_object_new_int64((int64_t) (s->since / USEC_PER_SEC)) : NULL);
        json_object_object_add(o, "stopped", json_object_new_boolean(coordinator_stopped_locally(c)));
        return o;
}

/* The file is the slot: an operator who clears its holder (or removes it) takes the slot back,
 * and the next request is granted again. Read afresh each time (one small file). */
static CoordHeld local_held(Coordinator *c, const char *holder, char **ret_why) {
        LocalSlot *s = c->data;
        _cleanup_free_ char *buf = NULL;
        struct json_object *o, *v;
        const char *h = NULL;
        size_t size;
        int r;

        r = read_file(s->path, 64 * 1024, &buf, &size);
        if (r == -ENOENT) {
                *ret_why = strprintf("%s does not exist", s->path);
                s->holder = mfree(s->holder);
                s->since = 0;
                return COORD_NOT_HELD;
        }
        if (r < 0) {
                *ret_why = strprintf("%s: cannot read: %s", s->path, strerror(-r));
                return COORD_HELD_UNKNOWN;
        }
        o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                *ret_why = strprintf("%s: cannot parse", s->path);
                return COORD_HELD_UNKNOWN;
        }
        if (json_object_object_get_ex(o, "holder", &v) && json_object_is_type(v, json_type_string))
                h = json_object_get_string(v);
        if (streq_ptr(h, holder)) {
                json_object_put(o);
                return COORD_HELD;
        }
        *ret_why = h ? strprintf("%s names %s as the holder", s->path, h) : strprintf("%s names no holder", s->path);
        /* What the file says is the slot. */
        free(s->holder);
        s->holder = strdup_or_null(h);
        if (!h)
                s->since = 0;
        json_object_put(o);
        return COORD_NOT_HELD;
}

/* The local coordinator's group is this node. */
static int local_group_view(Coordinator *c, struct json_object **ret, char **ret_why) {
        LocalSlot *s = c->data;

        *ret = coordinator_self_view(c, s->holder != NULL);
        return 0;
}

static void local_done(Coordinator *c) {
        LocalSlot *s = c->data;
        if (!s)
                return;
        free(s->path);
        free(s->holder);
        free(s);
}

const CoordinatorOps coord_local_ops = {
        .name = "local",
        .init = local_init,
        .request = local_request,
        .release = local_release,
        .status = local_status,
        .done = local_done,
        .group_view = local_group_view,
        .held = local_held,
};
