#!/usr/bin/env bash
# ssh-audit against ferryd:
#  1. default offer: `ssh-audit -P tests/interop/ssh-audit-policy.txt`
#     passes (exact algorithm lists, group exchange modulus), and the plain
#     scan flags no algorithm as a failure (warnings are printed, allowed);
#  2. so that both checks can fail: a ferryd configured with weaker extras
#     (NIST-curve key exchange, an ECDSA host key, SHA-1 ssh-rsa host key
#     signatures) fails the policy, and the plain scan shows [fail] lines.
. "$FERRY_SRC/tests/interop/lib.sh"
need ssh-audit ssh-keygen timeout
POLICY="$FERRY_SRC/tests/interop/ssh-audit-policy.txt"

# Plain scan into $T/$1.txt; its exit status into $T/$1.rc.
scan() {
    local rc=0
    timeout 300 ssh-audit -n -b -2 -p "$FERRYD_PORT" 127.0.0.1 >"$T/$1.txt" 2>&1 || rc=$?
    echo $rc >"$T/$1.rc"
}

# Policy scan into $T/$1.txt; its exit status into $T/$1.rc.
policy_scan() {
    local rc=0
    timeout 300 ssh-audit -n -P "$POLICY" -p "$FERRYD_PORT" 127.0.0.1 >"$T/$1.txt" 2>&1 || rc=$?
    echo $rc >"$T/$1.rc"
}

# --- 1. the defaults
ferryd_start
policy_scan policy
cat "$T/policy.txt"
# exit status (ssh_audit/exitcodes.py): 0 good, 1 connection error,
# 2 warnings, 3 failures
[ "$(cat "$T/policy.rc")" -eq 0 ] || fail "ssh-audit policy scan: status $(cat "$T/policy.rc")"
grep -q "Result: .*Passed" "$T/policy.txt" || fail "ssh-audit policy: no 'Passed'"
ok "ssh-audit policy $(basename "$POLICY") passes"

scan audit
cat "$T/audit.txt"
rc=$(cat "$T/audit.rc")
[ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || fail "ssh-audit status $rc (3 = failures, 1 = no connection)"
if grep -F -- "-- [fail]" "$T/audit.txt"; then
    fail "ssh-audit flags an algorithm as a failure"
fi
grep -q "(gen) banner: SSH-2.0-" "$T/audit.txt" || fail "ssh-audit did not see our banner"
grep -q "(kex) curve25519-sha256 " "$T/audit.txt" || fail "ssh-audit did not list our key exchanges"
ok "ssh-audit: no failures (status $rc)"
ferryd_stop

# --- 2. weaker extras: both checks must notice
ssh-keygen -q -t ecdsa -b 256 -N '' -f "$T/host_ecdsa256"
ssh-keygen -q -t rsa -b 3072 -N '' -f "$T/host_rsa"
cat >"$T/weak.conf" <<'CONF'
KexAlgorithms +ecdh-sha2-nistp256,ecdh-sha2-nistp384
HostKeyAlgorithms +ssh-rsa
CONF
ferryd_start --config "$T/weak.conf"
policy_scan weak-policy
cat "$T/weak-policy.txt"
[ "$(cat "$T/weak-policy.rc")" -ne 0 ] || fail "the policy passes a ferryd with weaker extras"
grep -q "Result: .*Failed" "$T/weak-policy.txt" || fail "weaker ferryd: no 'Failed' in the policy scan"
grep -q "Key exchanges did not match" "$T/weak-policy.txt" ||
    fail "weaker ferryd: the policy scan did not notice the NIST-curve key exchange"
grep -q "Host keys did not match" "$T/weak-policy.txt" ||
    fail "weaker ferryd: the policy scan did not notice the extra host keys"
ok "the policy fails a ferryd with NIST curves, ECDSA and ssh-rsa host keys"

scan weak
cat "$T/weak.txt"
[ "$(cat "$T/weak.rc")" -eq 3 ] || fail "weaker ferryd: ssh-audit status $(cat "$T/weak.rc"), not 3"
grep -F -- "(kex) ecdh-sha2-nistp256 -- [fail]" "$T/weak.txt" >/dev/null ||
    fail "weaker ferryd: the plain scan did not flag ecdh-sha2-nistp256"
ok "the plain scan flags the weaker extras as [fail]"
ferryd_stop
