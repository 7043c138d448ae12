#!/usr/bin/env bash
# test_cert_rclone.sh: rclone (Go's golang.org/x/crypto/ssh + pkg/sftp)
# uses ferryd's OpenSSH certificate support (PROTOCOL.certkeys), with
# on-the-fly remotes from RCLONE_CONFIG_* variables. Keys and certificates
# by ssh-keygen (-s; -h for the host's).
#  1. user certificate (rclone's pubkey_file beside key_file): the user has
#     no authorized key (AuthorizedKeysFile names a missing file), the CA
#     is in TrustedUserCAKeys; rclone copy of a tree up, compared on the
#     server and by rclone check --download, and copied back, diff -r; the
#     audit log's session_start names the certificate (key_type, cert_id,
#     cert_serial, ca_key); a certificate whose principal is another user
#     is refused (rclone fails, nothing written, ferryd logs "principal not
#     in certificate"); control: the key without its certificate refused;
#  2. host certificate (HostKey + HostCertificate): rclone's
#     known_hosts_file holds only a @cert-authority line for
#     [127.0.0.1]:PORT (no host key at all), so only a certificate Go's
#     knownhosts verifies gets in; rclone copy and check --download pass.
#     Refused (rclone fails, nothing written): a known_hosts naming
#     another CA, a host certificate naming another host, and (control)
#     the same host key without HostCertificate.
. "$FERRY_SRC/tests/interop/lib.sh"
need rclone ssh-keygen cmp diff timeout

unset SSH_AUTH_SOCK # no agent: only the key (and certificate) given
export RCLONE_CONFIG="$T/rclone.conf"
: >"$RCLONE_CONFIG"
RC=(timeout 120 rclone --retries 1 --low-level-retries 1 -q)
# rc_refused REMOTE DIR ROOT ERROR WHAT: rclone copy to REMOTE:DIR fails
# (else FAIL WHAT), with ERROR in its stderr and nothing in ROOT/DIR
rc_refused() {
    if "${RC[@]}" copy "$L/src" "$1:$2" 2>"$T/$1.err"; then
        fail "$5"
    fi
    [ ! -e "$3/$2" ] || fail "$1: files were written"
    grep -q "$4" "$T/$1.err" || fail "$1: $(cat "$T/$1.err")"
}
# remote NAME USER KEY KNOWN_HOSTS [PUBKEY]: an sftp remote NAME: to ferryd
remote() {
    local n=${1^^}
    export "RCLONE_CONFIG_${n}_TYPE=sftp"
    export "RCLONE_CONFIG_${n}_HOST=127.0.0.1"
    export "RCLONE_CONFIG_${n}_PORT=$FERRYD_PORT"
    export "RCLONE_CONFIG_${n}_USER=$2"
    export "RCLONE_CONFIG_${n}_KEY_FILE=$3"
    export "RCLONE_CONFIG_${n}_KNOWN_HOSTS_FILE=$4"
    export "RCLONE_CONFIG_${n}_PUBKEY_FILE=${5:-}"
    export "RCLONE_CONFIG_${n}_KEY_USE_AGENT=false"
    export "RCLONE_CONFIG_${n}_SHELL_TYPE=none"
    export "RCLONE_CONFIG_${n}_MD5SUM_COMMAND=none"
    export "RCLONE_CONFIG_${n}_SHA1SUM_COMMAND=none"
}

L="$T/local"
mkdir -p "$L/src/d1/d2"
make_file "$L/src/big" $((1024 * 1024 + 77))
for i in $(seq 1 10); do make_file "$L/src/d1/f$i" $((i * 997)); done
make_file "$L/src/d1/d2/deep" 12345
: >"$L/src/zero"

# ---- 1. user certificate ----
ssh-keygen -q -t ed25519 -N '' -C user-ca -f "$T/ca_user"
cert_users_conf "$T/ca_user.pub" alice bob
ferryd_start --config "$T/ferryd.conf"
ssh-keygen -q -t ed25519 -N '' -f "$T/alice"
ssh-keygen -q -s "$T/ca_user" -I rclone-alice -n alice -z 4242 "$T/alice.pub"
remote ucert alice "$T/alice" "$T/known_hosts" "$T/alice-cert.pub"
"${RC[@]}" copy "$L/src" ucert:up 2>"$T/ucert.err" || { cat "$T/ucert.err" >&2; fail "rclone copy with a user certificate"; }
diff -r "$L/src" "$T/root_alice/up" >/dev/null || fail "ucert: the tree on the server differs"
"${RC[@]}" check --download "$L/src" ucert:up 2>"$T/ucert.err" || { cat "$T/ucert.err" >&2; fail "ucert: rclone check --download"; }
"${RC[@]}" copy ucert:up "$L/back" 2>"$T/ucert.err" || { cat "$T/ucert.err" >&2; fail "ucert: rclone copy down"; }
diff -r "$L/src" "$L/back" >/dev/null || fail "ucert: the tree copied back differs"
CAFP=$(ssh-keygen -l -E sha256 -f "$T/ca_user.pub" | awk '{print $2}')
# one grep (grep | grep -q under pipefail fails on SIGPIPE with many sessions)
grep -q "event=session_start user=alice .* key_type=ssh-ed25519-cert-v01@openssh.com cert_id=rclone-alice cert_serial=4242 ca_key=$CAFP " \
    "$T/audit.log" ||
    fail "ucert: no session_start naming the certificate: $(grep session_start "$T/audit.log")"
ok "rclone with a user certificate (pubkey_file), no authorized key: copy up, check --download, copy back equal; audited with its id, serial and CA"

# a certificate for bob, used as alice
ssh-keygen -q -t ed25519 -N '' -f "$T/bobkey"
ssh-keygen -q -s "$T/ca_user" -I rclone-bob -n bob "$T/bobkey.pub"
remote other alice "$T/bobkey" "$T/known_hosts" "$T/bobkey-cert.pub"
rc_refused other refused "$T/root_alice" "unable to authenticate" "rclone logged in as alice with bob's certificate"
grep -q "certificate ID \"rclone-bob\" (serial [0-9]*) refused for alice from 127.0.0.1: principal not in certificate" \
    "$T/ferryd.log" || fail "other: ferryd did not log the refusal: $(grep rclone-bob "$T/ferryd.log")"
# control: alice's key without its certificate (no authorized key at all)
remote nocert alice "$T/alice" "$T/known_hosts"
rc_refused nocert nocert "$T/root_alice" "unable to authenticate" "rclone logged in with the certified key but no certificate"
ok "rclone with another user's certificate refused (principal not in certificate); the key without its certificate refused"
ferryd_stop

# ---- 2. host certificate ----
make_user_key ed25519
ssh-keygen -q -t ed25519 -N '' -C host-ca -f "$T/ca_host"
ssh-keygen -q -t ed25519 -N '' -C other-ca -f "$T/ca_other"
ssh-keygen -q -t ed25519 -N '' -f "$T/ferryd_host"
ssh-keygen -q -s "$T/ca_host" -h -I ferryd-host -n 127.0.0.1 "$T/ferryd_host.pub"
printf '%s\n' "PerSourcePenalties no" "HostKey $T/ferryd_host" "HostCertificate $T/ferryd_host-cert.pub" \
    >"$T/ferryd_host.conf"
ferryd_start --config "$T/ferryd_host.conf"
grep -q "host certificate $T/ferryd_host-cert.pub: ssh-ed25519-cert-v01@openssh.com, ID \"ferryd-host\"" \
    "$T/ferryd.log" || fail "ferryd did not report its host certificate"
ca_line() { echo "@cert-authority [127.0.0.1]:$FERRYD_PORT $(cut -d' ' -f1,2 "$1")"; }
ca_line "$T/ca_host.pub" >"$T/kh_ca"
ca_line "$T/ca_other.pub" >"$T/kh_other"
remote hcert "$TEST_USER" "$T/id_ed25519" "$T/kh_ca"
"${RC[@]}" copy "$L/src" hcert:hc 2>"$T/hcert.err" || { cat "$T/hcert.err" >&2; fail "rclone copy verifying a host certificate"; }
diff -r "$L/src" "$T/root/hc" >/dev/null || fail "hcert: the tree on the server differs"
"${RC[@]}" check --download "$L/src" hcert:hc 2>"$T/hcert.err" || { cat "$T/hcert.err" >&2; fail "hcert: rclone check --download"; }
ok "rclone verifies ferryd's host certificate by a @cert-authority line alone: copy and check --download"

remote hother "$TEST_USER" "$T/id_ed25519" "$T/kh_other"
rc_refused hother otherca "$T/root" "ssh: no authorities for hostname: 127.0.0.1:$FERRYD_PORT" "rclone accepted a host certificate from a CA not in known_hosts"
ferryd_stop
ssh-keygen -q -s "$T/ca_host" -h -I wrong-name -n other.example "$T/ferryd_host.pub"
ferryd_start --config "$T/ferryd_host.conf"
remote hname "$TEST_USER" "$T/id_ed25519" "$T/kh_name"
ca_line "$T/ca_host.pub" >"$T/kh_name"
rc_refused hname wrongname "$T/root" 'principal "127.0.0.1" not in the set of valid principals' "rclone accepted a host certificate for another host"
ferryd_stop
# control: the same host key without HostCertificate, the same known_hosts
printf '%s\n' "PerSourcePenalties no" "HostKey $T/ferryd_host" >"$T/ferryd_plain.conf"
ferryd_start --config "$T/ferryd_plain.conf"
remote hplain "$TEST_USER" "$T/id_ed25519" "$T/kh_plain"
ca_line "$T/ca_host.pub" >"$T/kh_plain"
rc_refused hplain plain "$T/root" "ssh: handshake failed: knownhosts: key mismatch" "rclone accepted a plain host key with only a @cert-authority line"
ok "rclone refuses a host certificate of a CA not in known_hosts, one naming another host, and a plain host key (no certificate)"
ferryd_stop
ok "clean shutdown"
