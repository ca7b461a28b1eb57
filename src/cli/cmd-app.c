/* cli/app: `zpanel app plan|create|deploy|list|remove`: applications from git
 * repositories (the workflow lives in app/ and release/; this file parses and prints). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>
#include <sys/random.h>

#include "../app/app.h"
#include "../release/app-deploy.h"
#include "../ssh/ssh.h"
#include "cli.h"

#include "../util/banned.h"

#define APP_USAGE                                                                                  \
    "plan PATH|URL [--branch B] [--build-pack P] [--port N] [--image KEY=IMAGE...] [--format "     \
    "json] | create NAME "                                                                         \
    "--git URL [--branch B] [--build-pack auto|dockerfile|compose|static|...] [--domain HOST] "    \
    "[--port N] [--publish [IP:]PORT] [--server NAME] [--tls auto|internal|off] "                  \
    "[--proxy caddy|traefik] [--health PATH] [--env K=V...] [--volume NAME:/PATH...] "             \
    "[--image KEY=IMAGE...] "                                                                      \
    "[--memory SIZE] "                                                                             \
    "[--cpus N] [--ssh-key FILE] [--token-file FILE] [--secret S] [--deploy] | deploy NAME "       \
    "[--commit SHA] | list [--format json] | remove NAME [--volumes]"

static void print_plan_text(const struct app_plan *p)
{
    printf("provider:        %s\n", app_provider_name(p->provider));
    if (p->framework)
        printf("framework:       %s\n", p->framework);
    if (p->package_manager)
        printf("package manager: %s\n", p->package_manager);
    if (p->dockerfile_path)
        printf("dockerfile:      %s\n", p->dockerfile_path);
    if (p->compose_path)
        printf("compose file:    %s\n", p->compose_path);
    if (p->install_cmd)
        printf("install:         %s\n", p->install_cmd);
    if (p->build_cmd)
        printf("build:           %s\n", p->build_cmd);
    if (p->start_cmd)
        printf("start:           %s (%s)\n", p->start_cmd, p->start_source);
    if (p->port)
        printf("port:            %d\n", p->port);
    if (p->image)
        printf("image:           %s\n", p->image);
    if (p->runtime_image)
        printf("runtime image:   %s\n", p->runtime_image);
    if (p->dockerfile)
        printf("\n--- Dockerfile ---\n%s", p->dockerfile);
}

static void json_field(struct zp_buf *b, const char *key, const char *v, bool *first)
{
    if (!v)
        return;
    zp_buf_adds(b, *first ? "{" : ",");
    *first = false;
    cli_json_str(b, key);
    zp_buf_addc(b, ':');
    cli_json_str(b, v);
}

static void print_plan_json(const struct app_plan *p)
{
    struct zp_buf b = ZP_BUF_INIT;
    bool first = true;
    json_field(&b, "provider", app_provider_name(p->provider), &first);
    json_field(&b, "framework", p->framework, &first);
    json_field(&b, "packageManager", p->package_manager, &first);
    json_field(&b, "dockerfilePath", p->dockerfile_path, &first);
    json_field(&b, "composePath", p->compose_path, &first);
    json_field(&b, "install", p->install_cmd, &first);
    json_field(&b, "build", p->build_cmd, &first);
    json_field(&b, "start", p->start_cmd, &first);
    json_field(&b, "startSource", p->start_source, &first);
    json_field(&b, "image", p->image, &first);
    json_field(&b, "runtimeImage", p->runtime_image, &first);
    json_field(&b, "dockerfile", p->dockerfile, &first);
    zp_buf_addf(&b, ",\"port\":%d,\"spa\":%s}", p->port, p->spa ? "true" : "false");
    printf("%s\n", zp_buf_cstr(&b));
    zp_buf_release(&b);
}

/* --build-pack, --port, --image: shared by plan and create */
static int parse_port(const char *v, int *ret)
{
    int64_t n;
    if (zp_parse_int64(v, 1, 65535, &n) != 0)
        return cli_usage_error(&cli_cmd_app, "--port: invalid port '%s'", v);
    *ret = (int)n;
    return 0;
}

static int app_plan_cmd(int argc, char **argv)
{
    static const struct option opts[] = {{"build-pack", required_argument, NULL, 'b'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"image", required_argument, NULL, 'i'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"branch", required_argument, NULL, 'B'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct app_options o = {0};
    const char *branch = "main";
    char *tmp = NULL;
    const char **images = NULL;
    bool json = false;
    int c, rc = 0;
    while ((c = getopt_long(argc, argv, ":b:p:i:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o.build_pack = optarg;
            break;
        case 'B':
            branch = optarg;
            break;
        case 'p':
            if ((rc = parse_port(optarg, &o.port)))
                goto out;
            break;
        case 'i':
            if (!app_image_option_valid(optarg)) {
                rc = cli_usage_error(&cli_cmd_app,
                                     "--image: expected PROVIDER=IMAGE or PROVIDER-runtime=IMAGE, "
                                     "got '%s'",
                                     optarg);
                goto out;
            }
            images = zp_realloc(images, (o.nimages + 1) * sizeof(char *));
            images[o.nimages++] = optarg;
            break;
        case 'f':
            if ((rc = cli_parse_format(&cli_cmd_app, optarg, "text", &json)))
                goto out;
            break;
        case 'h':
            rc = cli_help(&cli_cmd_app);
            goto out;
        default:
            rc = cli_getopt_error(&cli_cmd_app, c, argv);
            goto out;
        }
    }
    if (optind + 1 != argc) {
        rc = cli_usage_error(&cli_cmd_app, "app plan needs one PATH");
        goto out;
    }
    o.images = images;
    struct app_plan plan;
    struct zp_err err;
    zp_err_init(&err);
    const char *dir = argv[optind];
    if (app_git_url_valid(dir) && !zp_file_exists(dir)) {
        /* a repository: fetched into a temporary directory, removed afterwards */
        char tmpl[] = "/tmp/zpanel-plan-XXXXXX";
        if (!mkdtemp(tmpl)) {
            zp_err_sys(&err, "creating a temporary directory");
            rc = cli_error(&err);
            goto out;
        }
        tmp = zp_strdup(tmpl);
        char *state = zp_state_dir();
        char *kh = ssh_known_hosts_path(state);
        struct app_git_auth auth = {.token = getenv("ZPANEL_GIT_TOKEN"), .known_hosts = kh};
        char sha[41];
        char *fetch = NULL;
        int grc = app_git_sync(dir, branch, NULL, tmp, &auth, sha, &fetch, &err);
        free(kh);
        free(state);
        if (grc != 0) {
            rc = cli_error(&err);
            goto out;
        }
        fprintf(stderr, "%s: branch %s at commit %s (%s)\n", dir, branch, sha, fetch);
        free(fetch);
        dir = tmp;
    }
    if (app_detect(dir, &o, &plan, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    if (json)
        print_plan_json(&plan);
    else
        print_plan_text(&plan);
    app_plan_release(&plan);
out:
    if (tmp) {
        struct zp_err rerr;
        zp_err_init(&rerr);
        app_rmtree(tmp, &rerr);
        free(tmp);
    }
    free(images);
    return rc;
}

static void add_str(char ***v, size_t *n, const char *s)
{
    *v = zp_realloc(*v, (*n + 1) * sizeof(char *));
    (*v)[(*n)++] = zp_strdup(s);
}

static char *random_secret(void)
{
    unsigned char raw[24];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
        if (r <= 0)
            ZP_BUG("getrandom failed");
        got += (size_t)r;
    }
    char *hex = zp_malloc(2 * sizeof(raw) + 1);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return hex;
}

static int run_deploy(const struct cli_global *g, const char *name, const char *commit)
{
    struct release_opts opts;
    memset(&opts, 0, sizeof(opts));
    struct cli_progress *progress = cli_progress_new(g);
    struct cli_release_run run;
    int rc = cli_release_run_start(&run, g, progress, &opts);
    if (rc == 0) {
        struct release_app_result res;
        struct zp_err err;
        zp_err_init(&err);
        rc = release_app_deploy(name, commit, &opts, &res, &err);
        cli_progress_done(progress);
        if (rc < 0) {
            rc = cli_error(&err);
        } else if (res.release_id) {
            printf("App %s: commit %.12s deployed (%s) as release %" PRId64 "\n", name, res.sha,
                   res.provider, res.release_id);
        } else {
            printf("App %s: commit %.12s (%s) already running\n", name, res.sha, res.provider);
        }
        cli_release_run_stop(&run);
    }
    cli_progress_free(progress);
    return rc;
}

static int app_create_cmd(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {{"git", required_argument, NULL, 'g'},
                                         {"branch", required_argument, NULL, 'B'},
                                         {"build-pack", required_argument, NULL, 'b'},
                                         {"domain", required_argument, NULL, 'd'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"publish", required_argument, NULL, 'P'},
                                         {"server", required_argument, NULL, 'S'},
                                         {"tls", required_argument, NULL, 'T'},
                                         {"proxy", required_argument, NULL, 'x'},
                                         {"health", required_argument, NULL, 'H'},
                                         {"env", required_argument, NULL, 'e'},
                                         {"volume", required_argument, NULL, 'v'},
                                         {"image", required_argument, NULL, 'i'},
                                         {"memory", required_argument, NULL, 'm'},
                                         {"cpus", required_argument, NULL, 'c'},
                                         {"ssh-key", required_argument, NULL, 'k'},
                                         {"token-file", required_argument, NULL, 't'},
                                         {"secret", required_argument, NULL, 's'},
                                         {"deploy", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct app_settings s;
    memset(&s, 0, sizeof(s));
    bool deploy = false;
    int c, rc = 0;
    char *state = NULL;
    struct zp_err err;
    zp_err_init(&err);
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            free(s.git), s.git = zp_strdup(optarg);
            break;
        case 'B':
            free(s.branch), s.branch = zp_strdup(optarg);
            break;
        case 'b':
            free(s.build_pack), s.build_pack = zp_strdup(optarg);
            break;
        case 'd':
            free(s.domain), s.domain = zp_strdup(optarg);
            break;
        case 'p':
            if ((rc = parse_port(optarg, &s.port)))
                goto out;
            break;
        case 'P':
            free(s.publish), s.publish = zp_strdup(optarg);
            break;
        case 'S':
            free(s.server), s.server = zp_strdup(optarg);
            break;
        case 'T':
            free(s.tls), s.tls = zp_strdup(optarg);
            break;
        case 'x':
            free(s.proxy), s.proxy = zp_strdup(optarg);
            break;
        case 'H':
            free(s.health), s.health = zp_strdup(optarg);
            break;
        case 'e':
            add_str(&s.env, &s.nenv, optarg);
            break;
        case 'v':
            add_str(&s.volumes, &s.nvolumes, optarg);
            break;
        case 'i':
            add_str(&s.images, &s.nimages, optarg);
            break;
        case 'm': {
            int64_t bytes;
            if (zp_parse_size(optarg, &bytes) != 0 || bytes < 4 * 1024 * 1024) {
                rc = cli_usage_error(&cli_cmd_app, "--memory: invalid size '%s' (at least 4m)",
                                     optarg);
                goto out;
            }
            free(s.memory), s.memory = zp_strdup(optarg);
            break;
        }
        case 'c': {
            double d;
            if (zp_parse_double(optarg, &d) != 0 || d <= 0 || d > 1024) {
                rc = cli_usage_error(&cli_cmd_app, "--cpus: invalid number '%s'", optarg);
                goto out;
            }
            free(s.cpus), s.cpus = zp_strdup(optarg);
            break;
        }
        case 'k':
            free(s.ssh_key), s.ssh_key = zp_path_abs(optarg);
            break;
        case 't': {
            char *tok = NULL;
            size_t len;
            if (zp_file_read(optarg, 4096, &tok, &len, &err) != 0) {
                rc = cli_error(&err);
                goto out;
            }
            while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
                tok[--len] = '\0';
            free(s.token), s.token = tok;
            break;
        }
        case 's':
            if (strlen(optarg) < 16) {
                rc = cli_usage_error(&cli_cmd_app, "--secret: at least 16 characters");
                goto out;
            }
            free(s.secret), s.secret = zp_strdup(optarg);
            break;
        case 'D':
            deploy = true;
            break;
        case 'h':
            rc = cli_help(&cli_cmd_app);
            goto out;
        default:
            rc = cli_getopt_error(&cli_cmd_app, c, argv);
            goto out;
        }
    }
    if (optind + 1 != argc) {
        rc = cli_usage_error(&cli_cmd_app, "app create needs one NAME");
        goto out;
    }
    if (!s.git) {
        rc = cli_usage_error(&cli_cmd_app, "app create needs --git URL");
        goto out;
    }
    s.name = zp_strdup(argv[optind]);
    if (!s.branch)
        s.branch = zp_strdup("main");
    if (!s.secret)
        s.secret = random_secret();
    if (app_settings_validate(&s, &err) != 0) {
        rc = cli_usage_error(&cli_cmd_app, "%s", err.msg);
        goto out;
    }
    state = zp_state_dir();
    if (app_save(state, &s, true, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    printf("App %s created (git %s, branch %s)\n", s.name, s.git, s.branch);
    printf("Webhook: POST /api/v1/webhooks/{github|gitea|gitlab|bitbucket}/%s with secret %s\n",
           s.name, s.secret);
    if (deploy)
        rc = run_deploy(g, s.name, NULL);
out:
    free(state);
    app_settings_release(&s);
    return rc;
}

static int app_deploy_cmd(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {{"commit", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *commit = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        if (c == 'c')
            commit = optarg;
        else if (c == 'h')
            return cli_help(&cli_cmd_app);
        else
            return cli_getopt_error(&cli_cmd_app, c, argv);
    }
    if (optind + 1 != argc)
        return cli_usage_error(&cli_cmd_app, "app deploy needs one NAME");
    return run_deploy(g, argv[optind], commit);
}

static int app_list_cmd(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
        if (c == 'f') {
            int rc = cli_parse_format(&cli_cmd_app, optarg, "table", &json);
            if (rc)
                return rc;
        } else if (c == 'h') {
            return cli_help(&cli_cmd_app);
        } else {
            return cli_getopt_error(&cli_cmd_app, c, argv);
        }
    }
    if (optind != argc)
        return cli_usage_error(&cli_cmd_app, "app list takes no arguments");
    char *state = zp_state_dir();
    char **names = NULL;
    size_t n = 0;
    struct zp_err err;
    zp_err_init(&err);
    int rc = 0;
    if (app_list(state, &names, &n, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    struct zp_buf b = ZP_BUF_INIT;
    if (json)
        zp_buf_addc(&b, '[');
    else
        zp_buf_addf(&b, "%-20s %-12s %-10s %-30s %s\n", "NAME", "COMMIT", "BRANCH", "DOMAIN",
                    "GIT");
    for (size_t i = 0; i < n; i++) {
        struct app_settings s;
        zp_err_init(&err);
        if (app_load(state, names[i], &s, &err) != 0)
            continue;
        char sha[13];
        snprintf(sha, sizeof(sha), "%.12s", s.commit ? s.commit : "-");
        if (json) {
            zp_buf_adds(&b, b.len > 1 ? ",{\"name\":" : "{\"name\":");
            cli_json_str(&b, s.name);
            zp_buf_adds(&b, ",\"git\":");
            cli_json_str(&b, s.git);
            zp_buf_adds(&b, ",\"branch\":");
            cli_json_str(&b, s.branch ? s.branch : "main");
            zp_buf_adds(&b, ",\"domain\":");
            cli_json_str(&b, s.domain ? s.domain : "");
            zp_buf_adds(&b, ",\"commit\":");
            cli_json_str(&b, s.commit ? s.commit : "");
            zp_buf_addc(&b, '}');
        } else {
            zp_buf_addf(&b, "%-20s %-12s %-10s %-30s %s\n", s.name, sha,
                        s.branch ? s.branch : "main", s.domain ? s.domain : "-", s.git);
        }
        app_settings_release(&s);
    }
    if (json)
        zp_buf_adds(&b, "]\n");
    fputs(zp_buf_cstr(&b), stdout);
    zp_buf_release(&b);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(state);
    return rc;
}

static int app_remove_cmd(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"volumes", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool volumes = false;
    int c;
    while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
        if (c == 'v')
            volumes = true;
        else if (c == 'h')
            return cli_help(&cli_cmd_app);
        else
            return cli_getopt_error(&cli_cmd_app, c, argv);
    }
    if (optind + 1 != argc)
        return cli_usage_error(&cli_cmd_app, "app remove needs one NAME");
    struct release_opts ro;
    memset(&ro, 0, sizeof(ro));
    struct cli_progress *progress = cli_progress_new(g);
    struct cli_release_run run;
    int rc = cli_release_run_start(&run, g, progress, &ro);
    if (rc == 0) {
        struct zp_err err;
        zp_err_init(&err);
        rc = release_app_remove(argv[optind], volumes, &ro, &err);
        cli_progress_done(progress);
        if (rc < 0)
            rc = cli_error(&err);
        else
            printf("App %s removed\n", argv[optind]);
        cli_release_run_stop(&run);
    }
    cli_progress_free(progress);
    return rc;
}

static int app_exec(const struct cli_global *g, int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(&cli_cmd_app, "app needs a subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
        return cli_help(&cli_cmd_app);
    optind = 0;
    if (strcmp(sub, "plan") == 0)
        return app_plan_cmd(argc - 1, argv + 1);
    if (strcmp(sub, "create") == 0)
        return app_create_cmd(g, argc - 1, argv + 1);
    if (strcmp(sub, "deploy") == 0)
        return app_deploy_cmd(g, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
        return app_list_cmd(argc - 1, argv + 1);
    if (strcmp(sub, "remove") == 0 || strcmp(sub, "rm") == 0)
        return app_remove_cmd(g, argc - 1, argv + 1);
    return cli_usage_error(&cli_cmd_app, "unknown app subcommand '%s'", sub);
}

const struct cli_cmd cli_cmd_app = {
    .name = "app",
    .usage = APP_USAGE,
    .summary = "apps from git repositories: plan, create, deploy, list, remove",
    .exec = app_exec,
};
