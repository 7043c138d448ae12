/* client_ops.c: blocking SFTP operations over the client core: INIT and
 * VERSION (section 4), the v3 requests (section 6) and the OpenSSH
 * extensions of PROTOCOL section 4. */
#include "sftp/client_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

#define MAX_PATH_REPLY 65536u

/* ---- INIT / VERSION ---- */

static int add_ext(ferry_sftpc *c, const char *name)
{
    size_t old = c->exts ? strlen(c->exts) : 0;
    size_t add = strlen(name);
    char *n = realloc(c->exts, old + add + 2);
    if (n == NULL) {
        return FERRY_E_ALLOC;
    }
    if (old) {
        n[old++] = ',';
    }
    memcpy(n + old, name, add + 1);
    c->exts = n;
    return FERRY_OK;
}

/* Whether n bytes are printable ASCII (an extension's data worth logging). */
static int printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static int parse_version(ferry_sftpc *c)
{
    ferry_rd r;
    char name[256];
    const uint8_t *data;
    size_t dlen;
    unsigned count = 0;

    ferry_rd_from_buf(&r, c->version_reply);
    c->chk = ferry_chk_by_name("sha256");
    if (ferry_rd_u32(&r, &c->version) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    ferry_debug("sftp: server version %u", (unsigned)c->version);
    while (ferry_rd_left(&r) > 0) {
        const uint8_t *np;
        size_t nl;
        if (++count > 256 || ferry_rd_string(&r, &np, &nl) != FERRY_OK ||
            ferry_rd_string(&r, &data, &dlen) != FERRY_OK) {
            return FERRY_E_FORMAT;
        }
        /* names we could not use (too long, odd bytes) are skipped */
        if (nl == 0 || nl >= sizeof(name) || memchr(np, ',', nl) || memchr(np, '\0', nl)) {
            continue;
        }
        memcpy(name, np, nl);
        name[nl] = '\0';
        ferry_debug("sftp: server extension \"%s\" \"%.*s\"", name, (int)(dlen > 64 ? 64 : dlen),
                    printable(data, dlen) ? (const char *)data : "");
        if (add_ext(c, name) != FERRY_OK) {
            return FERRY_E_ALLOC;
        }
        if (strcmp(name, "symlink-order@rjk.greenend.org.uk") == 0) {
            c->symlink_ext = dlen == 19 && memcmp(data, "linkpath-targetpath", 19) == 0   ? 1
                             : dlen == 19 && memcmp(data, "targetpath-linkpath", 19) == 0 ? 0
                                                                                          : -1;
        }
        /* check-file's data: the algorithms; ours is the fastest */
        if (strcmp(name, "check-file") == 0 && dlen < sizeof(name) && !memchr(data, '\0', dlen)) {
            memcpy(name, data, dlen);
            name[dlen] = '\0';
            if (ferry_names_contains(name, FERRY_CHK_POLY_NAME, strlen(FERRY_CHK_POLY_NAME))) {
                c->chk = ferry_chk_by_name(FERRY_CHK_POLY_NAME);
            }
        }
    }
    return FERRY_OK;
}

static uint32_t clamp_io(uint64_t v)
{
    if (v == 0) {
        return FERRY_SFTPC_DEFAULT_IO;
    }
    return v > FERRY_SFTPC_MAX_IO ? FERRY_SFTPC_MAX_IO : (uint32_t)v;
}

/* limits@openssh.com (PROTOCOL 4.8): max-packet-length, max-read-length,
 * max-write-length, max-open-handles, each uint64 (0 = no limit stated). */
static int send_str(ferry_sftpc *c, uint8_t type, const void *s, size_t n,
                    const ferry_sftp_attrs *a, uint32_t *id);
static int send_ext(ferry_sftpc *c, const char *ext, const char *s1, const char *s2, uint32_t *id);
static int one_name_reply(ferry_sftpc *c, uint32_t id, char **out);

/* The reply to a limits@openssh.com request, taken only from a server
 * that offered the extension. */
static int limits_reply(ferry_sftpc *c, uint32_t id)
{
    uint64_t pkt, rd, wr, handles;
    ferry_rd r;
    int rc = ferry__sftpc_expect(c, id, SSH_FXP_EXTENDED_REPLY, &r);
    if (rc != FERRY_OK) {
        return rc;
    }
    if (!ferry_sftpc_has_ext(c, "limits@openssh.com")) {
        rc = FERRY_E_UNSUPPORTED;
    } else if (ferry_rd_u64(&r, &pkt) != FERRY_OK || ferry_rd_u64(&r, &rd) != FERRY_OK ||
               ferry_rd_u64(&r, &wr) != FERRY_OK || ferry_rd_u64(&r, &handles) != FERRY_OK) {
        rc = FERRY_E_FORMAT;
    } else {
        /* A WRITE carries ~ (handle + 30) bytes of header on top of data. */
        uint64_t wmax = pkt > 1024 ? pkt - 1024 : 0;
        c->lim_r = clamp_io(rd ? rd : wmax);
        c->lim_w = clamp_io(wr ? (wmax && wr > wmax ? wmax : wr) : wmax);
    }
    ferry_sftpc_release(c, id);
    return rc;
}

/* Request sizes: -B when given, else the server's limits (reads up to
 * 252 KiB, writes up to 128 KiB: larger writes gained nothing against
 * OpenSSH's internal-sftp, each spanning 8+ channel packets that the
 * server acts on only once all arrived), else 32 KiB. Never above a limit
 * the server stated. */
static void choose_sizes(ferry_sftpc *c)
{
    uint32_t r = c->lim_r ? c->lim_r : FERRY_SFTPC_DEFAULT_IO;
    uint32_t w = c->lim_w ? c->lim_w : FERRY_SFTPC_DEFAULT_IO;
    if (w > FERRY_SFTPC_AUTO_WRITE_MAX) {
        w = FERRY_SFTPC_AUTO_WRITE_MAX;
    }
    if (r > FERRY_SFTPC_AUTO_READ_MAX) {
        r = FERRY_SFTPC_AUTO_READ_MAX;
    }
    if (c->cfg.io_size != 0) {
        r = w = clamp_io(c->cfg.io_size);
        r = c->lim_r && r > c->lim_r ? c->lim_r : r;
        w = c->lim_w && w > c->lim_w ? c->lim_w : w;
    }
    c->rsize = r;
    c->wsize = w;
}

int ferry_sftpc_init(ferry_sftpc *c)
{
    ferry_buf *out = c->out;
    int rc;

    if ((rc = ferry_buf_put_u32(out, 5)) != FERRY_OK ||
        (rc = ferry_buf_put_u8(out, SSH_FXP_INIT)) != FERRY_OK ||
        (rc = ferry_buf_put_u32(out, FERRY_SFTP_VERSION)) != FERRY_OK) {
        return rc;
    }
    /* The start directory (REALPATH ".", as OpenSSH's sftp) and the
     * limits go right behind INIT, not after VERSION: a server answers in
     * order, and these are version 3 requests that any server answers
     * (one it does not know, with OP_UNSUPPORTED). One round trip less. */
    uint32_t home_id = 0, lim_id = 0;
    if (send_str(c, SSH_FXP_REALPATH, ".", 1, NULL, &home_id) != FERRY_OK ||
        send_ext(c, "limits@openssh.com", NULL, NULL, &lim_id) != FERRY_OK) {
        return c->dead ? c->dead : FERRY_E_ALLOC;
    }
    while (c->version_reply == NULL) {
        if (c->dead) {
            return c->dead;
        }
        if (c->io.pump == NULL) {
            return FERRY_E_AGAIN;
        }
        if ((rc = c->io.pump(c->io.ctx, c)) != FERRY_OK) {
            ferry_sftpc_kill(c, rc);
            return rc;
        }
    }
    if ((rc = parse_version(c)) != FERRY_OK) {
        ferry_sftpc_kill(c, rc);
        return rc;
    }
    c->got_version = 1;
    free(c->home);
    c->home = NULL;
    if (one_name_reply(c, home_id, &c->home) != FERRY_OK) {
        c->home = NULL; /* asked again by ferry_sftpc_home */
    }
    if (limits_reply(c, lim_id) != FERRY_OK && c->dead) {
        return c->dead;
    }
    choose_sizes(c);
    return FERRY_OK;
}

uint32_t ferry_sftpc_version(const ferry_sftpc *c)
{
    return c->version;
}

int ferry_sftpc_has_ext(const ferry_sftpc *c, const char *name)
{
    return c->exts != NULL && ferry_names_contains(c->exts, name, strlen(name));
}

uint32_t ferry_sftpc_read_size(const ferry_sftpc *c)
{
    return c->rsize;
}

uint32_t ferry_sftpc_write_size(const ferry_sftpc *c)
{
    return c->wsize;
}

/* ---- request helpers ---- */

/* Sends `p` (freed here) as a request of `type`. */
static int send_free(ferry_sftpc *c, uint8_t type, ferry_buf *p, int built, uint32_t *id)
{
    int rc = built;
    if (p == NULL) {
        rc = FERRY_E_ALLOC;
    }
    if (rc == FERRY_OK) {
        rc = ferry_sftpc_send(c, type, p, id);
    }
    ferry_buf_free(p);
    return rc;
}

/* Request with one string (path or handle), then maybe ATTRS. */
static int send_str(ferry_sftpc *c, uint8_t type, const void *s, size_t n,
                    const ferry_sftp_attrs *a, uint32_t *id)
{
    ferry_buf *p = ferry__sftpc_payload();
    int rc = p ? ferry_buf_put_string(p, s, n) : FERRY_E_ALLOC;
    if (rc == FERRY_OK && a != NULL) {
        rc = ferry_sftp_attrs_encode(p, a);
    }
    return send_free(c, type, p, rc, id);
}

/* EXTENDED request: name, then up to two strings. */
static int send_ext(ferry_sftpc *c, const char *ext, const char *s1, const char *s2, uint32_t *id)
{
    ferry_buf *p = ferry__sftpc_payload();
    int rc = p ? ferry_buf_put_cstring(p, ext) : FERRY_E_ALLOC;
    if (rc == FERRY_OK && s1 != NULL) {
        rc = ferry_buf_put_cstring(p, s1);
    }
    if (rc == FERRY_OK && s2 != NULL) {
        rc = ferry_buf_put_cstring(p, s2);
    }
    return send_free(c, SSH_FXP_EXTENDED, p, rc, id);
}

/* ferry_sftpc_path_send and its status at once. */
static int path_status(ferry_sftpc *c, uint8_t type, const char *path, const ferry_sftp_attrs *a)
{
    uint32_t id;
    int rc = ferry_sftpc_path_send(c, type, path, a, &id);
    return rc == FERRY_OK ? ferry__sftpc_status(c, id) : rc;
}

static int handle_status(ferry_sftpc *c, uint8_t type, const ferry_buf *h,
                         const ferry_sftp_attrs *a)
{
    uint32_t id;
    int rc = send_str(c, type, ferry_buf_data(h), ferry_buf_len(h), a, &id);
    return rc == FERRY_OK ? ferry__sftpc_status(c, id) : rc;
}

/* Waits for an ATTRS reply; the extended pairs are not kept. */
static int attrs_reply(ferry_sftpc *c, uint32_t id, ferry_sftp_attrs *a)
{
    ferry_rd r;
    int rc = ferry__sftpc_expect(c, id, SSH_FXP_ATTRS, &r);
    if (rc != FERRY_OK) {
        return rc;
    }
    rc = ferry_sftp_attrs_decode(&r, a);
    a->ext = NULL;
    a->ext_len = 0;
    ferry_sftpc_release(c, id);
    return rc;
}

/* Waits for a NAME reply with exactly one entry and returns its name. */
static int one_name_reply(ferry_sftpc *c, uint32_t id, char **out)
{
    ferry_rd r;
    uint32_t count;
    int rc = ferry__sftpc_expect(c, id, SSH_FXP_NAME, &r);
    if (rc != FERRY_OK) {
        return rc;
    }
    rc = FERRY_E_FORMAT;
    if (ferry_rd_u32(&r, &count) == FERRY_OK && count == 1) {
        rc = ferry_rd_cstring(&r, MAX_PATH_REPLY, out, NULL);
    }
    ferry_sftpc_release(c, id);
    return rc;
}

static int handle_reply(ferry_sftpc *c, uint32_t id, ferry_buf **handle)
{
    ferry_rd r;
    const uint8_t *h;
    size_t hlen;
    int rc = ferry__sftpc_expect(c, id, SSH_FXP_HANDLE, &r);
    if (rc != FERRY_OK) {
        return rc;
    }
    rc = ferry_rd_string(&r, &h, &hlen);
    if (rc == FERRY_OK && hlen > FERRY_SFTP_HANDLE_MAX) {
        rc = FERRY_E_TOO_LARGE;
    }
    if (rc == FERRY_OK) {
        *handle = ferry_buf_new(FERRY_SFTP_HANDLE_MAX);
        rc = *handle == NULL ? FERRY_E_ALLOC : ferry_buf_put(*handle, h, hlen);
    }
    ferry_sftpc_release(c, id);
    return rc;
}

/* ---- v3 requests ---- */

int ferry_sftpc_realpath_send(ferry_sftpc *c, const char *path, uint32_t *id)
{
    return send_str(c, SSH_FXP_REALPATH, path, strlen(path), NULL, id);
}

int ferry_sftpc_realpath_wait(ferry_sftpc *c, uint32_t id, char **out)
{
    return one_name_reply(c, id, out);
}

int ferry_sftpc_realpath(ferry_sftpc *c, const char *path, char **out)
{
    uint32_t id;
    int rc = ferry_sftpc_realpath_send(c, path, &id);
    return rc == FERRY_OK ? ferry_sftpc_realpath_wait(c, id, out) : rc;
}

int ferry_sftpc_readlink(ferry_sftpc *c, const char *path, char **out)
{
    uint32_t id;
    int rc = send_str(c, SSH_FXP_READLINK, path, strlen(path), NULL, &id);
    return rc == FERRY_OK ? one_name_reply(c, id, out) : rc;
}

int ferry_sftpc_expand_path(ferry_sftpc *c, const char *path, char **out)
{
    uint32_t id;
    int rc;
    if (!ferry_sftpc_has_ext(c, "expand-path@openssh.com")) {
        return ferry_sftpc_realpath(c, path, out);
    }
    rc = send_ext(c, "expand-path@openssh.com", path, NULL, &id);
    return rc == FERRY_OK ? one_name_reply(c, id, out) : rc;
}

int ferry_sftpc_home(ferry_sftpc *c, char **out)
{
    if (c->home != NULL) {
        *out = strdup(c->home);
        return *out != NULL ? FERRY_OK : FERRY_E_ALLOC;
    }
    return ferry_sftpc_realpath(c, ".", out);
}

int ferry_sftpc_stat_send(ferry_sftpc *c, const char *path, uint32_t *id)
{
    return send_str(c, SSH_FXP_STAT, path, strlen(path), NULL, id);
}

int ferry_sftpc_stat_wait(ferry_sftpc *c, uint32_t id, ferry_sftp_attrs *a)
{
    return attrs_reply(c, id, a);
}

int ferry_sftpc_stat(ferry_sftpc *c, const char *path, ferry_sftp_attrs *a)
{
    uint32_t id;
    int rc = ferry_sftpc_stat_send(c, path, &id);
    return rc == FERRY_OK ? ferry_sftpc_stat_wait(c, id, a) : rc;
}

int ferry_sftpc_lstat(ferry_sftpc *c, const char *path, ferry_sftp_attrs *a)
{
    uint32_t id;
    int rc = send_str(c, SSH_FXP_LSTAT, path, strlen(path), NULL, &id);
    return rc == FERRY_OK ? attrs_reply(c, id, a) : rc;
}

int ferry_sftpc_fstat(ferry_sftpc *c, const ferry_buf *h, ferry_sftp_attrs *a)
{
    uint32_t id;
    int rc = send_str(c, SSH_FXP_FSTAT, ferry_buf_data(h), ferry_buf_len(h), NULL, &id);
    return rc == FERRY_OK ? attrs_reply(c, id, a) : rc;
}

int ferry_sftpc_setstat(ferry_sftpc *c, const char *path, const ferry_sftp_attrs *a)
{
    return path_status(c, SSH_FXP_SETSTAT, path, a);
}

int ferry_sftpc_fsetstat(ferry_sftpc *c, const ferry_buf *h, const ferry_sftp_attrs *a)
{
    return handle_status(c, SSH_FXP_FSETSTAT, h, a);
}

/* Built in the engine's scratch buffer: batches open many files and
 * allocate nothing for it. */
int ferry_sftpc_open_send(ferry_sftpc *c, const char *path, uint32_t pflags,
                          const ferry_sftp_attrs *a, uint32_t *id)
{
    ferry_sftp_attrs none = {0};
    ferry_buf *p = ferry__sftpc_scratch(c);
    int rc = p ? ferry_buf_put_cstring(p, path) : FERRY_E_ALLOC;
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_u32(p, pflags);
    }
    if (rc == FERRY_OK) {
        rc = ferry_sftp_attrs_encode(p, a != NULL ? a : &none);
    }
    return rc == FERRY_OK ? ferry_sftpc_send(c, SSH_FXP_OPEN, p, id) : rc;
}

int ferry_sftpc_open_wait(ferry_sftpc *c, uint32_t id, ferry_buf **handle)
{
    return handle_reply(c, id, handle);
}

int ferry_sftpc_open(ferry_sftpc *c, const char *path, uint32_t pflags, const ferry_sftp_attrs *a,
                     ferry_buf **handle)
{
    uint32_t id;
    int rc = ferry_sftpc_open_send(c, path, pflags, a, &id);
    return rc == FERRY_OK ? ferry_sftpc_open_wait(c, id, handle) : rc;
}

int ferry_sftpc_opendir_send(ferry_sftpc *c, const char *path, uint32_t *id)
{
    return send_str(c, SSH_FXP_OPENDIR, path, strlen(path), NULL, id);
}

int ferry_sftpc_opendir(ferry_sftpc *c, const char *path, ferry_buf **handle)
{
    uint32_t id;
    int rc = ferry_sftpc_opendir_send(c, path, &id);
    return rc == FERRY_OK ? handle_reply(c, id, handle) : rc;
}

/* CLOSE of h, its reply not awaited (dropped when it comes). */
static void close_unawaited(ferry_sftpc *c, const ferry_buf *h)
{
    uint32_t id;
    if (ferry_sftpc_close_send(c, h, &id) == FERRY_OK) {
        ferry_sftpc_release(c, id);
        (void)ferry__sftpc_flush(c);
    }
}

void ferry_sftpc_opendir_drop(ferry_sftpc *c, uint32_t id)
{
    ferry_buf *h = NULL;
    if (handle_reply(c, id, &h) == FERRY_OK) {
        close_unawaited(c, h);
    }
    ferry_buf_free(h);
}

int ferry_sftpc_close(ferry_sftpc *c, const ferry_buf *h)
{
    return handle_status(c, SSH_FXP_CLOSE, h, NULL);
}

int ferry_sftpc_close_send(ferry_sftpc *c, const ferry_buf *h, uint32_t *id)
{
    return send_str(c, SSH_FXP_CLOSE, ferry_buf_data(h), ferry_buf_len(h), NULL, id);
}

int ferry_sftpc_close_wait(ferry_sftpc *c, uint32_t id)
{
    return ferry__sftpc_status(c, id);
}

int ferry_sftpc_remove(ferry_sftpc *c, const char *path)
{
    return path_status(c, SSH_FXP_REMOVE, path, NULL);
}

int ferry_sftpc_path_send(ferry_sftpc *c, uint8_t type, const char *path, const ferry_sftp_attrs *a,
                          uint32_t *id)
{
    ferry_sftp_attrs none = {0};
    if (type != SSH_FXP_REMOVE && type != SSH_FXP_RMDIR && type != SSH_FXP_MKDIR &&
        type != SSH_FXP_SETSTAT) {
        return FERRY_E_INVALID_ARG;
    }
    return send_str(
        c, type, path, strlen(path),
        type == SSH_FXP_MKDIR || type == SSH_FXP_SETSTAT ? (a != NULL ? a : &none) : NULL, id);
}

int ferry_sftpc_status_wait(ferry_sftpc *c, uint32_t id)
{
    return ferry__sftpc_status(c, id);
}

int ferry_sftpc_mkdir(ferry_sftpc *c, const char *path, const ferry_sftp_attrs *a)
{
    return path_status(c, SSH_FXP_MKDIR, path, a);
}

int ferry_sftpc_rmdir(ferry_sftpc *c, const char *path)
{
    return path_status(c, SSH_FXP_RMDIR, path, NULL);
}

int ferry_sftpc_rename(ferry_sftpc *c, const char *from, const char *to, int posix)
{
    uint32_t id;
    int rc;
    if (posix) {
        if (!ferry_sftpc_has_ext(c, "posix-rename@openssh.com")) {
            return FERRY_E_UNSUPPORTED;
        }
        rc = send_ext(c, "posix-rename@openssh.com", from, to, &id);
    } else {
        ferry_buf *p = ferry__sftpc_payload();
        rc = p ? ferry_buf_put_cstring(p, from) : FERRY_E_ALLOC;
        if (rc == FERRY_OK) {
            rc = ferry_buf_put_cstring(p, to);
        }
        rc = send_free(c, SSH_FXP_RENAME, p, rc, &id);
    }
    return rc == FERRY_OK ? ferry__sftpc_status(c, id) : rc;
}

void ferry_sftpc_set_symlink_draft_order(ferry_sftpc *c, int on)
{
    c->symlink_draft = on != 0;
}

int ferry_sftpc_symlink(ferry_sftpc *c, const char *target, const char *linkpath)
{
    ferry_buf *p = ferry__sftpc_payload();
    uint32_t id;
    int draft = c->symlink_ext >= 0 ? c->symlink_ext : c->symlink_draft;
    const char *first = draft ? linkpath : target;
    int rc = p ? ferry_buf_put_cstring(p, first) : FERRY_E_ALLOC;
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_cstring(p, first == target ? linkpath : target);
    }
    rc = send_free(c, SSH_FXP_SYMLINK, p, rc, &id);
    return rc == FERRY_OK ? ferry__sftpc_status(c, id) : rc;
}

int ferry_sftpc_hardlink(ferry_sftpc *c, const char *target, const char *linkpath)
{
    uint32_t id;
    int rc;
    if (!ferry_sftpc_has_ext(c, "hardlink@openssh.com")) {
        return FERRY_E_UNSUPPORTED;
    }
    rc = send_ext(c, "hardlink@openssh.com", target, linkpath, &id);
    return rc == FERRY_OK ? ferry__sftpc_status(c, id) : rc;
}

int ferry_sftpc_statvfs(ferry_sftpc *c, const char *path, ferry_sftpc_vfsinfo *st)
{
    uint64_t *f[] = {&st->bsize, &st->frsize, &st->blocks, &st->bfree, &st->bavail, &st->files,
                     &st->ffree, &st->favail, &st->fsid,   &st->flag,  &st->namemax};
    uint32_t id;
    ferry_rd r;
    int rc;
    if (!ferry_sftpc_has_ext(c, "statvfs@openssh.com")) {
        return FERRY_E_UNSUPPORTED;
    }
    if ((rc = send_ext(c, "statvfs@openssh.com", path, NULL, &id)) != FERRY_OK ||
        (rc = ferry__sftpc_expect(c, id, SSH_FXP_EXTENDED_REPLY, &r)) != FERRY_OK) {
        return rc;
    }
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]) && rc == FERRY_OK; i++) {
        rc = ferry_rd_u64(&r, f[i]);
    }
    ferry_sftpc_release(c, id);
    return rc;
}

/* One packed list of the users-groups-by-id reply: n names into v[]
 * (heap; "" where the server knows none). */
static int read_names(ferry_rd *r, char **v, size_t n)
{
    ferry_rd list;
    const uint8_t *p = NULL;
    size_t len = 0;
    int rc = ferry_rd_string(r, &p, &len);
    if (rc != FERRY_OK) {
        return rc;
    }
    ferry_rd_init(&list, p, len);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = NULL;
        size_t sl = 0;
        if ((rc = ferry_rd_string(&list, &s, &sl)) != FERRY_OK) {
            return rc;
        }
        if (sl > 255 || memchr(s, 0, sl) != NULL) {
            return FERRY_E_FORMAT; /* no user or group name is like that */
        }
        if ((v[i] = strndup((const char *)s, sl)) == NULL) {
            return FERRY_E_ALLOC;
        }
    }
    return ferry_rd_end(&list);
}

int ferry_sftpc_users_groups(ferry_sftpc *c, const uint32_t *uids, size_t nu, const uint32_t *gids,
                             size_t ng, char **unames, char **gnames)
{
    ferry_buf *p = ferry__sftpc_payload();
    uint32_t id;
    ferry_rd r;
    int rc = p != NULL ? FERRY_OK : FERRY_E_ALLOC;
    memset(unames, 0, nu * sizeof(*unames));
    memset(gnames, 0, ng * sizeof(*gnames));
    if (!ferry_sftpc_has_ext(c, "users-groups-by-id@openssh.com") || nu > 4096 || ng > 4096) {
        ferry_buf_free(p);
        return FERRY_E_UNSUPPORTED;
    }
    const uint32_t *lists[2] = {uids, gids};
    size_t counts[2] = {nu, ng};
    rc = rc == FERRY_OK ? ferry_buf_put_cstring(p, "users-groups-by-id@openssh.com") : rc;
    for (int l = 0; l < 2 && rc == FERRY_OK; l++) {
        rc = ferry_buf_put_u32(p, (uint32_t)(4 * counts[l]));
        for (size_t i = 0; i < counts[l] && rc == FERRY_OK; i++) {
            rc = ferry_buf_put_u32(p, lists[l][i]);
        }
    }
    if ((rc = send_free(c, SSH_FXP_EXTENDED, p, rc, &id)) != FERRY_OK ||
        (rc = ferry__sftpc_expect(c, id, SSH_FXP_EXTENDED_REPLY, &r)) != FERRY_OK) {
        return rc;
    }
    rc = read_names(&r, unames, nu);
    rc = rc == FERRY_OK ? read_names(&r, gnames, ng) : rc;
    ferry_sftpc_release(c, id);
    if (rc != FERRY_OK) {
        for (size_t i = 0; i < nu; i++) {
            free(unames[i]);
            unames[i] = NULL;
        }
        for (size_t i = 0; i < ng; i++) {
            free(gnames[i]);
            gnames[i] = NULL;
        }
    }
    return rc;
}

int ferry_sftpc_fsync(ferry_sftpc *c, const ferry_buf *h)
{
    ferry_buf *p = ferry__sftpc_payload();
    uint32_t id;
    int rc;
    if (!ferry_sftpc_has_ext(c, "fsync@openssh.com")) {
        ferry_buf_free(p);
        return FERRY_E_UNSUPPORTED;
    }
    rc = p ? ferry_buf_put_cstring(p, "fsync@openssh.com") : FERRY_E_ALLOC;
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_stringb(p, h);
    }
    rc = send_free(c, SSH_FXP_EXTENDED, p, rc, &id);
    return rc == FERRY_OK ? ferry__sftpc_status(c, id) : rc;
}

int ferry_sftpc_copy_data(ferry_sftpc *c, const ferry_buf *from, uint64_t from_off, uint64_t len,
                          const ferry_buf *to, uint64_t to_off)
{
    ferry_buf *p = ferry__sftpc_payload();
    uint32_t id;
    int rc;
    if (!ferry_sftpc_has_ext(c, "copy-data")) {
        ferry_buf_free(p);
        return FERRY_E_UNSUPPORTED;
    }
    rc = p ? ferry_buf_put_cstring(p, "copy-data") : FERRY_E_ALLOC;
    if (rc == FERRY_OK && ((rc = ferry_buf_put_stringb(p, from)) != FERRY_OK ||
                           (rc = ferry_buf_put_u64(p, from_off)) != FERRY_OK ||
                           (rc = ferry_buf_put_u64(p, len)) != FERRY_OK ||
                           (rc = ferry_buf_put_stringb(p, to)) != FERRY_OK)) {
        goto done;
    }
    if (rc == FERRY_OK) {
        rc = ferry_buf_put_u64(p, to_off);
    }
done:
    rc = send_free(c, SSH_FXP_EXTENDED, p, rc, &id);
    return rc == FERRY_OK ? ferry__sftpc_status(c, id) : rc;
}

/* ---- directories ---- */

void ferry_sftpc_names_free(ferry_sftpc_name *names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++) {
        free(names[i].name);
        free(names[i].longname);
    }
    free(names);
}

/* A listing's total name bytes stop here: entries are bounded by count
 * and by size, so a hostile server cannot make a listing grow without end. */
#define MAX_LISTING_BYTES (64u * 1024 * 1024)

typedef struct name_list {
    ferry_sftpc_name *v;
    size_t n, cap, max;
    size_t bytes;
} name_list;

static int parse_names(ferry_rd *r, name_list *l)
{
    uint32_t count;
    if (ferry_rd_u32(r, &count) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    /* Each entry takes at least 12 bytes: bounds count by the packet. */
    if ((size_t)count > ferry_rd_left(r) / 12 || l->n + count > l->max) {
        return count > ferry_rd_left(r) / 12 ? FERRY_E_FORMAT : FERRY_E_TOO_LARGE;
    }
    if (l->n + count > l->cap) {
        size_t cap = (l->n + count) * 2;
        ferry_sftpc_name *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL) {
            return FERRY_E_ALLOC;
        }
        l->v = v;
        l->cap = cap;
    }
    for (uint32_t i = 0; i < count; i++) {
        ferry_sftpc_name *e = &l->v[l->n];
        memset(e, 0, sizeof(*e));
        size_t n1 = 0, n2 = 0;
        int rc = ferry_rd_cstring(r, MAX_PATH_REPLY, &e->name, &n1);
        if (rc == FERRY_OK) {
            rc = ferry_rd_cstring(r, MAX_PATH_REPLY, &e->longname, &n2);
        }
        l->bytes += n1 + n2 + sizeof(*e);
        if (rc == FERRY_OK && l->bytes > MAX_LISTING_BYTES) {
            rc = FERRY_E_TOO_LARGE;
        }
        if (rc == FERRY_OK) {
            rc = ferry_sftp_attrs_decode(r, &e->attrs);
            e->attrs.ext = NULL;
            e->attrs.ext_len = 0;
        }
        l->n++;
        if (rc != FERRY_OK) {
            return rc;
        }
    }
    return FERRY_OK;
}

/* Empty NAME replies in a row accepted before giving up on a server
 * that never says EOF. */
#define MAX_EMPTY_NAMES 64
/* READDIRs kept in flight: two at first (a small directory's names and
 * its EOF in one round trip), one more per NAME reply up to this. The
 * server answers them in order, as if sent one at a time (filexfer-02
 * s6: requests on the same file are processed in order); those behind
 * the EOF are abandoned. */
#define READDIR_AHEAD 16

static int arrived(ferry_sftpc *c, uint32_t id)
{
    uint8_t type;
    ferry_rd r;
    return ferry_sftpc_poll(c, id, &type, &r) == FERRY_OK;
}

static int readdir_loop(ferry_sftpc *c, const ferry_buf *h, name_list *l)
{
    uint32_t ids[READDIR_AHEAD];
    size_t head = 0, n = 0, ahead = 2;
    unsigned empty = 0;
    int rc = FERRY_OK;
    for (;;) {
        /* topped up only while the next reply is still to come (no READDIR
         * sent behind an EOF that is already here) */
        while (rc == FERRY_OK && n < ahead && (n == 0 || !arrived(c, ids[head]))) {
            rc = send_str(c, SSH_FXP_READDIR, ferry_buf_data(h), ferry_buf_len(h), NULL,
                          &ids[(head + n) % READDIR_AHEAD]);
            n += rc == FERRY_OK;
        }
        if (rc != FERRY_OK) {
            break;
        }
        size_t before = l->n;
        uint32_t id = ids[head];
        ferry_rd r;
        head = (head + 1) % READDIR_AHEAD;
        n--;
        if ((rc = ferry__sftpc_expect(c, id, SSH_FXP_NAME, &r)) != FERRY_OK) {
            rc = rc == FERRY_E_EOF ? FERRY_OK : rc;
            break;
        }
        rc = parse_names(&r, l);
        ferry_sftpc_release(c, id);
        empty = l->n == before ? empty + 1 : 0;
        if (rc == FERRY_OK && empty > MAX_EMPTY_NAMES) {
            rc = FERRY_E_PROTOCOL;
        }
        if (rc != FERRY_OK) {
            break;
        }
        ahead += ahead < READDIR_AHEAD;
    }
    for (; n > 0; n--, head = (head + 1) % READDIR_AHEAD) {
        ferry_sftpc_release(c, ids[head]);
    }
    return rc;
}

int ferry_sftpc_readdir_all(ferry_sftpc *c, const char *path, size_t max, ferry_sftpc_name **names,
                            size_t *n)
{
    uint32_t id;
    int rc = ferry_sftpc_opendir_send(c, path, &id);
    return rc == FERRY_OK ? ferry_sftpc_readdir_wait(c, id, max, names, n) : rc;
}

int ferry_sftpc_readdir_wait(ferry_sftpc *c, uint32_t id, size_t max, ferry_sftpc_name **names,
                             size_t *n)
{
    name_list l = {.max = max ? max : 1000000};
    ferry_buf *h = NULL;
    int rc = handle_reply(c, id, &h);
    if (rc != FERRY_OK) {
        return rc;
    }
    rc = readdir_loop(c, h, &l);
    /* the CLOSE's reply is not awaited: the listing is complete, and a
     * failed close of a directory changes nothing for the caller */
    close_unawaited(c, h);
    ferry_buf_free(h);
    if (rc != FERRY_OK) {
        ferry_sftpc_names_free(l.v, l.n);
        return rc;
    }
    *names = l.v;
    *n = l.n;
    return FERRY_OK;
}
