/* cli/main: global flags, the command table and dispatch. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#include "../util/banned.h"

static const struct cli_cmd *const commands[] = {
    &cli_cmd_config,
    &cli_cmd_version,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(FILE *out)
{
    fprintf(out, "usage: zpanel [global flags] COMMAND [flags]\n\n"
                 "Global flags:\n"
                 "  -f, --file FILE            compose file (repeatable; '-' reads stdin)\n"
                 "  -p, --project-name NAME    project name\n"
                 "      --project-directory DIR  project directory\n"
                 "      --env-file FILE        environment file (repeatable)\n"
                 "      --profile NAME         enable a profile (repeatable)\n"
                 "  -H, --host HOST            Docker engine (unix:// or tcp://)\n"
                 "  -h, --help                 this help\n"
                 "  -v, --version              print the version\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("zpanel: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd)
        fprintf(stderr, "usage: zpanel [global flags] %s %s\n", cmd->name, cmd->usage);
    else
        fputs("usage: zpanel [global flags] COMMAND [flags] (see zpanel --help)\n", stderr);
    return ZP_EXIT_USAGE;
}

void cli_print_diags(struct zp_diags *d)
{
    zp_diags_sort(d);
    for (size_t i = 0; i < d->n; i++) {
        char *line = zp_diag_render(&d->items[i]);
        fprintf(stderr, "%s\n", line);
        free(line);
    }
    if (d->dropped)
        fprintf(stderr, "... and %zu more problems\n", d->dropped);
}

int cli_load_project(const struct cli_global *g, const char *const *services, size_t nservices,
                     bool no_interpolate, struct compose_project **ret)
{
    struct compose_options opts;
    memset(&opts, 0, sizeof(opts));
    opts.files = g->files;
    opts.nfiles = g->nfiles;
    opts.project_name = g->project_name;
    opts.project_dir = g->project_directory;
    opts.env_files = g->env_files;
    opts.nenv_files = g->nenv_files;
    opts.profiles = g->profiles;
    opts.nprofiles = g->nprofiles;
    opts.services = services;
    opts.nservices = nservices;
    opts.no_interpolate = no_interpolate;

    struct zp_diags d;
    zp_diags_init(&d);
    int rc = compose_project_load(&opts, ret, &d);
    cli_print_diags(&d);
    if (rc && d.errors == 0)
        fprintf(stderr, "zpanel: cannot load the project\n");
    zp_diags_release(&d);
    if (rc == 0)
        return 0;
    return rc == ZP_E_INPUT || rc == ZP_E_NOTFOUND || rc == ZP_E_TOOBIG ? ZP_EXIT_INVALID
                                                                        : ZP_EXIT_RUNTIME;
}

static void push(const char ***list, size_t *n, const char *v)
{
    *list = zp_realloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"project-name", required_argument, NULL, 'p'},
        {"project-directory", required_argument, NULL, 'D'},
        {"env-file", required_argument, NULL, 'E'},
        {"profile", required_argument, NULL, 'P'},
        {"host", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    struct cli_global g;
    memset(&g, 0, sizeof(g));
    int c;
    int rc = ZP_EXIT_OK;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:f:p:H:hv", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            push(&g.files, &g.nfiles, optarg);
            break;
        case 'p':
            g.project_name = optarg;
            break;
        case 'D':
            g.project_directory = optarg;
            break;
        case 'E':
            push(&g.env_files, &g.nenv_files, optarg);
            break;
        case 'P':
            push(&g.profiles, &g.nprofiles, optarg);
            break;
        case 'H':
            g.host = optarg;
            break;
        case 'h':
            print_help(stdout);
            goto out;
        case 'v':
            printf("zpanel version %s\n", ZP_VERSION);
            goto out;
        case ':':
            rc = cli_usage_error(NULL, "flag '%s' needs a value", argv[optind - 1]);
            goto out;
        default:
            rc = cli_usage_error(NULL, "unknown flag '%s'", argv[optind - 1]);
            goto out;
        }
    }
    if (optind >= argc) {
        print_help(stderr);
        rc = ZP_EXIT_USAGE;
        goto out;
    }
    const char *name = argv[optind];
    const struct cli_cmd *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS && !cmd; i++)
        if (strcmp(commands[i]->name, name) == 0)
            cmd = commands[i];
    if (!cmd) {
        rc = cli_usage_error(NULL, "unknown command '%s'", name);
        goto out;
    }
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0; /* glibc: restart option scanning for the command's own flags */
    rc = cmd->exec(&g, sub_argc, sub_argv);
out:
    free(g.files);
    free(g.env_files);
    free(g.profiles);
    return rc;
}
