/* SPDX-License-Identifier: MIT */
/* Kill points: named places in a remedy's life where a test build of medicd can be made to
 * die (SIGKILL, as a crash or a power cut would), so that tests/integration/kill-points.sh
 * hits every one of them rather than hoping a random sleep lands there. They exist only in a
 * build with -DMEDIC_TEST_HOOKS (tests/helpers/medicd-hooks); in medicd they compile to
 * nothing. The environment of the hooked build (read once):
 *   MEDIC_KILL_LIST=FILE     append "SEQ NAME" for every point hit, never kill
 *   MEDIC_KILL_AT=N          die at the Nth point hit (any name)
 *   MEDIC_KILL_POINT=NAME    die at the MEDIC_KILL_NTH'th (default 1st) hit of NAME
 *   MEDIC_KILL_LOG=FILE      where the point that kills is written ("NAME NTH SEQ") first
 * A point's name is NAME or NAME:DETAIL (KILLPOINT_AT: a task, a sysrq key, a file). */
#pragma once

#ifdef MEDIC_TEST_HOOKS
void killpoint(const char *name, const char *detail);
#define KILLPOINT(name) killpoint((name), NULL)
#define KILLPOINT_AT(name, detail) killpoint((name), (detail))
/* Test-only tunables of the hooked build (0: the built-in value). */
unsigned long killpoint_env_ms(const char *var);
#else
#define KILLPOINT(name) do { } while (0)
#define KILLPOINT_AT(name, detail) do { (void) (detail); } while (0)
#endif
