#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/err.h"

struct ferry_buf {
    uint8_t *d;    /* storage */
    size_t off;    /* first byte held */
    size_t len;    /* end of held bytes (d[off..len)) */
    size_t cap;    /* allocated size of d */
    size_t max;    /* most bytes it may hold */
    int secret;
};

static uint8_t empty_byte;

ferry_buf *ferry_buf_new(size_t max)
{
    ferry_buf *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->max = max ? max : FERRY_BUF_MAX_DEFAULT;
    return b;
}

void ferry_buf_free(ferry_buf *b)
{
    if (b == NULL) {
        return;
    }
    if (b->d != NULL && b->secret) {
        OPENSSL_cleanse(b->d, b->cap);
    }
    free(b->d);
    free(b);
}

void ferry_buf_set_secret(ferry_buf *b)
{
    b->secret = 1;
}

void ferry_buf_reset(ferry_buf *b)
{
    if (b->secret && b->d != NULL) {
        OPENSSL_cleanse(b->d, b->cap);
    }
    b->off = b->len = 0;
}

int ferry_buf_set_max(ferry_buf *b, size_t max)
{
    if (b->len - b->off > max) {
        return FERRY_E_TOO_LARGE;
    }
    b->max = max;
    return FERRY_OK;
}

size_t ferry_buf_len(const ferry_buf *b)
{
    return b->len - b->off;
}

size_t ferry_buf_cap(const ferry_buf *b)
{
    return b->cap;
}

const uint8_t *ferry_buf_data(const ferry_buf *b)
{
    return b->d ? b->d + b->off : &empty_byte;
}

uint8_t *ferry_buf_mdata(ferry_buf *b)
{
    return b->d ? b->d + b->off : &empty_byte;
}

int ferry_buf_ensure(ferry_buf *b, size_t n)
{
    size_t held = b->len - b->off;
    if (n > b->max || held > b->max - n) {
        return FERRY_E_TOO_LARGE;
    }
    if (b->cap - b->len >= n) {
        return FERRY_OK;
    }
    /* Compact first when that frees enough room and moves no more than
     * was consumed (so each byte is moved at most once per byte consumed:
     * a stream buffer holding megabytes is not shifted for every packet
     * appended), or when the buffer may not grow. */
    if (b->off > 0 && b->cap - held >= n && (b->off >= held || b->cap >= b->max)) {
        if (held > 0) {
            memmove(b->d, b->d + b->off, held);
        }
        if (b->secret) {
            OPENSSL_cleanse(b->d + held, b->off);
        }
        b->off = 0;
        b->len = held;
        return FERRY_OK;
    }
    size_t want = held + n;
    size_t ncap = b->cap < 256 ? 256 : b->cap;
    while (ncap < want) {
        ncap = ncap > b->max / 2 ? b->max : ncap * 2;
    }
    if (ncap > b->max) {
        ncap = b->max;
    }
    uint8_t *nd = malloc(ncap);
    if (nd == NULL) {
        return FERRY_E_ALLOC;
    }
    if (held > 0) {
        memcpy(nd, b->d + b->off, held);
    }
    if (b->d != NULL) {
        if (b->secret) {
            OPENSSL_cleanse(b->d, b->cap);
        }
        free(b->d);
    }
    b->d = nd;
    b->cap = ncap;
    b->off = 0;
    b->len = held;
    return FERRY_OK;
}

int ferry_buf_reserve(ferry_buf *b, size_t n, uint8_t **dst)
{
    int r = ferry_buf_ensure(b, n);
    if (r != FERRY_OK) {
        return r;
    }
    /* n == 0 on a buffer never allocated: no arithmetic on NULL. */
    *dst = b->d != NULL ? b->d + b->len : NULL;
    b->len += n;
    return FERRY_OK;
}

int ferry_buf_consume(ferry_buf *b, size_t n)
{
    if (n > b->len - b->off) {
        return FERRY_E_FORMAT;
    }
    if (b->secret && n > 0) {
        OPENSSL_cleanse(b->d + b->off, n);
    }
    b->off += n;
    if (b->off == b->len) {
        b->off = b->len = 0;
    }
    return FERRY_OK;
}

int ferry_buf_truncate(ferry_buf *b, size_t len)
{
    size_t held = b->len - b->off;
    if (len > held) {
        return FERRY_E_FORMAT;
    }
    if (b->secret && held > len) {
        OPENSSL_cleanse(b->d + b->off + len, held - len);
    }
    b->len = b->off + len;
    return FERRY_OK;
}

int ferry_buf_put(ferry_buf *b, const void *p, size_t n)
{
    uint8_t *dst;
    int r = ferry_buf_reserve(b, n, &dst);
    if (r == FERRY_OK && n > 0) {
        memcpy(dst, p, n);
    }
    return r;
}

int ferry_buf_put_u8(ferry_buf *b, uint8_t v)
{
    return ferry_buf_put(b, &v, 1);
}

int ferry_buf_put_bool(ferry_buf *b, int v)
{
    return ferry_buf_put_u8(b, v ? 1 : 0);
}

int ferry_buf_put_u32(ferry_buf *b, uint32_t v)
{
    uint8_t t[4];
    ferry_store_u32(t, v);
    return ferry_buf_put(b, t, 4);
}

int ferry_buf_put_u64(ferry_buf *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++) {
        t[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    return ferry_buf_put(b, t, 8);
}

int ferry_buf_put_string(ferry_buf *b, const void *p, size_t n)
{
    uint8_t *dst;
    if (n > UINT32_MAX || n > SIZE_MAX - 4) {
        return FERRY_E_TOO_LARGE;
    }
    int r = ferry_buf_reserve(b, n + 4, &dst);
    if (r != FERRY_OK) {
        return r;
    }
    dst[0] = (uint8_t)(n >> 24);
    dst[1] = (uint8_t)(n >> 16);
    dst[2] = (uint8_t)(n >> 8);
    dst[3] = (uint8_t)n;
    if (n > 0) {
        memcpy(dst + 4, p, n);
    }
    return FERRY_OK;
}

int ferry_buf_put_cstring(ferry_buf *b, const char *s)
{
    return ferry_buf_put_string(b, s, s ? strlen(s) : 0);
}

int ferry_buf_put_stringb(ferry_buf *b, const ferry_buf *v)
{
    return ferry_buf_put_string(b, ferry_buf_data(v), ferry_buf_len(v));
}

int ferry_buf_put_mpint(ferry_buf *b, const uint8_t *be, size_t n)
{
    while (n > 0 && be[0] == 0) {
        be++;
        n--;
    }
    if (n > FERRY_MPINT_MAX_BYTES) {
        return FERRY_E_TOO_LARGE;
    }
    int pad = (n > 0 && (be[0] & 0x80)) ? 1 : 0;
    uint8_t *dst;
    int r = ferry_buf_reserve(b, 4 + pad + n, &dst);
    if (r != FERRY_OK) {
        return r;
    }
    size_t l = n + pad;
    dst[0] = (uint8_t)(l >> 24);
    dst[1] = (uint8_t)(l >> 16);
    dst[2] = (uint8_t)(l >> 8);
    dst[3] = (uint8_t)l;
    if (pad) {
        dst[4] = 0;
    }
    if (n > 0) {
        memcpy(dst + 4 + pad, be, n);
    }
    return FERRY_OK;
}

int ferry_buf_put_bignum(ferry_buf *b, const BIGNUM *bn)
{
    uint8_t tmp[FERRY_MPINT_MAX_BYTES];
    if (BN_is_negative(bn)) {
        return FERRY_E_INVALID_ARG;
    }
    int n = BN_num_bytes(bn);
    if (n < 0 || (size_t)n > sizeof(tmp)) {
        return FERRY_E_TOO_LARGE;
    }
    if (BN_bn2bin(bn, tmp) != n) {
        return ferry_err_crypto();
    }
    int r = ferry_buf_put_mpint(b, tmp, (size_t)n);
    OPENSSL_cleanse(tmp, (size_t)n);
    return r;
}

int ferry_buf_poke_u32(ferry_buf *b, size_t off, uint32_t v)
{
    if (off > ferry_buf_len(b) || ferry_buf_len(b) - off < 4) {
        return FERRY_E_FORMAT;
    }
    ferry_store_u32(ferry_buf_mdata(b) + off, v);
    return FERRY_OK;
}

/* ---- reader ---- */

void ferry_rd_init(ferry_rd *r, const void *p, size_t len)
{
    r->p = p ? p : &empty_byte;
    r->len = p ? len : 0;
    r->off = 0;
}

void ferry_rd_from_buf(ferry_rd *r, const ferry_buf *b)
{
    ferry_rd_init(r, ferry_buf_data(b), ferry_buf_len(b));
}

size_t ferry_rd_left(const ferry_rd *r)
{
    return r->len - r->off;
}

const uint8_t *ferry_rd_ptr(const ferry_rd *r)
{
    return r->p + r->off;
}

int ferry_rd_end(const ferry_rd *r)
{
    return r->off == r->len ? FERRY_OK : FERRY_E_TRAILING_DATA;
}

int ferry_rd_bytes(ferry_rd *r, size_t n, const uint8_t **p)
{
    if (n > r->len - r->off) {
        return FERRY_E_FORMAT;
    }
    if (p != NULL) {
        *p = r->p + r->off;
    }
    r->off += n;
    return FERRY_OK;
}

int ferry_rd_skip(ferry_rd *r, size_t n)
{
    return ferry_rd_bytes(r, n, NULL);
}

int ferry_rd_u8(ferry_rd *r, uint8_t *v)
{
    const uint8_t *p;
    int e = ferry_rd_bytes(r, 1, &p);
    if (e == FERRY_OK) {
        *v = p[0];
    }
    return e;
}

int ferry_rd_bool(ferry_rd *r, int *v)
{
    uint8_t b;
    int e = ferry_rd_u8(r, &b);
    if (e == FERRY_OK) {
        *v = b != 0;
    }
    return e;
}

int ferry_rd_u32(ferry_rd *r, uint32_t *v)
{
    const uint8_t *p;
    int e = ferry_rd_bytes(r, 4, &p);
    if (e == FERRY_OK) {
        *v = ferry_load_u32(p);
    }
    return e;
}

int ferry_rd_u64(ferry_rd *r, uint64_t *v)
{
    const uint8_t *p;
    int e = ferry_rd_bytes(r, 8, &p);
    if (e == FERRY_OK) {
        uint64_t x = 0;
        for (int i = 0; i < 8; i++) {
            x = x << 8 | p[i];
        }
        *v = x;
    }
    return e;
}

int ferry_rd_string(ferry_rd *r, const uint8_t **p, size_t *n)
{
    size_t save = r->off;
    uint32_t l;
    int e = ferry_rd_u32(r, &l);
    if (e != FERRY_OK) {
        return e;
    }
    if (l > r->len - r->off) {
        r->off = save;
        return FERRY_E_FORMAT;
    }
    *p = r->p + r->off;
    *n = l;
    r->off += l;
    return FERRY_OK;
}

int ferry_rd_sub(ferry_rd *r, ferry_rd *sub)
{
    const uint8_t *p;
    size_t n;
    int e = ferry_rd_string(r, &p, &n);
    if (e == FERRY_OK) {
        ferry_rd_init(sub, p, n);
    }
    return e;
}

int ferry_rd_name(ferry_rd *r, char *out, size_t outsz)
{
    size_t save = r->off;
    const uint8_t *p;
    size_t n;
    int e = ferry_rd_string(r, &p, &n);
    if (e != FERRY_OK) {
        return e;
    }
    if (n >= outsz) {
        r->off = save;
        return FERRY_E_TOO_LARGE;
    }
    if (memchr(p, 0, n) != NULL) {
        r->off = save;
        return FERRY_E_FORMAT;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return FERRY_OK;
}

int ferry_rd_cstring(ferry_rd *r, size_t max, char **out, size_t *np)
{
    size_t save = r->off;
    const uint8_t *p;
    size_t n;
    int e = ferry_rd_string(r, &p, &n);
    if (e != FERRY_OK) {
        return e;
    }
    if (n > max) {
        r->off = save;
        return FERRY_E_TOO_LARGE;
    }
    if (memchr(p, 0, n) != NULL) {
        r->off = save;
        return FERRY_E_FORMAT;
    }
    char *s = malloc(n + 1);
    if (s == NULL) {
        r->off = save;
        return FERRY_E_ALLOC;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    *out = s;
    if (np != NULL) {
        *np = n;
    }
    return FERRY_OK;
}

int ferry_rd_mpint(ferry_rd *r, const uint8_t **pp, size_t *np)
{
    size_t save = r->off;
    const uint8_t *p;
    size_t n;
    int e = ferry_rd_string(r, &p, &n);
    if (e != FERRY_OK) {
        return e;
    }
    if (n > FERRY_MPINT_MAX_BYTES) {
        e = FERRY_E_TOO_LARGE;
    } else if (n > 0 && (p[0] & 0x80)) {
        e = FERRY_E_FORMAT; /* negative */
    } else if (n > 1 && p[0] == 0 && !(p[1] & 0x80)) {
        e = FERRY_E_FORMAT; /* non-minimal */
    } else if (n == 1 && p[0] == 0) {
        e = FERRY_E_FORMAT; /* zero is the empty string */
    }
    if (e != FERRY_OK) {
        r->off = save;
        return e;
    }
    if (n > 0 && p[0] == 0) {
        p++;
        n--;
    }
    *pp = p;
    *np = n;
    return FERRY_OK;
}

int ferry_rd_bignum(ferry_rd *r, BIGNUM **out)
{
    size_t save = r->off;
    const uint8_t *p;
    size_t n;
    int e = ferry_rd_mpint(r, &p, &n);
    if (e != FERRY_OK) {
        return e;
    }
    BIGNUM *bn = BN_bin2bn(p, (int)n, NULL);
    if (bn == NULL) {
        r->off = save;
        return ferry_err_crypto();
    }
    *out = bn;
    return FERRY_OK;
}
