/* fuzz_session_preauth: everything a peer can send before keys are in
 * place, from the first byte: version line (and, to a client, the lines
 * before it), KEXINIT, kex method messages, NEWKEYS.
 *
 * Input: byte 0 bit 0 = our role (0 client, 1 server); bits 1-7 cut the
 * rest into ferry_ssh_input calls of 1 + value * 37 bytes. The seeds are
 * real first flights captured from the in-memory pair, so mutations reach
 * the kex methods (DH/GEX/ECDH values, host key blobs, signatures).
 * Must never crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

static int accept_all(void *ctx, const ferry_key *k)
{
    (void)ctx;
    (void)k;
    return FERRY_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ferry_key *keys[3];
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    if (size < 1) {
        return 0;
    }
    if (keys[0] == NULL) {
        keys[0] = pair_hostkey(FERRY_KEY_ED25519);
        keys[1] = pair_hostkey(FERRY_KEY_ECDSA_P256);
        keys[2] = pair_hostkey(FERRY_KEY_RSA);
    }
    pair_default_configs(&c, &s);
    c.verify_hostkey = accept_all;
    c.kex_algs = s.kex_algs = ferry_kexalg_supported();
    s.host_keys = keys;
    s.n_host_keys = 3;
    int server = data[0] & 1;
    size_t chunk = 1 + (size_t)(data[0] >> 1) * 37;
    if (ferry_ssh_new(&x, server ? &s : &c) != FERRY_OK) {
        return 0;
    }
    (void)ferry_ssh_start(x);
    data++;
    size--;
    while (size > 0 && !ferry_ssh_is_closed(x)) {
        size_t n = size < chunk ? size : chunk;
        (void)ferry_ssh_input(x, data, n);
        data += n;
        size -= n;
        size_t len = 0;
        (void)ferry_ssh_output(x, &len);
        ferry_ssh_output_consume(x, len);
    }
    ferry_ssh_free(x);
    return 0;
}
