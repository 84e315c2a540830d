/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "budget.h"
#include "ratelimit.h"
#include "util.h"

#define MEDIC_DEFAULT_CONFIG "/etc/medic/medic.conf"

/* [ipmi]: how medic.ipmi reaches the BMC (in-band when host is NULL). */
typedef struct IpmiConfig {
        char *host;                 /* host = ; BMC address for IPMI 2.0 over LAN */
        unsigned port;              /* port = ; default 623 */
        char *user;                 /* user = */
        char *password_file;        /* password_file = ; owned by the daemon's user, mode 0600 or 0400 */
        int cipher_suite;           /* cipher_suite = ; default 3 */
        char *privilege;            /* privilege = user|operator|admin ; default user */
        StrList workarounds;        /* workarounds = NAME [NAME...] ; FreeIPMI workaround flags */
        uint64_t session_timeout;   /* session_timeout = DURATION ; default 20s (capped by the check's timeout) */
        char *interpret_file;       /* interpret_file = ; sensor state interpretation file */
        char *helper;               /* helper = ; default $(pkglibexecdir)/medic-ipmi */
} IpmiConfig;

typedef struct Config {
        char *path;                 /* file it was read from */

        /* [medic] */
        char *node;                 /* node = ; default: gethostname() */
        char *group;                /* group = ; default "default" */
        StrList check_dirs;         /* checks = DIR [DIR...] ; default /usr/share/medic/checks /etc/medic/checks.d */
        StrList rule_dirs;          /* rules = DIR [DIR...] ; default /usr/share/medic/rules /etc/medic/rules.d */
        char *state_dir;            /* state_dir = ; default /var/lib/medic */
        char *socket_path;          /* socket = ; default /run/medic/medicd.sock */
        char *stop_file;            /* stop_file = ; default /etc/medic/stop */
        char *settings_dir;         /* settings_dir = ; checks' settings files NAME.conf; default /etc/medic */
        int log_level;              /* log_level = debug|info|notice|warning|error ; syslog LOG_*; default LOG_INFO */
        bool dry_run;               /* dry_run = yes|no ; default yes */
        bool verify_owner;          /* verify_owner = yes|no ; default yes; "no" is for tests only */
        uint64_t lua_memory_limit;  /* lua_memory_limit = SIZE ; default 64M ; per Lua state */
        uint64_t check_timeout;     /* check_timeout = DURATION ; default 30s ; checks without their own */
        RateSpec flapping;          /* flapping = N/DURATION ; default 5/10m */
        unsigned history_size;      /* history_size = N ; default 1000 ; entries kept */
        char *kmsg_path;            /* kmsg = PATH ; default /dev/kmsg ; a FIFO or file in its format for tests */
        StrList labels;             /* labels = KEY=VALUE [, KEY=VALUE...] ; "KEY=VALUE" each, keys unique */

        /* [coordinator] */
        char *coordinator;          /* backend = local|etcd|fleetlock ; default local */
        StrList endpoints;          /* endpoints = URL [URL...] ; etcd client URLs, tried in order */
        char *prefix;               /* prefix = ; key prefix in etcd, default "/medic" */
        char *url;                  /* url = ; the FleetLock server's base URL */
        char *ca_file, *cert_file, *key_file;   /* TLS: CA bundle, client certificate and key */
        char *user;                 /* user = ; etcd user (with password_file) */
        char *password_file;        /* password_file = ; a root-only file holding the password */
        uint64_t lease_ttl;         /* lease_ttl = DURATION ; liveness lease, default 15s */
        uint64_t request_timeout;   /* request_timeout = DURATION ; default 10s */
        BudgetValue max_unavailable;/* max_unavailable = N|N% ; the group's budget until set-budget, default 1 */
        BudgetValue min_healthy;    /* min_healthy = N|N% ; default 0 */
        BreakerSpec breaker_group;  /* breaker_group = N|N%/DURATION ; storm breaker of the group, default none */
        BreakerSpec breaker_cluster;/* breaker_cluster = N/DURATION ; storm breaker of the cluster, default none */

        IpmiConfig ipmi;

        /* [reboot] */
        StrList reboot_methods;     /* methods = systemd sysrq watchdog ; the ladder, in order */
        uint64_t systemd_deadline;  /* systemd_deadline = DURATION ; default 5m */
        uint64_t sysrq_deadline;    /* sysrq_deadline = DURATION ; default 1m */
        uint64_t watchdog_deadline; /* watchdog_deadline = DURATION ; default 2m */
        uint64_t watchdog_timeout;  /* watchdog_timeout = DURATION ; set on the device, default 10s */
        char *sysrq_trigger;        /* sysrq_trigger = PATH ; default /proc/sysrq-trigger */
        char *sysrq_enable;         /* sysrq_enable = PATH ; default /proc/sys/kernel/sysrq */
        char *watchdog_device;      /* watchdog_device = PATH ; default /dev/watchdog */
        char *boot_id_file;         /* boot_id_file = PATH ; default /proc/sys/kernel/random/boot_id */
        char *pre_reboot_dir;       /* pre_reboot_dir = DIR ; default /etc/medic/pre-reboot.d */
        char *abort_dir;            /* abort_dir = DIR ; default /etc/medic/abort.d: run when a disruption is abandoned */
        char *post_reboot_dir;      /* post_reboot_dir = DIR ; default /etc/medic/post-reboot.d */
        uint64_t task_timeout;      /* task_timeout = DURATION ; each task, default 5m */
        uint64_t settle;            /* settle = DURATION ; healthy this long after boot before release, default 10m */
        uint64_t settle_timeout;    /* settle_timeout = DURATION ; escalate when not healthy by then, default 1h */
        uint64_t stuck_after;       /* stuck_after = DURATION ; a rule waiting this long escalates once, default 6h, 0 = never */
        RateSpec max_disruptions;   /* max_disruptions = N/DURATION ; reboot-loop protection, default 3/24h */
        char *notify_command;       /* notify_command = PATH ; run with the details on escalations */

        /* [metrics] */
        char *metrics_textfile;     /* textfile = PATH ; NULL (the default, or empty) = not written */
        char *metrics_listen;       /* listen = ADDRESS:PORT ; loopback only ; NULL = no HTTP listener */
} Config;

/* Parses the file with inih. On success returns 0 and *ret. On any error returns -EINVAL and
 * appends one "file:line: message" per problem to errors (all problems, not just the first);
 * *ret is not set. A missing file is an error ("file: No such file or directory"). Unknown
 * sections and keys, malformed values, and duplicate keys are errors. Relative paths in the
 * file are taken relative to the directory of the config file. */
int config_load(const char *path, Config **ret, StrList *errors);

/* Defaults only (used with no file). */
int config_new_default(Config **ret);

Config *config_free(Config *c);

/* Parses "yes/no/true/false/on/off/1/0". Returns 1, 0, or -EINVAL. */
int parse_bool(const char *s);

/* Parses "127.0.0.1:9101" or "[::1]:9101": a literal loopback address (127.0.0.0/8 or ::1)
 * and a port from 1 to 65535. Returns 0, -EINVAL when malformed, -EADDRNOTAVAIL when the
 * address is not a loopback one. ret and ret_len may be NULL. */
int parse_loopback_address(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);

/* The value of label key in labels ("KEY=VALUE" entries), or NULL when the node has none. */
const char *labels_get(const StrList *labels, const char *key);

/* Parses a log level name into LOG_*; returns -EINVAL if unknown. */
int parse_log_level(const char *s);
