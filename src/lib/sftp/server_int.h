/* server_int.h: state shared by the SFTP server's files (server.c: framing,
 * dispatch, replies, handles; server_fs.c: the v3 requests; server_ext.c:
 * extensions; server_chan.c: the channel adapter). Not exported. */
#ifndef FERRY_SFTP_SERVER_INT_H
#define FERRY_SFTP_SERVER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "crypto/chk.h"

#include "sftp/proto.h"
#include "sftp/server.h"
#include "util/buf.h"
#include "vfs/vfs.h"

#define FERRY__SFTP_DEFAULT_MAX_READ (256u * 1024)
#define FERRY__SFTP_MAX_MAX_READ (4u * 1024 * 1024)
/* A packet may carry max_read data plus this much header (WRITE: type,
 * id, handle <= 256, offset, length). */
#define FERRY__SFTP_PACKET_SLACK 1024u
/* READDIR batches: at most this many names or about this many bytes. */
#define FERRY__SFTP_DIR_BATCH 100u
#define FERRY__SFTP_DIR_BYTES (64u * 1024)
/* check-file: most bytes hashed per request. */
#define FERRY__SFTP_CHECK_MAX (64ull * 1024 * 1024)

enum { H_FREE = 0, H_FILE = 1, H_DIR = 2 };

/* A handle's running piece hashes (server_hash.c), in an algorithm with
 * a digest of at most this many bytes. */
typedef struct ferry__sftp_run ferry__sftp_run;
#define FERRY__SFTP_RUN_DIGEST 32u

/* Piece digests of a file closed after a run, with the key that says it
 * is unchanged (server_hash.c). */
#define FERRY__SFTP_HCACHE 8
typedef struct ferry__sftp_hcache {
    uint64_t dev, ino, size;
    int64_t mtime;
    uint32_t mtime_nsec;
    const ferry_chk_alg *alg;
    uint8_t (*pieces)[FERRY__SFTP_RUN_DIGEST]; /* NULL: a free slot */
    size_t n;
} ferry__sftp_hcache;

typedef struct ferry__sftp_handle {
    int kind;
    uint32_t gen;
    ferry_vfs_file *file;
    ferry_vfs_dir *dir;
    char *path;       /* as the user gave it, for events */
    uint32_t pflags;  /* SSH_FXF_* of the OPEN */
    uint64_t bytes_read, bytes_written;
    uint64_t t_open;
    int write_err;        /* first failed WRITE: CLOSE discards the upload */
    ferry__sftp_run *run; /* running piece hashes of what was written/read */
    int run_dead;         /* written out of order: no run any more */
} ferry__sftp_handle;

struct ferry_sftp_server {
    ferry_sftp_server_config cfg;
    ferry_sftp_writer w;
    ferry_buf *out;    /* reply bytes not yet taken by the writer */
    ferry_buf *reply;  /* the reply being built */
    ferry__sftp_handle *h;
    unsigned nh;
    uint32_t max_read;
    uint32_t max_packet;
    int inited;
    int fatal;         /* a writer error: the stream is dead */
    int replied;       /* the current handler sent its reply */
    const char *errmsg; /* message for the current error status, or NULL */
    const char *refusal; /* the current request was refused by the mode */
    int seen_check;      /* a check-file request came (running_hash) */
    int deferred;        /* the handler asked to see its request again later */
    int held;            /* such a request waits in the caller's input */
    const ferry_chk_alg *run_alg; /* of new runs: the last whole-piece check-file's */
    ferry__sftp_hcache hcache[FERRY__SFTP_HCACHE];
    unsigned hcache_next;
};

typedef struct ferry_sftp_server S;

/* Handler of one request: parses the rest of the packet from r (after the
 * request id, and for EXTENDED after the name). Returns FERRY_OK after
 * sending its reply (or to get a STATUS OK), or a FERRY_E_* the
 * dispatcher turns into a STATUS (FORMAT -> BAD_MESSAGE, ...), with
 * s->errmsg as its message when set. */
typedef int (*ferry__sftp_handler)(S *s, uint32_t id, ferry_rd *r);

/* ---- replies (server.c) ---- */
/* Starts a reply of `type` to request `id` in s->reply. */
int ferry__sftp_begin(S *s, uint8_t type, uint32_t id);
/* Finishes the reply in s->reply and queues it for the writer. */
int ferry__sftp_send(S *s);
int ferry__sftp_send_status(S *s, uint32_t id, uint32_t code, const char *msg);
/* One-entry NAME reply (REALPATH, READLINK, expand-path...): the name is
 * also the longname, attrs empty. */
int ferry__sftp_send_name1(S *s, uint32_t id, const char *name);
int ferry__sftp_send_attrs(S *s, uint32_t id, const ferry_vfs_attr *st);
void ferry__sftp_attrs_from_vfs(ferry_sftp_attrs *a, const ferry_vfs_attr *st);
void ferry__sftp_setattr_from(ferry_vfs_setattr *sa, const ferry_sftp_attrs *a);

/* ---- request fields (server.c) ---- */
/* A path string into out[FERRY_VFS_PATH_MAX + 1]: FORMAT on a NUL byte
 * or truncation, TOO_LARGE if longer. */
int ferry__sftp_rd_path(ferry_rd *r, char *out);
/* A handle string naming a live handle of `kind` (H_FILE, H_DIR or 0 for
 * either): *hp set, or FERRY_E_INVALID_ARG with s->errmsg set. */
int ferry__sftp_rd_handle(S *s, ferry_rd *r, int kind, ferry__sftp_handle **hp);
/* A free handle slot (gen assigned): LIMIT "too many open handles". */
int ferry__sftp_handle_alloc(S *s, ferry__sftp_handle **hp, const char *path);
/* Encodes h's handle string into the current reply. */
int ferry__sftp_put_handle(S *s, const ferry__sftp_handle *h);
/* Releases h's slot (closing nothing; the caller closed the object). */
void ferry__sftp_handle_release(S *s, ferry__sftp_handle *h);

/* Or-ed into every ferry_vfs_close `how` of a file handle:
 * FERRY_VFS_CLOSE_NOREPLACE in upload-only sessions (an upload never
 * replaces or removes another name, not even a partial file), else 0. */
int ferry__sftp_close_flags(const S *s);

/* ---- events and clock (server.c) ---- */
uint64_t ferry__sftp_now(S *s);
/* Emits one event: status from rc via ferry_sftp_status_from_err, the
 * refusal from s->refusal. */
void ferry__sftp_event(S *s, const char *op, const char *path, const char *path2, int rc);
/* A refusal by the session's mode: sets s->errmsg and s->refusal to why
 * (a static string), returns FERRY_E_PERMISSION. */
int ferry__sftp_refuse(S *s, const char *why);
/* Emits the close/abort event of a file handle. */
void ferry__sftp_event_close(S *s, const ferry__sftp_handle *h, int status);

/* ---- shared request pieces (server_fs.c) ---- */
/* SETSTAT (follow=1) / lsetstat (follow=0): path, ATTRS, STATUS answer. */
int ferry__sftp_setstat_path(S *s, ferry_rd *r, int follow);
/* Owner shown for uid: the session user for the server's own uid, else
 * the number written into buf. */
const char *ferry__sftp_owner_name(S *s, uint32_t uid, char buf[16]);
/* Sends the NAME answer of REALPATH for path ("" means "."). */
int ferry__sftp_realpath_reply(S *s, uint32_t id, const char *path);
/* Two paths then one call chosen by op: "rename" (vfs rename with flags),
 * "link" (hard link), "symlink" (target, linkpath); emits the event. */
int ferry__sftp_two_paths(S *s, ferry_rd *r, const char *op, uint32_t flags);

/* ---- handlers ---- */
int ferry__sftp_on_open(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_close(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_read(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_write(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_lstat(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_fstat(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_setstat(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_fsetstat(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_opendir(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_readdir(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_remove(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_mkdir(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_rmdir(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_realpath(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_stat(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_rename(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_readlink(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_symlink(S *s, uint32_t id, ferry_rd *r);

int ferry__sftp_on_posix_rename(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_statvfs(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_fstatvfs(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_hardlink(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_fsync(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_lsetstat(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_limits(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_expand_path(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_copy_data(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_home_directory(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_users_groups(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_check_file_handle(S *s, uint32_t id, ferry_rd *r);
int ferry__sftp_on_check_file_name(S *s, uint32_t id, ferry_rd *r);

/* ---- running hashes (server_hash.c) ---- */
/* After a successful OPEN (h->pflags set): starts a run when the policy
 * allows and the handle writes (not APPEND) to an empty file, or only
 * reads a non-empty one. */
void ferry__sftp_run_open(S *s, ferry__sftp_handle *h);
/* After a successful WRITE of d[n] at off: extends the run, or ends it
 * when off is not where the run stands. */
void ferry__sftp_run_write(ferry__sftp_handle *h, uint64_t off, const uint8_t *d, size_t n);
/* After a successful READ of d[n] at off: the same for a reading run. */
void ferry__sftp_run_read(ferry__sftp_handle *h, uint64_t off, const uint8_t *d, size_t n);
/* The handle's content changed otherwise: no run for it any more. */
void ferry__sftp_run_drop(ferry__sftp_handle *h);
/* Frees the run (handle released). */
void ferry__sftp_run_release(ferry__sftp_handle *h);
/* The digest (in alg) of the piece [start, start+len) of the handle's
 * file (st: its fstat now) from its run: 1 with out set, 0 when the run
 * cannot tell. */
int ferry__sftp_run_answer(ferry__sftp_handle *h, const ferry_vfs_attr *st,
                           const ferry_chk_alg *alg, uint64_t start, uint64_t len, uint8_t *out);
/* Whether hashing the piece [start, start+len) by reading may seed or
 * extend the run (ferry__sftp_run_seed with the state before the final). */
int ferry__sftp_run_seedable(const ferry__sftp_handle *h, uint64_t size, uint64_t start,
                             uint64_t len);
void ferry__sftp_run_seed(ferry__sftp_handle *h, uint64_t start, uint64_t len,
                          const ferry_chk *state);
/* ferry_vfs_close(h->file, how) (h->file is NULL after), keeping the piece
 * digests of a committed run in the session's cache. */
int ferry__sftp_close_file(S *s, ferry__sftp_handle *h, int how);
/* The digest (in alg) of a piece of a file (st from its fstat) from the
 * cache. */
int ferry__sftp_hcache_answer(S *s, const ferry_vfs_attr *st, const ferry_chk_alg *alg,
                              uint64_t start, uint64_t len, uint8_t *out);
void ferry__sftp_hcache_free(S *s);


#endif
