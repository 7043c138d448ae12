# shellcheck shell=bash
# client_lib.sh: the comparison of ferry with OpenSSH's sftp shared by the
# client interop tests (sourced; needs $T, $FERRY, fail and ok).
#
#   run_pair NAME FERRY_CMD SFTP_CMD DEST [SESSION_ROOT DISK_ROOT]
#
# runs the same batch with both clients, each in its own local and remote
# tree, and requires identical outputs and identical resulting trees.
# SESSION_ROOT/DISK_ROOT map the server's view of $T/... when the server
# jails the session (ferryd): remote paths are SESSION_ROOT/NAME-WHO/remote
# in the batch and DISK_ROOT/NAME-WHO/remote on disk.

# ---- the batch and its fixtures ----

# make_fixture DIR: the local files the batch uploads.
make_fixture() {
    mkdir -p "$1/tree/sub/deeper" "$1/tree/empty"
    head -c 1000000 /dev/urandom >"$1/big.bin"
    head -c 70001 /dev/urandom >"$1/tree/sub/mid.bin"
    # larger than a batch takes: get -r opens each during the one before
    head -c 1500000 /dev/urandom >"$1/tree/large1.bin"
    head -c 1600000 /dev/urandom >"$1/tree/large2.bin"
    head -c 1700000 /dev/urandom >"$1/tree/large3.bin"
    echo "hello" >"$1/f1.txt"
    echo "x" >"$1/tree/a.txt"
    echo "y" >"$1/tree/sub/deeper/b.txt"
    chmod 640 "$1/tree/a.txt"
    # more entries than one READDIR brings (sftp-server and ferryd: 100)
    mkdir -p "$1/tree/many"
    for i in $(seq 250); do : >"$1/tree/many/e$i"; done
    head -c 300000 /dev/urandom >"$1/resume.bin"
    head -c 100000 "$1/resume.bin" >"$1/resume.part"
}

# write_batch FILE REMOTE LOCAL: '@' keeps the per-run paths out of the
# echoed output, so both clients' outputs can be compared.
write_batch() {
    cat >"$1" <<EOF
@cd $2
@lcd $3
mkdir d1
put -p f1.txt d1/
ls -l d1
ls -l d1/f1.txt
put big.bin
put -r tree
ls -1
ls -1 tree
ls -1 tree/many
ls -1 tree/a.txt
-ls nonexistent
cd d1
ls -1
cd ..
-cd nonexistent
-cd f1.txt
-put -r tree d1/f1.txt
ls -1 *.bin
rename big.bin big2.bin
ln -s big2.bin link
chmod 600 d1/f1.txt
get big2.bin got.bin
get -r tree gottree
-get nonexistent.bin
-get tree
-rm nonexistent
rm link
mkdir d2
rmdir d2
put resume.part resume.bin
reput resume.bin resume.bin
!cp resume.part resume.copy
reget resume.bin resume.copy
pwd
version
ls -1 tree/sub
EOF
}

# tree_of DIR: type, mode, size and content hash of everything below DIR.
tree_of() {
    (cd "$1" && find . -mindepth 1 -printf '%y %m %s %p\n' | sort &&
        find . -type f -print0 | sort -z | xargs -0 -r md5sum)
}

# run_pair NAME FERRY_CMD SFTP_CMD: runs the batch with both clients in
# fresh trees and compares outputs and trees.
run_pair() {
    local name=$1 fcmd=$2 scmd=$3 dest=$4 sroot=${5-$T} droot=${6:-$T} who
    for who in ferry sftp; do
        rm -rf "$T/$name-$who" "$droot/$name-$who"
        mkdir -p "$droot/$name-$who/remote" "$T/$name-$who/local"
        make_fixture "$T/$name-$who/local"
        write_batch "$T/$name-$who/batch" "$sroot/$name-$who/remote" "$T/$name-$who/local"
    done
    # identical fixtures: the second copy mirrors the first one's bytes
    cp -a "$T/$name-ferry/local/." "$T/$name-sftp/local/"
    (cd "$T/$name-ferry" && eval "$fcmd -b batch $dest" >out 2>err) ||
        { cat "$T/$name-ferry/err" >&2; fail "$name: ferry batch failed"; }
    (cd "$T/$name-sftp" && eval "$scmd -b batch $dest" >out 2>err) ||
        { cat "$T/$name-sftp/err" >&2; fail "$name: sftp batch failed"; }
    for who in ferry sftp; do
        sed -i "s|$sroot/$name-$who|ROOT|g; s|$T/$name-$who|ROOT|g" "$T/$name-$who/out"
    done
    diff -u "$T/$name-sftp/out" "$T/$name-ferry/out" || fail "$name: outputs differ"
    diff -u <(tree_of "$droot/$name-sftp/remote") <(tree_of "$droot/$name-ferry/remote") ||
        fail "$name: remote trees differ"
    diff -u <(tree_of "$T/$name-sftp/local") <(tree_of "$T/$name-ferry/local") ||
        fail "$name: local trees differ"
    # get's OPEN goes out with its STAT: a directory or a missing file
    # is still reported as such, and the batch goes on
    grep -q "^Cannot download non-regular file: .*/remote/tree$" "$T/$name-ferry/err" ||
        fail "$name: get of a directory not refused"
    grep -q "^Couldn't stat remote file \".*/remote/nonexistent.bin\": No such file" \
        "$T/$name-ferry/err" || fail "$name: get of a missing file not reported"
    # put -r onto a file: OpenSSH's words, and nothing changed
    for who in ferry sftp; do
        grep -q '/d1/f1.txt" exists but is not a directory' "$T/$name-$who/err" ||
            fail "$name: $who: put -r onto a file not refused as OpenSSH does"
    done
    cmp -s "$T/$name-ferry/local/resume.bin" "$droot/$name-ferry/remote/resume.bin" ||
        fail "$name: reput did not complete the file"
    cmp -s "$T/$name-ferry/local/resume.bin" "$T/$name-ferry/local/resume.copy" ||
        fail "$name: reget did not complete the file"
    ok "$name: same output and trees as OpenSSH sftp"
}

