#!/bin/bash
# SPDX-License-Identifier: MIT
# restart/start/stop remedies go to systemd over D-Bus. This machine runs no systemd, so
# medicd talks to a real dbus-daemon of the test's own that has no org.freedesktop.systemd1:
# the call really crosses the bus, and the bus's refusal must reach the history as a failed
# remedy with systemd's reason. (Restarting a real unit is covered by the VM test bed.)
. "$top_srcdir/tests/integration/lib.sh"
setup 60

if ! command -v dbus-daemon >/dev/null; then
        echo "1..0 # SKIP dbus-daemon is not installed"
        exit 0
fi
cat > "$T/bus.conf" <<EOF
<busconfig>
  <type>session</type>
  <listen>unix:path=$T/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
EOF
dbus-daemon --config-file="$T/bus.conf" --fork --print-pid > "$T/bus.pid" || bail_out "dbus-daemon did not start"
track_pidfile "$T/bus.pid"
wait_for 5 "[ -S $T/bus ]" || bail_out "no bus socket"

echo problem > "$T/state-file"
write_file "$T/checks/10-svc.lua" <<EOF
check "svc" { every = "1s", run = function()
  local s = medic.read("$T/state-file") or ""
  if s:match("problem") then return problem("svc is stuck") end
  return ok("fine")
end }
EOF
write_file "$T/rules/10-restart.lua" <<'EOF'
rule "restart-svc" { when = "svc", remedy = restart "medic-test.service", limit = "1/1h" }
EOF

MEDICD_ENV="DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/bus" start_medicd
ok "the restart remedy ran and finished" wait_for 10 \
        '[ "$(ctl_json history | jget "len([h for h in d[\"history\"] if h.get(\"kind\") == \"remedy\"])")" = 1 ]'
entry=$(ctl_json history | jget '[h for h in d["history"] if h.get("kind") == "remedy"][0]')
diag "remedy: $entry"
like "$entry" '"decision": "failed"' "without systemd on the bus the remedy fails"
like "$entry" 'org\.freedesktop\.systemd1' "the reason is the bus's answer about org.freedesktop.systemd1"
ok "the failure is logged with the rule" log_has 'Remedy of rule restart-svc failed.*systemd1'
stop_medicd

# No bus at all: a clear error, and the daemon keeps running.
write_file "$T/rules/10-restart.lua" <<'EOF'
rule "restart-svc2" { when = "svc", remedy = stop "medic-test.service", limit = "1/1h" }
EOF
MEDICD_ENV="DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/no-such-bus" start_medicd
ok "without a bus the remedy fails with a clear error" wait_for 10 \
        'log_has "Remedy of rule restart-svc2 failed: cannot connect to the system bus"'
ok "medicd keeps running" daemon_alive
stop_medicd
done_testing
