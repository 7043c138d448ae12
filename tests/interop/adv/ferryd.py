"""Starting and stopping the ferryd under test (its own temporary
directory, a kernel-chosen loopback port, signalled only by its PID)."""
import os
import re
import signal
import subprocess
import sys
import time

from adv.sshpeer import EcdsaP256Key, Ed25519Key, RsaKey

BUILD = os.environ["FERRY_BUILD"]
FERRYD = os.path.join(BUILD, "ferryd")
USER = "tester"
PASSWORD = "adversarial pass word"
SANITIZER = re.compile(r"ERROR: AddressSanitizer|runtime error:|LeakSanitizer")


class Ferryd:
    def __init__(self, tmp, extra_conf=""):
        self.tmp = tmp
        self.root = os.path.join(tmp, "root")
        os.makedirs(self.root, exist_ok=True)
        self.log = os.path.join(tmp, "ferryd.log")
        self.key = Ed25519Key()
        self.other_key = Ed25519Key()  # never authorized
        self.ecdsa_key = EcdsaP256Key()
        self.rsa_key = RsaKey()
        ak = os.path.join(tmp, "authorized_keys")
        with open(ak, "w") as f:
            for k in (self.key, self.ecdsa_key, self.rsa_key):
                f.write(k.authorized_line())
        pwhash = subprocess.run([FERRYD, "--hash-password"], input=PASSWORD + "\n",
                                capture_output=True, text=True, check=True).stdout.strip()
        conf = os.path.join(tmp, "ferryd.conf")
        with open(conf, "w") as f:
            # NIST ECDH is off by default; no penalties or start-up limits
            # so that hundreds of refused connections do not lock us out.
            f.write("KexAlgorithms +ecdh-sha2-nistp256\n"
                    "PerSourcePenalties no\n"
                    "PerSourceMaxStartups none\n"
                    "MaxStartups 200\n"
                    "KbdInteractiveAuthentication yes\n"
                    "LoginGraceTime 4\n" + extra_conf)
        args = [FERRYD, "--listen", "127.0.0.1:0", "--root", self.root, "--user", USER,
                "--host-key", os.path.join(tmp, "host_ed25519"), "--authorized-keys", ak,
                "--password-hash", pwhash, "--config", conf]
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.logf, env=env)
        self.port = None
        for _ in range(600):
            with open(self.log, errors="replace") as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                raise AssertionError("ferryd exited at start:\n" + self.tail())
            time.sleep(0.05)
        if self.port is None:
            raise AssertionError("ferryd did not report listening")

    def tail(self, n=40):
        with open(self.log, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def sanitizer_report(self):
        with open(self.log, errors="replace") as f:
            text = f.read()
        m = SANITIZER.search(text)
        return text[max(0, m.start() - 2000):m.start() + 4000] if m else None

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.logf.close()
        return rc


def fail(msg, server=None):
    print("FAIL: " + msg, file=sys.stderr)
    if server is not None:
        print("--- ferryd log:\n" + server.tail(), file=sys.stderr)
    sys.exit(1)
