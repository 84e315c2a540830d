/* SPDX-License-Identifier: MIT */
/* The reboot ladder and what comes after the boot. The intent is recorded durably before
 * any method is tried, so that medicd, after the boot (or after being killed half-way),
 * knows what it was doing: a new boot id means the reboot happened, the same one means it
 * has not happened yet. */
#include <fcntl.h>
#include <linux/watchdog.h>
#include <lua.h>
#include <string.h>
#include <sys/ioctl.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "killpoint.h"
#include "duration.h"
#include "log.h"
#include "permission.h"
#include "reboot.h"
#include "settle.h"

#ifdef MEDIC_TEST_HOOKS
/* The hooked test build: MEDIC_TEST_SYSRQ_PAUSE_MS shortens the pause between the keys. */
#define SYSRQ_PAUSE (killpoint_env_ms("MEDIC_TEST_SYSRQ_PAUSE_MS") ? \
                     killpoint_env_ms("MEDIC_TEST_SYSRQ_PAUSE_MS") * USEC_PER_MSEC : 2 * USEC_PER_SEC)
#else
#define SYSRQ_PAUSE (2 * USEC_PER_SEC)
#endif
#define SYSRQ_NEEDED (16 | 32 | 128) /* sync, remount read-only, reboot */

typedef enum Phase {
        PHASE_IDLE,
        PHASE_PRE,       /* pre-reboot tasks */
        PHASE_LADDER,    /* trying methods */
        PHASE_STUCK,     /* every method tried, still the same boot */
        PHASE_POST,      /* post-reboot tasks */
        PHASE_SETTLING,  /* waiting for health to hold for the settle time */
        PHASE_ABORTING,  /* abandoned after the pre-reboot tasks started: the abort tasks run */
        _PHASE_MAX,
} Phase;

static const char *const phase_names[_PHASE_MAX] = {
        [PHASE_IDLE] = "idle", [PHASE_PRE] = "pre-reboot", [PHASE_LADDER] = "rebooting", [PHASE_STUCK] = "stuck",
        [PHASE_POST] = "post-reboot", [PHASE_SETTLING] = "settling", [PHASE_ABORTING] = "aborting",
};

struct Rebooter {
        ActHost *h;
        Phase phase;
        char *rule, *condition, *boot_id;
        uint64_t intent_time;          /* realtime usec */
        size_t method;                 /* index into methods */
        StrList methods;               /* the ladder: the rule's own, or the node's */
        sd_event_source *deadline, *sysrq_timer;
        int sysrq_step;
        int watchdog_fd;
        sd_bus *bus;
        sd_bus_slot *slot;
        TaskRun *tasks;
        reboot_failed_t failed;
        reboot_recheck_t recheck;
        void *userdata;
        char *abort_why;
        SettleState settle;            /* the health gate after the boot */
};

static char *intent_path(Rebooter *r) {
        return strprintf("%s/reboot-intent.json", r->h->config->state_dir);
}

static char *read_boot_id(Rebooter *r) {
        return boot_id_read(r->h->config->boot_id_file);
}

static int intent_save(Rebooter *r) {
        _cleanup_free_ char *path = intent_path(r);
        struct json_object *o = json_object_new_object();
        const StrList *methods = &r->methods;
        int k;

        json_object_object_add(o, "boot_id", json_object_new_string(r->boot_id ? r->boot_id : ""));
        json_object_object_add(o, "time", json_object_new_int64((int64_t) (r->intent_time / USEC_PER_SEC)));
        json_object_object_add(o, "rule", json_object_new_string(r->rule));
        json_object_object_add(o, "condition", r->condition ? json_object_new_string(r->condition) : NULL);
        json_object_object_add(o, "phase", json_object_new_string(phase_names[r->phase]));
        json_object_object_add(o, "method", r->method < methods->n ? json_object_new_string(methods->v[r->method]) : NULL);
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        k = write_file_atomic(path, text, strlen(text), 0600);
        json_object_put(o);
        if (k < 0)
                log_error_errno(k, "Cannot record the reboot intent in %s: %m", path);
        return k;
}

static void intent_remove(Rebooter *r) {
        _cleanup_free_ char *path = intent_path(r);
        if (path && unlink(path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Cannot remove %s: %m", path);
}

static struct json_object *intent_load(Rebooter *r) {
        _cleanup_free_ char *path = intent_path(r), *buf = NULL;
        size_t size;
        struct json_object *o;

        if (!path || read_file(path, 64 * 1024, &buf, &size) < 0)
                return NULL;
        o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object)) {
                log_error("%s is not valid JSON; ignoring the recorded reboot intent", path);
                json_object_put(o);
                return NULL;
        }
        return o;
}

static const char *jstr(struct json_object *o, const char *k) {
        struct json_object *v;
        return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void stop_work(Rebooter *r) {
        r->deadline = sd_event_source_disable_unref(r->deadline);
        r->sysrq_timer = sd_event_source_disable_unref(r->sysrq_timer);
        r->slot = sd_bus_slot_unref(r->slot);
        r->bus = sd_bus_flush_close_unref(r->bus);
        tasks_cancel(r->tasks);
        r->tasks = NULL;
}

static void set_job(Rebooter *r, const char *rule, const char *condition) {
        const RuleDecl *d = luaset_find_rule(r->h->set, rule);
        const StrList *methods = d && d->remedy.methods.n > 0 ? &d->remedy.methods : &r->h->config->reboot_methods;

        free(r->rule);
        free(r->condition);
        r->rule = strdup(rule);
        r->condition = strdup_or_null(condition);
        strlist_clear(&r->methods);
        for (size_t i = 0; i < methods->n; i++)
                strlist_add(&r->methods, methods->v[i]);
}

/* ---- the ladder ------------------------------------------------------------------------- */

static void ladder_step(Rebooter *r, size_t i);

static uint64_t method_deadline(Rebooter *r, const char *method) {
        const Config *c = r->h->config;
        return strcmp(method, "systemd") == 0 ? c->systemd_deadline
             : strcmp(method, "sysrq") == 0 ? c->sysrq_deadline : c->watchdog_deadline;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Rebooter *r = userdata;
        const char *method = r->methods.v[r->method];
        char buf[32];

        r->deadline = sd_event_source_disable_unref(r->deadline);
        KILLPOINT_AT("ladder-deadline", method);
        /* A logind call still unanswered belongs to the systemd step, which is over: its late
         * answer (sd-bus times out after 25 s) must not be taken for a failure of the next
         * method. A sysrq sequence that outlives its deadline goes on (s, u, b). */
        r->slot = sd_bus_slot_unref(r->slot);
        r->bus = sd_bus_flush_close_unref(r->bus);
        log_event(LOG_WARNING, MEDIC_MSG_REBOOT_METHOD,
                  LOG_FIELDS({ "MEDIC_RULE", r->rule }, { "MEDIC_REMEDY", method }, { "MEDIC_DECISION", "next-method" }),
                  "The %s reboot did not happen within %s; trying the next method", method,
                  duration_format(method_deadline(r, method), buf, sizeof buf));
        ladder_step(r, r->method + 1);
        return 0;
}

/* The method could not even be tried: go on at once. */
static void method_failed(Rebooter *r, const char *why) {
        const char *method = r->methods.v[r->method];
        log_event(LOG_ERR, MEDIC_MSG_REBOOT_METHOD,
                  LOG_FIELDS({ "MEDIC_RULE", r->rule }, { "MEDIC_REMEDY", method }, { "MEDIC_REASON", why }),
                  "The %s reboot failed: %s; trying the next method", method, why);
        stop_work(r);
        ladder_step(r, r->method + 1);
}

static int on_logind_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Rebooter *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        r->slot = sd_bus_slot_unref(r->slot);
        if (e) {
                _cleanup_free_ char *why = strprintf("logind refused: %s", e->message ? e->message : e->name);
                method_failed(r, why);
        } else
                log_info("logind accepted the reboot; waiting for it");
        return 0;
}

static int try_systemd(Rebooter *r) {
        int k = sd_bus_open_system(&r->bus);
        if (k >= 0)
                k = sd_bus_attach_event(r->bus, r->h->event, SD_EVENT_PRIORITY_NORMAL);
        if (k >= 0)
                k = sd_bus_call_method_async(r->bus, &r->slot, "org.freedesktop.login1", "/org/freedesktop/login1",
                                             "org.freedesktop.login1.Manager", "Reboot", on_logind_reply, r, "b", 0);
        return k;
}

static int sysrq_write(Rebooter *r, const char *path, const char *what) {
        /* O_NONBLOCK: a FIFO without a reader (tests) must fail, not hang the loop. O_APPEND
         * makes no difference to procfs and keeps every key in a test file. */
        int fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_NOCTTY), k = 0;
        if (fd < 0)
                return -errno;
        if (write(fd, what, strlen(what)) < 0)
                k = -errno;
        close(fd);
        return k;
}

static int on_sysrq_step(sd_event_source *s, uint64_t usec, void *userdata) {
        Rebooter *r = userdata;
        static const char keys[] = { 's', 'u', 'b' };
        char key[2] = { keys[r->sysrq_step], 0 };
        int k;

        r->sysrq_timer = sd_event_source_disable_unref(r->sysrq_timer);
        KILLPOINT_AT("sysrq-before", key);
        k = sysrq_write(r, r->h->config->sysrq_trigger, key);
        if (k < 0) {
                _cleanup_free_ char *why = strprintf("cannot write '%s' to %s: %s", key, r->h->config->sysrq_trigger, strerror(-k));
                if (r->phase == PHASE_LADDER && r->method < r->methods.n && strcmp(r->methods.v[r->method], "sysrq") == 0)
                        method_failed(r, why);
                else /* its deadline passed already: the ladder is on the next method */
                        log_warning("sysrq: %s", why);
                return 0;
        }
        KILLPOINT_AT("sysrq-after", key);
        log_notice("sysrq: wrote '%s' (%s)", key, key[0] == 's' ? "sync" : key[0] == 'u' ? "remount read-only" : "reboot");
        if (++r->sysrq_step < (int) sizeof keys)
                (void) sd_event_add_time_relative(r->h->event, &r->sysrq_timer, CLOCK_MONOTONIC, SYSRQ_PAUSE,
                                                  USEC_PER_MSEC, on_sysrq_step, r);
        return 0;
}

static int try_sysrq(Rebooter *r) {
        const Config *c = r->h->config;
        _cleanup_free_ char *buf = NULL;
        size_t size;
        long v = 0;

        /* Enable the functions we need when the kernel restricts them. */
        if (read_file(c->sysrq_enable, 64, &buf, &size) >= 0)
                v = strtol(buf, NULL, 10);
        if (v != 1 && (v & SYSRQ_NEEDED) != SYSRQ_NEEDED) {
                int k = sysrq_write(r, c->sysrq_enable, "1\n");
                if (k < 0)
                        log_warning_errno(k, "Cannot enable sysrq in %s: %m; trying anyway", c->sysrq_enable);
                else {
                        log_notice("Enabled sysrq (was %ld)", v);
                        KILLPOINT("sysrq-enabled");
                }
        }
        r->sysrq_step = 0;
        return sd_event_add_time_relative(r->h->event, &r->sysrq_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_sysrq_step, r);
}

static int try_watchdog(Rebooter *r) {
        const Config *c = r->h->config;
        int secs = (int) (c->watchdog_timeout / USEC_PER_SEC);

        KILLPOINT("watchdog-before");
        if (r->watchdog_fd < 0) {
                r->watchdog_fd = open(c->watchdog_device, O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (r->watchdog_fd < 0) {
                        int e = errno;
                        if (e == EBUSY)
                                log_error("%s is busy: systemd owns it when RuntimeWatchdogSec= or "
                                          "RebootWatchdogSec= is set in system.conf (or another daemon does)",
                                          c->watchdog_device);
                        return -e;
                }
        }
        if (ioctl(r->watchdog_fd, WDIOC_SETTIMEOUT, &secs) < 0)
                log_warning_errno(errno, "Cannot set the timeout of %s to %ds, relying on its current one: %m",
                                  c->watchdog_device, secs);
        /* One last pet, then never again: the device resets the machine when its timeout expires.
         * The descriptor stays open (closing it could disarm a device without nowayout). */
        if (write(r->watchdog_fd, "\0", 1) < 0)
                log_warning_errno(errno, "Cannot write to %s: %m", c->watchdog_device);
        log_notice("Stopped petting %s (timeout %ds)", c->watchdog_device, secs);
        KILLPOINT("watchdog-after");
        return 0;
}

static void ladder_step(Rebooter *r, size_t i) {
        const StrList *methods = &r->methods;
        char buf[32];
        int k;

        r->method = i;
        if (i >= methods->n) {
                r->phase = PHASE_STUCK;
                (void) intent_save(r);
                _cleanup_free_ char *why = strprintf("the node did not reboot: every method was tried (%s)",
                                                     methods->n ? "see the log" : "none configured");
                log_event(LOG_CRIT, MEDIC_MSG_REBOOT_STUCK, LOG_FIELDS({ "MEDIC_RULE", r->rule }, { "MEDIC_REASON", why }),
                          "Reboot for rule %s failed: %s; keeping the permission, the node needs an operator",
                          r->rule, why);
                journal_escalate(r->h->journal, "reboot-stuck", r->rule, why);
                if (r->failed)
                        r->failed(r->rule, r->condition, why, r->userdata);
                return;
        }
        const char *method = methods->v[i];
        (void) intent_save(r);
        KILLPOINT_AT("ladder-step", method);
        if (r->h->record) {
                /* Record only: the machine would go down here; the reboot stays in progress. */
                (void) r->h->record(r->h->record_data, r->rule, "reboot");
                return;
        }
        log_event(LOG_NOTICE, MEDIC_MSG_REBOOT_METHOD,
                  LOG_FIELDS({ "MEDIC_RULE", r->rule }, { "MEDIC_REMEDY", method }, { "MEDIC_DECISION", "reboot" }),
                  "Rebooting the node by %s for rule %s (next method after %s)", method, r->rule,
                  duration_format(method_deadline(r, method), buf, sizeof buf));
        k = strcmp(method, "systemd") == 0 ? try_systemd(r) : strcmp(method, "sysrq") == 0 ? try_sysrq(r) : try_watchdog(r);
        if (k < 0) {
                _cleanup_free_ char *why = strprintf("%s", strerror(-k));
                return method_failed(r, why);
        }
        (void) sd_event_add_time_relative(r->h->event, &r->deadline, CLOCK_MONOTONIC, method_deadline(r, method),
                                          USEC_PER_SEC / 10, on_deadline, r);
}

static char **task_env(Rebooter *r, StrList *l);

static void on_abort_tasks(bool ok, const char *detail, void *userdata) {
        Rebooter *r = userdata;
        _cleanup_free_ char *why = r->abort_why;

        r->tasks = NULL;
        r->abort_why = NULL;
        KILLPOINT("abort-tasks-done");
        if (!ok) {
                _cleanup_free_ char *msg = strprintf("an abort task failed: %s", detail ? detail : "?");
                log_event(LOG_ERR, MEDIC_MSG_REBOOT_ABORTED, LOG_FIELDS({ "MEDIC_RULE", r->rule }, { "MEDIC_REASON", msg }),
                          "Reboot for rule %s: %s; the node may be left as the pre-reboot tasks left it", r->rule, msg);
                journal_escalate(r->h->journal, "abort-failed", r->rule, msg);
        }
        r->phase = PHASE_IDLE;
        intent_remove(r);
        KILLPOINT("abort-intent-removed");
        (void) permission_release(r->h->perm, r->rule, why ? why : "the reboot was abandoned");
        if (r->failed)
                r->failed(r->rule, r->condition, why ? why : "the reboot was abandoned", r->userdata);
        act_save(r->h);
}

/* The reboot is abandoned after its pre-reboot tasks started: the abort tasks undo what they
 * did, then the permission goes back. Recorded first, so that a medicd killed meanwhile runs
 * them again at its start. */
static void abandon(Rebooter *r, const char *why) {
        StrList env = {};
        int k;

        log_event(LOG_WARNING, MEDIC_MSG_REBOOT_ABORTED, LOG_FIELDS({ "MEDIC_RULE", r->rule }, { "MEDIC_REASON", why },
                                                                     { "MEDIC_DECISION", "abandon" }),
                  "Reboot for rule %s aborted: %s; running the abort tasks of %s", r->rule, why,
                  r->h->config->abort_dir);
        journal_note(r->h->journal, "reboot", r->rule, r->condition, "abandoned", why);
        stop_work(r);
        r->phase = PHASE_ABORTING;
        (void) intent_save(r);
        KILLPOINT("abandon-recorded");
        free(r->abort_why);
        r->abort_why = strdup_or_null(why);
        k = tasks_run_all(r->h, r->rule, r->h->config->abort_dir, task_env(r, &env), on_abort_tasks, r, &r->tasks);
        strlist_clear(&env);
        if (k < 0)
                on_abort_tasks(false, "cannot run the abort tasks", r);
}

static void on_pre_tasks(bool ok, const char *detail, void *userdata) {
        Rebooter *r = userdata;
        _cleanup_free_ char *changed = NULL;

        r->tasks = NULL;
        KILLPOINT("pre-tasks-done");
        if (!ok && permission_revoked(r->h->perm)) {
                /* Taken back while the tasks ran (an operator's release): not a task's fault. */
                _cleanup_free_ char *why = strdup(permission_revoked(r->h->perm));
                return abandon(r, why ? why : "the coordinator no longer shows this node as holder");
        }
        if (!ok) {
                _cleanup_free_ char *why = strprintf("a pre-reboot task failed: %s", detail ? detail : "?");
                journal_escalate(r->h->journal, "reboot-aborted", r->rule, why);
                return abandon(r, why);
        }
        /* The tasks took their time: decided again, on what this process observes now. */
        changed = r->recheck ? r->recheck(r->rule, r->userdata) : NULL;
        if (changed) {
                _cleanup_free_ char *why = strprintf("no longer wanted after the pre-reboot tasks: %s", changed);
                return abandon(r, why);
        }
        free(r->boot_id);
        r->boot_id = read_boot_id(r);
        r->intent_time = now_realtime();
        r->phase = PHASE_LADDER;
        /* Durably, before anything is tried. */
        if (intent_save(r) < 0)
                return abandon(r, "cannot record the reboot intent");
        KILLPOINT("intent-rebooting");
        ladder_step(r, 0);
}

static char **task_env(Rebooter *r, StrList *l) {
        strlist_addf(l, "MEDIC_NODE=%s", r->h->config->node);
        strlist_addf(l, "MEDIC_GROUP=%s", r->h->config->group);
        strlist_addf(l, "MEDIC_RULE=%s", r->rule);
        if (r->condition)
                strlist_addf(l, "MEDIC_CONDITION=%s", r->condition);
        return l->v;
}

int rebooter_start(Rebooter *r, const RuleDecl *d, const char *condition, reboot_failed_t failed,
                   reboot_recheck_t recheck, void *userdata) {
        StrList env = {};
        int k;

        if (r->phase != PHASE_IDLE)
                return -EBUSY;
        set_job(r, d->name, condition);
        r->failed = failed;
        r->recheck = recheck;
        r->userdata = userdata;
        r->phase = PHASE_PRE;
        r->method = r->methods.n; /* none yet */
        free(r->boot_id);
        r->boot_id = read_boot_id(r);
        r->intent_time = now_realtime();
        /* Recorded before the pre-reboot tasks: a medicd that is killed while they run must
         * find out after its restart that it holds the permission for this reboot. */
        k = intent_save(r);
        if (k < 0) {
                r->phase = PHASE_IDLE;
                return k;
        }
        KILLPOINT("intent-pre-reboot");
        log_event(LOG_NOTICE, MEDIC_MSG_REBOOT_STARTED,
                  LOG_FIELDS({ "MEDIC_RULE", d->name }, { "MEDIC_CONDITION", condition }, { "MEDIC_DECISION", "reboot" }),
                  "Rule %s reboots the node: running the pre-reboot tasks of %s", d->name, r->h->config->pre_reboot_dir);
        k = tasks_run(r->h, r->rule, r->h->config->pre_reboot_dir, task_env(r, &env), on_pre_tasks, r, &r->tasks);
        strlist_clear(&env);
        if (k >= 0)
                tasks_require_permission(r->tasks);
        if (k < 0) {
                r->phase = PHASE_IDLE;
                r->failed = NULL;
                r->recheck = NULL;
                intent_remove(r);
        }
        return k;
}

/* ---- after the boot ------------------------------------------------------------------------ */

static void on_post_tasks(bool ok, const char *detail, void *userdata) {
        Rebooter *r = userdata;

        r->tasks = NULL;
        if (!ok) {
                _cleanup_free_ char *why = strprintf("a post-reboot task failed: %s", detail ? detail : "?");
                log_event(LOG_ERR, MEDIC_MSG_CAME_BACK_SICK, LOG_FIELDS({ "MEDIC_RULE", r->rule }, { "MEDIC_REASON", why }),
                          "%s; keeping the permission", why);
                journal_escalate(r->h->journal, "came-back-sick", r->rule, why);
                r->phase = PHASE_SETTLING;
                settle_begin(&r->settle);
                settle_sick(&r->settle, why);
        } else {
                r->phase = PHASE_SETTLING;
                settle_begin(&r->settle);
        }
        (void) intent_save(r);
        KILLPOINT("post-tasks-done");
}

void rebooter_tick(Rebooter *r) {
        const Config *c = r->h->config;
        char buf[32];

        if (r->phase != PHASE_SETTLING ||
            !settle_tick(r->h, &r->settle, r->rule, "the reboot", c->settle, c->settle_timeout))
                return;
        log_event(LOG_NOTICE, MEDIC_MSG_REBOOT_DONE, LOG_FIELDS({ "MEDIC_RULE", r->rule }, { "MEDIC_DECISION", "release" }),
                  "Reboot for rule %s done: healthy for %s; giving the permission back", r->rule,
                  duration_format(r->h->config->settle, buf, sizeof buf));
        journal_note(r->h->journal, "reboot", r->rule, r->condition, "done", "healthy after the reboot; permission released");
        KILLPOINT("reboot-settled");
        intent_remove(r);
        KILLPOINT("reboot-intent-removed");
        r->phase = PHASE_IDLE;
        (void) permission_release(r->h->perm, r->rule, "healthy after the reboot");
}

int rebooter_new(ActHost *h, Rebooter **ret) {
        Rebooter *r = calloc(1, sizeof(*r));
        struct json_object *intent;

        if (!r)
                return -ENOMEM;
        r->h = h;
        r->watchdog_fd = -1;
        *ret = r;

        intent = intent_load(r);
        if (!intent)
                return 0;
        _cleanup_free_ char *now_id = read_boot_id(r);
        const char *then_id = jstr(intent, "boot_id"), *phase = jstr(intent, "phase"), *rule = jstr(intent, "rule");
        struct json_object *tv;
        set_job(r, rule ? rule : "?", jstr(intent, "condition"));
        r->boot_id = strdup_or_null(then_id);
        r->intent_time = json_object_object_get_ex(intent, "time", &tv) ? (uint64_t) json_object_get_int64(tv) * USEC_PER_SEC : 0;

        if (then_id && now_id && strcmp(then_id, now_id) != 0) {
                if (streq_ptr(phase, "settling")) {
                        /* medicd restarted while settling: settle again from now. */
                        r->phase = PHASE_SETTLING;
                        settle_begin(&r->settle);
                } else {
                        log_event(LOG_NOTICE, MEDIC_MSG_REBOOTED, LOG_FIELDS({ "MEDIC_RULE", r->rule }, { "MEDIC_REMEDY", jstr(intent, "method") }),
                                  "The node came back from the reboot for rule %s (last method tried: %s); "
                                  "running the post-reboot tasks", r->rule, jstr(intent, "method") ?: "?");
                        journal_note(h->journal, "reboot", r->rule, r->condition, "rebooted", jstr(intent, "method"));
                        KILLPOINT("reboot-came-back");
                        r->phase = PHASE_POST;
                        StrList env = {};
                        if (tasks_run(h, r->rule, h->config->post_reboot_dir, task_env(r, &env), on_post_tasks, r,
                                      &r->tasks) < 0)
                                on_post_tasks(false, "cannot run the post-reboot tasks", r);
                        strlist_clear(&env);
                }
                permission_claim(h->perm, r->rule);
        } else if (streq_ptr(phase, "stuck")) {
                permission_claim(h->perm, r->rule);
                r->phase = PHASE_STUCK;
                log_error("The reboot for rule %s failed before medicd stopped; the node still needs an operator "
                          "(medicctl unpark after fixing it)", r->rule);
        } else if (streq_ptr(phase, "pre-reboot") || streq_ptr(phase, "aborting")) {
                /* Same boot, stopped during the pre-reboot (or abort) tasks: nothing was tried
                 * yet, but the tasks may have begun to prepare the node. Undo, give the
                 * permission back; the rule asks again if its trigger still holds. */
                permission_claim(h->perm, r->rule);
                abandon(r, "medicd stopped during the pre-reboot tasks");
                } else if (streq_ptr(phase, "rebooting")) {
                /* Same boot: the reboot has not happened. Go on with the ladder where it was, once. */
                const StrList *methods = &r->methods;
                const char *method = jstr(intent, "method");
                size_t i = 0;
                for (i = 0; method && i < methods->n; i++)
                        if (strcmp(methods->v[i], method) == 0)
                                break;
                permission_claim(h->perm, r->rule);
                log_warning("A reboot for rule %s was in progress when medicd stopped (%s); continuing it", r->rule,
                            method ? method : "before any method");
                r->phase = PHASE_LADDER;
                ladder_step(r, i >= methods->n ? 0 : i);
        }
        json_object_put(intent);
        return 0;
}

void rebooter_cancel(Rebooter *r) {
        if (r)
                stop_work(r);
}

Rebooter *rebooter_free(Rebooter *r) {
        if (!r)
                return NULL;
        stop_work(r);
        if (r->watchdog_fd >= 0)
                close(r->watchdog_fd); /* only at exit: the machine is going down anyway */
        free(r->rule);
        free(r->condition);
        free(r->boot_id);
        free(r->abort_why);
        settle_clear(&r->settle);
        strlist_clear(&r->methods);
        free(r);
        return NULL;
}

bool rebooter_busy(const Rebooter *r) {
        return r && r->phase != PHASE_IDLE;
}

struct json_object *rebooter_status(Rebooter *r) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "phase", json_object_new_string(phase_names[r->phase]));
        if (r->phase != PHASE_IDLE) {
                json_object_object_add(o, "rule", json_object_new_string(r->rule));
                if (r->method < r->methods.n && r->phase == PHASE_LADDER)
                        json_object_object_add(o, "method", json_object_new_string(r->methods.v[r->method]));
                if (r->phase == PHASE_SETTLING)
                        json_object_object_add(o, "healthy_since", r->settle.healthy_bt ?
                                               json_object_new_int64(settle_wall(r->settle.healthy_bt)) : NULL);
                if (rebooter_sick(r, NULL))
                        json_object_object_add(o, "came_back_sick", json_object_new_string(r->settle.sick_why ? r->settle.sick_why : ""));
        }
        return o;
}

const char *rebooter_sick(const Rebooter *r, const char **ret_why) {
        if (!r || r->phase != PHASE_SETTLING || !r->settle.sick_escalated)
                return NULL;
        if (ret_why)
                *ret_why = r->settle.sick_why;
        return r->rule;
}

void rebooter_clear(Rebooter *r) {
        if (r->phase != PHASE_STUCK)
                return;
        intent_remove(r);
        r->phase = PHASE_IDLE;
}
