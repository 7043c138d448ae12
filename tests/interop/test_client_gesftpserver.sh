#!/usr/bin/env bash
# test_client_gesftpserver.sh: ferry against the Green End SFTP server
# (Debian gesftpserver 2~ds-1, upstream version 2: /usr/libexec/gesftpserver),
# an SFTP server written independently of OpenSSH and of ferryd. It speaks
# SFTP versions 3 to 6 ("versions" extension: 3,4,5,6); ferry sends INIT 3,
# so version 3 is negotiated (`version` prints "SFTP protocol version 3").
# At version 3 its VERSION reply offers exactly these extensions:
#   fsync@openssh.com 1, hardlink@openssh.com 1, posix-rename@openssh.com 1,
#   posix-rename@openssh.org, space-available, statfs@openssh.org,
#   statvfs@openssh.com 2, fstatvfs@openssh.com 2,
#   vendor-id ("Green End", "Green End SFTP Server", "2", build 0),
#   symlink-order@rjk.greenend.org.uk "linkpath-targetpath"
# (no limits@openssh.com, so ferry's requests are 32 KiB; no check-file, so
# resumes are by size only; no copy-data, no users-groups-by-id). It works
# its requests on several threads and may complete non-overlapping WRITEs
# of one handle out of order. Unlike OpenSSH it takes SSH_FXP_SYMLINK's
# arguments in the draft's order (linkpath first) and says so in
# symlink-order@rjk.greenend.org.uk. The offer is read here by a small
# probe (INIT 3 and INIT 6 on the server's pipes) and pinned, so that a
# newer gesftpserver that changes it shows up; ferry -v must report the
# same version and extensions.
#
#  1. no SSH: one batch run by `ferry -D gesftpserver` and by OpenSSH's
#     `sftp -D gesftpserver`, each in its own local and remote tree: put and
#     get of a 5 MiB file and of an empty file (compared with the source and
#     with the copy on disk), put -p (mode and mtime on disk), mkdir, rename
#     (also onto an existing file: posix-rename), ln (hardlink@openssh.com:
#     one inode on disk), chmod (modes on disk), rm, rmdir, put -rp / get -r
#     of a tree with an empty directory and 250 entries in one directory
#     (diff -r), ls -1 and ls -l (sizes compared with the disk); the two
#     outputs (dates masked) and the two resulting trees must be identical;
#     failing commands behind '-' reported and the batch going on; df and
#     df -i (statvfs@openssh.com) against statvfs(2); ln -s / symlink: the
#     link on disk named and pointing as asked; through a relay that holds
#     CLOSE replies for 0.5 s: every request answered before ferry closes
#     the server's pipe;
#  2. over SSH: OpenSSH's sshd started here on a loopback port with its own
#     sshd_config (Subsystem sftp gesftpserver, key authentication as the
#     user running the test: root, who alone can start sshd),
#     its log showing it ran gesftpserver; the same batch with ferry -b:
#     output and trees identical to the run without SSH;
#  3. reget, reput, get -a and put -a continuing truncated copies (over SSH):
#     ferry warns that it resumed by size only (gesftpserver has no
#     check-file) and never claims a verified prefix; a byte flipped in a
#     kept part stays flipped (only the missing tail travelled); clean kept
#     parts end equal to the source;
#  4. ferry's automatic resume over SSH through cutproxy.py: a put and a get
#     of 64 MiB, each cut once mid-transfer (RST), ReconnectDelay=0.2: equal
#     files, "Connection lost; reconnecting" and "Reconnected" on stderr,
#     resumed by size, fewer bytes than starting over.
# ferry's stderr must never carry a sanitizer report. Checks that fail
# because of a ferry bug are collected with `bug` and reported together at
# the end, after everything else has run; the test fails on them. When it
# was written it found three, fixed since (eighth session of 2026-12-08):
#  - ln -s / symlink: ferry ignored symlink-order@rjk.greenend.org.uk and
#    sent OpenSSH's reversed SSH_FXP_SYMLINK (target first), so
#    gesftpserver was asked for a link named after the target;
#  - get -r: OpenSSH's sftp makes each local directory with the remote
#    directory's permissions (less the umask), with or without -p; ferry
#    made them 0777 less the umask (tree/sub is 0750 here);
#  - at the end of a -D session ferry closed the server's pipe without
#    waiting for the replies to the last listing's CLOSE (and the READDIRs
#    it sent ahead); gesftpserver's answer then met a closed pipe and it
#    printed "FATAL: error sending response: Broken pipe" on ferry's
#    stderr (the relay makes that certain). OpenSSH's sftp waits, and so
#    does ferry now.
# Only processes started here (sshd, cutproxy) are signalled, by PID.
. "$FERRY_SRC/tests/interop/lib.sh"
. "$FERRY_SRC/tests/interop/resume_lib.sh"
. "$FERRY_SRC/tests/interop/client_lib.sh"

# the server binary: the package's one executable file (Debian installs it
# as /usr/libexec/gesftpserver; older packages had /usr/lib/sftp-server)
GES=/usr/libexec/gesftpserver
if dpkg -L gesftpserver >/dev/null 2>&1; then
    for f in $(dpkg -L gesftpserver); do
        if [ -f "$f" ] && [ -x "$f" ]; then
            GES=$f
            break
        fi
    done
fi
SSHD=/usr/sbin/sshd
need "$GES" "$SSHD" sftp ssh-keygen python3 timeout cmp diff stat readlink md5sum
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"
# a server run by -D works in ferry's working directory
cd "$T"

BUGS=""
# known failures: collected, reported at the end (the test still fails)
bug() {
    echo "BUG: $*" >&2
    BUGS="$BUGS
  - $*"
}

fail() {
    echo "FAIL: $*" >&2
    if [ -n "$SSHD_PID" ] && [ -s "$T/sshd.log" ]; then
        echo "--- last lines of the sshd log:" >&2
        tail -n 20 "$T/sshd.log" >&2
    fi
    exit 1
}

# fr NAME ARGS...: ferry with no configuration, agent or global known_hosts;
# output in $T/NAME.out and $T/NAME.err; returns ferry's status. A
# sanitizer report fails the test whatever the status.
fr() {
    local name=$1 st=0
    shift
    timeout 120 "$FERRY" "$@" >"$T/$name.out" 2>"$T/$name.err" || st=$?
    no_sanitizer "$T/$name.err"
    return $st
}
must() {
    local name=$1
    fr "$@" || { cat "$T/$name.err" >&2; fail "$name: ferry exited non-zero"; }
}

# ---- the server's offer ----

# probe VERSION: the server's VERSION reply to an INIT of that version,
# one line for the version, then one "name data" line per extension
# (vendor-id's data decoded to its three strings).
probe() {
    python3 - "$GES" "$1" <<'EOF'
import struct, subprocess, sys
p = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
p.stdin.write(struct.pack(">IBI", 5, 1, int(sys.argv[2])))
p.stdin.flush()
n = struct.unpack(">I", p.stdout.read(4))[0]
d = p.stdout.read(n)
p.stdin.close()
p.wait()
if d[0] != 2:
    sys.exit("not a VERSION packet: type %d" % d[0])
print("version %d" % struct.unpack(">I", d[1:5])[0])
def strings(b):
    out, i = [], 0
    while i + 4 <= len(b):
        l = struct.unpack(">I", b[i:i + 4])[0]
        out.append(b[i + 4:i + 4 + l])
        i += 4 + l
    return out, b[i:]
pairs, _ = strings(d[5:])
for name, data in zip(pairs[0::2], pairs[1::2]):
    if name == b"vendor-id":
        s, rest = strings(data)
        data = b"/".join(s[:3])
    print(name.decode(), data.decode("latin-1").replace("\n", "\\n"))
EOF
}
probe 3 >"$T/offer3" || fail "no VERSION from $GES"
probe 6 >"$T/offer6" || fail "no VERSION (6) from $GES"
cat >"$T/offer3.want" <<'EOF'
version 3
fsync@openssh.com 1
hardlink@openssh.com 1
posix-rename@openssh.com 1
posix-rename@openssh.org 
space-available 
statfs@openssh.org 
statvfs@openssh.com 2
fstatvfs@openssh.com 2
vendor-id Green End/Green End SFTP Server/2
symlink-order@rjk.greenend.org.uk linkpath-targetpath
EOF
diff -u "$T/offer3.want" "$T/offer3" >&2 ||
    fail "gesftpserver's version 3 offer changed: update this test and its header"
grep -qx "versions 3,4,5,6" "$T/offer6" || fail "gesftpserver no longer offers versions 3..6"
grep -qx "version 6" "$T/offer6" || fail "gesftpserver does not answer INIT 6 with version 6"
# ferry -v reports the same offer (the version and each extension)
echo pwd >"$T/v.batch"
"$FERRY" -v -D "$GES" -b "$T/v.batch" >/dev/null 2>"$T/v.err" || fail "ferry -v -D: $(cat "$T/v.err")"
grep -q 'debug: sftp: server version 3$' "$T/v.err" || fail "ferry -v does not show the SFTP version: $(cat "$T/v.err")"
[ "$(grep -c 'debug: sftp: server extension ' "$T/v.err")" = "$(($(wc -l <"$T/offer3") - 1))" ] ||
    fail "ferry -v does not show every extension: $(grep 'sftp: server' "$T/v.err")"
grep -q 'debug: sftp: server extension "symlink-order@rjk.greenend.org.uk" "linkpath-targetpath"$' "$T/v.err" ||
    fail "ferry -v does not show symlink-order's data"
GES_VERSION=$(dpkg-query -W -f='${Version}' gesftpserver 2>/dev/null || echo unknown)
ok "gesftpserver $GES_VERSION ($GES): versions 3..6, at 3 offers $(($(wc -l <"$T/offer3") - 1)) extensions, no check-file, no limits@openssh.com; ferry -v shows them"

# ---- fixtures and the batch ----

# fixture DIR: the local files the batch uploads (made once, copied)
fixture() {
    mkdir -p "$1/tree/sub/deeper" "$1/tree/empty" "$1/tree/many"
    make_file "$1/big.bin" $((5 * 1024 * 1024 + 3))
    : >"$1/empty.bin"
    echo "first file" >"$1/f1.txt"
    echo "the second file, longer than the first" >"$1/f2.txt"
    chmod 600 "$1/f1.txt"
    touch -d '2021-03-04 05:06:07' "$1/f1.txt" "$1/f2.txt"
    make_file "$1/tree/large.bin" 1500000
    make_file "$1/tree/sub/mid.bin" 70001
    echo x >"$1/tree/a.txt"
    echo y >"$1/tree/sub/deeper/b.txt"
    : >"$1/tree/sub/zero"
    chmod 640 "$1/tree/a.txt"
    chmod 750 "$1/tree/sub"
    # more entries than one READDIR of gesftpserver brings
    for i in $(seq 250); do : >"$1/tree/many/e$i"; done
}
# batch FILE REMOTE LOCAL: '@' keeps the per-run paths out of the output
batch() {
    cat >"$1" <<EOF
@cd $2
@lcd $3
put big.bin
put empty.bin
get big.bin big.back
get empty.bin empty.back
mkdir d1
put -p f1.txt d1/
put -p f2.txt d1/
ls -1 d1
rename d1/f2.txt d1/f1.txt
rename big.bin big2.bin
ln big2.bin hard.bin
ls -l big2.bin
ls -l empty.bin
ls -l d1
ls -l d1/f1.txt
chmod 640 d1/f1.txt
chmod 750 d1
mkdir gone
rmdir gone
put f1.txt gone.txt
rm gone.txt
put -rp tree
get -r tree gottree
ls -1
ls -1 tree
ls -l tree/sub
ls -1 tree/many
-ls nonexistent
-rm nonexistent
-rmdir d1
-mkdir d1
-get nonexistent.bin
-cd nonexistent
pwd
version
EOF
}
mkdir -p "$T/fixture"
fixture "$T/fixture"

# prepare NAME: fresh $T/NAME/{local,remote} and $T/NAME/batch
prepare() {
    rm -rf "${T:?}/$1"
    mkdir -p "$T/$1/remote"
    cp -a "$T/fixture" "$T/$1/local"
    batch "$T/$1/batch" "$T/$1/remote" "$T/$1/local"
}
# masked NAME: the output with the run's paths and ls -l dates masked
masked() {
    sed -E "s|$T/$1/|ROOT/|g; s/[A-Z][a-z]{2} [ 0-9][0-9] ( [0-9]{4}|[0-9]{2}:[0-9]{2}) /DATE /" \
        "$T/$1/out"
}

# check_run NAME: what the batch left on disk, and ls -l sizes against it
check_run() {
    local n=$1 R="$T/$1/remote" L="$T/$1/local" line cmd arg path size dir f
    same "$L/big.bin" "$R/big2.bin"
    same "$L/big.bin" "$L/big.back"
    for f in "$R/empty.bin" "$L/empty.back"; do
        if [ ! -f "$f" ] || [ -s "$f" ]; then fail "$n: $f is not an empty file"; fi
    done
    [ ! -e "$R/big.bin" ] || fail "$n: rename left the old name"
    [ ! -e "$R/d1/f2.txt" ] || fail "$n: rename onto a file left the old name"
    same "$L/f2.txt" "$R/d1/f1.txt"
    [ "$(stat -c %i "$R/hard.bin")" = "$(stat -c %i "$R/big2.bin")" ] || fail "$n: ln: not one inode"
    [ "$(stat -c %a "$R/d1/f1.txt")" = 640 ] || fail "$n: chmod 640: $(stat -c %a "$R/d1/f1.txt") on disk"
    [ "$(stat -c %a "$R/d1")" = 750 ] || fail "$n: chmod 750 (directory): $(stat -c %a "$R/d1") on disk"
    # put -p: the mtime of f2.txt (renamed onto f1.txt) kept
    [ "$(stat -c %Y "$R/d1/f1.txt")" = "$(stat -c %Y "$L/f2.txt")" ] || fail "$n: put -p: mtime not kept"
    [ ! -e "$R/gone" ] || fail "$n: rmdir: the directory is still there"
    [ ! -e "$R/gone.txt" ] || fail "$n: rm: the file is still there"
    diff -r "$L/tree" "$R/tree" >&2 || fail "$n: put -r: the server's tree differs"
    diff -r "$L/tree" "$L/gottree" >&2 || fail "$n: get -r: the tree that came back differs"
    for f in "$R/tree/empty" "$L/gottree/empty"; do
        [ -d "$f" ] || fail "$n: the empty directory not copied: $f"
    done
    [ "$(stat -c %a "$R/tree/sub")" = 750 ] || fail "$n: put -rp: the mode of tree/sub not kept"
    # ls -l: each line's size is the size on disk
    local lines=0
    while IFS= read -r line; do
        case "$line" in
        "sftp> "*)
            cmd=$line
            continue
            ;;
        esac
        case "$cmd" in "sftp> ls -l "*) ;; *) continue ;; esac
        arg=${cmd#sftp> ls -l }
        read -r _ _ _ _ size _ _ _ path <<<"$line"
        if [ -d "$R/$arg" ]; then dir="$R/$arg/"; else dir="$R/"; fi
        [ -e "$dir$path" ] || fail "$n: ls -l ($cmd) lists $path, not on disk"
        [ "$size" = "$(stat -c %s "$dir$path")" ] ||
            fail "$n: ls -l ($cmd): $path has size $size, $(stat -c %s "$dir$path") on disk"
        lines=$((lines + 1))
    done <"$T/$n/out"
    [ "$lines" = 7 ] || { cat "$T/$n/out" >&2; fail "$n: $lines ls -l lines, not 7"; }
    # ls -1 of 250 entries: each once
    [ "$(sed -n '/^sftp> ls -1 tree\/many$/,/^sftp> /p' "$T/$n/out" | grep -c '^tree/many/e[0-9]*$')" = 250 ] ||
        fail "$n: ls -1 of 250 entries"
    # failing commands behind '-' reported (ferry's words), the batch went on
    [ "$(grep -c . "$T/$n/err")" -ge 6 ] || { cat "$T/$n/err" >&2; fail "$n: not 6 error lines"; }
    grep -q "^SFTP protocol version 3$" "$T/$n/out" || fail "$n: not SFTP protocol version 3"
}

# ---- 1. no SSH: ferry -D and sftp -D ----

prepare pipe-ferry
prepare pipe-sftp
(cd "$T/pipe-ferry" && fr pipe-ferry.run -D "$GES" -b batch) ||
    { cat "$T/pipe-ferry.run.err" >&2; fail "ferry -D $GES: batch failed"; }
mv "$T/pipe-ferry.run.out" "$T/pipe-ferry/out"
mv "$T/pipe-ferry.run.err" "$T/pipe-ferry/err"
(cd "$T/pipe-sftp" && timeout 120 sftp -D "$GES" -b batch >out 2>err) ||
    { cat "$T/pipe-sftp/err" >&2; fail "sftp -D $GES: batch failed (test set-up)"; }
check_run pipe-ferry
ok "ferry -D: put/get of 5 MiB and of an empty file compared; mkdir, rename (onto a file too), ln, chmod, rm, rmdir on disk; put -rp/get -r (diff -r); ls -l sizes equal the disk"
# differences are collected (bug), the test goes on: "-" lines are OpenSSH
# sftp's, "+" lines ferry's
differ() {
    local what=$1 a=$2 b=$3
    local out="$T/pair-${what// /-}.diff"
    if ! diff -u "$a" "$b" >"$out"; then
        bug "ferry -D vs sftp -D against gesftpserver: the $what differ: $(grep '^[-+][^-+]' "$out" | head -n 6 | paste -sd'|') (see $out)"
        return 1
    fi
}
masked pipe-sftp >"$T/pipe-sftp.masked"
masked pipe-ferry >"$T/pipe-ferry.masked"
tree_of "$T/pipe-sftp/remote" >"$T/pipe-sftp.rtree"
tree_of "$T/pipe-ferry/remote" >"$T/pipe-ferry.rtree"
tree_of "$T/pipe-sftp/local" >"$T/pipe-sftp.ltree"
tree_of "$T/pipe-ferry/local" >"$T/pipe-ferry.ltree"
same_out=0
differ outputs "$T/pipe-sftp.masked" "$T/pipe-ferry.masked" || same_out=1
differ "remote trees" "$T/pipe-sftp.rtree" "$T/pipe-ferry.rtree" || same_out=1
# OpenSSH's get -r makes each local directory with the remote one's
# permissions (less the umask), with or without -p
differ "local trees" "$T/pipe-sftp.ltree" "$T/pipe-ferry.ltree" || same_out=1
[ $same_out = 1 ] ||
    ok "ferry -D and sftp -D: same output (dates masked), same remote and local trees (types, modes, sizes, contents)"

# df and df -i: statvfs@openssh.com against statvfs(2) of the remote tree
R1="$T/pipe-ferry/remote"
printf '%s\n' "df $R1" "df -i $R1" | must df -D "$GES" -b -
read -r want_kib want_inodes < <(python3 -c 'import os, sys
s = os.statvfs(sys.argv[1]); print(s.f_blocks * s.f_frsize // 1024, s.f_files)' "$R1")
got=$(sed -n '/^sftp> df \//,/^sftp> df -i/p' "$T/df.out" | awk '$1 ~ /^[0-9]+$/ {print $1}')
got_i=$(sed -n '/^sftp> df -i/,$p' "$T/df.out" | awk '$1 ~ /^[0-9]+$/ {print $1}')
[ "$got" = "$want_kib" ] || { cat "$T/df.out" >&2; fail "df: size $got KiB, statvfs says $want_kib"; }
[ "$got_i" = "$want_inodes" ] || { cat "$T/df.out" >&2; fail "df -i: $got_i inodes, statvfs says $want_inodes"; }
ok "df and df -i (statvfs@openssh.com): $got KiB, $got_i inodes, as statvfs(2)"

# ln -s / symlink: gesftpserver wants the link's name first (its
# symlink-order@rjk.greenend.org.uk says "linkpath-targetpath")
printf '%s\n' "cd $R1" "-ln -s big2.bin link" "-symlink nothere dangling" "ls -l" >"$T/sym.batch"
(cd "$R1" && must sym -D "$GES" -b "$T/sym.batch")
if [ -L "$R1/link" ] && [ "$(readlink "$R1/link")" = big2.bin ] &&
    [ -L "$R1/dangling" ] && [ "$(readlink "$R1/dangling")" = nothere ] && [ ! -L "$R1/nothere" ] &&
    ! grep -q "^Couldn't" "$T/sym.err" && grep -q '^l[-rwx]\{9\} .* link$' "$T/sym.out"; then
    ok "ln -s and symlink: the links on disk are named and point as asked"
else
    bug "ln -s against gesftpserver: ferry ignores symlink-order@rjk.greenend.org.uk (linkpath-targetpath) and sends OpenSSH's order: 'ln -s big2.bin link' -> '$(head -n1 "$T/sym.err")'; 'symlink nothere dangling' made $(if [ -L "$R1/nothere" ]; then echo "nothere -> $(readlink "$R1/nothere")"; else echo "no nothere link"; fi) (see $T/sym.out, $T/sym.err)"
fi
rm -f "$R1/link" "$R1/dangling" "$R1/nothere"

# every request answered before ferry lets go of the server: a relay
# between ferry and gesftpserver holds each reply to a CLOSE for 0.5 s and
# logs which requests were still unanswered when ferry closed its end (a
# server whose answer finds the pipe closed complains: gesftpserver prints
# "FATAL: error sending response: Broken pipe" on ferry's stderr)
cat >"$T/relay.py" <<'EOF'
import os, struct, sys, threading, time
server, logname = sys.argv[1], sys.argv[2]
c2s_r, c2s_w = os.pipe()
s2c_r, s2c_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(c2s_r, 0)
    os.dup2(s2c_w, 1)
    for fd in (c2s_r, c2s_w, s2c_r, s2c_w):
        os.close(fd)
    os.execv(server, [server])
os.close(c2s_r)
os.close(s2c_w)
lock = threading.Lock()
pending = {}  # request id -> type
log = open(logname, "w")

def packets(fd):
    buf = b""
    while True:
        d = os.read(fd, 65536)
        if not d:
            return
        buf += d
        while len(buf) >= 5 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            n = 4 + struct.unpack(">I", buf[:4])[0]
            yield buf[:n]
            buf = buf[n:]

def up():
    for pkt in packets(0):
        if pkt[4] != 1:  # not INIT: a request with an id
            rid = struct.unpack(">I", pkt[5:9])[0]
            with lock:
                pending[rid] = pkt[4]
                log.write("request %d id %d\n" % (pkt[4], rid))
        os.write(c2s_w, pkt)
    with lock:
        log.write("client EOF, unanswered: %s\n" %
                  " ".join("%d:%d" % kv for kv in sorted(pending.items())))
        log.flush()
    os.close(c2s_w)

t = threading.Thread(target=up)
t.start()
for pkt in packets(s2c_r):
    rid = struct.unpack(">I", pkt[5:9])[0] if pkt[4] != 2 else None
    with lock:
        kind = pending.get(rid)
    if kind == 4:  # SSH_FXP_CLOSE
        time.sleep(0.5)
    try:
        os.write(1, pkt)
    except OSError:
        pass
    with lock:
        pending.pop(rid, None)
t.join()
os.waitpid(pid, 0)
log.close()
EOF
printf '%s\n' "ls -l $R1" >"$T/relay.batch"
must relay -D "python3 $T/relay.py $GES $T/relay.log" -b "$T/relay.batch"
for type in 12 4; do # READDIR, CLOSE
    grep -q "^request $type " "$T/relay.log" ||
        fail "the relay saw no request of type $type (test set-up): $(cat "$T/relay.log")"
done
grep -q "^client EOF, unanswered: " "$T/relay.log" || fail "the relay saw no end (test set-up)"
if grep -qx "client EOF, unanswered: " "$T/relay.log"; then
    ok "ferry -D waits for every reply (a CLOSE answered after 0.5 s) before it closes the server's pipe"
else
    bug "ferry -D closed gesftpserver's pipe with requests unanswered (id:type) $(sed -n 's/^client EOF, unanswered: //p' "$T/relay.log") (12 READDIR, 4 CLOSE) after 'ls -l': the listing's read-ahead READDIRs and its CLOSE are not waited for at the end of the session; without the relay gesftpserver's reply then meets a closed pipe and it prints 'FATAL: error sending response: Broken pipe' on ferry's stderr (see $T/relay.log)"
fi

# ---- 2. OpenSSH's sshd with gesftpserver as its sftp subsystem ----

ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519"
make_user_key ed25519
chmod 600 "$T/authorized_keys"
mkdir -p /run/sshd
SSHD_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
printf '%s\n' "ListenAddress 127.0.0.1" "Port $SSHD_PORT" "HostKey $T/host_ed25519" \
    "AuthorizedKeysFile $T/authorized_keys" "PasswordAuthentication no" \
    "KbdInteractiveAuthentication no" "UsePAM no" "StrictModes no" "PidFile none" \
    "PermitRootLogin yes" "Subsystem sftp $GES" "LogLevel DEBUG1" >"$T/sshd_config"
"$SSHD" -t -f "$T/sshd_config" 2>"$T/sshd_t.log" || fail "sshd_config refused: $(cat "$T/sshd_t.log")"
"$SSHD" -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
SSHD_PID=$!
for _ in $(seq 1 100); do
    grep -q "Server listening" "$T/sshd.log" 2>/dev/null && break
    kill -0 "$SSHD_PID" 2>/dev/null || { SSHD_PID=""; fail "sshd died"; }
    sleep 0.1
done
grep -q "Server listening" "$T/sshd.log" || fail "sshd did not start"
KH="$T/known_hosts"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >"$KH"
ME=$(id -un)
SSH_OPTS=(-F none -o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none
    -i "$T/id_ed25519")

prepare ssh
(cd "$T/ssh" && fr ssh.run -P "$SSHD_PORT" "${SSH_OPTS[@]}" -b batch "$ME@127.0.0.1") ||
    { cat "$T/ssh.run.err" >&2; fail "ferry over SSH: batch failed"; }
mv "$T/ssh.run.out" "$T/ssh/out"
mv "$T/ssh.run.err" "$T/ssh/err"
tr -d '\r' <"$T/sshd.log" | grep -qxF "debug1: subsystem: exec() $GES" ||
    fail "sshd did not run $GES for the sftp subsystem"
check_run ssh
diff -u <(masked pipe-ferry) <(masked ssh) >&2 || fail "ferry over SSH: output differs from ferry -D's"
diff -u <(tree_of "$T/pipe-ferry/remote") <(tree_of "$T/ssh/remote") >&2 ||
    fail "ferry over SSH: the remote tree differs from ferry -D's"
diff -u <(tree_of "$T/pipe-ferry/local") <(tree_of "$T/ssh/local") >&2 ||
    fail "ferry over SSH: the local tree differs from ferry -D's"
ok "over sshd (Subsystem sftp $GES, port $SSHD_PORT): the same batch, files compared, same output and trees as without SSH"

# ---- 3. reget, reput, get -a, put -a ----

RS="$T/resume/remote"
LS="$T/resume/local"
mkdir -p "$RS" "$LS"
make_file "$LS/src.bin" $((6 * 1024 * 1024 + 11))
cp "$LS/src.bin" "$RS/src.bin"
head -c 3000000 "$LS/src.bin" >"$RS/reput.bin"
head -c 777 "$LS/src.bin" >"$RS/puta.bin"
head -c 1234567 "$LS/src.bin" >"$LS/reget.bin"
head -c 4000000 "$LS/src.bin" >"$LS/geta.bin"
# one byte flipped in two kept parts: resumed by size, it stays flipped
flip_byte "$RS/reput.bin" 1000
flip_byte "$LS/reget.bin" 5000
cat >"$T/resume.batch" <<EOF
@cd $RS
@lcd $LS
reput src.bin reput.bin
reget src.bin reget.bin
put -a src.bin puta.bin
get -a src.bin geta.bin
EOF
must resume -P "$SSHD_PORT" "${SSH_OPTS[@]}" -b "$T/resume.batch" "$ME@127.0.0.1"
for f in "$RS/reput.bin" "$LS/reget.bin"; do
    [ "$(stat -c %s "$f")" = "$(stat -c %s "$LS/src.bin")" ] || fail "$f: not completed to the source's size"
done
[ "$(cmp -l "$LS/src.bin" "$RS/reput.bin" | awk '{print $1}' | paste -sd,)" = 1001 ] ||
    fail "reput: the result does not differ from the source in exactly the flipped byte 1001"
[ "$(cmp -l "$LS/src.bin" "$LS/reget.bin" | awk '{print $1}' | paste -sd,)" = 5001 ] ||
    fail "reget: the result does not differ from the source in exactly the flipped byte 5001"
same "$LS/src.bin" "$RS/puta.bin"
same "$LS/src.bin" "$LS/geta.bin"
for name in "$RS/reput.bin" reget.bin "$RS/puta.bin" geta.bin; do
    grep -qxF "Warning: server offers no file hash; \"$name\" resumed by size only" "$T/resume.err" ||
        { cat "$T/resume.err" >&2; fail "no 'resumed by size only' warning for $name"; }
done
! grep -q "prefix verified\|does not match" "$T/resume.err" ||
    fail "ferry claims a hash check although gesftpserver offers no check-file"
ok "reput, reget, put -a, get -a: completed by size (a flipped kept byte stays: only the tails travelled), 'resumed by size only' warned for each"

# ---- 4. automatic resume through cutproxy ----

BIG=$((64 * 1024 * 1024))
CUT=$((20 * 1000 * 1000))
make_file "$LS/big64.bin" $((BIG + 5))
cp "$LS/big64.bin" "$RS/down64.bin"
# cut NAME DIRECTION BATCH-LINE: one transfer through the proxy, cut once
cut_run() {
    local name=$1 dir=$2
    echo "$3" >"$T/$name.batch"
    proxy_start "$name" "$SSHD_PORT" --cut "$CUT:$dir"
    proxy_known_hosts "$T/$name.kh" "$T/host_ed25519.pub"
    local st=0
    timeout 100 "$FERRY" -F none -P "$PROXY_PORT" -o UserKnownHostsFile="$T/$name.kh" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
        -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519" -o ReconnectDelay=0.2 \
        -b "$T/$name.batch" "$ME@127.0.0.1" >"$T/$name.out" 2>"$T/$name.err" || st=$?
    proxy_stop
    no_sanitizer "$T/$name.err"
    [ $st -eq 0 ] || { cat "$T/$name.err" >&2; fail "$name: ferry exited $st"; }
    expect_losses "$name" 1
    grep -q "^Connection lost; reconnecting (attempt 1 of 5)" "$T/$name.err" ||
        { cat "$T/$name.err" >&2; fail "$name: no 'Connection lost; reconnecting'"; }
    grep -qx "Reconnected" "$T/$name.err" || { cat "$T/$name.err" >&2; fail "$name: no 'Reconnected'"; }
    grep -q "Warning: server offers no file hash; \".*\" resumed by size only" "$T/$name.err" ||
        { cat "$T/$name.err" >&2; fail "$name: no 'resumed by size only' warning"; }
    resumed_not_restarted "$name" "$dir" "$BIG" 1 "$CUT"
}
cut_run cutput up "put $LS/big64.bin $RS/up64.bin"
same "$LS/big64.bin" "$RS/up64.bin"
no_leftovers "$RS"
ok "put of 64 MiB cut once after $CUT bytes: reconnected, resumed by size, the file on disk equal"
cut_run cutget down "get $RS/down64.bin $LS/down64.bin"
same "$LS/big64.bin" "$LS/down64.bin"
ok "get of 64 MiB cut once after $CUT bytes: reconnected, resumed by size, the download equal"

# ---- the end ----

sshd_stop
n=0
for f in "$T"/*.err "$T"/*/err; do
    no_sanitizer "$f"
    n=$((n + 1))
done
[ -z "$BUGS" ] || fail "ferry problems against gesftpserver:$BUGS"
ok "no sanitizer report in $n ferry stderr files"
