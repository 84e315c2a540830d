#!/bin/bash
# SPDX-License-Identifier: MIT
# A logind that does not answer in time must not disturb the rest of the ladder. medicd
# talks to a private D-Bus daemon (DBUS_SYSTEM_BUS_ADDRESS) where org.freedesktop.login1 is
# an activatable service that never comes up: the Reboot call hangs until the bus gives up
# (service_start_timeout = 2 s), one second after the systemd step's deadline (1 s) handed
# over to sysrq. That late error belongs to the systemd step, which is over: sysrq must go
# on with s, u, b and keep its own deadline. Devices are test files.
. "$top_srcdir/tests/integration/lib.sh"
setup 60
command -v dbus-daemon >/dev/null || { echo "1..0 # SKIP dbus-daemon not installed"; exit 0; }

reboot_test_files 1
mkdir -p "$T/bus-services"
sed -i "/^\[reboot\]/a methods = systemd sysrq watchdog\nsystemd_deadline = 1s\nsysrq_deadline = 8s\nwatchdog_deadline = 2s" "$T/medic.conf"
cat > "$T/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$T/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$T/bus-services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
  <limit name="service_start_timeout">2000</limit>
</busconfig>
EOF
cat > "$T/bus-services/org.freedesktop.login1.service" <<'EOF'
[D-BUS Service]
Name=org.freedesktop.login1
Exec=/bin/sleep 5
EOF
dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile > "$T/dbus.log" 2>&1 &
track_pid $!
wait_for 5 "test -S $T/bus" || bail_out "the private bus did not start"
MEDICD_ENV="DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/bus"

reboot_rule_files

start_medicd
touch "$T/trigger"
ok "the systemd step's deadline passes (logind does not answer)" \
        wait_for 10 "log_has 'The systemd reboot did not happen within 1s'"
ok "the bus gives up on logind after that" sleep 3
ok "sysrq: s, u, b written, undisturbed by the late error" wait_for 10 "[ \"\$(cat $T/sysrq-trigger)\" = sub ]"
unlike "$(cat "$T/medicd.log")" 'The sysrq reboot failed' "the late logind error is not taken for a sysrq failure"
ok "sysrq keeps its own deadline: the watchdog comes after 8s" \
        wait_for 12 "log_has 'The sysrq reboot did not happen within 8s'"
ok "then the watchdog" wait_for 5 "log_has 'Rebooting the node by watchdog'"
is "$(grep -c 'Rebooting the node by' "$T/medicd.log")" 3 "each method was tried once"
done_testing
