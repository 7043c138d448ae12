#!/usr/bin/env bash
# test_cert_putty.sh: PuTTY's psftp (0.78, Debian 12's putty-tools) uses
# ferryd's OpenSSH certificate support (PROTOCOL.certkeys), configured the
# way PuTTY on Unix stores it: files under $HOME/.putty (HOME is a
# temporary directory here). Keys and certificates by ssh-keygen (-s; -h
# for the host's), private keys converted to .ppk by puttygen. Bytes
# compared with cmp.
#  1. user certificate, a "detached certificate" (PuTTY 0.78): a saved
#     session $HOME/.putty/sessions/NAME with the line
#     DetachedCertificate=FILE (FILE: ssh-keygen's KEY-cert.pub), used by
#     psftp -load NAME -i KEY.ppk; the user has no authorized key
#     (AuthorizedKeysFile names a missing file), the CA is in
#     TrustedUserCAKeys: put and get compared, psftp -v says it sent the
#     certificate, and the audit log's session_start names it (key_type,
#     cert_id, cert_serial, ca_key, PuTTY's version string); the same with
#     psftp's -cert FILE option instead of a session. Refused (psftp fails,
#     nothing written): another user's certificate (ferryd logs "principal
#     not in certificate") and, control, the key without its certificate;
#  2. host certificate (HostKey + HostCertificate): a host CA record
#     $HOME/.putty/sshhostcas/NAME with PublicKey=BASE64 (the CA's public
#     key blob) and Validity=127.0.0.1 (the hosts it may certify); psftp
#     -batch with no -hostkey and no cached host key connects (psftp -v:
#     "Certification authority matches", "Accepted certificate") and
#     transfers, caching nothing; a user certificate and the host
#     certificate together in one session as well. Refused (psftp -batch
#     fails, nothing written): a record holding another CA ("Certification
#     authority is not trusted"), a record whose Validity names another
#     host (PuTTY then does not ask for certificates: "host key is not
#     cached"), a host certificate naming another host, and (control) no
#     CA record at all.
. "$FERRY_SRC/tests/interop/lib.sh"
need psftp puttygen ssh-keygen cmp timeout

# PuTTY's Unix storage: $HOME/.putty unless these point elsewhere
unset XDG_CONFIG_HOME PUTTYDIR PUTTYSESSIONS PUTTYSSHHOSTKEYS PUTTYSSHHOSTCAS PUTTYRANDOMSEED
unset SSH_AUTH_SOCK # no agent: only the key (and certificate) given
export HOME="$T/home"
PD="$HOME/.putty"
mkdir -p "$PD/sessions" "$PD/sshhostcas"

L="$T/local"
mkdir -p "$L"
make_file "$L/big.bin" $((1024 * 1024 + 77))
make_file "$L/small.bin" 4242
: >"$L/zero.bin"
# batch NAME: $T/NAME.batch puts the files as NAME-* and gets them back
# into $L/NAME-*
batch() {
    local f
    for f in big small zero; do
        echo "put $L/$f.bin $1-$f.bin"
        echo "get $1-$f.bin $L/$1-$f.back"
    done >"$T/$1.batch"
}
# copied NAME ROOT: the files are equal on the server and back
copied() {
    local f
    for f in big small zero; do
        cmp -s "$L/$f.bin" "$2/$1-$f.bin" || fail "$1: $f.bin on the server differs"
        cmp -s "$L/$f.bin" "$L/$1-$f.back" || fail "$1: $f.bin copied back differs"
    done
}
# ps NAME [psftp options...]: psftp -batch -v running NAME's batch on
# 127.0.0.1:FERRYD_PORT, output (stderr too) in $T/NAME.out
ps() {
    local n=$1
    shift
    batch "$n"
    timeout 120 psftp "$@" -batch -v -noagent -P "$FERRYD_PORT" -b "$T/$n.batch" 127.0.0.1 \
        >"$T/$n.out" 2>&1
}
# ps_ok NAME [psftp options...]: the session ran
ps_ok() {
    ps "$@" || { cat "$T/$1.out" >&2; fail "$1: psftp failed"; }
}
# ps_refused NAME ROOT MESSAGE [psftp options...]: the session failed,
# psftp said MESSAGE, nothing was written
ps_refused() {
    local n=$1 root=$2 msg=$3
    shift 3
    if ps "$n" "$@"; then fail "$n: psftp succeeded"; fi
    [ ! -e "$root/$n-big.bin" ] || fail "$n: a refused session wrote a file"
    grep -qF "$msg" "$T/$n.out" || fail "$n: psftp did not say \"$msg\": $(cat "$T/$n.out")"
}
# said NAME TEXT: psftp -v's output has TEXT
said() {
    grep -qF "$2" "$T/$1.out" || fail "$1: psftp did not say \"$2\": $(cat "$T/$1.out")"
}

# ---- 1. user certificate ----
ssh-keygen -q -t ed25519 -N '' -C user-ca -f "$T/ca_user"
cert_users_conf "$T/ca_user.pub" alice bob
ferryd_start --config "$T/ferryd.conf"
FP=$(ssh-keygen -l -E sha256 -f "$T/host_ed25519.pub" | awk '{print $2}')
CAFP=$(ssh-keygen -l -E sha256 -f "$T/ca_user.pub" | awk '{print $2}')
ssh-keygen -q -t ed25519 -N '' -f "$T/alice"
ssh-keygen -q -s "$T/ca_user" -I putty-alice -n alice -z 4242 "$T/alice.pub"
puttygen "$T/alice" -O private -o "$T/alice.ppk" || fail "puttygen conversion (alice)"
echo "DetachedCertificate=$T/alice-cert.pub" >"$PD/sessions/alicecert"
ps_ok ucert -load alicecert -hostkey "$FP" -l alice -i "$T/alice.ppk"
copied ucert "$T/root_alice"
said ucert "Sending public key with certificate from \"$T/alice-cert.pub\""
# one grep (grep | grep -q under pipefail fails on SIGPIPE)
grep -q "event=session_start user=alice .* key_type=ssh-ed25519-cert-v01@openssh.com cert_id=putty-alice cert_serial=4242 ca_key=$CAFP .*client=SSH-2.0-PuTTY_Release_0.78" \
    "$T/audit.log" ||
    fail "ucert: no session_start naming the certificate: $(grep session_start "$T/audit.log")"
ok "psftp -load SESSION with DetachedCertificate=alice-cert.pub, no authorized key: put and get equal; audited with its id, serial and CA"

ps_ok ucertopt -hostkey "$FP" -l alice -i "$T/alice.ppk" -cert "$T/alice-cert.pub"
copied ucertopt "$T/root_alice"
said ucertopt "Sending public key with certificate from \"$T/alice-cert.pub\""
ok "psftp -cert alice-cert.pub (no saved session): put and get equal"

# a certificate for bob, used as alice
ssh-keygen -q -t ed25519 -N '' -f "$T/bobkey"
ssh-keygen -q -s "$T/ca_user" -I putty-bob -n bob "$T/bobkey.pub"
puttygen "$T/bobkey" -O private -o "$T/bobkey.ppk" || fail "puttygen conversion (bob)"
echo "DetachedCertificate=$T/bobkey-cert.pub" >"$PD/sessions/bobcert"
ps_refused other "$T/root_alice" "Server refused our key" \
    -load bobcert -hostkey "$FP" -l alice -i "$T/bobkey.ppk"
said other "Sending public key with certificate from \"$T/bobkey-cert.pub\""
grep -q "certificate ID \"putty-bob\" (serial [0-9]*) refused for alice from 127.0.0.1: principal not in certificate" \
    "$T/ferryd.log" || fail "other: ferryd did not log the refusal: $(grep putty-bob "$T/ferryd.log")"
# control: alice's key without its certificate (no authorized key at all)
ps_refused nocert "$T/root_alice" "Server refused our key" \
    -hostkey "$FP" -l alice -i "$T/alice.ppk"
ok "psftp with another user's certificate refused (principal not in certificate); the key without its certificate refused"
ferryd_stop

# ---- 2. host certificate ----
make_user_key ed25519
puttygen "$T/id_ed25519" -O private -o "$T/id.ppk" || fail "puttygen conversion (id)"
ssh-keygen -q -t ed25519 -N '' -C host-ca -f "$T/ca_host"
ssh-keygen -q -t ed25519 -N '' -C other-ca -f "$T/ca_other"
ssh-keygen -q -t ed25519 -N '' -f "$T/ferryd_host"
ssh-keygen -q -s "$T/ca_host" -h -I ferryd-host -n 127.0.0.1 "$T/ferryd_host.pub"
# global keywords first: the User blocks run to the end of the file
{
    printf '%s\n' "HostKey $T/ferryd_host" "HostCertificate $T/ferryd_host-cert.pub"
    cat "$T/ferryd.conf"
} >"$T/ferryd_host.conf"
ferryd_start --config "$T/ferryd_host.conf"
grep -q "host certificate $T/ferryd_host-cert.pub: ssh-ed25519-cert-v01@openssh.com, ID \"ferryd-host\"" \
    "$T/ferryd.log" || fail "ferryd did not report its host certificate"
# ca_record CAKEY VALIDITY: the only host CA record PuTTY has, "ferryhostca"
ca_record() {
    rm -f "$PD/sshhostcas/"*
    printf '%s\n' "PublicKey=$(cut -d' ' -f2 "$1.pub")" "Validity=$2" >"$PD/sshhostcas/ferryhostca"
}
ca_record "$T/ca_host" 127.0.0.1
[ ! -e "$PD/sshhostkeys" ] || fail "a host key is cached before the test"
ps_ok hcert -l "$TEST_USER" -i "$T/id.ppk"
copied hcert "$T/root"
said hcert 'Certificate ID string is "ferryd-host"'
said hcert "Certification authority matches 'ferryhostca'"
said hcert "Accepted certificate"
[ ! -e "$PD/sshhostkeys" ] || fail "hcert: psftp cached a host key: $(cat "$PD/sshhostkeys")"
ok "psftp -batch, no -hostkey, nothing cached: ferryd's host certificate accepted by the sshhostcas record alone; put and get equal"

ps_ok both -load alicecert -l alice -i "$T/alice.ppk"
copied both "$T/root_alice"
said both "Accepted certificate"
said both "Sending public key with certificate from \"$T/alice-cert.pub\""
ok "psftp with a user certificate and the host certificate in one session: put and get equal"

ca_record "$T/ca_other" 127.0.0.1
ps_refused hother "$T/root" "Rejected host key certificate: Certification authority is not trusted" \
    -l "$TEST_USER" -i "$T/id.ppk"
said hother "Cannot confirm a host key in batch mode"
ca_record "$T/ca_host" other.example
ps_refused hvalid "$T/root" "The host key is not cached for this server" -l "$TEST_USER" -i "$T/id.ppk"
# control: no CA record at all
rm -f "$PD/sshhostcas/"*
ps_refused hnone "$T/root" "The host key is not cached for this server" -l "$TEST_USER" -i "$T/id.ppk"
ferryd_stop
ssh-keygen -q -s "$T/ca_host" -h -I wrong-name -n other.example "$T/ferryd_host.pub"
ferryd_start --config "$T/ferryd_host.conf"
ca_record "$T/ca_host" 127.0.0.1
ps_refused hname "$T/root" \
    "Rejected host key certificate: Certificate's hostname list [\"other.example\"] does not contain expected hostname \"127.0.0.1\"" \
    -l "$TEST_USER" -i "$T/id.ppk"
[ ! -e "$PD/sshhostkeys" ] || fail "a refused host key was cached: $(cat "$PD/sshhostkeys")"
ok "psftp refuses a host certificate of a CA other than its record's, one naming another host, a record valid for another host, and no record"
ferryd_stop
ok "clean shutdown"
