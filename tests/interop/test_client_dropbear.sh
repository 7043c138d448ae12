#!/usr/bin/env bash
# test_client_dropbear.sh: ferry's SSH client against Dropbear's server
# (dropbear-bin, an SSH-2 implementation independent of OpenSSH and of
# ours), which serves the "sftp" subsystem by running OpenSSH's
# sftp-server from the path compiled into it.
#
# Dropbear servers are started here, in the foreground on a loopback port
# the kernel picks (read back with ss), with host keys made by dropbearkey:
# one with ed25519, ecdsa P-256 and rsa keys, one with ed25519, ecdsa P-384
# and P-521 keys (dropbear takes at most four host keys), and for 7. one
# with an ecdsa P-256 key alone. All are ended by PID at exit. Sessions
# log in as ferrydropbear, an account of this test (accounts.sh), whose
# ~/.ssh/authorized_keys is written here and removed at exit; the files
# travel to and from $T/remote, which that account owns.
#
#  1. the host key: unknown refused in BatchMode, accept-new stores
#     dropbearkey's public key, a changed key refused naming the line;
#  2. put/get of 3 MiB compared (original, copy on disk, download);
#     64 MiB each way across dropbear's 24 KiB receive window with ferry's
#     RekeyLimit forcing key re-exchanges, twice (AEAD and CTR+HMAC);
#     zlib@openssh.com compression;
#  3. ls of a directory of 200 entries; mkdir/rename/chmod/ln -s/rm/rmdir
#     checked on disk; put -r/get -r of a tree compared with diff -r;
#  4. every cipher, MAC, kex and host key algorithm of ferry's: the ones
#     dropbear offers (read from its KEXINIT here) forced one at a time
#     with a small transfer compared, the others refused;
#  5. publickey with ed25519, ecdsa and rsa keys (ssh-keygen's, and
#     dropbearkey's converted by dropbearconvert), checked in dropbear's
#     log by fingerprint; password through SSH_ASKPASS, a wrong one
#     refused, none asked in batch mode;
#  6. every session ended cleanly on dropbear's side; no packet or crypto
#     error in its log; no sanitizer report in any ferry stderr;
#  7. plain options against a dropbear whose only host key is ECDSA, that
#     key in known_hosts (ferry's guessed first key exchange packet).
. "$FERRY_SRC/tests/interop/lib.sh"
DROPBEAR=/usr/sbin/dropbear
DROPBEARKEY=/usr/bin/dropbearkey
DROPBEARCONVERT=/usr/bin/dropbearconvert
need "$DROPBEAR" "$DROPBEARKEY" "$DROPBEARCONVERT" ssh-keygen ss setsid timeout cmp diff
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"
. "$FERRY_SRC/tests/interop/accounts.sh"

DUSER=ferrydropbear
DPASS=Dropbear-Pass-1
DB_PIDS=""
AK_MADE=""
SSH_DIR_MADE=""

test_cleanup() {
    local p c
    for p in $DB_PIDS; do
        # the per-connection children first (any still there), then the listener
        for c in $(pgrep -P "$p" 2>/dev/null || true); do kill -TERM "$c" 2>/dev/null || true; done
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    [ -z "$AK_MADE" ] || rm -f "$AK_MADE"
    [ -z "$SSH_DIR_MADE" ] || rmdir "$SSH_DIR_MADE" 2>/dev/null || true
    # rc is _ferry_cleanup's (lib.sh): the test's exit status
    if [ "${rc:-0}" -ne 0 ]; then
        for p in "$T"/dropbear*.log; do
            [ -f "$p" ] || continue
            echo "--- last lines of $p:" >&2
            tail -n 25 "$p" >&2
        done
    fi
}

no_sanitizer() {
    if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error" "$1"; then
        cat "$1" >&2
        fail "sanitizer report in ferry's stderr ($1)"
    fi
}

# fy NAME ARGS...: the ASan ferry with no configuration, no agent, no global
# known_hosts and an empty HOME; stdout and stderr in $T/NAME.out and
# $T/NAME.err; returns ferry's status. A sanitizer report fails the test
# whatever the status. (ferry's -o options are first-wins, as OpenSSH's:
# the per-call ones are all given by the caller.)
fy() {
    local name=$1 st=0
    shift
    HOME="$T/fhome" timeout "${FY_TIMEOUT:-120}" "$FERRY" -F none -o GlobalKnownHostsFile=/dev/null \
        -o IdentityAgent=none "$@" >"$T/$name.out" 2>"$T/$name.err" || st=$?
    no_sanitizer "$T/$name.err"
    return $st
}

# must NAME ARGS...: fy that has to succeed.
must() {
    local name=$1
    fy "$@" || { cat "$T/$name.err" >&2; fail "$name: ferry exited non-zero"; }
}

# ---- dropbear and its sftp-server ----

# dropbear runs the subsystem from a path compiled into it
SFTP_SERVER=$(grep -a -o '/[[:alnum:]_/.-]*sftp-server' "$DROPBEAR" | head -n 1 || true)
[ -n "$SFTP_SERVER" ] || fail "no sftp-server path found in $DROPBEAR"
[ -x "$SFTP_SERVER" ] || fail "$SFTP_SERVER (dropbear's sftp-server) missing: openssh-sftp-server"
# dropbear 2022.83 has no rsa-sha2-512 (host key or user signature): the
# RSA checks below use rsa-sha2-256; a dropbear that knows it needs them extended
! grep -a -q 'rsa-sha2-512' "$DROPBEAR" || fail "this dropbear knows rsa-sha2-512: extend the test"

"$DROPBEARKEY" -t ed25519 -f "$T/host_ed25519" >/dev/null 2>&1
"$DROPBEARKEY" -t ecdsa -s 256 -f "$T/host_ecdsa256" >/dev/null 2>&1
"$DROPBEARKEY" -t ecdsa -s 384 -f "$T/host_ecdsa384" >/dev/null 2>&1
"$DROPBEARKEY" -t ecdsa -s 521 -f "$T/host_ecdsa521" >/dev/null 2>&1
"$DROPBEARKEY" -t rsa -s 3072 -f "$T/host_rsa" >/dev/null 2>&1
# pub_of KEY: the OpenSSH "type base64" public half dropbearkey prints
pub_of() {
    "$DROPBEARKEY" -y -f "$1" 2>/dev/null | grep -E '^(ssh-|ecdsa-)' | cut -d' ' -f1,2
}
# fp_of KEY: its SHA256 fingerprint by dropbearkey
fp_of() {
    "$DROPBEARKEY" -y -f "$1" 2>/dev/null | sed -n 's/^Fingerprint: //p'
}

# db_start NAME KEY...: dropbear in the foreground on 127.0.0.1, port 0;
# sets STARTED_PID and STARTED_PORT; its log in $T/NAME.log
db_start() {
    local name=$1 k i port="" args=()
    shift
    for k; do args+=(-r "$k"); done
    "$DROPBEAR" -F -E -p 127.0.0.1:0 "${args[@]}" -P "$T/$name.pid" 2>"$T/$name.log" &
    STARTED_PID=$!
    DB_PIDS="$DB_PIDS $STARTED_PID"
    for i in $(seq 1 200); do
        port=$(ss -ltnpH 2>/dev/null |
            awk -v p="pid=$STARTED_PID," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
        [ -n "$port" ] && break
        kill -0 "$STARTED_PID" 2>/dev/null || fail "dropbear $name exited: $(cat "$T/$name.log")"
        sleep 0.05
    done
    case "$port" in '' | *[!0-9]*) fail "dropbear $name: no listening port found" ;; esac
    STARTED_PORT=$port
    [ "$(cat "$T/$name.pid" 2>/dev/null)" = "$STARTED_PID" ] || fail "dropbear $name: pid file"
}
db_start dropbear "$T/host_ed25519" "$T/host_ecdsa256" "$T/host_rsa"
DB_PID=$STARTED_PID
PORT=$STARTED_PORT
# ed25519 here too, so that it, not ecdsa-sha2-nistp384, is this server's
# first host key algorithm (see 7.)
db_start dropbear2 "$T/host_ed25519" "$T/host_ecdsa384" "$T/host_ecdsa521"
DB2_PID=$STARTED_PID
PORT2=$STARTED_PORT
DBLOG="$T/dropbear.log"
ok "dropbear $("$DROPBEAR" -V 2>&1 | sed -n 's/^Dropbear v//p') on 127.0.0.1:$PORT and :$PORT2, sftp-server $SFTP_SERVER"

# ---- the account, its keys, the remote area ----

ensure_account "$DUSER" "$DPASS"
DHOME=$(getent passwd "$DUSER" | cut -d: -f6)
[ -d "$DHOME" ] || fail "$DUSER has no home directory $DHOME"
if [ ! -d "$DHOME/.ssh" ]; then
    mkdir "$DHOME/.ssh"
    SSH_DIR_MADE="$DHOME/.ssh"
fi
chown "$DUSER:" "$DHOME/.ssh"
chmod 700 "$DHOME/.ssh"
for k in ed25519 ecdsa rsa; do
    ssh-keygen -q -t $k -N '' -C interop-user -f "$T/id_$k"
done
# keys made by dropbearkey, converted by dropbearconvert to OpenSSH's format
for k in ed25519 ecdsa rsa; do
    "$DROPBEARKEY" -t $k -f "$T/db_$k.dropbear" >/dev/null 2>&1
    "$DROPBEARCONVERT" dropbear openssh "$T/db_$k.dropbear" "$T/id_db_$k" >/dev/null 2>&1 ||
        fail "dropbearconvert of a $k key"
    chmod 600 "$T/id_db_$k"
    pub_of "$T/db_$k.dropbear" >"$T/id_db_$k.pub"
done
AK_MADE="$DHOME/.ssh/authorized_keys"
cat "$T"/id_ed25519.pub "$T"/id_ecdsa.pub "$T"/id_rsa.pub "$T"/id_db_*.pub >"$AK_MADE"
chown "$DUSER:" "$AK_MADE"
chmod 600 "$AK_MADE"

chmod 711 "$T"
mkdir -p "$T/remote" "$T/local" "$T/fhome"
chown "$DUSER:" "$T/remote"
R="$T/remote"
L="$T/local"
KH="$T/known_hosts"
ID=(-o IdentitiesOnly=yes -i "$T/id_ed25519")
STRICT=(-o StrictHostKeyChecking=yes -o BatchMode=yes)

# ---- 1. host keys ----

# unknown host, BatchMode (StrictHostKeyChecking left at "ask"): refused
# before authentication, nothing written
: >"$KH"
if fy unknown -P "$PORT" -o UserKnownHostsFile="$KH" -o BatchMode=yes "${ID[@]}" -b /dev/null \
    "$DUSER@127.0.0.1"; then
    fail "unknown host key accepted in BatchMode"
fi
grep -q "Host key verification failed" "$T/unknown.err" ||
    { cat "$T/unknown.err" >&2; fail "unknown host: no 'Host key verification failed'"; }
[ ! -s "$KH" ] || fail "known_hosts written for a refused host"
! grep -q "auth succeeded" "$DBLOG" || fail "unknown host: authenticated anyway (dropbear log)"
ok "unknown host key refused in BatchMode, nothing stored"

# accept-new stores exactly the key dropbear uses (ssh-ed25519 first)
must acceptnew -P "$PORT" -o UserKnownHostsFile="$T/kh-new" -o StrictHostKeyChecking=accept-new \
    -o BatchMode=yes "${ID[@]}" -b /dev/null "$DUSER@127.0.0.1"
[ "$(cat "$T/kh-new")" = "[127.0.0.1]:$PORT $(pub_of "$T/host_ed25519")" ] ||
    { cat "$T/kh-new" >&2; fail "accept-new stored something else than dropbear's ed25519 key"; }
ok "accept-new stores dropbear's ed25519 host key as dropbearkey -y prints it"

# the known_hosts of the rest: every host key, from dropbearkey -y
for k in ed25519 ecdsa256 rsa; do echo "[127.0.0.1]:$PORT $(pub_of "$T/host_$k")"; done >"$KH"
for k in ecdsa384 ecdsa521; do echo "[127.0.0.1]:$PORT2 $(pub_of "$T/host_$k")"; done >>"$KH"

# a changed key: refused even with accept-new, the line named, the
# fingerprint dropbearkey gives for the server's key shown, file untouched
ssh-keygen -q -t ed25519 -N '' -f "$T/other"
{
    echo "# another ed25519 key for the same name"
    echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/other.pub")"
    echo "[127.0.0.1]:$PORT $(pub_of "$T/host_ecdsa256")"
} >"$T/kh-changed"
cp "$T/kh-changed" "$T/kh-changed.orig"
n_auth=$(grep -c "auth succeeded" "$DBLOG" || true)
if fy changed -P "$PORT" -o UserKnownHostsFile="$T/kh-changed" -o StrictHostKeyChecking=accept-new \
    -o BatchMode=yes -o HostKeyAlgorithms=ssh-ed25519 "${ID[@]}" -b /dev/null "$DUSER@127.0.0.1"; then
    fail "changed host key accepted"
fi
grep -q "REMOTE HOST IDENTIFICATION HAS CHANGED" "$T/changed.err" ||
    { cat "$T/changed.err" >&2; fail "changed host key: no warning"; }
grep -q "Offending ED25519 key in $T/kh-changed:2\$" "$T/changed.err" ||
    { cat "$T/changed.err" >&2; fail "changed host key: offending line 2 not named"; }
fp=$(fp_of "$T/host_ed25519")
case "$fp" in SHA256:?*) ;; *) fail "dropbearkey -y printed no fingerprint" ;; esac
grep -qF "$fp" "$T/changed.err" ||
    { cat "$T/changed.err" >&2; fail "changed host key: dropbear's fingerprint $fp not shown"; }
cmp -s "$T/kh-changed" "$T/kh-changed.orig" || fail "changed host key: known_hosts modified"
[ "$(grep -c "auth succeeded" "$DBLOG" || true)" = "$n_auth" ] || fail "changed host key: authenticated anyway"
ok "changed host key refused (accept-new too), offending line 2 named, fingerprint as dropbearkey's"

# ---- 2. transfers ----

make_file "$L/small.bin" $((3 * 1024 * 1024 + 17))
printf 'put %s %s\nget %s %s\n' "$L/small.bin" "$R/small.bin" "$R/small.bin" "$L/small.back" >"$T/small.batch"
must small -P "$PORT" -o UserKnownHostsFile="$KH" "${STRICT[@]}" "${ID[@]}" -b "$T/small.batch" \
    "$DUSER@127.0.0.1"
same "$L/small.bin" "$R/small.bin"
same "$L/small.bin" "$L/small.back"
ok "put/get of 3 MiB: the copy on disk and the download equal the original"

# 64 MiB each way: thousands of window adjustments (dropbear's receive
# window is 24 KiB), and key re-exchanges forced by ferry's RekeyLimit
# (dropbear's own limit is 1 GB) answered by dropbear mid-transfer
make_file "$L/large.bin" $((64 * 1024 * 1024 + 4321))
printf 'put %s %s\nget %s %s\n' "$L/large.bin" "$R/large.bin" "$R/large.bin" "$L/large.back" >"$T/large.batch"
large_round() {
    local name=$1
    shift
    rm -f "$R/large.bin" "$L/large.back"
    must "$name" -vvv -P "$PORT" -o UserKnownHostsFile="$KH" "${STRICT[@]}" "${ID[@]}" \
        -o RekeyLimit=8M "$@" -b "$T/large.batch" "$DUSER@127.0.0.1"
    same "$L/large.bin" "$R/large.bin"
    same "$L/large.bin" "$L/large.back"
    KEXES=$(grep -c "debug: ssh: kex " "$T/$name.err" || true)
    # 128 MiB at 8 MiB a key: about 16 exchanges
    [ "$KEXES" -ge 10 ] || fail "$name: only $KEXES key exchanges with RekeyLimit=8M for 128 MiB"
}
large_round large
ok "64 MiB put and get (chacha20-poly1305) compared, across $KEXES key exchanges"
large_round large-ctr -o Ciphers=aes256-ctr -o MACs=hmac-sha2-256 -o KexAlgorithms=ecdh-sha2-nistp256
grep -q "debug: ssh: kex ecdh-sha2-nistp256, .*cipher aes256-ctr/aes256-ctr" "$T/large-ctr.err" ||
    fail "large-ctr: not aes256-ctr with ecdh-sha2-nistp256"
ok "64 MiB put and get (aes256-ctr, hmac-sha2-256, ecdh-sha2-nistp256) compared, across $KEXES key exchanges"

# compression: zlib@openssh.com (after authentication), compressible and random data
{
    for i in $(seq 1 60000); do echo "line $i of a compressible file"; done
    head -c 1000000 /dev/urandom
} >"$L/comp.bin"
printf 'put %s %s\nget %s %s\n' "$L/comp.bin" "$R/comp.bin" "$R/comp.bin" "$L/comp.back" >"$T/comp.batch"
must comp -vvv -C -P "$PORT" -o UserKnownHostsFile="$KH" "${STRICT[@]}" "${ID[@]}" -b "$T/comp.batch" \
    "$DUSER@127.0.0.1"
grep -q "compression zlib@openssh.com" "$T/comp.err" || fail "-C: zlib@openssh.com not negotiated"
same "$L/comp.bin" "$R/comp.bin"
same "$L/comp.bin" "$L/comp.back"
ok "-C: zlib@openssh.com with dropbear, put/get compared"

# ---- 3. directory listing, file operations, recursive transfers ----

# 200 entries of sizes 1..200 (sftp-server answers READDIR 100 at a time),
# some names with spaces, and a dot file ls hides
mkdir "$R/many"
for i in $(seq 1 200); do
    case $((i % 20)) in
    0) name="with space $i" ;;
    *) name=$(printf 'e%03d' "$i") ;;
    esac
    head -c "$i" /dev/urandom >"$R/many/$name"
done
: >"$R/many/.hidden"
printf 'ls -1 %s\nls -l %s\n' "$R/many" "$R/many" >"$T/ls.batch"
must ls -P "$PORT" -o UserKnownHostsFile="$KH" "${STRICT[@]}" "${ID[@]}" -b "$T/ls.batch" \
    "$DUSER@127.0.0.1"
# ls -1: every name but the dot file, sorted as sftp sorts (bytes)
(cd "$R/many" && find . -mindepth 1 -maxdepth 1 ! -name '.*' -printf '%f\n' | LC_ALL=C sort |
    sed "s|^|$R/many/|") >"$T/ls.expected"
sed -n "/^sftp> ls -1 /,/^sftp> /p" "$T/ls.out" | grep -v '^sftp> ' >"$T/ls.got"
diff -u "$T/ls.expected" "$T/ls.got" || fail "ls -1 of 200 entries differs"
# ls -l: 200 lines, each with the file's size
sed -n "/^sftp> ls -l /,\$p" "$T/ls.out" | grep -v '^sftp> ' >"$T/ls-l.got"
[ "$(wc -l <"$T/ls-l.got")" = 200 ] || fail "ls -l: $(wc -l <"$T/ls-l.got") lines for 200 entries"
while read -r _ _ _ _ size _ _ _ path; do
    [ "$size" = "$(stat -c %s "$path")" ] || fail "ls -l: size $size for $path"
done <"$T/ls-l.got"
ok "ls -1 and ls -l of a 200-entry directory (names with spaces, dot file hidden)"

make_file "$L/ops.bin" 123457
cat >"$T/ops.batch" <<EOF
cd $R
mkdir ops
mkdir ops/gone
put $L/ops.bin ops/a.bin
put $L/ops.bin ops/c.bin
rename ops/a.bin ops/b.bin
chmod 640 ops/b.bin
chmod 705 ops
ln -s b.bin ops/link
rm ops/c.bin
rmdir ops/gone
-rmdir ops/nonexistent
-rm ops/nonexistent
ls -1 ops
EOF
must ops -P "$PORT" -o UserKnownHostsFile="$KH" "${STRICT[@]}" "${ID[@]}" -b "$T/ops.batch" \
    "$DUSER@127.0.0.1"
[ -d "$R/ops" ] || fail "mkdir: $R/ops missing"
[ ! -e "$R/ops/gone" ] || fail "rmdir: ops/gone still there"
[ ! -e "$R/ops/a.bin" ] || fail "rename: ops/a.bin still there"
same "$L/ops.bin" "$R/ops/b.bin"
[ "$(stat -c %a "$R/ops/b.bin")" = 640 ] || fail "chmod 640: mode $(stat -c %a "$R/ops/b.bin")"
[ "$(stat -c %a "$R/ops")" = 705 ] || fail "chmod 705 on a directory: mode $(stat -c %a "$R/ops")"
[ -L "$R/ops/link" ] || fail "ln -s: ops/link is not a symlink"
[ "$(readlink "$R/ops/link")" = b.bin ] || fail "ln -s: ops/link -> $(readlink "$R/ops/link"), not b.bin"
[ ! -e "$R/ops/c.bin" ] || fail "rm: ops/c.bin still there"
[ "$(grep -v '^sftp> ' "$T/ops.out")" = "$(printf 'ops/b.bin\nops/link')" ] ||
    { cat "$T/ops.out" >&2; fail "ls -1 after the operations"; }
grep -q 'nonexistent' "$T/ops.err" || fail "the failing '-rm'/'-rmdir' were not reported"
ok "mkdir, put, rename, chmod (file and directory), ln -s, rm, rmdir as seen on disk"

# a tree: nested and empty directories, 50 small files, one of 3 MiB
mkdir -p "$L/tree/a/b/c" "$L/tree/empty" "$L/tree/d e/f"
for i in $(seq 1 50); do
    case $((i % 4)) in
    0) dir="$L/tree" ;; 1) dir="$L/tree/a" ;; 2) dir="$L/tree/a/b/c" ;; 3) dir="$L/tree/d e/f" ;;
    esac
    head -c $((i * 97 % 5000)) /dev/urandom >"$dir/small $i.dat"
done
make_file "$L/tree/a/b/three.bin" $((3 * 1024 * 1024))
printf 'put -r %s %s\nget -r %s %s\n' "$L/tree" "$R/tree" "$R/tree" "$L/tree.back" >"$T/tree.batch"
must tree -P "$PORT" -o UserKnownHostsFile="$KH" "${STRICT[@]}" "${ID[@]}" -b "$T/tree.batch" \
    "$DUSER@127.0.0.1"
diff -r "$L/tree" "$R/tree" >&2 || fail "put -r: the remote tree differs"
diff -r "$L/tree" "$L/tree.back" >&2 || fail "get -r: the downloaded tree differs"
[ "$(find "$R/tree" -type f | wc -l)" = 51 ] || fail "put -r: not 51 files"
ok "put -r / get -r of a tree (4 levels, empty dir, 50 small files, 3 MiB) compared with diff -r"

# ---- 4. algorithms ----

# kexinit_of PORT: dropbear's own KEXINIT name-lists, one "name list" a line
kexinit_of() {
    /usr/bin/python3 - "$1" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"SSH-2.0-kexinit-probe\r\n")
buf = b""
while True:
    while b"\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise SystemExit("no banner")
        buf += d
    line, buf = buf.split(b"\n", 1)
    if line.startswith(b"SSH-"):
        break
def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            raise SystemExit("no KEXINIT")
        buf += d
need(5)
plen, padlen = struct.unpack(">IB", buf[:5])
need(4 + plen)
payload = buf[5:4 + plen - padlen]
if payload[0] != 20:
    raise SystemExit("first packet is not KEXINIT")
p = 17
for n in ("kex", "key", "cipher", "cipher_sc", "mac", "mac_sc", "comp", "comp_sc"):
    (l,) = struct.unpack(">I", payload[p:p + 4])
    p += 4
    print(n, payload[p:p + l].decode().replace(",", " "))
    p += l
PY
}
kexinit_of "$PORT" >"$T/kexinit1" || fail "cannot read dropbear's KEXINIT"
kexinit_of "$PORT2" >"$T/kexinit2" || fail "cannot read the second dropbear's KEXINIT"
# offered KIND ALG [FILE]: does dropbear offer ALG
offered() {
    awk -v k="$1" '$1 == k { for (i = 2; i <= NF; i++) print $i }' "${3:-$T/kexinit1}" | grep -xF "$2" >/dev/null
}
# the first server's lists are both directions' (dropbear offers the same)
for k in cipher mac comp; do
    [ "$(grep "^$k " "$T/kexinit1" | cut -d' ' -f2-)" = "$(grep "^${k}_sc " "$T/kexinit1" | cut -d' ' -f2-)" ] ||
        fail "dropbear's $k lists differ by direction: extend the test"
done

# host key algorithm -> the dropbear and the key that serves it
hostkey_of() {
    case $1 in
    ssh-ed25519) echo "$PORT host_ed25519" ;;
    ecdsa-sha2-nistp256) echo "$PORT host_ecdsa256" ;;
    ecdsa-sha2-nistp384) echo "$PORT2 host_ecdsa384" ;;
    ecdsa-sha2-nistp521) echo "$PORT2 host_ecdsa521" ;;
    rsa-sha2-256 | rsa-sha2-512 | ssh-rsa) echo "$PORT host_rsa" ;;
    *) fail "no host key for $1" ;;
    esac
}

make_file "$L/alg.bin" 300001
EXCLUDED=""
for kind in cipher mac kex key; do
    case $kind in
    cipher) opt=Ciphers what=cipher ;;
    mac) opt=MACs what=MAC ;;
    kex) opt=KexAlgorithms what="key exchange method" ;;
    key) opt=HostKeyAlgorithms what="host key algorithm" ;;
    esac
    n=0
    used=""
    for alg in $("$FERRY" -Q $kind); do
        p=$PORT kh=$KH
        extra=()
        # an AEAD cipher has no MAC: MACs are tried with aes128-ctr
        [ $kind = mac ] && extra=(-o Ciphers=aes128-ctr)
        if [ $kind = key ]; then
            # a known_hosts with only this algorithm's key: success means dropbear signed with it
            read -r p key <<<"$(hostkey_of "$alg")"
            kh="$T/kh-$alg"
            echo "[127.0.0.1]:$p $(pub_of "$T/$key")" >"$kh"
            kf="$T/kexinit1"
            [ "$p" = "$PORT2" ] && kf="$T/kexinit2"
        else
            kf="$T/kexinit1"
        fi
        tag="alg-$kind-$alg"
        if ! offered "$kind" "$alg" "$kf"; then
            # not in dropbear's offer: ferry must refuse to go on
            if fy "$tag" -P "$p" -o UserKnownHostsFile="$kh" "${STRICT[@]}" "${ID[@]}" -o "$opt=$alg" \
                "${extra[@]}" -b /dev/null "$DUSER@127.0.0.1"; then
                fail "$opt=$alg: dropbear does not offer it, yet ferry connected"
            fi
            grep -q "no matching $what found" "$T/$tag.err" ||
                { cat "$T/$tag.err" >&2; fail "$opt=$alg: no 'no matching $what found'"; }
            EXCLUDED="$EXCLUDED $alg"
            continue
        fi
        rm -f "$R/alg.bin" "$L/alg.back"
        printf 'put %s %s\nget %s %s\n' "$L/alg.bin" "$R/alg.bin" "$R/alg.bin" "$L/alg.back" >"$T/alg.batch"
        must "$tag" -vvv -P "$p" -o UserKnownHostsFile="$kh" "${STRICT[@]}" "${ID[@]}" -o "$opt=$alg" \
            "${extra[@]}" -b "$T/alg.batch" "$DUSER@127.0.0.1"
        same "$L/alg.bin" "$R/alg.bin"
        same "$L/alg.bin" "$L/alg.back"
        case $kind in
        cipher) pat="cipher $alg/$alg" ;;
        mac) pat="cipher aes128-ctr/aes128-ctr" ;;
        kex) pat="kex $alg," ;;
        key) pat="host key $alg," ;;
        esac
        grep -qF "$pat" "$T/$tag.err" || { cat "$T/$tag.err" >&2; fail "$opt=$alg: '$pat' not negotiated"; }
        n=$((n + 1))
        used="$used $alg"
    done
    [ $n -gt 0 ] || fail "no $kind algorithm in common with dropbear"
    # what dropbear offers and ferry does not implement (pseudo-algorithms aside)
    theirs=""
    for f in "$T/kexinit1" "$T/kexinit2"; do
        for alg in $(awk -v k=$kind '$1 == k { for (i = 2; i <= NF; i++) print $i }' "$f"); do
            case $alg in ext-info-* | kex-strict-* | kexguess2@* | none) continue ;; esac
            "$FERRY" -Q $kind | grep -xF "$alg" >/dev/null || case " $theirs " in *" $alg "*) ;; *) theirs="$theirs $alg" ;; esac
        done
    done
    ok "$opt: $n forced with a transfer compared:$used; dropbear only:${theirs:- none}"
done
ok "ferry's algorithms dropbear does not offer, refused with 'no matching ...':$EXCLUDED"

# ---- 5. authentication ----

# fp_ssh FILE: a public key's SHA256 fingerprint by ssh-keygen
fp_ssh() { ssh-keygen -l -E sha256 -f "$1" | cut -d' ' -f2; }
for k in ed25519 ecdsa rsa db_ed25519 db_ecdsa db_rsa; do
    must "pk-$k" -vvv -P "$PORT" -o UserKnownHostsFile="$KH" "${STRICT[@]}" -o IdentitiesOnly=yes \
        -i "$T/id_$k" -b "$T/small.batch" "$DUSER@127.0.0.1"
    fp=$(fp_ssh "$T/id_$k.pub")
    grep -q "Pubkey auth succeeded for '$DUSER' with .* key $fp from" "$DBLOG" ||
        fail "publickey $k: dropbear did not log a success with $fp"
    same "$L/small.bin" "$L/small.back"
    case $k in
    *rsa) grep -q "offering rsa-sha2-256 key $T/id_$k\$" "$T/pk-$k.err" ||
        { cat "$T/pk-$k.err" >&2; fail "publickey $k: not signed with rsa-sha2-256"; } ;;
    esac
done
ok "publickey: ed25519, ecdsa, rsa (rsa-sha2-256) keys from ssh-keygen and from dropbearkey+dropbearconvert"

printf '#!/bin/sh\necho %s\n' "$DPASS" >"$T/askpass"
printf '#!/bin/sh\necho wrong-%s\n' "$DPASS" >"$T/askpass-wrong"
chmod 755 "$T/askpass" "$T/askpass-wrong"
printf 'put %s %s\nget %s %s\n' "$L/alg.bin" "$R/pw.bin" "$R/pw.bin" "$L/pw.back" >"$T/pw.batch"
n_ok=$(grep -c "Password auth succeeded for '$DUSER'" "$DBLOG" || true)
SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force setsid -w "$FERRY" -F none -P "$PORT" \
    -o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
    -o PubkeyAuthentication=no -o IdentityAgent=none "$DUSER@127.0.0.1" \
    <"$T/pw.batch" >"$T/pw.out" 2>"$T/pw.err" || { cat "$T/pw.err" >&2; fail "password authentication"; }
no_sanitizer "$T/pw.err"
[ "$(grep -c "Password auth succeeded for '$DUSER'" "$DBLOG")" = $((n_ok + 1)) ] ||
    fail "password: dropbear logged no password success"
same "$L/alg.bin" "$R/pw.bin"
same "$L/alg.bin" "$L/pw.back"
ok "password authentication through SSH_ASKPASS, put/get compared"

n_bad=$(grep -c "Bad password attempt for '$DUSER'" "$DBLOG" || true)
if SSH_ASKPASS="$T/askpass-wrong" SSH_ASKPASS_REQUIRE=force setsid -w "$FERRY" -F none -P "$PORT" \
    -o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
    -o PubkeyAuthentication=no -o IdentityAgent=none "$DUSER@127.0.0.1" \
    <"$T/pw.batch" >"$T/pwbad.out" 2>"$T/pwbad.err"; then
    fail "a wrong password was accepted"
fi
no_sanitizer "$T/pwbad.err"
grep -q "$DUSER@127.0.0.1: Permission denied (.*password.*)" "$T/pwbad.err" ||
    { cat "$T/pwbad.err" >&2; fail "wrong password: no 'Permission denied'"; }
[ "$(grep -c "Bad password attempt for '$DUSER'" "$DBLOG")" -gt "$n_bad" ] ||
    fail "wrong password: dropbear saw no password attempt"
[ "$(grep -c "Password auth succeeded for '$DUSER'" "$DBLOG")" = $((n_ok + 1)) ] ||
    fail "wrong password: dropbear logged a success"
! grep -q "Remote working directory" "$T/pwbad.out" || fail "wrong password: a session ran"
ok "wrong password refused ($(($(grep -c "Bad password attempt for '$DUSER'" "$DBLOG") - n_bad)) attempts in dropbear's log)"

# batch mode never asks: no password reaches dropbear
n_bad=$(grep -c "Bad password attempt for '$DUSER'" "$DBLOG" || true)
if SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force fy pwbatch -P "$PORT" \
    -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes -o PubkeyAuthentication=no \
    -b "$T/pw.batch" "$DUSER@127.0.0.1" </dev/null; then
    fail "-b logged in with a password"
fi
if [ "$(grep -c "Password auth succeeded for '$DUSER'" "$DBLOG")" != $((n_ok + 1)) ] ||
    [ "$(grep -c "Bad password attempt for '$DUSER'" "$DBLOG" || true)" != "$n_bad" ]; then
    fail "-b sent a password to dropbear"
fi
ok "batch mode sends no password"

# ---- 6. dropbear's side of all this ----

# every connection's child gone (ferry closed each session)
for i in $(seq 1 100); do
    [ -z "$(pgrep -P "$DB_PID" 2>/dev/null; pgrep -P "$DB2_PID" 2>/dev/null)" ] && break
    sleep 0.05
done
[ -z "$(pgrep -P "$DB_PID" 2>/dev/null; pgrep -P "$DB2_PID" 2>/dev/null)" ] ||
    fail "dropbear connections still open after ferry exited"
for p in "$DB_PID" "$DB2_PID"; do kill -0 "$p" 2>/dev/null || fail "a dropbear listener died"; done
# every authenticated session ended by ferry's disconnect, not a reset or an error
n_auth=$(cat "$T"/dropbear*.log | grep -c "auth succeeded for '$DUSER'")
n_clean=$(cat "$T"/dropbear*.log | grep -c "Exit ($DUSER) from <127.0.0.1:[0-9]*>: Disconnect received\$")
if [ "$n_auth" -eq 0 ] || [ "$n_auth" != "$n_clean" ]; then
    cat "$T"/dropbear*.log | grep "Exit ($DUSER)" | grep -v "Disconnect received\$" >&2
    fail "$n_auth authenticated sessions, $n_clean ended by a disconnect"
fi
if cat "$T"/dropbear*.log | grep -E "Integrity error|Bad packet|Error decrypting|Crypto error|Diffie-Hellman error|Bad curve25519|Bad hostkey|signature|Error reading|Error writing|Bad buf|Premature" >&2; then
    fail "packet or crypto errors in dropbear's log"
fi
ok "dropbear: $n_auth sessions, each closed by ferry's disconnect; no packet or crypto error"

n=0
for f in "$T"/*.err; do
    no_sanitizer "$f"
    n=$((n + 1))
done
ok "no sanitizer report in $n ferry stderr files"

# ---- 7. a dropbear whose first host key algorithm is not ssh-ed25519 ----

# ferry guesses its first ECDH/DH packet (first_kex_packet_follows) right
# behind its KEXINIT, a guess RFC 4253 s7 calls right when both sides list
# the same kex and host key algorithms first. Dropbear judges it by its
# whole built-in lists instead: one with only an ECDSA host key (no
# ed25519) lists ecdsa-sha2-nistp256 first, as ferry does with that key in
# known_hosts, yet takes the guess for wrong, drops the packet and waits.
# ferry now sends its KEXINIT after the server's version line and makes no
# guess to Dropbear. Plain options, as a user would connect; bounded, since
# a key exchange that stalls stalls until dropbear's 300 s authentication
# timeout.
db_start dropbear3 "$T/host_ecdsa256"
DB3_PID=$STARTED_PID
PORT3=$STARTED_PORT
kexinit_of "$PORT3" >"$T/kexinit3" || fail "cannot read the third dropbear's KEXINIT"
[ "$(awk '$1 == "key" { print $2 }' "$T/kexinit3")" = ecdsa-sha2-nistp256 ] ||
    fail "the ECDSA-only dropbear does not list ecdsa-sha2-nistp256 first: $(grep '^key ' "$T/kexinit3")"
echo "[127.0.0.1]:$PORT3 $(pub_of "$T/host_ecdsa256")" >"$T/kh-ecdsa-only"
rm -f "$R/small.bin" "$L/small.back"
st=0
FY_TIMEOUT=20 fy ecdsa-only -vvv -P "$PORT3" -o UserKnownHostsFile="$T/kh-ecdsa-only" "${STRICT[@]}" \
    "${ID[@]}" -b "$T/small.batch" "$DUSER@127.0.0.1" || st=$?
if [ $st -ne 0 ]; then
    cat "$T/ecdsa-only.err" >&2 || true
    grep "Child connection\|Exit" "$T/dropbear3.log" >&2 || true
    [ $st -eq 124 ] && fail "ferry stalled in the key exchange with a dropbear whose only host key is ECDSA (killed after 20 s)"
    fail "ferry failed against a dropbear whose only host key is ECDSA (status $st)"
fi
same "$L/small.bin" "$R/small.bin"
same "$L/small.bin" "$L/small.back"
ok "dropbear with only an ECDSA host key, plain options: put/get compared"
for c in $(pgrep -P "$DB3_PID" 2>/dev/null || true); do kill -TERM "$c" 2>/dev/null || true; done
