/* auth_server.c: the server side of SSH user authentication (RFC 4252,
 * RFC 4256 keyboard-interactive).
 *
 * Decisions (documented choices):
 * - AuthenticationMethods chains follow OpenSSH's syntax and ORDER: a
 *   chain "publickey,password" needs publickey first. After a method
 *   succeeds, only chains whose next step was that method stay alive; the
 *   methods that can continue are the next steps of the live chains.
 *   NULL means "publickey password"; keyboard-interactive is offered only
 *   when the configuration names it (it asks one "Password: " question
 *   checked with password_check).
 * - A publickey success with a key that already succeeded earlier in the
 *   same chain does not count again (so "publickey,publickey" needs two keys).
 * - Failures counted towards max_auth_tries: every failed request except
 *   "none" (failed publickey queries count, as in OpenSSH; a query that
 *   gets PK_OK does not). Reaching the limit disconnects with
 *   NO_MORE_AUTH_METHODS_AVAILABLE (14), "Too many authentication failures".
 * - A change of user name between requests disconnects (PROTOCOL_ERROR),
 *   as OpenSSH does; a name over 255 bytes or with a NUL disconnects with
 *   ILLEGAL_USER_NAME. Any service other than "ssh-connection" disconnects
 *   with SERVICE_NOT_AVAILABLE.
 * - Unknown users take the same path as known ones: every decision below
 *   is made by the user store callbacks, which answer AUTH_DENIED for both,
 *   and the FAILURE reply depends only on the chain state.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/cert.h"
#include "ssh/auth_int.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

#define DEFAULT_METHODS   "publickey password"
#define DEFAULT_MAX_TRIES 6u
#define PASSWORD_MAX      1024u

/* ---- AuthenticationMethods ---- */

static int method_from_name(const char *name, size_t n)
{
    for (int m = FERRY_AM_PUBKEY; m < FERRY_AM_COUNT; m++) {
        const char *w = ferry__auth_method_names[m];
        if (strlen(w) == n && memcmp(w, name, n) == 0) {
            return m;
        }
    }
    return -1;
}

/* One comma-separated chain p[0..n) into chain slot i. */
static int parse_chain(ferry_auth_state *a, size_t i, const char *p, size_t n)
{
    size_t steps = 0;
    while (n > 0) {
        const char *comma = memchr(p, ',', n);
        size_t len = comma != NULL ? (size_t)(comma - p) : n;
        const char *colon = memchr(p, ':', len); /* "keyboard-interactive:pam" */
        int m = method_from_name(p, colon != NULL ? (size_t)(colon - p) : len);
        if (m < 0 || steps >= FERRY__AUTH_MAX_STEPS) {
            return FERRY_E_INVALID_ARG;
        }
        a->chain[i][steps++] = (uint8_t)m;
        p += len;
        n -= len;
        if (comma != NULL) {
            p++;
            n--;
            if (n == 0) {
                return FERRY_E_INVALID_ARG; /* trailing comma */
            }
        }
    }
    a->chain_len[i] = (uint8_t)steps;
    a->chain_alive[i] = 1;
    return steps > 0 ? FERRY_OK : FERRY_E_INVALID_ARG;
}

/* Replaces the chains with those of `spec` (NULL or "any": the
 * defaults). */
static int parse_methods(ferry_auth_state *a, const char *spec)
{
    if (spec == NULL || strcmp(spec, "any") == 0) {
        spec = DEFAULT_METHODS;
    }
    a->n_chains = 0;
    memset(a->chain, 0, sizeof(a->chain));
    memset(a->chain_len, 0, sizeof(a->chain_len));
    memset(a->chain_done, 0, sizeof(a->chain_done));
    memset(a->chain_alive, 0, sizeof(a->chain_alive));
    const char *p = spec;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        size_t len = strcspn(p, " \t");
        if (len == 0) {
            break;
        }
        if (a->n_chains >= FERRY__AUTH_MAX_CHAINS) {
            return FERRY_E_INVALID_ARG;
        }
        int r = parse_chain(a, a->n_chains, p, len);
        if (r != FERRY_OK) {
            return r;
        }
        a->n_chains++;
        p += len;
    }
    return a->n_chains > 0 ? FERRY_OK : FERRY_E_INVALID_ARG;
}

int ferry_auth_methods_valid(const char *spec)
{
    ferry_auth_state *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return FERRY_E_ALLOC;
    }
    int r = parse_methods(a, spec);
    free(a);
    return r;
}

int ferry__auth_server_init(ferry_ssh *s)
{
    int r = parse_methods(s->auth, s->cfg.auth_methods);
    if (r != FERRY_OK) {
        ferry_error("ssh: bad authentication methods \"%s\"",
                    s->cfg.auth_methods != NULL ? s->cfg.auth_methods : "");
    }
    return r;
}

void ferry__auth_server_free(ferry_ssh *s)
{
    for (size_t i = 0; i < s->auth->n_used_keys; i++) {
        ferry_key_free(s->auth->used_keys[i]);
        s->auth->used_keys[i] = NULL;
    }
    s->auth->n_used_keys = 0;
}

/* Non-zero if some live chain has `m` as its next step. */
static int method_allowed(const ferry_auth_state *a, int m)
{
    for (size_t i = 0; i < a->n_chains; i++) {
        if (a->chain_alive[i] && a->chain_done[i] < a->chain_len[i] &&
            a->chain[i][a->chain_done[i]] == m) {
            return 1;
        }
    }
    return 0;
}

/* The methods that can continue: next steps of live chains, each once, in
 * the order of the configuration. */
static int put_continue_list(const ferry_auth_state *a, ferry_buf *b)
{
    char list[FERRY__AUTH_METHODS_MAX] = "";
    int seen[FERRY_AM_COUNT] = {0};
    for (size_t i = 0; i < a->n_chains; i++) {
        if (!a->chain_alive[i] || a->chain_done[i] >= a->chain_len[i]) {
            continue;
        }
        int m = a->chain[i][a->chain_done[i]];
        if (!seen[m]) {
            seen[m] = 1;
            if (list[0] != '\0') {
                strcat(list, ",");
            }
            strcat(list, ferry__auth_method_names[m]);
        }
    }
    return ferry_buf_put_cstring(b, list);
}

/* ---- replies ---- */

/* Banner: sent once, before the answer to the first request. */
static int send_banner(ferry_ssh *s)
{
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(s, SSH_MSG_USERAUTH_BANNER, &b);
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, s->cfg.banner) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "") : r; /* language tag */
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    return ferry__pkt_finish(s);
}

static int send_failure(ferry_ssh *s, int partial)
{
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(s, SSH_MSG_USERAUTH_FAILURE, &b);
    r = r == FERRY_OK ? put_continue_list(s->auth, b) : r;
    r = r == FERRY_OK ? ferry_buf_put_bool(b, partial) : r;
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    return ferry__pkt_finish(s);
}

/* The chain that is complete, or -1. */
static int complete_chain(const ferry_auth_state *a)
{
    for (size_t i = 0; i < a->n_chains; i++) {
        if (a->chain_alive[i] && a->chain_done[i] == a->chain_len[i]) {
            return (int)i;
        }
    }
    return -1;
}

static int auth_success(ferry_ssh *s, int chain)
{
    ferry_auth_state *a = s->auth;
    char methods[FERRY__AUTH_METHODS_MAX] = "";
    for (size_t j = 0; j < a->chain_len[chain]; j++) {
        if (j > 0) {
            strcat(methods, ",");
        }
        strcat(methods, ferry__auth_method_names[a->chain[chain][j]]);
    }
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(s, SSH_MSG_USERAUTH_SUCCESS, &b);
    r = r == FERRY_OK ? ferry__pkt_finish(s) : r;
    if (r != FERRY_OK) {
        return r;
    }
    memcpy(s->user, a->user, sizeof(s->user));
    s->authenticated = 1;
    s->state = FERRY_ST_OPEN;
    ferry_debug("ssh: user \"%s\" authenticated (%s)", s->user, methods);
    if (s->cfg.auth != NULL && s->cfg.auth->on_success != NULL) {
        s->cfg.auth->on_success(s->cfg.auth_ctx, s->user, methods);
    }
    return ferry__conn_start(s);
}

/* A method succeeded: advance the chains; SUCCESS or partial FAILURE. */
static int method_passed(ferry_ssh *s, int m)
{
    ferry_auth_state *a = s->auth;
    for (size_t i = 0; i < a->n_chains; i++) {
        if (!a->chain_alive[i]) {
            continue;
        }
        if (a->chain_done[i] < a->chain_len[i] && a->chain[i][a->chain_done[i]] == m) {
            a->chain_done[i]++;
        } else {
            a->chain_alive[i] = 0;
        }
    }
    int c = complete_chain(a);
    if (c >= 0) {
        return auth_success(s, c);
    }
    ferry_debug("ssh: partial success for \"%s\" with %s", a->user, ferry__auth_method_names[m]);
    return send_failure(s, 1);
}

/* A request failed. `counted`: counts towards max_auth_tries. */
static int method_failed(ferry_ssh *s, int m, const char *name, int counted)
{
    ferry_auth_state *a = s->auth;
    (void)m;
    if (s->cfg.auth != NULL && s->cfg.auth->on_failure != NULL) {
        s->cfg.auth->on_failure(s->cfg.auth_ctx, a->user, name);
    }
    if (counted) {
        unsigned max = s->cfg.max_auth_tries != 0 ? s->cfg.max_auth_tries : DEFAULT_MAX_TRIES;
        if (++a->failures >= max) {
            return ferry__fail(s, FERRY_E_AUTH_DENIED,
                               SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
                               "Too many authentication failures");
        }
    }
    return send_failure(s, 0);
}

/* ---- publickey ---- */

static int key_already_used(const ferry_auth_state *a, const ferry_key *k)
{
    for (size_t i = 0; i < a->n_used_keys; i++) {
        if (ferry_key_equal_public(a->used_keys[i], k)) {
            return 1;
        }
    }
    return 0;
}

static int send_pk_ok(ferry_ssh *s, const char *alg, const uint8_t *blob, size_t bloblen)
{
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(s, SSH_MSG_USERAUTH_60, &b);
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, alg) : r;
    r = r == FERRY_OK ? ferry_buf_put_string(b, blob, bloblen) : r;
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    return ferry__pkt_finish(s);
}

/* Verifies `sig` over the RFC 4252 s7 data with the key of the request. */
static int check_signature(ferry_ssh *s, const ferry_key *key, const char *alg, const char *sigalg,
                           const uint8_t *blob, size_t bloblen, const uint8_t *sig, size_t siglen)
{
    ferry_buf *data = ferry_buf_new(0);
    if (data == NULL) {
        return FERRY_E_ALLOC;
    }
    int r = ferry__auth_pubkey_signed_data(s, s->auth->user, alg, blob, bloblen, data);
    if (r == FERRY_OK) {
        r = ferry_key_verify(key, sigalg, sig, siglen, ferry_buf_data(data), ferry_buf_len(data));
    }
    ferry_buf_free(data);
    return r;
}

typedef struct pk_req {
    int has_sig;
    char alg[64];
    const uint8_t *blob, *sig;
    size_t bloblen, siglen;
} pk_req;

/* FERRY_OK, FERRY_E_TOO_LARGE (algorithm name too long: a plain failure)
 * or FERRY_E_FORMAT (malformed: fatal). */
static int parse_pk(ferry_rd *rd, pk_req *q)
{
    int r = ferry_rd_bool(rd, &q->has_sig);
    r = r == FERRY_OK ? ferry_rd_name(rd, q->alg, sizeof(q->alg)) : r;
    if (r == FERRY_E_TOO_LARGE) {
        return r;
    }
    r = r == FERRY_OK ? ferry_rd_string(rd, &q->blob, &q->bloblen) : r;
    if (r == FERRY_OK && q->has_sig) {
        r = ferry_rd_string(rd, &q->sig, &q->siglen);
    }
    return r == FERRY_OK ? ferry_rd_end(rd) : r;
}

/* The key of a publickey request, if the store allows it: a plain key
 * (pubkey_allowed), or the key of an OpenSSH certificate (cert_allowed),
 * whose signature is then made under the plain algorithm (`sigalg`). */
static int allowed_key(ferry_ssh *s, const pk_req *q, char *sigalg, size_t sigalgsz,
                       ferry_key **key)
{
    const ferry_auth_ops *ops = s->cfg.auth;
    const char *user = s->auth->user;
    ferry_cert *cert = NULL;
    int is_cert = ferry_cert_suffix(q->alg, strlen(q->alg)) != 0;
    int r = FERRY_OK;
    snprintf(sigalg, sigalgsz, "%s", q->alg);
    if (is_cert) {
        r = ferry_cert_plain_alg(q->alg, sigalg, sigalgsz);
    }
    if (r != FERRY_OK || ops == NULL ||
        !ferry_names_contains(ferry__kex_server_sig_algs(s), sigalg, strlen(sigalg))) {
        return FERRY_E_AUTH_DENIED;
    }
    if (!is_cert) {
        r = ferry_key_from_blob(q->blob, q->bloblen, key);
        return r == FERRY_OK && ferry_key_sigalg_ok(*key, sigalg) && ops->pubkey_allowed != NULL
                   ? ops->pubkey_allowed(s->cfg.auth_ctx, user, *key)
                   : FERRY_E_AUTH_DENIED;
    }
    if (ops->cert_allowed == NULL || ferry_cert_from_blob(q->blob, q->bloblen, &cert) != FERRY_OK) {
        return FERRY_E_AUTH_DENIED; /* malformed, or its CA signature is bad */
    }
    /* the certified key must suit the algorithm named */
    if (ferry_key_sigalg_ok(cert->key, sigalg)) {
        r = ops->cert_allowed(s->cfg.auth_ctx, user, cert);
        *key = ferry_key_ref(cert->key);
    } else {
        r = FERRY_E_AUTH_DENIED;
    }
    ferry_cert_free(cert);
    return r;
}

static int on_publickey(ferry_ssh *s, ferry_rd *rd)
{
    ferry_auth_state *a = s->auth;
    pk_req q = {0};
    ferry_key *key = NULL;
    char sigalg[sizeof(q.alg)];
    int r = parse_pk(rd, &q);
    if (r != FERRY_OK && r != FERRY_E_TOO_LARGE) {
        return ferry__fail(s, r, SSH_DISCONNECT_PROTOCOL_ERROR, "malformed publickey request");
    }
    int ok = r == FERRY_OK && allowed_key(s, &q, sigalg, sizeof(sigalg), &key) == FERRY_OK;
    if (ok && !q.has_sig) {
        r = send_pk_ok(s, q.alg, q.blob, q.bloblen); /* RFC 4252 s7 query */
        goto out;
    }
    /* The key that signed is the key authorised: pubkey_allowed (or
     * cert_allowed) was asked about exactly this key, and the signature is
     * checked with it. The signed data names the algorithm and blob as
     * sent (a certificate's); the signature is the key's own. */
    ok = ok && q.has_sig && !key_already_used(a, key) &&
         check_signature(s, key, q.alg, sigalg, q.blob, q.bloblen, q.sig, q.siglen) == FERRY_OK;
    if (!ok) {
        r = method_failed(s, FERRY_AM_PUBKEY, "publickey", 1);
        goto out;
    }
    if (a->n_used_keys < FERRY__AUTH_MAX_USED_KEYS) {
        a->used_keys[a->n_used_keys++] = ferry_key_ref(key);
    }
    r = method_passed(s, FERRY_AM_PUBKEY);
out:
    ferry_key_free(key);
    return r;
}

/* ---- password and keyboard-interactive ---- */

/* Checks a password given as wire bytes (NUL-terminated copy, wiped). */
static int check_password(ferry_ssh *s, const uint8_t *pw, size_t n)
{
    if (n > PASSWORD_MAX || memchr(pw, 0, n) != NULL || s->cfg.auth == NULL ||
        s->cfg.auth->password_check == NULL) {
        return FERRY_E_AUTH_DENIED;
    }
    char *copy = malloc(n + 1);
    if (copy == NULL) {
        return FERRY_E_ALLOC;
    }
    memcpy(copy, pw, n);
    copy[n] = '\0';
    int r = s->cfg.auth->password_check(s->cfg.auth_ctx, s->auth->user, copy);
    OPENSSL_cleanse(copy, n + 1);
    free(copy);
    return r == FERRY_OK ? FERRY_OK : FERRY_E_AUTH_DENIED;
}

static int on_password(ferry_ssh *s, ferry_rd *rd)
{
    int change = 0;
    const uint8_t *pw = NULL, *npw = NULL;
    size_t n = 0, nn = 0;
    int r = ferry_rd_bool(rd, &change);
    r = r == FERRY_OK ? ferry_rd_string(rd, &pw, &n) : r;
    if (r == FERRY_OK && change) {
        r = ferry_rd_string(rd, &npw, &nn);
    }
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r != FERRY_OK) {
        return ferry__fail(s, r, SSH_DISCONNECT_PROTOCOL_ERROR, "malformed password request");
    }
    if (change) {
        return method_failed(s, FERRY_AM_PASSWORD, "password", 1); /* not supported */
    }
    r = check_password(s, pw, n);
    if (r == FERRY_E_ALLOC) {
        return r;
    }
    return r == FERRY_OK ? method_passed(s, FERRY_AM_PASSWORD)
                         : method_failed(s, FERRY_AM_PASSWORD, "password", 1);
}

/* RFC 4256 s3.1-3.2: one question, answered like a password. */
static int on_kbdint(ferry_ssh *s, ferry_rd *rd)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    int r = ferry_rd_string(rd, &p, &n);                 /* language tag (deprecated) */
    r = r == FERRY_OK ? ferry_rd_string(rd, &p, &n) : r; /* submethods */
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r != FERRY_OK) {
        return ferry__fail(s, r, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "malformed keyboard-interactive request");
    }
    ferry_buf *b = NULL;
    r = ferry__pkt_start(s, SSH_MSG_USERAUTH_60, &b);
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "") : r; /* name */
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "") : r; /* instruction */
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "") : r; /* language */
    r = r == FERRY_OK ? ferry_buf_put_u32(b, 1) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "Password: ") : r;
    r = r == FERRY_OK ? ferry_buf_put_bool(b, 0) : r;
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    s->auth->kbd_pending = 1;
    return ferry__pkt_finish(s);
}

static int on_info_response(ferry_ssh *s, ferry_rd *rd)
{
    uint32_t num = 0;
    const uint8_t *resp = NULL;
    size_t n = 0;
    if (!s->auth->kbd_pending) {
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "unexpected keyboard-interactive response");
    }
    s->auth->kbd_pending = 0;
    int r = ferry_rd_u32(rd, &num);
    if (r == FERRY_OK && num == 1) {
        r = ferry_rd_string(rd, &resp, &n);
    }
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r != FERRY_OK) {
        return ferry__fail(s, r, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "malformed keyboard-interactive response");
    }
    r = num == 1 ? check_password(s, resp, n) : FERRY_E_AUTH_DENIED;
    if (r == FERRY_E_ALLOC) {
        return r;
    }
    return r == FERRY_OK ? method_passed(s, FERRY_AM_KBDINT)
                         : method_failed(s, FERRY_AM_KBDINT, "keyboard-interactive", 1);
}

/* ---- requests ---- */

static int on_service_request(ferry_ssh *s, ferry_rd *rd)
{
    char name[64];
    int r = ferry_rd_name(rd, name, sizeof(name));
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r != FERRY_OK || strcmp(name, "ssh-userauth") != 0 || s->auth->service_ok) {
        return ferry__fail(s, FERRY_E_UNSUPPORTED, SSH_DISCONNECT_SERVICE_NOT_AVAILABLE,
                           "service not available");
    }
    ferry_buf *b = NULL;
    r = ferry__pkt_start(s, SSH_MSG_SERVICE_ACCEPT, &b);
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "ssh-userauth") : r;
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    s->auth->service_ok = 1;
    return ferry__pkt_finish(s);
}

/* User name and service of a request; binds the user on the first one. */
static int request_header(ferry_ssh *s, ferry_rd *rd)
{
    ferry_auth_state *a = s->auth;
    char user[sizeof(a->user)];
    char service[32];
    int r = ferry_rd_name(rd, user, sizeof(user));
    if (r != FERRY_OK) {
        return ferry__fail(s, r, SSH_DISCONNECT_ILLEGAL_USER_NAME, "illegal user name");
    }
    r = ferry_rd_name(rd, service, sizeof(service));
    if (r != FERRY_OK || strcmp(service, "ssh-connection") != 0) {
        return ferry__fail(s, FERRY_E_UNSUPPORTED, SSH_DISCONNECT_SERVICE_NOT_AVAILABLE,
                           "service not available");
    }
    if (a->have_user && strcmp(user, a->user) != 0) {
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "change of user name not allowed");
    }
    memcpy(a->user, user, sizeof(a->user));
    if (!a->have_user && s->cfg.banner != NULL && s->cfg.banner[0] != '\0' &&
        (r = send_banner(s)) != FERRY_OK) {
        return r;
    }
    if (!a->have_user && s->cfg.auth != NULL && s->cfg.auth->methods_for != NULL) {
        /* the user's own AuthenticationMethods, before any method ran */
        const char *spec = s->cfg.auth->methods_for(s->cfg.auth_ctx, user);
        if (spec != NULL && parse_methods(a, spec) != FERRY_OK) {
            ferry_error("ssh: bad authentication methods \"%s\" for \"%s\"", spec, user);
            return ferry__fail(s, FERRY_E_INVALID_ARG,
                               SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
                               "no authentication methods available");
        }
    }
    a->have_user = 1;
    return FERRY_OK;
}

static int on_userauth_request(ferry_ssh *s, ferry_rd *rd)
{
    char method[32];
    if (!s->auth->service_ok) {
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "authentication request before service request");
    }
    int r = request_header(s, rd);
    if (r != FERRY_OK) {
        return r;
    }
    s->auth->kbd_pending = 0; /* RFC 4256 s3.4: a new request ends it */
    r = ferry_rd_name(rd, method, sizeof(method));
    if (r == FERRY_E_FORMAT) {
        return ferry__fail(s, r, SSH_DISCONNECT_PROTOCOL_ERROR, "malformed request");
    }
    int m = r == FERRY_OK ? method_from_name(method, strlen(method)) : -1;
    if (r == FERRY_OK && strcmp(method, "none") == 0) {
        return method_failed(s, FERRY_AM_NONE, "none", 0);
    }
    if (m < 0 || !method_allowed(s->auth, m)) {
        return method_failed(s, m, r == FERRY_OK ? method : "unknown", 1);
    }
    switch (m) {
    case FERRY_AM_PUBKEY:
        return on_publickey(s, rd);
    case FERRY_AM_PASSWORD:
        return on_password(s, rd);
    default:
        return on_kbdint(s, rd);
    }
}

int ferry__auth_server_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload)
{
    if (s->authenticated) {
        return FERRY_OK; /* RFC 4252 s5.1: ignored after success */
    }
    switch (msg) {
    case SSH_MSG_SERVICE_REQUEST:
        return on_service_request(s, payload);
    case SSH_MSG_USERAUTH_REQUEST:
        return on_userauth_request(s, payload);
    case SSH_MSG_USERAUTH_INFO_RESPONSE:
        return on_info_response(s, payload);
    default:
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "unexpected authentication message %u", (unsigned)msg);
    }
}
