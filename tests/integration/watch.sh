#!/bin/bash
# SPDX-License-Identifier: MIT
# Watched paths (check field `watch`, inotify on each file's directory): the shipped
# reboot-request check reacts to its flag file within a second or so, not at its 1 m poll; a
# check whose directory appears later watches it from its next run; the stop file is watched
# too; a bad path is refused at its file:line.
. "$top_srcdir/tests/integration/lib.sh"
setup 60
[ -r /proc/sys/fs/inotify/max_user_watches ] || { echo "1..0 # SKIP no inotify"; exit 0; }

mkdir -p "$T/flags"
reboot_request_check "$T/flags/reboot-request"
# every = 1h: only the watch can make it run again; the directory appears after the start.
write_file "$T/checks/late.lua" <<LUA
check "late" { every = "1h", watch = { "$T/late/flag" }, run = function()
  if medic.exists("$T/late/flag") then return problem("flag") end
  return ok("no flag")
end }
LUA
start_medicd
ok "reboot-request: ok at first" wait_cond reboot-request ok 5

t0=$(now_ms)
echo "kernel update" > "$T/flags/reboot-request"
ok "reboot-request: the flag file is seen at once (not at the 1 m poll)" wait_cond reboot-request problem 3
diag "noticed after $(( $(now_ms) - t0 )) ms (this test's own polling included)"
like "$(cond_get reboot-request message)" "kernel update" "with the reason the file gives"
rm -f "$T/flags/reboot-request"
ok "reboot-request: its removal too" wait_cond reboot-request ok 3

ok "late: ok at first" wait_cond late ok 5
mkdir "$T/late"
ctl run-check late >/dev/null   # the run after the directory appeared arms the watch
touch "$T/late/flag"
ok "late: a directory that appeared after the start is watched from the next run" wait_cond late problem 3
rm -f "$T/late/flag"
ok "late: the removal is seen too" wait_cond late ok 3
# The directory goes and comes back: watched again after the next run.
rmdir "$T/late"
sleep 0.3
mkdir "$T/late"
ctl run-check late >/dev/null
touch "$T/late/flag"
ok "late: a directory removed and created again is watched again" wait_cond late problem 3

# The stop file (medic.conf stop_file): its appearance makes medicd decide again at once.
mark=$(log_mark)
touch "$T/stop"
ok "the stop file is watched: medicd decides again when it appears" \
   wait_for 3 "log_has_since $mark 'Stop file $T/stop changed'"
rm -f "$T/stop"
stop_medicd

write_file "$T/bad.lua" <<'LUA'
check "bad" { every = "1m", watch = { "relative/path" }, run = function() return ok() end }
LUA
out=$(timeout 20 "$MEDICD" --lint "$T/bad.lua" 2>&1)
like "$out" "bad.lua:1: .*watch: 'relative/path' is not an absolute path" "a relative path is refused at its file:line"
done_testing
