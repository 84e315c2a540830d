#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A TCP proxy on loopback that delays the server's answers, for the integration tests.

    slow-proxy.py --upstream 127.0.0.1:2379 --port PORT [--delay SECONDS] [--delay-file PATH]

Every connection to 127.0.0.1:PORT is forwarded to the upstream. What the client sends goes
through at once; what the upstream sends back is held for the delay and then delivered, in
order (a watch stream stays a stream, only later). The delay is --delay, or the number in
--delay-file when that file exists: it is read again for every chunk, so a test can switch
the delay on and off while connections stay open. Prints "ready" once it listens.
"""
import argparse
import asyncio
import sys
import time


def current_delay(args):
    if args.delay_file:
        try:
            with open(args.delay_file) as f:
                return max(0.0, float(f.read().strip() or 0))
        except (OSError, ValueError):
            pass
    return args.delay


async def pipe_now(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def pipe_delayed(reader, writer, args):
    queue = asyncio.Queue()

    async def deliver():
        try:
            while True:
                at, data = await queue.get()
                wait = at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    task = asyncio.ensure_future(deliver())
    last = 0.0
    try:
        while True:
            data = await reader.read(65536)
            # Never before an earlier chunk: the order is kept when the delay shrinks.
            last = max(last, time.monotonic() + current_delay(args))
            await queue.put((last, data or None))
            if not data:
                break
    except (ConnectionError, OSError):
        await queue.put((last, None))
    await task


async def handle(client_reader, client_writer, args):
    host, port = args.upstream.rsplit(":", 1)
    try:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe_now(client_reader, up_writer), pipe_delayed(up_reader, client_writer, args))
    up_writer.close()


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    p.add_argument("--port", type=int, required=True, help="port to listen on (127.0.0.1)")
    p.add_argument("--delay", type=float, default=0.0, help="seconds to hold each answer")
    p.add_argument("--delay-file", help="file holding the delay in seconds (read for every chunk)")
    args = p.parse_args()
    server = await asyncio.start_server(lambda r, w: handle(r, w, args), "127.0.0.1", args.port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
