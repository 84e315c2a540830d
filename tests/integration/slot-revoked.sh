#!/bin/bash
# SPDX-License-Identifier: MIT
# The coordinator takes the slot back while the node runs its pre-reboot tasks (issue 10, I1:
# no disruptive step without a permission current at that moment). On a real etcd, node ra is
# in its pre-reboot task (it sleeps until a file appears) when `medicctl coordinator release
# ra` on node rb deletes its holder key; the task finishes: ra does not reboot (the sysrq test
# file stays empty), its abort tasks run, explain, the log and the history say why, and it
# does not think it holds (the freed slot went to another member meanwhile). Asked again, it
# is granted again normally and reboots. The same with the local backend, whose
# coordinator.json holder an operator clears; and a maintenance (local) whose drain is cut
# short: the drain task after the taking back does not start, the undrain tasks run.
# Devices are test files (tests/integration/lib.sh); nothing can reboot this machine.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 120
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
start_etcd

G=gr
# slow_tasks NAME: a pre-reboot task that runs until $N/release appears (and takes it, so that
# every run waits for its own), and an abort task that records that it ran.
slow_tasks() {
        local n
        n=$(node_dir "$1")
        write_file "$n/pre-reboot.d/10-drain" <<EOF
#!/bin/sh
echo start >> $n/pre
i=0
while [ ! -e $n/release ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
rm -f $n/release
echo end >> $n/pre
EOF
        write_file "$n/abort.d/10-undrain" <<EOF
#!/bin/sh
echo "undrain \$MEDIC_RULE" >> $n/aborted
EOF
        chmod 0755 "$n/pre-reboot.d/10-drain" "$n/abort.d/10-undrain"
}
# pre_started NAME N: its pre-reboot task started the Nth time.
pre_started() { wait_for 20 "grep -c start $(node_dir "$1")/pre 2>/dev/null | grep -qx $2"; }
step_detail() { on "$1" ctl_json explain reboot-for-updates | jget "[s['detail'] for s in d['steps'] if s['step'] == '$2'][0]"; }
abandoned_reason() { on "$1" history_reasons reboot-for-updates abandoned | tail -n 1; }
owner_holder() { on "$1" ctl_json status | jget 'd["coordinator"].get("holder")'; }

node_add ra $G
node_add rb $G
node_reboot_rule ra
node_reboot_rule rb
slow_tasks ra
node_start ra
node_start rb
ok "ra and rb are registered" wait_for 10 "node_registered ra && node_registered rb"

# ---- etcd: the holder key deleted by an operator on another node --------------------------------
touch "$(node_dir ra)/trigger"
ok "etcd: ra runs its pre-reboot task" pre_started ra 1
ok "etcd: ra holds the group's slot in etcd" wait_for 5 "node_holds ra"
is "$(owner_holder ra)" reboot-for-updates "etcd: medicctl status on ra: holder reboot-for-updates"
mark=$(on ra log_mark)
on rb ctl coordinator release ra >/dev/null
ok "etcd: medicctl coordinator release ra (on rb) deletes its holder key" wait_for 5 "! node_holds ra"
# The freed slot goes to another member (a coord-client), so that ra cannot be granted again
# before what it thinks is looked at.
ok "etcd: the freed slot is granted to X" client_hold X $G
ok "etcd: ra notices from its watch: logged once, with the reason" \
        wait_for 5 "on ra log_has_since $mark 'no longer shows this node as holder'"
like "$(step_detail ra coordinator)" "took the permission back" "etcd: medicctl explain on ra says the permission was taken back"
like "$(on ra ctl_json status | jget 'd["coordinator"]["revoked"]')" "no longer shows this node as holder" \
        "etcd: medicctl status on ra: coordinator.revoked says why"
like "$(on ra ctl status)" "coordinator took back: .*no longer shows" "etcd: ... also in its text"
touch "$(node_dir ra)/release"
ok "etcd: the pre-reboot task ends" wait_for 10 "grep -q end $(node_dir ra)/pre"
ok "etcd: the abort tasks run" wait_for 10 "grep -qx 'undrain reboot-for-updates' $(node_dir ra)/aborted"
ok "etcd: ra does not reboot (the sysrq test file stays empty)" never_within 3 "node_rebooted ra"
like "$(abandoned_reason ra)" "no longer shows this node as holder" "etcd: the history says why"
is "$(on ra log_since "$mark" | grep -c 'was taken back')" 1 "etcd: the taking back is logged once"
is "$(owner_holder ra)" null "etcd: ra does not think it holds"
# The trigger still holds: ra asks again (retry 1s) and waits while X holds; X gives the slot
# back: ra is granted again and runs its task again.
ok "etcd: ra asks again and waits" wait_for 10 "node_queued ra"
client_send X "release reboot"
ok "etcd: X gives the slot back" client_sees X '^released' 10
ok "etcd: ra is granted again" wait_for 15 "node_holds ra"
ok "etcd: ... and runs its pre-reboot task again" pre_started ra 2
touch "$(node_dir ra)/release"
ok "etcd: ... and reboots" wait_for 15 "node_rebooted ra"
node_stop ra
node_stop rb

# ---- local: the holder cleared in coordinator.json ----------------------------------------------
node_add rl $G
sed -i 's/^backend = etcd$/backend = local/' "$(node_dir rl)/medic.conf"
node_reboot_rule rl
slow_tasks rl
node_start rl
touch "$(node_dir rl)/trigger"
ok "local: rl runs its pre-reboot task" pre_started rl 1
is "$(on rl local_holder)" reboot-for-updates "local: coordinator.json names the rule"
mark=$(on rl log_mark)
printf '{ "holder": null, "since": 0 }\n' > "$(node_dir rl)/state/coordinator.json"
touch "$(node_dir rl)/release"
ok "local: the abort tasks run" wait_for 10 "grep -qx 'undrain reboot-for-updates' $(node_dir rl)/aborted"
ok "local: rl does not reboot" never_within 3 "node_rebooted rl"
like "$(abandoned_reason rl)" "no longer shows this node as holder" "local: the history says why"
ok "local: logged with the reason" on rl log_has_since "$mark" 'no longer shows this node as holder'
ok "local: asked again, rl is granted again" wait_for 15 '[ "$(on rl local_holder)" = reboot-for-updates ]'
ok "local: ... runs its pre-reboot task again" pre_started rl 2
touch "$(node_dir rl)/release"
ok "local: ... and reboots" wait_for 15 "node_rebooted rl"
node_stop rl

# ---- local, a maintenance: the drain stops, the undrain tasks run ---------------------------------
node_add rm $G
sed -i 's/^backend = etcd$/backend = local/' "$(node_dir rm)/medic.conf"
N=$(node_dir rm)
mkdir -p "$N/drain.d" "$N/undrain.d"
write_file "$N/drain.d/10-cordon" <<EOF
#!/bin/sh
echo start >> $N/pre
i=0
while [ ! -e $N/release ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
echo cordon >> $N/tasks
EOF
write_file "$N/drain.d/20-evict" <<EOF
#!/bin/sh
echo evict >> $N/tasks
EOF
write_file "$N/undrain.d/90-uncordon" <<EOF
#!/bin/sh
echo uncordon >> $N/tasks
EOF
chmod 0755 "$N/drain.d/10-cordon" "$N/drain.d/20-evict" "$N/undrain.d/90-uncordon"
write_file "$N/checks/10-hw.lua" <<EOF
check "ipmi-critical" { every = "1s", run = function()
  if medic.exists("$N/broken") then return problem("PSU 2 Critical") end
  return ok("all sensors nominal")
end }
EOF
write_file "$N/rules/10-maint.lua" <<EOF
rule "hardware-failure" {
  when = "ipmi-critical",
  remedy = maintenance { drain = "$N/drain.d", undrain = "$N/undrain.d" },
  limit = "5/1h",
}
EOF
node_start rm
touch "$N/broken"
ok "maintenance: the first drain task runs" pre_started rm 1
is "$(on rm local_holder)" hardware-failure "maintenance: coordinator.json names the rule"
printf '{ "holder": null, "since": 0 }\n' > "$N/state/coordinator.json"
touch "$N/release"
ok "maintenance: the undrain tasks run" wait_for 10 "grep -qx uncordon $N/tasks"
is "$(grep -c evict "$N/tasks")" 0 "maintenance: the drain task after the taking back does not start"
like "$(on rm history_reasons hardware-failure abandoned | tail -n 1)" "no longer shows this node as holder" \
        "maintenance: the history says why"
node_stop rm
done_testing
