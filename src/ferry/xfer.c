/* xfer.c: get/reget, put/reput (with -a resume, -f fsync, -p preserve,
 * -R recursion) and copy. Downloads never trust the server's names: a
 * READDIR entry containing '/' or equal to "." / ".." is refused, and
 * set-id bits never reach the local file. */
#include "cmds_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"

#define MAX_DEPTH 64

enum {
    X_RESUME = 1u << 0,
    X_FSYNC = 1u << 1,
    X_PRESERVE = 1u << 2,
    X_RECURSE = 1u << 3,
    X_RECURSE2 = 1u << 4
};

typedef struct xfer_opts {
    int resume, fsync_, preserve, recursive;
} xfer_opts;

static int parse_xfer(ferry_client *cl, int argc, char **argv, xfer_opts *o, int *first)
{
    unsigned f;
    if (ferry__cmd_flags(argc, argv, "afpRr", &f, first) != 0) {
        return -1;
    }
    o->resume = (f & X_RESUME) || cl->resume || strncmp(argv[0], "re", 2) == 0;
    o->fsync_ = (f & X_FSYNC) || cl->fsync_;
    o->preserve = (f & X_PRESERVE) || cl->preserve;
    o->recursive = (f & (X_RECURSE | X_RECURSE2)) || cl->recursive;
    if (argc - *first < 1 || argc - *first > 2) {
        fprintf(stderr, "%s: %s\n", argv[0],
                argc - *first < 1 ? "You must specify at least one path after a command."
                                  : "Too many arguments.");
        return -1;
    }
    return 0;
}

static int safe_name(const char *n)
{
    return n[0] != '\0' && strcmp(n, ".") != 0 && strcmp(n, "..") != 0 && strchr(n, '/') == NULL;
}

/* Per-file messages: off with -q and in batch mode (as OpenSSH). */
static void say(ferry_client *cl, const char *verb, const char *a, const char *b)
{
    if (cl->quiet || cl->batch) {
        return;
    }
    char *ea = ferry_fmt_escape(a), *eb = ferry_fmt_escape(b);
    fprintf(cl->out, "%s %s to %s\n", verb, ea ? ea : "?", eb ? eb : "?");
    fflush(cl->out);
    free(ea);
    free(eb);
}

/* ---- download ---- */

static void set_local_times(int fd, const ferry_sftp_attrs *a)
{
    if (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) {
        struct timespec ts[2] = {{.tv_sec = a->atime}, {.tv_sec = a->mtime}};
        (void)futimens(fd, ts);
    }
}

/* Per-directory messages of recursive transfers: off only with -q. */
static void say_dir(ferry_client *cl, const char *verb, const char *path)
{
    if (cl->quiet) {
        return;
    }
    char *e = ferry_fmt_escape(path);
    fprintf(cl->out, "%s %s\n", verb, e ? e : "?");
    fflush(cl->out);
    free(e);
}

static int open_local_for(ferry_client *cl, const char *local, uint32_t perm, int resume,
                          uint64_t *offset)
{
    mode_t mode = (mode_t)(perm & 0777); /* no set-id, no sticky from a server */
    int fd = open(local, O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC), mode);
    struct stat st;
    (void)cl;
    *offset = 0;
    if (fd < 0) {
        fprintf(stderr, "Couldn't open local file \"%s\" for writing: %s\n", local,
                strerror(errno));
        return -1;
    }
    if (resume && fstat(fd, &st) == 0) {
        *offset = (uint64_t)st.st_size;
    }
    return fd;
}

static int get_file(ferry_client *cl, const char *abs, const char *local, const xfer_opts *o)
{
    ferry_buf *h = NULL;
    ferry_sftp_attrs a = {0};
    ferry_progress p;
    uint64_t off = 0, total = 0;
    int fd = -1, rc = -1;
    int r = ferry_sftpc_open(cl->sftp, abs, SSH_FXF_READ, NULL, &h);
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't open remote file", abs, r);
        return -1;
    }
    if ((r = ferry_sftpc_fstat(cl->sftp, h, &a)) != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't stat remote file", abs, r);
        goto out;
    }
    if ((a.flags & SSH_FILEXFER_ATTR_PERMISSIONS) && !S_ISREG(a.perm)) {
        fprintf(stderr, "Cannot download non-regular file: %s\n", abs);
        goto out;
    }
    uint32_t perm = (a.flags & SSH_FILEXFER_ATTR_PERMISSIONS) ? a.perm : 0644;
    if ((fd = open_local_for(cl, local, perm, o->resume, &off)) < 0) {
        goto out;
    }
    if (o->resume && (a.flags & SSH_FILEXFER_ATTR_SIZE) && off > a.size) {
        fprintf(stderr, "Unable to resume download of \"%s\": local file is larger than remote\n",
                abs);
        goto out;
    }
    say(cl, o->resume && off ? "Resuming" : "Fetching", abs, local);
    ferry_progress_start(&p, cl->progress && !cl->quiet, ferry_path_base(abs),
                         (a.flags & SSH_FILEXFER_ATTR_SIZE) ? a.size : 0, off);
    p.limit_kbps = cl->limit_kbps;
    r = ferry_sftpc_download(cl->sftp, h, fd, off, ferry_progress_update, &p, &total);
    ferry_progress_end(&p);
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't read from remote file", abs, r);
        goto out;
    }
    if (o->preserve) {
        (void)fchmod(fd, (mode_t)(perm & 0777));
        set_local_times(fd, &a);
    }
    if (o->fsync_ && fsync(fd) != 0) {
        fprintf(stderr, "Couldn't sync file \"%s\": %s\n", local, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        rc = -1;
    }
    if (ferry_sftpc_close(cl->sftp, h) != FERRY_OK && rc == 0 && ferry_sftpc_dead(cl->sftp)) {
        rc = -1;
    }
    ferry_buf_free(h);
    return rc;
}

static int get_any(ferry_client *cl, const char *abs, const char *local, const xfer_opts *o,
                   const ferry_sftp_attrs *a, int depth);

/* Small regular files of a listing are fetched in pipelined batches
 * (ferry_sftpc_download_small). */
typedef struct get_batch {
    ferry_sftpc_small_get v[FERRY_SFTPC_SMALL_BATCH];
    ferry_sftp_attrs a[FERRY_SFTPC_SMALL_BATCH];
    char *local[FERRY_SFTPC_SMALL_BATCH];
    size_t n;
} get_batch;

static int gbatch_flush(ferry_client *cl, get_batch *b, const xfer_opts *o)
{
    int rc = 0;
    if (b->n > 0 && ferry_sftpc_download_small(cl->sftp, b->v, b->n) != FERRY_OK) {
        rc = -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        ferry_sftpc_small_get *it = &b->v[i];
        if (it->result != FERRY_OK) {
            ferry__cmd_err(cl, "Couldn't download file", it->path, it->result);
            rc = -1;
        } else {
            if (o->preserve) {
                (void)fchmod(it->fd, (mode_t)(b->a[i].perm & 0777));
                set_local_times(it->fd, &b->a[i]);
            }
            if (o->fsync_ && fsync(it->fd) != 0) {
                rc = -1;
            }
        }
        if (close(it->fd) != 0) {
            rc = -1;
        }
        free(b->local[i]);
        free((char *)it->path);
    }
    b->n = 0;
    return rc;
}

/* 1 if the entry joined the batch, 0 if it goes the normal way, -1 on
 * error. */
static int gbatch_add(ferry_client *cl, get_batch *b, const char *ra, const char *la,
                      const ferry_sftp_attrs *a, const xfer_opts *o)
{
    uint32_t need = SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_SIZE;
    uint64_t cap = ferry_sftpc_read_size(cl->sftp);
    uint64_t off = 0;
    if (o->resume || (a->flags & need) != need || !S_ISREG(a->perm) ||
        a->size > FERRY_SFTPC_SMALL_MAX || a->size >= cap) {
        return 0;
    }
    int fd = open_local_for(cl, la, a->perm, 0, &off);
    if (fd < 0) {
        return -1;
    }
    size_t i = b->n;
    b->a[i] = *a;
    b->local[i] = strdup(la);
    b->v[i] = (ferry_sftpc_small_get){.path = strdup(ra), .size = a->size, .fd = fd};
    if (b->local[i] == NULL || b->v[i].path == NULL) {
        free(b->local[i]);
        free((char *)b->v[i].path);
        close(fd);
        return -1;
    }
    say(cl, "Fetching", ra, la);
    b->n++;
    return 1;
}

/* One entry of a remote listing (name already checked). */
static int get_entry(ferry_client *cl, get_batch *b, const char *abs, const char *local,
                     const ferry_sftpc_name *e, const xfer_opts *o, int depth)
{
    char *ra = ferry_path_join(abs, e->name), *la = ferry_path_join(local, e->name);
    int rc = ra && la ? gbatch_add(cl, b, ra, la, &e->attrs, o) : -1;
    if (rc == 0) {
        rc = get_any(cl, ra, la, o, &e->attrs, depth + 1);
    } else if (rc == 1) {
        rc = b->n == FERRY_SFTPC_SMALL_BATCH ? gbatch_flush(cl, b, o) : 0;
    }
    free(ra);
    free(la);
    return rc;
}

static int get_dir(ferry_client *cl, const char *abs, const char *local, const xfer_opts *o,
                   const ferry_sftp_attrs *da, int depth)
{
    ferry_sftpc_name *names = NULL;
    size_t n = 0;
    int rc = 0;
    struct stat st;
    if (depth > MAX_DEPTH) {
        fprintf(stderr, "Maximum directory depth exceeded\n");
        return -1;
    }
    if (mkdir(local, 0777) != 0 &&
        !(errno == EEXIST && stat(local, &st) == 0 && S_ISDIR(st.st_mode))) {
        fprintf(stderr, "mkdir %s: %s\n", local, strerror(errno));
        return -1;
    }
    say_dir(cl, "Retrieving", abs);
    int r = ferry_sftpc_readdir_all(cl->sftp, abs, 0, &names, &n);
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't read directory", abs, r);
        return -1;
    }
    get_batch *b = calloc(1, sizeof(*b));
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i].name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0) {
            continue;
        }
        if (!safe_name(nm)) {
            char *e = ferry_fmt_escape(nm);
            fprintf(stderr, "download_dir: server sent suspect path \"%s\"\n", e ? e : "?");
            free(e);
            rc = -1;
            continue;
        }
        if (b == NULL || get_entry(cl, b, abs, local, &names[i], o, depth) != 0) {
            rc = -1;
        }
    }
    if (b == NULL || gbatch_flush(cl, b, o) != 0) {
        rc = -1;
    }
    free(b);
    ferry_sftpc_names_free(names, n);
    if (o->preserve && (da->flags & SSH_FILEXFER_ATTR_PERMISSIONS)) {
        (void)chmod(local, (mode_t)(da->perm & 0777));
    }
    if (o->preserve && (da->flags & SSH_FILEXFER_ATTR_ACMODTIME)) {
        struct timespec ts[2] = {{.tv_sec = da->atime}, {.tv_sec = da->mtime}};
        (void)utimensat(AT_FDCWD, local, ts, 0);
    }
    return rc;
}

static int get_any(ferry_client *cl, const char *abs, const char *local, const xfer_opts *o,
                   const ferry_sftp_attrs *a, int depth)
{
    if (!(a->flags & SSH_FILEXFER_ATTR_PERMISSIONS)) {
        return get_file(cl, abs, local, o);
    }
    if (S_ISDIR(a->perm)) {
        if (!o->recursive) {
            fprintf(stderr, "Cannot download non-regular file: %s\n", abs);
            return -1;
        }
        return get_dir(cl, abs, local, o, a, depth);
    }
    if (S_ISREG(a->perm)) {
        return get_file(cl, abs, local, o);
    }
    if (depth > 0) {
        fprintf(stderr, "download \"%s\": not a regular file\n", abs);
        return 0;
    }
    return get_file(cl, abs, local, o);
}

static int local_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int ferry__cmd_get(ferry_client *cl, int argc, char **argv)
{
    xfer_opts o;
    char **v = NULL;
    char *dst = NULL;
    int first, n, rc = 0;
    if (parse_xfer(cl, argc, argv, &o, &first) != 0) {
        return -1;
    }
    if ((n = ferry__cmd_glob(cl, argv[first], &v)) < 0) {
        return -1;
    }
    if (first + 1 < argc && (dst = ferry_glob_unescape(argv[first + 1])) == NULL) {
        ferry_glob_free(v, n);
        return -1;
    }
    int dst_dir = dst != NULL && local_is_dir(dst);
    if (n > 1 && dst != NULL && !dst_dir) {
        fprintf(stderr, "Multiple source paths, but destination \"%s\" is not a directory\n", dst);
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        char *abs = ferry_path_abs(cl, v[i]);
        const char *base = ferry_path_base(v[i]);
        char *local = dst == NULL ? strdup(base)
                      : dst_dir   ? ferry_path_join(dst, base)
                                  : strdup(dst);
        ferry_sftp_attrs a;
        int r = abs ? ferry_sftpc_stat(cl->sftp, abs, &a) : FERRY_E_ALLOC;
        if (local == NULL || (dst == NULL || dst_dir ? !safe_name(base) : 0)) {
            fprintf(stderr, "Cannot download \"%s\": bad name\n", v[i]);
            rc = -1;
        } else if (r != FERRY_OK) {
            ferry__cmd_err(cl, "Couldn't stat remote file", abs, r);
            rc = -1;
        } else if (get_any(cl, abs, local, &o, &a, 0) != 0) {
            rc = -1;
        }
        free(abs);
        free(local);
    }
    ferry_glob_free(v, n);
    free(dst);
    return rc;
}

/* ---- upload ---- */

static int put_file(ferry_client *cl, const char *local, const char *rabs, const xfer_opts *o)
{
    struct stat st;
    ferry_buf *h = NULL;
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_PERMISSIONS};
    ferry_progress p;
    uint64_t off = 0;
    int rc = -1, r;
    int fd = open(local, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "Couldn't open local file \"%s\" for reading: %s\n", local,
                strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "Skipping non-regular file %s\n", local);
        rc = 0;
        goto out;
    }
    a.perm = st.st_mode & 0777;
    if (o->resume) {
        ferry_sftp_attrs ra;
        if (ferry_sftpc_stat(cl->sftp, rabs, &ra) == FERRY_OK &&
            (ra.flags & SSH_FILEXFER_ATTR_SIZE)) {
            off = ra.size;
        }
        if (off > (uint64_t)st.st_size) {
            fprintf(stderr,
                    "Unable to resume upload of \"%s\": remote file is larger than "
                    "local\n",
                    local);
            goto out;
        }
    }
    r = ferry_sftpc_open(cl->sftp, rabs,
                         SSH_FXF_WRITE | SSH_FXF_CREAT | (o->resume ? 0 : SSH_FXF_TRUNC), &a, &h);
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't open remote file", rabs, r);
        goto out;
    }
    say(cl, o->resume && off ? "Resuming upload of" : "Uploading", local, rabs);
    ferry_progress_start(&p, cl->progress && !cl->quiet, ferry_path_base(local),
                         (uint64_t)st.st_size, off);
    p.limit_kbps = cl->limit_kbps;
    r = ferry_sftpc_upload(cl->sftp, h, fd, off, ferry_progress_update, &p, NULL);
    ferry_progress_end(&p);
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't write to remote file", rabs, r);
        goto close;
    }
    if (o->preserve) {
        a.flags |= SSH_FILEXFER_ATTR_ACMODTIME;
        a.atime = (uint32_t)st.st_atime;
        a.mtime = (uint32_t)st.st_mtime;
        if ((r = ferry_sftpc_fsetstat(cl->sftp, h, &a)) != FERRY_OK) {
            ferry__cmd_err(cl, "Couldn't set attributes", rabs, r);
        }
    }
    if (o->fsync_ && ferry_sftpc_has_ext(cl->sftp, "fsync@openssh.com") &&
        (r = ferry_sftpc_fsync(cl->sftp, h)) != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't sync file", rabs, r);
        goto close;
    }
    rc = 0;
close:
    if ((r = ferry_sftpc_close(cl->sftp, h)) != FERRY_OK && rc == 0) {
        ferry__cmd_err(cl, "Couldn't close file", rabs, r);
        rc = -1;
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    ferry_buf_free(h);
    return rc;
}

static int put_any(ferry_client *cl, const char *local, const char *rabs, const xfer_opts *o,
                   int depth);

/* Small files of a directory go to the server in batches (see
 * ferry_sftpc_upload_small): a round trip per batch, not three per file. */
typedef struct small_batch {
    ferry_sftpc_small v[FERRY_SFTPC_SMALL_BATCH];
    ferry_sftp_attrs attrs[FERRY_SFTPC_SMALL_BATCH];
    char *local[FERRY_SFTPC_SMALL_BATCH];
    size_t n;
} small_batch;

static int batch_flush(ferry_client *cl, small_batch *b, const xfer_opts *o)
{
    int rc = 0;
    if (b->n > 0 && ferry_sftpc_upload_small(cl->sftp, b->v, b->n) != FERRY_OK) {
        rc = -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        ferry_sftpc_small *it = &b->v[i];
        if (it->result == FERRY_E_TOO_LARGE && rc == 0) {
            /* grew since it was looked at: the normal way */
            if (put_file(cl, b->local[i], it->path, o) != 0) {
                rc = -1;
            }
        } else if (it->result != FERRY_OK) {
            ferry__cmd_err(cl, "Couldn't upload file", it->path, it->result);
            rc = -1;
        }
        close(it->fd);
        free(b->local[i]);
        free((char *)it->path);
    }
    b->n = 0;
    return rc;
}

/* Adds a small regular file to the batch: 1 if taken, 0 if it must go
 * the normal way, -1 on error. */
static int batch_add(ferry_client *cl, small_batch *b, const char *local, const char *rabs,
                     const xfer_opts *o)
{
    struct stat st;
    uint64_t cap = 4ull * ferry_sftpc_write_size(cl->sftp);
    int fd;
    if (o->resume || lstat(local, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > FERRY_SFTPC_SMALL_MAX || (uint64_t)st.st_size > cap) {
        return 0;
    }
    if ((fd = open(local, O_RDONLY | O_CLOEXEC)) < 0) {
        return 0; /* the normal way reports the error */
    }
    size_t i = b->n;
    ferry_sftp_attrs *a = &b->attrs[i];
    *a = (ferry_sftp_attrs){.flags = SSH_FILEXFER_ATTR_PERMISSIONS, .perm = st.st_mode & 0777};
    if (o->preserve) {
        a->flags |= SSH_FILEXFER_ATTR_ACMODTIME;
        a->atime = (uint32_t)st.st_atime;
        a->mtime = (uint32_t)st.st_mtime;
    }
    b->local[i] = strdup(local);
    b->v[i] = (ferry_sftpc_small){.path = strdup(rabs),
                                  .attrs = a,
                                  .setstat = o->preserve ? a : NULL,
                                  .fd = fd,
                                  .fsync_ = o->fsync_};
    if (b->local[i] == NULL || b->v[i].path == NULL) {
        free(b->local[i]);
        free((char *)b->v[i].path);
        close(fd);
        return -1;
    }
    say(cl, "Uploading", local, rabs);
    b->n++;
    return 1;
}

static int put_dir(ferry_client *cl, const char *local, const char *rabs, const xfer_opts *o,
                   int depth)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    int rc = 0;
    if (depth > MAX_DEPTH || stat(local, &st) != 0) {
        return -1;
    }
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_PERMISSIONS, .perm = st.st_mode & 0777};
    if (ferry_sftpc_mkdir(cl->sftp, rabs, &a) != FERRY_OK && !ferry__cmd_is_dir(cl, rabs)) {
        ferry__cmd_err(cl, "Couldn't create directory", rabs, FERRY_E_SYSTEM);
        return -1;
    }
    say_dir(cl, "Entering", local);
    if ((d = opendir(local)) == NULL) {
        fprintf(stderr, "Couldn't open directory \"%s\": %s\n", local, strerror(errno));
        return -1;
    }
    small_batch *b = calloc(1, sizeof(*b));
    while ((de = readdir(d)) != NULL && b != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        char *l2 = ferry_path_join(local, de->d_name), *r2 = ferry_path_join(rabs, de->d_name);
        int taken = l2 && r2 ? batch_add(cl, b, l2, r2, o) : -1;
        if (taken < 0 || (taken == 0 && put_any(cl, l2, r2, o, depth + 1) != 0)) {
            rc = -1;
        }
        if (b->n == FERRY_SFTPC_SMALL_BATCH && batch_flush(cl, b, o) != 0) {
            rc = -1;
        }
        free(l2);
        free(r2);
    }
    if (b == NULL || batch_flush(cl, b, o) != 0) {
        rc = -1;
    }
    free(b);
    closedir(d);
    if (o->preserve) {
        a.flags |= SSH_FILEXFER_ATTR_ACMODTIME;
        a.atime = (uint32_t)st.st_atime;
        a.mtime = (uint32_t)st.st_mtime;
        (void)ferry_sftpc_setstat(cl->sftp, rabs, &a);
    }
    return rc;
}

static int put_any(ferry_client *cl, const char *local, const char *rabs, const xfer_opts *o,
                   int depth)
{
    struct stat st;
    if (stat(local, &st) != 0) {
        fprintf(stderr, "stat %s: %s\n", local, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!o->recursive) {
            fprintf(stderr, "Skipping non-regular file %s\n", local);
            return depth > 0 ? 0 : -1;
        }
        return put_dir(cl, local, rabs, o, depth);
    }
    return put_file(cl, local, rabs, o);
}

int ferry__cmd_put(ferry_client *cl, int argc, char **argv)
{
    xfer_opts o;
    char **v = NULL;
    char *dst = NULL;
    int first, n, rc = 0;
    if (parse_xfer(cl, argc, argv, &o, &first) != 0) {
        return -1;
    }
    n = ferry_glob_local(argv[first], &v);
    if (n <= 0) {
        fprintf(stderr, "File \"%s\" not found.\n", argv[first]);
        ferry_glob_free(v, n);
        return -1;
    }
    if (first + 1 < argc) {
        char *plain = ferry_glob_unescape(argv[first + 1]);
        dst = plain ? ferry_path_abs(cl, plain) : NULL;
        free(plain);
    }
    int dst_dir = dst == NULL || ferry__cmd_is_dir(cl, dst);
    if (n > 1 && !dst_dir) {
        fprintf(stderr, "Multiple paths match, but destination \"%s\" is not a directory\n", dst);
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *base = ferry_path_base(v[i]);
        char *rabs = !dst_dir ? strdup(dst) : ferry_path_join(dst ? dst : cl->pwd, base);
        if (rabs == NULL || put_any(cl, v[i], rabs, &o, 0) != 0) {
            rc = -1;
        }
        free(rabs);
    }
    ferry_glob_free(v, n);
    free(dst);
    return rc;
}

/* ---- copy (copy-data@openssh.com style "copy-data") ---- */

int ferry__cmd_copy(ferry_client *cl, int argc, char **argv)
{
    ferry_buf *from = NULL, *to = NULL;
    ferry_sftp_attrs a = {0};
    char **v = NULL;
    char *src = NULL, *dst = NULL;
    int n, r, rc = -1;
    if (argc != 3) {
        fprintf(stderr, "You must specify two paths after a %s command.\n", argv[0]);
        return -1;
    }
    if ((n = ferry__cmd_glob(cl, argv[1], &v)) < 0) {
        return -1;
    }
    src = ferry_path_abs(cl, v[0]);
    char *plain = ferry_glob_unescape(argv[2]);
    dst = plain ? ferry_path_abs(cl, plain) : NULL;
    free(plain);
    if (src == NULL || dst == NULL) {
        goto out;
    }
    if (ferry__cmd_is_dir(cl, dst)) {
        char *j = ferry_path_join(dst, ferry_path_base(src));
        free(dst);
        if ((dst = j) == NULL) {
            goto out;
        }
    }
    if ((r = ferry_sftpc_open(cl->sftp, src, SSH_FXF_READ, NULL, &from)) != FERRY_OK ||
        (r = ferry_sftpc_fstat(cl->sftp, from, &a)) != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't open source file", src, r);
        goto out;
    }
    a.flags &= SSH_FILEXFER_ATTR_PERMISSIONS;
    a.perm &= 0777;
    if ((r = ferry_sftpc_open(cl->sftp, dst, SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &a,
                              &to)) != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't open destination file", dst, r);
        goto out;
    }
    if ((r = ferry_sftpc_copy_data(cl->sftp, from, 0, 0, to, 0)) != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't copy file", src, r);
        goto out;
    }
    rc = 0;
out:
    if (from != NULL) {
        (void)ferry_sftpc_close(cl->sftp, from);
    }
    if (to != NULL && ferry_sftpc_close(cl->sftp, to) != FERRY_OK) {
        rc = -1;
    }
    ferry_buf_free(from);
    ferry_buf_free(to);
    ferry_glob_free(v, n);
    free(src);
    free(dst);
    return rc;
}
