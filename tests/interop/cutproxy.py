#!/usr/bin/python3
"""cutproxy.py: a loopback TCP proxy that cuts connections on a schedule.

    cutproxy.py --target PORT --port-file FILE [--log FILE]
                [--cut [K@]N[:up|down|either][:rst|fin]] ... [--close rst|fin]
                [--hold --marker FILE --go FILE [--hold-timeout S]]
                [--switch K:PORT] [--rate BYTES_PER_SECOND]

Listens on 127.0.0.1 port 0 (the kernel picks the port, written to
--port-file once listening) and forwards every accepted connection to
127.0.0.1:--target.

Cut schedule: each --cut names a connection K (1 = the first accepted; when
"K@" is left out, the connection after the previous cut's) and a byte count
N in a direction: "up" (client to server), "down" (server to client) or
"either" (both added up, the default). Exactly N bytes pass in that
direction, the data already read is delivered, then both sockets are closed
abruptly: with SO_LINGER 0 (the peers see a RST, the default) or, with
"fin" / --close fin, with an ordinary shutdown and close (the peers see
EOF). Connections not named in the schedule pass through untouched.
A cut with ":stall" or ":stall=S" closes nothing: the proxy stops
forwarding in both directions (a dead network path) forever or for S
seconds, then forwards again.

Hold mode (--hold): after each cut the proxy writes --marker (the cut
connection's number and byte counts) and stops accepting: new connections
wait in the listen backlog until the file --go appears (or --hold-timeout
seconds pass, logged); the proxy then removes --go and --marker and accepts
again. A test uses the pause to change files between cut and reconnect.

--switch K:PORT forwards connection K and every later one to PORT instead
(another server: a reconnect that reaches a different host key).
--rate limits every direction of every connection to that many bytes per
second (so a test can act while a transfer is surely still running).

Everything the proxy does is logged, one line per event, to --log (default
stderr); every connection ends with a line "conn K closed (HOW): up=X
down=Y" (HOW: rst, fin or plain), so a test can add up the bytes passed.
SIGTERM or SIGINT ends it (exit status 0); so does --lifetime seconds, a
guard against being left behind. Standard library only.
"""

import argparse
import os
import selectors
import signal
import socket
import struct
import sys
import time

HOST = "127.0.0.1"
CHUNK = 65536
HIGH_WATER = 1 << 20  # per direction: stop reading while this much is queued
FLUSH_LIMIT = 5.0  # seconds to deliver queued bytes before a cut
DRAIN_LIMIT = 10.0  # seconds a FIN-cut socket is drained before it is closed
DRAIN = "drain"  # selector data of a socket being drained


class Cut:
    def __init__(self, conn, nbytes, direction, close):
        self.conn, self.nbytes, self.direction, self.close = conn, nbytes, direction, close
        self.stall = None  # seconds (float("inf"): for ever) when close == "stall"

    def __str__(self):
        return "conn %d after %d bytes %s (%s)" % (self.conn, self.nbytes, self.direction,
                                                  self.close)


def parse_cut(spec, prev_conn, default_close):
    """[K@]N[:dir][:close] -> Cut; raises ValueError on bad input."""
    conn = prev_conn + 1
    if "@" in spec:
        k, spec = spec.split("@", 1)
        conn = int(k)
        if conn <= prev_conn:
            raise ValueError("connections of the schedule must increase")
    parts = spec.split(":")
    nbytes = int(parts[0])
    if nbytes < 0:
        raise ValueError("negative byte count")
    direction, close, stall = "either", default_close, None
    for p in parts[1:]:
        if p in ("up", "down", "either"):
            direction = p
        elif p in ("rst", "fin"):
            close = p
        elif p == "stall" or p.startswith("stall="):
            close, stall = "stall", float(p[6:]) if "=" in p else float("inf")
            if stall < 0:
                raise ValueError("negative stall")
        else:
            raise ValueError("unknown cut modifier %r" % p)
    c = Cut(conn, nbytes, direction, close)
    c.stall = stall
    return c


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else sys.stderr
        self.t0 = time.monotonic()

    def __call__(self, fmt, *args):
        self.f.write("[%8.3f] %s\n" % (time.monotonic() - self.t0, fmt % args))
        self.f.flush()


class Pipe:
    """One direction of a connection: bytes read from src, queued for dst."""

    def __init__(self, name, src, dst):
        self.name, self.src, self.dst = name, src, dst
        self.queue = bytearray()
        self.count = 0  # bytes read from src (and so, eventually, passed on)
        self.eof = False  # src said EOF
        self.shut = False  # EOF passed on to dst
        self.start = time.monotonic()


class Conn:
    def __init__(self, num, client, server, cut):
        self.num, self.cut = num, cut
        self.client, self.server = client, server
        self.up = Pipe("up", client, server)
        self.down = Pipe("down", server, client)
        self.cutting = None  # monotonic deadline once the cut is due
        self.stalled = None  # monotonic end of a stall (inf: for ever)
        self.closed = False

    def pipes(self):
        return (self.up, self.down)

    def budget(self, pipe):
        """How many more bytes pipe may read before the cut (None: no limit)."""
        c = self.cut
        if c is None:
            return None
        if c.direction == "either":
            return c.nbytes - self.up.count - self.down.count
        if c.direction == pipe.name:
            return c.nbytes - pipe.count
        return None

    def cut_due(self):
        c = self.cut
        if c is None:
            return False
        if c.direction == "either":
            return self.up.count + self.down.count >= c.nbytes
        return (self.up if c.direction == "up" else self.down).count >= c.nbytes


class Proxy:
    def __init__(self, a, cuts, log):
        self.a, self.cuts, self.log = a, {c.conn: c for c in cuts}, log
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.draining = {}  # socket -> monotonic deadline
        self.accepted = 0
        self.hold_until = None  # monotonic deadline while holding
        self.stop = False
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(16)
        self.lsock.setblocking(False)
        self.listening = False
        self.set_listening(True)
        self.port = self.lsock.getsockname()[1]

    def set_listening(self, on):
        if on and not self.listening:
            self.sel.register(self.lsock, selectors.EVENT_READ, None)
        elif not on and self.listening:
            self.sel.unregister(self.lsock)
        self.listening = on

    # ---- accepting ----

    def accept(self):
        try:
            client, peer = self.lsock.accept()
        except BlockingIOError:
            return
        self.accepted += 1
        num = self.accepted
        target = self.a.target
        if self.a.switch is not None and num >= self.a.switch[0]:
            target = self.a.switch[1]
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            server.connect((HOST, target))
        except OSError as e:
            self.log("conn %d from %s:%d: cannot reach port %d (%s); closing", num, peer[0],
                     peer[1], target, e)
            server.close()
            client.close()
            return
        for s in (client, server):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(num, client, server, self.cuts.get(num))
        self.conns.append(conn)
        self.log("conn %d accepted from %s:%d to port %d%s", num, peer[0], peer[1], target,
                 ", will cut " + str(conn.cut) if conn.cut else ", pass-through")
        self.update(conn)
        if conn.cut is not None and conn.cut_due():  # a cut after 0 bytes
            self.begin_cut(conn)

    # ---- forwarding ----

    def update(self, conn):
        """(Re)register both sockets for what they can do now."""
        if conn.closed:
            return
        for sock in (conn.client, conn.server):
            ev = 0
            for p in conn.pipes():
                if p.src is sock and self.may_read(conn, p):
                    ev |= selectors.EVENT_READ
                if p.dst is sock and p.queue and conn.stalled is None:
                    ev |= selectors.EVENT_WRITE
            try:
                key = self.sel.get_key(sock)
            except KeyError:
                key = None
            if key is None and ev:
                self.sel.register(sock, ev, conn)
            elif key is not None and not ev:
                self.sel.unregister(sock)
            elif key is not None and key.events != ev:
                self.sel.modify(sock, ev, conn)

    def may_read(self, conn, p):
        if p.eof or conn.cutting is not None or conn.stalled is not None or \
                len(p.queue) >= HIGH_WATER:
            return False
        b = conn.budget(p)
        return (b is None or b > 0) and self.rate_budget(p) > 0

    def rate_budget(self, p):
        """Bytes p may read now under --rate (a burst of one CHUNK)."""
        if not self.a.rate:
            return CHUNK
        return min(CHUNK, int(self.a.rate * (time.monotonic() - p.start)) + CHUNK - p.count)

    def on_event(self, conn, sock, mask):
        for p in conn.pipes():
            if conn.closed:
                return
            if mask & selectors.EVENT_READ and p.src is sock and self.may_read(conn, p):
                self.read(conn, p)
            if conn.closed:
                return
            if mask & selectors.EVENT_WRITE and p.dst is sock and p.queue:
                self.write(conn, p)
        if conn.closed:
            return
        if conn.cutting is None and conn.cut_due():
            self.begin_cut(conn)
        self.progress(conn)

    def read(self, conn, p):
        n = self.rate_budget(p)
        b = conn.budget(p)
        if b is not None:
            n = min(n, b)
        try:
            data = p.src.recv(n)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.log("conn %d: %s side error on read: %s; closing both", conn.num,
                     "client" if p.name == "up" else "server", e)
            self.close(conn, "rst")
            return
        if not data:
            p.eof = True
            self.log("conn %d: EOF from the %s after %d bytes %s", conn.num,
                     "client" if p.name == "up" else "server", p.count, p.name)
            return
        p.count += len(data)
        p.queue += data

    def write(self, conn, p):
        try:
            n = p.dst.send(p.queue)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.log("conn %d: error writing %s: %s; closing both", conn.num, p.name, e)
            self.close(conn, "rst")
            return
        del p.queue[:n]

    def progress(self, conn):
        """Pass on EOFs, finish cuts and closed connections, re-register."""
        if conn.closed:
            return
        if conn.cutting is not None:
            flushed = not conn.up.queue and not conn.down.queue
            if flushed or time.monotonic() >= conn.cutting:
                if not flushed:
                    self.log("conn %d: %d+%d queued bytes not delivered before the cut",
                             conn.num, len(conn.up.queue), len(conn.down.queue))
                self.do_cut(conn)
                return
        for p in conn.pipes():
            if p.eof and not p.queue and not p.shut:
                p.shut = True
                try:
                    p.dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        if conn.up.shut and conn.down.shut:
            self.log("conn %d: closed by the peers after up=%d down=%d", conn.num,
                     conn.up.count, conn.down.count)
            self.close(conn, "plain")
            return
        self.update(conn)

    # ---- cutting and holding ----

    def begin_cut(self, conn):
        conn.cutting = time.monotonic() + FLUSH_LIMIT
        self.progress(conn)

    def do_cut(self, conn):
        if conn.cut.close == "stall":
            self.log("conn %d: STALL for %s s after up=%d down=%d (%s)", conn.num,
                     conn.cut.stall, conn.up.count, conn.down.count, conn.cut)
            conn.stalled = time.monotonic() + conn.cut.stall
            conn.cut, conn.cutting = None, None
            self.update(conn)
            return
        self.log("conn %d: CUT (%s) after up=%d down=%d (%s)", conn.num, conn.cut.close,
                 conn.up.count, conn.down.count, conn.cut)
        self.close(conn, conn.cut.close)
        if self.a.hold:
            self.begin_hold(conn)

    def close(self, conn, how):
        """rst: SO_LINGER 0, the peers see a reset; fin: shutdown for writing,
        the peers see EOF, and whatever they still send is read and dropped
        until they close (a close with unread bytes would send a RST);
        plain: both sides are done already."""
        if conn.closed:
            return
        conn.closed = True
        self.log("conn %d closed (%s): up=%d down=%d", conn.num, how, conn.up.count,
                 conn.down.count)
        for s in (conn.client, conn.server):
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            try:
                if how == "rst":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif how == "fin":
                    s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            if how == "fin":
                self.draining[s] = time.monotonic() + DRAIN_LIMIT
                self.sel.register(s, selectors.EVENT_READ, DRAIN)
            else:
                s.close()
        self.conns.remove(conn)

    def drain(self, sock, force=False):
        try:
            data = b"" if force else sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(sock)
            del self.draining[sock]
            sock.close()

    def begin_hold(self, conn):
        text = "conn %d up %d down %d\n" % (conn.num, conn.up.count, conn.down.count)
        tmp = self.a.marker + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.a.marker)
        self.set_listening(False)
        self.hold_until = time.monotonic() + self.a.hold_timeout
        self.log("hold: marker %s written; not accepting until %s appears", self.a.marker,
                 self.a.go)

    def check_hold(self):
        if self.hold_until is None:
            return
        go = os.path.exists(self.a.go)
        if not go and time.monotonic() < self.hold_until:
            return
        if go:
            self.log("hold: %s appeared; accepting again", self.a.go)
        else:
            self.log("hold: TIMEOUT after %.1f s without %s; accepting again",
                     self.a.hold_timeout, self.a.go)
        for f in (self.a.go, self.a.marker):
            try:
                os.unlink(f)
            except FileNotFoundError:
                pass
        self.hold_until = None
        self.set_listening(True)

    # ---- main loop ----

    def run(self):
        end = time.monotonic() + self.a.lifetime
        while not self.stop:
            if time.monotonic() >= end:
                self.log("lifetime of %.0f s over; exiting", self.a.lifetime)
                break
            busy = self.hold_until is not None or self.draining or any(
                c.cutting is not None or c.stalled is not None for c in self.conns)
            timeout = 0.05 if busy else 0.5
            if self.a.rate:
                timeout = 0.01
                for conn in self.conns:
                    self.update(conn)  # reading may be allowed again
            try:
                events = self.sel.select(timeout)
            except InterruptedError:
                continue
            for key, mask in events:
                if key.data is None:
                    self.accept()
                elif key.data is DRAIN:
                    self.drain(key.fileobj)
                else:
                    self.on_event(key.data, key.fileobj, mask)
            now = time.monotonic()
            for conn in list(self.conns):
                if conn.cutting is not None:
                    self.progress(conn)
                elif conn.stalled is not None and now >= conn.stalled:
                    self.log("conn %d: stall over; forwarding again", conn.num)
                    conn.stalled = None
                    self.update(conn)
            for sock, deadline in list(self.draining.items()):
                if now >= deadline:
                    self.drain(sock, force=True)
            self.check_hold()
        for conn in list(self.conns):
            self.close(conn, "plain")
        for sock in list(self.draining):
            self.drain(sock, force=True)
        self.log("exiting; %d connections accepted", self.accepted)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", type=int, required=True, help="port on 127.0.0.1 to forward to")
    ap.add_argument("--port-file", required=True, help="the listening port is written here")
    ap.add_argument("--log", help="log file (default: stderr)")
    ap.add_argument("--cut", action="append", default=[],
                    metavar="[K@]N[:DIR][:rst|fin|stall[=S]]")
    ap.add_argument("--close", choices=("rst", "fin"), default="rst",
                    help="how a cut closes the sockets unless the cut says (default rst)")
    ap.add_argument("--hold", action="store_true", help="pause accepting after each cut")
    ap.add_argument("--marker", help="hold mode: written after a cut")
    ap.add_argument("--go", help="hold mode: accepting resumes when this file exists")
    ap.add_argument("--hold-timeout", type=float, default=30.0)
    ap.add_argument("--switch", metavar="K:PORT", help="connections from K on go to PORT")
    ap.add_argument("--rate", type=int, default=0, help="bytes per second per direction")
    ap.add_argument("--lifetime", type=float, default=600.0, help="exit after this many seconds")
    a = ap.parse_args()
    if a.hold and (not a.marker or not a.go):
        ap.error("--hold needs --marker and --go")
    if a.switch is not None:
        try:
            k, port = a.switch.split(":")
            a.switch = (int(k), int(port))
        except ValueError:
            ap.error("--switch: K:PORT")
    cuts, prev = [], 0
    try:
        for spec in a.cut:
            c = parse_cut(spec, prev, a.close)
            cuts.append(c)
            prev = c.conn
    except ValueError as e:
        ap.error("--cut: %s" % e)
    log = Log(a.log)
    proxy = Proxy(a, cuts, log)

    def on_signal(signum, frame):
        proxy.stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log("listening on %s:%d, forwarding to port %d; schedule: %s", HOST, proxy.port, a.target,
        "; ".join(str(c) for c in cuts) or "none")
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % proxy.port)
    os.rename(tmp, a.port_file)
    proxy.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
