/* agent.h: ssh-agent client (draft-miller-ssh-agent-02): list identities
 * and ask for signatures over a unix socket (SSH_AUTH_SOCK). Blocking I/O
 * with a timeout; used only by the client program. */
#ifndef FERRY_SSH_AGENT_H
#define FERRY_SSH_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "ssh/ssh.h"

typedef struct ferry_agent ferry_agent;

/* Connects to the agent socket at `path` (NULL = $SSH_AUTH_SOCK).
 * FERRY_E_NOT_FOUND if there is no agent. */
int ferry_agent_open(const char *path, ferry_agent **out);
void ferry_agent_free(ferry_agent *a);
/* Lists the agent's keys: *n identities, each with pub (owned by the
 * agent object), sign = ferry_agent_sign and ctx = the agent. The array is
 * owned by the agent object and lives until ferry_agent_free. Keys of
 * unsupported types are left out. */
int ferry_agent_identities(ferry_agent *a, const ferry_identity **ids, size_t *n);
/* Signs through the agent (SSH_AGENTC_SIGN_REQUEST with the RSA SHA-2
 * flags as needed). Matches ferry_identity.sign. */
int ferry_agent_sign(void *agent, const ferry_key *pub, const char *sigalg, const uint8_t *data,
                     size_t len, ferry_buf *sig);

#endif
