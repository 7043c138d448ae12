/* server.c: the SFTP v3 server core: stream framing, the dispatch table,
 * replies, handles, events. The requests themselves are in server_fs.c
 * (draft-ietf-secsh-filexfer-02) and server_ext.c (extensions).
 *
 * UPLOADS, ATOMICITY AND RESUME (the rules ferryd documents)
 * -----------------------------------------------------------
 * With atomic uploads on (the default):
 *  - An OPEN with WRITE and CREAT or TRUNC that would create the file, or
 *    truncate an existing regular file, writes to a hidden temporary file
 *    ".<name>.ferry-<16 hex digits>.part" in the same directory (created
 *    with O_EXCL; permissions from the OPEN's attributes, else 0666 less
 *    the umask; a replaced file keeps its permissions).
 *  - A successful CLOSE syncs the temporary file and renames it over the
 *    name. Until then the name shows the old content (or nothing): readers
 *    never see a partial upload. A crash leaves at most a ".part" file.
 *  - If the session ends (connection lost, client gone, SIGTERM), the
 *    channel closes, or the handle is otherwise dropped without a
 *    successful CLOSE, then with keep_partial (ferryd's KeepPartialUploads,
 *    default yes) a temporary file holding at least one byte is renamed to
 *    ".<name>.ferry-partial" in the same directory, mode 0600, replacing an
 *    older one (when that name would exceed NAME_MAX, or without
 *    keep_partial, or when empty, the temporary file is deleted instead).
 *    A "partial_kept" event (path, path2 = the partial) reports it. A
 *    killed process cannot do this: it leaves the ".part" file, which a
 *    STAT or an OPEN without CREAT of the missing partial then recovers
 *    as the partial (ferry_vfs_recover_partial; "partial_recovered").
 *  - A successful CLOSE of an atomic upload removes a stale
 *    ".<name>.ferry-partial" of the same name.
 *  - With keep_partial, VERSION announces "partial-upload@ferry.dev" "1".
 *    The partial file is an ordinary hidden file: a client resumes by
 *    opening it with WRITE (and READ, to check-file its prefix) but
 *    without TRUNC, which writes in place (below), then renames it onto
 *    the final name (posix-rename@openssh.com, or RENAME to a free name).
 *  - EXCL: the OPEN fails if the name exists, and the final rename uses
 *    RENAME_NOREPLACE, so a name created meanwhile is never overwritten
 *    (the CLOSE then fails and the upload is discarded).
 *  - STAT/FSTAT on the open handle report the temporary file.
 *  - Resume: an OPEN with WRITE but without TRUNC of an EXISTING file
 *    (with or without APPEND, writing at any offset) writes in place,
 *    which is how clients resume (OpenSSH "reput", lftp, rclone). Note
 *    that an interrupted atomic upload leaves nothing under the final
 *    name: only the partial file (above) can be resumed.
 *  - A name that is a symlink is written through in place (as without
 *    atomic uploads).
 * With atomic uploads off, OPEN maps directly to open(2).
 *
 * MODES
 *  - read-only: every request that changes storage is refused with
 *    PERMISSION_DENIED (OPEN with WRITE/CREAT/TRUNC/APPEND, WRITE, SETSTAT,
 *    FSETSTAT, lsetstat, REMOVE, RMDIR, MKDIR, RENAME, posix-rename,
 *    SYMLINK, hardlink, copy-data).
 *  - upload-only: create, write, mkdir, list, stat and rename to a free
 *    name are allowed (so is resuming through a partial file: writing it
 *    in place and renaming it to a free final name; its prefix cannot be
 *    hashed; an interrupted upload is kept only when no partial file of
 *    that name exists, and a successful one leaves a stale partial file
 *    alone: uploads never replace or remove a file); READ of file data,
 *    check-file and copy-data,
 *    REMOVE, RMDIR, replacing an existing file (OPEN with TRUNC of an
 *    existing name, posix-rename over an existing name, SETSTAT of the
 *    size) are refused with PERMISSION_DENIED. Appending to / resuming an
 *    existing file in place is allowed.
 *  - Every refusal by the mode emits an event with `refusal` set to the
 *    reason sent in the STATUS (ferryd's audit field "refused").
 *
 * PROTOCOL NOTES
 *  - SYMLINK takes (targetpath, linkpath), OpenSSH's order (PROTOCOL 4.1),
 *    which most clients send; the draft lists them reversed, and the
 *    clients that send that order to servers other than OpenSSH get it
 *    taken so (cfg.symlink_draft_order, ferry_sftp_symlink_draft_order).
 *  - RENAME (v3) never replaces an existing name; posix-rename@openssh.com
 *    does.
 *  - Unknown request types and extensions get OP_UNSUPPORTED, malformed
 *    requests BAD_MESSAGE; bad or closed handles FAILURE. Bytes after the
 *    fields of a request are ignored (as OpenSSH does). A packet longer
 *    than max_read + 1024 ends the stream (negative return).
 *  - READ lengths are clamped to max_read (a short DATA is allowed).
 *  - "check-file" as a request name (paramiko's SFTPFile.check: with a
 *    handle) is check-file-handle.
 *  - Before INIT only INIT is accepted; anything else, or a second INIT,
 *    ends the stream (no request id to answer to).
 */
#include "sftp/server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "sftp/server_int.h"
#include "util/err.h"

/* Which modes refuse a request outright. */
#define F_WRITES 0x1u   /* refused in read-only mode */
#define F_READS 0x2u    /* reads file data: refused in upload-only mode */
#define F_DESTROYS 0x4u /* removes data: refused in upload-only mode */
/* What a refused request names, for its event. */
#define F_HANDLE 0x8u  /* a handle comes first (else a path) */
#define F_TWO    0x10u /* a second path follows the first */

typedef struct req_entry {
    uint8_t type;       /* SSH_FXP_*; SSH_FXP_EXTENDED for extensions */
    const char *ext;    /* extension name, or NULL */
    ferry__sftp_handler fn;
    unsigned flags;     /* F_* ("writes?" and friends) */
    const char *op;     /* name in the event of a refusal (NULL: ext), as
                           the handler names its events */
} req_entry;

static const req_entry req_table[] = {
    {SSH_FXP_OPEN, NULL, ferry__sftp_on_open, 0, "open"}, /* mode checks by flags inside */
    {SSH_FXP_CLOSE, NULL, ferry__sftp_on_close, 0, "close"},
    {SSH_FXP_READ, NULL, ferry__sftp_on_read, F_READS | F_HANDLE, "read"},
    {SSH_FXP_WRITE, NULL, ferry__sftp_on_write, F_WRITES | F_HANDLE, "write"},
    {SSH_FXP_LSTAT, NULL, ferry__sftp_on_lstat, 0, "lstat"},
    {SSH_FXP_FSTAT, NULL, ferry__sftp_on_fstat, 0, "fstat"},
    {SSH_FXP_SETSTAT, NULL, ferry__sftp_on_setstat, F_WRITES, "setstat"},
    {SSH_FXP_FSETSTAT, NULL, ferry__sftp_on_fsetstat, F_WRITES | F_HANDLE, "setstat"},
    {SSH_FXP_OPENDIR, NULL, ferry__sftp_on_opendir, 0, "opendir"},
    {SSH_FXP_READDIR, NULL, ferry__sftp_on_readdir, 0, "readdir"},
    {SSH_FXP_REMOVE, NULL, ferry__sftp_on_remove, F_WRITES | F_DESTROYS, "remove"},
    {SSH_FXP_MKDIR, NULL, ferry__sftp_on_mkdir, F_WRITES, "mkdir"},
    {SSH_FXP_RMDIR, NULL, ferry__sftp_on_rmdir, F_WRITES | F_DESTROYS, "rmdir"},
    {SSH_FXP_REALPATH, NULL, ferry__sftp_on_realpath, 0, "realpath"},
    {SSH_FXP_STAT, NULL, ferry__sftp_on_stat, 0, "stat"},
    {SSH_FXP_RENAME, NULL, ferry__sftp_on_rename, F_WRITES | F_TWO, "rename"},
    {SSH_FXP_READLINK, NULL, ferry__sftp_on_readlink, 0, "readlink"},
    {SSH_FXP_SYMLINK, NULL, ferry__sftp_on_symlink, F_WRITES | F_TWO, "symlink"},
    {SSH_FXP_EXTENDED, "posix-rename@openssh.com", ferry__sftp_on_posix_rename, F_WRITES | F_TWO,
     "rename"},
    {SSH_FXP_EXTENDED, "statvfs@openssh.com", ferry__sftp_on_statvfs, 0, NULL},
    {SSH_FXP_EXTENDED, "fstatvfs@openssh.com", ferry__sftp_on_fstatvfs, 0, NULL},
    {SSH_FXP_EXTENDED, "hardlink@openssh.com", ferry__sftp_on_hardlink, F_WRITES | F_TWO, "link"},
    {SSH_FXP_EXTENDED, "fsync@openssh.com", ferry__sftp_on_fsync, 0, NULL},
    {SSH_FXP_EXTENDED, "lsetstat@openssh.com", ferry__sftp_on_lsetstat, F_WRITES, "lsetstat"},
    {SSH_FXP_EXTENDED, "limits@openssh.com", ferry__sftp_on_limits, 0, NULL},
    {SSH_FXP_EXTENDED, "expand-path@openssh.com", ferry__sftp_on_expand_path, 0, NULL},
    {SSH_FXP_EXTENDED, "copy-data", ferry__sftp_on_copy_data, F_WRITES | F_READS | F_HANDLE, NULL},
    {SSH_FXP_EXTENDED, "home-directory", ferry__sftp_on_home_directory, 0, NULL},
    {SSH_FXP_EXTENDED, "users-groups-by-id@openssh.com", ferry__sftp_on_users_groups, 0, NULL},
    {SSH_FXP_EXTENDED, "check-file-handle", ferry__sftp_on_check_file_handle, F_READS | F_HANDLE,
     NULL},
    /* paramiko's SFTPFile.check sends the handle form under this name */
    {SSH_FXP_EXTENDED, "check-file", ferry__sftp_on_check_file_handle, F_READS | F_HANDLE, NULL},
    {SSH_FXP_EXTENDED, "check-file-name", ferry__sftp_on_check_file_name, F_READS, NULL},
};

/* Extension pairs announced in VERSION (OpenSSH PROTOCOL 4.2). */
static const struct {
    const char *name, *data;
} version_exts[] = {
    {"posix-rename@openssh.com", "1"},
    {"statvfs@openssh.com", "2"},
    {"fstatvfs@openssh.com", "2"},
    {"hardlink@openssh.com", "1"},
    {"fsync@openssh.com", "1"},
    {"lsetstat@openssh.com", "1"},
    {"limits@openssh.com", "1"},
    {"expand-path@openssh.com", "1"},
    {"copy-data", "1"},
    {"home-directory", "1"},
    {"users-groups-by-id@openssh.com", "1"},
    {"check-file", NULL}, /* ferry_chk_names() */
    {"check-file-handle", "1"},
    {"check-file-name", "1"},
    {"partial-upload@ferry.dev", "1"}, /* last: sent only with keep_partial */
};

/* ---- output ---- */

/* Hands queued bytes to the writer, in pieces as its room allows. */
static void flush(S *s)
{
    while (s->fatal == 0 && ferry_buf_len(s->out) > 0) {
        size_t n = ferry_buf_len(s->out);
        if (s->w.room != NULL) {
            size_t room = s->w.room(s->w.ctx);
            if (room == 0) {
                return;
            }
            n = room < n ? room : n;
        }
        int r = s->w.write(s->w.ctx, ferry_buf_data(s->out), n);
        if (r == FERRY_E_AGAIN) {
            return;
        }
        if (r != FERRY_OK) {
            s->fatal = r;
            return;
        }
        ferry_buf_consume(s->out, n);
    }
}

int ferry__sftp_begin(S *s, uint8_t type, uint32_t id)
{
    ferry_buf_reset(s->reply);
    int r = ferry_buf_put_u32(s->reply, 0);
    if (r == FERRY_OK) {
        r = ferry_buf_put_u8(s->reply, type);
    }
    if (r == FERRY_OK && type != SSH_FXP_VERSION) {
        r = ferry_buf_put_u32(s->reply, id);
    }
    return r;
}

int ferry__sftp_send(S *s)
{
    size_t len = ferry_buf_len(s->reply);
    int r = ferry_buf_poke_u32(s->reply, 0, (uint32_t)(len - 4));
    if (r == FERRY_OK && ferry_buf_len(s->out) == 0 &&
        (s->w.room == NULL || s->w.room(s->w.ctx) >= len)) {
        /* nothing queued: hand the reply over without copying it */
        r = s->w.write(s->w.ctx, ferry_buf_data(s->reply), len);
        if (r == FERRY_OK || r != FERRY_E_AGAIN) {
            s->fatal = r;
            s->replied = 1;
            return r;
        }
        r = FERRY_OK;
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put(s->out, ferry_buf_data(s->reply), len);
    }
    if (r != FERRY_OK) {
        s->fatal = r;
        return r;
    }
    s->replied = 1;
    flush(s);
    return FERRY_OK;
}

int ferry__sftp_send_status(S *s, uint32_t id, uint32_t code, const char *msg)
{
    int r = ferry__sftp_begin(s, SSH_FXP_STATUS, id);
    if (r == FERRY_OK) {
        r = ferry_buf_put_u32(s->reply, code);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_cstring(s->reply, msg ? msg : ferry_sftp_status_message(code));
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_cstring(s->reply, "en");
    }
    return r == FERRY_OK ? ferry__sftp_send(s) : r;
}

int ferry__sftp_send_name1(S *s, uint32_t id, const char *name)
{
    ferry_sftp_attrs a = {0};
    int r = ferry__sftp_begin(s, SSH_FXP_NAME, id);
    if (r == FERRY_OK) {
        r = ferry_buf_put_u32(s->reply, 1);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_cstring(s->reply, name);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_cstring(s->reply, name);
    }
    if (r == FERRY_OK) {
        r = ferry_sftp_attrs_encode(s->reply, &a);
    }
    return r == FERRY_OK ? ferry__sftp_send(s) : r;
}

void ferry__sftp_attrs_from_vfs(ferry_sftp_attrs *a, const ferry_vfs_attr *st)
{
    memset(a, 0, sizeof(*a));
    a->flags = SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID | SSH_FILEXFER_ATTR_PERMISSIONS |
               SSH_FILEXFER_ATTR_ACMODTIME;
    a->size = st->size;
    a->uid = st->uid;
    a->gid = st->gid;
    a->perm = st->mode;
    a->atime = (uint32_t)st->atime;
    a->mtime = (uint32_t)st->mtime;
}

void ferry__sftp_setattr_from(ferry_vfs_setattr *sa, const ferry_sftp_attrs *a)
{
    memset(sa, 0, sizeof(*sa));
    if (a->flags & SSH_FILEXFER_ATTR_SIZE) {
        sa->set |= FERRY_VFS_SET_SIZE;
        sa->size = a->size;
    }
    if (a->flags & SSH_FILEXFER_ATTR_UIDGID) {
        sa->set |= FERRY_VFS_SET_OWNER;
        sa->uid = a->uid;
        sa->gid = a->gid;
    }
    if (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) {
        sa->set |= FERRY_VFS_SET_MODE;
        sa->mode = a->perm & 07777;
    }
    if (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) {
        sa->set |= FERRY_VFS_SET_TIMES;
        sa->atime = a->atime;
        sa->mtime = a->mtime;
    }
}

int ferry__sftp_send_attrs(S *s, uint32_t id, const ferry_vfs_attr *st)
{
    ferry_sftp_attrs a;
    ferry__sftp_attrs_from_vfs(&a, st);
    int r = ferry__sftp_begin(s, SSH_FXP_ATTRS, id);
    if (r == FERRY_OK) {
        r = ferry_sftp_attrs_encode(s->reply, &a);
    }
    return r == FERRY_OK ? ferry__sftp_send(s) : r;
}

/* ---- request fields and handles ---- */

int ferry__sftp_rd_path(ferry_rd *r, char *out)
{
    return ferry_rd_name(r, out, FERRY_VFS_PATH_MAX + 1);
}

int ferry__sftp_rd_handle(S *s, ferry_rd *r, int kind, ferry__sftp_handle **hp)
{
    const uint8_t *p;
    size_t n;
    int rc = ferry_rd_string(r, &p, &n);
    if (rc != FERRY_OK) {
        return rc;
    }
    s->errmsg = "invalid handle";
    if (n != 8) {
        return FERRY_E_INVALID_ARG;
    }
    uint32_t idx = ferry_load_u32(p), gen = ferry_load_u32(p + 4);
    if (idx >= s->nh || s->h[idx].kind == H_FREE || s->h[idx].gen != gen) {
        return FERRY_E_INVALID_ARG;
    }
    if (kind != 0 && s->h[idx].kind != kind) {
        s->errmsg = kind == H_FILE ? "not a file handle" : "not a directory handle";
        return FERRY_E_INVALID_ARG;
    }
    s->errmsg = NULL;
    *hp = &s->h[idx];
    return FERRY_OK;
}

int ferry__sftp_handle_alloc(S *s, ferry__sftp_handle **hp, const char *path)
{
    for (unsigned i = 0; i < s->nh; i++) {
        ferry__sftp_handle *h = &s->h[i];
        if (h->kind != H_FREE) {
            continue;
        }
        memset(h, 0, sizeof(*h));
        if (RAND_bytes((unsigned char *)&h->gen, sizeof(h->gen)) != 1) {
            return ferry_err_crypto();
        }
        h->path = strdup(path);
        if (h->path == NULL) {
            return FERRY_E_ALLOC;
        }
        h->t_open = ferry__sftp_now(s);
        *hp = h;
        return FERRY_OK;
    }
    s->errmsg = "too many open handles";
    return FERRY_E_LIMIT;
}

int ferry__sftp_put_handle(S *s, const ferry__sftp_handle *h)
{
    uint8_t hb[8];
    uint32_t idx = (uint32_t)(h - s->h);
    for (int i = 0; i < 4; i++) {
        hb[i] = (uint8_t)(idx >> (24 - 8 * i));
        hb[4 + i] = (uint8_t)(h->gen >> (24 - 8 * i));
    }
    return ferry_buf_put_string(s->reply, hb, sizeof(hb));
}

int ferry__sftp_close_flags(const S *s)
{
    return s->cfg.mode == FERRY_SFTP_UPLOAD_ONLY ? FERRY_VFS_CLOSE_NOREPLACE : 0;
}

void ferry__sftp_handle_release(S *s, ferry__sftp_handle *h)
{
    (void)s;
    ferry__sftp_run_release(h);
    free(h->path);
    memset(h, 0, sizeof(*h));
}

/* ---- events ---- */

uint64_t ferry__sftp_now(S *s)
{
    if (s->cfg.now_ms != NULL) {
        return s->cfg.now_ms(s->cfg.clock_ctx);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ferry__sftp_event(S *s, const char *op, const char *path, const char *path2, int rc)
{
    if (s->cfg.on_event == NULL) {
        return;
    }
    ferry_sftp_event ev = {
        .op = op,
        .path = path,
        .path2 = path2,
        .status = (int)ferry_sftp_status_from_err(rc),
        .refusal = rc == FERRY_E_PERMISSION ? s->refusal : NULL,
    };
    s->cfg.on_event(s->cfg.event_ctx, &ev);
}

int ferry__sftp_refuse(S *s, const char *why)
{
    s->errmsg = why;
    s->refusal = why;
    return FERRY_E_PERMISSION;
}

void ferry__sftp_event_close(S *s, const ferry__sftp_handle *h, int status)
{
    if (s->cfg.on_event == NULL) {
        return;
    }
    ferry_sftp_event ev = {
        .op = h->kind == H_DIR ? "closedir" : "close",
        .path = h->path,
        .bytes_read = h->bytes_read,
        .bytes_written = h->bytes_written,
        .status = status,
        .duration_ms = ferry__sftp_now(s) - h->t_open,
    };
    s->cfg.on_event(s->cfg.event_ctx, &ev);
}

/* ---- dispatch ---- */

static int on_init(S *s, ferry_rd *r)
{
    uint32_t version;
    /* The client's version and any extension pairs after it are not
     * needed: we answer 3 whatever it asks (section 4). */
    int rc = ferry_rd_u32(r, &version);
    if (rc != FERRY_OK) {
        return FERRY_E_PROTOCOL;
    }
    rc = ferry__sftp_begin(s, SSH_FXP_VERSION, 0);
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_u32(s->reply, FERRY_SFTP_VERSION);
    }
    size_t n = sizeof(version_exts) / sizeof(version_exts[0]);
    /* the last pair, partial-upload@ferry.dev, only when partials are kept */
    if (!s->cfg.atomic_uploads || !s->cfg.keep_partial) {
        n--;
    }
    for (size_t i = 0; rc == FERRY_OK && i < n; i++) {
        rc = ferry_buf_put_cstring(s->reply, version_exts[i].name);
        if (rc == FERRY_OK) {
            rc = ferry_buf_put_cstring(s->reply, version_exts[i].data != NULL ? version_exts[i].data
                                                                              : ferry_chk_names());
        }
    }
    if (rc == FERRY_OK) {
        rc = ferry__sftp_send(s);
    }
    s->inited = 1;
    return rc;
}

static const req_entry *lookup(uint8_t type, const uint8_t *ext, size_t extlen)
{
    for (size_t i = 0; i < sizeof(req_table) / sizeof(req_table[0]); i++) {
        const req_entry *e = &req_table[i];
        if (e->type != type) {
            continue;
        }
        if (e->ext == NULL || (strlen(e->ext) == extlen && memcmp(e->ext, ext, extlen) == 0)) {
            return e;
        }
    }
    return NULL;
}

static const char *mode_refusal(const S *s, unsigned flags)
{
    if (s->cfg.mode == FERRY_SFTP_READ_ONLY && (flags & F_WRITES)) {
        return "read-only session";
    }
    if (s->cfg.mode == FERRY_SFTP_UPLOAD_ONLY && (flags & (F_READS | F_DESTROYS))) {
        return "upload-only session";
    }
    return NULL;
}

/* The event of a request the mode refused before it ran: what it names
 * is read from a copy of r (nothing when malformed). */
static void refusal_event(S *s, const req_entry *e, const ferry_rd *r, const char *why)
{
    char p1[FERRY_VFS_PATH_MAX + 1], p2[FERRY_VFS_PATH_MAX + 1];
    const char *path = NULL, *path2 = NULL;
    ferry_rd c = *r;
    ferry__sftp_handle *h;
    if (e->flags & F_HANDLE) {
        path = ferry__sftp_rd_handle(s, &c, 0, &h) == FERRY_OK ? h->path : NULL;
    } else if (ferry__sftp_rd_path(&c, p1) == FERRY_OK) {
        path = p1;
        path2 = (e->flags & F_TWO) && ferry__sftp_rd_path(&c, p2) == FERRY_OK ? p2 : NULL;
    }
    (void)ferry__sftp_refuse(s, why);
    ferry__sftp_event(s, e->op != NULL ? e->op : e->ext, path, path2, FERRY_E_PERMISSION);
}

/* Runs one request whose id was read; always answers. */
static int run_request(S *s, uint8_t type, uint32_t id, ferry_rd *r)
{
    const uint8_t *ext = NULL;
    size_t extlen = 0;
    if (type == SSH_FXP_EXTENDED && ferry_rd_string(r, &ext, &extlen) != FERRY_OK) {
        return ferry__sftp_send_status(s, id, SSH_FX_BAD_MESSAGE, NULL);
    }
    const req_entry *e = lookup(type, ext, extlen);
    if (e == NULL) {
        return ferry__sftp_send_status(s, id, SSH_FX_OP_UNSUPPORTED,
                                       type == SSH_FXP_EXTENDED ? "unsupported extension"
                                                                : "unsupported request");
    }
    const char *refusal = mode_refusal(s, e->flags);
    if (refusal != NULL) {
        refusal_event(s, e, r, refusal);
        return ferry__sftp_send_status(s, id, SSH_FX_PERMISSION_DENIED, refusal);
    }
    s->replied = 0;
    s->errmsg = NULL;
    s->refusal = NULL;
    int rc = e->fn(s, id, r);
    if (s->replied || s->fatal || s->deferred) {
        return s->fatal;
    }
    uint32_t code = ferry_sftp_status_from_err(rc);
    const char *msg = s->errmsg;
    if (msg == NULL && code == SSH_FX_FAILURE) {
        msg = ferry_strerror(rc);
    }
    return ferry__sftp_send_status(s, id, code, msg);
}

/* One whole packet (after its length). Negative: the stream is dead. */
static int process(S *s, const uint8_t *p, size_t n)
{
    ferry_rd r;
    uint8_t type;
    uint32_t id;
    ferry_rd_init(&r, p, n);
    if (ferry_rd_u8(&r, &type) != FERRY_OK) {
        return FERRY_E_PROTOCOL;
    }
    if (!s->inited || type == SSH_FXP_INIT) {
        return (!s->inited && type == SSH_FXP_INIT) ? on_init(s, &r) : FERRY_E_PROTOCOL;
    }
    if (ferry_rd_u32(&r, &id) != FERRY_OK) {
        return ferry__sftp_send_status(s, 0, SSH_FX_BAD_MESSAGE, "truncated request");
    }
    return run_request(s, type, id, &r);
}

long ferry_sftp_server_input(ferry_sftp_server *s, const uint8_t *data, size_t len)
{
    size_t off = 0;
    s->held = 0;
    for (;;) {
        flush(s);
        if (s->fatal != 0) {
            return s->fatal;
        }
        if (ferry_buf_len(s->out) > 0 || len - off < 4) {
            break;
        }
        uint32_t plen = ferry_load_u32(data + off);
        if (plen > s->max_packet || plen == 0) {
            return plen == 0 ? FERRY_E_FORMAT : FERRY_E_TOO_LARGE;
        }
        if (len - off - 4 < plen) {
            break;
        }
        int r = process(s, data + off + 4, plen);
        if (r < 0) {
            s->fatal = r;
            return r;
        }
        if (s->deferred) { /* not consumed: offered again once writable */
            s->deferred = 0;
            s->held = 1;
            break;
        }
        off += 4 + (size_t)plen;
    }
    return (long)off;
}

void ferry_sftp_server_writable(ferry_sftp_server *s)
{
    flush(s);
}

size_t ferry_sftp_server_pending(const ferry_sftp_server *s)
{
    return ferry_buf_len(s->out) + (s->held ? 1 : 0);
}

int ferry_sftp_server_new(ferry_sftp_server **out, const ferry_sftp_server_config *cfg,
                          const ferry_sftp_writer *w)
{
    *out = NULL;
    if (cfg->vfs == NULL || w == NULL || w->write == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    S *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return FERRY_E_ALLOC;
    }
    s->cfg = *cfg;
    s->run_alg = ferry_chk_by_name(FERRY_CHK_POLY_NAME); /* ferry's choice */
    s->w = *w;
    s->nh = cfg->max_handles ? cfg->max_handles : 256;
    if (s->nh > 65536) {
        s->nh = 65536;
    }
    s->max_read = cfg->max_read ? cfg->max_read : FERRY__SFTP_DEFAULT_MAX_READ;
    if (s->max_read > FERRY__SFTP_MAX_MAX_READ) {
        s->max_read = FERRY__SFTP_MAX_MAX_READ;
    }
    s->max_packet = s->max_read + FERRY__SFTP_PACKET_SLACK;
    size_t reply_max = (size_t)s->max_read + FERRY__SFTP_DIR_BYTES + 4096;
    s->h = calloc(s->nh, sizeof(*s->h));
    s->reply = ferry_buf_new(reply_max);
    s->out = ferry_buf_new(2 * reply_max);
    if (s->h == NULL || s->reply == NULL || s->out == NULL) {
        ferry_sftp_server_free(s);
        return FERRY_E_ALLOC;
    }
    *out = s;
    return FERRY_OK;
}

/* A file handle dropped without a successful CLOSE (session or channel
 * ended): an atomic upload is kept as the partial file when configured
 * (an event "partial_kept" names it), else discarded; so is one after a
 * failed WRITE (it may hold a hole). */
static void drop_file(S *s, ferry__sftp_handle *h)
{
    int keep = s->cfg.atomic_uploads && s->cfg.keep_partial && h->write_err == 0;
    int rc =
        ferry_vfs_close(h->file, (keep ? FERRY_VFS_CLOSE_KEEP_PARTIAL : FERRY_VFS_CLOSE_DISCARD) |
                                     ferry__sftp_close_flags(s));
    ferry__sftp_event_close(s, h, SSH_FX_CONNECTION_LOST);
    char partial[FERRY_VFS_PATH_MAX + 1];
    if (keep && rc == FERRY_OK &&
        ferry_vfs_partial_name(h->path, partial, sizeof(partial)) == FERRY_OK) {
        ferry__sftp_event(s, "partial_kept", h->path, partial, FERRY_OK);
    }
}

void ferry_sftp_server_free(ferry_sftp_server *s)
{
    if (s == NULL) {
        return;
    }
    for (unsigned i = 0; s->h != NULL && i < s->nh; i++) {
        ferry__sftp_handle *h = &s->h[i];
        if (h->kind == H_FILE) {
            /* no successful CLOSE: an atomic upload is discarded or kept */
            drop_file(s, h);
        } else if (h->kind == H_DIR) {
            ferry_vfs_closedir(h->dir);
        }
        ferry__sftp_handle_release(s, h);
    }
    free(s->h);
    ferry__sftp_hcache_free(s);
    ferry_buf_free(s->reply);
    ferry_buf_free(s->out);
    free(s);
}
