/* vfs.h: the storage interface the SFTP server sees. (Stub: the SFTP helper
 * fills in the operations table; the two calls below are fixed because
 * ferryd uses them.) */
#ifndef FERRY_VFS_VFS_H
#define FERRY_VFS_VFS_H

typedef struct ferry_vfs ferry_vfs;

/* Opens the local backend jailed at `root` (an existing directory). Every
 * path is resolved inside it with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS). */
int ferry_vfs_local_open(const char *root, ferry_vfs **out);
/* Frees; NULL is a no-op. */
void ferry_vfs_free(ferry_vfs *v);

#endif
