#!/bin/bash
# SPDX-License-Identifier: MIT
# The kernel log from the systemd journal (where /dev/kmsg cannot be read): medicd reads
# journal files (kmsg = journal:DIR) written by systemd's own journal-remote, takes only the
# kernel's entries (_TRANSPORT=kernel), and follows new files as they appear.
. "$top_srcdir/tests/integration/lib.sh"
setup 60
JR=/lib/systemd/systemd-journal-remote
[ -x "$JR" ] || { echo "1..0 # SKIP systemd-journal-remote is not installed"; exit 0; }

mkdir -p "$T/journal" "$T/settings"
n=0
# entry TRANSPORT MESSAGE [AGE_SECONDS]: one journal entry, in journal export format.
entry() {
        local up mono real
        up=$(cut -d' ' -f1 /proc/uptime)
        mono=$(python3 -c "print(int((float('$up') - ${3:-0}) * 1e6))")
        real=$(python3 -c "import time; print(int((time.time() - ${3:-0}) * 1e6))")
        printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=%s\n_BOOT_ID=%s\n_TRANSPORT=%s\nPRIORITY=3\nSYSLOG_FACILITY=0\nMESSAGE=%s\n_MACHINE_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=test\n\n' \
                "$real" "$mono" "$(tr -d - < /proc/sys/kernel/random/boot_id)" "$1" "$2"
}
# journal: writes stdin (export format) as a new journal file in the directory medicd reads.
journal() { n=$((n + 1)); "$JR" -o "$T/journal/part$n.journal" - >/dev/null 2>&1; }

entry kernel "Linux version 6.1.0 (builder) #1 SMP" | journal
write_config "kmsg = journal:$T/journal" "settings_dir = $T/settings"
cp "$top_srcdir/checks/kernel-log.lua" "$T/checks/kernel-log.lua"
chmod 0644 "$T/checks/kernel-log.lua"
write_file "$T/settings/kernel-log.conf" <<'LUA'
every = "1h"
LUA
start_medicd
ok "kernel-hung-task is ok with a quiet kernel" wait_cond kernel-hung-task ok 5
is "$(ctl_json conditions | jget 'len([c for c in d["conditions"] if c["name"].startswith("kernel-")])')" 5 \
        "the five kernel conditions are there"

{
        entry kernel "INFO: task kworker/u8:2:1234 blocked for more than 120 seconds."
        entry syslog "INFO: task fake:1 blocked for more than 120 seconds."
} | journal
ok "a hung task from the journal makes kernel-hung-task problem (interval 1h)" wait_cond kernel-hung-task problem 5
is "$(cond_get kernel-hung-task 'c["details"]["count"]')" 1 "only the kernel's entry counts, not a syslog one"
like "$(cond_get kernel-hung-task message)" 'kworker/u8:2:1234' "the message quotes it"
entry kernel "Out of memory: Killed process 4242 (stress) total-vm:2097152kB" | journal
ok "an OOM kill from a new journal file is seen" wait_cond kernel-oom problem 5
ok "medicd logs where it reads from" log_has "Reading the kernel log from journal:$T/journal"
done_testing
