/* ssh/session: libssh sessions: connect with timeouts and TCP keepalives, verify the host
 * key against zpanel's own known_hosts, authenticate with an identity file; exec; key
 * generation. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssh-int.h"

#include "../util/banned.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc = -1;

static void do_init(void)
{
    init_rc = ssh_init();
}

/* ---- keys ---- */

int ssh_keygen_ed25519(const char *path, const char *comment, char **ret_public, struct zp_err *err)
{
    pthread_once(&init_once, do_init);
    ssh_key key = NULL;
    char *priv = NULL, *pub = NULL, *line = NULL, *pubpath = zp_asprintf("%s.pub", path);
    int rc = 0, fd = -1;
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK ||
        ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &priv) != SSH_OK ||
        ssh_pki_export_pubkey_base64(key, &pub) != SSH_OK) {
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "generating an ed25519 key");
        goto out;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno == EEXIST
                 ? zp_err_set(err, ZP_E_CONFLICT, NULL,
                              "key file '%s' exists already; pass it with --identity", path)
                 : zp_err_sys(err, "creating '%s'", path);
        goto out;
    }
    if (zp_write_all(fd, priv, strlen(priv)) != 0 || close(fd) != 0) {
        fd = -1;
        rc = zp_err_sys(err, "writing '%s'", path);
        unlink(path);
        goto out;
    }
    fd = -1;
    line = zp_asprintf("ssh-ed25519 %s %s\n", pub, comment);
    fd = open(pubpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || zp_write_all(fd, line, strlen(line)) != 0 || close(fd) != 0) {
        fd = -1;
        rc = zp_err_sys(err, "writing '%s'", pubpath);
        goto out;
    }
    fd = -1;
    line[strlen(line) - 1] = '\0';
    *ret_public = line;
    line = NULL;
out:
    if (fd >= 0)
        close(fd);
    if (priv) {
        explicit_bzero(priv, strlen(priv));
        ssh_string_free_char(priv);
    }
    ssh_string_free_char(pub);
    ssh_key_free(key);
    free(line);
    free(pubpath);
    return rc;
}

/* ---- known_hosts ---- */

enum known { KNOWN_NONE, KNOWN_MATCH, KNOWN_CHANGED };

/* Look pattern up in the file: *ret_old gets the fingerprint of a differing stored key. */
static int known_lookup(const char *path, const char *pattern, const char *keytype, const char *b64,
                        enum known *ret, char **ret_old, struct zp_err *err)
{
    char *data = NULL;
    size_t len = 0;
    enum known k = KNOWN_NONE;
    char *old = NULL;
    if (!zp_file_exists(path))
        goto done;
    int rc = zp_file_read(path, SSH_MAX_FILE, &data, &len, err);
    if (rc != 0)
        return rc;
    int lineno = 0;
    for (char *line = data; line && *line && k != KNOWN_MATCH;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        struct ssh_known_host kh;
        bool blank = false;
        struct zp_err lerr;
        zp_err_init(&lerr);
        if (ssh_known_host_parse(line, &kh, &blank, &lerr) != 0) {
            free(data);
            free(old);
            return zp_err_set(err, ZP_E_INPUT, NULL, "%s:%d: %s", path, lineno, lerr.msg);
        }
        if (!blank) {
            if (!kh.marker && ssh_known_host_names_match(kh.names, pattern)) {
                if (strcmp(kh.keytype, keytype) == 0 && strcmp(kh.key, b64) == 0) {
                    k = KNOWN_MATCH;
                } else {
                    k = KNOWN_CHANGED;
                    if (!old)
                        ssh_fingerprint_of_blob(kh.key, &old, &lerr);
                }
            }
            ssh_known_host_release(&kh);
        }
        line = nl ? nl + 1 : NULL;
    }
done:
    free(data);
    *ret = k;
    if (k == KNOWN_CHANGED)
        *ret_old = old;
    else
        free(old);
    return 0;
}

/* Write the key for pattern, dropping the lines naming exactly pattern when replace. */
static int known_store(const char *path, const char *pattern, const char *keytype, const char *b64,
                       bool replace, struct zp_err *err)
{
    char *dir = zp_path_dir(path);
    char *tmp = zp_asprintf("%s.tmp", path);
    char *data = NULL;
    size_t len = 0;
    struct zp_buf b;
    zp_buf_init(&b, SSH_MAX_FILE + 4096);
    int rc = 0, fd = -1;
    if ((rc = zp_mkdir_p(dir, 0700, err)) != 0)
        goto out;
    if (zp_file_exists(path) && (rc = zp_file_read(path, SSH_MAX_FILE, &data, &len, err)) != 0)
        goto out;
    for (char *line = data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        struct ssh_known_host kh;
        bool blank = false, drop = false;
        struct zp_err lerr;
        zp_err_init(&lerr);
        if (replace && ssh_known_host_parse(line, &kh, &blank, &lerr) == 0 && !blank) {
            drop = !kh.marker && strcmp(kh.names, pattern) == 0;
            ssh_known_host_release(&kh);
        }
        if (!drop)
            zp_buf_addf(&b, "%s\n", line);
        line = nl ? nl + 1 : NULL;
    }
    zp_buf_addf(&b, "%s %s %s\n", pattern, keytype, b64);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || zp_write_all(fd, b.p, b.len) != 0 || fsync(fd) != 0) {
        rc = zp_err_sys(err, "writing '%s'", tmp);
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0)
        rc = zp_err_sys(err, "renaming '%s' to '%s'", tmp, path);
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    zp_buf_release(&b);
    free(data);
    free(tmp);
    free(dir);
    return rc;
}

/* ---- sessions ---- */

static void set_keepalive(int fd)
{
    int on = 1, idle = 15, intvl = 5, cnt = 3;
    unsigned user_timeout = 30000;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    /* unacknowledged data for this long ends the connection: a dead peer never hangs us */
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
}

void ssh_conn_free(struct ssh_conn *c)
{
    if (!c)
        return;
    if (c->session) {
        ssh_disconnect(c->session);
        ssh_free(c->session);
    }
    free(c->fingerprint);
    free(c->where);
    free(c);
}

const char *ssh_conn_fingerprint(const struct ssh_conn *c)
{
    return c->fingerprint;
}

/* Check the offered host key; store it when allowed. */
static int verify_host_key(struct ssh_conn *c, const char *url, const struct ssh_url *u,
                           const struct ssh_connect_opts *opts, bool *ret_store, char **ret_type,
                           char **ret_b64, struct zp_err *err)
{
    ssh_key key = NULL;
    char *b64 = NULL, *old = NULL, *want = NULL, *pattern = ssh_host_pattern(u->host, u->port);
    int rc = 0;
    const char *name = opts->name ? opts->name : "NAME";
    if (ssh_get_server_publickey(c->session, &key) != SSH_OK ||
        ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: reading the host key: %s", c->where,
                        ssh_get_error(c->session));
        goto out;
    }
    const char *type = ssh_key_type_to_char(ssh_key_type(key));
    if (!type || ssh_fingerprint_of_blob(b64, &c->fingerprint, err) != 0) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: unsupported host key", c->where);
        goto out;
    }
    enum known k;
    if ((rc = known_lookup(opts->known_hosts, pattern, type, b64, &k, &old, err)) != 0)
        goto out;
    if (opts->fingerprint && (rc = ssh_fingerprint_parse(opts->fingerprint, &want, err)) != 0)
        goto out;
    *ret_store = false;
    if (k == KNOWN_MATCH)
        goto out;
    if (k == KNOWN_CHANGED && !(opts->replace && want && strcmp(want, c->fingerprint) == 0)) {
        rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                        "%s: the host key has CHANGED: zpanel knows %s, the server now offers "
                        "%s; refusing to connect (someone may be intercepting the connection). "
                        "If the server's key was changed on purpose, check the new fingerprint "
                        "on the server (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub) and accept "
                        "it with: zpanel server check %s --fingerprint %s",
                        c->where, old ? old : "another key", c->fingerprint,
                        strncmp(type, "ssh-", 4) == 0 ? type + 4 : "ed25519", name, c->fingerprint);
        goto out;
    }
    if (!want) {
        char *hint = opts->registered ? zp_asprintf("zpanel server check %s --fingerprint %s", name,
                                                    c->fingerprint)
                                      : zp_asprintf("zpanel server add %s %s --fingerprint %s",
                                                    name, url, c->fingerprint);
        rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                        "%s: the host key is not known; its fingerprint is %s. Check it on the "
                        "server (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub) and pass it with "
                        "--fingerprint (%s)",
                        c->where, c->fingerprint,
                        strncmp(type, "ssh-", 4) == 0 ? type + 4 : "ed25519", hint);
        free(hint);
        goto out;
    }
    if (strcmp(want, c->fingerprint) != 0) {
        rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                        "%s: the host key's fingerprint is %s, not %s as given with "
                        "--fingerprint; refusing to connect",
                        c->where, c->fingerprint, want);
        goto out;
    }
    *ret_store = true;
    *ret_type = zp_strdup(type);
    *ret_b64 = zp_strdup(b64);
out:
    ssh_key_free(key);
    ssh_string_free_char(b64);
    free(old);
    free(want);
    free(pattern);
    return rc;
}

int ssh_conn_open(const char *url, const struct ssh_connect_opts *opts, struct ssh_conn **ret,
                  struct zp_err *err)
{
    struct ssh_url u = {0};
    struct ssh_conn *c = NULL;
    ssh_key id = NULL;
    char *type = NULL, *b64 = NULL;
    bool store = false;
    int rc = ssh_url_parse(url, &u, err);
    if (rc != 0)
        return rc;
    pthread_once(&init_once, do_init);
    if (init_rc != SSH_OK) {
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "initialising libssh");
        goto out;
    }
    c = zp_calloc(1, sizeof(*c));
    c->where = u.port == 22 ? zp_strdup(u.host) : zp_asprintf("%s:%d", u.host, u.port);
    if (ssh_pki_import_privkey_file(opts->identity, NULL, NULL, NULL, &id) != SSH_OK) {
        rc = zp_err_set(err, ZP_E_INPUT, NULL,
                        "cannot read the private key '%s' (a key without passphrase is needed)",
                        opts->identity);
        goto out;
    }
    c->session = ssh_new();
    if (!c->session) {
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "creating an SSH session");
        goto out;
    }
    long timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : SSH_CONNECT_TIMEOUT_MS;
    long sec = timeout_ms / 1000, usec = (timeout_ms % 1000) * 1000;
    unsigned port = (unsigned)u.port;
    int no = 0, yes = 1;
    ssh_options_set(c->session, SSH_OPTIONS_PROCESS_CONFIG, &no); /* ~/.ssh/config: not ours */
    ssh_options_set(c->session, SSH_OPTIONS_HOST, u.host);
    ssh_options_set(c->session, SSH_OPTIONS_PORT, &port);
    ssh_options_set(c->session, SSH_OPTIONS_USER, u.user);
    ssh_options_set(c->session, SSH_OPTIONS_TIMEOUT, &sec);
    ssh_options_set(c->session, SSH_OPTIONS_TIMEOUT_USEC, &usec);
    ssh_options_set(c->session, SSH_OPTIONS_NODELAY, &yes);
    /* host key algorithms are preferred by what our known_hosts holds */
    ssh_options_set(c->session, SSH_OPTIONS_KNOWNHOSTS, opts->known_hosts);
    ssh_options_set(c->session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    if (ssh_connect(c->session) != SSH_OK) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: connecting: %s", c->where,
                        ssh_get_error(c->session));
        goto out;
    }
    set_keepalive(ssh_get_fd(c->session));
    if ((rc = verify_host_key(c, url, &u, opts, &store, &type, &b64, err)) != 0)
        goto out;
    int auth = ssh_userauth_publickey(c->session, NULL, id);
    if (auth != SSH_AUTH_SUCCESS) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "%s: authentication as '%s' with the key '%s' was refused%s%s", c->where,
                        u.user, opts->identity, auth == SSH_AUTH_ERROR ? ": " : "",
                        auth == SSH_AUTH_ERROR ? ssh_get_error(c->session) : "");
        goto out;
    }
    if (store) {
        char *pattern = ssh_host_pattern(u.host, u.port);
        rc = known_store(opts->known_hosts, pattern, type, b64, opts->replace, err);
        free(pattern);
        if (rc != 0)
            goto out;
    }
    *ret = c;
    c = NULL;
out:
    ssh_conn_free(c);
    ssh_key_free(id);
    free(type);
    free(b64);
    ssh_url_release(&u);
    return rc;
}

int ssh_host_key_probe(const char *url, const char *known_hosts, char **ret_fp, char **ret_type,
                       bool *ret_known, struct zp_err *err)
{
    struct ssh_url u = {0};
    int rc = ssh_url_parse(url, &u, err);
    if (rc != 0)
        return rc;
    pthread_once(&init_once, do_init);
    ssh_session s = init_rc == SSH_OK ? ssh_new() : NULL;
    ssh_key key = NULL;
    char *b64 = NULL, *old = NULL, *pattern = ssh_host_pattern(u.host, u.port);
    if (!s) {
        rc = zp_err_set(err, ZP_E_SYSTEM, NULL, "creating an SSH session");
        goto out;
    }
    long sec = SSH_CONNECT_TIMEOUT_MS / 1000;
    unsigned port = (unsigned)u.port;
    int no = 0;
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    ssh_options_set(s, SSH_OPTIONS_HOST, u.host);
    ssh_options_set(s, SSH_OPTIONS_PORT, &port);
    ssh_options_set(s, SSH_OPTIONS_USER, u.user);
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &sec);
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known_hosts);
    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    if (ssh_connect(s) != SSH_OK || ssh_get_server_publickey(s, &key) != SSH_OK ||
        ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s:%d: reading the host key: %s", u.host, u.port,
                        ssh_get_error(s));
        goto out;
    }
    const char *type = ssh_key_type_to_char(ssh_key_type(key));
    enum known k = KNOWN_NONE;
    if (!type || ssh_fingerprint_of_blob(b64, ret_fp, err) != 0) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: unsupported host key", u.host);
        goto out;
    }
    if ((rc = known_lookup(known_hosts, pattern, type, b64, &k, &old, err)) != 0) {
        free(*ret_fp);
        *ret_fp = NULL;
        goto out;
    }
    *ret_type = zp_strdup(strncmp(type, "ssh-", 4) == 0 ? type + 4 : type);
    *ret_known = k == KNOWN_MATCH;
out:
    if (s) {
        ssh_disconnect(s);
        ssh_free(s);
    }
    ssh_key_free(key);
    ssh_string_free_char(b64);
    free(old);
    free(pattern);
    ssh_url_release(&u);
    return rc;
}

int ssh_conn_exec(struct ssh_conn *c, const char *command, size_t max, char **ret_out,
                  int *ret_status, struct zp_err *err)
{
    ssh_channel ch = ssh_channel_new(c->session);
    struct zp_buf b;
    zp_buf_init(&b, max);
    int rc = 0;
    if (!ch || ssh_channel_open_session(ch) != SSH_OK ||
        ssh_channel_request_exec(ch, command) != SSH_OK) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: running '%s': %s", c->where, command,
                        ssh_get_error(c->session));
        goto out;
    }
    char buf[4096];
    int64_t deadline = zp_mono_ms() + SSH_CONNECT_TIMEOUT_MS;
    for (;;) {
        int n = ssh_channel_read_timeout(ch, buf, sizeof(buf), 0, 100);
        if (n == SSH_ERROR) {
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: running '%s': %s", c->where, command,
                            ssh_get_error(c->session));
            goto out;
        }
        if (n == 0) {
            /* stderr is dropped, but must be drained: EOF counts only with both empty */
            while (ssh_channel_read_nonblocking(ch, buf, sizeof(buf), 1) > 0)
                ;
            if (ssh_channel_is_eof(ch))
                break;
            if (zp_mono_ms() < deadline)
                continue;
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "%s: running '%s': timed out", c->where,
                            command);
            goto out;
        }
        if (zp_buf_add(&b, buf, (size_t)n) != 0) {
            rc = zp_err_set(err, ZP_E_TOOBIG, NULL, "%s: the output of '%s' passed %zu bytes",
                            c->where, command, max);
            goto out;
        }
    }
    ssh_channel_send_eof(ch);
    *ret_status = ssh_channel_get_exit_status(ch);
    *ret_out = zp_buf_detach(&b, NULL);
out:
    zp_buf_release(&b);
    if (ch) {
        ssh_channel_close(ch);
        ssh_channel_free(ch);
    }
    return rc;
}
