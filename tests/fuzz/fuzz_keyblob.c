/* fuzz_keyblob: public key blobs and signature blobs.
 *
 * Input: uint16 (big-endian) blob length, the key blob, then the signature
 * blob (the rest). The blob goes to ferry_key_from_blob; a key that parses
 * is re-encoded (must give back the same bytes), fingerprinted, and made to
 * verify the signature over a fixed message, with no algorithm demanded and
 * with each algorithm name that suits it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/key.h"
#include "util/buf.h"
#include "util/err.h"

static const uint8_t msg[] = "ferry fuzz message";

static void check_reencode(const ferry_key *k, const uint8_t *blob, size_t len)
{
    ferry_buf *b = ferry_buf_new(0);
    if (b == NULL) {
        return;
    }
    if (ferry_key_to_blob(k, b) != FERRY_OK || ferry_buf_len(b) != len ||
        memcmp(ferry_buf_data(b), blob, len) != 0) {
        abort(); /* a blob we accept must be canonical */
    }
    ferry_buf_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    size_t blen = (size_t)data[0] << 8 | data[1];
    if (blen > size - 2) {
        blen = size - 2;
    }
    const uint8_t *blob = data + 2, *sig = data + 2 + blen;
    size_t siglen = size - 2 - blen;
    ferry_key *k = NULL;
    if (ferry_key_from_blob(blob, blen, &k) != FERRY_OK) {
        return 0;
    }
    check_reencode(k, blob, blen);
    char fp[128];
    if (ferry_key_fingerprint(k, fp, sizeof(fp)) != FERRY_OK) {
        abort();
    }
    (void)ferry_key_verify(k, NULL, sig, siglen, msg, sizeof(msg));
    static const char *const algs[] = {"ssh-ed25519",
                                       "ecdsa-sha2-nistp256",
                                       "ecdsa-sha2-nistp384",
                                       "ecdsa-sha2-nistp521",
                                       "rsa-sha2-512",
                                       "rsa-sha2-256",
                                       "ssh-rsa"};
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (ferry_key_sigalg_ok(k, algs[i])) {
            (void)ferry_key_verify(k, algs[i], sig, siglen, msg, sizeof(msg));
        }
    }
    ferry_key_free(k);
    return 0;
}
