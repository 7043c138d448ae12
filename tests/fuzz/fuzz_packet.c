/* fuzz_packet: the binary packet layer and message routing of a session
 * that is past its version exchange.
 *
 * Input: byte 0 selects the setup:
 *   bit 0     role (0 client, 1 server)
 *   bits 1-2  state: 0 first kex, 1 keys in place (AUTH), 2 authenticated
 *             (OPEN), 3 AUTH with strict kex
 *   bits 3-7  how the rest is cut into ferry_ssh_input calls (chunk size
 *             1 + value * 7)
 * The rest is the byte stream after the peer's version line, read as
 * plaintext packets ("none" protection, as before NEWKEYS; states past the
 * first kex are simulated, so every message number reaches the gate and
 * its handler). Must never crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ferry_key *keys[1];
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    if (size < 1) {
        return 0;
    }
    if (keys[0] == NULL) {
        keys[0] = pair_hostkey(FERRY_KEY_ED25519);
    }
    pair_default_configs(&c, &s);
    s.host_keys = keys;
    s.n_host_keys = 1;
    int server = data[0] & 1;
    int st = (data[0] >> 1) & 3;
    size_t chunk = 1 + (size_t)(data[0] >> 3) * 7;
    if (ferry_ssh_new(&x, server ? &s : &c) != FERRY_OK) {
        return 0;
    }
    (void)ferry_ssh_start(x);
    (void)ferry_ssh_input(x, (const uint8_t *)"SSH-2.0-fuzz\r\n", 14);
    if (st > 0) {
        x->kex_count = 1;
        x->state = st == 2 ? FERRY_ST_OPEN : FERRY_ST_AUTH;
        x->authenticated = st == 2;
        x->strict_kex = st == 3;
        ferry__kex_free(x);
        (void)ferry__kex_init(x);
        x->in_kex = x->tx_kex = x->rx_kex = 0;
        x->session_id_len = 32;
    }
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
