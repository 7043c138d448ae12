"""pyferryd: helpers for the Python interop tests that drive ferryd at the
SSH message level (imported by test_server_timing.py and
test_server_slowreader.py; not a test itself).

  Ferryd(tmp, conf=[...], password=..., keys=[...])  a ferryd on 127.0.0.1:0
  RawClient(port)        paramiko's transport (kex, ciphers) with our own
                         handling of the authentication messages: requests
                         are built by the test, replies come back raw
  Valve                  a relay between paramiko and ferryd whose
                         server->client direction can be stopped, so ferryd
                         sees a client that no longer reads its socket
  session_children(pid)  PIDs of the session processes of a ferryd
  rss_kib(pid)           VmRSS of a process
  phase / aphase         run a test phase, report ok / not ok and go on
                         (failures in FAILURES, LOGS shown by fail())
  sha_file(path)         SHA-256 of a file

Only the ferryd started here is ever signalled, by PID.
"""
import hashlib
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

import paramiko
from paramiko.common import (MSG_SERVICE_ACCEPT, MSG_SERVICE_REQUEST,
                             MSG_USERAUTH_BANNER, MSG_USERAUTH_FAILURE, MSG_USERAUTH_PK_OK,
                             MSG_USERAUTH_REQUEST, MSG_USERAUTH_SUCCESS)

BUILD = os.environ["FERRY_BUILD"]
FERRYD = os.path.join(BUILD, "ferryd")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")


class TestFailure(Exception):
    pass


# ---- phases: tests that report each phase and go on after a failure ----

LOGS = []  # (name, path) shown on failure
FAILURES = []  # failed phases; the phases after a failure still run
ERRORS = (AssertionError, TestFailure, OSError, subprocess.SubprocessError)  # a test may add


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    for name, path in LOGS:
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                print("--- %s:\n%s" % (name, "".join(f.readlines()[-40:])), file=sys.stderr)
    sys.exit(1)


def note_failure(what, e):
    traceback.print_exc()
    print("not ok - %s: %s: %s" % (what, type(e).__name__, e))
    FAILURES.append("%s: %s: %s" % (what, type(e).__name__, e))


def phase(what, fn, *args):
    """fn's result (True for None), or None when it failed."""
    try:
        r = fn(*args)
        print("ok - " + what)
        return True if r is None else r
    except ERRORS as e:
        note_failure(what, e)
        return None


async def aphase(what, coro):
    """The coroutine's result (True for None), or None when it failed."""
    try:
        r = await coro
        print("ok - " + what)
        return True if r is None else r
    except ERRORS as e:
        note_failure(what, e)
        return None


def finish(tmp, t0):
    """End of a phased test: the time taken; with failures, FAIL (exit 1)
    keeping the temporary directory, else the directory removed."""
    print("# %.1f s" % (time.time() - t0))
    if FAILURES:
        print("(temporary files kept in %s)" % tmp, file=sys.stderr)
        fail("%d failed:\n  " % len(FAILURES) + "\n  ".join(FAILURES))
    shutil.rmtree(tmp)


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def password_hash(password):
    return subprocess.run([FERRYD, "--hash-password"], input=password + "\n",
                          capture_output=True, text=True, check=True).stdout.strip()


def new_key(tmp, name):
    """An ed25519 key made by ssh-keygen: (paramiko key, public line)."""
    path = os.path.join(tmp, name)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path],
                   check=True)
    with open(path + ".pub") as f:
        pub = f.read()
    return paramiko.Ed25519Key.from_private_key_file(path), pub


class Ferryd:
    """ferryd for user `user` (root tmp/<name>-root), with an optional
    password (or its crypt(3) hash, pwhash) and authorized public key
    lines, and configuration lines."""

    def __init__(self, tmp, name="ferryd", user="tester", password=None, keys=(), conf=(),
                 args=(), asan_extra=None, pwhash=None):
        self.log = os.path.join(tmp, name + ".log")
        self.root = os.path.join(tmp, name + "-root")
        os.makedirs(self.root, exist_ok=True)
        ak = os.path.join(tmp, name + "-authorized_keys")
        with open(ak, "w") as f:
            f.write("".join(keys))
        cfg = os.path.join(tmp, name + ".conf")
        with open(cfg, "w") as f:
            f.write("".join(line + "\n" for line in conf))
        cmd = [FERRYD, "--listen", "127.0.0.1:0", "--root", self.root, "--user", user,
               "--host-key", os.path.join(tmp, name + "-host_ed25519"), "--authorized-keys", ak,
               "--config", cfg]
        if password is not None or pwhash is not None:
            cmd += ["--password-hash", pwhash or password_hash(password)]
        cmd += list(args)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        if asan_extra:
            env["ASAN_OPTIONS"] += ":" + asan_extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"),
                                     env=env)
        self.pid = self.proc.pid
        self.port = None
        for _ in range(600):
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.log_text())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise TestFailure("ferryd did not start")

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; ferryd must exit 0 with no sanitizer report."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        check(rc == 0, "ferryd exited with status %d after SIGTERM" % rc)
        text = self.log_text()
        check(not any(m in text for m in SANITIZER_MARKS), "sanitizer report in the ferryd log")

    def kill(self):
        """For the error path only: end our ferryd whatever its state."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, n=40):
        return "".join(self.log_text().splitlines(True)[-n:])


def run_main(body, servers):
    """Runs body(); on failure prints the reason and the logs of `servers`
    (a list filled in by body) and exits 1."""
    try:
        body()
    except (TestFailure, AssertionError, paramiko.SSHException, OSError) as e:
        print("FAIL: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        for s in servers:
            print("--- %s:\n%s" % (s.log, s.tail()), file=sys.stderr)
        for s in servers:
            s.kill()
        sys.exit(1)


def session_children(pid):
    """PIDs whose parent is `pid` (ferryd forks one process per connection)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return sorted(out)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure("no VmRSS for %d" % pid)


class Valve:
    """TCP relay to 127.0.0.1:port. `sock` is the end paramiko uses.
    close() stops reading from ferryd (its socket buffers fill and it
    sees TCP backpressure); the client->server direction keeps flowing."""

    def __init__(self, port):
        self.tcp = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.tcp.settimeout(None)
        self.sock, self._inner = socket.socketpair()
        self._open = threading.Event()
        self._open.set()
        self.up_bytes = 0
        threading.Thread(target=self._pump, args=(self._inner, self.tcp, None, "up"),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.tcp, self._inner, self._open, "down"),
                         daemon=True).start()

    def _pump(self, src, dst, gate, direction):
        try:
            while True:
                if gate is not None:
                    gate.wait()
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if direction == "up":
                    self.up_bytes += len(data)
        except OSError:
            pass
        for s in (dst,):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self):
        self._open.clear()

    def shut(self):
        """Ends the connection as a client process exiting with unread data
        does: ferryd gets a reset. shutdown() first, as a pump thread may be
        blocked on the socket and would keep it open past close()."""
        try:
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for s in (self.tcp, self.sock, self._inner):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass


class _Transport(paramiko.Transport):
    """paramiko's transport that remembers the server's DISCONNECT."""

    def _parse_disconnect(self, m):
        self.disconnect_msg = (m.get_int(), m.get_text())


class _RawAuth:
    """Stands in for paramiko's AuthHandler: every authentication reply
    goes to a queue as (type, payload bytes); None when the link ends."""

    def __init__(self):
        self.q = queue.Queue()
        self.authenticated = False

    def _put(self, ptype, m):
        if ptype == MSG_USERAUTH_SUCCESS:
            self.authenticated = True
        self.q.put((ptype, m.get_remainder()))

    @property
    def _handler_table(self):
        return {t: (lambda h, m, t=t: h._put(t, m))
                for t in (MSG_SERVICE_ACCEPT, MSG_USERAUTH_SUCCESS, MSG_USERAUTH_FAILURE,
                          MSG_USERAUTH_BANNER, MSG_USERAUTH_PK_OK)}

    def is_authenticated(self):
        return self.authenticated

    def get_username(self):
        return None

    def abort(self):
        self.q.put(None)


class RawClient:
    """An SSH client connection to ferryd whose authentication requests are
    built by the caller. `sock` may be a Valve's socket."""

    def __init__(self, port, sock=None, timeout=60):
        self.t = _Transport(sock if sock is not None else ("127.0.0.1", port))
        self.t.disconnect_msg = None
        self.t.start_client(timeout=timeout)
        self.auth = _RawAuth()
        self.t.auth_handler = self.auth
        self.timeout = timeout
        m = paramiko.Message()
        m.add_byte(bytes([MSG_SERVICE_REQUEST]))
        m.add_string("ssh-userauth")
        self.t._send_user_message(m)
        r = self.reply()
        check(r is not None and r[0] == MSG_SERVICE_ACCEPT, "no SERVICE_ACCEPT: %r" % (r,))

    def reply(self):
        """The next authentication reply, None at the end of the link."""
        try:
            return self.auth.q.get(timeout=self.timeout)
        except queue.Empty:
            raise TestFailure("no authentication reply within %d s" % self.timeout)

    def _header(self, user, method):
        m = paramiko.Message()
        m.add_byte(bytes([MSG_USERAUTH_REQUEST]))
        m.add_string(user)
        m.add_string("ssh-connection")
        m.add_string(method)
        return m

    def password_request(self, user, password):
        m = self._header(user, "password")
        m.add_boolean(False)
        m.add_string(password)
        return m

    def pubkey_request(self, user, key, sign):
        """publickey with `key`: signed (RFC 4252 s7) or a query."""
        alg = key.get_name()
        blob = key.asbytes()
        m = self._header(user, "publickey")
        m.add_boolean(sign)
        m.add_string(alg)
        m.add_string(blob)
        if sign:
            d = paramiko.Message()
            d.add_string(self.t.session_id)
            d.add_byte(bytes([MSG_USERAUTH_REQUEST]))
            d.add_string(user)
            d.add_string("ssh-connection")
            d.add_string("publickey")
            d.add_boolean(True)
            d.add_string(alg)
            d.add_string(blob)
            m.add_string(key.sign_ssh_data(d.asbytes(), alg).asbytes())
        return m

    def send(self, m):
        self.t._send_user_message(m)

    def ask(self, m):
        """Sends an authentication request; returns (replies, seconds):
        banners are collected up to the final reply (None at link end)."""
        t0 = time.perf_counter()
        self.t._send_user_message(m)
        out = []
        while True:
            r = self.reply()
            if r is None or r[0] != MSG_USERAUTH_BANNER:
                break
            out.append(r)
        dt = time.perf_counter() - t0
        out.append(r)
        return out, dt

    def wait_closed(self, timeout=30):
        end = time.monotonic() + timeout
        while self.t.is_active() and time.monotonic() < end:
            time.sleep(0.02)
        return not self.t.is_active()

    def close(self):
        self.t.close()
