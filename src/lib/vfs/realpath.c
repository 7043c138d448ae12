/* realpath.c: canonical user-view paths for any vfs backend, computed
 * through the backend's own lstat/readlink (see vfs_int.h), so no host
 * path is ever involved. */
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"
#include "vfs/vfs_int.h"

#define REM_MAX (2 * FERRY_VFS_PATH_MAX + 1)

static int only_slashes(const char *s)
{
    while (*s == '/') {
        s++;
    }
    return *s == '\0';
}

static void pop_component(char *res, size_t *rlen)
{
    while (*rlen > 0 && res[*rlen - 1] != '/') {
        (*rlen)--;
    }
    if (*rlen > 0) {
        (*rlen)--; /* the slash */
    }
    res[*rlen] = '\0';
}

/* Replaces the remaining input with target + "/" + rest. */
static int splice_link(char *rem, size_t *pos, const char *target)
{
    char tmp[REM_MAX + 1];
    size_t tl = strlen(target), rl = strlen(rem + *pos);
    if (tl + 1 + rl > REM_MAX) {
        return FERRY_E_INVALID_ARG;
    }
    memcpy(tmp, target, tl);
    tmp[tl] = '/';
    memcpy(tmp + tl + 1, rem + *pos, rl + 1);
    memcpy(rem, tmp, tl + rl + 2);
    *pos = 0;
    return FERRY_OK;
}

/* Handles one named component already appended to res. Returns 1 to stop
 * (missing final component), 0 to go on, <0 on error. */
static int visit(ferry_vfs *v, char *res, size_t *rlen, size_t saved, char *rem, size_t *pos,
                 int *links)
{
    ferry_vfs_attr st;
    int last = only_slashes(rem + *pos);
    int r = v->ops->stat(v, res, 0, &st);
    if (r == FERRY_E_NOT_FOUND && last) {
        return 1;
    }
    if (r != FERRY_OK) {
        return r;
    }
    if (S_ISLNK(st.mode)) {
        char target[FERRY_VFS_PATH_MAX + 1];
        if (++*links > 40) {
            return FERRY_E_INVALID_ARG;
        }
        r = v->ops->readlink(v, res, target, sizeof(target));
        if (r != FERRY_OK) {
            return r == FERRY_E_TOO_LARGE ? FERRY_E_INVALID_ARG : r;
        }
        *rlen = target[0] == '/' ? 0 : saved;
        res[*rlen] = '\0';
        return splice_link(rem, pos, target);
    }
    if (!S_ISDIR(st.mode) && !last) {
        return FERRY_E_NOT_FOUND;
    }
    return 0;
}

int ferry__vfs_realpath_walk(ferry_vfs *v, const char *path, char *out, size_t outsz)
{
    char res[FERRY_VFS_PATH_MAX + 1] = "";
    char rem[REM_MAX + 1];
    size_t rlen = 0, pos = 0, plen = strnlen(path, FERRY_VFS_PATH_MAX + 1);
    int links = 0;
    if (plen > FERRY_VFS_PATH_MAX) {
        return FERRY_E_INVALID_ARG;
    }
    memcpy(rem, path, plen + 1);
    for (;;) {
        while (rem[pos] == '/') {
            pos++;
        }
        if (rem[pos] == '\0') {
            break;
        }
        const char *c = rem + pos;
        size_t clen = strcspn(c, "/");
        pos += clen;
        if (clen == 1 && c[0] == '.') {
            continue;
        }
        if (clen == 2 && c[0] == '.' && c[1] == '.') {
            pop_component(res, &rlen);
            continue;
        }
        if (clen > FERRY_VFS_NAME_MAX || rlen + 1 + clen > FERRY_VFS_PATH_MAX) {
            return FERRY_E_INVALID_ARG;
        }
        size_t saved = rlen;
        res[rlen++] = '/';
        memcpy(res + rlen, c, clen);
        rlen += clen;
        res[rlen] = '\0';
        int r = visit(v, res, &rlen, saved, rem, &pos, &links);
        if (r < 0) {
            return r;
        }
        if (r == 1) {
            break;
        }
    }
    const char *final = rlen == 0 ? "/" : res;
    if (strlen(final) >= outsz) {
        return FERRY_E_INVALID_ARG;
    }
    memcpy(out, final, strlen(final) + 1);
    return FERRY_OK;
}
