/* userstore_conf.c: the configuration-file user store. */
#include "userstore.h"
#include "keyscmd.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

#define CONF_MAX_KEYSETS 64

struct conf_user {
    ferryd_user pub;
    const ferryd_user_conf *uc;
    int loaded;
    ferry_authkeys *sets[CONF_MAX_KEYSETS];
    size_t n_sets;
    char *principals;
};

struct conf_store {
    struct conf_user *users;
    size_t n_users;
};

/* Expands a leading "~/" to $HOME and every "%u" to the user name (a
 * user name is checked by the parser: letters, digits, "._-@" only, so it
 * cannot add glob or path syntax) into out[outsz]. */
static int expand_path(const char *path, const char *user, char *out, size_t outsz)
{
    const char *home = getenv("HOME");
    size_t o = 0;
    const char *p = path;
    if (strncmp(p, "~/", 2) == 0 && home != NULL) {
        int n = snprintf(out, outsz, "%s/", home);
        if (n < 0 || (size_t)n >= outsz) {
            return FERRY_E_TOO_LARGE;
        }
        o = (size_t)n;
        p += 2;
    }
    for (; *p != '\0'; p++) {
        const char *add = NULL;
        char one[2] = {*p, '\0'};
        if (p[0] == '%' && p[1] == 'u') {
            add = user;
            p++;
        } else {
            add = one;
        }
        size_t n = strlen(add);
        if (o + n >= outsz) {
            return FERRY_E_TOO_LARGE;
        }
        memcpy(out + o, add, n);
        o += n;
    }
    out[o] = '\0';
    return FERRY_OK;
}

static void load_one_file(struct conf_user *u, const char *path)
{
    if (u->n_sets >= CONF_MAX_KEYSETS) {
        ferry_warn("user %s: too many key files, ignoring %s", u->pub.name, path);
        return;
    }
    ferry_authkeys *ak = NULL;
    size_t skipped = 0;
    int r = ferry_authkeys_load(path, &ak, &skipped);
    if (r != FERRY_OK) {
        ferry_debug("user %s: cannot load %s: %s", u->pub.name, path, ferry_strerror(r));
        return;
    }
    if (skipped > 0) {
        ferry_debug("user %s: %zu unusable line(s) in %s", u->pub.name, skipped, path);
    }
    u->sets[u->n_sets++] = ak;
}

/* AuthorizedPrincipalsFile: one principal per line (ferryd_principals_parse).
 * An unreadable file leaves "" (no principal). */
static void load_principals(struct conf_user *u)
{
    char path[4096], who[4200], *text = NULL;
    size_t len = 0;
    u->principals = NULL;
    if (expand_path(u->uc->principals_file, u->pub.name, path, sizeof(path)) != FERRY_OK ||
        ferry_authfile_slurp(path, 1024 * 1024, &text, &len) != FERRY_OK) {
        ferry_warn("user %s: cannot read AuthorizedPrincipalsFile %s", u->pub.name, path);
        u->principals = calloc(1, 1);
        return;
    }
    snprintf(who, sizeof(who), "user %s: %s", u->pub.name, path);
    if (ferryd_principals_parse(text, len, who, &u->principals) != FERRY_OK) {
        u->principals = calloc(1, 1);
    }
    free(text);
}

static void load_keys(struct conf_user *u)
{
    char pat[4096];
    for (size_t i = 0; i < u->uc->n_keyfiles; i++) {
        if (expand_path(u->uc->keyfiles[i], u->pub.name, pat, sizeof(pat)) != FERRY_OK) {
            continue;
        }
        glob_t g;
        memset(&g, 0, sizeof(g));
        if (glob(pat, GLOB_NOSORT | GLOB_NOCHECK, NULL, &g) != 0) {
            globfree(&g);
            continue;
        }
        for (size_t j = 0; j < g.gl_pathc; j++) {
            load_one_file(u, g.gl_pathv[j]);
        }
        globfree(&g);
    }
    u->pub.keys = (const ferry_authkeys *const *)u->sets;
    u->pub.n_keys = u->n_sets;
    if (u->uc->principals_file != NULL) {
        load_principals(u);
        u->pub.principals = u->principals != NULL ? u->principals : "";
    }
    u->loaded = 1;
}

static int conf_lookup(void *ctx, const char *name, const ferryd_user **out)
{
    struct conf_store *cs = ctx;
    for (size_t i = 0; i < cs->n_users; i++) {
        struct conf_user *u = &cs->users[i];
        if (strcmp(u->pub.name, name) != 0) {
            continue;
        }
        if (!u->loaded) {
            load_keys(u);
        }
        *out = &u->pub;
        return FERRY_OK;
    }
    return FERRY_E_NOT_FOUND;
}

static void conf_free(void *ctx)
{
    struct conf_store *cs = ctx;
    if (cs == NULL) {
        return;
    }
    for (size_t i = 0; i < cs->n_users; i++) {
        for (size_t j = 0; j < cs->users[i].n_sets; j++) {
            ferry_authkeys_free(cs->users[i].sets[j]);
        }
        free(cs->users[i].principals);
    }
    free(cs->users);
    free(cs);
}

static const ferryd_userstore_ops conf_ops = {
    .lookup = conf_lookup,
    .free = conf_free,
};

int ferryd_userstore_conf_new(const ferryd_config *cfg, ferryd_userstore *out)
{
    struct conf_store *cs = calloc(1, sizeof(*cs));
    if (cs == NULL) {
        return FERRY_E_ALLOC;
    }
    cs->users = calloc(cfg->n_users ? cfg->n_users : 1, sizeof(*cs->users));
    if (cs->users == NULL) {
        free(cs);
        return FERRY_E_ALLOC;
    }
    for (size_t i = 0; i < cfg->n_users; i++) {
        struct conf_user *u = &cs->users[i];
        u->uc = &cfg->users[i];
        u->pub.name = u->uc->name;
        u->pub.root = u->uc->root;
        u->pub.password_hash = u->uc->password_hash;
        u->pub.mode = u->uc->mode;
        u->pub.from = u->uc->from;
        u->pub.auth_methods = u->uc->auth_methods;
    }
    cs->n_users = cfg->n_users;
    out->ops = &conf_ops;
    out->ctx = cs;
    return FERRY_OK;
}

void ferryd_userstore_free(ferryd_userstore *us)
{
    if (us != NULL && us->ops != NULL) {
        us->ops->free(us->ctx);
        us->ops = NULL;
        us->ctx = NULL;
    }
}
