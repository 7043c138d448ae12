/* server_chan.c: plugs the SFTP server into an SSH channel (the "sftp"
 * subsystem). Channel data feeds ferry_sftp_server_input; replies go out
 * with ferry_channel_write within ferry_channel_write_room (a READ reply
 * that fits one packet is read straight into it: ferry_channel_write_begin);
 * when the
 * channel drains, the server flushes and asks for the kept input again. */
#include <stdlib.h>

#include "sftp/server.h"
#include "util/err.h"

typedef struct chan_ctx {
    ferry_channel *ch;
    ferry_sftp_server *srv;
    int eof;      /* the client sent EOF */
    int finished; /* we sent exit-status, EOF and CLOSE */
} chan_ctx;

/* After the client's EOF, once every answer is on the channel: end the
 * subsystem as sftp-server exiting would (exit-status 0, EOF, CLOSE). */
static void maybe_finish(chan_ctx *c)
{
    if (!c->eof || c->finished || ferry_sftp_server_pending(c->srv) > 0) {
        return;
    }
    c->finished = 1;
    ferry_channel_exit_status(c->ch, 0);
    ferry_channel_send_eof(c->ch);
    ferry_channel_close(c->ch);
}

static int chan_write(void *ctx, const uint8_t *data, size_t len)
{
    chan_ctx *c = ctx;
    return ferry_channel_write(c->ch, data, len);
}

static size_t chan_room(void *ctx)
{
    chan_ctx *c = ctx;
    return ferry_channel_write_room(c->ch);
}

static uint8_t *chan_begin(void *ctx, size_t want, int *later)
{
    chan_ctx *c = ctx;
    return ferry_channel_write_begin(c->ch, want, later);
}

static int chan_end(void *ctx, size_t used)
{
    chan_ctx *c = ctx;
    return ferry_channel_write_end(c->ch, used);
}

static long on_data(void *ctx, ferry_channel *ch, const uint8_t *data, size_t len)
{
    chan_ctx *c = ctx;
    c->ch = ch;
    return ferry_sftp_server_input(c->srv, data, len);
}

static void on_eof(void *ctx, ferry_channel *ch)
{
    /* The client is done sending: answer what is queued, then close. */
    chan_ctx *c = ctx;
    c->ch = ch;
    c->eof = 1;
    ferry_sftp_server_writable(c->srv);
    maybe_finish(c);
}

static void on_writable(void *ctx, ferry_channel *ch)
{
    chan_ctx *c = ctx;
    c->ch = ch;
    ferry_sftp_server_writable(c->srv);
    ferry_channel_resume(ch);
    maybe_finish(c);
}

static void on_close(void *ctx, ferry_channel *ch)
{
    chan_ctx *c = ctx;
    (void)ch;
    ferry_sftp_server_free(c->srv); /* unfinished atomic uploads: discarded or kept */
    free(c);
}

static const ferry_chan_consumer sftp_consumer = {
    .on_open = NULL,
    .on_data = on_data,
    .on_eof = on_eof,
    .on_writable = on_writable,
    .on_close = on_close,
};

int ferry_sftp_server_attach(ferry_channel *ch, const ferry_sftp_server_config *cfg,
                             const ferry_chan_consumer **ops, void **cctx)
{
    chan_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return FERRY_E_ALLOC;
    }
    c->ch = ch;
    ferry_sftp_writer w = {
        .write = chan_write, .room = chan_room, .begin = chan_begin, .end = chan_end, .ctx = c};
    int r = ferry_sftp_server_new(&c->srv, cfg, &w);
    if (r != FERRY_OK) {
        free(c);
        return r;
    }
    *ops = &sftp_consumer;
    *cctx = c;
    return FERRY_OK;
}
