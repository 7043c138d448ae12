#!/usr/bin/env bash
# ssh-audit against ferryd's default offer: no algorithm may be flagged
# as a failure (warnings are printed but allowed).
. "$FERRY_SRC/tests/interop/lib.sh"
need ssh-audit timeout

ferryd_start
rc=0
timeout 300 ssh-audit -n -b -2 -p "$FERRYD_PORT" 127.0.0.1 >"$T/audit.txt" 2>&1 || rc=$?
cat "$T/audit.txt"
# exit status (ssh_audit/exitcodes.py): 0 good, 1 connection error,
# 2 warnings, 3 failures
[ $rc -eq 0 ] || [ $rc -eq 2 ] || fail "ssh-audit status $rc (3 = failures, 1 = no connection)"
if grep -F -- "-- [fail]" "$T/audit.txt"; then
    fail "ssh-audit flags an algorithm as a failure"
fi
grep -q "(gen) banner: SSH-2.0-" "$T/audit.txt" || fail "ssh-audit did not see our banner"
ok "ssh-audit: no failures (status $rc)"
ferryd_stop
