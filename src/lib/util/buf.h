/* buf.h: the one bounded wire buffer for every SSH and SFTP field.
 *
 * Two types:
 *  - ferry_buf: an opaque, growable byte buffer with a per-buffer maximum,
 *    used to build messages (put_*) and to queue bytes (consume from the
 *    front). Size arithmetic cannot overflow; a put that would pass the
 *    maximum fails with FERRY_E_TOO_LARGE and changes nothing.
 *  - ferry_rd: a stack-allocated reader over borrowed bytes. Parsing never
 *    allocates unless a *_dup/cstring getter is used. Every getter is
 *    all-or-nothing: check, copy out, advance; on failure the reader is
 *    unchanged. Running past the end is FERRY_E_FORMAT (the reader always
 *    holds a complete message; "need more bytes" is the framer's business).
 *
 * Wire encodings are those of RFC 4251 section 5: byte, boolean, uint32,
 * uint64, string, mpint, name-list.
 */
#ifndef FERRY_UTIL_BUF_H
#define FERRY_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>

/* Default maximum for ferry_buf_new(0): 16 MiB. */
#define FERRY_BUF_MAX_DEFAULT (16u * 1024 * 1024)
/* Largest mpint the readers accept: 16384 bits, above any DH group or RSA
 * key we allow (RFC 8268 group18 is 8192 bits). */
#define FERRY_MPINT_MAX_BYTES (16384 / 8 + 1)

typedef struct ferry_buf ferry_buf;

/* A uint32 in network byte order at p (RFC 4251 s5), for framing code
 * that looks at raw bytes without a reader or buffer. */
static inline uint32_t ferry_load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void ferry_store_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* New empty buffer that may grow to `max` bytes (0 = FERRY_BUF_MAX_DEFAULT).
 * Returns NULL when out of memory. Free with ferry_buf_free. */
ferry_buf *ferry_buf_new(size_t max);
/* Frees the buffer (wiping it first if marked secret). NULL is a no-op. */
void ferry_buf_free(ferry_buf *b);
/* Mark as holding secrets: contents are wiped with OPENSSL_cleanse on
 * free, reset, consume and on every reallocation. */
void ferry_buf_set_secret(ferry_buf *b);
/* Empties the buffer (keeps its storage). */
void ferry_buf_reset(ferry_buf *b);
/* Changes the maximum; fails with TOO_LARGE if the contents exceed it. */
int ferry_buf_set_max(ferry_buf *b, size_t max);

/* Bytes held. */
size_t ferry_buf_len(const ferry_buf *b);
/* Bytes allocated (what the buffer holds without allocating again). */
size_t ferry_buf_cap(const ferry_buf *b);
/* Pointer to the first byte held; valid until the buffer is next changed.
 * Never NULL for a live buffer (may point at zero bytes). */
const uint8_t *ferry_buf_data(const ferry_buf *b);
/* Same, writable. */
uint8_t *ferry_buf_mdata(ferry_buf *b);

/* Appends n uninitialised bytes and stores a pointer to them in *dst (valid
 * until the buffer is next changed). TOO_LARGE past the maximum, ALLOC. */
int ferry_buf_reserve(ferry_buf *b, size_t n, uint8_t **dst);
/* Makes room for n more bytes without changing the length. */
int ferry_buf_ensure(ferry_buf *b, size_t n);
/* Drops n bytes from the front (FORMAT if fewer are held). */
int ferry_buf_consume(ferry_buf *b, size_t n);
/* Cuts the buffer to `len` bytes (FORMAT if it holds fewer). */
int ferry_buf_truncate(ferry_buf *b, size_t len);

int ferry_buf_put(ferry_buf *b, const void *p, size_t n);
int ferry_buf_put_u8(ferry_buf *b, uint8_t v);
int ferry_buf_put_bool(ferry_buf *b, int v);
int ferry_buf_put_u32(ferry_buf *b, uint32_t v);
int ferry_buf_put_u64(ferry_buf *b, uint64_t v);
/* uint32 length followed by the bytes. */
int ferry_buf_put_string(ferry_buf *b, const void *p, size_t n);
int ferry_buf_put_cstring(ferry_buf *b, const char *s);
/* The whole contents of `v` as one string. */
int ferry_buf_put_stringb(ferry_buf *b, const ferry_buf *v);
/* An mpint from an unsigned big-endian magnitude (leading zeros stripped,
 * a 0x00 prepended when the top bit is set). */
int ferry_buf_put_mpint(ferry_buf *b, const uint8_t *be, size_t n);
int ferry_buf_put_bignum(ferry_buf *b, const BIGNUM *bn);
/* Overwrites 4 bytes at offset `off` (already held) with v. */
int ferry_buf_poke_u32(ferry_buf *b, size_t off, uint32_t v);

typedef struct ferry_rd {
    const uint8_t *p;
    size_t len;
    size_t off;
} ferry_rd;

/* Reader over p[0..len); p is borrowed and must outlive the reader. */
void ferry_rd_init(ferry_rd *r, const void *p, size_t len);
/* Reader over the current contents of b (valid until b changes). */
void ferry_rd_from_buf(ferry_rd *r, const ferry_buf *b);
/* Bytes not yet read. */
size_t ferry_rd_left(const ferry_rd *r);
/* Pointer to the next unread byte. */
const uint8_t *ferry_rd_ptr(const ferry_rd *r);
/* FERRY_OK if everything was read, FERRY_E_TRAILING_DATA otherwise. */
int ferry_rd_end(const ferry_rd *r);

int ferry_rd_u8(ferry_rd *r, uint8_t *v);
/* A boolean: any non-zero byte is true (RFC 4251 s5); *v is 0 or 1. */
int ferry_rd_bool(ferry_rd *r, int *v);
int ferry_rd_u32(ferry_rd *r, uint32_t *v);
int ferry_rd_u64(ferry_rd *r, uint64_t *v);
/* n raw bytes, borrowed. */
int ferry_rd_bytes(ferry_rd *r, size_t n, const uint8_t **p);
int ferry_rd_skip(ferry_rd *r, size_t n);
/* A string, borrowed: the result points into the reader's bytes. */
int ferry_rd_string(ferry_rd *r, const uint8_t **p, size_t *n);
/* A string parsed as a nested reader (e.g. a key blob inside a message). */
int ferry_rd_sub(ferry_rd *r, ferry_rd *sub);
/* A string copied into out[outsz] and NUL-terminated. FORMAT if it holds a
 * NUL byte, TOO_LARGE if it does not fit. No allocation. */
int ferry_rd_name(ferry_rd *r, char *out, size_t outsz);
/* A string copied to a new NUL-terminated heap string (caller frees);
 * FORMAT on an embedded NUL, TOO_LARGE above `max` bytes. *n may be NULL. */
int ferry_rd_cstring(ferry_rd *r, size_t max, char **out, size_t *n);
/* An mpint, borrowed: (*p, *n) is the unsigned magnitude without leading
 * zero bytes (n may be 0 for zero). FORMAT for negative numbers or
 * non-minimal encodings; TOO_LARGE above FERRY_MPINT_MAX_BYTES. */
int ferry_rd_mpint(ferry_rd *r, const uint8_t **p, size_t *n);
/* An mpint as a new BIGNUM (caller frees with BN_clear_free). */
int ferry_rd_bignum(ferry_rd *r, BIGNUM **out);

#endif
