#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Host side of medic's VM test bed: Debian guests with systemd and the project's medicd.

Python API (tests/vm/README.md has the whole story):

    tb = Testbed(srcdir)                          # inputs from the cache; raises Skip
    img = tb.image(workdir, "t1", overlay="guest/", files={"/etc/vmt/guest.sh": (text, 0o755)})
    r = tb.boot(img, timeout=150)                 # until QEMU exits (the guest powers off)
    r.boots, r.markers, r.marker("MEDICD-ACTIVE"), r.events, r.serial
    tb.read(img, "/var/lib/medic/state.json")     # a file of the guest, after QEMU exited
    tb.put(img, "/etc/medic/stop", "")            # a file into the guest, between boots

Command line (what the shell tests use):

    vmharness.py inputs SRCDIR                    # KEY=VALUE lines; exit 77 + reason = skip
    vmharness.py image SRCDIR IMG [--overlay DIR]
    vmharness.py boot SRCDIR IMG --json OUT [--timeout S] [--until KEY] [--no-reboot]
                 [--max-boots N] [--guestfwd GUESTPORT:HOSTPORT] [--log FILE]
    vmharness.py read IMG GUESTPATH               # the file's bytes on stdout
    vmharness.py put IMG GUESTPATH < data

The guest: /dev/vda is the root file system (ext4 image), /dev/vdb a 1 MiB boot counter
that the initramfs increments on every boot ("VMT[t]: BOOT n" on the serial console).
After multi-user.target, vmt-agent.service runs /etc/vmt/guest.sh (the test's script,
which prints markers with `mark KEY text` from /usr/local/lib/vmt/lib.sh) and then powers
the guest off unless /etc/vmt/end says "stay". No host device is passed through: the disks
are files in the test's directory, the network is QEMU's user-mode stack with restrict=on
(the guest reaches only the guestfwd ports, forwarded to 127.0.0.1), the watchdog is an
emulated i6300esb whose expiry resets the guest.
"""
import argparse, base64, ctypes, json, os, re, shutil, signal, socket, subprocess, sys
import tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
MARKER = re.compile(r"VMT\[([0-9.]+)\]: (\S+) ?(.*)$")
GUEST_FWD_IP = "10.0.2.100"


class Skip(Exception):
    """The test bed cannot run here; str() is the reason."""


class Image:
    def __init__(self, path):
        self.path = path
        self.counter = path + ".counter"


class Result:
    def __init__(self):
        self.serial = []      # (t, line)
        self.markers = []     # (t, key, value); value "=b64:..." decoded to text
        self.events = []      # (t, event, data) from QMP
        self.boots = 0        # the counter disk after QEMU exited
        self.qemu_rc = None
        self.timed_out = False
        self.wall = 0.0
        self.cmd = []

    def marker(self, key, default=None):
        """Value of the last marker KEY (None when absent)."""
        v = [x for _, k, x in self.markers if k == key]
        return v[-1] if v else default

    def marker_time(self, key):
        v = [t for t, k, _ in self.markers if k == key]
        return v[0] if v else None

    def count(self, event):
        return sum(1 for _, e, _ in self.events if e == event)

    def as_dict(self):
        return {"boots": self.boots, "qemu_rc": self.qemu_rc, "timed_out": self.timed_out,
                "wall": round(self.wall, 2), "cmd": self.cmd,
                "markers": [[round(t, 3), k, v] for t, k, v in self.markers],
                "events": [[round(t, 3), e, d] for t, e, d in self.events],
                "serial": [[round(t, 3), s] for t, s in self.serial]}


def _pdeathsig():
    # QEMU dies with the harness, whatever kills the harness.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    os.setpgid(0, 0)


def accel_choice(want=None):
    """kvm only when it can really run a stock kernel: /dev/kvm usable AND vmx/svm (a nested,
    paravirtual KVM without them fails with emulation errors); tcg otherwise."""
    want = want or os.environ.get("MEDIC_VM_ACCEL", "auto")
    if want != "auto":
        return want
    flags = open("/proc/cpuinfo").read()
    hw = " vmx" in flags or " svm" in flags
    return "kvm" if hw and os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"


class Testbed:
    def __init__(self, srcdir):
        self.srcdir = os.path.abspath(srcdir)
        p = subprocess.run(["bash", os.path.join(HERE, "inputs.sh"), self.srcdir],
                           stdout=subprocess.PIPE, text=True)
        if p.returncode == 77:
            raise Skip(p.stdout.strip() or "the VM test bed cannot run here")
        if p.returncode != 0:
            raise RuntimeError("building the VM test bed's inputs failed (status %d)" % p.returncode)
        self.inputs = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
        self.kernel = self.inputs["KERNEL"]
        self.initrd = self.inputs["INITRD"]

    # ---- images ------------------------------------------------------------------------
    def image(self, workdir, name, overlay=None, files=None, size="1G", medic=True):
        """A fresh guest image: the cached Debian tree + medic's build (installed as a package
        would be, medicd.service enabled; not with medic=False) + the harness's guest agent +
        OVERLAY (a directory copied over /) + FILES ({guest path: text | bytes | (content, mode)})."""
        tree = os.path.join(workdir, name + ".tree")
        img = Image(os.path.join(workdir, name + ".img"))
        shutil.rmtree(tree, ignore_errors=True)
        subprocess.run(["cp", "-a", "--reflink=auto", self.inputs["ROOTFS"], tree], check=True)
        if medic:
            subprocess.run(["cp", "-a", self.inputs["DESTDIR"] + "/.", tree], check=True)
            unit = "/usr/lib/systemd/system/medicd.service"
            if not os.path.exists(tree + unit):
                raise RuntimeError("the build installed no " + unit)
            os.symlink(unit, tree + "/etc/systemd/system/multi-user.target.wants/medicd.service")
        g = os.path.join(HERE, "guest")
        os.makedirs(tree + "/usr/local/lib/vmt", exist_ok=True)
        for f in ("agent.sh", "lib.sh"):
            shutil.copy(os.path.join(g, f), tree + "/usr/local/lib/vmt/" + f)
            os.chmod(tree + "/usr/local/lib/vmt/" + f, 0o755)
        shutil.copy(os.path.join(g, "vmt-agent.service"), tree + "/etc/systemd/system/")
        os.symlink("/etc/systemd/system/vmt-agent.service",
                   tree + "/etc/systemd/system/multi-user.target.wants/vmt-agent.service")
        os.makedirs(tree + "/etc/vmt", exist_ok=True)
        if overlay:
            subprocess.run(["cp", "-a", "--no-preserve=ownership", overlay.rstrip("/") + "/.", tree],
                           check=True)
        for path, content in (files or {}).items():
            mode = 0o644
            if isinstance(content, tuple):
                content, mode = content
            dst = tree + path
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
            os.chmod(dst, mode)
        if os.path.exists(img.path):
            os.unlink(img.path)
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "vmtroot", "-d", tree, img.path, size],
                       check=True)
        shutil.rmtree(tree)
        with open(img.counter, "wb") as f:
            f.truncate(1 << 20)
        return img

    @staticmethod
    def read(img, path):
        """Bytes of GUESTPATH in the (not running) image, or None when it does not exist."""
        ipath = img.path if isinstance(img, Image) else img
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "f")
            subprocess.run(["debugfs", "-R", "dump -p %s %s" % (path, out), ipath],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not os.path.exists(out):
                return None
            return open(out, "rb").read()

    @staticmethod
    def put(img, path, data, mode=0o644):
        """Writes GUESTPATH (its directory must exist) into the (not running) image."""
        ipath = img.path if isinstance(img, Image) else img
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "f")
            with open(src, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
            cmds = "rm %s\nwrite %s %s\nsif %s mode 0%o\nsif %s uid 0\nsif %s gid 0\n" % (
                path, src, path, path, 0o100000 | mode, path, path)
            p = subprocess.run(["debugfs", "-w", "-f", "-", ipath], input=cmds.encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if Testbed.read(ipath, path) is None:
                raise RuntimeError("debugfs could not write %s: %s" % (path, p.stdout.decode()[-500:]))

    @staticmethod
    def boots(img):
        with open(img.counter, "rb") as f:
            n = f.read(512).split(b"\n")[0].strip()
        return int(n) if n.isdigit() else 0

    # ---- booting -----------------------------------------------------------------------
    def boot(self, img, timeout=180, until=None, no_reboot=False, max_boots=None,
             guestfwd=(), accel=None, memory=768, append="", log=None):
        """Boots IMG and returns a Result when QEMU exits (the guest powered off, or with
        no_reboot: reset), when until(result) is true, when the serial console shows boot
        number max_boots + 1 (QEMU is stopped before that boot gets anywhere), or after
        TIMEOUT seconds (result.timed_out). QEMU is always gone when this returns."""
        accel = accel_choice(accel)
        cpu = "host" if accel == "kvm" else "max"
        tmp = tempfile.mkdtemp(prefix="vmt-qmp-")
        qmp_path = os.path.join(tmp, "qmp.sock")
        net = "user,id=n0,restrict=on"
        # The forwarder runs as QEMU's (unprivileged) user: the system's python3 if there is one.
        py = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
        for fwd in guestfwd:
            gport, hport = (fwd.split(":") if isinstance(fwd, str) else fwd)
            net += ",guestfwd=tcp:%s:%s-cmd:%s %s 127.0.0.1 %s" % (
                GUEST_FWD_IP, gport, py, os.path.join(HERE, "fwd.py"), hport)
        cmd = ["qemu-system-x86_64", "-no-user-config", "-nodefaults", "-accel", accel, "-cpu", cpu,
               "-m", str(memory), "-smp", "1",
               "-display", "none", "-monitor", "none", "-serial", "stdio",
               "-kernel", self.kernel, "-initrd", self.initrd,
               "-append", ("console=ttyS0 quiet panic=-1 systemd.show_status=error "
                           "rd.systemd.show_status=error " + append).strip(),
               "-drive", "file=%s,format=raw,if=virtio,cache=unsafe" % img.path,
               "-drive", "file=%s,format=raw,if=virtio" % img.counter,
               "-netdev", net, "-device", "virtio-net-pci,netdev=n0",
               "-device", "i6300esb", "-action", "watchdog=reset",
               "-qmp", "unix:%s,server=on,wait=off" % qmp_path]
        if os.getuid() == 0 and (not guestfwd or py.startswith("/usr/")):
            # QEMU needs no privileges once its files are open: drop them, and keep it from
            # gaining any (seccomp). "spawn" stays allowed for the guestfwd helper.
            cmd += ["-runas", "nobody", "-sandbox", "on,obsolete=deny,resourcecontrol=deny"]
        if no_reboot:
            cmd.append("-no-reboot")
        r = Result()
        r.cmd = cmd
        t0 = time.monotonic()
        lock = threading.Lock()
        changed = threading.Event()

        def rec_serial(line):
            t = time.monotonic() - t0
            with lock:
                r.serial.append((t, line))
                m = MARKER.search(line)
                if m:
                    v = m.group(3)
                    if v.startswith("=b64:"):
                        v = base64.b64decode(v[5:]).decode(errors="replace")
                    r.markers.append((t, m.group(2), v))
            changed.set()

        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, preexec_fn=_pdeathsig)

        def serial_reader():
            for raw in p.stdout:
                rec_serial(raw.decode(errors="replace").rstrip("\r\n"))

        def qmp_reader():
            s = None
            for _ in range(200):
                try:
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(qmp_path)
                    break
                except OSError:
                    s = None
                    time.sleep(0.05)
            if s is None:
                return
            f = s.makefile("rwb")
            f.readline()
            f.write(b'{"execute":"qmp_capabilities"}\n')
            f.flush()
            for line in f:
                try:
                    m = json.loads(line)
                except ValueError:
                    continue
                if "event" in m:
                    with lock:
                        r.events.append((time.monotonic() - t0, m["event"], m.get("data", {})))
                    changed.set()

        threading.Thread(target=serial_reader, daemon=True).start()
        threading.Thread(target=qmp_reader, daemon=True).start()
        deadline = t0 + timeout
        try:
            while p.poll() is None:
                if time.monotonic() >= deadline:
                    r.timed_out = True
                    break
                changed.wait(0.2)
                changed.clear()
                with lock:
                    nboot = sum(1 for _, k, _ in r.markers if k == "BOOT")
                    if max_boots is not None and nboot > max_boots:
                        break
                    if until is not None and until(r):
                        break
        finally:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            time.sleep(0.2)
            shutil.rmtree(tmp, ignore_errors=True)
        r.qemu_rc = p.returncode
        r.wall = time.monotonic() - t0
        r.boots = self.boots(img)
        if log:
            with open(log, "w") as f:
                f.write("# " + " ".join(cmd) + "\n")
                items = [(t, "serial", s) for t, s in r.serial] + \
                        [(t, "qmp", e + " " + json.dumps(d)) for t, e, d in r.events]
                for t, k, x in sorted(items, key=lambda i: i[0]):
                    f.write("%8.3f %-6s %s\n" % (t, k, x))
        return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("inputs"); s.add_argument("srcdir")
    s = sub.add_parser("image"); s.add_argument("srcdir"); s.add_argument("img")
    s.add_argument("--overlay")
    s.add_argument("--no-medic", action="store_true", help="without the tree's build of medic")
    s = sub.add_parser("boot"); s.add_argument("srcdir"); s.add_argument("img")
    s.add_argument("--json", required=True); s.add_argument("--timeout", type=float, default=180)
    s.add_argument("--until", help="stop once this marker was printed")
    s.add_argument("--no-reboot", action="store_true")
    s.add_argument("--max-boots", type=int)
    s.add_argument("--guestfwd", action="append", default=[], metavar="GUESTPORT:HOSTPORT")
    s.add_argument("--append", default="")
    s.add_argument("--log")
    s = sub.add_parser("read"); s.add_argument("img"); s.add_argument("path")
    s = sub.add_parser("put"); s.add_argument("img"); s.add_argument("path")
    s.add_argument("--mode", type=lambda x: int(x, 8), default=0o644)
    a = ap.parse_args()

    if a.cmd == "read":
        d = Testbed.read(a.img, a.path)
        if d is None:
            return 1
        sys.stdout.buffer.write(d)
        return 0
    if a.cmd == "put":
        Testbed.put(a.img, a.path, sys.stdin.buffer.read(), a.mode)
        return 0
    try:
        tb = Testbed(a.srcdir)
    except Skip as e:
        print(e)
        return 77
    if a.cmd == "inputs":
        for k, v in tb.inputs.items():
            print("%s=%s" % (k, v))
        print("ACCEL=%s" % accel_choice())
        return 0
    if a.cmd == "image":
        d, n = os.path.split(os.path.abspath(a.img))
        if not n.endswith(".img"):
            ap.error("the image name must end in .img")
        tb.image(d, n[:-4], overlay=a.overlay, medic=not a.no_medic)
        return 0
    img = Image(os.path.abspath(a.img))
    until = (lambda r: r.marker(a.until) is not None) if a.until else None
    r = tb.boot(img, timeout=a.timeout, until=until, no_reboot=a.no_reboot, max_boots=a.max_boots,
                guestfwd=a.guestfwd, append=a.append, log=a.log)
    with open(a.json, "w") as f:
        json.dump(r.as_dict(), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
