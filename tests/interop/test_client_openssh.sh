#!/usr/bin/env bash
# test_client_openssh.sh: ferry against OpenSSH, compared with OpenSSH's
# own sftp client doing the same thing.
#
#  1. the same batch run by `ferry -D sftp-server` and `sftp -D sftp-server`
#     (no SSH: the shell and the SFTP engine alone) into separate trees;
#     outputs and resulting trees must be identical;
#  2. OpenSSH's sshd started here on a loopback port with its own config:
#     the same batch over SSH with `ferry -b` and `sftp -b`, compared again;
#  3. every cipher, MAC, kex and host-key algorithm both sides support,
#     forced with -o;
#  4. publickey and password authentication (user ferrytest, created if
#     missing; password given through SSH_ASKPASS), host key checks
#     (unknown host refused in BatchMode, accept-new stores it, a changed
#     key is refused naming the known_hosts line); -4, -6, AddressFamily
#     and BindAddress.
# Only processes started here are signalled, by PID.
set -euo pipefail

: "${FERRY_BUILD:?}" "${FERRY_SRC:?}"
FERRY="$FERRY_BUILD/ferry"
SFTP_SERVER=/usr/lib/openssh/sftp-server
SSHD=/usr/sbin/sshd
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-client-interop.XXXXXX")
SSHD_PID=""
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

cleanup() {
    local rc=$?
    local p
    for p in "$SSHD_PID" "${NOSFTP_PID:-}"; do
        [ -n "$p" ] || continue
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ $rc -ne 0 ] || [ "${FERRY_KEEP_TMP:-0}" = 1 ]; then
        echo "(temporary files kept in $T)" >&2
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    [ -f "$T/sshd.log" ] && tail -n 30 "$T/sshd.log" >&2
    exit 1
}
ok() { echo "ok - $*"; }

[ -x "$FERRY" ] || fail "$FERRY not built"
for t in sftp ssh-keygen "$SFTP_SERVER" "$SSHD"; do
    command -v "$t" >/dev/null 2>&1 || fail "$t is not installed (run scripts/deps test)"
done

. "$FERRY_SRC/tests/interop/client_lib.sh"

# ---- 1. no SSH: both clients on pipes to sftp-server ----

run_pair pipe "'$FERRY' -D $SFTP_SERVER" "sftp -D $SFTP_SERVER" ""

# a failing command without '-' stops the batch with a non-zero status
printf 'pwd\nrm /nonexistent/x\npwd\n' >"$T/failing"
if "$FERRY" -D "$SFTP_SERVER" -b "$T/failing" >"$T/failing.out" 2>&1; then
    fail "batch with a failing command exited 0"
fi
[ "$(grep -c '^sftp> pwd' "$T/failing.out")" = 1 ] || fail "batch went on after a failure"
ok "batch stops at the first failure with a non-zero exit"

# ---- 2. OpenSSH sshd on a loopback port ----

mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519"
ssh-keygen -q -t ecdsa -b 256 -N '' -f "$T/host_ecdsa"
ssh-keygen -q -t ecdsa -b 384 -N '' -f "$T/host_ecdsa384"
ssh-keygen -q -t ecdsa -b 521 -N '' -f "$T/host_ecdsa521"
ssh-keygen -q -t rsa -b 3072 -N '' -f "$T/host_rsa"
ssh-keygen -q -t ed25519 -N '' -C client -f "$T/id_ed25519"
ssh-keygen -q -t ecdsa -N '' -C client -f "$T/id_ecdsa"
ssh-keygen -q -t rsa -b 3072 -N '' -C client -f "$T/id_rsa"
cat "$T/id_ed25519.pub" "$T/id_ecdsa.pub" "$T/id_rsa.pub" >"$T/authorized_keys"
chmod 600 "$T/authorized_keys"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
ListenAddress ::1
Port $PORT
HostKey $T/host_ed25519
HostKey $T/host_ecdsa
HostKey $T/host_ecdsa384
HostKey $T/host_ecdsa521
HostKey $T/host_rsa
AuthorizedKeysFile $T/authorized_keys
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
PermitRootLogin yes
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
# every algorithm OpenSSH knows, so the matrix can force each one
{
    echo "Ciphers $(ssh -Q cipher | paste -sd,)"
    echo "MACs $(ssh -Q mac | paste -sd,)"
    echo "KexAlgorithms $(ssh -Q kex | paste -sd,)"
    echo "HostKeyAlgorithms $(ssh -Q HostKeyAlgorithms | paste -sd,)"
    echo "PubkeyAcceptedAlgorithms $(ssh -Q PubkeyAcceptedAlgorithms | paste -sd,)"
} >>"$T/sshd_config"
"$SSHD" -t -f "$T/sshd_config" 2>"$T/sshd_t.log" || {
    # drop algorithms this sshd refuses in its own configuration
    sed -i '/^Ciphers\|^MACs\|^KexAlgorithms\|^HostKeyAlgorithms\|^PubkeyAccepted/d' "$T/sshd_config"
}
# start_sshd CONFIG LOG: sshd in the background, its PID in STARTED_PID
start_sshd() {
    "$SSHD" -D -e -f "$1" 2>"$2" &
    STARTED_PID=$!
    for _ in $(seq 1 100); do
        grep -q "Server listening" "$2" 2>/dev/null && return 0
        kill -0 "$STARTED_PID" 2>/dev/null || fail "sshd died"
        sleep 0.1
    done
    fail "sshd did not start"
}
start_sshd "$T/sshd_config" "$T/sshd.log"
SSHD_PID=$STARTED_PID

KH="$T/known_hosts"
COMMON="-o UserKnownHostsFile=$KH -o BatchMode=yes -o IdentitiesOnly=yes -i $T/id_ed25519"
FERRY_SSH="'$FERRY' -F none -P $PORT $COMMON"
SFTP_SSH="sftp -F none -P $PORT $COMMON -o StrictHostKeyChecking=accept-new"

# unknown host with BatchMode: refused
if "$FERRY" -F none -P "$PORT" $COMMON -b /dev/null root@127.0.0.1 >/dev/null 2>"$T/unknown.err"; then
    fail "unknown host accepted in BatchMode"
fi
grep -q "Host key verification failed" "$T/unknown.err" || fail "no verification message"
[ ! -s "$KH" ] || fail "known_hosts written for a refused host"
ok "unknown host refused in BatchMode"

# accept-new stores the key as OpenSSH does
"$FERRY" -F none -P "$PORT" $COMMON -o StrictHostKeyChecking=accept-new -b /dev/null \
    root@127.0.0.1 2>"$T/acceptnew.err" || { cat "$T/acceptnew.err" >&2; fail "accept-new"; }
ssh-keygen -F "[127.0.0.1]:$PORT" -f "$KH" >/dev/null || fail "key not stored in known_hosts"
ok "accept-new stores the host key ($(grep -c . "$KH") line)"

run_pair ssh "$FERRY_SSH" "$SFTP_SSH" root@127.0.0.1

# ---- 3. algorithm matrix ----

matrix() {
    local kind=$1 opt=$2 alg n=0
    for alg in $("$FERRY" -Q "$kind"); do
        # only what this OpenSSH also knows
        case "$kind" in
        cipher) ssh -Q cipher | grep -qx "$alg" || continue ;;
        mac) ssh -Q mac | grep -qx "$alg" || continue ;;
        kex) ssh -Q kex | grep -qx "$alg" || continue ;;
        key) ssh -Q HostKeyAlgorithms | grep -qx "$alg" || continue ;;
        esac
        local extra=""
        # an AEAD cipher ignores the MAC: force a non-AEAD cipher for MAC runs
        [ "$kind" = mac ] && extra="-o Ciphers=aes128-ctr"
        # host key algorithms: a fresh known_hosts, accept-new
        if ! echo "ls -1 /" | "$FERRY" -F none -P "$PORT" -o UserKnownHostsFile="$T/kh-$alg" \
            -o StrictHostKeyChecking=accept-new -o BatchMode=yes -i "$T/id_ed25519" \
            -o "$opt=$alg" $extra -b - root@127.0.0.1 >"$T/m.out" 2>"$T/m.err"; then
            cat "$T/m.err" >&2
            fail "$opt=$alg"
        fi
        grep -q '^sftp> ls -1 /' "$T/m.out" || fail "$opt=$alg: no output"
        n=$((n + 1))
    done
    [ $n -gt 0 ] || fail "no $kind algorithm tried"
    ok "$opt: $n algorithms"
}
matrix cipher Ciphers
matrix mac MACs
matrix kex KexAlgorithms
matrix key HostKeyAlgorithms

# every user key type
for k in ed25519 ecdsa rsa; do
    echo pwd | "$FERRY" -F none -P "$PORT" -o UserKnownHostsFile="$KH" -o BatchMode=yes \
        -o IdentitiesOnly=yes -i "$T/id_$k" -b - root@127.0.0.1 >/dev/null 2>"$T/k.err" ||
        { cat "$T/k.err" >&2; fail "publickey with $k"; }
done
ok "publickey authentication with ed25519, ecdsa, rsa keys"

# ssh-agent (started here, killed by PID) and no key file at all
mkdir -p "$T/emptyhome"
eval "$(ssh-agent -s)" >/dev/null
ssh-add -q "$T/id_ecdsa"
echo pwd | HOME="$T/emptyhome" "$FERRY" -F none -P "$PORT" -o UserKnownHostsFile="$KH" \
    -o BatchMode=yes -b - root@127.0.0.1 >/dev/null 2>"$T/agent.err" ||
    { kill "$SSH_AGENT_PID"; cat "$T/agent.err" >&2; fail "ssh-agent key"; }
if echo pwd | HOME="$T/emptyhome" "$FERRY" -F none -P "$PORT" -o UserKnownHostsFile="$KH" \
    -o BatchMode=yes -o IdentityAgent=none -b - root@127.0.0.1 >/dev/null 2>"$T/noagent.err"; then
    kill "$SSH_AGENT_PID"
    fail "IdentityAgent=none still used the agent"
fi
kill "$SSH_AGENT_PID"
unset SSH_AUTH_SOCK SSH_AGENT_PID
grep -q "root@127.0.0.1: Permission denied" "$T/noagent.err" || fail "no 'Permission denied' message"
ok "ssh-agent identities; IdentityAgent=none"

# a passphrase-protected key (PEM), passphrase through SSH_ASKPASS, with
# and without the .pub beside it
ssh-keygen -q -t ecdsa -m PEM -N 'key-pass' -C enc -f "$T/id_enc"
cat "$T/id_enc.pub" >>"$T/authorized_keys"
printf '#!/bin/sh\necho key-pass\n' >"$T/askpass_key"
chmod 755 "$T/askpass_key"
for round in with-pub without-pub; do
    echo pwd | SSH_ASKPASS="$T/askpass_key" SSH_ASKPASS_REQUIRE=force HOME="$T/emptyhome" \
        "$FERRY" -F none -P "$PORT" -o UserKnownHostsFile="$KH" -o IdentityAgent=none \
        -o PasswordAuthentication=no -i "$T/id_enc" root@127.0.0.1 >"$T/enc.out" 2>"$T/enc.err" ||
        { cat "$T/enc.err" >&2; fail "encrypted key ($round)"; }
    grep -q "Remote working directory" "$T/enc.out" || fail "encrypted key ($round): no session"
    [ "$round" = with-pub ] && mv "$T/id_enc.pub" "$T/id_enc.pub.away"
done
ok "passphrase-protected key via SSH_ASKPASS"

# OpenSSH's own encrypted format (bcrypt KDF, ssh-keygen's default), ed25519
# and rsa: decrypted through ssh-keygen; a wrong passphrase is asked again;
# no decrypted copy is left behind
mkdir -p "$T/xdg"
chmod 700 "$T/xdg"
for kt in ed25519 rsa; do
    ssh-keygen -q -t $kt -N 'bcrypt pass' -C bc -f "$T/id_bc_$kt"
    cat "$T/id_bc_$kt.pub" >>"$T/authorized_keys"
done
printf '#!/bin/sh
echo "bcrypt pass"
' >"$T/askpass_bc"
# the first answer is wrong, the second right
printf '#!/bin/sh
if [ -e "%s/asked" ]; then echo "bcrypt pass"; else touch "%s/asked"; echo wrong; fi
' \
    "$T" "$T" >"$T/askpass_bc2"
chmod 755 "$T/askpass_bc" "$T/askpass_bc2"
for kt in ed25519 rsa; do
    for round in with-pub without-pub; do
        echo pwd | XDG_RUNTIME_DIR="$T/xdg" SSH_ASKPASS="$T/askpass_bc" SSH_ASKPASS_REQUIRE=force \
            HOME="$T/emptyhome" "$FERRY" -F none -P "$PORT" -o UserKnownHostsFile="$KH" \
            -o IdentityAgent=none -o PasswordAuthentication=no -i "$T/id_bc_$kt" root@127.0.0.1 \
            >"$T/bc.out" 2>"$T/bc.err" || { cat "$T/bc.err" >&2; fail "bcrypt $kt key ($round)"; }
        grep -q "Remote working directory" "$T/bc.out" || fail "bcrypt $kt key ($round): no session"
        [ "$round" = with-pub ] && mv "$T/id_bc_$kt.pub" "$T/id_bc_$kt.pub.away"
    done
done
rm -f "$T/asked"
echo pwd | XDG_RUNTIME_DIR="$T/xdg" SSH_ASKPASS="$T/askpass_bc2" SSH_ASKPASS_REQUIRE=force \
    HOME="$T/emptyhome" "$FERRY" -F none -P "$PORT" -o UserKnownHostsFile="$KH" \
    -o IdentityAgent=none -o PasswordAuthentication=no -i "$T/id_bc_ed25519" root@127.0.0.1 \
    >"$T/bc2.out" 2>"$T/bc2.err" || { cat "$T/bc2.err" >&2; fail "bcrypt key, second try"; }
grep -q "Bad passphrase, try again" "$T/bc2.err" || fail "a wrong passphrase was not reported"
grep -q "Remote working directory" "$T/bc2.out" || fail "bcrypt key, second try: no session"
[ -z "$(ls -A "$T/xdg")" ] || fail "decrypted key material left in XDG_RUNTIME_DIR: $(ls -A "$T/xdg")"
ok "OpenSSH-format encrypted keys (bcrypt KDF; ed25519, rsa) via ssh-keygen; wrong passphrase asked again; nothing left behind"

# ---- 4. password authentication ----

. "$FERRY_SRC/tests/interop/accounts.sh"
ensure_account ferrytest Interop-Pass-1
cat >"$T/askpass" <<'EOF'
#!/bin/sh
echo 'Interop-Pass-1'
EOF
chmod 755 "$T/askpass"
echo pwd | SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force setsid -w "$FERRY" -F none \
    -P "$PORT" -o UserKnownHostsFile="$KH" -o PubkeyAuthentication=no \
    ferrytest@127.0.0.1 >"$T/pw.out" 2>"$T/pw.err" || { cat "$T/pw.err" >&2; fail "password"; }
grep -q "Remote working directory: /home/ferrytest" "$T/pw.out" || fail "password: wrong session"
# PreferredAuthentications: password before a key that would do, and a
# key alone (no password asked); sshd reads the keys as ferrytest
chmod 711 "$T"
chmod 644 "$T/authorized_keys"
n0=$(grep -c "Accepted password for ferrytest" "$T/sshd.log" || true)
echo pwd | SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force setsid -w "$FERRY" -F none \
    -P "$PORT" -o UserKnownHostsFile="$KH" -o IdentitiesOnly=yes -i "$T/id_ed25519" \
    -o PreferredAuthentications=keyboard-interactive,password ferrytest@127.0.0.1 \
    >/dev/null 2>"$T/pref.err" || { cat "$T/pref.err" >&2; fail "PreferredAuthentications password"; }
[ "$(grep -c "Accepted password for ferrytest" "$T/sshd.log")" = $((n0 + 1)) ] ||
    fail "PreferredAuthentications=...,password did not use the password"
n0=$(grep -c "Accepted publickey for ferrytest" "$T/sshd.log" || true)
echo pwd | SSH_ASKPASS=/bin/false SSH_ASKPASS_REQUIRE=force setsid -w "$FERRY" -F none \
    -P "$PORT" -o UserKnownHostsFile="$KH" -o IdentitiesOnly=yes -i "$T/id_ed25519" \
    -o PreferredAuthentications=publickey ferrytest@127.0.0.1 \
    >/dev/null 2>"$T/pref.err" || { cat "$T/pref.err" >&2; fail "PreferredAuthentications publickey"; }
[ "$(grep -c "Accepted publickey for ferrytest" "$T/sshd.log")" = $((n0 + 1)) ] ||
    fail "PreferredAuthentications=publickey did not use the key"
ok "PreferredAuthentications orders and limits the methods"
if echo pwd | SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force "$FERRY" -F none -P "$PORT" \
    -o UserKnownHostsFile="$KH" -o PubkeyAuthentication=no -b - ferrytest@127.0.0.1 \
    >/dev/null 2>&1; then
    fail "-b asked for a password"
fi
locked_retry set_password ferrytest other
if echo pwd | SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force setsid -w "$FERRY" -F none \
    -P "$PORT" -o UserKnownHostsFile="$KH" -o PubkeyAuthentication=no \
    ferrytest@127.0.0.1 >/dev/null 2>&1; then
    fail "wrong password accepted"
fi
ok "password authentication (right and wrong password; never in batch mode)"

# ---- 5. changed host key ----

ssh-keygen -q -t ed25519 -N '' -f "$T/other"
{ echo "# another host key for the same name"; echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/other.pub")"; } \
    >"$T/kh-changed"
line=2
if echo pwd | "$FERRY" -F none -P "$PORT" -o UserKnownHostsFile="$T/kh-changed" \
    -o StrictHostKeyChecking=accept-new -o HostKeyAlgorithms=ssh-ed25519 -i "$T/id_ed25519" \
    -b - root@127.0.0.1 >/dev/null 2>"$T/changed.err"; then
    fail "changed host key accepted"
fi
grep -q "REMOTE HOST IDENTIFICATION HAS CHANGED" "$T/changed.err" || fail "no changed-key warning"
grep -q "Offending ED25519 key in $T/kh-changed:$line" "$T/changed.err" ||
    { cat "$T/changed.err" >&2; fail "offending line not named"; }
ok "changed host key refused, offending line $line named"

# IPv6 literal and an sftp:// URI with port and path
printf 'pwd\n' >"$T/v6.batch"
"$FERRY" -F none $COMMON -o StrictHostKeyChecking=accept-new -b "$T/v6.batch" \
    "sftp://root@[::1]:$PORT/$T" >"$T/v6.out" 2>"$T/v6.err" || { cat "$T/v6.err" >&2; fail "IPv6 URI"; }
grep -q "Remote working directory: $T\$" "$T/v6.out" || { cat "$T/v6.out" >&2; fail "IPv6 URI path"; }
"$FERRY" -F none -P "$PORT" $COMMON -b "$T/v6.batch" "root@[::1]:$T" >/dev/null 2>"$T/v6.err" ||
    { cat "$T/v6.err" >&2; fail "[::1]:path"; }
ok "IPv6: sftp://root@[::1]:port/path and root@[::1]:path"

# -4 / -6 (AddressFamily) and BindAddress, as ssh takes them
if "$FERRY" -F none -P "$PORT" $COMMON -4 -b "$T/v6.batch" "root@[::1]:$T" >/dev/null 2>"$T/fam4.err"; then
    fail "-4 connected to ::1"
fi
grep -q "Could not resolve hostname ::1" "$T/fam4.err" || fail "-4: $(cat "$T/fam4.err")"
if "$FERRY" -F none -P "$PORT" $COMMON -o AddressFamily=inet6 -b "$T/v6.batch" "root@127.0.0.1:$T" >/dev/null 2>"$T/fam6.err"; then
    fail "AddressFamily inet6 connected to 127.0.0.1"
fi
grep -q "Could not resolve hostname 127.0.0.1" "$T/fam6.err" || fail "AddressFamily inet6: $(cat "$T/fam6.err")"
"$FERRY" -F none -P "$PORT" $COMMON -6 -o BindAddress=::1 -b "$T/v6.batch" "root@[::1]:$T" >"$T/bind6.out" 2>"$T/bind6.err" ||
    { cat "$T/bind6.err" >&2; fail "-6 with BindAddress ::1"; }
grep -q "Remote working directory: $T\$" "$T/bind6.out" || fail "-6 BindAddress: $(cat "$T/bind6.out")"
"$FERRY" -F none -P "$PORT" $COMMON -o BindAddress=127.0.0.1 -b "$T/v6.batch" "root@127.0.0.1:$T" >/dev/null 2>"$T/bind4.err" ||
    { cat "$T/bind4.err" >&2; fail "BindAddress 127.0.0.1"; }
if "$FERRY" -F none -P "$PORT" $COMMON -o BindAddress=::1 -b "$T/v6.batch" "root@127.0.0.1:$T" >/dev/null 2>"$T/bindx.err"; then
    fail "BindAddress ::1 connected to 127.0.0.1"
fi
grep -q "connect to host 127.0.0.1 port $PORT from ::1: " "$T/bindx.err" || fail "BindAddress ::1: $(cat "$T/bindx.err")"
ok "-4, -6 / AddressFamily and BindAddress: only that family, from that address"

# download mode: ferry host:path local
"$FERRY" -F none -P "$PORT" $COMMON "root@127.0.0.1:$T/ssh-ferry/remote/big2.bin" \
    "$T/dl.bin" >/dev/null 2>"$T/dl.err" || { cat "$T/dl.err" >&2; fail "host:path download"; }
cmp -s "$T/dl.bin" "$T/ssh-ferry/local/big.bin" || fail "host:path download differs"
ok "ferry host:path local downloads and exits 0"

# no sftp subsystem on the server: ferry's INIT went out behind the
# subsystem request without waiting for its answer; the refusal is
# reported as OpenSSH's sftp reports it, with a non-zero exit
NOSFTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e '/^Subsystem /d' -e "s/^Port .*/Port $NOSFTP_PORT/" -e '/^ListenAddress ::1/d' \
    "$T/sshd_config" >"$T/sshd_nosftp_config"
start_sshd "$T/sshd_nosftp_config" "$T/sshd_nosftp.log"
NOSFTP_PID=$STARTED_PID
rc=0
"$FERRY" -F none -P "$NOSFTP_PORT" $COMMON -o StrictHostKeyChecking=no -b "$T/v6.batch" \
    root@127.0.0.1 >"$T/nosftp.out" 2>"$T/nosftp.err" || rc=$?
sftp_rc=0
sftp -F none -P "$NOSFTP_PORT" $COMMON -o StrictHostKeyChecking=no -b "$T/v6.batch" \
    root@127.0.0.1 >/dev/null 2>"$T/nosftp-sftp.err" || sftp_rc=$?
kill -TERM "$NOSFTP_PID" 2>/dev/null || true
wait "$NOSFTP_PID" 2>/dev/null || true
NOSFTP_PID=""
[ "$rc" -ne 0 ] || fail "ferry exited 0 without an sftp subsystem"
[ "$sftp_rc" -ne 0 ] || fail "sftp exited 0 without an sftp subsystem (test set-up)"
# the same words as OpenSSH's sftp (its warnings and ssh's CRs aside)
grep -v '^Warning: Permanently added' "$T/nosftp.err" >"$T/nosftp.err.f" || true
tr -d '\r' <"$T/nosftp-sftp.err" | grep -v '^Warning: Permanently added' >"$T/nosftp-sftp.err.f" || true
grep -q "subsystem request failed on channel 0" "$T/nosftp.err.f" ||
    { cat "$T/nosftp.err" >&2; fail "no subsystem refusal message"; }
diff "$T/nosftp-sftp.err.f" "$T/nosftp.err.f" >&2 || fail "ferry's message differs from sftp's"
! grep -q "Remote working directory" "$T/nosftp.out" || fail "a session without a subsystem ran the batch"
ok "no sftp subsystem: ferry says so as sftp does and exits non-zero"

# ... where -s with the server's path works, as with OpenSSH's sftp: an
# "exec" of it (sshd logs the command), put/get compared; the same through
# -S ssh (ssh given the path as its command, without -s)
start_sshd "$T/sshd_nosftp_config" "$T/sshd_nosftp.log"
NOSFTP_PID=$STARTED_PID
printf '%s\n' "put $T/ssh-ferry/local/big.bin $T/ssh-ferry/remote/exec.bin" \
    "get $T/ssh-ferry/remote/exec.bin $T/exec.got" >"$T/exec.batch"
"$FERRY" -F none -P "$NOSFTP_PORT" $COMMON -o StrictHostKeyChecking=no -s "$SFTP_SERVER" \
    -b "$T/exec.batch" root@127.0.0.1 >"$T/exec.out" 2>"$T/exec.err" ||
    { cat "$T/exec.err" >&2; fail "-s $SFTP_SERVER failed"; }
cmp -s "$T/ssh-ferry/local/big.bin" "$T/ssh-ferry/remote/exec.bin" || fail "-s path: the upload differs"
cmp -s "$T/ssh-ferry/local/big.bin" "$T/exec.got" || fail "-s path: the download differs"
grep -q "Starting session: command for root from 127.0.0.1" "$T/sshd_nosftp.log" ||
    fail "-s path: sshd ran no command: $(grep 'Starting session' "$T/sshd_nosftp.log")"
rm -f "$T/exec.got"
"$FERRY" -F none -P "$NOSFTP_PORT" $COMMON -o StrictHostKeyChecking=no -S "$(command -v ssh)" \
    -s "$SFTP_SERVER" -b "$T/exec.batch" root@127.0.0.1 >"$T/exec2.out" 2>"$T/exec2.err" ||
    { cat "$T/exec2.err" >&2; fail "-S ssh -s $SFTP_SERVER failed"; }
cmp -s "$T/ssh-ferry/local/big.bin" "$T/exec.got" || fail "-S ssh -s path: the download differs"
kill -TERM "$NOSFTP_PID" 2>/dev/null || true
wait "$NOSFTP_PID" 2>/dev/null || true
NOSFTP_PID=""
ok "-s $SFTP_SERVER on a server without the subsystem: exec'd as by sftp, put/get equal (also through -S ssh)"
