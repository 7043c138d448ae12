/* fuzz_channel: the connection layer of both roles against hostile
 * messages.
 *
 * Input: one role byte (even = server, odd = client), then messages, each
 * a big-endian uint16 length and the payload (message number first), fed
 * as plaintext packets to an authenticated session without key exchange
 * (helpers/chantest ct_raw_session). The server runs the echo subsystem
 * "sftp" with a small window (bit 1 of the role byte: a stalled consumer);
 * the client has opened an "sftp" channel (id 0) to a sink. After each
 * message the replies are drained (which pumps the channels) and, for the
 * client, some data is written into its channel. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "helpers/chantest.h"
#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    ferry_ssh_config c, s;
    ct_store st = {0};
    ct_server srv = {0};
    ct_sink k;
    ferry_ssh *x = NULL;
    static const uint8_t junk[3000];
    if (len < 1) {
        return 0;
    }
    ferry_log_set_level(FERRY_LOG_ERROR);
    ct_configs(&c, &s, &st, &srv, NULL);
    s.window = c.window = 8192;
    s.max_channels = 3;
    srv.stall = (data[0] & 2) != 0;
    ct_sink_init(&k);
    k.max_take = (data[0] & 4) ? 100 : 0;
    int client = data[0] & 1;
    if (ct_raw_session(&x, client ? &c : &s, 1) == FERRY_OK && client) {
        (void)ferry_ssh_open_subsystem(x, "sftp", &ct_sink_ops, &k, NULL);
    }
    size_t off = 1;
    while (x != NULL && !ferry_ssh_is_closed(x) && off + 2 <= len) {
        size_t n = ((size_t)data[off] << 8) | data[off + 1];
        off += 2;
        if (n == 0 || n > len - off) {
            break;
        }
        (void)ct_feed(x, data + off, n);
        (void)ct_drain(x);
        if (k.ch != NULL && !ferry_ssh_is_closed(x)) {
            (void)ferry_channel_write(k.ch, junk, sizeof(junk));
        }
        off += n;
    }
    ferry_ssh_free(x);
    ct_sink_free(&k);
    return 0;
}
