"""A minimal, scriptable SSH-2 client for adversarial tests against ferryd.

Written from the RFCs (4251-4254, 5647, 5656, 8731, 3526 via 8268) and
OpenSSH's PROTOCOL / PROTOCOL.chacha20poly1305 for the @openssh.com
algorithms, with python3's stdlib and the `cryptography` package. Every
step is exposed so a test can send crafted bytes at any point:

    c = Peer(port)                      # TCP connect (socket timeouts)
    c.handshake(kex="curve25519-sha256", cipher="aes128-ctr", mac="hmac-sha2-256")
    c.auth_password("tester", "pw")     # or auth_publickey(user, key)
    c.send(bytes([200]))                # any payload, encrypted with the current keys
    c.expect_disconnect(2)              # DISCONNECT with that reason, then EOF

It is test code: it checks what it needs (the host key signature, the
MACs of what it receives) and nothing more.
"""
import hashlib
import hmac
import os
import socket
import struct
import time

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.poly1305 import Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# RFC 4250 s4.1 message numbers
DISCONNECT, IGNORE, UNIMPLEMENTED, DEBUG = 1, 2, 3, 4
SERVICE_REQUEST, SERVICE_ACCEPT, EXT_INFO = 5, 6, 7
KEXINIT, NEWKEYS, KEX30, KEX31 = 20, 21, 30, 31
USERAUTH_REQUEST, USERAUTH_FAILURE, USERAUTH_SUCCESS, USERAUTH_BANNER = 50, 51, 52, 53
USERAUTH_PK_OK = 60
GLOBAL_REQUEST, REQUEST_SUCCESS, REQUEST_FAILURE = 80, 81, 82
CHANNEL_OPEN, CHANNEL_OPEN_CONFIRMATION, CHANNEL_OPEN_FAILURE = 90, 91, 92
CHANNEL_WINDOW_ADJUST, CHANNEL_DATA, CHANNEL_EXTENDED_DATA = 93, 94, 95
CHANNEL_EOF, CHANNEL_CLOSE, CHANNEL_REQUEST = 96, 97, 98
CHANNEL_SUCCESS, CHANNEL_FAILURE = 99, 100

# RFC 4253 s11.1 reason codes
R_PROTOCOL_ERROR = 2
R_KEY_EXCHANGE_FAILED = 3
R_MAC_ERROR = 5
R_SERVICE_NOT_AVAILABLE = 7
R_PROTOCOL_VERSION_NOT_SUPPORTED = 8
R_BY_APPLICATION = 11
R_NO_MORE_AUTH_METHODS = 14
R_ILLEGAL_USER_NAME = 15

# RFC 3526 s3: the 2048-bit MODP group (group 14), generator 2
GROUP14_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)

KEX_HASH = {
    "curve25519-sha256": hashlib.sha256,
    "curve25519-sha256@libssh.org": hashlib.sha256,
    "ecdh-sha2-nistp256": hashlib.sha256,
    "diffie-hellman-group14-sha256": hashlib.sha256,
    "diffie-hellman-group-exchange-sha256": hashlib.sha256,
}
GEX = "diffie-hellman-group-exchange-sha256"
# name: (key length, iv length, block size, kind)
CIPHERS = {
    "aes128-ctr": (16, 16, 16, "ctr"),
    "aes192-ctr": (24, 16, 16, "ctr"),
    "aes256-ctr": (32, 16, 16, "ctr"),
    "aes128-gcm@openssh.com": (16, 12, 16, "gcm"),
    "aes256-gcm@openssh.com": (32, 12, 16, "gcm"),
    "chacha20-poly1305@openssh.com": (64, 0, 8, "chacha"),
}
# name: (hash, key length, encrypt-then-mac)
MACS = {
    "hmac-sha2-256": (hashlib.sha256, 32, False),
    "hmac-sha2-512": (hashlib.sha512, 64, False),
    "hmac-sha2-256-etm@openssh.com": (hashlib.sha256, 32, True),
    "hmac-sha2-512-etm@openssh.com": (hashlib.sha512, 64, True),
}
STRICT_C = "kex-strict-c-v00@openssh.com"
STRICT_S = "kex-strict-s-v00@openssh.com"


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class Unexpected(AssertionError):
    pass


# ---- wire encoding (RFC 4251 s5) ----

def u8(n):
    return bytes([n])


def u32(n):
    return struct.pack(">I", n & 0xFFFFFFFF)


def string(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def boolean(v):
    return b"\x01" if v else b"\x00"


def mpint(n):
    if n == 0:
        return u32(0)
    if n < 0:
        raise ValueError("negative mpint")
    return string(n.to_bytes(n.bit_length() // 8 + 1, "big"))


def namelist(names):
    return string(",".join(names) if not isinstance(names, str) else names)


class Rd:
    def __init__(self, b):
        self.b = b
        self.i = 0

    def take(self, n):
        if self.i + n > len(self.b):
            raise Unexpected("short message %r" % self.b[:64])
        v = self.b[self.i:self.i + n]
        self.i += n
        return v

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def bool(self):
        return self.u8() != 0

    def string(self):
        return self.take(self.u32())

    def mpint(self):
        return int.from_bytes(self.string(), "big", signed=True)

    def names(self):
        s = self.string().decode()
        return s.split(",") if s else []

    def rest(self):
        return self.take(len(self.b) - self.i)


# ---- packet protection (RFC 4253 s6, RFC 5647, OpenSSH PROTOCOL) ----

class Plain:
    block = 8
    tag = 0
    aad = False

    def seal(self, seq, pkt):
        return pkt

    def open_len(self, seq, first):
        return struct.unpack(">I", first[:4])[0]

    first_len = 4

    def open(self, seq, data):  # data = the whole packet plus tag
        return data


class CtrHmac:
    """aes-ctr with hmac-sha2 (plain or -etm@openssh.com)."""

    def __init__(self, key, iv, mackey, macname):
        self.c = Cipher(algorithms.AES(key), modes.CTR(iv))
        self.enc = self.c.encryptor()
        self.dec = self.c.decryptor()
        self.h, _, self.etm = MACS[macname]
        self.mackey = mackey
        self.tag = self.h().digest_size
        self.block = 16
        self.aad = self.etm
        self.first_len = 4 if self.etm else 16
        self.first_plain = None

    def mac(self, seq, data):
        return hmac.new(self.mackey, u32(seq) + data, self.h).digest()

    def seal(self, seq, pkt):
        if self.etm:
            body = pkt[:4] + self.enc.update(pkt[4:])
            return body + self.mac(seq, body)
        return self.enc.update(pkt) + self.mac(seq, pkt)

    def open_len(self, seq, first):
        if self.etm:
            return struct.unpack(">I", first[:4])[0]
        self.first_plain = self.dec.update(first[:16])
        return struct.unpack(">I", self.first_plain[:4])[0]

    def open(self, seq, data):
        body, tag = data[:-self.tag], data[-self.tag:]
        if self.etm:
            if not hmac.compare_digest(self.mac(seq, body), tag):
                raise Unexpected("bad MAC from the server")
            return body[:4] + self.dec.update(body[4:])
        plain = self.first_plain + self.dec.update(body[16:])
        if not hmac.compare_digest(self.mac(seq, plain), tag):
            raise Unexpected("bad MAC from the server")
        return plain


class Gcm:
    """aes-gcm@openssh.com (RFC 5647 as OpenSSH uses it)."""
    block = 16
    tag = 16
    aad = True
    first_len = 4

    def __init__(self, key, iv):
        self.g = AESGCM(key)
        self.fixed = iv[:4]
        self.ctr = int.from_bytes(iv[4:12], "big")

    def nonce(self):
        n = self.fixed + self.ctr.to_bytes(8, "big")
        self.ctr = (self.ctr + 1) % (1 << 64)
        return n

    def seal(self, seq, pkt):
        return pkt[:4] + self.g.encrypt(self.nonce(), pkt[4:], pkt[:4])

    def open_len(self, seq, first):
        return struct.unpack(">I", first[:4])[0]

    def open(self, seq, data):
        try:
            return data[:4] + self.g.decrypt(self.nonce(), data[4:], data[:4])
        except Exception as e:
            raise Unexpected("bad GCM tag from the server") from e


class ChaCha:
    """chacha20-poly1305@openssh.com (PROTOCOL.chacha20poly1305)."""
    block = 8
    tag = 16
    aad = True
    first_len = 4

    def __init__(self, key):
        self.k2, self.k1 = key[:32], key[32:64]

    @staticmethod
    def stream(key, seq, ctr, data):
        nonce = ctr.to_bytes(8, "little") + seq.to_bytes(8, "big")
        return Cipher(algorithms.ChaCha20(key, nonce), None).encryptor().update(data)

    def polykey(self, seq):
        return self.stream(self.k2, seq, 0, bytes(32))

    def seal(self, seq, pkt):
        body = self.stream(self.k1, seq, 0, pkt[:4]) + self.stream(self.k2, seq, 1, pkt[4:])
        return body + Poly1305.generate_tag(self.polykey(seq), body)

    def open_len(self, seq, first):
        return struct.unpack(">I", self.stream(self.k1, seq, 0, first[:4]))[0]

    def open(self, seq, data):
        body, tag = data[:-16], data[-16:]
        try:
            Poly1305.verify_tag(self.polykey(seq), body, tag)
        except Exception as e:
            raise Unexpected("bad Poly1305 tag from the server") from e
        return self.stream(self.k1, seq, 0, body[:4]) + self.stream(self.k2, seq, 1, body[4:])


def make_protection(cipher, mac, key, iv, mackey):
    kind = CIPHERS[cipher][3]
    if kind == "ctr":
        return CtrHmac(key, iv, mackey, mac)
    if kind == "gcm":
        return Gcm(key, iv)
    return ChaCha(key)


# ---- user keys ----

class Ed25519Key:
    alg = "ssh-ed25519"

    def __init__(self):
        self.priv = ed25519.Ed25519PrivateKey.generate()
        raw = self.priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.blob = string(self.alg) + string(raw)

    def sign(self, data):
        return string(self.alg) + string(self.priv.sign(data))

    def authorized_line(self):
        import base64
        return "%s %s adversarial\n" % (self.alg, base64.b64encode(self.blob).decode())


class EcdsaP256Key(Ed25519Key):
    alg = "ecdsa-sha2-nistp256"

    def __init__(self):
        self.priv = ec.generate_private_key(ec.SECP256R1())
        q = self.priv.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        self.blob = string(self.alg) + string("nistp256") + string(q)

    def sign_rs(self, data):
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        from cryptography.hazmat.primitives.hashes import SHA256
        return decode_dss_signature(self.priv.sign(data, ec.ECDSA(SHA256())))

    def sign(self, data):
        r, s = self.sign_rs(data)
        return string(self.alg) + string(mpint(r) + mpint(s))


class RsaKey(Ed25519Key):
    alg = "rsa-sha2-256"  # the signature algorithm; the key type is ssh-rsa

    def __init__(self):
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pn = self.priv.public_key().public_numbers()
        self.blob = string("ssh-rsa") + mpint(pn.e) + mpint(pn.n)

    def sign(self, data):
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.hazmat.primitives.hashes import SHA256
        return string(self.alg) + string(self.priv.sign(data, padding.PKCS1v15(), SHA256()))

    def authorized_line(self):
        import base64
        return "ssh-rsa %s adversarial\n" % base64.b64encode(self.blob).decode()


def parse_disconnect(payload):
    r = Rd(payload[1:])
    reason = r.u32()
    desc = r.string().decode(errors="replace")
    return reason, desc


# ---- the peer ----

class Peer:
    VERSION = b"SSH-2.0-FerryAdversary_1.0"

    def __init__(self, port, timeout=6.0, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.rbuf = b""
        self.seq_tx = 0
        self.seq_rx = 0
        self.tx = Plain()
        self.rx = Plain()
        self.session_id = None
        self.server_version = None
        self.strict = False
        self.server_kexinit = None
        self.last_disconnect = None
        self.corked = None
        self.dribble = False  # one byte per write (TCP_NODELAY)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- raw bytes --

    def send_raw(self, b):
        if self.corked is not None:
            self.corked.append(b)
        elif self.dribble:
            for i in range(len(b)):
                self.sock.sendall(b[i:i + 1])
                time.sleep(0.0002)
        else:
            self.sock.sendall(b)

    def cork(self):
        """Collects what is sent until uncork(), which writes it at once."""
        self.corked = []

    def uncork(self):
        data, self.corked = b"".join(self.corked), None
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.rbuf) < n:
            try:
                d = self.sock.recv(65536)
            except ConnectionResetError as e:
                raise Closed("connection reset") from e
            except socket.timeout as e:
                raise Unexpected("no answer within %.1fs (hang?)" % self.timeout) from e
            if not d:
                raise Closed("EOF")
            self.rbuf += d

    def _take(self, n):
        self._fill(n)
        v, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return v

    def read_line(self):
        while b"\n" not in self.rbuf:
            self._fill(len(self.rbuf) + 1)
        i = self.rbuf.index(b"\n")
        line, self.rbuf = self.rbuf[:i + 1], self.rbuf[i + 1:]
        return line.rstrip(b"\r\n")

    def version_exchange(self, ours=None):
        self.our_version = ours if ours is not None else self.VERSION
        self.send_raw(self.our_version + b"\r\n")
        return self.read_server_version()

    def read_server_version(self):
        while True:
            line = self.read_line()
            if line.startswith(b"SSH-"):
                self.server_version = line
                return line

    def expect_eof(self, within=None):
        """The server closes the connection (any bytes before are dropped)."""
        deadline = time.time() + (within or self.timeout)
        while time.time() < deadline:
            try:
                self.sock.settimeout(max(0.05, deadline - time.time()))
                d = self.sock.recv(65536)
            except ConnectionResetError:
                return
            except socket.timeout:
                break
            if not d:
                return
        raise Unexpected("the server did not close the connection in time")

    # -- packets --

    @staticmethod
    def packet(payload, block, aad, pad_field=None, length=None, extra_pad=0):
        """RFC 4253 s6 framing; pad_field / length override the two header
        fields (the padding itself stays aligned)."""
        base = 1 + len(payload) + (0 if aad else 4)
        padlen = block - base % block
        if padlen < 4:
            padlen += block
        padlen += extra_pad
        plen = 1 + len(payload) + padlen if length is None else length
        field = padlen if pad_field is None else pad_field
        return u32(plen) + u8(field) + payload + os.urandom(padlen)

    def send(self, payload, pad_field=None, length=None, mangle=None, extra_pad=0):
        """One packet with the current keys. `mangle(wire) -> wire` may
        corrupt the protected bytes."""
        pkt = self.packet(payload, max(self.tx.block, 8), self.tx.aad, pad_field=pad_field,
                          length=length, extra_pad=extra_pad)
        wire = self.tx.seal(self.seq_tx, pkt)
        if mangle is not None:
            wire = mangle(wire)
        self.seq_tx = (self.seq_tx + 1) & 0xFFFFFFFF
        self.send_raw(wire)
        return (self.seq_tx - 1) & 0xFFFFFFFF

    def recv(self):
        """The next packet's payload (any message, IGNORE included)."""
        first = self._take(self.rx.first_len)
        plen = self.rx.open_len(self.seq_rx, first)
        if plen > 256 * 1024 + 64:
            raise Unexpected("server packet length %d" % plen)
        rest = self._take(4 + plen - len(first) + self.rx.tag)
        pkt = self.rx.open(self.seq_rx, first + rest)
        self.seq_rx = (self.seq_rx + 1) & 0xFFFFFFFF
        padlen = pkt[4]
        payload = pkt[5:4 + plen - padlen]
        if not payload:
            raise Unexpected("empty payload from the server")
        return payload

    def recv_msg(self, skip=(IGNORE, DEBUG, EXT_INFO)):
        while True:
            p = self.recv()
            if p[0] not in skip:
                return p

    def expect(self, msg, what=""):
        try:
            p = self.recv_msg()
        except Closed as e:
            raise Unexpected("expected message %d %s, connection closed" % (msg, what)) from e
        if p[0] == DISCONNECT:
            self.last_disconnect = parse_disconnect(p)
        if p[0] != msg:
            raise Unexpected("expected message %d %s, got %d %r" % (msg, what, p[0], p[:80]))
        return p

    def expect_disconnect(self, reason, within=None, skip=(IGNORE, DEBUG, EXT_INFO)):
        """DISCONNECT with `reason` (anything before it but the messages in
        `skip` is an error), then EOF."""
        try:
            p = self.recv_msg(skip)
        except Closed as e:
            raise Unexpected("expected DISCONNECT %d, connection closed without it" % reason) from e
        if p[0] != DISCONNECT:
            raise Unexpected("expected DISCONNECT %d, got message %d %r" % (reason, p[0], p[:60]))
        got, desc = parse_disconnect(p)
        self.last_disconnect = (got, desc)
        if got != reason:
            raise Unexpected("DISCONNECT reason %d (%s), expected %d" % (got, desc, reason))
        self.expect_eof(within)
        return desc

    def expect_unimplemented(self, seq):
        p = self.expect(UNIMPLEMENTED)
        got = Rd(p[1:]).u32()
        if got != seq:
            raise Unexpected("UNIMPLEMENTED for seq %d, expected %d" % (got, seq))

    def ping(self, skip=(IGNORE, DEBUG, EXT_INFO)):
        """Proves the session is alive after keys are in place: message 15
        (reserved for the transport, never assigned) must come back
        UNIMPLEMENTED in every state. `skip`: messages that may come first."""
        seq = self.send(bytes([15]))
        while True:
            p = self.expect(UNIMPLEMENTED) if skip == (IGNORE, DEBUG, EXT_INFO) else \
                self.recv_msg(skip)
            if p[0] == UNIMPLEMENTED:
                break
            if p[0] == DISCONNECT:
                self.last_disconnect = parse_disconnect(p)
            raise Unexpected("ping: got message %d %r" % (p[0], p[:60]))
        got = Rd(p[1:]).u32()
        if got != seq:
            raise Unexpected("UNIMPLEMENTED for seq %d, expected %d" % (got, seq))

    # -- key exchange --

    def kexinit_payload(self, kex, hostkey, cipher, mac, strict=True, follows=False,
                        kex_list=None, cookie=None):
        kexes = kex_list if kex_list is not None else [kex] + ([STRICT_C] if strict else [])
        return (u8(KEXINIT) + (cookie or os.urandom(16)) + namelist(kexes) + namelist([hostkey])
                + namelist([cipher]) * 2 + namelist([mac]) * 2 + namelist(["none"]) * 2
                + namelist([]) * 2 + boolean(follows) + u32(0))

    def kex_start(self, kex="curve25519-sha256", hostkey="ssh-ed25519", cipher="aes128-ctr",
                  mac="hmac-sha2-256", strict=True, payload=None):
        """Version exchange, our KEXINIT, the server's KEXINIT."""
        if self.server_version is None:
            self.version_exchange()
        self.alg = dict(kex=kex, hostkey=hostkey, cipher=cipher, mac=mac)
        self.i_c = payload or self.kexinit_payload(kex, hostkey, cipher, mac, strict)
        self.send(self.i_c)
        self.i_s = self.expect(KEXINIT, "(server KEXINIT)")
        r = Rd(self.i_s[17:])
        lists = [r.names() for _ in range(10)]
        self.server_kexinit = lists
        if self.session_id is None:
            self.strict = strict and STRICT_S in lists[0]
        return lists

    def make_eph(self, kex=None):
        kex = kex or self.alg["kex"]
        if kex.startswith("curve25519"):
            self.eph = x25519.X25519PrivateKey.generate()
            return self.eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        if kex == "ecdh-sha2-nistp256":
            self.eph = ec.generate_private_key(ec.SECP256R1())
            return self.eph.public_key().public_bytes(Encoding.X962,
                                                      PublicFormat.UncompressedPoint)
        self.eph = int.from_bytes(os.urandom(32), "big") | 1
        if kex == GEX:
            return pow(self.gex_g, self.eph, self.gex_p)
        return pow(2, self.eph, GROUP14_P)

    def shared(self, peer):
        kex = self.alg["kex"]
        if kex.startswith("curve25519"):
            k = self.eph.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
            return int.from_bytes(k, "big")
        if kex == "ecdh-sha2-nistp256":
            pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer)
            return int.from_bytes(self.eph.exchange(ec.ECDH(), pub), "big")
        return pow(peer, self.eph, self.gex_p if kex == GEX else GROUP14_P)

    def kex_init_msg(self, value):
        """KEX_30 with our public value (bytes for ECDH/X25519, int for DH);
        GEX: KEX_DH_GEX_INIT (32)."""
        if isinstance(value, int):
            return u8(32 if self.alg["kex"] == GEX else KEX30) + mpint(value)
        return u8(KEX30) + string(value)

    def kex_finish(self, q_c, send_init=True, send_newkeys=True):
        """Sends KEX_30 (unless already sent), checks the reply and its
        signature, NEWKEYS both ways (ours unless send_newkeys is false;
        then only the receiving side switches keys)."""
        if send_init:
            self.send(self.kex_init_msg(q_c))
        gex = self.alg["kex"] == GEX
        rep = Rd(self.expect(33 if gex else KEX31, "(kex reply)")[1:])
        k_s = rep.string()
        dh = isinstance(q_c, int)
        q_s = rep.mpint() if dh else rep.string()
        sig = rep.string()
        k = self.shared(q_s)
        h = KEX_HASH[self.alg["kex"]]
        enc = (string(self.our_version) + string(self.server_version) + string(self.i_c)
               + string(self.i_s) + string(k_s))
        if gex:  # RFC 4419 s3
            enc += u32(self.gex_req[0]) + u32(self.gex_req[1]) + u32(self.gex_req[2])
            enc += mpint(self.gex_p) + mpint(self.gex_g)
        enc += (mpint(q_c) + mpint(q_s)) if dh else (string(q_c) + string(q_s))
        enc += mpint(k)
        hh = h(enc).digest()
        self.verify_hostkey(k_s, sig, hh)
        if self.session_id is None:
            self.session_id = hh
        if send_newkeys:
            self.send(u8(NEWKEYS))
        self.expect(NEWKEYS)
        self.install_keys(k, hh, h, tx=send_newkeys)

    def verify_hostkey(self, k_s, sig, hh):
        kr, sr = Rd(k_s), Rd(sig)
        alg = kr.string()
        if alg != b"ssh-ed25519" or sr.string() != b"ssh-ed25519":
            raise Unexpected("host key type %r" % alg)
        ed25519.Ed25519PublicKey.from_public_bytes(kr.string()).verify(sr.string(), hh)
        self.hostkey_blob = k_s

    def install_keys(self, k, hh, h, tx=True):
        cipher, mac = self.alg["cipher"], self.alg["mac"]
        klen, ivlen, _, kind = CIPHERS[cipher]
        mlen = MACS[mac][1] if kind == "ctr" else 0

        def derive(letter, n):
            out = h(mpint(k) + hh + letter + self.session_id).digest()
            while len(out) < n:
                out += h(mpint(k) + hh + out).digest()
            return out[:n]
        if tx:
            self.tx = make_protection(cipher, mac, derive(b"C", klen), derive(b"A", ivlen),
                                      derive(b"E", mlen))
        self.rx = make_protection(cipher, mac, derive(b"D", klen), derive(b"B", ivlen),
                                  derive(b"F", mlen))
        if self.strict:  # strict kex: sequence numbers restart after each NEWKEYS
            self.seq_tx = 0 if tx else self.seq_tx
            self.seq_rx = 0

    def handshake(self, kex="curve25519-sha256", cipher="aes128-ctr", mac="hmac-sha2-256",
                  strict=True):
        self.kex_start(kex=kex, cipher=cipher, mac=mac, strict=strict)
        if kex == GEX:
            self.gex_group()
        self.kex_finish(self.make_eph())
        return self

    def gex_group(self, lo=2048, n=3072, hi=8192):
        """RFC 4419: KEX_DH_GEX_REQUEST (34), the GROUP (31) back."""
        self.gex_req = (lo, n, hi)
        self.send(u8(34) + u32(lo) + u32(n) + u32(hi))
        r = Rd(self.expect(KEX31, "(GEX group)")[1:])
        self.gex_p, self.gex_g = r.mpint(), r.mpint()
        if not lo <= self.gex_p.bit_length() <= hi or self.gex_g < 2:
            raise Unexpected("GEX group of %d bits, g %d" % (self.gex_p.bit_length(), self.gex_g))

    def rekey(self, **alg):
        """A key re-exchange we start, with the algorithms of the first
        unless given (kex=, cipher=, mac=)."""
        self.alg = a = dict(self.alg, **alg)
        self.i_c = self.kexinit_payload(a["kex"], a["hostkey"], a["cipher"], a["mac"],
                                        strict=False)
        self.send(self.i_c)
        self.i_s = self.expect(KEXINIT, "(rekey)")
        if a["kex"] == GEX:
            self.gex_group()
        self.kex_finish(self.make_eph())

    # -- user authentication --

    def service_userauth(self):
        self.send(u8(SERVICE_REQUEST) + string("ssh-userauth"))
        self.expect(SERVICE_ACCEPT)

    def userauth(self, user, method, rest):
        return self.send(u8(USERAUTH_REQUEST) + string(user) + string("ssh-connection")
                         + string(method) + rest)

    def auth_password(self, user, password, expect_ok=True):
        self.userauth(user, "password", boolean(False) + string(password))
        return self.expect(USERAUTH_SUCCESS if expect_ok else USERAUTH_FAILURE)

    def pubkey_sig_data(self, user, key_alg, blob):
        return (string(self.session_id) + u8(USERAUTH_REQUEST) + string(user)
                + string("ssh-connection") + string("publickey") + boolean(True)
                + string(key_alg) + string(blob))

    def auth_publickey(self, user, key, signer=None, blob=None, expect_ok=True):
        blob = blob if blob is not None else key.blob
        sig = (signer or key).sign(self.pubkey_sig_data(user, key.alg, blob))
        self.userauth(user, "publickey", boolean(True) + string(key.alg) + string(blob)
                      + string(sig))
        return self.expect(USERAUTH_SUCCESS if expect_ok else USERAUTH_FAILURE)

    def login(self, user, password, **kw):
        self.handshake(**kw)
        self.service_userauth()
        self.auth_password(user, password)
        return self

    # -- channels --

    def open_session(self, local_id=0, window=1 << 20, maxpkt=32768, ctype="session"):
        self.send(u8(CHANNEL_OPEN) + string(ctype) + u32(local_id) + u32(window) + u32(maxpkt))
        return self.recv_msg()

    def open_sftp(self, local_id=0):
        p = self.open_session(local_id)
        if p[0] != CHANNEL_OPEN_CONFIRMATION:
            raise Unexpected("channel open: got %d" % p[0])
        r = Rd(p[1:])
        r.u32()
        remote = r.u32()
        self.chan_request(remote, "subsystem", string("sftp"))
        self.expect(CHANNEL_SUCCESS, "(subsystem sftp)")
        return remote

    def chan_request(self, remote, rtype, rest=b"", want_reply=True):
        return self.send(u8(CHANNEL_REQUEST) + u32(remote) + string(rtype) + boolean(want_reply)
                         + rest)

    def sftp(self, remote, body, maxlen=1 << 20):
        """One SFTP request (type and fields in body) in CHANNEL_DATA; returns
        the reply packet (type first) gathered from CHANNEL_DATA messages."""
        self.send(u8(CHANNEL_DATA) + u32(remote) + string(u32(len(body)) + body))
        got = b""
        while len(got) < 4 or len(got) < 4 + int.from_bytes(got[:4], "big"):
            p = self.expect(CHANNEL_DATA, "(SFTP reply)")
            got += p[9:]
            if len(got) > maxlen + 4096:
                raise Unexpected("SFTP reply over %d bytes" % maxlen)
        n = int.from_bytes(got[:4], "big")
        if len(got) != 4 + n:
            raise Unexpected("more than one SFTP reply")
        return got[4:]

    def sftp_init(self, remote):
        """SSH_FXP_INIT version 3 in CHANNEL_DATA; waits for the VERSION."""
        pkt = u32(5) + u8(1) + u32(3)
        self.send(u8(CHANNEL_DATA) + u32(remote) + string(pkt))
        p = self.expect(CHANNEL_DATA, "(sftp VERSION)")
        data = Rd(p[1:])
        data.u32()
        body = data.string()
        if body[4] != 2:
            raise Unexpected("SFTP reply type %d, expected VERSION" % body[4])
