/* SPDX-License-Identifier: MIT */
/* medic.deleted_libraries([options]): processes that still map a shared library whose file
 * was deleted (replaced by a package upgrade), from /proc/PID/maps. Returns an array of
 * { pid = N, comm = "name", libraries = { "/usr/lib/…/libssl.so.3", … } }, the number of
 * processes whose maps could be read, and — when it stopped early because max_ms ran out —
 * the pid to pass as `after` to go on (nil when the scan is complete).
 * options: a string (the proc root) or { proc = "/proc", after = PID, max_ms = MS }.
 * One call holds the event loop for about max_ms (default: no limit), so a check scans in
 * slices and the daemon's preemption runs between them; bench/deleted-libraries.sh
 * measures the cost against the same scan in Lua. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include "lua-api.h"

#define SCAN_MT "medic.procmaps.scan"
#define DELETED_SUFFIX " (deleted)"

/* What must be freed if Lua raises an error (out of memory) half-way: kept in a userdata. */
typedef struct Scan {
        DIR *dir;
        char *buf;
        size_t cap;
} Scan;

static void scan_release(Scan *s) {
        if (s->dir)
                closedir(s->dir);
        s->dir = NULL;
        free(s->buf);
        s->buf = NULL;
        s->cap = 0;
}

static int scan_gc(lua_State *L) {
        scan_release(luaL_checkudata(L, 1, SCAN_MT));
        return 0;
}

/* Reads the whole file dirfd/path into s->buf (NUL-terminated). No Lua calls in here. */
static int read_all(Scan *s, int dirfd, const char *path, size_t *ret_size) {
        size_t size = 0;
        int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                if (s->cap - size < 4097) {
                        size_t cap = s->cap ? s->cap * 2 : 65536;
                        char *b = realloc(s->buf, cap);
                        if (!b) {
                                close(fd);
                                return -ENOMEM;
                        }
                        s->buf = b;
                        s->cap = cap;
                }
                ssize_t n = read(fd, s->buf + size, s->cap - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        close(fd);
                        return r;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        close(fd);
        s->buf[size] = '\0';
        *ret_size = size;
        return 0;
}

/* "libssl.so.3", "libfoo.so", "ld-linux-x86-64.so.2": a shared library by its name. */
static bool looks_like_library(const char *path, size_t len) {
        const char *base = path;
        for (size_t i = 0; i < len; i++)
                if (path[i] == '/')
                        base = path + i + 1;
        size_t blen = (size_t) (path + len - base);
        for (size_t i = 0; i + 3 <= blen; i++)
                if (memcmp(base + i, ".so", 3) == 0 && (i + 3 == blen || base[i + 3] == '.'))
                        return true;
        return false;
}

/* The path of one maps line ("addr perms offset dev inode   path"), or NULL. */
static const char *maps_path(const char *line, const char *end) {
        const char *p = line;
        for (int field = 0; field < 5; field++) {
                while (p < end && *p != ' ')
                        p++;
                while (p < end && *p == ' ')
                        p++;
        }
        return p < end && *p == '/' ? p : NULL;
}

static void read_comm(int dirfd, const char *pid, char *comm, size_t size) {
        char path[300];
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "%s/comm", pid);
        comm[0] = '\0';
        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        n = read(fd, comm, size - 1);
        close(fd);
        if (n <= 0)
                return;
        comm[n] = '\0';
        comm[strcspn(comm, "\n")] = '\0';
}

static int l_deleted_libraries(lua_State *L) {
        const char *root = "/proc";
        lua_Integer scanned = 0, found = 0, after = 0, max_ms = 0, stopped_at = 0, scanned_last = 0;
        struct dirent *de;
        uint64_t start;
        Scan *s;

        if (lua_type(L, 1) == LUA_TTABLE) {
                lua_getfield(L, 1, "proc");
                if (!lua_isnil(L, -1))
                        root = luaL_checkstring(L, -1);
                lua_getfield(L, 1, "after");
                after = luaL_optinteger(L, -1, 0);
                lua_getfield(L, 1, "max_ms");
                max_ms = luaL_optinteger(L, -1, 0);
                lua_pop(L, 3);                                /* root stays referenced by arg 1 */
        } else
                root = luaL_optstring(L, 1, "/proc");
        lua_settop(L, 1);
        start = now_monotonic();
        s = lua_newuserdatauv(L, sizeof(Scan), 0);          /* 2: the scan box */
        *s = (Scan) {};
        luaL_setmetatable(L, SCAN_MT);
        s->dir = opendir(root);
        if (!s->dir) {
                lua_pushnil(L);
                lua_pushfstring(L, "%s: %s", root, strerror(errno));
                return 2;
        }
        lua_newtable(L);                                      /* 3: result */
        while ((de = readdir(s->dir))) {
                char path[300], comm[64];
                size_t size = 0;
                int n_libs = 0;

                if (!isdigit((unsigned char) de->d_name[0]))
                        continue;
                lua_Integer pid = strtoll(de->d_name, NULL, 10);
                if (pid <= after)
                        continue;
                /* Stopped like max_ms when the run's own deadline passed: the hook does not run here. */
                if (scanned > 0 && ((max_ms > 0 && now_monotonic() - start >= (uint64_t) max_ms * USEC_PER_MSEC) ||
                                    ((scanned & 63) == 0 && lua_budget_exceeded(L)))) {
                        stopped_at = scanned_last;
                        break;
                }
                snprintf(path, sizeof(path), "%s/maps", de->d_name);
                if (read_all(s, dirfd(s->dir), path, &size) < 0)
                        continue;                            /* gone, or not ours to read */
                scanned++;
                lua_newtable(L);                              /* 4: set of paths seen */
                for (char *line = s->buf, *nl; line < s->buf + size; line = nl + 1) {
                        nl = memchr(line, '\n', (size_t) (s->buf + size - line));
                        if (!nl)
                                nl = s->buf + size;
                        size_t slen = strlen(DELETED_SUFFIX);
                        if ((size_t) (nl - line) <= slen || memcmp(nl - slen, DELETED_SUFFIX, slen) != 0)
                                continue;
                        const char *p = maps_path(line, nl - slen);
                        if (!p || !looks_like_library(p, (size_t) (nl - slen - p)))
                                continue;
                        lua_pushlstring(L, p, (size_t) (nl - slen - p));
                        lua_pushvalue(L, -1);
                        if (lua_rawget(L, 4) != LUA_TNIL) {
                                lua_pop(L, 2);
                                continue;
                        }
                        lua_pop(L, 1);
                        if (n_libs == 0) {
                                lua_newtable(L);              /* 6: libraries */
                                lua_insert(L, 5);
                        }
                        lua_pushvalue(L, -1);
                        lua_rawseti(L, 5, ++n_libs);
                        lua_pushboolean(L, 1);
                        lua_rawset(L, 4);
                }
                if (n_libs > 0) {
                        lua_createtable(L, 0, 3);
                        lua_pushinteger(L, pid);
                        lua_setfield(L, -2, "pid");
                        read_comm(dirfd(s->dir), de->d_name, comm, sizeof(comm));
                        lua_pushstring(L, comm);
                        lua_setfield(L, -2, "comm");
                        lua_pushvalue(L, 5);
                        lua_setfield(L, -2, "libraries");
                        lua_rawseti(L, 3, ++found);
                        lua_pop(L, 1);                        /* libraries */
                }
                lua_pop(L, 1);                                /* the set */
                scanned_last = pid;
        }
        scan_release(s);
        lua_pushinteger(L, scanned);
        if (stopped_at > 0)
                lua_pushinteger(L, stopped_at);
        else
                lua_pushnil(L);
        return 3;
}

void lua_procmaps_open(LuaFile *f) {
        lua_State *L = f->L;

        if (luaL_newmetatable(L, SCAN_MT)) {
                lua_pushcfunction(L, scan_gc);
                lua_setfield(L, -2, "__gc");
        }
        lua_pop(L, 1);
        lua_pushcfunction(L, l_deleted_libraries);
        lua_setfield(L, -2, "deleted_libraries");
}
