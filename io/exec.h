/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

/* Running a command for a check or a remedy, without a shell and without blocking.
 *
 * The child is started with clone(CLONE_VM | CLONE_VFORK): nothing of the daemon is copied (no
 * page tables, no copy-on-write faults afterwards), whatever its size.
 * The child: its own process group (setpgid(0,0)), PR_SET_PDEATHSIG(SIGKILL), stdin from
 * /dev/null (or a pipe with opts->input), stdout and stderr to pipes, every other descriptor
 * closed, signal mask and dispositions reset, a clean environment (PATH=/usr/local/sbin:
 * /usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin, LANG=C.UTF-8, plus opts->env), cwd "/".
 * execvp() of argv[0] (a name without '/' is searched in that PATH).
 *
 * The parent: everything through sd-event sources (io for the pipes, a child source, timers).
 * On timeout: SIGTERM to the whole group, SIGKILL to the group after opts->kill_grace.
 * When the direct child exits, any process left in its group is sent SIGTERM and then SIGKILL
 * after the grace period: nothing a command started outlives it. The result is delivered once
 * the child was reaped and both pipes reached EOF (or the group was killed). Output beyond
 * max_output bytes per stream is read and discarded (flag *_truncated). */

typedef struct ExecOptions {
        uint64_t timeout_usec;    /* 0: no timeout */
        uint64_t kill_grace_usec; /* 0: default 2 s */
        size_t max_output;        /* per stream; 0: default 64 KiB */
        const char *input;        /* written to stdin, may be NULL */
        char **env;               /* extra "KEY=VALUE" entries, NULL-terminated, may be NULL */
} ExecOptions;

typedef struct ExecResult {
        int exit_status;          /* valid when exited */
        int term_signal;          /* valid when signaled */
        bool exited, signaled;
        bool timed_out;
        int spawn_errno;          /* non-zero: the command could not be started (exec failed) */
        char *out, *err;          /* NUL-terminated, never NULL */
        size_t out_size, err_size;
        bool out_truncated, err_truncated;
        uint64_t duration_usec;
        int pid;
} ExecResult;

typedef struct Exec Exec;

/* Called once, from the event loop, when the command finished. r is owned by the Exec and
 * valid until the callback returns. The Exec frees itself after the callback. */
typedef void (*exec_done_t)(const ExecResult *r, void *userdata);

/* Starts argv. Returns 0 and (optionally) the handle, or a negative errno (no callback then).
 * If execvp fails in the child, the callback reports spawn_errno and exit status 127. */
int exec_start(sd_event *e, char *const *argv, const ExecOptions *opts,
               exec_done_t done, void *userdata, Exec **ret);

/* Cancels a running command: SIGKILL to its group right away, no callback. Safe with NULL.
 * The child is still reaped by the event loop in the background (no zombie). */
void exec_cancel(Exec *x);

/* Formats a one-line description of how it ended: "exited with status 3", "killed by signal 9",
 * "timed out after 5s", "could not start: No such file or directory". Returns malloc'ed text. */
char *exec_result_describe(const ExecResult *r, uint64_t timeout_usec);
