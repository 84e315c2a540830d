/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-c/json.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

/* The control socket: one JSON request line in, one JSON reply line out, then close. */
typedef struct Control Control;
typedef struct ControlConn ControlConn;

/* Returns the reply (ownership passes to the caller of the handler), or NULL when the
 * handler keeps conn and answers later with control_reply(). */
typedef struct json_object *(*control_handler_t)(ControlConn *conn, struct json_object *request, uid_t peer_uid,
                                                 void *userdata);

int control_new(sd_event *e, const char *path, control_handler_t handler, void *userdata, Control **ret);
Control *control_free(Control *c);
/* Sends reply (takes ownership) and closes the connection; with conn NULL (a handler called
 * without a connection) the reply is dropped. */
void control_reply(ControlConn *conn, struct json_object *reply);
/* One request line (without its newline) as the handler gets it: a JSON object, or NULL (the
 * client is answered "request is not a JSON object"). */
struct json_object *control_request_parse(const char *line);
struct json_object *control_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
