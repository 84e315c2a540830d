#!/bin/bash
# SPDX-License-Identifier: MIT
# Stale state after a restart: a condition restored from state.json is what the check said
# before the restart, not what is true now. A reboot rule must not act on it: after a restart
# medicd reboots (asks for permission, runs a reboot method) only on a fresh run of the check.
#
# Each case: the check wants-reboot is a problem while $T/flag exists (every run takes 2 s, so
# its first result after a start comes well after the rule engine's first tick). medicd sees
# the flag, but the rule holds for 1h, so it does not act; state.json records the problem with
# its since. medicd stops (SIGKILL or SIGTERM), the rule is changed to hold 1s (less than the
# problem's age), and medicd starts again:
#   - the flag was removed: no reboot (no pre-reboot task, nothing written to the sysrq test
#     file, no reboot intent), no permission (local slot free, no holder key in etcd), before
#     or after the check's fresh run (which reports ok);
#   - the flag is still there (the positive control): the reboot does happen, but only after
#     the check's first fresh run.
# Both with the local coordinator and with etcd. Devices are test files (lib.sh).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 110

have_etcd=no
if command -v etcd >/dev/null; then
        have_etcd=yes
        start_etcd
fi

case_n=0
BACKEND=local

write_rule() {
        echo "rule \"reboot-for-updates\" { when = \"wants-reboot\", holds = \"$1\", remedy = reboot {}, limit = \"5/1h\" }" |
                write_file "$T/rules/10-reboot.lua"
}

# A fresh node (own name, own group in etcd, empty state directory) for one case.
new_node() {
        case_n=$((case_n + 1))
        reboot_node "stale$case_n-$$" "$BACKEND"
        rm -f "$T/check-done" "$T/flag"
        write_file "$T/checks/10-node.lua" <<EOF
check "wants-reboot" { every = "1s", timeout = "10s", run = function()
  medic.sleep("2s")
  local flag = medic.exists("$T/flag")
  medic.exec { "/bin/sh", "-c", "date +%s%N >> $T/check-done" }
  if flag then return problem("updates installed") end
  return ok("nothing to do")
end }
EOF
        write_rule 1h
}

not() { ! "$@"; }

saved_cond() {
        python3 - "$T/state/state.json" "$1" <<'EOF' 2>/dev/null
import json, sys
c = json.load(open(sys.argv[1]))["conditions"]["wants-reboot"]
print(c[sys.argv[2]])
EOF
}

# run_case SIGNAL FLAG: FLAG is "removed" or "kept" across the restart.
run_case() {
        local sig=$1 flag=$2 what since runs
        what="$BACKEND, stopped by SIG$sig, flag $flag"
        new_node
        touch "$T/flag"
        start_medicd
        if ! wait_for 15 '[ "$(saved_cond state)" = problem ]'; then
                fail "$what: state.json records the problem before the restart" "$(head -c 600 "$T/state/state.json" 2>/dev/null)"
                stop_medicd
                return
        fi
        pass "$what: state.json records the problem before the restart"
        is "$(ctl_json explain reboot-for-updates | jget 'd["decision"]')" debounce "$what: held back by holds = 1h at first"
        since=$(saved_cond since)
        if [ "$sig" = KILL ]; then kill_medicd; else stop_medicd TERM; fi
        rm -f "$T/medicd.sock"
        ok "$what: no reboot before the restart" not reboot_started
        [ "$flag" = removed ] && rm -f "$T/flag"
        write_rule 1s
        # The problem is older than the new holds when medicd comes back.
        wait_for 10 "[ \$(( \$(date +%s%N) / 1000 - $since )) -ge 2000000 ]"
        runs=$(count_lines "$T/check-done")
        start_medicd
        if [ "$flag" = removed ]; then
                ok "$what: the check's fresh run reports ok" wait_cond wants-reboot ok 15
                # A few rule ticks after the fresh run: still nothing may happen.
                wait_for 3 reboot_started
                ok "$what: no reboot was started (no pre-reboot task, no sysrq key, no intent)" not reboot_started
                is "$(permission_holder)" "" "$what: no permission was taken"
                is "$(ctl_json status | jget 'd["reboot"]["phase"]')" idle "$what: medicctl status: reboot idle"
                is "$(ctl_json explain reboot-for-updates | jget 'd["decision"]')" idle "$what: medicctl explain: idle"
        else
                ok "$what: the reboot happens (pre-reboot task ran)" wait_for 15 'test -s "$T/pre-ran"'
                ok "$what: the check had run fresh after the restart" wait_for 5 "[ \$(count_lines '$T/check-done') -gt $runs ]"
                local first_fresh pre
                first_fresh=$(sed -n "$((runs + 1))p" "$T/check-done")
                pre=$(head -n 1 "$T/pre-ran" 2>/dev/null)
                if [ -n "$first_fresh" ] && [ -n "$pre" ] && [ "$pre" -ge "$first_fresh" ]; then
                        pass "$what: the reboot started only after the check's first fresh run"
                else
                        fail "$what: the reboot started only after the check's first fresh run" \
                                "pre-reboot task at ${pre:-?} ns, first fresh check result at ${first_fresh:-none} ns"
                fi
                ok "$what: a sysrq key was written" wait_for 5 'test -s "$T/sysrq-trigger"'
                is "$(permission_holder)" "$([ "$BACKEND" = etcd ] && echo "$MEDIC_NODE" || echo reboot-for-updates)" \
                        "$what: the permission is held for the reboot"
        fi
        stop_medicd
}

BACKEND=local
run_case KILL removed
run_case TERM removed
run_case KILL kept
if [ $have_etcd = yes ]; then
        BACKEND=etcd
        run_case KILL removed
        run_case TERM removed
        run_case TERM kept
else
        skip "etcd backend cases" "etcd is not installed (Debian package etcd-server)"
fi
done_testing
