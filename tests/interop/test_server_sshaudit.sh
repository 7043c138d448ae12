#!/usr/bin/env bash
# ssh-audit against ferryd's default offer: no algorithm may be flagged
# as a failure (warnings are printed but allowed).
. "$FERRY_SRC/tests/interop/lib.sh"
need ssh-audit timeout

ferryd_start
rc=0
timeout 300 ssh-audit -n -b -2 -p "$FERRYD_PORT" 127.0.0.1 >"$T/audit.txt" 2>&1 || rc=$?
cat "$T/audit.txt"
# exit status: 0 good, 1 warnings, 2 failures, 3 unknown / not reachable
[ $rc -le 1 ] || fail "ssh-audit reports failures (status $rc)"
grep -q "(gen) banner: SSH-2.0-" "$T/audit.txt" || fail "ssh-audit did not see our banner"
ok "ssh-audit: no failures (status $rc)"
ferryd_stop
