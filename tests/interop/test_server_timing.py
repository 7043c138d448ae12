#!/usr/bin/python3
"""ferryd answers a failed authentication the same way, and in the same
time, whether or not the user exists: no user enumeration by reply or by
timing.

One real user "tester" (a yescrypt password hash at cost 2, see
cheap_yescrypt; authorized_keys with 100 other keys and then the good one)
and an unknown user "qzxwvu" (same length). Two connections, one per user
name (a connection may not change its user). Requests, in random order:
  password  a wrong password (the same string for both users)
  sig       publickey signed with a key that is not authorized
  query     publickey query (no signature) for that key
each asked as a pair, once per user back to back (which user first is
random too), and every reply must be the same USERAUTH_FAILURE
("publickey,password", partial false).

Timing decision, per kind, on the paired differences (real minus unknown):
a leak is reported when BOTH their median is beyond LEAK_MS (1 ms for
password, 0.25 ms for publickey) AND a two-sided Wilcoxon signed-rank test
gives p < ALPHA (1e-3). Pairing cancels machine load that changes over
time; with no real difference p < ALPHA happens about once in a thousand
runs, and tiny systematic differences (seen: up to 0.05 ms at p=1e-5, as
two processes never run quite alike) never pass the LEAK_MS bar however
many samples are taken.

Power check (why a real 5 ms leak cannot pass): after every batch the test
centres the differences on their median and asks the same decision with
5 ms added, and subtracted; a kind is sampled further (up to
SAMPLE_BUDGET_S in all) until that shift would be flagged (or a leak
already is), and the test fails if it never gets there: the noise would
hide a 5 ms leak. Adding a constant is exactly what a fixed server delay
does.

Checked for real on the ASan build, with a fuzzer and other builds loading
both cores: usleep(5000) added to the known-user paths of cb_password_check
and cb_pubkey_allowed (src/ferryd/auth.c) fails all three kinds (median
differences +5.25..5.35 ms, p < 1e-29); the auth.c before the stand-in fix
fails all three too (password -17 ms: the dummy hash had the default cost,
not the user's; sig/query +0.42 ms: an unknown user's key was compared with
no key, a known user's with each of its 101); the fixed ferryd passed 6 runs
of 6 and 3 runs side by side (|median difference| <= 0.05 ms). About 5 s of
sampling on an idle machine.

Disconnect behaviour: with the default MaxAuthTries (6), one connection per
(user, kind) repeats its failing request: each gets 5 identical FAILUREs,
then DISCONNECT 14 "Too many authentication failures".

Sanity (so that the test can fail): the authorized key's query gets PK_OK
and the right password then authenticates "tester".

Run by CTest with FERRY_BUILD (ferryd) and FERRY_SRC set; uses a temporary
directory and kernel-chosen loopback ports, signals only its own ferryd.
"""
import base64
import ctypes
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


def signed_rank_p(d):
    """Two-sided p of the Wilcoxon signed-rank test on paired differences
    (zeros dropped; normal approximation with tie and continuity
    corrections, fine for samples of this size)."""
    nz = [x for x in d if x != 0]
    n = len(nz)
    if n == 0:
        return 1.0
    order = sorted(range(n), key=lambda i: abs(nz[i]))
    ranks = [0.0] * n
    ties = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(nz[order[j + 1]]) == abs(nz[order[i]]):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    wplus = sum(r for r, x in zip(ranks, nz) if x > 0)
    mu = n * (n + 1) / 4.0
    var = n * (n + 1) * (2 * n + 1) / 24.0 - ties / 48.0
    if var <= 0:
        return 1.0
    z = max(0.0, abs(wplus - mu) - 0.5) / math.sqrt(var)
    return math.erfc(z / math.sqrt(2))


def leak(kind, d):
    """(flagged, median difference in ms, p) for paired differences in
    seconds (real user minus unknown user)."""
    dm = statistics.median(d) * 1000.0
    p = signed_rank_p(d)
    return abs(dm) > LEAK_MS[kind] and p < ALPHA, dm, p


def power_ok(kind, d):
    """Would a POWER_SHIFT_MS difference be flagged, with this noise? The
    differences are centred on their median first (so that a difference
    already there neither helps nor hides), then shifted, both ways."""
    s = POWER_SHIFT_MS / 1000.0
    m = statistics.median(d)
    c = [x - m for x in d]
    return leak(kind, [x + s for x in c])[0] and leak(kind, [x - s for x in c])[0]


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


def cheap_yescrypt(password):
    """A yescrypt hash at cost 2 ("$y$j85$...", ~3 ms instead of ~20 ms at
    the default cost 5): more samples in the time, less noise per sample,
    and the dummy hash for unknown users must follow this cost."""
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setting = lib.crypt_gensalt(b"$y$", 2, None, 0)
    check(setting is not None, "crypt_gensalt failed")
    h = lib.crypt(password.encode(), setting)
    check(h is not None and h.startswith(b"$y$j85$"), "crypt failed: %r" % (h,))
    return h.decode()


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
    srv = Ferryd(tmp, "timing", user=REAL, pwhash=keys["pwhash"], keys=keys["authorized"],
                 conf=["PerSourcePenalties no", "MaxAuthTries 1000000", "LoginGraceTime 0"])
    servers.append(srv)
    conns = {REAL: RawClient(srv.port), UNKNOWN: RawClient(srv.port)}
    pairs = {k: [] for k in KINDS}  # (real seconds, unknown seconds)
    rng = random.Random()
    start = time.monotonic()
    todo = list(KINDS)
    while True:
        plan = [k for k in todo for _ in range(BATCH[k])]
        rng.shuffle(plan)
        for k in plan:
            order = [REAL, UNKNOWN]
            rng.shuffle(order)
            dt = {}
            for u in order:
                c = conns[u]
                replies, dt[u] = c.ask(make_request(c, u, k, keys))
                expect_failure(replies, "%s %s" % (u, k))
            pairs[k].append((dt[REAL], dt[UNKNOWN]))
        diffs = {k: [r - u for r, u in pairs[k]] for k in KINDS}
        # Done with a kind once it has MIN_SAMPLES pairs and either a leak
        # is already plain or the noise is known to be small enough to
        # show one; the next batches sample only the kinds not done.
        weak = [k for k in KINDS if not (leak(k, diffs[k])[0] or power_ok(k, diffs[k]))]
        todo = [k for k in KINDS if k in weak or len(pairs[k]) < MIN_SAMPLES[k]]
        if not todo:
            break
        check(time.monotonic() - start < SAMPLE_BUDGET_S,
              "timing noise too large: a %.0f ms difference in %s would not be detected "
              "within %.0f s of sampling (%s pairs)" %
              (POWER_SHIFT_MS, ", ".join(weak), SAMPLE_BUDGET_S,
               ", ".join("%s %d" % (k, len(pairs[k])) for k in KINDS)))
    bad = []
    for k in KINDS:
        real = [r for r, _ in pairs[k]]
        unknown = [u for _, u in pairs[k]]
        flagged, dm, p = leak(k, diffs[k])
        print("%-8s %d pairs: median real %.3f ms, unknown %.3f ms; median difference %+.3f ms, "
              "signed-rank p=%.3g%s" % (k, len(real), statistics.median(real) * 1000,
                                        statistics.median(unknown) * 1000, dm, p,
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
    srv = Ferryd(tmp, "tries", user=REAL, pwhash=keys["pwhash"], keys=keys["authorized"],
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
        keys = {"good": good, "bad": bad, "authorized": other_key_lines(N_OTHER_KEYS) + [good_pub],
                "pwhash": cheap_yescrypt(PASSWORD)}
        timing_phase(tmp, keys, servers)
        disconnect_phase(tmp, keys, servers)

    run_main(body, servers)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
