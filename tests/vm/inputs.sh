#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds (or finds in the cache) what the VM test bed boots, from Debian packages only:
#   kernel/   vmlinux (uncompressed, PVH: QEMU boots it directly), initramfs.cpio.gz (busybox
#             /init from tests/vm/init + the modules it loads), modules/ (a subset of the
#             kernel's modules for the root file system)
#   rootfs/   a Debian bookworm tree (debootstrap minbase + systemd + medicd's run-time
#             libraries), owned by root, never booted itself: each test copies it
#   build/    `make install DESTDIR=` of the current source tree configured for /usr
# Everything lives under $MEDIC_VM_CACHE (default /var/cache/medic-vm) in directories named
# after what they were made from (package versions, a hash of the sources), so a second run
# rebuilds nothing that did not change. Older entries are removed.
#
# Usage: inputs.sh SRCDIR      prints KEY=VALUE lines (KERNEL, INITRD, ROOTFS, DESTDIR,
#                              KVER, ACCEL_HINT) on stdout, progress on stderr.
# Exit status: 0 ready, 77 cannot run here (the reason on stdout: no root, no qemu, the
# Debian archive is unreachable), anything else a real failure.
set -euo pipefail
SRC=$(cd "${1:?usage: inputs.sh SRCDIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MEDIC_VM_CACHE:-/var/cache/medic-vm}
say() { echo "inputs: $*" >&2; }
skip() { echo "$*"; exit 77; }

[ "${MEDIC_SKIP_VM:-0}" = 0 ] || skip "MEDIC_SKIP_VM is set"
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, and a root-owned guest file system)"
for t in qemu-system-x86_64 debootstrap apt-get dpkg mke2fs debugfs depmod cpio python3 flock; do
        command -v "$t" >/dev/null || skip "$t is not installed"
done
# (Outputs are taken whole before matching: "cmd | grep -q" under pipefail fails when grep
# exits at the match and cmd, still writing, dies of SIGPIPE; busybox --list writes a line at
# a time, so that happened under load.)
accels=$(qemu-system-x86_64 -accel help 2>&1 || true)
grep -qx tcg <<< "$accels" || skip "qemu-system-x86_64 cannot run here: $(head -n 1 <<< "$accels")"
applets=$( [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null || true)
grep -qx switch_root <<< "$applets" || skip "busybox-static is not installed"
if ldd /bin/busybox >/dev/null 2>&1; then skip "/bin/busybox is not static (install busybox-static)"; fi

MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
MIRROR=${MEDIC_VM_MIRROR:-${MIRROR:-http://deb.debian.org/debian}}
SUITE=bookworm
ROOTFS_REV=2                    # bump when the root file system recipe below changes
# medicd's run-time libraries and what the tests use in the guest. Every Depends of the .deb is
# here (adduser too, for its postinst), since tests/vm/deb-install.sh installs it offline.
GUEST_PKGS="systemd-sysv udev kmod dbus libsystemd0 liblua5.4-0 libjson-c5 libinih1 libcurl4 libssl3
            libipmimonitoring6 libnl-3-200 libnl-route-3-200 adduser"

mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock -w 900 9 || { echo "inputs: cache $CACHE stayed locked for 15 minutes" >&2; exit 1; }

archive_reachable() {
        python3 - "$MIRROR/dists/$SUITE/Release" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=20).read(64)
except Exception as e:
    print(e, file=sys.stderr); sys.exit(1)
PY
}

# ---- kernel --------------------------------------------------------------------------------
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$KPKG" ] || skip "apt knows no linux-image-amd64 (no Debian archive configured)"
KVER=${KPKG#linux-image-}
# One apt-cache call for every version the cache keys need (each call costs seconds).
versions=$(apt-cache show --no-all-versions "$KPKG" $GUEST_PKGS systemd libc6 2>/dev/null |
        awk '/^Package:/{p=$2} /^Version:/{print p "=" $2}')
KDEB_VER=$(printf '%s\n' "$versions" | sed -n "s/^$KPKG=//p")
HASH_INIT=$(cat "$HERE/init" | sha256sum | cut -c1-12)
KDIR=$CACHE/kernel-$KVER-$KDEB_VER-$HASH_INIT
if [ ! -e "$KDIR/.done" ]; then
        say "building kernel inputs in $KDIR"
        rm -rf "$KDIR"; mkdir -p "$KDIR/tmp"
        if ! (cd "$KDIR/tmp" && apt-get download "$KPKG=$KDEB_VER" >/dev/null 2>"$KDIR/tmp/err"); then
                cat "$KDIR/tmp/err" >&2
                archive_reachable || { rm -rf "$KDIR"; skip "the Debian archive ($MIRROR) is unreachable"; }
                exit 1
        fi
        dpkg -x "$KDIR"/tmp/*.deb "$KDIR/tmp/x"
        KX=$KDIR/tmp/x
        python3 - "$KX/boot/vmlinuz-$KVER" "$KDIR/vmlinux" <<'PY'
# The uncompressed ELF vmlinux carries a PVH note: QEMU -kernel boots it without the
# in-guest xz decompression (about 3 s faster under TCG).
import lzma, sys
d = open(sys.argv[1], "rb").read()
o = d.find(b"\xfd7zXZ\x00")
assert o > 0, "no xz payload in the bzImage"
open(sys.argv[2], "wb").write(lzma.LZMADecompressor().decompress(d[o:]))
PY
        R=$KDIR/tmp/initramfs; mkdir -p "$R"/bin "$R"/proc "$R"/sys "$R"/dev "$R"/newroot "$R/lib/modules"
        cp /bin/busybox "$R/bin/busybox"; ln -s busybox "$R/bin/sh"
        install -m755 "$HERE/init" "$R/init"
        for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
                 crc16 mbcache jbd2 crc32c_generic ext4; do
                f=$(find "$KX/lib/modules/$KVER" -name "$m.ko*" -print -quit)
                [ -n "$f" ] || { echo "inputs: module $m not in $KPKG" >&2; exit 1; }
                case "$f" in      # busybox insmod cannot decompress
                *.ko.xz) xz -dc "$f" > "$R/lib/modules/$m.ko" ;;
                *.ko.zst) zstd -dc "$f" > "$R/lib/modules/$m.ko" ;;
                *.ko.gz) gzip -dc "$f" > "$R/lib/modules/$m.ko" ;;
                *) cp "$f" "$R/lib/modules/$m.ko" ;;
                esac
        done
        (cd "$R" && find . | cpio -o -H newc --quiet | gzip -6) > "$KDIR/initramfs.cpio.gz"
        # Modules for the root file system: watchdogs, IPMI, virtio networking. udev loads
        # them by modalias, so they need modules.dep (depmod below, per root file system).
        M=$KDIR/modules/lib/modules/$KVER; mkdir -p "$M/kernel/drivers/net" "$M/kernel/net/core"
        cp -a "$KX/lib/modules/$KVER/kernel/drivers/watchdog" "$KX/lib/modules/$KVER/kernel/drivers/char" \
              "$KX/lib/modules/$KVER/kernel/drivers/virtio" "$M/kernel/drivers/"
        cp -a "$KX/lib/modules/$KVER/kernel/drivers/net/virtio_net.ko"* "$KX/lib/modules/$KVER/kernel/drivers/net/net_failover.ko"* \
              "$M/kernel/drivers/net/"
        cp -a "$KX/lib/modules/$KVER/kernel/net/core/failover.ko"* "$M/kernel/net/core/"
        cp "$KX/lib/modules/$KVER"/modules.builtin* "$KX/lib/modules/$KVER/modules.order" "$M/"
        rm -rf "$KDIR/tmp"
        touch "$KDIR/.done"
fi

# ---- root file system ----------------------------------------------------------------------
RKEY=$(printf '%s\n%s\n%s\n%s\n' "$SUITE" "$versions" "$KVER-$KDEB_VER" "$ROOTFS_REV" | sha256sum | cut -c1-16)
RDIR=$CACHE/rootfs-$RKEY
if [ ! -e "$RDIR/.done" ]; then
        say "building the Debian $SUITE root file system in $RDIR (debootstrap, about a minute)"
        rm -rf "$RDIR"; mkdir -p "$RDIR"
        R=$RDIR/tree
        if ! debootstrap --variant=minbase --include="$(echo $GUEST_PKGS | tr ' ' ,)" \
                        "$SUITE" "$R" "$MIRROR" > "$RDIR/debootstrap.log" 2>&1; then
                tail -n 20 "$RDIR/debootstrap.log" >&2
                archive_reachable || { rm -rf "$RDIR"; skip "the Debian archive ($MIRROR) is unreachable"; }
                exit 1
        fi
        cp -a "$KDIR/modules/lib/modules" "$R/lib/"
        depmod -b "$R" "$KVER"
        echo vmt > "$R/etc/hostname"
        echo "127.0.1.1 vmt" >> "$R/etc/hosts"
        echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > "$R/etc/fstab"
        chroot "$R" passwd -d root >/dev/null
        # Networking through QEMU's user-mode stack (DHCP from it; restrict=on on the host side).
        mkdir -p "$R/etc/systemd/network"
        printf '[Match]\nName=en* eth*\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' \
                > "$R/etc/systemd/network/50-vmt.network"
        chroot "$R" systemctl enable systemd-networkd.service >/dev/null 2>&1
        # Quiet console: no login prompt on the serial line the harness reads.
        chroot "$R" systemctl mask serial-getty@ttyS0.service getty@tty1.service >/dev/null 2>&1
        rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*
        touch "$RDIR/.done"
fi

# ---- the project's own build ---------------------------------------------------------------
# Configured for the paths a package uses; keyed by the content of the source files.
SHASH=$(cd "$SRC" && find configure.ac Makefile.am lib io lua detect coord act daemon ctl packaging checks rules man -type f \
                ! -name '*.o' ! -name '*~' ! -name 'medicd.service' ! -name .dirstamp ! -path '*/.deps/*' \
                -print0 2>/dev/null |
        sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
BDIR=$CACHE/build-$SHASH
if [ ! -e "$BDIR/.done" ]; then
        say "building medic from $SRC for /usr in $BDIR"
        rm -rf "$BDIR"; mkdir -p "$BDIR/src"
        # Not what tests running at the same time write into the tree (logs, package scratch),
        # and not while the install tests build packages in it (their lock, tests/install/lib.sh).
        exec 8> "${top_builddir:-$SRC}/.medic-packages.lock"
        flock -w 900 8 || true
        tar -C "$SRC" --exclude=./.git --exclude=./_run --exclude=./autom4te.cache --exclude='*.o' \
                --exclude='*.a' --exclude='*.log' --exclude='*.trs' --exclude=./rpm-build \
                --exclude=./deb-build --exclude=./packages --exclude='./medic-[0-9]*' \
                --warning=no-file-changed -cf - . | tar -C "$BDIR/src" -xf -
        exec 8>&-
        (
                cd "$BDIR/src"
                # Never `make distclean` here: the copied Makefile still names the original
                # tree in its absolute paths (clean-local would delete its packages/). Forget
                # the copied configuration instead; configure writes a new one.
                rm -f Makefile config.status config.log medic-build.h stamp-h1
                [ -x configure ] || autoreconf -fi >/dev/null 2>&1
                ./configure -q --prefix=/usr --sysconfdir=/etc --localstatedir=/var --runstatedir=/run
                make -j"$(nproc)" >/dev/null
                make install DESTDIR="$BDIR/dest" >/dev/null
        ) > "$BDIR/build.log" 2>&1 || { tail -n 30 "$BDIR/build.log" >&2; exit 1; }
        rm -rf "$BDIR/src"
        touch "$BDIR/.done"
fi

# Keep only the entries just used.
for d in "$CACHE"/kernel-* "$CACHE"/rootfs-* "$CACHE"/build-*; do
        [ -d "$d" ] || continue
        case $d in "$KDIR"|"$RDIR"|"$BDIR") ;; *) rm -rf "$d" ;; esac
done

echo "KERNEL=$KDIR/vmlinux"
echo "INITRD=$KDIR/initramfs.cpio.gz"
echo "ROOTFS=$RDIR/tree"
echo "DESTDIR=$BDIR/dest"
echo "KVER=$KVER"
