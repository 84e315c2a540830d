#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped failed-units check (checks/systemd-units.lua: medic.systemd.failed_units() over
# sd-bus) against a real systemd. The guest has vmt-broken.service, which fails at boot.
# medicd's condition must name it, clear after `systemctl reset-failed`, and name a unit
# that fails later (a transient unit from systemd-run); the journal has each change with
# MEDIC_CONDITION and MEDIC_STATE.
. "$top_srcdir/tests/vm/vm-lib.sh"
vm_setup 600

vm_medic_conf <<'EOF'
[medic]
dry_run = no
checks = /usr/share/medic/checks
rules = /etc/medic/rules.d

[coordinator]
backend = local
EOF
vm_file /etc/systemd/system/vmt-broken.service <<'EOF'
[Unit]
Description=VM test: a unit that fails at boot
[Service]
Type=oneshot
ExecStart=/bin/false
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$T/guest/etc/systemd/system/multi-user.target.wants"
ln -s /etc/systemd/system/vmt-broken.service "$T/guest/etc/systemd/system/multi-user.target.wants/"
vm_guest_script <<'EOF'
#!/bin/bash
. /usr/local/lib/vmt/lib.sh
wait_until 120 systemctl is-active medicd
systemctl list-units --state=failed --no-legend --plain | mark_data SYSTEMD-FAILED
medicctl --json run-check failed-units | mark_data AT-BOOT
systemctl reset-failed vmt-broken.service
medicctl --json run-check failed-units | mark_data AFTER-RESET
systemd-run --quiet --unit=vmt-late-fail.service /bin/sh -c 'exit 3'
wait_until 20 systemctl is-failed vmt-late-fail.service
mark LATE-STATE "$(systemctl is-failed vmt-late-fail.service)"
medicctl --json run-check failed-units > /dev/null
medicctl --json conditions | mark_data LATE     # the daemon's condition, not run-check's reply
journalctl -o json -u medicd --no-pager | grep '"MEDIC_CONDITION":"failed-units"' |
        sed -n 's/.*"MEDIC_STATE":"\([a-z]*\)".*/\1/p' | tr '\n' ' ' | mark_data JOURNAL-STATES
EOF

ok "the guest image builds" vm_image t3 || bail_out "no image"
ok "the guest boots and powers itself off" vm_boot t3 --timeout 300
diag "boot: wall $(vm_get t3 "d['wall']") s"
vm_shutdown_ok t3 || { fail "the guest powered off by itself"; vm_show_log t3; }

like "$(vm_marker t3 SYSTEMD-FAILED)" '^vmt-broken\.service' "systemd lists vmt-broken.service as failed"
c=$(vm_marker t3 AT-BOOT | jget 'd["condition"]')
diag "at boot: $c"
is "$(printf '%s\n' "$c" | jget 'd["state"]')" problem "the condition is problem while a unit failed"
is "$(printf '%s\n' "$c" | jget '[u["name"] for u in d["details"]["units"]]')" '["vmt-broken.service"]' "it names vmt-broken.service"
is "$(printf '%s\n' "$c" | jget 'd["details"]["units"][0]["active_state"]')" failed "with systemd's active state"
c=$(vm_marker t3 AFTER-RESET | jget 'd["condition"]')
is "$(printf '%s\n' "$c" | jget 'd["state"]')" ok "after reset-failed the condition is ok"
is "$(vm_marker t3 LATE-STATE)" failed "a transient unit failed later"
c=$(vm_marker t3 LATE | jget 'find(d["conditions"], "failed-units")')
diag "later: $c"
is "$(printf '%s\n' "$c" | jget 'd["state"]')" problem "medicd's condition reports it"
like "$(printf '%s\n' "$c" | jget 'd["message"]')" 'vmt-late-fail\.service' "by name"
states=$(vm_marker t3 JOURNAL-STATES)
diag "journal MEDIC_STATE of failed-units: $states"
like "$states" 'problem ok problem' "the journal has each change (problem, ok, problem) with MEDIC_CONDITION"
done_testing
