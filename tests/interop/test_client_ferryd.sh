#!/usr/bin/env bash
# test_client_ferryd.sh: ferry against ferryd, compared with OpenSSH's
# sftp against the same ferryd (same batch, outputs and trees identical),
# then one session for every algorithm both ferry and ferryd support.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"
. "$FERRY_SRC/tests/interop/client_lib.sh"

make_user_key ed25519
make_host_keys
cat >"$T/ferryd.conf" <<CONF
KexAlgorithms $("$FERRYD" -Q kex | paste -sd, -)
Ciphers $("$FERRYD" -Q cipher | paste -sd, -)
MACs $("$FERRYD" -Q mac | paste -sd, -)
HostKeyAlgorithms $("$FERRYD" -Q key | paste -sd, -)
PerSourcePenalties no
CONF
ferryd_start --config "$T/ferryd.conf"

OPTS="-F none -P $FERRYD_PORT -o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=yes \
-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i $T/id_ed25519"
run_pair ferryd "timeout 300 '$FERRY' $OPTS" "timeout 300 sftp $OPTS -o GlobalKnownHostsFile=/dev/null" \
    tester@127.0.0.1 "" "$T/root"
# the batch's paths are /ferryd-WHO/remote inside the jail
ok "batch against ferryd: same as OpenSSH sftp"

for kind in cipher mac kex key; do
    case $kind in
    cipher) opt=Ciphers ;; mac) opt=MACs ;; kex) opt=KexAlgorithms ;; key) opt=HostKeyAlgorithms ;;
    esac
    n=0
    for alg in $("$FERRY" -Q $kind); do
        "$FERRYD" -Q $kind | grep -qx "$alg" || continue
        extra=""
        [ $kind = mac ] && extra="-o Ciphers=aes128-ctr"
        echo "ls -1 /" | timeout 60 "$FERRY" $OPTS -o "$opt=$alg" $extra -b - tester@127.0.0.1 \
            >"$T/m.out" 2>"$T/m.err" || { cat "$T/m.err" >&2; fail "$opt=$alg"; }
        n=$((n + 1))
    done
    [ $n -gt 0 ] || fail "no $kind tried"
    ok "$opt: $n algorithms against ferryd"
done

# files up to 1 MiB (5 reads, 8 writes) travel in pipelined batches both
# ways: every OPEN of the batch before its first CLOSE, as ferryd's audit
# trail shows; 700 KiB takes three reads and six writes each
mkdir -p "$T/mid"
for i in 1 2 3; do make_file "$T/mid/m$i" 716800; done
printf 'put -r %s/mid /mid\nget -r /mid %s/mid.back\n' "$T" "$T" >"$T/mid.batch"
timeout 60 "$FERRY" $OPTS -b "$T/mid.batch" tester@127.0.0.1 >/dev/null 2>"$T/mid.err" ||
    { cat "$T/mid.err" >&2; fail "put -r / get -r of 700 KiB files"; }
diff -r "$T/mid" "$T/mid.back" >/dev/null || fail "700 KiB files differ after put -r / get -r"
ops=$(grep -o 'op=\(open\|close\) path=/mid/m[0-9]' "$T/ferryd.log" | cut -d' ' -f1 | paste -sd' ')
[ "$ops" = "op=open op=open op=open op=close op=close op=close op=open op=open op=open op=close op=close op=close" ] ||
    fail "700 KiB files not batched (audit order: $ops)"
ok "recursive put/get of 700 KiB files in batches (all opens before the first close)"

# ssh_config RekeyLimit: a 3 MB upload with a 256 KiB limit re-exchanges
# keys several times, where the default (1 GiB) does it once (ferryd's
# audit counts them at the session's end; the limit is checked between
# packets, and what was queued while keys changed goes out after, so not
# exactly every 256 KiB)
make_file "$T/rk.bin" 3000000
printf 'put %s /rk.bin\n' "$T/rk.bin" >"$T/rk.batch"
timeout 60 "$FERRY" $OPTS -o "RekeyLimit 256K" -b "$T/rk.batch" tester@127.0.0.1 >/dev/null \
    2>"$T/rk.err" || { cat "$T/rk.err" >&2; fail "put with RekeyLimit 256K"; }
same "$T/rk.bin" "$T/root/rk.bin"
kex=$(grep 'event=session_end' "$T/ferryd.log" | tail -1 | sed -n 's/.* key_exchanges=\([0-9]*\).*/\1/p')
[ "${kex:-0}" -ge 3 ] || fail "RekeyLimit 256K: only ${kex:-0} key exchanges for 3 MB"
ok "RekeyLimit from ssh_config: $kex key exchanges during a 3 MB put"

# -s: the subsystem to open (sftp's flag); an unknown one is refused
timeout 60 "$FERRY" $OPTS -v -s sftp -X nrequests=8 -b /dev/null tester@127.0.0.1 >/dev/null \
    2>"$T/sub.err" || fail "-s sftp -X nrequests=8 failed"
grep -qF "Authenticated to 127.0.0.1 ([127.0.0.1]:$FERRYD_PORT) using \"publickey\"." "$T/sub.err" ||
    fail "-v: no OpenSSH-style 'Authenticated to' line: $(cat "$T/sub.err")"
if timeout 60 "$FERRY" $OPTS -s nosuch -b /dev/null tester@127.0.0.1 >/dev/null 2>"$T/sub.err"; then
    fail "an unknown subsystem was accepted"
fi
grep -q "subsystem request failed" "$T/sub.err" || fail "-s nosuch: $(cat "$T/sub.err")"
ok "-s subsystem and -X nrequests= as sftp's"

# -S program: OpenSSH's ssh carries the SSH (a wrapper records the
# arguments ferry gives it, as OpenSSH's sftp gives them), ferry the SFTP
printf '#!/bin/sh\nprintf "%%s\\n" "$@" >"%s/sshwrap.args"\nexec ssh "$@"\n' "$T" >"$T/sshwrap"
chmod +x "$T/sshwrap"
make_file "$T/sp.bin" 2000000
printf 'put %s /sp.bin\nget /sp.bin %s\n' "$T/sp.bin" "$T/sp.back" >"$T/sp.batch"
osess() { grep -c 'event=session_start.*client="\?SSH-2.0-OpenSSH' "$T/ferryd.log" || true; }
n0=$(osess)
timeout 60 "$FERRY" -S "$T/sshwrap" $OPTS -o GlobalKnownHostsFile=/dev/null -b "$T/sp.batch" \
    tester@127.0.0.1 >/dev/null 2>"$T/sp.err" || { cat "$T/sp.err" >&2; fail "-S ssh"; }
same "$T/sp.bin" "$T/root/sp.bin"
same "$T/sp.bin" "$T/sp.back"
[ "$(osess)" = $((n0 + 1)) ] || fail "-S: not one OpenSSH session more in ferryd's audit"
[ "$(tail -n 4 "$T/sshwrap.args" | paste -sd' ')" = "-s -- 127.0.0.1 sftp" ] &&
    grep -qx -- "-oForwardX11 no" "$T/sshwrap.args" && grep -qx -- "-oBatchMode yes" "$T/sshwrap.args" &&
    grep -qx -- "$FERRYD_PORT" "$T/sshwrap.args" && grep -qx -- "tester" "$T/sshwrap.args" ||
    fail "-S: arguments $(paste -sd' ' "$T/sshwrap.args")"
if timeout 30 "$FERRY" -S /nonexistent/ssh -b /dev/null tester@127.0.0.1 >/dev/null 2>"$T/sp2.err"; then
    fail "-S with a missing program succeeded"
fi
ok "-S ssh: OpenSSH's ssh as the transport, ferry's SFTP over it (bytes equal)"
ferryd_stop

# ConnectionAttempts: two tries a second apart, then the error
DEAD=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
start=$(date +%s%N)
if timeout 30 "$FERRY" -F none -P "$DEAD" -o ConnectionAttempts=2 -o BatchMode=yes -b /dev/null \
    tester@127.0.0.1 >/dev/null 2>"$T/ca.err"; then
    fail "a connection to a dead port succeeded"
fi
ms=$((($(date +%s%N) - start) / 1000000))
[ "$(grep -c "connect to host 127.0.0.1 port $DEAD" "$T/ca.err")" = 2 ] && [ $ms -ge 900 ] ||
    fail "ConnectionAttempts=2: $(cat "$T/ca.err") in $ms ms"
ok "ConnectionAttempts=2: two tries a second apart"

# password and keyboard-interactive (answers through SSH_ASKPASS)
PW='Ferryd-Client-Pw-3'
HASH=$(password_hash "$PW")
printf '#!/bin/sh\necho %s\n' "$PW" >"$T/askpass"
chmod 755 "$T/askpass"
for methods in password keyboard-interactive; do
    sed -i '/^AuthenticationMethods/d' "$T/ferryd.conf"
    echo "AuthenticationMethods $methods" >>"$T/ferryd.conf"
    ferryd_start --config "$T/ferryd.conf" --password-hash "$HASH"
    echo pwd | SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force timeout 60 "$FERRY" -F none \
        -P "$FERRYD_PORT" -o UserKnownHostsFile="$T/known_hosts" -o IdentityAgent=none \
        -o PubkeyAuthentication=no tester@127.0.0.1 >"$T/pw.out" 2>"$T/pw.err" ||
        { cat "$T/pw.err" >&2; fail "$methods against ferryd"; }
    grep -q "Remote working directory: /" "$T/pw.out" || fail "$methods: no session"
    ferryd_stop
    ok "$methods authentication against ferryd"
done
