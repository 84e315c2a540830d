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

int coordinator_new(const Config *cfg, sd_event *e, Coordinator **ret) {
        static const CoordinatorOps *const backends[] = { &coord_local_ops, &coord_etcd_ops, &coord_fleetlock_ops };
        Coordinator *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(backends); i++)
                if (strcmp(backends[i]->name, cfg->coordinator) == 0)
                        c->ops = backends[i];
        if (!c->ops) {
                free(c);
                return -EOPNOTSUPP;
        }
        c->event = sd_event_ref(e);
        c->config = cfg;
        c->state_dir = strdup(cfg->state_dir);
        c->stop_file = strdup_or_null(cfg->stop_file);
        c->node = strdup(cfg->node);
        c->group = strdup(cfg->group);
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

void coordinator_publish_health(Coordinator *c, bool healthy, const char *summary_json) {
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
