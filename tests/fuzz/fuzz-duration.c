/* SPDX-License-Identifier: MIT */
/* duration_parse() and size_parse() (lib/duration.c); a parsed duration formats back to the
 * same value. */
#include <stdio.h>

#include "duration.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size), buf[128];
        uint64_t v, w;

        if (duration_parse(s, &v) >= 0) {
                duration_format(v, buf, sizeof buf);
                if (duration_parse(buf, &w) < 0 || w != v) {
                        fprintf(stderr, "'%s' -> %llu -> '%s' does not parse back\n", s, (unsigned long long) v, buf);
                        abort();
                }
        }
        (void) size_parse(s, &v);
        free(s);
        return 0;
}
