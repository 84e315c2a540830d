#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped check prometheus-alerts against Debian's real prometheus server, run by this
# test on a loopback port with its own storage directory and a rule file: one alert always
# fires (vector(1)), one never does (vector(1) == 0). Not the system service: the binary.
. "$top_srcdir/tests/integration/lib.sh"
PROMETHEUS=$(command -v prometheus || true)
[ -n "$PROMETHEUS" ] || { echo "1..0 # SKIP prometheus is not installed (apt-get install prometheus)"; exit 0; }
setup 90

PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
mkdir -p "$T/prom/data" "$T/settings"
cat > "$T/prom/rules.yml" <<'EOF'
groups:
  - name: medic-test
    interval: 1s
    rules:
      - alert: MedicTestAlwaysFiring
        expr: vector(1)
        labels:
          severity: critical
          team: storage
      - alert: MedicTestNeverFiring
        expr: vector(1) == 0
        labels:
          severity: critical
EOF
cat > "$T/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1m
  evaluation_interval: 1s
rule_files:
  - $T/prom/rules.yml
EOF

PROM_PID=""
prom_start() {
        "$PROMETHEUS" --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/data" \
                --web.listen-address="127.0.0.1:$PORT" --log.level=warn >> "$T/prom/prometheus.log" 2>&1 &
        PROM_PID=$!
        track_pid "$PROM_PID"
        wait_for 30 "curl -sf '$URL/api/v1/alerts' 2>/dev/null | grep -q MedicTestAlwaysFiring"
}
prom_stop() {
        kill "$PROM_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$PROM_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$PROM_PID" 2>/dev/null
        wait "$PROM_PID" 2>/dev/null
}
settings() { write_file "$T/settings/prometheus-alerts.conf"; }

write_config "settings_dir = $T/settings"
cp "$top_srcdir/checks/prometheus-alerts.lua" "$T/checks/50-prometheus-alerts.lua"
# A rule that prometheus-alerts blocks, on a condition that is a problem once svc-broken exists.
write_file "$T/checks/10-svc.lua" <<EOF
check "svc" { every = "1s", run = function()
  if medic.exists("$T/svc-broken") then return problem("stuck") end
  return ok()
end }
EOF
write_file "$T/rules/10-fix.lua" <<EOF
rule "fix-svc" { when = "svc", remedy = command { "true" }, unless = { "prometheus-alerts" }, limit = "1/1h" }
EOF
# No url: the check skips itself.
start_medicd
ctl run-check prometheus-alerts > /dev/null 2>&1
is "$(cond_get prometheus-alerts state)" null "without a url the check yields no condition (skip)"
stop_medicd

prom_start || bail_out "prometheus did not start or the alert does not fire; log: $(tail -n 5 "$T/prom/prometheus.log")"
diag "prometheus $("$PROMETHEUS" --version 2>&1 | head -n 1) on $URL"

settings <<EOF
url = "$URL"
every = "1s"
EOF
start_medicd
ok "with the always-firing alert: problem" wait_cond prometheus-alerts problem 10
msg=$(cond_get prometheus-alerts message)
diag "message: $msg"
like "$msg" '^1 firing alert: MedicTestAlwaysFiring\{severity=critical,team=storage\}' "the message names the firing alert with its labels"
unlike "$msg" 'MedicTestNeverFiring' "the alert that never fires is not listed"
is "$(cond_get prometheus-alerts 'c["details"]["alerts"][0]["name"]')" MedicTestAlwaysFiring "details list the alert"
last=$(cond_get prometheus-alerts last_run); sleep 2.5
ok "every = \"1s\" from the settings applies (runs again by itself)" test "$(cond_get prometheus-alerts last_run)" -gt "$last"

# Filtered out by name: ok.
settings <<EOF
url = "$URL"
name = "MedicTestNever.*"
EOF
ctl run-check prometheus-alerts > /dev/null
is "$(cond_get prometheus-alerts state)" ok "filtered out by the name regex: ok"
like "$(cond_get prometheus-alerts message)" 'no matching alert firing' "the ok message says so"
settings <<EOF
url = "$URL"
name = "MedicTest"
EOF
ctl run-check prometheus-alerts > /dev/null
is "$(cond_get prometheus-alerts state)" ok "the name regex matches the whole name (MedicTest alone matches nothing)"
settings <<EOF
url = "$URL"
name = "MedicTest.*Firing"
labels = { team = "network" }
EOF
ctl run-check prometheus-alerts > /dev/null
is "$(cond_get prometheus-alerts state)" ok "filtered out by a label: ok"
settings <<EOF
url = "$URL"
name = "MedicTest.*Firing"
labels = { team = "stor.*", severity = "critical|page" }
EOF
ctl run-check prometheus-alerts > /dev/null
is "$(cond_get prometheus-alerts state)" problem "labels that match (regexes): problem"

# A query error: unknown, and unknown blocks the rule.
settings <<EOF
url = "$URL/no/such/prefix"
EOF
ctl run-check prometheus-alerts > /dev/null
is "$(cond_get prometheus-alerts state)" unknown "a 404 from Prometheus: unknown"
like "$(cond_get prometheus-alerts message)" 'status 404' "the message has the status"

settings <<EOF
url = "$URL"
EOF
ctl run-check prometheus-alerts > /dev/null
is "$(cond_get prometheus-alerts state)" problem "back to problem"
prom_stop
ctl run-check prometheus-alerts > /dev/null
is "$(cond_get prometheus-alerts state)" unknown "prometheus down: unknown"
like "$(cond_get prometheus-alerts message)" "Prometheus query failed: .*127\\.0\\.0\\.1.*$PORT" "the message says the query failed and where"
touch "$T/svc-broken"
ok "svc becomes a problem" wait_cond svc problem 10
sleep 1
explain=$(ctl_json explain fix-svc 2>&1)
diag "explain: $(printf '%s' "$explain" | jget '[s for s in d["steps"] if s["step"] == "blockers"]')"
is "$(printf '%s' "$explain" | jget '[s for s in d["steps"] if s["step"] == "blockers"][0]["ok"]')" false \
        "the unknown condition blocks the rule"
like "$(printf '%s' "$explain" | jget '[s for s in d["steps"] if s["step"] == "blockers"][0]["detail"]')" \
        'prometheus-alerts' "the blocker named is prometheus-alerts"
is "$(ctl_json history | jget 'len([h for h in d["history"] if h.get("kind") == "remedy"])')" 0 \
        "the blocked rule never ran its remedy"

# A settings file with an unknown key: unknown with the reason.
settings <<EOF
url = "$URL"
colour = "blue"
EOF
ctl run-check prometheus-alerts > /dev/null
like "$(cond_get prometheus-alerts message)" "unknown setting 'colour'" "an unknown setting: unknown with the reason"
stop_medicd
done_testing
