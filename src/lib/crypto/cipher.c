/* cipher.c: SSH binary-packet protection over OpenSSL 3 EVP (see cipher.h).
 *
 * Four shapes share one interface through a small ops table:
 *  - chacha20-poly1305@openssh.com (PROTOCOL.chacha20poly1305);
 *  - AES-GCM (RFC 5647 s7, OpenSSH's negotiation rules);
 *  - AES-CTR (RFC 4344) with an encrypt-then-MAC HMAC (OpenSSH PROTOCOL 1.5);
 *  - AES-CTR with a classic HMAC (RFC 4253 s6.4, RFC 6668).
 * Every primitive is OpenSSL's; this file only lays out nonces, chooses
 * which bytes are authenticated, and compares tags in constant time.
 *
 * This is the data path of every transfer: all contexts are made once in
 * ferry_pcrypt_new and reused, so seal/open neither allocate nor copy the
 * packet (everything is processed in place). */
#include "crypto/cipher.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "util/buf.h"
#include "util/err.h"

#define CHACHA_HALF_KEY 32 /* K_2 || K_1, 32 bytes each */
#define CHACHA_IV_LEN   16 /* OpenSSL: LE32 block counter || 12-byte nonce */
#define CHACHA_BLOCK    64
#define POLY_KEY_LEN    32
#define POLY_TAG_LEN    16
#define GCM_IV_LEN      12
#define GCM_TAG_LEN     16
#define LEN_FIELD       4
#define MAC_MAX_LEN     64
/* Far above any SSH packet the transport accepts; keeps every length
 * within EVP's `int` arguments. */
#define PCRYPT_MAX_N ((size_t)1 << 30)

static const ferry_cipher_alg cipher_algs[] = {
    {.name = "chacha20-poly1305@openssh.com",
     .evp = "ChaCha20",
     .key_len = 64,
     .iv_len = 0,
     .block_len = 8,
     .tag_len = 16,
     .flags = FERRY_CIPHER_AEAD | FERRY_CIPHER_CHACHAPOLY},
    {.name = "aes128-ctr", .evp = "AES-128-CTR", .key_len = 16, .iv_len = 16, .block_len = 16},
    {.name = "aes192-ctr", .evp = "AES-192-CTR", .key_len = 24, .iv_len = 16, .block_len = 16},
    {.name = "aes256-ctr", .evp = "AES-256-CTR", .key_len = 32, .iv_len = 16, .block_len = 16},
    {.name = "aes128-gcm@openssh.com",
     .evp = "AES-128-GCM",
     .key_len = 16,
     .iv_len = 12,
     .block_len = 16,
     .tag_len = 16,
     .flags = FERRY_CIPHER_AEAD},
    {.name = "aes256-gcm@openssh.com",
     .evp = "AES-256-GCM",
     .key_len = 32,
     .iv_len = 12,
     .block_len = 16,
     .tag_len = 16,
     .flags = FERRY_CIPHER_AEAD},
};

static const ferry_mac_alg mac_algs[] = {
    {.name = "hmac-sha2-256-etm@openssh.com",
     .digest = "SHA256",
     .key_len = 32,
     .mac_len = 32,
     .etm = 1},
    {.name = "hmac-sha2-512-etm@openssh.com",
     .digest = "SHA512",
     .key_len = 64,
     .mac_len = 64,
     .etm = 1},
    {.name = "hmac-sha2-256", .digest = "SHA256", .key_len = 32, .mac_len = 32, .etm = 0},
    {.name = "hmac-sha2-512", .digest = "SHA512", .key_len = 64, .mac_len = 64, .etm = 0},
};

/* OpenSSH 9's default order, which is also the order of the tables. */
#define CIPHER_LIST                                                                                \
    "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"                              \
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com"
#define MAC_LIST                                                                                   \
    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"

typedef struct pcrypt_ops {
    int (*seal)(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, uint8_t *tag);
    int (*peek)(ferry_pcrypt *p, uint32_t seqnr, uint8_t *first, uint32_t *pktlen);
    int (*open)(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, const uint8_t *tag);
} pcrypt_ops;

struct ferry_pcrypt {
    const ferry_cipher_alg *cipher;
    const ferry_mac_alg *mac; /* NULL for AEAD */
    const pcrypt_ops *ops;
    unsigned first_len;
    unsigned tag_len;
    int len_in_clear;
    EVP_CIPHER_CTX *ctx;        /* CTR stream, GCM, or chacha K_2 (payload) */
    EVP_CIPHER_CTX *hdr;        /* chacha K_1 (length field only) */
    EVP_MAC_CTX *mac_ctx;       /* HMAC keyed once, or Poly1305 keyed per packet */
    uint8_t gcm_iv[GCM_IV_LEN]; /* fixed (4) || invocation counter (8) */
};

/* ---- tables ---- */

const ferry_cipher_alg *ferry_cipher_by_name(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(cipher_algs) / sizeof(cipher_algs[0]); i++) {
        if (strcmp(cipher_algs[i].name, name) == 0) {
            return &cipher_algs[i];
        }
    }
    return NULL;
}

const ferry_mac_alg *ferry_mac_by_name(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(mac_algs) / sizeof(mac_algs[0]); i++) {
        if (strcmp(mac_algs[i].name, name) == 0) {
            return &mac_algs[i];
        }
    }
    return NULL;
}

const char *ferry_cipher_supported(void)
{
    return CIPHER_LIST;
}

const char *ferry_mac_supported(void)
{
    return MAC_LIST;
}

const char *ferry_cipher_default(void)
{
    return CIPHER_LIST;
}

const char *ferry_mac_default(void)
{
    return MAC_LIST;
}

/* ---- shared helpers ---- */


/* The packet_length field at the start of `first` (4 bytes). */
static int read_len(const uint8_t *first, uint32_t *pktlen)
{
    ferry_rd r;
    ferry_rd_init(&r, first, LEN_FIELD);
    return ferry_rd_u32(&r, pktlen);
}

/* Runs the cipher over in[0..n) into out (which may equal in). */
static int crypt_bytes(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t n)
{
    int outl = 0;
    if (n == 0) {
        return FERRY_OK;
    }
    if (n > PCRYPT_MAX_N) {
        return FERRY_E_INVALID_ARG;
    }
    if (EVP_CipherUpdate(ctx, out, &outl, in, (int)n) != 1 || (size_t)outl != n) {
        return ferry_err_crypto();
    }
    return FERRY_OK;
}

/* FERRY_OK when the len bytes at calc and tag match (constant time). */
static int tag_equal(const uint8_t *calc, const uint8_t *tag, size_t len)
{
    return CRYPTO_memcmp(calc, tag, len) == 0 ? FERRY_OK : FERRY_E_MAC_INVALID;
}

/* ---- chacha20-poly1305@openssh.com ---- */

/* DJB's ChaCha20 has a 64-bit block counter and a 64-bit nonce; OpenSSL's
 * EVP "ChaCha20" takes a 16-byte IV = LE32 counter || 12-byte nonce, i.e.
 * the same four state words. The DJB layout maps onto it as
 * LE32(counter) || 00000000 (counter high word) || seqnr as uint64 BE. */
static int chacha_start(EVP_CIPHER_CTX *ctx, uint32_t counter, uint32_t seqnr)
{
    uint8_t iv[CHACHA_IV_LEN] = {0};
    iv[0] = (uint8_t)counter;
    iv[1] = (uint8_t)(counter >> 8);
    iv[2] = (uint8_t)(counter >> 16);
    iv[3] = (uint8_t)(counter >> 24);
    /* iv[4..12): counter high word and the top half of the uint64 seqnr */
    ferry_store_u32(iv + 12, seqnr);
    if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1) != 1) {
        return ferry_err_crypto();
    }
    return FERRY_OK;
}

/* Starts K_2 at block 0 for seqnr and keys Poly1305 with the first 32
 * bytes of that block. A whole 64-byte block is taken, so K_2's stream is
 * left at block counter 1, where the payload starts (one IV set, not two). */
static int chacha_poly_key(ferry_pcrypt *p, uint32_t seqnr)
{
    static const uint8_t zero[CHACHA_BLOCK];
    uint8_t block0[CHACHA_BLOCK];
    int r = chacha_start(p->ctx, 0, seqnr);
    if (r == FERRY_OK) {
        r = crypt_bytes(p->ctx, block0, zero, sizeof(block0));
    }
    if (r == FERRY_OK && EVP_MAC_init(p->mac_ctx, block0, POLY_KEY_LEN, NULL) != 1) {
        r = ferry_err_crypto();
    }
    OPENSSL_cleanse(block0, sizeof(block0));
    return r;
}

/* Poly1305 over pkt[0..n) (encrypted length || encrypted payload). */
static int chacha_mac(ferry_pcrypt *p, const uint8_t *pkt, size_t n, uint8_t tag[POLY_TAG_LEN])
{
    size_t outl = 0;
    if (EVP_MAC_update(p->mac_ctx, pkt, n) != 1 ||
        EVP_MAC_final(p->mac_ctx, tag, &outl, POLY_TAG_LEN) != 1 || outl != POLY_TAG_LEN) {
        return ferry_err_crypto();
    }
    return FERRY_OK;
}

/* Length field with K_1 (block 0); payload with K_2, whose stream
 * chacha_poly_key left at block 1. */
static int chacha_crypt(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n)
{
    int r = chacha_start(p->hdr, 0, seqnr);
    if (r == FERRY_OK) {
        r = crypt_bytes(p->hdr, pkt, pkt, LEN_FIELD);
    }
    if (r == FERRY_OK) {
        r = crypt_bytes(p->ctx, pkt + LEN_FIELD, pkt + LEN_FIELD, n - LEN_FIELD);
    }
    return r;
}

static int chacha_seal(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, uint8_t *tag)
{
    int r = chacha_poly_key(p, seqnr);
    if (r == FERRY_OK) {
        r = chacha_crypt(p, seqnr, pkt, n);
    }
    if (r == FERRY_OK) {
        r = chacha_mac(p, pkt, n, tag);
    }
    return r;
}

/* Decrypts a copy: the tag covers the encrypted length, so `first` stays
 * as received. */
static int chacha_peek(ferry_pcrypt *p, uint32_t seqnr, uint8_t *first, uint32_t *pktlen)
{
    uint8_t len[LEN_FIELD];
    int r = chacha_start(p->hdr, 0, seqnr);
    if (r == FERRY_OK) {
        r = crypt_bytes(p->hdr, len, first, LEN_FIELD);
    }
    if (r == FERRY_OK) {
        r = read_len(len, pktlen);
    }
    return r;
}

/* Tag first (over ciphertext), then decrypt length and payload in place. */
static int chacha_open(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, const uint8_t *tag)
{
    uint8_t calc[POLY_TAG_LEN];
    int r = chacha_poly_key(p, seqnr);
    if (r == FERRY_OK) {
        r = chacha_mac(p, pkt, n, calc);
    }
    if (r == FERRY_OK) {
        r = tag_equal(calc, tag, POLY_TAG_LEN);
    }
    OPENSSL_cleanse(calc, sizeof(calc));
    if (r != FERRY_OK) {
        return r;
    }
    return chacha_crypt(p, seqnr, pkt, n);
}

static const pcrypt_ops chacha_ops = {
    .seal = chacha_seal, .peek = chacha_peek, .open = chacha_open};

/* ---- AES-GCM (RFC 5647) ---- */

/* RFC 5647 s7.1: the 8-byte invocation counter (a big-endian uint64 after
 * the 4-byte fixed field) goes up by one after every packet. */
static void gcm_next_iv(ferry_pcrypt *p)
{
    for (size_t i = GCM_IV_LEN; i > 4; i--) {
        if (++p->gcm_iv[i - 1] != 0) {
            break;
        }
    }
}

/* New nonce for this packet, then the clear packet_length as AAD. */
static int gcm_start(ferry_pcrypt *p, const uint8_t *pkt)
{
    int outl = 0;
    if (EVP_CipherInit_ex(p->ctx, NULL, NULL, NULL, p->gcm_iv, -1) != 1 ||
        EVP_CipherUpdate(p->ctx, NULL, &outl, pkt, LEN_FIELD) != 1) {
        return ferry_err_crypto();
    }
    return FERRY_OK;
}

static int gcm_seal(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, uint8_t *tag)
{
    uint8_t fin[16];
    int outl = 0;
    int r = gcm_start(p, pkt);
    if (r != FERRY_OK) {
        return r;
    }
    /* The nonce has been used: never again, whatever happens next. */
    gcm_next_iv(p);
    r = crypt_bytes(p->ctx, pkt + LEN_FIELD, pkt + LEN_FIELD, n - LEN_FIELD);
    if (r != FERRY_OK) {
        return r;
    }
    if (EVP_CipherFinal_ex(p->ctx, fin, &outl) != 1 || outl != 0 ||
        EVP_CIPHER_CTX_ctrl(p->ctx, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN, tag) != 1) {
        return ferry_err_crypto();
    }
    return FERRY_OK;
}

static int clear_len_peek(ferry_pcrypt *p, uint32_t seqnr, uint8_t *first, uint32_t *pktlen)
{
    return read_len(first, pktlen);
}

/* EVP decrypts during the update and checks the tag in the final call;
 * on MAC_INVALID the packet bytes are garbage and must be dropped. */
static int gcm_open(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, const uint8_t *tag)
{
    uint8_t want[GCM_TAG_LEN], fin[16];
    int outl = 0;
    int r = gcm_start(p, pkt);
    if (r != FERRY_OK) {
        return r;
    }
    gcm_next_iv(p);
    memcpy(want, tag, GCM_TAG_LEN); /* EVP's ctrl takes a non-const pointer */
    if (EVP_CIPHER_CTX_ctrl(p->ctx, EVP_CTRL_AEAD_SET_TAG, GCM_TAG_LEN, want) != 1) {
        return ferry_err_crypto();
    }
    r = crypt_bytes(p->ctx, pkt + LEN_FIELD, pkt + LEN_FIELD, n - LEN_FIELD);
    if (r != FERRY_OK) {
        return r;
    }
    /* OpenSSL compares the tag with CRYPTO_memcmp. */
    if (EVP_CipherFinal_ex(p->ctx, fin, &outl) != 1 || outl != 0) {
        return FERRY_E_MAC_INVALID;
    }
    return FERRY_OK;
}

static const pcrypt_ops gcm_ops = {.seal = gcm_seal, .peek = clear_len_peek, .open = gcm_open};

/* ---- AES-CTR with HMAC ---- */

/* HMAC(mackey, uint32 seqnr || data[0..n)). The context was keyed once in
 * ferry_pcrypt_new; EVP_MAC_init with a NULL key restarts HMAC with that
 * key (OpenSSL resets from its saved inner/outer digest states), which is
 * cheaper than EVP_MAC_CTX_dup of a keyed template and allocates nothing
 * on our side. */
static int hmac_compute(ferry_pcrypt *p, uint32_t seqnr, const uint8_t *data, size_t n,
                        uint8_t out[MAC_MAX_LEN])
{
    uint8_t sq[4];
    size_t outl = 0;
    ferry_store_u32(sq, seqnr);
    if (EVP_MAC_init(p->mac_ctx, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(p->mac_ctx, sq, sizeof(sq)) != 1 ||
        EVP_MAC_update(p->mac_ctx, data, n) != 1 ||
        EVP_MAC_final(p->mac_ctx, out, &outl, MAC_MAX_LEN) != 1 || outl != p->mac->mac_len) {
        return ferry_err_crypto();
    }
    return FERRY_OK;
}

static int hmac_verify(ferry_pcrypt *p, uint32_t seqnr, const uint8_t *data, size_t n,
                       const uint8_t *tag)
{
    uint8_t calc[MAC_MAX_LEN];
    int r = hmac_compute(p, seqnr, data, n, calc);
    if (r == FERRY_OK) {
        r = tag_equal(calc, tag, p->mac->mac_len);
    }
    OPENSSL_cleanse(calc, sizeof(calc));
    return r;
}

/* EtM (OpenSSH PROTOCOL 1.5): length in clear, MAC over seqnr || length
 * || ciphertext, checked before anything is decrypted. */
static int etm_seal(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, uint8_t *tag)
{
    int r = crypt_bytes(p->ctx, pkt + LEN_FIELD, pkt + LEN_FIELD, n - LEN_FIELD);
    if (r != FERRY_OK) {
        return r;
    }
    uint8_t calc[MAC_MAX_LEN];
    r = hmac_compute(p, seqnr, pkt, n, calc);
    if (r == FERRY_OK) {
        memcpy(tag, calc, p->mac->mac_len);
    }
    OPENSSL_cleanse(calc, sizeof(calc));
    return r;
}

static int etm_open(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, const uint8_t *tag)
{
    int r = hmac_verify(p, seqnr, pkt, n, tag);
    if (r != FERRY_OK) {
        return r;
    }
    return crypt_bytes(p->ctx, pkt + LEN_FIELD, pkt + LEN_FIELD, n - LEN_FIELD);
}

static const pcrypt_ops etm_ops = {.seal = etm_seal, .peek = clear_len_peek, .open = etm_open};

/* Classic (RFC 4253 s6.4): MAC over seqnr || plaintext packet, then the
 * whole packet, length included, is encrypted. */
static int mac_seal(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, uint8_t *tag)
{
    uint8_t calc[MAC_MAX_LEN];
    int r = hmac_compute(p, seqnr, pkt, n, calc);
    if (r == FERRY_OK) {
        memcpy(tag, calc, p->mac->mac_len);
        r = crypt_bytes(p->ctx, pkt, pkt, n);
    }
    OPENSSL_cleanse(calc, sizeof(calc));
    return r;
}

/* Decrypts the first block in place: the CTR stream moves on, and open
 * continues from byte first_len. */
static int mac_peek(ferry_pcrypt *p, uint32_t seqnr, uint8_t *first, uint32_t *pktlen)
{
    int r = crypt_bytes(p->ctx, first, first, p->first_len);
    if (r != FERRY_OK) {
        return r;
    }
    return read_len(first, pktlen);
}

static int mac_open(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, const uint8_t *tag)
{
    int r = crypt_bytes(p->ctx, pkt + p->first_len, pkt + p->first_len, n - p->first_len);
    if (r != FERRY_OK) {
        return r;
    }
    return hmac_verify(p, seqnr, pkt, n, tag);
}

static const pcrypt_ops mac_ops = {.seal = mac_seal, .peek = mac_peek, .open = mac_open};

/* ---- state ---- */

/* A cipher context for `evp`, keyed (key/iv may be NULL to set later). */
static int cipher_ctx_new(EVP_CIPHER_CTX **out, const char *evp, const uint8_t *key,
                          const uint8_t *iv, int encrypt)
{
    int r = FERRY_E_INTERNAL;
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, evp, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (c == NULL || ctx == NULL ||
        EVP_CipherInit_ex(ctx, c, NULL, key, iv, encrypt ? 1 : 0) != 1) {
        r = ferry_err_crypto();
        goto out;
    }
    *out = ctx;
    ctx = NULL;
    r = FERRY_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    return r;
}

/* A MAC context: HMAC keyed now with `digest`, or (digest NULL) Poly1305
 * to be keyed per packet. */
static int mac_ctx_new(EVP_MAC_CTX **out, const char *mac, const char *digest, const uint8_t *key,
                       size_t key_len)
{
    int r = FERRY_E_INTERNAL;
    EVP_MAC *m = EVP_MAC_fetch(NULL, mac, NULL);
    EVP_MAC_CTX *ctx = m != NULL ? EVP_MAC_CTX_new(m) : NULL;
    if (ctx == NULL) {
        r = ferry_err_crypto();
        goto out;
    }
    if (digest != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_MAC_init(ctx, key, key_len, params) != 1) {
            r = ferry_err_crypto();
            goto out;
        }
    }
    *out = ctx;
    ctx = NULL;
    r = FERRY_OK;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return r;
}

static int pcrypt_keys(ferry_pcrypt *p, int encrypt, const uint8_t *key, const uint8_t *iv,
                       const uint8_t *mackey)
{
    const ferry_cipher_alg *c = p->cipher;
    int r;
    if (c->flags & FERRY_CIPHER_CHACHAPOLY) {
        /* PROTOCOL.chacha20poly1305: the first 256 bits are K_2 (payload
         * and Poly1305 key), the second 256 bits K_1 (length only). */
        r = cipher_ctx_new(&p->ctx, c->evp, key, NULL, encrypt);
        if (r == FERRY_OK) {
            r = cipher_ctx_new(&p->hdr, c->evp, key + CHACHA_HALF_KEY, NULL, encrypt);
        }
        if (r == FERRY_OK) {
            r = mac_ctx_new(&p->mac_ctx, "POLY1305", NULL, NULL, 0);
        }
        return r;
    }
    if (c->flags & FERRY_CIPHER_AEAD) {
        memcpy(p->gcm_iv, iv, GCM_IV_LEN);
        return cipher_ctx_new(&p->ctx, c->evp, key, NULL, encrypt);
    }
    r = cipher_ctx_new(&p->ctx, c->evp, key, iv, encrypt);
    if (r == FERRY_OK) {
        r = mac_ctx_new(&p->mac_ctx, "HMAC", p->mac->digest, mackey, p->mac->key_len);
    }
    return r;
}

/* Picks the shape; INVALID_ARG for a cipher/MAC pairing cipher.h forbids. */
static int pcrypt_shape(ferry_pcrypt *p, const ferry_cipher_alg *c, const ferry_mac_alg *mac)
{
    p->cipher = c;
    p->mac = mac;
    if (c->flags & FERRY_CIPHER_AEAD) {
        if (mac != NULL || c->tag_len != POLY_TAG_LEN) {
            return FERRY_E_INVALID_ARG;
        }
        p->ops = (c->flags & FERRY_CIPHER_CHACHAPOLY) ? &chacha_ops : &gcm_ops;
        p->tag_len = c->tag_len;
        p->len_in_clear = !(c->flags & FERRY_CIPHER_CHACHAPOLY);
        p->first_len = LEN_FIELD;
        return FERRY_OK;
    }
    if (mac == NULL || mac->mac_len > MAC_MAX_LEN || c->block_len < LEN_FIELD) {
        return FERRY_E_INVALID_ARG;
    }
    p->ops = mac->etm ? &etm_ops : &mac_ops;
    p->tag_len = mac->mac_len;
    p->len_in_clear = mac->etm;
    p->first_len = mac->etm ? LEN_FIELD : c->block_len;
    return FERRY_OK;
}

int ferry_pcrypt_new(ferry_pcrypt **out, const ferry_cipher_alg *cipher, const ferry_mac_alg *mac,
                     int encrypt, const uint8_t *key, const uint8_t *iv, const uint8_t *mackey)
{
    int r = FERRY_E_INTERNAL;
    ferry_pcrypt *p = NULL;
    if (out == NULL || cipher == NULL || key == NULL || (cipher->iv_len > 0 && iv == NULL) ||
        (mac != NULL && mackey == NULL)) {
        return FERRY_E_INVALID_ARG;
    }
    *out = NULL;
    if ((p = OPENSSL_zalloc(sizeof(*p))) == NULL) {
        r = FERRY_E_ALLOC;
        goto out;
    }
    if ((r = pcrypt_shape(p, cipher, mac)) != FERRY_OK) {
        goto out;
    }
    if ((r = pcrypt_keys(p, encrypt, key, iv, mackey)) != FERRY_OK) {
        goto out;
    }
    *out = p;
    p = NULL;
    r = FERRY_OK;
out:
    ferry_pcrypt_free(p);
    return r;
}

void ferry_pcrypt_free(ferry_pcrypt *p)
{
    if (p == NULL) {
        return;
    }
    /* OpenSSL's provider contexts wipe their key schedules on free. */
    EVP_CIPHER_CTX_free(p->ctx);
    EVP_CIPHER_CTX_free(p->hdr);
    EVP_MAC_CTX_free(p->mac_ctx);
    OPENSSL_clear_free(p, sizeof(*p));
}

unsigned ferry_pcrypt_block_len(const ferry_pcrypt *p)
{
    return p->cipher->block_len;
}

unsigned ferry_pcrypt_tag_len(const ferry_pcrypt *p)
{
    return p->tag_len;
}

int ferry_pcrypt_len_in_clear(const ferry_pcrypt *p)
{
    return p->len_in_clear;
}

unsigned ferry_pcrypt_first_len(const ferry_pcrypt *p)
{
    return p->first_len;
}

/* Bounds shared by seal and open: the first_len bytes peek reads (and the
 * length field) must be inside the packet. */
static int check_pkt(const ferry_pcrypt *p, const uint8_t *pkt, size_t n, const void *tag)
{
    if (p == NULL || pkt == NULL || tag == NULL || n < p->first_len || n > PCRYPT_MAX_N) {
        return FERRY_E_INVALID_ARG;
    }
    return FERRY_OK;
}

int ferry_pcrypt_seal(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, uint8_t *tag)
{
    int r = check_pkt(p, pkt, n, tag);
    if (r != FERRY_OK) {
        return r;
    }
    return p->ops->seal(p, seqnr, pkt, n, tag);
}

int ferry_pcrypt_peek_len(ferry_pcrypt *p, uint32_t seqnr, uint8_t *first, uint32_t *pktlen)
{
    if (p == NULL || first == NULL || pktlen == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    return p->ops->peek(p, seqnr, first, pktlen);
}

int ferry_pcrypt_open(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, const uint8_t *tag)
{
    int r = check_pkt(p, pkt, n, tag);
    if (r != FERRY_OK) {
        return r;
    }
    return p->ops->open(p, seqnr, pkt, n, tag);
}
