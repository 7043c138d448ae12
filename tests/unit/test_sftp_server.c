/* test_sftp_server.c: the SFTP v3 server driven with byte streams over a
 * temporary directory root; replies captured through a test writer. */
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
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "helpers/chantest.h"
#include "helpers/pair.h"
#include "sftp/proto.h"
#include "sftp/server.h"
#include "util/buf.h"
#include "util/err.h"
#include "vfs/vfs.h"

typedef struct T {
    char dir[128], root[160], outside[160];
    ferry_vfs *vfs;
    ferry_sftp_server *srv;
    ferry_sftp_server_config cfg;
    ferry_buf *out;           /* captured replies */
    uint8_t last[300 * 1024]; /* the last reply packet read */
    size_t last_len;
    int block; /* writer answers AGAIN */
    /* the writer's begin (replies built in place): 0 gives room (the
     * default), 1 says use write, 2 says later */
    int inplace;
    uint8_t ip_buf[300 * 1024];
    size_t ip_want;
    int ip_open;
    unsigned ip_replies; /* replies that went out through begin/end */
    uint32_t id;
    int events, close_events;
    uint64_t ev_written;
    int keep, no_atomic; /* next start(): keep_partial, atomic_uploads off */
    int runhash;         /* next start(): running_hash */
    int draft;           /* next start(): symlink_draft_order */
    int partial_events;
    char partial_path[300]; /* path2 of the last "partial_kept" event */
    int refusals;           /* events with a refusal */
    char ev_op[64], ev_path[300], ev_path2[300], ev_refusal[128]; /* last event */
    int ev_status;
} T;

/* ---- harness ---- */

static int tw_write(void *ctx, const uint8_t *d, size_t n)
{
    T *t = ctx;
    if (t->block) {
        return FERRY_E_AGAIN;
    }
    return ferry_buf_put(t->out, d, n);
}

static uint8_t *tw_begin(void *ctx, size_t want, int *later)
{
    T *t = ctx;
    assert_false(t->ip_open);
    *later = t->inplace == 2;
    if (t->inplace != 0 || t->block || want > sizeof(t->ip_buf)) {
        return NULL;
    }
    t->ip_open = 1;
    t->ip_want = want;
    return t->ip_buf;
}

static int tw_end(void *ctx, size_t used)
{
    T *t = ctx;
    assert_true(t->ip_open);
    assert_true(used <= t->ip_want);
    t->ip_open = 0;
    t->ip_replies += used > 0;
    return used > 0 ? ferry_buf_put(t->out, t->ip_buf, used) : FERRY_OK;
}

static void on_event(void *ctx, const ferry_sftp_event *ev)
{
    T *t = ctx;
    t->events++;
    snprintf(t->ev_op, sizeof(t->ev_op), "%s", ev->op);
    snprintf(t->ev_path, sizeof(t->ev_path), "%s", ev->path ? ev->path : "-");
    snprintf(t->ev_path2, sizeof(t->ev_path2), "%s", ev->path2 ? ev->path2 : "-");
    snprintf(t->ev_refusal, sizeof(t->ev_refusal), "%s", ev->refusal ? ev->refusal : "-");
    t->ev_status = ev->status;
    t->refusals += ev->refusal != NULL;
    if (strcmp(ev->op, "close") == 0) {
        t->close_events++;
        t->ev_written += ev->bytes_written;
    }
    if (strcmp(ev->op, "partial_kept") == 0) {
        t->partial_events++;
        snprintf(t->partial_path, sizeof(t->partial_path), "%s", ev->path2);
    }
}

static void host_path(T *t, char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", t->root, rel);
}

static void host_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static long host_size(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int count_parts(T *t)
{
    DIR *d = opendir(t->root);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        n += strstr(de->d_name, ".part") != NULL;
    }
    closedir(d);
    return n;
}

static void start(T *t, enum ferry_sftp_mode mode, unsigned max_handles)
{
    ferry_sftp_writer w = {
        .write = tw_write, .room = NULL, .begin = tw_begin, .end = tw_end, .ctx = t};
    memset(&t->cfg, 0, sizeof(t->cfg));
    t->cfg.vfs = t->vfs;
    t->cfg.mode = mode;
    t->cfg.atomic_uploads = !t->no_atomic;
    t->cfg.keep_partial = t->keep;
    t->cfg.running_hash = t->runhash;
    t->cfg.symlink_draft_order = t->draft;
    t->cfg.user = "alice";
    t->cfg.max_handles = max_handles;
    t->cfg.on_event = on_event;
    t->cfg.event_ctx = t;
    assert_int_equal(ferry_sftp_server_new(&t->srv, &t->cfg, &w), FERRY_OK);
}

static void feed(T *t, const ferry_buf *b)
{
    long n = ferry_sftp_server_input(t->srv, ferry_buf_data(b), ferry_buf_len(b));
    assert_int_equal(n, (long)ferry_buf_len(b));
}

/* Takes the next reply packet from the capture; returns its type and
 * leaves r after the request id (VERSION: after the type). */
static uint8_t next_reply(T *t, ferry_rd *r, uint32_t *id)
{
    ferry_rd in;
    uint32_t len;
    uint8_t type;
    ferry_rd_from_buf(&in, t->out);
    assert_int_equal(ferry_rd_u32(&in, &len), FERRY_OK);
    assert_true(len <= sizeof(t->last) && len <= ferry_rd_left(&in));
    memcpy(t->last, ferry_rd_ptr(&in), len);
    t->last_len = len;
    assert_int_equal(ferry_buf_consume(t->out, 4 + len), FERRY_OK);
    ferry_rd_init(r, t->last, len);
    assert_int_equal(ferry_rd_u8(r, &type), FERRY_OK);
    if (type != SSH_FXP_VERSION) {
        assert_int_equal(ferry_rd_u32(r, id), FERRY_OK);
    }
    return type;
}

static ferry_buf *req(T *t, uint8_t type)
{
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_u32(b, 0), FERRY_OK);
    assert_int_equal(ferry_buf_put_u8(b, type), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b, ++t->id), FERRY_OK);
    return b;
}

static ferry_buf *ext(T *t, const char *name)
{
    ferry_buf *b = req(t, SSH_FXP_EXTENDED);
    assert_int_equal(ferry_buf_put_cstring(b, name), FERRY_OK);
    return b;
}

/* Sends b (fixing its length) and frees it. */
static void send_req(T *t, ferry_buf *b)
{
    assert_int_equal(ferry_buf_poke_u32(b, 0, (uint32_t)ferry_buf_len(b) - 4), FERRY_OK);
    feed(t, b);
    ferry_buf_free(b);
}

/* Expects a STATUS for the last id; returns the code. */
static uint32_t status(T *t)
{
    ferry_rd r;
    uint32_t id, code;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_STATUS);
    assert_int_equal(id, t->id);
    assert_int_equal(ferry_rd_u32(&r, &code), FERRY_OK);
    return code;
}

static void put_empty_attrs(ferry_buf *b)
{
    assert_int_equal(ferry_buf_put_u32(b, 0), FERRY_OK);
}

/* INIT; returns the data of the VERSION extension pair `want` ("" when
 * absent; NULL = do not look). */
static const char *init_ext(T *t, const char *want)
{
    static char data[128];
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u32(b, 5);
    ferry_buf_put_u8(b, SSH_FXP_INIT);
    ferry_buf_put_u32(b, 3);
    feed(t, b);
    ferry_buf_free(b);
    ferry_rd r;
    uint32_t id, ver;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_VERSION);
    assert_int_equal(ferry_rd_u32(&r, &ver), FERRY_OK);
    assert_int_equal(ver, 3);
    data[0] = '\0';
    while (want != NULL && ferry_rd_left(&r) > 0) {
        char name[64], d[128];
        assert_int_equal(ferry_rd_name(&r, name, sizeof(name)), FERRY_OK);
        assert_int_equal(ferry_rd_name(&r, d, sizeof(d)), FERRY_OK);
        if (strcmp(name, want) == 0) {
            snprintf(data, sizeof(data), "%s", d);
        }
    }
    return data;
}

static void init(T *t)
{
    (void)init_ext(t, NULL);
}

typedef struct hnd {
    uint8_t b[FERRY_SFTP_HANDLE_MAX];
    size_t n;
} hnd;

/* OPEN; returns SSH_FX_OK with *h set, or the STATUS code. */
static uint32_t op_open(T *t, const char *path, uint32_t pflags, hnd *h)
{
    ferry_buf *b = req(t, SSH_FXP_OPEN);
    ferry_buf_put_cstring(b, path);
    ferry_buf_put_u32(b, pflags);
    put_empty_attrs(b);
    send_req(t, b);
    ferry_rd r;
    uint32_t id;
    uint8_t type = next_reply(t, &r, &id);
    assert_int_equal(id, t->id);
    if (type == SSH_FXP_STATUS) {
        uint32_t code;
        assert_int_equal(ferry_rd_u32(&r, &code), FERRY_OK);
        assert_int_not_equal(code, SSH_FX_OK);
        return code;
    }
    assert_int_equal(type, SSH_FXP_HANDLE);
    const uint8_t *p;
    assert_int_equal(ferry_rd_string(&r, &p, &h->n), FERRY_OK);
    assert_true(h->n <= sizeof(h->b));
    memcpy(h->b, p, h->n);
    return SSH_FX_OK;
}

static ferry_buf *req_h(T *t, uint8_t type, const hnd *h)
{
    ferry_buf *b = req(t, type);
    ferry_buf_put_string(b, h->b, h->n);
    return b;
}

static uint32_t op_close(T *t, const hnd *h)
{
    send_req(t, req_h(t, SSH_FXP_CLOSE, h));
    return status(t);
}

static uint32_t op_write(T *t, const hnd *h, uint64_t off, const void *d, size_t n)
{
    ferry_buf *b = req_h(t, SSH_FXP_WRITE, h);
    ferry_buf_put_u64(b, off);
    ferry_buf_put_string(b, d, n);
    send_req(t, b);
    return status(t);
}

/* READ: returns bytes copied into out, or -(status code). */
static long op_read(T *t, const hnd *h, uint64_t off, uint32_t len, void *out, size_t outsz)
{
    ferry_buf *b = req_h(t, SSH_FXP_READ, h);
    ferry_buf_put_u64(b, off);
    ferry_buf_put_u32(b, len);
    send_req(t, b);
    ferry_rd r;
    uint32_t id, code;
    uint8_t type = next_reply(t, &r, &id);
    if (type == SSH_FXP_STATUS) {
        assert_int_equal(ferry_rd_u32(&r, &code), FERRY_OK);
        return -(long)code;
    }
    assert_int_equal(type, SSH_FXP_DATA);
    const uint8_t *p;
    size_t n;
    assert_int_equal(ferry_rd_string(&r, &p, &n), FERRY_OK);
    memcpy(out, p, n < outsz ? n : outsz);
    return (long)n;
}

static uint32_t op_path(T *t, uint8_t type, const char *path)
{
    ferry_buf *b = req(t, type);
    ferry_buf_put_cstring(b, path);
    if (type == SSH_FXP_MKDIR) {
        put_empty_attrs(b);
    }
    send_req(t, b);
    return status(t);
}

static uint32_t op_two(T *t, uint8_t type, const char *extname, const char *a, const char *b2)
{
    ferry_buf *b = extname ? ext(t, extname) : req(t, type);
    ferry_buf_put_cstring(b, a);
    ferry_buf_put_cstring(b, b2);
    send_req(t, b);
    return status(t);
}

/* STAT/LSTAT: returns SSH_FX_OK and fills *a, or the STATUS code. */
static uint32_t op_stat(T *t, uint8_t type, const char *path, ferry_sftp_attrs *a)
{
    ferry_buf *b = req(t, type);
    ferry_buf_put_cstring(b, path);
    send_req(t, b);
    ferry_rd r;
    uint32_t id, code;
    if (next_reply(t, &r, &id) == SSH_FXP_STATUS) {
        assert_int_equal(ferry_rd_u32(&r, &code), FERRY_OK);
        return code;
    }
    assert_int_equal(ferry_sftp_attrs_decode(&r, a), FERRY_OK);
    return SSH_FX_OK;
}

/* One-name replies (REALPATH, READLINK, expand-path): SSH_FX_OK + name. */
static uint32_t name1(T *t, char *out, size_t outsz)
{
    ferry_rd r;
    uint32_t id, code, count;
    if (next_reply(t, &r, &id) == SSH_FXP_STATUS) {
        assert_int_equal(ferry_rd_u32(&r, &code), FERRY_OK);
        return code;
    }
    assert_int_equal(ferry_rd_u32(&r, &count), FERRY_OK);
    assert_int_equal(count, 1);
    assert_int_equal(ferry_rd_name(&r, out, outsz), FERRY_OK);
    return SSH_FX_OK;
}

static uint32_t op_name1(T *t, uint8_t type, const char *extname, const char *path, char *out,
                         size_t outsz)
{
    ferry_buf *b = extname ? ext(t, extname) : req(t, type);
    ferry_buf_put_cstring(b, path);
    send_req(t, b);
    return name1(t, out, outsz);
}

static int setup(void **state)
{
    T *t = calloc(1, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/ferry-sftp-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->root, sizeof(t->root), "%s/root", t->dir);
    snprintf(t->outside, sizeof(t->outside), "%s/outside", t->dir);
    assert_int_equal(mkdir(t->root, 0755), 0);
    assert_int_equal(mkdir(t->outside, 0755), 0);
    char p[300];
    snprintf(p, sizeof(p), "%s/secret", t->outside);
    host_write(p, "OUTSIDE", 7);
    assert_int_equal(ferry_vfs_local_open(t->root, &t->vfs), FERRY_OK);
    t->out = ferry_buf_new(64u << 20);
    start(t, FERRY_SFTP_READ_WRITE, 0);
    init(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    T *t = *state;
    ferry_sftp_server_free(t->srv);
    ferry_vfs_free(t->vfs);
    ferry_buf_free(t->out);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
    free(t);
    return 0;
}

static void restart(T *t, enum ferry_sftp_mode mode, unsigned max_handles)
{
    ferry_sftp_server_free(t->srv);
    start(t, mode, max_handles);
    init(t);
}

/* ---- tests ---- */

static void test_version_extensions(void **state)
{
    T *t = *state;
    restart(t, FERRY_SFTP_READ_WRITE, 0);
    /* re-read the VERSION to check the pairs */
    ferry_sftp_server_free(t->srv);
    start(t, FERRY_SFTP_READ_WRITE, 0);
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u32(b, 5);
    ferry_buf_put_u8(b, SSH_FXP_INIT);
    ferry_buf_put_u32(b, 3);
    feed(t, b);
    ferry_buf_free(b);
    ferry_rd r;
    uint32_t id, ver;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_VERSION);
    assert_int_equal(ferry_rd_u32(&r, &ver), FERRY_OK);
    int found = 0;
    while (ferry_rd_left(&r) > 0) {
        char name[64], data[128];
        assert_int_equal(ferry_rd_name(&r, name, sizeof(name)), FERRY_OK);
        assert_int_equal(ferry_rd_name(&r, data, sizeof(data)), FERRY_OK);
        found += strcmp(name, "posix-rename@openssh.com") == 0 && strcmp(data, "1") == 0;
        found += strcmp(name, "statvfs@openssh.com") == 0 && strcmp(data, "2") == 0;
        found += strcmp(name, "limits@openssh.com") == 0;
        found += strcmp(name, "check-file") == 0 && strstr(data, "sha256") != NULL &&
                 strstr(data, "poly1305@ferry.dev") != NULL;
        found += strcmp(name, "copy-data") == 0;
    }
    assert_int_equal(found, 5);
    /* limits */
    send_req(t, ext(t, "limits@openssh.com"));
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_EXTENDED_REPLY);
    uint64_t v[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ferry_rd_u64(&r, &v[i]), FERRY_OK);
    }
    assert_true(v[0] == 256 * 1024 + 1024 && v[1] == 256 * 1024 && v[2] == 256 * 1024);
    assert_true(v[3] == 256);
}

static void test_file_roundtrip(void **state)
{
    T *t = *state;
    hnd h;
    char buf[64];
    assert_int_equal(op_open(t, "f.txt", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h),
                     SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "hello ", 6), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 6, "world", 5), SSH_FX_OK);
    assert_int_equal(op_read(t, &h, 0, 10, buf, sizeof(buf)), -(long)SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(t->close_events, 1);
    assert_true(t->ev_written == 11);
    assert_int_equal(op_open(t, "/f.txt", SSH_FXF_READ, &h), SSH_FX_OK);
    assert_int_equal(op_read(t, &h, 0, 100, buf, sizeof(buf)), 11);
    assert_memory_equal(buf, "hello world", 11);
    assert_int_equal(op_read(t, &h, 6, 3, buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "wor", 3);
    assert_int_equal(op_read(t, &h, 11, 10, buf, sizeof(buf)), -(long)SSH_FX_EOF);
    /* WRITE on a read handle */
    assert_int_equal(op_write(t, &h, 0, "x", 1), SSH_FX_PERMISSION_DENIED);
    /* FSTAT */
    send_req(t, req_h(t, SSH_FXP_FSTAT, &h));
    ferry_rd r;
    uint32_t id;
    ferry_sftp_attrs a;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_ATTRS);
    assert_int_equal(ferry_sftp_attrs_decode(&r, &a), FERRY_OK);
    assert_true(a.size == 11);
    assert_true((a.perm & 0170000) == 0100000);
    /* FSETSTAT times */
    ferry_buf *b = req_h(t, SSH_FXP_FSETSTAT, &h);
    ferry_sftp_attrs set = {.flags = SSH_FILEXFER_ATTR_ACMODTIME, .atime = 1000, .mtime = 2000};
    ferry_sftp_attrs_encode(b, &set);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_OK);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(op_close(t, &h), SSH_FX_FAILURE); /* closed handle */
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "f.txt", &a), SSH_FX_OK);
    assert_int_equal(a.mtime, 2000);
    /* SETSTAT size + perms */
    b = req(t, SSH_FXP_SETSTAT);
    ferry_buf_put_cstring(b, "f.txt");
    ferry_sftp_attrs set2 = {
        .flags = SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_PERMISSIONS, .size = 5, .perm = 0600};
    ferry_sftp_attrs_encode(b, &set2);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_OK);
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "f.txt", &a), SSH_FX_OK);
    assert_true(a.size == 5);
    assert_int_equal(a.perm & 07777, 0600);
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "nope", &a), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_open(t, "nope", SSH_FXF_READ, &h), SSH_FX_NO_SUCH_FILE);
}

static void test_directories(void **state)
{
    T *t = *state;
    hnd h;
    char p[300];
    assert_int_equal(op_path(t, SSH_FXP_MKDIR, "d"), SSH_FX_OK);
    assert_int_equal(op_path(t, SSH_FXP_MKDIR, "d"), SSH_FX_FAILURE);
    for (int i = 0; i < 150; i++) {
        char n[32];
        snprintf(n, sizeof(n), "d/file%03d", i);
        host_path(t, p, sizeof(p), n);
        host_write(p, "abc", 3);
    }
    ferry_buf *b = req(t, SSH_FXP_OPENDIR);
    ferry_buf_put_cstring(b, "d");
    send_req(t, b);
    ferry_rd r;
    uint32_t id, count, total = 0, code;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_HANDLE);
    const uint8_t *hp;
    assert_int_equal(ferry_rd_string(&r, &hp, &h.n), FERRY_OK);
    memcpy(h.b, hp, h.n);
    int saw_long = 0;
    for (;;) {
        send_req(t, req_h(t, SSH_FXP_READDIR, &h));
        uint8_t type = next_reply(t, &r, &id);
        if (type == SSH_FXP_STATUS) {
            assert_int_equal(ferry_rd_u32(&r, &code), FERRY_OK);
            assert_int_equal(code, SSH_FX_EOF);
            break;
        }
        assert_int_equal(type, SSH_FXP_NAME);
        assert_int_equal(ferry_rd_u32(&r, &count), FERRY_OK);
        assert_true(count > 0 && count <= 100);
        for (uint32_t i = 0; i < count; i++) {
            char name[300], ln[600];
            ferry_sftp_attrs a;
            assert_int_equal(ferry_rd_name(&r, name, sizeof(name)), FERRY_OK);
            assert_int_equal(ferry_rd_name(&r, ln, sizeof(ln)), FERRY_OK);
            assert_int_equal(ferry_sftp_attrs_decode(&r, &a), FERRY_OK);
            if (strcmp(name, "file007") == 0) {
                /* "-rw-r--r--    1 alice    0               3 Jan  1 12:34 file007" */
                assert_true(ln[0] == '-');
                assert_non_null(strstr(ln, " alice "));
                assert_non_null(strstr(ln, " 3 "));
                assert_int_equal(strcmp(ln + strlen(ln) - 8, " file007"), 0);
                saw_long = 1;
            }
            total++;
        }
    }
    assert_int_equal(total, 152); /* with . and .. */
    assert_true(saw_long);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(op_path(t, SSH_FXP_RMDIR, "d"), SSH_FX_FAILURE); /* not empty */
    assert_non_null(memmem(t->last, t->last_len, "directory not empty", 19));
    assert_int_equal(op_path(t, SSH_FXP_REMOVE, "d/file000"), SSH_FX_OK);
    assert_int_equal(op_path(t, SSH_FXP_REMOVE, "d/file000"), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_path(t, SSH_FXP_MKDIR, "e"), SSH_FX_OK);
    assert_int_equal(op_path(t, SSH_FXP_RMDIR, "e"), SSH_FX_OK);
    assert_int_equal(op_path(t, SSH_FXP_RMDIR, "e"), SSH_FX_NO_SUCH_FILE);
    b = req(t, SSH_FXP_OPENDIR);
    ferry_buf_put_cstring(b, "nope");
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_NO_SUCH_FILE);
}

static void test_names_links_rename(void **state)
{
    T *t = *state;
    char p[300], out[4200];
    ferry_sftp_attrs a;
    host_path(t, p, sizeof(p), "a");
    host_write(p, "AAA", 3);
    host_path(t, p, sizeof(p), "b");
    host_write(p, "BB", 2);
    /* v3 RENAME never replaces; posix-rename does */
    assert_int_equal(op_two(t, SSH_FXP_RENAME, NULL, "a", "b"), SSH_FX_FAILURE);
    assert_int_equal(op_two(t, 0, "posix-rename@openssh.com", "a", "b"), SSH_FX_OK);
    host_path(t, p, sizeof(p), "b");
    assert_int_equal(host_size(p), 3);
    assert_int_equal(op_two(t, SSH_FXP_RENAME, NULL, "b", "c"), SSH_FX_OK);
    assert_int_equal(op_two(t, SSH_FXP_RENAME, NULL, "b", "c"), SSH_FX_NO_SUCH_FILE);
    /* SYMLINK in OpenSSH order: target first, then the link */
    assert_int_equal(op_two(t, SSH_FXP_SYMLINK, NULL, "c", "lnk"), SSH_FX_OK);
    assert_int_equal(op_name1(t, SSH_FXP_READLINK, NULL, "lnk", out, sizeof(out)), SSH_FX_OK);
    assert_string_equal(out, "c");
    assert_int_equal(op_stat(t, SSH_FXP_LSTAT, "lnk", &a), SSH_FX_OK);
    assert_true((a.perm & 0170000) == 0120000);
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "lnk", &a), SSH_FX_OK);
    assert_true(a.size == 3);
    assert_int_equal(op_name1(t, SSH_FXP_READLINK, NULL, "c", out, sizeof(out)), SSH_FX_FAILURE);
    /* the draft's order, for the clients that send it (AsyncSSH, ...) */
    t->draft = 1;
    restart(t, FERRY_SFTP_READ_WRITE, 0);
    assert_int_equal(op_two(t, SSH_FXP_SYMLINK, NULL, "lnk2", "c"), SSH_FX_OK);
    assert_int_equal(op_name1(t, SSH_FXP_READLINK, NULL, "lnk2", out, sizeof(out)), SSH_FX_OK);
    assert_string_equal(out, "c");
    t->draft = 0;
    restart(t, FERRY_SFTP_READ_WRITE, 0);
    /* hardlink */
    assert_int_equal(op_two(t, 0, "hardlink@openssh.com", "c", "c2"), SSH_FX_OK);
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "c2", &a), SSH_FX_OK);
    assert_true(a.size == 3);
    /* realpath */
    assert_int_equal(op_path(t, SSH_FXP_MKDIR, "dir"), SSH_FX_OK);
    struct {
        const char *in, *out;
    } rp[] = {{".", "/"},          {"", "/"},     {"dir/../..", "/"},
              {"/dir/./", "/dir"}, {"lnk", "/c"}, {"dir/new", "/dir/new"}};
    for (size_t i = 0; i < sizeof(rp) / sizeof(rp[0]); i++) {
        assert_int_equal(op_name1(t, SSH_FXP_REALPATH, NULL, rp[i].in, out, sizeof(out)),
                         SSH_FX_OK);
        assert_string_equal(out, rp[i].out);
    }
    assert_int_equal(op_name1(t, 0, "expand-path@openssh.com", "~/dir", out, sizeof(out)),
                     SSH_FX_OK);
    assert_string_equal(out, "/dir");
    assert_int_equal(op_name1(t, 0, "expand-path@openssh.com", "~alice", out, sizeof(out)),
                     SSH_FX_OK);
    assert_string_equal(out, "/");
    assert_int_equal(op_name1(t, 0, "expand-path@openssh.com", "~bob/x", out, sizeof(out)),
                     SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_name1(t, 0, "home-directory", "", out, sizeof(out)), SSH_FX_OK);
    assert_string_equal(out, "/");
    /* lsetstat on the symlink itself */
    ferry_buf *b = ext(t, "lsetstat@openssh.com");
    ferry_buf_put_cstring(b, "lnk");
    ferry_sftp_attrs set = {.flags = SSH_FILEXFER_ATTR_ACMODTIME, .atime = 5, .mtime = 7};
    ferry_sftp_attrs_encode(b, &set);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_OK);
    assert_int_equal(op_stat(t, SSH_FXP_LSTAT, "lnk", &a), SSH_FX_OK);
    assert_int_equal(a.mtime, 7);
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "lnk", &a), SSH_FX_OK);
    assert_int_not_equal(a.mtime, 7);
    /* statvfs */
    b = ext(t, "statvfs@openssh.com");
    ferry_buf_put_cstring(b, "/");
    send_req(t, b);
    ferry_rd r;
    uint32_t id;
    uint64_t bsize;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_EXTENDED_REPLY);
    assert_int_equal(ferry_rd_u64(&r, &bsize), FERRY_OK);
    assert_true(bsize > 0);
    assert_int_equal(ferry_rd_left(&r), 10 * 8);
    /* users-groups-by-id */
    b = ext(t, "users-groups-by-id@openssh.com");
    uint8_t ids[8] = {0};
    uint32_t me = (uint32_t)geteuid();
    ids[0] = (uint8_t)(me >> 24);
    ids[1] = (uint8_t)(me >> 16);
    ids[2] = (uint8_t)(me >> 8);
    ids[3] = (uint8_t)me;
    ids[7] = 1;
    ids[4] = me == 1 ? 2 : 0;
    ferry_buf_put_string(b, ids, 8);
    ferry_buf_put_string(b, ids, 4);
    send_req(t, b);
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_EXTENDED_REPLY);
    ferry_rd users;
    char n1[32], n2[32];
    assert_int_equal(ferry_rd_sub(&r, &users), FERRY_OK);
    assert_int_equal(ferry_rd_name(&users, n1, sizeof(n1)), FERRY_OK);
    assert_int_equal(ferry_rd_name(&users, n2, sizeof(n2)), FERRY_OK);
    assert_string_equal(n1, "alice");
    assert_string_equal(n2, "");
}

static void test_malformed_keeps_session(void **state)
{
    T *t = *state;
    ferry_sftp_attrs a;
    /* OPEN missing its fields */
    ferry_buf *b = req(t, SSH_FXP_OPEN);
    ferry_buf_put_cstring(b, "x");
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_BAD_MESSAGE);
    /* string length past the end */
    b = req(t, SSH_FXP_STAT);
    ferry_buf_put_u32(b, 1000);
    ferry_buf_put(b, "abc", 3);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_BAD_MESSAGE);
    /* NUL inside a path */
    b = req(t, SSH_FXP_STAT);
    ferry_buf_put_string(b, "a\0b", 3);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_BAD_MESSAGE);
    /* unknown request type, unknown extension */
    send_req(t, req(t, 99));
    assert_int_equal(status(t), SSH_FX_OP_UNSUPPORTED);
    send_req(t, ext(t, "nope@example.com"));
    assert_int_equal(status(t), SSH_FX_OP_UNSUPPORTED);
    /* absurd extended count in attrs */
    b = req(t, SSH_FXP_MKDIR);
    ferry_buf_put_cstring(b, "m");
    ferry_buf_put_u32(b, SSH_FILEXFER_ATTR_EXTENDED);
    ferry_buf_put_u32(b, 0xffffffff);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_BAD_MESSAGE);
    /* bad handles: wrong size, unknown, a dir handle as a file */
    hnd h = {.n = 3};
    memcpy(h.b, "abc", 3);
    assert_int_equal(op_close(t, &h), SSH_FX_FAILURE);
    h.n = 8;
    memset(h.b, 0, 8);
    assert_int_equal(op_close(t, &h), SSH_FX_FAILURE);
    h.b[3] = 200;
    char buf[8];
    assert_int_equal(op_read(t, &h, 0, 1, buf, sizeof(buf)), -(long)SSH_FX_FAILURE);
    /* a request with only a type byte */
    b = ferry_buf_new(0);
    ferry_buf_put_u32(b, 1);
    ferry_buf_put_u8(b, SSH_FXP_STAT);
    feed(t, b);
    ferry_buf_free(b);
    ferry_rd r;
    uint32_t id, code;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_STATUS);
    assert_int_equal(ferry_rd_u32(&r, &code), FERRY_OK);
    assert_int_equal(code, SSH_FX_BAD_MESSAGE);
    /* the session goes on */
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "/", &a), SSH_FX_OK);
    /* a partial packet is not consumed; the rest completes it */
    b = req(t, SSH_FXP_STAT);
    ferry_buf_put_cstring(b, "/");
    ferry_buf_poke_u32(b, 0, (uint32_t)ferry_buf_len(b) - 4);
    assert_int_equal(ferry_sftp_server_input(t->srv, ferry_buf_data(b), 7), 0);
    assert_int_equal(ferry_buf_len(t->out), 0);
    feed(t, b);
    ferry_buf_free(b);
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_ATTRS);
    /* a packet over the limit is fatal */
    uint8_t big[4] = {0, 0x10, 0, 0};
    assert_true(ferry_sftp_server_input(t->srv, big, 4) < 0);
}

static void test_handles_limit_and_huge_read(void **state)
{
    T *t = *state;
    restart(t, FERRY_SFTP_READ_WRITE, 4);
    char p[300];
    host_path(t, p, sizeof(p), "big");
    uint8_t *data = malloc(1 << 20);
    for (size_t i = 0; i < (1u << 20); i++) {
        data[i] = (uint8_t)(i * 7);
    }
    host_write(p, data, 1 << 20);
    hnd h[5];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(op_open(t, "big", SSH_FXF_READ, &h[i]), SSH_FX_OK);
    }
    assert_int_equal(op_open(t, "big", SSH_FXF_READ, &h[4]), SSH_FX_FAILURE);
    assert_non_null(memmem(t->last, t->last_len, "too many open handles", 21));
    assert_int_equal(op_close(t, &h[1]), SSH_FX_OK);
    /* the freed slot's old handle stays invalid after reuse */
    assert_int_equal(op_open(t, "big", SSH_FXF_READ, &h[4]), SSH_FX_OK);
    assert_int_equal(op_close(t, &h[1]), SSH_FX_FAILURE);
    /* huge READ is clamped to 256 KiB */
    uint8_t *buf = malloc(1 << 20);
    long n = op_read(t, &h[0], 0, 0xffffffffu, buf, 1 << 20);
    assert_int_equal(n, 256 * 1024);
    assert_memory_equal(buf, data, 256 * 1024);
    free(buf);
    free(data);
}

static void test_jail(void **state)
{
    T *t = *state;
    hnd h;
    ferry_sftp_attrs a;
    char p[300], host_outside[300];
    snprintf(host_outside, sizeof(host_outside), "%s/secret", t->outside);
    assert_int_equal(op_open(t, "../outside/secret", SSH_FXF_READ, &h), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_open(t, "/../../outside/secret", SSH_FXF_READ, &h), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_stat(t, SSH_FXP_STAT, host_outside, &a), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_two(t, SSH_FXP_SYMLINK, NULL, host_outside, "abs"), SSH_FX_OK);
    assert_int_equal(op_two(t, SSH_FXP_SYMLINK, NULL, "../../../outside/secret", "rel"), SSH_FX_OK);
    assert_int_equal(op_two(t, SSH_FXP_SYMLINK, NULL, "/etc", "sys"), SSH_FX_OK);
    assert_int_equal(op_open(t, "abs", SSH_FXF_READ, &h), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_open(t, "rel", SSH_FXF_READ, &h), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "sys/passwd", &a), SSH_FX_NO_SUCH_FILE);
    /* writing through a dangling link out stays inside */
    assert_int_equal(op_two(t, SSH_FXP_SYMLINK, NULL, "/../outside/new", "dang"), SSH_FX_OK);
    assert_int_equal(op_open(t, "dang", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h),
                     SSH_FX_NO_SUCH_FILE);
    snprintf(p, sizeof(p), "%s/new", t->outside);
    assert_int_equal(host_size(p), -1);
    /* hardlinks */
    assert_int_equal(op_two(t, 0, "hardlink@openssh.com", "../outside/secret", "hl"),
                     SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_two(t, 0, "hardlink@openssh.com", "rel", "hl2"), SSH_FX_OK);
    assert_int_equal(op_stat(t, SSH_FXP_LSTAT, "hl2", &a), SSH_FX_OK);
    assert_true((a.perm & 0170000) == 0120000);
    assert_int_equal(op_open(t, "hl2", SSH_FXF_READ, &h), SSH_FX_NO_SUCH_FILE);
    /* rename through a symlinked parent pointing out */
    assert_int_equal(op_two(t, SSH_FXP_SYMLINK, NULL, t->outside, "pabs"), SSH_FX_OK);
    assert_int_equal(op_two(t, SSH_FXP_SYMLINK, NULL, "../outside", "prel"), SSH_FX_OK);
    assert_int_equal(op_two(t, SSH_FXP_RENAME, NULL, "pabs/secret", "stolen"), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_two(t, 0, "posix-rename@openssh.com", "prel/secret", "stolen"),
                     SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_path(t, SSH_FXP_REMOVE, "prel/secret"), SSH_FX_NO_SUCH_FILE);
    host_path(t, p, sizeof(p), "mine");
    host_write(p, "MINE", 4);
    assert_int_equal(op_two(t, SSH_FXP_RENAME, NULL, "mine", "prel/mine"), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(host_size(host_outside), 7);
    snprintf(p, sizeof(p), "%s/mine", t->outside);
    assert_int_equal(host_size(p), -1);
    /* READLINK returns targets as stored; REALPATH never shows host paths */
    char out[4200];
    assert_int_equal(op_name1(t, SSH_FXP_READLINK, NULL, "prel", out, sizeof(out)), SSH_FX_OK);
    assert_string_equal(out, "../outside");
    assert_int_equal(op_name1(t, SSH_FXP_REALPATH, NULL, "prel/x", out, sizeof(out)),
                     SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_name1(t, SSH_FXP_REALPATH, NULL, "../..", out, sizeof(out)), SSH_FX_OK);
    assert_string_equal(out, "/");
}

/* A thread swaps root/d between a real directory and a symlink to the
 * outside directory while the server opens d/secret: the server must
 * never read the outside file. */
typedef struct swapper {
    T *t;
    atomic_int stop;
} swapper;

static void *swap_loop(void *arg)
{
    swapper *sw = arg;
    char d[300], alt[300];
    host_path(sw->t, d, sizeof(d), "d");
    host_path(sw->t, alt, sizeof(alt), "d_alt");
    while (!atomic_load(&sw->stop)) {
        renameat2(AT_FDCWD, d, AT_FDCWD, alt, RENAME_EXCHANGE);
    }
    return NULL;
}

static void swap_race(T *t, const char *target, const char *dname)
{
    char p[300], alt[300];
    host_path(t, p, sizeof(p), "d");
    assert_int_equal(mkdir(p, 0755), 0);
    host_path(t, p, sizeof(p), "d/secret");
    host_write(p, "INSIDE!", 7);
    host_path(t, alt, sizeof(alt), "d_alt");
    assert_int_equal(symlink(target, alt), 0);
    swapper sw = {.t = t};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, swap_loop, &sw), 0);
    int inside = 0, refused = 0;
    /* on a loaded machine the swapper may win many rounds in a row: go on
     * until one open landed inside */
    for (int i = 0; i < 1500 || (inside == 0 && i < 200000); i++) {
        hnd h;
        char buf[16];
        if (op_open(t, i % 2 ? "d/secret" : "/d/../d/secret", SSH_FXF_READ, &h) != SSH_FX_OK) {
            refused++;
            continue;
        }
        long n = op_read(t, &h, 0, sizeof(buf), buf, sizeof(buf));
        assert_int_equal(n, 7);
        assert_memory_equal(buf, "INSIDE!", 7);
        inside++;
        assert_int_equal(op_close(t, &h), SSH_FX_OK);
    }
    atomic_store(&sw.stop, 1);
    pthread_join(th, NULL);
    assert_true(inside > 0);
    snprintf(p, sizeof(p), "%s/secret", t->outside);
    assert_int_equal(host_size(p), 7);
    /* clean up for the next round, wherever the directory ended */
    char cmd[700];
    host_path(t, p, sizeof(p), "d");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", p, alt);
    assert_int_equal(system(cmd), 0);
    (void)dname;
    (void)refused;
}

static void test_symlink_swap_race(void **state)
{
    T *t = *state;
    swap_race(t, t->outside, "absolute host path"); /* absolute */
    swap_race(t, "../outside", "relative");
    swap_race(t, "../../../../..", "far up");
}

static void test_atomic_upload(void **state)
{
    T *t = *state;
    hnd h;
    char p[300];
    ferry_sftp_attrs a;
    host_path(t, p, sizeof(p), "up");
    assert_int_equal(op_open(t, "up", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h),
                     SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "0123456789", 10), SSH_FX_OK);
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "up", &a), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(host_size(p), -1);
    assert_int_equal(count_parts(t), 1);
    send_req(t, req_h(t, SSH_FXP_FSTAT, &h));
    ferry_rd r;
    uint32_t id;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_ATTRS);
    assert_int_equal(ferry_sftp_attrs_decode(&r, &a), FERRY_OK);
    assert_true(a.size == 10);
    send_req(t, req_h(t, SSH_FXP_EXTENDED, &h)); /* malformed: handle as ext name */
    assert_int_equal(status(t), SSH_FX_OP_UNSUPPORTED);
    ferry_buf *b = ext(t, "fsync@openssh.com");
    ferry_buf_put_string(b, h.b, h.n);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_OK);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(host_size(p), 10);
    assert_int_equal(count_parts(t), 0);
    /* replacing: the old content stays until CLOSE */
    assert_int_equal(op_open(t, "up", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h),
                     SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "xy", 2), SSH_FX_OK);
    assert_int_equal(host_size(p), 10);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(host_size(p), 2);
    /* freeing the server mid-upload leaves nothing */
    assert_int_equal(op_open(t, "up2", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h),
                     SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "partial", 7), SSH_FX_OK);
    assert_int_equal(count_parts(t), 1);
    int ev = t->close_events;
    restart(t, FERRY_SFTP_READ_WRITE, 0);
    assert_int_equal(t->close_events, ev + 1);
    host_path(t, p, sizeof(p), "up2");
    assert_int_equal(host_size(p), -1);
    assert_int_equal(count_parts(t), 0);
}

static void test_excl_and_resume(void **state)
{
    T *t = *state;
    hnd h;
    char p[300], buf[32];
    uint32_t cx = SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_EXCL;
    host_path(t, p, sizeof(p), "r");
    host_write(p, "hello", 5);
    assert_int_equal(op_open(t, "r", cx, &h), SSH_FX_FAILURE);
    assert_int_equal(op_open(t, "x", cx, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "mine", 4), SSH_FX_OK);
    char px[300];
    host_path(t, px, sizeof(px), "x");
    host_write(px, "theirs!", 7);                      /* appears meanwhile */
    assert_int_equal(op_close(t, &h), SSH_FX_FAILURE); /* not overwritten */
    assert_int_equal(host_size(px), 7);
    assert_int_equal(count_parts(t), 0);
    /* resume: WRITE without TRUNC on an existing file writes in place */
    assert_int_equal(op_open(t, "r", SSH_FXF_WRITE | SSH_FXF_CREAT, &h), SSH_FX_OK);
    assert_int_equal(count_parts(t), 0);
    assert_int_equal(op_write(t, &h, 5, " world", 6), SSH_FX_OK);
    assert_int_equal(host_size(p), 11); /* visible at once: in place */
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(op_open(t, "r", SSH_FXF_WRITE | SSH_FXF_APPEND, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "!", 1), SSH_FX_OK);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(op_open(t, "r", SSH_FXF_READ, &h), SSH_FX_OK);
    assert_int_equal(op_read(t, &h, 0, sizeof(buf), buf, sizeof(buf)), 12);
    assert_memory_equal(buf, "hello world!", 12);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
}

static void sha256_of(const uint8_t *d, size_t n, uint8_t out[32])
{
    unsigned len = 32;
    assert_int_equal(EVP_Digest(d, n, out, &len, EVP_sha256(), NULL), 1);
}

static ferry_buf *check_req(T *t, const char *name, const void *target, size_t tlen,
                            const char *algs, uint64_t start, uint64_t len, uint32_t bs)
{
    ferry_buf *b = ext(t, name);
    ferry_buf_put_string(b, target, tlen);
    ferry_buf_put_cstring(b, algs);
    ferry_buf_put_u64(b, start);
    ferry_buf_put_u64(b, len);
    ferry_buf_put_u32(b, bs);
    return b;
}

/* Reads a check-file reply; returns the hash bytes count. */
static size_t check_reply(T *t, char *alg, const uint8_t **hashes)
{
    ferry_rd r;
    uint32_t id;
    char name[32];
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_EXTENDED_REPLY);
    assert_int_equal(ferry_rd_name(&r, name, sizeof(name)), FERRY_OK);
    assert_string_equal(name, "check-file");
    assert_int_equal(ferry_rd_name(&r, alg, 32), FERRY_OK);
    *hashes = ferry_rd_ptr(&r);
    return ferry_rd_left(&r);
}

/* sha256 of [0, size) of an open handle through check-file-handle (or the
 * "check-file" alias), compared with the expected bytes. */
static void expect_sha256(T *t, const char *extname, const hnd *h, const void *d, size_t n)
{
    char alg[32];
    const uint8_t *hs;
    uint8_t want[32];
    send_req(t, check_req(t, extname, h->b, h->n, "sha256", 0, 0, 0));
    assert_int_equal(check_reply(t, alg, &hs), 32);
    assert_string_equal(alg, "sha256");
    sha256_of(d, n, want);
    assert_memory_equal(hs, want, 32);
}

static void test_check_file(void **state)
{
    T *t = *state;
    char p[300], alg[32];
    const uint8_t *hs;
    uint8_t want[32];
    size_t n = 300000;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++) {
        data[i] = (uint8_t)(i * 31 + (i >> 8));
    }
    host_path(t, p, sizeof(p), "cf");
    host_write(p, data, n);
    send_req(t, check_req(t, "check-file-name", "cf", 2, "crc32,sha256,md5", 0, 0, 0));
    assert_int_equal(check_reply(t, alg, &hs), 32);
    assert_string_equal(alg, "sha256");
    sha256_of(data, n, want);
    assert_memory_equal(hs, want, 32);
    /* a range (resume prefix check) */
    send_req(t, check_req(t, "check-file-name", "/cf", 3, "sha256", 1000, 5000, 0));
    assert_int_equal(check_reply(t, alg, &hs), 32);
    sha256_of(data + 1000, 5000, want);
    assert_memory_equal(hs, want, 32);
    /* per block through a handle, range clipped to the file */
    hnd h;
    assert_int_equal(op_open(t, "cf", SSH_FXF_READ, &h), SSH_FX_OK);
    send_req(t, check_req(t, "check-file-handle", h.b, h.n, "sha256", n - 10000, 1u << 30, 4096));
    size_t got = check_reply(t, alg, &hs);
    assert_int_equal(got, 3 * 32); /* 4096 + 4096 + 1808 */
    sha256_of(data + n - 10000 + 8192, 1808, want);
    assert_memory_equal(hs + 64, want, 32);
    send_req(t, check_req(t, "check-file-handle", h.b, h.n, "crc32", 0, 0, 0));
    assert_int_equal(status(t), SSH_FX_OP_UNSUPPORTED);
    send_req(t, check_req(t, "check-file-handle", h.b, h.n, "md5", 0, 0, 100));
    assert_int_equal(status(t), SSH_FX_FAILURE);
    /* "check-file" with a handle (paramiko's SFTPFile.check) */
    expect_sha256(t, "check-file", &h, data, n);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    /* more than 64 MiB in one request */
    host_path(t, p, sizeof(p), "huge");
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 100 << 20), 0);
    close(fd);
    send_req(t, check_req(t, "check-file-name", "huge", 4, "md5", 0, 0, 0));
    assert_int_equal(status(t), SSH_FX_FAILURE);
    assert_non_null(memmem(t->last, t->last_len, "range too large", 15));
    send_req(t, check_req(t, "check-file-name", "nope", 4, "md5", 0, 0, 0));
    assert_int_equal(status(t), SSH_FX_NO_SUCH_FILE);
    /* copy-data */
    hnd rh, wh;
    assert_int_equal(op_open(t, "cf", SSH_FXF_READ, &rh), SSH_FX_OK);
    assert_int_equal(op_open(t, "copy", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &wh),
                     SSH_FX_OK);
    ferry_buf *b = ext(t, "copy-data");
    ferry_buf_put_string(b, rh.b, rh.n);
    ferry_buf_put_u64(b, 0);
    ferry_buf_put_u64(b, 0);
    ferry_buf_put_string(b, wh.b, wh.n);
    ferry_buf_put_u64(b, 0);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_OK);
    assert_int_equal(op_close(t, &wh), SSH_FX_OK);
    assert_int_equal(op_close(t, &rh), SSH_FX_OK);
    host_path(t, p, sizeof(p), "copy");
    assert_int_equal(host_size(p), (long)n);
    free(data);
}

static void host_read(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    fclose(f);
}

static void restart_keep(T *t, enum ferry_sftp_mode mode, int keep, const char *ext_data)
{
    ferry_sftp_server_free(t->srv);
    t->keep = keep;
    start(t, mode, 0);
    assert_string_equal(init_ext(t, "partial-upload@ferry.dev"), ext_data);
}

static void test_partial_uploads(void **state)
{
    T *t = *state;
    hnd h;
    char p[300], pp[300], buf[64];
    struct stat st;
    ferry_sftp_attrs a;
    uint32_t up = SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC;
    /* announced only with atomic uploads and keep_partial both on */
    restart_keep(t, FERRY_SFTP_READ_WRITE, 0, "");
    t->no_atomic = 1;
    restart_keep(t, FERRY_SFTP_READ_WRITE, 1, "");
    t->no_atomic = 0;
    restart_keep(t, FERRY_SFTP_READ_WRITE, 1, "1");
    host_path(t, p, sizeof(p), "up");
    host_path(t, pp, sizeof(pp), ".up.ferry-partial");
    /* dropped holding bytes: kept as the partial, 0600, nothing else */
    assert_int_equal(op_open(t, "up", up, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "0123456789", 10), SSH_FX_OK);
    int ev = t->close_events;
    restart_keep(t, FERRY_SFTP_READ_WRITE, 1, "1");
    assert_int_equal(t->close_events, ev + 1);
    assert_int_equal(t->partial_events, 1);
    assert_string_equal(t->partial_path, ".up.ferry-partial");
    assert_int_equal(stat(pp, &st), 0);
    assert_int_equal(st.st_size, 10);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(host_size(p), -1);
    assert_int_equal(count_parts(t), 0);
    /* a newer interrupted upload replaces it */
    assert_int_equal(op_open(t, "up", up, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "abcdef", 6), SSH_FX_OK);
    restart_keep(t, FERRY_SFTP_READ_WRITE, 1, "1");
    assert_int_equal(host_size(pp), 6);
    assert_int_equal(t->partial_events, 2);
    /* an empty one is not kept (the older partial stays) */
    assert_int_equal(op_open(t, "up", up, &h), SSH_FX_OK);
    restart_keep(t, FERRY_SFTP_READ_WRITE, 1, "1");
    assert_int_equal(host_size(pp), 6);
    assert_int_equal(t->partial_events, 2);
    assert_int_equal(count_parts(t), 0);
    /* resume: stat it, open it READ|WRITE (in place), hash the prefix,
     * write the rest, rename it onto the final name */
    assert_int_equal(op_stat(t, SSH_FXP_STAT, ".up.ferry-partial", &a), SSH_FX_OK);
    assert_true(a.size == 6);
    assert_int_equal(op_open(t, ".up.ferry-partial", SSH_FXF_READ | SSH_FXF_WRITE, &h), SSH_FX_OK);
    assert_int_equal(count_parts(t), 0);
    expect_sha256(t, "check-file-handle", &h, "abcdef", 6);
    assert_int_equal(op_write(t, &h, 6, "ghij", 4), SSH_FX_OK);
    assert_int_equal(host_size(pp), 10); /* in place */
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(op_two(t, 0, "posix-rename@openssh.com", ".up.ferry-partial", "up"),
                     SSH_FX_OK);
    host_read(p, buf, sizeof(buf));
    assert_string_equal(buf, "abcdefghij");
    assert_int_equal(host_size(pp), -1);
    /* a successful upload removes a stale partial of its name */
    assert_int_equal(op_open(t, "up", up, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "x", 1), SSH_FX_OK);
    restart_keep(t, FERRY_SFTP_READ_WRITE, 1, "1");
    assert_int_equal(host_size(pp), 1);
    assert_int_equal(op_open(t, "up", up, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "full", 4), SSH_FX_OK);
    assert_int_equal(host_size(pp), 1); /* still there until the CLOSE */
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(host_size(pp), -1);
    assert_int_equal(host_size(p), 4);
    /* in a subdirectory; through ".." (never above the root) */
    assert_int_equal(op_path(t, SSH_FXP_MKDIR, "d"), SSH_FX_OK);
    assert_int_equal(op_open(t, "d/f", up, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "sub", 3), SSH_FX_OK);
    hnd h2;
    assert_int_equal(op_open(t, "d/../../../esc", up, &h2), SSH_FX_OK);
    assert_int_equal(op_write(t, &h2, 0, "esc", 3), SSH_FX_OK);
    restart_keep(t, FERRY_SFTP_READ_WRITE, 1, "1");
    host_path(t, p, sizeof(p), "d/.f.ferry-partial");
    assert_int_equal(host_size(p), 3);
    host_path(t, p, sizeof(p), ".esc.ferry-partial");
    assert_int_equal(host_size(p), 3);
    snprintf(p, sizeof(p), "%s/.esc.ferry-partial", t->dir);
    assert_int_equal(host_size(p), -1);
    /* disabled: an interrupted upload is discarded */
    restart_keep(t, FERRY_SFTP_READ_WRITE, 0, "");
    assert_int_equal(op_open(t, "gone", up, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "data", 4), SSH_FX_OK);
    restart_keep(t, FERRY_SFTP_READ_WRITE, 0, "");
    host_path(t, p, sizeof(p), ".gone.ferry-partial");
    assert_int_equal(host_size(p), -1);
    assert_int_equal(count_parts(t), 0);
    /* atomic uploads off: writes go in place, nothing to keep */
    t->no_atomic = 1;
    restart_keep(t, FERRY_SFTP_READ_WRITE, 1, "");
    assert_int_equal(op_open(t, "direct", up, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "data", 4), SSH_FX_OK);
    restart_keep(t, FERRY_SFTP_READ_WRITE, 1, "");
    t->no_atomic = 0;
    host_path(t, p, sizeof(p), "direct");
    assert_int_equal(host_size(p), 4);
    host_path(t, p, sizeof(p), ".direct.ferry-partial");
    assert_int_equal(host_size(p), -1);
}

/* Upload-only: the partial can be written in place and renamed to a free
 * final name, not hashed nor renamed over an existing file. */
static void test_partial_upload_only(void **state)
{
    T *t = *state;
    hnd h;
    char p[300], buf[64];
    restart_keep(t, FERRY_SFTP_UPLOAD_ONLY, 1, "1");
    assert_int_equal(op_open(t, "u", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "12345", 5), SSH_FX_OK);
    restart_keep(t, FERRY_SFTP_UPLOAD_ONLY, 1, "1");
    host_path(t, p, sizeof(p), ".u.ferry-partial");
    assert_int_equal(host_size(p), 5);
    assert_int_equal(op_open(t, ".u.ferry-partial", SSH_FXF_READ | SSH_FXF_WRITE, &h), SSH_FX_OK);
    send_req(t, check_req(t, "check-file-handle", h.b, h.n, "sha256", 0, 0, 0));
    assert_int_equal(status(t), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_write(t, &h, 5, "678", 3), SSH_FX_OK);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    host_path(t, p, sizeof(p), "taken");
    host_write(p, "taken", 5);
    assert_int_equal(op_two(t, 0, "posix-rename@openssh.com", ".u.ferry-partial", "taken"),
                     SSH_FX_FAILURE);
    assert_int_equal(op_two(t, SSH_FXP_RENAME, NULL, ".u.ferry-partial", "u"), SSH_FX_OK);
    host_path(t, p, sizeof(p), "u");
    host_read(p, buf, sizeof(buf));
    assert_string_equal(buf, "12345678");
    host_path(t, p, sizeof(p), "taken");
    assert_int_equal(host_size(p), 5);
    /* an upload never replaces nor removes another file, not even a
     * partial one: a file named like the partial of "v" stays */
    char pv[300];
    host_path(t, pv, sizeof(pv), ".v.ferry-partial");
    host_write(pv, "someone's", 9);
    assert_int_equal(op_open(t, "v", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "abc", 3), SSH_FX_OK);
    restart_keep(t, FERRY_SFTP_UPLOAD_ONLY, 1, "1");
    assert_int_equal(host_size(pv), 9);
    assert_int_equal(count_parts(t), 0);
    assert_int_equal(op_open(t, "v", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "abcd", 4), SSH_FX_OK);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(host_size(pv), 9);
    host_path(t, p, sizeof(p), "v");
    assert_int_equal(host_size(p), 4);
}

static void test_read_only(void **state)
{
    T *t = *state;
    char p[300];
    hnd h;
    host_path(t, p, sizeof(p), "ro");
    host_write(p, "data", 4);
    restart(t, FERRY_SFTP_READ_ONLY, 0);
    assert_int_equal(op_open(t, "ro", SSH_FXF_WRITE, &h), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_open(t, "new", SSH_FXF_READ | SSH_FXF_CREAT, &h), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_path(t, SSH_FXP_REMOVE, "ro"), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_path(t, SSH_FXP_MKDIR, "d"), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_two(t, SSH_FXP_RENAME, NULL, "ro", "r2"), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_two(t, SSH_FXP_SYMLINK, NULL, "ro", "l"), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_two(t, 0, "hardlink@openssh.com", "ro", "l"), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_open(t, "ro", SSH_FXF_READ, &h), SSH_FX_OK);
    char buf[8];
    assert_int_equal(op_read(t, &h, 0, 8, buf, sizeof(buf)), 4);
    assert_int_equal(op_write(t, &h, 0, "x", 1), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(host_size(p), 4);
}

static void test_upload_only(void **state)
{
    T *t = *state;
    char p[300], buf[8];
    hnd h;
    ferry_sftp_attrs a;
    host_path(t, p, sizeof(p), "old");
    host_write(p, "old", 3);
    restart(t, FERRY_SFTP_UPLOAD_ONLY, 0);
    assert_int_equal(op_open(t, "new", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h),
                     SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "abc", 3), SSH_FX_OK);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "new", &a), SSH_FX_OK);
    assert_int_equal(op_path(t, SSH_FXP_MKDIR, "dir"), SSH_FX_OK);
    assert_int_equal(op_open(t, "old", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h),
                     SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_open(t, "old", SSH_FXF_READ, &h), SSH_FX_OK);
    assert_int_equal(op_read(t, &h, 0, 8, buf, sizeof(buf)), -(long)SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(op_path(t, SSH_FXP_REMOVE, "old"), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_path(t, SSH_FXP_RMDIR, "dir"), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(op_two(t, SSH_FXP_RENAME, NULL, "new", "old"), SSH_FX_FAILURE);
    assert_int_equal(op_two(t, 0, "posix-rename@openssh.com", "new", "old"), SSH_FX_FAILURE);
    assert_int_equal(op_two(t, 0, "posix-rename@openssh.com", "new", "newer"), SSH_FX_OK);
    /* resume in place is allowed */
    assert_int_equal(op_open(t, "newer", SSH_FXF_WRITE, &h), SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 3, "def", 3), SSH_FX_OK);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    host_path(t, p, sizeof(p), "newer");
    assert_int_equal(host_size(p), 6);
    host_path(t, p, sizeof(p), "old");
    assert_int_equal(host_size(p), 3);
}

/* The last event: op, path, path2, refusal ("-" for none) and status. */
static void expect_event(T *t, const char *op, const char *path, const char *path2,
                         const char *refusal, int status)
{
    assert_string_equal(t->ev_op, op);
    assert_string_equal(t->ev_path, path);
    assert_string_equal(t->ev_path2, path2);
    assert_string_equal(t->ev_refusal, refusal);
    assert_int_equal(t->ev_status, status);
}

/* Every request the mode refuses gives one event naming the request, what
 * it named and the refusal; other results carry no refusal. */
static void test_refusal_events(void **state)
{
    T *t = *state;
    char p[300], buf[8];
    hnd h;
    const char *ro = "read-only session", *uo = "upload-only session";
    const int denied = SSH_FX_PERMISSION_DENIED;
    host_path(t, p, sizeof(p), "f");
    host_write(p, "data", 4);
    restart(t, FERRY_SFTP_READ_ONLY, 0);
    assert_int_equal(op_path(t, SSH_FXP_REMOVE, "f"), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "remove", "f", "-", ro, denied);
    assert_int_equal(op_path(t, SSH_FXP_MKDIR, "d"), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "mkdir", "d", "-", ro, denied);
    assert_int_equal(op_two(t, SSH_FXP_RENAME, NULL, "f", "g"), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "rename", "f", "g", ro, denied);
    assert_int_equal(op_two(t, 0, "hardlink@openssh.com", "f", "l"), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "link", "f", "l", ro, denied);
    assert_int_equal(op_open(t, "f", SSH_FXF_WRITE, &h), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "open", "f", "-", ro, denied);
    assert_int_equal(op_open(t, "f", SSH_FXF_READ, &h), SSH_FX_OK);
    expect_event(t, "open", "f", "-", "-", SSH_FX_OK);
    assert_int_equal(op_write(t, &h, 0, "x", 1), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "write", "f", "-", ro, denied);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    ferry_buf *b = req(t, SSH_FXP_SETSTAT);
    ferry_buf_put_cstring(b, "f");
    put_empty_attrs(b);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "setstat", "f", "-", ro, denied);
    /* malformed: refused all the same, nothing named */
    send_req(t, req(t, SSH_FXP_REMOVE));
    assert_int_equal(status(t), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "remove", "-", "-", ro, denied);
    assert_int_equal(t->refusals, 8);
    /* upload-only */
    restart(t, FERRY_SFTP_UPLOAD_ONLY, 0);
    assert_int_equal(op_open(t, "f", SSH_FXF_READ, &h), SSH_FX_OK);
    assert_int_equal(op_read(t, &h, 0, 4, buf, sizeof(buf)), -(long)SSH_FX_PERMISSION_DENIED);
    expect_event(t, "read", "f", "-", uo, denied);
    send_req(t, check_req(t, "check-file-handle", h.b, h.n, "sha256", 0, 0, 0));
    assert_int_equal(status(t), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "check-file-handle", "f", "-", uo, denied);
    send_req(t, check_req(t, "check-file-name", "f", 1, "sha256", 0, 0, 0));
    assert_int_equal(status(t), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "check-file-name", "f", "-", uo, denied);
    b = req_h(t, SSH_FXP_FSETSTAT, &h);
    ferry_buf_put_u32(b, SSH_FILEXFER_ATTR_SIZE);
    ferry_buf_put_u64(b, 0);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "setstat", "f", "-", "upload-only session: cannot change the size", denied);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    assert_int_equal(op_path(t, SSH_FXP_RMDIR, "/"), SSH_FX_PERMISSION_DENIED);
    expect_event(t, "rmdir", "/", "-", uo, denied);
    assert_int_equal(op_open(t, "f", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h),
                     SSH_FX_PERMISSION_DENIED);
    expect_event(t, "open", "f", "-", "upload-only session: cannot replace an existing file",
                 denied);
    /* not refusals: a missing file, an allowed request */
    assert_int_equal(op_open(t, "nope", SSH_FXF_WRITE, &h), SSH_FX_NO_SUCH_FILE);
    expect_event(t, "open", "nope", "-", "-", SSH_FX_NO_SUCH_FILE);
    assert_int_equal(op_path(t, SSH_FXP_MKDIR, "d"), SSH_FX_OK);
    expect_event(t, "mkdir", "d", "-", "-", SSH_FX_OK);
    assert_int_equal(t->refusals, 8 + 6);
    assert_int_equal(host_size(p), 4);
}

/* Changes one byte of a host file behind the server's back, keeping its
 * size and mtime: an answer from the running hashes still shows the old
 * content, an answer from reading the new one. */
static void tamper_keep_mtime(const char *path, off_t off)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "#", 1, off), 1);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(futimens(fd, ts), 0);
    close(fd);
}

/* The digest of d[n] in alg ("sha256" or "poly1305@ferry.dev", computed
 * here straight from EVP, not through crypto/chk.c); returns its size. */
static size_t digest_of(const char *alg, const uint8_t *d, size_t n, uint8_t *out)
{
    if (strcmp(alg, "sha256") == 0) {
        sha256_of(d, n, out);
        return 32;
    }
    size_t len = 0;
    assert_string_equal(alg, "poly1305@ferry.dev");
    assert_non_null(EVP_Q_mac(NULL, "POLY1305", NULL, NULL, NULL,
                              (const unsigned char *)"ferry.dev check-file poly1305 k1", 32, d, n,
                              out, 16, &len));
    assert_int_equal(len, 16);
    return len;
}

/* The algorithm expect_piece asks for: ferry's with ferryd by default. */
static const char *piece_alg = "poly1305@ferry.dev";

/* check-file in piece_alg, block-size 0, of [start, start+len) of a name
 * or a handle (h != NULL), compared with the digest of want[wn]. */
static void expect_piece(T *t, const char *name, const hnd *h, uint64_t start, uint64_t len,
                         const uint8_t *want, size_t wn)
{
    char alg[32];
    const uint8_t *hs;
    uint8_t w[64];
    if (h != NULL) {
        send_req(t, check_req(t, "check-file-handle", h->b, h->n, piece_alg, start, len, 0));
    } else {
        send_req(t, check_req(t, "check-file-name", name, strlen(name), piece_alg, start, len, 0));
    }
    size_t dl = digest_of(piece_alg, want, wn, w);
    assert_int_equal(check_reply(t, alg, &hs), dl);
    assert_string_equal(alg, piece_alg);
    assert_memory_equal(hs, w, dl);
}

/* Uploads data[n] to name in writes of `chunk` bytes, in order. */
static void upload(T *t, const char *name, const uint8_t *data, size_t n, size_t chunk)
{
    hnd h;
    assert_int_equal(op_open(t, name, SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &h),
                     SSH_FX_OK);
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        assert_int_equal(op_write(t, &h, off, data + off, k), SSH_FX_OK);
    }
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
}

/* A patterned file of n bytes and the same with byte 5 changed (what
 * tamper_keep_mtime makes of it). */
static void patterned(size_t n, uint8_t **data, uint8_t **tam)
{
    *data = malloc(n);
    *tam = malloc(n);
    assert_non_null(*data);
    assert_non_null(*tam);
    for (size_t i = 0; i < n; i++) {
        (*data)[i] = (uint8_t)(i * 7 + (i >> 12) + 1); /* byte 5 is not '#' */
    }
    memcpy(*tam, *data, n);
    (*tam)[5] = '#';
}

/* READ replies: built in the writer's packet when it gives room (a short
 * read and EOF included), the usual way when it says so, and when it says
 * "later" the request waits, unconsumed, until it is offered again. */
static void test_read_in_place(void **state)
{
    T *t = *state;
    char p[300], got[200];
    hnd h;
    restart(t, FERRY_SFTP_READ_WRITE, 0);
    host_path(t, p, sizeof(p), "ip");
    host_write(p, "0123456789abcdef", 16);
    assert_int_equal(op_open(t, "ip", SSH_FXF_READ, &h), SSH_FX_OK);
    unsigned before = t->ip_replies;
    assert_int_equal(op_read(t, &h, 2, 5, got, sizeof(got)), 5);
    assert_memory_equal(got, "23456", 5);
    assert_int_equal(op_read(t, &h, 10, 100, got, sizeof(got)), 6); /* short */
    assert_memory_equal(got, "abcdef", 6);
    assert_int_equal(op_read(t, &h, 16, 10, got, sizeof(got)), -(long)SSH_FX_EOF);
    assert_int_equal(t->ip_replies, before + 2);
    /* the writer says "use write" */
    t->inplace = 1;
    assert_int_equal(op_read(t, &h, 0, 4, got, sizeof(got)), 4);
    assert_memory_equal(got, "0123", 4);
    assert_int_equal(t->ip_replies, before + 2);
    /* "later": nothing consumed, nothing answered; offered again, done */
    t->inplace = 2;
    ferry_buf *b = req_h(t, SSH_FXP_READ, &h);
    ferry_buf_put_u64(b, 8);
    ferry_buf_put_u32(b, 3);
    assert_int_equal(ferry_buf_poke_u32(b, 0, (uint32_t)ferry_buf_len(b) - 4), FERRY_OK);
    assert_int_equal(ferry_sftp_server_input(t->srv, ferry_buf_data(b), ferry_buf_len(b)), 0);
    assert_int_equal(ferry_buf_len(t->out), 0);
    assert_true(ferry_sftp_server_pending(t->srv) > 0); /* not finished: one waits */
    t->inplace = 0;
    feed(t, b);
    assert_int_equal(ferry_sftp_server_pending(t->srv), 0);
    ferry_buf_free(b);
    ferry_rd r;
    uint32_t id;
    const uint8_t *d;
    size_t n;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_DATA);
    assert_int_equal(id, t->id);
    assert_int_equal(ferry_rd_string(&r, &d, &n), FERRY_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(d, "89a", 3);
    assert_int_equal(t->ip_replies, before + 3);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
}

static void test_running_hash(void **state)
{
    T *t = *state;
    const size_t piece = 64u << 20, n = piece + 300000;
    uint8_t *data, *tam;
    patterned(n, &data, &tam);
    char p[300];
    hnd h;
    piece_alg = "poly1305@ferry.dev";
    /* always: an upload of more than one piece, writes crossing the piece
     * boundary; after the CLOSE both pieces come from the cache */
    t->runhash = FERRY_SFTP_RUNHASH_ALWAYS;
    restart(t, FERRY_SFTP_READ_WRITE, 0);
    upload(t, "big", data, n, 100000);
    host_path(t, p, sizeof(p), "big");
    tamper_keep_mtime(p, 5);
    expect_piece(t, "big", NULL, 0, piece, data, piece);
    expect_piece(t, "big", NULL, piece, 0, data + piece, n - piece);
    /* not a piece: read */
    expect_piece(t, "big", NULL, 0, 1000, tam, 1000);
    /* the file changed (mtime): read again */
    struct timespec older[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    assert_int_equal(utimensat(AT_FDCWD, p, older, 0), 0);
    expect_piece(t, "big", NULL, 0, piece, tam, piece);
    /* out of order: no run, answers by reading */
    hnd w;
    assert_int_equal(op_open(t, "ooo", SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC, &w),
                     SSH_FX_OK);
    assert_int_equal(op_write(t, &w, 500, data + 500, 500), SSH_FX_OK);
    assert_int_equal(op_write(t, &w, 0, data, 500), SSH_FX_OK);
    assert_int_equal(op_close(t, &w), SSH_FX_OK);
    host_path(t, p, sizeof(p), "ooo");
    tamper_keep_mtime(p, 5);
    expect_piece(t, "ooo", NULL, 0, 0, tam, 1000);
    /* resume: the prefix hashed through a READ|WRITE handle seeds the run,
     * the writes after it extend it (answers through the handle) */
    host_path(t, p, sizeof(p), "part");
    host_write(p, data, 1000);
    assert_int_equal(op_open(t, "part", SSH_FXF_READ | SSH_FXF_WRITE, &h), SSH_FX_OK);
    expect_piece(t, NULL, &h, 0, 1000, data, 1000);
    assert_int_equal(op_write(t, &h, 1000, data + 1000, 3000), SSH_FX_OK);
    tamper_keep_mtime(p, 5);
    expect_piece(t, NULL, &h, 0, 0, data, 4000);
    /* a SETSTAT of the size through the handle ends the run */
    ferry_buf *b = req_h(t, SSH_FXP_FSETSTAT, &h);
    ferry_buf_put_u32(b, SSH_FILEXFER_ATTR_SIZE);
    ferry_buf_put_u64(b, 4000);
    send_req(t, b);
    assert_int_equal(status(t), SSH_FX_OK);
    expect_piece(t, NULL, &h, 0, 0, tam, 4000);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    /* a whole-piece request in another algorithm is answered by reading,
     * and the session's later runs hash in it */
    upload(t, "alg", data, 2000, 700);
    host_path(t, p, sizeof(p), "alg");
    tamper_keep_mtime(p, 5);
    piece_alg = "sha256";
    expect_piece(t, "alg", NULL, 0, 0, tam, 2000);
    upload(t, "alg2", data, 2000, 700);
    host_path(t, p, sizeof(p), "alg2");
    tamper_keep_mtime(p, 5);
    expect_piece(t, "alg2", NULL, 0, 0, data, 2000);
    piece_alg = "poly1305@ferry.dev";
    expect_piece(t, "alg2", NULL, 0, 0, tam, 2000);
    /* the default: no run until the session has sent a check-file */
    t->runhash = FERRY_SFTP_RUNHASH_AFTER_CHECK;
    restart(t, FERRY_SFTP_READ_WRITE, 0);
    upload(t, "first", data, 2000, 700);
    host_path(t, p, sizeof(p), "first");
    tamper_keep_mtime(p, 5);
    expect_piece(t, "first", NULL, 0, 0, tam, 2000);
    upload(t, "second", data, 2000, 700);
    host_path(t, p, sizeof(p), "second");
    tamper_keep_mtime(p, 5);
    expect_piece(t, "second", NULL, 0, 0, data, 2000);
    /* a rename keeps the key */
    assert_int_equal(op_two(t, 0, "posix-rename@openssh.com", "second", "third"), SSH_FX_OK);
    expect_piece(t, "third", NULL, 0, 0, data, 2000);
    /* off: never */
    t->runhash = FERRY_SFTP_RUNHASH_OFF;
    restart(t, FERRY_SFTP_READ_WRITE, 0);
    expect_piece(t, "third", NULL, 0, 0, tam, 2000);
    upload(t, "fourth", data, 2000, 700);
    host_path(t, p, sizeof(p), "fourth");
    tamper_keep_mtime(p, 5);
    expect_piece(t, "fourth", NULL, 0, 0, tam, 2000);
    free(data);
    free(tam);
}

/* READs of [0, n) in order, `chunk` bytes each, into got. */
static void read_in_order(T *t, const hnd *h, size_t n, size_t chunk, uint8_t *got)
{
    for (size_t off = 0; off < n; off += chunk) {
        assert_true(op_read(t, h, off, (uint32_t)chunk, got, chunk) > 0);
    }
}

/* A read-only handle read in order from 0 to the end answers the
 * whole-file check-file-handle from what it read (tamper_keep_mtime shows
 * where an answer came from); out of order, or once the file's mtime
 * moved, the file is read again. */
static void test_running_hash_reads(void **state)
{
    T *t = *state;
    const size_t n = (3u << 19) + 7, chunk = 65536; /* 1.5 MiB: over the run's minimum */
    uint8_t *data, *tam, *got = malloc(chunk);
    patterned(n, &data, &tam);
    char p[300];
    hnd h;
    piece_alg = "poly1305@ferry.dev";
    t->runhash = FERRY_SFTP_RUNHASH_ALWAYS;
    restart(t, FERRY_SFTP_READ_WRITE, 0);
    host_path(t, p, sizeof(p), "dl");
    /* in order to the end (and the EOF read after it): from the run */
    host_write(p, data, n);
    assert_int_equal(op_open(t, "dl", SSH_FXF_READ, &h), SSH_FX_OK);
    for (size_t off = 0;; off += chunk) {
        long k = op_read(t, &h, off, (uint32_t)chunk, got, chunk);
        if (k == -(long)SSH_FX_EOF) {
            break;
        }
        assert_true(k > 0);
        assert_memory_equal(got, data + off, (size_t)k);
    }
    tamper_keep_mtime(p, 5);
    expect_piece(t, NULL, &h, 0, 0, data, n);
    /* the file changed (mtime): read again */
    struct timespec older[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    assert_int_equal(utimensat(AT_FDCWD, p, older, 0), 0);
    expect_piece(t, NULL, &h, 0, 0, tam, n);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    /* not read to the end: read */
    host_write(p, data, n);
    assert_int_equal(op_open(t, "dl", SSH_FXF_READ, &h), SSH_FX_OK);
    assert_int_equal(op_read(t, &h, 0, (uint32_t)chunk, got, chunk), (long)chunk);
    tamper_keep_mtime(p, 5);
    expect_piece(t, NULL, &h, 0, 0, tam, n);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    /* out of order: read */
    host_write(p, data, n);
    assert_int_equal(op_open(t, "dl", SSH_FXF_READ, &h), SSH_FX_OK);
    assert_int_equal(op_read(t, &h, chunk, (uint32_t)chunk, got, chunk), (long)chunk);
    read_in_order(t, &h, n, chunk, got);
    tamper_keep_mtime(p, 5);
    expect_piece(t, NULL, &h, 0, 0, tam, n);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    /* a read run that reached the end is cached at CLOSE: check-file-name
     * answers from it while the file's key holds, then reads */
    host_write(p, data, n);
    assert_int_equal(op_open(t, "dl", SSH_FXF_READ, &h), SSH_FX_OK);
    read_in_order(t, &h, n, chunk, got);
    assert_int_equal(op_read(t, &h, n, (uint32_t)chunk, got, chunk), -(long)SSH_FX_EOF);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    tamper_keep_mtime(p, 5);
    expect_piece(t, "dl", NULL, 0, 0, data, n);
    assert_int_equal(utimensat(AT_FDCWD, p, older, 0), 0);
    expect_piece(t, "dl", NULL, 0, 0, tam, n);
    /* one that stopped short is not */
    host_write(p, data, n);
    assert_int_equal(op_open(t, "dl", SSH_FXF_READ, &h), SSH_FX_OK);
    read_in_order(t, &h, n - 100, chunk, got);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    tamper_keep_mtime(p, 5);
    expect_piece(t, "dl", NULL, 0, 0, tam, n);
    /* under 1 MiB: no run, read again */
    host_write(p, data, 300000);
    assert_int_equal(op_open(t, "dl", SSH_FXF_READ, &h), SSH_FX_OK);
    read_in_order(t, &h, 300000, chunk, got);
    tamper_keep_mtime(p, 5);
    expect_piece(t, NULL, &h, 0, 0, tam, 300000);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    /* off: never */
    t->runhash = FERRY_SFTP_RUNHASH_OFF;
    restart(t, FERRY_SFTP_READ_WRITE, 0);
    host_write(p, data, n);
    assert_int_equal(op_open(t, "dl", SSH_FXF_READ, &h), SSH_FX_OK);
    read_in_order(t, &h, n, chunk, got);
    tamper_keep_mtime(p, 5);
    expect_piece(t, NULL, &h, 0, 0, tam, n);
    assert_int_equal(op_close(t, &h), SSH_FX_OK);
    free(data);
    free(tam);
    free(got);
}

static void test_backpressure(void **state)
{
    T *t = *state;
    ferry_buf *all = ferry_buf_new(0);
    for (int i = 0; i < 3; i++) {
        ferry_buf *b = req(t, SSH_FXP_STAT);
        ferry_buf_put_cstring(b, "/");
        ferry_buf_poke_u32(b, 0, (uint32_t)ferry_buf_len(b) - 4);
        ferry_buf_put_stringb(all, b); /* length-prefixed = the packet itself */
        ferry_buf_free(b);
    }
    /* put_stringb added an extra length: rebuild the stream without it */
    ferry_rd r;
    ferry_buf *stream = ferry_buf_new(0);
    ferry_rd_from_buf(&r, all);
    while (ferry_rd_left(&r) > 0) {
        const uint8_t *p;
        size_t n;
        assert_int_equal(ferry_rd_string(&r, &p, &n), FERRY_OK);
        ferry_buf_put(stream, p, n);
    }
    ferry_buf_free(all);
    size_t one = ferry_buf_len(stream) / 3;
    t->block = 1;
    long n = ferry_sftp_server_input(t->srv, ferry_buf_data(stream), ferry_buf_len(stream));
    assert_int_equal(n, (long)one); /* one request handled, reply held */
    assert_int_equal(
        ferry_sftp_server_input(t->srv, ferry_buf_data(stream) + one, ferry_buf_len(stream) - one),
        0);
    t->block = 0;
    ferry_sftp_server_writable(t->srv);
    n = ferry_sftp_server_input(t->srv, ferry_buf_data(stream) + one, ferry_buf_len(stream) - one);
    assert_int_equal(n, (long)(2 * one));
    uint32_t id;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(next_reply(t, &r, &id), SSH_FXP_ATTRS);
    }
    assert_int_equal(ferry_buf_len(t->out), 0);
    ferry_buf_free(stream);
}

/* Deterministic bit flips and truncations over valid requests: every
 * mutant gets exactly one answer (or, for a broken length, is held back
 * or refused as a stream error), and the session keeps working. */
static ferry_buf *sample_request(T *t, int which)
{
    static const char *exts[] = {"limits@openssh.com", "statvfs@openssh.com", "check-file-name",
                                 "expand-path@openssh.com"};
    ferry_buf *b;
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_PERMISSIONS |
                                   SSH_FILEXFER_ATTR_ACMODTIME,
                          .size = 3,
                          .perm = 0644,
                          .atime = 1,
                          .mtime = 2};
    switch (which) {
    case 0:
        b = req(t, SSH_FXP_OPEN);
        ferry_buf_put_cstring(b, "s/f");
        ferry_buf_put_u32(b, SSH_FXF_READ | SSH_FXF_WRITE | SSH_FXF_CREAT);
        ferry_sftp_attrs_encode(b, &a);
        return b;
    case 1:
        b = req(t, SSH_FXP_SETSTAT);
        ferry_buf_put_cstring(b, "s/f");
        ferry_sftp_attrs_encode(b, &a);
        return b;
    case 2:
        b = req(t, SSH_FXP_RENAME);
        ferry_buf_put_cstring(b, "s/f");
        ferry_buf_put_cstring(b, "s/g");
        return b;
    default:
        b = ext(t, exts[which - 3]);
        ferry_buf_put_cstring(b, "s/f");
        if (which == 5) {
            ferry_buf_put_cstring(b, "md5");
            ferry_buf_put_u64(b, 0);
            ferry_buf_put_u64(b, 0);
            ferry_buf_put_u32(b, 0);
        }
        return b;
    }
}

static void feed_mutant(T *t, const uint8_t *p, size_t n)
{
    long got = ferry_sftp_server_input(t->srv, p, n);
    if (got < 0) {
        restart(t, FERRY_SFTP_READ_WRITE, 8); /* a stream error ends the session */
        return;
    }
    if (got == 0) {
        return; /* the length asks for more bytes: held back */
    }
    assert_int_equal(got, (long)n);
    ferry_rd r;
    uint32_t id;
    uint8_t type = next_reply(t, &r, &id);
    assert_true(type >= SSH_FXP_STATUS && type <= SSH_FXP_EXTENDED_REPLY);
    assert_int_equal(ferry_buf_len(t->out), 0);
}

static void test_bitflips_and_truncation(void **state)
{
    T *t = *state;
    char p[300];
    host_path(t, p, sizeof(p), "s");
    assert_int_equal(mkdir(p, 0755), 0);
    restart(t, FERRY_SFTP_READ_WRITE, 8);
    for (int which = 0; which < 7; which++) {
        ferry_buf *b = sample_request(t, which);
        ferry_buf_poke_u32(b, 0, (uint32_t)ferry_buf_len(b) - 4);
        size_t n = ferry_buf_len(b);
        uint8_t *m = malloc(n);
        for (size_t i = 0; i < n; i++) {
            for (int bit = 0; bit < 8; bit += 3) {
                memcpy(m, ferry_buf_data(b), n);
                m[i] ^= (uint8_t)(1u << bit);
                if (i < 4) {
                    /* a broken length: any split is fine, but no crash */
                    long got = ferry_sftp_server_input(t->srv, m, n);
                    assert_true(got <= (long)n);
                    ferry_buf_reset(t->out);
                    restart(t, FERRY_SFTP_READ_WRITE, 8);
                    continue;
                }
                if (i == 4 && m[4] == SSH_FXP_INIT) {
                    continue; /* a second INIT ends the stream by design */
                }
                feed_mutant(t, m, n);
            }
        }
        for (size_t cut = 5; cut < n; cut++) { /* truncated, length fixed up */
            memcpy(m, ferry_buf_data(b), cut);
            uint32_t l = (uint32_t)cut - 4;
            m[0] = (uint8_t)(l >> 24);
            m[1] = (uint8_t)(l >> 16);
            m[2] = (uint8_t)(l >> 8);
            m[3] = (uint8_t)l;
            feed_mutant(t, m, cut);
        }
        free(m);
        ferry_buf_free(b);
    }
    ferry_sftp_attrs a;
    assert_int_equal(op_stat(t, SSH_FXP_STAT, "/", &a), SSH_FX_OK);
}

/* ---- end to end through an SSH channel (server_chan.c) ---- */

static int sftp_subsystem(void *ctx, ferry_ssh *ss, ferry_channel *ch, const char *name,
                          const ferry_chan_consumer **ops, void **cctx)
{
    T *t = ctx;
    (void)ss;
    if (strcmp(name, "sftp") != 0) {
        return FERRY_E_UNSUPPORTED;
    }
    return ferry_sftp_server_attach(ch, &t->cfg, ops, cctx);
}

/* Moves the sink's bytes into t->out so next_reply can parse them. */
static void drain_sink(T *t, ct_sink *k)
{
    ferry_buf_put(t->out, ferry_buf_data(k->got), ferry_buf_len(k->got));
    ferry_buf_reset(k->got);
}

static void chan_send(pair *p, ct_sink *k, ferry_buf *b)
{
    assert_int_equal(ferry_buf_poke_u32(b, 0, (uint32_t)ferry_buf_len(b) - 4), FERRY_OK);
    assert_int_equal(ct_transfer(p, k->ch, ferry_buf_data(b), ferry_buf_len(b), k, 0), 0);
    ferry_buf_free(b);
    assert_true(pair_run(p, 500) >= 0);
}

static void chan_open_upload(T *t, pair *p, ct_sink *k, const char *name, hnd *h)
{
    ferry_buf *b = req(t, SSH_FXP_OPEN);
    ferry_buf_put_cstring(b, name);
    ferry_buf_put_u32(b, SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC);
    put_empty_attrs(b);
    chan_send(p, k, b);
    drain_sink(t, k);
    ferry_rd r;
    uint32_t id;
    const uint8_t *hp;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_HANDLE);
    assert_int_equal(ferry_rd_string(&r, &hp, &h->n), FERRY_OK);
    memcpy(h->b, hp, h->n);
}

static void test_over_ssh_channel(void **state)
{
    T *t = *state;
    ferry_sftp_server_free(t->srv); /* the channel makes its own */
    t->srv = NULL;
    ferry_ssh_config cc, sc;
    pair_default_configs(&cc, &sc);
    sc.subsystem = sftp_subsystem;
    sc.subsystem_ctx = t;
    pair *p = NULL;
    ct_sink k;
    ct_sink_init(&k);
    assert_int_equal(pair_new(&p, &cc, &sc), FERRY_OK);
    assert_int_equal(ferry_ssh_open_subsystem(p->c, "sftp", &ct_sink_ops, &k, NULL), FERRY_OK);
    assert_true(pair_run(p, 500) >= 0);
    assert_int_equal(k.open_result, 1);
    static const uint8_t init_pkt[] = {0, 0, 0, 5, SSH_FXP_INIT, 0, 0, 0, 3};
    assert_int_equal(ct_transfer(p, k.ch, init_pkt, sizeof(init_pkt), &k, 0), 0);
    assert_true(pair_run(p, 500) >= 0);
    drain_sink(t, &k);
    ferry_rd r;
    uint32_t id;
    assert_int_equal(next_reply(t, &r, &id), SSH_FXP_VERSION);
    /* a 2 MiB upload in 32 KiB WRITEs, all sent before reading replies */
    hnd h, h2;
    chan_open_upload(t, p, &k, "viassh", &h);
    size_t chunk = 32 * 1024, total = 2u << 20;
    uint8_t *data = malloc(chunk);
    ct_fill(data, chunk, 7);
    ferry_buf *stream = ferry_buf_new(4u << 20);
    for (size_t off = 0; off < total; off += chunk) {
        ferry_buf *b = req_h(t, SSH_FXP_WRITE, &h);
        ferry_buf_put_u64(b, off);
        ferry_buf_put_string(b, data, chunk);
        ferry_buf_poke_u32(b, 0, (uint32_t)ferry_buf_len(b) - 4);
        ferry_buf_put(stream, ferry_buf_data(b), ferry_buf_len(b));
        ferry_buf_free(b);
    }
    assert_int_equal(ct_transfer(p, k.ch, ferry_buf_data(stream), ferry_buf_len(stream), &k, 0), 0);
    ferry_buf_free(stream);
    assert_true(pair_run(p, 1000) >= 0);
    chan_send(p, &k, req_h(t, SSH_FXP_CLOSE, &h));
    drain_sink(t, &k);
    for (size_t i = 0; i <= total / chunk; i++) {
        uint32_t code;
        assert_int_equal(next_reply(t, &r, &id), SSH_FXP_STATUS);
        assert_int_equal(ferry_rd_u32(&r, &code), FERRY_OK);
        assert_int_equal(code, SSH_FX_OK);
    }
    char path[300];
    host_path(t, path, sizeof(path), "viassh");
    assert_int_equal(host_size(path), (long)total);
    /* an upload left open when the client ends the session is discarded */
    chan_open_upload(t, p, &k, "unfinished", &h2);
    ferry_buf *b = req_h(t, SSH_FXP_WRITE, &h2);
    ferry_buf_put_u64(b, 0);
    ferry_buf_put_string(b, data, 100);
    chan_send(p, &k, b);
    assert_int_equal(count_parts(t), 1);
    assert_int_equal(ferry_channel_send_eof(k.ch), FERRY_OK);
    assert_true(pair_run(p, 500) >= 0);
    assert_true(k.closes >= 1 || k.eofs >= 1);
    assert_int_equal(count_parts(t), 0);
    host_path(t, path, sizeof(path), "unfinished");
    assert_int_equal(host_size(path), -1);
    free(data);
    pair_free(p);
    ct_sink_free(&k);
}

int main(void)
{
#define TST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        TST(test_version_extensions),
        TST(test_file_roundtrip),
        TST(test_directories),
        TST(test_names_links_rename),
        TST(test_malformed_keeps_session),
        TST(test_handles_limit_and_huge_read),
        TST(test_jail),
        TST(test_symlink_swap_race),
        TST(test_atomic_upload),
        TST(test_excl_and_resume),
        TST(test_check_file),
        TST(test_read_only),
        TST(test_upload_only),
        TST(test_backpressure),
        TST(test_over_ssh_channel),
        TST(test_bitflips_and_truncation),
        TST(test_partial_uploads),
        TST(test_partial_upload_only),
        TST(test_refusal_events),
        TST(test_running_hash),
        TST(test_running_hash_reads),
        TST(test_read_in_place),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pair_keys_cleanup();
    return rc;
}
