/* SPDX-License-Identifier: MIT */
/* Scheduling checks and turning what their run() returns into a condition update. */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "duration.h"
#include "log.h"
#include "lua-api.h"
#include "watch.h"

/* The checks' turns of one event loop, in one heap by (when, seq), behind one sd-event timer:
 * the turns due at a wake-up are run in one callback, in the same order every round (the
 * shorter interval first, then the order the runners were made in), without an event source, a pending-queue entry and an
 * epoll_wait() of their own each. */
typedef struct CheckClock {
        sd_event *event;
        sd_event_source *timer;
        CheckRunner **heap;
        size_t n, allocated;
        unsigned users;
        uint64_t seq, batch;
        bool dispatching;
        struct CheckClock *next;
} CheckClock;

static CheckClock *clocks;      /* one per event loop (medicd has one; tests may make more) */

struct CheckRunner {
        sd_event *event;
        PathWatch **watches;
        size_t n_watches;
        CheckDecl *decl;
        CheckClock *clock;
        size_t heap_idx;        /* SIZE_MAX: not in the heap */
        uint64_t when, seq, batch;
        LuaRun *run;
        uint64_t started;
        uint64_t due;   /* when the current turn is due: phase + k × every, on the check's grid */
        check_result_t cb;
        void *userdata;
        bool again;     /* asked to run while running: run once more right after */
        bool truncated_logged;
};

static int schedule(CheckRunner *c, uint64_t when);
static void watches_arm(CheckRunner *c);

static int start_run(CheckRunner *c, bool now);

static void deliver(CheckRunner *c, int state, const char *message, const char *details) {
        uint64_t duration = now_monotonic() - c->started;
        bool again = c->again;

        c->again = false;
        c->cb(c->decl, state, message, details, duration, c->userdata);
        /* An event (or run-check) came while this run was going: what it changed may not be
         * in this result, so look again. */
        if (again)
                (void) start_run(c, false);
}

static void log_truncated(CheckRunner *c, const char *what) {
        if (c->truncated_logged)
                return;
        c->truncated_logged = true;
        log_event(LOG_WARNING, MEDIC_MSG_CHECK_FAILED, LOG_FIELDS({ "MEDIC_CHECK", c->decl->name }, { "MEDIC_REASON", "truncated" }),
                  "Check %s (%s:%d) returned %s: truncated (logged once for this check)", c->decl->name,
                  c->decl->file->path, c->decl->line, what);
}

/* message (len bytes) as it may go on: itself, or in *ret_copy its first CHECK_MESSAGE_MAX
 * bytes (not cutting a UTF-8 sequence) and the marker. */
static const char *cap_message(CheckRunner *c, const char *message, size_t len, char **ret_copy) {
        size_t keep = CHECK_MESSAGE_MAX;
        char what[96];

        if (!message || len <= CHECK_MESSAGE_MAX)
                return message;
        while (keep > 0 && ((unsigned char) message[keep] & 0xc0) == 0x80)
                keep--;
        snprintf(what, sizeof what, "a message of %zu bytes (at most %d are kept)", len, CHECK_MESSAGE_MAX);
        log_truncated(c, what);
        *ret_copy = strprintf("%.*s… [truncated %zu bytes]", (int) keep, message, len - keep);
        return *ret_copy ? *ret_copy : "(message too long)";
}

static void on_done(LuaRun *run, int status, const char *error, int nresults, void *userdata) {
        CheckRunner *c = userdata;
        lua_State *co = lua_run_thread(run);
        _cleanup_free_ char *capped_error = NULL;

        c->run = NULL;
        /* error("…") with a huge message is a result too: capped before it is logged or stored. */
        if (error)
                error = cap_message(c, error, strlen(error), &capped_error);
        if (status == -ENOMEM) {
                _cleanup_free_ char *msg = strprintf("not enough memory: check '%s' exceeded lua_memory_limit", c->decl->name);
                log_event(LOG_WARNING, MEDIC_MSG_CHECK_FAILED,
                          LOG_FIELDS({ "MEDIC_CHECK", c->decl->name }, { "MEDIC_REASON", "memory" }),
                          "Check %s (%s:%d) ran out of memory: %s", c->decl->name, c->decl->file->path,
                          c->decl->line, error ? error : "");
                return deliver(c, COND_UNKNOWN, msg ? msg : "not enough memory", NULL);
        }
        if (status < 0) {
                log_event(LOG_WARNING, MEDIC_MSG_CHECK_FAILED,
                          LOG_FIELDS({ "MEDIC_CHECK", c->decl->name }, { "MEDIC_REASON", error }),
                          "Check %s (%s:%d) failed: %s", c->decl->name, c->decl->file->path, c->decl->line,
                          error ? error : "error");
                return deliver(c, COND_UNKNOWN, error ? error : "error", NULL);
        }

        int idx = lua_gettop(co) - nresults + 1;
        const char *state = NULL, *message = NULL;
        _cleanup_free_ char *details = NULL, *err = NULL, *why = NULL, *capped = NULL;
        size_t mlen = 0;

        if (nresults >= 1 && lua_type(co, idx) == LUA_TTABLE && lua_checkstack(co, 8)) {
                lua_getfield(co, idx, "state");
                state = lua_tostring(co, -1);
                lua_getfield(co, idx, "message");
                message = lua_tolstring(co, -1, &mlen);
                message = cap_message(c, message, mlen, &capped);
                if (lua_getfield(co, idx, "details") != LUA_TNIL &&
                    lua_to_json_max(co, -1, CHECK_DETAILS_MAX, &details, &err) == -E2BIG) {
                        details = strprintf("{\"truncated\":\"… [truncated: more than %d bytes]\"}", CHECK_DETAILS_MAX);
                        log_truncated(c, "details of more than 64 KiB of JSON");
                }
        }
        int s = state ? (strcmp(state, "skip") == 0 ? CHECK_SKIP : cond_state_from_string(state)) : -EINVAL;
        if (s < 0) {
                why = strprintf("%s:%d: check '%s' returned %s; expected ok(), problem(), unknown() or skip()",
                                c->decl->file->path, c->decl->line, c->decl->name,
                                nresults >= 1 ? luaL_typename(co, idx) : "nothing");
                log_event(LOG_WARNING, MEDIC_MSG_CHECK_FAILED, LOG_FIELDS({ "MEDIC_CHECK", c->decl->name }), "%s", why);
                return deliver(c, COND_UNKNOWN, why, NULL);
        }
        if (err) {
                why = strprintf("%s:%d: check '%s': details: %s", c->decl->file->path, c->decl->line,
                                c->decl->name, err);
                log_event(LOG_WARNING, MEDIC_MSG_CHECK_FAILED, LOG_FIELDS({ "MEDIC_CHECK", c->decl->name }), "%s", why);
                return deliver(c, COND_UNKNOWN, why, NULL);
        }
        deliver(c, s, message ? message : "", details);
}

/* now: the coroutine starts at once (from the checks' timer), else at the loop's next turn
 * (from a result, a watch, run-check: what called us must be back first). */
static int start_run(CheckRunner *c, bool now) {
        int r;

        if (c->run)
                return 0;
        watches_arm(c); /* a directory that appeared since the last run: watch it from now on */
        c->started = now_monotonic();
        r = (now ? lua_run_start_now : lua_run_start)(c->decl->file, c->decl->fn_ref, c->decl->timeout,
                                                     c->decl->name, on_done, c, &c->run);
        if (r < 0)
                return log_error_errno(r, "Cannot start check %s: %m", c->decl->name);
        return 1;
}

/* Due at the same time: the shorter interval first (a check with a longer one, there every
 * other round, does not delay it), then in the order the runners were made. */
static bool turn_before(const CheckRunner *a, const CheckRunner *b) {
        if (a->when != b->when)
                return a->when < b->when;
        if (a->decl->every != b->decl->every)
                return a->decl->every < b->decl->every;
        return a->seq < b->seq;
}

static void heap_set(CheckClock *k, size_t i, CheckRunner *c) {
        k->heap[i] = c;
        c->heap_idx = i;
}

static void heap_fix(CheckClock *k, size_t i) {
        CheckRunner *c = k->heap[i];

        while (i > 0 && turn_before(c, k->heap[(i - 1) / 2])) {
                heap_set(k, i, k->heap[(i - 1) / 2]);
                i = (i - 1) / 2;
        }
        for (;;) {
                size_t l = 2 * i + 1, m = i;
                CheckRunner *best = c;

                if (l < k->n && turn_before(k->heap[l], best))
                        best = k->heap[m = l];
                if (l + 1 < k->n && turn_before(k->heap[l + 1], best))
                        best = k->heap[m = l + 1];
                if (m == i)
                        break;
                heap_set(k, i, best);
                i = m;
        }
        heap_set(k, i, c);
}

static void heap_remove(CheckClock *k, CheckRunner *c) {
        size_t i = c->heap_idx;

        if (i == SIZE_MAX)
                return;
        c->heap_idx = SIZE_MAX;
        if (i == --k->n)
                return;
        heap_set(k, i, k->heap[k->n]);
        heap_fix(k, i);
}

/* The clock's timer at its first turn (not while it runs a batch: it is armed at the end). */
static void clock_arm(CheckClock *k) {
        if (k->dispatching)
                return;
        if (k->n == 0) {
                (void) sd_event_source_set_enabled(k->timer, SD_EVENT_OFF);
                return;
        }
        if (sd_event_source_set_time(k->timer, k->heap[0]->when) < 0 ||
            sd_event_source_set_enabled(k->timer, SD_EVENT_ONESHOT) < 0)
                log_error("Cannot arm the checks' timer: checks may not run");
}

static void run_turn(CheckRunner *c);

/* The clock's last user is gone. */
static void clock_free(CheckClock *k) {
        for (CheckClock **p = &clocks; *p; p = &(*p)->next)
                if (*p == k) {
                        *p = k->next;
                        break;
                }
        sd_event_source_disable_unref(k->timer);
        free(k->heap);
        free(k);
}

static int on_clock(sd_event_source *s, uint64_t usec, void *userdata) {
        CheckClock *k = userdata;
        uint64_t now = now_monotonic();

        k->users++;     /* what a run does may free every runner: the clock stays until we are done */
        k->dispatching = true;
        k->batch++;
        while (k->n > 0 && k->heap[0]->when <= now && k->heap[0]->batch != k->batch) {
                CheckRunner *c = k->heap[0];

                c->batch = k->batch;    /* a turn that fell behind runs once per batch, not again */
                run_turn(c);
        }
        k->dispatching = false;
        if (--k->users == 0) {
                /* the last runner went while we ran: checkrunner_free() left the clock to us */
                clock_free(k);
                return 0;
        }
        clock_arm(k);
        return 0;
}

static int clock_get(sd_event *e, CheckClock **ret) {
        CheckClock *k;
        int r;

        for (k = clocks; k; k = k->next)
                if (k->event == e) {
                        k->users++;
                        *ret = k;
                        return 0;
                }
        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->event = e;
        r = sd_event_add_time(e, &k->timer, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC, on_clock, k);
        if (r < 0) {
                free(k);
                return r;
        }
        (void) sd_event_source_set_enabled(k->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(k->timer, "check-timer");
        k->users = 1;
        k->next = clocks;
        clocks = k;
        *ret = k;
        return 0;
}

static void clock_put(CheckClock *k, CheckRunner *c) {
        heap_remove(k, c);
        if (--k->users > 0) {
                clock_arm(k);
                return;
        }
        clock_free(k);
}

/* A turn due: the next one is placed first (so that nothing the run does can find this one
 * still due), then the run starts. */
static void run_turn(CheckRunner *c) {
        /* The next run is due every after this one was due (not after it started): no drift,
         * and the check stays on its grid. */
        (void) schedule(c, c->due + c->decl->every);
        if (c->run)
                log_debug("Check %s is still running, skipping this turn", c->decl->name);
        else
                (void) start_run(c, true);
}

/* The grid a check's turns fall on: 1% of its interval, in whole milliseconds (at least 1,
 * at most 1 s). Checks whose turns fall on the same point of the monotonic clock's grid run
 * in one wake-up of the loop, each still exactly every apart, so batching them adds no
 * lateness and, run in the same order every round, no jitter. */
static uint64_t check_grid(uint64_t every) {
        uint64_t g = every / 100 / USEC_PER_MSEC * USEC_PER_MSEC;

        return g < USEC_PER_MSEC ? USEC_PER_MSEC : g > USEC_PER_SEC ? USEC_PER_SEC : g;
}

static int schedule(CheckRunner *c, uint64_t due) {
        CheckClock *k = c->clock;
        uint64_t now = now_monotonic(), when = due;

        if (due < now) {
                /* Fell behind (suspend, a stall): run now, once, and the next turn where it
                 * would have been: no catching up, still on the grid. */
                when = now;
                due += (now - due) / c->decl->every * c->decl->every;
        }
        c->due = due;
        c->when = when;
        if (c->heap_idx == SIZE_MAX) {
                if (k->n == k->allocated) {
                        size_t a = k->allocated ? 2 * k->allocated : 64;
                        CheckRunner **h = realloc(k->heap, a * sizeof(*h));
                        if (!h)
                                return -ENOMEM;
                        k->heap = h;
                        k->allocated = a;
                }
                heap_set(k, k->n++, c);
        }
        heap_fix(k, c->heap_idx);
        clock_arm(k);
        return 0;
}

static void on_path_changed(const char *path, void *userdata) {
        CheckRunner *c = userdata;

        log_debug("Check %s: %s changed, running it now", c->decl->name, path);
        (void) checkrunner_run_now(c);
}

/* A directory that appeared since the last run: watched from now on. */
static void watches_arm(CheckRunner *c) {
        for (size_t i = 0; i < c->n_watches; i++)
                pathwatch_arm(c->watches[i]);
}

static int watches_new(CheckRunner *c) {
        const StrList *paths = &c->decl->watch;

        if (paths->n == 0)
                return 0;
        c->watches = calloc(paths->n, sizeof(PathWatch *));
        if (!c->watches)
                return -ENOMEM;
        for (size_t i = 0; i < paths->n; i++) {
                int r = pathwatch_new(c->event, paths->v[i], on_path_changed, c, &c->watches[i]);
                if (r < 0)
                        return log_error_errno(r, "Check %s: cannot watch %s: %m", c->decl->name, paths->v[i]);
                c->n_watches++;
        }
        return 0;
}

static void watches_free(CheckRunner *c) {
        for (size_t i = 0; i < c->n_watches; i++)
                pathwatch_free(c->watches[i]);
        free(c->watches);
        c->watches = NULL;
        c->n_watches = 0;
}

int checkrunner_new(sd_event *e, CheckDecl *d, check_result_t cb, void *userdata, CheckRunner **ret) {
        CheckRunner *c = calloc(1, sizeof(*c));
        uint64_t spread = 0, grid, first;
        int r;

        if (!c)
                return -ENOMEM;
        c->event = e;
        c->decl = d;
        c->cb = cb;
        c->userdata = userdata;
        c->heap_idx = SIZE_MAX;
        r = clock_get(e, &c->clock);
        if (r < 0) {
                free(c);
                return r;
        }
        c->seq = c->clock->seq++;
        for (const char *p = d->name; *p; p++)
                spread = spread * 31 + (unsigned char) *p;
        /* The first turn within a second of now, spread by name, on the grid. */
        grid = check_grid(d->every);
        first = now_monotonic() + (spread % 1000) * USEC_PER_MSEC;
        r = schedule(c, (first + grid - 1) / grid * grid);
        if (r < 0) {
                checkrunner_free(c);
                return r;
        }
        r = watches_new(c);
        if (r < 0) {
                checkrunner_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

int checkrunner_run_now(CheckRunner *c) {
        if (c->run) {
                c->again = true;
                return 0;
        }
        return start_run(c, false);
}

bool checkrunner_busy(const CheckRunner *c) {
        return c->run != NULL;
}

const CheckDecl *checkrunner_decl(const CheckRunner *c) {
        return c->decl;
}

CheckRunner *checkrunner_free(CheckRunner *c) {
        if (!c)
                return NULL;
        lua_run_cancel(c->run);
        watches_free(c);
        clock_put(c->clock, c);
        free(c);
        return NULL;
}
