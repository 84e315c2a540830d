/* SPDX-License-Identifier: MIT */
#pragma once
/* Reading and writing etcd's JSON gateway: base64 keys and values, and answers read without
 * trusting their types, and the password file. Shared by the etcd backend (coord-etcd.c) and
 * `medicctl fleet`. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

char *b64(const char *s);                     /* malloc'd; NULL on ENOMEM */
char *unb64(const char *s);                   /* malloc'd; NULL on bad base64 or ENOMEM */
char *prefix_end(const char *p);              /* the range_end of the keys starting with p */
struct json_object *jget(struct json_object *o, const char *key);  /* NULL unless o is an object with key */
int64_t jint(struct json_object *o, const char *key);  /* 64-bit numbers come as strings; 0: none */
size_t jlen(struct json_object *a);           /* 0 unless an array */
struct json_object *jidx(struct json_object *a, size_t i);
bool jtrue(struct json_object *v);            /* only a JSON true ("false" is a non-empty string) */
/* The first line of a password file that only its owner may read: -EPERM when group or others
 * may, -errno when it cannot be read. */
int etcd_read_password(const char *path, char **ret);
