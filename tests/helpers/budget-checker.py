#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Proves from etcd's own revision history that a group's budget held at every revision.

    budget-checker.py --endpoints URL[,URL...] --group G [--prefix /medic]
                      [--max-unavailable N|N%] [--min-healthy N|N%] [--dump FILE] [--excerpt FILE]
    budget-checker.py --history FILE --group G ...      (a dump written by --dump, or a
                                                          synthetic one: --allow-gaps)

The history is read with one watch over the whole key space from revision 1 with prev_kv,
through etcd's JSON gateway, until the revision etcd reported just before (a range answer's
header). Every revision after 1 changes at least one key, so the revisions must come without a
gap; a gap, a compacted history or a watch that ends early is an error (exit 2), never a pass.
etcd's compaction is off by default, which these tests rely on.

The keys replayed are the ones medic's etcd coordinator writes (medic.conf(5)):
PREFIX/stop, PREFIX/groups/G/{stop,budget}, .../registered/N, .../members/N (on N's lease:
alive; its value says "healthy"), .../queue/N, .../holders/N. After all events of a revision
are applied, the state of the group at that revision is:

    members     = registered ∪ holders           (as grant.c counts them)
    unavailable = { n ∈ members : n holds, or n has no members/ key (not alive),
                                  or its members/ value is not healthy }
    allowed     = max_unavailable as in force at that revision: the budget key's value, else
                  --max-unavailable; a percentage is of |members|, rounded down, never 0 for a
                  non-empty group unless it is 0 (budget.c)
    min_healthy = the same for min_healthy, a percentage rounded up

Checked, and why:
  (i)   at EVERY revision: |holders| <= allowed. Holders only appear through grants and
        permission has no lease, so an excess is a double grant (the tests never lower the
        budget or forget members while anyone holds).
  (ii)  at every revision where a holders/N key is CREATED (a grant): |unavailable| <= allowed,
        i.e. |holders ∪ registered-not-alive ∪ alive-unhealthy| within the budget as of that
        revision. It is not checked at other revisions: a member may die or turn unhealthy
        after a grant, which is allowed (that is why the budget counts it for the NEXT grant).
  (iii) at every grant: the healthy members (members - unavailable) are >= min_healthy.
  (iv)  at every grant: neither PREFIX/stop nor PREFIX/groups/G/stop exists.
  (v)   a holders/N key is only ever created, never overwritten while it exists (a second
        grant to a holder would be one).
Exit status: 0 no violation, 1 violations (each printed with an excerpt of the history),
2 the history could not be read completely.
"""
import argparse
import base64
import http.client
import json
import sys
import time
import urllib.parse


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def unb64(s):
    return base64.b64decode(s or "").decode("utf-8", "replace")


def parse_budget(s):
    s = str(s)
    if s.endswith("%"):
        return int(s[:-1]), True
    return int(s), False


def resolve_max(b, members):
    v, pct = b
    if not pct:
        return v
    r = members * v // 100
    if r == 0 and v > 0 and members > 0:
        r = 1
    return r


def resolve_min(b, members):
    v, pct = b
    if not pct:
        return v
    return (members * v + 99) // 100


def post(url, path, body, timeout):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    return conn, conn.getresponse()


def fetch_history(endpoints, timeout):
    """Returns the list of watch events (dicts with type/kv/prev_kv) for revisions 2..R."""
    last_err = None
    for url in endpoints:
        try:
            conn, r = post(url, "/v3/kv/range", {"key": b64("\0"), "range_end": b64("\0"), "count_only": True}, 10)
            head = json.loads(r.read())
            conn.close()
            target = int(head["header"]["revision"])
            conn, r = post(url, "/v3/watch", {"create_request": {
                "key": b64("\0"), "range_end": b64("\0"), "start_revision": "1", "prev_kv": True}}, timeout)
            events, last = [], 1
            deadline = time.monotonic() + timeout
            while last < target:
                if time.monotonic() > deadline:
                    raise RuntimeError("the watch did not reach revision %d within %d s (at %d)" % (target, timeout, last))
                line = r.readline()
                if not line:
                    raise RuntimeError("the watch ended at revision %d of %d" % (last, target))
                if not line.strip():
                    continue
                msg = json.loads(line)
                if "error" in msg:
                    raise RuntimeError("watch error: %s" % json.dumps(msg["error"]))
                res = msg.get("result", {})
                if int(res.get("compact_revision", 0) or 0) > 0:
                    raise RuntimeError("the history is compacted (compact_revision %s)" % res["compact_revision"])
                if res.get("canceled"):
                    raise RuntimeError("the watch was canceled: %s" % res.get("cancel_reason", ""))
                for ev in res.get("events", []):
                    rev = int(ev["kv"]["mod_revision"])
                    if rev <= target:
                        events.append(ev)
                    last = max(last, rev)
            conn.close()
            return events, target
        except (OSError, ValueError, KeyError, RuntimeError, http.client.HTTPException) as e:
            last_err = "%s: %s" % (url, e)
    raise RuntimeError(last_err or "no endpoint")


def load_history(path):
    events = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                events.append(json.loads(line))
    target = max((int(e["kv"]["mod_revision"]) for e in events), default=1)
    return events, target


def describe(ev):
    key = unb64(ev["kv"].get("key"))
    if ev.get("type") == "DELETE":
        return "DELETE %s" % key
    return "PUT %s %s%s" % (key, unb64(ev["kv"].get("value")),
                            " (lease %s)" % ev["kv"]["lease"] if ev["kv"].get("lease") else "")


class Replay:
    def __init__(self, args):
        self.args = args
        self.gp = "%s/groups/%s/" % (args.prefix, args.group)
        self.stop_cluster_key = "%s/stop" % args.prefix
        self.kv = {}                        # key (group prefix or cluster stop) -> value
        self.default_max = parse_budget(args.max_unavailable)
        self.default_min = parse_budget(args.min_healthy)
        self.violations = []
        self.revisions = self.group_revisions = self.grants = self.releases = 0
        self.max_holders = self.max_unavail_at_grant = 0
        self.grants_by_node = {}
        self.recent = []                    # the group's last events, for excerpts

    def nodes(self, kind):
        p = self.gp + kind + "/"
        return {k[len(p):]: v for k, v in self.kv.items() if k.startswith(p)}

    def budget(self):
        mx, mn = self.default_max, self.default_min
        raw = self.kv.get(self.gp + "budget")
        if self.args.override_max_unavailable:
            mx = parse_budget(self.args.override_max_unavailable)
        if raw is not None:
            try:
                b = json.loads(raw)
                if "max_unavailable" in b and not self.args.override_max_unavailable:
                    mx = parse_budget(b["max_unavailable"])
                if "min_healthy" in b:
                    mn = parse_budget(b["min_healthy"])
            except (ValueError, TypeError):
                pass
        return mx, mn

    def state(self):
        reg, alive, holders = self.nodes("registered"), self.nodes("members"), self.nodes("holders")
        members = set(reg) | set(holders)
        unhealthy = set()
        for n, v in alive.items():
            try:
                if json.loads(v).get("healthy") is not True:
                    unhealthy.add(n)
            except (ValueError, AttributeError):
                unhealthy.add(n)
        unavailable = {n for n in members if n in holders or n not in alive or n in unhealthy}
        mx, mn = self.budget()
        return {
            "members": members, "holders": set(holders), "unavailable": unavailable,
            "dead": {n for n in members if n not in alive}, "unhealthy": unhealthy & members,
            "allowed": resolve_max(mx, len(members)), "min_healthy": resolve_min(mn, len(members)),
            "stopped": self.stop_cluster_key in self.kv or (self.gp + "stop") in self.kv,
        }

    def violation(self, rev, what, st):
        excerpt = "\n".join("    rev %d: %s" % (r, d) for r, d in self.recent[-12:])
        self.violations.append(
            "VIOLATION at revision %d: %s\n  holders=%s dead=%s unhealthy=%s allowed=%d members=%d\n"
            "  the group's last events up to it:\n%s" % (
                rev, what, sorted(st["holders"]), sorted(st["dead"]), sorted(st["unhealthy"]),
                st["allowed"], len(st["members"]), excerpt))

    def revision(self, rev, evs):
        self.revisions += 1
        created, overwritten, touched = [], [], False
        hp = self.gp + "holders/"
        for ev in evs:
            key = unb64(ev["kv"].get("key"))
            if not (key.startswith(self.gp) or key == self.stop_cluster_key):
                continue
            touched = True
            self.recent.append((rev, describe(ev)))
            if ev.get("type") == "DELETE":
                if key.startswith(hp) and key in self.kv:
                    self.releases += 1
                self.kv.pop(key, None)
                continue
            if key.startswith(hp):
                if key in self.kv:
                    overwritten.append(key[len(hp):])
                else:
                    created.append(key[len(hp):])
            self.kv[key] = unb64(ev["kv"].get("value"))
        self.recent = self.recent[-50:]
        if not touched:
            return
        self.group_revisions += 1
        st = self.state()
        self.max_holders = max(self.max_holders, len(st["holders"]))
        if len(st["holders"]) > st["allowed"]:
            self.violation(rev, "(i) %d holders > max_unavailable %d" % (len(st["holders"]), st["allowed"]), st)
        for n in overwritten:
            self.violation(rev, "(v) holder key of %s overwritten while it existed (granted twice)" % n, st)
        for n in created:
            self.grants += 1
            self.grants_by_node[n] = self.grants_by_node.get(n, 0) + 1
            self.max_unavail_at_grant = max(self.max_unavail_at_grant, len(st["unavailable"]))
            if len(st["unavailable"]) > st["allowed"]:
                self.violation(rev, "(ii) grant to %s: %d unavailable %s > max_unavailable %d" % (
                    n, len(st["unavailable"]), sorted(st["unavailable"]), st["allowed"]), st)
            healthy = len(st["members"]) - len(st["unavailable"])
            if healthy < st["min_healthy"]:
                self.violation(rev, "(iii) grant to %s leaves %d healthy < min_healthy %d" % (
                    n, healthy, st["min_healthy"]), st)
            if st["stopped"]:
                self.violation(rev, "(iv) grant to %s while a stop switch is set" % n, st)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoints", help="etcd client URLs, comma-separated")
    ap.add_argument("--history", help="read the history from this file (JSON events, one a line)")
    ap.add_argument("--group", required=True)
    ap.add_argument("--prefix", default="/medic")
    ap.add_argument("--max-unavailable", default="1", help="the clients' configured default (budget key absent)")
    ap.add_argument("--min-healthy", default="0")
    ap.add_argument("--override-max-unavailable", help="check against this, whatever the budget key says")
    ap.add_argument("--dump", help="write the history read to this file")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--json", help="write the figures (and grants per node) to this file")
    ap.add_argument("--allow-gaps", action="store_true", help="for hand-written --history files")
    args = ap.parse_args()

    try:
        if args.history:
            events, target = load_history(args.history)
        elif args.endpoints:
            events, target = fetch_history([u for u in args.endpoints.split(",") if u], args.timeout)
        else:
            ap.error("--endpoints or --history is required")
    except (OSError, ValueError, RuntimeError) as e:
        print("ERROR: cannot read the history: %s" % e)
        return 2
    if args.dump:
        with open(args.dump, "w") as f:
            for ev in events:
                f.write(json.dumps(ev) + "\n")

    by_rev = {}
    for ev in events:
        by_rev.setdefault(int(ev["kv"]["mod_revision"]), []).append(ev)
    if not args.allow_gaps:
        missing = [r for r in range(2, target + 1) if r not in by_rev]
        if missing:
            print("ERROR: the history has %d gap(s), first at revision %d" % (len(missing), missing[0]))
            return 2
    rp = Replay(args)
    for rev in sorted(by_rev):
        rp.revision(rev, by_rev[rev])

    print("checked %d revisions (1..%d), %d of them touching group %s: %d grants (holder keys created) "
          "by %d nodes, %d releases; at most %d holders at once; at most %d unavailable at a grant; "
          "%d violation(s)" % (rp.revisions, target, rp.group_revisions, args.group, rp.grants,
                               len(rp.grants_by_node), rp.releases, rp.max_holders, rp.max_unavail_at_grant,
                               len(rp.violations)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"revision": target, "revisions": rp.revisions, "grants": rp.grants, "releases": rp.releases,
                       "max_holders": rp.max_holders, "max_unavailable_at_grant": rp.max_unavail_at_grant,
                       "grants_by_node": rp.grants_by_node, "violations": rp.violations}, f, indent=1)
    for v in rp.violations[:20]:
        print(v)
    if len(rp.violations) > 20:
        print("... and %d more" % (len(rp.violations) - 20))
    return 1 if rp.violations else 0


if __name__ == "__main__":
    sys.exit(main())
