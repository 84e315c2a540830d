/* SPDX-License-Identifier: MIT */
/* IPMI SEL positions (lib/ipmi-sel.h). The input is read twice: as the helper's
 * `--after ID:TIMESTAMP` text (a position it accepts formats back to the same text's value)
 * and as STATE_DIR/ipmi-sel.json: every cursor in it that the binding reads as a position must
 * be one the helper accepts (medic-ipmi refuses any other and the read fails), read back to
 * the same value. */
#include "fuzz.h"
#include "ipmi-sel.h"

static void check_position(const SelPosition *p) {
        char buf[SEL_POSITION_TEXT_MAX], *t;
        SelPosition back;

        if (!(t = sel_position_format(p, buf)))
                abort(); /* the binding would pass the helper a position it refuses */
        if (sel_position_parse(t, &back) < 0 || back.id != p->id || back.timestamp != p->timestamp)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        struct json_object *state, *cursors;
        SelPosition p;
        bool unreadable;

        if (sel_position_parse(s, &p) == 0) {
                if (p.id < 0 || p.id > SEL_ID_MAX || p.timestamp < 0)
                        abort();
                check_position(&p);
        }

        state = sel_state_parse(s, &unreadable);
        if (!state || !json_object_object_get_ex(state, "cursors", &cursors) ||
            !json_object_is_type(cursors, json_type_object))
                abort();
        json_object_object_foreach(cursors, name, v) {
                (void) v;
                if (sel_cursor_get(state, name, &p) == SEL_CURSOR_AT)
                        check_position(&p);
        }
        if (sel_cursor_get(state, "no such cursor", &p) != SEL_CURSOR_NONE)
                abort();
        /* What the binding writes back: the state as text, read again the same way. */
        struct json_object *again = sel_state_parse(json_object_to_json_string_ext(state, JSON_C_TO_STRING_PRETTY), &unreadable);
        if (!again || unreadable)
                abort();
        json_object_put(again);
        json_object_put(state);
        free(s);
        return 0;
}
