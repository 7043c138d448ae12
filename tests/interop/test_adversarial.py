#!/usr/bin/python3
"""Adversarial peer against ferryd (ASan build): a scripted raw SSH-2
client (tests/interop/adv/sshpeer.py, written from the RFCs with python3's
stdlib and `cryptography`) sends malformed, out-of-order and hostile input
at every stage, and each case asserts the exact outcome: DISCONNECT with a
given reason code followed by EOF, UNIMPLEMENTED for a given sequence
number, USERAUTH_FAILURE, CHANNEL_OPEN_FAILURE with a reason,
CHANNEL_FAILURE / REQUEST_FAILURE, or the connection closed, always within
a few seconds (socket timeouts: a hang fails).

Covered against the real server process: banner abuse and slowloris
(LoginGraceTime 4 s); packet lengths 0, 4, 5, 256 KiB + 1, 0xFFFFFFFF and
the largest legal packet; bad framing and padding; strings longer than
their message; one flipped byte for every cipher and MAC; no common
algorithm; 10,000-name name-lists; right and wrong kex guesses; kex messages
out of order and repeated; DH (group14 and group exchange) e of 0, 1, p-1,
p and bad mpints; all-zero, short and low-order X25519 keys; off-curve
P-256 points; strict-kex violations; USERAUTH_SUCCESS from a client;
channel messages before auth; every message number in five states (the
gate); too many auth tries; signatures by another key and bogus
signatures by authorized ECDSA/RSA keys; window overrun and window-adjust
overflow; more channels than allowed; shell/exec/pty/forwarding refused;
data after EOF and after CLOSE; server-started rekeys (accepted, refused,
crossed); pipelined and byte-by-byte sessions. The unit tests go deeper
on the same ground (test_gate.c: the whole matrix; test_kex.c,
test_transport.c, test_auth.c, test_channel.c).

While the attacks run, an SFTP session (paramiko) opened before them keeps
uploading and downloading; it must be untouched. Afterwards a fresh
paramiko session does a put/get, ferryd must stop cleanly on SIGTERM, and
its log must hold no sanitizer report.

Run by CTest with FERRY_BUILD and FERRY_SRC set (or by hand; case names as
arguments run only those); only loopback (127.0.0.1, and 127.0.0.2 as a
second source), its own temporary directory, and only the ferryd processes
it started are signalled."""
import concurrent.futures
import io
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import paramiko  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from cryptography.hazmat.primitives.hashes import SHA1  # noqa: E402

from adv.ferryd import PASSWORD, USER, Ferryd, fail  # noqa: E402
from adv.sshpeer import (  # noqa: E402
    CHANNEL_CLOSE, CHANNEL_DATA, CHANNEL_EOF, CHANNEL_FAILURE, CHANNEL_OPEN,
    CHANNEL_OPEN_CONFIRMATION, CHANNEL_OPEN_FAILURE, CHANNEL_REQUEST, CHANNEL_SUCCESS,
    CHANNEL_WINDOW_ADJUST, DEBUG, DISCONNECT, EXT_INFO, GEX, KEX_HASH, EcdsaP256Key, GLOBAL_REQUEST, GROUP14_P, IGNORE,
    KEX30, KEX31, KEXINIT, NEWKEYS, R_BY_APPLICATION, R_ILLEGAL_USER_NAME,
    R_KEY_EXCHANGE_FAILED, R_MAC_ERROR, R_NO_MORE_AUTH_METHODS, R_PROTOCOL_ERROR,
    R_PROTOCOL_VERSION_NOT_SUPPORTED, R_SERVICE_NOT_AVAILABLE, REQUEST_FAILURE,
    SERVICE_ACCEPT, SERVICE_REQUEST, STRICT_C, UNIMPLEMENTED, USERAUTH_FAILURE,
    USERAUTH_PK_OK, USERAUTH_REQUEST, USERAUTH_SUCCESS, Closed, Peer, Rd, Unexpected, boolean,
    mpint, namelist, parse_disconnect, string, u8, u32)

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


# ---- connection helpers ----

def peer(srv, **kw):
    return Peer(srv.port, **kw)


def pre_kex(srv, strict=True, **kw):
    """Version exchange and both KEXINITs done; no method message yet."""
    c = peer(srv)
    c.kex_start(strict=strict, **kw)
    return c


def after_kex(srv, **kw):
    return peer(srv).handshake(**kw)


def service(srv, **kw):
    c = after_kex(srv, **kw)
    c.service_userauth()
    return c


def authed(srv, **kw):
    c = service(srv, **kw)
    c.auth_publickey(USER, srv.key)
    return c


def kex_with_list(srv, kex_list, follows=False):
    """Version exchange and both KEXINITs, ours with this kex name-list
    (the others as usual); the method is our first one the server has."""
    c = peer(srv)
    c.version_exchange()
    kex = next(k for k in kex_list if k in KEX_HASH)
    c.kex_start(kex=kex, strict=STRICT_C in kex_list,
                payload=c.kexinit_payload(None, "ssh-ed25519", "aes128-ctr", "hmac-sha2-256",
                                          follows=follows, kex_list=kex_list))
    return c


def server_kexinit(c):
    """Reads the server's version line and KEXINIT after a version we sent."""
    c.read_server_version()
    p = c.recv()
    if p[0] != KEXINIT:
        raise Unexpected("expected the server's KEXINIT, got %d" % p[0])


def expect_disc_after_version(c, reason):
    """Pre-version failures: the server already sent its version line and
    KEXINIT; then DISCONNECT(reason) in the clear and EOF."""
    c.read_server_version()
    c.expect_disconnect(reason, skip=(KEXINIT,))


def check(cond, msg):
    if not cond:
        raise Unexpected(msg)


# ---- banner abuse and slowloris ----

@case
def banner_abuse(srv):
    for data, reason in [
            (b"hello\r\n", R_PROTOCOL_ERROR),  # a server accepts no lines before the version
            (b"GET / HTTP/1.0\r\n\r\n", R_PROTOCOL_ERROR),
            (b"\r\n" * 5, R_PROTOCOL_ERROR),
            (b"SSH-1.5-old\r\n", R_PROTOCOL_VERSION_NOT_SUPPORTED),
            (b"SSH-2.0-bad\x01char\r\n", R_PROTOCOL_ERROR),
            (b"SSH-2.0-" + b"A" * 300 + b"\r\n", R_PROTOCOL_ERROR),
            (b"SSH-2.0-" + b"A" * 4000, R_PROTOCOL_ERROR)]:  # no line end at all
        c = peer(srv)
        c.send_raw(data)
        expect_disc_after_version(c, reason)
        c.close()
    # a version line of exactly 255 bytes with CR LF is fine (RFC 4253 s4.2)
    c = peer(srv)
    v = b"SSH-2.0-" + b"L" * (255 - 2 - 8)
    c.version_exchange(v)
    c.kex_start()
    c.kex_finish(c.make_eph())
    c.ping()
    c.close()


def slow_dribble(srv, data, interval):
    """Sends data one byte at a time; returns (seconds until the server
    closed, bytes sent)."""
    c = peer(srv, timeout=1.0)
    t0 = time.time()
    sent = 0
    try:
        while time.time() - t0 < 20:
            if sent < len(data):
                c.send_raw(data[sent:sent + 1])
                sent += 1
            try:
                c.sock.settimeout(interval)
                while c.sock.recv(65536):
                    pass
                return time.time() - t0, sent  # EOF
            except socket.timeout:
                pass
    except (BrokenPipeError, ConnectionResetError):
        return time.time() - t0, sent
    finally:
        c.close()
    raise Unexpected("slowloris connection still open after 20 s")


def slow_active(srv, mode):
    """Busy but never authenticated: IGNOREs after the key exchange, or
    "none" requests (which do not count as tries); the grace time still
    ends it. Returns (seconds until closed, messages sent)."""
    c = after_kex(srv) if mode == "ignore" else service(srv)
    t0 = time.time()
    sent = 0
    try:
        while time.time() - t0 < 20:
            if mode == "ignore":
                c.send(u8(IGNORE) + string(b"still here"))
            else:
                c.userauth(USER, "none", b"")
            sent += 1
            c.sock.settimeout(0.3)
            try:
                while True:
                    p = c.recv()
                    if p[0] == DISCONNECT:
                        c.last_disconnect = parse_disconnect(p)
            except Unexpected:
                pass  # nothing more for now
            except Closed:
                check(c.last_disconnect is not None and c.last_disconnect[0] == R_BY_APPLICATION,
                      "grace time: DISCONNECT %r, expected BY_APPLICATION" % (c.last_disconnect,))
                return time.time() - t0, sent
    except (BrokenPipeError, ConnectionResetError):
        return time.time() - t0, sent
    finally:
        c.close()
    raise Unexpected("active unauthenticated connection still open after 20 s")


SLOW = {}


def slowloris_start(srv):
    """Slow connections run in the background during the whole suite:
    a dribbled version line, a dribbled first packet, a silent one, and
    twenty silent connections at once. LoginGraceTime is 4 s."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=26)
    SLOW["version"] = pool.submit(slow_dribble, srv, b"SSH-2.0-" + b"s" * 200, 0.3)
    pkt = Peer.packet(b"\x02" + string(b"x" * 64), 8, False)
    SLOW["packet"] = pool.submit(slow_dribble, srv, b"SSH-2.0-slow\r\n" + pkt, 0.3)
    for i in range(20):
        SLOW["silent%d" % i] = pool.submit(slow_dribble, srv, b"", 0.5)
    SLOW["ignores"] = pool.submit(slow_active, srv, "ignore")
    SLOW["none-requests"] = pool.submit(slow_active, srv, "none")
    SLOW["pool"] = pool


@case
def slowloris_closed_by_grace_time(srv):
    pool = SLOW.pop("pool")
    for name, fut in sorted(SLOW.items()):
        took, sent = fut.result(timeout=30)
        check(3.5 <= took <= 9, "slowloris %s: closed after %.1f s, LoginGraceTime is 4 s"
              % (name, took))
    pool.shutdown()


@case
def connection_flood_with_resets(srv):
    """100 connections cut with RST at every stage; then half-closes: the
    server closes promptly when we stop sending (EOF)."""
    stages = [b"", b"SSH-2.0-", b"SSH-2.0-rst\r\n", b"SSH-2.0-rst\r\n" + u32(300) + b"\x04"]
    for i in range(100):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(stages[i % len(stages)])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    for stage in range(3):
        c = peer(srv)
        if stage == 0:
            c.send_raw(b"SSH-2.0-half")
        elif stage == 1:
            c.version_exchange()
        else:
            c.handshake()
            c.service_userauth()
        c.sock.shutdown(socket.SHUT_WR)
        c.expect_eof(within=3)
        c.close()
    # closed mid-kex with a signature computation pending on the server
    for _ in range(10):
        c = pre_kex(srv, kex="diffie-hellman-group14-sha256")
        c.send(c.kex_init_msg(c.make_eph()))
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()


# ---- packet lengths, framing, padding ----

def send_len_plain(c, length, body=b""):
    c.send_raw(u32(length) + body)


@case
def packet_lengths_plain(srv):
    """Before keys: lengths 0, 4, 5, 256 KiB + 1, 0xFFFFFFFF, unaligned."""
    for length in [0, 4, 5, 256 * 1024 + 1, 256 * 1024 + 4, 0xFFFFFFFF, 0x80000000, 13]:
        c = peer(srv)
        c.send_raw(c.VERSION + b"\r\n")
        server_kexinit(c)
        send_len_plain(c, length, b"\x04" + bytes(16))
        c.expect_disconnect(R_PROTOCOL_ERROR)
        c.close()


@case
def packet_lengths_encrypted(srv):
    """After keys, for each framing (encrypted length, length as AAD,
    encrypted first block): the same lengths, claimed in the header."""
    for cipher, mac in [("chacha20-poly1305@openssh.com", "hmac-sha2-256"),
                        ("aes128-gcm@openssh.com", "hmac-sha2-256"),
                        ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
                        ("aes128-ctr", "hmac-sha2-256")]:
        for length in [0, 4, 5, 256 * 1024 + 1, 0xFFFFFFFF]:
            c = after_kex(srv, cipher=cipher, mac=mac)
            c.send(u8(IGNORE) + string(b"x" * 40), length=length)
            c.expect_disconnect(R_PROTOCOL_ERROR)
            c.close()


@case
def largest_packet_accepted(srv):
    """256 KiB is the limit, not less: an IGNORE filling it passes."""
    for cipher, mac in [("aes128-ctr", "hmac-sha2-256"),
                        ("chacha20-poly1305@openssh.com", "hmac-sha2-256")]:
        c = after_kex(srv, cipher=cipher, mac=mac)
        # packet_length = 1 + payload + 8 bytes of padding: the largest
        # aligned one (262140 when the length is encrypted with the rest)
        aad = c.tx.aad
        target = 256 * 1024 - (0 if aad else 4)
        payload = u8(IGNORE) + string(bytes(target - 1 - 8 - 5))
        pkt = c.packet(payload, c.tx.block, aad)
        check(int.from_bytes(pkt[:4], "big") == target, "test packet of the wrong size")
        c.send(payload)
        c.ping()
        c.close()


@case
def bad_framing_and_padding(srv):
    for cipher, mac in [(None, None), ("aes128-ctr", "hmac-sha2-256"),
                        ("aes128-gcm@openssh.com", "hmac-sha2-256"),
                        ("chacha20-poly1305@openssh.com", "hmac-sha2-256")]:
        for pad_field in [0, 3, 255]:  # < 4, and padding_length + 1 >= packet_length
            if cipher is None:
                c = peer(srv)
                c.send_raw(c.VERSION + b"\r\n")
                server_kexinit(c)
            else:
                c = after_kex(srv, cipher=cipher, mac=mac)
            c.send(u8(IGNORE) + string(b"p" * 20), pad_field=pad_field)
            c.expect_disconnect(R_PROTOCOL_ERROR)
            c.close()
        # unaligned packet (the length is consistent, the block size is not met)
        c = after_kex(srv, cipher=cipher or "aes128-ctr", mac=mac or "hmac-sha2-256")
        pkt = c.packet(u8(IGNORE) + string(b"q" * 20), c.tx.block, c.tx.aad)
        length = int.from_bytes(pkt[:4], "big") + 1
        c.send_raw(c.tx.seal(c.seq_tx, u32(length) + pkt[4:] + b"!"))
        c.expect_disconnect(R_PROTOCOL_ERROR)
        c.close()
        # no payload at all (not even a message number)
        c = after_kex(srv, cipher=cipher or "aes128-ctr", mac=mac or "hmac-sha2-256")
        c.send(b"")
        c.expect_disconnect(R_PROTOCOL_ERROR)
        c.close()
        # the most padding there is (up to 255 bytes, still aligned): fine
        c = after_kex(srv, cipher=cipher or "aes128-ctr", mac=mac or "hmac-sha2-256")
        payload = u8(IGNORE) + string(b"r" * 7)
        block = max(c.tx.block, 8)
        base = len(c.packet(payload, block, c.tx.aad)) - 5 - len(payload)
        extra = (255 - base) // block * block
        c.send(payload, extra_pad=extra)
        check(base + extra > 255 - block, "padding of only %d bytes" % (base + extra))
        c.ping()
        c.close()


# ---- strings longer than their message ----

def version_only(srv):
    c = peer(srv)
    c.version_exchange()
    return c


def with_sftp(srv):
    c = authed(srv)
    c.open_sftp()
    return c


@case
def strings_longer_than_message(srv):
    userauth = u8(USERAUTH_REQUEST) + string(USER) + string("ssh-connection")
    for connect, payload, reason in [
            # a KEXINIT name-list, Q_C in KEX_ECDH_INIT
            (version_only, u8(KEXINIT) + os.urandom(16) + u32(1000) + b"curve25519-sha256",
             R_PROTOCOL_ERROR),
            (pre_kex, u8(KEX30) + u32(64) + bytes(32), R_KEY_EXCHANGE_FAILED),
            # SERVICE_REQUEST, DEBUG
            (after_kex, u8(SERVICE_REQUEST) + u32(0xFFFFFFF0) + b"ssh-userauth",
             R_SERVICE_NOT_AVAILABLE),
            (after_kex, u8(DEBUG) + boolean(True) + u32(500) + b"abc", R_PROTOCOL_ERROR),
            # USERAUTH_REQUEST: the user name, then method-specific fields
            (service, u8(USERAUTH_REQUEST) + u32(0x7FFFFFFF) + b"tester", R_ILLEGAL_USER_NAME),
            (service, userauth + string("password") + boolean(False) + u32(2000) + b"pw",
             R_PROTOCOL_ERROR),
            (service, userauth + string("publickey") + boolean(False) + string("ssh-ed25519")
             + u32(100) + b"k", R_PROTOCOL_ERROR),
            # channel messages (the server's channel id is 0)
            (with_sftp, u8(CHANNEL_OPEN) + u32(1 << 30) + b"session", R_PROTOCOL_ERROR),
            (with_sftp, u8(GLOBAL_REQUEST) + u32(99) + b"tcpip-forward", R_PROTOCOL_ERROR),
            (with_sftp, u8(CHANNEL_REQUEST) + u32(0) + u32(77) + b"subsystem", R_PROTOCOL_ERROR),
            (with_sftp, u8(CHANNEL_DATA) + u32(0) + u32(0x10000) + b"data", R_PROTOCOL_ERROR)]:
        c = connect(srv)
        c.send(payload)
        c.expect_disconnect(reason, skip=(KEXINIT,) if connect is version_only else
                            (IGNORE, DEBUG, EXT_INFO))
        c.close()


# ---- one flipped byte after kex, for every cipher and MAC ----

ALL_PROTECTIONS = (
    [(ci, m) for ci in ["aes128-ctr", "aes192-ctr", "aes256-ctr"]
     for m in ["hmac-sha2-256", "hmac-sha2-512", "hmac-sha2-256-etm@openssh.com",
               "hmac-sha2-512-etm@openssh.com"]]
    + [("aes128-gcm@openssh.com", "hmac-sha2-256"), ("aes256-gcm@openssh.com", "hmac-sha2-256"),
       ("chacha20-poly1305@openssh.com", "hmac-sha2-256")])


def flip(i, bit=0x01):
    def m(w):
        w = bytearray(w)
        w[i] ^= bit
        return bytes(w)
    return m


@case
def flipped_byte_every_cipher_and_mac(srv):
    for cipher, mac in ALL_PROTECTIONS:
        for where, mangle, reason in [("body", flip(9), R_MAC_ERROR),
                                      ("last body byte", flip(-40), R_MAC_ERROR),
                                      ("tag", flip(-1), R_MAC_ERROR),
                                      ("length", flip(0, 0x80), R_PROTOCOL_ERROR)]:
            c = after_kex(srv, cipher=cipher, mac=mac)
            c.ping()
            c.send(u8(IGNORE) + string(bytes(range(48))), mangle=mangle)
            try:
                c.expect_disconnect(reason)
            except Unexpected as e:
                raise Unexpected("%s/%s, flipped %s: %s" % (cipher, mac, where, e)) from e
            c.close()


# ---- algorithm negotiation ----

@case
def no_common_algorithm(srv):
    base = dict(kex="curve25519-sha256", hostkey="ssh-ed25519", cipher="aes128-ctr",
                mac="hmac-sha2-256")
    for field, value in [("kex", "foo-kex@example.com"), ("hostkey", "ssh-dss"),
                         ("cipher", "3des-cbc"), ("mac", "hmac-md5"),
                         ("kex", "ecdh-sha2-nistp521-bogus")]:
        alg = dict(base, **{field: value})
        c = peer(srv)
        c.version_exchange()
        c.send(c.kexinit_payload(alg["kex"], alg["hostkey"], alg["cipher"], alg["mac"]))
        c.expect_disconnect(R_KEY_EXCHANGE_FAILED, skip=(KEXINIT,))
        c.close()
    # compression: only zlib offered
    c = peer(srv)
    c.version_exchange()
    p = c.kexinit_payload(**base)
    p = p.replace(namelist(["none"]) * 2, namelist(["zlib"]) * 2)
    c.send(p)
    c.expect_disconnect(R_KEY_EXCHANGE_FAILED, skip=(KEXINIT,))
    c.close()
    # an AEAD cipher needs no MAC: no common MAC is fine then
    c = peer(srv)
    c.kex_start(cipher="aes128-gcm@openssh.com", mac="hmac-md5")
    c.kex_finish(c.make_eph())
    c.ping()
    c.close()


@case
def huge_name_lists(srv):
    # 10,000 names (60 KiB) ahead of the one we can use: negotiated fine
    names = ["k%d" % i for i in range(10000)]
    c = kex_with_list(srv, names + ["curve25519-sha256", STRICT_C])
    c.kex_finish(c.make_eph())
    c.ping()
    c.close()
    # 10,000 names of 8 bytes in every list: over the 64 KiB per-list limit
    long_names = ["abcdefg%d" % i for i in range(10000)]
    c = peer(srv)
    c.version_exchange()
    c.send(c.kexinit_payload(None, "ssh-ed25519", "aes128-ctr", "hmac-sha2-256",
                             kex_list=long_names + ["curve25519-sha256"]))
    c.expect_disconnect(R_PROTOCOL_ERROR, skip=(KEXINIT,))
    c.close()


def raw_kexinit(lists, follows=b"\x00", reserved=0, trailing=b""):
    return (u8(KEXINIT) + os.urandom(16) + b"".join(string(x) for x in lists) + follows
            + u32(reserved) + trailing)


@case
def kexinit_edge_cases(srv):
    base = [b"curve25519-sha256," + STRICT_C.encode(), b"ssh-ed25519", b"aes128-ctr",
            b"aes128-ctr", b"hmac-sha2-256", b"hmac-sha2-256", b"none", b"none", b"", b""]

    def variant(i, v):
        lists = list(base)
        lists[i] = v
        return lists
    for payload, reason in [(raw_kexinit(variant(0, b"")), R_KEY_EXCHANGE_FAILED),
                            (raw_kexinit(variant(0, b",,,")), R_KEY_EXCHANGE_FAILED),
                            (raw_kexinit(variant(0, b"curve25519-sha256\0x")), R_PROTOCOL_ERROR),
                            (raw_kexinit(base, trailing=b"zz"), R_PROTOCOL_ERROR),
                            (raw_kexinit(base[:9], follows=b"", reserved=0), R_PROTOCOL_ERROR)]:
        c = peer(srv)
        c.version_exchange()
        c.send(payload)
        c.expect_disconnect(reason, skip=(KEXINIT,))
        c.close()
    # accepted: stray commas, a 5000-byte name, a language, reserved bits,
    # bytes over 0x7f in a name we skip, zlib offered besides none
    for lists, kw in [(variant(0, b",curve25519-sha256,," + STRICT_C.encode() + b","), {}),
                      (variant(0, b"x" * 5000 + b",curve25519-sha256"), {}),
                      (variant(8, b"en-US"), {}), (base, {"reserved": 5}),
                      (variant(0, b"\xff\xfe,curve25519-sha256"), {}),
                      (variant(6, b"zlib@openssh.com,none"), {})]:
        c = peer(srv)
        c.version_exchange()
        c.kex_start(payload=raw_kexinit(lists, **kw), strict=STRICT_C.encode() in lists[0])
        c.kex_finish(c.make_eph())
        c.ping()
        c.close()


@case
def kex_guess(srv):
    # wrong guess: our first kex is not the server's first; the guessed
    # packet (garbage here) must be ignored, the method runs afterwards
    c = kex_with_list(srv, ["ecdh-sha2-nistp256", "curve25519-sha256", STRICT_C], follows=True)
    c.send(u8(KEX30) + string(b"wrong guess, ignored"))
    c.kex_finish(c.make_eph())
    c.ping()
    c.close()
    # right guess: both prefer curve25519-sha256 and ssh-ed25519
    c = peer(srv)
    c.version_exchange()
    c.alg = dict(kex="curve25519-sha256", hostkey="ssh-ed25519", cipher="aes128-ctr",
                 mac="hmac-sha2-256")
    c.i_c = c.kexinit_payload(follows=True, **c.alg)
    c.send(c.i_c)
    q = c.make_eph()
    c.send(c.kex_init_msg(q))  # before the server's KEXINIT
    c.i_s = c.expect(KEXINIT)
    c.strict = True
    c.kex_finish(q, send_init=False)
    c.ping()
    c.close()


@case
def kex_out_of_order_and_repeated(srv):
    # kex-method messages before KEXINIT
    for msg in [u8(KEX30) + string(bytes(32)), u8(NEWKEYS), u8(KEX31)]:
        c = peer(srv)
        c.version_exchange()
        c.send(msg)
        c.expect_disconnect(R_PROTOCOL_ERROR, skip=(KEXINIT,))
        c.close()
    # after KEXINIT: NEWKEYS first, a server message, KEXINIT again
    for msg in [u8(NEWKEYS), u8(KEX31) + string(b"k") + string(bytes(32)) + string(b"s"),
                None]:
        c = pre_kex(srv)
        c.send(msg if msg is not None else c.i_c)
        c.expect_disconnect(R_PROTOCOL_ERROR)
        c.close()
    # KEX30 twice: the server answered the first and waits for NEWKEYS
    c = pre_kex(srv)
    q = c.make_eph()
    c.send(c.kex_init_msg(q))
    c.send(c.kex_init_msg(q))
    c.kex_finish(q, send_init=False, send_newkeys=False)
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    # NEWKEYS repeated after the exchange
    c = after_kex(srv)
    c.send(u8(NEWKEYS))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    # EXT_INFO from the client (only servers send it)
    c = after_kex(srv)
    c.send(u8(EXT_INFO) + u32(0))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    # NEWKEYS with a body
    c = pre_kex(srv)
    q = c.make_eph()
    c.send(c.kex_init_msg(q))
    c.kex_finish(q, send_init=False, send_newkeys=False)
    c.send(u8(NEWKEYS) + b"\x00")
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    # a rekey works; KEXINIT repeated during the rekey does not
    c = authed(srv)
    c.rekey()
    c.ping()
    a = c.alg
    c.send(c.kexinit_payload(a["kex"], a["hostkey"], a["cipher"], a["mac"], strict=False))
    c.expect(KEXINIT)
    c.send(c.kexinit_payload(a["kex"], a["hostkey"], a["cipher"], a["mac"], strict=False))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()


# ---- bad public values ----

@case
def bad_dh_values(srv):
    p = GROUP14_P
    good = pow(2, 12345, p).to_bytes(256, "big")
    encodings = [mpint(e) for e in [0, 1, p - 1, p, p + 1, 1 << 2048]] + [
        string(b"\xff"),  # -1
        string(b"\x80" + good[1:]),  # negative: high bit without a leading zero
        string(b"\x00\x00" + good),  # not minimal
        string(b"\x00"),  # zero not as the empty string
        string(b"\x01" * 20000),  # far over any group
        u32(0x7FFFFFFF) + b"\x01"]  # longer than the message
    for enc in encodings:
        c = pre_kex(srv, kex="diffie-hellman-group14-sha256")
        c.send(u8(KEX30) + enc)
        c.expect_disconnect(R_KEY_EXCHANGE_FAILED)
        c.close()


@case
def bad_x25519_values(srv):
    for q in [bytes(32), bytes(31), b"\x09" * 33, b"", b"\x01" + bytes(31),
              bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")]:
        c = pre_kex(srv, kex="curve25519-sha256")
        c.send(c.kex_init_msg(q))
        c.expect_disconnect(R_KEY_EXCHANGE_FAILED)
        c.close()


@case
def bad_ecdh_points(srv):
    good = Peer.__new__(Peer)
    good.alg = {"kex": "ecdh-sha2-nistp256"}
    q = good.make_eph("ecdh-sha2-nistp256")
    x, y = q[1:33], q[33:]
    off_curve = b"\x04" + x + (int.from_bytes(y, "big") ^ 1).to_bytes(32, "big")
    for bad in [off_curve, b"\x04" + bytes(64), b"\x00", q[:33], q + b"\x00",
                b"\x05" + q[1:], b"\x04" + x + x]:
        c = pre_kex(srv, kex="ecdh-sha2-nistp256")
        c.send(c.kex_init_msg(bad))
        c.expect_disconnect(R_KEY_EXCHANGE_FAILED)
        c.close()


# ---- strict kex ----

@case
def strict_kex_violations(srv):
    # IGNORE (or DEBUG) before KEXINIT: KEXINIT is no longer the first packet
    for first in [u8(IGNORE) + string(b""), u8(DEBUG) + boolean(False) + string("") + string(""),
                  u8(UNIMPLEMENTED) + u32(0)]:
        c = peer(srv)
        c.version_exchange()
        c.send(first)
        c.send(c.kexinit_payload("curve25519-sha256", "ssh-ed25519", "aes128-ctr",
                                 "hmac-sha2-256"))
        c.expect_disconnect(R_PROTOCOL_ERROR, skip=(KEXINIT,))
        c.close()
    # without strict kex the same IGNORE is fine
    c = peer(srv)
    c.version_exchange()
    c.send(u8(IGNORE) + string(b"hello"))
    c.kex_start(strict=False)
    c.kex_finish(c.make_eph())
    c.ping()
    c.close()
    # IGNORE in the middle of a strict first kex
    c = pre_kex(srv)
    c.send(u8(IGNORE) + string(b""))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    # strict kex resets sequence numbers: keeping the old ones is a MAC error
    c = after_kex(srv)
    check(c.strict, "strict kex not negotiated")
    c.seq_tx = 3  # KEXINIT, KEX_ECDH_INIT, NEWKEYS: as if not strict
    c.send(u8(IGNORE) + string(b""))
    c.expect_disconnect(R_MAC_ERROR)
    c.close()


# ---- authentication ----

@case
def client_sends_userauth_success(srv):
    for c in [service(srv), authed(srv)]:
        c.send(u8(USERAUTH_SUCCESS))
        c.expect_disconnect(R_PROTOCOL_ERROR)
        c.close()
    c = service(srv)
    c.send(u8(USERAUTH_PK_OK) + string("ssh-ed25519") + string(srv.key.blob))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()


@case
def channel_messages_before_auth(srv):
    for mk in [lambda c: u8(CHANNEL_OPEN) + string("session") + u32(0) + u32(1 << 20) + u32(32768),
               lambda c: u8(CHANNEL_DATA) + u32(0) + string(b"x"),
               lambda c: u8(CHANNEL_REQUEST) + u32(0) + string("shell") + boolean(True),
               lambda c: u8(GLOBAL_REQUEST) + string("tcpip-forward") + boolean(True)
               + string("127.0.0.1") + u32(0)]:
        for c in [after_kex(srv), service(srv)]:
            c.send(mk(c))
            c.expect_disconnect(R_PROTOCOL_ERROR)
            c.close()
    # and after a failed attempt
    c = service(srv)
    c.auth_password(USER, "wrong", expect_ok=False)
    c.send(u8(CHANNEL_OPEN) + string("session") + u32(0) + u32(1 << 20) + u32(32768))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()


@case
def userauth_before_service_request(srv):
    c = after_kex(srv)
    c.userauth(USER, "password", boolean(False) + string(PASSWORD))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    c = after_kex(srv)
    c.send(u8(SERVICE_REQUEST) + string("ssh-connection"))
    c.expect_disconnect(R_SERVICE_NOT_AVAILABLE)
    c.close()


@case
def too_many_auth_tries(srv):
    # default MaxAuthTries 6: five FAILUREs, then DISCONNECT 14
    c = service(srv)
    for i in range(5):
        c.auth_password(USER, "wrong %d" % i, expect_ok=False)
    c.userauth(USER, "password", boolean(False) + string("wrong again"))
    c.expect_disconnect(R_NO_MORE_AUTH_METHODS)
    c.close()
    # mixed: unknown methods and refused keys count too; "none" does not
    c = service(srv)
    for i in range(10):
        c.userauth(USER, "none", b"")
        c.expect(USERAUTH_FAILURE)
    for i in range(3):
        c.userauth(USER, "hostbased", b"")
        c.expect(USERAUTH_FAILURE)
    c.auth_publickey(USER, srv.other_key, expect_ok=False)
    c.auth_password(USER, "wrong", expect_ok=False)
    c.userauth(USER, "password", boolean(False) + string("wrong"))
    c.expect_disconnect(R_NO_MORE_AUTH_METHODS)
    c.close()
    # a user name change is refused
    c = service(srv)
    c.auth_password(USER, "wrong", expect_ok=False)
    c.userauth("root", "password", boolean(False) + string(PASSWORD))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()


@case
def signature_by_another_key(srv):
    c = service(srv)
    # the authorized key is queried and accepted...
    c.userauth(USER, "publickey", boolean(False) + string(srv.key.alg) + string(srv.key.blob))
    c.expect(USERAUTH_PK_OK)
    # ...then the request carries its blob but a signature by another key
    c.auth_publickey(USER, srv.key, signer=srv.other_key, expect_ok=False)
    # an unauthorized key signing for itself
    c.auth_publickey(USER, srv.other_key, expect_ok=False)
    # a signature over other data (another session id)
    sid = c.session_id
    c.session_id = bytes(32)
    c.auth_publickey(USER, srv.key, expect_ok=False)
    c.session_id = sid
    # a signature blob with a different algorithm name
    sig = srv.key.sign(c.pubkey_sig_data(USER, srv.key.alg, srv.key.blob))
    r = Rd(sig)
    r.string()
    bad = string("ssh-rsa") + string(r.string())
    c.userauth(USER, "publickey", boolean(True) + string(srv.key.alg) + string(srv.key.blob)
               + string(bad))
    c.expect(USERAUTH_FAILURE)
    # the right signature still works afterwards (5 failures < 6)
    c.auth_publickey(USER, srv.key)
    c.ping()
    c.close()


# ---- channels ----

def confirm(p):
    check(p[0] == CHANNEL_OPEN_CONFIRMATION, "expected OPEN_CONFIRMATION, got %d" % p[0])
    r = Rd(p[1:])
    r.u32()
    remote = r.u32()
    window = r.u32()
    maxpkt = r.u32()
    return remote, window, maxpkt


def open_failure_reason(p):
    check(p[0] == CHANNEL_OPEN_FAILURE, "expected OPEN_FAILURE, got %d" % p[0])
    r = Rd(p[1:])
    r.u32()
    return r.u32()


@case
def window_overrun(srv):
    # a session channel without a subsystem: nothing consumes, so the
    # window is never adjusted; one byte beyond it ends the session
    c = authed(srv)
    remote, window, maxpkt = confirm(c.open_session())
    chunk = min(maxpkt, 200 * 1024)
    left = window
    while left > 0:
        n = min(chunk, left)
        c.send(u8(CHANNEL_DATA) + u32(remote) + string(bytes(n)))
        left -= n
    c.ping()
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(b"!"))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()


@case
def window_adjust_overflow(srv):
    c = authed(srv)
    remote, _, _ = confirm(c.open_session(window=1000))
    c.send(u8(CHANNEL_WINDOW_ADJUST) + u32(remote) + u32(0xFFFFFFFF - 1000))
    c.ping()  # exactly 2^32-1: fine
    c.send(u8(CHANNEL_WINDOW_ADJUST) + u32(remote) + u32(1))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    c = authed(srv)
    remote, _, _ = confirm(c.open_session(window=0xFFFFFFFF))
    c.send(u8(CHANNEL_WINDOW_ADJUST) + u32(remote) + u32(0xFFFFFFFF))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    # an adjust for a channel that does not exist
    c = authed(srv)
    c.send(u8(CHANNEL_WINDOW_ADJUST) + u32(7) + u32(10))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()


@case
def more_channels_than_allowed(srv):
    # MaxSessions default 10
    c = authed(srv)
    remotes = [confirm(c.open_session(local_id=i))[0] for i in range(10)]
    check(len(set(remotes)) == 10, "channel ids not distinct: %r" % remotes)
    check(open_failure_reason(c.open_session(local_id=10)) == 4, "11th channel: not "
          "RESOURCE_SHORTAGE")
    # closing one makes room again (after the server's CLOSE)
    c.send(u8(CHANNEL_CLOSE) + u32(remotes[0]))
    c.expect(CHANNEL_CLOSE)
    confirm(c.open_session(local_id=11))
    check(open_failure_reason(c.open_session(local_id=12)) == 4, "limit not kept")
    c.ping()
    c.close()


@case
def refused_requests_on_sftp_only_server(srv):
    c = authed(srv)
    remote, _, _ = confirm(c.open_session())
    for rtype, rest in [("shell", b""), ("exec", string("id")),
                        ("pty-req", string("xterm") + u32(80) + u32(24) + u32(0) + u32(0)
                         + string(b"")),
                        ("env", string("LANG") + string("C")),
                        ("x11-req", boolean(False) + string("MIT-MAGIC-COOKIE-1")
                         + string("00") + u32(0)),
                        ("auth-agent-req@openssh.com", b""),
                        ("subsystem", string("shell")),
                        ("subsystem", string("")),
                        ("subsystem", string("s" * 300)),
                        ("signal", string("KILL"))]:
        c.chan_request(remote, rtype, rest)
        p = c.expect(CHANNEL_FAILURE, "(%s)" % rtype)
        check(Rd(p[1:]).u32() == 0, "CHANNEL_FAILURE for the wrong channel")
    c.chan_request(remote, "shell", b"", want_reply=False)  # no reply, session goes on
    c.chan_request(remote, "subsystem", string("sftp"))
    c.expect(CHANNEL_SUCCESS)
    c.sftp_init(remote)
    c.chan_request(remote, "subsystem", string("sftp"))  # a second one on the same channel
    c.expect(CHANNEL_FAILURE)
    # forwarding: channel types and global requests
    for ctype, reason in [("direct-tcpip", 1), ("forwarded-tcpip", 1), ("x11", 1),
                          ("auth-agent@openssh.com", 1), ("direct-streamlocal@openssh.com", 1),
                          ("tun@openssh.com", 1), ("nonsense", 3), ("x" * 500, 3)]:
        got = open_failure_reason(c.open_session(local_id=5, ctype=ctype))
        check(got == reason, "open %s: reason %d, expected %d" % (ctype[:20], got, reason))
    for req in [string("tcpip-forward") + boolean(True) + string("127.0.0.1") + u32(0),
                string("streamlocal-forward@openssh.com") + boolean(True) + string("/tmp/x"),
                string("keepalive@openssh.com") + boolean(True)]:
        c.send(u8(GLOBAL_REQUEST) + req)
        c.expect(REQUEST_FAILURE)
    c.send(u8(GLOBAL_REQUEST) + string("no-more-sessions@openssh.com") + boolean(False))
    c.ping()
    c.close()


@case
def data_after_eof_and_close(srv):
    # EOF, EOF again (ignored), then data: a protocol error
    c = authed(srv)
    remote = c.open_sftp()
    c.sftp_init(remote)
    c.send(u8(CHANNEL_EOF) + u32(remote))
    c.send(u8(CHANNEL_EOF) + u32(remote))
    c.ping(skip=(IGNORE, DEBUG, CHANNEL_REQUEST, CHANNEL_EOF, CHANNEL_CLOSE))
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(b"late"))
    c.expect_disconnect(R_PROTOCOL_ERROR,
                        skip=(IGNORE, DEBUG, CHANNEL_REQUEST, CHANNEL_EOF, CHANNEL_CLOSE))
    c.close()
    # CLOSE, the server's CLOSE, then data for the freed channel
    c = authed(srv)
    remote = c.open_sftp()
    c.send(u8(CHANNEL_CLOSE) + u32(remote))
    c.expect(CHANNEL_CLOSE)
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(b"late"))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    # CLOSE and data in one flight, and a second CLOSE
    c = authed(srv)
    remote = c.open_sftp()
    c.send(u8(CHANNEL_CLOSE) + u32(remote))
    c.send(u8(CHANNEL_CLOSE) + u32(remote))
    c.expect(CHANNEL_CLOSE)
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    # EOF then CLOSE for a channel never opened
    c = authed(srv)
    c.send(u8(CHANNEL_EOF) + u32(3))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()


# ---- group exchange (RFC 4419), on by default ----

@case
def gex_abuse(srv):
    for lo, n, hi in [(4096, 3072, 8192), (2048, 8192, 4096), (0, 0, 0), (512, 1024, 1024),
                      (9000, 9000, 9000), (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)]:
        c = pre_kex(srv, kex=GEX)
        c.send(u8(34) + u32(lo) + u32(n) + u32(hi))
        c.expect_disconnect(R_KEY_EXCHANGE_FAILED)
        c.close()
    # the old request (30), INIT (32) before the group, a short request
    for msg, reason in [(u8(30) + u32(2048), R_PROTOCOL_ERROR),
                        (u8(32) + mpint(5), R_PROTOCOL_ERROR),
                        (u8(34) + u32(2048) + u32(3072), R_KEY_EXCHANGE_FAILED)]:
        c = pre_kex(srv, kex=GEX)
        c.send(msg)
        c.expect_disconnect(reason)
        c.close()
    # e of 0, 1, p-1, p in the group the server chose
    for pick in [lambda p: 0, lambda p: 1, lambda p: p - 1, lambda p: p, lambda p: p + 2]:
        c = pre_kex(srv, kex=GEX)
        c.gex_group()
        c.send(u8(32) + mpint(pick(c.gex_p)))
        c.expect_disconnect(R_KEY_EXCHANGE_FAILED)
        c.close()
    c = peer(srv).handshake(kex=GEX)
    c.ping()
    c.close()


# ---- user key blobs and signatures from an unauthenticated peer ----

def rsa_blob(e, n):
    return string("ssh-rsa") + mpint(e) + mpint(n)


@case
def pubkey_blob_abuse(srv):
    kr = Rd(EcdsaP256Key().blob)
    kr.string(), kr.string()
    q = kr.string()
    off = q[:-1] + bytes([q[-1] ^ 1])
    big_n = (1 << 16384) - 1  # a 16 kbit modulus: refused, and quickly
    ed = srv.key.blob
    blobs = [
        ("ecdsa-sha2-nistp256", string("ecdsa-sha2-nistp256") + string("nistp256") + string(off)),
        ("ecdsa-sha2-nistp256", string("ecdsa-sha2-nistp256") + string("nistp256") + string(b"\0")),
        ("ecdsa-sha2-nistp256", string("ecdsa-sha2-nistp256") + string("nistp384") + string(q)),
        ("ecdsa-sha2-nistp256", string("ecdsa-sha2-nistp256") + string("nistp256") + string(q[:33])),
        ("rsa-sha2-256", rsa_blob(3, 0)),
        ("rsa-sha2-256", rsa_blob(0, (1 << 2048) - 1)),
        ("rsa-sha2-256", rsa_blob(1, (1 << 2048) - 1)),
        ("rsa-sha2-512", rsa_blob(65537, (1 << 512) - 1)),
        ("rsa-sha2-512", rsa_blob(65537, big_n)),
        ("rsa-sha2-256", string("ssh-rsa") + u32(0x7FFFFFFF)),
        ("ssh-ed25519", string("ssh-ed25519") + string(bytes(31))),
        ("ssh-ed25519", ed + b"trailing"),
        ("ssh-ed25519", b""),
        ("ssh-rsa", ed),  # SHA-1 RSA, and not an RSA blob
        ("rsa-sha2-256", ed),  # algorithm and blob disagree
        ("ssh-dss", string("ssh-dss") + mpint(1) + mpint(1) + mpint(1) + mpint(1)),
        ("x" * 200, ed),
    ]
    for i in range(0, len(blobs), 5):
        c = service(srv)
        for alg, blob in blobs[i:i + 5]:
            t0 = time.time()
            c.userauth(USER, "publickey", boolean(False) + string(alg) + string(blob))
            c.expect(USERAUTH_FAILURE, "(query %s %r)" % (alg[:20], blob[:24]))
            check(time.time() - t0 < 2, "%s blob took %.1f s" % (alg, time.time() - t0))
        c.close()
    # signatures: truncated, trailing bytes, wrong name, empty, huge length
    c = service(srv)
    data = c.pubkey_sig_data(USER, srv.key.alg, srv.key.blob)
    good = srv.key.sign(data)
    raw = Rd(good)
    raw.string()
    rsig = raw.string()
    for sig in [string("ssh-ed25519") + string(rsig[:63]), good + b"x",
                string("ssh-ed25519") + string(rsig + b"x"), b"", string("ssh-ed25519")]:
        c.userauth(USER, "publickey", boolean(True) + string(srv.key.alg) + string(srv.key.blob)
                   + string(sig))
        c.expect(USERAUTH_FAILURE)
    c.auth_publickey(USER, srv.key)  # 5 failures: the sixth try still may succeed
    c.ping()
    c.close()
    # password: change request (unsupported), NUL inside, over 1 KiB
    c = service(srv)
    c.userauth(USER, "password", boolean(True) + string(PASSWORD) + string("new"))
    c.expect(USERAUTH_FAILURE)
    c.userauth(USER, "password", boolean(False) + string(PASSWORD + "\0x"))
    c.expect(USERAUTH_FAILURE)
    c.userauth(USER, "password", boolean(False) + string("p" * 100000))
    c.expect(USERAUTH_FAILURE)
    c.auth_password(USER, PASSWORD)
    c.close()


@case
def bad_signatures_by_authorized_keys(srv):
    """Signature blobs are parsed only for authorized keys: ECDSA and RSA
    keys are authorized here, and each bogus signature must fail cleanly."""
    ek, rk = srv.ecdsa_key, srv.rsa_key
    def signed(c, key, sig):
        c.userauth(USER, "publickey", boolean(True) + string(key.alg) + string(key.blob)
                   + string(sig))

    n256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    bogus_ecdsa = [
        lambda r, s: string(ek.alg) + string(mpint(0) + mpint(s)),
        lambda r, s: string(ek.alg) + string(mpint(r) + mpint(0)),
        lambda r, s: string(ek.alg) + string(mpint(n256) + mpint(s)),
        lambda r, s: string(ek.alg) + string(mpint(r) + mpint(n256 + s)),
        lambda r, s: string(ek.alg) + string(mpint(r) + mpint(n256 - s)),  # high s: still valid math
        lambda r, s: string(ek.alg) + string(mpint(r)),
        lambda r, s: string(ek.alg) + string(mpint(r) + mpint(s) + b"x"),
        lambda r, s: string(ek.alg) + string(string(b"\xff" * 40) + mpint(s)),
        lambda r, s: string(ek.alg) + string(mpint(1 << 4000) + mpint(s)),
        lambda r, s: string("ecdsa-sha2-nistp384") + string(mpint(r) + mpint(s)),
    ]
    for i, mk in enumerate(bogus_ecdsa):
        c = service(srv)
        data = c.pubkey_sig_data(USER, ek.alg, ek.blob)
        r, s = ek.sign_rs(data)
        signed(c, ek, mk(r, s))
        if i == 4:
            # (r, n - s) verifies as well in plain ECDSA; both answers are
            # sound, but it must be an answer
            m = c.recv_msg()
            check(m[0] in (USERAUTH_SUCCESS, USERAUTH_FAILURE), "high-s: message %d" % m[0])
        else:
            c.expect(USERAUTH_FAILURE, "(ecdsa case %d)" % i)
        c.close()
    c = service(srv)
    c.auth_publickey(USER, ek)
    c.close()
    c = service(srv)
    data = c.pubkey_sig_data(USER, rk.alg, rk.blob)
    good = Rd(rk.sign(data))
    good.string()
    raw = good.string()
    for i, sig in enumerate([string(rk.alg) + string(raw[:-1]),
                             string(rk.alg) + string(b"\x00" + raw),
                             string(rk.alg) + string(b""), string(rk.alg) + string(bytes(256)),
                             string(rk.alg) + string(b"\xff" * 256),
                             string("rsa-sha2-512") + string(raw)]):
        if i == 5:  # MaxAuthTries 6: a fresh connection for the sixth
            c.close()
            c = service(srv)
            data = c.pubkey_sig_data(USER, rk.alg, rk.blob)
            good = Rd(rk.sign(data))
            good.string()
            sig = string("rsa-sha2-512") + string(good.string())
        signed(c, rk, sig)
        c.expect(USERAUTH_FAILURE, "(rsa case %d)" % i)
    c.close()
    c = service(srv)
    # SHA-1 ssh-rsa is not accepted even with a valid SHA-1 signature
    d1 = c.pubkey_sig_data(USER, "ssh-rsa", rk.blob)
    c.userauth(USER, "publickey", boolean(True) + string("ssh-rsa") + string(rk.blob)
               + string(string("ssh-rsa") + string(rk.priv.sign(d1, padding.PKCS1v15(), SHA1()))))
    c.expect(USERAUTH_FAILURE)
    c.auth_publickey(USER, rk)
    c.ping()
    c.close()


# ---- positive protocol details an attacker relies on being exact ----

@case
def ext_info_after_first_newkeys(srv):
    c = kex_with_list(srv, ["curve25519-sha256", "ext-info-c", STRICT_C])
    c.kex_finish(c.make_eph())
    p = c.recv()
    check(p[0] == EXT_INFO, "first message after NEWKEYS: %d, expected EXT_INFO" % p[0])
    r = Rd(p[1:])
    check(r.u32() == 1 and r.string() == b"server-sig-algs", "EXT_INFO content")
    check(b"ssh-ed25519" in r.string(), "server-sig-algs without ssh-ed25519")
    c.service_userauth()
    c.auth_publickey(USER, srv.key)
    # no second EXT_INFO after a rekey
    c.rekey()
    c.ping(skip=())
    c.close()


@case
def flow_control_tiny_window_and_packet(srv):
    """The server honours our window (0 at first) and max packet (1 byte)."""
    c = authed(srv)
    p = c.open_session(window=0, maxpkt=1)
    remote, _, _ = confirm(p)
    c.chan_request(remote, "subsystem", string("sftp"))
    c.expect(CHANNEL_SUCCESS)
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(u32(5) + u8(1) + u32(3)))
    c.ping()  # nothing may come before: the window is 0
    c.send(u8(CHANNEL_WINDOW_ADJUST) + u32(remote) + u32(6))
    got = b""
    while len(got) < 6:
        q = c.expect(CHANNEL_DATA)
        r = Rd(q[1:])
        r.u32()
        d = r.string()
        check(len(d) == 1, "CHANNEL_DATA of %d bytes, max packet is 1" % len(d))
        got += d
    c.ping()  # window used up: the rest waits
    c.send(u8(CHANNEL_WINDOW_ADJUST) + u32(remote) + u32(1 << 20))
    while True:
        q = c.expect(CHANNEL_DATA)
        got += q[9:]
        if len(got) >= 4 and len(got) >= 4 + int.from_bytes(got[:4], "big"):
            break
    check(got[4] == 2, "SFTP VERSION expected")
    c.close()


# ---- key re-exchange started by the server (RekeyLimit 32K) ----

REKEY_SRV = {}


def rekey_server(srv):
    if "srv" not in REKEY_SRV:
        REKEY_SRV["srv"] = Ferryd(os.path.join(srv.tmp, "rekey"), "RekeyLimit 32K\n")
    return REKEY_SRV["srv"]


def until_server_kexinit(c):
    """Sends IGNOREs until the server starts a rekey; returns its KEXINIT."""
    for _ in range(64):
        c.send(u8(IGNORE) + string(bytes(4000)))
        c.sock.settimeout(0.05)
        try:
            c._fill(len(c.rbuf) + 1)
        except Unexpected:
            continue
        finally:
            c.sock.settimeout(c.timeout)
        p = c.recv_msg()
        if p[0] == KEXINIT:
            return p
        raise Unexpected("expected the server's KEXINIT, got %d" % p[0])
    raise Unexpected("no rekey from the server after 256 KB")


@case
def rekey_by_server(srv):
    s2 = rekey_server(srv)
    # the normal case: data we send before our KEXINIT is answered after NEWKEYS
    c = authed(s2)
    remote = c.open_sftp()
    c.i_s = until_server_kexinit(c)
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(u32(5) + u8(1) + u32(3)))
    a = c.alg
    c.i_c = c.kexinit_payload(a["kex"], a["hostkey"], a["cipher"], a["mac"], strict=False)
    c.send(c.i_c)
    c.kex_finish(c.make_eph())  # fails if anything but kex messages comes first
    q = c.expect(CHANNEL_DATA, "(SFTP VERSION after the rekey)")
    check(q[9 + 4] == 2, "SFTP VERSION expected")
    c.ping()
    c.close()
    # refused with UNIMPLEMENTED: the session goes on with the old keys
    c = authed(s2)
    until_server_kexinit(c)
    seq = (c.seq_rx - 1) & 0xFFFFFFFF
    c.send(u8(UNIMPLEMENTED) + u32(seq))
    c.ping()
    remote = c.open_sftp()
    c.sftp_init(remote)
    c.rekey()  # our own re-exchange later still works
    c.ping()
    c.close()
    # both sides start at once: our KEXINIT behind the bytes that trigger
    # the server's; exactly one KEXINIT each
    c = authed(s2)
    a = c.alg
    c.cork()
    for _ in range(12):
        c.send(u8(IGNORE) + string(bytes(4000)))
    c.i_c = c.kexinit_payload(a["kex"], a["hostkey"], a["cipher"], a["mac"], strict=False)
    c.send(c.i_c)
    c.uncork()
    c.i_s = c.expect(KEXINIT)
    c.kex_finish(c.make_eph())
    c.ping()
    c.close()
    # a connection message after our KEXINIT, before our NEWKEYS
    c = authed(s2)
    remote = c.open_sftp()
    until_server_kexinit(c)
    a = c.alg
    c.send(c.kexinit_payload(a["kex"], a["hostkey"], a["cipher"], a["mac"], strict=False))
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(b"during kex"))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()
    # bad public value in a rekey
    c = authed(s2)
    c.i_s = until_server_kexinit(c)
    c.send(c.kexinit_payload(a["kex"], a["hostkey"], a["cipher"], a["mac"], strict=False))
    c.send(u8(KEX30) + string(bytes(32)))
    c.expect_disconnect(R_KEY_EXCHANGE_FAILED)
    c.close()
    check(s2.alive(), "rekey server died")
    rc = s2.stop()
    check(rc == 0, "rekey ferryd exit status %d" % rc)
    rep = s2.sanitizer_report()
    check(rep is None, "sanitizer report in the rekey ferryd log:\n%s" % rep)
    del REKEY_SRV["srv"]


# ---- more transport, auth and channel details ----

@case
def transport_odds(srv):
    c = after_kex(srv)
    # DEBUG with display set, control characters and 200 KB of text
    c.send(u8(DEBUG) + boolean(True) + string(b"\x1b[31m\x07\r\n" + b"d" * 200000) + string("en"))
    c.send(u8(IGNORE) + string(b"\x00" * 1000))
    c.send(u8(UNIMPLEMENTED) + u32(0xDEADBEEF))
    c.ping()
    # the service is asked for twice
    c.service_userauth()
    c.send(u8(SERVICE_REQUEST) + string("ssh-userauth"))
    c.expect_disconnect(R_SERVICE_NOT_AVAILABLE)
    c.close()
    # the client's own DISCONNECT with a long, binary description
    c = authed(srv)
    c.send(u8(DISCONNECT) + u32(2) + string(os.urandom(5000)) + string(""))
    c.expect_eof()
    c.close()


@case
def auth_names_and_services(srv):
    for user, reason in [("u" * 256, R_ILLEGAL_USER_NAME), ("te\0ster", R_ILLEGAL_USER_NAME)]:
        c = service(srv)
        c.userauth(user, "password", boolean(False) + string("x"))
        c.expect_disconnect(reason)
        c.close()
    for svc in ["ssh-userauth", "ssh-connection-x", ""]:
        c = service(srv)
        c.send(u8(USERAUTH_REQUEST) + string(USER) + string(svc) + string("password")
               + boolean(False) + string(PASSWORD))
        c.expect_disconnect(R_SERVICE_NOT_AVAILABLE)
        c.close()
    # unknown user: the same FAILURE, key query included
    c = service(srv)
    c.auth_password("nosuchuser", PASSWORD, expect_ok=False)
    c.userauth("nosuchuser", "publickey", boolean(False) + string(srv.key.alg)
               + string(srv.key.blob))
    c.expect(USERAUTH_FAILURE)
    c.close()
    # a (valid) request after success is ignored, no reply at all
    c = authed(srv)
    c.userauth(USER, "password", boolean(False) + string("wrong"))
    c.ping()
    c.close()


@case
def keyboard_interactive(srv):
    def kbd_start(c):
        c.userauth(USER, "keyboard-interactive", string("") + string(""))
        p = c.expect(USERAUTH_PK_OK, "(INFO_REQUEST)")
        r = Rd(p[1:])
        r.string(), r.string(), r.string()
        check(r.u32() == 1, "one prompt expected")
    c = service(srv)
    kbd_start(c)
    c.send(u8(61) + u32(0))  # no answers: a failure
    c.expect(USERAUTH_FAILURE)
    kbd_start(c)
    c.send(u8(61) + u32(0xFFFFFFFF))  # a count and nothing after it
    c.expect(USERAUTH_FAILURE)
    kbd_start(c)
    c.send(u8(61) + u32(1) + string("wrong"))
    c.expect(USERAUTH_FAILURE)
    kbd_start(c)
    c.send(u8(61) + u32(1) + string(PASSWORD))
    c.expect(USERAUTH_SUCCESS)
    c.ping()
    c.close()
    # two answers to one question; a response after a new request ended it;
    # a response twice; a malformed request
    for steps in [lambda c: (kbd_start(c), c.send(u8(61) + u32(2) + string("a") + string("b"))),
                  lambda c: (kbd_start(c), c.auth_password(USER, "x", expect_ok=False),
                             c.send(u8(61) + u32(1) + string(PASSWORD))),
                  lambda c: (kbd_start(c), c.send(u8(61) + u32(0)), c.expect(USERAUTH_FAILURE),
                             c.send(u8(61) + u32(0))),
                  lambda c: c.userauth(USER, "keyboard-interactive", string(""))]:
        c = service(srv)
        steps(c)
        c.expect_disconnect(R_PROTOCOL_ERROR)
        c.close()


@case
def pipelined_session(srv):
    """Everything the client can send without waiting goes in one write:
    version, KEXINIT and KEX_ECDH_INIT; then NEWKEYS with the packets
    under the new keys behind it, through to the SFTP INIT."""
    c = peer(srv)
    c.our_version = c.VERSION
    c.alg = dict(kex="curve25519-sha256", hostkey="ssh-ed25519",
                 cipher="chacha20-poly1305@openssh.com", mac="hmac-sha2-256")
    c.i_c = c.kexinit_payload(**c.alg)
    c.cork()
    c.send_raw(c.VERSION + b"\r\n")
    c.send(c.i_c)
    q = c.make_eph()
    c.send(c.kex_init_msg(q))
    c.uncork()
    c.read_server_version()
    c.i_s = c.expect(KEXINIT)
    c.strict = True
    # NEWKEYS goes out corked: kex_finish switches our keys right after it
    c.cork()
    c.kex_finish(q, send_init=False)
    c.send(u8(SERVICE_REQUEST) + string("ssh-userauth"))
    sig = srv.key.sign(c.pubkey_sig_data(USER, srv.key.alg, srv.key.blob))
    c.userauth(USER, "publickey", boolean(True) + string(srv.key.alg) + string(srv.key.blob)
               + string(sig))
    c.send(u8(CHANNEL_OPEN) + string("session") + u32(0) + u32(1 << 20) + u32(32768))
    c.send(u8(CHANNEL_REQUEST) + u32(0) + string("subsystem") + boolean(True) + string("sftp"))
    c.send(u8(CHANNEL_DATA) + u32(0) + string(u32(5) + u8(1) + u32(3)))
    c.uncork()
    c.expect(SERVICE_ACCEPT)
    c.expect(USERAUTH_SUCCESS)
    remote, _, _ = confirm(c.recv_msg())
    check(remote == 0, "the server's channel id is %d" % remote)
    c.expect(CHANNEL_SUCCESS)
    p = c.expect(CHANNEL_DATA)
    check(p[9 + 4] == 2, "SFTP VERSION expected")
    c.close()


@case
def byte_by_byte_session(srv):
    """Every byte of a whole session in its own TCP segment."""
    c = peer(srv)
    c.dribble = True
    c.handshake(cipher="aes128-ctr", mac="hmac-sha2-256")
    c.service_userauth()
    c.auth_password(USER, PASSWORD)
    remote = c.open_sftp()
    c.sftp_init(remote)
    c.rekey(cipher="aes128-gcm@openssh.com")
    c.ping()
    c.close()


@case
def nothing_after_a_fatal_packet(srv):
    """Packets behind a fatal one in the same write are not acted on."""
    c = authed(srv)
    remote = c.open_sftp()
    c.cork()
    c.send(u8(IGNORE) + string(b"x" * 30), mangle=flip(10))
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(u32(5) + u8(1) + u32(3)))
    c.send(u8(GLOBAL_REQUEST) + string("x") + boolean(True))
    c.uncork()
    c.expect_disconnect(R_MAC_ERROR)  # and nothing before it
    c.close()
    c = authed(srv)
    c.cork()
    c.send(u8(DISCONNECT) + u32(11) + string("bye") + string(""))
    c.send(u8(GLOBAL_REQUEST) + string("x") + boolean(True))
    c.send(bytes([15]))
    c.uncork()
    c.sock.settimeout(3)
    try:
        rest = c.sock.recv(65536)
    except ConnectionResetError:
        rest = b""
    check(rest == b"", "the server answered after our DISCONNECT: %r" % rest[:40])
    c.close()


@case
def rekey_with_replies_in_flight(srv):
    """A rekey we start while the server streams SFTP replies: after its
    KEXINIT nothing but kex messages, then the rest of the data, intact."""
    data = os.urandom(2 * 1024 * 1024)
    with open(os.path.join(srv.root, "inflight.bin"), "wb") as f:
        f.write(data)
    c = authed(srv)
    p = c.open_session(window=64 << 20, maxpkt=32768)
    remote, _, _ = confirm(p)
    c.chan_request(remote, "subsystem", string("sftp"))
    c.expect(CHANNEL_SUCCESS)
    c.sftp(remote, u8(1) + u32(3))
    h = c.sftp(remote, u8(3) + u32(1) + string("/inflight.bin") + u32(1) + u32(0))
    handle = Rd(h[5:]).string()
    c.cork()
    for i in range(8):
        body = u8(5) + u32(100 + i) + string(handle) + u32(0) + u32(i * 262144) + u32(262144)
        c.send(u8(CHANNEL_DATA) + u32(remote) + string(u32(len(body)) + body))
    a = c.alg
    c.i_c = c.kexinit_payload(a["kex"], a["hostkey"], a["cipher"], a["mac"], strict=False)
    c.send(c.i_c)
    c.uncork()
    stream = b""
    while True:
        m = c.recv_msg()
        if m[0] == KEXINIT:
            c.i_s = m
            break
        check(m[0] in (CHANNEL_DATA, CHANNEL_WINDOW_ADJUST, CHANNEL_REQUEST),
              "message %d before the server's KEXINIT" % m[0])
        if m[0] == CHANNEL_DATA:
            stream += m[9:]
    c.kex_finish(c.make_eph())  # expect() fails on anything but kex messages
    got = {}
    while len(got) < 8:
        while len(stream) >= 4 and len(stream) >= 4 + int.from_bytes(stream[:4], "big"):
            n = int.from_bytes(stream[:4], "big")
            pkt, stream = stream[4:4 + n], stream[4 + n:]
            check(pkt[0] == 103, "SFTP DATA expected, got %d" % pkt[0])
            r = Rd(pkt[1:])
            rid = r.u32()  # before the string: a subscript is evaluated after the value
            got[rid - 100] = r.string()
        if len(got) < 8:
            m = c.recv_msg(skip=(IGNORE, DEBUG, CHANNEL_WINDOW_ADJUST, CHANNEL_REQUEST))
            check(m[0] == CHANNEL_DATA, "message %d in the reply stream" % m[0])
            stream += m[9:]
    check(sorted(got) == list(range(8)), "reply ids %r" % sorted(got))
    check(b"".join(got[i] for i in range(8)) == data, "READ data differ across the rekey")
    c.ping()
    c.close()


@case
def after_the_servers_close(srv):
    """The server closes a channel (its SFTP server refused our bytes);
    what we sent meanwhile gets no answer on that channel (RFC 4254
    s5.3), our CLOSE frees it, and the session goes on."""
    c = authed(srv)
    remote = c.open_sftp()
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(u32(0xFFFFFFFF) + b"\x01junk"))
    while True:
        m = c.recv_msg()
        check(m[0] in (CHANNEL_REQUEST, CHANNEL_EOF, CHANNEL_CLOSE, CHANNEL_WINDOW_ADJUST),
              "message %d while the channel closes" % m[0])
        if m[0] == CHANNEL_CLOSE:
            break
    c.chan_request(remote, "subsystem", string("sftp"))
    c.chan_request(remote, "exec", string("id"))
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(b"in flight"))
    c.send(u8(CHANNEL_WINDOW_ADJUST) + u32(remote) + u32(1000))
    c.send(u8(CHANNEL_EOF) + u32(remote))
    c.ping()  # nothing for the channel came before the answer to the ping
    c.send(u8(CHANNEL_CLOSE) + u32(remote))
    c.ping()
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(b"after both CLOSEs"))
    c.expect_disconnect(R_PROTOCOL_ERROR)
    c.close()


@case
def channel_churn(srv):
    """500 channels opened and closed one after the other in one session
    (ids reused, nothing kept), a subsystem on every tenth; then a burst of
    20 opens: the first 10 confirmed, the rest RESOURCE_SHORTAGE, in order."""
    c = authed(srv)
    for i in range(500):
        remote, _, _ = confirm(c.open_session(local_id=i))
        if i % 10 == 0:
            c.chan_request(remote, "subsystem", string("sftp"))
            c.expect(CHANNEL_SUCCESS)
        c.send(u8(CHANNEL_CLOSE) + u32(remote))
        c.expect(CHANNEL_CLOSE)
    c.cork()
    for i in range(20):
        c.send(u8(CHANNEL_OPEN) + string("session") + u32(1000 + i) + u32(1 << 16) + u32(1 << 15))
    c.uncork()
    for i in range(20):
        m = c.recv_msg()
        check(Rd(m[1:]).u32() == 1000 + i, "replies out of order")
        if i < 10:
            confirm(m)
        else:
            check(open_failure_reason(m) == 4, "open %d: not RESOURCE_SHORTAGE" % i)
    c.ping()
    c.close()


@case
def rekey_variants(srv):
    # before authentication, then log in
    c = after_kex(srv)
    c.rekey()
    c.service_userauth()
    c.rekey(kex="diffie-hellman-group14-sha256", cipher="chacha20-poly1305@openssh.com")
    c.auth_publickey(USER, srv.key)
    # switching every algorithm on each re-exchange, with a channel open
    remote = c.open_sftp()
    for kex, cipher, mac in [("ecdh-sha2-nistp256", "aes256-gcm@openssh.com", "hmac-sha2-256"),
                             (GEX, "aes192-ctr", "hmac-sha2-512-etm@openssh.com"),
                             ("curve25519-sha256", "aes128-ctr", "hmac-sha2-512")]:
        c.rekey(kex=kex, cipher=cipher, mac=mac)
        c.ping()
    c.sftp_init(remote)
    c.close()
    # without strict kex sequence numbers run on across each NEWKEYS
    c = peer(srv).handshake(strict=False, cipher="chacha20-poly1305@openssh.com")
    check(not c.strict, "strict kex without asking")
    c.service_userauth()
    c.auth_password(USER, PASSWORD)
    for cipher in ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"]:
        c.rekey(cipher=cipher)
        c.ping()
    check(c.seq_tx > 8, "sequence numbers were reset")
    c.close()


@case
def sftp_packets_split_and_joined(srv):
    """SFTP packets cut at every byte across CHANNEL_DATA messages, and
    several in one message: the channel hands the subsystem a stream."""
    with open(os.path.join(srv.root, "split.bin"), "wb") as f:
        f.write(b"0123456789" * 100)
    c = authed(srv)
    remote = c.open_sftp()
    stream = b""

    def pkt(body):
        return u32(len(body)) + body

    def replies(n):
        nonlocal stream
        out = []
        while len(out) < n:
            while len(stream) >= 4 and len(stream) >= 4 + int.from_bytes(stream[:4], "big"):
                k = int.from_bytes(stream[:4], "big")
                out.append(stream[4:4 + k])
                stream = stream[4 + k:]
            if len(out) < n:
                stream += c.expect(CHANNEL_DATA)[9:]
        return out
    init = pkt(u8(1) + u32(3))
    for i in range(len(init)):
        c.send(u8(CHANNEL_DATA) + u32(remote) + string(init[i:i + 1]))
    check(replies(1)[0][0] == 2, "VERSION expected")
    c.send(u8(CHANNEL_DATA) + u32(remote)
           + string(pkt(u8(3) + u32(7) + string("/split.bin") + u32(1) + u32(0))))
    h = replies(1)[0]
    check(h[0] == 102, "HANDLE expected, got %d" % h[0])
    handle = Rd(h[5:]).string()
    reads = b"".join(pkt(u8(5) + u32(10 + i) + string(handle) + u32(0) + u32(i * 100) + u32(100))
                     for i in range(5))
    # five READs in one message, then five more cut at odd places
    c.send(u8(CHANNEL_DATA) + u32(remote) + string(reads))
    for cut in [(0, 3), (3, 17), (17, 90), (90, len(reads))]:
        c.send(u8(CHANNEL_DATA) + u32(remote) + string(reads[cut[0]:cut[1]]))
    got = replies(10)
    for i, r in enumerate(got):
        check(r[0] == 103, "DATA expected, got %d" % r[0])
        rr = Rd(r[1:])
        check(rr.u32() == 10 + i % 5, "reply order")
        check(rr.string() == b"0123456789" * 10, "READ content")
    c.ping()
    c.close()


def sftp_string(s):
    return string(s)


@case
def sftp_huge_peer_limits(srv):
    """A peer window and max packet of 2^32-1: the server still sends
    packets within its own 256 KiB limit (sshpeer checks each length)."""
    data = os.urandom(3 * 1024 * 1024 + 5)
    with open(os.path.join(srv.root, "big.bin"), "wb") as f:
        f.write(data)
    c = authed(srv)
    p = c.open_session(window=0xFFFFFFFF, maxpkt=0xFFFFFFFF)
    remote, _, _ = confirm(p)
    c.chan_request(remote, "subsystem", string("sftp"))
    c.expect(CHANNEL_SUCCESS)
    v = c.sftp(remote, u8(1) + u32(3))
    check(v[0] == 2, "SFTP VERSION expected")
    h = c.sftp(remote, u8(3) + u32(1) + sftp_string("/big.bin") + u32(1) + u32(0))
    check(h[0] == 102, "SFTP HANDLE expected, got %d" % h[0])
    handle = Rd(h[5:]).string()
    got = b""
    rid = 2
    while len(got) < len(data):
        r = c.sftp(remote, u8(5) + u32(rid) + string(handle) + u32(0) + u32(len(got))
                   + u32(0xFFFFFFFF), maxlen=8 << 20)
        check(r[0] == 103, "SFTP DATA expected, got %d" % r[0])
        chunk = Rd(r[5:]).string()
        check(0 < len(chunk), "empty read")
        got += chunk
        rid += 1
    check(got == data, "READ bytes differ")
    # extended data (stderr) from the client is dropped; the channel goes on
    c.send(u8(95) + u32(remote) + u32(1) + string(b"stderr junk"))
    r = c.sftp(remote, u8(4) + u32(rid) + string(handle))
    check(r[0] == 101, "SFTP STATUS for CLOSE expected")
    c.close()


# ---- mutations of valid messages, in the state where each is valid ----

def mutate(rnd, b):
    b = bytearray(b)
    op = rnd.randrange(6)
    i = rnd.randrange(1, len(b)) if len(b) > 1 else 1  # keep the message number
    if op == 0 and len(b) > 1:
        b[i] ^= 1 << rnd.randrange(8)
    elif op == 1 and len(b) > 1:
        b[i] = rnd.choice([0, 0x7F, 0x80, 0xFF])
    elif op == 2:
        del b[i:]
    elif op == 3:
        b[i:i] = rnd.choice([b"\xff\xff\xff\xff", b"\x80\x00\x00\x00", b"\x00" * 4,
                             b"\x00\x00\x01\x00"])
    elif op == 4 and len(b) > 2:
        j = rnd.randrange(i, len(b))
        b[j:j] = b[i:j][:32]  # a piece repeated
    else:
        b += bytes(rnd.randrange(1, 9))
    return bytes(b)


def templates(c, srv, state):
    user = string(USER) + string("ssh-connection")
    if state == "auth":
        sig = srv.key.sign(c.pubkey_sig_data(USER, srv.key.alg, srv.key.blob))
        return [u8(USERAUTH_REQUEST) + user + string("password") + boolean(False) + string("no"),
                u8(USERAUTH_REQUEST) + user + string("publickey") + boolean(False)
                + string(srv.ecdsa_key.alg) + string(srv.ecdsa_key.blob),
                u8(USERAUTH_REQUEST) + user + string("publickey") + boolean(True)
                + string(srv.key.alg) + string(srv.key.blob) + string(sig[:-1] + b"\0"),
                u8(USERAUTH_REQUEST) + user + string("keyboard-interactive") + string("")
                + string(""),
                u8(DEBUG) + boolean(True) + string("x") + string("en"),
                u8(UNIMPLEMENTED) + u32(3)]
    return [u8(CHANNEL_OPEN) + string("session") + u32(9) + u32(1 << 20) + u32(1 << 15),
            u8(CHANNEL_REQUEST) + u32(0) + string("subsystem") + boolean(True) + string("sftp"),
            u8(CHANNEL_REQUEST) + u32(0) + string("pty-req") + boolean(True) + string("vt100")
            + u32(80) + u32(24) + u32(0) + u32(0) + string(b"\x81\x00\x00\x96\x00"),
            u8(CHANNEL_REQUEST) + u32(0) + string("exec") + boolean(True) + string("ls"),
            u8(CHANNEL_WINDOW_ADJUST) + u32(0) + u32(1000),
            u8(CHANNEL_DATA) + u32(0) + string(u32(5) + u8(1) + u32(3)),
            u8(CHANNEL_DATA) + u32(0) + string(u32(21) + u8(3) + u32(1) + string("/x")
                                               + u32(1) + u32(0)),
            u8(95) + u32(0) + u32(1) + string(b"err"),
            u8(CHANNEL_EOF) + u32(0),
            u8(GLOBAL_REQUEST) + string("tcpip-forward") + boolean(True) + string("") + u32(0)]


KNOWN_REASONS = {R_PROTOCOL_ERROR, R_KEY_EXCHANGE_FAILED, R_SERVICE_NOT_AVAILABLE,
                 R_NO_MORE_AUTH_METHODS, R_ILLEGAL_USER_NAME}


def mutation_run(srv, state, seed, count):
    import random
    rnd = random.Random(seed)
    c = None
    done = 0
    while done < count:
        if state == "kex":  # one connection per KEXINIT or KEX_ECDH_INIT
            kex = rnd.choice(["curve25519-sha256", "ecdh-sha2-nistp256",
                              "diffie-hellman-group14-sha256"])
            c = peer(srv)
            c.version_exchange()
            first = c.kexinit_payload(kex, "ssh-ed25519", "aes128-gcm@openssh.com", "none",
                                      strict=rnd.random() < 0.5)
            if rnd.random() < 0.5:
                c.send(mutate(rnd, first))
            else:
                c.kex_start(kex=kex, payload=first)
                c.send(mutate(rnd, c.kex_init_msg(c.make_eph())))
            done += 1
            c.send(bytes([15]))  # never valid during a key exchange
            try:
                while True:
                    p = c.recv()
                    if p[0] == DISCONNECT:
                        reason, _ = parse_disconnect(p)
                        check(reason in KNOWN_REASONS, "kex mutation: reason %d" % reason)
                        break
                    check(p[0] in (KEXINIT, KEX31), "kex mutation: message %d" % p[0])
                    if p[0] == KEX31:
                        break  # answered: then NEWKEYS (with the new keys, not read)
                c.expect_eof()
            finally:
                c.close()
            continue
        if c is None:
            c = service(srv) if state == "auth" else authed(srv)
            if state == "open":
                remote, _, _ = confirm(c.open_session(local_id=0))
                check(remote == 0, "first channel id %d" % remote)
            tmpl = templates(c, srv, state)
        payload = mutate(rnd, rnd.choice(tmpl))
        done += 1
        c.send(payload)
        seq = c.send(bytes([15]))
        try:
            while True:
                p = c.recv()
                if p[0] == DISCONNECT:
                    reason, desc = parse_disconnect(p)
                    check(reason in KNOWN_REASONS, "reason %d (%s) for %r" % (reason, desc,
                                                                              payload[:60]))
                    c.expect_eof()
                    c.close()
                    c = None
                    break
                if p[0] == UNIMPLEMENTED and Rd(p[1:]).u32() == seq:
                    break
        except (Unexpected, Closed) as e:
            raise Unexpected("after %r: %s" % (payload[:80], e)) from e


@case
def mutated_messages(srv):
    """Valid KEXINIT / KEX_ECDH_INIT messages and requests of the auth and
    connection layers with one random mutation each (fixed seeds): every
    one ends in a DISCONNECT with a protocol reason or leaves the session
    answering."""
    mutation_run(srv, "kex", 4241, 60)
    mutation_run(srv, "auth", 4242, 150)
    mutation_run(srv, "open", 4243, 250)


# ---- a stricter policy: chained methods, per-source start-up limit ----

@case
def policy_server(srv):
    s3 = Ferryd(os.path.join(srv.tmp, "policy"),
                "AuthenticationMethods publickey,password\nPerSourceMaxStartups 3\n"
                "MaxAuthTries 4\nMaxSessions 2\n")
    try:
        # the chain cannot be entered at its second step, nor skip it
        c = service(s3)
        c.auth_password(USER, PASSWORD, expect_ok=False)
        p = c.auth_publickey(USER, s3.key, expect_ok=False)  # partial success
        r = Rd(p[1:])
        methods, partial = r.names(), r.bool()
        check(partial and methods == ["password"], "partial success: %r %r" % (methods, partial))
        c.auth_publickey(USER, s3.ecdsa_key, expect_ok=False)  # another key is no 2nd step
        c.send(u8(CHANNEL_OPEN) + string("session") + u32(0) + u32(1 << 16) + u32(1 << 15))
        c.expect_disconnect(R_PROTOCOL_ERROR)  # not authenticated yet
        c.close()
        c = service(s3)
        c.auth_publickey(USER, s3.key, expect_ok=False)
        c.auth_password(USER, "wrong", expect_ok=False)
        c.auth_password(USER, PASSWORD)
        confirm(c.open_session(0))
        confirm(c.open_session(1))
        check(open_failure_reason(c.open_session(2)) == 4, "MaxSessions 2 not kept")
        c.close()
        # MaxAuthTries 4
        c = service(s3)
        for i in range(3):
            c.auth_password(USER, "bad", expect_ok=False)
        c.userauth(USER, "password", boolean(False) + string("bad"))
        c.expect_disconnect(R_NO_MORE_AUTH_METHODS)
        c.close()
        # three silent connections from 127.0.0.2 take that source's quota;
        # a fourth is closed at once; 127.0.0.1 still logs in
        silent = []
        for i in range(3):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", s3.port))
            got = b""
            while len(got) < 8:
                d = s.recv(8 - len(got))
                check(d != b"", "a connection within the quota was closed")
                got += d
            check(got == b"SSH-2.0-", "a connection within the quota got %r" % got)
            silent.append(s)
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", s3.port))
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        check(got == b"", "the fourth connection from 127.0.0.2 was served: %r" % got[:20])
        s.close()
        c = service(s3)
        c.auth_publickey(USER, s3.key, expect_ok=False)
        c.auth_password(USER, PASSWORD)
        c.ping()
        c.close()
        for s in silent:
            s.close()
    finally:
        rc = s3.stop()
    check(rc == 0, "policy ferryd exit status %d" % rc)
    rep = s3.sanitizer_report()
    check(rep is None, "sanitizer report in the policy ferryd log:\n%s" % rep)


# ---- the gate: every message number in every state ----

WELL_FORMED = {
    IGNORE: u8(IGNORE) + string(b"gate"),
    UNIMPLEMENTED: u8(UNIMPLEMENTED) + u32(0),
    DEBUG: u8(DEBUG) + boolean(False) + string("gate") + string(""),
}


def gate_payload(n):
    return WELL_FORMED.get(n, bytes([n]))


def gate_expect(state, n):
    """'ok' (accepted silently), 'unimpl', 'eof' (our DISCONNECT) or the
    DISCONNECT reason the server must send, for message n with the
    payload gate_payload(n) (just the number above 4)."""
    if n == DISCONNECT:
        return "eof"
    if state in ("kex-strict", "kex", "rekey"):
        if state != "kex-strict" and n in (IGNORE, UNIMPLEMENTED, DEBUG):
            return "ok"
        return R_KEY_EXCHANGE_FAILED if n == KEX30 else R_PROTOCOL_ERROR
    if n in (IGNORE, UNIMPLEMENTED, DEBUG):
        return "ok"
    if n == 0 or 8 <= n <= 19 or (state == "auth" and (54 <= n <= 59 or 62 <= n <= 79)):
        return "unimpl"
    if state == "auth":
        if n == SERVICE_REQUEST:
            return R_SERVICE_NOT_AVAILABLE  # malformed request
        return R_PROTOCOL_ERROR
    # authenticated
    if n in (USERAUTH_REQUEST, 81, 82):
        return "ok"  # ignored after success (RFC 4252 s5.1); replies we never asked for
    if 54 <= n <= 79:
        return R_PROTOCOL_ERROR  # the auth layer is closed (test_gate.c: unimplemented())
    if 83 <= n <= 89 or n >= 101:
        return "unimpl"
    return R_PROTOCOL_ERROR


def gate_connect(srv, state):
    if state == "kex-strict":
        return pre_kex(srv, strict=True)
    if state == "kex":
        return pre_kex(srv, strict=False)
    if state == "auth":
        return after_kex(srv)
    c = authed(srv)
    if state == "rekey":  # our KEXINIT out, the server's in
        a = c.alg
        c.i_c = c.kexinit_payload(a["kex"], a["hostkey"], a["cipher"], a["mac"], strict=False)
        c.send(c.i_c)
        c.i_s = c.expect(KEXINIT)
    return c


def gate_state(srv, state):
    numbers = range(256)
    quiet = [n for n in numbers if gate_expect(state, n) in ("ok", "unimpl")]
    # every accepted message on one connection, then proof it is alive
    c = gate_connect(srv, state)
    seqs = [(n, c.send(gate_payload(n))) for n in quiet]
    if state in ("kex-strict", "kex", "rekey"):
        c.kex_finish(c.make_eph())
    for n, seq in seqs:
        if gate_expect(state, n) == "unimpl":
            try:
                c.expect_unimplemented(seq)
            except Unexpected as e:
                raise Unexpected("%s: message %d: %s" % (state, n, e)) from e
    c.ping()
    c.close()

    def one(n):
        want = gate_expect(state, n)
        c = gate_connect(srv, state)
        try:
            if want == "eof":
                c.send(u8(DISCONNECT) + u32(11) + string("bye") + string(""))
                c.expect_eof()
            else:
                c.send(gate_payload(n))
                c.expect_disconnect(want)
        except (Unexpected, Closed) as e:
            raise Unexpected("%s: message %d: %s" % (state, n, e)) from e
        finally:
            c.close()
    loud = [n for n in numbers if n not in quiet]
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        for f in [pool.submit(one, n) for n in loud]:
            f.result()


@case
def gate_first_kex_strict(srv):
    gate_state(srv, "kex-strict")


@case
def gate_first_kex(srv):
    gate_state(srv, "kex")


@case
def gate_before_auth(srv):
    gate_state(srv, "auth")


@case
def gate_after_auth(srv):
    gate_state(srv, "open")


@case
def gate_in_rekey(srv):
    gate_state(srv, "rekey")


# ---- the session that must stay untouched, and the final checks ----

class Bystander(threading.Thread):
    """A paramiko SFTP session opened before the attacks, uploading and
    downloading (bytes compared) until told to stop."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop_evt = threading.Event()
        self.rounds = 0
        self.error = None
        self.ready = threading.Event()

    def run(self):
        t = None
        try:
            t = paramiko.Transport(("127.0.0.1", self.port))
            t.connect(username=USER, password=PASSWORD)
            sftp = paramiko.SFTPClient.from_transport(t)
            self.ready.set()
            while not self.stop_evt.is_set() or self.rounds == 0:
                data = os.urandom(96 * 1024 + self.rounds)
                name = "bystander_%d.bin" % (self.rounds % 3)
                sftp.putfo(io.BytesIO(data), name)
                out = io.BytesIO()
                sftp.getfo(name, out)
                if out.getvalue() != data:
                    raise AssertionError("bystander: bytes differ in round %d" % self.rounds)
                self.rounds += 1
                self.stop_evt.wait(0.2)
            sftp.close()
        except Exception as e:  # reported by the main thread
            self.error = "".join(traceback.format_exception(e))
            self.ready.set()
        finally:
            if t is not None:
                t.close()


def final_session(port, root):
    t = paramiko.Transport(("127.0.0.1", port))
    try:
        t.connect(username=USER, password=PASSWORD)
        sftp = paramiko.SFTPClient.from_transport(t)
        data = os.urandom(1024 * 1024 + 7)
        sftp.putfo(io.BytesIO(data), "final.bin")
        out = io.BytesIO()
        sftp.getfo("final.bin", out)
        check(out.getvalue() == data, "final session: bytes differ")
        with open(os.path.join(root, "final.bin"), "rb") as f:
            check(f.read() == data, "final session: the file on disk differs")
        sftp.close()
    finally:
        t.close()


def main():
    only = sys.argv[1:]
    tmp = tempfile.mkdtemp(prefix="ferry-adv.")
    srv = Ferryd(tmp)
    ok = False
    t_start = time.time()
    try:
        by = Bystander(srv.port)
        by.start()
        check(by.ready.wait(30), "bystander session did not start")
        if by.error:
            fail("bystander session could not start:\n" + by.error, srv)
        if not only:
            slowloris_start(srv)
        failures = []
        for fn in CASES:
            if only and fn.__name__ not in only:
                continue
            if only and fn.__name__.startswith("slowloris"):
                slowloris_start(srv)
            t0 = time.time()
            try:
                fn(srv)
                print("ok - %s (%.1f s)" % (fn.__name__, time.time() - t0), flush=True)
            except Exception as e:
                failures.append(fn.__name__)
                print("FAIL - %s: %s" % (fn.__name__, "".join(traceback.format_exception(e))),
                      flush=True)
            if not srv.alive():
                fail("ferryd died during %s" % fn.__name__, srv)
        by.stop_evt.set()
        by.join(60)
        check(not by.is_alive(), "bystander session hung")
        if by.error:
            failures.append("bystander")
            print("FAIL - bystander session disturbed:\n" + by.error)
        else:
            print("ok - bystander session untouched (%d put/get rounds)" % by.rounds)
        try:
            final_session(srv.port, srv.root)
            print("ok - a fresh session still works after the attacks")
        except Exception as e:
            failures.append("final session")
            print("FAIL - final session: %s" % "".join(traceback.format_exception(e)))
        rc = srv.stop()
        if rc != 0:
            failures.append("ferryd exit status %d" % rc)
        report = srv.sanitizer_report()
        if report:
            failures.append("sanitizer")
            print("FAIL - sanitizer report in the ferryd log:\n" + report)
        print("(%.1f s)" % (time.time() - t_start))
        if failures:
            fail("%d failure(s): %s" % (len(failures), ", ".join(failures)), srv)
        ok = True
        print("ok - adversarial suite")
    finally:
        if srv.alive():
            srv.stop()
        if ok and os.environ.get("FERRY_KEEP_TMP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("(temporary files kept in %s)" % tmp, file=sys.stderr)


if __name__ == "__main__":
    main()
