/* vfs_int.h: helpers shared by vfs backends (not part of the interface). */
#ifndef FERRY_VFS_VFS_INT_H
#define FERRY_VFS_VFS_INT_H

#include <stddef.h>

#include "vfs/vfs.h"

/* Canonical user-view path of `path` computed with the backend's own
 * lstat (stat follow=0) and readlink, component by component: "." is
 * dropped, ".." removes the previous component (never above "/"), a
 * symlink is replaced by its target (absolute targets restart at "/"), at
 * most 40 links. The final component need not exist; a missing middle one
 * is NOT_FOUND. Relative paths are relative to "/". Writes "/..." into
 * out[outsz] (INVALID_ARG if longer than FERRY_VFS_PATH_MAX or outsz). */
int ferry__vfs_realpath_walk(ferry_vfs *v, const char *path, char *out, size_t outsz);

#endif
