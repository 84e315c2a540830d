#!/bin/bash
# SPDX-License-Identifier: MIT
# The reboot ladder falling through, with real reboots. One QEMU run, three boots, methods
# = systemd sysrq watchdog:
#   boot 1: systemd-logind is frozen (SIGSTOP): logind's Reboot never answers, the
#           systemd step's deadline (5 s) passes and sysrq (s, u, b on /proc/sysrq-trigger)
#           reboots the guest, well within sysrq's own deadline (20 s);
#   boot 2: once medicd gave the slot back, logind is masked (the D-Bus call fails at once)
#           and sysrq_trigger points at a file on a read-only bind mount (cannot be written,
#           even by root): both steps fail and the emulated i6300esb watchdog, set to 5 s and
#           no longer petted, resets the guest (QMP WATCHDOG, action reset);
#   boot 3: the guest powers off.
# medicd's journal is copied line by line to the serial console as it is written, so that
# what it said just before a sysrq or watchdog reset is not lost with the page cache.
# systemd must not own /dev/watchdog (RuntimeWatchdogSec= is off in Debian's system.conf;
# the test checks it, and that medicd could open the device).
. "$top_srcdir/tests/vm/vm-lib.sh"
vm_setup 600

vm_reboot_bed systemd_deadline=5s
vm_guest_script <<'EOF'
#!/bin/bash
. /usr/local/lib/vmt/lib.sh
journalctl -b -f -n all -u medicd -o cat --no-pager 2>/dev/null | while IFS= read -r l; do mark MJ "$l"; done &
wait_until 120 systemctl is-active medicd
mark ACTIVE "$(systemctl is-active medicd)"
case $(vmt_boot) in
1)
        vmt_stay
        mark RUNTIME-WATCHDOG "$(systemctl show -p RuntimeWatchdogUSec --value)"
        mark WDT "$(cat /sys/class/watchdog/watchdog0/identity 2>&1)"
        mark SYSRQ "$(cat /proc/sys/kernel/sysrq)"
        wait_until 20 pidof systemd-logind
        kill -STOP "$(pidof systemd-logind)"
        mark LOGIND1 "$(sed 's/.*) \(.\).*/\1/' /proc/"$(pidof systemd-logind)"/stat)"
        touch /run/vmt-reboot.flag
        mark FLAG1
        sleep 300 ;;
2)
        vmt_stay
        wait_until 90 sh -c 'grep -q "\"holder\": *null" /var/lib/medic/coordinator.json'
        mark RELEASED "$(grep -o '"holder": *[^,]*' /var/lib/medic/coordinator.json)"
        systemctl mask --runtime systemd-logind
        systemctl stop systemd-logind
        mark LOGIND2 "$(systemctl is-active systemd-logind) $(systemctl is-enabled systemd-logind 2>&1)"
        : > /run/vmt-sysrq-ro
        mount --bind /run/vmt-sysrq-ro /run/vmt-sysrq-ro
        mount -o remount,bind,ro /run/vmt-sysrq-ro
        if sh -c ': > /run/vmt-sysrq-ro' 2>/dev/null; then mark RO writable; else mark RO read-only; fi
        sed -i 's|^settle_timeout = .*|&\nsysrq_trigger = /run/vmt-sysrq-ro|' /etc/medic/medic.conf
        systemctl restart medicd
        wait_until 60 systemctl is-active medicd
        touch /run/vmt-reboot.flag
        mark FLAG2
        sleep 300 ;;
*)
        journalctl -b -2 -u medicd -o cat --no-pager | mark_data J-2
        journalctl -b -1 -u medicd -o cat --no-pager | mark_data J-1
        journalctl --list-boots --no-pager | mark_data BOOTS ;;
esac
EOF

ok "the guest image builds" vm_image rf || bail_out "no image"
ok "the harness ran" vm_boot rf --timeout 480 --max-boots 3
diag "wall $(vm_get rf "d['wall']") s"
vm_shutdown_ok rf || { fail "the guest powered off by itself after boot 3"; vm_show_log rf 100; }
is "$(vm_get rf "d['boots']")" 3 "two reboots: the counter disk says 3"

# medicd's lines per boot, from the console; the kernel's own sysrq lines from the console
mj() { vm_get rf "'\n'.join(v for t, k, v in d['markers'] if k == 'MJ' and t > $1 and t < $2)"; }
tb() { vm_get rf "([t for t, k, v in d['markers'] if k == 'BOOT' and v == '$1'] or [1e9])[0]"; }
mt() { vm_get rf "([t for t, k, v in d['markers'] if k == '$1'] or [0])[0]"; }
mjt() { PAT=$3 vm_get rf "([t for t, k, v in d['markers'] if k == 'MJ' and $1 < t < $2 and __import__('os').environ['PAT'] in v] or [0])[0]"; }
kern() { vm_get rf "'\n'.join(l.split('] ', 1)[-1] for t, l in d['serial'] if $1 < t < $2 and 'sysrq: ' in l and not l.startswith('VMT'))"; }
kernt() { PAT=$3 vm_get rf "([t for t, l in d['serial'] if $1 < t < $2 and __import__('os').environ['PAT'] in l and not l.startswith('VMT')] or [0])[0]"; }
reset_after() { vm_get rf "([t for t, e, x in d['events'] if e == 'RESET' and t > $1] or [1e9])[0]"; }
b1=$(tb 1) b2=$(tb 2) b3=$(tb 3)

# boot 1 -> 2: systemd hangs, sysrq
is "$(vm_marker rf RUNTIME-WATCHDOG)" 0 "systemd does not own /dev/watchdog (RuntimeWatchdogSec off)"
like "$(vm_marker rf WDT)" 'i6300ESB' "the guest has the i6300esb watchdog"
is "$(vm_marker rf LOGIND1)" T "boot 1: systemd-logind is stopped (SIGSTOP)"
j=$(mj "$b1" "$b2")
diag "medicd, boot 1 (console):" "$j"
like "$j" 'Rebooting the node by systemd for rule reboot-flag' "boot 1: the systemd step is tried first"
like "$j" 'The systemd reboot did not happen within 5s; trying the next method' "boot 1: its deadline passes"
like "$j" 'Rebooting the node by sysrq for rule reboot-flag' "boot 1: then sysrq"
k=$(kern "$b1" "$b2")
diag "kernel, boot 1:" "$k"
is "$(printf '%s\n' "$k" | tr '\n' '|')" "sysrq: Emergency Sync|sysrq: Emergency Remount R/O|sysrq: Resetting|" \
        "boot 1: the kernel ran sysrq s, u, b in that order"
t_sd=$(mjt "$b1" "$b2" 'Rebooting the node by systemd')
t_next=$(mjt "$b1" "$b2" 'The systemd reboot did not happen')
t_s=$(kernt "$b1" "$b2" 'sysrq: Emergency Sync')
t_b=$(kernt "$b1" "$b2" 'sysrq: Resetting')
t_reset=$(reset_after "$t_s")
diag "boot 1 (host clock, s): systemd step $t_sd, its deadline $t_next, sysrq s $t_s, b $t_b, QMP RESET $t_reset, BOOT 2 $b2"
ok "boot 1: sysrq took over about 5 s after the systemd step" python3 -c "import sys; sys.exit(not 3.5 <= $t_s - $t_sd <= 12)"
ok "boot 1: the guest reset within sysrq's deadline (20 s)" python3 -c "import sys; sys.exit(not 0 < $t_reset - $t_s < 20)"
j=$(vm_marker rf J-2)
diag "persistent journal of boot 1 (read in boot 3):" "$j"
like "$j" 'The systemd reboot did not happen within 5s' "boot 1's journal (persistent): the systemd step's deadline"
like "$j" "sysrq: wrote 's'" "boot 1's journal (persistent): sysrq's sync (later lines die with the remount and the reset)"

# boot 2 -> 3: systemd and sysrq unavailable, the watchdog
like "$(vm_marker rf RELEASED)" null "boot 2: the slot was released after the sysrq reboot"
like "$(vm_marker rf LOGIND2)" 'masked' "boot 2: systemd-logind is masked"
is "$(vm_marker rf RO)" read-only "boot 2: the sysrq trigger file cannot be written"
j=$(mj "$(mt FLAG2)" "$b3")
diag "medicd, boot 2 after the flag (console):" "$j"
like "$j" 'The systemd reboot failed: logind refused' "boot 2: the systemd step fails at once"
like "$j" "The sysrq reboot failed: cannot write 's' to /run/vmt-sysrq-ro" "boot 2: the sysrq step fails"
like "$j" 'Stopped petting /dev/watchdog \(timeout 5s\)' "boot 2: medicd stops petting the watchdog"
unlike "$j" 'is busy: systemd owns it' "boot 2: medicd could open /dev/watchdog"
unlike "$j" 'did not reboot: every method was tried' "boot 2: no false 'reboot stuck'"
is "$(vm_get rf "[x.get('action') for t, e, x in d['events'] if e == 'WATCHDOG']")" '["reset"]' "QMP: one WATCHDOG event, action reset"
t_pet=$(mjt "$(mt FLAG2)" "$b3" 'Stopped petting')
t_wd=$(vm_get rf "([t for t, e, x in d['events'] if e == 'WATCHDOG'] or [0])[0]")
diag "boot 2 (host clock, s): last pet $t_pet, QMP WATCHDOG $t_wd, BOOT 3 $b3"
ok "the watchdog reset came 4-15 s after the last pet" python3 -c "import sys; sys.exit(not 3 <= $t_wd - $t_pet <= 15)"
# From the console copy of medic's journal: boot 2's persistent journal may lose its last
# seconds to the watchdog reset (nothing forces journald to sync before it).
like "$(mj "$b2" "$b3")" 'came back from the reboot for rule reboot-flag \(last method tried: sysrq\)' \
        "boot 2: medicd came back from the sysrq reboot"
diag "$(vm_marker rf BOOTS)"
done_testing
