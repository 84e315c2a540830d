/* SPDX-License-Identifier: MIT */
/* Task directories (pre-reboot.d, post-reboot.d, drain.d, …): the executables of a directory
 * in lexical order, one after the other, each with a timeout; the first failure stops it
 * (tasks_run), or is reported after all the others ran (tasks_run_all: undoing steps). */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "killpoint.h"
#include "exec.h"
#include "log.h"
#include "permission.h"
#include "reboot.h"
#include "trust.h"

struct TaskRun {
        const ActHost *host;
        sd_event *event;
        char *rule;
        StrList files;
        size_t next;
        uint64_t timeout;
        StrList env;
        Exec *exec;
        void (*done)(bool ok, const char *detail, void *ud);
        void *userdata;
        sd_event_source *defer;
        bool ok;
        char *detail;
        bool keep_going;        /* run every task; report the first failure at the end */
        char *failed;           /* that first failure */
        bool need_permission;   /* tasks_require_permission() */
};

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void run_next(TaskRun *t);

static void finish(TaskRun *t, bool ok, const char *detail) {
        void (*done)(bool, const char *, void *) = t->done;
        void *ud = t->userdata;
        _cleanup_free_ char *copy = strdup_or_null(detail);

        tasks_cancel(t);
        done(ok, copy, ud);
}

static void on_task_done(const ExecResult *r, void *userdata) {
        TaskRun *t = userdata;
        const char *path = t->files.v[t->next - 1];
        _cleanup_free_ char *desc = exec_result_describe(r, t->timeout);

        t->exec = NULL;
        KILLPOINT_AT("task-exited", path);
        if (!(r->exited && r->exit_status == 0)) {
                size_t n = strcspn(r->err, "\n");
                _cleanup_free_ char *why = strprintf("%s %s%s%.*s", path, desc ? desc : "failed",
                                                     n ? ": " : "", (int) (n > 200 ? 200 : n), r->err);
                log_warning("Task %s", why ? why : path);
                if (!t->keep_going)
                        return finish(t, false, why);
                if (!t->failed)
                        t->failed = TAKE_PTR(why);
        } else
                log_info("Task %s done", path);
        run_next(t);
}

static void run_next(TaskRun *t) {
        if (t->next >= t->files.n) {
                if (t->failed) {
                        _cleanup_free_ char *f = TAKE_PTR(t->failed);
                        return finish(t, false, f);
                }
                _cleanup_free_ char *d = strprintf("%zu task%s done", t->files.n, t->files.n == 1 ? "" : "s");
                return finish(t, true, d);
        }
        const char *path = t->files.v[t->next++];
        char *argv[] = { (char *) path, NULL };
        if (t->need_permission && permission_verify(t->host->perm) == COORD_NOT_HELD) {
                _cleanup_free_ char *why = strprintf("%s not started: %s", path, permission_revoked(t->host->perm) ?: "");
                log_warning("Task %s", why ? why : path);
                return finish(t, false, why);
        }
        if (t->host->record) {
                _cleanup_free_ char *what = strprintf("task %s", path);
                if (t->host->record(t->host->record_data, t->rule, what ? what : path))
                        return run_next(t);
                _cleanup_free_ char *why = strprintf("%s failed as the test says", path);
                if (!t->keep_going)
                        return finish(t, false, why);
                if (!t->failed)
                        t->failed = TAKE_PTR(why);
                return run_next(t);
        }
        ExecOptions o = { .timeout_usec = t->timeout, .env = t->env.v };
        log_info("Running task %s", path);
        KILLPOINT_AT("task-start", path);
        int r = exec_start(t->event, argv, &o, on_task_done, t, &t->exec);
        if (r >= 0)
                KILLPOINT_AT("task-started", path);
        if (r < 0) {
                _cleanup_free_ char *why = strprintf("%s: cannot start: %s", path, strerror(-r));
                if (!t->keep_going)
                        return finish(t, false, why);
                log_warning("Task %s", why ? why : path);
                if (!t->failed)
                        t->failed = TAKE_PTR(why);
                run_next(t);
        }
}

static int on_defer(sd_event_source *s, void *userdata) {
        TaskRun *t = userdata;
        t->defer = sd_event_source_disable_unref(t->defer);
        if (!t->ok)
                return finish(t, false, t->detail), 0;
        run_next(t);
        return 0;
}

static int tasks_start(const ActHost *h, const char *rule, const char *dir, char **env, bool keep_going,
                       void (*done)(bool ok, const char *detail, void *ud), void *userdata, TaskRun **ret) {
        TaskRun *t = calloc(1, sizeof(*t));
        sd_event *e = h->event;
        bool verify = h->config->verify_owner;
        DIR *d;

        if (!t)
                return -ENOMEM;
        t->host = h;
        t->event = e;
        t->rule = strdup_or_null(rule);
        t->keep_going = keep_going;
        t->timeout = h->config->task_timeout;
        t->done = done;
        t->userdata = userdata;
        t->ok = true;
        for (char **p = env; p && *p; p++)
                strlist_add(&t->env, *p);
        d = opendir(dir);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        _cleanup_free_ char *path = NULL, *why = NULL;
                        struct stat st;
                        if (de->d_name[0] == '.')
                                continue;
                        path = strprintf("%s/%s", dir, de->d_name);
                        if (!path || stat(path, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR))
                                continue; /* like run-parts: only executables */
                        if (verify && trust_verify_file(path, &why) < 0) {
                                /* A task nobody may trust fails the whole run. */
                                t->ok = false;
                                free(t->detail);
                                t->detail = strprintf("%s: refusing: %s", path, why ? why : "untrusted");
                        }
                        strlist_add(&t->files, path);
                }
                closedir(d);
                if (t->files.n > 0) /* qsort() of NULL, 0 is undefined (UBSan stopped medicd here) */
                        qsort(t->files.v, t->files.n, sizeof(char *), cmp_str);
        } else if (errno != ENOENT)
                log_warning_errno(errno, "Cannot read task directory %s, treating it as empty: %m", dir);
        /* Start from the loop: the callback never comes from inside tasks_run(). */
        int r = sd_event_add_defer(e, &t->defer, on_defer, t);
        if (r < 0) {
                t->done = NULL;
                tasks_cancel(t);
                return r;
        }
        if (ret)
                *ret = t;
        return 0;
}

int tasks_run(const ActHost *h, const char *rule, const char *dir, char **env,
              void (*done)(bool ok, const char *detail, void *ud), void *userdata, TaskRun **ret) {
        return tasks_start(h, rule, dir, env, false, done, userdata, ret);
}

int tasks_run_all(const ActHost *h, const char *rule, const char *dir, char **env,
                  void (*done)(bool ok, const char *detail, void *ud), void *userdata, TaskRun **ret) {
        return tasks_start(h, rule, dir, env, true, done, userdata, ret);
}

void tasks_require_permission(TaskRun *t) {
        if (t)
                t->need_permission = true;
}

void tasks_cancel(TaskRun *t) {
        if (!t)
                return;
        if (t->exec)
                exec_cancel(t->exec);
        sd_event_source_disable_unref(t->defer);
        strlist_clear(&t->files);
        strlist_clear(&t->env);
        free(t->rule);
        free(t->detail);
        free(t->failed);
        free(t);
}
