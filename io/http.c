/* SPDX-License-Identifier: MIT */
/* libcurl multi + sd-event: curl tells us which sockets to watch (socket callback) and when
 * to call it back (timer callback); we tell curl what happened (curl_multi_socket_action) and
 * collect finished transfers (curl_multi_info_read).
 *
 * libcurl is loaded with dlopen() by the first http_client_new(), not linked: a node with the
 * local coordinator and no HTTP check never maps it and what it brings (OpenSSL, GnuTLS,
 * Kerberos, LDAP, SSH: about half of an idle medicd's resident memory). Every curl call goes
 * through the table below (sym_*), filled once. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "util.h"

#define DEFAULT_MAX_BODY (16 * 1024 * 1024)

#define LIBCURL_SONAME "libcurl.so.4"

static typeof(curl_global_init) *sym_curl_global_init;
static typeof(curl_multi_init) *sym_curl_multi_init;
static typeof(curl_multi_setopt) *sym_curl_multi_setopt;
static typeof(curl_multi_cleanup) *sym_curl_multi_cleanup;
static typeof(curl_multi_add_handle) *sym_curl_multi_add_handle;
static typeof(curl_multi_remove_handle) *sym_curl_multi_remove_handle;
static typeof(curl_multi_info_read) *sym_curl_multi_info_read;
static typeof(curl_multi_socket_action) *sym_curl_multi_socket_action;
static typeof(curl_multi_assign) *sym_curl_multi_assign;
static typeof(curl_easy_init) *sym_curl_easy_init;
static typeof(curl_easy_setopt) *sym_curl_easy_setopt;
static typeof(curl_easy_getinfo) *sym_curl_easy_getinfo;
static typeof(curl_easy_cleanup) *sym_curl_easy_cleanup;
static typeof(curl_easy_strerror) *sym_curl_easy_strerror;
static typeof(curl_slist_append) *sym_curl_slist_append;
static typeof(curl_slist_free_all) *sym_curl_slist_free_all;

/* Loads libcurl and initializes it, once (a failure is tried again at the next client). */
static int curl_load(void) {
        static bool loaded = false;
        const struct {
                const char *name;
                void **sym;
        } syms[] = {
#define SYM(f) { #f, (void **) &sym_##f }
                SYM(curl_global_init), SYM(curl_multi_init), SYM(curl_multi_setopt), SYM(curl_multi_cleanup),
                SYM(curl_multi_add_handle), SYM(curl_multi_remove_handle), SYM(curl_multi_info_read),
                SYM(curl_multi_socket_action), SYM(curl_multi_assign), SYM(curl_easy_init), SYM(curl_easy_setopt),
                SYM(curl_easy_getinfo), SYM(curl_easy_cleanup), SYM(curl_easy_strerror), SYM(curl_slist_append),
                SYM(curl_slist_free_all),
#undef SYM
        };
        void *dl;

        if (loaded)
                return 0;
        dl = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
                log_error("HTTP client: cannot load %s: %s", LIBCURL_SONAME, dlerror());
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < ELEMENTSOF(syms); i++) {
                *syms[i].sym = dlsym(dl, syms[i].name);
                if (!*syms[i].sym) {
                        log_error("HTTP client: %s has no %s", LIBCURL_SONAME, syms[i].name);
                        dlclose(dl);
                        return -EOPNOTSUPP;
                }
        }
        if (sym_curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
                log_error("HTTP client: curl_global_init() failed");
                dlclose(dl);
                return -EIO;
        }
        loaded = true;    /* never unloaded: libcurl's global state stays with the process */
        return 0;
}

static uint64_t requests_started; /* for benchmarks: how chatty is a node? */

uint64_t http_requests_started(void) {
        return requests_started;
}

struct HttpClient {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        HttpRequest *requests;
        bool dispatching;
};

struct HttpRequest {
        HttpClient *client;
        CURL *easy;
        struct curl_slist *headers;
        char *body_in;
        char *buf;
        size_t size, max;
        bool truncated;
        char errbuf[CURL_ERROR_SIZE];
        int (*on_data)(const char *, size_t, void *);
        int data_error;
        http_done_t done;
        void *userdata;
        HttpRequest *next, *prev;
};

typedef struct SockWatch {
        sd_event_source *source;
} SockWatch;

static void request_unlink_free(HttpRequest *r) {
        HttpClient *c = r->client;

        if (r->prev)
                r->prev->next = r->next;
        else
                c->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        sym_curl_multi_remove_handle(c->multi, r->easy);
        sym_curl_easy_cleanup(r->easy);
        sym_curl_slist_free_all(r->headers);
        free(r->body_in);
        free(r->buf);
        free(r);
}

static void check_done(HttpClient *c) {
        CURLMsg *msg;
        int left;

        while ((msg = sym_curl_multi_info_read(c->multi, &left))) {
                HttpRequest *r = NULL;
                HttpResponse resp = {};

                if (msg->msg != CURLMSG_DONE)
                        continue;
                sym_curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
                if (!r)
                        continue;
                sym_curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
                resp.curl_code = (int) msg->data.result;
                resp.body = r->buf ? r->buf : "";
                resp.size = r->size;
                resp.truncated = r->truncated;
                resp.timed_out = msg->data.result == CURLE_OPERATION_TIMEDOUT;
                if (msg->data.result != CURLE_OK)
                        resp.error = r->errbuf[0] ? r->errbuf : sym_curl_easy_strerror(msg->data.result);
                http_done_t done = r->done;
                void *ud = r->userdata;
                /* Unlink first: the callback may start new requests or free the client's others. */
                sym_curl_multi_remove_handle(c->multi, r->easy);
                if (done)
                        done(&resp, ud);
                request_unlink_free(r);
        }
}

static int on_socket_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HttpClient *c = userdata;
        int action = 0, running;

        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;
        sym_curl_multi_socket_action(c->multi, fd, action, &running);
        check_done(c);
        return 0;
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        HttpClient *c = userp;
        SockWatch *w = socketp;
        uint32_t events = 0;

        if (what == CURL_POLL_REMOVE) {
                if (w) {
                        sd_event_source_disable_unref(w->source);
                        free(w);
                        sym_curl_multi_assign(c->multi, fd, NULL);
                }
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;
        if (!w) {
                w = calloc(1, sizeof(*w));
                if (!w)
                        return -1;
                if (sd_event_add_io(c->event, &w->source, fd, events, on_socket_event, c) < 0) {
                        free(w);
                        return -1;
                }
                (void) sd_event_source_set_description(w->source, "http-socket");
                sym_curl_multi_assign(c->multi, fd, w);
        } else
                (void) sd_event_source_set_io_events(w->source, events);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpClient *c = userdata;
        int running;

        sym_curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_done(c);
        return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        HttpClient *c = userp;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(c->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        if (sd_event_source_set_time(c->timer, now_monotonic() + (uint64_t) timeout_ms * USEC_PER_MSEC) < 0 ||
            sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT) < 0)
                return -1;
        return 0;
}

int http_client_new(sd_event *e, HttpClient **ret) {
        HttpClient *c;
        int r;

        r = curl_load();
        if (r < 0)
                return r;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->multi = sym_curl_multi_init();
        if (!c->multi) {
                http_client_free(c);
                return -ENOMEM;
        }
        r = sd_event_add_time(e, &c->timer, CLOCK_MONOTONIC, UINT64_MAX, USEC_PER_MSEC, on_timer, c);
        if (r < 0) {
                http_client_free(c);
                return r;
        }
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(c->timer, "http-timer");
        sym_curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
        sym_curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
        sym_curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
        sym_curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
        *ret = c;
        return 0;
}

HttpClient *http_client_free(HttpClient *c) {
        if (!c)
                return NULL;
        while (c->requests)
                request_unlink_free(c->requests);
        if (c->multi)
                sym_curl_multi_cleanup(c->multi); /* removes the socket watches through socket_cb */
        sd_event_source_disable_unref(c->timer);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        HttpRequest *r = userdata;
        size_t n = size * nmemb;

        if (r->on_data) {
                int k = r->on_data(ptr, n, r->userdata);
                if (k < 0) {
                        r->data_error = k;
                        return 0; /* aborts the transfer */
                }
                return n;
        }
        if (r->size + n > r->max) {
                r->truncated = true;
                n = r->max - r->size;
        }
        char *b = realloc(r->buf, r->size + n + 1);
        if (!b)
                return 0;
        memcpy(b + r->size, ptr, n);
        r->buf = b;
        r->size += n;
        r->buf[r->size] = 0;
        return size * nmemb;
}

int http_request(HttpClient *c, const HttpOptions *o, http_done_t done, void *userdata, HttpRequest **ret) {
        HttpRequest *r = calloc(1, sizeof(*r));

        requests_started++;
        if (!r)
                return -ENOMEM;
        r->client = c;
        r->done = done;
        r->userdata = userdata;
        r->on_data = o->on_data;
        r->max = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
        r->easy = sym_curl_easy_init();
        if (!r->easy) {
                free(r);
                return -ENOMEM;
        }
        for (const char *const *h = o->headers; h && *h; h++)
                r->headers = sym_curl_slist_append(r->headers, *h);
        CURL *e = r->easy;
        sym_curl_easy_setopt(e, CURLOPT_URL, o->url);
        sym_curl_easy_setopt(e, CURLOPT_PRIVATE, r);
        sym_curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
        sym_curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
        sym_curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
        sym_curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        sym_curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        sym_curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                         (long) ((o->connect_timeout_usec ? o->connect_timeout_usec : 5 * USEC_PER_SEC) / USEC_PER_MSEC));
        if (o->timeout_usec)
                sym_curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) (o->timeout_usec / USEC_PER_MSEC));
        if (o->body) {
                r->body_in = strdup(o->body);
                sym_curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body_in);
                sym_curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) strlen(o->body));
        }
        if (o->method)
                sym_curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
        if (r->headers)
                sym_curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
        if (o->userpwd)
                sym_curl_easy_setopt(e, CURLOPT_USERPWD, o->userpwd);
        if (o->tls) {
                if (o->tls->ca_file)
                        sym_curl_easy_setopt(e, CURLOPT_CAINFO, o->tls->ca_file);
                if (o->tls->cert_file)
                        sym_curl_easy_setopt(e, CURLOPT_SSLCERT, o->tls->cert_file);
                if (o->tls->key_file)
                        sym_curl_easy_setopt(e, CURLOPT_SSLKEY, o->tls->key_file);
                if (o->tls->insecure) {
                        sym_curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
                        sym_curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
                }
        }
        r->next = c->requests;
        if (c->requests)
                c->requests->prev = r;
        c->requests = r;
        if (sym_curl_multi_add_handle(c->multi, e) != CURLM_OK) {
                request_unlink_free(r);
                return -EIO;
        }
        if (ret)
                *ret = r;
        return 0;
}

void http_request_cancel(HttpRequest *r) {
        if (r)
                request_unlink_free(r);
}
