/* SPDX-License-Identifier: MIT */
/* budget_parse() (lib/budget.c): "N" or "N%"; a parsed value formats back to itself and its
 * roundings stay within the group. */
#include <stdio.h>

#include "budget.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size), buf[64];
        BudgetValue b, c;

        if (budget_parse(s, &b) >= 0) {
                budget_format(&b, buf, sizeof buf);
                if (budget_parse(buf, &c) < 0 || c.value != b.value || c.percent != b.percent)
                        abort();
                for (unsigned members = 0; members < 20; members++)
                        if (b.percent && (budget_max_unavailable(&b, members) > members ||
                                          budget_min_healthy(&b, members) > members))
                                abort();
        }
        free(s);
        return 0;
}
