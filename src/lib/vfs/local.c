/* local.c: the local-disk vfs backend, jailed with openat2.
 *
 * Every user path is resolved by the kernel relative to an O_PATH
 * descriptor of the root with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS:
 * ".." stops at the root, absolute symlink targets are taken relative to
 * the root, /proc magic links are refused. No check-then-use: the object
 * found is the object used.
 *
 * Operations on a name (create, remove, rename, link, symlink, readlink)
 * open the PARENT directory that way (O_PATH | O_DIRECTORY) and then act
 * on the final component with the *at() call, which never follows it:
 * the final component is a plain name, validated here (no "/", not empty,
 * not "." or ".."), so nothing can walk out of the parent.
 *
 * Attribute changes by path act on an O_PATH descriptor (AT_EMPTY_PATH)
 * or, for chmod/truncate, on /proc/self/fd/N of that descriptor, i.e. on
 * exactly the inode openat2 found (this needs /proc mounted).
 */
#include "vfs/vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "util/err.h"
#include "vfs/vfs_int.h"

typedef struct local_vfs {
    struct ferry_vfs base;
    int rootfd;
    dev_t rdev;
    ino_t rino;
} local_vfs;

typedef struct local_file {
    struct ferry_vfs_file base;
    int fd;
    /* atomic upload state: the temporary name in directory dirfd */
    int atomic, excl, dirfd;
    char tmpname[FERRY_VFS_NAME_MAX + 1];
    char name[FERRY_VFS_NAME_MAX + 1];
} local_file;

typedef struct local_dir {
    struct ferry_vfs_dir base;
    DIR *d;
    int is_root;
} local_dir;

#define LV(v) ((local_vfs *)(v))

static int err_from_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return FERRY_E_NOT_FOUND;
    case EACCES:
    case EPERM:
    case EROFS:
    case EXDEV:
        return FERRY_E_PERMISSION;
    case EEXIST:
    case ENOTEMPTY:
        return FERRY_E_EXISTS;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return FERRY_E_NO_SPACE;
    case EMFILE:
    case ENFILE:
        return FERRY_E_LIMIT;
    case EINVAL:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
    case EBUSY:
        return FERRY_E_INVALID_ARG;
    case EOPNOTSUPP:
    case ENOSYS:
        return FERRY_E_UNSUPPORTED;
    default:
        errno = e;
        return ferry_err_sys();
    }
}

static int sys_err(void)
{
    return err_from_errno(errno);
}

/* openat2 inside the jail. Retries the kernel's EAGAIN (a concurrent
 * rename raced with ".." resolution). */
static int jail_open(local_vfs *lv, const char *path, int flags, mode_t mode, int *fd)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    /* openat2 refuses O_PATH combined with anything but O_DIRECTORY,
     * O_NOFOLLOW and O_CLOEXEC */
    how.flags = (uint64_t)(flags | O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY));
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? (mode & 07777) : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    if (path[0] == '\0') {
        path = ".";
    }
    for (int tries = 0; tries < 16; tries++) {
        long r = syscall(SYS_openat2, lv->rootfd, path, &how, sizeof(how));
        if (r >= 0) {
            *fd = (int)r;
            return FERRY_OK;
        }
        if (errno != EAGAIN && errno != EINTR) {
            break;
        }
    }
    return sys_err();
}

/* Splits path into its parent (opened O_PATH|O_DIRECTORY in the jail) and
 * a validated final component. */
static int open_parent(local_vfs *lv, const char *path, int *pfd, char name[FERRY_VFS_NAME_MAX + 1])
{
    size_t n = strnlen(path, FERRY_VFS_PATH_MAX + 1);
    if (n > FERRY_VFS_PATH_MAX) {
        return FERRY_E_INVALID_ARG;
    }
    char buf[FERRY_VFS_PATH_MAX + 1];
    memcpy(buf, path, n + 1);
    while (n > 1 && buf[n - 1] == '/') {
        buf[--n] = '\0';
    }
    char *slash = strrchr(buf, '/');
    const char *base = slash ? slash + 1 : buf;
    const char *parent = ".";
    if (slash == buf) {
        parent = "/";
    } else if (slash != NULL) {
        *slash = '\0';
        parent = buf;
    }
    size_t bl = strlen(base);
    if (bl == 0 || bl > FERRY_VFS_NAME_MAX || strcmp(base, ".") == 0 ||
        strcmp(base, "..") == 0) {
        return FERRY_E_INVALID_ARG;
    }
    memmove(name, base, bl + 1);
    return jail_open(lv, parent, O_PATH | O_DIRECTORY, 0, pfd);
}

static void stat_from(ferry_vfs_attr *out, const struct stat *st)
{
    out->size = st->st_size < 0 ? 0 : (uint64_t)st->st_size;
    out->uid = st->st_uid;
    out->gid = st->st_gid;
    out->mode = st->st_mode;
    out->nlink = (uint32_t)st->st_nlink;
    out->atime = st->st_atim.tv_sec;
    out->mtime = st->st_mtim.tv_sec;
    out->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
    out->dev = (uint64_t)st->st_dev;
    out->ino = (uint64_t)st->st_ino;
}

static void proc_path(char out[64], int fd)
{
    snprintf(out, 64, "/proc/self/fd/%d", fd);
}

/* ---- files ---- */

static int local_file_new(ferry_vfs *v, int fd, local_file **out)
{
    local_file *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return FERRY_E_ALLOC;
    }
    f->base.vfs = v;
    f->fd = fd;
    f->dirfd = -1;
    *out = f;
    return FERRY_OK;
}

static int oflags_from(uint32_t flags)
{
    int o = O_RDONLY;
    if ((flags & FERRY_VFS_O_READ) && (flags & FERRY_VFS_O_WRITE)) {
        o = O_RDWR;
    } else if (flags & FERRY_VFS_O_WRITE) {
        o = O_WRONLY;
    }
    if (flags & FERRY_VFS_O_APPEND) {
        o |= O_APPEND;
    }
    if (flags & FERRY_VFS_O_CREAT) {
        o |= O_CREAT;
        if (flags & FERRY_VFS_O_EXCL) {
            o |= O_EXCL;
        }
    }
    if (flags & FERRY_VFS_O_TRUNC) {
        o |= O_TRUNC;
    }
    return o;
}

/* A plain open: the kernel follows symlinks inside the jail. Opened
 * non-blocking so a FIFO cannot stall us, then refused unless regular. */
static int open_plain(local_vfs *lv, const char *path, uint32_t flags, uint32_t mode,
                      ferry_vfs_file **out)
{
    int fd = -1;
    mode_t m = mode == FERRY_VFS_MODE_DEFAULT ? 0666 : (mode & 07777);
    int r = jail_open(lv, path, oflags_from(flags) | O_NONBLOCK, m, &fd);
    if (r != FERRY_OK) {
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        r = sys_err();
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = FERRY_E_INVALID_ARG;
        goto out;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        r = sys_err();
        goto out;
    }
    local_file *f = NULL;
    r = local_file_new(&lv->base, fd, &f);
    if (r == FERRY_OK) {
        fd = -1;
        *out = &f->base;
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    return r;
}

/* The temporary names of an atomic upload of `name`:
 * ".<name>.ferry-<16 hex>.part", the name part shortened to fit NAME_MAX.
 * tmp_prefix writes what comes before the hex digits. */
#define TMP_HEX 16
static void tmp_prefix(char out[FERRY_VFS_NAME_MAX + 1], const char *name)
{
    int keep = FERRY_VFS_NAME_MAX - (int)strlen(".") - (int)strlen(".ferry-.part") - TMP_HEX;
    snprintf(out, FERRY_VFS_NAME_MAX + 1, ".%.*s.ferry-", keep, name);
}

static int make_tmpname(char out[FERRY_VFS_NAME_MAX + 1], const char *name)
{
    uint8_t rnd[TMP_HEX / 2];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return ferry_err_crypto();
    }
    tmp_prefix(out, name);
    size_t n = strlen(out);
    for (size_t i = 0; i < sizeof(rnd); i++) {
        snprintf(out + n + 2 * i, 3, "%02x", rnd[i]);
    }
    memcpy(out + n + TMP_HEX, ".part", sizeof(".part"));
    return FERRY_OK;
}

/* Whether `ent` is a temporary name made by make_tmpname with `prefix`. */
static int is_tmpname(const char *ent, const char *prefix)
{
    size_t p = strlen(prefix);
    if (strncmp(ent, prefix, p) != 0 || strlen(ent) != p + TMP_HEX + strlen(".part") ||
        strcmp(ent + p + TMP_HEX, ".part") != 0) {
        return 0;
    }
    return strspn(ent + p, "0123456789abcdef") == TMP_HEX;
}

/* Decides how an atomic open proceeds after looking at the final name:
 * 1 = go atomic, 0 = open in place (the name exists and TRUNC was not
 * asked: a resume; or the name is a symlink: writing goes through it as a
 * plain open would), <0 = error. When an existing file
 * will be replaced, *keep is set to its permissions (as O_TRUNC would keep
 * them), else to -1. */
static int atomic_precheck(int pfd, const char *name, uint32_t flags, int *keep)
{
    struct stat st;
    *keep = -1;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) {
            return sys_err();
        }
        return (flags & FERRY_VFS_O_CREAT) ? 1 : FERRY_E_NOT_FOUND;
    }
    if ((flags & FERRY_VFS_O_EXCL) && (flags & FERRY_VFS_O_CREAT)) {
        return FERRY_E_EXISTS;
    }
    if (S_ISLNK(st.st_mode) || !(flags & FERRY_VFS_O_TRUNC)) {
        return 0;
    }
    if (!S_ISREG(st.st_mode)) {
        return FERRY_E_INVALID_ARG;
    }
    *keep = (int)(st.st_mode & 07777);
    return 1;
}

static int create_tmp(local_file *f, uint32_t flags, uint32_t mode, int keep)
{
    int o = ((flags & FERRY_VFS_O_READ) ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_NOFOLLOW |
            O_CLOEXEC | O_NOCTTY;
    if (flags & FERRY_VFS_O_APPEND) {
        o |= O_APPEND;
    }
    mode_t m = mode == FERRY_VFS_MODE_DEFAULT ? 0666 : (mode & 07777);
    for (int tries = 0; tries < 8; tries++) {
        int r = make_tmpname(f->tmpname, f->name);
        if (r != FERRY_OK) {
            return r;
        }
        f->fd = openat(f->dirfd, f->tmpname, o, keep >= 0 ? 0600 : m);
        if (f->fd >= 0) {
            /* held while this session lives: a file no one holds is an
             * upload whose session died (local_recover_partial) */
            if (flock(f->fd, LOCK_EX) != 0 || (keep >= 0 && fchmod(f->fd, (mode_t)keep) != 0)) {
                return sys_err();
            }
            return FERRY_OK;
        }
        if (errno != EEXIST) {
            return sys_err();
        }
    }
    return FERRY_E_EXISTS;
}

static int open_atomic(local_vfs *lv, const char *path, uint32_t flags, uint32_t mode,
                       ferry_vfs_file **out)
{
    local_file *f = NULL;
    int r = local_file_new(&lv->base, -1, &f);
    if (r != FERRY_OK) {
        return r;
    }
    r = open_parent(lv, path, &f->dirfd, f->name);
    int keep = -1;
    if (r == FERRY_OK) {
        r = atomic_precheck(f->dirfd, f->name, flags, &keep);
    }
    if (r == 0) {
        close(f->dirfd);
        free(f);
        return open_plain(lv, path, flags, mode, out);
    }
    if (r == 1) {
        r = create_tmp(f, flags, mode, keep);
    }
    if (r != FERRY_OK) {
        if (f->fd >= 0) {
            close(f->fd);
            unlinkat(f->dirfd, f->tmpname, 0);
        }
        if (f->dirfd >= 0) {
            close(f->dirfd);
        }
        free(f);
        return r;
    }
    f->atomic = 1;
    f->excl = (flags & FERRY_VFS_O_EXCL) != 0;
    *out = &f->base;
    return FERRY_OK;
}

static int local_open(ferry_vfs *v, const char *path, uint32_t flags, uint32_t mode,
                      ferry_vfs_file **out)
{
    *out = NULL;
    if ((flags & FERRY_VFS_O_ATOMIC) && (flags & FERRY_VFS_O_WRITE) &&
        (flags & (FERRY_VFS_O_CREAT | FERRY_VFS_O_TRUNC))) {
        return open_atomic(LV(v), path, flags, mode, out);
    }
    return open_plain(LV(v), path, flags, mode, out);
}

static int local_pread(ferry_vfs_file *vf, void *buf, size_t len, uint64_t off, size_t *got)
{
    local_file *f = (local_file *)vf;
    *got = 0;
    if (off > INT64_MAX) {
        return FERRY_OK;
    }
    for (;;) {
        ssize_t n = pread(f->fd, buf, len, (off_t)off);
        if (n >= 0) {
            *got = (size_t)n;
            return FERRY_OK;
        }
        if (errno != EINTR) {
            return sys_err();
        }
    }
}

static int local_pwrite(ferry_vfs_file *vf, const void *buf, size_t len, uint64_t off)
{
    local_file *f = (local_file *)vf;
    const uint8_t *p = buf;
    if (off > INT64_MAX || len > (uint64_t)INT64_MAX - off) {
        return FERRY_E_INVALID_ARG;
    }
    while (len > 0) {
        ssize_t n = pwrite(f->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return sys_err();
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return FERRY_OK;
}

static int local_fstat(ferry_vfs_file *vf, ferry_vfs_attr *st)
{
    struct stat s;
    if (fstat(((local_file *)vf)->fd, &s) != 0) {
        return sys_err();
    }
    stat_from(st, &s);
    return FERRY_OK;
}

static void times_from(struct timespec ts[2], const ferry_vfs_setattr *sa)
{
    ts[0].tv_sec = (time_t)sa->atime;
    ts[0].tv_nsec = 0;
    ts[1].tv_sec = (time_t)sa->mtime;
    ts[1].tv_nsec = 0;
}

static int local_fsetstat(ferry_vfs_file *vf, const ferry_vfs_setattr *sa)
{
    int fd = ((local_file *)vf)->fd;
    if ((sa->set & FERRY_VFS_SET_SIZE) &&
        (sa->size > INT64_MAX || ftruncate(fd, (off_t)sa->size) != 0)) {
        return sa->size > INT64_MAX ? FERRY_E_INVALID_ARG : sys_err();
    }
    if ((sa->set & FERRY_VFS_SET_OWNER) && fchown(fd, sa->uid, sa->gid) != 0) {
        return sys_err();
    }
    if ((sa->set & FERRY_VFS_SET_MODE) && fchmod(fd, sa->mode & 07777) != 0) {
        return sys_err();
    }
    if (sa->set & FERRY_VFS_SET_TIMES) {
        struct timespec ts[2];
        times_from(ts, sa);
        if (futimens(fd, ts) != 0) {
            return sys_err();
        }
    }
    return FERRY_OK;
}

static int local_fsync(ferry_vfs_file *vf)
{
    return fsync(((local_file *)vf)->fd) == 0 ? FERRY_OK : sys_err();
}

static void statvfs_from(ferry_vfs_fsinfo *o, const struct statvfs *s)
{
    o->bsize = s->f_bsize;
    o->frsize = s->f_frsize;
    o->blocks = s->f_blocks;
    o->bfree = s->f_bfree;
    o->bavail = s->f_bavail;
    o->files = s->f_files;
    o->ffree = s->f_ffree;
    o->favail = s->f_favail;
    o->fsid = s->f_fsid;
    o->flag = ((s->f_flag & ST_RDONLY) ? FERRY_VFS_ST_RDONLY : 0) |
              ((s->f_flag & ST_NOSUID) ? FERRY_VFS_ST_NOSUID : 0);
    o->namemax = s->f_namemax;
}

static int local_fstatvfs(ferry_vfs_file *vf, ferry_vfs_fsinfo *sv)
{
    struct statvfs s;
    if (fstatvfs(((local_file *)vf)->fd, &s) != 0) {
        return sys_err();
    }
    statvfs_from(sv, &s);
    return FERRY_OK;
}

/* Removes the partial file of f's name, if any (after a commit). */
static void remove_partial(local_file *f)
{
    char pname[FERRY_VFS_NAME_MAX + 1];
    if (ferry_vfs_partial_name(f->name, pname, sizeof(pname)) == FERRY_OK) {
        unlinkat(f->dirfd, pname, 0);
    }
}

static int do_rename(int fd1, const char *n1, int fd2, const char *n2, uint32_t flags);

/* Moves a finished atomic upload into place: data synced first, so a
 * crash leaves either the old file or the complete new one. */
static int commit_atomic(local_file *f, int noreplace)
{
    if (fsync(f->fd) != 0) {
        return sys_err();
    }
    unsigned fl = f->excl ? RENAME_NOREPLACE : 0;
    int r = FERRY_OK;
    if (renameat2(f->dirfd, f->tmpname, f->dirfd, f->name, fl) != 0) {
        int e = errno;
        /* filesystem without RENAME_NOREPLACE: link() never replaces */
        if (e == EINVAL && f->excl && linkat(f->dirfd, f->tmpname, f->dirfd, f->name, 0) == 0) {
            unlinkat(f->dirfd, f->tmpname, 0);
        } else {
            r = err_from_errno(e == EINVAL && f->excl ? errno : e);
        }
    }
    if (r == FERRY_OK && !noreplace) {
        remove_partial(f);
    }
    return r;
}

/* Keeps an interrupted atomic upload as the partial file of its name
 * (both names are plain components in the same directory descriptor, so
 * the rename never leaves the jail). NOT_FOUND when there is nothing to
 * keep; the caller removes the temporary file unless FERRY_OK. */
static int keep_partial(local_file *f, int noreplace)
{
    char pname[FERRY_VFS_NAME_MAX + 1];
    struct stat st;
    if (fstat(f->fd, &st) != 0) {
        return sys_err();
    }
    if (st.st_size <= 0 || ferry_vfs_partial_name(f->name, pname, sizeof(pname)) != FERRY_OK) {
        return FERRY_E_NOT_FOUND;
    }
    if (fchmod(f->fd, 0600) != 0) {
        return sys_err();
    }
    return do_rename(f->dirfd, f->tmpname, f->dirfd, pname,
                     noreplace ? FERRY_VFS_RENAME_NOREPLACE : 0);
}

/* An orphaned temporary file of an atomic upload: one no session holds
 * (its session was killed, or crashed, before it could keep or discard
 * it); opened and locked, or -1. Empty ones are left alone: a session
 * that has just created its file holds no lock for an instant, and an
 * empty file is nothing to resume. */
static int lock_orphan(int dirfd, const char *ent, struct stat *st)
{
    int o = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    int fd = openat(dirfd, ent, O_RDONLY | o);
    if (fd < 0 && errno == EACCES) { /* a write-only upload (mode 0200) */
        fd = openat(dirfd, ent, O_WRONLY | o);
    }
    if (fd < 0) {
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, st) != 0 || !S_ISREG(st->st_mode) ||
        st->st_nlink == 0 || st->st_size == 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int newer(const struct stat *a, const struct stat *b)
{
    return a->st_mtim.tv_sec != b->st_mtim.tv_sec ? a->st_mtim.tv_sec > b->st_mtim.tv_sec
                                                  : a->st_mtim.tv_nsec > b->st_mtim.tv_nsec;
}

static int local_recover_partial(ferry_vfs *v, const char *path)
{
    char name[FERRY_VFS_NAME_MAX + 1], pname[FERRY_VFS_NAME_MAX + 1],
        prefix[FERRY_VFS_NAME_MAX + 1];
    char best[FERRY_VFS_NAME_MAX + 1];
    int dirfd = -1, best_fd = -1, r = open_parent(LV(v), path, &dirfd, name);
    if (r == FERRY_OK) {
        r = ferry_vfs_partial_name(name, pname, sizeof(pname));
    }
    int lfd = r == FERRY_OK ? openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
    if (r == FERRY_OK && d == NULL) {
        r = sys_err();
        if (lfd >= 0) {
            close(lfd);
        }
    }
    if (r == FERRY_OK) {
        struct stat bst = {0}, st;
        struct dirent *e;
        tmp_prefix(prefix, name);
        while ((e = readdir(d)) != NULL) {
            int fd = is_tmpname(e->d_name, prefix) ? lock_orphan(dirfd, e->d_name, &st) : -1;
            if (fd < 0) {
                continue;
            }
            /* the latest attempt is kept; older orphans of the name go */
            if (best_fd >= 0 && !newer(&st, &bst)) {
                unlinkat(dirfd, e->d_name, 0);
                close(fd);
                continue;
            }
            if (best_fd >= 0) {
                unlinkat(dirfd, best, 0);
                close(best_fd);
            }
            best_fd = fd;
            bst = st;
            snprintf(best, sizeof(best), "%s", e->d_name);
        }
        closedir(d);
        r = best_fd < 0 ? FERRY_E_NOT_FOUND : FERRY_OK;
    }
    if (r == FERRY_OK && fchmod(best_fd, 0600) != 0) {
        r = sys_err();
    }
    if (r == FERRY_OK) {
        r = do_rename(dirfd, best, dirfd, pname, FERRY_VFS_RENAME_NOREPLACE);
    }
    if (best_fd >= 0) {
        close(best_fd);
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    return r;
}

static int local_close(ferry_vfs_file *vf, int how)
{
    local_file *f = (local_file *)vf;
    int noreplace = (how & FERRY_VFS_CLOSE_NOREPLACE) != 0;
    how &= ~FERRY_VFS_CLOSE_NOREPLACE;
    int r = how == FERRY_VFS_CLOSE_KEEP_PARTIAL ? FERRY_E_NOT_FOUND : FERRY_OK;
    if (f->atomic) {
        if (how == FERRY_VFS_CLOSE_COMMIT) {
            r = commit_atomic(f, noreplace);
        } else if (how == FERRY_VFS_CLOSE_KEEP_PARTIAL) {
            r = keep_partial(f, noreplace);
        }
        if (how == FERRY_VFS_CLOSE_DISCARD || r != FERRY_OK) {
            unlinkat(f->dirfd, f->tmpname, 0);
        }
        close(f->dirfd);
    }
    if (close(f->fd) != 0 && r == FERRY_OK && errno != EINTR) {
        r = sys_err();
    }
    free(f);
    return r;
}

static int copy_slow(int in, uint64_t soff, uint64_t len, int out, uint64_t doff,
                     uint64_t *copied)
{
    uint8_t buf[65536];
    while (len == 0 || *copied < len) {
        size_t want = sizeof(buf);
        if (len != 0 && len - *copied < want) {
            want = (size_t)(len - *copied);
        }
        ssize_t n = pread(in, buf, want, (off_t)(soff + *copied));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n == 0 ? FERRY_OK : sys_err();
        }
        for (ssize_t w = 0; w < n;) {
            ssize_t k = pwrite(out, buf + w, (size_t)(n - w), (off_t)(doff + *copied + (uint64_t)w));
            if (k < 0 && errno != EINTR) {
                return sys_err();
            }
            w += k > 0 ? k : 0;
        }
        *copied += (uint64_t)n;
    }
    return FERRY_OK;
}

static int local_copy(ferry_vfs_file *src, uint64_t soff, uint64_t len, ferry_vfs_file *dst,
                      uint64_t doff, uint64_t *copied)
{
    int in = ((local_file *)src)->fd, out = ((local_file *)dst)->fd;
    if (soff > INT64_MAX / 2 || doff > INT64_MAX / 2 || len > INT64_MAX / 2) {
        return FERRY_E_INVALID_ARG;
    }
    while (len == 0 || *copied < len) {
        loff_t so = (loff_t)(soff + *copied), dof = (loff_t)(doff + *copied);
        size_t want = 1u << 30;
        if (len != 0 && len - *copied < want) {
            want = (size_t)(len - *copied);
        }
        ssize_t n = copy_file_range(in, &so, out, &dof, want, 0);
        if (n == 0) {
            return FERRY_OK;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
                errno == EBADF) {
                return copy_slow(in, soff, len, out, doff, copied);
            }
            return sys_err();
        }
        *copied += (uint64_t)n;
    }
    return FERRY_OK;
}

/* ---- paths ---- */

static int local_stat(ferry_vfs *v, const char *path, int follow, ferry_vfs_attr *st)
{
    int fd = -1;
    int r = jail_open(LV(v), path, O_PATH | (follow ? 0 : O_NOFOLLOW), 0, &fd);
    if (r != FERRY_OK) {
        return r;
    }
    struct stat s;
    if (fstat(fd, &s) != 0) {
        r = sys_err();
    } else {
        stat_from(st, &s);
    }
    close(fd);
    return r;
}

static int setattr_fd(int fd, const struct stat *st, const ferry_vfs_setattr *sa)
{
    char pp[64];
    proc_path(pp, fd);
    int is_link = S_ISLNK(st->st_mode);
    if (sa->set & FERRY_VFS_SET_SIZE) {
        if (!S_ISREG(st->st_mode) || sa->size > INT64_MAX) {
            return FERRY_E_INVALID_ARG;
        }
        if (truncate(pp, (off_t)sa->size) != 0) {
            return sys_err();
        }
    }
    if ((sa->set & FERRY_VFS_SET_OWNER) && fchownat(fd, "", sa->uid, sa->gid, AT_EMPTY_PATH) != 0) {
        return sys_err();
    }
    if ((sa->set & FERRY_VFS_SET_MODE) && !is_link && chmod(pp, sa->mode & 07777) != 0) {
        return sys_err();
    }
    if (sa->set & FERRY_VFS_SET_TIMES) {
        struct timespec ts[2];
        times_from(ts, sa);
        if (utimensat(fd, "", ts, AT_EMPTY_PATH) != 0) {
            return sys_err();
        }
    }
    return FERRY_OK;
}

static int local_setstat(ferry_vfs *v, const char *path, int follow, const ferry_vfs_setattr *sa)
{
    int fd = -1;
    int r = jail_open(LV(v), path, O_PATH | (follow ? 0 : O_NOFOLLOW), 0, &fd);
    if (r != FERRY_OK) {
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        r = sys_err();
    } else {
        r = setattr_fd(fd, &st, sa);
    }
    close(fd);
    return r;
}

static int local_opendir(ferry_vfs *v, const char *path, ferry_vfs_dir **out)
{
    local_vfs *lv = LV(v);
    int fd = -1;
    int r = jail_open(lv, path, O_RDONLY | O_DIRECTORY, 0, &fd);
    if (r != FERRY_OK) {
        return r;
    }
    struct stat st;
    local_dir *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        close(fd);
        return FERRY_E_ALLOC;
    }
    if (fstat(fd, &st) != 0 || (d->d = fdopendir(fd)) == NULL) {
        r = sys_err();
        close(fd);
        free(d);
        return r;
    }
    d->base.vfs = v;
    d->is_root = st.st_dev == lv->rdev && st.st_ino == lv->rino;
    *out = &d->base;
    return FERRY_OK;
}

static int local_readdir(ferry_vfs_dir *vd, ferry_vfs_dirent *ent)
{
    local_dir *d = (local_dir *)vd;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d->d);
        if (de == NULL) {
            return errno == 0 ? FERRY_E_EOF : sys_err();
        }
        struct stat st;
        int rc;
        if (d->is_root && strcmp(de->d_name, "..") == 0) {
            /* never stat the host directory above the jail */
            rc = fstat(dirfd(d->d), &st);
        } else {
            rc = fstatat(dirfd(d->d), de->d_name, &st, AT_SYMLINK_NOFOLLOW);
        }
        if (rc != 0 || strlen(de->d_name) > FERRY_VFS_NAME_MAX) {
            continue; /* vanished meanwhile */
        }
        snprintf(ent->name, sizeof(ent->name), "%s", de->d_name);
        stat_from(&ent->st, &st);
        return FERRY_OK;
    }
}

static void local_closedir(ferry_vfs_dir *vd)
{
    local_dir *d = (local_dir *)vd;
    closedir(d->d);
    free(d);
}

static int local_mkdir(ferry_vfs *v, const char *path, uint32_t mode)
{
    char name[FERRY_VFS_NAME_MAX + 1];
    int pfd = -1;
    int r = open_parent(LV(v), path, &pfd, name);
    if (r == FERRY_OK) {
        if (mkdirat(pfd, name, mode == FERRY_VFS_MODE_DEFAULT ? 0777 : (mode & 07777)) != 0) {
            r = sys_err();
        }
        close(pfd);
    }
    return r;
}

static int unlink_name(ferry_vfs *v, const char *path, int flags)
{
    char name[FERRY_VFS_NAME_MAX + 1];
    int pfd = -1;
    int r = open_parent(LV(v), path, &pfd, name);
    if (r == FERRY_OK) {
        if (unlinkat(pfd, name, flags) != 0) {
            r = sys_err();
        }
        close(pfd);
    }
    return r;
}

static int local_rmdir(ferry_vfs *v, const char *path)
{
    return unlink_name(v, path, AT_REMOVEDIR);
}

static int local_remove(ferry_vfs *v, const char *path)
{
    return unlink_name(v, path, 0);
}

/* Opens both parents, then calls op on (pfd1, name1, pfd2, name2). */
static int two_names(ferry_vfs *v, const char *p1, const char *p2, uint32_t flags,
                     int (*op)(int, const char *, int, const char *, uint32_t))
{
    char n1[FERRY_VFS_NAME_MAX + 1], n2[FERRY_VFS_NAME_MAX + 1];
    int fd1 = -1, fd2 = -1;
    int r = open_parent(LV(v), p1, &fd1, n1);
    if (r == FERRY_OK) {
        r = open_parent(LV(v), p2, &fd2, n2);
    }
    if (r == FERRY_OK) {
        r = op(fd1, n1, fd2, n2, flags);
    }
    if (fd1 >= 0) {
        close(fd1);
    }
    if (fd2 >= 0) {
        close(fd2);
    }
    return r;
}

static int do_rename(int fd1, const char *n1, int fd2, const char *n2, uint32_t flags)
{
    unsigned fl = (flags & FERRY_VFS_RENAME_NOREPLACE) ? RENAME_NOREPLACE : 0;
    if (renameat2(fd1, n1, fd2, n2, fl) == 0) {
        return FERRY_OK;
    }
    if (errno == EINVAL && fl != 0) {
        /* no RENAME_NOREPLACE on this filesystem: check, then rename */
        struct stat st;
        if (fstatat(fd2, n2, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            return FERRY_E_EXISTS;
        }
        if (renameat(fd1, n1, fd2, n2) == 0) {
            return FERRY_OK;
        }
    }
    return sys_err();
}

static int do_link(int fd1, const char *n1, int fd2, const char *n2, uint32_t flags)
{
    (void)flags;
    /* no AT_SYMLINK_FOLLOW: a link to a symlink is that symlink */
    return linkat(fd1, n1, fd2, n2, 0) == 0 ? FERRY_OK : sys_err();
}

static int local_rename(ferry_vfs *v, const char *oldpath, const char *newpath, uint32_t flags)
{
    return two_names(v, oldpath, newpath, flags, do_rename);
}

static int local_link(ferry_vfs *v, const char *oldpath, const char *newpath)
{
    return two_names(v, oldpath, newpath, 0, do_link);
}

static int local_symlink(ferry_vfs *v, const char *target, const char *linkpath)
{
    if (target[0] == '\0' || strnlen(target, FERRY_VFS_PATH_MAX + 1) > FERRY_VFS_PATH_MAX) {
        return FERRY_E_INVALID_ARG;
    }
    char name[FERRY_VFS_NAME_MAX + 1];
    int pfd = -1;
    int r = open_parent(LV(v), linkpath, &pfd, name);
    if (r == FERRY_OK) {
        if (symlinkat(target, pfd, name) != 0) {
            r = sys_err();
        }
        close(pfd);
    }
    return r;
}

static int readlink_at(int dfd, const char *name, char *out, size_t outsz)
{
    ssize_t n = readlinkat(dfd, name, out, outsz);
    if (n < 0) {
        return sys_err();
    }
    if ((size_t)n >= outsz) {
        return FERRY_E_TOO_LARGE;
    }
    out[n] = '\0';
    return FERRY_OK;
}

static int local_readlink(ferry_vfs *v, const char *path, char *out, size_t outsz)
{
    char name[FERRY_VFS_NAME_MAX + 1];
    int pfd = -1;
    int r = open_parent(LV(v), path, &pfd, name);
    if (r == FERRY_OK) {
        r = readlink_at(pfd, name, out, outsz);
        close(pfd);
    }
    return r;
}

static int local_statvfs(ferry_vfs *v, const char *path, ferry_vfs_fsinfo *sv)
{
    int fd = -1;
    int r = jail_open(LV(v), path, O_PATH, 0, &fd);
    if (r != FERRY_OK) {
        return r;
    }
    struct statvfs s;
    if (fstatvfs(fd, &s) != 0) {
        r = sys_err();
    } else {
        statvfs_from(sv, &s);
    }
    close(fd);
    return r;
}

static int local_realpath(ferry_vfs *v, const char *path, char *out, size_t outsz)
{
    return ferry__vfs_realpath_walk(v, path, out, outsz);
}

static void local_free(ferry_vfs *v)
{
    local_vfs *lv = LV(v);
    close(lv->rootfd);
    free(lv);
}

static const ferry_vfs_ops local_ops = {
    .open = local_open,
    .pread = local_pread,
    .pwrite = local_pwrite,
    .fstat = local_fstat,
    .fsetstat = local_fsetstat,
    .fsync = local_fsync,
    .fstatvfs = local_fstatvfs,
    .close = local_close,
    .copy = local_copy,
    .stat = local_stat,
    .setstat = local_setstat,
    .opendir = local_opendir,
    .readdir = local_readdir,
    .closedir = local_closedir,
    .mkdir = local_mkdir,
    .rmdir = local_rmdir,
    .remove = local_remove,
    .rename = local_rename,
    .link = local_link,
    .symlink = local_symlink,
    .readlink = local_readlink,
    .realpath = local_realpath,
    .statvfs = local_statvfs,
    .recover_partial = local_recover_partial,
    .free = local_free,
};

int ferry_vfs_local_open(const char *root, ferry_vfs **out)
{
    *out = NULL;
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return sys_err();
    }
    struct stat st;
    local_vfs *lv = calloc(1, sizeof(*lv));
    if (lv == NULL || fstat(fd, &st) != 0) {
        int r = lv == NULL ? FERRY_E_ALLOC : sys_err();
        free(lv);
        close(fd);
        return r;
    }
    lv->base.ops = &local_ops;
    lv->rootfd = fd;
    lv->rdev = st.st_dev;
    lv->rino = st.st_ino;
    *out = &lv->base;
    return FERRY_OK;
}
