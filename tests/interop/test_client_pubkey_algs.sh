#!/usr/bin/env bash
# test_client_pubkey_algs.sh: ferry's PubkeyAcceptedAlgorithms (ssh_config
# and -o; the older name PubkeyAcceptedKeyTypes too) against OpenSSH's
# sshd: identities are offered only under algorithms of the list, with
# OpenSSH's + and - forms; a certificate only under its certificate
# algorithm. The identities are an RSA key (first) and an ed25519 key
# with a certificate beside it; ferry -v says what it offers.
#  1. defaults: the RSA key as rsa-sha2-512 (server-sig-algs allows it);
#  2. "ssh-ed25519": the RSA key never offered, the plain ed25519 key
#     logs in; "-rsa-sha2-512": rsa-sha2-256; "ssh-ed25519-cert-...":
#     only the certificate; "-ssh-ed25519-cert-...": the certificate
#     never offered (and, no key authorised, the login refused);
#  3. "ssh-rsa" (SHA-1) named alone: offered and accepted by an sshd
#     allowing it (+ssh-rsa); sshd's defaults refuse it (its
#     server-sig-algs still lists ssh-rsa, so ferry offers it, as ssh
#     does) and the login ends cleanly;
#  4. from an ssh_config file under PubkeyAcceptedKeyTypes; a bad list is
#     refused before connecting, as by ssh.
. "$FERRY_SRC/tests/interop/lib.sh"
need ssh-keygen cmp
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"

ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C ca -f "$T/ca"
make_user_key rsa
make_user_key ed25519
ssh-keygen -q -s "$T/ca" -I id-ed -n root "$T/id_ed25519.pub"
mkdir -p "$T/remote"
make_file "$T/src.bin" 500000

# run NAME [ferry options...]: put and get with both identities (RSA
# first), -v; exit status in $T/NAME.rc, stderr in $T/NAME.err
run() {
    local name=$1
    shift
    printf '%s\n' "put $T/src.bin $T/remote/$name.bin" "get $T/remote/$name.bin $T/$name.got" >"$T/$name.batch"
    set +e
    timeout 60 "$FERRY" -F "${CONF:-none}" -v -P "$SSHD_PORT" "$@" -o UserKnownHostsFile="$T/known_hosts" \
        -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_rsa" -i "$T/id_ed25519" \
        -b "$T/$name.batch" root@127.0.0.1 >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
    set -e
}
# offers NAME ALG...: ferry offered exactly these algorithms, in this order
offers() {
    local name=$1 got want
    shift
    got=$(sed -n 's/.*ssh: offering \([^ ]*\) key.*/\1/p' "$T/$name.err" | tr '\n' ' ')
    want="$* "
    [ "$got" = "$want" ] || fail "$name: offered \"$got\", want \"$want\""
}
# accepted NAME: the session ran and both copies are equal
accepted() {
    [ "$(cat "$T/$1.rc")" = 0 ] || { cat "$T/$1.err" >&2; fail "$1: ferry failed"; }
    cmp -s "$T/src.bin" "$T/remote/$1.bin" || fail "$1: the uploaded file differs"
    cmp -s "$T/src.bin" "$T/$1.got" || fail "$1: the downloaded file differs"
}
CERT=ssh-ed25519-cert-v01@openssh.com

# ---- 1, 2: sshd's defaults plus our CA ----
sshd_start "$T/host_ed25519" "TrustedUserCAKeys $T/ca.pub"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >"$T/known_hosts"
run defaults
accepted defaults
offers defaults rsa-sha2-512
ok "defaults: the RSA key offered as rsa-sha2-512 and accepted"

run edonly -o PubkeyAcceptedAlgorithms=ssh-ed25519
accepted edonly
offers edonly ssh-ed25519
grep -q "Accepted publickey for root from 127.0.0.1 port [0-9]* ssh2: ED25519 SHA256:" "$T/sshd.log" ||
    fail "edonly: sshd did not log the plain ed25519 key: $(grep Accepted "$T/sshd.log")"
run no512 -o PubkeyAcceptedAlgorithms=-rsa-sha2-512
accepted no512
offers no512 rsa-sha2-256
run certonly -o "PubkeyAcceptedAlgorithms=$CERT"
accepted certonly
offers certonly "$CERT"
grep -q "Accepted publickey for root from 127.0.0.1 port [0-9]* ssh2: ED25519-CERT SHA256:[^ ]* ID id-ed " "$T/sshd.log" ||
    fail "certonly: sshd did not log the certificate: $(grep Accepted "$T/sshd.log")"
: >"$T/authorized_keys" # only the certificate can get in now
run nocert -o "PubkeyAcceptedAlgorithms=-$CERT"
[ "$(cat "$T/nocert.rc")" = 1 ] || { cat "$T/nocert.err" >&2; fail "nocert: exit $(cat "$T/nocert.rc"), want 1"; }
grep -q "Permission denied (publickey)" "$T/nocert.err" || fail "nocert: $(cat "$T/nocert.err")"
offers nocert rsa-sha2-512 ssh-ed25519
[ ! -e "$T/remote/nocert.bin" ] || fail "nocert: a refused session wrote a file"
ok "PubkeyAcceptedAlgorithms: a list and - honoured; a certificate offered only under its certificate algorithm"
cat "$T/id_rsa.pub" "$T/id_ed25519.pub" >"$T/authorized_keys"
sshd_stop

# ---- 3: SHA-1 ssh-rsa, only when named ----
sshd_start "$T/host_ed25519" "PubkeyAcceptedAlgorithms +ssh-rsa"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >"$T/known_hosts"
run sha1 -o PubkeyAcceptedAlgorithms=ssh-rsa
accepted sha1
offers sha1 ssh-rsa
sshd_stop
sshd_start "$T/host_ed25519"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >"$T/known_hosts"
run sha1refused -o PubkeyAcceptedAlgorithms=ssh-rsa
[ "$(cat "$T/sha1refused.rc")" = 1 ] || { cat "$T/sha1refused.err" >&2; fail "sha1refused: exit $(cat "$T/sha1refused.rc"), want 1"; }
grep -q "Permission denied (publickey)" "$T/sha1refused.err" || fail "sha1refused: $(cat "$T/sha1refused.err")"
offers sha1refused ssh-rsa
grep -q "signature algorithm ssh-rsa not in PubkeyAcceptedAlgorithms" "$T/sshd.log" ||
    fail "sha1refused: sshd did not refuse ssh-rsa: $(grep userauth "$T/sshd.log")"
ok "ssh-rsa (SHA-1) offered only when named: accepted by an sshd allowing it, refused cleanly by sshd's defaults"

# ---- 4: ssh_config, and a bad list ----
printf '%s\n' "Host *" "    PubkeyAcceptedKeyTypes ssh-ed25519" >"$T/ssh_config"
CONF="$T/ssh_config" run fromconf
accepted fromconf
offers fromconf ssh-ed25519
run badlist -o PubkeyAcceptedAlgorithms=+no-such-alg
[ "$(cat "$T/badlist.rc")" != 0 ] || fail "badlist: ferry accepted an unknown algorithm"
grep -q "Bad SSH2 PubkeyAcceptedAlgorithms spec '+no-such-alg'" "$T/badlist.err" || fail "badlist: $(cat "$T/badlist.err")"
grep -q "offering\|Authenticated" "$T/badlist.err" && fail "badlist: ferry connected anyway"
ok "PubkeyAcceptedKeyTypes in ssh_config; an unknown algorithm refused before connecting"
