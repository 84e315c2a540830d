/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "protocol.h"
#include "util.h"

#define REQUEST_MAX (64 * 1024)
#define CONN_TIMEOUT (30 * USEC_PER_SEC)
/* Open connections of users other than root: a user who floods the socket gets this many and
 * the rest are closed at once, so root (and the rest of the daemon) keeps its descriptors. */
#define CONN_MAX_PER_UID 8
#define CONN_MAX_UNPRIVILEGED 64
/* Out of descriptors, accept() fails while the backlog stays readable: stop listening this long
 * instead of spinning on it. */
#define ACCEPT_PAUSE (250 * USEC_PER_MSEC)
#define FLOOD_LOG_INTERVAL (10 * USEC_PER_SEC)

struct Control {
        sd_event *event;
        int fd;
        char *path;
        sd_event_source *source;
        control_handler_t handler;
        void *userdata;
        ControlConn *conns;
        sd_event_source *resume;      /* accepting again after running out of descriptors */
        uint64_t logged_fds, logged_flood;
};

struct ControlConn {
        Control *control;
        int fd;
        uid_t uid;
        sd_event_source *io, *timer;
        char *in;
        size_t in_size;
        char *out;
        size_t out_size, out_done;
        bool answered;
        bool handed;    /* the handler owns it until it answers */
        ControlConn *next, *prev;
};

static void conn_free(ControlConn *c) {
        if (!c)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else if (c->control)
                c->control->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        if (c->fd >= 0)
                close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
}

struct json_object *control_error(const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        struct json_object *o = json_object_new_object();

        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        json_object_object_add(o, MEDIC_REPLY_OK, json_object_new_boolean(0));
        json_object_object_add(o, MEDIC_REPLY_ERROR, json_object_new_string(buf));
        return o;
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static void conn_write_some(ControlConn *c) {
        while (c->out_done < c->out_size) {
                ssize_t n = write(c->fd, c->out + c->out_done, c->out_size - c->out_done);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        break;
                }
                c->out_done += (size_t) n;
        }
        conn_free(c);
}

void control_reply(ControlConn *c, struct json_object *reply) {
        const char *text;

        if (!c) { /* no connection (commands_dispatch() called directly: tests/fuzz/fuzz-control) */
                json_object_put(reply);
                return;
        }
        text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
        c->answered = true;
        c->out = strprintf("%s\n", text);
        c->out_size = c->out ? strlen(c->out) : 0;
        json_object_put(reply);
        if (!c->out) {
                conn_free(c);
                return;
        }
        sd_event_source_disable_unref(c->io);
        c->io = NULL;
        if (sd_event_add_io(c->control->event, &c->io, c->fd, EPOLLOUT, on_conn_io, c) < 0) {
                conn_free(c);
                return;
        }
        conn_write_some(c);
}

struct json_object *control_request_parse(const char *line) {
        struct json_object *req = json_tokener_parse(line);

        if (!req || !json_object_is_type(req, json_type_object)) {
                json_object_put(req);
                return NULL;
        }
        return req;
}

static void conn_handle(ControlConn *c) {
        struct json_object *req, *reply;

        c->io = sd_event_source_disable_unref(c->io);
        req = control_request_parse(c->in);
        if (!req)
                return control_reply(c, control_error("request is not a JSON object"));
        c->handed = true;
        reply = c->control->handler(c, req, c->uid, c->control->userdata);
        json_object_put(req);
        if (reply)
                control_reply(c, reply);
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ControlConn *c = userdata;

        if (c->answered) {
                conn_write_some(c);
                return 0;
        }
        for (;;) {
                char buf[4096];
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        conn_free(c);
                        return 0;
                }
                if (n == 0) {
                        if (c->in_size > 0)
                                conn_handle(c);
                        else
                                conn_free(c);
                        return 0;
                }
                if (c->in_size + (size_t) n > REQUEST_MAX) {
                        control_reply(c, control_error("request too large"));
                        return 0;
                }
                char *in = realloc(c->in, c->in_size + (size_t) n + 1);
                if (!in) {
                        conn_free(c);
                        return 0;
                }
                c->in = in;
                memcpy(c->in + c->in_size, buf, (size_t) n);
                c->in_size += (size_t) n;
                c->in[c->in_size] = 0;
                char *nl = memchr(c->in, '\n', c->in_size);
                if (nl) {
                        *nl = 0;
                        conn_handle(c);
                        return 0;
                }
        }
}

static int on_conn_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        ControlConn *c = userdata;
        if (c->handed && !c->answered)
                return 0; /* the handler answers when its work is done */
        if (!c->answered)
                log_debug("Control connection timed out");
        conn_free(c);
        return 0;
}

static int on_resume(sd_event_source *s, uint64_t usec, void *userdata) {
        Control *ctl = userdata;
        ctl->resume = sd_event_source_disable_unref(ctl->resume);
        (void) sd_event_source_set_enabled(ctl->source, SD_EVENT_ON);
        return 0;
}

/* True (and logged, at most every FLOOD_LOG_INTERVAL) when *last is that long ago. */
static bool log_due(uint64_t *last) {
        uint64_t n = now_monotonic();
        if (*last && n - *last < FLOOD_LOG_INTERVAL)
                return false;
        *last = n;
        return true;
}

static void accept_pause(Control *ctl, int error) {
        if (log_due(&ctl->logged_fds))
                log_warning_errno(error, "Cannot accept a control connection: %m; not accepting for %llu ms",
                                  (unsigned long long) (ACCEPT_PAUSE / USEC_PER_MSEC));
        if (ctl->resume)
                return;
        if (sd_event_add_time_relative(ctl->event, &ctl->resume, CLOCK_MONOTONIC, ACCEPT_PAUSE, 10 * USEC_PER_MSEC,
                                       on_resume, ctl) < 0)
                return; /* keep listening: spinning beats going deaf */
        (void) sd_event_source_set_enabled(ctl->source, SD_EVENT_OFF);
}

/* Refuses a connection of an unprivileged user who has too many open, or when unprivileged
 * users together have; root is never refused here. */
static bool conn_refused(Control *ctl, int cfd, uid_t uid) {
        unsigned of_uid = 0, unprivileged = 0;

        if (uid == 0)
                return false;
        for (ControlConn *c = ctl->conns; c; c = c->next)
                if (c->uid != 0) {
                        unprivileged++;
                        of_uid += c->uid == uid;
                }
        if (of_uid < CONN_MAX_PER_UID && unprivileged < CONN_MAX_UNPRIVILEGED)
                return false;
        if (log_due(&ctl->logged_flood))
                log_warning("Refused: too many control connections from uid %u (%u open, at most %u per user and "
                            "%u for all users but root)", (unsigned) uid, of_uid, CONN_MAX_PER_UID, CONN_MAX_UNPRIVILEGED);
        static const char msg[] = "{\"" MEDIC_REPLY_OK "\":false,\"" MEDIC_REPLY_ERROR
                                  "\":\"too many connections from this user\"}\n";
        (void) send(cfd, msg, sizeof msg - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        return true;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Control *ctl = userdata;
        struct ucred cred;
        socklen_t len = sizeof cred;
        ControlConn *c;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                        accept_pause(ctl, errno);
                return 0;
        }
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || conn_refused(ctl, cfd, cred.uid)) {
                close(cfd);
                return 0;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                close(cfd);
                return 0;
        }
        c->control = ctl;
        c->fd = cfd;
        c->uid = cred.uid;
        c->next = ctl->conns;
        if (ctl->conns)
                ctl->conns->prev = c;
        ctl->conns = c;
        if (sd_event_add_io(ctl->event, &c->io, cfd, EPOLLIN, on_conn_io, c) < 0 ||
            sd_event_add_time_relative(ctl->event, &c->timer, CLOCK_MONOTONIC, CONN_TIMEOUT, USEC_PER_SEC,
                                       on_conn_timeout, c) < 0)
                conn_free(c);
        return 0;
}

int control_new(sd_event *e, const char *path, control_handler_t handler, void *userdata, Control **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char *dir = strdup(path);
        Control *c;
        int r;

        if (!dir)
                return -ENOMEM;
        if (strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(ENAMETOOLONG, "Socket path %s is too long", path);
        strcpy(sa.sun_path, path);
        r = mkdir_p(dirname(dir), 0755);
        if (r < 0)
                return log_error_errno(r, "Cannot create the directory of %s: %m", path);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = e;
        c->handler = handler;
        c->userdata = userdata;
        c->path = strdup(path);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
                r = -errno;
                goto fail;
        }
        (void) unlink(path);
        if (bind(c->fd, (struct sockaddr *) &sa, sizeof sa) < 0 || chmod(path, 0666) < 0 || listen(c->fd, 64) < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(e, &c->source, c->fd, EPOLLIN, on_accept, c);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(c->source, "control-socket");
        *ret = c;
        return 0;
fail:
        log_error_errno(r, "Cannot listen on %s: %m", path);
        control_free(c);
        return r;
}

Control *control_free(Control *c) {
        if (!c)
                return NULL;
        while (c->conns)
                conn_free(c->conns);
        sd_event_source_disable_unref(c->source);
        sd_event_source_disable_unref(c->resume);
        if (c->fd >= 0) {
                close(c->fd);
                if (c->path)
                        (void) unlink(c->path);
        }
        free(c->path);
        free(c);
        return NULL;
}
