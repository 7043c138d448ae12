#!/usr/bin/env bash
# test_client_proftpd.sh: ferry against ProFTPD's mod_sftp (Debian
# proftpd-core + proftpd-mod-crypto, 1.3.8), an SSH and SFTP server written
# independently of OpenSSH and of ferryd. proftpd runs here in the
# foreground (proftpd -n) with its own configuration, pid, scoreboard, logs
# and host keys in $T, on a free loopback port, with a virtual user
# (AuthUserFile, uid/gid of nobody) jailed in $T/srv; it is ended by PID.
#
#  1. host keys: unknown host refused in BatchMode (StrictHostKeyChecking
#     ask and yes; nothing written, nobody logged in), a changed key refused;
#     then a known_hosts built from the host keys' public halves,
#     StrictHostKeyChecking=yes throughout; the session is in the jail;
#  2. put and get of a 4 MiB random file, compared with the original and
#     with the copy on disk; put -p (mode and mtime on disk); reput and
#     reget; the host:path download form;
#  3. ls -1 and ls -l of a directory of 200 entries: every name, once;
#  4. mkdir, rename (also onto an existing file), rm, rmdir, chmod (modes on
#     disk), ln -s (the link on disk), failing commands reported and the
#     batch going on behind '-';
#  5. put -r / get -r of a tree (6 directories, one empty, 50 small files,
#     one 3 MiB file), compared with diff -r;
#  6. df and df -i (statvfs@openssh.com) against statvfs(2) of the jail;
#  7. every cipher, MAC, kex and host-key algorithm ferry and mod_sftp
#     both offer (mod_sftp's offer read from OpenSSH ssh -vv), forced with
#     -o, each with a transfer compared and the choice confirmed in
#     mod_sftp's log; what mod_sftp lacks (chacha20-poly1305) fails cleanly;
#  8. publickey with ed25519, ecdsa and rsa keys (RFC 4716 authorized keys);
#     a key not listed is refused;
#  9. password authentication through SSH_ASKPASS (right, wrong, and never
#     asked in batch mode);
# 10. zlib@openssh.com compression (-C), confirmed in mod_sftp's log;
# 11. client-initiated rekeying (RekeyLimit=1M) during transfers;
# 12. a second proftpd with SFTPRekey required 3600 1 (mod_sftp re-keys
#     every MiB) and an ECDSA P-384 host key: server-initiated rekeying
#     during put and get, in one connection;
# 13. listings compared with OpenSSH's sftp against the same server (and
#     one error line per failing command).
# ferry's stderr must never carry a sanitizer report. The two checks of 12
# and 13 that fail at the time of writing (a get across mod_sftp's rekey;
# ls -l of a named directory) are collected with bug and reported together
# at the end, after everything else has run; the test fails on them.
. "$FERRY_SRC/tests/interop/lib.sh"
need ssh-keygen ssh sftp openssl python3 timeout setsid diff cmp stat readlink
FERRY="$FERRY_BUILD/ferry"
PROFTPD=/usr/sbin/proftpd
MODDIR=/usr/lib/proftpd
[ -x "$FERRY" ] || fail "$FERRY not built"
[ -x "$PROFTPD" ] || fail "$PROFTPD is not installed (Debian proftpd-core; run scripts/deps test)"
[ -f "$MODDIR/mod_sftp.so" ] ||
    fail "$MODDIR/mod_sftp.so is not installed (Debian proftpd-mod-crypto; run scripts/deps test)"

PF_USER=pftest
PF_PASS='Pf-Interop-Pass-1'
PF_UID=$(id -u nobody) || fail "no user nobody"
PF_GID=$(id -g nobody)
SRV="$T/srv"
L="$T/local"
KH="$T/known_hosts"
PF_PIDS=()
BUGS=""

fail() {
    echo "FAIL: $*" >&2
    local f
    for f in "$T"/sftp-*.log "$T"/proftpd-*.out; do
        [ -s "$f" ] || continue
        echo "--- last lines of $f:" >&2
        tail -n 20 "$f" >&2
    done
    exit 1
}

# known failures: collected, reported at the end (the test still fails)
bug() {
    echo "BUG: $*" >&2
    BUGS="$BUGS
  - $*"
}

test_cleanup() {
    local p
    for p in "${PF_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PF_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
}

no_sanitizer() {
    if grep -q -E "AddressSanitizer|LeakSanitizer|runtime error" "$1"; then
        cat "$1" >&2
        fail "$2: sanitizer report in ferry's stderr"
    fi
}

# ---- set-up: keys, the virtual user, the jail ----

ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519"
ssh-keygen -q -t ecdsa -b 256 -N '' -f "$T/host_ecdsa256"     # OpenSSH format
ssh-keygen -q -t rsa -b 3072 -N '' -f "$T/host_rsa"           # OpenSSH format
ssh-keygen -q -t ecdsa -b 384 -N '' -m PEM -f "$T/host_ecdsa384" # PEM (SEC1)
for k in ed25519 ecdsa rsa; do
    ssh-keygen -q -t $k -N '' -C "pf-$k" -f "$T/id_$k"
done
ssh-keygen -q -t ed25519 -N '' -C unlisted -f "$T/id_unlisted"
# mod_sftp reads authorized keys in RFC 4716 form
for k in ed25519 ecdsa rsa; do
    ssh-keygen -e -f "$T/id_$k.pub"
done >"$T/authorized_keys.rfc4716"
grep -q -- "---- BEGIN SSH2 PUBLIC KEY ----" "$T/authorized_keys.rfc4716" ||
    fail "ssh-keygen -e wrote no RFC 4716 key"
printf '%s:%s:%s:%s::%s:/bin/false\n' "$PF_USER" "$(openssl passwd -6 "$PF_PASS")" \
    "$PF_UID" "$PF_GID" "$SRV" >"$T/passwd"
printf 'pfgroup:x:%s:%s\n' "$PF_GID" "$PF_USER" >"$T/group"
chmod 600 "$T/passwd" "$T/group" "$T/authorized_keys.rfc4716"
mkdir -p "$SRV" "$L"
# the jail belongs to the virtual user, who must be able to reach it
# (proftpd checks DefaultRoot with the user's rights: with $T at 0700 it
# logs "unable to use DefaultRoot"); a marker shows the session is in it
chmod 711 "$T"
echo "the jail of $T" >"$SRV/.jail-marker"
chown -R "$PF_UID:$PF_GID" "$SRV"

# pf_start NAME "EXTRA LINES" HOSTKEY...: proftpd in the foreground with its
# own configuration; PF_PORT and PF_PID_<NAME> are set; its pid is ended
# at exit. The port is picked by the kernel (bound and released), again if
# another process took it in between.
pf_start() {
    local name=$1 extra=$2 port pid k
    shift 2
    for _ in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
        {
            cat <<EOF
ServerType standalone
ServerName "ferry interop $name"
DefaultAddress 127.0.0.1
SocketBindTight on
UseIPv6 off
Port $port
User nobody
Group nogroup
PidFile $T/proftpd-$name.pid
ScoreboardFile $T/proftpd-$name.scoreboard
DelayTable none
ControlsEngine off
WtmpLog off
UseReverseDNS off
SystemLog $T/proftpd-$name.syslog
TransferLog none
ModulePath $MODDIR
LoadModule mod_sftp.c
AuthOrder mod_auth_file.c
AuthUserFile $T/passwd
AuthGroupFile $T/group
RequireValidShell off
UseFtpUsers off
DefaultRoot $SRV
AllowOverwrite on
SFTPEngine on
SFTPLog $T/sftp-$name.log
SFTPAuthorizedUserKeys file:$T/authorized_keys.rfc4716
SFTPAuthMethods publickey password
SFTPCompression delayed
TraceLog $T/trace-$name.log
Trace ssh2:3
EOF
            for k in "$@"; do echo "SFTPHostKey $k"; done
            printf '%s\n' "$extra"
        } >"$T/proftpd-$name.conf"
        "$PROFTPD" -n -c "$T/proftpd-$name.conf" >"$T/proftpd-$name.out" 2>&1 &
        pid=$!
        for _ in $(seq 100); do
            grep -q "standalone mode STARTUP" "$T/proftpd-$name.out" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        if grep -q "standalone mode STARTUP" "$T/proftpd-$name.out" && kill -0 "$pid" 2>/dev/null; then
            PF_PIDS+=("$pid")
            PF_PORT=$port
            eval "PF_PID_$name=$pid"
            return 0
        fi
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        grep -q "Address already in use" "$T/proftpd-$name.out" || break
    done
    cat "$T/proftpd-$name.out" >&2
    fail "proftpd ($name) did not start"
}

pf_stop() {
    local name=$1 pid
    eval "pid=\${PF_PID_$name}"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    kill -0 "$pid" 2>/dev/null && fail "proftpd ($name) still running after SIGTERM"
    local keep=() p
    for p in "${PF_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PF_PIDS=("${keep[@]}")
}

# mod_sftp 1.3.8 offers one ECDSA host key algorithm per server even when
# given keys of several curves (its trace: "omitting host key algorithm
# 'ecdsa-sha2-nistp384' due to lack of key"): P-256 here, P-384 on the
# second server (12). Host keys in OpenSSH's format and in PEM both load.
pf_start main "SFTPRekey none" "$T/host_ed25519" "$T/host_ecdsa256" "$T/host_rsa"
PORT=$PF_PORT
LOG="$T/sftp-main.log"
TRACE="$T/trace-main.log"

# fr NAME [OPTIONS...]: one ferry session on $PORT running the batch on
# stdin; OPTIONS come first (ssh options: the first value wins), then
# StrictHostKeyChecking=yes with $KH, BatchMode, the one key $FR_KEY
# (default: the ed25519 key); FR_PORT overrides the port. Output in
# $T/NAME.out, $T/NAME.err; the exit status is returned.
fr() {
    local name=$1 rc=0
    shift
    timeout 120 "$FERRY" -F none -P "${FR_PORT:-$PORT}" "$@" -o UserKnownHostsFile="$KH" \
        -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
        -o IdentitiesOnly=yes -o IdentityAgent=none -i "${FR_KEY:-$T/id_ed25519}" -b - \
        "$PF_USER@127.0.0.1" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    no_sanitizer "$T/$name.err" "$name"
    return $rc
}

# must NAME [OPTIONS...]: fr that has to succeed
must() {
    fr "$@" || { cat "$T/$1.err" >&2; fail "$1: ferry failed"; }
}

# count PATTERN FILE: matching lines (0 for a file not written yet)
count() {
    if [ -f "$2" ]; then grep -c -- "$1" "$2" || true; else echo 0; fi
}

# ---- 1. host keys ----

: >"$T/kh-empty"
n0=$(count "authenticated via" "$LOG")
# ask (OpenSSH's default) is refused by BatchMode; yes refuses by itself
for shk in ask yes; do
    rc=0
    echo pwd | fr "unknown-$shk" -o UserKnownHostsFile="$T/kh-empty" -o StrictHostKeyChecking=$shk || rc=$?
    [ $rc -ne 0 ] || fail "unknown host key accepted in BatchMode (StrictHostKeyChecking=$shk)"
    grep -q "Host key verification failed" "$T/unknown-$shk.err" ||
        { cat "$T/unknown-$shk.err" >&2; fail "unknown host ($shk): no verification message"; }
    [ ! -s "$T/kh-empty" ] || fail "known_hosts written for a refused host ($shk)"
    grep -q "Remote working directory" "$T/unknown-$shk.out" && fail "unknown host ($shk): the batch ran"
    [ "$(count "authenticated via" "$LOG")" = "$n0" ] || fail "unknown host ($shk): ferry still logged in"
done
grep -q "No ED25519 host key is known for \[127.0.0.1\]:$PORT" "$T/unknown-yes.err" ||
    { cat "$T/unknown-yes.err" >&2; fail "unknown host: no explanation"; }
ok "unknown host key refused in BatchMode (nothing written, no login)"

ssh-keygen -q -t ed25519 -N '' -f "$T/other_host"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/other_host.pub")" >"$T/kh-changed"
rc=0
echo pwd | fr changed -o UserKnownHostsFile="$T/kh-changed" || rc=$?
[ $rc -ne 0 ] || fail "changed host key accepted"
grep -q "REMOTE HOST IDENTIFICATION HAS CHANGED" "$T/changed.err" || fail "changed key: no warning"
grep -q "Offending ED25519 key in $T/kh-changed:1" "$T/changed.err" || fail "changed key: line not named"
[ "$(count "authenticated via" "$LOG")" = "$n0" ] || fail "changed key: ferry still logged in"
ok "changed host key refused, offending line named"

for k in host_ed25519 host_ecdsa256 host_rsa; do
    echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/$k.pub")"
done >"$KH"
# nothing is written before the session is known to be jailed in $SRV
printf '%s\n' pwd "get /.jail-marker $T/jail-marker.got" | must first
grep -q "^Remote working directory: /$" "$T/first.out" || fail "the session does not start in the jail's /"
same "$SRV/.jail-marker" "$T/jail-marker.got"
grep -q "unable to use DefaultRoot" "$T/proftpd-main.out" && fail "proftpd did not jail the session"
grep -q "Permanently added" "$T/first.err" && fail "a known host key was added again"
ok "known host accepted with StrictHostKeyChecking=yes; session jailed at /"

# ---- 2. put and get ----

make_file "$L/big.bin" 4194304
make_file "$L/modes.bin" 12345
chmod 604 "$L/modes.bin"
touch -d '2021-03-04 05:06:07 UTC' "$L/modes.bin"
make_file "$L/resume.bin" 2500000
head -c 1000000 "$L/resume.bin" >"$SRV/resume.bin"
chown "$PF_UID:$PF_GID" "$SRV/resume.bin"
printf '%s\n' "put $L/big.bin big.bin" "get big.bin $L/big.back" "put -p $L/modes.bin modes.bin" \
    "reput $L/resume.bin resume.bin" "get big.bin $L/big.part" | must xfer
same "$L/big.bin" "$SRV/big.bin"
same "$L/big.bin" "$L/big.back"
same "$SRV/big.bin" "$L/big.back"
same "$L/modes.bin" "$SRV/modes.bin"
[ "$(stat -c %a "$SRV/modes.bin")" = 604 ] || fail "put -p: mode $(stat -c %a "$SRV/modes.bin") on disk"
[ "$(stat -c %Y "$SRV/modes.bin")" = "$(stat -c %Y "$L/modes.bin")" ] || fail "put -p: mtime not kept"
same "$L/resume.bin" "$SRV/resume.bin"
# reget: a local partial copy completed from the server
head -c 1234567 "$L/big.bin" >"$L/big.part"
echo "reget big.bin $L/big.part" | must reget
same "$L/big.bin" "$L/big.part"
# the host:path form
rm -f "$L/dl.bin"
timeout 60 "$FERRY" -F none -P "$PORT" -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes \
    -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519" \
    "$PF_USER@127.0.0.1:/big.bin" "$L/dl.bin" >"$T/dl.out" 2>"$T/dl.err" ||
    { cat "$T/dl.err" >&2; fail "host:path download"; }
no_sanitizer "$T/dl.err" dl
same "$L/big.bin" "$L/dl.bin"
ok "put/get of 4 MiB equal (original, disk, download); put -p mode+mtime; reput; reget; host:path"

# ---- 3. a directory of 200 entries ----

mkdir -p "$SRV/many"
for i in $(seq -w 1 200); do echo "$i" >"$SRV/many/entry-$i"; done
chown -R "$PF_UID:$PF_GID" "$SRV/many"
printf '%s\n' "ls -1 many" "ls -l many" "ls -1" | must many
(cd "$SRV/many" && ls -1) | sed 's|^|many/|' >"$T/many.want"
sed -n '/^sftp> ls -1 many$/,/^sftp> ls -l many$/p' "$T/many.out" | sed '1d;$d' >"$T/many.1"
diff -u "$T/many.want" <(sort "$T/many.1") >&2 || fail "ls -1 of 200 entries: names differ"
sed -n '/^sftp> ls -l many$/,/^sftp> ls -1$/p' "$T/many.out" | sed '1d;$d' >"$T/many.l"
[ "$(wc -l <"$T/many.l")" = 200 ] || fail "ls -l of 200 entries: $(wc -l <"$T/many.l") lines"
diff -u <(sed 's|^many/||' "$T/many.want") <(awk '{print $NF}' "$T/many.l" | sed 's|^many/||' | sort) >&2 ||
    fail "ls -l of 200 entries: names differ"
[ "$(grep -c '^-rw-r--r-- ' "$T/many.l")" = 200 ] || fail "ls -l: modes not shown as -rw-r--r--"
ok "ls -1 and ls -l of 200 entries: every name once"

# ---- 4. file operations ----

echo "first" >"$L/a.txt"
echo "second, longer" >"$L/c.txt"
printf '%s\n' "mkdir ops" "mkdir ops/sub" "mkdir ops/empty" "put $L/a.txt ops/a.txt" \
    "rename ops/a.txt ops/b.txt" "put $L/c.txt ops/c.txt" "rename ops/c.txt ops/b.txt" \
    "chmod 640 ops/b.txt" "chmod 750 ops/sub" "ln -s b.txt ops/link" "-rmdir ops" \
    "put $L/a.txt ops/gone.txt" "rm ops/gone.txt" "-rm ops/nonexistent" "-mkdir ops/sub" \
    "rmdir ops/empty" "ls -l ops" "pwd" | must ops
[ -d "$SRV/ops" ] || fail "mkdir: ops missing (or removed by a failing rmdir)"
[ ! -e "$SRV/ops/a.txt" ] || fail "rename: the old name is still there"
[ ! -e "$SRV/ops/c.txt" ] || fail "rename onto an existing file: the old name is still there"
same "$L/c.txt" "$SRV/ops/b.txt"
[ "$(stat -c %a "$SRV/ops/b.txt")" = 640 ] || fail "chmod 640: $(stat -c %a "$SRV/ops/b.txt") on disk"
[ "$(stat -c %a "$SRV/ops/sub")" = 750 ] || fail "chmod 750 (directory): $(stat -c %a "$SRV/ops/sub")"
[ -L "$SRV/ops/link" ] || fail "ln -s: no symlink on disk"
[ "$(readlink "$SRV/ops/link")" = b.txt ] || fail "ln -s: the link points to $(readlink "$SRV/ops/link")"
[ ! -e "$SRV/ops/gone.txt" ] || fail "rm: the file is still there"
[ ! -e "$SRV/ops/empty" ] || fail "rmdir: the directory is still there"
grep -q '^Couldn'"'"'t remove directory "/ops": ' "$T/ops.err" || fail "rmdir of a non-empty directory not reported"
grep -q '^Couldn'"'"'t delete file "/ops/nonexistent": No such file or directory' "$T/ops.err" ||
    fail "rm of a missing file not reported"
grep -q '^Couldn'"'"'t create directory "/ops/sub": ' "$T/ops.err" || fail "mkdir of an existing directory not reported"
grep -q '^lrwxrwxrwx .*[ /]link$' "$T/ops.out" || fail "ls -l: the symlink not shown as one"
grep -q '^-rw-r----- .*[ /]b\.txt$' "$T/ops.out" || fail "ls -l: b.txt not shown -rw-r-----"
# without '-', a failing command ends the batch with a non-zero status
rc=0
printf '%s\n' "rm ops/nonexistent" "pwd" | fr opsfail || rc=$?
[ $rc -ne 0 ] || fail "a failing command without '-' exited 0"
grep -q "^sftp> pwd" "$T/opsfail.out" && fail "the batch went on after a failure"
ok "mkdir, rename (also over a file), rm, rmdir, chmod, ln -s on disk; failures reported"

# ---- 5. put -r / get -r ----

mkdir -p "$L/tree/a/b/c" "$L/tree/d/e" "$L/tree/empty"
n=0
for d in . a a/b a/b/c d d/e; do
    for i in $(seq 1 9); do
        [ $n -lt 50 ] || break
        make_file "$L/tree/$d/f$i.bin" $((RANDOM % 20000 + 1))
        n=$((n + 1))
    done
done
: >"$L/tree/d/zero-length"
make_file "$L/tree/a/b/three-mib.bin" 3145728
printf '%s\n' "put -r $L/tree tree" "get -r tree $L/tree.back" | must tree
diff -r "$L/tree" "$SRV/tree" >&2 || fail "put -r: the server's tree differs"
diff -r "$L/tree" "$L/tree.back" >&2 || fail "get -r: the tree that came back differs"
for d in "$SRV/tree/empty" "$L/tree.back/empty"; do
    [ -d "$d" ] || fail "the empty directory was not copied: $d"
done
ok "put -r / get -r of $(find "$L/tree" -type f | wc -l) files in $(find "$L/tree" -type d | wc -l) directories (3 MiB among them): diff -r equal"

# ---- 6. df ----

printf '%s\n' "df" "df -i" | must df
read -r want_kib want_inodes < <(python3 -c 'import os, sys
s = os.statvfs(sys.argv[1]); print(s.f_blocks * s.f_frsize // 1024, s.f_files)' "$SRV")
got=$(sed -n '/^sftp> df$/,/^sftp> df -i$/p' "$T/df.out" | awk '$1 ~ /^[0-9]+$/ {print $1, $2, $3, $5}')
got_i=$(sed -n '/^sftp> df -i$/,$p' "$T/df.out" | awk '$1 ~ /^[0-9]+$/ {print $1}')
[ "${got%% *}" = "$want_kib" ] || { cat "$T/df.out" >&2; fail "df: size ${got%% *} KiB, statvfs says $want_kib"; }
[ "$got_i" = "$want_inodes" ] || { cat "$T/df.out" >&2; fail "df -i: $got_i inodes, statvfs says $want_inodes"; }
grep -q '^ *Size  *Used  *Avail  *(root)  *%Capacity$' "$T/df.out" || fail "df: no header"
ok "df and df -i (statvfs@openssh.com) equal statvfs(2) of the jail"

# ---- 7. algorithms ----

# mod_sftp's offer, as OpenSSH's ssh sees it in the server's KEXINIT
timeout 30 ssh -vv -F none -p "$PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o PreferredAuthentications=none \
    -o IdentitiesOnly=yes "$PF_USER@127.0.0.1" true >/dev/null 2>"$T/offer.log" || true
offer() {
    sed -n '/peer server KEXINIT proposal/,/first_kex_follows/p' "$T/offer.log" |
        tr -d '\r' | sed -n "s/^debug2: $1: //p" | tr ',' '\n'
}
offer "KEX algorithms" >"$T/offer.kex"
offer "host key algorithms" >"$T/offer.key"
offer "ciphers stoc" >"$T/offer.cipher"
offer "MACs stoc" >"$T/offer.mac"
for k in kex key cipher mac; do
    [ -s "$T/offer.$k" ] || { cat "$T/offer.log" >&2; fail "cannot read mod_sftp's $k offer"; }
done
make_file "$L/alg.bin" 1048576
tried=""
# matrix KIND OPTION LOGLABEL: each algorithm ferry has and mod_sftp offers,
# forced, with a put and a get compared; mod_sftp's log must name it
matrix() {
    local kind=$1 opt=$2 label=$3 alg n=0 extra=()
    [ "$kind" = mac ] && extra=(-o Ciphers=aes128-ctr) # an AEAD cipher ignores the MAC
    for alg in $("$FERRY" -Q "$kind"); do
        if ! grep -qxF -- "$alg" "$T/offer.$kind"; then
            # not offered by mod_sftp: ferry must fail cleanly
            rc=0
            echo pwd | fr "no-$alg" -o "$opt=$alg" "${extra[@]}" || rc=$?
            [ $rc -ne 0 ] || fail "$opt=$alg: mod_sftp does not offer it, yet ferry succeeded"
            grep -q "no algorithm in common: no matching .* found" "$T/no-$alg.err" ||
                { cat "$T/no-$alg.err" >&2; fail "$opt=$alg: no clean refusal"; }
            echo "  ($opt=$alg: not offered by mod_sftp; ferry refuses cleanly)"
            continue
        fi
        local before
        before=$(count "$label: $alg\$" "$LOG")
        rm -f "$L/alg.back"
        printf '%s\n' "put $L/alg.bin alg-$alg" "get alg-$alg $L/alg.back" | must "alg-$alg" -o "$opt=$alg" "${extra[@]}"
        same "$L/alg.bin" "$SRV/alg-$alg"
        same "$L/alg.bin" "$L/alg.back"
        [ "$(count "$label: $alg\$" "$LOG")" -gt "$before" ] || fail "$opt=$alg: mod_sftp's log does not show it"
        n=$((n + 1))
        tried="$tried $alg"
    done
    [ $n -gt 0 ] || fail "no $kind algorithm in common"
    ok "$opt: $n algorithms, each with a 1 MiB put and get compared"
}
matrix cipher Ciphers "Session client-to-server encryption"
matrix mac MACs "Session client-to-server MAC"
matrix kex KexAlgorithms "Session key exchange"
matrix key HostKeyAlgorithms "Session host key algorithm"
for alg in aes128-ctr aes256-ctr aes128-gcm@openssh.com aes256-gcm@openssh.com curve25519-sha256 \
    ecdh-sha2-nistp256 diffie-hellman-group14-sha256 diffie-hellman-group16-sha512 \
    ssh-ed25519 ecdsa-sha2-nistp256 rsa-sha2-256 rsa-sha2-512 hmac-sha2-256-etm@openssh.com; do
    case " $tried " in *" $alg "*) ;; *) fail "$alg was not tried against mod_sftp" ;; esac
done
# mod_sftp 1.3.8 has no chacha20-poly1305@openssh.com
! grep -qx "chacha20-poly1305@openssh.com" "$T/offer.cipher" || fail "mod_sftp now offers chacha20-poly1305: update the test"
[ -f "$T/no-chacha20-poly1305@openssh.com.err" ] || fail "chacha20-poly1305 refusal not checked"

# ---- 8. user keys ----

for k in ecdsa rsa; do
    n0=$(count "authenticated via 'publickey'" "$LOG")
    echo pwd | FR_KEY="$T/id_$k" must "key-$k"
    [ "$(count "authenticated via 'publickey'" "$LOG")" = $((n0 + 1)) ] || fail "$k key: no publickey login logged"
done
rc=0
echo pwd | FR_KEY="$T/id_unlisted" fr unlisted || rc=$?
[ $rc -ne 0 ] || fail "a key not in the authorized keys was accepted"
grep -q "$PF_USER@127.0.0.1: Permission denied (publickey,password)" "$T/unlisted.err" ||
    { cat "$T/unlisted.err" >&2; fail "unlisted key: no 'Permission denied'"; }
ok "publickey with ed25519, ecdsa, rsa keys (RFC 4716 file); an unlisted key refused"

# ---- 9. password ----

printf '#!/bin/sh\necho "%s"\n' "$PF_PASS" >"$T/askpass"
printf '#!/bin/sh\necho wrong-password\n' >"$T/askpass-wrong"
printf '#!/bin/sh\ntouch "%s/asked"\necho "%s"\n' "$T" "$PF_PASS" >"$T/askpass-mark"
chmod 755 "$T/askpass" "$T/askpass-wrong" "$T/askpass-mark"
# pw NAME ASKPASS [OPTIONS...]: an interactive session (no -b) reading "pwd"
pw() {
    local name=$1 ask=$2 rc=0
    shift 2
    echo pwd | SSH_ASKPASS="$ask" SSH_ASKPASS_REQUIRE=force timeout 60 setsid -w "$FERRY" -F none \
        -P "$PORT" "$@" -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes -o IdentityAgent=none \
        -o PubkeyAuthentication=no "$PF_USER@127.0.0.1" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    no_sanitizer "$T/$name.err" "$name"
    return $rc
}
n0=$(count "authenticated via 'password'" "$LOG")
pw pw-right "$T/askpass" || { cat "$T/pw-right.err" >&2; fail "password authentication"; }
grep -q "^Remote working directory: /$" "$T/pw-right.out" || fail "password: no session"
[ "$(count "authenticated via 'password'" "$LOG")" = $((n0 + 1)) ] || fail "password: mod_sftp logged no password login"
rc=0
pw pw-wrong "$T/askpass-wrong" || rc=$?
[ $rc -ne 0 ] || fail "a wrong password was accepted"
grep -q "Permission denied" "$T/pw-wrong.err" || fail "wrong password: no 'Permission denied'"
grep -q "password authentication for user '$PF_USER' failed: Incorrect password" "$LOG" ||
    fail "wrong password: mod_sftp did not see it"
rm -f "$T/asked"
rc=0
echo pwd | SSH_ASKPASS="$T/askpass-mark" SSH_ASKPASS_REQUIRE=force timeout 60 "$FERRY" -F none \
    -P "$PORT" -o UserKnownHostsFile="$KH" -o PubkeyAuthentication=no -o IdentityAgent=none -b - \
    "$PF_USER@127.0.0.1" >"$T/pw-batch.out" 2>"$T/pw-batch.err" || rc=$?
no_sanitizer "$T/pw-batch.err" pw-batch
[ $rc -ne 0 ] || fail "-b logged in with a password"
[ ! -e "$T/asked" ] || fail "-b asked for a password"
ok "password authentication via SSH_ASKPASS (right, wrong; never asked with -b)"

# ---- 10. compression ----

python3 -c 'import sys
sys.stdout.write(("ferry talks to mod_sftp; zlib squeezes repeated lines like this one\n" * 50000)[:3145728])' \
    >"$L/text"
make_file "$L/rand" 3145728
rm -f "$L/text.back" "$L/rand.back"
n0=$(count "server-to-client compression: zlib@openssh.com" "$LOG")
[ "$(count "client-to-server compression: zlib@openssh.com" "$LOG")" = "$n0" ] || fail "compression before -C"
printf '%s\n' "put $L/text text" "put $L/rand rand" "get text $L/text.back" "get rand $L/rand.back" |
    must comp -C
for way in server-to-client client-to-server; do
    [ "$(count "$way compression: zlib@openssh.com" "$LOG")" = $((n0 + 1)) ] ||
        fail "-C: mod_sftp did not log zlib@openssh.com $way"
done
for f in text rand; do
    same "$L/$f" "$SRV/$f"
    same "$L/$f" "$L/$f.back"
done
ok "-C: zlib@openssh.com both ways (mod_sftp's log), files equal"

# ---- 11. client-initiated rekeying ----

k0=$(count "received SSH_MSG_KEXINIT" "$TRACE")
rm -f "$L/big.back"
printf '%s\n' "put $L/big.bin rekey.bin" "get rekey.bin $L/big.back" | must rekey-c -o RekeyLimit=1M
same "$L/big.bin" "$SRV/rekey.bin"
same "$L/big.bin" "$L/big.back"
kx=$(($(count "received SSH_MSG_KEXINIT" "$TRACE") - k0))
[ "$kx" -ge 3 ] || fail "RekeyLimit=1M: only $kx KEXINIT from ferry over 8 MiB"
grep -q -E "Connection lost|protocol violation" "$T/rekey-c.err" && fail "RekeyLimit: the connection was lost"
ok "RekeyLimit=1M: $((kx - 1)) client-initiated rekeys during a 4 MiB put and get, one connection"

# ---- 12. server-initiated rekeying (a second proftpd) ----

pf_start rekey "SFTPRekey required 3600 1" "$T/host_ecdsa384"
RPORT=$PF_PORT
echo "[127.0.0.1]:$RPORT $(cut -d' ' -f1,2 "$T/host_ecdsa384.pub")" >>"$KH"
echo pwd | FR_PORT=$RPORT must p384 -o HostKeyAlgorithms=ecdsa-sha2-nistp384
grep -q "Session host key algorithm: ecdsa-sha2-nistp384" "$T/sftp-rekey.log" || fail "ecdsa-sha2-nistp384 not used"
ok "ecdsa-sha2-nistp384 host key (PEM) known and accepted"
make_file "$L/srekey.bin" 4194304
for dir in put get; do
    s0=$(count "sent SSH_MSG_KEXINIT" "$T/trace-rekey.log")
    rm -f "$L/srekey.back"
    if [ $dir = put ]; then
        echo "put $L/srekey.bin srekey.bin" | FR_PORT=$RPORT must "srekey-$dir"
        same "$L/srekey.bin" "$SRV/srekey.bin"
    else
        echo "get srekey.bin $L/srekey.back" | FR_PORT=$RPORT must "srekey-$dir"
        same "$L/srekey.bin" "$L/srekey.back"
    fi
    sx=$(($(count "sent SSH_MSG_KEXINIT" "$T/trace-rekey.log") - s0))
    [ "$sx" -ge 2 ] || fail "SFTPRekey 1 MiB: mod_sftp did not re-key during the $dir ($sx KEXINIT)"
    if grep -q -E "Connection lost|protocol violation" "$T/srekey-$dir.err"; then
        bug "server-initiated rekey during $dir: $(grep -m1 -E 'protocol violation|Connection lost' "$T/srekey-$dir.err") (files equal only through reconnect+resume; see $T/srekey-$dir.err, $T/trace-rekey.log)"
    else
        ok "server-initiated rekeying during a 4 MiB $dir ($((sx - 1)) rekey(s)), one connection"
    fi
done
pf_stop rekey

# ---- 13. listings and error messages compared with OpenSSH's sftp ----

osftp() {
    timeout 60 sftp -F none -P "$PORT" -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes \
        -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes \
        -i "$T/id_ed25519" -b - "$PF_USER@127.0.0.1"
}
# the same batch, both clients: the outputs must be equal (error messages
# are ferry's own words, not compared)
compare() {
    local name=$1
    shift
    printf '%s\n' "$@" | must "cmp-$name"
    printf '%s\n' "$@" | osftp >"$T/sftp-$name.out" 2>"$T/sftp-$name.err" ||
        { cat "$T/sftp-$name.err" >&2; fail "$name: OpenSSH sftp failed"; }
    diff -u "$T/sftp-$name.out" "$T/cmp-$name.out" >"$T/cmp-$name.diff"
}
compare plain "ls -l" "ls -1 many" "ls -ln many" "ls -l many/entry-007" "ls -l ops/b.txt" "ls -1 ops" \
    "ls -1a ops/sub" "cd ops" "ls -l" "ls -la" "ls -l *.txt" "ls -lt" "pwd" "cd /" "-rm nonexistent" \
    "-rmdir ops" "-mkdir ops" "-cd nonexistent" "-get nonexistent $L/x" "-ls nonexistent" \
    "-chmod 600 nonexistent" || { cat "$T/cmp-plain.diff" >&2; fail "ferry's output differs from OpenSSH sftp's against mod_sftp"; }
# each failing command reported once, as by OpenSSH's sftp
[ "$(grep -c . "$T/cmp-plain.err")" = 7 ] || { cat "$T/cmp-plain.err" >&2; fail "not 7 error lines for 7 failing commands"; }
[ "$(tr -d '\r' <"$T/sftp-plain.err" | grep -c .)" = 7 ] || fail "OpenSSH sftp: not 7 error lines (test set-up)"
ok "listings (cwd, names, -n, files, globs, -t) equal OpenSSH sftp's; each failure reported once"
# ls -l of a named directory (mod_sftp offers no users-groups-by-id):
# OpenSSH's sftp prints the server's longname for each entry
if compare dirlong "ls -l many" "ls -l ops" "ls -la ops/sub" "ls -l tree/a"; then
    ok "ls -l DIR equals OpenSSH sftp's (the server's longnames)"
else
    bug "ls -l DIR differs from OpenSSH sftp's against a server without users-groups-by-id: sftp '$(tail -n +3 "$T/cmp-dirlong.diff" | grep -m1 '^-' | cut -c2-)', ferry '$(tail -n +3 "$T/cmp-dirlong.diff" | grep -m1 '^+' | cut -c2-)' (see $T/cmp-dirlong.diff)"
fi

# ---- the end ----

grep -q "no matching public key\|userauth failure" "$LOG" || fail "mod_sftp's log shows no refused login (test set-up)"
pf_stop main
[ -z "$BUGS" ] || fail "known ferry problems against mod_sftp:$BUGS"
ok "proftpd stopped; no sanitizer report in any ferry run"
