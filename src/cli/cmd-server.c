/* cli/server: `zpanel server add|list|check|remove` (remote engines over SSH), and the
 * resolution of --server NAME and ssh:// hosts into a tunnel for every other command. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../proxy/proxy.h"
#include "../release/remote.h"
#include "../ssh/ssh.h"
#include "cli.h"

#include "../util/banned.h"

#define DF_COMMAND "df -Pk /var/lib/docker 2>/dev/null || df -Pk /"

#define SERVER_USAGE                                                                               \
    "add NAME ssh://USER@HOST[:PORT] [--identity FILE] [--fingerprint SHA256:...] "                \
    "[--base-dir DIR] | list [--format json] | check NAME [--fingerprint SHA256:...] | remove "    \
    "NAME"

/* ---- the tunnel of other commands ---- */

/* The server of this process's tunnel (g->remote points at .r); the strings are owned. */
static struct {
    struct release_remote r;
    struct ssh_tunnel *t; /* borrowed */
    char *url, *name, *known_hosts, *identity, *base_dir;
} remote;

static void remote_clear(void)
{
    free(remote.url);
    free(remote.name);
    free(remote.known_hosts);
    free(remote.identity);
    free(remote.base_dir);
    memset(&remote, 0, sizeof(remote));
}

/* The identity for an ssh:// host that is not a registered server. */
static char *default_identity(const char *state)
{
    char *p = zp_path_join(state, "ssh/id_ed25519");
    if (zp_file_exists(p))
        return p;
    free(p);
    const char *home = getenv("HOME");
    if (home && *home) {
        p = zp_path_join(home, ".ssh/id_ed25519");
        if (zp_file_exists(p))
            return p;
        free(p);
    }
    return NULL;
}

int cli_ssh_open(struct cli_global *g, struct ssh_tunnel **ret)
{
    *ret = NULL;
    const char *host = g->host && *g->host ? g->host : getenv("DOCKER_HOST");
    bool is_ssh = host && zp_str_has_prefix(host, "ssh://");
    if (!g->server && !is_ssh)
        return 0;
    if (g->server && g->host && *g->host)
        return cli_usage_error(NULL, "--server and -H cannot be used together");
    char *state = zp_state_dir();
    struct ssh_servers servers = {0};
    char *kh = ssh_known_hosts_path(state), *identity = NULL;
    const char *url = host, *name = NULL;
    struct zp_err err;
    zp_err_init(&err);
    int rc = 0;
    if (ssh_servers_load(state, &servers, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    const struct ssh_server *srv = NULL;
    if (g->server) {
        if (!(srv = ssh_servers_find(&servers, g->server))) {
            rc = cli_usage_error(NULL, "--server: no server named '%s' (see zpanel server list)",
                                 g->server);
            goto out;
        }
    } else {
        for (size_t i = 0; i < servers.n && !srv; i++)
            if (strcmp(servers.items[i].url, host) == 0)
                srv = &servers.items[i];
    }
    if (srv) {
        url = srv->url;
        name = srv->name;
        identity = zp_strdup(srv->identity);
    } else if (!(identity = default_identity(state))) {
        fprintf(stderr,
                "zpanel: host '%s': no SSH key: add the server with `zpanel server add NAME %s "
                "--fingerprint SHA256:...` (or put a key in ~/.ssh/id_ed25519)\n",
                host, host);
        rc = ZP_EXIT_RUNTIME;
        goto out;
    }
    struct ssh_connect_opts o = {
        .known_hosts = kh, .identity = identity, .name = name, .registered = srv != NULL};
    if (ssh_tunnel_open(url, name, &o, ret, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    g->host = ssh_tunnel_host(*ret);
    /* code that reads DOCKER_HOST itself (engine_new(NULL)) goes through the tunnel too */
    setenv("DOCKER_HOST", g->host, 1);
    remote_clear();
    remote.url = zp_strdup(url);
    remote.name = name ? zp_strdup(name) : NULL;
    remote.known_hosts = zp_strdup(kh);
    remote.identity = zp_strdup(identity);
    remote.base_dir = srv && srv->base_dir ? zp_strdup(srv->base_dir) : NULL;
    remote.r = (struct release_remote){.url = remote.url,
                                       .name = remote.name,
                                       .known_hosts = remote.known_hosts,
                                       .identity = remote.identity,
                                       .base_dir = remote.base_dir};
    remote.t = *ret;
    g->remote = &remote.r;
    /* `proxy up` and rollouts reach the server's proxy through the tunnel too */
    if (release_remote_proxy_register(&remote.r, *ret, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
out:
    ssh_servers_release(&servers);
    free(identity);
    free(kh);
    free(state);
    return rc;
}

int cli_remote_prepare(const struct cli_global *g, const struct cli_cmd *cmd, struct cli_session *s)
{
    static const char *const syncing[] = {"up", "run", "update", "rebuild", "watch", NULL};
    bool sync = false;
    for (size_t i = 0; cmd && syncing[i] && !sync; i++)
        sync = strcmp(cmd->name, syncing[i]) == 0;
    struct ssh_sync_stats st;
    memset(&st, 0, sizeof(st));
    struct zp_err err;
    zp_err_init(&err);
    if (release_remote_prepare(s->project, g->remote, sync ? remote.t : NULL, &st, &err) != 0)
        return cli_error(&err);
    if (sync && s->progress && (st.sent > 0 || st.removed > 0)) {
        char *dir = release_remote_dir(g->remote, s->project->name);
        cli_progress_note(s->progress,
                          "Synced to %s:%s: %zu of %zu files sent (%llu bytes), %zu removed",
                          g->remote->name ? g->remote->name : g->remote->url, dir, st.sent,
                          st.files, (unsigned long long)st.bytes, st.removed);
        free(dir);
    }
    return 0;
}

void cli_ssh_close(struct ssh_tunnel *t, int rc)
{
    remote_clear();
    release_remote_proxy_forget(t);
    if (!t)
        return;
    char *e = rc != 0 ? ssh_tunnel_error(t) : NULL;
    if (e)
        fprintf(stderr, "zpanel: %s\n", e);
    free(e);
    ssh_tunnel_free(t);
}

/* ---- server add ---- */

static int server_add(int argc, char **argv)
{
    static const struct option opts[] = {
        {"identity", required_argument, NULL, 'i'},
        {"fingerprint", required_argument, NULL, 'F'},
        {"base-dir", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *identity = NULL, *fingerprint = NULL, *base_dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            identity = optarg;
            break;
        case 'F':
            fingerprint = optarg;
            break;
        case 'B':
            base_dir = optarg;
            break;
        case 'h':
            return cli_help(&cli_cmd_server);
        default:
            return cli_getopt_error(&cli_cmd_server, c, argv);
        }
    }
    if (argc - optind != 2)
        return cli_usage_error(&cli_cmd_server, "server add needs NAME and ssh://USER@HOST[:PORT]");
    const char *name = argv[optind], *url = argv[optind + 1];
    char *state = zp_state_dir();
    char *kh = ssh_known_hosts_path(state), *fp = NULL, *pub = NULL, *asked = NULL;
    struct zp_err err;
    zp_err_init(&err);
    int rc = ZP_EXIT_OK;
    /* on a terminal, an unknown host key is shown and the user asked to accept it */
    if (identity && !fingerprint && isatty(STDIN_FILENO) && isatty(STDERR_FILENO) &&
        ssh_server_name_valid(name)) {
        char *type = NULL;
        bool known = false;
        if (ssh_host_key_probe(url, kh, &asked, &type, &known, &err) != 0) {
            zp_err_prefix(&err, "server '%s'", name);
            rc = cli_error(&err);
            goto out;
        }
        if (known) {
            free(asked);
            asked = NULL;
        } else {
            fprintf(stderr,
                    "The host key of %s is not known yet.\n"
                    "Its fingerprint is %s (%s). Compare it with what the server prints for\n"
                    "  ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub\n"
                    "Accept this host key? [y/N] ",
                    url, asked, type, type);
            fflush(stderr);
            char line[16] = "";
            bool yes = fgets(line, sizeof(line), stdin) &&
                       (strcmp(line, "y\n") == 0 || strcmp(line, "yes\n") == 0 ||
                        strcmp(line, "Y\n") == 0);
            if (!yes) {
                fprintf(stderr,
                        "zpanel: server '%s': the host key was not accepted; nothing "
                        "was stored\n",
                        name);
                free(type);
                rc = ZP_EXIT_RUNTIME;
                goto out;
            }
            fingerprint = asked;
        }
        free(type);
    }
    struct ssh_server s = {.name = (char *)name,
                           .url = (char *)url,
                           .identity = (char *)identity,
                           .base_dir = (char *)base_dir};
    if (ssh_server_register(state, &s, fingerprint, &fp, &pub, &err) != 0) {
        rc = err.code == ZP_E_INPUT ? ZP_EXIT_USAGE : ZP_EXIT_RUNTIME;
        fprintf(stderr, "zpanel: %s\n", err.msg);
        goto out;
    }
    if (fp) {
        printf("server '%s' added: %s, host key %s\n", name, url, fp);
    } else {
        char *keypath = zp_asprintf("%s/ssh/keys/%s_ed25519", state, name);
        printf("server '%s' added: %s\n"
               "A key pair was made for it (%s). Install this public key on the server\n"
               "(in ~/.ssh/authorized_keys of the user in the URL):\n\n%s\n\n"
               "then check the server and accept its host key:\n"
               "  zpanel server check %s --fingerprint SHA256:...\n",
               name, url, keypath, pub, name);
        free(keypath);
    }
out:
    free(fp);
    free(pub);
    free(asked);
    free(kh);
    free(state);
    return rc;
}

/* ---- server list, remove ---- */

static int server_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(&cli_cmd_server);
        if (c == 'F') {
            int r = cli_parse_format(&cli_cmd_server, optarg, "table", &json);
            if (r)
                return r;
            continue;
        }
        return cli_getopt_error(&cli_cmd_server, c, argv);
    }
    if (optind != argc)
        return cli_usage_error(&cli_cmd_server, "server list takes no arguments");
    char *state = zp_state_dir();
    struct ssh_servers s = {0};
    struct zp_err err;
    zp_err_init(&err);
    int rc = ZP_EXIT_OK;
    if (ssh_servers_load(state, &s, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    struct zp_buf b;
    zp_buf_init(&b, 0);
    if (json) {
        zp_buf_addc(&b, '[');
        for (size_t i = 0; i < s.n; i++) {
            zp_buf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
            cli_json_str(&b, s.items[i].name);
            zp_buf_adds(&b, ",\"url\":");
            cli_json_str(&b, s.items[i].url);
            zp_buf_adds(&b, ",\"identity\":");
            cli_json_str(&b, s.items[i].identity);
            zp_buf_adds(&b, ",\"base_dir\":");
            cli_json_str(&b, s.items[i].base_dir ? s.items[i].base_dir : SSH_DEFAULT_BASE_DIR);
            zp_buf_addc(&b, '}');
        }
        zp_buf_adds(&b, "]\n");
    } else {
        static const char *const heads[] = {"NAME", "URL", "IDENTITY", "BASE DIR"};
        char **cells = zp_calloc(s.n * 4 + 1, sizeof(*cells));
        for (size_t i = 0; i < s.n; i++) {
            cells[i * 4] = s.items[i].name;
            cells[i * 4 + 1] = s.items[i].url;
            cells[i * 4 + 2] = s.items[i].identity;
            cells[i * 4 + 3] =
                s.items[i].base_dir ? s.items[i].base_dir : (char *)SSH_DEFAULT_BASE_DIR;
        }
        size_t w[4];
        cli_table_widths(heads, cells, s.n, 4, w);
        cli_table_row(&b, heads, w, 4);
        for (size_t i = 0; i < s.n; i++)
            cli_table_row(&b, (const char *const *)cells + i * 4, w, 4);
        free(cells);
    }
    fputs(zp_buf_cstr(&b), stdout);
    zp_buf_release(&b);
out:
    ssh_servers_release(&s);
    free(state);
    return rc;
}

static int server_remove(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return argc == 2 && strcmp(argv[1], "-h") == 0
                   ? cli_help(&cli_cmd_server)
                   : cli_usage_error(&cli_cmd_server, "server remove needs NAME");
    char *state = zp_state_dir();
    struct zp_err err;
    zp_err_init(&err);
    int rc = ZP_EXIT_OK;
    if (ssh_servers_remove(state, argv[1], &err) != 0)
        rc = cli_error(&err);
    else
        printf("server '%s' removed\n", argv[1]);
    free(state);
    return rc;
}

/* ---- server check ---- */

/* The available kilobytes in the last line of `df -Pk` output ("" when unreadable). */
static char *df_free(const char *out)
{
    const char *last = NULL;
    for (const char *p = out; *p; p++)
        if ((p == out || p[-1] == '\n') && *p != '\n')
            last = p;
    if (!last || zp_str_has_prefix(last, "Filesystem"))
        return zp_strdup("unknown");
    /* Filesystem 1024-blocks Used Available Capacity Mounted-on */
    const char *p = last;
    for (int field = 0; field < 3; field++) {
        p += strcspn(p, " \t\n");
        p += strspn(p, " \t");
    }
    size_t n = strcspn(p, " \t\n");
    char *kb = zp_strndup(p, n);
    int64_t v;
    char *res = zp_parse_int64(kb, 0, INT64_MAX / 1024, &v) == 0
                    ? zp_asprintf("%.1f GiB", (double)v / (1024.0 * 1024.0))
                    : zp_strdup("unknown");
    free(kb);
    return res;
}

static int server_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"fingerprint", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *fingerprint = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(&cli_cmd_server);
        if (c == 'F') {
            fingerprint = optarg;
            continue;
        }
        return cli_getopt_error(&cli_cmd_server, c, argv);
    }
    if (argc - optind != 1)
        return cli_usage_error(&cli_cmd_server, "server check needs NAME");
    const char *name = argv[optind];
    char *state = zp_state_dir();
    char *kh = ssh_known_hosts_path(state), *out = NULL, *disk = NULL;
    struct ssh_servers servers = {0};
    struct ssh_conn *conn = NULL;
    struct ssh_tunnel *t = NULL;
    struct engine *e = NULL;
    struct engine_info info;
    memset(&info, 0, sizeof(info));
    struct zp_err err;
    zp_err_init(&err);
    int rc = ZP_EXIT_OK;
    if (ssh_servers_load(state, &servers, &err) != 0)
        goto fail;
    const struct ssh_server *srv = ssh_servers_find(&servers, name);
    if (!srv) {
        zp_err_set(&err, ZP_E_NOTFOUND, NULL, "no server named '%s' (see zpanel server list)",
                   name);
        goto fail;
    }
    struct ssh_connect_opts o = {.known_hosts = kh,
                                 .identity = srv->identity,
                                 .fingerprint = fingerprint,
                                 .replace = fingerprint != NULL,
                                 .name = name,
                                 .registered = true};
    if (ssh_conn_open(srv->url, &o, &conn, &err) != 0) {
        zp_err_prefix(&err, "server '%s'", name);
        goto fail;
    }
    int status = 0;
    if (ssh_conn_exec(conn, DF_COMMAND, 64 * 1024, &out, &status, &err) != 0)
        goto fail;
    disk = df_free(out);
    o.fingerprint = NULL; /* stored now */
    o.replace = false;
    if (ssh_tunnel_open(srv->url, name, &o, &t, &err) != 0)
        goto fail;
    if ((e = engine_new(ssh_tunnel_host(t), &err)) == NULL || engine_connect(e, &err) != 0 ||
        engine_info(e, &info, &err) != 0) {
        char *te = ssh_tunnel_error(t);
        if (te)
            fprintf(stderr, "zpanel: %s\n", te);
        free(te);
        zp_err_prefix(&err, "server '%s': the engine does not answer", name);
        goto fail;
    }
    printf("server:        %s (%s)\n", name, srv->url);
    printf("reachable:     yes, host key %s\n", ssh_conn_fingerprint(conn));
    printf("transport:     %s\n", ssh_tunnel_used_fallback(t)
                                      ? "docker system dial-stdio (forwarding refused)"
                                      : "direct-streamlocal to " SSH_REMOTE_DOCKER_SOCK);
    printf("engine:        %s, API %s\n", info.server_version, engine_api_version(e));
    printf("architecture:  %s, %s, %lld CPUs, %.1f GiB memory\n", info.architecture,
           info.operating_system, (long long)info.ncpu,
           (double)info.mem_total / (1024.0 * 1024.0 * 1024.0));
    printf("free disk:     %s (/var/lib/docker)\n", disk);
    struct engine_container pc;
    memset(&pc, 0, sizeof(pc));
    struct zp_err perr;
    zp_err_init(&perr);
    int prc = engine_container_inspect(e, PROXY_EDGE_NAME, &pc, &perr);
    printf("proxy:         %s\n",
           prc == 0               ? (pc.running ? "running (" PROXY_EDGE_NAME ")"
                                                : "not running (" PROXY_EDGE_NAME " exists, stopped)")
           : prc == ZP_E_NOTFOUND ? "not running (zpanel proxy up starts it)"
                                  : perr.msg);
    if (prc == 0)
        engine_container_release(&pc);
    goto out;
fail:
    rc = cli_error(&err);
out:
    engine_info_release(&info);
    engine_free(e);
    ssh_tunnel_free(t);
    ssh_conn_free(conn);
    ssh_servers_release(&servers);
    free(disk);
    free(out);
    free(kh);
    free(state);
    return rc;
}

static int server_exec(const struct cli_global *g, int argc, char **argv)
{
    (void)g;
    if (argc < 2)
        return cli_usage_error(&cli_cmd_server, "server needs a subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
        return cli_help(&cli_cmd_server);
    optind = 0;
    if (strcmp(sub, "add") == 0)
        return server_add(argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
        return server_list(argc - 1, argv + 1);
    if (strcmp(sub, "check") == 0)
        return server_check(argc - 1, argv + 1);
    if (strcmp(sub, "remove") == 0 || strcmp(sub, "rm") == 0)
        return server_remove(argc - 1, argv + 1);
    return cli_usage_error(&cli_cmd_server, "unknown server subcommand '%s'", sub);
}

const struct cli_cmd cli_cmd_server = {
    .name = "server",
    .usage = SERVER_USAGE,
    .summary = "remote servers over SSH: add, list, check, remove",
    .exec = server_exec,
};
