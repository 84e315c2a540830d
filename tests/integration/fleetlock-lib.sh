# SPDX-License-Identifier: MIT
# Helpers for the FleetLock tests: the test server (tests/helpers/fleetlock-server.py, airlock's
# semantics) on loopback, what it holds, its log, its faults and stalls; and medicd configured
# for backend = fleetlock. Source it after lib.sh.

FL_SERVER="$top_srcdir/tests/helpers/fleetlock-server.py"
FL_PORT=""
# The server's groups and other arguments (the test may set it before fl_start).
FL_SERVER_ARGS=(--group "$MEDIC_GROUP=1")

# fl_start: starts the server (again on the same port when it ran before, with the holders it
# kept in $T/fl-state.json); sets FL_URL.
fl_start() {
        rm -f "$T/fl.port"
        python3 "$FL_SERVER" --port-file "$T/fl.port" ${FL_PORT:+--port "$FL_PORT"} --log "$T/fl.log" \
                --state "$T/fl-state.json" "${FL_SERVER_ARGS[@]}" 2> "$T/fl.err" &
        FL_PID=$!
        track_pid $FL_PID
        wait_for 10 "[ -s '$T/fl.port' ]" || bail_out "the FleetLock server did not start: $(cat "$T/fl.err")"
        FL_PORT=$(cat "$T/fl.port")
        FL_URL="http://127.0.0.1:$FL_PORT"
}
fl_stop() { kill "$FL_PID" 2>/dev/null; wait "$FL_PID" 2>/dev/null; }
fl_holders() { curl -sf "$FL_URL/test/state" | jget "d['groups']['$1']['holders']"; }
fl_requests() { curl -sf "$FL_URL/test/state" | jget "d['requests']"; }
fl_fault() { curl -sf -d "$1" "$FL_URL/test/fault" >/dev/null; }
# fl_stall [JSON]: the server holds requests unanswered ({"count": N, "paths": [...]}, default
# all of them); fl_resume processes them late, in arrival order; fl_held counts the held ones.
fl_stall() { local body=${1:-}; [ -n "$body" ] || body="{}"; curl -sf -d "$body" "$FL_URL/test/stall" >/dev/null; }
fl_resume() { curl -sf -d '' "$FL_URL/test/resume" | jget "d['processed']"; }
fl_held() { curl -sf "$FL_URL/test/state" | jget "d['held']"; }
# fl_log NODE: the server's log entries of NODE's requests (JSON lines, in processing order).
fl_log() { grep "\"id\": \"$1\"" "$T/fl.log" 2>/dev/null; }
# fl_last NODE EXPR: EXPR on the server's log entry of NODE's last request.
fl_last() { fl_log "$1" | tail -n 1 | jget "$2"; }
# fl_count NODE PATH: how many requests of NODE to PATH the server processed so far.
fl_count() { fl_log "$1" | grep -c "\"path\": \"$2\""; }

# fl_medicd_conf [REQUEST_TIMEOUT]: medic.conf's [coordinator] becomes backend = fleetlock with
# the test server's url (request_timeout default 5s).
fl_medicd_conf() {
        sed -i "s|^backend = local|backend = fleetlock\nurl = $FL_URL\nrequest_timeout = ${1:-5s}|" "$T/medic.conf"
}
