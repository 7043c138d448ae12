#!/usr/bin/env python3
"""Loopback TCP proxy that delays each direction by a fixed time.

Usage: delay_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS

Stands in for `tc netem` (not available on these kernels): every chunk read
from one side is written to the other side DELAY_MS later, preserving order,
so the round-trip time seen by the peers grows by 2 * DELAY_MS. Loopback
only. Prints "ready" once listening."""
import asyncio
import sys
import time


async def pump(reader, writer, delay):
    queue = asyncio.Queue()

    async def sender():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except OSError:
            pass

    task = asyncio.ensure_future(sender())
    try:
        while True:
            data = await reader.read(262144)
            if not data:
                break
            await queue.put((time.monotonic() + delay, data))
    finally:
        await queue.put((0, None))
        await task


async def handle(creader, cwriter, target, delay):
    sreader, swriter = await asyncio.open_connection("127.0.0.1", target)
    await asyncio.gather(pump(creader, swriter, delay), pump(sreader, cwriter, delay),
                         return_exceptions=True)
    cwriter.close()
    swriter.close()


async def main():
    listen, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
    server = await asyncio.start_server(lambda r, w: handle(r, w, target, delay),
                                        "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
