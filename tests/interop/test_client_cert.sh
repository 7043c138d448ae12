#!/usr/bin/env bash
# test_client_cert.sh: ferry logs in with OpenSSH user certificates
# (PROTOCOL.certkeys) to OpenSSH's sshd, which trusts a CA made here
# (TrustedUserCAKeys) and has no authorized key for the user at all, so
# only a certificate gets in. Certificates are made by ssh-keygen -s.
#  1. ed25519 key, its certificate beside it (KEY-cert.pub, found without
#     being named; ed25519 CA): put and get compared; sshd's log names the
#     certificate (ED25519-CERT, its key id and serial);
#     A get cut midway (cutproxy.py) resumes, the reconnect logging in with
#     the certificate again;
#  2. RSA key (rsa-sha2-512 signatures), certificate named by
#     CertificateFile, ECDSA CA; ECDSA P-384 key, RSA CA;
#  3. from ssh-agent: ssh-add adds the key and its certificate; ferry,
#     with no key file, signs for the certificate through the agent;
#  4. refused cleanly (exit 1, "Permission denied"): a certificate for
#     another principal, an expired one, one not yet valid, one from an
#     untrusted CA; a host certificate and a certificate whose key is not
#     ours are never offered (as by ssh).
# sshd logs in as root (PermitRootLogin), the principal named below.
. "$FERRY_SRC/tests/interop/lib.sh"
need ssh-keygen ssh-agent ssh-add cmp
AGENT_PID=""
PROXY_PID=""
test_cleanup() {
    local p
    for p in $AGENT_PID $PROXY_PID; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"

ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C ca-ed25519 -f "$T/ca_ed"
ssh-keygen -q -t ecdsa -b 256 -N '' -C ca-ecdsa -f "$T/ca_ec"
ssh-keygen -q -t rsa -b 3072 -N '' -C ca-rsa -f "$T/ca_rsa"
ssh-keygen -q -t ed25519 -N '' -C untrusted -f "$T/ca_other"
cat "$T/ca_ed.pub" "$T/ca_ec.pub" "$T/ca_rsa.pub" >"$T/trusted_cas"
sshd_start "$T/host_ed25519" "TrustedUserCAKeys $T/trusted_cas"
: >"$T/authorized_keys" # no plain key is authorised
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >"$T/known_hosts"
mkdir -p "$T/remote"
make_file "$T/src.bin" 3000000

# cert NAME CA [ssh-keygen -s options...]: key $T/NAME (made by the
# caller) certified by CA into $T/NAME-cert.pub
cert() {
    local name=$1 ca=$2
    shift 2
    ssh-keygen -q -s "$T/$ca" -I "id-$name" "$@" "$T/$name.pub"
}
# run NAME [ferry options...]: a batch session with key $T/NAME; exit
# status in $T/NAME.rc, stderr in $T/NAME.err
run() {
    local name=$1
    shift
    printf '%s\n' "put $T/src.bin $T/remote/$name.bin" "get $T/remote/$name.bin $T/$name.got" >"$T/$name.batch"
    set +e
    timeout 60 "$FERRY" -F none -P "${VIA_PORT:-$SSHD_PORT}" -o UserKnownHostsFile="$T/known_hosts" \
        -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/$name" "$@" \
        -b "$T/$name.batch" root@127.0.0.1 >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
    set -e
}
# accepted NAME TYPE: the session ran, both copies equal, sshd logged a
# certificate of TYPE with NAME's key id
accepted() {
    [ "$(cat "$T/$1.rc")" = 0 ] || { cat "$T/$1.err" >&2; fail "$1: ferry failed"; }
    cmp -s "$T/src.bin" "$T/remote/$1.bin" || fail "$1: the uploaded file differs"
    cmp -s "$T/src.bin" "$T/$1.got" || fail "$1: the downloaded file differs"
    grep -q "Accepted publickey for root from 127.0.0.1 port [0-9]* ssh2: $2 SHA256:[^ ]* ID id-$1 " "$T/sshd.log" ||
        fail "$1: sshd did not log a $2 certificate with ID id-$1: $(grep Accepted "$T/sshd.log")"
}
# refused NAME: ferry failed to log in (exit 1, as OpenSSH's sftp)
refused() {
    [ "$(cat "$T/$1.rc")" = 1 ] || { cat "$T/$1.err" >&2; fail "$1: exit $(cat "$T/$1.rc"), want 1"; }
    grep -q "Permission denied (publickey)" "$T/$1.err" || fail "$1: $(cat "$T/$1.err")"
    [ ! -e "$T/remote/$1.bin" ] || fail "$1: a refused session wrote a file"
    grep -q "Accepted publickey.* ID id-$1 " "$T/sshd.log" && fail "$1: sshd accepted it" || true
}

# ---- 1. ed25519, the certificate found beside the key ----
ssh-keygen -q -t ed25519 -N '' -f "$T/ed"
cert ed ca_ed -n root,other -z 42
run ed
accepted ed ED25519-CERT
grep -q "ID id-ed (serial 42) CA ED25519" "$T/sshd.log" || fail "ed: serial/CA not in sshd's log"
ok "ed25519 key with its certificate beside it (ed25519 CA): put and get equal, sshd saw ED25519-CERT"
# cut during the get (cutproxy.py): the reconnect logs in with the
# certificate again, without asking, and the get resumes
python3 "$FERRY_SRC/tests/interop/cutproxy.py" --target "$SSHD_PORT" --port-file "$T/cut.port" \
    --log "$T/cut.log" --lifetime 120 --cut 1@1000000:down &
PROXY_PID=$!
for _ in $(seq 1 100); do [ -s "$T/cut.port" ] && break; sleep 0.1; done
cp "$T/ed" "$T/edcut"; cp "$T/ed.pub" "$T/edcut.pub"; cp "$T/ed-cert.pub" "$T/edcut-cert.pub"
echo "[127.0.0.1]:$(cat "$T/cut.port") $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >>"$T/known_hosts"
VIA_PORT=$(cat "$T/cut.port") run edcut -o ReconnectDelay=0.2
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=""
[ "$(cat "$T/edcut.rc")" = 0 ] || { cat "$T/edcut.err" >&2; fail "edcut: ferry failed"; }
cmp -s "$T/src.bin" "$T/edcut.got" || fail "edcut: the resumed download differs"
grep -q "Reconnected" "$T/edcut.err" || fail "edcut: no reconnect: $(cat "$T/cut.log")"
[ "$(grep -c "Accepted publickey for root .* ED25519-CERT .* ID id-ed " "$T/sshd.log")" -ge 3 ] ||
    fail "edcut: the reconnect did not log in with the certificate"
ok "a get cut midway: the reconnect logs in with the certificate again and the get resumes"

# ---- 2. RSA key by CertificateFile (ECDSA CA); ECDSA key, RSA CA ----
ssh-keygen -q -t rsa -b 3072 -N '' -f "$T/rsa"
cert rsa ca_ec -n root
mv "$T/rsa-cert.pub" "$T/rsa.certificate"
run rsa -v -o CertificateFile="$T/rsa.certificate"
accepted rsa RSA-CERT
grep -q "rsa-sha2-512-cert-v01@openssh.com" "$T/rsa.err" || fail "rsa: not offered as rsa-sha2-512-cert-v01@openssh.com: $(cat "$T/rsa.err")"
ssh-keygen -q -t ecdsa -b 384 -N '' -f "$T/ec"
cert ec ca_rsa -n root
run ec
accepted ec ECDSA-CERT
ok "RSA key by CertificateFile (ECDSA CA, rsa-sha2-512-cert), ECDSA P-384 key (RSA CA)"

# ---- 3. ssh-agent ----
ssh-keygen -q -t ed25519 -N '' -f "$T/agentkey"
cert agentkey ca_ec -n root
ssh-agent -D -a "$T/agent.sock" >/dev/null &
AGENT_PID=$!
for _ in $(seq 1 50); do [ -S "$T/agent.sock" ] && break; sleep 0.1; done
SSH_AUTH_SOCK="$T/agent.sock" ssh-add -q "$T/agentkey" 2>/dev/null
SSH_AUTH_SOCK="$T/agent.sock" ssh-add -L >"$T/agent.list"
grep -q "^ssh-ed25519-cert-v01@openssh.com " "$T/agent.list" ||
    fail "agent: ssh-add did not add the certificate"
mv "$T/agentkey" "$T/agentkey.away"; mv "$T/agentkey-cert.pub" "$T/agentkey-cert.away"
printf '%s\n' "put $T/src.bin $T/remote/agentkey.bin" "get $T/remote/agentkey.bin $T/agentkey.got" >"$T/agent.batch"
HOME="$T" SSH_AUTH_SOCK="$T/agent.sock" timeout 60 "$FERRY" -F none -P "$SSHD_PORT" \
    -o UserKnownHostsFile="$T/known_hosts" -o BatchMode=yes -b "$T/agent.batch" root@127.0.0.1 \
    >"$T/agentkey.out" 2>"$T/agentkey.err" && echo 0 >"$T/agentkey.rc" || echo $? >"$T/agentkey.rc"
accepted agentkey ED25519-CERT
ok "the certificate from ssh-agent (no key file): put and get equal"

# ---- 4. refused ----
ssh-keygen -q -t ed25519 -N '' -f "$T/wrongname"
cert wrongname ca_ed -n somebody
run wrongname
refused wrongname
ssh-keygen -q -t ed25519 -N '' -f "$T/expired"
cert expired ca_ed -n root -V 20200101:20200102
run expired
refused expired
ssh-keygen -q -t ed25519 -N '' -f "$T/future"
cert future ca_ed -n root -V +52w:+53w
run future
refused future
ssh-keygen -q -t ed25519 -N '' -f "$T/hostcert"
cert hostcert ca_ed -h -n root
run hostcert -v
refused hostcert
grep -q "offering ssh-ed25519-cert" "$T/hostcert.err" && fail "hostcert: a host certificate was offered"
ssh-keygen -q -t ed25519 -N '' -f "$T/untrusted"
cert untrusted ca_other -n root
run untrusted
refused untrusted
# a certificate of another key, named by CertificateFile: not offered
ssh-keygen -q -t ed25519 -N '' -f "$T/mine"
before=$(grep -c "id-ed" "$T/sshd.log")
run mine -o CertificateFile="$T/ed-cert.pub"
refused mine
[ "$(grep -c "id-ed" "$T/sshd.log")" = "$before" ] || fail "mine: the certificate of another key was offered"
ok "refused: another principal, expired, not yet valid, an untrusted CA; a host certificate and another key's certificate not offered"
