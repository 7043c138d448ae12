#!/usr/bin/env bash
# 200 concurrent sessions against one ferryd. One python process (paramiko,
# one thread per session) opens every session first, holds them all open
# at a barrier, then each session uploads three files of its own (1 kB,
# 64 kB, 256 kB + 1, random), downloads them again and lists its
# directory; all sessions are held open once more while the peak is
# measured, then closed. Every byte must be right (the downloaded copies
# and the files on disk), no session may fail, and ferryd must answer
# for all of them at the same time.
#
# Memory: a sampler thread sums the PSS and RSS of ferryd and all its
# session processes (/proc/PID/smaps_rollup) every 0.2 s; the peak and the
# peak per session are printed. With the ASan build (CI) the figures are
# inflated by the sanitizer runtime; bench/memory.sh measures a release
# build.
#
# Then overload: ferryd with RLIMIT_NOFILE 32 and 60 connections held
# open must neither spin nor die, and serves a session once they close.
#
# ferryd's limits for the test: MaxStartups 400 (all 200 may be
# unauthenticated at once), PerSourceMaxStartups none (all come from
# 127.0.0.1), no PerSourcePenalties.
. "$FERRY_SRC/tests/interop/lib.sh"
need /usr/bin/python3 ssh-keygen timeout
N=${FERRY_LOAD_SESSIONS:-200}

make_user_key ed25519
cat >"$T/ferryd.conf" <<CONF
MaxStartups 400
PerSourceMaxStartups none
PerSourcePenalties no
MaxSessions 4
LoginGraceTime 150
CONF
ferryd_start --config "$T/ferryd.conf"

cat >"$T/load.py" <<'PY'
import hashlib, os, sys, threading, time, traceback
import paramiko

port, key, user, root, n, ferryd_pid = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                                        sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
pkey = paramiko.Ed25519Key.from_private_key_file(key)
SIZES = (1000, 65536, 262145)
opened = threading.Barrier(n + 1, timeout=150)
done = threading.Barrier(n + 1, timeout=150)
release = threading.Event()
errors = []
lock = threading.Lock()


def tree(pid):
    out = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return out
    for k in kids:
        out += tree(k)
    return out


def mem():
    pss = rss = 0
    procs = tree(ferryd_pid)
    for p in procs:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            pass
    return pss, rss, len(procs) - 1


peak = {"pss": 0, "rss": 0, "sessions": 0}
sampling = threading.Event()


def sampler():
    while not sampling.is_set():
        pss, rss, kids = mem()
        if pss > peak["pss"]:
            peak.update(pss=pss, rss=rss, sessions=kids)
        time.sleep(0.2)


def session(i):
    t = None
    try:
        t = paramiko.Transport(("127.0.0.1", port))
        t.banner_timeout = t.auth_timeout = 150
        t.connect(username=user, pkey=pkey)
        sftp = paramiko.SFTPClient.from_transport(t)
        d = f"s{i:03d}"
        sftp.mkdir(d)
        opened.wait()
        blobs = {f"{d}/f{j}.bin": os.urandom(sz) for j, sz in enumerate(SIZES)}
        for name, data in blobs.items():
            with sftp.open(name, "wb") as f:
                f.set_pipelined(True)
                f.write(data)
        for name, data in blobs.items():
            with sftp.open(name, "rb") as f:
                f.prefetch()
                got = f.read()
            if got != data:
                raise AssertionError(f"{name}: download differs ({len(got)} bytes)")
            with open(os.path.join(root, name), "rb") as f:
                if f.read() != data:
                    raise AssertionError(f"{name}: file on disk differs")
        if sorted(sftp.listdir(d)) != sorted(n.split("/")[1] for n in blobs):
            raise AssertionError(f"{d}: listing {sftp.listdir(d)}")
        done.wait()
        release.wait(150)
        sftp.close()
    except Exception as e:
        with lock:
            errors.append(f"session {i}: {type(e).__name__}: {e}")
            if len(errors) <= 3:
                traceback.print_exc()
        for b in (opened, done):
            b.abort()
    finally:
        if t is not None:
            t.close()


threading.Thread(target=sampler, daemon=True).start()
t0 = time.monotonic()
threads = [threading.Thread(target=session, args=(i,)) for i in range(n)]
for th in threads:
    th.start()
try:
    opened.wait()
    t1 = time.monotonic()
    print(f"{n} sessions open at once after {t1 - t0:.1f} s", flush=True)
    done.wait()
    t2 = time.monotonic()
    pss, rss, kids = mem()
    if pss > peak["pss"]:
        peak.update(pss=pss, rss=rss, sessions=kids)
    print(f"{n} sessions transferred {n * len(SIZES)} files each way in {t2 - t1:.1f} s, "
          f"{kids} session processes alive", flush=True)
    if kids < n:
        errors.append(f"only {kids} session processes while {n} sessions are open")
except threading.BrokenBarrierError:
    errors.append("a session failed: the barrier broke")
release.set()
for th in threads:
    th.join(160)
sampling.set()
if errors:
    print(f"{len(errors)} failures:", *errors[:10], sep="\n", file=sys.stderr)
    sys.exit(1)
print(f"peak ferryd memory: PSS {peak['pss']} kB, RSS {peak['rss']} kB "
      f"({peak['sessions']} session processes)")
print(f"per session: PSS {peak['pss'] // n} kB, RSS {peak['rss'] // n} kB")
PY

start=$(date +%s)
rc=0
timeout 600 /usr/bin/python3 "$T/load.py" "$FERRYD_PORT" "$T/id_ed25519" "$TEST_USER" "$T/root" \
    "$N" "$FERRYD_PID" >"$T/load.out" 2>&1 || rc=$?
head -n 60 "$T/load.out"
[ "$rc" -eq 0 ] || fail "load run failed (status $rc)"
grep -q "^per session:" "$T/load.out" || fail "no memory figures"
ok "$N concurrent sessions, every byte right, none failed, $(($(date +%s) - start)) s"

# every session's files on disk, nothing else (no temporary file left)
files=$(find "$T/root" -type f | wc -l)
[ "$files" -eq $((N * 3)) ] || fail "$files files on disk, expected $((N * 3))"
ferryd_stop
ok "ferryd stops cleanly after the load"

# Beyond the descriptor limit: ferryd with RLIMIT_NOFILE 32 gets 60 held
# connections. It must refuse what it cannot take without spinning (less
# than 1 s of CPU over 3 s) or dying, and serve normally once they close.
printf '#!/bin/sh\nulimit -n 32\nexec "%s" "$@"\n' "$FERRY_BUILD/ferryd" >"$T/ferryd-nofile"
chmod 755 "$T/ferryd-nofile"
# shellcheck disable=SC2034 # read by ferryd_start (lib.sh)
FERRYD="$T/ferryd-nofile"
rm -rf "${T:?}/root"/s[0-9]*
ferryd_start --config "$T/ferryd.conf"
cat >"$T/flood.py" <<'PY'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
def cpu():
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
time.sleep(0.5)
c0 = cpu()
time.sleep(3)
used = cpu() - c0
fds = len(os.listdir(f"/proc/{pid}/fd"))
print(f"listener: {used:.2f} s CPU in 3 s with 60 connections held, {fds} descriptors open")
for s in socks:
    s.close()
sys.exit(0 if used < 1.0 else 1)
PY
/usr/bin/python3 "$T/flood.py" "$FERRYD_PORT" "$FERRYD_PID" || fail "the listener spins at the descriptor limit"
kill -0 "$FERRYD_PID" || fail "ferryd died at the descriptor limit"
grep -q "Too many open files" "$T/ferryd.log" || fail "the descriptor limit was not reached"
sleep 1
/usr/bin/python3 "$T/load.py" "$FERRYD_PORT" "$T/id_ed25519" "$TEST_USER" "$T/root" 1 "$FERRYD_PID" \
    >"$T/after.out" 2>&1 || { cat "$T/after.out" >&2; fail "no session after the flood"; }
ferryd_stop
ok "at the descriptor limit: no spinning, no crash, a session afterwards works"
