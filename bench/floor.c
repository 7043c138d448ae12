/* floor.c: the floor under any SFTP on this machine — a file sent as
 * bare AEAD records over loopback TCP, no protocol at all: one process
 * reads the file (pread), encrypts each record with OpenSSL's EVP and
 * sends it; the other receives, decrypts, checks the tag and writes the
 * record at its offset (pwrite). Both single-threaded, like each side of
 * an SFTP session. A bench tool, not part of Ferry.
 *
 *   floor CIPHER SRC DST [RECORD_KIB]
 *
 * CIPHER: aes-128-gcm or chacha20-poly1305. DST may be /dev/null.
 * Prints "SECONDS MB/s". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TAG 16

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void full(int fd, void *p, size_t n, int out)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = out ? write(fd, b, n) : read(fd, b, n);
        if (k <= 0) {
            die(out ? "write" : "read");
        }
        b += k;
        n -= (size_t)k;
    }
}

/* One record: 4-byte length, ciphertext, tag; the 12-byte nonce is the
 * record number (as SSH's AES-GCM counts its invocations). */
static void crypt_record(EVP_CIPHER_CTX *x, const EVP_CIPHER *c, const uint8_t *key, uint64_t seq,
                         uint8_t *buf, size_t n, int enc)
{
    uint8_t iv[12] = {0};
    for (int i = 0; i < 8; i++) {
        iv[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
    }
    int len = 0;
    if (!EVP_CipherInit_ex(x, c, NULL, key, iv, enc) ||
        !EVP_CipherUpdate(x, NULL, &len, buf, 4) || /* the length as associated data */
        (!enc && !EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, TAG, buf + 4 + n)) ||
        !EVP_CipherUpdate(x, buf + 4, &len, buf + 4, (int)n) ||
        !EVP_CipherFinal_ex(x, buf + 4 + n, &len) ||
        (enc && !EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, TAG, buf + 4 + n))) {
        fprintf(stderr, "floor: %s failed at record %llu\n", enc ? "encrypt" : "decrypt",
                (unsigned long long)seq);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: floor CIPHER SRC DST [RECORD_KIB]\n");
        return 2;
    }
    const EVP_CIPHER *c = EVP_get_cipherbyname(argv[1]);
    size_t rec = (argc > 4 ? (size_t)atoi(argv[4]) : 256) * 1024;
    if (c == NULL || rec == 0 || rec > (64u << 20)) {
        fprintf(stderr, "floor: unknown cipher or bad record size\n");
        return 2;
    }
    uint8_t key[32];
    if (RAND_bytes(key, sizeof(key)) != 1) {
        return 1;
    }
    int in = open(argv[2], O_RDONLY);
    struct stat st;
    if (in < 0 || fstat(in, &st) != 0) {
        die(argv[2]);
    }
    int out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0) {
        die(argv[3]);
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
        die("listen");
    }
    uint8_t *buf = malloc(rec + 4 + TAG);
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    if (buf == NULL || x == NULL) {
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        die("fork");
    }
    if (pid == 0) { /* the sender */
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
            die("connect");
        }
        uint64_t seq = 0;
        for (off_t off = 0; off < st.st_size; off += (off_t)rec, seq++) {
            size_t n = (size_t)(st.st_size - off) < rec ? (size_t)(st.st_size - off) : rec;
            if (pread(in, buf + 4, n, off) != (ssize_t)n) {
                die("pread");
            }
            buf[0] = (uint8_t)(n >> 24), buf[1] = (uint8_t)(n >> 16);
            buf[2] = (uint8_t)(n >> 8), buf[3] = (uint8_t)n;
            crypt_record(x, c, key, seq, buf, n, 1);
            full(s, buf, 4 + n + TAG, 1);
        }
        _exit(0);
    }
    int s = accept(ls, NULL, NULL);
    if (s < 0) {
        die("accept");
    }
    uint64_t seq = 0;
    for (off_t off = 0; off < st.st_size; off += (off_t)rec, seq++) {
        full(s, buf, 4, 0);
        size_t n = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
        if (n > rec) {
            fprintf(stderr, "floor: bad record length\n");
            return 1;
        }
        full(s, buf + 4, n + TAG, 0);
        crypt_record(x, c, key, seq, buf, n, 0);
        if (pwrite(out, buf + 4, n, off) != (ssize_t)n) {
            die("pwrite");
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.3f %.0f\n", sec, (double)st.st_size / sec / 1e6);
    return status == 0 ? 0 : 1;
}
