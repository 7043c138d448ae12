/* server_hash.c: running digests of uploads, so that check-file of what
 * was just written needs no re-reading.
 *
 * check-file clients (ferry) verify a file in aligned pieces of
 * FERRY__SFTP_CHECK_MAX bytes: [k*P, min((k+1)*P, size)), block-size 0,
 * in one algorithm (ferry: poly1305@ferry.dev where offered, else
 * sha256). A run hashes in the session's run_alg: poly1305@ferry.dev
 * until a whole-piece check-file names another algorithm (of at most
 * FERRY__SFTP_RUN_DIGEST bytes), which later runs then use; a run or a
 * cache entry answers only requests in its own algorithm.
 * A file handle opened for writing (not APPEND) keeps a "run":
 * the digests of the finished pieces of what it wrote and the hash state
 * of the current piece, as long as every WRITE lands exactly at the end
 * of what was hashed, starting from an empty file (or from a prefix this
 * handle hashed with check-file-handle piece by piece: how a resumed
 * upload continues). Any other write, a SETSTAT of the size through the
 * handle, or copy-data into it ends the run for good.
 *
 * - check-file-handle of a piece answers from the run when the file's size
 *   equals what the run hashed.
 * - A successful CLOSE leaves the piece digests in a small per-session
 *   cache keyed by the file's device, inode, size and mtime (nanoseconds),
 *   taken after the close (after an atomic upload's rename; a rename
 *   through RENAME / posix-rename keeps inode and mtime). check-file-name
 *   of a piece of a file with that key answers from the cache.
 * - Limits: the key cannot see a change by another process that keeps the
 *   size and falls within the same mtime tick as our last write (the
 *   kernel's timestamps are coarse); SETSTAT of the times makes the key
 *   miss (a re-read follows, never a wrong answer from our side).
 *
 * Downloads too: a handle opened only for reading keeps a run of what
 * its READs returned while they come in order from offset 0, so the
 * whole-file check-file-handle a client sends after the last byte needs
 * no second pass over the file. It answers only while the file's device,
 * inode, size and mtime are still those seen at the OPEN (the same
 * coarse-timestamp limit as above). A read run that reached the end goes
 * to the cache at CLOSE like a write run (ferry sends CLOSE and a
 * check-file-name together); read runs are kept only for files of 1 MiB
 * or more.
 *
 * When runs start (ferry_sftp_server_config.running_hash): after the
 * session's first check-file request (default: the client verifies), for
 * every upload, or never. sha256 costs about 0.6 ms per MiB of CPU
 * with SHA extensions, Poly1305 under 0.1 ms.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sftp/server_int.h"
#include "util/err.h"

#define PIECE FERRY__SFTP_CHECK_MAX
/* Smallest file a read-only handle keeps a run for. */
#define READ_RUN_MIN (1024u * 1024)

struct ferry__sftp_run {
    ferry_chk *ctx;                              /* the current piece */
    uint8_t (*done)[FERRY__SFTP_RUN_DIGEST]; /* finished pieces */
    size_t ndone, cap;
    uint64_t off; /* [0, off) hashed */
    int reading;  /* a read-only handle's run: key is the file at OPEN */
    ferry_vfs_attr key;
};

static void run_free(ferry__sftp_run *run)
{
    if (run != NULL) {
        ferry_chk_free(run->ctx);
        free(run->done);
        free(run);
    }
}

static ferry__sftp_run *run_new(const ferry_chk_alg *alg)
{
    ferry__sftp_run *run = calloc(1, sizeof(*run));
    if (run == NULL || alg == NULL || ferry_chk_size(alg) > FERRY__SFTP_RUN_DIGEST ||
        (run->ctx = ferry_chk_new(alg)) == NULL) {
        run_free(run);
        return NULL;
    }
    return run;
}

void ferry__sftp_run_drop(ferry__sftp_handle *h)
{
    run_free(h->run);
    h->run = NULL;
    h->run_dead = 1;
}

void ferry__sftp_run_release(ferry__sftp_handle *h)
{
    run_free(h->run);
    h->run = NULL;
}

/* Finishes the current piece into done[] and starts the next. */
static int run_next_piece(ferry__sftp_run *run)
{
    if (run->ndone == run->cap) {
        size_t cap = run->cap ? 2 * run->cap : 16;
        void *p = realloc(run->done, cap * sizeof(*run->done));
        if (p == NULL) {
            return FERRY_E_ALLOC;
        }
        run->done = p;
        run->cap = cap;
    }
    int r = ferry_chk_final(run->ctx, run->done[run->ndone]);
    if (r == FERRY_OK) {
        run->ndone++;
    }
    return r;
}

static int writable_run(const ferry__sftp_handle *h)
{
    return (h->pflags & SSH_FXF_WRITE) && !(h->pflags & SSH_FXF_APPEND) && !h->run_dead;
}

static int readable_run(const ferry__sftp_handle *h)
{
    return (h->pflags & SSH_FXF_READ) && !(h->pflags & SSH_FXF_WRITE) && !h->run_dead;
}

void ferry__sftp_run_open(S *s, ferry__sftp_handle *h)
{
    ferry_vfs_attr st;
    if (s->cfg.running_hash == FERRY_SFTP_RUNHASH_OFF ||
        (s->cfg.running_hash == FERRY_SFTP_RUNHASH_AFTER_CHECK && !s->seen_check) ||
        (!writable_run(h) && !readable_run(h)) || ferry_vfs_fstat(h->file, &st) != FERRY_OK) {
        return;
    }
    if (readable_run(h)) {
        /* small files are verified after their CLOSE (check-file-name),
         * and re-reading them costs no more than the run would */
        if (st.size >= READ_RUN_MIN && (h->run = run_new(s->run_alg)) != NULL) {
            h->run->reading = 1;
            h->run->key = st;
        }
        return;
    }
    if (st.size == 0) {
        h->run = run_new(s->run_alg); /* NULL: no run, answers come from reading */
    }
}

/* Hashes d[n], which sits at off in the file, into h's run. */
static void run_extend(ferry__sftp_handle *h, uint64_t off, const uint8_t *d, size_t n)
{
    ferry__sftp_run *run = h->run;
    if (off != run->off) {
        ferry__sftp_run_drop(h);
        return;
    }
    while (n > 0) {
        uint64_t room = PIECE - run->off % PIECE;
        size_t k = n < room ? n : (size_t)room;
        if (ferry_chk_update(run->ctx, d, k) != FERRY_OK) {
            ferry__sftp_run_drop(h);
            return;
        }
        run->off += k;
        d += k;
        n -= k;
        if (run->off % PIECE == 0 && run_next_piece(run) != FERRY_OK) {
            ferry__sftp_run_drop(h);
            return;
        }
    }
}

void ferry__sftp_run_write(ferry__sftp_handle *h, uint64_t off, const uint8_t *d, size_t n)
{
    if (h->run != NULL && !h->run->reading) {
        run_extend(h, off, d, n);
    }
}

void ferry__sftp_run_read(ferry__sftp_handle *h, uint64_t off, const uint8_t *d, size_t n)
{
    if (h->run != NULL && h->run->reading && n > 0) {
        run_extend(h, off, d, n);
    }
}

/* The digest of piece [start, start+len) from finished digests `done` (of
 * `alg`) and the state of the unfinished last piece (ctx, NULL if none)
 * of a file of `size` bytes of which [0, off) is known. 1 if answered. */
static int piece_answer(const ferry_chk_alg *alg, uint8_t (*done)[FERRY__SFTP_RUN_DIGEST],
                        size_t ndone, const ferry_chk *ctx, uint64_t off, uint64_t size,
                        uint64_t start, uint64_t len, uint8_t *out)
{
    if (size != off || start % PIECE != 0) {
        return 0;
    }
    uint64_t k = start / PIECE;
    if (k < ndone && (len == PIECE || (start + len == size && len > 0))) {
        memcpy(out, done[k], ferry_chk_size(alg));
        return 1;
    }
    if (k != ndone || ctx == NULL || start + len != size) {
        return 0;
    }
    return ferry_chk_peek(ctx, out) == FERRY_OK;
}

static int same_key(const ferry_vfs_attr *a, const ferry_vfs_attr *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime == b->mtime &&
           a->mtime_nsec == b->mtime_nsec;
}

int ferry__sftp_run_answer(ferry__sftp_handle *h, const ferry_vfs_attr *st,
                           const ferry_chk_alg *alg, uint64_t start, uint64_t len, uint8_t *out)
{
    ferry__sftp_run *run = h->run;
    if (run == NULL || ferry_chk_alg_of(run->ctx) != alg ||
        (run->reading && !same_key(&run->key, st))) {
        return 0;
    }
    return piece_answer(alg, run->done, run->ndone, run->ctx, run->off, st->size, start, len,
                        out);
}

int ferry__sftp_run_seedable(const ferry__sftp_handle *h, uint64_t size, uint64_t start,
                             uint64_t len)
{
    uint64_t at = h->run != NULL ? h->run->off : 0;
    return writable_run(h) && start == at && start % PIECE == 0 && len > 0 &&
           (len == PIECE || start + len == size);
}

void ferry__sftp_run_seed(ferry__sftp_handle *h, uint64_t start, uint64_t len,
                          const ferry_chk *state)
{
    const ferry_chk_alg *alg = ferry_chk_alg_of(state);
    if (h->run == NULL && (start != 0 || (h->run = run_new(alg)) == NULL)) {
        return;
    }
    ferry__sftp_run *run = h->run;
    ferry_chk *copy = NULL;
    if (run->off != start || ferry_chk_alg_of(run->ctx) != alg ||
        (copy = ferry_chk_dup(state)) == NULL) {
        ferry__sftp_run_drop(h);
        return;
    }
    ferry_chk_free(run->ctx);
    run->ctx = copy;
    run->off = start + len;
    if (len == PIECE && run_next_piece(run) != FERRY_OK) {
        ferry__sftp_run_drop(h);
    }
}

/* ---- the per-session cache of closed files ---- */

void ferry__sftp_hcache_free(S *s)
{
    for (size_t i = 0; i < FERRY__SFTP_HCACHE; i++) {
        free(s->hcache[i].pieces);
        memset(&s->hcache[i], 0, sizeof(s->hcache[i]));
    }
}

static int same_file(const ferry__sftp_hcache *e, const ferry_vfs_attr *st)
{
    return e->pieces != NULL && e->dev == st->dev && e->ino == st->ino && e->size == st->size &&
           e->mtime == st->mtime && e->mtime_nsec == st->mtime_nsec;
}

/* Moves h's run, finished, into the cache under the key of the closed
 * file now at path (the same inode as before the close). */
static void remember(S *s, ferry__sftp_handle *h, const ferry_vfs_attr *before)
{
    ferry__sftp_run *run = h->run;
    ferry_vfs_attr st;
    if (ferry_vfs_stat(s->cfg.vfs, h->path, 1, &st) != FERRY_OK || st.dev != before->dev ||
        st.ino != before->ino || st.size != run->off || st.size == 0 ||
        (run->off % PIECE != 0 && run_next_piece(run) != FERRY_OK)) {
        return;
    }
    ferry__sftp_hcache *e = &s->hcache[s->hcache_next];
    s->hcache_next = (s->hcache_next + 1) % FERRY__SFTP_HCACHE;
    free(e->pieces);
    *e = (ferry__sftp_hcache){.dev = st.dev,
                              .ino = st.ino,
                              .size = st.size,
                              .mtime = st.mtime,
                              .mtime_nsec = st.mtime_nsec,
                              .alg = ferry_chk_alg_of(run->ctx),
                              .pieces = run->done,
                              .n = run->ndone};
    run->done = NULL;
    run->ndone = run->cap = 0;
}

int ferry__sftp_close_file(S *s, ferry__sftp_handle *h, int how)
{
    ferry_vfs_attr before;
    /* a write run of a committed upload, or a read run that read the
     * whole file as it still is */
    int keep = h->run != NULL && (h->run->reading || how == FERRY_VFS_CLOSE_COMMIT) &&
               ferry_vfs_fstat(h->file, &before) == FERRY_OK && before.size == h->run->off &&
               (!h->run->reading || same_key(&h->run->key, &before));
    int rc = ferry_vfs_close(h->file, how | ferry__sftp_close_flags(s));
    h->file = NULL;
    if (rc == FERRY_OK && keep) {
        remember(s, h, &before);
    }
    ferry__sftp_run_release(h);
    return rc;
}

int ferry__sftp_hcache_answer(S *s, const ferry_vfs_attr *st, const ferry_chk_alg *alg,
                              uint64_t start, uint64_t len, uint8_t *out)
{
    for (size_t i = 0; i < FERRY__SFTP_HCACHE; i++) {
        ferry__sftp_hcache *e = &s->hcache[i];
        if (same_file(e, st) && e->alg == alg &&
            piece_answer(alg, e->pieces, e->n, NULL, e->size, st->size, start, len, out)) {
            return 1;
        }
    }
    return 0;
}
