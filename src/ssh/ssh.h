/* ssh: remote engines over SSH with libssh (no ssh binary): ssh:// URLs, zpanel's own
 * known_hosts, the registry of named servers, key generation, and a tunnel that carries
 * connections to a private unix socket over channels to the remote docker.sock. libssh
 * types never appear here; this module calls util only. */
#ifndef ZP_SSH_H
#define ZP_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

/* Caps on what we read from files and peers. */
#define SSH_MAX_FILE ((size_t)1 << 20) /* known_hosts, servers */
#define SSH_MAX_NAME 63                /* a server's name */
/* Default timeouts (milliseconds): connecting and authenticating; one keepalive. */
#define SSH_CONNECT_TIMEOUT_MS 10000L
#define SSH_KEEPALIVE_MS 15000L
/* The remote engine socket that channels are opened to. */
#define SSH_REMOTE_DOCKER_SOCK "/var/run/docker.sock"

/* ---- pure parsers (parse.c) ---- */

/* ssh://USER@HOST[:PORT] with HOST a name, an IPv4 address or [IPv6]. */
struct ssh_url {
    char *user;
    char *host; /* without brackets */
    int port;   /* 22 when absent */
};

/* Parse s into *ret (owned: ssh_url_release). Errors: ZP_E_INPUT naming s and what is
 * wrong (no user, bad port, a path, ...). */
int ssh_url_parse(const char *s, struct ssh_url *ret, struct zp_err *err);
void ssh_url_release(struct ssh_url *u);
/* The known_hosts name of host:port as OpenSSH writes it: "host" for port 22, else
 * "[host]:port". Newly allocated. */
char *ssh_host_pattern(const char *host, int port);

/* One known_hosts line: "NAMES KEYTYPE BASE64 [COMMENT]". Markers (@cert-authority,
 * @revoked) and hashed names ("|1|...") are parsed and kept; matching ignores them. */
struct ssh_known_host {
    char *names;   /* comma-separated patterns as written */
    char *keytype; /* "ssh-ed25519", "ecdsa-sha2-nistp256", ... */
    char *key;     /* base64 blob as written */
    char *marker;  /* "@revoked", ... or NULL */
};

/* Parse one line (without its newline). *ret_blank is set for blank and comment lines
 * (then *ret is untouched). Errors: ZP_E_INPUT saying what is wrong. */
int ssh_known_host_parse(const char *line, struct ssh_known_host *ret, bool *ret_blank,
                         struct zp_err *err);
void ssh_known_host_release(struct ssh_known_host *k);
/* Does the plain (not hashed) names list contain exactly pattern? */
bool ssh_known_host_names_match(const char *names, const char *pattern);

/* Parse a SHA256 fingerprint as OpenSSH prints it ("SHA256:" + 43 base64 characters,
 * '=' padding accepted) into its canonical form without padding (newly allocated).
 * Errors: ZP_E_INPUT naming the value. */
int ssh_fingerprint_parse(const char *s, char **ret, struct zp_err *err);
/* The fingerprint of a base64 key blob ("SHA256:..."), or ZP_E_INPUT when the blob is
 * not base64. */
int ssh_fingerprint_of_blob(const char *base64, char **ret, struct zp_err *err);

/* ---- zpanel's known_hosts (knownhosts.c): STATE/ssh/known_hosts ---- */

/* The path of zpanel's known_hosts under state_dir (newly allocated). */
char *ssh_known_hosts_path(const char *state_dir);

/* ---- servers (servers.c): STATE/ssh/servers, one "NAME URL IDENTITY [BASE_DIR]" a line ---- */

/* The directory under which a project's synced files live on a server (BASE/PROJECT). */
#define SSH_DEFAULT_BASE_DIR "/var/lib/zpanel/projects"

struct ssh_server {
    char *name;
    char *url;      /* ssh://USER@HOST[:PORT] */
    char *identity; /* private key file */
    char *base_dir; /* where projects' files go on the server (an absolute path), or NULL:
                       SSH_DEFAULT_BASE_DIR; an optional fourth field of the line */
};

struct ssh_servers {
    struct ssh_server *items;
    size_t n;
};

/* Is name a valid server name ([a-z0-9][a-z0-9_.-]*, at most SSH_MAX_NAME)? */
bool ssh_server_name_valid(const char *name);
/* Read the registry (empty when the file does not exist). Errors: ZP_E_SYSTEM,
 * ZP_E_INPUT (a malformed line, named file:line). */
int ssh_servers_load(const char *state_dir, struct ssh_servers *ret, struct zp_err *err);
void ssh_servers_release(struct ssh_servers *s);
/* The server named name (borrowed), or NULL. */
const struct ssh_server *ssh_servers_find(const struct ssh_servers *s, const char *name);
/* Add (ZP_E_CONFLICT when the name exists) or remove (ZP_E_NOTFOUND) a server and write
 * the file (atomically, 0600). */
int ssh_servers_add(const char *state_dir, const struct ssh_server *srv, struct zp_err *err);
int ssh_servers_remove(const char *state_dir, const char *name, struct zp_err *err);

/* `server add` (the CLI's and the API's): name, URL and base directory checked
 * (ZP_E_INPUT naming the field), ZP_E_CONFLICT when the name exists. With srv->identity
 * (made absolute): connect, check the host key (an unknown one needs fingerprint) and log
 * in before anything is stored; *ret_fingerprint gets the host key's. Without: a new
 * ed25519 key pair STATE/ssh/keys/NAME_ed25519 becomes the identity, *ret_public gets its
 * public key line, and the host key is checked later (`server check NAME --fingerprint`).
 * Outputs not filled are set to NULL. Errors also those of ssh_conn_open (prefixed with
 * the server's name). */
int ssh_server_register(const char *state_dir, const struct ssh_server *srv,
                        const char *fingerprint, char **ret_fingerprint, char **ret_public,
                        struct zp_err *err);

/* ---- keys and sessions (session.c, over libssh) ---- */

/* Generate an ed25519 key pair: private key at path (0600), public key at path.pub;
 * *ret_public gets the public key line ("ssh-ed25519 AAAA... comment", owned).
 * Errors: ZP_E_CONFLICT when path exists, ZP_E_SYSTEM. */
int ssh_keygen_ed25519(const char *path, const char *comment, char **ret_public,
                       struct zp_err *err);

/* How a session checks the host key. */
struct ssh_connect_opts {
    const char *known_hosts; /* zpanel's known_hosts file */
    const char *identity;    /* private key file */
    /* Accept and store a host key that is not known yet when its fingerprint is this one
     * (canonical or as the user typed it); NULL: an unknown key is refused. A key that
     * differs from the stored one is always refused. */
    const char *fingerprint;
    long timeout_ms; /* 0: SSH_CONNECT_TIMEOUT_MS */
    /* Replace a stored key that differs when the offered one has opts->fingerprint (the
     * user accepts a new host key explicitly). */
    bool replace;
    /* The server's name in hints ("zpanel server check NAME ..."); NULL: none. */
    const char *name;
    /* name is a registered server: hints say `server check`, not `server add` */
    bool registered;
};

struct ssh_conn;

/* Connect to url, verify the host key against opts->known_hosts (storing it when it was
 * unknown and opts->fingerprint matches), authenticate with opts->identity. Errors:
 * ZP_E_INPUT (bad URL), ZP_E_CONFLICT (host key unknown, mismatching or changed: the
 * message gives the fingerprints and what to do), ZP_E_ENGINE (unreachable, refused,
 * authentication failed, timeout), ZP_E_SYSTEM. */
int ssh_conn_open(const char *url, const struct ssh_connect_opts *opts, struct ssh_conn **ret,
                  struct zp_err *err);
void ssh_conn_free(struct ssh_conn *c);
/* Connect to url without logging in and read the host key: *ret_fp gets its SHA256
 * fingerprint, *ret_type its short type ("ed25519", "ecdsa-sha2-nistp256", ...), both
 * owned; *ret_known whether known_hosts holds exactly this key for the host. For asking
 * the user on a terminal; nothing is stored. Errors: ZP_E_ENGINE, ZP_E_INPUT (bad URL). */
int ssh_host_key_probe(const char *url, const char *known_hosts, char **ret_fp, char **ret_type,
                       bool *ret_known, struct zp_err *err);
/* The SHA256 fingerprint of the server's host key (borrowed). */
const char *ssh_conn_fingerprint(const struct ssh_conn *c);
/* Run command on the server and collect its stdout (capped at max bytes); *ret_status
 * gets its exit status. Errors: ZP_E_ENGINE, ZP_E_TOOBIG. */
int ssh_conn_exec(struct ssh_conn *c, const char *command, size_t max, char **ret_out,
                  int *ret_status, struct zp_err *err);

/* ---- files over SFTP (sync.c) ---- */

/* The manifest of what was synced, kept on the server in BASE/SSH_SYNC_MANIFEST: one line
 * "SHA256HEX SIZE MTIME MODE PATH" per file sent (PATH relative to BASE, the rest of the
 * line; size and mtime as the server reported them after the upload, mode octal). */
#define SSH_SYNC_MANIFEST ".zpanel-sync"
/* Caps: files per sync, the manifest's size. */
#define SSH_SYNC_MAX_FILES 100000
#define SSH_SYNC_MAX_MANIFEST ((size_t)16 << 20)

struct ssh_sync_entry {
    char sha256[65];
    uint64_t size;
    int64_t mtime;
    unsigned mode;
    char *path; /* relative to the base directory, never absolute, no "..", no newline */
};

/* Parse one manifest line (without its newline) into *ret (ret->path owned: free it).
 * Errors: ZP_E_INPUT saying what is wrong. Pure; fuzzed with the other parsers. */
int ssh_sync_manifest_line(const char *line, struct ssh_sync_entry *ret, struct zp_err *err);

/* One local file to have on the server. */
struct ssh_sync_file {
    const char *local; /* a regular file here */
    const char *rel;   /* its path under the base directory (as in the manifest) */
    char sha256[65];   /* of its content, read by the caller */
    uint64_t size;
    unsigned mode; /* permission bits */
};

struct ssh_sync_stats {
    size_t files;   /* files in the set */
    size_t sent;    /* files uploaded (changed, new, or changed on the server) */
    size_t removed; /* files of an earlier sync no longer in the set, removed */
    uint64_t bytes; /* bytes uploaded */
};

/* Make the server's directory base (and its parents) hold files (and the directories
 * dirs, relative to base, made when missing): a file moves only when the manifest does
 * not list it with the same SHA-256, or the server's copy no longer has the size and mtime
 * the manifest recorded; each goes to a temporary name first and is then renamed over the
 * old one. Files an earlier sync sent that are no longer in the set are removed. The
 * manifest is rewritten last. Errors: ZP_E_ENGINE (SFTP refused or failed: the message
 * names the server path), ZP_E_SYSTEM (a local file), ZP_E_INPUT (a bad rel path). */
int ssh_sync(struct ssh_conn *c, const char *base, const struct ssh_sync_file *files, size_t nfiles,
             const char *const *dirs, size_t ndirs, struct ssh_sync_stats *ret, struct zp_err *err);

/* Make path on the server private to the login (mode 0700) and read its owner
 * (*ret_uid, *ret_gid). Errors: ZP_E_ENGINE (SFTP failed, naming the path). */
int ssh_sftp_private_dir(struct ssh_conn *c, const char *path, unsigned *ret_uid, unsigned *ret_gid,
                         struct zp_err *err);

/* ---- the tunnel (tunnel.c) ---- */

struct ssh_tunnel;

/* Open a session to url (as ssh_conn_open, label names the server in messages: "web1"
 * or the URL) and start a thread that listens on a unix socket in a new 0700 temporary
 * directory and carries each accepted connection over its own channel to the remote
 * SSH_REMOTE_DOCKER_SOCK (direct-streamlocal), or, where the server refuses that, over
 * an exec channel running `docker system dial-stdio`. A lost session is reopened (with
 * backoff) for the next connection; while it cannot be, connections are closed at once
 * and the reason is kept (ssh_tunnel_error). Errors as ssh_conn_open. */
int ssh_tunnel_open(const char *url, const char *label, const struct ssh_connect_opts *opts,
                    struct ssh_tunnel **ret, struct zp_err *err);
/* "unix:///tmp/zpanel-ssh-XXXXXX/docker.sock" (borrowed): the engine host to use. */
const char *ssh_tunnel_host(const struct ssh_tunnel *t);
/* The last transport problem (with the server named), or NULL when none happened; the
 * string is copied into a new allocation. Thread-safe. */
char *ssh_tunnel_error(struct ssh_tunnel *t);
/* Did any connection go through the dial-stdio fallback? Thread-safe. */
bool ssh_tunnel_used_fallback(struct ssh_tunnel *t);
/* Listen on sockets named names[0..n) in a new directory of the tunnel (*ret_dir, owned)
 * and carry each connection over its own channel to the socket of the same name in
 * remote_dir on the server (direct-streamlocal; no dial-stdio fallback: a server that
 * refuses forwarding refuses these connections). At most 8 sockets in all. Errors:
 * ZP_E_SYSTEM, ZP_E_TOOBIG. */
int ssh_tunnel_forward_dir(struct ssh_tunnel *t, const char *remote_dir, const char *const *names,
                           size_t n, char **ret_dir, struct zp_err *err);
/* Run fn on the tunnel's session (one session per server: SFTP and the like run there,
 * on channels of their own, beside the engine's) while the tunnel's thread waits for it;
 * a lost session is reopened first. fn's result is returned. Errors also as
 * ssh_conn_open's (ZP_E_ENGINE, naming the server). */
int ssh_tunnel_with_conn(struct ssh_tunnel *t,
                         int (*fn)(struct ssh_conn *c, void *arg, struct zp_err *err), void *arg,
                         struct zp_err *err);
/* Stop the thread, close every channel and the session, remove the socket and its
 * directory; NULL accepted. */
void ssh_tunnel_free(struct ssh_tunnel *t);

#endif
