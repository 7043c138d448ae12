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
#include <string.h>

#include <zlib.h>

#include "helpers/chantest.h"
#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

/* Feeds one payload as a plaintext packet and drops what the session
 * answered. */
static void feed_packet(ferry_ssh *x, const uint8_t *p, size_t n)
{
    (void)ct_feed(x, p, n);
    (void)ct_drain(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    if (size < 1) {
        return 0;
    }
    pair_default_configs(&c, &s);
    c.compression = s.compression = 1;
    int server = data[0] & 1, ours = (data[0] >> 1) & 1;
    if (ct_raw_session(&x, server ? &s : &c, 1) != FERRY_OK) {
        return 0;
    }
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
