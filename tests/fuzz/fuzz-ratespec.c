/* SPDX-License-Identifier: MIT */
/* ratespec_parse() (lib/ratelimit.c): "N/DURATION"; a parsed spec formats back to itself. */
#include <stdio.h>

#include "fuzz.h"
#include "ratelimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size), buf[128];
        RateSpec r, q;

        if (ratespec_parse(s, &r) >= 0) {
                ratespec_format(&r, buf, sizeof buf);
                if (ratespec_parse(buf, &q) < 0 || q.count != r.count || q.window_usec != r.window_usec) {
                        fprintf(stderr, "'%s' -> '%s' does not parse back\n", s, buf);
                        abort();
                }
        }
        free(s);
        return 0;
}
