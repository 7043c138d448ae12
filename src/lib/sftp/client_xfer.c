/* client_xfer.c: pipelined file transfers. Many READ or WRITE requests
 * are kept in flight (section 6.4 allows a client to send requests before
 * earlier replies arrive; replies to them may come in any order, which
 * the id matching of the core absorbs). Short reads are re-requested for
 * the missing part; data lands at its offset with pwrite/pread, so the
 * order of replies does not matter. */
#include "sftp/client_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

typedef struct xreq {
    uint32_t id;
    uint64_t off;
    uint32_t len;
} xreq;

/* A FIFO of requests in flight. */
typedef struct xqueue {
    xreq *v;
    size_t cap, head, n;
} xqueue;

/* Requests a transfer of `len`-byte requests keeps in flight: -R, or
 * without it the default count, raised to cover the transport's window
 * and, for uploads, as many bytes as reads of rsize would carry. */
static size_t inflight(const ferry_sftpc *c, int upload, uint32_t len)
{
    size_t most = c->cfg.max_inflight;
    if (!c->inflight_auto || len == 0) {
        return most;
    }
    if (upload && c->rsize > len) { /* as many bytes as the reads */
        most = (most * c->rsize + len - 1) / len;
    }
    if (c->io.window != NULL) {
        size_t k = c->io.window(c->io.ctx, upload) / len;
        most = k > most ? k : most;
    }
    return most > FERRY__SFTPC_MAX_SLOTS / 2 ? FERRY__SFTPC_MAX_SLOTS / 2 : most;
}

/* Room for as many as inflight() may ever allow. */
static size_t xq_cap(const ferry_sftpc *c)
{
    return (c->inflight_auto ? FERRY__SFTPC_MAX_SLOTS / 2 : c->cfg.max_inflight) + 1;
}

static int xq_init(xqueue *q, size_t cap)
{
    q->v = calloc(cap, sizeof(*q->v));
    q->cap = cap;
    q->head = q->n = 0;
    return q->v ? FERRY_OK : FERRY_E_ALLOC;
}

static void xq_push(xqueue *q, uint32_t id, uint64_t off, uint32_t len)
{
    xreq *e = &q->v[(q->head + q->n) % q->cap];
    e->id = id;
    e->off = off;
    e->len = len;
    q->n++;
}

static xreq xq_pop(xqueue *q)
{
    xreq e = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return e;
}

/* The lowest offset still in flight, or `lo` if lower. */
static uint64_t xq_lowest(const xqueue *q, uint64_t lo)
{
    for (size_t i = 0; i < q->n; i++) {
        const xreq *e = &q->v[(q->head + i) % q->cap];
        lo = e->off < lo ? e->off : lo;
    }
    return lo;
}

/* Drops every request still in flight (their replies will be ignored). */
static void xq_abandon(ferry_sftpc *c, xqueue *q)
{
    while (q->n > 0) {
        xreq e = xq_pop(q);
        ferry_sftpc_release(c, e.id);
    }
    free(q->v);
    q->v = NULL;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return w < 0 && errno == ENOSPC ? FERRY_E_NO_SPACE : ferry_err_sys();
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return FERRY_OK;
}

static int send_read(ferry_sftpc *c, const ferry_buf *h, uint64_t off, uint32_t len, uint32_t *id)
{
    ferry_buf *p = ferry__sftpc_scratch(c);
    int rc = p ? ferry_buf_put_stringb(p, h) : FERRY_E_ALLOC;
    if (rc == FERRY_OK && (rc = ferry_buf_put_u64(p, off)) == FERRY_OK &&
        (rc = ferry_buf_put_u32(p, len)) == FERRY_OK) {
        rc = ferry_sftpc_send(c, SSH_FXP_READ, p, id);
    }
    return rc;
}

typedef struct dl_state {
    ferry_sftpc *c;
    const ferry_buf *h;
    int fd;
    xqueue q;
    uint64_t next, eof, end;
    uint64_t size; /* the size the caller expects, UINT64_MAX if unknown */
    int closed;    /* after_last ran: the caller may have closed the handle */
    uint64_t hole; /* closed: where a short reply left data missing */
    int past_eof;  /* data written where an earlier READ found the end */
    ferry_sftpc_progress_fn cb;
    void *cb_ctx;
} dl_state;

/* A READ's data, written at its offset and fed to the running hash. */
static int dl_write(ferry_sftpc *c, int fd, uint64_t off, const uint8_t *p, size_t n)
{
    int rc = pwrite_all(fd, p, n, off);
    if (rc == FERRY_OK) {
        ferry_sftpc_hashes_feed(c->stream_hash, off, p, n);
    }
    return rc;
}

/* The sink of a download: DATA written straight from the connection's
 * buffer as it arrives (no copy into the reply slot). */
static int dl_sink(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
    dl_state *d = ctx;
    return dl_write(d->c, d->fd, off, p, n);
}

/* Handles the reply to one READ; may queue a re-request. */
static int dl_reply(dl_state *d, xreq e)
{
    ferry_rd r;
    const uint8_t *data = NULL;
    size_t n = 0;
    int sunk = 0;
    int rc = ferry__sftpc_expect(d->c, e.id, SSH_FXP_DATA, &r);
    if (rc == FERRY_E_EOF) {
        d->eof = e.off < d->eof ? e.off : d->eof;
        return FERRY_OK;
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    if (ferry__sftpc_sunk(d->c, e.id, &n, &rc)) {
        sunk = 1; /* written already */
        d->past_eof |= rc == FERRY_OK && e.off >= d->eof;
    } else {
        rc = ferry_rd_string(&r, &data, &n);
    }
    if (rc == FERRY_OK && (n > e.len || n == 0)) {
        rc = n == 0 ? FERRY_E_FORMAT : FERRY_E_PROTOCOL;
    }
    if (rc == FERRY_OK && e.off < d->eof) {
        if (!sunk) {
            rc = dl_write(d->c, d->fd, e.off, data, n);
        }
        if (rc == FERRY_OK && e.off + n > d->end) {
            d->end = e.off + n;
        }
        if (rc == FERRY_OK && d->cb != NULL) {
            d->cb(d->cb_ctx, n);
        }
    }
    ferry_sftpc_release(d->c, e.id);
    if (rc == FERRY_OK && n < e.len && e.off + n < d->eof && d->closed) {
        d->hole = e.off + n < d->hole ? e.off + n : d->hole; /* no READ on the handle now */
    } else if (rc == FERRY_OK && n < e.len && e.off + n < d->eof) {
        uint32_t id;
        rc = send_read(d->c, d->h, e.off + n, (uint32_t)(e.len - n), &id);
        if (rc == FERRY_OK) {
            ferry__sftpc_sink_slot(d->c, id, e.off + n, (uint32_t)(e.len - n));
            xq_push(&d->q, id, e.off + n, (uint32_t)(e.len - n));
        }
    }
    return rc;
}

void ferry_sftpc_set_stream_hash(ferry_sftpc *c, ferry_sftpc_hashes *hs)
{
    c->stream_hash = hs;
}

void ferry_sftpc_set_after_last(ferry_sftpc *c, void (*fn)(void *ctx), void *ctx)
{
    c->after_last = fn;
    c->after_last_ctx = ctx;
}

int ferry_sftpc_download(ferry_sftpc *c, const ferry_buf *handle, int fd, uint64_t offset,
                         ferry_sftpc_progress_fn cb, void *cb_ctx, uint64_t *total)
{
    return ferry_sftpc_download_sized(c, handle, fd, offset, UINT64_MAX, cb, cb_ctx, total);
}

int ferry_sftpc_download_sized(ferry_sftpc *c, const ferry_buf *handle, int fd, uint64_t offset,
                               uint64_t size, ferry_sftpc_progress_fn cb, void *cb_ctx,
                               uint64_t *total)
{
    dl_state d = {.c = c,
                  .h = handle,
                  .fd = fd,
                  .next = offset,
                  .eof = UINT64_MAX,
                  .end = offset,
                  .size = offset > size ? UINT64_MAX : size,
                  .hole = UINT64_MAX,
                  .cb = cb,
                  .cb_ctx = cb_ctx};
    uint32_t len = c->rsize ? c->rsize : FERRY_SFTPC_DEFAULT_IO;
    uint64_t lo = UINT64_MAX; /* lowest offset of a failed reply */
    int rc = xq_init(&d.q, xq_cap(c));
    c->sink = dl_sink;
    c->sink_ctx = &d;

    while (rc == FERRY_OK) {
        size_t most = inflight(c, 0, len);
        /* with the size known, the last READ asks for exactly the rest (a
         * short reply there would cost a round trip to re-request) and one
         * READ at the size confirms the end in the same flight; more
         * follow only if that one brought data (the file grew) */
        while (rc == FERRY_OK && d.q.n < most && d.next < d.eof && !d.closed &&
               (d.next <= d.size || d.end > d.size)) {
            uint32_t id, n = len;
            if (d.next < d.size && d.size - d.next < n) {
                n = (uint32_t)(d.size - d.next);
            }
            rc = send_read(c, handle, d.next, n, &id);
            if (rc == FERRY_OK) {
                ferry__sftpc_sink_slot(c, id, d.next, n);
                xq_push(&d.q, id, d.next, n);
                d.next += n;
            }
        }
        if (rc == FERRY_OK && !d.closed && d.size != UINT64_MAX && d.next > d.size &&
            c->after_last != NULL) {
            d.closed = 1;
            c->after_last(c->after_last_ctx); /* the READ at the size is out */
        }
        if (rc != FERRY_OK || d.q.n == 0) {
            break;
        }
        xreq e = xq_pop(&d.q);
        rc = dl_reply(&d, e);
        lo = rc != FERRY_OK && e.off < lo ? e.off : lo;
        if (rc == FERRY_OK && c->interrupted) {
            rc = FERRY_E_AGAIN;
        }
    }
    c->interrupted = 0;
    if (rc == FERRY_OK && d.closed && (d.end > d.size || d.hole != UINT64_MAX)) {
        rc = FERRY_E_INCOMPLETE; /* more to read than the handle may still serve */
        lo = d.hole < d.end ? d.hole : d.end;
    }
    lo = rc == FERRY_OK ? d.end : xq_lowest(&d.q, lo < d.next ? lo : d.next);
    xq_abandon(c, &d.q);
    c->sink = NULL;
    c->sink_ctx = NULL;
    if (rc == FERRY_OK && d.past_eof && ftruncate(fd, (off_t)d.end) != 0) {
        rc = ferry_err_sys(); /* the file grew between READs: keep what is whole */
    }
    if (total != NULL) {
        *total = lo;
    }
    return rc;
}

static ssize_t pread_some(int fd, uint8_t *dst, uint32_t len, uint64_t off)
{
    ssize_t got;
    do {
        got = pread(fd, dst, len, (off_t)off);
    } while (got < 0 && errno == EINTR);
    return got;
}

/* send_write straight into the transport's packet (io.begin): 1 when it
 * went (or failed: *rc), 0 when it cannot now — *later 1 when only the
 * transport's backlog is in the way (after a flush that did not help). */
static int send_write_direct(ferry_sftpc *c, const ferry_buf *h, int fd, uint64_t off, uint32_t len,
                             uint32_t *id, size_t *n, int *rc, int *later)
{
    size_t hl = ferry_buf_len(h), head = 4 + hl + 8 + 4;
    uint8_t *p = ferry__sftpc_direct_begin(c, SSH_FXP_WRITE, head + len, later);
    if (p == NULL && *later && (*rc = ferry__sftpc_flush(c)) == FERRY_OK) {
        p = ferry__sftpc_direct_begin(c, SSH_FXP_WRITE, head + len, later);
    }
    if (p == NULL) {
        return *rc != FERRY_OK;
    }
    ferry_store_u32(p, (uint32_t)hl);
    memcpy(p + 4, ferry_buf_data(h), hl);
    ferry_store_u32(p + 4 + hl, (uint32_t)(off >> 32));
    ferry_store_u32(p + 8 + hl, (uint32_t)off);
    ssize_t got = pread_some(fd, p + head, len, off);
    *n = got > 0 ? (size_t)got : 0;
    if (got <= 0) { /* an error, or the end: the packet is taken back */
        (void)ferry__sftpc_direct_end(c, 0, id);
        *rc = got < 0 ? ferry_err_sys() : FERRY_OK;
        return 1;
    }
    ferry_store_u32(p + head - 4, (uint32_t)got);
    ferry_sftpc_hashes_feed(c->stream_hash, off, p + head, (size_t)got);
    *rc = ferry__sftpc_direct_end(c, head + (size_t)got, id);
    return 1;
}

/* Reads the next chunk of the local file into a WRITE request, built in
 * place in the transport's packet or else in the output buffer, and sends
 * it. *n receives the data length (0 at end of file: nothing is sent).
 * While only the transport's own backlog keeps the packet from being
 * built, the connection is served until it drains (FERRY_E_AGAIN if the
 * user interrupts meanwhile, as the upload loop says). */
static int send_write(ferry_sftpc *c, const ferry_buf *h, int fd, uint64_t off, uint32_t len,
                      uint32_t *id, size_t *n)
{
    ferry__sftpc_pkt pk;
    uint8_t *dst;
    ssize_t got = 0;
    int later = 0, rc = FERRY_OK, done;
    while (!(done = send_write_direct(c, h, fd, off, len, id, n, &rc, &later)) && later) {
        if ((rc = ferry__sftpc_pump(c)) != FERRY_OK || c->interrupted) {
            return rc != FERRY_OK ? rc : FERRY_E_AGAIN;
        }
    }
    if (done) {
        return rc;
    }
    rc = ferry__sftpc_begin(c, SSH_FXP_WRITE, &pk);
    if (rc != FERRY_OK) {
        return rc;
    }
    if ((rc = ferry_buf_put_stringb(c->out, h)) != FERRY_OK ||
        (rc = ferry_buf_put_u64(c->out, off)) != FERRY_OK ||
        (rc = ferry_buf_put_u32(c->out, len)) != FERRY_OK ||
        (rc = ferry_buf_reserve(c->out, len, &dst)) != FERRY_OK) {
        return ferry__sftpc_end(c, &pk, rc, id);
    }
    got = pread_some(fd, dst, len, off);
    *n = got > 0 ? (size_t)got : 0;
    if (got <= 0) { /* an error, or the end: the packet is taken back */
        rc = got < 0 ? ferry_err_sys() : FERRY_OK;
        (void)ferry__sftpc_end(c, &pk, FERRY_E_EOF, id);
        return rc;
    }
    ferry_sftpc_hashes_feed(c->stream_hash, off, dst, (size_t)got);
    size_t base = ferry_buf_len(c->out) - len;
    (void)ferry_buf_poke_u32(c->out, base - 4, (uint32_t)got);
    (void)ferry_buf_truncate(c->out, base + (size_t)got);
    return ferry__sftpc_end(c, &pk, FERRY_OK, id);
}

/* WRITE bytes built ahead of what the connection has taken: enough to
 * keep it busy, few enough that a file's bytes are still in the CPU's
 * cache when they are copied into packets, and that the output buffer
 * does not grow to the size of the whole window in flight. */
#define WRITE_AHEAD (1024u * 1024)

int ferry_sftpc_upload(ferry_sftpc *c, const ferry_buf *handle, int fd, uint64_t offset,
                       ferry_sftpc_progress_fn cb, void *cb_ctx, uint64_t *total)
{
    xqueue q;
    uint64_t next = offset, acked = offset;
    uint32_t len = c->wsize ? c->wsize : FERRY_SFTPC_DEFAULT_IO;
    int eof = 0;
    int rc = xq_init(&q, xq_cap(c));

    while (rc == FERRY_OK) {
        size_t most = inflight(c, 1, len);
        while (rc == FERRY_OK && !eof && q.n < most && ferry_buf_len(c->out) < WRITE_AHEAD) {
            uint32_t id;
            size_t n = 0;
            rc = send_write(c, handle, fd, next, len, &id, &n);
            if (rc == FERRY_OK && n == 0) {
                eof = 1;
                if (c->after_last != NULL) {
                    c->after_last(c->after_last_ctx); /* every WRITE is out */
                }
            } else if (rc == FERRY_OK) {
                xq_push(&q, id, next, (uint32_t)n);
                next += n;
            }
        }
        if (rc != FERRY_OK || q.n == 0) {
            break;
        }
        /* more could be sent once the connection takes what is built:
         * hand it over (and build more if it went), else serve the
         * connection, rather than wait for the oldest reply */
        uint8_t type;
        ferry_rd r;
        if (!eof && q.n < most &&
            ferry_sftpc_poll(c, q.v[q.head].id, &type, &r) == FERRY_E_INCOMPLETE) {
            size_t before = ferry_buf_len(c->out);
            rc = ferry__sftpc_flush(c);
            if (rc == FERRY_OK && ferry_buf_len(c->out) >= before && c->io.flush != NULL) {
                rc = ferry__sftpc_pump(c); /* it took nothing: wait for it */
            }
            if (rc == FERRY_OK && c->interrupted) {
                rc = FERRY_E_AGAIN; /* as after a reply (Ctrl-C) */
            }
            continue;
        }
        xreq e = xq_pop(&q);
        rc = ferry__sftpc_status(c, e.id);
        if (rc == FERRY_OK) {
            acked = e.off + e.len; /* replies come in order of the FIFO */
        }
        if (rc == FERRY_OK && cb != NULL) {
            cb(cb_ctx, e.len);
        }
        if (rc == FERRY_OK && c->interrupted) {
            rc = FERRY_E_AGAIN;
        }
    }
    c->interrupted = 0;
    xq_abandon(c, &q);
    if (total != NULL) {
        *total = rc == FERRY_OK ? next : acked;
    }
    return rc;
}

/* ---- many small files at once ---- */

/* writes, fsetstat, fsync, close per file; one write more than allowed
 * is how a file that grew is noticed (TOO_LARGE) */
#define SMALL_MAX_IDS (FERRY_SFTPC_SMALL_WRITES + 4)

typedef struct small_state {
    uint32_t open_id;
    uint32_t ids[SMALL_MAX_IDS];
    size_t nids;
} small_state;

static int send_open(ferry_sftpc *c, const ferry_sftpc_small *it, uint32_t *id)
{
    return ferry_sftpc_open_send(c, it->path, SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC,
                                 it->attrs, id);
}

/* Handle + ATTRS (FSETSTAT), handle alone (CLOSE), or the fsync
 * extension on the handle. */
static int send_on_handle(ferry_sftpc *c, uint8_t type, const ferry_buf *h,
                          const ferry_sftp_attrs *a, uint32_t *id)
{
    ferry_buf *p = ferry__sftpc_scratch(c);
    int rc = p ? FERRY_OK : FERRY_E_ALLOC;
    if (rc == FERRY_OK && type == SSH_FXP_EXTENDED) {
        rc = ferry_buf_put_cstring(p, "fsync@openssh.com");
    }
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_stringb(p, h);
    }
    if (rc == FERRY_OK && a != NULL) {
        rc = ferry_sftp_attrs_encode(p, a);
    }
    return rc == FERRY_OK ? ferry_sftpc_send(c, type, p, id) : rc;
}

/* Queues everything for one opened file. */
static int small_queue(ferry_sftpc *c, ferry_sftpc_small *it, small_state *st, const ferry_buf *h)
{
    uint32_t len = c->wsize ? c->wsize : FERRY_SFTPC_DEFAULT_IO;
    uint64_t off = 0;
    int rc = FERRY_OK;
    for (;;) {
        uint32_t id;
        size_t n = 0;
        if (st->nids + 3 >= SMALL_MAX_IDS) {
            rc = FERRY_E_TOO_LARGE; /* more data than a small file holds */
            break;
        }
        if ((rc = send_write(c, h, it->fd, off, len, &id, &n)) != FERRY_OK || n == 0) {
            break;
        }
        st->ids[st->nids++] = id;
        off += n;
        if (off > FERRY_SFTPC_SMALL_MAX) {
            rc = FERRY_E_TOO_LARGE;
            break;
        }
    }
    it->sent = off;
    if (rc == FERRY_OK && it->setstat != NULL &&
        (rc = send_on_handle(c, SSH_FXP_FSETSTAT, h, it->setstat, &st->ids[st->nids])) ==
            FERRY_OK) {
        st->nids++;
    }
    if (rc == FERRY_OK && it->fsync_ && ferry_sftpc_has_ext(c, "fsync@openssh.com") &&
        (rc = send_on_handle(c, SSH_FXP_EXTENDED, h, NULL, &st->ids[st->nids])) == FERRY_OK) {
        st->nids++;
    }
    /* CLOSE even after a failure above, so the handle is not leaked */
    int rc2 = send_on_handle(c, SSH_FXP_CLOSE, h, NULL, &st->ids[st->nids]);
    if (rc2 == FERRY_OK) {
        st->nids++;
    }
    return rc != FERRY_OK ? rc : rc2;
}

static void small_handle(ferry_sftpc *c, ferry_sftpc_small *it, small_state *st)
{
    ferry_rd r;
    const uint8_t *hp;
    size_t hl;
    ferry_buf *h = NULL;
    int rc = ferry__sftpc_expect(c, st->open_id, SSH_FXP_HANDLE, &r);
    if (rc == FERRY_OK) {
        rc = ferry_rd_string(&r, &hp, &hl);
        if (rc == FERRY_OK && hl > FERRY_SFTP_HANDLE_MAX) {
            rc = FERRY_E_TOO_LARGE;
        }
        if (rc == FERRY_OK && ((h = ferry_buf_new(FERRY_SFTP_HANDLE_MAX)) == NULL ||
                               ferry_buf_put(h, hp, hl) != FERRY_OK)) {
            rc = FERRY_E_ALLOC;
        }
        ferry_sftpc_release(c, st->open_id);
    }
    if (rc == FERRY_OK) {
        rc = small_queue(c, it, st, h);
    }
    ferry_buf_free(h);
    it->result = rc;
}

int ferry_sftpc_upload_small(ferry_sftpc *c, ferry_sftpc_small *v, size_t n)
{
    small_state st[FERRY_SFTPC_SMALL_BATCH];
    int rc = FERRY_OK;
    if (n > FERRY_SFTPC_SMALL_BATCH) {
        return FERRY_E_INVALID_ARG;
    }
    memset(st, 0, sizeof(st));
    for (size_t i = 0; i < n; i++) {
        v[i].result = send_open(c, &v[i], &st[i].open_id);
        if (v[i].result != FERRY_OK) {
            st[i].open_id = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (st[i].open_id != 0) {
            small_handle(c, &v[i], &st[i]);
        }
    }
    if (c->after_last != NULL) {
        c->after_last(c->after_last_ctx); /* every CLOSE is out */
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < st[i].nids; j++) {
            int r = ferry__sftpc_status(c, st[i].ids[j]);
            if (r != FERRY_OK && v[i].result == FERRY_OK) {
                v[i].result = r;
            }
        }
    }
    if (c->dead) {
        rc = c->dead;
    }
    return rc;
}

/* ---- many small downloads at once ---- */

typedef struct sget_state {
    uint32_t open_id, close_id;
    uint32_t read_ids[FERRY_SFTPC_SMALL_READS];
    size_t nreads;
    ferry_buf *h;
} sget_state;

/* Waits for the handle and sends the READs the listed size needs (one
 * for an empty file). */
static int sget_open(ferry_sftpc *c, sget_state *st, uint32_t len, uint64_t size)
{
    ferry_rd r;
    const uint8_t *hp;
    size_t hl;
    int rc = ferry__sftpc_expect(c, st->open_id, SSH_FXP_HANDLE, &r);
    if (rc != FERRY_OK) {
        return rc;
    }
    rc = ferry_rd_string(&r, &hp, &hl);
    if (rc == FERRY_OK && hl > FERRY_SFTP_HANDLE_MAX) {
        rc = FERRY_E_TOO_LARGE;
    }
    if (rc == FERRY_OK && ((st->h = ferry_buf_new(FERRY_SFTP_HANDLE_MAX)) == NULL ||
                           ferry_buf_put(st->h, hp, hl) != FERRY_OK)) {
        rc = FERRY_E_ALLOC;
    }
    ferry_sftpc_release(c, st->open_id);
    /* the reads cover the listed size and the last one starts at or
     * before it: a file of that size ends in a short read or an EOF */
    uint64_t want = size / len + 1;
    want = want > FERRY_SFTPC_SMALL_READS ? FERRY_SFTPC_SMALL_READS : want;
    while (rc == FERRY_OK && st->nreads < want) {
        rc = send_read(c, st->h, (uint64_t)st->nreads * len, len, &st->read_ids[st->nreads]);
        st->nreads += rc == FERRY_OK;
    }
    /* the CLOSE right behind them: no round trip of its own */
    if (rc == FERRY_OK &&
        send_on_handle(c, SSH_FXP_CLOSE, st->h, NULL, &st->close_id) != FERRY_OK) {
        st->close_id = 0;
    }
    return rc;
}

/* Takes one READ's reply into the file at off: its length in *n (0 at
 * EOF). */
static int sget_reply(ferry_sftpc *c, uint32_t id, int fd, uint64_t off, uint32_t len, size_t *n)
{
    ferry_rd r;
    const uint8_t *d = NULL;
    *n = 0;
    int rc = ferry__sftpc_expect(c, id, SSH_FXP_DATA, &r);
    if (rc == FERRY_E_EOF) {
        return FERRY_OK;
    }
    if (rc == FERRY_OK) {
        rc = ferry_rd_string(&r, &d, n);
        if (rc == FERRY_OK && (*n > len || *n == 0)) {
            rc = FERRY_E_PROTOCOL;
        }
        if (rc == FERRY_OK) {
            rc = pwrite_all(fd, d, *n, off);
        }
        ferry_sftpc_release(c, id);
    }
    return rc;
}

/* The rest of a file from `got` on, on a new handle (the batch's CLOSE
 * went out behind its READs). */
static int sget_more(ferry_sftpc *c, ferry_sftpc_small_get *it, uint64_t got)
{
    ferry_buf *h = NULL;
    int rc = ferry_sftpc_open(c, it->path, SSH_FXF_READ, NULL, &h);
    if (rc == FERRY_OK) {
        rc = ferry_sftpc_download(c, h, it->fd, got, NULL, NULL, &it->got);
        int cr = ferry_sftpc_close(c, h);
        rc = rc == FERRY_OK ? cr : rc;
    }
    ferry_buf_free(h);
    return rc;
}

/* Takes the READs' replies, in order, as far as they are whole; finishes
 * the file the normal way when that is not exactly the size listed, or
 * when the reads were all full (more may follow). */
static int sget_data(ferry_sftpc *c, ferry_sftpc_small_get *it, sget_state *st, uint32_t len)
{
    uint64_t got = 0;
    int rc = FERRY_OK, whole = 1;
    for (size_t k = 0; k < st->nreads; k++) {
        size_t n = 0;
        int r = sget_reply(c, st->read_ids[k], it->fd, (uint64_t)k * len, len, &n);
        rc = rc == FERRY_OK ? r : rc;
        if (r == FERRY_OK && whole) {
            got += n;
        }
        whole = whole && r == FERRY_OK && n == len; /* a gap: the rest is read again */
    }
    it->got = got;
    if (rc == FERRY_OK && (got != it->size || got == (uint64_t)st->nreads * len)) {
        rc = st->close_id != 0 ? sget_more(c, it, got)
                               : ferry_sftpc_download(c, st->h, it->fd, got, NULL, NULL, &it->got);
    }
    return rc;
}

int ferry_sftpc_download_small(ferry_sftpc *c, ferry_sftpc_small_get *v, size_t n)
{
    sget_state st[FERRY_SFTPC_SMALL_BATCH];
    uint32_t len = c->rsize ? c->rsize : FERRY_SFTPC_DEFAULT_IO;
    if (n > FERRY_SFTPC_SMALL_BATCH) {
        return FERRY_E_INVALID_ARG;
    }
    memset(st, 0, sizeof(st));
    for (size_t i = 0; i < n; i++) {
        v[i].got = 0;
        v[i].result = ferry_sftpc_open_send(c, v[i].path, SSH_FXF_READ, NULL, &st[i].open_id);
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].result == FERRY_OK) {
            v[i].result = sget_open(c, &st[i], len, v[i].size);
        }
    }
    if (c->after_last != NULL) {
        c->after_last(c->after_last_ctx); /* every CLOSE is out */
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].result == FERRY_OK) {
            v[i].result = sget_data(c, &v[i], &st[i], len);
        }
        if (st[i].h != NULL && st[i].close_id == 0 &&
            send_on_handle(c, SSH_FXP_CLOSE, st[i].h, NULL, &st[i].close_id) != FERRY_OK) {
            st[i].close_id = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (st[i].close_id != 0) {
            int r = ferry__sftpc_status(c, st[i].close_id);
            if (r != FERRY_OK && v[i].result == FERRY_OK) {
                v[i].result = r;
            }
        }
        ferry_buf_free(st[i].h);
    }
    return c->dead ? c->dead : FERRY_OK;
}
