/* upper_stub.c: fallbacks for the auth and connection layers.
 *
 * auth_*.c / channel.c provide the real definitions; these only exist so
 * the transport links and can be tested on its own, and they accept
 * nothing: any auth or connection message ends the session.
 *
 * Weak symbols alone are NOT enough in a static library: ld pulls this
 * member in the same pass as transport.o, its weak definitions satisfy the
 * references and the real member is never pulled. So each group is only
 * compiled while its real source file is absent from this directory.
 * Once channel.c exists this file compiles to nothing and may be deleted.
 */
#include "ssh/ssh_int.h"
#include "util/err.h"

/* keeps the translation unit non-empty once both groups are gone */
int ferry__upper_stub_unused;

#define FERRY_WEAK __attribute__((weak))

#if !__has_include("auth_common.c") && !__has_include("auth_server.c") &&                          \
                                                      !__has_include("auth_client.c")

FERRY_WEAK int ferry__auth_init(ferry_ssh *s)
{
    (void)s;
    return FERRY_OK;
}

FERRY_WEAK void ferry__auth_free(ferry_ssh *s)
{
    (void)s;
}

FERRY_WEAK int ferry__auth_start(ferry_ssh *s)
{
    (void)s;
    return FERRY_OK;
}

FERRY_WEAK int ferry__auth_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload)
{
    (void)payload;
    return ferry__fail(s, FERRY_E_UNSUPPORTED, SSH_DISCONNECT_SERVICE_NOT_AVAILABLE,
                       "authentication not available (message %u)", (unsigned)msg);
}

#endif

#if !__has_include("channel.c")

FERRY_WEAK int ferry__conn_init(ferry_ssh *s)
{
    (void)s;
    return FERRY_OK;
}

FERRY_WEAK void ferry__conn_free(ferry_ssh *s)
{
    (void)s;
}

FERRY_WEAK int ferry__conn_start(ferry_ssh *s)
{
    (void)s;
    return FERRY_OK;
}

FERRY_WEAK int ferry__conn_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload)
{
    (void)payload;
    return ferry__fail(s, FERRY_E_UNSUPPORTED, SSH_DISCONNECT_SERVICE_NOT_AVAILABLE,
                       "connection protocol not available (message %u)", (unsigned)msg);
}

FERRY_WEAK int ferry__conn_pump(ferry_ssh *s)
{
    (void)s;
    return FERRY_OK;
}

#endif
