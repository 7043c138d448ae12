#!/usr/bin/python3
"""OpenSSH certificates (PROTOCOL.certkeys) between ferryd and two SSH
implementations nobody here wrote, paramiko and asyncssh; bytes compared
by hash. Certificates and keys are made by ssh-keygen; the users alice
and bob have no authorized key at all (AuthorizedKeysFile names a file
that does not exist), so only a certificate from a CA in ferryd's
TrustedUserCAKeys gets them in.

 1. paramiko (Debian's 2.12) against a ferryd with TrustedUserCAKeys:
    an ed25519 key with its certificate loaded (key.load_certificate)
    logs in as alice, host key checked against ferryd's key; SFTP put
    and get of ~1 MiB compared by hash; the audit log's session_start
    names the certificate (key_type, cert_id, cert_serial, ca_key).
    A certificate whose only principal is bob is refused for alice
    (paramiko raises AuthenticationException, no session_start for it)
    and ferryd logs "principal not in certificate".
 2. asyncssh (2.10) against the same ferryd: (a) client_keys=[(key,
    cert)] as alice, SFTP put/get compared, audited with its cert_id;
    client_keys=[path] with path-cert.pub beside the key, as bob; an
    expired certificate refused (PermissionDenied) with "certificate
    expired" in ferryd's log.
    (b) host certificates: a second ferryd with HostCertificate (its
    host key certified by a host CA, principal 127.0.0.1); asyncssh with
    a known_hosts holding ONLY "@cert-authority [127.0.0.1]:PORT <host
    CA>" (no host key) verifies ferryd's certificate, logs in with its
    client certificate and puts/gets, compared; the host key it got is
    the certified key. With a known_hosts naming another CA it fails
    with HostKeyNotVerifiable; as a control, the CA-only known_hosts
    against the first ferryd (no HostCertificate) fails the key exchange
    (asyncssh then asks for certificate algorithms only). paramiko, which
    asks for no certificate, still gets the plain host key from the
    ferryd with HostCertificate and logs in by certificate, put/get
    compared.
 Both ferryds must exit 0 on SIGTERM with no sanitizer report in their
 logs.

Each phase is reported as ok/not ok and the phases after a failed one
still run; the test fails if any failed. Run by CTest with FERRY_BUILD
and FERRY_SRC set. Uses its own temporary directory (removed on success)
and kernel-chosen loopback ports; signals only the ferryds it started,
by PID. Fails (never skips) when paramiko or asyncssh is missing."""
import asyncio
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

# asyncssh 2.10 imports ciphers that pyca/cryptography marks deprecated
warnings.filterwarnings("ignore", module=r"asyncssh(\..*)?")
try:
    import asyncssh
    import paramiko
except ImportError as e:
    print("FAIL: %s (install python3-asyncssh and python3-paramiko: scripts/deps test)" % e,
          file=sys.stderr)
    sys.exit(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyferryd  # noqa: E402
from pyferryd import FAILURES, LOGS, aphase, check, fail, finish, phase, sha_file  # noqa: E402

BUILD = os.environ.get("FERRY_BUILD", "")
FERRYD = os.path.join(BUILD, "ferryd")
CERT_ALG = "ssh-ed25519-cert-v01@openssh.com"


pyferryd.ERRORS += (paramiko.SSHException, asyncssh.Error, asyncio.TimeoutError)


def keygen(path, comment):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                   check=True)


def certify(ca, pub, ident, principals, *opts):
    """ssh-keygen -s CA -I ident -n principals [opts] pub: pub's -cert.pub."""
    subprocess.run(["ssh-keygen", "-q", "-s", ca, "-I", ident, "-n", principals] + list(opts)
                   + [pub], check=True)
    return pub[:-len(".pub")] + "-cert.pub"


def fingerprint(pub):
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", pub], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


def publine(pub):
    """(algorithm, base64 blob) of an OpenSSH .pub file."""
    with open(pub) as f:
        return tuple(f.read().split()[:2])


class Setup:
    """Keys, CAs and the ferryd configuration shared by the phases."""

    def __init__(self, tmp):
        self.tmp = tmp
        p = lambda n: os.path.join(tmp, n)  # noqa: E731
        self.ca = p("user_ca")
        self.ca_other = p("untrusted_ca")
        self.host_ca = p("host_ca")
        self.host_ca_other = p("other_host_ca")
        for path in (self.ca, self.ca_other, self.host_ca, self.host_ca_other):
            keygen(path, os.path.basename(path))
        self.ca_fp = fingerprint(self.ca + ".pub")
        self.trusted = p("trusted_cas")
        shutil.copy(self.ca + ".pub", self.trusted)
        self.roots = {u: p("root_" + u) for u in ("alice", "bob")}
        for r in self.roots.values():
            os.mkdir(r)
        self.data = p("data.bin")
        with open(self.data, "wb") as f:
            f.write(os.urandom((1 << 20) + 4321))
        self.data_sha = sha_file(self.data)

    def conf(self, name, extra=()):
        """ferryd.conf lines: TrustedUserCAKeys, an audit log, alice and bob."""
        audit = os.path.join(self.tmp, name + "-audit.log")
        lines = ["PerSourcePenalties no", "AuditLog " + audit,
                 "TrustedUserCAKeys " + self.trusted] + list(extra)
        for u, r in self.roots.items():
            lines += ["User " + u, "    Root " + r,
                      "    AuthorizedKeysFile " + os.path.join(self.tmp, "no_such_keys")]
        return lines, audit

    def user_key(self, name, ca, principals, *opts):
        """An ed25519 key tmp/name with its certificate tmp/name-cert.pub,
        key ID id-name."""
        path = os.path.join(self.tmp, name)
        keygen(path, name)
        certify(ca, path + ".pub", "id-" + name, principals, *opts)
        return path


class Server(pyferryd.Ferryd):
    """pyferryd's ferryd with the Setup's configuration, a host key made
    here by ssh-keygen (so that it can be certified before start), and
    its audit log."""

    def __init__(self, setup, name, extra=(), before_start=None):
        hostkey = os.path.join(setup.tmp, name + "-host_ed25519")
        keygen(hostkey, name + "-host")
        self.hostkey = hostkey
        if before_start:
            extra = list(extra) + before_start(hostkey)
        conf, self.audit = setup.conf(name, extra)
        super().__init__(setup.tmp, name=name, conf=conf)
        LOGS.append((name + " log", self.log))
        LOGS.append((name + " audit log", self.audit))

    def audit_text(self):
        if not os.path.exists(self.audit):
            return ""
        with open(self.audit, errors="replace") as f:
            return f.read()

    def wait_for(self, pattern, what, timeout=10):
        """The ferryd or audit log line matching pattern (ferryd may write
        it just after the client saw the result)."""
        end = time.monotonic() + timeout
        while True:
            for text in (self.audit_text(), self.log_text()):
                m = re.search(pattern, text, re.M)
                if m:
                    return m.group(0)
            if time.monotonic() > end:
                raise AssertionError("%s: no line matching %r in the ferryd or audit log"
                                     % (what, pattern))
            time.sleep(0.05)

    def session_start(self, user, cert_id, serial):
        line = self.wait_for(r"^.*event=session_start user=%s .*cert_id=%s .*$"
                             % (user, re.escape(cert_id)), "session_start of " + cert_id)
        check(" key_type=%s " % CERT_ALG in " %s " % line, "key_type: %s" % line)
        check(" cert_serial=%d " % serial in " %s " % line, "cert_serial %d: %s" % (serial, line))
        return line

    def refused(self, cert_id, user, why):
        return self.wait_for(r'^.*certificate ID "%s" \(serial \d+\) refused for %s from '
                             r'127\.0\.0\.1: %s.*$' % (re.escape(cert_id), user, re.escape(why)),
                             "refusal of " + cert_id)


# ---------------------------------------------------------------- paramiko

def paramiko_client(srv, user, keypath):
    """A paramiko SSHClient logged in with the key at keypath and its
    certificate; the host key must be ferryd's (RejectPolicy). Closed
    when the login fails (paramiko leaves its transport open)."""
    key = paramiko.Ed25519Key.from_private_key_file(keypath)
    key.load_certificate(keypath + "-cert.pub")
    check(key.public_blob is not None and key.public_blob.key_type == CERT_ALG,
          "paramiko did not load the certificate: %r" % (key.public_blob,))
    alg, blob = publine(srv.hostkey + ".pub")
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.RejectPolicy())
    c.get_host_keys().add("[127.0.0.1]:%d" % srv.port, alg,
                          paramiko.Ed25519Key(data=base64.b64decode(blob)))
    try:
        c.connect("127.0.0.1", port=srv.port, username=user, pkey=key, allow_agent=False,
                  look_for_keys=False, timeout=30, banner_timeout=30, auth_timeout=30)
    except BaseException:
        c.close()
        raise
    return c


def paramiko_putget(setup, srv, user, keypath, name):
    c = paramiko_client(srv, user, keypath)
    try:
        t = c.get_transport()
        check(t.is_authenticated() and t.get_username() == user, "not authenticated")
        check(t.host_key_type == "ssh-ed25519",
              "host key algorithm %r (paramiko asks for no certificate)" % t.host_key_type)
        sftp = c.open_sftp()
        sftp.put(setup.data, name)
        remote = os.path.join(setup.roots[user], name)
        check(sha_file(remote) == setup.data_sha, "put: the bytes on ferryd's disk differ")
        got = os.path.join(setup.tmp, name + ".got")
        sftp.get(name, got)
        check(sha_file(got) == setup.data_sha, "get: the bytes differ")
        sftp.close()
    finally:
        c.close()


def paramiko_login(setup, srv):
    key = setup.user_key("pm", setup.ca, "alice", "-z", "77")
    paramiko_putget(setup, srv, "alice", key, "pm.bin")
    line = srv.session_start("alice", "id-pm", 77)
    check(" ca_key=%s " % setup.ca_fp in line + " ", "ca_key %s: %s" % (setup.ca_fp, line))


def paramiko_refused(setup, srv):
    key = setup.user_key("pm-bob", setup.ca, "bob")
    try:
        c = paramiko_client(srv, "alice", key)
        c.close()
        raise AssertionError("a certificate for bob logged in as alice")
    except paramiko.AuthenticationException:
        pass
    srv.refused("id-pm-bob", "alice", "principal not in certificate")
    check(not re.search(r"event=session_start user=alice .*cert_id=id-pm-bob ",
                        srv.audit_text() + srv.log_text()),
          "session_start for the refused certificate")


def paramiko_plain_hostkey(setup, srv):
    """A ferryd with HostCertificate offers the certificate first; paramiko
    asks for plain keys only and gets ferryd's plain key."""
    key = setup.user_key("pm-hc", setup.ca, "bob", "-z", "5")
    paramiko_putget(setup, srv, "bob", key, "pm-hc.bin")
    srv.session_start("bob", "id-pm-hc", 5)


# ---------------------------------------------------------------- asyncssh

async def as_connect(srv, user, client_keys, known_hosts):
    return await asyncio.wait_for(asyncssh.connect(
        "127.0.0.1", port=srv.port, username=user, client_keys=client_keys,
        known_hosts=known_hosts, config=[], agent_path=None, password=None,
        preferred_auth="publickey"), 30)


async def as_putget(setup, conn, user, name):
    async with conn.start_sftp_client() as sftp:
        await sftp.put(setup.data, name)
        remote = os.path.join(setup.roots[user], name)
        check(sha_file(remote) == setup.data_sha, "put: the bytes on ferryd's disk differ")
        got = os.path.join(setup.tmp, name + ".got")
        await sftp.get(name, got)
        check(sha_file(got) == setup.data_sha, "get: the bytes differ")


def plain_known_hosts(setup, srv, name):
    path = os.path.join(setup.tmp, name)
    with open(path, "w") as f:
        f.write("[127.0.0.1]:%d %s %s\n" % ((srv.port,) + publine(srv.hostkey + ".pub")))
    return path


def ca_known_hosts(setup, srv, ca, name):
    path = os.path.join(setup.tmp, name)
    with open(path, "w") as f:
        f.write("@cert-authority [127.0.0.1]:%d %s %s\n"
                % ((srv.port,) + publine(ca + ".pub")))
    return path


async def as_tuple(setup, srv):
    path = setup.user_key("as-tuple", setup.ca, "alice", "-z", "4242")
    key = asyncssh.read_private_key(path)
    cert = asyncssh.read_certificate(path + "-cert.pub")
    check(cert.algorithm.decode() == CERT_ALG, "asyncssh read %r" % cert.algorithm)
    conn = await as_connect(srv, "alice", [(key, cert)],
                            plain_known_hosts(setup, srv, "kh_plain_a"))
    async with conn:
        await as_putget(setup, conn, "alice", "as-tuple.bin")
    line = srv.session_start("alice", "id-as-tuple", 4242)
    check(" ca_key=%s " % setup.ca_fp in line + " ", "ca_key %s: %s" % (setup.ca_fp, line))


async def as_file(setup, srv):
    path = setup.user_key("as-file", setup.ca, "carol,bob")
    conn = await as_connect(srv, "bob", [path], plain_known_hosts(setup, srv, "kh_plain_a"))
    async with conn:
        await as_putget(setup, conn, "bob", "as-file.bin")
    srv.session_start("bob", "id-as-file", 0)


async def as_expired(setup, srv):
    path = setup.user_key("as-expired", setup.ca, "alice", "-V", "20200101:20200102")
    try:
        conn = await as_connect(srv, "alice", [path],
                                plain_known_hosts(setup, srv, "kh_plain_a"))
        conn.close()
        raise AssertionError("an expired certificate logged in")
    except asyncssh.PermissionDenied:
        pass
    srv.refused("id-as-expired", "alice", "certificate expired")


async def as_hostcert(setup, srv):
    kh = ca_known_hosts(setup, srv, setup.host_ca, "kh_ca")
    with open(kh) as f:
        before = f.read()
    check(before.startswith("@cert-authority ") and len(before.splitlines()) == 1,
          "known_hosts: %r" % before)
    path = os.path.join(setup.tmp, "as-tuple")
    conn = await as_connect(srv, "alice", [(asyncssh.read_private_key(path),
                                            asyncssh.read_certificate(path + "-cert.pub"))], kh)
    async with conn:
        got = conn.get_server_host_key()
        want = asyncssh.read_public_key(srv.hostkey + ".pub")
        check(got is not None and got.public_data == want.public_data,
              "the host key asyncssh verified is not ferryd's certified key")
        await as_putget(setup, conn, "alice", "as-hostcert.bin")
    with open(kh) as f:
        check(f.read() == before, "known_hosts changed")
    srv.session_start("alice", "id-as-tuple", 4242)


async def as_hostcert_control(setup, srv):
    """The ferryd without HostCertificate: with only the @cert-authority
    line asyncssh asks for certificate host key algorithms alone, so the
    key exchange fails; the login above needed the certificate."""
    kh = ca_known_hosts(setup, srv, setup.host_ca, "kh_ca_nocert")
    path = os.path.join(setup.tmp, "as-tuple")
    try:
        conn = await as_connect(srv, "alice", [path], kh)
        conn.close()
        raise AssertionError("asyncssh logged in with only a @cert-authority line to a ferryd "
                             "that has no host certificate")
    except (asyncssh.KeyExchangeFailed, asyncssh.HostKeyNotVerifiable):
        pass


async def as_hostcert_wrong_ca(setup, srv):
    kh = ca_known_hosts(setup, srv, setup.host_ca_other, "kh_other_ca")
    path = os.path.join(setup.tmp, "as-tuple")
    try:
        conn = await as_connect(srv, "alice", [path], kh)
        conn.close()
        raise AssertionError("asyncssh accepted a host certificate from a CA it does not trust")
    except asyncssh.HostKeyNotVerifiable as e:
        check("CA" in str(e), "HostKeyNotVerifiable for another reason: %s" % e)


# ---------------------------------------------------------------- main

def host_certificate(setup):
    def before_start(hostkey):
        certify(setup.host_ca, hostkey + ".pub", "ferryd-host", "127.0.0.1", "-h", "-z", "9")
        # the key itself is pyferryd's --host-key
        return ["HostCertificate " + hostkey + "-cert.pub"]
    return before_start


async def asyncssh_user_phases(setup, srv):
    await aphase("asyncssh client_keys=[(key, cert)] logs in as alice via TrustedUserCAKeys: "
                 "put/get of %d bytes equal, audited with cert_id/serial/ca_key"
                 % os.path.getsize(setup.data), as_tuple(setup, srv))
    await aphase("asyncssh client_keys=[path] with path-cert.pub beside it logs in as bob "
                 "(principals carol,bob): put/get equal", as_file(setup, srv))
    await aphase("asyncssh with an expired certificate: PermissionDenied, ferryd logs "
                 "\"certificate expired\"", as_expired(setup, srv))


async def asyncssh_host_phases(setup, hsrv, srv):
    await aphase("asyncssh verifies ferryd's host certificate with a known_hosts holding only "
                 "@cert-authority (no host key): logs in by certificate, put/get equal",
                 as_hostcert(setup, hsrv))
    await aphase("asyncssh with @cert-authority naming another CA: HostKeyNotVerifiable",
                 as_hostcert_wrong_ca(setup, hsrv))
    await aphase("control: the same @cert-authority line against the ferryd without "
                 "HostCertificate fails the key exchange", as_hostcert_control(setup, srv))


def main():
    if not os.access(FERRYD, os.X_OK):
        fail(FERRYD + " not built (FERRY_BUILD=%r)" % BUILD)
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="ferry-certpy.")
    servers = []
    try:
        print("# paramiko %s, asyncssh %s" % (paramiko.__version__, asyncssh.__version__))
        setup = Setup(tmp)
        srv = Server(setup, "ferryd")
        servers.append(srv)
        check("TrustedUserCAKeys %s: 1 CA key(s)" % setup.trusted in srv.log_text(),
              "ferryd did not report its CA key")
        phase("paramiko with key.load_certificate logs in as alice (no authorized key): "
              "put/get of %d bytes equal, audited with key_type/cert_id/serial/ca_key"
              % os.path.getsize(setup.data), paramiko_login, setup, srv)
        phase("paramiko with a certificate for bob, as alice: AuthenticationException, "
              "ferryd logs \"principal not in certificate\"", paramiko_refused, setup, srv)
        asyncio.run(asyncssh_user_phases(setup, srv))

        hsrv = Server(setup, "ferryd-hc", before_start=host_certificate(setup))
        servers.append(hsrv)
        check(re.search(r'host certificate .*ferryd-hc-host_ed25519-cert\.pub: %s, ID '
                        r'"ferryd-host"' % re.escape(CERT_ALG), hsrv.log_text()),
              "ferryd did not report its host certificate")
        asyncio.run(asyncssh_host_phases(setup, hsrv, srv))
        phase("paramiko (asks for no certificate) against the ferryd with HostCertificate: "
              "plain host key, certificate login, put/get equal",
              paramiko_plain_hostkey, setup, hsrv)
        for s, what in ((srv, "TrustedUserCAKeys"), (hsrv, "HostCertificate")):
            phase("ferryd (%s) exits 0 on SIGTERM, no sanitizer report in its log" % what,
                  s.stop)
            servers.remove(s)
    except Exception as e:  # noqa: BLE001 - report any failure with the logs
        traceback.print_exc()
        FAILURES.append("unexpected: %r" % e)
    finally:
        for s in servers:
            s.kill()
    for name, path in LOGS:
        if name.endswith(" log") and not name.endswith("audit log") and os.path.exists(path):
            with open(path, errors="replace") as f:
                if any(m in f.read() for m in pyferryd.SANITIZER_MARKS):
                    FAILURES.append("sanitizer report in " + path)
    finish(tmp, t0)


if __name__ == "__main__":
    main()
