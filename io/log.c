/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool to_journal = false;

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(LogTarget target, int level) {
        max_level = level;
        to_journal = target == LOG_TARGET_JOURNAL || (target == LOG_TARGET_AUTO && stderr_is_journal());
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

static const char *level_name(int level) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
                [LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
        };
        return level >= 0 && level <= LOG_DEBUG ? names[level] : "?";
}

static void log_to_stderr(int level, const char *message_id, const LogField *fields, const char *msg) {
        char buf[4096];
        size_t n = 0;
        int k;

        k = snprintf(buf, sizeof buf, "medicd[%d]: %s: %s", (int) getpid(), level_name(level), msg);
        n = k < 0 ? 0 : (size_t) k >= sizeof buf ? sizeof buf - 1 : (size_t) k;
        if (fields) {
                bool first = true;
                for (const LogField *f = fields; f->key; f++) {
                        if (!f->value || n >= sizeof buf - 1)
                                continue;
                        /* MEDIC_RULE=x reads as rule=x on a terminal. */
                        const char *key = strncmp(f->key, "MEDIC_", 6) == 0 ? f->key + 6 : f->key;
                        char low[64];
                        size_t i;
                        for (i = 0; key[i] && i < sizeof low - 1; i++)
                                low[i] = (char) (key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
                        low[i] = 0;
                        k = snprintf(buf + n, sizeof buf - n, "%s%s=%s", first ? " (" : " ", low, f->value);
                        if (k > 0)
                                n = n + (size_t) k >= sizeof buf ? sizeof buf - 1 : n + (size_t) k;
                        first = false;
                }
                if (!first && n < sizeof buf - 2)
                        buf[n++] = ')', buf[n] = 0;
        }
        (void) message_id;
        fprintf(stderr, "%s\n", buf);
}

int log_internal(int level, int error, const char *message_id, const LogField *fields,
                 const char *func, const char *file, int line, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        errno = error; /* so that %m works */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        if (!to_journal) {
                log_to_stderr(level, message_id, fields, msg);
                errno = saved;
                return -error;
        }

        /* MESSAGE, PRIORITY, MESSAGE_ID, CODE_*, ERRNO, up to 16 fields. */
        struct iovec iov[24];
        char *strs[24];
        size_t n = 0;
        strs[n++] = strprintf("MESSAGE=%s", msg);
        strs[n++] = strprintf("PRIORITY=%d", level);
        strs[n++] = strprintf("SYSLOG_IDENTIFIER=medicd");
        strs[n++] = strprintf("CODE_FUNC=%s", func);
        strs[n++] = strprintf("CODE_FILE=%s", file);
        strs[n++] = strprintf("CODE_LINE=%d", line);
        if (message_id)
                strs[n++] = strprintf("MESSAGE_ID=%s", message_id);
        if (error)
                strs[n++] = strprintf("ERRNO=%d", error);
        for (const LogField *f = fields; f && f->key && n < ELEMENTSOF(strs); f++)
                if (f->value)
                        strs[n++] = strprintf("%s=%s", f->key, f->value);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
                if (strs[i])
                        iov[m++] = (struct iovec) { .iov_base = strs[i], .iov_len = strlen(strs[i]) };
        if (sd_journal_sendv(iov, (int) m) < 0)
                log_to_stderr(level, message_id, fields, msg);
        for (size_t i = 0; i < n; i++)
                free(strs[i]);
        errno = saved;
        return -error;
}
