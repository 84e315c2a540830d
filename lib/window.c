/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util.h"
#include "window.h"

#define MIN_PER_DAY (24 * 60)

struct Window {
        char *text;
        unsigned days;          /* bit n set: window starts on tm_wday n (0 = Sunday) */
        int start;              /* minutes after local midnight, 0..1439 */
        int length;             /* minutes, 1..1440 */
        char *tz;               /* zone name, NULL for the system's local time */
        char *tz_env;           /* value for $TZ: ":/usr/share/zoneinfo/NAME" */
};

static const char *const day_names[7][2] = {
        { "sun", "sunday" },
        { "mon", "monday" },
        { "tue", "tuesday" },
        { "wed", "wednesday" },
        { "thu", "thursday" },
        { "fri", "friday" },
        { "sat", "saturday" },
};

static int day_from_string(const char *s, size_t len) {
        for (int i = 0; i < 7; i++)
                for (int j = 0; j < 2; j++)
                        if (strlen(day_names[i][j]) == len && strncasecmp(s, day_names[i][j], len) == 0)
                                return i;
        return -EINVAL;
}

static int parse_days(const char *s, unsigned *ret, char **ret_error) {
        unsigned days = 0;

        if (strcasecmp(s, "daily") == 0 || strcmp(s, "*") == 0) {
                *ret = 0x7f;
                return 0;
        }

        for (const char *p = s;;) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t) (comma - p) : strlen(p);
                const char *dash = memchr(p, '-', len);
                int a, b;

                if (dash) {
                        a = day_from_string(p, (size_t) (dash - p));
                        b = day_from_string(dash + 1, len - (size_t) (dash - p) - 1);
                } else
                        a = b = day_from_string(p, len);
                if (a < 0 || b < 0) {
                        const char *bad = a < 0 ? p : dash + 1;
                        size_t badlen = a < 0 ? (dash ? (size_t) (dash - p) : len)
                                              : len - (size_t) (dash - p) - 1;
                        *ret_error = strprintf("unknown day '%.*s'", (int) badlen, bad);
                        return -EINVAL;
                }
                /* Ranges may wrap around the week: Fri-Mon. */
                for (int d = a;; d = (d + 1) % 7) {
                        days |= 1u << d;
                        if (d == b)
                                break;
                }
                if (!comma)
                        break;
                p = comma + 1;
        }
        *ret = days;
        return 0;
}

/* "HH:MM"; with allow_24, "24:00" too. Returns minutes or -EINVAL. */
static int parse_hhmm(const char *s, size_t len, bool allow_24) {
        int h = 0, m;
        size_t i = 0;

        if (len < 4 || len > 5)
                return -EINVAL;
        for (; i < len && isdigit((unsigned char) s[i]); i++)
                h = h * 10 + (s[i] - '0');
        if (i < 1 || i > 2 || i + 3 != len || s[i] != ':' ||
            !isdigit((unsigned char) s[i + 1]) || !isdigit((unsigned char) s[i + 2]))
                return -EINVAL;
        m = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
        if (m > 59)
                return -EINVAL;
        if (h == 24 && m == 0 && allow_24)
                return MIN_PER_DAY;
        if (h > 23)
                return -EINVAL;
        return h * 60 + m;
}

static bool tz_name_valid(const char *s) {
        if (!*s || *s == '/' || strlen(s) > 255)
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("/_-+", *p))
                        return false;
        /* No "." or ".." components, which also keeps us inside the zoneinfo directory. */
        return !strstr(s, "//");
}

static int resolve_tz(const char *name, char **ret_env) {
        const char *dir = getenv("TZDIR");
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (!tz_name_valid(name))
                return -EINVAL;
        if (!dir || !*dir)
                dir = "/usr/share/zoneinfo";
        path = strprintf("%s/%s", dir, name);
        if (!path)
                return -ENOMEM;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
                /* UTC needs no tz database. */
                if (strcmp(name, "UTC") == 0) {
                        *ret_env = strdup("UTC0");
                        return *ret_env ? 0 : -ENOMEM;
                }
                return -ENOENT;
        }
        *ret_env = strprintf(":%s", path);
        return *ret_env ? 0 : -ENOMEM;
}

int window_parse(const char *s, Window **ret, char **ret_error) {
        _cleanup_free_ char *copy = NULL;
        char *tok[4] = {}, *save = NULL, *dash;
        Window *w = NULL;
        size_t ntok = 0;
        int r;

        *ret_error = NULL;
        if (!s)
                return -EINVAL;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
                if (ntok == ELEMENTSOF(tok))
                        break;
                tok[ntok++] = t;
        }
        if (ntok < 2 || ntok > 3) {
                *ret_error = strprintf("invalid window '%s' (expected 'DAYS HH:MM-HH:MM [TIMEZONE]')", s);
                return -EINVAL;
        }

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->text = strdup(s);
        if (!w->text) {
                r = -ENOMEM;
                goto fail;
        }

        r = parse_days(tok[0], &w->days, ret_error);
        if (r < 0)
                goto fail;

        dash = strchr(tok[1], '-');
        if (dash) {
                int a = parse_hhmm(tok[1], (size_t) (dash - tok[1]), false);
                int b = parse_hhmm(dash + 1, strlen(dash + 1), true);

                if (a >= 0 && b >= 0) {
                        w->start = a;
                        /* end <= start: crosses midnight (equal: a full 24 hours). */
                        w->length = b > a ? b - a : b + MIN_PER_DAY - a;
                } else
                        dash = NULL;
        }
        if (!dash) {
                *ret_error = strprintf("invalid time range '%s' (expected HH:MM-HH:MM)", tok[1]);
                r = -EINVAL;
                goto fail;
        }

        if (ntok == 3) {
                r = resolve_tz(tok[2], &w->tz_env);
                if (r == -ENOMEM)
                        goto fail;
                if (r < 0) {
                        *ret_error = strprintf("unknown time zone '%s'", tok[2]);
                        r = -EINVAL;
                        goto fail;
                }
                w->tz = strdup(tok[2]);
                if (!w->tz) {
                        r = -ENOMEM;
                        goto fail;
                }
        }

        *ret = w;
        return 0;

fail:
        window_free(w);
        if (r == -EINVAL && !*ret_error)
                return -ENOMEM;
        return r;
}

/* Local time in the window's zone: $TZ is switched for the duration and restored (the daemon is
 * single-threaded). */
typedef struct TzSave {
        bool active;
        char *old;
} TzSave;

static void tz_enter(const Window *w, TzSave *save) {
        const char *old;

        *save = (TzSave) {};
        if (!w->tz_env)
                return;
        old = getenv("TZ");
        if (old) {
                save->old = strdup(old);
                if (!save->old)
                        return; /* cannot restore it: stay in the local zone */
        }
        save->active = true;
        setenv("TZ", w->tz_env, 1);
        tzset();
}

static void tz_leave(TzSave *save) {
        if (!save->active)
                return;
        if (save->old)
                setenv("TZ", save->old, 1);
        else
                unsetenv("TZ");
        tzset();
        free(save->old);
        *save = (TzSave) {};
}

static bool contains_local(const Window *w, time_t t) {
        struct tm tm;
        int m, yday;

        if (!localtime_r(&t, &tm))
                return false;
        m = tm.tm_hour * 60 + tm.tm_min;
        yday = (tm.tm_wday + 6) % 7;

        /* Started today? */
        if ((w->days & (1u << tm.tm_wday)) && m >= w->start && m < w->start + w->length)
                return true;
        /* Started yesterday and crosses midnight? */
        if ((w->days & (1u << yday)) && m + MIN_PER_DAY < w->start + w->length)
                return true;
        return false;
}

bool window_contains(const Window *w, time_t t) {
        TzSave save;
        bool b;

        if (!w)
                return false;
        tz_enter(w, &save);
        b = contains_local(w, t);
        tz_leave(&save);
        return b;
}

time_t window_next_open(const Window *w, time_t t) {
        time_t best = (time_t) -1;
        TzSave save;
        struct tm tm;

        if (!w || w->days == 0)
                return (time_t) -1;

        tz_enter(w, &save);
        if (contains_local(w, t)) {
                best = t;
                goto finish;
        }
        if (!localtime_r(&t, &tm))
                goto finish;

        /* The window opens at one of its start times: try today and the next 8 days. */
        for (int i = 0; i <= 8; i++) {
                struct tm c = {
                        .tm_year = tm.tm_year,
                        .tm_mon = tm.tm_mon,
                        .tm_mday = tm.tm_mday + i,
                        .tm_hour = w->start / 60,
                        .tm_min = w->start % 60,
                        .tm_isdst = -1,
                };
                time_t s = mktime(&c);

                if (s == (time_t) -1 || s < t)
                        continue;
                /* Also rules out start times that do not exist on DST change days. */
                if (!contains_local(w, s))
                        continue;
                if (best == (time_t) -1 || s < best)
                        best = s;
        }
finish:
        tz_leave(&save);
        return best;
}

const char *window_text(const Window *w) {
        return w ? w->text : NULL;
}

Window *window_free(Window *w) {
        if (!w)
                return NULL;
        free(w->text);
        free(w->tz);
        free(w->tz_env);
        free(w);
        return NULL;
}
