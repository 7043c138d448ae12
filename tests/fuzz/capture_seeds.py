#!/usr/bin/python3
"""capture_seeds.py: fuzz seeds from real traffic of real peers.

    tests/fuzz/capture_seeds.py [CORPUS_DIR]   (default: tests/fuzz/corpus)

Writes files named real-* next to the hand-made seeds:

  fuzz_sftp_request  the client-to-server SFTP stream (after INIT) of
                     OpenSSH's sftp running a batch of every command, and
                     of paramiko's SFTPClient, both against OpenSSH's
                     sftp-server over pipes (mode bytes 0x00 and 0x04)
  fuzz_sftp_reply    sftp-server's whole reply stream to those sessions
  fuzz_sftp_attrs    every ATTRS sftp-server sent (ATTRS and NAME replies)
  fuzz_kexinit       the KEXINIT payloads of OpenSSH's ssh, sshd, paramiko
                     (client and server) as received by the other role
  fuzz_session_preauth  the first flight (version line and KEXINIT) of
                     sshd (to a client) and of ssh and paramiko (to a server)

Only loopback; sshd, ssh and the temporary directory are this script's and
are ended by PID. Run by hand when the peers change; the seeds are
committed. Needs openssh-client, openssh-server, python3-paramiko.
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import paramiko

SFTP_SERVER = "/usr/lib/openssh/sftp-server"
SSHD = "/usr/sbin/sshd"
SSH_FXP_ATTRS, SSH_FXP_NAME = 105, 104


def packets(stream):
    """Splits an SFTP stream into (type, body) packets."""
    out, i = [], 0
    while i + 4 <= len(stream):
        n = struct.unpack(">I", stream[i:i + 4])[0]
        if n == 0 or i + 4 + n > len(stream):
            break
        out.append((stream[i + 4], stream[i + 5:i + 4 + n]))
        i += 4 + n
    return out


def attrs_len(b, i):
    """Length of the ATTRS at b[i:] (SFTP v3)."""
    start = i
    flags = struct.unpack(">I", b[i:i + 4])[0]
    i += 4
    if flags & 1:
        i += 8
    if flags & 2:
        i += 8
    if flags & 4:
        i += 4
    if flags & 8:
        i += 8
    if flags & 0x80000000:
        count = struct.unpack(">I", b[i:i + 4])[0]
        i += 4
        for _ in range(2 * count):
            n = struct.unpack(">I", b[i:i + 4])[0]
            i += 4 + n
    return i - start


def attrs_of(replies):
    """Every ATTRS in ATTRS and NAME replies."""
    found = []
    for typ, body in packets(replies):
        if typ == SSH_FXP_ATTRS:
            found.append(body[4:4 + attrs_len(body, 4)])
        elif typ == SSH_FXP_NAME:
            count = struct.unpack(">I", body[4:8])[0]
            i = 8
            for _ in range(count):
                for _ in range(2):  # filename, longname
                    i += 4 + struct.unpack(">I", body[i:i + 4])[0]
                n = attrs_len(body, i)
                found.append(body[i:i + n])
                i += n
    return found


def tee_server(work, tag):
    """A wrapper around sftp-server that keeps both directions."""
    path = os.path.join(work, "tee-%s.sh" % tag)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                "tee %s/%s.up | %s -e -l QUIET | tee %s/%s.down\n"
                % (work, tag, SFTP_SERVER, work, tag))
    os.chmod(path, 0o755)
    return path


def openssh_session(work):
    tree = os.path.join(work, "tree")
    os.makedirs(os.path.join(tree, "dir/sub"))
    with open(os.path.join(tree, "file"), "wb") as f:
        f.write(os.urandom(40000))
    os.symlink("file", os.path.join(tree, "link"))
    local = os.path.join(work, "local")
    os.makedirs(local)
    with open(os.path.join(local, "up"), "wb") as f:
        f.write(os.urandom(9000))
    batch = """cd {t}
pwd
ls -la
ls -n dir
get file {l}/got
put {l}/up up
-reput {l}/up up
-reget file {l}/got
chmod 600 up
chown 0 up
chgrp 0 up
ln -s file soft
ln file hard
rename up moved
mkdir newdir
rmdir newdir
df -h .
-rm nothing
rm moved
ls -l link
lls
version
""".format(t=tree, l=local)
    with open(os.path.join(work, "batch"), "w") as f:
        f.write(batch)
    subprocess.run(["sftp", "-q", "-D", tee_server(work, "openssh"), "-b",
                    os.path.join(work, "batch")], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)
    return read(work, "openssh")


class PipeSock:
    """paramiko's SFTPClient over a child's pipes."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()
        return len(data)

    def recv(self, n):
        return self.p.stdout.read1(n)

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)

    def settimeout(self, t):
        pass

    def get_name(self):
        return "sftp-server"


def paramiko_session(work):
    tree = os.path.join(work, "tree")
    sock = PipeSock([tee_server(work, "paramiko")])
    sf = paramiko.SFTPClient(sock)
    sf.chdir(tree)
    sf.listdir_attr(".")
    sf.stat("file")
    sf.lstat("link")
    sf.readlink("link")
    with sf.open("pfile", "w") as f:
        f.write(b"x" * 9000)
    with sf.open("pfile", "r") as f:
        f.prefetch()
        f.read()
    sf.truncate("pfile", 10)
    sf.utime("pfile", (1000000000, 1000000000))
    sf.rename("pfile", "pfile2")
    sf.posix_rename("pfile2", "pfile3")
    sf.mkdir("pdir")
    sf.rmdir("pdir")
    sf.symlink("file", "plink")
    sf.remove("plink")
    sf.normalize(".")
    sf.close()
    sock.close()
    return read(work, "paramiko")


def read(work, tag):
    with open(os.path.join(work, tag + ".up"), "rb") as f:
        up = f.read()
    with open(os.path.join(work, tag + ".down"), "rb") as f:
        down = f.read()
    init = struct.unpack(">I", up[:4])[0] + 4
    return up[init:], down


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def first_flight(sock):
    """Version line and first binary packet (plaintext KEXINIT) read from
    sock; returns (raw bytes, KEXINIT payload)."""
    raw = b""
    sock.settimeout(10)
    while not any(l.startswith(b"SSH-") for l in raw.split(b"\n")[:-1]):
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("peer closed before its version line")
        raw += chunk
    head = raw.index(b"SSH-")
    rest_at = raw.index(b"\n", head) + 1
    while len(raw) < rest_at + 5 or len(raw) < rest_at + 4 + struct.unpack(
            ">I", raw[rest_at:rest_at + 4])[0]:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("peer closed before its KEXINIT")
        raw += chunk
    n = struct.unpack(">I", raw[rest_at:rest_at + 4])[0]
    pad = raw[rest_at + 4]
    payload = raw[rest_at + 5:rest_at + 4 + n - pad]
    assert payload[0] == 20, "first packet is not KEXINIT"
    return raw[:rest_at + 4 + n], payload[1:]


def sshd_flight(work):
    port = free_port()
    key = os.path.join(work, "host")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    conf = os.path.join(work, "sshd_config")
    with open(conf, "w") as f:
        f.write("ListenAddress 127.0.0.1\nPort %d\nHostKey %s\nPidFile none\nUsePAM no\n"
                % (port, key))
    os.makedirs("/run/sshd", exist_ok=True)
    p = subprocess.Popen([SSHD, "-D", "-e", "-f", conf], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                s = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        s.sendall(b"SSH-2.0-capture\r\n")
        raw, kexinit = first_flight(s)
        s.close()
    finally:
        p.terminate()
        p.wait(timeout=10)
    return raw, kexinit


def client_flight(argv_of_port):
    """Listens on loopback, starts a client at it, returns its first flight."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]
    p = argv_of_port(port)
    ls.settimeout(10)
    c, _ = ls.accept()
    c.sendall(b"SSH-2.0-OpenSSH_9.2p1 capture\r\n")
    raw, kexinit = first_flight(c)
    c.close()
    ls.close()
    p()
    return raw, kexinit


def ssh_client(port):
    p = subprocess.Popen(["ssh", "-F", "none", "-o", "BatchMode=yes", "-o",
                          "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                          "-p", str(port), "127.0.0.1", "true"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def end():
        p.terminate()
        p.wait(timeout=10)
    return end


def paramiko_client(port):
    def run():
        try:
            t = paramiko.Transport(("127.0.0.1", port))
            t.start_client(timeout=5)
        except Exception:
            pass
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return lambda: th.join(timeout=10)


def paramiko_server_flight(work):
    key = paramiko.Ed25519Key.from_private_key_file(os.path.join(work, "host"))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]

    def serve():
        c, _ = ls.accept()
        t = paramiko.Transport(c)
        t.add_server_key(key)
        try:
            t.start_server(server=paramiko.ServerInterface())
        except Exception:
            pass
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"SSH-2.0-capture\r\n")
    raw, kexinit = first_flight(s)
    s.close()
    th.join(timeout=10)
    ls.close()
    return raw, kexinit


def write(corpus, harness, name, data):
    d = os.path.join(corpus, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "real-" + name), "wb") as f:
        f.write(data)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    work = tempfile.mkdtemp(prefix="ferry-capture-")
    try:
        for tag, (up, down) in (("openssh-sftp", openssh_session(work)),
                                ("paramiko", paramiko_session(work))):
            write(corpus, "fuzz_sftp_request", tag, b"\x00" + up)
            write(corpus, "fuzz_sftp_request", tag + "-atomic", b"\x04" + up)
            write(corpus, "fuzz_sftp_reply", "sftp-server-to-" + tag, down)
            seen = set()
            for a in attrs_of(down):
                if a not in seen:
                    seen.add(a)
                    write(corpus, "fuzz_sftp_attrs", "sftp-server-%s-%d" % (tag, len(seen)), a)
        raw, kex = sshd_flight(work)
        write(corpus, "fuzz_session_preauth", "to-client-sshd", b"\x00" + raw)
        write(corpus, "fuzz_kexinit", "from-sshd", b"\x00" + kex)
        write(corpus, "fuzz_kexinit", "from-sshd-start", b"\x02" + kex)
        for tag, client in (("ssh", ssh_client), ("paramiko", paramiko_client)):
            raw, kex = client_flight(client)
            write(corpus, "fuzz_session_preauth", "to-server-" + tag, b"\x01" + raw)
            write(corpus, "fuzz_kexinit", "from-" + tag, b"\x01" + kex)
            write(corpus, "fuzz_kexinit", "from-%s-start" % tag, b"\x03" + kex)
        raw, kex = paramiko_server_flight(work)
        write(corpus, "fuzz_session_preauth", "to-client-paramiko", b"\x00" + raw)
        write(corpus, "fuzz_kexinit", "from-paramiko-server", b"\x00" + kex)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
