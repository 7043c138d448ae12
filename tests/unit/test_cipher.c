/* test_cipher: packet protection (crypto/cipher.h).
 *
 * Round trips and tamper checks for every cipher x MAC pairing, and
 * known-answer tests against (a) an independent composition of OpenSSL
 * primitives written here and (b) published vectors for the primitives:
 * RFC 8439 (ChaCha20 block, Poly1305), the GCM spec's test case 3,
 * NIST SP 800-38A F.5.1 (AES-128-CTR), RFC 4231 test case 2 (HMAC-SHA2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/cipher.h"
#include "util/err.h"

#define MAX_PKT 40000
#define MAX_TAG 64

/* ---- helpers ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

typedef struct combo {
    const char *cipher;
    const char *mac; /* NULL for AEAD */
} combo;

static const combo combos[] = {
    {"chacha20-poly1305@openssh.com", NULL},
    {"aes128-gcm@openssh.com", NULL},
    {"aes256-gcm@openssh.com", NULL},
    {"aes128-ctr", "hmac-sha2-256-etm@openssh.com"},
    {"aes128-ctr", "hmac-sha2-512-etm@openssh.com"},
    {"aes128-ctr", "hmac-sha2-256"},
    {"aes128-ctr", "hmac-sha2-512"},
    {"aes192-ctr", "hmac-sha2-256-etm@openssh.com"},
    {"aes192-ctr", "hmac-sha2-512-etm@openssh.com"},
    {"aes192-ctr", "hmac-sha2-256"},
    {"aes192-ctr", "hmac-sha2-512"},
    {"aes256-ctr", "hmac-sha2-256-etm@openssh.com"},
    {"aes256-ctr", "hmac-sha2-512-etm@openssh.com"},
    {"aes256-ctr", "hmac-sha2-256"},
    {"aes256-ctr", "hmac-sha2-512"},
};
#define N_COMBOS (sizeof(combos) / sizeof(combos[0]))

typedef struct keyset {
    uint8_t key[64], iv[16], mackey[64];
} keyset;

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(seed * 131u + i * 29u + (i >> 8));
    }
}

static void keys_for(keyset *k, unsigned seed)
{
    fill(k->key, sizeof(k->key), seed);
    fill(k->iv, sizeof(k->iv), seed + 1);
    fill(k->mackey, sizeof(k->mackey), seed + 2);
}

static ferry_pcrypt *make(const combo *c, const keyset *k, int encrypt)
{
    const ferry_cipher_alg *ca = ferry_cipher_by_name(c->cipher);
    const ferry_mac_alg *ma = c->mac != NULL ? ferry_mac_by_name(c->mac) : NULL;
    ferry_pcrypt *p = NULL;
    assert_non_null(ca);
    if (c->mac != NULL) {
        assert_non_null(ma);
    }
    assert_int_equal(ferry_pcrypt_new(&p, ca, ma, encrypt, k->key, k->iv, ma ? k->mackey : NULL),
                     FERRY_OK);
    assert_non_null(p);
    return p;
}

static void put_be32(uint8_t *o, uint32_t v)
{
    o[0] = (uint8_t)(v >> 24);
    o[1] = (uint8_t)(v >> 16);
    o[2] = (uint8_t)(v >> 8);
    o[3] = (uint8_t)v;
}

/* A well-formed plaintext packet of n bytes: length, padding length, data. */
static void make_packet(uint8_t *pkt, size_t n, unsigned seed)
{
    fill(pkt, n, seed);
    put_be32(pkt, (uint32_t)(n - 4));
    pkt[4] = 4;
}

/* A packet size whose padded part is `blocks` cipher blocks. */
static size_t pkt_size(const ferry_pcrypt *p, size_t blocks)
{
    size_t n = blocks * ferry_pcrypt_block_len(p);
    return ferry_pcrypt_len_in_clear(p) ? n + 4 : n;
}

/* Runs fn for every pairing (only those with a MAC if macs_only). */
static void each_combo(void (*fn)(const combo *), int macs_only)
{
    for (size_t i = 0; i < N_COMBOS; i++) {
        if (!macs_only || combos[i].mac != NULL) {
            fn(&combos[i]);
        }
    }
}

/* peek + open of wire[0..n) with the tag after it, as the transport would. */
static int receive(ferry_pcrypt *rx, uint32_t seqnr, uint8_t *wire, size_t n, uint32_t *len)
{
    uint32_t l = 0;
    int r = ferry_pcrypt_peek_len(rx, seqnr, wire, &l);
    if (r != FERRY_OK) {
        return r;
    }
    if (len != NULL) {
        *len = l;
    }
    return ferry_pcrypt_open(rx, seqnr, wire, n, wire + n);
}

/* ---- tables ---- */

static void test_lookup(void **state)
{
    (void)state;
    const char *list = ferry_cipher_supported();
    assert_string_equal(list, "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
                              "aes128-gcm@openssh.com,aes256-gcm@openssh.com");
    assert_string_equal(ferry_cipher_default(), list);
    assert_string_equal(ferry_mac_supported(),
                        "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
                        "hmac-sha2-256,hmac-sha2-512");
    assert_string_equal(ferry_mac_default(), ferry_mac_supported());
    assert_null(strstr(ferry_cipher_default(), "cbc"));
    assert_null(strstr(ferry_mac_default(), "sha1"));
    assert_null(strstr(ferry_mac_default(), "umac"));

    const ferry_cipher_alg *c = ferry_cipher_by_name("chacha20-poly1305@openssh.com");
    assert_non_null(c);
    assert_int_equal(c->key_len, 64);
    assert_int_equal(c->block_len, 8);
    assert_int_equal(c->tag_len, 16);
    assert_true(c->flags & FERRY_CIPHER_AEAD);
    assert_true(c->flags & FERRY_CIPHER_CHACHAPOLY);
    c = ferry_cipher_by_name("aes256-gcm@openssh.com");
    assert_non_null(c);
    assert_int_equal(c->key_len, 32);
    assert_int_equal(c->iv_len, 12);
    assert_true(c->flags & FERRY_CIPHER_AEAD);
    assert_false(c->flags & FERRY_CIPHER_CHACHAPOLY);
    c = ferry_cipher_by_name("aes192-ctr");
    assert_non_null(c);
    assert_int_equal(c->key_len, 24);
    assert_int_equal(c->iv_len, 16);
    assert_int_equal(c->tag_len, 0);
    assert_int_equal(c->flags, 0);
    const ferry_mac_alg *m = ferry_mac_by_name("hmac-sha2-512-etm@openssh.com");
    assert_non_null(m);
    assert_int_equal(m->mac_len, 64);
    assert_int_equal(m->key_len, 64);
    assert_true(m->etm);
    m = ferry_mac_by_name("hmac-sha2-256");
    assert_non_null(m);
    assert_int_equal(m->mac_len, 32);
    assert_false(m->etm);

    assert_null(ferry_cipher_by_name("aes128-cbc"));
    assert_null(ferry_cipher_by_name("3des-cbc"));
    assert_null(ferry_cipher_by_name(NULL));
    assert_null(ferry_cipher_by_name("aes128-ctr "));
    assert_null(ferry_mac_by_name("hmac-sha1"));
    assert_null(ferry_mac_by_name("umac-64-etm@openssh.com"));
    assert_null(ferry_mac_by_name(NULL));
}

static void test_new_args(void **state)
{
    (void)state;
    keyset k;
    keys_for(&k, 1);
    ferry_pcrypt *p = (ferry_pcrypt *)&k; /* must be reset to NULL on failure */
    const ferry_cipher_alg *gcm = ferry_cipher_by_name("aes128-gcm@openssh.com");
    const ferry_cipher_alg *ctr = ferry_cipher_by_name("aes128-ctr");
    const ferry_mac_alg *mac = ferry_mac_by_name("hmac-sha2-256");
    /* AEAD with a MAC, non-AEAD without one */
    assert_int_equal(ferry_pcrypt_new(&p, gcm, mac, 1, k.key, k.iv, k.mackey), FERRY_E_INVALID_ARG);
    assert_null(p);
    assert_int_equal(ferry_pcrypt_new(&p, ctr, NULL, 1, k.key, k.iv, NULL), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_pcrypt_new(&p, ctr, mac, 1, k.key, NULL, k.mackey), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_pcrypt_new(&p, ctr, mac, 1, k.key, k.iv, NULL), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_pcrypt_new(&p, NULL, NULL, 1, k.key, k.iv, NULL), FERRY_E_INVALID_ARG);
    ferry_pcrypt_free(NULL);

    /* Accessors per shape. */
    for (size_t i = 0; i < N_COMBOS; i++) {
        p = make(&combos[i], &k, 1);
        const ferry_cipher_alg *c = ferry_cipher_by_name(combos[i].cipher);
        const ferry_mac_alg *m = ferry_mac_by_name(combos[i].mac);
        assert_int_equal(ferry_pcrypt_block_len(p), c->block_len);
        assert_true(ferry_pcrypt_block_len(p) >= 8);
        assert_int_equal(ferry_pcrypt_tag_len(p), m ? m->mac_len : c->tag_len);
        int chacha = (c->flags & FERRY_CIPHER_CHACHAPOLY) != 0;
        int clear = m ? m->etm : !chacha;
        assert_int_equal(ferry_pcrypt_len_in_clear(p) != 0, clear);
        assert_int_equal(ferry_pcrypt_first_len(p), (m && !m->etm) ? c->block_len : 4);
        /* Too short for the length field / first block. */
        uint8_t pkt[16] = {0}, tag[MAX_TAG];
        assert_int_equal(ferry_pcrypt_seal(p, 0, pkt, ferry_pcrypt_first_len(p) - 1, tag),
                         FERRY_E_INVALID_ARG);
        ferry_pcrypt_free(p);
    }
}

/* ---- round trips ---- */

static void roundtrip_combo(const combo *c)
{
    static uint8_t plain[MAX_PKT], wire[MAX_PKT + MAX_TAG];
    static const size_t blocks[] = {1, 2, 3, 7, 64, 2048, 1, 2200};
    keyset k;
    keys_for(&k, 7);
    ferry_pcrypt *tx = make(c, &k, 1), *rx = make(c, &k, 0);
    uint32_t seqnr = 0xfffffffdu; /* wraps to 0 in the middle */
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++, seqnr++) {
        size_t n = pkt_size(tx, blocks[i]);
        if (n < ferry_pcrypt_first_len(tx)) {
            continue;
        }
        assert_true(n <= MAX_PKT);
        make_packet(plain, n, (unsigned)i);
        memcpy(wire, plain, n);
        assert_int_equal(ferry_pcrypt_seal(tx, seqnr, wire, n, wire + n), FERRY_OK);
        /* Encrypted: the payload (after the length field) changed. */
        assert_memory_not_equal(wire + 4, plain + 4, n - 4);
        uint32_t len = 0;
        assert_int_equal(receive(rx, seqnr, wire, n, &len), FERRY_OK);
        assert_int_equal(len, n - 4);
        assert_memory_equal(wire, plain, n);
    }
    ferry_pcrypt_free(tx);
    ferry_pcrypt_free(rx);
}

static void test_roundtrip(void **state)
{
    (void)state;
    each_combo(roundtrip_combo, 0);
}

/* Two states with different keys, used interleaved, share nothing: each
 * receiver stays in sync with its own sender, and the ciphertexts of equal
 * plaintexts under equal seqnrs differ. */
static void test_independent_states(void **state)
{
    (void)state;
    keyset k1, k2;
    keys_for(&k1, 11);
    keys_for(&k2, 12);
    for (size_t i = 0; i < N_COMBOS; i++) {
        ferry_pcrypt *a = make(&combos[i], &k1, 1), *b = make(&combos[i], &k2, 1);
        ferry_pcrypt *ra = make(&combos[i], &k1, 0), *rb = make(&combos[i], &k2, 0);
        uint8_t pa[64 + MAX_TAG], pb[64 + MAX_TAG], plain[64];
        size_t n = pkt_size(a, 2);
        make_packet(plain, n, 3);
        for (uint32_t s = 0; s < 3; s++) {
            memcpy(pa, plain, n);
            memcpy(pb, plain, n);
            assert_int_equal(ferry_pcrypt_seal(a, s, pa, n, pa + n), FERRY_OK);
            assert_int_equal(ferry_pcrypt_seal(b, s, pb, n, pb + n), FERRY_OK);
            assert_memory_not_equal(pa + 4, pb + 4, n - 4);
            assert_int_equal(receive(rb, s, pb, n, NULL), FERRY_OK);
            assert_int_equal(receive(ra, s, pa, n, NULL), FERRY_OK);
            assert_memory_equal(pa, plain, n);
            assert_memory_equal(pb, plain, n);
        }
        ferry_pcrypt_free(a);
        ferry_pcrypt_free(b);
        ferry_pcrypt_free(ra);
        ferry_pcrypt_free(rb);
    }
}

/* ---- tampering ---- */

static void tamper_combo(const combo *c)
{
    uint8_t plain[128], sealed[128 + MAX_TAG], wire[128 + MAX_TAG];
    keyset k;
    keys_for(&k, 21);
    ferry_pcrypt *tx = make(c, &k, 1);
    size_t n = pkt_size(tx, 3);
    size_t tl = ferry_pcrypt_tag_len(tx);
    const uint32_t seqnr = 5;
    make_packet(plain, n, 9);
    memcpy(sealed, plain, n);
    assert_int_equal(ferry_pcrypt_seal(tx, seqnr, sealed, n, sealed + n), FERRY_OK);
    ferry_pcrypt_free(tx);

    /* Untouched: opens. */
    ferry_pcrypt *rx = make(c, &k, 0);
    memcpy(wire, sealed, n + tl);
    assert_int_equal(receive(rx, seqnr, wire, n, NULL), FERRY_OK);
    assert_memory_equal(wire, plain, n);
    ferry_pcrypt_free(rx);

    /* Every single-bit flip in ciphertext or tag. */
    for (size_t bit = 0; bit < (n + tl) * 8; bit++) {
        rx = make(c, &k, 0);
        memcpy(wire, sealed, n + tl);
        wire[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(receive(rx, seqnr, wire, n, NULL), FERRY_E_MAC_INVALID);
        ferry_pcrypt_free(rx);
    }

    /* Truncated by one block (tag read from the right place). */
    rx = make(c, &k, 0);
    size_t bl = ferry_pcrypt_block_len(rx);
    memcpy(wire, sealed, n + tl);
    uint32_t len = 0;
    assert_int_equal(ferry_pcrypt_peek_len(rx, seqnr, wire, &len), FERRY_OK);
    assert_int_equal(ferry_pcrypt_open(rx, seqnr, wire, n - bl, wire + n), FERRY_E_MAC_INVALID);
    ferry_pcrypt_free(rx);

    /* Wrong key. */
    keyset other = k;
    other.key[0] ^= 1;
    other.mackey[0] ^= 1;
    rx = make(c, &other, 0);
    memcpy(wire, sealed, n + tl);
    assert_int_equal(receive(rx, seqnr, wire, n, NULL), FERRY_E_MAC_INVALID);
    ferry_pcrypt_free(rx);

    /* Wrong sequence number (GCM does not use it: its nonce is the
     * invocation counter, see test_gcm_counter). */
    if (strstr(c->cipher, "gcm") == NULL) {
        static const uint32_t bad[] = {seqnr + 1, seqnr - 1, seqnr ^ 0x80000000u};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            rx = make(c, &k, 0);
            memcpy(wire, sealed, n + tl);
            assert_int_equal(ferry_pcrypt_peek_len(rx, bad[i], wire, &len), FERRY_OK);
            assert_int_equal(ferry_pcrypt_open(rx, bad[i], wire, n, wire + n), FERRY_E_MAC_INVALID);
            ferry_pcrypt_free(rx);
        }
    }
}

static void test_tamper(void **state)
{
    (void)state;
    each_combo(tamper_combo, 0);
}

/* chacha: peek leaves the (encrypted, authenticated) length as received
 * and decrypts it right with the right seqnr only. */
static void test_chacha_peek(void **state)
{
    (void)state;
    keyset k;
    keys_for(&k, 31);
    const combo c = {"chacha20-poly1305@openssh.com", NULL};
    ferry_pcrypt *tx = make(&c, &k, 1), *rx = make(&c, &k, 0);
    uint8_t pkt[32 + 16], copy[32 + 16];
    make_packet(pkt, 32, 1);
    assert_int_equal(ferry_pcrypt_seal(tx, 77, pkt, 32, pkt + 32), FERRY_OK);
    memcpy(copy, pkt, sizeof(pkt));
    uint32_t len = 0;
    assert_int_equal(ferry_pcrypt_peek_len(rx, 78, pkt, &len), FERRY_OK);
    assert_int_not_equal(len, 28);
    assert_int_equal(ferry_pcrypt_peek_len(rx, 77, pkt, &len), FERRY_OK);
    assert_int_equal(len, 28);
    assert_memory_equal(pkt, copy, sizeof(pkt));
    assert_int_equal(ferry_pcrypt_open(rx, 77, pkt, 32, pkt + 32), FERRY_OK);
    assert_int_equal(pkt[3], 28);
    ferry_pcrypt_free(tx);
    ferry_pcrypt_free(rx);
}

/* ---- independent reference compositions ---- */

/* One-shot EVP encryption of in[0..n) with a fresh context. */
static void ref_crypt(const char *name, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
                      size_t n, uint8_t *out)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, name, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0;
    assert_non_null(c);
    assert_non_null(ctx);
    assert_int_equal(EVP_EncryptInit_ex2(ctx, c, key, iv, NULL), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, out, &l1, in, (int)n), 1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, out + l1, &l2), 1);
    assert_int_equal((size_t)(l1 + l2), n);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
}

/* ChaCha20 keystream: DJB counter/nonce laid out as OpenSSL's 16-byte IV. */
static void ref_chacha(const uint8_t key[32], uint32_t counter, uint64_t nonce, const uint8_t *in,
                       size_t n, uint8_t *out)
{
    uint8_t iv[16];
    for (int i = 0; i < 4; i++) {
        iv[i] = (uint8_t)(counter >> (8 * i));
        iv[4 + i] = 0;
    }
    for (int i = 0; i < 8; i++) {
        iv[8 + i] = (uint8_t)(nonce >> (56 - 8 * i));
    }
    ref_crypt("ChaCha20", key, iv, in, n, out);
}

static void ref_poly1305(const uint8_t key[32], const uint8_t *in, size_t n, uint8_t out[16])
{
    size_t outl = 0;
    assert_non_null(EVP_Q_mac(NULL, "POLY1305", NULL, NULL, NULL, key, 32, in, n, out, 16, &outl));
    assert_int_equal(outl, 16);
}

static void ref_gcm(const char *name, const uint8_t *key, const uint8_t iv[12], const uint8_t *aad,
                    size_t aadlen, const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[16])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int l = 0;
    assert_non_null(ctx);
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_get_cipherbyname(name), NULL, key, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &l, aad, (int)aadlen), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, out, &l, in, (int)n), 1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, out + l, &l), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
    EVP_CIPHER_CTX_free(ctx);
}

/* HMAC over seqnr || data, one shot through the legacy HMAC() API. */
static void ref_hmac(const char *md, const uint8_t *key, size_t klen, uint32_t seqnr,
                     const uint8_t *data, size_t n, uint8_t *out, size_t outlen)
{
    uint8_t buf[256];
    unsigned ol = 0;
    assert_true(n + 4 <= sizeof(buf));
    put_be32(buf, seqnr);
    memcpy(buf + 4, data, n);
    assert_non_null(HMAC(EVP_get_digestbyname(md), key, (int)klen, buf, n + 4, out, &ol));
    assert_int_equal(ol, outlen);
}

static void test_kat_chacha_reference(void **state)
{
    (void)state;
    const combo c = {"chacha20-poly1305@openssh.com", NULL};
    keyset k;
    keys_for(&k, 41);
    ferry_pcrypt *tx = make(&c, &k, 1);
    for (uint32_t seqnr = 3; seqnr < 6; seqnr++) {
        uint8_t plain[40], pkt[40 + 16], want[40], otk[32], zero[64] = {0}, tag[16];
        make_packet(plain, sizeof(plain), seqnr);
        memcpy(pkt, plain, sizeof(plain));
        assert_int_equal(ferry_pcrypt_seal(tx, seqnr, pkt, 40, pkt + 40), FERRY_OK);
        ref_chacha(k.key + 32, 0, seqnr, plain, 4, want);     /* K_1: length */
        ref_chacha(k.key, 1, seqnr, plain + 4, 36, want + 4); /* K_2: payload */
        ref_chacha(k.key, 0, seqnr, zero, 32, otk);           /* K_2 block 0 */
        ref_poly1305(otk, want, 40, tag);
        assert_memory_equal(pkt, want, 40);
        assert_memory_equal(pkt + 40, tag, 16);
    }
    ferry_pcrypt_free(tx);
}

/* RFC 8439 s2.3.2 (IETF layout) and A.1 vector #5 (all-zero key, 96-bit
 * nonce 00..02 = DJB counter-high 0 || 64-bit nonce 2), then the module
 * with K_1 = K_2 = 0 at seqnr 2, whose length keystream and Poly1305 key
 * are the start of that published block. */
static void test_kat_chacha_published(void **state)
{
    (void)state;
    uint8_t key[32], iv[16], zero[64] = {0}, out[64], want[64];
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)i;
    }
    unhex("01000000000000090000004a00000000", iv, sizeof(iv));
    ref_crypt("ChaCha20", key, iv, zero, 64, out);
    unhex("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
          "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e",
          want, sizeof(want));
    assert_memory_equal(out, want, 64);

    memset(key, 0, sizeof(key));
    ref_chacha(key, 0, 2, zero, 64, out);
    unhex("c2c64d378cd536374ae204b9ef933fcd1a8b2288b3dfa49672ab765b54ee27c7"
          "8a970e0e955c14f3a88e741b97c286f75f8fc299e8148362fa198a39531bed6d",
          want, sizeof(want));
    assert_memory_equal(out, want, 64);

    /* RFC 8439 s2.5.2 Poly1305. */
    uint8_t pk[32], tag[16], wtag[16];
    unhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b", pk, sizeof(pk));
    ref_poly1305(pk, (const uint8_t *)"Cryptographic Forum Research Group", 34, tag);
    unhex("a8061dc1305136c6c22b8baf0c0127a9", wtag, sizeof(wtag));
    assert_memory_equal(tag, wtag, 16);

    /* The module at seqnr 2 with an all-zero 64-byte key. */
    keyset k;
    memset(&k, 0, sizeof(k));
    const combo c = {"chacha20-poly1305@openssh.com", NULL};
    ferry_pcrypt *tx = make(&c, &k, 1);
    uint8_t pkt[16 + 16];
    make_packet(pkt, 16, 5);
    uint8_t plain[16];
    memcpy(plain, pkt, 16);
    assert_int_equal(ferry_pcrypt_seal(tx, 2, pkt, 16, pkt + 16), FERRY_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pkt[i], plain[i] ^ want[i]); /* K_1 block 0 */
    }
    ref_poly1305(want, pkt, 16, tag); /* Poly1305 key = K_2 block 0 [0..32) */
    assert_memory_equal(pkt + 16, tag, 16);
    ferry_pcrypt_free(tx);
}

static void gcm_reference_combo(const char *name, const char *evp)
{
    const combo c = {name, NULL};
    keyset k;
    keys_for(&k, 51);
    ferry_pcrypt *tx = make(&c, &k, 1);
    uint8_t iv[12];
    memcpy(iv, k.iv, 12);
    for (int i = 0; i < 3; i++) {
        uint8_t plain[52], pkt[52 + 16], want[52], tag[16];
        make_packet(plain, sizeof(plain), 2); /* same plaintext every time */
        memcpy(pkt, plain, sizeof(plain));
        assert_int_equal(ferry_pcrypt_seal(tx, 0, pkt, 52, pkt + 52), FERRY_OK);
        ref_gcm(evp, k.key, iv, plain, 4, plain + 4, 48, want + 4, tag);
        assert_memory_equal(pkt, plain, 4); /* length in clear */
        assert_memory_equal(pkt + 4, want + 4, 48);
        assert_memory_equal(pkt + 52, tag, 16);
        for (int j = 11; j >= 4 && ++iv[j] == 0; j--) {
        }
    }
    ferry_pcrypt_free(tx);
}

static void test_kat_gcm_reference(void **state)
{
    (void)state;
    gcm_reference_combo("aes128-gcm@openssh.com", "aes-128-gcm");
    gcm_reference_combo("aes256-gcm@openssh.com", "aes-256-gcm");
}

/* GCM spec (McGrew & Viega) test case 3; then the module with the same
 * key and IV: GCM's keystream does not depend on the AAD, so the payload
 * ciphertext equals the published C. */
static void test_kat_gcm_published(void **state)
{
    (void)state;
    uint8_t key[16], iv[12], p[64], cwant[64], twant[16], out[64], tag[16];
    unhex("feffe9928665731c6d6a8f9467308308", key, sizeof(key));
    unhex("cafebabefacedbaddecaf888", iv, sizeof(iv));
    unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
          "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
          p, sizeof(p));
    unhex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
          "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
          cwant, sizeof(cwant));
    unhex("4d5c2af327cd64a62cf35abd2ba6fab4", twant, sizeof(twant));
    ref_gcm("aes-128-gcm", key, iv, NULL, 0, p, 64, out, tag);
    assert_memory_equal(out, cwant, 64);
    assert_memory_equal(tag, twant, 16);

    keyset k;
    memset(&k, 0, sizeof(k));
    memcpy(k.key, key, 16);
    memcpy(k.iv, iv, 12);
    const combo c = {"aes128-gcm@openssh.com", NULL};
    ferry_pcrypt *tx = make(&c, &k, 1), *rx = make(&c, &k, 0);
    uint8_t pkt[68 + 16];
    put_be32(pkt, 64);
    memcpy(pkt + 4, p, 64);
    assert_int_equal(ferry_pcrypt_seal(tx, 0, pkt, 68, pkt + 68), FERRY_OK);
    assert_memory_equal(pkt + 4, cwant, 64);
    ref_gcm("aes-128-gcm", key, iv, pkt, 4, p, 64, out, tag);
    assert_memory_equal(pkt + 68, tag, 16);
    assert_int_equal(receive(rx, 0, pkt, 68, NULL), FERRY_OK);
    assert_memory_equal(pkt + 4, p, 64);
    ferry_pcrypt_free(tx);
    ferry_pcrypt_free(rx);
}

/* The invocation counter moves per packet: equal plaintexts differ on
 * the wire, an in-sync receiver opens both, an out-of-sync one neither;
 * the counter carries across the 64-bit field's bytes. */
static void test_gcm_counter(void **state)
{
    (void)state;
    keyset k;
    keys_for(&k, 61);
    memcpy(k.iv + 4, "\x00\x00\x00\x00\xff\xff\xff\xff", 8);
    const combo c = {"aes128-gcm@openssh.com", NULL};
    ferry_pcrypt *tx = make(&c, &k, 1), *rx = make(&c, &k, 0), *late = make(&c, &k, 0);
    uint8_t plain[36], p1[36 + 16], p2[36 + 16], want[36], tag[16];
    make_packet(plain, 36, 4);
    memcpy(p1, plain, 36);
    memcpy(p2, plain, 36);
    assert_int_equal(ferry_pcrypt_seal(tx, 0, p1, 36, p1 + 36), FERRY_OK);
    assert_int_equal(ferry_pcrypt_seal(tx, 1, p2, 36, p2 + 36), FERRY_OK);
    assert_memory_not_equal(p1 + 4, p2 + 4, 32);
    assert_memory_not_equal(p1 + 36, p2 + 36, 16);
    /* Second packet used IV fixed || 0000000100000000 (carry). */
    uint8_t iv2[12];
    memcpy(iv2, k.iv, 4);
    memcpy(iv2 + 4, "\x00\x00\x00\x01\x00\x00\x00\x00", 8);
    ref_gcm("aes-128-gcm", k.key, iv2, plain, 4, plain + 4, 32, want + 4, tag);
    assert_memory_equal(p2 + 4, want + 4, 32);
    assert_memory_equal(p2 + 36, tag, 16);

    uint8_t q2[36 + 16];
    memcpy(q2, p2, sizeof(q2));
    /* Out of sync: the receiver expects packet 1 first. */
    assert_int_equal(receive(late, 1, q2, 36, NULL), FERRY_E_MAC_INVALID);
    assert_int_equal(receive(rx, 0, p1, 36, NULL), FERRY_OK);
    assert_int_equal(receive(rx, 1, p2, 36, NULL), FERRY_OK);
    assert_memory_equal(p1, plain, 36);
    assert_memory_equal(p2, plain, 36);
    ferry_pcrypt_free(tx);
    ferry_pcrypt_free(rx);
    ferry_pcrypt_free(late);
}

static const char *ctr_evp(const char *name)
{
    if (strcmp(name, "aes128-ctr") == 0) {
        return "AES-128-CTR";
    }
    return strcmp(name, "aes192-ctr") == 0 ? "AES-192-CTR" : "AES-256-CTR";
}

/* Two packets through the module vs one CTR stream over both packets
 * (the counter continues across packets) and HMAC() one-shots. */
static void ctr_reference_combo(const combo *c)
{
    keyset k;
    keys_for(&k, 71);
    ferry_pcrypt *tx = make(c, &k, 1);
    const ferry_mac_alg *m = ferry_mac_by_name(c->mac);
    const char *md = m->mac_len == 32 ? "SHA256" : "SHA512";
    size_t n1 = m->etm ? 36 : 32, n2 = m->etm ? 52 : 48;
    uint8_t plain[100], wire[100 + 2 * MAX_TAG], stream[100], want[100], tag[MAX_TAG];
    make_packet(plain, n1, 1);
    make_packet(plain + n1, n2, 2);
    memcpy(wire, plain, n1);
    memcpy(wire + n1 + m->mac_len, plain + n1, n2);
    assert_int_equal(ferry_pcrypt_seal(tx, 9, wire, n1, wire + n1), FERRY_OK);
    assert_int_equal(
        ferry_pcrypt_seal(tx, 10, wire + n1 + m->mac_len, n2, wire + n1 + m->mac_len + n2),
        FERRY_OK);
    /* Encrypted portions, concatenated, form one CTR stream. */
    size_t skip = m->etm ? 4 : 0;
    memcpy(stream, plain + skip, n1 - skip);
    memcpy(stream + n1 - skip, plain + n1 + skip, n2 - skip);
    ref_crypt(ctr_evp(c->cipher), k.key, k.iv, stream, n1 + n2 - 2 * skip, want);
    assert_memory_equal(wire + skip, want, n1 - skip);
    assert_memory_equal(wire + n1 + m->mac_len + skip, want + n1 - skip, n2 - skip);
    /* MACs: over the ciphertext (EtM) or the plaintext (classic). */
    ref_hmac(md, k.mackey, m->key_len, 9, m->etm ? wire : plain, n1, tag, m->mac_len);
    assert_memory_equal(wire + n1, tag, m->mac_len);
    ref_hmac(md, k.mackey, m->key_len, 10, m->etm ? wire + n1 + m->mac_len : plain + n1, n2, tag,
             m->mac_len);
    assert_memory_equal(wire + n1 + m->mac_len + n2, tag, m->mac_len);
    ferry_pcrypt_free(tx);
}

static void test_kat_ctr_reference(void **state)
{
    (void)state;
    each_combo(ctr_reference_combo, 1);
}

/* NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt) through the module with a
 * classic MAC (whole packet encrypted), split over two packets. */
static void test_kat_ctr_published(void **state)
{
    (void)state;
    keyset k;
    memset(&k, 0, sizeof(k));
    unhex("2b7e151628aed2a6abf7158809cf4f3c", k.key, 16);
    unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", k.iv, 16);
    uint8_t p[64], cwant[64], wire[64 + 32];
    unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
          "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
          p, sizeof(p));
    unhex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
          "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
          cwant, sizeof(cwant));
    const combo c = {"aes128-ctr", "hmac-sha2-256"};
    ferry_pcrypt *tx = make(&c, &k, 1), *rx = make(&c, &k, 0);
    memcpy(wire, p, 64);
    assert_int_equal(ferry_pcrypt_seal(tx, 0, wire, 16, wire + 64), FERRY_OK);
    assert_int_equal(ferry_pcrypt_seal(tx, 1, wire + 16, 48, wire + 64), FERRY_OK);
    assert_memory_equal(wire, cwant, 64);
    /* Receiving: peek decrypts the first block in place. */
    uint32_t len = 0;
    uint8_t tag[32];
    memcpy(wire, cwant, 64);
    ref_hmac("SHA256", k.mackey, 32, 0, p, 16, tag, 32);
    assert_int_equal(ferry_pcrypt_peek_len(rx, 0, wire, &len), FERRY_OK);
    assert_int_equal(len, 0x6bc1bee2u);
    assert_memory_equal(wire, p, 16);
    assert_int_equal(ferry_pcrypt_open(rx, 0, wire, 16, tag), FERRY_OK);
    ferry_pcrypt_free(tx);
    ferry_pcrypt_free(rx);
}

/* RFC 4231 test case 2 (key "Jefe", data "what do ya want for nothing?")
 * through the module: HMAC zero-pads short keys, so "Jefe" || zeros is the
 * same key. The seqnr supplies "what", the packet the rest. */
static void test_kat_hmac_published(void **state)
{
    (void)state;
    static const struct {
        const char *mac, *tag;
    } v[] = {
        {"hmac-sha2-256", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"hmac-sha2-512", "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                          "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
        {"hmac-sha2-256-etm@openssh.com",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"hmac-sha2-512-etm@openssh.com",
         "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
         "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    };
    const uint32_t what = 0x77686174; /* "what" */
    const char *rest = " do ya want for nothing?";
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        keyset k;
        memset(&k, 0, sizeof(k));
        memcpy(k.mackey, "Jefe", 4);
        uint8_t want[64], wire[24 + 64];
        size_t tl = unhex(v[i].tag, want, sizeof(want));
        const combo c = {"aes128-ctr", v[i].mac};
        ferry_pcrypt *tx = make(&c, &k, 1), *rx = make(&c, &k, 0);
        memcpy(wire, rest, 24);
        assert_int_equal(ferry_pcrypt_seal(tx, what, wire, 24, wire + 24), FERRY_OK);
        if (ferry_mac_by_name(v[i].mac)->etm) {
            /* EtM MACs the ciphertext: receiving the published text as
             * ciphertext with the published tag must verify. */
            memcpy(wire, rest, 24);
            memcpy(wire + 24, want, tl);
            uint32_t len = 0;
            assert_int_equal(ferry_pcrypt_peek_len(rx, what, wire, &len), FERRY_OK);
            assert_int_equal(len, 0x20646f20u); /* " do " */
            assert_int_equal(ferry_pcrypt_open(rx, what, wire, 24, wire + 24), FERRY_OK);
        } else {
            assert_memory_equal(wire + 24, want, tl);
            assert_int_equal(receive(rx, what, wire, 24, NULL), FERRY_OK);
            assert_memory_equal(wire, rest, 24);
        }
        ferry_pcrypt_free(tx);
        ferry_pcrypt_free(rx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_new_args),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_independent_states),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_chacha_peek),
        cmocka_unit_test(test_kat_chacha_reference),
        cmocka_unit_test(test_kat_chacha_published),
        cmocka_unit_test(test_kat_gcm_reference),
        cmocka_unit_test(test_kat_gcm_published),
        cmocka_unit_test(test_gcm_counter),
        cmocka_unit_test(test_kat_ctr_reference),
        cmocka_unit_test(test_kat_ctr_published),
        cmocka_unit_test(test_kat_hmac_published),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
