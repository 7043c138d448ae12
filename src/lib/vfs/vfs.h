/* vfs.h: the storage interface the SFTP server sees.
 *
 * A backend fills a `ferry_vfs_ops` table and embeds `struct ferry_vfs` as
 * the first member of its own state; its file and directory objects embed
 * `struct ferry_vfs_file` / `struct ferry_vfs_dir` first. The SFTP layer
 * only calls the ferry_vfs_* wrappers below, so another backend (object
 * store, database, a quota or audit wrapper around another vfs) plugs in
 * without touching the server.
 *
 * Paths are as the user sees them: "/" is the root of the user's storage,
 * a relative path is relative to "/" (the jail has no other working
 * directory), ".." never leaves the root. Paths are NUL-terminated,
 * at most FERRY_VFS_PATH_MAX bytes. Every call returns FERRY_OK or a
 * negative FERRY_E_*: NOT_FOUND, PERMISSION, EXISTS (also "directory not
 * empty"), NO_SPACE, INVALID_ARG (e.g. "." or ".." as the name to create
 * or remove, a non-regular file to open), LIMIT (out of descriptors),
 * UNSUPPORTED, SYSTEM (anything else; errno recorded with ferry_err_sys).
 * No error carries a host path.
 */
#ifndef FERRY_VFS_VFS_H
#define FERRY_VFS_VFS_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_VFS_PATH_MAX 4096
#define FERRY_VFS_NAME_MAX 255

typedef struct ferry_vfs ferry_vfs;
typedef struct ferry_vfs_file ferry_vfs_file;
typedef struct ferry_vfs_dir ferry_vfs_dir;

/* Open flags (ferry_vfs_open). */
#define FERRY_VFS_O_READ 0x01u
#define FERRY_VFS_O_WRITE 0x02u
#define FERRY_VFS_O_APPEND 0x04u
#define FERRY_VFS_O_CREAT 0x08u
#define FERRY_VFS_O_TRUNC 0x10u
#define FERRY_VFS_O_EXCL 0x20u
/* Atomic creation/replacement, with WRITE and (CREAT or TRUNC): when the
 * open would create the name or truncate an existing regular file, the
 * data goes to a hidden temporary file in the same directory instead;
 * ferry_vfs_close(f, 1) moves it into place (with EXCL: only if the name
 * is still free), ferry_vfs_close(f, 0) discards it. When the name exists
 * and TRUNC is not given (a resume), or the name is a symlink, the file is
 * opened in place as without the flag. A replaced file's permissions are
 * kept. A backend without support returns UNSUPPORTED.
 * ferry_vfs_close(f, FERRY_VFS_CLOSE_KEEP_PARTIAL) keeps an interrupted
 * upload as the partial file of the name (see ferry_vfs_partial_name). */
#define FERRY_VFS_O_ATOMIC 0x40u

/* `how` of ferry_vfs_close. */
#define FERRY_VFS_CLOSE_DISCARD      0 /* atomic: remove the temporary file */
#define FERRY_VFS_CLOSE_COMMIT       1 /* atomic: move it into place */
#define FERRY_VFS_CLOSE_KEEP_PARTIAL 2 /* atomic: keep it as the partial file */
/* Or-ed in: touch no other name: a kept partial file never replaces an
 * existing one (the temporary file is removed instead, EXISTS), a commit
 * leaves a stale partial file alone (upload-only sessions). */
#define FERRY_VFS_CLOSE_NOREPLACE 0x10

/* `mode` for open/mkdir meaning "none given": new files get 0666 and new
 * directories 0777 (less the process umask); an atomic replacement keeps
 * the permissions of the file it replaces. */
#define FERRY_VFS_MODE_DEFAULT UINT32_MAX

/* Rename flags. */
#define FERRY_VFS_RENAME_NOREPLACE 0x1u /* fail with EXISTS if newpath exists */

/* File status (the fields SFTP v3 can carry, plus nlink and the kind,
 * and what tells whether a file changed: its identity and the
 * sub-second part of mtime; 0 where a backend has none). */
typedef struct ferry_vfs_attr {
    uint64_t size;
    uint32_t uid, gid;
    uint32_t mode;  /* st_mode: type bits and permissions */
    uint32_t nlink;
    int64_t atime, mtime;
    uint32_t mtime_nsec;
    uint64_t dev, ino;
} ferry_vfs_attr;

/* Attribute changes for setstat; only the fields named in `set` apply, in
 * the order size, owner, mode, times. */
#define FERRY_VFS_SET_SIZE 0x1u
#define FERRY_VFS_SET_OWNER 0x2u
#define FERRY_VFS_SET_MODE 0x4u
#define FERRY_VFS_SET_TIMES 0x8u
typedef struct ferry_vfs_setattr {
    uint32_t set;
    uint64_t size;
    uint32_t uid, gid;
    uint32_t mode; /* permission bits (07777) */
    int64_t atime, mtime;
} ferry_vfs_setattr;

typedef struct ferry_vfs_fsinfo {
    uint64_t bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax;
} ferry_vfs_fsinfo;
#define FERRY_VFS_ST_RDONLY 0x1u
#define FERRY_VFS_ST_NOSUID 0x2u

/* One directory entry: name and lstat of it. */
typedef struct ferry_vfs_dirent {
    char name[FERRY_VFS_NAME_MAX + 1];
    ferry_vfs_attr st;
} ferry_vfs_dirent;

/* The operations table; every pointer must be set (a backend without an
 * operation returns FERRY_E_UNSUPPORTED from it). Semantics are those of
 * the ferry_vfs_* wrappers below. */
typedef struct ferry_vfs_ops {
    int (*open)(ferry_vfs *v, const char *path, uint32_t flags, uint32_t mode,
                ferry_vfs_file **out);
    int (*pread)(ferry_vfs_file *f, void *buf, size_t len, uint64_t off, size_t *got);
    int (*pwrite)(ferry_vfs_file *f, const void *buf, size_t len, uint64_t off);
    int (*fstat)(ferry_vfs_file *f, ferry_vfs_attr *st);
    int (*fsetstat)(ferry_vfs_file *f, const ferry_vfs_setattr *sa);
    int (*fsync)(ferry_vfs_file *f);
    int (*fstatvfs)(ferry_vfs_file *f, ferry_vfs_fsinfo *sv);
    int (*close)(ferry_vfs_file *f, int how);
    int (*copy)(ferry_vfs_file *src, uint64_t soff, uint64_t len, ferry_vfs_file *dst,
                uint64_t doff, uint64_t *copied);

    int (*stat)(ferry_vfs *v, const char *path, int follow, ferry_vfs_attr *st);
    int (*setstat)(ferry_vfs *v, const char *path, int follow, const ferry_vfs_setattr *sa);
    int (*opendir)(ferry_vfs *v, const char *path, ferry_vfs_dir **out);
    int (*readdir)(ferry_vfs_dir *d, ferry_vfs_dirent *ent);
    void (*closedir)(ferry_vfs_dir *d);
    int (*mkdir)(ferry_vfs *v, const char *path, uint32_t mode);
    int (*rmdir)(ferry_vfs *v, const char *path);
    int (*remove)(ferry_vfs *v, const char *path);
    int (*rename)(ferry_vfs *v, const char *oldpath, const char *newpath, uint32_t flags);
    int (*link)(ferry_vfs *v, const char *oldpath, const char *newpath);
    int (*symlink)(ferry_vfs *v, const char *target, const char *linkpath);
    int (*readlink)(ferry_vfs *v, const char *path, char *out, size_t outsz);
    int (*realpath)(ferry_vfs *v, const char *path, char *out, size_t outsz);
    int (*statvfs)(ferry_vfs *v, const char *path, ferry_vfs_fsinfo *sv);
    int (*recover_partial)(ferry_vfs *v, const char *path);
    void (*free)(ferry_vfs *v);
} ferry_vfs_ops;

struct ferry_vfs {
    const ferry_vfs_ops *ops;
};
struct ferry_vfs_file {
    ferry_vfs *vfs;
};
struct ferry_vfs_dir {
    ferry_vfs *vfs;
};

/* Opens the local backend jailed at `root` (an existing directory). Every
 * path is resolved inside it with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS). */
int ferry_vfs_local_open(const char *root, ferry_vfs **out);
/* Frees; NULL is a no-op. Files and directories must be closed first. */
void ferry_vfs_free(ferry_vfs *v);

/* Opens a regular file (INVALID_ARG for anything else: directories,
 * devices, FIFOs). `mode` is the permission for a created file (or
 * FERRY_VFS_MODE_DEFAULT; the umask applies). With
 * FERRY_VFS_O_ATOMIC see the flag's comment; NOT_FOUND without CREAT if
 * the name does not exist, EXISTS with EXCL if it does. *out is owned by
 * the caller until ferry_vfs_close. */
int ferry_vfs_open(ferry_vfs *v, const char *path, uint32_t flags, uint32_t mode,
                   ferry_vfs_file **out);
/* Reads up to len bytes at off; *got = 0 at end of file. */
int ferry_vfs_pread(ferry_vfs_file *f, void *buf, size_t len, uint64_t off, size_t *got);
/* Writes all len bytes at off (APPEND files: at the end whatever off). */
int ferry_vfs_pwrite(ferry_vfs_file *f, const void *buf, size_t len, uint64_t off);
int ferry_vfs_fstat(ferry_vfs_file *f, ferry_vfs_attr *st);
int ferry_vfs_fsetstat(ferry_vfs_file *f, const ferry_vfs_setattr *sa);
int ferry_vfs_fsync(ferry_vfs_file *f);
int ferry_vfs_fstatvfs(ferry_vfs_file *f, ferry_vfs_fsinfo *sv);
/* Closes and frees f (always, whatever the result). For an ATOMIC file:
 *  - COMMIT syncs the data and moves it into place (the result says whether
 *    that worked; on failure the temporary file is removed), then removes
 *    a stale partial file of the name, if any;
 *  - DISCARD removes the temporary file;
 *  - KEEP_PARTIAL renames it, when it holds at least one byte, to the
 *    partial name of the final name in the same directory (replacing an
 *    older partial file; permissions 0600) and returns FERRY_OK; when it is
 *    empty or the partial name does not fit NAME_MAX it is removed and
 *    NOT_FOUND returned (another error: removed too).
 * With FERRY_VFS_CLOSE_NOREPLACE or-ed in, see that flag.
 * For any other file every `how` just closes (KEEP_PARTIAL: NOT_FOUND).
 * NULL is a no-op returning FERRY_OK. */
int ferry_vfs_close(ferry_vfs_file *f, int how);
/* Copies len bytes (0 = to end of file) from src at soff to dst at doff;
 * *copied says how many were copied, also on error. */
int ferry_vfs_copy(ferry_vfs_file *src, uint64_t soff, uint64_t len, ferry_vfs_file *dst,
                   uint64_t doff, uint64_t *copied);

/* The partial-upload name of `path` (a kept interrupted atomic upload):
 * the same directory, final component ".<name>.ferry-partial"; trailing
 * slashes are dropped. INVALID_ARG when the final component is empty, "."
 * or "..", or the result exceeds FERRY_VFS_NAME_MAX (component) or outsz.
 * Shared by every backend. */
#define FERRY_VFS_PARTIAL_SUFFIX ".ferry-partial"
int ferry_vfs_partial_name(const char *path, char *out, size_t outsz);
/* The final name a partial-upload name stands for (the inverse of
 * ferry_vfs_partial_name): INVALID_ARG when `partial` is no such name. */
int ferry_vfs_partial_of(const char *partial, char *out, size_t outsz);
/* Recovers an atomic upload of `path` (the final name) whose session
 * died without closing it (killed, crashed: it could neither keep nor
 * discard it): the latest such non-empty temporary file that no session
 * holds becomes the partial file of the name (mode 0600; never replacing
 * one), older ones of the name are removed. NOT_FOUND when there is none.
 * A session holds its temporary file (a lock) for as long as it lives, so
 * a live upload is never taken, on this node or, over a filesystem with
 * working locks, on another. */
int ferry_vfs_recover_partial(ferry_vfs *v, const char *path);

/* Status of path; follow=0 reports a symlink itself (lstat). */
int ferry_vfs_stat(ferry_vfs *v, const char *path, int follow, ferry_vfs_attr *st);
/* Changes attributes; follow=0 acts on a symlink itself where the system
 * allows (Linux has no symlink permissions: MODE is ignored there). */
int ferry_vfs_setstat(ferry_vfs *v, const char *path, int follow, const ferry_vfs_setattr *sa);
/* Directory listing, including "." and ".."; *out owned by the caller
 * until ferry_vfs_closedir. */
int ferry_vfs_opendir(ferry_vfs *v, const char *path, ferry_vfs_dir **out);
/* Next entry; FERRY_E_EOF after the last. */
int ferry_vfs_readdir(ferry_vfs_dir *d, ferry_vfs_dirent *ent);
/* NULL is a no-op. */
void ferry_vfs_closedir(ferry_vfs_dir *d);
/* mode: permissions or FERRY_VFS_MODE_DEFAULT. EXISTS if the name exists. */
int ferry_vfs_mkdir(ferry_vfs *v, const char *path, uint32_t mode);
int ferry_vfs_rmdir(ferry_vfs *v, const char *path);
/* Removes a name that is not a directory (a symlink itself, not its target). */
int ferry_vfs_remove(ferry_vfs *v, const char *path);
/* Renames; without NOREPLACE an existing newpath is replaced (POSIX). */
int ferry_vfs_rename(ferry_vfs *v, const char *oldpath, const char *newpath, uint32_t flags);
/* Hard link newpath -> the object named oldpath (a symlink is linked
 * itself, never followed). */
int ferry_vfs_link(ferry_vfs *v, const char *oldpath, const char *newpath);
/* Creates symlink `linkpath` whose content is `target`, stored verbatim
 * (absolute targets are later resolved inside the root). */
int ferry_vfs_symlink(ferry_vfs *v, const char *target, const char *linkpath);
/* The stored target of symlink `path`, NUL-terminated in out[outsz]
 * (TOO_LARGE if it does not fit). */
int ferry_vfs_readlink(ferry_vfs *v, const char *path, char *out, size_t outsz);
/* Canonical absolute user-view path ("/a/b") of path, symlinks resolved
 * inside the root; the final component need not exist. */
int ferry_vfs_realpath(ferry_vfs *v, const char *path, char *out, size_t outsz);
int ferry_vfs_statvfs(ferry_vfs *v, const char *path, ferry_vfs_fsinfo *sv);

#endif
