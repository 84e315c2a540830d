/* SPDX-License-Identifier: MIT */
/* medic-ipmi: reads IPMI sensors or the SEL with FreeIPMI's libipmimonitoring and prints one
 * JSON object on stdout. medicd runs it as a child (medic.ipmi.sensors/sel in Lua) because the
 * library's calls block: the daemon's event loop only waits on the pipe and kills the process
 * group when the check's time is up.
 *
 *   medic-ipmi [OPTIONS] sensors
 *   medic-ipmi [OPTIONS] sel [--after ID:TIMESTAMP]
 *
 * Without --host the BMC is read in-band (KCS/SSIF/OpenIPMI driver, needs root). With --host
 * it is read over LAN (IPMI 2.0, RMCP+). The password is never taken from the command line
 * (other users can read it in /proc): --password-file names a file that must belong to the
 * user running medic-ipmi and be closed to group and others.
 *
 * Exit status: 0 with the result; 1 with {"error": MESSAGE} (the BMC did not answer, refused
 * the login, ...); 2 for a usage error (also as {"error": ...}). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ipmi_monitoring.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipmi-sel.h"

#define PASSWORD_MAX 20  /* IPMI 2.0 */
#define USER_MAX 16

static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int status, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "error", json_object_new_string(msg));
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        fprintf(stderr, "medic-ipmi: %s\n", msg);
        return status;
}

static const struct {
        const char *name;
        unsigned flag;
        bool lan;
} workarounds[] = {
        { "authcap",             IPMI_MONITORING_WORKAROUND_FLAGS_PROTOCOL_VERSION_2_0_AUTHENTICATION_CAPABILITIES, true },
        { "intel20",             IPMI_MONITORING_WORKAROUND_FLAGS_PROTOCOL_VERSION_2_0_INTEL_2_0_SESSION, true },
        { "supermicro20",        IPMI_MONITORING_WORKAROUND_FLAGS_PROTOCOL_VERSION_2_0_SUPERMICRO_2_0_SESSION, true },
        { "sun20",               IPMI_MONITORING_WORKAROUND_FLAGS_PROTOCOL_VERSION_2_0_SUN_2_0_SESSION, true },
        { "opensesspriv",        IPMI_MONITORING_WORKAROUND_FLAGS_PROTOCOL_VERSION_2_0_OPEN_SESSION_PRIVILEGE, true },
        { "integritycheckvalue", IPMI_MONITORING_WORKAROUND_FLAGS_PROTOCOL_VERSION_2_0_NON_EMPTY_INTEGRITY_CHECK_VALUE, true },
        { "nochecksumcheck",     IPMI_MONITORING_WORKAROUND_FLAGS_PROTOCOL_VERSION_2_0_NO_CHECKSUM_CHECK, true },
        { "assumeio",            IPMI_MONITORING_WORKAROUND_FLAGS_INBAND_ASSUME_IO_BASE_ADDRESS, false },
        { "spinpoll",            IPMI_MONITORING_WORKAROUND_FLAGS_INBAND_SPIN_POLL, false },
};

static const char *const sensor_types[] = {
        [0x01] = "Temperature", [0x02] = "Voltage", [0x03] = "Current", [0x04] = "Fan",
        [0x05] = "Physical Security", [0x06] = "Platform Security Violation Attempt",
        [0x07] = "Processor", [0x08] = "Power Supply", [0x09] = "Power Unit",
        [0x0A] = "Cooling Device", [0x0B] = "Other Units Based Sensor", [0x0C] = "Memory",
        [0x0D] = "Drive Slot", [0x0E] = "POST Memory Resize", [0x0F] = "System Firmware Progress",
        [0x10] = "Event Logging Disabled", [0x11] = "Watchdog 1", [0x12] = "System Event",
        [0x13] = "Critical Interrupt", [0x14] = "Button/Switch", [0x15] = "Module/Board",
        [0x16] = "Microcontroller/Coprocessor", [0x17] = "Add In Card", [0x18] = "Chassis",
        [0x19] = "Chip Set", [0x1A] = "Other Fru", [0x1B] = "Cable/Interconnect",
        [0x1C] = "Terminator", [0x1D] = "System Boot Initiated", [0x1E] = "Boot Error",
        [0x1F] = "OS Boot", [0x20] = "OS Critical Stop", [0x21] = "Slot/Connector",
        [0x22] = "System ACPI Power State", [0x23] = "Watchdog 2", [0x24] = "Platform Alert",
        [0x25] = "Entity Presence", [0x26] = "Monitor ASIC/IC", [0x27] = "LAN",
        [0x28] = "Management Subsystem Health", [0x29] = "Battery", [0x2A] = "Session Audit",
        [0x2B] = "Version Change", [0x2C] = "FRU State",
};

static struct json_object *type_name(int t) {
        if (t > 0 && (size_t) t < sizeof(sensor_types) / sizeof(sensor_types[0]) && sensor_types[t])
                return json_object_new_string(sensor_types[t]);
        if (t >= IPMI_MONITORING_SENSOR_TYPE_OEM_MIN && t <= IPMI_MONITORING_SENSOR_TYPE_OEM_MAX)
                return json_object_new_string("OEM");
        return json_object_new_string("Unknown");
}

static const char *state_name(int s) {
        switch (s) {
        case IPMI_MONITORING_STATE_NOMINAL:  return "Nominal";
        case IPMI_MONITORING_STATE_WARNING:  return "Warning";
        case IPMI_MONITORING_STATE_CRITICAL: return "Critical";
        default:                             return "Unknown";
        }
}

static struct json_object *units_name(int u) {
        switch (u) {
        case IPMI_MONITORING_SENSOR_UNITS_CELSIUS:    return json_object_new_string("C");
        case IPMI_MONITORING_SENSOR_UNITS_FAHRENHEIT: return json_object_new_string("F");
        case IPMI_MONITORING_SENSOR_UNITS_VOLTS:      return json_object_new_string("V");
        case IPMI_MONITORING_SENSOR_UNITS_AMPS:       return json_object_new_string("A");
        case IPMI_MONITORING_SENSOR_UNITS_RPM:        return json_object_new_string("RPM");
        case IPMI_MONITORING_SENSOR_UNITS_WATTS:      return json_object_new_string("W");
        case IPMI_MONITORING_SENSOR_UNITS_PERCENT:    return json_object_new_string("%");
        default:                                      return NULL;
        }
}

/* Reads the password: the file must be a regular file owned by us, closed to group and
 * others. Trailing newlines are dropped. */
static int read_password(const char *path, char *buf, size_t size) {
        struct stat st;
        ssize_t n;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

        if (fd < 0)
                return fail(2, "password file %s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return fail(2, "password file %s: not a regular file", path);
        }
        if (st.st_uid != geteuid() || (st.st_mode & 077)) {
                close(fd);
                return fail(2, "password file %s must be owned by uid %u and closed to group and others "
                            "(mode 0600), refusing it", path, (unsigned) geteuid());
        }
        n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return fail(2, "password file %s: %s", path, strerror(errno));
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = '\0';
        if ((size_t) n > PASSWORD_MAX)
                return fail(2, "password in %s is longer than %d bytes", path, PASSWORD_MAX);
        return 0;
}

static int parse_uint(const char *s, long max, long *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < 0 || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static struct json_object *library_error(ipmi_monitoring_ctx_t ctx, const char *host) {
        int e = ipmi_monitoring_ctx_errnum(ctx);
        const char *msg = ipmi_monitoring_ctx_errormsg(ctx);
        char buf[512];

        snprintf(buf, sizeof buf, "%s: %s", host ? host : "in-band BMC", msg ? msg : "error");
        (void) e;
        return json_object_new_string(buf);
}

static struct json_object *read_sensors(ipmi_monitoring_ctx_t ctx, const char *host,
                                        struct ipmi_monitoring_ipmi_config *cfg, char **ret_err) {
        unsigned flags = IPMI_MONITORING_SENSOR_READING_FLAGS_IGNORE_NON_INTERPRETABLE_SENSORS;
        int n = ipmi_monitoring_sensor_readings_by_record_id(ctx, host, cfg, flags, NULL, 0, NULL, NULL);
        struct json_object *list;

        if (n < 0) {
                struct json_object *e = library_error(ctx, host);
                *ret_err = strdup(json_object_get_string(e));
                json_object_put(e);
                return NULL;
        }
        list = json_object_new_array();
        if (n == 0)
                return list;
        ipmi_monitoring_sensor_iterator_first(ctx);
        do {
                struct json_object *s = json_object_new_object(), *ev = json_object_new_array();
                int type = ipmi_monitoring_sensor_read_sensor_type(ctx);
                int rtype = ipmi_monitoring_sensor_read_sensor_reading_type(ctx);
                const char *name = ipmi_monitoring_sensor_read_sensor_name(ctx);
                void *r = ipmi_monitoring_sensor_read_sensor_reading(ctx);
                char **strs = ipmi_monitoring_sensor_read_sensor_bitmask_strings(ctx);
                struct json_object *reading = NULL;

                if (r) {
                        if (rtype == IPMI_MONITORING_SENSOR_READING_TYPE_DOUBLE)
                                reading = json_object_new_double(*(double *) r);
                        else if (rtype == IPMI_MONITORING_SENSOR_READING_TYPE_UNSIGNED_INTEGER32)
                                reading = json_object_new_int64(*(uint32_t *) r);
                        else if (rtype == IPMI_MONITORING_SENSOR_READING_TYPE_UNSIGNED_INTEGER8_BOOL)
                                reading = json_object_new_boolean(*(uint8_t *) r);
                }
                json_object_object_add(s, "id", json_object_new_int(ipmi_monitoring_sensor_read_record_id(ctx)));
                json_object_object_add(s, "number", json_object_new_int(ipmi_monitoring_sensor_read_sensor_number(ctx)));
                json_object_object_add(s, "name", json_object_new_string(name ? name : ""));
                json_object_object_add(s, "type", type_name(type));
                json_object_object_add(s, "type_code", json_object_new_int(type));
                json_object_object_add(s, "state", json_object_new_string(state_name(ipmi_monitoring_sensor_read_sensor_state(ctx))));
                json_object_object_add(s, "reading", reading);
                json_object_object_add(s, "units", units_name(ipmi_monitoring_sensor_read_sensor_units(ctx)));
                for (int i = 0; strs && strs[i]; i++)
                        json_object_array_add(ev, json_object_new_string(strs[i]));
                json_object_object_add(s, "events", ev);
                json_object_array_add(list, s);
        } while (ipmi_monitoring_sensor_iterator_next(ctx) > 0);
        return list;
}

static struct json_object *sel_record(ipmi_monitoring_ctx_t ctx, unsigned *ret_ts) {
        struct json_object *e = json_object_new_object();
        int cls = ipmi_monitoring_sel_read_record_type_class(ctx);
        unsigned ts = 0;

        json_object_object_add(e, "id", json_object_new_int(ipmi_monitoring_sel_read_record_id(ctx)));
        if (cls != IPMI_MONITORING_SEL_RECORD_TYPE_CLASS_NON_TIMESTAMPED_OEM_RECORD &&
            ipmi_monitoring_sel_read_timestamp(ctx, &ts) >= 0)
                json_object_object_add(e, "timestamp", json_object_new_int64(ts));
        *ret_ts = ts;
        json_object_object_add(e, "state", json_object_new_string(state_name(ipmi_monitoring_sel_read_sel_state(ctx))));
        if (cls == IPMI_MONITORING_SEL_RECORD_TYPE_CLASS_SYSTEM_EVENT_RECORD) {
                const char *sensor = ipmi_monitoring_sel_read_sensor_name(ctx);
                const char *off = ipmi_monitoring_sel_read_event_offset_string(ctx);
                int type = ipmi_monitoring_sel_read_sensor_type(ctx);

                json_object_object_add(e, "class", json_object_new_string("system"));
                json_object_object_add(e, "sensor", json_object_new_string(sensor ? sensor : ""));
                json_object_object_add(e, "sensor_number", json_object_new_int(ipmi_monitoring_sel_read_sensor_number(ctx)));
                json_object_object_add(e, "type", type_name(type));
                json_object_object_add(e, "type_code", json_object_new_int(type));
                json_object_object_add(e, "direction", json_object_new_string(
                        ipmi_monitoring_sel_read_event_direction(ctx) == IPMI_MONITORING_SEL_EVENT_DIRECTION_ASSERTION
                        ? "assertion" : "deassertion"));
                json_object_object_add(e, "event", json_object_new_string(off ? off : ""));
        } else
                json_object_object_add(e, "class", json_object_new_string("oem"));
        return e;
}

/* All SEL records, or those after the record ID:TIMESTAMP. When that record is gone the SEL
 * was cleared (or wrapped): every record is new and "cleared" says so. */
static struct json_object *read_sel(ipmi_monitoring_ctx_t ctx, const char *host,
                                    struct ipmi_monitoring_ipmi_config *cfg, const SelPosition *after,
                                    char **ret_err) {
        bool have_after = after;
        int n = ipmi_monitoring_sel_by_record_id(ctx, host, cfg, 0, NULL, 0, NULL, NULL);
        struct json_object *all, *events, *out, *last = NULL;
        long found_at = -1;
        size_t count;

        if (n < 0) {
                struct json_object *e = library_error(ctx, host);
                *ret_err = strdup(json_object_get_string(e));
                json_object_put(e);
                return NULL;
        }
        all = json_object_new_array();
        if (n > 0) {
                ipmi_monitoring_sel_iterator_first(ctx);
                do {
                        unsigned ts;
                        struct json_object *e = sel_record(ctx, &ts);
                        int id = ipmi_monitoring_sel_read_record_id(ctx);

                        if (have_after && found_at < 0 && id == after->id && (int64_t) ts == after->timestamp)
                                found_at = (long) json_object_array_length(all);
                        json_object_array_add(all, e);
                } while (ipmi_monitoring_sel_iterator_next(ctx) > 0);
        }
        count = json_object_array_length(all);
        events = json_object_new_array();
        for (size_t i = (size_t) (found_at + 1); i < count; i++)
                json_object_array_add(events, json_object_get(json_object_array_get_idx(all, i)));
        if (count > 0) {
                struct json_object *l = json_object_array_get_idx(all, count - 1), *v;
                last = json_object_new_object();
                json_object_object_get_ex(l, "id", &v);
                json_object_object_add(last, "id", json_object_get(v));
                json_object_object_add(last, "timestamp",
                                       json_object_object_get_ex(l, "timestamp", &v) ? json_object_get(v)
                                                                                     : json_object_new_int(0));
        }
        out = json_object_new_object();
        json_object_object_add(out, "records", json_object_new_int((int) count));
        json_object_object_add(out, "last", last);
        json_object_object_add(out, "cleared", json_object_new_boolean(have_after && found_at < 0));
        json_object_object_add(out, "events", events);
        json_object_put(all);
        return out;
}

static void usage(FILE *f) {
        fputs("Usage: medic-ipmi [OPTIONS] sensors\n"
              "       medic-ipmi [OPTIONS] sel [--after ID:TIMESTAMP]\n"
              "  --host HOST              BMC address (LAN 2.0); in-band when absent\n"
              "  --port N                 UDP port (default 623)\n"
              "  --user NAME              user name\n"
              "  --password-file FILE     file with the password (mode 0600, ours)\n"
              "  --cipher-suite N         RMCP+ cipher suite (default 3)\n"
              "  --privilege LEVEL        user, operator or admin (default user)\n"
              "  --workaround NAME        FreeIPMI workaround flag (repeatable, or comma list)\n"
              "  --session-timeout MS     session timeout in milliseconds (default 20000)\n"
              "  --interpret-file FILE    sensor state interpretation file\n"
              "  --sdr-cache-dir DIR      SDR cache directory\n", f);
}

int main(int argc, char **argv) {
        enum { OPT_HOST = 256, OPT_PORT, OPT_USER, OPT_PASSWORD_FILE, OPT_CIPHER, OPT_PRIV, OPT_WORKAROUND,
               OPT_SESSION_TIMEOUT, OPT_INTERPRET, OPT_SDR_CACHE, OPT_AFTER };
        static const struct option options[] = {
                { "host", required_argument, NULL, OPT_HOST },
                { "port", required_argument, NULL, OPT_PORT },
                { "user", required_argument, NULL, OPT_USER },
                { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
                { "cipher-suite", required_argument, NULL, OPT_CIPHER },
                { "privilege", required_argument, NULL, OPT_PRIV },
                { "workaround", required_argument, NULL, OPT_WORKAROUND },
                { "session-timeout", required_argument, NULL, OPT_SESSION_TIMEOUT },
                { "interpret-file", required_argument, NULL, OPT_INTERPRET },
                { "sdr-cache-dir", required_argument, NULL, OPT_SDR_CACHE },
                { "after", required_argument, NULL, OPT_AFTER },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *host = NULL, *user = NULL, *password_file = NULL, *interpret = NULL, *sdr_cache = NULL;
        long port = 623, cipher = 3, session_timeout = 20000;
        SelPosition after = {};
        int privilege = IPMI_MONITORING_PRIVILEGE_LEVEL_USER;
        unsigned wflags = 0;
        bool have_after = false, wflags_lan = false, wflags_inband = false;
        char password[PASSWORD_MAX + 2] = "", hostport[300];
        int c, errnum;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_HOST: host = optarg; break;
                case OPT_PORT:
                        if (parse_uint(optarg, 65535, &port) < 0 || port == 0)
                                return fail(2, "invalid port '%s'", optarg);
                        break;
                case OPT_USER:
                        if (strlen(optarg) > USER_MAX)
                                return fail(2, "user name longer than %d bytes", USER_MAX);
                        user = optarg;
                        break;
                case OPT_PASSWORD_FILE: password_file = optarg; break;
                case OPT_CIPHER:
                        if (parse_uint(optarg, 17, &cipher) < 0)
                                return fail(2, "invalid cipher suite '%s' (0-17)", optarg);
                        break;
                case OPT_PRIV:
                        if (strcmp(optarg, "user") == 0)
                                privilege = IPMI_MONITORING_PRIVILEGE_LEVEL_USER;
                        else if (strcmp(optarg, "operator") == 0)
                                privilege = IPMI_MONITORING_PRIVILEGE_LEVEL_OPERATOR;
                        else if (strcmp(optarg, "admin") == 0)
                                privilege = IPMI_MONITORING_PRIVILEGE_LEVEL_ADMIN;
                        else
                                return fail(2, "invalid privilege '%s' (user, operator or admin)", optarg);
                        break;
                case OPT_WORKAROUND: {
                        char *copy = strdup(optarg), *save = NULL;
                        for (char *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
                                size_t i;
                                for (i = 0; i < sizeof(workarounds) / sizeof(workarounds[0]); i++)
                                        if (strcmp(w, workarounds[i].name) == 0)
                                                break;
                                if (i == sizeof(workarounds) / sizeof(workarounds[0])) {
                                        int r = fail(2, "unknown workaround '%s'", w);
                                        free(copy);
                                        return r;
                                }
                                wflags |= workarounds[i].flag;
                                if (workarounds[i].lan)
                                        wflags_lan = true;
                                else
                                        wflags_inband = true;
                        }
                        free(copy);
                        break;
                }
                case OPT_SESSION_TIMEOUT:
                        if (parse_uint(optarg, 3600000, &session_timeout) < 0 || session_timeout < 100)
                                return fail(2, "invalid session timeout '%s' (100 to 3600000 ms)", optarg);
                        break;
                case OPT_INTERPRET: interpret = optarg; break;
                case OPT_SDR_CACHE: sdr_cache = optarg; break;
                case OPT_AFTER:
                        if (sel_position_parse(optarg, &after) < 0)
                                return fail(2, "invalid --after '%s' (expected ID:TIMESTAMP, ID 0 to %d)", optarg,
                                            SEL_ID_MAX);
                        have_after = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return fail(2, "invalid arguments");
                }
        }
        if (optind != argc - 1 || (strcmp(argv[optind], "sensors") != 0 && strcmp(argv[optind], "sel") != 0)) {
                usage(stderr);
                return fail(2, "expected one command: sensors or sel");
        }
        bool want_sel = strcmp(argv[optind], "sel") == 0;
        if (have_after && !want_sel)
                return fail(2, "--after is for the sel command");
        if (host && wflags_inband)
                return fail(2, "workarounds assumeio and spinpoll are for in-band access only");
        if (!host && wflags_lan)
                return fail(2, "LAN workarounds given without --host");
        if (password_file) {
                int r = read_password(password_file, password, sizeof password);
                if (r != 0)
                        return r;
        }
        if (host) {
                /* The library takes the port as part of the host name; IPv6 in brackets. */
                bool v6 = strchr(host, ':') && host[0] != '[';
                if ((size_t) snprintf(hostport, sizeof hostport, v6 ? "[%s]:%ld" : "%s:%ld", host, port) >= sizeof hostport)
                        return fail(2, "host name too long");
        }

        if (ipmi_monitoring_init(0, &errnum) < 0)
                return fail(1, "cannot initialise libipmimonitoring: %s", ipmi_monitoring_ctx_strerror(errnum));
        ipmi_monitoring_ctx_t ctx = ipmi_monitoring_ctx_create();
        if (!ctx)
                return fail(1, "cannot create a libipmimonitoring context");
        if (sdr_cache && mkdir(sdr_cache, 0700) < 0 && errno != EEXIST) {
                int r = fail(1, "SDR cache directory %s: %s", sdr_cache, strerror(errno));
                ipmi_monitoring_ctx_destroy(ctx);
                return r;
        }
        /* One reader at a time per cache directory: concurrent checks would otherwise build
         * the SDR cache at the same time, and many BMCs allow only a few sessions. The lock
         * goes with the process (killed at the timeout: released). */
        if (sdr_cache) {
                char lock[PATH_MAX];
                int fd = -1;
                if ((size_t) snprintf(lock, sizeof lock, "%s/lock", sdr_cache) < sizeof lock)
                        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0 || flock(fd, LOCK_EX) < 0) {
                        int r = fail(1, "SDR cache lock %s/lock: %s", sdr_cache, strerror(errno));
                        ipmi_monitoring_ctx_destroy(ctx);
                        return r;
                }
        }
        if (sdr_cache && ipmi_monitoring_ctx_sdr_cache_directory(ctx, sdr_cache) < 0) {
                int r = fail(1, "SDR cache directory %s: %s", sdr_cache, ipmi_monitoring_ctx_errormsg(ctx));
                ipmi_monitoring_ctx_destroy(ctx);
                return r;
        }
        if (ipmi_monitoring_ctx_sensor_config_file(ctx, interpret) < 0) {
                int r = fail(1, "interpretation file %s: %s", interpret ? interpret : "(default)",
                             ipmi_monitoring_ctx_errormsg(ctx));
                ipmi_monitoring_ctx_destroy(ctx);
                return r;
        }

        struct ipmi_monitoring_ipmi_config cfg = {
                .driver_type = -1,
                .protocol_version = IPMI_MONITORING_PROTOCOL_VERSION_2_0,
                .username = (char *) user,
                .password = password_file ? password : NULL,
                .privilege_level = privilege,
                .authentication_type = -1,
                .cipher_suite_id = (int) cipher,
                .session_timeout_len = (int) session_timeout,
                /* a few retransmissions within the session timeout, at most every 500 ms */
                .retransmission_timeout_len = (int) (session_timeout / 4 < 500 ? session_timeout / 4 : 500),
                .workaround_flags = wflags,
        };
        char *err = NULL;
        struct json_object *out;

        if (want_sel) {
                out = read_sel(ctx, host ? hostport : NULL, &cfg, have_after ? &after : NULL, &err);
        } else {
                struct json_object *list = read_sensors(ctx, host ? hostport : NULL, &cfg, &err);
                out = NULL;
                if (list) {
                        out = json_object_new_object();
                        json_object_object_add(out, "sensors", list);
                }
        }
        explicit_bzero(password, sizeof password);
        ipmi_monitoring_ctx_destroy(ctx);
        if (!out) {
                int r = fail(1, "%s", err ? err : "error");
                free(err);
                return r;
        }
        puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
        json_object_put(out);
        return fflush(stdout) == 0 ? 0 : 1;
}
