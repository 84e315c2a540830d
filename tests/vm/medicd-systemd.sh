#!/bin/bash
# SPDX-License-Identifier: MIT
# medicd as a package installs it, under a real systemd: a Debian bookworm guest in QEMU
# with the project's own build (make install DESTDIR=, --prefix=/usr) and medicd.service
# enabled. One boot checks:
#  - the Type=notify unit becomes active (READY=1 reached systemd) and stays active past its
#    WatchdogSec (medicd pets systemd's watchdog) without being restarted;
#  - medicctl answers over the control socket in the guest;
#  - journald holds medic's structured fields (MEDIC_CHECK, MESSAGE_ID, …) sent through the
#    native journal protocol, not as plain stderr lines;
#  - the guest network is QEMU's user mode with restrict=on: the guestfwd port reaches a
#    service on the host's 127.0.0.1, the host itself (10.0.2.2) is not reachable.
. "$top_srcdir/tests/vm/vm-lib.sh"
vm_setup 600

# Host side of the network check: one listener behind the guestfwd, one that the guest must
# not reach; each answers and records connections.
python3 - "$T/net" <<'PY' &
import os, socket, sys, threading
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
def serve(name):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
    open(os.path.join(d, name + ".port"), "w").write(str(s.getsockname()[1]))
    while True:
        c, _ = s.accept()
        open(os.path.join(d, name + ".hits"), "a").write("x\n")
        c.sendall(b"hello-from-host-" + name.encode() + b"\n"); c.close()
threading.Thread(target=serve, args=("fwd",), daemon=True).start()
serve("other")
PY
track_pid $!
wait_for 10 "[ -s $T/net/fwd.port ] && [ -s $T/net/other.port ]" || bail_out "host listeners did not start"
FWD_PORT=$(cat "$T/net/fwd.port")
OTHER_PORT=$(cat "$T/net/other.port")

vm_medic_conf <<'EOF'
[medic]
dry_run = no
log_level = info
checks = /usr/share/medic/checks /etc/medic/checks.d
rules = /etc/medic/rules.d

[coordinator]
backend = local
EOF
vm_file /etc/medic/checks.d/10-vm-marker.lua <<'EOF'
check "vm-marker" {
  every = "5s",
  run = function() return ok("the VM test bed's own check ran") end,
}
EOF
echo "$OTHER_PORT" | vm_file /etc/vmt/other-port
vm_guest_script <<'EOF'
#!/bin/bash
. /usr/local/lib/vmt/lib.sh
wait_until 120 systemctl is-active medicd
mark MEDICD-ACTIVE "$(systemctl is-active medicd)"
systemctl show medicd -p Type -p MainPID -p NRestarts -p WatchdogUSec -p ActiveEnterTimestampMonotonic |
        mark_data MEDICD-SHOW
medicctl --json status > /tmp/status.json 2>&1; echo "rc=$?" >> /tmp/status.json
mark_data MEDICCTL-STATUS < /tmp/status.json
medicctl status 2>&1 | head -n 3 | mark_data MEDICCTL-STATUS-TEXT

# Past WatchdogSec (30 s) since medicd became active: systemd would have killed it unless
# medicd pets the watchdog.
since=$(systemctl show medicd -p ActiveEnterTimestampMonotonic --value)
now=$(awk '{printf "%d", $1 * 1000000}' /proc/uptime)
wait=$(( (since + 36000000 - now) / 1000000 ))
[ "$wait" -gt 0 ] && sleep "$wait"
systemctl show medicd -p ActiveState -p NRestarts -p MainPID -p Result | mark_data MEDICD-AFTER-WATCHDOG

journalctl -o json -u medicd --no-pager > /tmp/j.json
save journal.json < /tmp/j.json
mark JOURNAL "entries=$(wc -l < /tmp/j.json) medic_check=$(grep -c '"MEDIC_CHECK"' /tmp/j.json)" \
        "native=$(grep '"MEDIC_CHECK"' /tmp/j.json | grep -c '"_TRANSPORT":"journal"')" \
        "vm_marker=$(grep -c '"MEDIC_CHECK":"vm-marker"' /tmp/j.json)"

# Networking: the forwarded port answers; the host's own address does not.
fwd=$(timeout 15 bash -c 'exec 3<>/dev/tcp/10.0.2.100/2379 && read -r l <&3 && echo "$l"' 2>&1)
mark NET-FWD "${fwd:-no answer}"
other=$(cat /etc/vmt/other-port)
if timeout 10 bash -c "exec 3<>/dev/tcp/10.0.2.2/$other" 2>/dev/null; then
        mark NET-HOST "connected"
else
        mark NET-HOST "refused"
fi
EOF

ok "the guest image builds (rootfs + make install + medicd.service enabled)" vm_image t1 ||
        bail_out "no image"
ok "the guest boots and powers itself off" vm_boot t1 --timeout 300 --guestfwd "2379:$FWD_PORT"
diag "boot: wall $(vm_get t1 "d['wall']") s, boots $(vm_get t1 "d['boots']"), accel $(vm_get t1 "d['cmd'][d['cmd'].index('-accel') + 1]")"
if ! vm_shutdown_ok t1; then
        fail "the guest powered off by itself" "QEMU: rc $(vm_get t1 "d['qemu_rc']"), timed out: $(vm_get t1 "d['timed_out']")"
        vm_show_log t1
else
        pass "the guest powered off by itself"
fi
is "$(vm_get t1 "d['boots']")" 1 "the counter disk recorded one boot"

is "$(vm_marker t1 MEDICD-ACTIVE)" active "systemctl is-active medicd: active"
show=$(vm_marker t1 MEDICD-SHOW)
diag "$show"
like "$show" '^Type=notify$' "the unit is Type=notify (active means medicd sent READY=1)"
like "$show" '^WatchdogUSec=30s$' "the unit has WatchdogSec=30s"

st=$(vm_marker t1 MEDICCTL-STATUS)
like "$st" 'rc=0' "medicctl status answers inside the guest"
is "$(printf '%s\n' "$st" | sed '/^rc=/d' | jget 'd["dry_run"]')" false "medicd runs with dry_run = no"
mainpid=$(printf '%s\n' "$show" | sed -n 's/^MainPID=//p')
is "$(printf '%s\n' "$st" | sed '/^rc=/d' | jget 'd["pid"]')" "$mainpid" "the pid medicctl reports is systemd's MainPID"
like "$(printf '%s\n' "$st" | sed '/^rc=/d' | jget 'd["checks"]')" '^[1-9][0-9]*$' "medicd loaded the shipped checks and the test's"
diag "$(vm_marker t1 MEDICCTL-STATUS-TEXT)"

after=$(vm_marker t1 MEDICD-AFTER-WATCHDOG)
diag "$after"
like "$after" '^ActiveState=active$' "medicd is still active after WatchdogSec"
like "$after" '^NRestarts=0$' "systemd never restarted it"
like "$after" "^MainPID=$mainpid\$" "same process as before (not killed by the watchdog)"

j=$(vm_marker t1 JOURNAL)
diag "journal: $j"
like "$j" 'medic_check=[1-9]' "journalctl -u medicd has entries with MEDIC_CHECK"
like "$j" 'native=[1-9]' "they came through the native journal protocol"
like "$j" 'vm_marker=[1-9]' "the test's own check is in the journal by name"
vm_read t1 /var/lib/vmt/out/journal.json > "$T/journal.json"
fields=$(python3 - "$T/journal.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("MEDIC_CHECK") == "vm-marker" and "MEDIC_STATE" in e:
        print(" ".join("%s=%s" % (k, e[k]) for k in sorted(e) if k.startswith("MEDIC_") or k in
              ("MESSAGE_ID", "PRIORITY", "_SYSTEMD_UNIT", "_TRANSPORT", "SYSLOG_IDENTIFIER")))
        break
PY
)
diag "a condition entry: $fields"
like "$fields" 'MEDIC_CONDITION=vm-marker' "the condition entry names the condition"
like "$fields" 'MEDIC_STATE=ok' "… its state"
like "$fields" 'MESSAGE_ID=[0-9a-f]{32}' "… and has a MESSAGE_ID"
like "$fields" '_SYSTEMD_UNIT=medicd.service' "… and is attributed to medicd.service"

is "$(vm_marker t1 NET-FWD)" "hello-from-host-fwd" "the guest reaches 127.0.0.1 on the host through the guestfwd"
is "$(vm_marker t1 NET-HOST)" refused "restrict=on: the guest cannot reach the host at 10.0.2.2"
is "$(count_lines "$T/net/other.hits")" 0 "the other host listener saw no connection"
done_testing
