/* fuzz_kexinit: a peer's KEXINIT (parsing, name-list negotiation, strict
 * kex and ext-info detection, the guess rule) and what follows it.
 *
 * Input: byte 0 bit 0 = our role (0 client, 1 server), bit 1 = whether
 * our own KEXINIT is sent first (start) or in reply; the rest is the
 * KEXINIT payload after the message number (cookie, 10 name-lists,
 * first_kex_packet_follows, reserved), wrapped in a plaintext packet and
 * fed after a version line. Any bytes after the first 64 KiB are ignored.
 * Must never crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ferry_key *keys[2];
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    if (size < 1) {
        return 0;
    }
    if (keys[0] == NULL) {
        keys[0] = pair_hostkey(FERRY_KEY_ED25519);
        keys[1] = pair_hostkey(FERRY_KEY_ECDSA_P256);
    }
    pair_default_configs(&c, &s);
    s.host_keys = keys;
    s.n_host_keys = 2;
    int server = data[0] & 1;
    int start = (data[0] >> 1) & 1;
    data++;
    size--;
    if (size > 65536) {
        size = 65536;
    }
    if (ferry_ssh_new(&x, server ? &s : &c) != FERRY_OK) {
        return 0;
    }
    if (start) {
        (void)ferry_ssh_start(x);
    }
    ferry_buf *in = ferry_buf_new(0);
    uint8_t *payload = malloc(size + 1);
    if (in != NULL && payload != NULL) {
        payload[0] = SSH_MSG_KEXINIT;
        memcpy(payload + 1, data, size);
        (void)ferry_buf_put(in, "SSH-2.0-fuzz\r\n", 14);
        (void)pair_plain_packet(in, payload, size + 1);
        (void)ferry_ssh_input(x, ferry_buf_data(in), ferry_buf_len(in));
    }
    free(payload);
    ferry_buf_free(in);
    ferry_ssh_free(x);
    return 0;
}
