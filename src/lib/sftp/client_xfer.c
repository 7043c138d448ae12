/* client_xfer.c: pipelined file transfers. Many READ or WRITE requests
 * are kept in flight (section 6.4 allows a client to send requests before
 * earlier replies arrive; replies to them may come in any order, which
 * the id matching of the core absorbs). Short reads are re-requested for
 * the missing part; data lands at its offset with pwrite/pread, so the
 * order of replies does not matter. */
#include "sftp/client_int.h"

#include <errno.h>
#include <stdlib.h>
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
    ferry_sftpc_progress_fn cb;
    void *cb_ctx;
} dl_state;

/* Handles the reply to one READ; may queue a re-request. */
static int dl_reply(dl_state *d, xreq e)
{
    ferry_rd r;
    const uint8_t *data;
    size_t n;
    int rc = ferry__sftpc_expect(d->c, e.id, SSH_FXP_DATA, &r);
    if (rc == FERRY_E_EOF) {
        d->eof = e.off < d->eof ? e.off : d->eof;
        return FERRY_OK;
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    rc = ferry_rd_string(&r, &data, &n);
    if (rc == FERRY_OK && (n > e.len || n == 0)) {
        rc = n == 0 ? FERRY_E_FORMAT : FERRY_E_PROTOCOL;
    }
    if (rc == FERRY_OK && e.off < d->eof) {
        rc = pwrite_all(d->fd, data, n, e.off);
        if (rc == FERRY_OK && e.off + n > d->end) {
            d->end = e.off + n;
        }
        if (rc == FERRY_OK && d->cb != NULL) {
            d->cb(d->cb_ctx, n);
        }
    }
    ferry_sftpc_release(d->c, e.id);
    if (rc == FERRY_OK && n < e.len && e.off + n < d->eof) {
        uint32_t id;
        rc = send_read(d->c, d->h, e.off + n, (uint32_t)(e.len - n), &id);
        if (rc == FERRY_OK) {
            xq_push(&d->q, id, e.off + n, (uint32_t)(e.len - n));
        }
    }
    return rc;
}

int ferry_sftpc_download(ferry_sftpc *c, const ferry_buf *handle, int fd, uint64_t offset,
                         ferry_sftpc_progress_fn cb, void *cb_ctx, uint64_t *total)
{
    dl_state d = {.c = c,
                  .h = handle,
                  .fd = fd,
                  .next = offset,
                  .eof = UINT64_MAX,
                  .end = offset,
                  .cb = cb,
                  .cb_ctx = cb_ctx};
    uint32_t len = c->rsize ? c->rsize : FERRY_SFTPC_DEFAULT_IO;
    int rc = xq_init(&d.q, c->cfg.max_inflight + 1);

    while (rc == FERRY_OK) {
        while (rc == FERRY_OK && d.q.n < c->cfg.max_inflight && d.next < d.eof) {
            uint32_t id;
            rc = send_read(c, handle, d.next, len, &id);
            if (rc == FERRY_OK) {
                xq_push(&d.q, id, d.next, len);
                d.next += len;
            }
        }
        if (rc != FERRY_OK || d.q.n == 0) {
            break;
        }
        rc = dl_reply(&d, xq_pop(&d.q));
        if (rc == FERRY_OK && c->interrupted) {
            rc = FERRY_E_AGAIN;
        }
    }
    c->interrupted = 0;
    xq_abandon(c, &d.q);
    if (total != NULL) {
        *total = d.end;
    }
    return rc;
}

/* Reads the next chunk of the local file into a WRITE request and sends
 * it. *n receives the data length (0 at end of file). */
static int send_write(ferry_sftpc *c, const ferry_buf *h, int fd, uint64_t off, uint32_t len,
                      uint32_t *id, size_t *n)
{
    ferry_buf *p = ferry__sftpc_scratch(c);
    uint8_t *dst;
    ssize_t got;
    int rc = p ? ferry_buf_put_stringb(p, h) : FERRY_E_ALLOC;
    if (rc != FERRY_OK || (rc = ferry_buf_put_u64(p, off)) != FERRY_OK ||
        (rc = ferry_buf_put_u32(p, len)) != FERRY_OK ||
        (rc = ferry_buf_reserve(p, len, &dst)) != FERRY_OK) {
        goto out;
    }
    do {
        got = pread(fd, dst, len, (off_t)off);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        rc = ferry_err_sys();
        goto out;
    }
    *n = (size_t)got;
    if (got == 0) {
        goto out;
    }
    size_t base = ferry_buf_len(p) - len;
    (void)ferry_buf_poke_u32(p, base - 4, (uint32_t)got);
    (void)ferry_buf_truncate(p, base + (size_t)got);
    rc = ferry_sftpc_send(c, SSH_FXP_WRITE, p, id);
out:
    return rc;
}

int ferry_sftpc_upload(ferry_sftpc *c, const ferry_buf *handle, int fd, uint64_t offset,
                       ferry_sftpc_progress_fn cb, void *cb_ctx, uint64_t *total)
{
    xqueue q;
    uint64_t next = offset;
    uint32_t len = c->wsize ? c->wsize : FERRY_SFTPC_DEFAULT_IO;
    int eof = 0;
    int rc = xq_init(&q, c->cfg.max_inflight + 1);

    while (rc == FERRY_OK) {
        while (rc == FERRY_OK && !eof && q.n < c->cfg.max_inflight) {
            uint32_t id;
            size_t n = 0;
            rc = send_write(c, handle, fd, next, len, &id, &n);
            if (rc == FERRY_OK && n == 0) {
                eof = 1;
            } else if (rc == FERRY_OK) {
                xq_push(&q, id, next, (uint32_t)n);
                next += n;
            }
        }
        if (rc != FERRY_OK || q.n == 0) {
            break;
        }
        xreq e = xq_pop(&q);
        rc = ferry__sftpc_status(c, e.id);
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
        *total = next;
    }
    return rc;
}
