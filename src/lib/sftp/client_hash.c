/* client_hash.c: comparing a remote file with local data by hash
 * (check-file-handle / check-file-name, /work/shared/specs/check-file.md,
 * after draft-ietf-secsh-filexfer-09 section 9.1.2).
 *
 * A range is cut into pieces of at most FERRY_SFTPC_HASH_PIECE bytes
 * (servers bound the work of one request; ferryd hashes at most 64 MiB).
 * Each piece is one request with block-size 0 (one digest over the
 * piece), in poly1305@ferry.dev when the server lists it in its
 * check-file extension (crypto/chk.h: a checksum ~7x cheaper than
 * sha256), else sha256. Up to HASH_WINDOW requests are in flight: while the server
 * hashes them, we hash the same pieces of the local file, so the two
 * sides work at the same time and a long file costs about one pass over
 * the slower side. Data hashed while it travelled (ferry_sftpc_hashes)
 * is not read again. */
#include "sftp/client_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/err.h"

#define HASH_WINDOW FERRY_SFTPC_HASH_WINDOW
#define LOCAL_CHUNK (256u * 1024)

/* The algorithm check-file requests use (sha256 before VERSION). */
static const ferry_chk_alg *alg_of(const ferry_sftpc *c)
{
    return c->chk != NULL ? c->chk : ferry_chk_by_name("sha256");
}

const char *ferry_sftpc_hash_name(const ferry_sftpc *c)
{
    return ferry_chk_name(alg_of(c));
}

size_t ferry_sftpc_hash_pieces(uint64_t len)
{
    return (size_t)((len + FERRY_SFTPC_HASH_PIECE - 1) / FERRY_SFTPC_HASH_PIECE);
}

void ferry_sftpc_hash_piece(uint64_t len, size_t k, uint64_t *off, uint64_t *plen)
{
    uint64_t o = (uint64_t)k * FERRY_SFTPC_HASH_PIECE;
    uint64_t left = o < len ? len - o : 0;
    *off = o;
    *plen = left < FERRY_SFTPC_HASH_PIECE ? left : FERRY_SFTPC_HASH_PIECE;
}

int ferry_sftpc_can_hash(const ferry_sftpc *c, int by_handle)
{
    return ferry_sftpc_has_ext(c, by_handle ? "check-file-handle" : "check-file-name");
}

/* Sends one check-file request for [off, off+len) of job j. */
static int send_check(ferry_sftpc *c, const ferry_sftpc_cmp *j, uint64_t off, uint64_t len,
                      uint32_t *id)
{
    ferry_buf *p = ferry__sftpc_scratch(c);
    int rc = p ? FERRY_OK : FERRY_E_ALLOC;
    if (rc == FERRY_OK && j->handle != NULL) {
        rc = ferry_buf_put_cstring(p, "check-file-handle");
        rc = rc == FERRY_OK ? ferry_buf_put_stringb(p, j->handle) : rc;
    } else if (rc == FERRY_OK) {
        rc = ferry_buf_put_cstring(p, "check-file-name");
        rc = rc == FERRY_OK ? ferry_buf_put_cstring(p, j->path) : rc;
    }
    rc = rc == FERRY_OK ? ferry_buf_put_cstring(p, ferry_chk_name(alg_of(c))) : rc;
    rc = rc == FERRY_OK ? ferry_buf_put_u64(p, off) : rc;
    /* length 0 would mean "to the end": never ask for it on a piece */
    rc = rc == FERRY_OK ? ferry_buf_put_u64(p, len) : rc;
    rc = rc == FERRY_OK ? ferry_buf_put_u32(p, 0) : rc;
    return rc == FERRY_OK ? ferry_sftpc_send(c, SSH_FXP_EXTENDED, p, id) : rc;
}

/* The reply: string "check-file", string algorithm (the one we asked
 * for), the digest. */
static int read_check(ferry_sftpc *c, uint32_t id, uint8_t *out)
{
    ferry_rd r;
    const uint8_t *name, *alg, *h;
    size_t nn, na;
    const char *want = ferry_chk_name(alg_of(c));
    size_t dlen = ferry_chk_size(alg_of(c));
    int rc = ferry__sftpc_expect(c, id, SSH_FXP_EXTENDED_REPLY, &r);
    if (rc != FERRY_OK) {
        return rc;
    }
    rc = ferry_rd_string(&r, &name, &nn);
    rc = rc == FERRY_OK ? ferry_rd_string(&r, &alg, &na) : rc;
    if (rc == FERRY_OK && (na != strlen(want) || memcmp(alg, want, na) != 0)) {
        rc = FERRY_E_PROTOCOL;
    }
    if (rc == FERRY_OK && ferry_rd_bytes(&r, dlen, &h) == FERRY_OK) {
        memcpy(out, h, dlen);
        rc = ferry_rd_end(&r) == FERRY_OK ? FERRY_OK : FERRY_E_PROTOCOL;
    } else if (rc == FERRY_OK) {
        rc = FERRY_E_PROTOCOL;
    }
    ferry_sftpc_release(c, id);
    return rc;
}

int ferry_sftpc_hash_local(const ferry_sftpc *c, int fd, uint64_t off, uint64_t len, uint8_t *out)
{
    ferry_chk *ctx = ferry_chk_new(alg_of(c));
    uint8_t *buf = malloc(LOCAL_CHUNK);
    int rc = ctx && buf ? FERRY_OK : FERRY_E_ALLOC;
    while (rc == FERRY_OK && len > 0) {
        size_t want = len < LOCAL_CHUNK ? (size_t)len : LOCAL_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = n < 0 ? ferry_err_sys() : FERRY_E_EOF;
            break;
        }
        rc = ferry_chk_update(ctx, buf, (size_t)n);
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    if (rc == FERRY_OK) {
        rc = ferry_chk_final(ctx, out);
    }
    ferry_chk_free(ctx);
    free(buf);
    return rc;
}

/* ---- hashing data as it travels ---- */

struct ferry_sftpc_hashes {
    uint64_t next; /* bytes [0, next) are hashed */
    size_t n, cap; /* finished pieces */
    uint8_t (*h)[FERRY_CHK_MAX];
    ferry_chk *ctx;   /* the piece being hashed (in the client's algorithm) */
    int open, broken; /* ctx holds a started piece; an EVP failure */
};

int ferry_sftpc_hashes_new(const ferry_sftpc *c, ferry_sftpc_hashes **out)
{
    ferry_sftpc_hashes *hs = calloc(1, sizeof(*hs));
    if (hs == NULL || (hs->ctx = ferry_chk_new(alg_of(c))) == NULL) {
        free(hs);
        return FERRY_E_ALLOC;
    }
    *out = hs;
    return FERRY_OK;
}

void ferry_sftpc_hashes_reset(ferry_sftpc_hashes *hs)
{
    uint8_t scratch[FERRY_CHK_MAX];
    if (hs != NULL) {
        /* a started piece is thrown away: the final starts the ctx over */
        if (hs->open && ferry_chk_final(hs->ctx, scratch) != FERRY_OK) {
            hs->broken = 1;
            return;
        }
        hs->next = 0;
        hs->n = 0;
        hs->open = hs->broken = 0;
    }
}

void ferry_sftpc_hashes_free(ferry_sftpc_hashes *hs)
{
    if (hs != NULL) {
        ferry_chk_free(hs->ctx);
        free(hs->h);
        free(hs);
    }
}

uint64_t ferry_sftpc_hashes_end(const ferry_sftpc_hashes *hs)
{
    return hs != NULL && !hs->broken ? hs->next : 0;
}

static int close_piece(ferry_sftpc_hashes *hs)
{
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? hs->cap * 2 : 16;
        void *v = realloc(hs->h, cap * sizeof(*hs->h));
        if (v == NULL) {
            return FERRY_E_ALLOC;
        }
        hs->h = v;
        hs->cap = cap;
    }
    hs->open = 0;
    return ferry_chk_final(hs->ctx, hs->h[hs->n++]);
}

void ferry_sftpc_hashes_feed(ferry_sftpc_hashes *hs, uint64_t off, const uint8_t *p, size_t n)
{
    if (hs == NULL || hs->broken || off > hs->next || off + n <= hs->next) {
        return; /* a gap (hashed later from the file), or already hashed */
    }
    p += hs->next - off;
    n -= (size_t)(hs->next - off);
    while (n > 0 && !hs->broken) {
        uint64_t room = FERRY_SFTPC_HASH_PIECE - hs->next % FERRY_SFTPC_HASH_PIECE;
        size_t take = n < room ? n : (size_t)room;
        hs->open = 1;
        if (ferry_chk_update(hs->ctx, p, take) != FERRY_OK) {
            hs->broken = 1;
            break;
        }
        p += take;
        n -= take;
        hs->next += take;
        if (hs->next % FERRY_SFTPC_HASH_PIECE == 0 && close_piece(hs) != FERRY_OK) {
            hs->broken = 1;
        }
    }
}

/* The digest (in alg) of piece [off, off+len) if the stream covered
 * exactly it. */
static int known_piece(const ferry_sftpc_hashes *hs, const ferry_chk_alg *alg, uint64_t off,
                       uint64_t len, uint8_t *out)
{
    size_t k = (size_t)(off / FERRY_SFTPC_HASH_PIECE);
    if (hs == NULL || hs->broken || off % FERRY_SFTPC_HASH_PIECE != 0 ||
        ferry_chk_alg_of(hs->ctx) != alg) {
        return 0;
    }
    if (k < hs->n && len == FERRY_SFTPC_HASH_PIECE) {
        memcpy(out, hs->h[k], ferry_chk_size(alg));
        return 1;
    }
    if (k == hs->n && hs->open && hs->next == off + len) {
        return ferry_chk_peek(hs->ctx, out) == FERRY_OK;
    }
    return 0;
}

typedef struct piece {
    uint32_t id;
    size_t job;
    uint64_t off, len;
} piece;

/* Hashes the local side of piece p while the server works, then takes
 * the server's answer and records the outcome on its job. */
static void finish_piece(ferry_sftpc *c, ferry_sftpc_cmp *v, const piece *p)
{
    ferry_sftpc_cmp *j = &v[p->job];
    uint8_t mine[FERRY_CHK_MAX], theirs[FERRY_CHK_MAX];
    const ferry_chk_alg *alg = alg_of(c);
    int lr = known_piece(j->known, alg, p->off, p->len, mine)
                 ? FERRY_OK
                 : ferry_sftpc_hash_local(c, j->fd, p->off, p->len, mine);
    int rr = read_check(c, p->id, theirs);
    if (j->result != FERRY_OK) {
        return;
    }
    if (rr != FERRY_OK) {
        j->result = rr;
    } else if (lr == FERRY_E_EOF) {
        j->same = 0; /* the local file is shorter than the range */
    } else if (lr != FERRY_OK) {
        j->result = lr;
    } else if (CRYPTO_memcmp(mine, theirs, ferry_chk_size(alg)) != 0) {
        j->same = 0;
    }
    OPENSSL_cleanse(mine, sizeof(mine));
}

struct ferry_sftpc_cmp_run {
    ferry_sftpc_cmp *v;
    size_t n;
    unsigned session; /* ids from another session are void: never waited for */
    piece win[HASH_WINDOW];
    size_t head, inflight, job, k;
    int rc;
};

/* Sends piece requests until the window is full or every job's are out. */
static void fill_window(ferry_sftpc *c, ferry_sftpc_cmp_run *cr)
{
    while (cr->rc == FERRY_OK && cr->inflight < HASH_WINDOW && cr->job < cr->n) {
        ferry_sftpc_cmp *j = &cr->v[cr->job];
        piece *p = &cr->win[(cr->head + cr->inflight) % HASH_WINDOW];
        if (j->result != FERRY_OK || cr->k >= ferry_sftpc_hash_pieces(j->len)) {
            cr->job++;
            cr->k = 0;
            continue;
        }
        ferry_sftpc_hash_piece(j->len, cr->k, &p->off, &p->len);
        p->job = cr->job;
        if ((cr->rc = send_check(c, j, p->off, p->len, &p->id)) == FERRY_OK) {
            cr->inflight++;
            cr->k++;
        }
    }
}

/* A run over v with every job's result set up. */
static ferry_sftpc_cmp_run *run_new(ferry_sftpc *c, ferry_sftpc_cmp *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        v[i].result = ferry_sftpc_can_hash(c, v[i].handle != NULL) ? FERRY_OK : FERRY_E_UNSUPPORTED;
        v[i].same = 1;
    }
    ferry_sftpc_cmp_run *cr = calloc(1, sizeof(*cr));
    if (cr != NULL) {
        cr->v = v;
        cr->n = n;
        cr->session = c->session;
    }
    return cr;
}

int ferry_sftpc_compare_begin(ferry_sftpc *c, ferry_sftpc_cmp *v, size_t n,
                              ferry_sftpc_cmp_run **out)
{
    ferry_sftpc_cmp_run *cr = run_new(c, v, n);
    *out = cr;
    if (cr == NULL) {
        return FERRY_E_ALLOC;
    }
    fill_window(c, cr);
    return FERRY_OK;
}

int ferry_sftpc_compare_end(ferry_sftpc *c, ferry_sftpc_cmp_run *cr)
{
    if (cr == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    if (cr->session != c->session) { /* reconnected since _begin */
        for (size_t i = 0; i < cr->n; i++) {
            cr->v[i].result = cr->v[i].result == FERRY_OK ? FERRY_E_CLOSED : cr->v[i].result;
        }
        free(cr);
        return FERRY_E_CLOSED;
    }
    for (;;) {
        fill_window(c, cr);
        if (cr->inflight == 0) {
            break;
        }
        finish_piece(c, cr->v, &cr->win[cr->head]);
        cr->head = (cr->head + 1) % HASH_WINDOW;
        cr->inflight--;
        if (cr->rc == FERRY_OK && c->dead) {
            cr->rc = c->dead;
        }
    }
    int rc = c->dead ? c->dead : cr->rc;
    free(cr);
    return rc;
}

int ferry_sftpc_compare(ferry_sftpc *c, ferry_sftpc_cmp *v, size_t n)
{
    ferry_sftpc_cmp_run *cr = run_new(c, v, n);
    return cr != NULL ? ferry_sftpc_compare_end(c, cr) : FERRY_E_ALLOC;
}
