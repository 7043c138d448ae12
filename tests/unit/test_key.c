/* test_key.c: key blobs, signatures, fingerprints, public lines and
 * private key files, cross-checked against ssh-keygen. */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "crypto/key.h"
#include "helpers/shell.h"
#include "crypto/key_int.h"
#include "util/buf.h"
#include "util/err.h"

static char tmpdir[64];

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        buf[--n] = '\0';
    }
    return buf;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-test-key-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ssh-keygen -t type [-b bits] [-m fmt] [-N pass] -f tmpdir/name. */
static void keygen(const char *name, const char *args)
{
    const char *nopass = strstr(args, "-N ") ? "" : "-N ''";
    char *o = th_run("rm -f %s/%s %s/%s.pub; ssh-keygen -q %s %s -C test@%s -f %s/%s </dev/null",
                  tmpdir, name, tmpdir, name, args, nopass, name, tmpdir, name);
    assert_non_null(o);
    free(o);
}

/* The "SHA256:..." field of ssh-keygen -l -f path. */
static char *keygen_fp(const char *path)
{
    char *o = th_run("ssh-keygen -l -f %s | awk '{print $2}'", path);
    assert_non_null(o);
    return o;
}

static void sign_verify_roundtrip(const ferry_key *k, const char *sigalg)
{
    const uint8_t msg[] = "the quick brown fox";
    ferry_buf *sig = ferry_buf_new(0);
    assert_int_equal(ferry_key_sign(k, sigalg, msg, sizeof(msg), sig), FERRY_OK);
    const uint8_t *s = ferry_buf_data(sig);
    size_t sl = ferry_buf_len(sig);
    assert_int_equal(ferry_key_verify(k, sigalg, s, sl, msg, sizeof(msg)), FERRY_OK);
    /* Other data. */
    assert_int_equal(ferry_key_verify(k, sigalg, s, sl, msg, sizeof(msg) - 1),
                     FERRY_E_SIGNATURE_INVALID);
    /* Flip each of a few bytes in the signature itself (its tail). */
    uint8_t *c = malloc(sl);
    for (size_t i = 1; i <= 8; i++) {
        memcpy(c, s, sl);
        c[sl - i * 3] ^= 0x01;
        int r = ferry_key_verify(k, sigalg, c, sl, msg, sizeof(msg));
        assert_true(r == FERRY_E_SIGNATURE_INVALID || r == FERRY_E_FORMAT);
    }
    /* Truncated and extended blobs. */
    assert_int_equal(ferry_key_verify(k, sigalg, s, sl - 1, msg, sizeof(msg)), FERRY_E_FORMAT);
    ferry_buf *ext = ferry_buf_new(0);
    ferry_buf_put(ext, s, sl);
    ferry_buf_put_u8(ext, 0);
    assert_int_equal(
        ferry_key_verify(k, sigalg, ferry_buf_data(ext), ferry_buf_len(ext), msg, sizeof(msg)),
        FERRY_E_FORMAT);
    /* Demanding another algorithm. */
    const char *other = strcmp(sigalg, "ssh-ed25519") == 0 ? "rsa-sha2-512" : "ssh-ed25519";
    assert_int_not_equal(ferry_key_verify(k, other, s, sl, msg, sizeof(msg)), FERRY_OK);
    ferry_buf_free(ext);
    free(c);
    ferry_buf_free(sig);
}

/* Blob round trip and truncation/trailing-byte refusal. */
static void blob_checks(const ferry_key *k)
{
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ferry_key_to_blob(k, b), FERRY_OK);
    ferry_key *k2 = NULL;
    assert_int_equal(ferry_key_from_blob(ferry_buf_data(b), ferry_buf_len(b), &k2), FERRY_OK);
    assert_true(ferry_key_equal_public(k, k2));
    assert_false(ferry_key_is_private(k2));
    assert_int_equal(ferry_key_type(k2), ferry_key_type(k));
    ferry_key_free(k2);
    for (size_t cut = 1; cut < ferry_buf_len(b); cut += 7) {
        k2 = NULL;
        assert_int_not_equal(ferry_key_from_blob(ferry_buf_data(b), cut, &k2), FERRY_OK);
        assert_null(k2);
    }
    ferry_buf_put_u8(b, 0);
    assert_int_equal(ferry_key_from_blob(ferry_buf_data(b), ferry_buf_len(b), &k2),
                     FERRY_E_TRAILING_DATA);
    ferry_buf_free(b);
}

struct kt {
    const char *name, *args, *sigalg;
    enum ferry_key_type type;
    unsigned bits;
};

static const struct kt kts[] = {
    {"ed", "-t ed25519", "ssh-ed25519", FERRY_KEY_ED25519, 255},
    {"p256", "-t ecdsa -b 256", "ecdsa-sha2-nistp256", FERRY_KEY_ECDSA_P256, 256},
    {"p384", "-t ecdsa -b 384", "ecdsa-sha2-nistp384", FERRY_KEY_ECDSA_P384, 384},
    {"p521", "-t ecdsa -b 521", "ecdsa-sha2-nistp521", FERRY_KEY_ECDSA_P521, 521},
    {"rsa", "-t rsa -b 2048", "rsa-sha2-512", FERRY_KEY_RSA, 2048},
};

/* ssh-keygen's .pub parses, has ssh-keygen's fingerprint, formats back. */
static void test_pub_from_ssh_keygen(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(kts) / sizeof(kts[0]); i++) {
        keygen(kts[i].name, kts[i].args);
        char path[512], fp[128];
        snprintf(path, sizeof(path), "%s/%s.pub", tmpdir, kts[i].name);
        char *line = read_text(path);
        assert_non_null(line);
        ferry_key *k = NULL;
        char *comment = NULL;
        assert_int_equal(ferry_key_parse_public_line(line, &k, &comment), FERRY_OK);
        assert_int_equal(ferry_key_type(k), kts[i].type);
        assert_int_equal(ferry_key_bits(k), kts[i].bits);
        char want_comment[64];
        snprintf(want_comment, sizeof(want_comment), "test@%s", kts[i].name);
        assert_string_equal(comment, want_comment);
        assert_int_equal(ferry_key_fingerprint(k, fp, sizeof(fp)), FERRY_OK);
        char *want = keygen_fp(path);
        assert_string_equal(fp, want);
        char *again = NULL;
        assert_int_equal(ferry_key_format_public_line(k, comment, &again), FERRY_OK);
        assert_string_equal(again, line);
        blob_checks(k);
        free(again);
        free(want);
        free(comment);
        free(line);
        ferry_key_free(k);
    }
}

static void test_generate_sign_verify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(kts) / sizeof(kts[0]); i++) {
        ferry_key *k = NULL;
        assert_int_equal(ferry_key_generate(kts[i].type, 0, &k), FERRY_OK);
        assert_true(ferry_key_is_private(k));
        assert_true(ferry_key_sigalg_ok(k, kts[i].sigalg));
        sign_verify_roundtrip(k, kts[i].sigalg);
        blob_checks(k);
        /* A public copy verifies but cannot sign. */
        ferry_key *pub = NULL;
        assert_int_equal(ferry_key_public_copy(k, &pub), FERRY_OK);
        assert_false(ferry_key_is_private(pub));
        ferry_buf *sig = ferry_buf_new(0);
        assert_int_not_equal(ferry_key_sign(pub, kts[i].sigalg, (const uint8_t *)"x", 1, sig),
                             FERRY_OK);
        assert_int_equal(ferry_key_sign(k, kts[i].sigalg, (const uint8_t *)"x", 1, sig), FERRY_OK);
        assert_int_equal(ferry_key_verify(pub, kts[i].sigalg, ferry_buf_data(sig),
                                          ferry_buf_len(sig), (const uint8_t *)"x", 1),
                         FERRY_OK);
        /* Another key of the same type does not verify it. */
        ferry_key *other = NULL;
        assert_int_equal(ferry_key_generate(kts[i].type, 0, &other), FERRY_OK);
        assert_false(ferry_key_equal_public(k, other));
        assert_int_equal(ferry_key_verify(other, kts[i].sigalg, ferry_buf_data(sig),
                                          ferry_buf_len(sig), (const uint8_t *)"x", 1),
                         FERRY_E_SIGNATURE_INVALID);
        ferry_key_free(other);
        /* References: the key lives until the last one is dropped. */
        assert_ptr_equal(ferry_key_ref(k), k);
        ferry_key_free(k);
        assert_true(ferry_key_is_private(k));
        ferry_buf_free(sig);
        ferry_key_free(pub);
        ferry_key_free(k);
    }
}

static void test_rsa_sigalgs(void **state)
{
    (void)state;
    ferry_key *k = NULL;
    assert_int_equal(ferry_key_generate(FERRY_KEY_RSA, 2048, &k), FERRY_OK);
    assert_int_equal(ferry_key_bits(k), 2048);
    sign_verify_roundtrip(k, "rsa-sha2-256");
    sign_verify_roundtrip(k, "ssh-rsa");
    const uint8_t msg[] = "data";
    ferry_buf *sig = ferry_buf_new(0);
    assert_int_equal(ferry_key_sign(k, "rsa-sha2-256", msg, sizeof(msg), sig), FERRY_OK);
    /* An rsa-sha2-256 signature when rsa-sha2-512 is demanded. */
    assert_int_equal(ferry_key_verify(k, "rsa-sha2-512", ferry_buf_data(sig), ferry_buf_len(sig),
                                      msg, sizeof(msg)),
                     FERRY_E_SIGNATURE_INVALID);
    assert_int_equal(
        ferry_key_verify(k, NULL, ferry_buf_data(sig), ferry_buf_len(sig), msg, sizeof(msg)),
        FERRY_OK);
    /* SHA-1 only when named. */
    ferry_buf_reset(sig);
    assert_int_equal(ferry_key_sign(k, "ssh-rsa", msg, sizeof(msg), sig), FERRY_OK);
    assert_int_equal(
        ferry_key_verify(k, NULL, ferry_buf_data(sig), ferry_buf_len(sig), msg, sizeof(msg)),
        FERRY_E_SIGNATURE_INVALID);
    /* Key type mismatches. */
    assert_int_equal(ferry_key_sign(k, "ssh-ed25519", msg, sizeof(msg), sig), FERRY_E_KEY_TYPE);
    assert_false(ferry_key_sigalg_ok(k, "ecdsa-sha2-nistp256"));
    assert_true(ferry_key_sigalg_ok(k, "rsa-sha2-256"));
    ferry_key *weak = NULL;
    assert_int_equal(ferry_key_generate(FERRY_KEY_RSA, 1024, &weak), FERRY_E_KEY_WEAK);
    ferry_buf_free(sig);
    ferry_key_free(k);
}

static void test_weak_rsa_blob(void **state)
{
    (void)state;
    keygen("rsa1024", "-t rsa -b 1024");
    char path[512];
    snprintf(path, sizeof(path), "%s/rsa1024.pub", tmpdir);
    char *line = read_text(path);
    assert_non_null(line);
    ferry_key *k = NULL;
    assert_int_equal(ferry_key_parse_public_line(line, &k, NULL), FERRY_E_KEY_WEAK);
    assert_null(k);
    free(line);
}

static void test_ecdsa_off_curve(void **state)
{
    (void)state;
    ferry_key *k = NULL;
    assert_int_equal(ferry_key_generate(FERRY_KEY_ECDSA_P256, 0, &k), FERRY_OK);
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ferry_key_to_blob(k, b), FERRY_OK);
    /* Last byte of Y changed: the point leaves the curve. */
    uint8_t *p = ferry_buf_mdata(b);
    p[ferry_buf_len(b) - 1] ^= 0x01;
    ferry_key *k2 = NULL;
    assert_int_equal(ferry_key_from_blob(p, ferry_buf_len(b), &k2), FERRY_E_FORMAT);
    /* Compressed point form refused. */
    ferry_buf_free(b);
    ferry_key_free(k);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(ferry_key_type_from_name("rsa-sha2-256"), FERRY_KEY_RSA);
    assert_int_equal(ferry_key_type_from_name("ssh-rsa"), FERRY_KEY_RSA);
    assert_int_equal(ferry_key_type_from_name("ecdsa-sha2-nistp521"), FERRY_KEY_ECDSA_P521);
    assert_int_equal(ferry_key_type_from_name("ssh-dss"), FERRY_KEY_UNKNOWN);
    assert_string_equal(ferry_sigalg_supported(),
                        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
                        "ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa");
    assert_null(strstr(ferry_sigalg_default(), "ssh-rsa,"));
    assert_non_null(strstr(ferry_sigalg_default(), "rsa-sha2-256"));
}

static void test_base64(void **state)
{
    (void)state;
    char *s = NULL;
    assert_int_equal(ferry_base64_encode((const uint8_t *)"foob", 4, &s), FERRY_OK);
    assert_string_equal(s, "Zm9vYg==");
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ferry_base64_decode(s, strlen(s), b), FERRY_OK);
    assert_int_equal(ferry_buf_len(b), 4);
    assert_memory_equal(ferry_buf_data(b), "foob", 4);
    ferry_buf_reset(b);
    assert_int_equal(ferry_base64_decode("Zm9vYg", 6, b), FERRY_E_FORMAT);
    assert_int_equal(ferry_base64_decode("Zm9v Yg=", 8, b), FERRY_E_FORMAT);
    assert_int_equal(ferry_base64_decode("Zm9vYmFy", 8, b), FERRY_OK);
    assert_memory_equal(ferry_buf_data(b), "foobar", 6);
    ferry_buf_reset(b);
    assert_int_equal(ferry_base64_decode("", 0, b), FERRY_OK);
    assert_int_equal(ferry_buf_len(b), 0);
    free(s);
    ferry_buf_free(b);
}

static void test_bad_public_lines(void **state)
{
    (void)state;
    ferry_key *k = NULL;
    assert_int_not_equal(ferry_key_parse_public_line("", &k, NULL), FERRY_OK);
    assert_int_equal(ferry_key_parse_public_line("ssh-dss AAAA", &k, NULL), FERRY_E_KEY_TYPE);
    assert_int_not_equal(ferry_key_parse_public_line("ssh-ed25519 !!!!", &k, NULL), FERRY_OK);
    /* Type word disagreeing with the blob. */
    ferry_key *g = NULL;
    char *line = NULL;
    assert_int_equal(ferry_key_generate(FERRY_KEY_ED25519, 0, &g), FERRY_OK);
    assert_int_equal(ferry_key_format_public_line(g, NULL, &line), FERRY_OK);
    char *bad = NULL;
    assert_true(asprintf(&bad, "ssh-rsa %s", strchr(line, ' ') + 1) > 0);
    assert_int_equal(ferry_key_parse_public_line(bad, &k, NULL), FERRY_E_KEY_TYPE);
    char *c = NULL;
    assert_int_equal(ferry_key_parse_public_line(line, &k, &c), FERRY_OK);
    assert_string_equal(c, "");
    assert_true(ferry_key_equal_public(k, g));
    free(c);
    free(bad);
    free(line);
    ferry_key_free(k);
    ferry_key_free(g);
}

/* ---- private key files ---- */

static void path_of(char *out, size_t n, const char *name, const char *suffix)
{
    snprintf(out, n, "%s/%s%s", tmpdir, name, suffix);
}

/* ssh-keygen's openssh-key-v1 files load, with its fingerprint. */
static void test_load_ssh_keygen_private(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(kts) / sizeof(kts[0]); i++) {
        char name[32], path[512], pubpath[512], fp[128];
        snprintf(name, sizeof(name), "%s-priv", kts[i].name);
        keygen(name, kts[i].args);
        path_of(path, sizeof(path), name, "");
        path_of(pubpath, sizeof(pubpath), name, ".pub");
        ferry_key *k = NULL, *pub = NULL;
        char *comment = NULL;
        assert_int_equal(ferry_key_load_private_file(path, NULL, &k, &comment), FERRY_OK);
        assert_true(ferry_key_is_private(k));
        assert_int_equal(ferry_key_type(k), kts[i].type);
        char want_comment[64];
        snprintf(want_comment, sizeof(want_comment), "test@%s", name);
        assert_string_equal(comment, want_comment);
        assert_int_equal(ferry_key_fingerprint(k, fp, sizeof(fp)), FERRY_OK);
        char *want = keygen_fp(path);
        assert_string_equal(fp, want);
        char *line = read_text(pubpath);
        assert_int_equal(ferry_key_parse_public_line(line, &pub, NULL), FERRY_OK);
        assert_true(ferry_key_equal_public(k, pub));
        sign_verify_roundtrip(k, kts[i].sigalg);
        /* Signature by the loaded private key checks with the .pub key. */
        ferry_buf *sig = ferry_buf_new(0);
        assert_int_equal(ferry_key_sign(k, kts[i].sigalg, (const uint8_t *)"m", 1, sig), FERRY_OK);
        assert_int_equal(ferry_key_verify(pub, kts[i].sigalg, ferry_buf_data(sig),
                                          ferry_buf_len(sig), (const uint8_t *)"m", 1),
                         FERRY_OK);
        ferry_buf_free(sig);
        free(line);
        free(want);
        free(comment);
        ferry_key_free(pub);
        ferry_key_free(k);
    }
}

/* Our files are accepted by ssh-keygen -y and -l. */
static void test_save_read_by_ssh_keygen(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(kts) / sizeof(kts[0]); i++) {
        char name[32], path[512], pubpath[512], fp[128];
        snprintf(name, sizeof(name), "%s-ours", kts[i].name);
        path_of(path, sizeof(path), name, "");
        path_of(pubpath, sizeof(pubpath), name, ".pub");
        ferry_key *k = NULL;
        assert_int_equal(ferry_key_generate(kts[i].type, 0, &k), FERRY_OK);
        assert_int_equal(ferry_key_save_private_file(k, "ours@test", path, pubpath), FERRY_OK);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(stat(pubpath, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644);
        char *ours = NULL;
        assert_int_equal(ferry_key_format_public_line(k, "ours@test", &ours), FERRY_OK);
        char *derived = th_run("ssh-keygen -y -f %s", path);
        assert_non_null(derived);
        assert_string_equal(derived, ours);
        char *pubfile = read_text(pubpath);
        assert_string_equal(pubfile, ours);
        /* exactly one line, ending in a newline (ssh-keygen's form: `cat
         * id.pub >> authorized_keys` must not glue two keys together) */
        char raw[16384];
        FILE *pf = fopen(pubpath, "rb");
        assert_non_null(pf);
        size_t rawn = fread(raw, 1, sizeof(raw) - 1, pf);
        fclose(pf);
        raw[rawn] = '\0';
        assert_int_equal(rawn, strlen(ours) + 1);
        assert_memory_equal(raw, ours, strlen(ours));
        assert_int_equal(raw[rawn - 1], '\n');
        assert_int_equal(ferry_key_fingerprint(k, fp, sizeof(fp)), FERRY_OK);
        char *want = keygen_fp(path);
        assert_string_equal(fp, want);
        /* And back through our loader. */
        ferry_key *k2 = NULL;
        char *c = NULL;
        assert_int_equal(ferry_key_load_private_file(path, NULL, &k2, &c), FERRY_OK);
        assert_string_equal(c, "ours@test");
        assert_true(ferry_key_equal_public(k, k2));
        sign_verify_roundtrip(k2, kts[i].sigalg);
        free(c);
        ferry_key_free(k2);
        free(want);
        free(pubfile);
        free(derived);
        free(ours);
        ferry_key_free(k);
    }
}

/* The armour and line layout ssh-keygen uses. */
static void test_save_layout(void **state)
{
    (void)state;
    ferry_key *k = NULL;
    assert_int_equal(ferry_key_generate(FERRY_KEY_ED25519, 0, &k), FERRY_OK);
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ferry_key_save_private(k, "c", b), FERRY_OK);
    char *text = strndup((const char *)ferry_buf_data(b), ferry_buf_len(b));
    assert_true(strncmp(text,
                        "-----BEGIN OPENSSH PRIVATE "
                        "KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB",
                        88) == 0);
    char *nl = strchr(text, '\n');
    assert_int_equal(strchr(nl + 1, '\n') - nl - 1, 70);
    assert_non_null(strstr(text, "\n-----END OPENSSH PRIVATE KEY-----\n"));
    /* Corruptions are refused: a changed base64 character anywhere in the
     * body, and a cut file. */
    size_t body = 36, end = strstr(text, "-----END") - text;
    for (size_t i = body + 60; i < end; i += 13) {
        char *c = strdup(text);
        if (c[i] == '\n' || c[i] == '=') {
            free(c);
            continue;
        }
        c[i] = c[i] == 'A' ? 'B' : 'A';
        ferry_key *k2 = NULL;
        int r = ferry_key_load_private((const uint8_t *)c, strlen(c), NULL, &k2, NULL);
        if (r == FERRY_OK) {
            /* Only the comment or random check ints may change harmlessly. */
            assert_true(ferry_key_equal_public(k, k2));
            ferry_key_free(k2);
        }
        free(c);
    }
    ferry_key *k3 = NULL;
    assert_int_not_equal(ferry_key_load_private((const uint8_t *)text, end - 10, NULL, &k3, NULL),
                         FERRY_OK);
    free(text);
    ferry_buf_free(b);
    ferry_key_free(k);
}

static void test_pem_keys(void **state)
{
    (void)state;
    static const struct {
        const char *name, *args, *pass;
        enum ferry_key_type type;
    } pems[] = {
        {"rsa-pem", "-t rsa -b 2048 -m PEM", NULL, FERRY_KEY_RSA},
        {"rsa-pem-pw", "-t rsa -b 2048 -m PEM -N sekrit", "sekrit", FERRY_KEY_RSA},
        {"ec-pem", "-t ecdsa -b 384 -m PEM", NULL, FERRY_KEY_ECDSA_P384},
        {"ec-pem-pw", "-t ecdsa -b 256 -m PEM -N sekrit", "sekrit", FERRY_KEY_ECDSA_P256},
        {"rsa-p8-pw", "-t rsa -b 2048 -m PKCS8 -N sekrit", "sekrit", FERRY_KEY_RSA},
        {"ec-p8", "-t ecdsa -b 521 -m PKCS8", NULL, FERRY_KEY_ECDSA_P521},
    };
    for (size_t i = 0; i < sizeof(pems) / sizeof(pems[0]); i++) {
        char path[512], fp[128];
        keygen(pems[i].name, pems[i].args);
        path_of(path, sizeof(path), pems[i].name, "");
        ferry_key *k = NULL;
        assert_int_equal(ferry_key_load_private_file(path, pems[i].pass, &k, NULL), FERRY_OK);
        assert_int_equal(ferry_key_type(k), pems[i].type);
        assert_int_equal(ferry_key_fingerprint(k, fp, sizeof(fp)), FERRY_OK);
        char *want = keygen_fp(path);
        if (pems[i].pass == NULL) {
            assert_string_equal(fp, want);
        }
        char pubpath[512];
        path_of(pubpath, sizeof(pubpath), pems[i].name, ".pub");
        char *line = read_text(pubpath);
        ferry_key *pub = NULL;
        assert_int_equal(ferry_key_parse_public_line(line, &pub, NULL), FERRY_OK);
        assert_true(ferry_key_equal_public(k, pub));
        if (pems[i].pass != NULL) {
            ferry_key *k2 = NULL;
            assert_int_equal(ferry_key_load_private_file(path, "wrong", &k2, NULL),
                             FERRY_E_BAD_PASSPHRASE);
            assert_int_equal(ferry_key_load_private_file(path, NULL, &k2, NULL),
                             FERRY_E_BAD_PASSPHRASE);
            assert_null(k2);
        }
        free(line);
        free(want);
        ferry_key_free(pub);
        ferry_key_free(k);
    }
}

static void test_refused_files(void **state)
{
    (void)state;
    char path[512];
    ferry_key *k = NULL;
    /* bcrypt-encrypted openssh-key-v1: no bcrypt_pbkdf in libcrypto; said
     * as such (ferry then lets ssh-keygen decrypt it) */
    keygen("ed-enc", "-t ed25519 -N sekrit");
    path_of(path, sizeof(path), "ed-enc", "");
    assert_int_equal(ferry_key_load_private_file(path, "sekrit", &k, NULL), FERRY_E_KDF_BCRYPT);
    assert_int_equal(ferry_key_load_private_file(path, NULL, &k, NULL), FERRY_E_KDF_BCRYPT);
    assert_null(k);
    /* Weak RSA, both formats. */
    keygen("rsa1024-priv", "-t rsa -b 1024");
    path_of(path, sizeof(path), "rsa1024-priv", "");
    assert_int_equal(ferry_key_load_private_file(path, NULL, &k, NULL), FERRY_E_KEY_WEAK);
    keygen("rsa1024-pem", "-t rsa -b 1024 -m PEM");
    path_of(path, sizeof(path), "rsa1024-pem", "");
    assert_int_equal(ferry_key_load_private_file(path, NULL, &k, NULL), FERRY_E_KEY_WEAK);
    /* Missing file, garbage. */
    path_of(path, sizeof(path), "nonexistent", "");
    assert_int_equal(ferry_key_load_private_file(path, NULL, &k, NULL), FERRY_E_NOT_FOUND);
    const char junk[] =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    assert_int_equal(ferry_key_load_private((const uint8_t *)junk, strlen(junk), NULL, &k, NULL),
                     FERRY_E_FORMAT);
    assert_int_equal(ferry_key_load_private((const uint8_t *)"hello", 5, NULL, &k, NULL),
                     FERRY_E_FORMAT);
    assert_null(k);
    /* A public key cannot be saved as a private one. */
    ferry_key *g = NULL, *pub = NULL;
    assert_int_equal(ferry_key_generate(FERRY_KEY_ED25519, 0, &g), FERRY_OK);
    assert_int_equal(ferry_key_public_copy(g, &pub), FERRY_OK);
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ferry_key_save_private(pub, NULL, b), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_buf_len(b), 0);
    ferry_buf_free(b);
    ferry_key_free(pub);
    ferry_key_free(g);
}

/* ---- signatures checked by ssh-keygen -Y (SSHSIG, OpenSSH PROTOCOL.sshsig) ---- */

/* The bytes an SSHSIG signature covers: "SSHSIG" || string namespace ||
 * string reserved || string hash_alg || string SHA-512(message). */
static void sshsig_signed_data(const char *msg, ferry_buf *out)
{
    uint8_t h[64];
    unsigned hl = 0;
    assert_int_equal(EVP_Digest(msg, strlen(msg), h, &hl, EVP_sha512(), NULL), 1);
    ferry_buf_put(out, "SSHSIG", 6);
    ferry_buf_put_cstring(out, "file");
    ferry_buf_put_cstring(out, "");
    ferry_buf_put_cstring(out, "sha512");
    ferry_buf_put_string(out, h, hl);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Our signature, wrapped as SSHSIG, is accepted by ssh-keygen -Y verify. */
static void test_sshsig_ours_verified_by_ssh_keygen(void **state)
{
    (void)state;
    const char *msg = "message signed by ferry\n";
    for (size_t i = 0; i < sizeof(kts) / sizeof(kts[0]); i++) {
        ferry_key *k = NULL;
        assert_int_equal(ferry_key_generate(kts[i].type, 0, &k), FERRY_OK);
        ferry_buf *tbs = ferry_buf_new(0), *sig = ferry_buf_new(0), *blob = ferry_buf_new(0),
                  *env = ferry_buf_new(0);
        sshsig_signed_data(msg, tbs);
        assert_int_equal(
            ferry_key_sign(k, kts[i].sigalg, ferry_buf_data(tbs), ferry_buf_len(tbs), sig),
            FERRY_OK);
        assert_int_equal(ferry_key_to_blob(k, blob), FERRY_OK);
        ferry_buf_put(env, "SSHSIG", 6);
        ferry_buf_put_u32(env, 1);
        ferry_buf_put_stringb(env, blob);
        ferry_buf_put_cstring(env, "file");
        ferry_buf_put_cstring(env, "");
        ferry_buf_put_cstring(env, "sha512");
        ferry_buf_put_stringb(env, sig);
        char *b64 = NULL, *line = NULL, *armoured = NULL, *allowed = NULL;
        assert_int_equal(ferry_base64_encode(ferry_buf_data(env), ferry_buf_len(env), &b64),
                         FERRY_OK);
        assert_true(asprintf(&armoured,
                             "-----BEGIN SSH SIGNATURE-----\n%s\n"
                             "-----END SSH SIGNATURE-----\n",
                             b64) > 0);
        assert_int_equal(ferry_key_format_public_line(k, NULL, &line), FERRY_OK);
        assert_true(asprintf(&allowed, "signer@test %s\n", line) > 0);
        char p_sig[256], p_allowed[256], p_msg[256];
        snprintf(p_sig, sizeof(p_sig), "%s/sshsig.sig", tmpdir);
        snprintf(p_allowed, sizeof(p_allowed), "%s/allowed_signers", tmpdir);
        snprintf(p_msg, sizeof(p_msg), "%s/sshsig.msg", tmpdir);
        write_text(p_sig, armoured);
        write_text(p_allowed, allowed);
        write_text(p_msg, msg);
        char *o = th_run("ssh-keygen -Y verify -f %s -I signer@test -n file -s %s < %s", p_allowed,
                      p_sig, p_msg);
        assert_non_null(o);
        free(o);
        /* Another message must not verify. */
        write_text(p_msg, "another message\n");
        o = th_run("ssh-keygen -Y verify -f %s -I signer@test -n file -s %s < %s 2>/dev/null",
                p_allowed, p_sig, p_msg);
        assert_null(o);
        free(b64);
        free(line);
        free(armoured);
        free(allowed);
        ferry_buf_free(tbs);
        ferry_buf_free(sig);
        ferry_buf_free(blob);
        ferry_buf_free(env);
        ferry_key_free(k);
    }
}

/* Reads ssh-keygen -Y sign's armoured SSHSIG and checks it with our verify. */
static void verify_ssh_keygen_sig(const char *sigpath, const char *msg, const ferry_key *pub)
{
    char *text = read_text(sigpath);
    assert_non_null(text);
    char *body = strchr(text, '\n') + 1, *end = strstr(text, "-----END");
    char *clean = calloc(1, strlen(text) + 1);
    size_t n = 0;
    for (char *p = body; p < end; p++) {
        if (*p != '\n') {
            clean[n++] = *p;
        }
    }
    ferry_buf *env = ferry_buf_new(0), *tbs = ferry_buf_new(0);
    assert_int_equal(ferry_base64_decode(clean, n, env), FERRY_OK);
    ferry_rd r;
    const uint8_t *magic, *blob, *sig;
    size_t bl, sl;
    uint32_t ver;
    char ns[32], res[32], hash[32];
    ferry_rd_from_buf(&r, env);
    assert_int_equal(ferry_rd_bytes(&r, 6, &magic), FERRY_OK);
    assert_memory_equal(magic, "SSHSIG", 6);
    assert_int_equal(ferry_rd_u32(&r, &ver), FERRY_OK);
    assert_int_equal(ferry_rd_string(&r, &blob, &bl), FERRY_OK);
    assert_int_equal(ferry_rd_name(&r, ns, sizeof(ns)), FERRY_OK);
    assert_int_equal(ferry_rd_name(&r, res, sizeof(res)), FERRY_OK);
    assert_int_equal(ferry_rd_name(&r, hash, sizeof(hash)), FERRY_OK);
    assert_int_equal(ferry_rd_string(&r, &sig, &sl), FERRY_OK);
    assert_int_equal(ferry_rd_end(&r), FERRY_OK);
    assert_string_equal(ns, "file");
    assert_string_equal(hash, "sha512");
    ferry_key *k = NULL;
    assert_int_equal(ferry_key_from_blob(blob, bl, &k), FERRY_OK);
    assert_true(ferry_key_equal_public(k, pub));
    sshsig_signed_data(msg, tbs);
    assert_int_equal(ferry_key_verify(k, NULL, sig, sl, ferry_buf_data(tbs), ferry_buf_len(tbs)),
                     FERRY_OK);
    ferry_buf_reset(tbs);
    sshsig_signed_data("tampered", tbs);
    assert_int_equal(ferry_key_verify(k, NULL, sig, sl, ferry_buf_data(tbs), ferry_buf_len(tbs)),
                     FERRY_E_SIGNATURE_INVALID);
    ferry_key_free(k);
    ferry_buf_free(env);
    ferry_buf_free(tbs);
    free(clean);
    free(text);
}

/* ssh-keygen -Y sign's signatures verify with ours. */
static void test_sshsig_ssh_keygen_verified_by_ours(void **state)
{
    (void)state;
    const char *msg = "message signed by ssh-keygen\n";
    for (size_t i = 0; i < sizeof(kts) / sizeof(kts[0]); i++) {
        char name[32], path[256], msgpath[256], sigpath[300];
        snprintf(name, sizeof(name), "%s-Y", kts[i].name);
        keygen(name, kts[i].args);
        path_of(path, sizeof(path), name, "");
        path_of(msgpath, sizeof(msgpath), name, ".msg");
        snprintf(sigpath, sizeof(sigpath), "%s.sig", msgpath);
        write_text(msgpath, msg);
        char *o = th_run("ssh-keygen -q -Y sign -f %s -n file %s 2>/dev/null", path, msgpath);
        assert_non_null(o);
        free(o);
        ferry_key *k = NULL;
        assert_int_equal(ferry_key_load_private_file(path, NULL, &k, NULL), FERRY_OK);
        verify_ssh_keygen_sig(sigpath, msg, k);
        ferry_key_free(k);
    }
}

static void unhex(const char *h, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* RFC 8032 s7.1 TEST 1 (empty message), through our SSH signature blob. */
static void test_ed25519_known_answer(void **state)
{
    (void)state;
    uint8_t seed[32], pub[32], want[64];
    unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
    unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pub, 32);
    unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
          "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
          want, 64);
    EVP_PKEY *pk = NULL;
    ferry_key *k = NULL;
    assert_int_equal(ferry__ed25519_pkey(pub, seed, &pk), FERRY_OK);
    assert_int_equal(ferry__key_wrap(pk, FERRY_KEY_ED25519, 1, &k), FERRY_OK);
    ferry_buf *sig = ferry_buf_new(0);
    assert_int_equal(ferry_key_sign(k, "ssh-ed25519", (const uint8_t *)"", 0, sig), FERRY_OK);
    /* string "ssh-ed25519" (4+11) || string sig (4+64) */
    assert_int_equal(ferry_buf_len(sig), 4 + 11 + 4 + 64);
    assert_memory_equal(ferry_buf_data(sig) + 19, want, 64);
    ferry_buf *blob = ferry_buf_new(0);
    assert_int_equal(ferry_key_to_blob(k, blob), FERRY_OK);
    assert_memory_equal(ferry_buf_data(blob) + 19, pub, 32);
    /* A seed that does not give this public key is refused. */
    seed[0] ^= 1;
    assert_int_equal(ferry__ed25519_pkey(pub, seed, &pk), FERRY_E_FORMAT);
    ferry_buf_free(blob);
    ferry_buf_free(sig);
    ferry_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_ed25519_known_answer),
        cmocka_unit_test(test_pub_from_ssh_keygen),
        cmocka_unit_test(test_generate_sign_verify),
        cmocka_unit_test(test_rsa_sigalgs),
        cmocka_unit_test(test_weak_rsa_blob),
        cmocka_unit_test(test_ecdsa_off_curve),
        cmocka_unit_test(test_bad_public_lines),
        cmocka_unit_test(test_load_ssh_keygen_private),
        cmocka_unit_test(test_save_read_by_ssh_keygen),
        cmocka_unit_test(test_save_layout),
        cmocka_unit_test(test_pem_keys),
        cmocka_unit_test(test_refused_files),
        cmocka_unit_test(test_sshsig_ours_verified_by_ssh_keygen),
        cmocka_unit_test(test_sshsig_ssh_keygen_verified_by_ours),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
