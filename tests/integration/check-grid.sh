#!/bin/bash
# SPDX-License-Identifier: MIT
# Checks' turns fall on a grid (1% of the interval: 10 ms for every = "1s"), so that checks
# due on the same point of it run in one wake-up of the loop: 200 checks spread over the
# second (their names scrambled: the first turn's spread is a hash of the name) start in batches at least a grid step apart, not one after the other at any
# millisecond; and each check still starts every second exactly (no drift, no jitter added).
. "$top_srcdir/tests/integration/lib.sh"
setup 100

{
        echo 'local n = 0'
        echo 'for i = 1, 200 do'
        echo '  check("g-" .. (i * 2654435761) % 4294967296) { every = "1s", run = function()'
        echo '    n = n + 1'
        echo "    if n > 400 and n <= 1000 then medic.log(\"notice\", string.format(\"START %d %.6f\", i, medic.now())) end"
        echo '    return ok()'
        echo '  end }'
        echo 'end'
} > "$T/checks/grid.lua"

start_medicd
ok "600 starts logged (the third to fifth rounds: past the start)" wait_for 20 "test \$(grep -c 'START ' '$T/medicd.log') -ge 600"
stats=$(grep -o 'START [0-9]* [0-9.]*' "$T/medicd.log" | python3 -c '
import sys
starts, by = [], {}
for line in sys.stdin:
    _, i, t = line.split()
    starts.append(float(t))
    by.setdefault(i, []).append(float(t))
starts.sort()
gaps = [(b - a) * 1000 for a, b in zip(starts, starts[1:])]
mid = sum(1 for g in gaps if 2.5 < g < 7.5)      # between two batches of the 10 ms grid
dev = [abs((b - a) - 1.0) * 1000 for v in by.values() for a, b in zip(v, v[1:])]
dev.sort()
print(len(gaps), mid, round(dev[len(dev) // 2], 2) if dev else -1, round(dev[int(len(dev) * 0.9)], 2) if dev else -1)
')
read -r ngaps mid p50 p90 <<<"$stats"
diag "gaps between starts: $ngaps, of them between 2.5 and 7.5 ms: $mid; each check: start against previous start + 1 s p50 ${p50} ms, p90 ${p90} ms"
ok "starts come in batches on the grid: under 5% of the gaps between 2.5 and 7.5 ms ($mid of $ngaps)" test "$ngaps" -gt 500 -a $(( mid * 20 )) -lt "$ngaps"
ok "each check starts every 1 s: p50 deviation under 2 ms ($p50 ms)" python3 -c "import sys; sys.exit(not 0 <= $p50 < 2)"
ok "each check starts every 1 s: p90 deviation under 10 ms ($p90 ms)" python3 -c "import sys; sys.exit(not 0 <= $p90 < 10)"
stop_medicd
done_testing
