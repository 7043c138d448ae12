/* client.h: the SFTP v3 client engine (draft-ietf-secsh-filexfer-02 plus
 * the OpenSSH extensions of PROTOCOL section 4).
 *
 * Two layers in one object:
 *  - a sans-I/O core: requests are encoded into an output queue
 *    (ferry_sftpc_output / _output_consume), stream bytes from the server
 *    are fed with ferry_sftpc_input, and each reply is matched to its
 *    pending request by id. A reply whose id matches no pending request,
 *    or whose packet length is over the limit, is a fatal stream error:
 *    a hostile server cannot make us allocate more than
 *    (requests in flight) x (max reply) bytes.
 *  - blocking operations on top (stat, open, read, pipelined transfers
 *    ...) that wait for their replies by calling the `pump` hook, which
 *    moves bytes between the core and the peer. A unit test's pump is a
 *    scripted fake server; the program's pump drives the SSH session.
 *
 * Paths are byte strings without NUL, passed as C strings.
 */
#ifndef FERRY_SFTP_CLIENT_H
#define FERRY_SFTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "sftp/proto.h"
#include "util/buf.h"

typedef struct ferry_sftpc ferry_sftpc;

/* Largest reply packet accepted (the uint32 length field's value): a
 * 256 KiB DATA payload plus headers, as OpenSSH's limit. */
#define FERRY_SFTPC_MAX_REPLY (256u * 1024 + 1024)
/* Largest READ/WRITE length we ever ask for. */
#define FERRY_SFTPC_MAX_IO (256u * 1024)
/* Largest sizes chosen from limits@openssh.com: reads 252 KiB (a DATA
 * reply then fits one of our 256 KiB SSH packets, which ferryd fills
 * straight from the file), writes 128 KiB. */
#define FERRY_SFTPC_AUTO_READ_MAX  (252u * 1024)
#define FERRY_SFTPC_AUTO_WRITE_MAX (128u * 1024)
/* Default request size when the server states no limits. */
#define FERRY_SFTPC_DEFAULT_IO 32768u
/* Default number of requests in flight during a transfer. */
#define FERRY_SFTPC_DEFAULT_INFLIGHT 64u

/* The I/O hook of the blocking layer: pump() must send what
 * ferry_sftpc_output holds and feed received bytes to ferry_sftpc_input,
 * blocking until at least one of the two made progress. Returns FERRY_OK,
 * or an error (connection lost...) that ends the waiting operation. */
typedef struct ferry_sftpc_io {
    int (*pump)(void *ctx, ferry_sftpc *c);
    void *ctx;
    /* Optional: the transport's window in bytes for data we send
     * (upload = 1) or receive (0). Without -R, transfers keep that many
     * bytes in flight when it exceeds the default count's: the window
     * grows only while it is what holds a transfer back (long round
     * trips), so the request count follows the round-trip time. */
    size_t (*window)(void *ctx, int upload);
    /* Optional: hands what ferry_sftpc_output holds to the transport as
     * far as it takes it now, without waiting (uploads keep building
     * WRITEs while it does; without it they pump). */
    int (*flush)(void *ctx, ferry_sftpc *c);
    /* Optional: a request built straight into the transport's packet (an
     * upload's WRITE, its data read from the file right there: no copy
     * from ferry_sftpc_output into the channel). As ferry_channel_write_begin:
     * where `want` bytes go in one packet now, else NULL with *later 1 when
     * only the transport's own backlog is in the way; then end with the
     * bytes written (0: abandoned). Used only while ferry_sftpc_output is
     * empty, so requests keep their order. */
    uint8_t *(*begin)(void *ctx, size_t want, int *later);
    int (*end)(void *ctx, size_t used);
} ferry_sftpc_io;

typedef struct ferry_sftpc_config {
    uint32_t max_inflight; /* 0 = FERRY_SFTPC_DEFAULT_INFLIGHT (-R) */
    uint32_t io_size;      /* 0 = from limits@openssh.com, else 32 KiB (-B) */
    uint32_t max_reply;    /* 0 = FERRY_SFTPC_MAX_REPLY (tests shrink it) */
} ferry_sftpc_config;

/* A directory entry or a NAME reply element. Strings are owned by the
 * list; attrs.ext is always NULL (extended pairs are not kept). */
typedef struct ferry_sftpc_name {
    char *name;
    char *longname;
    ferry_sftp_attrs attrs;
} ferry_sftpc_name;

/* statvfs@openssh.com reply (PROTOCOL 4.4). */
typedef struct ferry_sftpc_statvfs {
    uint64_t bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax;
} ferry_sftpc_vfsinfo;

/* Called during transfers with the number of bytes newly transferred. */
typedef void (*ferry_sftpc_progress_fn)(void *ctx, uint64_t bytes);

/* New engine; cfg may be NULL for defaults; io is copied. */
int ferry_sftpc_new(ferry_sftpc **out, const ferry_sftpc_config *cfg, const ferry_sftpc_io *io);
/* Frees the engine (pending requests are forgotten). NULL is a no-op. */
void ferry_sftpc_free(ferry_sftpc *c);

/* ---- sans-I/O core ---- */

/* Bytes waiting to be sent to the server; valid until the next call. */
const uint8_t *ferry_sftpc_output(ferry_sftpc *c, size_t *len);
/* Marks n output bytes as sent. */
void ferry_sftpc_output_consume(ferry_sftpc *c, size_t n);
/* Feeds stream bytes from the server; all are taken (a partial packet is
 * kept). Complete replies are matched to their requests. Returns FERRY_OK
 * or a fatal error: TOO_LARGE (packet over max_reply), PROTOCOL (unknown
 * id, unexpected packet), FORMAT. After an error the engine is dead and
 * every later call fails with FERRY_E_CLOSED-or-that-error. */
int ferry_sftpc_input(ferry_sftpc *c, const uint8_t *data, size_t len);
/* Non-zero after a fatal stream error; returns that error. */
int ferry_sftpc_dead(const ferry_sftpc *c);
/* Marks the engine dead with `err` (the driver calls it when the
 * connection ends). */
void ferry_sftpc_kill(ferry_sftpc *c, int err);
/* Makes a dead (or live) engine fresh for a new stream, as after
 * ferry_sftpc_new with the same config and io hook: pending requests
 * are forgotten, queued bytes dropped, the server's version and
 * extensions cleared (call ferry_sftpc_init again). Used to reconnect. */
void ferry_sftpc_reset(ferry_sftpc *c);
/* Counts the resets: a request id sent while this was different is void
 * (never wait for it). */
unsigned ferry_sftpc_session(const ferry_sftpc *c);

/* Asks a running transfer to stop (e.g. on SIGINT, from the pump): no
 * new requests are issued, the replies still in flight are dropped as
 * they arrive, and the transfer returns FERRY_E_AGAIN. The flag clears
 * when the transfer returns. */
void ferry_sftpc_interrupt(ferry_sftpc *c);

/* Queues request `type` with a new id followed by `payload` (may be NULL
 * for none). *id receives the id. */
int ferry_sftpc_send(ferry_sftpc *c, uint8_t type, const ferry_buf *payload, uint32_t *id);
/* If the reply to `id` has arrived: FERRY_OK, *type and a reader over the
 * reply after its id (valid until ferry_sftpc_release(id)).
 * FERRY_E_INCOMPLETE if not yet; INVALID_ARG if id is not pending. */
int ferry_sftpc_poll(ferry_sftpc *c, uint32_t id, uint8_t *type, ferry_rd *payload);
/* Forgets request `id`: its reply, arrived or future, is dropped. */
void ferry_sftpc_release(ferry_sftpc *c, uint32_t id);
/* Pumps until the reply to `id` arrives (then as ferry_sftpc_poll). */
int ferry_sftpc_wait(ferry_sftpc *c, uint32_t id, uint8_t *type, ferry_rd *payload);
/* Number of requests awaiting replies. */
size_t ferry_sftpc_pending(const ferry_sftpc *c);
/* Serves the connection until every request sent has its reply (those
 * sent ahead and abandoned too: a listing's extra READDIRs, a CLOSE not
 * waited for), so that ending the session does not cut the server off
 * in the middle of answering. Returns early when the session is dead or
 * interrupted. */
int ferry_sftpc_drain(ferry_sftpc *c);
/* Reply buffers allocated so far, and the bytes they hold allocated now
 * (each slot keeps its buffer for its next reply, up to 64 MiB in all, so
 * a steady transfer allocates none; a download's data needs none). */
void ferry_sftpc_reply_stats(const ferry_sftpc *c, size_t *allocs, size_t *bytes);

/* ---- session ---- */

/* Sends INIT, waits for VERSION, records the server's extensions and, if
 * offered, asks limits@openssh.com to size requests. */
int ferry_sftpc_init(ferry_sftpc *c);
/* The server's protocol version (after init). */
uint32_t ferry_sftpc_version(const ferry_sftpc *c);
/* Non-zero if the server announced extension `name` (any version). */
int ferry_sftpc_has_ext(const ferry_sftpc *c, const char *name);
/* Request sizes in use (after init). */
uint32_t ferry_sftpc_read_size(const ferry_sftpc *c);
uint32_t ferry_sftpc_write_size(const ferry_sftpc *c);
/* The last SSH_FX_* status received for a failed operation and its
 * message (owned by the engine, valid until the next operation). */
uint32_t ferry_sftpc_last_status(const ferry_sftpc *c, const char **msg);
/* Maps an SSH_FX_* code to FERRY_E_*: OK->OK, EOF->EOF,
 * NO_SUCH_FILE->NOT_FOUND, PERMISSION_DENIED->PERMISSION,
 * OP_UNSUPPORTED->UNSUPPORTED, BAD_MESSAGE->FORMAT,
 * NO_CONNECTION/CONNECTION_LOST->CLOSED, others->SYSTEM. */
int ferry_sftpc_err_from_status(uint32_t status);

/* ---- blocking operations (each returns FERRY_OK or an error; a server
 * status is mapped with ferry_sftpc_err_from_status) ---- */

/* REALPATH: *out is a new heap string. */
int ferry_sftpc_realpath(ferry_sftpc *c, const char *path, char **out);
/* The same in two steps (what is sent in between travels with it). */
int ferry_sftpc_realpath_send(ferry_sftpc *c, const char *path, uint32_t *id);
int ferry_sftpc_realpath_wait(ferry_sftpc *c, uint32_t id, char **out);
/* expand-path@openssh.com when offered (~ expansion), else REALPATH. */
int ferry_sftpc_expand_path(ferry_sftpc *c, const char *path, char **out);
int ferry_sftpc_stat(ferry_sftpc *c, const char *path, ferry_sftp_attrs *a);
/* STAT sent now, its ATTRS taken later (pipelined with what follows). */
int ferry_sftpc_stat_send(ferry_sftpc *c, const char *path, uint32_t *id);
int ferry_sftpc_stat_wait(ferry_sftpc *c, uint32_t id, ferry_sftp_attrs *a);
int ferry_sftpc_lstat(ferry_sftpc *c, const char *path, ferry_sftp_attrs *a);
int ferry_sftpc_fstat(ferry_sftpc *c, const ferry_buf *handle, ferry_sftp_attrs *a);
int ferry_sftpc_setstat(ferry_sftpc *c, const char *path, const ferry_sftp_attrs *a);
int ferry_sftpc_fsetstat(ferry_sftpc *c, const ferry_buf *handle, const ferry_sftp_attrs *a);
/* OPEN with SSH_FXF_* flags and attrs (may be NULL); *handle is a new
 * buffer holding the handle (free with ferry_buf_free). */
int ferry_sftpc_open(ferry_sftpc *c, const char *path, uint32_t pflags, const ferry_sftp_attrs *a,
                     ferry_buf **handle);
/* The same in two steps: OPEN sent now, its handle taken later (what is
 * sent in between travels in the same flight). */
int ferry_sftpc_open_send(ferry_sftpc *c, const char *path, uint32_t pflags,
                          const ferry_sftp_attrs *a, uint32_t *id);
int ferry_sftpc_open_wait(ferry_sftpc *c, uint32_t id, ferry_buf **handle);
int ferry_sftpc_opendir(ferry_sftpc *c, const char *path, ferry_buf **handle);
/* OPENDIR sent now; the listing taken later by ferry_sftpc_readdir_wait,
 * or the request dropped by ferry_sftpc_opendir_drop (which waits for
 * its reply and closes a handle it brought, without waiting for that). */
int ferry_sftpc_opendir_send(ferry_sftpc *c, const char *path, uint32_t *id);
void ferry_sftpc_opendir_drop(ferry_sftpc *c, uint32_t id);
int ferry_sftpc_close(ferry_sftpc *c, const ferry_buf *handle);
/* CLOSE sent now, its status taken later with ferry_sftpc_close_wait:
 * requests sent in between are served after it (a server answers in
 * order), so a verification of what was closed costs no extra round
 * trip. */
int ferry_sftpc_close_send(ferry_sftpc *c, const ferry_buf *handle, uint32_t *id);
int ferry_sftpc_close_wait(ferry_sftpc *c, uint32_t id);
/* Reads a whole directory (every READDIR until EOF), at most `max`
 * entries (0 = 1,000,000; more is TOO_LARGE). *names is a new array of
 * *n entries; free with ferry_sftpc_names_free. */
int ferry_sftpc_readdir_all(ferry_sftpc *c, const char *path, size_t max, ferry_sftpc_name **names,
                            size_t *n);
/* The same for the OPENDIR request `id` (ferry_sftpc_opendir_send). */
int ferry_sftpc_readdir_wait(ferry_sftpc *c, uint32_t id, size_t max, ferry_sftpc_name **names,
                             size_t *n);
void ferry_sftpc_names_free(ferry_sftpc_name *names, size_t n);
int ferry_sftpc_remove(ferry_sftpc *c, const char *path);
int ferry_sftpc_mkdir(ferry_sftpc *c, const char *path, const ferry_sftp_attrs *a);
/* REMOVE, RMDIR, MKDIR or SETSTAT (attrs for the last two; NULL: none)
 * sent now, its status taken later by ferry_sftpc_status_wait (what is
 * sent in between travels with it; answers come in order). */
int ferry_sftpc_path_send(ferry_sftpc *c, uint8_t type, const char *path,
                          const ferry_sftp_attrs *a, uint32_t *id);
int ferry_sftpc_status_wait(ferry_sftpc *c, uint32_t id);
int ferry_sftpc_rmdir(ferry_sftpc *c, const char *path);
/* RENAME; posix=1 uses posix-rename@openssh.com (overwrites) and fails
 * with UNSUPPORTED if the server lacks it. */
int ferry_sftpc_rename(ferry_sftpc *c, const char *from, const char *to, int posix);
int ferry_sftpc_readlink(ferry_sftpc *c, const char *path, char **out);
/* Creates `linkpath` pointing to `target` (OpenSSH argument order). */
int ferry_sftpc_symlink(ferry_sftpc *c, const char *target, const char *linkpath);
/* users-groups-by-id@openssh.com (PROTOCOL 4.12): the names of uids[0..nu)
 * and gids[0..ng) (at most 4096 each) into unames[] and gnames[] (heap
 * strings, "" where the server knows none; all NULL on an error).
 * FERRY_E_UNSUPPORTED when the server does not offer it. */
int ferry_sftpc_users_groups(ferry_sftpc *c, const uint32_t *uids, size_t nu, const uint32_t *gids,
                             size_t ng, char **unames, char **gnames);
/* Send SYMLINK's paths in the draft's order (see
 * ferry_sftp_symlink_draft_order); OpenSSH's by default. */
void ferry_sftpc_set_symlink_draft_order(ferry_sftpc *c, int on);
/* hardlink@openssh.com. */
int ferry_sftpc_hardlink(ferry_sftpc *c, const char *target, const char *linkpath);
int ferry_sftpc_statvfs(ferry_sftpc *c, const char *path, ferry_sftpc_vfsinfo *st);
/* fsync@openssh.com on an open handle. */
int ferry_sftpc_fsync(ferry_sftpc *c, const ferry_buf *handle);
/* copy-data@openssh.com: copies len bytes (0 = to EOF) from `from` at
 * from_off to `to` at to_off, both open handles, on the server. */
int ferry_sftpc_copy_data(ferry_sftpc *c, const ferry_buf *from, uint64_t from_off, uint64_t len,
                          const ferry_buf *to, uint64_t to_off);
/* The session's start directory: REALPATH(".") (as OpenSSH's sftp, so a
 * server's start directory — sftp-server -d — is where ferry starts),
 * asked by ferry_sftpc_init in the same flight as INIT. */
int ferry_sftpc_home(ferry_sftpc *c, char **out);

/* ---- pipelined transfers ---- */

/* Downloads from an open remote handle starting at `offset` into the
 * local fd (written with pwrite at the same offsets) until EOF. Up to
 * max_inflight reads are in flight; a short read is re-requested for the
 * rest. *total (may be NULL) receives the watermark: every byte below it
 * is on disk (on success the end offset reached; after an error the end
 * of the contiguous prefix written, where a resume can start). */
int ferry_sftpc_download(ferry_sftpc *c, const ferry_buf *handle, int fd, uint64_t offset,
                         ferry_sftpc_progress_fn cb, void *cb_ctx, uint64_t *total);
/* The same for a file expected to be `size` bytes long (from a STAT;
 * UINT64_MAX if unknown): the READs stop at the size, the last one asking
 * for exactly the rest, plus one at the size that confirms the end, all
 * in one flight (no round trip to re-request a short last reply or to
 * find the end); they go on as usual if the file turns out longer. */
int ferry_sftpc_download_sized(ferry_sftpc *c, const ferry_buf *handle, int fd, uint64_t offset,
                               uint64_t size, ferry_sftpc_progress_fn cb, void *cb_ctx,
                               uint64_t *total);
/* Uploads the local fd from `offset` to its end (pread) into the open
 * remote handle, writing at the same offsets, up to max_inflight writes in
 * flight. *total (may be NULL) receives the acknowledged watermark: every
 * WRITE below it was answered OK (on success the end of the file). */
int ferry_sftpc_upload(ferry_sftpc *c, const ferry_buf *handle, int fd, uint64_t offset,
                       ferry_sftpc_progress_fn cb, void *cb_ctx, uint64_t *total);

/* Many small files at once: every OPEN is sent before the first reply is
 * awaited, then each file's WRITEs, optional FSETSTAT and fsync, and
 * CLOSE follow its handle without waiting, so a batch costs about two
 * round trips instead of three per file. */
#define FERRY_SFTPC_SMALL_MAX    (1024u * 1024)     /* largest file sent this way */
#define FERRY_SFTPC_SMALL_BATCH  32u                /* files per call at most */
#define FERRY_SFTPC_SMALL_WRITES 8u                 /* WRITEs per file at most */
#define FERRY_SFTPC_SMALL_READS  5u                 /* READs per file at most (1 MiB in 252 KiB reads) */
#define FERRY_SFTPC_SMALL_BYTES  (8u * 1024 * 1024) /* a caller's batch: about this much */

typedef struct ferry_sftpc_small {
    const char *path;                /* remote path */
    const ferry_sftp_attrs *attrs;   /* for OPEN (may be NULL) */
    const ferry_sftp_attrs *setstat; /* FSETSTAT before CLOSE (-p), or NULL */
    int fd;                          /* local file, read from offset 0 */
    int fsync_;                      /* fsync@openssh.com before CLOSE */
    int result;                      /* out: FERRY_OK or the first error */
    uint64_t sent;                   /* out: bytes written */
} ferry_sftpc_small;

/* Uploads n (<= FERRY_SFTPC_SMALL_BATCH) files of at most
 * FERRY_SFTPC_SMALL_MAX bytes and at most FERRY_SFTPC_SMALL_WRITES write
 * requests (that many * ferry_sftpc_write_size) each; a larger one fails with TOO_LARGE
 * (it may then be partly written: send it again the normal way). Each is
 * created or truncated. Each item gets its own result; returns
 * FERRY_OK unless the session itself failed. */
int ferry_sftpc_upload_small(ferry_sftpc *c, ferry_sftpc_small *v, size_t n);

/* The download side: every OPEN, then the READs of each file (up to
 * FERRY_SFTPC_SMALL_READS of ferry_sftpc_read_size, as many as its listed
 * size needs, the last at or before it) and its CLOSE as its handle
 * arrives, all pipelined; the after_last hook runs once every CLOSE is
 * out. `size` is the size the listing gave; a file that turns out
 * different is finished on a new handle with ferry_sftpc_download, so
 * the result is right either way. */
typedef struct ferry_sftpc_small_get {
    const char *path; /* remote path */
    uint64_t size;    /* expected size (from READDIR) */
    int fd;           /* local file, written with pwrite from offset 0 */
    int result;       /* out: FERRY_OK or the first error */
    uint64_t got;     /* out: bytes written */
} ferry_sftpc_small_get;

int ferry_sftpc_download_small(ferry_sftpc *c, ferry_sftpc_small_get *v, size_t n);

/* ---- comparing by hash (check-file, client_hash.c) ---- */

/* Largest range hashed by one check-file request (ferryd's limit). */
#define FERRY_SFTPC_HASH_PIECE  (64ull * 1024 * 1024)
#define FERRY_SFTPC_HASH_WINDOW 16u /* check-file requests in flight at most */

/* Number of pieces [0, len) is cut into (0 for len 0), and piece k's
 * offset and length (the last one possibly short). */
size_t ferry_sftpc_hash_pieces(uint64_t len);
void ferry_sftpc_hash_piece(uint64_t len, size_t k, uint64_t *off, uint64_t *plen);
/* Non-zero if the server offers check-file-handle (by_handle) or
 * check-file-name. */
int ferry_sftpc_can_hash(const ferry_sftpc *c, int by_handle);
/* The algorithm of check-file requests: poly1305@ferry.dev when the
 * server lists it in its check-file extension, else sha256. */
const char *ferry_sftpc_hash_name(const ferry_sftpc *c);
/* The digest (ferry_sftpc_hash_name) of [off, off+len) of a local fd into
 * out (up to FERRY_CHK_MAX bytes). FERRY_E_EOF if the file ends before
 * off+len. */
int ferry_sftpc_hash_local(const ferry_sftpc *c, int fd, uint64_t off, uint64_t len,
                           uint8_t *out);

/* Digests of a file's data in pieces, computed while the data travels:
 * bytes are taken in offset order from 0 (a feed past the end reached
 * so far is ignored: that part is hashed from the file later; a feed
 * before it is skipped as already hashed). */
typedef struct ferry_sftpc_hashes ferry_sftpc_hashes;

/* In c's algorithm (ferry_sftpc_hash_name), so after VERSION. */
int ferry_sftpc_hashes_new(const ferry_sftpc *c, ferry_sftpc_hashes **out);
void ferry_sftpc_hashes_free(ferry_sftpc_hashes *hs); /* NULL is a no-op */
/* Forgets everything (the data changed). NULL is a no-op. */
void ferry_sftpc_hashes_reset(ferry_sftpc_hashes *hs);
/* Bytes [0, end) hashed so far (0 for NULL). */
uint64_t ferry_sftpc_hashes_end(const ferry_sftpc_hashes *hs);
/* Takes n bytes at offset off (see above). NULL hs is a no-op. */
void ferry_sftpc_hashes_feed(ferry_sftpc_hashes *hs, uint64_t off, const uint8_t *p, size_t n);
/* The transfers that follow (ferry_sftpc_download / _upload) feed the
 * data they write or send into hs (NULL: none); hs must outlive them. */
void ferry_sftpc_set_stream_hash(ferry_sftpc *c, ferry_sftpc_hashes *hs);
/* The next transfer calls fn(ctx) once, when its last request has been
 * sent, so that what fn sends travels in the same flight (a CLOSE, a
 * verification): ferry_sftpc_download_sized when every READ up to the
 * size (and the one at it) is out, ferry_sftpc_upload after the WRITE of
 * the last byte, the _small batches when every CLOSE is out. From then on the download sends no READ: if the file
 * turns out longer, or a reply short, it ends with FERRY_E_INCOMPLETE and
 * *total at the end of what is whole, to be continued on a new handle
 * (AGAIN stays what an interrupt returns). NULL: none. */
void ferry_sftpc_set_after_last(ferry_sftpc *c, void (*fn)(void *ctx), void *ctx);

/* One comparison of [0, len) of a remote file with a local fd. */
typedef struct ferry_sftpc_cmp {
    const ferry_buf *handle; /* remote handle opened with READ, or NULL: */
    const char *path;        /* by name (check-file-name) */
    int fd;                  /* local file, read with pread */
    uint64_t len;
    const ferry_sftpc_hashes *known; /* pieces hashed already, or NULL */
    int result;                      /* out: FERRY_OK, UNSUPPORTED (not offered), or an error */
    int same;                        /* out (when result is OK): 1 equal, 0 different */
} ferry_sftpc_cmp;

/* Compares every job, digest piece by piece, with the requests of all
 * jobs pipelined and the local hashing done while the server hashes.
 * A local file shorter than len counts as different. Returns FERRY_OK
 * unless the session failed (each job has its own result). */
int ferry_sftpc_compare(ferry_sftpc *c, ferry_sftpc_cmp *v, size_t n);
/* The same in two steps, so the requests travel with what was sent just
 * before them: _begin sends the first FERRY_SFTPC_HASH_WINDOW pieces'
 * requests now (all of them for up to 16 pieces: 1 GiB in one file),
 * _end the rest as answers come, takes the answers and frees *run (after
 * a reconnect in between: CLOSED at once, nothing waited for). v must
 * stay valid in between; the local side is hashed at _end. */
typedef struct ferry_sftpc_cmp_run ferry_sftpc_cmp_run;
int ferry_sftpc_compare_begin(ferry_sftpc *c, ferry_sftpc_cmp *v, size_t n,
                              ferry_sftpc_cmp_run **run);
int ferry_sftpc_compare_end(ferry_sftpc *c, ferry_sftpc_cmp_run *run);

#endif
