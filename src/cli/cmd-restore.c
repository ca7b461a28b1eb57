/* cli/restore: `restore FILE [--volume NAME...] [--yes]` checks the whole archive, then
 * stops and removes the services using what is restored, replaces volumes, bind data and
 * files, and brings those services back as they were. */
#define _GNU_SOURCE
#include <getopt.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../backup/backup.h"
#include "../release/backup.h"
#include "cli.h"
#include "s3-opts.h"

#include "../util/banned.h"

static const char *const kind_names[] = {"volume", "bind", "file", "dump"};

/* what release_restore's callbacks share */
struct restore_ui {
    struct cli_progress *progress;
    bool yes;         /* --yes */
    bool no_terminal; /* refused: no terminal to ask on */
    char *what;       /* what it would have replaced */
};

static void on_progress(void *ud, enum backup_kind kind, const char *key, const char *text)
{
    cli_progress_note(((struct restore_ui *)ud)->progress, "%s %s: %s", kind_names[kind], key,
                      text);
}

static void on_note(void *ud, const char *text)
{
    cli_progress_note(((struct restore_ui *)ud)->progress, "%s", text);
}

static bool confirm(void *ud, const char *what)
{
    struct restore_ui *ui = ud;
    if (ui->yes)
        return true;
    if (!isatty(0) || !isatty(2)) {
        ui->no_terminal = true;
        ui->what = zp_strdup(what);
        return false;
    }
    fprintf(stderr, "restore replaces %s; continue? [y/N] ", what);
    fflush(stderr);
    char line[64];
    if (fgets(line, sizeof(line), stdin) == NULL)
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

static void push(const char ***list, size_t *n, const char *v)
{
    *list = zp_realloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = v;
}

static int restore_exec(const struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"volume", required_argument, NULL, 'V'},
        {"yes", no_argument, NULL, 'y'},
        {"engine-api", no_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        CLI_S3_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct cli_s3_opts so = {0};
    struct release_restore_opts ro = {.dump_timeout_s = 60};
    struct restore_ui ui = {0};
    const char **only = NULL;
    size_t nonly = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":yh", opts, NULL)) != -1) {
        switch (c) {
        case 'V':
            push(&only, &nonly, optarg);
            break;
        case 'y':
            ui.yes = true;
            break;
        case 'A':
            ro.engine_api = true;
            break;
        case 'h':
            free(only);
            return cli_help(&cli_cmd_restore);
        default:
            if (cli_s3_opt(&so, c, optarg))
                break;
            free(only);
            return cli_getopt_error(&cli_cmd_restore, c, argv);
        }
    }
    if (argc - optind != 1) {
        free(only);
        return cli_usage_error(&cli_cmd_restore, "restore needs exactly one FILE");
    }
    const char *file = argv[optind];
    setlocale(LC_CTYPE, "C.UTF-8"); /* file names in archives are UTF-8 */

    struct zp_err err;
    zp_err_init(&err);
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    struct cli_session s;
    memset(&s, 0, sizeof(s));
    char *fetched = NULL; /* an s3:// archive's local copy */
    char *what = NULL;
    int rc = 0;
    if (zp_str_has_prefix(file, "s3://")) {
        /* a verified local copy (its checksum matches the upload's record), removed after */
        struct s3_object_info info;
        if ((rc = cli_s3_fetch(&so, file, &fetched, &info, &err)) != 0) {
            rc = rc == ZP_E_USAGE ? cli_usage_error(&cli_cmd_restore, "%s", err.msg)
                                  : cli_error(&err);
            goto out;
        }
        ro.shown = file;
    }
    if ((rc = cli_session_open(g, &cli_cmd_restore, NULL, 0, true, &s)) != 0)
        goto out;
    ro.path = fetched ? fetched : file;
    ro.volumes = only;
    ro.nvolumes = nonly;
    ro.env_files = g->env_files;
    ro.nenv_files = g->nenv_files;
    ro.confirm = confirm;
    ro.note = on_note;
    ro.progress = on_progress;
    ui.progress = s.progress;
    ro.ud = &ui;
    rc = release_restore(s.orch, s.project, &ro, &m, &what, &err);
    if (rc == ZP_E_CANCELLED && ui.no_terminal) {
        rc = cli_usage_error(&cli_cmd_restore,
                             "restore replaces %s: pass --yes to confirm (there is no terminal "
                             "to ask on)",
                             ui.what);
    } else if (rc == ZP_E_CANCELLED) {
        fprintf(stderr, "zpanel: restore cancelled\n");
        rc = ZP_EXIT_RUNTIME;
    } else if (rc == ZP_E_USAGE) {
        rc = cli_usage_error(&cli_cmd_restore, "%s", err.msg);
    } else if (rc != 0) {
        rc = cli_error(&err);
    } else {
        cli_progress_done(s.progress);
        printf("restored '%s' (written %s from project '%s'): %s\n", file, m.created, m.project,
               what);
    }
out:
    free(what);
    free(ui.what);
    free(only);
    backup_manifest_release(&m);
    cli_session_close(&s);
    if (fetched)
        unlink(fetched);
    free(fetched);
    return rc;
}

const struct cli_cmd cli_cmd_restore = {
    .name = "restore",
    .usage = "FILE|s3://BUCKET/KEY [--volume NAME...] [--yes] [--engine-api] " CLI_S3_USAGE,
    .summary = "restore volumes, bind data and files from a backup archive",
    .exec = restore_exec,
};
