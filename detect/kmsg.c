/* SPDX-License-Identifier: MIT */
/* The kernel log as an event source. /dev/kmsg hands out one record per read(2) and never
 * blocks when opened O_NONBLOCK; a FIFO or a regular file in the same format (for tests)
 * gives a byte stream, so every input goes through the same line splitter. A FIFO is opened
 * read-write so that the last writer closing it never turns into an endless EOF; a regular
 * file is followed with inotify. /dev/kmsg itself is only ever opened read-only.
 *
 * Where /dev/kmsg cannot be read (a container, a sandbox) and the systemd journal is present,
 * the kernel's messages come from the journal instead (_TRANSPORT=kernel of this boot);
 * `kmsg = journal` asks for that, `kmsg = journal:DIR` reads the journal files of DIR (tests). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>

#include "kmsg.h"
#include "log.h"

#define READ_CHUNK 8192             /* one /dev/kmsg record always fits */
#define READS_PER_TURN 256          /* then give the event loop back */
#define TRAILING_TRIGGER_USEC (250 * USEC_PER_MSEC)

struct Kmsg {
        const SourceHost *host;
        char *path;
        int fd;
        bool regular;               /* a regular file, followed with inotify */
        sd_event_source *io;
        sd_event_source *trailing;  /* a second trigger shortly after a burst */
        sd_event_source *more;      /* a regular file had more than one turn's worth */
        char *partial;              /* bytes of an incomplete line */
        size_t n_partial;
        bool skipping;              /* the current line was too long: drop until '\n' */
        KmsgRecord ring[KMSG_RING_SIZE];
        size_t head, n;             /* oldest record at head */
        uint64_t dropped;
        sd_journal *journal;        /* reading the journal instead of a kmsg stream */
        uint64_t journal_seq;
};

static Kmsg *current;
static char *current_error;

static void record_clear(KmsgRecord *r) {
        free(r->message);
        *r = (KmsgRecord) {};
}

static bool parse_u64(const char *s, const char *end, uint64_t *ret) {
        uint64_t v = 0;

        if (s == end)
                return false;
        for (; s < end; s++) {
                if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
                        return false;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return true;
}

int kmsg_parse_record(const char *line, size_t len, KmsgRecord *ret) {
        const char *end = line + len, *semi, *f[3], *p = line;
        uint64_t prio, seq, usec;
        size_t mlen;
        char *msg;

        if (len == 0 || *line == ' ')
                return -EINVAL;     /* a continuation line (" SUBSYSTEM=...") or empty */
        semi = memchr(line, ';', len);
        if (!semi)
                return -EINVAL;
        for (int i = 0; i < 3; i++) {
                f[i] = memchr(p, ',', (size_t) (semi - p));
                if (!f[i]) {
                        if (i < 2)
                                return -EINVAL;
                        f[i] = semi;            /* no flags field: accept "prio,seq,usec;" */
                }
                p = f[i] + 1;
        }
        if (!parse_u64(line, f[0], &prio) || !parse_u64(f[0] + 1, f[1], &seq) ||
            !parse_u64(f[1] + 1, f[2], &usec) || prio > 1023)
                return -EINVAL;
        mlen = (size_t) (end - semi - 1);
        if (mlen > KMSG_MESSAGE_MAX)
                mlen = KMSG_MESSAGE_MAX;
        msg = strndup(semi + 1, mlen);
        if (!msg)
                return -ENOMEM;
        *ret = (KmsgRecord) {
                .seq = seq,
                .priority = (int) (prio & 7),
                .facility = (int) (prio >> 3),
                .usec = usec,
                .received = now_realtime(),
                .message = msg,
        };
        return 0;
}

static void ring_push(Kmsg *k, KmsgRecord *r) {
        size_t slot;

        if (k->n == KMSG_RING_SIZE) {
                record_clear(&k->ring[k->head]);
                k->head = (k->head + 1) % KMSG_RING_SIZE;
                k->n--;
                k->dropped++;
        }
        slot = (k->head + k->n) % KMSG_RING_SIZE;
        k->ring[slot] = *r;
        *r = (KmsgRecord) {};
        k->n++;
}

static void handle_line(Kmsg *k, const char *line, size_t len) {
        KmsgRecord r;

        if (kmsg_parse_record(line, len, &r) < 0)
                return;
        ring_push(k, &r);
}

/* Splits data into lines, keeping an incomplete last line for the next call. Lines longer
 * than READ_CHUNK are dropped. Returns the number of lines handled. */
static unsigned feed(Kmsg *k, const char *data, size_t size) {
        unsigned lines = 0;

        while (size > 0) {
                const char *nl = memchr(data, '\n', size);
                size_t take = nl ? (size_t) (nl - data) : size;

                if (k->skipping) {
                        if (nl)
                                k->skipping = false;
                } else if (k->n_partial + take > READ_CHUNK) {
                        k->n_partial = 0;
                        k->skipping = !nl;
                } else if (!nl) {
                        memcpy(k->partial + k->n_partial, data, take);
                        k->n_partial += take;
                } else if (k->n_partial > 0) {
                        memcpy(k->partial + k->n_partial, data, take);
                        handle_line(k, k->partial, k->n_partial + take);
                        k->n_partial = 0;
                        lines++;
                } else {
                        handle_line(k, data, take);
                        lines++;
                }
                if (!nl)
                        break;
                size -= take + 1;
                data += take + 1;
        }
        return lines;
}

static int on_trailing(sd_event_source *s, uint64_t usec, void *userdata) {
        Kmsg *k = userdata;
        k->host->trigger(k->host->userdata, "kmsg");
        return 0;
}

static void new_records(Kmsg *k) {
        int r;

        k->host->trigger(k->host->userdata, "kmsg");
        /* A check that was still running missed this trigger: run them once more a little
         * later (cheap: they find nothing new unless it is needed). */
        if (k->trailing) {
                r = sd_event_source_set_time_relative(k->trailing, TRAILING_TRIGGER_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(k->trailing, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time_relative(k->host->event, &k->trailing, CLOCK_MONOTONIC,
                                               TRAILING_TRIGGER_USEC, 10 * USEC_PER_MSEC, on_trailing, k);
                if (r >= 0)
                        (void) sd_event_source_set_description(k->trailing, "kmsg-trailing");
        }
        if (r < 0)
                log_debug("Cannot arm the kmsg trailing trigger, ignoring: %s", strerror(-r));
}

/* Reads what is there now, at most READS_PER_TURN reads. */
static int on_more(sd_event_source *s, void *userdata);
static void journal_read(Kmsg *k);

static void read_some(Kmsg *k) {
        char buf[READ_CHUNK];
        unsigned lines = 0;
        int i;

        for (i = 0; i < READS_PER_TURN; i++) {
                ssize_t n = read(k->fd, buf, sizeof buf);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EPIPE) {   /* the kernel overwrote records we had not read */
                                k->dropped++;
                                continue;
                        }
                        if (errno != EAGAIN)
                                log_warning_errno(errno, "Cannot read %s, ignoring: %m", k->path);
                        break;
                }
                if (n == 0) {
                        if (k->regular) {
                                struct stat st;
                                off_t pos = lseek(k->fd, 0, SEEK_CUR);
                                if (fstat(k->fd, &st) == 0 && pos > st.st_size) {
                                        /* truncated: start over */
                                        (void) lseek(k->fd, 0, SEEK_SET);
                                        k->n_partial = 0;
                                        k->skipping = false;
                                        continue;
                                }
                        }
                        break;
                }
                lines += feed(k, buf, (size_t) n);
        }
        if (lines > 0)
                new_records(k);
        /* epoll reports a FIFO or /dev/kmsg again while data is left; inotify does not. */
        if (k->regular && i == READS_PER_TURN) {
                int r = k->more ? sd_event_source_set_enabled(k->more, SD_EVENT_ONESHOT)
                                : sd_event_add_defer(k->host->event, &k->more, on_more, k);
                if (r < 0)
                        log_debug("Cannot schedule reading the rest of %s, ignoring: %s", k->path, strerror(-r));
        }
}

static int on_more(sd_event_source *s, void *userdata) {
        Kmsg *k = userdata;
        if (k->journal)
                journal_read(k);
        else
                read_some(k);
        return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        read_some(userdata);
        return 0;
}

static int on_inotify(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        read_some(userdata);
        return 0;
}

/* ---- the journal as the source ----------------------------------------------------------- */

static int journal_field(sd_journal *j, const char *field, const char **ret, size_t *ret_len) {
        const void *data;
        size_t len, flen = strlen(field);
        int r = sd_journal_get_data(j, field, &data, &len);
        if (r < 0 || len <= flen + 1)
                return r < 0 ? r : -ENODATA;
        *ret = (const char *) data + flen + 1;
        *ret_len = len - flen - 1;
        return 0;
}

static void journal_read(Kmsg *k) {
        unsigned got = 0;

        while (got < READS_PER_TURN) {
                const char *msg, *prio;
                size_t msg_len, prio_len;
                uint64_t mono = 0;
                int r = sd_journal_next(k->journal);
                if (r <= 0) {
                        if (r < 0)
                                log_warning_errno(r, "Cannot read the journal, ignoring: %m");
                        break;
                }
                if (journal_field(k->journal, "MESSAGE", &msg, &msg_len) < 0)
                        continue;
                (void) sd_journal_get_monotonic_usec(k->journal, &mono, NULL);
                KmsgRecord rec = {
                        .seq = ++k->journal_seq,
                        .priority = journal_field(k->journal, "PRIORITY", &prio, &prio_len) >= 0 ? prio[0] - '0' : 6,
                        .facility = 0,
                        .usec = mono,
                        .received = now_realtime(),
                        .message = strndup(msg, msg_len < KMSG_MESSAGE_MAX ? msg_len : KMSG_MESSAGE_MAX),
                };
                if (!rec.message)
                        break;
                ring_push(k, &rec);
                got++;
        }
        if (got > 0)
                new_records(k);
        if (got == READS_PER_TURN) {
                int r = k->more ? sd_event_source_set_enabled(k->more, SD_EVENT_ONESHOT)
                                : sd_event_add_defer(k->host->event, &k->more, on_more, k);
                if (r < 0)
                        log_debug("Cannot schedule reading the rest of the journal, ignoring: %s", strerror(-r));
        }
}

static int on_journal(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Kmsg *k = userdata;
        if (sd_journal_process(k->journal) != SD_JOURNAL_NOP)
                journal_read(k);
        return 0;
}

static int journal_open(Kmsg *k, const char *dir) {
        sd_id128_t boot;
        char match[64];
        int r;

        r = dir ? sd_journal_open_directory(&k->journal, dir, 0)
                : sd_journal_open(&k->journal, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (r < 0)
                return r;
        r = sd_journal_add_match(k->journal, "_TRANSPORT=kernel", 0);
        if (r >= 0 && !dir && sd_id128_get_boot(&boot) >= 0) {
                /* This boot only: the kernel's ring buffer holds nothing older either. */
                snprintf(match, sizeof match, "_BOOT_ID=" SD_ID128_FORMAT_STR, SD_ID128_FORMAT_VAL(boot));
                r = sd_journal_add_conjunction(k->journal);
                if (r >= 0)
                        r = sd_journal_add_match(k->journal, match, 0);
        }
        if (r >= 0)
                r = sd_journal_seek_head(k->journal);
        if (r < 0)
                return r;
        int fd = sd_journal_get_fd(k->journal);
        if (fd < 0)
                return fd;
        r = sd_event_add_io(k->host->event, &k->io, fd, (uint32_t) sd_journal_get_events(k->journal), on_journal, k);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(k->io, "kmsg-journal");
        return 0;
}

static void kmsg_stop(void *state) {
        Kmsg *k = state;

        if (!k)
                return;
        if (current == k)
                current = NULL;
        sd_event_source_disable_unref(k->io);
        sd_event_source_disable_unref(k->trailing);
        sd_event_source_disable_unref(k->more);
        if (k->fd >= 0)
                close(k->fd);
        sd_journal_close(k->journal);
        for (size_t i = 0; i < k->n; i++)
                record_clear(&k->ring[(k->head + i) % KMSG_RING_SIZE]);
        free(k->partial);
        free(k->path);
        free(k);
}

static void set_error(const char *path, int err) {
        free(current_error);
        current_error = strprintf("%s: %s", path, strerror(err));
}

static int kmsg_start(const SourceHost *h, void **ret_state) {
        const char *path = h->config->kmsg_path ? h->config->kmsg_path : "/dev/kmsg";
        Kmsg *k = calloc(1, sizeof(*k));
        struct stat st;
        int r;

        if (!k)
                return -ENOMEM;
        k->host = h;
        k->fd = -1;
        k->path = strdup(path);
        k->partial = malloc(READ_CHUNK);
        if (!k->path || !k->partial) {
                kmsg_stop(k);
                return -ENOMEM;
        }
        if (strcmp(path, "journal") == 0 || strncmp(path, "journal:", 8) == 0) {
                r = journal_open(k, path[7] == ':' ? path + 8 : NULL);
                if (r < 0)
                        goto fail;
                goto started;
        }
        /* O_NONBLOCK: opening a FIFO read-write never waits for a writer, and reads return EAGAIN. */
        k->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if ((k->fd < 0 || fstat(k->fd, &st) < 0) && strcmp(path, "/dev/kmsg") == 0 &&
            access("/run/systemd/journal", F_OK) == 0) {
                log_notice("Cannot read /dev/kmsg (%m); reading the kernel's messages from the journal");
                free(k->path);
                k->path = strdup("journal");
                r = journal_open(k, NULL);
                if (r < 0)
                        goto fail;
                goto started;
        }
        if (k->fd < 0 || fstat(k->fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        if (S_ISFIFO(st.st_mode)) {
                int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        r = -errno;
                        goto fail;
                }
                close(k->fd);
                k->fd = fd;
        }
        k->regular = S_ISREG(st.st_mode);
        if (k->regular)
                r = sd_event_add_inotify(h->event, &k->io, path, IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB,
                                         on_inotify, k);
        else
                r = sd_event_add_io(h->event, &k->io, k->fd, EPOLLIN, on_io, k);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(k->io, "kmsg");
started:
        current = k;
        free(current_error);
        current_error = NULL;
        log_debug("Reading the kernel log from %s", k->path);
        if (k->journal)
                journal_read(k);
        else
                read_some(k);   /* what is there already (the kernel's buffer since boot) */
        *ret_state = k;
        return 0;
fail:
        set_error(path, -r);
        kmsg_stop(k);
        return r;
}

const MedicSource kmsg_source = {
        .name = "kmsg",
        .start = kmsg_start,
        .stop = kmsg_stop,
};

const Kmsg *kmsg_current(const char **ret_error) {
        if (ret_error)
                *ret_error = current ? NULL : current_error ? current_error : "the kmsg source is not running";
        return current;
}

size_t kmsg_count(const Kmsg *k) {
        return k->n;
}

const KmsgRecord *kmsg_get(const Kmsg *k, size_t i) {
        return i < k->n ? &k->ring[(k->head + i) % KMSG_RING_SIZE] : NULL;
}

uint64_t kmsg_dropped(const Kmsg *k) {
        return k->dropped;
}

const char *kmsg_path(const Kmsg *k) {
        return k->path;
}
