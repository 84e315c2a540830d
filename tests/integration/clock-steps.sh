#!/bin/bash
# SPDX-License-Identifier: MIT
# Wall-clock steps (the field failure: `now - since` on unsigned wall-clock times wrapped after
# a backward step). medicd runs under libfaketime with only CLOCK_REALTIME shifted, through a
# file the test rewrites; tests/helpers/clock-probe shows that CLOCK_MONOTONIC and
# CLOCK_BOOTTIME, and timers on them, are not (tests/helpers/timerfd-real.so keeps libfaketime
# off timerfds). With medicd's wall clock an hour behind the real time, then an hour ahead, the
# rules still running meanwhile:
#  (1) a rule with holds = "10m" stays in its debounce and explain shows the real time held
#      (a rule with holds = "2s" on the same condition fires, not before 2 s);
#  (2) a rule in its retry = "10m" wait does not fire again (one with retry = "2s" does);
#  (3) after a simulated reboot (new boot id, medicd restarted) with settle_timeout = 30m and
#      settle = 3s, a step back 1 h while a health check fails: no "came back sick"
#      escalation, and once health is ok the local slot is released after ~3 s of health;
#      a since-time persisted in the old boot, with the wall clock stepped back, is "not yet"
#      for the debounce (and counts across the reboot while the clock is not stepped).
. "$top_srcdir/tests/integration/lib.sh"

LIBFAKETIME=""
for f in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1 /usr/lib64/faketime/libfaketimeMT.so.1; do
        [ -e "$f" ] && { LIBFAKETIME=$f; break; }
done
[ -n "$LIBFAKETIME" ] || { echo "1..0 # SKIP libfaketime not installed (libfaketimeMT.so.1; Debian: libfaketime)"; exit 0; }

setup 90

# ---- the fake wall clock ----------------------------------------------------------------------
# libfaketime creates /dev/shm/faketime_shm_PID and sem.faketime_sem_PID in every process it is
# loaded into and never removes them; a later process that gets the same pid then dies at
# start ("shm_open failed: File exists"). Those of dead processes are removed before, and
# those of the processes this test started after each ends.
ft_forget() { rm -f "/dev/shm/faketime_shm_$1" "/dev/shm/sem.faketime_sem_$1"; }
for f in /dev/shm/faketime_shm_*; do
        p=${f##*_}
        case $p in ''|*[!0-9]*) continue ;; esac
        kill -0 "$p" 2>/dev/null || ft_forget "$p"
done
FT="$T/faketime.rc"
# clock_offset SPEC: medicd's wall clock from now on is the real one shifted by SPEC (+0, -3600, …).
clock_offset() { echo "$1" > "$FT.new" && mv -f "$FT.new" "$FT"; }
clock_offset +0
TIMERFD_REAL="$top_builddir/tests/helpers/timerfd-real.so"
CLOCK_PROBE="$top_builddir/tests/helpers/clock-probe"
if [ ! -e "$TIMERFD_REAL" ] || [ ! -x "$CLOCK_PROBE" ]; then
        bail_out "tests/helpers/timerfd-real.so and clock-probe are not built (make check builds them)"
fi
FT_VARS="FAKETIME_TIMESTAMP_FILE=$FT FAKETIME_UPDATE_TIMESTAMP_FILE=1 FAKETIME_NO_CACHE=1 NO_FAKE_STAT=1"
# timerfd-real.so first: libfaketime would move medicd's timerfd timers too (see its source).
MEDICD_ENV="LD_PRELOAD=$TIMERFD_REAL:$LIBFAKETIME $FT_VARS FAKETIME_DONT_FAKE_MONOTONIC=1"
# probe [ENV...]: clock-probe under libfaketime with MEDICD_ENV (or ENV): how far its realtime,
# monotonic and boottime clocks are from the real ones (whole seconds), and the seconds left
# on its 1 s timers on CLOCK_MONOTONIC and CLOCK_BOOTTIME (-1: could not be armed).
probe() {
        local real fake
        real=$("$CLOCK_PROBE")
        # shellcheck disable=SC2048,SC2086 # split on purpose: K=V words
        fake=$(env ${*:-$MEDICD_ENV} "$CLOCK_PROBE")
        ft_forget "${fake%% *}"
        echo "$real $fake" | awk '{ printf "%d %d %d %.0f %.0f\n", $8 - $2, $9 - $3, $10 - $4, $11, $12 }'
}
# stop_faked: stop_medicd, then forget its libfaketime files.
stop_faked() {
        local p=$MEDICD_PID
        stop_medicd
        ft_forget "$p"
}

for offset in -3600 +3600; do
        clock_offset "$offset"
        read -r d_real d_mono d_boot t_mono t_boot <<< "$(probe)"
        ok "probe $offset: the realtime clock is shifted by ${d_real}s" test "$d_real" -ge $(( offset - 2 )) -a "$d_real" -le $(( offset + 2 ))
        ok "probe $offset: CLOCK_MONOTONIC and CLOCK_BOOTTIME are not (${d_mono}s, ${d_boot}s)" \
                test "$d_mono" -ge -1 -a "$d_mono" -le 1 -a "$d_boot" -ge -1 -a "$d_boot" -le 1
        is "$t_mono $t_boot" "1 1" "probe $offset: timers on CLOCK_MONOTONIC and CLOCK_BOOTTIME expire in 1 s"
        read -r _ _ _ t_mono t_boot <<< "$(probe "LD_PRELOAD=$LIBFAKETIME $FT_VARS FAKETIME_DONT_FAKE_MONOTONIC=1")"
        diag "without timerfd-real.so, libfaketime's 1 s timers: ${t_mono}s, ${t_boot}s"
done
read -r _ d_mono _ _ _ <<< "$(probe "LD_PRELOAD=$LIBFAKETIME $FT_VARS")"
ok "probe control: without FAKETIME_DONT_FAKE_MONOTONIC the monotonic clock is shifted (${d_mono}s)" \
        test "${d_mono#-}" -ge 1000
clock_offset +0

# ---- the node ---------------------------------------------------------------------------------
reboot_test_files
reboot_rule_files --health
reboot_settings "methods = sysrq" "settle = 3s" "settle_timeout = 30m"
write_file "$T/checks/20-clock.lua" <<EOF
check "cond-a" { every = "1s", run = function()
  if medic.exists("$T/a") then return problem("a is there") end
  return ok("no a")
end }
check "cond-b" { every = "1s", run = function()
  if medic.exists("$T/b") then return problem("b is there") end
  return ok("no b")
end }
EOF
# Each remedy appends the real time (children run without libfaketime) to fired-RULE.
fires() { echo "command { \"/bin/sh\", \"-c\", \"date +%s.%N >> $T/fired-$1\" }"; }
write_file "$T/rules/20-clock.lua" <<EOF
rule "hold-10m" { when = "cond-a", holds = "10m", remedy = $(fires hold-10m) }
rule "hold-2s" { when = "cond-a", holds = "2s", remedy = $(fires hold-2s) }
rule "retry-10m" { when = "cond-b", retry = "10m", limit = "20/1h", remedy = $(fires retry-10m) }
rule "retry-2s" { when = "cond-b", retry = "2s", limit = "20/1h", remedy = $(fires retry-2s) }
EOF
fired() { count_lines "$T/fired-$1"; }
# step RULE STEP: "ok<TAB>detail" of that step of `medicctl explain RULE`.
step() {
        ctl_json explain "$1" | jget "(lambda s: None if s is None else '%s\t%s' % (s['ok'], s['detail']))(find(d['steps'], '$2', 'step'))"
}
# held RULE: the seconds of "problem for DURATION" in RULE's debounce step (-1 when absent).
held() {
        step "$1" debounce | python3 -c '
import re, sys
m = re.search(r"problem for ([0-9dhms]+)", sys.stdin.read())
secs = sum(int(n) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u] for n, u in re.findall(r"([0-9]+)([dhms])", m.group(1))) if m else -1
print(secs)'
}
near() { [ "$1" -ge $(( $2 - 3 )) ] && [ "$1" -le $(( $2 + 3 )) ]; }   # near GOT WANT: within 3 s
since_a() { echo $(( $(date +%s) - $(cond_get cond-a since) )); }        # real seconds since cond-a's since

start_medicd
touch "$T/a" "$T/b"
ok "cond-a and cond-b are problem" wait_for 10 '[ "$(cond_get cond-a state)" = problem ] && [ "$(cond_get cond-b state)" = problem ]'
since=$(cond_get cond-a since)
ok "retry-10m fired once" wait_for 10 '[ "$(fired retry-10m)" = 1 ]'
ok "control: hold-2s fires" wait_for 10 '[ "$(fired hold-2s)" -ge 1 ]'
first=$(head -n 1 "$T/fired-hold-2s" 2>/dev/null)
ok "control: not before its 2 s (problem since $since, fired at ${first%.*})" \
        python3 -c "import sys; sys.exit(not float('${first:-0}') >= $since + 1.5)"
like "$(step hold-10m debounce)" '^False	problem for ' "hold-10m waits in its debounce"
like "$(step retry-10m retry)" '^False	fired .* ago; waiting 10m' "retry-10m waits in its retry"

# Long enough into the debounce that a held time of 0 is not "near" the real one.
wait_for 10 '[ "$(since_a)" -ge 6 ]'
# Each direction: the rules run (retry-2s fires again), but hold-10m does not fire within 4 s,
# retry-10m does not fire again, and hold-10m's debounce holds for the real time.
for offset in -3600 +3600; do
        n=$(fired retry-2s)
        clock_offset "$offset"
        ctl run-check cond-a >/dev/null
        got=$(( $(cond_get cond-a last_run) - $(date +%s) ))
        ok "clock $offset: medicd's wall clock is shifted (last_run is ${got}s from now)" near "$got" "$offset"
        ok "clock $offset: hold-10m does not fire" never_within 4 '[ "$(fired hold-10m)" -gt 0 ]'
        is "$(fired retry-10m)" 1 "clock $offset: retry-10m does not fire again"
        like "$(step hold-10m debounce)" '^False	' "clock $offset: explain: still in the debounce"
        h=$(held hold-10m) want=$(since_a)
        ok "clock $offset: explain: held for the real time (${h}s, real ${want}s)" near "$h" "$want"
        ok "clock $offset: control: retry-2s fires again (the rules run)" wait_for 5 "[ \$(fired retry-2s) -gt $n ]"
done
clock_offset +0
rm -f "$T/b"

# ---- (3) a reboot, a step back while settling -------------------------------------------------
touch "$T/trigger"
ok "the reboot starts: sysrq s, u, b written" wait_for 15 '[ "$(cat "$T/sysrq-trigger")" = sub ]'
holder() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("holder"))' "$T/state/coordinator.json" 2>/dev/null; }
is "$(holder)" reboot-for-updates "the local slot is held for the reboot"
stop_faked
echo 22222222-2222-2222-2222-222222222222 > "$T/boot_id"
rm -f "$T/trigger"
touch "$T/sick"
mark=$(log_mark) t_start=$(date +%s)
start_medicd
ok "the new boot is recognised" wait_for 10 "log_has_since $mark 'came back from the reboot for rule reboot-for-updates'"
ok "settling" wait_for 10 '[ "$(ctl_json status | jget "d[\"reboot\"][\"phase\"]")" = settling ]'
ok "cond-a is checked again in the new boot" wait_for 5 "[ \$(cond_get cond-a last_run) -ge $t_start ]"
h=$(held hold-10m) want=$(since_a)
ok "control: the since-time of the old boot counts across the reboot (${h}s, real ${want}s)" near "$h" "$want"

clock_offset -3600
run=$(cond_get disk-ok last_run)
ok "clock -3600 while sick: no 'came back sick' within 4 s" never_within 4 "log_has_since $mark 'came back sick'"
is "$(ctl_json history | jget 'len([e for e in d["history"] if e.get("decision") == "came-back-sick"])')" 0 \
        "no came-back-sick escalation in the history"
is "$(holder)" reboot-for-updates "the slot is kept while a health check fails"
ok "control: the health check runs meanwhile" wait_for 5 "[ \$(cond_get disk-ok last_run) -ne $run ]"
like "$(step hold-10m debounce)" '^False	' "old boot's since-time, clock stepped back: still in the debounce"
h=$(held hold-10m)
ok "… and held for 'not yet' (${h}s), not a wrapped difference" test "$h" -ge 0 -a "$h" -le 2
is "$(fired hold-10m)" 0 "hold-10m never fired"
rm -f "$T/sick"
t_ok=$(now_ms)
ok "healthy again: the slot is released" wait_for 15 '[ "$(holder)" = None ]'
waited=$(( $(now_ms) - t_ok ))
ok "after ~3 s of health (${waited} ms after the fix; the check runs every 1 s)" test "$waited" -ge 2500 -a "$waited" -le 12000
ok "the release is logged" log_has_since "$mark" 'Reboot for rule reboot-for-updates done: healthy for 3s'
ok "no 'came back sick' at all" never_within 0 "log_has_since $mark 'came back sick'"
stop_faked
clock_offset +0
done_testing
