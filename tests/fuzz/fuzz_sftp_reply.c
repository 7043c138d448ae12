/* fuzz_sftp_reply: the SFTP client engine reading a hostile server's
 * stream. The input is the whole server-to-client byte stream; the engine
 * runs INIT, REALPATH, STAT, a directory listing, an OPEN + pipelined
 * download and a statvfs against it (request ids are 1, 2, 3 ...). Each
 * pump delivers the next packet as framed by its length (the rest when
 * that is malformed), first in two pieces, so replies can come after
 * their requests went out: a download's READs are pending (marked for
 * the engine's sink, which writes DATA where it arrives) when their
 * replies come. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "sftp/client.h"
#include "util/err.h"

typedef struct feed {
    const uint8_t *data;
    size_t len;
    size_t at; /* delivered so far */
} feed;

static int pump(void *ctx, ferry_sftpc *c)
{
    feed *f = ctx;
    size_t out;
    (void)ferry_sftpc_output(c, &out);
    ferry_sftpc_output_consume(c, out);
    if (f->at >= f->len) {
        return FERRY_E_CLOSED;
    }
    const uint8_t *p = f->data + f->at;
    size_t left = f->len - f->at;
    size_t n = left;
    if (left >= 4) {
        size_t framed = 4 + ((size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]);
        n = framed <= left ? framed : left;
    }
    f->at += n;
    /* in two pieces to exercise reassembly */
    size_t half = n / 2;
    int r = ferry_sftpc_input(c, p, half);
    if (r == FERRY_OK) {
        r = ferry_sftpc_input(c, p + half, n - half);
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    feed f = {.data = data, .len = len};
    ferry_sftpc_io io = {.pump = pump, .ctx = &f};
    ferry_sftpc_config cfg = {.max_inflight = 8};
    ferry_sftpc *c = NULL;
    if (ferry_sftpc_new(&c, &cfg, &io) != FERRY_OK) {
        return 0;
    }
    if (ferry_sftpc_init(c) == FERRY_OK) {
        char *s = NULL;
        ferry_sftp_attrs a;
        ferry_sftpc_name *names = NULL;
        size_t n = 0;
        ferry_buf *h = NULL;
        ferry_sftpc_vfsinfo st;
        if (ferry_sftpc_realpath(c, ".", &s) == FERRY_OK) {
            free(s);
        }
        (void)ferry_sftpc_stat(c, "/x", &a);
        if (ferry_sftpc_readdir_all(c, "/d", 1000, &names, &n) == FERRY_OK) {
            ferry_sftpc_names_free(names, n);
        }
        if (ferry_sftpc_open(c, "/f", SSH_FXF_READ, NULL, &h) == FERRY_OK) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) {
                (void)ferry_sftpc_download(c, h, fd, 0, NULL, NULL, NULL);
                close(fd);
            }
            ferry_buf_free(h);
        }
        (void)ferry_sftpc_statvfs(c, "/", &st);
    }
    ferry_sftpc_free(c);
    return 0;
}
