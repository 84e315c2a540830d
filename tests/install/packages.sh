#!/bin/bash
# SPDX-License-Identifier: MIT
# `make deb` and `make rpm`: both build; lintian finds no error in the .deb; the .deb holds
# every file in its place (the config a conffile, in dry-run; maintainer scripts that create
# the group and the state directory); `rpm -qlp` lists the same payload as the .deb.
. "$top_srcdir/tests/install/lib.sh"
install_setup 900 root
need_cmd dpkg-buildpackage dpkg-dev
need_cmd dh debhelper

# ---- .deb ----
deb=$(build_deb)
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
        fail "make deb builds medic_*.deb" "log: $T/make-deb.log"
        show_log "$T/make-deb.log"
        done_testing
fi
pass "make deb builds $(basename "$deb")"
is "$(dpkg-deb -f "$deb" Package)" medic "the package is called medic"
like "$(dpkg-deb -f "$deb" Version)" "^$(_pkg_version)-" "its version is configure's $(_pkg_version)"
like "$(dpkg-deb -f "$deb" Depends)" '(^|, )adduser(,|$)' "it depends on adduser (addgroup in postinst)"

contents=$(dpkg-deb -c "$deb" | awk '{ print $1, $NF }' | sed 's| \./| /|')
has_file() { printf '%s\n' "$contents" | grep -qx -- "$1 $2"; }
for f in "-rwxr-xr-x /usr/sbin/medicd" "-rwxr-xr-x /usr/bin/medicctl" "-rwxr-xr-x /usr/libexec/medic/medic-ipmi" \
        "-rw-r--r-- /etc/medic/medic.conf" "-rw-r--r-- /lib/systemd/system/medicd.service" \
        "-rw-r--r-- /usr/lib/systemd/catalog/medic.catalog" \
        "-rw-r--r-- /usr/lib/tmpfiles.d/medic.conf" "-rw-r--r-- /usr/lib/sysusers.d/medic.conf" \
        "-rw-r--r-- /usr/share/bash-completion/completions/medicctl" \
        "-rw-r--r-- /usr/share/medic/rules/50-reboot.lua" \
        "-rwxr-xr-x /usr/share/medic/medic-etcd-roles" \
        "-rw-r--r-- /usr/share/man/man8/medicd.8.gz" "-rw-r--r-- /usr/share/man/man8/medicctl.8.gz" \
        "-rw-r--r-- /usr/share/man/man5/medic.conf.5.gz" "-rw-r--r-- /usr/share/man/man7/medic-lua.7.gz" \
        "-rw-r--r-- /usr/share/man/man7/medic-checks.7.gz"; do
        ok "in the .deb: $f" has_file "${f%% *}" "${f#* }"
done
# Every shipped check, as Makefile.am lists them (dist_checks_DATA).
checks=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" -f Makefile \
        -f <(printf 'medic-print-checks:\n\t@echo $(dist_checks_DATA)\n') medic-print-checks)
ok "Makefile.am ships checks" test -n "$checks"
for f in $checks; do
        ok "in the .deb: shipped check $(basename "$f")" has_file -rw-r--r-- "/usr/share/medic/checks/$(basename "$f")"
done
n_examples=$(printf '%s\n' "$contents" | grep -c ' /usr/share/medic/examples/.*\.lua$')
ok "the examples are in /usr/share/medic/examples ($n_examples)" test "$n_examples" -ge 1
# The rule packs (rules/examples/*/), their scripts executable.
for f in "-rw-r--r-- /usr/share/medic/examples/kured/kured.lua" "-rwxr-xr-x /usr/share/medic/examples/kured/need-reboot" \
        "-rw-r--r-- /usr/share/medic/examples/kured/reboot-sentinel.conf" \
        "-rw-r--r-- /usr/share/medic/examples/kured/prometheus-alerts.conf" \
        "-rw-r--r-- /usr/share/medic/examples/kubernetes/auto-healing.lua" \
        "-rwxr-xr-x /usr/share/medic/examples/kubernetes/restart-runtime" \
        "-rwxr-xr-x /usr/share/medic/examples/kubernetes/10-cordon-drain" \
        "-rw-r--r-- /usr/share/medic/examples/staged/staged.lua" \
        "-rw-r--r-- /usr/share/medic/examples/staged/staged-checks.lua" \
        "-rwxr-xr-x /usr/share/medic/examples/staged/apply-updates" \
        "-rw-r--r-- /usr/share/medic/examples/openstack/openstack.lua" \
        "-rw-r--r-- /usr/share/medic/examples/openstack/openstack-checks.lua" \
        "-rwxr-xr-x /usr/share/medic/examples/openstack/20-evacuate"; do
        ok "in the .deb: pack file ${f#* }" has_file "${f%% *}" "${f#* }"
done
# Prometheus rules and the Grafana dashboard (packaging/monitoring/).
for f in "-rw-r--r-- /usr/share/medic/monitoring/medic-alerts.yml" "-rw-r--r-- /usr/share/medic/monitoring/medic-dashboard.json"; do
        ok "in the .deb: monitoring file ${f#* }" has_file "${f%% *}" "${f#* }"
done
unlike "$contents" ' /var/lib/medic' "the state directory is not in the payload (postinst creates it)"

mkdir -p "$T/deb"
dpkg-deb -R "$deb" "$T/deb"
is "$(cat "$T/deb/DEBIAN/conffiles")" "/etc/medic/medic.conf" "/etc/medic/medic.conf is the conffile"
like "$(grep -E '^[[:space:]]*dry_run[[:space:]]*=' "$T/deb/etc/medic/medic.conf")" \
        '^dry_run *= *yes$' "the shipped medic.conf runs in dry-run"
cmp -s "$T/deb/etc/medic/medic.conf" "$top_srcdir/packaging/medic.conf"
is $? 0 "the shipped medic.conf is packaging/medic.conf"
like "$(cat "$T/deb/DEBIAN/postinst")" 'addgroup --system' "postinst creates the medic group"
like "$(cat "$T/deb/DEBIAN/postinst")" 'install -d -o root -g root -m 0700 /var/lib/medic' \
        "postinst creates /var/lib/medic with mode 0700"
like "$(cat "$T/deb/DEBIAN/postinst")" 'systemd-tmpfiles .*--create medic.conf' \
        "postinst applies tmpfiles.d/medic.conf (/run/medic for group medic)"
like "$(cat "$T/deb/DEBIAN/postinst")" "deb-systemd-helper enable 'medicd.service'" "postinst enables medicd.service"
like "$(sed -n '/^purge)/,/;;/p' "$T/deb/DEBIAN/postrm")" 'rm -rf /var/lib/medic' "postrm purge removes the state"
ExecStart=$(sed -n 's/^ExecStart=//p' "$T/deb/lib/systemd/system/medicd.service")
is "$ExecStart" "/usr/sbin/medicd --config /etc/medic/medic.conf" "the unit runs /usr/sbin/medicd with /etc/medic/medic.conf"
strings "$T/deb/usr/bin/medicctl" | grep -qx '/run/medic/medicd.sock'
is $? 0 "medicctl was built with the socket /run/medic/medicd.sock (--runstatedir=/run)"
strings "$T/deb/usr/sbin/medicd" | grep -qx '/var/lib/medic'
is $? 0 "medicd was built with the state directory /var/lib/medic"

# ---- lintian ----
if command -v lintian >/dev/null; then
        timeout 300 nice -n 19 lintian --pedantic --no-tag-display-limit "$deb" > "$T/lintian.out" 2>&1
        errors=$(grep '^E: ' "$T/lintian.out")
        is "$errors" "" "lintian: no errors"
        diag "lintian says:" "$(grep -E '^[EWIPX]: ' "$T/lintian.out")"
        # Kept warnings, each for a reason (README.md, "Installing from packages").
        unexpected=$(grep '^W: ' "$T/lintian.out" | grep -v -e 'initial-upload-closes-no-bugs' \
                -e 'groff-message .*table text block will not fit on one page')
        is "$unexpected" "" "lintian: no warnings other than the documented ones"
else
        skip "lintian: no errors" "lintian not installed (Debian package lintian)"
        skip "lintian: no warnings other than the documented ones" "lintian not installed"
fi

# ---- .rpm ----
if ! command -v rpmbuild >/dev/null; then
        skip "make rpm" "rpmbuild not installed (Debian package rpm)"
        done_testing
fi
rpm=$(build_rpm)
if [ -z "$rpm" ] || [ ! -f "$rpm" ]; then
        fail "make rpm builds medic-*.rpm" "log: $T/make-rpm.log"
        show_log "$T/make-rpm.log"
        done_testing
fi
pass "make rpm builds $(basename "$rpm")"
grep -q '^+ make .*check-unit' "$T/make-rpm.log" 2>/dev/null || grep -q 'reusing the build' "$T/make-rpm.log"
is $? 0 "%check ran the unit tests"
is "$(rpm -qcp "$rpm")" "/etc/medic/medic.conf" "rpm: /etc/medic/medic.conf is the one config file"
like "$(rpm -qp --scripts "$rpm")" 'groupadd -r medic' "rpm: %pre creates the medic group"
is "$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" | grep ' /var/lib/medic$')" \
        "drwx------ /var/lib/medic" "rpm: owns /var/lib/medic with mode 0700"

# The same payload: every file (not directory) with its mode, in both packages. Left out:
# documentation (each distribution has its own layout and license files), rpm's
# /usr/lib/.build-id links. Compared as installed on a merged-/usr system (/lib is /usr/lib),
# and man pages without the compression suffix (Debian compresses them; rpm may or may not).
normalize() { sed -e 's| /lib/| /usr/lib/|' -e 's|\.gz$||' | grep -v -e ' /usr/share/doc/' \
        -e ' /usr/share/licenses/' -e ' /usr/lib/\.build-id/' | sort; }
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $1, $NF }' | sed 's| \./| /|' | normalize > "$T/payload.deb"
rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" | grep -v '^d' | normalize > "$T/payload.rpm"
ok "rpm: the monitoring files are in /usr/share/medic/monitoring" grep -qx -- "-rw-r--r-- /usr/share/medic/monitoring/medic-alerts.yml" "$T/payload.rpm"
ok "the payload lists are not empty ($(wc -l < "$T/payload.deb") files)" test -s "$T/payload.deb"
payload_diff=$(diff -u "$T/payload.deb" "$T/payload.rpm")
is "$payload_diff" "" "rpm -qlp lists the same files with the same modes as the .deb"

done_testing
