/* ferryd.h: the server's process-wide state, built once by main() before
 * the listener starts and inherited by every connection child. Nothing
 * here is per-connection (that lives in conn.c's struct). */
#ifndef FERRYD_FERRYD_H
#define FERRYD_FERRYD_H

#include <stddef.h>

#include "audit.h"
#include "config.h"
#include "crypto/key.h"
#include "userstore.h"

typedef struct ferryd_server {
    ferryd_config cfg;
    ferryd_algs algs;
    ferry_key *host_keys[FERRYD_MAX_HOST_KEYS];
    size_t n_host_keys;
    struct ferry_cert *host_certs[FERRYD_MAX_HOST_KEYS]; /* each of one of host_keys */
    size_t n_host_certs;
    ferryd_userstore users;
    ferry_authkeys *user_cas;       /* TrustedUserCAKeys, NULL = none */
    const ferryd_audit_sink *audit; /* NULL = stderr */
    ferryd_audit_file audit_file;   /* AuditLog; fd -1 when not used */
    char *auth_methods;             /* derived from the config; NULL = any */
    char *banner;                   /* Banner's text, read at start; NULL = none */
    char dummy_hash[256];           /* crypt(3) hash for timing-equal denials */
    /* Called once the sockets are bound, before "listening on" is
     * printed, with the first bound address and port (quick mode prints
     * its connection help here). NULL = none. */
    void (*on_bound)(const struct ferryd_server *srv, const char *host, unsigned port);
    const char *quick_user;
} ferryd_server;

/* Serves one accepted connection in a forked child: runs the SSH session
 * over the non-blocking socket `fd` until it ends. `peer`/`peer_port`
 * describe the client; `report_fd` is the pipe to the listener (auth
 * results), closed on return. Returns the process exit status. */
int ferryd_conn_serve(const ferryd_server *srv, int fd, const char *peer, unsigned peer_port,
                      int report_fd);

/* In a connection child: SIGTERM ends the session cleanly (DISCONNECT,
 * incomplete atomic uploads kept as partial files or discarded) instead of
 * killing the process. */
void ferryd_conn_signals(void);

/* In the listener, before the first fork: one key exchange between two
 * in-memory sessions, so OpenSSL's lazily built tables (providers,
 * algorithm fetch caches, DRBG) exist once, shared copy-on-write, instead
 * of being built in every connection child (about 180 kB per idle
 * session saved). */
void ferryd_conn_prewarm(const ferryd_server *srv);

/* Binds every ListenAddress, prints one "listening on ..." line on stderr
 * and runs the accept loop (fork per connection, MaxStartups and
 * per-source throttling, penalties) until SIGTERM/SIGINT. Returns the
 * process exit status (0 after a clean shutdown). */
int ferryd_listener_run(ferryd_server *srv);

/* Loads each HostKey file, creating a missing one (ed25519, or ECDSA /
 * RSA when the file name contains "ecdsa" / "rsa"), into srv->host_keys. */
int ferryd_hostkeys_load(ferryd_server *srv);

#endif
