/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

/* An asynchronous HTTP client: libcurl's multi interface driven by sd-event, so that no
 * request ever blocks the loop. Used by the coordinator backends and HTTP checks. */

typedef struct HttpClient HttpClient;
typedef struct HttpRequest HttpRequest;

typedef struct HttpTls {
        const char *ca_file;      /* CA bundle to verify the server; NULL = system default */
        const char *cert_file;    /* client certificate (PEM) */
        const char *key_file;     /* client key (PEM) */
        bool insecure;            /* do not verify the server's certificate or name */
} HttpTls;

typedef struct HttpOptions {
        const char *url;
        const char *method;        /* NULL: GET, or POST when body is set */
        const char *body;          /* request body (copied), may be NULL */
        const char *const *headers;/* "Name: value", NULL-terminated, may be NULL */
        uint64_t timeout_usec;     /* whole request; 0: none (streams) */
        uint64_t connect_timeout_usec; /* 0: 5 s */
        size_t max_body;           /* cap on the response body kept; 0: 16 MiB */
        const HttpTls *tls;
        const char *userpwd;       /* "user:password" for basic auth, may be NULL */
        /* Streaming: called for every chunk as it arrives (the body is then not kept).
         * Return a negative errno to abort the request. */
        int (*on_data)(const char *data, size_t size, void *userdata);
} HttpOptions;

typedef struct HttpResponse {
        long status;               /* HTTP status, 0 when no response arrived */
        const char *body;          /* NUL-terminated (empty when streaming) */
        size_t size;
        int curl_code;             /* CURLcode; 0 = transfer complete */
        const char *error;         /* libcurl's message when curl_code != 0 */
        bool timed_out;
        bool truncated;
} HttpResponse;

/* Called once, from the event loop, when the request finished or failed. The request frees
 * itself after the callback. */
typedef void (*http_done_t)(const HttpResponse *r, void *userdata);

int http_client_new(sd_event *e, HttpClient **ret);
HttpClient *http_client_free(HttpClient *c);   /* cancels every request, no callbacks */

int http_request(HttpClient *c, const HttpOptions *o, http_done_t done, void *userdata, HttpRequest **ret);
/* How many requests this process started (benchmarks). */
uint64_t http_requests_started(void);

/* Aborts a request without calling its callback. Safe with NULL. */
void http_request_cancel(HttpRequest *r);
