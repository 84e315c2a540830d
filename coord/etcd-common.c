/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "etcd-common.h"
#include "util.h"

char *b64(const char *s) {
        size_t n = strlen(s);
        char *out = malloc(4 * ((n + 2) / 3) + 1);
        if (out)
                EVP_EncodeBlock((unsigned char *) out, (const unsigned char *) s, (int) n);
        return out;
}

char *unb64(const char *s) {
        size_t n = strlen(s);
        unsigned char *out = malloc(3 * (n / 4) + 1);
        int k;

        if (!out)
                return NULL;
        k = EVP_DecodeBlock(out, (const unsigned char *) s, (int) n);
        if (k < 0) {
                free(out);
                return NULL;
        }
        /* EVP_DecodeBlock counts padding bytes as data. */
        while (n > 0 && s[n - 1] == '=') {
                n--;
                k--;
        }
        out[k] = 0;
        return (char *) out;
}

/* The end of the range of keys starting with prefix: the prefix with its last byte + 1. */
char *prefix_end(const char *p) {
        char *e = strdup(p);
        size_t n = e ? strlen(e) : 0;
        if (n > 0)
                e[n - 1]++;
        return e;
}

int64_t jint(struct json_object *o, const char *key) {
        struct json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v))
                return 0;
        if (json_object_is_type(v, json_type_string))
                return strtoll(json_object_get_string(v), NULL, 10);
        return json_object_get_int64(v);
}

struct json_object *jget(struct json_object *o, const char *key) {
        struct json_object *v = NULL;
        if (json_object_is_type(o, json_type_object))
                json_object_object_get_ex(o, key, &v);
        return v;
}

/* What etcd answered, read without trusting its types: json-c asserts on arrays that are not
 * (a crash), and takes any non-empty string for true ("false" included). */
size_t jlen(struct json_object *a) {
        return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

struct json_object *jidx(struct json_object *a, size_t i) {
        return i < jlen(a) ? json_object_array_get_idx(a, i) : NULL;
}

bool jtrue(struct json_object *v) {
        return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

int etcd_read_password(const char *path, char **ret) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t size;
        int r;

        if (stat(path, &st) < 0)
                return -errno;
        if (st.st_mode & 0077)
                return -EPERM;
        r = read_file(path, 4096, &buf, &size);
        if (r < 0)
                return r;
        buf[strcspn(buf, "\r\n")] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}
