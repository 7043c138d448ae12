#!/usr/bin/env bash
# test_hostcert.sh: OpenSSH host certificates (PROTOCOL.certkeys), both
# ways, with known_hosts holding only a @cert-authority line for the host
# (no host key at all) and StrictHostKeyChecking=yes, so only a
# certificate the client verifies gets in. Certificates by ssh-keygen -s -h.
#  1. ferry -> OpenSSH's sshd with HostCertificate: put/get compared, the
#     certificate algorithm negotiated, known_hosts left as it was; a get
#     cut by cutproxy.py resumes, the reconnect meeting the same key;
#  2. ferry refuses: a certificate naming another host, an expired one, a
#     CA not on the @cert-authority line (each then checked as a plain
#     key, as OpenSSH does: unknown, refused; known, accepted, by ssh
#     too), a CA marked @revoked, the certified key marked @revoked;
#     without a @cert-authority line ferry asks for no certificate and
#     checks the plain key as before;
#  2b. RevokedHostKeys (a KRL by ssh-keygen -k, or key lines) refuses a
#     revoked host certificate (serial, key ID, certified key, CA) or plain
#     host key; a missing file refuses all; OpenSSH's ssh agrees;
#  3. OpenSSH's sftp -> ferryd with HostCertificate: OpenSSH verifies
#     ferryd's certificate (its -v output names it), put/get compared;
#     ferry -> ferryd the same, rekeying every 256 KiB (the certificate
#     again each time);
#  4. ferryd refuses to start with a HostCertificate for a key it does
#     not hold, or a user certificate as host certificate.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh ssh-keygen cmp timeout
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"

ssh-keygen -q -t ed25519 -N '' -C host-ca -f "$T/ca"
ssh-keygen -q -t ecdsa -b 256 -N '' -C other-ca -f "$T/ca_other"
ssh-keygen -q -t ed25519 -N '' -f "$T/sshd_host"
ssh-keygen -q -s "$T/ca" -h -I sshd-host -n 127.0.0.1,localhost "$T/sshd_host.pub"
make_user_key ed25519
make_file "$T/data" 2000000
mkdir -p "$T/remote"

# ---- 1. ferry -> sshd ----
sshd_start "$T/sshd_host" "HostCertificate $T/sshd_host-cert.pub"
ca_line() { echo "@cert-authority [127.0.0.1]:$2 $(cut -d' ' -f1,2 "$1")"; }
ca_line "$T/ca.pub" "$SSHD_PORT" >"$T/kh_ca"
cp "$T/kh_ca" "$T/kh_ca.orig"
# ferry_to PORT KNOWN_HOSTS NAME [options]: put and get as $AS (root), of
# ${REMOTE}NAME.bin (REMOTE: $T/remote/); status in $T/NAME.rc
ferry_to() {
    local port=$1 kh=$2 name=$3
    shift 3
    local dst="${REMOTE-$T/remote/}$name.bin"
    printf '%s\n' "put $T/data $dst" "get $dst $T/$name.got" >"$T/$name.batch"
    set +e
    # the caller's options first: the first value of an option wins
    timeout 60 "$FERRY" -F none -v -P "$port" "$@" -o UserKnownHostsFile="$kh" \
        -o GlobalKnownHostsFile=none -o StrictHostKeyChecking=yes -o BatchMode=yes \
        -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519" \
        -b "$T/$name.batch" "${AS:-root}@127.0.0.1" >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
    set -e
}
ferry_to "$SSHD_PORT" "$T/kh_ca" good
[ "$(cat "$T/good.rc")" = 0 ] || { cat "$T/good.err" >&2; fail "ferry -> sshd with a host certificate failed"; }
cmp -s "$T/data" "$T/remote/good.bin" || fail "good: the uploaded file differs"
cmp -s "$T/data" "$T/good.got" || fail "good: the downloaded file differs"
grep -q "host key ssh-ed25519-cert-v01@openssh.com" "$T/good.err" ||
    fail "good: the certificate algorithm was not negotiated: $(grep 'kex ' "$T/good.err")"
cmp -s "$T/kh_ca" "$T/kh_ca.orig" || fail "good: known_hosts was changed"
ok "ferry -> sshd: the host certificate verified by a @cert-authority line alone; put/get equal"

# a connection cut during the get: the reconnect meets the same certified
# key (pinned from the first connection) and the get resumes, equal
PROXY_PID=""
test_cleanup() { [ -z "$PROXY_PID" ] || { kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; }; }
python3 "$FERRY_SRC/tests/interop/cutproxy.py" --target "$SSHD_PORT" --port-file "$T/cut.port" \
    --log "$T/cut.log" --lifetime 120 --cut 1@1000000:down &
PROXY_PID=$!
for _ in $(seq 1 100); do [ -s "$T/cut.port" ] && break; sleep 0.1; done
ca_line "$T/ca.pub" "$(cat "$T/cut.port")" >"$T/kh_cut"
ferry_to "$(cat "$T/cut.port")" "$T/kh_cut" cut -o ReconnectDelay=0.2
[ "$(cat "$T/cut.rc")" = 0 ] || { cat "$T/cut.err" >&2; fail "cut: ferry failed"; }
cmp -s "$T/data" "$T/cut.got" || fail "cut: the resumed download differs"
grep -q "Reconnected" "$T/cut.err" || fail "cut: no reconnect: $(cat "$T/cut.log")"
[ "$(grep -c "host key ssh-ed25519-cert-v01@openssh.com" "$T/cut.err")" -ge 2 ] ||
    fail "cut: the reconnect did not use the certificate again"
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=""
ok "a get cut midway resumes over a new connection to the same certified host key"

# ---- 2. refusals ----
# refused NAME MESSAGE: ferry failed before any transfer, saying MESSAGE
refused() {
    [ "$(cat "$T/$1.rc")" != 0 ] || fail "$1: ferry accepted the host"
    grep -q "$2" "$T/$1.err" || fail "$1: not \"$2\": $(cat "$T/$1.err")"
    grep -q "Host key verification failed." "$T/$1.err" || fail "$1: $(cat "$T/$1.err")"
    [ ! -e "$T/remote/$1.bin" ] || fail "$1: a file was written"
}
sshd_stop
ssh-keygen -q -s "$T/ca" -h -I wrong-name -n other.example "$T/sshd_host.pub"
sshd_start "$T/sshd_host" "HostCertificate $T/sshd_host-cert.pub"
ca_line "$T/ca.pub" "$SSHD_PORT" >"$T/kh_ca"
ferry_to "$SSHD_PORT" "$T/kh_ca" wrongname
refused wrongname "Certificate invalid: principal not in certificate"
sshd_stop
ssh-keygen -q -s "$T/ca" -h -I expired -n 127.0.0.1 -V 20200101:20200102 "$T/sshd_host.pub"
sshd_start "$T/sshd_host" "HostCertificate $T/sshd_host-cert.pub"
ca_line "$T/ca.pub" "$SSHD_PORT" >"$T/kh_ca"
ferry_to "$SSHD_PORT" "$T/kh_ca" expired
refused expired "Certificate invalid: certificate expired"
# as OpenSSH's ssh: the certificate failing, its key is checked as a
# plain key, which this known_hosts lists: both get in
{ ca_line "$T/ca.pub" "$SSHD_PORT"; echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/sshd_host.pub")"; } >"$T/kh_fallback"
ferry_to "$SSHD_PORT" "$T/kh_fallback" fallback
[ "$(cat "$T/fallback.rc")" = 0 ] || { cat "$T/fallback.err" >&2; fail "fallback: the known plain key was refused"; }
cmp -s "$T/data" "$T/fallback.got" || fail "fallback: the downloaded file differs"
grep -q "Certificate invalid: certificate expired" "$T/fallback.err" || fail "fallback: $(cat "$T/fallback.err")"
timeout 30 ssh -F none -p "$SSHD_PORT" -o UserKnownHostsFile="$T/kh_fallback" -o GlobalKnownHostsFile=none \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
    -i "$T/id_ed25519" root@127.0.0.1 true >"$T/ssh_fallback.out" 2>&1 ||
    { cat "$T/ssh_fallback.out" >&2; fail "OpenSSH's ssh refused the expired certificate's known plain key"; }
sshd_stop
ssh-keygen -q -s "$T/ca" -h -I sshd-host -n 127.0.0.1 "$T/sshd_host.pub"
sshd_start "$T/sshd_host" "HostCertificate $T/sshd_host-cert.pub"
ca_line "$T/ca_other.pub" "$SSHD_PORT" >"$T/kh_other"
ferry_to "$SSHD_PORT" "$T/kh_other" otherca
refused otherca "No matching CA found for the host certificate of \[127.0.0.1\]:$SSHD_PORT"
grep -q "No ED25519 host key is known for \[127.0.0.1\]:$SSHD_PORT" "$T/otherca.err" ||
    fail "otherca: the plain key was not checked: $(cat "$T/otherca.err")"
{ ca_line "$T/ca.pub" "$SSHD_PORT"; echo "@revoked * $(cut -d' ' -f1,2 "$T/ca.pub")"; } >"$T/kh_revca"
ferry_to "$SSHD_PORT" "$T/kh_revca" revca
refused revca "CA key SHA256:.* revoked"
# ... also when the CA is listed in one file and revoked in a later one
echo "@revoked * $(cut -d' ' -f1,2 "$T/ca.pub")" >"$T/kh_revlater"
ca_line "$T/ca.pub" "$SSHD_PORT" >"$T/kh_ca_now"
ferry_to "$SSHD_PORT" "$T/kh_ca_now" revlater -o GlobalKnownHostsFile="$T/kh_revlater"
refused revlater "CA key SHA256:.* revoked"
{ ca_line "$T/ca.pub" "$SSHD_PORT"; echo "@revoked * $(cut -d' ' -f1,2 "$T/sshd_host.pub")"; } >"$T/kh_revkey"
ferry_to "$SSHD_PORT" "$T/kh_revkey" revkey
refused revkey "Host key SHA256:.* revoked"
# no @cert-authority line: no certificate asked for, the plain key checked
: >"$T/kh_none"
ferry_to "$SSHD_PORT" "$T/kh_none" plainunknown
refused plainunknown "No ED25519 host key is known for \[127.0.0.1\]:$SSHD_PORT"
grep -q "cert-v01" "$T/plainunknown.err" && fail "plainunknown: a certificate algorithm was used"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/sshd_host.pub")" >"$T/kh_plain"
ferry_to "$SSHD_PORT" "$T/kh_plain" plain
[ "$(cat "$T/plain.rc")" = 0 ] || { cat "$T/plain.err" >&2; fail "plain: the known plain key was refused"; }
grep -q "host key ssh-ed25519," "$T/plain.err" || fail "plain: $(grep 'kex ' "$T/plain.err")"
# a plain key known in the user file and @revoked in the global one: refused
echo "@revoked * $(cut -d' ' -f1,2 "$T/sshd_host.pub")" >"$T/kh_plainrev"
ferry_to "$SSHD_PORT" "$T/kh_plain" plainrev -o GlobalKnownHostsFile="$T/kh_plainrev"
refused plainrev "Host key ED25519 SHA256:.* revoked by file $T/kh_plainrev"
ok "ferry refuses another host's certificate, an expired one, an unknown CA (falling back to the plain key, unknown here; known, it gets in, as with ssh), a revoked CA or key (in any known_hosts file); without a CA line the plain key is checked"

# ---- 2b. RevokedHostKeys: a KRL by ssh-keygen -k, or key lines ----
sshd_stop
ssh-keygen -q -s "$T/ca" -h -I sshd-host -n 127.0.0.1 -z 42 "$T/sshd_host.pub"
sshd_start "$T/sshd_host" "HostCertificate $T/sshd_host-cert.pub"
ca_line "$T/ca.pub" "$SSHD_PORT" >"$T/kh_ca"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/sshd_host.pub")" >"$T/kh_plain"
# krl NAME SPEC...: $T/NAME.krl revoking SPEC lines of the CA's certificates
krl() {
    local name=$1
    shift
    printf '%s\n' "$@" >"$T/$name.spec"
    ssh-keygen -q -k -f "$T/$name.krl" -s "$T/ca.pub" "$T/$name.spec"
}
krl hk_serial "serial: 40-42"
ferry_to "$SSHD_PORT" "$T/kh_ca" krlserial -o RevokedHostKeys="$T/hk_serial.krl"
refused krlserial "Host certificate for ED25519 SHA256:.*: serial revoked by file $T/hk_serial.krl"
krl hk_id "id: sshd-host"
ferry_to "$SSHD_PORT" "$T/kh_ca" krlid -o RevokedHostKeys="$T/hk_id.krl"
refused krlid "key ID revoked by file $T/hk_id.krl"
krl hk_other "serial: 43" "id: other-host"
ferry_to "$SSHD_PORT" "$T/kh_ca" krlother -o RevokedHostKeys="$T/hk_other.krl"
[ "$(cat "$T/krlother.rc")" = 0 ] || { cat "$T/krlother.err" >&2; fail "krlother: a host certificate not revoked was refused"; }
cmp -s "$T/data" "$T/krlother.got" || fail "krlother: the downloaded file differs"
ssh-keygen -q -k -f "$T/hk_key.krl" "$T/sshd_host.pub"
ferry_to "$SSHD_PORT" "$T/kh_plain" krlkey -o RevokedHostKeys="$T/hk_key.krl"
refused krlkey "Host key ED25519 SHA256:.* revoked by file $T/hk_key.krl"
ferry_to "$SSHD_PORT" "$T/kh_ca" krlcertkey -o RevokedHostKeys="$T/hk_key.krl"
refused krlcertkey "certified key revoked by file $T/hk_key.krl"
ferry_to "$SSHD_PORT" "$T/kh_plain" listkey -o RevokedHostKeys="$T/sshd_host.pub"
refused listkey "Host key ED25519 SHA256:.* revoked by file $T/sshd_host.pub"
ferry_to "$SSHD_PORT" "$T/kh_ca" listca -o RevokedHostKeys="$T/ca.pub"
refused listca "CA key revoked by file $T/ca.pub"
ferry_to "$SSHD_PORT" "$T/kh_plain" krlmissing -o RevokedHostKeys="$T/no_such.krl"
refused krlmissing "Error checking host key ED25519 SHA256:.* in revoked keys file $T/no_such.krl"
# OpenSSH's ssh decides the same on the same files
for f in hk_serial hk_id hk_key; do
    if timeout 30 ssh -F none -p "$SSHD_PORT" -o UserKnownHostsFile="$T/kh_ca" -o GlobalKnownHostsFile=none \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
        -i "$T/id_ed25519" -o RevokedHostKeys="$T/$f.krl" root@127.0.0.1 true >"$T/ssh_$f.out" 2>&1; then
        fail "OpenSSH's ssh accepted the host with $f.krl"
    fi
done
timeout 30 ssh -F none -p "$SSHD_PORT" -o UserKnownHostsFile="$T/kh_ca" -o GlobalKnownHostsFile=none \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
    -i "$T/id_ed25519" -o RevokedHostKeys="$T/hk_other.krl" root@127.0.0.1 true >"$T/ssh_other.out" 2>&1 ||
    { cat "$T/ssh_other.out" >&2; fail "OpenSSH's ssh refused the host with hk_other.krl"; }
ok "RevokedHostKeys: a KRL's serial, key ID or key, or a key list's host key or CA, refuses the host (as OpenSSH's ssh does); another serial does not; a missing file refuses"
# CASignatureAlgorithms: the ed25519 CA's signature not among them
ferry_to "$SSHD_PORT" "$T/kh_ca" casig -o CASignatureAlgorithms=ecdsa-sha2-nistp256,rsa-sha2-512
refused casig "Certificate invalid: CA signature algorithm ssh-ed25519 not in CASignatureAlgorithms"
if timeout 30 ssh -F none -p "$SSHD_PORT" -o UserKnownHostsFile="$T/kh_ca" -o GlobalKnownHostsFile=none \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
    -i "$T/id_ed25519" -o CASignatureAlgorithms=ecdsa-sha2-nistp256,rsa-sha2-512 root@127.0.0.1 true \
    >"$T/ssh_casig.out" 2>&1; then
    fail "OpenSSH's ssh accepted the certificate with CASignatureAlgorithms excluding its CA's"
fi
ferry_to "$SSHD_PORT" "$T/kh_ca" casigok -o CASignatureAlgorithms=-ecdsa*
[ "$(cat "$T/casigok.rc")" = 0 ] || { cat "$T/casigok.err" >&2; fail "casigok: refused"; }
ferry_to "$SSHD_PORT" "$T/kh_ca" casigbad -o CASignatureAlgorithms=+ssh-rsa
[ "$(cat "$T/casigbad.rc")" != 0 ] || fail "casigbad: SHA-1 ssh-rsa accepted as a CA signature algorithm"
grep -q "Bad SSH2 CASignatureAlgorithms spec '+ssh-rsa'" "$T/casigbad.err" || fail "casigbad: $(cat "$T/casigbad.err")"
ok "CASignatureAlgorithms: a certificate whose CA signature is not listed is invalid (as for ssh); SHA-1 ssh-rsa cannot be added"
sshd_stop

# ---- 3. OpenSSH's sftp -> ferryd, ferry -> ferryd ----
ssh-keygen -q -t ed25519 -N '' -f "$T/ferryd_host"
ssh-keygen -q -s "$T/ca" -h -I ferryd-host -n 127.0.0.1 -z 9 "$T/ferryd_host.pub"
printf '%s\n' "HostKey $T/ferryd_host" "HostCertificate $T/ferryd_host-cert.pub" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
grep -q "host certificate $T/ferryd_host-cert.pub: ssh-ed25519-cert-v01@openssh.com, ID \"ferryd-host\"" \
    "$T/ferryd.log" || fail "ferryd did not report its host certificate"
ca_line "$T/ca.pub" "$FERRYD_PORT" >"$T/kh_ferryd"
cp "$T/kh_ferryd" "$T/kh_ferryd.orig"
printf '%s\n' "put $T/data up.bin" "get up.bin $T/ossh.got" >"$T/ossh.batch"
timeout 60 sftp -v -F /dev/null -P "$FERRYD_PORT" -o UserKnownHostsFile="$T/kh_ferryd" \
    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
    -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519" -b "$T/ossh.batch" \
    "$TEST_USER@127.0.0.1" >"$T/ossh.out" 2>&1 || { cat "$T/ossh.out" >&2; fail "OpenSSH sftp -> ferryd with a host certificate failed"; }
cmp -s "$T/data" "$T/root/up.bin" || fail "ossh: the uploaded file differs"
cmp -s "$T/data" "$T/ossh.got" || fail "ossh: the downloaded file differs"
grep -q 'Server host certificate: ssh-ed25519-cert-v01@openssh.com SHA256:[^ ]*, serial 9 ID "ferryd-host" CA ssh-ed25519' "$T/ossh.out" ||
    fail "ossh: no host certificate in sftp -v: $(grep -i 'host' "$T/ossh.out" | head -5)"
grep -q "is known and matches the ED25519-CERT host certificate" "$T/ossh.out" || fail "ossh: $(grep -i cert "$T/ossh.out")"
cmp -s "$T/kh_ferryd" "$T/kh_ferryd.orig" || fail "ossh: known_hosts changed"
AS=$TEST_USER REMOTE="" ferry_to "$FERRYD_PORT" "$T/kh_ferryd" toferryd -o RekeyLimit=256K
[ "$(cat "$T/toferryd.rc")" = 0 ] || { cat "$T/toferryd.err" >&2; fail "ferry -> ferryd with a host certificate failed"; }
cmp -s "$T/data" "$T/toferryd.got" || fail "toferryd: the downloaded file differs"
grep -q "host key ssh-ed25519-cert-v01@openssh.com" "$T/toferryd.err" || fail "toferryd: $(grep 'kex ' "$T/toferryd.err")"
# ferry -v names the certificate as ssh -v does
grep -q 'Server host certificate: ssh-ed25519-cert-v01@openssh.com SHA256:[^ ]*, serial 9 ID "ferryd-host" CA ssh-ed25519 SHA256:' \
    "$T/toferryd.err" || fail "toferryd: no certificate line in ferry -v: $(grep -i cert "$T/toferryd.err")"
kx=$(grep "event=session_end" "$T/ferryd.log" | tail -1 | sed -n 's/.* key_exchanges=\([0-9]*\).*/\1/p')
[ "${kx:-0}" -ge 3 ] || fail "toferryd: $kx key exchanges, want several (RekeyLimit 256K over 4 MB)"
ok "OpenSSH sftp and ferry -> ferryd: ferryd's host certificate verified by a @cert-authority line alone"
ferryd_stop

# ---- 4. ferryd refuses bad HostCertificate files ----
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger"
ssh-keygen -q -s "$T/ca" -h -I stranger -n 127.0.0.1 "$T/stranger.pub"
ssh-keygen -q -s "$T/ca" -I usercert -n 127.0.0.1 -O clear "$T/ferryd_host.pub"
for bad in stranger ferryd_host; do
    printf '%s\n' "HostKey $T/ferryd_host" "HostCertificate $T/$bad-cert.pub" >"$T/bad.conf"
    if timeout 20 "$FERRYD" --config "$T/bad.conf" --listen 127.0.0.1:0 --root "$T/root" \
        --user "$TEST_USER" >"$T/bad.out" 2>&1; then
        fail "ferryd started with the certificate $bad-cert.pub"
    fi
done
grep -q "not a host certificate" "$T/bad.out" || fail "user certificate: $(cat "$T/bad.out")"
printf '%s\n' "HostKey $T/ferryd_host" "HostCertificate $T/stranger-cert.pub" >"$T/bad.conf"
timeout 20 "$FERRYD" --config "$T/bad.conf" --listen 127.0.0.1:0 --root "$T/root" --user "$TEST_USER" \
    >"$T/bad.out" 2>&1 && fail "ferryd started with another key's certificate"
grep -q "certifies none of the host keys" "$T/bad.out" || fail "stranger: $(cat "$T/bad.out")"
# an expired one is served (clients decide), with a warning at start
ssh-keygen -q -s "$T/ca" -h -I old -n 127.0.0.1 -V 20200101:20200102 "$T/ferryd_host.pub"
printf '%s\n' "HostKey $T/ferryd_host" "HostCertificate $T/ferryd_host-cert.pub" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
grep -q "warning: host certificate $T/ferryd_host-cert.pub: certificate expired: clients will refuse it" \
    "$T/ferryd.log" || fail "no warning for an expired host certificate: $(grep -i cert "$T/ferryd.log")"
ferryd_stop
ok "ferryd refuses a host certificate of a key it does not hold, and a user certificate; warns of an expired one"
