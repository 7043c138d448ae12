/* userstore.h: where ferryd learns who may log in, with which keys or
 * password, and what they may see. An interface with one backend today
 * (the configuration file, userstore_conf.c); a database backend can
 * implement the same two calls later.
 *
 * auth.c turns any user store into the SSH layer's ferry_auth_ops. */
#ifndef FERRYD_USERSTORE_H
#define FERRYD_USERSTORE_H

#include <stddef.h>

#include "config.h"
#include "sftp/server.h"
#include "ssh/authfile.h"

/* What the store knows about one user. Borrowed from the store; valid
 * until the store is freed. */
typedef struct ferryd_user {
    const char *name;
    const char *root;          /* absolute directory */
    const char *password_hash; /* crypt(3) string or NULL */
    enum ferry_sftp_mode mode;
    /* Authorized keys: zero or more parsed sets (one per file). */
    const ferry_authkeys *const *keys;
    size_t n_keys;
    /* Principals a certificate from TrustedUserCAKeys must name one of
     * (comma-separated; "" = none), or NULL for the user's name. */
    const char *principals;
    /* Source addresses the user may log in from (an OpenSSH address
     * pattern-list, as authorized_keys from=), NULL = any. */
    const char *from;
    /* The user's own AuthenticationMethods (replacing the global one, and
     * the global Pubkey/PasswordAuthentication switches), NULL = none. */
    const char *auth_methods;
} ferryd_user;

typedef struct ferryd_userstore_ops {
    /* FERRY_OK with *out set, FERRY_E_NOT_FOUND for an unknown user, or an
     * error (logged by the caller; treated as "deny"). A backend may load
     * key files lazily here, so call it in the process that serves. */
    int (*lookup)(void *ctx, const char *name, const ferryd_user **out);
    /* Frees the backend. */
    void (*free)(void *ctx);
} ferryd_userstore_ops;

typedef struct ferryd_userstore {
    const ferryd_userstore_ops *ops;
    void *ctx;
} ferryd_userstore;

/* The configuration-file backend over cfg's User blocks (cfg is borrowed
 * and must outlive the store). AuthorizedKeysFile entries are glob(3)
 * patterns with "~/" expanded to $HOME, read at first lookup of the user
 * (so after any privilege drop). */
int ferryd_userstore_conf_new(const ferryd_config *cfg, ferryd_userstore *out);

static inline int ferryd_userstore_lookup(const ferryd_userstore *us, const char *name,
                                          const ferryd_user **out)
{
    return us->ops->lookup(us->ctx, name, out);
}

/* Frees the backend; NULL ops is a no-op. */
void ferryd_userstore_free(ferryd_userstore *us);

#endif
