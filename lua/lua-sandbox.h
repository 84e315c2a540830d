/* SPDX-License-Identifier: MIT */
#pragma once

#include <lua.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "condition.h"
#include "config.h"
#include "exec.h"
#include "util.h"

/* Loading runs on the event loop (a reload is synchronous): the top level of one file may
 * run LUA_LOAD_TIMEOUT, all files of a set together LUA_SET_LOAD_TIMEOUT, so that a stuck
 * file holds the control socket for a second, not for minutes. */
#define LUA_LOAD_TIMEOUT (1 * USEC_PER_SEC)
#define LUA_SET_LOAD_TIMEOUT (3 * USEC_PER_SEC)

/* What the Lua side may ask of the daemon. */
typedef struct LuaHost {
        sd_event *event;
        const Config *config;
        bool dry_run;
        const Condition *(*find_condition)(void *userdata, const char *name);
        /* The node's group as the coordinator keeps it (JSON text, malloc'ed; see
         * coordinator_group_view()), or NULL with *ret_why (malloc'ed) when there is no current view.
         * May be NULL (a configuration check): no view. */
        char *(*group_view)(void *userdata, char **ret_why);
        void *userdata;
} LuaHost;

typedef enum LuaFileKind {
        LUA_FILE_CHECK,
        LUA_FILE_RULE,
} LuaFileKind;

struct LuaSet;

/* One Lua file: its own state, memory cap and globals. */
typedef struct LuaFile {
        char *path;
        LuaFileKind kind;
        lua_State *L;
        const LuaHost *host;
        struct LuaSet *set;       /* the set being declared into while the file loads */
        size_t mem_used, mem_limit;
        bool mem_enforce;         /* the cap applies only while Lua code of ours runs */
        uint64_t pcall_deadline;  /* monotonic usec, for synchronous calls on the main thread */
        uint64_t pcall_timeout;
        uint64_t load_deadline;   /* monotonic usec: when its set's loading must be over (0: no limit) */
        unsigned n_runs;          /* coroutines alive */
        int spare_co_ref;         /* registry ref of a finished coroutine kept for the next run, or LUA_NOREF */
        struct LuaRun *spare_run; /* a finished run's record and its (disabled) deadline timer, for the next run */
} LuaFile;

int luafile_new(const char *path, LuaFileKind kind, const LuaHost *host, uint64_t mem_limit, LuaFile **ret);
/* Compiles (text only) and runs the file under a budget (LUA_LOAD_TIMEOUT, and what is left
 * before load_deadline). Errors go to errors as "path:line: msg". */
int luafile_load(LuaFile *f, StrList *errors);
LuaFile *luafile_free(LuaFile *f);

/* Calls the function under registry reference fn_ref synchronously (no yielding) with nargs
 * arguments already pushed on f->L, under the instruction hook with a timeout and the memory
 * cap. On success returns 0 with nresults values on the stack. On failure returns a negative
 * errno (-ETIME for a timeout) with *ret_error set to a malloc'ed message (and a traceback
 * logged). */
int luafile_pcall(LuaFile *f, int fn_ref, int nargs, int nresults, uint64_t timeout_usec,
                  const char *what, char **ret_error);

/* A function running as a coroutine: it may yield (medic.exec, medic.sleep) to the event loop. */
typedef struct LuaRun LuaRun;

/* status: 0 = returned, the results are the top nresults values of lua_run_thread(run);
 * -ETIME = the run's timeout passed (error says "timed out after 30s");
 * -EIO = a Lua error (error has file:line; the traceback was logged);
 * -ENOMEM = memory cap. The run is freed after the callback returns. */
typedef void (*lua_run_done_t)(LuaRun *run, int status, const char *error, int nresults, void *userdata);

int lua_run_start(LuaFile *f, int fn_ref, uint64_t timeout_usec, const char *what,
                  lua_run_done_t done, void *userdata, LuaRun **ret);
/* The same, but the coroutine starts at once, not from the event loop's next turn: for a caller
 * that is itself called from the loop and whose state stays valid through done (a check's
 * timer). *ret is set before the run starts; done may be called, and the run freed, before this
 * returns. */
int lua_run_start_now(LuaFile *f, int fn_ref, uint64_t timeout_usec, const char *what,
                      lua_run_done_t done, void *userdata, LuaRun **ret);
/* Stops a run without calling its callback: kills its commands, drops the coroutine. */
void lua_run_cancel(LuaRun *run);
lua_State *lua_run_thread(LuaRun *run);
LuaFile *lua_run_file(LuaRun *run);

/* For bindings: the run a coroutine belongs to (NULL outside a run). */
LuaRun *lua_run_current(lua_State *L);
/* For bindings: when the run times out (CLOCK_MONOTONIC usec), and what runs (a check's name). */
uint64_t lua_run_deadline(const LuaRun *run);
const char *lua_run_what(const LuaRun *run);
/* For bindings: park the run on a command or a timer. The binding then returns lua_yield(L, 0);
 * when the command ends, the run resumes with one value, built by push_result. */
typedef void (*lua_run_push_t)(lua_State *co, const ExecResult *r, void *userdata);
int lua_run_wait_exec(LuaRun *run, char *const *argv, const ExecOptions *opts,
                      lua_run_push_t push_result, void *userdata);
int lua_run_wait_sleep(LuaRun *run, uint64_t usec);
/* For bindings with asynchronous work of their own (an HTTP request, a D-Bus call): park the
 * run on op; the binding then returns lua_yield(L, 0). When the work is done the binding calls
 * lua_run_complete_op(), whose push callback pushes exactly one value, and the run resumes
 * with it. If the run ends first (timeout, reload, shutdown), cancel(op) is called instead
 * and lua_run_complete_op() must not be called any more. */
int lua_run_wait_op(LuaRun *run, void *op, void (*cancel)(void *op));
void lua_run_complete_op(LuaRun *run, void (*push)(lua_State *co, void *userdata), void *userdata);

LuaFile *luafile_from_state(lua_State *L);

/* For bindings that loop in C over input (the hook does not run there): true once the
 * running call's deadline (a run's timeout, a load's or a synchronous call's) has passed.
 * The binding then raises an error; the hook drops the run as timed out. */
bool lua_budget_exceeded(lua_State *L);
