#!/bin/bash
# SPDX-License-Identifier: MIT
# One request, one reboot: `medicctl coordinator request-reboot NODE` (a key in etcd) reboots
# the node once, even when medicd is killed after it mirrored the request and before the
# reboot. After the reboot the key is gone and the node does not reboot again; until then
# `medicctl coordinator status` shows the request. A new request in the new boot counts again.
# The reboot is simulated (devices are test files, lib.sh): sysrq "sub" written, then medicd
# killed, a new boot id, medicd started again.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 90
need_etcd
start_etcd

reboot_test_files 1
sed -i "/^\[reboot\]/a methods = sysrq\nsysrq_deadline = 30s\nsettle = 1s" "$T/medic.conf"
medicd_on_etcd
FLAG=$T/coordinator-reboot-request
KEY=/medic/groups/$MEDIC_GROUP/reboot_required/$MEDIC_NODE
reboot_request_check 1s "$FLAG"
echo 'rule "operator-reboot" { when = "reboot-request", remedy = reboot {}, limit = "5/1h", retry = "1s" }' |
        write_file "$T/rules/10-operator.lua"
reboots() { grep -c 'Rule operator-reboot reboots the node' "$T/medicd.log"; }
no_second_reboot() { ! wait_for "$1" '[ "$(reboots)" -gt 1 ]'; }
member() { ctl_json coordinator status | jget "find(d['members'], '$MEDIC_NODE', 'node').get('$1')"; }

# The stop file holds the reboot back, so that medicd can be killed before it.
touch "$T/stop"
start_medicd
ok "medicd registered in etcd" wait_for 10 "etcdget --keys-only /medic/groups/$MEDIC_GROUP/members/$MEDIC_NODE | grep -q ."
ok "coordinator request-reboot" eval "ctl coordinator request-reboot $MEDIC_NODE \"firmware update\" >/dev/null"
ok "the node mirrors the request" wait_for 5 "grep -qx 'firmware update' $FLAG"
ok "the check reports it" wait_cond reboot-request problem 5
like "$(ctl coordinator status)" "reboot requested: $MEDIC_NODE \(firmware update\)" "coordinator status shows the pending request"
is "$(member reboot_request | jget 'd["reason"]')" "firmware update" "coordinator status --json: members[].reboot_request.reason"
is "$(jget 'd["boot_id"]' < "$T/state/reboot-request.json")" 11111111-1111-1111-1111-111111111111 \
        "the node recorded the request it acts on with its boot id"
is "$(ctl_json status | jget 'd["coordinator"]["reboot_request"]["this_boot"]')" true \
        "medicctl status --json: the request was accepted in this boot"

# SIGKILL after the mirror, before the reboot: after the restart it reboots once.
kill_medicd
is "$(wc -c < "$T/sysrq-trigger")" 0 "no reboot before the kill"
rm -f "$T/stop"
start_medicd
ok "after the restart the reboot starts" wait_for 15 "[ \"\$(cat $T/sysrq-trigger)\" = sub ]"
is "$(reboots)" 1 "one reboot"
is "$(member reboot_request | jget 'd["reason"]')" "firmware update" "the request is still shown while the reboot is going on"
is "$(etcdget --print-value-only "$KEY")" "firmware update" "the key is still in etcd before the reboot"

# The "reboot". The flag file is left where it was (as if /run were not a tmpfs), and etcd
# does not answer while the node comes up.
kill_medicd
echo 22222222-2222-2222-2222-222222222222 > "$T/boot_id"
kill -STOP "${ETCD_PIDS[0]}"
mark=$(log_mark)
start_medicd
ok "the new boot is recognised" wait_for 10 "log_has_since $mark 'came back from the reboot for rule operator-reboot'"
ok "the flag file of the old boot is dropped, without etcd" wait_for 5 "[ ! -e $FLAG ]"
kill -CONT "${ETCD_PIDS[0]}"
ok "the request is consumed: the key is gone from etcd" wait_for 20 "[ -z \"\$(etcdget --keys-only $KEY)\" ]"
ok "the flag file stays gone" test ! -e "$FLAG"
ok "the reboot is done (settled, permission given back)" wait_for 15 "log_has_since $mark 'Reboot for rule operator-reboot done'"
ok "the check is ok again" wait_cond reboot-request ok 5
ok "no second reboot" no_second_reboot 6
is "$(reboots)" 1 "still one reboot"
is "$(member reboot_request)" null "coordinator status --json: no request any more"
unlike "$(ctl coordinator status)" "reboot requested" "coordinator status: no request any more"
is "$(ctl_json status | jget 'd["coordinator"]["reboot_request"]["this_boot"]')" false \
        "medicctl status --json: the request it accepted was in the last boot"

# A restart in the same (new) boot does not bring it back either.
stop_medicd
start_medicd
ok "after another restart: still no request" wait_cond reboot-request ok 5
ok "and no reboot" no_second_reboot 4
is "$(reboots)" 1 "one reboot in all"

# A new request in the new boot counts (once); cancel-reboot withdraws it.
touch "$T/stop"
ok "a new request-reboot" eval "ctl coordinator request-reboot $MEDIC_NODE kernel >/dev/null"
ok "is mirrored" wait_for 5 "grep -qx kernel $FLAG"
ok "cancel-reboot withdraws it" eval "ctl coordinator cancel-reboot $MEDIC_NODE >/dev/null"
ok "the flag file goes" wait_for 5 "[ ! -e $FLAG ]"
done_testing
