/* client_int.h: internals of the SFTP client engine shared by client.c
 * (core), client_ops.c (blocking operations) and client_xfer.c
 * (pipelined transfers). Not part of the library's interface. */
#ifndef FERRY_SFTP_CLIENT_INT_H
#define FERRY_SFTP_CLIENT_INT_H

#include "crypto/chk.h"
#include "sftp/client.h"

enum { SLOT_FREE = 0, SLOT_WAITING, SLOT_DONE, SLOT_ABANDONED };

/* Most requests that may be pending at once (bounds memory). */
#define FERRY__SFTPC_MAX_SLOTS 4096u

typedef struct ferry__sftpc_slot {
    uint32_t id;
    uint8_t state;
    uint8_t type;
    uint8_t sink; /* a READ whose DATA goes to c->sink where it arrives */
    uint8_t sunk; /* it did: the reply holds nothing, see sunk_n/sunk_rc */
    uint32_t len; /* sink: bytes asked for at off */
    uint64_t off;
    size_t sunk_n;
    int sunk_rc;
    ferry_buf *reply; /* reply bytes after the id, when DONE; kept empty
                       * while FREE for the slot's next reply */
} ferry__sftpc_slot;

struct ferry_sftpc {
    ferry_sftpc_config cfg;
    int symlink_draft; /* SYMLINK as (linkpath, targetpath) */
    /* the server's symlink-order@rjk.greenend.org.uk: 1 = (linkpath,
     * targetpath), 0 = (targetpath, linkpath), -1 = not said; it wins
     * over symlink_draft, which is a guess from the version string */
    int symlink_ext;
    ferry_sftpc_io io;
    ferry_buf *out;
    ferry_buf *in;
    ferry__sftpc_slot *slots;
    size_t nslots;
    size_t reply_bytes;  /* allocated by the slots' reply buffers */
    size_t reply_allocs; /* reply buffers allocated or grown so far */
    size_t npending;
    uint32_t next_id;
    unsigned session; /* ferry_sftpc_reset calls so far */
    int dead;
    int interrupted;
    int got_version;
    uint32_t version;
    char *exts; /* comma-separated extension names from VERSION */
    const ferry_chk_alg *chk; /* check-file's algorithm: poly1305@ferry.dev if offered, else sha256 */
    uint32_t rsize, wsize;
    int inflight_auto;     /* max_inflight not chosen: writes match reads in bytes */
    char *home;            /* the home directory learnt by ferry_sftpc_init */
    uint32_t lim_r, lim_w; /* from limits@openssh.com, 0 if not stated */
    uint32_t last_status;
    char *last_msg;
    ferry_buf *version_reply;
    ferry_buf *scratch;              /* reused request payload of the transfer loops */
    ferry_sftpc_hashes *stream_hash; /* fed by the transfers, or NULL */
    void (*after_last)(void *ctx);   /* ferry_sftpc_set_after_last */
    void *after_last_ctx;
    /* Where the DATA of a READ marked by ferry__sftpc_sink_slot goes as it
     * arrives, with no copy (a download's file); NULL when none. Returns
     * FERRY_OK or the error its READ's reply is to report. */
    int (*sink)(void *ctx, uint64_t off, const uint8_t *p, size_t n);
    void *sink_ctx;
    uint8_t *direct;    /* ferry__sftpc_direct_begin's packet, or NULL */
    uint32_t direct_id; /* and the id written in it */
};

/* Marks the pending READ `id` (len bytes at off) for c->sink: a DATA reply
 * of 1..len bytes goes there where it arrives instead of into the slot. */
void ferry__sftpc_sink_slot(ferry_sftpc *c, uint32_t id, uint64_t off, uint32_t len);
/* For a reply taken by ferry__sftpc_expect: 1 if its data went to the
 * sink, with how many bytes and the sink's result; else 0. */
int ferry__sftpc_sunk(ferry_sftpc *c, uint32_t id, size_t *n, int *rc);

/* Waits for the reply to `id`. If its type is `want`, returns FERRY_OK and
 * *r reads it (the caller releases id). A STATUS reply (when want is not
 * STATUS) is recorded, released and mapped to an error (an OK status is
 * PROTOCOL then). Any other type is PROTOCOL. */
int ferry__sftpc_expect(ferry_sftpc *c, uint32_t id, uint8_t want, ferry_rd *r);
/* Waits for a STATUS reply to `id` and returns its mapped code. */
int ferry__sftpc_status(ferry_sftpc *c, uint32_t id);
/* One round of the connection (io.pump); kills c on an error. */
int ferry__sftpc_pump(ferry_sftpc *c);
/* Output to the transport without waiting (io.flush; else a pump). */
int ferry__sftpc_flush(ferry_sftpc *c);
/* Parses a STATUS body, records it, returns the mapped code. */
int ferry__sftpc_parse_status(ferry_sftpc *c, ferry_rd *r);
/* New payload buffer for a request. */
ferry_buf *ferry__sftpc_payload(void);
/* The engine's reusable payload buffer, emptied; NULL when out of memory.
 * Owned by the engine: valid until the next call. */
ferry_buf *ferry__sftpc_scratch(ferry_sftpc *c);

/* A request built in place in the output buffer (no payload copy):
 * ferry__sftpc_begin writes length, type and a fresh id; the caller
 * appends the body to c->out; ferry__sftpc_end(r) sets the length and
 * registers the id, or (r != FERRY_OK, or too large) removes the whole
 * packet again and returns the error. */
typedef struct ferry__sftpc_pkt {
    size_t at;
    uint32_t id;
} ferry__sftpc_pkt;
int ferry__sftpc_begin(ferry_sftpc *c, uint8_t type, ferry__sftpc_pkt *pk);
int ferry__sftpc_end(ferry_sftpc *c, const ferry__sftpc_pkt *pk, int r, uint32_t *id);

/* The same straight in the transport's packet (io.begin): room for `body`
 * bytes after length, type and id, or NULL (*later as io.begin's; 0 also
 * when there is no io.begin or ferry_sftpc_output holds requests). Then
 * ferry__sftpc_direct_end with the body bytes written (0 abandons it),
 * before anything else is sent. */
uint8_t *ferry__sftpc_direct_begin(ferry_sftpc *c, uint8_t type, size_t body, int *later);
int ferry__sftpc_direct_end(ferry_sftpc *c, size_t used, uint32_t *id);

#endif
