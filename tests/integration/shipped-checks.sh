#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped check files (checks/) against real files: medicd runs in a private mount
# namespace where test directories are bind-mounted over /run, /boot and /lib/modules, so
# the checks read their real paths while the host is left alone.
. "$top_srcdir/tests/integration/lib.sh"
setup 90

if ! unshare -m --propagation private true 2>/dev/null; then
        echo "1..0 # SKIP cannot create a mount namespace (unshare -m)"
        exit 0
fi

release=$(uname -r)
mkdir -p "$T/fake/run" "$T/fake/boot" "$T/fake/modules"
cat > "$T/medicd-ns" <<WRAP
#!/bin/sh
exec unshare -m --propagation private sh -c '
  mount --bind "$T/fake/run" /run &&
  mount --bind "$T/fake/boot" /boot &&
  mkdir -p /lib/modules 2>/dev/null; mount --bind "$T/fake/modules" /lib/modules &&
  exec "\$0" "\$@"' "$MEDICD" "\$@"
WRAP
chmod 0755 "$T/medicd-ns"
MEDICD="$T/medicd-ns"
write_config
sed -i "s|^checks = .*|checks = $top_srcdir/checks|; s|^rules = .*|rules = $T/rules|" "$T/medic.conf"

# Start from a healthy node: no sentinel, modules present, only the running kernel.
mkdir -p "$T/fake/modules/$release"
touch "$T/fake/boot/vmlinuz-$release"
start_medicd

ok "reboot-required is ok without the sentinel" wait_cond reboot-required ok 5
ok "kernel-modules is ok while /lib/modules/$release exists" wait_cond kernel-modules ok 5
ok "newer-kernel is ok with only the running kernel" wait_cond newer-kernel ok 5

# Packages ask for a reboot.
printf 'linux-image-amd64\nlibc6\n' > "$T/fake/run/reboot-required.pkgs"
touch "$T/fake/run/reboot-required"
ctl run-check reboot-required >/dev/null
is "$(cond_get reboot-required state)" problem "reboot-required is problem with /run/reboot-required"
like "$(cond_get reboot-required message)" 'linux-image-amd64, libc6' "the message names the packages"
is "$(ctl_json conditions | jget '[c for c in d["conditions"] if c["name"] == "reboot-required"][0]["details"]["packages"]')" \
   '["linux-image-amd64", "libc6"]' "details list the packages"
rm -f "$T/fake/run/reboot-required" "$T/fake/run/reboot-required.pkgs"
ctl run-check reboot-required >/dev/null
is "$(cond_get reboot-required state)" ok "reboot-required is ok again once the sentinel is gone"

# The running kernel's modules disappear (an upgrade removed the package).
rmdir "$T/fake/modules/$release"
ctl run-check kernel-modules >/dev/null
is "$(cond_get kernel-modules state)" problem "kernel-modules is problem when /lib/modules/$release is gone"
like "$(cond_get kernel-modules message)" "$release" "the message names the running kernel"

# A newer kernel is installed.
touch "$T/fake/boot/vmlinuz-99.1.0-1-amd64" "$T/fake/boot/vmlinuz-1.0.0-1-amd64"
ctl run-check newer-kernel >/dev/null
is "$(cond_get newer-kernel state)" problem "newer-kernel is problem with a newer kernel under /boot"
like "$(cond_get newer-kernel message)" '99\.1\.0-1-amd64' "the message names the newest kernel"
rm -f "$T/fake/boot/"vmlinuz-*
ctl run-check newer-kernel >/dev/null
is "$(cond_get newer-kernel state)" null "newer-kernel yields no condition without kernel images (skip)"

# filesystems reads the real mount table: whatever it says, it must say something definite.
ctl run-check filesystems >/dev/null
state=$(cond_get filesystems state)
ok "filesystems gives a definite answer ($state: $(cond_get filesystems message))" \
   test "$state" = ok -o "$state" = problem -o "$state" = null
ok "the host's /run was not touched" test ! -e /run/reboot-required.pkgs -o -s /run/reboot-required.pkgs
done_testing
