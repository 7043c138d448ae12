/* test_cert.c: OpenSSH certificates (PROTOCOL.certkeys). Certificates are
 * built in memory field by field and signed with our own CA keys, then
 * damaged byte by byte; and certificates made by the real ssh-keygen are
 * loaded and checked. */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/cert.h"
#include "crypto/key.h"
#include "helpers/shell.h"
#include "util/buf.h"
#include "util/err.h"

static char tmpdir[64];

/* Keys generated once for the whole group: each is used both as a
 * certified key and as a CA. */
enum { K_ED25519, K_P256, K_RSA, K_COUNT };
static ferry_key *keys[K_COUNT];
static const char *const ca_sigalg[K_COUNT] = {"ssh-ed25519", "ecdsa-sha2-nistp256",
                                               "rsa-sha2-512"};

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-test-cert-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    static const enum ferry_key_type types[K_COUNT] = {FERRY_KEY_ED25519, FERRY_KEY_ECDSA_P256,
                                                       FERRY_KEY_RSA};
    for (size_t i = 0; i < K_COUNT; i++) {
        if (ferry_key_generate(types[i], types[i] == FERRY_KEY_RSA ? 2048 : 0, &keys[i]) !=
            FERRY_OK) {
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < K_COUNT; i++) {
        ferry_key_free(keys[i]);
        keys[i] = NULL;
    }
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- building certificates ---- */

/* What goes into a certificate; zeroed fields take the defaults of
 * spec_default. */
struct spec {
    const char *type_name; /* NULL: the key's type name with the suffix */
    uint64_t serial;
    uint32_t type;
    const char *key_id;
    const char *const *principals;
    size_t n_principals;
    uint64_t valid_after, valid_before;
    const ferry_buf *critical; /* NULL: none */
    const ferry_buf *extensions;
    const char *sigalg;       /* the CA's signature algorithm */
    const ferry_buf *ca_blob; /* NULL: the CA's plain blob */
    const ferry_key *signer;  /* NULL: the CA */
};

static const char *const alice_bob[] = {"alice", "bob"};

static struct spec spec_default(void)
{
    struct spec s = {
        .serial = 0x0102030405060708ull,
        .type = FERRY_CERT_USER,
        .key_id = "user-key-id",
        .principals = alice_bob,
        .n_principals = 2,
        .valid_after = 1000,
        .valid_before = 2000,
    };
    return s;
}

/* Appends a name/data option whose data is one string (force-command,
 * source-address), or empty data when value is NULL (extension flags). */
static void put_option(ferry_buf *b, const char *name, const char *value)
{
    assert_int_equal(ferry_buf_put_cstring(b, name), FERRY_OK);
    if (value == NULL) {
        assert_int_equal(ferry_buf_put_string(b, "", 0), FERRY_OK);
        return;
    }
    ferry_buf *d = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_cstring(d, value), FERRY_OK);
    assert_int_equal(ferry_buf_put_stringb(b, d), FERRY_OK);
    ferry_buf_free(d);
}

/* Builds a certificate for `key` signed by `ca` (PROTOCOL.certkeys,
 * "New public key formats") into a new buffer; *signed_len receives the
 * length of the signed part (may be NULL). */
static ferry_buf *build_cert(const ferry_key *key, const ferry_key *ca, const struct spec *s,
                             size_t *signed_len)
{
    ferry_buf *out = ferry_buf_new(0), *plain = ferry_buf_new(0), *tmp = ferry_buf_new(0);
    char name[64];
    assert_non_null(out);
    if (s->type_name != NULL) {
        snprintf(name, sizeof(name), "%s", s->type_name);
    } else {
        assert_int_equal(ferry_cert_alg(ferry_key_type_name(key), name, sizeof(name)), FERRY_OK);
    }
    assert_int_equal(ferry_buf_put_cstring(out, name), FERRY_OK);
    static const uint8_t nonce[32] = {0x6e, 0x6f, 0x6e, 0x63, 0x65, 1, 2, 3, 4, 5, 6};
    assert_int_equal(ferry_buf_put_string(out, nonce, sizeof(nonce)), FERRY_OK);
    /* the plain blob's fields, behind its type name */
    assert_int_equal(ferry_key_to_blob(key, plain), FERRY_OK);
    ferry_rd r;
    const uint8_t *p;
    size_t n;
    ferry_rd_from_buf(&r, plain);
    assert_int_equal(ferry_rd_string(&r, &p, &n), FERRY_OK);
    assert_int_equal(ferry_buf_put(out, ferry_rd_ptr(&r), ferry_rd_left(&r)), FERRY_OK);
    assert_int_equal(ferry_buf_put_u64(out, s->serial), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(out, s->type), FERRY_OK);
    assert_int_equal(ferry_buf_put_cstring(out, s->key_id), FERRY_OK);
    for (size_t i = 0; i < s->n_principals; i++) {
        assert_int_equal(ferry_buf_put_cstring(tmp, s->principals[i]), FERRY_OK);
    }
    assert_int_equal(ferry_buf_put_stringb(out, tmp), FERRY_OK);
    assert_int_equal(ferry_buf_put_u64(out, s->valid_after), FERRY_OK);
    assert_int_equal(ferry_buf_put_u64(out, s->valid_before), FERRY_OK);
    ferry_buf_reset(tmp);
    assert_int_equal(ferry_buf_put_stringb(out, s->critical ? s->critical : tmp), FERRY_OK);
    assert_int_equal(ferry_buf_put_stringb(out, s->extensions ? s->extensions : tmp), FERRY_OK);
    assert_int_equal(ferry_buf_put_string(out, "", 0), FERRY_OK); /* reserved */
    assert_int_equal(ferry_key_to_blob(ca, tmp), FERRY_OK);
    assert_int_equal(ferry_buf_put_stringb(out, s->ca_blob ? s->ca_blob : tmp), FERRY_OK);
    if (signed_len != NULL) {
        *signed_len = ferry_buf_len(out);
    }
    ferry_buf_reset(tmp);
    assert_int_equal(ferry_key_sign(s->signer ? s->signer : ca, s->sigalg, ferry_buf_data(out),
                                    ferry_buf_len(out), tmp),
                     FERRY_OK);
    assert_int_equal(ferry_buf_put_stringb(out, tmp), FERRY_OK);
    ferry_buf_free(tmp);
    ferry_buf_free(plain);
    return out;
}

/* Options as ssh-keygen -O force-command=... -O source-address=... */
static ferry_buf *user_options(void)
{
    ferry_buf *b = ferry_buf_new(0);
    put_option(b, "force-command", "internal-sftp");
    put_option(b, "source-address", "127.0.0.1/32,::1/128");
    return b;
}

static ferry_buf *user_extensions(void)
{
    ferry_buf *b = ferry_buf_new(0);
    put_option(b, "permit-X11-forwarding", NULL);
    put_option(b, "permit-pty", NULL);
    return b;
}

static int parse_buf(const ferry_buf *b, ferry_cert **out)
{
    return ferry_cert_from_blob(ferry_buf_data(b), ferry_buf_len(b), out);
}

/* from_blob on the built certificate must give `want` and leave *out
 * NULL when refused. */
static void expect_refused(const ferry_buf *b, int want)
{
    ferry_cert *c = NULL;
    int rc = parse_buf(b, &c);
    assert_int_equal(rc, want);
    assert_null(c);
}

/* ---- collecting critical options ---- */

struct seen {
    size_t n;
    char names[4][64];
    char values[4][128];
    int stop_with; /* returned by the callback (0: go on) */
};

static int collect(void *ctx, const char *name, const uint8_t *value, size_t len)
{
    struct seen *s = ctx;
    assert_true(s->n < 4);
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
    /* the data field is one string */
    ferry_rd r;
    const uint8_t *p;
    size_t n;
    ferry_rd_init(&r, value, len);
    assert_int_equal(ferry_rd_string(&r, &p, &n), FERRY_OK);
    assert_int_equal(ferry_rd_end(&r), FERRY_OK);
    assert_true(n < sizeof(s->values[0]));
    memcpy(s->values[s->n], p, n);
    s->values[s->n][n] = '\0';
    s->n++;
    return s->stop_with;
}

/* ---- tests ---- */

/* Every certified key type under every CA type parses back to the fields
 * written, with the certified key and the CA key. */
static void test_build_and_parse(void **state)
{
    (void)state;
    ferry_buf *crit = user_options(), *ext = user_extensions();
    for (size_t k = 0; k < K_COUNT; k++) {
        for (size_t ca = 0; ca < K_COUNT; ca++) {
            struct spec s = spec_default();
            s.critical = crit;
            s.extensions = ext;
            s.sigalg = ca_sigalg[ca];
            s.serial = 100 * k + ca;
            ferry_buf *b = build_cert(keys[k], keys[ca], &s, NULL);
            ferry_cert *c = NULL;
            assert_int_equal(parse_buf(b, &c), FERRY_OK);
            assert_non_null(c);
            char want[64];
            snprintf(want, sizeof(want), "%s-cert-v01@openssh.com", ferry_key_type_name(keys[k]));
            assert_string_equal(c->type_name, want);
            assert_int_equal(c->serial, 100 * k + ca);
            assert_int_equal(c->type, FERRY_CERT_USER);
            assert_string_equal(c->key_id, "user-key-id");
            assert_int_equal(c->n_principals, 2);
            assert_string_equal(c->principals[0], "alice");
            assert_string_equal(c->principals[1], "bob");
            assert_int_equal(c->valid_after, 1000);
            assert_int_equal(c->valid_before, 2000);
            assert_int_equal(ferry_key_type(c->key), ferry_key_type(keys[k]));
            assert_true(ferry_key_equal_public(c->key, keys[k]));
            assert_false(ferry_key_is_private(c->key));
            assert_true(ferry_key_equal_public(c->ca, keys[ca]));
            assert_false(ferry_key_is_private(c->ca));
            /* the blob is kept as given; critical points into it */
            assert_int_equal(c->len, ferry_buf_len(b));
            assert_memory_equal(c->blob, ferry_buf_data(b), c->len);
            assert_int_equal(c->critical_len, ferry_buf_len(crit));
            assert_memory_equal(c->critical, ferry_buf_data(crit), c->critical_len);
            assert_true(c->critical >= c->blob &&
                        c->critical + c->critical_len <= c->blob + c->len);
            ferry_cert_free(c);
            ferry_buf_free(b);
        }
    }
    /* An RSA CA may also sign with rsa-sha2-256. */
    struct spec s = spec_default();
    s.sigalg = "rsa-sha2-256";
    ferry_buf *b = build_cert(keys[K_ED25519], keys[K_RSA], &s, NULL);
    ferry_cert *c = NULL;
    assert_int_equal(parse_buf(b, &c), FERRY_OK);
    assert_int_equal(c->critical_len, 0);
    ferry_cert_free(c);
    ferry_buf_free(b);
    ferry_cert_free(NULL);
    ferry_buf_free(crit);
    ferry_buf_free(ext);
}

/* A flipped bit anywhere in a small certificate is refused; inside the
 * signed text it is the signature that fails. */
static void test_bitflip(void **state)
{
    (void)state;
    struct spec s = spec_default();
    s.sigalg = "ssh-ed25519";
    ferry_buf *crit = user_options();
    s.critical = crit;
    size_t signed_len;
    ferry_buf *b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, &signed_len);
    size_t len = ferry_buf_len(b);
    assert_true(signed_len < len);
    uint8_t *copy = malloc(len);
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit += 7) {
            memcpy(copy, ferry_buf_data(b), len);
            copy[i] ^= (uint8_t)(1u << bit);
            ferry_cert *c = NULL;
            int rc = ferry_cert_from_blob(copy, len, &c);
            if (rc == FERRY_OK) {
                fail_msg("byte %zu bit %u flipped: accepted", i, bit);
            }
            assert_null(c);
        }
    }
    /* Bytes whose change keeps the structure: the signature says no. */
    const uint8_t *d = ferry_buf_data(b);
    const uint8_t *id = memmem(d, len, "user-key-id", 11);
    assert_non_null(id);
    /* three bytes of the key id text, and one of the nonce (behind the
     * 32-byte type name and the nonce's length) */
    size_t off[] = {(size_t)(id - d), (size_t)(id - d) + 5, (size_t)(id - d) + 10, 4 + 32 + 4 + 2};
    for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
        memcpy(copy, d, len);
        copy[off[i]] ^= 0x01;
        ferry_cert *c = NULL;
        assert_int_equal(ferry_cert_from_blob(copy, len, &c), FERRY_E_SIGNATURE_INVALID);
        assert_null(c);
    }
    /* The serial: the 8 bytes after the ed25519 public key string. */
    size_t serial_off = 4 + strlen("ssh-ed25519-cert-v01@openssh.com") + 4 + 32 + 4 + 32;
    assert_int_equal(d[serial_off + 7], 0x08);
    memcpy(copy, d, len);
    copy[serial_off + 7] = 0x09;
    ferry_cert *c = NULL;
    assert_int_equal(ferry_cert_from_blob(copy, len, &c), FERRY_E_SIGNATURE_INVALID);
    free(copy);
    ferry_buf_free(b);
    ferry_buf_free(crit);
}

/* Every truncation, a trailing byte, and an oversized blob are refused. */
static void test_truncation_trailing(void **state)
{
    (void)state;
    for (size_t k = 0; k < K_COUNT; k++) {
        struct spec s = spec_default();
        s.sigalg = ca_sigalg[k];
        ferry_buf *b = build_cert(keys[k], keys[k], &s, NULL);
        size_t len = ferry_buf_len(b);
        for (size_t cut = 0; cut < len; cut++) {
            ferry_cert *c = NULL;
            int rc = ferry_cert_from_blob(ferry_buf_data(b), cut, &c);
            if (rc == FERRY_OK) {
                fail_msg("truncated to %zu of %zu: accepted", cut, len);
            }
            assert_null(c);
        }
        assert_int_equal(ferry_buf_put_u8(b, 0), FERRY_OK);
        expect_refused(b, FERRY_E_TRAILING_DATA);
        ferry_buf_free(b);
    }
    uint8_t *big = calloc(1, FERRY_CERT_MAX_LEN + 1);
    ferry_cert *c = NULL;
    assert_int_equal(ferry_cert_from_blob(big, FERRY_CERT_MAX_LEN + 1, &c), FERRY_E_TOO_LARGE);
    assert_null(c);
    free(big);
}

/* Signatures and key types the spec or the house refuses. */
static void test_refused_signatures_and_types(void **state)
{
    (void)state;
    struct spec s = spec_default();
    /* SHA-1 "ssh-rsa" by an RSA CA. */
    s.sigalg = "ssh-rsa";
    ferry_buf *b = build_cert(keys[K_ED25519], keys[K_RSA], &s, NULL);
    expect_refused(b, FERRY_E_SIGNATURE_INVALID);
    ferry_buf_free(b);
    /* Signed by another key than the one named as signature key. */
    s.sigalg = "ssh-ed25519";
    ferry_key *other = NULL;
    assert_int_equal(ferry_key_generate(FERRY_KEY_ED25519, 0, &other), FERRY_OK);
    s.signer = other;
    b = build_cert(keys[K_P256], keys[K_ED25519], &s, NULL);
    expect_refused(b, FERRY_E_SIGNATURE_INVALID);
    ferry_buf_free(b);
    s.signer = NULL;
    ferry_key_free(other);
    /* A certificate as the signature key ("chained"). */
    ferry_buf *inner = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
    ferry_cert *c = NULL;
    assert_int_equal(parse_buf(inner, &c), FERRY_OK);
    ferry_cert_free(c);
    s.ca_blob = inner;
    b = build_cert(keys[K_P256], keys[K_ED25519], &s, NULL);
    c = NULL;
    assert_int_not_equal(parse_buf(b, &c), FERRY_OK);
    assert_null(c);
    ferry_buf_free(b);
    ferry_buf_free(inner);
    s.ca_blob = NULL;
    /* Signature algorithm names are no key types at rest. */
    static const char *const bad_names[] = {
        "rsa-sha2-256-cert-v01@openssh.com",
        "rsa-sha2-512-cert-v01@openssh.com",
        "ssh-dss-cert-v01@openssh.com",
        "ssh-rsa", /* no suffix at all */
        "-cert-v01@openssh.com",
    };
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        s.type_name = bad_names[i];
        b = build_cert(keys[K_RSA], keys[K_ED25519], &s, NULL);
        expect_refused(b, FERRY_E_KEY_TYPE);
        ferry_buf_free(b);
    }
    /* The type name of another key type than the fields hold. */
    s.type_name = "ssh-ed25519-cert-v01@openssh.com";
    b = build_cert(keys[K_P256], keys[K_ED25519], &s, NULL);
    assert_int_not_equal(parse_buf(b, &c), FERRY_OK);
    ferry_buf_free(b);
    s.type_name = "ecdsa-sha2-nistp384-cert-v01@openssh.com";
    b = build_cert(keys[K_P256], keys[K_ED25519], &s, NULL);
    assert_int_not_equal(parse_buf(b, &c), FERRY_OK);
    ferry_buf_free(b);
    s.type_name = NULL;
    /* The control: the same spec with the right name is accepted. */
    b = build_cert(keys[K_P256], keys[K_ED25519], &s, NULL);
    c = NULL;
    assert_int_equal(parse_buf(b, &c), FERRY_OK);
    ferry_cert_free(c);
    ferry_buf_free(b);
}

/* Certificate type, options order and principal count. */
static void test_refused_fields(void **state)
{
    (void)state;
    struct spec s = spec_default();
    s.sigalg = "ssh-ed25519";
    static const uint32_t bad_types[] = {0, 3, 0x80000001u};
    for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
        s.type = bad_types[i];
        ferry_buf *b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
        expect_refused(b, FERRY_E_FORMAT);
        ferry_buf_free(b);
    }
    s.type = FERRY_CERT_HOST;
    ferry_buf *b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
    ferry_cert *c = NULL;
    assert_int_equal(parse_buf(b, &c), FERRY_OK);
    assert_int_equal(c->type, FERRY_CERT_HOST);
    ferry_cert_free(c);
    ferry_buf_free(b);
    s.type = FERRY_CERT_USER;

    /* Critical options and extensions: out of order, duplicated (an empty
     * name twice too). */
    ferry_buf *opts[4];
    for (size_t i = 0; i < 4; i++) {
        opts[i] = ferry_buf_new(0);
    }
    put_option(opts[0], "source-address", "10.0.0.0/8");
    put_option(opts[0], "force-command", "true");
    put_option(opts[1], "force-command", "true");
    put_option(opts[1], "force-command", "false");
    put_option(opts[2], "force-command", "true");
    put_option(opts[2], "source-address", "10.0.0.0/8");
    put_option(opts[2], "force-command", "false");
    put_option(opts[3], "", "x");
    put_option(opts[3], "", "y");
    for (size_t i = 0; i < 4; i++) {
        s.critical = opts[i];
        b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
        expect_refused(b, FERRY_E_FORMAT);
        ferry_buf_free(b);
        s.critical = NULL;
        s.extensions = opts[i];
        b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
        expect_refused(b, FERRY_E_FORMAT);
        ferry_buf_free(b);
        s.extensions = NULL;
    }
    /* Options that end inside a pair. */
    ferry_buf *half = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_cstring(half, "force-command"), FERRY_OK);
    s.critical = half;
    b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
    expect_refused(b, FERRY_E_FORMAT);
    ferry_buf_free(b);
    s.critical = NULL;
    ferry_buf_free(half);
    for (size_t i = 0; i < 4; i++) {
        ferry_buf_free(opts[i]);
    }

    /* FERRY_CERT_MAX_PRINCIPALS principals pass, one more does not. */
    const char **names = calloc(FERRY_CERT_MAX_PRINCIPALS + 1, sizeof(*names));
    char(*store)[16] = calloc(FERRY_CERT_MAX_PRINCIPALS + 1, sizeof(*store));
    for (size_t i = 0; i <= FERRY_CERT_MAX_PRINCIPALS; i++) {
        snprintf(store[i], sizeof(store[i]), "u%zu", i);
        names[i] = store[i];
    }
    s.principals = names;
    s.n_principals = FERRY_CERT_MAX_PRINCIPALS;
    b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
    c = NULL;
    assert_int_equal(parse_buf(b, &c), FERRY_OK);
    assert_int_equal(c->n_principals, FERRY_CERT_MAX_PRINCIPALS);
    assert_string_equal(c->principals[FERRY_CERT_MAX_PRINCIPALS - 1], "u255");
    ferry_cert_free(c);
    ferry_buf_free(b);
    s.n_principals = FERRY_CERT_MAX_PRINCIPALS + 1;
    b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
    c = NULL;
    assert_int_not_equal(parse_buf(b, &c), FERRY_OK);
    assert_null(c);
    ferry_buf_free(b);
    /* A principal holding a NUL byte. */
    static const char *const nul_name[] = {"alice"};
    s.principals = nul_name;
    s.n_principals = 1;
    b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
    uint8_t *d = ferry_buf_mdata(b);
    uint8_t *a = memmem(d, ferry_buf_len(b), "alice", 5);
    assert_non_null(a);
    a[2] = '\0'; /* breaks the signature too, but the parse refuses first */
    expect_refused(b, FERRY_E_FORMAT);
    ferry_buf_free(b);
    free(store);
    free(names);
}

static int check(const ferry_cert *c, uint32_t type, const char *principal, uint64_t now, char *why,
                 size_t whysz)
{
    why[0] = '\0';
    return ferry_cert_check(c, type, principal, now, why, whysz);
}

static ferry_cert *make(uint32_t type, const char *const *principals, size_t n)
{
    struct spec s = spec_default();
    s.sigalg = "ssh-ed25519";
    s.type = type;
    s.principals = principals;
    s.n_principals = n;
    ferry_buf *b = build_cert(keys[K_P256], keys[K_ED25519], &s, NULL);
    ferry_cert *c = NULL;
    assert_int_equal(parse_buf(b, &c), FERRY_OK);
    ferry_buf_free(b);
    return c;
}

static void test_check(void **state)
{
    (void)state;
    char why[128];
    ferry_cert *c = make(FERRY_CERT_USER, alice_bob, 2);
    assert_int_equal(check(c, FERRY_CERT_USER, "alice", 1000, why, sizeof(why)), FERRY_OK);
    assert_int_equal(check(c, FERRY_CERT_USER, "bob", 1999, why, sizeof(why)), FERRY_OK);
    assert_int_equal(check(c, FERRY_CERT_USER, NULL, 1500, why, sizeof(why)), FERRY_OK);
    assert_int_equal(ferry_cert_check(c, FERRY_CERT_USER, "alice", 1500, NULL, 0), FERRY_OK);
    /* each refusal comes with a reason */
    assert_int_equal(check(c, FERRY_CERT_USER, "carol", 1500, why, sizeof(why)),
                     FERRY_E_AUTH_DENIED);
    assert_string_not_equal(why, "");
    assert_int_equal(check(c, FERRY_CERT_USER, "alic", 1500, why, sizeof(why)),
                     FERRY_E_AUTH_DENIED);
    assert_int_equal(check(c, FERRY_CERT_USER, "", 1500, why, sizeof(why)), FERRY_E_AUTH_DENIED);
    assert_int_equal(check(c, FERRY_CERT_USER, "alice", 2000, why, sizeof(why)),
                     FERRY_E_AUTH_DENIED);
    assert_non_null(strstr(why, "expired"));
    assert_int_equal(check(c, FERRY_CERT_USER, "alice", UINT64_MAX, why, sizeof(why)),
                     FERRY_E_AUTH_DENIED);
    assert_string_not_equal(why, "");
    assert_int_equal(check(c, FERRY_CERT_USER, "alice", 999, why, sizeof(why)),
                     FERRY_E_AUTH_DENIED);
    assert_non_null(strstr(why, "not yet valid"));
    assert_int_equal(check(c, FERRY_CERT_USER, "alice", 0, why, sizeof(why)), FERRY_E_AUTH_DENIED);
    assert_int_equal(check(c, FERRY_CERT_HOST, "alice", 1500, why, sizeof(why)),
                     FERRY_E_AUTH_DENIED);
    assert_non_null(strstr(why, "host"));
    /* a short reason buffer is filled and terminated; NULL is allowed */
    char tiny[6];
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(ferry_cert_check(c, FERRY_CERT_USER, "carol", 1500, tiny, sizeof(tiny)),
                     FERRY_E_AUTH_DENIED);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_int_equal(ferry_cert_check(c, FERRY_CERT_USER, "carol", 1500, NULL, 0),
                     FERRY_E_AUTH_DENIED);
    ferry_cert_free(c);

    /* A user certificate without principals is refused for anyone. */
    c = make(FERRY_CERT_USER, NULL, 0);
    assert_int_equal(c->n_principals, 0);
    assert_int_equal(check(c, FERRY_CERT_USER, "alice", 1500, why, sizeof(why)),
                     FERRY_E_AUTH_DENIED);
    assert_string_not_equal(why, "");
    assert_int_equal(check(c, FERRY_CERT_USER, NULL, 1500, why, sizeof(why)), FERRY_E_AUTH_DENIED);
    assert_string_not_equal(why, "");
    ferry_cert_free(c);

    /* A host certificate without principals is good for any host. */
    c = make(FERRY_CERT_HOST, NULL, 0);
    assert_int_equal(check(c, FERRY_CERT_HOST, NULL, 1500, why, sizeof(why)), FERRY_OK);
    assert_int_equal(check(c, FERRY_CERT_HOST, "any.example", 1500, why, sizeof(why)), FERRY_OK);
    assert_int_equal(check(c, FERRY_CERT_USER, NULL, 1500, why, sizeof(why)), FERRY_E_AUTH_DENIED);
    assert_non_null(strstr(why, "user"));
    assert_int_equal(check(c, FERRY_CERT_HOST, NULL, 2000, why, sizeof(why)), FERRY_E_AUTH_DENIED);
    ferry_cert_free(c);

    /* A host certificate with principals. */
    static const char *const hosts[] = {"h1.example", "h2.example"};
    c = make(FERRY_CERT_HOST, hosts, 2);
    assert_int_equal(check(c, FERRY_CERT_HOST, "h2.example", 1500, why, sizeof(why)), FERRY_OK);
    assert_int_equal(check(c, FERRY_CERT_HOST, "h3.example", 1500, why, sizeof(why)),
                     FERRY_E_AUTH_DENIED);
    assert_string_not_equal(why, "");
    ferry_cert_free(c);
}

static void test_critical_each(void **state)
{
    (void)state;
    ferry_buf *crit = user_options();
    struct spec s = spec_default();
    s.sigalg = "ssh-ed25519";
    s.critical = crit;
    ferry_buf *b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
    ferry_cert *c = NULL;
    assert_int_equal(parse_buf(b, &c), FERRY_OK);
    struct seen seen = {0};
    assert_int_equal(ferry_cert_critical_each(c, collect, &seen), FERRY_OK);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.names[0], "force-command");
    assert_string_equal(seen.values[0], "internal-sftp");
    assert_string_equal(seen.names[1], "source-address");
    assert_string_equal(seen.values[1], "127.0.0.1/32,::1/128");
    /* a non-zero return stops the walk and comes back */
    memset(&seen, 0, sizeof(seen));
    seen.stop_with = 7;
    assert_int_equal(ferry_cert_critical_each(c, collect, &seen), 7);
    assert_int_equal(seen.n, 1);
    memset(&seen, 0, sizeof(seen));
    seen.stop_with = FERRY_E_PERMISSION;
    assert_int_equal(ferry_cert_critical_each(c, collect, &seen), FERRY_E_PERMISSION);
    assert_int_equal(seen.n, 1);
    ferry_cert_free(c);
    ferry_buf_free(b);
    /* none: the callback is not called */
    s.critical = NULL;
    b = build_cert(keys[K_ED25519], keys[K_ED25519], &s, NULL);
    assert_int_equal(parse_buf(b, &c), FERRY_OK);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(ferry_cert_critical_each(c, collect, &seen), FERRY_OK);
    assert_int_equal(seen.n, 0);
    ferry_cert_free(c);
    ferry_buf_free(b);
    ferry_buf_free(crit);
}

static void test_names(void **state)
{
    (void)state;
    static const char sfx[] = "-cert-v01@openssh.com";
    const char *n = "ssh-ed25519-cert-v01@openssh.com";
    assert_int_equal(ferry_cert_suffix(n, strlen(n)), strlen(sfx));
    assert_int_equal(ferry_cert_suffix("ssh-ed25519", 11), 0);
    assert_int_equal(ferry_cert_suffix(sfx, strlen(sfx)), 0);
    assert_int_equal(ferry_cert_suffix("", 0), 0);
    /* only the n bytes given count */
    assert_int_equal(ferry_cert_suffix(n, strlen(n) - 1), 0);
    assert_int_equal(ferry_cert_suffix("ssh-ed25519-cert-v01@openssh.comX", strlen(n)),
                     strlen(sfx));

    char out[64];
    assert_int_equal(ferry_cert_plain_alg("rsa-sha2-512-cert-v01@openssh.com", out, sizeof(out)),
                     FERRY_OK);
    assert_string_equal(out, "rsa-sha2-512");
    assert_int_equal(
        ferry_cert_plain_alg("ecdsa-sha2-nistp384-cert-v01@openssh.com", out, sizeof(out)),
        FERRY_OK);
    assert_string_equal(out, "ecdsa-sha2-nistp384");
    assert_int_equal(ferry_cert_plain_alg("ssh-ed25519", out, sizeof(out)), FERRY_E_FORMAT);
    assert_int_equal(ferry_cert_plain_alg(sfx, out, sizeof(out)), FERRY_E_FORMAT);
    assert_int_equal(ferry_cert_plain_alg("ssh-ed25519-cert-v01@openssh.co", out, sizeof(out)),
                     FERRY_E_FORMAT);
    /* "ssh-ed25519" needs 12 bytes */
    assert_int_equal(ferry_cert_plain_alg(n, out, 12), FERRY_OK);
    assert_string_equal(out, "ssh-ed25519");
    memset(out, 'x', sizeof(out));
    assert_int_equal(ferry_cert_plain_alg(n, out, 11), FERRY_E_FORMAT);
    assert_int_equal(out[0], 'x');
    assert_int_equal(ferry_cert_plain_alg(n, out, 0), FERRY_E_FORMAT);

    assert_int_equal(ferry_cert_alg("rsa-sha2-512", out, sizeof(out)), FERRY_OK);
    assert_string_equal(out, "rsa-sha2-512-cert-v01@openssh.com");
    assert_int_equal(ferry_cert_alg("ssh-ed25519", out, sizeof(out)), FERRY_OK);
    assert_string_equal(out, n);
    assert_int_equal(ferry_cert_alg("ssh-ed25519", out, strlen(n) + 1), FERRY_OK);
    assert_int_not_equal(ferry_cert_alg("ssh-ed25519", out, strlen(n)), FERRY_OK);
    assert_int_not_equal(ferry_cert_alg("ssh-ed25519", out, 8), FERRY_OK);
}

/* "type base64 comment" line of a built certificate. */
static char *cert_line(const ferry_buf *b, const char *type, const char *comment)
{
    char *b64 = NULL;
    assert_int_equal(ferry_base64_encode(ferry_buf_data(b), ferry_buf_len(b), &b64), FERRY_OK);
    size_t n = strlen(type) + strlen(b64) + strlen(comment) + 8;
    char *line = malloc(n);
    snprintf(line, n, "%s %s%s%s", type, b64, comment[0] ? " " : "", comment);
    free(b64);
    return line;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_parse_line_and_load(void **state)
{
    (void)state;
    struct spec s = spec_default();
    s.sigalg = "rsa-sha2-512";
    ferry_buf *b = build_cert(keys[K_ED25519], keys[K_RSA], &s, NULL);
    const char *type = "ssh-ed25519-cert-v01@openssh.com";
    char *line = cert_line(b, type, "user@host");
    ferry_cert *c = NULL;
    assert_int_equal(ferry_cert_parse_line(line, &c), FERRY_OK);
    assert_string_equal(c->type_name, type);
    assert_int_equal(c->len, ferry_buf_len(b));
    assert_memory_equal(c->blob, ferry_buf_data(b), c->len);
    assert_true(ferry_key_equal_public(c->ca, keys[K_RSA]));
    ferry_cert_free(c);
    free(line);
    /* without a comment, with surrounding blanks and a newline */
    line = cert_line(b, type, "");
    char padded[8192];
    snprintf(padded, sizeof(padded), " \t%s \r\n", line);
    c = NULL;
    assert_int_equal(ferry_cert_parse_line(padded, &c), FERRY_OK);
    ferry_cert_free(c);
    free(line);
    /* the type word must be the blob's */
    static const char *const wrong[] = {"ecdsa-sha2-nistp256-cert-v01@openssh.com",
                                        "ssh-ed25519-cert-v01@openssh.comX"};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        line = cert_line(b, wrong[i], "c");
        c = NULL;
        assert_int_equal(ferry_cert_parse_line(line, &c), FERRY_E_KEY_TYPE);
        assert_null(c);
        free(line);
    }
    /* a plain key type word, even over a certificate blob */
    line = cert_line(b, "ssh-ed25519", "c");
    assert_int_equal(ferry_cert_parse_line(line, &c), FERRY_E_KEY_TYPE);
    free(line);
    assert_int_equal(ferry_cert_parse_line("", &c), FERRY_E_FORMAT);
    assert_int_equal(ferry_cert_parse_line("  \n", &c), FERRY_E_FORMAT);
    assert_int_not_equal(ferry_cert_parse_line(type, &c), FERRY_OK);
    char bad[256];
    snprintf(bad, sizeof(bad), "%s AAAA*AAA c", type);
    assert_int_not_equal(ferry_cert_parse_line(bad, &c), FERRY_OK);
    /* a plain key's line under a certificate type word */
    ferry_buf *plain = ferry_buf_new(0);
    assert_int_equal(ferry_key_to_blob(keys[K_ED25519], plain), FERRY_OK);
    line = cert_line(plain, type, "c");
    assert_int_not_equal(ferry_cert_parse_line(line, &c), FERRY_OK);
    free(line);
    ferry_buf_free(plain);

    /* load: the first line that is no comment */
    char path[512], text[8192];
    snprintf(path, sizeof(path), "%s/built-cert.pub", tmpdir);
    line = cert_line(b, type, "user@host");
    snprintf(text, sizeof(text), "# a comment\n\n   \n%s\n", line);
    write_text(path, text);
    c = NULL;
    assert_int_equal(ferry_cert_load(path, &c), FERRY_OK);
    assert_int_equal(c->serial, s.serial);
    ferry_cert_free(c);
    free(line);
    write_text(path, "# nothing but a comment\n");
    assert_int_equal(ferry_cert_load(path, &c), FERRY_E_FORMAT);
    snprintf(path, sizeof(path), "%s/missing-cert.pub", tmpdir);
    assert_int_equal(ferry_cert_load(path, &c), FERRY_E_NOT_FOUND);
    ferry_buf_free(b);
}

struct kg {
    const char *name, *args;
};

static const struct kg kgs[] = {
    {"ed", "-t ed25519"},
    {"p256", "-t ecdsa -b 256"},
    {"rsa", "-t rsa -b 2048"},
};

static void keygen(const char *name, const char *args)
{
    char *o = th_run("rm -f %s/%s %s/%s.pub; ssh-keygen -q %s -N '' -C test@%s -f %s/%s </dev/null",
                     tmpdir, name, tmpdir, name, args, name, tmpdir, name);
    assert_non_null(o);
    free(o);
}

static ferry_key *load_pub(const char *name)
{
    ferry_key *k = th_load_pub(tmpdir, name);
    assert_non_null(k);
    return k;
}

/* ssh-keygen -s certificates, each key type under each CA type. */
static void test_ssh_keygen_user_certs(void **state)
{
    (void)state;
    char ca[32], user[32], path[512], why[128];
    for (size_t i = 0; i < sizeof(kgs) / sizeof(kgs[0]); i++) {
        snprintf(ca, sizeof(ca), "ca_%s", kgs[i].name);
        keygen(ca, kgs[i].args);
        snprintf(user, sizeof(user), "user_%s", kgs[i].name);
        keygen(user, kgs[i].args);
    }
    for (size_t i = 0; i < sizeof(kgs) / sizeof(kgs[0]); i++) {
        snprintf(ca, sizeof(ca), "ca_%s", kgs[i].name);
        ferry_key *cakey = load_pub(ca);
        for (size_t j = 0; j < sizeof(kgs) / sizeof(kgs[0]); j++) {
            snprintf(user, sizeof(user), "user_%s", kgs[j].name);
            char *o =
                th_run("cd %s && rm -f %s-cert.pub && ssh-keygen -q -s %s -I myid -n alice,bob "
                       "-z 7 -V +1h -O source-address=127.0.0.1/32 "
                       "-O force-command=internal-sftp %s.pub </dev/null 2>&1",
                       tmpdir, user, ca, user);
            assert_non_null(o);
            free(o);
            ferry_key *ukey = load_pub(user);
            snprintf(path, sizeof(path), "%s/%s-cert.pub", tmpdir, user);
            ferry_cert *c = NULL;
            assert_int_equal(ferry_cert_load(path, &c), FERRY_OK);
            char want[64];
            snprintf(want, sizeof(want), "%s-cert-v01@openssh.com", ferry_key_type_name(ukey));
            assert_string_equal(c->type_name, want);
            assert_int_equal(c->type, FERRY_CERT_USER);
            assert_string_equal(c->key_id, "myid");
            assert_int_equal(c->serial, 7);
            assert_int_equal(c->n_principals, 2);
            assert_string_equal(c->principals[0], "alice");
            assert_string_equal(c->principals[1], "bob");
            assert_true(ferry_key_equal_public(c->key, ukey));
            assert_true(ferry_key_equal_public(c->ca, cakey));
            /* the CA's signature algorithm, as ssh-keygen -L names it */
            char *l = th_run(
                "ssh-keygen -L -f %s | sed -n 's/.*Signing CA: .*(using \\(.*\\))/\\1/p'", path);
            assert_non_null(l);
            assert_string_equal(c->sig_alg, l);
            free(l);
            uint64_t now = (uint64_t)time(NULL);
            assert_true(c->valid_after <= now);
            assert_true(c->valid_before > now);
            assert_true(c->valid_before <= now + 3600 + 60);
            struct seen seen = {0};
            assert_int_equal(ferry_cert_critical_each(c, collect, &seen), FERRY_OK);
            assert_int_equal(seen.n, 2);
            assert_string_equal(seen.names[0], "force-command");
            assert_string_equal(seen.values[0], "internal-sftp");
            assert_string_equal(seen.names[1], "source-address");
            assert_string_equal(seen.values[1], "127.0.0.1/32");
            assert_int_equal(check(c, FERRY_CERT_USER, "alice", now, why, sizeof(why)), FERRY_OK);
            assert_int_equal(check(c, FERRY_CERT_USER, "bob", now, why, sizeof(why)), FERRY_OK);
            assert_int_equal(check(c, FERRY_CERT_USER, "mallory", now, why, sizeof(why)),
                             FERRY_E_AUTH_DENIED);
            assert_int_equal(check(c, FERRY_CERT_HOST, "alice", now, why, sizeof(why)),
                             FERRY_E_AUTH_DENIED);
            assert_int_equal(check(c, FERRY_CERT_USER, "alice", now + 7200, why, sizeof(why)),
                             FERRY_E_AUTH_DENIED);
            ferry_cert_free(c);
            ferry_key_free(ukey);
        }
        ferry_key_free(cakey);
    }
}

static void test_ssh_keygen_host_certs(void **state)
{
    (void)state;
    char path[512], why[128];
    keygen("hca", "-t ed25519");
    keygen("host", "-t ecdsa -b 256");
    char *o = th_run("cd %s && ssh-keygen -q -s hca -h -I hostid -n h.example,10.0.0.1 host.pub "
                     "</dev/null 2>&1",
                     tmpdir);
    assert_non_null(o);
    free(o);
    snprintf(path, sizeof(path), "%s/host-cert.pub", tmpdir);
    ferry_cert *c = NULL;
    assert_int_equal(ferry_cert_load(path, &c), FERRY_OK);
    assert_int_equal(c->type, FERRY_CERT_HOST);
    assert_string_equal(c->key_id, "hostid");
    assert_int_equal(c->n_principals, 2);
    assert_string_equal(c->principals[1], "10.0.0.1");
    assert_int_equal(c->critical_len, 0);
    uint64_t now = (uint64_t)time(NULL);
    assert_int_equal(check(c, FERRY_CERT_HOST, "h.example", now, why, sizeof(why)), FERRY_OK);
    assert_int_equal(check(c, FERRY_CERT_HOST, "other.example", now, why, sizeof(why)),
                     FERRY_E_AUTH_DENIED);
    assert_int_equal(check(c, FERRY_CERT_USER, "h.example", now, why, sizeof(why)),
                     FERRY_E_AUTH_DENIED);
    ferry_cert_free(c);
    /* no -n: any host */
    o = th_run("cd %s && rm -f host-cert.pub && ssh-keygen -q -s hca -h -I anyhost host.pub "
               "</dev/null 2>&1",
               tmpdir);
    assert_non_null(o);
    free(o);
    c = NULL;
    assert_int_equal(ferry_cert_load(path, &c), FERRY_OK);
    assert_int_equal(c->type, FERRY_CERT_HOST);
    assert_int_equal(c->n_principals, 0);
    assert_int_equal(check(c, FERRY_CERT_HOST, NULL, now, why, sizeof(why)), FERRY_OK);
    assert_int_equal(check(c, FERRY_CERT_HOST, "h.example", now, why, sizeof(why)), FERRY_OK);
    ferry_cert_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_build_and_parse),
        cmocka_unit_test(test_bitflip),
        cmocka_unit_test(test_truncation_trailing),
        cmocka_unit_test(test_refused_signatures_and_types),
        cmocka_unit_test(test_refused_fields),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_critical_each),
        cmocka_unit_test(test_parse_line_and_load),
        cmocka_unit_test(test_ssh_keygen_user_certs),
        cmocka_unit_test(test_ssh_keygen_host_certs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
