#!/usr/bin/env bash
# JSch (com.jcraft.jsch, Debian libjsch-java 0.1.55-1, whose jar still
# calls itself 0.1.54: "SSH-2.0-JSCH-0.1.54") as an SFTP client of ferryd,
# through ChannelSftp in a small Java program compiled here with javac
# against /usr/share/java/jsch.jar. Host keys are always verified
# (StrictHostKeyChecking=yes against a known_hosts written from ferryd's
# host key, "[127.0.0.1]:port" entries).
#
# What JSch 0.1.55 offers (the defaults in com.jcraft.jsch.JSch; there is
# nothing newer in the jar):
#   kex       ecdh-sha2-nistp256/384/521, diffie-hellman-group14-sha1,
#             diffie-hellman-group-exchange-sha256 and -sha1, group1-sha1
#   host key  ssh-rsa (SHA-1), ssh-dss, ecdsa-sha2-nistp256/384/521;
#             no ssh-ed25519, no rsa-sha2-256/512
#   ciphers   aes128/192/256-ctr, aes*-cbc, 3des, blowfish (arcfour optional)
#   MACs      hmac-md5, hmac-sha1, hmac-sha2-256 (+ -96 variants); no EtM
#   user keys read from PEM only (ssh-keygen -m PEM), not openssh-key-v1;
#             RSA keys are signed with ssh-rsa (SHA-1) only; ECDSA works
#   no strict kex (kex-strict-*), no server-sig-algs use, no ext-info.
#
# Against ferryd's default configuration (only its generated Ed25519 host
# key) JSch finds no common host key algorithm: "Algorithm negotiation
# fail", a clean close, checked below. An RSA host key does not help
# either, since ferryd offers only rsa-sha2-* for it by default. In common
# with the default offers are only diffie-hellman-group-exchange-sha256
# (JSch asks for at most 2048 bits: REQUEST(1024<2048<2048)), aes*-ctr and
# hmac-sha2-256; with an ECDSA host key and an ECDSA user key that is
# enough (checked: the defaults plus an ECDSA HostKey connect through GEX),
# while an RSA user key is refused (ssh-rsa signature, checked: "Auth fail").
#
# The deployment for legacy clients configured here (ferryd.conf):
#   HostKey <ecdsa P-256 key>   the one host key type JSch verifies without
#                               SHA-1 (ed25519 stays for modern clients)
#   KexAlgorithms +ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521
#                               JSch's first choice, left out of ferryd's
#                               default offer; without it JSch falls back to
#                               a 2048-bit DH group exchange (a modular
#                               exponentiation and a weaker group per
#                               connection than P-256's ~128 bits)
#   Ciphers, MACs               unchanged: aes*-ctr and hmac-sha2-256 are
#                               in the default offer (checked, all three
#                               key sizes, and that hmac-sha2-256 is used)
#   RekeyLimit 1M               only for this test: the MiB-size transfers
#                               go through server-initiated re-keying
# and, as an explicit SHA-1 opt-in for clients that only have RSA keys (or
# pin an RSA host key), a second instance with
#   HostKey <rsa key>, HostKeyAlgorithms +ssh-rsa, PubkeyAcceptedAlgorithms +ssh-rsa
# (checked: JSch then verifies the RSA host key and logs in with an RSA
# key). PerSourcePenalties is off in every instance: the test fails logins
# on purpose and reconnects at once.
#
# Covered: put/get of a 4 MiB file (bytes compared with the original and
# the copy on disk), ls of 200 entries (all names), mkdir, rename, rm,
# rmdir, chmod, setMtime, symlink/readlink (checked on disk), stat/lstat
# (size, mode, mtime against stat(1)), put RESUME and APPEND, get RESUME,
# an upload cut short and resumed, SSH_FX_NO_SUCH_FILE (2) errors, paths and
# symbolic links escaping the root, password login (and a wrong one), a
# wrong and an unknown host key, each ECDH curve and GEX, each AES-CTR key
# size, the RSA/SHA-1 opt-in, and a clean stop of ferryd (sanitizer
# reports in its log fail the test). About resuming: put RESUME stats the
# final name and writes after its end (an OPEN without TRUNC, in place);
# an upload JSch cuts short is neither closed nor removed by JSch, so with
# AtomicUploads ferryd keeps it as .NAME.ferry-partial and nothing under
# NAME, and a later put RESUME starts over (checked: the complete file
# arrives and the partial file is removed), as ferryd(8) documents.
. "$FERRY_SRC/tests/interop/lib.sh"
. "$FERRY_SRC/tests/interop/peer_lib.sh"
need java javac ssh-keygen cmp timeout stat readlink
JSCH_JAR=/usr/share/java/jsch.jar
[ -r "$JSCH_JAR" ] || fail "$JSCH_JAR missing (install libjsch-java: scripts/deps test)"

# ---------------------------------------------------------------- client
mkdir -p "$T/jsrc" "$T/jcls"
cat >"$T/jsrc/FerryJsch.java" <<'JAVA'
import com.jcraft.jsch.*;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.Vector;

/*
 * FerryJsch HOST PORT USER KNOWN_HOSTS AUTH [NAME=VALUE...] < commands
 *
 * AUTH: key:PATH or password:SECRET. NAME=VALUE: JSch session options
 * (e.g. cipher.c2s=aes256-ctr). StrictHostKeyChecking is always yes.
 * Commands, one a line, tab-separated: TAG CMD ARGS...; each prints
 * "TAG OK [result]" or "TAG ERR <SftpException id> <message>" (ls first
 * prints "TAG ENTRY <name>" lines). A failed connection prints
 * "CONNECT-FAIL <message>" and exits with status 2. JSch's log goes to
 * standard error.
 */
public class FerryJsch {
    static PrintStream out;

    static int mode(String[] f, int i) {
        String m = f.length > i ? f[i] : "overwrite";
        switch (m) {
        case "resume": return ChannelSftp.RESUME;
        case "append": return ChannelSftp.APPEND;
        case "overwrite": return ChannelSftp.OVERWRITE;
        default: throw new IllegalArgumentException("mode " + m);
        }
    }

    static String attrs(SftpATTRS a) {
        return "size=" + a.getSize() + " perm=" + Integer.toOctalString(a.getPermissions() & 07777)
            + " mtime=" + a.getMTime() + " dir=" + a.isDir() + " link=" + a.isLink()
            + " reg=" + a.isReg();
    }

    /* Reads like its source, then fails after n bytes: an upload cut short. */
    static class FailingStream extends FilterInputStream {
        long left;
        FailingStream(InputStream in, long n) { super(in); left = n; }
        public int read() throws IOException {
            if (left <= 0) throw new IOException("injected read failure");
            left--;
            return super.read();
        }
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) throw new IOException("injected read failure");
            int n = super.read(b, off, (int) Math.min(len, left));
            if (n > 0) left -= n;
            return n;
        }
    }

    public static void main(String[] args) throws Exception {
        out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        JSch.setLogger(new Logger() {
            public boolean isEnabled(int level) { return level >= Logger.INFO; }
            public void log(int level, String msg) { System.err.println("jsch: " + msg); }
        });
        JSch jsch = new JSch();
        jsch.setKnownHosts(args[3]);
        Session session = jsch.getSession(args[2], args[0], Integer.parseInt(args[1]));
        session.setConfig("StrictHostKeyChecking", "yes");
        String auth = args[4];
        if (auth.startsWith("key:")) {
            jsch.addIdentity(auth.substring(4));
            session.setConfig("PreferredAuthentications", "publickey");
        } else if (auth.startsWith("password:")) {
            session.setPassword(auth.substring(9));
            session.setConfig("PreferredAuthentications", "password");
        } else {
            throw new IllegalArgumentException("auth " + auth);
        }
        for (int i = 5; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            session.setConfig(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        session.setTimeout(30000);
        ChannelSftp sftp;
        try {
            session.connect(20000);
            HostKey hk = session.getHostKey();
            out.println("CONNECTED hostkey=" + hk.getType() + " server=" + session.getServerVersion()
                        + " client=" + session.getClientVersion());
            sftp = (ChannelSftp) session.openChannel("sftp");
            sftp.connect(20000);
        } catch (JSchException e) {
            out.println("CONNECT-FAIL " + e.getMessage());
            session.disconnect();
            System.exit(2);
            return;
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] f = line.split("\t", -1);
            try {
                String res = run(sftp, f);
                out.println(f[0] + " OK" + (res.isEmpty() ? "" : " " + res));
            } catch (SftpException e) {
                out.println(f[0] + " ERR " + e.id + " " + e.getMessage());
            }
        }
        sftp.disconnect();
        session.disconnect();
        out.println("DONE");
    }

    static String run(ChannelSftp sftp, String[] f) throws SftpException, IOException {
        switch (f[1]) {
        case "put": sftp.put(f[2], f[3], mode(f, 4)); return "";
        case "get": sftp.get(f[2], f[3], null, mode(f, 4)); return "";
        case "cat": /* through the InputStream of get(String): a plain OPEN and READs */
            try (InputStream s = sftp.get(f[2]); OutputStream o = new FileOutputStream(f[3])) {
                byte[] b = new byte[65536];
                long n = 0;
                for (int k; (k = s.read(b)) > 0; n += k) o.write(b, 0, k);
                return "bytes=" + n;
            }
        case "putfail":
            try (InputStream s = new FailingStream(new FileInputStream(f[2]), Long.parseLong(f[4]))) {
                sftp.put(s, f[3], ChannelSftp.OVERWRITE);
            }
            return "";
        case "ls": {
            Vector<?> v = sftp.ls(f[2]);
            for (Object o : v) {
                out.println(f[0] + " ENTRY " + ((ChannelSftp.LsEntry) o).getFilename());
            }
            return "n=" + v.size();
        }
        case "stat": return attrs(sftp.stat(f[2]));
        case "lstat": return attrs(sftp.lstat(f[2]));
        case "mkdir": sftp.mkdir(f[2]); return "";
        case "rmdir": sftp.rmdir(f[2]); return "";
        case "rm": sftp.rm(f[2]); return "";
        case "rename": sftp.rename(f[2], f[3]); return "";
        case "chmod": sftp.chmod(Integer.parseInt(f[2], 8), f[3]); return "";
        case "setmtime": sftp.setMtime(f[2], Integer.parseInt(f[3])); return "";
        case "symlink": sftp.symlink(f[2], f[3]); return "";
        case "readlink": return sftp.readlink(f[2]);
        case "realpath": return sftp.realpath(f[2]);
        case "cd": sftp.cd(f[2]); return sftp.pwd();
        case "version": return "sftp=" + sftp.getServerVersion();
        default: throw new IllegalArgumentException("command " + f[1]);
        }
    }
}
JAVA
javac -nowarn -cp "$JSCH_JAR" -d "$T/jcls" "$T/jsrc/FerryJsch.java" || fail "javac"
ok "FerryJsch compiled against $JSCH_JAR"

# jsch NAME KNOWN_HOSTS AUTH [option=value...] <commands: one JSch
# connection to ferryd; its output in $T/NAME.out, JSch's log in
# $T/NAME.log. Returns the client's status; a hang fails the test.
jsch() {
    local name=$1 kh=$2 auth=$3 rc=0
    shift 3
    timeout 60 java -cp "$JSCH_JAR:$T/jcls" FerryJsch 127.0.0.1 "$FERRYD_PORT" "$TEST_USER" \
        "$kh" "$auth" "$@" >"$T/$name.out" 2>"$T/$name.log" || rc=$?
    [ $rc -ne 124 ] || fail "$name: JSch did not finish in 60 s"
    return $rc
}

# jsch_ok: as jsch, and the session must have run to its end.
jsch_ok() {
    local name=$1
    if ! jsch "$@" || ! grep -qx DONE "$T/$name.out"; then
        cat "$T/$name.out" "$T/$name.log" >&2
        fail "$name: JSch session failed"
    fi
}

# jsch_refused NAME MESSAGE KNOWN_HOSTS AUTH [option=value...]: the
# connection must fail with JSch's exception MESSAGE, quickly.
jsch_refused() {
    local name=$1 msg=$2 rc=0 t0=$SECONDS
    shift 2
    jsch "$name" "$@" </dev/null || rc=$?
    [ $rc -eq 2 ] || { cat "$T/$name.out" "$T/$name.log" >&2; fail "$name: status $rc, expected a refused connection"; }
    grep -q "^CONNECT-FAIL $msg" "$T/$name.out" ||
        { cat "$T/$name.out" >&2; fail "$name: expected \"$msg\""; }
    [ $((SECONDS - t0)) -le 15 ] || fail "$name: refusal took $((SECONDS - t0)) s"
}

# audit_end NAME=VALUE...: the session_end audit lines that hold them all.
audit_end() {
    local l w
    l=$(grep "event=session_end" "$T/ferryd.log" || true)
    for w in "$@"; do
        l=$(grep -F -- " $w" <<<"$l" || true)
    done
    printf '%s' "$l"
}

# ---------------------------------------------------------------- keys
K="$T/keys"
L="$T/local"
mkdir -p "$K" "$L"
ssh-keygen -q -t ecdsa -b 256 -m PEM -N '' -C jsch-ecdsa -f "$K/id_ecdsa"
ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C jsch-rsa -f "$K/id_rsa"
head -n 1 "$K/id_ecdsa" | grep -q 'BEGIN EC PRIVATE KEY' || fail "ECDSA user key not PEM"
cat "$K/id_ecdsa.pub" "$K/id_rsa.pub" >"$T/authorized_keys"
ssh-keygen -q -t ecdsa -b 256 -N '' -f "$K/host_ecdsa"
ssh-keygen -q -t ecdsa -b 256 -N '' -f "$K/other_ecdsa"
ssh-keygen -q -t rsa -b 3072 -N '' -f "$K/host_rsa"
ECDSA="key:$K/id_ecdsa"
RSA="key:$K/id_rsa"
PW='JSch pass wörd'

# ------------------------------------- 1. ferryd's defaults: refused cleanly
echo "PerSourcePenalties no" >"$T/default.conf"
ferryd_start --config "$T/default.conf"
known_hosts_of "$T/host_ed25519.pub" "$T/kh_ed25519"
jsch_refused def_ed25519 "Algorithm negotiation fail" "$T/kh_ed25519" "$ECDSA"
grep -q "closed before authentication: no matching host key algorithm" "$T/ferryd.log" ||
    fail "ferryd did not log the failed negotiation"
kill -0 "$FERRYD_PID" || fail "ferryd died"
ferryd_stop
cp "$T/ferryd.log" "$T/ferryd-default.log"
ok "default ferryd (Ed25519 host key): JSch refused with \"Algorithm negotiation fail\", clean close"

# An RSA host key with the default HostKeyAlgorithms (rsa-sha2-* only).
ferryd_start --config "$T/default.conf" --host-key "$K/host_rsa"
known_hosts_of "$K/host_rsa.pub" "$T/kh_rsa"
jsch_refused def_rsa_host "Algorithm negotiation fail" "$T/kh_rsa" "$ECDSA"
grep -q "closed before authentication: no matching host key algorithm" "$T/ferryd.log" ||
    fail "ferryd did not log the failed negotiation"
ferryd_stop
cp "$T/ferryd.log" "$T/ferryd-default-rsa.log"
ok "default ferryd with an RSA host key: refused (no ssh-rsa signatures by default)"

# An ECDSA host key, default algorithms: GEX with a 2048-bit group; RSA
# user keys refused (ssh-rsa signatures).
ferryd_start --config "$T/default.conf" --host-key "$K/host_ecdsa"
known_hosts_of "$K/host_ecdsa.pub" "$T/kh_ecdsa"
make_file "$L/small.bin" 54321
cmd a put "$L/small.bin" /def.bin >"$T/c_def"
jsch_ok def_ecdsa "$T/kh_ecdsa" "$ECDSA" <"$T/c_def"
want_ok def_ecdsa a
same "$L/small.bin" "$T/root/def.bin"
grep -q "^CONNECTED hostkey=ecdsa-sha2-nistp256 " "$T/def_ecdsa.out" || fail "def_ecdsa: host key type"
grep -q "SSH_MSG_KEX_DH_GEX_REQUEST(1024<2048<2048) sent" "$T/def_ecdsa.log" ||
    fail "def_ecdsa: expected a DH group exchange"
grep -q "kex: client->server aes128-ctr hmac-sha2-256 none" "$T/def_ecdsa.log" ||
    fail "def_ecdsa: expected aes128-ctr with hmac-sha2-256"
jsch_refused def_rsa_user "Auth fail" "$T/kh_ecdsa" "$RSA"
grep -q "event=auth_failure user=$TEST_USER .*method=publickey" "$T/ferryd.log" ||
    fail "no auth_failure audit for the RSA (ssh-rsa) key"
ferryd_stop
cp "$T/ferryd.log" "$T/ferryd-default-ecdsa.log"
ok "default ferryd + ECDSA host key: JSch logs in through diffie-hellman-group-exchange-sha256; RSA user key refused"

# ------------------------------------- 2. the legacy-client deployment
cat >"$T/legacy.conf" <<CONF
HostKey $K/host_ecdsa
KexAlgorithms +ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521
RekeyLimit 1M
PerSourcePenalties no
CONF
"$FERRYD" -t --config "$T/legacy.conf" --root "$T" >/dev/null 2>&1 || fail "legacy.conf rejected by ferryd -t"
ferryd_start --config "$T/legacy.conf" --password-hash "$(password_hash "$PW")"
known_hosts_of "$K/host_ecdsa.pub" "$T/kh_ecdsa"
R="$T/root"

# host key checks: a different key for the host, and no entry at all
known_hosts_of "$K/other_ecdsa.pub" "$T/kh_wrong"
jsch_refused wrong_key "HostKey has been changed" "$T/kh_wrong" "$ECDSA"
: >"$T/kh_empty"
jsch_refused unknown_key "reject HostKey: 127.0.0.1" "$T/kh_empty" "$ECDSA"
grep -q "event=session_start" "$T/ferryd.log" && fail "a session started without a verified host key"
ok "a wrong and an unknown host key are refused by JSch (StrictHostKeyChecking=yes)"

# files on disk
BIG=$((4 * 1024 * 1024 + 4321))
make_file "$L/big.bin" $BIG
make_file "$L/tail.bin" 7777
mkdir -p "$R/list" "$R/st"
for i in $(seq -w 1 194); do : >"$R/list/f$i"; done
mkdir "$R/list/dir one" "$R/list/dir2" "$R/list/dir3"
printf x >"$R/list/with space"
printf y >"$R/list/ünïcödé"
printf z >"$R/list/.hidden"
make_file "$R/st/file" 12345
chmod 0640 "$R/st/file"
touch -d @1500000000 "$R/st/file"
ln -s file "$R/st/link"
ln -s /etc/passwd "$R/esc_abs"
ln -s ../../../../../../../../../etc/passwd "$R/esc_rel"
# a decoy /etc/group inside the root: escaping names must find it instead
mkdir "$R/etc"
echo "decoy group file inside the root" >"$R/etc/group"
ln -s /etc/group "$R/dec_abs"
ln -s ../../../../../../../../../etc/group "$R/dec_rel"
mkdir "$R/part"
head -c $((1024 * 1024 + 777)) "$L/big.bin" >"$R/part/resume.bin"
head -c $((1536 * 1024 + 3)) "$L/big.bin" >"$L/get_resume.bin"

{
    cmd v version
    cmd m1 mkdir /up
    cmd p1 put "$L/big.bin" /up/big.bin
    cmd g1 get /up/big.bin "$L/big.back"
    cmd l1 ls /list
    cmd s1 stat /st/file
    cmd s2 lstat /st/link
    cmd s3 stat /st/link
    cmd s4 lstat /st/file
    cmd s5 stat /list
    cmd c1 chmod 600 /up/big.bin
    cmd t1 setmtime /up/big.bin 1234567890
    cmd s6 stat /up/big.bin
    cmd y1 symlink /up/big.bin /up/big.lnk
    cmd y2 readlink /up/big.lnk
    cmd y3 get /up/big.lnk "$L/via_link.bin"
    cmd d1 mkdir /up/dir
    cmd d2 put "$L/small.bin" /up/dir/a.bin
    cmd d3 rename /up/dir/a.bin /up/dir/b.bin
    cmd d4 get /up/dir/b.bin "$L/b.back"
    cmd d5 rmdir /up/dir
    cmd d6 rm /up/dir/b.bin
    cmd d7 rmdir /up/dir
    cmd r1 put "$L/big.bin" /part/resume.bin resume
    cmd r2 get /up/big.bin "$L/get_resume.bin" resume
    cmd r3 put "$L/small.bin" /up/app.bin
    cmd r4 put "$L/tail.bin" /up/app.bin append
    cmd e1 get /nope.bin "$L/nope.bin"
    cmd e2 stat /nope.bin
    cmd e3 rm /no/such/file
    cmd e4 put "$L/small.bin" /no/such/dir/x.bin
    cmd j1 get ../../etc/passwd "$L/jail1"
    cmd j2 get /../../../etc/passwd "$L/jail2"
    cmd j3 get /esc_abs "$L/jail3"
    cmd j4 get /esc_rel "$L/jail4"
    cmd j5 realpath ../..
    cmd j6 put "$L/small.bin" ../escaped.bin
    cmd j7 cd ../../..
    cmd j8 get ../../../etc/group "$L/decoy1"
    cmd j9 cat /dec_abs "$L/decoy2"
    cmd j10 cat /dec_rel "$L/decoy3"
    cmd u1 putfail "$L/big.bin" /up/cut.bin 1500000
} >"$T/c_main"
jsch_ok main "$T/kh_ecdsa" "$ECDSA" <"$T/c_main"
grep -q "^CONNECTED hostkey=ecdsa-sha2-nistp256 server=SSH-2.0-Ferry" "$T/main.out" || fail "main: host key"
grep -q "SSH_MSG_KEX_ECDH_INIT sent" "$T/main.log" || fail "main: expected ECDH key exchange"
grep -q "kex: server->client aes128-ctr hmac-sha2-256 none" "$T/main.log" || fail "main: cipher/MAC"
want_reply main v "sftp=3"
ok "JSch connects with ecdh-sha2-nistp256, ecdsa-sha2-nistp256, aes128-ctr, hmac-sha2-256; SFTP v3"

want_ok main m1
want_ok main p1
want_ok main g1
same "$L/big.bin" "$R/up/big.bin"
same "$L/big.bin" "$L/big.back"
ok "put and get of a $BIG-byte file (with re-keying every MiB)"

{ printf '%s\n' . ..; find "$R/list" -mindepth 1 -maxdepth 1 -printf '%f\n'; } | LC_ALL=C sort >"$T/ls_disk"
[ "$(wc -l <"$T/ls_disk")" -eq 202 ] || fail "expected 200 entries on disk"
sed -n 's/^l1 ENTRY //p' "$T/main.out" | LC_ALL=C sort >"$T/ls_jsch"
cmp -s "$T/ls_disk" "$T/ls_jsch" || { diff "$T/ls_disk" "$T/ls_jsch" >&2; fail "ls names differ"; }
want_reply main l1 "n=202"
ok "ls of a directory of 200 entries: every name (blanks, UTF-8, hidden)"

want_reply main s1 "size=12345 perm=640 mtime=1500000000 dir=false link=false reg=true"
want_reply main s2 "size=$(stat -c %s "$R/st/link") perm=777 mtime=$(stat -c %Y "$R/st/link") dir=false link=true reg=false"
want_reply main s3 "size=12345 perm=640 mtime=1500000000 dir=false link=false reg=true"
want_reply main s4 "size=12345 perm=640 mtime=1500000000 dir=false link=false reg=true"
want_reply main s5 "size=$(stat -c %s "$R/list") perm=$(stat -c %a "$R/list") mtime=$(stat -c %Y "$R/list") dir=true link=false reg=false"
ok "stat/lstat: size, mode, mtime and type as on disk"

want_ok main c1
want_ok main t1
[ "$(stat -c '%a %Y' "$R/up/big.bin")" = "600 1234567890" ] || fail "chmod/setMtime on disk: $(stat -c '%a %Y' "$R/up/big.bin")"
want_reply main s6 "size=$BIG perm=600 mtime=1234567890 dir=false link=false reg=true"
ok "chmod and setMtime, checked on disk"

want_ok main y1
[ -L "$R/up/big.lnk" ] || fail "symlink not created"
# JSch makes both paths absolute before sending them
[ "$(readlink "$R/up/big.lnk")" = /up/big.bin ] || fail "symlink target on disk: $(readlink "$R/up/big.lnk")"
want_reply main y2 "/up/big.bin"
want_ok main y3
same "$L/big.bin" "$L/via_link.bin"
ok "symlink (target on disk), readlink, and a get through the link"

for t in d1 d2 d3 d4 d6 d7; do want_ok main $t; done
want_err main d5 4
same "$L/small.bin" "$L/b.back"
[ ! -e "$R/up/dir" ] || fail "rmdir: /up/dir still on disk"
grep -q "event=file .*op=rename path=/up/dir/a.bin path2=/up/dir/b.bin .*result=ok" "$T/ferryd.log" ||
    fail "no audit event for the rename"
ok "mkdir, rename, rm, rmdir (a non-empty rmdir fails with SSH_FX_FAILURE)"

want_ok main r1
same "$L/big.bin" "$R/part/resume.bin"
want_ok main r2
same "$L/big.bin" "$L/get_resume.bin"
want_ok main r3
want_ok main r4
cat "$L/small.bin" "$L/tail.bin" >"$L/app.expected"
same "$L/app.expected" "$R/up/app.bin"
ok "put RESUME onto a partial file, get RESUME of a partial local copy, put APPEND"

want_err main e1 2
[ ! -e "$L/nope.bin" ] || fail "a failed get left $L/nope.bin"
want_err main e2 2
want_err main e3 2
want_err main e4 2
ok "missing files: get, stat, rm and put into a missing directory fail with SSH_FX_NO_SUCH_FILE"

for t in j1 j2 j3 j4; do
    want_err main $t 2
    [ ! -e "$L/jail${t#j}" ] || ! cmp -s /etc/passwd "$L/jail${t#j}" || fail "$t read the real /etc/passwd"
done
want_reply main j5 "/"
want_ok main j6
[ -f "$R/escaped.bin" ] || fail "put ../escaped.bin: not in the root"
[ ! -e "$T/escaped.bin" ] || fail "put ../escaped.bin left the root"
want_reply main j7 "/"
want_ok main j8
want_reply main j9 "bytes=$(stat -c %s "$R/etc/group")"
want_reply main j10 "bytes=$(stat -c %s "$R/etc/group")"
for i in 1 2 3; do same "$R/etc/group" "$L/decoy$i"; done
ok "../../etc/passwd, /../../../etc/passwd and links to /etc/passwd stay in the root (no such file; a decoy /etc/group in the root is what they read); ../ puts land in it"

# The upload cut short: JSch neither closes nor cleans up; ferryd keeps
# the bytes it got as the partial file and nothing under the final name.
grep -q "^u1 ERR 4 java.io.IOException: injected read failure" "$T/main.out" ||
    fail "u1: $(reply main u1)"
for _ in $(seq 50); do [ -e "$R/up/.cut.bin.ferry-partial" ] && break; sleep 0.1; done
[ -f "$R/up/.cut.bin.ferry-partial" ] || fail "no partial file after the cut upload: $(ls -a "$R/up")"
[ ! -e "$R/up/cut.bin" ] || fail "the cut upload appeared under its final name"
psize=$(stat -c %s "$R/up/.cut.bin.ferry-partial")
[ "$psize" -gt 0 ] || fail "empty partial file"
[ "$psize" -le 1500000 ] || fail "partial file of $psize bytes, more than was sent"
cmp -s -n "$psize" "$L/big.bin" "$R/up/.cut.bin.ferry-partial" || fail "partial file is no prefix"

# ... and a new session (password login) resumes: nothing under the final
# name, so JSch starts over; the complete upload replaces the partial file.
{
    cmd r5 put "$L/big.bin" /up/cut.bin resume
    cmd r6 stat /up/cut.bin
} >"$T/c_pw"
jsch_ok pw "$T/kh_ecdsa" "password:$PW" <"$T/c_pw"
want_ok pw r5
same "$L/big.bin" "$R/up/cut.bin"
[ ! -e "$R/up/.cut.bin.ferry-partial" ] || fail "stale partial file left after the complete upload"
want_reply pw r6 "size=$BIG perm=$(stat -c %a "$R/up/cut.bin") mtime=$(stat -c %Y "$R/up/cut.bin") dir=false link=false reg=true"
grep -q "Authentication succeeded (password)" "$T/pw.log" || fail "pw: not a password login"
ok "an upload cut short is kept as partial file; put RESUME in a password session completes it"

jsch_refused bad_pw "Auth fail" "$T/kh_ecdsa" "password:wrong"
ok "a wrong password is refused"

# each curve and GEX, each AES key size (JSch's order chooses otherwise)
make_file "$L/mid.bin" 300000
for v in ecdh-sha2-nistp256:aes128-ctr ecdh-sha2-nistp384:aes192-ctr \
    ecdh-sha2-nistp521:aes256-ctr diffie-hellman-group-exchange-sha256:aes256-ctr; do
    kex=${v%%:*} c=${v#*:}
    {
        cmd p put "$L/mid.bin" "/alg_$kex.bin"
        cmd g get "/alg_$kex.bin" "$L/alg_$kex.back"
    } >"$T/c_alg"
    jsch_ok "alg_$kex" "$T/kh_ecdsa" "$ECDSA" "kex=$kex" "cipher.c2s=$c" "cipher.s2c=$c" <"$T/c_alg"
    want_ok "alg_$kex" p
    want_ok "alg_$kex" g
    same "$L/mid.bin" "$R/alg_$kex.bin"
    same "$L/mid.bin" "$L/alg_$kex.back"
    grep -q "kex: client->server $c hmac-sha2-256 none" "$T/alg_$kex.log" || fail "$kex: cipher $c not used"
    [ -n "$(audit_end "cipher=$c" "client=SSH-2.0-JSCH-0.1.54")" ] || fail "$kex: no session_end with cipher=$c"
done
ok "ecdh-sha2-nistp256/384/521 and group exchange; aes128/192/256-ctr"

# the big transfers were re-keyed by the server, every MiB
n=$(audit_end "key_type=ecdsa-sha2-nistp256" | sed -n 's/.*key_exchanges=\([0-9]*\).*/\1/p' | sort -n | tail -n 1)
[ "${n:-0}" -ge 8 ] || fail "expected re-keying in the main session, got key_exchanges=${n:-none}"
ferryd_stop
cp "$T/ferryd.log" "$T/ferryd-legacy.log"
ok "ferryd re-keyed the JSch sessions (up to $n key exchanges) and stopped cleanly"

# ------------------------------------- 3. explicit SHA-1 opt-in: RSA only
cat >"$T/sha1.conf" <<CONF
HostKey $K/host_rsa
HostKeyAlgorithms +ssh-rsa
PubkeyAcceptedAlgorithms +ssh-rsa
PerSourcePenalties no
CONF
ferryd_start --config "$T/sha1.conf"
known_hosts_of "$K/host_rsa.pub" "$T/kh_rsa"
{
    cmd p put "$L/mid.bin" /rsa.bin
    cmd g get /rsa.bin "$L/rsa.back"
} >"$T/c_rsa"
jsch_ok rsa "$T/kh_rsa" "$RSA" <"$T/c_rsa"
want_ok rsa p
want_ok rsa g
same "$L/mid.bin" "$R/rsa.bin"
same "$L/mid.bin" "$L/rsa.back"
grep -q "^CONNECTED hostkey=ssh-rsa " "$T/rsa.out" || fail "rsa: host key type"
grep -q "matches the RSA host key" "$T/rsa.log" || fail "rsa: RSA host key not verified"
grep -q "event=session_start user=$TEST_USER .*method=publickey .*key_type=ssh-rsa" "$T/ferryd.log" ||
    fail "rsa: no session_start with an ssh-rsa user key"
ferryd_stop
cp "$T/ferryd.log" "$T/ferryd-sha1.log"
ok "SHA-1 opt-in (HostKeyAlgorithms/PubkeyAcceptedAlgorithms +ssh-rsa): RSA host key and RSA user key work"
