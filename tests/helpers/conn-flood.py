#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# conn-flood.py SOCKET N HOLD_SECONDS: opens N connections to a Unix socket and holds them
# (sending nothing) for HOLD_SECONDS; prints "open N" once they are made, then, after the
# hold, "kept K closed C": how many the server kept open and how many it closed on us.
import select, socket, sys, time

path, n, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conns = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
    except BlockingIOError:
        pass
    except OSError as e:
        print("connect failed: %s" % e, flush=True)
        break
    conns.append(s)
print("open %d" % len(conns), flush=True)
time.sleep(hold)
closed = 0
for s in conns:
    r, _, _ = select.select([s], [], [], 0)
    if r:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data or b"error" in data:
            closed += 1
print("kept %d closed %d" % (len(conns) - closed, closed), flush=True)
