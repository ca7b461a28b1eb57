/* ssh/servers: the registry of named servers, STATE/ssh/servers: one "NAME URL IDENTITY
 * [BASE_DIR]" line per server, written atomically (temporary file and rename), mode 0600. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh.h"

#include "../util/banned.h"

bool ssh_server_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > SSH_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (i > 0 && (c == '-' || c == '_' || c == '.'));
        if (!ok)
            return false;
    }
    return true;
}

static char *servers_path(const char *state_dir)
{
    return zp_path_join(state_dir, "ssh/servers");
}

void ssh_servers_release(struct ssh_servers *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].name);
        free(s->items[i].url);
        free(s->items[i].identity);
        free(s->items[i].base_dir);
    }
    free(s->items);
    memset(s, 0, sizeof(*s));
}

int ssh_servers_load(const char *state_dir, struct ssh_servers *ret, struct zp_err *err)
{
    struct ssh_servers s = {0};
    char *path = servers_path(state_dir);
    char *data = NULL;
    size_t len = 0;
    int rc = 0;
    if (!zp_file_exists(path))
        goto done;
    if ((rc = zp_file_read(path, SSH_MAX_FILE, &data, &len, err)) != 0)
        goto out;
    int lineno = 0;
    for (char *line = data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        if (*line && *line != '#') {
            char *f[5] = {NULL, NULL, NULL, NULL, NULL};
            size_t nf = 0;
            for (char *p = line; *p && nf < 5;) {
                while (*p == ' ')
                    p++;
                if (!*p)
                    break;
                char *e = p + strcspn(p, " ");
                f[nf++] = zp_strndup(p, (size_t)(e - p));
                p = e;
            }
            struct ssh_url u;
            struct zp_err uerr;
            zp_err_init(&uerr);
            if (nf < 3 || nf > 4 || !ssh_server_name_valid(f[0]) || (nf == 4 && f[3][0] != '/') ||
                ssh_url_parse(f[1], &u, &uerr) != 0) {
                for (size_t i = 0; i < nf; i++)
                    free(f[i]);
                rc = zp_err_set(err, ZP_E_INPUT, NULL,
                                "%s:%d: invalid server line: expected NAME ssh://USER@HOST[:PORT] "
                                "IDENTITY [/BASE_DIR]",
                                path, lineno);
                goto out;
            }
            ssh_url_release(&u);
            s.items = zp_realloc(s.items, (s.n + 1) * sizeof(*s.items));
            s.items[s.n].name = f[0];
            s.items[s.n].url = f[1];
            s.items[s.n].identity = f[2];
            s.items[s.n].base_dir = f[3];
            s.n++;
        }
        line = nl ? nl + 1 : NULL;
    }
done:
    *ret = s;
    memset(&s, 0, sizeof(s));
out:
    ssh_servers_release(&s);
    free(data);
    free(path);
    return rc;
}

const struct ssh_server *ssh_servers_find(const struct ssh_servers *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].name, name) == 0)
            return &s->items[i];
    return NULL;
}

/* Write the registry, leaving out the entry named skip (may be NULL), adding extra (may be
 * NULL). */
static int servers_write(const char *state_dir, const struct ssh_servers *s, const char *skip,
                         const struct ssh_server *extra, struct zp_err *err)
{
    char *path = servers_path(state_dir);
    char *dir = zp_path_dir(path);
    char *tmp = zp_asprintf("%s.tmp", path);
    struct zp_buf b;
    zp_buf_init(&b, SSH_MAX_FILE);
    int rc = 0, fd = -1;
    if ((rc = zp_mkdir_p(dir, 0700, err)) != 0)
        goto out;
    for (size_t i = 0; i < s->n; i++)
        if (!skip || strcmp(s->items[i].name, skip) != 0)
            zp_buf_addf(&b, "%s %s %s%s%s\n", s->items[i].name, s->items[i].url,
                        s->items[i].identity, s->items[i].base_dir ? " " : "",
                        s->items[i].base_dir ? s->items[i].base_dir : "");
    if (extra &&
        zp_buf_addf(&b, "%s %s %s%s%s\n", extra->name, extra->url, extra->identity,
                    extra->base_dir ? " " : "", extra->base_dir ? extra->base_dir : "") != 0) {
        rc = zp_err_set(err, ZP_E_TOOBIG, NULL, "%s: too many servers", path);
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = zp_err_sys(err, "creating '%s'", tmp);
        goto out;
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t n = write(fd, b.p + off, b.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = zp_err_sys(err, "writing '%s'", tmp);
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        rc = zp_err_sys(err, "writing '%s'", tmp);
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        rc = zp_err_sys(err, "renaming '%s' to '%s'", tmp, path);
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    zp_buf_release(&b);
    free(tmp);
    free(dir);
    free(path);
    return rc;
}

int ssh_servers_add(const char *state_dir, const struct ssh_server *srv, struct zp_err *err)
{
    if (strpbrk(srv->identity, " \t\r\n"))
        return zp_err_set(err, ZP_E_INPUT, NULL, "identity: '%s': a path without spaces is needed",
                          srv->identity);
    if (srv->base_dir && (srv->base_dir[0] != '/' || strpbrk(srv->base_dir, " \t\r\n")))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "base directory: '%s': an absolute path without spaces is needed",
                          srv->base_dir);
    struct ssh_servers s;
    int rc = ssh_servers_load(state_dir, &s, err);
    if (rc != 0)
        return rc;
    if (ssh_servers_find(&s, srv->name))
        rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                        "server '%s' exists already (zpanel server remove %s first)", srv->name,
                        srv->name);
    else
        rc = servers_write(state_dir, &s, NULL, srv, err);
    ssh_servers_release(&s);
    return rc;
}

int ssh_servers_remove(const char *state_dir, const char *name, struct zp_err *err)
{
    struct ssh_servers s;
    int rc = ssh_servers_load(state_dir, &s, err);
    if (rc != 0)
        return rc;
    if (!ssh_servers_find(&s, name))
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "no server named '%s' (see zpanel server list)",
                        name);
    else
        rc = servers_write(state_dir, &s, name, NULL, err);
    ssh_servers_release(&s);
    return rc;
}

int ssh_server_register(const char *state_dir, const struct ssh_server *srv,
                        const char *fingerprint, char **ret_fingerprint, char **ret_public,
                        struct zp_err *err)
{
    *ret_fingerprint = NULL;
    *ret_public = NULL;
    if (!srv->name || !ssh_server_name_valid(srv->name))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "name: '%s' is not a server name: lowercase letters, digits, '-', '_' "
                          "and '.', starting with a letter or digit",
                          srv->name ? srv->name : "");
    struct ssh_url u;
    if (!srv->url)
        return zp_err_set(err, ZP_E_INPUT, NULL, "url: ssh://USER@HOST[:PORT] is required");
    if (ssh_url_parse(srv->url, &u, err) != 0)
        return ZP_E_INPUT;
    ssh_url_release(&u);
    if (srv->base_dir && (srv->base_dir[0] != '/' || strpbrk(srv->base_dir, " \t\r\n")))
        return zp_err_set(err, ZP_E_INPUT, NULL,
                          "base directory: '%s': an absolute path without spaces is needed",
                          srv->base_dir);
    char *fp = NULL;
    if (fingerprint && ssh_fingerprint_parse(fingerprint, &fp, err) != 0)
        return ZP_E_INPUT;
    free(fp);
    char *kh = ssh_known_hosts_path(state_dir), *keypath = NULL, *pub = NULL, *absid = NULL;
    struct ssh_servers servers = {0};
    struct ssh_conn *conn = NULL;
    int rc = ssh_servers_load(state_dir, &servers, err);
    if (rc != 0)
        goto out;
    if (ssh_servers_find(&servers, srv->name)) {
        rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                        "server '%s' exists already (zpanel server remove %s first)", srv->name,
                        srv->name);
        goto out;
    }
    if (srv->identity) {
        /* with a key: prove everything now (host key and login); store only on success */
        absid = zp_path_abs(srv->identity);
        struct ssh_connect_opts o = {
            .known_hosts = kh, .identity = absid, .fingerprint = fingerprint, .name = srv->name};
        if ((rc = ssh_conn_open(srv->url, &o, &conn, err)) != 0) {
            zp_err_prefix(err, "server '%s'", srv->name);
            goto out;
        }
    } else {
        /* a new key pair that the user installs on the server */
        char *dir = zp_path_join(state_dir, "ssh/keys");
        rc = zp_mkdir_p(dir, 0700, err);
        if (rc == 0)
            keypath = zp_asprintf("%s/%s_ed25519", dir, srv->name);
        free(dir);
        if (rc != 0)
            goto out;
        char *comment = zp_asprintf("zpanel-%s", srv->name);
        rc = ssh_keygen_ed25519(keypath, comment, &pub, err);
        free(comment);
        if (rc != 0)
            goto out;
        absid = zp_strdup(keypath);
    }
    struct ssh_server s = *srv;
    s.identity = absid;
    if ((rc = ssh_servers_add(state_dir, &s, err)) != 0)
        goto out;
    if (conn)
        *ret_fingerprint = zp_strdup(ssh_conn_fingerprint(conn));
    *ret_public = pub;
    pub = NULL;
out:
    ssh_conn_free(conn);
    ssh_servers_release(&servers);
    free(keypath);
    free(pub);
    free(absid);
    free(kh);
    return rc;
}
