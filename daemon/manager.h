/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "check.h"
#include "condition.h"
#include "config.h"
#include "coordinator.h"
#include "act.h"
#include "journal.h"
#include "lua-decl.h"
#include "decide.h"
#include "permission.h"
#include "ratelimit.h"
#include "sources.h"
#include "tables.h"

struct Remedy;
struct Control;
struct Metrics;
struct Rebooter;

typedef struct Manager {
        sd_event *event;
        Config *config;
        char *config_path;
        bool force_dry_run;      /* --dry-run */
        LuaHost *host;           /* what the current set's Lua files refer to */
        LuaSet *set;
        CheckRunner **runners;
        size_t n_runners;
        CondTable conds;          /* tables.h */
        StrList skipped;          /* checks whose last run in this process said skip (no condition) */
        RuleTable rstates;
        Journal journal;          /* history, escalations, park (journal.h) */
        ActHost act;              /* what the disruptive remedies are handed (act/act.h) */
        Coordinator *coord;
        Permission *perm;         /* the only owner of the node's permission */
        char *boot_id;            /* of this boot, read at start: boot-clock times persist with it */
        struct Control *control;
        struct Metrics *metrics;  /* metrics.c; may be NULL */
        sd_event_source *tick;
        struct PathWatch *stop_watch; /* the stop file: a change re-decides at once (the tick is the fallback) */
        bool dirty;
        sd_event_source *save_timer; /* a coalesced write of the state, at last_save + SAVE_INTERVAL */
        uint64_t last_save;       /* monotonic usec of the last write (manager_save) */
        bool save_failing;        /* the last state_save() failed (logged once) */
        uint64_t started;         /* realtime usec */
        uint64_t last_reload;
        bool last_reload_ok;
        StrList last_reload_errors;
        int lock_fd;
        bool evaluating;
        bool test_mode;           /* manager_start_test(): no check ever runs, also after a reload */
        SourceHost sources;       /* what the event sources are handed (detect/sources.h) */
        void **source_state;      /* one per entry of sources.c */
        struct Rebooter *rebooter;
        EventLog disruptions;     /* realtime usec of each disruptive remedy (persisted) */
} Manager;

/* coord_ops: NULL for the backend the configuration names; the test runner passes its own. */
int manager_new(sd_event *e, const char *config_path, Config *config, bool force_dry_run,
                const CoordinatorOps *coord_ops, Manager **ret);
Manager *manager_free(Manager *m);
int manager_start(Manager *m, StrList *errors);
/* `medicd --test`: the start of manager_start() (state, the Lua files of paths, the reboot's
 * record, the permission) without what touches the machine: no check runs, no event source,
 * no control socket, no tick timer, no metrics. The runner drives manager_tick() and
 * manager_inject_result() on its virtual clock. */
int manager_start_test(Manager *m, char *const *paths, size_t n_paths, StrList *errors);
/* What the daemon does every second: evaluate, reconcile the permission, status, metrics. */
void manager_tick(Manager *m);
/* A result of check `check` (CHECK_* state), as a run of it would report it: through the
 * daemon's own result handler, then the rule engine. -ENOENT when no check has that name. */
int manager_inject_result(Manager *m, const char *check, int state, const char *message, const char *details);
/* Reloads config and every Lua file; on any error keeps everything as it was. */
int manager_reload(Manager *m, StrList *errors);
void manager_stop(Manager *m);

bool manager_dry_run(const Manager *m);
CheckRunner *manager_find_runner(Manager *m, const char *name);
/* Writes the state if something durable changed: at once when the last write is a second
 * old, else once at the end of that second (a burst of changes is one write). Without an
 * event loop (medicd --test) at once. */
void manager_save(Manager *m);
/* Writes it now, when something must be durable before what comes next. */
void manager_save_now(Manager *m);
/* An event happened (a link changed, a kernel message arrived, …): every check that lists
 * it in its `events` runs now. */
void manager_trigger(Manager *m, const char *event);
/* Runs the rule engine now: every rule. */
void manager_evaluate(Manager *m);
/* One-line summary for STATUS= and `medicctl status`. */
char *manager_summary(Manager *m);

/* rule.c */
/* A rule's trigger as rule_armed() found it. */
typedef struct Armed {
        bool armed;
        uint64_t since;          /* realtime usec: the episode it belongs to */
        uint64_t held_for;       /* usec, on the boot clock when known */
        bool fresh;              /* observed by a run of its check in this process */
        char *why;
} Armed;
/* Whether the rule's trigger holds now (ret is filled in either way; armed_done() frees it). */
bool rule_armed(Manager *m, const RuleDecl *d, RuleState *s, uint64_t now, Armed *ret);
void armed_done(Armed *a);
/* Gathers the rule's inputs and calls decide(): the daemon and `medicctl explain` both use
 * it. acting: a re-decision of an action already begun under the held permission. */
Verdict rule_decide(Manager *m, const RuleDecl *d, RuleState *s, uint64_t now, bool acting,
                    struct json_object *steps, char **ret_reason);
/* After a wait inside a disruptive remedy: NULL when it may go on, or why not. */
char *rule_recheck(Manager *m, const char *rule);
/* Stops the rule's running remedy, if any (reload, shutdown): no outcome is recorded. */
void rule_remedy_cancel(RuleState *s);
/* How long the rule has wanted to act and been held back (0: it is not). */
uint64_t rule_waiting_for(const RuleState *s, uint64_t now);
/* Evaluates every rule and acts on the verdicts. */
void rules_run(Manager *m);
/* Decides the rules of deps (those a condition's result concerns) and acts on the verdicts. */
void rules_run_some(Manager *m, const RuleDeps *deps);


/* state.c */
int state_load(Manager *m);
int state_save(Manager *m);

