/* SPDX-License-Identifier: MIT */
#pragma once

#include "lua-sandbox.h"
#include "ratelimit.h"
#include "strmap.h"
#include "window.h"

typedef enum RemedyKind {
        REMEDY_COMMAND,
        REMEDY_RESTART,
        REMEDY_START,
        REMEDY_STOP,
        REMEDY_CALL,
        REMEDY_REBOOT,
        REMEDY_MAINTENANCE,
        _REMEDY_KIND_MAX,
} RemedyKind;

typedef struct RemedyDecl {
        RemedyKind kind;
        StrList argv;            /* command */
        char *unit;              /* restart/start/stop */
        int fn_ref;              /* call */
        uint64_t timeout;
        StrList methods;         /* reboot: the rule's own ladder; empty = the node's */
        char *drain, *undrain;   /* maintenance */
        uint64_t settle;         /* maintenance: healthy this long after the undrain before the release, 0 = none */
        uint64_t settle_timeout; /* maintenance: came back sick when not settled by then */
        char *text;              /* one-line description: "command /bin/true", "restart foo.service" */
} RemedyDecl;

static inline bool remedy_is_disruptive(const RemedyDecl *r) {
        return r->kind == REMEDY_REBOOT || r->kind == REMEDY_MAINTENANCE;
}

typedef struct CheckDecl {
        char *name;
        LuaFile *file;
        int line;
        int fn_ref;
        uint64_t every, timeout;
        bool timeout_set;        /* timeout given in the file (not the config's check_timeout) */
        RateSpec flapping;
        StrList events;          /* also run at once when one of these events happens */
        StrList watch;           /* absolute paths: also run at once when one appears, changes or goes */
        bool health;             /* part of the node's health (published to the coordinator) */
} CheckDecl;

typedef struct RuleDecl {
        char *name;
        LuaFile *file;
        int line;
        char *when;              /* condition name, or NULL */
        int when_ref;            /* predicate, or LUA_NOREF */
        uint64_t holds, retry;
        RemedyDecl remedy;
        StrList unless;
        Window **windows;
        size_t n_windows;
        RateSpec limit;
        bool limit_set;          /* limit given in the file (not the default 3/1h) */
        char *escalate;
        StrList on_labels;       /* "KEY=VALUE": applies only where every KEY has one of its VALUEs */
        char *inert;             /* why it does not apply on this node (on_labels), NULL = it applies */
        struct RuleDecl **escalated_from; /* the rules of the set whose escalate names this one */
        size_t n_escalated_from;
} RuleDecl;

/* The rules a condition's result may change the decision of: those whose when or unless
 * names it, and those they escalate to (transitively). */
typedef struct RuleDeps {
        RuleDecl **v;
        size_t n;
} RuleDeps;

/* Everything loaded from the check and rule directories: replaced as a whole on reload. */
typedef struct LuaSet {
        LuaFile **files;
        size_t n_files;
        CheckDecl **checks;
        size_t n_checks;
        RuleDecl **rules;        /* the rules that apply on this node */
        size_t n_rules;
        RuleDecl **inert;        /* declared, but their on_labels do not match this node: never run */
        size_t n_inert;
        const Config *config;
        uint64_t load_deadline;  /* monotonic usec: every file loaded by then (LUA_SET_LOAD_TIMEOUT) */
        /* Built as the set loads (the names) and once it loaded (the rest): */
        StrMap check_index, rule_index, inert_index; /* name → CheckDecl / RuleDecl */
        StrMap deps;             /* condition name → RuleDeps */
        RuleDeps any_condition;  /* predicate rules (they may read any condition) and their escalations */
        CheckDecl **health;      /* the health checks */
        size_t n_health;
} LuaSet;

/* Loads every check and rule file of the config's directories. On any error returns -EINVAL
 * with every problem in errors ("file:line: message") and no set. */
int luaset_load(const Config *c, const LuaHost *host, LuaSet **ret, StrList *errors);
/* For medicd --lint: loads the given files and directories (a directory's *.lua files as a
 * check or rule directory is read) instead of the config's, whoever owns them. A file is a
 * check file unless it calls rule(): it is first loaded as a check file, and when that fails
 * on rule() it is loaded again as a rule file. Errors and the result as luaset_load(). */
int luaset_load_paths(const Config *c, const LuaHost *host, char *const *paths, size_t n_paths, LuaSet **ret,
                      StrList *errors);
LuaSet *luaset_free(LuaSet *s);
/* A full garbage collection of every file's Lua state: what loading left behind. */
void luaset_collect(LuaSet *s);
CheckDecl *luaset_find_check(const LuaSet *s, const char *name);
RuleDecl *luaset_find_rule(const LuaSet *s, const char *name);
/* A rule whose on_labels do not match this node (not in s->rules). */
RuleDecl *luaset_find_inert(const LuaSet *s, const char *name);
/* The rules whose decision a result of this condition may change (see RuleDeps); never NULL.
 * The rules of s->any_condition come on top. */
const RuleDeps *luaset_rules_of_condition(const LuaSet *s, const char *condition);
