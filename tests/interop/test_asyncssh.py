#!/usr/bin/python3
"""asyncssh (python3-asyncssh, an SSH/SFTP implementation nobody here
wrote) in both directions; bytes compared by hash.

 1. asyncssh's SFTP client against ferryd: ed25519 key and password
    logins with host key checking on (a known_hosts built from ferryd's
    --host-key, and a wrong one refused); put/get of a few MiB with
    asyncssh's parallel block requests (default and 64 KiB blocks),
    recursive put/get of a tree, two SFTP sessions on one connection at
    once; readdir/listdir/scandir/glob of a directory with hundreds of
    entries; stat/lstat/setstat/chmod/utime/truncate/chown;
    mkdir/rmdir/remove/rename (v3, never replacing)/posix_rename; symlink
    (asyncssh sends the draft's order to a server it does not know as
    OpenSSH: ferryd takes it so from AsyncSSH clients), readlink,
    realpath, hardlink; a remote file's read/write/seek/tell/truncate/
    fstat/fsetstat/fsync/fstatvfs; statvfs; error codes; the jail
    ("../../etc/passwd", symlinks out, writes and renames out); every
    cipher, MAC and kex ferryd offers that asyncssh knows.
 2. ferry against asyncssh's SFTPServer (chroot to a temporary
    directory; a subprocess of this script, stopped by PID): host key
    checking on (a wrong known_hosts refused); an ed25519 key; a batch
    with put/get of a few MiB, ls -l, mkdir, rename, rm, rmdir, put -r/
    get -r of a tree (trees compared); df and df -i; chmod; ln -s (in
    the draft's order, which asyncssh's server wants from ferry). ferry's
    stderr must hold no sanitizer report. The ed25519 login pipelines the
    signed request behind "none", which asyncssh answers out of order
    (SUCCESS first): ferry must drop the late FAILURE. When that login
    fails (reported), the phases after it use an RSA key.

Each phase is reported as ok/not ok and the phases after a failed one
still run; the test fails if any failed. Run by CTest with FERRY_BUILD
and FERRY_SRC set. Uses its own temporary directory and kernel-chosen
loopback ports; signals only the processes it started. Fails (never
skips) when asyncssh is missing."""
import asyncio
import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import warnings

# asyncssh 2.10 imports ciphers that pyca/cryptography marks deprecated
warnings.filterwarnings("ignore", module=r"asyncssh(\..*)?")
import asyncssh  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyferryd  # noqa: E402
from pyferryd import FAILURES, LOGS, aphase, check, fail, finish, phase, sha_file  # noqa: E402

pyferryd.ERRORS += (asyncssh.Error, asyncio.TimeoutError)

BUILD = os.environ.get("FERRY_BUILD", "")
FERRYD = os.path.join(BUILD, "ferryd")
FERRY = os.path.join(BUILD, "ferry")
USER = "tester"
PASSWORD = "asyncssh pass word"
SANITIZER = ("AddressSanitizer", "LeakSanitizer", "runtime error")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def tree_of(top):
    """{relative path: ("d",) | ("f", size, sha256) | ("l", target)}"""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, top)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d",)
            else:
                out[rel] = ("f", st.st_size, sha_file(p))
    return out


def make_tree(top):
    """A few directories, ~50 small files, one 3 MiB file, an empty dir."""
    for d in ("a", "a/b", "a/b/c", "e", "empty"):
        os.makedirs(os.path.join(top, d))
    for i in range(50):
        d = ("a", "a/b", "a/b/c", "e", ".")[i % 5]
        with open(os.path.join(top, d, "f%02d.txt" % i), "wb") as f:
            f.write(os.urandom(i * 97 % 5000))
    with open(os.path.join(top, "a", "b", "big3m.bin"), "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024))


def keygen(path, comment="asyncssh-test"):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                   check=True)


# ---------------------------------------------------------------- 1. ferryd

class Ferryd(pyferryd.Ferryd):
    """pyferryd's ferryd with an ed25519 user key and a password, and a
    known_hosts made from the host key it generated and serves."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.key = os.path.join(tmp, "id_ed25519")
        keygen(self.key)
        with open(self.key + ".pub") as f:
            pub = f.read()
        super().__init__(tmp, user=USER, password=PASSWORD, keys=[pub],
                         conf=["PerSourcePenalties no"])
        LOGS.append(("ferryd log", self.log))
        self.hostkey = os.path.join(tmp, "ferryd-host_ed25519")
        with open(self.hostkey + ".pub") as f:
            alg, blob = f.read().split()[:2]
        self.known_hosts = os.path.join(tmp, "known_hosts.ferryd")
        with open(self.known_hosts, "w") as f:
            f.write("[127.0.0.1]:%d %s %s\n" % (self.port, alg, blob))
        self.hostkey_blob = blob


async def connect(srv, password=None, known_hosts=None, **kw):
    opts = dict(port=srv.port, username=USER, config=[], agent_path=None,
                known_hosts=known_hosts or srv.known_hosts)
    if password is None:
        opts.update(client_keys=[srv.key], preferred_auth="publickey")
    else:
        opts.update(client_keys=None, password=password, preferred_auth="password")
    opts.update(kw)
    return await asyncio.wait_for(asyncssh.connect("127.0.0.1", **opts), 30)


async def expect_error(coro, cls, code, what):
    try:
        await coro
    except cls as e:
        if code is not None and e.code != code:
            raise AssertionError("%s: code %d (%s), want %d" % (what, e.code, e.reason, code))
        return e
    except asyncssh.SFTPError as e:
        raise AssertionError("%s: %s (code %d, %r), want %s" %
                             (what, type(e).__name__, e.code, e.reason, cls.__name__))
    raise AssertionError("%s: succeeded, want %s" % (what, cls.__name__))


async def transfers(srv, conn, sftp, local, data):
    root = srv.root
    src = os.path.join(local, "src.bin")
    with open(src, "wb") as f:
        f.write(data)
    await sftp.mkdir("d")
    # asyncssh's defaults: 16 KiB blocks, up to 128 requests in flight
    await sftp.put(src, "d/put.bin")
    check(sha_file(os.path.join(root, "d", "put.bin")) == sha(data), "put: bytes on disk")
    await sftp.get("d/put.bin", os.path.join(local, "got.bin"))
    check(sha_file(os.path.join(local, "got.bin")) == sha(data), "get: bytes")
    # 64 KiB blocks: more than the 32 KiB a server must take; short
    # reads are allowed, so the bytes must still come out right
    await sftp.put(src, "d/put64.bin", block_size=65536, max_requests=32)
    check(sha_file(os.path.join(root, "d", "put64.bin")) == sha(data), "put 64K: bytes")
    await sftp.get("d/put64.bin", os.path.join(local, "got64.bin"), block_size=65536,
                   max_requests=32)
    check(sha_file(os.path.join(local, "got64.bin")) == sha(data), "get 64K: bytes")
    # two SFTP sessions on one connection, each getting the file at once
    sftp2 = await conn.start_sftp_client()
    await asyncio.gather(sftp.get("d/put.bin", os.path.join(local, "c1.bin")),
                         sftp2.get("d/put64.bin", os.path.join(local, "c2.bin")))
    sftp2.exit()
    await sftp2.wait_closed()
    for n in ("c1.bin", "c2.bin"):
        check(sha_file(os.path.join(local, n)) == sha(data), "concurrent get %s" % n)
    # recursive put and get of a tree
    tree = os.path.join(local, "tree")
    make_tree(tree)
    await sftp.put(tree, "d/tree", recurse=True, preserve=True)
    check(tree_of(os.path.join(root, "d", "tree")) == tree_of(tree), "put -r: tree differs")
    await sftp.get("d/tree", os.path.join(local, "gottree"), recurse=True, preserve=True)
    check(tree_of(os.path.join(local, "gottree")) == tree_of(tree), "get -r: tree differs")
    st = os.stat(os.path.join(local, "gottree", "a", "b", "big3m.bin"))
    check(int(st.st_mtime) == int(os.stat(os.path.join(tree, "a", "b", "big3m.bin")).st_mtime),
          "get -r preserve: mtime")
    await sftp.rmtree("d/tree")
    check(not os.path.exists(os.path.join(root, "d", "tree")), "rmtree left the tree")


async def listing(srv, sftp):
    many = os.path.join(srv.root, "d", "many")
    os.mkdir(many)
    want = {}
    for i in range(333):
        n = "entry-%03d-%s" % (i, "x" * (i % 40))
        with open(os.path.join(many, n), "wb") as f:
            f.write(b"z" * (i * 7))
        want[n] = i * 7
    os.mkdir(os.path.join(many, "subdir"))
    os.symlink("entry-001-x", os.path.join(many, "alink"))
    names = await sftp.readdir("d/many")
    got = {n.filename: n for n in names if n.filename not in (".", "..")}
    check(len(got) == len(names) - sum(n.filename in (".", "..") for n in names),
          "readdir: duplicate names")
    check(set(got) == set(want) | {"subdir", "alink"},
          "readdir: names differ (%d vs %d)" % (len(got), len(want) + 2))
    for n, size in want.items():
        a = got[n].attrs
        check(a.size == size and stat.S_ISREG(a.permissions), "readdir attrs of %s" % n)
    check(stat.S_ISDIR(got["subdir"].attrs.permissions), "readdir: subdir type")
    check(stat.S_ISLNK(got["alink"].attrs.permissions), "readdir: symlink not lstat'ed")
    check(all(n.longname for n in names), "readdir: empty longname")
    ln = [n.longname for n in names if n.filename == "entry-010-xxxxxxxxxx"][0]
    check(ln.startswith("-") and " 70 " in ln and ln.endswith("entry-010-xxxxxxxxxx"),
          "longname %r" % ln)
    lst = [n for n in await sftp.listdir("d/many") if n not in (".", "..")]
    check(sorted(lst) == sorted(got), "listdir")
    sc = [n.filename async for n in sftp.scandir("d/many") if n.filename not in (".", "..")]
    check(sorted(sc) == sorted(got), "scandir")
    g = await sftp.glob("d/many/entry-1[0-4]?-*")
    check(len(g) == 50 and all(p.startswith("d/many/entry-1") for p in g), "glob: %d" % len(g))
    await expect_error(sftp.readdir("d/nonexistent"), asyncssh.SFTPNoSuchFile,
                       asyncssh.FX_NO_SUCH_FILE, "readdir of a missing dir")
    await sftp.rmtree("d/many")
    check(not os.path.exists(many), "rmtree of many")


async def attributes(srv, sftp, data):
    root = srv.root
    p = os.path.join(root, "d", "put.bin")
    st = await sftp.stat("d/put.bin")
    dst = os.stat(p)
    check(st.size == len(data) and stat.S_ISREG(st.permissions), "stat size/type")
    check(st.uid == dst.st_uid and st.gid == dst.st_gid, "stat uid/gid")
    check(int(st.mtime) == int(dst.st_mtime), "stat mtime")
    await sftp.chmod("d/put.bin", 0o640)
    check(stat.S_IMODE(os.stat(p).st_mode) == 0o640, "chmod on disk")
    check(stat.S_IMODE((await sftp.stat("d/put.bin")).permissions) == 0o640, "chmod via stat")
    await sftp.utime("d/put.bin", (1000000000, 1234567890))
    dst = os.stat(p)
    check(int(dst.st_atime) == 1000000000 and int(dst.st_mtime) == 1234567890,
          "utime on disk: %r %r" % (dst.st_atime, dst.st_mtime))
    st = await sftp.stat("d/put.bin")
    check(st.atime == 1000000000 and st.mtime == 1234567890, "utime via stat")
    await sftp.setstat("d/put.bin", asyncssh.SFTPAttrs(permissions=0o604, atime=1500000000,
                                                      mtime=1500000001))
    dst = os.stat(p)
    check(stat.S_IMODE(dst.st_mode) == 0o604 and int(dst.st_mtime) == 1500000001
          and int(dst.st_atime) == 1500000000, "setstat mode+times")
    await sftp.chown("d/put.bin", os.getuid(), os.getgid())
    check(os.stat(p).st_uid == os.getuid(), "chown")
    shutil.copy(p, p + ".t")
    await sftp.truncate("d/put.bin.t", 1000)
    check(os.path.getsize(p + ".t") == 1000, "truncate")
    await sftp.setstat("d/put.bin.t", asyncssh.SFTPAttrs(size=10))
    with open(p + ".t", "rb") as f:
        check(f.read() == data[:10], "setstat size")
    check(await sftp.getsize("d/put.bin.t") == 10, "getsize")
    check(await sftp.isdir("d") and not await sftp.isdir("d/put.bin"), "isdir")
    check(await sftp.isfile("d/put.bin") and await sftp.exists("d/put.bin.t"), "isfile/exists")
    check(not await sftp.exists("d/none"), "exists of a missing file")
    await sftp.remove("d/put.bin.t")


def symlinks_made(root, before):
    """Symlinks under root that were not in the set before."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if os.path.islink(p) and p not in before:
                out.add(p)
    return out


async def symlink_order(srv, sftp):
    """asyncssh's symlink(target, link) as asyncssh sends it to a server
    whose banner names neither OpenSSH nor paramiko: the draft's order
    (linkpath, targetpath). ferryd documents OpenSSH's (targetpath,
    linkpath) for every client."""
    root = srv.root
    before = symlinks_made(root, set())
    link = os.path.join(root, "d", "link")
    try:
        err = None
        try:
            await sftp.symlink("/d/put.bin", "d/link")
        except asyncssh.SFTPError as e:
            err = "%s (code %d, %r)" % (type(e).__name__, e.code, e.reason)
        made = ["%s -> %s" % (os.path.relpath(m, root), os.readlink(m))
                for m in sorted(symlinks_made(root, before))]
        check(err is None and os.path.islink(link) and os.readlink(link) == "/d/put.bin",
              "sftp.symlink('/d/put.bin', 'd/link') (asyncssh sends linkpath first to a "
              "server not named OpenSSH/paramiko): want d/link -> /d/put.bin; ferryd "
              "answered %s, links made: %r" % (err or "OK", made))
    finally:
        for m in symlinks_made(root, before):
            if m != link:
                os.unlink(m)
    os.unlink(link)


async def symlinks(srv, sftp, data):
    """asyncssh makes a symlink's target absolute (it composes it with its
    working directory), so the targets here are absolute: inside ferryd's
    root they are taken relative to the root."""
    root = srv.root
    await sftp.symlink("/d/put.bin", "d/link")
    check(os.path.islink(os.path.join(root, "d", "link")), "no link d/link on disk")
    check(os.readlink(os.path.join(root, "d", "link")) == "/d/put.bin",
          "symlink target on disk: %r" % os.readlink(os.path.join(root, "d", "link")))
    check(stat.S_ISLNK((await sftp.lstat("d/link")).permissions), "lstat of a link")
    check((await sftp.stat("d/link")).size == len(data), "stat through a link")
    check(await sftp.islink("d/link"), "islink")
    check(await sftp.readlink("d/link") == "/d/put.bin", "readlink")
    check(await sftp.realpath("d/link") == "/d/put.bin",
          "realpath of a link: %r" % await sftp.realpath("d/link"))
    async with sftp.open("d/link", "rb") as f:
        check(sha(await f.read()) == sha(data), "read through an absolute link in the root")
    # a relative link made on disk: readlink gives it back verbatim
    os.symlink("put.bin", os.path.join(root, "d", "rel"))
    check(await sftp.readlink("d/rel") == "put.bin", "readlink of a relative link")
    check(await sftp.realpath("d/rel") == "/d/put.bin", "realpath of a relative link")
    check((await sftp.stat("d/rel")).size == len(data), "stat through a relative link")
    await sftp.remove("d/rel")
    await expect_error(sftp.symlink("/d/put.bin", "d/link"), asyncssh.SFTPError, None,
                       "symlink onto an existing name")
    await sftp.symlink("/nowhere", "d/dangling")
    check(os.readlink(os.path.join(root, "d", "dangling")) == "/nowhere", "dangling symlink")
    await expect_error(sftp.stat("d/dangling"), asyncssh.SFTPNoSuchFile,
                       asyncssh.FX_NO_SUCH_FILE, "stat through a dangling link")
    check(stat.S_ISLNK((await sftp.lstat("d/dangling")).permissions), "lstat of a dangling link")
    await sftp.remove("d/dangling")
    await sftp.remove("d/link")
    check(not os.path.lexists(os.path.join(root, "d", "link")), "remove of a link")
    check(os.path.exists(os.path.join(root, "d", "put.bin")), "remove of a link removed its target")


async def names(srv, sftp, data):
    root = srv.root
    check(await sftp.realpath(".") == "/", "realpath .")
    check(await sftp.realpath("d/../d/./put.bin") == "/d/put.bin", "realpath with . and ..")
    check(await sftp.getcwd() == "/", "getcwd")
    await sftp.chdir("d")
    check(await sftp.getcwd() == "/d", "chdir/getcwd")
    await sftp.chdir("/")
    # mkdir, rmdir
    await sftp.mkdir("d/x", asyncssh.SFTPAttrs(permissions=0o700))
    check(os.path.isdir(os.path.join(root, "d", "x")), "mkdir on disk")
    check(stat.S_IMODE(os.stat(os.path.join(root, "d", "x")).st_mode) == 0o700, "mkdir mode")
    await expect_error(sftp.mkdir("d/x"), asyncssh.SFTPFailure, asyncssh.FX_FAILURE,
                       "mkdir of an existing directory")
    await sftp.makedirs("d/x/y/z")
    check(os.path.isdir(os.path.join(root, "d", "x", "y", "z")), "makedirs")
    await expect_error(sftp.rmdir("d/x"), asyncssh.SFTPFailure, asyncssh.FX_FAILURE,
                       "rmdir of a non-empty directory")
    check(os.path.isdir(os.path.join(root, "d", "x", "y")), "rmdir of a non-empty dir")
    await sftp.rmdir("d/x/y/z")
    await sftp.rmdir("d/x/y")
    await sftp.rmdir("d/x")
    check(not os.path.exists(os.path.join(root, "d", "x")), "rmdir on disk")
    await expect_error(sftp.rmdir("d/x"), asyncssh.SFTPNoSuchFile, asyncssh.FX_NO_SUCH_FILE,
                       "rmdir of a missing dir")
    # rename: v3 never replaces; posix_rename does
    a, b = os.urandom(1000), os.urandom(2000)
    for n, v in (("a.bin", a), ("b.bin", b)):
        with open(os.path.join(root, "d", n), "wb") as f:
            f.write(v)
    await expect_error(sftp.rename("d/a.bin", "d/b.bin"), asyncssh.SFTPError, None,
                       "rename onto an existing file")
    with open(os.path.join(root, "d", "b.bin"), "rb") as f:
        check(f.read() == b, "rename replaced the target")
    await sftp.rename("d/a.bin", "d/c.bin")
    check(not os.path.exists(os.path.join(root, "d", "a.bin")), "rename left the source")
    with open(os.path.join(root, "d", "c.bin"), "rb") as f:
        check(f.read() == a, "rename: bytes")
    await sftp.posix_rename("d/c.bin", "d/b.bin")
    with open(os.path.join(root, "d", "b.bin"), "rb") as f:
        check(f.read() == a, "posix_rename did not replace")
    check(not os.path.exists(os.path.join(root, "d", "c.bin")), "posix_rename left the source")
    await expect_error(sftp.rename("d/none", "d/none2"), asyncssh.SFTPNoSuchFile,
                       asyncssh.FX_NO_SUCH_FILE, "rename of a missing file")
    # hardlink (hardlink@openssh.com)
    await sftp.link("d/b.bin", "d/hard.bin")
    check(os.stat(os.path.join(root, "d", "hard.bin")).st_ino ==
          os.stat(os.path.join(root, "d", "b.bin")).st_ino, "hardlink: not the same inode")
    # remove
    await sftp.remove("d/b.bin")
    await sftp.remove("d/hard.bin")
    check(not os.path.exists(os.path.join(root, "d", "b.bin")), "remove on disk")
    await expect_error(sftp.remove("d/b.bin"), asyncssh.SFTPNoSuchFile, asyncssh.FX_NO_SUCH_FILE,
                       "remove of a missing file")
    e = await expect_error(sftp.remove("d"), asyncssh.SFTPError, None, "remove of a directory")
    check(e.code != asyncssh.FX_OK, "remove of a directory: code")
    check(os.path.isdir(os.path.join(root, "d")), "remove removed a directory")


async def files(srv, sftp, data):
    root = srv.root
    small = os.urandom(10000)
    async with sftp.open("d/f.bin", "w+b") as f:
        check(await f.write(small[:3000]) == 3000, "write count")
        await f.write(small[3000:])
        check(await f.tell() == len(small), "tell after writes")
        await f.seek(100)
        check(await f.read(50) == small[100:150], "seek+read")
        check(await f.tell() == 150, "tell after read")
        await f.seek(-10, os.SEEK_END)
        check(await f.read() == small[-10:], "seek from end + read")
        await f.write(b"PATCH", offset=5000)
        check(await f.read(5, offset=4998) == small[4998:5000] + b"PAT", "read at offset")
        check((await f.stat()).size == len(small), "fstat size")
        await f.truncate(8000)
        await f.chmod(0o600)
        await f.utime((1100000000, 1200000000))
        await f.fsync()
        vfs = await f.statvfs()
        check(vfs.blocks == os.statvfs(root).f_blocks, "fstatvfs blocks")
        await f.seek(0)
        check(await f.read() == small[:5000] + b"PATCH" + small[5005:8000], "whole read")
        await f.seek(0)
        check(await f.read(-1) == small[:5000] + b"PATCH" + small[5005:8000], "read(-1)")
        check(await f.read(10) == b"", "read at EOF")
    want = small[:5000] + b"PATCH" + small[5005:8000]
    p = os.path.join(root, "d", "f.bin")
    with open(p, "rb") as fh:
        check(fh.read() == want, "file on disk")
    st = os.stat(p)
    check(stat.S_IMODE(st.st_mode) == 0o600 and int(st.st_mtime) == 1200000000,
          "fsetstat mode/mtime on disk")
    async with sftp.open("d/f.bin", "ab") as f:
        await f.write(b"tail")
    with open(p, "rb") as fh:
        check(fh.read() == want + b"tail", "append")
    await expect_error(sftp.open("d/f.bin", "xb"), asyncssh.SFTPError, None,
                       "exclusive open of an existing file")
    async with sftp.open("d/new.bin", "xb") as f:
        await f.write(b"new")
    with open(os.path.join(root, "d", "new.bin"), "rb") as fh:
        check(fh.read() == b"new", "exclusive create")
    # a big read through one handle (asyncssh splits it into parallel reads)
    async with sftp.open("d/put.bin", "rb", block_size=32768, max_requests=64) as f:
        check(sha(await f.read()) == sha(data), "parallel read of the big file")
        await f.seek(3 * 1024 * 1024 + 5)
        check(await f.read(100000) == data[3 * 1024 * 1024 + 5:3 * 1024 * 1024 + 100005],
              "seek+read in the big file")
    async with sftp.open("d/big-w.bin", "wb", block_size=32768, max_requests=64) as f:
        await f.write(data)
    check(sha_file(os.path.join(root, "d", "big-w.bin")) == sha(data),
          "parallel write of the big file")
    await sftp.remove("d/big-w.bin")
    # errors
    e = await expect_error(sftp.open("missing.bin"), asyncssh.SFTPNoSuchFile,
                           asyncssh.FX_NO_SUCH_FILE, "open of a missing file")
    check(isinstance(e, asyncssh.SFTPError), "SFTPNoSuchFile is an SFTPError")
    await expect_error(sftp.stat("missing/x"), asyncssh.SFTPNoSuchFile, asyncssh.FX_NO_SUCH_FILE,
                       "stat of a missing path")
    await expect_error(sftp.open("nodir/x.bin", "wb"), asyncssh.SFTPNoSuchFile,
                       asyncssh.FX_NO_SUCH_FILE, "create in a missing directory")
    await expect_error(sftp.lstat("missing.bin"), asyncssh.SFTPNoSuchFile,
                       asyncssh.FX_NO_SUCH_FILE, "lstat of a missing file")
    await expect_error(sftp.readlink("d/f.bin"), asyncssh.SFTPError, None,
                       "readlink of a regular file")
    # statvfs
    vfs = await sftp.statvfs("/")
    ref = os.statvfs(root)
    check(vfs.bsize == ref.f_bsize and vfs.frsize == ref.f_frsize
          and vfs.blocks == ref.f_blocks and vfs.files == ref.f_files
          and vfs.namemax == ref.f_namemax, "statvfs: %r vs %r" % (vfs, ref))


async def jail(srv, sftp):
    root = srv.root
    with open("/etc/passwd", "rb") as f:
        real = f.read()
    os.mkdir(os.path.join(root, "etc"))
    sentinel = b"inside the ferryd root\n"
    with open(os.path.join(root, "etc", "passwd"), "wb") as f:
        f.write(sentinel)

    async def read_or_error(path):
        try:
            async with sftp.open(path, "rb") as f:
                return await f.read()
        except asyncssh.SFTPError:
            return None

    for path in ("../../etc/passwd", "/../../../etc/passwd", "d/../../../../etc/passwd"):
        got = await read_or_error(path)
        check(got != real, "%s: read the real /etc/passwd" % path)
        check(got in (sentinel, None), "%s: read %r" % (path, got and got[:40]))
    check(await sftp.realpath("../../..") == "/", "realpath above the root")
    top = sorted(n for n in await sftp.listdir("../../..") if n not in (".", ".."))
    check(top == sorted(os.listdir(root)), "listdir above the root: %r" % top)
    # symlinks that point out: made on disk, and made over SFTP
    os.symlink("/etc", os.path.join(root, "out"))
    await sftp.symlink("/etc/passwd", "d/abs")
    await sftp.symlink("../../../../../../etc/passwd", "d/rel")
    for path in ("out/passwd", "d/abs", "d/rel"):
        got = await read_or_error(path)
        check(got != real, "%s: read the real /etc/passwd through a symlink" % path)
        check(got in (sentinel, None), "%s: read %r" % (path, got and got[:40]))
    try:
        outnames = await sftp.listdir("out")
    except asyncssh.SFTPError:
        outnames = []
    check("hostname" not in outnames and "group" not in outnames,
          "listdir through a symlink to /etc shows the real /etc")
    # writes and renames that aim outside land inside (or are refused)
    tag = os.path.basename(srv.tmp)
    try:
        async with sftp.open("../../../tmp/%s.escaped" % tag, "wb") as f:
            await f.write(b"x")
    except asyncssh.SFTPError:
        pass
    check(not os.path.exists("/tmp/%s.escaped" % tag), "write escaped the root to /tmp")
    with open(os.path.join(root, "d", "mv.bin"), "wb") as f:
        f.write(b"mv")
    try:
        await sftp.rename("d/mv.bin", "../../../tmp/%s.renamed" % tag)
    except asyncssh.SFTPError:
        pass
    check(not os.path.exists("/tmp/%s.renamed" % tag), "rename escaped the root to /tmp")
    try:
        await sftp.rename("d/mv.bin", "out/%s.renamed" % tag)
    except asyncssh.SFTPError:
        pass
    check(not os.path.exists("/etc/%s.renamed" % tag), "rename escaped the root via a symlink")
    check(not os.path.exists("/%s.renamed" % tag), "rename escaped the root")


def server_kexinit(port):
    """The name-lists of the server's KEXINIT: {"kex": [...], "hostkey":
    [...], "cipher": [...], "mac": [...]} (client-to-server lists)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"SSH-2.0-ferry_asyncssh_test_probe\r\n")
        buf = b""
        while True:
            while b"\n" not in buf:
                chunk = sock.recv(4096)
                check(chunk, "server closed before its banner")
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            if line.startswith(b"SSH-"):
                break
        while len(buf) < 5 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
            chunk = sock.recv(65536)
            check(chunk, "server closed before its KEXINIT")
            buf += chunk
        plen, pad = struct.unpack(">IB", buf[:5])
        payload = buf[5:4 + plen - pad]
        check(payload[0] == 20, "first packet is not KEXINIT: %d" % payload[0])
        off, lists = 17, []
        for _ in range(10):
            n = struct.unpack(">I", payload[off:off + 4])[0]
            lists.append(payload[off + 4:off + 4 + n].decode().split(","))
            off += 4 + n
        return {"kex": lists[0], "hostkey": lists[1], "cipher": lists[2], "mac": lists[4]}
    finally:
        sock.close()


async def algorithms(srv):
    """One small write/read per algorithm ferryd offers and asyncssh knows,
    each forced on asyncssh's side."""
    offer = server_kexinit(srv.port)
    theirs = {
        "cipher": [a.decode() for a in asyncssh.encryption.get_encryption_algs()],
        "mac": [a.decode() for a in asyncssh.mac.get_mac_algs()],
        "kex": [a.decode() for a in asyncssh.kex.get_kex_algs()],
    }
    blob = os.urandom(300000)
    n = 0
    for kind, opt in (("cipher", "encryption_algs"), ("mac", "mac_algs"),
                      ("kex", "kex_algs")):
        common = [a for a in offer[kind] if a in theirs[kind]]
        check(len(common) >= 3, "%s in common: %r" % (kind, common))
        for alg in common:
            kw = {opt: [alg]}
            if kind == "mac":
                kw["encryption_algs"] = ["aes128-ctr"]  # an AEAD cipher has no MAC
            try:
                conn = await connect(srv, **kw)
            except asyncssh.Error as e:
                raise AssertionError("%s %s: %s" % (kind, alg, e))
            async with conn:
                # asyncssh offered only alg: connecting means it was used;
                # ciphers and MACs are also reported back
                if kind != "kex":
                    got = conn.get_extra_info("send_" + kind)
                    check(got == alg, "%s: negotiated %r" % (alg, got))
                async with conn.start_sftp_client() as sftp:
                    async with sftp.open("alg.bin", "wb") as f:
                        await f.write(blob)
                    async with sftp.open("alg.bin", "rb") as f:
                        check(await f.read() == blob, "%s %s: bytes" % (kind, alg))
                    await sftp.remove("alg.bin")
            n += 1
    return n


async def wrong_host_key(srv, tmp):
    other = os.path.join(tmp, "other_host")
    keygen(other)
    with open(other + ".pub") as f:
        alg, blob = f.read().split()[:2]
    wrong = os.path.join(tmp, "known_hosts.wrong")
    with open(wrong, "w") as f:
        f.write("[127.0.0.1]:%d %s %s\n" % (srv.port, alg, blob))
    try:
        c = await connect(srv, known_hosts=wrong)
        c.close()
        raise AssertionError("asyncssh accepted ferryd with a wrong known_hosts")
    except asyncssh.HostKeyNotVerifiable:
        pass


async def key_session(srv, local, data):
    conn = await connect(srv)
    check(conn.get_server_host_key().export_public_key().split()[1].decode() == srv.hostkey_blob,
          "host key differs from ferryd's --host-key")
    async with conn:
        async with conn.start_sftp_client() as sftp:
            check(sftp.version == 3, "SFTP version %d" % sftp.version)
            await aphase("put/get %d bytes (16 KiB and 64 KiB blocks, parallel requests), "
                         "two SFTP sessions at once, put/get -r of a tree" % len(data),
                         transfers(srv, conn, sftp, local, data))
            await aphase("readdir/listdir/scandir/glob of 335 entries, attrs and longnames",
                         listing(srv, sftp))
            await aphase("realpath, chdir, mkdir/makedirs/rmdir, rename (never replacing), "
                         "posix_rename, hardlink, remove, error codes", names(srv, sftp, data))
            await aphase("open/read/write/seek/tell/truncate/fstat/fsetstat/fsync/fstatvfs, "
                         "append, exclusive create, statvfs, error codes",
                         files(srv, sftp, data))
            await aphase("stat/lstat/setstat/chmod/utime/chown/truncate",
                         attributes(srv, sftp, data))
            await aphase("SYMLINK as asyncssh sends it (server %r)" %
                         conn.get_extra_info("server_version"), symlink_order(srv, sftp))
            if not os.path.lexists(os.path.join(srv.root, "d", "link")) and \
                    FAILURES and "SYMLINK" in FAILURES[-1]:
                # The failure is reported above. Send OpenSSH's order from
                # here on (asyncssh's own switch for servers it knows to
                # want it), so the rest of symlink handling is still tested.
                sftp._handler._nonstandard_symlink = True
                print("# asyncssh switched to OpenSSH's SYMLINK order for the rest")
            await aphase("symlink/readlink/realpath/lstat, dangling links",
                         symlinks(srv, sftp, data))
            await aphase("paths, symlinks and renames aiming outside stay in the root",
                         jail(srv, sftp))


async def password_session(srv, local):
    shutil.rmtree(srv.root)
    os.mkdir(srv.root)
    conn = await connect(srv, password=PASSWORD)
    async with conn:
        check(conn.get_extra_info("username") == USER, "username")
        async with conn.start_sftp_client() as sftp:
            blob = os.urandom(1024 * 1024 + 3)
            async with sftp.open("pw.bin", "wb") as f:
                await f.write(blob)
            with open(os.path.join(srv.root, "pw.bin"), "rb") as f:
                check(sha(f.read()) == sha(blob), "password session: put bytes")
            await sftp.get("pw.bin", os.path.join(local, "pw.bin"))
            check(sha_file(os.path.join(local, "pw.bin")) == sha(blob),
                  "password session: get bytes")
            ls = sorted(n for n in await sftp.listdir("/") if n not in (".", ".."))
            check(ls == ["pw.bin"], "password session: listdir %r" % ls)
            await sftp.remove("pw.bin")
    with open(srv.log, errors="replace") as f:
        check(re.search(r"event=session_end user=tester .*method=password", f.read()),
              "ferryd did not log a password session")


async def wrong_password(srv):
    try:
        c = await connect(srv, password="wrong")
        c.close()
        raise AssertionError("wrong password accepted")
    except asyncssh.PermissionDenied:
        pass


async def client_side(srv, tmp):
    local = os.path.join(tmp, "local")
    os.mkdir(local)
    data = os.urandom(4 * 1024 * 1024 + 12345)
    await aphase("asyncssh refuses ferryd under a wrong known_hosts key",
                 wrong_host_key(srv, tmp))
    await aphase("ed25519 key session, host key from a known_hosts built from --host-key",
                 key_session(srv, local, data))
    await aphase("password login: put/get/listdir", password_session(srv, local))
    await aphase("wrong password refused", wrong_password(srv))
    n = await aphase("every cipher, MAC and kex ferryd offers and asyncssh knows, "
                     "each with bytes compared", algorithms(srv))
    if n:
        print("# %d algorithms" % n)


# ---------------------------------------------------------------- 2. asyncssh server

def serve(root, hostkey, authkeys, log_path):
    """The asyncssh SFTP server (run as a subprocess of this script)."""
    logging.basicConfig(filename=log_path, level=logging.DEBUG,
                        format="%(asctime)s %(name)s %(message)s")
    # debug2: the connection's auth replies ("Remaining auth methods")
    # and SFTP requests, for the failure reports
    asyncssh.set_log_level(logging.DEBUG)
    asyncssh.set_debug_level(2)

    async def main():
        acceptor = await asyncssh.listen(
            "127.0.0.1", 0, server_host_keys=[hostkey], authorized_client_keys=authkeys,
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=root),
            allow_scp=False, config=[])
        print("listening on 127.0.0.1:%d" % acceptor.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


class AsyncsshServer:
    def __init__(self, tmp):
        self.tmp = tmp
        self.root = os.path.join(tmp, "aroot")
        os.mkdir(self.root)
        self.hostkey = os.path.join(tmp, "a_host")
        k = asyncssh.generate_private_key("ssh-ed25519")
        k.write_private_key(self.hostkey)
        k.write_public_key(self.hostkey + ".pub")
        self.key = self.ed25519 = os.path.join(tmp, "a_id_ed25519")
        keygen(self.ed25519)
        self.rsa = os.path.join(tmp, "a_id_rsa")
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-N", "", "-C",
                        "asyncssh-test", "-f", self.rsa], check=True)
        self.authkeys = os.path.join(tmp, "a_authorized_keys")
        with open(self.authkeys, "w") as f:
            for k in (self.ed25519, self.rsa):
                with open(k + ".pub") as pub:
                    f.write(pub.read())
        self.out = os.path.join(tmp, "asyncssh-server.out")
        self.log = os.path.join(tmp, "asyncssh-server.log")
        LOGS.append(("asyncssh server log", self.log))
        LOGS.append(("asyncssh server output", self.out))
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", self.root, self.hostkey,
             self.authkeys, self.log], stdout=open(self.out, "w"), stderr=subprocess.STDOUT)
        self.port = None
        for _ in range(600):
            with open(self.out, errors="replace") as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                fail("the asyncssh server exited at start")
            time.sleep(0.05)
        if self.port is None:
            fail("the asyncssh server did not report listening")
        with open(self.hostkey + ".pub") as f:
            alg, blob = f.read().split()[:2]
        self.known_hosts = os.path.join(tmp, "known_hosts.asyncssh")
        with open(self.known_hosts, "w") as f:
            f.write("[127.0.0.1]:%d %s %s\n" % (self.port, alg, blob))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


def run_ferry(asrv, batch, known_hosts=None, name="ferry", key=None, opts=()):
    """ferry -b BATCH against the asyncssh server; (rc, stdout, stderr)."""
    bf = os.path.join(asrv.tmp, name + ".batch")
    with open(bf, "w") as f:
        f.write(batch)
    cmd = [FERRY, "-F", "none", "-P", str(asrv.port),
           "-o", "UserKnownHostsFile=" + (known_hosts or asrv.known_hosts),
           "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
           "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
           "-i", key or asrv.key] + list(opts) + ["-b", bf, USER + "@127.0.0.1"]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env["HOME"] = os.path.join(asrv.tmp, "home")  # no ~/.ssh of the caller's
    os.makedirs(env["HOME"], exist_ok=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env,
                       cwd=asrv.tmp)
    for s in SANITIZER:
        check(s not in p.stderr, "%s: sanitizer report in ferry's stderr:\n%s" % (name, p.stderr))
    with open(os.path.join(asrv.tmp, name + ".out"), "w") as f:
        f.write(p.stdout + "\n--- stderr\n" + p.stderr)
    return p.returncode, p.stdout, p.stderr


def ferry_ed25519(asrv):
    """The command line of the other phases with an ed25519 key. ferry
    sends the signed publickey request right behind "none" (RFC 4252 s5
    allows several requests without waiting; the server must answer them
    in order). asyncssh 2.10.1's server handles each request in its own
    task, and answers the "none" after the publickey SUCCESS; ferry drops
    that late FAILURE."""
    data = os.urandom(100000)
    with open(os.path.join(asrv.tmp, "ed.bin"), "wb") as f:
        f.write(data)
    # a failed login is retried by ferry's reconnect: once, soon
    rc, out, err = run_ferry(asrv, "put ed.bin\nget ed.bin ed.got\nrm ed.bin\n",
                             key=asrv.ed25519, name="ferry-ed25519",
                             opts=("-o", "ReconnectAttempts=1", "-o", "ReconnectDelay=0.2"))
    with open(asrv.log, errors="replace") as f:
        slog = [ln.rstrip() for ln in f if re.search(r"Auth for user .* succeeded|"
                                                    r"Remaining auth methods", ln)]
    check(rc == 0, "ferry -i ed25519 key against asyncssh exited %d: %r; asyncssh "
          "server log (last lines): %r" % (rc, err.strip(), slog[-2:]))
    with open(os.path.join(asrv.tmp, "ed.got"), "rb") as f:
        check(f.read() == data, "ed25519 session: bytes")


def ferry_wrong_key(asrv):
    other = os.path.join(asrv.tmp, "a_other")
    keygen(other)
    with open(other + ".pub") as f:
        alg, blob = f.read().split()[:2]
    wrong = os.path.join(asrv.tmp, "known_hosts.a_wrong")
    with open(wrong, "w") as f:
        f.write("[127.0.0.1]:%d %s %s\n" % (asrv.port, alg, blob))
    rc, out, err = run_ferry(asrv, "pwd\n", known_hosts=wrong, name="ferry-wrongkey")
    check(rc != 0, "ferry accepted the asyncssh server under a wrong known_hosts key")
    check("verification failed" in err or "HOST IDENTIFICATION HAS CHANGED" in err,
          "no host key message: %r" % err)
    check("sftp>" not in out, "ferry ran the batch under a wrong host key")


def ferry_batch(asrv, local, big):
    root = asrv.root
    batch = """\
lcd %s
cd /
put big.bin
get big.bin big.got
ls -l
mkdir d1
rename big.bin d1/big2.bin
ls -l d1
put -r tree
get -r tree gottree
rm d1/big2.bin
rmdir d1
ls -1
pwd
""" % local
    rc, out, err = run_ferry(asrv, batch, name="ferry-main")
    check(rc == 0, "ferry batch exited %d:\n%s\n--- stderr:\n%s" % (rc, out, err))
    check(sha_file(os.path.join(local, "big.got")) == sha(big), "get: bytes")
    # the listing after put: big.bin with its size
    m = re.search(r"^-\S+\s+.*\s%d\s.*\bbig\.bin$" % len(big), out, re.M)
    check(m, "ls -l does not show big.bin with its size:\n" + out)
    m = re.search(r"^-\S+\s+.*\s%d\s.*\bbig2\.bin$" % len(big), out, re.M)
    check(m, "ls -l d1 does not show the renamed file:\n" + out)
    check(re.search(r"^Remote working directory: /$", out, re.M), "pwd:\n" + out)
    check(not os.path.exists(os.path.join(root, "d1")), "rm/rmdir left d1")
    check(not os.path.exists(os.path.join(root, "big.bin")), "rename left big.bin")
    want = tree_of(os.path.join(local, "tree"))
    check(tree_of(os.path.join(root, "tree")) == want, "put -r: remote tree differs")
    check(tree_of(os.path.join(local, "gottree")) == want, "get -r: local tree differs")
    check(sorted(os.listdir(root)) == ["tree"], "left on the server: %r" % os.listdir(root))
    return len(want)


def ferry_df(asrv):
    # asyncssh announces statvfs@openssh.com "2"
    rc, out, err = run_ferry(asrv, "df /\ndf -i /\n", name="ferry-df")
    check(rc == 0, "df exited %d: %s" % (rc, err))
    ref = os.statvfs(asrv.root)
    rows = re.findall(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%$", out, re.M)
    check(len(rows) == 2, "df output:\n" + out)
    check(int(rows[0][0]) == ref.f_blocks * ref.f_frsize // 1024,
          "df size %s, want %d" % (rows[0][0], ref.f_blocks * ref.f_frsize // 1024))
    check(int(rows[1][0]) == ref.f_files, "df -i inodes %s, want %d" % (rows[1][0], ref.f_files))


def ferry_chmod(asrv):
    p = os.path.join(asrv.root, "tree", "e", "f03.txt")
    rc, out, err = run_ferry(asrv, "chmod 600 tree/e/f03.txt\nchmod 751 tree/a\n",
                             name="ferry-chmod")
    check(rc == 0, "chmod exited %d: %s" % (rc, err))
    check(stat.S_IMODE(os.stat(p).st_mode) == 0o600, "chmod 600")
    check(stat.S_IMODE(os.stat(os.path.join(asrv.root, "tree", "a")).st_mode) == 0o751,
          "chmod 751 of a directory")


def ferry_symlink(asrv):
    root = asrv.root
    before = symlinks_made(root, set())
    target = os.path.join(root, "tree", "a", "f00.txt")
    want = sha_file(target)
    rc, out, err = run_ferry(asrv, "ln -s tree/a/f00.txt sl\n", name="ferry-ln")
    made = ["%s -> %s" % (os.path.relpath(m, root), os.readlink(m))
            for m in sorted(symlinks_made(root, before))]
    check(sha_file(target) == want, "ln -s changed its target file")
    check(rc == 0, "ln -s tree/a/f00.txt sl (ferry sends OpenSSH's order; the asyncssh "
          "server takes it only from a client named OpenSSH/paramiko) exited %d: %s; "
          "links made: %r" % (rc, err.strip(), made))
    sl = os.path.join(root, "sl")
    check(os.path.islink(sl) and os.readlink(sl) == "tree/a/f00.txt",
          "ln -s tree/a/f00.txt sl: links made: %r" % made)


def server_side(tmp):
    asrv = AsyncsshServer(tmp)
    try:
        local = os.path.join(tmp, "flocal")
        os.mkdir(local)
        big = os.urandom(5 * 1024 * 1024 + 4321)
        with open(os.path.join(local, "big.bin"), "wb") as f:
            f.write(big)
        make_tree(os.path.join(local, "tree"))
        phase("ferry refuses the asyncssh server under a wrong known_hosts key",
              ferry_wrong_key, asrv)
        if phase("ferry with an ed25519 key (publickey pipelined behind none): put/get",
                 ferry_ed25519, asrv) is None:
            # reported above; an RSA key is never sent behind "none" (its
            # signature algorithm waits for server-sig-algs), so the rest
            # still runs through ferry's SFTP engine
            asrv.key = asrv.rsa
            print("# the ferry phases below use an RSA key")
        shutil.rmtree(asrv.root)  # what a failed phase may have left
        os.mkdir(asrv.root)
        phase("ferry batch against asyncssh: put/get %d bytes, ls -l, mkdir, rename, rm, "
              "rmdir, put -r/get -r of a tree, trees compared" % len(big),
              ferry_batch, asrv, local, big)
        phase("ferry df and df -i (statvfs@openssh.com) match the server's filesystem",
              ferry_df, asrv)
        phase("ferry chmod of a file and a directory", ferry_chmod, asrv)
        phase("ferry ln -s against asyncssh", ferry_symlink, asrv)
        phase("the asyncssh server served every session and is still up",
              lambda: check(asrv.proc.poll() is None, "the asyncssh server exited"))
    finally:
        asrv.stop()


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--serve":
        serve(*sys.argv[2:])
        return
    for b in (FERRYD, FERRY):
        if not os.access(b, os.X_OK):
            fail(b + " not built (FERRY_BUILD=%r)" % BUILD)
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="ferry-asyncssh.")
    srv = None
    try:
        print("# asyncssh %s" % asyncssh.__version__)
        srv = Ferryd(tmp)
        asyncio.run(client_side(srv, tmp))
        phase("ferryd clean shutdown, no sanitizer report in its log", srv.stop)
        srv = None
        server_side(tmp)
    except Exception as e:  # noqa: BLE001 - report any failure with the logs
        import traceback
        traceback.print_exc()
        FAILURES.append("unexpected: %r" % e)
    finally:
        if srv is not None:
            srv.kill()
    finish(tmp, t0)


if __name__ == "__main__":
    main()
