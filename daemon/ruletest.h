/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* medicd --test FILE... (medicctl test): runs the unit tests of check and rule files that
 * each FILE declares (medic-lua(7), TESTING RULES) on a virtual clock, through the daemon's
 * own manager, rule engine and decide(), with a scripted coordinator and every remedy only
 * recorded. TAP on stdout. Returns 0 when every expectation holds, 1 when one does not, 2
 * when a test file is wrong (file:line on stderr). */
int ruletest_run(char *const *files, size_t n_files);
