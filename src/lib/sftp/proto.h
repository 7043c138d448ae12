/* proto.h: SFTP version 3 wire constants and the ATTRS codec, shared by the
 * SFTP server and client.
 *
 * Source: draft-ietf-secsh-filexfer-02 (section numbers below refer to it),
 * OpenSSH PROTOCOL section 4 (extensions). Every SFTP packet on the stream
 * is
 *     uint32 length     (of what follows: type + payload)
 *     byte   type
 *     uint32 request-id (every type except INIT and VERSION)
 *     ...payload
 * All integers are big-endian; strings are uint32 length + bytes, as in
 * RFC 4251 section 5. Use ferry_buf / ferry_rd for every field.
 */
#ifndef FERRY_SFTP_PROTO_H
#define FERRY_SFTP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* The protocol version we speak (and the one in INIT / VERSION). */
#define FERRY_SFTP_VERSION 3

/* Packet types (section 3). Requests 1..20 are client to server; replies
 * 101..105 are server to client; 200/201 carry extensions (section 8). */
enum ferry_sftp_type {
    SSH_FXP_INIT = 1,      /* uint32 version, then extension pairs */
    SSH_FXP_VERSION = 2,   /* uint32 version, then string name, string data pairs */
    SSH_FXP_OPEN = 3,      /* id, string filename, uint32 pflags, ATTRS */
    SSH_FXP_CLOSE = 4,     /* id, string handle */
    SSH_FXP_READ = 5,      /* id, string handle, uint64 offset, uint32 len */
    SSH_FXP_WRITE = 6,     /* id, string handle, uint64 offset, string data */
    SSH_FXP_LSTAT = 7,     /* id, string path */
    SSH_FXP_FSTAT = 8,     /* id, string handle */
    SSH_FXP_SETSTAT = 9,   /* id, string path, ATTRS */
    SSH_FXP_FSETSTAT = 10, /* id, string handle, ATTRS */
    SSH_FXP_OPENDIR = 11,  /* id, string path */
    SSH_FXP_READDIR = 12,  /* id, string handle */
    SSH_FXP_REMOVE = 13,   /* id, string filename */
    SSH_FXP_MKDIR = 14,    /* id, string path, ATTRS */
    SSH_FXP_RMDIR = 15,    /* id, string path */
    SSH_FXP_REALPATH = 16, /* id, string path */
    SSH_FXP_STAT = 17,     /* id, string path */
    SSH_FXP_RENAME = 18,   /* id, string oldpath, string newpath */
    SSH_FXP_READLINK = 19, /* id, string path */
    /* OpenSSH order (PROTOCOL 4.1), which every deployed client sends:
     * id, string targetpath, string linkpath. The draft lists the two
     * strings the other way round; we follow OpenSSH on both sides. */
    SSH_FXP_SYMLINK = 20,

    SSH_FXP_STATUS = 101,  /* id, uint32 code, string message, string lang */
    SSH_FXP_HANDLE = 102,  /* id, string handle (at most 256 bytes) */
    SSH_FXP_DATA = 103,    /* id, string data */
    SSH_FXP_NAME = 104,    /* id, uint32 count, count x (filename, longname, ATTRS) */
    SSH_FXP_ATTRS = 105,   /* id, ATTRS */

    SSH_FXP_EXTENDED = 200,       /* id, string extension-name, ... */
    SSH_FXP_EXTENDED_REPLY = 201, /* id, ... (format fixed by the request) */
};

/* Status codes of SSH_FXP_STATUS (section 7). */
enum ferry_sftp_status {
    SSH_FX_OK = 0,
    SSH_FX_EOF = 1,
    SSH_FX_NO_SUCH_FILE = 2,
    SSH_FX_PERMISSION_DENIED = 3,
    SSH_FX_FAILURE = 4,
    SSH_FX_BAD_MESSAGE = 5,
    SSH_FX_NO_CONNECTION = 6,
    SSH_FX_CONNECTION_LOST = 7,
    SSH_FX_OP_UNSUPPORTED = 8,
};

/* ATTRS flag bits (section 5). Fields appear in this order when present:
 *     uint32 flags
 *     uint64 size                      if SIZE
 *     uint32 uid, uint32 gid           if UIDGID
 *     uint32 permissions               if PERMISSIONS (st_mode incl. type bits)
 *     uint32 atime, uint32 mtime       if ACMODTIME (seconds since the epoch)
 *     uint32 extended_count            if EXTENDED
 *     extended_count x (string type, string data)
 */
#define SSH_FILEXFER_ATTR_SIZE 0x00000001u
#define SSH_FILEXFER_ATTR_UIDGID 0x00000002u
#define SSH_FILEXFER_ATTR_PERMISSIONS 0x00000004u
#define SSH_FILEXFER_ATTR_ACMODTIME 0x00000008u
#define SSH_FILEXFER_ATTR_EXTENDED 0x80000000u

/* Open flags of SSH_FXP_OPEN (section 6.3). */
#define SSH_FXF_READ 0x00000001u
#define SSH_FXF_WRITE 0x00000002u
#define SSH_FXF_APPEND 0x00000004u
#define SSH_FXF_CREAT 0x00000008u
#define SSH_FXF_TRUNC 0x00000010u
#define SSH_FXF_EXCL 0x00000020u

/* statvfs@openssh.com f_flag bits (PROTOCOL 4.4). */
#define SSH_FXE_STATVFS_ST_RDONLY 0x1u
#define SSH_FXE_STATVFS_ST_NOSUID 0x2u

/* Limits applied when decoding ATTRS: more extended pairs, or a longer
 * name/data string, is FERRY_E_TOO_LARGE. */
#define FERRY_SFTP_ATTRS_MAX_EXT 64
#define FERRY_SFTP_ATTRS_MAX_EXT_NAME 1024
#define FERRY_SFTP_ATTRS_MAX_EXT_DATA 65536

/* Longest handle string the protocol allows (section 3). */
#define FERRY_SFTP_HANDLE_MAX 256

/* Decoded ATTRS. Only the fields whose bit is set in `flags` are
 * meaningful. The extended pairs are kept undecoded: `ext` points at the
 * ext_count (name, data) string pairs exactly as on the wire (already
 * validated by the decoder), borrowed from the reader's bytes and valid as
 * long as they are. Use ferry_sftp_attrs_ext_next to walk them. */
typedef struct ferry_sftp_attrs {
    uint32_t flags;
    uint64_t size;
    uint32_t uid, gid;
    uint32_t perm;
    uint32_t atime, mtime;
    uint32_t ext_count;
    const uint8_t *ext;
    size_t ext_len;
} ferry_sftp_attrs;

/* Decodes one ATTRS from r into *a (zeroed first). All-or-nothing: on error
 * the reader is left where it was. FERRY_E_FORMAT if truncated,
 * FERRY_E_TOO_LARGE if the extended count or a string is over the limits
 * above. Unknown flag bits are ignored (their fields cannot be present in
 * v3: the draft defines no others). */
int ferry_sftp_attrs_decode(ferry_rd *r, ferry_sftp_attrs *a);

/* Appends the encoding of *a (fields in flag order; the EXTENDED pairs
 * copied from a->ext verbatim when that bit is set). Bits other than the
 * five defined ones are cleared in the flags written. FERRY_E_TOO_LARGE if
 * b's maximum is reached (b may then hold a partial encoding). */
int ferry_sftp_attrs_encode(ferry_buf *b, const ferry_sftp_attrs *a);

/* Non-zero when the attributes carry permissions and they say directory
 * (attributes without permissions are not taken for one). */
int ferry_sftp_attrs_is_dir(const ferry_sftp_attrs *a);

/* SSH_FXP_SYMLINK's two paths: OpenSSH's sftp-server took them in the
 * reverse of the draft's order (PROTOCOL 4.1: targetpath, linkpath) and
 * most software follows it; some speaks the draft's order (linkpath,
 * targetpath) to any peer that is not OpenSSH. Non-zero when the peer
 * with SSH version line `version` does so: as a client (`peer_is_server`
 * 0) AsyncSSH, libssh (not libssh2) and sshj, which send the draft's
 * order to servers they do not know as OpenSSH; as a server AsyncSSH,
 * which expects it from clients it does not know as OpenSSH or paramiko. */
int ferry_sftp_symlink_draft_order(const char *version, int peer_is_server);

/* Walks the extended pairs of a decoded ATTRS: `r` must first be set with
 * ferry_rd_init(r, a->ext, a->ext_len). Returns FERRY_OK with borrowed
 * (name, data) pointers, FERRY_E_EOF when no pair is left, FERRY_E_FORMAT
 * on a malformed pair. */
int ferry_sftp_attrs_ext_next(ferry_rd *r, const uint8_t **name, size_t *name_len,
                              const uint8_t **data, size_t *data_len);

/* The one mapping from a FERRY_E_* code to an SSH_FX_* status:
 * OK→OK, EOF→EOF, NOT_FOUND→NO_SUCH_FILE, PERMISSION→PERMISSION_DENIED,
 * FORMAT/TRAILING_DATA/TOO_LARGE→BAD_MESSAGE, UNSUPPORTED→OP_UNSUPPORTED,
 * DISCONNECTED/CLOSED→CONNECTION_LOST, everything else→FAILURE. */
uint32_t ferry_sftp_status_from_err(int err);

/* Default English message for a status code ("Success", "No such file",
 * ...); never NULL (static string). */
const char *ferry_sftp_status_message(uint32_t status);

/* Name of a packet type for logs ("SSH_FXP_OPEN", ...; "unknown" if none). */
const char *ferry_sftp_type_name(uint32_t type);

#endif
