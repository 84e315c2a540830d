#!/bin/bash
# SPDX-License-Identifier: MIT
# The decision core and the permission owner under millions of random steps: builds
# tests/unit/test-invariants and runs its seeded histories (checks, coordinator answers,
# ticks, task results, SIGKILL, reboots, clock steps, failing writes, reloads) with STEPS
# steps (default 5000000). Prints the seed, steps, histories, disruptions, steps/s and what
# was exercised; on a violated invariant, the shortest failing history, and exits non-zero.
# With "manager" as the third argument, the same on the daemon's own code instead
# (tests/unit/test-invariants-manager: the real manager, rule engine, state file and reboot in
# record-only mode; about 10000 steps/s, so 5000000 steps take some ten minutes).
# Usage (from a built tree, as any user): bash bench/invariants.sh [STEPS] [SEED] [manager]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
steps=${1:-5000000}
prog=tests/unit/test-invariants
[ "${3:-}" = manager ] && prog=tests/unit/test-invariants-manager
make -C "$top" -s "$prog" >/dev/null
export MEDIC_STEPS=$steps
[ -n "${2:-}" ] && export MEDIC_SEED=$2
out=$(mktemp /tmp/medic-invariants.XXXXXX)
trap 'rm -f "$out"' EXIT
rc=0
"$top/$prog" >"$out" 2>&1 || rc=$?
grep '^# ' "$out" | sed 's/^# //'
[ "$rc" -eq 0 ] || { grep -E 'FAILED|ERROR|^not ok' "$out"; echo "invariants: FAILED (exit $rc)"; exit 1; }
echo "invariants: all held"
