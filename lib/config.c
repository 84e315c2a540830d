/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "duration.h"

#ifndef PKGDATADIR
#define PKGDATADIR "/usr/share/medic"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef DEFAULT_SOCKET
#define DEFAULT_SOCKET "/run/medic/medicd.sock"     /* configure --with-socket; medicctl's too */
#endif

#define NAME_MAX_LEN 253
#define LABEL_MAX_LEN 63
#define HISTORY_SIZE_MAX 1000000u
#define LUA_MEMORY_MIN (UINT64_C(1) << 20)

int parse_bool(const char *s) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

int parse_log_level(const char *s) {
        static const struct {
                const char *name;
                int level;
        } levels[] = {
                { "debug",   LOG_DEBUG },
                { "info",    LOG_INFO },
                { "notice",  LOG_NOTICE },
                { "warning", LOG_WARNING },
                { "warn",    LOG_WARNING },
                { "error",   LOG_ERR },
                { "err",     LOG_ERR },
                { "crit",    LOG_CRIT },
                { "alert",   LOG_ALERT },
                { "emerg",   LOG_EMERG },
        };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (strcasecmp(s, levels[i].name) == 0)
                        return levels[i].level;
        return -EINVAL;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->node);
        free(c->group);
        strlist_clear(&c->check_dirs);
        strlist_clear(&c->rule_dirs);
        free(c->state_dir);
        free(c->socket_path);
        free(c->stop_file);
        free(c->kmsg_path);
        free(c->settings_dir);
        strlist_clear(&c->labels);
        strlist_clear(&c->reboot_methods);
        free(c->sysrq_trigger);
        free(c->sysrq_enable);
        free(c->watchdog_device);
        free(c->boot_id_file);
        free(c->pre_reboot_dir);
        free(c->abort_dir);
        free(c->post_reboot_dir);
        free(c->notify_command);
        free(c->coordinator);
        free(c->metrics_textfile);
        free(c->metrics_listen);
        strlist_clear(&c->endpoints);
        free(c->prefix);
        free(c->url);
        free(c->ca_file);
        free(c->cert_file);
        free(c->key_file);
        free(c->user);
        free(c->password_file);
        free(c->ipmi.host);
        free(c->ipmi.user);
        free(c->ipmi.password_file);
        free(c->ipmi.privilege);
        strlist_clear(&c->ipmi.workarounds);
        free(c->ipmi.interpret_file);
        free(c->ipmi.helper);
        free(c);
        return NULL;
}

static inline void config_freep(Config **c) {
        config_free(*c);
}

static char *default_node(void) {
        char buf[HOST_NAME_MAX + 1] = {};

        if (gethostname(buf, sizeof(buf) - 1) < 0 || !buf[0])
                return strdup("localhost");
        return strdup(buf);
}

int config_new_default(Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->node = default_node();
        c->group = strdup("default");
        c->state_dir = strdup(LOCALSTATEDIR "/lib/medic");
        c->socket_path = strdup(DEFAULT_SOCKET);
        c->stop_file = strdup(SYSCONFDIR "/medic/stop");
        c->settings_dir = strdup(SYSCONFDIR "/medic");
        if (!c->settings_dir)
                return -ENOMEM;
        if (strlist_add(&c->reboot_methods, "systemd") < 0 || strlist_add(&c->reboot_methods, "sysrq") < 0 ||
            strlist_add(&c->reboot_methods, "watchdog") < 0)
                return -ENOMEM;
        c->systemd_deadline = 5 * 60 * USEC_PER_SEC;
        c->sysrq_deadline = 60 * USEC_PER_SEC;
        c->watchdog_deadline = 2 * 60 * USEC_PER_SEC;
        c->watchdog_timeout = 10 * USEC_PER_SEC;
        c->task_timeout = 5 * 60 * USEC_PER_SEC;
        c->settle = 10 * 60 * USEC_PER_SEC;
        c->settle_timeout = 60 * 60 * USEC_PER_SEC;
        c->stuck_after = 6 * 60 * 60 * USEC_PER_SEC;
        c->max_disruptions = (RateSpec) { .count = 3, .window_usec = 24 * 3600 * USEC_PER_SEC };
        c->sysrq_trigger = strdup("/proc/sysrq-trigger");
        c->sysrq_enable = strdup("/proc/sys/kernel/sysrq");
        c->watchdog_device = strdup("/dev/watchdog");
        c->boot_id_file = strdup("/proc/sys/kernel/random/boot_id");
        c->pre_reboot_dir = strdup(SYSCONFDIR "/medic/pre-reboot.d");
        c->abort_dir = strdup(SYSCONFDIR "/medic/abort.d");
        c->post_reboot_dir = strdup(SYSCONFDIR "/medic/post-reboot.d");
        if (!c->sysrq_trigger || !c->sysrq_enable || !c->watchdog_device || !c->boot_id_file ||
            !c->pre_reboot_dir || !c->post_reboot_dir || !c->abort_dir)
                return -ENOMEM;
        c->coordinator = strdup("local");
        c->kmsg_path = strdup("/dev/kmsg");
        if (!c->kmsg_path)
                return -ENOMEM;
        c->prefix = strdup("/medic");
        c->lease_ttl = 15 * USEC_PER_SEC;
        c->request_timeout = 10 * USEC_PER_SEC;
        c->max_unavailable = (BudgetValue) { .value = 1 };
        if (!c->prefix)
                return -ENOMEM;
        if (!c->node || !c->group || !c->state_dir || !c->socket_path || !c->stop_file || !c->coordinator)
                return -ENOMEM;
        if (strlist_add(&c->check_dirs, PKGDATADIR "/checks") < 0 ||
            strlist_add(&c->check_dirs, SYSCONFDIR "/medic/checks.d") < 0 ||
            strlist_add(&c->rule_dirs, PKGDATADIR "/rules") < 0 ||
            strlist_add(&c->rule_dirs, SYSCONFDIR "/medic/rules.d") < 0)
                return -ENOMEM;
        c->log_level = LOG_INFO;
        c->dry_run = true;
        c->verify_owner = true;
        c->lua_memory_limit = UINT64_C(64) << 20;
        c->check_timeout = 30 * USEC_PER_SEC;
        c->flapping = (RateSpec) { .count = 5, .window_usec = 10 * 60 * USEC_PER_SEC };
        c->history_size = 1000;
        c->ipmi.port = 623;
        c->ipmi.cipher_suite = 3;
        c->ipmi.session_timeout = 20 * USEC_PER_SEC;

        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- parsing ---------------------------------------------------------------------------- */

typedef enum LineKind {
        LINE_COMMENT,
        LINE_SECTION,
        LINE_KEY,
        LINE_CONTINUATION,
        LINE_BAD,
} LineKind;

typedef struct Parser Parser;
typedef void (*Setter)(Parser *p, const char *key, const char *value);

typedef struct Key {
        const char *section;
        const char *name;
        Setter set;
        bool list;      /* whitespace-separated list; indented lines continue it */
} Key;

struct Parser {
        const char *path;
        char *dir;              /* absolute directory of the file, for relative paths */
        FILE *f;
        Config *c;
        StrList *errors;
        unsigned n_errors;
        bool oom;
        unsigned coordinator_line; /* where backend = was set, for errors found at the end */

        char *buf;              /* getline buffer */
        size_t buf_size;
        unsigned lineno;
        LineKind kind;
        bool prev_key;          /* mirrors inih's prev_name: a key line was seen in this section */
        unsigned first_syntax_error;

        const Key *last_key;    /* key of the last accepted key line, for continuations */
        unsigned *seen;         /* per key: line it was set on, 0 if not */
};

static void perr(Parser *p, unsigned line, const char *fmt, ...) _printf_(3, 4);
static void perr(Parser *p, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        p->n_errors++;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg) {
                p->oom = true;
                return;
        }
        if (p->errors && strlist_addf(p->errors, "%s:%u: %s", p->path, line, msg) < 0)
                p->oom = true;
}

static char *resolve_path(Parser *p, const char *value) {
        if (value[0] == '/')
                return strdup(value);
        return strprintf("%s/%s", p->dir, value);
}

static bool has_space(const char *s) {
        for (; *s; s++)
                if (!isgraph((unsigned char) *s))
                        return true;
        return false;
}

static void set_string(Parser *p, char **dst, char *v) {
        if (!v) {
                p->oom = true;
                return;
        }
        free(*dst);
        *dst = v;
}

static void set_name(Parser *p, const char *key, const char *value) {
        char **dst = strcmp(key, "node") == 0 ? &p->c->node : &p->c->group;

        if (!*value || has_space(value) || strlen(value) > NAME_MAX_LEN) {
                perr(p, p->lineno, "invalid %s '%s' (expected a name without spaces, at most %d characters)",
                     key, value, NAME_MAX_LEN);
                return;
        }
        set_string(p, dst, strdup(value));
}

static void set_path(Parser *p, const char *key, const char *value) {
        char **dst;
        char *v;

        if (strcmp(key, "state_dir") == 0)
                dst = &p->c->state_dir;
        else if (strcmp(key, "socket") == 0)
                dst = &p->c->socket_path;
        else if (strcmp(key, "kmsg") == 0)
                dst = &p->c->kmsg_path;
        else if (strcmp(key, "settings_dir") == 0)
                dst = &p->c->settings_dir;
        else
                dst = &p->c->stop_file;

        if (!*value) {
                perr(p, p->lineno, "empty value for '%s' (expected a path)", key);
                return;
        }
        if (dst == &p->c->kmsg_path && strncmp(value, "journal", 7) == 0 && (value[7] == 0 || value[7] == ':')) {
                /* kmsg = journal, or journal:DIR (journal files of DIR) */
                _cleanup_free_ char *dir = value[7] == ':' ? resolve_path(p, value + 8) : NULL;
                set_string(p, dst, value[7] == ':' ? (dir ? strprintf("journal:%s", dir) : NULL) : strdup(value));
                return;
        }
        v = resolve_path(p, value);
        if (v && dst == &p->c->socket_path && strlen(v) >= sizeof(((struct sockaddr_un *) NULL)->sun_path)) {
                perr(p, p->lineno, "socket path '%s' is too long (at most %zu bytes)", v,
                     sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1);
                free(v);
                return;
        }
        set_string(p, dst, v);
}

/* Appends the whitespace-separated words of value to the list, resolved as paths. */
static void set_dirs(Parser *p, const char *key, const char *value) {
        StrList *l = strcmp(key, "checks") == 0 ? &p->c->check_dirs : &p->c->rule_dirs;
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL;

        if (!copy) {
                p->oom = true;
                return;
        }
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                _cleanup_free_ char *path = resolve_path(p, w);
                if (!path || strlist_add(l, path) < 0) {
                        p->oom = true;
                        return;
                }
        }
}

static void set_log_level(Parser *p, const char *key, const char *value) {
        int l = parse_log_level(value);

        if (l < 0) {
                perr(p, p->lineno, "invalid log_level '%s' (expected debug, info, notice, warning or error)", value);
                return;
        }
        p->c->log_level = l;
}

static void set_bool(Parser *p, const char *key, const char *value) {
        int b = parse_bool(value);

        if (b < 0) {
                perr(p, p->lineno, "invalid boolean '%s' for %s (expected yes or no)", value, key);
                return;
        }
        if (strcmp(key, "dry_run") == 0)
                p->c->dry_run = b;
        else
                p->c->verify_owner = b;
}

static void set_memory(Parser *p, const char *key, const char *value) {
        uint64_t v;

        if (size_parse(value, &v) < 0) {
                perr(p, p->lineno, "invalid size '%s' for %s (expected e.g. 64M)", value, key);
                return;
        }
        if (v < LUA_MEMORY_MIN) {
                perr(p, p->lineno, "%s '%s' is too small (at least 1M)", key, value);
                return;
        }
        p->c->lua_memory_limit = v;
}

static void set_timeout(Parser *p, const char *key, const char *value) {
        uint64_t v;

        if (duration_parse(value, &v) < 0 || v == 0) {
                perr(p, p->lineno, "invalid duration '%s' for %s (expected e.g. 30s, 5m)", value, key);
                return;
        }
        p->c->check_timeout = v;
}

static void set_flapping(Parser *p, const char *key, const char *value) {
        RateSpec r;

        if (ratespec_parse(value, &r) < 0) {
                perr(p, p->lineno, "invalid rate '%s' for %s (expected N/DURATION, e.g. 5/10m)", value, key);
                return;
        }
        p->c->flapping = r;
}

static void set_history_size(Parser *p, const char *key, const char *value) {
        unsigned long v = 0;
        const char *s = value;

        for (; isdigit((unsigned char) *s) && v <= HISTORY_SIZE_MAX; s++)
                v = v * 10 + (unsigned long) (*s - '0');
        if (s == value || *s || v > HISTORY_SIZE_MAX) {
                perr(p, p->lineno, "invalid %s '%s' (expected a number from 0 to %u)", key, value,
                     HISTORY_SIZE_MAX);
                return;
        }
        p->c->history_size = (unsigned) v;
}

static void set_backend(Parser *p, const char *key, const char *value) {
        if (strcmp(value, "local") == 0 || strcmp(value, "etcd") == 0 || strcmp(value, "fleetlock") == 0) {
                set_string(p, &p->c->coordinator, strdup(value));
                p->coordinator_line = p->lineno;
                return;
        }
        perr(p, p->lineno, "unknown coordinator backend '%s' (expected local, etcd or fleetlock)", value);
}

/* A value that is a list of words separated by blanks or commas: each word that check()
 * accepts (it reports the others, and may normalise the word in place) joins list. */
static void set_words(Parser *p, const char *value, StrList *list, bool (*check)(Parser *p, StrList *list, char *w)) {
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL;

        if (!copy) {
                p->oom = true;
                return;
        }
        for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save))
                if (check(p, list, w) && strlist_add(list, w) < 0)
                        p->oom = true;
}

static bool check_endpoint(Parser *p, StrList *list, char *w) {
        if (strncmp(w, "http://", 7) != 0 && strncmp(w, "https://", 8) != 0) {
                perr(p, p->lineno, "invalid endpoint '%s' (expected http://HOST:PORT or https://HOST:PORT)", w);
                return false;
        }
        size_t n = strlen(w);
        while (n > 0 && w[n - 1] == '/')
                w[--n] = 0;
        return true;
}

static void set_endpoints(Parser *p, const char *key, const char *value) {
        set_words(p, value, &p->c->endpoints, check_endpoint);
}

static void set_url(Parser *p, const char *key, const char *value) {
        _cleanup_free_ char *v = strdup(value);
        size_t n;

        if (!v) {
                p->oom = true;
                return;
        }
        if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) || has_space(v)) {
                perr(p, p->lineno, "invalid url '%s' (expected http://HOST:PORT[/PATH] or https://...)", value);
                return;
        }
        for (n = strlen(v); n > 0 && v[n - 1] == '/'; )
                v[--n] = 0;
        set_string(p, &p->c->url, TAKE_PTR(v));
}

static void set_coord_string(Parser *p, const char *key, const char *value) {
        char **dst = strcmp(key, "prefix") == 0 ? &p->c->prefix : &p->c->user;

        if (strcmp(key, "prefix") == 0 && (value[0] != '/' || has_space(value) || value[strlen(value) - 1] == '/')) {
                perr(p, p->lineno, "invalid prefix '%s' (expected /name, without a trailing slash)", value);
                return;
        }
        set_string(p, dst, strdup(value));
}

static void set_coord_path(Parser *p, const char *key, const char *value) {
        char **dst = strcmp(key, "ca_file") == 0 ? &p->c->ca_file
                   : strcmp(key, "cert_file") == 0 ? &p->c->cert_file
                   : strcmp(key, "key_file") == 0 ? &p->c->key_file : &p->c->password_file;

        if (!*value) {
                perr(p, p->lineno, "empty value for '%s' (expected a path)", key);
                return;
        }
        set_string(p, dst, resolve_path(p, value));
}

static void set_budget(Parser *p, const char *key, const char *value) {
        BudgetValue b;

        if (budget_parse(value, &b) < 0) {
                perr(p, p->lineno, "invalid %s '%s' (expected a count such as 2 or a percentage such as 10%%)", key, value);
                return;
        }
        if (strcmp(key, "max_unavailable") == 0)
                p->c->max_unavailable = b;
        else
                p->c->min_healthy = b;
}

static void set_breaker(Parser *p, const char *key, const char *value) {
        BreakerSpec b;
        bool cluster = strcmp(key, "breaker_cluster") == 0;

        if (breaker_parse(value, &b) < 0) {
                perr(p, p->lineno, "invalid %s '%s' (expected N/DURATION or N%%/DURATION, such as 20/1h or 30%%/10m)",
                     key, value);
                return;
        }
        if (cluster && b.limit.percent) {
                perr(p, p->lineno, "invalid %s '%s': a node does not know the cluster's size; give a number of nodes "
                     "(such as 20/1h)", key, value);
                return;
        }
        *(cluster ? &p->c->breaker_cluster : &p->c->breaker_group) = b;
}

/* ---- [ipmi] ---------------------------------------------------------------------------- */

static void set_ipmi_string(Parser *p, const char *key, const char *value) {
        IpmiConfig *i = &p->c->ipmi;

        if (!*value || has_space(value)) {
                perr(p, p->lineno, "invalid %s '%s' (expected a value without spaces)", key, value);
                return;
        }
        if (strcmp(key, "host") == 0)
                set_string(p, &i->host, strdup(value));
        else if (strcmp(key, "user") == 0) {
                if (strlen(value) > 16) {
                        perr(p, p->lineno, "user '%s' is longer than 16 bytes (the IPMI limit)", value);
                        return;
                }
                set_string(p, &i->user, strdup(value));
        } else {
                if (strcmp(value, "user") != 0 && strcmp(value, "operator") != 0 && strcmp(value, "admin") != 0) {
                        perr(p, p->lineno, "invalid privilege '%s' (expected user, operator or admin)", value);
                        return;
                }
                set_string(p, &i->privilege, strdup(value));
        }
}

static void set_ipmi_number(Parser *p, const char *key, const char *value) {
        bool port = strcmp(key, "port") == 0;
        unsigned long v = 0;
        const char *s = value;

        for (; isdigit((unsigned char) *s) && v <= 65535; s++)
                v = v * 10 + (unsigned long) (*s - '0');
        if (port && (s == value || *s || v == 0 || v > 65535)) {
                perr(p, p->lineno, "invalid port '%s' (expected 1 to 65535)", value);
                return;
        }
        /* the cipher suites FreeIPMI implements */
        if (!port && (s == value || *s || v > 17 || v == 4 || v == 5 || v == 9 || v == 10 || v == 13 || v == 14)) {
                perr(p, p->lineno, "invalid cipher_suite '%s' (expected 0-3, 6-8, 11, 12 or 15-17)", value);
                return;
        }
        if (port)
                p->c->ipmi.port = (unsigned) v;
        else
                p->c->ipmi.cipher_suite = (int) v;
}

/* A path to a file only root may read: the password is a secret. */
static void set_ipmi_password_file(Parser *p, const char *key, const char *value) {
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (!*value) {
                perr(p, p->lineno, "empty value for '%s' (expected a path)", key);
                return;
        }
        path = resolve_path(p, value);
        if (!path) {
                p->oom = true;
                return;
        }
        if (stat(path, &st) < 0) {
                perr(p, p->lineno, "password_file %s: %s", path, strerror(errno));
                return;
        }
        if (!S_ISREG(st.st_mode)) {
                perr(p, p->lineno, "password_file %s is not a regular file", path);
                return;
        }
        if (st.st_uid != geteuid() || (st.st_mode & 077)) {
                perr(p, p->lineno, "password_file %s must be owned by %s and closed to group and others "
                     "(chown root; chmod 0600), refusing it", path, geteuid() == 0 ? "root" : "the daemon's user");
                return;
        }
        set_string(p, &p->c->ipmi.password_file, TAKE_PTR(path));
}

static void set_ipmi_path(Parser *p, const char *key, const char *value) {
        if (!*value) {
                perr(p, p->lineno, "empty value for '%s' (expected a path)", key);
                return;
        }
        set_string(p, strcmp(key, "helper") == 0 ? &p->c->ipmi.helper : &p->c->ipmi.interpret_file,
                   resolve_path(p, value));
}

static bool check_workaround(Parser *p, StrList *list, char *w) {
        static const char *const known[] = { "authcap", "intel20", "supermicro20", "sun20", "opensesspriv",
                                             "integritycheckvalue", "nochecksumcheck", "assumeio", "spinpoll" };

        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (strcmp(w, known[i]) == 0)
                        return true;
        perr(p, p->lineno, "unknown workaround '%s' (expected authcap, intel20, supermicro20, sun20, "
             "opensesspriv, integritycheckvalue, nochecksumcheck, assumeio or spinpoll)", w);
        return false;
}

const char *labels_get(const StrList *labels, const char *key) {
        size_t n = strlen(key);

        for (size_t i = 0; i < labels->n; i++)
                if (strncmp(labels->v[i], key, n) == 0 && labels->v[i][n] == '=')
                        return labels->v[i] + n + 1;
        return NULL;
}

static bool label_part_ok(const char *s, size_t n) {
        if (n == 0 || n > LABEL_MAX_LEN || !isalnum((unsigned char) s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("._-", s[i]))
                        return false;
        return true;
}

/* One KEY=VALUE of labels: both parts letters, digits, '.', '_', '-' (starting with a letter or
 * digit, at most 63 characters); a key once. */
static bool check_label(Parser *p, StrList *list, char *w) {
        const char *eq = strchr(w, '=');

        if (!eq) {
                perr(p, p->lineno, "invalid label '%s' (expected KEY=VALUE, e.g. role=controller)", w);
                return false;
        }
        if (!label_part_ok(w, (size_t) (eq - w)) || !label_part_ok(eq + 1, strlen(eq + 1))) {
                perr(p, p->lineno, "invalid label '%s' (key and value: letters, digits, '.', '_', '-', "
                     "starting with a letter or digit, at most %d characters each)", w, LABEL_MAX_LEN);
                return false;
        }
        _cleanup_free_ char *key = strndup(w, (size_t) (eq - w));
        if (!key) {
                p->oom = true;
                return false;
        }
        if (labels_get(list, key)) {
                perr(p, p->lineno, "label '%s' is given twice", key);
                return false;
        }
        return true;
}

static void set_labels(Parser *p, const char *key, const char *value) {
        set_words(p, value, &p->c->labels, check_label);
}

static void set_ipmi_workarounds(Parser *p, const char *key, const char *value) {
        set_words(p, value, &p->c->ipmi.workarounds, check_workaround);
}

static void set_ipmi_timeout(Parser *p, const char *key, const char *value) {
        uint64_t v;

        if (duration_parse(value, &v) < 0 || v < 100 * USEC_PER_MSEC || v > 3600 * USEC_PER_SEC) {
                perr(p, p->lineno, "invalid duration '%s' for %s (expected 100ms to 1h, e.g. 10s)", value, key);
                return;
        }
        p->c->ipmi.session_timeout = v;
}

static bool check_method(Parser *p, StrList *list, char *w) {
        if (strcmp(w, "systemd") != 0 && strcmp(w, "sysrq") != 0 && strcmp(w, "watchdog") != 0) {
                perr(p, p->lineno, "unknown reboot method '%s' (expected systemd, sysrq, watchdog)", w);
                return false;
        }
        if (strlist_contains(list, w)) {
                perr(p, p->lineno, "reboot method '%s' is listed twice", w);
                return false;
        }
        return true;
}

static void set_methods(Parser *p, const char *key, const char *value) {
        set_words(p, value, &p->c->reboot_methods, check_method);
}

/* Durations stored straight into a Config field, each with its least value. */
static void set_duration_field(Parser *p, const char *key, const char *value) {
        static const struct { const char *key; size_t offset; uint64_t min; } fields[] = {
                { "lease_ttl", offsetof(Config, lease_ttl), USEC_PER_SEC },
                { "request_timeout", offsetof(Config, request_timeout), USEC_PER_SEC },
                { "systemd_deadline", offsetof(Config, systemd_deadline), 1 },
                { "sysrq_deadline", offsetof(Config, sysrq_deadline), 1 },
                { "watchdog_deadline", offsetof(Config, watchdog_deadline), 1 },
                { "watchdog_timeout", offsetof(Config, watchdog_timeout), 1 },
                { "task_timeout", offsetof(Config, task_timeout), 1 },
                { "settle", offsetof(Config, settle), 1 },
                { "settle_timeout", offsetof(Config, settle_timeout), 1 },
                { "stuck_after", offsetof(Config, stuck_after), 0 },
        };
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                if (strcmp(fields[i].key, key) != 0)
                        continue;
                if (duration_parse(value, &v) < 0 || v < fields[i].min) {
                        if (fields[i].min >= USEC_PER_SEC)
                                perr(p, p->lineno, "invalid duration '%s' for %s (expected at least 1s, e.g. 15s)", value, key);
                        else
                                perr(p, p->lineno, "invalid duration '%s' for %s (expected e.g. 30s, 5m)", value, key);
                        return;
                }
                *(uint64_t *) ((char *) p->c + fields[i].offset) = v;
        }
}

static void set_reboot_path(Parser *p, const char *key, const char *value) {
        static const struct { const char *key; size_t offset; } fields[] = {
                { "sysrq_trigger", offsetof(Config, sysrq_trigger) },
                { "sysrq_enable", offsetof(Config, sysrq_enable) },
                { "watchdog_device", offsetof(Config, watchdog_device) },
                { "boot_id_file", offsetof(Config, boot_id_file) },
                { "pre_reboot_dir", offsetof(Config, pre_reboot_dir) },
                { "abort_dir", offsetof(Config, abort_dir) },
                { "post_reboot_dir", offsetof(Config, post_reboot_dir) },
                { "notify_command", offsetof(Config, notify_command) },
        };

        if (!*value) {
                perr(p, p->lineno, "empty value for '%s' (expected a path)", key);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (strcmp(fields[i].key, key) == 0)
                        set_string(p, (char **) ((char *) p->c + fields[i].offset), resolve_path(p, value));
}

static void set_max_disruptions(Parser *p, const char *key, const char *value) {
        RateSpec r;

        if (ratespec_parse(value, &r) < 0) {
                perr(p, p->lineno, "invalid %s '%s' (expected N/DURATION, e.g. 3/24h)", key, value);
                return;
        }
        p->c->max_disruptions = r;
}

int parse_loopback_address(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct sockaddr_storage ss = {};
        const char *colon, *port;
        char host[INET6_ADDRSTRLEN + 1];
        unsigned long p = 0;
        bool bracketed;
        size_t n;

        if (!s)
                return -EINVAL;
        bracketed = s[0] == '[';
        if (bracketed) {
                colon = strchr(s, ']');
                if (!colon || colon[1] != ':')
                        return -EINVAL;
                n = (size_t) (colon - s - 1);
                port = colon + 2;
                s++;
        } else {
                colon = strrchr(s, ':');
                if (!colon)
                        return -EINVAL;
                n = (size_t) (colon - s);
                port = colon + 1;
        }
        if (n == 0 || n >= sizeof host || !*port || strlen(port) > 5)
                return -EINVAL;
        for (const char *q = port; *q; q++) {
                if (!isdigit((unsigned char) *q))
                        return -EINVAL;
                p = p * 10 + (unsigned long) (*q - '0');
        }
        if (p == 0 || p > 65535)
                return -EINVAL;
        memcpy(host, s, n);
        host[n] = 0;

        struct sockaddr_in *in4 = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
        if (inet_pton(AF_INET, host, &in4->sin_addr) == 1 && !bracketed) {
                if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
                        return -EADDRNOTAVAIL;
                in4->sin_family = AF_INET;
                in4->sin_port = htons((uint16_t) p);
                n = sizeof(*in4);
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 && bracketed) {
                if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
                        return -EADDRNOTAVAIL;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) p);
                n = sizeof(*in6);
        } else
                /* A name ("localhost", "0.0.0.0" is an address) would need a resolver: refused. */
                return -EINVAL;
        if (ret)
                *ret = ss;
        if (ret_len)
                *ret_len = (socklen_t) n;
        return 0;
}

static void set_metrics(Parser *p, const char *key, const char *value) {
        if (strcmp(key, "textfile") == 0) {
                if (!*value) {  /* empty: off */
                        free(p->c->metrics_textfile);
                        p->c->metrics_textfile = NULL;
                } else if (value[strlen(value) - 1] == '/')
                        perr(p, p->lineno, "textfile '%s' is a directory (expected a file, e.g. %s)", value,
                             "/var/lib/prometheus/node-exporter/medic.prom");
                else
                        set_string(p, &p->c->metrics_textfile, resolve_path(p, value));
                return;
        }
        if (!*value) {
                free(p->c->metrics_listen);
                p->c->metrics_listen = NULL;
                return;
        }
        int r = parse_loopback_address(value, NULL, NULL);
        if (r == -EADDRNOTAVAIL)
                perr(p, p->lineno, "listen address '%s' is not a loopback address (only 127.0.0.0/8 and [::1] "
                     "are allowed: the metrics are not meant for the network)", value);
        else if (r < 0)
                perr(p, p->lineno, "invalid listen address '%s' (expected 127.0.0.1:PORT or [::1]:PORT)", value);
        else
                set_string(p, &p->c->metrics_listen, strdup(value));
}

static const Key keys[] = {
        { "medic",       "node",             set_name,         false },
        { "medic",       "group",            set_name,         false },
        { "medic",       "checks",           set_dirs,         true  },
        { "medic",       "rules",            set_dirs,         true  },
        { "medic",       "state_dir",        set_path,         false },
        { "medic",       "socket",           set_path,         false },
        { "medic",       "stop_file",        set_path,         false },
        { "medic",       "kmsg",             set_path,         false },
        { "medic",       "settings_dir",     set_path,         false },
        { "medic",       "log_level",        set_log_level,    false },
        { "medic",       "dry_run",          set_bool,         false },
        { "medic",       "verify_owner",     set_bool,         false },
        { "medic",       "lua_memory_limit", set_memory,       false },
        { "medic",       "check_timeout",    set_timeout,      false },
        { "medic",       "flapping",         set_flapping,     false },
        { "medic",       "history_size",     set_history_size, false },
        { "medic",       "labels",           set_labels,       true  },
        { "coordinator", "backend",          set_backend,      false },
        { "coordinator", "endpoints",        set_endpoints,    true  },
        { "coordinator", "prefix",           set_coord_string, false },
        { "coordinator", "url",              set_url,          false },
        { "coordinator", "user",             set_coord_string, false },
        { "coordinator", "ca_file",          set_coord_path,   false },
        { "coordinator", "cert_file",        set_coord_path,   false },
        { "coordinator", "key_file",         set_coord_path,   false },
        { "coordinator", "password_file",    set_coord_path,   false },
        { "coordinator", "lease_ttl",        set_duration_field, false },
        { "coordinator", "request_timeout",  set_duration_field, false },
        { "coordinator", "max_unavailable",  set_budget,       false },
        { "coordinator", "min_healthy",      set_budget,       false },
        { "coordinator", "breaker_group",    set_breaker,      false },
        { "coordinator", "breaker_cluster",  set_breaker,      false },
        { "reboot",      "methods",          set_methods,      true  },
        { "reboot",      "systemd_deadline", set_duration_field, false },
        { "reboot",      "sysrq_deadline",   set_duration_field, false },
        { "reboot",      "watchdog_deadline", set_duration_field, false },
        { "reboot",      "watchdog_timeout", set_duration_field, false },
        { "reboot",      "task_timeout",     set_duration_field, false },
        { "reboot",      "settle",           set_duration_field, false },
        { "reboot",      "settle_timeout",   set_duration_field, false },
        { "reboot",      "sysrq_trigger",    set_reboot_path,  false },
        { "reboot",      "sysrq_enable",     set_reboot_path,  false },
        { "reboot",      "watchdog_device",  set_reboot_path,  false },
        { "reboot",      "boot_id_file",     set_reboot_path,  false },
        { "reboot",      "pre_reboot_dir",   set_reboot_path,  false },
        { "reboot",      "abort_dir",        set_reboot_path,  false },
        { "reboot",      "post_reboot_dir",  set_reboot_path,  false },
        { "reboot",      "notify_command",   set_reboot_path,  false },
        { "reboot",      "max_disruptions",  set_max_disruptions, false },
        { "reboot",      "stuck_after",      set_duration_field, false },
        { "ipmi",        "host",             set_ipmi_string,  false },
        { "ipmi",        "port",             set_ipmi_number,  false },
        { "ipmi",        "user",             set_ipmi_string,  false },
        { "ipmi",        "password_file",    set_ipmi_password_file, false },
        { "ipmi",        "cipher_suite",     set_ipmi_number,  false },
        { "ipmi",        "privilege",        set_ipmi_string,  false },
        { "ipmi",        "workarounds",      set_ipmi_workarounds, false },
        { "ipmi",        "session_timeout",  set_ipmi_timeout, false },
        { "ipmi",        "interpret_file",   set_ipmi_path,    false },
        { "ipmi",        "helper",           set_ipmi_path,    false },
        { "metrics",     "textfile",         set_metrics,      false },
        { "metrics",     "listen",           set_metrics,      false },
};

static bool section_known(const char *s, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strlen(keys[i].section) == len && strncmp(keys[i].section, s, len) == 0)
                        return true;
        return false;
}

/* The same scan as inih's find_chars_or_comment() with inline ';' comments. */
static const char *find_chars_or_comment(const char *s, const char *chars) {
        bool was_space = false;

        while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
                was_space = isspace((unsigned char) *s);
                s++;
        }
        return s;
}

/* Classifies a raw line the way inih will, to report every syntax error with its line (inih
 * only returns the first) and to know which key lines are continuations. */
static void classify_line(Parser *p, const char *line) {
        const char *start = line, *end;
        size_t len = strlen(line);

        while (len > 0 && isspace((unsigned char) line[len - 1]))
                len--;
        while (start < line + len && isspace((unsigned char) *start))
                start++;

        if (start == line + len || *start == ';' || *start == '#') {
                p->kind = LINE_COMMENT;
                return;
        }
        if (p->prev_key && start > line) {
                p->kind = LINE_CONTINUATION;
                return;
        }
        if (*start == '[') {
                end = find_chars_or_comment(start + 1, "]");
                if (*end != ']') {
                        p->kind = LINE_BAD;
                        perr(p, p->lineno, "missing ']' in section header");
                        goto bad;
                }
                p->kind = LINE_SECTION;
                p->prev_key = false;
                p->last_key = NULL;
                if (!section_known(start + 1, (size_t) (end - start - 1)))
                        perr(p, p->lineno, "unknown section [%.*s] (expected [medic], [coordinator], [reboot], [ipmi] or [metrics])",
                             (int) (end - start - 1), start + 1);
                return;
        }
        end = find_chars_or_comment(start, "=:");
        if (*end != '=' && *end != ':') {
                p->kind = LINE_BAD;
                perr(p, p->lineno, "expected 'key = value' or '[section]'");
                goto bad;
        }
        p->kind = LINE_KEY;
        p->prev_key = true;
        p->last_key = NULL;
        return;
bad:
        if (p->first_syntax_error == 0)
                p->first_syntax_error = p->lineno;
}

static char *reader(char *str, int num, void *stream) {
        Parser *p = stream;
        char *line;
        ssize_t k;

        k = getline(&p->buf, &p->buf_size, p->f);
        if (k < 0)
                return NULL;
        p->lineno++;
        line = p->buf;
        if (p->lineno == 1 && k >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
                line += 3;
                k -= 3;
        }
        if (memchr(line, '\0', (size_t) k)) {
                perr(p, p->lineno, "line contains a NUL byte");
                k = 0;
        } else if (k + 1 > num) {
                /* inih would split it into several lines; refuse it as a whole instead. */
                perr(p, p->lineno, "line too long (at most %d characters)", num - 3);
                k = 0;
        }
        if (k == 0) {
                p->kind = LINE_BAD;
                strcpy(str, "\n");
                return str;
        }
        memcpy(str, line, (size_t) k + 1);
        classify_line(p, line);
        return str;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
        Parser *p = user;
        const Key *key = NULL;

        if (p->kind != LINE_KEY && p->kind != LINE_CONTINUATION)
                return 1; /* cannot happen: inih and classify_line() agree */

        if (!*section) {
                if (p->kind == LINE_KEY)
                        perr(p, p->lineno, "key '%s' outside of a section (expected [medic] first)", name);
                return 1;
        }
        if (!section_known(section, strlen(section)))
                return 1; /* reported at the section header */

        if (p->kind == LINE_CONTINUATION) {
                if (!p->last_key)
                        return 1; /* the key line had an error, already reported */
                if (!p->last_key->list) {
                        perr(p, p->lineno, "unexpected indented line: '%s' takes a single value", name);
                        return 1;
                }
                p->last_key->set(p, name, value);
                return 1;
        }

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0) {
                        key = &keys[i];
                        break;
                }
        if (!key) {
                perr(p, p->lineno, "unknown key '%s' in section [%s]", name, section);
                return 1;
        }
        if (p->seen[key - keys]) {
                perr(p, p->lineno, "duplicate key '%s' (already set on line %u)", name, p->seen[key - keys]);
                return 1;
        }
        p->seen[key - keys] = p->lineno;
        p->last_key = key;

        if (key->list)  /* the file's list replaces the default one */
                strlist_clear(strcmp(name, "checks") == 0 ? &p->c->check_dirs
                              : strcmp(name, "rules") == 0 ? &p->c->rule_dirs
                              : strcmp(name, "methods") == 0 ? &p->c->reboot_methods
                              : strcmp(name, "labels") == 0 ? &p->c->labels : &p->c->endpoints);
        key->set(p, name, value);
        return 1;
}

static char *config_dir(const char *path) {
        _cleanup_free_ char *cwd = NULL, *dir = NULL;
        const char *slash = strrchr(path, '/');

        if (slash == path)
                return strdup("/");
        if (slash) {
                dir = strndup(path, (size_t) (slash - path));
                if (!dir)
                        return NULL;
                if (dir[0] == '/')
                        return TAKE_PTR(dir);
        }
        cwd = getcwd(NULL, 0);
        if (!cwd)
                return NULL;
        if (!dir || strcmp(dir, ".") == 0)
                return TAKE_PTR(cwd);
        return strprintf("%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, dir);
}

int config_load(const char *path, Config **ret, StrList *errors) {
        _cleanup_(config_freep) Config *c = NULL;
        unsigned seen[ELEMENTSOF(keys)] = {};
        Parser p = {
                .path = path,
                .errors = errors,
                .seen = seen,
        };
        struct stat st;
        int r;

        if (!path)
                return -EINVAL;

        p.f = fopen(path, "re");
        if (!p.f || fstat(fileno(p.f), &st) < 0 || S_ISDIR(st.st_mode)) {
                int e = !p.f ? errno : S_ISDIR(st.st_mode) ? EISDIR : errno;
                if (p.f)
                        fclose(p.f);
                if (errors && strlist_addf(errors, "%s: %s", path, strerror(e)) < 0)
                        return -ENOMEM;
                return -EINVAL;
        }

        r = config_new_default(&c);
        if (r < 0)
                goto finish;
        c->path = strdup(path);
        p.dir = config_dir(path);
        if (!c->path || !p.dir) {
                r = -ENOMEM;
                goto finish;
        }
        p.c = c;

        r = ini_parse_stream(reader, &p, handler, &p);
        if (r < 0) {
                r = -ENOMEM;
                goto finish;
        }
        if (r > 0 && (unsigned) r != p.first_syntax_error)
                /* inih found a problem that classify_line() did not: still report it. */
                perr(&p, (unsigned) r, "syntax error");
        if (ferror(p.f))
                perr(&p, p.lineno, "read error: %s", strerror(errno));

        if (!p.oom && c->coordinator && strcmp(c->coordinator, "etcd") == 0 && c->endpoints.n == 0)
                perr(&p, p.coordinator_line, "backend = etcd needs endpoints = http://HOST:PORT ...");
        if (!p.oom && c->coordinator && strcmp(c->coordinator, "fleetlock") == 0) {
                if (!c->url)
                        perr(&p, p.coordinator_line, "backend = fleetlock needs url = http://HOST:PORT");
                if (c->group[strspn(c->group, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")])
                        perr(&p, p.coordinator_line, "group '%s' cannot be used with FleetLock "
                             "(group names must match ^[a-zA-Z0-9.-]+$)", c->group);
        }
        if (!p.oom && (c->breaker_group.window_usec || c->breaker_cluster.window_usec) &&
            (!c->coordinator || strcmp(c->coordinator, "etcd") != 0))
                perr(&p, p.coordinator_line, "breaker_group and breaker_cluster need backend = etcd (the storm breaker "
                     "counts from the etcd coordinator's history)");
        if (!p.oom && (!c->cert_file) != (!c->key_file))
                perr(&p, p.lineno, "cert_file and key_file must be given together");
        if (p.oom)
                r = -ENOMEM;
        else if (p.n_errors > 0)
                r = -EINVAL;
        else {
                *ret = TAKE_PTR(c);
                r = 0;
        }
finish:
        fclose(p.f);
        free(p.buf);
        free(p.dir);
        return r;
}
