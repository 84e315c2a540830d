#!/bin/bash
# SPDX-License-Identifier: MIT
# Record first, act second: when medicd cannot record what it is about to do in its state
# directory, a reboot rule that fires must not reboot (no pre-reboot task, no reboot method,
# no reboot intent), must give the coordinator's permission back (local: nothing held; etcd:
# no holder key) and medicd must keep running. The state directory is
#   - a 1 MB tmpfs filled completely,
#   - the same tmpfs with a few pages left: small files (the local slot, the reboot intent)
#     still fit, state.json (the rule's counters, the disruption count) does not,
#   - a read-only bind mount (as after a remount read-only on I/O errors),
# and, as the positive control, the tmpfs with free space: then the node reboots. Each case
# with the local coordinator and with etcd. The mounts live in a private mount namespace
# (unshare -m) that ends with the test; devices are test files (lib.sh).
if [ "${MEDIC_TEST_MOUNT_NS:-}" != 1 ]; then
        if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
                MEDIC_TEST_MOUNT_NS=1 exec unshare -m --propagation private "$BASH" "$0" "$@"
        fi
        echo "1..0 # SKIP cannot create a private mount namespace (unshare -m needs root and CAP_SYS_ADMIN)"
        exit 0
fi
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 110
# The mounts go away with the namespace; detach them first so that $T can be removed.
trap 'rc=$?; umount -l "$T/state" 2>/dev/null; (exit $rc); _cleanup' EXIT

have_etcd=no
if command -v etcd >/dev/null; then
        have_etcd=yes
        start_etcd
fi
case_n=0

# new_node BACKEND: a fresh node (own name and group) whose state directory is mounted anew.
new_node() {
        case_n=$((case_n + 1))
        umount -l "$T/state" 2>/dev/null
        rm -rf "$T/state-src" "$T/lockdir" "$T/trigger"
        reboot_node "full$case_n-$$" "$1"
        reboot_rule_files
        # Conditions with large details: state.json is far bigger than the reboot intent.
        write_file "$T/checks/20-bulk.lua" <<'EOF'
check "inventory" { every = "1h", run = function()
  return ok("inventory taken", { blob = string.rep("x", 40000) })
end }
EOF
}

mount_tmpfs() { mount -t tmpfs -o size=1m,mode=0700 medic-test-state "$T/state"; }

# A bind mount, made read-only while medicd runs. Its lock file is a bind mount of its own that
# stays writable: a mount with a file open for writing cannot be made read-only, and medicd
# keeps the lock open (it is only flock()ed, never written).
mount_bind() {
        mkdir -p "$T/state-src" "$T/lockdir"
        : > "$T/state-src/lock"
        : > "$T/lockdir/lock"
        mount --bind "$T/state-src" "$T/state" && mount --bind "$T/lockdir/lock" "$T/state/lock"
}

# remount_ro: retried, as a temporary file medicd is writing just then makes the mount busy.
remount_ro() {
        local i
        for i in $(seq 30); do
                mount -o remount,bind,ro "$T/state" 2>/dev/null && return 0
                sleep 0.1
        done
        return 1
}

avail_kb() { df -k --output=avail "$T/state" | tail -n 1 | tr -d ' '; }

# fill_state KB_LEFT: fills the tmpfs, then frees KB_LEFT again. medicd may hold a temporary
# file while we fill; filling again after it is gone takes what it gave back.
fill_state() {
        local i
        for i in 1 2 3 4 5; do
                dd if=/dev/zero of="$T/state/filler" bs=4k oflag=append conv=notrunc status=none 2>/dev/null
                sleep 0.3
                [ "$(avail_kb)" = 0 ] && break
        done
        [ "$1" -gt 0 ] && truncate -s "-${1}K" "$T/state/filler"
}

big_state_saved() { [ "$(stat -c %s "$T/state/state.json" 2>/dev/null || echo 0)" -gt 40000 ]; }

# run_case BACKEND HOW: HOW is full, nearly-full, read-only or free (the positive control).
run_case() {
        local what="$1 backend, state directory $2"
        new_node "$1"
        case $2 in read-only) mount_bind ;; *) mount_tmpfs ;; esac || bail_out "cannot mount $T/state"
        start_medicd
        if ! wait_cond wants-reboot ok 10 || ! wait_for 10 big_state_saved; then
                fail "$what: medicd runs and saved its state" "$(ls -la "$T/state")"
                stop_medicd
                return
        fi
        case $2 in
        full) fill_state 0 ;;
        nearly-full) fill_state 16 ;;
        read-only) remount_ro || bail_out "cannot remount $T/state read-only" ;;
        esac
        diag "$what: $(avail_kb) KB free, $(awk -v d="$T/state" '$2 == d { print $4 }' /proc/mounts)"
        touch "$T/trigger"
        ok "$what: the trigger is seen" wait_cond wants-reboot problem 10
        if [ "$2" = free ]; then
                ok "$what: the node reboots (pre-reboot task ran)" wait_for 10 'test -s "$T/pre-ran"'
                ok "$what: a sysrq key was written" wait_for 5 'test -s "$T/sysrq-trigger"'
                is "$(permission_holder)" "$([ "$1" = etcd ] && echo "$MEDIC_NODE" || echo reboot-for-updates)" \
                        "$what: the permission is held for the reboot"
        else
                # The rule acts within a second or two when it can (the positive control).
                wait_for 5 reboot_started
                ok "$what: no pre-reboot task ran" test ! -s "$T/pre-ran"
                ok "$what: no reboot method was tried (sysrq test file untouched)" test ! -s "$T/sysrq-trigger"
                ok "$what: the permission is given back" wait_for 5 '[ -z "$(permission_holder)" ]'
                is "$(ctl_json status | jget 'd["reboot"]["phase"]')" idle "$what: medicctl status: no reboot in progress"
        fi
        ok "$what: medicd keeps running" daemon_alive
        stop_medicd
        umount -l "$T/state"
}

backends=local
[ $have_etcd = yes ] && backends="local etcd"
for b in $backends; do
        for how in free full nearly-full read-only; do
                run_case "$b" "$how"
        done
done
[ $have_etcd = yes ] || skip "etcd backend cases" "etcd is not installed (Debian package etcd-server)"
done_testing
