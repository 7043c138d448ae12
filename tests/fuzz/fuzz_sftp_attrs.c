/* fuzz_sftp_attrs: the SFTP ATTRS decoder.
 *
 * Input: one encoded ATTRS (plus anything after it). A decode that works
 * is re-encoded: with only the defined flag bits set, the encoding must be
 * exactly the bytes consumed; the extended pairs must walk cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sftp/proto.h"
#include "util/buf.h"
#include "util/err.h"

#define KNOWN                                                                              \
    (SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID | SSH_FILEXFER_ATTR_PERMISSIONS | \
     SSH_FILEXFER_ATTR_ACMODTIME | SSH_FILEXFER_ATTR_EXTENDED)

static void walk_ext(const ferry_sftp_attrs *a)
{
    ferry_rd r;
    const uint8_t *n, *d;
    size_t nl, dl;
    uint32_t count = 0;
    ferry_rd_init(&r, a->ext, a->ext_len);
    while (ferry_sftp_attrs_ext_next(&r, &n, &nl, &d, &dl) == FERRY_OK) {
        count++;
    }
    if (count != a->ext_count || ferry_rd_left(&r) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferry_rd r;
    ferry_sftp_attrs a;
    ferry_rd_init(&r, data, size);
    if (ferry_sftp_attrs_decode(&r, &a) != FERRY_OK) {
        if (ferry_rd_left(&r) != size) {
            abort(); /* all-or-nothing */
        }
        return 0;
    }
    if (a.ext_count > FERRY_SFTP_ATTRS_MAX_EXT) {
        abort();
    }
    if (a.flags & SSH_FILEXFER_ATTR_EXTENDED) {
        walk_ext(&a);
    }
    ferry_buf *b = ferry_buf_new(0);
    if (b == NULL) {
        return 0;
    }
    if (ferry_sftp_attrs_encode(b, &a) != FERRY_OK) {
        abort();
    }
    size_t used = size - ferry_rd_left(&r);
    if ((a.flags & ~KNOWN) == 0 &&
        (ferry_buf_len(b) != used || memcmp(ferry_buf_data(b), data, used) != 0)) {
        abort();
    }
    ferry_buf_free(b);
    return 0;
}
