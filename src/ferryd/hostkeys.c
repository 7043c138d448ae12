/* hostkeys.c: loading (and on first start creating) the host keys. */
#include "ferryd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/cert.h"
#include "util/err.h"
#include "util/log.h"

/* The key type a new host key file gets, from its name as ssh-keygen -A
 * names them: *ecdsa* -> ECDSA P-256, *rsa* -> RSA 3072, else Ed25519. */
static enum ferry_key_type type_for_path(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    if (strstr(base, "ecdsa") != NULL) {
        return FERRY_KEY_ECDSA_P256;
    }
    if (strstr(base, "rsa") != NULL) {
        return FERRY_KEY_RSA;
    }
    return FERRY_KEY_ED25519;
}

static int create_key(const char *path)
{
    char pub[4096];
    if (snprintf(pub, sizeof(pub), "%s.pub", path) >= (int)sizeof(pub)) {
        return FERRY_E_TOO_LARGE;
    }
    ferry_key *k = NULL;
    int r = ferry_key_generate(type_for_path(path), 0, &k);
    if (r == FERRY_OK) {
        r = ferry_key_save_private_file(k, "ferryd host key", path, pub);
    }
    if (r == FERRY_OK) {
        ferry_info("generated host key %s (%s)", path, ferry_key_type_name(k));
    } else {
        ferry_error("cannot create host key %s: %s %s", path, ferry_strerror(r),
                    ferry_err_detail());
    }
    ferry_key_free(k);
    return r;
}

static int load_one(ferryd_server *srv, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        int r = create_key(path);
        if (r != FERRY_OK) {
            return r;
        }
    }
    ferry_key *k = NULL;
    int r = ferry_key_load_private_file(path, NULL, &k, NULL);
    if (r != FERRY_OK) {
        ferry_error("cannot load host key %s: %s %s", path, ferry_strerror(r), ferry_err_detail());
        return r;
    }
    char fp[128] = "";
    ferry_key_fingerprint(k, fp, sizeof(fp));
    ferry_info("host key %s: %s %s", path, ferry_key_type_name(k), fp);
    srv->host_keys[srv->n_host_keys++] = k;
    return FERRY_OK;
}

/* A HostCertificate: a host certificate of one of the host keys. */
static int load_cert(ferryd_server *srv, const char *path)
{
    ferry_cert *c = NULL;
    int r = ferry_cert_load(path, &c);
    if (r != FERRY_OK) {
        ferry_error("cannot load host certificate %s: %s", path, ferry_strerror(r));
        return r;
    }
    int ours = 0;
    for (size_t i = 0; i < srv->n_host_keys && !ours; i++) {
        ours = ferry_key_equal_public(srv->host_keys[i], c->key);
    }
    if (c->type != FERRY_CERT_HOST || !ours) {
        ferry_error("host certificate %s: %s", path,
                    c->type != FERRY_CERT_HOST ? "not a host certificate"
                                               : "certifies none of the host keys");
        ferry_cert_free(c);
        return FERRY_E_INVALID_ARG;
    }
    char fp[128] = "", why[96] = "";
    ferry_key_fingerprint(c->ca, fp, sizeof(fp));
    ferry_info("host certificate %s: %s, ID \"%.64s\", %zu principal(s), CA %s", path, c->type_name,
               c->key_id, c->n_principals, fp);
    if (ferry_cert_check(c, FERRY_CERT_HOST, NULL, (uint64_t)time(NULL), why, sizeof(why)) !=
        FERRY_OK) {
        ferry_warn("host certificate %s: %s: clients will refuse it", path, why); /* served still */
    }
    srv->host_certs[srv->n_host_certs++] = c;
    return FERRY_OK;
}

int ferryd_hostkeys_load(ferryd_server *srv)
{
    if (srv->cfg.n_host_keys == 0) {
        ferry_error("no host key: give --host-key FILE or HostKey in the configuration");
        return FERRY_E_INVALID_ARG;
    }
    for (size_t i = 0; i < srv->cfg.n_host_keys && i < FERRYD_MAX_HOST_KEYS; i++) {
        int r = load_one(srv, srv->cfg.host_keys[i]);
        if (r != FERRY_OK) {
            return r;
        }
    }
    for (size_t i = 0; i < srv->cfg.n_host_certs && i < FERRYD_MAX_HOST_KEYS; i++) {
        int r = load_cert(srv, srv->cfg.host_certs[i]);
        if (r != FERRY_OK) {
            return r;
        }
    }
    return FERRY_OK;
}
