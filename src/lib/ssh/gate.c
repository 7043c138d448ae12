/* gate.c: the one place that decides which message numbers a session may
 * receive in each (role, state).
 *
 * RFC 4253 s7.1: once a party has sent KEXINIT it sends only transport
 * (1-19, minus service messages) and kex (20-49) messages until its
 * NEWKEYS. RFC 4252 s6: nothing of the connection protocol (>= 80) before
 * authentication. Strict kex (OpenSSH PROTOCOL 1.9,
 * draft-miller-sshm-strict-kex): during the first key exchange only kex
 * messages (and DISCONNECT, which ends the session anyway).
 * During a rekey (not the first kex) a client lets connection messages
 * (80-127) through once authenticated: ProFTPD's mod_sftp answers a
 * channel request between its KEXINIT and NEWKEYS.
 * Direction: a server never receives what only a server sends (SERVICE_
 * ACCEPT, USERAUTH_FAILURE/SUCCESS/BANNER, 60) and a client never receives
 * what only a client sends (SERVICE_REQUEST, USERAUTH_REQUEST, 61).
 */
#include "ssh/ssh_int.h"
#include "util/err.h"

/* Numbers assigned by RFC 4250 s4.1 for the connection protocol. */
static int conn_assigned(uint8_t msg)
{
    return (msg >= 80 && msg <= 82) || (msg >= 90 && msg <= 100);
}

/* Kex exchanges happening (first kex, or the peer's rekey): 1-4 and 20-49. */
static int gate_in_kex(int strict_first, uint8_t msg)
{
    if (msg == SSH_MSG_DISCONNECT) {
        return FERRY_OK;
    }
    if (strict_first) {
        /* Only the kex messages themselves; IGNORE/DEBUG/UNIMPLEMENTED
         * are fatal during a strict first kex. */
        return (msg == SSH_MSG_KEXINIT || msg == SSH_MSG_NEWKEYS || (msg >= 30 && msg <= 34))
                   ? FERRY_OK
                   : FERRY_E_PROTOCOL;
    }
    if ((msg >= 2 && msg <= 4) || (msg >= 20 && msg <= 49)) {
        return FERRY_OK;
    }
    return FERRY_E_PROTOCOL;
}

/* 1-49 once keys are in place and the peer is not re-keying. */
static int gate_transport(int server, int authed, uint8_t msg)
{
    if (msg >= 1 && msg <= 4) {
        return FERRY_OK;
    }
    switch (msg) {
    case SSH_MSG_SERVICE_REQUEST:
        return (server && !authed) ? FERRY_OK : FERRY_E_PROTOCOL;
    case SSH_MSG_SERVICE_ACCEPT:
    case SSH_MSG_EXT_INFO: /* RFC 8308 s2.4: before USERAUTH_SUCCESS; we offer no ext-info-s */
        return (!server && !authed) ? FERRY_OK : FERRY_E_PROTOCOL;
    case SSH_MSG_KEXINIT:
        return FERRY_OK;
    default:
        break;
    }
    if (msg == 0 || (msg >= 8 && msg <= 19)) {
        return FERRY_E_UNSUPPORTED;
    }
    return FERRY_E_PROTOCOL; /* 21-49: kex messages without a KEXINIT */
}

/* 50-79. */
static int gate_auth(int server, int authed, uint8_t msg)
{
    if (authed) {
        /* RFC 4252 s5.1: requests after success are silently ignored
         * (transport.c drops them); everything else is a violation. */
        return (server && msg == SSH_MSG_USERAUTH_REQUEST) ? FERRY_OK : FERRY_E_PROTOCOL;
    }
    switch (msg) {
    case SSH_MSG_USERAUTH_REQUEST:
    case SSH_MSG_USERAUTH_INFO_RESPONSE:
        return server ? FERRY_OK : FERRY_E_PROTOCOL;
    case SSH_MSG_USERAUTH_FAILURE:
    case SSH_MSG_USERAUTH_SUCCESS:
    case SSH_MSG_USERAUTH_BANNER:
    case SSH_MSG_USERAUTH_60:
        return server ? FERRY_E_PROTOCOL : FERRY_OK;
    default:
        return FERRY_E_UNSUPPORTED; /* 54-59, 62-79: methods we do not speak */
    }
}

int ferry__gate(enum ferry_role role, enum ferry_ssh_state state, int in_kex, int strict_kex,
                int first_kex_done, uint8_t msg)
{
    int server = role == FERRY_ROLE_SERVER;
    if (state == FERRY_ST_VERSION || state == FERRY_ST_CLOSED) {
        return FERRY_E_PROTOCOL;
    }
    if (state == FERRY_ST_KEX_FIRST || !first_kex_done) {
        return gate_in_kex(strict_kex, msg);
    }
    int authed = state == FERRY_ST_OPEN;
    /* A rekey: RFC 4253 s7.1 has the peer send only kex messages between
     * its KEXINIT and NEWKEYS, but ProFTPD's mod_sftp (a server) answers a
     * channel request in between; a client takes connection messages
     * then, as OpenSSH's does (still under the old keys, MAC'd). A server
     * stays strict with its clients. */
    if (in_kex && !(!server && authed && msg >= 80 && msg < 128)) {
        return gate_in_kex(0, msg);
    }
    if (msg < 50) {
        return gate_transport(server, authed, msg);
    }
    if (msg < 80) {
        return gate_auth(server, authed, msg);
    }
    if (!authed) {
        return FERRY_E_PROTOCOL;
    }
    if (msg < 128) {
        return conn_assigned(msg) ? FERRY_OK : FERRY_E_UNSUPPORTED;
    }
    return FERRY_E_UNSUPPORTED; /* local extensions we never advertised */
}
