#!/bin/bash
# SPDX-License-Identifier: MIT
# medic.systemd and the shipped check failed-units, as far as they can be tested without
# systemd as PID 1 (the VM test bed covers the real manager):
#  - the skip on a node that systemd does not run (no /run/systemd/system);
#  - the error path: medicd talks to a real dbus-daemon of the test's own that has no
#    org.freedesktop.systemd1, so the calls really cross the bus and the bus's refusal must
#    make the condition unknown with its reason. For the shipped check to get that far it must
#    believe systemd runs the node: medicd then runs in a private mount namespace with a
#    tmpfs over /run/systemd holding an empty system/ directory (the host is not touched);
#  - no bus at all, the bus going away and coming back (a new connection is made).
. "$top_srcdir/tests/integration/lib.sh"
setup 60
command -v dbus-daemon >/dev/null || { echo "1..0 # SKIP dbus-daemon is not installed"; exit 0; }

cat > "$T/bus.conf" <<EOF
<busconfig>
  <type>session</type>
  <listen>unix:path=$T/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
EOF
bus_start() {
        rm -f "$T/bus"
        dbus-daemon --config-file="$T/bus.conf" --fork --print-pid > "$T/bus.pid" || return 1
        track_pidfile "$T/bus.pid"
        wait_for 5 "[ -S $T/bus ]"
}
bus_stop() {
        kill "$(cat "$T/bus.pid")" 2>/dev/null
        wait_for 5 "! kill -0 $(cat "$T/bus.pid") 2>/dev/null"
}
bus_start || bail_out "dbus-daemon did not start"

cp "$top_srcdir/checks/systemd-units.lua" "$T/checks/50-systemd-units.lua"
write_file "$T/checks/10-unit.lua" <<'EOF'
check "unit-ssh" { every = "1m", run = function()
  local u, err = medic.systemd.unit("ssh.service")
  if not u then return unknown(err) end
  return ok(u.active_state .. "/" .. u.sub_state)
end }
check "unit-bad-name" { every = "1m", run = function()
  return ok(tostring(medic.systemd.unit("../etc/passwd")))
end }
check "booted" { every = "1m", run = function() return ok(tostring(medic.systemd.booted())) end }
EOF
export MEDICD_ENV="DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/bus"

# ---- as this machine is: no systemd -------------------------------------------------------
start_medicd
wait_cond booted ok 10 || true
if [ -d /run/systemd/system ]; then
        skip "without systemd the check skips itself" "this machine runs systemd"
else
        is "$(cond_get booted message)" false "medic.systemd.booted() is false without /run/systemd/system"
        ctl run-check failed-units > /dev/null 2>&1
        is "$(cond_get failed-units state)" null "without systemd failed-units yields no condition (skip)"
fi
ok "medic.systemd.unit without systemd on the bus: unknown" wait_cond unit-ssh unknown 10
msg=$(cond_get unit-ssh message)
diag "unit-ssh: $msg"
like "$msg" '^systemd: .*org\.freedesktop\.systemd1' "the message is the bus's answer about org.freedesktop.systemd1"
ok "an invalid unit name is an error" wait_cond unit-bad-name unknown 10
like "$(cond_get unit-bad-name message)" "invalid unit name '\\.\\./etc/passwd'" "the error names the unit"

# The bus goes away: a clear error; it comes back: a new connection.
bus_stop
ctl run-check unit-ssh > /dev/null 2>&1
like "$(cond_get unit-ssh message)" '^systemd: ' "bus gone: still unknown with a systemd: message"
diag "bus gone: $(cond_get unit-ssh message)"
bus_start || bail_out "dbus-daemon did not restart"
ctl run-check unit-ssh > /dev/null 2>&1
like "$(cond_get unit-ssh message)" 'org\.freedesktop\.systemd1' "bus back: medicd reconnects and asks again"
stop_medicd

# No bus at all.
MEDICD_ENV="DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/no-such-bus" start_medicd
ctl run-check unit-ssh > /dev/null 2>&1
is "$(cond_get unit-ssh state)" unknown "no system bus: unknown"
like "$(cond_get unit-ssh message)" 'cannot connect to the system bus' "the message says the bus cannot be reached"
stop_medicd

# ---- the shipped check believing systemd runs the node ------------------------------------
had_system=$([ -e /run/systemd/system ] && echo yes || echo no)
if [ -d /run/systemd ]; then target=/run/systemd; sub=system; else target=/run; sub=systemd/system; fi
cat > "$T/medicd-ns" <<EOF
#!/bin/sh
exec unshare -m --propagation private /bin/sh -c 'mount -t tmpfs -o mode=0755,size=1m medic-test $target && mkdir -p $target/$sub && exec "\$0" "\$@"' "$top_builddir/medicd" "\$@"
EOF
chmod 0755 "$T/medicd-ns"
if ! unshare -m --propagation private /bin/sh -c "mount -t tmpfs -o size=1m medic-test $target" 2>/dev/null; then
        skip "failed-units with systemd present but not on the bus" "cannot make a private mount namespace here"
else
        MEDICD="$T/medicd-ns"
        start_medicd
        ok "in the namespace medic.systemd.booted() is true" wait_for 10 '[ "$(cond_get booted message)" = true ]'
        ok "failed-units without org.freedesktop.systemd1 on the bus: unknown" wait_cond failed-units unknown 10
        msg=$(cond_get failed-units message)
        diag "failed-units: $msg"
        like "$msg" '^systemd: .*org\.freedesktop\.systemd1' "the reason is the bus's answer"
        is "$([ -e /run/systemd/system ] && echo yes || echo no)" "$had_system" "the host's /run/systemd was not touched"
        stop_medicd
fi
done_testing
