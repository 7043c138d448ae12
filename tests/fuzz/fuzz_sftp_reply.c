/* fuzz_sftp_reply: the SFTP client engine reading a hostile server's
 * stream. The input is the whole server-to-client byte stream; the engine
 * runs INIT, REALPATH, STAT, a directory listing, an OPEN + pipelined
 * download and a statvfs against it (request ids are 1, 2, 3 ...). */
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
    int done;
} feed;

static int pump(void *ctx, ferry_sftpc *c)
{
    feed *f = ctx;
    size_t out;
    (void)ferry_sftpc_output(c, &out);
    ferry_sftpc_output_consume(c, out);
    if (f->done) {
        return FERRY_E_CLOSED;
    }
    f->done = 1;
    /* feed in two pieces to exercise reassembly */
    size_t half = f->len / 2;
    int r = ferry_sftpc_input(c, f->data, half);
    if (r == FERRY_OK) {
        r = ferry_sftpc_input(c, f->data + half, f->len - half);
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
