#!/usr/bin/env bash
# test_server_keyscmd.sh: ferryd's AuthorizedKeysCommand (as sshd's), with
# OpenSSH's sftp as the client. The users have no key file; a script
# prints their keys and records the arguments it was given.
#  1. the key it prints logs in (put/get compared); the arguments are the
#     expanded %u %t %f %k %h (compared with ssh-keygen's fingerprint and
#     the .pub file), and it ran once for the query and the signature;
#  2. a key it does not print is refused; a from= in its output is honoured;
#  3. a command that exits non-zero, prints more than 1 MiB, or does not
#     exit (killed after 10 s, also when it closed its output after
#     printing the key) refuses the key, logged;
#  4. ferryd -t refuses a relative command path and an unknown %-token.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen cmp timeout
for u in kc other; do
    ssh-keygen -q -t ed25519 -N '' -C "$u" -f "$T/key_$u"
done
for u in kc kcfrom fails big slow closer; do mkdir -p "$T/root_$u"; done
cat >"$T/keyscmd" <<SH
#!/bin/sh
echo "\$*" >>"$T/keyscmd.log"
case "\$1" in
kc) cat "$T/key_kc.pub" ;;
kcfrom) echo "from=\"10.0.0.0/8\" \$(cat "$T/key_kc.pub")" ;;
fails) cat "$T/key_kc.pub"; exit 3 ;;
big) cat "$T/key_kc.pub"; head -c 1100000 /dev/zero | tr '\0' '#' ;;
slow) sleep 30 ;;
closer) cat "$T/key_kc.pub"; exec >&-; sleep 30 ;;
esac
SH
chmod 755 "$T/keyscmd"
{
    echo "PerSourcePenalties no"
    echo "AuthorizedKeysCommand $T/keyscmd %u %t %f \"%k\" %h"
    echo "AuthorizedKeysCommandUser nobody"
    for u in kc kcfrom fails big slow closer; do
        printf 'User %s\n    Root %s\n' "$u" "$T/root_$u"
    done
} >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
make_file "$T/data" 300000

# as USER KEY: OpenSSH's sftp puts and gets with $T/key_KEY
as() {
    printf '%s\n' "put $T/data up.bin" "get up.bin $T/$1.got" >"$T/batch"
    ossh_sftp -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/key_$2" \
        -b "$T/batch" "$1@127.0.0.1" >"$T/$1.out" 2>&1
}

# ---- 1. the printed key logs in ----
as kc kc || { cat "$T/kc.out" >&2; fail "kc: the command's key refused"; }
same "$T/data" "$T/root_kc/up.bin"
same "$T/data" "$T/kc.got"
fp=$(ssh-keygen -l -E sha256 -f "$T/key_kc.pub" | awk '{print $2}')
b64=$(cut -d' ' -f2 "$T/key_kc.pub")
want="kc ssh-ed25519 $fp $b64 $T/root_kc"
[ "$(cat "$T/keyscmd.log")" = "$want" ] ||
    fail "kc: the command got \"$(cat "$T/keyscmd.log")\", want \"$want\" (once)"
ok "AuthorizedKeysCommand: its key logs in, put/get equal; %u %t %f %k %h expanded; run once per key"

# ---- 2. other keys, from= ----
: >"$T/keyscmd.log"
if as kc other; then fail "kc: a key the command does not print logged in"; fi
[ "$(wc -l <"$T/keyscmd.log")" = 1 ] || fail "kc/other: the command ran $(wc -l <"$T/keyscmd.log") times"
if as kcfrom kc; then fail "kcfrom: from=\"10.0.0.0/8\" admitted 127.0.0.1"; fi
[ ! -e "$T/root_kcfrom/up.bin" ] || fail "kcfrom: a file was written"
ok "a key the command does not print is refused; from= in its output honoured"

# ---- 3. failing commands ----
if as fails kc; then fail "fails: a command exiting 3 let its key in"; fi
grep -q "AuthorizedKeysCommand $T/keyscmd for fails: exited non-zero" "$T/ferryd.log" ||
    fail "fails: not logged"
if as big kc; then fail "big: more than 1 MiB of output let its key in"; fi
grep -q "AuthorizedKeysCommand $T/keyscmd for big: killed, or printed more than 1 MiB" "$T/ferryd.log" ||
    fail "big: not logged"
t0=$(date +%s)
if as slow kc; then fail "slow: a hanging command let its key in"; fi
t1=$(date +%s)
[ $((t1 - t0)) -ge 9 ] && [ $((t1 - t0)) -le 40 ] || fail "slow: refused after $((t1 - t0)) s, not about 10"
grep -q "AuthorizedKeysCommand $T/keyscmd for slow: killed" "$T/ferryd.log" || fail "slow: not logged"
# the key printed, the output closed, the command still running: killed too
t0=$(date +%s)
if as closer kc; then fail "closer: a command that never exited let its key in"; fi
t1=$(date +%s)
[ $((t1 - t0)) -ge 9 ] && [ $((t1 - t0)) -le 40 ] || fail "closer: refused after $((t1 - t0)) s, not about 10"
grep -q "AuthorizedKeysCommand $T/keyscmd for closer: killed" "$T/ferryd.log" || fail "closer: not logged"
ok "a command exiting non-zero, printing over 1 MiB, or not exiting (killed after 10 s, also after closing its output) refuses the key, logged"
ferryd_stop

# ---- 4. bad commands are configuration errors ----
for bad in "keyscmd %u" "$T/keyscmd %x" "$T/keyscmd \"%u"; do
    sed "s|^AuthorizedKeysCommand .*|AuthorizedKeysCommand $bad|" "$T/ferryd.conf" >"$T/bad.conf"
    if "$FERRYD" -t --config "$T/bad.conf" >"$T/bad.out" 2>&1; then
        fail "ferryd -t accepted AuthorizedKeysCommand $bad"
    fi
    grep -q "AuthorizedKeysCommand" "$T/bad.out" || fail "bad command \"$bad\": $(cat "$T/bad.out")"
done
ok "ferryd -t refuses a relative command, an unknown %-token, an open quote"
