/* cli/proxy: zpanel's reverse proxy (two Caddy containers on the network `zpanel`):
 * `proxy up`, `proxy down`, `proxy status`, `proxy routes`, `proxy certs`, and
 * `proxy backup` / `proxy restore` of its certificates and settings. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../proxy/proxy.h"
#include "../release/proxy-backup.h"
#include "cli.h"

#include "../util/banned.h"

static int parse_port(const char *flag, const char *s, int64_t min, int *ret)
{
    int64_t v;
    if (zp_parse_int64(s, min, 65535, &v) != 0)
        return cli_usage_error(&cli_cmd_proxy, "%s: '%s' is not a port number (%lld-65535)", flag,
                               s, (long long)min);
    *ret = (int)v;
    return 0;
}

static bool ip_valid(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Open the engine on -H/DOCKER_HOST and check that it answers. */
static int open_engine(const struct cli_global *g, struct engine **ret)
{
    struct zp_err err;
    zp_err_init(&err);
    struct engine *e = NULL;
    if (engine_global_init(&err) < 0 || (e = engine_new(g->host, &err)) == NULL ||
        engine_connect(e, &err) != 0) {
        engine_free(e);
        return cli_error(&err);
    }
    *ret = e;
    return 0;
}

/* Say which HTTPS hosts have no certificate, and why (the last failed issuance). */
static void warn_certs(struct engine *e, const struct proxy_opts *o)
{
    struct proxy_cert *c = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    if (proxy_certs(e, o, PROXY_CERT_WAIT_MS, &c, &n, &err) != 0) {
        fprintf(stderr, "warning: the proxy's certificates: %s\n", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (c[i].error)
            fprintf(stderr, "warning: host '%s': no certificate: %s\n", c[i].host, c[i].error);
        else if (!c[i].not_after)
            fprintf(stderr, "warning: host '%s': no certificate yet (still being obtained)\n",
                    c[i].host);
    }
    proxy_certs_free(c, n);
}

static int proxy_up_exec(const struct cli_global *g, int argc, char **argv, struct proxy_opts *o)
{
    enum { OPT_HTTP = 256, OPT_HTTPS, OPT_IMAGE, OPT_BIND, OPT_EMAIL, OPT_CA, OPT_ROOT };
    static const struct option opts[] = {
        {"http-port", required_argument, NULL, OPT_HTTP},
        {"https-port", required_argument, NULL, OPT_HTTPS},
        {"image", required_argument, NULL, OPT_IMAGE},
        {"bind", required_argument, NULL, OPT_BIND},
        {"acme-email", required_argument, NULL, OPT_EMAIL},
        {"acme-ca", required_argument, NULL, OPT_CA},
        {"acme-ca-root", required_argument, NULL, OPT_ROOT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_HTTP:
            if ((rc = parse_port("--http-port", optarg, 1, &o->http_port)))
                return rc;
            break;
        case OPT_HTTPS:
            if ((rc = parse_port("--https-port", optarg, 0, &o->https_port)))
                return rc;
            break;
        case OPT_IMAGE:
            if (!*optarg)
                return cli_usage_error(&cli_cmd_proxy, "--image: needs an image name");
            o->image = optarg;
            break;
        case OPT_BIND:
            if (!ip_valid(optarg))
                return cli_usage_error(&cli_cmd_proxy, "--bind: '%s' is not an IP address", optarg);
            o->bind_ip = optarg;
            break;
        case OPT_EMAIL:
            o->acme_email = optarg;
            break;
        case OPT_CA:
            o->acme_ca = optarg;
            break;
        case OPT_ROOT:
            o->acme_ca_root = optarg;
            break;
        case 'h':
            return cli_help(&cli_cmd_proxy);
        default:
            return cli_getopt_error(&cli_cmd_proxy, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(&cli_cmd_proxy, "proxy up: unexpected argument '%s'", argv[optind]);
    if (o->https_port == o->http_port)
        return cli_usage_error(&cli_cmd_proxy, "--https-port: %d is the HTTP port too",
                               o->https_port);
    struct zp_err err;
    zp_err_init(&err);
    if (proxy_acme_check(o, &err) != 0)
        return cli_usage_error(&cli_cmd_proxy, "%s", err.msg);
    struct engine *e = NULL;
    if ((rc = open_engine(g, &e)))
        return rc;
    rc = proxy_up(e, o, &err);
    if (rc == 0) {
        char *dir = zp_path_join(o->state_dir, "proxy");
        fprintf(stderr, "proxy running: %s and %s on network %s (admin sockets in %s)\n",
                PROXY_EDGE_NAME, PROXY_ROUTER_NAME, PROXY_NETWORK, dir);
        free(dir);
        warn_certs(e, o);
    }
    engine_free(e);
    return rc ? cli_error(&err) : ZP_EXIT_OK;
}

/* What parse_simple returns after printing the help: nothing more to do. */
#define HELP_SHOWN (-1)

/* Subcommands without flags other than --format and -h: 0, HELP_SHOWN, or an exit code. */
static int parse_simple(int argc, char **argv, bool allow_format, bool *json)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'F':
            if (!allow_format)
                return cli_usage_error(&cli_cmd_proxy, "proxy %s: unknown flag '--format'",
                                       argv[0]);
            if ((rc = cli_parse_format(&cli_cmd_proxy, optarg, "text", json)))
                return rc;
            break;
        case 'h':
            cli_help(&cli_cmd_proxy);
            return HELP_SHOWN;
        default:
            return cli_getopt_error(&cli_cmd_proxy, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(&cli_cmd_proxy, "proxy %s: unexpected argument '%s'", argv[0],
                               argv[optind]);
    return 0;
}

static int proxy_down_exec(const struct cli_global *g, const struct proxy_opts *o)
{
    struct engine *e = NULL;
    int rc = open_engine(g, &e);
    if (rc)
        return rc;
    struct zp_err err;
    zp_err_init(&err);
    rc = proxy_down(e, o, &err);
    engine_free(e);
    if (rc)
        return cli_error(&err);
    fprintf(stderr, "proxy removed\n");
    return ZP_EXIT_OK;
}

/* `proxy backup [-o FILE]` and `proxy restore FILE` (release/proxy-backup). */
static int proxy_archive_exec(const struct cli_global *g, int argc, char **argv,
                              const struct proxy_opts *o, bool restore)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    int c;
    while ((c = getopt_long(argc, argv, restore ? ":h" : ":o:h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(&cli_cmd_proxy);
        if (c == 'o' && !restore)
            output = optarg;
        else
            return cli_getopt_error(&cli_cmd_proxy, c, argv);
    }
    if (restore && argc - optind != 1)
        return cli_usage_error(&cli_cmd_proxy, "proxy restore needs one archive (FILE)");
    if (!restore && optind < argc)
        return cli_usage_error(&cli_cmd_proxy, "proxy backup: unexpected argument '%s'",
                               argv[optind]);
    struct zp_err err;
    zp_err_init(&err);
    char *owned = NULL;
    if (!restore && output == NULL) {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        output = owned = zp_asprintf("zpanel-proxy-%s.tar.zst", stamp);
    }
    enum backup_compression comp;
    if (!restore && backup_compression_for(output, &comp, &err) != 0) {
        free(owned);
        return cli_usage_error(&cli_cmd_proxy, "%s", err.msg);
    }
    struct engine *e = NULL;
    int rc = open_engine(g, &e);
    if (rc) {
        free(owned);
        return rc;
    }
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    if (restore)
        rc = release_proxy_restore(e, o->state_dir, argv[optind], NULL, NULL, &err);
    else
        rc = release_proxy_backup(e, o->state_dir, output, NULL, NULL, &m, &err);
    engine_free(e);
    if (rc) {
        rc = cli_error(&err);
    } else if (restore) {
        fprintf(stderr, "proxy state restored from %s; start it with `zpanel proxy up`\n",
                argv[optind]);
    } else {
        printf("wrote %s\n", output);
        for (size_t i = 0; i < m.n; i++)
            printf("  %-5s %s  %llu bytes  %llu entries  sha256:%s\n",
                   m.sections[i].kind == BACKUP_BIND ? "dir" : "file", m.sections[i].key,
                   (unsigned long long)m.sections[i].size, (unsigned long long)m.sections[i].files,
                   m.sections[i].sha256);
    }
    backup_manifest_release(&m);
    free(owned);
    return rc;
}

static const char *state_word(bool running)
{
    return running ? "running" : "not running";
}

static void time_text(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!t || !gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "-");
}

/* "app.example.com  auto  issuer 'R3'  expires 2027-03-01T00:00:00Z[  error: ...]" */
static char *cert_line(const struct proxy_cert *c)
{
    char exp[32];
    time_text(c->not_after, exp);
    struct zp_buf b = ZP_BUF_INIT;
    zp_buf_addf(&b, "%s  %s  ", c->host, c->tls == PROXY_TLS_INTERNAL ? "internal" : "auto");
    if (c->issuer)
        zp_buf_addf(&b, "issuer '%s'  expires %s", c->issuer, exp);
    else
        zp_buf_adds(&b, "no certificate");
    if (c->error)
        zp_buf_addf(&b, "  last error: %s", c->error);
    char *s = zp_strdup(zp_buf_cstr(&b));
    zp_buf_release(&b);
    return s;
}

/* s as a JSON string, or null when s is NULL. */
static void json_str_or_null(struct zp_buf *b, const char *s)
{
    if (s != NULL)
        cli_json_str(b, s);
    else
        zp_buf_adds(b, "null");
}

static void certs_json(struct zp_buf *b, const struct proxy_cert *c, size_t n)
{
    zp_buf_addc(b, '[');
    for (size_t i = 0; i < n; i++) {
        char exp[32], at[32];
        time_text(c[i].not_after, exp);
        time_text(c[i].error_at, at);
        zp_buf_adds(b, i ? ",{\"host\":" : "{\"host\":");
        cli_json_str(b, c[i].host);
        zp_buf_addf(
            b, ",\"tls\":\"%s\",\"issuer\":", c[i].tls == PROXY_TLS_INTERNAL ? "internal" : "auto");
        json_str_or_null(b, c[i].issuer);
        zp_buf_adds(b, ",\"expires\":");
        json_str_or_null(b, c[i].not_after ? exp : NULL);
        zp_buf_adds(b, ",\"error\":");
        json_str_or_null(b, c[i].error);
        zp_buf_adds(b, ",\"error_at\":");
        json_str_or_null(b, c[i].error_at ? at : NULL);
        zp_buf_addc(b, '}');
    }
    zp_buf_addc(b, ']');
}

/* `proxy certs`: one line per HTTPS host; exit 1 when one has a failed issuance and no
 * valid certificate. */
static int proxy_certs_exec(const struct cli_global *g, const struct proxy_opts *o, bool json)
{
    struct engine *e = NULL;
    int rc = open_engine(g, &e);
    if (rc)
        return rc;
    struct zp_err err;
    zp_err_init(&err);
    struct proxy_cert *c = NULL;
    size_t n = 0;
    rc = proxy_certs(e, o, 0, &c, &n, &err);
    engine_free(e);
    if (rc)
        return cli_error(&err);
    struct zp_buf b = ZP_BUF_INIT;
    if (json) {
        certs_json(&b, c, n);
        zp_buf_addc(&b, '\n');
    }
    bool bad = false;
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        bad = bad || (c[i].error && c[i].not_after <= (int64_t)now);
        if (!json) {
            char *line = cert_line(&c[i]);
            zp_buf_addf(&b, "%s\n", line);
            free(line);
        }
    }
    fputs(zp_buf_cstr(&b), stdout);
    zp_buf_release(&b);
    proxy_certs_free(c, n);
    return bad ? ZP_EXIT_RUNTIME : ZP_EXIT_OK;
}

static int proxy_status_exec(const struct cli_global *g, const struct proxy_opts *o, bool json)
{
    struct engine *e = NULL;
    int rc = open_engine(g, &e);
    if (rc)
        return rc;
    struct zp_err err;
    zp_err_init(&err);
    struct proxy_status st;
    rc = proxy_get_status(e, o, &st, &err);
    struct proxy_cert *certs = NULL;
    size_t ncerts = 0;
    if (rc == 0 && proxy_certs(e, o, 0, &certs, &ncerts, &err) != 0) {
        fprintf(stderr, "warning: the proxy's certificates: %s\n", err.msg);
        zp_err_init(&err);
    }
    engine_free(e);
    if (rc)
        return cli_error(&err);
    char *dir = zp_path_join(o->state_dir, "proxy");
    if (json) {
        struct zp_buf b = ZP_BUF_INIT;
        zp_buf_addf(&b, "{\"edge\":{\"name\":\"%s\",\"running\":%s},", PROXY_EDGE_NAME,
                    st.edge_running ? "true" : "false");
        zp_buf_addf(&b, "\"router\":{\"name\":\"%s\",\"running\":%s},\"image\":", PROXY_ROUTER_NAME,
                    st.router_running ? "true" : "false");
        cli_json_str(&b, st.image);
        zp_buf_addf(&b, ",\"http_port\":%d,\"https_port\":%d,\"routes\":%zu,\"upstreams\":%zu,",
                    st.http_port, st.https_port, st.nroutes, st.nupstreams);
        zp_buf_adds(&b, "\"network\":\"" PROXY_NETWORK "\",\"admin_dir\":");
        cli_json_str(&b, dir);
        zp_buf_adds(&b, ",\"certificates\":");
        certs_json(&b, certs, ncerts);
        zp_buf_adds(&b, "}\n");
        fputs(zp_buf_cstr(&b), stdout);
        zp_buf_release(&b);
    } else {
        printf("edge:       %s (%s)\n", PROXY_EDGE_NAME, state_word(st.edge_running));
        printf("router:     %s (%s)\n", PROXY_ROUTER_NAME, state_word(st.router_running));
        if (st.image) {
            printf("image:      %s\n", st.image);
            printf("http port:  %d\n", st.http_port);
            if (st.https_port > 0)
                printf("https port: %d\n", st.https_port);
            else
                printf("https port: off\n");
        }
        printf("network:    %s\n", PROXY_NETWORK);
        printf("routes:     %zu (%zu upstreams)\n", st.nroutes, st.nupstreams);
        printf("admin:      %s/{edge,router}.sock\n", dir);
        for (size_t i = 0; i < ncerts; i++) {
            char *line = cert_line(&certs[i]);
            printf("https:      %s\n", line);
            free(line);
        }
    }
    proxy_certs_free(certs, ncerts);
    free(dir);
    /* monitors can rely on it: 0 only when both containers run */
    rc = st.edge_running && st.router_running ? ZP_EXIT_OK : ZP_EXIT_RUNTIME;
    proxy_status_release(&st);
    return rc;
}

static int proxy_routes_exec(const struct cli_global *g, const struct proxy_opts *o, bool json)
{
    struct engine *e = NULL;
    int rc = open_engine(g, &e);
    if (rc)
        return rc;
    struct zp_err err;
    zp_err_init(&err);
    char **lines = NULL;
    rc = proxy_routes(e, o, &lines, &err);
    engine_free(e);
    if (rc)
        return cli_error(&err);
    struct zp_buf b = ZP_BUF_INIT;
    if (json)
        zp_buf_addc(&b, '[');
    for (size_t i = 0; lines[i]; i++) {
        if (json) {
            if (i)
                zp_buf_addc(&b, ',');
            cli_json_str(&b, lines[i]);
        } else {
            zp_buf_addf(&b, "%s\n", lines[i]);
        }
        free(lines[i]);
    }
    free(lines);
    if (json)
        zp_buf_adds(&b, "]\n");
    fputs(zp_buf_cstr(&b), stdout);
    zp_buf_release(&b);
    return ZP_EXIT_OK;
}

static int proxy_exec(const struct cli_global *g, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(&cli_cmd_proxy, "proxy needs a subcommand: up, down, status, "
                                               "routes, certs, backup or restore");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
        return cli_help(&cli_cmd_proxy);
    char *state = zp_state_dir(); /* the rule up and down use (util) */
    struct proxy_opts o;
    memset(&o, 0, sizeof(o));
    o.state_dir = state;
    o.image = "caddy:2";
    o.http_port = 80;
    o.https_port = 443;
    /* the subcommand's own flags: getopt starts after the subcommand */
    int sargc = argc - 1;
    char **sargv = argv + 1;
    optind = 1;
    bool json = false;
    int rc;
    if (strcmp(sub, "up") == 0) {
        rc = proxy_up_exec(g, sargc, sargv, &o);
    } else if (strcmp(sub, "backup") == 0 || strcmp(sub, "restore") == 0) {
        rc = proxy_archive_exec(g, sargc, sargv, &o, strcmp(sub, "restore") == 0);
    } else if (strcmp(sub, "down") == 0 || strcmp(sub, "status") == 0 ||
               strcmp(sub, "routes") == 0 || strcmp(sub, "certs") == 0) {
        bool is_down = strcmp(sub, "down") == 0;
        rc = parse_simple(sargc, sargv, !is_down, &json);
        if (rc == HELP_SHOWN)
            rc = ZP_EXIT_OK;
        else if (rc == 0 && is_down)
            rc = proxy_down_exec(g, &o);
        else if (rc == 0 && strcmp(sub, "status") == 0)
            rc = proxy_status_exec(g, &o, json);
        else if (rc == 0 && strcmp(sub, "certs") == 0)
            rc = proxy_certs_exec(g, &o, json);
        else if (rc == 0)
            rc = proxy_routes_exec(g, &o, json);
    } else {
        static const char *const subs[] = {"up",    "down",   "status", "routes",
                                           "certs", "backup", "restore"};
        const char *hint = NULL;
        for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]) && !hint; i++)
            if (zp_edit_distance(sub, subs[i]) <= 2)
                hint = subs[i];
        if (hint)
            rc = cli_usage_error(&cli_cmd_proxy,
                                 "unknown proxy subcommand '%s', did you mean '%s'?", sub, hint);
        else
            rc = cli_usage_error(&cli_cmd_proxy, "unknown proxy subcommand '%s'", sub);
    }
    free(state);
    return rc;
}

const struct cli_cmd cli_cmd_proxy = {
    .name = "proxy",
    .usage = "up [--http-port N] [--https-port N|0] [--image IMAGE] [--bind IP] "
             "[--acme-email ADDR] [--acme-ca URL|staging|production] [--acme-ca-root FILE] | "
             "down | status [--format text|json] | routes [--format text|json] | "
             "certs [--format text|json] | backup [-o FILE] | restore FILE",
    .summary = "run zpanel's reverse proxy (Caddy), show its routes and certificates, back "
               "them up",
    .exec = proxy_exec,
};
