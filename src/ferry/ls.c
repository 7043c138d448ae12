/* ls.c: the remote listing (ls -1afhlnrSt) and df output. As OpenSSH's
 * sftp: -l formats locally with the owners' names when the server offers
 * users-groups-by-id@openssh.com (asked once per id, remembered), else
 * prints the server's longname (listing a directory, named or not: its
 * own line, names without the directory) or numeric ids (named files);
 * -n and -h format locally. */
#include "cmds_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"

enum {
    LS_ONE = 1u << 0,
    LS_ALL = 1u << 1,
    LS_NOSORT = 1u << 2,
    LS_HUMAN = 1u << 3,
    LS_LONG = 1u << 4,
    LS_NUMERIC = 1u << 5,
    LS_REVERSE = 1u << 6,
    LS_SIZE = 1u << 7,
    LS_TIME = 1u << 8
};

typedef struct ls_ent {
    char *shown;
    const char *longname;
    ferry_sftp_attrs a;
} ls_ent;

static unsigned sort_flags;

/* Names learnt through users-groups-by-id@openssh.com ("" = none). */
typedef struct id_name {
    uint32_t id;
    int group;
    char *name;
} id_name;
static id_name *id_names;
static size_t n_id_names;

static const id_name *find_id(uint32_t id, int group)
{
    for (size_t i = 0; i < n_id_names; i++) {
        if (id_names[i].id == id && id_names[i].group == group) {
            return &id_names[i];
        }
    }
    return NULL;
}

static const char *id_name_of(uint32_t id, int group)
{
    const id_name *e = find_id(id, group);
    return e != NULL && e->name[0] != '\0' ? e->name : NULL;
}

/* Remembered, or in asked[0..n) already. */
static int id_known(uint32_t id, int group, const uint32_t *asked, size_t n)
{
    if (find_id(id, group) != NULL) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (asked[i] == id) {
            return 1;
        }
    }
    return 0;
}

#define MAX_IDS_ASKED 4096u

/* Asks the server once for the names of the owners and groups of
 * e[0..n) not known yet; on any failure the ids stay numbers. */
static void learn_names(ferry_client *cl, const ls_ent *e, size_t n)
{
    /* at most one new id of each kind per entry */
    size_t cap = n == 0 ? 1 : n < MAX_IDS_ASKED ? n : MAX_IDS_ASKED;
    uint32_t *ids[2] = {malloc(cap * 4), malloc(cap * 4)};
    char **names[2] = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(char *))};
    size_t cnt[2] = {0, 0};
    for (size_t i = 0; i < n && ids[0] && ids[1]; i++) {
        if (!(e[i].a.flags & SSH_FILEXFER_ATTR_UIDGID)) {
            continue;
        }
        uint32_t v[2] = {e[i].a.uid, e[i].a.gid};
        for (int g = 0; g < 2; g++) {
            if (cnt[g] < cap && !id_known(v[g], g, ids[g], cnt[g])) {
                ids[g][cnt[g]++] = v[g];
            }
        }
    }
    id_name *grown = ids[0] && ids[1] && names[0] && names[1] && cnt[0] + cnt[1] > 0
                         ? realloc(id_names, (n_id_names + cnt[0] + cnt[1]) * sizeof(*grown))
                         : NULL;
    if (grown != NULL) {
        id_names = grown;
        if (ferry_sftpc_users_groups(cl->sftp, ids[0], cnt[0], ids[1], cnt[1], names[0],
                                     names[1]) == FERRY_OK) {
            for (int g = 0; g < 2; g++) {
                for (size_t i = 0; i < cnt[g]; i++) {
                    id_names[n_id_names++] = (id_name){ids[g][i], g, names[g][i]};
                }
            }
        }
    }
    for (int g = 0; g < 2; g++) {
        free(ids[g]);
        free(names[g]);
    }
}

static int ls_cmp(const void *x, const void *y)
{
    const ls_ent *a = x, *b = y;
    int r = 0;
    if (sort_flags & LS_SIZE) {
        r = a->a.size < b->a.size ? 1 : a->a.size > b->a.size ? -1 : 0;
    } else if (sort_flags & LS_TIME) {
        r = a->a.mtime < b->a.mtime ? 1 : a->a.mtime > b->a.mtime ? -1 : 0;
    }
    if (r == 0) {
        r = strcmp(a->shown, b->shown);
    }
    return (sort_flags & LS_REVERSE) ? -r : r;
}

static void print_short(ferry_client *cl, ls_ent *e, size_t n, unsigned f)
{
    size_t maxlen = 0;
    int cols, c = 1;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(e[i].shown);
        maxlen = l > maxlen ? l : maxlen;
    }
    int colspace = (int)maxlen + 2;
    cols = (f & LS_ONE) ? 1 : ferry__cmd_term_cols() / colspace;
    cols = cols < 1 ? 1 : cols;
    for (size_t i = 0; i < n; i++) {
        char *esc = ferry_fmt_escape(e[i].shown);
        if (cols == 1) {
            fprintf(cl->out, "%s\n", esc ? esc : "?");
        } else {
            fprintf(cl->out, "%-*s", colspace, esc ? esc : "?");
            if (c >= cols) {
                fputc('\n', cl->out);
                c = 1;
            } else {
                c++;
            }
        }
        free(esc);
    }
    if (cols > 1 && c != 1) {
        fputc('\n', cl->out);
    }
}

static void print_entries(ferry_client *cl, ls_ent *e, size_t n, unsigned f)
{
    sort_flags = f;
    if (!(f & LS_NOSORT) && n > 1) {
        qsort(e, n, sizeof(*e), ls_cmp);
    }
    if (!(f & (LS_LONG | LS_NUMERIC))) {
        print_short(cl, e, n, f);
        return;
    }
    int named =
        !(f & LS_NUMERIC) && ferry_sftpc_has_ext(cl->sftp, "users-groups-by-id@openssh.com");
    if (named) {
        learn_names(cl, e, n);
    }
    for (size_t i = 0; i < n; i++) {
        char line[8192];
        if (!named && !(f & (LS_NUMERIC | LS_HUMAN)) && e[i].longname != NULL &&
            e[i].longname[0] != '\0') {
            char *esc = ferry_fmt_escape(e[i].longname);
            fprintf(cl->out, "%s\n", esc ? esc : "?");
            free(esc);
            continue;
        }
        ferry_fmt_long(line, sizeof(line), e[i].shown, &e[i].a, !named, (f & LS_HUMAN) != 0,
                       named ? id_name_of(e[i].a.uid, 0) : NULL,
                       named ? id_name_of(e[i].a.gid, 1) : NULL);
        fprintf(cl->out, "%s\n", line);
    }
}

/* Lists the contents of directory abs, whose OPENDIR is the request
 * `id` if it went out already (0: not); names shown under `prefix`. */
static int ls_dir(ferry_client *cl, uint32_t id, const char *abs, const char *prefix, unsigned f)
{
    ferry_sftpc_name *names = NULL;
    size_t n = 0, k = 0;
    int r = id != 0 ? ferry_sftpc_readdir_wait(cl->sftp, id, 0, &names, &n)
                    : ferry_sftpc_readdir_all(cl->sftp, abs, 0, &names, &n);
    if (r != 0) {
        ferry__cmd_err(cl, "Couldn't read directory", abs, r);
        return -1;
    }
    ls_ent *e = calloc(n ? n : 1, sizeof(*e));
    for (size_t i = 0; e != NULL && i < n; i++) {
        if (names[i].name[0] == '.' && !(f & LS_ALL)) {
            continue;
        }
        e[k].shown = prefix ? ferry_path_join(prefix, names[i].name) : strdup(names[i].name);
        e[k].longname = names[i].longname;
        e[k].a = names[i].attrs;
        if (e[k].shown != NULL) {
            k++;
        }
    }
    if (e != NULL) {
        print_entries(cl, e, k, f);
        for (size_t i = 0; i < k; i++) {
            free(e[i].shown);
        }
    }
    free(e);
    ferry_sftpc_names_free(names, n);
    return e == NULL ? -1 : 0;
}

/* Lists the matches of a glob pattern themselves. */
static int ls_matches(ferry_client *cl, char **v, int n, unsigned f)
{
    ls_ent *e = calloc((size_t)n, sizeof(*e));
    size_t k = 0;
    int rc = 0;
    if (e == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char *abs = ferry_path_abs(cl, v[i]);
        int r = abs ? ferry_sftpc_lstat(cl->sftp, abs, &e[k].a) : -1;
        if (r == 0) {
            e[k++].shown = v[i];
        } else {
            rc = -1;
        }
        free(abs);
    }
    print_entries(cl, e, k, f);
    free(e);
    return rc;
}

static int ls_one(ferry_client *cl, const char *arg, unsigned f)
{
    char **v = NULL;
    int n, rc;
    uint32_t did;
    if (arg == NULL) {
        return ls_dir(cl, 0, cl->pwd, NULL, f);
    }
    if ((n = ferry__cmd_glob(cl, arg, &v)) < 0) {
        return -1;
    }
    if (!ferry_glob_has_magic(arg)) {
        /* the OPENDIR goes with the STAT that tells a directory */
        char *abs = ferry_path_abs(cl, v[0]);
        ferry_sftp_attrs a;
        int r = abs ? ferry__cmd_stat_dir(cl, abs, 1, &a, &did) : -1;
        int isdir = r == 0 && ferry_sftp_attrs_is_dir(&a);
        if (r != 0) {
            ferry__cmd_err(cl, "Can't ls", abs ? abs : v[0], r);
            rc = -1;
        } else if (isdir) {
            rc = ls_dir(cl, did, abs, v[0], f);
        } else {
            rc = ls_matches(cl, v, n, f);
        }
        free(abs);
    } else {
        rc = ls_matches(cl, v, n, f);
    }
    ferry_glob_free(v, n);
    return rc;
}

int ferry__cmd_ls(ferry_client *cl, int argc, char **argv)
{
    unsigned f;
    int first, rc = 0;
    if (ferry__cmd_flags(argc, argv, "1afhlnrSt", &f, &first) != 0) {
        return -1;
    }
    if (f & LS_NUMERIC) {
        f |= LS_LONG;
    }
    if (first == argc) {
        return ls_one(cl, NULL, f);
    }
    for (int i = first; i < argc; i++) {
        if (ls_one(cl, argv[i], f) != 0) {
            rc = -1;
        }
    }
    return rc;
}

void ferry__cmd_print_df(ferry_client *cl, const ferry_sftpc_vfsinfo *st, unsigned flags)
{
    uint64_t fr = st->frsize ? st->frsize : st->bsize;
    uint64_t size = st->blocks * fr, used = (st->blocks - st->bfree) * fr;
    uint64_t avail = st->bavail * fr, root = st->bfree * fr;
    unsigned cap = st->blocks ? (unsigned)(100 * (st->blocks - st->bfree) / st->blocks) : 0;
    if (flags & 2u) {
        fprintf(cl->out, "%12s %12s %12s %12s %12s\n", "Inodes", "Used", "Avail", "(root)",
                "%Capacity");
        fprintf(cl->out, "%12llu %12llu %12llu %12llu %11u%%\n", (unsigned long long)st->files,
                (unsigned long long)(st->files - st->ffree), (unsigned long long)st->favail,
                (unsigned long long)st->ffree,
                st->files ? (unsigned)(100 * (st->files - st->ffree) / st->files) : 0);
    } else if (flags & 1u) {
        char s[4][32];
        ferry_fmt_human(size, s[0], 32);
        ferry_fmt_human(used, s[1], 32);
        ferry_fmt_human(avail, s[2], 32);
        ferry_fmt_human(root, s[3], 32);
        fprintf(cl->out, "%8s %8s %8s %8s %12s\n", "Size", "Used", "Avail", "(root)", "%Capacity");
        fprintf(cl->out, "%8s %8s %8s %8s %11u%%\n", s[0], s[1], s[2], s[3], cap);
    } else {
        fprintf(cl->out, "%12s %12s %12s %12s %12s\n", "Size", "Used", "Avail", "(root)",
                "%Capacity");
        fprintf(cl->out, "%12llu %12llu %12llu %12llu %11u%%\n", (unsigned long long)(size / 1024),
                (unsigned long long)(used / 1024), (unsigned long long)(avail / 1024),
                (unsigned long long)(root / 1024), cap);
    }
}
