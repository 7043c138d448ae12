/* upper_stub.c: weak fallbacks for the auth and connection layers.
 *
 * auth_server.c / auth_client.c / channel.c provide the real (strong)
 * definitions; these only exist so the transport links and can be tested
 * on its own. A build with the real layers never uses them. They accept
 * nothing: any auth or connection message ends the session.
 */
#include "ssh/ssh_int.h"
#include "util/err.h"

#define FERRY_WEAK __attribute__((weak))

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
