/* cipher.h: packet protection for one direction of the SSH binary packet
 * protocol (RFC 4253 s6): the cipher and, for non-AEAD ciphers, the MAC,
 * behind one interface so the transport never cares which kind it has.
 *
 * Four shapes, all over OpenSSL EVP:
 *  - chacha20-poly1305@openssh.com (PROTOCOL.chacha20poly1305): the 4-byte
 *    length is encrypted with its own key; 16-byte Poly1305 tag.
 *  - aes{128,256}-gcm@openssh.com (RFC 5647, OpenSSH variant): length in
 *    clear as AAD; 16-byte tag; the 12-byte nonce's invocation counter is
 *    incremented per packet.
 *  - aes{128,192,256}-ctr with an -etm@openssh.com MAC: length in clear,
 *    MAC over seqnr || length || ciphertext.
 *  - aes*-ctr with a classic MAC (RFC 4253 s6.4, RFC 6668): everything
 *    encrypted, MAC over seqnr || plaintext packet.
 *
 * A packet as passed here is `uint32 packet_length || byte padding_length
 * || payload || padding` (n bytes, n = 4 + packet_length), followed by
 * tag_len bytes of tag/MAC on the wire.
 */
#ifndef FERRY_CRYPTO_CIPHER_H
#define FERRY_CRYPTO_CIPHER_H

#include <stddef.h>
#include <stdint.h>

enum {
    FERRY_CIPHER_AEAD = 1 << 0,     /* cipher brings its own tag; no MAC negotiated */
    FERRY_CIPHER_CHACHAPOLY = 1 << 1,
};

typedef struct ferry_cipher_alg {
    const char *name;   /* wire name */
    const char *evp;    /* OpenSSL cipher name */
    unsigned key_len;   /* bytes of key material derived for it */
    unsigned iv_len;    /* bytes of IV derived for it (0 for chacha) */
    unsigned block_len; /* padding block (8 minimum) */
    unsigned tag_len;   /* AEAD tag (0 for non-AEAD) */
    unsigned flags;
} ferry_cipher_alg;

typedef struct ferry_mac_alg {
    const char *name;   /* wire name */
    const char *digest; /* OpenSSL digest name */
    unsigned key_len;
    unsigned mac_len;
    int etm;            /* encrypt-then-MAC (length in clear) */
} ferry_mac_alg;

/* Table lookups by wire name; NULL if unknown. */
const ferry_cipher_alg *ferry_cipher_by_name(const char *name);
const ferry_mac_alg *ferry_mac_by_name(const char *name);
/* Every supported name, comma-separated, in OpenSSH's preference order
 * (static strings). */
const char *ferry_cipher_supported(void);
const char *ferry_mac_supported(void);
/* The default offer (OpenSSH 9's order; no CBC, no SHA-1). */
const char *ferry_cipher_default(void);
const char *ferry_mac_default(void);

typedef struct ferry_pcrypt ferry_pcrypt;

/* New protection state for one direction. `mac` must be NULL for AEAD
 * ciphers and non-NULL otherwise. Key/IV/MAC-key lengths are the tables'
 * (mackey may be NULL for AEAD). encrypt=1 for sending, 0 for receiving.
 * The state copies the keys; the caller wipes its copies. */
int ferry_pcrypt_new(ferry_pcrypt **out, const ferry_cipher_alg *cipher, const ferry_mac_alg *mac,
                     int encrypt, const uint8_t *key, const uint8_t *iv, const uint8_t *mackey);
/* Wipes and frees; NULL is a no-op. */
void ferry_pcrypt_free(ferry_pcrypt *p);

/* Padding block size for packets in this direction (>= 8). */
unsigned ferry_pcrypt_block_len(const ferry_pcrypt *p);
/* Bytes of tag/MAC following each packet. */
unsigned ferry_pcrypt_tag_len(const ferry_pcrypt *p);
/* Non-zero when packet_length travels in clear (AEAD-GCM and EtM), in
 * which case the padded part that must be a multiple of block_len excludes
 * the 4 length bytes (RFC 5647 s7.2, OpenSSH PROTOCOL 1.5). */
int ferry_pcrypt_len_in_clear(const ferry_pcrypt *p);
/* How many leading bytes of a packet must have arrived before
 * ferry_pcrypt_peek_len can run: 4 (clear length, chacha) or block_len. */
unsigned ferry_pcrypt_first_len(const ferry_pcrypt *p);

/* Sending: pkt[0..n) holds the plaintext packet (length field included).
 * Encrypts it in place and writes tag_len bytes to `tag`. `seqnr` is the
 * packet's sequence number. */
int ferry_pcrypt_seal(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, uint8_t *tag);

/* Receiving, step 1: `first` holds first_len bytes of the packet as
 * received. Stores packet_length in *pktlen. May decrypt `first` in place
 * (classic CTR); call exactly once per packet, before ferry_pcrypt_open.
 * Does not validate the length: the transport bounds it. */
int ferry_pcrypt_peek_len(ferry_pcrypt *p, uint32_t seqnr, uint8_t *first, uint32_t *pktlen);

/* Receiving, step 2: pkt[0..n) is the whole packet (its first first_len
 * bytes as peek_len left them), `tag` the tag that followed. Verifies
 * (constant time, before decrypting for AEAD/EtM) and decrypts in place.
 * FERRY_E_MAC_INVALID on a bad tag. */
int ferry_pcrypt_open(ferry_pcrypt *p, uint32_t seqnr, uint8_t *pkt, size_t n, const uint8_t *tag);

#endif
