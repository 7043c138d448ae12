/* glob.c: remote globbing over READDIR (fnmatch per path component,
 * hidden names only for patterns starting with '.') and local glob(3). */
#include "ferry.h"

#include <fnmatch.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

typedef struct strvec {
    char **v;
    int n, cap;
} strvec;

static int sv_push(strvec *s, char *str)
{
    if (str == NULL) {
        return -1;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        char **v = realloc(s->v, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            free(str);
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

void ferry_glob_free(char **v, int n)
{
    for (int i = 0; v != NULL && i < n; i++) {
        free(v[i]);
    }
    free(v);
}

int ferry_glob_has_magic(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' && s[1] != '\0') {
            s++;
        } else if (*s == '*' || *s == '?' || *s == '[') {
            return 1;
        }
    }
    return 0;
}

static char *unescape(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    size_t j = 0;
    if (o == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            i++;
        }
        o[j++] = s[i];
    }
    o[j] = '\0';
    return o;
}

char *ferry_glob_unescape(const char *s)
{
    return unescape(s, strlen(s));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expands components of `rest` under remote directory abs (shown as
 * `shown`, possibly ""). */
static int expand(ferry_client *cl, const char *abs, const char *shown, const char *rest,
                  strvec *out)
{
    size_t clen = strcspn(rest, "/");
    const char *next = rest[clen] == '/' ? rest + clen + 1 : NULL;
    char *comp = strndup(rest, clen);
    ferry_sftpc_name *names = NULL;
    size_t n = 0;
    int rc = 0;

    if (comp == NULL) {
        return -1;
    }
    while (next != NULL && *next == '/') {
        next++;
    }
    if (next != NULL && *next == '\0') {
        next = NULL;
    }
    if (!ferry_glob_has_magic(comp)) {
        char *plain = unescape(comp, strlen(comp));
        char *a2 = plain ? ferry_path_join(abs, plain) : NULL;
        char *s2 = plain ? (*shown ? ferry_path_join(shown, plain) : strdup(plain)) : NULL;
        if (a2 == NULL || s2 == NULL) {
            rc = -1;
        } else if (next != NULL) {
            rc = expand(cl, a2, s2, next, out);
        } else if (ferry_sftpc_lstat(cl->sftp, a2, &(ferry_sftp_attrs){0}) == 0) {
            rc = sv_push(out, strdup(s2));
        }
        free(plain);
        free(a2);
        free(s2);
        free(comp);
        return rc;
    }
    if (ferry_sftpc_readdir_all(cl->sftp, abs, 0, &names, &n) != 0) {
        free(comp);
        return 0; /* unreadable directory: no matches there */
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *nm = names[i].name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || strchr(nm, '/') != NULL ||
            fnmatch(comp, nm, FNM_PERIOD) != 0) {
            continue;
        }
        char *a2 = ferry_path_join(abs, nm);
        char *s2 = *shown ? ferry_path_join(shown, nm) : strdup(nm);
        if (a2 == NULL || s2 == NULL) {
            rc = -1;
        } else if (next != NULL) {
            rc = expand(cl, a2, s2, next, out);
        } else {
            rc = sv_push(out, strdup(s2));
        }
        free(a2);
        free(s2);
    }
    ferry_sftpc_names_free(names, n);
    free(comp);
    return rc;
}

int ferry_glob_remote(ferry_client *cl, const char *pattern, char ***out)
{
    strvec sv = {0};
    int rc;
    if (!ferry_glob_has_magic(pattern)) {
        if (sv_push(&sv, unescape(pattern, strlen(pattern))) != 0) {
            return -1;
        }
        *out = sv.v;
        return sv.n;
    }
    if (pattern[0] == '/') {
        const char *rest = pattern + strspn(pattern, "/");
        rc = expand(cl, "/", "/", rest, &sv);
    } else {
        rc = expand(cl, cl->pwd, "", pattern, &sv);
    }
    if (rc != 0) {
        ferry_glob_free(sv.v, sv.n);
        return -1;
    }
    if (sv.n > 1) {
        qsort(sv.v, (size_t)sv.n, sizeof(char *), cmp_str);
    }
    *out = sv.v;
    return sv.n;
}

int ferry_glob_local(const char *pattern, char ***out)
{
    glob_t g;
    strvec sv = {0};
    int r;
    r = glob(pattern, GLOB_TILDE | GLOB_MARK, NULL, &g);
    if (r == GLOB_NOMATCH) {
        *out = NULL;
        return 0;
    }
    if (r != 0) {
        return -1;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        if (sv_push(&sv, strdup(g.gl_pathv[i])) != 0) {
            globfree(&g);
            ferry_glob_free(sv.v, sv.n);
            return -1;
        }
    }
    globfree(&g);
    *out = sv.v;
    return sv.n;
}
