/* SPDX-License-Identifier: MIT */
/* window_parse() (lib/window.c), then the questions the rule engine asks a window. */
#include <stdio.h>

#include "fuzz.h"
#include "window.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size), *err = NULL;
        Window *w = NULL;

        if (window_parse(s, &w, &err) >= 0) {
                time_t t = 1700000000;
                for (int i = 0; i < 4; i++, t += 86400 + 3671) {
                        time_t n = window_next_open(w, t);
                        if (n != (time_t) -1 && (n < t || !window_contains(w, n)))
                                abort();
                }
                window_free(w);
        } else if (!err)
                abort(); /* an error says what is wrong */
        free(err);
        free(s);
        return 0;
}
