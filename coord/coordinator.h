/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "config.h"

/* Permission for disruptive remedies. Every backend answers granted, denied (with a reason)
 * or unknown (could not tell: treated as "not granted" by every caller). */
typedef enum CoordAnswer {
        COORD_GRANTED,
        COORD_DENIED,
        COORD_UNKNOWN,
} CoordAnswer;

const char *coord_answer_to_string(CoordAnswer a);

typedef struct Coordinator Coordinator;
typedef void (*coord_answer_t)(CoordAnswer a, const char *reason, void *userdata);

typedef struct CoordinatorOps {
        const char *name;
        int (*init)(Coordinator *c);
        /* Asks for the slot for holder (a rule name); answers through cb, from the event loop. */
        int (*request)(Coordinator *c, const char *holder, coord_answer_t cb, void *userdata);
        int (*release)(Coordinator *c, const char *holder);
        /* A JSON object describing the backend's view: holder, since, stopped, … */
        struct json_object *(*status)(Coordinator *c);
        void (*done)(Coordinator *c);
        /* Optional. Stops waiting: leaves the queue without touching a held permission. */
        void (*withdraw)(Coordinator *c, const char *holder);
        /* Optional. Publishes this node's health (all health conditions ok) and a summary. */
        void (*publish_health)(Coordinator *c, bool healthy, const char *summary_json);
        /* Optional. Operator commands and the full view, answered through cb with a JSON
         * object {"ok":…} (ownership passes to cb). req is {"action":…, …}. */
        int (*admin)(Coordinator *c, struct json_object *req, void (*cb)(struct json_object *reply, void *ud), void *ud);
        /* Optional. The group as the backend's own copy shows it, without a request; see
         * coordinator_group_view(). Without it the backend has no view of the group. */
        int (*group_view)(Coordinator *c, struct json_object **ret, char **ret_why);
} CoordinatorOps;

struct Coordinator {
        const CoordinatorOps *ops;
        const Config *config;   /* only during ops->init: a backend copies what it needs */
        sd_event *event;
        char *state_dir;
        char *stop_file;
        char *node, *group;
        StrList labels;         /* this node's, "KEY=VALUE" each (published by the etcd backend) */
        bool healthy;           /* as last published (coordinator_publish_health) */
        void *data;  /* the backend's */
};

extern const CoordinatorOps coord_local_ops;
extern const CoordinatorOps coord_etcd_ops;
extern const CoordinatorOps coord_fleetlock_ops;
/* The scripted backend of `medicd --test` (coord-script.c): never chosen by a configuration. */
extern const CoordinatorOps coord_script_ops;

/* The backend the configuration names (backend = local|etcd|fleetlock). */
int coordinator_new(const Config *c, sd_event *e, Coordinator **ret);
/* A given backend (the test runner's scripted one). */
int coordinator_new_with(const CoordinatorOps *ops, const Config *c, sd_event *e, Coordinator **ret);
/* The scripted backend answers every request from now on with a (reason: NULL or the denial's
 * text); granted, the default, gives the one slot to the first holder that asks. */
void coord_script_set_answer(Coordinator *c, CoordAnswer a, const char *reason);
/* Deferred: requests wait (up to 16) until coord_script_deliver() answers the oldest, as a
 * remote server's answers arrive late; a request answered after its rule withdrew is a late
 * answer. The holder survives only with the Coordinator: a test that restarts medicd carries
 * it over with coord_script_holder() / coord_script_set_holder(). */
typedef enum CoordScriptDelivery {
        COORD_SCRIPT_DELIVER,   /* the server answers a and the node hears it */
        COORD_SCRIPT_LOST,      /* the server answers a, the node hears "unknown" */
        COORD_SCRIPT_DROP,      /* the server answers a, the node hears nothing (it is gone) */
} CoordScriptDelivery;
void coord_script_defer(Coordinator *c, bool on);
/* 1 when a waiting request was answered, 0 when none waits. */
int coord_script_deliver(Coordinator *c, CoordAnswer a, const char *reason, CoordScriptDelivery how);
size_t coord_script_pending(const Coordinator *c);
const char *coord_script_holder(const Coordinator *c);
int coord_script_set_holder(Coordinator *c, const char *holder);
Coordinator *coordinator_free(Coordinator *c);
int coordinator_request(Coordinator *c, const char *holder, coord_answer_t cb, void *userdata);
int coordinator_release(Coordinator *c, const char *holder);
struct json_object *coordinator_status(Coordinator *c);
void coordinator_withdraw(Coordinator *c, const char *holder);
void coordinator_publish_health(Coordinator *c, bool healthy, const char *summary_json);
int coordinator_admin(Coordinator *c, struct json_object *req, void (*cb)(struct json_object *reply, void *ud), void *ud);
/* A read-only view of this node's group, from what the backend already keeps (no request is
 * sent): returns 0 with *ret = {"group", "backend", "members": [{"node", "labels": {KEY: VALUE},
 * "self", "alive", "healthy", "holding", "queued", "last_seen", "updated"}, ...], ...}, or
 * -ENODATA with *ret_why (malloc'ed) when the backend has no current view (etcd not answering,
 * its watch down; FleetLock keeps none). The local backend's group is this node alone. */
int coordinator_group_view(Coordinator *c, struct json_object **ret, char **ret_why);
/* A member of a group view: its labels ("KEY=VALUE" list) as {KEY: VALUE}. */
struct json_object *coordinator_labels_json(const StrList *labels);
/* This node alone as a group view (for backends whose group is this node). */
struct json_object *coordinator_self_view(Coordinator *c, bool holding);

/* The local stop file: present = this node grants itself nothing. */
bool coordinator_stopped_locally(const Coordinator *c);
