/* authfile.h: OpenSSH's authorized_keys and known_hosts formats
 * (sshd(8) "AUTHORIZED_KEYS FILE FORMAT", "SSH_KNOWN_HOSTS FILE FORMAT").
 * Parsers never trust their input: bad lines are skipped (and counted),
 * never fatal; line length is bounded (8 KiB, as OpenSSH's 8 KiB+). */
#ifndef FERRY_SSH_AUTHFILE_H
#define FERRY_SSH_AUTHFILE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"

/* ---- authorized_keys ---- */

typedef struct ferry_authkeys ferry_authkeys;

/* Reads a whole file into a new buffer the caller frees; FERRY_E_TOO_LARGE
 * at `max` bytes or more (max: 4 KiB times a power of two). */
int ferry_authfile_slurp(const char *path, size_t max, char **out, size_t *outlen);

/* Options of a matching authorized_keys line that the server must honour.
 * restrict turns off forwarding/pty/etc.; irrelevant to an SFTP-only
 * server but recorded. */
typedef struct ferry_authkey_opts {
    int restrict_;
    int no_pty, no_port_forwarding, no_agent_forwarding, no_x11_forwarding;
    char command[256]; /* command="..." ("" if none) */
} ferry_authkey_opts;

/* Parses an authorized_keys file's text. Lines: [options] keytype base64
 * [comment]; '#' comments and blank lines ignored; unknown options make the
 * line unusable (as OpenSSH). *skipped (may be NULL) counts bad lines. */
int ferry_authkeys_parse(const char *text, size_t len, ferry_authkeys **out, size_t *skipped);
/* Reads and parses a file. FERRY_E_NOT_FOUND if it does not exist. */
int ferry_authkeys_load(const char *path, ferry_authkeys **out, size_t *skipped);
void ferry_authkeys_free(ferry_authkeys *ak);
/* Number of usable keys. */
size_t ferry_authkeys_count(const ferry_authkeys *ak);
/* FERRY_OK if `key` is listed on a line whose from="pattern-list" (if any)
 * admits the client address `addr` (textual IPv4/IPv6, may be NULL =
 * unknown, which fails any from= line); fills *opts (may be NULL).
 * FERRY_E_AUTH_DENIED otherwise. from= supports OpenSSH pattern-lists with
 * *, ?, !negation and CIDR (a.b.c.d/n, v6/n). */
int ferry_authkeys_match(const ferry_authkeys *ak, const ferry_key *key, const char *addr,
                         ferry_authkey_opts *opts);
/* The same for a "cert-authority" line (sshd(8)): FERRY_OK if `ca` is
 * listed as a CA for user certificates on a line whose expiry-time and
 * from= admit `addr`; *principals (may be NULL) gets that line's
 * principals= list (comma-separated) or NULL. A cert-authority line never
 * matches as a plain key in ferry_authkeys_match. */
int ferry_authkeys_match_ca(const ferry_authkeys *ak, const ferry_key *ca, const char *addr,
                            const char **principals);
/* 1 if any line lists the key, whatever its options (a list of revoked
 * keys), else 0. */
int ferry_authkeys_lists(const ferry_authkeys *ak, const ferry_key *key);

/* Whether an OpenSSH pattern-list of addresses (from=, a certificate's
 * source-address: a.b.c.d/n and v6/n CIDR, *, ?, !negation) admits the
 * textual client address `addr` (NULL: unknown, never admitted). A
 * malformed CIDR element denies, as in OpenSSH. */
int ferry_addr_list_admits(const char *list, const char *addr);

/* ---- known_hosts ---- */

enum ferry_hostkey_status {
    FERRY_HOSTKEY_OK = 0,      /* host known with this key */
    FERRY_HOSTKEY_NEW = 1,     /* host not known (for this key type) */
    FERRY_HOSTKEY_CHANGED = 2, /* host known with a different key */
    FERRY_HOSTKEY_REVOKED = 3, /* key is @revoked */
};

/* Checks host/port against a known_hosts file: plain names, comma lists,
 * wildcards and negation, hashed "|1|salt|hash" entries (HMAC-SHA1),
 * "[host]:port" when port != 22, @revoked and @cert-authority markers
 * (the latter skipped here: see ferry_known_hosts_ca). Any listed key for the host other than `key`
 * makes it CHANGED, a key of another type too: OpenSSH (checked with 9.2) refuses such a host with
 * "REMOTE HOST IDENTIFICATION HAS CHANGED ... Offending RSA key", even with
 * StrictHostKeyChecking=accept-new; it avoids the case by preferring the host key algorithms of the
 * keys on record (see ferry_known_hosts_order_algs). A key of the offered type is reported before
 * one of another type. *line (may be NULL) gets the 1-based line number of the entry that decided
 * CHANGED/OK/REVOKED (0 for NEW). A missing file is NEW. */
int ferry_known_hosts_check(const char *path, const char *host, uint16_t port, const ferry_key *key,
                            enum ferry_hostkey_status *status, size_t *line);
/* Same over text in memory (for tests and fuzzing). */
int ferry_known_hosts_check_text(const char *text, size_t len, const char *host, uint16_t port,
                                 const ferry_key *key, enum ferry_hostkey_status *status,
                                 size_t *line);
/* The @cert-authority lines for host/port (host certificates): *any is
 * set when one names the host; *status is FERRY_HOSTKEY_OK when one of
 * them lists `ca` (may be NULL), FERRY_HOSTKEY_REVOKED when a @revoked
 * line for the host lists it, else FERRY_HOSTKEY_NEW; *line (may be NULL)
 * the deciding line. A missing file lists nothing. */
int ferry_known_hosts_ca(const char *path, const char *host, uint16_t port, const ferry_key *ca,
                         int *any, enum ferry_hostkey_status *status, size_t *line);
int ferry_known_hosts_ca_text(const char *text, size_t len, const char *host, uint16_t port,
                              const ferry_key *ca, int *any, enum ferry_hostkey_status *status,
                              size_t *line);
/* The key types listed for host/port (plain entries; @revoked and
 * @cert-authority lines do not count) as a mask of 1u << ferry_key_type,
 * and in *any_ca (may be NULL) whether a @cert-authority line names the
 * host. A missing file gives 0 and 0. */
int ferry_known_hosts_types(const char *path, const char *host, uint16_t port, unsigned *types,
                            int *any_ca);
int ferry_known_hosts_types_text(const char *text, size_t len, const char *host, uint16_t port,
                                 unsigned *types, int *any_ca);
/* OpenSSH's ordering of HostKeyAlgorithms for a host on record: the
 * algorithms of `algs` (a name-list) whose key type is in `types` first,
 * then the others, each group in its original order. *out is a new heap
 * string, or NULL when `types` is empty (keep `algs` as it is). */
int ferry_known_hosts_order_algs(unsigned types, const char *algs, char **out);
/* Appends an entry for host/port (hashed when hash=1, as HashKnownHosts)
 * to the file, creating it (0600) and its directory (0700) if needed. */
int ferry_known_hosts_add(const char *path, const char *host, uint16_t port, const ferry_key *key,
                          int hash);
/* The host name as written in known_hosts: "host" for port 22 or 0,
 * "[host]:port" otherwise. */
int ferry_known_hosts_hostname(const char *host, uint16_t port, char *out, size_t outsz);

#endif
