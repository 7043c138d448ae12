/* server.h: the SFTP v3 server (draft-ietf-secsh-filexfer-02 plus the
 * OpenSSH extensions and check-file), sans I/O: bytes of the SFTP stream
 * in, reply bytes out through a writer. It sees storage only through the
 * vfs interface. ferry_sftp_server_consumer() plugs it into an SSH
 * channel (sftp/server_chan.c). */
#ifndef FERRY_SFTP_SERVER_H
#define FERRY_SFTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "ssh/ssh.h"
#include "vfs/vfs.h"

enum ferry_sftp_mode {
    FERRY_SFTP_READ_WRITE = 0,
    FERRY_SFTP_READ_ONLY = 1,
    FERRY_SFTP_UPLOAD_ONLY = 2, /* write/create/list; no read of file data, no remove */
};

/* One audit/log event per file operation (the audit point: ferryd logs
 * it; a future audit trail or event hook subscribes here). Strings are
 * borrowed for the call only. Paths are as the user sees them. */
typedef struct ferry_sftp_event {
    const char *op;     /* "open", "close", "remove", "rename", "mkdir", ... */
    const char *path;
    const char *path2;  /* rename/link target, or NULL */
    uint64_t bytes_read, bytes_written; /* for close of a file handle */
    int status;         /* SSH_FX_* result */
    uint64_t duration_ms;
    /* Set when the session's mode refused the request (status is then
     * PERMISSION_DENIED): "read-only session", "upload-only session...".
     * op is then the request's name ("read", "remove", "setstat", an
     * extension name...), path/path2 what it named (a handle's path). */
    const char *refusal;
} ferry_sftp_event;

/* When uploads keep a running sha256 per check-file piece (server_hash.c),
 * so that verifying what was just written needs no re-reading. */
enum ferry_sftp_runhash {
    FERRY_SFTP_RUNHASH_AFTER_CHECK = 0, /* once the session sent a check-file */
    FERRY_SFTP_RUNHASH_ALWAYS = 1,
    FERRY_SFTP_RUNHASH_OFF = 2,
};

typedef struct ferry_sftp_server_config {
    ferry_vfs *vfs;          /* borrowed: the user's jailed storage */
    enum ferry_sftp_mode mode;
    int atomic_uploads;      /* default on: see docs/ferryd.8 */
    int keep_partial;        /* with atomic_uploads: keep interrupted uploads
                                as ".<name>.ferry-partial" (server.c) */
    int running_hash;        /* enum ferry_sftp_runhash */
    const char *user;        /* for home-directory / logs */
    unsigned max_handles;    /* 0 = 256 */
    uint32_t max_read;       /* largest READ/WRITE data (0 = 256 KiB) */
    int symlink_draft_order; /* SYMLINK paths as (linkpath, targetpath): see
                                ferry_sftp_symlink_draft_order */
    void (*on_event)(void *ctx, const ferry_sftp_event *ev);
    void *event_ctx;
    uint64_t (*now_ms)(void *ctx); /* NULL = CLOCK_MONOTONIC */
    void *clock_ctx;
} ferry_sftp_server_config;

typedef struct ferry_sftp_server ferry_sftp_server;

/* Writer for replies: returns FERRY_OK or FERRY_E_AGAIN (no room: the
 * server keeps the reply and stops consuming input until
 * ferry_sftp_server_writable is called). room() tells how much would be
 * accepted now. */
typedef struct ferry_sftp_writer {
    int (*write)(void *ctx, const uint8_t *data, size_t len);
    size_t (*room)(void *ctx);
    /* Optional: where to build a reply of `want` bytes that goes out as
     * it is (NULL: not so; *later 1: not yet — writable follows, so the
     * request waits), then end with the bytes built (0: none). A READ
     * reply is then read from the file straight into it. */
    uint8_t *(*begin)(void *ctx, size_t want, int *later);
    int (*end)(void *ctx, size_t used);
    void *ctx;
} ferry_sftp_writer;

/* New server; cfg copied (pointers borrowed). */
int ferry_sftp_server_new(ferry_sftp_server **out, const ferry_sftp_server_config *cfg,
                          const ferry_sftp_writer *w);
/* Closes every handle and frees. Incomplete atomic uploads are discarded,
 * or with keep_partial kept as partial files (server.c). */
void ferry_sftp_server_free(ferry_sftp_server *srv);
/* Feeds stream bytes; returns bytes consumed (whole requests only; the
 * caller keeps the rest and offers it again) or a negative FERRY_E_* for a
 * fatal stream error (e.g. a packet length over the limit). */
long ferry_sftp_server_input(ferry_sftp_server *srv, const uint8_t *data, size_t len);
/* Output room became available again. */
void ferry_sftp_server_writable(ferry_sftp_server *srv);
/* Reply bytes produced but not yet taken by the writer, plus one while a
 * request waits for the writer to drain (0 when every answer has been
 * handed over). */
size_t ferry_sftp_server_pending(const ferry_sftp_server *srv);

/* Channel adapter (server_chan.c), for a ferry_subsystem_fn accepting
 * "sftp": creates a server for channel ch (cfg copied; cfg->vfs borrowed
 * and must outlive the channel) and sets *ops / *cctx to return to the SSH
 * layer. Channel data feeds ferry_sftp_server_input, replies go out with
 * ferry_channel_write within ferry_channel_write_room; after the client's
 * EOF and once every answer is queued, it sends exit-status 0, EOF and
 * CLOSE; on_close frees the server (unfinished atomic uploads are
 * discarded or kept as with ferry_sftp_server_free). FERRY_E_ALLOC /
 * FERRY_E_INVALID_ARG on failure. */
int ferry_sftp_server_attach(ferry_channel *ch, const ferry_sftp_server_config *cfg,
                             const ferry_chan_consumer **ops, void **cctx);

#endif
