#!/bin/bash
# SPDX-License-Identifier: MIT
# medicctl fleet on a real etcd, read directly (no medicd asked): three real medicd nodes in two
# groups (a holder, a waiter behind it, an unhealthy member, a label), a group of 1,000 nodes
# written straight into etcd (holders, a queue, unhealthy, dead, parked and sick members), stop
# switches and a breaker-like key; --json, --group, --label; one range read, timed; errors.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 150
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
start_etcd

sick_check() {
        write_file "$T/checks/30-sick.lua" <<EOF
check "sick" { every = "1s", health = true, run = function()
  if medic.exists("$T/sick") then return problem("sick") end
  return ok("fine")
end }
EOF
}
for n in A B; do
        node_add $n
        node_reboot_rule $n
done
node_add C web
on C sick_check
node_conf B medic "labels = role=db, rack=r2"
node_conf A medic "labels = role=web, rack=r1"
for n in A B C; do node_start $n; done
CONF=$(node_dir A)/medic.conf
fleet() { timeout 20 "$MEDICCTL" fleet --config "$CONF" "$@"; }

ok "the three nodes registered" wait_for 15 "[ \$(etcdget --prefix --keys-only /medic/groups/ | grep -c /registered/) -eq 3 ]"
touch "$(node_dir A)/trigger"
ok "A holds the slot" wait_for 20 "node_holds A"
touch "$(node_dir B)/trigger"
ok "B waits behind A" wait_for 20 "node_queued B"
touch "$(node_dir C)/sick"
ok "C is published unhealthy" wait_for 15 \
        "etcdget --print-value-only /medic/groups/web/members/C | grep -q '\"healthy\": *false'"

# ---- the real nodes, read directly: medicd of the reading node is stopped -------------------
node_stop A
ok "A's holder key stays while its medicd is down" node_holds A
js=$(fleet --json); rc=$?
is "$rc" 0 "fleet --json exits 0 with the reading node's medicd stopped"
g=testgroup
is "$(printf '%s' "$js" | jget 'len(d["groups"])')" 2 "two groups"
is "$(printf '%s' "$js" | jget "[h['node'] for h in find(d['groups'], '$g')['holders']]")" '["A"]' "holders: A"
is "$(printf '%s' "$js" | jget "find(d['groups'], '$g')['holders'][0]['rule']")" reboot-for-updates "the holder's rule"
ok "the holder's since is a recent time" test "$(printf '%s' "$js" | jget "find(d['groups'], '$g')['holders'][0]['since']")" -gt $(( $(date +%s) - 120 ))
is "$(printf '%s' "$js" | jget "[(q['position'], q['node'], q['rule']) for q in find(d['groups'], '$g')['queue']]")" \
        '[[1, "B", "reboot-for-updates"]]' "the queue: B first, its rule"
like "$(printf '%s' "$js" | jget "find(d['groups'], '$g')['queue'][0]['reason']")" "budget|unavailable" "the waiter's reason names the budget"
ok "the waiter's since is a recent time" test "$(printf '%s' "$js" | jget "find(d['groups'], '$g')['queue'][0]['since']")" -gt $(( $(date +%s) - 120 ))
is "$(printf '%s' "$js" | jget "find(d['groups'], '$g')['budget']['used']")" 1 "budget: 1 used"
is "$(printf '%s' "$js" | jget "[[u['node'], u['checks']] for u in find(d['groups'], 'web')['unhealthy']]")" '[["C", ["sick"]]]' \
        "unhealthy: C with the check that is not ok"
is "$(printf '%s' "$js" | jget 'd["switches"]')" '[]' "no switch set"

out=$(fleet); rc=$?
is "$rc" 0 "fleet (human) exits 0"
like "$out" "holder: A rule reboot-for-updates since" "human: the holder"
like "$out" "queue #1: B rule reboot-for-updates, waiting since" "human: the queue"
like "$out" "unhealthy: C \\(sick\\)" "human: unhealthy with its checks"
is "$(fleet --json --group web | jget '[g["name"] for g in d["groups"]]')" '["web"]' "--group web: only that group"
is "$(fleet --json --label role=db | jget '[[g["name"], [q["node"] for q in g["queue"]], g["holders"]] for g in d["groups"]]')" \
        "[[\"$g\", [\"B\"], []]]" "--label role=db: only B (and its group)"
is "$(fleet --json --label role=nobody | jget 'd["groups"]')" '[]' "--label no node has: no group"

# ---- a real node that came back sick: A boots again and its post-reboot task fails -----------
d=$(node_dir A)
printf '#!/bin/sh\necho "the service did not come back" >&2\nexit 1\n' > "$d/post-reboot.d/10-fail"
chmod 0755 "$d/post-reboot.d/10-fail"
cat /proc/sys/kernel/random/uuid > "$d/boot_id"
rm -f "$d/trigger"
: > "$d/sysrq-trigger"
node_start A
ok "A came back sick: fleet shows it with its rule" wait_for 20 \
        "fleet --json | jget \"[[x['node'], x['rule']] for x in find(d['groups'], '$g')['sick']]\" | grep -qx '\\[\\[\"A\", \"reboot-for-updates\"\\]\\]'"
like "$(fleet --json | jget "find(d['groups'], '$g')['sick'][0]['reason']")" "post-reboot task failed" "the reason is the node's"
like "$(fleet)" "came back sick: A \\(rule reboot-for-updates\\): a post-reboot task failed" "human: came back sick"
is "$(node_metric A 'medic_came_back_sick{rule="reboot-for-updates"}')" 1 "A's metric medic_came_back_sick{rule=reboot-for-updates} is 1"
is "$(fleet --json | jget "[h['node'] for h in find(d['groups'], '$g')['holders']]")" '["A"]' "A keeps the slot"
like "$(on A ctl_json status | jget 'd["reboot"]["came_back_sick"]')" "post-reboot task failed" "status: reboot.came_back_sick says why"

# ---- switches: the cluster stop, a group stop, a breaker-like key are shown -----------------
ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" put /medic/stop "rollout paused" >/dev/null
ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" put /medic/groups/web/stop "db migration" >/dev/null
ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" put /medic/breaker '{"reason":"5 nodes in 10m","nodes":["x","y"]}' >/dev/null
js=$(fleet --json)
is "$(printf '%s' "$js" | jget 'sorted([s["scope"], s.get("group") or "", s["name"]] for s in d["switches"])')" \
        '[["cluster", "", "breaker"], ["cluster", "", "stop"], ["group", "web", "stop"]]' "switches: breaker, cluster stop, group stop"
is "$(printf '%s' "$js" | jget 'find(d["switches"], "breaker")["value"]["reason"]')" "5 nodes in 10m" "a JSON switch value is shown as JSON"
is "$(printf '%s' "$js" | jget "[g['stop'] for g in d['groups']]")" '[true, true]' "every group is stopped by the cluster switch"
like "$(fleet)" "switch: stop \\(cluster-wide\\) is set: rollout paused" "human: the cluster stop switch"
like "$(fleet)" "switch: stop of group web is set: db migration" "human: the group stop switch"
ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" del /medic/stop >/dev/null
ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" del /medic/breaker >/dev/null

# ---- 1,000 nodes written straight into etcd ---------------------------------------------------
python3 - "$ETCD_URL" <<'EOF' || bail_out "cannot write the large group"
import base64, json, sys, time, urllib.request
url = sys.argv[1]
b = lambda s: base64.b64encode(s.encode()).decode()
now = int(time.time())
ops = []
def put(k, v):
    ops.append({"request_put": {"key": b("/medic/groups/big/" + k), "value": b(json.dumps(v))}})
for i in range(1000):
    n = "n%04d" % i
    put("registered/" + n, {"node": n, "since": now - 3600, "labels": {"rack": "r%d" % (i % 10)}})
    if i % 100 == 7:          # dead: registered, no member key
        continue
    summary = {"unhealthy": []}
    healthy = True
    if i % 50 == 3:
        healthy, summary["unhealthy"] = False, ["disk"]
    if i == 42:
        summary["parked"] = {"rule": "reboot-kernel", "reason": "2 disruptive remedies within 1h"}
    if i == 43:
        healthy, summary["unhealthy"] = False, ["kubelet"]
        summary["sick"] = {"rule": "reboot-kernel", "reason": "not healthy 1h after the reboot"}
    put("members/" + n, {"node": n, "healthy": healthy, "summary": summary, "updated": now})
put("budget", {"max_unavailable": "5%", "min_healthy": "0"})
for i in (43, 44):
    put("holders/n%04d" % i, {"node": "n%04d" % i, "rule": "reboot-kernel", "since": now - 600})
def txn(batch):
    body = json.dumps({"success": batch}).encode()
    r = urllib.request.urlopen(urllib.request.Request(url + "/v3/kv/txn", body, {"Content-Type": "application/json"}), timeout=10)
    assert json.load(r).get("succeeded"), "txn failed"
for s in range(0, len(ops), 100):
    txn(ops[s:s + 100])
# The queue: one transaction each, so that their create revisions keep the order they joined in.
for k, i in enumerate([500, 100, 900, 10]):
    txn([{"request_put": {"key": b("/medic/groups/big/queue/n%04d" % i),
                          "value": b(json.dumps({"rule": "reboot-kernel", "since": now - 300 + k}))}}])
EOF
is "$(etcdget --prefix --keys-only /medic/groups/big/registered/ | grep -c .)" 1000 "1,000 registrations in etcd"
t0=$(date +%s%N)
js=$(fleet --json); rc=$?
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
is "$rc" 0 "fleet --json on 1,003 nodes exits 0"
diag "medicctl fleet --json on 1,003 nodes: ${ms} ms wall (read $(printf '%s' "$js" | jget 'd["read_ms"]') ms, total $(printf '%s' "$js" | jget 'd["total_ms"]') ms in medicctl, $(printf '%s' "$js" | jget 'd["keys"]') keys)"
ok "fleet on 1,003 nodes takes less than 3 s (${ms} ms)" test "$ms" -lt 3000
is "$(printf '%s' "$js" | jget 'd["nodes"]')" 1003 "1,003 nodes in the view"
big() { printf '%s' "$js" | jget "$1"; }
is "$(big 'find(d["groups"], "big")["members"]')" 1000 "big: 1,000 members"
is "$(big 'find(d["groups"], "big")["budget"]["max_unavailable"]')" "5%" "big: the budget set in etcd"
is "$(big 'find(d["groups"], "big")["budget"]["allowed"]')" 50 "big: 5% of 1,000 is 50"
is "$(big '[h["node"] for h in find(d["groups"], "big")["holders"]]')" '["n0043", "n0044"]' "big: the holders"
is "$(big '[q["node"] for q in find(d["groups"], "big")["queue"]]')" '["n0500", "n0100", "n0900", "n0010"]' \
        "big: the queue in the order the nodes joined"
is "$(big '[q["position"] for q in find(d["groups"], "big")["queue"]]')" '[1, 2, 3, 4]' "big: queue positions"
is "$(big 'len(find(d["groups"], "big")["dead"])')" 10 "big: 10 dead members"
is "$(big 'len(find(d["groups"], "big")["unhealthy"])')" 21 "big: 21 unhealthy members (20 disk, 1 sick)"
is "$(big '[[p["node"], p["rule"], p["reason"]] for p in find(d["groups"], "big")["parked"]]')" \
        '[["n0042", "reboot-kernel", "2 disruptive remedies within 1h"]]' "big: the parked node, its rule and reason"
is "$(big '[[s["node"], s["rule"]] for s in find(d["groups"], "big")["sick"]]')" '[["n0043", "reboot-kernel"]]' "big: the node that came back sick"
is "$(fleet --json --group big --label rack=r3 | jget '[len(d["groups"][0]["unhealthy"]), d["groups"][0]["members"]]')" \
        '[21, 1000]' "--label rack=r3 in big: only its nodes listed, the budget counts the whole group"
out=$(fleet --group big)
like "$out" "group big: 1000 members, .* budget .* of 50 unavailable \\(max_unavailable 5%" "human: the large group's budget"
like "$out" "parked: n0042 \\(rule reboot-kernel\\): 2 disruptive remedies within 1h" "human: parked"
like "$out" "came back sick: n0043 \\(rule reboot-kernel\\)" "human: came back sick"

# ---- one range read: etcd's own request counter ------------------------------------------------
ranges() { curl -sf "$ETCD_URL/metrics" | awk '/^etcd_debugging_mvcc_range_total/ { print $2 }'; }
before=$(ranges)
if [ -n "$before" ]; then
        fleet --json > /dev/null
        is "$(( $(ranges) - before ))" 1 "fleet makes one range read"
else
        skip "fleet makes one range read" "etcd does not export etcd_debugging_mvcc_range_total"
fi

# ---- errors ----------------------------------------------------------------------------------
sed 's/^backend = etcd/backend = local/' "$CONF" > "$T/local.conf"
out=$(timeout 10 "$MEDICCTL" fleet --config "$T/local.conf" 2>&1); rc=$?
is "$rc" 1 "fleet with the local backend exits 1"
like "$out" "backend = etcd" "and says fleet needs the etcd backend"
kill -STOP "${ETCD_PIDS[0]}"
sed -i 's/^request_timeout = .*/request_timeout = 1s/' "$CONF"
out=$(fleet 2>&1); rc=$?
kill -CONT "${ETCD_PIDS[0]}"
is "$rc" 3 "fleet with etcd not answering exits 3"
like "$out" "fleet: .*(imeout|timed out)" "and says etcd did not answer"
out=$(timeout 10 "$MEDICCTL" fleet --config "$T/nonexistent.conf" 2>&1); rc=$?
is "$rc" 1 "fleet with a missing configuration exits 1"
out=$(timeout 10 "$MEDICCTL" fleet extra 2>&1); rc=$?
is "$rc" 2 "fleet with an argument is a usage error"

# ---- etcd's authentication: the node's user and root-only password file ---------------------
for n in B C; do node_stop $n; done
sed -i 's/^request_timeout = .*/request_timeout = 5s/' "$CONF"
ok "etcd answers again" wait_for 10 "curl -sf $ETCD_URL/health | grep -q true"
etcdctl --endpoints="$ETCD_URL" user add root --new-user-password=s3cret --interactive=false >/dev/null 2>&1
etcdctl --endpoints="$ETCD_URL" user grant-role root root >/dev/null 2>&1
etcdctl --endpoints="$ETCD_URL" auth enable >/dev/null 2>&1 || bail_out "cannot enable etcd auth"
out=$(fleet 2>&1); rc=$?
is "$rc" 3 "auth on, no user: fleet exits 3"
(umask 077; echo s3cret > "$T/pw")
sed -i "/^\[coordinator\]/a user = root\npassword_file = $T/pw" "$CONF"
is "$(fleet --json --group big | jget 'd["groups"][0]["members"]')" 1000 "auth on, user and password file: fleet reads the fleet"
(umask 077; echo wrong > "$T/pw")
out=$(fleet 2>&1); rc=$?
is "$rc" 3 "a wrong password: exit 3"
like "$out" "auth/authenticate: HTTP [0-9]+: .*authentication failed" "and says authentication failed"
chmod 0644 "$T/pw"
out=$(fleet 2>&1); rc=$?
like "$out" "readable by group or others" "a password file readable by others is refused"

done_testing
