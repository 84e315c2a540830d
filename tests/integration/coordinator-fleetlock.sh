#!/bin/bash
# SPDX-License-Identifier: MIT
# The FleetLock coordinator against a FleetLock server run by the test
# (tests/helpers/fleetlock-server.py: airlock's semantics, a semaphore per group): the protocol
# on the wire, grants and recursive re-requests, several groups, the server's error kinds turned
# into reasons, time-outs and transport errors as "unknown", a slot that an ambiguous answer may
# have taken given back, a release retried until the server confirms it, TLS with client
# certificates, and one real medicd that asks through FleetLock before its reboot, holds the
# slot across it and gives it back when it came back healthy.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 90
[ -x "$COORD_CLIENT" ] || { echo "1..0 # SKIP $COORD_CLIENT not built"; exit 0; }
command -v curl >/dev/null || { echo "1..0 # SKIP curl is not installed"; exit 0; }
. "$top_srcdir/tests/integration/fleetlock-lib.sh"
FL_SERVER_ARGS=(--group g1=1 --group g2=2 --group "$MEDIC_GROUP=1" --reject-id badnode)

# client_conf NAME GROUP [EXTRA_LINE]: a simulated node with the FleetLock backend.
client_conf() {
        client_conf_for "$1" "$2" <<CONF
[coordinator]
backend = fleetlock
url = $FL_URL/
request_timeout = ${REQUEST_TIMEOUT:-5s}
${CLIENT_EXTRA:-}
CONF
}

# client_start NAME GROUP: FleetLock has no registration: wait until the client answers.
client_start() {
        local name=$1 fd
        client_conf "$name" "$2"
        rm -f "$T/$name.in"
        mkfifo "$T/$name.in"
        "$COORD_CLIENT" "$T/$name.conf" < "$T/$name.in" > "$T/$name.out" 2> "$T/$name.err" &
        CLIENT_PID[$name]=$!
        track_pid $!
        exec {fd}> "$T/$name.in"
        CLIENT_FD[$name]=$fd
        echo 0 > "$T/$name.seen"
        status_json "$name" >/dev/null || { diag "client $name did not start: $(tail -3 "$T/$name.err")"; return 1; }
}

client_sees() { client_wait "$@" >/dev/null; }

client_quit() {
        client_send "$1" quit
        wait "${CLIENT_PID[$1]}" 2>/dev/null
        eval "exec ${CLIENT_FD[$1]}>&-"
}

# ask NAME RULE: one request; prints the answer line.
ask() { client_send "$1" "try $2"; client_wait "$1" '^(granted|denied|unknown)' 15; }
local_status() { status_json "$1" | jget "d['local']$2"; }

fl_start

# ---- grants, the wire format, recursion ----
client_start A g1 || bail_out "client A"
is "$(ask A reboot)" granted "A is granted the only slot of g1"
is "$(fl_holders g1)" '["A"]' "the server holds A's slot"
is "$(fl_last A 'd["path"]')" /v1/pre-reboot "the request went to /v1/pre-reboot"
is "$(fl_last A 'd["header"]')" true "with the header fleet-lock-protocol: true"
is "$(fl_last A 'd["body"]')" '{"client_params": {"group": "g1", "id": "A"}}' \
        "with the body {client_params: {id: node name, group}}"
is "$(ask A reboot)" granted "A asking again is granted again (recursive lock)"
is "$(fl_holders g1)" '["A"]' "and still holds one slot"
is "$(local_status A '["holder"]')" reboot "A's status names the rule holding the slot"

client_start B g1 || bail_out "client B"
like "$(ask B reboot)" '^denied all 1 slot of group g1 is held \(failed_lock: all 1 semaphore slots currently locked\)$' \
        "B is refused with the server's failed_lock explained"
n=$(fl_requests)
like "$(ask A other-rule)" '^denied .*held by rule reboot' "another rule of A is refused locally: the node holds one slot"
is "$(fl_requests)" "$n" "without asking the server"

# ---- several groups ----
client_start C g2 || bail_out "client C"
client_start D g2 || bail_out "client D"
client_start E g2 || bail_out "client E"
is "$(ask C reboot) $(ask D reboot)" "granted granted" "C and D get the two slots of g2"
like "$(ask E reboot)" '^denied all 2 slots of group g2 are held \(failed_lock' "E is refused: g2 is full"
is "$(fl_holders g1)" '["A"]' "g1 is not affected by g2"

# ---- release; a waiter gets the slot ----
n=$(grep -c '"id": "B"' "$T/fl.log")
client_send B "acquire reboot"   # coord-client asks again every 50 ms
ok "B keeps waiting while A holds" client_quiet B '^granted' 2
n=$(( $(grep -c '"id": "B"' "$T/fl.log") - n ))
ok "a refusal is reused for a second: $n requests in 2 s, not 40" test "$n" -ge 1 -a "$n" -le 4
client_send A "release reboot"
client_wait A '^released' 5 >/dev/null
ok "A's release reached the server as /v1/steady-state" wait_for 5 \
        "[ \"\$(fl_last A 'd[\"path\"]')\" = /v1/steady-state ]"
ok "B is granted after A's release" client_sees B '^granted' 5
is "$(fl_holders g1)" '["B"]' "the server holds B's slot"
is "$(local_status A '["holder"]')" null "A's status shows no holder"
is "$(jget 'd["holder"]' < "$T/state-B/fleetlock.json")" reboot "B recorded its slot in STATE_DIR/fleetlock.json"

# ---- error kinds ----
client_start F g3 || bail_out "client F"
like "$(ask F reboot)" "^denied the FleetLock server has no group 'g3' \(unknown_group: unknown group 'g3'\)" \
        "unknown_group is explained"
client_start badnode g1 || bail_out "client badnode"
like "$(ask badnode reboot)" "^denied the FleetLock server refused the identity id 'badnode', group 'g1' \(invalid_client_identity: " \
        "invalid_client_identity is explained"
client_start G g2 || bail_out "client G"
fl_fault '{"kind": "bad_request", "value": "request body is nonsense", "status": 400}'
like "$(ask G reboot)" '^denied the FleetLock server refused the request as malformed \(bad_request: request body is nonsense\)' \
        "bad_request is explained"
sleep 1.1
fl_fault '{"kind": "failed_sem_init", "value": "etcd is unreachable", "status": 500}'
like "$(ask G reboot)" '^denied the FleetLock server refused with HTTP 500 \(failed_sem_init: etcd is unreachable\)' \
        "another kind is named with its value"
sleep 1.1
fl_fault '{"raw": "<html>Bad Gateway</html>", "status": 502}'
like "$(ask G reboot)" '^unknown the FleetLock server .* answered HTTP 502 without a FleetLock error: <html>Bad Gateway' \
        "an answer that is not a FleetLock error is unknown"
out=$(client_send A 'admin {"action":"stop"}'; client_wait A '^\{' 5)
like "$out" '"ok":false.*no operator API' "operator actions are refused: FleetLock has no operator API"

# ---- a time-out may have taken a slot: giving up gives it back ----
client_send D "release reboot"
client_wait D '^released' 5 >/dev/null
wait_for 5 "[ \"\$(fl_holders g2)\" = '[\"C\"]' ]"
REQUEST_TIMEOUT=1s client_start H g2 || bail_out "client H"
fl_fault '{"delay": 4}'
like "$(ask H reboot)" '^unknown no answer from the FleetLock server .* within 1s' "a time-out is unknown, not a grant"
ok "the server did lock H's slot meanwhile" wait_for 5 "[ \"\$(fl_holders g2)\" = '[\"C\", \"H\"]' ]"
is "$(local_status H '["maybe_held"]')" true "H knows that it may hold a slot"
client_send H "withdraw reboot"
ok "H giving up sends /v1/steady-state: the slot is free again" wait_for 5 "[ \"\$(fl_holders g2)\" = '[\"C\"]' ]"

# ---- the server is down: unknown; a release is retried until it is confirmed ----
fl_stop
sleep 1.1
like "$(ask B reboot)" '^unknown cannot reach the FleetLock server' "with the server down the answer is unknown"
client_send B "release reboot"
client_wait B '^released' 5 >/dev/null
ok "B's release is pending while the server is down" wait_for 5 "[ \"\$(local_status B '[\"release_pending\"]')\" = true ]"
like "$(local_status B '["release_error"]')" 'cannot reach' "and says why"
fl_start
ok "the release is retried: the restarted server frees B's slot" wait_for 10 "[ \"\$(fl_holders g1)\" = '[]' ]"
is "$(local_status B '["release_pending"]')" false "B's release is confirmed"

# ---- the local record survives a restart of the client ----
client_quit C
client_start C g2 || bail_out "client C again"
is "$(local_status C '["holder"]')" reboot "C restarted still knows that rule reboot holds its slot"
is "$(ask C reboot)" granted "and asking again is granted by the server"
fl_fault '{"kind": "failed_lock", "value": "all 2 semaphore slots currently locked", "status": 500, "apply": false}'
like "$(ask C reboot)" '^denied all 2 slots' "when the server refuses C (its slot was taken away)"
is "$(local_status C '["holder"]')" null "C forgets its record: a refusal is definite"
client_send C "release reboot"
ok "C's release frees g2" wait_for 5 "[ \"\$(fl_holders g2)\" = '[]' ]"

# ---- TLS: ca_file, cert_file and key_file apply to an https:// url ----
if command -v openssl >/dev/null; then
        pki="$T/pki"
        test_pki "$pki"
        python3 "$FL_SERVER" --port-file "$T/fls.port" --log "$T/fls.log" --group tls=1 \
                --cert "$pki/server.pem" --key "$pki/server.key" --client-ca "$pki/ca.pem" 2> "$T/fls.err" &
        track_pid $!
        wait_for 10 "[ -s '$T/fls.port' ]" || bail_out "the HTTPS FleetLock server did not start: $(cat "$T/fls.err")"
        plain_url=$FL_URL
        FL_URL="https://127.0.0.1:$(cat "$T/fls.port")"
        CLIENT_EXTRA="ca_file = $pki/ca.pem
cert_file = $pki/client.pem
key_file = $pki/client.key" client_start T1 tls || bail_out "client T1"
        CLIENT_EXTRA="ca_file = $pki/ca.pem" client_start T2 tls || bail_out "client T2"
        CLIENT_EXTRA="ca_file = $pki/other.pem
cert_file = $pki/client.pem
key_file = $pki/client.key" client_start T3 tls || bail_out "client T3"
        is "$(ask T1 reboot)" granted "over HTTPS with the right CA and a client certificate: granted"
        like "$(ask T2 reboot)" '^unknown no usable answer from the FleetLock server https://' "without a client certificate: unknown"
        like "$(ask T3 reboot)" '^unknown no usable answer from the FleetLock server https://.*certificate' "trusting another CA: unknown"
        is "$(curl -sf --cacert "$pki/ca.pem" --cert "$pki/client.pem" --key "$pki/client.key" "$FL_URL/test/state" | jget 'd["groups"]["tls"]["holders"]')" \
                '["T1"]' "the HTTPS server holds T1's slot only"
        FL_URL=$plain_url
else
        for d in "over HTTPS: granted" "without a client certificate: unknown" "trusting another CA: unknown" "HTTPS holders"; do
                skip "$d" "openssl is not installed"
        done
fi

# ---- a real medicd asks through FleetLock before its reboot and gives the slot back after it ----
# The reboot ladder only reaches test files here (lib.sh's [reboot] section): sysrq writes to
# $T/sysrq-trigger, and the "reboot" is a new boot id and a restart of medicd.
reboot_test_files
fl_medicd_conf
sed -i "/^\[reboot\]/a methods = sysrq\nsysrq_deadline = 2s\nsettle = 2s\nsettle_timeout = 30s" "$T/medic.conf"
reboot_rule_files 1s
client_start Z "$MEDIC_GROUP" || bail_out "client Z"
is "$(ask Z maintenance)" granted "another node (Z) takes the only slot of medicd's group"
start_medicd
is "$(ctl_json coordinator status | jget 'd["local"]["backend"]')" fleetlock "medicctl coordinator status shows the FleetLock backend"
mark=$(log_mark)
touch "$T/trigger"
ok "medicd is refused while Z holds the slot, with the reason" wait_for 10 \
        "log_has_since $mark 'answered denied for rule reboot-for-updates: all 1 slot of group $MEDIC_GROUP is held \\(failed_lock'"
if log_has_since "$mark" 'reboots the node'; then fail "no reboot started"; else pass "no reboot started"; fi
is "$(fl_last "$MEDIC_NODE" 'd["body"]["client_params"]["id"]')" "$MEDIC_NODE" "medicd identifies itself with its node name"
mark=$(log_mark)
client_send Z "release maintenance"
ok "after Z's release medicd is granted" wait_for 10 "log_has_since $mark 'answered granted for rule reboot-for-updates'"
ok "the reboot starts after the grant" wait_for 5 "log_has_since $mark 'reboots the node'"
ok "sysrq was tried (on the test file)" wait_for 10 "[ \"\$(cat $T/sysrq-trigger)\" = sub ]"
is "$(fl_holders "$MEDIC_GROUP")" "[\"$MEDIC_NODE\"]" "the server holds medicd's slot during the reboot"
is "$(ctl_json coordinator status | jget 'd["local"]["holder"]')" reboot-for-updates "medicctl coordinator status names the holder"
out=$(ctl coordinator stop 2>&1)
like "$out" 'no operator API' "medicctl coordinator stop says that FleetLock has no operator API"

# The "reboot": a new boot id and medicd starts again; it gives the slot back once healthy.
stop_medicd
rm -f "$T/trigger"
echo 22222222-2222-2222-2222-222222222222 > "$T/boot_id"
is "$(fl_holders "$MEDIC_GROUP")" "[\"$MEDIC_NODE\"]" "the slot is held across the reboot"
mark=$(log_mark)
start_medicd
ok "medicd knows after the restart which rule holds the slot" \
        wait_for 5 "log_has_since $mark 'rule reboot-for-updates holds the slot of $MEDIC_NODE'"
ok "back and healthy for the settle time: the slot is given back with steady-state" wait_for 15 \
        "[ \"\$(fl_last '$MEDIC_NODE' 'd[\"path\"]')\" = /v1/steady-state ] && [ \"\$(fl_holders '$MEDIC_GROUP')\" = '[]' ]"
is "$(ctl_json coordinator status | jget 'd["local"]["holder"]')" null "no holder any more"
stop_medicd
done_testing
