/* test_vfs.c: the local vfs backend: jail (openat2 RESOLVE_IN_ROOT),
 * name validation, realpath, atomic files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "vfs/vfs.h"

typedef struct fx {
    char dir[128];
    char root[160];
    char outside[160];
    ferry_vfs *v;
} fx;

static void host_write(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static int host_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void rm_rf(const char *path)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/ferry-vfs-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
    snprintf(f->outside, sizeof(f->outside), "%s/outside", f->dir);
    assert_int_equal(mkdir(f->root, 0755), 0);
    assert_int_equal(mkdir(f->outside, 0755), 0);
    char p[300];
    snprintf(p, sizeof(p), "%s/secret", f->outside);
    host_write(p, "SECRET");
    assert_int_equal(ferry_vfs_local_open(f->root, &f->v), FERRY_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    ferry_vfs_free(f->v);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static void in_root(fx *f, char *out, size_t n, const char *rel)
{
    int r = snprintf(out, n, "%s/%s", f->root, rel);
    assert_true(r > 0 && (size_t)r < n);
}

static void test_open_outside_refused(void **state)
{
    fx *f = *state;
    ferry_vfs_file *file = NULL;
    const char *paths[] = {"../outside/secret", "/../outside/secret", "../../../../outside/secret",
                           "a/../../outside/secret"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        assert_int_equal(
            ferry_vfs_open(f->v, paths[i], FERRY_VFS_O_READ, FERRY_VFS_MODE_DEFAULT, &file),
            FERRY_E_NOT_FOUND);
    }
    /* absolute paths map into the root */
    char p[300];
    in_root(f, p, sizeof(p), "inside");
    host_write(p, "IN");
    assert_int_equal(
        ferry_vfs_open(f->v, "/inside", FERRY_VFS_O_READ, FERRY_VFS_MODE_DEFAULT, &file), FERRY_OK);
    char buf[8];
    size_t got;
    assert_int_equal(ferry_vfs_pread(file, buf, sizeof(buf), 0, &got), FERRY_OK);
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "IN", 2);
    assert_int_equal(ferry_vfs_close(file, 1), FERRY_OK);
}

static void test_symlinks_stay_inside(void **state)
{
    fx *f = *state;
    char host_target[300];
    snprintf(host_target, sizeof(host_target), "%s/secret", f->outside);
    assert_int_equal(ferry_vfs_symlink(f->v, host_target, "abs"), FERRY_OK);
    assert_int_equal(ferry_vfs_symlink(f->v, "../../outside/secret", "rel"), FERRY_OK);
    assert_int_equal(ferry_vfs_symlink(f->v, "/etc", "sys"), FERRY_OK);
    ferry_vfs_file *file = NULL;
    ferry_vfs_attr st;
    assert_int_equal(ferry_vfs_open(f->v, "abs", FERRY_VFS_O_READ, FERRY_VFS_MODE_DEFAULT, &file),
                     FERRY_E_NOT_FOUND);
    assert_int_equal(ferry_vfs_open(f->v, "rel", FERRY_VFS_O_READ, FERRY_VFS_MODE_DEFAULT, &file),
                     FERRY_E_NOT_FOUND);
    assert_int_equal(ferry_vfs_stat(f->v, "sys/passwd", 1, &st), FERRY_E_NOT_FOUND);
    /* a link to "/etc" named "etc" resolves to itself: a loop */
    assert_int_equal(ferry_vfs_symlink(f->v, "/etc", "etc"), FERRY_OK);
    assert_int_equal(ferry_vfs_stat(f->v, "etc/passwd", 1, &st), FERRY_E_INVALID_ARG);
    /* the link itself is visible, its target stored verbatim */
    assert_int_equal(ferry_vfs_stat(f->v, "abs", 0, &st), FERRY_OK);
    assert_true(S_ISLNK(st.mode));
    char t[300];
    assert_int_equal(ferry_vfs_readlink(f->v, "abs", t, sizeof(t)), FERRY_OK);
    assert_string_equal(t, host_target);
    /* creating through a dangling link out creates inside (or fails) */
    assert_int_equal(ferry_vfs_symlink(f->v, "../outside/new", "dang"), FERRY_OK);
    ferry_vfs_file *w = NULL;
    int r = ferry_vfs_open(f->v, "dang", FERRY_VFS_O_WRITE | FERRY_VFS_O_CREAT,
                           FERRY_VFS_MODE_DEFAULT, &w);
    assert_int_equal(r, FERRY_E_NOT_FOUND); /* root/outside does not exist */
    char p[300];
    snprintf(p, sizeof(p), "%s/new", f->outside);
    assert_false(host_exists(p));
}

static void test_names_validated(void **state)
{
    fx *f = *state;
    assert_int_equal(ferry_vfs_remove(f->v, ".."), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_vfs_remove(f->v, "/"), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_vfs_rmdir(f->v, "a/."), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_vfs_mkdir(f->v, "/..", FERRY_VFS_MODE_DEFAULT), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_vfs_rename(f->v, "..", "x", 0), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_vfs_mkdir(f->v, "d/", FERRY_VFS_MODE_DEFAULT), FERRY_OK);
    assert_int_equal(ferry_vfs_mkdir(f->v, "d", FERRY_VFS_MODE_DEFAULT), FERRY_E_EXISTS);
    assert_int_equal(ferry_vfs_rmdir(f->v, "/d//"), FERRY_OK);
    char p[300];
    snprintf(p, sizeof(p), "%s/secret", f->outside);
    assert_true(host_exists(p));
}

static void test_link_and_rename_stay_inside(void **state)
{
    fx *f = *state;
    char p[300];
    /* a hard link whose source would be outside cannot be made */
    assert_int_equal(ferry_vfs_link(f->v, "../outside/secret", "hl"), FERRY_E_NOT_FOUND);
    /* a hard link to a symlink pointing out is a symlink (not followed) */
    assert_int_equal(ferry_vfs_symlink(f->v, "/../outside/secret", "esc"), FERRY_OK);
    assert_int_equal(ferry_vfs_link(f->v, "esc", "esc2"), FERRY_OK);
    ferry_vfs_attr st;
    assert_int_equal(ferry_vfs_stat(f->v, "esc2", 0, &st), FERRY_OK);
    assert_true(S_ISLNK(st.mode));
    /* renaming through a symlinked parent pointing out moves nothing out */
    snprintf(p, sizeof(p), "%s", f->outside);
    assert_int_equal(ferry_vfs_symlink(f->v, p, "pabs"), FERRY_OK);
    assert_int_equal(ferry_vfs_symlink(f->v, "../outside", "prel"), FERRY_OK);
    assert_int_equal(ferry_vfs_rename(f->v, "pabs/secret", "stolen", 0), FERRY_E_NOT_FOUND);
    assert_int_equal(ferry_vfs_rename(f->v, "prel/secret", "stolen", 0), FERRY_E_NOT_FOUND);
    in_root(f, p, sizeof(p), "mine");
    host_write(p, "MINE");
    assert_int_equal(ferry_vfs_rename(f->v, "mine", "prel/mine", 0), FERRY_E_NOT_FOUND);
    snprintf(p, sizeof(p), "%s/secret", f->outside);
    assert_true(host_exists(p));
    snprintf(p, sizeof(p), "%s/mine", f->outside);
    assert_false(host_exists(p));
    assert_int_equal(ferry_vfs_remove(f->v, "pabs/secret"), FERRY_E_NOT_FOUND);
}

static void test_realpath(void **state)
{
    fx *f = *state;
    char out[FERRY_VFS_PATH_MAX + 1];
    assert_int_equal(ferry_vfs_mkdir(f->v, "a", FERRY_VFS_MODE_DEFAULT), FERRY_OK);
    assert_int_equal(ferry_vfs_mkdir(f->v, "a/b", FERRY_VFS_MODE_DEFAULT), FERRY_OK);
    assert_int_equal(ferry_vfs_symlink(f->v, "a/b", "lb"), FERRY_OK);
    assert_int_equal(ferry_vfs_symlink(f->v, "/a", "la"), FERRY_OK);
    assert_int_equal(ferry_vfs_symlink(f->v, "../../../..", "up"), FERRY_OK);
    struct {
        const char *in, *out;
    } cases[] = {
        {".", "/"},       {"", "/"},         {"/", "/"},          {"..", "/"},      {"/../..", "/"},
        {"a/b/..", "/a"}, {"lb", "/a/b"},    {"lb/..", "/a"},     {"la/b", "/a/b"}, {"up", "/"},
        {"up/a", "/a"},   {"a//b/", "/a/b"}, {"a/new", "/a/new"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(ferry_vfs_realpath(f->v, cases[i].in, out, sizeof(out)), FERRY_OK);
        assert_string_equal(out, cases[i].out);
    }
    assert_int_equal(ferry_vfs_realpath(f->v, "nope/x", out, sizeof(out)), FERRY_E_NOT_FOUND);
    assert_int_equal(ferry_vfs_symlink(f->v, "loop", "loop"), FERRY_OK);
    assert_int_equal(ferry_vfs_realpath(f->v, "loop/x", out, sizeof(out)), FERRY_E_INVALID_ARG);
}

static int count_parts(fx *f)
{
    DIR *d = opendir(f->root);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        n += strstr(de->d_name, ".part") != NULL;
    }
    closedir(d);
    return n;
}

static void test_atomic(void **state)
{
    fx *f = *state;
    ferry_vfs_file *w = NULL;
    char p[300];
    in_root(f, p, sizeof(p), "up");
    uint32_t fl = FERRY_VFS_O_WRITE | FERRY_VFS_O_CREAT | FERRY_VFS_O_TRUNC | FERRY_VFS_O_ATOMIC;
    assert_int_equal(ferry_vfs_open(f->v, "up", fl, 0600, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "data", 4, 0), FERRY_OK);
    assert_false(host_exists(p));
    assert_int_equal(count_parts(f), 1);
    assert_int_equal(ferry_vfs_close(w, 1), FERRY_OK);
    assert_true(host_exists(p));
    assert_int_equal(count_parts(f), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 4);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* replacing: old content visible until commit, mode kept; discard */
    assert_int_equal(ferry_vfs_open(f->v, "up", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "new data", 8, 0), FERRY_OK);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 4);
    assert_int_equal(ferry_vfs_close(w, 0), FERRY_OK);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 4);
    assert_int_equal(count_parts(f), 0);
    /* EXCL on an existing name */
    assert_int_equal(ferry_vfs_open(f->v, "up", fl | FERRY_VFS_O_EXCL, 0644, &w), FERRY_E_EXISTS);
    /* EXCL and the name appears before commit: not overwritten */
    assert_int_equal(ferry_vfs_open(f->v, "ex", fl | FERRY_VFS_O_EXCL, 0644, &w), FERRY_OK);
    in_root(f, p, sizeof(p), "ex");
    host_write(p, "FIRST");
    assert_int_equal(ferry_vfs_close(w, 1), FERRY_E_EXISTS);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 5);
    assert_int_equal(count_parts(f), 0);
    /* existing file without TRUNC: in place (resume) */
    assert_int_equal(ferry_vfs_open(f->v, "ex",
                                    FERRY_VFS_O_WRITE | FERRY_VFS_O_CREAT | FERRY_VFS_O_ATOMIC,
                                    FERRY_VFS_MODE_DEFAULT, &w),
                     FERRY_OK);
    assert_int_equal(count_parts(f), 0);
    assert_int_equal(ferry_vfs_pwrite(w, "!", 1, 5), FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, 1), FERRY_OK);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 6);
}

static void test_partial_name(void **state)
{
    (void)state;
    char out[FERRY_VFS_PATH_MAX + 1], name[300];
    assert_int_equal(ferry_vfs_partial_name("up", out, sizeof(out)), FERRY_OK);
    assert_string_equal(out, ".up.ferry-partial");
    assert_int_equal(ferry_vfs_partial_name("/a/b/f.txt", out, sizeof(out)), FERRY_OK);
    assert_string_equal(out, "/a/b/.f.txt.ferry-partial");
    assert_int_equal(ferry_vfs_partial_name("d/x//", out, sizeof(out)), FERRY_OK);
    assert_string_equal(out, "d/.x.ferry-partial");
    const char *bad[] = {"", "/", "a/.", "a/..", ".."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ferry_vfs_partial_name(bad[i], out, sizeof(out)), FERRY_E_INVALID_ARG);
    }
    /* the longest name whose partial name still fits NAME_MAX, and one more */
    size_t fit = FERRY_VFS_NAME_MAX - 1 - strlen(FERRY_VFS_PARTIAL_SUFFIX);
    memset(name, 'n', fit);
    name[fit] = '\0';
    assert_int_equal(ferry_vfs_partial_name(name, out, sizeof(out)), FERRY_OK);
    assert_int_equal(strlen(out), FERRY_VFS_NAME_MAX);
    name[fit] = 'n';
    name[fit + 1] = '\0';
    assert_int_equal(ferry_vfs_partial_name(name, out, sizeof(out)), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_vfs_partial_name("up", out, 10), FERRY_E_INVALID_ARG);
}

static void test_partial_of(void **state)
{
    (void)state;
    char out[FERRY_VFS_PATH_MAX + 1], back[FERRY_VFS_PATH_MAX + 1];
    const char *names[] = {"up", "/a/b/f.txt", "d/.hidden", "x.ferry-partial"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(ferry_vfs_partial_name(names[i], out, sizeof(out)), FERRY_OK);
        assert_int_equal(ferry_vfs_partial_of(out, back, sizeof(back)), FERRY_OK);
        assert_string_equal(back, names[i]);
    }
    const char *bad[] = {"up",
                         "/a/b/f.txt",
                         ".ferry-partial",
                         "..ferry-partial",
                         "d/..ferry-partial",
                         "...ferry-partial",
                         "....ferry-partial",
                         "a.ferry-partial",
                         ".a.ferry-partia",
                         ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ferry_vfs_partial_of(bad[i], back, sizeof(back)), FERRY_E_INVALID_ARG);
    }
    assert_int_equal(ferry_vfs_partial_of(".up.ferry-partial", back, 2), FERRY_E_INVALID_ARG);
}

/* Starts an atomic upload of `name` holding `data` in a child process
 * that then dies without closing it (as a killed session). */
static void orphan_upload(fx *f, const char *name, const char *data)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ferry_vfs_file *w = NULL;
        int ok = ferry_vfs_open(f->v, name,
                                FERRY_VFS_O_WRITE | FERRY_VFS_O_CREAT | FERRY_VFS_O_TRUNC |
                                    FERRY_VFS_O_ATOMIC,
                                FERRY_VFS_MODE_DEFAULT, &w) == FERRY_OK &&
                 ferry_vfs_pwrite(w, data, strlen(data), 0) == FERRY_OK;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Counts the entries of the root whose name starts with `prefix`. */
static int count_prefixed(fx *f, const char *prefix)
{
    DIR *d = opendir(f->root);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    }
    closedir(d);
    return n;
}

static void test_recover_partial(void **state)
{
    fx *f = *state;
    char p[300], buf[64];
    ferry_vfs_file *w = NULL;
    /* nothing to recover */
    assert_int_equal(ferry_vfs_recover_partial(f->v, "up"), FERRY_E_NOT_FOUND);
    /* two dead sessions' uploads: the latest becomes the partial, the
     * older one goes */
    orphan_upload(f, "up", "first attempt");
    struct timespec ts = {.tv_nsec = 20 * 1000000L};
    nanosleep(&ts, NULL);
    orphan_upload(f, "up", "second attempt, longer");
    assert_int_equal(count_prefixed(f, ".up.ferry-"), 2);
    /* a live upload of the same name is never taken */
    assert_int_equal(ferry_vfs_open(f->v, "up",
                                    FERRY_VFS_O_WRITE | FERRY_VFS_O_CREAT | FERRY_VFS_O_TRUNC |
                                        FERRY_VFS_O_ATOMIC,
                                    FERRY_VFS_MODE_DEFAULT, &w),
                     FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "live", 4, 0), FERRY_OK);
    assert_int_equal(ferry_vfs_recover_partial(f->v, "up"), FERRY_OK);
    in_root(f, p, sizeof(p), ".up.ferry-partial");
    FILE *h = fopen(p, "r");
    assert_non_null(h);
    size_t n = fread(buf, 1, sizeof(buf) - 1, h);
    fclose(h);
    buf[n] = '\0';
    assert_string_equal(buf, "second attempt, longer");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* the partial and the live upload's temporary file are left */
    assert_int_equal(count_prefixed(f, ".up.ferry-"), 2);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_DISCARD), FERRY_OK);
    assert_int_equal(count_prefixed(f, ".up.ferry-"), 1);
    /* a partial already there is never replaced */
    orphan_upload(f, "up", "third");
    assert_int_equal(ferry_vfs_recover_partial(f->v, "up"), FERRY_E_EXISTS);
    /* an empty orphan is nothing to resume; other names are not touched */
    assert_int_equal(unlink(p), 0);
    in_root(f, p, sizeof(p), ".up.ferry-0123456789abcdef.part");
    host_write(p, "");
    in_root(f, p, sizeof(p), ".other.ferry-0123456789abcdef.part");
    host_write(p, "other");
    assert_int_equal(ferry_vfs_recover_partial(f->v, "up"), FERRY_OK); /* "third" */
    /* nothing more: the empty orphan is left */
    assert_int_equal(ferry_vfs_recover_partial(f->v, "up"), FERRY_E_NOT_FOUND);
    assert_true(host_exists(p));
    in_root(f, p, sizeof(p), ".up.ferry-0123456789abcdef.part");
    assert_true(host_exists(p));
    /* in a subdirectory, through the jail */
    assert_int_equal(mkdir(strcat(strcpy(p, f->root), "/sub"), 0755), 0);
    orphan_upload(f, "sub/f", "in sub");
    assert_int_equal(ferry_vfs_recover_partial(f->v, "sub/f"), FERRY_OK);
    in_root(f, p, sizeof(p), "sub/.f.ferry-partial");
    assert_true(host_exists(p));
    assert_int_equal(ferry_vfs_recover_partial(f->v, "../outside/secret"), FERRY_E_NOT_FOUND);
}

static long host_size(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_keep_partial(void **state)
{
    fx *f = *state;
    ferry_vfs_file *w = NULL;
    char p[300], pp[300], q[400];
    struct stat st;
    uint32_t fl = FERRY_VFS_O_WRITE | FERRY_VFS_O_CREAT | FERRY_VFS_O_TRUNC | FERRY_VFS_O_ATOMIC;
    in_root(f, p, sizeof(p), "up");
    in_root(f, pp, sizeof(pp), ".up.ferry-partial");
    /* kept with at least one byte: renamed, mode 0600, nothing else left */
    assert_int_equal(ferry_vfs_open(f->v, "up", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "12345", 5, 0), FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_KEEP_PARTIAL), FERRY_OK);
    assert_int_equal(stat(pp, &st), 0);
    assert_int_equal(st.st_size, 5);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_false(host_exists(p));
    assert_int_equal(count_parts(f), 0);
    /* a newer interrupted upload replaces the older partial */
    assert_int_equal(ferry_vfs_open(f->v, "up", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "ab", 2, 0), FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_KEEP_PARTIAL), FERRY_OK);
    assert_int_equal(host_size(pp), 2);
    /* empty: not kept (the older partial stays), temporary file removed */
    assert_int_equal(ferry_vfs_open(f->v, "up", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_KEEP_PARTIAL), FERRY_E_NOT_FOUND);
    assert_int_equal(host_size(pp), 2);
    assert_int_equal(count_parts(f), 0);
    /* a plain (non-atomic) file: nothing to keep, the file is untouched */
    host_write(p, "plain");
    assert_int_equal(ferry_vfs_open(f->v, "up", FERRY_VFS_O_WRITE, FERRY_VFS_MODE_DEFAULT, &w),
                     FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_KEEP_PARTIAL), FERRY_E_NOT_FOUND);
    assert_int_equal(host_size(p), 5);
    /* a committed upload removes the stale partial of its name only */
    in_root(f, q, sizeof(q), ".other.ferry-partial");
    host_write(q, "o");
    assert_int_equal(ferry_vfs_open(f->v, "up", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "final", 5, 0), FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_COMMIT), FERRY_OK);
    assert_false(host_exists(pp));
    assert_true(host_exists(q));
    assert_int_equal(host_size(p), 5);
    /* NOREPLACE: a kept partial never replaces one, a commit leaves it */
    host_write(pp, "older");
    assert_int_equal(ferry_vfs_open(f->v, "up", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "newer!", 6, 0), FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_KEEP_PARTIAL | FERRY_VFS_CLOSE_NOREPLACE),
                     FERRY_E_EXISTS);
    assert_int_equal(host_size(pp), 5);
    assert_int_equal(count_parts(f), 0);
    assert_int_equal(ferry_vfs_open(f->v, "up", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "final!", 6, 0), FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_COMMIT | FERRY_VFS_CLOSE_NOREPLACE),
                     FERRY_OK);
    assert_int_equal(host_size(pp), 5);
    assert_int_equal(host_size(p), 6);
    unlink(pp);
    assert_int_equal(ferry_vfs_open(f->v, "up", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "kept", 4, 0), FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_KEEP_PARTIAL | FERRY_VFS_CLOSE_NOREPLACE),
                     FERRY_OK);
    assert_int_equal(host_size(pp), 4);
    /* a partial name over NAME_MAX: the temporary file is removed */
    char longname[FERRY_VFS_NAME_MAX + 1];
    memset(longname, 'L', 250);
    longname[250] = '\0';
    assert_int_equal(ferry_vfs_open(f->v, longname, fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "x", 1, 0), FERRY_OK);
    assert_int_equal(count_parts(f), 1);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_KEEP_PARTIAL), FERRY_E_NOT_FOUND);
    assert_int_equal(count_parts(f), 0);
    in_root(f, q, sizeof(q), longname);
    assert_false(host_exists(q));
}

/* The partial stays in the directory the upload was opened in: a symlink
 * planted at the partial name is replaced, not followed; the directory
 * swapped for a symlink to the outside meanwhile is not followed either. */
static void test_keep_partial_jail(void **state)
{
    fx *f = *state;
    ferry_vfs_file *w = NULL;
    char p[300], q[300], secret[300];
    struct stat st;
    uint32_t fl = FERRY_VFS_O_WRITE | FERRY_VFS_O_CREAT | FERRY_VFS_O_TRUNC | FERRY_VFS_O_ATOMIC;
    snprintf(secret, sizeof(secret), "%s/secret", f->outside);
    in_root(f, p, sizeof(p), ".s.ferry-partial");
    assert_int_equal(symlink(secret, p), 0);
    assert_int_equal(ferry_vfs_open(f->v, "s", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "overwritten?", 12, 0), FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_KEEP_PARTIAL), FERRY_OK);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 12);
    assert_int_equal(host_size(secret), 6);
    /* crafted names: ".." never leaves the root, the partial lands inside */
    assert_int_equal(ferry_vfs_open(f->v, "../../outside/up", fl, 0644, &w), FERRY_E_NOT_FOUND);
    assert_int_equal(ferry_vfs_mkdir(f->v, "d", 0755), FERRY_OK);
    assert_int_equal(ferry_vfs_open(f->v, "d/../../x", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "x", 1, 0), FERRY_OK);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_KEEP_PARTIAL), FERRY_OK);
    in_root(f, q, sizeof(q), ".x.ferry-partial");
    assert_int_equal(host_size(q), 1);
    /* the directory replaced by a symlink to the outside during the upload */
    assert_int_equal(ferry_vfs_open(f->v, "d/f", fl, 0644, &w), FERRY_OK);
    assert_int_equal(ferry_vfs_pwrite(w, "abc", 3, 0), FERRY_OK);
    in_root(f, p, sizeof(p), "d");
    in_root(f, q, sizeof(q), "d2");
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(symlink(f->outside, p), 0);
    assert_int_equal(ferry_vfs_close(w, FERRY_VFS_CLOSE_KEEP_PARTIAL), FERRY_OK);
    in_root(f, q, sizeof(q), "d2/.f.ferry-partial");
    assert_int_equal(host_size(q), 3);
    snprintf(q, sizeof(q), "%s/.f.ferry-partial", f->outside);
    assert_false(host_exists(q));
}

static void test_readdir_and_open_kinds(void **state)
{
    fx *f = *state;
    ferry_vfs_dir *d = NULL;
    ferry_vfs_dirent e;
    char p[300];
    in_root(f, p, sizeof(p), "file1");
    host_write(p, "12345");
    assert_int_equal(ferry_vfs_mkdir(f->v, "sub", 0755), FERRY_OK);
    assert_int_equal(ferry_vfs_opendir(f->v, "/", &d), FERRY_OK);
    int seen = 0, dotdot = 0;
    struct stat rst;
    assert_int_equal(stat(f->root, &rst), 0);
    while (ferry_vfs_readdir(d, &e) == FERRY_OK) {
        if (strcmp(e.name, "file1") == 0) {
            seen++;
            assert_int_equal(e.st.size, 5);
        }
        if (strcmp(e.name, "..") == 0) {
            dotdot++;
            /* ".." of the root reports the root itself, not the host dir */
            assert_int_equal(e.st.mtime, rst.st_mtime);
            assert_int_equal(e.st.nlink, rst.st_nlink);
        }
    }
    ferry_vfs_closedir(d);
    assert_int_equal(seen, 1);
    assert_int_equal(dotdot, 1);
    ferry_vfs_file *file = NULL;
    assert_int_equal(ferry_vfs_open(f->v, "sub", FERRY_VFS_O_READ, FERRY_VFS_MODE_DEFAULT, &file),
                     FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_vfs_opendir(f->v, "file1", &d), FERRY_E_NOT_FOUND);
    ferry_vfs_setattr sa = {.set = FERRY_VFS_SET_SIZE | FERRY_VFS_SET_MODE | FERRY_VFS_SET_TIMES,
                            .size = 2,
                            .mode = 0640,
                            .atime = 1000,
                            .mtime = 2000};
    assert_int_equal(ferry_vfs_setstat(f->v, "file1", 1, &sa), FERRY_OK);
    ferry_vfs_attr st;
    assert_int_equal(ferry_vfs_stat(f->v, "file1", 1, &st), FERRY_OK);
    assert_int_equal(st.size, 2);
    assert_int_equal(st.mode & 07777, 0640);
    assert_int_equal(st.mtime, 2000);
    ferry_vfs_fsinfo fi;
    assert_int_equal(ferry_vfs_statvfs(f->v, "/", &fi), FERRY_OK);
    assert_true(fi.bsize > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_outside_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_stay_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_and_rename_stay_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_realpath, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readdir_and_open_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_of, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_partial_jail, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
