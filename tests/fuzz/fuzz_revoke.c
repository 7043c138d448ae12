/* fuzz_revoke: revocation lists (OpenSSH KRLs, or public key lines)
 * through ferry_revoke_parse; a list that parses is asked about a fixed
 * certificate (ed25519 key, ed25519 CA, serial 1001, key ID "fuzz-id",
 * made by ssh-keygen -s), its certified key, its CA and another key. The
 * answers must be 0 or 1, the same every time and with or without a
 * reason buffer; a revoked certificate must give one of the documented
 * reasons, and must be revoked when its key or its CA is. The seeds are
 * KRLs from ssh-keygen -k about these keys (serial lists, ranges,
 * bitmaps, key IDs, keys, SHA-1/SHA-256 hashes, an update), a few built
 * by hand (wildcard CA, extensions, a signature) and a key line file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "crypto/key.h"
#include "ssh/revoke.h"
#include "util/err.h"

#define FUZZ_CERT                                                                                  \
    "ssh-ed25519-cert-v01@openssh.com "                                                            \
    "AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIJRmARwLqHhkLoYyvztxm1vPuITGQywRBrr2fasX" \
    "HJmSAAAAINxQwkntHJbPKimXSVnY+jmHnBwZwRmXrM1lmJxYkkESAAAAAAAAA+kAAAABAAAAB2Z1enotaWQAAAAJAAAA" \
    "BWFsaWNlAAAAAAAAAAD//////////wAAAAAAAACCAAAAFXBlcm1pdC1YMTEtZm9yd2FyZGluZwAAAAAAAAAXcGVybWl0" \
    "LWFnZW50LWZvcndhcmRpbmcAAAAAAAAAFnBlcm1pdC1wb3J0LWZvcndhcmRpbmcAAAAAAAAACnBlcm1pdC1wdHkAAAAA" \
    "AAAADnBlcm1pdC11c2VyLXJjAAAAAAAAAAAAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIFYCJf2IBDcEdUGOpZQfxsC6U3gG" \
    "5YVPR+O9jiOWzPLSAAAAUwAAAAtzc2gtZWQyNTUxOQAAAECACCUxOfYu3ky61lLOjCl22Odd+ufRkMSKQku2rZY6h8HH" \
    "OIZGNJtpegWNnpsvrZ6F5c6R1PMLJpPwXW9ianEA fuzz-user"
#define FUZZ_OTHER_KEY                                                                             \
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPyLnuamkcD+S2+lj87wFDrw0QtPPQT8WgCQq0g0ysb+ fuzz-other"

static const uint8_t krl_magic[8] = {'S', 'S', 'H', 'K', 'R', 'L', '\n', '\0'};

static const ferry_cert *fixed_cert(void)
{
    static ferry_cert *c;
    if (c == NULL && (ferry_cert_parse_line(FUZZ_CERT, &c) != FERRY_OK || c->serial != 1001 ||
                      strcmp(c->key_id, "fuzz-id") != 0)) {
        abort();
    }
    return c;
}

static const ferry_key *other_key(void)
{
    static ferry_key *k;
    if (k == NULL && ferry_key_parse_public_line(FUZZ_OTHER_KEY, &k, NULL) != FERRY_OK) {
        abort();
    }
    return k;
}

static int ask_key(const ferry_revoke *rl, const ferry_key *k)
{
    int r = ferry_revoke_key(rl, k);
    if ((r != 0 && r != 1) || ferry_revoke_key(rl, k) != r) {
        abort();
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ferry_cert *c = fixed_cert();
    int is_krl = size >= sizeof(krl_magic) && memcmp(data, krl_magic, sizeof(krl_magic)) == 0;
    ferry_revoke *rl = NULL;
    int r = ferry_revoke_parse(data, size, &rl);
    if (r != FERRY_OK) {
        /* *out only on success; a KRL is malformed or unsupported */
        if (rl != NULL || r >= 0 ||
            (is_krl && r != FERRY_E_FORMAT && r != FERRY_E_UNSUPPORTED && r != FERRY_E_ALLOC)) {
            abort();
        }
        return 0;
    }
    int key = ask_key(rl, c->key), ca = ask_key(rl, c->ca);
    (void)ask_key(rl, other_key());
    char why[64], small[4];
    memset(why, 0, sizeof(why));
    int cr = ferry_revoke_cert(rl, c, why, sizeof(why));
    if ((cr != 0 && cr != 1) || ferry_revoke_cert(rl, c, NULL, 0) != cr ||
        ferry_revoke_cert(rl, c, small, sizeof(small)) != cr || (cr && small[3] != '\0')) {
        abort();
    }
    if ((key || ca) && !cr) {
        abort(); /* a certificate of a revoked key, or by a revoked CA */
    }
    if (cr) {
        static const char *const reasons[] = {"serial revoked", "key ID revoked",
                                              "certified key revoked", "CA key revoked"};
        size_t i = 0;
        while (i < 4 && strcmp(why, reasons[i]) != 0) {
            i++;
        }
        /* serials and key IDs come only from a KRL; a key list revokes
         * the certificate through its key or CA only */
        if (i == 4 || (!is_krl && i < 2) || (i == 2 && !key) || (i == 3 && (!ca || key))) {
            abort();
        }
    }
    ferry_revoke_free(rl);
    return 0;
}
