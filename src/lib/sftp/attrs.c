/* attrs.c: the SFTP v3 ATTRS codec (draft-ietf-secsh-filexfer-02 section 5)
 * and the FERRY_E_* -> SSH_FX_* mapping. */
#include "sftp/proto.h"

#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/err.h"

#define ATTR_KNOWN                                                                     \
    (SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID | SSH_FILEXFER_ATTR_PERMISSIONS | \
     SSH_FILEXFER_ATTR_ACMODTIME | SSH_FILEXFER_ATTR_EXTENDED)

/* Reads one (name, data) pair, bounded. */
static int rd_ext_pair(ferry_rd *r, const uint8_t **name, size_t *name_len,
                       const uint8_t **data, size_t *data_len)
{
    ferry_rd save = *r;
    int rc = ferry_rd_string(r, name, name_len);
    if (rc == FERRY_OK) {
        rc = ferry_rd_string(r, data, data_len);
    }
    if (rc == FERRY_OK &&
        (*name_len > FERRY_SFTP_ATTRS_MAX_EXT_NAME || *data_len > FERRY_SFTP_ATTRS_MAX_EXT_DATA)) {
        rc = FERRY_E_TOO_LARGE;
    }
    if (rc != FERRY_OK) {
        *r = save;
    }
    return rc;
}

static int decode_ext(ferry_rd *r, ferry_sftp_attrs *a)
{
    int rc = ferry_rd_u32(r, &a->ext_count);
    if (rc != FERRY_OK) {
        return rc;
    }
    if (a->ext_count > FERRY_SFTP_ATTRS_MAX_EXT) {
        return FERRY_E_TOO_LARGE;
    }
    a->ext = ferry_rd_ptr(r);
    size_t start = r->off;
    for (uint32_t i = 0; i < a->ext_count; i++) {
        const uint8_t *n, *d;
        size_t nl, dl;
        rc = rd_ext_pair(r, &n, &nl, &d, &dl);
        if (rc != FERRY_OK) {
            return rc;
        }
    }
    a->ext_len = r->off - start;
    return FERRY_OK;
}

static int decode_fields(ferry_rd *r, ferry_sftp_attrs *a)
{
    int rc = ferry_rd_u32(r, &a->flags);
    if (rc == FERRY_OK && (a->flags & SSH_FILEXFER_ATTR_SIZE)) {
        rc = ferry_rd_u64(r, &a->size);
    }
    if (rc == FERRY_OK && (a->flags & SSH_FILEXFER_ATTR_UIDGID)) {
        rc = ferry_rd_u32(r, &a->uid);
        if (rc == FERRY_OK) {
            rc = ferry_rd_u32(r, &a->gid);
        }
    }
    if (rc == FERRY_OK && (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS)) {
        rc = ferry_rd_u32(r, &a->perm);
    }
    if (rc == FERRY_OK && (a->flags & SSH_FILEXFER_ATTR_ACMODTIME)) {
        rc = ferry_rd_u32(r, &a->atime);
        if (rc == FERRY_OK) {
            rc = ferry_rd_u32(r, &a->mtime);
        }
    }
    if (rc == FERRY_OK && (a->flags & SSH_FILEXFER_ATTR_EXTENDED)) {
        rc = decode_ext(r, a);
    }
    return rc;
}

int ferry_sftp_attrs_decode(ferry_rd *r, ferry_sftp_attrs *a)
{
    ferry_rd save = *r;
    memset(a, 0, sizeof(*a));
    int rc = decode_fields(r, a);
    if (rc != FERRY_OK) {
        *r = save;
        memset(a, 0, sizeof(*a));
    }
    return rc;
}

int ferry_sftp_attrs_encode(ferry_buf *b, const ferry_sftp_attrs *a)
{
    uint32_t f = a->flags & ATTR_KNOWN;
    int rc = ferry_buf_put_u32(b, f);
    if (rc == FERRY_OK && (f & SSH_FILEXFER_ATTR_SIZE)) {
        rc = ferry_buf_put_u64(b, a->size);
    }
    if (rc == FERRY_OK && (f & SSH_FILEXFER_ATTR_UIDGID)) {
        rc = ferry_buf_put_u32(b, a->uid);
        if (rc == FERRY_OK) {
            rc = ferry_buf_put_u32(b, a->gid);
        }
    }
    if (rc == FERRY_OK && (f & SSH_FILEXFER_ATTR_PERMISSIONS)) {
        rc = ferry_buf_put_u32(b, a->perm);
    }
    if (rc == FERRY_OK && (f & SSH_FILEXFER_ATTR_ACMODTIME)) {
        rc = ferry_buf_put_u32(b, a->atime);
        if (rc == FERRY_OK) {
            rc = ferry_buf_put_u32(b, a->mtime);
        }
    }
    if (rc == FERRY_OK && (f & SSH_FILEXFER_ATTR_EXTENDED)) {
        rc = ferry_buf_put_u32(b, a->ext_count);
        if (rc == FERRY_OK && a->ext_len > 0) {
            rc = ferry_buf_put(b, a->ext, a->ext_len);
        }
    }
    return rc;
}

int ferry_sftp_attrs_ext_next(ferry_rd *r, const uint8_t **name, size_t *name_len,
                              const uint8_t **data, size_t *data_len)
{
    if (ferry_rd_left(r) == 0) {
        return FERRY_E_EOF;
    }
    int rc = rd_ext_pair(r, name, name_len, data, data_len);
    return rc == FERRY_E_TOO_LARGE ? FERRY_E_FORMAT : rc;
}

uint32_t ferry_sftp_status_from_err(int err)
{
    switch (err) {
    case FERRY_OK:
        return SSH_FX_OK;
    case FERRY_E_EOF:
        return SSH_FX_EOF;
    case FERRY_E_NOT_FOUND:
        return SSH_FX_NO_SUCH_FILE;
    case FERRY_E_PERMISSION:
        return SSH_FX_PERMISSION_DENIED;
    case FERRY_E_FORMAT:
    case FERRY_E_TRAILING_DATA:
    case FERRY_E_TOO_LARGE:
        return SSH_FX_BAD_MESSAGE;
    case FERRY_E_UNSUPPORTED:
        return SSH_FX_OP_UNSUPPORTED;
    case FERRY_E_DISCONNECTED:
    case FERRY_E_CLOSED:
        return SSH_FX_CONNECTION_LOST;
    default:
        return SSH_FX_FAILURE;
    }
}

const char *ferry_sftp_status_message(uint32_t status)
{
    static const char *const msgs[] = {
        [SSH_FX_OK] = "Success",
        [SSH_FX_EOF] = "End of file",
        [SSH_FX_NO_SUCH_FILE] = "No such file",
        [SSH_FX_PERMISSION_DENIED] = "Permission denied",
        [SSH_FX_FAILURE] = "Failure",
        [SSH_FX_BAD_MESSAGE] = "Bad message",
        [SSH_FX_NO_CONNECTION] = "No connection",
        [SSH_FX_CONNECTION_LOST] = "Connection lost",
        [SSH_FX_OP_UNSUPPORTED] = "Operation unsupported",
    };
    if (status < sizeof(msgs) / sizeof(msgs[0])) {
        return msgs[status];
    }
    return "Unknown error";
}

const char *ferry_sftp_type_name(uint32_t type)
{
    static const char *const names[] = {
        [SSH_FXP_INIT] = "SSH_FXP_INIT",         [SSH_FXP_VERSION] = "SSH_FXP_VERSION",
        [SSH_FXP_OPEN] = "SSH_FXP_OPEN",         [SSH_FXP_CLOSE] = "SSH_FXP_CLOSE",
        [SSH_FXP_READ] = "SSH_FXP_READ",         [SSH_FXP_WRITE] = "SSH_FXP_WRITE",
        [SSH_FXP_LSTAT] = "SSH_FXP_LSTAT",       [SSH_FXP_FSTAT] = "SSH_FXP_FSTAT",
        [SSH_FXP_SETSTAT] = "SSH_FXP_SETSTAT",   [SSH_FXP_FSETSTAT] = "SSH_FXP_FSETSTAT",
        [SSH_FXP_OPENDIR] = "SSH_FXP_OPENDIR",   [SSH_FXP_READDIR] = "SSH_FXP_READDIR",
        [SSH_FXP_REMOVE] = "SSH_FXP_REMOVE",     [SSH_FXP_MKDIR] = "SSH_FXP_MKDIR",
        [SSH_FXP_RMDIR] = "SSH_FXP_RMDIR",       [SSH_FXP_REALPATH] = "SSH_FXP_REALPATH",
        [SSH_FXP_STAT] = "SSH_FXP_STAT",         [SSH_FXP_RENAME] = "SSH_FXP_RENAME",
        [SSH_FXP_READLINK] = "SSH_FXP_READLINK", [SSH_FXP_SYMLINK] = "SSH_FXP_SYMLINK",
    };
    if (type < sizeof(names) / sizeof(names[0]) && names[type] != NULL) {
        return names[type];
    }
    switch (type) {
    case SSH_FXP_STATUS:
        return "SSH_FXP_STATUS";
    case SSH_FXP_HANDLE:
        return "SSH_FXP_HANDLE";
    case SSH_FXP_DATA:
        return "SSH_FXP_DATA";
    case SSH_FXP_NAME:
        return "SSH_FXP_NAME";
    case SSH_FXP_ATTRS:
        return "SSH_FXP_ATTRS";
    case SSH_FXP_EXTENDED:
        return "SSH_FXP_EXTENDED";
    case SSH_FXP_EXTENDED_REPLY:
        return "SSH_FXP_EXTENDED_REPLY";
    default:
        return "unknown";
    }
}

int ferry_sftp_attrs_is_dir(const ferry_sftp_attrs *a)
{
    return (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) && S_ISDIR(a->perm);
}

int ferry_sftp_symlink_draft_order(const char *version, int peer_is_server)
{
    static const char *const clients[] = {"-AsyncSSH_", "-libssh_", "-SSHJ_"};
    const char *sw = version != NULL
                         ? strchr(version + (strncmp(version, "SSH-", 4) == 0 ? 4 : 0), '-')
                         : NULL; /* "-<softwareversion>" */
    if (sw == NULL) {
        return 0;
    }
    for (size_t i = 0; i < (peer_is_server ? 1 : sizeof(clients) / sizeof(clients[0])); i++) {
        if (strncasecmp(sw, clients[i], strlen(clients[i])) == 0) {
            return 1;
        }
    }
    return 0;
}
