#!/bin/bash
# SPDX-License-Identifier: MIT
# packaging/monitoring/: the Prometheus rules pass `promtool check rules` and their unit tests
# (`promtool test rules` with tests/monitoring/medic-alerts.test.yml); the Grafana dashboard's
# queries parse (checked by promtool as rules); and every metric any expression uses is one a
# real medicd exports (a scrape of its loopback listener, on etcd with a storm breaker, while it holds the slot, so that
# every series is there), a recording rule of the file, or Prometheus' own `up`. Controls: a
# changed threshold fails the unit tests, an unknown metric name is caught.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 90

MON="$top_srcdir/packaging/monitoring"
PROMTOOL=$(command -v promtool || true)
[ -n "$PROMTOOL" ] || { echo "1..0 # SKIP promtool is not installed (Debian package prometheus)"; exit 0; }
python3 -c 'import yaml' 2>/dev/null || { echo "1..0 # SKIP python3-yaml is not installed"; exit 0; }

# ---- the rules --------------------------------------------------------------------------------
cp "$MON/medic-alerts.yml" "$top_srcdir/tests/monitoring/medic-alerts.test.yml" "$T/"
out=$("$PROMTOOL" check rules "$T/medic-alerts.yml" 2>&1); rc=$?
is "$rc" 0 "promtool check rules medic-alerts.yml"
[ "$rc" = 0 ] || diag "$out"
out=$(cd "$T" && "$PROMTOOL" test rules medic-alerts.test.yml 2>&1); rc=$?
is "$rc" 0 "promtool test rules: every alert fires when it should and not before"
[ "$rc" = 0 ] || diag "$out"
# Control: a threshold moved by a minute fails the unit tests.
mkdir -p "$T/control"
sed 's/for: 5m/for: 6m/' "$T/medic-alerts.yml" > "$T/control/medic-alerts.yml"
cp "$T/medic-alerts.test.yml" "$T/control/"
out=$(cd "$T/control" && "$PROMTOOL" test rules medic-alerts.test.yml 2>&1); rc=$?
ok "control: the unit tests fail when a threshold changes" test "$rc" -ne 0

# Every alert has a runbook and a summary, and is covered by the unit tests.
missing=$(python3 - "$T/medic-alerts.yml" "$T/medic-alerts.test.yml" <<'EOF'
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
tests = yaml.safe_load(open(sys.argv[2]))
tested = {a["alertname"] for t in tests["tests"] for a in t.get("alert_rule_test", []) if a.get("exp_alerts")}
for g in rules["groups"]:
    for r in g["rules"]:
        if "alert" in r:
            a = r.get("annotations", {})
            if not a.get("runbook") or not a.get("summary"):
                print(r["alert"], "has no runbook or summary")
            if r["alert"] not in tested:
                print(r["alert"], "is not shown firing by the unit tests")
EOF
)
is "$missing" "" "every alert has a summary and a runbook and is tested firing"

# ---- the dashboard: its queries, as rules for promtool ------------------------------------------
python3 - "$MON/medic-dashboard.json" "$T/dashboard-rules.yml" <<'EOF' || bail_out "cannot read the dashboard"
import json, sys, yaml
d = json.load(open(sys.argv[1]))
exprs = []
def walk(panels):
    for p in panels:
        for t in p.get("targets", []):
            exprs.append(t["expr"])
        walk(p.get("panels", []))
walk(d["panels"])
for v in d.get("templating", {}).get("list", []):
    q = v.get("query", "")
    if isinstance(q, str) and q.startswith("label_values("):
        # label_values(SELECTOR, label): the selector is PromQL
        exprs.append(q[len("label_values("):q.rindex(",")])
subst = {"$__rate_interval": "5m", "$__interval": "1m", "$group": ".*", "$node": ".*", "$instance": ".*"}
out = []
for i, e in enumerate(exprs):
    for k, v in subst.items():
        e = e.replace(k, v)
    out.append({"record": "dashboard:query_%d" % i, "expr": e})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": out}]}, open(sys.argv[2], "w"))
print(len(out), file=sys.stderr)
EOF
n=$(python3 -c 'import sys, yaml; print(len(yaml.safe_load(open(sys.argv[1]))["groups"][0]["rules"]))' "$T/dashboard-rules.yml")
ok "the dashboard has queries ($n)" test "$n" -ge 20
out=$("$PROMTOOL" check rules "$T/dashboard-rules.yml" 2>&1); rc=$?
is "$rc" 0 "every dashboard query parses (promtool)"
[ "$rc" = 0 ] || diag "$out"
is "$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(sorted({p["title"] for p in d["panels"] if p["type"] == "row"}))' "$MON/medic-dashboard.json")" \
        "['Fleet overview', 'Node detail (\$node)']" "the dashboard has a fleet overview and a node detail"

# ---- a real scrape of medicd ---------------------------------------------------------------------
# On etcd with a storm breaker, so that the coordinator's series (the breaker's too) are there.
need_etcd
start_etcd
medicd_on_etcd
printf 'breaker_group = 50%%/10m\n' >> "$T/medic.conf"
reboot_test_files
reboot_rule_files --health
sed -i "/^\[reboot\]/a methods = sysrq\nsysrq_deadline = 10m" "$T/medic.conf"
PORT=$(free_port)
printf '\n[metrics]\nlisten = 127.0.0.1:%s\n' "$PORT" >> "$T/medic.conf"
start_medicd
touch "$T/trigger"
scrape() { curl -sf "http://127.0.0.1:$PORT/metrics" > "$T/scrape.prom"; }
ok "medicd holds the slot for its reboot (every coordinator series is exported)" \
        wait_for 20 "scrape && grep -q '^medic_coordinator_holding 1' $T/scrape.prom"
scrape
out=$("$PROMTOOL" check metrics < "$T/scrape.prom" 2>&1); rc=$?
is "$rc" 0 "the scrape is valid (promtool check metrics)"
is "$out" "" "promtool check metrics: no lint complaints about the scrape"

# names FILE...: every metric name the expressions of these rule files use, one per line, with
# the rules' file; "unknown NAME (RULE)" for a name that is neither scraped, recorded, nor `up`.
check_names() {
        python3 - "$T/scrape.prom" "$@" <<'EOF'
import re, sys, yaml
scraped = set()
for line in open(sys.argv[1]):
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)', line)
    if m and not line.startswith("#"):
        scraped.add(m.group(1))
rules = [r for f in sys.argv[2:] for g in yaml.safe_load(open(f))["groups"] for r in g["rules"]]
recorded = {r["record"] for r in rules if "record" in r}
keywords = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "inf", "nan", "atan2", "topk", "bottomk", "sum", "min", "max", "avg", "count", "stddev", "stdvar",
            "quantile", "count_values", "group"}
used = 0
for r in rules:
    e = r["expr"]
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', e)                     # strings
    e = re.sub(r'\{[^}]*\}', '', e)                                # label matchers
    e = re.sub(r'\[[^\]]*\]', '', e)                               # ranges
    e = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', ' ', e)   # label lists
    for m in re.finditer(r'[a-zA-Z_:][a-zA-Z0-9_:]*', e):
        name = m.group(0)
        rest = e[m.end():].lstrip()
        if name in keywords or rest.startswith("(") or re.match(r'^\d', name):
            continue
        if re.fullmatch(r'\d+[smhdwy]', name):
            continue
        used += 1
        if name in scraped or name in recorded or name == "up":
            continue
        print("unknown %s (%s)" % (name, r.get("record") or r.get("alert")))
print("used %d" % used, file=sys.stderr)
EOF
}
out=$(check_names "$T/medic-alerts.yml" 2>"$T/names.err")
is "$out" "" "every metric the rules use is in medicd's scrape or recorded ($(cat "$T/names.err"))"
out=$(check_names "$T/medic-alerts.yml" "$T/dashboard-rules.yml" 2>"$T/names.err")
is "$out" "" "every metric the dashboard uses is in medicd's scrape or recorded ($(cat "$T/names.err"))"
# Control: a name medicd does not export is caught.
printf 'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: medic_no_such_metric{a="b"} > 1 and on(instance) medic_parked\n' > "$T/bad-rules.yml"
like "$(check_names "$T/bad-rules.yml" 2>/dev/null)" "^unknown medic_no_such_metric \\(X\\)$" "control: an unknown metric name is caught"

done_testing
