#!/usr/bin/env bash
# rclone (Go x/crypto/ssh + pkg/sftp) against ferryd: copy, sync, check
# (with --download: byte comparison), moveto, deletefile, purge, with an
# on-the-fly remote from environment variables.
. "$FERRY_SRC/tests/interop/lib.sh"
need rclone ssh-keygen cmp timeout

make_user_key ed25519
echo "PerSourcePenalties no" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"

export RCLONE_CONFIG="$T/rclone.conf"
: >"$RCLONE_CONFIG"
export RCLONE_CONFIG_FERRY_TYPE=sftp
export RCLONE_CONFIG_FERRY_HOST=127.0.0.1
export RCLONE_CONFIG_FERRY_PORT="$FERRYD_PORT"
export RCLONE_CONFIG_FERRY_USER="$TEST_USER"
export RCLONE_CONFIG_FERRY_KEY_FILE="$T/id_ed25519"
export RCLONE_CONFIG_FERRY_KNOWN_HOSTS_FILE="$T/known_hosts"
export RCLONE_CONFIG_FERRY_SHELL_TYPE=none
export RCLONE_CONFIG_FERRY_MD5SUM_COMMAND=none
export RCLONE_CONFIG_FERRY_SHA1SUM_COMMAND=none
RC=(timeout 300 rclone --retries 1 --low-level-retries 2 -q)

L="$T/local"
mkdir -p "$L/src/d1/d2" "$L/src/empty"
make_file "$L/src/big" $((4 * 1024 * 1024 + 99))
for i in $(seq 1 30); do make_file "$L/src/d1/f$i" $((i * 997)); done
make_file "$L/src/d1/d2/deep" 123456
: >"$L/src/zero"

"${RC[@]}" copy "$L/src" ferry:copy || fail "rclone copy"
diff -r "$L/src/d1" "$T/root/copy/d1" >/dev/null || fail "copy differs on the server"
same "$L/src/big" "$T/root/copy/big"
ok "rclone copy"
"${RC[@]}" check --download "$L/src" ferry:copy || fail "rclone check --download"
ok "rclone check --download"

# sync: change, add and delete files, then sync and compare
make_file "$L/src/d1/f3" 5000
rm "$L/src/d1/f7"
make_file "$L/src/new" 77777
"${RC[@]}" sync "$L/src" ferry:copy || fail "rclone sync"
[ ! -e "$T/root/copy/d1/f7" ] || fail "sync did not delete"
same "$L/src/new" "$T/root/copy/new"
same "$L/src/d1/f3" "$T/root/copy/d1/f3"
"${RC[@]}" check --download "$L/src" ferry:copy || fail "check after sync"
ok "rclone sync + check"

"${RC[@]}" copy ferry:copy "$L/back" || fail "rclone copy down"
diff -r "$L/src/d1" "$L/back/d1" >/dev/null || fail "downloaded tree differs"
same "$L/src/big" "$L/back/big"
ok "rclone copy (download)"

"${RC[@]}" moveto ferry:copy/new ferry:copy/renamed || fail "moveto"
same "$L/src/new" "$T/root/copy/renamed"
"${RC[@]}" deletefile ferry:copy/renamed || fail "deletefile"
[ ! -e "$T/root/copy/renamed" ] || fail "deletefile left the file"
"${RC[@]}" lsf -R ferry:copy >"$T/lsf" || fail "lsf"
grep -qx "d1/d2/deep" "$T/lsf" || fail "lsf lacks d1/d2/deep"
"${RC[@]}" cat ferry:copy/d1/f2 >"$L/cat" || fail "cat"
same "$L/src/d1/f2" "$L/cat"
"${RC[@]}" purge ferry:copy || fail "purge"
[ ! -e "$T/root/copy" ] || fail "purge left the directory"
ok "rclone moveto, deletefile, lsf, cat, purge"
ferryd_stop
ok "clean shutdown"
