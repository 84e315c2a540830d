#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/ipmi.sh [N]: how long one medic.ipmi read takes — a medic-ipmi process reading all
# sensors (session setup, SDR cache, readings) or the SEL from OpenIPMI's ipmi_sim on
# loopback, N times each (default 50) — and how long a BMC that does not answer takes to
# be given up with session_timeout = 1s. Prints min/p50/p99/max in milliseconds.
# Run from a build tree: bash bench/ipmi.sh
set -u
N=${1:-50}
TOP=$(cd "$(dirname "$0")/.." && pwd)
SIMFILES="$TOP/tests/integration/ipmi-sim"
HELPER="$TOP/medic-ipmi"
for p in ipmi_sim sdrcomp python3; do
        command -v "$p" >/dev/null || { echo "needs $p (apt-get install openipmi python3)"; exit 1; }
done
[ -x "$HELPER" ] || { echo "build first: $HELPER is missing"; exit 1; }

W=$(mktemp -d)
LAN_PORT=$(( 30000 + ($$ % 4000) * 2 ))
CON_PORT=$(( LAN_PORT + 1 ))
SIM_PID=""
trap '[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
sed -e "s/^\( *addr 127\.0\.0\.1\) 9623/\1 $LAN_PORT/" -e "s/^console 127\.0\.0\.1 9624/console 127.0.0.1 $CON_PORT/" \
        "$SIMFILES/lan.conf" > "$W/lan.conf"
cp "$SIMFILES/probebmc.emu" "$W/"
(cd "$W" && "$SIMFILES/mksdrs.sh" "$SIMFILES/sensors.sdrs" sdrs.emu) || exit 1
printf 'secret\n' > "$W/pw"
chmod 0600 "$W/pw"
mkdir -p "$W/state"
(cd "$W" && exec ipmi_sim -c lan.conf -f probebmc.emu -s "$W/state" -n) > "$W/sim.log" 2>&1 < /dev/null &
SIM_PID=$!
ARGS=(--host 127.0.0.1 --port "$LAN_PORT" --user admin --password-file "$W/pw" --workaround opensesspriv
      --sdr-cache-dir "$W/sdr")
for _ in $(seq 50); do
        "$HELPER" "${ARGS[@]}" --session-timeout 1000 sensors >/dev/null 2>&1 && break
        sleep 0.1
done

# times CMD...: runs CMD N times, prints the durations in ms, one per line
times() {
        local i t0
        for i in $(seq "$N"); do
                t0=$(date +%s%N)
                "$@" >/dev/null 2>&1
                echo $(( ($(date +%s%N) - t0) / 1000 ))
        done
}
stats() {
        python3 -c '
import sys
v = sorted(int(x) / 1000 for x in sys.stdin.read().split())
p = lambda q: v[min(len(v) - 1, int(q * len(v)))]
print("%-34s n=%-3d min %7.1f  p50 %7.1f  p99 %7.1f  max %7.1f ms" % (sys.argv[1], len(v), v[0], p(.5), p(.99), v[-1]))
' "$1"
}
echo "medic-ipmi against ipmi_sim on 127.0.0.1:$LAN_PORT ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
times "$HELPER" "${ARGS[@]}" sensors | stats "sensors (3 sensors, process+session)"
times "$HELPER" "${ARGS[@]}" sel | stats "sel (all records)"
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=""
N=$(( N < 5 ? N : 5 )) times "$HELPER" "${ARGS[@]}" --session-timeout 1000 sensors | stats "BMC down, session_timeout=1s"
