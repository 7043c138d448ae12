/* auth.h: the SSH layer's ferry_auth_ops over a ferryd user store, for one
 * connection. Public keys are checked with ferry_authkeys_match against the
 * peer address (from= options); passwords with crypt(3) (libxcrypt) and a
 * constant-time compare. Unknown users and users without a password are
 * checked against a dummy hash of the same kind, and an unknown user's key
 * against a stand-in user's keys, so every "no" costs the same time and
 * looks the same on the wire. */
#ifndef FERRYD_AUTH_H
#define FERRYD_AUTH_H

#include "audit.h"
#include "userstore.h"

#include "ssh/revoke.h"
#include "ssh/ssh.h"

/* Per-connection authentication state. Set us, peer, dummy_hash,
 * standin_user and report_fd; the rest is filled in by the callbacks. */
typedef struct ferryd_auth {
    const ferryd_userstore *us;
    const char *peer;       /* textual peer address, for from= */
    const char *dummy_hash; /* see ferryd_auth_dummy_hash */
    /* A user whose authorized keys an unknown user's key is compared with
     * (then refused), for the time a wrong key of a known user takes; NULL
     * = none. ferryd uses its first user, as for the dummy hash. */
    const char *standin_user;
    int allow_pubkey, allow_password;
    /* PubkeyAcceptedAlgorithms as resolved (NULL = all the SSH layer
     * accepts): a key none of these algorithms can use is refused. */
    const char *pubkey_algs;
    const char *ca_sig_algs;        /* CASignatureAlgorithms (NULL: the defaults) */
    int report_fd;                  /* pipe to the listener, -1 = none */
    const ferryd_audit_sink *audit; /* NULL = stderr */
    unsigned failures;
    /* Results: */
    const ferryd_user *user; /* set on success */
    char methods[64];
    char key_fp[96]; /* fingerprint of the last accepted key */
    char key_type[48];
    char cert_id[128]; /* of an accepted certificate ("" for a plain key) */
    char cert_serial[24];
    char ca_fp[96];
    /* TrustedUserCAKeys (NULL: certificates refused) */
    const ferry_authkeys *user_cas;
    /* RevokedKeys (NULL: none), read at the first key this connection
     * offers; an unreadable file refuses every key */
    const char *revoked_path;
    ferry_revoke *revoked;
    int revoked_state; /* 0 not read, 1 read, -1 unreadable */
    /* AuthorizedKeysCommand (NULL: none), run for known users' keys not
     * in their files; its last answer kept, as a key is asked about twice
     * (query, then the signed request) */
    const char *keys_command;
    char kc_user[65], kc_fp[96];
    int kc_ok;
    /* AuthorizedPrincipalsCommand (NULL: none), and its last answer */
    const char *principals_command;
    char pc_id[300];
    char *pc_list;
} ferryd_auth;

extern const ferry_auth_ops ferryd_auth_ops;

/* Frees what the connection's authentication loaded (RevokedKeys). */
void ferryd_auth_cleanup(ferryd_auth *a);

/* Makes a dummy crypt(3) hash of the same kind and cost ("$y$jBT$",
 * "$6$rounds=N$", ...) as `like` (NULL = yescrypt, default cost) into
 * out[outsz]. FERRY_E_SYSTEM if libxcrypt cannot. */
int ferryd_auth_dummy_hash(const char *like, char *out, size_t outsz);

/* A new yescrypt ("$y$", as /etc/shadow) hash of `password` with a random
 * salt into out[outsz]. */
int ferryd_auth_hash_password(const char *password, char *out, size_t outsz);

/* FERRY_OK if `password` hashes to `hash` (crypt(3)), else
 * FERRY_E_AUTH_DENIED. Constant-time compare of the results. */
int ferryd_auth_password_matches(const char *password, const char *hash);

/* Messages a child writes to the listener (one byte each). */
#define FERRYD_REPORT_AUTH_OK   'A'
#define FERRYD_REPORT_AUTH_FAIL 'F'
#define FERRYD_REPORT_GRACE     'G' /* closed: LoginGraceTime exceeded */

#endif
