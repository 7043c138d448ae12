/* Tests of the SFTP client engine against a scripted fake server that
 * speaks the byte stream: request encoding, id matching, bounded replies,
 * pipelined transfers with short and out-of-order replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "sftp/client.h"
#include "sftp/proto.h"
#include "util/buf.h"
#include "util/err.h"

typedef enum { MODE_NORMAL, MODE_WRONG_ID, MODE_OVERSIZE, MODE_LONG_DATA } fake_mode;

#define LAG 32 /* fake.lag: pumps a reply waits */

typedef struct fake {
    fake_mode mode;
    uint8_t *file; /* the one remote file's contents */
    size_t file_len;
    size_t max_chunk;    /* short reads: at most this many bytes per DATA */
    int reverse;         /* answer each batch of requests in reverse order */
    size_t feed_step;    /* feed reply bytes in pieces of this size */
    uint64_t max_read;   /* limits@openssh.com max-read-length */
    ferry_buf *last_req; /* copy of the last request packet seen */
    ferry_buf *written;  /* contents written by WRITE requests */
    unsigned n_reads, n_writes, max_batch;
    unsigned flights; /* pumps that carried requests: round trips */
    int version_sent;
    int names;          /* offer users-groups-by-id@openssh.com; 2: answer
                           with one group name missing */
    int hashes;         /* offer check-file-handle / -name; 2: also list
                           check-file's algorithms with ferryd's checksum */
    unsigned cut_after; /* the connection drops after this many READ/WRITEs */
    unsigned n_checks;
    uint64_t check_len_max; /* longest range asked in one check-file */
    size_t window;          /* the io.window hint (both directions) */
    uint64_t eof_at;        /* nonzero: a READ at this offset finds the end
                               (the file grows after it) */
    /* direct: io.begin/end offered, packets built in `dbuf` (read by the
     * pump before the output buffer); stall: begin says "later" in turns,
     * two calls in four starting with the first (an idle pump is then not
     * the end: the backlog drained) */
    int direct, stall;
    ferry_buf *dbuf;
    size_t d_at, d_want;
    unsigned n_begin, n_direct, n_later;
    /* lag: the replies of a pump reach the client LAG pumps later (a
     * round trip during which the client may go on sending) */
    int lag;
    ferry_buf *held[LAG];
    unsigned held_n[LAG], lag_at, max_outstanding;
} fake;

static void put_reply(ferry_buf *out, ferry_buf *body)
{
    assert_int_equal(ferry_buf_put_u32(out, (uint32_t)ferry_buf_len(body)), FERRY_OK);
    assert_int_equal(ferry_buf_put(out, ferry_buf_data(body), ferry_buf_len(body)), FERRY_OK);
    ferry_buf_reset(body);
}

static void status(ferry_buf *b, uint32_t id, uint32_t code)
{
    ferry_buf_put_u8(b, SSH_FXP_STATUS);
    ferry_buf_put_u32(b, id);
    ferry_buf_put_u32(b, code);
    ferry_buf_put_cstring(b, code == SSH_FX_NO_SUCH_FILE ? "No such file" : "msg");
    ferry_buf_put_cstring(b, "");
}

static void on_read(fake *f, ferry_rd *r, uint32_t id, ferry_buf *b)
{
    const uint8_t *h;
    size_t hl;
    uint64_t off;
    uint32_t len;
    assert_int_equal(ferry_rd_string(r, &h, &hl), FERRY_OK);
    assert_int_equal(ferry_rd_u64(r, &off), FERRY_OK);
    assert_int_equal(ferry_rd_u32(r, &len), FERRY_OK);
    f->n_reads++;
    if (off >= f->file_len || (f->eof_at != 0 && off == f->eof_at)) {
        status(b, id, SSH_FX_EOF);
        return;
    }
    size_t n = f->file_len - off < len ? f->file_len - off : len;
    if (f->max_chunk && n > f->max_chunk) {
        n = f->max_chunk;
    }
    if (f->mode == MODE_LONG_DATA) {
        n = len + 1; /* more than asked: a protocol violation */
    }
    ferry_buf_put_u8(b, SSH_FXP_DATA);
    ferry_buf_put_u32(b, id);
    if (f->mode == MODE_LONG_DATA) {
        uint8_t *z;
        ferry_buf_put_u32(b, (uint32_t)n);
        ferry_buf_reserve(b, n, &z);
        memset(z, 'z', n);
    } else {
        ferry_buf_put_string(b, f->file + off, n);
    }
}

static void on_write(fake *f, ferry_rd *r, uint32_t id, ferry_buf *b)
{
    const uint8_t *h, *d;
    size_t hl, dl;
    uint64_t off;
    assert_int_equal(ferry_rd_string(r, &h, &hl), FERRY_OK);
    assert_int_equal(ferry_rd_u64(r, &off), FERRY_OK);
    assert_int_equal(ferry_rd_string(r, &d, &dl), FERRY_OK);
    f->n_writes++;
    size_t have = ferry_buf_len(f->written);
    if (off + dl > have) {
        uint8_t *z;
        ferry_buf_reserve(f->written, off + dl - have, &z);
        memset(z, 0, off + dl - have);
    }
    memcpy(ferry_buf_mdata(f->written) + off, d, dl);
    status(b, id, SSH_FX_OK);
}

static void on_init(fake *f, ferry_buf *b)
{
    ferry_buf_put_u8(b, SSH_FXP_VERSION);
    ferry_buf_put_u32(b, 3);
    ferry_buf_put_cstring(b, "posix-rename@openssh.com");
    ferry_buf_put_cstring(b, "1");
    if (f->max_read) {
        ferry_buf_put_cstring(b, "limits@openssh.com");
        ferry_buf_put_cstring(b, "1");
    }
    if (f->names) {
        ferry_buf_put_cstring(b, "users-groups-by-id@openssh.com");
        ferry_buf_put_cstring(b, "1");
    }
    if (f->hashes) {
        ferry_buf_put_cstring(b, "check-file-handle");
        ferry_buf_put_cstring(b, "1");
        ferry_buf_put_cstring(b, "check-file-name");
        ferry_buf_put_cstring(b, "1");
    }
    if (f->hashes == 2) {
        ferry_buf_put_cstring(b, "check-file");
        ferry_buf_put_cstring(b, "md5,sha256,poly1305@ferry.dev");
    }
}

/* check-file-handle / check-file-name over the one file (block size 0;
 * sha256, or poly1305@ferry.dev when offered, which the client must then
 * use): the range clipped to the file as ferryd does. */
static void on_check_file(fake *f, ferry_rd *r, uint32_t id, ferry_buf *b)
{
    const uint8_t *hp, *alg;
    size_t hl, al;
    uint64_t off, len;
    uint32_t bs;
    unsigned int mdlen = 0;
    uint8_t md[EVP_MAX_MD_SIZE];
    assert_int_equal(ferry_rd_string(r, &hp, &hl), FERRY_OK);
    assert_int_equal(ferry_rd_string(r, &alg, &al), FERRY_OK);
    assert_int_equal(ferry_rd_u64(r, &off), FERRY_OK);
    assert_int_equal(ferry_rd_u64(r, &len), FERRY_OK);
    assert_int_equal(ferry_rd_u32(r, &bs), FERRY_OK);
    assert_int_equal(bs, 0);
    assert_true(len > 0); /* 0 would mean "to the end" */
    const char *want = f->hashes == 2 ? "poly1305@ferry.dev" : "sha256";
    assert_int_equal(al, strlen(want));
    assert_memory_equal(alg, want, al);
    f->n_checks++;
    f->check_len_max = len > f->check_len_max ? len : f->check_len_max;
    uint64_t avail = off < f->file_len ? f->file_len - off : 0;
    len = len > avail ? avail : len;
    const uint8_t *d = f->file + (off < f->file_len ? off : 0);
    if (f->hashes == 2) {
        size_t ml = 0;
        assert_non_null(EVP_Q_mac(NULL, "POLY1305", NULL, NULL, NULL,
                                  (const unsigned char *)"ferry.dev check-file poly1305 k1", 32,
                                  d, (size_t)len, md, sizeof(md), &ml));
        mdlen = (unsigned)ml;
    } else {
        assert_int_equal(EVP_Digest(d, (size_t)len, md, &mdlen, EVP_sha256(), NULL), 1);
    }
    ferry_buf_put_u8(b, SSH_FXP_EXTENDED_REPLY);
    ferry_buf_put_u32(b, id);
    ferry_buf_put_cstring(b, "check-file");
    ferry_buf_put_cstring(b, want);
    ferry_buf_put(b, md, mdlen);
}

static void on_extended(fake *f, ferry_rd *r, uint32_t id, ferry_buf *b)
{
    char name[64];
    assert_int_equal(ferry_rd_name(r, name, sizeof(name)), FERRY_OK);
    if (f->hashes && strncmp(name, "check-file-", 11) == 0) {
        on_check_file(f, r, id, b);
        return;
    }
    if (f->names && strcmp(name, "users-groups-by-id@openssh.com") == 0) {
        /* names "u<uid>" / "g<gid>"; uid 7 has none */
        ferry_buf *lists[2] = {ferry_buf_new(0), ferry_buf_new(0)};
        for (int g = 0; g < 2; g++) {
            const uint8_t *p = NULL;
            size_t n = 0;
            assert_int_equal(ferry_rd_string(r, &p, &n), FERRY_OK);
            assert_int_equal(n % 4, 0);
            for (size_t i = 0; i + 4 <= n - (g == 1 && f->names == 2 ? 4 : 0); i += 4) {
                char nm[16];
                uint32_t v = ferry_load_u32(p + i);
                snprintf(nm, sizeof(nm), "%c%u", g ? 'g' : 'u', (unsigned)v);
                ferry_buf_put_cstring(lists[g], !g && v == 7 ? "" : nm);
            }
        }
        ferry_buf_put_u8(b, SSH_FXP_EXTENDED_REPLY);
        ferry_buf_put_u32(b, id);
        ferry_buf_put_stringb(b, lists[0]);
        ferry_buf_put_stringb(b, lists[1]);
        ferry_buf_free(lists[0]);
        ferry_buf_free(lists[1]);
        return;
    }
    if (strcmp(name, "limits@openssh.com") == 0) {
        ferry_buf_put_u8(b, SSH_FXP_EXTENDED_REPLY);
        ferry_buf_put_u32(b, id);
        ferry_buf_put_u64(b, 256 * 1024);
        ferry_buf_put_u64(b, f->max_read);
        ferry_buf_put_u64(b, f->max_read);
        ferry_buf_put_u64(b, 64);
        return;
    }
    status(b, id, SSH_FX_OK);
}

/* Builds the reply to one request packet (type + body) into b. */
static void answer(fake *f, const uint8_t *p, size_t n, ferry_buf *b)
{
    ferry_rd r;
    uint8_t type;
    uint32_t id = 0;
    ferry_rd_init(&r, p, n);
    assert_int_equal(ferry_rd_u8(&r, &type), FERRY_OK);
    ferry_buf_reset(f->last_req);
    ferry_buf_put(f->last_req, p, n);
    if (type == SSH_FXP_INIT) {
        on_init(f, b);
        return;
    }
    assert_int_equal(ferry_rd_u32(&r, &id), FERRY_OK);
    if (f->mode == MODE_WRONG_ID) {
        id += 1000;
    }
    if (type == SSH_FXP_READ) {
        on_read(f, &r, id, b);
    } else if (type == SSH_FXP_WRITE) {
        on_write(f, &r, id, b);
    } else if (type == SSH_FXP_EXTENDED) {
        on_extended(f, &r, id, b);
    } else if (type == SSH_FXP_OPEN) {
        ferry_buf_put_u8(b, SSH_FXP_HANDLE);
        ferry_buf_put_u32(b, id);
        ferry_buf_put_cstring(b, "hnd");
    } else if (type == SSH_FXP_STAT && f->mode == MODE_OVERSIZE) {
        uint8_t *z;
        ferry_buf_put_u8(b, SSH_FXP_ATTRS);
        ferry_buf_put_u32(b, id);
        ferry_buf_reserve(b, 300 * 1024, &z);
        memset(z, 0, 300 * 1024);
    } else if (type == SSH_FXP_STAT) {
        status(b, id, SSH_FX_NO_SUCH_FILE);
    } else {
        status(b, id, SSH_FX_OK);
    }
}

static uint8_t *fake_begin(void *ctx, size_t want, int *later)
{
    fake *f = ctx;
    uint8_t *p;
    *later = 0;
    if (f->stall && f->n_begin++ % 4 < 2) {
        f->n_later++;
        *later = 1;
        return NULL;
    }
    f->d_at = ferry_buf_len(f->dbuf);
    f->d_want = want;
    assert_int_equal(ferry_buf_reserve(f->dbuf, want, &p), FERRY_OK);
    return p;
}

static int fake_end(void *ctx, size_t used)
{
    fake *f = ctx;
    assert_true(used <= f->d_want);
    assert_int_equal(ferry_buf_truncate(f->dbuf, f->d_at + used), FERRY_OK);
    f->n_direct += used > 0;
    return FERRY_OK;
}

static int fake_pump(void *ctx, ferry_sftpc *c)
{
    fake *f = ctx;
    size_t len, outlen, off = 0;
    const uint8_t *p = ferry_sftpc_output(c, &outlen);
    ferry_buf *all = NULL;
    len = outlen;
    if (f->dbuf != NULL && ferry_buf_len(f->dbuf) > 0) { /* built in packets: sent first */
        all = ferry_buf_new(0);
        assert_int_equal(ferry_buf_put(all, ferry_buf_data(f->dbuf), ferry_buf_len(f->dbuf)),
                         FERRY_OK);
        assert_int_equal(ferry_buf_put(all, p, outlen), FERRY_OK);
        ferry_buf_reset(f->dbuf);
        p = ferry_buf_data(all);
        len = ferry_buf_len(all);
    }
    ferry_buf *replies[4096];
    unsigned n = 0;
    ferry_buf *out = ferry_buf_new(64u * 1024 * 1024);
    ferry_rd r;

    int cut = 0;
    ferry_rd_init(&r, p, len);
    while (ferry_rd_left(&r) > 0) {
        const uint8_t *pkt;
        size_t plen;
        assert_int_equal(ferry_rd_string(&r, &pkt, &plen), FERRY_OK);
        if (f->cut_after && f->n_reads + f->n_writes >= f->cut_after) {
            cut = 1; /* the rest is lost with the connection */
            break;
        }
        assert_true(n < 4096);
        replies[n] = ferry_buf_new(0);
        answer(f, pkt, plen, replies[n]);
        n++;
    }
    f->max_batch = n > f->max_batch ? n : f->max_batch;
    f->flights += n > 0;
    ferry_sftpc_output_consume(c, outlen);
    ferry_buf_free(all);
    ferry_buf *now = f->lag ? ferry_buf_new(64u * 1024 * 1024) : out;
    /* VERSION first even when reversing: no server answers a request
     * before it has answered INIT (ferry_sftpc_init sends some with it) */
    for (int version = 1; version >= 0; version--) {
        for (unsigned i = 0; i < n; i++) {
            ferry_buf *rb = replies[f->reverse ? n - 1 - i : i];
            if (rb != NULL && (ferry_buf_data(rb)[0] == SSH_FXP_VERSION) == version) {
                put_reply(now, rb);
                ferry_buf_free(rb);
                replies[f->reverse ? n - 1 - i : i] = NULL;
            }
        }
    }
    unsigned delivered = n;
    if (f->lag) { /* deliver the replies of LAG pumps ago, hold these */
        unsigned k = f->lag_at, waiting = n;
        for (unsigned i = 0; i < LAG; i++) {
            waiting += i != k ? f->held_n[i] : 0;
        }
        f->max_outstanding = waiting > f->max_outstanding ? waiting : f->max_outstanding;
        delivered = f->held_n[k];
        if (f->held[k] != NULL) {
            ferry_buf_put(out, ferry_buf_data(f->held[k]), ferry_buf_len(f->held[k]));
            ferry_buf_free(f->held[k]);
        }
        f->held[k] = now;
        f->held_n[k] = n;
        f->lag_at = (k + 1) % LAG;
        for (unsigned i = 0; n == 0 && delivered == 0 && i < LAG; i++) {
            delivered += f->held_n[i]; /* an idle pump is not the end while replies wait */
        }
    }
    int rc = FERRY_OK;
    size_t total = ferry_buf_len(out);
    size_t step = f->feed_step ? f->feed_step : (total ? total : 1);
    while (off < total && rc == FERRY_OK) {
        size_t k = total - off < step ? total - off : step;
        rc = ferry_sftpc_input(c, ferry_buf_data(out) + off, k);
        off += k;
    }
    ferry_buf_free(out);
    if (cut && rc == FERRY_OK) {
        return FERRY_E_DISCONNECTED;
    }
    if (f->stall && n == 0 && delivered == 0) {
        return rc; /* an idle round: the transport's backlog drained */
    }
    return n == 0 && delivered == 0 && rc == FERRY_OK ? FERRY_E_CLOSED : rc;
}

static size_t fake_window(void *ctx, int upload)
{
    (void)upload;
    return ((fake *)ctx)->window;
}

static ferry_sftpc *new_client(fake *f, uint32_t inflight)
{
    ferry_sftpc *c = NULL;
    ferry_sftpc_config cfg = {.max_inflight = inflight};
    ferry_sftpc_io io = {.pump = fake_pump, .ctx = f, .window = fake_window};
    if (f->direct) {
        io.begin = fake_begin;
        io.end = fake_end;
        f->dbuf = ferry_buf_new(0);
    }
    f->last_req = ferry_buf_new(0);
    f->written = ferry_buf_new(64u * 1024 * 1024);
    assert_int_equal(ferry_sftpc_new(&c, &cfg, &io), FERRY_OK);
    assert_int_equal(ferry_sftpc_init(c), FERRY_OK);
    return c;
}

static void fake_free(fake *f, ferry_sftpc *c)
{
    ferry_sftpc_free(c);
    ferry_buf_free(f->last_req);
    ferry_buf_free(f->written);
    ferry_buf_free(f->dbuf);
    for (unsigned i = 0; i < LAG; i++) {
        ferry_buf_free(f->held[i]);
    }
    free(f->file);
}

static void test_init_and_limits(void **state)
{
    (void)state;
    fake f = {.max_read = 65536};
    ferry_sftpc *c = new_client(&f, 0);
    assert_int_equal(f.max_batch, 3); /* INIT, REALPATH "." and limits in one flight */
    assert_int_equal(ferry_sftpc_version(c), 3);
    assert_true(ferry_sftpc_has_ext(c, "posix-rename@openssh.com"));
    assert_true(ferry_sftpc_has_ext(c, "limits@openssh.com"));
    assert_false(ferry_sftpc_has_ext(c, "posix-rename"));
    assert_int_equal(ferry_sftpc_read_size(c), 65536);
    fake_free(&f, c);

    /* -B above the server's limit is brought down to it */
    fake h = {.max_read = 16384};
    ferry_sftpc_config cfg = {.io_size = 200000};
    ferry_sftpc_io io = {.pump = fake_pump, .ctx = &h};
    h.last_req = ferry_buf_new(0);
    h.written = ferry_buf_new(0);
    assert_int_equal(ferry_sftpc_new(&c, &cfg, &io), FERRY_OK);
    assert_int_equal(ferry_sftpc_init(c), FERRY_OK);
    assert_int_equal(ferry_sftpc_read_size(c), 16384);
    assert_int_equal(ferry_sftpc_write_size(c), 16384);
    fake_free(&h, c);

    /* a server that does not offer limits@openssh.com: whatever it
     * answers to the request sent with INIT is not taken */
    fake g = {0};
    c = new_client(&g, 0);
    assert_int_equal(g.max_batch, 3);
    assert_int_equal(ferry_sftpc_read_size(c), FERRY_SFTPC_DEFAULT_IO);
    fake_free(&g, c);
}

static void test_request_encoding(void **state)
{
    (void)state;
    fake f = {0};
    ferry_sftpc *c = new_client(&f, 0);
    assert_int_equal(ferry_sftpc_remove(c, "/tmp/x y"), FERRY_OK);
    /* type, id, string path */
    const uint8_t *p = ferry_buf_data(f.last_req);
    assert_int_equal(ferry_buf_len(f.last_req), 1 + 4 + 4 + 8);
    assert_int_equal(p[0], SSH_FXP_REMOVE);
    assert_int_equal(p[8], 8);
    assert_memory_equal(p + 9, "/tmp/x y", 8);
    /* rename with posix=1 goes as an EXTENDED posix-rename@openssh.com */
    assert_int_equal(ferry_sftpc_rename(c, "/a", "/b", 1), FERRY_OK);
    p = ferry_buf_data(f.last_req);
    assert_int_equal(p[0], SSH_FXP_EXTENDED);
    assert_memory_equal(p + 9, "posix-rename@openssh.com", 24);
    /* a server status maps to an error and keeps its message */
    ferry_sftp_attrs a;
    const char *msg;
    assert_int_equal(ferry_sftpc_stat(c, "/nope", &a), FERRY_E_NOT_FOUND);
    assert_int_equal(ferry_sftpc_last_status(c, &msg), SSH_FX_NO_SUCH_FILE);
    assert_string_equal(msg, "No such file");
    /* statvfs is refused locally when not offered */
    ferry_sftpc_vfsinfo st;
    assert_int_equal(ferry_sftpc_statvfs(c, "/", &st), FERRY_E_UNSUPPORTED);
    assert_int_equal(ferry_sftpc_pending(c), 0);
    fake_free(&f, c);
}

/* users-groups-by-id@openssh.com: refused locally unless offered; the
 * request's packed id lists; names in order, "" kept; a reply short of a
 * name is an error that leaves nothing behind. */
static void test_users_groups(void **state)
{
    (void)state;
    const uint32_t uids[3] = {0, 7, 1000}, gids[2] = {0, 50};
    char *un[3], *gn[2];
    fake f = {0};
    ferry_sftpc *c = new_client(&f, 0);
    assert_int_equal(ferry_sftpc_users_groups(c, uids, 3, gids, 2, un, gn), FERRY_E_UNSUPPORTED);
    assert_int_equal(ferry_sftpc_pending(c), 0);
    fake_free(&f, c);

    for (int mode = 1; mode <= 2; mode++) {
        memset(&f, 0, sizeof(f));
        f.names = mode;
        c = new_client(&f, 0);
        int r = ferry_sftpc_users_groups(c, uids, 3, gids, 2, un, gn);
        const uint8_t *p = ferry_buf_data(f.last_req);
        assert_int_equal(p[0], SSH_FXP_EXTENDED);
        assert_int_equal(ferry_buf_len(f.last_req), 1 + 4 + 4 + 30 + 4 + 12 + 4 + 8);
        assert_int_equal(ferry_load_u32(p + 39), 12);
        assert_int_equal(ferry_load_u32(p + 51), 1000);
        if (mode == 1) {
            assert_int_equal(r, FERRY_OK);
            assert_string_equal(un[0], "u0");
            assert_string_equal(un[1], "");
            assert_string_equal(un[2], "u1000");
            assert_string_equal(gn[0], "g0");
            assert_string_equal(gn[1], "g50");
            for (int i = 0; i < 3; i++) {
                free(un[i]);
            }
            free(gn[0]);
            free(gn[1]);
        } else {
            assert_int_not_equal(r, FERRY_OK);
            for (int i = 0; i < 3; i++) {
                assert_null(un[i]);
            }
            assert_null(gn[0]);
            assert_null(gn[1]);
        }
        fake_free(&f, c);
    }
}

static uint8_t *pattern(size_t n)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(i * 7 + (i >> 9));
    }
    return p;
}

static int tmpfile_fd(char *path)
{
    strcpy(path, "/tmp/ferry-test-sftpc-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    return fd;
}

/* The pair most transfer tests need: a local temporary file and a
 * remote handle (any bytes: the fake server serves one file). */
typedef struct xio {
    char path[64];
    int fd;
    ferry_buf *h;
} xio;

static void xio_open(xio *x, const char *handle)
{
    x->fd = tmpfile_fd(x->path);
    x->h = ferry_buf_new(0);
    assert_non_null(x->h);
    assert_int_equal(ferry_buf_put(x->h, handle, strlen(handle)), FERRY_OK);
}

static void xio_close(xio *x)
{
    close(x->fd);
    unlink(x->path);
    ferry_buf_free(x->h);
}

static void check_file(int fd, const uint8_t *want, size_t n)
{
    uint8_t *got = malloc(n + 1);
    assert_int_equal(pread(fd, got, n + 1, 0), (ssize_t)n);
    assert_memory_equal(got, want, n);
    free(got);
}

static void test_download_short_reads_out_of_order(void **state)
{
    (void)state;
    fake f = {.max_chunk = 10000, .reverse = 1, .feed_step = 777};
    f.file_len = 300000 + 17;
    f.file = pattern(f.file_len);
    ferry_sftpc *c = new_client(&f, 16);
    xio x;
    xio_open(&x, "h1");
    uint64_t total = 0;
    assert_int_equal(ferry_sftpc_download(c, x.h, x.fd, 0, NULL, NULL, &total), FERRY_OK);
    assert_true(total == f.file_len);
    check_file(x.fd, f.file, f.file_len);
    assert_true(f.max_batch > 1); /* requests were pipelined */
    assert_int_equal(ferry_sftpc_pending(c), 0);
    /* resume from an offset: only the rest is asked for */
    assert_int_equal(ftruncate(x.fd, 100000), 0);
    unsigned before = f.n_reads;
    assert_int_equal(ferry_sftpc_download(c, x.h, x.fd, 100000, NULL, NULL, &total), FERRY_OK);
    check_file(x.fd, f.file, f.file_len);
    assert_true(f.n_reads - before < (f.file_len - 100000) / 10000 + 20);
    xio_close(&x);
    fake_free(&f, c);
}

static void count_call(void *ctx)
{
    (*(int *)ctx)++;
}

/* One ferry_sftpc_download_sized of a file_len-byte file said to be
 * `said` bytes (replies at most max_chunk long, 0: whole), with an
 * after_last hook if `hook`: it returns want_rc with want_total; after
 * INCOMPLETE a new call (as on a new handle) finishes the file. want_reads
 * (0: not checked): READs asked, all in the first flight. */
static void sized_case(size_t file_len, size_t said, size_t max_chunk, int hook, int want_rc,
                       uint64_t want_total, unsigned want_reads)
{
    fake f = {.max_read = 262144, .max_chunk = max_chunk};
    f.file_len = file_len;
    f.file = pattern(f.file_len);
    ferry_sftpc *c = new_client(&f, 64);
    xio x;
    xio_open(&x, "h1");
    int calls = 0;
    uint64_t total = 0;
    ferry_sftpc_set_after_last(c, hook ? count_call : NULL, &calls);
    f.max_batch = 0; /* not the set-up's requests */
    assert_int_equal(ferry_sftpc_download_sized(c, x.h, x.fd, 0, said, NULL, NULL, &total),
                     want_rc);
    ferry_sftpc_set_after_last(c, NULL, NULL);
    assert_int_equal(calls, hook ? 1 : 0);
    assert_true(total == want_total);
    if (want_reads != 0) {
        assert_int_equal(f.n_reads, want_reads);
        assert_int_equal(f.max_batch, want_reads); /* all in the first flight */
    }
    if (want_rc == FERRY_E_INCOMPLETE) { /* the rest, as on a new handle */
        assert_int_equal(
            ferry_sftpc_download_sized(c, x.h, x.fd, total, UINT64_MAX, NULL, NULL, &total),
            FERRY_OK);
    }
    assert_true(total == f.file_len);
    check_file(x.fd, f.file, f.file_len);
    assert_int_equal(ferry_sftpc_pending(c), 0);
    xio_close(&x);
    fake_free(&f, c);
}

/* The read size sized_case's client has. */
static size_t sized_read_size(void)
{
    fake q = {.max_read = 262144};
    ferry_sftpc *c = new_client(&q, 64);
    size_t len = ferry_sftpc_read_size(c);
    fake_free(&q, c);
    return len;
}

/* With the size known, a download is one flight: whole READs, the last
 * one exactly the rest (no short reply to re-request), one more at the
 * size for the end; a file longer or shorter than said still comes whole. */
static void test_download_sized(void **state)
{
    (void)state;
    size_t len = sized_read_size();
    size_t a = 2 * len + 12345;
    sized_case(a, a, 0, 0, FERRY_OK, a, 4);
    sized_case(2 * len, 2 * len, 0, 0, FERRY_OK, 2 * len, 3);
    sized_case(0, 0, 0, 0, FERRY_OK, 0, 1);
    sized_case(100, 100, 0, 0, FERRY_OK, 100, 2);
    sized_case(a, 2 * len, 0, 0, FERRY_OK, a, 0);                        /* grew */
    sized_case(a, 5 * len, 0, 0, FERRY_OK, a, 0);                        /* shrank */
    sized_case(3 * len + 7, UINT64_MAX, 0, 0, FERRY_OK, 3 * len + 7, 0); /* unknown */
}

/* after_last: called once when the READ at the size is out; after it no
 * READ is sent, so a longer file or a short reply ends the download with
 * INCOMPLETE at the end of what is whole, and a new call finishes it. */
static void test_download_after_last(void **state)
{
    (void)state;
    size_t len = sized_read_size();
    sized_case(2 * len + 100, 2 * len + 100, 0, 1, FERRY_OK, 2 * len + 100, 0);
    /* longer than said: the READ at the size brought data */
    sized_case(3 * len + 100, 2 * len + 100, 0, 1, FERRY_E_INCOMPLETE, 3 * len + 100, 0);
    /* short replies: the first one's end is where the rest starts */
    sized_case(2 * len + 100, 2 * len + 100, 100000, 1, FERRY_E_INCOMPLETE, 100000, 0);
}

/* Steady state allocates nothing per reply: a download's DATA goes to
 * the file where it arrives (no reply buffer at all) and each slot keeps
 * its reply buffer (the EOF's), so a second download allocates none. */
static void test_download_reuses_reply_buffers(void **state)
{
    (void)state;
    fake f = {.max_read = 262144};
    f.file_len = 64 * sized_read_size() + 99;
    f.file = pattern(f.file_len);
    ferry_sftpc *c = new_client(&f, 8);
    xio x;
    xio_open(&x, "h1");
    uint64_t total = 0;
    size_t before, first, again, held;
    ferry_sftpc_reply_stats(c, &before, &held);
    assert_int_equal(ferry_sftpc_download(c, x.h, x.fd, 0, NULL, NULL, &total), FERRY_OK);
    check_file(x.fd, f.file, f.file_len);
    ferry_sftpc_reply_stats(c, &first, &held);
    assert_true(first - before <= 8); /* 65 DATA and up to 8 EOF replies */
    assert_true(held < 8 * 1024);     /* no DATA was copied into a slot */
    assert_int_equal(ferry_sftpc_download(c, x.h, x.fd, 0, NULL, NULL, &total), FERRY_OK);
    check_file(x.fd, f.file, f.file_len);
    ferry_sftpc_reply_stats(c, &again, &held);
    assert_true(again == first);
    xio_close(&x);
    fake_free(&f, c);
}

/* DATA written as it arrives, for a READ past one that found the end
 * (the file grew between them), is not left in the file: it ends where
 * the data in order ends, as when such data was dropped. */
static void test_download_data_past_eof(void **state)
{
    (void)state;
    fake f = {.max_read = 262144};
    size_t len = sized_read_size();
    f.file_len = 4 * len;
    f.file = pattern(f.file_len);
    f.eof_at = len;
    ferry_sftpc *c = new_client(&f, 8);
    xio x;
    xio_open(&x, "h1");
    uint64_t total = 0;
    assert_int_equal(ferry_sftpc_download(c, x.h, x.fd, 0, NULL, NULL, &total), FERRY_OK);
    assert_true(total == len);
    check_file(x.fd, f.file, len); /* and not a byte more */
    assert_true(f.n_reads > 2);    /* READs past the end were answered */
    xio_close(&x);
    fake_free(&f, c);
}

static void test_upload_pipelined(void **state)
{
    (void)state;
    fake f = {.reverse = 1, .max_read = 32768};
    ferry_sftpc *c = new_client(&f, 8);
    size_t n = 200000 + 3;
    uint8_t *data = pattern(n);
    xio x;
    xio_open(&x, "h2");
    assert_int_equal(write(x.fd, data, n), (ssize_t)n);
    uint64_t total = 0;
    assert_int_equal(ferry_sftpc_upload(c, x.h, x.fd, 0, NULL, NULL, &total), FERRY_OK);
    assert_true(total == n);
    assert_int_equal(ferry_buf_len(f.written), n);
    assert_memory_equal(ferry_buf_data(f.written), data, n);
    assert_int_equal(f.n_writes, (n + 32767) / 32768);
    assert_true(f.max_batch > 1 && f.max_batch <= 8);
    xio_close(&x);
    free(data);
    fake_free(&f, c);
}

/* With io.begin, each WRITE is built in the transport's packet (no copy
 * out of the output buffer): all of them, in order, also when the
 * transport says "later" (its backlog full: pump, then go on); a short
 * last one has its lengths set to what was read. */
static void test_upload_in_packet(void **state)
{
    (void)state;
    size_t n = 40 * 32768 + 5;
    uint8_t *data = pattern(n);
    xio x;
    xio_open(&x, "h2");
    assert_int_equal(write(x.fd, data, n), (ssize_t)n);
    for (int stall = 0; stall < 2; stall++) {
        fake f = {.reverse = 1, .max_read = 32768, .direct = 1, .stall = stall};
        ferry_sftpc *c = new_client(&f, 8);
        uint64_t total = 0;
        assert_int_equal(ferry_sftpc_upload(c, x.h, x.fd, 0, NULL, NULL, &total), FERRY_OK);
        assert_true(total == n);
        assert_int_equal(ferry_buf_len(f.written), n);
        assert_memory_equal(ferry_buf_data(f.written), data, n);
        assert_int_equal(f.n_writes, 41);
        assert_int_equal(f.n_direct, 41); /* every WRITE */
        assert_true(stall ? f.n_later > 0 : f.n_later == 0);
        assert_true(f.max_batch > 1 && f.max_batch <= 8);
        fake_free(&f, c);
    }
    xio_close(&x);
    free(data);
}

/* Without -R, uploads keep as many bytes in flight as downloads: with
 * 252 KiB reads and 128 KiB writes, 126 writes; with -R, exactly that.
 * The server answers a round trip later (lag); the client builds at most
 * about 1 MiB of WRITEs ahead of what the connection took. */
static void test_upload_inflight_bytes(void **state)
{
    (void)state;
    size_t n = 200u * 131072;
    uint8_t *data = pattern(n);
    xio x;
    xio_open(&x, "h2");
    assert_int_equal(write(x.fd, data, n), (ssize_t)n);
    for (int chosen = 0; chosen < 2; chosen++) {
        fake f = {.reverse = 1, .max_read = 262144, .lag = 1};
        ferry_sftpc *c = new_client(&f, chosen ? 64 : 0);
        assert_int_equal(ferry_sftpc_read_size(c), FERRY_SFTPC_AUTO_READ_MAX);
        assert_int_equal(ferry_sftpc_upload(c, x.h, x.fd, 0, NULL, NULL, NULL), FERRY_OK);
        assert_int_equal(f.n_writes, 200);
        assert_int_equal(f.max_outstanding, chosen ? 64 : 126);
        assert_true(f.max_batch <= 9);
        assert_memory_equal(ferry_buf_data(f.written), data, n);
        fake_free(&f, c);
    }
    xio_close(&x);
    free(data);
}

/* Without -R the requests in flight cover the transport's window when it
 * is larger than the default count's bytes (it grows on long round
 * trips); with -R the count stays. */
static void test_inflight_follows_window(void **state)
{
    (void)state;
    for (int chosen = 0; chosen < 2; chosen++) {
        fake f = {.reverse = 1, .max_read = 32768, .window = 200u * 32768};
        f.file_len = 300u * 32768;
        f.file = pattern(f.file_len);
        ferry_sftpc *c = new_client(&f, chosen ? 64 : 0);
        xio x;
        xio_open(&x, "h1");
        assert_int_equal(ferry_sftpc_download(c, x.h, x.fd, 0, NULL, NULL, NULL), FERRY_OK);
        assert_int_equal(f.max_batch, chosen ? 64 : 200);
        check_file(x.fd, f.file, f.file_len);
        xio_close(&x);
        fake_free(&f, c);
    }
}

/* A local write that fails (/dev/full: ENOSPC) ends the download with
 * FERRY_E_NO_SPACE and a watermark of 0: nothing below it is on disk. */
static void test_download_local_write_fails(void **state)
{
    (void)state;
    fake f = {.reverse = 1, .max_read = 32768};
    f.file_len = 40u * 32768 + 7;
    f.file = pattern(f.file_len);
    ferry_sftpc *c = new_client(&f, 8);
    ferry_buf *h = ferry_buf_new(0);
    ferry_buf_put(h, "h1", 2);
    int fd = open("/dev/full", O_WRONLY);
    assert_true(fd >= 0);
    uint64_t mark = 99;
    assert_int_equal(ferry_sftpc_download(c, h, fd, 0, NULL, NULL, &mark), FERRY_E_NO_SPACE);
    assert_int_equal(mark, 0);
    assert_int_equal(ferry_sftpc_dead(c), 0); /* the session goes on */
    close(fd);
    ferry_buf_free(h);
    fake_free(&f, c);
}

/* A download cut by a lost connection reports a watermark below which
 * the local file is right; a reset engine continues from there. */
static void test_download_watermark_and_reset(void **state)
{
    (void)state;
    fake f = {.max_chunk = 3000, .reverse = 1, .cut_after = 20};
    f.file_len = 200000 + 5;
    f.file = pattern(f.file_len);
    ferry_sftpc *c = new_client(&f, 8);
    xio x;
    xio_open(&x, "h1");
    uint64_t mark = 0;
    int r = ferry_sftpc_download(c, x.h, x.fd, 0, NULL, NULL, &mark);
    assert_int_equal(r, FERRY_E_DISCONNECTED);
    assert_int_equal(ferry_sftpc_dead(c), FERRY_E_DISCONNECTED);
    assert_true(mark > 0 && mark < f.file_len);
    uint8_t *got = malloc(mark);
    assert_int_equal(pread(x.fd, got, mark, 0), (ssize_t)mark);
    assert_memory_equal(got, f.file, mark);
    free(got);
    /* with data hashed on the way: in order up to the first gap */
    ferry_sftpc_hashes *hs = NULL;
    assert_int_equal(ferry_sftpc_hashes_new(c, &hs), FERRY_OK);
    ferry_sftpc_hashes_feed(hs, 0, f.file, 10);
    ferry_sftpc_set_stream_hash(c, hs);
    /* the same engine on a new stream */
    f.cut_after = 0;
    ferry_sftpc_reset(c);
    assert_int_equal(ferry_sftpc_dead(c), FERRY_OK);
    assert_int_equal(ferry_sftpc_pending(c), 0);
    assert_int_equal(ferry_sftpc_init(c), FERRY_OK);
    assert_true(ferry_sftpc_has_ext(c, "posix-rename@openssh.com"));
    assert_int_equal(ftruncate(x.fd, (off_t)mark), 0);
    uint64_t from = mark;
    assert_int_equal(ferry_sftpc_download(c, x.h, x.fd, from, NULL, NULL, &mark), FERRY_OK);
    assert_true(mark == f.file_len);
    /* a stream starting past what was hashed is not taken */
    assert_true(ferry_sftpc_hashes_end(hs) == 10);
    ferry_sftpc_hashes_reset(hs);
    f.reverse = 0;
    f.max_chunk = 0;
    assert_int_equal(ferry_sftpc_download(c, x.h, x.fd, 0, NULL, NULL, &mark), FERRY_OK);
    assert_true(ferry_sftpc_hashes_end(hs) == f.file_len);
    ferry_sftpc_set_stream_hash(c, NULL);
    ferry_sftpc_hashes_free(hs);
    check_file(x.fd, f.file, f.file_len);
    xio_close(&x);
    fake_free(&f, c);
}

/* An upload cut short: every byte below the acknowledged watermark
 * reached the server. */
static void test_upload_acked_watermark(void **state)
{
    (void)state;
    fake f = {.cut_after = 5};
    ferry_sftpc *c = new_client(&f, 4);
    size_t n = 400000;
    uint8_t *data = pattern(n);
    xio x;
    xio_open(&x, "h2");
    assert_int_equal(write(x.fd, data, n), (ssize_t)n);
    uint64_t acked = 0;
    ferry_sftpc_hashes *hs = NULL;
    assert_int_equal(ferry_sftpc_hashes_new(c, &hs), FERRY_OK);
    ferry_sftpc_set_stream_hash(c, hs);
    assert_int_equal(ferry_sftpc_upload(c, x.h, x.fd, 0, NULL, NULL, &acked), FERRY_E_DISCONNECTED);
    /* the fifth reply arrived with the loss: not counted, but stored */
    assert_true(acked == 4u * FERRY_SFTPC_DEFAULT_IO);
    /* what was sent was hashed on the way (more than was acknowledged) */
    assert_true(ferry_sftpc_hashes_end(hs) >= acked);
    ferry_sftpc_set_stream_hash(c, NULL);
    ferry_sftpc_hashes_free(hs);
    assert_true(ferry_buf_len(f.written) >= acked);
    assert_memory_equal(ferry_buf_data(f.written), data, acked);
    xio_close(&x);
    free(data);
    fake_free(&f, c);
}

static void test_hash_pieces(void **state)
{
    (void)state;
    const uint64_t P = FERRY_SFTPC_HASH_PIECE;
    uint64_t off, len;
    assert_int_equal(P, 64ull * 1024 * 1024);
    assert_int_equal(ferry_sftpc_hash_pieces(0), 0);
    assert_int_equal(ferry_sftpc_hash_pieces(1), 1);
    assert_int_equal(ferry_sftpc_hash_pieces(P), 1);
    assert_int_equal(ferry_sftpc_hash_pieces(P + 1), 2);
    assert_int_equal(ferry_sftpc_hash_pieces(10 * P), 10);
    ferry_sftpc_hash_piece(P + 1, 0, &off, &len);
    assert_true(off == 0 && len == P);
    ferry_sftpc_hash_piece(P + 1, 1, &off, &len);
    assert_true(off == P && len == 1);
    ferry_sftpc_hash_piece(5, 0, &off, &len);
    assert_true(off == 0 && len == 5);
}

/* Local data compared with the server's check-file answers, in sha256
 * (hashes 1) or in ferryd's checksum when the server lists it (2). */
static void compare_with(int hashes)
{
    fake f = {.hashes = hashes};
    f.file_len = 70000;
    f.file = pattern(f.file_len);
    ferry_sftpc *c = new_client(&f, 0);
    assert_string_equal(ferry_sftpc_hash_name(c), hashes == 2 ? "poly1305@ferry.dev" : "sha256");
    xio x;
    xio_open(&x, "h1");
    assert_int_equal(write(x.fd, f.file, f.file_len), (ssize_t)f.file_len);
    ferry_sftpc_cmp v[3] = {{.handle = x.h, .fd = x.fd, .len = f.file_len},
                            {.path = "/x", .fd = x.fd, .len = 1000},
                            {.path = "/x", .fd = x.fd, .len = 0}};
    assert_int_equal(ferry_sftpc_compare(c, v, 3), FERRY_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(v[i].result, FERRY_OK);
        assert_int_equal(v[i].same, 1);
    }
    assert_int_equal(f.n_checks, 2); /* nothing asked for an empty range */
    /* one byte differs */
    assert_int_equal(pwrite(x.fd, "\xff", 1, 500), 1);
    assert_int_equal(ferry_sftpc_compare(c, v, 2), FERRY_OK);
    assert_int_equal(v[0].same, 0);
    assert_int_equal(v[1].same, 0);
    /* a local file shorter than the range is different, not an error */
    assert_int_equal(pwrite(x.fd, f.file + 500, 1, 500), 1);
    assert_int_equal(ftruncate(x.fd, 100), 0);
    assert_int_equal(ferry_sftpc_compare(c, v, 1), FERRY_OK);
    assert_int_equal(v[0].result, FERRY_OK);
    assert_int_equal(v[0].same, 0);
    /* the remote file shorter than the range: different too */
    v[0].len = f.file_len + 10;
    assert_int_equal(ftruncate(x.fd, 0), 0);
    assert_int_equal(write(x.fd, f.file, f.file_len), (ssize_t)f.file_len);
    assert_int_equal(write(x.fd, "0123456789", 10), 10);
    assert_int_equal(ferry_sftpc_compare(c, v, 1), FERRY_OK);
    assert_int_equal(v[0].same, 0);
    /* in two steps: the same answers; after a reconnect in between, the
     * run ends at once (its ids are void) */
    v[0].len = f.file_len;
    assert_int_equal(pwrite(x.fd, f.file, f.file_len, 0), (ssize_t)f.file_len);
    ferry_sftpc_cmp_run *run = NULL;
    assert_int_equal(ferry_sftpc_compare_begin(c, v, 2, &run), FERRY_OK);
    assert_non_null(run);
    assert_int_equal(ferry_sftpc_compare_end(c, run), FERRY_OK);
    assert_int_equal(v[0].result, FERRY_OK);
    assert_int_equal(v[0].same, 1);
    assert_int_equal(v[1].same, 1);
    assert_int_equal(ferry_sftpc_compare_begin(c, v, 2, &run), FERRY_OK);
    ferry_sftpc_reset(c);
    assert_int_equal(ferry_sftpc_compare_end(c, run), FERRY_E_CLOSED);
    assert_int_equal(v[0].result, FERRY_E_CLOSED);
    fake_free(&f, c);
    xio_close(&x);
}

static void test_compare(void **state)
{
    (void)state;
    compare_with(1);
    compare_with(2);
    /* a server without check-file: not comparable, nothing sent */
    char path[64];
    int fd = tmpfile_fd(path);
    ferry_sftpc_cmp v[1];
    fake g = {0};
    g.file_len = 10;
    g.file = pattern(10);
    ferry_sftpc *c = new_client(&g, 0);
    v[0] = (ferry_sftpc_cmp){.path = "/x", .fd = fd, .len = 10};
    assert_int_equal(ferry_sftpc_compare(c, v, 1), FERRY_OK);
    assert_int_equal(v[0].result, FERRY_E_UNSUPPORTED);
    assert_int_equal(ferry_sftpc_pending(c), 0);
    fake_free(&g, c);
    close(fd);
    unlink(path);
}

/* Ranges over 64 MiB go in several pipelined requests of at most 64 MiB. */
static void test_compare_long_file(void **state)
{
    (void)state;
    fake f = {.hashes = 1};
    f.file_len = (size_t)FERRY_SFTPC_HASH_PIECE + 4096 + 3;
    f.file = pattern(f.file_len);
    ferry_sftpc *c = new_client(&f, 0);
    char path[64];
    int fd = tmpfile_fd(path);
    assert_int_equal(write(fd, f.file, f.file_len), (ssize_t)f.file_len);
    ferry_sftpc_cmp v = {.path = "/big", .fd = fd, .len = f.file_len};
    assert_int_equal(ferry_sftpc_compare(c, &v, 1), FERRY_OK);
    assert_int_equal(v.result, FERRY_OK);
    assert_int_equal(v.same, 1);
    assert_int_equal(f.n_checks, 2);
    assert_true(f.check_len_max == FERRY_SFTPC_HASH_PIECE);
    assert_true(f.max_batch >= 2); /* both requests went out together */
    /* a change in the second piece only */
    assert_int_equal(pwrite(fd, "!", 1, (off_t)f.file_len - 2), 1);
    assert_int_equal(ferry_sftpc_compare(c, &v, 1), FERRY_OK);
    assert_int_equal(v.same, 0);
    /* hashed while it travelled (in pieces fed out of step, overlapping
     * and past a gap): the local file is not read for those pieces */
    ferry_sftpc_hashes *hs = NULL;
    assert_int_equal(ferry_sftpc_hashes_new(c, &hs), FERRY_OK);
    ferry_sftpc_hashes_feed(hs, 0, f.file, 1000);
    ferry_sftpc_hashes_feed(hs, 5000, f.file + 5000, 10); /* a gap: ignored */
    assert_true(ferry_sftpc_hashes_end(hs) == 1000);
    ferry_sftpc_hashes_feed(hs, 500, f.file + 500, 1500); /* overlaps */
    for (size_t off = 2000; off < f.file_len; off += 1u << 20) {
        size_t n = f.file_len - off < (1u << 20) ? f.file_len - off : (1u << 20);
        ferry_sftpc_hashes_feed(hs, off, f.file + off, n);
    }
    assert_true(ferry_sftpc_hashes_end(hs) == f.file_len);
    v.known = hs;
    assert_int_equal(ferry_sftpc_compare(c, &v, 1), FERRY_OK);
    assert_int_equal(v.result, FERRY_OK);
    assert_int_equal(v.same, 1); /* the stream was right; the file is not read */
    /* a range ending inside the known part is hashed from the file */
    v.len = 100;
    assert_int_equal(ferry_sftpc_compare(c, &v, 1), FERRY_OK);
    assert_int_equal(v.same, 1);
    v.len = f.file_len;
    /* what the stream saw differs from the server */
    ferry_sftpc_hashes_reset(hs);
    assert_true(ferry_sftpc_hashes_end(hs) == 0);
    uint8_t x = f.file[7] ^ 1;
    ferry_sftpc_hashes_feed(hs, 0, f.file, 7);
    ferry_sftpc_hashes_feed(hs, 7, &x, 1);
    ferry_sftpc_hashes_feed(hs, 8, f.file + 8, f.file_len - 8);
    assert_int_equal(pwrite(fd, f.file + f.file_len - 2, 1, (off_t)f.file_len - 2), 1);
    assert_int_equal(ferry_sftpc_compare(c, &v, 1), FERRY_OK);
    assert_int_equal(v.same, 0);
    ferry_sftpc_hashes_free(hs);
    close(fd);
    unlink(path);
    fake_free(&f, c);
}

static void test_reply_id_mismatch(void **state)
{
    (void)state;
    fake f = {0};
    ferry_sftpc *c = new_client(&f, 0);
    f.mode = MODE_WRONG_ID;
    assert_int_equal(ferry_sftpc_remove(c, "/x"), FERRY_E_PROTOCOL);
    assert_int_equal(ferry_sftpc_dead(c), FERRY_E_PROTOCOL);
    /* the engine stays dead */
    assert_int_not_equal(ferry_sftpc_rmdir(c, "/y"), FERRY_OK);
    fake_free(&f, c);
}

static void test_oversize_reply(void **state)
{
    (void)state;
    fake f = {.mode = MODE_OVERSIZE};
    ferry_sftpc *c = new_client(&f, 0);
    ferry_sftp_attrs a;
    assert_int_equal(ferry_sftpc_stat(c, "/big", &a), FERRY_E_TOO_LARGE);
    assert_int_equal(ferry_sftpc_dead(c), FERRY_E_TOO_LARGE);
    fake_free(&f, c);
}

static void test_data_longer_than_asked(void **state)
{
    (void)state;
    fake f = {.mode = MODE_LONG_DATA};
    f.file_len = 1000;
    f.file = pattern(f.file_len);
    ferry_sftpc *c = new_client(&f, 4);
    xio x;
    xio_open(&x, "h");
    assert_int_equal(ferry_sftpc_download(c, x.h, x.fd, 0, NULL, NULL, NULL), FERRY_E_PROTOCOL);
    xio_close(&x);
    fake_free(&f, c);
}

static void test_unsolicited_and_garbage(void **state)
{
    (void)state;
    ferry_sftpc *c = NULL;
    assert_int_equal(ferry_sftpc_new(&c, NULL, NULL), FERRY_OK);
    /* a reply before VERSION */
    const uint8_t status_pkt[] = {0, 0, 0, 9, SSH_FXP_STATUS, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_int_equal(ferry_sftpc_input(c, status_pkt, sizeof(status_pkt)), FERRY_E_PROTOCOL);
    ferry_sftpc_free(c);
    /* a zero-length packet */
    assert_int_equal(ferry_sftpc_new(&c, NULL, NULL), FERRY_OK);
    const uint8_t zero[] = {0, 0, 0, 0};
    assert_int_equal(ferry_sftpc_input(c, zero, sizeof(zero)), FERRY_E_TOO_LARGE);
    ferry_sftpc_free(c);
    /* a length over the bound is refused before the bytes arrive */
    assert_int_equal(ferry_sftpc_new(&c, NULL, NULL), FERRY_OK);
    const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 2};
    assert_int_equal(ferry_sftpc_input(c, huge, sizeof(huge)), FERRY_E_TOO_LARGE);
    ferry_sftpc_free(c);
}

static void test_readdir(void **state)
{
    (void)state;
    ferry_sftpc *c = NULL;
    assert_int_equal(ferry_sftpc_new(&c, NULL, NULL), FERRY_OK);
    const uint8_t ver[] = {0, 0, 0, 5, SSH_FXP_VERSION, 0, 0, 0, 3};
    assert_int_equal(ferry_sftpc_input(c, ver, sizeof(ver)), FERRY_OK);
    uint32_t id;
    assert_int_equal(ferry_sftpc_send(c, SSH_FXP_READDIR, NULL, &id), FERRY_OK);
    /* NAME with a count larger than the packet can hold: FORMAT, not a
     * huge allocation */
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u32(b, 13);
    ferry_buf_put_u8(b, SSH_FXP_NAME);
    ferry_buf_put_u32(b, id);
    ferry_buf_put_u32(b, 0x40000000);
    ferry_buf_put_u32(b, 0);
    assert_int_equal(ferry_sftpc_input(c, ferry_buf_data(b), ferry_buf_len(b)), FERRY_OK);
    uint8_t type;
    ferry_rd r;
    assert_int_equal(ferry_sftpc_poll(c, id, &type, &r), FERRY_OK);
    assert_int_equal(type, SSH_FXP_NAME);
    ferry_sftpc_release(c, id);
    assert_int_equal(ferry_sftpc_pending(c), 0);
    /* a second reply to the released id is a protocol error */
    assert_int_equal(ferry_sftpc_input(c, ferry_buf_data(b), ferry_buf_len(b)), FERRY_E_PROTOCOL);
    ferry_buf_free(b);
    ferry_sftpc_free(c);
}

static void test_upload_small_batch(void **state)
{
    (void)state;
    fake f = {.max_read = 32768};
    ferry_sftpc *c = new_client(&f, 8);
    size_t n = 40000;
    uint8_t *data = pattern(n);
    char path[64], big[64];
    int fd = tmpfile_fd(path), bfd = tmpfile_fd(big);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    uint8_t *z = calloc(1, 300000); /* more than FERRY_SFTPC_SMALL_WRITES of 32 KiB */
    assert_int_equal(write(bfd, z, 300000), 300000);
    free(z);
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_PERMISSIONS, .perm = 0600};
    ferry_sftpc_small v[4] = {
        {.path = "/a", .attrs = &a, .fd = fd},
        {.path = "/b", .fd = fd, .setstat = &a},
        {.path = "/c", .fd = fd},
        {.path = "/big", .fd = bfd},
    };
    f.max_batch = 0;
    assert_int_equal(ferry_sftpc_upload_small(c, v, 3), FERRY_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(v[i].result, FERRY_OK);
        assert_true(v[i].sent == n);
    }
    assert_true(f.max_batch >= 3); /* the OPENs went out together */
    assert_int_equal(f.n_writes, 3 * 2);
    assert_memory_equal(ferry_buf_data(f.written), data, n);
    assert_int_equal(ferry_sftpc_pending(c), 0);
    /* too large for the batch way: reported, nothing left pending */
    assert_int_equal(ferry_sftpc_upload_small(c, &v[3], 1), FERRY_OK);
    assert_int_equal(v[3].result, FERRY_E_TOO_LARGE);
    assert_int_equal(ferry_sftpc_pending(c), 0);
    close(fd);
    close(bfd);
    unlink(path);
    unlink(big);
    free(data);
    fake_free(&f, c);
}

/* The batches' WRITEs are built in packets too while nothing is queued
 * ahead of them (the first file's: the next ones follow a CLOSE in the
 * output buffer), and wait (pump) when the transport says "later"
 * instead of failing the file. */
static void test_upload_small_batch_in_packet(void **state)
{
    (void)state;
    fake f = {.max_read = 32768, .direct = 1, .stall = 1};
    ferry_sftpc *c = new_client(&f, 8);
    size_t n = 40000;
    uint8_t *data = pattern(n);
    char path[64];
    int fd = tmpfile_fd(path);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    ferry_sftpc_small v[3] = {
        {.path = "/a", .fd = fd}, {.path = "/b", .fd = fd}, {.path = "/c", .fd = fd}};
    assert_int_equal(ferry_sftpc_upload_small(c, v, 3), FERRY_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(v[i].result, FERRY_OK);
        assert_true(v[i].sent == n);
    }
    assert_int_equal(f.n_writes, 3 * 2);
    assert_int_equal(f.n_direct, 2); /* the first file's */
    assert_true(f.n_later > 0);
    assert_memory_equal(ferry_buf_data(f.written), data, n);
    assert_int_equal(ferry_sftpc_pending(c), 0);
    close(fd);
    unlink(path);
    free(data);
    fake_free(&f, c);
}

static void test_download_small_batch(void **state)
{
    (void)state;
    fake f = {.max_read = 32768};
    f.file_len = 5000;
    f.file = pattern(f.file_len);
    ferry_sftpc *c = new_client(&f, 8);
    char p1[64], p2[64];
    int fd1 = tmpfile_fd(p1), fd2 = tmpfile_fd(p2);
    ferry_sftpc_small_get v[2] = {
        {.path = "/a", .size = 5000, .fd = fd1},
        {.path = "/b", .size = 10, .fd = fd2}, /* listing out of date */
    };
    f.max_batch = 0;
    f.n_reads = 0;
    assert_int_equal(ferry_sftpc_download_small(c, v, 2), FERRY_OK);
    assert_int_equal(v[0].result, FERRY_OK);
    assert_int_equal(v[1].result, FERRY_OK);
    assert_true(v[0].got == 5000 && v[1].got == 5000);
    check_file(fd1, f.file, f.file_len);
    check_file(fd2, f.file, f.file_len);
    assert_true(f.max_batch >= 2);
    /* one READ for the file as listed; the other was finished the long way */
    assert_true(f.n_reads >= 3);
    assert_int_equal(ferry_sftpc_pending(c), 0);
    close(fd1);
    close(fd2);
    unlink(p1);
    unlink(p2);
    fake_free(&f, c);
}

/* A batched file takes as many READs as its listed size needs, the last
 * at or before it (up to FERRY_SFTPC_SMALL_READS), and its CLOSE in the
 * same flight; one that fills them all is finished the long way on a
 * new handle (more may follow), as is one listed wrongly. */
static void small_multi(size_t file_len, uint64_t listed, unsigned want_reads, int exact)
{
    fake f = {.max_read = 32768};
    f.file_len = file_len;
    f.file = pattern(f.file_len);
    ferry_sftpc *c = new_client(&f, 8);
    char p1[64];
    int fd1 = tmpfile_fd(p1);
    ferry_sftpc_small_get v = {.path = "/m", .size = listed, .fd = fd1};
    f.n_reads = 0;
    f.flights = 0;
    assert_int_equal(ferry_sftpc_download_small(c, &v, 1), FERRY_OK);
    assert_int_equal(v.result, FERRY_OK);
    assert_true(v.got == file_len);
    check_file(fd1, f.file, f.file_len);
    if (exact) {
        assert_int_equal(f.n_reads, want_reads);
        assert_int_equal(f.flights, 2); /* OPEN; the READs with the CLOSE */
    } else {
        assert_true(f.n_reads > want_reads);
    }
    assert_int_equal(ferry_sftpc_pending(c), 0);
    close(fd1);
    unlink(p1);
    fake_free(&f, c);
}

static void test_download_small_multi(void **state)
{
    (void)state;
    small_multi(81920 + 100, 81920 + 100, 3, 1); /* 3 reads, the last short */
    small_multi(65536, 65536, 3, 1);             /* 2 full reads and one at the size: EOF */
    small_multi(0, 0, 1, 1);                     /* an empty file: one read, EOF */
    small_multi(200000, 200000, 5, 0);           /* over 5 reads: finished the long way */
    small_multi(81920 + 100, 1000, 1, 0);        /* listed smaller */
    small_multi(1000, 81920, 3, 0);              /* listed larger: checked the long way */
}

/* A channel may hand over a whole window at once (megabytes): taken. */
static void test_large_input_at_once(void **state)
{
    (void)state;
    ferry_sftpc *c = NULL;
    uint32_t ids[40];
    assert_int_equal(ferry_sftpc_new(&c, NULL, NULL), FERRY_OK);
    const uint8_t ver[] = {0, 0, 0, 5, SSH_FXP_VERSION, 0, 0, 0, 3};
    assert_int_equal(ferry_sftpc_input(c, ver, sizeof(ver)), FERRY_OK);
    ferry_buf *b = ferry_buf_new(64u * 1024 * 1024);
    uint8_t *chunk = pattern(100000);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(ferry_sftpc_send(c, SSH_FXP_READ, NULL, &ids[i]), FERRY_OK);
        ferry_buf_put_u32(b, 1 + 4 + 4 + 100000);
        ferry_buf_put_u8(b, SSH_FXP_DATA);
        ferry_buf_put_u32(b, ids[i]);
        ferry_buf_put_string(b, chunk, 100000);
    }
    /* the last packet incomplete: kept until its end arrives */
    size_t all = ferry_buf_len(b);
    assert_int_equal(ferry_sftpc_input(c, ferry_buf_data(b), all - 10), FERRY_OK);
    uint8_t type;
    ferry_rd r;
    assert_int_equal(ferry_sftpc_poll(c, ids[38], &type, &r), FERRY_OK);
    assert_int_equal(ferry_sftpc_poll(c, ids[39], &type, &r), FERRY_E_INCOMPLETE);
    assert_int_equal(ferry_sftpc_input(c, ferry_buf_data(b) + all - 10, 10), FERRY_OK);
    for (int i = 0; i < 40; i++) {
        const uint8_t *d;
        size_t n;
        assert_int_equal(ferry_sftpc_poll(c, ids[i], &type, &r), FERRY_OK);
        assert_int_equal(type, SSH_FXP_DATA);
        assert_int_equal(ferry_rd_string(&r, &d, &n), FERRY_OK);
        assert_int_equal(n, 100000);
        assert_memory_equal(d, chunk, n);
        ferry_sftpc_release(c, ids[i]);
    }
    assert_int_equal(ferry_sftpc_pending(c), 0);
    free(chunk);
    ferry_buf_free(b);
    ferry_sftpc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_limits),
        cmocka_unit_test(test_download_sized),
        cmocka_unit_test(test_download_after_last),
        cmocka_unit_test(test_upload_inflight_bytes),
        cmocka_unit_test(test_inflight_follows_window),
        cmocka_unit_test(test_download_local_write_fails),
        cmocka_unit_test(test_request_encoding),
        cmocka_unit_test(test_users_groups),
        cmocka_unit_test(test_download_short_reads_out_of_order),
        cmocka_unit_test(test_download_reuses_reply_buffers),
        cmocka_unit_test(test_download_data_past_eof),
        cmocka_unit_test(test_upload_in_packet),
        cmocka_unit_test(test_upload_pipelined),
        cmocka_unit_test(test_reply_id_mismatch),
        cmocka_unit_test(test_oversize_reply),
        cmocka_unit_test(test_data_longer_than_asked),
        cmocka_unit_test(test_unsolicited_and_garbage),
        cmocka_unit_test(test_readdir),
        cmocka_unit_test(test_large_input_at_once),
        cmocka_unit_test(test_upload_small_batch),
        cmocka_unit_test(test_upload_small_batch_in_packet),
        cmocka_unit_test(test_download_small_batch),
        cmocka_unit_test(test_download_small_multi),
        cmocka_unit_test(test_download_watermark_and_reset),
        cmocka_unit_test(test_upload_acked_watermark),
        cmocka_unit_test(test_hash_pieces),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_compare_long_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
