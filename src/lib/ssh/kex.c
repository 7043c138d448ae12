/* kex.c: the key-exchange state machine (RFC 4253 s7-9) for both roles.
 *
 * KEXINIT negotiation (s7.1), the methods of RFC 8731 / RFC 5656 (ECDH:
 * 30 INIT string Q_C, 31 REPLY string K_S, string Q_S, string sig),
 * RFC 4253 s8 / RFC 8268 (DH: 30 mpint e, 31 K_S, mpint f, sig) and
 * RFC 4419 (GEX: 34 REQUEST, 31 GROUP, 32 INIT, 33 REPLY), the exchange
 * hash, key derivation (s7.2), NEWKEYS, strict kex (OpenSSH PROTOCOL 1.9),
 * ext-info (RFC 8308) and rekeying. The arithmetic lives in
 * crypto/kexalg.c; host-key signatures in crypto/key.c.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "crypto/cert.h"
#include "ssh/ssh_int.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

#define NAMELIST_MAX          (64u * 1024) /* one name-list from the peer */
#define NAME_MAX_LEN          64u          /* RFC 4251 s6 */
#define PEER_VALUE_MAX        1024u        /* Q_C / Q_S strings (P-521: 133 bytes) */
#define EXT_INFO_MAX          64u          /* extensions in one EXT_INFO */
#define GEX_MIN               2048u
#define GEX_PREF              3072u
#define GEX_MAX               8192u
#define REKEY_BYTES_MAX       (1ull << 30) /* also keeps AES-GCM/CTR far from their block limits */
#define REKEY_PACKETS_MAX     (1ull << 31) /* sequence numbers must not wrap within one key */
#define REKEY_SECONDS_DEFAULT 3600u
#define STRICT_C              "kex-strict-c-v00@openssh.com"
#define STRICT_S              "kex-strict-s-v00@openssh.com"

enum {
    L_KEX,
    L_HOSTKEY,
    L_ENC_CS,
    L_ENC_SC,
    L_MAC_CS,
    L_MAC_SC,
    L_COMP_CS,
    L_COMP_SC,
    L_COUNT = 10
};

typedef struct kexinit_msg {
    char *list[L_COUNT];
    int follows;
} kexinit_msg;

struct ferry_kex_state {
    ferry_buf *i_mine, *i_peer; /* KEXINIT payloads, message byte included */
    int sent_kexinit, got_kexinit, sent_newkeys, got_newkeys;
    uint8_t expect;                 /* next method message we accept (21 for NEWKEYS) */
    int ignore_next;                /* the peer's first_kex_packet_follows guess was wrong */
    uint32_t kexinit_seq;           /* sequence number our KEXINIT went out with */
    const ferry_kex_alg *guess_alg; /* client: method of the guessed KEX_30 sent */
    int guess_ok;
    const ferry_kex_alg *alg;
    const ferry_cipher_alg *enc[2]; /* [0] c->s, [1] s->c */
    const ferry_mac_alg *mac[2];
    ferry_kex_eph *eph;
    ferry_buf *eph_pub; /* our public value in its wire form */
    BIGNUM *p, *g;
    uint32_t gmin, gn, gmax;
    ferry_pcrypt *next_tx, *next_rx;
};

static int is_client(const ferry_ssh *s)
{
    return s->cfg.role == FERRY_ROLE_CLIENT;
}

/* ---- state ---- */

static void kex_reset(ferry_kex_state *k)
{
    ferry_kex_eph_free(k->eph);
    BN_clear_free(k->p);
    BN_clear_free(k->g);
    ferry_pcrypt_free(k->next_tx);
    ferry_pcrypt_free(k->next_rx);
    ferry_buf_reset(k->i_mine);
    ferry_buf_reset(k->i_peer);
    ferry_buf_reset(k->eph_pub);
    ferry_buf *a = k->i_mine, *b = k->i_peer, *c = k->eph_pub;
    memset(k, 0, sizeof(*k));
    k->i_mine = a;
    k->i_peer = b;
    k->eph_pub = c;
}

int ferry__kex_init(ferry_ssh *s)
{
    ferry_kex_state *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        return FERRY_E_ALLOC;
    }
    s->kex = k;
    k->i_mine = ferry_buf_new(FERRY_SSH_MAX_PACKET);
    k->i_peer = ferry_buf_new(FERRY_SSH_MAX_PACKET);
    k->eph_pub = ferry_buf_new(4096);
    if (k->i_mine == NULL || k->i_peer == NULL || k->eph_pub == NULL) {
        return FERRY_E_ALLOC;
    }
    return FERRY_OK;
}

void ferry__kex_free(ferry_ssh *s)
{
    ferry_kex_state *k = s->kex;
    if (k == NULL) {
        return;
    }
    kex_reset(k);
    ferry_buf_free(k->i_mine);
    ferry_buf_free(k->i_peer);
    ferry_buf_free(k->eph_pub);
    free(k);
    s->kex = NULL;
}

/* ---- name-lists ---- */

/* The next comma-separated name of *cur (may be empty); advances *cur. */

/* Non-zero if both lists start with the same name. */
static int same_first(const char *a, const char *b)
{
    const char *ca = a, *cb = b, *na = NULL, *nb = NULL;
    size_t la = ferry_names_next(&ca, &na);
    size_t lb = ferry_names_next(&cb, &nb);
    return la > 0 && la == lb && memcmp(na, nb, la) == 0;
}

static int kex_ok(const char *n)
{
    return ferry_kexalg_by_name(n) != NULL;
}
/* A host key algorithm, or a certificate's ("...-cert-v01@openssh.com",
 * the plain one known). */
static int hostkey_ok(const char *n)
{
    char plain[64];
    if (ferry_cert_suffix(n, strlen(n)) != 0) {
        return ferry_cert_plain_alg(n, plain, sizeof(plain)) == FERRY_OK &&
               ferry_key_type_from_name(plain) != FERRY_KEY_UNKNOWN;
    }
    return ferry_key_type_from_name(n) != FERRY_KEY_UNKNOWN;
}

/* The plain signature algorithm of the negotiated host key algorithm. */
static const char *hostkey_sigalg(const ferry_ssh *s, char *buf, size_t bufsz)
{
    return ferry_cert_plain_alg(s->alg_hostkey, buf, bufsz) == FERRY_OK ? buf : s->alg_hostkey;
}
static int cipher_ok(const char *n)
{
    return ferry_cipher_by_name(n) != NULL;
}
static int mac_ok(const char *n)
{
    return ferry_mac_by_name(n) != NULL;
}
static int comp_ok(const char *n)
{
    return strcmp(n, "none") == 0 || ferry__comp_known(n);
}

/* RFC 4253 s7.1: the first name of the client's list that the server also
 * lists and that we implement. Iterates the client's list; one side is
 * always our own short list, so a peer's 10,000-name list costs little. */
static int pick(const char *client, const char *server, int (*ok)(const char *), char *out,
                size_t outsz)
{
    const char *cur = client;
    while (*cur != '\0') {
        const char *name = NULL;
        size_t n = ferry_names_next(&cur, &name);
        if (n == 0 || n > NAME_MAX_LEN || n >= outsz || !ferry_names_contains(server, name, n)) {
            continue;
        }
        memcpy(out, name, n);
        out[n] = '\0';
        if (ok(out)) {
            return FERRY_OK;
        }
    }
    out[0] = '\0';
    return FERRY_E_NO_ALG_MATCH;
}

static void kexinit_msg_free(kexinit_msg *m)
{
    for (int i = 0; i < L_COUNT; i++) {
        free(m->list[i]);
        m->list[i] = NULL;
    }
}

/* Parses a KEXINIT payload (message byte included). */
static int parse_kexinit(const ferry_buf *b, kexinit_msg *m)
{
    ferry_rd rd;
    uint32_t reserved = 0;
    ferry_rd_from_buf(&rd, b);
    int r = ferry_rd_skip(&rd, 1 + 16);
    for (int i = 0; i < L_COUNT && r == FERRY_OK; i++) {
        r = ferry_rd_cstring(&rd, NAMELIST_MAX, &m->list[i], NULL);
    }
    if (r == FERRY_OK) {
        r = ferry_rd_bool(&rd, &m->follows);
    }
    if (r == FERRY_OK) {
        r = ferry_rd_u32(&rd, &reserved);
    }
    if (r == FERRY_OK) {
        r = ferry_rd_end(&rd);
    }
    if (r != FERRY_OK) {
        kexinit_msg_free(m);
    }
    return r;
}

/* ---- building KEXINIT ---- */

static int put_kex_list(ferry_ssh *s, ferry_buf *b, ferry_buf *tmp)
{
    const char *base = s->cfg.kex_algs;
    if (base == NULL) {
        base = is_client(s) ? ferry_kexalg_default_client() : ferry_kexalg_default_server();
    }
    int r = ferry_buf_put(tmp, base, strlen(base));
    if (r == FERRY_OK && s->kex_count == 0 && is_client(s)) {
        r = ferry_buf_put(tmp, ",ext-info-c", 11); /* the first KEXINIT only (RFC 8308 s2.1) */
    }
    if (r == FERRY_OK && (s->kex_count == 0 || s->strict_kex)) {
        /* Strict kex is decided by the first KEXINITs and the marker means
         * nothing later, but OpenSSH repeats it at every rekey and some
         * peers (phpseclib 1.0) reset their sequence numbers after a
         * rekey only when it is there: repeated once agreed, as OpenSSH
         * does. */
        const char *strict = is_client(s) ? "," STRICT_C : "," STRICT_S;
        r = ferry_buf_put(tmp, strict, strlen(strict));
    }
    return r == FERRY_OK ? ferry_buf_put_stringb(b, tmp) : r;
}

/* Server: the private host key that makes `sigalg`'s signatures, with a
 * certificate when `cert` is set (and then *certp); NULL if none. */
static const ferry_key *host_key_for(const ferry_ssh *s, const char *sigalg, int cert,
                                     const ferry_cert **certp)
{
    for (size_t i = 0; i < s->cfg.n_host_keys; i++) {
        const ferry_key *k = s->cfg.host_keys[i];
        if (!ferry_key_sigalg_ok(k, sigalg)) {
            continue;
        }
        if (!cert) {
            return k;
        }
        for (size_t j = 0; j < s->cfg.n_host_certs; j++) {
            if (ferry_key_equal_public(s->cfg.host_certs[j]->key, k)) {
                *certp = s->cfg.host_certs[j];
                return k;
            }
        }
    }
    return NULL;
}

/* Server: the signature algorithms our host keys can make, in preference
 * order; those of our certificates first, in the same order. */
static int put_hostkey_list(ferry_ssh *s, ferry_buf *b, ferry_buf *tmp)
{
    const char *pref = s->cfg.hostkey_algs != NULL ? s->cfg.hostkey_algs : ferry_sigalg_default();
    if (is_client(s)) {
        return ferry_buf_put_cstring(b, pref);
    }
    int r = FERRY_OK;
    for (int cert = s->cfg.n_host_certs > 0; cert >= 0 && r == FERRY_OK; cert--) {
        const char *cur = pref;
        while (*cur != '\0' && r == FERRY_OK) {
            char name[NAME_MAX_LEN + 1], full[NAME_MAX_LEN + 32];
            const ferry_cert *c = NULL;
            size_t n = ferry_names_next_copy(&cur, name, sizeof(name));
            if (n == 0 || ferry_cert_suffix(name, n) != 0) {
                continue;
            }
            snprintf(full, sizeof(full), "%s", name);
            if (host_key_for(s, name, cert, &c) == NULL ||
                (cert && ferry_cert_alg(name, full, sizeof(full)) != FERRY_OK)) {
                continue;
            }
            r = ferry_buf_len(tmp) > 0 ? ferry_buf_put_u8(tmp, ',') : FERRY_OK;
            r = r == FERRY_OK ? ferry_buf_put(tmp, full, strlen(full)) : r;
        }
    }
    if (r == FERRY_OK && ferry_buf_len(tmp) == 0) {
        return FERRY_E_NO_ALG_MATCH;
    }
    return r == FERRY_OK ? ferry_buf_put_stringb(b, tmp) : r;
}

static int build_kexinit(ferry_ssh *s, ferry_buf *b, int follows)
{
    uint8_t cookie[16];
    const char *enc = s->cfg.ciphers != NULL ? s->cfg.ciphers : ferry_cipher_default();
    const char *mac = s->cfg.macs != NULL ? s->cfg.macs : ferry_mac_default();
    ferry_buf *tmp = ferry_buf_new(NAMELIST_MAX);
    int r = tmp == NULL ? FERRY_E_ALLOC : FERRY_OK;
    if (r == FERRY_OK && RAND_bytes(cookie, sizeof(cookie)) != 1) {
        r = ferry_err_crypto();
    }
    r = r == FERRY_OK ? ferry_buf_put(b, cookie, sizeof(cookie)) : r;
    r = r == FERRY_OK ? put_kex_list(s, b, tmp) : r;
    if (r == FERRY_OK) {
        ferry_buf_reset(tmp);
        r = put_hostkey_list(s, b, tmp);
    }
    /* compression only when configured: a client prefers it (as ssh -C),
     * a server merely allows it */
    const char *comp = !s->cfg.compression ? "none"
                       : is_client(s)      ? FERRY__COMP_ZLIB ",none"
                                           : "none," FERRY__COMP_ZLIB;
    const char *rest[] = {enc, enc, mac, mac, comp, comp, "", ""};
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]) && r == FERRY_OK; i++) {
        r = ferry_buf_put_cstring(b, rest[i]);
    }
    r = r == FERRY_OK ? ferry_buf_put_bool(b, follows) : r;
    r = r == FERRY_OK ? ferry_buf_put_u32(b, 0) : r;
    ferry_buf_free(tmp);
    return r;
}

/* Dropbear judges a guess by the positions in its whole built-in lists,
 * algorithms it has no key for included, so a guess right by RFC 4253 s7
 * (both sides' first choices equal) can be taken for wrong: it then drops
 * our INIT and waits for another while we wait for its reply. */
static int peer_misjudges_guess(const ferry_ssh *s)
{
    return s->version_done && strncmp(s->peer_version, "SSH-2.0-dropbear", 16) == 0;
}

/* Client, first kex, when asked to: the method it will guess (RFC 4253 s7:
 * first_kex_packet_follows), or NULL. */
static const ferry_kex_alg *guess_method(ferry_ssh *s)
{
    if (!is_client(s) || !s->cfg.kex_guess || s->kex_count > 0 || peer_misjudges_guess(s)) {
        return NULL;
    }
    const char *list = s->cfg.kex_algs != NULL ? s->cfg.kex_algs : ferry_kexalg_default_client();
    const char *cur = list, *name = NULL;
    char buf[NAME_MAX_LEN + 1];
    size_t n = ferry_names_next(&cur, &name);
    if (n == 0 || n > NAME_MAX_LEN) {
        return NULL;
    }
    memcpy(buf, name, n);
    buf[n] = '\0';
    const ferry_kex_alg *alg = ferry_kexalg_by_name(buf);
    return (alg != NULL && alg->type != FERRY_KEX_DHGEX) ? alg : NULL;
}

static int send_pub_raw(ferry_ssh *s, uint8_t msg)
{
    ferry_kex_state *k = s->kex;
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(s, msg, &b);
    if (r != FERRY_OK) {
        return r;
    }
    if ((r = ferry_buf_put(b, ferry_buf_data(k->eph_pub), ferry_buf_len(k->eph_pub))) != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    return ferry__pkt_finish(s);
}

/* Client: a fresh ephemeral key for `alg` sent as KEX_30 (ECDH/DH INIT). */
static int send_init(ferry_ssh *s, const ferry_kex_alg *alg)
{
    ferry_kex_state *k = s->kex;
    ferry_kex_eph_free(k->eph);
    k->eph = NULL;
    ferry_buf_reset(k->eph_pub);
    int r = ferry_kex_eph_new(&k->eph, alg, NULL, NULL, k->eph_pub);
    return r == FERRY_OK ? send_pub_raw(s, SSH_MSG_KEX_30) : r;
}

int ferry__kex_send_kexinit(ferry_ssh *s)
{
    ferry_kex_state *k = s->kex;
    ferry_buf *b = NULL;
    if (s->closed) {
        return FERRY_E_CLOSED;
    }
    if (k->sent_kexinit) {
        return FERRY_OK;
    }
    const ferry_kex_alg *guess = guess_method(s);
    int r = ferry__pkt_start(s, SSH_MSG_KEXINIT, &b);
    if (r == FERRY_OK && (r = build_kexinit(s, b, guess != NULL)) != FERRY_OK) {
        ferry__pkt_abort(s);
    }
    if (r == FERRY_OK) {
        ferry_buf_reset(k->i_mine);
        r = ferry_buf_put(k->i_mine, ferry_buf_data(b), ferry_buf_len(b));
    }
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        return ferry__fail(s, r, 0, "cannot build KEXINIT: %s", ferry_strerror(r));
    }
    /* Set before finishing: pkt_finish checks the rekey triggers. */
    k->sent_kexinit = 1;
    k->kexinit_seq = s->tx.seqnr;
    s->tx_kex = 1;
    s->in_kex = 1;
    if ((r = ferry__pkt_finish(s)) == FERRY_OK && guess != NULL) {
        k->guess_alg = guess;
        r = send_init(s, guess);
    }
    if (r != FERRY_OK) {
        return ferry__fail(s, r, 0, "cannot send KEXINIT: %s", ferry_strerror(r));
    }
    return FERRY_OK;
}

/* ---- negotiation ---- */

/* Picks one algorithm into `out`; on failure closes with NO_ALG_MATCH. */
static int pick_or_fail(ferry_ssh *s, const kexinit_msg *c, const kexinit_msg *sv, int idx,
                        int (*ok)(const char *), char *out, size_t outsz, const char *what)
{
    int r = pick(c->list[idx], sv->list[idx], ok, out, outsz);
    if (r != FERRY_OK) {
        return ferry__fail(s, r, SSH_DISCONNECT_KEY_EXCHANGE_FAILED, "no matching %s found", what);
    }
    return FERRY_OK;
}

static int negotiate_ciphers(ferry_ssh *s, const kexinit_msg *c, const kexinit_msg *sv)
{
    ferry_kex_state *k = s->kex;
    char comp[NAME_MAX_LEN + 1];
    int r = FERRY_OK;
    for (int d = 0; d < 2 && r == FERRY_OK; d++) {
        r = pick_or_fail(s, c, sv, L_ENC_CS + d, cipher_ok, s->alg_cipher[d],
                         sizeof(s->alg_cipher[d]), "cipher");
        if (r != FERRY_OK) {
            break;
        }
        k->enc[d] = ferry_cipher_by_name(s->alg_cipher[d]);
        s->alg_mac[d][0] = '\0';
        k->mac[d] = NULL;
        if (!(k->enc[d]->flags & FERRY_CIPHER_AEAD)) {
            /* An AEAD cipher ignores the MAC lists (RFC 5647 s5.1 as
             * OpenSSH implements it), so only here may they fail. */
            r = pick_or_fail(s, c, sv, L_MAC_CS + d, mac_ok, s->alg_mac[d], sizeof(s->alg_mac[d]),
                             "MAC");
            k->mac[d] = r == FERRY_OK ? ferry_mac_by_name(s->alg_mac[d]) : NULL;
        }
        if (r == FERRY_OK) {
            r = pick_or_fail(s, c, sv, L_COMP_CS + d, comp_ok, comp, sizeof(comp), "compression");
            s->comp_neg[d] = r == FERRY_OK && ferry__comp_known(comp);
        }
    }
    return r;
}

/* Strict kex and ext-info are decided by the first KEXINITs only. */
static int negotiate_extensions(ferry_ssh *s, const kexinit_msg *mine, const kexinit_msg *peer)
{
    if (s->kex_count > 0) {
        return FERRY_OK;
    }
    const char *want = is_client(s) ? STRICT_S : STRICT_C;
    const char *ours = is_client(s) ? STRICT_C : STRICT_S;
    s->strict_kex = ferry_names_contains(peer->list[L_KEX], want, strlen(want)) &&
                    ferry_names_contains(mine->list[L_KEX], ours, strlen(ours));
    if (!is_client(s)) {
        s->ext_info_peer = ferry_names_contains(peer->list[L_KEX], "ext-info-c", 10);
    }
    /* The peer's KEXINIT came in as packet rx.seqnr - 1; strict kex
     * requires it to be the very first. */
    if (s->strict_kex && s->rx.seqnr != 1) {
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "strict kex: KEXINIT was not the first packet");
    }
    return FERRY_OK;
}

static int choose_host_key(ferry_ssh *s)
{
    char buf[sizeof(s->alg_hostkey)];
    if (is_client(s)) {
        return FERRY_OK;
    }
    s->our_hostcert = NULL;
    s->our_hostkey = host_key_for(s, hostkey_sigalg(s, buf, sizeof(buf)),
                                  ferry_cert_suffix(s->alg_hostkey, strlen(s->alg_hostkey)) != 0,
                                  &s->our_hostcert);
    if (s->our_hostkey != NULL) {
        return FERRY_OK;
    }
    return ferry__fail(s, FERRY_E_NO_ALG_MATCH, SSH_DISCONNECT_KEY_EXCHANGE_FAILED,
                       "no host key for %s", s->alg_hostkey);
}

static int negotiate(ferry_ssh *s, const kexinit_msg *mine, const kexinit_msg *peer)
{
    ferry_kex_state *k = s->kex;
    const kexinit_msg *c = is_client(s) ? mine : peer;
    const kexinit_msg *sv = is_client(s) ? peer : mine;
    int r = pick_or_fail(s, c, sv, L_KEX, kex_ok, s->alg_kex, sizeof(s->alg_kex),
                         "key exchange method");
    r = r == FERRY_OK ? pick_or_fail(s, c, sv, L_HOSTKEY, hostkey_ok, s->alg_hostkey,
                                     sizeof(s->alg_hostkey), "host key algorithm")
                      : r;
    r = r == FERRY_OK ? negotiate_ciphers(s, c, sv) : r;
    r = r == FERRY_OK ? negotiate_extensions(s, mine, peer) : r;
    r = r == FERRY_OK ? choose_host_key(s) : r;
    if (r != FERRY_OK) {
        return r;
    }
    k->alg = ferry_kexalg_by_name(s->alg_kex);
    /* RFC 4253 s7.1: a guess is right when both sides prefer the same
     * kex and host key algorithms (their first names agree), as OpenSSH
     * checks it; then the negotiated method is that one. */
    int right = same_first(mine->list[L_KEX], peer->list[L_KEX]) &&
                same_first(mine->list[L_HOSTKEY], peer->list[L_HOSTKEY]);
    k->ignore_next = peer->follows && !right;
    k->guess_ok = k->guess_alg == k->alg && right;
    ferry_debug("ssh: kex %s, host key %s, cipher %s/%s%s", s->alg_kex, s->alg_hostkey,
                s->alg_cipher[0], s->alg_cipher[1],
                s->comp_neg[0] || s->comp_neg[1] ? ", compression " FERRY__COMP_ZLIB : "");
    return FERRY_OK;
}

/* After negotiation: the client sends its first method message. */
static int start_method(ferry_ssh *s)
{
    ferry_kex_state *k = s->kex;
    int r = FERRY_OK;
    ferry_buf *b = NULL;
    if (!is_client(s)) {
        k->expect = k->alg->type == FERRY_KEX_DHGEX ? SSH_MSG_KEX_DH_GEX_REQUEST : SSH_MSG_KEX_30;
        return FERRY_OK;
    }
    k->expect = SSH_MSG_KEX_31;
    if (k->alg->type == FERRY_KEX_DHGEX) {
        k->gmin = GEX_MIN;
        k->gn = GEX_PREF;
        k->gmax = GEX_MAX;
        r = ferry__pkt_start(s, SSH_MSG_KEX_DH_GEX_REQUEST, &b);
        r = r == FERRY_OK ? ferry_buf_put_u32(b, k->gmin) : r;
        r = r == FERRY_OK ? ferry_buf_put_u32(b, k->gn) : r;
        r = r == FERRY_OK ? ferry_buf_put_u32(b, k->gmax) : r;
        if (r != FERRY_OK) {
            ferry__pkt_abort(s);
            return r;
        }
        return ferry__pkt_finish(s);
    }
    if (k->guess_alg != NULL && k->guess_ok) {
        return FERRY_OK; /* the guessed INIT stands */
    }
    return send_init(s, k->alg);
}

static int on_kexinit(ferry_ssh *s, ferry_rd *rd)
{
    ferry_kex_state *k = s->kex;
    kexinit_msg mine = {0}, peer = {0};
    if (k->got_kexinit) {
        return ferry__fail(s, FERRY_E_PROTOCOL, 0, "KEXINIT during a key exchange");
    }
    ferry_buf_reset(k->i_peer);
    int r = ferry_buf_put_u8(k->i_peer, SSH_MSG_KEXINIT);
    r = r == FERRY_OK ? ferry_buf_put(k->i_peer, ferry_rd_ptr(rd), ferry_rd_left(rd)) : r;
    if (r != FERRY_OK || (r = parse_kexinit(k->i_peer, &peer)) != FERRY_OK) {
        return ferry__fail(s, r, 0, "malformed KEXINIT");
    }
    k->got_kexinit = 1;
    s->rx_kex = 1;
    s->in_kex = 1;
    r = ferry__kex_send_kexinit(s);
    if (r == FERRY_OK && (r = parse_kexinit(k->i_mine, &mine)) != FERRY_OK) {
        r = ferry__fail(s, r, 0, "own KEXINIT unreadable");
    }
    r = r == FERRY_OK ? negotiate(s, &mine, &peer) : r;
    r = r == FERRY_OK ? start_method(s) : r;
    kexinit_msg_free(&mine);
    kexinit_msg_free(&peer);
    return r;
}

/* ---- exchange hash and keys ---- */

/* Appends a peer's public value in its wire form (the string for
 * X25519/ECDH, the mpint for DH). */
static int put_peer_value(const ferry_kex_alg *alg, ferry_buf *b, const uint8_t *v, size_t n)
{
    if (alg->type == FERRY_KEX_X25519 || alg->type == FERRY_KEX_ECDH) {
        return ferry_buf_put_string(b, v, n);
    }
    return ferry_buf_put_mpint(b, v, n);
}

/* Reads a peer's public value: the string's bytes or the mpint magnitude. */
static int read_peer_value(const ferry_kex_alg *alg, ferry_rd *rd, const uint8_t **v, size_t *n)
{
    if (alg->type == FERRY_KEX_X25519 || alg->type == FERRY_KEX_ECDH) {
        int r = ferry_rd_string(rd, v, n);
        return (r == FERRY_OK && *n > PEER_VALUE_MAX) ? FERRY_E_TOO_LARGE : r;
    }
    return ferry_rd_mpint(rd, v, n);
}

/* H = HASH(V_C || V_S || I_C || I_S || K_S || [GEX params] || e/Q_C ||
 * f/Q_S || K), each field as RFC 4253 s8 / RFC 4419 s3 / RFC 5656 s4
 * encode it. cpub/spub hold the wire encodings. */
static int kex_hash(ferry_ssh *s, const ferry_buf *ks, const ferry_buf *cpub, const ferry_buf *spub,
                    const ferry_buf *kmp, uint8_t *h)
{
    ferry_kex_state *k = s->kex;
    int client = is_client(s);
    ferry_buf *hb = ferry_buf_new(0);
    if (hb == NULL) {
        return FERRY_E_ALLOC;
    }
    ferry_buf_set_secret(hb);
    int r = ferry_buf_put_cstring(hb, client ? s->our_version : s->peer_version);
    r = r == FERRY_OK ? ferry_buf_put_cstring(hb, client ? s->peer_version : s->our_version) : r;
    r = r == FERRY_OK ? ferry_buf_put_stringb(hb, client ? k->i_mine : k->i_peer) : r;
    r = r == FERRY_OK ? ferry_buf_put_stringb(hb, client ? k->i_peer : k->i_mine) : r;
    r = r == FERRY_OK ? ferry_buf_put_stringb(hb, ks) : r;
    if (r == FERRY_OK && k->alg->type == FERRY_KEX_DHGEX) {
        r = ferry_buf_put_u32(hb, k->gmin);
        r = r == FERRY_OK ? ferry_buf_put_u32(hb, k->gn) : r;
        r = r == FERRY_OK ? ferry_buf_put_u32(hb, k->gmax) : r;
        r = r == FERRY_OK ? ferry_buf_put_bignum(hb, k->p) : r;
        r = r == FERRY_OK ? ferry_buf_put_bignum(hb, k->g) : r;
    }
    r = r == FERRY_OK ? ferry_buf_put(hb, ferry_buf_data(cpub), ferry_buf_len(cpub)) : r;
    r = r == FERRY_OK ? ferry_buf_put(hb, ferry_buf_data(spub), ferry_buf_len(spub)) : r;
    r = r == FERRY_OK ? ferry_buf_put(hb, ferry_buf_data(kmp), ferry_buf_len(kmp)) : r;
    r = r == FERRY_OK ? ferry_kex_hash(k->alg, ferry_buf_data(hb), ferry_buf_len(hb), h) : r;
    ferry_buf_free(hb);
    return r;
}

/* One direction's protection (d: 0 = client to server, 1 = server to
 * client) from the letters of RFC 4253 s7.2. */
static int derive_dir(ferry_ssh *s, int d, const ferry_buf *kmp, const uint8_t *h,
                      ferry_pcrypt **out)
{
    ferry_kex_state *k = s->kex;
    const ferry_kex_alg *alg = k->alg;
    const ferry_cipher_alg *enc = k->enc[d];
    const ferry_mac_alg *mac = k->mac[d];
    uint8_t iv[64] = {0}, key[64] = {0}, mk[128] = {0};
    const uint8_t *kp = ferry_buf_data(kmp);
    size_t kl = ferry_buf_len(kmp);
    int r = FERRY_OK;
    if (enc->iv_len > sizeof(iv) || enc->key_len > sizeof(key) ||
        (mac != NULL && mac->key_len > sizeof(mk))) {
        return FERRY_E_INTERNAL;
    }
    if (enc->iv_len > 0) {
        r = ferry_kex_derive_key(alg, kp, kl, h, alg->hash_len, s->session_id, s->session_id_len,
                                 (char)('A' + d), iv, enc->iv_len);
    }
    r = r == FERRY_OK ? ferry_kex_derive_key(alg, kp, kl, h, alg->hash_len, s->session_id,
                                             s->session_id_len, (char)('C' + d), key, enc->key_len)
                      : r;
    if (r == FERRY_OK && mac != NULL) {
        r = ferry_kex_derive_key(alg, kp, kl, h, alg->hash_len, s->session_id, s->session_id_len,
                                 (char)('E' + d), mk, mac->key_len);
    }
    int encrypt = is_client(s) ? d == 0 : d == 1;
    if (r == FERRY_OK) {
        r = ferry_pcrypt_new(out, enc, mac, encrypt, key, iv, mac != NULL ? mk : NULL);
    }
    OPENSSL_cleanse(iv, sizeof(iv));
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(mk, sizeof(mk));
    return r;
}

/* Records the session id (first kex) and prepares both directions. */
static int derive_keys(ferry_ssh *s, const ferry_buf *kmp, const uint8_t *h)
{
    ferry_kex_state *k = s->kex;
    ferry_pcrypt *pc[2] = {NULL, NULL};
    if (s->session_id_len == 0) {
        memcpy(s->session_id, h, k->alg->hash_len);
        s->session_id_len = k->alg->hash_len;
    }
    int r = derive_dir(s, 0, kmp, h, &pc[0]);
    r = r == FERRY_OK ? derive_dir(s, 1, kmp, h, &pc[1]) : r;
    if (r != FERRY_OK) {
        ferry_pcrypt_free(pc[0]);
        ferry_pcrypt_free(pc[1]);
        return r;
    }
    int tx = is_client(s) ? 0 : 1;
    k->next_tx = pc[tx];
    k->next_rx = pc[1 - tx];
    return FERRY_OK;
}

/* ---- NEWKEYS, ext-info, completion ---- */

static int kex_done(ferry_ssh *s)
{
    kex_reset(s->kex);
    s->kex_count++;
    s->in_kex = 0;
    s->rx_kex = 0;
    s->tx_kex = 0;
    s->last_kex_ms = ferry__now_ms(s);
    if (s->kex_count == 1) {
        s->state = FERRY_ST_AUTH;
        int r = ferry__auth_start(s);
        if (s->authenticated && s->state == FERRY_ST_AUTH) {
            s->state = FERRY_ST_OPEN;
        }
        return r;
    }
    return s->state == FERRY_ST_OPEN ? ferry__conn_pump(s) : FERRY_OK;
}

/* RFC 8308 s3.1: what we accept for user authentication. */
static int send_ext_info(ferry_ssh *s)
{
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(s, SSH_MSG_EXT_INFO, &b);
    r = r == FERRY_OK ? ferry_buf_put_u32(b, 1) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "server-sig-algs") : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, ferry__kex_server_sig_algs(s)) : r;
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    return ferry__pkt_finish(s);
}

/* Sends NEWKEYS and switches our sending side to the new keys. */
static int send_newkeys(ferry_ssh *s)
{
    ferry_kex_state *k = s->kex;
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(s, SSH_MSG_NEWKEYS, &b);
    r = r == FERRY_OK ? ferry__pkt_finish(s) : r;
    if (r != FERRY_OK) {
        return r;
    }
    ferry__set_keys(s, 1, k->next_tx);
    k->next_tx = NULL;
    k->sent_newkeys = 1;
    s->tx_kex = 0;
    /* RFC 8308 s2.4: the next packet after the server's first NEWKEYS. */
    if (!is_client(s) && s->kex_count == 0 && s->ext_info_peer &&
        (r = send_ext_info(s)) != FERRY_OK) {
        return r;
    }
    if ((r = ferry__flush_deferred(s)) != FERRY_OK) {
        return r;
    }
    return k->got_newkeys ? kex_done(s) : FERRY_OK;
}

static int on_newkeys(ferry_ssh *s, ferry_rd *rd)
{
    ferry_kex_state *k = s->kex;
    if (k->expect != SSH_MSG_NEWKEYS || k->next_rx == NULL) {
        return ferry__fail(s, FERRY_E_PROTOCOL, 0, "unexpected NEWKEYS");
    }
    if (ferry_rd_end(rd) != FERRY_OK) {
        return ferry__fail(s, FERRY_E_TRAILING_DATA, 0, "malformed NEWKEYS");
    }
    ferry__set_keys(s, 0, k->next_rx);
    k->next_rx = NULL;
    k->got_newkeys = 1;
    s->rx_kex = 0;
    return k->sent_newkeys ? kex_done(s) : FERRY_OK;
}

/* Client: RFC 8308 s2.3. Only server-sig-algs is used. */
static int on_ext_info(ferry_ssh *s, ferry_rd *rd)
{
    uint32_t n = 0;
    int r = ferry_rd_u32(rd, &n);
    if (r == FERRY_OK && n > EXT_INFO_MAX) {
        r = FERRY_E_TOO_LARGE;
    }
    for (uint32_t i = 0; i < n && r == FERRY_OK; i++) {
        char name[NAME_MAX_LEN + 1];
        char *value = NULL;
        r = ferry_rd_name(rd, name, sizeof(name));
        if (r == FERRY_E_TOO_LARGE) {
            /* an extension name we cannot know: skip name and value */
            const uint8_t *p = NULL;
            size_t len = 0;
            r = ferry_rd_string(rd, &p, &len);
            r = r == FERRY_OK ? ferry_rd_string(rd, &p, &len) : r;
            continue;
        }
        r = r == FERRY_OK ? ferry_rd_cstring(rd, NAMELIST_MAX, &value, NULL) : r;
        if (r == FERRY_OK && strcmp(name, "server-sig-algs") == 0) {
            free(s->server_sig_algs);
            s->server_sig_algs = value;
            value = NULL;
        }
        free(value);
    }
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r != FERRY_OK) {
        return ferry__fail(s, r, 0, "malformed EXT_INFO");
    }
    return FERRY_OK;
}

/* ---- the methods ---- */

/* Server: the client's e / Q_C arrived (KEX_30, or GEX INIT 32). Computes
 * K and H, signs H, replies (31 / 33) and sends NEWKEYS. */
static int server_on_init(ferry_ssh *s, uint8_t msg, ferry_rd *rd)
{
    ferry_kex_state *k = s->kex;
    const uint8_t *v = NULL;
    size_t vn = 0;
    uint8_t h[64];
    ferry_buf *kmp = ferry_buf_new(0), *ks = ferry_buf_new(0), *cpub = ferry_buf_new(0);
    ferry_buf *sig = ferry_buf_new(0), *b = NULL;
    int r = (kmp && ks && cpub && sig) ? FERRY_OK : FERRY_E_ALLOC;
    if (kmp != NULL) {
        ferry_buf_set_secret(kmp);
    }
    r = r == FERRY_OK ? read_peer_value(k->alg, rd, &v, &vn) : r;
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r == FERRY_OK) {
        ferry_buf_reset(k->eph_pub);
        r = ferry_kex_eph_new(&k->eph, k->alg, k->p, k->g, k->eph_pub);
    }
    r = r == FERRY_OK ? ferry_kex_eph_derive(k->eph, v, vn, kmp) : r;
    char sigalg[sizeof(s->alg_hostkey)];
    if (r == FERRY_OK) { /* the host key blob: our certificate, or the key's */
        r = s->our_hostcert != NULL ? ferry_buf_put(ks, s->our_hostcert->blob, s->our_hostcert->len)
                                    : ferry_key_to_blob(s->our_hostkey, ks);
    }
    r = r == FERRY_OK ? put_peer_value(k->alg, cpub, v, vn) : r;
    r = r == FERRY_OK ? kex_hash(s, ks, cpub, k->eph_pub, kmp, h) : r;
    r = r == FERRY_OK ? derive_keys(s, kmp, h) : r;
    r = r == FERRY_OK ? ferry_key_sign(s->our_hostkey, hostkey_sigalg(s, sigalg, sizeof(sigalg)), h,
                                       k->alg->hash_len, sig)
                      : r;
    r = r == FERRY_OK ? ferry__pkt_start(s, msg + 1, &b) : r;
    if (b != NULL) {
        r = ferry_buf_put_stringb(b, ks);
        r = r == FERRY_OK ? ferry_buf_put(b, ferry_buf_data(k->eph_pub), ferry_buf_len(k->eph_pub))
                          : r;
        r = r == FERRY_OK ? ferry_buf_put_stringb(b, sig) : r;
        r = r == FERRY_OK ? ferry__pkt_finish(s) : (ferry__pkt_abort(s), r);
    }
    OPENSSL_cleanse(h, sizeof(h));
    ferry_buf_free(kmp);
    ferry_buf_free(ks);
    ferry_buf_free(cpub);
    ferry_buf_free(sig);
    if (r != FERRY_OK) {
        return ferry__fail(s, r, SSH_DISCONNECT_KEY_EXCHANGE_FAILED, "key exchange failed: %s",
                           ferry_strerror(r));
    }
    k->expect = SSH_MSG_NEWKEYS;
    return send_newkeys(s);
}

/* Server, GEX: REQUEST(min, n, max) -> GROUP(p, g). */
static int server_on_gex_request(ferry_ssh *s, ferry_rd *rd)
{
    ferry_kex_state *k = s->kex;
    ferry_buf *b = NULL;
    int r = ferry_rd_u32(rd, &k->gmin);
    r = r == FERRY_OK ? ferry_rd_u32(rd, &k->gn) : r;
    r = r == FERRY_OK ? ferry_rd_u32(rd, &k->gmax) : r;
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r == FERRY_OK && (k->gmin > k->gn || k->gn > k->gmax)) {
        r = FERRY_E_FORMAT;
    }
    r = r == FERRY_OK ? ferry_kex_gex_choose(k->gmin, k->gn, k->gmax, &k->p, &k->g) : r;
    r = r == FERRY_OK ? ferry__pkt_start(s, SSH_MSG_KEX_31, &b) : r;
    if (b != NULL) {
        r = ferry_buf_put_bignum(b, k->p);
        r = r == FERRY_OK ? ferry_buf_put_bignum(b, k->g) : r;
        r = r == FERRY_OK ? ferry__pkt_finish(s) : (ferry__pkt_abort(s), r);
    }
    if (r != FERRY_OK) {
        return ferry__fail(s, r, SSH_DISCONNECT_KEY_EXCHANGE_FAILED, "group exchange: %s",
                           ferry_strerror(r));
    }
    k->expect = SSH_MSG_KEX_DH_GEX_INIT;
    return FERRY_OK;
}

/* Client, GEX: GROUP(p, g) -> INIT(e). */
static int client_on_gex_group(ferry_ssh *s, ferry_rd *rd)
{
    ferry_kex_state *k = s->kex;
    int r = ferry_rd_bignum(rd, &k->p);
    r = r == FERRY_OK ? ferry_rd_bignum(rd, &k->g) : r;
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    r = r == FERRY_OK ? ferry_kex_gex_check(k->p, k->g, k->gmin, k->gmax) : r;
    if (r == FERRY_OK) {
        ferry_buf_reset(k->eph_pub);
        r = ferry_kex_eph_new(&k->eph, k->alg, k->p, k->g, k->eph_pub);
    }
    r = r == FERRY_OK ? send_pub_raw(s, SSH_MSG_KEX_DH_GEX_INIT) : r;
    if (r != FERRY_OK) {
        return ferry__fail(s, r, SSH_DISCONNECT_KEY_EXCHANGE_FAILED, "group exchange: %s",
                           ferry_strerror(r));
    }
    k->expect = SSH_MSG_KEX_DH_GEX_REPLY;
    return FERRY_OK;
}

/* Client: the host key checks after the signature verified. First kex:
 * the application decides (known_hosts); rekey: it must not change. */
static int client_accept_hostkey(ferry_ssh *s, ferry_key **hk, const ferry_cert *cert)
{
    if (s->peer_hostkey != NULL) {
        if (!ferry_key_equal_public(*hk, s->peer_hostkey)) {
            return ferry__fail(s, FERRY_E_HOSTKEY_CHANGED, SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE,
                               "host key changed during rekey");
        }
        return FERRY_OK;
    }
    if (cert != NULL || s->cfg.verify_hostkey != NULL) {
        int r = cert == NULL                     ? s->cfg.verify_hostkey(s->cfg.verify_ctx, *hk)
                : s->cfg.verify_hostcert != NULL ? s->cfg.verify_hostcert(s->cfg.verify_ctx, cert)
                                                 : FERRY_E_HOSTKEY_UNKNOWN;
        if (r != FERRY_OK) {
            return ferry__fail(s, r < 0 ? r : FERRY_E_HOSTKEY_UNKNOWN,
                               SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE, "host key not accepted");
        }
    }
    s->peer_hostkey = *hk;
    *hk = NULL;
    return FERRY_OK;
}

/* Client: the REPLY (31 / GEX 33): verify, check the host key, NEWKEYS. */
static int client_on_reply(ferry_ssh *s, ferry_rd *rd)
{
    ferry_kex_state *k = s->kex;
    const uint8_t *ksp = NULL, *v = NULL, *sig = NULL;
    size_t ksn = 0, vn = 0, sign = 0;
    uint8_t h[64];
    ferry_key *hk = NULL;
    ferry_cert *cert = NULL;
    ferry_buf *kmp = ferry_buf_new(0), *ks = ferry_buf_new(0), *spub = ferry_buf_new(0);
    int r = (kmp && ks && spub) ? FERRY_OK : FERRY_E_ALLOC;
    if (kmp != NULL) {
        ferry_buf_set_secret(kmp);
    }
    r = r == FERRY_OK ? ferry_rd_string(rd, &ksp, &ksn) : r;
    r = r == FERRY_OK ? read_peer_value(k->alg, rd, &v, &vn) : r;
    r = r == FERRY_OK ? ferry_rd_string(rd, &sig, &sign) : r;
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    /* a host certificate: its CA signature verified here, its key signs */
    char sigalg[sizeof(s->alg_hostkey)];
    const char *alg = hostkey_sigalg(s, sigalg, sizeof(sigalg));
    if (r == FERRY_OK && alg != s->alg_hostkey) {
        r = ferry_cert_from_blob(ksp, ksn, &cert);
        hk = r == FERRY_OK ? ferry_key_ref(cert->key) : NULL;
    } else if (r == FERRY_OK) {
        r = ferry_key_from_blob(ksp, ksn, &hk);
    }
    if (r == FERRY_OK && !ferry_key_sigalg_ok(hk, alg)) {
        r = FERRY_E_KEY_TYPE;
    }
    r = r == FERRY_OK ? ferry_kex_eph_derive(k->eph, v, vn, kmp) : r;
    r = r == FERRY_OK ? ferry_buf_put(ks, ksp, ksn) : r;
    r = r == FERRY_OK ? put_peer_value(k->alg, spub, v, vn) : r;
    r = r == FERRY_OK ? kex_hash(s, ks, k->eph_pub, spub, kmp, h) : r;
    r = r == FERRY_OK ? ferry_key_verify(hk, alg, sig, sign, h, k->alg->hash_len) : r;
    if (r != FERRY_OK) {
        r = ferry__fail(s, r, SSH_DISCONNECT_KEY_EXCHANGE_FAILED, "key exchange failed: %s",
                        ferry_strerror(r));
    }
    r = r == FERRY_OK ? client_accept_hostkey(s, &hk, cert) : r;
    if (r == FERRY_OK && (r = derive_keys(s, kmp, h)) != FERRY_OK) {
        r = ferry__fail(s, r, 0, "key derivation failed");
    }
    OPENSSL_cleanse(h, sizeof(h));
    ferry_key_free(hk);
    ferry_cert_free(cert);
    ferry_buf_free(kmp);
    ferry_buf_free(ks);
    ferry_buf_free(spub);
    if (r != FERRY_OK) {
        return r;
    }
    k->expect = SSH_MSG_NEWKEYS;
    return send_newkeys(s);
}

static int on_method_msg(ferry_ssh *s, uint8_t msg, ferry_rd *rd)
{
    ferry_kex_state *k = s->kex;
    if (!k->got_kexinit || k->alg == NULL) {
        return ferry__fail(s, FERRY_E_PROTOCOL, 0, "kex message %u before KEXINIT", (unsigned)msg);
    }
    if (k->ignore_next) {
        k->ignore_next = 0; /* the peer's wrong guess, RFC 4253 s7 */
        return FERRY_OK;
    }
    if (msg != k->expect) {
        return ferry__fail(s, FERRY_E_PROTOCOL, 0, "unexpected kex message %u", (unsigned)msg);
    }
    int gex = k->alg->type == FERRY_KEX_DHGEX;
    if (is_client(s)) {
        if (gex && msg == SSH_MSG_KEX_31) {
            return client_on_gex_group(s, rd);
        }
        return client_on_reply(s, rd);
    }
    if (msg == SSH_MSG_KEX_DH_GEX_REQUEST) {
        return server_on_gex_request(s, rd);
    }
    return server_on_init(s, msg, rd);
}

int ferry__kex_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload)
{
    switch (msg) {
    case SSH_MSG_EXT_INFO:
        if (!is_client(s)) {
            return ferry__fail(s, FERRY_E_PROTOCOL, 0, "unexpected EXT_INFO");
        }
        return on_ext_info(s, payload);
    case SSH_MSG_KEXINIT:
        return on_kexinit(s, payload);
    case SSH_MSG_NEWKEYS:
        return on_newkeys(s, payload);
    default:
        break;
    }
    if (msg >= 30 && msg <= 49) {
        return on_method_msg(s, msg, payload);
    }
    return ferry__fail(s, FERRY_E_PROTOCOL, 0, "unexpected kex message %u", (unsigned)msg);
}

/* ---- rekeying ---- */

int ferry__kex_on_unimplemented(ferry_ssh *s, uint32_t seq)
{
    ferry_kex_state *k = s->kex;
    if (s->kex_count == 0 || !k->sent_kexinit || k->got_kexinit || seq != k->kexinit_seq) {
        return FERRY_OK;
    }
    ferry_debug("ssh: peer refused key re-exchange; going on with the current keys");
    kex_reset(k);
    s->in_kex = 0;
    s->tx_kex = 0;
    s->rx_kex = 0;
    s->last_kex_ms = ferry__now_ms(s);
    /* The next attempt after another RekeyLimit's worth of data, as for
     * time: else a volume-triggered KEXINIT follows every packet. */
    s->tx.bytes = 0;
    s->rx.bytes = 0;
    int r = ferry__flush_deferred(s);
    if (r == FERRY_OK && s->state == FERRY_ST_OPEN) {
        r = ferry__conn_pump(s);
    }
    return r;
}

static uint64_t rekey_bytes(const ferry_ssh *s)
{
    uint64_t b = s->cfg.rekey_bytes;
    return (b == 0 || b > REKEY_BYTES_MAX) ? REKEY_BYTES_MAX : b;
}

static uint64_t rekey_ms(const ferry_ssh *s)
{
    uint64_t sec = s->cfg.rekey_seconds != 0 ? s->cfg.rekey_seconds : REKEY_SECONDS_DEFAULT;
    if (sec > (1ull << 40)) {
        sec = 1ull << 40;
    }
    return sec * 1000u;
}

/* Automatic rekeying waits for authentication: OpenSSH's sshd treats a
 * KEXINIT during user authentication as a protocol error (it answers
 * UNIMPLEMENTED), which would leave our kex hanging. */
int ferry__kex_maybe_rekey(ferry_ssh *s)
{
    if (s->closed || s->in_kex || s->state != FERRY_ST_OPEN) {
        return FERRY_OK;
    }
    uint64_t lim = rekey_bytes(s);
    int due = s->tx.bytes >= lim || s->rx.bytes >= lim || s->tx.packets >= REKEY_PACKETS_MAX ||
              s->rx.packets >= REKEY_PACKETS_MAX;
    if (!due) {
        uint64_t now = ferry__now_ms(s);
        due = now >= s->last_kex_ms && now - s->last_kex_ms >= rekey_ms(s);
    }
    return due ? ferry__kex_send_kexinit(s) : FERRY_OK;
}

int64_t ferry__kex_next_ms(ferry_ssh *s)
{
    if (s->closed || s->in_kex || s->state != FERRY_ST_OPEN) {
        return -1;
    }
    uint64_t now = ferry__now_ms(s);
    uint64_t due = s->last_kex_ms + rekey_ms(s);
    return now >= due ? 0 : (int64_t)(due - now);
}

const char *ferry__kex_server_sig_algs(const ferry_ssh *s)
{
    return s->cfg.pubkey_algs != NULL ? s->cfg.pubkey_algs : ferry_sigalg_default();
}

int ferry__kex_peer_accepts_sigalg(const ferry_ssh *s, const char *alg)
{
    const char *list = s->server_sig_algs != NULL ? s->server_sig_algs : ferry_sigalg_default();
    return alg != NULL && ferry_names_contains(list, alg, strlen(alg));
}
