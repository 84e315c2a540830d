/* SPDX-License-Identifier: MIT */
#pragma once

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>

/* The most matcher steps one call of a pattern function may take in the worst case: about
 * 0.1 s of Lua's matcher on a slow machine (see PATTERNS in medic-lua(7)). */
#define PATTERN_STEPS_MAX 1e7

/* The worst-case steps of matching pattern pat (plen bytes) against subject s of n bytes (s
 * may be NULL: any subject of n bytes): scan for gmatch (every start tried whatever the anchor), find for string.find
 * (plain or without specials: a memory search), plain for its plain argument. Returns 0, or
 * -EINVAL for a malformed pattern, -ENOMEM. */
int pattern_cost(const char *pat, size_t plen, const char *s, size_t n, bool scan, bool find, bool plain,
                 double *ret_cost);

/* Replaces string.find, match, gmatch and gsub in L's string table (which strings' methods
 * are) with wrappers that refuse a call above PATTERN_STEPS_MAX with a Lua error naming the
 * caller's file:line. */
void lua_pattern_guard(lua_State *L);

/* -EINVAL when a POSIX regular expression has back-references (\1…\9), whose matching can
 * take exponential time; 0 otherwise. */
int regex_refuse_backrefs(const char *re);
