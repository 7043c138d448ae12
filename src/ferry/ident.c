/* ident.c: client identities: ssh-agent keys (IdentityAgent or
 * $SSH_AUTH_SOCK) first, then key files (-i, IdentityFile, or the default
 * ~/.ssh/id_ed25519, id_ecdsa, id_rsa). An encrypted key with a ".pub"
 * beside it is offered by its public half and decrypted (passphrase
 * prompt) only when the server accepts it. */
#include "conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/key.h"
#include "util/err.h"

struct ferry__keyfile {
    char *path;
    ferry_key *pub;
    ferry_key *priv;
    int batch_mode;
    int failed;
};

static const char *const default_keys[] = {"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"};

/* Asks for the passphrase (3 tries) and loads the private key. */
static int unlock(ferry__keyfile *kf)
{
    char prompt[4200], pass[1024];
    int r = FERRY_E_BAD_PASSPHRASE;
    if (kf->batch_mode) {
        return FERRY_E_AUTH_DENIED;
    }
    snprintf(prompt, sizeof(prompt), "Enter passphrase for key '%s': ", kf->path);
    for (int i = 0; i < 3 && r == FERRY_E_BAD_PASSPHRASE; i++) {
        if (ferry_prompt(prompt, 0, pass, sizeof(pass)) != 0 || pass[0] == '\0') {
            r = FERRY_E_AUTH_DENIED;
            break;
        }
        r = ferry_key_load_private_file(kf->path, pass, &kf->priv, NULL);
        if (r == FERRY_E_BAD_PASSPHRASE) {
            fprintf(stderr, "Bad passphrase, try again for %s\n", kf->path);
        }
    }
    OPENSSL_cleanse(pass, sizeof(pass));
    return r;
}

static int keyfile_sign(void *ctx, const ferry_key *pub, const char *sigalg, const uint8_t *data,
                        size_t len, ferry_buf *sig)
{
    ferry__keyfile *kf = ctx;
    (void)pub;
    if (kf->priv == NULL && !kf->failed && unlock(kf) != FERRY_OK) {
        kf->failed = 1;
    }
    if (kf->priv == NULL) {
        return FERRY_E_AUTH_DENIED;
    }
    return ferry_key_sign(kf->priv, sigalg, data, len, sig);
}

static ferry_key *load_pub(const char *path)
{
    char pubpath[4200], line[16384];
    ferry_key *k = NULL;
    FILE *f;
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    if ((f = fopen(pubpath, "r")) == NULL) {
        return NULL;
    }
    if (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (ferry_key_parse_public_line(line, &k, NULL) != FERRY_OK) {
            k = NULL;
        }
    }
    fclose(f);
    return k;
}

/* Loads one key file into a keyfile record; NULL if unusable. */
static ferry__keyfile *load_keyfile(const char *path, int batch_mode, int explicit_)
{
    ferry__keyfile *kf = calloc(1, sizeof(*kf));
    int r;
    if (kf == NULL || (kf->path = strdup(path)) == NULL) {
        free(kf);
        return NULL;
    }
    kf->batch_mode = batch_mode;
    r = ferry_key_load_private_file(path, NULL, &kf->priv, NULL);
    if (r == FERRY_E_BAD_PASSPHRASE) {
        kf->pub = load_pub(path);
        if (kf->pub == NULL) {
            r = unlock(kf);
        } else {
            r = FERRY_OK;
        }
    }
    if (r == FERRY_OK && kf->pub == NULL && kf->priv != NULL) {
        r = ferry_key_public_copy(kf->priv, &kf->pub);
    }
    if (r != FERRY_OK) {
        if (explicit_ && access(path, F_OK) != 0) {
            fprintf(stderr,
                    "Warning: Identity file %s not accessible: No such file or "
                    "directory.\n",
                    path);
        } else if (r != FERRY_E_NOT_FOUND && r != FERRY_E_SYSTEM && r != FERRY_E_AUTH_DENIED) {
            fprintf(stderr, "Load key \"%s\": %s\n", path, ferry_strerror(r));
        }
        ferry_key_free(kf->priv);
        ferry_key_free(kf->pub);
        free(kf->path);
        free(kf);
        return NULL;
    }
    return kf;
}

static int add_id(ferry_conn *c, const ferry_identity *id)
{
    ferry_identity *n = realloc(c->ids, (c->n_ids + 1) * sizeof(*n));
    if (n == NULL) {
        return FERRY_E_ALLOC;
    }
    c->ids = n;
    c->ids[c->n_ids++] = *id;
    return FERRY_OK;
}

static int add_agent(ferry_conn *c, const ferry_opts *o)
{
    const ferry_identity *ids;
    size_t n = 0;
    char *path = NULL;
    if (o->identity_agent != NULL && strcasecmp(o->identity_agent, "none") == 0) {
        return FERRY_OK;
    }
    if (o->identity_agent != NULL && strcmp(o->identity_agent, "SSH_AUTH_SOCK") != 0) {
        const char *v = o->identity_agent;
        if (v[0] == '$') {
            v = getenv(v + 1);
        }
        path = v ? ferry_opts_expand_path(v, o->hostname, o->user) : NULL;
        if (path == NULL) {
            return FERRY_OK;
        }
    }
    int r = ferry_agent_open(path, &c->agent);
    free(path);
    if (r != FERRY_OK || ferry_agent_identities(c->agent, &ids, &n) != FERRY_OK) {
        ferry_agent_free(c->agent);
        c->agent = NULL;
        return FERRY_OK; /* no agent: not an error */
    }
    for (size_t i = 0; i < n && r == FERRY_OK; i++) {
        r = add_id(c, &ids[i]);
    }
    return r;
}

static int add_file(ferry_conn *c, const ferry_opts *o, const char *spec, int explicit_)
{
    char *path = ferry_opts_expand_path(spec, o->hostname, o->user);
    ferry__keyfile *kf;
    ferry__keyfile **v;
    if (path == NULL) {
        return FERRY_E_ALLOC;
    }
    kf = load_keyfile(path, o->batch_mode > 0, explicit_);
    free(path);
    if (kf == NULL) {
        return FERRY_OK;
    }
    v = realloc(c->keyfiles, (c->n_keyfiles + 1) * sizeof(*v));
    if (v == NULL) {
        return FERRY_E_ALLOC;
    }
    c->keyfiles = v;
    v[c->n_keyfiles++] = kf;
    ferry_identity id = {.pub = kf->pub, .sign = keyfile_sign, .ctx = kf, .label = kf->path};
    return add_id(c, &id);
}

int ferry__conn_identities(ferry_conn *c, const ferry_opts *o)
{
    int r = FERRY_OK;
    if (!o->pubkey_auth) {
        return FERRY_OK;
    }
    if (!o->identities_only && (r = add_agent(c, o)) != FERRY_OK) {
        return r;
    }
    for (size_t i = 0; i < o->n_identity_files && r == FERRY_OK; i++) {
        r = add_file(c, o, o->identity_files[i], 1);
    }
    for (size_t i = 0; o->n_identity_files == 0 && i < 3 && r == FERRY_OK; i++) {
        r = add_file(c, o, default_keys[i], 0);
    }
    return r;
}

void ferry__conn_identities_noprompt(ferry_conn *c)
{
    for (size_t i = 0; i < c->n_keyfiles; i++) {
        c->keyfiles[i]->batch_mode = 1;
    }
}

void ferry__conn_identities_free(ferry_conn *c)
{
    for (size_t i = 0; i < c->n_keyfiles; i++) {
        ferry_key_free(c->keyfiles[i]->priv);
        ferry_key_free(c->keyfiles[i]->pub);
        free(c->keyfiles[i]->path);
        free(c->keyfiles[i]);
    }
    free(c->keyfiles);
    free(c->ids);
    ferry_agent_free(c->agent);
}
