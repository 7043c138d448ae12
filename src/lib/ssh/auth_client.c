/* auth_client.c: the client side of SSH user authentication (RFC 4252,
 * RFC 4256 keyboard-interactive).
 *
 * Order: SERVICE_REQUEST("ssh-userauth") and, in the same flight (the
 * server handles them in order; no round trip spent on SERVICE_ACCEPT),
 * "none" to learn the methods;
 * then, among the methods the server says can continue: publickey with
 * each identity (a query first, a signature only after PK_OK; signed at
 * once when the identity is sign_direct), password
 * (up to 3 prompts), keyboard-interactive (up to 3 rounds). A partial
 * success just updates the list and goes on with what is left.
 *
 * RSA identities sign with rsa-sha2-512, else rsa-sha2-256, whichever the
 * server lists in server-sig-algs (RFC 8332 s3.3); without ext-info,
 * ferry__kex_peer_accepts_sigalg assumes our defaults, so rsa-sha2-512
 * (SHA-1 "ssh-rsa" only when PubkeyAcceptedAlgorithms names it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/cert.h"
#include "ssh/auth_int.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

/* Password prompts and keyboard-interactive rounds: cfg.password_prompts
 * (NumberOfPasswordPrompts), 3 by default. */
#define MAX_PW_TRIES    (s->cfg.password_prompts != 0 ? s->cfg.password_prompts : 3u)
#define MAX_KBD_TRIES   MAX_PW_TRIES
#define KBD_MAX_PROMPTS 64u
#define KBD_TEXT_MAX    1024u /* name, instruction, prompt */
#define ANSWER_MAX      1024u

enum {
    CS_IDLE = 0,
    CS_WAIT_ACCEPT, /* SERVICE_REQUEST sent */
    CS_WAIT_NONE,   /* "none" sent */
    CS_WAIT_PK_OK,  /* publickey query sent */
    CS_WAIT_PK,     /* signed publickey request sent */
    CS_WAIT_PW,     /* password sent */
    CS_WAIT_KBD,    /* keyboard-interactive started or answered */
    CS_DONE,
};

static const char *user_of(const ferry_ssh *s)
{
    return s->cfg.user != NULL ? s->cfg.user : "";
}

/* Starts USERAUTH_REQUEST(user, "ssh-connection", method). */
static int start_request(ferry_ssh *s, const char *method, ferry_buf **b)
{
    int r = ferry__pkt_start(s, SSH_MSG_USERAUTH_REQUEST, b);
    r = r == FERRY_OK ? ferry_buf_put_cstring(*b, user_of(s)) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(*b, "ssh-connection") : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(*b, method) : r;
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
    }
    return r;
}

static int finish(ferry_ssh *s, int r)
{
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    return ferry__pkt_finish(s);
}

static int pk_behind_none(ferry_ssh *s);

int ferry__auth_client_start(ferry_ssh *s)
{
    ferry_buf *b = NULL;
    if (s->cfg.user == NULL || strlen(s->cfg.user) > 255) {
        return ferry__fail(s, FERRY_E_INVALID_ARG, SSH_DISCONNECT_BY_APPLICATION,
                           "no valid user name");
    }
    int r = ferry__pkt_start(s, SSH_MSG_SERVICE_REQUEST, &b);
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "ssh-userauth") : r;
    if ((r = finish(s, r)) == FERRY_OK) {
        s->auth->cstate = CS_WAIT_ACCEPT;
    }
    if (r == FERRY_OK && (r = start_request(s, "none", &b)) == FERRY_OK) {
        r = ferry__pkt_finish(s);
    }
    return r == FERRY_OK ? pk_behind_none(s) : r;
}

/* ---- publickey ---- */

/* Whether PubkeyAcceptedAlgorithms (cfg.pubkey_algs; NULL: the defaults,
 * which leave out SHA-1 "ssh-rsa") lets an identity be offered under
 * `alg`, or for a certificate under alg's certificate form. */
static int alg_allowed(const ferry_ssh *s, const char *alg, int cert)
{
    char name[96];
    if (s->cfg.pubkey_algs == NULL) {
        return strcmp(alg, "ssh-rsa") != 0;
    }
    if (cert) {
        if (ferry_cert_alg(alg, name, sizeof(name)) != FERRY_OK) {
            return 0;
        }
        alg = name;
    }
    return ferry_names_contains(s->cfg.pubkey_algs, alg, strlen(alg));
}

/* The signature algorithm for a key (of a certificate when `cert`): its
 * own, or for RSA the first of rsa-sha2-512, rsa-sha2-256 and ssh-rsa that
 * is allowed and that the server accepts (server-sig-algs; without it,
 * ours; "ssh-rsa" only when allowed by name, and then also to a server
 * that sent no server-sig-algs, as OpenSSH's ssh). NULL if none. */
static const char *pick_sigalg(const ferry_ssh *s, const ferry_key *k, int cert)
{
    static const char *const rsa[] = {"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"};
    if (ferry_key_type(k) != FERRY_KEY_RSA) {
        const char *alg = ferry_key_type_name(k);
        return alg_allowed(s, alg, cert) ? alg : NULL;
    }
    for (size_t i = 0; i < sizeof(rsa) / sizeof(rsa[0]); i++) {
        int legacy = strcmp(rsa[i], "ssh-rsa") == 0 && s->server_sig_algs == NULL;
        if (alg_allowed(s, rsa[i], cert) && (legacy || ferry__kex_peer_accepts_sigalg(s, rsa[i]))) {
            return rsa[i];
        }
    }
    return NULL;
}

/* The algorithm an identity is offered under: the key's signature
 * algorithm, or for a certificate its certificate form
 * ("rsa-sha2-512-cert-v01@openssh.com"). */
static int offer_alg(const ferry_ssh *s, const ferry_identity *id, char *out, size_t outsz)
{
    const char *alg =
        id->pub != NULL && id->sign != NULL ? pick_sigalg(s, id->pub, id->cert != NULL) : NULL;
    if (alg == NULL) {
        return FERRY_E_KEY_TYPE;
    }
    if (id->cert != NULL) {
        return ferry_cert_alg(alg, out, outsz);
    }
    return snprintf(out, outsz, "%s", alg) < (int)outsz ? FERRY_OK : FERRY_E_TOO_LARGE;
}

/* The public key blob an identity is offered with: its certificate, or
 * the key's. */
static int put_id_blob(const ferry_identity *id, ferry_buf *b)
{
    return id->cert != NULL ? ferry_buf_put(b, id->cert->blob, id->cert->len)
                            : ferry_key_to_blob(id->pub, b);
}

static int send_pk_query(ferry_ssh *s, const ferry_identity *id, const char *alg)
{
    ferry_buf *b = NULL;
    int r = start_request(s, "publickey", &b);
    if (r != FERRY_OK) {
        return r;
    }
    r = ferry_buf_put_bool(b, 0);
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, alg) : r;
    size_t at = ferry_buf_len(b);
    r = r == FERRY_OK ? ferry_buf_put_u32(b, 0) : r;
    r = r == FERRY_OK ? put_id_blob(id, b) : r;
    r = r == FERRY_OK ? ferry_buf_poke_u32(b, at, (uint32_t)(ferry_buf_len(b) - at - 4)) : r;
    return finish(s, r);
}

/* Signs the RFC 4252 s7 data with the identity of the query in flight and
 * sends the signed request. */
static int send_pk_signed(ferry_ssh *s)
{
    ferry_auth_state *a = s->auth;
    const ferry_identity *id = &s->cfg.identities[a->cur_ident];
    ferry_buf *blob = ferry_buf_new(0), *data = ferry_buf_new(0), *sig = ferry_buf_new(0);
    ferry_buf *b = NULL;
    int r = FERRY_E_ALLOC;
    if (blob == NULL || data == NULL || sig == NULL) {
        goto out;
    }
    /* a certificate's signature is the key's (PROTOCOL.certkeys) */
    char sigalg[sizeof(a->cur_alg)];
    snprintf(sigalg, sizeof(sigalg), "%s", a->cur_alg);
    r = id->cert != NULL ? ferry_cert_plain_alg(a->cur_alg, sigalg, sizeof(sigalg)) : FERRY_OK;
    r = r == FERRY_OK ? put_id_blob(id, blob) : r;
    r = r == FERRY_OK
            ? ferry__auth_pubkey_signed_data(s, user_of(s), a->cur_alg, ferry_buf_data(blob),
                                             ferry_buf_len(blob), data)
            : r;
    r = r == FERRY_OK
            ? id->sign(id->ctx, id->pub, sigalg, ferry_buf_data(data), ferry_buf_len(data), sig)
            : r;
    if (r != FERRY_OK) {
        ferry_info("ssh: signing with %s failed: %s", id->label != NULL ? id->label : "key",
                   ferry_strerror(r));
        goto out;
    }
    /* The request is the signed data without the session id, plus the
     * signature (RFC 4252 s7). */
    size_t skip = 4 + s->session_id_len + 1;
    r = ferry__pkt_start(s, SSH_MSG_USERAUTH_REQUEST, &b);
    r = r == FERRY_OK ? ferry_buf_put(b, ferry_buf_data(data) + skip, ferry_buf_len(data) - skip)
                      : r;
    r = r == FERRY_OK ? ferry_buf_put_stringb(b, sig) : r;
    r = finish(s, r);
out:
    ferry_buf_free(blob);
    ferry_buf_free(data);
    ferry_buf_free(sig);
    return r;
}

static void offering(const ferry_ssh *s)
{
    const ferry_identity *id = &s->cfg.identities[s->auth->cur_ident];
    ferry_debug("ssh: offering %s key %s", s->auth->cur_alg, id->label != NULL ? id->label : "");
}

/* Makes the next usable identity current; 0 when none is left. */
static int next_identity(ferry_ssh *s)
{
    ferry_auth_state *a = s->auth;
    while (a->next_ident < s->cfg.n_identities) {
        size_t i = a->next_ident++;
        if (offer_alg(s, &s->cfg.identities[i], a->cur_alg, sizeof(a->cur_alg)) == FERRY_OK) {
            a->cur_ident = i;
            return 1;
        }
    }
    return 0;
}

/* Sends a query (or, sign_direct, the signed request) for the next usable
 * identity; *sent 1 if one was sent. */
static int try_next_identity(ferry_ssh *s, int *sent)
{
    ferry_auth_state *a = s->auth;
    *sent = 0;
    while (next_identity(s)) {
        const ferry_identity *id = &s->cfg.identities[a->cur_ident];
        offering(s);
        if (!id->sign_direct) {
            *sent = 1;
            a->cstate = CS_WAIT_PK_OK;
            return send_pk_query(s, id, a->cur_alg);
        }
        int r = send_pk_signed(s);
        if (r == FERRY_OK || s->closed) {
            *sent = r == FERRY_OK;
            a->cstate = CS_WAIT_PK;
            return r;
        }
        /* this identity cannot sign: try the next */
    }
    return FERRY_OK;
}

/* The methods we speak, in the default order. */
#define AUTH_METHODS "publickey,password,keyboard-interactive"

static const char *auth_order(const ferry_ssh *s)
{
    return s->cfg.auth_order != NULL ? s->cfg.auth_order : AUTH_METHODS;
}

/* Whether publickey comes first among the methods we know in the order. */
static int publickey_first(const ferry_ssh *s)
{
    for (const char *cur = auth_order(s), *m = NULL; *cur != '\0';) {
        size_t n = ferry_names_next(&cur, &m);
        if (ferry_names_contains(AUTH_METHODS, m, n)) {
            return n == strlen("publickey") && memcmp(m, "publickey", n) == 0;
        }
    }
    return 0;
}

/* Right behind "none": the first identity signed, when it is sign_direct.
 * Not RSA: the server's ext-info (server-sig-algs), which picks the RSA
 * signature algorithm, has not arrived yet. The server answers "none"
 * first (on_failure then waits for this one). */
static int pk_behind_none(ferry_ssh *s)
{
    ferry_auth_state *a = s->auth;
    if (!s->cfg.try_pubkey || !publickey_first(s) || !next_identity(s)) {
        return FERRY_OK;
    }
    const ferry_identity *id = &s->cfg.identities[a->cur_ident];
    if (!id->sign_direct || ferry_key_type(id->pub) == FERRY_KEY_RSA) {
        a->next_ident = a->cur_ident; /* offered later, in the usual order */
        return FERRY_OK;
    }
    offering(s);
    int r = send_pk_signed(s);
    a->pk_behind_none = r == FERRY_OK;
    return r == FERRY_OK || s->closed ? r : FERRY_OK; /* could not sign: the usual order */
}

/* ---- password and keyboard-interactive ---- */

static int try_password(ferry_ssh *s, int *sent)
{
    char prompt[300];
    char *pw = NULL;
    ferry_buf *b = NULL;
    int r = FERRY_OK;
    *sent = 0;
    if ((pw = calloc(1, ANSWER_MAX)) == NULL) {
        return FERRY_E_ALLOC;
    }
    s->auth->pw_tries++;
    if (s->cfg.host != NULL) { /* OpenSSH's form */
        snprintf(prompt, sizeof(prompt), "%s@%s's password: ", user_of(s), s->cfg.host);
    } else {
        snprintf(prompt, sizeof(prompt), "%s's password: ", user_of(s));
    }
    if (s->cfg.prompt(s->cfg.prompt_ctx, prompt, 0, pw, ANSWER_MAX) != FERRY_OK) {
        s->auth->pw_tries = MAX_PW_TRIES; /* the user gave up */
        goto out;
    }
    pw[ANSWER_MAX - 1] = '\0';
    if ((r = start_request(s, "password", &b)) == FERRY_OK) {
        r = ferry_buf_put_bool(b, 0);
        r = r == FERRY_OK ? ferry_buf_put_cstring(b, pw) : r;
        r = finish(s, r);
        *sent = r == FERRY_OK;
    }
out:
    OPENSSL_cleanse(pw, ANSWER_MAX);
    free(pw);
    return r;
}

static int try_kbdint(ferry_ssh *s)
{
    ferry_buf *b = NULL;
    s->auth->kbd_tries++;
    int r = start_request(s, "keyboard-interactive", &b);
    if (r != FERRY_OK) {
        return r;
    }
    r = ferry_buf_put_cstring(b, "");                     /* language */
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "") : r; /* submethods */
    return finish(s, r);
}

static int can(const ferry_ssh *s, const char *method)
{
    return ferry_names_contains(s->auth->methods, method, strlen(method));
}

/* One method's next attempt, if it has one: FERRY_OK with *sent set when
 * something went out. */
static int try_method(ferry_ssh *s, const char *m, size_t n, int *sent)
{
    ferry_auth_state *a = s->auth;
    int r = FERRY_OK;
#define IS(name) (n == strlen(name) && memcmp(m, name, n) == 0 && can(s, name))
    if (IS("publickey") && s->cfg.try_pubkey) {
        return try_next_identity(s, sent);
    }
    while (IS("password") && s->cfg.try_password && s->cfg.prompt != NULL &&
           a->pw_tries < MAX_PW_TRIES) {
        if ((r = try_password(s, sent)) != FERRY_OK || *sent) {
            a->cstate = CS_WAIT_PW;
            return r;
        }
    }
    if (IS("keyboard-interactive") && s->cfg.try_kbdint && a->kbd_tries < MAX_KBD_TRIES &&
        s->cfg.prompt != NULL) {
        a->cstate = CS_WAIT_KBD;
        *sent = 1;
        return try_kbdint(s);
    }
#undef IS
    return r;
}

/* Sends the next attempt (the methods in cfg.auth_order, each until it
 * has nothing left), or gives up when nothing is left. */
static int next_method(ferry_ssh *s)
{
    ferry_auth_state *a = s->auth;
    for (const char *cur = auth_order(s), *m = NULL; *cur != '\0';) {
        size_t n = ferry_names_next(&cur, &m);
        int sent = 0;
        int r = try_method(s, m, n, &sent);
        if (r != FERRY_OK || sent) {
            return r;
        }
    }
    a->cstate = CS_DONE;
    return ferry__fail(s, FERRY_E_AUTH_DENIED, SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
                       "Permission denied (%s).", a->methods);
}

/* ---- server messages ---- */

static int on_service_accept(ferry_ssh *s, ferry_rd *rd)
{
    char name[32];
    int r = ferry_rd_name(rd, name, sizeof(name));
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (s->auth->cstate != CS_WAIT_ACCEPT || r != FERRY_OK || strcmp(name, "ssh-userauth") != 0) {
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "unexpected SERVICE_ACCEPT");
    }
    s->auth->cstate = CS_WAIT_NONE; /* "none" is on its way already */
    return FERRY_OK;
}

static int waiting(const ferry_auth_state *a)
{
    return a->cstate >= CS_WAIT_NONE && a->cstate <= CS_WAIT_KBD;
}

static int on_failure(ferry_ssh *s, ferry_rd *rd)
{
    ferry_auth_state *a = s->auth;
    const uint8_t *list = NULL;
    size_t n = 0;
    int partial = 0;
    int r = ferry_rd_string(rd, &list, &n);
    r = r == FERRY_OK ? ferry_rd_bool(rd, &partial) : r;
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r != FERRY_OK || !waiting(a) || n >= sizeof(a->methods) || memchr(list, 0, n) != NULL) {
        return ferry__fail(s, r != FERRY_OK ? r : FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "unexpected or malformed USERAUTH_FAILURE");
    }
    memcpy(a->methods, list, n);
    a->methods[n] = '\0';
    if (partial) {
        ferry_info("ssh: partial success; can continue with: %s", a->methods);
    }
    if (a->cstate == CS_WAIT_NONE && a->pk_behind_none) {
        a->cstate = CS_WAIT_PK; /* the signed request's answer comes next */
        return FERRY_OK;
    }
    return next_method(s);
}

static int on_success(ferry_ssh *s, ferry_rd *rd)
{
    int st = s->auth->cstate;
    /* "none" may succeed (RFC 4252 s5.2); a mere publickey query may not. */
    if (ferry_rd_end(rd) != FERRY_OK || !waiting(s->auth) || st == CS_WAIT_PK_OK) {
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "unexpected USERAUTH_SUCCESS");
    }
    s->stray_none_failure = st == CS_WAIT_NONE && s->auth->pk_behind_none;
    snprintf(s->auth_method, sizeof(s->auth_method), "%s",
             st == CS_WAIT_PW                            ? "password"
             : st == CS_WAIT_KBD                         ? "keyboard-interactive"
             : st == CS_WAIT_PK || s->stray_none_failure ? "publickey"
                                                         : "none");
    s->auth->cstate = CS_DONE;
    snprintf(s->user, sizeof(s->user), "%s", user_of(s));
    s->authenticated = 1;
    s->state = FERRY_ST_OPEN;
    int r = ferry__comp_auth_done(s); /* zlib@openssh.com from here on */
    return r == FERRY_OK ? ferry__conn_start(s) : r;
}

static int on_banner(ferry_ssh *s, ferry_rd *rd)
{
    const uint8_t *msg = NULL, *lang = NULL;
    size_t n = 0, ln = 0;
    char text[2048];
    int r = ferry_rd_string(rd, &msg, &n);
    r = r == FERRY_OK ? ferry_rd_string(rd, &lang, &ln) : r;
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r != FERRY_OK) {
        return ferry__fail(s, r, SSH_DISCONNECT_PROTOCOL_ERROR, "malformed USERAUTH_BANNER");
    }
    ferry__auth_sanitize(text, sizeof(text), msg, n, 1);
    if (s->cfg.on_banner != NULL) {
        s->cfg.on_banner(s->cfg.prompt_ctx, text);
    } else {
        ferry_info("%s", text);
    }
    return FERRY_OK;
}

static int on_pk_ok(ferry_ssh *s, ferry_rd *rd)
{
    ferry_auth_state *a = s->auth;
    char alg[64];
    const uint8_t *blob = NULL;
    size_t n = 0;
    ferry_buf *ours = ferry_buf_new(0);
    int r = ours == NULL ? FERRY_E_ALLOC : ferry_rd_name(rd, alg, sizeof(alg));
    r = r == FERRY_OK ? ferry_rd_string(rd, &blob, &n) : r;
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    r = r == FERRY_OK ? put_id_blob(&s->cfg.identities[a->cur_ident], ours) : r;
    if (r == FERRY_OK && (strcmp(alg, a->cur_alg) != 0 || n != ferry_buf_len(ours) ||
                          memcmp(blob, ferry_buf_data(ours), n) != 0)) {
        r = FERRY_E_PROTOCOL;
    }
    ferry_buf_free(ours);
    if (r != FERRY_OK) {
        return ferry__fail(s, r, SSH_DISCONNECT_PROTOCOL_ERROR, "PK_OK does not match the query");
    }
    a->cstate = CS_WAIT_PK;
    r = send_pk_signed(s);
    if (r != FERRY_OK && !s->closed) {
        return next_method(s); /* this identity cannot sign: try the next */
    }
    return r;
}

/* Asks one keyboard-interactive prompt and appends the answer. */
static int kbd_answer(ferry_ssh *s, ferry_rd *rd, ferry_buf *answers)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    int echo = 0;
    char prompt[KBD_TEXT_MAX + 1];
    char *ans = NULL;
    int r = ferry_rd_string(rd, &p, &n);
    r = r == FERRY_OK ? ferry_rd_bool(rd, &echo) : r;
    if (r != FERRY_OK || n > KBD_TEXT_MAX) {
        return r != FERRY_OK ? r : FERRY_E_TOO_LARGE;
    }
    if ((ans = calloc(1, ANSWER_MAX)) == NULL) {
        return FERRY_E_ALLOC;
    }
    ferry__auth_sanitize(prompt, sizeof(prompt), p, n, 1);
    r = s->cfg.prompt(s->cfg.prompt_ctx, prompt, echo, ans, ANSWER_MAX);
    if (r == FERRY_OK) {
        ans[ANSWER_MAX - 1] = '\0';
        r = ferry_buf_put_cstring(answers, ans);
    } else {
        r = FERRY_E_AUTH_DENIED;
    }
    OPENSSL_cleanse(ans, ANSWER_MAX);
    free(ans);
    return r;
}

/* Shows the name and instruction of an INFO_REQUEST. */
static int kbd_header(ferry_rd *rd)
{
    const uint8_t *name = NULL, *instr = NULL, *lang = NULL;
    size_t nn = 0, ni = 0, nl = 0;
    char text[KBD_TEXT_MAX + 1];
    int r = ferry_rd_string(rd, &name, &nn);
    r = r == FERRY_OK ? ferry_rd_string(rd, &instr, &ni) : r;
    r = r == FERRY_OK ? ferry_rd_string(rd, &lang, &nl) : r;
    if (r != FERRY_OK) {
        return r;
    }
    if (nn > KBD_TEXT_MAX || ni > KBD_TEXT_MAX) {
        return FERRY_E_TOO_LARGE;
    }
    if (nn > 0) {
        ferry__auth_sanitize(text, sizeof(text), name, nn, 1);
        ferry_info("%s", text);
    }
    if (ni > 0) {
        ferry__auth_sanitize(text, sizeof(text), instr, ni, 1);
        ferry_info("%s", text);
    }
    return FERRY_OK;
}

/* RFC 4256 s3.2-3.4: INFO_REQUEST -> prompts -> INFO_RESPONSE. */
static int on_info_request(ferry_ssh *s, ferry_rd *rd)
{
    uint32_t num = 0;
    ferry_buf *answers = ferry_buf_new(64u * ANSWER_MAX);
    ferry_buf *b = NULL;
    int r = answers == NULL ? FERRY_E_ALLOC : kbd_header(rd);
    r = r == FERRY_OK ? ferry_rd_u32(rd, &num) : r;
    if (r == FERRY_OK && num > KBD_MAX_PROMPTS) {
        r = FERRY_E_TOO_LARGE;
    }
    if (answers != NULL) {
        ferry_buf_set_secret(answers);
    }
    for (uint32_t i = 0; r == FERRY_OK && i < num; i++) {
        r = kbd_answer(s, rd, answers);
    }
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r == FERRY_OK) {
        r = ferry__pkt_start(s, SSH_MSG_USERAUTH_INFO_RESPONSE, &b);
        r = r == FERRY_OK ? ferry_buf_put_u32(b, num) : r;
        r = r == FERRY_OK ? ferry_buf_put(b, ferry_buf_data(answers), ferry_buf_len(answers)) : r;
        r = finish(s, r);
    } else if (r == FERRY_E_AUTH_DENIED) {
        s->auth->kbd_tries = MAX_KBD_TRIES; /* the user gave up */
        r = next_method(s);
    } else if (!s->closed) {
        r = ferry__fail(s, r, SSH_DISCONNECT_PROTOCOL_ERROR, "malformed INFO_REQUEST");
    }
    ferry_buf_free(answers);
    return r;
}

/* PASSWD_CHANGEREQ (RFC 4252 s8): not supported; counts as a failure. */
static int on_passwd_changereq(ferry_ssh *s)
{
    ferry_info("ssh: the server asks for a password change; not supported");
    return next_method(s);
}

/* Message 60 means PK_OK, PASSWD_CHANGEREQ or INFO_REQUEST depending on
 * the request in flight (RFC 4252 s7-8, RFC 4256 s3.2). */
static int on_60(ferry_ssh *s, ferry_rd *rd)
{
    switch (s->auth->cstate) {
    case CS_WAIT_PK_OK:
        return on_pk_ok(s, rd);
    case CS_WAIT_PW:
        return on_passwd_changereq(s);
    case CS_WAIT_KBD:
        return on_info_request(s, rd);
    default:
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "unexpected message 60");
    }
}

int ferry__auth_client_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload)
{
    if (s->authenticated) {
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "authentication message %u after success", (unsigned)msg);
    }
    switch (msg) {
    case SSH_MSG_SERVICE_ACCEPT:
        return on_service_accept(s, payload);
    case SSH_MSG_USERAUTH_FAILURE:
        return on_failure(s, payload);
    case SSH_MSG_USERAUTH_SUCCESS:
        return on_success(s, payload);
    case SSH_MSG_USERAUTH_BANNER:
        return on_banner(s, payload);
    case SSH_MSG_USERAUTH_60:
        return on_60(s, payload);
    default:
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "unexpected authentication message %u", (unsigned)msg);
    }
}
