#!/usr/bin/env bash
# phpseclib (the pure-PHP SSH/SFTP library behind Laravel/Flysystem's SFTP
# adapter, many WordPress plugins, ...) as an SFTP client of ferryd: Debian
# 12's php-seclib 1.0.20-1+deb12u5 (phpseclib 1.0.20, the PEAR-style
# classes Net_SFTP and Crypt_RSA, loaded with require_once 'Net/SFTP.php'
# from /usr/share/php; Debian's security update added strict kex and
# ext-info-c; Composer projects bundle the 2.x/3.x branches instead), run
# by php-cli 8.2 through a small PHP program written here.
# Its identification: "SSH-2.0-phpseclib_1.0 (openssl)".
#
# What phpseclib 1.0.20 offers (Net_SSH2::getSupported*Algorithms):
#   kex       diffie-hellman-group-exchange-sha256 and -sha1,
#             diffie-hellman-group14-sha1, -group1-sha1 (no curve25519, no
#             ECDH), plus ext-info-c and kex-strict-c-v00@openssh.com
#   host key  rsa-sha2-256, rsa-sha2-512, ssh-rsa, ssh-dss (no Ed25519, no
#             ECDSA). The signature over the exchange hash is only checked
#             when the caller asks getServerPublicHostKey() (which returns
#             "<signature algorithm> <base64 key blob>"): the client here
#             does so first, and compares the blob with ferryd's .pub file
#             before it logs in
#   ciphers   aes128/192/256-ctr (PHP's openssl), twofish, blowfish, 3des,
#             arcfour, CBC modes;  MACs hmac-sha2-256, hmac-sha1(-96),
#             hmac-md5(-96), no EtM;  compression none, zlib(@openssh.com)
#   user keys RSA only (Crypt_RSA), signed with the first of rsa-sha2-256/512
#             in the server's server-sig-algs (RFC 8308), else ssh-rsa
# Against ferryd's default algorithms it negotiates (printed by the client
# and checked below): server "SSH-2.0-Ferry_0.1", kex
# diffie-hellman-group-exchange-sha256 (phpseclib asks for 1536<2048<4096
# bits), host key rsa-sha2-256, aes128-ctr with hmac-sha2-256 both ways, no
# compression, SFTP version 3; its RSA user key is signed with rsa-sha2-512
# (ferryd's server-sig-algs lists rsa-sha2-512 before rsa-sha2-256). So the
# one deployment change phpseclib needs is an RSA host key (HostKey, next to
# the Ed25519 one): with ferryd's generated Ed25519 key alone there is no
# common host key algorithm (checked: a clean refusal). No SHA-1 opt-in.
#
# Key files: Crypt_RSA::loadKey() without a type probes the XML format
# before openssh-key-v1, and its XML parser needs php-xml, which php-seclib
# does not depend on: ssh-keygen's default (openssh-key-v1) RSA file dies
# with "Call to undefined function xml_parser_create()". The user key here
# is PEM (ssh-keygen -m PEM, PKCS#1), which is tried first.
#
# Re-keying: phpseclib 1.0.20 resets its sequence numbers at NEWKEYS only
# when the server's current KEXINIT lists kex-strict-s-v00@openssh.com,
# while OpenSSH's PROTOCOL needs the pseudo-algorithm only in the first
# KEXINIT and the reset after every NEWKEYS (phpseclib's maintainer called
# it a phpseclib bug, proftpd/proftpd#1853). OpenSSH's sshd repeats the
# pseudo-algorithm at every rekey, and so does ferryd once strict kex is
# agreed (it left it out before, and a re-key ended a phpseclib session
# with "Invalid HMAC"): here RekeyLimit 1M re-keys the 5 MiB transfers
# several times, and ferryd's session_end counts the exchanges.
#
# Covered: host key verification (a different expected key, RSA or
# ferryd's own Ed25519 one, stops the client before it authenticates);
# public-key login (PEM RSA key, rsa-sha2-512, no SHA-1 fallback tried),
# password login, a wrong password refused; put/get of a 5 MiB and a
# 0-byte file (compared with the source and the copy on disk); mkdir,
# nlist, rawlist (names, sizes, types against the disk), rename, delete,
# rmdir (refused while not empty), stat/lstat (size, mode, mtime, atime,
# type against stat(1)), touch (mtime and atime of an existing file),
# chmod (mode on disk and as chmod() reads it back). Resuming:
# put(LOCAL, NET_SFTP_LOCAL_FILE | NET_SFTP_RESUME) continues a partial
# remote file -- phpseclib 1.0.20's RESUME only takes the remote offset
# (the remote size); the local offset has to be passed as $local_start,
# here the size() of the remote file, or it sends the whole local file
# again after the existing bytes (checked by hand, not here) -- and put
# with explicit $start/$local_start rewrites a file's tail in place; an
# upload cut short by the PHP process exiting in put() (no SSH_FXP_CLOSE)
# is kept by ferryd as .NAME.ferry-partial, and a new session renames it
# back and resumes it. The root: ".." stops at it as in a chroot (paths
# sent as is, with phpseclib's client-side canonicalization off, and
# canonicalized): ../../etc/passwd reads a decoy /etc/passwd inside the
# root, ../../escaped.bin lands in the root; every operation through
# symbolic links leading out of it (relative and absolute) fails with
# "no such file", and the directory they point to stays unchanged.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$FERRY_SRC/tests/interop/lib.sh"
. "$FERRY_SRC/tests/interop/peer_lib.sh"
need php ssh-keygen cmp timeout stat
[ -r /usr/share/php/Net/SFTP.php ] || fail "/usr/share/php/Net/SFTP.php missing (install php-seclib: scripts/deps test)"

# ---------------------------------------------------------------- client
cat >"$T/ferry_phpseclib.php" <<'PHP'
<?php
/*
 * php ferry_phpseclib.php PORT USER HOSTKEY_PUB AUTH < commands
 *
 * Connects to 127.0.0.1:PORT and verifies the server's host key against
 * the OpenSSH public key file HOSTKEY_PUB before logging in (exit 3 if it
 * differs, 2 if there is none). AUTH: key:PATH (a PEM RSA key) or
 * password:SECRET; a refused login exits with 4. Then commands, one a line,
 * tab-separated: TAG CMD ARGS...; each prints "TAG OK [result]" or
 * "TAG ERR <phpseclib's last SFTP error>" (listings first print
 * "TAG ENTRY ..." lines). Ends with "DONE".
 */
set_include_path('/usr/share/php' . PATH_SEPARATOR . get_include_path());
define('NET_SSH2_LOGGING', 2); // NET_SSH2_LOG_COMPLEX: to read the USERAUTH_REQUESTs back
require_once 'Net/SFTP.php';
require_once 'Crypt/RSA.php';

list(, $port, $user, $hostkey_pub, $auth) = $argv;

function sshstr(&$s)
{
    $n = unpack('N', substr($s, 0, 4))[1];
    $v = substr($s, 4, $n);
    $s = substr($s, 4 + $n);
    return $v;
}

function attrs($a)
{
    if ($a === false) {
        return false;
    }
    return sprintf("size=%d perm=%o mtime=%d atime=%d type=%d", $a['size'],
        $a['permissions'] & 07777, $a['mtime'], $a['atime'], $a['type']);
}

$sftp = new Net_SFTP('127.0.0.1', (int)$port, 20);
$hk = $sftp->getServerPublicHostKey(); // connects, and checks the signature
if ($hk === false) {
    echo "CONNECT-FAIL ", implode(' | ', $sftp->getErrors()), "\n";
    exit(2);
}
$neg = $sftp->getAlgorithmsNegotiated();
printf("SERVER id=%s kex=%s hostkey=%s c2s=%s/%s/%s s2c=%s/%s/%s\n",
    $sftp->getServerIdentification(), $neg['kex'], $neg['hostkey'],
    $neg['client_to_server']['crypt'], $neg['client_to_server']['mac'], $neg['client_to_server']['comp'],
    $neg['server_to_client']['crypt'], $neg['server_to_client']['mac'], $neg['server_to_client']['comp']);
list($alg, $b64) = explode(' ', $hk);
$blob = base64_decode($b64);
$want = explode(' ', trim(file_get_contents($hostkey_pub)));
$tmp = $blob;
printf("HOSTKEY alg=%s type=%s fp=SHA256:%s\n", $alg, sshstr($tmp),
    rtrim(base64_encode(hash('sha256', $blob, true)), '='));
if (count($want) < 2 || base64_decode($want[1], true) !== $blob) {
    echo "HOSTKEY-MISMATCH expected ", $want[0] ?? '?', " from $hostkey_pub\n";
    exit(3);
}

if (strncmp($auth, 'key:', 4) == 0) {
    $cred = new Crypt_RSA();
    if (!$cred->loadKey(file_get_contents(substr($auth, 4)))) {
        echo "KEY-LOAD-FAIL ", substr($auth, 4), "\n";
        exit(5);
    }
} elseif (strncmp($auth, 'password:', 9) == 0) {
    $cred = substr($auth, 9);
} else {
    fwrite(STDERR, "bad AUTH $auth\n");
    exit(64);
}
$logged_in = $sftp->login($user, $cred);
// what was asked for: each USERAUTH_REQUEST phpseclib sent
foreach ($sftp->message_number_log as $i => $m) {
    if (strpos($m, '-> NET_SSH2_MSG_USERAUTH_REQUEST') === 0) {
        $p = $sftp->message_log[$i];
        sshstr($p); // user
        sshstr($p); // service
        $method = sshstr($p);
        if ($method == 'publickey') {
            $sig = ord($p[0]);
            $p = substr($p, 1);
            printf("AUTHREQ method=publickey sig=%d alg=%s\n", $sig, sshstr($p));
        } else {
            echo "AUTHREQ method=$method\n";
        }
    }
}
printf("SIGALGS %s\n", is_array($sftp->server_sig_algs) ? implode(',', $sftp->server_sig_algs) : '-');
if (!$logged_in) {
    echo "LOGIN-FAIL ", implode(' | ', $sftp->getErrors()), "\n";
    exit(4);
}
printf("LOGGEDIN sftp=%s\n", $sftp->getNegotiatedVersion());
$sftp->disableStatCache();

while (($line = fgets(STDIN)) !== false) {
    $f = explode("\t", rtrim($line, "\n"));
    if ($f[0] === '') {
        continue;
    }
    $tag = $f[0];
    $r = null;
    switch ($f[1]) {
        case 'canon': // on or off: phpseclib's own resolution of . and ..
            $f[2] == 'on' ? $sftp->enablePathCanonicalization() : $sftp->disablePathCanonicalization();
            $r = true;
            break;
        case 'put': // LOCAL REMOTE [resume|start START LOCAL_START]
            $mode = NET_SFTP_LOCAL_FILE;
            $start = $local_start = -1;
            if (($f[4] ?? '') == 'resume') {
                // what resumes with phpseclib 1.0: the remote size is both offsets
                $local_start = $sftp->size($f[3]);
                if ($local_start === false) {
                    $local_start = 0;
                }
                $mode |= NET_SFTP_RESUME;
            } elseif (($f[4] ?? '') == 'start') {
                $start = (int)$f[5];
                $local_start = (int)$f[6];
            }
            $r = $sftp->put($f[3], $f[2], $mode, $start, $local_start);
            if ($r && $local_start >= 0) {
                $r = "from=$local_start";
            }
            break;
        case 'putcut': // LOCAL REMOTE N: the process dies after giving N bytes to put()
            $fp = fopen($f[2], 'rb');
            $left = (int)$f[4];
            $sftp->put($f[3], function ($n) use ($fp, &$left) {
                if ($left <= 0) {
                    echo "CUT\n";
                    // Net_SSH2's destructor still sends a DISCONNECT, but the
                    // handle is never closed (no SSH_FXP_CLOSE)
                    exit(6);
                }
                $d = fread($fp, min($n, $left));
                $left -= strlen($d);
                return $d;
            }, NET_SFTP_CALLBACK);
            $r = false; // not reached
            break;
        case 'get':
            $r = $sftp->get($f[2], $f[3]);
            break;
        case 'getstr': // REMOTE: its size as phpseclib read it into a string
            $r = $sftp->get($f[2]);
            if ($r !== false) {
                $r = 'bytes=' . strlen($r);
            }
            break;
        case 'mkdir':
            $r = $sftp->mkdir($f[2]);
            break;
        case 'rmdir':
            $r = $sftp->rmdir($f[2]);
            break;
        case 'delete':
            $r = $sftp->delete($f[2], false);
            break;
        case 'rename':
            $r = $sftp->rename($f[2], $f[3]);
            break;
        case 'nlist':
            $r = $sftp->nlist($f[2]);
            if ($r !== false) {
                foreach ($r as $name) {
                    echo "$tag ENTRY $name\n";
                }
                $r = 'n=' . count($r);
            }
            break;
        case 'rawlist':
            $r = $sftp->rawlist($f[2]);
            if ($r !== false) {
                foreach ($r as $name => $a) {
                    printf("%s ENTRY %s\t%d\t%d\n", $tag, $name, $a['size'], $a['type']);
                }
                $r = 'n=' . count($r);
            }
            break;
        case 'stat':
            $r = attrs($sftp->stat($f[2]));
            break;
        case 'lstat':
            $r = attrs($sftp->lstat($f[2]));
            break;
        case 'size':
            $r = $sftp->size($f[2]);
            $r = $r === false ? false : "size=$r";
            break;
        case 'touch': // PATH MTIME ATIME
            $r = $sftp->touch($f[2], (int)$f[3], (int)$f[4]);
            break;
        case 'chmod': // OCTAL PATH: prints the mode phpseclib read back
            $r = $sftp->chmod(octdec($f[2]), $f[3]);
            $r = $r === false ? false : sprintf('mode=%o', $r & 07777);
            break;
        case 'rawrealpath': // PATH as is in an SSH_FXP_REALPATH (Net_SFTP's own
            // calls resolve ".." on the client first, except for its start directory)
            $sftp->_send_sftp_packet(NET_SFTP_REALPATH, pack('Na*', strlen($f[2]), $f[2]));
            $p = $sftp->_get_sftp_packet();
            if ($sftp->packet_type == NET_SFTP_NAME) {
                $p = substr($p, 4); // count
                $r = sshstr($p);
            } else {
                $sftp->_logError($p);
                $r = false;
            }
            break;
        default:
            fwrite(STDERR, "bad command $f[1]\n");
            exit(64);
    }
    if ($r === false) {
        echo "$tag ERR ", $sftp->getLastSFTPError(), "\n";
    } else {
        echo "$tag OK", ($r === true ? '' : " $r"), "\n";
    }
}
$sftp->disconnect();
echo "DONE\n";
PHP

# psl NAME HOSTKEY_PUB AUTH <commands: one phpseclib session; output in
# $T/NAME.out, PHP's notices in $T/NAME.log. Returns the client's status.
psl() {
    local name=$1 rc=0
    timeout 60 php "$T/ferry_phpseclib.php" "$FERRYD_PORT" "$TEST_USER" "$2" "$3" \
        >"$T/$name.out" 2>"$T/$name.log" || rc=$?
    [ $rc -ne 124 ] || fail "$name: phpseclib did not finish in 60 s"
    return $rc
}

# psl_ok: as psl, and the session must have run to its end.
psl_ok() {
    local name=$1
    if ! psl "$@" || ! grep -qx DONE "$T/$name.out"; then
        cat "$T/$name.out" "$T/$name.log" >&2
        fail "$name: phpseclib session failed"
    fi
}

# psl_status NAME STATUS HOSTKEY_PUB AUTH: the client must end with STATUS.
psl_status() {
    local name=$1 want=$2 rc=0
    shift 2
    psl "$name" "$@" </dev/null || rc=$?
    [ $rc -eq "$want" ] || { cat "$T/$name.out" "$T/$name.log" >&2; fail "$name: status $rc, expected $want"; }
}

# stat_line PATH: what the client's stat/lstat prints, from the disk.
stat_line() {
    local t
    case "$(stat -c %F "$1")" in
    "regular file" | "regular empty file") t=1 ;;
    directory) t=2 ;;
    "symbolic link") t=3 ;;
    *) t=0 ;;
    esac
    echo "size=$(stat -c %s "$1") perm=$(stat -c %a "$1") mtime=$(stat -c %Y "$1") atime=$(stat -c %X "$1") type=$t"
}

# a listing of a directory with mode, size, mtime and checksum of each entry
snapshot() {
    (cd "$1" && find . -printf '%p %M %s %T@\n' | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort)
}

# ---------------------------------------------------------------- setup
K="$T/keys"
L="$T/local"
R="$T/root"
mkdir -p "$K" "$L" "$R"
ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C phpseclib-user -f "$K/id_rsa"
head -n 1 "$K/id_rsa" | grep -q 'BEGIN RSA PRIVATE KEY' || fail "RSA user key not PEM"
cat "$K/id_rsa.pub" >"$T/authorized_keys"
ssh-keygen -q -t rsa -b 3072 -N '' -f "$K/host_rsa"
ssh-keygen -q -t rsa -b 3072 -N '' -f "$K/other_rsa"
KEY="key:$K/id_rsa"
HK="$K/host_rsa.pub"
PW='phpseclib pass wörd'
# the RSA host key next to the generated Ed25519 one; DEBUG for the
# negotiated algorithms; RekeyLimit 1M (see above: re-keying)
printf '%s\n' "HostKey $K/host_rsa" "PerSourcePenalties no" "LogLevel DEBUG" "RekeyLimit 1M" \
    >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf" --password-hash "$(password_hash "$PW")"

# ------------------------------------- 1. host key verification
psl_ok hk "$HK" "$KEY" </dev/null
grep -qE "^SERVER id=SSH-2\.0-Ferry[_-][^ ]+ kex=diffie-hellman-group-exchange-sha256 hostkey=rsa-sha2-256 c2s=aes128-ctr/hmac-sha2-256/none s2c=aes128-ctr/hmac-sha2-256/none$" "$T/hk.out" ||
    fail "hk: negotiated algorithms: $(grep ^SERVER "$T/hk.out")"
fp=$(ssh-keygen -l -E sha256 -f "$HK" | cut -d' ' -f2)
grep -qx "HOSTKEY alg=rsa-sha2-256 type=ssh-rsa fp=$fp" "$T/hk.out" ||
    fail "hk: host key phpseclib verified: $(grep ^HOSTKEY "$T/hk.out"), ferryd's is $fp"
grep -q "ssh: kex diffie-hellman-group-exchange-sha256, host key rsa-sha2-256, cipher aes128-ctr/aes128-ctr" "$T/ferryd.log" ||
    fail "ferryd did not log the algorithms phpseclib negotiated"
ok "phpseclib verified ferryd's RSA host key ($fp): GEX-sha256, rsa-sha2-256, aes128-ctr, hmac-sha2-256"

n0=$(grep -c "event=session_start" "$T/ferryd.log" || true)
psl_status hk_wrong 3 "$K/other_rsa.pub" "$KEY"
grep -q "^HOSTKEY-MISMATCH" "$T/hk_wrong.out" || fail "hk_wrong: no mismatch reported"
grep -q "^AUTHREQ\|^LOGGEDIN" "$T/hk_wrong.out" && fail "hk_wrong: authenticated despite a wrong host key"
psl_status hk_ed25519 3 "$T/host_ed25519.pub" "$KEY"
[ "$(grep -c "event=session_start" "$T/ferryd.log" || true)" -eq "$n0" ] ||
    fail "a session started after a host key mismatch"
ok "a different expected host key (another RSA key, ferryd's own Ed25519 key): the client stops before logging in"

# ------------------------------------- 2. logins
psl_ok pk "$HK" "$KEY" </dev/null
grep -qx "LOGGEDIN sftp=3" "$T/pk.out" || fail "pk: $(grep ^LOGGEDIN "$T/pk.out")"
[ "$(grep -c '^AUTHREQ method=publickey sig=1 ' "$T/pk.out")" -eq 1 ] || fail "pk: expected one signed request: $(grep ^AUTHREQ "$T/pk.out")"
# phpseclib takes the first RSA algorithm in server-sig-algs: ferryd lists rsa-sha2-512 first
grep -q "^SIGALGS [^ ]*rsa-sha2-512,rsa-sha2-256" "$T/pk.out" || fail "pk: server-sig-algs order: $(grep ^SIGALGS "$T/pk.out")"
grep -qx "AUTHREQ method=publickey sig=1 alg=rsa-sha2-512" "$T/pk.out" || fail "pk: $(grep ^AUTHREQ "$T/pk.out")"
grep -q "alg=ssh-rsa" "$T/pk.out" && fail "pk: phpseclib fell back to ssh-rsa (SHA-1)"
grep -q "event=session_start user=$TEST_USER .*method=publickey .*key_type=ssh-rsa .*client=\"SSH-2.0-phpseclib_1.0" "$T/ferryd.log" ||
    fail "pk: no publickey session_start for phpseclib"
ok "public-key login with a PEM RSA key, signed with rsa-sha2-512 (taken from server-sig-algs; no SHA-1 fallback); SFTP version 3"

psl_ok pw "$HK" "password:$PW" </dev/null
grep -qx "AUTHREQ method=password" "$T/pw.out" || fail "pw: $(grep ^AUTHREQ "$T/pw.out")"
grep -q "event=session_start user=$TEST_USER .*method=password" "$T/ferryd.log" || fail "pw: no password session_start"
ok "password login"

psl_status badpw 4 "$HK" "password:wrong $PW"
grep -q "^LOGIN-FAIL" "$T/badpw.out" || fail "badpw: no LOGIN-FAIL"
grep -q "event=auth_failure user=$TEST_USER .*method=password" "$T/ferryd.log" || fail "badpw: no auth_failure audit"
ok "a wrong password is refused"

# ------------------------------------- 3-6. files, directories, resume, root
BIG=$((5 * 1024 * 1024 + 4321))
make_file "$L/big.bin" $BIG
: >"$L/zero.bin"
make_file "$L/small.bin" 3000
make_file "$L/res.bin" $((2 * 1024 * 1024 + 77))
make_file "$L/cut.bin" $((3 * 1024 * 1024 + 5))
# listing: files of several sizes, a directory, a blank and UTF-8 in names
mkdir -p "$R/list/sub dir"
for i in $(seq 1 40); do make_file "$R/list/f$i" $((i * 131)); done
printf x >"$R/list/with space"
printf yz >"$R/list/ünïcödé"
printf z >"$R/list/.hidden"
ln -s f1 "$R/list/link"
# stat: a file with known mode and times
make_file "$R/st.bin" 12345
chmod 0640 "$R/st.bin"
touch -m -d @1500000000 "$R/st.bin"
touch -a -d @1400000000 "$R/st.bin"
ln -s st.bin "$R/st.lnk"
# resuming: a partial remote file; a complete one whose tail is wrong
head -c 1234567 "$L/res.bin" >"$R/res.bin"
cp "$L/res.bin" "$R/tail.bin"
head -c 100000 /dev/zero | dd of="$R/tail.bin" bs=1 seek=1500000 conv=notrunc status=none
cmp -s "$L/res.bin" "$R/tail.bin" && fail "tail.bin not damaged"
# the root's surroundings: a directory outside it, reached by a link
mkdir -p "$T/outside"
echo "outside the root" >"$T/outside/victim"
ln -s ../outside "$R/esc"
ln -s "$T/outside" "$R/esc_abs"
mkdir "$R/etc"
echo "decoy passwd inside the root" >"$R/etc/passwd"
snapshot "$T/outside" >"$T/outside.before"

{
    cmd m1 mkdir /up
    cmd p1 put "$L/big.bin" /up/big.bin
    cmd g1 get /up/big.bin "$L/big.back"
    cmd p2 put "$L/zero.bin" /up/zero.bin
    cmd g2 get /up/zero.bin "$L/zero.back"
    cmd g3 getstr /up/zero.bin
    cmd n1 nlist /list
    cmd n2 rawlist /list
    cmd s1 stat /st.bin
    cmd s3 stat /st.lnk
    cmd s2 lstat /st.lnk
    cmd s4 lstat /st.bin
    cmd s5 stat /list
    cmd s6 size /up/big.bin
    cmd t0 put "$L/small.bin" /up/touch.bin
    cmd t1 touch /up/touch.bin 1234567890 1111111111
    cmd t2 stat /up/touch.bin
    cmd t3 touch /up/new.txt 1234567890 1234567890
    cmd c1 chmod 600 /up/big.bin
    cmd c2 chmod 751 /up
    cmd c3 stat /up/big.bin
    cmd d1 mkdir /up/dir
    cmd d2 put "$L/small.bin" /up/dir/a.bin
    cmd d3 rename /up/dir/a.bin /up/dir/b.bin
    cmd d4 get /up/dir/b.bin "$L/b.back"
    cmd d5 rmdir /up/dir
    cmd d6 delete /up/dir/b.bin
    cmd d7 rmdir /up/dir
    cmd d8 stat /up/dir
    cmd d9 delete /up/nope.bin
    cmd r1 put "$L/res.bin" /res.bin resume
    cmd r2 put "$L/res.bin" /tail.bin start 1500000 1500000
    cmd r3 put "$L/small.bin" /fresh.bin resume
    cmd j0 rawrealpath ../..
    cmd j1 get ../../etc/passwd "$L/jail1"
    cmd j2 canon off
    cmd j3 get ../../etc/passwd "$L/jail3"
    cmd j4 getstr /../../../../../../etc/passwd
    cmd j5 put "$L/small.bin" ../../escaped.bin
    cmd j6 mkdir ../../escdir
    cmd j7 rawrealpath /../../outside
    cmd j8 rawrealpath /esc
    cmd j9 rawrealpath /esc_abs/victim
    cmd j10 getstr ../outside/victim
    cmd e1 get /esc/victim "$L/victim"
    cmd e2 put "$L/small.bin" /esc/new.bin
    cmd e3 delete /esc/victim
    cmd e4 rename /esc/victim /stolen
    cmd e5 chmod 777 /esc/victim
    cmd e6 mkdir /esc/d
    cmd e7 touch /esc/victim 1 1
    cmd e8 nlist /esc
    cmd e9 rename /st.bin /esc/moved
    cmd a1 get /esc_abs/victim "$L/victim2"
    cmd a2 put "$L/small.bin" /esc_abs/new.bin
    cmd a3 delete /esc_abs/victim
    cmd a4 mkdir /esc_abs/d
} >"$T/c_main"
psl_ok main "$HK" "$KEY" <"$T/c_main"
# what stat(2) says, taken before this script reads any of them (with
# relatime, a read after a chmod moves the atime)
declare -A disk
for f in st.bin st.lnk list up/big.bin up/touch.bin; do disk[$f]=$(stat_line "$R/$f"); done

# 3. put/get
want_ok main m1
want_ok main p1
want_ok main g1
cmp "$L/big.bin" "$L/big.back" || fail "get: $L/big.back differs from the source"
cmp "$L/big.bin" "$R/up/big.bin" || fail "put: the copy on the server differs"
want_ok main p2
want_ok main g2
[[ -f $R/up/zero.bin && ! -s $R/up/zero.bin ]] || fail "0-byte put: $(ls -l "$R/up/zero.bin" 2>&1)"
cmp "$L/zero.bin" "$L/zero.back" || fail "0-byte get differs"
want_reply main g3 "bytes=0"
grep -q "event=session_end .*client=\"SSH-2.0-phpseclib_1.0 (openssl)\" .*key_exchanges=\([5-9]\|[1-9][0-9]\) " "$T/ferryd.log" ||
    fail "no phpseclib session re-keyed at least 5 times: $(grep session_end "$T/ferryd.log")"
ok "put and get of a $BIG-byte and a 0-byte file, compared with the source and the server's copy, re-keyed every MiB"

# 4. directory operations
{ printf '%s\n' . ..; find "$R/list" -mindepth 1 -maxdepth 1 -printf '%f\n'; } | LC_ALL=C sort >"$T/names.disk"
sed -n 's/^n1 ENTRY //p' "$T/main.out" | LC_ALL=C sort >"$T/names.psl"
cmp -s "$T/names.disk" "$T/names.psl" || { diff "$T/names.disk" "$T/names.psl" >&2 || true; fail "nlist names differ from the disk"; }
want_reply main n1 "n=$(wc -l <"$T/names.disk")"
{
    printf '%s\t%s\t2\n' . "$(stat -c %s "$R/list")" .. "$(stat -c %s "$R")"
    find "$R/list" -mindepth 1 -maxdepth 1 -printf '%f\t%s\t%y\n' | sed 's/\tf$/\t1/; s/\td$/\t2/; s/\tl$/\t3/'
} | LC_ALL=C sort >"$T/raw.disk"
sed -n 's/^n2 ENTRY //p' "$T/main.out" | LC_ALL=C sort >"$T/raw.psl"
cmp -s "$T/raw.disk" "$T/raw.psl" || { diff "$T/raw.disk" "$T/raw.psl" >&2 || true; fail "rawlist names/sizes/types differ from the disk"; }
ok "nlist and rawlist of $(($(wc -l <"$T/names.disk") - 2)) entries: names (blank, UTF-8, hidden), sizes and types as on disk"

want_reply main s1 "${disk[st.bin]}"
want_reply main s1 "size=12345 perm=640 mtime=1500000000 atime=1400000000 type=1"
# (s3 follows the link before: that moves the link's own atime)
want_reply main s2 "${disk[st.lnk]}"
want_reply main s3 "size=12345 perm=640 mtime=1500000000 atime=1400000000 type=1"
want_reply main s4 "size=12345 perm=640 mtime=1500000000 atime=1400000000 type=1"
want_reply main s5 "${disk[list]}"
want_reply main s6 "size=$BIG"
ok "stat/lstat (of a file, a link, a directory): size, mode, mtime, atime and type as on disk"

# (nothing reads touch.bin afterwards: relatime would move its atime)
want_ok main t0
want_ok main t1
[ "$(stat -c '%Y %X' "$R/up/touch.bin")" = "1234567890 1111111111" ] || fail "touch: times on disk $(stat -c '%Y %X' "$R/up/touch.bin")"
want_reply main t2 "${disk[up/touch.bin]}"
want_reply main t2 "size=3000 perm=644 mtime=1234567890 atime=1111111111 type=1"
want_ok main t3
[[ -f $R/up/new.txt && ! -s $R/up/new.txt ]] || fail "touch of a new file: $(ls -l "$R/up/new.txt" 2>&1)"
ok "touch: mtime and atime of an existing file set (seen on disk); a new file created"

want_reply main c1 "mode=600"
want_reply main c2 "mode=751"
[ "$(stat -c %a "$R/up/big.bin")" = 600 ] || fail "chmod: mode on disk $(stat -c %a "$R/up/big.bin")"
[ "$(stat -c %a "$R/up")" = 751 ] || fail "chmod: directory mode on disk $(stat -c %a "$R/up")"
want_reply main c3 "${disk[up/big.bin]}"
ok "chmod of a file and a directory: mode on disk and as read back"

for t in d1 d2 d3 d4 d6 d7; do want_ok main $t; done
cmp "$L/small.bin" "$L/b.back" || fail "renamed file differs"
want_err main d5 "NET_SFTP_STATUS_FAILURE"
want_err main d8 "NET_SFTP_STATUS_NO_SUCH_FILE"
want_err main d9 "NET_SFTP_STATUS_NO_SUCH_FILE"
[ ! -e "$R/up/dir" ] || fail "rmdir: /up/dir still on disk"
grep -q "event=file .*op=rename path=/up/dir/a.bin path2=/up/dir/b.bin .*result=ok" "$T/ferryd.log" ||
    fail "no audit event for the rename"
ok "mkdir, rename, delete, rmdir (a non-empty one refused with SSH_FX_FAILURE), errors for missing names"

# 5. resume
want_reply main r1 "from=1234567"
cmp "$L/res.bin" "$R/res.bin" || fail "put RESUME: result differs from the source"
want_reply main r2 "from=1500000"
cmp "$L/res.bin" "$R/tail.bin" || fail "put with start/local_start: result differs from the source"
want_reply main r3 "from=0"
cmp "$L/small.bin" "$R/fresh.bin" || fail "put RESUME of a new file differs"
ok "put NET_SFTP_RESUME (from the remote size) continues a partial file; put with \$start/\$local_start rewrites a tail in place"

# 6. the root: ".." stops at it, as in a chroot (so ../../etc/passwd is
# the decoy inside it), and links out of it lead nowhere
want_reply main j0 "/"
want_ok main j1
want_ok main j3
cmp "$R/etc/passwd" "$L/jail1" || fail "j1: ../../etc/passwd (canonicalized by phpseclib) is not the decoy in the root"
cmp "$R/etc/passwd" "$L/jail3" || fail "j3: ../../etc/passwd (sent as is) is not the decoy in the root"
want_reply main j4 "bytes=$(stat -c %s "$R/etc/passwd")"
want_ok main j5
want_ok main j6
cmp "$L/small.bin" "$R/escaped.bin" || fail "put ../../escaped.bin did not land in the root"
[ -d "$R/escdir" ] || fail "mkdir ../../escdir did not land in the root"
for d in "$T" "$(dirname "$T")"; do
    [[ ! -e $d/escaped.bin && ! -e $d/escdir ]] || fail "a ../ path was created in $d"
done
want_reply main j7 "/outside"
want_reply main j8 "/outside"
want_err main j9 "NET_SFTP_STATUS_NO_SUCH_FILE"
want_err main j10 "NET_SFTP_STATUS_NO_SUCH_FILE"
for t in e1 e2 e3 e4 e5 e6 e7 e8 e9 a1 a2 a3 a4; do want_err main $t "NET_SFTP_STATUS_NO_SUCH_FILE"; done
[[ ! -e $L/victim && ! -e $L/victim2 ]] || fail "a file outside the root was read"
[ -f "$R/st.bin" ] || fail "st.bin was moved out"
snapshot "$T/outside" >"$T/outside.after"
cmp -s "$T/outside.before" "$T/outside.after" ||
    { diff "$T/outside.before" "$T/outside.after" >&2 || true; fail "the directory outside the root changed"; }
ok "../ paths (canonicalized by phpseclib or sent as is) stay in the root; get/put/delete/rename/chmod/mkdir/touch/nlist through links out of it refused (no such file), nothing outside touched"

# ------------------------------------- 5b. an upload cut short, resumed
# The PHP process exits in the middle of put() (no SSH_FXP_CLOSE): ferryd
# keeps what it got as .cut.bin.ferry-partial; a new session (password
# login) renames it back and resumes it with NET_SFTP_RESUME.
rc=0
cmd u1 putcut "$L/cut.bin" /up/cut.bin 1500000 | psl cut "$HK" "$KEY" || rc=$?
if [ $rc -ne 6 ] || ! grep -qx CUT "$T/cut.out"; then
    cat "$T/cut.out" "$T/cut.log" >&2
    fail "cut: status $rc, expected the client's exit in the middle of put()"
fi
kept="op=partial_kept path=/up/cut.bin path2=/up/.cut.bin.ferry-partial .*result=ok"
for _ in $(seq 50); do grep -q "$kept" "$T/ferryd.log" && break; sleep 0.1; done
[ -f "$R/up/.cut.bin.ferry-partial" ] || fail "no partial file after the cut upload: $(ls -a "$R/up")"
grep -q "$kept" "$T/ferryd.log" || fail "no partial_kept audit event"
[ ! -e "$R/up/cut.bin" ] || fail "the cut upload appeared under its final name"
psize=$(stat -c %s "$R/up/.cut.bin.ferry-partial")
[[ $psize -gt 0 && $psize -le 1500000 ]] || fail "partial file of $psize bytes"
cmp -s -n "$psize" "$L/cut.bin" "$R/up/.cut.bin.ferry-partial" || fail "the partial file is no prefix of the source"
{
    cmd u2 rename /up/.cut.bin.ferry-partial /up/cut.bin
    cmd u3 put "$L/cut.bin" /up/cut.bin resume
    cmd u4 stat /up/cut.bin
} >"$T/c_resume"
psl_ok resume "$HK" "password:$PW" <"$T/c_resume"
disk_cut=$(stat_line "$R/up/cut.bin")
want_ok resume u2
want_reply resume u3 "from=$psize"
cmp "$L/cut.bin" "$R/up/cut.bin" || fail "the resumed upload differs from the source"
[ ! -e "$R/up/.cut.bin.ferry-partial" ] || fail "partial file left"
want_reply resume u4 "$disk_cut"
ok "an upload cut short by the client's exit is kept ($psize bytes); renamed back and put RESUME completes it"

ferryd_stop
cp "$T/ferryd.log" "$T/ferryd-main.log"
ok "ferryd stopped cleanly after the phpseclib sessions (no sanitizer report)"

# ------------------------------------- without an RSA host key
# ferryd's defaults (its generated Ed25519 host key only): no common host
# key algorithm, a clean refusal on both sides.
echo "PerSourcePenalties no" >"$T/default.conf"
ferryd_start --config "$T/default.conf"
psl_status def 2 "$T/host_ed25519.pub" "$KEY"
grep -q "^CONNECT-FAIL" "$T/def.out" || fail "def: $(cat "$T/def.out")"
grep -q "No compatible server host key algorithms found" "$T/def.log" || fail "def: phpseclib's reason: $(cat "$T/def.log")"
grep -q "closed before authentication: no matching host key algorithm" "$T/ferryd.log" ||
    fail "ferryd did not log the failed negotiation"
ferryd_stop
ok "ferryd with only its Ed25519 host key: phpseclib 1.0 is refused cleanly (no common host key algorithm)"
