/* SPDX-License-Identifier: MIT */
/* The worst-case estimate of Lua's pattern functions (lua/lua-pattern.c): the patterns that
 * backtrack catastrophically are refused, the idioms checks use on long texts pass, and the
 * wrappers in a Lua state refuse with the caller's file:line and otherwise return what Lua's
 * own functions return. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua-pattern.h"
#include "util.h"

/* The wrappers ask the sandbox whether the run's time is up; not here. */
bool lua_budget_exceeded(lua_State *L) {
        return false;
}

static char *repeat(const char *unit, size_t times) {
        size_t u = strlen(unit);
        char *s = malloc(u * times + 1);

        assert_non_null(s);
        for (size_t i = 0; i < times; i++)
                memcpy(s + i * u, unit, u);
        s[u * times] = 0;
        return s;
}

static double cost(const char *pat, const char *s, bool scan, bool find) {
        double c = -1;

        assert_int_equal(pattern_cost(pat, strlen(pat), s, strlen(s), scan, find, false, &c), 0);
        return c;
}

static bool allowed(const char *pat, const char *s, bool scan, bool find) {
        return cost(pat, s, scan, find) <= PATTERN_STEPS_MAX;
}

static void test_hostile_refused(void **state) {
        _cleanup_free_ char *a = repeat("a", 30000), *blanks = repeat(" ", 30000);
        _cleanup_free_ char *stars = repeat("a*", 30);
        char pat[128];

        snprintf(pat, sizeof pat, "%sb", stars);
        assert_false(allowed(pat, a, false, true));             /* the case */
        assert_false(allowed("a*a*b", a, false, true));
        assert_false(allowed(".-.-.-.-.-.-b", a, false, false));
        assert_false(allowed("(a*)(a*)(a*)b", a, false, false));
        assert_false(allowed("a*b", a, false, true));            /* n^2 / 2 really */
        assert_false(allowed("%s+$", blanks, false, false));     /* gsub's trim on 30000 blanks: n^2 */
        assert_false(allowed("a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?aaaaaaaaaaaaaaaaaaaaaaaa",
                             "aaaaaaaaaaaaaaaaaaaaaaaa", false, false));  /* 2^24 */
        assert_false(allowed("(a*)%1b", a, false, false));      /* a back-reference adds n per try */
}

static void test_linear_allowed(void **state) {
        _cleanup_free_ char *a = repeat("a", 1 << 20), *lines = repeat("some words here\n", 65536);
        _cleanup_free_ char *out = repeat("x   y     \n", 6000);

        assert_true(allowed("[^\n]+", lines, true, false));      /* gmatch over a 1 MiB file */
        assert_true(allowed("%S+", lines, true, false));
        assert_true(allowed("^(a+)$", a, false, false));
        assert_true(allowed("a", a, true, false));               /* gsub of one character */
        assert_true(allowed("^(%S+)%s+(%S+)%s+(.*)$", lines, false, false));
        assert_true(allowed("^(%w+)%s*=%s*(.*)$", lines, false, false));
        assert_true(allowed("^[^:]*:%d+: ", lines, false, false));
        assert_true(allowed("%s+$", out, false, false));         /* short runs of blanks: fine */
        assert_true(allowed("error", a, false, true));           /* no specials: a memory search */
        assert_true(cost("a*b", "aaaa", false, true) < 100);
        /* One overlapping .* on a kernel-log line is fine, on a megabyte it is not. */
        assert_true(allowed("error.*disk", "error: blah blah disk 0 ........................", false, true));
        assert_false(allowed("error.*disk", lines, false, true));
}

static void test_malformed(void **state) {
        double c;

        assert_int_equal(pattern_cost("[a", 2, "x", 1, false, false, false, &c), -EINVAL);
        assert_int_equal(pattern_cost("%", 1, "x", 1, false, false, false, &c), -EINVAL);
        assert_int_equal(pattern_cost("%b(", 3, "x", 1, false, false, false, &c), -EINVAL);
        assert_int_equal(pattern_cost("%f", 2, "x", 1, false, false, false, &c), -EINVAL);
        assert_int_equal(pattern_cost("[%]]", 4, "x", 1, false, false, false, &c), 0);
        assert_int_equal(pattern_cost("[]]", 3, "x", 1, false, false, false, &c), 0);
        assert_int_equal(pattern_cost("%f[%w]%w+", 9, "x", 1, false, false, false, &c), 0);
}

/* Through a Lua state: the wrappers refuse with the caller's file:line, and what they allow
 * returns what Lua's own functions return. */
static void test_wrappers(void **state) {
        lua_State *L = luaL_newstate();
        const char *chunk =
                "local s = string.rep('a', 30000)\n"
                "assert(select(2, s:gsub('a', 'b')) == 30000)\n"
                "assert(#s:match('^(a+)$') == 30000)\n"
                "assert(s:find('b', 1, true) == nil)\n"
                "local n = 0 for w in ('x y z'):gmatch('%S+') do n = n + 1 end assert(n == 3)\n"
                "local good, err = pcall(string.find, s, string.rep('a*', 30) .. 'b')\n"
                "assert(not good)\n"
                "return err\n";

        luaL_openlibs(L);
        lua_pattern_guard(L);
        assert_int_equal(luaL_loadbuffer(L, chunk, strlen(chunk), "=t.lua"), LUA_OK);
        if (lua_pcall(L, 0, 1, 0) != LUA_OK)
                fail_msg("%s", lua_tostring(L, -1));
        assert_non_null(strstr(lua_tostring(L, -1), "pattern too complex for subject of 30000 bytes"));
        lua_pop(L, 1);

        const char *direct = "local s = string.rep('a', 30000)\nreturn s:find('a*a*b')\n";
        assert_int_equal(luaL_loadbuffer(L, direct, strlen(direct), "=u.lua"), LUA_OK);
        assert_int_not_equal(lua_pcall(L, 0, 1, 0), LUA_OK);
        assert_non_null(strstr(lua_tostring(L, -1), "u.lua:2: string.find: pattern too complex"));
        lua_pop(L, 1);

        const char *bad = "return ('x'):find('[a')\n";
        assert_int_equal(luaL_loadbuffer(L, bad, strlen(bad), "=v.lua"), LUA_OK);
        assert_int_not_equal(lua_pcall(L, 0, 1, 0), LUA_OK);
        assert_non_null(strstr(lua_tostring(L, -1), "v.lua:1: string.find: malformed pattern (missing ']')"));
        lua_close(L);
}

static void test_regex_backrefs(void **state) {
        assert_int_equal(regex_refuse_backrefs("(a*)\\1"), -EINVAL);
        assert_int_equal(regex_refuse_backrefs("a\\\\1"), 0);        /* an escaped backslash, then 1 */
        assert_int_equal(regex_refuse_backrefs("^Out of memory: .*"), 0);
        assert_int_equal(regex_refuse_backrefs("\\."), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hostile_refused),
                cmocka_unit_test(test_linear_allowed),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_wrappers),
                cmocka_unit_test(test_regex_backrefs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
