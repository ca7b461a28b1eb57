/* release/remote: a project deployed to a server over SSH. Its files that containers
 * read (bind-mounted files and directories inside the project directory, the files of
 * file-based configs and secrets, env files) are synced over SFTP to a directory on the
 * server, BASE/PROJECT (BASE: the server's base directory, SSH_DEFAULT_BASE_DIR unless
 * set), and the model's paths are rewritten to point there. Paths outside the project
 * directory are left as they are: they name the server's own files. Library code: never
 * prints. */
#ifndef ZP_RELEASE_REMOTE_H
#define ZP_RELEASE_REMOTE_H

#include <stdbool.h>

#include "../compose/compose.h"
#include "../ssh/ssh.h"
#include "../util/util.h"

/* The service key (an extension: the engine never sees it) that carries a digest of the
 * synced files a service mounts: it is part of the service's config hash, so a changed
 * file makes `up` recreate the service (a file bind mount would otherwise keep showing
 * the replaced file). */
#define RELEASE_SYNC_KEY "x-zpanel-sync"

/* A server reached over SSH (every string borrowed). */
struct release_remote {
    const char *url;         /* ssh://USER@HOST[:PORT] */
    const char *name;        /* the registered server's name (messages, hints), or NULL */
    const char *known_hosts; /* zpanel's known_hosts */
    const char *identity;    /* the private key */
    const char *base_dir;    /* NULL: SSH_DEFAULT_BASE_DIR */
};

/* The directory of project on the server: BASE/PROJECT. Newly allocated. */
char *release_remote_dir(const struct release_remote *r, const char *project);

/* Rewrite p's model for the server r: bind sources and config/secret files inside
 * p->workdir move under release_remote_dir (same relative paths), and each service that
 * mounts synced files gets RELEASE_SYNC_KEY (a digest of their paths and SHA-256). With
 * sync, first bring the server's directory up to date over SFTP on a session of its own,
 * when there is anything to sync (ssh_sync: only what changed moves; *ret_stats, which
 * may be NULL, says what did). Symbolic links inside synced directories are not followed
 * and not synced. Errors: those of ssh_conn_open and ssh_sync (the message names the
 * server), ZP_E_SYSTEM (reading a local file), ZP_E_TOOBIG (more than SSH_SYNC_MAX_FILES).
 * On error the model is left unchanged. */
int release_remote_prepare(struct compose_project *p, const struct release_remote *r, bool sync,
                           struct ssh_sync_stats *ret_stats, struct zp_err *err);

#endif
