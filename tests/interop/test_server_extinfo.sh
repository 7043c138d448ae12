#!/usr/bin/env bash
# RFC 8308 against OpenSSH: ferryd answers the client's ext-info-c with an
# EXT_INFO whose server-sig-algs is its PubkeyAcceptedAlgorithms, and that
# list is what it accepts: SHA-1 ssh-rsa refused by default, accepted when
# configured with +ssh-rsa.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen timeout

make_user_key ed25519
make_user_key rsa
printf 'pwd\n' >"$T/batch"
RSAOPTS=(-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_rsa")

# 1. defaults: server-sig-algs are the default signature algorithms
ferryd_start
ossh_sftp -vvv "${RSAOPTS[@]}" -b "$T/batch" "$TEST_USER@127.0.0.1" >"$T/1.out" 2>"$T/1.err" ||
    fail "RSA login with rsa-sha2 failed: $(tail -n 5 "$T/1.err")"
grep -q "kex_input_ext_info: server-sig-algs=<ssh-ed25519,ecdsa-sha2-nistp256,.*rsa-sha2-512,rsa-sha2-256>" \
    "$T/1.err" || fail "no default server-sig-algs in EXT_INFO: $(grep -i ext_info "$T/1.err")"
grep -q "server-sig-algs=<[^>]*ssh-rsa[,>]" "$T/1.err" && fail "ssh-rsa announced by default"
if ossh_sftp "${RSAOPTS[@]}" -o PubkeyAcceptedAlgorithms=ssh-rsa -b "$T/batch" \
    "$TEST_USER@127.0.0.1" >/dev/null 2>"$T/1b.err"; then
    fail "a SHA-1 ssh-rsa signature was accepted by default"
fi
ferryd_stop
ok "EXT_INFO server-sig-algs = the defaults; ssh-rsa refused"

# 2. PubkeyAcceptedAlgorithms +ssh-rsa: announced and accepted
printf 'PubkeyAcceptedAlgorithms +ssh-rsa\n' >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
ossh_sftp -vvv "${RSAOPTS[@]}" -o PubkeyAcceptedAlgorithms=ssh-rsa -b "$T/batch" \
    "$TEST_USER@127.0.0.1" >"$T/2.out" 2>"$T/2.err" ||
    fail "SHA-1 ssh-rsa login refused with +ssh-rsa: $(tail -n 5 "$T/2.err")"
grep -q "Remote working directory" "$T/2.out" || fail "no session with ssh-rsa"
grep -q "server-sig-algs=<[^>]*,ssh-rsa>" "$T/2.err" || fail "ssh-rsa not announced"
ferryd_stop
ok "PubkeyAcceptedAlgorithms +ssh-rsa: announced in server-sig-algs and accepted"

# 3. a narrower list is announced as it is, and a key it excludes is refused
printf 'PubkeyAcceptedAlgorithms ssh-ed25519\n' >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
if ossh_sftp -vvv "${RSAOPTS[@]}" -b "$T/batch" "$TEST_USER@127.0.0.1" >/dev/null 2>"$T/3.err"; then
    fail "an RSA key was accepted with PubkeyAcceptedAlgorithms ssh-ed25519"
fi
grep -q "kex_input_ext_info: server-sig-algs=<ssh-ed25519>" "$T/3.err" ||
    fail "server-sig-algs is not the configured list: $(grep -i ext_info "$T/3.err")"
ossh_sftp -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519" \
    -b "$T/batch" "$TEST_USER@127.0.0.1" >/dev/null 2>&1 || fail "ed25519 login refused"
ferryd_stop
ok "PubkeyAcceptedAlgorithms ssh-ed25519: announced as such, RSA refused, ed25519 accepted"
