/* cli/app: `zpanel app plan|create|deploy|list|remove`: applications from git
 * repositories (the workflow lives in app/ and release/; this file parses and prints). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../app/app.h"
#include "cli.h"

#include "../util/banned.h"

#define APP_USAGE                                                                                  \
    "plan PATH [--build-pack P] [--port N] [--image KEY=IMAGE...] [--format json]"

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
    static const struct option opts[] = {
        {"build-pack", required_argument, NULL, 'b'}, {"port", required_argument, NULL, 'p'},
        {"image", required_argument, NULL, 'i'},      {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};
    struct app_options o = {0};
    const char **images = NULL;
    bool json = false;
    int c, rc = 0;
    while ((c = getopt_long(argc, argv, ":b:p:i:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o.build_pack = optarg;
            break;
        case 'p':
            if ((rc = parse_port(optarg, &o.port)))
                goto out;
            break;
        case 'i':
            if (!strchr(optarg, '=')) {
                rc = cli_usage_error(&cli_cmd_app, "--image: expected KEY=IMAGE, got '%s'",
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
    if (app_detect(argv[optind], &o, &plan, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    if (json)
        print_plan_json(&plan);
    else
        print_plan_text(&plan);
    app_plan_release(&plan);
out:
    free(images);
    return rc;
}

static int app_exec(const struct cli_global *g, int argc, char **argv)
{
    (void)g;
    if (argc < 2)
        return cli_usage_error(&cli_cmd_app, "app needs a subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
        return cli_help(&cli_cmd_app);
    optind = 0;
    if (strcmp(sub, "plan") == 0)
        return app_plan_cmd(argc - 1, argv + 1);
    return cli_usage_error(&cli_cmd_app, "unknown app subcommand '%s'", sub);
}

const struct cli_cmd cli_cmd_app = {
    .name = "app",
    .usage = APP_USAGE,
    .summary = "apps from git repositories: plan, create, deploy, list, remove",
    .exec = app_exec,
};
