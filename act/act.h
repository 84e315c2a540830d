/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"
#include "journal.h"
#include "lua-decl.h"
#include "permission.h"
#include "tables.h"

/* What the daemon's root hands the disruptive remedies (the reboot, the maintenance): the
 * pieces of state they read or drive, each still owned by the root, and handlers back into
 * it. The remedies never see the manager. The root keeps config and set current across
 * reloads. */
typedef struct ActHost {
        sd_event *event;
        const Config *config;
        LuaSet *set;
        const CondTable *conds;
        RuleTable *rstates;     /* the maintenance phases live in the rule states */
        Permission *perm;       /* the node's permission owner */
        Journal *journal;
        /* After a wait: NULL when the disruption may still go on, else why not (malloc'ed). */
        char *(*recheck)(void *userdata, const char *rule);
        /* Something to persist changed: save it now. */
        void (*save)(void *userdata);
        /* Record only (`medicd --test`; NULL in the daemon): when set, nothing on the machine
         * is touched. Each remedy (command, unit job, Lua function), each task and the reboot
         * (instead of the ladder's methods) is handed to it as what = "remedy TEXT",
         * "maintenance", "task PATH" or "reboot"; it returns the outcome to report (true:
         * succeeded). The reboot then waits, as if the machine were going down. */
        bool (*record)(void *record_data, const char *rule, const char *what);
        void *record_data;
        void *userdata;         /* of recheck and save */
} ActHost;

static inline void act_save(ActHost *h) {
        h->save(h->userdata);
}
