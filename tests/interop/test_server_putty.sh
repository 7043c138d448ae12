#!/usr/bin/env bash
# PuTTY's psftp against ferryd: a key converted with puttygen to .ppk,
# the host key pinned with -hostkey, a batch of psftp commands, and a
# password login with -pw. Bytes compared with cmp.
. "$FERRY_SRC/tests/interop/lib.sh"
need psftp puttygen ssh-keygen cmp timeout

make_user_key ed25519
puttygen "$T/id_ed25519" -O private -o "$T/id.ppk" || fail "puttygen conversion"
PW='putty password'
echo "PerSourcePenalties no" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf" --password-hash "$(password_hash "$PW")"
FP=$(ssh-keygen -l -E sha256 -f "$T/host_ed25519.pub" | awk '{print $2}')
PS=(timeout 120 psftp -batch -P "$FERRYD_PORT" -hostkey "$FP" -l "$TEST_USER")

L="$T/local"
mkdir -p "$L/m"
make_file "$L/big.bin" $((3 * 1024 * 1024 + 1))
make_file "$L/small.bin" 4242
head -c 50000 "$L/big.bin" >"$L/big.part"
cat >"$T/batch" <<BATCH
pwd
mkdir dir
cd dir
lcd $L
lpwd
put big.bin
put small.bin
ls
dir
chmod 640 small.bin
mv small.bin moved.bin
get moved.bin small.back
get big.bin big.back
put big.part resumed.bin
reput big.bin resumed.bin
reget big.bin big.part
mkdir sub
rmdir sub
mput small.back
lcd $L/m
mget big.bin
lcd $L
rm small.back
del moved.bin
cd ..
pwd
quit
BATCH
"${PS[@]}" -i "$T/id.ppk" -b "$T/batch" 127.0.0.1 >"$T/out" 2>&1 ||
    { cat "$T/out" >&2; fail "psftp batch (key)"; }
same "$L/big.bin" "$T/root/dir/big.bin"
same "$L/small.bin" "$L/small.back"
same "$L/big.bin" "$L/big.back"
same "$L/big.bin" "$T/root/dir/resumed.bin"
same "$L/big.bin" "$L/big.part"
same "$L/big.bin" "$L/m/big.bin"
[ ! -e "$T/root/dir/moved.bin" ] && [ ! -e "$T/root/dir/small.back" ] || fail "rm/del"
[ ! -e "$T/root/dir/sub" ] || fail "rmdir"
grep -q "big.bin" "$T/out" || fail "ls output"
ok "psftp batch with a .ppk key"

printf 'put %s/small.bin pw.bin\nget pw.bin %s/pw.back\n' "$L" "$L" >"$T/batch_pw"
"${PS[@]}" -pw "$PW" -b "$T/batch_pw" 127.0.0.1 >"$T/out_pw" 2>&1 ||
    { cat "$T/out_pw" >&2; fail "psftp password"; }
same "$L/small.bin" "$L/pw.back"
ok "psftp with a password"
if "${PS[@]}" -pw wrong -b "$T/batch_pw" 127.0.0.1 >/dev/null 2>&1; then
    fail "psftp: wrong password accepted"
fi
if timeout 60 psftp -batch -P "$FERRYD_PORT" -hostkey "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
    -l "$TEST_USER" -i "$T/id.ppk" -b "$T/batch_pw" 127.0.0.1 >/dev/null 2>&1; then
    fail "psftp accepted a wrong host key"
fi
ok "wrong password and wrong host key refused"
ferryd_stop
ok "clean shutdown"
