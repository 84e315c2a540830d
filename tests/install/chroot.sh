#!/bin/bash
# SPDX-License-Identifier: MIT
# The .deb in a fresh minimal Debian root built from the archive by mmdebstrap (or
# debootstrap): install (files, group, state and runtime directories, catalog, unit enabled),
# `medicd --check-config` on the shipped config, medicd running there in dry-run answering
# medicctl for root and group "medic" (and nobody else), an upgrade to a second build with a
# higher version keeping an edited conffile, remove keeping the state, purge removing it.
# The root is cached in $MEDIC_TEST_CACHE (default /var/cache/medic-test) for a week.
. "$top_srcdir/tests/install/lib.sh"
install_setup 600 root
need_cmd dpkg-buildpackage dpkg-dev
need_cmd dh debhelper
need_cmd unshare util-linux
if ! unshare --mount --pid --fork true 2>/dev/null; then
        echo "1..0 # SKIP cannot create mount and PID namespaces here (unshare --mount --pid failed)"
        exit 0
fi
if command -v mmdebstrap >/dev/null; then bootstrap=mmdebstrap
elif command -v debootstrap >/dev/null; then bootstrap=debootstrap
else echo "1..0 # SKIP neither mmdebstrap nor debootstrap is installed (Debian package mmdebstrap)"; exit 0
fi

# ---- the packages: this tree's build, and a rebuild with a higher version ----
deb1=$(build_deb)
[ -n "$deb1" ] && [ -f "$deb1" ] || { show_log "$T/make-deb.log"; bail_out "make deb failed"; }
v1=$(dpkg-deb -f "$deb1" Version)
deb2=$(build_deb "${v1%-*}-2~test")
[ -n "$deb2" ] && [ -f "$deb2" ] || { show_log "$T/make-deb-${v1%-*}-2~test.log"; bail_out "make deb DEB_VERSION=... failed"; }
v2=$(dpkg-deb -f "$deb2" Version)
ok "two builds: $v1 and $v2 (higher)" dpkg --compare-versions "$v2" gt "$v1"

# ---- a minimal Debian root: the essential packages, medic's dependencies, systemd ----
. /etc/os-release
suite=${MEDIC_TEST_SUITE:-${VERSION_CODENAME:-bookworm}}
mirror=${MEDIC_TEST_MIRROR:-http://deb.debian.org/debian}
deps=$(dpkg-deb -f "$deb1" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' | grep . | sort -u)
include=$(printf '%s\n' $deps systemd | sort -u | paste -sd, -)
key=$(printf '%s %s %s %s' "$bootstrap" "$suite" "$mirror" "$include" | md5sum | cut -c1-12)
tarball="$MEDIC_TEST_CACHE/root-$suite-$key.tar"
mkdir -p "$MEDIC_TEST_CACHE" 2>/dev/null
find "$MEDIC_TEST_CACHE" -maxdepth 1 -name "root-*.tar" -mtime +7 -delete 2>/dev/null
if [ ! -s "$tarball" ]; then
        diag "building a $suite root with $bootstrap ($include)"
        start=$(date +%s)
        if [ $bootstrap = mmdebstrap ]; then
                timeout 400 nice -n 19 mmdebstrap --variant=essential --format=tar --include="$include" "$suite" \
                        "$tarball.tmp" "$mirror" > "$T/bootstrap.log" 2>&1
        else
                mkdir -p "$T/bs" &&
                timeout 400 debootstrap --variant=minbase --include="$include" "$suite" "$T/bs" \
                        "$mirror" > "$T/bootstrap.log" 2>&1 &&
                tar -C "$T/bs" -cf "$tarball.tmp" .
        fi
        rc=$?
        rm -rf "$T/bs"
        if [ $rc -ne 0 ] || [ ! -s "$tarball.tmp" ]; then
                rm -f "$tarball.tmp"
                show_log "$T/bootstrap.log" 20
                skip "install into a fresh $suite root" \
                        "$bootstrap could not build a $suite root from $mirror (exit $rc; log above)"
                done_testing
        fi
        mv -f "$tarball.tmp" "$tarball"
        diag "root built in $(( $(date +%s) - start )) s, cached as $tarball"
fi
R="$T/root"
mkdir -p "$R"
tar -C "$R" -xf "$tarball" || bail_out "cannot unpack $tarball"
# Nothing may start services in there.
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d" && chmod 0755 "$R/usr/sbin/policy-rc.d"
cp "$deb1" "$R/tmp/medic-1.deb" && cp "$deb2" "$R/tmp/medic-2.deb"

# in_root CMD...: runs CMD in the root, in its own mount and PID namespaces with /proc mounted
# there: whatever it starts dies with it, and no mount is left behind.
in_root() {
        timeout 120 unshare --mount --pid --fork --mount-proc="$R/proc" \
                env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C DEBIAN_FRONTEND=noninteractive \
                chroot "$R" "$@" < /dev/null
}
status() { in_root dpkg-query -W -f '${Status} ${Version}' medic 2>/dev/null; }
mode() { in_root stat -c '%A %U:%G' "$1" 2>/dev/null; }   # names from the root's group file
has_group() { in_root getent group "$1" > /dev/null; }

# ---- install ----
out=$(in_root dpkg -i /tmp/medic-1.deb 2>&1); rc=$?
is "$rc" 0 "dpkg -i $(basename "$deb1") in a fresh $suite root"
[ $rc -eq 0 ] || diag "$out"
is "$(status)" "install ok installed $v1" "medic $v1 is installed"
for f in /usr/sbin/medicd /usr/bin/medicctl /etc/medic/medic.conf /lib/systemd/system/medicd.service \
        /usr/lib/systemd/catalog/medic.catalog /usr/lib/tmpfiles.d/medic.conf \
        /usr/share/bash-completion/completions/medicctl /usr/share/man/man8/medicd.8.gz \
        /usr/share/medic/rules/50-reboot.lua /usr/share/medic/checks/reboot-required.lua; do
        ok "in place: $f" test -f "$R$f"
done
ok "group medic exists" has_group medic
is "$(mode /var/lib/medic)" "drwx------ root:root" "/var/lib/medic: 0700 root:root"
is "$(mode /run/medic)" "drwxr-x--- root:medic" "/run/medic (tmpfiles): 0750 root:medic"
ok "medicd.service is enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/medicd.service"
n=$(in_root journalctl --list-catalog 2>/dev/null | grep -c ' medic: ')
n_ids=$(grep -c '^#define MEDIC_MSG_' "$top_srcdir/io/log.h")
is "$n" "$n_ids" "systemd's trigger compiled the catalog: journalctl lists $n_ids medic entries"
is "$(in_root medicd --version)" "medicd ${v1%-*}" "medicd --version"

out=$(in_root medicd --check-config 2>&1); rc=$?
is "$rc" 0 "medicd --check-config on the shipped config exits 0"
like "$out" '^configuration OK' "medicd --check-config: configuration OK"

# medicd from the package, with the shipped config (dry-run), in the root: medicctl answers
# root and group medic, and nobody else; changes stay root-only.
in_root bash -c '
        medicd > /tmp/medicd.log 2>&1 &
        for i in $(seq 100); do medicctl status > /dev/null 2>&1 && break; sleep 0.1; done
        echo "root-json: $(medicctl --json status | tr -d "\n ")"
        setpriv --reuid=65534 --regid=65534 --groups="$(getent group medic | cut -d: -f3)" medicctl status > /dev/null 2>&1
        echo "group-status: $?"
        setpriv --reuid=65534 --regid=65534 --groups="$(getent group medic | cut -d: -f3)" medicctl reload > /dev/null 2>&1
        echo "group-reload: $?"
        setpriv --reuid=65534 --regid=65534 --clear-groups medicctl status > /dev/null 2>&1
        echo "other-status: $?"
        echo "socket: $(stat -c "%A %U:%G" /run/medic/medicd.sock)"
        kill -TERM %1; wait
        echo "stopped: $?"
' > "$T/run.out" 2>&1
diag "$(cat "$T/run.out")"
like "$(cat "$T/run.out")" '"dry_run":true' "the installed medicd runs in dry-run with the shipped config"
like "$(cat "$T/run.out")" '"ok":true' "medicctl status answers root"
like "$(cat "$T/run.out")" 'group-status: 0' "a member of group medic may run medicctl status"
like "$(cat "$T/run.out")" 'group-reload: 1' "a member of group medic may not reload (medicd refuses)"
like "$(cat "$T/run.out")" 'other-status: 3' "a user outside group medic cannot reach the socket"
like "$(cat "$T/run.out")" 'stopped: 0' "medicd stops cleanly on SIGTERM"
ok "medicd saved its state in /var/lib/medic" test -s "$R/var/lib/medic/state.json"

# ---- upgrade keeps an edited conffile ----
echo "# edited by the install test" >> "$R/etc/medic/medic.conf"
sed -i 's/^# log_level = info$/log_level = notice/' "$R/etc/medic/medic.conf"
edited=$(md5sum < "$R/etc/medic/medic.conf")
out=$(in_root dpkg -i /tmp/medic-2.deb 2>&1); rc=$?
is "$rc" 0 "upgrade: dpkg -i $(basename "$deb2")"
[ $rc -eq 0 ] || diag "$out"
is "$(status)" "install ok installed $v2" "upgrade: medic $v2 is installed"
is "$(md5sum < "$R/etc/medic/medic.conf")" "$edited" "upgrade: the edited /etc/medic/medic.conf is kept"
ok "upgrade: no .dpkg-new or .dpkg-dist copy of medic.conf" \
        test ! -e "$R/etc/medic/medic.conf.dpkg-new" -a ! -e "$R/etc/medic/medic.conf.dpkg-dist"
ok "upgrade: the state is kept" test -s "$R/var/lib/medic/state.json"
out=$(in_root medicd --check-config 2>&1); rc=$?
is "$rc" 0 "upgrade: medicd --check-config passes on the edited config"

# ---- remove keeps the state and the conffile ----
out=$(in_root dpkg -r medic 2>&1); rc=$?
is "$rc" 0 "dpkg -r medic"
[ $rc -eq 0 ] || diag "$out"
like "$(status)" '^deinstall ok config-files' "remove: only the config files are left"
ok "remove: medicd is gone" test ! -e "$R/usr/sbin/medicd"
ok "remove: the state is kept" test -s "$R/var/lib/medic/state.json"
ok "remove: /etc/medic/medic.conf is kept" test -f "$R/etc/medic/medic.conf"

# ---- purge removes it ----
out=$(in_root dpkg -P medic 2>&1); rc=$?
is "$rc" 0 "dpkg -P medic"
[ $rc -eq 0 ] || diag "$out"
is "$(status)" "" "purge: medic is not known to dpkg any more"
ok "purge: /var/lib/medic is removed" test ! -e "$R/var/lib/medic"
ok "purge: /etc/medic is removed" test ! -e "$R/etc/medic"
ok "purge: /run/medic is removed" test ! -e "$R/run/medic"
ok "purge: the enablement symlink is removed" \
        test ! -e "$R/etc/systemd/system/multi-user.target.wants/medicd.service"

done_testing
