/* quick.h: "ferryd --quick", the README's zero-set-up mode: serve
 * ~/ferry-share on 127.0.0.1:2222 to the invoking user, authorised by the
 * keys in ~/.ssh/ *.pub (and ~/.ssh/authorized_keys), with a host key kept
 * in ~/.config/ferry. */
#ifndef FERRYD_QUICK_H
#define FERRYD_QUICK_H

#include "ferryd.h"

/* Fills what the configuration does not set: listen address, host key
 * file, the user block for `user` (root, key files). Creates ~/ferry-share
 * and ~/.config/ferry, and ~/.ssh/id_ed25519 (+ .pub, OpenSSH format) if
 * ~/.ssh holds no public key yet. */
int ferryd_quick_prepare(ferryd_config *cfg, const char *user);

/* ferryd_server.on_bound for quick mode: writes ~/.config/ferry/known_hosts
 * for the bound address and prints how to connect to srv->quick_user
 * (stdout). */
void ferryd_quick_print(const ferryd_server *srv, const char *host, unsigned port);

#endif
