/* SPDX-License-Identifier: MIT */
/* Lua's pattern functions under a budget. string.find, string.match, string.gmatch and
 * string.gsub run Lua's matcher in C, where neither the instruction hook nor a deadline
 * reach: one call with catastrophic backtracking holds the event loop for minutes. The
 * wrappers installed here estimate the worst case of a call from the pattern and the
 * subject's length before the matcher runs, and refuse (a Lua error naming the caller's
 * file:line) a call whose worst case is above PATTERN_STEPS_MAX. The estimate:
 *
 *   A single-character item with `*`, `+` or `-` whose characters may also start what
 *   follows it (the union of the next items up to the first one that must match) can give
 *   characters back and retry the rest at up to n+1 places: it multiplies the work by n+1
 *   (k such items in a row: n^k, the exponential blow-up of "a*a*a*…b"). One whose
 *   characters cannot start what follows fails at once on each give-back: it adds n. One
 *   with nothing after it (the end of the pattern) never gives back. `?` with overlap
 *   doubles. A match not anchored by `^` is tried at up to n+1 starts (gmatch takes ^ as a
 *   character, gsub as an anchor). Back-references and %b add n; %f is taken as
 *   overlapping everything; a rest of optional items ending in `.*$` or `.-$` cannot fail.
 *
 *   worst = starts × Π multiplying (run+1) × 2^optional × (items + Σ adding run)
 *
 * where a run is first taken as n; when that is over the budget, as the longest run of the
 * subject's characters in the item's set (one linear scan per set, at most RUN_SCANS_MAX), so
 * that "%s+$" on a long command output passes unless the output has a long run of blanks.
 *
 * Plain finds (string.find with plain, or a pattern without specials) cost starts × length
 * of the pattern / 256 (memchr and memcmp). Linear patterns on large subjects are allowed: a
 * 1 MiB subject with "[^\n]+" or "^(%S+)%s+(.*)$" is far below the budget. */
#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "lua-pattern.h"
#include "lua-sandbox.h"

#define SET_WORDS (256 / 64)

typedef struct CharSet {
        uint64_t w[SET_WORDS];
} CharSet;

static void set_add(CharSet *s, unsigned char c) {
        s->w[c / 64] |= UINT64_C(1) << (c % 64);
}

static void set_all(CharSet *s) {
        memset(s->w, 0xff, sizeof s->w);
}

static void set_union(CharSet *a, const CharSet *b) {
        for (int i = 0; i < SET_WORDS; i++)
                a->w[i] |= b->w[i];
}

static bool set_overlaps(const CharSet *a, const CharSet *b) {
        for (int i = 0; i < SET_WORDS; i++)
                if (a->w[i] & b->w[i])
                        return true;
        return false;
}

static void set_complement(CharSet *s) {
        for (int i = 0; i < SET_WORDS; i++)
                s->w[i] = ~s->w[i];
}

/* %a, %d, …: the same classes as lstrlib (C locale ctype). */
static bool class_matches(int c, int cl) {
        bool r;

        switch (tolower(cl)) {
        case 'a': r = isalpha(c); break;
        case 'c': r = iscntrl(c); break;
        case 'd': r = isdigit(c); break;
        case 'g': r = isgraph(c); break;
        case 'l': r = islower(c); break;
        case 'p': r = ispunct(c); break;
        case 's': r = isspace(c); break;
        case 'u': r = isupper(c); break;
        case 'w': r = isalnum(c); break;
        case 'x': r = isxdigit(c); break;
        default: return cl == c;
        }
        return isupper(cl) ? !r : r;
}

/* The set of each class, made once the first time it is used: a pattern is estimated at
 * every call, and 256 ctype lookups per class were most of the estimate's time. */
static void set_add_class(CharSet *s, int cl) {
        static CharSet classes[256];
        static uint64_t made[256 / 64];
        CharSet *k = &classes[(unsigned char) cl];

        if (!(made[cl / 64] & (UINT64_C(1) << (cl % 64)))) {
                for (int c = 0; c < 256; c++)
                        if (class_matches(c, cl))
                                set_add(k, (unsigned char) c);
                made[cl / 64] |= UINT64_C(1) << (cl % 64);
        }
        set_union(s, k);
}

/* [set] starting at p (after '['); returns the position after ']', or NULL when malformed. */
static const char *parse_bracket(const char *p, const char *end, CharSet *ret) {
        CharSet s = {};
        bool neg = false;

        if (p < end && *p == '^') {
                neg = true;
                p++;
        }
        do {
                if (p >= end)
                        return NULL;
                unsigned char c = (unsigned char) *p++;
                if (c == '%') {
                        if (p >= end)
                                return NULL;
                        set_add_class(&s, (unsigned char) *p++);
                } else if (p + 1 < end && *p == '-' && p[1] != ']') {
                        for (int x = c; x <= (unsigned char) p[1]; x++)
                                set_add(&s, (unsigned char) x);
                        p += 2;
                } else
                        set_add(&s, c);
        } while (p < end && *p != ']');
        if (p >= end)
                return NULL;
        if (neg)
                set_complement(&s);
        *ret = s;
        return p + 1;
}

typedef enum ItemKind {
        ITEM_CHAR,      /* one character of a set, maybe quantified */
        ITEM_VAR,       /* a back-reference or %b: matches a run, no give-back of its own */
        ITEM_ZERO,      /* %f: matches no character, conservatively followed by anything */
        ITEM_END,       /* a final $ */
} ItemKind;

typedef struct Item {
        ItemKind kind;
        char quant;     /* 0, '*', '+', '-', '?' */
        CharSet set;    /* the characters it may start with */
} Item;

#define ITEMS_MAX 512   /* the matcher gives up at 200 levels ("pattern too complex") anyway */
#define ITEMS_STACK 64  /* patterns up to this many characters: their items on the stack */

/* The items of pattern p into items[] (room for min(len, ITEMS_MAX): every item takes at least
 * one character); returns their number, or -1 when the pattern is malformed. */
static ssize_t parse_items(const char *p, size_t len, bool *ret_anchored, Item *items) {
        const char *end = p + len;
        size_t n = 0;

        *ret_anchored = false;
        if (p < end && *p == '^') {
                *ret_anchored = true;
                p++;
        }
        while (p < end && n < ITEMS_MAX) {
                Item *it = &items[n];
                memset(it, 0, sizeof *it);
                switch (*p) {
                case '(':
                case ')':
                        p++;
                        continue;
                case '$':
                        if (p + 1 == end) {
                                it->kind = ITEM_END;
                                p++;
                                n++;
                                continue;
                        }
                        set_add(&it->set, '$');
                        p++;
                        break;
                case '.':
                        set_all(&it->set);
                        p++;
                        break;
                case '[':
                        p = parse_bracket(p + 1, end, &it->set);
                        if (!p)
                                goto malformed;
                        break;
                case '%':
                        if (p + 1 >= end)
                                goto malformed;
                        if (p[1] == 'b') {
                                if (p + 3 >= end)
                                        goto malformed;
                                it->kind = ITEM_VAR;
                                set_add(&it->set, (unsigned char) p[2]);
                                p += 4;
                                n++;
                                continue;
                        }
                        if (p[1] == 'f') {
                                CharSet dummy;
                                if (p + 2 >= end || p[2] != '[' || !(p = parse_bracket(p + 3, end, &dummy)))
                                        goto malformed;
                                it->kind = ITEM_ZERO;
                                set_all(&it->set);
                                n++;
                                continue;
                        }
                        if (isdigit((unsigned char) p[1])) {
                                it->kind = ITEM_VAR;
                                set_all(&it->set);
                                p += 2;
                                n++;
                                continue;
                        }
                        set_add_class(&it->set, (unsigned char) p[1]);
                        p += 2;
                        break;
                default:
                        set_add(&it->set, (unsigned char) *p);
                        p++;
                        break;
                }
                it->kind = ITEM_CHAR;
                if (p < end && strchr("*+-?", *p) && *p) {
                        it->quant = *p;
                        p++;
                }
                n++;
        }
        if (p < end)
                goto malformed;
        return n;

malformed:
        return -1;
}

static bool is_dot_star(const Item *it) {
        CharSet all;

        set_all(&all);
        return it->kind == ITEM_CHAR && (it->quant == '*' || it->quant == '-') &&
                memcmp(&it->set, &all, sizeof all) == 0;
}

static bool optional(const Item *it) {
        return it->kind == ITEM_ZERO || (it->kind == ITEM_CHAR && it->quant && it->quant != '+');
}

typedef enum Role {
        ROLE_NONE,      /* matches a fixed amount, or never gives back */
        ROLE_MUL,       /* gives back into what may follow: multiplies by its run + 1 */
        ROLE_ADD,       /* expands over its run once per try: adds it */
        ROLE_OPT,       /* ? into what may follow: doubles */
} Role;

/* How each item of items[0..k) acts in the worst case (see the top of the file). */
static void classify(const Item *items, ssize_t k, Role *roles) {
        for (ssize_t i = 0; i < k; i++) {
                const Item *it = &items[i];
                CharSet follow = {};
                bool terminal = true, dot = false;

                roles[i] = ROLE_NONE;
                if (it->kind == ITEM_VAR) {
                        roles[i] = ROLE_ADD;
                        continue;
                }
                if (it->kind != ITEM_CHAR || !it->quant)
                        continue;
                /* What may come right after it: the next items up to the first that must match. */
                for (ssize_t j = i + 1; j < k; j++) {
                        if (items[j].kind == ITEM_END) {
                                /* Only optional items up to a final $, one of them .* or .-:
                                 * the rest cannot fail, that item takes all there is. */
                                terminal = dot;
                                break;
                        }
                        dot = dot || is_dot_star(&items[j]);
                        set_union(&follow, &items[j].set);
                        terminal = false;
                        if (!optional(&items[j]))
                                break;
                        if (j + 1 == k)
                                terminal = true; /* all optional up to the end: the rest can match nothing */
                }
                if (terminal)
                        continue;
                if (!set_overlaps(&it->set, &follow))
                        roles[i] = it->quant == '?' ? ROLE_NONE : ROLE_ADD;
                else
                        roles[i] = it->quant == '?' ? ROLE_OPT : ROLE_MUL;
        }
}

/* The longest run of subject characters in set: how far one item can expand. */
static size_t longest_run(const char *s, size_t n, const CharSet *set) {
        size_t best = 0, cur = 0;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (set->w[c / 64] & (UINT64_C(1) << (c % 64))) {
                        if (++cur > best)
                                best = cur;
                } else
                        cur = 0;
        }
        return best;
}

static double estimate(const Item *items, const Role *roles, const double *runs, ssize_t k, double starts) {
        double c = 1, added = (double) k;

        for (ssize_t i = 0; i < k; i++)
                switch (roles[i]) {
                case ROLE_MUL: c *= runs[i] + 1; break;
                case ROLE_OPT: c *= 2; break;
                case ROLE_ADD: added += runs[i]; break;
                default: break;
                }
        return starts * c * added;
}

#define RUN_SCANS_MAX 8 /* subject scans for the finer estimate */

int pattern_cost(const char *pat, size_t plen, const char *s, size_t n, bool scan, bool find, bool plain,
                 double *ret_cost) {
        Item items_stack[ITEMS_STACK];
        Role roles_stack[ITEMS_STACK];
        double runs_stack[ITEMS_STACK];
        _cleanup_free_ Item *items_heap = NULL;
        _cleanup_free_ Role *roles_heap = NULL;
        _cleanup_free_ double *runs_heap = NULL;
        Item *items = items_stack;
        Role *roles = roles_stack;
        double *runs = runs_stack;
        bool anchored;
        ssize_t k;
        unsigned scans = 0;
        double starts, cost;

        if (find && !plain && strpbrk(pat, "^$*+?.([%-") == NULL && strlen(pat) == plen)
                plain = true;
        if (plain) {
                *ret_cost = ((double) n + 1) * (1.0 + (double) plen / 256);
                return 0;
        }
        if (plen > ITEMS_STACK) {
                size_t room = plen < ITEMS_MAX ? plen : ITEMS_MAX;
                items = items_heap = calloc(room, sizeof(Item));
                roles = roles_heap = calloc(room, sizeof(Role));
                runs = runs_heap = calloc(room, sizeof(double));
                if (!items || !roles || !runs)
                        return -ENOMEM;
        }
        k = parse_items(pat, plen, &anchored, items);
        if (k < 0)
                return -EINVAL;
        starts = anchored && !scan ? 1 : (double) n + 1;
        classify(items, k, roles);

        /* First with every run as long as the subject. */
        for (ssize_t i = 0; i < k; i++)
                runs[i] = (double) n;
        cost = estimate(items, roles, runs, k, starts);
        if (cost > PATTERN_STEPS_MAX && s) {
                /* Then with the runs the subject really has, for the few sets that matter: "%s+$"
                 * on a command's output is fine unless the output has a long run of blanks. */
                for (ssize_t i = 0; i < k; i++) {
                        if ((roles[i] != ROLE_MUL && roles[i] != ROLE_ADD) || items[i].kind != ITEM_CHAR)
                                continue;
                        ssize_t same = -1;
                        for (ssize_t j = 0; j < i && same < 0; j++)
                                if (runs[j] < (double) n && memcmp(&items[j].set, &items[i].set, sizeof(CharSet)) == 0)
                                        same = j;
                        if (same >= 0)
                                runs[i] = runs[same];
                        else if (scans++ < RUN_SCANS_MAX)
                                runs[i] = (double) longest_run(s, n, &items[i].set);
                }
                cost = estimate(items, roles, runs, k, starts);
        }
        *ret_cost = cost;
        return 0;
}

/* ---- the wrappers -------------------------------------------------------------------- */

static int refuse(lua_State *L, const char *fn, size_t n, double cost) {
        char c[32], max[32];

        snprintf(c, sizeof c, "%.3g", cost);
        snprintf(max, sizeof max, "%.3g", (double) PATTERN_STEPS_MAX);
        /* luaL_error's "file:line:" is the caller's: the Lua code that called fn. */
        return luaL_error(L, "%s: pattern too complex for subject of %I bytes (worst case %s steps, "
                          "limit %s; see PATTERNS in medic-lua(7))", fn, (lua_Integer) n, c, max);
}

/* Upvalue 1: the original function; upvalue 2: its name. */
static int guarded(lua_State *L) {
        const char *fn = lua_tostring(L, lua_upvalueindex(2));
        size_t n, plen;
        const char *s = luaL_checklstring(L, 1, &n);
        const char *p = luaL_checklstring(L, 2, &plen);
        bool scan = strcmp(fn, "string.gmatch") == 0; /* where ^ is no anchor */
        bool find = strcmp(fn, "string.find") == 0;
        bool plain = find && lua_toboolean(L, 4);
        double cost;
        int r;

        if (lua_budget_exceeded(L))
                return luaL_error(L, "%s: the run's time is up", fn);
        r = pattern_cost(p, plen, s, n, scan, find, plain, &cost);
        if (r == -EINVAL) {
                /* Malformed: the matcher says how, at no cost, on an empty subject. */
                lua_pushvalue(L, lua_upvalueindex(1));
                lua_pushliteral(L, "");
                lua_pushvalue(L, 2);
                if (lua_pcall(L, 2, 0, 0) != LUA_OK)
                        return luaL_error(L, "%s: %s", fn, lua_tostring(L, -1));
                return luaL_error(L, "%s: malformed pattern", fn);
        }
        if (r < 0)
                return luaL_error(L, "%s: not enough memory", fn);
        if (!(cost <= PATTERN_STEPS_MAX))
                return refuse(L, fn, n, cost);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
        return lua_gettop(L);
}

void lua_pattern_guard(lua_State *L) {
        static const char *const names[] = { "find", "match", "gmatch", "gsub" };

        lua_getglobal(L, LUA_STRLIBNAME);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                lua_getfield(L, -1, names[i]);
                lua_pushfstring(L, "string.%s", names[i]);
                lua_pushcclosure(L, guarded, 2);
                lua_setfield(L, -2, names[i]);
        }
        lua_pop(L, 1);
}

int regex_refuse_backrefs(const char *re) {
        for (const char *p = re; *p; p++)
                if (*p == '\\') {
                        if (p[1] >= '1' && p[1] <= '9')
                                return -EINVAL;
                        if (p[1])
                                p++;
                }
        return 0;
}
