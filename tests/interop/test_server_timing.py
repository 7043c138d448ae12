#!/usr/bin/python3
"""ferryd answers a failed authentication the same way, and in the same
time, whether or not the user exists: no user enumeration by reply or by
timing.

One real user "tester" (a password; authorized_keys with 100 other keys and
then the good one) and an unknown user "qzxwvu" (same length). Two
connections, one per user name (a connection may not change its user),
each asks, interleaved at random:
  password  a wrong password (the same string for both users)
  sig       publickey signed with a key that is not authorized
  query     publickey query (no signature) for that key
and every reply must be the same USERAUTH_FAILURE ("publickey,password",
partial false). The round-trip times of each kind are compared between the
two users.

Timing decision, per kind: a leak is reported when BOTH the medians differ
by more than LEAK_MS (1 ms for password, 0.25 ms for publickey) AND a
two-sided Mann-Whitney U test gives p < ALPHA (1e-3). The random
interleaving makes machine load hit both users alike, so with no real
difference p < ALPHA happens about once in a thousand runs, and tiny
differences of bookkeeping never pass the LEAK_MS bar however many samples
are taken.

Power check (why a real 5 ms leak cannot pass): after every batch the test
centres each side's samples on its own median and asks the same decision
with 5 ms added to one side, both ways; sampling goes on (up to
SAMPLE_BUDGET_S) until, for every kind, that shift would be flagged (or a
leak already is), and the test fails if it never gets there: the noise
would hide a 5 ms leak. Adding a constant to every sample is exactly what a
fixed server delay does.

Checked for real (ASan build, load average ~18 on 2 cores from other
builds and a fuzzer): usleep(5000) added to the known-user paths of
cb_password_check and cb_pubkey_allowed (src/ferryd/auth.c) made the test
fail on all three kinds (password +7.7 ms, p=3e-6; sig/query +5.3 ms,
p<1e-70); the ferryd before the stand-in-key fix failed on sig and query
(+0.53 ms, p<1e-70: an unknown user's key was compared with no key, a known
user's with each of its 101 keys); the fixed ferryd passed 5 runs of 5
(|diff| <= 2.1 ms password, <= 0.04 ms publickey, p >= 0.04).

Disconnect behaviour: with the default MaxAuthTries (6), one connection per
(user, kind) repeats its failing request: each gets 5 identical FAILUREs,
then DISCONNECT 14 "Too many authentication failures".

Sanity (so that the test can fail): the authorized key's query gets PK_OK
and the right password then authenticates "tester".

Run by CTest with FERRY_BUILD (ferryd) and FERRY_SRC set; uses a temporary
directory and kernel-chosen loopback ports, signals only its own ferryd.
"""
import base64
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

import paramiko
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyferryd import (MSG_USERAUTH_FAILURE, MSG_USERAUTH_PK_OK, MSG_USERAUTH_SUCCESS,  # noqa: E402
                      Ferryd, RawClient, check, new_key, run_main)

REAL, UNKNOWN = "tester", "qzxwvu"
PASSWORD = "the right pass phrase"
WRONG = "not the pass phrase!!"
KINDS = ("password", "sig", "query")
# A difference smaller than this is not reported, however significant:
# the password check itself varies by milliseconds, publickey denials take
# well under a millisecond.
LEAK_MS = {"password": 1.0, "sig": 0.25, "query": 0.25}
ALPHA = 1e-3
POWER_SHIFT_MS = 5.0
BATCH = {"password": 60, "sig": 100, "query": 100}
MIN_SAMPLES = {"password": 150, "sig": 250, "query": 250}
SAMPLE_BUDGET_S = 55.0
N_OTHER_KEYS = 100  # the real user's authorized_keys: 100 other keys, then the good one
DISCONNECT_CODE = 14  # SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE


def mann_whitney_p(a, b):
    """Two-sided p of the Mann-Whitney U test (normal approximation with
    tie and continuity corrections; fine for samples of this size)."""
    n1, n2 = len(a), len(b)
    n = n1 + n2
    pooled = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    r1 = 0.0
    ties = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        rank = (i + j) / 2.0 + 1.0
        r1 += rank * sum(1 for k in range(i, j + 1) if pooled[k][1] == 0)
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    u1 = r1 - n1 * (n1 + 1) / 2.0
    mu = n1 * n2 / 2.0
    sigma = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = max(0.0, abs(u1 - mu) - 0.5) / sigma
    return math.erfc(z / math.sqrt(2))


def leak(kind, a, b):
    """(flagged, median difference in ms, p) for two lists of seconds."""
    dm = (statistics.median(a) - statistics.median(b)) * 1000.0
    p = mann_whitney_p(a, b)
    return abs(dm) > LEAK_MS[kind] and p < ALPHA, dm, p


def power_ok(kind, a, b):
    """Would a POWER_SHIFT_MS difference be flagged, with this noise? Each
    side is centred on its own median first (so that a difference already
    there neither helps nor hides), then one is shifted, both ways."""
    s = POWER_SHIFT_MS / 1000.0
    ma, mb = statistics.median(a), statistics.median(b)
    ca, cb = [x - ma for x in a], [x - mb for x in b]
    return leak(kind, ca, [x + s for x in cb])[0] and leak(kind, [x + s for x in ca], cb)[0]


def other_key_lines(n):
    """n authorized_keys lines of fresh ed25519 keys (nobody holds them)."""
    out = []
    for i in range(n):
        raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw,
                                                                     PublicFormat.Raw)
        m = paramiko.Message()
        m.add_string("ssh-ed25519")
        m.add_string(raw)
        out.append("ssh-ed25519 %s other-%d\n" % (base64.b64encode(m.asbytes()).decode(), i))
    return out


def make_request(c, user, kind, keys):
    if kind == "password":
        return c.password_request(user, WRONG)
    return c.pubkey_request(user, keys["bad"], sign=(kind == "sig"))


EXPECTED_FAILURE = None


def expect_failure(replies, what):
    check(len(replies) == 1 and replies[0] is not None, "%s: replies %r" % (what, replies))
    ptype, payload = replies[0]
    check(ptype == MSG_USERAUTH_FAILURE, "%s: reply type %d, not FAILURE" % (what, ptype))
    check(payload == EXPECTED_FAILURE, "%s: FAILURE %r, expected %r" % (what, payload,
                                                                          EXPECTED_FAILURE))


def timing_phase(tmp, keys, servers):
    srv = Ferryd(tmp, "timing", user=REAL, password=PASSWORD, keys=keys["authorized"],
                 conf=["PerSourcePenalties no", "MaxAuthTries 1000000", "LoginGraceTime 0"])
    servers.append(srv)
    conns = {REAL: RawClient(srv.port), UNKNOWN: RawClient(srv.port)}
    samples = {(u, k): [] for u in conns for k in KINDS}
    rng = random.Random()
    start = time.monotonic()
    while True:
        plan = [(u, k) for u in conns for k in KINDS for _ in range(BATCH[k])]
        rng.shuffle(plan)
        for u, k in plan:
            c = conns[u]
            replies, dt = c.ask(make_request(c, u, k, keys))
            expect_failure(replies, "%s %s" % (u, k))
            samples[(u, k)].append(dt)
        enough = all(len(samples[(REAL, k)]) >= MIN_SAMPLES[k] for k in KINDS)
        # Enough samples for every kind: a leak is already plain, or the
        # noise is known to be small enough to show one.
        powered = all(leak(k, samples[(REAL, k)], samples[(UNKNOWN, k)])[0] or
                      power_ok(k, samples[(REAL, k)], samples[(UNKNOWN, k)]) for k in KINDS)
        if enough and powered:
            break
        check(time.monotonic() - start < SAMPLE_BUDGET_S,
              "timing noise too large: a %.0f ms difference would not be detected within "
              "%.0f s of sampling" % (POWER_SHIFT_MS, SAMPLE_BUDGET_S))
    bad = []
    for k in KINDS:
        a, b = samples[(REAL, k)], samples[(UNKNOWN, k)]
        flagged, dm, p = leak(k, a, b)
        print("%-8s n=%d+%d median real %.3f ms, unknown %.3f ms, diff %+.3f ms, "
              "Mann-Whitney p=%.3g%s" % (k, len(a), len(b), statistics.median(a) * 1000,
                                          statistics.median(b) * 1000, dm, p,
                                          "  <-- LEAK" if flagged else ""))
        if flagged:
            bad.append(k)
    check(not bad, "timing differs between the real and the unknown user: %s" % ", ".join(bad))
    print("ok - identical FAILURE replies and no timing difference (%.0f s of sampling)" %
          (time.monotonic() - start))

    # Sanity: the setup is what the test thinks it is.
    c = conns[REAL]
    replies, _ = c.ask(c.pubkey_request(REAL, keys["good"], sign=False))
    check(replies[0] is not None and replies[0][0] == MSG_USERAUTH_PK_OK,
          "authorized key query: %r" % (replies,))
    replies, _ = c.ask(c.password_request(REAL, PASSWORD))
    check(replies[0] is not None and replies[0][0] == MSG_USERAUTH_SUCCESS,
          "right password: %r" % (replies,))
    print("ok - the authorized key gets PK_OK and the right password authenticates")
    for c in conns.values():
        c.close()
    srv.stop()


def disconnect_phase(tmp, keys, servers):
    srv = Ferryd(tmp, "tries", user=REAL, password=PASSWORD, keys=keys["authorized"],
                 conf=["PerSourcePenalties no"])
    servers.append(srv)
    seen = {}
    for u in (REAL, UNKNOWN):
        for k in KINDS:
            c = RawClient(srv.port)
            failures = 0
            while True:
                replies, _ = c.ask(make_request(c, u, k, keys))
                if replies[-1] is None:
                    break
                expect_failure(replies, "%s %s (tries)" % (u, k))
                failures += 1
                check(failures <= 10, "%s %s: never disconnected" % (u, k))
            check(c.wait_closed(), "%s %s: link still up" % (u, k))
            seen[(u, k)] = (failures, c.t.disconnect_msg)
            c.close()
    first = seen[(REAL, "password")]
    for key, v in seen.items():
        check(v == first, "disconnect behaviour differs: %s %r vs real password %r" %
              (key, v, first))
    check(first[0] == 5 and first[1] is not None and first[1][0] == DISCONNECT_CODE,
          "after 5 failures a DISCONNECT %d is expected: %r" % (DISCONNECT_CODE, first))
    print("ok - every kind, both users: %d FAILUREs then DISCONNECT %r" % first)
    srv.stop()


def main():
    global EXPECTED_FAILURE
    m = paramiko.Message()
    m.add_string("publickey,password")
    m.add_boolean(False)
    EXPECTED_FAILURE = m.asbytes()
    tmp = tempfile.mkdtemp(prefix="ferry-timing.")
    servers = []

    def body():
        good, good_pub = new_key(tmp, "id_good")
        bad, _ = new_key(tmp, "id_bad")
        keys = {"good": good, "bad": bad, "authorized": other_key_lines(N_OTHER_KEYS) + [good_pub]}
        timing_phase(tmp, keys, servers)
        disconnect_phase(tmp, keys, servers)

    run_main(body, servers)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
