/* quick.c: zero-set-up mode (see quick.h). */
#include "quick.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh/authfile.h"
#include "util/err.h"
#include "util/log.h"

#define QUICK_LISTEN "127.0.0.1:2222"

static const char *home_dir(void)
{
    const char *h = getenv("HOME");
    return h != NULL && h[0] == '/' ? h : "/";
}

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
        return FERRY_E_TOO_LARGE;
    }
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
                return ferry_err_sys();
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST) {
        return ferry_err_sys();
    }
    return FERRY_OK;
}

static int has_public_keys(const char *sshdir)
{
    char pat[4200];
    if (snprintf(pat, sizeof(pat), "%s/*.pub", sshdir) >= (int)sizeof(pat)) {
        return 0;
    }
    glob_t g;
    memset(&g, 0, sizeof(g));
    int found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    return found;
}

/* Makes ~/.ssh/id_ed25519 when the user has no key pair at all. */
static int ensure_user_key(const char *user)
{
    char dir[4096], priv[4200], pub[4200];
    snprintf(dir, sizeof(dir), "%s/.ssh", home_dir());
    if (has_public_keys(dir)) {
        return FERRY_OK;
    }
    int r = mkdir_p(dir, 0700);
    if (r != FERRY_OK) {
        return r;
    }
    snprintf(priv, sizeof(priv), "%s/id_ed25519", dir);
    snprintf(pub, sizeof(pub), "%s/id_ed25519.pub", dir);
    if (access(priv, F_OK) == 0) {
        return FERRY_OK; /* a private key without .pub: leave it alone */
    }
    ferry_key *k = NULL;
    char comment[256];
    snprintf(comment, sizeof(comment), "%s@ferry", user);
    r = ferry_key_generate(FERRY_KEY_ED25519, 0, &k);
    if (r == FERRY_OK) {
        r = ferry_key_save_private_file(k, comment, priv, pub);
    }
    ferry_key_free(k);
    if (r == FERRY_OK) {
        printf("ferryd: created the key pair %s (and .pub) for you\n", priv);
    }
    return r;
}

static int quick_user(ferryd_config *cfg, const char *user, const char *share)
{
    ferryd_user_conf *u = NULL;
    int r = ferryd_config_user_add(cfg, user, &u);
    if (r != FERRY_OK) {
        return r;
    }
    if (u->root == NULL && (r = ferryd_config_set_str(&u->root, share)) != FERRY_OK) {
        return r;
    }
    if (u->n_keyfiles == 0) {
        u->keyfiles[0] = strdup("~/.ssh/*.pub");
        u->keyfiles[1] = strdup("~/.ssh/authorized_keys");
        u->n_keyfiles = 2;
        if (u->keyfiles[0] == NULL || u->keyfiles[1] == NULL) {
            return FERRY_E_ALLOC;
        }
    }
    return FERRY_OK;
}

int ferryd_quick_prepare(ferryd_config *cfg, const char *user)
{
    char share[4096], confdir[4096], hostkey[4200];
    snprintf(share, sizeof(share), "%s/ferry-share", home_dir());
    snprintf(confdir, sizeof(confdir), "%s/.config/ferry", home_dir());
    snprintf(hostkey, sizeof(hostkey), "%s/ssh_host_ed25519_key", confdir);
    int r = mkdir_p(share, 0755);
    if (r == FERRY_OK) {
        r = mkdir_p(confdir, 0700);
    }
    if (r != FERRY_OK) {
        ferry_error("cannot create %s or %s: %s", share, confdir, ferry_err_detail());
        return r;
    }
    if (cfg->n_listen == 0) {
        cfg->listen[cfg->n_listen] = strdup(QUICK_LISTEN);
        if (cfg->listen[cfg->n_listen++] == NULL) {
            return FERRY_E_ALLOC;
        }
    }
    if (cfg->n_host_keys == 0) {
        cfg->host_keys[cfg->n_host_keys] = strdup(hostkey);
        if (cfg->host_keys[cfg->n_host_keys++] == NULL) {
            return FERRY_E_ALLOC;
        }
    }
    r = ensure_user_key(user);
    if (r != FERRY_OK) {
        ferry_error("cannot create ~/.ssh/id_ed25519: %s", ferry_strerror(r));
        return r;
    }
    return quick_user(cfg, user, share);
}

static void write_known_hosts(const ferryd_server *srv, const char *path, const char *host,
                              unsigned port)
{
    unlink(path);
    for (size_t i = 0; i < srv->n_host_keys; i++) {
        int r = ferry_known_hosts_add(path, host, (uint16_t)port, srv->host_keys[i], 0);
        if (r != FERRY_OK) {
            ferry_warn("cannot write %s: %s", path, ferry_strerror(r));
        }
    }
}

/* The ferry client to name: the one built beside this ferryd if there is
 * one (scripts/serve does not install anything), else "ferry" on PATH. */
static void ferry_client_path(char *out, size_t outsz)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    snprintf(out, outsz, "ferry");
    if (n <= 0) {
        return;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL) {
        return;
    }
    *slash = '\0';
    char cand[4200];
    if (snprintf(cand, sizeof(cand), "%s/ferry", self) < (int)sizeof(cand) &&
        access(cand, X_OK) == 0 && strlen(cand) < outsz) {
        snprintf(out, outsz, "%s", cand);
    }
}

void ferryd_quick_print(const ferryd_server *srv, const char *bound, unsigned port)
{
    char host[256], kh[4200], fp[128] = "";
    const char *user = srv->quick_user != NULL ? srv->quick_user : "?";
    snprintf(host, sizeof(host), "%s", bound);
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        snprintf(host, sizeof(host), "127.0.0.1");
    }
    int v6 = strchr(host, ':') != NULL;
    snprintf(kh, sizeof(kh), "%s/.config/ferry/known_hosts", home_dir());
    write_known_hosts(srv, kh, host, port);
    const ferryd_user_conf *u = NULL;
    for (size_t i = 0; i < srv->cfg.n_users; i++) {
        if (strcmp(srv->cfg.users[i].name, user) == 0) {
            u = &srv->cfg.users[i];
        }
    }
    if (srv->n_host_keys > 0) {
        ferry_key_fingerprint(srv->host_keys[0], fp, sizeof(fp));
    }
    printf("\nferryd: serving %s to user %s on %s port %u\n", u ? u->root : "?", user, host, port);
    printf("host key fingerprint: %s (%s)\n", fp,
           srv->n_host_keys ? ferry_key_type_name(srv->host_keys[0]) : "?");
    printf("users are authorised by the keys in ~/.ssh/*.pub and ~/.ssh/authorized_keys\n\n");
    char ferry[4200];
    ferry_client_path(ferry, sizeof(ferry));
    printf("connect with ferry:\n  %s -P %u -o UserKnownHostsFile=%s %s@%s%s%s\n", ferry, port, kh,
           user, v6 ? "[" : "", host, v6 ? "]" : "");
    printf("connect with OpenSSH:\n  sftp -P %u -o UserKnownHostsFile=%s %s@%s%s%s\n\n", port, kh,
           user, v6 ? "[" : "", host, v6 ? "]" : "");
    printf("stop with Ctrl-C.\n\n");
    fflush(stdout);
}
