/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "util.h"

#define EXEC_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_KILL_GRACE_USEC (2 * USEC_PER_SEC)
#define DEFAULT_MAX_OUTPUT ((size_t) 64 * 1024)
/* While waiting for what is left of a process group to disappear we look every GROUP_POLL_USEC.
 * After SIGKILL we wait at most GIVE_UP_USEC for the group to vanish (its zombies are reaped by
 * whoever inherited them, normally PID 1), then deliver the result anyway. */
#define GROUP_POLL_USEC (10 * USEC_PER_MSEC)
#define GIVE_UP_USEC (500 * USEC_PER_MSEC)
#define TIMER_ACCURACY_USEC USEC_PER_MSEC
#define INPUT_CHUNK ((size_t) 64 * 1024)
#define DRAIN_MAX_READS 64

typedef struct Stream {
        int fd;
        sd_event_source *source;
        char *buf;
        size_t size, allocated;
        bool truncated, eof;
} Stream;

struct Exec {
        sd_event *event;
        pid_t pid;
        exec_done_t done;
        void *userdata;

        sd_event_source *child_source, *timeout_source, *kill_source, *poll_source, *input_source;
        Stream out, err;
        int input_fd;
        char *input;
        size_t input_size, input_written;

        uint64_t start_usec, timeout_usec, grace_usec, final_usec;
        size_t max_output;

        bool reaped;     /* the direct child exited (sd-event reaps it after our callback) */
        bool term_sent;  /* SIGTERM went to the group */
        bool final;      /* the grace period ended: SIGKILL went to the group, pipes no longer awaited */
        bool group_gone; /* kill(-pgid, 0) said ESRCH */
        bool give_up;    /* the group did not vanish in time after SIGKILL */
        bool cancelled, finished;

        ExecResult result;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void closep(int *fd) {
        if (*fd >= 0)
                (void) close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static int take_fd(int *fd) {
        int r = *fd;
        *fd = -1;
        return r;
}

static void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static void strv_freep(char ***v) {
        strv_free(*v);
}

static int close_nointr(int fd) {
        return fd >= 0 ? close(fd) : 0;
}

static void stream_close(Stream *st) {
        st->source = sd_event_source_disable_unref(st->source);
        (void) close_nointr(st->fd);
        st->fd = -1;
        st->eof = true;
}

static Exec *exec_free(Exec *x) {
        if (!x)
                return NULL;
        x->child_source = sd_event_source_disable_unref(x->child_source);
        x->timeout_source = sd_event_source_disable_unref(x->timeout_source);
        x->kill_source = sd_event_source_disable_unref(x->kill_source);
        x->poll_source = sd_event_source_disable_unref(x->poll_source);
        x->input_source = sd_event_source_disable_unref(x->input_source);
        stream_close(&x->out);
        stream_close(&x->err);
        (void) close_nointr(x->input_fd);
        free(x->out.buf);
        free(x->err.buf);
        free(x->input);
        sd_event_unref(x->event);
        free(x);
        return NULL;
}

static void exec_freep(Exec **x) {
        exec_free(*x);
}

/* ---- the child, between clone() and execve(): async-signal-safe calls only --------------------- *
 *
 * The child shares the daemon's memory (CLONE_VM) and the daemon waits until it called execve() or
 * _exit() (CLONE_VFORK): nothing of the daemon is copied, so starting a command costs the same
 * whatever the daemon's size. It therefore writes nothing but its own stack and (glibc's) errno,
 * calls no allocator, and runs with every signal blocked until it reset all dispositions: no
 * handler of the daemon ever runs in it. posix_spawn() would do the same but cannot set
 * PR_SET_PDEATHSIG or reset the signals glibc reserves. */

/* Under AddressSanitizer the child's code is not instrumented: on a stack ASan does not know, its
 * frames would poison the shadow of the daemon's own stack (a buffer of spawn_child(), reused by
 * later calls: false "stack-buffer-overflow" reports) and its _exit() would unpoison the wrong
 * stack. The shadow of the child's stack is cleared once it is gone, too. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define CHILD_CODE __attribute__((no_sanitize_address))
#define CHILD_STACK_DONE(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define CHILD_CODE
#define CHILD_STACK_DONE(p, n) ((void) (p), (void) (n))
#endif

typedef struct ChildArgs {
        char *const *argv, *const *envp;
        int fds[3];             /* stdin, stdout, stderr */
        pid_t parent;
        int max_fd;
        volatile int error;     /* set by the child when it cannot exec: the daemon reads it after clone() */
} ChildArgs;

static CHILD_CODE _Noreturn void child_fail(ChildArgs *a, int error) {
        a->error = error;
        _exit(127);
}

static CHILD_CODE _Noreturn void child_run(ChildArgs *a) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        char *const *argv = a->argv, *const *envp = a->envp;
        sigset_t none;
        int fds[3];

        for (int i = 0; i < 3; i++)
                fds[i] = a->fds[i];

        (void) setpgid(0, 0);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                child_fail(a, errno);
        if (getppid() != a->parent) /* the parent is already gone */
                _exit(127);

        (void) sigemptyset(&sa.sa_mask);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sigaction(sig, &sa, NULL) < 0 && sig != SIGKILL && sig != SIGSTOP) {
                        /* glibc refuses its own signals (32, 33); an inherited SIG_IGN on them
                         * would still reach the command, so reset them with the system call. */
                        struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } k = {};
                        (void) syscall(SYS_rt_sigaction, sig, &k, NULL, sizeof(k.mask));
                }
        (void) sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        /* Move everything we keep out of the way of 0..2 first, then put it in place. */
        for (int i = 0; i < 3; i++)
                if (fds[i] < 3) {
                        int n = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                        if (n < 0)
                                child_fail(a, errno);
                        fds[i] = n;
                }
        for (int i = 0; i < 3; i++)
                if (dup2(fds[i], i) < 0)
                        child_fail(a, errno);
        if (close_range(3, ~0U, 0) < 0)
                for (int fd = 3; fd < a->max_fd; fd++)
                        (void) close(fd);

        if (chdir("/") < 0)
                child_fail(a, errno);

        const char *name = argv[0];
        if (name[0] == '\0')
                child_fail(a, ENOENT);
        if (strchr(name, '/')) {
                execve(name, argv, envp);
                child_fail(a, errno);
        }

        /* execvp(): try every directory of the fixed PATH. */
        char path[PATH_MAX];
        size_t nl = strlen(name);
        bool eacces = false;
        for (const char *p = EXEC_PATH;;) {
                const char *colon = strchr(p, ':');
                size_t dl = colon ? (size_t) (colon - p) : strlen(p);

                if (dl + 1 + nl + 1 > sizeof(path))
                        child_fail(a, ENAMETOOLONG);
                memcpy(path, p, dl);
                path[dl] = '/';
                memcpy(path + dl + 1, name, nl + 1);
                execve(path, argv, envp);
                if (errno == EACCES)
                        eacces = true;
                else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
                         errno != ETIMEDOUT)
                        child_fail(a, errno);
                if (!colon)
                        break;
                p = colon + 1;
        }
        child_fail(a, eacces ? EACCES : ENOENT);
}

static CHILD_CODE int child_main(void *userdata) {
        child_run(userdata);
}

/* The child's stack: it only needs child_run()'s frame (a PATH_MAX buffer) and execve()'s. It lives
 * in the caller's frame, which stays put while the child runs (CLONE_VFORK). */
#define CHILD_STACK_SIZE ((size_t) 64 * 1024)

/* Starts the child; returns its pid (or -1 with errno), and in *spawn_errno why it could not
 * exec (0: it did). No pipe is needed for that: the child wrote it into our memory before
 * _exit(), and clone() returns only after the child's execve() or _exit(). */
static pid_t spawn_child(char *const *argv, char *const *envp, const int fds[3], pid_t parent, int max_fd,
                         int *spawn_errno) {
        _Alignas(16) char stack[CHILD_STACK_SIZE];
        ChildArgs a = { .argv = argv, .envp = envp, .parent = parent, .max_fd = max_fd };
        sigset_t all, old;
        pid_t pid;
        int saved;

        memcpy(a.fds, fds, sizeof(a.fds));
        (void) sigfillset(&all);
        if (sigprocmask(SIG_SETMASK, &all, &old) < 0)
                return -1;
        pid = clone(child_main, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
        saved = errno;
        CHILD_STACK_DONE(stack, sizeof(stack));
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        errno = saved;
        *spawn_errno = a.error;
        return pid;
}

/* ---- the parent ------------------------------------------------------------------------------- */

static bool env_same_key(const char *a, const char *b) {
        size_t n = strcspn(a, "=");
        return strncmp(a, b, n) == 0 && b[n] == '=';
}

/* PATH and LANG, then opts->env; a later entry replaces an earlier one with the same key. */
static int build_env(char *const *extra, char ***ret) {
        const char *defaults[] = { "PATH=" EXEC_PATH, "LANG=C.UTF-8" };
        size_t n_extra = 0, n_all, k = 0;

        for (char *const *p = extra; p && *p; p++) {
                if ((*p)[0] == '=' || !strchr(*p, '='))
                        return -EINVAL;
                n_extra++;
        }
        n_all = ELEMENTSOF(defaults) + n_extra;

        _cleanup_(strv_freep) char **v = calloc(n_all + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n_all; i++) {
                const char *s = i < ELEMENTSOF(defaults) ? defaults[i] : extra[i - ELEMENTSOF(defaults)];
                bool replaced = false;

                for (size_t j = i + 1; j < n_all && !replaced; j++)
                        replaced = env_same_key(s, j < ELEMENTSOF(defaults) ? defaults[j]
                                                                            : extra[j - ELEMENTSOF(defaults)]);
                if (replaced)
                        continue;
                v[k] = strdup(s);
                if (!v[k])
                        return -ENOMEM;
                k++;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

/* write() that neither raises nor leaves behind a SIGPIPE when the reader is gone. */
static ssize_t write_nosigpipe(int fd, const void *p, size_t n) {
        sigset_t pipe_set, old, pending;
        bool was_pending;
        ssize_t k;
        int saved;

        (void) sigemptyset(&pipe_set);
        (void) sigaddset(&pipe_set, SIGPIPE);
        (void) sigpending(&pending);
        was_pending = sigismember(&pending, SIGPIPE);
        (void) sigprocmask(SIG_BLOCK, &pipe_set, &old);
        k = write(fd, p, n);
        saved = errno;
        if (k < 0 && saved == EPIPE && !was_pending) {
                struct timespec zero = {};
                (void) sigtimedwait(&pipe_set, NULL, &zero);
        }
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        errno = saved;
        return k;
}

static void signal_group(Exec *x, int sig) {
        if (x->group_gone)
                return;
        if (kill(-x->pid, sig) < 0 && errno == ESRCH) {
                if (x->reaped)
                        x->group_gone = true;
                else
                        (void) kill(x->pid, sig); /* died before it could become a group leader */
        }
}

static int arm_timer(Exec *x, sd_event_source **s, uint64_t usec, sd_event_time_handler_t cb,
                     const char *description) {
        int r;

        if (*s) {
                r = sd_event_source_set_time(*s, usec);
                if (r < 0)
                        return r;
                return sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        }
        r = sd_event_add_time(x->event, s, CLOCK_MONOTONIC, usec, TIMER_ACCURACY_USEC, cb, x);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(*s, description);
        return 0;
}

static bool timer_armed(sd_event_source *s) {
        int enabled;

        return s && sd_event_source_get_enabled(s, &enabled) >= 0 && enabled != SD_EVENT_OFF;
}

/* Reads once. Returns 1 after data, 0 at EOF (or a read error), -EAGAIN when nothing is there. */
static int stream_read(Exec *x, Stream *st) {
        char discard[16384];
        char *p = discard;
        size_t n = sizeof(discard);
        ssize_t k;

        if (st->size < x->max_output) {
                if (st->allocated < st->size + 2) {
                        size_t want = st->allocated * 2;
                        if (want < 4096)
                                want = 4096;
                        if (want > x->max_output + 1)
                                want = x->max_output + 1;
                        char *b = realloc(st->buf, want);
                        if (b) {
                                st->buf = b;
                                st->allocated = want;
                        }
                }
                if (st->allocated >= st->size + 2) {
                        p = st->buf + st->size;
                        n = st->allocated - 1 - st->size;
                }
        }

        k = read(st->fd, p, n);
        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : 0;
        if (k == 0)
                return 0;
        if (p == discard)
                st->truncated = true;
        else
                st->size += (size_t) k;
        return 1;
}

static void finish(Exec *x) {
        Stream *streams[] = { &x->out, &x->err };

        x->finished = true;
        x->timeout_source = sd_event_source_disable_unref(x->timeout_source);
        x->kill_source = sd_event_source_disable_unref(x->kill_source);
        x->poll_source = sd_event_source_disable_unref(x->poll_source);
        x->input_source = sd_event_source_disable_unref(x->input_source);

        for (size_t i = 0; i < ELEMENTSOF(streams); i++) {
                Stream *st = streams[i];

                /* Whatever is still buffered in the pipe is ours; a writer that is still alive
                 * (it escaped the group) does not get to keep us here. */
                for (int j = 0; !st->eof && j < DRAIN_MAX_READS; j++)
                        if (stream_read(x, st) <= 0)
                                break;
                stream_close(st);
                if (!st->buf)
                        st->buf = calloc(1, 1);
                if (st->buf)
                        st->buf[st->size] = '\0';
        }
        x->result.out = x->out.buf ?: (char *) "";
        x->result.out_size = x->out.size;
        x->result.out_truncated = x->out.truncated;
        x->result.err = x->err.buf ?: (char *) "";
        x->result.err_size = x->err.size;
        x->result.err_truncated = x->err.truncated;

        if (x->done)
                x->done(&x->result, x->userdata);
        exec_free(x);
}

static void maybe_finish(Exec *x) {
        if (x->finished || x->cancelled || !x->reaped)
                return;
        if (x->group_gone && x->out.eof && x->err.eof)
                finish(x);
        else if (x->final && (x->group_gone || x->give_up))
                finish(x);
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata);

static int on_kill(sd_event_source *s, uint64_t usec, void *userdata) {
        Exec *x = userdata;

        x->final = true;
        x->final_usec = now_usec();
        signal_group(x, SIGKILL);
        if (x->reaped && arm_timer(x, &x->poll_source, 0, on_poll, "exec-group-poll") < 0)
                x->give_up = true;
        maybe_finish(x);
        return 0;
}

static void arm_kill(Exec *x) {
        if (timer_armed(x->kill_source) || x->final)
                return;
        if (arm_timer(x, &x->kill_source, now_usec() + x->grace_usec, on_kill, "exec-kill") < 0)
                (void) on_kill(NULL, 0, x); /* no timer: no grace either */
}

/* Runs after the direct child was reaped: is anything left in its process group? */
static int on_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Exec *x = userdata;

        if (!x->group_gone && kill(-x->pid, 0) < 0 && errno == ESRCH)
                x->group_gone = true;

        if (!x->group_gone) {
                if (!x->term_sent) {
                        signal_group(x, SIGTERM);
                        x->term_sent = true;
                }
                /* Also bounds the wait for pipes held open by processes that left the group. */
                arm_kill(x);
                if (x->final && now_usec() >= x->final_usec + GIVE_UP_USEC)
                        x->give_up = true;
                else if (arm_timer(x, &x->poll_source, now_usec() + GROUP_POLL_USEC, on_poll,
                                   "exec-group-poll") < 0)
                        x->give_up = x->final;
        } else if (!x->out.eof || !x->err.eof)
                arm_kill(x); /* something outside the group holds our pipes: wait at most the grace */

        maybe_finish(x);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Exec *x = userdata;

        if (x->reaped || x->final)
                return 0;
        x->result.timed_out = true;
        signal_group(x, SIGTERM);
        x->term_sent = true;
        arm_kill(x);
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Exec *x = userdata;

        x->reaped = true;
        x->result.duration_usec = now_usec() - x->start_usec;
        if (si->si_code == CLD_EXITED) {
                x->result.exited = true;
                x->result.exit_status = si->si_status;
        } else {
                x->result.signaled = true;
                x->result.term_signal = si->si_status;
        }

        x->timeout_source = sd_event_source_disable_unref(x->timeout_source);
        x->child_source = sd_event_source_disable_unref(x->child_source); /* sd-event reaps after we return */

        if (x->cancelled) {
                exec_free(x);
                return 0;
        }
        /* The zombie leader still counts as a member of its group until sd-event reaps it, after
         * this callback: look at the group from a timer. */
        if (arm_timer(x, &x->poll_source, 0, on_poll, "exec-group-poll") < 0) {
                x->group_gone = x->give_up = x->final = true;
                maybe_finish(x);
        }
        return 0;
}

static int on_stream(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Exec *x = userdata;
        Stream *st = s == x->out.source ? &x->out : &x->err;

        if (stream_read(x, st) == 0) {
                stream_close(st);
                maybe_finish(x);
        }
        return 0;
}

static void input_close(Exec *x) {
        x->input_source = sd_event_source_disable_unref(x->input_source);
        (void) close_nointr(x->input_fd);
        x->input_fd = -1;
}

static int on_input(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Exec *x = userdata;

        if (x->input_written < x->input_size) {
                size_t n = x->input_size - x->input_written;
                ssize_t k = write_nosigpipe(fd, x->input + x->input_written, n < INPUT_CHUNK ? n : INPUT_CHUNK);

                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (k > 0) {
                        x->input_written += (size_t) k;
                        if (x->input_written < x->input_size)
                                return 0;
                }
        }
        input_close(x); /* everything written, or the reader is gone */
        return 0;
}

static int make_pipe(int p[2], bool parent_reads) {
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        /* O_NONBLOCK only on our end: the child gets ordinary blocking descriptors. */
        if (fcntl(p[parent_reads ? 0 : 1], F_SETFL, O_NONBLOCK) < 0) {
                int r = -errno;
                (void) close(p[0]);
                (void) close(p[1]);
                p[0] = p[1] = -1;
                return r;
        }
        return 0;
}

static int add_stream(Exec *x, Stream *st, int fd, const char *description) {
        int r;

        st->fd = fd;
        r = sd_event_add_io(x->event, &st->source, fd, EPOLLIN, on_stream, x);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(st->source, description);
        return 0;
}

/* stdin of every command without input: opened once, kept (close-on-exec) for the next one. */
static int devnull_fd(void) {
        static int fd = -1;

        if (fd < 0)
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        return fd;
}

int exec_start(sd_event *e, char *const *argv, const ExecOptions *opts,
               exec_done_t done, void *userdata, Exec **ret) {
        static const ExecOptions no_opts = {};
        _cleanup_close_ int in_r = -1, in_w = -1, out_r = -1, out_w = -1, err_r = -1, err_w = -1;
        _cleanup_(strv_freep) char **envp = NULL;
        _cleanup_(exec_freep) Exec *x = NULL;
        int p[2], r, max_fd, stdin_fd;
        sigset_t mask;
        pid_t parent, pid;

        if (!e || !argv || !argv[0])
                return -EINVAL;
        if (!opts)
                opts = &no_opts;

        /* sd-event refuses child sources otherwise; find out before forking. */
        if (sigprocmask(SIG_SETMASK, NULL, &mask) < 0)
                return -errno;
        if (!sigismember(&mask, SIGCHLD))
                return -EBUSY;

        r = build_env(opts->env, &envp);
        if (r < 0)
                return r;

        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->event = sd_event_ref(e);
        x->done = done;
        x->userdata = userdata;
        x->out.fd = x->err.fd = x->input_fd = -1;
        x->timeout_usec = opts->timeout_usec;
        x->grace_usec = opts->kill_grace_usec ?: DEFAULT_KILL_GRACE_USEC;
        x->max_output = opts->max_output ?: DEFAULT_MAX_OUTPUT;
        if (x->max_output > SIZE_MAX / 2) /* we allocate max_output + 1 */
                x->max_output = SIZE_MAX / 2;

        if (opts->input) {
                x->input_size = strlen(opts->input);
                x->input = strdup(opts->input);
                if (!x->input)
                        return -ENOMEM;
                r = make_pipe(p, false);
                if (r < 0)
                        return r;
                in_r = p[0];
                in_w = p[1];
                stdin_fd = in_r;
        } else {
                stdin_fd = devnull_fd();
                if (stdin_fd < 0)
                        return -errno;
        }
        r = make_pipe(p, true);
        if (r < 0)
                return r;
        out_r = p[0];
        out_w = p[1];
        r = make_pipe(p, true);
        if (r < 0)
                return r;
        err_r = p[0];
        err_w = p[1];

        /* Everything that can fail is set up before the child starts: afterwards only the child source. */
        r = add_stream(x, &x->out, take_fd(&out_r), "exec-stdout");
        if (r < 0)
                return r;
        r = add_stream(x, &x->err, take_fd(&err_r), "exec-stderr");
        if (r < 0)
                return r;
        if (in_w >= 0) {
                x->input_fd = take_fd(&in_w);
                if (x->input_size == 0)
                        input_close(x);
                else {
                        r = sd_event_add_io(e, &x->input_source, x->input_fd, EPOLLOUT, on_input, x);
                        if (r < 0)
                                return r;
                        (void) sd_event_source_set_description(x->input_source, "exec-stdin");
                }
        }
        x->start_usec = now_usec();
        if (x->timeout_usec > 0) {
                r = arm_timer(x, &x->timeout_source, x->start_usec + x->timeout_usec, on_timeout,
                              "exec-timeout");
                if (r < 0)
                        return r;
        }

        max_fd = (int) sysconf(_SC_OPEN_MAX);
        if (max_fd <= 0 || max_fd > 65536)
                max_fd = 65536;
        parent = getpid();

        pid = spawn_child(argv, envp, (const int[3]) { stdin_fd, out_w, err_w }, parent, max_fd,
                          &x->result.spawn_errno);
        if (pid < 0)
                return -errno;
        /* The child made itself a group leader before it called execve() or _exit(), and clone()
         * returns after that (CLONE_VFORK): the group exists now. */
        x->pid = x->result.pid = pid;

        r = sd_event_add_child(e, &x->child_source, pid, WEXITED, on_child, x);
        if (r < 0) {
                (void) kill(-pid, SIGKILL);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0); /* bounded: it cannot survive SIGKILL */
                return r;
        }
        (void) sd_event_source_set_description(x->child_source, "exec-child");

        if (ret)
                *ret = x;
        TAKE_PTR(x);
        return 0;
}

void exec_cancel(Exec *x) {
        if (!x || x->finished || x->cancelled)
                return;
        x->cancelled = true;
        x->done = NULL;
        signal_group(x, SIGKILL);
        x->timeout_source = sd_event_source_disable_unref(x->timeout_source);
        x->kill_source = sd_event_source_disable_unref(x->kill_source);
        x->poll_source = sd_event_source_disable_unref(x->poll_source);
        input_close(x);
        stream_close(&x->out);
        stream_close(&x->err);
        if (x->reaped)
                exec_free(x);
        /* else: on_child() frees it once the child is reaped. */
}

static char *format_timespan(uint64_t usec) {
        char *s = NULL;

        if (usec % USEC_PER_SEC == 0)
                return asprintf(&s, "%" PRIu64 "s", usec / USEC_PER_SEC) < 0 ? NULL : s;
        if (usec < USEC_PER_SEC && usec % USEC_PER_MSEC == 0)
                return asprintf(&s, "%" PRIu64 "ms", usec / USEC_PER_MSEC) < 0 ? NULL : s;
        if (usec < USEC_PER_MSEC)
                return asprintf(&s, "%" PRIu64 "us", usec) < 0 ? NULL : s;

        /* seconds with up to three decimals, trailing zeros dropped: "1.5s" */
        char buf[64];
        size_t n = (size_t) snprintf(buf, sizeof(buf), "%" PRIu64 ".%03" PRIu64, usec / USEC_PER_SEC,
                                     (usec % USEC_PER_SEC) / USEC_PER_MSEC);
        while (n > 0 && buf[n - 1] == '0')
                buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.')
                buf[--n] = '\0';
        return asprintf(&s, "%ss", buf) < 0 ? NULL : s;
}

char *exec_result_describe(const ExecResult *r, uint64_t timeout_usec) {
        char *s = NULL;
        int k;

        if (!r)
                return strdup("no result");
        if (r->spawn_errno != 0)
                k = asprintf(&s, "could not start: %s", strerror(r->spawn_errno));
        else if (r->timed_out) {
                if (timeout_usec == 0)
                        return strdup("timed out");
                _cleanup_free_ char *t = format_timespan(timeout_usec);
                if (!t)
                        return NULL;
                k = asprintf(&s, "timed out after %s", t);
        } else if (r->exited)
                k = asprintf(&s, "exited with status %d", r->exit_status);
        else if (r->signaled)
                k = asprintf(&s, "killed by signal %d", r->term_signal);
        else
                return strdup("did not finish");
        return k < 0 ? NULL : s;
}
