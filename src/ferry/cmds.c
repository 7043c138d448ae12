/* cmds.c: the sftp commands (OpenSSH sftp's set and flags) and the one
 * dispatch table. Transfers (get/put and friends) are in xfer.c. */
#include "ferry.h"
#include "cmds_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"

/* ---- paths ---- */

char *ferry_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    char *o;
    if (name[0] == '/') {
        return strdup(name);
    }
    if (dl == 0) {
        return strdup(name);
    }
    o = malloc(dl + strlen(name) + 2);
    if (o != NULL) {
        sprintf(o, "%s%s%s", dir, dir[dl - 1] == '/' ? "" : "/", name);
    }
    return o;
}

char *ferry_path_abs(const ferry_client *cl, const char *path)
{
    return ferry_path_join(cl->pwd, path);
}

const char *ferry_path_base(const char *path)
{
    const char *s = strrchr(path, '/');
    if (s == NULL) {
        return path;
    }
    if (s[1] != '\0') {
        return s + 1;
    }
    /* trailing slash: the component before it */
    while (s > path && *s == '/') {
        s--;
    }
    while (s > path && s[-1] != '/') {
        s--;
    }
    return s;
}

/* ---- helpers shared with xfer.c ---- */

/* The wording OpenSSH's sftp uses for each status code (the server's own
 * message is not shown: it is untrusted and often empty). */
static const char *status_text(uint32_t st)
{
    static const char *const text[] = {
        "No error",          "End of file",     "No such file or directory",
        "Permission denied", "Failure",         "Bad message",
        "No connection",     "Connection lost", "Operation unsupported",
    };
    return st < sizeof(text) / sizeof(text[0]) ? text[st] : "Unknown status";
}

void ferry__cmd_err(ferry_client *cl, const char *what, const char *path, int rc)
{
    const char *msg = NULL;
    char *e = path ? ferry_fmt_escape(path) : NULL;
    if (rc == FERRY_E_SYSTEM || rc == FERRY_E_NOT_FOUND || rc == FERRY_E_PERMISSION ||
        rc == FERRY_E_EOF || rc == FERRY_E_FORMAT || rc == FERRY_E_CLOSED) {
        msg = status_text(ferry_sftpc_last_status(cl->sftp, NULL));
    }
    if (ferry_sftpc_dead(cl->sftp)) {
        msg = "Connection closed";
    }
    if (msg == NULL) {
        msg = rc == FERRY_E_UNSUPPORTED ? "Operation unsupported"
              : rc == FERRY_E_AGAIN     ? "Interrupted"
                                        : ferry_strerror(rc);
    }
    if (e != NULL) {
        fprintf(stderr, "%s \"%s\": %s\n", what, e, msg);
    } else {
        fprintf(stderr, "%s: %s\n", what, msg);
    }
    free(e);
}

int ferry__cmd_flags(int argc, char **argv, const char *allowed, unsigned *flags, int *first)
{
    int i = 1;
    *flags = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        for (const char *f = argv[i] + 1; *f; f++) {
            const char *pos = strchr(allowed, *f);
            if (pos == NULL) {
                fprintf(stderr, "%s: Invalid flag -%c\n", argv[0], *f);
                return -1;
            }
            *flags |= 1u << (pos - allowed);
        }
    }
    *first = i;
    return 0;
}

int ferry__cmd_is_dir(ferry_client *cl, const char *abs)
{
    ferry_sftp_attrs a;
    return ferry_sftpc_stat(cl->sftp, abs, &a) == FERRY_OK && ferry_sftp_attrs_is_dir(&a);
}

int ferry__cmd_stat_dir(ferry_client *cl, const char *abs, int with_dir, ferry_sftp_attrs *a,
                        uint32_t *did)
{
    uint32_t sid;
    *did = 0;
    int r = ferry_sftpc_stat_send(cl->sftp, abs, &sid);
    if (r == FERRY_OK && with_dir && ferry_sftpc_opendir_send(cl->sftp, abs, did) != FERRY_OK) {
        *did = 0;
    }
    r = r == FERRY_OK ? ferry_sftpc_stat_wait(cl->sftp, sid, a) : r;
    if (*did != 0 && !(r == FERRY_OK && ferry_sftp_attrs_is_dir(a))) {
        ferry_sftpc_opendir_drop(cl->sftp, *did); /* not a directory: its handle closed */
        *did = 0;
    }
    return r;
}

/* Expands argv[i] remotely; prints an error for no match. */
int ferry__cmd_glob(ferry_client *cl, const char *pat, char ***v)
{
    int n = ferry_glob_remote(cl, pat, v);
    if (n == 0) {
        char *e = ferry_fmt_escape(pat);
        fprintf(stderr, "File \"%s\" not found.\n", e ? e : "?");
        free(e);
        free(*v);
        *v = NULL;
        return -1;
    }
    return n;
}

static int need_args(int argc, int min, int max, const char *cmd)
{
    if (argc - 1 < min) {
        fprintf(stderr, "You must specify %s for %s.\n", min > 1 ? "two paths" : "a path", cmd);
        return -1;
    }
    if (max >= 0 && argc - 1 > max) {
        fprintf(stderr, "%s: Too many arguments.\n", cmd);
        return -1;
    }
    return 0;
}

/* ---- simple commands ---- */

static int cmd_quit(ferry_client *cl, int argc, char **argv)
{
    (void)cl, (void)argc, (void)argv;
    return 1;
}

static int cmd_pwd(ferry_client *cl, int argc, char **argv)
{
    char *e = ferry_fmt_escape(cl->pwd);
    (void)argc, (void)argv;
    fprintf(cl->out, "Remote working directory: %s\n", e ? e : "?");
    free(e);
    return 0;
}

static int cmd_lpwd(ferry_client *cl, int argc, char **argv)
{
    char buf[PATH_MAX];
    (void)argc, (void)argv;
    if (getcwd(buf, sizeof(buf)) == NULL) {
        fprintf(stderr, "getcwd: %s\n", strerror(errno));
        return -1;
    }
    fprintf(cl->out, "Local working directory: %s\n", buf);
    return 0;
}

static int cmd_cd(ferry_client *cl, int argc, char **argv)
{
    char **v = NULL, *abs = NULL, *real = NULL;
    ferry_sftp_attrs a;
    int n, rc = -1;
    const char *target = argc > 1 ? argv[1] : NULL;
    if (target == NULL) {
        target = cl->home;
    }
    if ((n = ferry__cmd_glob(cl, target, &v)) < 0) {
        return -1;
    }
    if ((abs = ferry_path_abs(cl, v[0])) == NULL) {
        goto out;
    }
    /* REALPATH and STAT in one flight: the STAT of the path as given
     * follows the same links to the same place as one of its real path */
    uint32_t rid, sid;
    int r = ferry_sftpc_realpath_send(cl->sftp, abs, &rid);
    int sr = r == FERRY_OK ? ferry_sftpc_stat_send(cl->sftp, abs, &sid) : r;
    r = r == FERRY_OK ? ferry_sftpc_realpath_wait(cl->sftp, rid, &real) : r;
    sr = sr == FERRY_OK ? ferry_sftpc_stat_wait(cl->sftp, sid, &a) : sr;
    r = r == FERRY_OK ? sr : r;
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't canonicalize path", abs, r);
        goto out;
    }
    if (!ferry_sftp_attrs_is_dir(&a)) {
        char *e = ferry_fmt_escape(real);
        fprintf(stderr, "Can't change directory: \"%s\" is not a directory\n", e ? e : "?");
        free(e);
        goto out;
    }
    free(cl->pwd);
    cl->pwd = real;
    real = NULL;
    rc = 0;
out:
    ferry_glob_free(v, n);
    free(abs);
    free(real);
    return rc;
}

static int cmd_lcd(ferry_client *cl, int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : getenv("HOME");
    (void)cl;
    if (dir == NULL || chdir(dir) != 0) {
        fprintf(stderr, "Couldn't change local directory to \"%s\": %s\n", dir ? dir : "",
                strerror(errno));
        return -1;
    }
    return 0;
}

/* lls: the local ls through the shell, arguments as typed (so the shell
 * expands local patterns, as OpenSSH's sftp does). */
static int cmd_lls(ferry_client *cl, int argc, char **argv)
{
    char cmd[8192] = "exec ls";
    size_t used = strlen(cmd);
    for (int i = 1; i < argc; i++) {
        int n = snprintf(cmd + used, sizeof(cmd) - used, " %s", argv[i]);
        if (n < 0 || (size_t)n >= sizeof(cmd) - used) {
            fprintf(stderr, "lls: arguments too long\n");
            return -1;
        }
        used += (size_t)n;
    }
    return ferry_shell_system(cl, cmd) == 0 ? 0 : -1;
}

static int cmd_lmkdir(ferry_client *cl, int argc, char **argv)
{
    (void)cl;
    if (need_args(argc, 1, 1, "lmkdir") != 0) {
        return -1;
    }
    if (mkdir(argv[1], 0777) != 0) {
        fprintf(stderr, "Couldn't create local directory \"%s\": %s\n", argv[1], strerror(errno));
        return -1;
    }
    return 0;
}

static int cmd_lumask(ferry_client *cl, int argc, char **argv)
{
    char *end;
    long v;
    if (argc != 2 || (v = strtol(argv[1], &end, 8), *end != '\0') || v < 0 || v > 0777) {
        fprintf(stderr, "You must supply a numeric argument to the lumask command.\n");
        return -1;
    }
    cl->umask_ = (mode_t)v;
    umask(cl->umask_);
    fprintf(cl->out, "Local umask: %03lo\n", v);
    return 0;
}

static int cmd_mkdir(ferry_client *cl, int argc, char **argv)
{
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_PERMISSIONS, .perm = 0777};
    char *plain, *abs;
    int r;
    if (need_args(argc, 1, 1, "mkdir") != 0 || (plain = ferry_glob_unescape(argv[1])) == NULL) {
        return -1;
    }
    abs = ferry_path_abs(cl, plain);
    free(plain);
    if (abs == NULL) {
        return -1;
    }
    r = ferry_sftpc_mkdir(cl->sftp, abs, &a);
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't create directory", abs, r);
    }
    free(abs);
    return r == FERRY_OK ? 0 : -1;
}

/* Runs fn on every remote match of every argument from `first` (fn
 * owns abs), and `done` (if not NULL) after each argument's matches. */
static int for_each_remote(ferry_client *cl, int argc, char **argv, int first,
                           int (*fn)(ferry_client *, char *abs, void *), void *ctx,
                           int (*done)(ferry_client *, void *))
{
    int rc = 0;
    for (int i = first; i < argc; i++) {
        char **v = NULL;
        int n = ferry__cmd_glob(cl, argv[i], &v);
        if (n < 0) {
            rc = -1;
            continue;
        }
        for (int j = 0; j < n; j++) {
            char *abs = ferry_path_abs(cl, v[j]);
            if (abs == NULL || fn(cl, abs, ctx) != 0) {
                rc = -1;
            }
        }
        ferry_glob_free(v, n);
        if (done != NULL && done(cl, ctx) != 0) {
            rc = -1;
        }
    }
    return rc;
}

/* One request per remote match of every argument from `first` (type:
 * REMOVE, RMDIR or SETSTAT with *a), up to PATH_AHEAD in flight, the
 * answers taken in order: what is printed ("Removing ..." when `say`,
 * then any error, `what` its words) comes out as one at a time would
 * print it. A glob of many files costs one round trip, not one each. */
#define PATH_AHEAD 64

typedef struct path_jobs {
    uint8_t type;
    const ferry_sftp_attrs *a;
    int say;
    const char *what;
    struct {
        char *abs;
        uint32_t id;
        int sent;
    } q[PATH_AHEAD];
    size_t head, n;
} path_jobs;

/* Takes the oldest request's answer. */
static int path_take(ferry_client *cl, path_jobs *p)
{
    char *abs = p->q[p->head].abs;
    int r = p->q[p->head].sent;
    uint32_t id = p->q[p->head].id;
    p->head = (p->head + 1) % PATH_AHEAD;
    p->n--;
    if (p->say && !cl->quiet && !cl->batch) {
        char *e = ferry_fmt_escape(abs);
        fprintf(cl->out, "Removing %s\n", e ? e : "?");
        free(e);
    }
    r = r == FERRY_OK ? ferry_sftpc_status_wait(cl->sftp, id) : r;
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, p->what, abs, r);
    }
    free(abs);
    return r == FERRY_OK ? 0 : -1;
}

static int path_send(ferry_client *cl, char *abs, void *ctx)
{
    path_jobs *p = ctx;
    int rc = p->n == PATH_AHEAD ? path_take(cl, p) : 0;
    size_t k = (p->head + p->n) % PATH_AHEAD;
    p->q[k].abs = abs;
    p->q[k].sent = ferry_sftpc_path_send(cl->sftp, p->type, abs, p->a, &p->q[k].id);
    p->n++;
    return rc;
}

/* Every answer still to come (before the next argument's glob). */
static int path_drain(ferry_client *cl, void *ctx)
{
    path_jobs *p = ctx;
    int rc = 0;
    while (p->n > 0) {
        rc |= path_take(cl, p);
    }
    return rc;
}

static int each_path(ferry_client *cl, int argc, char **argv, int first, uint8_t type,
                     const ferry_sftp_attrs *a, int say, const char *what)
{
    path_jobs *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return -1;
    }
    *p = (path_jobs){.type = type, .a = a, .say = say, .what = what};
    int rc = for_each_remote(cl, argc, argv, first, path_send, p, path_drain);
    free(p);
    return rc;
}

static int cmd_rm(ferry_client *cl, int argc, char **argv)
{
    if (need_args(argc, 1, -1, "rm") != 0) {
        return -1;
    }
    return each_path(cl, argc, argv, 1, SSH_FXP_REMOVE, NULL, 1, "Couldn't delete file");
}

static int cmd_rmdir(ferry_client *cl, int argc, char **argv)
{
    if (need_args(argc, 1, 1, "rmdir") != 0) {
        return -1;
    }
    return each_path(cl, argc, argv, 1, SSH_FXP_RMDIR, NULL, 0, "Couldn't remove directory");
}

typedef struct setattr_ctx {
    ferry_sftp_attrs a;
    int nofollow;
    uint32_t which; /* SSH_FILEXFER_ATTR_PERMISSIONS or UIDGID with uid/gid markers */
    int set_uid, set_gid;
} setattr_ctx;

static int setattr_one(ferry_client *cl, const char *abs, setattr_ctx *s);

static int do_setattr(ferry_client *cl, char *abs, void *vctx)
{
    int rc = setattr_one(cl, abs, vctx);
    free(abs);
    return rc;
}

static int setattr_one(ferry_client *cl, const char *abs, setattr_ctx *s)
{
    ferry_sftp_attrs a = s->a;
    int r = FERRY_OK;
    if (s->set_uid || s->set_gid) {
        ferry_sftp_attrs cur;
        r = s->nofollow ? ferry_sftpc_lstat(cl->sftp, abs, &cur)
                        : ferry_sftpc_stat(cl->sftp, abs, &cur);
        if (r == FERRY_OK && !(cur.flags & SSH_FILEXFER_ATTR_UIDGID)) {
            fprintf(stderr, "%s: remote server did not send uid/gid\n", abs);
            return -1;
        }
        a.flags = SSH_FILEXFER_ATTR_UIDGID;
        a.uid = s->set_uid ? s->a.uid : cur.uid;
        a.gid = s->set_gid ? s->a.gid : cur.gid;
    }
    if (r == FERRY_OK) {
        /* lsetstat@openssh.com would be needed for -h; plain SETSTAT otherwise. */
        r = ferry_sftpc_setstat(cl->sftp, abs, &a);
    }
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't setstat on file", abs, r);
        return -1;
    }
    return 0;
}

static int cmd_setattr(ferry_client *cl, int argc, char **argv, int kind)
{
    setattr_ctx s = {0};
    unsigned flags;
    int first;
    char *end;
    unsigned long v;
    if (ferry__cmd_flags(argc, argv, "h", &flags, &first) != 0) {
        return -1;
    }
    s.nofollow = (int)(flags & 1u);
    if (argc - first < 2) {
        fprintf(stderr, "You must supply a numeric argument to the %s command.\n", argv[0]);
        return -1;
    }
    v = strtoul(argv[first], &end, kind == 0 ? 8 : 10);
    if (*end != '\0' || argv[first][0] == '\0' || (kind == 0 && v > 07777) || v > UINT32_MAX) {
        fprintf(stderr, "You must supply a numeric argument to the %s command.\n", argv[0]);
        return -1;
    }
    if (kind == 0) { /* chmod: no STAT first, so pipelined */
        s.a.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
        s.a.perm = (uint32_t)v;
        return each_path(cl, argc, argv, first + 1, SSH_FXP_SETSTAT, &s.a, 0,
                         "Couldn't setstat on file");
    } else if (kind == 1) {
        s.set_uid = 1;
        s.a.uid = (uint32_t)v;
    } else {
        s.set_gid = 1;
        s.a.gid = (uint32_t)v;
    }
    return for_each_remote(cl, argc, argv, first + 1, do_setattr, &s, NULL);
}

static int cmd_chmod(ferry_client *cl, int argc, char **argv)
{
    return cmd_setattr(cl, argc, argv, 0);
}

static int cmd_chown(ferry_client *cl, int argc, char **argv)
{
    return cmd_setattr(cl, argc, argv, 1);
}

static int cmd_chgrp(ferry_client *cl, int argc, char **argv)
{
    return cmd_setattr(cl, argc, argv, 2);
}

static int two_paths(ferry_client *cl, int argc, char **argv, int first, char **a, char **b)
{
    char **v = NULL;
    int n;
    *a = *b = NULL;
    if (argc - first != 2) {
        fprintf(stderr, "You must specify two paths after a %s command.\n", argv[0]);
        return -1;
    }
    if ((n = ferry__cmd_glob(cl, argv[first], &v)) < 0) {
        return -1;
    }
    *a = ferry_path_abs(cl, v[0]);
    ferry_glob_free(v, n);
    v = NULL;
    n = ferry_glob_remote(cl, argv[first + 1], &v);
    *b = n > 0 ? ferry_path_abs(cl, v[0]) : NULL;
    ferry_glob_free(v, n);
    if (*a == NULL || *b == NULL) {
        free(*a);
        free(*b);
        return -1;
    }
    return 0;
}

static int cmd_rename(ferry_client *cl, int argc, char **argv)
{
    char *a, *b;
    unsigned flags;
    int first, r;
    if (ferry__cmd_flags(argc, argv, "l", &flags, &first) != 0 ||
        two_paths(cl, argc, argv, first, &a, &b) != 0) {
        return -1;
    }
    int posix = !(flags & 1u) && ferry_sftpc_has_ext(cl->sftp, "posix-rename@openssh.com");
    r = ferry_sftpc_rename(cl->sftp, a, b, posix);
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't rename file", a, r);
    }
    free(a);
    free(b);
    return r == FERRY_OK ? 0 : -1;
}

static int cmd_ln(ferry_client *cl, int argc, char **argv)
{
    char *a = NULL, *b = NULL;
    unsigned flags;
    int first, r;
    int sym = strcmp(argv[0], "symlink") == 0;
    if (ferry__cmd_flags(argc, argv, "s", &flags, &first) != 0) {
        return -1;
    }
    sym = sym || (flags & 1u);
    if (argc - first != 2) {
        fprintf(stderr, "You must specify two paths after a %s command.\n", argv[0]);
        return -1;
    }
    /* A symlink's target is stored as written (relative stays relative). */
    char *p1 = ferry_glob_unescape(argv[first]);
    char *p2 = ferry_glob_unescape(argv[first + 1]);
    a = p1 == NULL ? NULL : sym ? strdup(p1) : ferry_path_abs(cl, p1);
    b = p2 == NULL ? NULL : ferry_path_abs(cl, p2);
    free(p1);
    free(p2);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return -1;
    }
    r = sym ? ferry_sftpc_symlink(cl->sftp, a, b) : ferry_sftpc_hardlink(cl->sftp, a, b);
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, sym ? "Couldn't symlink file" : "Couldn't link file", a, r);
    }
    free(a);
    free(b);
    return r == FERRY_OK ? 0 : -1;
}

static int cmd_df(ferry_client *cl, int argc, char **argv)
{
    ferry_sftpc_vfsinfo st;
    unsigned flags;
    int first, r;
    if (ferry__cmd_flags(argc, argv, "hi", &flags, &first) != 0) {
        return -1;
    }
    char *abs = ferry_path_abs(cl, first < argc ? argv[first] : ".");
    if (abs == NULL) {
        return -1;
    }
    r = ferry_sftpc_statvfs(cl->sftp, abs, &st);
    if (r != FERRY_OK) {
        ferry__cmd_err(cl, "Couldn't statvfs", abs, r);
        free(abs);
        return -1;
    }
    free(abs);
    ferry__cmd_print_df(cl, &st, flags);
    return 0;
}

static int cmd_version(ferry_client *cl, int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(cl->out, "SFTP protocol version %u\n", (unsigned)ferry_sftpc_version(cl->sftp));
    return 0;
}

static int cmd_progress(ferry_client *cl, int argc, char **argv)
{
    (void)argc, (void)argv;
    cl->progress = !cl->progress;
    fprintf(cl->out, "Progress meter %s\n", cl->progress ? "enabled" : "disabled");
    return 0;
}

static int cmd_help(ferry_client *cl, int argc, char **argv);

static const ferry__cmd cmd_table[] = {
    {"bye", cmd_quit, "Quit ferry", CMD_LOCAL},
    {"cd", cmd_cd, "cd path                     Change remote directory to 'path'",
     CMD_REMOTE | CMD_AFTER | CMD_REPEAT},
    {"chdir", cmd_cd, NULL, CMD_REMOTE | CMD_AFTER | CMD_REPEAT},
    {"chgrp", cmd_chgrp, "chgrp [-h] grp path         Change group of file 'path' to 'grp'",
     CMD_REMOTE | CMD_AFTER | CMD_REPEAT},
    {"chmod", cmd_chmod, "chmod [-h] mode path        Change permissions of file 'path' to 'mode'",
     CMD_REMOTE | CMD_AFTER | CMD_REPEAT},
    {"chown", cmd_chown, "chown [-h] own path         Change owner of file 'path' to 'own'",
     CMD_REMOTE | CMD_AFTER | CMD_REPEAT},
    {"copy", ferry__cmd_copy, "copy oldpath newpath        Copy remote file",
     CMD_REMOTE | CMD_AFTER},
    {"cp", ferry__cmd_copy, "cp oldpath newpath          Copy remote file", CMD_REMOTE | CMD_AFTER},
    {"df", cmd_df,
     "df [-hi] [path]             Display statistics for current directory or\n"
     "                            filesystem containing 'path'",
     CMD_REMOTE | CMD_AFTER | CMD_REPEAT},
    {"dir", ferry__cmd_ls, NULL, CMD_REMOTE | CMD_AFTER | CMD_REPEAT},
    {"exit", cmd_quit, "exit                        Quit ferry", CMD_LOCAL},
    {"get", ferry__cmd_get, "get [-afpR] remote [local]  Download file", CMD_REMOTE},
    {"help", cmd_help, "help                        Display this help text", CMD_LOCAL},
    {"lcd", cmd_lcd, "lcd path                    Change local directory to 'path'", CMD_LOCAL},
    {"lchdir", cmd_lcd, NULL, CMD_LOCAL},
    {"lls", cmd_lls, "lls [ls-options [path]]     Display local directory listing", CMD_LOCAL},
    {"lmkdir", cmd_lmkdir, "lmkdir path                 Create local directory", CMD_LOCAL},
    {"ln", cmd_ln, "ln [-s] oldpath newpath     Link remote file (-s for symlink)",
     CMD_REMOTE | CMD_AFTER},
    {"lpwd", cmd_lpwd, "lpwd                        Print local working directory", CMD_LOCAL},
    {"ls", ferry__cmd_ls, "ls [-1afhlnrSt] [path]      Display remote directory listing",
     CMD_REMOTE | CMD_AFTER | CMD_REPEAT},
    {"lumask", cmd_lumask, "lumask umask                Set local umask to 'umask'", CMD_LOCAL},
    {"mkdir", cmd_mkdir, "mkdir path                  Create remote directory",
     CMD_REMOTE | CMD_AFTER},
    {"mget", ferry__cmd_get, NULL, CMD_REMOTE},
    {"mput", ferry__cmd_put, NULL, CMD_REMOTE},
    {"progress", cmd_progress, "progress                    Toggle display of progress meter",
     CMD_LOCAL},
    {"put", ferry__cmd_put, "put [-afpR] local [remote]  Upload file", CMD_REMOTE},
    {"pwd", cmd_pwd, "pwd                         Display remote working directory", CMD_LOCAL},
    {"quit", cmd_quit, "quit                        Quit ferry", CMD_LOCAL},
    {"reget", ferry__cmd_get, "reget [-fpR] remote [local] Resume download file", CMD_REMOTE},
    {"rename", cmd_rename, "rename oldpath newpath      Rename remote file",
     CMD_REMOTE | CMD_AFTER},
    {"reput", ferry__cmd_put, "reput [-fpR] local [remote] Resume upload file", CMD_REMOTE},
    {"rm", cmd_rm, "rm path                     Delete remote file", CMD_REMOTE | CMD_AFTER},
    {"rmdir", cmd_rmdir, "rmdir path                  Remove remote directory",
     CMD_REMOTE | CMD_AFTER},
    {"symlink", cmd_ln, "symlink oldpath newpath     Symlink remote file", CMD_REMOTE | CMD_AFTER},
    {"version", cmd_version, "version                     Show SFTP version", CMD_LOCAL},
    {"?", cmd_help, "?                           Synonym for help", CMD_LOCAL},
    {"!", NULL,
     "!command                    Execute 'command' in local shell\n"
     "!                           Escape to local shell",
     CMD_LOCAL},
};

#define N_CMDS (sizeof(cmd_table) / sizeof(cmd_table[0]))

static int cmd_help(ferry_client *cl, int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(cl->out, "Available commands:\n");
    for (size_t i = 0; i < N_CMDS; i++) {
        if (cmd_table[i].help != NULL && strcmp(cmd_table[i].name, "bye") != 0) {
            fprintf(cl->out, "%s\n", cmd_table[i].help);
        }
    }
    return 0;
}

const char *const *ferry_cmd_names(void)
{
    static const char *names[N_CMDS + 1];
    if (names[0] == NULL) {
        for (size_t i = 0; i < N_CMDS; i++) {
            names[i] = cmd_table[i].name;
        }
    }
    return names;
}

/* Runs a command; with Reconnect=yes a connection lost before or during
 * it is rebuilt as its `how` says (resume.c's backoff and attempts). */
static int run_cmd(ferry_client *cl, const ferry__cmd *c, int argc, char **argv)
{
    int rc;
    if ((c->how & CMD_REMOTE) && ferry_sftpc_dead(cl->sftp)) {
        (void)ferry_resume_again(cl); /* lost while idle or by the last command */
    }
    while ((rc = c->fn(cl, argc, argv)) != 0 && (c->how & CMD_AFTER) &&
           ferry_sftpc_dead(cl->sftp) && ferry_resume_again(cl) && (c->how & CMD_REPEAT)) {
    }
    if (rc == 0 && (c->how & CMD_REMOTE)) {
        cl->rs.progressed = 1; /* the connection works: reconnects start counting anew */
    }
    fflush(cl->out);
    return rc;
}

int ferry_cmd_dispatch(ferry_client *cl, int argc, char **argv, const int *quoted)
{
    (void)quoted;
    for (size_t i = 0; i < N_CMDS; i++) {
        if (cmd_table[i].fn != NULL && strcmp(argv[0], cmd_table[i].name) == 0) {
            return run_cmd(cl, &cmd_table[i], argc, argv);
        }
    }
    fprintf(stderr, "Invalid command.\n");
    return -1;
}

static int term_cols(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col) {
        return ws.ws_col;
    }
    return 80;
}

int ferry__cmd_term_cols(void)
{
    return term_cols();
}
