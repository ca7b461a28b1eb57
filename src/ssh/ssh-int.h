/* ssh-int.h: what session.c shares with tunnel.c (libssh types stay inside the module). */
#ifndef ZP_SSH_INT_H
#define ZP_SSH_INT_H

#include <libssh/libssh.h>

#include "ssh.h"

struct ssh_conn {
    ssh_session session;
    char *fingerprint; /* of the host key, "SHA256:..." */
    char *where;       /* "HOST:PORT" for messages */
};

#endif
