/* auth.c: ferry_auth_ops over a ferryd user store. */
#include "auth.h"
#include "keyscmd.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto/cert.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

static void report(const ferryd_auth *a, char what)
{
    if (a->report_fd >= 0) {
        ssize_t w = write(a->report_fd, &what, 1);
        (void)w; /* the listener may be gone at shutdown */
    }
}

int ferryd_auth_password_matches(const char *password, const char *hash)
{
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    if (cd == NULL) {
        return FERRY_E_ALLOC;
    }
    int r = FERRY_E_AUTH_DENIED;
    const char *res = crypt_rn(password, hash, cd, (int)sizeof(*cd));
    size_t hl = strlen(hash);
    if (res != NULL && res[0] != '*' && strlen(res) == hl && CRYPTO_memcmp(res, hash, hl) == 0) {
        r = FERRY_OK;
    }
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    return r;
}

int ferryd_auth_hash_password(const char *password, char *out, size_t outsz)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting)) == NULL) {
        return ferry_err_sys();
    }
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    if (cd == NULL) {
        return FERRY_E_ALLOC;
    }
    int r = FERRY_E_SYSTEM;
    const char *res = crypt_rn(password, setting, cd, (int)sizeof(*cd));
    if (res != NULL && res[0] != '*' && strlen(res) < outsz) {
        strcpy(out, res);
        r = FERRY_OK;
    }
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    return r;
}

/* The dummy password hashed with `setting`, into out[outsz]. */
static int dummy_crypt(const char *setting, char *out, size_t outsz)
{
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    if (cd == NULL) {
        return FERRY_E_ALLOC;
    }
    int r = FERRY_E_SYSTEM;
    const char *res = crypt_rn("ferry-dummy-password", setting, cd, (int)sizeof(*cd));
    if (res != NULL && res[0] != '*' && strlen(res) < outsz) {
        strcpy(out, res);
        r = FERRY_OK;
    }
    free(cd);
    return r;
}

int ferryd_auth_dummy_hash(const char *like, char *out, size_t outsz)
{
    /* `like` itself as the setting: the same method AND cost parameters
     * ("$y$jBT$...", "$6$rounds=N$..."), so a check against the dummy
     * takes as long as one against `like`. */
    if (like != NULL && like[0] == '$' && dummy_crypt(like, out, outsz) == FERRY_OK) {
        return FERRY_OK;
    }
    char prefix[8] = "$y$";
    if (like != NULL && like[0] == '$') {
        const char *end = strchr(like + 1, '$');
        size_t n = end != NULL ? (size_t)(end - like + 1) : 0;
        if (n > 0 && n < sizeof(prefix)) {
            memcpy(prefix, like, n);
            prefix[n] = '\0';
        }
    }
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn(prefix, 0, NULL, 0, setting, (int)sizeof(setting)) == NULL &&
        crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting)) == NULL) {
        return ferry_err_sys();
    }
    return dummy_crypt(setting, out, outsz);
}

static int lookup(const ferryd_auth *a, const char *user, const ferryd_user **u)
{
    int r = ferryd_userstore_lookup(a->us, user, u);
    if (r != FERRY_OK && r != FERRY_E_NOT_FOUND) {
        ferry_warn("user store lookup of \"%s\" failed: %s", user, ferry_strerror(r));
    }
    return r;
}

/* Non-zero if some algorithm of the comma-separated list can sign with
 * the key's type. */
static int key_type_accepted(const char *algs, const ferry_key *key)
{
    char name[64];
    for (const char *cur = algs; *cur != '\0';) {
        if (ferry_names_next_copy(&cur, name, sizeof(name)) && ferry_key_sigalg_ok(key, name)) {
            return 1;
        }
    }
    return 0;
}

/* Whether RevokedKeys revokes the key, or the certificate when `cert` is
 * given (its serial, key ID, key or CA); an unreadable file refuses every
 * key, as sshd's does. The reason goes to `why` (untouched when 0). */
static int revoked(ferryd_auth *a, const ferry_key *key, const ferry_cert *cert, char *why,
                   size_t whysz)
{
    if (a->revoked_path == NULL) {
        return 0;
    }
    if (a->revoked_state == 0) {
        int r = ferry_revoke_load(a->revoked_path, &a->revoked);
        a->revoked_state = r == FERRY_OK ? 1 : -1;
        if (r != FERRY_OK) {
            ferry_error("RevokedKeys %s: %s; refusing every key", a->revoked_path,
                        ferry_strerror(r));
        }
    }
    if (a->revoked_state < 0) {
        snprintf(why, whysz, "revoked (RevokedKeys unreadable)");
        return 1;
    }
    if (cert != NULL) {
        return ferry_revoke_cert(a->revoked, cert, why, whysz); /* `why` only when 1 */
    }
    if (!ferry_revoke_key(a->revoked, key)) {
        return 0;
    }
    snprintf(why, whysz, "revoked");
    return 1;
}

void ferryd_auth_cleanup(ferryd_auth *a)
{
    ferry_revoke_free(a->revoked);
    a->revoked = NULL;
    a->revoked_state = 0;
    free(a->pc_list);
    a->pc_list = NULL;
    a->pc_id[0] = '\0';
}

/* Records what is logged and audited of an accepted key or certificate. */
static void note_key(ferryd_auth *a, const ferry_key *key, const ferry_cert *cert)
{
    if (ferry_key_fingerprint(key, a->key_fp, sizeof(a->key_fp)) != FERRY_OK) {
        a->key_fp[0] = '\0';
    }
    snprintf(a->key_type, sizeof(a->key_type), "%s",
             cert != NULL ? cert->type_name : ferry_key_type_name(key));
    a->cert_id[0] = a->cert_serial[0] = a->ca_fp[0] = '\0';
    if (cert != NULL) {
        snprintf(a->cert_id, sizeof(a->cert_id), "%s", cert->key_id);
        snprintf(a->cert_serial, sizeof(a->cert_serial), "%llu", (unsigned long long)cert->serial);
        if (ferry_key_fingerprint(cert->ca, a->ca_fp, sizeof(a->ca_fp)) != FERRY_OK) {
            a->ca_fp[0] = '\0';
        }
    }
}

/* Whether the user's From admits the peer (logged when not). */
static int from_ok(const ferryd_auth *a, const ferryd_user *u)
{
    if (u->from == NULL || ferry_addr_list_admits(u->from, a->peer)) {
        return 1;
    }
    ferry_info("user %s from %s refused: not admitted by From", u->name, a->peer ? a->peer : "?");
    return 0;
}

/* Whether AuthorizedKeysCommand lists the key for the user (from= against
 * the peer); the last answer is reused for the same user and key. */
static int keys_command_allows(ferryd_auth *a, const ferryd_user *u, const ferry_key *key)
{
    char fp[96] = "";
    if (ferry_key_fingerprint(key, fp, sizeof(fp)) != FERRY_OK) {
        return 0;
    }
    if (strcmp(a->kc_user, u->name) == 0 && strcmp(a->kc_fp, fp) == 0) {
        return a->kc_ok;
    }
    ferry_authkeys *ak = NULL;
    int ok = ferryd_keyscmd_run(a->keys_command, u->name, u->root, key, &ak) == FERRY_OK &&
             ferry_authkeys_match(ak, key, a->peer, NULL) == FERRY_OK;
    ferry_authkeys_free(ak);
    snprintf(a->kc_user, sizeof(a->kc_user), "%s", u->name);
    snprintf(a->kc_fp, sizeof(a->kc_fp), "%s", fp);
    a->kc_ok = ok;
    return ok;
}

static int cb_pubkey_allowed(void *ctx, const char *user, const ferry_key *key)
{
    ferryd_auth *a = ctx;
    const ferryd_user *u = NULL;
    /* An unknown user's key is compared with the stand-in's keys and
     * refused whatever the result: its "no" takes as long as a known
     * user's with a wrong key (each key compared costs time). */
    int known = lookup(a, user, &u) == FERRY_OK;
    if (!(a->allow_pubkey || (known && u->auth_methods != NULL))) {
        return FERRY_E_AUTH_DENIED;
    }
    if (!known && (a->standin_user == NULL || lookup(a, a->standin_user, &u) != FERRY_OK)) {
        return FERRY_E_AUTH_DENIED;
    }
    if (a->pubkey_algs != NULL && !key_type_accepted(a->pubkey_algs, key)) {
        return FERRY_E_AUTH_DENIED;
    }
    char why[64];
    if (revoked(a, key, NULL, why, sizeof(why))) {
        char fp[96] = "";
        ferry_key_fingerprint(key, fp, sizeof(fp));
        ferry_info("key %s %s from %s refused: %s", ferry_key_type_name(key), fp,
                   a->peer ? a->peer : "?", why);
        return FERRY_E_AUTH_DENIED;
    }
    int found = 0;
    for (size_t i = 0; i < u->n_keys && !found; i++) {
        found = ferry_authkeys_match(u->keys[i], key, a->peer, NULL) == FERRY_OK;
    }
    if (!found && known && a->keys_command != NULL) {
        found = keys_command_allows(a, u, key);
    }
    if (!found || !known || !from_ok(a, u)) {
        return FERRY_E_AUTH_DENIED;
    }
    note_key(a, key, NULL);
    return FERRY_OK;
}

/* A user certificate's critical options (PROTOCOL.certkeys: an option not
 * understood refuses the certificate): source-address must admit the
 * peer; force-command is honoured only as "internal-sftp", which is all
 * ferryd serves. */
typedef struct crit_check {
    const char *peer;
    char why[96];
} crit_check;

static int crit_option(void *ctx, const char *name, const uint8_t *data, size_t len)
{
    crit_check *cc = ctx;
    ferry_rd rd;
    char *val = NULL;
    int source = strcmp(name, "source-address") == 0, ok = 0;
    ferry_rd_init(&rd, data, len);
    if (!source && strcmp(name, "force-command") != 0) {
        snprintf(cc->why, sizeof(cc->why), "unsupported critical option \"%.40s\"", name);
        return 1;
    }
    if (ferry_rd_cstring(&rd, 4096, &val, NULL) == FERRY_OK && ferry_rd_end(&rd) == FERRY_OK) {
        ok = source ? ferry_addr_list_admits(val, cc->peer) : strcmp(val, "internal-sftp") == 0;
    }
    if (!ok) {
        snprintf(cc->why, sizeof(cc->why), "%s",
                 source ? "source-address does not admit the client"
                        : "force-command other than internal-sftp");
    }
    free(val);
    return !ok;
}

/* Whether the certificate names one of the comma-separated principals. */
static int names_one_of(const ferry_cert *cert, const char *list)
{
    for (size_t i = 0; i < cert->n_principals; i++) {
        if (ferry_names_contains(list, cert->principals[i], strlen(cert->principals[i]))) {
            return 1;
        }
    }
    return 0;
}

/* The certificate is valid now and names one of `principals` (a list),
 * or the user when there is none. */
static int principal_ok(const ferry_cert *cert, const char *user, const char *principals,
                        crit_check *cc)
{
    if (ferry_cert_check(cert, FERRY_CERT_USER, principals ? NULL : user, (uint64_t)time(NULL),
                         cc->why, sizeof(cc->why)) != FERRY_OK) {
        return 0;
    }
    if (principals != NULL && !names_one_of(cert, principals)) {
        snprintf(cc->why, sizeof(cc->why), "no principal of the certificate is allowed");
        return 0;
    }
    return 1;
}

/* AuthorizedPrincipalsCommand's principals for the user and certificate
 * (NULL when it failed: none); the last answer is kept, as a certificate
 * is asked about twice (query, then the signed request). */
static const char *command_principals(ferryd_auth *a, const ferryd_user *u, const ferry_cert *cert)
{
    char id[sizeof(a->pc_id)], fp[96] = "";
    (void)ferry_key_fingerprint(cert->key, fp, sizeof(fp));
    snprintf(id, sizeof(id), "%s %s %llu %.64s", u->name, fp, (unsigned long long)cert->serial,
             cert->key_id);
    if (strcmp(id, a->pc_id) != 0) {
        free(a->pc_list);
        a->pc_list = NULL;
        if (ferryd_principalscmd_run(a->principals_command, u->name, u->root, cert, &a->pc_list) !=
            FERRY_OK) {
            a->pc_list = NULL;
        }
        snprintf(a->pc_id, sizeof(a->pc_id), "%s", id);
    }
    return a->pc_list;
}

/* The CA is trusted for the user, as by sshd(8), each way tried in turn:
 * TrustedUserCAKeys, the certificate naming one of the user's
 * AuthorizedPrincipalsFile or AuthorizedPrincipalsCommand principals (the
 * user without either); a cert-authority line of the user's
 * authorized_keys, the certificate naming one of the line's principals=
 * (the user without). */
static int ca_trusted(ferryd_auth *a, const ferryd_user *u, const char *user,
                      const ferry_cert *cert, crit_check *cc)
{
    int trusted = 0;
    if (a->user_cas != NULL &&
        ferry_authkeys_match(a->user_cas, cert->ca, a->peer, NULL) == FERRY_OK) {
        trusted = 1;
        const char *cmd = a->principals_command != NULL ? command_principals(a, u, cert) : NULL;
        if (u->principals == NULL && a->principals_command == NULL
                ? principal_ok(cert, user, NULL, cc)
                : (u->principals != NULL && principal_ok(cert, user, u->principals, cc)) ||
                      (cmd != NULL && principal_ok(cert, user, cmd, cc))) {
            return 1;
        }
        if (cc->why[0] == '\0') {
            snprintf(cc->why, sizeof(cc->why), "no principal of the certificate is allowed");
        }
    }
    for (size_t i = 0; i < u->n_keys; i++) {
        const char *principals = NULL;
        if (ferry_authkeys_match_ca(u->keys[i], cert->ca, a->peer, &principals) == FERRY_OK) {
            trusted = 1;
            if (principal_ok(cert, user, principals, cc)) {
                return 1;
            }
        }
    }
    if (!trusted) {
        snprintf(cc->why, sizeof(cc->why), "CA not trusted");
    }
    return 0;
}

static int cb_cert_allowed(void *ctx, const char *user, const ferry_cert *cert)
{
    ferryd_auth *a = ctx;
    const ferryd_user *u = NULL;
    crit_check cc = {.peer = a->peer};
    if (lookup(a, user, &u) != FERRY_OK || !(a->allow_pubkey || u->auth_methods != NULL)) {
        return FERRY_E_AUTH_DENIED;
    }
    if (u->from != NULL && !ferry_addr_list_admits(u->from, a->peer)) {
        snprintf(cc.why, sizeof(cc.why), "not admitted by the user's From");
    } else if (a->pubkey_algs != NULL && !key_type_accepted(a->pubkey_algs, cert->key)) {
        snprintf(cc.why, sizeof(cc.why), "key type not accepted");
    } else if (a->ca_sig_algs != NULL &&
               !ferry_names_contains(a->ca_sig_algs, cert->sig_alg, strlen(cert->sig_alg))) {
        snprintf(cc.why, sizeof(cc.why), "CA signature algorithm %s not accepted", cert->sig_alg);
    } else if (revoked(a, cert->key, cert, cc.why, sizeof(cc.why))) {
        /* cc.why says why */
    } else if (ca_trusted(a, u, user, cert, &cc) &&
               ferry_cert_critical_each(cert, crit_option, &cc) == FERRY_OK) {
        note_key(a, cert->key, cert);
        return FERRY_OK;
    }
    char id[64];
    size_t n = 0;
    for (const char *p = cert->key_id; *p != '\0' && n + 1 < sizeof(id); p++) {
        id[n++] =
            (unsigned char)*p < 0x20 || *p == 0x7f || *p == '"' ? '?' : *p; /* the CA's text */
    }
    id[n] = '\0';
    ferry_info("certificate ID \"%s\" (serial %llu) refused for %s from %s: %s", id,
               (unsigned long long)cert->serial, user, a->peer ? a->peer : "?",
               cc.why[0] ? cc.why : "malformed critical options");
    return FERRY_E_AUTH_DENIED;
}

static int cb_password_check(void *ctx, const char *user, const char *password)
{
    ferryd_auth *a = ctx;
    const ferryd_user *u = NULL;
    int known =
        lookup(a, user, &u) == FERRY_OK && u->password_hash != NULL && u->password_hash[0] == '$';
    /* Same work whether or not the user exists or has a password. */
    const char *hash = known ? u->password_hash : a->dummy_hash;
    int r = FERRY_E_AUTH_DENIED;
    if (hash != NULL && hash[0] != '\0') {
        r = ferryd_auth_password_matches(password, hash);
    }
    if (!known || !(a->allow_password || u->auth_methods != NULL) ||
        (r == FERRY_OK && !from_ok(a, u))) {
        r = FERRY_E_AUTH_DENIED;
    }
    return r == FERRY_OK ? FERRY_OK : FERRY_E_AUTH_DENIED;
}

/* A user's own AuthenticationMethods (the SSH layer then offers and
 * accepts only those; the global switches do not apply to the user). */
static const char *cb_methods_for(void *ctx, const char *user)
{
    const ferryd_user *u = NULL;
    return lookup(ctx, user, &u) == FERRY_OK ? u->auth_methods : NULL;
}

static void cb_on_success(void *ctx, const char *user, const char *methods)
{
    ferryd_auth *a = ctx;
    const ferryd_user *u = NULL;
    if (lookup(a, user, &u) == FERRY_OK) {
        a->user = u;
    }
    snprintf(a->methods, sizeof(a->methods), "%s", methods ? methods : "");
    if (strstr(a->methods, "publickey") == NULL) {
        a->key_fp[0] = a->key_type[0] = '\0';
        a->cert_id[0] = a->cert_serial[0] = a->ca_fp[0] = '\0';
    }
    report(a, FERRYD_REPORT_AUTH_OK);
}

static void cb_on_failure(void *ctx, const char *user, const char *method)
{
    ferryd_auth *a = ctx;
    if (method != NULL && strcmp(method, "none") == 0) {
        return; /* the probe every client starts with */
    }
    a->failures++;
    ferryd_kv kv[] = {{"user", user}, {"peer", a->peer}, {"method", method}};
    ferryd_audit_emit(a->audit, "auth_failure", kv, sizeof(kv) / sizeof(kv[0]));
    report(a, FERRYD_REPORT_AUTH_FAIL);
}

const ferry_auth_ops ferryd_auth_ops = {
    .pubkey_allowed = cb_pubkey_allowed,
    .cert_allowed = cb_cert_allowed,
    .password_check = cb_password_check,
    .on_success = cb_on_success,
    .on_failure = cb_on_failure,
    .methods_for = cb_methods_for,
};
