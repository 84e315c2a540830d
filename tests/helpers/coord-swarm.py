#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drives many simulated nodes (tests/helpers/coord-client, one process each) against an etcd
cluster started by tests/integration/etcd-cluster-lib.sh, and kills things at random.

Every client loops: acquire, hold a random short time, release, idle a random short time;
now and then it reports itself unhealthy for a while. Optionally:
  --kill-clients A:B   every A..B s one client is SIGKILLed; the driver then plays the operator:
                       after a few seconds (its lease may expire: it shows as dead and keeps
                       blocking if it held permission) it releases the dead node's permission
                       (medicctl's "release", through an admin client in another group), and
                       only then starts the node again.
  --kill-etcd A:B      every A..B s one etcd member is SIGKILLed (the leader half of the time)
                       and started again after --etcd-down C:D s; never two at once.
  --kill-leader-at S,… at these times into the run, kill the leader; start it again after
                       --etcd-down.
The run ends with the group's stop switch (pending requests are refused, holders release).
What the clients print is recorded with the driver's clock: a holding interval starts when
"granted" was read and ends when "release" was sent (or the client was killed), so it lies
inside the true interval (grant commit .. delete commit); more overlapping intervals than
--budget is a violation no matter what etcd says. The summary (JSON) goes to --summary.
"""
import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

T0 = time.monotonic()


def now():
    return time.monotonic() - T0


def rng(spec):
    a, _, b = spec.partition(":")
    return random.uniform(float(a), float(b or a))


class Dead(Exception):
    pass


class Proc:
    """One coord-client process with its output as a queue of lines."""

    def __init__(self, drv, name, group):
        self.drv, self.name, self.group = drv, name, group
        self.proc = None
        self.lines = asyncio.Queue()
        self.log = open(os.path.join(drv.a.dir, "swarm-%s.log" % name), "a")

    async def start(self):
        conf = os.path.join(self.drv.a.dir, "swarm-%s.conf" % self.name)
        with open(conf, "w") as f:
            f.write("[medic]\nnode = %s\ngroup = %s\nstate_dir = %s/state-%s\nsocket = %s/%s.sock\n"
                    "stop_file = %s/stop-%s\n[coordinator]\nbackend = etcd\nendpoints = %s\n"
                    "lease_ttl = %s\nrequest_timeout = %s\nmax_unavailable = %s\n" % (
                        self.name, self.group, self.drv.a.dir, self.name, self.drv.a.dir, self.name,
                        self.drv.a.dir, self.name, self.drv.a.endpoints.replace(",", " "),
                        self.drv.a.lease_ttl, self.drv.a.request_timeout, self.drv.a.budget))
        self.lines = asyncio.Queue()
        self.proc = await asyncio.create_subprocess_exec(
            self.drv.a.coord_client, conf, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=self.log)
        self.drv.pids_changed()
        self.log.write("%.3f started pid %d\n" % (now(), self.proc.pid))
        self.reader = asyncio.ensure_future(self.read())

    async def read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                self.lines.put_nowait(None)
                return
            s = line.decode(errors="replace").rstrip("\n")
            self.log.write("%.3f < %s\n" % (now(), s))
            self.lines.put_nowait((now(), s))

    def send(self, cmd):
        self.log.write("%.3f > %s\n" % (now(), cmd))
        self.log.flush()
        try:
            self.proc.stdin.write((cmd + "\n").encode())
        except (BrokenPipeError, ConnectionResetError, AttributeError):
            raise Dead()

    async def expect(self, pattern, timeout=None, until=None):
        """The first line matching pattern: (time, line). until(): give up (None) when true."""
        end = None if timeout is None else now() + timeout
        while True:
            wait = 0.25
            if end is not None:
                wait = min(wait, end - now())
                if wait <= 0:
                    return None
            if until and until():
                return None
            try:
                item = await asyncio.wait_for(self.lines.get(), wait)
            except asyncio.TimeoutError:
                continue
            if item is None:
                raise Dead()
            if re.search(pattern, item[1]):
                return item

    async def kill(self):
        if self.proc and self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            await self.proc.wait()
        self.drv.pids_changed()


class Driver:
    def __init__(self, a):
        self.a = a
        self.stopping = False
        self.stop_set = None
        self.clients = {}
        self.tasks = {}
        self.holding = {}            # name -> time "granted" was read
        self.intervals = []          # (start, end, name)
        self.grants = []             # (time, name)
        self.counts = {"grants_printed": 0, "releases_sent": 0, "client_kills": 0, "operator_releases": 0,
                       "etcd_kills": 0, "leader_kills": 0, "sick_flips": 0, "restarts": 0, "stopped": 0}
        self.events = []             # (time, what) for the summary
        self.admin = None

    def pids_changed(self):
        pids = [str(p.proc.pid) for p in list(self.clients.values()) + [self.admin]
                if p and p.proc and p.proc.returncode is None]
        with open(os.path.join(self.a.dir, "swarm.pids"), "w") as f:
            f.write(" ".join(pids) + "\n")

    def note(self, what):
        self.events.append((round(now(), 3), what))
        print("# %7.2f %s" % (now(), what), flush=True)

    # ---- operator ---------------------------------------------------------------------------
    async def admin_call(self, req, timeout=40):
        end = now() + timeout
        while now() < end:
            try:
                self.admin.send("admin " + json.dumps(req))
                r = await self.admin.expect(r"^\{", timeout=15)
            except Dead:
                return None
            if r:
                try:
                    ans = json.loads(r[1])
                except ValueError:
                    ans = {}
                if ans.get("ok"):
                    return ans
            await asyncio.sleep(0.5)
        return None

    # ---- one simulated node ------------------------------------------------------------------
    async def life(self, c):
        try:
            await c.start()
            if not await c.expect(r"^ready", timeout=30):
                self.note("%s did not register within 30 s" % c.name)
                return
            while not self.stopping:
                if random.random() < self.a.sick_prob:
                    self.counts["sick_flips"] += 1
                    c.send("health sick")
                    await c.expect(r"^health", timeout=10)
                    await asyncio.sleep(rng(self.a.sick))
                    c.send("health ok")
                    await c.expect(r"^health", timeout=10)
                c.send("acquire reboot")
                # The run ends with the group's stop switch: waiting requests are refused.
                r = await c.expect(r"^(granted|stopped)", until=lambda: self.stop_set and now() > self.stop_set + 20)
                if r is None:
                    self.note("%s: the stop switch did not end its request within 20 s" % c.name)
                    c.send("withdraw reboot")
                    break
                if r[1].startswith("stopped"):
                    self.counts["stopped"] += 1
                    if self.stopping:
                        break
                    await asyncio.sleep(0.5)
                    continue
                self.counts["grants_printed"] += 1
                self.holding[c.name] = r[0]
                self.grants.append((r[0], c.name))
                await asyncio.sleep(rng(self.a.hold))
                t = now()
                del self.holding[c.name]
                self.intervals.append((r[0], t, c.name))
                self.counts["releases_sent"] += 1
                c.send("release reboot")
                await c.expect(r"^released", timeout=10)
                await asyncio.sleep(rng(self.a.idle))
            c.send("quit")
            await asyncio.wait_for(c.proc.wait(), 10)
        except (Dead, asyncio.TimeoutError):
            pass

    async def kill_client(self, name):
        c = self.clients[name]
        self.tasks[name].cancel()
        await c.kill()
        t = now()
        self.counts["client_kills"] += 1
        held = name in self.holding
        if held:
            self.intervals.append((self.holding.pop(name), t, name))
        self.note("killed client %s%s" % (name, " (holding permission)" if held else ""))
        await asyncio.sleep(rng(self.a.dead))
        # The operator: the node is dead; whatever it holds is released before it comes back.
        if await self.admin_call({"action": "release", "node": name, "group": self.a.group}):
            self.counts["operator_releases"] += 1
        else:
            self.note("operator release of %s failed" % name)
        if not self.stopping:
            self.counts["restarts"] += 1
            self.tasks[name] = asyncio.ensure_future(self.life(c))

    async def client_killer(self):
        while not self.stopping:
            await asyncio.sleep(rng(self.a.kill_clients))
            if self.stopping:
                return
            busy = {n for n, t in self.tasks.items() if t.done()}
            names = [n for n in self.clients if n not in busy]
            if random.random() < self.a.kill_holder_prob:
                # Killing a holder is the interesting case: wait up to 3 s for one.
                for _ in range(30):
                    holders = [n for n in self.holding if n not in busy]
                    if holders:
                        names = holders
                        break
                    await asyncio.sleep(0.1)
            if names:
                await self.kill_client(random.choice(names))

    # ---- etcd members ------------------------------------------------------------------------
    def member_pidfile(self, i):
        return os.path.join(self.a.dir, "etcd-s%d.pid" % i)

    def leader(self):
        try:
            out = subprocess.run(["etcdctl", "--endpoints=" + self.a.endpoints, "--command-timeout=3s",
                                  "endpoint", "status", "-w", "json"], capture_output=True, timeout=10,
                                 env=dict(os.environ, ETCDCTL_API="3")).stdout
            urls = self.a.endpoints.split(",")
            for s in json.loads(out or b"[]"):
                st = s["Status"]
                if st["leader"] == st["header"]["member_id"]:
                    return urls.index(s["Endpoint"]) + 1
        except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
            pass
        return None

    async def kill_member(self, i, why):
        try:
            pid = int(open(self.member_pidfile(i)).read().split()[0])
            os.kill(pid, signal.SIGKILL)
            for _ in range(50):
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                await asyncio.sleep(0.1)
        except (OSError, ValueError, IndexError):
            pass
        self.counts["etcd_kills"] += 1
        self.note("killed etcd member %d (%s)" % (i, why))
        await asyncio.sleep(rng(self.a.etcd_down))
        p = subprocess.Popen([os.path.join(self.a.dir, "etcd-s%d.sh" % i)], stdin=subprocess.DEVNULL)
        with open(self.member_pidfile(i), "w") as f:
            f.write("%d\n" % p.pid)
        self.note("started etcd member %d again" % i)
        await asyncio.sleep(2)   # let it rejoin before the next kill

    async def etcd_killer(self):
        while not self.stopping:
            await asyncio.sleep(rng(self.a.kill_etcd))
            if self.stopping:
                return
            lead = self.leader() if random.random() < 0.5 else None
            if lead:
                self.counts["leader_kills"] += 1
            await self.kill_member(lead or random.randint(1, self.a.members), "leader" if lead else "random")

    async def leader_killer(self):
        for at in sorted(float(x) for x in self.a.kill_leader_at.split(",")):
            await asyncio.sleep(max(0, at - now()))
            lead = self.leader()
            if lead:
                self.counts["leader_kills"] += 1
                await self.kill_member(lead, "leader")
            else:
                self.note("no leader found to kill")

    # ---- the run -----------------------------------------------------------------------------
    async def run(self):
        a = self.a
        self.admin = Proc(self, "admin", a.admin_group)
        await self.admin.start()
        if not await self.admin.expect(r"^ready", timeout=30):
            print("admin client did not register", file=sys.stderr)
            return 2
        if not await self.admin_call({"action": "set-budget", "group": a.group, "max_unavailable": a.budget}):
            print("cannot set the budget", file=sys.stderr)
            return 2
        for i in range(a.clients):
            name = "n%02d" % (i + 1)
            self.clients[name] = Proc(self, name, a.group)
            self.tasks[name] = asyncio.ensure_future(self.life(self.clients[name]))
        self.note("%d clients started, budget %s" % (a.clients, a.budget))
        helpers = []
        if a.kill_clients:
            helpers.append(asyncio.ensure_future(self.client_killer()))
        if a.kill_etcd:
            helpers.append(asyncio.ensure_future(self.etcd_killer()))
        if a.kill_leader_at is not None:
            helpers.append(asyncio.ensure_future(self.leader_killer()))
        await asyncio.sleep(a.duration)
        self.stopping = True
        self.note("stopping: setting the group's stop switch")
        if not await self.admin_call({"action": "stop", "group": a.group}):
            self.note("cannot set the stop switch")
        self.stop_set = now()
        # Let a member that is down come back and clients that are being restarted finish.
        await asyncio.wait(helpers + list(self.tasks.values()), timeout=45)
        for i in range(1, a.members + 1):
            try:
                pid = int(open(self.member_pidfile(i)).read().split()[0])
                os.kill(pid, 0)
            except (OSError, ValueError, IndexError):
                self.note("etcd member %d is not running at the end" % i)
        for name, c in self.clients.items():
            if name in self.holding:      # a client that did not finish: its time ends now
                self.intervals.append((self.holding.pop(name), now(), name))
            await c.kill()
        st = await self.admin_call({"action": "status", "group": a.group}, timeout=20)
        left = [h["node"] for h in (st or {}).get("holders", [])]
        for n in left:   # should not happen: reported in the summary; the operator cleans up
            await self.admin_call({"action": "release", "node": n, "group": a.group})
        try:
            self.admin.send("quit")
            await asyncio.wait_for(self.admin.proc.wait(), 5)
        except (Dead, asyncio.TimeoutError):
            await self.admin.kill()
        self.pids_changed()

        # The most intervals open at once, as the clients saw it.
        marks = sorted([(s, 1, n) for s, e, n in self.intervals] + [(e, 0, n) for s, e, n in self.intervals])
        cur = peak = 0
        peak_at = None
        for t, kind, n in marks:
            cur += 1 if kind else -1
            if cur > peak:
                peak, peak_at = cur, t
        gaps = sorted(self.grants)
        summary = dict(self.counts, clients=a.clients, budget=a.budget, duration=a.duration,
                       max_printed_overlap=peak, max_printed_overlap_at=peak_at,
                       holders_left_at_end=left,
                       grants_by_node={n: sum(1 for _, m in self.grants if m == n) for n in self.clients},
                       grant_times=[round(t, 3) for t, _ in gaps], events=self.events)
        with open(a.summary, "w") as f:
            json.dump(summary, f, indent=1)
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--coord-client", required=True)
    ap.add_argument("--dir", required=True, help="the test's $T (etcd-sI.sh / etcd-sI.pid live there)")
    ap.add_argument("--endpoints", required=True)
    ap.add_argument("--group", default="g1")
    ap.add_argument("--admin-group", default="ops")
    ap.add_argument("--clients", type=int, default=30)
    ap.add_argument("--budget", default="2")
    ap.add_argument("--duration", type=float, default=120)
    ap.add_argument("--hold", default="0.1:0.8")
    ap.add_argument("--idle", default="0:1")
    ap.add_argument("--sick-prob", type=float, default=0.03)
    ap.add_argument("--sick", default="0.3:1.5")
    ap.add_argument("--kill-clients", default="")
    ap.add_argument("--dead", default="1:5", help="how long a killed client stays dead")
    ap.add_argument("--kill-etcd", default="")
    ap.add_argument("--kill-leader-at", help="S[,S...]: kill the leader at these times into the run")
    ap.add_argument("--kill-holder-prob", type=float, default=0.5,
                    help="how often a client kill picks a node that holds permission")
    ap.add_argument("--etcd-down", default="2:6")
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--lease-ttl", default="3s")
    ap.add_argument("--request-timeout", default="3s")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--summary", required=True)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int(time.time())
    random.seed(seed)
    print("# swarm seed %d" % seed, flush=True)
    return asyncio.run(Driver(a).run())


if __name__ == "__main__":
    sys.exit(main())
