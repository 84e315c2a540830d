/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipmi-sel.h"

static int parse_uint(const char *s, size_t n, int64_t max, int64_t *ret) {
        int64_t v = 0;

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                int d = s[i] - '0';
                if (v > (max - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int sel_position_parse(const char *s, SelPosition *ret) {
        const char *colon = s ? strchr(s, ':') : NULL;
        SelPosition p;

        if (!colon || parse_uint(s, (size_t) (colon - s), SEL_ID_MAX, &p.id) < 0 ||
            parse_uint(colon + 1, strlen(colon + 1), SEL_TIMESTAMP_MAX, &p.timestamp) < 0)
                return -EINVAL;
        *ret = p;
        return 0;
}

char *sel_position_format(const SelPosition *p, char buf[static SEL_POSITION_TEXT_MAX]) {
        if (p->id < 0 || p->id > SEL_ID_MAX || p->timestamp < 0)
                return NULL;
        snprintf(buf, SEL_POSITION_TEXT_MAX, "%" PRId64 ":%" PRId64, p->id, p->timestamp);
        return buf;
}

struct json_object *sel_state_parse(const char *text, bool *ret_unreadable) {
        struct json_object *o = text ? json_tokener_parse(text) : NULL, *cursors;

        if (ret_unreadable)
                *ret_unreadable = false;
        if (o && !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                o = NULL;
        }
        if (!o) {
                if (text && ret_unreadable)
                        *ret_unreadable = true;
                if (!(o = json_object_new_object()))
                        return NULL;
                json_object_object_add(o, "version", json_object_new_int(1));
        }
        if (!json_object_object_get_ex(o, "cursors", &cursors) || !json_object_is_type(cursors, json_type_object))
                json_object_object_add(o, "cursors", json_object_new_object());
        return o;
}

SelCursorKind sel_cursor_get(struct json_object *state, const char *name, SelPosition *ret_pos) {
        struct json_object *cursors, *cur, *id, *ts;

        if (!json_object_object_get_ex(state, "cursors", &cursors) ||
            !json_object_object_get_ex(cursors, name, &cur) || !json_object_is_type(cur, json_type_object))
                return SEL_CURSOR_NONE;
        if (!json_object_object_get_ex(cur, "id", &id))
                return SEL_CURSOR_EMPTY;
        if (!json_object_object_get_ex(cur, "timestamp", &ts))
                ts = NULL;
        /* Only what the helper wrote and accepts back: an ID out of 0…65535, a negative
         * timestamp or another type made the binding pass an --after the helper refuses, and
         * every read failed without ever saving a new position (fuzz-ipmi-sel,
         * corpus/ipmi-sel/regress-id-out-of-range). */
        if (!json_object_is_type(id, json_type_int) || (ts && !json_object_is_type(ts, json_type_int)))
                return SEL_CURSOR_INVALID;
        SelPosition p = { .id = json_object_get_int64(id), .timestamp = ts ? json_object_get_int64(ts) : 0 };
        if (p.id < 0 || p.id > SEL_ID_MAX || p.timestamp < 0 || (ts && json_object_get_uint64(ts) > SEL_TIMESTAMP_MAX))
                return SEL_CURSOR_INVALID;
        *ret_pos = p;
        return SEL_CURSOR_AT;
}
