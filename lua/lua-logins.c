/* SPDX-License-Identifier: MIT */
/* medic.logins([utmp_path]): who is logged in. With no argument, logind's sessions through
 * sd-login when logind runs (/run/systemd/seats exists), else the utmp file; with a path,
 * that utmp file. The utmp file is read as an array of struct utmpx records rather than
 * through getutxent(), whose file locking waits up to 10 s on SIGALRM. */
#include <lauxlib.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-login.h>
#include <unistd.h>
#include <utmpx.h>

#include "lua-api.h"

#define UTMP_DEFAULT "/var/run/utmp"
#define UTMP_MAX (16 * 1024 * 1024)

static void set_str(lua_State *L, const char *key, const char *value) {
        if (value && *value) {
                lua_pushstring(L, value);
                lua_setfield(L, -2, key);
        }
}

static void set_nstr(lua_State *L, const char *key, const char *value, size_t max) {
        lua_pushlstring(L, value, strnlen(value, max));
        lua_setfield(L, -2, key);
}

static int push_utmp(lua_State *L, const char *path) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r, n = 0;

        r = read_file(path, UTMP_MAX, &buf, &size);
        if (r < 0) {
                lua_pushnil(L);
                lua_pushfstring(L, "%s: %s", path, strerror(-r));
                return 2;
        }
        if (size % sizeof(struct utmpx) != 0) {
                lua_pushnil(L);
                lua_pushfstring(L, "%s: not a utmp file (size %d is not a multiple of %d)", path,
                                (int) size, (int) sizeof(struct utmpx));
                return 2;
        }
        lua_newtable(L);
        for (size_t off = 0; off < size; off += sizeof(struct utmpx)) {
                struct utmpx u;

                memcpy(&u, buf + off, sizeof u);
                if (u.ut_type != USER_PROCESS || !u.ut_user[0])
                        continue;
                lua_createtable(L, 0, 7);
                set_nstr(L, "user", u.ut_user, sizeof u.ut_user);
                set_nstr(L, "tty", u.ut_line, sizeof u.ut_line);
                set_nstr(L, "host", u.ut_host, sizeof u.ut_host);
                lua_pushboolean(L, u.ut_host[0] != 0);
                lua_setfield(L, -2, "remote");
                lua_pushinteger(L, (lua_Integer) u.ut_tv.tv_sec);
                lua_setfield(L, -2, "since");
                lua_pushinteger(L, (lua_Integer) u.ut_pid);
                lua_setfield(L, -2, "pid");
                lua_pushliteral(L, "utmp");
                lua_setfield(L, -2, "source");
                lua_rawseti(L, -2, ++n);
        }
        return 1;
}

/* logind keeps REALTIME= (usec) in its session file; sd-login has no call for it in v252. */
static int64_t session_start(const char *id) {
        _cleanup_free_ char *path = strprintf("/run/systemd/sessions/%s", id), *buf = NULL;
        size_t size;

        if (!path || read_file(path, 64 * 1024, &buf, &size) < 0)
                return 0;
        for (char *line = buf; line && *line; ) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = 0;
                if (strncmp(line, "REALTIME=", 9) == 0)
                        return (int64_t) (strtoull(line + 9, NULL, 10) / USEC_PER_SEC);
                line = nl ? nl + 1 : NULL;
        }
        return 0;
}

static char *user_name(uid_t uid) {
        /* Local users come from /etc/passwd; a directory service (NSS) might be slow, but
         * logind already resolved the same user when the session opened, so it is cached. */
        struct passwd pw, *res = NULL;
        char buf[4096];

        if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
                return strdup(res->pw_name);
        return strprintf("%u", (unsigned) uid);
}

static int push_logind(lua_State *L) {
        char **sessions = NULL;
        int r, n = 0;

        r = sd_get_sessions(&sessions);
        if (r < 0) {
                lua_pushnil(L);
                lua_pushfstring(L, "logind: cannot list sessions: %s", strerror(-r));
                return 2;
        }
        lua_newtable(L);
        for (char **s = sessions; s && *s; s++) {
                _cleanup_free_ char *class = NULL, *state = NULL, *type = NULL, *tty = NULL,
                                    *host = NULL, *name = NULL;
                uid_t uid;
                int remote;

                if (sd_session_get_class(*s, &class) < 0 || strcmp(class, "user") != 0)
                        continue;       /* greeter, lock-screen, background */
                if (sd_session_get_state(*s, &state) >= 0 && strcmp(state, "closing") == 0)
                        continue;       /* logged out; only lingering processes are left */
                if (sd_session_get_uid(*s, &uid) < 0)
                        continue;
                (void) sd_session_get_type(*s, &type);
                (void) sd_session_get_tty(*s, &tty);
                (void) sd_session_get_remote_host(*s, &host);
                remote = sd_session_is_remote(*s);
                name = user_name(uid);

                lua_createtable(L, 0, 8);
                set_str(L, "user", name);
                lua_pushstring(L, tty ? tty : "");
                lua_setfield(L, -2, "tty");
                lua_pushstring(L, host ? host : "");
                lua_setfield(L, -2, "host");
                lua_pushboolean(L, remote > 0);
                lua_setfield(L, -2, "remote");
                lua_pushinteger(L, (lua_Integer) session_start(*s));
                lua_setfield(L, -2, "since");
                set_str(L, "session", *s);
                set_str(L, "type", type);
                lua_pushliteral(L, "logind");
                lua_setfield(L, -2, "source");
                lua_rawseti(L, -2, ++n);
        }
        for (char **s = sessions; s && *s; s++)
                free(*s);
        free(sessions);
        return 1;
}

static int l_logins(lua_State *L) {
        const char *path = luaL_optstring(L, 1, NULL);

        if (path)
                return push_utmp(L, path);
        if (access("/run/systemd/seats", F_OK) == 0)
                return push_logind(L);
        return push_utmp(L, UTMP_DEFAULT);
}

void lua_logins_open(LuaFile *f) {
        lua_pushcfunction(f->L, l_logins);
        lua_setfield(f->L, -2, "logins");
}
