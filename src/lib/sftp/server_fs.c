/* server_fs.c: the SFTP v3 requests of draft-ietf-secsh-filexfer-02
 * section 6 (see server.c for the rules on modes, atomic uploads and
 * resume). Each handler parses its fields, acts through the vfs and
 * answers (or returns a FERRY_E_* the dispatcher turns into a STATUS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sftp/server_int.h"
#include "util/err.h"

typedef char path_buf[FERRY_VFS_PATH_MAX + 1];

/* ---- files ---- */

static uint32_t vfs_flags_from(uint32_t pflags)
{
    uint32_t f = 0;
    f |= (pflags & SSH_FXF_READ) ? FERRY_VFS_O_READ : 0;
    f |= (pflags & SSH_FXF_WRITE) ? FERRY_VFS_O_WRITE : 0;
    f |= (pflags & SSH_FXF_APPEND) ? FERRY_VFS_O_APPEND : 0;
    f |= (pflags & SSH_FXF_CREAT) ? FERRY_VFS_O_CREAT : 0;
    f |= (pflags & SSH_FXF_TRUNC) ? FERRY_VFS_O_TRUNC : 0;
    f |= (pflags & SSH_FXF_EXCL) ? FERRY_VFS_O_EXCL : 0;
    return f;
}

/* Mode rules for OPEN (server.c, MODES). */
static int open_allowed(S *s, const char *path, uint32_t pflags)
{
    uint32_t changes = SSH_FXF_WRITE | SSH_FXF_APPEND | SSH_FXF_CREAT | SSH_FXF_TRUNC;
    if (s->cfg.mode == FERRY_SFTP_READ_ONLY && (pflags & changes)) {
        return ferry__sftp_refuse(s, "read-only session");
    }
    if (s->cfg.mode == FERRY_SFTP_UPLOAD_ONLY && (pflags & SSH_FXF_TRUNC)) {
        ferry_vfs_attr st;
        if (ferry_vfs_stat(s->cfg.vfs, path, 1, &st) == FERRY_OK) {
            return ferry__sftp_refuse(s, "upload-only session: cannot replace an existing file");
        }
    }
    return FERRY_OK;
}

/* `path`, a partial-upload name that is not there: recovers the upload
 * of its final name whose session died without keeping it (killed,
 * crashed; ferry_vfs_recover_partial), when partials are kept at all.
 * 1 if the partial is there now. The "partial_recovered" event names it. */
static int recover_partial(S *s, const char *path)
{
    char final[FERRY_VFS_PATH_MAX + 1];
    if (!s->cfg.atomic_uploads || !s->cfg.keep_partial ||
        ferry_vfs_partial_of(path, final, sizeof(final)) != FERRY_OK) {
        return 0;
    }
    int rc = ferry_vfs_recover_partial(s->cfg.vfs, final);
    if (rc == FERRY_OK) {
        ferry__sftp_event(s, "partial_recovered", final, path, rc);
    }
    return rc == FERRY_OK || rc == FERRY_E_EXISTS;
}

static int do_open(S *s, const char *path, uint32_t pflags, uint32_t mode, ferry_vfs_file **f)
{
    uint32_t vf = vfs_flags_from(pflags);
    if (s->cfg.mode == FERRY_SFTP_UPLOAD_ONLY && (pflags & SSH_FXF_CREAT) &&
        (pflags & SSH_FXF_TRUNC)) {
        /* the name was free at open_allowed: never replace a file that
         * appears meanwhile (the final rename then uses NOREPLACE) */
        vf |= FERRY_VFS_O_EXCL;
    }
    if (s->cfg.atomic_uploads && (pflags & SSH_FXF_WRITE) &&
        (pflags & (SSH_FXF_CREAT | SSH_FXF_TRUNC))) {
        int r = ferry_vfs_open(s->cfg.vfs, path, vf | FERRY_VFS_O_ATOMIC, mode, f);
        if (r != FERRY_E_UNSUPPORTED) {
            return r;
        }
    }
    return ferry_vfs_open(s->cfg.vfs, path, vf, mode, f);
}

int ferry__sftp_on_open(S *s, uint32_t id, ferry_rd *r)
{
    path_buf path;
    uint32_t pflags;
    ferry_sftp_attrs a;
    ferry__sftp_handle *h = NULL;
    int rc = ferry__sftp_rd_path(r, path);
    if (rc == FERRY_OK) {
        rc = ferry_rd_u32(r, &pflags);
    }
    if (rc == FERRY_OK) {
        rc = ferry_sftp_attrs_decode(r, &a);
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    uint32_t mode = (a.flags & SSH_FILEXFER_ATTR_PERMISSIONS) ? (a.perm & 07777)
                                                              : FERRY_VFS_MODE_DEFAULT;
    rc = open_allowed(s, path, pflags);
    if (rc == FERRY_OK) {
        rc = ferry__sftp_handle_alloc(s, &h, path);
    }
    if (rc == FERRY_OK) {
        rc = do_open(s, path, pflags, mode, &h->file);
        if (rc == FERRY_E_NOT_FOUND && !(pflags & SSH_FXF_CREAT) && recover_partial(s, path)) {
            rc = do_open(s, path, pflags, mode, &h->file);
        }
    }
    ferry__sftp_event(s, "open", path, NULL, rc);
    if (rc != FERRY_OK) {
        if (h != NULL) {
            ferry__sftp_handle_release(s, h);
        }
        return rc;
    }
    h->kind = H_FILE;
    h->pflags = pflags;
    ferry__sftp_run_open(s, h);
    rc = ferry__sftp_begin(s, SSH_FXP_HANDLE, id);
    if (rc == FERRY_OK) {
        rc = ferry__sftp_put_handle(s, h);
    }
    return rc == FERRY_OK ? ferry__sftp_send(s) : rc;
}

int ferry__sftp_on_close(S *s, uint32_t id, ferry_rd *r)
{
    ferry__sftp_handle *h;
    int rc = ferry__sftp_rd_handle(s, r, 0, &h);
    if (rc != FERRY_OK) {
        return rc;
    }
    if (h->kind == H_FILE) {
        /* after a failed WRITE (a full disk) an atomic upload holds a hole:
         * never move it into place; CLOSE reports that error again */
        rc = ferry__sftp_close_file(
            s, h, h->write_err ? FERRY_VFS_CLOSE_DISCARD : FERRY_VFS_CLOSE_COMMIT);
        rc = h->write_err ? h->write_err : rc;
        ferry__sftp_event_close(s, h, (int)ferry_sftp_status_from_err(rc));
    } else {
        ferry_vfs_closedir(h->dir);
        ferry__sftp_event_close(s, h, SSH_FX_OK);
    }
    ferry__sftp_handle_release(s, h);
    return rc;
}

/* A DATA reply's header: length, type, id, data length. */
#define DATA_HDR 13u

int ferry__sftp_on_read(S *s, uint32_t id, ferry_rd *r)
{
    ferry__sftp_handle *h;
    uint64_t off;
    uint32_t len;
    int rc = ferry__sftp_rd_handle(s, r, H_FILE, &h);
    if (rc == FERRY_OK) {
        rc = ferry_rd_u64(r, &off);
    }
    if (rc == FERRY_OK) {
        rc = ferry_rd_u32(r, &len);
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    if ((h->pflags & SSH_FXF_WRITE) && !(h->pflags & SSH_FXF_READ)) {
        s->errmsg = "handle not open for reading";
        return FERRY_E_PERMISSION;
    }
    len = len > s->max_read ? s->max_read : len; /* a short DATA is allowed */
    uint8_t *dst = NULL;
    size_t got = 0;
    /* nothing queued before it: the reply is read straight into the
     * writer's packet (no copy of the data in user space); when only the
     * writer's backlog is in the way, the request waits for it to drain
     * rather than take the copying path */
    int later = 0;
    if (ferry_buf_len(s->out) == 0 && s->w.begin != NULL &&
        (dst = s->w.begin(s->w.ctx, DATA_HDR + (size_t)len, &later)) == NULL && later) {
        s->deferred = 1;
        return FERRY_OK;
    }
    if (dst != NULL) {
        rc = ferry_vfs_pread(h->file, dst + DATA_HDR, len, off, &got);
        if (rc == FERRY_OK && got == 0 && len > 0) {
            rc = FERRY_E_EOF;
        }
        if (rc != FERRY_OK) {
            (void)s->w.end(s->w.ctx, 0);
            return rc; /* answered with a STATUS the usual way */
        }
        h->bytes_read += got;
        ferry__sftp_run_read(h, off, dst + DATA_HDR, got);
        ferry_store_u32(dst, (uint32_t)(DATA_HDR - 4 + got));
        dst[4] = SSH_FXP_DATA;
        ferry_store_u32(dst + 5, id);
        ferry_store_u32(dst + 9, (uint32_t)got);
        rc = s->w.end(s->w.ctx, DATA_HDR + got);
        s->fatal = rc;
        s->replied = 1;
        return rc;
    }
    rc = ferry__sftp_begin(s, SSH_FXP_DATA, id);
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_u32(s->reply, 0);
    }
    size_t at = ferry_buf_len(s->reply);
    if (rc == FERRY_OK) {
        rc = ferry_buf_reserve(s->reply, len, &dst);
    }
    if (rc == FERRY_OK) {
        rc = ferry_vfs_pread(h->file, dst, len, off, &got);
    }
    if (rc == FERRY_OK && got == 0 && len > 0) {
        rc = FERRY_E_EOF;
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    h->bytes_read += got;
    ferry__sftp_run_read(h, off, dst, got);
    ferry_buf_truncate(s->reply, at + got);
    ferry_buf_poke_u32(s->reply, at - 4, (uint32_t)got);
    return ferry__sftp_send(s);
}

int ferry__sftp_on_write(S *s, uint32_t id, ferry_rd *r)
{
    ferry__sftp_handle *h;
    uint64_t off;
    const uint8_t *data;
    size_t len;
    int rc = ferry__sftp_rd_handle(s, r, H_FILE, &h);
    if (rc == FERRY_OK) {
        rc = ferry_rd_u64(r, &off);
    }
    if (rc == FERRY_OK) {
        rc = ferry_rd_string(r, &data, &len);
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    if (!(h->pflags & SSH_FXF_WRITE)) {
        s->errmsg = "handle not open for writing";
        return FERRY_E_PERMISSION;
    }
    rc = ferry_vfs_pwrite(h->file, data, len, off);
    if (rc == FERRY_OK) {
        h->bytes_written += len;
        ferry__sftp_run_write(h, off, data, len);
    } else {
        ferry__sftp_run_drop(h);
        h->write_err = h->write_err ? h->write_err : rc;
    }
    return rc;
}

int ferry__sftp_on_fstat(S *s, uint32_t id, ferry_rd *r)
{
    ferry__sftp_handle *h;
    ferry_vfs_attr st;
    int rc = ferry__sftp_rd_handle(s, r, H_FILE, &h);
    if (rc == FERRY_OK) {
        rc = ferry_vfs_fstat(h->file, &st);
    }
    return rc == FERRY_OK ? ferry__sftp_send_attrs(s, id, &st) : rc;
}

/* upload-only: no truncation of existing data through SETSTAT. */
static int setstat_allowed(S *s, const ferry_sftp_attrs *a)
{
    if (s->cfg.mode == FERRY_SFTP_UPLOAD_ONLY && (a->flags & SSH_FILEXFER_ATTR_SIZE)) {
        return ferry__sftp_refuse(s, "upload-only session: cannot change the size");
    }
    return FERRY_OK;
}

int ferry__sftp_on_fsetstat(S *s, uint32_t id, ferry_rd *r)
{
    ferry__sftp_handle *h;
    ferry_sftp_attrs a;
    ferry_vfs_setattr sa;
    int rc = ferry__sftp_rd_handle(s, r, H_FILE, &h);
    if (rc == FERRY_OK) {
        rc = ferry_sftp_attrs_decode(r, &a);
    }
    if (rc == FERRY_OK) {
        rc = setstat_allowed(s, &a);
        if (rc == FERRY_OK) {
            ferry__sftp_setattr_from(&sa, &a);
            rc = ferry_vfs_fsetstat(h->file, &sa);
        }
        if (a.flags & SSH_FILEXFER_ATTR_SIZE) {
            ferry__sftp_run_drop(h);
        }
        ferry__sftp_event(s, "setstat", h->path, NULL, rc);
    }
    return rc;
}

/* ---- paths ---- */

static int stat_path(S *s, uint32_t id, ferry_rd *r, int follow)
{
    path_buf path;
    ferry_vfs_attr st;
    int rc = ferry__sftp_rd_path(r, path);
    if (rc == FERRY_OK) {
        rc = ferry_vfs_stat(s->cfg.vfs, path, follow, &st);
    }
    if (rc == FERRY_E_NOT_FOUND && recover_partial(s, path)) {
        rc = ferry_vfs_stat(s->cfg.vfs, path, follow, &st);
    }
    return rc == FERRY_OK ? ferry__sftp_send_attrs(s, id, &st) : rc;
}

int ferry__sftp_on_lstat(S *s, uint32_t id, ferry_rd *r)
{
    return stat_path(s, id, r, 0);
}

int ferry__sftp_on_stat(S *s, uint32_t id, ferry_rd *r)
{
    return stat_path(s, id, r, 1);
}

/* SETSTAT and lsetstat@openssh.com. */
int ferry__sftp_setstat_path(S *s, ferry_rd *r, int follow)
{
    path_buf path;
    ferry_sftp_attrs a;
    ferry_vfs_setattr sa;
    int rc = ferry__sftp_rd_path(r, path);
    if (rc == FERRY_OK) {
        rc = ferry_sftp_attrs_decode(r, &a);
    }
    if (rc == FERRY_OK) {
        rc = setstat_allowed(s, &a);
        if (rc == FERRY_OK) {
            ferry__sftp_setattr_from(&sa, &a);
            rc = ferry_vfs_setstat(s->cfg.vfs, path, follow, &sa);
        }
        ferry__sftp_event(s, follow ? "setstat" : "lsetstat", path, NULL, rc);
    }
    return rc;
}

int ferry__sftp_on_setstat(S *s, uint32_t id, ferry_rd *r)
{
    return ferry__sftp_setstat_path(s, r, 1);
}

int ferry__sftp_on_opendir(S *s, uint32_t id, ferry_rd *r)
{
    path_buf path;
    ferry__sftp_handle *h = NULL;
    int rc = ferry__sftp_rd_path(r, path);
    if (rc != FERRY_OK) {
        return rc;
    }
    rc = ferry__sftp_handle_alloc(s, &h, path);
    if (rc == FERRY_OK) {
        rc = ferry_vfs_opendir(s->cfg.vfs, path, &h->dir);
    }
    if (rc != FERRY_OK) {
        if (h != NULL) {
            ferry__sftp_handle_release(s, h);
        }
        return rc;
    }
    h->kind = H_DIR;
    rc = ferry__sftp_begin(s, SSH_FXP_HANDLE, id);
    if (rc == FERRY_OK) {
        rc = ferry__sftp_put_handle(s, h);
    }
    return rc == FERRY_OK ? ferry__sftp_send(s) : rc;
}

/* "drwxr-xr-x" from st_mode. */
static void mode_string(uint32_t m, char out[11])
{
    char t = '?';
    switch (m & S_IFMT) {
    case S_IFREG: t = '-'; break;
    case S_IFDIR: t = 'd'; break;
    case S_IFLNK: t = 'l'; break;
    case S_IFCHR: t = 'c'; break;
    case S_IFBLK: t = 'b'; break;
    case S_IFIFO: t = 'p'; break;
    case S_IFSOCK: t = 's'; break;
    }
    const char *rwx = "rwxrwxrwx";
    out[0] = t;
    for (int i = 0; i < 9; i++) {
        out[1 + i] = (m & (0400u >> i)) ? rwx[i] : '-';
    }
    if (m & S_ISUID) {
        out[3] = (m & S_IXUSR) ? 's' : 'S';
    }
    if (m & S_ISGID) {
        out[6] = (m & S_IXGRP) ? 's' : 'S';
    }
    if (m & S_ISVTX) {
        out[9] = (m & S_IXOTH) ? 't' : 'T';
    }
    out[10] = '\0';
}

/* The owner name shown: the session user for the server's own uid (the
 * usual case for a jailed account), else the number. */
const char *ferry__sftp_owner_name(S *s, uint32_t uid, char buf[16])
{
    if (s->cfg.user != NULL && uid == (uint32_t)geteuid() && strlen(s->cfg.user) < 64) {
        return s->cfg.user;
    }
    snprintf(buf, 16, "%u", uid);
    return buf;
}

/* The `ls -l` line of a READDIR entry: "-rw-r--r--    1 user     group
 * 1234 Jan  1 12:34 name" (year instead of time when older than about six
 * months or in the future). */
static void longname(S *s, const ferry_vfs_dirent *e, char *out, size_t outsz)
{
    char mode[11], ub[16], gb[16], when[32];
    mode_string(e->st.mode, mode);
    const char *user = ferry__sftp_owner_name(s, e->st.uid, ub);
    snprintf(gb, sizeof(gb), "%u", e->st.gid);
    time_t mt = (time_t)e->st.mtime, now = time(NULL);
    struct tm tm;
    if (localtime_r(&mt, &tm) == NULL || strftime(when, sizeof(when),
                                                  (mt > now || now - mt > 182 * 86400)
                                                      ? "%b %e  %Y"
                                                      : "%b %e %H:%M",
                                                  &tm) == 0) {
        snprintf(when, sizeof(when), "?");
    }
    snprintf(out, outsz, "%s %4u %-8s %-8s %8llu %s %s", mode, e->st.nlink, user, gb,
             (unsigned long long)e->st.size, when, e->name);
}

static int put_dirent(S *s, const ferry_vfs_dirent *e)
{
    char ln[FERRY_VFS_NAME_MAX + 160];
    ferry_sftp_attrs a;
    longname(s, e, ln, sizeof(ln));
    ferry__sftp_attrs_from_vfs(&a, &e->st);
    int rc = ferry_buf_put_cstring(s->reply, e->name);
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_cstring(s->reply, ln);
    }
    if (rc == FERRY_OK) {
        rc = ferry_sftp_attrs_encode(s->reply, &a);
    }
    return rc;
}

int ferry__sftp_on_readdir(S *s, uint32_t id, ferry_rd *r)
{
    ferry__sftp_handle *h;
    ferry_vfs_dirent ent;
    uint32_t count = 0;
    int rc = ferry__sftp_rd_handle(s, r, H_DIR, &h);
    if (rc == FERRY_OK) {
        rc = ferry__sftp_begin(s, SSH_FXP_NAME, id);
    }
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_u32(s->reply, 0);
    }
    size_t at = ferry_buf_len(s->reply);
    while (rc == FERRY_OK && count < FERRY__SFTP_DIR_BATCH &&
           ferry_buf_len(s->reply) < FERRY__SFTP_DIR_BYTES) {
        rc = ferry_vfs_readdir(h->dir, &ent);
        if (rc == FERRY_OK) {
            rc = put_dirent(s, &ent);
            count++;
        }
    }
    if (rc == FERRY_E_EOF && count > 0) {
        rc = FERRY_OK; /* EOF comes with the next READDIR */
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    ferry_buf_poke_u32(s->reply, at - 4, count);
    return ferry__sftp_send(s);
}

/* One path, one vfs call, STATUS answer, one event. */
static int path_op(S *s, ferry_rd *r, const char *op, int (*fn)(ferry_vfs *, const char *))
{
    path_buf path;
    int rc = ferry__sftp_rd_path(r, path);
    if (rc == FERRY_OK) {
        rc = fn(s->cfg.vfs, path);
        ferry__sftp_event(s, op, path, NULL, rc);
    }
    return rc;
}

int ferry__sftp_on_remove(S *s, uint32_t id, ferry_rd *r)
{
    return path_op(s, r, "remove", ferry_vfs_remove);
}

int ferry__sftp_on_rmdir(S *s, uint32_t id, ferry_rd *r)
{
    int rc = path_op(s, r, "rmdir", ferry_vfs_rmdir);
    if (rc == FERRY_E_EXISTS) {
        s->errmsg = "directory not empty";
    }
    return rc;
}

int ferry__sftp_on_mkdir(S *s, uint32_t id, ferry_rd *r)
{
    path_buf path;
    ferry_sftp_attrs a;
    int rc = ferry__sftp_rd_path(r, path);
    if (rc == FERRY_OK) {
        rc = ferry_sftp_attrs_decode(r, &a);
    }
    if (rc == FERRY_OK) {
        uint32_t mode = (a.flags & SSH_FILEXFER_ATTR_PERMISSIONS) ? (a.perm & 07777)
                                                                  : FERRY_VFS_MODE_DEFAULT;
        rc = ferry_vfs_mkdir(s->cfg.vfs, path, mode);
        ferry__sftp_event(s, "mkdir", path, NULL, rc);
    }
    return rc;
}

/* REALPATH (and expand-path after "~" expansion): "" means ".". */
int ferry__sftp_realpath_reply(S *s, uint32_t id, const char *path)
{
    path_buf out;
    int rc = ferry_vfs_realpath(s->cfg.vfs, path[0] ? path : ".", out, sizeof(out));
    return rc == FERRY_OK ? ferry__sftp_send_name1(s, id, out) : rc;
}

int ferry__sftp_on_realpath(S *s, uint32_t id, ferry_rd *r)
{
    path_buf path;
    int rc = ferry__sftp_rd_path(r, path);
    return rc == FERRY_OK ? ferry__sftp_realpath_reply(s, id, path) : rc;
}

/* RENAME, posix-rename, hardlink: two paths, STATUS answer. */
int ferry__sftp_two_paths(S *s, ferry_rd *r, const char *op, uint32_t flags)
{
    path_buf p1, p2;
    int rc = ferry__sftp_rd_path(r, p1);
    if (rc == FERRY_OK) {
        rc = ferry__sftp_rd_path(r, p2);
    }
    if (rc != FERRY_OK) {
        return rc;
    }
    if (strcmp(op, "link") == 0) {
        rc = ferry_vfs_link(s->cfg.vfs, p1, p2);
    } else if (strcmp(op, "symlink") == 0) {
        if (s->cfg.symlink_draft_order) { /* into OpenSSH's (target, linkpath) */
            path_buf t;
            memcpy(t, p1, sizeof(t));
            memcpy(p1, p2, sizeof(t));
            memcpy(p2, t, sizeof(t));
        }
        rc = ferry_vfs_symlink(s->cfg.vfs, p1, p2);
    } else {
        rc = ferry_vfs_rename(s->cfg.vfs, p1, p2, flags);
    }
    ferry__sftp_event(s, op, p1, p2, rc);
    return rc;
}

int ferry__sftp_on_rename(S *s, uint32_t id, ferry_rd *r)
{
    /* v3 RENAME never replaces (section 6.5) */
    return ferry__sftp_two_paths(s, r, "rename", FERRY_VFS_RENAME_NOREPLACE);
}

int ferry__sftp_on_readlink(S *s, uint32_t id, ferry_rd *r)
{
    path_buf path, target;
    int rc = ferry__sftp_rd_path(r, path);
    if (rc == FERRY_OK) {
        rc = ferry_vfs_readlink(s->cfg.vfs, path, target, sizeof(target));
    }
    return rc == FERRY_OK ? ferry__sftp_send_name1(s, id, target) : rc;
}

int ferry__sftp_on_symlink(S *s, uint32_t id, ferry_rd *r)
{
    /* OpenSSH PROTOCOL 4.1: targetpath first, then linkpath (the draft's
     * order for the clients that send it, cfg.symlink_draft_order). */
    return ferry__sftp_two_paths(s, r, "symlink", 0);
}
