#!/usr/bin/python3
"""paramiko's SFTPClient against ferryd: every client and file method,
with an ed25519 key and with a password; bytes compared.

Run by CTest with FERRY_BUILD and FERRY_SRC set. Uses its own temporary
directory and a kernel-chosen loopback port; signals only the ferryd it
started. Fails (never skips) when paramiko is missing."""
import hashlib
import io
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import paramiko
from cryptography.hazmat.primitives import poly1305

BUILD = os.environ["FERRY_BUILD"]
FERRYD = os.path.join(BUILD, "ferryd")
USER = "tester"
PASSWORD = "paramiko pass word"
KNOWN_GAPS = []


def fail(msg, log=None):
    print("FAIL: " + msg, file=sys.stderr)
    if log and os.path.exists(log):
        with open(log, errors="replace") as f:
            print("--- ferryd log:\n" + "".join(f.readlines()[-40:]), file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Server:
    def __init__(self, tmp):
        self.tmp = tmp
        self.root = os.path.join(tmp, "root")
        os.mkdir(self.root)
        self.log = os.path.join(tmp, "ferryd.log")
        self.key = os.path.join(tmp, "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key],
                       check=True)
        shutil.copy(self.key + ".pub", os.path.join(tmp, "authorized_keys"))
        pwhash = subprocess.run([FERRYD, "--hash-password"], input=PASSWORD + "\n",
                                capture_output=True, text=True, check=True).stdout.strip()
        conf = os.path.join(tmp, "ferryd.conf")
        with open(conf, "w") as f:
            f.write("PerSourcePenalties no\n")
        self.hostkey = os.path.join(tmp, "host_ed25519")
        args = [FERRYD, "--listen", "127.0.0.1:0", "--root", self.root, "--user", USER,
                "--host-key", self.hostkey, "--authorized-keys",
                os.path.join(tmp, "authorized_keys"), "--password-hash", pwhash,
                "--config", conf]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "w"))
        self.port = None
        for _ in range(600):
            with open(self.log, errors="replace") as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                fail("ferryd exited at start", self.log)
            time.sleep(0.05)
        if self.port is None:
            fail("ferryd did not report listening", self.log)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        if rc != 0:
            fail("ferryd exited with %d after SIGTERM" % rc, self.log)


def connect(srv, password=None):
    t = paramiko.Transport(("127.0.0.1", srv.port))
    t.start_client(timeout=30)
    expected = open(srv.hostkey + ".pub").read().split()[1]
    got = t.get_remote_server_key().get_base64()
    check(got == expected, "host key mismatch")
    if password is None:
        t.auth_publickey(USER, paramiko.Ed25519Key.from_private_key_file(srv.key))
    else:
        t.auth_password(USER, password)
    check(t.is_authenticated(), "not authenticated")
    return t, paramiko.SFTPClient.from_transport(t)


def exercise(srv, sftp, local):
    data = os.urandom(2 * 1024 * 1024 + 777)
    small = os.urandom(5000)
    src = os.path.join(local, "src.bin")
    with open(src, "wb") as f:
        f.write(data)

    check(sftp.normalize(".") == "/", "normalize . is /: %r" % sftp.normalize("."))
    sftp.mkdir("d", mode=0o750)
    sftp.chdir("d")
    check(sftp.getcwd() == "/d", "getcwd")
    attrs = sftp.put(src, "put.bin", confirm=True)
    check(attrs.st_size == len(data), "put size")
    sftp.get("put.bin", os.path.join(local, "get.bin"))
    check(open(os.path.join(local, "get.bin"), "rb").read() == data, "get bytes")
    sftp.putfo(io.BytesIO(small), "putfo.bin")
    bio = io.BytesIO()
    sftp.getfo("putfo.bin", bio)
    check(bio.getvalue() == small, "getfo bytes")
    check(open(os.path.join(srv.root, "d", "put.bin"), "rb").read() == data, "server copy")

    # file object methods
    with sftp.open("f.bin", "w") as f:
        f.set_pipelined(True)
        f.write(small[:1000])
        f.write(small[1000:])
        f.flush()
        check(f.tell() == len(small), "tell")
        check(f.stat().st_size == len(small), "fstat")
        f.truncate(4000)
        f.chmod(0o640)
        f.utime((1000000000, 1000000000))
    st = sftp.stat("f.bin")
    check(stat.S_IMODE(st.st_mode) == 0o640, "chmod via fchmod")
    check(int(st.st_mtime) == 1000000000, "utime via futimes")
    check(st.st_size == 4000, "ftruncate")
    with sftp.open("f.bin", "r") as f:
        check(f.read(10) == small[:10], "read")
        f.seek(3000)
        check(f.read(500) == small[3000:3500], "seek+read")
        chunks = list(f.readv([(0, 100), (3900, 100)]))
        check(chunks == [small[:100], small[3900:4000]], "readv")
        f.seek(0)
        f.prefetch()
        check(f.read() == small[:4000], "prefetch read")
        # paramiko sends the handle variant under the old name "check-file"
        # (filexfer drafts 04/05); newer drafts call it "check-file-handle".
        h = f.check("sha256", 0, 0, 0)
        check(h == hashlib.sha256(small[:4000]).digest(), "check-file sha256")
        h = f.check("sha256", 100, 1000, 256)
        want = b"".join(hashlib.sha256(small[o:min(o + 256, 1100)]).digest()
                        for o in range(100, 1100, 256))
        check(h == want, "check-file sha256 per 256-byte block")
        # ferry's checksum, against an independent Poly1305 (pyca/cryptography)
        # under the key docs/DESIGN.md and crypto/chk.h publish
        key = b"ferry.dev check-file poly1305 k1"
        h = f.check("poly1305@ferry.dev", 0, 0, 0)
        check(h == poly1305.Poly1305.generate_tag(key, small[:4000]), "check-file poly1305@ferry.dev")
        h = f.check("poly1305@ferry.dev", 100, 1000, 256)
        want = b"".join(poly1305.Poly1305.generate_tag(key, small[o:min(o + 256, 1100)])
                        for o in range(100, 1100, 256))
        check(h == want, "check-file poly1305@ferry.dev per 256-byte block")
    with sftp.open("f.bin", "a") as f:
        f.write(b"tail")
    with sftp.file("f.bin", "r") as f:
        check(f.read() == small[:4000] + b"tail", "append mode")
    with sftp.open("lines.txt", "w") as f:
        f.write(b"one\ntwo\nthree\n")
    with sftp.open("lines.txt", "rb") as f:
        check(f.readline() == b"one\n", "readline")
        check(f.readlines() == [b"two\n", b"three\n"], "readlines")

    sftp.chmod("f.bin", 0o600)
    check(stat.S_IMODE(sftp.stat("f.bin").st_mode) == 0o600, "chmod")
    sftp.utime("f.bin", (1234567890, 1234567890))
    check(int(sftp.stat("f.bin").st_mtime) == 1234567890, "utime path")
    sftp.utime("f.bin", None)
    sftp.chown("f.bin", os.getuid(), os.getgid())
    sftp.truncate("f.bin", 10)
    check(sftp.stat("f.bin").st_size == 10, "truncate")

    sftp.symlink("put.bin", "link")
    check(sftp.readlink("link") == "put.bin", "readlink")
    check(stat.S_ISLNK(sftp.lstat("link").st_mode), "lstat link")
    check(sftp.stat("link").st_size == len(data), "stat follows link")
    sftp.rename("putfo.bin", "renamed.bin")
    sftp.posix_rename("renamed.bin", "f.bin")  # replaces f.bin
    check(sftp.stat("f.bin").st_size == len(small), "posix_rename replaced")
    names = sorted(sftp.listdir("."))
    check(names == ["f.bin", "lines.txt", "link", "put.bin"], "listdir %r" % names)
    la = {a.filename: a for a in sftp.listdir_attr(".")}
    check(la["put.bin"].st_size == len(data), "listdir_attr size")
    check(sorted(a.filename for a in sftp.listdir_iter(".")) == names, "listdir_iter")
    sftp.remove("link")
    sftp.unlink("lines.txt")
    sftp.mkdir("sub")
    sftp.rmdir("sub")
    try:
        sftp.stat("nope")
        check(False, "stat of a missing file succeeded")
    except FileNotFoundError:
        pass
    try:
        sftp.open("/../../etc/passwd", "r").read()
        inside = os.path.exists(os.path.join(srv.root, "etc", "passwd"))
        check(inside, "escaped the root")
    except IOError:
        pass
    sftp.chdir("/")
    check(sorted(sftp.listdir("/")) == ["d"], "root listing")


def partial_resume(srv):
    """An upload cut off without CLOSE is kept as .<name>.ferry-partial;
    it is resumed in place (prefix checked with check-file) and renamed
    onto the final name."""
    part1, part2 = os.urandom(300000), os.urandom(123457)
    t, sftp = connect(srv)
    f = sftp.open("resume.bin", "w")
    f.write(part1)
    f.flush()
    t.close()  # the connection ends with the handle open
    partial = os.path.join(srv.root, ".resume.bin.ferry-partial")
    for _ in range(200):
        if os.path.exists(partial):
            break
        time.sleep(0.05)
    check(os.path.exists(partial), "no partial file after the connection ended")
    check(not os.path.exists(os.path.join(srv.root, "resume.bin")),
          "a partial upload under the final name")
    check(stat.S_IMODE(os.stat(partial).st_mode) == 0o600, "partial file mode")
    t, sftp = connect(srv)
    st = sftp.stat(".resume.bin.ferry-partial")
    check(st.st_size == len(part1), "partial size %d" % st.st_size)
    with sftp.open(".resume.bin.ferry-partial", "r+") as f:
        check(f.check("sha256", 0, st.st_size, 0) == hashlib.sha256(part1).digest(),
              "partial prefix hash")
        f.seek(st.st_size)
        f.write(part2)
    sftp.posix_rename(".resume.bin.ferry-partial", "resume.bin")
    with sftp.open("resume.bin", "r") as f:
        check(f.check("sha256", 0, 0, 0) == hashlib.sha256(part1 + part2).digest(),
              "resumed file hash")
    check(open(os.path.join(srv.root, "resume.bin"), "rb").read() == part1 + part2,
          "resumed file bytes")
    check(sorted(sftp.listdir("/")) == ["resume.bin"], "left: %r" % sftp.listdir("/"))
    sftp.close()
    t.close()


def main():
    if not os.access(FERRYD, os.X_OK):
        fail(FERRYD + " not built")
    tmp = tempfile.mkdtemp(prefix="ferry-paramiko.")
    srv = None
    try:
        srv = Server(tmp)
        local = os.path.join(tmp, "local")
        os.mkdir(local)
        t, sftp = connect(srv)
        exercise(srv, sftp, local)
        print("ok - every SFTPClient method (ed25519 key)")
        sftp.close()
        t.close()
        shutil.rmtree(srv.root)
        os.mkdir(srv.root)
        shutil.rmtree(local)
        os.mkdir(local)
        t, sftp = connect(srv, password=PASSWORD)
        exercise(srv, sftp, local)
        print("ok - every SFTPClient method (password)")
        sftp.close()
        t.close()
        shutil.rmtree(srv.root)
        os.mkdir(srv.root)
        partial_resume(srv)
        print("ok - interrupted upload kept as the partial file, resumed and renamed")
        try:
            connect(srv, password="wrong")
            fail("wrong password accepted", srv.log)
        except paramiko.AuthenticationException:
            print("ok - wrong password refused")
        srv.stop()
        srv = None
        print("ok - clean shutdown")
        for g in sorted(set(KNOWN_GAPS)):
            print("known gap (not failed): " + g)
    except Exception as e:  # noqa: BLE001 - report any failure with the log
        import traceback
        traceback.print_exc()
        fail("paramiko: %r" % e, srv.log if srv else None)
    finally:
        if srv is not None and srv.proc.poll() is None:
            srv.proc.send_signal(signal.SIGTERM)
            srv.proc.wait(timeout=30)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
