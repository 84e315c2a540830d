/* SPDX-License-Identifier: MIT */
/* Drives medicd's coordinator code (coord/coordinator.c and its backends) against a real
 * etcd, one simulated node per process, for the coordinator tests and benchmarks.
 *
 *   coord-client CONFIG       reads commands on stdin, one per line, answers on stdout:
 *     acquire RULE            ask until granted; prints "granted" (or "stopped REASON" when a
 *                             stop switch or the storm breaker refuses it); re-asks after every
 *                             change it sees
 *     try RULE                ask once; prints "granted", "denied REASON" or "unknown REASON"
 *     release RULE            give the permission back; prints "released"
 *     withdraw RULE           leave the queue; prints "withdrawn"
 *     health ok|sick          publish health; prints "health"
 *     status [GROUP]          prints the coordinator's view as one JSON line
 *     local                   prints this node's own coordinator status (medicctl's "local")
 *     admin JSON              an operator request ({"action":…}); prints the JSON answer
 *     quit
 *   Lines starting with "#" are ignored. "ready" is printed once registered. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "coordinator.h"
#include "log.h"

static Coordinator *coord;
static sd_event *event;
static char *acquiring;
static sd_event_source *retry_timer;
static char line[4096];
static size_t line_len;
static bool ready_said;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static void on_try(CoordAnswer a, const char *reason, void *ud) {
        if (a == COORD_GRANTED)
                say("granted");
        else
                say("%s %s", a == COORD_DENIED ? "denied" : "unknown", reason ? reason : "");
}

static void on_acquire(CoordAnswer a, const char *reason, void *ud) {
        if (!acquiring)
                return;
        if (a == COORD_GRANTED) {
                say("granted");
                free(acquiring);
                acquiring = NULL;
                return;
        }
        if (a == COORD_DENIED && reason && (strstr(reason, "stop switch") || strstr(reason, "storm breaker"))) {
                say("stopped %s", reason);
                free(acquiring);
                acquiring = NULL;
                return;
        }
        /* Ask again soon: answers are cached until a watch event, so this costs nothing. */
        (void) sd_event_source_set_time_relative(retry_timer, 50 * USEC_PER_MSEC);
        (void) sd_event_source_set_enabled(retry_timer, SD_EVENT_ONESHOT);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *ud) {
        struct json_object *st = coordinator_status(coord), *v;
        if (!ready_said && json_object_object_get_ex(st, "registered", &v) && json_object_get_boolean(v)) {
                ready_said = true;
                say("ready");
        }
        json_object_put(st);
        if (acquiring)
                (void) coordinator_request(coord, acquiring, on_acquire, NULL);
        else if (!ready_said) {
                (void) sd_event_source_set_time_relative(retry_timer, 50 * USEC_PER_MSEC);
                (void) sd_event_source_set_enabled(retry_timer, SD_EVENT_ONESHOT);
        }
        return 0;
}

static void on_admin(struct json_object *reply, void *ud) {
        say("%s", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
        json_object_put(reply);
}

static void command(char *l) {
        char *arg = strchr(l, ' ');
        if (arg)
                *arg++ = 0;
        if (l[0] == '#' || !l[0])
                return;
        if (strcmp(l, "acquire") == 0 && arg) {
                free(acquiring);
                acquiring = strdup(arg);
                (void) coordinator_request(coord, acquiring, on_acquire, NULL);
        } else if (strcmp(l, "try") == 0 && arg)
                (void) coordinator_request(coord, arg, on_try, NULL);
        else if (strcmp(l, "release") == 0 && arg) {
                (void) coordinator_release(coord, arg);
                say("released");
        } else if (strcmp(l, "withdraw") == 0 && arg) {
                free(acquiring);
                acquiring = NULL;
                coordinator_withdraw(coord, arg);
                say("withdrawn");
        } else if (strcmp(l, "health") == 0 && arg) {
                bool ok = strcmp(arg, "ok") == 0;
                coordinator_publish_health(coord, ok, ok ? "[]" : "[\"test\"]");
                say("health");
        } else if (strcmp(l, "status") == 0) {
                struct json_object *req = json_object_new_object();
                json_object_object_add(req, "action", json_object_new_string("status"));
                if (arg && *arg)
                        json_object_object_add(req, "group", json_object_new_string(arg));
                (void) coordinator_admin(coord, req, on_admin, NULL);
                json_object_put(req);
        } else if (strcmp(l, "local") == 0) {
                struct json_object *st = coordinator_status(coord);
                json_object_object_add(st, "local", json_object_new_boolean(1));
                say("%s", json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN));
                json_object_put(st);
        } else if (strcmp(l, "admin") == 0 && arg) {
                struct json_object *req = json_tokener_parse(arg);
                if (!req)
                        say("error bad JSON");
                else
                        (void) coordinator_admin(coord, req, on_admin, NULL);
                json_object_put(req);
        } else if (strcmp(l, "quit") == 0)
                sd_event_exit(event, 0);
        else
                say("error unknown command '%s'", l);
}

static int on_stdin(sd_event_source *s, int fd, uint32_t revents, void *ud) {
        ssize_t n = read(fd, line + line_len, sizeof line - 1 - line_len);
        if (n <= 0) {
                sd_event_exit(event, 0);
                return 0;
        }
        line_len += (size_t) n;
        line[line_len] = 0;
        char *nl;
        while ((nl = memchr(line, '\n', line_len))) {
                *nl = 0;
                command(line);
                size_t rest = line_len - (size_t) (nl + 1 - line);
                memmove(line, nl + 1, rest);
                line_len = rest;
                line[line_len] = 0;
        }
        return 0;
}

int main(int argc, char **argv) {
        StrList errors = {};
        Config *c = NULL;
        sigset_t mask;
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: coord-client CONFIG\n");
                return 2;
        }
        log_setup(LOG_TARGET_STDERR, LOG_NOTICE);
        if (config_load(argv[1], &c, &errors) < 0) {
                for (size_t i = 0; i < errors.n; i++)
                        fprintf(stderr, "%s\n", errors.v[i]);
                return 1;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        sd_event_default(&event);
        sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        r = coordinator_new(c, event, &coord);
        if (r < 0) {
                fprintf(stderr, "coordinator: %s\n", strerror(-r));
                return 1;
        }
        sd_event_add_time_relative(event, &retry_timer, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, USEC_PER_MSEC, on_retry, NULL);
        sd_event_add_io(event, NULL, STDIN_FILENO, EPOLLIN, on_stdin, NULL);
        r = sd_event_loop(event);
        coordinator_free(coord);
        config_free(c);
        return r < 0 ? 1 : 0;
}
