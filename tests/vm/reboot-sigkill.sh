#!/bin/bash
# SPDX-License-Identifier: MIT
# medicd killed with SIGKILL in the middle of a reboot does not reboot the node twice. The
# ladder is sysrq first (methods = sysrq watchdog): between the recorded intent and the
# reboot key 'b' there are two pauses of 2 s. In one boot medicd is killed twice and
# systemd restarts it each time (Restart=on-failure, RestartSec=5s):
#   1. by the pre-reboot task, the first time it runs (before any method is tried): the
#      restarted medicd takes the reboot up again after the rule's retry (5 s);
#   2. by the guest script, as soon as /var/lib/medic/reboot-intent.json says "rebooting"
#      (the intent is recorded, sysrq is under way, 'b' not yet written): the restarted
#      medicd finds the intent with the same boot id and continues the ladder where it was,
#      once.
# Then sysrq reboots the guest; in boot 2 medicd sees the new boot id, settles, gives the
# slot back and the guest powers off. Exactly one extra boot (the harness would stop QEMU
# at a third).
. "$top_srcdir/tests/vm/vm-lib.sh"
vm_setup 600

vm_reboot_bed methods="sysrq watchdog" retry=5s
vm_file /etc/medic/pre-reboot.d/10-kill-once 0755 <<'EOF'
#!/bin/sh
# The first time only: SIGKILL medicd (our parent) before it records the intent.
[ -e /run/vmt-pre-killed ] && exit 0
date +%s.%N > /run/vmt-pre-killed
echo "VMT[$(cut -d' ' -f1 /proc/uptime)]: PRE-KILL $(cat /proc/$PPID/comm) $PPID" > /dev/console
kill -KILL "$PPID"
sleep 10
EOF
vm_guest_script <<'EOF'
#!/bin/bash
. /usr/local/lib/vmt/lib.sh
journalctl -b -f -n all -u medicd -o cat --no-pager 2>/dev/null | while IFS= read -r l; do mark MJ "$l"; done &
wait_until 120 systemctl is-active medicd
mark ACTIVE "$(systemctl is-active medicd)"
case $(vmt_boot) in
1)
        vmt_stay
        touch /run/vmt-reboot.flag
        mark FLAG
        end=$(( $(date +%s) + 120 ))
        until grep -qs '"phase": *"rebooting"' /var/lib/medic/reboot-intent.json || [ "$(date +%s)" -ge "$end" ]; do
                sleep 0.05
        done
        pid=$(systemctl show -p MainPID --value medicd)
        kill -KILL "$pid"
        mark KILLED "$pid"
        mark_data INTENT < /var/lib/medic/reboot-intent.json
        sleep 300 ;;
*)
        wait_until 90 sh -c 'grep -q "\"holder\": *null" /var/lib/medic/coordinator.json'
        mark RELEASED "$(grep -o '"holder": *[^,]*' /var/lib/medic/coordinator.json)"
        journalctl -b -1 -u medicd -o cat --no-pager | mark_data J1
        medicctl --json status | mark_data STATUS
        sleep 5 ;;
esac
EOF

ok "the guest image builds" vm_image rk || bail_out "no image"
ok "the harness ran" vm_boot rk --timeout 420 --max-boots 2
diag "wall $(vm_get rk "d['wall']") s"
vm_shutdown_ok rk || { fail "the guest powered off by itself after boot 2"; vm_show_log rk 100; }
is "$(vm_get rk "d['boots']")" 2 "exactly one extra boot: the counter disk says 2"
is "$(vm_get rk "' '.join(v for t, k, v in d['markers'] if k == 'BOOT')")" "1 2" "the serial console showed BOOT 1, 2 and no third"
is "$(vm_get rk "[e for t, e, x in d['events'] if e == 'WATCHDOG']")" "[]" "no watchdog reset"
b2=$(vm_get rk "([t for t, k, v in d['markers'] if k == 'BOOT' and v == '2'] or [1e9])[0]")
j=$(vm_get rk "'\n'.join(v for t, k, v in d['markers'] if k == 'MJ' and t < $b2)")
diag "medicd, boot 1:" "$j"
like "$(vm_marker rk PRE-KILL)" '^medicd ' "the pre-reboot task killed medicd"
intent=$(vm_marker rk INTENT)
diag "intent when killed: $intent"
like "$intent" '"phase": *"rebooting"' "the second kill came after the intent was recorded"
like "$intent" '"method": *"sysrq"' "the intent names sysrq"
like "$(vm_marker rk KILLED)" '^[1-9]' "the guest script killed medicd"
is "$(printf '%s\n' "$j" | grep -c 'reboots the node: running the pre-reboot tasks')" 2 "boot 1: the reboot started twice (before the first kill, after the first restart)"
diag "after the first kill: $(printf '%s\n' "$j" | grep -E 'stopped during the pre-reboot tasks|asking the local coordinator' | tr '\n' '|')"
like "$j" 'A reboot for rule reboot-flag was in progress when medicd stopped \(sysrq\); continuing it' "boot 1: the restarted medicd continues the recorded reboot"
# medicd cannot log "wrote 'b'" (the write resets the machine): the kernel's lines tell
k=$(vm_get rk "'\n'.join(l.split('] ', 1)[-1] for t, l in d['serial'] if t < $b2 and 'sysrq: ' in l and not l.startswith('VMT'))")
diag "kernel, boot 1:" "$k"
is "$(printf '%s\n' "$k" | grep -c 'sysrq: Resetting')" 1 "boot 1: the kernel reset once (sysrq b)"
like "$(printf '%s\n' "$k" | tail -n 3 | tr '\n' '|')" 'Emergency Sync\|sysrq: Emergency Remount R/O\|sysrq: Resetting\|$' "boot 1: the restarted medicd wrote s, u, b"
like "$(vm_marker rk RELEASED)" null "boot 2: the slot was given back"
diag "disruptions counted: $(vm_marker rk STATUS | jget 'd.get("disruptions")')"
j1=$(vm_marker rk J1)
like "$j1" 'continuing it' "boot 2: the journal of boot 1 (persistent) has it too"
done_testing
