#!/bin/bash
# SPDX-License-Identifier: MIT
# A node that comes back sick, with the permission from a real etcd on the host. etcd listens
# on 127.0.0.1 only; the guest reaches it through QEMU's user network (restrict=on) and one
# guestfwd (10.0.2.100:2379 in the guest -> 127.0.0.1:PORT on the host), nothing else.
# The group has two members: the guest (node vm1) and a simulated node "peer" on the host
# (tests/helpers/coord-client), with a budget of one. The rule's trigger stays on for the
# whole run (a file on the guest's disk), max_disruptions = 2/1h. One QEMU run:
#   boot 1: etcd grants vm1, medicd reboots it through systemd;
#   boot 2: vm1 comes back sick (its health check fails in every boot after the one that
#           last "repaired" it): it keeps the permission, escalates (journal MESSAGE_ID,
#           notify command), and does not reboot again although the trigger still holds.
#           The peer, queued since vm1's grant, waits the whole time. The guest then repairs
#           itself: healthy for the settle time, vm1 gives the permission back, the peer gets
#           it (FIFO), the host releases it, and vm1 is granted its second reboot;
#   boot 3: sick again, kept and escalated again; repaired and released; the rule wants a
#           third disruption: the node is parked instead (no request, no reboot), escalated,
#           and the guest powers off. The harness would stop QEMU at a fourth boot.
# etcd's own revision history is replayed at the end (tests/helpers/budget-checker.py): the
# budget held at every revision, and the grants came in the order above.
. "$top_srcdir/tests/vm/vm-lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
vm_setup 1200
need_etcd
start_etcd
GROUP=vmsick
# jlines EXPR: EXPR for each JSON line on stdin (bound to e), one result a line.
jlines() { python3 -c 'import json, sys
for l in sys.stdin:
    if l.strip(): print(eval(sys.argv[1], {}, {"e": json.loads(l)}))' "$1"; }
holders() { etcdget --prefix --keys-only "/medic/groups/$GROUP/holders/" | sed -n 's|.*/holders/||p' | tr '\n' ' ' | sed 's/ $//'; }

vm_medic_conf <<EOF
[medic]
dry_run = no
node = vm1
group = $GROUP
checks = /etc/medic/checks.d
rules = /etc/medic/rules.d

[coordinator]
backend = etcd
endpoints = http://10.0.2.100:2379
lease_ttl = 10s
request_timeout = 5s

[reboot]
methods = systemd sysrq watchdog
systemd_deadline = 90s
sysrq_deadline = 20s
watchdog_deadline = 30s
watchdog_timeout = 5s
settle = 5s
settle_timeout = 20s
max_disruptions = 2/1h
notify_command = /usr/local/sbin/vmt-notify
EOF
# Health: the application is fine in the boot that last repaired it (the boot id it wrote),
# broken in any later boot.
vm_file /etc/medic/checks.d/10-node.lua <<'EOF'
check "wants-reboot" {
  every = "2s",
  run = function()
    if medic.exists("/var/lib/vmt-trigger") then return problem("the test asks for reboots") end
    return ok("nothing to do")
  end,
}
check "app" {
  every = "2s",
  health = true,
  run = function()
    local good = medic.read("/var/lib/vmt-healthy-boot")
    if not good then return ok("not set up") end
    if good == medic.read("/proc/sys/kernel/random/boot_id") then return ok("repaired in this boot") end
    return problem("the application did not survive the reboot")
  end,
}
EOF
vm_file /etc/medic/rules.d/10-reboot.lua <<'EOF'
rule "reboot-flag" { when = "wants-reboot", remedy = reboot {}, limit = "5/1h", retry = "5s" }
EOF
vm_file /usr/local/sbin/vmt-notify 0755 <<'EOF'
#!/bin/sh
echo "$1 boot=$(dd if=/dev/vdb bs=512 count=1 2>/dev/null | tr -dc 0-9) rule=$MEDIC_RULE node=$MEDIC_NODE group=$MEDIC_GROUP reason=$MEDIC_REASON" >> /var/lib/vmt-notified
sync
EOF
vm_guest_script <<'EOF'
#!/bin/bash
. /usr/local/lib/vmt/lib.sh
b=$(vmt_boot)
coord() { medicctl --json coordinator status 2>&1 | tr -d '\n'; }
status() { medicctl --json status 2>&1 | tr -d '\n'; }
phase() { status | grep -o '"phase": *"[a-z-]*"' | head -1 | tr -d ' "' | sed 's/phase://'; }
journalctl -b -f -n all -u medicd -o cat --no-pager 2>/dev/null | while IFS= read -r l; do mark MJ "$l"; done &
wait_until 120 systemctl is-active medicd
mark ACTIVE "$(systemctl is-active medicd)"
if ! wait_until 120 sh -c 'medicctl --json coordinator status | tr -d "\n " | grep -q "\"node\":\"vm1\",\"registered\":true,\"alive\":true"'; then
        mark COORD-UNREACHABLE "$(coord)"
        exit 1
fi
case $b in
1)
        vmt_stay
        cat /proc/sys/kernel/random/boot_id > /var/lib/vmt-healthy-boot
        mark COORD1 "$(coord)"
        # restrict=on: the forwarded port is the only way out; the host's etcd port through
        # QEMU's gateway address (which maps to the host's loopback without restrict) is shut.
        port=$(cat /etc/vmt/etcd-port)
        fwd=$(timeout 5 bash -c 'exec 3<>/dev/tcp/10.0.2.100/2379' 2>/dev/null && echo open || echo shut)
        gw=$(timeout 5 bash -c "exec 3<>/dev/tcp/10.0.2.2/$port" 2>/dev/null && echo open || echo shut)
        mark NET "forwarded=$fwd gateway=$gw"
        touch /var/lib/vmt-trigger
        sync
        mark TRIGGER
        sleep 600 ;;
*)
        [ "$b" = 2 ] && vmt_stay
        if wait_until 120 sh -c "[ \$(grep -c '^came-back-sick boot=$b ' /var/lib/vmt-notified) -ge 1 ]"; then
                mark SICK$b "$(grep "^came-back-sick boot=$b " /var/lib/vmt-notified | tail -1)"
        else
                mark SICK$b none
        fi
        mark PHASE-SICK$b "$(phase)"
        mark COORD-SICK$b "$(coord)"
        sleep 15            # the trigger holds and the rule retries every 5 s: no reboot while sick
        mark PHASE-LATER$b "$(phase)"
        mark COORD-LATER$b "$(coord)"
        cat /proc/sys/kernel/random/boot_id > /var/lib/vmt-healthy-boot
        mark REPAIRED$b
        if wait_until 60 sh -c 'journalctl -b -u medicd -o cat --no-pager | grep -q "Reboot for rule reboot-flag done"'; then
                mark RELEASED$b yes
        else
                mark RELEASED$b none
        fi
        if [ "$b" = 2 ]; then
                sleep 600   # the peer takes its turn, then medicd reboots again
        else
                wait_until 60 sh -c 'medicctl --json status | tr -d "\n " | grep -q "\"parked\":true"'
                mark STATUS-PARKED "$(status)"
                sleep 15    # parked: nothing more happens although the trigger holds
                mark BOOT-LATER "$(vmt_boot)"
                mark NOTIFIED "$(cat /var/lib/vmt-notified | base64 -w0)"
                journalctl -b -1 -u medicd -o cat --no-pager | mark_data J2
                journalctl -b 0 -u medicd -o cat --no-pager | mark_data J3
                journalctl MESSAGE_ID=2ea1630964b14f94ad5099b5ba51ddbc -o json --no-pager | mark_data SICKJSON
                journalctl MESSAGE_ID=ef69eb25cd1049a6b109de8f4d4ac560 -o json --no-pager | mark_data PARKJSON
        fi ;;
esac
EOF

printf '%s\n' "${ETCD_URL##*:}" | vm_file /etc/vmt/etcd-port

# The simulated peer: a member of the group, healthy, alive on its lease.
ok "the peer registers in etcd" client_start peer "$GROUP" || bail_out "no peer"
ok "the guest image builds" vm_image sk || bail_out "no image"

# QEMU in the background: the host plays the peer's part while the guest runs.
python3 "$VMH" boot "$top_srcdir" "$T/sk.img" --json "$T/sk.json" --log "$T/sk.log" --timeout 900 \
        --max-boots 3 --guestfwd "2379:${ETCD_URL##*:}" > "$T/sk.boot.out" 2>&1 &
vmpid=$!
track_pid "$vmpid"

ok "vm1 registers in etcd through the guestfwd" \
        wait_for 400 "etcdget --keys-only /medic/groups/$GROUP/registered/vm1 | grep -q vm1"
ok "grant 1: vm1 holds the permission" wait_for 300 '[ "$(holders)" = vm1 ]'
peer_wait() { client_wait "$@" > /dev/null; }
client_send peer "acquire maint"
ok "the peer waits while vm1 holds (watched for 60 s)" client_quiet peer '^granted' 60
is "$(holders)" vm1 "vm1 still holds a minute after its grant"
ok "the peer is granted once vm1 is repaired and released" peer_wait peer '^granted' 400
is "$(holders)" peer "then only the peer holds (vm1 is queued behind it)"
sleep 2
client_send peer "release maint"
ok "the peer gives it back" peer_wait peer '^released' 15
ok "grant 2: vm1 holds again" wait_for 60 '[ "$(holders)" = vm1 ]'
wait "$vmpid"
[ $? = 0 ] || { sed 's/^/# /' "$T/sk.boot.out"; fail "the harness failed"; }
is "$(holders)" "" "at the end nobody holds (vm1 released, then parked instead of asking)"

diag "wall $(vm_get sk "d['wall']") s"
vm_shutdown_ok sk || { fail "the guest powered off by itself after boot 3"; vm_show_log sk 80; }
is "$(vm_get sk "' '.join(v for t, k, v in d['markers'] if k == 'BOOT')")" "1 2 3" "the console showed BOOT 1, 2, 3 and no fourth"
is "$(vm_get sk "d['boots']")" 3 "two reboots: the counter disk says 3"
is "$(vm_get sk "[e for t, e, x in d['events'] if e == 'WATCHDOG']")" "[]" "no watchdog reset"
like "$(vm_marker sk COORD1)" '"endpoint": *"http://10.0.2.100:2379"' "boot 1: medicd reads the group from etcd at 10.0.2.100"
like "$(vm_marker sk COORD1)" '"node": *"peer"' "boot 1: the group has the peer"
is "$(vm_marker sk NET)" "forwarded=open gateway=shut" "the guest reaches etcd only through the guestfwd (restrict=on)"

for b in 2 3; do
        sick=$(vm_marker sk SICK$b)
        like "$sick" "^came-back-sick boot=$b rule=reboot-flag node=vm1 group=$GROUP reason=not healthy 20s after the reboot: app is problem" \
                "boot $b: came back sick, escalated through the notify command"
        is "$(vm_marker sk PHASE-SICK$b)" settling "boot $b: the reboot is kept open (settling)"
        like "$(vm_marker sk COORD-SICK$b)" '"holders": *\[ *\{ *"node": *"vm1"' "boot $b: etcd shows vm1 holding while sick"
        is "$(vm_marker sk PHASE-LATER$b)" settling "boot $b: 15 s later still settling, no new reboot"
        like "$(vm_marker sk COORD-LATER$b)" '"holders": *\[ *\{ *"node": *"vm1"' "boot $b: and still holding"
        is "$(vm_marker sk RELEASED$b)" yes "boot $b: repaired, healthy for the settle time: released"
done
like "$(vm_marker sk COORD-SICK2)" '"queue": *\[ *"peer" *\]' "boot 2: the peer is queued behind the sick node"

parked=$(vm_marker sk STATUS-PARKED)
like "$parked" '"parked": *true' "boot 3: the third disruption parks the node"
like "$parked" '2 disruptive remedies within 1h' "the parked reason names the limit"
is "$(vm_marker sk BOOT-LATER)" 3 "parked: no reboot 15 s later (boot 3)"
notified=$(vm_marker sk NOTIFIED | base64 -d)
diag "notify command:" "$notified"
is "$(printf '%s\n' "$notified" | cut -d' ' -f1-2 | tr '\n' ' ')" "came-back-sick boot=2 came-back-sick boot=3 parked boot=3 " \
        "escalations: came back sick twice, then parked"
j3=$(vm_marker sk J3)
is "$(printf '%s\n' "$j3" | grep -c 'asking the etcd coordinator')" 0 "boot 3: no third request to etcd"
like "$(vm_marker sk J2)" 'Rebooting the node by systemd for rule reboot-flag' "boot 2: the second reboot through systemd"
is "$(vm_marker sk SICKJSON | jlines 'e.get("MEDIC_RULE")' | sort -u)" reboot-flag "journal: came-back-sick entries carry MEDIC_RULE"
is "$(vm_marker sk SICKJSON | grep -c .)" 2 "journal: two came-back-sick entries (MESSAGE_ID 2ea16309…)"
like "$(vm_marker sk PARKJSON | jlines 'e.get("MEDIC_DECISION")')" '^parked$' "journal: the parked entry (MESSAGE_ID ef69eb25…)"

# etcd's history, every revision: the budget of 1 held, and the grants' order.
out=$(timeout 90 python3 "$top_srcdir/tests/helpers/budget-checker.py" --endpoints "$ETCD_URL" --group "$GROUP" \
        --max-unavailable 1 --dump "$T/history.jsonl")
is "$?" 0 "etcd's history: the budget held at every revision"
diag "$out"
order=$(python3 - "$T/history.jsonl" "$GROUP" <<'PY'
import base64, json, sys
pre = "/medic/groups/%s/holders/" % sys.argv[2]
seq = []
for line in open(sys.argv[1]):
    ev = json.loads(line)
    k = base64.b64decode(ev["kv"]["key"]).decode()
    if k.startswith(pre):
        seq.append(k[len(pre):] + ("-" if ev.get("type") == "DELETE" else "+"))
print(" ".join(seq))
PY
)
is "$order" "vm1+ vm1- peer+ peer- vm1+ vm1-" "etcd's history: vm1 held through reboot 1 and its sickness, then the peer, then vm1 again"
done_testing
