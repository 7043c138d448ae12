#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

static _Thread_local char err_detail[256];

const char *ferry_strerror(int err)
{
    switch (err) {
#define FERRY_ERR_MSG(name, val, msg)                                                              \
    case (val):                                                                                    \
        return (msg);
        FERRY_ERRORS(FERRY_ERR_MSG)
#undef FERRY_ERR_MSG
    }
    return "unknown error";
}

const char *ferry_errname(int err)
{
    switch (err) {
#define FERRY_ERR_NAME(name, val, msg)                                                             \
    case (val):                                                                                    \
        return #name;
        FERRY_ERRORS(FERRY_ERR_NAME)
#undef FERRY_ERR_NAME
    }
    return "UNKNOWN";
}

int ferry_err_sys(void)
{
    int e = errno;
    snprintf(err_detail, sizeof(err_detail), "%s", strerror(e));
    errno = e;
    return FERRY_E_SYSTEM;
}

int ferry_err_crypto(void)
{
    unsigned long e = ERR_get_error();
    if (e != 0) {
        ERR_error_string_n(e, err_detail, sizeof(err_detail));
    } else {
        snprintf(err_detail, sizeof(err_detail), "libcrypto failure");
    }
    ERR_clear_error();
    return FERRY_E_LIBCRYPTO;
}

const char *ferry_err_detail(void)
{
    return err_detail;
}
