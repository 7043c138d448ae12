/* err.h: the library's one error enum, generated from one X-macro list.
 *
 * Every fallible call in libferry returns int: FERRY_OK (0) or a negative
 * FERRY_E_* code. Each code has one meaning; INCOMPLETE (need more bytes)
 * is never FORMAT (bad bytes). Wire codes (disconnect reasons, SSH_FX_*)
 * are mapped from these at the edges by one function each. */
#ifndef FERRY_UTIL_ERR_H
#define FERRY_UTIL_ERR_H

#define FERRY_ERRORS(X)                                                                            \
    X(OK, 0, "success")                                                                            \
    X(INCOMPLETE, -1, "need more bytes")                                                           \
    X(FORMAT, -2, "malformed input")                                                               \
    X(TOO_LARGE, -3, "length or count over its limit")                                             \
    X(TRAILING_DATA, -4, "unexpected bytes after the message")                                     \
    X(MAC_INVALID, -5, "message authentication failed")                                            \
    X(NO_ALG_MATCH, -6, "no algorithm in common")                                                  \
    X(PROTOCOL, -7, "protocol violation")                                                          \
    X(AUTH_DENIED, -8, "authentication denied")                                                    \
    X(LIBCRYPTO, -9, "libcrypto error")                                                            \
    X(SYSTEM, -10, "system call failed")                                                           \
    X(ALLOC, -11, "out of memory")                                                                 \
    X(AGAIN, -12, "try again later")                                                               \
    X(INTERNAL, -13, "internal error")                                                             \
    X(KEY_TYPE, -14, "unsupported or mismatched key type")                                         \
    X(SIGNATURE_INVALID, -15, "signature verification failed")                                     \
    X(HOSTKEY_UNKNOWN, -16, "host key not known")                                                  \
    X(HOSTKEY_CHANGED, -17, "host key has changed")                                                \
    X(DISCONNECTED, -18, "peer disconnected")                                                      \
    X(NOT_FOUND, -19, "not found")                                                                 \
    X(PERMISSION, -20, "permission denied")                                                        \
    X(EXISTS, -21, "already exists")                                                               \
    X(EOF, -22, "end of file")                                                                     \
    X(INVALID_ARG, -23, "invalid argument")                                                        \
    X(LIMIT, -24, "resource limit reached")                                                        \
    X(BAD_PASSPHRASE, -25, "wrong passphrase")                                                     \
    X(UNSUPPORTED, -26, "not supported")                                                           \
    X(CLOSED, -27, "closed")                                                                       \
    X(TIMEOUT, -28, "timed out")                                                                   \
    X(KEY_WEAK, -29, "key or group too weak")                                                      \
    X(NO_SPACE, -30, "no space left")                                                              \
    X(KDF_BCRYPT, -31, "key file encrypted with the bcrypt KDF")

enum ferry_err {
#define FERRY_ERR_ENUM(name, val, msg) FERRY_E_##name = (val),
    FERRY_ERRORS(FERRY_ERR_ENUM)
#undef FERRY_ERR_ENUM
};
#define FERRY_OK FERRY_E_OK

/* Human-readable message for an error code; never NULL (static string). */
const char *ferry_strerror(int err);
/* Short symbolic name ("FORMAT", "MAC_INVALID", ...) for logs; never NULL. */
const char *ferry_errname(int err);

/* Remember errno / the OpenSSL error queue at the point of failure so the
 * driver can log the cause later. Thread-local, last-writer-wins. Return
 * FERRY_E_SYSTEM / FERRY_E_LIBCRYPTO respectively so callers can write
 * `return ferry_err_sys();`. */
int ferry_err_sys(void);
int ferry_err_crypto(void);
/* The detail recorded by the most recent ferry_err_sys/ferry_err_crypto
 * ("" if none). Static thread-local storage, valid until the next call. */
const char *ferry_err_detail(void);

#endif
