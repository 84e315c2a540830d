#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped dkms check (checks/dkms.lua):
#  1. its parser on recorded `dkms status` outputs of dkms 2.x, 3.0 and 3.1 (lua5.4 runs
#     tests/integration/dkms-parser.lua against the check file);
#  2. the same recordings through a real medicd, with a stand-in dkms that prints them;
#  3. the real dkms program on test trees (--dkmstree, --sourcetree, --installtree): a tiny
#     module is added, built against the installed kernel headers, installed, built for a
#     second kernel, made to diverge, uninstalled and removed, and the condition follows.
# Settings reach the check through settings_dir (medic.conf)/dkms.conf.
. "$top_srcdir/tests/integration/lib.sh"
setup 90

DATA="$top_srcdir/tests/data/dkms"
mkdir -p "$T/etc"
install -m 0644 "$top_srcdir/checks/dkms.lua" "$T/checks/dkms.lua"
sed -i "/^\[medic\]/a settings_dir = $T/etc" "$T/medic.conf"

# settings: writes $T/etc/dkms.conf from stdin.
settings() { write_file "$T/etc/dkms.conf"; }
run_dkms_check() { ctl run-check dkms >/dev/null 2>&1; }
state() { cond_get dkms state; }
message() { cond_get dkms message; }

# ---- 1. the parser -------------------------------------------------------------------------
if command -v lua5.4 >/dev/null; then
        while IFS= read -r line; do
                case $line in
                PASS\ *) pass "parser: ${line#PASS }" ;;
                FAIL\ *) desc=${line#FAIL }; fail "parser: ${desc%% :: *}" "${desc#* :: }" ;;
                *) fail "parser: unexpected output" "$line" ;;
                esac
        done < <(lua5.4 "$top_srcdir/tests/integration/dkms-parser.lua" "$top_srcdir/checks/dkms.lua" "$DATA" 2>&1)
else
        skip "parser unit tests" "lua5.4 (the interpreter) is not installed"
fi

# ---- 2. recorded outputs through medicd -----------------------------------------------------
cat > "$T/fake-dkms" <<EOF
#!/bin/sh
# prints a recorded 'dkms status'; any arguments are ignored
cat "$T/recorded"
EOF
chmod 0755 "$T/fake-dkms"
settings <<EOF
dkms = { "$T/fake-dkms" }
kernel = "6.1.0-26-amd64"
arch = "x86_64"
EOF
: > "$T/recorded"
start_medicd
ok "no modules registered: ok" wait_cond dkms ok 5
like "$(message)" "no dkms modules registered" "the message says so"

cp "$DATA/dkms3-mixed.txt" "$T/recorded"
run_dkms_check
is "$(state)" problem "dkms 3.x recording: problem for the configured kernel"
like "$(message)" "not installed for kernel 6\.1\.0-26-amd64: nvidia/535\.183\.01 \(built\), v4l2loopback/0\.12\.7 \(added\), acpi_call/1\.2\.2" \
     "the message lists what is missing and in which state"
is "$(cond_get dkms 'c["details"]["installed"]')" '["zfs/2.1.11", "r8168/8.052.01"]' "details list what is installed"
is "$(cond_get dkms 'len(c["details"]["missing"])')" 3 "details list three missing modules"

cp "$DATA/dkms2-ubuntu.txt" "$T/recorded"
settings <<EOF
dkms = { "$T/fake-dkms" }
kernel = "5.4.0-80-generic"
arch = "x86_64"
EOF
run_dkms_check
is "$(state)" problem "dkms 2.x recording: problem (wireguard only added)"
like "$(message)" "wireguard/1\.0\.20200520 \(added\)$" "only wireguard is missing for 5.4.0-80-generic"

cp "$DATA/dkms3-ok.txt" "$T/recorded"
settings <<EOF
dkms = { "$T/fake-dkms" }
kernel = "6.1.0-26-amd64"
arch = "x86_64"
EOF
run_dkms_check
is "$(state)" ok "everything installed for the next kernel: ok"
like "$(message)" "2 dkms modules installed for kernel 6\.1\.0-26-amd64; warnings: zfs/2\.1\.11: WARNING! Diff" \
     "the diverging module is mentioned as a warning"
settings <<EOF
dkms = { "$T/fake-dkms" }
kernel = "6.1.0-26-amd64"
arch = "x86_64"
strict = true
EOF
run_dkms_check
is "$(state)" problem "strict = true: the diverging module makes it a problem"

printf 'garbage that is not a status line\n' > "$T/recorded"
run_dkms_check
is "$(state)" unknown "output that does not parse: unknown"

# Settings that cannot be used, and a dkms that fails or is absent.
settings <<EOF
dkms = { "/bin/false" }
EOF
run_dkms_check
is "$(state)" unknown "dkms status exiting 1: unknown"
settings <<EOF
dkms = { "$T/fake-dkms" }
kernal = "typo"
EOF
run_dkms_check
like "$(state) $(message)" "^unknown .*unknown setting 'kernal'" "an unknown setting: unknown, naming it"
chmod 0664 "$T/etc/dkms.conf"
run_dkms_check
like "$(state) $(message)" "^unknown .*refusing: writable by group or others" "a group-writable settings file is refused"
settings <<EOF
dkms = { "$T/no-such-dkms" }
EOF
run_dkms_check
is "$(state)" null "dkms not installed: no condition (skip)"

# ---- 3. the real dkms on test trees ---------------------------------------------------------
DKMS=$(command -v dkms || true)
[ -z "$DKMS" ] && [ -x /usr/sbin/dkms ] && DKMS=/usr/sbin/dkms
if [ -z "$DKMS" ]; then
        skip "real dkms" "dkms is not installed (Debian package dkms)"
        done_testing
fi
diag "$("$DKMS" --version 2>&1 | head -1)"
ARCH=$(uname -m)
# Kernel headers to build against: a Debian linux-headers-* tree with a kernel config.
KH=""
for d in /usr/src/linux-headers-*; do
        [ -f "$d/.config" ] && [ -f "$d/Makefile" ] && { KH=${d#/usr/src/linux-headers-}; break; }
done
K2="99.0.0-1-medictest"                       # a newer kernel, built with KH's headers
D="$T/dkms"
mkdir -p "$D/tree" "$D/src/medictest-1.0" "$D/install" "$D/varlib" "$T/boot"
cat > "$D/src/medictest-1.0/medictest.c" <<'EOF'
#include <linux/module.h>
MODULE_LICENSE("GPL");
static int __init medictest_init(void) { return 0; }
static void __exit medictest_exit(void) { }
module_init(medictest_init);
module_exit(medictest_exit);
EOF
echo 'obj-m := medictest.o' > "$D/src/medictest-1.0/Makefile"
cat > "$D/src/medictest-1.0/dkms.conf" <<'EOF'
PACKAGE_NAME="medictest"
PACKAGE_VERSION="1.0"
BUILT_MODULE_NAME[0]="medictest"
DEST_MODULE_LOCATION[0]="/updates/dkms"
AUTOINSTALL="yes"
EOF
TREES=(--dkmstree "$D/tree" --sourcetree "$D/src" --installtree "$D/install")
# dk ARGS: the real dkms on the test trees. It runs in a private mount namespace where
# /var/lib/dkms (where dkms keeps its module-signing key) is a test directory.
dk() {
        if [ -d /var/lib/dkms ] && unshare -m --propagation private true 2>/dev/null; then
                unshare -m --propagation private sh -c 'mount --bind "$0" /var/lib/dkms && exec "$@"' \
                        "$D/varlib" "$DKMS" "${TREES[@]}" "$@"
        else
                "$DKMS" "${TREES[@]}" "$@"
        fi >> "$T/dkms-cmd.log" 2>&1
}
dk_ok() {
        local desc=$1
        shift
        if dk "$@"; then pass "$desc"; else fail "$desc" "dkms $* failed:" "$(tail -n 15 "$T/dkms-cmd.log")"; fi
}
real_status() { "$DKMS" "${TREES[@]}" status 2>&1; }

settings <<EOF
dkms = { "$DKMS", "--dkmstree", "$D/tree", "--sourcetree", "$D/src", "--installtree", "$D/install" }
boot = "$T/boot"
EOF
touch "$T/boot/vmlinuz-${KH:-6.1.0-1-medictest}"
run_dkms_check
is "$(state)" ok "real dkms, empty tree: ok"

dk_ok "dkms add" add -m medictest/1.0
like "$(real_status)" "^medictest/1\.0: added$" "dkms status says added"
run_dkms_check
is "$(state)" problem "added only: problem"
like "$(message)" "medictest/1\.0 \(added\)" "the message names the added module"

if [ -z "$KH" ]; then
        skip "real dkms build and install" "no kernel headers under /usr/src (Debian package linux-headers-amd64 or -cloud-amd64)"
        dk remove -m medictest/1.0 --all
        done_testing
fi
diag "building against the headers of $KH"
mkdir -p "$D/install/$KH" "$D/install/$K2"

dk_ok "dkms build for $KH (a real module build)" build -m medictest/1.0 -k "$KH"
like "$(real_status)" "^medictest/1\.0, $KH, $ARCH: built$" "dkms status says built"
run_dkms_check
is "$(state)" problem "built but not installed for the next kernel: problem"
like "$(message)" "for kernel $KH: medictest/1\.0 \(built\)" "the message says built"

dk_ok "dkms install for $KH" install --no-depmod -m medictest/1.0 -k "$KH"
ok "the module landed in the install tree" test -f "$D/install/$KH/updates/dkms/medictest.ko"
like "$(real_status)" "^medictest/1\.0, $KH, $ARCH: installed$" "dkms status says installed"
run_dkms_check
is "$(state)" ok "installed for the next kernel: ok"
is "$(cond_get dkms 'c["details"]["installed"]')" '["medictest/1.0"]' "details list the installed module"

touch "$T/boot/vmlinuz-$K2"
run_dkms_check
is "$(state)" problem "a newer kernel under boot without the module: problem"
like "$(message)" "for kernel $K2: medictest/1\.0 \(not built for this kernel\)" "the newest image is the next kernel"
is "$(cond_get dkms 'c["details"]["kernel"]')" "$K2" "details name the next kernel"

settings <<EOF
dkms = { "$DKMS", "--dkmstree", "$D/tree", "--sourcetree", "$D/src", "--installtree", "$D/install" }
boot = "$T/boot"
kernel = "$KH"
EOF
run_dkms_check
is "$(state)" ok "a configured next kernel overrides the newest image"
settings <<EOF
dkms = { "$DKMS", "--dkmstree", "$D/tree", "--sourcetree", "$D/src", "--installtree", "$D/install" }
boot = "$T/boot"
EOF

dk_ok "dkms build for a second kernel $K2" build -m medictest/1.0 -k "$K2" --kernelsourcedir "/usr/src/linux-headers-$KH"
dk_ok "dkms install for $K2" install --no-depmod -m medictest/1.0 -k "$K2" --kernelsourcedir "/usr/src/linux-headers-$KH"
is "$(real_status | grep -c ": installed$")" 2 "dkms status lists two kernels"
run_dkms_check
is "$(state)" ok "installed for both kernels: ok"

echo "locally changed" >> "$D/install/$K2/updates/dkms/medictest.ko"
like "$(real_status)" "$K2, $ARCH: installed \(WARNING! Diff between built and installed module!\)" \
     "dkms status warns about the diverging module"
run_dkms_check
is "$(state)" ok "a diverging module: still ok by default"
like "$(message)" "warnings: medictest/1\.0: WARNING! Diff between built and installed module!" "with the warning"
settings <<EOF
dkms = { "$DKMS", "--dkmstree", "$D/tree", "--sourcetree", "$D/src", "--installtree", "$D/install" }
boot = "$T/boot"
strict = true
EOF
run_dkms_check
is "$(state)" problem "a diverging module with strict = true: problem"

dk_ok "dkms uninstall for $K2" uninstall -m medictest/1.0 -k "$K2"
run_dkms_check
is "$(state)" problem "uninstalled from the next kernel: problem"
like "$(message)" "medictest/1\.0 \(built\)" "the module is back to built"

dk_ok "dkms remove --all" remove -m medictest/1.0 --all
is "$(real_status)" "" "dkms status is empty"
run_dkms_check
is "$(state)" ok "nothing registered any more: ok"
ok "the host's dkms tree was not touched" test ! -e /var/lib/dkms/medictest
done_testing
