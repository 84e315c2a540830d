/* SPDX-License-Identifier: MIT */
#pragma once

#include <time.h>

#include "lua-decl.h"

/* What medicd --lint says about a loaded set: mistakes the loader accepts (see medicctl(8),
 * "lint"). Each finding is at the declaration of the rule or check it is about. */
typedef struct LintFinding {
        char *file;
        int line;
        char *message;
} LintFinding;

typedef struct LintFindings {
        LintFinding *v;
        size_t n;
} LintFindings;

/* Appends the findings about s to ret (now: when the windows are looked at). Returns 0 or -ENOMEM. */
int lint_set(const LuaSet *s, time_t now, LintFindings *ret);
void lint_findings_clear(LintFindings *l);
