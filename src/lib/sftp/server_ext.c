/* server_ext.c: SSH_FXP_EXTENDED requests: the OpenSSH extensions
 * (PROTOCOL section 4), copy-data, home-directory, and check-file
 * (check-file.md, after draft-ietf-secsh-filexfer-09 section 9.1.2).
 *
 * check-file, as implemented here:
 *  - algorithms: poly1305@ferry.dev, md5, sha1, sha224, sha256, sha384,
 *    sha512 (crypto/chk.h, all EVP); the first of the client's list that
 *    we support is used; none -> OP_UNSUPPORTED.
 *  - the range is clipped to the file; length 0 means to end of file.
 *  - bounded work: at most 64 MiB is hashed per request; a longer
 *    (clipped) range gets FAILURE "range too large" (clients verify long
 *    files in several ranges). The hashes must fit in one reply: more
 *    than max_read bytes of digests gets FAILURE "too many blocks".
 *  - block-size 0 = one hash of the whole range (of the empty string for
 *    an empty range); otherwise >= 256, one hash per block, the last
 *    block possibly short, and no hash for an empty range.
 *  - check-file-handle needs a handle opened with READ (PERMISSION
 *    otherwise); both forms are refused in upload-only mode.
 *  - an aligned 64 MiB piece of what the session just wrote or read is
 *    answered from the running hashes when they know it in the asked
 *    algorithm (server_hash.c); a whole-piece request (block-size 0) in
 *    another algorithm of at most 32 bytes makes that the algorithm of
 *    the session's later runs.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sftp/server_int.h"
#include "util/err.h"

/* ---- OpenSSH extensions ---- */

int ferry__sftp_on_posix_rename(S *s, uint32_t id, ferry_rd *r)
{
    /* upload-only: a rename must not replace existing data */
    uint32_t fl = s->cfg.mode == FERRY_SFTP_UPLOAD_ONLY ? FERRY_VFS_RENAME_NOREPLACE : 0;
    return ferry__sftp_two_paths(s, r, "rename", fl);
}

int ferry__sftp_on_hardlink(S *s, uint32_t id, ferry_rd *r)
{
    return ferry__sftp_two_paths(s, r, "link", 0);
}

int ferry__sftp_on_lsetstat(S *s, uint32_t id, ferry_rd *r)
{
    return ferry__sftp_setstat_path(s, r, 0);
}

static int send_fsinfo(S *s, uint32_t id, const ferry_vfs_fsinfo *f)
{
    const uint64_t v[] = {f->bsize, f->frsize, f->blocks, f->bfree, f->bavail, f->files,
                          f->ffree, f->favail, f->fsid,   f->flag,  f->namemax};
    int rc = ferry__sftp_begin(s, SSH_FXP_EXTENDED_REPLY, id);
    for (size_t i = 0; rc == FERRY_OK && i < sizeof(v) / sizeof(v[0]); i++) {
        rc = ferry_buf_put_u64(s->reply, v[i]);
    }
    return rc == FERRY_OK ? ferry__sftp_send(s) : rc;
}

int ferry__sftp_on_statvfs(S *s, uint32_t id, ferry_rd *r)
{
    char path[FERRY_VFS_PATH_MAX + 1];
    ferry_vfs_fsinfo f;
    int rc = ferry__sftp_rd_path(r, path);
    if (rc == FERRY_OK) {
        rc = ferry_vfs_statvfs(s->cfg.vfs, path, &f);
    }
    return rc == FERRY_OK ? send_fsinfo(s, id, &f) : rc;
}

int ferry__sftp_on_fstatvfs(S *s, uint32_t id, ferry_rd *r)
{
    ferry__sftp_handle *h;
    ferry_vfs_fsinfo f;
    int rc = ferry__sftp_rd_handle(s, r, H_FILE, &h);
    if (rc == FERRY_OK) {
        rc = ferry_vfs_fstatvfs(h->file, &f);
    }
    return rc == FERRY_OK ? send_fsinfo(s, id, &f) : rc;
}

int ferry__sftp_on_fsync(S *s, uint32_t id, ferry_rd *r)
{
    ferry__sftp_handle *h;
    int rc = ferry__sftp_rd_handle(s, r, H_FILE, &h);
    return rc == FERRY_OK ? ferry_vfs_fsync(h->file) : rc;
}

int ferry__sftp_on_limits(S *s, uint32_t id, ferry_rd *r)
{
    const uint64_t v[] = {s->max_packet, s->max_read, s->max_read, s->nh};
    int rc = ferry__sftp_begin(s, SSH_FXP_EXTENDED_REPLY, id);
    for (size_t i = 0; rc == FERRY_OK && i < 4; i++) {
        rc = ferry_buf_put_u64(s->reply, v[i]);
    }
    return rc == FERRY_OK ? ferry__sftp_send(s) : rc;
}

/* Is `u` (n bytes) the session's own user name ("" counts)? */
static int is_self(S *s, const char *u, size_t n)
{
    if (n == 0) {
        return 1;
    }
    return s->cfg.user != NULL && strlen(s->cfg.user) == n && memcmp(s->cfg.user, u, n) == 0;
}

/* "~", "~/x", "~user/x" (own user only): home is "/" in the jail. */
int ferry__sftp_on_expand_path(S *s, uint32_t id, ferry_rd *r)
{
    char path[FERRY_VFS_PATH_MAX + 1];
    int rc = ferry__sftp_rd_path(r, path);
    if (rc != FERRY_OK) {
        return rc;
    }
    const char *p = path;
    if (p[0] == '~') {
        size_t ul = strcspn(p + 1, "/");
        if (!is_self(s, p + 1, ul)) {
            s->errmsg = "unknown user";
            return FERRY_E_NOT_FOUND;
        }
        p += 1 + ul; /* "" or "/rest" */
    }
    return ferry__sftp_realpath_reply(s, id, p);
}

int ferry__sftp_on_home_directory(S *s, uint32_t id, ferry_rd *r)
{
    const uint8_t *u;
    size_t n;
    int rc = ferry_rd_string(r, &u, &n);
    if (rc != FERRY_OK) {
        return rc;
    }
    if (!is_self(s, (const char *)u, n)) {
        s->errmsg = "unknown user";
        return FERRY_E_NOT_FOUND;
    }
    return ferry__sftp_send_name1(s, id, "/");
}

/* Names for a string of uint32 ids: the session user for our own uid,
 * "" for everything else (no host account names leak into the jail). */
static int put_names(S *s, const uint8_t *ids, size_t n, int users)
{
    if (n % 4 != 0) {
        return FERRY_E_FORMAT;
    }
    ferry_buf *b = ferry_buf_new(n * 80 + 16);
    if (b == NULL) {
        return FERRY_E_ALLOC;
    }
    int rc = FERRY_OK;
    for (size_t i = 0; rc == FERRY_OK && i < n; i += 4) {
        uint32_t v = ferry_load_u32(ids + i);
        const char *name = "";
        if (users && s->cfg.user != NULL && v == (uint32_t)geteuid() &&
            strlen(s->cfg.user) < 64) {
            name = s->cfg.user;
        }
        rc = ferry_buf_put_cstring(b, name);
    }
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_stringb(s->reply, b);
    }
    ferry_buf_free(b);
    return rc;
}

int ferry__sftp_on_users_groups(S *s, uint32_t id, ferry_rd *r)
{
    const uint8_t *uids, *gids;
    size_t nu, ng;
    int rc = ferry_rd_string(r, &uids, &nu);
    if (rc == FERRY_OK) {
        rc = ferry_rd_string(r, &gids, &ng);
    }
    if (rc == FERRY_OK && (nu % 4 != 0 || ng % 4 != 0)) {
        rc = FERRY_E_FORMAT;
    }
    if (rc == FERRY_OK) {
        rc = ferry__sftp_begin(s, SSH_FXP_EXTENDED_REPLY, id);
    }
    if (rc == FERRY_OK) {
        rc = put_names(s, uids, nu, 1);
    }
    if (rc == FERRY_OK) {
        rc = put_names(s, gids, ng, 0);
    }
    return rc == FERRY_OK ? ferry__sftp_send(s) : rc;
}

/* ---- copy-data ---- */

int ferry__sftp_on_copy_data(S *s, uint32_t id, ferry_rd *r)
{
    ferry__sftp_handle *rh, *wh;
    uint64_t roff, rlen, woff, copied = 0;
    int rc = ferry__sftp_rd_handle(s, r, H_FILE, &rh);
    if (rc == FERRY_OK) {
        rc = ferry_rd_u64(r, &roff);
    }
    if (rc == FERRY_OK) {
        rc = ferry_rd_u64(r, &rlen);
    }
    if (rc == FERRY_OK) {
        rc = ferry__sftp_rd_handle(s, r, H_FILE, &wh);
    }
    if (rc == FERRY_OK) {
        rc = ferry_rd_u64(r, &woff);
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    if (rh == wh) {
        s->errmsg = "read and write handles are the same";
        return FERRY_E_INVALID_ARG;
    }
    if (!(rh->pflags & SSH_FXF_READ) || !(wh->pflags & SSH_FXF_WRITE)) {
        s->errmsg = "handle not open for reading / writing";
        return FERRY_E_PERMISSION;
    }
    ferry__sftp_run_drop(wh);
    rc = ferry_vfs_copy(rh->file, roff, rlen, wh->file, woff, &copied);
    rh->bytes_read += copied;
    wh->bytes_written += copied;
    ferry__sftp_event(s, "copy-data", rh->path, wh->path, rc);
    return rc;
}

/* ---- check-file ---- */

typedef struct check_req {
    const ferry_chk_alg *alg;
    uint64_t start, len;
    uint32_t bs;
} check_req;

/* Hashes [off, off+len) of f into out (one digest; ctx started, and
 * started again after); stops early at EOF. keep, if not NULL, gets a
 * copy of the state before the final step. */
static int hash_block(ferry_vfs_file *f, ferry_chk *ctx, uint64_t off, uint64_t len,
                      uint8_t *buf, size_t bufsz, uint8_t *out, ferry_chk **keep)
{
    while (len > 0) {
        size_t want = len < bufsz ? (size_t)len : bufsz, got = 0;
        int rc = ferry_vfs_pread(f, buf, want, off, &got);
        if (rc != FERRY_OK) {
            return rc;
        }
        if (got == 0) {
            break; /* the file shrank meanwhile */
        }
        int rc2 = ferry_chk_update(ctx, buf, got);
        if (rc2 != FERRY_OK) {
            return rc2;
        }
        off += got;
        len -= got;
    }
    if (len > 0 && keep != NULL) {
        return FERRY_E_EOF; /* shrank meanwhile: the state is not of the range */
    }
    if (keep != NULL && (*keep = ferry_chk_dup(ctx)) == NULL) {
        return FERRY_E_ALLOC;
    }
    return ferry_chk_final(ctx, out);
}

static int hash_blocks(S *s, ferry_vfs_file *f, const check_req *q, uint64_t nblocks,
                       ferry_chk **keep)
{
    size_t bufsz = 64 * 1024;
    size_t mdlen = ferry_chk_size(q->alg);
    uint8_t *buf = malloc(bufsz);
    ferry_chk *ctx = ferry_chk_new(q->alg);
    int rc = (buf == NULL || ctx == NULL) ? FERRY_E_ALLOC : FERRY_OK;
    for (uint64_t b = 0; rc == FERRY_OK && b < nblocks; b++) {
        uint64_t off = q->start + (q->bs ? b * q->bs : 0);
        uint64_t len = q->bs ? q->len - b * q->bs : q->len;
        if (q->bs && len > q->bs) {
            len = q->bs;
        }
        uint8_t *dst;
        rc = ferry_buf_reserve(s->reply, mdlen, &dst);
        if (rc == FERRY_OK) {
            rc = hash_block(f, ctx, off, len, buf, bufsz, dst, keep);
        }
    }
    ferry_chk_free(ctx);
    free(buf);
    return rc;
}

/* Clips the range to the file, applies the bounds, answers: from the
 * running hashes (server_hash.c) when they know the piece, else by
 * reading (which may seed the handle's run). h: the handle, or NULL for
 * check-file-name. */
static int check_file(S *s, uint32_t id, ferry_vfs_file *f, check_req *q, ferry__sftp_handle *h)
{
    ferry_vfs_attr st;
    int rc = ferry_vfs_fstat(f, &st);
    if (rc != FERRY_OK) {
        return rc;
    }
    uint64_t avail = q->start < st.size ? st.size - q->start : 0;
    if (q->len == 0 || q->len > avail) {
        q->len = avail;
    }
    if (q->len > FERRY__SFTP_CHECK_MAX) {
        s->errmsg = "range too large (at most 64 MiB per request)";
        return FERRY_E_LIMIT;
    }
    uint64_t nblocks = q->bs ? (q->len + q->bs - 1) / q->bs : 1;
    size_t dlen = ferry_chk_size(q->alg);
    if (nblocks * (uint64_t)dlen > s->max_read) {
        s->errmsg = "too many blocks";
        return FERRY_E_LIMIT;
    }
    uint8_t dig[FERRY_CHK_MAX];
    int piece = q->bs == 0 && dlen <= FERRY__SFTP_RUN_DIGEST;
    if (piece) {
        s->run_alg = q->alg; /* later runs hash what this client asks for */
    }
    int known = piece && (h != NULL ? ferry__sftp_run_answer(h, &st, q->alg, q->start, q->len, dig)
                                    : ferry__sftp_hcache_answer(s, &st, q->alg, q->start, q->len,
                                                                dig));
    ferry_chk *keep = NULL;
    ferry_chk **seed = NULL;
    if (piece && !known && h != NULL && ferry__sftp_run_seedable(h, st.size, q->start, q->len)) {
        seed = &keep; /* hash_block leaves the state there */
    }
    rc = ferry__sftp_begin(s, SSH_FXP_EXTENDED_REPLY, id);
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_cstring(s->reply, "check-file");
    }
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_cstring(s->reply, ferry_chk_name(q->alg));
    }
    if (rc == FERRY_OK) {
        rc = known ? ferry_buf_put(s->reply, dig, dlen) : hash_blocks(s, f, q, nblocks, seed);
    }
    if (rc == FERRY_OK && keep != NULL) {
        ferry__sftp_run_seed(h, q->start, q->len, keep);
    }
    ferry_chk_free(keep);
    return rc == FERRY_OK ? ferry__sftp_send(s) : rc;
}

/* The fields after the handle/path. */
static int rd_check_req(S *s, ferry_rd *r, check_req *q)
{
    const uint8_t *list;
    size_t n;
    int rc = ferry_rd_string(r, &list, &n);
    if (rc == FERRY_OK) {
        rc = ferry_rd_u64(r, &q->start);
    }
    if (rc == FERRY_OK) {
        rc = ferry_rd_u64(r, &q->len);
    }
    if (rc == FERRY_OK) {
        rc = ferry_rd_u32(r, &q->bs);
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    if (q->bs != 0 && q->bs < 256) {
        s->errmsg = "block size below 256";
        return FERRY_E_INVALID_ARG;
    }
    q->alg = ferry_chk_pick(list, n);
    if (q->alg == NULL) {
        s->errmsg = "no supported hash algorithm";
        return FERRY_E_UNSUPPORTED;
    }
    return FERRY_OK;
}

int ferry__sftp_on_check_file_handle(S *s, uint32_t id, ferry_rd *r)
{
    ferry__sftp_handle *h;
    check_req q;
    int rc = ferry__sftp_rd_handle(s, r, H_FILE, &h);
    if (rc == FERRY_OK) {
        rc = rd_check_req(s, r, &q);
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    if (!(h->pflags & SSH_FXF_READ)) {
        s->errmsg = "handle not open for reading";
        return FERRY_E_PERMISSION;
    }
    s->seen_check = 1;
    return check_file(s, id, h->file, &q, h);
}

int ferry__sftp_on_check_file_name(S *s, uint32_t id, ferry_rd *r)
{
    char path[FERRY_VFS_PATH_MAX + 1];
    check_req q;
    ferry_vfs_file *f = NULL;
    int rc = ferry__sftp_rd_path(r, path);
    if (rc == FERRY_OK) {
        rc = rd_check_req(s, r, &q);
    }
    if (rc == FERRY_OK) {
        rc = ferry_vfs_open(s->cfg.vfs, path, FERRY_VFS_O_READ, FERRY_VFS_MODE_DEFAULT, &f);
    }
    if (rc == FERRY_OK) {
        s->seen_check = 1;
        rc = check_file(s, id, f, &q, NULL);
        ferry_vfs_close(f, FERRY_VFS_CLOSE_DISCARD);
    }
    return rc;
}
