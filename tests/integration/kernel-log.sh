#!/bin/bash
# SPDX-License-Identifier: MIT
# The kernel log: medicd's kmsg source reads a FIFO (and then a regular file) in /dev/kmsg's
# format, fed by this test; the shipped checks/kernel-log.lua turns matching records into the
# kernel-* conditions, counted in windows, as soon as the records arrive. The host's
# /dev/kmsg is never written to.
. "$top_srcdir/tests/integration/lib.sh"
setup 90

# kmsg_line PRIO AGE_SECONDS MESSAGE: one record stamped AGE_SECONDS ago on CLOCK_MONOTONIC,
# the kernel's clock for /dev/kmsg, with the next sequence number (kept in a file: the
# callers run in pipelines, i.e. subshells).
echo 100 > "$T/seq"
kmsg_line() {
        local SEQ=$(( $(cat "$T/seq") + 1 ))
        echo "$SEQ" > "$T/seq"
        python3 -c 'import sys, time
usec = int((time.clock_gettime(time.CLOCK_MONOTONIC) - float(sys.argv[2])) * 1e6)
sys.stdout.write("%s,%s,%d,-;%s\n" % (sys.argv[1], sys.argv[3], max(usec, 0), sys.argv[4]))' "$1" "$2" "$SEQ" "$3"
}
# feed: writes stdin to the kmsg FIFO (bounded: medicd holds it open, so this never waits).
feed() { timeout 5 dd of="$T/kmsg" bs=64k status=none; }

mkfifo "$T/kmsg"
write_config "kmsg = $T/kmsg" "settings_dir = $T/settings"
cp "$top_srcdir/checks/kernel-log.lua" "$T/checks/kernel-log.lua"
mkdir -p "$T/settings"
# every = 1h: anything seen within seconds came through the kmsg event, not the interval.
write_file "$T/settings/kernel-log.conf" <<'LUA'
every     = "1h"
io_error  = { threshold = 3, window = "10m" }
hung_task = { window = "6s" }
fs_error  = { window = "1m" }
extra     = { nfs = { label = "NFS timeouts", patterns = { "nfs: server [^ ]+ not responding" } } }
LUA
start_medicd

for c in hung-task oom io-error fs-error mce nfs; do
        ok "kernel-$c is ok with an empty kernel log" wait_cond "kernel-$c" ok 5
done

# A hung task.
t0=$(now_ms)
kmsg_line 3 0 "INFO: task kworker/u8:2:1234 blocked for more than 120 seconds." | feed
ok "kernel-hung-task becomes problem on the record (interval 1h)" wait_cond kernel-hung-task problem 5
diag "hung task record to condition: $(( $(now_ms) - t0 )) ms"
like "$(cond_get kernel-hung-task message)" 'blocked for more than 120 seconds' "the message quotes the record"
is "$(cond_get kernel-hung-task 'c["details"]["count"]')" 1 "details count one hung task"
is "$(cond_get kernel-oom state)" ok "kernel-oom stays ok"

# An OOM kill, with the lines the kernel prints around it and a continuation line.
{
        kmsg_line 4 0 "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,task=stress,pid=4242,uid=0"
        kmsg_line 3 0 "Out of memory: Killed process 4242 (stress) total-vm:2097152kB, anon-rss:1048576kB"
        echo " SUBSYSTEM=memory"
} | feed
ok "kernel-oom becomes problem" wait_cond kernel-oom problem 5
is "$(cond_get kernel-oom 'c["details"]["count"]')" 1 "one OOM kill counted (the surrounding lines are not kills)"
like "$(cond_get kernel-oom 'c["details"]["messages"][0]["message"]')" 'Killed process 4242 \(stress\)' \
     "details list the message"

# I/O errors: threshold 3 in 10 minutes.
{
        kmsg_line 3 0 "blk_update_request: I/O error, dev sdb, sector 123456 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0"
        kmsg_line 3 0 "Buffer I/O error on dev sdb1, logical block 15432, async page read"
} | feed
sleep 1
ctl run-check kernel-io-error >/dev/null
is "$(cond_get kernel-io-error state)" ok "two I/O errors stay below the threshold of 3"
is "$(cond_get kernel-io-error 'c["details"]["count"]')" 2 "and are counted"
kmsg_line 3 0 "I/O error, dev sdb, sector 123464 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0" | feed
ok "the third I/O error within the window makes kernel-io-error problem" wait_cond kernel-io-error problem 5
like "$(cond_get kernel-io-error message)" '^3 I/O errors in the last 10m' "the message counts them"

# Outside the window (2 minutes old, window 1m), from user space, malformed: none count.
uptime=$(cut -d. -f1 /proc/uptime)
{
        [ "$uptime" -gt 200 ] && kmsg_line 2 120 "EXT4-fs error (device sda1): ext4_find_entry:1463: inode #2: comm ls: reading directory lblock 0"
        kmsg_line 14 0 "EXT4-fs error (device sda1): written by a user-space program"
        echo "not a kmsg record"
        echo "3,notanumber,0,-;EXT4-fs error (device sda1): bad sequence"
        kmsg_line 6 0 "usb 1-1: new high-speed USB device number 2 using xhci_hcd"
} | feed
sleep 1
ctl run-check kernel-fs-error >/dev/null
is "$(cond_get kernel-fs-error state)" ok "an fs error 2 min old, one from user space and malformed lines do not count"
[ "$uptime" -gt 200 ] || diag "(the machine is up for ${uptime}s only: no record 2 minutes old could be written)"
ok "medicd survives malformed records" daemon_alive

# A class added in the settings file.
kmsg_line 5 0 "nfs: server filer01 not responding, still trying" | feed
ok "the added class kernel-nfs becomes problem" wait_cond kernel-nfs problem 5
like "$(cond_get kernel-nfs message)" '^1 NFS timeouts' "with its label"

# The window slides: the hung task (window 6 s) ages out.
sleep 6
ctl run-check kernel-hung-task >/dev/null
is "$(cond_get kernel-hung-task state)" ok "kernel-hung-task is ok again once its record left the 6 s window"
is "$(cond_get kernel-oom state)" problem "kernel-oom (window 1h) still counts its kill"

# MCE, seen by every class's check at once (the records are read once per file).
kmsg_line 0 0 "mce: [Hardware Error]: Machine check events logged" | feed
ok "kernel-mce becomes problem" wait_cond kernel-mce problem 5
is "$(cond_get kernel-mce 'c["details"]["count"]')" 1 "one MCE record counted once"

# A flood larger than the ring: medicd keeps reading and stays responsive.
echo 1000 > "$T/seq"
python3 -c 'import sys, time
u = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6)
sys.stdout.write("".join("6,%d,%d,-;flood line %d\n" % (1000 + i, u, i) for i in range(5000)))' | feed
echo 6000 > "$T/seq"
kmsg_line 3 0 "INFO: task jbd2/sda1-8:321 blocked for more than 240 seconds." | feed
ok "after a flood of 5000 records a new hung task is still seen" wait_cond kernel-hung-task problem 10
ok "medicctl still answers" eval 'ctl status >/dev/null'

# Settings are read on every run: a bad pattern makes the checks unknown, with the reason.
echo 'oom = { patterns = { "(unclosed" } }' | write_file "$T/settings/kernel-log.conf"
ctl run-check kernel-oom >/dev/null
is "$(cond_get kernel-oom state)" unknown "a bad pattern in kernel-log.conf makes kernel-oom unknown"
like "$(cond_get kernel-oom message)" 'invalid regular expression' "with the reason"
echo 'oom = { window = 3600 }; mce = { enabled = false }' | write_file "$T/settings/kernel-log.conf"
ctl run-check kernel-oom >/dev/null
is "$(cond_get kernel-oom state)" problem "fixed settings apply at the next run, without a reload"
ctl run-check kernel-mce >/dev/null
is "$(cond_get kernel-mce state)" null "mce = { enabled = false } removes kernel-mce (skip)"

stop_medicd

# A regular file in kmsg format, followed as it grows.
rm -f "$T/settings/kernel-log.conf" "$T/kmsg"
kmsg_line 1 0 "EXT4-fs error (device vdb): ext4_journal_check_start:83: comm kworker: Detected aborted journal" > "$T/kmsg"
start_medicd
ok "a regular kmsg file: records already there are read (kernel-fs-error)" wait_cond kernel-fs-error problem 5
kmsg_line 2 0 "mce: [Hardware Error]: CPU 0: Machine Check: 0 Bank 4: b200000000070005" >> "$T/kmsg"
ok "records appended to the file are read (kernel-mce)" wait_cond kernel-mce problem 5
stop_medicd

# The real /dev/kmsg, read-only (medicd opens it O_RDONLY; nothing here writes to it).
if [ -r /dev/kmsg ] && timeout 2 dd if=/dev/kmsg iflag=nonblock bs=8k count=1 status=none >/dev/null 2>&1; then
        write_config "settings_dir = $T/settings"
        write_file "$T/checks/kmsg-info.lua" <<'LUA'
check "kmsg-info" { every = "1h", run = function()
  local i, err = medic.kmsg_info()
  if not i then return unknown(err) end
  return ok(i.path .. " " .. i.held, i)
end }
LUA
        start_medicd
        ok "with the default kmsg = /dev/kmsg the source reads the kernel's records" \
           wait_for 5 '[ "$(cond_get kmsg-info "c[\"details\"][\"held\"] > 0")" = true ]'
        is "$(cond_get kmsg-info 'c["details"]["path"]')" /dev/kmsg "from /dev/kmsg"
        st=$(cond_get kernel-oom state)
        ok "kernel-oom gives a definite answer on the real kernel log ($st: $(cond_get kernel-oom message))" \
           test "$st" = ok -o "$st" = problem
else
        skip "the real /dev/kmsg" "/dev/kmsg is not readable here"
fi
done_testing
