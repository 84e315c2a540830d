#!/bin/bash
# SPDX-License-Identifier: MIT
# A reboot abandoned after its pre-reboot tasks started runs the abort tasks ([reboot]
# abort_dir, in lexical order) and gives the local slot back; nothing is rebooted:
# (3) the rule's window closes while the pre-reboot tasks run (re-decided after them);
# (5) the stop file appears while they run and an abort task fails: escalated as abort-failed
#     through notify_command, the slot is given back all the same;
# (4) medicd is SIGKILLed while they run: after its restart (same boot) the abort tasks run.
# Positive control last: with nothing changed the node reboots (the sysrq test file).
# Devices are test files (tests/integration/lib.sh); nothing can reboot this machine.
. "$top_srcdir/tests/integration/lib.sh"
setup 90

write_config "flapping = 100/1h"     # each case below clears the trigger and sets it again
reboot_test_files 1
mkdir -p "$T/abort.d"
notify_to_file
reboot_settings "methods = sysrq" "sysrq_deadline = 30s" "settle = 1s" \
        "max_disruptions = 20/1h"
reboot_rule_files 1h
# The pre-reboot task runs until the test lets it end (the file release) or 30 s passed.
write_file "$T/pre-reboot.d/10-drain" <<EOF
#!/bin/sh
echo \$\$ > $T/pre-pid
env > $T/pre-env
echo start >> $T/pre
i=0
while [ ! -e $T/release ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
echo end >> $T/pre
EOF
# Created out of order: they must run in lexical order all the same.
write_file "$T/abort.d/20-second" <<EOF
#!/bin/sh
echo "second \$MEDIC_RULE" >> $T/aborted
EOF
write_file "$T/abort.d/10-first" <<EOF
#!/bin/sh
echo "first \$MEDIC_RULE" >> $T/aborted
EOF
chmod 0755 "$T/pre-reboot.d/10-drain" "$T/abort.d/20-second" "$T/abort.d/10-first"

reboot_phase() { ctl_json status | jget 'd["reboot"]["phase"]'; }
not_rebooted() { [ ! -s "$T/sysrq-trigger" ] && [ ! -s "$T/watchdog" ]; }
abandoned_reason() { history_reasons reboot-for-updates abandoned | tail -n 1; }
# pre_started N: the pre-reboot task started the Nth time.
pre_started() { wait_for 15 "grep -c start $T/pre 2>/dev/null | grep -qx $1"; }
# episode_end: the trigger clears; the pre-reboot task of the case ends if it still runs.
episode_end() {
        rm -f "$T/trigger"
        wait_cond wants-reboot ok
        rm -f "$T/release"
}

# ---- (3) the window closes while the pre-reboot tasks run -------------------------------------
# Windows have minute granularity. medicd's local time is shifted by a few seconds ($TZ, a
# POSIX zone with a seconds offset) so that a minute ends 15 s from now; the window is that
# minute ("daily HH:MM-HH:MM+1" local), open at the start and closed 15 s later.
close=$(( $(date +%s) + 15 ))
off=$(( (60 - close % 60) % 60 ))
zone=$(printf 'MTZ-0:00:%02d' "$off")
[ "$(TZ=$zone date -d "@$close" +%S)" = 00 ] || bail_out "the shifted zone $zone does not work"
from=$(TZ=$zone date -d "@$((close - 60))" +%H:%M)
to=$(TZ=$zone date -d "@$close" +%H:%M)
[ "$to" = 00:00 ] && to=24:00
sed -i "s/limit = /window = \"daily $from-$to\", limit = /" "$T/rules/10-reboot.lua"
grep -q "window = \"daily $from-$to\"" "$T/rules/10-reboot.lua" || bail_out "could not add the window to the rule"

MEDICD_ENV="${MEDICD_ENV:-} TZ=$zone" start_medicd
touch "$T/trigger"
ok "(3) inside the window: the pre-reboot task runs" pre_started 1
ok "(3) ... before the window closes" test "$(date +%s)" -lt "$close"
is "$(grep '^MEDIC_' "$T/pre-env" | sort)" "MEDIC_CONDITION=wants-reboot
MEDIC_GROUP=$MEDIC_GROUP
MEDIC_NODE=$MEDIC_NODE
MEDIC_RULE=reboot-for-updates" "(3) the task's MEDIC_* environment (medic.conf(5))"
is "$(grep -E '^(PATH|LANG)=' "$T/pre-env" | sort)" "LANG=C.UTF-8
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "(3) ... PATH and LANG"
like "$(tr '\0' '\n' < "/proc/$MEDICD_PID/environ")" "^TZ=$zone\$" "(3) (control: medicd itself runs with TZ=$zone)"
unlike "$(cat "$T/pre-env")" '^TZ=' "(3) ... the task gets nothing of medicd's own environment"
is "$(local_holder)" reboot-for-updates "(3) the local slot is held for the rule"
ok "(3) the window closes while the task runs" wait_for 20 "[ \$(date +%s) -ge $((close + 1)) ]"
like "$(ctl_json explain reboot-for-updates | jget 'find(d["steps"], "window", "step")')" '"ok": false' \
        "(3) medicctl explain: the window is closed"
touch "$T/release"
ok "(3) the pre-reboot task ends" wait_for 10 "grep -q end $T/pre"
ok "(3) the abort tasks run" wait_for 10 "[ \$(count_lines $T/aborted) -ge 2 ]"
is "$(cat "$T/aborted")" "first reboot-for-updates
second reboot-for-updates" "(3) ... in lexical order, with MEDIC_RULE"
ok "(3) the local slot is given back" wait_for 5 '[ "$(local_holder)" = null ]'
is "$(status_holder)" null "(3) medicctl status: no holder"
is "$(reboot_phase)" idle "(3) medicctl status: the reboot is idle"
like "$(abandoned_reason)" "window" "(3) the history says why: the window"
sleep 2
ok "(3) no reboot (the sysrq and watchdog test files are untouched)" not_rebooted
episode_end
stop_medicd

# ---- (5) the stop file appears, and an abort task fails -----------------------------------------
reboot_rule_files 1h      # without the window
write_file "$T/abort.d/15-fail" <<'EOF'
#!/bin/sh
echo "cannot re-enable compute" >&2
exit 1
EOF
chmod 0755 "$T/abort.d/15-fail"
: > "$T/aborted"
start_medicd
touch "$T/trigger"
ok "(5) the pre-reboot task runs" pre_started 2
touch "$T/stop"
ok "(5) medicctl status: stopped" wait_for 5 '[ "$(ctl_json status | jget "d[\"coordinator\"][\"stopped\"]")" = true ]'
touch "$T/release"
ok "(5) an abort task runs" wait_for 10 "grep -q first $T/aborted"
ok "(5) the abort tasks after the failing one run too (undoing goes on)" wait_for 10 "grep -q second $T/aborted"
ok "(5) the failing abort task is escalated to the notify command" \
        wait_for 10 "grep -qx 'abort-failed reboot-for-updates' $T/notified"
ok "(5) the local slot is given back all the same" wait_for 5 '[ "$(local_holder)" = null ]'
is "$(status_holder)" null "(5) medicctl status: no holder"
like "$(abandoned_reason)" "stop file" "(5) the history says why: the stop file"
ok "(5) no reboot" not_rebooted
rm -f "$T/abort.d/15-fail" "$T/stop"
episode_end

# ---- (4) medicd killed while the pre-reboot tasks run ---------------------------------------------
: > "$T/aborted"
touch "$T/trigger"
ok "(4) the pre-reboot task runs" pre_started 3
is "$(local_holder)" reboot-for-updates "(4) the local slot is held for the rule"
kill_medicd
kill -KILL "$(cat "$T/pre-pid")" 2>/dev/null    # the task has its own process group
is "$(count_lines "$T/aborted")" 0 "(4) no abort task before the restart"
start_medicd                                     # same boot id: the reboot did not happen
ok "(4) after the restart the abort tasks run" wait_for 10 "[ \$(count_lines $T/aborted) -ge 2 ]"
is "$(cat "$T/aborted")" "first reboot-for-updates
second reboot-for-updates" "(4) ... in lexical order"
ok "(4) the local slot is given back" wait_for 5 '[ "$(local_holder)" = null ]'
is "$(status_holder)" null "(4) medicctl status: no holder"
is "$(reboot_phase)" idle "(4) medicctl status: the reboot is idle"
sleep 2
ok "(4) no reboot" not_rebooted
episode_end

# ---- control: nothing changes while the pre-reboot task runs: the node reboots -----------------
: > "$T/aborted"
touch "$T/release" "$T/trigger"
ok "control: the node reboots" wait_for 20 '[ -s "$T/sysrq-trigger" ]'
is "$(local_holder)" reboot-for-updates "control: holding the local slot for the reboot"
is "$(count_lines "$T/aborted")" 0 "control: no abort task"
stop_medicd
done_testing
