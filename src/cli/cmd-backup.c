/* cli/backup: `backup [--output FILE] [--stop] [SERVICE...]` writes one archive of the
 * project's volumes, bind data and files; `backup verify FILE` checks one. */
#define _GNU_SOURCE
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../backup/backup.h"
#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "backup-plan.h"
#include "cli.h"

#include "../util/banned.h"

static const char *const kind_names[] = {"volume", "bind", "file"};

static void on_progress(void *ud, enum backup_kind kind, const char *key, const char *text)
{
    cli_progress_note(ud, "%s %s: %s", kind_names[kind], key, text);
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

static char *default_output(const char *project)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    return zp_asprintf("%s-%s.tar.zst", project, stamp);
}

/* The services among names that have a running container. */
static int running_among(struct orch *o, const char **names, size_t n, const char ***ret,
                         size_t *ret_n, struct zp_err *err)
{
    *ret = NULL;
    *ret_n = 0;
    if (n == 0)
        return 0;
    struct orch_container *cs = NULL;
    size_t nc = 0;
    int rc = orch_ps(o, names, n, false, &cs, &nc, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        bool running = false;
        for (size_t k = 0; k < nc && !running; k++)
            running = !cs[k].oneoff && strcmp(cs[k].service, names[i]) == 0 &&
                      strcmp(cs[k].state, "running") == 0;
        if (running) {
            *ret = zp_realloc(*ret, (*ret_n + 1) * sizeof(**ret));
            (*ret)[(*ret_n)++] = names[i];
        }
    }
    orch_containers_free(cs, nc);
    return 0;
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
    struct backup_plan plan;
    memset(&plan, 0, sizeof(plan));
    char *out_owned = NULL;
    const char **users = NULL, **stopped = NULL;
    size_t nusers = 0, nstopped = 0;
    struct engine *e = orch_engine(s.orch);
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    bool signals = false;
    if (backup_plan_build(s.project, (const char *const *)services, nservices, g->env_files,
                          g->nenv_files, false, &plan, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    for (size_t i = 0; i < plan.nnotes; i++)
        cli_progress_note(s.progress, "%s", plan.notes[i]);
    /* volumes never created (the project was not deployed) hold nothing yet */
    for (size_t i = 0; i < plan.nvolumes; i++) {
        bool exists = false;
        if (engine_volume_exists(e, plan.volumes[i].name, &exists, &err) != 0) {
            rc = cli_error(&err);
            goto out;
        }
        if (!exists) {
            cli_progress_note(s.progress, "volume '%s' does not exist yet, ignoring",
                              plan.volumes[i].name);
            memmove(&plan.volumes[i], &plan.volumes[i + 1],
                    (plan.nvolumes - i - 1) * sizeof(*plan.volumes));
            struct backup_plan_users u = plan.volume_users[i];
            memmove(&plan.volume_users[i], &plan.volume_users[i + 1],
                    (plan.nvolumes - i - 1) * sizeof(*plan.volume_users));
            plan.volume_users[plan.nvolumes - 1] = u; /* still freed by the release */
            plan.nvolumes--;
            i--;
        }
    }
    if (output == NULL)
        output = out_owned = default_output(s.project->name);
    if (stop) {
        for (size_t i = 0; i < plan.nvolumes; i++)
            backup_plan_add_users(&plan.volume_users[i], &users, &nusers);
        for (size_t i = 0; i < plan.nbinds; i++)
            backup_plan_add_users(&plan.bind_users[i], &users, &nusers);
        if (running_among(s.orch, users, nusers, &stopped, &nstopped, &err) != 0) {
            rc = cli_error(&err);
            goto out;
        }
        if (nstopped > 0) {
            struct orch_action_opts ao = {
                .services = stopped, .nservices = nstopped, .timeout_s = -1};
            if (orch_act(s.orch, ORCH_STOP, &ao, &err) != 0) {
                rc = cli_error(&err);
                goto restart;
            }
        }
    }
    if ((rc = cli_signals_start(cancel_engine, e)) != 0)
        goto restart;
    signals = true;
    struct backup_spec spec = {
        .project = s.project->name,
        .images = (const char *const *)plan.images,
        .nimages = plan.nimages,
        .volumes = plan.volumes,
        .nvolumes = plan.nvolumes,
        .binds = plan.binds,
        .nbinds = plan.nbinds,
        .files = plan.files,
        .nfiles = plan.nfiles,
        .engine_api = engine_api,
    };
    if (backup_create(e, &spec, output, on_progress, s.progress, &m, &err) != 0)
        rc = cli_error(&err);
    cli_signals_stop();
    signals = false;
    engine_cancel_clear(e);
restart:
    /* the services stopped for the backup run again, whatever happened */
    if (nstopped > 0) {
        struct zp_err serr;
        zp_err_init(&serr);
        struct orch_action_opts ao = {.services = stopped, .nservices = nstopped, .timeout_s = -1};
        if (orch_act(s.orch, ORCH_START, &ao, &serr) != 0) {
            int src = cli_error(&serr);
            if (rc == 0)
                rc = src;
        }
    }
    if (rc == 0) {
        cli_progress_done(s.progress);
        print_manifest("wrote", output, &m);
    }
out:
    if (signals)
        cli_signals_stop();
    backup_manifest_release(&m);
    free(users);
    free(stopped);
    free(out_owned);
    backup_plan_release(&plan);
    cli_session_close(&s);
    return rc;
}

const struct cli_cmd cli_cmd_backup = {
    .name = "backup",
    .usage = "[-o FILE] [--stop] [--engine-api] [SERVICE...] | verify FILE",
    .summary = "archive volumes, bind data and files (verify: check an archive)",
    .exec = backup_exec,
};
