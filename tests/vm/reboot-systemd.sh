#!/bin/bash
# SPDX-License-Identifier: MIT
# The reboot remedy with a real reboot through systemd (logind over D-Bus). One QEMU run:
#   boot 1: the guest script creates /run/vmt-reboot.flag (tmpfs: gone after the reboot);
#           the check wants-reboot turns problem, the rule `reboot {}` gets the local slot,
#           and medicd climbs the ladder (methods = systemd sysrq watchdog): logind reboots
#           the guest cleanly;
#   boot 2: medicd sees the recorded intent and a new boot id, runs the post-reboot task (a
#           marker file), keeps the local slot until the health check has been ok for the
#           settle time (10 s), then gives it back (coordinator.json holder null); the guest
#           powers off.
# The host checks: exactly two boots (the harness stops QEMU at a third), a clean systemd
# reboot in the journal of boot 1 with medic's "Rebooting the node by systemd", no sysrq
# and no watchdog, the post-reboot marker, and the slot released >= 10 s after the health
# gate opened.
. "$top_srcdir/tests/vm/vm-lib.sh"
vm_setup 600

vm_reboot_bed settle=10s
vm_file /etc/medic/post-reboot.d/10-marker 0755 <<'EOF'
#!/bin/sh
echo "$(date +%s.%N) $MEDIC_RULE" > /var/lib/vmt-post-reboot.marker
EOF
vm_guest_script <<'EOF'
#!/bin/bash
. /usr/local/lib/vmt/lib.sh
holder() { sed -n 's/.*"holder": *\([^,]*\),*$/\1/p' /var/lib/medic/coordinator.json 2>/dev/null; }
# medicd's journal of this boot, line by line on the console (survives any kind of reset)
journalctl -b -f -n all -u medicd -o cat --no-pager 2>/dev/null | while IFS= read -r l; do mark MJ "$l"; done &
wait_until 120 systemctl is-active medicd
mark ACTIVE "$(systemctl is-active medicd)"
case $(vmt_boot) in
1)
        vmt_stay
        mark HOLDER-BEFORE "$(holder)"
        touch /run/vmt-reboot.flag
        mark FLAG "$(date +%s.%N)"
        sleep 300 ;;                # medicd reboots the guest
*)
        wait_until 60 test -e /var/lib/vmt-post-reboot.marker
        mark POST "$(cat /var/lib/vmt-post-reboot.marker 2>/dev/null)"
        mark HOLDER-AFTER-POST "$(holder)"
        if wait_until 90 sh -c '[ -e /var/lib/medic/coordinator.json ] && grep -q "\"holder\": *null" /var/lib/medic/coordinator.json'; then
                mark RELEASED "$(date +%s.%N)"
        else
                mark RELEASED none
        fi
        mark INTENT "$([ -e /var/lib/medic/reboot-intent.json ] && echo present || echo gone)"
        medicctl --json status | mark_data STATUS
        medicctl --json history | mark_data HISTORY
        journalctl -b -1 -u medicd -o cat --no-pager | mark_data J1
        journalctl -b 0 -u medicd -o json --no-pager | mark_data J2JSON
        journalctl -b -1 -o cat --no-pager | grep -E 'System is rebooting|Reached target .*(Reboot|System Reboot)|Stopped .*medic' | mark_data SHUTDOWN1
        journalctl --list-boots --no-pager | mark_data BOOTS
        sleep 8                     # the flag is gone: nothing reboots again
        mark LATER "$(medicctl --json status | tr -d '\n ' | grep -o '"phase":"[a-z-]*"' | head -1)" ;;
esac
EOF

ok "the guest image builds" vm_image rs || bail_out "no image"
ok "the harness ran" vm_boot rs --timeout 420 --max-boots 2
diag "wall $(vm_get rs "d['wall']") s"
vm_shutdown_ok rs || { fail "the guest powered off by itself after boot 2"; vm_show_log rs 80; }
is "$(vm_get rs "d['boots']")" 2 "exactly one reboot: the counter disk says 2"
is "$(vm_get rs "' '.join(v for t, k, v in d['markers'] if k == 'BOOT')")" "1 2" "the serial console showed BOOT 1, 2 and no third"
is "$(vm_get rs "[e for t, e, x in d['events'] if e == 'WATCHDOG']")" "[]" "no watchdog reset"
like "$(vm_marker rs HOLDER-BEFORE)" '^(null)?$' "the local slot is free before the flag"

j1=$(vm_marker rs J1)
diag "medicd, boot 1:" "$j1"
like "$j1" 'Rule reboot-flag reboots the node: running the pre-reboot tasks' "boot 1: the rule starts the reboot"
like "$j1" 'Rebooting the node by systemd for rule reboot-flag' "boot 1: medic's \"Rebooting the node by systemd\""
unlike "$j1" 'sysrq: wrote' "boot 1: sysrq was not needed"
unlike "$j1" 'Stopped petting' "boot 1: the watchdog was not needed"
sd=$(vm_marker rs SHUTDOWN1)
diag "shutdown, boot 1:" "$sd"
like "$sd" 'System is rebooting' "boot 1: logind rebooted the system cleanly"

t_flag=$(vm_get rs "[t for t, k, v in d['markers'] if k == 'FLAG'][0]")
t_boot2=$(vm_get rs "[t for t, k, v in d['markers'] if k == 'BOOT' and v == '2'][0]")
diag "flag -> BOOT 2 on the console: $(python3 -c "print(round($t_boot2 - $t_flag, 1))") s (host clock)"

post=$(vm_marker rs POST)
like "$post" ' reboot-flag$' "boot 2: the post-reboot task ran (MEDIC_RULE=reboot-flag)"
holder=$(vm_marker rs HOLDER-AFTER-POST)
like "$holder" '^"[^"]+"$' "boot 2: the slot is still held after the post-reboot task ($holder)"
released=$(vm_marker rs RELEASED)
like "$released" "^[0-9]" "boot 2: the slot is given back (coordinator.json holder null)"
is "$(vm_marker rs INTENT)" gone "boot 2: the reboot intent is removed"

# The health gate, from medicd's own journal of boot 2 (realtime stamps of the guest).
gate=$(vm_marker rs J2JSON | python3 -c '
import json, sys
t = {}
for line in sys.stdin:
    try: e = json.loads(line)
    except ValueError: continue
    m = e.get("MESSAGE", "")
    if not isinstance(m, str): continue
    for key, pat in (("back", "came back from the reboot for rule reboot-flag"),
                     ("healthy", "Healthy after the reboot"),
                     ("done", "Reboot for rule reboot-flag done")):
        if pat in m and key not in t: t[key] = int(e["__REALTIME_TIMESTAMP"]) / 1e6
print(t.get("back", 0), t.get("healthy", 0), t.get("done", 0))')
read -r t_back t_healthy t_done <<< "$gate"
diag "boot 2: came back $t_back, healthy $t_healthy, released $t_done; post marker $post; released seen $released"
ok "boot 2: medicd logged that the node came back" python3 -c "import sys; sys.exit(not $t_back > 0)"
ok "boot 2: the release came after the health gate opened" python3 -c "import sys; sys.exit(not ($t_healthy > 0 and $t_done > 0))"
settled=$(python3 -c "print(round($t_done - $t_healthy, 2))")
diag "health gate open -> release: $settled s (settle = 10s)"
ok "the slot was kept for the settle time (>= 10 s of health)" python3 -c "import sys; sys.exit(not 10 <= $settled <= 20)"
ok "the post-reboot task ran before the release" python3 -c "import sys; sys.exit(not float('${post%% *}') <= $t_done)"

hist=$(vm_marker rs HISTORY)
diag "history: $(printf '%s\n' "$hist" | jget '[(h.get("kind"), h.get("decision")) for h in d["history"] if h.get("kind") == "reboot"]')"
like "$(vm_marker rs LATER)" '"phase":"idle"' "after the release medicd is idle, no second reboot"
diag "$(vm_marker rs BOOTS)"
done_testing
