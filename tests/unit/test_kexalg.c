#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto/kexalg.h"
#include "util/buf.h"
#include "util/err.h"

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

static const char *all_names[] = {
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
};
#define N_NAMES (sizeof(all_names) / sizeof(all_names[0]))

/* Reads the one string (X25519/ECDH) or mpint (DH) held by `pub`. */
static void pub_value(const ferry_kex_alg *alg, const ferry_buf *pub, const uint8_t **p, size_t *n)
{
    ferry_rd r;
    ferry_rd_from_buf(&r, pub);
    if (alg->type == FERRY_KEX_DH || alg->type == FERRY_KEX_DHGEX) {
        assert_int_equal(ferry_rd_mpint(&r, p, n), FERRY_OK);
    } else {
        assert_int_equal(ferry_rd_string(&r, p, n), FERRY_OK);
    }
    assert_int_equal(ferry_rd_end(&r), FERRY_OK);
}

/* Asserts k holds exactly one minimal, non-negative, non-zero mpint. */
static void assert_minimal_mpint(const ferry_buf *k)
{
    ferry_rd r;
    const uint8_t *p;
    size_t n;
    ferry_rd_from_buf(&r, k);
    assert_int_equal(ferry_rd_mpint(&r, &p, &n), FERRY_OK);
    assert_true(n > 0);
    assert_int_equal(ferry_rd_end(&r), FERRY_OK);
}

static void expect_k(const ferry_buf *k, const char *hex)
{
    uint8_t be[80];
    size_t n = unhex(hex, be, sizeof(be));
    ferry_buf *want = ferry_buf_new(0);
    assert_non_null(want);
    assert_int_equal(ferry_buf_put_mpint(want, be, n), FERRY_OK);
    assert_int_equal(ferry_buf_len(k), ferry_buf_len(want));
    assert_memory_equal(ferry_buf_data(k), ferry_buf_data(want), ferry_buf_len(want));
    ferry_buf_free(want);
}

/* ---- tables ---- */

static void test_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_NAMES; i++) {
        const ferry_kex_alg *a = ferry_kexalg_by_name(all_names[i]);
        assert_non_null(a);
        assert_string_equal(a->name, all_names[i]);
    }
    assert_null(ferry_kexalg_by_name("diffie-hellman-group1-sha1"));
    assert_null(ferry_kexalg_by_name("sntrup761x25519-sha512@openssh.com"));
    assert_null(ferry_kexalg_by_name(NULL));
    const char *want = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
                       "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,"
                       "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
                       "diffie-hellman-group14-sha256";
    assert_string_equal(ferry_kexalg_supported(), want);
    assert_string_equal(ferry_kexalg_default_client(), want);
    assert_string_equal(ferry_kexalg_default_server(),
                        "curve25519-sha256,curve25519-sha256@libssh.org,"
                        "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
                        "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256");
    const ferry_kex_alg *a = ferry_kexalg_by_name("ecdh-sha2-nistp384");
    assert_string_equal(a->hash, "SHA384");
    assert_int_equal(a->hash_len, 48);
    a = ferry_kexalg_by_name("diffie-hellman-group18-sha512");
    assert_int_equal(a->type, FERRY_KEX_DH);
    assert_string_equal(a->group, "modp_8192");
    ferry_kex_eph_free(NULL);
}

/* ---- known answers ---- */

struct kat {
    const char *alg;
    const char *a_priv, *a_pub, *b_priv, *b_pub, *shared;
};

static const struct kat kats[] = {
    /* RFC 7748 s6.1 */
    {"curve25519-sha256", "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
     "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
     "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
     "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
     "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"},
    /* RFC 5903 s8.1 */
    {"ecdh-sha2-nistp256", "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
     "04DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
     "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
     "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
     "04D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
     "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
     "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"},
    /* RFC 5903 s8.2 */
    {"ecdh-sha2-nistp384",
     "099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB"
     "194",
     "04667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95"
     "F41AA"
     "9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A"
     "81C",
     "41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942E0308312916B8ED2960E4BD55A744"
     "8FC",
     "04E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774"
     "A3571"
     "DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E63"
     "86C",
     "11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59"
     "746"},
    /* RFC 5903 s8.3 */
    {"ecdh-sha2-nistp521",
     "0037ADE9319A89F4DABDB3EF411AACCCA5123C61ACAB57B5393DCE47608172A095AA85A30FE1C2952C6771D937BA9"
     "7"
     "77F5957B2639BAB072462F68C27A57382D4A52",
     "040015417E84DBF28C0AD3C278713349DC7DF153C897A1891BD98BAB4357C9ECBEE1E3BF42E00B8E380AEAE57C2D1"
     "0"
     "7564941885942AF5A7F4601723C4195D176CED3E017CAE20B6641D2EEB695786D8C946146239D099E18E1D5A514C7"
     "3"
     "9D7CB4A10AD8A788015AC405D7799DC75E7B7D5B6CF2261A6A7F1507438BF01BEB6CA3926F9582",
     "0145BA99A847AF43793FDD0E872E7CDFA16BE30FDC780F97BCCC3F078380201E9C677D600B343757A3BDBF2A3163E"
     "4"
     "C2F869CCA7458AA4A4EFFC311F5CB151685EB9",
     "0400D0B3975AC4B799F5BEA16D5E13E9AF971D5E9B984C9F39728B5E5739735A219B97C356436ADC6E95BB0352F6B"
     "E"
     "64A6C2912D4EF2D0433CED2B6171640012D9460F015C68226383956E3BD066E797B623C27CE0EAC2F551A10C2C724"
     "D"
     "9852077B87220B6536C5C408A1D2AEBB8E86D678AE49CB57091F4732296579AB44FCD17F0FC56A",
     "01144C7D79AE6956BC8EDB8E7C787C4521CB086FA64407F97894E5E6B2D79B04D1427E73CA4BAA240A3478685981"
     "0C06B3C715A3A8CC3151F2BEE417996D19F3DDEA"},
};

/* One side of a known-answer exchange: checks the public value, then
 * derives with the other side's public value and checks K. */
static void kat_side(const ferry_kex_alg *alg, const char *priv_hex, const char *pub_hex,
                     const char *peer_hex, const char *shared_hex)
{
    uint8_t priv[80], want_pub[160], peer[160];
    size_t priv_n = unhex(priv_hex, priv, sizeof(priv));
    size_t pub_n = unhex(pub_hex, want_pub, sizeof(want_pub));
    size_t peer_n = unhex(peer_hex, peer, sizeof(peer));
    ferry_buf *pub = ferry_buf_new(0), *k = ferry_buf_new(0);
    ferry_kex_eph *e = NULL;
    assert_int_equal(ferry__kex_eph_from_private(&e, alg, priv, priv_n, pub), FERRY_OK);
    const uint8_t *p;
    size_t n;
    pub_value(alg, pub, &p, &n);
    assert_int_equal(n, pub_n);
    assert_memory_equal(p, want_pub, n);
    assert_int_equal(ferry_kex_eph_derive(e, peer, peer_n, k), FERRY_OK);
    expect_k(k, shared_hex);
    assert_minimal_mpint(k);
    ferry_kex_eph_free(e);
    ferry_buf_free(pub);
    ferry_buf_free(k);
}

static void test_known_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
        const ferry_kex_alg *alg = ferry_kexalg_by_name(kats[i].alg);
        assert_non_null(alg);
        kat_side(alg, kats[i].a_priv, kats[i].a_pub, kats[i].b_pub, kats[i].shared);
        kat_side(alg, kats[i].b_priv, kats[i].b_pub, kats[i].a_pub, kats[i].shared);
    }
    /* The @libssh.org alias is the same computation. */
    kat_side(ferry_kexalg_by_name("curve25519-sha256@libssh.org"), kats[0].a_priv, kats[0].a_pub,
             kats[0].b_pub, kats[0].shared);
    /* GEX has no fixed-key hook. */
    ferry_kex_eph *e = NULL;
    ferry_buf *pub = ferry_buf_new(0);
    uint8_t x[32] = {1};
    assert_int_equal(
        ferry__kex_eph_from_private(
            &e, ferry_kexalg_by_name("diffie-hellman-group-exchange-sha256"), x, 32, pub),
        FERRY_E_UNSUPPORTED);
    assert_null(e);
    assert_int_equal(ferry_buf_len(pub), 0);
    ferry_buf_free(pub);
}

/* DH with fixed exponents: K = f^x mod p computed independently with
 * BN_mod_exp, including results far shorter than p (the padded secret must
 * lose its leading zeros) and results with the top bit set (0x00 prefix). */
static void dh_kat_one(const char *name, BIGNUM *(*prime)(BIGNUM *), const BIGNUM *x,
                       const BIGNUM *f)
{
    const ferry_kex_alg *alg = ferry_kexalg_by_name(name);
    BIGNUM *p = prime(NULL), *g = BN_new(), *y = BN_new(), *k = BN_new();
    BN_CTX *bc = BN_CTX_new();
    assert_true(BN_set_word(g, 2));
    assert_true(BN_mod_exp(y, g, x, p, bc));
    assert_true(BN_mod_exp(k, f, x, p, bc));
    uint8_t be[FERRY_MPINT_MAX_BYTES];
    int xn = BN_bn2bin(x, be);
    ferry_buf *pub = ferry_buf_new(0), *kb = ferry_buf_new(0), *want = ferry_buf_new(0);
    ferry_kex_eph *e = NULL;
    assert_int_equal(ferry__kex_eph_from_private(&e, alg, be, (size_t)xn, pub), FERRY_OK);
    assert_int_equal(ferry_buf_put_bignum(want, y), FERRY_OK);
    assert_int_equal(ferry_buf_len(pub), ferry_buf_len(want));
    assert_memory_equal(ferry_buf_data(pub), ferry_buf_data(want), ferry_buf_len(want));
    int fn = BN_bn2bin(f, be);
    assert_int_equal(ferry_kex_eph_derive(e, be, (size_t)fn, kb), FERRY_OK);
    ferry_buf_reset(want);
    assert_int_equal(ferry_buf_put_bignum(want, k), FERRY_OK);
    assert_int_equal(ferry_buf_len(kb), ferry_buf_len(want));
    assert_memory_equal(ferry_buf_data(kb), ferry_buf_data(want), ferry_buf_len(want));
    assert_minimal_mpint(kb);
    ferry_kex_eph_free(e);
    ferry_buf_free(pub);
    ferry_buf_free(kb);
    ferry_buf_free(want);
    BN_CTX_free(bc);
    BN_free(p);
    BN_free(g);
    BN_free(y);
    BN_free(k);
}

static void test_dh_known_answers(void **state)
{
    (void)state;
    BIGNUM *x = BN_new(), *f = BN_new();
    assert_true(BN_set_word(f, 2));
    assert_true(BN_set_word(x, 8)); /* K = 256: one significant byte of 256 */
    dh_kat_one("diffie-hellman-group14-sha256", BN_get_rfc3526_prime_2048, x, f);
    assert_true(BN_set_word(x, 2047)); /* K = 2^2047: top bit set, 0x00 prefix */
    dh_kat_one("diffie-hellman-group14-sha256", BN_get_rfc3526_prime_2048, x, f);
    assert_true(BN_set_word(x, 4095));
    dh_kat_one("diffie-hellman-group16-sha512", BN_get_rfc3526_prime_4096, x, f);
    /* Ordinary-looking values. */
    assert_true(BN_hex2bn(&x, "9f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"));
    assert_true(BN_hex2bn(&f, "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"
                              "fedcba0987654321fedcba0987654321fedcba0987654321fedcba0987654321"));
    dh_kat_one("diffie-hellman-group14-sha256", BN_get_rfc3526_prime_2048, x, f);
    dh_kat_one("diffie-hellman-group18-sha512", BN_get_rfc3526_prime_8192, x, f);
    BN_free(x);
    BN_free(f);
}

/* ---- round trips ---- */

static void roundtrip(const ferry_kex_alg *alg, const BIGNUM *p, const BIGNUM *g)
{
    ferry_buf *pa = ferry_buf_new(0), *pb = ferry_buf_new(0);
    ferry_buf *ka = ferry_buf_new(0), *kb = ferry_buf_new(0);
    ferry_kex_eph *a = NULL, *b = NULL;
    assert_int_equal(ferry_kex_eph_new(&a, alg, p, g, pa), FERRY_OK);
    assert_int_equal(ferry_kex_eph_new(&b, alg, p, g, pb), FERRY_OK);
    const uint8_t *va, *vb;
    size_t na, nb;
    pub_value(alg, pa, &va, &na);
    pub_value(alg, pb, &vb, &nb);
    assert_false(na == nb && memcmp(va, vb, na) == 0);
    assert_int_equal(ferry_kex_eph_derive(a, vb, nb, ka), FERRY_OK);
    assert_int_equal(ferry_kex_eph_derive(b, va, na, kb), FERRY_OK);
    assert_int_equal(ferry_buf_len(ka), ferry_buf_len(kb));
    assert_memory_equal(ferry_buf_data(ka), ferry_buf_data(kb), ferry_buf_len(ka));
    assert_minimal_mpint(ka);
    if (alg->type == FERRY_KEX_X25519) {
        assert_int_equal(na, 32);
        assert_true(ferry_buf_len(ka) <= 4 + 33);
    } else if (alg->type == FERRY_KEX_ECDH) {
        assert_int_equal(va[0], 0x04);
    }
    ferry_kex_eph_free(a);
    ferry_kex_eph_free(b);
    ferry_buf_free(pa);
    ferry_buf_free(pb);
    ferry_buf_free(ka);
    ferry_buf_free(kb);
}

static void test_roundtrip_every_method(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_NAMES; i++) {
        const ferry_kex_alg *alg = ferry_kexalg_by_name(all_names[i]);
        if (alg->type == FERRY_KEX_DHGEX) {
            BIGNUM *p = NULL, *g = NULL;
            assert_int_equal(ferry_kex_gex_choose(2048, 3072, 8192, &p, &g), FERRY_OK);
            roundtrip(alg, p, g);
            BN_free(p);
            BN_free(g);
        } else {
            roundtrip(alg, NULL, NULL);
        }
    }
}

static void test_gex_every_group(void **state)
{
    (void)state;
    const ferry_kex_alg *gex = ferry_kexalg_by_name("diffie-hellman-group-exchange-sha256");
    uint32_t sizes[] = {2048, 3072, 4096, 6144, 8192};
    for (size_t i = 0; i < 5; i++) {
        BIGNUM *p = NULL, *g = NULL;
        assert_int_equal(ferry_kex_gex_choose(sizes[i], sizes[i], 8192, &p, &g), FERRY_OK);
        assert_int_equal(BN_num_bits(p), (int)sizes[i]);
        roundtrip(gex, p, g);
        BN_free(p);
        BN_free(g);
    }
}

/* A 2048-bit safe prime that is none of the named groups, made with
 * `openssl dhparam 2048` (as OpenSSH servers pick from /etc/ssh/moduli). */
static const char foreign_2048[] = "a0460e3d5c02247d258618b87a9f8739fcb73029392bb34ee33ed663161ba99"
                                   "4e5d5efb9e7faedf23608d36a913a009a"
                                   "e1c5339abb64ed69398bcb315b04427e4698f61ab28dd2f2d88d17b43e7ef06"
                                   "ce19fe4b3fa606e2e79e7903d68b1662c"
                                   "9b6ab975cb97dc26baee1cb33fa249de490fc66323284576219f1d959865170"
                                   "ff7537d3a37b7e07c36e89cbbcc9a9cad"
                                   "dfe4a9cc4bbee20088394f1b792ad3a9a0d2aa566bcebe0c2ae17df47acb8ac"
                                   "9ae15d3d499dce2f855dcf8aa38dec009"
                                   "fdaaa9340615c66e5666a0e3b147ee487156e06307000263788bbd7213c1c4c"
                                   "de7615ecf63f131b0f6d86daa49c17772"
                                   "6a2177ad8e524add7a0e3915278bfc17";

static void test_gex_foreign_group(void **state)
{
    (void)state;
    const ferry_kex_alg *gex = ferry_kexalg_by_name("diffie-hellman-group-exchange-sha256");
    BIGNUM *p = NULL, *g = BN_new(), *f = BN_new();
    assert_true(BN_hex2bn(&p, foreign_2048) > 0);
    assert_int_equal(BN_num_bits(p), 2048);
    assert_true(BN_set_word(g, 2));
    assert_int_equal(ferry_kex_gex_check(p, g, 2048, 8192), FERRY_OK);
    roundtrip(gex, p, g);
    assert_true(BN_set_word(g, 5));
    roundtrip(gex, p, g);
    /* The range check uses this p, not one of ours. */
    ferry_buf *pub = ferry_buf_new(0), *k = ferry_buf_new(0);
    ferry_kex_eph *e = NULL;
    assert_int_equal(ferry_kex_eph_new(&e, gex, p, g, pub), FERRY_OK);
    uint8_t be[256];
    assert_non_null(BN_copy(f, p));
    assert_true(BN_sub_word(f, 1));
    assert_int_equal(BN_bn2bin(f, be), 256);
    assert_int_equal(ferry_kex_eph_derive(e, be, 256, k), FERRY_E_KEY_WEAK);
    assert_true(BN_sub_word(f, 1));
    assert_int_equal(BN_bn2bin(f, be), 256);
    assert_int_equal(ferry_kex_eph_derive(e, be, 256, k), FERRY_OK);
    assert_minimal_mpint(k);
    ferry_kex_eph_free(e);
    ferry_buf_free(pub);
    ferry_buf_free(k);
    BN_free(p);
    BN_free(g);
    BN_free(f);
}

/* Deterministic bit-flip pass over a valid peer value: every result is
 * either a well-formed K or FORMAT / KEY_WEAK, and nothing is appended on
 * failure. For DH only the first and last 16 bytes are flipped. */
static void bitflip_one(const char *name)
{
    const ferry_kex_alg *alg = ferry_kexalg_by_name(name);
    ferry_buf *pa = ferry_buf_new(0), *pb = ferry_buf_new(0), *k = ferry_buf_new(0);
    ferry_kex_eph *a = NULL, *b = NULL;
    assert_int_equal(ferry_kex_eph_new(&a, alg, NULL, NULL, pa), FERRY_OK);
    assert_int_equal(ferry_kex_eph_new(&b, alg, NULL, NULL, pb), FERRY_OK);
    const uint8_t *v;
    size_t n;
    pub_value(alg, pb, &v, &n);
    uint8_t m[FERRY_MPINT_MAX_BYTES];
    memcpy(m, v, n);
    int dh = alg->type == FERRY_KEX_DH;
    size_t ok = 0;
    for (size_t byte = 0; byte < n; byte++) {
        if (dh && byte == 16 && n > 32) {
            byte = n - 16;
        }
        for (int bit = 0; bit < 8; bit++) {
            m[byte] ^= (uint8_t)(1u << bit);
            int r = ferry_kex_eph_derive(a, m, n, k);
            if (r == FERRY_OK) {
                assert_minimal_mpint(k);
                ok++;
            } else {
                assert_true(r == FERRY_E_FORMAT || r == FERRY_E_KEY_WEAK);
                assert_int_equal(ferry_buf_len(k), 0);
            }
            ferry_buf_reset(k);
            m[byte] ^= (uint8_t)(1u << bit);
        }
    }
    if (alg->type == FERRY_KEX_ECDH) {
        assert_int_equal(ok, 0); /* no single flip stays on the curve */
    } else {
        assert_true(ok > 0);
    }
    ferry_kex_eph_free(a);
    ferry_kex_eph_free(b);
    ferry_buf_free(pa);
    ferry_buf_free(pb);
    ferry_buf_free(k);
}

static void test_bitflip_peer_values(void **state)
{
    (void)state;
    bitflip_one("curve25519-sha256");
    bitflip_one("ecdh-sha2-nistp256");
    bitflip_one("ecdh-sha2-nistp521");
    bitflip_one("diffie-hellman-group14-sha256");
}

/* ---- bad peer values ---- */

static ferry_kex_eph *new_eph(const char *name, ferry_buf *pub)
{
    ferry_kex_eph *e = NULL;
    assert_int_equal(ferry_kex_eph_new(&e, ferry_kexalg_by_name(name), NULL, NULL, pub), FERRY_OK);
    return e;
}

static void test_x25519_bad_peer(void **state)
{
    (void)state;
    ferry_buf *pub = ferry_buf_new(0), *k = ferry_buf_new(0);
    ferry_kex_eph *e = new_eph("curve25519-sha256", pub);
    uint8_t v[33] = {0};
    assert_int_equal(ferry_kex_eph_derive(e, v, 31, k), FERRY_E_FORMAT);
    assert_int_equal(ferry_kex_eph_derive(e, v, 33, k), FERRY_E_FORMAT);
    assert_int_equal(ferry_kex_eph_derive(e, v, 0, k), FERRY_E_FORMAT);
    /* Low-order points give an all-zero result (RFC 7748 s6.1). */
    assert_int_equal(ferry_kex_eph_derive(e, v, 32, k), FERRY_E_KEY_WEAK);
    v[0] = 1;
    assert_int_equal(ferry_kex_eph_derive(e, v, 32, k), FERRY_E_KEY_WEAK);
    unhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", v, sizeof(v));
    assert_int_equal(ferry_kex_eph_derive(e, v, 32, k), FERRY_E_KEY_WEAK);
    assert_int_equal(ferry_buf_len(k), 0);
    ferry_kex_eph_free(e);
    ferry_buf_free(pub);
    ferry_buf_free(k);
}

static void ecdh_bad_one(const char *name)
{
    ferry_buf *pub = ferry_buf_new(0), *k = ferry_buf_new(0);
    ferry_kex_eph *e = new_eph(name, pub);
    const uint8_t *v;
    size_t n;
    pub_value(ferry_kexalg_by_name(name), pub, &v, &n);
    uint8_t pt[200];
    memcpy(pt, v, n);
    /* Every truncation and one extra byte: wrong length. */
    for (size_t l = 0; l < n; l++) {
        assert_int_equal(ferry_kex_eph_derive(e, pt, l, k), FERRY_E_FORMAT);
    }
    pt[n] = 0;
    assert_int_equal(ferry_kex_eph_derive(e, pt, n + 1, k), FERRY_E_FORMAT);
    /* Compressed form of the same point. */
    uint8_t c[100];
    size_t flen = (n - 1) / 2;
    c[0] = (uint8_t)(0x02 | (pt[n - 1] & 1));
    memcpy(c + 1, pt + 1, flen);
    assert_int_equal(ferry_kex_eph_derive(e, c, 1 + flen, k), FERRY_E_FORMAT);
    pt[0] = 0x06; /* hybrid encoding */
    assert_int_equal(ferry_kex_eph_derive(e, pt, n, k), FERRY_E_FORMAT);
    pt[0] = 0x04;
    /* Off the curve. */
    pt[n - 1] ^= 1;
    int r = ferry_kex_eph_derive(e, pt, n, k);
    assert_true(r == FERRY_E_KEY_WEAK || r == FERRY_E_FORMAT);
    memset(pt + 1, 0, n - 1); /* (0, 0) */
    r = ferry_kex_eph_derive(e, pt, n, k);
    assert_true(r == FERRY_E_KEY_WEAK || r == FERRY_E_FORMAT);
    assert_int_equal(ferry_buf_len(k), 0);
    /* The unmodified point still works. */
    assert_int_equal(ferry_kex_eph_derive(e, v, n, k), FERRY_OK);
    ferry_kex_eph_free(e);
    ferry_buf_free(pub);
    ferry_buf_free(k);
}

static void test_ecdh_bad_peer(void **state)
{
    (void)state;
    ecdh_bad_one("ecdh-sha2-nistp256");
    ecdh_bad_one("ecdh-sha2-nistp384");
    ecdh_bad_one("ecdh-sha2-nistp521");
}

/* f in {0, 1, p-1, p, p+1} for the method's group, plus an oversized value. */
static void dh_bad_one(const ferry_kex_alg *alg, const BIGNUM *gp, const BIGNUM *gg,
                       BIGNUM *(*prime)(BIGNUM *))
{
    ferry_buf *pub = ferry_buf_new(0), *k = ferry_buf_new(0);
    ferry_kex_eph *e = NULL;
    assert_int_equal(ferry_kex_eph_new(&e, alg, gp, gg, pub), FERRY_OK);
    BIGNUM *p = prime(NULL), *f = BN_new();
    uint8_t be[FERRY_MPINT_MAX_BYTES + 8];
    long deltas[] = {-1, 0, 1};
    for (size_t i = 0; i < 3; i++) {
        assert_non_null(BN_copy(f, p));
        assert_true(deltas[i] < 0 ? BN_sub_word(f, 1) : BN_add_word(f, (BN_ULONG)deltas[i]));
        int n = BN_bn2bin(f, be);
        assert_int_equal(ferry_kex_eph_derive(e, be, (size_t)n, k), FERRY_E_KEY_WEAK);
    }
    be[0] = 1;
    assert_int_equal(ferry_kex_eph_derive(e, be, 1, k), FERRY_E_KEY_WEAK);
    be[0] = 0;
    assert_int_equal(ferry_kex_eph_derive(e, be, 1, k), FERRY_E_KEY_WEAK);
    assert_int_equal(ferry_kex_eph_derive(e, be, 0, k), FERRY_E_KEY_WEAK);
    memset(be, 0, sizeof(be));
    be[sizeof(be) - 1] = 2; /* 2 with many leading zeros: too long */
    assert_int_equal(ferry_kex_eph_derive(e, be, sizeof(be), k), FERRY_E_KEY_WEAK);
    /* Leading zeros are harmless within the limit: 2 = g^1 is in range. */
    assert_int_equal(ferry_kex_eph_derive(e, be + sizeof(be) - 8, 8, k), FERRY_OK);
    ferry_buf_reset(k);
    BN_free(p);
    BN_free(f);
    ferry_kex_eph_free(e);
    ferry_buf_free(pub);
    ferry_buf_free(k);
}

static void test_dh_bad_peer(void **state)
{
    (void)state;
    dh_bad_one(ferry_kexalg_by_name("diffie-hellman-group14-sha256"), NULL, NULL,
               BN_get_rfc3526_prime_2048);
    dh_bad_one(ferry_kexalg_by_name("diffie-hellman-group16-sha512"), NULL, NULL,
               BN_get_rfc3526_prime_4096);
    BIGNUM *p = NULL, *g = NULL;
    assert_int_equal(ferry_kex_gex_choose(2048, 2048, 8192, &p, &g), FERRY_OK);
    dh_bad_one(ferry_kexalg_by_name("diffie-hellman-group-exchange-sha256"), p, g,
               BN_get_rfc3526_prime_2048);
    BN_free(p);
    BN_free(g);
}

/* ---- groups ---- */

/* RFC 3526 s3, the 2048-bit MODP group (id 14). */
static const char rfc3526_2048[] = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC7"
                                   "4020BBEA63B139B22514A08798E3404DD"
                                   "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC"
                                   "6F44C42E9A637ED6B0BFF5CB6F406B7ED"
                                   "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0"
                                   "598DA48361C55D39A69163FA8FD24CF5F"
                                   "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC980"
                                   "4F1746C08CA18217C32905E462E36CE3B"
                                   "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF69558171"
                                   "83995497CEA956AE515D2261898FA0510"
                                   "15728E5A8AACAA68FFFFFFFFFFFFFFFF";

/* p of OpenSSL's named DH group `name`, generated through EVP. */
static BIGNUM *named_group_p(const char *name)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
    EVP_PKEY *k = NULL;
    BIGNUM *p = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)name, 0),
        OSSL_PARAM_construct_end()};
    assert_non_null(ctx);
    assert_true(EVP_PKEY_paramgen_init(ctx) > 0);
    assert_true(EVP_PKEY_CTX_set_params(ctx, params) > 0);
    assert_true(EVP_PKEY_generate(ctx, &k) > 0);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_FFC_P, &p), 1);
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(ctx);
    return p;
}

static void test_modp_primes(void **state)
{
    (void)state;
    BIGNUM *hexp = NULL;
    assert_true(BN_hex2bn(&hexp, rfc3526_2048) > 0);
    static const struct {
        const char *name;
        int bits;
        BIGNUM *(*prime)(BIGNUM *);
    } groups[] = {
        {"modp_2048", 2048, BN_get_rfc3526_prime_2048},
        {"modp_3072", 3072, BN_get_rfc3526_prime_3072},
        {"modp_4096", 4096, BN_get_rfc3526_prime_4096},
        {"modp_6144", 6144, BN_get_rfc3526_prime_6144},
        {"modp_8192", 8192, BN_get_rfc3526_prime_8192},
    };
    for (size_t i = 0; i < 5; i++) {
        BIGNUM *named = named_group_p(groups[i].name), *ref = groups[i].prime(NULL);
        assert_int_equal(BN_num_bits(named), groups[i].bits);
        assert_int_equal(BN_cmp(named, ref), 0);
        /* RFC 3526 form: top and bottom 64 bits all ones. */
        for (int b = 0; b < 64; b++) {
            assert_true(BN_is_bit_set(ref, b));
            assert_true(BN_is_bit_set(ref, groups[i].bits - 1 - b));
        }
        if (i == 0) {
            assert_int_equal(BN_cmp(ref, hexp), 0);
        }
        /* gex_choose hands out the same primes with g = 2. */
        BIGNUM *p = NULL, *g = NULL;
        uint32_t bits = (uint32_t)groups[i].bits;
        assert_int_equal(ferry_kex_gex_choose(bits, bits, bits, &p, &g), FERRY_OK);
        assert_int_equal(BN_cmp(p, ref), 0);
        assert_true(BN_is_word(g, 2));
        BN_free(p);
        BN_free(g);
        BN_free(named);
        BN_free(ref);
    }
    BN_free(hexp);
}

static int chosen_bits(uint32_t min, uint32_t n, uint32_t max)
{
    BIGNUM *p = NULL, *g = NULL;
    int r = ferry_kex_gex_choose(min, n, max, &p, &g);
    if (r != FERRY_OK) {
        assert_null(p);
        return r;
    }
    int bits = BN_num_bits(p);
    assert_int_equal(ferry_kex_gex_check(p, g, min, max), FERRY_OK);
    BN_free(p);
    BN_free(g);
    return bits;
}

static void test_gex_choose(void **state)
{
    (void)state;
    assert_int_equal(chosen_bits(1024, 1024, 8192), 2048);
    assert_int_equal(chosen_bits(1024, 2048, 8192), 2048);
    assert_int_equal(chosen_bits(2048, 2049, 8192), 3072);
    assert_int_equal(chosen_bits(2048, 3072, 8192), 3072);
    assert_int_equal(chosen_bits(2048, 7680, 8192), 8192);
    assert_int_equal(chosen_bits(2048, 8192, 8192), 8192);
    assert_int_equal(chosen_bits(2048, 8192, 6000), 4096); /* largest that fits */
    assert_int_equal(chosen_bits(4000, 4000, 5000), 4096);
    assert_int_equal(chosen_bits(2048, 9000, 16384), 8192);
    assert_int_equal(chosen_bits(1024, 1024, 1536), FERRY_E_NO_ALG_MATCH);
    assert_int_equal(chosen_bits(1024, 2048, 2047), FERRY_E_NO_ALG_MATCH);
    assert_int_equal(chosen_bits(5000, 5000, 6000), FERRY_E_NO_ALG_MATCH);
    assert_int_equal(chosen_bits(8193, 8193, 16384), FERRY_E_NO_ALG_MATCH);
    assert_int_equal(chosen_bits(4096, 4096, 2048), FERRY_E_NO_ALG_MATCH);
}

static void test_gex_check(void **state)
{
    (void)state;
    BIGNUM *p = BN_get_rfc3526_prime_2048(NULL), *g = BN_new(), *x = BN_new();
    BIGNUM *p1024 = BN_get_rfc2409_prime_1024(NULL);
    assert_true(BN_set_word(g, 2));
    assert_int_equal(ferry_kex_gex_check(p, g, 1024, 8192), FERRY_OK);
    assert_int_equal(ferry_kex_gex_check(p, g, 2048, 2048), FERRY_OK);
    assert_int_equal(ferry_kex_gex_check(p1024, g, 1024, 8192), FERRY_E_KEY_WEAK);
    assert_int_equal(ferry_kex_gex_check(p, g, 3072, 8192), FERRY_E_KEY_WEAK);
    assert_int_not_equal(ferry_kex_gex_check(p, g, 1024, 1536), FERRY_OK);
    /* even p */
    assert_non_null(BN_copy(x, p));
    assert_true(BN_add_word(x, 1));
    assert_int_equal(ferry_kex_gex_check(x, g, 1024, 8192), FERRY_E_FORMAT);
    /* g = 0, 1, p-1, p */
    BN_ULONG small[] = {0, 1};
    for (size_t i = 0; i < 2; i++) {
        assert_true(BN_set_word(x, small[i]));
        assert_int_equal(ferry_kex_gex_check(p, x, 1024, 8192), FERRY_E_KEY_WEAK);
    }
    assert_non_null(BN_copy(x, p));
    assert_int_equal(ferry_kex_gex_check(p, x, 1024, 8192), FERRY_E_KEY_WEAK);
    assert_true(BN_sub_word(x, 1));
    assert_int_equal(ferry_kex_gex_check(p, x, 1024, 8192), FERRY_E_KEY_WEAK);
    /* eph_new refuses the same bad groups and a missing one. */
    ferry_kex_eph *e = NULL;
    ferry_buf *pub = ferry_buf_new(0);
    const ferry_kex_alg *gex = ferry_kexalg_by_name("diffie-hellman-group-exchange-sha256");
    assert_int_equal(ferry_kex_eph_new(&e, gex, NULL, NULL, pub), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_kex_eph_new(&e, gex, p, x, pub), FERRY_E_KEY_WEAK);
    assert_null(e);
    assert_int_equal(ferry_buf_len(pub), 0);
    ferry_buf_free(pub);
    BN_free(p);
    BN_free(p1024);
    BN_free(g);
    BN_free(x);
}

/* ---- hash and key derivation ---- */

static void test_hash(void **state)
{
    (void)state;
    uint8_t out[64], want[64];
    const ferry_kex_alg *a = ferry_kexalg_by_name("curve25519-sha256");
    assert_int_equal(ferry_kex_hash(a, (const uint8_t *)"abc", 3, out), FERRY_OK);
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 64);
    assert_memory_equal(out, want, 32);
    a = ferry_kexalg_by_name("diffie-hellman-group16-sha512");
    assert_int_equal(ferry_kex_hash(a, (const uint8_t *)"abc", 3, out), FERRY_OK);
    unhex("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
          "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
          want, 64);
    assert_memory_equal(out, want, 64);
    a = ferry_kexalg_by_name("ecdh-sha2-nistp384");
    assert_int_equal(ferry_kex_hash(a, NULL, 0, out), FERRY_OK);
    unhex("38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da"
          "274edebfe76f65fbd51ad2f14898b95b",
          want, 64);
    assert_memory_equal(out, want, 48);
}

/* Independent RFC 4253 s7.2 computation over explicit concatenations. */
static void ref_derive(const char *md_name, const uint8_t *k, size_t kl, const uint8_t *h,
                       size_t hl, const uint8_t *sid, size_t sl, char letter, uint8_t *out,
                       size_t need)
{
    uint8_t cat[1024], blk[64];
    size_t have = 0;
    unsigned dl = 0;
    while (have < need) {
        size_t c = 0;
        memcpy(cat + c, k, kl);
        c += kl;
        memcpy(cat + c, h, hl);
        c += hl;
        if (have == 0) {
            cat[c++] = (uint8_t)letter;
            memcpy(cat + c, sid, sl);
            c += sl;
        } else {
            memcpy(cat + c, out, have);
            c += have;
        }
        assert_int_equal(EVP_Digest(cat, c, blk, &dl, EVP_get_digestbyname(md_name), NULL), 1);
        size_t take = need - have < dl ? need - have : dl;
        memcpy(out + have, blk, take);
        have += take;
    }
}

static void test_derive_key(void **state)
{
    (void)state;
    uint8_t kraw[33], h[64], sid[32], out[200], ref[200], prev[6][200];
    for (size_t i = 0; i < sizeof(kraw); i++) {
        kraw[i] = (uint8_t)(0xf0 - i);
    }
    for (size_t i = 0; i < sizeof(h); i++) {
        h[i] = (uint8_t)(i * 7);
    }
    memcpy(sid, h + 3, sizeof(sid));
    ferry_buf *k = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_mpint(k, kraw, sizeof(kraw)), FERRY_OK);
    const char *algs[] = {"curve25519-sha256", "ecdh-sha2-nistp384",
                          "diffie-hellman-group16-sha512"};
    size_t needs[] = {16, 32, 64, 100, 200};
    for (size_t a = 0; a < 3; a++) {
        const ferry_kex_alg *alg = ferry_kexalg_by_name(algs[a]);
        for (size_t ni = 0; ni < 5; ni++) {
            for (char letter = 'A'; letter <= 'F'; letter++) {
                size_t need = needs[ni];
                assert_int_equal(ferry_kex_derive_key(alg, ferry_buf_data(k), ferry_buf_len(k), h,
                                                      alg->hash_len, sid, sizeof(sid), letter, out,
                                                      need),
                                 FERRY_OK);
                ref_derive(alg->hash, ferry_buf_data(k), ferry_buf_len(k), h, alg->hash_len, sid,
                           sizeof(sid), letter, ref, need);
                assert_memory_equal(out, ref, need);
                memcpy(prev[letter - 'A'], out, need);
            }
            /* Letters give unrelated keys. */
            for (int i = 0; i < 6; i++) {
                for (int j = i + 1; j < 6; j++) {
                    assert_memory_not_equal(prev[i], prev[j], needs[ni]);
                }
            }
        }
    }
    const ferry_kex_alg *alg = ferry_kexalg_by_name("curve25519-sha256");
    assert_int_equal(ferry_kex_derive_key(alg, ferry_buf_data(k), ferry_buf_len(k), h, 32, sid, 32,
                                          'G', out, 16),
                     FERRY_E_INVALID_ARG);
    assert_int_equal(
        ferry_kex_derive_key(alg, ferry_buf_data(k), ferry_buf_len(k), h, 32, sid, 32, 'A', out, 0),
        FERRY_OK);
    ferry_buf_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_dh_known_answers),
        cmocka_unit_test(test_roundtrip_every_method),
        cmocka_unit_test(test_gex_every_group),
        cmocka_unit_test(test_gex_foreign_group),
        cmocka_unit_test(test_bitflip_peer_values),
        cmocka_unit_test(test_x25519_bad_peer),
        cmocka_unit_test(test_ecdh_bad_peer),
        cmocka_unit_test(test_dh_bad_peer),
        cmocka_unit_test(test_modp_primes),
        cmocka_unit_test(test_gex_choose),
        cmocka_unit_test(test_gex_check),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_derive_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
