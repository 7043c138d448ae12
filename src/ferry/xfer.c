/* xfer.c: get/reget, put/reput (with -a resume, -f fsync, -p preserve,
 * -R recursion) and copy. Downloads never trust the server's names: a
 * READDIR entry containing '/' or equal to "." / ".." is refused, and
 * set-id bits never reach the local file. */
#include "cmds_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/chk.h"
#include "util/err.h"

#define MAX_DEPTH 64

enum {
    X_RESUME = 1u << 0,
    X_FSYNC = 1u << 1,
    X_PRESERVE = 1u << 2,
    X_RECURSE = 1u << 3,
    X_RECURSE2 = 1u << 4
};

typedef struct xfer_opts {
    int resume, fsync_, preserve, recursive;
} xfer_opts;

static int parse_xfer(ferry_client *cl, int argc, char **argv, xfer_opts *o, int *first)
{
    unsigned f;
    if (ferry__cmd_flags(argc, argv, "afpRr", &f, first) != 0) {
        return -1;
    }
    o->resume = (f & X_RESUME) || cl->resume || strncmp(argv[0], "re", 2) == 0;
    o->fsync_ = (f & X_FSYNC) || cl->fsync_;
    o->preserve = (f & X_PRESERVE) || cl->preserve;
    o->recursive = (f & (X_RECURSE | X_RECURSE2)) || cl->recursive;
    if (argc - *first < 1 || argc - *first > 2) {
        fprintf(stderr, "%s: %s\n", argv[0],
                argc - *first < 1 ? "You must specify at least one path after a command."
                                  : "Too many arguments.");
        return -1;
    }
    return 0;
}

static int safe_name(const char *n)
{
    return n[0] != '\0' && strcmp(n, ".") != 0 && strcmp(n, "..") != 0 && strchr(n, '/') == NULL;
}

/* Per-file messages: off with -q and in batch mode (as OpenSSH). */
static void say(ferry_client *cl, const char *verb, const char *a, const char *b)
{
    if (cl->quiet || cl->batch) {
        return;
    }
    char *ea = ferry_fmt_escape(a), *eb = ferry_fmt_escape(b);
    fprintf(cl->out, "%s %s to %s\n", verb, ea ? ea : "?", eb ? eb : "?");
    fflush(cl->out);
    free(ea);
    free(eb);
}

/* ---- download ---- */

static void set_local_times(int fd, const ferry_sftp_attrs *a)
{
    if (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) {
        struct timespec ts[2] = {{.tv_sec = a->atime}, {.tv_sec = a->mtime}};
        (void)futimens(fd, ts);
    }
}

/* Per-directory messages of recursive transfers: off only with -q. */
static void say_dir(ferry_client *cl, const char *verb, const char *path)
{
    if (cl->quiet) {
        return;
    }
    char *e = ferry_fmt_escape(path);
    fprintf(cl->out, "%s %s\n", verb, e ? e : "?");
    fflush(cl->out);
    free(e);
}

static int open_local_for(ferry_client *cl, const char *local, uint32_t perm, int resume,
                          uint64_t *offset)
{
    mode_t mode = (mode_t)(perm & 0777); /* no set-id, no sticky from a server */
    int fd = open(local, O_RDWR | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC), mode);
    struct stat st;
    (void)cl;
    *offset = 0;
    if (fd < 0) {
        fprintf(stderr, "Couldn't open local file \"%s\" for writing: %s\n", local,
                strerror(errno));
        return -1;
    }
    if (resume && fstat(fd, &st) == 0) {
        *offset = (uint64_t)st.st_size;
    }
    return fd;
}

/* Errors of a step that a reconnect will repeat are not shown. */
static void xerr(ferry_client *cl, const char *what, const char *path, int rc)
{
    if (ferry_sftpc_dead(cl->sftp) && cl->rs.reconnect && cl->rs.redial != NULL) {
        return;
    }
    ferry__cmd_err(cl, what, path, rc);
}

/* Whole-file verification, repeated after a reconnect. */
static int verify(ferry_client *cl, ferry_sftpc_cmp *v, size_t n, const char *const *names)
{
    int rc;
    while ((rc = ferry_resume_verify(cl, v, n, names)) != 0 && ferry_resume_again(cl)) {
    }
    return rc;
}

/* One file's transfer across reconnects. */
typedef struct file_state {
    int again;              /* repeating after a reconnect */
    int have_mark;          /* get: the local file was opened (mark is set) */
    int opened;             /* put: the remote target was opened for writing */
    uint64_t mark;          /* get: every local byte below is good */
    uint64_t acked;         /* put: every WRITE below was acknowledged */
    ferry_sftpc_hashes *hs; /* the local data, hashed as it travelled */
    struct stat src;        /* put: the source when hashing began */
    int have_src;
} file_state;

/* Non-zero if the source file changed since `was` (then what was hashed
 * on the way is not what the file holds: verify against the file). */
static int source_changed(int fd, const struct stat *was)
{
    struct stat now;
    return fstat(fd, &now) != 0 || now.st_size != was->st_size || now.st_ino != was->st_ino ||
           now.st_mtim.tv_sec != was->st_mtim.tv_sec ||
           now.st_mtim.tv_nsec != was->st_mtim.tv_nsec ||
           now.st_ctim.tv_sec != was->st_ctim.tv_sec || now.st_ctim.tv_nsec != was->st_ctim.tv_nsec;
}

/* Opens the local target of a download and decides where to start:
 * after a reconnect at the watermark, with -a at the local size, else
 * at 0 (truncated). The kept part is checked against the server. */
static int get_local(ferry_client *cl, const char *abs, const char *local, const xfer_opts *o,
                     const ferry_sftp_attrs *a, const ferry_buf *h, file_state *st, uint64_t *off)
{
    uint32_t perm = (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) ? a->perm : 0644;
    int again = st->again && st->have_mark; /* else as the first attempt */
    int fd = open_local_for(cl, local, perm, o->resume || again, off);
    if (fd < 0) {
        return -1;
    }
    if (again && *off > st->mark) {
        *off = st->mark; /* past the watermark there may be holes */
    }
    if ((a->flags & SSH_FILEXFER_ATTR_SIZE) && *off > a->size) {
        if (!again) {
            fprintf(stderr,
                    "Unable to resume download of \"%s\": local file is larger than remote\n", abs);
            close(fd);
            return -1;
        }
        *off = 0; /* the remote file shrank: start over */
        ferry_sftpc_hashes_reset(st->hs);
    }
    int pr = ferry_resume_prefix(cl, h, fd, *off, local, abs);
    if (pr < 0) {
        close(fd);
        return -1;
    }
    if (pr == FERRY_PREFIX_MISMATCH) {
        *off = 0;
        ferry_sftpc_hashes_reset(st->hs);
    }
    if ((again || pr == FERRY_PREFIX_MISMATCH) && ftruncate(fd, (off_t)*off) != 0) {
        fprintf(stderr, "Couldn't truncate \"%s\": %s\n", local, strerror(errno));
        close(fd);
        return -1;
    }
    st->mark = *off;
    st->have_mark = 1;
    return fd;
}

/* A STAT and an OPEN of the same path sent before their turn, so the
 * handle is there when it comes (a round trip less): the next large file
 * of a listing during the current one's READs, and a single get's or
 * put's file with the STAT that tells a file from a directory. Opening
 * for reading changes nothing on the server, so such a prefetch nobody
 * takes is closed again; one for writing is only sent where the put
 * truncates the file anyway, and is left open if not taken (a CLOSE
 * would make ferryd commit an empty upload). */
typedef struct xfer_pre {
    char *path; /* NULL: nothing prefetched */
    uint32_t stat_id, open_id;
    unsigned session; /* ferry_sftpc_session when sent */
    int writing;      /* the OPEN was for writing */
    int stat_taken;   /* the STAT's answer is in stat_rc/attrs */
    int stat_rc;
    ferry_sftp_attrs attrs;
} xfer_pre;

/* The prefetched STAT's answer (waited for once). */
static int pre_stat(ferry_client *cl, xfer_pre *pre, ferry_sftp_attrs *a)
{
    if (!pre->stat_taken) {
        pre->stat_rc = ferry_sftpc_stat_wait(cl->sftp, pre->stat_id, &pre->attrs);
        pre->stat_taken = 1;
    }
    *a = pre->attrs;
    return pre->stat_rc;
}

/* Takes the answers to a prefetch nobody will use (closing the handle),
 * unless the session they were sent on is gone. */
static void pre_drop(ferry_client *cl, xfer_pre *pre)
{
    if (pre == NULL || pre->path == NULL) {
        return;
    }
    if (pre->session == ferry_sftpc_session(cl->sftp) && !ferry_sftpc_dead(cl->sftp)) {
        ferry_sftp_attrs a;
        ferry_buf *h = NULL;
        (void)pre_stat(cl, pre, &a);
        if (ferry_sftpc_open_wait(cl->sftp, pre->open_id, &h) == FERRY_OK && !pre->writing) {
            (void)ferry_sftpc_close(cl->sftp, h);
        }
        ferry_buf_free(h);
    }
    free(pre->path);
    pre->path = NULL;
}

static void pre_send_open(ferry_client *cl, xfer_pre *pre, const char *path, uint32_t pflags,
                          const ferry_sftp_attrs *a)
{
    if (pre == NULL || path == NULL || (pre->path != NULL && strcmp(pre->path, path) == 0)) {
        return;
    }
    pre_drop(cl, pre);
    if ((pre->path = strdup(path)) == NULL) {
        return;
    }
    pre->session = ferry_sftpc_session(cl->sftp);
    pre->stat_taken = 0;
    pre->writing = (pflags & SSH_FXF_WRITE) != 0;
    int r = ferry_sftpc_stat_send(cl->sftp, path, &pre->stat_id);
    if (r == FERRY_OK &&
        ferry_sftpc_open_send(cl->sftp, path, pflags, a, &pre->open_id) != FERRY_OK) {
        ferry_sftp_attrs st;
        (void)ferry_sftpc_stat_wait(cl->sftp, pre->stat_id, &st); /* not left in its slot */
        r = FERRY_E_INTERNAL;
    }
    if (r != FERRY_OK) {
        free(pre->path);
        pre->path = NULL;
    }
}

static void pre_send(ferry_client *cl, xfer_pre *pre, const char *path)
{
    pre_send_open(cl, pre, path, SSH_FXF_READ, NULL);
}

/* 1 when `path` was prefetched on this session: the OPEN's id to wait
 * for in *open_id, the STAT's answer in *sr and *a. */
static int pre_take(ferry_client *cl, xfer_pre *pre, const char *path, uint32_t *open_id, int *sr,
                    ferry_sftp_attrs *a)
{
    if (pre == NULL || pre->path == NULL || strcmp(pre->path, path) != 0) {
        return 0;
    }
    if (pre->session != ferry_sftpc_session(cl->sftp)) {
        pre_drop(cl, pre);
        return 0;
    }
    *sr = pre_stat(cl, pre, a);
    *open_id = pre->open_id;
    free(pre->path);
    pre->path = NULL;
    return 1;
}

/* A transfer's verification and CLOSE sent right behind its last READ
 * or WRITE: one round trip less per file. Only with ferryd (its checksum
 * is offered), which answers check-file from what the transfer hashed,
 * whose READs are whole but at the end — were one short, or the file
 * longer than its STAT said, the download goes on with a new handle —
 * and which never puts an upload with a failed WRITE in place at CLOSE.
 * A download asks check-file-handle, then closes; an upload closes, then
 * asks check-file-name (ferryd answers from what it cached at CLOSE). */
typedef struct early_check {
    ferry_client *cl;
    const ferry_buf *h;
    int upload;
    int verify; /* 0: the CLOSE alone (early_close_only) */
    ferry_sftpc_cmp j;
    ferry_sftpc_cmp_run *run; /* NULL: nothing sent */
    uint32_t close_id;        /* 0: no CLOSE sent */
} early_check;

static void early_send(void *ctx)
{
    early_check *e = ctx;
    ferry_sftpc *c = e->cl->sftp;
    if ((e->upload || !e->verify) && ferry_sftpc_close_send(c, e->h, &e->close_id) != FERRY_OK) {
        e->close_id = 0;
        return;
    }
    if (e->verify && ferry_sftpc_compare_begin(c, &e->j, 1, &e->run) == FERRY_OK && !e->upload &&
        ferry_sftpc_close_send(c, e->h, &e->close_id) != FERRY_OK) {
        e->close_id = 0;
    }
}

/* No verification by hash follows a transfer (the server offers none, or
 * VerifyTransfers is off): then its CLOSE alone goes right behind the
 * last READ or WRITE, whatever the server — it serves requests on one
 * handle in order (filexfer-02 s6) — and a download that turns out
 * longer or short goes on with a new handle as above. */
static int early_close_only(ferry_client *cl)
{
    return !(cl->rs.verify &&
             (ferry_sftpc_can_hash(cl->sftp, 0) || ferry_sftpc_can_hash(cl->sftp, 1)));
}

/* The server is ferryd (its checksum is offered) and transfers are
 * verified: what early_check and early_batch rely on. */
static int early_server(ferry_client *cl)
{
    return cl->rs.verify && ferry_sftpc_can_hash(cl->sftp, 0) &&
           strcmp(ferry_sftpc_hash_name(cl->sftp), FERRY_CHK_POLY_NAME) == 0;
}

/* ... and a file of `size` bytes is checked by handle in one flight. */
static int early_possible(ferry_client *cl, uint64_t size)
{
    return early_server(cl) && ferry_sftpc_can_hash(cl->sftp, 1) && size > 0 &&
           ferry_sftpc_hash_pieces(size) <= FERRY_SFTPC_HASH_WINDOW;
}

static int get_file_once(ferry_client *cl, const char *abs, const char *local, const xfer_opts *o,
                         file_state *st, xfer_pre *pre, const char *next)
{
    ferry_buf *h = NULL;
    ferry_sftp_attrs a = {0};
    ferry_progress p;
    uint64_t off = 0, total = 0;
    int fd = -1, rc = -1;
    /* the path's STAT goes out with the OPEN: one round trip for both (an
     * FSTAT needs the handle first); FSTAT only if the STAT failed. In a
     * listing both may have gone out with the previous file's READs. */
    uint32_t stat_id = 0, open_id = 0;
    int sr = FERRY_OK, r = FERRY_OK;
    int taken = pre_take(cl, pre, abs, &open_id, &sr, &a);
    if (!taken) {
        sr = ferry_sftpc_stat_send(cl->sftp, abs, &stat_id);
        r = ferry_sftpc_open_send(cl->sftp, abs, SSH_FXF_READ, NULL, &open_id);
    }
    r = r == FERRY_OK ? ferry_sftpc_open_wait(cl->sftp, open_id, &h) : r;
    sr = sr == FERRY_OK && !taken ? ferry_sftpc_stat_wait(cl->sftp, stat_id, &a) : sr;
    if (r != FERRY_OK) {
        xerr(cl, "Couldn't open remote file", abs, r);
        return -1;
    }
    if (sr != FERRY_OK && (r = ferry_sftpc_fstat(cl->sftp, h, &a)) != FERRY_OK) {
        xerr(cl, "Couldn't stat remote file", abs, r);
        goto out;
    }
    if ((a.flags & SSH_FILEXFER_ATTR_PERMISSIONS) && !S_ISREG(a.perm)) {
        fprintf(stderr, "Cannot download non-regular file: %s\n", abs);
        goto out;
    }
    if ((fd = get_local(cl, abs, local, o, &a, h, st, &off)) < 0) {
        goto out;
    }
    if (!st->again) {
        say(cl, o->resume && off ? "Resuming" : "Fetching", abs, local);
    }
    ferry_progress_start(&p, cl->progress && !cl->quiet, ferry_path_base(abs),
                         (a.flags & SSH_FILEXFER_ATTR_SIZE) ? a.size : 0, off);
    p.limit_kbps = cl->limit_kbps;
    pre_send(cl, pre, next); /* in the same flight as the READs */
    int sized = (a.flags & SSH_FILEXFER_ATTR_SIZE) != 0;
    early_check ec = {.cl = cl,
                      .h = h,
                      .verify = off == 0 && sized && early_possible(cl, a.size),
                      .j = {.handle = h, .fd = fd, .len = a.size, .known = st->hs}};
    int early = ec.verify || (sized && early_close_only(cl));
    ferry_sftpc_set_after_last(cl->sftp, early ? early_send : NULL, &ec);
    ferry_sftpc_set_stream_hash(cl->sftp, st->hs);
    r = ferry_sftpc_download_sized(cl->sftp, h, fd, off,
                                   (a.flags & SSH_FILEXFER_ATTR_SIZE) ? a.size : UINT64_MAX,
                                   ferry_progress_update, &p, &total);
    ferry_sftpc_set_after_last(cl->sftp, NULL, NULL);
    int vr = 0, verified = 0;
    if (ec.run != NULL || ec.close_id != 0) {
        /* the answers to what early_send sent are taken in any case */
        int cr = ec.run != NULL ? ferry_sftpc_compare_end(cl->sftp, ec.run) : FERRY_OK;
        int clr = ec.close_id != 0 ? ferry_sftpc_close_wait(cl->sftp, ec.close_id) : FERRY_E_CLOSED;
        if (ec.close_id != 0) {
            ferry_buf_free(h);
            h = NULL; /* closed: not again below */
        }
        if (r == FERRY_OK && total == a.size && clr == FERRY_OK) {
            /* without a check-file sent, nothing is verified by hash here */
            vr = ec.run != NULL ? ferry_resume_report(cl, &ec.j, 1, &abs, cr) : 0;
            verified = 1;
        } else if ((r == FERRY_OK || r == FERRY_E_INCOMPLETE) && !ferry_sftpc_dead(cl->sftp)) {
            /* longer, shorter or cut short: the rest on a new handle */
            ferry_buf_free(h);
            h = NULL;
            r = ferry_sftpc_open(cl->sftp, abs, SSH_FXF_READ, NULL, &h);
            r = r == FERRY_OK ? ferry_sftpc_download_sized(cl->sftp, h, fd, total, UINT64_MAX,
                                                           ferry_progress_update, &p, &total)
                              : r;
        }
    }
    ferry_sftpc_set_stream_hash(cl->sftp, NULL);
    ferry_progress_end(&p);
    cl->rs.progressed |= total > off;
    st->mark = total;
    if (r == FERRY_E_NO_SPACE) {
        /* the local pwrite failed (no SFTP status maps to NO_SPACE) */
        fprintf(stderr, "write local \"%s\": %s\n", local, strerror(ENOSPC));
        goto out;
    }
    if (r != FERRY_OK) {
        xerr(cl, "Couldn't read from remote file", abs, r);
        goto out;
    }
    /* with check-file-name, CLOSE and the verification by name go out
     * together (ferryd answers it from the read's running checksum, kept
     * at CLOSE): one round trip less */
    ferry_sftpc_cmp j = {.handle = h, .fd = fd, .len = total, .known = st->hs};
    uint32_t close_id = 0;
    if (!verified && cl->rs.verify && ferry_sftpc_can_hash(cl->sftp, 0) &&
        ferry_sftpc_close_send(cl->sftp, h, &close_id) == FERRY_OK) {
        j.handle = NULL;
        j.path = abs;
    }
    if (!verified) {
        vr = ferry_resume_verify(cl, &j, 1, &abs);
    }
    if (close_id != 0) {
        ferry_buf_free(h);
        h = NULL; /* closed: not again below */
        r = ferry_sftpc_close_wait(cl->sftp, close_id);
        if (r != FERRY_OK && ferry_sftpc_dead(cl->sftp)) {
            vr = -1;
        }
    }
    if (vr != 0) {
        goto out;
    }
    uint32_t perm = (a.flags & SSH_FILEXFER_ATTR_PERMISSIONS) ? a.perm : 0644;
    if (o->preserve) {
        (void)fchmod(fd, (mode_t)(perm & 0777));
        set_local_times(fd, &a);
    }
    if (o->fsync_ && fsync(fd) != 0) {
        fprintf(stderr, "Couldn't sync file \"%s\": %s\n", local, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        rc = -1;
    }
    if (h != NULL && ferry_sftpc_close(cl->sftp, h) != FERRY_OK && rc == 0 &&
        ferry_sftpc_dead(cl->sftp)) {
        rc = -1;
    }
    ferry_buf_free(h);
    return rc;
}

static int get_file(ferry_client *cl, const char *abs, const char *local, const xfer_opts *o,
                    xfer_pre *pre, const char *next)
{
    file_state st = {0};
    int rc;
    if (ferry_sftpc_can_hash(cl->sftp, 1) || ferry_sftpc_can_hash(cl->sftp, 0)) {
        (void)ferry_sftpc_hashes_new(cl->sftp, &st.hs); /* without it: read again later */
    }
    while ((rc = get_file_once(cl, abs, local, o, &st, pre, next)) != 0 && ferry_resume_again(cl)) {
        st.again = 1;
    }
    ferry_sftpc_hashes_free(st.hs);
    return rc;
}

static int get_any(ferry_client *cl, const char *abs, const char *local, const xfer_opts *o,
                   const ferry_sftp_attrs *a, int depth, xfer_pre *pre, uint32_t dir_id,
                   const char *next);

/* Small regular files of a listing are fetched in pipelined batches
 * (ferry_sftpc_download_small). */
typedef struct get_batch {
    ferry_sftpc_small_get v[FERRY_SFTPC_SMALL_BATCH];
    ferry_sftp_attrs a[FERRY_SFTPC_SMALL_BATCH];
    char *local[FERRY_SFTPC_SMALL_BATCH];
    size_t n;
    uint64_t bytes; /* listed sizes of the n files */
} get_batch;

/* A batch goes out once it holds FERRY_SFTPC_SMALL_BATCH files or about
 * FERRY_SFTPC_SMALL_BYTES of data (what waits in memory at once). */
static int batch_full(size_t n, uint64_t bytes)
{
    return n == FERRY_SFTPC_SMALL_BATCH || bytes >= FERRY_SFTPC_SMALL_BYTES;
}

/* A batch's verification sent right behind its last CLOSE (ferryd only,
 * as early_check: it answers check-file-name in order, after the CLOSEs):
 * the batch's own round trip for it is gone. The jobs are the files
 * opened (downloads: at their listed size; the CLOSEs follow the READs
 * before any data is back) or sent whole when the CLOSEs went out; a
 * file that failed later, or arrived at another size, is left out (the
 * usual verification then). */
typedef struct early_batch {
    ferry_client *cl;
    const ferry_sftpc_small_get *get; /* one of the two batches */
    const ferry_sftpc_small *put;
    size_t n;
    ferry_sftpc_cmp v[FERRY_SFTPC_SMALL_BATCH];
    size_t job[FERRY_SFTPC_SMALL_BATCH]; /* batch index -> v index + 1, 0: none */
    size_t nv;
    ferry_sftpc_cmp_run *run;
} early_batch;

static void early_batch_send(void *ctx);

/* An early_batch for the batch about to go out (get or put), armed with
 * ferryd; NULL when out of memory (the usual verification then). */
static early_batch *early_batch_arm(ferry_client *cl, const ferry_sftpc_small_get *get,
                                    const ferry_sftpc_small *put, size_t n)
{
    early_batch *e = calloc(1, sizeof(*e));
    if (e != NULL) {
        *e = (early_batch){.cl = cl, .get = get, .put = put, .n = n};
        ferry_sftpc_set_after_last(cl->sftp, early_server(cl) ? early_batch_send : NULL, e);
    }
    return e;
}

static void early_batch_send(void *ctx)
{
    early_batch *e = ctx;
    for (size_t i = 0; i < e->n; i++) {
        int ok = e->get ? e->get[i].result == FERRY_OK : e->put[i].result == FERRY_OK;
        e->job[i] = ok ? e->nv + 1 : 0;
        if (ok) {
            e->v[e->nv++] = e->get ? (ferry_sftpc_cmp){.path = e->get[i].path,
                                                       .fd = e->get[i].fd,
                                                       .len = e->get[i].size}
                                   : (ferry_sftpc_cmp){.path = e->put[i].path,
                                                       .fd = e->put[i].fd,
                                                       .len = e->put[i].sent};
        }
    }
    (void)ferry_sftpc_compare_begin(e->cl->sftp, e->v, e->nv, &e->run);
}

/* The verification of the batch's files v[0..nv) (src[k]: batch index of
 * v[k]): the early answers when they came for every one of them, else the
 * usual way. Frees e (may be NULL). */
static int batch_verify(ferry_client *cl, early_batch *e, ferry_sftpc_cmp *v, const size_t *src,
                        size_t nv, const char *const *names)
{
    int er = e != NULL && e->run != NULL ? ferry_sftpc_compare_end(cl->sftp, e->run)
                                         : FERRY_E_UNSUPPORTED;
    for (size_t k = 0; k < nv && er == FERRY_OK; k++) {
        size_t j = e->job[src[k]];
        if (j == 0 || e->v[j - 1].len != v[k].len || e->v[j - 1].fd != v[k].fd) {
            er = FERRY_E_UNSUPPORTED; /* not among the early jobs */
        } else {
            v[k].result = e->v[j - 1].result;
            v[k].same = e->v[j - 1].same;
        }
    }
    free(e);
    return er == FERRY_OK ? ferry_resume_report(cl, v, nv, names, FERRY_OK)
                          : verify(cl, v, nv, names);
}

static int gbatch_flush(ferry_client *cl, get_batch *b, const xfer_opts *o)
{
    ferry_sftpc_cmp v[FERRY_SFTPC_SMALL_BATCH]; /* verified at the end */
    const char *names[FERRY_SFTPC_SMALL_BATCH];
    size_t src[FERRY_SFTPC_SMALL_BATCH];
    size_t nv = 0;
    int rc = 0, r = FERRY_OK;
    early_batch *eb = early_batch_arm(cl, b->v, NULL, b->n);
    if (b->n > 0) {
        r = ferry_sftpc_download_small(cl->sftp, b->v, b->n);
    }
    ferry_sftpc_set_after_last(cl->sftp, NULL, NULL);
    /* connection lost: the files that did not arrive go the normal way */
    int redo = r != FERRY_OK && ferry_resume_again(cl);
    if (r != FERRY_OK && !redo) {
        rc = -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        ferry_sftpc_small_get *it = &b->v[i];
        if (it->result != FERRY_OK && redo) {
            close(it->fd);
            it->fd = -1;
            if (get_file(cl, it->path, b->local[i], o, NULL, NULL) != 0) {
                rc = -1;
            }
        } else if (it->result != FERRY_OK) {
            xerr(cl, "Couldn't download file", it->path, it->result);
            rc = -1;
        } else {
            if (o->preserve) {
                (void)fchmod(it->fd, (mode_t)(b->a[i].perm & 0777));
                set_local_times(it->fd, &b->a[i]);
            }
            if (o->fsync_ && fsync(it->fd) != 0) {
                rc = -1;
            }
            v[nv] = (ferry_sftpc_cmp){.path = it->path, .fd = it->fd, .len = it->got};
            src[nv] = i;
            names[nv++] = it->path;
        }
    }
    if (batch_verify(cl, eb, v, src, nv, names) != 0) {
        rc = -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i].fd >= 0 && close(b->v[i].fd) != 0) {
            rc = -1;
        }
        free(b->local[i]);
        free((char *)b->v[i].path);
    }
    b->n = 0;
    b->bytes = 0;
    return rc;
}

/* Whether a listed entry is a regular file small enough for a batch. */
static int batchable(ferry_client *cl, const ferry_sftp_attrs *a, const xfer_opts *o)
{
    uint32_t need = SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_SIZE;
    uint64_t cap = ferry_sftpc_read_size(cl->sftp);
    return !o->resume && (a->flags & need) == need && S_ISREG(a->perm) &&
           a->size <= FERRY_SFTPC_SMALL_MAX && a->size < FERRY_SFTPC_SMALL_READS * cap;
}

/* A listed regular file that goes the normal way (one at a time). */
static int large_file(ferry_client *cl, const ferry_sftp_attrs *a, const xfer_opts *o)
{
    return (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) && S_ISREG(a->perm) && !batchable(cl, a, o);
}

/* 1 if the entry joined the batch, 0 if it goes the normal way, -1 on
 * error. */
static int gbatch_add(ferry_client *cl, get_batch *b, const char *ra, const char *la,
                      const ferry_sftp_attrs *a, const xfer_opts *o)
{
    uint64_t off = 0;
    if (!batchable(cl, a, o)) {
        return 0;
    }
    int fd = open_local_for(cl, la, a->perm, 0, &off);
    if (fd < 0) {
        return -1;
    }
    size_t i = b->n;
    b->a[i] = *a;
    b->local[i] = strdup(la);
    b->v[i] = (ferry_sftpc_small_get){.path = strdup(ra), .size = a->size, .fd = fd};
    if (b->local[i] == NULL || b->v[i].path == NULL) {
        free(b->local[i]);
        free((char *)b->v[i].path);
        close(fd);
        return -1;
    }
    say(cl, "Fetching", ra, la);
    b->n++;
    b->bytes += a->size;
    return 1;
}

/* One entry of a remote listing (name already checked); `next` is the
 * path of the listing's next large file, opened early (pre). */
static int get_entry(ferry_client *cl, get_batch *b, const char *abs, const char *local,
                     const ferry_sftpc_name *e, const xfer_opts *o, int depth, xfer_pre *pre,
                     const char *next, uint32_t dir_id)
{
    char *ra = ferry_path_join(abs, e->name), *la = ferry_path_join(local, e->name);
    int rc = ra && la ? gbatch_add(cl, b, ra, la, &e->attrs, o) : -1;
    if (dir_id != 0 && (rc != 0 || large_file(cl, &e->attrs, o))) {
        ferry_sftpc_opendir_drop(cl->sftp, dir_id); /* (a directory is neither) */
        dir_id = 0;
    }
    if (rc == 0 && large_file(cl, &e->attrs, o)) {
        rc = get_file(cl, ra, la, o, pre, next);
    } else if (rc == 0) {
        rc = get_any(cl, ra, la, o, &e->attrs, depth + 1, NULL, dir_id, NULL);
    } else if (rc == 1) {
        rc = batch_full(b->n, b->bytes) ? gbatch_flush(cl, b, o) : 0;
    }
    free(ra);
    free(la);
    return rc;
}

/* The index of the listing's first subdirectory from i on (n: none). */
static size_t next_subdir(const ferry_sftpc_name *names, size_t n, size_t i)
{
    for (; i < n; i++) {
        const ferry_sftpc_name *e = &names[i];
        if (ferry_sftp_attrs_is_dir(&e->attrs) && strcmp(e->name, ".") != 0 &&
            strcmp(e->name, "..") != 0 && safe_name(e->name)) {
            break;
        }
    }
    return i;
}

/* Sends the OPENDIR of subdirectory names[k] of abs (none if k == n):
 * its id, 0 if not sent; *session tells which session it belongs to. */
static uint32_t opendir_ahead(ferry_client *cl, const char *abs, const ferry_sftpc_name *names,
                              size_t n, size_t k, unsigned *session)
{
    uint32_t id = 0;
    char *p = k < n ? ferry_path_join(abs, names[k].name) : NULL;
    if (p == NULL || ferry_sftpc_opendir_send(cl->sftp, p, &id) != FERRY_OK) {
        id = 0;
    }
    free(p);
    *session = ferry_sftpc_session(cl->sftp);
    return id;
}

/* The mode a downloaded directory is made with, as OpenSSH's sftp: the
 * remote one's permissions (the umask still applies), always writable
 * and searchable by us, so that its contents can be written. */
static mode_t dir_mode(const ferry_sftp_attrs *da)
{
    mode_t m = (da != NULL && (da->flags & SSH_FILEXFER_ATTR_PERMISSIONS))
                   ? (mode_t)(da->perm & 01777)
                   : 0777;
    return m | S_IRWXU;
}

/* dir_id: the directory's OPENDIR if it went out already (0: not). The
 * OPENDIR of each subdirectory goes out when the one before it is
 * entered (the first with the listing), so its handle is there when its
 * turn comes: one round trip less per directory, one handle more per
 * level at most. */
static int get_dir(ferry_client *cl, const char *abs, const char *local, const xfer_opts *o,
                   const ferry_sftp_attrs *da, int depth, uint32_t dir_id)
{
    ferry_sftpc_name *names = NULL;
    size_t n = 0;
    int rc = 0;
    struct stat st;
    if (depth > MAX_DEPTH) {
        fprintf(stderr, "Maximum directory depth exceeded\n");
        rc = -1;
    } else if (mkdir(local, dir_mode(da)) != 0 &&
               !(errno == EEXIST && stat(local, &st) == 0 && S_ISDIR(st.st_mode))) {
        fprintf(stderr, "mkdir %s: %s\n", local, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        if (dir_id != 0) {
            ferry_sftpc_opendir_drop(cl->sftp, dir_id);
        }
        return rc;
    }
    say_dir(cl, "Retrieving", abs);
    int r = dir_id != 0 ? ferry_sftpc_readdir_wait(cl->sftp, dir_id, 0, &names, &n)
                        : ferry_sftpc_readdir_all(cl->sftp, abs, 0, &names, &n);
    while (r != FERRY_OK && ferry_resume_again(cl)) {
        r = ferry_sftpc_readdir_all(cl->sftp, abs, 0, &names, &n);
    }
    if (r != FERRY_OK) {
        xerr(cl, "Couldn't read directory", abs, r);
        return -1;
    }
    get_batch *b = calloc(1, sizeof(*b));
    xfer_pre pre = {0};
    unsigned ahead_session;
    size_t sub = next_subdir(names, n, 0);
    uint32_t ahead = opendir_ahead(cl, abs, names, n, sub, &ahead_session);
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i].name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0) {
            continue;
        }
        if (!safe_name(nm)) {
            char *e = ferry_fmt_escape(nm);
            fprintf(stderr, "download_dir: server sent suspect path \"%s\"\n", e ? e : "?");
            free(e);
            rc = -1;
            continue;
        }
        char *next = NULL; /* the next large file, if this is one */
        for (size_t j = i + 1; j < n && large_file(cl, &names[i].attrs, o) && next == NULL; j++) {
            if (safe_name(names[j].name) && large_file(cl, &names[j].attrs, o)) {
                next = ferry_path_join(abs, names[j].name);
            }
        }
        uint32_t did = 0;
        if (i == sub) { /* this one's OPENDIR is out: the next one's goes now */
            did = ahead_session == ferry_sftpc_session(cl->sftp) ? ahead : 0;
            sub = next_subdir(names, n, i + 1);
            ahead = opendir_ahead(cl, abs, names, n, sub, &ahead_session);
        }
        if (b == NULL && did != 0) {
            ferry_sftpc_opendir_drop(cl->sftp, did);
        }
        if (b == NULL || get_entry(cl, b, abs, local, &names[i], o, depth, &pre, next, did) != 0) {
            rc = -1;
        }
        free(next);
    }
    if (ahead != 0 && ahead_session == ferry_sftpc_session(cl->sftp)) {
        ferry_sftpc_opendir_drop(cl->sftp, ahead);
    }
    pre_drop(cl, &pre);
    if (b == NULL || gbatch_flush(cl, b, o) != 0) {
        rc = -1;
    }
    free(b);
    ferry_sftpc_names_free(names, n);
    if (o->preserve && (da->flags & SSH_FILEXFER_ATTR_PERMISSIONS)) {
        (void)chmod(local, (mode_t)(da->perm & 0777));
    }
    if (o->preserve && (da->flags & SSH_FILEXFER_ATTR_ACMODTIME)) {
        struct timespec ts[2] = {{.tv_sec = da->atime}, {.tv_sec = da->mtime}};
        (void)utimensat(AT_FDCWD, local, ts, 0);
    }
    return rc;
}

/* dir_id: an OPENDIR of abs already sent (0: none), taken by get_dir or
 * else dropped (its handle closed); next: the path whose STAT and OPEN
 * go out with a file's READs (the next of several), or NULL. */
static int get_any(ferry_client *cl, const char *abs, const char *local, const xfer_opts *o,
                   const ferry_sftp_attrs *a, int depth, xfer_pre *pre, uint32_t dir_id,
                   const char *next)
{
    int isdir = ferry_sftp_attrs_is_dir(a);
    if (dir_id != 0 && !(isdir && o->recursive)) {
        ferry_sftpc_opendir_drop(cl->sftp, dir_id);
    }
    if (!(a->flags & SSH_FILEXFER_ATTR_PERMISSIONS)) {
        return get_file(cl, abs, local, o, pre, next);
    }
    if (isdir) {
        if (!o->recursive) {
            fprintf(stderr, "Cannot download non-regular file: %s\n", abs);
            return -1;
        }
        return get_dir(cl, abs, local, o, a, depth, dir_id);
    }
    if (S_ISREG(a->perm)) {
        return get_file(cl, abs, local, o, pre, next);
    }
    if (depth > 0) {
        fprintf(stderr, "download \"%s\": not a regular file\n", abs);
        return 0;
    }
    return get_file(cl, abs, local, o, pre, next);
}

static int local_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int ferry__cmd_get(ferry_client *cl, int argc, char **argv)
{
    xfer_opts o;
    char **v = NULL;
    char *dst = NULL;
    int first, n, rc = 0;
    if (parse_xfer(cl, argc, argv, &o, &first) != 0) {
        return -1;
    }
    /* a connection lost while idle is noticed (and rebuilt) here */
    while ((n = ferry__cmd_glob(cl, argv[first], &v)) < 0 && ferry_resume_again(cl)) {
    }
    if (n < 0) {
        return -1;
    }
    if (first + 1 < argc && (dst = ferry_glob_unescape(argv[first + 1])) == NULL) {
        ferry_glob_free(v, n);
        return -1;
    }
    int dst_dir = dst != NULL && local_is_dir(dst);
    if (n > 1 && dst != NULL && !dst_dir) {
        fprintf(stderr, "Multiple source paths, but destination \"%s\" is not a directory\n", dst);
        rc = -1;
    }
    xfer_pre pre = {0};
    for (int i = 0; rc == 0 && i < n; i++) {
        char *abs = ferry_path_abs(cl, v[i]);
        /* the next of several files is opened during this one's READs */
        char *next = i + 1 < n && !o.recursive ? ferry_path_abs(cl, v[i + 1]) : NULL;
        const char *base = ferry_path_base(v[i]);
        char *local = dst == NULL ? strdup(base)
                      : dst_dir   ? ferry_path_join(dst, base)
                                  : strdup(dst);
        /* a plain get sends the file's OPEN with the STAT that tells a
         * file from a directory: one round trip less (-r expects a
         * directory: no OPEN of it) */
        /* ... and get -r sends the OPENDIR with it (it fails on a file) */
        ferry_sftp_attrs a;
        uint32_t did = 0;
        unsigned session = ferry_sftpc_session(cl->sftp);
        if (pre.path != NULL && pre.session != session) {
            pre_drop(cl, &pre); /* sent on a session since lost */
        }
        if (abs != NULL && !o.recursive) {
            pre_send(cl, &pre, abs); /* (nothing new if it went with the last file's READs) */
        }
        int r = abs == NULL        ? FERRY_E_ALLOC
                : pre.path != NULL ? pre_stat(cl, &pre, &a)
                                   : ferry__cmd_stat_dir(cl, abs, o.recursive, &a, &did);
        while (r != FERRY_OK && abs != NULL && ferry_resume_again(cl)) {
            r = ferry_sftpc_stat(cl->sftp, abs, &a);
        }
        did = session == ferry_sftpc_session(cl->sftp) ? did : 0; /* lost with its session */
        int bad = local == NULL || (dst == NULL || dst_dir ? !safe_name(base) : 0);
        if (did != 0 && bad) {
            ferry_sftpc_opendir_drop(cl->sftp, did); /* not taken: its handle closed */
        }
        if (bad) {
            fprintf(stderr, "Cannot download \"%s\": bad name\n", v[i]);
            rc = -1;
        } else if (r != FERRY_OK) {
            xerr(cl, "Couldn't stat remote file", abs, r);
            rc = -1;
        } else if (get_any(cl, abs, local, &o, &a, 0, &pre, did, next) != 0) {
            rc = -1;
        }
        free(next);
        free(abs);
        free(local);
    }
    pre_drop(cl, &pre);
    ferry_glob_free(v, n);
    free(dst);
    return rc;
}

/* ---- upload ---- */

/* "<dir>/.<name>.ferry-partial": where ferryd keeps an interrupted
 * atomic upload (partial-upload@ferry.dev). New heap string. */
static char *partial_name(const char *rabs)
{
    const char *base = ferry_path_base(rabs);
    size_t dl = (size_t)(base - rabs);
    size_t n = dl + strlen(base) + sizeof(".ferry-partial") + 1;
    char *p = malloc(n);
    if (p != NULL) {
        snprintf(p, n, "%.*s.%s.ferry-partial", (int)dl, rabs, base);
    }
    return p;
}

enum { KEPT_NONE = 0, KEPT_PARTIAL, KEPT_IN_PLACE };

/* Size of a remote regular file: FERRY_OK, NOT_FOUND, or an error. */
static int remote_size(ferry_client *cl, const char *path, uint64_t *size)
{
    ferry_sftp_attrs a;
    int r = ferry_sftpc_stat(cl->sftp, path, &a);
    if (r == FERRY_OK && (!(a.flags & SSH_FILEXFER_ATTR_SIZE) ||
                          ((a.flags & SSH_FILEXFER_ATTR_PERMISSIONS) && !S_ISREG(a.perm)))) {
        r = FERRY_E_NOT_FOUND;
    }
    *size = r == FERRY_OK ? a.size : 0;
    return r;
}

/* Finds what an earlier attempt left on the server: ferryd's partial
 * (waiting a little for the old session to notice the loss and keep
 * it), else, with -a or against a server writing in place, the file
 * under its final name. KEPT_*, or -1 when the session failed. */
static int find_kept(ferry_client *cl, const char *rabs, const xfer_opts *o, const file_state *st,
                     char **partial, uint64_t *off)
{
    int has_partial = ferry_sftpc_has_ext(cl->sftp, "partial-upload@ferry.dev");
    int r;
    *partial = NULL;
    if (has_partial && (*partial = partial_name(rabs)) != NULL) {
        int tries = st->again && st->acked > 0 ? 15 : 1;
        for (int i = 0; i < tries; i++) {
            if ((r = remote_size(cl, *partial, off)) == FERRY_OK) {
                return KEPT_PARTIAL;
            }
            if (r != FERRY_E_NOT_FOUND || ferry_sftpc_dead(cl->sftp)) {
                break;
            }
            if (i + 1 < tries) {
                struct timespec ts = {.tv_nsec = 200 * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
        free(*partial);
        *partial = NULL;
    }
    if (ferry_sftpc_dead(cl->sftp)) {
        return -1;
    }
    if (o->resume || !has_partial) {
        r = remote_size(cl, rabs, off);
        if (r == FERRY_OK) {
            return KEPT_IN_PLACE;
        }
        return ferry_sftpc_dead(cl->sftp) ? -1 : KEPT_NONE;
    }
    return KEPT_NONE;
}

/* Opens the kept part (READ too, for its hash) to write on and checks
 * it: 0 (continue at *off), 1 (it does not match: start over), -1. */
static int open_kept(ferry_client *cl, int fd, const struct stat *st_, const char *rabs,
                     const char *partial, uint64_t off, ferry_sftpc_hashes *hs, ferry_buf **h)
{
    const char *target = partial ? partial : rabs;
    int r = ferry_sftpc_open(cl->sftp, target, SSH_FXF_READ | SSH_FXF_WRITE, NULL, h);
    if (r == FERRY_E_PERMISSION) { /* upload-only: no READ */
        r = ferry_sftpc_open(cl->sftp, target, SSH_FXF_WRITE, NULL, h);
    }
    if (r != FERRY_OK) {
        xerr(cl, "Couldn't open remote file", target, r);
        return -1;
    }
    int pr = off > (uint64_t)st_->st_size ? ferry_resume_mismatch(rabs)
                                          : ferry_resume_prefix(cl, *h, fd, off, rabs, rabs);
    if (pr != FERRY_PREFIX_MISMATCH) {
        return pr < 0 ? -1 : 0;
    }
    (void)ferry_sftpc_close(cl->sftp, *h);
    ferry_buf_free(*h);
    *h = NULL;
    ferry_sftpc_hashes_reset(hs); /* the local file may have changed */
    return 1;
}

/* Opens the remote target: the kept part when it checks out, else a
 * fresh upload (*kept becomes KEPT_NONE). -2 when -a finds a larger
 * remote file. */
static int put_open(ferry_client *cl, const char *local, int fd, const struct stat *st_,
                    const char *rabs, const char *partial, int *kept, uint64_t *off,
                    const ferry_sftp_attrs *a, ferry_sftpc_hashes *hs, ferry_buf **h, xfer_pre *pre)
{
    if (*kept == KEPT_IN_PLACE && *off > (uint64_t)st_->st_size) {
        fprintf(stderr, "Unable to resume upload of \"%s\": remote file is larger than local\n",
                local);
        return -2;
    }
    if (*kept != KEPT_NONE) {
        int r = open_kept(cl, fd, st_, rabs, partial, *off, hs, h);
        if (r <= 0) {
            return r;
        }
        *kept = KEPT_NONE;
        *off = 0;
    }
    uint32_t open_id = 0;
    int sr = FERRY_OK;
    ferry_sftp_attrs pa;
    int r =
        pre_take(cl, pre, rabs, &open_id, &sr, &pa)
            ? ferry_sftpc_open_wait(cl->sftp, open_id, h)
            : ferry_sftpc_open(cl->sftp, rabs, SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, a, h);
    if (r != FERRY_OK) {
        xerr(cl, "Couldn't open remote file", rabs, r);
        return -1;
    }
    return 0;
}

/* A finished partial takes the final name (posix-rename replaces it;
 * plain RENAME does not, so an old file is removed first). */
static int put_rename(ferry_client *cl, const char *partial, const char *rabs)
{
    int r;
    if (ferry_sftpc_has_ext(cl->sftp, "posix-rename@openssh.com")) {
        r = ferry_sftpc_rename(cl->sftp, partial, rabs, 1);
    } else {
        (void)ferry_sftpc_remove(cl->sftp, rabs);
        r = ferry_sftpc_rename(cl->sftp, partial, rabs, 0);
    }
    if (r != FERRY_OK) {
        xerr(cl, "Couldn't rename the finished upload to", rabs, r);
        return -1;
    }
    return 0;
}

/* Writes from `off`, then attributes, fsync and CLOSE; with close_id,
 * after a clean run the CLOSE is only sent (its id there, 0 otherwise):
 * the caller takes its status with ferry_sftpc_close_wait. */
static int put_data(ferry_client *cl, const char *local, int fd, const struct stat *st_,
                    const char *rabs, ferry_buf *h, uint64_t off, int kept, const xfer_opts *o,
                    ferry_sftp_attrs *a, file_state *fs, uint32_t *close_id, early_check *ec)
{
    ferry_progress p;
    uint64_t acked = off;
    int rc = -1, r;
    ferry_progress_start(&p, cl->progress && !cl->quiet, ferry_path_base(local),
                         (uint64_t)st_->st_size, off);
    p.limit_kbps = cl->limit_kbps;
    /* nothing to send between the last WRITE and the CLOSE: the CLOSE and
     * the verification can follow the WRITEs at once */
    int verify = early_possible(cl, (uint64_t)st_->st_size);
    int early = close_id != NULL && ec != NULL && !o->preserve && !o->fsync_ &&
                (verify || early_close_only(cl));
    if (early) {
        *ec = (early_check){.cl = cl,
                            .h = h,
                            .upload = 1,
                            .verify = verify,
                            .j = {.path = rabs, .fd = fd, .len = (uint64_t)st_->st_size}};
    }
    ferry_sftpc_set_after_last(cl->sftp, early ? early_send : NULL, ec);
    ferry_sftpc_set_stream_hash(cl->sftp, fs->hs);
    r = ferry_sftpc_upload(cl->sftp, h, fd, off, ferry_progress_update, &p, &acked);
    ferry_sftpc_set_stream_hash(cl->sftp, NULL);
    ferry_sftpc_set_after_last(cl->sftp, NULL, NULL);
    ferry_progress_end(&p);
    cl->rs.progressed |= acked > off;
    fs->acked = acked;
    if (early && ec->close_id != 0) {
        *close_id = ec->close_id; /* taken with the verification's answers */
        if (r != FERRY_OK) {
            xerr(cl, "Couldn't write to remote file", rabs, r);
        }
        return r == FERRY_OK ? 0 : -1;
    }
    if (r != FERRY_OK) {
        xerr(cl, "Couldn't write to remote file", rabs, r);
        goto close;
    }
    if (o->preserve) {
        a->flags |= SSH_FILEXFER_ATTR_ACMODTIME;
        a->atime = (uint32_t)st_->st_atime;
        a->mtime = (uint32_t)st_->st_mtime;
    }
    /* a kept partial is 0600: give it the file's permissions */
    if ((o->preserve || kept == KEPT_PARTIAL) &&
        (r = ferry_sftpc_fsetstat(cl->sftp, h, a)) != FERRY_OK) {
        xerr(cl, "Couldn't set attributes", rabs, r);
    }
    if (o->fsync_ && ferry_sftpc_has_ext(cl->sftp, "fsync@openssh.com") &&
        (r = ferry_sftpc_fsync(cl->sftp, h)) != FERRY_OK) {
        xerr(cl, "Couldn't sync file", rabs, r);
        goto close;
    }
    rc = 0;
    if (close_id != NULL) {
        if ((r = ferry_sftpc_close_send(cl->sftp, h, close_id)) != FERRY_OK) {
            *close_id = 0;
            xerr(cl, "Couldn't close file", rabs, r);
            rc = -1;
        }
        return rc;
    }
close:
    if ((r = ferry_sftpc_close(cl->sftp, h)) != FERRY_OK && rc == 0) {
        xerr(cl, "Couldn't close file", rabs, r);
        rc = -1;
    }
    return rc;
}

static int put_file_once(ferry_client *cl, const char *local, const char *rabs, const xfer_opts *o,
                         file_state *fs, xfer_pre *pre)
{
    struct stat st;
    ferry_buf *h = NULL;
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_PERMISSIONS};
    char *partial = NULL;
    uint64_t off = 0;
    int rc = -1, kept = KEPT_NONE;
    int fd = open(local, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "Couldn't open local file \"%s\" for reading: %s\n", local,
                strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "Skipping non-regular file %s\n", local);
        rc = 0;
        goto out;
    }
    a.perm = st.st_mode & 0777;
    if ((o->resume || (fs->again && fs->opened)) &&
        (kept = find_kept(cl, rabs, o, fs, &partial, &off)) < 0) {
        goto out;
    }
    int r = put_open(cl, local, fd, &st, rabs, partial, &kept, &off, &a, fs->hs, &h, pre);
    if (r != 0) {
        rc = r == -2 ? -2 : -1;
        goto out;
    }
    fs->opened = 1;
    if (ferry_sftpc_hashes_end(fs->hs) == 0) { /* hashing starts (again) */
        fs->src = st;
        fs->have_src = 1;
    }
    if (!fs->again) {
        say(cl, off ? "Resuming upload of" : "Uploading", local, rabs);
    }
    /* a fresh upload's CLOSE and its verification by name go out
     * together (the server serves them in order): one round trip less;
     * with ferryd right behind the last WRITE (early_check) */
    uint32_t close_id = 0;
    early_check ec = {0};
    if (put_data(cl, local, fd, &st, rabs, h, off, kept, o, &a, fs,
                 kept == KEPT_PARTIAL ? NULL : &close_id, &ec) != 0 ||
        (kept == KEPT_PARTIAL && put_rename(cl, partial, rabs) != 0)) {
        if (ec.run != NULL) {
            (void)ferry_sftpc_compare_end(cl->sftp, ec.run); /* answers still to take */
        }
        if (close_id != 0) {
            (void)ferry_sftpc_close_wait(cl->sftp, close_id);
        }
        goto out;
    }
    int changed = !fs->have_src || source_changed(fd, &fs->src);
    ferry_sftpc_cmp j = {
        .path = rabs, .fd = fd, .len = (uint64_t)st.st_size, .known = changed ? NULL : fs->hs};
    if (ec.run != NULL) {
        ec.j.known = j.known; /* the local side is hashed at _end */
        rc = ferry_resume_report(cl, &ec.j, 1, &rabs, ferry_sftpc_compare_end(cl->sftp, ec.run));
    } else {
        rc = ferry_resume_verify(cl, &j, 1, &rabs);
    }
    int cr = close_id != 0 ? ferry_sftpc_close_wait(cl->sftp, close_id) : FERRY_OK;
    if (cr != FERRY_OK) {
        xerr(cl, "Couldn't close file", rabs, cr);
        rc = -1;
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    free(partial);
    ferry_buf_free(h);
    return rc;
}

static int put_file(ferry_client *cl, const char *local, const char *rabs, const xfer_opts *o,
                    xfer_pre *pre)
{
    file_state st = {0};
    int rc;
    if (ferry_sftpc_can_hash(cl->sftp, 1) || ferry_sftpc_can_hash(cl->sftp, 0)) {
        (void)ferry_sftpc_hashes_new(cl->sftp, &st.hs); /* without it: read again later */
    }
    while ((rc = put_file_once(cl, local, rabs, o, &st, pre)) == -1 && ferry_resume_again(cl)) {
        st.again = 1;
    }
    ferry_sftpc_hashes_free(st.hs);
    return rc == 0 ? 0 : -1;
}

/* A remote directory's MKDIR and STAT sent ahead (put -r): ids 0 when
 * not (or taken); session: ferry_sftpc_session when sent. */
typedef struct mkdir_pre {
    uint32_t mk, st;
    unsigned session;
} mkdir_pre;

static int put_any(ferry_client *cl, const char *local, const char *rabs, const xfer_opts *o,
                   int depth, xfer_pre *pre, mkdir_pre *mp);

/* Small files of a directory go to the server in batches (see
 * ferry_sftpc_upload_small): a round trip per batch, not three per file. */
typedef struct small_batch {
    ferry_sftpc_small v[FERRY_SFTPC_SMALL_BATCH];
    ferry_sftp_attrs attrs[FERRY_SFTPC_SMALL_BATCH];
    char *local[FERRY_SFTPC_SMALL_BATCH];
    size_t n;
    uint64_t bytes; /* sizes of the n files */
} small_batch;

static int batch_flush(ferry_client *cl, small_batch *b, const xfer_opts *o)
{
    ferry_sftpc_cmp v[FERRY_SFTPC_SMALL_BATCH]; /* verified at the end */
    const char *names[FERRY_SFTPC_SMALL_BATCH];
    size_t src[FERRY_SFTPC_SMALL_BATCH];
    size_t nv = 0;
    int rc = 0, r = FERRY_OK;
    early_batch *eb = early_batch_arm(cl, NULL, b->v, b->n);
    if (b->n > 0) {
        r = ferry_sftpc_upload_small(cl->sftp, b->v, b->n);
    }
    ferry_sftpc_set_after_last(cl->sftp, NULL, NULL);
    /* connection lost: the files not stored go the normal way */
    int redo = r != FERRY_OK && ferry_resume_again(cl);
    if (r != FERRY_OK && !redo) {
        rc = -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        ferry_sftpc_small *it = &b->v[i];
        if ((it->result == FERRY_E_TOO_LARGE && r == FERRY_OK) ||
            (it->result != FERRY_OK && redo)) {
            /* grew since it was looked at, or lost: the normal way */
            close(it->fd);
            it->fd = -1;
            if (put_file(cl, b->local[i], it->path, o, NULL) != 0) {
                rc = -1;
            }
        } else if (it->result != FERRY_OK) {
            xerr(cl, "Couldn't upload file", it->path, it->result);
            rc = -1;
        } else {
            v[nv] = (ferry_sftpc_cmp){.path = it->path, .fd = it->fd, .len = it->sent};
            src[nv] = i;
            names[nv++] = it->path;
        }
    }
    if (batch_verify(cl, eb, v, src, nv, names) != 0) {
        rc = -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i].fd >= 0) {
            close(b->v[i].fd);
        }
        free(b->local[i]);
        free((char *)b->v[i].path);
    }
    b->n = 0;
    b->bytes = 0;
    return rc;
}

/* Adds a small regular file to the batch: 1 if taken, 0 if it must go
 * the normal way, -1 on error. */
static int batch_add(ferry_client *cl, small_batch *b, const char *local, const char *rabs,
                     const xfer_opts *o)
{
    struct stat st;
    uint64_t cap = (uint64_t)FERRY_SFTPC_SMALL_WRITES * ferry_sftpc_write_size(cl->sftp);
    int fd;
    if (o->resume || lstat(local, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > FERRY_SFTPC_SMALL_MAX || (uint64_t)st.st_size > cap) {
        return 0;
    }
    if ((fd = open(local, O_RDONLY | O_CLOEXEC)) < 0) {
        return 0; /* the normal way reports the error */
    }
    size_t i = b->n;
    ferry_sftp_attrs *a = &b->attrs[i];
    *a = (ferry_sftp_attrs){.flags = SSH_FILEXFER_ATTR_PERMISSIONS, .perm = st.st_mode & 0777};
    if (o->preserve) {
        a->flags |= SSH_FILEXFER_ATTR_ACMODTIME;
        a->atime = (uint32_t)st.st_atime;
        a->mtime = (uint32_t)st.st_mtime;
    }
    b->local[i] = strdup(local);
    b->v[i] = (ferry_sftpc_small){.path = strdup(rabs),
                                  .attrs = a,
                                  .setstat = o->preserve ? a : NULL,
                                  .fd = fd,
                                  .fsync_ = o->fsync_};
    if (b->local[i] == NULL || b->v[i].path == NULL) {
        free(b->local[i]);
        free((char *)b->v[i].path);
        close(fd);
        return -1;
    }
    say(cl, "Uploading", local, rabs);
    b->n++;
    b->bytes += (uint64_t)st.st_size;
    return 1;
}

/* Subdirectories of one directory whose MKDIR goes out with the listing. */
#define MKDIR_AHEAD 32

static void mkdir_pre_send(ferry_client *cl, const char *rabs, mode_t mode, mkdir_pre *mp)
{
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_PERMISSIONS, .perm = mode & 0777};
    *mp = (mkdir_pre){.session = ferry_sftpc_session(cl->sftp)};
    if (ferry_sftpc_path_send(cl->sftp, SSH_FXP_MKDIR, rabs, &a, &mp->mk) != FERRY_OK ||
        ferry_sftpc_stat_send(cl->sftp, rabs, &mp->st) != FERRY_OK) {
        mp->st = 0; /* (the MKDIR's answer is taken or dropped as usual) */
    }
}

/* What a STAT found where a directory is to be: 2 a directory (as
 * ferry__cmd_is_dir tells one), 1 something else, 0 nothing (sr failed). */
static int found_dir(int sr, const ferry_sftp_attrs *ra)
{
    return sr != FERRY_OK ? 0 : ferry_sftp_attrs_is_dir(ra) ? 2 : 1;
}

/* Takes what was sent ahead: 1 with *made (the MKDIR's result; its
 * status the last one recorded) and *what (2 the MKDIR worked or the STAT
 * behind it found a directory, else as found_dir), 0 if nothing
 * usable was (not sent, or its session was lost). Unused ids dropped. */
static int mkdir_pre_take(ferry_client *cl, mkdir_pre *mp, int *made, int *what)
{
    int ok =
        mp != NULL && mp->mk != 0 && mp->st != 0 && mp->session == ferry_sftpc_session(cl->sftp);
    if (ok) {
        ferry_sftp_attrs ra;
        int sr = ferry_sftpc_stat_wait(cl->sftp, mp->st, &ra);
        *made = ferry_sftpc_status_wait(cl->sftp, mp->mk);
        *what = *made == FERRY_OK ? 2 : found_dir(sr, &ra); /* a MKDIR that worked made one */
        ok = !ferry_sftpc_dead(cl->sftp);
    } else if (mp != NULL && mp->session == ferry_sftpc_session(cl->sftp)) {
        ferry_sftpc_release(cl->sftp, mp->mk);
        ferry_sftpc_release(cl->sftp, mp->st);
    }
    if (mp != NULL) {
        mp->mk = mp->st = 0;
    }
    return ok;
}

/* The local directory's entries (without . and ..), or NULL. */
static char **local_entries(DIR *d, size_t *n)
{
    struct dirent *de;
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (*n == cap) {
            char **nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));
            if (nv == NULL) {
                break;
            }
            v = nv;
        }
        if ((v[*n] = strdup(de->d_name)) == NULL) {
            break;
        }
        (*n)++;
    }
    if (de != NULL) { /* out of memory */
        ferry_glob_free(v, (int)*n);
        return NULL;
    }
    return v != NULL ? v : calloc(1, sizeof(*v));
}

/* mp: this directory's MKDIR and STAT if sent ahead (else NULL). Its
 * subdirectories' (up to MKDIR_AHEAD) go out with the listing, so each
 * is there, and known to be, when its turn comes: one round trip less
 * per directory (a directory created early is one put -r makes anyway). */
static int put_dir(ferry_client *cl, const char *local, const char *rabs, const xfer_opts *o,
                   int depth, mkdir_pre *mp)
{
    struct stat st;
    DIR *d = NULL;
    int ignored;
    if (depth > MAX_DEPTH || stat(local, &st) != 0 || (d = opendir(local)) == NULL) {
        if (d == NULL && depth <= MAX_DEPTH) {
            fprintf(stderr, "Couldn't open directory \"%s\": %s\n", local, strerror(errno));
        }
        (void)mkdir_pre_take(cl, mp, &ignored, &ignored);
        return -1;
    }
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_PERMISSIONS, .perm = st.st_mode & 0777};
    say_dir(cl, "Entering", local); /* (before the remote side answers, as OpenSSH's sftp) */
    size_t ne = 0, ahead = 0;
    char **ents = local_entries(d, &ne);
    closedir(d);
    mkdir_pre *pre = ents != NULL ? calloc(ne ? ne : 1, sizeof(*pre)) : NULL;
    /* this directory's MKDIR (if not sent yet) and its subdirectories'
     * go out together; a server that took a subdirectory's before its
     * parent's (requests on different paths may be served in any order)
     * makes it fail: it is made again when its turn comes */
    mkdir_pre own = {0};
    if (mp == NULL || mp->mk == 0) {
        mkdir_pre_send(cl, rabs, st.st_mode, &own);
        mp = &own;
    }
    for (size_t i = 0; pre != NULL && i < ne && ahead < MKDIR_AHEAD; i++) {
        char *l2 = ferry_path_join(local, ents[i]), *r2 = ferry_path_join(rabs, ents[i]);
        struct stat s2;
        if (l2 && r2 && stat(l2, &s2) == 0 && S_ISDIR(s2.st_mode)) {
            mkdir_pre_send(cl, r2, s2.st_mode, &pre[i]);
            ahead++;
        }
        free(l2);
        free(r2);
    }
    int made, what = 0; /* what is there, as mkdir_pre_take says */
    if (!mkdir_pre_take(cl, mp, &made, &what) || (made != FERRY_OK && what == 0)) {
        /* as OpenSSH's sftp: STAT, then MKDIR if nothing is there */
        ferry_sftp_attrs ra;
        int sr;
        do {
            sr = ferry_sftpc_stat(cl->sftp, rabs, &ra);
            made = sr == FERRY_OK ? FERRY_OK : ferry_sftpc_mkdir(cl->sftp, rabs, &a);
        } while (made != FERRY_OK && ferry_resume_again(cl));
        what = sr != FERRY_OK && made == FERRY_OK ? 2 : found_dir(sr, &ra);
    }
    int there = what == 2;
    int rc = there && pre != NULL ? 0 : -1;
    if (what == 1) { /* OpenSSH's sftp's words */
        char *e = ferry_fmt_escape(rabs);
        fprintf(stderr, "\"%s\" exists but is not a directory\n", e ? e : "?");
        free(e);
    } else if (!there) {
        ferry__cmd_err(cl, "Couldn't create directory", rabs, made);
    }
    small_batch *b = rc == 0 ? calloc(1, sizeof(*b)) : NULL;
    for (size_t i = 0; b != NULL && i < ne; i++) {
        char *l2 = ferry_path_join(local, ents[i]), *r2 = ferry_path_join(rabs, ents[i]);
        int taken = l2 && r2 ? batch_add(cl, b, l2, r2, o) : -1;
        if (taken < 0 || (taken == 0 && put_any(cl, l2, r2, o, depth + 1, NULL, &pre[i]) != 0)) {
            rc = -1;
        }
        if (batch_full(b->n, b->bytes) && batch_flush(cl, b, o) != 0) {
            rc = -1;
        }
        free(l2);
        free(r2);
    }
    for (size_t i = 0; pre != NULL && i < ne; i++) { /* the answers not taken */
        (void)mkdir_pre_take(cl, &pre[i], &ignored, &ignored);
    }
    if (there && (b == NULL || batch_flush(cl, b, o) != 0)) {
        rc = -1;
    }
    free(b);
    free(pre);
    ferry_glob_free(ents, (int)ne);
    if (there && o->preserve) {
        a.flags |= SSH_FILEXFER_ATTR_ACMODTIME;
        a.atime = (uint32_t)st.st_atime;
        a.mtime = (uint32_t)st.st_mtime;
        (void)ferry_sftpc_setstat(cl->sftp, rabs, &a);
    }
    return rc;
}

/* mp: rabs's MKDIR and STAT if sent ahead (NULL: not), taken or dropped. */
static int put_any(ferry_client *cl, const char *local, const char *rabs, const xfer_opts *o,
                   int depth, xfer_pre *pre, mkdir_pre *mp)
{
    struct stat st;
    int ignored, sr = stat(local, &st);
    if (sr != 0 || !S_ISDIR(st.st_mode) || !o->recursive) {
        (void)mkdir_pre_take(cl, mp, &ignored, &ignored);
    }
    if (sr != 0) {
        fprintf(stderr, "stat %s: %s\n", local, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!o->recursive) {
            fprintf(stderr, "Skipping non-regular file %s\n", local);
            return depth > 0 ? 0 : -1;
        }
        return put_dir(cl, local, rabs, o, depth, mp);
    }
    return put_file(cl, local, rabs, o, pre);
}

int ferry__cmd_put(ferry_client *cl, int argc, char **argv)
{
    xfer_opts o;
    char **v = NULL;
    char *dst = NULL;
    int first, n, rc = 0;
    if (parse_xfer(cl, argc, argv, &o, &first) != 0) {
        return -1;
    }
    n = ferry_glob_local(argv[first], &v);
    if (n <= 0) {
        fprintf(stderr, "File \"%s\" not found.\n", argv[first]);
        ferry_glob_free(v, n);
        return -1;
    }
    if (first + 1 < argc) {
        char *plain = ferry_glob_unescape(argv[first + 1]);
        dst = plain ? ferry_path_abs(cl, plain) : NULL;
        free(plain);
    }
    /* one regular file to a named destination: its OPEN goes with the
     * STAT that tells whether the destination is a directory (then the
     * OPEN fails, changing nothing; a file there this put truncates
     * anyway) — a round trip less */
    xfer_pre pre = {0};
    struct stat lst;
    if (dst != NULL && n == 1 && !o.recursive && !o.resume && stat(v[0], &lst) == 0 &&
        S_ISREG(lst.st_mode) && access(v[0], R_OK) == 0) {
        ferry_sftp_attrs pa = {.flags = SSH_FILEXFER_ATTR_PERMISSIONS, .perm = lst.st_mode & 0777};
        pre_send_open(cl, &pre, dst, SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &pa);
    }
    ferry_sftp_attrs da;
    int dst_dir = dst == NULL || (pre.path != NULL ? pre_stat(cl, &pre, &da) == FERRY_OK &&
                                                         ferry_sftp_attrs_is_dir(&da)
                                                   : ferry__cmd_is_dir(cl, dst));
    while (!dst_dir && ferry_resume_again(cl)) {
        dst_dir = ferry__cmd_is_dir(cl, dst);
    }
    if (dst_dir) {
        pre_drop(cl, &pre); /* its OPEN failed */
    }
    if (n > 1 && !dst_dir) {
        fprintf(stderr, "Multiple paths match, but destination \"%s\" is not a directory\n", dst);
        rc = -1;
    }
    /* several sources: the small regular files among them go in
     * pipelined batches, as in put -r (2 round trips a batch, not 2 a
     * file) */
    small_batch *b = n > 1 && rc == 0 ? calloc(1, sizeof(*b)) : NULL;
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *base = ferry_path_base(v[i]);
        char *rabs = !dst_dir ? strdup(dst) : ferry_path_join(dst ? dst : cl->pwd, base);
        for (size_t k = rabs ? strlen(rabs) : 0; k > 1 && rabs[k - 1] == '/'; k--) {
            rabs[k - 1] = '\0'; /* "dir/" from a local glob names "dir" */
        }
        int taken = b != NULL && rabs != NULL ? batch_add(cl, b, v[i], rabs, &o) : 0;
        if (rabs == NULL || taken < 0 ||
            (taken == 0 && put_any(cl, v[i], rabs, &o, 0, &pre, NULL) != 0)) {
            rc = -1;
        }
        if (b != NULL && batch_full(b->n, b->bytes) && batch_flush(cl, b, &o) != 0) {
            rc = -1;
        }
        free(rabs);
    }
    if (b != NULL && batch_flush(cl, b, &o) != 0) {
        rc = -1;
    }
    free(b);
    pre_drop(cl, &pre);
    ferry_glob_free(v, n);
    free(dst);
    return rc;
}

/* ---- copy (copy-data@openssh.com style "copy-data") ---- */

int ferry__cmd_copy(ferry_client *cl, int argc, char **argv)
{
    ferry_buf *from = NULL, *to = NULL;
    ferry_sftp_attrs a = {0};
    char **v = NULL;
    char *src = NULL, *dst = NULL;
    int n, r, rc = -1;
    if (argc != 3) {
        fprintf(stderr, "You must specify two paths after a %s command.\n", argv[0]);
        return -1;
    }
    if ((n = ferry__cmd_glob(cl, argv[1], &v)) < 0) {
        return -1;
    }
    src = ferry_path_abs(cl, v[0]);
    char *plain = ferry_glob_unescape(argv[2]);
    dst = plain ? ferry_path_abs(cl, plain) : NULL;
    free(plain);
    if (src == NULL || dst == NULL) {
        goto out;
    }
    if (ferry__cmd_is_dir(cl, dst)) {
        char *j = ferry_path_join(dst, ferry_path_base(src));
        free(dst);
        if ((dst = j) == NULL) {
            goto out;
        }
    }
    if ((r = ferry_sftpc_open(cl->sftp, src, SSH_FXF_READ, NULL, &from)) != FERRY_OK ||
        (r = ferry_sftpc_fstat(cl->sftp, from, &a)) != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't open source file", src, r);
        goto out;
    }
    a.flags &= SSH_FILEXFER_ATTR_PERMISSIONS;
    a.perm &= 0777;
    if ((r = ferry_sftpc_open(cl->sftp, dst, SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &a,
                              &to)) != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't open destination file", dst, r);
        goto out;
    }
    if ((r = ferry_sftpc_copy_data(cl->sftp, from, 0, 0, to, 0)) != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't copy file", src, r);
        goto out;
    }
    rc = 0;
out:
    if (from != NULL) {
        (void)ferry_sftpc_close(cl->sftp, from);
    }
    if (to != NULL && ferry_sftpc_close(cl->sftp, to) != FERRY_OK) {
        rc = -1;
    }
    ferry_buf_free(from);
    ferry_buf_free(to);
    ferry_glob_free(v, n);
    free(src);
    free(dst);
    return rc;
}
