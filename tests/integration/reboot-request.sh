#!/bin/bash
# SPDX-License-Identifier: MIT
# Reboot requests from an operator: `medicctl request reboot` on the node, and a key in the
# coordinator (`medicctl coordinator request-reboot NODE` from anywhere), both reach the
# shipped reboot-request check.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 90
need_etcd
start_etcd

reboot_request_check "$T/reboot-request" "$T/coordinator-reboot-request"
medicd_on_etcd
start_medicd
ok "no request at first" wait_cond reboot-request ok 5

out=$(ctl request reboot "kernel 6.1.0-99 installed"); rc=$?
is "$rc" 0 "medicctl request reboot succeeds"
like "$out" "reboot requested: $T/reboot-request" "it says where the request went"
ok "the condition follows at once (event, not the 1 m interval)" wait_cond reboot-request problem 3
like "$(cond_get reboot-request message)" 'kernel 6.1.0-99 installed' "the reason is in the message"
ctl request clear >/dev/null
ok "request clear withdraws it" wait_cond reboot-request ok 3

if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
        out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$MEDICCTL" --socket "$T/medicd.sock" request reboot 2>&1); rc=$?
        ok "a request by a non-root user is refused (exit $rc)" test "$rc" -ne 0
else
        skip "a request by a non-root user is refused" "no user nobody or no setpriv"
fi

# Through the coordinator: the key is mirrored into a flag file the check reads.
out=$(ctl coordinator request-reboot "$MEDIC_NODE" "firmware update"); rc=$?
is "$rc" 0 "medicctl coordinator request-reboot succeeds"
is "$(etcdget --print-value-only "/medic/groups/$MEDIC_GROUP/reboot_required/$MEDIC_NODE")" "firmware update" "the request is a key in etcd"
ok "the node mirrors it" wait_for 5 "grep -qx 'firmware update' $T/coordinator-reboot-request"
ctl run-check reboot-request >/dev/null
is "$(cond_get reboot-request state)" problem "the check reports the coordinator's request"
like "$(cond_get reboot-request message)" 'firmware update' "with its reason"
stop_medicd
start_medicd
ok "after a restart the request is read again" wait_for 5 "grep -qx 'firmware update' $T/coordinator-reboot-request"
ctl coordinator cancel-reboot "$MEDIC_NODE" >/dev/null
ok "cancel-reboot removes it" wait_for 5 "[ ! -e $T/coordinator-reboot-request ]"
ctl run-check reboot-request >/dev/null
is "$(cond_get reboot-request state)" ok "the condition is ok again"
done_testing
