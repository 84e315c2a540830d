#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped check prometheus-alerts against Debian's real prometheus server, run by this
# test on a loopback port with its own storage directory and a rule file: two alerts always
# fire (vector(1)): MedicTestAlwaysFiring, and a Watchdog like kube-prometheus's, which every
# installation has to exclude; one never does (vector(1) == 0). Selection by name, labels and
# annotations, exclusion by name, label and annotation patterns, each with its control; and a
# rule that the check blocks until its one firing alert is excluded. Not the system service:
# the binary.
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
        annotations:
          summary: The storage pool is full
          runbook_url: https://runbooks.example/storage
      - alert: Watchdog
        expr: vector(1)
        labels:
          severity: none
        annotations:
          summary: An alert that always fires, to check the alerting pipeline
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
        wait_for 30 "curl -sf '$URL/api/v1/alerts' 2>/dev/null | grep MedicTestAlwaysFiring | grep -q Watchdog"
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
# Rules that prometheus-alerts blocks, on conditions svc and svc2 that are a problem once
# svc-broken (svc2-broken) exists; svc2's remedy leaves its environment in a file.
for c in svc svc2; do
        write_file "$T/checks/10-$c.lua" <<EOF
check "$c" { every = "1s", run = function()
  if medic.exists("$T/$c-broken") then return problem("stuck") end
  return ok()
end }
EOF
done
write_file "$T/rules/10-fix.lua" <<EOF
rule "fix-svc" { when = "svc", remedy = command { "true" }, unless = { "prometheus-alerts" }, limit = "1/1h" }
rule "fix-svc2" { when = "svc2", remedy = command { "sh", "-c", "env > $T/svc2-fixed" }, unless = { "prometheus-alerts" },
                  limit = "1/1h" }
EOF
# check_with SETTINGS: writes the settings (url added) and runs the check.
check_with() {
        printf 'url = "%s"\n%s\n' "$URL" "$1" | settings
        ctl run-check prometheus-alerts > /dev/null
}
state() { cond_get prometheus-alerts state; }
message() { cond_get prometheus-alerts message; }
blocker_step() { ctl_json explain "$1" 2>&1 | jget '[s for s in d["steps"] if s["step"] == "blockers"][0]'"$2"; }
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
ok "with the always-firing alerts: problem" wait_cond prometheus-alerts problem 10
msg=$(message)
diag "message: $msg"
like "$msg" '^2 firing alerts: .*MedicTestAlwaysFiring\{severity=critical,team=storage\}' "the message names the firing alerts with their labels"
like "$msg" 'Watchdog\{severity=none\}' "Watchdog counts unless excluded"
unlike "$msg" 'MedicTestNeverFiring' "the alert that never fires is not listed"
is "$(cond_get prometheus-alerts 'sorted(a["name"] for a in c["details"]["alerts"])')" '["MedicTestAlwaysFiring", "Watchdog"]' "details list the alerts"
is "$(cond_get prometheus-alerts 'c["details"]["alerts"][0]["annotations"]["summary"] != ""')" true "details carry the annotations"
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

# Selection by annotation: a regex on the whole value, a missing annotation does not match.
check_with 'annotations = { runbook_url = "https://runbooks[.]example/stor.*" }'
is "$(state) $(message)" "problem 1 firing alert: MedicTestAlwaysFiring{severity=critical,team=storage}" \
   "selected by an annotation: only the alert that has it"
check_with 'annotations = { runbook_url = ".*/network" }'
is "$(state)" ok "an annotation that does not match: ok"
check_with 'annotations = { runbook_url = "https://runbooks" }'
is "$(state)" ok "the annotation regex matches the whole value (a prefix alone matches nothing)"
check_with 'annotations = { no_such_annotation = ".*" }'
is "$(state)" ok "an alert without the annotation does not match, even with .*"
check_with 'annotations = { summary = ".*" }'
like "$(state) $(message)" "^problem 2 firing alerts" "both alerts have a summary: both selected"

# Exclusion: "every firing alert but Watchdog".
check_with 'exclude = { "Watchdog" }'
is "$(state) $(message)" "problem 1 firing alert: MedicTestAlwaysFiring{severity=critical,team=storage} (1 excluded)" \
   "excluded by name: Watchdog no longer counts, and the message says one was excluded"
is "$(cond_get prometheus-alerts 'c["details"]["excluded"]')" 1 "details count the excluded alert"
check_with 'exclude = { "Watch" }'
like "$(state) $(message)" "^problem 2 firing alerts" "the name pattern matches the whole name (Watch alone excludes nothing)"
check_with 'exclude = { "Watch.*|MedicTestAlways.*" }'
is "$(state) $(message)" "ok no matching alert firing (2 alerts in total, 2 excluded)" "every firing alert excluded by name patterns: ok"
check_with 'exclude = { { labels = { severity = "none|info" } } }'
like "$(state) $(message)" "^problem 1 firing alert: MedicTestAlwaysFiring.* \(1 excluded\)$" "excluded by a label pattern"
check_with 'exclude = { { annotations = { summary = ".*alerting pipeline.*" } } }'
like "$(state) $(message)" "^problem 1 firing alert: MedicTestAlwaysFiring.* \(1 excluded\)$" "excluded by an annotation pattern"
check_with 'exclude = { { name = "Watchdog", labels = { severity = "critical" } } }'
like "$(state) $(message)" "^problem 2 firing alerts" "an entry matches in full: Watchdog with another severity is not excluded"
check_with 'exclude = { { annotations = { no_such_annotation = ".*" } } }'
like "$(state) $(message)" "^problem 2 firing alerts" "an exclusion on a missing annotation excludes nothing"
check_with 'annotations = { summary = ".*" }
exclude = { "Watchdog" }'
like "$(state) $(message)" "^problem 1 firing alert: MedicTestAlwaysFiring" "selection and exclusion together"
check_with 'name = "Watchdog"
exclude = { "Watchdog" }'
is "$(state)" ok "the only selected alert excluded: ok"

# Bad selections or exclusions: unknown, naming the field.
check_with 'exclude = { "Watch(" }'
like "$(state) $(message)" "^unknown prometheus-alerts: exclude\[1\]: invalid regular expression" "a bad name pattern in exclude: unknown, naming the entry"
check_with 'exclude = { "Watchdog", { labelz = { severity = "none" } } }'
like "$(state) $(message)" "^unknown prometheus-alerts: exclude\[2\]: unknown field 'labelz'" "a misspelt field in an exclude entry: unknown"
check_with 'exclude = { {} }'
like "$(state) $(message)" "^unknown prometheus-alerts: exclude\[1\]: empty" "an empty exclude entry (it would exclude everything): unknown"
check_with 'exclude = "Watchdog"'
like "$(state) $(message)" "^unknown prometheus-alerts: exclude must be a list" "exclude as a string, not a list: unknown"
check_with 'annotations = { summary = "[" }'
like "$(state) $(message)" "^unknown prometheus-alerts: annotations[.]summary: invalid regular expression" "a bad annotation regex: unknown"

# As a blocker: svc2's rule waits while an alert fires and runs once every firing alert is excluded.
check_with 'exclude = { "Watchdog" }'
touch "$T/svc2-broken"
ok "svc2 becomes a problem" wait_cond svc2 problem 10
ok "the rule's blockers step says no while MedicTestAlwaysFiring fires" \
   wait_for 5 '[ "$(blocker_step fix-svc2 "[\"ok\"]")" = false ]'
like "$(blocker_step fix-svc2 '["detail"]')" 'prometheus-alerts' "the blocker named is prometheus-alerts"
ok "the blocked rule did not run its remedy" test ! -e "$T/svc2-fixed"
check_with 'exclude = { "Watchdog", "MedicTestAlways.*" }'
ok "with every firing alert excluded, the rule runs its remedy" wait_for 10 "test -s '$T/svc2-fixed'"
is "$(grep '^MEDIC_' "$T/svc2-fixed" | sort | tr '\n' ' ')" \
   "MEDIC_CONDITION=svc2 MEDIC_GROUP=$MEDIC_GROUP MEDIC_NODE=$MEDIC_NODE MEDIC_RULE=fix-svc2 " \
   "the command remedy's environment (medic-lua(7), medic.conf(5) Tasks)"

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
is "$(ctl_json history | jget 'len([h for h in d["history"] if h.get("kind") == "remedy" and h.get("rule") == "fix-svc"])')" 0 \
        "the blocked rule never ran its remedy"
is "$(ctl_json history | jget 'len([h for h in d["history"] if h.get("kind") == "remedy" and h.get("rule") == "fix-svc2"])')" 1 \
        "(control: the history counts svc2's remedy)"

# A settings file with an unknown key: unknown with the reason.
settings <<EOF
url = "$URL"
colour = "blue"
EOF
ctl run-check prometheus-alerts > /dev/null
like "$(cond_get prometheus-alerts message)" "unknown setting 'colour'" "an unknown setting: unknown with the reason"
stop_medicd
done_testing
