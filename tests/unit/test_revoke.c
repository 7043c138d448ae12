/* test_revoke.c: revocation lists (ssh/revoke.h). KRLs made by the real
 * ssh-keygen -k (serial lists, ranges and the bitmaps it makes of many
 * serials, key IDs, keys, SHA-1 and SHA-256 hashes, updates with -u) are
 * asked about certificates and keys made by ssh-keygen, and every answer
 * is compared with ssh-keygen -Q on the same files. KRLs built here byte
 * by byte (PROTOCOL.krl) cover what ssh-keygen does not write: a wildcard
 * CA, serial 0, extensions, signatures, other versions, bad encodings and
 * every prefix of a KRL. Files of public key lines too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/cert.h"
#include "crypto/key.h"
#include "helpers/shell.h"
#include "ssh/revoke.h"
#include "util/buf.h"
#include "util/err.h"

static char tmpdir[64];

/* Keys made once by ssh-keygen: CAs, and keys to certify or revoke. */
static const struct {
    const char *name, *args;
} kg[] = {
    {"ca", "-t ed25519"},         {"ca2", "-t ed25519"},   {"ca_rsa", "-t rsa -b 2048"},
    {"ca_ec", "-t ecdsa -b 256"}, {"u_ed", "-t ed25519"},  {"u_ec", "-t ecdsa -b 384"},
    {"u_rsa", "-t rsa -b 2048"},  {"u_ed2", "-t ed25519"}, {"u_ec2", "-t ecdsa -b 256"},
};

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-test-revoke-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(kg) / sizeof(kg[0]); i++) {
        char *o = th_run("ssh-keygen -q %s -N '' -C %s@test -f %s/%s </dev/null", kg[i].args,
                         kg[i].name, tmpdir, kg[i].name);
        if (o == NULL) {
            return -1;
        }
        free(o);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers ---- */

/* Runs a shell command in tmpdir; fails the test if it exits non-zero. */
static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char *o = th_run("cd %s && { %s ; } </dev/null 2>&1", tmpdir, cmd);
    if (o == NULL) {
        fail_msg("command failed: %s", cmd);
    }
    free(o);
}

static char *path_of(const char *name)
{
    static char path[4][512];
    static unsigned i;
    char *p = path[i++ % 4];
    snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *name, const void *data, size_t len)
{
    FILE *f = fopen(path_of(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *read_file(const char *name, size_t *len)
{
    FILE *f = fopen(path_of(name), "rb");
    assert_non_null(f);
    uint8_t *p = malloc(1 << 20);
    assert_non_null(p);
    *len = fread(p, 1, 1 << 20, f);
    assert_true(*len < (1 << 20));
    fclose(f);
    return p;
}

/* ssh-keygen -Q's answer for a key or certificate file against a KRL
 * file: 1 revoked, 0 not. Anything else (an error) fails the test. */
static int oracle(const char *krl, const char *file)
{
    char *o = th_run("cd %s && ssh-keygen -Q -f %s %s </dev/null 2>&1; echo \"rc=$?\"", tmpdir, krl,
                     file);
    assert_non_null(o);
    const char *rc = strstr(o, "rc=");
    assert_non_null(rc);
    int status = atoi(rc + 3);
    int revoked = strstr(o, ": REVOKED") != NULL, ok = strstr(o, ": ok") != NULL;
    int r = -1;
    if (status == 0 && ok && !revoked) {
        r = 0;
    } else if (status != 0 && revoked && !ok) {
        r = 1;
    }
    if (r < 0) {
        fail_msg("ssh-keygen -Q -f %s %s: %s", krl, file, o);
    }
    free(o);
    return r;
}

/* A certificate for key `key` by CA `ca` from ssh-keygen -s; its file
 * name (in tmpdir) goes to file[filesz]. */
static ferry_cert *make_cert(const char *ca, const char *key, const char *id, uint64_t serial,
                             char *file, size_t filesz)
{
    static unsigned seq;
    char name[32];
    snprintf(name, sizeof(name), "c%u", seq++);
    run("cp %s.pub %s.pub && ssh-keygen -q -s %s -I '%s' -n alice -z %llu %s.pub", key, name, ca,
        id, (unsigned long long)serial, name);
    snprintf(file, filesz, "%s-cert.pub", name);
    ferry_cert *c = NULL;
    assert_int_equal(ferry_cert_load(path_of(file), &c), FERRY_OK);
    assert_int_equal(c->serial, serial);
    assert_string_equal(c->key_id, id);
    return c;
}

static ferry_key *load_pub(const char *name)
{
    ferry_key *k = th_load_pub(tmpdir, name);
    assert_non_null(k);
    return k;
}

static ferry_revoke *load_rl(const char *name)
{
    ferry_revoke *rl = NULL;
    int r = ferry_revoke_load(path_of(name), &rl);
    if (r != FERRY_OK) {
        fail_msg("ferry_revoke_load %s: %s", name, ferry_errname(r));
    }
    assert_non_null(rl);
    return rl;
}

/* ferry_revoke_cert, checked for a 0/1 answer, a reason with every 1,
 * and the same answer without a reason buffer. */
static int cert_revoked(const ferry_revoke *rl, const ferry_cert *c, char *why, size_t whysz)
{
    why[0] = '\0';
    int r = ferry_revoke_cert(rl, c, why, whysz);
    assert_true(r == 0 || r == 1);
    assert_int_equal(r ? why[0] != '\0' : 1, 1);
    assert_int_equal(ferry_revoke_cert(rl, c, NULL, 0), r);
    return r;
}

static int key_revoked(const ferry_revoke *rl, const ferry_key *k)
{
    int r = ferry_revoke_key(rl, k);
    assert_true(r == 0 || r == 1);
    return r;
}

/* Parses bytes from a heap copy of their exact size (so the sanitizer
 * sees any read past them); *out only set on success. */
static int parse(const uint8_t *data, size_t len, ferry_revoke **out)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len > 0) {
        memcpy(copy, data, len);
    }
    *out = NULL;
    int r = ferry_revoke_parse(copy, len, out);
    free(copy);
    if (r != FERRY_OK) {
        assert_null(*out);
    } else {
        assert_non_null(*out);
    }
    return r;
}

/* Where a KRL's header and sections end, and which section types and
 * certificate subsection types it holds (PROTOCOL.krl), read here
 * independently of revoke.c. */
struct layout {
    size_t header_end;
    size_t ends[64];
    size_t n;
    uint32_t types;    /* bit t: a section of type t (t < 32) */
    uint32_t subtypes; /* bit t - 0x20: a certificate subsection of type t */
};

static void layout_of(const uint8_t *p, size_t len, struct layout *l)
{
    memset(l, 0, sizeof(*l));
    ferry_rd r;
    const uint8_t *s;
    size_t n;
    uint32_t v;
    uint64_t u;
    ferry_rd_init(&r, p, len);
    assert_int_equal(ferry_rd_bytes(&r, 8, &s), FERRY_OK);
    assert_memory_equal(s, "SSHKRL\n\0", 8);
    assert_int_equal(ferry_rd_u32(&r, &v), FERRY_OK);
    assert_int_equal(v, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ferry_rd_u64(&r, &u), FERRY_OK);
    }
    assert_int_equal(ferry_rd_string(&r, &s, &n), FERRY_OK);
    assert_int_equal(ferry_rd_string(&r, &s, &n), FERRY_OK);
    l->header_end = len - ferry_rd_left(&r);
    while (ferry_rd_left(&r) > 0) {
        uint8_t t;
        ferry_rd d;
        assert_int_equal(ferry_rd_u8(&r, &t), FERRY_OK);
        assert_int_equal(ferry_rd_sub(&r, &d), FERRY_OK);
        assert_true(l->n < sizeof(l->ends) / sizeof(l->ends[0]));
        l->ends[l->n++] = len - ferry_rd_left(&r);
        if (t < 32) {
            l->types |= 1u << t;
        }
        if (t != 1) {
            continue;
        }
        assert_int_equal(ferry_rd_string(&d, &s, &n), FERRY_OK);
        assert_int_equal(ferry_rd_string(&d, &s, &n), FERRY_OK);
        while (ferry_rd_left(&d) > 0) {
            ferry_rd sub;
            assert_int_equal(ferry_rd_u8(&d, &t), FERRY_OK);
            assert_int_equal(ferry_rd_sub(&d, &sub), FERRY_OK);
            if (t >= 0x20 && t < 0x40) {
                l->subtypes |= 1u << (t - 0x20);
            }
        }
    }
}

static void layout_file(const char *name, struct layout *l)
{
    size_t len;
    uint8_t *p = read_file(name, &len);
    layout_of(p, len, l);
    free(p);
}

#define SUB(t) (1u << ((t)-0x20))

/* ---- building KRLs (PROTOCOL.krl) ---- */

static ferry_buf *krl_new(uint32_t version)
{
    ferry_buf *b = ferry_buf_new(0);
    assert_non_null(b);
    assert_int_equal(ferry_buf_put(b, "SSHKRL\n\0", 8), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b, version), FERRY_OK);
    assert_int_equal(ferry_buf_put_u64(b, 7), FERRY_OK);          /* krl_version */
    assert_int_equal(ferry_buf_put_u64(b, 1700000000), FERRY_OK); /* generated_date */
    assert_int_equal(ferry_buf_put_u64(b, 0), FERRY_OK);          /* flags */
    assert_int_equal(ferry_buf_put_string(b, "", 0), FERRY_OK);   /* reserved */
    assert_int_equal(ferry_buf_put_cstring(b, "built by test_revoke"), FERRY_OK);
    return b;
}

/* A section (or certificate subsection): byte type, string data; frees data. */
static void put_section(ferry_buf *b, uint8_t type, ferry_buf *data)
{
    assert_int_equal(ferry_buf_put_u8(b, type), FERRY_OK);
    assert_int_equal(ferry_buf_put_stringb(b, data), FERRY_OK);
    ferry_buf_free(data);
}

/* The data of a certificates section: CA key blob (NULL: any CA) and the
 * reserved string; subsections are appended to it. */
static ferry_buf *certs_new(const ferry_key *ca)
{
    ferry_buf *d = ferry_buf_new(0), *blob = ferry_buf_new(0);
    if (ca != NULL) {
        assert_int_equal(ferry_key_to_blob(ca, blob), FERRY_OK);
    }
    assert_int_equal(ferry_buf_put_stringb(d, blob), FERRY_OK);
    assert_int_equal(ferry_buf_put_string(d, "", 0), FERRY_OK);
    ferry_buf_free(blob);
    return d;
}

static void put_serials(ferry_buf *certs, const uint64_t *v, size_t n)
{
    ferry_buf *d = ferry_buf_new(0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ferry_buf_put_u64(d, v[i]), FERRY_OK);
    }
    put_section(certs, 0x20, d);
}

static void put_range(ferry_buf *certs, uint64_t lo, uint64_t hi)
{
    ferry_buf *d = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_u64(d, lo), FERRY_OK);
    assert_int_equal(ferry_buf_put_u64(d, hi), FERRY_OK);
    put_section(certs, 0x21, d);
}

/* A bitmap whose mpint bytes are given as they go on the wire. */
static void put_bitmap(ferry_buf *certs, uint64_t offset, const uint8_t *mp, size_t n)
{
    ferry_buf *d = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_u64(d, offset), FERRY_OK);
    assert_int_equal(ferry_buf_put_string(d, mp, n), FERRY_OK);
    put_section(certs, 0x22, d);
}

static void put_ids(ferry_buf *certs, const char *const *ids, size_t n)
{
    ferry_buf *d = ferry_buf_new(0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ferry_buf_put_cstring(d, ids[i]), FERRY_OK);
    }
    put_section(certs, 0x23, d);
}

/* An extension: section 255 or certificate subsection 0x39. */
static void put_ext(ferry_buf *b, uint8_t type, const char *name, int critical,
                    const char *contents)
{
    ferry_buf *d = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_cstring(d, name), FERRY_OK);
    assert_int_equal(ferry_buf_put_bool(d, critical), FERRY_OK);
    assert_int_equal(ferry_buf_put_cstring(d, contents), FERRY_OK);
    put_section(b, type, d);
}

/* A section of strings (explicit keys, SHA-1 or SHA-256 hashes). */
static void put_strings(ferry_buf *b, uint8_t type, const uint8_t *const *v, const size_t *n,
                        size_t count)
{
    ferry_buf *d = ferry_buf_new(0);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(ferry_buf_put_string(d, v[i], n[i]), FERRY_OK);
    }
    put_section(b, type, d);
}

static void put_key(ferry_buf *b, const ferry_key *k)
{
    ferry_buf *blob = ferry_buf_new(0);
    assert_int_equal(ferry_key_to_blob(k, blob), FERRY_OK);
    const uint8_t *v[] = {ferry_buf_data(blob)};
    size_t n[] = {ferry_buf_len(blob)};
    put_strings(b, 2, v, n, 1);
    ferry_buf_free(blob);
}

static int parse_buf(const ferry_buf *b, ferry_revoke **out)
{
    return parse(ferry_buf_data(b), ferry_buf_len(b), out);
}

static void expect_parse(const ferry_buf *b, int want)
{
    ferry_revoke *rl = NULL;
    int r = parse_buf(b, &rl);
    if (r != want) {
        fail_msg("parse: %s, want %s", ferry_errname(r), ferry_errname(want));
    }
    ferry_revoke_free(rl);
}

/* ---- KRLs from ssh-keygen ---- */

/* The revocations of spec_serials (written below), from its text. */
static int in_spec_serials(uint64_t s)
{
    return s != 0 && ((s <= 199 && s % 2 == 1) || (s >= 300 && s <= 310) ||
                      (s >= 1000 && s <= 5000) || s == 0x10000 || s >= 18446744073709551600ull);
}

static const uint64_t probes[] = {0,
                                  1,
                                  2,
                                  3,
                                  4,
                                  5,
                                  6,
                                  7,
                                  8,
                                  9,
                                  10,
                                  62,
                                  63,
                                  64,
                                  65,
                                  127,
                                  128,
                                  129,
                                  197,
                                  198,
                                  199,
                                  200,
                                  201,
                                  202,
                                  255,
                                  256,
                                  257,
                                  299,
                                  300,
                                  301,
                                  305,
                                  309,
                                  310,
                                  311,
                                  999,
                                  1000,
                                  1001,
                                  2500,
                                  4999,
                                  5000,
                                  5001,
                                  65535,
                                  65536,
                                  65537,
                                  18446744073709551599ull,
                                  18446744073709551600ull,
                                  18446744073709551614ull,
                                  18446744073709551615ull};

/* Odd serials 1..199 (ssh-keygen writes them as a bitmap), small and
 * large ranges, single serials; certificates of each probe serial by
 * the CA and by another CA, against ssh-keygen -Q. */
static void test_serials(void **state)
{
    (void)state;
    run("for i in $(seq 1 2 199); do echo \"serial: $i\"; done > spec_serials && "
        "printf 'serial: 300-310\\nserial: 1000-5000\\nserial: 0x10000\\n"
        "serial: 18446744073709551600-18446744073709551615\\n' >> spec_serials && "
        "ssh-keygen -k -f krl_serials -s ca.pub spec_serials");
    struct layout l;
    layout_file("krl_serials", &l);
    assert_int_equal(l.types, 1u << 1);
    /* ssh-keygen chose a list, a range and bitmaps */
    assert_int_equal(l.subtypes & (SUB(0x20) | SUB(0x21) | SUB(0x22)),
                     SUB(0x20) | SUB(0x21) | SUB(0x22));
    ferry_revoke *rl = load_rl("krl_serials");
    char file[64], why[64];
    size_t revoked = 0;
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        int want = in_spec_serials(probes[i]);
        ferry_cert *c = make_cert("ca", "u_ed", "some-id", probes[i], file, sizeof(file));
        assert_int_equal(oracle("krl_serials", file), want);
        int got = cert_revoked(rl, c, why, sizeof(why));
        if (got != want) {
            fail_msg("serial %llu: revoked %d, ssh-keygen says %d", (unsigned long long)probes[i],
                     got, want);
        }
        if (got) {
            assert_string_equal(why, "serial revoked");
            revoked++;
        }
        ferry_cert_free(c);
        /* the same serial from another CA */
        c = make_cert("ca2", "u_ed", "some-id", probes[i], file, sizeof(file));
        assert_int_equal(oracle("krl_serials", file), 0);
        assert_int_equal(cert_revoked(rl, c, why, sizeof(why)), 0);
        ferry_cert_free(c);
    }
    assert_true(revoked > 10);
    /* the plain keys are not revoked by serials */
    ferry_key *k = load_pub("u_ed"), *ca = load_pub("ca");
    assert_int_equal(key_revoked(rl, k), 0);
    assert_int_equal(key_revoked(rl, ca), 0);
    ferry_key_free(k);
    ferry_key_free(ca);
    ferry_revoke_free(rl);
}

/* RSA and ECDSA CAs in one KRL (the second added with -k -u): serials
 * and key IDs apply under their own CA only. */
static void test_ca_types_and_update(void **state)
{
    (void)state;
    run("printf 'serial: 5-9\\n' > spec_rsa && printf 'serial: 7\\nid: ec-id\\n' > spec_ec && "
        "ssh-keygen -k -f krl_multi -s ca_rsa.pub spec_rsa");
    struct probe {
        const char *ca, *id;
        uint64_t serial;
        int before, after; /* from spec_rsa, then with spec_ec too */
    } probes_ca[] = {
        {"ca_rsa", "x", 4, 0, 0},     {"ca_rsa", "x", 5, 1, 1},  {"ca_rsa", "x", 7, 1, 1},
        {"ca_rsa", "x", 9, 1, 1},     {"ca_rsa", "x", 10, 0, 0}, {"ca_rsa", "ec-id", 0, 0, 0},
        {"ca_ec", "x", 7, 0, 1},      {"ca_ec", "x", 5, 0, 0},   {"ca_ec", "ec-id", 0, 0, 1},
        {"ca_ec", "ec-id", 99, 0, 1}, {"ca", "x", 7, 0, 0},      {"ca", "ec-id", 0, 0, 0},
    };
    size_t n = sizeof(probes_ca) / sizeof(probes_ca[0]);
    ferry_cert *c[sizeof(probes_ca) / sizeof(probes_ca[0])];
    char files[sizeof(probes_ca) / sizeof(probes_ca[0])][64], why[64];
    for (size_t i = 0; i < n; i++) {
        c[i] = make_cert(probes_ca[i].ca, i % 2 ? "u_ec" : "u_rsa", probes_ca[i].id,
                         probes_ca[i].serial, files[i], sizeof(files[i]));
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            run("ssh-keygen -k -u -f krl_multi -s ca_ec.pub spec_ec");
            struct layout l;
            layout_file("krl_multi", &l);
            assert_int_equal(l.types, 1u << 1);
            assert_true(l.n >= 2); /* one certificates section per CA */
        }
        ferry_revoke *rl = load_rl("krl_multi");
        for (size_t i = 0; i < n; i++) {
            int want = pass ? probes_ca[i].after : probes_ca[i].before;
            assert_int_equal(oracle("krl_multi", files[i]), want);
            int got = cert_revoked(rl, c[i], why, sizeof(why));
            if (got != want) {
                fail_msg("pass %d, %s serial %llu id %s: %d, want %d", pass, probes_ca[i].ca,
                         (unsigned long long)probes_ca[i].serial, probes_ca[i].id, got, want);
            }
            if (got) {
                assert_string_equal(why, probes_ca[i].serial != 0 &&
                                                 strcmp(probes_ca[i].id, "ec-id") != 0
                                             ? "serial revoked"
                                             : "key ID revoked");
            }
        }
        ferry_revoke_free(rl);
    }
    for (size_t i = 0; i < n; i++) {
        ferry_cert_free(c[i]);
    }
}

/* id: lines; a key ID revokes even a serial-0 certificate. */
static void test_key_ids(void **state)
{
    (void)state;
    run("printf 'id: alpha\\nid: with space\\nid: id-7\\n' > spec_ids && "
        "ssh-keygen -k -f krl_ids -s ca.pub spec_ids");
    struct layout l;
    layout_file("krl_ids", &l);
    assert_int_equal(l.subtypes, SUB(0x23));
    struct {
        const char *ca, *id;
        uint64_t serial;
        int want;
    } p[] = {
        {"ca", "alpha", 0, 1}, {"ca", "alpha", 12, 1}, {"ca", "with space", 13, 1},
        {"ca", "id-7", 0, 1},  {"ca", "alph", 0, 0},   {"ca", "alpha2", 14, 0},
        {"ca", "with", 15, 0}, {"ca", "ID-7", 0, 0},   {"ca2", "alpha", 0, 0},
        {"ca2", "id-7", 7, 0},
    };
    ferry_revoke *rl = load_rl("krl_ids");
    char file[64], why[64];
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        ferry_cert *c = make_cert(p[i].ca, "u_ed2", p[i].id, p[i].serial, file, sizeof(file));
        assert_int_equal(oracle("krl_ids", file), p[i].want);
        int got = cert_revoked(rl, c, why, sizeof(why));
        if (got != p[i].want) {
            fail_msg("%s id \"%s\": %d, want %d", p[i].ca, p[i].id, got, p[i].want);
        }
        if (got) {
            assert_string_equal(why, "key ID revoked");
        }
        ferry_cert_free(c);
    }
    ferry_revoke_free(rl);
}

/* key:, sha1:, sha256:, hash: lines, and plain ssh-keygen -k of .pub
 * files: keys, certificates of those keys, certificates by a revoked CA. */
static void test_keys(void **state)
{
    (void)state;
    static const char *const users[] = {"u_ed", "u_ec", "u_rsa", "u_ed2", "u_ec2"};
    enum { NU = sizeof(users) / sizeof(users[0]) };
    struct {
        const char *krl, *make;
        uint32_t types;
        int want[NU];
    } krls[] = {
        {"krl_key",
         "echo \"key: $(cat u_ed.pub)\" > spec_key && ssh-keygen -k -f krl_key spec_key",
         1u << 2,
         {1, 0, 0, 0, 0}},
        {"krl_sha1",
         "echo \"sha1: $(cat u_ec.pub)\" > spec_sha1 && ssh-keygen -k -f krl_sha1 spec_sha1",
         1u << 3,
         {0, 1, 0, 0, 0}},
        {"krl_sha256",
         "echo \"sha256: $(cat u_rsa.pub)\" > spec_sha256 && "
         "ssh-keygen -k -f krl_sha256 spec_sha256",
         1u << 5,
         {0, 0, 1, 0, 0}},
        {"krl_hash",
         "echo \"hash: $(ssh-keygen -l -E sha256 -f u_ed2.pub | cut -d' ' -f2)\" > spec_hash && "
         "ssh-keygen -k -f krl_hash spec_hash",
         1u << 5,
         {0, 0, 0, 1, 0}},
        {"krl_all",
         "{ echo \"key: $(cat u_ed.pub)\"; echo \"sha1: $(cat u_ec.pub)\"; "
         "echo \"sha256: $(cat u_rsa.pub)\"; } > spec_all && ssh-keygen -k -f krl_all spec_all",
         1u << 2 | 1u << 3 | 1u << 5,
         {1, 1, 1, 0, 0}},
        {"krl_plain", "ssh-keygen -k -f krl_plain u_ec.pub u_ed2.pub", 0, {0, 1, 0, 1, 0}},
    };
    ferry_key *k[NU];
    ferry_cert *c[NU];
    char files[NU][64], why[64];
    for (size_t i = 0; i < NU; i++) {
        k[i] = load_pub(users[i]);
        c[i] = make_cert("ca", users[i], "keyed", 42, files[i], sizeof(files[i]));
    }
    for (size_t j = 0; j < sizeof(krls) / sizeof(krls[0]); j++) {
        run("%s", krls[j].make);
        struct layout l;
        layout_file(krls[j].krl, &l);
        if (krls[j].types != 0) {
            assert_int_equal(l.types, krls[j].types);
        }
        ferry_revoke *rl = load_rl(krls[j].krl);
        for (size_t i = 0; i < NU; i++) {
            char pub[64];
            snprintf(pub, sizeof(pub), "%s.pub", users[i]);
            assert_int_equal(oracle(krls[j].krl, pub), krls[j].want[i]);
            int got = key_revoked(rl, k[i]);
            if (got != krls[j].want[i]) {
                fail_msg("%s, key %s: %d, want %d", krls[j].krl, users[i], got, krls[j].want[i]);
            }
            /* its certificate, revoked as its key */
            assert_int_equal(oracle(krls[j].krl, files[i]), krls[j].want[i]);
            assert_int_equal(cert_revoked(rl, c[i], why, sizeof(why)), krls[j].want[i]);
            if (krls[j].want[i]) {
                assert_string_equal(why, "certified key revoked");
            }
        }
        ferry_revoke_free(rl);
    }
    for (size_t i = 0; i < NU; i++) {
        ferry_key_free(k[i]);
        ferry_cert_free(c[i]);
    }

    /* the CA revoked, as a key, by its SHA-256 hash, by its SHA-1 hash */
    static const char *const ca_krls[] = {
        "ssh-keygen -k -f krl_ca ca.pub",
        "echo \"sha256: $(cat ca.pub)\" > spec_ca && ssh-keygen -k -f krl_ca spec_ca",
        "echo \"sha1: $(cat ca.pub)\" > spec_ca && ssh-keygen -k -f krl_ca spec_ca",
    };
    char file2[64], file_rsa[64];
    ferry_cert *byca = make_cert("ca", "u_ec2", "by-ca", 43, files[0], sizeof(files[0]));
    ferry_cert *byca2 = make_cert("ca2", "u_ec2", "by-ca2", 43, file2, sizeof(file2));
    ferry_cert *byrsa = make_cert("ca_rsa", "u_ed", "by-rsa", 43, file_rsa, sizeof(file_rsa));
    ferry_key *ca = load_pub("ca"), *ca2 = load_pub("ca2");
    for (size_t j = 0; j < sizeof(ca_krls) / sizeof(ca_krls[0]); j++) {
        run("rm -f krl_ca && %s", ca_krls[j]);
        ferry_revoke *rl = load_rl("krl_ca");
        assert_int_equal(oracle("krl_ca", "ca.pub"), 1);
        assert_int_equal(key_revoked(rl, ca), 1);
        assert_int_equal(key_revoked(rl, ca2), 0);
        assert_int_equal(oracle("krl_ca", files[0]), 1);
        assert_int_equal(cert_revoked(rl, byca, why, sizeof(why)), 1);
        assert_string_equal(why, "CA key revoked");
        assert_int_equal(oracle("krl_ca", file2), 0);
        assert_int_equal(cert_revoked(rl, byca2, why, sizeof(why)), 0);
        assert_int_equal(oracle("krl_ca", file_rsa), 0);
        assert_int_equal(cert_revoked(rl, byrsa, why, sizeof(why)), 0);
        ferry_revoke_free(rl);
    }
    ferry_key_free(ca);
    ferry_key_free(ca2);
    ferry_cert_free(byca);
    ferry_cert_free(byca2);
    ferry_cert_free(byrsa);
}

/* ssh-keygen -k of certificate files: by serial, or by key ID when the
 * serial is 0 (ssh-keygen(1) KEY REVOCATION LISTS). */
static void test_cert_files(void **state)
{
    (void)state;
    char f_serial[64], f_zero[64], f_other[64], f_zero2[64], f_ca2[64], f_next[64], why[64];
    ferry_cert *serial = make_cert("ca", "u_ed", "s31", 31, f_serial, sizeof(f_serial));
    ferry_cert *zero = make_cert("ca", "u_ec", "zero-id", 0, f_zero, sizeof(f_zero));
    ferry_cert *other = make_cert("ca", "u_ec2", "zero-id-2", 0, f_zero2, sizeof(f_zero2));
    ferry_cert *ca2 = make_cert("ca2", "u_ec2", "s31", 31, f_ca2, sizeof(f_ca2));
    ferry_cert *next = make_cert("ca", "u_ec2", "s32", 32, f_next, sizeof(f_next));
    ferry_cert *zero_again = make_cert("ca", "u_rsa", "zero-id", 0, f_other, sizeof(f_other));
    run("ssh-keygen -k -f krl_certs %s %s", f_serial, f_zero);
    struct layout l;
    layout_file("krl_certs", &l);
    assert_int_equal(l.subtypes & (SUB(0x20) | SUB(0x23)), SUB(0x20) | SUB(0x23));
    ferry_revoke *rl = load_rl("krl_certs");
    assert_int_equal(oracle("krl_certs", f_serial), 1);
    assert_int_equal(cert_revoked(rl, serial, why, sizeof(why)), 1);
    assert_string_equal(why, "serial revoked");
    assert_int_equal(oracle("krl_certs", f_zero), 1);
    assert_int_equal(cert_revoked(rl, zero, why, sizeof(why)), 1);
    assert_string_equal(why, "key ID revoked");
    /* another certificate with the same ID */
    assert_int_equal(oracle("krl_certs", f_other), 1);
    assert_int_equal(cert_revoked(rl, zero_again, why, sizeof(why)), 1);
    assert_string_equal(why, "key ID revoked");
    struct {
        const char *file;
        const ferry_cert *c;
    } clean[] = {{f_zero2, other}, {f_ca2, ca2}, {f_next, next}};
    for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
        assert_int_equal(oracle("krl_certs", clean[i].file), 0);
        assert_int_equal(cert_revoked(rl, clean[i].c, why, sizeof(why)), 0);
    }
    ferry_revoke_free(rl);
    ferry_cert_free(serial);
    ferry_cert_free(zero);
    ferry_cert_free(other);
    ferry_cert_free(ca2);
    ferry_cert_free(next);
    ferry_cert_free(zero_again);
}

/* ---- key line files ---- */

static char *pub_line(const char *name)
{
    char *o = th_run("cat %s/%s.pub", tmpdir, name);
    assert_non_null(o);
    return o;
}

/* authorized_keys-style lines: comments, blank lines, CRLF, options. */
static void test_key_lines(void **state)
{
    (void)state;
    char *ed = pub_line("u_ed"), *ec = pub_line("u_ec"), *rsa = pub_line("u_rsa"),
         *ca = pub_line("ca");
    char text[16384];
    snprintf(text, sizeof(text),
             "# revoked keys\n"
             "\n"
             "   \t\n"
             "%s\n"
             "  %s trailing comment words\r\n"
             "no-pty,command=\"/bin/false\" %s\n"
             "# %s\n"
             "restrict %s",
             ed, ec, rsa, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMBCOL7ZH9Q5Kkykw5KaHGQ5nzLgRkR2S5V",
             ca);
    write_file("keys_list", text, strlen(text));
    ferry_revoke *rl = load_rl("keys_list");
    static const char *const names[] = {"u_ed", "u_ec", "u_rsa", "ca", "u_ed2", "u_ec2", "ca2"};
    static const int want[] = {1, 1, 1, 1, 0, 0, 0};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ferry_key *k = load_pub(names[i]);
        if (key_revoked(rl, k) != want[i]) {
            fail_msg("key line file, %s: want %d", names[i], want[i]);
        }
        ferry_key_free(k);
    }
    char file[64], why[64];
    ferry_cert *c = make_cert("ca2", "u_ec", "lines", 3, file, sizeof(file));
    assert_int_equal(cert_revoked(rl, c, why, sizeof(why)), 1);
    assert_string_equal(why, "certified key revoked");
    ferry_cert_free(c);
    c = make_cert("ca", "u_ec2", "lines", 3, file, sizeof(file));
    assert_int_equal(cert_revoked(rl, c, why, sizeof(why)), 1);
    assert_string_equal(why, "CA key revoked");
    ferry_cert_free(c);
    c = make_cert("ca2", "u_ed2", "lines", 3, file, sizeof(file));
    assert_int_equal(cert_revoked(rl, c, why, sizeof(why)), 0);
    ferry_cert_free(c);
    ferry_revoke_free(rl);

    /* the same text from memory */
    assert_int_equal(parse((const uint8_t *)text, strlen(text), &rl), FERRY_OK);
    ferry_key *k = load_pub("u_rsa");
    assert_int_equal(key_revoked(rl, k), 1);
    ferry_key_free(k);
    ferry_revoke_free(rl);
    free(ed);
    free(ec);
    free(rsa);
    free(ca);
}

/* revoke.h: key lines' options are ignored, so a key is revoked whatever
 * options its line has, even ones that restrict where an authorized key
 * may be used. */
static void test_key_lines_options_ignored(void **state)
{
    (void)state;
    static const char *const opts[] = {
        "from=\"10.0.0.1\"",
        "expiry-time=\"20000101\"",
        "cert-authority",
        "from=\"*\",no-pty",
    };
    char *line = pub_line("u_ed2");
    ferry_key *k = load_pub("u_ed2"), *other = load_pub("u_ec2");
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        char text[8192];
        snprintf(text, sizeof(text), "%s %s\n", opts[i], line);
        ferry_revoke *rl = NULL;
        assert_int_equal(parse((const uint8_t *)text, strlen(text), &rl), FERRY_OK);
        int got = key_revoked(rl, k);
        assert_int_equal(key_revoked(rl, other), 0);
        ferry_revoke_free(rl);
        if (got != 1) {
            fail_msg("key on a line with options %s is not revoked", opts[i]);
        }
    }
    ferry_key_free(k);
    ferry_key_free(other);
    free(line);
}

static void test_empty_and_missing(void **state)
{
    (void)state;
    ferry_key *k = load_pub("u_ed");
    char file[64], why[64];
    ferry_cert *c = make_cert("ca", "u_ed", "empty", 1, file, sizeof(file));
    static const char *const texts[] = {"", "\n", "# nothing\n\n", "SSHKRL\n"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        write_file("empty", texts[i], strlen(texts[i]));
        ferry_revoke *rl = load_rl("empty");
        assert_int_equal(key_revoked(rl, k), 0);
        assert_int_equal(cert_revoked(rl, c, why, sizeof(why)), 0);
        ferry_revoke_free(rl);
    }
    ferry_revoke *rl = NULL;
    assert_int_equal(ferry_revoke_load(path_of("no-such-file"), &rl), FERRY_E_NOT_FOUND);
    assert_null(rl);
    /* a directory is no file */
    assert_int_not_equal(ferry_revoke_load(tmpdir, &rl), FERRY_OK);
    ferry_revoke_free(rl);
    ferry_key_free(k);
    ferry_cert_free(c);
}

/* ---- KRLs built here ---- */

/* Wildcard CA (empty ca_key): key IDs and serials under any CA; checked
 * against ssh-keygen -Q on the same bytes. */
static void test_wildcard_ca(void **state)
{
    (void)state;
    ferry_buf *b = krl_new(1);
    ferry_buf *certs = certs_new(NULL);
    static const char *const ids[] = {"wild-id", "other wild"};
    put_ids(certs, ids, 2);
    static const uint64_t serials[] = {77, 80};
    put_serials(certs, serials, 2);
    put_range(certs, 500, 600);
    put_section(b, 1, certs);
    write_file("krl_wild", ferry_buf_data(b), ferry_buf_len(b));
    ferry_revoke *rl = NULL;
    assert_int_equal(parse_buf(b, &rl), FERRY_OK);
    struct {
        const char *ca, *id;
        uint64_t serial;
        int want;
        const char *why;
    } p[] = {
        {"ca", "x", 77, 1, "serial revoked"},
        {"ca2", "x", 77, 1, "serial revoked"},
        {"ca_rsa", "x", 550, 1, "serial revoked"},
        {"ca_ec", "x", 600, 1, "serial revoked"},
        {"ca2", "wild-id", 0, 1, "key ID revoked"},
        {"ca_ec", "other wild", 9, 1, "key ID revoked"},
        {"ca", "x", 78, 0, NULL},
        {"ca2", "x", 0, 0, NULL},
        {"ca", "wild", 499, 0, NULL},
        {"ca", "x", 601, 0, NULL},
    };
    char file[64], why[64];
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        ferry_cert *c = make_cert(p[i].ca, "u_ed", p[i].id, p[i].serial, file, sizeof(file));
        assert_int_equal(oracle("krl_wild", file), p[i].want);
        int got = cert_revoked(rl, c, why, sizeof(why));
        if (got != p[i].want) {
            fail_msg("wildcard, %s serial %llu id %s: %d", p[i].ca, (unsigned long long)p[i].serial,
                     p[i].id, got);
        }
        if (got) {
            assert_string_equal(why, p[i].why);
        }
        ferry_cert_free(c);
    }
    ferry_revoke_free(rl);
    ferry_buf_free(b);
}

/* Bitmaps: bit N of the mpint revokes serial offset+N; a leading zero
 * byte keeps a high bit positive. Against ssh-keygen -Q. */
static void test_bitmap(void **state)
{
    (void)state;
    ferry_key *ca = load_pub("ca");
    ferry_buf *b = krl_new(1);
    ferry_buf *certs = certs_new(ca);
    static const uint8_t bm1[] = {0x00, 0x81, 0x02}; /* bits 1, 8, 15 */
    static const uint8_t bm2[] = {0x05};             /* bits 0, 2 */
    put_bitmap(certs, 1000, bm1, sizeof(bm1));
    put_bitmap(certs, 2000, bm2, sizeof(bm2));
    put_bitmap(certs, 3000, NULL, 0); /* zero: no bits */
    put_section(b, 1, certs);
    write_file("krl_bitmap", ferry_buf_data(b), ferry_buf_len(b));
    ferry_revoke *rl = NULL;
    assert_int_equal(parse_buf(b, &rl), FERRY_OK);
    static const uint64_t s[] = {999,  1000, 1001, 1002, 1007, 1008, 1009, 1014,
                                 1015, 1016, 1023, 1024, 1064, 1999, 2000, 2001,
                                 2002, 2003, 2008, 2999, 3000, 3001, 0};
    char file[64], why[64];
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        int want = s[i] == 1001 || s[i] == 1008 || s[i] == 1015 || s[i] == 2000 || s[i] == 2002;
        ferry_cert *c = make_cert("ca", "u_ec", "bm", s[i], file, sizeof(file));
        assert_int_equal(oracle("krl_bitmap", file), want);
        int got = cert_revoked(rl, c, why, sizeof(why));
        if (got != want) {
            fail_msg("bitmap, serial %llu: %d, want %d", (unsigned long long)s[i], got, want);
        }
        ferry_cert_free(c);
    }
    ferry_revoke_free(rl);
    ferry_buf_free(b);
    ferry_key_free(ca);
}

/* Serial 0 is never revoked by serial (a list, a range or a bitmap that
 * include it), only by key ID. */
static void test_serial_zero(void **state)
{
    (void)state;
    ferry_key *ca = load_pub("ca");
    char file[64], why[64];
    ferry_cert *zero = make_cert("ca", "u_ed", "zero", 0, file, sizeof(file));
    ferry_cert *one = make_cert("ca", "u_ed", "one", 1, file, sizeof(file));
    ferry_cert *ten = make_cert("ca", "u_ed", "ten", 10, file, sizeof(file));
    ferry_cert *eleven = make_cert("ca", "u_ed", "eleven", 11, file, sizeof(file));
    for (int kind = 0; kind < 3; kind++) {
        ferry_buf *b = krl_new(1);
        ferry_buf *certs = certs_new(ca);
        static const uint64_t list[] = {0, 1, 10};
        static const uint8_t bm[] = {0x04, 0x03}; /* bits 0, 1, 10 */
        if (kind == 0) {
            put_range(certs, 0, 10);
        } else if (kind == 1) {
            put_serials(certs, list, 3);
        } else {
            put_bitmap(certs, 0, bm, sizeof(bm));
        }
        put_section(b, 1, certs);
        ferry_revoke *rl = NULL;
        assert_int_equal(parse_buf(b, &rl), FERRY_OK);
        assert_int_equal(cert_revoked(rl, zero, why, sizeof(why)), 0);
        assert_int_equal(cert_revoked(rl, one, why, sizeof(why)), 1);
        assert_int_equal(cert_revoked(rl, ten, why, sizeof(why)), 1);
        assert_int_equal(cert_revoked(rl, eleven, why, sizeof(why)), 0);
        ferry_revoke_free(rl);
        ferry_buf_free(b);
    }
    /* by key ID it is */
    ferry_buf *b = krl_new(1);
    ferry_buf *certs = certs_new(ca);
    static const char *const ids[] = {"zero"};
    put_range(certs, 0, 10);
    put_ids(certs, ids, 1);
    put_section(b, 1, certs);
    ferry_revoke *rl = NULL;
    assert_int_equal(parse_buf(b, &rl), FERRY_OK);
    assert_int_equal(cert_revoked(rl, zero, why, sizeof(why)), 1);
    assert_string_equal(why, "key ID revoked");
    ferry_revoke_free(rl);
    ferry_buf_free(b);
    ferry_cert_free(zero);
    ferry_cert_free(one);
    ferry_cert_free(ten);
    ferry_cert_free(eleven);
    ferry_key_free(ca);
}

static void test_extensions(void **state)
{
    (void)state;
    ferry_key *ca = load_pub("ca"), *ed = load_pub("u_ed"), *ec = load_pub("u_ec");
    char file[64], why[64];
    ferry_cert *c5 = make_cert("ca", "u_ec2", "ext", 5, file, sizeof(file));
    ferry_cert *c6 = make_cert("ca", "u_ec2", "ext", 6, file, sizeof(file));
    /* a non-critical extension section is skipped; what follows counts */
    ferry_buf *b = krl_new(1);
    put_ext(b, 255, "unknown@example.com", 0, "whatever");
    put_key(b, ed);
    put_ext(b, 255, "another@example.com", 0, "");
    ferry_revoke *rl = NULL;
    assert_int_equal(parse_buf(b, &rl), FERRY_OK);
    assert_int_equal(key_revoked(rl, ed), 1);
    assert_int_equal(key_revoked(rl, ec), 0);
    ferry_revoke_free(rl);
    ferry_buf_free(b);
    /* a critical one refuses the KRL */
    b = krl_new(1);
    put_key(b, ed);
    put_ext(b, 255, "unknown@example.com", 1, "whatever");
    expect_parse(b, FERRY_E_UNSUPPORTED);
    ferry_buf_free(b);
    /* the same in a certificates section */
    for (int critical = 0; critical < 2; critical++) {
        b = krl_new(1);
        ferry_buf *certs = certs_new(ca);
        put_ext(certs, 0x39, "cert-ext@example.com", critical, "x");
        static const uint64_t five[] = {5};
        put_serials(certs, five, 1);
        put_section(b, 1, certs);
        rl = NULL;
        int r = parse_buf(b, &rl);
        if (critical) {
            assert_int_equal(r, FERRY_E_UNSUPPORTED);
        } else {
            assert_int_equal(r, FERRY_OK);
            assert_int_equal(cert_revoked(rl, c5, why, sizeof(why)), 1);
            assert_int_equal(cert_revoked(rl, c6, why, sizeof(why)), 0);
        }
        ferry_revoke_free(rl);
        ferry_buf_free(b);
    }
    /* an extension with a byte too many or too few */
    for (int i = 0; i < 2; i++) {
        b = krl_new(1);
        ferry_buf *d = ferry_buf_new(0);
        assert_int_equal(ferry_buf_put_cstring(d, "x@example.com"), FERRY_OK);
        assert_int_equal(ferry_buf_put_bool(d, 0), FERRY_OK);
        if (i == 0) {
            assert_int_equal(ferry_buf_put_cstring(d, "contents"), FERRY_OK);
            assert_int_equal(ferry_buf_put_u8(d, 0), FERRY_OK);
        }
        put_section(b, 255, d);
        expect_parse(b, FERRY_E_FORMAT);
        ferry_buf_free(b);
    }
    ferry_cert_free(c5);
    ferry_cert_free(c6);
    ferry_key_free(ca);
    ferry_key_free(ed);
    ferry_key_free(ec);
}

static void test_refused(void **state)
{
    (void)state;
    ferry_key *ca = load_pub("ca"), *ed = load_pub("u_ed");
    ferry_buf *b, *certs, *d;
    /* signature sections, wherever they are */
    for (int where = 0; where < 2; where++) {
        b = krl_new(1);
        if (where) {
            put_key(b, ed);
        }
        d = ferry_buf_new(0);
        ferry_buf *blob = ferry_buf_new(0);
        assert_int_equal(ferry_key_to_blob(ca, blob), FERRY_OK);
        assert_int_equal(ferry_buf_put_stringb(d, blob), FERRY_OK);
        ferry_buf_free(blob);
        put_section(b, 4, d);
        expect_parse(b, FERRY_E_UNSUPPORTED);
        ferry_buf_free(b);
    }
    /* other format versions */
    static const uint32_t versions[] = {0, 2, 0xffffffffu};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        b = krl_new(versions[i]);
        put_key(b, ed);
        expect_parse(b, FERRY_E_UNSUPPORTED);
        ferry_buf_free(b);
    }
    /* unknown section types; unknown certificate subsection types */
    static const uint8_t types[] = {0, 6, 7, 0x20, 0x23, 0x39, 254};
    for (size_t i = 0; i < sizeof(types); i++) {
        b = krl_new(1);
        d = ferry_buf_new(0);
        put_section(b, types[i], d);
        expect_parse(b, FERRY_E_UNSUPPORTED);
        ferry_buf_free(b);
    }
    static const uint8_t subtypes[] = {0, 1, 2, 0x1f, 0x24, 0x38, 0x3a, 0xff};
    for (size_t i = 0; i < sizeof(subtypes); i++) {
        b = krl_new(1);
        certs = certs_new(ca);
        d = ferry_buf_new(0);
        put_section(certs, subtypes[i], d);
        put_section(b, 1, certs);
        expect_parse(b, FERRY_E_UNSUPPORTED);
        ferry_buf_free(b);
    }
    /* ranges: min > max refused, min == max fine */
    static const struct {
        uint64_t lo, hi;
        int want;
    } ranges[] = {{10, 9, FERRY_E_FORMAT},
                  {UINT64_MAX, 1, FERRY_E_FORMAT},
                  {9, 9, FERRY_OK},
                  {1, UINT64_MAX, FERRY_OK}};
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        b = krl_new(1);
        certs = certs_new(ca);
        put_range(certs, ranges[i].lo, ranges[i].hi);
        put_section(b, 1, certs);
        expect_parse(b, ranges[i].want);
        ferry_buf_free(b);
    }
    /* hashes of the wrong length; empty strings */
    static const uint8_t zeros[64];
    static const struct {
        uint8_t type;
        size_t len;
        int want;
    } hashes[] = {
        {3, 20, FERRY_OK},       {3, 19, FERRY_E_FORMAT}, {3, 21, FERRY_E_FORMAT},
        {3, 32, FERRY_E_FORMAT}, {3, 0, FERRY_E_FORMAT},  {5, 32, FERRY_OK},
        {5, 20, FERRY_E_FORMAT}, {5, 31, FERRY_E_FORMAT}, {5, 33, FERRY_E_FORMAT},
        {5, 0, FERRY_E_FORMAT},
    };
    for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
        b = krl_new(1);
        const uint8_t *v[] = {zeros, zeros};
        size_t n[] = {hashes[i].type == 3 ? 20 : 32, hashes[i].len};
        put_strings(b, hashes[i].type, v, n, 2);
        expect_parse(b, hashes[i].want);
        ferry_buf_free(b);
    }
    b = krl_new(1);
    {
        const uint8_t *v[] = {zeros};
        size_t n[] = {0};
        put_strings(b, 2, v, n, 1); /* an empty "key" */
    }
    ferry_revoke *rl = NULL;
    assert_int_not_equal(parse_buf(b, &rl), FERRY_OK);
    ferry_buf_free(b);
    /* bitmaps: a negative mpint refused */
    static const struct {
        uint8_t mp[3];
        size_t n;
        int want;
    } bitmaps[] = {
        {{0x80}, 1, FERRY_E_FORMAT},
        {{0xff, 0x00}, 2, FERRY_E_FORMAT},
        {{0x80, 0x00, 0x01}, 3, FERRY_E_FORMAT},
        {{0x00, 0x80}, 2, FERRY_OK},
        {{0x7f}, 1, FERRY_OK},
    };
    for (size_t i = 0; i < sizeof(bitmaps) / sizeof(bitmaps[0]); i++) {
        b = krl_new(1);
        certs = certs_new(ca);
        put_bitmap(certs, 100, bitmaps[i].mp, bitmaps[i].n);
        put_section(b, 1, certs);
        expect_parse(b, bitmaps[i].want);
        ferry_buf_free(b);
    }
    /* subsections of the wrong size */
    static const size_t sizes[][2] = {{0x20, 7},  {0x20, 9}, {0x21, 8},
                                      {0x21, 17}, {0x22, 8}, {0x21, 0}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        b = krl_new(1);
        certs = certs_new(ca);
        d = ferry_buf_new(0);
        assert_int_equal(ferry_buf_put(d, zeros, sizes[i][1]), FERRY_OK);
        put_section(certs, (uint8_t)sizes[i][0], d);
        put_section(b, 1, certs);
        expect_parse(b, FERRY_E_FORMAT);
        ferry_buf_free(b);
    }
    /* a key ID list with a cut string */
    b = krl_new(1);
    certs = certs_new(ca);
    d = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_u32(d, 10), FERRY_OK);
    assert_int_equal(ferry_buf_put(d, "short", 5), FERRY_OK);
    put_section(certs, 0x23, d);
    put_section(b, 1, certs);
    expect_parse(b, FERRY_E_FORMAT);
    ferry_buf_free(b);
    /* a CA that is no key; a certificates section without its reserved
     * string */
    b = krl_new(1);
    d = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_string(d, "not a key blob", 14), FERRY_OK);
    assert_int_equal(ferry_buf_put_string(d, "", 0), FERRY_OK);
    put_section(b, 1, d);
    expect_parse(b, FERRY_E_FORMAT);
    ferry_buf_free(b);
    b = krl_new(1);
    d = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_string(d, "", 0), FERRY_OK);
    put_section(b, 1, d);
    expect_parse(b, FERRY_E_FORMAT);
    ferry_buf_free(b);
    /* a section longer than the file; a byte after the last section */
    b = krl_new(1);
    put_key(b, ed);
    assert_int_equal(ferry_buf_put_u8(b, 2), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b, 100), FERRY_OK);
    expect_parse(b, FERRY_E_FORMAT);
    ferry_buf_free(b);
    b = krl_new(1);
    put_key(b, ed);
    assert_int_equal(ferry_buf_put_u8(b, 2), FERRY_OK);
    expect_parse(b, FERRY_E_FORMAT);
    ferry_buf_free(b);
    ferry_key_free(ca);
    ferry_key_free(ed);
}

/* Every prefix of a KRL: one that ends where a section (or the header)
 * ends is a KRL revoking less; any other is refused; under 8 bytes it is
 * no KRL but (empty) key lines. */
static void check_prefixes(const uint8_t *p, size_t len, const ferry_key *k, const ferry_cert *c)
{
    struct layout l;
    layout_of(p, len, &l);
    ferry_revoke *rl = NULL;
    char why[64];
    assert_int_equal(parse(p, len, &rl), FERRY_OK);
    int full_key = key_revoked(rl, k), full_cert = cert_revoked(rl, c, why, sizeof(why));
    ferry_revoke_free(rl);
    for (size_t n = 0; n < len; n++) {
        int boundary = n < 8 || n == l.header_end;
        for (size_t i = 0; i < l.n; i++) {
            boundary |= n == l.ends[i];
        }
        int r = parse(p, n, &rl);
        if (r != (boundary ? FERRY_OK : FERRY_E_FORMAT)) {
            fail_msg("prefix of %zu of %zu bytes: %s", n, len, ferry_errname(r));
        }
        if (r == FERRY_OK) {
            int kr = key_revoked(rl, k), cr = cert_revoked(rl, c, why, sizeof(why));
            /* revocations only add up */
            assert_true(kr <= full_key && cr <= full_cert);
            if (n <= l.header_end) {
                assert_int_equal(kr + cr, 0);
            }
            ferry_revoke_free(rl);
        }
    }
}

static void test_truncated(void **state)
{
    (void)state;
    ferry_key *ca = load_pub("ca"), *ed = load_pub("u_ed"), *ec = load_pub("u_ec");
    char file[64];
    ferry_cert *c = make_cert("ca", "u_ed", "trunc-id", 1001, file, sizeof(file));
    /* every section and subsection type */
    ferry_buf *b = krl_new(1);
    ferry_buf *certs = certs_new(ca);
    static const uint64_t list[] = {3, 1001};
    static const uint8_t bm[] = {0x00, 0x81};
    static const char *const ids[] = {"trunc-id"};
    put_serials(certs, list, 2);
    put_range(certs, 10, 20);
    put_bitmap(certs, 1000, bm, sizeof(bm));
    put_ids(certs, ids, 1);
    put_ext(certs, 0x39, "x@example.com", 0, "y");
    put_section(b, 1, certs);
    put_section(b, 1, certs_new(NULL));
    put_key(b, ec);
    uint8_t h1[20] = {1}, h2[32] = {2};
    const uint8_t *v1[] = {h1}, *v2[] = {h2};
    size_t n1[] = {20}, n2[] = {32};
    put_strings(b, 3, v1, n1, 1);
    put_strings(b, 5, v2, n2, 1);
    put_ext(b, 255, "z@example.com", 0, "");
    put_key(b, ed);
    check_prefixes(ferry_buf_data(b), ferry_buf_len(b), ed, c);
    ferry_buf_free(b);
    /* ssh-keygen's */
    static const char *const krls[] = {"krl_serials", "krl_all", "krl_certs", "krl_ids"};
    for (size_t i = 0; i < sizeof(krls) / sizeof(krls[0]); i++) {
        if (access(path_of(krls[i]), R_OK) != 0) {
            continue; /* its test did not get that far */
        }
        size_t len;
        uint8_t *p = read_file(krls[i], &len);
        check_prefixes(p, len, ed, c);
        free(p);
    }
    ferry_cert_free(c);
    ferry_key_free(ca);
    ferry_key_free(ed);
    ferry_key_free(ec);
}

/* A KRL with revocations under a CA ferry does not use (DSA; RSA under
 * 2048 bits) is still a KRL ssh-keygen and sshd read: the other
 * revocations in it must count. */
static void test_other_ca_keys(void **state)
{
    (void)state;
    static const struct {
        const char *name, *args;
    } cas[] = {{"ca_dsa", "-t dsa"}, {"ca_rsa1024", "-t rsa -b 1024"}};
    char file[64], why[64];
    ferry_cert *c = make_cert("ca", "u_ed", "w", 5, file, sizeof(file));
    int failed = 0;
    for (size_t i = 0; i < sizeof(cas) / sizeof(cas[0]); i++) {
        run("ssh-keygen -q %s -N '' -C weak -f %s && printf 'serial: 1-100\\n' > spec_%s && "
            "ssh-keygen -k -f krl_%s -s %s.pub spec_%s && printf 'serial: 5\\n' > spec5 && "
            "ssh-keygen -k -u -f krl_%s -s ca.pub spec5",
            cas[i].args, cas[i].name, cas[i].name, cas[i].name, cas[i].name, cas[i].name,
            cas[i].name);
        char krl[64];
        snprintf(krl, sizeof(krl), "krl_%s", cas[i].name);
        assert_int_equal(oracle(krl, file), 1);
        ferry_revoke *rl = NULL;
        int r = ferry_revoke_load(path_of(krl), &rl);
        if (r != FERRY_OK) {
            print_error("KRL with a CA made by ssh-keygen %s refused: %s\n", cas[i].args,
                        ferry_errname(r));
            failed = 1;
            continue;
        }
        assert_int_equal(cert_revoked(rl, c, why, sizeof(why)), 1);
        assert_string_equal(why, "serial revoked");
        ferry_revoke_free(rl);
    }
    ferry_cert_free(c);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serials),
        cmocka_unit_test(test_ca_types_and_update),
        cmocka_unit_test(test_key_ids),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_cert_files),
        cmocka_unit_test(test_key_lines),
        cmocka_unit_test(test_key_lines_options_ignored),
        cmocka_unit_test(test_empty_and_missing),
        cmocka_unit_test(test_wildcard_ca),
        cmocka_unit_test(test_bitmap),
        cmocka_unit_test(test_serial_zero),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_other_ca_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
