/* main.c: ferryd's command line. Builds the configuration (file, then
 * --quick defaults, then flags), loads keys, and runs the listener. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "crypto/cert.h"
#include "crypto/cipher.h"
#include "crypto/kexalg.h"
#include "crypto/key.h"
#include "ssh/authfile.h"
#include "ferryd.h"
#include "quick.h"
#include "util/err.h"
#include "util/log.h"

#define MAX_FLAG_KEYFILES FERRYD_MAX_KEYFILES

struct opts {
    const char *config;
    const char *listen[FERRYD_MAX_LISTEN];
    size_t n_listen;
    const char *host_keys[FERRYD_MAX_HOST_KEYS];
    size_t n_host_keys;
    const char *root, *password_hash, *user, *mode, *log_level, *query;
    const char *keyfiles[MAX_FLAG_KEYFILES];
    size_t n_keyfiles;
    int quick, test_only, debug, hash_password;
};

enum {
    OPT_LISTEN = 256,
    OPT_ROOT,
    OPT_HOSTKEY,
    OPT_AUTHKEYS,
    OPT_PWHASH,
    OPT_USER,
    OPT_CONFIG,
    OPT_MODE,
    OPT_QUICK,
    OPT_LOGLEVEL,
    OPT_HELP,
    OPT_VERSION,
    OPT_HASHPW,
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"root", required_argument, NULL, OPT_ROOT},
    {"host-key", required_argument, NULL, OPT_HOSTKEY},
    {"authorized-keys", required_argument, NULL, OPT_AUTHKEYS},
    {"password-hash", required_argument, NULL, OPT_PWHASH},
    {"user", required_argument, NULL, OPT_USER},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"mode", required_argument, NULL, OPT_MODE},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"log-level", required_argument, NULL, OPT_LOGLEVEL},
    {"hash-password", no_argument, NULL, OPT_HASHPW},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: ferryd [--quick] [--config FILE] [--listen ADDR:PORT]...\n"
               "              [--host-key FILE]... [--root DIR] [--user NAME]\n"
               "              [--authorized-keys FILE]... [--password-hash HASH]\n"
               "              [--mode read-write|read-only|upload-only] [--log-level LEVEL] [-d]\n"
               "       ferryd -t [options]        check the configuration and exit\n"
               "       ferryd -Q cipher|mac|kex|key   list supported algorithms\n"
               "       ferryd --hash-password     read a password on stdin, print its hash\n"
               "See ferryd(8) and ferryd.conf(5).\n");
}

static int add_flag(const char **arr, size_t *n, size_t max, const char *v, const char *what)
{
    if (*n >= max) {
        fprintf(stderr, "ferryd: too many %s options\n", what);
        return -1;
    }
    arr[(*n)++] = v;
    return 0;
}

static int parse_flag(struct opts *o, int c, const char *arg)
{
    switch (c) {
    case OPT_LISTEN:
        return add_flag(o->listen, &o->n_listen, FERRYD_MAX_LISTEN, arg, "--listen");
    case OPT_HOSTKEY:
        return add_flag(o->host_keys, &o->n_host_keys, FERRYD_MAX_HOST_KEYS, arg, "--host-key");
    case OPT_AUTHKEYS:
        return add_flag(o->keyfiles, &o->n_keyfiles, MAX_FLAG_KEYFILES, arg, "--authorized-keys");
    case OPT_ROOT:
        o->root = arg;
        return 0;
    case OPT_PWHASH:
        o->password_hash = arg;
        return 0;
    case OPT_USER:
        o->user = arg;
        return 0;
    case OPT_CONFIG:
        o->config = arg;
        return 0;
    case OPT_MODE:
        o->mode = arg;
        return 0;
    case OPT_QUICK:
        o->quick = 1;
        return 0;
    case OPT_HASHPW:
        o->hash_password = 1;
        return 0;
    case OPT_LOGLEVEL:
        o->log_level = arg;
        return 0;
    case 'd':
        o->debug++;
        return 0;
    case 't':
        o->test_only = 1;
        return 0;
    case 'Q':
        o->query = arg;
        return 0;
    case OPT_HELP:
        usage(stdout);
        exit(0);
    case OPT_VERSION:
        printf("ferryd 0.1.0\n");
        exit(0);
    default:
        usage(stderr);
        return -1;
    }
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    int c;
    while ((c = getopt_long(argc, argv, "dtQ:", long_opts, NULL)) != -1) {
        if (parse_flag(o, c, optarg) != 0) {
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ferryd: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return 0;
}

static int query(const char *what)
{
    const char *list = NULL;
    if (strcmp(what, "cipher") == 0) {
        list = ferry_cipher_supported();
    } else if (strcmp(what, "mac") == 0) {
        list = ferry_mac_supported();
    } else if (strcmp(what, "kex") == 0) {
        list = ferry_kexalg_supported();
    } else if (strcmp(what, "key") == 0 || strcmp(what, "sig") == 0) {
        list = ferry_sigalg_supported();
    } else if (strcmp(what, "cipher-default") == 0) {
        list = ferry_cipher_default();
    } else if (strcmp(what, "mac-default") == 0) {
        list = ferry_mac_default();
    } else if (strcmp(what, "kex-default") == 0) {
        list = ferry_kexalg_default_server();
    } else if (strcmp(what, "key-default") == 0) {
        list = ferry_sigalg_default();
    } else {
        fprintf(stderr, "ferryd: -Q takes cipher, mac, kex or key (optionally -default)\n");
        return 2;
    }
    for (const char *p = list; *p != '\0'; p++) {
        putchar(*p == ',' ? '\n' : *p);
    }
    putchar('\n');
    return 0;
}

/* Reads one line (the password) from stdin and prints a yescrypt hash for
 * PasswordHash / --password-hash. */
static int hash_password(void)
{
    char pw[1024], out[256];
    if (fgets(pw, sizeof(pw), stdin) == NULL) {
        fprintf(stderr, "ferryd: no password on standard input\n");
        return 2;
    }
    pw[strcspn(pw, "\r\n")] = '\0';
    int r = ferryd_auth_hash_password(pw, out, sizeof(out));
    OPENSSL_cleanse(pw, sizeof(pw));
    if (r != FERRY_OK) {
        fprintf(stderr, "ferryd: cannot hash: %s\n", ferry_strerror(r));
        return 1;
    }
    printf("%s\n", out);
    return 0;
}

static const char *invoking_user(void)
{
    struct passwd *pw = getpwuid(getuid());
    if (pw != NULL) {
        return pw->pw_name;
    }
    const char *u = getenv("USER");
    return u != NULL ? u : "ferry";
}

/* Flags override scalars and add to lists (--listen replaces the
 * configuration's addresses: one wants a different port more often than
 * an extra one). */
static int apply_flags(ferryd_config *cfg, const struct opts *o, const char *user)
{
    int r = FERRY_OK;
    if (o->n_listen > 0) {
        for (size_t i = 0; i < cfg->n_listen; i++) {
            free(cfg->listen[i]);
            cfg->listen[i] = NULL;
        }
        cfg->n_listen = 0;
        for (size_t i = 0; i < o->n_listen && r == FERRY_OK; i++) {
            r = ferryd_config_set_str(&cfg->listen[cfg->n_listen++], o->listen[i]);
        }
    }
    for (size_t i = 0; i < o->n_host_keys && r == FERRY_OK; i++) {
        if (cfg->n_host_keys >= FERRYD_MAX_HOST_KEYS) {
            return FERRY_E_TOO_LARGE;
        }
        r = ferryd_config_set_str(&cfg->host_keys[cfg->n_host_keys++], o->host_keys[i]);
    }
    if (r != FERRY_OK || !(o->root || o->n_keyfiles || o->password_hash || o->mode || o->user)) {
        return r;
    }
    ferryd_user_conf *u = NULL;
    r = ferryd_config_user_add(cfg, user, &u);
    if (r == FERRY_OK && o->root) {
        r = ferryd_config_set_str(&u->root, o->root);
    }
    if (r == FERRY_OK && o->password_hash) {
        r = ferryd_config_set_str(&u->password_hash, o->password_hash);
    }
    if (r == FERRY_OK && o->mode && ferryd_config_mode_from_name(o->mode, &u->mode) != FERRY_OK) {
        fprintf(stderr, "ferryd: bad --mode \"%s\"\n", o->mode);
        return FERRY_E_INVALID_ARG;
    }
    for (size_t i = 0; i < o->n_keyfiles && r == FERRY_OK; i++) {
        if (u->n_keyfiles >= FERRYD_MAX_KEYFILES) {
            return FERRY_E_TOO_LARGE;
        }
        r = ferryd_config_set_str(&u->keyfiles[u->n_keyfiles++], o->keyfiles[i]);
    }
    return r;
}

/* Every user needs an existing root directory (made absolute) and some way
 * to log in. */
static int check_users(ferryd_config *cfg)
{
    if (cfg->n_users == 0) {
        fprintf(stderr, "ferryd: no user: give --root/--authorized-keys or User blocks\n");
        return FERRY_E_INVALID_ARG;
    }
    for (size_t i = 0; i < cfg->n_users; i++) {
        ferryd_user_conf *u = &cfg->users[i];
        char abs[PATH_MAX], tilde[PATH_MAX];
        struct stat st;
        const char *home = getenv("HOME");
        if (u->root != NULL && strncmp(u->root, "~/", 2) == 0 && home != NULL &&
            snprintf(tilde, sizeof(tilde), "%s/%s", home, u->root + 2) < (int)sizeof(tilde) &&
            ferryd_config_set_str(&u->root, tilde) != FERRY_OK) {
            return FERRY_E_ALLOC;
        }
        if (u->root == NULL || realpath(u->root, abs) == NULL || stat(abs, &st) != 0 ||
            !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "ferryd: user %s: Root %s is not an existing directory\n", u->name,
                    u->root ? u->root : "(not set)");
            return FERRY_E_INVALID_ARG;
        }
        int r = ferryd_config_set_str(&u->root, abs);
        if (r != FERRY_OK) {
            return r;
        }
        if (u->n_keyfiles == 0 && u->password_hash == NULL) {
            fprintf(stderr, "ferryd: warning: user %s has neither keys nor a password\n", u->name);
        }
    }
    return FERRY_OK;
}

/* AuthenticationMethods, unless given, lists the methods switched on by
 * Pubkey-, Password- and KbdInteractiveAuthentication (any one suffices). */
static int derive_auth_methods(ferryd_server *srv)
{
    const ferryd_config *cfg = &srv->cfg;
    if (cfg->auth_methods != NULL) {
        return ferryd_config_set_str(&srv->auth_methods, cfg->auth_methods);
    }
    char m[64] = "";
    if (cfg->pubkey_auth) {
        strcat(m, "publickey ");
    }
    if (cfg->password_auth) {
        strcat(m, "password ");
    }
    if (cfg->password_auth && cfg->kbdint_auth) {
        strcat(m, "keyboard-interactive ");
    }
    if (m[0] == '\0') {
        fprintf(stderr, "ferryd: both PubkeyAuthentication and PasswordAuthentication are off\n");
        return FERRY_E_INVALID_ARG;
    }
    m[strlen(m) - 1] = '\0';
    return ferryd_config_set_str(&srv->auth_methods, m);
}

static const char *first_hash(const ferryd_config *cfg)
{
    for (size_t i = 0; i < cfg->n_users; i++) {
        if (cfg->users[i].password_hash != NULL) {
            return cfg->users[i].password_hash;
        }
    }
    return NULL;
}

static int build_config(ferryd_server *srv, const struct opts *o, const char *user)
{
    char err[512] = "";
    int r = FERRY_OK;
    if (o->config != NULL) {
        r = ferryd_config_load(&srv->cfg, o->config, err, sizeof(err));
        if (r != FERRY_OK) {
            fprintf(stderr, "ferryd: %s\n", err);
            return r;
        }
    }
    if ((r = apply_flags(&srv->cfg, o, user)) != FERRY_OK) {
        return r;
    }
    if (o->quick && (r = ferryd_quick_prepare(&srv->cfg, user)) != FERRY_OK) {
        return r;
    }
    if ((r = check_users(&srv->cfg)) != FERRY_OK) {
        return r;
    }
    if ((r = ferryd_config_algs(&srv->cfg, &srv->algs, err, sizeof(err))) != FERRY_OK) {
        fprintf(stderr, "ferryd: %s\n", err);
        return r;
    }
    if ((r = derive_auth_methods(srv)) != FERRY_OK) {
        return r;
    }
    r = ferryd_auth_dummy_hash(first_hash(&srv->cfg), srv->dummy_hash, sizeof(srv->dummy_hash));
    if (r != FERRY_OK) {
        fprintf(stderr, "ferryd: crypt(3) cannot make a yescrypt hash\n");
    }
    return r;
}

/* TrustedUserCAKeys: read once at start, like the host keys (a missing or
 * keyless file is an error: certificates would be refused silently). */
static int load_user_cas(ferryd_server *srv)
{
    const char *path = srv->cfg.trusted_user_ca_keys;
    size_t skipped = 0;
    if (path == NULL) {
        return FERRY_OK;
    }
    int r = ferry_authkeys_load(path, &srv->user_cas, &skipped);
    if (r == FERRY_OK && ferry_authkeys_count(srv->user_cas) == 0) {
        r = FERRY_E_NOT_FOUND;
    }
    if (r != FERRY_OK) {
        fprintf(stderr, "ferryd: TrustedUserCAKeys %s: %s\n", path,
                r == FERRY_E_NOT_FOUND ? "no usable CA key" : ferry_strerror(r));
        return r;
    }
    if (skipped > 0) {
        ferry_info("TrustedUserCAKeys %s: %zu line(s) skipped", path, skipped);
    }
    ferry_info("TrustedUserCAKeys %s: %zu CA key(s)", path, ferry_authkeys_count(srv->user_cas));
    return FERRY_OK;
}

/* Banner: read once at start (at most 64 KiB), as the listener may read
 * files the sessions cannot; a file that cannot be read stops ferryd. */
static int load_banner(ferryd_server *srv)
{
    size_t len = 0;
    if (srv->cfg.banner == NULL) {
        return FERRY_OK;
    }
    int r = ferry_authfile_slurp(srv->cfg.banner, 64 * 1024, &srv->banner, &len);
    if (r == FERRY_OK && memchr(srv->banner, '\0', len) != NULL) {
        r = FERRY_E_FORMAT;
    }
    if (r == FERRY_OK) {
        char *t = realloc(srv->banner, len + 1);
        r = t != NULL ? FERRY_OK : FERRY_E_ALLOC;
        if (t != NULL) {
            t[len] = '\0';
            srv->banner = t;
        }
    }
    if (r != FERRY_OK) {
        fprintf(stderr, "ferryd: Banner %s: %s\n", srv->cfg.banner, ferry_strerror(r));
        free(srv->banner);
        srv->banner = NULL;
    }
    return r;
}

/* RevokedKeys is read by each connection; a file that cannot be read now
 * stops ferryd (every key would be refused). */
static int check_revoked(const ferryd_server *srv)
{
    const char *path = srv->cfg.revoked_keys;
    ferry_revoke *rl = NULL;
    if (path == NULL) {
        return FERRY_OK;
    }
    int r = ferry_revoke_load(path, &rl);
    if (r != FERRY_OK) {
        fprintf(stderr, "ferryd: RevokedKeys %s: %s\n", path, ferry_strerror(r));
    }
    ferry_revoke_free(rl);
    return r;
}

static void server_free(ferryd_server *srv)
{
    ferryd_audit_file_close(&srv->audit_file);
    ferryd_userstore_free(&srv->users);
    ferry_authkeys_free(srv->user_cas);
    for (size_t i = 0; i < srv->n_host_keys; i++) {
        ferry_key_free(srv->host_keys[i]);
    }
    for (size_t i = 0; i < srv->n_host_certs; i++) {
        ferry_cert_free(srv->host_certs[i]);
    }
    ferryd_algs_free(&srv->algs);
    free(srv->auth_methods);
    free(srv->banner);
    ferryd_config_free(&srv->cfg);
}

static int set_log_level(const struct opts *o, ferryd_server *srv)
{
    int level = srv->cfg.log_level;
    if (o->log_level != NULL) {
        char line[128], err[256];
        snprintf(line, sizeof(line), "LogLevel %s\n", o->log_level);
        if (ferryd_config_parse(&srv->cfg, line, strlen(line), "--log-level", err, sizeof(err))) {
            fprintf(stderr, "ferryd: %s\n", err);
            return -1;
        }
        level = srv->cfg.log_level;
    }
    if (o->debug > 0) {
        level = o->debug > 1 ? FERRY_LOG_TRACE : FERRY_LOG_DEBUG;
    }
    ferry_log_set_level(level);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof(o));
    ferry_log_set_ident("ferryd");
    if (parse_args(argc, argv, &o) != 0) {
        return 2;
    }
    if (o.query != NULL) {
        return query(o.query);
    }
    if (o.hash_password) {
        return hash_password();
    }
    ferryd_server srv;
    memset(&srv, 0, sizeof(srv));
    srv.audit_file.fd = -1;
    ferryd_config_init(&srv.cfg);
    const char *user = o.user != NULL ? o.user : invoking_user();
    int status = 1;
    if (build_config(&srv, &o, user) != FERRY_OK || set_log_level(&o, &srv) != 0) {
        goto out;
    }
    if (o.test_only) {
        printf("ferryd: configuration OK (%zu user(s))\n", srv.cfg.n_users);
        status = 0;
        goto out;
    }
    if (srv.cfg.audit_log != NULL) {
        if (ferryd_audit_file_open(srv.cfg.audit_log, &srv.audit_file) != 0) {
            fprintf(stderr, "ferryd: AuditLog %s: %s\n", srv.cfg.audit_log, strerror(errno));
            goto out;
        }
        srv.audit = &srv.audit_file.sink;
    }
    if (ferryd_hostkeys_load(&srv) != FERRY_OK || load_user_cas(&srv) != FERRY_OK ||
        check_revoked(&srv) != FERRY_OK || load_banner(&srv) != FERRY_OK ||
        ferryd_userstore_conf_new(&srv.cfg, &srv.users) != FERRY_OK) {
        goto out;
    }
    if (o.quick) {
        srv.on_bound = ferryd_quick_print;
        srv.quick_user = user;
    }
    status = ferryd_listener_run(&srv);
out:
    server_free(&srv);
    return status;
}
