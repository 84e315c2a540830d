#!/bin/bash
# SPDX-License-Identifier: MIT
# Interactive logins: the shipped checks/logins.lua reads a utmp file written by this test
# (real struct utmpx records, read back with util-linux's utmpdump to prove it), named in
# the check's settings file; the condition interactive-login blocks a rule while anyone is
# logged in. medic.logins() without a path is also asked once (logind or /var/run/utmp).
. "$top_srcdir/tests/integration/lib.sh"
setup 90

# write_utmp FILE [TYPE:USER:TTY:HOST:EPOCH:PID ...]: glibc's struct utmpx on Linux (384
# bytes: type, pid, line[32], id[4], user[32], host[256], exit, session, tv, addr_v6, pad).
write_utmp() {
        python3 - "$@" <<'PY'
import struct, sys
TYPES = {"RUN_LVL": 1, "BOOT_TIME": 2, "LOGIN_PROCESS": 6, "USER_PROCESS": 7, "DEAD_PROCESS": 8}
fmt = "<hxxi32s4s32s256shhiii4i20s"
assert struct.calcsize(fmt) == 384
out = b""
for spec in sys.argv[2:]:
    typ, user, tty, host, when, pid = spec.split(":")
    ident = tty[-4:].encode()
    out += struct.pack(fmt, TYPES[typ], int(pid), tty.encode(), ident, user.encode(), host.encode(),
                       0, 0, 0, int(when), 0, 0, 0, 0, 0, b"")
open(sys.argv[1] + ".tmp", "wb").write(out)
PY
        mv -f "$1.tmp" "$1"
}

cp "$top_srcdir/checks/logins.lua" "$T/checks/logins.lua"
write_config "settings_dir = $T/settings"
echo "utmp = \"$T/utmp\"" | write_file "$T/settings/logins.conf"

# A test check that is problem while $T/broken exists, and a rule on it that
# interactive-login blocks.
write_file "$T/checks/broken.lua" <<LUA
check "broken" { every = "1h", run = function()
  if medic.exists("$T/broken") then return problem("broken") end
  return ok("fine")
end }
LUA
write_file "$T/rules/fix.lua" <<LUA
rule "fix-it" {
  when   = "broken",
  remedy = command { "/bin/sh", "-c", "date +%s >> $T/fixed" },
  unless = { "interactive-login" },
  limit  = "5/1h",
  retry  = "1h",
}
LUA

boot=$(( $(date +%s) - 3600 ))
t_alice=$(( $(date +%s) - 600 ))
t_bob=$(( $(date +%s) - 120 ))
# Nobody logged in: boot and run-level records, a getty, a session that ended.
write_utmp "$T/utmp" "BOOT_TIME:reboot:~:6.1.0-18-amd64:$boot:0" "RUN_LVL:runlevel:~:6.1.0-18-amd64:$boot:53" \
        "LOGIN_PROCESS:LOGIN:tty1::$boot:501" "DEAD_PROCESS::pts/3::$t_alice:0"
if command -v utmpdump >/dev/null; then
        dump=$(utmpdump "$T/utmp" 2>/dev/null)
        like "$dump" '\[6\] \[00501\] \[tty1\] \[LOGIN' "utmpdump (util-linux) reads the test file as utmp"
else
        skip "utmpdump reads the test file" "utmpdump not installed"
fi
start_medicd

ok "interactive-login is ok with nobody logged in" wait_cond interactive-login ok 5
like "$(cond_get interactive-login message)" 'nobody is logged in' "the message says so"
touch "$T/broken"
ctl run-check broken >/dev/null
ok "the rule fires while nobody is logged in" wait_for 5 '[ -s "$T/fixed" ]'
rm -f "$T/broken"
ctl run-check broken >/dev/null

# alice over ssh, bob on the console, carol's session ended.
write_utmp "$T/utmp" "BOOT_TIME:reboot:~:6.1.0-18-amd64:$boot:0" \
        "USER_PROCESS:alice:pts/0:192.0.2.10:$t_alice:4242" "USER_PROCESS:bob:tty1::$t_bob:777" \
        "DEAD_PROCESS:carol:pts/1::$t_alice:0" "LOGIN_PROCESS:LOGIN:tty2::$boot:502"
if command -v utmpdump >/dev/null; then
        like "$(utmpdump "$T/utmp" 2>/dev/null)" '\[7\] \[04242\] \[ts/0\] \[alice *\] \[pts/0 *\] \[192\.0\.2\.10' \
             "utmpdump reads alice's USER_PROCESS record"
else
        skip "utmpdump reads alice's record" "utmpdump not installed"
fi
ctl run-check interactive-login >/dev/null
is "$(cond_get interactive-login state)" problem "interactive-login is problem with two users logged in"
msg=$(cond_get interactive-login message)
like "$msg" '^logged in: alice \(pts/0 from 192\.0\.2\.10 since [0-9-]+ [0-9:]+\), bob \(tty1 since ' \
     "the message lists the users, oldest session first, with tty, host and since"
is "$(cond_get interactive-login 'c["details"]["users"]')" '["alice", "bob"]' "details list the users (not carol)"
is "$(cond_get interactive-login '[s["since"] for s in c["details"]["sessions"]]')" "[$t_alice, $t_bob]" \
   "details give since for each session"
is "$(cond_get interactive-login '[(s["remote"], s["source"]) for s in c["details"]["sessions"]]')" \
   '[[true, "utmp"], [false, "utmp"]]' "alice is remote, bob local; both from utmp"

n_fixed=$(count_lines "$T/fixed")
touch "$T/broken"
ctl run-check broken >/dev/null
sleep 1
is "$(count_lines "$T/fixed")" "$n_fixed" "the rule does not fire while someone is logged in"
blk=$(ctl_json explain fix-it | jget '[s for s in d["steps"] if s["step"] == "blockers"][0]')
like "$blk" '"ok": false' "explain: the blockers step fails"
like "$blk" 'interactive-login' "explain names the blocker"

# Settings (read on every run): ignore alice; then count only remote sessions.
printf 'utmp = "%s"\nignore_users = { "alice" }\n' "$T/utmp" | write_file "$T/settings/logins.conf"
ctl run-check interactive-login >/dev/null
is "$(cond_get interactive-login 'c["details"]["users"]')" '["bob"]' "ignore_users leaves alice out"
printf 'utmp = "%s"\nremote_only = true\n' "$T/utmp" | write_file "$T/settings/logins.conf"
ctl run-check interactive-login >/dev/null
is "$(cond_get interactive-login 'c["details"]["users"]')" '["alice"]' "remote_only counts only alice (ssh)"
printf 'utmp = "%s"\nremote_only = "yes"\n' "$T/utmp" | write_file "$T/settings/logins.conf"
ctl run-check interactive-login >/dev/null
is "$(cond_get interactive-login state)" unknown "a wrong type in logins.conf makes interactive-login unknown (it blocks)"
like "$(cond_get interactive-login message)" 'remote_only must be true or false' "with the reason"
printf 'utmp = "%s"\nidle = 5\n' "$T/utmp" | write_file "$T/settings/logins.conf"
ctl run-check interactive-login >/dev/null
like "$(cond_get interactive-login message)" "unknown setting 'idle'" "an unknown setting is named"
echo "utmp = \"$T/utmp\"" | write_file "$T/settings/logins.conf"

# Everybody logs out: the blocker clears and the rule fires.
write_utmp "$T/utmp" "BOOT_TIME:reboot:~:6.1.0-18-amd64:$boot:0" "DEAD_PROCESS:alice:pts/0::$t_alice:0" \
        "DEAD_PROCESS:bob:tty1::$t_bob:0"
ctl run-check interactive-login >/dev/null
is "$(cond_get interactive-login state)" ok "interactive-login is ok after the logouts"
ok "the blocked rule fires once nobody is logged in" wait_for 5 '[ "$(count_lines "$T/fixed")" -gt "$n_fixed" ]'

# Cannot tell: unknown, which blocks too.
rm -f "$T/utmp"
ctl run-check interactive-login >/dev/null
is "$(cond_get interactive-login state)" unknown "a missing utmp file makes interactive-login unknown"
like "$(cond_get interactive-login message)" 'No such file' "with the reason"
head -c 100 /dev/zero > "$T/utmp"
ctl run-check interactive-login >/dev/null
like "$(cond_get interactive-login message)" 'not a utmp file' "a file of the wrong size is not taken for utmp"

# medic.logins() with no path: logind's sessions when /run/systemd/seats exists, else utmp.
write_file "$T/checks/who.lua" <<'LUA'
check "who-default" { every = "1h", run = function()
  local l, err = medic.logins()
  if not l then return unknown(err) end
  local src = {}
  for _, s in ipairs(l) do src[#src + 1] = s.source end
  return ok(#l .. " sessions", { sources = src })
end }
LUA
ctl reload >/dev/null
ctl run-check who-default >/dev/null
state=$(cond_get who-default state); msg=$(cond_get who-default message)
if [ -d /run/systemd/seats ]; then
        is "$state" ok "medic.logins() asks logind (sd-login) when /run/systemd/seats exists: $msg"
        unlike "$(cond_get who-default 'c["details"]')" '"utmp"' "and no session comes from utmp"
else
        ok "medic.logins() reads /var/run/utmp without logind: $state ($msg)" test "$state" = ok -o "$state" = unknown
fi
done_testing
