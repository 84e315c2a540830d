/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "etcd-common.h"
#include "util.h"

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of RFC 4648 (standard alphabet, padded), what etcd's gateway writes and reads. Ours,
 * not OpenSSL's: medicd maps no libcrypto for two small loops. */
char *b64(const char *s) {
        const unsigned char *in = (const unsigned char *) s;
        size_t n = strlen(s);
        char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) in[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t) in[i + 1] << 8;
                if (i + 2 < n)
                        v |= in[i + 2];
                *o++ = b64_alphabet[v >> 18];
                *o++ = b64_alphabet[(v >> 12) & 63];
                *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
                *o++ = i + 2 < n ? b64_alphabet[v & 63] : '=';
        }
        *o = 0;
        return out;
}

static int b64_value(char c) {
        const char *p = c ? strchr(b64_alphabet, c) : NULL;
        return p ? (int) (p - b64_alphabet) : -1;
}

/* Only canonical input: a multiple of 4 characters of the alphabet, '=' padding at the end
 * only (at most two). The bits the padding leaves over are ignored, as Go's decoder does. */
char *unb64(const char *s) {
        size_t n = strlen(s), pad = 0;
        unsigned char *out, *o;

        if (n % 4 != 0)
                return NULL;
        if (n > 0 && s[n - 1] == '=')
                pad = n > 1 && s[n - 2] == '=' ? 2 : 1;
        out = o = malloc(3 * (n / 4) + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 4) {
                bool last = i + 4 == n;
                uint32_t v = 0;
                for (size_t j = 0; j < 4; j++) {
                        int d = last && j >= 4 - pad ? 0 : b64_value(s[i + j]);
                        if (d < 0) {
                                free(out);
                                return NULL;
                        }
                        v = v << 6 | (uint32_t) d;
                }
                *o++ = (unsigned char) (v >> 16);
                if (!last || pad < 2)
                        *o++ = (unsigned char) (v >> 8);
                if (!last || pad < 1)
                        *o++ = (unsigned char) v;
        }
        *o = 0;
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
