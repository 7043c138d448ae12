/* ssh_int.h: the session struct and the calls between the SSH layers.
 * Internal to src/lib/ssh; nothing outside includes it (tests may).
 *
 * Ownership of fields by file:
 *   transport.c  version exchange, packet framing, output, rekey triggers
 *   kex.c        KEXINIT negotiation, kex methods, NEWKEYS, strict kex,
 *                ext-info
 *   gate.c       which message numbers are allowed when
 *   auth_server.c / auth_client.c   RFC 4252/4256 (service request too)
 *   channel.c    RFC 4254: global requests, channels, windows
 */
#ifndef FERRY_SSH_SSH_INT_H
#define FERRY_SSH_SSH_INT_H

#include "crypto/cipher.h"
#include "crypto/kexalg.h"
#include "ssh/ssh.h"
#include "util/buf.h"

/* Message numbers, RFC 4250 s4.1 and extensions. */
enum {
    SSH_MSG_DISCONNECT = 1,
    SSH_MSG_IGNORE = 2,
    SSH_MSG_UNIMPLEMENTED = 3,
    SSH_MSG_DEBUG = 4,
    SSH_MSG_SERVICE_REQUEST = 5,
    SSH_MSG_SERVICE_ACCEPT = 6,
    SSH_MSG_EXT_INFO = 7,
    SSH_MSG_KEXINIT = 20,
    SSH_MSG_NEWKEYS = 21,
    SSH_MSG_KEX_30 = 30, /* KEXDH_INIT / KEX_ECDH_INIT / KEX_DH_GEX_REQUEST_OLD */
    SSH_MSG_KEX_31 = 31, /* KEXDH_REPLY / KEX_ECDH_REPLY / KEX_DH_GEX_GROUP */
    SSH_MSG_KEX_DH_GEX_INIT = 32,
    SSH_MSG_KEX_DH_GEX_REPLY = 33,
    SSH_MSG_KEX_DH_GEX_REQUEST = 34,
    SSH_MSG_USERAUTH_REQUEST = 50,
    SSH_MSG_USERAUTH_FAILURE = 51,
    SSH_MSG_USERAUTH_SUCCESS = 52,
    SSH_MSG_USERAUTH_BANNER = 53,
    SSH_MSG_USERAUTH_60 = 60, /* PK_OK / PASSWD_CHANGEREQ / INFO_REQUEST */
    SSH_MSG_USERAUTH_INFO_RESPONSE = 61,
    SSH_MSG_GLOBAL_REQUEST = 80,
    SSH_MSG_REQUEST_SUCCESS = 81,
    SSH_MSG_REQUEST_FAILURE = 82,
    SSH_MSG_CHANNEL_OPEN = 90,
    SSH_MSG_CHANNEL_OPEN_CONFIRMATION = 91,
    SSH_MSG_CHANNEL_OPEN_FAILURE = 92,
    SSH_MSG_CHANNEL_WINDOW_ADJUST = 93,
    SSH_MSG_CHANNEL_DATA = 94,
    SSH_MSG_CHANNEL_EXTENDED_DATA = 95,
    SSH_MSG_CHANNEL_EOF = 96,
    SSH_MSG_CHANNEL_CLOSE = 97,
    SSH_MSG_CHANNEL_REQUEST = 98,
    SSH_MSG_CHANNEL_SUCCESS = 99,
    SSH_MSG_CHANNEL_FAILURE = 100,
};

/* Disconnect reason codes, RFC 4253 s11.1. */
enum {
    SSH_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT = 1,
    SSH_DISCONNECT_PROTOCOL_ERROR = 2,
    SSH_DISCONNECT_KEY_EXCHANGE_FAILED = 3,
    SSH_DISCONNECT_MAC_ERROR = 5,
    SSH_DISCONNECT_COMPRESSION_ERROR = 6,
    SSH_DISCONNECT_SERVICE_NOT_AVAILABLE = 7,
    SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED = 8,
    SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE = 9,
    SSH_DISCONNECT_CONNECTION_LOST = 10,
    SSH_DISCONNECT_BY_APPLICATION = 11,
    SSH_DISCONNECT_TOO_MANY_CONNECTIONS = 12,
    SSH_DISCONNECT_AUTH_CANCELLED_BY_USER = 13,
    SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE = 14,
    SSH_DISCONNECT_ILLEGAL_USER_NAME = 15,
};

/* The one mapping from library errors to disconnect reasons. */
uint32_t ferry__disconnect_reason(int err);

/* States the gate distinguishes.
 * Who moves the state: transport.c sets KEX_FIRST when the peer's version
 * line is in; kex.c sets AUTH when the first NEWKEYS is complete both ways
 * (then calls ferry__auth_start once); transport.c sets OPEN right after a
 * call into ferry__auth_dispatch/ferry__auth_start returns with
 * s->authenticated set (auth code only sets s->authenticated and s->user
 * and calls ferry__conn_start; it may also set OPEN itself, harmlessly);
 * ferry__fail / DISCONNECT set CLOSED. */
enum ferry_ssh_state {
    FERRY_ST_VERSION = 0, /* exchanging version lines */
    FERRY_ST_KEX_FIRST,   /* first key exchange (before any NEWKEYS) */
    FERRY_ST_AUTH,        /* keys in place, user not authenticated */
    FERRY_ST_OPEN,        /* authenticated: connection protocol */
    FERRY_ST_CLOSED,
};

/* One direction's packet state. */
typedef struct ferry_dir {
    ferry_pcrypt *pc; /* NULL = no protection yet ("none") */
    uint32_t seqnr;
    uint64_t bytes; /* since the last key exchange */
    uint64_t packets;
} ferry_dir;

typedef struct ferry_kex_state ferry_kex_state;   /* kex.c */
typedef struct ferry_auth_state ferry_auth_state; /* auth_*.c */
typedef struct ferry_conn_state ferry_conn_state; /* channel.c */
typedef struct ferry_comp ferry_comp;             /* comp.c */

struct ferry_ssh {
    ferry_ssh_config cfg;
    enum ferry_ssh_state state;

    /* transport.c */
    ferry_buf *in;       /* received, not yet framed */
    ferry_buf *out;      /* encrypted bytes waiting for the socket */
    ferry_buf *pkt;      /* payload of the packet being built */
    ferry_buf *deferred; /* whole payloads queued during kex (u32 len || payload)* */
    ferry_dir tx, rx;
    char our_version[256];
    char peer_version[256];
    int version_done;
    /* client guessing its first kex packet: our KEXINIT waits for the
     * peer's version line, since whether to guess depends on the peer */
    int kexinit_after_version;
    size_t banner_lines; /* lines seen before the peer's version (client) */
    uint32_t rx_pktlen;  /* length of the packet being received, 0 if none */
    int rx_peeked;
    int closed;
    int close_err;
    char close_msg[256];
    uint64_t last_kex_ms;
    size_t banner_bytes; /* bytes of those lines (client) */
    /* packet being built (ferry__pkt_start .. ferry__pkt_finish) */
    int pkt_where;       /* 0 none, 1 in s->pkt, 2 in place in s->out, 3 in s->deferred */
    size_t pkt_off;      /* where the packet starts in its buffer */
    int tx_aad, rx_aad;  /* padding excludes the 4 length bytes (EtM, AEAD) */
    int in_input;        /* inside ferry_ssh_input (no re-entry) */
    unsigned layers;     /* which layers are initialised / started (transport.c) */
    uint64_t last_rx_ms; /* when the last packet from the peer was dispatched */
    unsigned alive_sent; /* keepalives sent since then (channel.c) */
    /* random padding, drawn from RAND_bytes a pool at a time (one call per
     * ~100 packets, not one each: each costs a getpid); each byte used once */
    uint8_t padpool[1024];
    size_t padpool_left;

    /* kex.c */
    ferry_kex_state *kex;
    int in_kex;     /* KEXINIT sent or received, NEWKEYS not yet both ways */
    int strict_kex; /* both sides offered kex-strict-*-v00@openssh.com */
    unsigned kex_count;
    uint8_t session_id[64];
    size_t session_id_len;
    ferry_key *peer_hostkey;      /* client: server's host key */
    const ferry_key *our_hostkey; /* server: the key used */
    const struct ferry_cert *our_hostcert; /* server: its certificate sent, or NULL */
    char alg_kex[64], alg_hostkey[64], alg_cipher[2][64], alg_mac[2][64]; /* [0]=c->s [1]=s->c */
    char *server_sig_algs; /* client: from EXT_INFO (heap), NULL if none */
    int ext_info_peer;     /* peer offered ext-info-c / ext-info-s */
    int tx_kex;            /* our KEXINIT sent, our NEWKEYS not yet: upper-layer packets deferred */
    int rx_kex;            /* peer's KEXINIT received, its NEWKEYS not yet: gate's in_kex */

    /* comp.c: negotiated zlib@openssh.com per direction ([0] c->s),
     * switched on after authentication */
    int comp_neg[2];
    ferry_comp *comp;

    /* auth_*.c */
    ferry_auth_state *auth;
    int authenticated;
    /* client: SUCCESS came before the answer to the "none" sent ahead of
     * a signed request (AsyncSSH answers requests concurrently): that
     * one FAILURE is still due and is dropped when it comes */
    int stray_none_failure;
    char auth_method[24]; /* client: the method that succeeded */
    char user[256];

    /* channel.c */
    ferry_conn_state *conn;
};

/* ---- transport.c ---- */

/* Output backlog marks: ferry_ssh_want_input is 0 while s->out alone
 * holds more than HIGH; the connection layer should stop queueing channel
 * data above HIGH and is pumped (ferry__conn_pump) when the backlog falls
 * below LOW. Small
 * enough that the output buffer's bytes stay in the CPU's cache between
 * being written (a READ's data read into its packet, then sealed) and
 * sent: with 4 MiB / 1 MiB ferryd spent ~9% more CPU on a 1 GiB get
 * (the kernel's copy into a cold packet); the socket's own buffer, not
 * this, carries what is in flight on a long path. */
#define FERRY__OUT_HIGH (1u * 1024 * 1024)
#define FERRY__OUT_LOW  (256u * 1024)
/* Bytes queued for sending: encrypted output plus packets deferred
 * during a key exchange. */
size_t ferry__out_backlog(const ferry_ssh *s);

/* Starts a packet whose first byte is msgno; returns the payload buffer to
 * append fields to. Only one packet is built at a time.
 * Only APPEND to the returned buffer. For CHANNEL_DATA / EXTENDED_DATA
 * (94, 95) it is the output queue itself (zero-copy: the packet is padded
 * and sealed where it lies), so do not read it or use its length; for
 * other messages it holds exactly the payload so far (msgno first).
 * If anything fails between start and finish, call ferry__fail (which
 * drops the half-built packet) or ferry__pkt_abort. */
int ferry__pkt_start(ferry_ssh *s, uint8_t msgno, ferry_buf **payload);
/* Pads, protects and queues the packet begun with ferry__pkt_start. During
 * a key exchange, packets that are not transport/kex messages (msgno
 * 1-49 except 5-7) are deferred and sent after NEWKEYS (RFC 4253 s7.1). */
int ferry__pkt_finish(ferry_ssh *s);
/* Drops the packet begun with ferry__pkt_start. */
void ferry__pkt_abort(ferry_ssh *s);
/* Shortcut for a packet of a message number and a prepared payload. */
int ferry__pkt_send_raw(ferry_ssh *s, const uint8_t *payload, size_t len);
/* Records a fatal error, queues DISCONNECT(reason, msg), closes. Returns err. */
int ferry__fail(ferry_ssh *s, int err, uint32_t reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Clock in ms. */
uint64_t ferry__now_ms(const ferry_ssh *s);
/* Installs new protection for a direction (after NEWKEYS); frees the old.
 * tx=1 for our sending side. Resets the byte counters; with strict kex
 * also resets the sequence number (PROTOCOL 1.10). */
void ferry__set_keys(ferry_ssh *s, int tx, ferry_pcrypt *pc);
/* Flushes packets deferred during kex (called by kex.c after NEWKEYS). */
int ferry__flush_deferred(ferry_ssh *s);

/* ---- comp.c ---- */

#define FERRY__COMP_ZLIB "zlib@openssh.com"
/* A compression name we implement besides "none". */
int ferry__comp_known(const char *name);
/* Authentication succeeded (server: USERAUTH_SUCCESS queued; client: it
 * arrived): compression starts in each negotiated direction. */
int ferry__comp_auth_done(ferry_ssh *s);
/* Compresses the payload out[start..end) in place (no-op when off). */
int ferry__comp_out(ferry_ssh *s, ferry_buf *out, size_t start);
/* Inflates a received payload; *p and *n then give the result (owned by
 * the session until the next packet). No-op when off. */
int ferry__comp_in(ferry_ssh *s, const uint8_t **p, size_t *n);
void ferry__comp_free(ferry_ssh *s);

/* ---- kex.c ---- */

int ferry__kex_init(ferry_ssh *s); /* allocate state */
void ferry__kex_free(ferry_ssh *s);
int ferry__kex_send_kexinit(ferry_ssh *s); /* start (re)keying */
/* In every *_dispatch call, `payload` reads the message AFTER its
 * message-number byte (which is passed as `msg`). A negative return is
 * fatal: the transport calls ferry__fail if the callee did not.
 * Handles messages 20-49 (KEXINIT, NEWKEYS, method messages) and 7. */
int ferry__kex_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload);
/* Called after every packet sent/received to trigger rekey by volume/time. */
int ferry__kex_maybe_rekey(ferry_ssh *s);
/* The peer answered packet `seq` with UNIMPLEMENTED. If that was our
 * KEXINIT of a re-exchange it has not answered (OpenSSH's sshd does this
 * during user authentication), the re-exchange is abandoned: deferred
 * packets go out under the current keys. */
int ferry__kex_on_unimplemented(ferry_ssh *s, uint32_t seq);
/* Milliseconds until the time-based rekey is due (0 if due), -1 if none. */
int64_t ferry__kex_next_ms(ferry_ssh *s);
/* Server: the signature algorithms accepted for publickey authentication
 * and advertised as server-sig-algs (cfg.pubkey_algs or the defaults). */
const char *ferry__kex_server_sig_algs(const ferry_ssh *s);
/* Client: 1 if the server offered ext-info and sent server-sig-algs
 * containing alg (or, absent ext-info, if alg is a default we may try). */
int ferry__kex_peer_accepts_sigalg(const ferry_ssh *s, const char *alg);

/* ---- gate.c ---- */

/* FERRY_OK if message `msg` may be received now by a session in this role
 * and state (with in_kex / strict_kex), FERRY_E_PROTOCOL otherwise. The one
 * place this is decided; transport.c calls it for every packet.
 * in_kex: the PEER's KEXINIT was received and its NEWKEYS not yet (s->rx_kex;
 * the peer may legitimately send data after our KEXINIT until it sees it).
 * first_kex_done: one NEWKEYS was received (state >= AUTH).
 * FERRY_E_UNSUPPORTED: a number with no meaning here that RFC 4253 s11.4
 * wants answered with UNIMPLEMENTED (unassigned numbers in a layer that
 * is open; local extensions 128-255 once authenticated). */
int ferry__gate(enum ferry_role role, enum ferry_ssh_state state, int in_kex, int strict_kex,
                int first_kex_done, uint8_t msg);

/* ---- auth_server.c / auth_client.c ---- */

int ferry__auth_init(ferry_ssh *s);
void ferry__auth_free(ferry_ssh *s);
/* Called once when the first NEWKEYS is complete both ways: the client
 * sends SERVICE_REQUEST("ssh-userauth"). */
int ferry__auth_start(ferry_ssh *s);
/* Handles 5, 6 and 50-79. */
int ferry__auth_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload);

/* ---- channel.c ---- */

int ferry__conn_init(ferry_ssh *s);
void ferry__conn_free(ferry_ssh *s); /* calls on_close of every consumer */
/* Called when authentication succeeds (client: sends queued opens). */
int ferry__conn_start(ferry_ssh *s);
/* Handles 80-127. */
int ferry__conn_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload);
/* Called when the output backlog drains: sends window-limited data and
 * re-offers kept input to consumers. */
int ferry__conn_pump(ferry_ssh *s);
/* Keepalive timer (cfg.alive_*): sends a probe or ends the session when
 * due; *next_ms gets the ms until the next deadline (-1 for none). */
int ferry__conn_tick(ferry_ssh *s, int64_t *next_ms);

#endif
