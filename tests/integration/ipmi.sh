#!/bin/bash
# SPDX-License-Identifier: MIT
# medic.ipmi and the shipped checks/ipmi.lua against a real BMC: OpenIPMI's ipmi_sim on
# loopback (IPMI 2.0 over LAN), read by medic-ipmi with FreeIPMI's libipmimonitoring.
# Sensors are flipped and SEL entries added through the simulator's console.
# Needs the Debian packages openipmi (ipmi_sim, sdrcomp) and libipmimonitoring-dev; the
# simulator's files come from ../shared/testbed/ipmi-sim (copied to tests/integration/ipmi-sim).
. "$top_srcdir/tests/integration/lib.sh"

SIMFILES="$top_srcdir/tests/integration/ipmi-sim"
HELPER="$top_builddir/medic-ipmi"
for p in ipmi_sim sdrcomp; do
        command -v "$p" >/dev/null || { echo "1..0 # SKIP $p not installed (apt-get install openipmi)"; exit 0; }
done
[ -x "$HELPER" ] || { echo "1..0 # SKIP $HELPER not built"; exit 0; }
setup 90

# Ports: a pair per test run so that a port in TIME_WAIT from an earlier run does not matter.
LAN_PORT=$(( 20000 + ($$ % 4000) * 2 ))
CON_PORT=$(( LAN_PORT + 1 ))
SIM_PID=""
mkdir -p "$T/sim"
sed -e "s/^\( *addr 127\.0\.0\.1\) 9623/\1 $LAN_PORT/" -e "s/^console 127\.0\.0\.1 9624/console 127.0.0.1 $CON_PORT/" \
        "$SIMFILES/lan.conf" > "$T/sim/lan.conf"
cp "$SIMFILES/probebmc.emu" "$T/sim/"
if ! (cd "$T/sim" && "$SIMFILES/mksdrs.sh" "$SIMFILES/sensors.sdrs" sdrs.emu) > "$T/sim/mksdrs.log" 2>&1; then
        echo "1..0 # SKIP sdrcomp could not compile the SDRs: $(tail -n 1 "$T/sim/mksdrs.log")"
        exit 0
fi
printf 'secret\n' > "$T/ipmi.pw"
chmod 0600 "$T/ipmi.pw"

sim_start() {
        mkdir -p "$T/sim/state"
        (cd "$T/sim" && exec ipmi_sim -c lan.conf -f probebmc.emu -s "$T/sim/state" -n) \
                >> "$T/sim/sim.log" 2>&1 < /dev/null &
        SIM_PID=$!
        track_pid "$SIM_PID"
        for _ in $(seq 50); do
                kill -0 "$SIM_PID" 2>/dev/null || return 1
                "$HELPER" --host 127.0.0.1 --port "$LAN_PORT" --user admin --password-file "$T/ipmi.pw" \
                        --workaround opensesspriv --session-timeout 1000 --sdr-cache-dir "$T/sim/sdr" sensors \
                        > "$T/sim/probe.json" 2>/dev/null && return 0
                sleep 0.1
        done
        return 1
}

sim_stop() {
        [ -n "$SIM_PID" ] || return 0
        kill "$SIM_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SIM_PID" 2>/dev/null
        wait "$SIM_PID" 2>/dev/null
        SIM_PID=""
}

# simcmd CMD...: the simulator's console; reads the prompts and closes from our side (so that
# the console port does not sit in TIME_WAIT on the simulator's side).
simcmd() {
        local n=$(( $# + 2 )) i=0 chunk
        exec 3<>"/dev/tcp/127.0.0.1/$CON_PORT" || return 1
        { printf 'noecho\n'; printf '%s\n' "$@"; } >&3
        while (( i < n )) && IFS= read -r -d '>' -t 5 chunk <&3; do i=$((i + 1)); done
        exec 3>&-
}

# ipmi_config [PASSWORD_FILE] [SESSION_TIMEOUT]: medic.conf with an [ipmi] section.
ipmi_config() {
        write_config
        cat >> "$T/medic.conf" <<EOF

[ipmi]
host = 127.0.0.1
port = $LAN_PORT
user = admin
password_file = ${1:-$T/ipmi.pw}
cipher_suite = 3
workarounds = opensesspriv
session_timeout = ${2:-2s}
interpret_file = $SIMFILES/interpret_sensor.conf
helper = $HELPER
EOF
}

# run_check NAME: runs the check now; prints nothing.
run_check() { ctl run-check "$1" >/dev/null 2>&1; }

# ---- without a BMC the checks skip themselves ----------------------------------------------
cp "$top_srcdir/checks/ipmi.lua" "$T/checks/ipmi.lua"
chmod 0644 "$T/checks/ipmi.lua"
if [ -e /dev/ipmi0 ] || [ -e /dev/ipmi/0 ] || [ -e /dev/ipmidev/0 ]; then
        skip "without a BMC the IPMI checks skip themselves" "this machine has an in-band BMC"
else
        start_medicd
        run_check ipmi-critical
        is "$(cond_get ipmi-critical state)" null "without /dev/ipmi0 and [ipmi] host, ipmi-critical skips (no condition)"
        stop_medicd
fi

# ---- a root-only password file --------------------------------------------------------------
printf 'secret\n' > "$T/loose.pw"
chmod 0640 "$T/loose.pw"
ipmi_config "$T/loose.pw"
out=$(timeout 20 "$MEDICD" --config "$T/medic.conf" --check-config 2>&1)
like "$out" "medic.conf:[0-9]+: password_file .*loose.pw must be owned by root and closed to group and others" \
        "a group-readable password_file is refused with file:line"
ipmi_config
sed -i -e 's/^cipher_suite = 3/cipher_suite = 4/' -e 's/^workarounds = opensesspriv/workarounds = opensesspriv, bogus/' "$T/medic.conf"
out=$(timeout 20 "$MEDICD" --config "$T/medic.conf" --check-config 2>&1)
like "$out" "medic.conf:[0-9]+: invalid cipher_suite '4'" "an unsupported cipher suite is a config error"
like "$out" "medic.conf:[0-9]+: unknown workaround 'bogus'" "an unknown workaround flag is a config error"
ipmi_config
out=$(timeout 20 "$MEDICD" --config "$T/medic.conf" --check-config 2>&1)
like "$out" "configuration OK" "the [ipmi] section as the tests use it is valid"
out=$("$HELPER" --host 127.0.0.1 --port "$LAN_PORT" --user admin --password-file "$T/loose.pw" sensors 2>/dev/null)
like "$out" '"error":.*refusing' "medic-ipmi refuses a group-readable password file too"

if ! sim_start; then
        echo "# ipmi_sim did not come up:"
        sed 's/^/# /' "$T/sim/sim.log" | tail -n 10
        skip "IPMI tests against ipmi_sim" "ipmi_sim could not run here"
        done_testing
fi
pass "ipmi_sim answers on 127.0.0.1:$LAN_PORT (pid $SIM_PID)"
like "$(cat "$T/sim/probe.json")" '"name":"CPU Temp","type":"Temperature","type_code":1,"state":"Nominal","reading":45' \
        "medic-ipmi prints the sensors as JSON"

# ---- sensors through the daemon: nominal -> critical -> nominal -----------------------------
# A 1-second check that counts its runs: the IPMI checks must never hold up the schedule.
write_file "$T/checks/tick.lua" <<EOF
check "tick" {
  every = "1s",
  run = function()
    medic.exec { "/bin/sh", "-c", "echo tick >> $T/ticks" }
    return ok("tick")
  end,
}
EOF
# A check with a short timeout of its own, to see the BMC time out within it.
write_file "$T/checks/ipmi-quick.lua" <<'EOF'
check "ipmi-quick" {
  every = "1h",
  timeout = "3s",
  run = function()
    local s, err = medic.ipmi.sensors()
    if not s then return unknown(err) end
    return ok(#s .. " sensors")
  end,
}
EOF
ipmi_config
start_medicd
ok "ipmi-critical is ok with every sensor nominal" wait_cond ipmi-critical ok 10
ok "ipmi-warning is ok" wait_cond ipmi-warning ok 10
ok "ipmi-sel-critical is ok on its first run" wait_cond ipmi-sel-critical ok 10
like "$(cond_get ipmi-sel-critical message)" 'position recorded' "the first SEL read records the position"
like "$(cond_get ipmi-critical message)" '^3 sensors read \(lan\)' "the message counts the sensors and says how"

simcmd "sensor_set_value 0x20 0 1 95 1"
run_check ipmi-critical
is "$(cond_get ipmi-critical state)" problem "CPU Temp at 95 C (UC 90) makes ipmi-critical a problem"
like "$(cond_get ipmi-critical message)" '^1 critical sensor: CPU Temp 95 C \(At or Above \(>=\) Upper Critical Threshold\)' \
        "the message lists the critical sensor with its reading and event"
is "$(cond_get ipmi-critical 'c["details"]["sensors"][0]["type"]')" Temperature "details carry the sensor type"

simcmd "sensor_set_value 0x20 0 1 45 1"
run_check ipmi-critical
is "$(cond_get ipmi-critical state)" ok "back to 45 C, ipmi-critical is ok again"

# ---- SEL: the threshold crossing logged events ---------------------------------------------
run_check ipmi-sel-critical
is "$(cond_get ipmi-sel-critical state)" problem "the crossing's SEL entries make ipmi-sel-critical a problem"
like "$(cond_get ipmi-sel-critical message)" 'CPU Temp: Upper Critical - going high' "the message names the critical SEL event"
unlike "$(cond_get ipmi-sel-critical message)" 'Non-critical' "non-critical SEL events are not listed"
like "$(tr -d ' \n' < "$T/state/ipmi-sel.json" 2>/dev/null)" '"ipmi-sel-critical":\{"id":[0-9]+,"timestamp":[0-9]+' "the SEL position is kept in state_dir/ipmi-sel.json"

simcmd "sel_add 0x20 0x02 0 0 0 0 0x20 0x00 0x04 0x08 0x03 0x6f 0x03 0xff 0xff"
run_check ipmi-sel-critical
like "$(cond_get ipmi-sel-critical message)" 'PSU1 Status: Power Supply input lost' "a new SEL entry is reported"
n_events=$(cond_get ipmi-sel-critical 'len(c["details"]["events"])')
is "$n_events" 2 "each critical event is reported once (2 held: the crossing and the new entry)"

# ---- warning through the interpretation file -----------------------------------------------
simcmd "sensor_set_value 0x20 0 2 8 1"
run_check ipmi-warning
is "$(cond_get ipmi-warning state)" problem "Fan1 at 800 RPM (LNC 1000) reads as Warning with interpret_file"
like "$(cond_get ipmi-warning message)" 'Fan1 800 RPM' "ipmi-warning names the fan"
run_check ipmi-critical
is "$(cond_get ipmi-critical state)" ok "a non-critical crossing does not make ipmi-critical a problem"
simcmd "sensor_set_value 0x20 0 2 50 1"

# ---- the position survives a restart -------------------------------------------------------
stop_medicd
start_medicd
run_check ipmi-sel-critical
is "$(cond_get ipmi-sel-critical state)" ok "after a restart old SEL events are not reported again"
unlike "$(cond_get ipmi-sel-critical message)" 'position recorded' "the position was read back from state_dir"

# ---- a position the helper cannot take ------------------------------------------------------
# (an ID out of 0…65535: the binding passed it as --after, the helper refused it, and every read
# failed without saving a new position; fuzz-ipmi-sel found it, lib/ipmi-sel.c)
stop_medicd
cp "$T/state/ipmi-sel.json" "$T/ipmi-sel.json.good"
printf '{"version":1,"cursors":{"ipmi-sel-critical":{"id":864444444444,"timestamp":1733300000}}}\n' > "$T/state/ipmi-sel.json"
start_medicd
run_check ipmi-sel-critical
is "$(cond_get ipmi-sel-critical state)" ok "an unreadable SEL position: the read starts afresh, not an error"
like "$(cond_get ipmi-sel-critical message)" 'position recorded' "the position is recorded again"
like "$(tr -d ' \n' < "$T/state/ipmi-sel.json" 2>/dev/null)" '"ipmi-sel-critical":\{"id":[0-9]{1,5},"timestamp":[0-9]+' \
        "a position the helper takes is saved"
ok "the unreadable position is logged" grep -q 'IPMI SEL position of ipmi-sel-critical .* cannot be read' "$T/medicd.log"

# ---- a cleared SEL ---------------------------------------------------------------------------
if command -v ipmi-sel >/dev/null; then
        timeout 10 ipmi-sel -h "127.0.0.1:$LAN_PORT" --driver-type=LAN_2_0 -u admin -p secret \
                --workaround-flags=opensesspriv --session-timeout=3000 --clear >/dev/null 2>&1
        run_check ipmi-sel-critical
        is "$(cond_get ipmi-sel-critical state)" ok "after the SEL was cleared: ok (0 records)"
        simcmd "sel_add 0x20 0x02 0 0 0 0 0x20 0x00 0x04 0x08 0x03 0x6f 0x01 0xff 0xff"
        run_check ipmi-sel-critical
        is "$(cond_get ipmi-sel-critical state)" problem "the first event after a clear is new"
        like "$(cond_get ipmi-sel-critical message)" '^1 critical SEL event: PSU1 Status: Power Supply Failure detected$' \
                "only that event is reported"
else
        skip "a cleared SEL" "ipmi-sel not installed (apt-get install freeipmi-tools)"
fi

# ---- wrong password --------------------------------------------------------------------------
printf 'wrong\n' > "$T/wrong.pw"
chmod 0600 "$T/wrong.pw"
ipmi_config "$T/wrong.pw"
ctl reload >/dev/null
run_check ipmi-critical
is "$(cond_get ipmi-critical state)" unknown "a wrong password makes ipmi-critical unknown"
like "$(cond_get ipmi-critical message)" 'invalid password' "the message says why"

# ---- the simulator is down -------------------------------------------------------------------
ipmi_config "$T/ipmi.pw" 60s   # a long session timeout: the check's own 3 s must win
ctl reload >/dev/null
run_check ipmi-quick
is "$(cond_get ipmi-quick state)" ok "ipmi-quick reads the sensors"
sim_stop
ticks0=$(count_lines "$T/ticks")
t0=$(now_ms)
run_check ipmi-quick
elapsed=$(( $(now_ms) - t0 ))
ticks1=$(count_lines "$T/ticks")
is "$(cond_get ipmi-quick state)" unknown "with the BMC down, ipmi-quick is unknown (never ok)"
like "$(cond_get ipmi-quick message)" 'did not answer within|timeout' "the message says the BMC did not answer"
ok "unknown within the check's 3 s timeout, not the 60 s session timeout (took ${elapsed} ms)" test "$elapsed" -lt 8000
ok "the 1-second check kept running meanwhile ($ticks0 -> $ticks1 runs)" test "$(( ticks1 - ticks0 ))" -ge 2
ipmi_config "$T/ipmi.pw" 2s
ctl reload >/dev/null
t0=$(now_ms)
run_check ipmi-critical
elapsed=$(( $(now_ms) - t0 ))
is "$(cond_get ipmi-critical state)" unknown "ipmi-critical is unknown with the BMC down"
# The bound is the 2 s session timeout, not the check's 30 s or libipmimonitoring's 60 s default;
# the margin is for a loaded machine (seen: 3.1 s on a CI runner under sanitizers).
ok "bounded by the 2 s session timeout, far below the check's 30 s (took ${elapsed} ms)" test "$elapsed" -lt 6000
ok "medicd is still running" daemon_alive
done_testing
