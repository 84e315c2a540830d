/* SPDX-License-Identifier: MIT */
#pragma once
/* IPMI SEL positions ("cursors"), pure: the helper's `--after ID:TIMESTAMP` text
 * (detect/medic-ipmi.c parses it, lua/lua-ipmi.c formats it) and the cursors of
 * STATE_DIR/ipmi-sel.json (lua/lua-ipmi.c reads and writes the file):
 *   {"version": 1, "cursors": {NAME: {"id": N, "timestamp": T, "updated": EPOCH_S}
 *                                   | {"empty": true, "updated": EPOCH_S}}}
 * tests/fuzz/fuzz-ipmi-sel.c and tests/unit/test-ipmi-sel.c feed them directly. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define SEL_ID_MAX 65535            /* a SEL record ID is 16 bits */
#define SEL_TIMESTAMP_MAX INT64_MAX /* seconds since the epoch (the SEL's are 32 bits) */
#define SEL_POSITION_TEXT_MAX 48    /* "ID:TIMESTAMP" and its NUL */

/* The last SEL record a reader saw. */
typedef struct SelPosition {
        int64_t id;        /* 0 … SEL_ID_MAX */
        int64_t timestamp; /* 0 … SEL_TIMESTAMP_MAX */
} SelPosition;

/* "ID:TIMESTAMP", decimal digits only: 0, or -EINVAL (ret untouched). */
int sel_position_parse(const char *s, SelPosition *ret);
/* The text sel_position_parse() reads back as p; NULL when p is out of range. */
char *sel_position_format(const SelPosition *p, char buf[static SEL_POSITION_TEXT_MAX]);

/* The state file's text as the object the binding keeps, with a "cursors" object: a fresh one
 * ({"version": 1, "cursors": {}}) when text is NULL or does not parse to an object
 * (*ret_unreadable then true when text was given). Never NULL but on ENOMEM. */
struct json_object *sel_state_parse(const char *text, bool *ret_unreadable);

typedef enum SelCursorKind {
        SEL_CURSOR_NONE,    /* no cursor of that name: the first read sets the position */
        SEL_CURSOR_EMPTY,   /* the SEL had no record: every record now is new */
        SEL_CURSOR_AT,      /* *ret_pos: the records after it are new */
        SEL_CURSOR_INVALID, /* a cursor that cannot be read back (wrong types, out of range) */
} SelCursorKind;

/* The cursor NAME of a state sel_state_parse() returned. */
SelCursorKind sel_cursor_get(struct json_object *state, const char *name, SelPosition *ret_pos);
