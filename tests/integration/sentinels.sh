#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped reboot sentinels: needs-restarting (RHEL-family `needs-restarting -r`, here
# dnf's real plugin on an rpm database under $T), reboot-sentinel (an operator's command,
# exit 0 = reboot needed), reboot-request (flag files) and deleted-libraries (a real process
# that maps a copy of a shared library which is then deleted). Settings reach the checks
# through settings_dir (medic.conf).
. "$top_srcdir/tests/integration/lib.sh"
setup 90

mkdir -p "$T/etc" "$T/lib" "$T/flags"
for c in needs-restarting reboot-sentinel reboot-request deleted-libraries; do
        install -m 0644 "$top_srcdir/checks/$c.lua" "$T/checks/$c.lua"
done
sed -i "/^\[medic\]/a settings_dir = $T/etc" "$T/medic.conf"
run() { ctl run-check "$1" >/dev/null 2>&1; }
# lua_quote STRING: STRING as a Lua pattern matching itself.
lua_quote() { printf '%s' "$1" | sed 's/[][^$()%.*+?-]/%&/g'; }

# Flag files and a deleted library pattern that only this test's files match.
write_file "$T/etc/reboot-request.conf" <<EOF
files = { "$T/flags/reboot-request", "$T/flags/run-reboot-request" }
EOF
write_file "$T/etc/deleted-libraries.conf" <<EOF
include = { "^$(lua_quote "$T/lib/")" }
EOF
start_medicd

# ---- reboot-sentinel ------------------------------------------------------------------------
ok "reboot-sentinel: no condition without a configured command" \
   wait_for 5 '[ "$(cond_get reboot-sentinel state)" = null ] && [ "$(cond_get reboot-request state)" != null ]'
write_file "$T/etc/reboot-sentinel.conf" <<EOF
command = { "/bin/sh", "-c", "test -e '$T/flags/need-reboot' && echo kernel updated" }
EOF
run reboot-sentinel
is "$(cond_get reboot-sentinel state)" ok "reboot-sentinel: command exits 1: ok"
touch "$T/flags/need-reboot"
run reboot-sentinel
is "$(cond_get reboot-sentinel state)" problem "reboot-sentinel: command exits 0: problem"
like "$(cond_get reboot-sentinel message)" "reboot needed: .* exited 0: kernel updated" "the message carries the command's output"
rm -f "$T/flags/need-reboot"
run reboot-sentinel
is "$(cond_get reboot-sentinel state)" ok "reboot-sentinel: ok again"
write_file "$T/etc/reboot-sentinel.conf" <<EOF
command = { "$T/no-such-program" }
EOF
run reboot-sentinel
is "$(cond_get reboot-sentinel state)" unknown "reboot-sentinel: a configured command that cannot start: unknown"
write_file "$T/etc/reboot-sentinel.conf" <<EOF
command = { "sleep", "30" }
timeout = "1s"
EOF
run reboot-sentinel
like "$(cond_get reboot-sentinel state) $(cond_get reboot-sentinel message)" "^unknown .*timed out" \
     "reboot-sentinel: a command that hangs: unknown"
# every: read when the file loads. Not reloaded yet: the 5m default holds (no run by itself);
# after medicctl reload the check runs every second by itself.
write_file "$T/etc/reboot-sentinel.conf" <<EOF
command = { "false" }
every = "1s"
EOF
run reboot-sentinel
last=$(cond_get reboot-sentinel last_run)
ok "reboot-sentinel: every = \"1s\" before a reload: no run by itself (the 5m default)" \
   never_within 3 '[ "$(cond_get reboot-sentinel last_run)" -gt "$last" ]'
ctl reload >/dev/null
# The first run after the reload may be the reload's own; the one after it is the interval's.
ok "reboot-sentinel: every = \"1s\" after a reload: it runs by itself" \
   wait_for 4 '[ "$(cond_get reboot-sentinel last_run)" -gt "$last" ]'
last=$(cond_get reboot-sentinel last_run)
ok "... and again a second later" wait_for 4 '[ "$(cond_get reboot-sentinel last_run)" -gt "$last" ]'
write_file "$T/etc/reboot-sentinel.conf" <<EOF
command = { "false" }
every = "soon"
EOF
ctl reload >/dev/null
run reboot-sentinel
like "$(cond_get reboot-sentinel state) $(cond_get reboot-sentinel message)" "^unknown .*reboot-sentinel.conf: every: not a duration" \
     "reboot-sentinel: a bad every: the check stays, unknown with the reason"
write_file "$T/etc/reboot-sentinel.conf" <<EOF
command = { "false" }
EOF
ctl reload >/dev/null

# ---- reboot-request -------------------------------------------------------------------------
is "$(cond_get reboot-request state)" ok "reboot-request: ok without flag files"
echo "firmware update FW-1234" > "$T/flags/reboot-request"
run reboot-request
is "$(cond_get reboot-request state)" problem "reboot-request: a flag file: problem"
like "$(cond_get reboot-request message)" "reboot-request \(firmware update FW-1234\)" "the reason is the file's first line"
touch "$T/flags/run-reboot-request"
run reboot-request
is "$(cond_get reboot-request 'len(c["details"]["requests"])')" 2 "both flag files are listed"
rm -f "$T/flags/reboot-request" "$T/flags/run-reboot-request"
run reboot-request
is "$(cond_get reboot-request state)" ok "reboot-request: ok once the files are gone"

# ---- needs-restarting -----------------------------------------------------------------------
is "$(cond_get needs-restarting state)" null "needs-restarting: no condition where the program is absent (Debian)"
if command -v dnf >/dev/null && command -v rpmbuild >/dev/null && command -v rpm >/dev/null &&
   [ -f /usr/lib/python3/dist-packages/dnf-plugins/needs_restarting.py ]; then
        # An rpm database under $T: empty first, then with a core package ("glibc") installed
        # after boot, which is what `needs-restarting -r` looks for.
        mkdir -p "$T/rpm/SPECS" "$T/rpmroot"
        cat > "$T/rpm/SPECS/glibc.spec" <<'EOF'
Name: glibc
Version: 99.0
Release: 1
Summary: stand-in core package for medic's tests
License: MIT
BuildArch: noarch
%description
An empty package named like a core library.
%files
EOF
        write_file "$T/etc/needs-restarting.conf" <<EOF
command = { "dnf", "--installroot", "$T/rpmroot", "--releasever", "9", "needs-restarting", "-r" }
EOF
        run needs-restarting
        is "$(cond_get needs-restarting state)" ok "needs-restarting: nothing updated since boot: ok (exit 0)"
        if rpmbuild --define "_topdir $T/rpm" -bb "$T/rpm/SPECS/glibc.spec" > "$T/rpmbuild.log" 2>&1 &&
           rpm --root "$T/rpmroot" -i --nodeps --noscripts "$T/rpm/RPMS/noarch/"glibc-*.rpm > "$T/rpm.log" 2>&1; then
                run needs-restarting
                is "$(cond_get needs-restarting state)" problem "needs-restarting: glibc installed since boot: problem (exit 1)"
                like "$(cond_get needs-restarting message)" "reboot needed \(updated: glibc\)" "the message names the package"
        else
                fail "building and installing the stand-in rpm" "$(tail -n 5 "$T/rpmbuild.log" "$T/rpm.log")"
        fi
        write_file "$T/etc/needs-restarting.conf" <<EOF
command = { "dnf", "--installroot", "$T/rpmroot", "--releasever", "9", "no-such-subcommand" }
EOF
        run needs-restarting
        is "$(cond_get needs-restarting state)" unknown "needs-restarting: dnf failing (exit 1 without a report): unknown"
else
        skip "needs-restarting with a real dnf" "dnf, dnf-plugins-core or rpm (rpmbuild) not installed"
fi

# ---- deleted-libraries ----------------------------------------------------------------------
LIB=""
for l in /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 /lib64/libz.so.1 \
         /lib/aarch64-linux-gnu/libz.so.1; do
        [ -f "$l" ] && { LIB=$l; break; }
done
[ -z "$LIB" ] && LIB=$(ldconfig -p 2>/dev/null | sed -n 's/.*libz\.so\.1 .*=> //p' | head -1)
if [ -z "$LIB" ] || [ ! -f "$LIB" ]; then
        skip "deleted-libraries" "no libz.so.1 to copy"
        done_testing
fi
run deleted-libraries
is "$(cond_get deleted-libraries state)" ok "deleted-libraries: ok before"
cp "$LIB" "$T/lib/libmedictest.so.1"
LD_PRELOAD="$T/lib/libmedictest.so.1" sleep 300 &
victim=$!
track_pid "$victim"
ok "the test process maps the library copy" \
   wait_for 5 "grep -q '$T/lib/libmedictest.so.1\$' /proc/$victim/maps"
run deleted-libraries
is "$(cond_get deleted-libraries state)" ok "a mapped library that still exists: ok"
rm -f "$T/lib/libmedictest.so.1"
ok "the kernel marks the mapping deleted" grep -q "libmedictest.so.1 (deleted)" "/proc/$victim/maps"
run deleted-libraries
is "$(cond_get deleted-libraries state)" problem "deleted-libraries: the process maps a deleted library: problem"
like "$(cond_get deleted-libraries message)" "1 process maps deleted libraries: sleep\[$victim\] \(libmedictest\.so\.1\)" \
     "the message names the process and the library"
is "$(cond_get deleted-libraries 'c["details"]["processes"][0]["libraries"]')" "[\"$T/lib/libmedictest.so.1\"]" \
   "details give the library's path once (several mappings)"
# The same scan in Lua gives the same answer.
write_file "$T/etc/deleted-libraries.conf" <<EOF
include = { "^$(lua_quote "$T/lib/")" }
method = "lua"
EOF
run deleted-libraries
like "$(cond_get deleted-libraries state) $(cond_get deleted-libraries message)" \
     "^problem 1 process maps deleted libraries: sleep\[$victim\] \(libmedictest\.so\.1\)" "method = lua finds the same"
write_file "$T/etc/deleted-libraries.conf" <<EOF
include = { "^$(lua_quote "$T/lib/")" }
ignore = { "^sleep\$" }
EOF
run deleted-libraries
is "$(cond_get deleted-libraries state)" ok "an ignored process name: ok"
write_file "$T/etc/deleted-libraries.conf" <<EOF
include = { "^$(lua_quote "$T/lib/")" }
EOF
kill "$victim"
wait "$victim" 2>/dev/null
run deleted-libraries
is "$(cond_get deleted-libraries state)" ok "deleted-libraries: ok once the process is gone"
done_testing
