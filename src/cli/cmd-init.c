/* cli/init: install a template as a stack in a directory: system checks (OS and
 * architecture, the engine and its version, the HTTP ports, the firewall: release/init.c
 * runs them, this file prints them), the project's values (flags, or prompts on a
 * terminal), the directory with compose.yaml, .env (0600) and the template's files, then
 * `up -d --wait`, and the generated credentials printed once. A second init keeps every
 * generated value and every file the user may have edited. Rendering and the stored
 * values are template/'s. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../release/init.h"
#include "../store/store.h"
#include "../template/template.h"
#include "cli.h"

#include "../util/banned.h"

/* The checks (release/init.c), one line each; returns false when one must stop the
 * install. */
static bool checks(const struct cli_global *g, const struct compose_env *set, bool first)
{
    struct release_init_opts o = {g->host, set, first};
    struct release_init_check *c = NULL;
    size_t n = 0;
    bool ok = release_init_checks(&o, &c, &n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "check: %s\n", c[i].text);
    release_init_checks_free(c, n);
    return ok;
}

/* Ask for a value on the terminal; NULL at end of input. */
static char *prompt(const char *what)
{
    fprintf(stderr, "%s: ", what);
    fflush(stderr);
    char line[512];
    if (!fgets(line, sizeof(line), stdin))
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    return line[0] ? zp_strdup(line) : NULL;
}

/* On a terminal: ask for each variable of the template (a render that tolerates missing
 * required ones, on a copy of the stored values: nothing is generated for good here). A
 * required one without a value is asked for (an empty answer leaves it missing: the render
 * then names it); an optional one shows its value (stored, or the template's default) and
 * an empty answer keeps it. */
static void ask_values(const struct template_entry *e, const char *project, const char *domain,
                       bool minimal, const struct compose_env *st, struct compose_env *set)
{
    struct compose_env tmp;
    compose_env_init(&tmp);
    for (size_t i = 0; i < st->n; i++)
        compose_env_set(&tmp, st->keys[i], st->vals[i]);
    struct template_render_opts o = {project, domain, minimal, set, true};
    struct template_rendered r;
    struct zp_diags d;
    zp_diags_init(&d);
    if (template_render(e->name, e->text, e->len, &o, &tmp, &r, &d) == 0) {
        for (size_t i = 0; i < r.nvars; i++) {
            const struct template_var *v = &r.vars[i];
            const char *cur = compose_env_get(&r.env, v->name);
            if (compose_env_get(set, v->name) || (v->required && cur))
                continue; /* given with a flag, or a required value kept */
            if (!cur)
                cur = v->def;
            char *q = v->required ? zp_asprintf("%s (required)", v->name)
                                  : zp_asprintf("%s [%s]", v->name, cur ? cur : "");
            char *val = prompt(q);
            free(q);
            if (val)
                compose_env_set(set, v->name, val);
            free(val);
        }
        template_rendered_release(&r);
    }
    zp_diags_release(&d);
    compose_env_release(&tmp);
}

static bool secret_key(const char *k)
{
    return zp_str_has_prefix(k, "SERVICE_PASSWORD") || zp_str_has_prefix(k, "SERVICE_USER_") ||
           zp_str_has_prefix(k, "SERVICE_LOWERCASEUSER_");
}

static int exec_init(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {{"domain", required_argument, NULL, 'd'},
                                         {"email", required_argument, NULL, 'E'},
                                         {"minimal", no_argument, NULL, 'm'},
                                         {"yes", no_argument, NULL, 'y'},
                                         {"set", required_argument, NULL, 's'},
                                         {"project-name", required_argument, NULL, 'p'},
                                         {"no-start", no_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *domain = NULL, *email = NULL, *project = g->project_name;
    bool minimal = false, yes = false, start = true;
    struct compose_env set, st;
    compose_env_init(&set);
    compose_env_init(&st);
    struct template_catalog cat = {NULL, 0};
    char *dir = NULL, *state = NULL, *udir = NULL, *pname = NULL, *compose = NULL;
    struct zp_diags d;
    zp_diags_init(&d);
    int rc = 0, c;
    while ((c = getopt_long(argc, argv, ":d:p:yh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            domain = optarg;
            break;
        case 'E':
            email = optarg;
            break;
        case 'm':
            minimal = true;
            break;
        case 'y':
            yes = true;
            break;
        case 'n':
            start = false;
            break;
        case 'p':
            project = optarg;
            break;
        case 's': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                rc = cli_usage_error(&cli_cmd_init, "--set: '%s' is not KEY=VALUE", optarg);
                goto out;
            }
            char *k = zp_strndup(optarg, (size_t)(eq - optarg));
            compose_env_set(&set, k, eq + 1);
            free(k);
            break;
        }
        case 'h':
            rc = cli_help(&cli_cmd_init);
            goto out;
        default:
            rc = cli_getopt_error(&cli_cmd_init, c, argv);
            goto out;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        rc = cli_usage_error(&cli_cmd_init, "give a template and at most one directory");
        goto out;
    }
    const char *tname = argv[optind];
    dir = zp_path_abs(argc - optind == 2 ? argv[optind + 1] : tname);
    if (!project) {
        const char *base = strrchr(dir, '/');
        pname = zp_strdup(base ? base + 1 : dir);
        for (char *q = pname; *q; q++) {
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');
            else if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' ||
                       *q == '_'))
                *q = '-';
        }
        project = pname;
    }
    if (!store_project_name_valid(project)) {
        rc = cli_usage_error(&cli_cmd_init, "'%s' is not a valid project name: give one with -p",
                             project);
        goto out;
    }
    if (domain && !zp_hostname_valid(domain, false)) {
        rc = cli_usage_error(&cli_cmd_init, "--domain: '%s' is not a host name", domain);
        goto out;
    }
    struct zp_err err;
    zp_err_init(&err);
    state = zp_state_dir();
    udir = template_user_dir(state);
    if (template_catalog_load(udir, &cat, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    const struct template_entry *e = template_catalog_find(&cat, tname);
    if (!e) {
        fprintf(stderr, "zpanel: no template '%s' (see `zpanel template list`)\n", tname);
        rc = ZP_EXIT_RUNTIME;
        goto out;
    }
    if (template_state_load(state, project, &st, NULL, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    bool first = st.n == 0;
    /* the values: flags, then the stored ones, then a prompt on a terminal (before the
     * checks: the ports checked may be the ones just typed) */
    if (domain)
        compose_env_set(&set, "DOMAIN", domain);
    if (email)
        compose_env_set(&set, "EMAIL", email);
    if (!yes && isatty(STDIN_FILENO) && isatty(STDERR_FILENO))
        ask_values(e, project, domain, minimal, &st, &set);
    if (!checks(g, &set, first)) {
        fprintf(stderr, "zpanel: init: a check failed: nothing was changed\n");
        rc = ZP_EXIT_RUNTIME;
        goto out;
    }
    struct template_render_opts o = {project, domain, minimal, &set, false};
    struct template_rendered r;
    if (template_render(e->name, e->text, e->len, &o, &st, &r, &d) != 0) {
        cli_print_diags(&d);
        rc = ZP_EXIT_INVALID;
        goto out;
    }
    if (template_state_save(state, project, &st, &err) != 0 ||
        template_write_project(&r, dir, true, &err) != 0) {
        template_rendered_release(&r);
        rc = cli_error(&err);
        goto out;
    }
    fprintf(stderr, "%s %s in %s (project '%s'%s)\n", first ? "Installed" : "Updated", e->name, dir,
            project, minimal ? ", minimal" : "");
    struct zp_buf creds = ZP_BUF_INIT;
    for (size_t i = 0; i < r.env.n; i++)
        if (secret_key(r.env.keys[i]))
            zp_buf_addf(&creds, "  %s=%s\n", r.env.keys[i], r.env.vals[i]);
    template_rendered_release(&r);
    if (start) {
        compose = zp_path_join(dir, "compose.yaml");
        struct cli_global g2 = *g;
        const char *files[1] = {compose};
        g2.files = files;
        g2.nfiles = 1;
        g2.project_name = project;
        g2.project_directory = dir;
        g2.env_files = NULL;
        g2.nenv_files = 0;
        char *up_argv[] = {(char *)"up",  (char *)"-d", (char *)"--wait", (char *)"--wait-timeout",
                           (char *)"300", NULL};
        optind = 0;
        rc = cli_cmd_up.exec(&g2, 5, up_argv);
        if (rc != 0) {
            fprintf(stderr,
                    "zpanel: init: the stack did not start healthy: see `zpanel -f %s ps` "
                    "and `logs`\n",
                    compose);
            zp_buf_release(&creds);
            goto out;
        }
        fprintf(stderr, "All services are healthy.\n");
    }
    if (first && creds.len) {
        printf("Credentials (shown once; they are kept in %s/.env):\n%s", dir, zp_buf_cstr(&creds));
    } else if (!first) {
        printf("Generated secrets kept as they were (in %s/.env).\n", dir);
    }
    zp_buf_release(&creds);
out:
    zp_diags_release(&d);
    compose_env_release(&set);
    compose_env_release(&st);
    template_catalog_release(&cat);
    free(compose);
    free(dir);
    free(state);
    free(udir);
    free(pname);
    return rc;
}

const struct cli_cmd cli_cmd_init = {
    .name = "init",
    .usage = "TEMPLATE [DIR] [--domain D] [--email E] [--minimal] [--yes] [--set K=V]... "
             "[-p PROJECT] [--no-start]",
    .summary = "install a template as a stack: checks, .env and files, start, credentials",
    .exec = exec_init,
};
