#!/usr/bin/env bash
# test_server_cert.sh: ferryd accepts OpenSSH user certificates
# (PROTOCOL.certkeys) from CAs listed in TrustedUserCAKeys, for users among
# the certificate's principals; the users have no authorized key at all.
# Certificates are made by ssh-keygen -s; the clients are OpenSSH's sftp
# and ferry.
#  1. OpenSSH's sftp with an ed25519 key and its certificate (ed25519 CA):
#     put and get compared; the audit log's session_start names the
#     certificate (key_type, cert_id, cert_serial, ca_key);
#  2. RSA key, ECDSA CA (rsa-sha2-512-cert-v01@openssh.com); ECDSA key, RSA
#     CA; critical options force-command=internal-sftp and
#     source-address=127.0.0.1/32 honoured;
#  3. ferry with its certificate beside the key;
#  4. refused, each with its reason in ferryd's log: a principal that is
#     another user, expired, not yet valid, an untrusted CA, source-address not admitting 127.0.0.1, a
#     force-command other than internal-sftp, an unknown critical option
#     (verify-required); a certificate alone with a plain key not listed;
#  5. authorized_keys "cert-authority" lines (a CA for one user only):
#     principals= names the principals accepted, else the user's name;
#     another user's CA refused; a CA key is never a plain user key;
#     AuthorizedPrincipalsFile (%u expanded) replaces the user's name for
#     TrustedUserCAKeys certificates;
#  5a. AuthorizedPrincipalsCommand: the principals it prints admit
#     certificates, its arguments expanded, one run per certificate;
#  5b. a user's From refuses its key and certificate from elsewhere;
#  6c. CASignatureAlgorithms refuses a certificate whose CA signature is
#     not listed;
#  6. RevokedKeys: a listed user key, certified key or CA is refused
#     (each logged), others go on; the file is read at each connection;
#     then the same as OpenSSH's binary KRL (ssh-keygen -k): certificate
#     serials and key IDs, keys, their sha256 hashes and fingerprints;
#  7. a ferryd without TrustedUserCAKeys refuses every certificate of its
#     CAs, and one whose TrustedUserCAKeys file is missing does not start;
#     nor does one whose RevokedKeys file is missing.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen cmp timeout
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"

ssh-keygen -q -t ed25519 -N '' -C ca-ed25519 -f "$T/ca_ed"
ssh-keygen -q -t ecdsa -b 256 -N '' -C ca-ecdsa -f "$T/ca_ec"
ssh-keygen -q -t rsa -b 3072 -N '' -C ca-rsa -f "$T/ca_rsa"
ssh-keygen -q -t ed25519 -N '' -C untrusted -f "$T/ca_other"
ssh-keygen -q -t ed25519 -N '' -C from-10 -f "$T/ca_from"
cat "$T/ca_ed.pub" "$T/ca_ec.pub" "$T/ca_rsa.pub" >"$T/trusted_cas"
mkdir -p "$T/root_alice" "$T/root_bob" "$T/root_carol" "$T/root_dave" "$T/root_erin" "$T/root_frank" \
    "$T/root_gina"
cat >"$T/ferryd.conf" <<CONF
PerSourcePenalties no
AuditLog $T/audit.log
TrustedUserCAKeys $T/trusted_cas
User alice
    Root $T/root_alice
    AuthorizedKeysFile $T/no_such_keys
User bob
    Root $T/root_bob
    AuthorizedKeysFile $T/no_such_keys
User carol
    Root $T/root_carol
    AuthorizedKeysFile $T/keys_carol
User dave
    Root $T/root_dave
    AuthorizedKeysFile $T/keys_dave
User erin
    Root $T/root_erin
    AuthorizedKeysFile $T/no_such_keys
    AuthorizedPrincipalsFile $T/principals_%u
User frank
    Root $T/root_frank
    AuthorizedKeysFile $T/keys_frank
    From 10.0.0.0/8,192.168.0.0/16
User gina
    Root $T/root_gina
    AuthorizedKeysFile $T/no_such_keys
CONF
# erin takes certificates (TrustedUserCAKeys) for ops-team, not her name;
# a line with options is skipped, not read as a bare principal
printf '%s\n' "# principals" "ops-team" "from=\"10.0.0.0/8\" erin" >"$T/principals_erin"
# per-user CAs (authorized_keys cert-authority lines), with ca_other,
# which TrustedUserCAKeys does not list
{
    echo "cert-authority,principals=\"ops,deploy\" $(cat "$T/ca_other.pub")"
    echo "cert-authority,principals=\"release\" $(cat "$T/ca_ed.pub")"
} >"$T/keys_carol"
{
    echo "cert-authority,from=\"10.0.0.0/8\" $(cat "$T/ca_from.pub")"
    echo "cert-authority $(cat "$T/ca_other.pub")"
} >"$T/keys_dave"
ferryd_start --config "$T/ferryd.conf"
grep -q "TrustedUserCAKeys $T/trusted_cas: 3 CA key(s)" "$T/ferryd.log" ||
    fail "ferryd did not report its 3 CA keys"
make_file "$T/data" 2000000

# key NAME TYPE [BITS]: a user key $T/NAME
key() { ssh-keygen -q -t "$2" ${3:+-b "$3"} -N '' -f "$T/$1"; }
# cert NAME CA [ssh-keygen -s options]: $T/NAME-cert.pub, key id id-NAME
cert() {
    local name=$1 ca=$2
    shift 2
    ssh-keygen -q -s "$T/$ca" -I "id-$name" "$@" "$T/$name.pub"
}
# sftp_as USER NAME: OpenSSH's sftp puts and gets with key $T/NAME
sftp_as() {
    printf '%s\n' "put $T/data $2.bin" "get $2.bin $T/$2.got" >"$T/batch"
    ossh_sftp -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/$2" \
        -b "$T/batch" "$1@127.0.0.1" >"$T/$2.out" 2>&1
}
# accepted USER NAME KEYTYPE: the session ran, both copies equal, the audit
# log has the certificate
accepted() {
    cmp -s "$T/data" "$T/root_$1/$2.bin" || fail "$2: the uploaded file differs"
    cmp -s "$T/data" "$T/$2.got" || fail "$2: the downloaded file differs"
    grep -q "event=session_start user=$1 .*key_type=$3 cert_id=id-$2 " "$T/audit.log" ||
        fail "$2: no session_start with key_type=$3 cert_id=id-$2: $(grep session_start "$T/audit.log")"
}
# login_ok USER NAME KEYTYPE WHAT: OpenSSH's sftp as USER with key NAME
# (WHAT: the failure message), then accepted USER NAME KEYTYPE
login_ok() {
    sftp_as "$1" "$2" || { cat "$T/$2.out" >&2; fail "$4"; }
    accepted "$1" "$2" "$3"
}
# refused USER NAME WHY: the session failed, nothing written, ferryd
# logged the certificate's refusal with WHY
refused() {
    [ ! -e "$T/root_$1/$2.bin" ] || fail "$2: a refused certificate wrote a file"
    grep -q "certificate ID \"id-$2\" (serial [0-9]*) refused for $1 from 127.0.0.1: $3" "$T/ferryd.log" ||
        fail "$2: ferryd did not log \"$3\": $(grep "id-$2" "$T/ferryd.log")"
}

# ---- 1. OpenSSH's sftp, ed25519 key and CA ----
key ed ed25519
cert ed ca_ed -n alice -z 77
login_ok alice ed ssh-ed25519-cert-v01@openssh.com "ed: sftp failed"
CAFP=$(ssh-keygen -l -E sha256 -f "$T/ca_ed.pub" | awk '{print $2}')
grep -q "event=session_start user=alice .*cert_serial=77 ca_key=$CAFP " "$T/audit.log" ||
    fail "ed: serial or CA fingerprint missing: $(grep session_start "$T/audit.log")"
ok "OpenSSH sftp with an ed25519 certificate (ed25519 CA): put and get equal, audited with its id, serial and CA"

# ---- 2. other key and CA types; critical options honoured ----
key rsa rsa 3072
cert rsa ca_ec -n bob,alice
login_ok bob rsa ssh-rsa-cert-v01@openssh.com "rsa: sftp failed"
key ec ecdsa 384
cert ec ca_rsa -n alice -O force-command=internal-sftp -O source-address=10.0.0.0/8,127.0.0.1/32
login_ok alice ec ecdsa-sha2-nistp384-cert-v01@openssh.com "ec: sftp failed"
ok "RSA key (ECDSA CA), ECDSA key (RSA CA) with force-command=internal-sftp and source-address admitting 127.0.0.1"

# ---- 3. ferry ----
key fe ed25519
cert fe ca_ec -n bob
printf '%s\n' "put $T/data fe.bin" "get fe.bin $T/fe.got" >"$T/fbatch"
timeout 60 "$FERRY" -F none -P "$FERRYD_PORT" -o UserKnownHostsFile="$T/known_hosts" \
    -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/fe" -b "$T/fbatch" \
    bob@127.0.0.1 >"$T/fe.out" 2>&1 || { cat "$T/fe.out" >&2; fail "ferry with a certificate failed"; }
accepted bob fe ssh-ed25519-cert-v01@openssh.com
ok "ferry with its certificate beside the key"

# ---- 4. refused ----
check_refused() { # USER NAME WHY
    if sftp_as "$1" "$2"; then fail "$2: a bad certificate logged in"; fi
    grep -q "Permission denied" "$T/$2.out" || fail "$2: $(cat "$T/$2.out")"
    refused "$@"
}
key other ed25519
cert other ca_ed -n bob
check_refused alice other "principal not in certificate"
key expired ed25519
cert expired ca_ed -n alice -V 20200101:20200102
check_refused alice expired "certificate expired"
key future ed25519
cert future ca_ed -n alice -V +52w:+53w
check_refused alice future "certificate not yet valid"
key untrusted ed25519
cert untrusted ca_other -n alice
check_refused alice untrusted "CA not trusted"
key srcaddr ed25519
cert srcaddr ca_ed -n alice -O source-address=10.1.2.0/24
check_refused alice srcaddr "source-address does not admit the client"
key shell ed25519
cert shell ca_ed -n alice -O force-command=/bin/sh
check_refused alice shell "force-command other than internal-sftp"
key fido ed25519
cert fido ca_ed -n alice -O verify-required
check_refused alice fido "unsupported critical option \"verify-required\""
# the certificate's key without the certificate: no authorized key
rm "$T/ed-cert.pub"
if sftp_as alice ed; then fail "a certified key logged in without its certificate"; fi
ok "refused: another user's principal, expired, not yet valid, untrusted CA, source-address, force-command, an unknown critical option; the key without its certificate"

# ---- 5. cert-authority lines in a user's authorized_keys ----
key deploy ed25519
cert deploy ca_other -n deploy
login_ok carol deploy ssh-ed25519-cert-v01@openssh.com "carol: principals= deploy refused"
# ca_ed is also in TrustedUserCAKeys, where a certificate must name
# carol: the cert-authority line is tried as well, as by sshd
key release ed25519
cert release ca_ed -n release
login_ok carol release ssh-ed25519-cert-v01@openssh.com "carol: a principals= of a second CA line refused"
key carolname ed25519
cert carolname ca_other -n carol
check_refused carol carolname "no principal of the certificate is allowed"
key davecert ed25519
cert davecert ca_other -n dave
login_ok dave davecert ssh-ed25519-cert-v01@openssh.com "dave: a cert-authority line refused"
key daveops ed25519
cert daveops ca_other -n ops
check_refused dave daveops "principal not in certificate"
key davefrom ed25519
cert davefrom ca_from -n dave
check_refused dave davefrom "CA not trusted"
# alice's CA is trusted for everyone (TrustedUserCAKeys); ca_other only
# for carol and dave
key aliceother ed25519
cert aliceother ca_other -n alice
check_refused alice aliceother "CA not trusted"
# a CA key is never a user key: ca_other itself as a plain key
cp "$T/ca_other" "$T/caplain"; cp "$T/ca_other.pub" "$T/caplain.pub"
if sftp_as dave caplain; then fail "a cert-authority key logged in as a plain key"; fi
[ ! -e "$T/root_dave/caplain.bin" ] || fail "caplain: a file was written"
ok "authorized_keys cert-authority: principals= honoured, the user's name without it, from= on the CA line, a CA key never a plain key"
key opsteam ed25519
cert opsteam ca_ed -n ops-team
login_ok erin opsteam ssh-ed25519-cert-v01@openssh.com "erin: AuthorizedPrincipalsFile's ops-team refused"
key erinname ed25519
cert erinname ca_ed -n erin
check_refused erin erinname "no principal of the certificate is allowed"
grep -q "skipping \"from=" "$T/ferryd.log" || fail "erin: the line with options was not reported"
ok "AuthorizedPrincipalsFile: a TrustedUserCAKeys certificate for a listed principal, not the user's name; a line with options skipped"

# ---- 5a. AuthorizedPrincipalsCommand ----
cat >"$T/princmd" <<SH
#!/bin/sh
echo "\$*" >>"$T/princmd.log"
case "\$1" in
gina) printf '%s\\n' "# groups" "ops-team" 'from="10.0.0.0/8" admins' ;;
*) echo "\$1" ;;
esac
SH
chmod 755 "$T/princmd"
ferryd_stop
cp "$T/ferryd.conf" "$T/ferryd_noprincmd.conf"
sed -i "s|^TrustedUserCAKeys .*|&\nAuthorizedPrincipalsCommand $T/princmd %u %i %s %T %F %t\nAuthorizedPrincipalsCommandUser nobody|" "$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
key ginaops ed25519
cert ginaops ca_ed -n ops-team -z 55
: >"$T/princmd.log"
login_ok gina ginaops ssh-ed25519-cert-v01@openssh.com "AuthorizedPrincipalsCommand: ops-team refused"
want="gina id-ginaops 55 ssh-ed25519 $(ssh-keygen -l -E sha256 -f "$T/ca_ed.pub" | awk '{print $2}') ssh-ed25519-cert-v01@openssh.com"
[ "$(cat "$T/princmd.log")" = "$want" ] ||
    fail "AuthorizedPrincipalsCommand got \"$(cat "$T/princmd.log")\", want \"$want\" (once)"
key ginaadm ed25519
cert ginaadm ca_ed -n admins
check_refused gina ginaadm "no principal of the certificate is allowed"
key ginaname ed25519
cert ginaname ca_ed -n gina
check_refused gina ginaname "no principal of the certificate is allowed"
key alicepc ed25519
cert alicepc ca_ed -n alice
login_ok alice alicepc ssh-ed25519-cert-v01@openssh.com "AuthorizedPrincipalsCommand: alice refused"
ferryd_stop
cp "$T/ferryd_noprincmd.conf" "$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
ok "AuthorizedPrincipalsCommand: its principals admit certificates (%u %i %s %T %F %t expanded, run once); a line with options skipped; the user's name not implied"

# ---- 5b. a user's From: neither a key nor a certificate logs in from elsewhere ----
key frankkey ed25519
cp "$T/frankkey.pub" "$T/keys_frank"
if sftp_as frank frankkey; then fail "From: frank logged in from 127.0.0.1"; fi
[ ! -e "$T/root_frank/frankkey.bin" ] || fail "From: frankkey wrote a file"
grep -q "user frank from 127.0.0.1 refused: not admitted by From" "$T/ferryd.log" ||
    fail "From: the key's refusal not logged"
key frankcert ed25519
cert frankcert ca_ed -n frank
if sftp_as frank frankcert; then fail "From: frank's certificate logged in from 127.0.0.1"; fi
refused frank frankcert "not admitted by the user's From"
ok "a user's From (10.0.0.0/8,192.168.0.0/16) refuses its key and its certificate from 127.0.0.1, logged"

# ---- 6. RevokedKeys: a user key, a certified key, a CA ----
ferryd_stop
key plainrev ed25519
key plainok ed25519
cat "$T/plainrev.pub" "$T/plainok.pub" >"$T/keys_alice_plain"
sed -i "s|AuthorizedKeysFile $T/no_such_keys|AuthorizedKeysFile $T/keys_alice_plain|" "$T/ferryd.conf"
key certrev ed25519
cert certrev ca_ed -n alice
key ecrev ed25519
cert ecrev ca_ec -n alice
cert ed ca_ed -n alice
cat "$T/plainrev.pub" "$T/certrev.pub" "$T/ca_ec.pub" >"$T/revoked"
sed -i "s|^TrustedUserCAKeys .*|&\nRevokedKeys $T/revoked|" "$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
for n in plainok ed; do
    rm -f "$T/root_alice/$n.bin"
    sftp_as alice $n || { cat "$T/$n.out" >&2; fail "RevokedKeys: $n (not listed) refused"; }
done
for n in plainrev certrev ecrev; do
    if sftp_as alice $n; then fail "RevokedKeys: $n logged in"; fi
    [ ! -e "$T/root_alice/$n.bin" ] || fail "RevokedKeys: $n wrote a file"
done
grep -q "info: key ssh-ed25519 $(ssh-keygen -l -E sha256 -f "$T/plainrev.pub" | awk '{print $2}') from 127.0.0.1 refused: revoked" "$T/ferryd.log" ||
    fail "RevokedKeys: the user key's refusal not logged"
refused alice certrev "certified key revoked"
refused alice ecrev "CA key revoked"
# read at each connection: unrevoke the user key without a restart
cat "$T/certrev.pub" "$T/ca_ec.pub" >"$T/revoked"
sftp_as alice plainrev || { cat "$T/plainrev.out" >&2; fail "RevokedKeys: a key taken off the list still refused"; }
ok "RevokedKeys refuses a user key, a certified key and a CA's certificates, and is read at each connection"

# ---- 6b. RevokedKeys as OpenSSH's binary KRL (ssh-keygen -k) ----
key krlser ed25519
cert krlser ca_ed -n alice -z 500
key krlok ed25519
cert krlok ca_ed -n alice -z 501
key krlid ed25519
cert krlid ca_ed -n alice -z 9
key krlrange ecdsa 256
cert krlrange ca_rsa -n alice -z 1003
key krlsha ed25519
key krlhash ed25519
key krlkey ed25519
cat "$T/krlsha.pub" "$T/krlhash.pub" "$T/krlkey.pub" "$T/plainok.pub" >>"$T/keys_alice_plain"
printf '%s\n' "serial: 500" "serial: 1-3" "serial: 7" "id: id-krlid" >"$T/krl_spec_ed"
printf '%s\n' "serial: 1000-1010" >"$T/krl_spec_rsa"
printf '%s\n' "sha256: $(cat "$T/krlsha.pub")" \
    "hash: $(ssh-keygen -l -E sha256 -f "$T/krlhash.pub" | awk '{print $2}')" >"$T/krl_spec_keys"
ssh-keygen -q -k -f "$T/revoked.krl" -s "$T/ca_ed.pub" "$T/krl_spec_ed"
ssh-keygen -q -k -u -f "$T/revoked.krl" -s "$T/ca_rsa.pub" "$T/krl_spec_rsa"
ssh-keygen -q -k -u -f "$T/revoked.krl" "$T/krl_spec_keys" "$T/krlkey.pub"
sed -i "s|^RevokedKeys .*|RevokedKeys $T/revoked.krl|" "$T/ferryd.conf"
ferryd_stop
ferryd_start --config "$T/ferryd.conf"
for n in krlok ed plainok certrev; do
    rm -f "$T/root_alice/$n.bin"
    sftp_as alice $n || { cat "$T/$n.out" >&2; fail "KRL: $n (not revoked) refused"; }
done
for n in krlser krlid krlrange krlsha krlhash krlkey; do
    rm -f "$T/root_alice/$n.bin"
    if sftp_as alice $n; then fail "KRL: $n logged in"; fi
    [ ! -e "$T/root_alice/$n.bin" ] || fail "KRL: $n wrote a file"
done
refused alice krlser "serial revoked"
refused alice krlrange "serial revoked"
refused alice krlid "key ID revoked"
for n in krlsha krlhash krlkey; do
    grep -q "info: key ssh-ed25519 $(ssh-keygen -l -E sha256 -f "$T/$n.pub" | awk '{print $2}') from 127.0.0.1 refused: revoked" "$T/ferryd.log" ||
        fail "KRL: $n's refusal not logged"
done
# ssh-keygen -Q agrees with ferryd about every one of them
for f in krlok.pub ed.pub plainok.pub krlok-cert.pub ed-cert.pub; do
    ssh-keygen -Q -f "$T/revoked.krl" "$T/$f" >/dev/null || fail "ssh-keygen -Q: $f revoked?"
done
for f in krlsha.pub krlhash.pub krlkey.pub krlser-cert.pub krlid-cert.pub krlrange-cert.pub; do
    if ssh-keygen -Q -f "$T/revoked.krl" "$T/$f" >/dev/null; then fail "ssh-keygen -Q: $f not revoked?"; fi
done
# updated in place: revoke krlok's serial; the next connection sees it
echo "serial: 501" >"$T/krl_spec_501"
ssh-keygen -q -k -u -f "$T/revoked.krl" -s "$T/ca_ed.pub" "$T/krl_spec_501"
rm -f "$T/root_alice/krlok.bin"
if sftp_as alice krlok; then fail "KRL: krlok logged in after its serial was revoked"; fi
refused alice krlok "serial revoked"
# a damaged KRL refuses every key (logged), as sshd does
head -c 40 "$T/revoked.krl" >"$T/revoked.krl.cut" && mv "$T/revoked.krl.cut" "$T/revoked.krl"
rm -f "$T/root_alice/plainok.bin"
if sftp_as alice plainok; then fail "KRL: a key logged in with a damaged KRL"; fi
grep -q "RevokedKeys $T/revoked.krl: .*; refusing every key" "$T/ferryd.log" || fail "KRL: the damaged file was not logged"
rm -f "$T/revoked.krl" && ssh-keygen -q -k -f "$T/revoked.krl" "$T/krlkey.pub"
ok "RevokedKeys as a KRL from ssh-keygen -k: serials (list, range), key ID, key, sha256 and hash: entries refused, the rest accepted, updates seen at once, a damaged KRL refuses all"

# ---- 6c. CASignatureAlgorithms ----
ferryd_stop
sed -i "s|^TrustedUserCAKeys .*|&\nCASignatureAlgorithms ssh-ed25519,ecdsa-sha2-nistp256|" "$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
key casigrsa ed25519
cert casigrsa ca_rsa -n alice
if sftp_as alice casigrsa; then fail "CASignatureAlgorithms: an RSA CA's certificate logged in"; fi
refused alice casigrsa "CA signature algorithm rsa-sha2-512 not accepted"
key casiged ed25519
cert casiged ca_ed -n alice
login_ok alice casiged ssh-ed25519-cert-v01@openssh.com "CASignatureAlgorithms: an ed25519 CA's certificate refused"
sed -i "/^CASignatureAlgorithms /d" "$T/ferryd.conf"
sed "s|^TrustedUserCAKeys .*|&\nCASignatureAlgorithms +ssh-rsa|" "$T/ferryd.conf" >"$T/casig_sha1.conf"
# shellcheck disable=SC2046
if "$FERRYD" -t --config "$T/casig_sha1.conf" $(host_key_args) >"$T/casig_sha1.out" 2>&1; then
    fail "CASignatureAlgorithms +ssh-rsa accepted"
fi
grep -q "CASignatureAlgorithms" "$T/casig_sha1.out" || fail "CASignatureAlgorithms +ssh-rsa: $(cat "$T/casig_sha1.out")"
ok "CASignatureAlgorithms: a certificate signed with rsa-sha2-512 refused when only ed25519/ECDSA are listed, an ed25519 CA's accepted"

# ---- 7. without TrustedUserCAKeys ----
ferryd_stop
grep -v TrustedUserCAKeys "$T/ferryd.conf" >"$T/ferryd_nocas.conf"
ferryd_start --config "$T/ferryd_nocas.conf"
cert ed ca_ed -n alice
rm -f "$T/root_alice/ed.bin"
if sftp_as alice ed; then fail "a certificate logged in without TrustedUserCAKeys"; fi
[ ! -e "$T/root_alice/ed.bin" ] || fail "no TrustedUserCAKeys: a file was written"
ferryd_stop
sed "s|^TrustedUserCAKeys .*|TrustedUserCAKeys $T/missing_cas|" "$T/ferryd.conf" >"$T/ferryd_missing.conf"
# shellcheck disable=SC2046
if timeout 20 "$FERRYD" --config "$T/ferryd_missing.conf" --listen 127.0.0.1:0 $(host_key_args) \
    >"$T/missing.out" 2>&1; then
    fail "ferryd started with a missing TrustedUserCAKeys file"
fi
grep -q "TrustedUserCAKeys $T/missing_cas" "$T/missing.out" || fail "missing CA file: $(cat "$T/missing.out")"
sed "s|^RevokedKeys .*|RevokedKeys $T/missing_revoked|" "$T/ferryd.conf" >"$T/ferryd_norev.conf"
# shellcheck disable=SC2046
if timeout 20 "$FERRYD" --config "$T/ferryd_norev.conf" --listen 127.0.0.1:0 $(host_key_args) \
    >"$T/norev.out" 2>&1; then
    fail "ferryd started with a missing RevokedKeys file"
fi
grep -q "RevokedKeys $T/missing_revoked" "$T/norev.out" || fail "missing RevokedKeys: $(cat "$T/norev.out")"
ok "no TrustedUserCAKeys: certificates refused; a missing CA or RevokedKeys file stops ferryd at start"
