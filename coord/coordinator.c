/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <unistd.h>

#include "coordinator.h"
#include "log.h"

const char *coord_answer_to_string(CoordAnswer a) {
        switch (a) {
        case COORD_GRANTED: return "granted";
        case COORD_DENIED: return "denied";
        default: return "unknown";
        }
}

const char *coord_held_to_string(CoordHeld h) {
        switch (h) {
        case COORD_HELD: return "held";
        case COORD_NOT_HELD: return "not-held";
        default: return "unknown";
        }
}

int coordinator_new(const Config *cfg, sd_event *e, Coordinator **ret) {
        static const CoordinatorOps *const backends[] = { &coord_local_ops, &coord_etcd_ops, &coord_fleetlock_ops };

        for (size_t i = 0; i < ELEMENTSOF(backends); i++)
                if (strcmp(backends[i]->name, cfg->coordinator) == 0)
                        return coordinator_new_with(backends[i], cfg, e, ret);
        return -EOPNOTSUPP;
}

int coordinator_new_with(const CoordinatorOps *ops, const Config *cfg, sd_event *e, Coordinator **ret) {
        Coordinator *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->ops = ops;
        c->event = sd_event_ref(e);
        c->config = cfg;
        c->state_dir = strdup(cfg->state_dir);
        c->stop_file = strdup_or_null(cfg->stop_file);
        c->node = strdup(cfg->node);
        c->group = strdup(cfg->group);
        c->healthy = true;
        for (size_t i = 0; i < cfg->labels.n; i++)
                if (strlist_add(&c->labels, cfg->labels.v[i]) < 0) {
                        c->ops = NULL; /* not initialised: nothing to undo */
                        coordinator_free(c);
                        return -ENOMEM;
                }
        r = c->ops->init ? c->ops->init(c) : 0;
        c->config = NULL; /* the manager's config is replaced on reload */
        if (r < 0) {
                c->ops = NULL;
                coordinator_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

Coordinator *coordinator_free(Coordinator *c) {
        if (!c)
                return NULL;
        if (c->ops && c->ops->done)
                c->ops->done(c);
        sd_event_unref(c->event);
        free(c->state_dir);
        free(c->stop_file);
        free(c->node);
        free(c->group);
        strlist_clear(&c->labels);
        free(c);
        return NULL;
}

bool coordinator_stopped_locally(const Coordinator *c) {
        return c->stop_file && access(c->stop_file, F_OK) == 0;
}

int coordinator_request(Coordinator *c, const char *holder, coord_answer_t cb, void *userdata) {
        if (coordinator_stopped_locally(c)) {
                _cleanup_free_ char *why = strprintf("stop file %s is present", c->stop_file);
                cb(COORD_DENIED, why ? why : "stop file present", userdata);
                return 0;
        }
        return c->ops->request(c, holder, cb, userdata);
}

int coordinator_release(Coordinator *c, const char *holder) {
        return c->ops->release(c, holder);
}

struct json_object *coordinator_status(Coordinator *c) {
        struct json_object *o = c->ops->status(c);
        if (!o)
                o = json_object_new_object();
        json_object_object_add(o, "backend", json_object_new_string(c->ops->name));
        json_object_object_add(o, "stopped_locally", json_object_new_boolean(coordinator_stopped_locally(c)));
        return o;
}

void coordinator_withdraw(Coordinator *c, const char *holder) {
        if (c->ops->withdraw)
                c->ops->withdraw(c, holder);
}

CoordHeld coordinator_held(Coordinator *c, const char *holder, char **ret_why) {
        *ret_why = NULL;
        if (!c->ops->held) {
                *ret_why = strprintf("the %s coordinator cannot tell", c->ops->name);
                return COORD_HELD_UNKNOWN;
        }
        return c->ops->held(c, holder, ret_why);
}

void coordinator_publish_health(Coordinator *c, bool healthy, const char *summary_json) {
        c->healthy = healthy;
        if (c->ops->publish_health)
                c->ops->publish_health(c, healthy, summary_json);
}

int coordinator_admin(Coordinator *c, struct json_object *req, void (*cb)(struct json_object *reply, void *ud), void *ud) {
        if (!c->ops->admin) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "ok", json_object_new_boolean(0));
                json_object_object_add(o, "error", json_object_new_string("the local coordinator has no cluster view; "
                                                                          "use the stop file to stop this node"));
                cb(o, ud);
                return 0;
        }
        return c->ops->admin(c, req, cb, ud);
}

struct json_object *coordinator_labels_json(const StrList *labels) {
        struct json_object *o = json_object_new_object();

        for (size_t i = 0; i < labels->n; i++) {
                const char *eq = strchr(labels->v[i], '=');
                _cleanup_free_ char *key = eq ? strndup(labels->v[i], (size_t) (eq - labels->v[i])) : NULL;
                if (key)
                        json_object_object_add(o, key, json_object_new_string(eq + 1));
        }
        return o;
}

struct json_object *coordinator_self_view(Coordinator *c, bool holding) {
        struct json_object *o = json_object_new_object(), *members = json_object_new_array(), *m = json_object_new_object();
        int64_t now = (int64_t) (now_realtime() / USEC_PER_SEC);

        json_object_object_add(m, "node", json_object_new_string(c->node));
        json_object_object_add(m, "labels", coordinator_labels_json(&c->labels));
        json_object_object_add(m, "self", json_object_new_boolean(1));
        json_object_object_add(m, "alive", json_object_new_boolean(1));
        json_object_object_add(m, "healthy", json_object_new_boolean(c->healthy));
        json_object_object_add(m, "holding", json_object_new_boolean(holding));
        json_object_object_add(m, "queued", json_object_new_boolean(0));
        json_object_object_add(m, "last_seen", json_object_new_int64(now));
        json_object_object_add(m, "updated", NULL);
        json_object_array_add(members, m);
        json_object_object_add(o, "group", json_object_new_string(c->group));
        json_object_object_add(o, "backend", json_object_new_string(c->ops->name));
        json_object_object_add(o, "members", members);
        return o;
}

int coordinator_group_view(Coordinator *c, struct json_object **ret, char **ret_why) {
        if (!c->ops->group_view) {
                *ret_why = strprintf("the %s coordinator keeps no view of the group", c->ops->name);
                return -ENODATA;
        }
        return c->ops->group_view(c, ret, ret_why);
}
