/* fuzz_sftp_request: a stream of SFTP requests into a server over a
 * temporary directory root.
 *
 * Input: byte 0 selects the mode (bits 0-1: read-write / read-only /
 * upload-only), atomic uploads (bit 2) and a writer that sometimes has no
 * room (bit 3); the rest is the request stream sent after an INIT. Files
 * are limited to 16 MiB (RLIMIT_FSIZE) so WRITE at a huge offset or
 * copy-data cannot fill the disk. The root persists between inputs. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sftp/server.h"
#include "util/err.h"
#include "vfs/vfs.h"

static ferry_vfs *vfs;
static char root[] = "/tmp/ferry-fuzz-sftp-XXXXXX";
static unsigned tick;
static int flaky;

static int w_write(void *ctx, const uint8_t *d, size_t n)
{
    (void)ctx;
    (void)d;
    (void)n;
    return (flaky && (++tick % 3) == 0) ? FERRY_E_AGAIN : FERRY_OK;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void)
{
    ferry_vfs_free(vfs);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup_once(void)
{
    if (mkdtemp(root) == NULL || ferry_vfs_local_open(root, &vfs) != FERRY_OK) {
        abort();
    }
    atexit(cleanup);
    struct rlimit rl = {16u << 20, 16u << 20};
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, SIG_IGN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (vfs == NULL) {
        setup_once();
    }
    if (size < 1) {
        return 0;
    }
    ferry_sftp_server_config cfg = {
        .vfs = vfs,
        .mode = (enum ferry_sftp_mode)(data[0] & 3 ? (data[0] & 3) - 1 : 0),
        .atomic_uploads = (data[0] >> 2) & 1,
        .keep_partial = (data[0] >> 4) & 1,
        .running_hash = (data[0] >> 5) % 3,
        .user = "fuzz",
        .max_handles = 8,
    };
    if (cfg.mode > FERRY_SFTP_UPLOAD_ONLY) {
        cfg.mode = FERRY_SFTP_READ_WRITE;
    }
    flaky = (data[0] >> 3) & 1;
    ferry_sftp_writer w = {.write = w_write, .room = NULL, .ctx = NULL};
    ferry_sftp_server *s = NULL;
    if (ferry_sftp_server_new(&s, &cfg, &w) != FERRY_OK) {
        return 0;
    }
    static const uint8_t init[] = {0, 0, 0, 5, 1, 0, 0, 0, 3};
    ferry_sftp_server_input(s, init, sizeof(init));
    ferry_sftp_server_writable(s);
    data++;
    size--;
    for (int stalls = 0; size > 0 && stalls < 4;) {
        long n = ferry_sftp_server_input(s, data, size);
        if (n < 0) {
            break;
        }
        if (n == 0) {
            stalls++;
            ferry_sftp_server_writable(s);
            continue;
        }
        data += n;
        size -= (size_t)n;
    }
    ferry_sftp_server_free(s);
    return 0;
}
