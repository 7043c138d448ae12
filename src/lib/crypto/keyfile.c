/* keyfile.c: private key files.
 *
 * openssh-key-v1 (OpenSSH PROTOCOL.key): PEM-style armour around base64 of
 *   "openssh-key-v1\0" string cipher, string kdf, string kdfoptions,
 *   uint32 N (=1), string pubkey-blob, string private-section
 * where the private section is
 *   uint32 check, uint32 check, privkey, string comment, padding 1,2,3...
 * up to a multiple of the cipher block size (8 for "none"). Private key
 * encodings are those of the agent protocol (draft-miller-ssh-agent s4.2):
 *   ssh-ed25519: string pub[32], string seed[32]||pub[32]
 *   ecdsa-*:     string curve, string Q, mpint d
 *   ssh-rsa:     mpint n, e, d, iqmp, p, q
 * Encrypted files (cipher aes256-ctr with kdf "bcrypt") need bcrypt_pbkdf,
 * whose Blowfish key schedule OpenSSL does not expose: they are refused
 * with FERRY_E_KDF_BCRYPT (ferry has ssh-keygen(1) decrypt them).
 *
 * PEM / PKCS#8 ("BEGIN RSA/EC/PRIVATE KEY", "BEGIN ENCRYPTED PRIVATE KEY",
 * traditional Proc-Type encryption) go through OpenSSL's PEM reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "crypto/key.h"
#include "crypto/key_int.h"
#include "util/err.h"
#include "util/log.h"

#define KEYFILE_MAX  (1024u * 1024)
#define MAGIC        "openssh-key-v1"
#define ARMOUR_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define ARMOUR_END   "-----END OPENSSH PRIVATE KEY-----"
#define BLOCK_NONE   8
#define B64_LINE     70

/* ---- reading openssh-key-v1 ---- */

/* Base64 body between the armour lines, whitespace removed, decoded. */
static int dearmour(const uint8_t *data, size_t len, ferry_buf *out)
{
    const char *beg = memmem(data, len, ARMOUR_BEGIN, strlen(ARMOUR_BEGIN));
    if (beg == NULL) {
        return FERRY_E_FORMAT;
    }
    const char *body = beg + strlen(ARMOUR_BEGIN);
    size_t left = len - (size_t)(body - (const char *)data);
    const char *end = memmem(body, left, ARMOUR_END, strlen(ARMOUR_END));
    if (end == NULL) {
        return FERRY_E_FORMAT;
    }
    size_t blen = (size_t)(end - body);
    char *clean = malloc(blen + 1);
    if (clean == NULL) {
        return FERRY_E_ALLOC;
    }
    size_t n = 0;
    for (size_t i = 0; i < blen; i++) {
        char c = body[i];
        if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
            clean[n++] = c;
        }
    }
    int r = ferry_base64_decode(clean, n, out);
    OPENSSL_cleanse(clean, blen + 1);
    free(clean);
    return r;
}

static int rd_bn(ferry_rd *r, BIGNUM **bn)
{
    int e = ferry_rd_bignum(r, bn);
    if (e == FERRY_OK) {
        BN_set_flags(*bn, BN_FLG_CONSTTIME);
    }
    return e;
}

static int priv_ed25519(ferry_rd *r, EVP_PKEY **pk)
{
    const uint8_t *pub, *priv;
    size_t pl, sl;
    if (ferry_rd_string(r, &pub, &pl) != FERRY_OK || ferry_rd_string(r, &priv, &sl) != FERRY_OK ||
        pl != 32 || sl != 64) {
        return FERRY_E_FORMAT;
    }
    /* The second half of the private string repeats the public key. */
    if (CRYPTO_memcmp(priv + 32, pub, 32) != 0) {
        return FERRY_E_FORMAT;
    }
    return ferry__ed25519_pkey(pub, priv, pk);
}

static int priv_ecdsa(ferry_rd *r, enum ferry_key_type type, EVP_PKEY **pk)
{
    const uint8_t *curve, *q;
    size_t cl, ql;
    BIGNUM *d = NULL;
    const char *want = ferry__key_curve(type);
    if (ferry_rd_string(r, &curve, &cl) != FERRY_OK || ferry_rd_string(r, &q, &ql) != FERRY_OK ||
        rd_bn(r, &d) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    int e = FERRY_E_FORMAT;
    if (cl == strlen(want) && memcmp(curve, want, cl) == 0) {
        e = ferry__ec_pkey(type, q, ql, d, pk);
    }
    BN_clear_free(d);
    return e;
}

static int priv_rsa(ferry_rd *r, EVP_PKEY **pk)
{
    BIGNUM *bn[6] = {NULL}; /* n, e, d, iqmp, p, q */
    int e = FERRY_OK;
    for (size_t i = 0; i < 6 && e == FERRY_OK; i++) {
        e = rd_bn(r, &bn[i]);
    }
    if (e == FERRY_OK) {
        e = ferry__rsa_pkey(bn[0], bn[1], bn[2], bn[4], bn[5], bn[3], pk);
    }
    for (size_t i = 0; i < 6; i++) {
        BN_clear_free(bn[i]);
    }
    return e;
}

/* One private key in agent encoding: string type, then its fields. */
static int read_private_key(ferry_rd *r, ferry_key **out)
{
    char name[64];
    EVP_PKEY *pk = NULL;
    int e = ferry_rd_name(r, name, sizeof(name));
    if (e != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    enum ferry_key_type type = ferry_key_type_from_name(name);
    /* Key-type names only: "rsa-sha2-*" names signatures, not keys. */
    if (type == FERRY_KEY_UNKNOWN || strncmp(name, "rsa-sha2", 8) == 0) {
        return FERRY_E_KEY_TYPE;
    }
    if (type == FERRY_KEY_ED25519) {
        e = priv_ed25519(r, &pk);
    } else if (type == FERRY_KEY_RSA) {
        e = priv_rsa(r, &pk);
    } else {
        e = priv_ecdsa(r, type, &pk);
    }
    if (e != FERRY_OK) {
        return e;
    }
    return ferry__key_wrap(pk, type, 1, out);
}

/* The decrypted private section: checkints, key, comment, padding. */
static int read_private_section(const uint8_t *p, size_t len, size_t block, ferry_key **out,
                                char **comment)
{
    ferry_rd r;
    uint32_t c1, c2;
    ferry_key *k = NULL;
    char *cm = NULL;
    ferry_rd_init(&r, p, len);
    if (len % block != 0 || ferry_rd_u32(&r, &c1) != FERRY_OK ||
        ferry_rd_u32(&r, &c2) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    if (c1 != c2) {
        return FERRY_E_FORMAT;
    }
    int e = read_private_key(&r, &k);
    if (e == FERRY_OK && ferry_rd_cstring(&r, 4096, &cm, NULL) != FERRY_OK) {
        e = FERRY_E_FORMAT;
    }
    /* Padding: 1, 2, 3, ... (fewer than one block). */
    for (uint8_t i = 1; e == FERRY_OK && ferry_rd_left(&r) > 0; i++) {
        uint8_t b;
        if (i > block || ferry_rd_u8(&r, &b) != FERRY_OK || b != i) {
            e = FERRY_E_FORMAT;
        }
    }
    if (e != FERRY_OK) {
        ferry_key_free(k);
        free(cm);
        return e;
    }
    *out = k;
    *comment = cm;
    return FERRY_OK;
}

static int check_cipher(ferry_rd *r)
{
    char cipher[64], kdf[64];
    const uint8_t *opts;
    size_t olen;
    if (ferry_rd_name(r, cipher, sizeof(cipher)) != FERRY_OK ||
        ferry_rd_name(r, kdf, sizeof(kdf)) != FERRY_OK ||
        ferry_rd_string(r, &opts, &olen) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    if (strcmp(cipher, "none") == 0 && strcmp(kdf, "none") == 0 && olen == 0) {
        return FERRY_OK;
    }
    if (strcmp(cipher, "none") == 0 || strcmp(kdf, "none") == 0) {
        return FERRY_E_FORMAT;
    }
    if (strcmp(kdf, "bcrypt") == 0) {
        /* bcrypt_pbkdf is not in libcrypto: the caller may let
         * ssh-keygen(1) decrypt the file (ferry does) */
        return FERRY_E_KDF_BCRYPT;
    }
    ferry_warn("encrypted OpenSSH private key (cipher %s, kdf %s) not supported", cipher, kdf);
    return FERRY_E_UNSUPPORTED;
}

static int parse_openssh(const uint8_t *p, size_t len, ferry_key **out, char **comment)
{
    ferry_rd r;
    const uint8_t *magic, *pub, *priv;
    size_t publen, privlen;
    uint32_t nkeys;
    ferry_key *k = NULL;
    char *cm = NULL;
    ferry_rd_init(&r, p, len);
    if (ferry_rd_bytes(&r, sizeof(MAGIC), &magic) != FERRY_OK ||
        memcmp(magic, MAGIC, sizeof(MAGIC)) != 0) {
        return FERRY_E_FORMAT;
    }
    int e = check_cipher(&r);
    if (e != FERRY_OK) {
        return e;
    }
    if (ferry_rd_u32(&r, &nkeys) != FERRY_OK || nkeys != 1 ||
        ferry_rd_string(&r, &pub, &publen) != FERRY_OK ||
        ferry_rd_string(&r, &priv, &privlen) != FERRY_OK || ferry_rd_end(&r) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    e = read_private_section(priv, privlen, BLOCK_NONE, &k, &cm);
    if (e != FERRY_OK) {
        return e;
    }
    /* The public key in the header must be the private key's. */
    ferry_key *hdr = NULL;
    e = ferry_key_from_blob(pub, publen, &hdr);
    if (e != FERRY_OK || !ferry_key_equal_public(hdr, k)) {
        e = FERRY_E_FORMAT;
        ferry_key_free(k);
        free(cm);
    } else {
        *out = k;
        *comment = cm;
    }
    ferry_key_free(hdr);
    return e;
}

/* ---- PEM through OpenSSL ---- */

static int pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pass = u;
    if (pass == NULL) {
        return -1;
    }
    size_t n = strlen(pass);
    if (size < 0 || n > (size_t)size) {
        return -1;
    }
    memcpy(buf, pass, n);
    return (int)n;
}

static int load_pem(const uint8_t *data, size_t len, const char *passphrase, ferry_key **out)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL) {
        return ferry_err_crypto();
    }
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, pem_pass_cb, (void *)passphrase);
    BIO_free(bio);
    if (pk == NULL) {
        ERR_clear_error();
        /* PKCS#8 "ENCRYPTED PRIVATE KEY" or traditional "Proc-Type: 4,ENCRYPTED". */
        if (memmem(data, len, "ENCRYPTED", 9) != NULL) {
            return FERRY_E_BAD_PASSPHRASE;
        }
        return FERRY_E_FORMAT;
    }
    return ferry__key_from_pkey(pk, out);
}

int ferry_key_load_private(const uint8_t *data, size_t len, const char *passphrase, ferry_key **out,
                           char **comment)
{
    if (len > KEYFILE_MAX) {
        return FERRY_E_TOO_LARGE;
    }
    ferry_key *k = NULL;
    char *cm = NULL;
    int e;
    if (memmem(data, len, ARMOUR_BEGIN, strlen(ARMOUR_BEGIN)) != NULL) {
        ferry_buf *bin = ferry_buf_new(KEYFILE_MAX);
        if (bin == NULL) {
            return FERRY_E_ALLOC;
        }
        ferry_buf_set_secret(bin);
        e = dearmour(data, len, bin);
        if (e == FERRY_OK) {
            e = parse_openssh(ferry_buf_data(bin), ferry_buf_len(bin), &k, &cm);
        }
        ferry_buf_free(bin);
    } else {
        e = load_pem(data, len, passphrase, &k);
        cm = e == FERRY_OK ? strdup("") : NULL;
        if (e == FERRY_OK && cm == NULL) {
            e = FERRY_E_ALLOC;
        }
    }
    if (e != FERRY_OK) {
        ferry_key_free(k);
        return e;
    }
    *out = k;
    if (comment != NULL) {
        *comment = cm;
    } else {
        free(cm);
    }
    return FERRY_OK;
}

static int errno_to_ferry(int e)
{
    if (e == ENOENT) {
        return FERRY_E_NOT_FOUND;
    }
    if (e == EACCES || e == EPERM) {
        return FERRY_E_PERMISSION;
    }
    return ferry_err_sys();
}

/* Reads a whole small file into a (secret) buffer. */
static int read_file(const char *path, size_t max, ferry_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return errno_to_ferry(errno);
    }
    uint8_t tmp[4096];
    int r = FERRY_OK;
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            r = n < 0 ? ferry_err_sys() : FERRY_OK;
            break;
        }
        if (ferry_buf_len(out) + (size_t)n > max) {
            r = FERRY_E_TOO_LARGE;
            break;
        }
        r = ferry_buf_put(out, tmp, (size_t)n);
        if (r != FERRY_OK) {
            break;
        }
    }
    OPENSSL_cleanse(tmp, sizeof(tmp));
    close(fd);
    return r;
}

int ferry_key_load_private_file(const char *path, const char *passphrase, ferry_key **out,
                                char **comment)
{
    ferry_buf *b = ferry_buf_new(KEYFILE_MAX);
    if (b == NULL) {
        return FERRY_E_ALLOC;
    }
    ferry_buf_set_secret(b);
    int r = read_file(path, KEYFILE_MAX, b);
    if (r == FERRY_OK) {
        r = ferry_key_load_private(ferry_buf_data(b), ferry_buf_len(b), passphrase, out, comment);
    }
    ferry_buf_free(b);
    return r;
}

/* ---- writing openssh-key-v1 ---- */

static int put_private_ed25519(const ferry_key *k, ferry_buf *out)
{
    uint8_t kp[64];
    size_t sl = 32, pl = 32;
    int r = FERRY_OK;
    EVP_PKEY *pk = ferry__key_pkey(k);
    if (EVP_PKEY_get_raw_private_key(pk, kp, &sl) != 1 || sl != 32 ||
        EVP_PKEY_get_raw_public_key(pk, kp + 32, &pl) != 1 || pl != 32) {
        r = ferry_err_crypto();
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_string(out, kp + 32, 32);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_string(out, kp, 64);
    }
    OPENSSL_cleanse(kp, sizeof(kp));
    return r;
}

static int put_private_key(const ferry_key *k, ferry_buf *out)
{
    int r = ferry_buf_put_cstring(out, ferry_key_type_name(k));
    if (r != FERRY_OK) {
        return r;
    }
    switch (ferry_key_type(k)) {
    case FERRY_KEY_ED25519:
        return put_private_ed25519(k, out);
    case FERRY_KEY_RSA: {
        static const char *const params[] = {
            OSSL_PKEY_PARAM_RSA_N,       OSSL_PKEY_PARAM_RSA_E,
            OSSL_PKEY_PARAM_RSA_D,       OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
            OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
        };
        for (size_t i = 0; i < 6 && r == FERRY_OK; i++) {
            r = ferry__key_put_bn(k, params[i], out);
        }
        return r;
    }
    case FERRY_KEY_ECDSA_P256:
    case FERRY_KEY_ECDSA_P384:
    case FERRY_KEY_ECDSA_P521:
        r = ferry_buf_put_cstring(out, ferry__key_curve(ferry_key_type(k)));
        if (r == FERRY_OK) {
            r = ferry__ec_put_point(k, out);
        }
        return r == FERRY_OK ? ferry__key_put_bn(k, OSSL_PKEY_PARAM_PRIV_KEY, out) : r;
    default:
        return FERRY_E_KEY_TYPE;
    }
}

static int build_private_section(const ferry_key *k, const char *comment, ferry_buf *sec)
{
    uint32_t check;
    if (RAND_bytes((unsigned char *)&check, sizeof(check)) != 1) {
        return ferry_err_crypto();
    }
    int r = ferry_buf_put_u32(sec, check);
    if (r == FERRY_OK) {
        r = ferry_buf_put_u32(sec, check);
    }
    if (r == FERRY_OK) {
        r = put_private_key(k, sec);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_cstring(sec, comment ? comment : "");
    }
    for (uint8_t i = 1; r == FERRY_OK && ferry_buf_len(sec) % BLOCK_NONE != 0; i++) {
        r = ferry_buf_put_u8(sec, i);
    }
    return r;
}

static int build_binary(const ferry_key *k, const char *comment, ferry_buf *bin)
{
    ferry_buf *pub = ferry_buf_new(0), *sec = ferry_buf_new(0);
    int r = FERRY_E_ALLOC;
    if (pub == NULL || sec == NULL) {
        goto out;
    }
    ferry_buf_set_secret(sec);
    r = ferry_key_to_blob(k, pub);
    if (r == FERRY_OK) {
        r = build_private_section(k, comment, sec);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put(bin, MAGIC, sizeof(MAGIC));
    }
    const char *const hdr[] = {"none", "none", ""};
    for (size_t i = 0; i < 3 && r == FERRY_OK; i++) {
        r = ferry_buf_put_cstring(bin, hdr[i]);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_u32(bin, 1);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_stringb(bin, pub);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_stringb(bin, sec);
    }
out:
    ferry_buf_free(pub);
    ferry_buf_free(sec);
    return r;
}

/* Armour with 70-column base64 lines, as ssh-keygen writes. */
static int armour(const char *b64, ferry_buf *out)
{
    size_t n = strlen(b64);
    int r = ferry_buf_put(out, ARMOUR_BEGIN "\n", strlen(ARMOUR_BEGIN) + 1);
    for (size_t off = 0; r == FERRY_OK && off < n; off += B64_LINE) {
        size_t l = n - off < B64_LINE ? n - off : B64_LINE;
        r = ferry_buf_put(out, b64 + off, l);
        if (r == FERRY_OK) {
            r = ferry_buf_put_u8(out, '\n');
        }
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put(out, ARMOUR_END "\n", strlen(ARMOUR_END) + 1);
    }
    return r;
}

int ferry_key_save_private(const ferry_key *k, const char *comment, ferry_buf *out)
{
    if (!ferry_key_is_private(k)) {
        return FERRY_E_INVALID_ARG;
    }
    char *b64 = NULL;
    size_t start = ferry_buf_len(out);
    ferry_buf *bin = ferry_buf_new(0);
    int r = FERRY_E_ALLOC;
    if (bin == NULL) {
        goto out;
    }
    ferry_buf_set_secret(bin);
    r = build_binary(k, comment, bin);
    if (r == FERRY_OK) {
        r = ferry_base64_encode(ferry_buf_data(bin), ferry_buf_len(bin), &b64);
    }
    if (r == FERRY_OK) {
        r = armour(b64, out);
    }
    if (r != FERRY_OK) {
        ferry_buf_truncate(out, start);
    }
out:
    if (b64 != NULL) {
        OPENSSL_cleanse(b64, strlen(b64));
        free(b64);
    }
    ferry_buf_free(bin);
    return r;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return ferry_err_sys();
        }
        p += w;
        n -= (size_t)w;
    }
    return FERRY_OK;
}

/* Writes `data` to a fresh temporary file beside `path` (created with
 * O_EXCL, mode 0600, then chmod to `mode`), fsyncs it and renames it over
 * `path`. */
static int write_atomic(const char *path, const uint8_t *data, size_t len, mode_t mode)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
        return FERRY_E_ALLOC;
    }
    int fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT|O_EXCL, mode 0600 */
    int r = FERRY_OK;
    if (fd < 0) {
        r = errno_to_ferry(errno);
        free(tmp);
        return r;
    }
    if (fchmod(fd, mode) != 0) {
        r = ferry_err_sys();
    }
    if (r == FERRY_OK) {
        r = write_all(fd, data, len);
    }
    if (r == FERRY_OK && fsync(fd) != 0) {
        r = ferry_err_sys();
    }
    if (close(fd) != 0 && r == FERRY_OK) {
        r = ferry_err_sys();
    }
    if (r == FERRY_OK && rename(tmp, path) != 0) {
        r = errno_to_ferry(errno);
    }
    if (r != FERRY_OK) {
        unlink(tmp);
    }
    free(tmp);
    return r;
}

int ferry_key_save_private_file(const ferry_key *k, const char *comment, const char *path,
                                const char *pub_path)
{
    char *line = NULL;
    ferry_buf *b = ferry_buf_new(0);
    int r = FERRY_E_ALLOC;
    if (b == NULL) {
        goto out;
    }
    ferry_buf_set_secret(b);
    r = ferry_key_save_private(k, comment, b);
    if (r == FERRY_OK) {
        r = write_atomic(path, ferry_buf_data(b), ferry_buf_len(b), 0600);
    }
    if (r == FERRY_OK && pub_path != NULL) {
        r = ferry_key_format_public_line(k, comment, &line);
        if (r == FERRY_OK) {
            ferry_buf_reset(b);
            r = ferry_buf_put(b, line, strlen(line));
        }
        if (r == FERRY_OK) {
            r = ferry_buf_put_u8(b, '\n');
        }
        if (r == FERRY_OK) {
            r = write_atomic(pub_path, ferry_buf_data(b), ferry_buf_len(b), 0644);
        }
    }
out:
    free(line);
    ferry_buf_free(b);
    return r;
}
