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
#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../backup/plan.h"
#include "../release/backup.h"
#include "cli.h"
#include "s3-opts.h"

#include "../util/banned.h"

static const char *const kind_names[] = {"volume", "bind", "file", "dump"};

static void on_progress(void *ud, enum backup_kind kind, const char *key, const char *text)
{
    cli_progress_note(ud, "%s %s: %s", kind_names[kind], key, text);
}

static bool confirm(const char *what)
{
    fprintf(stderr, "restore replaces %s; continue? [y/N] ", what);
    fflush(stderr);
    char line[64];
    if (fgets(line, sizeof(line), stdin) == NULL)
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

static void on_dump_note(void *ud, const char *text)
{
    cli_progress_note(ud, "%s", text);
}

static void push(const char ***list, size_t *n, const char *v)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], v) == 0)
            return;
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
    char *fetched = NULL; /* an s3:// archive's local copy */
    bool engine_api = false;
    const char **only = NULL;
    size_t nonly = 0;
    bool yes = false;
    int c;
    int rc = 0;
    while ((c = getopt_long(argc, argv, ":yh", opts, NULL)) != -1) {
        switch (c) {
        case 'V':
            push(&only, &nonly, optarg);
            break;
        case 'y':
            yes = true;
            break;
        case 'A':
            engine_api = true;
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

    /* the whole archive is checked before anything is touched */
    struct zp_err err;
    zp_err_init(&err);
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    struct backup_plan plan;
    memset(&plan, 0, sizeof(plan));
    struct cli_session s;
    memset(&s, 0, sizeof(s));
    struct backup_volume *vols = NULL;
    size_t nvols = 0;
    const char **affected = NULL, **running = NULL, **stopped = NULL;
    size_t naffected = 0, nrunning = 0, nstopped = 0;
    struct orch_container *cs = NULL;
    size_t nc = 0;
    struct zp_buf what = ZP_BUF_INIT;
    const char *shown = file;
    if (zp_str_has_prefix(file, "s3://")) {
        /* a verified local copy (its checksum matches the upload's record), removed after */
        struct s3_object_info info;
        if ((rc = cli_s3_fetch(&so, file, &fetched, &info, &err)) != 0) {
            rc = rc == ZP_E_USAGE ? cli_usage_error(&cli_cmd_restore, "%s", err.msg)
                                  : cli_error(&err);
            goto out;
        }
        file = fetched;
    }
    if (backup_verify(file, &m, &err) != 0) {
        if (fetched)
            zp_err_prefix(&err, "%s", shown);
        rc = cli_error(&err);
        goto out;
    }
    for (size_t i = 0; i < nonly; i++) {
        bool found = false;
        for (size_t k = 0; k < m.n && !found; k++)
            found =
                m.sections[k].kind == BACKUP_VOLUME && (strcmp(m.sections[k].key, only[i]) == 0 ||
                                                        strcmp(m.sections[k].name, only[i]) == 0);
        if (!found) {
            rc = cli_usage_error(&cli_cmd_restore, "--volume: archive '%s' has no volume '%s'",
                                 file, only[i]);
            goto out;
        }
    }
    if ((rc = cli_session_open(g, &cli_cmd_restore, NULL, 0, true, &s)) != 0)
        goto out;
    if (backup_plan_build(s.project, NULL, 0, g->env_files, g->nenv_files, true, &plan, &err) !=
        0) {
        rc = cli_error(&err);
        goto out;
    }
    /* each volume of the archive (or of --volume) maps by key to the project's volume */
    vols = zp_calloc(m.n + 1, sizeof(*vols));
    bool has_other = false;
    for (size_t k = 0; k < m.n; k++) {
        const struct backup_section *sec = &m.sections[k];
        if (sec->kind != BACKUP_VOLUME) {
            has_other = true;
            continue;
        }
        bool wanted = nonly == 0;
        for (size_t i = 0; i < nonly && !wanted; i++)
            wanted = strcmp(sec->key, only[i]) == 0 || strcmp(sec->name, only[i]) == 0;
        if (!wanted)
            continue;
        long v = backup_plan_volume(&plan, sec->key);
        if (v < 0) {
            zp_err_set(&err, ZP_E_INPUT, NULL,
                       "volume '%s' of the archive is not a volume of project '%s'; choose "
                       "others with --volume",
                       sec->key, s.project->name);
            rc = cli_error(&err);
            goto out;
        }
        vols[nvols++] = plan.volumes[v];
        backup_plan_add_users(&plan.volume_users[v], &affected, &naffected);
        zp_buf_addf(&what, "%svolume '%s'", what.len ? ", " : "", plan.volumes[v].name);
    }
    bool others = nonly == 0 && has_other;
    /* only what the project declares: its bind mounts, its compose and env files */
    for (size_t k = 0; others && k < m.n; k++) {
        const struct backup_section *sec = &m.sections[k];
        const struct backup_path *list = sec->kind == BACKUP_BIND ? plan.binds : plan.files;
        size_t n = sec->kind == BACKUP_BIND ? plan.nbinds : plan.nfiles;
        bool found = sec->kind == BACKUP_VOLUME || sec->kind == BACKUP_DUMP;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(list[i].key, sec->key) == 0;
        if (!found) {
            zp_err_set(&err, ZP_E_INPUT, NULL,
                       "archive '%s': %s '%s' is not %s of project '%s'; refusing to write it "
                       "(nothing was changed; --volume restores volumes alone)",
                       file, sec->kind == BACKUP_BIND ? "bind directory" : "file", sec->key,
                       sec->kind == BACKUP_BIND ? "a bind mount of a service"
                                                : "a compose or env file",
                       s.project->name);
            rc = cli_error(&err);
            goto out;
        }
    }
    for (size_t k = 0; others && k < m.n; k++)
        if (m.sections[k].kind == BACKUP_DUMP)
            zp_buf_addf(&what, "%sthe data of database service '%s'", what.len ? ", " : "",
                        m.sections[k].key);
    if (others) {
        for (size_t i = 0; i < plan.nbinds; i++)
            backup_plan_add_users(&plan.bind_users[i], &affected, &naffected);
        zp_buf_addf(&what, "%sbind directories and files in '%s'", what.len ? ", " : "",
                    plan.project_dir);
    }
    if (!yes) {
        if (!isatty(0) || !isatty(2)) {
            rc = cli_usage_error(&cli_cmd_restore,
                                 "restore replaces %s: pass --yes to confirm (there is no "
                                 "terminal to ask on)",
                                 zp_buf_cstr(&what));
            goto out;
        }
        if (!confirm(zp_buf_cstr(&what))) {
            fprintf(stderr, "zpanel: restore cancelled\n");
            rc = ZP_EXIT_RUNTIME;
            goto out;
        }
    }
    if (naffected > 0) {
        if (orch_ps(s.orch, affected, naffected, true, &cs, &nc, &err) != 0) {
            rc = cli_error(&err);
            goto out;
        }
        for (size_t i = 0; i < naffected; i++) {
            bool run = false, any = false;
            for (size_t k = 0; k < nc; k++) {
                if (cs[k].oneoff || strcmp(cs[k].service, affected[i]) != 0)
                    continue;
                any = true;
                run = run || strcmp(cs[k].state, "running") == 0;
            }
            if (run)
                push(&running, &nrunning, affected[i]);
            else if (any)
                push(&stopped, &nstopped, affected[i]);
        }
        /* the archive API cannot delete files: the volumes are created again, so the
         * containers holding them go */
        struct orch_action_opts ao = {
            .services = affected, .nservices = naffected, .timeout_s = -1, .force = true};
        if ((nrunning && orch_act(s.orch, ORCH_STOP, &ao, &err) != 0) ||
            ((nrunning || nstopped) && orch_act(s.orch, ORCH_RM, &ao, &err) != 0)) {
            rc = cli_error(&err);
            goto back;
        }
    }
    struct backup_restore_spec spec = {
        .project = s.project->name,
        .project_dir = plan.project_dir,
        .images = (const char *const *)plan.images,
        .nimages = plan.nimages,
        .volumes = vols,
        .nvolumes = nvols,
        .binds = plan.binds,
        .nbinds = others ? plan.nbinds : 0,
        .files = plan.files,
        .nfiles = others ? plan.nfiles : 0,
        .engine_api = engine_api,
        .volumes_only = !others,
        .manifest = &m,
    };
    if (backup_restore(orch_engine(s.orch), file, &spec, on_progress, s.progress, &err) != 0)
        rc = cli_error(&err);
back:
    /* bring the services back as they were: running ones started, stopped ones created */
    for (int pass = 0; pass < 2; pass++) {
        const char **list = pass == 0 ? running : stopped;
        size_t n = pass == 0 ? nrunning : nstopped;
        if (n == 0)
            continue;
        struct orch_up_opts uo;
        memset(&uo, 0, sizeof(uo));
        uo.services = list;
        uo.nservices = n;
        uo.no_deps = true;
        uo.no_start = pass == 1;
        uo.pull = ORCH_PULL_NEVER;
        struct zp_err uerr;
        zp_err_init(&uerr);
        if (orch_up(s.orch, &uo, &uerr) != 0) {
            int urc = cli_error(&uerr);
            if (rc == 0)
                rc = urc;
        }
    }
    /* the database dumps load into their running services, once these are back */
    if (rc == 0 && others &&
        release_restore_dumps(s.orch, s.project, file, &m, 60, on_dump_note, s.progress, &err) != 0)
        rc = cli_error(&err);
    if (rc == 0) {
        cli_progress_done(s.progress);
        printf("restored '%s' (written %s from project '%s'): %s\n", shown, m.created, m.project,
               zp_buf_cstr(&what));
    }
out:
    orch_containers_free(cs, nc);
    zp_buf_release(&what);
    free(vols);
    free(affected);
    free(running);
    free(stopped);
    free(only);
    backup_plan_release(&plan);
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
