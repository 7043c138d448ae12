/* comp.c: zlib@openssh.com compression (RFC 4253 s6.2 with OpenSSH's
 * delayed start, PROTOCOL "zlib@openssh.com"): negotiated like any
 * algorithm, switched on for both directions only once authentication
 * succeeded — for the server after it sent USERAUTH_SUCCESS, for the
 * client after it received it — so nothing an unauthenticated peer sends
 * reaches zlib. One zlib stream per direction for the whole session
 * (across rekeys); each packet's payload is compressed with a partial
 * flush and the receiver inflates it into a buffer bounded by the packet
 * limit (a small packet cannot become a large one). zlib does the
 * compression; this file only frames it. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "ssh/ssh_int.h"
#include "util/err.h"
#include "util/log.h"

struct ferry_comp {
    z_stream tx, rx;
    int tx_on, rx_on;
    ferry_buf *obuf, *ibuf;
};

#define CHUNK (64u * 1024)

int ferry__comp_known(const char *name)
{
    return strcmp(name, FERRY__COMP_ZLIB) == 0;
}

void ferry__comp_free(ferry_ssh *s)
{
    ferry_comp *c = s->comp;
    if (c == NULL) {
        return;
    }
    if (c->tx_on) {
        deflateEnd(&c->tx);
    }
    if (c->rx_on) {
        inflateEnd(&c->rx);
    }
    ferry_buf_free(c->obuf);
    ferry_buf_free(c->ibuf);
    free(c);
    s->comp = NULL;
}

int ferry__comp_auth_done(ferry_ssh *s)
{
    /* [0] = client to server, [1] = server to client */
    int client = s->cfg.role == FERRY_ROLE_CLIENT;
    int tx = s->comp_neg[client ? 0 : 1], rx = s->comp_neg[client ? 1 : 0];
    if ((!tx && !rx) || s->comp != NULL) {
        return FERRY_OK;
    }
    ferry_comp *c = s->comp = calloc(1, sizeof(*c));
    if (c == NULL || (c->obuf = ferry_buf_new(FERRY_SSH_MAX_PACKET + CHUNK)) == NULL ||
        (c->ibuf = ferry_buf_new(FERRY_SSH_MAX_PACKET + CHUNK)) == NULL ||
        (tx && !(c->tx_on = deflateInit(&c->tx, Z_DEFAULT_COMPRESSION) == Z_OK)) ||
        (rx && !(c->rx_on = inflateInit(&c->rx) == Z_OK))) {
        ferry__comp_free(s); /* frees what was made (tx_on/rx_on say which) */
        return FERRY_E_ALLOC;
    }
    ferry_debug("ssh: compression %s%s on", tx ? "out" : "", tx && rx ? "/in" : rx ? "in" : "");
    return FERRY_OK;
}

int ferry__comp_out(ferry_ssh *s, ferry_buf *out, size_t start)
{
    ferry_comp *c = s->comp;
    if (c == NULL || !c->tx_on) {
        return FERRY_OK;
    }
    ferry_buf_reset(c->obuf);
    c->tx.next_in = ferry_buf_mdata(out) + start;
    c->tx.avail_in = (uInt)(ferry_buf_len(out) - start);
    do {
        uint8_t *dst = NULL;
        size_t have = ferry_buf_len(c->obuf);
        int r = ferry_buf_reserve(c->obuf, CHUNK, &dst);
        if (r != FERRY_OK) {
            return r;
        }
        c->tx.next_out = dst;
        c->tx.avail_out = CHUNK;
        if (deflate(&c->tx, Z_PARTIAL_FLUSH) != Z_OK) {
            return FERRY_E_INTERNAL;
        }
        (void)ferry_buf_truncate(c->obuf, have + CHUNK - c->tx.avail_out);
    } while (c->tx.avail_out == 0);
    (void)ferry_buf_truncate(out, start);
    return ferry_buf_put(out, ferry_buf_data(c->obuf), ferry_buf_len(c->obuf));
}

int ferry__comp_in(ferry_ssh *s, const uint8_t **p, size_t *n)
{
    ferry_comp *c = s->comp;
    if (c == NULL || !c->rx_on) {
        return FERRY_OK;
    }
    ferry_buf_reset(c->ibuf);
    c->rx.next_in = (Bytef *)(uintptr_t)*p;
    c->rx.avail_in = (uInt)*n;
    for (;;) {
        uint8_t *dst = NULL;
        size_t have = ferry_buf_len(c->ibuf);
        if (have > FERRY_SSH_MAX_PACKET) {
            return ferry__fail(s, FERRY_E_TOO_LARGE, SSH_DISCONNECT_PROTOCOL_ERROR,
                               "decompressed packet over the limit");
        }
        int r = ferry_buf_reserve(c->ibuf, CHUNK, &dst);
        if (r != FERRY_OK) {
            return r;
        }
        c->rx.next_out = dst;
        c->rx.avail_out = CHUNK;
        int z = inflate(&c->rx, Z_SYNC_FLUSH);
        (void)ferry_buf_truncate(c->ibuf, have + CHUNK - c->rx.avail_out);
        if (z == Z_BUF_ERROR || (z == Z_OK && c->rx.avail_in == 0 && c->rx.avail_out != 0)) {
            break; /* all input used, all output out */
        }
        if (z != Z_OK) {
            return ferry__fail(s, FERRY_E_FORMAT, SSH_DISCONNECT_COMPRESSION_ERROR,
                               "bad compressed data");
        }
    }
    if (ferry_buf_len(c->ibuf) > FERRY_SSH_MAX_PACKET) {
        return ferry__fail(s, FERRY_E_TOO_LARGE, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "decompressed packet over the limit");
    }
    if (c->rx.avail_in != 0 || ferry_buf_len(c->ibuf) == 0) {
        return ferry__fail(s, FERRY_E_FORMAT, SSH_DISCONNECT_COMPRESSION_ERROR,
                           "bad compressed packet");
    }
    *p = ferry_buf_data(c->ibuf);
    *n = ferry_buf_len(c->ibuf);
    return FERRY_OK;
}
