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
 * sync (the server's tunnel; NULL: no sync), first bring the server's directory up to
 * date over SFTP on the tunnel's session, when there is anything to sync (ssh_sync: only
 * what changed moves; *ret_stats, which may be NULL, says what did). Symbolic links
 * inside synced directories are not followed and not synced. Errors: those of ssh_sync
 * and ssh_tunnel_with_conn (the message names the server), ZP_E_SYSTEM (reading a local
 * file), ZP_E_TOOBIG (more than SSH_SYNC_MAX_FILES). On error the model is left
 * unchanged. */
int release_remote_prepare(struct compose_project *p, const struct release_remote *r,
                           struct ssh_tunnel *sync, struct ssh_sync_stats *ret_stats,
                           struct zp_err *err);

/* The proxy's directory on the server: BASE/.proxy (a name no project can have).
 * Newly allocated. */
char *release_remote_proxy_dir(const struct release_remote *r);
/* Let the proxy module run zpanel's proxy on the server behind tunnel t (whose engine
 * host is ssh_tunnel_host(t)): its sockets in release_remote_proxy_dir are forwarded
 * through t, its files are written there over SFTP on t's session, and Caddy runs as the
 * login's user. Undo with release_remote_proxy_forget before freeing t. Errors:
 * ZP_E_SYSTEM (local sockets). */
int release_remote_proxy_register(const struct release_remote *r, struct ssh_tunnel *t,
                                  struct zp_err *err);
void release_remote_proxy_forget(struct ssh_tunnel *t);

/* A registered server, open: its tunnel (with the proxy registered) and its settings. */
struct release_server {
    struct release_remote r; /* points into the strings below */
    struct ssh_tunnel *t;
    char *url, *name, *known_hosts, *identity, *base_dir;
};

/* Open the tunnel to the server registered as name under state_dir and register its
 * proxy. Errors: ZP_E_NOTFOUND (no such server), those of ssh_servers_load,
 * ssh_tunnel_open and release_remote_proxy_register. */
int release_server_open(const char *state_dir, const char *name, struct release_server **ret,
                        struct zp_err *err);
/* The engine host to use (the tunnel's). */
const char *release_server_host(const struct release_server *s);
/* Close the tunnel and free s (NULL accepted); with rc != 0, *ret_why (may be NULL) gets
 * the tunnel's last transport problem, or NULL. */
void release_server_close(struct release_server *s, int rc, char **ret_why);

#endif
