/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-c/json.h>

#include "act.h"

/* The reboot remedy: pre-reboot tasks, a durable intent, then a ladder of methods (systemd
 * over D-Bus, sysrq, hardware watchdog), each with a deadline before the next. After the boot:
 * post-reboot tasks and a health gate before the permission is given back. A reboot abandoned
 * after its pre-reboot tasks started runs the abort tasks (abort_dir). */
typedef struct Rebooter Rebooter;

/* Called when a reboot did not happen: the tasks failed (permission given back) or the
 * ladder ran out (permission kept: the node is in an unknown state). */
typedef void (*reboot_failed_t)(const char *rule, const char *condition, const char *reason, void *userdata);
/* Asked after the pre-reboot tasks, before any method is tried: NULL when the reboot may
 * still go on, or why not (malloc'ed). Then the abort tasks run and the permission goes back. */
typedef char *(*reboot_recheck_t)(const char *rule, void *userdata);

/* Looks at the recorded intent: a new boot id starts the post-reboot phase, the same boot id
 * (medicd restarted in the middle) resumes the ladder. */
int rebooter_new(ActHost *h, Rebooter **ret);
Rebooter *rebooter_free(Rebooter *r);

int rebooter_start(Rebooter *r, const RuleDecl *d, const char *condition, reboot_failed_t failed,
                   reboot_recheck_t recheck, void *userdata);
/* Stops what runs (tasks, timers) without releasing anything: used at shutdown. */
void rebooter_cancel(Rebooter *r);
/* Called by the manager after every evaluation: drives the post-reboot health gate. */
void rebooter_tick(Rebooter *r);
struct json_object *rebooter_status(Rebooter *r);
bool rebooter_busy(const Rebooter *r);
/* The rule whose reboot the node came back sick from (settling, escalated), else NULL;
 * ret_why (may be NULL) gets why. */
const char *rebooter_sick(const Rebooter *r, const char **ret_why);
/* An operator fixed a stuck node (medicctl unpark): forget the failed reboot. */
void rebooter_clear(Rebooter *r);

/* Runs the executables of dir in lexical order for rule, each with h's task_timeout (owners
 * verified when h's verify_owner is set; only recorded when h->record is); done(ok, detail). */
typedef struct TaskRun TaskRun;
int tasks_run(const ActHost *h, const char *rule, const char *dir, char **env,
              void (*done)(bool ok, const char *detail, void *ud),
              void *userdata, TaskRun **ret);
/* The same, but a failing task does not stop the others (undoing steps: the abort tasks);
 * done reports the first failure after the last task. */
int tasks_run_all(const ActHost *h, const char *rule, const char *dir, char **env,
                  void (*done)(bool ok, const char *detail, void *ud), void *userdata, TaskRun **ret);
void tasks_cancel(TaskRun *t);
/* Each task of t (the tasks before a disruption) starts only while the coordinator still shows
 * the node as holder of the permission (permission_verify()): once it is taken back the run
 * stops, done(false, …) with permission_revoked() set. Called right after tasks_run() (the
 * first task starts from the event loop). */
void tasks_require_permission(TaskRun *t);
