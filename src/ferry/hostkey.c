/* hostkey.c: server host key verification against known_hosts, with
 * OpenSSH's StrictHostKeyChecking semantics and its messages. */
#include "ferry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto/cert.h"
#include "crypto/key.h"
#include "ssh/authfile.h"
#include "ssh/revoke.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

static const char *key_label(const ferry_key *k)
{
    switch (ferry_key_type(k)) {
    case FERRY_KEY_ED25519:
        return "ED25519";
    case FERRY_KEY_ECDSA_P256:
    case FERRY_KEY_ECDSA_P384:
    case FERRY_KEY_ECDSA_P521:
        return "ECDSA";
    case FERRY_KEY_RSA:
        return "RSA";
    default:
        return "UNKNOWN";
    }
}

/* The label for a known_hosts key-type word ("ssh-ed25519" -> ED25519). */
static const char *type_label(const char *t)
{
    if (strcmp(t, "ssh-ed25519") == 0) {
        return "ED25519";
    }
    if (strncmp(t, "ecdsa-sha2-", 11) == 0) {
        return "ECDSA";
    }
    if (strcmp(t, "ssh-rsa") == 0) {
        return "RSA";
    }
    return "UNKNOWN";
}

/* The key type written on line `line` of known_hosts file `file`, as a
 * label, into out (NUL-terminated; "" if unreadable). */
static void line_type(const char *file, size_t line, char *out, size_t outsz)
{
    char buf[8192], host[4096], type[128];
    FILE *f = fopen(file, "r");
    size_t n = 0;
    out[0] = '\0';
    if (f == NULL) {
        return;
    }
    while (fgets(buf, sizeof(buf), f) != NULL) {
        if (++n != line) {
            continue;
        }
        const char *p = buf;
        if (p[0] == '@') {
            p += strcspn(p, " \t");
        }
        if (sscanf(p, "%4095s %127s", host, type) == 2) {
            snprintf(out, outsz, "%s", type_label(type));
        }
        break;
    }
    fclose(f);
}

static void changed_warning(const ferry_key *k, const char *fp, const char *file, size_t line,
                            const char *kh_name, const char *old_type, int refuse)
{
    fprintf(stderr,
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
            "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
            "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
            "Someone could be eavesdropping on you right now (man-in-the-middle attack)!\n"
            "It is also possible that a host key has just been changed.\n"
            "The fingerprint for the %s key sent by the remote host is\n%s.\n"
            "Please contact your system administrator.\n"
            "Add correct host key in %s to get rid of this message.\n"
            "Offending %s key in %s:%zu\n",
            key_label(k), fp, file, old_type, file, line);
    if (refuse) {
        fprintf(stderr,
                "Host key for %s has changed and you have requested strict checking.\n"
                "Host key verification failed.\n",
                kh_name);
    }
}

/* Asks OpenSSH's question; returns 1 to accept, 0 to refuse. */
static int ask_unknown(const ferry_hostcheck *hc, const ferry_key *k, const char *fp)
{
    char name[512], ipname[512], q[2048], ans[256];
    ferry_known_hosts_hostname(hc->host, (uint16_t)hc->port, name, sizeof(name));
    if (hc->ip != NULL && hc->ip[0] != '\0') {
        ferry_known_hosts_hostname(hc->ip, (uint16_t)hc->port, ipname, sizeof(ipname));
    } else { /* through a proxy: OpenSSH's words */
        snprintf(ipname, sizeof(ipname), "<no hostip for proxy command>");
    }
    snprintf(q, sizeof(q),
             "The authenticity of host '%s (%s)' can't be established.\n"
             "%s key fingerprint is %s.\n"
             "This key is not known by any other names.\n"
             "Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
             name, ipname, key_label(k), fp);
    const char *prompt = q;
    for (;;) {
        if (ferry_prompt(prompt, 1, ans, sizeof(ans)) != 0) {
            return 0;
        }
        if (strcasecmp(ans, "yes") == 0 || strcmp(ans, fp) == 0) {
            return 1;
        }
        if (strcasecmp(ans, "no") == 0) {
            return 0;
        }
        prompt = "Please type 'yes', 'no' or the fingerprint: ";
    }
}

/* The name and port known_hosts knows the server by: HostKeyAlias
 * (without a port, as OpenSSH), else HostName and Port. */
static const char *kh_name(const ferry_hostcheck *hc, uint16_t *port)
{
    const char *alias = hc->opts->host_key_alias;
    *port = alias != NULL ? 22 : (uint16_t)hc->port;
    return alias != NULL ? alias : hc->hostname;
}

static int add_key(const ferry_hostcheck *hc, const char *file, const ferry_key *k)
{
    char name[512];
    uint16_t port;
    const char *host = kh_name(hc, &port);
    ferry_known_hosts_hostname(host, port, name, sizeof(name));
    if (file == NULL) {
        return FERRY_OK; /* UserKnownHostsFile none: accepted, not stored */
    }
    int r = ferry_known_hosts_add(file, host, port, k, hc->opts->hash_known_hosts > 0);
    if (r != FERRY_OK) {
        fprintf(stderr, "Failed to add the host to the list of known hosts (%s).\n", file);
        return r;
    }
    fprintf(stderr, "Warning: Permanently added '%s' (%s) to the list of known hosts.\n", name,
            key_label(k));
    return FERRY_OK;
}

static int on_new(const ferry_hostcheck *hc, const char *file, const ferry_key *k, const char *fp)
{
    char name[512];
    const ferry_opts *o = hc->opts;
    uint16_t port;
    const char *host = kh_name(hc, &port);
    ferry_known_hosts_hostname(host, port, name, sizeof(name));
    if (o->strict == FERRY_STRICT_NO || o->strict == FERRY_STRICT_ACCEPT_NEW) {
        (void)add_key(hc, file, k);
        return FERRY_OK;
    }
    if (o->strict == FERRY_STRICT_YES) {
        fprintf(stderr,
                "No %s host key is known for %s and you have requested strict checking.\n"
                "Host key verification failed.\n",
                key_label(k), name);
        return FERRY_E_HOSTKEY_UNKNOWN;
    }
    if (o->batch_mode > 0 || !ferry_prompt_have_tty() || !ask_unknown(hc, k, fp)) {
        fprintf(stderr, "Host key verification failed.\n");
        return FERRY_E_HOSTKEY_UNKNOWN;
    }
    (void)add_key(hc, file, k);
    return FERRY_OK;
}

/* The known_hosts files, UserKnownHostsFile's then
 * GlobalKnownHostsFile's (each list space-separated, ~ and tokens
 * expanded, "none" for no file); new keys go to the first user file.
 * Returns the count, *n_user how many are the user's; free with
 * free_files. */
#define MAX_KH_FILES 16
static size_t known_hosts_files(const ferry_hostcheck *hc, char **files, size_t *n_user)
{
    const char *lists[2] = {hc->opts->known_hosts,
                            hc->opts->global_known_hosts != NULL
                                ? hc->opts->global_known_hosts
                                : "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"};
    size_t n = 0;
    for (size_t l = 0; l < 2; l++) {
        char *dup = lists[l] != NULL ? strdup(lists[l]) : NULL, *save = NULL;
        for (char *w = dup ? strtok_r(dup, " \t", &save) : NULL; w && n < MAX_KH_FILES;
             w = strtok_r(NULL, " \t", &save)) {
            char *f = strcasecmp(w, "none") != 0
                          ? ferry_opts_expand_path(w, hc->hostname, hc->opts->user)
                          : NULL;
            if (f != NULL) {
                files[n++] = f;
            }
        }
        free(dup);
        if (l == 0) {
            *n_user = n;
        }
    }
    return n;
}

static void free_files(char **files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(files[i]);
    }
}

int ferry_hostkey_order_algs(const ferry_hostcheck *hc, const char *algs, char **out)
{
    unsigned types = 0;
    int any_ca = 0;
    char *files[MAX_KH_FILES];
    size_t n_user = 0, n = known_hosts_files(hc, files, &n_user);
    uint16_t port;
    const char *host = kh_name(hc, &port);
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned t = 0;
        int any = 0;
        if (ferry_known_hosts_types(files[i], host, port, &t, &any) == FERRY_OK) {
            types |= t;
            any_ca |= any;
        }
    }
    free_files(files, n);
    int r = types != 0 ? ferry_known_hosts_order_algs(types, algs, out) : FERRY_OK;
    if (r == FERRY_OK && any_ca) {
        char *ordered = *out;
        r = ferry_cert_algs_first(ordered != NULL ? ordered : algs, out); /* CA on record */
        free(ordered);
    }
    return r;
}

/* RevokedHostKeys: 1 if it revokes the host key (or the certificate:
 * its serial, key ID, key or CA), or cannot be read (then every host key
 * is refused, as by ssh), with the messages printed (the verification
 * failed); else 0. */
static int revoked_host_key(const ferry_hostcheck *hc, const ferry_key *k, const ferry_cert *cert)
{
    if (hc->opts->revoked_host_keys == NULL ||
        strcasecmp(hc->opts->revoked_host_keys, "none") == 0) {
        return 0;
    }
    char *path = ferry_opts_expand_path(hc->opts->revoked_host_keys, hc->hostname, hc->opts->user);
    ferry_revoke *rl = NULL;
    int r = path != NULL ? ferry_revoke_load(path, &rl) : FERRY_E_ALLOC;
    char fp[128], why[64];
    int hit = 1;
    if (ferry_key_fingerprint(k, fp, sizeof(fp)) != FERRY_OK) {
        snprintf(fp, sizeof(fp), "?");
    }
    if (r != FERRY_OK) {
        fprintf(stderr, "Error checking host key %s %s in revoked keys file %s: %s\n", key_label(k),
                fp, path ? path : hc->opts->revoked_host_keys, ferry_strerror(r));
    } else {
        hit =
            cert != NULL ? ferry_revoke_cert(rl, cert, why, sizeof(why)) : ferry_revoke_key(rl, k);
        if (hit && cert != NULL) {
            fprintf(stderr, "Host certificate for %s %s: %s by file %s\n", key_label(k), fp, why,
                    path);
        } else if (hit) {
            fprintf(stderr, "Host key %s %s revoked by file %s\n", key_label(k), fp, path);
        }
    }
    ferry_revoke_free(rl);
    free(path);
    if (hit) {
        fprintf(stderr, "Host key verification failed.\n");
    }
    return hit;
}

static int verify_plain(const ferry_hostcheck *hc, const ferry_key *k);

int ferry_hostkey_verify_cert(void *ctx, const ferry_cert *cert)
{
    const ferry_hostcheck *hc = ctx;
    char kfp[128] = "", cfp[128] = "";
    (void)ferry_key_fingerprint(cert->key, kfp, sizeof(kfp));
    (void)ferry_key_fingerprint(cert->ca, cfp, sizeof(cfp));
    ferry_debug("Server host certificate: %s %s, serial %llu ID \"%.64s\" CA %s %s",
                cert->type_name, kfp, (unsigned long long)cert->serial, cert->key_id,
                ferry_key_type_name(cert->ca), cfp);
    if (revoked_host_key(hc, cert->key, cert)) {
        return FERRY_E_HOSTKEY_CHANGED;
    }
    char *files[MAX_KH_FILES], name[512], why[96] = "", fp[128];
    size_t n_user = 0, n = known_hosts_files(hc, files, &n_user), line = 0, at = 0;
    uint16_t port;
    const char *host = kh_name(hc, &port);
    enum ferry_hostkey_status ca = FERRY_HOSTKEY_NEW, key = FERRY_HOSTKEY_NEW;
    ferry_known_hosts_hostname(host, port, name, sizeof(name));
    for (size_t i = 0; i < n && ca != FERRY_HOSTKEY_REVOKED && key != FERRY_HOSTKEY_REVOKED; i++) {
        enum ferry_hostkey_status st = FERRY_HOSTKEY_NEW;
        int any = 0;
        size_t l = 0;
        if (ferry_known_hosts_check(files[i], host, port, cert->key, &st, &l) == FERRY_OK &&
            st == FERRY_HOSTKEY_REVOKED) {
            key = st;
        }
        /* listed in one file is enough; revoked in any file wins */
        if (ferry_known_hosts_ca(files[i], host, port, cert->ca, &any, &st, &l) == FERRY_OK &&
            (st == FERRY_HOSTKEY_REVOKED || (st == FERRY_HOSTKEY_OK && ca == FERRY_HOSTKEY_NEW))) {
            ca = st;
            line = l;
            at = i;
        }
    }
    int r = FERRY_E_HOSTKEY_UNKNOWN;
    if (key == FERRY_HOSTKEY_REVOKED || ca == FERRY_HOSTKEY_REVOKED) {
        if (ferry_key_fingerprint(key == FERRY_HOSTKEY_REVOKED ? cert->key : cert->ca, fp,
                                  sizeof(fp)) != FERRY_OK) {
            snprintf(fp, sizeof(fp), "?");
        }
        fprintf(stderr, "%s %s revoked\n", key == FERRY_HOSTKEY_REVOKED ? "Host key" : "CA key",
                fp);
        r = FERRY_E_HOSTKEY_CHANGED;
    } else if (ca != FERRY_HOSTKEY_OK) {
        ferry_debug("No matching CA found for the host certificate of %s.", name);
    } else if (ferry_cert_check(cert, FERRY_CERT_HOST, host, (uint64_t)time(NULL), why,
                                sizeof(why)) != FERRY_OK) {
        fprintf(stderr, "Certificate invalid: %s\n", why);
    } else if (hc->ca_sig_algs != NULL &&
               !ferry_names_contains(hc->ca_sig_algs, cert->sig_alg, strlen(cert->sig_alg))) {
        fprintf(stderr,
                "Certificate invalid: CA signature algorithm %s not in CASignatureAlgorithms\n",
                cert->sig_alg);
    } else {
        ferry_debug("Host '%s' is known and matches the %s host certificate (CA in %s:%zu).", name,
                    cert->type_name, files[at], line);
        r = FERRY_OK;
    }
    free_files(files, n);
    if (r == FERRY_E_HOSTKEY_UNKNOWN) {
        /* As OpenSSH's ssh: the certified key checked as a plain key
         * (RevokedHostKeys already asked about it, above) */
        ferry_debug("Retrying with the plain host key");
        return verify_plain(hc, cert->key);
    }
    if (r != FERRY_OK) {
        fprintf(stderr, "Host key verification failed.\n");
    }
    return r;
}

int ferry_hostkey_verify(void *ctx, const ferry_key *k)
{
    const ferry_hostcheck *hc = ctx;
    return revoked_host_key(hc, k, NULL) ? FERRY_E_HOSTKEY_CHANGED : verify_plain(hc, k);
}

/* A plain host key against known_hosts (RevokedHostKeys asked before). */
static int verify_plain(const ferry_hostcheck *hc, const ferry_key *k)
{
    enum ferry_hostkey_status st = FERRY_HOSTKEY_NEW;
    size_t line = 0, at = 0;
    char fp[128];
    char *files[MAX_KH_FILES];
    size_t n_user = 0, n = known_hosts_files(hc, files, &n_user);
    uint16_t port;
    const char *host = kh_name(hc, &port);
    int r = FERRY_OK;

    if (ferry_key_fingerprint(k, fp, sizeof(fp)) != FERRY_OK) {
        snprintf(fp, sizeof(fp), "?");
    }
    /* revoked in any file loses; else known in any file wins; else the
     * first file that knows another key speaks */
    for (size_t i = 0; i < n; i++) {
        enum ferry_hostkey_status fs = FERRY_HOSTKEY_NEW;
        size_t fl = 0;
        r = ferry_known_hosts_check(files[i], host, port, k, &fs, &fl);
        if (r != FERRY_OK && r != FERRY_E_NOT_FOUND) {
            fs = FERRY_HOSTKEY_NEW;
        }
        if (fs == FERRY_HOSTKEY_REVOKED || (fs == FERRY_HOSTKEY_OK && st != FERRY_HOSTKEY_OK) ||
            (fs == FERRY_HOSTKEY_CHANGED && st == FERRY_HOSTKEY_NEW)) {
            st = fs;
            line = fl;
            at = i;
        }
        if (fs == FERRY_HOSTKEY_REVOKED) {
            break;
        }
    }
    const char *file = n > 0 ? files[at] : NULL;
    if (st == FERRY_HOSTKEY_OK) {
        r = FERRY_OK;
    } else if (st == FERRY_HOSTKEY_REVOKED) {
        fprintf(stderr, "Host key %s %s revoked by file %s\nHost key verification failed.\n",
                key_label(k), fp, file);
        r = FERRY_E_HOSTKEY_CHANGED;
    } else if (st == FERRY_HOSTKEY_CHANGED) {
        /* a key of another type on record counts too, as in OpenSSH */
        char name[512], old_type[32];
        ferry_known_hosts_hostname(host, port, name, sizeof(name));
        line_type(file, line, old_type, sizeof(old_type));
        int refuse = hc->opts->strict != FERRY_STRICT_NO;
        changed_warning(k, fp, file, line, name, old_type[0] ? old_type : key_label(k), refuse);
        r = refuse ? FERRY_E_HOSTKEY_CHANGED : FERRY_OK;
    } else {
        r = on_new(hc, n_user > 0 ? files[0] : NULL, k, fp);
    }
    free_files(files, n);
    return r;
}
