/* ident.c: client identities: ssh-agent keys (IdentityAgent or
 * $SSH_AUTH_SOCK) first, then key files (-i, IdentityFile, or the default
 * ~/.ssh/id_ed25519, id_ecdsa, id_rsa). An encrypted key with a ".pub"
 * beside it is offered by its public half and decrypted (passphrase
 * prompt) only when the server accepts it.
 *
 * OpenSSH's own encrypted format (bcrypt KDF, ssh-keygen's default) needs
 * bcrypt_pbkdf, which libcrypto lacks and we do not write by hand: such a
 * file is decrypted by OpenSSH's ssh-keygen(1), on a copy in a private
 * directory (0700, in $XDG_RUNTIME_DIR or /dev/shm), the passphrase
 * handed over a pipe (never on a command line); the decrypted copy is
 * read, overwritten and removed at once. */
#include "conn_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/cert.h"
#include "crypto/key.h"
#include "util/err.h"

struct ferry__keyfile {
    char *path;
    ferry_key *pub;
    ferry_key *priv;
    int batch_mode;
    int failed;
};

struct ferry__certfile {
    char *path;
    ferry_cert *cert;
};

static const char *const default_keys[] = {"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"};

/* Copies src to dst (new, 0600). */
static int copy_file(const char *src, const char *dst)
{
    char buf[16384];
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    ssize_t n;
    if (in >= 0) {
        out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (out >= 0) {
        while ((n = read(in, buf, sizeof(buf))) > 0) {
            if (write(out, buf, (size_t)n) != n) {
                break;
            }
        }
        rc = n == 0 ? 0 : -1;
    }
    if (in >= 0) {
        close(in);
    }
    if (out >= 0 && close(out) != 0) {
        rc = -1;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* Overwrites the file with zeros and removes it. */
static void shred(const char *path)
{
    struct stat st;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0) {
        static const char zeros[4096];
        for (off_t at = 0; at < st.st_size; at += (off_t)sizeof(zeros)) {
            if (write(fd, zeros, sizeof(zeros)) < 0) {
                break;
            }
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    unlink(path);
}

/* Runs "ssh-keygen -p -N '' -f copy" with the passphrase on its stdin, in
 * a new session (no terminal to ask on, no askpass). 0 decrypted, 1
 * refused (wrong passphrase), -1 not run. */
static int run_ssh_keygen(const char *copy, const char *pass)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        setsid();
        dup2(p[0], STDIN_FILENO);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        close(p[0]);
        close(p[1]);
        unsetenv("DISPLAY");
        unsetenv("SSH_ASKPASS");
        setenv("SSH_ASKPASS_REQUIRE", "never", 1);
        execlp("ssh-keygen", "ssh-keygen", "-q", "-p", "-N", "", "-f", copy, (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    size_t len = strlen(pass);
    int ok = write(p[1], pass, len) == (ssize_t)len && write(p[1], "\n", 1) == 1;
    close(p[1]); /* a second prompt after a wrong passphrase reads EOF */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
        return -1;
    }
    return WEXITSTATUS(status) == 0 ? 0 : 1;
}

/* Decrypts an openssh-key-v1 file encrypted with the bcrypt KDF through
 * ssh-keygen(1) (see the top of this file). */
static int load_bcrypt_key(const char *path, const char *pass, ferry_key **out)
{
    const char *bases[] = {getenv("XDG_RUNTIME_DIR"), "/dev/shm", getenv("TMPDIR"), "/tmp"};
    char dir[4096] = "", copy[4200];
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        if (bases[i] != NULL && bases[i][0] == '/' &&
            snprintf(dir, sizeof(dir), "%s/ferry-key-XXXXXX", bases[i]) < (int)sizeof(dir) &&
            mkdtemp(dir) != NULL) {
            break;
        }
        dir[0] = '\0';
    }
    if (dir[0] == '\0') {
        return FERRY_E_SYSTEM;
    }
    snprintf(copy, sizeof(copy), "%s/key", dir);
    int r = FERRY_E_SYSTEM;
    if (copy_file(path, copy) == 0) {
        int k = run_ssh_keygen(copy, pass);
        if (k < 0) {
            fprintf(stderr,
                    "Load key \"%s\": encrypted in OpenSSH's format (bcrypt KDF); "
                    "ssh-keygen(1) is needed to decrypt it\n",
                    path);
            r = FERRY_E_UNSUPPORTED;
        } else if (k > 0) {
            r = FERRY_E_BAD_PASSPHRASE;
        } else {
            r = ferry_key_load_private_file(copy, NULL, out, NULL);
        }
    }
    shred(copy);
    rmdir(dir);
    return r;
}

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
        if (r == FERRY_E_KDF_BCRYPT) {
            r = load_bcrypt_key(kf->path, pass, &kf->priv);
        }
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
    if (r == FERRY_E_BAD_PASSPHRASE || r == FERRY_E_KDF_BCRYPT) {
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
    ferry_identity id = {.pub = kf->pub,
                         .sign = keyfile_sign,
                         .ctx = kf,
                         .label = kf->path,
                         .sign_direct = kf->priv != NULL};
    return add_id(c, &id);
}

/* Loads a certificate; a missing implicit one (KEY-cert.pub) is no error,
 * an explicit one (CertificateFile) unreadable is warned about, as by
 * ssh(1). */
static int load_cert(ferry_conn *c, const ferry_opts *o, const char *spec, int explicit_)
{
    char *path = ferry_opts_expand_path(spec, o->hostname, o->user);
    ferry_cert *cert = NULL;
    if (path == NULL) {
        return FERRY_E_ALLOC;
    }
    for (size_t i = 0; i < c->n_certs; i++) {
        if (strcmp(c->certs[i].path, path) == 0) {
            free(path); /* named twice */
            return FERRY_OK;
        }
    }
    int r = ferry_cert_load(path, &cert);
    if (r == FERRY_OK && cert->type != FERRY_CERT_USER) {
        ferry_cert_free(cert); /* a host certificate: not offered, as by ssh(1) */
        cert = NULL;
        r = FERRY_E_KEY_TYPE;
    }
    if (r != FERRY_OK) {
        if (explicit_ || r != FERRY_E_NOT_FOUND) {
            fprintf(stderr, "Load certificate \"%s\": %s\n", path, ferry_strerror(r));
        }
        free(path);
        return FERRY_OK;
    }
    struct ferry__certfile *v = realloc(c->certs, (c->n_certs + 1) * sizeof(*v));
    if (v == NULL) {
        ferry_cert_free(cert);
        free(path);
        return FERRY_E_ALLOC;
    }
    c->certs = v;
    v[c->n_certs++] = (struct ferry__certfile){.path = path, .cert = cert};
    return FERRY_OK;
}

/* Whether one of ids[0, n) offers the certificate (the agent's own copy
 * of it included). */
static int has_cert(const ferry_identity *ids, size_t n, const ferry_cert *cert)
{
    for (size_t i = 0; i < n; i++) {
        const ferry_cert *had = ids[i].cert;
        if (had != NULL && had->len == cert->len && memcmp(had->blob, cert->blob, had->len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Certificates: those of CertificateFile, and KEY-cert.pub beside each key
 * file. Each is offered right after the first identity (agent or file)
 * holding its key, as a further identity signed by that key: the order of
 * ssh(1) (9.2: "Offering public key: KEY ED25519", then "... KEY
 * ED25519-CERT"). */
static int add_certs(ferry_conn *c, const ferry_opts *o)
{
    int r = FERRY_OK;
    for (size_t i = 0; i < o->n_cert_files && r == FERRY_OK; i++) {
        r = load_cert(c, o, o->cert_files[i], 1);
    }
    for (size_t i = 0; i < c->n_keyfiles && r == FERRY_OK; i++) {
        char *implicit = NULL;
        if (asprintf(&implicit, "%s-cert.pub", c->keyfiles[i]->path) < 0) {
            return FERRY_E_ALLOC;
        }
        r = load_cert(c, o, implicit, 0);
        free(implicit);
    }
    if (r != FERRY_OK || c->n_certs == 0) {
        return r;
    }
    ferry_identity *v = calloc(c->n_ids + c->n_certs, sizeof(*v));
    size_t n = 0;
    if (v == NULL) {
        return FERRY_E_ALLOC;
    }
    for (size_t i = 0; i < c->n_ids; i++) {
        v[n++] = c->ids[i];
        for (size_t k = 0; k < c->n_certs; k++) {
            const ferry_cert *cert = c->certs[k].cert;
            if (!has_cert(c->ids, c->n_ids, cert) && !has_cert(v, n, cert) &&
                ferry_key_equal_public(cert->key, c->ids[i].pub)) {
                v[n] = c->ids[i];
                v[n].cert = cert;
                v[n++].label = c->certs[k].path;
            }
        }
    }
    free(c->ids);
    c->ids = v;
    c->n_ids = n;
    return FERRY_OK;
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
    return r == FERRY_OK ? add_certs(c, o) : r;
}

void ferry__conn_identities_noprompt(ferry_conn *c)
{
    for (size_t i = 0; i < c->n_keyfiles; i++) {
        c->keyfiles[i]->batch_mode = 1;
    }
}

void ferry__conn_identities_free(ferry_conn *c)
{
    for (size_t i = 0; i < c->n_certs; i++) {
        ferry_cert_free(c->certs[i].cert);
        free(c->certs[i].path);
    }
    free(c->certs);
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
