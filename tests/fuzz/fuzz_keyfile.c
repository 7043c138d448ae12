/* fuzz_keyfile: private key files (openssh-key-v1 and PEM/PKCS#8) through
 * ferry_key_load_private. Byte 0 picks the passphrase (none, or "fuzzpass"),
 * the rest is the file. A key that loads is saved and loaded again, and
 * must come back with the same public part. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crypto/key.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

static void roundtrip(const ferry_key *k)
{
    ferry_buf *b = ferry_buf_new(0);
    ferry_key *k2 = NULL;
    if (b == NULL) {
        return;
    }
    if (ferry_key_save_private(k, "c", b) != FERRY_OK ||
        ferry_key_load_private(ferry_buf_data(b), ferry_buf_len(b), NULL, &k2, NULL) != FERRY_OK ||
        !ferry_key_equal_public(k, k2)) {
        abort();
    }
    ferry_key_free(k2);
    ferry_buf_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferry_log_set_level(-1);
    if (size < 1) {
        return 0;
    }
    const char *pass = (data[0] & 1) ? "fuzzpass" : NULL;
    ferry_key *k = NULL;
    char *comment = NULL;
    if (ferry_key_load_private(data + 1, size - 1, pass, &k, &comment) == FERRY_OK) {
        if (comment == NULL || !ferry_key_is_private(k)) {
            abort();
        }
        roundtrip(k);
        ferry_key_free(k);
        free(comment);
    }
    return 0;
}
