#!/bin/bash
# SPDX-License-Identifier: MIT
# Check budgets: a busy loop and a hanging command time out, other checks keep their
# schedule; timed-out commands leave no process behind; a memory bomb is contained.
. "$top_srcdir/tests/integration/lib.sh"
setup 100

# proc_gone PID: the process no longer exists (or is a zombie waiting for its reaper).
proc_gone() {
        [ ! -e "/proc/$1" ] || grep -Eq '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

write_file "$T/checks/10-loop.lua" <<'EOF'
check "loop" {
  every = "3s",
  timeout = "2s",
  run = function()
    while true do end
  end,
}
EOF

write_file "$T/checks/20-sleeper.lua" <<EOF
check "sleeper" {
  every = "3s",
  timeout = "2s",
  run = function()
    medic.exec { "/bin/sh", "-c", "echo \$\$ >> $T/sleeper-pids; exec sleep 60" }
    return ok("sleep returned")
  end,
}
EOF
track_pidfile "$T/sleeper-pids"

write_file "$T/checks/30-tick.lua" <<EOF
check "tick" {
  every = "1s",
  run = function()
    medic.exec { "/bin/sh", "-c", "date +%s.%N >> $T/ticks" }
    return ok("tick")
  end,
}
EOF

start_medicd
t0=$(now_ms)
ok "loop becomes unknown" wait_cond loop unknown 5
t_loop=$(( $(now_ms) - t0 ))
like "$(cond_get loop message)" '[Tt]imed out|[Tt]imeout' "loop: message says it timed out"
diag "loop unknown after ${t_loop} ms: $(cond_get loop message)"
ok "sleeper becomes unknown" wait_cond sleeper unknown 5
t_sleep=$(( $(now_ms) - t0 ))
like "$(cond_get sleeper message)" '[Tt]imed out|[Tt]imeout' "sleeper: message says it timed out"
diag "sleeper unknown after ${t_sleep} ms: $(cond_get sleeper message)"
ok "loop and sleeper unknown within ~3 s of start (6 s allowed for load)" test "$t_loop" -le 6000 -a "$t_sleep" -le 6000
d_loop=$(cond_get loop duration_ms)
d_sleep=$(cond_get sleeper duration_ms)
diag "duration_ms: loop=$d_loop sleeper=$d_sleep"
ok "loop was stopped 2 s after it started (duration_ms $d_loop)" test "${d_loop:-0}" -ge 1900 -a "${d_loop:-0}" -le 2600
ok "sleeper was stopped 2 s after it started (duration_ms $d_sleep)" test "${d_sleep:-0}" -ge 1900 -a "${d_sleep:-0}" -le 2600
first_sleeper=$(head -n 1 "$T/sleeper-pids" 2>/dev/null)
if [ -n "$first_sleeper" ]; then
        ok "the timed-out sleep command is gone within 3 s" wait_for 3 "proc_gone $first_sleeper"
else
        fail "the timed-out sleep command is gone within 3 s" "sleeper never started its command"
fi
is "$(cond_get tick state)" ok "tick is ok"

# Jitter of tick over ~10 s while loop and sleeper keep timing out (every 3 s).
n0=$(count_lines "$T/ticks")
sleep 10.5
stats=$(tail -n +"$((n0 + 1))" "$T/ticks" | python3 -c '
import sys
t = [float(x) for x in sys.stdin.read().split()]
dev = sorted(abs((b - a) - 1.0) * 1000 for a, b in zip(t, t[1:]))
if not dev:
    print("0 0 0")
else:
    print(len(t), int(dev[len(dev) // 2]), int(dev[-1]))
')
read -r nticks p50 max <<<"$stats"
echo "# jitter p50=${p50}ms max=${max}ms (over $nticks ticks)"
ok "tick ran at least 9 times in 10.5 s ($nticks)" test "$nticks" -ge 9
ok "tick jitter: max deviation < 500 ms (${max} ms)" test "$nticks" -ge 2 -a "$max" -lt 500
is "$(cond_get loop state)" unknown "loop still unknown"
is "$(cond_get sleeper state)" unknown "sleeper still unknown"
ok "daemon alive" daemon_alive
n_sleepers=$(count_lines "$T/sleeper-pids")
ok "sleeper runs again after timing out ($n_sleepers runs)" test "$n_sleepers" -ge 2
alive=0
for p in $(head -n -1 "$T/sleeper-pids"); do proc_gone "$p" || alive=$((alive + 1)); done
is "$alive" 0 "no earlier sleep command is left running"
stop_medicd
ok "medicd stops on SIGTERM within 5 s" test $? -eq 0
sleep 0.5
alive=0
for p in $(cat "$T/sleeper-pids"); do proc_gone "$p" || alive=$((alive + 1)); done
is "$alive" 0 "no sleep command left after medicd stopped"

# ---- phase 2: process groups and memory ----
rm -f "$T"/checks/*.lua
write_file "$T/checks/10-grandchild.lua" <<EOF
check "grandchild" {
  every = "1h",
  timeout = "2s",
  run = function()
    medic.exec { "/bin/sh", "-c", [[trap "" TERM; sleep 300 & echo \$! > $T/gpid; wait]] }
    return ok("returned")
  end,
}
EOF
track_pidfile "$T/gpid"

# The direct child exits at once, leaving a TERM-ignoring process in its group behind.
write_file "$T/checks/15-orphan.lua" <<EOF
check "orphan" {
  every = "1h",
  timeout = "20s",
  run = function()
    local r = medic.exec { "/bin/sh", "-c", [[(trap "" TERM; exec sleep 300) >/dev/null 2>&1 & echo \$! > $T/opid]] }
    return ok("returned", { status = r.status, timed_out = r.timed_out })
  end,
}
EOF
track_pidfile "$T/opid"

write_file "$T/checks/20-bomb.lua" <<'EOF'
check "bomb" {
  every = "1h",
  timeout = "20s",
  run = function()
    local t = {}
    for i = 1, 1e9 do
      t[i] = string.rep("x", 1024) .. i
    end
    return ok("survived?")
  end,
}
EOF

write_file "$T/checks/30-tick.lua" <<EOF
check "tick" {
  every = "1s",
  run = function()
    medic.exec { "/bin/sh", "-c", "date +%s.%N >> $T/ticks2" }
    return ok("tick")
  end,
}
EOF

start_medicd
ok "grandchild check started its command" wait_for 3 '[ -s "$T/gpid" ]'
gpid=$(cat "$T/gpid" 2>/dev/null)
ok "grandchild check becomes unknown (timed out)" wait_cond grandchild unknown 5
like "$(cond_get grandchild message)" '[Tt]imed out|[Tt]imeout' "grandchild: message says it timed out"
if [ -n "$gpid" ]; then
        ok "the TERM-ignoring grandchild ($gpid) is gone within 4 s of the timeout" wait_for 4 "proc_gone $gpid"
else
        fail "the TERM-ignoring grandchild is gone within 4 s of the timeout" "no pid recorded"
fi

ok "orphan check returns ok once its command ended" wait_cond orphan ok 8
opid=$(cat "$T/opid" 2>/dev/null)
if [ -n "$opid" ]; then
        ok "the TERM-ignoring process left in the group ($opid) is gone within 4 s" wait_for 4 "proc_gone $opid"
else
        fail "the TERM-ignoring process left in the group is gone within 4 s" "no pid recorded"
fi

ok "memory bomb check becomes unknown" wait_cond bomb unknown 15
like "$(cond_get bomb message)" '[Mm]emory' "bomb: message mentions memory"
diag "bomb: $(cond_get bomb message)"
ok "daemon survived the memory bomb" daemon_alive
ok "status still answers" sh -c "timeout 10 '$MEDICCTL' --socket '$T/medicd.sock' status >/dev/null"
n1=$(count_lines "$T/ticks2")
sleep 3
n2=$(count_lines "$T/ticks2")
ok "tick keeps ticking after the bomb ($n1 -> $n2)" test "$n2" -ge $((n1 + 2))
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$MEDICD_PID/status" 2>/dev/null)
diag "medicd VmRSS after the bomb: ${rss:-?} kB"
# AddressSanitizer keeps freed memory in quarantine and adds shadow memory (about 3 times the
# RSS); valgrind's process is not medicd's.
if [ -n "${MEDICD_WRAPPER:-}" ]; then
        skip "medicd RSS stays below 200 MB after the bomb" "medicd runs under '$MEDICD_WRAPPER': its RSS is the wrapper's"
elif ldd "$MEDICD" 2>/dev/null | grep -q libasan; then
        ok "medicd RSS stays below 600 MB after the bomb (an ASan build: 3 times the 200 MB of a plain one)" \
                test "${rss:-0}" -lt 614400
else
        ok "medicd RSS stays below 200 MB after the bomb" test "${rss:-0}" -lt 204800
fi
stop_medicd
ok "medicd stops on SIGTERM within 5 s" test $? -eq 0

done_testing
