#!/bin/bash
# SPDX-License-Identifier: MIT
# A misbehaving coordinator. tests/helpers/bad-coordinator.py sits between a real medicd node
# and a real etcd (then a FleetLock test server) and, one fault after another, answers slowly,
# stalls, truncates JSON, sends wrong types and base64 garbage, 200 with binary garbage, huge
# and endless bodies, wrong Content-Length, HTTP 500/503, resets connections, and processes
# requests late. The node's reboot rule wants a reboot all along. During every fault:
#   - medicd stays alive and answers `medicctl status` within 2 s;
#   - what it logs is short single lines without control bytes, and names the problem;
#   - the rule is not granted and the node does not reboot (the sysrq test file stays empty)
#     unless etcd or the FleetLock server really granted it;
#   - no request is held longer than request_timeout (the proxy measures how long medicd
#     waited before it gave up), and huge bodies leave medicd's peak memory bounded.
# After the faults the node is granted normally, and at the end no holder is left behind.
# Devices are test files (tests/integration/lib.sh); nothing can reboot this machine.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 420
need_etcd
command -v etcdctl >/dev/null || { echo "1..0 # SKIP etcdctl is not installed (Debian package etcd-client)"; exit 0; }
command -v curl >/dev/null || { echo "1..0 # SKIP curl is not installed"; exit 0; }
REQUEST_TIMEOUT=2s
LEASE_TTL=5s
. "$top_srcdir/tests/integration/nodes-lib.sh"
BAD="$top_srcdir/tests/helpers/bad-coordinator.py"
TIMEOUT_S=2          # request_timeout, in seconds
SLACK_S=0.7          # what a request may be held beyond it (the proxy's polling, the loop)
FAULT_S=3            # how long each fault lasts

# start_bad NAME UPSTREAM(host:port): the proxy, faults in $T/NAME.faults; sets BAD_URL.
start_bad() {
        rm -f "$T/$1.port"
        python3 "$BAD" --upstream "$2" --port-file "$T/$1.port" --faults "$T/$1.faults" --log "$T/$1.log" \
                2> "$T/$1.err" &
        track_pid $!
        wait_for 10 "[ -s '$T/$1.port' ]" || bail_out "bad-coordinator.py did not start: $(cat "$T/$1.err")"
        BAD_URL="http://127.0.0.1:$(cat "$T/$1.port")"
}
# set_faults NAME JSON-LIST: the proxy's faults from now on (replaced at once, atomically).
set_faults() { printf '{"faults": %s}\n' "$2" > "$T/$1.faults.tmp" && mv "$T/$1.faults.tmp" "$T/$1.faults"; }

# status_fast NAME: medicctl status of the node answers within 2 s; prints the milliseconds.
status_fast() {
        local t0 rc
        t0=$(now_ms)
        on "$1" eval 'timeout 2 "$MEDICCTL" --socket "$T/medicd.sock" --json status >/dev/null'
        rc=$?
        echo $(( $(now_ms) - t0 ))
        return $rc
}

# log_clean NAME MARK: what the node logged since MARK is lines of at most 600 characters
# without control bytes (prints the offending lines).
log_clean() {
        on "$1" log_since "$2" | LC_ALL=C awk 'length($0) > 600 || /[\001-\010\013-\037\177]/ { bad++; print "# bad line (" length($0) " chars): " substr($0, 1, 160) } END { exit bad > 0 }'
}

# held_max NAME SINCE-LINE PATHS-ERE: the longest time (s) the proxy held one of medicd's
# requests to those paths (non-stream requests), from its log line SINCE-LINE on.
held_max() {
        tail -n +"$2" "$T/$1.log" | python3 -c '
import json, re, sys
m = 0.0
for l in sys.stdin:
    d = json.loads(l)
    if re.search(sys.argv[1], d["path"]) and d["fault"] != "pass":
        m = max(m, d["held"])
print(m)' "$3"
}
proxy_lines() { wc -l < "$T/$1.log" 2>/dev/null || echo 0; }
# faulted NAME SINCE-LINE FAULT: how many requests the proxy answered with FAULT since SINCE-LINE.
faulted() { tail -n +"$2" "$T/$1.log" | grep -c "\"fault\": \"$3\""; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# one_fault PROXY NODE LABEL PATHS-ERE FAULTS-JSON: sets the faults for FAULT_S seconds while the
# node's rule wants a reboot, then AFTER (the faults between two: a plain refusal of the grant,
# so that nothing is granted in between); then the checks above. "PATHS-ERE" selects the
# proxy's requests whose holding time is measured.
one_fault() {
        local px=$1 n=$2 label=$3 re=$4 json=$5 mark line ms worst=0 held slow=0
        mark=$(on "$n" log_mark)
        line=$(( $(proxy_lines "$px") + 1 ))
        # The faults first, then AFTER's: what they do not catch is refused as between faults.
        [ "${AFTER:-[]}" != "[]" ] && json="${json%]}, ${AFTER#[}"
        set_faults "$px" "$json"
        local end=$(( $(now_ms) + ${FAULT_FOR:-$FAULT_S} * 1000 )) kind
        kind=$(printf '%s' "$json" | jget 'd[0]["fault"]')
        while [ "$(now_ms)" -lt "$end" ]; do
                ms=$(status_fast "$n") || slow=1
                [ "$ms" -gt "$worst" ] && worst=$ms
                sleep 0.4
        done
        set_faults "$px" "${AFTER:-[]}"
        # The proxy logs a request when it ends: one that met a stall or an endless body near
        # the end of the window is still held (medicd cuts it within request_timeout). Wait
        # for it before counting, at most request_timeout and 3 s.
        local last=$(( $(now_ms) + (TIMEOUT_S + 3) * 1000 ))
        while [ "$(faulted "$px" "$line" "$kind")" -eq 0 ] && [ "$(now_ms)" -lt "$last" ]; do
                sleep 0.2
        done
        LAST_END=$(proxy_lines "$px")
        LAST_COUNT=$(faulted "$px" "$line" "$kind")
        ok "$label: the proxy injected it ($LAST_COUNT request(s))" test "$LAST_COUNT" -ge 1
        ok "$label: medicd is alive" on "$n" daemon_alive
        ok "$label: medicctl status answered within 2 s every time (slowest ${worst} ms)" test $slow = 0
        ok "$label: the log is short clean lines" log_clean "$n" "$mark"
        held=$(held_max "$px" "$line" "$re")
        ok "$label: no request held beyond ${HELD_WHAT:-request_timeout} (longest ${held} s)" \
                python3 -c "import sys; sys.exit(not $held <= ${HELD_MAX:-$TIMEOUT_S} + $SLACK_S)"
        ok "$label: no reboot" test ! -s "$(node_dir "$n")/sysrq-trigger"
        LAST_MARK=$mark
        LAST_LINE=$line
        # The real coordinator behind the proxy must still be there (or nothing above means much).
        if [ "$px" = etcd ]; then
                curl -sf "$ETCD_URL/health" >/dev/null || bail_out "etcd died during '$label': $(tail -3 "$T/etcd1.log")"
        fi
}
b64() { printf '%s' "$1" | base64 -w0; }

# ==== etcd ==================================================================================
start_etcd
start_bad etcd "${ETCD_URL#http://}"
ETCD_PROXY=$BAD_URL
node_add A "" "$ETCD_PROXY"
node_reboot_rule A
node_start A
ok "node A registers through the proxy" wait_for 15 "node_registered A"
A_PID=${NODE_PID[A]}
HOLDER_KEY=$(b64 "/medic/groups/$MEDIC_GROUP/holders/A")
GRANT='"match": ["request_put", "'$HOLDER_KEY'"]'
# Between the faults etcd's gateway refuses the grant transaction as etcd does without a leader.
TXN='"path": "/v3/kv/txn"'
REFUSE="{$TXN, $GRANT, \"fault\": \"status\", \"code\": 503, \"body\": \"{\\\"error\\\": \\\"etcdserver: no leader\\\", \\\"code\\\": 14}\"}"
AFTER="[$REFUSE]"
set_faults etcd "$AFTER"
base_hwm=$(hwm_kb "$A_PID")
touch "$(node_dir A)/trigger"
ok "the rule asks for permission and is refused (503)" wait_for 10 \
        "on A log_has 'answered unknown for rule reboot-for-updates'"
on A log_since 0 | grep 'answered unknown for rule reboot-for-updates' | tail -n 1 | sed 's/^/# /'

# -- every kv/txn (the group's view, the grant, the registration) misbehaves, nothing forwarded --
for f in stall close reset truncate badlength types garbage huge status:500 status:503; do
        kind=${f%%:*}; extra=""
        [ "$kind" = status ] && extra=", \"code\": ${f#*:}"
        one_fault etcd A "etcd txn $f" 'kv/txn' "[{$TXN, \"fault\": \"$kind\"$extra}]"
done
ok "etcd txn: medicd said why it could not decide" on A log_has \
        'answered unknown for rule reboot-for-updates'
# Faults of the reads only: the watches are reset too, so that every decision reads (without
# its watches medicd keeps no copy of the group).
NOWATCH='{"path": "/v3/watch", "fault": "reset"}'
one_fault etcd A "etcd txn delay 4s" 'kv/txn' "[{$TXN, \"fault\": \"delay\", \"seconds\": 4, \"exclude\": \"request_put\"}, $NOWATCH]"
one_fault etcd A "etcd txn endless body" 'kv/txn' "[{$TXN, \"fault\": \"endless\"}]"
# Forwarded reads whose keys and values are not base64: a holder the view cannot read may be
# there, so the view is not used (a grant sent on it would pass its compares). Every answer
# but the grant's is garbled: joining the queue reads the group in the same transaction.
one_fault etcd A "etcd txn base64 garbage (reads)" 'kv/txn' "[{$TXN, \"fault\": \"b64\", \"exclude\": \"$HOLDER_KEY\"}, $NOWATCH]"
is "$(sed -n "${LAST_LINE},${LAST_END}p" "$T/etcd.log" | grep -c '"fault": "status"')" 0 \
        "etcd txn base64 garbage: medicd does not decide on a view it cannot read (no grant sent)"
one_fault etcd A "etcd txn mangled types (reads)" 'kv/txn' "[{$TXN, \"fault\": \"mangle\", \"exclude\": \"request_put\"}, $NOWATCH]"
hwm=$(hwm_kb "$A_PID")
diag "medicd's peak RSS: $(( base_hwm / 1024 )) MiB before the huge bodies, $(( hwm / 1024 )) MiB after; now $(( $(rss_kb "$A_PID") / 1024 )) MiB"
ok "huge and endless bodies: peak memory grew by less than 48 MiB ($(( (hwm - base_hwm) / 1024 )) MiB)" \
        test $(( hwm - base_hwm )) -lt $(( 48 * 1024 ))
is "$(etcd_holders)" "" "etcd holds no slot for A: none was granted"

# -- the grant transaction itself misbehaves (the reads pass): not forwarded, so etcd never
#    granted: an answer that looks like success must not become a reboot --
for f in stall close reset truncate badlength types garbage status:500; do
        kind=${f%%:*}; extra=""
        [ "$kind" = status ] && extra=", \"code\": ${f#*:}"
        one_fault etcd A "etcd grant $f" 'kv/txn' "[{$TXN, $GRANT, \"fault\": \"$kind\"$extra}]"
        is "$(etcd_holders)" "" "etcd grant $f: etcd holds no slot"
        # A refused grant is decided again on a fresh read, but not in a loop without end.
        [ "$kind" = types ] && ok "etcd grant types: medicd did not ask in a loop ($LAST_COUNT grants in ${FAULT_S} s)" \
                test "$LAST_COUNT" -le 200
done

# -- the streams and the lease: watch and keepalive misbehave (the rule is held by its blocker) --
touch "$(node_dir A)/blocked"
for f in reset garbage endless types stall; do
        one_fault etcd A "etcd watch+keepalive $f" 'lease' \
                "[{\"path\": \"/v3/watch\", \"fault\": \"$f\"}, {\"path\": \"/v3/lease/keepalive\", \"fault\": \"$f\"}]"
done
rm -f "$(node_dir A)/blocked"

# -- the faults are gone: the node is granted normally --
AFTER='[]'
set_faults etcd '[]'
ok "after the faults the node is granted and reboots" wait_for 30 "node_rebooted A"
ok "... with its grant confirmed by etcd" node_holds A
node_boot A
ok "after its boot the node gives its slot back" wait_for 30 "! node_holds A"

# -- processed late: the grant reaches etcd 5 s after medicd sent it, 3 s after it gave up; the
#    rule stops wanting meanwhile: the slot etcd granted late is given back. (Should the rule
#    have asked again before it noticed, it finds the real grant and reboots: allowed, as etcd
#    really granted it.) --
line=$(( $(proxy_lines etcd) + 1 ))
set_faults etcd "[{$TXN, $GRANT, \"fault\": \"late\", \"seconds\": 5, \"count\": 1}, $REFUSE]"
mark=$(on A log_mark)
touch "$(node_dir A)/trigger"
ok "late: medicd gives up on the grant after request_timeout" wait_for 15 \
        "on A log_has_since $mark 'grant outcome unknown \\(timed out'"
touch "$(node_dir A)/blocked"
rm -f "$(node_dir A)/trigger"
ok "late: the proxy forwarded the grant after medicd had gone" wait_for 10 \
        "tail -n +$line '$T/etcd.log' | grep '\"fault\": \"late\"' | grep -q '\"client_gone\": true'"
if node_rebooted A; then
        ok "late: the node rebooted on etcd's real grant" node_holds A
        node_boot A
fi
ok "late: the slot etcd granted late is given back" wait_for 20 "! node_holds A"
ok "late: medicd is alive" on A daemon_alive
set_faults etcd '[]'
node_stop A
is "$(etcd_holders)" "" "etcd: no holder left at the end"

# ==== FleetLock ==============================================================================
. "$top_srcdir/tests/integration/fleetlock-lib.sh"
FL_SERVER_ARGS=(--group "fl=1")
fl_start
start_bad flproxy "127.0.0.1:$FL_PORT"
node_add F fl "$ETCD_URL"
d=$(node_dir F)
sed -i "s|^backend = etcd|backend = fleetlock\nurl = $BAD_URL|; /^endpoints = /d; /^lease_ttl = /d" "$d/medic.conf"
node_reboot_rule F
PRE='"path": "/v1/pre-reboot"'
STEADY='"path": "/v1/steady-state"'
# Between the faults the server refuses as airlock does when its slots are taken.
FL_REFUSE="{$PRE, \"fault\": \"status\", \"code\": 500, \"body\": \"{\\\"kind\\\": \\\"failed_lock\\\", \\\"value\\\": \\\"all 1 semaphore slots currently locked\\\"}\"}"
AFTER="[$FL_REFUSE]"
set_faults flproxy "$AFTER"
touch "$d/trigger"
node_start F
ok "FleetLock: the node asks and is refused" wait_for 10 "on F log_has 'answered denied for rule reboot-for-updates'"
# In FleetLock an HTTP 200 is a grant whatever its body: the bodies that are wrong (cut JSON,
# wrong types, binary garbage, huge) come with HTTP 500, as a broken server's error would.
fl_body() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
declare -A FL_FAULT=(
        [stall]='"fault": "stall"'
        [close]='"fault": "close"'
        [reset]='"fault": "reset"'
        [badlength]='"fault": "badlength"'
        [truncate]='"fault": "status", "code": 500, "body": '"$(fl_body '{"kind": "failed_lo')"
        [types]='"fault": "status", "code": 500, "body": '"$(fl_body '{"kind": 17, "value": ["x"], "id": {}}')"
        [garbage]='"fault": "status", "code": 500, "body": '"$(python3 -c 'import json; print(json.dumps("".join(map(chr, range(1, 256))) * 64))')"
        [huge]='"fault": "status", "code": 500, "body": '"$(python3 -c 'import json; print(json.dumps("{\"kind\": \"" + "x" * (3 << 20)))')"
        [status503]='"fault": "status", "code": 503'
        [delay]='"fault": "delay", "seconds": 4'
)
# A pre-reboot without an answer is answered "unknown" to its rule after request_timeout but
# awaited longer (its outcome decides whether a slot is owed back): 5 min at least.
HELD_MAX=300 HELD_WHAT="the pre-reboot's linger (5 min)"
for f in stall close reset badlength truncate types garbage huge status503; do
        HELD_MAX=$HELD_MAX HELD_WHAT=$HELD_WHAT one_fault flproxy F "FleetLock pre-reboot $f" 'pre-reboot' "[{$PRE, ${FL_FAULT[$f]}}]"
        is "$(fl_holders fl)" "[]" "FleetLock pre-reboot $f: the server holds no slot"
done
ok "FleetLock stall: the rule heard 'unknown' after request_timeout" on F log_has \
        'answered unknown for rule reboot-for-updates: no answer from the FleetLock server .* within 2s'
# A slow answer: the server takes the slot at once, medicd hears it 6 s later, when the rule
# no longer wants it: the slot is given back.
mark=$(on F log_mark)
set_faults flproxy "[{$PRE, \"fault\": \"delay\", \"seconds\": 6, \"count\": 1}, $FL_REFUSE]"
ok "FleetLock delay: the rule hears 'unknown' after request_timeout" wait_for 15 \
        "on F log_has_since $mark 'answered unknown for rule reboot-for-updates: no answer'"
touch "$d/blocked"
ok "FleetLock delay: the server took the slot" test "$(fl_holders fl)" = '["F"]'
ok "FleetLock delay: the slot the slow answer took is given back" wait_for 20 "[ \"\$(fl_holders fl)\" = '[]' ]"
ok "FleetLock delay: no reboot" test ! -s "$d/sysrq-trigger"
ok "FleetLock: the log says why" on F log_has 'answered unknown for rule reboot-for-updates: .*FleetLock'

# -- steady-state misbehaves while the node owes one: a pre-reboot cut after the server took the
#    slot (its answer short of its Content-Length: no grant), the rule gives up; medicd keeps
#    trying (with its back-off) until a steady-state is confirmed --
set_faults flproxy "[{$PRE, \"fault\": \"badlength\", \"forward\": true}]"
rm -f "$d/blocked"
ok "FleetLock: a cut pre-reboot took the slot" wait_for 15 "[ \"\$(fl_holders fl)\" = '[\"F\"]' ]"
touch "$d/blocked"
AFTER="[{$STEADY, \"fault\": \"status\", \"code\": 503}, $FL_REFUSE]"
for f in reset garbage stall; do
        FAULT_FOR=6 one_fault flproxy F "FleetLock steady-state $f" 'steady-state' "[{$STEADY, ${FL_FAULT[$f]}}]"
done
AFTER="[$FL_REFUSE]"
set_faults flproxy "$AFTER"
ok "FleetLock: the node gives back what the cut pre-reboot took" wait_for 40 "[ \"\$(fl_holders fl)\" = '[]' ]"

# -- processed late: the pre-reboot reaches the server after medicd gave up on it (and after
#    the rule stopped wanting): the slot taken late is given back --
line=$(( $(proxy_lines flproxy) + 1 ))
mark=$(on F log_mark)
set_faults flproxy "[{$PRE, \"fault\": \"late\", \"seconds\": 5, \"count\": 1}, $FL_REFUSE]"
rm -f "$d/blocked"
ok "FleetLock late: the rule hears 'unknown' after request_timeout" wait_for 15 \
        "on F log_has_since $mark 'answered unknown for rule reboot-for-updates: no answer'"
touch "$d/blocked"
ok "FleetLock late: the proxy forwarded it late" wait_for 10 \
        "tail -n +$line '$T/flproxy.log' | grep -q '\"fault\": \"late\"'"
ok "FleetLock late: the slot taken late is given back" wait_for 20 "[ \"\$(fl_holders fl)\" = '[]' ]"
ok "FleetLock: no reboot during the faults" test ! -s "$d/sysrq-trigger"

# -- the faults are gone: granted normally --
set_faults flproxy '[]'
rm -f "$d/blocked"
ok "FleetLock: after the faults the node is granted and reboots" wait_for 30 "node_rebooted F"
is "$(fl_holders fl)" '["F"]' "FleetLock: ... with the server holding its slot"
node_boot F
ok "FleetLock: after its boot the node gives its slot back" wait_for 30 "[ \"\$(fl_holders fl)\" = '[]' ]"
node_stop F
done_testing
