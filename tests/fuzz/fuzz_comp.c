/* fuzz_comp: zlib@openssh.com decompression of received packets in an
 * authenticated session (both roles).
 *
 * Input: byte 0 bit 0 = role (0 client, 1 server), bit 1 = how the
 * payloads below are sent: 0 as they are (hostile deflate data for the
 * inflater), 1 compressed here by a deflate stream of our own (valid
 * streams, so any message reaches the session after decompression).
 * Then payloads, each a big-endian uint16 length and its bytes, each
 * framed as one plaintext packet (the "none" protection of the session
 * before keys; compression is switched on as after USERAUTH_SUCCESS).
 * Must never crash, leak or hang; a decompressed packet over the packet
 * limit or bad deflate data must end the session. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

/* One plaintext packet around payload p[n] (padding to 8, at least 4). */
static void feed_packet(ferry_ssh *x, const uint8_t *p, size_t n)
{
    size_t pad = 8 - (5 + n) % 8;
    pad = pad < 4 ? pad + 8 : pad;
    size_t len = 1 + n + pad;
    uint8_t *pkt = calloc(1, 4 + len);
    if (pkt == NULL) {
        return;
    }
    pkt[0] = (uint8_t)(len >> 24);
    pkt[1] = (uint8_t)(len >> 16);
    pkt[2] = (uint8_t)(len >> 8);
    pkt[3] = (uint8_t)len;
    pkt[4] = (uint8_t)pad;
    memcpy(pkt + 5, p, n);
    (void)ferry_ssh_input(x, pkt, 4 + len);
    free(pkt);
    size_t out = 0;
    (void)ferry_ssh_output(x, &out);
    ferry_ssh_output_consume(x, out);
}

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
    c.compression = s.compression = 1;
    int server = data[0] & 1, ours = (data[0] >> 1) & 1;
    if (ferry_ssh_new(&x, server ? &s : &c) != FERRY_OK) {
        return 0;
    }
    (void)ferry_ssh_start(x);
    (void)ferry_ssh_input(x, (const uint8_t *)"SSH-2.0-fuzz\r\n", 14);
    x->kex_count = 1;
    x->state = FERRY_ST_OPEN;
    x->authenticated = 1;
    ferry__kex_free(x);
    (void)ferry__kex_init(x);
    x->in_kex = x->tx_kex = x->rx_kex = 0;
    x->session_id_len = 32;
    x->comp_neg[0] = x->comp_neg[1] = 1;
    if (ferry__comp_auth_done(x) != FERRY_OK) {
        ferry_ssh_free(x);
        return 0;
    }
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (ours && deflateInit(&z, Z_DEFAULT_COMPRESSION) != Z_OK) {
        ferry_ssh_free(x);
        return 0;
    }
    static uint8_t buf[300 * 1024];
    data++;
    size--;
    while (size >= 2 && !ferry_ssh_is_closed(x)) {
        size_t n = (size_t)data[0] << 8 | data[1];
        data += 2;
        size -= 2;
        n = n < size ? n : size;
        if (ours) {
            z.next_in = (Bytef *)(uintptr_t)data;
            z.avail_in = (uInt)n;
            z.next_out = buf;
            z.avail_out = sizeof(buf);
            if (deflate(&z, Z_PARTIAL_FLUSH) != Z_OK) {
                break;
            }
            feed_packet(x, buf, sizeof(buf) - z.avail_out);
        } else {
            feed_packet(x, data, n);
        }
        data += n;
        size -= n;
    }
    if (ours) {
        deflateEnd(&z);
    }
    ferry_ssh_free(x);
    return 0;
}
