#!/bin/bash
# SPDX-License-Identifier: MIT
# A group larger than one etcd transaction can compare member by member (etcd refuses more
# than --max-txn-ops compares, 128 by default): 150 members written straight into a real etcd
# (registered, alive on a lease, healthy) plus the simulated nodes. A grant there compares the
# members/ range and reads the group back in the same transaction; when a member's lease ends
# between the decision and the transaction (held back by the test-only delay of coord-client)
# the grant is over the budget at its own revision and is given back before anybody is told.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 120
need_etcd
start_etcd
export LEASE_TTL=10s    # coord-client's event loop sleeps through the held-back grant
G=big
P=/medic/groups/$G
holders() { etcdget --prefix --keys-only "$P/holders/" | sed -n 's|.*/holders/||p' | tr '\n' ' ' | sed 's/ $//'; }

# f-000 … f-149 on one lease, except f-149 on its own (revoked later: its lease ends).
dying=$(python3 - "$ETCD_URL" "$P" <<'PY'
import base64, json, sys, urllib.request
url, p = sys.argv[1], sys.argv[2]
def post(path, body):
    req = urllib.request.Request(url + "/v3/" + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=10))
b64 = lambda s: base64.b64encode(s.encode()).decode()
lease, dying = post("lease/grant", {"TTL": 600})["ID"], post("lease/grant", {"TTL": 600})["ID"]
ops = []
for i in range(150):
    n = "f-%03d" % i
    ops.append({"request_put": {"key": b64("%s/registered/%s" % (p, n)), "value": b64(json.dumps({"node": n}))}})
    ops.append({"request_put": {"key": b64("%s/members/%s" % (p, n)), "lease": dying if i == 149 else lease,
                                "value": b64(json.dumps({"node": n, "healthy": True}))}})
for i in range(0, len(ops), 100):
    post("kv/txn", {"success": ops[i:i + 100]})
print("%x" % int(dying))
PY
) || bail_out "cannot write the members into etcd"
is "$(etcdget --prefix --keys-only "$P/members/" | grep -c .)" 150 "150 members alive in etcd"

ok "A registers in the group" client_start A "$G"
client_send A "acquire reboot"
ok "151 alive members, a budget of 1: A is granted" client_wait A '^granted' 10
is "$(holders)" A "etcd: A holds"
client_send A "release reboot"
ok "A releases" wait_for 5 '[ -z "$(holders)" ]'

# B holds its decided grants back for 2 s.
MEDIC_TEST_GRANT_DELAY_MS=2000 client_start B "$G" || bail_out "client B"
ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" put "$P/holders/f-000" '{"node":"f-000","rule":"test"}' > /dev/null
client_send B "acquire reboot"
ok "B waits while f-000 holds (1 of 1)" client_quiet B '^granted' 1.5
rev0=$(ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" get / -w json | jget 'd["header"]["revision"]')
ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" del "$P/holders/f-000" > /dev/null
sleep 1         # B has decided on a free slot and holds its transaction back
ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" lease revoke "$dying" > /dev/null
ok "f-149's lease ended while B's grant was decided: B is not told it is granted" client_quiet B '^granted' 4
ok "B says why it gave the grant back" grep -q 'over the budget at its own revision' "$T/B.err"
history=$(timeout 3 env ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" watch --rev="$((rev0 + 1))" --prefix "$P/holders/" |
        awk 'kind != "" { k = $0; sub(".*/holders/", "", k); printf "%s %s ", kind, k; kind = ""; next }
             $0 == "PUT" || $0 == "DELETE" { kind = $0 }')
is "$history" "DELETE f-000 PUT B DELETE B " "etcd: B's grant was written at the race and deleted at once"
is "$(holders)" "" "nobody holds"
ok "f-149 is dead now and uses the budget: B waits" client_quiet B '^granted' 3
admin A '{"action":"forget","node":"f-149"}' >/dev/null
ok "f-149 forgotten: B is granted" client_wait B '^granted' 10
is "$(holders)" B "etcd: B holds"
done_testing
