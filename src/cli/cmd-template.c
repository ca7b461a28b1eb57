/* cli/template: the catalogue of one-click templates (list, show), what one renders to
 * (render) and deploying one as a project (deploy: written under the state directory, then
 * `up -d` on it). The work is template/'s; this file parses flags and prints. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "../template/template.h"
#include "cli.h"

#include "../util/banned.h"

static int load_catalog(struct template_catalog *c)
{
    struct zp_err err;
    zp_err_init(&err);
    char *state = zp_state_dir();
    char *udir = template_user_dir(state);
    int rc = template_catalog_load(udir, c, &err);
    free(udir);
    free(state);
    return rc ? cli_error(&err) : 0;
}

static int cmd_list(int argc, char **argv)
{
    const char *search = NULL;
    bool json = false;
    static const struct option opts[] = {{"search", required_argument, NULL, 's'},
                                         {"format", required_argument, NULL, 'F'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
        if (c == 's')
            search = optarg;
        else if (c == 'F') {
            if (cli_parse_format(&cli_cmd_template, optarg, "table", &json) != 0)
                return ZP_EXIT_USAGE;
        } else if (c == 'h')
            return cli_help(&cli_cmd_template);
        else
            return cli_getopt_error(&cli_cmd_template, c, argv);
    }
    struct template_catalog cat;
    int rc = load_catalog(&cat);
    if (rc)
        return rc;
    struct zp_buf out = ZP_BUF_INIT;
    if (json)
        zp_buf_adds(&out, "[");
    size_t shown = 0;
    for (size_t i = 0; i < cat.n; i++) {
        const struct template_entry *e = &cat.items[i];
        if (e->header.ignore || (search && !template_entry_matches(e, search)))
            continue;
        if (json) {
            zp_buf_adds(&out, shown ? ",{\"name\":" : "{\"name\":");
            cli_json_str(&out, e->name);
            zp_buf_adds(&out, ",\"category\":");
            cli_json_str(&out, e->header.category ? e->header.category : "");
            zp_buf_adds(&out, ",\"slogan\":");
            cli_json_str(&out, e->header.slogan ? e->header.slogan : "");
            zp_buf_adds(&out, ",\"origin\":");
            cli_json_str(&out, e->origin);
            zp_buf_adds(&out, "}");
        } else {
            zp_buf_addf(&out, "%-16s %-10s %s\n", e->name,
                        e->header.category ? e->header.category : "-",
                        e->header.slogan ? e->header.slogan : "");
        }
        shown++;
    }
    if (json)
        zp_buf_adds(&out, "]\n");
    fputs(zp_buf_cstr(&out), stdout);
    zp_buf_release(&out);
    template_catalog_release(&cat);
    return ZP_EXIT_OK;
}

/* A template by name (catalogue) or by path (a file, when the argument names one). */
static int read_template(const char *arg, char **ret_file, char **ret_text, size_t *ret_len,
                         struct template_catalog *cat)
{
    struct zp_err err;
    zp_err_init(&err);
    if (strchr(arg, '/') || zp_str_has_suffix(arg, ".yaml") || zp_str_has_suffix(arg, ".yml")) {
        if (zp_file_read(arg, TEMPLATE_MAX_SIZE, ret_text, ret_len, &err) != 0)
            return cli_error(&err);
        *ret_file = zp_strdup(arg);
        return 0;
    }
    int rc = load_catalog(cat);
    if (rc)
        return rc;
    const struct template_entry *e = template_catalog_find(cat, arg);
    if (!e) {
        fprintf(stderr, "zpanel: no template '%s' (see `zpanel template list`)\n", arg);
        return ZP_EXIT_RUNTIME;
    }
    *ret_file = zp_asprintf("%s.yaml", e->name);
    *ret_text = zp_strndup(e->text, e->len);
    *ret_len = e->len;
    return 0;
}

static int cmd_show(int argc, char **argv)
{
    if (argc != 2)
        return cli_usage_error(&cli_cmd_template, "show: give one template name");
    struct template_catalog cat = {NULL, 0};
    char *file = NULL, *text = NULL;
    size_t len = 0;
    int rc = read_template(argv[1], &file, &text, &len, &cat);
    if (rc == 0)
        fwrite(text, 1, len, stdout);
    free(file);
    free(text);
    template_catalog_release(&cat);
    return rc;
}

struct tflags {
    const char *domain;
    const char *outdir;
    bool minimal;
    bool env;
    bool wait;
    struct compose_env set;
};

/* Flags of render and deploy; *optind_ret is the first operand. */
static int parse_flags(int argc, char **argv, const struct cli_global *g, struct tflags *f,
                       const char **ret_project)
{
    static const struct option opts[] = {{"domain", required_argument, NULL, 'd'},
                                         {"project-name", required_argument, NULL, 'p'},
                                         {"minimal", no_argument, NULL, 'm'},
                                         {"set", required_argument, NULL, 's'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"env", no_argument, NULL, 'e'},
                                         {"wait", no_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    *ret_project = g->project_name;
    int c;
    while ((c = getopt_long(argc, argv, ":d:p:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            f->domain = optarg;
            break;
        case 'p':
            *ret_project = optarg;
            break;
        case 'm':
            f->minimal = true;
            break;
        case 'o':
            f->outdir = optarg;
            break;
        case 'e':
            f->env = true;
            break;
        case 'w':
            f->wait = true;
            break;
        case 's': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg)
                return cli_usage_error(&cli_cmd_template, "--set: '%s' is not KEY=VALUE", optarg);
            char *k = zp_strndup(optarg, (size_t)(eq - optarg));
            compose_env_set(&f->set, k, eq + 1);
            free(k);
            break;
        }
        case 'h':
            return cli_help(&cli_cmd_template);
        default:
            return cli_getopt_error(&cli_cmd_template, c, argv);
        }
    }
    if (f->domain && !zp_hostname_valid(f->domain, false))
        return cli_usage_error(&cli_cmd_template, "--domain: '%s' is not a host name", f->domain);
    return 0;
}

/* Render argv[optind] for project into *r, loading and saving the project's state. */
static int render(const char *arg, const char *project, struct tflags *f, bool save,
                  struct template_rendered *r)
{
    struct template_catalog cat = {NULL, 0};
    char *file = NULL, *text = NULL, *state = NULL;
    size_t len = 0;
    struct compose_env st;
    compose_env_init(&st);
    struct zp_err err;
    zp_err_init(&err);
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = read_template(arg, &file, &text, &len, &cat);
    if (rc)
        goto out;
    state = zp_state_dir();
    if (template_state_load(state, project, &st, NULL, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    struct template_render_opts o = {project, f->domain, f->minimal, &f->set, false};
    if (template_render(file, text, len, &o, &st, r, &d) != 0) {
        cli_print_diags(&d);
        rc = ZP_EXIT_INVALID;
        goto out;
    }
    cli_print_diags(&d); /* warnings */
    if (save && template_state_save(state, project, &st, &err) != 0) {
        template_rendered_release(r);
        rc = cli_error(&err);
    }
out:
    zp_diags_release(&d);
    compose_env_release(&st);
    free(file);
    free(text);
    free(state);
    template_catalog_release(&cat);
    return rc;
}

static int cmd_render(const struct cli_global *g, int argc, char **argv)
{
    struct tflags f = {0};
    compose_env_init(&f.set);
    const char *project = NULL;
    int rc = parse_flags(argc, argv, g, &f, &project);
    if (rc)
        goto out;
    if (optind + 1 != argc) {
        rc = cli_usage_error(&cli_cmd_template, "render: give one template name or file");
        goto out;
    }
    const char *arg = argv[optind];
    char *base = NULL;
    if (!project) {
        const char *slash = strrchr(arg, '/');
        base = zp_strdup(slash ? slash + 1 : arg);
        char *dot = strchr(base, '.');
        if (dot)
            *dot = '\0';
        project = base;
    }
    if (!store_project_name_valid(project)) {
        rc = cli_usage_error(&cli_cmd_template, "-p: '%s' is not a valid project name", project);
        free(base);
        goto out;
    }
    struct template_rendered r;
    /* render keeps the values it generates (a later deploy uses the same ones) */
    rc = render(arg, project, &f, true, &r);
    free(base);
    if (rc)
        goto out;
    struct zp_err err;
    zp_err_init(&err);
    if (f.outdir) {
        /* as deploy: the values stay sealed in the state directory; a .env (in the
         * clear, 0600) only when --env asks for it */
        char *state = zp_state_dir();
        if (template_env_save(state, project, &r.env, &err) != 0 ||
            template_write_project(&r, f.outdir, f.env, &err) != 0)
            rc = cli_error(&err);
        free(state);
    } else {
        struct zp_buf b = ZP_BUF_INIT;
        if (f.env)
            template_rendered_envfile(&r, &b);
        else
            template_rendered_yaml(&r, &b);
        fputs(zp_buf_cstr(&b), stdout);
        zp_buf_release(&b);
    }
    template_rendered_release(&r);
out:
    compose_env_release(&f.set);
    return rc;
}

/* The directory a deployed template's project lives in. */
static char *project_dir(const char *project)
{
    char *state = zp_state_dir();
    char *dir = zp_asprintf("%s/templates/projects/%s", state, project);
    free(state);
    return dir;
}

static int cmd_deploy(const struct cli_global *g, int argc, char **argv)
{
    struct tflags f = {0};
    compose_env_init(&f.set);
    const char *project = NULL;
    char *dir = NULL, *compose = NULL;
    int rc = parse_flags(argc, argv, g, &f, &project);
    if (rc)
        goto out;
    if (optind + 1 != argc) {
        rc = cli_usage_error(&cli_cmd_template, "deploy: give one template name or file");
        goto out;
    }
    const char *arg = argv[optind];
    if (!project)
        project = arg;
    if (!store_project_name_valid(project)) {
        rc = cli_usage_error(&cli_cmd_template, "-p: '%s' is not a valid project name", project);
        goto out;
    }
    struct template_rendered r;
    if ((rc = render(arg, project, &f, true, &r)) != 0)
        goto out;
    struct zp_err err;
    zp_err_init(&err);
    dir = f.outdir ? zp_strdup(f.outdir) : project_dir(project);
    /* no .env: the values stay sealed in the state directory, and cli_load_project gives
     * them to this `up` and to every later command on the project */
    char *state = zp_state_dir();
    int wrc = template_env_save(state, project, &r.env, &err);
    free(state);
    if (wrc != 0 || template_write_project(&r, dir, false, &err) != 0) {
        rc = cli_error(&err);
        template_rendered_release(&r);
        goto out;
    }
    template_rendered_release(&r);
    fprintf(stderr, "Template '%s' written to %s\n", arg, dir);
    /* the same path as `zpanel -f DIR/compose.yaml -p PROJECT up -d` */
    compose = zp_path_join(dir, "compose.yaml");
    struct cli_global g2 = *g;
    const char *files[1] = {compose};
    g2.files = files;
    g2.nfiles = 1;
    g2.project_name = project;
    g2.project_directory = dir;
    char *up_argv[] = {(char *)"up", (char *)"-d", f.wait ? (char *)"--wait" : NULL, NULL};
    optind = 0;
    rc = cli_cmd_up.exec(&g2, f.wait ? 3 : 2, up_argv);
out:
    free(compose);
    free(dir);
    compose_env_release(&f.set);
    return rc;
}

static int exec_template(const struct cli_global *g, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
        return argc < 2 ? cli_usage_error(&cli_cmd_template, "missing subcommand")
                        : cli_help(&cli_cmd_template);
    const char *sub = argv[1];
    if (strcmp(sub, "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    if (strcmp(sub, "render") == 0)
        return cmd_render(g, argc - 1, argv + 1);
    if (strcmp(sub, "deploy") == 0)
        return cmd_deploy(g, argc - 1, argv + 1);
    return cli_usage_error(&cli_cmd_template, "unknown subcommand '%s'", sub);
}

const struct cli_cmd cli_cmd_template = {
    .name = "template",
    .usage =
        "list [--search WORD] [--format table|json]\n"
        "       template show NAME|FILE\n"
        "       template render NAME|FILE [-p PROJECT] [--domain D] [--minimal] [--set K=V]... "
        "[--env] [-o DIR]\n"
        "       template deploy NAME|FILE [-p PROJECT] [--domain D] [--minimal] [--set K=V]... "
        "[--wait] [-o DIR]",
    .summary = "one-click templates (Coolify's format): list, show, render, deploy",
    .exec = exec_template,
};
