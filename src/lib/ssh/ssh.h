/* ssh.h: one SSH-2 connection, client or server role, sans I/O.
 *
 * The core never calls read/write/poll/time. The driver:
 *   1. creates the session (ferry_ssh_new) and calls ferry_ssh_start;
 *   2. loops: sends ferry_ssh_output_* bytes to the socket; feeds received
 *      bytes to ferry_ssh_input; calls ferry_ssh_tick with the clock;
 *   3. stops reading from the socket while ferry_ssh_want_input() is 0
 *      (output backlog: a peer that never reads cannot grow our memory);
 *   4. ends when ferry_ssh_is_closed() and the output is flushed.
 * On any fatal error the core queues a DISCONNECT with a reason, marks
 * itself closed and returns the error; the driver flushes and closes.
 *
 * Layers (RFC 4253 transport, RFC 4252 auth, RFC 4254 connection) are in
 * transport.c, kex.c, auth_server.c, auth_client.c, channel.c; one gate
 * (gate.c) decides which message numbers are allowed in each state.
 */
#ifndef FERRY_SSH_SSH_H
#define FERRY_SSH_SSH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "util/buf.h"

enum ferry_role { FERRY_ROLE_CLIENT = 0, FERRY_ROLE_SERVER = 1 };

/* Largest packet we accept or send (packet_length field), RFC 4253 s6.1
 * requires 35000; we allow 256 KiB. */
#define FERRY_SSH_MAX_PACKET (256u * 1024)

typedef struct ferry_ssh ferry_ssh;
typedef struct ferry_channel ferry_channel;

/* ---- identities (client) ---- */

/* A client identity: a public key and a way to sign with it (a loaded
 * private key, or an ssh-agent). */
typedef struct ferry_identity {
    ferry_key *pub; /* borrowed, must outlive the session */
    /* Signs data with `sigalg`, appending the signature blob to `sig`.
     * For a key file: ferry_key_sign. For the agent: agent.h. */
    int (*sign)(void *ctx, const ferry_key *pub, const char *sigalg, const uint8_t *data,
                size_t len, ferry_buf *sig);
    void *ctx;
    const char *label; /* for logs: file name or agent comment */
    /* Signing needs nobody (a key in memory: no passphrase to ask, no
     * agent confirmation): the signed request goes out without a query
     * first (RFC 4252 s7 allows it), and the first such key in the same
     * flight as "none", which saves two round trips. */
    int sign_direct;
    /* An OpenSSH certificate of `pub` (crypto/cert.h), borrowed, or NULL:
     * offered instead of the plain key, signed with the key. */
    const struct ferry_cert *cert;
} ferry_identity;

/* ---- the user store interface (server) ----
 * The SSH layer asks these; ferryd implements them over its config, a
 * future store over a database. All calls are synchronous. */
typedef struct ferry_auth_ops {
    /* FERRY_OK if `key` may authenticate `user` (called for a query and
     * again before a signed request is accepted), FERRY_E_AUTH_DENIED if
     * not (also for unknown users). */
    int (*pubkey_allowed)(void *ctx, const char *user, const ferry_key *key);
    /* FERRY_OK if an OpenSSH user certificate (crypto/cert.h; its CA
     * signature already verified) may authenticate `user`: a trusted CA,
     * the user among its principals, valid now, its critical options
     * honoured. NULL: certificates are refused. Called for a query and
     * again before a signed request is accepted. */
    int (*cert_allowed)(void *ctx, const char *user, const struct ferry_cert *cert);
    /* FERRY_OK if the password is right, FERRY_E_AUTH_DENIED otherwise
     * (also for unknown users: the implementation must spend the same
     * time, e.g. by checking against a dummy hash). */
    int (*password_check)(void *ctx, const char *user, const char *password);
    /* Called once when a user has passed every method of a chain. */
    void (*on_success)(void *ctx, const char *user, const char *methods);
    /* The user's own AuthenticationMethods (the syntax of cfg.auth_methods),
     * or NULL for cfg.auth_methods. Asked once, when the first request
     * names the user (before any method is tried). May itself be NULL. */
    const char *(*methods_for)(void *ctx, const char *user);
    /* Called on each failed attempt (for penalties/audit). */
    void (*on_failure)(void *ctx, const char *user, const char *method);
} ferry_auth_ops;

/* ---- channel data consumers ----
 * The SFTP server and the SFTP client engine plug in here. */
typedef struct ferry_chan_consumer {
    /* Client side only: the channel open + subsystem request succeeded
     * (ok=1) or failed (ok=0; the channel is then closed). */
    void (*on_open)(void *ctx, ferry_channel *ch, int ok);
    /* Channel data arrived. Returns how many bytes it consumed (0..len) or
     * a negative FERRY_E_* to close the channel. Unconsumed bytes are
     * kept (they are bounded by our window) and offered again, with any
     * newer bytes appended, after the channel's output drains or after
     * ferry_channel_resume. WINDOW_ADJUST is only sent for consumed
     * bytes, so a consumer that stops consuming stops the peer. */
    long (*on_data)(void *ctx, ferry_channel *ch, const uint8_t *data, size_t len);
    /* The peer sent EOF. */
    void (*on_eof)(void *ctx, ferry_channel *ch);
    /* The channel's outbound queue fell below its low-water mark. */
    void (*on_writable)(void *ctx, ferry_channel *ch);
    /* The channel is closed and about to be freed; ctx is the consumer's
     * to free now. The channel pointer is invalid after this returns. */
    void (*on_close)(void *ctx, ferry_channel *ch);
} ferry_chan_consumer;

/* Server: a client asked for subsystem `name` on a session channel. Return
 * FERRY_OK after setting *ops and *cctx to accept, anything else to refuse
 * (the client gets CHANNEL_FAILURE, the session goes on). */
typedef int (*ferry_subsystem_fn)(void *ctx, ferry_ssh *s, ferry_channel *ch, const char *name,
                                  const ferry_chan_consumer **ops, void **cctx);

typedef struct ferry_ssh_config {
    enum ferry_role role;
    /* Algorithm lists (name-lists in preference order); NULL = defaults. */
    const char *kex_algs;
    const char *hostkey_algs;
    const char *ciphers;
    const char *macs;
    /* Software version for the banner: "SSH-2.0-<this>"; NULL = Ferry_<ver>. */
    const char *software;
    /* Rekey after this many bytes in either direction (0 = 1 GiB; capped by
     * the cipher's safe limit) or this many seconds (0 = 1 hour). */
    uint64_t rekey_bytes;
    uint64_t rekey_seconds;
    /* Clock in milliseconds, monotonic (NULL = CLOCK_MONOTONIC). Tests pin it. */
    uint64_t (*now_ms)(void *ctx);
    void *clock_ctx;
    /* Channel windows: our initial window and max packet (0 = defaults:
     * 4 MiB window grown up to 32 MiB, 256 KiB packet payload... bounded). */
    uint32_t window;
    uint32_t max_packet;
    /* Growth limit of the automatic window (0 = 32 MiB), and where it
     * starts (0 = 4 MiB; ignored when window is set). */
    uint32_t window_max;
    uint32_t window_start;
    /* Offer zlib@openssh.com compression (on after authentication): a
     * client prefers it (ssh -C), a server allows it (sshd Compression). */
    int compression;
    /* Client: send the first kex method's INIT with our KEXINIT
     * (first_kex_packet_follows, RFC 4253 s7), saving a round trip when
     * the server's first kex and host key algorithms are ours; a wrong
     * guess is ignored by the server. */
    int kex_guess;
    /* Keepalives once authenticated (OpenSSH's ClientAliveInterval and
     * ClientAliveCountMax, or ServerAlive*): after alive_interval_ms
     * without any packet from the peer, a keepalive@openssh.com global
     * request (want-reply) is sent, then another each further interval of
     * silence; once alive_count_max of them went unanswered the session
     * ends with FERRY_E_TIMEOUT. Any packet from the peer counts as an
     * answer. alive_interval_ms 0 = off; alive_count_max 0 = probe, never
     * give up (as sshd's ClientAliveCountMax 0). */
    uint32_t alive_interval_ms;
    unsigned alive_count_max;
    /* Once authenticated, the connection is closed (DISCONNECT "by
     * application") after channel_idle_ms without channel data either way
     * while a channel is open (sshd's ChannelTimeout), or unused_ms without
     * any channel (UnusedConnectionTimeout). Keepalives are no traffic.
     * 0 = never. */
    uint32_t channel_idle_ms;
    uint32_t unused_ms;

    /* ---- server ---- */
    ferry_key **host_keys; /* borrowed; private keys */
    size_t n_host_keys;
    /* OpenSSH host certificates (crypto/cert.h) of some of host_keys,
     * borrowed: their algorithms ("ssh-ed25519-cert-v01@openssh.com") are
     * offered before the plain ones, the certificate sent as the host key
     * and the exchange signed by its key. */
    const struct ferry_cert *const *host_certs;
    size_t n_host_certs;
    /* OpenSSH AuthenticationMethods syntax: space-separated alternatives,
     * each a comma-separated chain ("publickey,password publickey").
     * NULL = "any" (publickey or password alone). */
    const char *auth_methods;
    /* Server: text sent as SSH_MSG_USERAUTH_BANNER (RFC 4252 s5.4) before
     * the answer to the first authentication request (sshd's Banner);
     * NULL = none. */
    const char *banner;
    unsigned max_auth_tries; /* 0 = 6 */
    /* Signature algorithms accepted for publickey authentication, also
     * sent as server-sig-algs in EXT_INFO (RFC 8308 s3.1), as OpenSSH's
     * PubkeyAcceptedAlgorithms; NULL = ferry_sigalg_default(). A client
     * offers its identities only under algorithms of this list (a
     * certificate under its certificate form, "...-cert-v01@openssh.com");
     * NULL there = the defaults, certificates included. */
    const char *pubkey_algs;
    const ferry_auth_ops *auth;
    void *auth_ctx;
    ferry_subsystem_fn subsystem;
    void *subsystem_ctx;
    unsigned max_channels; /* 0 = 10 */

    /* ---- client ---- */
    const char *user;
    /* The server's host name as the user knows it (HostName), for the
     * password prompt "user@host's password: "; NULL = "user's password: ". */
    const char *host;
    /* Host key check (known_hosts, prompting): FERRY_OK to accept,
     * anything else aborts the connection with that error. */
    int (*verify_hostkey)(void *ctx, const ferry_key *hostkey);
    /* The same when the server proved a host certificate (its CA
     * signature verified, the exchange signed by its key): called instead
     * of verify_hostkey. Needed when hostkey_algs lists certificate
     * algorithms; NULL refuses certificates. */
    int (*verify_hostcert)(void *ctx, const struct ferry_cert *cert);
    void *verify_ctx;
    const ferry_identity *identities; /* borrowed array, tried in order */
    size_t n_identities;
    int try_pubkey, try_password, try_kbdint;
    /* Password prompts, and keyboard-interactive rounds, before giving up
     * on each (NumberOfPasswordPrompts; 0 = 3). */
    unsigned password_prompts;
    /* The order methods are tried in (OpenSSH's PreferredAuthentications:
     * a comma list; names not in it are not tried, unknown ones are
     * skipped). NULL = "publickey,password,keyboard-interactive". */
    const char *auth_order;
    /* Asks the user for a secret (password, keyboard-interactive answer).
     * Writes a NUL-terminated string into out[outsz]. Non-OK = give up. */
    int (*prompt)(void *ctx, const char *prompt, int echo, char *out, size_t outsz);
    void *prompt_ctx;
    /* Client: shows a server's USERAUTH_BANNER (its text with control
     * characters made visible); NULL = logged at info level. */
    void (*on_banner)(void *ctx, const char *text);
} ferry_ssh_config;

/* New session; `cfg` is copied (the pointers inside are borrowed and must
 * outlive the session). */
int ferry_ssh_new(ferry_ssh **out, const ferry_ssh_config *cfg);
/* FERRY_OK if `spec` is a valid AuthenticationMethods list (space-separated
 * chains of comma-separated method names; NULL or "any": the defaults). */
int ferry_auth_methods_valid(const char *spec);
/* Frees the session and every channel (consumers get on_close). NULL ok. */
void ferry_ssh_free(ferry_ssh *s);
/* Queues our version line and first KEXINIT. */
int ferry_ssh_start(ferry_ssh *s);

/* Feeds bytes from the network. All are taken (buffered internally, with
 * limits). Returns FERRY_OK or a fatal error (the session is then closed
 * with a DISCONNECT queued). */
int ferry_ssh_input(ferry_ssh *s, const uint8_t *data, size_t len);
/* The same without a copy: room for up to *room (<= want) bytes at the
 * returned pointer, inside the session's input buffer (NULL when closed
 * or full); read the network into it, then ferry_ssh_input_commit with
 * the count read, before any other call on the session. */
uint8_t *ferry_ssh_input_space(ferry_ssh *s, size_t want, size_t *room);
int ferry_ssh_input_commit(ferry_ssh *s, size_t n);
/* Bytes waiting to be sent: pointer and length (valid until the next call
 * on the session). */
const uint8_t *ferry_ssh_output(ferry_ssh *s, size_t *len);
/* Marks n bytes of the output as sent. */
void ferry_ssh_output_consume(ferry_ssh *s, size_t n);
/* 0 while the output waiting for the socket is over its high-water mark
 * (packets deferred during a key exchange do not count: it needs input). */
int ferry_ssh_want_input(const ferry_ssh *s);
/* Runs timers (rekey by time, keepalives). Returns the number of ms until
 * the next deadline (or -1 for none) in *next_ms. */
int ferry_ssh_tick(ferry_ssh *s, int64_t *next_ms);

/* Non-zero when the session has ended (disconnect sent or received,
 * fatal error); the driver flushes output and closes. */
int ferry_ssh_is_closed(const ferry_ssh *s);
/* Why it ended: a FERRY_E_* (FERRY_E_DISCONNECTED when the peer said so)
 * and a message (static or session-owned, valid until free). */
int ferry_ssh_close_reason(const ferry_ssh *s, const char **msg);
/* Sends DISCONNECT (reason code RFC 4253 s11.1) and closes. */
void ferry_ssh_disconnect(ferry_ssh *s, uint32_t reason, const char *msg);
/* Starts a key re-exchange now (either side). */
int ferry_ssh_rekey(ferry_ssh *s);

/* Non-zero once user authentication completed. */
int ferry_ssh_is_authenticated(const ferry_ssh *s);
/* Client: the method that completed authentication ("publickey",
 * "password", "keyboard-interactive", "none"), "" before. */
const char *ferry_ssh_auth_method(const ferry_ssh *s);
/* The authenticated (server) or requested (client) user name, or NULL. */
const char *ferry_ssh_user(const ferry_ssh *s);
/* Server: the host key the client accepted. Client: the server's key.
 * Borrowed, NULL before key exchange. */
const ferry_key *ferry_ssh_hostkey(const ferry_ssh *s);
/* Negotiated algorithm for logs: "kex", "hostkey", "cipher_ctos",
 * "cipher_stoc", "mac_ctos", "mac_stoc"; "" if not yet known. */
const char *ferry_ssh_alg(const ferry_ssh *s, const char *what);
/* The peer's version line (without CR LF) or NULL. */
const char *ferry_ssh_peer_version(const ferry_ssh *s);
/* Number of completed key exchanges (1 after the first). */
unsigned ferry_ssh_kex_count(const ferry_ssh *s);

/* ---- channels ---- */

/* Client: opens a session channel and asks for `subsystem` ("sftp") once
 * authenticated (queued until then); a name with a '/' is a server
 * program run by an "exec" request instead (OpenSSH's sftp -s PATH). The
 * consumer's on_open reports the outcome. */
int ferry_ssh_open_subsystem(ferry_ssh *s, const char *subsystem, const ferry_chan_consumer *ops,
                             void *cctx, ferry_channel **out);
/* Client: opens a "direct-tcpip" channel (RFC 4254 s7.2) to host:port
 * from the server, as ssh -W (ProxyJump's hop), once authenticated; the
 * consumer's on_open reports the outcome, then data flows both ways. */
int ferry_ssh_open_direct_tcpip(ferry_ssh *s, const char *host, uint16_t port,
                                const ferry_chan_consumer *ops, void *cctx, ferry_channel **out);

/* Queues data on the channel. All-or-nothing: FERRY_E_AGAIN when the
 * channel's outbound queue is over its limit (wait for on_writable),
 * FERRY_E_CLOSED after EOF/CLOSE. Sent as the peer's window allows, in
 * packets no larger than its max packet size. */
int ferry_channel_write(ferry_channel *ch, const uint8_t *data, size_t len);
/* The same without a copy, for a producer that fills the bytes itself
 * (ferryd's READ replies): when `want` bytes can go out in one
 * CHANNEL_DATA packet now (nothing queued, the peer's window and max
 * packet allow it), returns where to write them inside that packet, else
 * NULL, with *later 1 when only our own output backlog or queue is in the
 * way (on_writable follows once it drains: produce then, for a copy less),
 * 0 when ferry_channel_write is the way (the peer's max packet or window
 * is too small, or the channel is closing). Then ferry_channel_write_end
 * with the bytes written (<= want; 0 abandons the packet), before any
 * other call on the session. */
uint8_t *ferry_channel_write_begin(ferry_channel *ch, size_t want, int *later);
int ferry_channel_write_end(ferry_channel *ch, size_t used);
/* Bytes queued on the channel not yet sent. */
size_t ferry_channel_pending(const ferry_channel *ch);
/* Largest write that will be accepted now without FERRY_E_AGAIN. */
size_t ferry_channel_write_room(const ferry_channel *ch);
/* The window in one direction: sending, the largest the peer granted so
 * far; receiving, ours as grown (see ferry_ssh_config.window_max). */
size_t ferry_channel_window(const ferry_channel *ch, int sending);
/* The most data one packet we send on the channel can carry (the peer's
 * max packet, within ours). */
size_t ferry_channel_packet_max(const ferry_channel *ch);
/* Offers kept input to on_data again (after the consumer made room). */
void ferry_channel_resume(ferry_channel *ch);
/* Sends EOF after queued data. */
int ferry_channel_send_eof(ferry_channel *ch);
/* Server: sends exit-status (RFC 4254 s6.10). */
int ferry_channel_exit_status(ferry_channel *ch, uint32_t status);
/* Sends CLOSE after queued data; on_close follows the peer's CLOSE. */
int ferry_channel_close(ferry_channel *ch);
/* The session a channel belongs to. */
ferry_ssh *ferry_channel_session(const ferry_channel *ch);

#endif
