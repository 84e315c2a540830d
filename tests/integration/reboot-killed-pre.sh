#!/bin/bash
# SPDX-License-Identifier: MIT
# medicd killed (SIGKILL, a crash, a power cut) while the pre-reboot tasks run, before the
# reboot intent is recorded. Afterwards the node must not keep the coordinator's slot for a
# reboot that is no longer going on: once the trigger clears, the local slot is free again.
# Devices are test files (tests/integration/lib.sh); nothing can reboot this machine.
. "$top_srcdir/tests/integration/lib.sh"
setup 60

echo 11111111-1111-1111-1111-111111111111 > "$T/boot_id"
echo 1 > "$T/sysrq-enable"
: > "$T/sysrq-trigger"
: > "$T/watchdog"
mkdir -p "$T/pre-reboot.d" "$T/post-reboot.d"
sed -i "/^\[reboot\]/a methods = sysrq\nsysrq_deadline = 30s\nsettle = 1s" "$T/medic.conf"
write_file "$T/checks/10-node.lua" <<EOF
check "wants-reboot" { every = "1s", run = function()
  if medic.exists("$T/trigger") then return problem("updates installed") end
  return ok("nothing to do")
end }
EOF
write_file "$T/rules/10-reboot.lua" <<'EOF'
rule "reboot-for-updates" { when = "wants-reboot", remedy = reboot {}, limit = "5/1h", retry = "1h" }
EOF
cat > "$T/pre-reboot.d/10-drain" <<EOF
#!/bin/sh
echo \$\$ > $T/draining
exec sleep 60
EOF
chmod 0755 "$T/pre-reboot.d/10-drain"
holder() { jget 'd["holder"]' < "$T/state/coordinator.json"; }

start_medicd
touch "$T/trigger"
ok "the reboot starts: the pre-reboot task runs" wait_for 10 "test -s $T/draining"
is "$(holder)" reboot-for-updates "the local slot is taken for the rule"
kill_medicd
kill -KILL "$(cat "$T/draining")" 2>/dev/null    # the task has its own process group
rm -f "$T/trigger"
mark=$(log_mark)
start_medicd
ok "the trigger is gone after the restart" wait_for 10 "[ \"\$(ctl_json conditions | jget 'find(d[\"conditions\"], \"wants-reboot\")[\"state\"]')\" = ok ]"
sleep 2
is "$(holder)" null "no reboot is going on: the local slot is free again"
is "$(ctl_json status | jget 'd["reboot"]["phase"]')" idle "medicctl status: idle"
is "$(wc -c < "$T/sysrq-trigger")" 0 "nothing was written to the sysrq trigger"
done_testing
