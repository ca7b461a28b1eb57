/* cli/backup: `backup [--output FILE] [--stop] [SERVICE...]` writes one archive of the
 * project's volumes, bind data and files; `backup verify FILE` checks one. */
#define _GNU_SOURCE
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../backup/backup.h"
#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../release/backup.h"
#include "cli.h"

#include "../util/banned.h"

static const char *const kind_names[] = {"volume", "bind", "file"};

static void on_progress(void *ud, enum backup_kind kind, const char *key, const char *text)
{
    cli_progress_note(ud, "%s %s: %s", kind_names[kind], key, text);
}

static void on_note(void *ud, const char *text)
{
    cli_progress_note(ud, "%s", text);
}

static void cancel_engine(void *ud, int signo, unsigned count)
{
    if (count > 0 && signo != SIGWINCH)
        engine_cancel(ud);
}

static void print_manifest(const char *what, const char *file, const struct backup_manifest *m)
{
    uint64_t size = 0;
    size_t n[3] = {0, 0, 0};
    for (size_t i = 0; i < m->n; i++) {
        size += m->sections[i].size;
        n[m->sections[i].kind]++;
    }
    printf("%s '%s': project '%s', %s, %zu volumes, %zu bind directories, %zu files, %llu "
           "bytes\n",
           what, file, m->project, m->created, n[0], n[1], n[2], (unsigned long long)size);
    for (size_t i = 0; i < m->n; i++) {
        const struct backup_section *s = &m->sections[i];
        printf("  %-6s %-24s %12llu bytes %8llu entries  sha256:%s\n", kind_names[s->kind], s->key,
               (unsigned long long)s->size, (unsigned long long)s->files, s->sha256);
    }
}

static int verify_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct cli_cmd verify_cmd = {
        .name = "backup verify", .usage = "FILE", .summary = "check an archive and its checksums"};
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(&verify_cmd);
        return cli_getopt_error(&verify_cmd, c, argv);
    }
    if (argc - optind != 1)
        return cli_usage_error(&verify_cmd, "verify needs exactly one FILE");
    struct zp_err err;
    zp_err_init(&err);
    struct backup_manifest m;
    if (backup_verify(argv[optind], &m, &err) != 0)
        return cli_error(&err);
    print_manifest("verified", argv[optind], &m);
    backup_manifest_release(&m);
    return ZP_EXIT_OK;
}

static int backup_exec(const struct cli_global *g, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "verify") == 0) {
        setlocale(LC_CTYPE, "C.UTF-8");
        return verify_exec(argc - 1, argv + 1);
    }
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"stop", no_argument, NULL, 's'},
        {"engine-api", no_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    bool stop = false;
    bool engine_api = false;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 's':
            stop = true;
            break;
        case 'A':
            engine_api = true;
            break;
        case 'h':
            return cli_help(&cli_cmd_backup);
        default:
            return cli_getopt_error(&cli_cmd_backup, c, argv);
        }
    }
    struct zp_err err;
    zp_err_init(&err);
    enum backup_compression comp;
    if (output && backup_compression_for(output, &comp, &err) != 0)
        return cli_usage_error(&cli_cmd_backup, "%s", err.msg);
    setlocale(LC_CTYPE, "C.UTF-8"); /* file names in archives are UTF-8 */
    char **services = argv + optind;
    size_t nservices = (size_t)(argc - optind);
    struct cli_session s;
    int rc =
        cli_session_open(g, &cli_cmd_backup, (const char *const *)services, nservices, true, &s);
    if (rc)
        return rc;
    char *out_owned = NULL;
    if (output == NULL)
        output = out_owned = release_backup_default_name(s.project->name);
    struct release_backup_opts bo = {
        .output = output,
        .services = (const char *const *)services,
        .nservices = nservices,
        .env_files = g->env_files,
        .nenv_files = g->nenv_files,
        .stop = stop,
        .engine_api = engine_api,
        .note = on_note,
        .progress = on_progress,
        .ud = s.progress,
    };
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    struct engine *e = orch_engine(s.orch);
    if ((rc = cli_signals_start(cancel_engine, e)) == 0) {
        if (release_backup(s.orch, s.project, &bo, &m, &err) != 0)
            rc = cli_error(&err);
        cli_signals_stop();
        engine_cancel_clear(e);
    }
    if (rc == 0) {
        cli_progress_done(s.progress);
        print_manifest("wrote", output, &m);
    }
    backup_manifest_release(&m);
    free(out_owned);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_backup = {
    .name = "backup",
    .usage = "[-o FILE] [--stop] [--engine-api] [SERVICE...] | verify FILE",
    .summary = "archive volumes, bind data and files (verify: check an archive)",
    .exec = backup_exec,
};
