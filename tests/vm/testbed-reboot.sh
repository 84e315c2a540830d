#!/bin/bash
# SPDX-License-Identifier: MIT
# The test bed itself, for the reboot tests built on it: one QEMU run, three boots of the
# Debian guest with medicd installed.
#   boot 1: a graceful `systemctl reboot`
#   boot 2: /dev/watchdog (the emulated i6300esb, heartbeat 5 s from the kernel command line)
#           opened, petted once and closed without the magic close: the watchdog resets the
#           guest
#   boot 3: the agent powers off
# The host must see it all: the counter disk says 3, the serial console BOOT 1..3, QMP a
# WATCHDOG event (action reset) about one heartbeat after the last pet, RESET events, and
# a guest-shutdown at the end; the guest's persistent journal lists the three boots.
. "$top_srcdir/tests/vm/vm-lib.sh"
vm_setup 600

vm_local_conf
vm_guest_script <<'EOF'
#!/bin/bash
. /usr/local/lib/vmt/lib.sh
case $(vmt_boot) in
1)
        vmt_stay
        mark ACTION "systemctl reboot"
        systemctl reboot --no-block ;;
2)
        vmt_stay
        mark WDT "$(cat /sys/class/watchdog/watchdog0/identity) timeout=$(cat /sys/class/watchdog/watchdog0/timeout)"
        exec 3> /dev/watchdog
        printf . >&3
        mark LAST-PET
        exec 3>&- ;;            # no magic close: the watchdog keeps running, unpetted
*)
        wait_until 60 systemctl is-active medicd
        mark MEDICD "$(systemctl is-active medicd)"
        journalctl --list-boots --no-pager | mark_data BOOTS ;;
esac
EOF

ok "the guest image builds" vm_image tr || bail_out "no image"
ok "the harness ran" vm_boot tr --timeout 420 --append "i6300esb.heartbeat=5"
diag "wall $(vm_get tr "d['wall']") s"
vm_shutdown_ok tr || { fail "the guest powered off by itself at the end"; vm_show_log tr 80; }
is "$(vm_get tr "d['boots']")" 3 "the counter disk recorded three boots"
is "$(vm_get tr "' '.join(v for t, k, v in d['markers'] if k == 'BOOT')")" "1 2 3" "the serial console showed BOOT 1, 2, 3"
is "$(vm_marker tr ACTION)" "systemctl reboot" "boot 1 rebooted through systemd"
like "$(vm_marker tr WDT)" 'i6300ESB.*timeout=5' "boot 2 has the i6300esb watchdog with a 5 s heartbeat"
is "$(vm_get tr "[x.get('action') for t, e, x in d['events'] if e == 'WATCHDOG']")" '["reset"]' \
        "QMP: one WATCHDOG event, action reset"
delay=$(vm_get tr "round([t for t, e, x in d['events'] if e == 'WATCHDOG'][0] - [t for t, k, v in d['markers'] if k == 'LAST-PET'][0], 2)")
diag "last pet -> watchdog reset: ${delay} s (host clock)"
ok "the watchdog fired 4-15 s after the last pet" python3 -c "import sys; sys.exit(not 4 <= float('$delay') <= 15)"
resets=$(vm_get tr "len([e for t, e, x in d['events'] if e == 'RESET'])")
ok "QMP: RESET events for both reboots ($resets)" test "$resets" -ge 2
is "$(vm_marker tr MEDICD)" active "medicd runs after the third boot"
boots=$(vm_marker tr BOOTS)
diag "$boots"
is "$(printf '%s\n' "$boots" | grep -cE '^ *-?[0-9]+ [0-9a-f]{32} ')" 3 "the guest's persistent journal has three boots"
done_testing
