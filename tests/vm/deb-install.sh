#!/bin/bash
# SPDX-License-Identifier: MIT
# The .deb under a real systemd: `make deb` (shared with the install tests, tests/install/lib.sh)
# installed with `dpkg -i` inside a Debian bookworm guest that has no medic of its own (the
# image is made with --no-medic) and no archive: every dependency must already be in the root
# file system (GUEST_PKGS in inputs.sh). One boot checks:
#  - dpkg -i succeeds offline and leaves the package "install ok installed";
#  - the postinst enabled medicd.service and started it: active means systemd got READY=1
#    (Type=notify), and StatusText is what medicd sent with it;
#  - medicctl status answers over the control socket; the shipped config runs in dry-run;
#  - the postinst made the medic group and /var/lib/medic (0700);
#  - journalctl -u medicd holds medic's structured fields, sent through the native protocol.
. "$top_srcdir/tests/vm/vm-lib.sh"
. "$top_srcdir/tests/install/lib.sh"
need_cmd dpkg-buildpackage dpkg-dev
need_cmd dh debhelper
vm_setup 600

deb=$(build_deb)
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
        fail "make deb builds medic_*.deb" "log: $T/make-deb.log"
        show_log "$T/make-deb.log"
        done_testing
fi
pass "make deb builds $(basename "$deb")"
diag "Depends: $(dpkg-deb -f "$deb" Depends)"

# The guest gets the package and nothing else of medic's: no /etc/medic from vm_setup.
rm -rf "$T/guest/etc/medic"
mkdir -p "$T/guest/var/tmp"
cp "$deb" "$T/guest/var/tmp/medic.deb"
vm_guest_script <<'EOF'
#!/bin/bash
. /usr/local/lib/vmt/lib.sh
pre=""
for f in /usr/sbin/medicd /usr/bin/medicctl /etc/medic /lib/systemd/system/medicd.service \
         /usr/lib/systemd/system/medicd.service /usr/local/sbin/medicd; do
        [ -e "$f" ] && pre="$pre $f"
done
mark PRE "${pre:-none}"
# No archive in the guest: dpkg -i alone, and it fails on a missing dependency.
dpkg -i /var/tmp/medic.deb > /tmp/dpkg.log 2>&1
echo "rc=$?" >> /tmp/dpkg.log
mark_data DPKG < /tmp/dpkg.log
mark DPKG-STATUS "$(dpkg-query -W -f '${Status}' medic 2>&1)"
mark DPKG-AUDIT "$(dpkg --audit 2>&1 | wc -l)"
wait_until 60 systemctl is-active medicd
mark MEDICD-ENABLED "$(systemctl is-enabled medicd 2>&1)"
mark MEDICD-ACTIVE "$(systemctl is-active medicd 2>&1)"
systemctl show medicd -p Type -p MainPID -p NRestarts -p FragmentPath -p StatusText -p UnitFileState |
        mark_data MEDICD-SHOW
medicctl --json status > /tmp/status.json 2>&1; echo "rc=$?" >> /tmp/status.json
mark_data MEDICCTL-STATUS < /tmp/status.json
grep -E '^[[:space:]]*dry_run[[:space:]]*=' /etc/medic/medic.conf | mark_data CONF-DRY-RUN
mark GROUP "$(getent group medic | cut -d: -f1)"
mark STATEDIR "$(stat -c '%a %U' /var/lib/medic 2>&1)"
# The shipped checks run once at start; wait (bounded) for their entries in the journal.
wait_until 30 sh -c 'journalctl -o json -u medicd --no-pager | grep -q "\"MEDIC_CHECK\""'
journalctl -o json -u medicd --no-pager > /tmp/j.json
save journal.json < /tmp/j.json
mark JOURNAL "entries=$(wc -l < /tmp/j.json) medic_check=$(grep -c '"MEDIC_CHECK"' /tmp/j.json)" \
        "native=$(grep '"MEDIC_CHECK"' /tmp/j.json | grep -c '"_TRANSPORT":"journal"')"
EOF

ok "the guest image builds without the tree's medic" vm_image t1 --no-medic || bail_out "no image"
ok "the guest boots and powers itself off" vm_boot t1 --timeout 240
diag "boot: wall $(vm_get t1 "d['wall']") s, boots $(vm_get t1 "d['boots']"), accel $(vm_get t1 "d['cmd'][d['cmd'].index('-accel') + 1]")"
if ! vm_shutdown_ok t1; then
        fail "the guest powered off by itself" "QEMU: rc $(vm_get t1 "d['qemu_rc']"), timed out: $(vm_get t1 "d['timed_out']")"
        vm_show_log t1
else
        pass "the guest powered off by itself"
fi

is "$(vm_marker t1 PRE)" none "before dpkg -i the guest has no medicd, medicctl, /etc/medic or unit"
dpkg_out=$(vm_marker t1 DPKG)
like "$dpkg_out" '^rc=0$' "dpkg -i medic.deb succeeds offline (every dependency is in the root file system)" ||
        diag "$dpkg_out"
is "$(vm_marker t1 DPKG-STATUS)" "install ok installed" "dpkg: medic is install ok installed"
is "$(vm_marker t1 DPKG-AUDIT)" 0 "dpkg --audit finds nothing half-installed"

is "$(vm_marker t1 MEDICD-ENABLED)" enabled "the postinst enabled medicd.service"
is "$(vm_marker t1 MEDICD-ACTIVE)" active "the postinst started it: systemctl is-active medicd"
show=$(vm_marker t1 MEDICD-SHOW)
diag "$show"
like "$show" '^Type=notify$' "the unit is Type=notify (active means medicd sent READY=1)"
like "$show" '^FragmentPath=/lib/systemd/system/medicd.service$' "the unit is the package's, in /lib/systemd/system"
like "$show" '^StatusText=.+' "systemd holds the STATUS= medicd sent with READY=1"
like "$show" '^NRestarts=0$' "systemd did not restart it"

st=$(vm_marker t1 MEDICCTL-STATUS)
like "$st" '^rc=0$' "medicctl status answers inside the guest"
sj=$(printf '%s\n' "$st" | sed '/^rc=/d')
is "$(printf '%s\n' "$sj" | jget 'd["dry_run"]')" true "medicd runs the shipped config in dry-run"
mainpid=$(printf '%s\n' "$show" | sed -n 's/^MainPID=//p')
is "$(printf '%s\n' "$sj" | jget 'd["pid"]')" "$mainpid" "the pid medicctl reports is systemd's MainPID"
like "$(printf '%s\n' "$sj" | jget 'd["checks"]')" '^[1-9][0-9]*$' "medicd loaded the package's shipped checks"
like "$(vm_marker t1 CONF-DRY-RUN)" '^dry_run *= *yes$' "/etc/medic/medic.conf from the package says dry_run = yes"
is "$(vm_marker t1 GROUP)" medic "the postinst created the medic group"
is "$(vm_marker t1 STATEDIR)" "700 root" "the postinst created /var/lib/medic, 0700 root"

j=$(vm_marker t1 JOURNAL)
diag "journal: $j"
like "$j" 'medic_check=[1-9]' "journalctl -u medicd has entries with MEDIC_CHECK"
like "$j" 'native=[1-9]' "they came through the native journal protocol"
vm_read t1 /var/lib/vmt/out/journal.json > "$T/journal.json"
fields=$(python3 - "$T/journal.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if "MEDIC_CHECK" in e and "MEDIC_STATE" in e:
        print(" ".join("%s=%s" % (k, e[k]) for k in sorted(e) if k.startswith("MEDIC_") or k in
              ("MESSAGE_ID", "PRIORITY", "_SYSTEMD_UNIT", "_TRANSPORT", "SYSLOG_IDENTIFIER")))
        break
PY
)
diag "a condition entry: $fields"
like "$fields" 'MEDIC_CONDITION=[^ ]+' "a condition entry names the condition"
like "$fields" 'MEDIC_STATE=[a-z]+' "… its state"
like "$fields" 'MESSAGE_ID=[0-9a-f]{32}' "… has a MESSAGE_ID"
like "$fields" '_SYSTEMD_UNIT=medicd.service' "… and is attributed to medicd.service"
done_testing
