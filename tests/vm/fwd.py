#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# QEMU's guestfwd runs this for every connection the guest opens to a forwarded port
# (vmharness.py: guestfwd=tcp:10.0.2.100:PORT-cmd:fwd.py HOST PORT): it joins the
# connection (stdin/stdout) to HOST:PORT on the host, which the harness only ever sets to
# 127.0.0.1. Connecting per connection means the host service may start after QEMU.
import os, selectors, socket, sys

host, port = sys.argv[1], int(sys.argv[2])
try:
    s = socket.create_connection((host, port), timeout=10)
except OSError:
    sys.exit(1)
s.settimeout(None)
sel = selectors.DefaultSelector()
sel.register(0, selectors.EVENT_READ, "in")
sel.register(s, selectors.EVENT_READ, "sock")
while True:
    for key, _ in sel.select():
        if key.data == "in":
            d = os.read(0, 65536)
            if not d:
                sel.unregister(0)
                s.shutdown(socket.SHUT_WR)
                continue
            s.sendall(d)
        else:
            d = s.recv(65536)
            if not d:
                sys.exit(0)
            while d:
                n = os.write(1, d)
                d = d[n:]
