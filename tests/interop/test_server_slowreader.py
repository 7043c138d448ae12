#!/usr/bin/python3
"""A client that floods ferryd with SFTP requests and never reads the
replies cannot make the session process grow without bound, and does not
disturb other sessions.

The client is paramiko's transport behind a relay (pyferryd.Valve) whose
server->client direction is stopped once the SFTP sessions are set up:
ferryd's replies pile up in its own socket and the client's, exactly as
with a client that never calls read(). Requests: READ (64 KiB each), STAT,
READDIR, REALPATH, batched many per CHANNEL_DATA, on CHANNELS (ferryd's
default MaxSessions, 10) sftp channels at once, sent until the client
cannot send any more.

  socket    paramiko offers a 1 GiB window, so only the TCP socket holds
            ferryd's replies back. Expected: the session process stops
            reading the socket (its receive queue, from /proc/net/tcp,
            stays non-empty and the client's sending stalls), its RSS grows
            by less than 64 MiB, a second client downloads a file
            meanwhile, and closing the flooding client ends the session
            process.
  window    paramiko offers 64 KiB per channel (a client that stopped
            reading with its usual window), so the SSH window holds the
            replies back and ferryd keeps reading the socket. Per channel
            ferryd then holds at most our receive window (4 MiB of
            requests not consumed), the channel's output queue (1 MiB) and
            one reply (256 KiB): 10 x 5.25 MiB, + 4 MiB of transport
            backlog + 4 MiB of ASan quarantine = 60.5 MiB; RSS growth must
            stay below WINDOW_LIMIT_MIB = 72 (allocator slack; measured
            ~57). Before the channel output queue was cut from 8 MiB to
            1 MiB it grew by 140 MiB.
  beyond    one sftp channel and a 32 KiB paramiko window, so ferryd's SFTP
            server soon stops consuming input; then CHANNEL_DATA sent raw,
            ignoring ferryd's window. Expected: ferryd disconnects
            ("channel data beyond the window" in its log) with the RSS
            growth below 64 MiB until then.

ferryd runs with the ASan quarantine limited to 4 MiB (ASAN_OPTIONS
quarantine_size_mb), as the default 256 MiB of freed memory kept by ASan
would be counted as growth. RSS is VmRSS of the session process (the child
of ferryd serving the connection), sampled every 0.2 s.

Run by CTest with FERRY_BUILD and FERRY_SRC set; temporary directory,
kernel-chosen loopback ports, signals only its own ferryd.
"""
import hashlib
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time

import paramiko
from paramiko.common import cMSG_CHANNEL_DATA

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyferryd import (Ferryd, TestFailure, Valve, check, new_key, rss_kib,  # noqa: E402
                      run_main, session_children)

USER = "tester"
MAX_GROWTH_MIB = 64
WINDOW_LIMIT_MIB = 72
CHANNELS = 10  # ferryd's default MaxSessions
READ_LEN = 65536
STALL_S = 3.0  # no progress for this long: the client is held back

FXP_INIT, FXP_VERSION, FXP_OPEN, FXP_READ, FXP_OPENDIR = 1, 2, 3, 5, 11
FXP_READDIR, FXP_REALPATH, FXP_STAT, FXP_HANDLE = 12, 16, 17, 102


def sftp_packet(ptype, body):
    return struct.pack(">IB", len(body) + 1, ptype) + body


def sstr(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def recv_exact(chan, n):
    out = b""
    while len(out) < n:
        d = chan.recv(n - len(out))
        check(d, "channel closed during the SFTP handshake")
        out += d
    return out


def recv_packet(chan):
    (n,) = struct.unpack(">I", recv_exact(chan, 4))
    body = recv_exact(chan, n)
    return body[0], body[1:]


def sftp_handshake(chan):
    """INIT, then OPEN big.bin and OPENDIR /: the two handles."""
    chan.sendall(sftp_packet(FXP_INIT, struct.pack(">I", 3)))
    t, _ = recv_packet(chan)
    check(t == FXP_VERSION, "no VERSION (%d)" % t)
    chan.sendall(sftp_packet(FXP_OPEN, struct.pack(">I", 1) + sstr("/big.bin") +
                             struct.pack(">II", 1, 0)))
    t, body = recv_packet(chan)
    check(t == FXP_HANDLE, "OPEN failed (%d)" % t)
    fh = body[8:8 + struct.unpack(">I", body[4:8])[0]]
    chan.sendall(sftp_packet(FXP_OPENDIR, struct.pack(">I", 2) + sstr("/")))
    t, body = recv_packet(chan)
    check(t == FXP_HANDLE, "OPENDIR failed (%d)" % t)
    dh = body[8:8 + struct.unpack(">I", body[4:8])[0]]
    return fh, dh


def request_batch(fh, dh, first_id, n, size):
    """n requests (mostly READ of READ_LEN bytes) as one byte string."""
    out = []
    for i in range(n):
        rid = first_id + i
        k = rid % 8
        if k == 5:
            out.append(sftp_packet(FXP_STAT, struct.pack(">I", rid) + sstr("/big.bin")))
        elif k == 6:
            out.append(sftp_packet(FXP_READDIR, struct.pack(">I", rid) + sstr(dh)))
        elif k == 7:
            out.append(sftp_packet(FXP_REALPATH, struct.pack(">I", rid) + sstr("/")))
        else:
            off = (rid * READ_LEN) % max(size - READ_LEN, 1)
            out.append(sftp_packet(FXP_READ, struct.pack(">I", rid) + sstr(fh) +
                                   struct.pack(">QI", off, READ_LEN)))
    return b"".join(out)


class Flooder:
    """A connection through a Valve, authenticated, with sftp channels."""

    def __init__(self, srv, key, window, channels):
        before = set(session_children(srv.pid))
        self.valve = Valve(srv.port)
        self.t = paramiko.Transport(self.valve.sock, default_window_size=window,
                                    default_max_packet_size=32768)
        self.t.start_client(timeout=60)
        self.t.auth_publickey(USER, key)
        check(self.t.is_authenticated(), "flooder not authenticated")
        self.chans = []
        for _ in range(channels):
            ch = self.t.open_session(timeout=60)
            ch.invoke_subsystem("sftp")
            self.chans.append((ch,) + sftp_handshake(ch))
        self.pid = None
        for _ in range(100):
            new = set(session_children(srv.pid)) - before
            if len(new) == 1:
                self.pid = new.pop()
                break
            time.sleep(0.05)
        check(self.pid is not None, "cannot find the session process of the flooder")
        self.sent = 0
        self.stop = False
        self.error = None

    def close(self):
        self.stop = True
        self.valve.shut()
        self.t.close()


def server_rx_queue(port, client_port):
    """Bytes the kernel holds unread for ferryd on its end of the
    connection to client_port (from /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            lport = int(fields[1].split(":")[1], 16)
            rport = int(fields[2].split(":")[1], 16)
            if lport == port and rport == client_port:
                return int(fields[4].split(":")[1], 16)
    raise TestFailure("no server socket for client port %d in /proc/net/tcp" % client_port)


def watch(pid, base_kib, until):
    """Samples RSS until until() is true or 60 s pass; returns the peak
    growth in MiB."""
    peak = base_kib
    end = time.monotonic() + 60
    while not until() and time.monotonic() < end:
        try:
            peak = max(peak, rss_kib(pid))
        except (OSError, TestFailure):
            break  # the process ended
        time.sleep(0.2)
    return (peak - base_kib) / 1024.0


def stalled(fl):
    """True once fl.sent has not moved for STALL_S seconds."""
    state = {"n": -1, "since": time.monotonic()}

    def f():
        if fl.sent != state["n"]:
            state["n"], state["since"] = fl.sent, time.monotonic()
            return False
        return time.monotonic() - state["since"] >= STALL_S
    return f


def other_session(srv, key, want):
    """A second, normal client: downloads big.bin and compares it."""
    t0 = time.monotonic()
    t = paramiko.Transport(("127.0.0.1", srv.port))
    t.start_client(timeout=60)
    t.auth_publickey(USER, key)
    sftp = paramiko.SFTPClient.from_transport(t)
    with sftp.open("/big.bin", "rb") as f:
        f.prefetch()
        data = f.read()
    sftp.close()
    t.close()
    check(hashlib.sha256(data).hexdigest() == want, "the other session got wrong bytes")
    return time.monotonic() - t0


def start_senders(fl, size):
    """One thread per channel sending request batches until held back."""
    def sender(ch, fh, dh, first):
        rid = first
        try:
            while not fl.stop:
                b = request_batch(fh, dh, rid, 400, size)
                ch.sendall(b)
                fl.sent += len(b)
                rid += 400
        except (OSError, EOFError, paramiko.SSHException) as e:
            if not fl.stop:
                fl.error = e

    for i, (ch, fh, dh) in enumerate(fl.chans):
        threading.Thread(target=sender, args=(ch, fh, dh, 1000 + i * 10 ** 8),
                         daemon=True).start()


def wait_gone(pid, what):
    for _ in range(300):
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ")[1].startswith("Z"):
                    return
        except OSError:
            return
        time.sleep(0.1)
    raise TestFailure("%s: the session process is still there 30 s after the client left" % what)


def flood(srv, key, size, digest):
    fl = Flooder(srv, key, window=1 << 30, channels=CHANNELS)
    base = rss_kib(fl.pid)
    client_port = fl.valve.tcp.getsockname()[1]
    fl.valve.close()
    start_senders(fl, size)
    growth = watch(fl.pid, base, stalled(fl))
    check(fl.error is None, "flooder: %r" % (fl.error,))
    check(fl.sent > 0, "the flooder sent nothing")
    rxq1 = server_rx_queue(srv.port, client_port)
    time.sleep(1.0)
    rxq2 = server_rx_queue(srv.port, client_port)
    print("socket: %d channels, %.1f MiB of requests sent before the client was held back; "
          "RSS growth %.1f MiB; unread by ferryd: %d then %d bytes" %
          (CHANNELS, fl.sent / 2 ** 20, growth, rxq1, rxq2))
    check(rxq1 > 0 and rxq1 == rxq2,
          "ferryd still reads the socket of a client that does not read its replies")
    check(growth < MAX_GROWTH_MIB, "session RSS grew by %.1f MiB (limit %d)" %
          (growth, MAX_GROWTH_MIB))
    secs = other_session(srv, key, digest)
    print("ok - flood bounded; meanwhile another session downloaded %d MiB in %.1f s" %
          (size >> 20, secs))
    growth2 = (rss_kib(fl.pid) - base) / 1024.0
    check(growth2 < MAX_GROWTH_MIB, "session RSS grew by %.1f MiB later" % growth2)
    fl.close()
    wait_gone(fl.pid, "socket")
    print("ok - the flooder's session process ended after the client left")


def window(srv, key, size):
    fl = Flooder(srv, key, window=65536, channels=CHANNELS)
    base = rss_kib(fl.pid)
    fl.valve.close()
    start_senders(fl, size)
    growth = watch(fl.pid, base, stalled(fl))
    check(fl.error is None, "flooder: %r" % (fl.error,))
    print("window: %d channels, %.1f MiB of requests sent before the client was held back; "
          "RSS growth %.1f MiB" % (CHANNELS, fl.sent / 2 ** 20, growth))
    check(fl.sent > CHANNELS * 2 ** 20, "the client was held back before filling the windows")
    check(growth < WINDOW_LIMIT_MIB, "session RSS grew by %.1f MiB (limit %d)" %
          (growth, WINDOW_LIMIT_MIB))
    fl.close()
    wait_gone(fl.pid, "window")
    print("ok - held back by the window: memory bounded, session ended with the client")


def beyond(srv, key, size):
    fl = Flooder(srv, key, window=32768, channels=1)
    base = rss_kib(fl.pid)
    ch, fh, dh = fl.chans[0]
    fl.valve.close()
    remote = ch.remote_chanid

    def sender():
        rid = 5000
        try:
            while not fl.stop and fl.sent < 256 * 2 ** 20:
                b = request_batch(fh, dh, rid, 600, size)
                rid += 600
                for i in range(0, len(b), 32000):
                    m = paramiko.Message()
                    m.add_byte(cMSG_CHANNEL_DATA)
                    m.add_int(remote)
                    m.add_string(b[i:i + 32000])
                    fl.t._send_message(m)
                    fl.sent += len(b[i:i + 32000])
        except (OSError, EOFError, paramiko.SSHException) as e:
            fl.error = e

    th = threading.Thread(target=sender, daemon=True)
    th.start()

    def gone():
        return not os.path.exists("/proc/%d" % fl.pid) or not th.is_alive()
    growth = watch(fl.pid, base, gone)
    print("beyond: %.1f MiB sent raw past the window; RSS growth %.1f MiB; sender: %r" %
          (fl.sent / 2 ** 20, growth, fl.error))
    check(growth < MAX_GROWTH_MIB, "session RSS grew by %.1f MiB (limit %d)" %
          (growth, MAX_GROWTH_MIB))
    for _ in range(300):
        if "channel data beyond the window" in srv.log_text():
            break
        time.sleep(0.1)
    else:
        raise TestFailure("ferryd did not end the session for data beyond the window")
    fl.close()
    print("ok - data beyond the window: disconnected, memory bounded")


def main():
    tmp = tempfile.mkdtemp(prefix="ferry-slowreader.")
    servers = []

    def body():
        key, pub = new_key(tmp, "id_user")
        srv = Ferryd(tmp, "slow", user=USER, keys=[pub], conf=["PerSourcePenalties no"],
                     asan_extra="quarantine_size_mb=4")
        servers.append(srv)
        size = 8 << 20
        data = os.urandom(size)
        with open(os.path.join(srv.root, "big.bin"), "wb") as f:
            f.write(data)
        for i in range(50):
            open(os.path.join(srv.root, "f%02d" % i), "w").close()
        digest = hashlib.sha256(data).hexdigest()
        flood(srv, key, size, digest)
        window(srv, key, size)
        beyond(srv, key, size)
        srv.stop()

    run_main(body, servers)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    main()
