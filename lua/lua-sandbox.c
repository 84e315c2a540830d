/* SPDX-License-Identifier: MIT */
/* Lua states for check and rule files: chosen libraries only, a memory cap, an instruction
 * hook with a deadline, text-only loading, and functions run as coroutines that yield to the
 * event loop while they wait for commands or timers. */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "duration.h"
#include "log.h"
#include "lua-pattern.h"
#include "lua-sandbox.h"

#define HOOK_EVERY 1000            /* instructions between deadline checks */
#define SLICE_USEC (10 * USEC_PER_MSEC) /* a busy script yields the loop this often */

static void run_release(struct LuaRun *run);

struct LuaRun {
        LuaFile *file;
        lua_State *co;
        int co_ref;
        char *what;
        uint64_t timeout, deadline;
        bool timed_out;
        bool results_on_main;
        bool preempted;          /* yielded by the hook so that the loop can breathe */
        uint64_t slice_end;
        Exec *exec;
        void (*op_cancel)(void *op);   /* a binding's own asynchronous operation */
        void *op;
        lua_run_push_t push;
        void *push_userdata;
        sd_event_source *sleep_source, *deadline_source, *start_source;
        lua_run_done_t done;
        void *userdata;
};

static void *medic_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
        LuaFile *f = ud;

        if (!ptr)
                osize = 0;
        if (nsize == 0) {
                free(ptr);
                f->mem_used -= osize;
                return NULL;
        }
        if (f->mem_enforce && nsize > osize && f->mem_used + (nsize - osize) > f->mem_limit)
                return NULL;
        void *n = realloc(ptr, nsize);
        if (!n)
                return NULL;
        f->mem_used = f->mem_used - osize + nsize;
        return n;
}

static int medic_panic(lua_State *L) {
        log_error("Lua panic: %s", lua_tostring(L, -1));
        abort();
}

LuaFile *luafile_from_state(lua_State *L) {
        void *ud = NULL;
        (void) lua_getallocf(L, &ud);
        return ud;
}

LuaRun *lua_run_current(lua_State *L) {
        return *(LuaRun **) lua_getextraspace(L);
}

static void hook(lua_State *L, lua_Debug *ar) {
        LuaFile *f = luafile_from_state(L);
        LuaRun *run = lua_run_current(L);
        uint64_t deadline = run ? run->deadline : f->pcall_deadline;
        uint64_t timeout = run ? run->timeout : f->pcall_timeout;
        char buf[32];

        uint64_t now = now_monotonic();

        if (run && now >= run->slice_end && now < deadline && lua_isyieldable(L)) {
                /* Cooperative preemption: a long computation lets timers and other checks run. */
                run->preempted = true;
                lua_yield(L, 0);
                return;
        }
        if (deadline == 0 || now < deadline)
                return;
        if (run)
                run->timed_out = true;
        /* Yielding cannot be caught by a pcall in the script: the coroutine is dropped. */
        if (lua_isyieldable(L)) {
                if (!run)
                        f->pcall_deadline = 1; /* mark: timed out */
                lua_yield(L, 0);
                return;
        }
        luaL_error(L, "execution timeout after %s", duration_format(timeout, buf, sizeof buf));
}

bool lua_budget_exceeded(lua_State *L) {
        LuaFile *f = luafile_from_state(L);
        LuaRun *run = lua_run_current(L);
        uint64_t deadline = run ? run->deadline : f->pcall_deadline;

        return deadline != 0 && now_monotonic() >= deadline;
}

/* load(chunk [, chunkname [, mode [, env]]]) for text chunks only. */
static int safe_load(lua_State *L) {
        size_t len;
        const char *s = luaL_checklstring(L, 1, &len);
        const char *name = luaL_optstring(L, 2, s);
        int env = !lua_isnone(L, 4) ? 4 : 0;

        if (len > 0 && s[0] == LUA_SIGNATURE[0])
                return luaL_error(L, "loading bytecode is not allowed");
        if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
                lua_pushnil(L);
                lua_insert(L, -2);
                return 2;
        }
        if (env) {
                lua_pushvalue(L, env);
                if (!lua_setupvalue(L, -2, 1))
                        lua_pop(L, 1);
        }
        return 1;
}

static int safe_print(lua_State *L) {
        LuaFile *f = luafile_from_state(L);
        luaL_Buffer b;
        int n = lua_gettop(L);

        luaL_buffinit(L, &b);
        for (int i = 1; i <= n; i++) {
                if (i > 1)
                        luaL_addchar(&b, '\t');
                luaL_addstring(&b, luaL_tolstring(L, i, NULL));
                lua_pop(L, 1);
        }
        luaL_pushresult(&b);
        log_info("%s: %s", f->path, lua_tostring(L, -1));
        return 0;
}

static void open_safe_libs(lua_State *L) {
        static const luaL_Reg libs[] = {
                { LUA_GNAME, luaopen_base },
                { LUA_STRLIBNAME, luaopen_string },
                { LUA_TABLIBNAME, luaopen_table },
                { LUA_MATHLIBNAME, luaopen_math },
                { LUA_UTF8LIBNAME, luaopen_utf8 },
                { LUA_OSLIBNAME, luaopen_os },
        };
        static const char *const base_removed[] = { "dofile", "loadfile", "require", "module", NULL };
        static const char *const os_kept[] = { "time", "date", "clock", "difftime", "getenv", NULL };

        for (size_t i = 0; i < ELEMENTSOF(libs); i++) {
                luaL_requiref(L, libs[i].name, libs[i].func, 1);
                lua_pop(L, 1);
        }
        for (size_t i = 0; base_removed[i]; i++) {
                lua_pushnil(L);
                lua_setglobal(L, base_removed[i]);
        }
        lua_pushcfunction(L, safe_load);
        lua_setglobal(L, "load");
        lua_pushcfunction(L, safe_print);
        lua_setglobal(L, "print");

        /* Rebuild os with the harmless functions only. */
        lua_getglobal(L, "os");
        lua_newtable(L);
        for (size_t i = 0; os_kept[i]; i++) {
                lua_getfield(L, -2, os_kept[i]);
                lua_setfield(L, -2, os_kept[i]);
        }
        lua_setglobal(L, "os");
        lua_pop(L, 1);
        /* The pattern functions run in C, out of the hook's reach: bounded before they start. */
        lua_pattern_guard(L);
        /* Forget the loaded-module table that requiref filled. */
        lua_pushnil(L);
        lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
}

int luafile_new(const char *path, LuaFileKind kind, const LuaHost *host, uint64_t mem_limit, LuaFile **ret) {
        LuaFile *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        f->path = strdup(path);
        f->kind = kind;
        f->host = host;
        f->mem_limit = mem_limit;
        if (!f->path) {
                free(f);
                return -ENOMEM;
        }
        f->L = lua_newstate(medic_alloc, f);
        if (!f->L) {
                free(f->path);
                free(f);
                return -ENOMEM;
        }
        f->spare_co_ref = LUA_NOREF;
        *(LuaRun **) lua_getextraspace(f->L) = NULL;
        lua_atpanic(f->L, medic_panic);
        open_safe_libs(f->L);
        *ret = f;
        return 0;
}

LuaFile *luafile_free(LuaFile *f) {
        if (!f)
                return NULL;
        if (f->n_runs > 0)
                log_error("BUG: %s freed with %u runs alive", f->path, f->n_runs);
        run_release(f->spare_run);
        lua_close(f->L);
        free(f->path);
        free(f);
        return NULL;
}

/* Runs the function on top of f->L's stack below nargs arguments in a fresh coroutine, to
 * completion, under the budget. Yields other than the deadline's are errors. */
static int call_sync(LuaFile *f, int nargs, int nresults, uint64_t timeout, const char *what, char **ret_error) {
        lua_State *L = f->L, *co;
        int st, nres, r = 0;
        char buf[32];

        co = lua_newthread(L);
        *(LuaRun **) lua_getextraspace(co) = NULL;
        lua_insert(L, -(nargs + 2));               /* thread below function and args */
        lua_xmove(L, co, nargs + 1);
        lua_sethook(co, hook, LUA_MASKCOUNT, HOOK_EVERY);
        f->pcall_timeout = timeout;
        f->pcall_deadline = now_monotonic() + timeout;

        f->mem_enforce = true;
        st = lua_resume(co, L, nargs, &nres);
        f->mem_enforce = false;

        if (st == LUA_YIELD) {
                if (f->pcall_deadline == 1)
                        *ret_error = strprintf("%s: execution timeout after %s", what,
                                               duration_format(timeout, buf, sizeof buf));
                else
                        *ret_error = strprintf("%s: cannot wait (medic.exec, medic.sleep) here", what);
                r = f->pcall_deadline == 1 ? -ETIME : -EINVAL;
        } else if (st != LUA_OK) {
                const char *msg = lua_tostring(co, -1);
                luaL_traceback(L, co, msg ? msg : "(error object is not a string)", 0);
                log_debug("%s", lua_tostring(L, -1));
                lua_pop(L, 1);
                *ret_error = strdup(msg ? msg : "(error object is not a string)");
                r = st == LUA_ERRMEM ? -ENOMEM : -EIO;
        } else {
                if (nresults != LUA_MULTRET) {
                        while (nres < nresults) {
                                lua_pushnil(co);
                                nres++;
                        }
                        if (nres > nresults) {
                                lua_pop(co, nres - nresults);
                                nres = nresults;
                        }
                }
                lua_xmove(co, L, nres);
                lua_remove(L, -(nres + 1));        /* the thread */
                f->pcall_deadline = 0;
                return 0;
        }
        f->pcall_deadline = 0;
        lua_pop(L, 1);                              /* the thread */
        lua_gc(L, LUA_GCCOLLECT);
        return r;
}

int luafile_pcall(LuaFile *f, int fn_ref, int nargs, int nresults, uint64_t timeout_usec,
                  const char *what, char **ret_error) {
        lua_rawgeti(f->L, LUA_REGISTRYINDEX, fn_ref);
        lua_insert(f->L, -(nargs + 1));
        return call_sync(f, nargs, nresults, timeout_usec, what, ret_error);
}

int luafile_load(LuaFile *f, StrList *errors) {
        _cleanup_free_ char *buf = NULL, *err = NULL, *chunkname = NULL;
        uint64_t timeout;
        char tbuf[32];
        size_t size;
        int r;

        r = read_file(f->path, 4 * 1024 * 1024, &buf, &size);
        if (r < 0) {
                strlist_addf(errors, "%s: %s", f->path, strerror(-r));
                return r;
        }
        if (size > 0 && buf[0] == LUA_SIGNATURE[0]) {
                strlist_addf(errors, "%s:1: precompiled Lua (bytecode) is not allowed", f->path);
                return -EINVAL;
        }
        chunkname = strprintf("@%s", f->path);
        if (!chunkname)
                return -ENOMEM;
        f->mem_enforce = true;
        r = luaL_loadbufferx(f->L, buf, size, chunkname, "t");
        f->mem_enforce = false;
        if (r != LUA_OK) {
                /* "path:line: message" already. */
                strlist_add(errors, lua_tostring(f->L, -1));
                lua_pop(f->L, 1);
                return -EINVAL;
        }
        timeout = LUA_LOAD_TIMEOUT;
        if (f->load_deadline) {
                uint64_t now = now_monotonic();
                if (now >= f->load_deadline) {
                        strlist_addf(errors, "%s: not loaded: loading the files took longer than %s in all", f->path,
                                     duration_format(LUA_SET_LOAD_TIMEOUT, tbuf, sizeof tbuf));
                        return -ETIME;
                }
                if (f->load_deadline - now < timeout)
                        timeout = f->load_deadline - now;
        }
        r = call_sync(f, 0, 0, timeout, f->path, &err);
        if (r < 0) {
                strlist_add(errors, err ? err : "error");
                return r;
        }
        return 0;
}

/* ---- coroutine runs ------------------------------------------------------------------ */

lua_State *lua_run_thread(LuaRun *run) {
        return run->results_on_main ? run->file->L : run->co;
}

LuaFile *lua_run_file(LuaRun *run) {
        return run->file;
}

static void run_release(LuaRun *run) {
        if (!run)
                return;
        sd_event_source_disable_unref(run->deadline_source);
        free(run->what);
        free(run);
}

static void run_free(LuaRun *run) {
        LuaFile *f = run->file;

        sd_event_source_disable_unref(run->sleep_source);
        sd_event_source_disable_unref(run->start_source);
        if (run->exec)
                exec_cancel(run->exec);
        if (run->op && run->op_cancel)
                run->op_cancel(run->op);
        /* A coroutine whose function returned is as good as new (an empty stack, status ok):
         * the file keeps one for its next run. Lua code cannot tell (no coroutine library). */
        if (f->spare_co_ref == LUA_NOREF && run->results_on_main && lua_status(run->co) == LUA_OK &&
            lua_gettop(run->co) == 0)
                f->spare_co_ref = run->co_ref;
        else
                luaL_unref(f->L, LUA_REGISTRYINDEX, run->co_ref);
        f->n_runs--;
        /* The record and its deadline timer are kept for the file's next run: no event source
         * made and freed per run. */
        if (!f->spare_run && run->deadline_source &&
            sd_event_source_set_enabled(run->deadline_source, SD_EVENT_OFF) >= 0) {
                f->spare_run = run;
                return;
        }
        run_release(run);
}

static void run_finish(LuaRun *run, int status, const char *error, int nresults) {
        LuaFile *f = run->file;

        /* Stop what it waits for before telling anyone. */
        run->sleep_source = sd_event_source_disable_unref(run->sleep_source);
        (void) sd_event_source_set_enabled(run->deadline_source, SD_EVENT_OFF);
        if (run->exec) {
                exec_cancel(run->exec);
                run->exec = NULL;
        }
        if (run->op) {
                if (run->op_cancel)
                        run->op_cancel(run->op);
                run->op = NULL;
        }
        if (run->done)
                run->done(run, status, error, nresults, run->userdata);
        run_free(run);
        if (status < 0)
                lua_gc(f->L, LUA_GCCOLLECT);
}

static void run_timed_out(LuaRun *run) {
        char buf[32], *msg = strprintf("timed out after %s", duration_format(run->timeout, buf, sizeof buf));
        run_finish(run, -ETIME, msg ? msg : "timed out", 0);
        free(msg);
}

static int on_start(sd_event_source *s, void *userdata);

static void run_resume(LuaRun *run, int nargs) {
        LuaFile *f = run->file;
        int st, nres = 0;

        run->slice_end = now_monotonic() + SLICE_USEC;
        f->mem_enforce = true;
        st = lua_resume(run->co, NULL, nargs, &nres);
        f->mem_enforce = false;

        if (st == LUA_YIELD) {
                lua_pop(run->co, nres);
                if (run->timed_out)
                        return run_timed_out(run);
                if (run->preempted) {
                        run->preempted = false;
                        if (sd_event_add_defer(f->host->event, &run->start_source, on_start, run) < 0)
                                return run_finish(run, -ENOMEM, "cannot reschedule", 0);
                        (void) sd_event_source_set_priority(run->start_source, SD_EVENT_PRIORITY_IDLE);
                        (void) sd_event_source_set_description(run->start_source, "lua-run-continue");
                        return;
                }
                if (!run->exec && !run->sleep_source && !run->op)
                        return run_finish(run, -EIO, "yielded without waiting for anything", 0);
                return;
        }
        if (st == LUA_OK) {
                /* Hand the results over on the main thread: the finished coroutine is left alone. */
                int top = lua_gettop(f->L);
                if (!lua_checkstack(f->L, nres + LUA_MINSTACK))
                        return run_finish(run, -ENOMEM, "too many results", 0);
                lua_xmove(run->co, f->L, nres);
                run->results_on_main = true;
                run_finish(run, 0, NULL, nres);
                lua_settop(f->L, top);
                return;
        }

        const char *msg = lua_tostring(run->co, -1);
        _cleanup_free_ char *copy = strdup(msg ? msg : "(error object is not a string)");
        luaL_traceback(f->L, run->co, copy, 0);
        log_full_errno(LOG_DEBUG, 0, "%s: %s", run->what, lua_tostring(f->L, -1));
        lua_pop(f->L, 1);
        if (run->timed_out)
                return run_timed_out(run);
        run_finish(run, st == LUA_ERRMEM ? -ENOMEM : -EIO, copy, 0);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        LuaRun *run = userdata;
        run->timed_out = true;
        run_timed_out(run);
        return 0;
}

static int on_start(sd_event_source *s, void *userdata) {
        LuaRun *run = userdata;
        run->start_source = sd_event_source_disable_unref(run->start_source);
        run_resume(run, 0);
        return 0;
}

/* A run ready to start: its coroutine (the file's spare one, or a new one) with the function
 * on it, and its deadline. */
static int run_new(LuaFile *f, int fn_ref, uint64_t timeout_usec, const char *what,
                   lua_run_done_t done, void *userdata, LuaRun **ret) {
        LuaRun *run;
        int r;

        run = f->spare_run;
        if (run) {
                sd_event_source *deadline_source = run->deadline_source;
                char *kept = run->what;

                f->spare_run = NULL;
                *run = (LuaRun) { .deadline_source = deadline_source };
                if (kept && strcmp(kept, what) == 0)
                        run->what = kept;
                else {
                        free(kept);
                        run->what = strdup(what);
                }
        } else {
                run = calloc(1, sizeof(*run));
                if (!run)
                        return -ENOMEM;
                run->what = strdup(what);
        }
        run->file = f;
        run->timeout = timeout_usec;
        run->deadline = now_monotonic() + timeout_usec;
        run->done = done;
        run->userdata = userdata;
        if (f->spare_co_ref != LUA_NOREF) {
                run->co_ref = f->spare_co_ref;
                f->spare_co_ref = LUA_NOREF;
                lua_rawgeti(f->L, LUA_REGISTRYINDEX, run->co_ref);
                run->co = lua_tothread(f->L, -1);
                lua_pop(f->L, 1);
        } else {
                run->co = lua_newthread(f->L);
                run->co_ref = luaL_ref(f->L, LUA_REGISTRYINDEX);
        }
        f->n_runs++;
        *(LuaRun **) lua_getextraspace(run->co) = run;
        lua_sethook(run->co, hook, LUA_MASKCOUNT, HOOK_EVERY);
        lua_rawgeti(run->co, LUA_REGISTRYINDEX, fn_ref);

        if (run->deadline_source) {
                r = sd_event_source_set_time(run->deadline_source, run->deadline);
                if (r >= 0)
                        r = sd_event_source_set_enabled(run->deadline_source, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(f->host->event, &run->deadline_source, CLOCK_MONOTONIC, run->deadline,
                                      10 * USEC_PER_MSEC, on_deadline, run);
                if (r >= 0)
                        (void) sd_event_source_set_description(run->deadline_source, "lua-run-deadline");
        }
        if (r < 0 || !run->what) {
                run->done = NULL;
                run_free(run);
                return r < 0 ? r : -ENOMEM;
        }
        *ret = run;
        return 0;
}

/* now: resumed at once; else from a deferred source at the loop's next turn. */
static int run_start(LuaFile *f, int fn_ref, uint64_t timeout_usec, const char *what, lua_run_done_t done,
                     void *userdata, bool now, LuaRun **ret) {
        LuaRun *run;
        int r;

        r = run_new(f, fn_ref, timeout_usec, what, done, userdata, &run);
        if (r < 0)
                return r;
        if (now) {
                if (ret)
                        *ret = run;   /* before it runs: done may come (and clear it) before we return */
                run_resume(run, 0);
                return 0;
        }
        r = sd_event_add_defer(f->host->event, &run->start_source, on_start, run);
        if (r < 0) {
                run->done = NULL;
                run_free(run);
                return r;
        }
        (void) sd_event_source_set_description(run->start_source, "lua-run-start");
        if (ret)
                *ret = run;
        return 0;
}

int lua_run_start(LuaFile *f, int fn_ref, uint64_t timeout_usec, const char *what,
                  lua_run_done_t done, void *userdata, LuaRun **ret) {
        return run_start(f, fn_ref, timeout_usec, what, done, userdata, false, ret);
}

int lua_run_start_now(LuaFile *f, int fn_ref, uint64_t timeout_usec, const char *what,
                      lua_run_done_t done, void *userdata, LuaRun **ret) {
        return run_start(f, fn_ref, timeout_usec, what, done, userdata, true, ret);
}

uint64_t lua_run_deadline(const LuaRun *run) {
        return run->deadline;
}

const char *lua_run_what(const LuaRun *run) {
        return run->what;
}

void lua_run_cancel(LuaRun *run) {
        if (!run)
                return;
        run->done = NULL;
        run_finish(run, -ECANCELED, NULL, 0);
}

static void on_exec_done(const ExecResult *r, void *userdata) {
        LuaRun *run = userdata;

        run->exec = NULL; /* it frees itself after this callback */
        run->push(run->co, r, run->push_userdata);
        run_resume(run, 1);
}

int lua_run_wait_exec(LuaRun *run, char *const *argv, const ExecOptions *opts,
                      lua_run_push_t push_result, void *userdata) {
        run->push = push_result;
        run->push_userdata = userdata;
        return exec_start(run->file->host->event, argv, opts, on_exec_done, run, &run->exec);
}

static int on_sleep(sd_event_source *s, uint64_t usec, void *userdata) {
        LuaRun *run = userdata;
        run->sleep_source = sd_event_source_disable_unref(run->sleep_source);
        run_resume(run, 0);
        return 0;
}

int lua_run_wait_sleep(LuaRun *run, uint64_t usec) {
        int r = sd_event_add_time_relative(run->file->host->event, &run->sleep_source, CLOCK_MONOTONIC, usec,
                                           USEC_PER_MSEC, on_sleep, run);
        if (r >= 0)
                (void) sd_event_source_set_description(run->sleep_source, "lua-sleep");
        return r;
}

int lua_run_wait_op(LuaRun *run, void *op, void (*cancel)(void *op)) {
        if (run->op || run->exec)
                return -EBUSY;
        run->op = op;
        run->op_cancel = cancel;
        return 0;
}

void lua_run_complete_op(LuaRun *run, void (*push)(lua_State *co, void *userdata), void *userdata) {
        run->op = NULL;
        run->op_cancel = NULL;
        push(run->co, userdata);
        run_resume(run, 1);
}
