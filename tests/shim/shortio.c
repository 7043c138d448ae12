/* shortio.c: an LD_PRELOAD shim for the short-I/O interop test
 * (tests/interop/test_server_shortio.sh). On stream sockets only (pipes,
 * files, datagram and seqpacket sockets are left alone, since shortening
 * a message there would change its meaning):
 *  - read/recv/recvfrom return at most a few bytes (1..SHORTIO_MAX,
 *    default 7, chosen at random);
 *  - write/send/sendto write at most that many bytes;
 *  - every SHORTIO_EINTR-th such call (default 5; 0 turns it off) fails
 *    with EINTR without doing anything, as if a signal had arrived.
 * SHORTIO_SEED (default: the pid) seeds the per-process generator.
 * SHORTIO_STATS=DIR keeps the counters of each process in DIR/PID
 * ("calls N short N eintr N", rewritten every 64 calls and at exit; a
 * forked child that ends with _exit keeps its last one), so a test can
 * check that the shim was in effect.
 * Every call that reaches the real function is passed on unchanged except
 * for its length, so data are never altered. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);

static struct {
    int ready;
    size_t max;
    unsigned long eintr_every;
    uint64_t rng;
} g;

static atomic_ulong n_calls, n_eintr, n_short;

static const char *stats_dir;

/* Rewrites this process's counter file (see the top of the file). */
static void stats(void)
{
    static int fd = -1;
    static pid_t owner;
    char buf[128];
    pid_t me = getpid();
    if (stats_dir == NULL) {
        return;
    }
    if (owner != me) {
        if (fd >= 0 && owner != 0) {
            close(fd); /* the parent's, inherited over fork */
        }
        snprintf(buf, sizeof(buf), "%s/%d", stats_dir, (int)me);
        fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        owner = me;
    }
    int n = snprintf(buf, sizeof(buf), "calls %lu short %lu eintr %lu\n", atomic_load(&n_calls),
                     atomic_load(&n_short), atomic_load(&n_eintr));
    if (fd >= 0 && n > 0 && pwrite(fd, buf, (size_t)n, 0) == n) {
        (void)ftruncate(fd, n);
    }
}

static unsigned long env_num(const char *name, unsigned long dflt)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        return dflt;
    }
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return *end == '\0' ? n : dflt;
}

__attribute__((constructor)) static void shim_init(void)
{
    g.max = env_num("SHORTIO_MAX", 7);
    if (g.max == 0) {
        g.max = 1;
    }
    g.eintr_every = env_num("SHORTIO_EINTR", 5);
    g.rng = env_num("SHORTIO_SEED", (unsigned long)getpid()) * 0x9E3779B97F4A7C15ull + 1;
    stats_dir = getenv("SHORTIO_STATS");
    if (stats_dir != NULL && *stats_dir != '\0') {
        atexit(stats);
    } else {
        stats_dir = NULL;
    }
    g.ready = 1;
}

/* A forked child draws its own numbers. */
static uint64_t next_rand(void)
{
    static pid_t owner;
    pid_t me = getpid();
    if (owner != me) {
        owner = me;
        g.rng ^= (uint64_t)me * 0xBF58476D1CE4E5B9ull;
    }
    g.rng ^= g.rng << 13;
    g.rng ^= g.rng >> 7;
    g.rng ^= g.rng << 17;
    return g.rng;
}

static int is_stream_socket(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        return 0;
    }
    int type = 0;
    socklen_t len = sizeof(type);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* Shapes one call on fd: 0 to go on with *len (possibly shortened), -1
 * when the call fails with EINTR (errno set) without reaching the kernel. */
static int shape(int fd, size_t *len)
{
    if (!g.ready || *len == 0 || !is_stream_socket(fd)) {
        return 0;
    }
    unsigned long n = atomic_fetch_add(&n_calls, 1) + 1;
    if (n % 64 == 0) {
        stats();
    }
    if (g.eintr_every != 0 && n % g.eintr_every == 0) {
        atomic_fetch_add(&n_eintr, 1);
        errno = EINTR;
        return -1;
    }
    size_t cap = 1 + (size_t)(next_rand() % g.max);
    if (cap < *len) {
        atomic_fetch_add(&n_short, 1);
        *len = cap;
    }
    return 0;
}

/* The next definition of `name` (libc's, or a sanitizer's before it). */
static void *real(void **cache, const char *name)
{
    if (*cache == NULL) {
        *cache = dlsym(RTLD_NEXT, name);
    }
    return *cache;
}

ssize_t read(int fd, void *buf, size_t len)
{
    static void *fn;
    return shape(fd, &len) != 0 ? -1 : ((read_fn)real(&fn, "read"))(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    static void *fn;
    return shape(fd, &len) != 0 ? -1 : ((write_fn)real(&fn, "write"))(fd, buf, len);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    static void *fn;
    return shape(fd, &len) != 0 ? -1 : ((recv_fn)real(&fn, "recv"))(fd, buf, len, flags);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    static void *fn;
    return shape(fd, &len) != 0 ? -1 : ((send_fn)real(&fn, "send"))(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *flen)
{
    static void *fn;
    return shape(fd, &len) != 0
               ? -1
               : ((recvfrom_fn)real(&fn, "recvfrom"))(fd, buf, len, flags, from, flen);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
               socklen_t tlen)
{
    static void *fn;
    return shape(fd, &len) != 0 ? -1
                                : ((sendto_fn)real(&fn, "sendto"))(fd, buf, len, flags, to, tlen);
}
