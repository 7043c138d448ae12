#!/usr/bin/env python3
"""Loopback TCP proxy that delays each direction by a fixed time.

Usage: delay_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS [TURNS_FILE]

Stands in for `tc netem` (not available on these kernels): every chunk read
from one side is written to the other side DELAY_MS later, preserving order,
so the round-trip time seen by the peers grows by 2 * DELAY_MS. Loopback
only. Prints "ready PORT" once listening (LISTEN_PORT 0: the kernel picks).

With TURNS_FILE, each connection appends "turns N" to it when it ends: N
counts the client's flights: its first data, then each time it sends data
that can be a reaction to an answer of the server to its last flight.
An answer is server data read at least DELAY_MS after that flight began
(what the server sends before the flight can have reached it, like its
version line and KEXINIT racing the client's, is no answer); a reaction
is client data read at least DELAY_MS after that answer was read (the
client cannot have seen it sooner). So neither which side spoke first
nor an answer that comes in several pieces moves the count. With a
delay far above the peers' processing time, that is the number of round
trips the client waited for (the tests use it to count a command's round
trips)."""
import asyncio
import sys
import time


class Turns:
    def __init__(self, delay):
        self.n = 0
        self.delay = delay
        self.flight = None  # when the client's last flight began
        self.answer = None  # when the server's first answer to it was read

    def saw(self, side):
        now = time.monotonic()
        if side == "server":
            if self.flight is not None and self.answer is None and \
                    now - self.flight >= self.delay:
                self.answer = now
        elif self.flight is None or \
                (self.answer is not None and now - self.answer >= self.delay):
            self.n += 1
            self.flight = now
            self.answer = None


async def pump(reader, writer, delay, turns=None, side=None):
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
            if turns is not None:
                turns.saw(side)
            await queue.put((time.monotonic() + delay, data))
    finally:
        await queue.put((0, None))
        await task


async def handle(creader, cwriter, target, delay, turns_file):
    sreader, swriter = await asyncio.open_connection("127.0.0.1", target)
    turns = Turns(delay)
    await asyncio.gather(pump(creader, swriter, delay, turns, "client"),
                         pump(sreader, cwriter, delay, turns, "server"),
                         return_exceptions=True)
    cwriter.close()
    swriter.close()
    if turns_file:
        with open(turns_file, "a") as f:
            f.write("turns %d\n" % turns.n)


async def main():
    listen, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
    turns_file = sys.argv[4] if len(sys.argv) > 4 else None
    server = await asyncio.start_server(lambda r, w: handle(r, w, target, delay, turns_file),
                                        "127.0.0.1", listen)
    print("ready %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
