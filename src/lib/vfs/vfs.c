/* vfs.c: the ferry_vfs_* wrappers, dispatching through the backend's
 * operations table (see vfs.h). */
#include "vfs/vfs.h"

#include <stdio.h>
#include <string.h>

#include "util/err.h"

void ferry_vfs_free(ferry_vfs *v)
{
    if (v != NULL) {
        v->ops->free(v);
    }
}

int ferry_vfs_open(ferry_vfs *v, const char *path, uint32_t flags, uint32_t mode,
                   ferry_vfs_file **out)
{
    return v->ops->open(v, path, flags, mode, out);
}

int ferry_vfs_pread(ferry_vfs_file *f, void *buf, size_t len, uint64_t off, size_t *got)
{
    return f->vfs->ops->pread(f, buf, len, off, got);
}

int ferry_vfs_pwrite(ferry_vfs_file *f, const void *buf, size_t len, uint64_t off)
{
    return f->vfs->ops->pwrite(f, buf, len, off);
}

int ferry_vfs_fstat(ferry_vfs_file *f, ferry_vfs_attr *st)
{
    return f->vfs->ops->fstat(f, st);
}

int ferry_vfs_fsetstat(ferry_vfs_file *f, const ferry_vfs_setattr *sa)
{
    return f->vfs->ops->fsetstat(f, sa);
}

int ferry_vfs_fsync(ferry_vfs_file *f)
{
    return f->vfs->ops->fsync(f);
}

int ferry_vfs_fstatvfs(ferry_vfs_file *f, ferry_vfs_fsinfo *sv)
{
    return f->vfs->ops->fstatvfs(f, sv);
}

int ferry_vfs_close(ferry_vfs_file *f, int how)
{
    if (f == NULL) {
        return FERRY_OK;
    }
    return f->vfs->ops->close(f, how);
}

int ferry_vfs_partial_name(const char *path, char *out, size_t outsz)
{
    size_t n = strnlen(path, FERRY_VFS_PATH_MAX + 1);
    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    size_t base = n;
    while (base > 0 && path[base - 1] != '/') {
        base--;
    }
    size_t bl = n - base;
    if (bl == 0 || (bl == 1 && path[base] == '.') ||
        (bl == 2 && path[base] == '.' && path[base + 1] == '.') ||
        1 + bl + strlen(FERRY_VFS_PARTIAL_SUFFIX) > FERRY_VFS_NAME_MAX) {
        return FERRY_E_INVALID_ARG;
    }
    int w = snprintf(out, outsz, "%.*s.%.*s%s", (int)base, path, (int)bl, path + base,
                     FERRY_VFS_PARTIAL_SUFFIX);
    return (w < 0 || (size_t)w >= outsz) ? FERRY_E_INVALID_ARG : FERRY_OK;
}

int ferry_vfs_copy(ferry_vfs_file *src, uint64_t soff, uint64_t len, ferry_vfs_file *dst,
                   uint64_t doff, uint64_t *copied)
{
    *copied = 0;
    if (src->vfs != dst->vfs) {
        return FERRY_E_UNSUPPORTED;
    }
    return src->vfs->ops->copy(src, soff, len, dst, doff, copied);
}

int ferry_vfs_stat(ferry_vfs *v, const char *path, int follow, ferry_vfs_attr *st)
{
    return v->ops->stat(v, path, follow, st);
}

int ferry_vfs_setstat(ferry_vfs *v, const char *path, int follow, const ferry_vfs_setattr *sa)
{
    return v->ops->setstat(v, path, follow, sa);
}

int ferry_vfs_opendir(ferry_vfs *v, const char *path, ferry_vfs_dir **out)
{
    return v->ops->opendir(v, path, out);
}

int ferry_vfs_readdir(ferry_vfs_dir *d, ferry_vfs_dirent *ent)
{
    return d->vfs->ops->readdir(d, ent);
}

void ferry_vfs_closedir(ferry_vfs_dir *d)
{
    if (d != NULL) {
        d->vfs->ops->closedir(d);
    }
}

int ferry_vfs_mkdir(ferry_vfs *v, const char *path, uint32_t mode)
{
    return v->ops->mkdir(v, path, mode);
}

int ferry_vfs_rmdir(ferry_vfs *v, const char *path)
{
    return v->ops->rmdir(v, path);
}

int ferry_vfs_remove(ferry_vfs *v, const char *path)
{
    return v->ops->remove(v, path);
}

int ferry_vfs_rename(ferry_vfs *v, const char *oldpath, const char *newpath, uint32_t flags)
{
    return v->ops->rename(v, oldpath, newpath, flags);
}

int ferry_vfs_link(ferry_vfs *v, const char *oldpath, const char *newpath)
{
    return v->ops->link(v, oldpath, newpath);
}

int ferry_vfs_symlink(ferry_vfs *v, const char *target, const char *linkpath)
{
    return v->ops->symlink(v, target, linkpath);
}

int ferry_vfs_readlink(ferry_vfs *v, const char *path, char *out, size_t outsz)
{
    return v->ops->readlink(v, path, out, outsz);
}

int ferry_vfs_realpath(ferry_vfs *v, const char *path, char *out, size_t outsz)
{
    return v->ops->realpath(v, path, out, outsz);
}

int ferry_vfs_statvfs(ferry_vfs *v, const char *path, ferry_vfs_fsinfo *sv)
{
    return v->ops->statvfs(v, path, sv);
}

int ferry_vfs_recover_partial(ferry_vfs *v, const char *path)
{
    return v->ops->recover_partial(v, path);
}

int ferry_vfs_partial_of(const char *partial, char *out, size_t outsz)
{
    const char *base = strrchr(partial, '/');
    size_t dl = base != NULL ? (size_t)(base + 1 - partial) : 0;
    base = partial + dl;
    size_t bl = strlen(base), sl = strlen(FERRY_VFS_PARTIAL_SUFFIX);
    size_t nl = bl > 1 + sl ? bl - 1 - sl : 0; /* the final name's length */
    if (nl == 0 || base[0] != '.' || strcmp(base + bl - sl, FERRY_VFS_PARTIAL_SUFFIX) != 0 ||
        (nl == 1 && base[1] == '.') || (nl == 2 && base[1] == '.' && base[2] == '.')) {
        return FERRY_E_INVALID_ARG;
    }
    int w = snprintf(out, outsz, "%.*s%.*s", (int)dl, partial, (int)nl, base + 1);
    return (w < 0 || (size_t)w >= outsz) ? FERRY_E_INVALID_ARG : FERRY_OK;
}
