/* cli: the command table and what every command shares (global flags, printing). */
#ifndef ZP_CLI_H
#define ZP_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "../compose/compose.h"
#include "../util/util.h"

/* Flags before the command, compatible with `docker compose`. */
struct cli_global {
    const char **files; /* -f/--file, repeatable */
    size_t nfiles;
    const char *project_name;      /* -p/--project-name */
    const char *project_directory; /* --project-directory */
    const char **env_files;        /* --env-file, repeatable */
    size_t nenv_files;
    const char **profiles; /* --profile, repeatable */
    size_t nprofiles;
    const char *host; /* -H/--host; DOCKER_HOST otherwise */
};

struct cli_cmd {
    const char *name;
    const char *usage;   /* after "zpanel [global flags] NAME " */
    const char *summary; /* one line for `zpanel --help` */
    /* argv[0] is the command name; returns a process exit code (enum zp_exit) */
    int (*exec)(const struct cli_global *g, int argc, char **argv);
};

extern const struct cli_cmd cli_cmd_config;
extern const struct cli_cmd cli_cmd_version;

/* Print a usage error naming the flag, then the command's usage, to stderr; returns
 * ZP_EXIT_USAGE. */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...) ZP_PRINTF(2, 3);

/* Load the project with the global flags; services named on the command line enable their
 * profiles. Prints every diagnostic (warnings and errors) to stderr. Returns 0 and
 * *ret, or an exit code (ZP_EXIT_INVALID for invalid files, ZP_EXIT_RUNTIME for I/O). */
int cli_load_project(const struct cli_global *g, const char *const *services, size_t nservices,
                     bool no_interpolate, struct compose_project **ret);

/* Print diagnostics to stderr, one per line, sorted by position. */
void cli_print_diags(struct zp_diags *d);

#endif
