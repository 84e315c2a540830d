/* SPDX-License-Identifier: MIT */
/* medicctl: the command line client of medicd's control socket.
 *
 * lint and test are the exceptions: they run `medicd --lint` and `medicd --test` (loading Lua
 * files as medicd does needs medicd's Lua runtime, which medicctl does not link), found at
 * $MEDICD or SBINDIR/medicd.
 *
 * Otherwise one request per run: connect, send one JSON object + "\n", read one JSON object + "\n"
 * (at most 16 MiB), print it as a table or as JSON. Everything that comes from the socket
 * is checked for type before use; a missing or odd field prints as "-". */

/* The build's medic-build.h (PACKAGE_VERSION, DEFAULT_SOCKET: medicd's default too) comes in through -include. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fleet.h"
#include "protocol.h"
#include "util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#ifndef DEFAULT_SOCKET
#define DEFAULT_SOCKET "/run/medic/medicd.sock"
#endif

#ifdef SBINDIR
#define DEFAULT_MEDICD SBINDIR "/medicd"
#else
#define DEFAULT_MEDICD "/usr/sbin/medicd"
#endif

#define MAX_REQUEST (64U * 1024U)        /* including the "\n" */
#define MAX_REPLY (16U * 1024U * 1024U)  /* including the "\n" */
#define DEFAULT_TIMEOUT_SEC 60.0
#define MAX_TIMEOUT_SEC (366.0 * 24 * 3600)
#define DEFAULT_HISTORY_LIMIT 50
#define MAX_HISTORY_LIMIT 1000000L

enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,   /* medicd answered ok=false, or output could not be written */
        EXIT_USAGE = 2,    /* bad command line */
        EXIT_NOCONN = 3,   /* cannot talk to medicd: connect, timeout, broken or invalid reply */
};

static const char *program = "medicctl";

/* ---- small helpers ------------------------------------------------------------------------ */

static _Noreturn void die_oom(void) {
        fprintf(stderr, "%s: out of memory\n", program);
        exit(EXIT_FAILED);
}

static void ctl_closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

static void ctl_json_putp(json_object **o) {
        json_object_put(*o);
}

static void ctl_tokener_freep(json_tokener **t) {
        if (*t)
                json_tokener_free(*t);
}

static uint64_t ctl_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* A growable string; dies on allocation failure (this is a short-lived CLI). */
typedef struct Str {
        char *s;
        size_t n, a;
} Str;

static void str_putn(Str *b, const char *p, size_t n) {
        if (b->n + n + 1 > b->a) {
                size_t a = b->a ? b->a : 64;
                while (a < b->n + n + 1)
                        a *= 2;
                char *s = realloc(b->s, a);
                if (!s)
                        die_oom();
                b->s = s;
                b->a = a;
        }
        memcpy(b->s + b->n, p, n);
        b->n += n;
        b->s[b->n] = '\0';
}

static void str_puts(Str *b, const char *s) {
        str_putn(b, s, strlen(s));
}

static _printf_(2, 3) void str_printf(Str *b, const char *fmt, ...) {
        char small[128];
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vsnprintf(small, sizeof small, fmt, ap);
        va_end(ap);
        if (r < 0)
                return;
        if ((size_t) r < sizeof small) {
                str_putn(b, small, (size_t) r);
                return;
        }

        _cleanup_free_ char *big = malloc((size_t) r + 1);
        if (!big)
                die_oom();
        va_start(ap, fmt);
        vsnprintf(big, (size_t) r + 1, fmt, ap);
        va_end(ap);
        str_putn(b, big, (size_t) r);
}

/* Appends s with everything a terminal could act on replaced: C0/C1 controls, DEL, invalid
 * UTF-8 and bidirectional overrides become '?'; newlines and tabs become spaces. */
static void str_put_sanitized(Str *b, const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                unsigned char c = *p;
                size_t len, i;
                uint32_t cp;

                if (c < 0x80) {
                        if (c == '\n' || c == '\t' || c == '\r')
                                str_putn(b, " ", 1);
                        else if (c < 0x20 || c == 0x7f)
                                str_putn(b, "?", 1);
                        else
                                str_putn(b, (const char *) p, 1);
                        p++;
                        continue;
                }

                if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else
                        goto invalid;

                for (i = 1; i < len; i++) {
                        if ((p[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
                                goto invalid;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        goto invalid;
                if ((cp >= 0x80 && cp <= 0x9f) ||                /* C1 controls (CSI, OSC, …) */
                    (cp >= 0x202a && cp <= 0x202e) ||            /* bidi embeddings/overrides */
                    (cp >= 0x2066 && cp <= 0x2069))              /* bidi isolates */
                        str_putn(b, "?", 1);
                else
                        str_putn(b, (const char *) p, len);
                p += len;
                continue;
        invalid:
                str_putn(b, "?", 1);
                p++;
        }
}

static char *str_take(Str *b) {
        if (!b->s)
                str_putn(b, "", 0);
        char *s = b->s;
        *b = (Str) {};
        return s;
}

static char *xstrdup(const char *s) {
        char *r = strdup(s);
        if (!r)
                die_oom();
        return r;
}

static char *sanitized(const char *s) {
        Str b = {};

        str_put_sanitized(&b, s);
        return str_take(&b);
}

/* Display width in columns, counting each code point as one (the strings are sanitized). */
static size_t text_width(const char *s) {
        size_t w = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        w++;
        return w;
}

/* ---- typed access to the reply ------------------------------------------------------------ */

static json_object *field(json_object *o, const char *key) {
        json_object *v = NULL;

        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        return v; /* NULL for JSON null */
}

static const char *get_string(json_object *o, const char *key) {
        json_object *v = field(o, key);

        if (!v || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool get_bool(json_object *o, const char *key, bool *ret) {
        json_object *v = field(o, key);

        if (!v || !json_object_is_type(v, json_type_boolean))
                return false;
        *ret = json_object_get_boolean(v);
        return true;
}

static bool value_int(json_object *v, int64_t *ret) {
        if (!v)
                return false;
        if (json_object_is_type(v, json_type_int)) {
                *ret = json_object_get_int64(v);
                return true;
        }
        if (json_object_is_type(v, json_type_double)) {
                double d = json_object_get_double(v);
                if (!isfinite(d) || d < -9.0e18 || d > 9.0e18)
                        return false;
                *ret = (int64_t) d;
                return true;
        }
        return false;
}

static bool get_int(json_object *o, const char *key, int64_t *ret) {
        return value_int(field(o, key), ret);
}

static json_object *get_array(json_object *o, const char *key) {
        json_object *v = field(o, key);

        return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

static json_object *get_object(json_object *o, const char *key) {
        json_object *v = field(o, key);

        return v && json_object_is_type(v, json_type_object) ? v : NULL;
}

/* ---- formatting --------------------------------------------------------------------------- */

static void put_value(Str *b, json_object *v);

/* Any JSON value for humans: null "-", bools yes/no, arrays joined by ", ", objects as compact
 * JSON; strings are sanitized. */
static void put_value(Str *b, json_object *v) {
        switch (v ? json_object_get_type(v) : json_type_null) {
        case json_type_null:
                str_puts(b, "-");
                break;
        case json_type_boolean:
                str_puts(b, json_object_get_boolean(v) ? "yes" : "no");
                break;
        case json_type_int:
                str_printf(b, "%" PRId64, json_object_get_int64(v));
                break;
        case json_type_double:
                str_printf(b, "%g", json_object_get_double(v));
                break;
        case json_type_string:
                if (json_object_get_string_len(v) == 0)
                        str_puts(b, "-");
                else
                        str_put_sanitized(b, json_object_get_string(v));
                break;
        case json_type_array: {
                size_t n = json_object_array_length(v);
                if (n == 0) {
                        str_puts(b, "-");
                        break;
                }
                for (size_t i = 0; i < n; i++) {
                        if (i > 0)
                                str_puts(b, ", ");
                        put_value(b, json_object_array_get_idx(v, i));
                }
                break;
        }
        case json_type_object:
        default:
                str_put_sanitized(b, json_object_to_json_string_ext(
                                  v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                break;
        }
}

static char *format_value(json_object *v) {
        Str b = {};

        put_value(&b, v);
        return str_take(&b);
}

static char *format_field(json_object *o, const char *key) {
        return format_value(field(o, key));
}

/* For fields the protocol defines as strings: anything else (or "") prints as "-". */
static char *format_string(json_object *o, const char *key) {
        const char *s = get_string(o, key);

        return sanitized(s && *s ? s : "-");
}

static void put_abs_time(Str *b, int64_t t) {
        struct tm tm;
        char buf[64];
        time_t tt = (time_t) t;

        if (t <= 0) {
                str_puts(b, "-");
                return;
        }
        if ((int64_t) tt != t || !localtime_r(&tt, &tm) ||
            strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
                str_printf(b, "@%" PRId64, t);
                return;
        }
        str_puts(b, buf);
}

/* "5s ago", "3m ago", "2h5m ago", "3d4h ago", "now", or "in 10s" for times in the future. */
static void put_rel_time(Str *b, int64_t t, int64_t now) {
        uint64_t d;
        bool future;

        if (t <= 0) {
                str_puts(b, "-");
                return;
        }
        future = t > now;
        d = future ? (uint64_t) t - (uint64_t) now : (uint64_t) now - (uint64_t) t;
        if (d == 0) {
                str_puts(b, "now");
                return;
        }
        if (future)
                str_puts(b, "in ");
        if (d < 60)
                str_printf(b, "%" PRIu64 "s", d);
        else if (d < 3600)
                str_printf(b, "%" PRIu64 "m", d / 60);
        else if (d < 86400) {
                str_printf(b, "%" PRIu64 "h", d / 3600);
                if ((d % 3600) / 60)
                        str_printf(b, "%" PRIu64 "m", (d % 3600) / 60);
        } else {
                str_printf(b, "%" PRIu64 "d", d / 86400);
                if ((d % 86400) / 3600)
                        str_printf(b, "%" PRIu64 "h", (d % 86400) / 3600);
        }
        if (!future)
                str_puts(b, " ago");
}

/* "2024-05-01 12:00:00 (3m ago)" */
static void put_time_both(Str *b, json_object *o, const char *key, int64_t now) {
        int64_t t;

        if (!get_int(o, key, &t) || t <= 0) {
                str_puts(b, "-");
                return;
        }
        put_abs_time(b, t);
        str_puts(b, " (");
        put_rel_time(b, t, now);
        str_puts(b, ")");
}

/* A maintenance in progress (status, explain): "PHASE for rule R", and for a settle since
 * when and what it waits for. */
static void put_maintenance(Str *b, json_object *o, int64_t now) {
        const char *phase = get_string(o, "phase"), *rule = get_string(o, "rule"), *wait = get_string(o, "waiting_for");
        _cleanup_free_ char *p = sanitized(phase ? phase : "-"), *r = sanitized(rule ? rule : "-");
        int64_t since;

        str_printf(b, "%s for rule %s", p, r);
        if (get_int(o, "since", &since) && since > 0) {
                str_puts(b, " since ");
                put_time_both(b, o, "since", now);
        }
        if (wait && *wait) {
                _cleanup_free_ char *w = sanitized(wait);
                str_printf(b, ": waiting for %s", w);
        }
}

/* ---- tables ------------------------------------------------------------------------------- */

typedef struct Table {
        size_t n_columns;
        char **cells;           /* row-major; row 0 is the header */
        size_t n_cells, allocated;
} Table;

static void table_add(Table *t, char *cell) {
        if (t->n_cells == t->allocated) {
                size_t a = t->allocated ? t->allocated * 2 : 32;
                char **c = reallocarray(t->cells, a, sizeof *c);
                if (!c)
                        die_oom();
                t->cells = c;
                t->allocated = a;
        }
        t->cells[t->n_cells++] = cell;
}

static void table_header(Table *t, size_t n_columns, const char *const *names) {
        t->n_columns = n_columns;
        for (size_t i = 0; i < n_columns; i++)
                table_add(t, xstrdup(names[i]));
}

static size_t table_rows(const Table *t) {
        return t->n_columns ? t->n_cells / t->n_columns : 0;
}

static void table_print(const Table *t, FILE *f) {
        _cleanup_free_ size_t *width = calloc(t->n_columns ? t->n_columns : 1, sizeof *width);
        if (!width)
                die_oom();

        for (size_t i = 0; i < t->n_cells; i++) {
                size_t w = text_width(t->cells[i]);
                if (w > width[i % t->n_columns])
                        width[i % t->n_columns] = w;
        }

        for (size_t r = 0; r < table_rows(t); r++)
                for (size_t c = 0; c < t->n_columns; c++) {
                        const char *s = t->cells[r * t->n_columns + c];
                        fputs(s, f);
                        if (c + 1 == t->n_columns) {
                                fputc('\n', f);
                                continue;
                        }
                        for (size_t w = text_width(s); w < width[c] + 2; w++)
                                fputc(' ', f);
                }
}

static void table_done(Table *t) {
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        *t = (Table) {};
}

/* ---- the commands' output ----------------------------------------------------------------- */

/* A labels object {KEY: VALUE} as "KEY=VALUE, KEY=VALUE", "-" when there are none. */
/* The node's stop file {path, present}: "PATH (present: no permission is granted)" or "PATH (absent)". */
static char *format_stop_file(json_object *o) {
        const char *path = get_string(o, "path");
        json_object *p = field(o, "present");
        Str b = {};

        if (!path)
                return xstrdup("-");
        str_put_sanitized(&b, path);
        str_puts(&b, p && json_object_get_boolean(p) ? " (present: this node is stopped)" : " (absent)");
        return str_take(&b);
}

static char *format_labels(json_object *labels) {
        Str b = {};

        if (labels && json_object_is_type(labels, json_type_object)) {
                json_object_object_foreach(labels, k, v) {
                        if (b.n)
                                str_puts(&b, ", ");
                        str_put_sanitized(&b, k);
                        str_puts(&b, "=");
                        str_put_sanitized(&b, json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "?");
                }
        }
        if (!b.n)
                str_puts(&b, "-");
        return str_take(&b);
}

/* Prints each element of an "errors" array (strings, or anything else formatted) to f. */
static void print_error_lines(json_object *reply, FILE *f) {
        json_object *errors = get_array(reply, MEDIC_REPLY_ERRORS);
        size_t n = errors ? json_object_array_length(errors) : 0;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *s = format_value(json_object_array_get_idx(errors, i));
                fprintf(f, "  %s\n", s);
        }
}

static int print_status(json_object *reply, const char *arg) {
        static const struct {
                const char *key;
                json_type type;
        } simple[] = {
                { "version", json_type_string },
                { "node",    json_type_string },
                { "group",   json_type_string },
                { "dry_run", json_type_boolean },
                { "pid",     json_type_int },
        };
        int64_t now = (int64_t) time(NULL);
        Table t = {};
        Str b = {};
        json_object *o;

        /* A two-column table without a header: "key:" then the value. */
        t.n_columns = 2;
        for (size_t i = 0; i < ELEMENTSOF(simple); i++) {
                json_object *v = field(reply, simple[i].key);

                str_printf(&b, "%s:", simple[i].key);
                table_add(&t, str_take(&b));
                table_add(&t, format_value(v && json_object_is_type(v, simple[i].type) ? v : NULL));
        }

        table_add(&t, xstrdup("labels:"));
        table_add(&t, format_labels(get_object(reply, "labels")));

        table_add(&t, xstrdup("started:"));
        put_time_both(&b, reply, "started", now);
        table_add(&t, str_take(&b));

        table_add(&t, xstrdup("checks:"));
        table_add(&t, format_field(reply, "checks"));
        table_add(&t, xstrdup("rules:"));
        table_add(&t, format_field(reply, MEDIC_REPLY_RULES));

        table_add(&t, xstrdup("conditions:"));
        o = get_object(reply, MEDIC_REPLY_CONDITIONS);
        if (o) {
                static const char *const states[] = { "ok", "problem", "unknown", "flapping" };
                for (size_t i = 0; i < ELEMENTSOF(states); i++) {
                        if (i > 0)
                                str_puts(&b, ", ");
                        put_value(&b, field(o, states[i]));
                        str_printf(&b, " %s", states[i]);
                }
        } else
                put_value(&b, field(reply, MEDIC_REPLY_CONDITIONS));
        table_add(&t, str_take(&b));

        o = get_object(reply, MEDIC_REPLY_COORDINATOR);
        table_add(&t, xstrdup("coordinator:"));
        table_add(&t, format_string(o, "backend"));
        table_add(&t, xstrdup("coordinator holder:"));
        put_value(&b, field(o, "holder"));
        if (get_string(o, "holder")) {
                int64_t since;
                if (get_int(o, "since", &since) && since > 0) {
                        str_puts(&b, " since ");
                        put_abs_time(&b, since);
                        str_puts(&b, " (");
                        put_rel_time(&b, since, now);
                        str_puts(&b, ")");
                }
        }
        table_add(&t, str_take(&b));
        if (get_string(o, "revoked")) {
                /* Held, but the coordinator took it back (medicctl coordinator release). */
                table_add(&t, xstrdup("coordinator took back:"));
                table_add(&t, format_field(o, "revoked"));
        }
        table_add(&t, xstrdup("coordinator stopped:"));
        table_add(&t, format_field(o, "stopped"));
        table_add(&t, xstrdup("stop file:"));
        table_add(&t, format_stop_file(get_object(reply, "stop_file")));
        if (field(o, "breaker_tripped_group") || field(o, "breaker_tripped_cluster")) {
                bool g = false, c = false;
                (void) get_bool(o, "breaker_tripped_group", &g);
                (void) get_bool(o, "breaker_tripped_cluster", &c);
                table_add(&t, xstrdup("storm breaker:"));
                if (g || c)
                        str_printf(&b, "tripped (%s%s%s): %s", c ? "cluster" : "", c && g ? ", " : "", g ? "group" : "",
                                   get_string(o, "breaker_reason") ?: "-");
                else
                        str_puts(&b, "not tripped");
                table_add(&t, str_take(&b));
        }

        table_add(&t, xstrdup("parked:"));
        table_add(&t, format_field(reply, "parked"));
        if (get_string(reply, "parked_reason")) {
                table_add(&t, xstrdup("parked because:"));
                table_add(&t, format_field(reply, "parked_reason"));
        }
        if (get_string(reply, "parked_rule")) {
                table_add(&t, xstrdup("parked by rule:"));
                table_add(&t, format_field(reply, "parked_rule"));
        }
        o = get_object(reply, MEDIC_REPLY_REBOOT);
        if (o) {
                table_add(&t, xstrdup("reboot:"));
                str_printf(&b, "%s%s%s", get_string(o, "phase") ?: "-", get_string(o, "rule") ? " for rule " : "",
                           get_string(o, "rule") ?: "");
                table_add(&t, str_take(&b));
        }

        json_object *maint = get_array(reply, "maintenance");
        for (size_t i = 0; maint && i < json_object_array_length(maint); i++) {
                table_add(&t, xstrdup("maintenance:"));
                put_maintenance(&b, json_object_array_get_idx(maint, i), now);
                table_add(&t, str_take(&b));
        }

        o = get_object(reply, "last_reload");
        table_add(&t, xstrdup("last_reload:"));
        if (o) {
                bool ok;
                put_time_both(&b, o, "time", now);
                if (get_bool(o, "ok", &ok))
                        str_puts(&b, ok ? ", ok" : ", failed");
        } else
                str_puts(&b, "-");
        table_add(&t, str_take(&b));

        table_print(&t, stdout);
        table_done(&t);

        /* Errors of the last reload, one per line under it. */
        print_error_lines(o, stdout);
        return EXIT_OK;
}

/* One condition object as a table row: NAME STATE SINCE MESSAGE. */
static void condition_row(Table *t, json_object *c, int64_t now) {
        Str b = {};
        int64_t since;
        bool flapping = false;

        table_add(t, format_string(c, "name"));
        table_add(t, format_string(c, "state"));

        if (get_int(c, "since", &since) && since > 0)
                put_rel_time(&b, since, now);
        else
                str_puts(&b, "-");
        if (get_bool(c, "flapping", &flapping) && flapping)
                str_puts(&b, ", flapping");
        table_add(t, str_take(&b));

        table_add(t, format_string(c, "message"));
}

static int print_conditions(json_object *reply, const char *arg) {
        static const char *const header[] = { "NAME", "STATE", "SINCE", "MESSAGE" };
        json_object *a = get_array(reply, MEDIC_REPLY_CONDITIONS);
        int64_t now = (int64_t) time(NULL);
        Table t = {};

        table_header(&t, ELEMENTSOF(header), header);
        for (size_t i = 0; a && i < json_object_array_length(a); i++)
                condition_row(&t, json_object_array_get_idx(a, i), now);

        if (table_rows(&t) > 1)
                table_print(&t, stdout);
        else
                puts("no conditions");
        table_done(&t);
        return EXIT_OK;
}

/* "1/3 per 1h" for limit "3/1h" and used 1; "1/3" for a numeric limit; "-" without a limit. */
static char *format_limit(json_object *r) {
        json_object *limit = field(r, "limit");
        const char *ls = get_string(r, "limit");
        int64_t used, n;
        bool have_used = get_int(r, "used", &used);
        Str b = {};

        if (!limit || (ls && !*ls)) {
                if (have_used)
                        str_printf(&b, "%" PRId64 "/-", used);
                else
                        str_puts(&b, "-");
                return str_take(&b);
        }

        if (have_used)
                str_printf(&b, "%" PRId64 "/", used);
        else
                str_puts(&b, "-/");

        if (ls) {
                const char *slash = strchr(ls, '/');
                if (slash && slash > ls && slash[1]) {
                        _cleanup_free_ char *count = strndup(ls, (size_t) (slash - ls));
                        if (!count)
                                die_oom();
                        str_put_sanitized(&b, count);
                        str_puts(&b, " per ");
                        str_put_sanitized(&b, slash + 1);
                } else
                        str_put_sanitized(&b, ls);
        } else if (value_int(limit, &n))
                str_printf(&b, "%" PRId64, n);
        else
                put_value(&b, limit);

        return str_take(&b);
}

static int print_rules(json_object *reply, const char *arg) {
        static const char *const header[] = { "NAME", "WHEN", "REMEDY", "LIMIT", "STATUS" };
        json_object *a = get_array(reply, MEDIC_REPLY_RULES);
        Table t = {};

        table_header(&t, ELEMENTSOF(header), header);
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *r = json_object_array_get_idx(a, i);
                bool disruptive = false;
                Str b = {};

                table_add(&t, format_string(r, "name"));
                table_add(&t, format_field(r, "when"));

                put_value(&b, field(r, "remedy"));
                if (get_bool(r, "disruptive", &disruptive) && disruptive)
                        str_puts(&b, " (disruptive)");
                table_add(&t, str_take(&b));

                table_add(&t, format_limit(r));
                table_add(&t, format_string(r, "status"));
        }

        if (table_rows(&t) > 1)
                table_print(&t, stdout);
        else
                puts("no rules");
        table_done(&t);
        return EXIT_OK;
}

/* What happened, from whichever fields the entry has: "ok -> problem: message",
 * "skip (blocked by x): message". */
static char *format_history_what(json_object *h) {
        const char *from = get_string(h, "from"), *to = get_string(h, "to");
        const char *decision = get_string(h, "decision"), *reason = get_string(h, "reason");
        const char *message = get_string(h, "message");
        Str b = {};

        if (from || to) {
                str_put_sanitized(&b, from ? from : "-");
                str_puts(&b, " -> ");
                str_put_sanitized(&b, to ? to : "-");
        }
        if (decision && *decision) {
                if (b.n)
                        str_puts(&b, ": ");
                str_put_sanitized(&b, decision);
                if (reason && *reason) {
                        str_puts(&b, " (");
                        str_put_sanitized(&b, reason);
                        str_puts(&b, ")");
                }
        } else if (reason && *reason) {
                if (b.n)
                        str_puts(&b, ": ");
                str_put_sanitized(&b, reason);
        }
        if (message && *message) {
                if (b.n)
                        str_puts(&b, ": ");
                str_put_sanitized(&b, message);
        }
        if (b.n == 0)
                str_puts(&b, "-");
        return str_take(&b);
}

static int print_history(json_object *reply, const char *arg) {
        static const char *const header[] = { "TIME", "KIND", "NAME", "WHAT" };
        json_object *a = get_array(reply, MEDIC_REPLY_HISTORY);
        Table t = {};

        table_header(&t, ELEMENTSOF(header), header);
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *h = json_object_array_get_idx(a, i);
                const char *name;
                int64_t when;
                Str b = {};

                if (get_int(h, "time", &when))
                        put_abs_time(&b, when);
                else
                        str_puts(&b, "-");
                table_add(&t, str_take(&b));

                table_add(&t, format_string(h, "kind"));

                name = get_string(h, "rule");
                if (!name || !*name)
                        name = get_string(h, "condition");
                table_add(&t, sanitized(name && *name ? name : "-"));

                table_add(&t, format_history_what(h));
        }

        if (table_rows(&t) > 1)
                table_print(&t, stdout);
        else
                puts("no history");
        table_done(&t);
        return EXIT_OK;
}

static int print_explain(json_object *reply, const char *arg) {
        json_object *steps = get_array(reply, MEDIC_REPLY_STEPS);
        const char *rule = get_string(reply, "rule");
        const char *decision = get_string(reply, MEDIC_REPLY_DECISION);
        size_t n = steps ? json_object_array_length(steps) : 0;
        _cleanup_free_ char *name = sanitized(rule && *rule ? rule : arg);
        bool would_fire;
        Table t = {};

        if (!get_bool(reply, MEDIC_REPLY_WOULD_FIRE, &would_fire)) {
                _cleanup_free_ char *d = sanitized(decision && *decision ? decision : "-");
                printf("%s: %s\n", name, d);
        } else if (would_fire)
                printf("%s: would fire\n", name);
        else {
                /* Why not: the first step that failed says it best, else the decision. */
                const char *why = NULL;
                for (size_t i = 0; i < n && !why; i++) {
                        json_object *s = json_object_array_get_idx(steps, i);
                        bool ok;
                        if (get_bool(s, "ok", &ok) && !ok) {
                                why = get_string(s, "detail");
                                if (!why || !*why)
                                        why = get_string(s, "step");
                        }
                }
                if (!why || !*why)
                        why = decision;
                if (why && *why) {
                        _cleanup_free_ char *w = sanitized(why);
                        printf("%s: not firing: %s\n", name, w);
                } else
                        printf("%s: not firing\n", name);
        }

        t.n_columns = 3;
        for (size_t i = 0; i < n; i++) {
                json_object *s = json_object_array_get_idx(steps, i);
                bool ok;

                table_add(&t, xstrdup(!get_bool(s, "ok", &ok) ? "  [--]" : ok ? "  [ok]" : "  [no]"));
                table_add(&t, format_string(s, "step"));
                table_add(&t, format_string(s, "detail"));
        }
        table_print(&t, stdout);
        table_done(&t);

        /* What the node's permission owner knows for the rule: since when it asks or holds,
         * and while it waits the last answer, how often it came and the queue place. */
        json_object *p = get_object(reply, MEDIC_REPLY_PERMISSION);
        const char *state = p ? get_string(p, "state") : NULL;
        if (state && strcmp(state, "none") != 0) {
                int64_t now = (int64_t) time(NULL), since, count, place;
                _cleanup_free_ char *st = sanitized(state), *text = NULL;
                Str b = {};
                str_printf(&b, "  permission: %s", st);
                if (get_int(p, "since", &since)) {
                        str_puts(&b, " since ");
                        put_time_both(&b, p, "since", now);
                }
                const char *answer = get_string(p, "last_answer"), *reason = get_string(p, "reason");
                if (answer) {
                        _cleanup_free_ char *a = sanitized(answer);
                        str_printf(&b, "; last answer %s", a);
                        if (reason && *reason) {
                                _cleanup_free_ char *r = sanitized(reason);
                                str_printf(&b, ": %s", r);
                        }
                        if (get_int(p, "answers", &count) && count > 1) {
                                str_printf(&b, " (%" PRId64 " times since ", count);
                                put_rel_time(&b, get_int(p, "answer_since", &since) ? since : 0, now);
                                str_puts(&b, ")");
                        }
                }
                if (get_int(p, "place", &place))
                        str_printf(&b, "; place %" PRId64 " in the queue", place);
                text = str_take(&b);
                puts(text ? text : "");
        }
        json_object *maint = get_object(reply, "maintenance");
        if (maint) {
                _cleanup_free_ char *text = NULL;
                Str b = {};
                str_puts(&b, "  maintenance: ");
                put_maintenance(&b, maint, (int64_t) time(NULL));
                text = str_take(&b);
                puts(text ? text : "");
        }
        return EXIT_OK;
}

static int print_run_check(json_object *reply, const char *arg) {
        json_object *c = get_object(reply, MEDIC_REPLY_CONDITION);
        int64_t now = (int64_t) time(NULL), since, ms;
        bool flapping;
        _cleanup_free_ char *name = NULL, *state = NULL, *message = NULL;
        const char *sep = " (";
        Str b = {};

        if (!c) {
                _cleanup_free_ char *a = sanitized(arg);
                printf("%s: -\n", a);
                return EXIT_OK;
        }

        name = format_string(c, "name");
        state = format_string(c, "state");
        message = format_string(c, "message");

        str_printf(&b, "%s: %s", name, state);
        if (get_int(c, "since", &since) && since > 0) {
                str_printf(&b, "%ssince ", sep);
                put_rel_time(&b, since, now);
                sep = ", ";
        }
        if (get_bool(c, "flapping", &flapping) && flapping) {
                str_printf(&b, "%sflapping", sep);
                sep = ", ";
        }
        if (get_int(c, "duration_ms", &ms) && ms >= 0) {
                str_printf(&b, "%stook %" PRId64 "ms", sep, ms);
                sep = ", ";
        }
        if (sep[0] == ',')
                str_puts(&b, ")");
        str_printf(&b, ": %s", message);

        _cleanup_free_ char *line = str_take(&b);
        puts(line);
        return EXIT_OK;
}

static int print_reload(json_object *reply, const char *arg) {
        puts("reloaded");
        /* ok with errors should not happen, but say so if it does. */
        print_error_lines(reply, stderr);
        return EXIT_OK;
}

static const char *yesno(json_object *o, const char *key) {
        bool b;
        return get_bool(o, key, &b) ? (b ? "yes" : "no") : "-";
}

static int print_coordinator(json_object *reply, const char *action) {
        json_object *members, *budget, *stop, *queue, *local;
        Table t = {};
        Str b = {};

        if (strcmp(action, "status") != 0) {
                printf("%s: done\n", action);
                return EXIT_OK;
        }
        local = get_object(reply, "local");
        if (local) {
                json_object *h = field(local, "holder");
                printf("backend: %s\n", get_string(reply, "backend") ?: "-");
                printf("holder: %s\n", h && json_object_is_type(h, json_type_string) ? json_object_get_string(h) : "none");
                printf("stopped (stop file): %s\n", yesno(local, "stopped"));
                _cleanup_free_ char *sf = format_stop_file(get_object(reply, "stop_file"));
                printf("stop file: %s\n", sf);
                return EXIT_OK;
        }
        budget = get_object(reply, "budget");
        stop = get_object(reply, "stop");
        printf("backend: %s (%s)\n", get_string(reply, "backend") ?: "-", get_string(reply, "endpoint") ?: "-");
        printf("group: %s\n", get_string(reply, "group") ?: "-");
        if (budget) {
                int64_t used = 0, allowed = 0, members_n = 0, healthy = 0, minh = 0;
                get_int(budget, "used", &used);
                get_int(budget, "allowed", &allowed);
                get_int(budget, "members", &members_n);
                get_int(budget, "healthy", &healthy);
                get_int(budget, "min_healthy_count", &minh);
                printf("budget: %lld of %lld unavailable (max_unavailable %s, min_healthy %s%s)\n",
                       (long long) used, (long long) allowed, get_string(budget, "max_unavailable") ?: "-",
                       get_string(budget, "min_healthy") ?: "-",
                       get_bool(budget, "set_in_etcd", &(bool) { false }) && json_object_get_boolean(field(budget, "set_in_etcd"))
                               ? ", set in etcd" : ", node default");
                printf("members: %lld, healthy: %lld (at least %lld needed)\n", (long long) members_n,
                       (long long) healthy, (long long) minh);
        }
        if (stop)
                printf("stop switches: cluster %s, group %s\n", yesno(stop, "cluster"), yesno(stop, "group"));
        json_object *breaker = stop ? get_object(stop, "breaker") : NULL;
        for (int i = 0; breaker && i < 2; i++) {
                json_object *x = get_object(breaker, i ? "cluster" : "group"), *trip = x ? get_object(x, "trip") : NULL;
                bool tripped = false;
                if (!x)
                        continue;
                (void) get_bool(x, "tripped", &tripped);
                printf("storm breaker (%s): %s, %s%s\n", i ? "cluster" : "group",
                       get_string(x, "limit") ? get_string(x, "limit") : "not configured on this node",
                       tripped ? "tripped: " : "not tripped", tripped && trip ? get_string(trip, "reason") ?: "" : "");
                if (tripped && trip && get_int(trip, "since", &(int64_t) { 0 })) {
                        printf("  tripped ");
                        put_time_both(&b, trip, "since", (int64_t) time(NULL));
                        _cleanup_free_ char *when = str_take(&b);
                        printf("%s; resume with: medicctl coordinator resume%s%s --reason TEXT\n", when, i ? "" : " --group ",
                               i ? "" : get_string(reply, "group") ?: "");
                }
        }
        if (get_object(reply, "stop_file")) {
                _cleanup_free_ char *sf = format_stop_file(get_object(reply, "stop_file"));
                printf("stop file: %s\n", sf);
        }
        queue = get_array(reply, "queue");
        if (queue && json_object_array_length(queue) > 0) {
                fputs("queue:", stdout);
                for (size_t i = 0; i < json_object_array_length(queue); i++) {
                        _cleanup_free_ char *n = format_value(json_object_array_get_idx(queue, i));
                        printf(" %s", n);
                }
                fputs("\n", stdout);
        }
        members = get_array(reply, "members");
        static const char *const cols[] = { "NODE", "ALIVE", "HEALTHY", "HOLDER", "SINCE", "WAITING", "LABELS" };
        table_header(&t, ELEMENTSOF(cols), cols);
        for (size_t i = 0; members && i < json_object_array_length(members); i++) {
                json_object *m = json_object_array_get_idx(members, i);
                int64_t since = 0, pos = 0;
                table_add(&t, format_field(m, "node"));
                table_add(&t, xstrdup(yesno(m, "alive")));
                table_add(&t, xstrdup(yesno(m, "healthy")));
                table_add(&t, xstrdup(yesno(m, "holder")));
                if (get_int(m, "since", &since)) {
                        put_time_both(&b, m, "since", (int64_t) time(NULL));
                        table_add(&t, str_take(&b));
                } else
                        table_add(&t, xstrdup("-"));
                if (get_int(m, "waiting", &pos)) {
                        str_printf(&b, "#%lld", (long long) pos);
                        table_add(&t, str_take(&b));
                } else
                        table_add(&t, xstrdup("-"));
                table_add(&t, format_labels(get_object(m, "labels")));
        }
        table_print(&t, stdout);
        table_done(&t);
        /* Reboot requests through the coordinator, pending until the node rebooted. */
        for (size_t i = 0; members && i < json_object_array_length(members); i++) {
                json_object *m = json_object_array_get_idx(members, i), *q = get_object(m, "reboot_request");
                const char *why = q ? get_string(q, "reason") : NULL;
                if (q)
                        printf("reboot requested: %s (%s)\n", get_string(m, "node") ?: "-", why && *why ? why : "no reason");
        }
        return EXIT_OK;
}

static int print_request(json_object *reply, const char *arg) {
        printf("%s: %s\n", strcmp(arg, "reboot") == 0 ? "reboot requested" : "request cleared",
               get_string(reply, "file") ?: "-");
        return EXIT_OK;
}

static int print_unpark(json_object *reply, const char *arg) {
        puts("unparked: automation resumes on this node");
        return EXIT_OK;
}

typedef struct Command {
        const char *name;
        const char *arg_name;   /* shown in messages; NULL: the command takes no argument */
        const char *arg_key;    /* the request field the argument goes into */
        int (*print)(json_object *reply, const char *arg);
} Command;

static const Command commands[] = {
        { MEDIC_CMD_STATUS,     NULL,   NULL,    print_status },
        { MEDIC_CMD_CONDITIONS, NULL,   NULL,    print_conditions },
        { MEDIC_CMD_RULES,      NULL,   NULL,    print_rules },
        { MEDIC_CMD_HISTORY,    NULL,   NULL,    print_history },
        { MEDIC_CMD_EXPLAIN,    "RULE", MEDIC_FIELD_RULE,  print_explain },
        { MEDIC_CMD_RUN_CHECK,  "NAME", MEDIC_FIELD_CHECK, print_run_check },
        { MEDIC_CMD_RELOAD,     NULL,   NULL,    print_reload },
        { MEDIC_CMD_UNPARK,     NULL,   NULL,    print_unpark },
        { MEDIC_CMD_REQUEST,    "reboot|clear", MEDIC_FIELD_ACTION, print_request },
        { MEDIC_CMD_COORDINATOR, "ACTION", MEDIC_FIELD_ACTION, print_coordinator },
};

static const Command *command_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

/* ---- talking to medicd -------------------------------------------------------------------- */

/* Waits until fd is ready for events or the deadline (monotonic usec, UINT64_MAX: none). */
static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int timeout_ms = -1, r;

                if (deadline != UINT64_MAX) {
                        uint64_t now = ctl_now_usec(), left;
                        if (now >= deadline)
                                return -ETIMEDOUT;
                        left = (deadline - now + 999) / 1000;
                        timeout_ms = left > INT_MAX ? INT_MAX : (int) left;
                }

                r = poll(&p, 1, timeout_ms);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        continue; /* re-checks the deadline */
                if (p.revents & POLLNVAL)
                        return -EBADF;
                return 0; /* ready, or POLLERR/POLLHUP: the next read/write says what */
        }
}

/* Connects to path; a blocking connect bounded by SO_SNDTIMEO, then non-blocking I/O. */
static int ctl_connect(const char *path, uint64_t deadline, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t l = strlen(path);
        _cleanup_(ctl_closep) int fd = -EBADF;
        int flags;

        if (l == 0)
                return -EINVAL;
        if (l >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, l);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;

        if (deadline != UINT64_MAX) {
                uint64_t now = ctl_now_usec(), left = deadline > now ? deadline - now : 1;
                struct timeval tv = {
                        .tv_sec = (time_t) (left / USEC_PER_SEC),
                        .tv_usec = (suseconds_t) (left % USEC_PER_SEC),
                };
                if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
                        return -errno;
        }

        if (connect(fd, (const struct sockaddr *) &sa,
                    (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1)) < 0) {
                if (errno == EAGAIN || errno == EINPROGRESS)
                        return -ETIMEDOUT; /* the listen backlog stayed full */
                return -errno;
        }

        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;

        *ret_fd = fd;
        fd = -EBADF;
        return 0;
}

static int send_all(int fd, const char *buf, size_t len, uint64_t deadline) {
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                int r = wait_fd(fd, POLLOUT, deadline);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return -errno;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Reads up to and including the first "\n" (or EOF). Returns the data without the newline,
 * NUL-terminated. -EFBIG when longer than MAX_REPLY, -ENODATA when closed without a byte. */
static int recv_line(int fd, uint64_t deadline, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, allocated = 0;

        for (;;) {
                ssize_t n;
                char *nl;

                if (len == MAX_REPLY)
                        return -EFBIG;
                if (allocated - len < 4096 || len == allocated) {
                        size_t a = allocated ? allocated * 2 : 64 * 1024;
                        if (a > MAX_REPLY + 1)
                                a = MAX_REPLY + 1;
                        char *p = realloc(buf, a);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = a;
                }

                /* Leave room for the terminating NUL. */
                n = read(fd, buf + len, allocated - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                int r = wait_fd(fd, POLLIN, deadline);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return -errno;
                }
                if (n == 0) {
                        if (len == 0)
                                return -ENODATA;
                        break;
                }

                nl = memchr(buf + len, '\n', (size_t) n);
                len += (size_t) n;
                if (nl) {
                        len = (size_t) (nl - buf);
                        break;
                }
        }

        buf[len] = '\0';
        *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Parses one JSON object and nothing else but whitespace; strings must be valid UTF-8. */
static int parse_reply(const char *buf, size_t len, json_object **ret, const char **ret_error) {
        _cleanup_(ctl_tokener_freep) json_tokener *tok = NULL;
        _cleanup_(ctl_json_putp) json_object *o = NULL;
        enum json_tokener_error e;
        size_t end;

        if (len > INT_MAX)
                return *ret_error = "reply too large", -EFBIG;

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);

        o = json_tokener_parse_ex(tok, buf, (int) len);
        e = json_tokener_get_error(tok);
        if (e == json_tokener_continue)
                return *ret_error = "reply is truncated", -EBADMSG;
        if (!o || e != json_tokener_success)
                return *ret_error = json_tokener_error_desc(e), -EBADMSG;

        for (end = json_tokener_get_parse_end(tok); end < len; end++)
                if (!strchr(" \t\r", buf[end]))
                        return *ret_error = "trailing data after the JSON object", -EBADMSG;

        if (!json_object_is_type(o, json_type_object))
                return *ret_error = "reply is not a JSON object", -EBADMSG;
        if (!field(o, MEDIC_REPLY_OK) || !json_object_is_type(field(o, MEDIC_REPLY_OK), json_type_boolean))
                return *ret_error = "\"ok\" is missing or not a boolean", -EBADMSG;

        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- command line ------------------------------------------------------------------------- */

typedef struct Args {
        const char *socket_path;
        bool json;
        double timeout_sec;     /* 0: wait forever */
        long limit;             /* history; 0: not given */
        const Command *command;
        const char *arg;
        const char *group;      /* coordinator --group */
        const char *node;       /* coordinator release/forget NODE */
        const char *max_unavailable, *min_healthy; /* coordinator set-budget */
        const char *reason;     /* request reboot REASON, coordinator request-reboot NODE REASON, resume --reason */
        bool reason_opt;        /* given with --reason */
        const char *medicd_mode; /* lint [FILE|DIR...], test FILE...: runs medicd --lint, --test */
        const char *config;     /* lint, fleet --config */
        const char *label;      /* fleet --label KEY=VALUE */
        bool fleet;             /* fleet: reads the coordinator itself, no medicd */
        char **paths;
        size_t n_paths;
} Args;

static void help(void) {
        printf("Usage: %1$s [OPTIONS] COMMAND [ARGUMENT]\n"
               "\n"
               "Query and control medicd, the node-local healing daemon.\n"
               "\n"
               "Commands:\n"
               "  status               Show the daemon's state\n"
               "  conditions           List conditions: state, since when, message\n"
               "  rules                List rules: condition, remedy, rate limit, status\n"
               "  history [--limit N]  Show the last N events (default %2$d), newest last\n"
               "  explain RULE         Say whether RULE would fire now, and why (not)\n"
               "  run-check NAME       Run check NAME now and show its condition (root)\n"
               "  reload               Reload configuration, checks and rules (root)\n"
               "  request reboot [REASON]\n"
               "                       Ask this node's medic to reboot it (the reboot-request\n"
               "                       check and its rules decide when); request clear (root)\n"
               "  unpark               Resume automation after reboot-loop protection parked\n"
               "                       the node (root)\n"
               "  coordinator status [--group G]\n"
               "                       Members, holders, queue, budget and stop switches\n"
               "  coordinator stop [--group G], resume [--group G] [--reason TEXT]\n"
               "                       Set or clear the cluster-wide or group stop switch; one\n"
               "                       the storm breaker set needs --reason (root)\n"
               "  coordinator release NODE [--group G]\n"
               "                       Take NODE's permission away (root)\n"
               "  coordinator forget NODE [--group G]\n"
               "                       Remove NODE from the group (root)\n"
               "  coordinator set-budget GROUP max_unavailable=N|N%% min_healthy=N|N%%\n"
               "                       Set a group's budget (root)\n"
               "  coordinator request-reboot NODE [REASON] [--group G], cancel-reboot NODE\n"
               "                       Ask another node to reboot through the coordinator (root)\n"
               "  fleet [--group G] [--label KEY=VALUE] [--config PATH]\n"
               "                       The whole fleet as the etcd coordinator holds it, read\n"
               "                       directly with medic.conf's [coordinator] settings (no medicd)\n"
               "  lint [--config PATH] [FILE|DIR...]\n"
               "                       Load the check and rule files (the configuration's, or\n"
               "                       these) as medicd would and report mistakes as file:line;\n"
               "                       runs medicd --lint ($MEDICD, else %5$s)\n"
               "  test FILE...         Run the rule tests of each FILE on a virtual clock, touching\n"
               "                       nothing (TAP); runs medicd --test\n"
               "\n"
               "Options:\n"
               "  -s, --socket PATH    Control socket (default: $MEDIC_SOCKET, else\n"
               "                       %3$s)\n"
               "  -j, --json           Print medicd's reply as pretty-printed JSON\n"
               "  -t, --timeout SECS   Give up after SECS seconds (default %4$g; 0: never)\n"
               "  -n, --limit N        Number of history entries\n"
               "  -g, --group G        The group for coordinator commands (default: medicd's);\n"
               "                       fleet: only that group\n"
               "  -c, --config PATH    lint, fleet: medicd's configuration (default: medicd's default)\n"
               "  -l, --label K=V      fleet: only nodes registered with that label\n"
               "  -h, --help           Show this help\n"
               "  -V, --version        Show the version\n"
               "\n"
               "Exit status: 0 success, 1 medicd reported an error, 2 usage error,\n"
               "3 medicd could not be reached or its reply was invalid.\n"
               "lint: 0 clean, 1 findings, 2 load errors (or usage), 3 medicd could not be run.\n"
               "test: 0 all pass, 1 an expectation failed, 2 a bad test file (or usage), 3 medicd could not be run.\n"
               "See medicctl(8).\n",
               program, DEFAULT_HISTORY_LIMIT, DEFAULT_SOCKET, DEFAULT_TIMEOUT_SEC, DEFAULT_MEDICD);
}

static _printf_(1, 2) int usage_error(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", program);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '%s --help' for more information.\n", program);
        return -EINVAL;
}

static int parse_timeout(const char *s, double *ret) {
        char *end;
        double d;

        if (!*s || !strchr("0123456789.", s[0]))
                return -EINVAL;
        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || *end || !isfinite(d) || d < 0 || d > MAX_TIMEOUT_SEC)
                return -ERANGE;
        *ret = d;
        return 0;
}

static int parse_limit(const char *s, long *ret) {
        char *end;
        long l;

        if (!*s || !strchr("0123456789", s[0]))
                return -EINVAL;
        errno = 0;
        l = strtol(s, &end, 10);
        if (errno != 0 || *end || l < 1 || l > MAX_HISTORY_LIMIT)
                return -ERANGE;
        *ret = l;
        return 0;
}

/* Returns 1 to go on, 0 when done (--help, --version), -EINVAL on a usage error (reported). */
static int parse_argv(int argc, char *argv[], Args *args) {
        static const struct option options[] = {
                { "socket",  required_argument, NULL, 's' },
                { "json",    no_argument,       NULL, 'j' },
                { "timeout", required_argument, NULL, 't' },
                { "limit",   required_argument, NULL, 'n' },
                { "group",   required_argument, NULL, 'g' },
                { "reason",  required_argument, NULL, 'r' },
                { "config",  required_argument, NULL, 'c' },
                { "label",   required_argument, NULL, 'l' },
                { "help",    no_argument,       NULL, 'h' },
                { "version", no_argument,       NULL, 'V' },
                {}
        };
        const char *env = getenv("MEDIC_SOCKET");
        int c;

        *args = (Args) {
                .socket_path = env && *env ? env : DEFAULT_SOCKET,
                .timeout_sec = DEFAULT_TIMEOUT_SEC,
        };

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":s:jt:n:g:r:c:l:hV", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        if (!*optarg)
                                return usage_error("--socket needs a path");
                        args->socket_path = optarg;
                        break;
                case 'j':
                        args->json = true;
                        break;
                case 't':
                        if (parse_timeout(optarg, &args->timeout_sec) < 0)
                                return usage_error("invalid timeout '%s': expected seconds, 0 to %.0f",
                                                   optarg, MAX_TIMEOUT_SEC);
                        break;
                case 'n':
                        if (parse_limit(optarg, &args->limit) < 0)
                                return usage_error("invalid limit '%s': expected a number from 1 to %ld",
                                                   optarg, MAX_HISTORY_LIMIT);
                        break;
                case 'g':
                        if (!*optarg)
                                return usage_error("--group needs a name");
                        args->group = optarg;
                        break;
                case 'r':
                        if (!*optarg)
                                return usage_error("--reason needs a text");
                        args->reason = optarg;
                        args->reason_opt = true;
                        break;
                case 'c':
                        if (!*optarg)
                                return usage_error("--config needs a path");
                        args->config = optarg;
                        break;
                case 'l':
                        if (!*optarg || *optarg == '=')
                                return usage_error("--label needs KEY=VALUE (or KEY)");
                        args->label = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("%s %s\n", program, PACKAGE_VERSION);
                        return 0;
                case ':':
                        return usage_error("option '%s' requires an argument", argv[optind - 1]);
                case '?':
                default:
                        if (optopt && strncmp(argv[optind - 1], "--", 2) != 0)
                                return usage_error("invalid option -- '%c'", optopt);
                        return usage_error("unrecognized option '%s'", argv[optind - 1]);
                }

        if (optind >= argc)
                return usage_error("missing command");

        if (args->reason_opt && strcmp(argv[optind], MEDIC_CMD_COORDINATOR) != 0)
                return usage_error("--reason only applies to coordinator resume");
        if (strcmp(argv[optind], "test") == 0) {
                if (args->group || args->limit || args->config || args->json)
                        return usage_error("test: --%s does not apply", args->group ? "group" : args->limit ? "limit"
                                                                        : args->config ? "config" : "json");
                if (optind + 1 >= argc)
                        return usage_error("test: missing FILE");
                args->medicd_mode = "--test";
                args->paths = argv + optind + 1;
                args->n_paths = (size_t) (argc - optind - 1);
                return 1;
        }
        if (strcmp(argv[optind], "lint") == 0) {
                if (args->group || args->limit)
                        return usage_error("lint: --%s does not apply", args->group ? "group" : "limit");
                args->medicd_mode = "--lint";
                args->paths = argv + optind + 1;
                args->n_paths = (size_t) (argc - optind - 1);
                return 1;
        }
        if (strcmp(argv[optind], "fleet") == 0) {
                if (args->limit)
                        return usage_error("fleet: --limit does not apply");
                if (optind + 1 < argc)
                        return usage_error("fleet: unexpected '%s'", argv[optind + 1]);
                args->fleet = true;
                return 1;
        }
        if (args->config)
                return usage_error("--config only applies to lint and fleet");
        if (args->label)
                return usage_error("--label only applies to fleet");

        args->command = command_find(argv[optind]);
        if (!args->command)
                return usage_error("unknown command '%s'", argv[optind]);
        optind++;

        if (args->command->arg_name) {
                if (optind >= argc)
                        return usage_error("%s: missing %s", args->command->name, args->command->arg_name);
                args->arg = argv[optind++];
                if (!*args->arg)
                        return usage_error("%s: %s must not be empty", args->command->name,
                                           args->command->arg_name);
        }
        if (args->reason_opt && (strcmp(args->command->name, MEDIC_CMD_COORDINATOR) != 0 ||
                                 strcmp(args->arg, "resume") != 0))
                return usage_error("--reason only applies to coordinator resume");
        if (strcmp(args->command->name, MEDIC_CMD_COORDINATOR) == 0) {
                static const char *const actions[] = { "status", "stop", "resume", "release", "forget", "set-budget",
                                                       "request-reboot", "cancel-reboot" };
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                        known = known || strcmp(actions[i], args->arg) == 0;
                if (!known)
                        return usage_error("coordinator: unknown action '%s' (expected status, stop, resume, "
                                           "release NODE, forget NODE, set-budget GROUP KEY=VALUE...)", args->arg);
                if (strcmp(args->arg, "release") == 0 || strcmp(args->arg, "forget") == 0 ||
                    strcmp(args->arg, "request-reboot") == 0 || strcmp(args->arg, "cancel-reboot") == 0) {
                        if (optind >= argc || !*argv[optind])
                                return usage_error("coordinator %s: missing NODE", args->arg);
                        args->node = argv[optind++];
                        if (strcmp(args->arg, "request-reboot") == 0 && optind < argc)
                                args->reason = argv[optind++];
                } else if (strcmp(args->arg, "set-budget") == 0) {
                        if (optind >= argc || !*argv[optind])
                                return usage_error("coordinator set-budget: missing GROUP");
                        args->group = argv[optind++];
                        for (; optind < argc; optind++) {
                                if (strncmp(argv[optind], "max_unavailable=", 16) == 0)
                                        args->max_unavailable = argv[optind] + 16;
                                else if (strncmp(argv[optind], "min_healthy=", 12) == 0)
                                        args->min_healthy = argv[optind] + 12;
                                else
                                        return usage_error("coordinator set-budget: unexpected '%s' (expected "
                                                           "max_unavailable=N|N%% or min_healthy=N|N%%)", argv[optind]);
                        }
                        if (!args->max_unavailable && !args->min_healthy)
                                return usage_error("coordinator set-budget: give max_unavailable= and/or min_healthy=");
                }
        } else if (args->group)
                return usage_error("--group only applies to coordinator");
        else if (strcmp(args->command->name, MEDIC_CMD_REQUEST) == 0) {
                if (strcmp(args->arg, "reboot") != 0 && strcmp(args->arg, "clear") != 0)
                        return usage_error("request: expected 'reboot [REASON]' or 'clear', not '%s'", args->arg);
                if (strcmp(args->arg, "reboot") == 0 && optind < argc)
                        args->reason = argv[optind++];
        }

        if (optind < argc)
                return usage_error("%s: unexpected argument '%s'", args->command->name, argv[optind]);

        if (args->limit && strcmp(args->command->name, MEDIC_CMD_HISTORY) != 0)
                return usage_error("--limit only applies to history");

        return 1;
}

static char *build_request(const Args *args, size_t *ret_len) {
        _cleanup_(ctl_json_putp) json_object *req = json_object_new_object();
        const char *s;

        if (!req)
                die_oom();
        if (json_object_object_add(req, MEDIC_FIELD_COMMAND, json_object_new_string(args->command->name)) < 0)
                die_oom();
        if (args->command->arg_key &&
            json_object_object_add(req, args->command->arg_key, json_object_new_string(args->arg)) < 0)
                die_oom();
        if (args->group && json_object_object_add(req, "group", json_object_new_string(args->group)) < 0)
                die_oom();
        if (args->node && json_object_object_add(req, "node", json_object_new_string(args->node)) < 0)
                die_oom();
        if (args->reason && json_object_object_add(req, MEDIC_FIELD_REASON, json_object_new_string(args->reason)) < 0)
                die_oom();
        if (args->max_unavailable &&
            json_object_object_add(req, "max_unavailable", json_object_new_string(args->max_unavailable)) < 0)
                die_oom();
        if (args->min_healthy && json_object_object_add(req, "min_healthy", json_object_new_string(args->min_healthy)) < 0)
                die_oom();
        if (strcmp(args->command->name, MEDIC_CMD_HISTORY) == 0 &&
            json_object_object_add(req, MEDIC_FIELD_LIMIT,
                                   json_object_new_int64(args->limit ? args->limit : DEFAULT_HISTORY_LIMIT)) < 0)
                die_oom();

        s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                die_oom();

        Str b = {};
        str_puts(&b, s);
        str_puts(&b, "\n");
        *ret_len = b.n;
        return str_take(&b);
}

static int report_comm_error(const Args *args, int r, bool connecting) {
        if (connecting)
                fprintf(stderr, "%s: cannot connect to medicd at %s: %s%s\n", program, args->socket_path,
                        strerror(-r),
                        r == -ENOENT || r == -ECONNREFUSED ? " (is medicd running?)" : "");
        else if (r == -ETIMEDOUT)
                fprintf(stderr, "%s: no reply from medicd at %s within %gs (see --timeout)\n",
                        program, args->socket_path, args->timeout_sec);
        else if (r == -EFBIG)
                fprintf(stderr, "%s: reply from medicd is larger than %u MiB\n", program,
                        MAX_REPLY / 1024 / 1024);
        else if (r == -ENODATA)
                fprintf(stderr, "%s: medicd at %s closed the connection without replying\n",
                        program, args->socket_path);
        else
                fprintf(stderr, "%s: lost connection to medicd at %s: %s\n", program, args->socket_path,
                        strerror(-r));
        return EXIT_NOCONN;
}

/* lint, test: replaces this process with medicd --lint or --test, whose exit status is theirs. */
static int run_medicd(const Args *args) {
        const char *env = getenv("MEDICD"), *medicd = env && *env ? env : DEFAULT_MEDICD;
        _cleanup_free_ char **argv = calloc(args->n_paths + 7, sizeof(char *));
        size_t n = 0;

        if (!argv)
                die_oom();
        argv[n++] = (char *) "medicd";
        argv[n++] = (char *) args->medicd_mode;
        if (args->config) {
                argv[n++] = (char *) "--config";
                argv[n++] = (char *) args->config;
        }
        if (args->json)
                argv[n++] = (char *) "--json";
        argv[n++] = (char *) "--";
        for (size_t i = 0; i < args->n_paths; i++)
                argv[n++] = args->paths[i];
        fflush(stdout);
        execv(medicd, argv);
        fprintf(stderr, "%s: cannot run %s: %s (set $MEDICD to medicd's path)\n", program, medicd, strerror(errno));
        return EXIT_NOCONN;
}

/* ---- fleet: the coordinator read directly ---------------------------------------------------- */

static void put_list_names(Str *b, json_object *list, const char *key) {
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *x = json_object_array_get_idx(list, i);
                if (i > 0)
                        str_puts(b, ", ");
                str_put_sanitized(b, key ? get_string(x, key) ?: "-" : json_object_get_string(x));
        }
}

static void put_checks(Str *b, json_object *checks) {
        for (size_t i = 0; checks && i < json_object_array_length(checks); i++) {
                str_puts(b, i > 0 ? ", " : "");
                str_put_sanitized(b, json_object_get_string(json_object_array_get_idx(checks, i)));
        }
}

static void print_fleet(json_object *o) {
        int64_t now = (int64_t) time(NULL), v = 0;
        json_object *switches = get_array(o, "switches"), *groups = get_array(o, "groups");
        size_t ng = groups ? json_object_array_length(groups) : 0;
        Str b = {};

        get_int(o, "revision", &v);
        printf("etcd %s, prefix %s, revision %" PRId64 ": ", get_string(o, "endpoint") ?: "-", get_string(o, "prefix") ?: "-", v);
        get_int(o, "nodes", &v);
        printf("%" PRId64 " nodes in %zu group%s", v, ng, ng == 1 ? "" : "s");
        get_int(o, "read_ms", &v);
        printf(" (read in %" PRId64 " ms)\n", v);
        if (!switches || json_object_array_length(switches) == 0)
                puts("switches: none set");
        for (size_t i = 0; switches && i < json_object_array_length(switches); i++) {
                json_object *s = json_object_array_get_idx(switches, i);
                _cleanup_free_ char *val = format_field(s, "value");
                json_object *value = get_object(s, "value");
                bool trip = get_string(s, "tripped_by") != NULL;
                str_puts(&b, "switch: ");
                str_puts(&b, trip ? "storm breaker" : "");
                if (!trip)
                        str_put_sanitized(&b, get_string(s, "name") ?: "-");
                if (get_string(s, "group")) {
                        str_puts(&b, " of group ");
                        str_put_sanitized(&b, get_string(s, "group"));
                } else
                        str_puts(&b, " (cluster-wide)");
                if (trip) {
                        /* A trip of the storm breaker: by whom, and why. */
                        str_puts(&b, " is tripped by ");
                        str_put_sanitized(&b, get_string(s, "tripped_by"));
                        str_puts(&b, ": ");
                        if (value && get_string(value, "reason"))
                                str_put_sanitized(&b, get_string(value, "reason"));
                        else
                                str_puts(&b, val);
                } else
                        str_printf(&b, " is set: %s", val);
                _cleanup_free_ char *line = str_take(&b);
                puts(line);
        }
        for (size_t i = 0; i < ng; i++) {
                json_object *g = json_object_array_get_idx(groups, i), *budget = get_object(g, "budget"), *l;
                int64_t used = 0, allowed = 0, members = 0, healthy = 0;
                get_int(budget, "used", &used);
                get_int(budget, "allowed", &allowed);
                get_int(g, "members", &members);
                get_int(budget, "healthy", &healthy);
                str_puts(&b, "\ngroup ");
                str_put_sanitized(&b, get_string(g, "name") ?: "-");
                str_printf(&b, ": %" PRId64 " members, %" PRId64 " healthy; budget %" PRId64 " of %" PRId64
                           " unavailable (max_unavailable %s, min_healthy %s, %s)%s",
                           members, healthy, used, allowed, get_string(budget, "max_unavailable") ?: "-",
                           get_string(budget, "min_healthy") ?: "-",
                           json_object_get_boolean(field(budget, "set_in_etcd")) ? "set in etcd" : "this node's default",
                           json_object_get_boolean(field(g, "stop")) ? "; STOPPED" : "");
                _cleanup_free_ char *head = str_take(&b);
                puts(head);
                l = get_array(g, "holders");
                for (size_t k = 0; l && k < json_object_array_length(l); k++) {
                        json_object *h = json_object_array_get_idx(l, k);
                        str_puts(&b, "  holder: ");
                        str_put_sanitized(&b, get_string(h, "node") ?: "-");
                        str_puts(&b, " rule ");
                        str_put_sanitized(&b, get_string(h, "rule") ?: "-");
                        str_puts(&b, " since ");
                        put_time_both(&b, h, "since", now);
                        if (!json_object_get_boolean(field(h, "alive")))
                                str_puts(&b, " [not alive]");
                        else if (!json_object_get_boolean(field(h, "healthy")))
                                str_puts(&b, " [unhealthy]");
                        _cleanup_free_ char *line = str_take(&b);
                        puts(line);
                }
                l = get_array(g, "queue");
                for (size_t k = 0; l && k < json_object_array_length(l); k++) {
                        json_object *q = json_object_array_get_idx(l, k);
                        int64_t pos = 0;
                        get_int(q, "position", &pos);
                        str_printf(&b, "  queue #%" PRId64 ": ", pos);
                        str_put_sanitized(&b, get_string(q, "node") ?: "-");
                        str_puts(&b, " rule ");
                        str_put_sanitized(&b, get_string(q, "rule") ?: "-");
                        str_puts(&b, ", waiting since ");
                        put_time_both(&b, q, "since", now);
                        if (get_string(q, "reason")) {
                                str_puts(&b, ": ");
                                str_put_sanitized(&b, get_string(q, "reason"));
                        }
                        _cleanup_free_ char *line = str_take(&b);
                        puts(line);
                }
                l = get_array(g, "unhealthy");
                if (l && json_object_array_length(l) > 0) {
                        str_puts(&b, "  unhealthy: ");
                        for (size_t k = 0; k < json_object_array_length(l); k++) {
                                json_object *u = json_object_array_get_idx(l, k);
                                str_puts(&b, k > 0 ? "; " : "");
                                str_put_sanitized(&b, get_string(u, "node") ?: "-");
                                str_puts(&b, " (");
                                put_checks(&b, get_array(u, "checks"));
                                str_puts(&b, ")");
                        }
                        _cleanup_free_ char *line = str_take(&b);
                        puts(line);
                }
                l = get_array(g, "dead");
                if (l && json_object_array_length(l) > 0) {
                        str_puts(&b, "  dead (registered, lease gone): ");
                        put_list_names(&b, l, NULL);
                        _cleanup_free_ char *line = str_take(&b);
                        puts(line);
                }
                static const struct { const char *key, *what; } rr[] = {
                        { "parked", "parked" }, { "sick", "came back sick" }, { "reboot_requests", "reboot requested" },
                };
                for (size_t r = 0; r < ELEMENTSOF(rr); r++) {
                        l = get_array(g, rr[r].key);
                        for (size_t k = 0; l && k < json_object_array_length(l); k++) {
                                json_object *x = json_object_array_get_idx(l, k);
                                str_printf(&b, "  %s: ", rr[r].what);
                                str_put_sanitized(&b, get_string(x, "node") ?: "-");
                                if (get_string(x, "rule")) {
                                        str_puts(&b, " (rule ");
                                        str_put_sanitized(&b, get_string(x, "rule"));
                                        str_puts(&b, ")");
                                }
                                if (get_string(x, "reason")) {
                                        str_puts(&b, ": ");
                                        str_put_sanitized(&b, get_string(x, "reason"));
                                }
                                _cleanup_free_ char *line = str_take(&b);
                                puts(line);
                        }
                }
        }
}

/* fleet: loads medic.conf for the [coordinator] settings and credentials, reads etcd itself. */
static int run_fleet(const Args *args) {
        const char *path = args->config ?: MEDIC_DEFAULT_CONFIG;
        _cleanup_(ctl_json_putp) json_object *out = NULL;
        _cleanup_free_ char *error = NULL;
        StrList errors = {};
        FleetFilter f = { .group = args->group, .label = args->label };
        Config *cfg = NULL;
        int r;

        r = config_load(path, &cfg, &errors);
        if (r < 0 || errors.n > 0) {
                fprintf(stderr, "%s: cannot load %s%s\n", program, path, errors.n > 0 ? ":" : "");
                for (size_t i = 0; i < errors.n; i++)
                        fprintf(stderr, "  %s\n", errors.v[i]);
                strlist_clear(&errors);
                config_free(cfg);
                return EXIT_FAILED;
        }
        r = fleet_read(cfg, &f, &out, &error);
        config_free(cfg);
        if (r == -ENOMEM)
                die_oom();
        if (r < 0) {
                _cleanup_free_ char *msg = sanitized(error ? error : strerror(-r));
                fprintf(stderr, "%s: fleet: %s\n", program, msg);
                return r == -EOPNOTSUPP ? EXIT_FAILED : EXIT_NOCONN;
        }
        if (args->json) {
                const char *s = json_object_to_json_string_ext(
                                out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
                if (!s)
                        die_oom();
                puts(s);
        } else
                print_fleet(out);
        return EXIT_OK;
}

static int run(int argc, char *argv[]) {
        _cleanup_(ctl_closep) int fd = -EBADF;
        _cleanup_(ctl_json_putp) json_object *reply = NULL;
        _cleanup_free_ char *request = NULL, *buf = NULL;
        const char *parse_error = NULL;
        size_t request_len = 0, len = 0;
        uint64_t deadline;
        Args args;
        bool ok;
        int r;

        r = parse_argv(argc, argv, &args);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_OK;
        if (args.medicd_mode)
                return run_medicd(&args);
        if (args.fleet)
                return run_fleet(&args);

        request = build_request(&args, &request_len);
        if (request_len > MAX_REQUEST) {
                usage_error("request too large (more than %u KiB); is the argument too long?",
                            MAX_REQUEST / 1024);
                return EXIT_USAGE;
        }

        deadline = args.timeout_sec > 0 ? ctl_now_usec() + (uint64_t) (args.timeout_sec * 1e6) : UINT64_MAX;

        r = ctl_connect(args.socket_path, deadline, &fd);
        if (r < 0)
                return report_comm_error(&args, r, r != -ETIMEDOUT);

        r = send_all(fd, request, request_len, deadline);
        if (r >= 0)
                r = recv_line(fd, deadline, &buf, &len);
        if (r < 0)
                return report_comm_error(&args, r, false);

        r = parse_reply(buf, len, &reply, &parse_error);
        if (r == -ENOMEM)
                die_oom();
        if (r < 0) {
                fprintf(stderr, "%s: invalid reply from medicd: %s\n", program,
                        parse_error ? parse_error : strerror(-r));
                return EXIT_NOCONN;
        }

        get_bool(reply, MEDIC_REPLY_OK, &ok); /* checked by parse_reply() */

        if (args.json) {
                const char *s = json_object_to_json_string_ext(
                                reply, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
                if (!s)
                        die_oom();
                puts(s);
        }

        if (!ok) {
                const char *e = get_string(reply, MEDIC_REPLY_ERROR);
                _cleanup_free_ char *msg = sanitized(e && *e ? e : "medicd reported an error");

                fflush(stdout);
                fprintf(stderr, "%s: %s\n", program, msg);
                print_error_lines(reply, stderr);
                return EXIT_FAILED;
        }

        if (args.json)
                return EXIT_OK;

        return args.command->print(reply, args.arg);
}

int main(int argc, char *argv[]) {
        int r;

        tzset();
        r = run(argc, argv);

        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "%s: cannot write output: %s\n", program, strerror(errno ? errno : EIO));
                if (r == EXIT_OK)
                        r = EXIT_FAILED;
        }
        return r;
}
