/* cli/backup: `backup [--output FILE | --to s3://BUCKET/PREFIX] [--stop] [SERVICE...]`
 * writes one archive of the project's volumes, bind data and files; `backup verify
 * FILE|s3://...` checks one; `backup list --from s3://BUCKET/PREFIX` lists them. */
#define _GNU_SOURCE
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../backup/backup.h"
#include "../engine/engine.h"
#include "../orchestrator/orchestrator.h"
#include "../release/backup.h"
#include "cli.h"
#include "s3-opts.h"

#include "../util/banned.h"

static const char *const kind_names[] = {"volume", "bind", "file", "dump"};

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

static void on_note(void *ud, const char *text)
{
    cli_progress_note(ud, "%s", text);
}

static int verify_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        CLI_S3_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    static const struct cli_cmd verify_cmd = {.name = "backup verify",
                                              .usage = "FILE | s3://BUCKET/KEY " CLI_S3_USAGE,
                                              .summary = "check an archive and its checksums"};
    struct cli_s3_opts so = {0};
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(&verify_cmd);
        if (cli_s3_opt(&so, c, optarg))
            continue;
        return cli_getopt_error(&verify_cmd, c, argv);
    }
    if (argc - optind != 1)
        return cli_usage_error(&verify_cmd, "verify needs exactly one FILE");
    struct zp_err err;
    zp_err_init(&err);
    const char *file = argv[optind];
    char *tmp = NULL;
    struct s3_object_info info;
    if (zp_str_has_prefix(file, "s3://")) {
        /* the object's checksum first, then the archive's own rules and checksums */
        int rc = cli_s3_fetch(&so, file, &tmp, &info, &err);
        if (rc)
            return rc == ZP_E_USAGE ? cli_usage_error(&verify_cmd, "%s", err.msg) : cli_error(&err);
    }
    struct backup_manifest m;
    int rc = backup_verify(tmp ? tmp : file, &m, &err);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    if (rc != 0) {
        if (zp_str_has_prefix(file, "s3://"))
            zp_err_prefix(&err, "%s", file);
        return cli_error(&err);
    }
    print_manifest("verified", file, &m);
    if (zp_str_has_prefix(file, "s3://"))
        printf("  object %llu bytes, sha256:%s as recorded at upload\n",
               (unsigned long long)info.size, info.sha256);
    backup_manifest_release(&m);
    return ZP_EXIT_OK;
}

static bool has_sum(const struct s3_object *objs, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < n; i++)
        if (strlen(objs[i].key) == kl + strlen(S3_SUM_SUFFIX) &&
            strncmp(objs[i].key, key, kl) == 0 && strcmp(objs[i].key + kl, S3_SUM_SUFFIX) == 0)
            return true;
    return false;
}

static int list_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        CLI_S3_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    static const struct cli_cmd list_cmd = {
        .name = "backup list",
        .usage = "--from s3://BUCKET/PREFIX [--format table|json] " CLI_S3_USAGE,
        .summary = "list the archives under a prefix"};
    struct cli_s3_opts so = {0};
    const char *from = NULL;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
        if (c == 'h')
            return cli_help(&list_cmd);
        if (c == 'f') {
            from = optarg;
        } else if (c == 'F') {
            int rc = cli_parse_format(&list_cmd, optarg, "table", &json);
            if (rc)
                return rc;
        } else if (!cli_s3_opt(&so, c, optarg)) {
            return cli_getopt_error(&list_cmd, c, argv);
        }
    }
    if (argc - optind != 0)
        return cli_usage_error(&list_cmd, "unexpected argument '%s'", argv[optind]);
    if (from == NULL)
        return cli_usage_error(&list_cmd, "--from s3://BUCKET/PREFIX is required");
    struct zp_err err;
    zp_err_init(&err);
    char *bucket = NULL, *prefix = NULL;
    struct s3_client *cl = NULL;
    struct s3_object *objs = NULL;
    size_t n = 0;
    int rc = s3_url_parse(from, &bucket, &prefix, &err);
    if (rc == 0)
        rc = cli_s3_client(&so, &cl, &err);
    if (rc) {
        rc = cli_usage_error(&list_cmd, "%s", err.msg);
        goto out;
    }
    if (s3_list(cl, bucket, prefix, &objs, &n, &err) != 0) {
        rc = cli_error(&err);
        goto out;
    }
    struct zp_buf out = ZP_BUF_INIT;
    if (json)
        zp_buf_addc(&out, '[');
    size_t rows = 0;
    char **cells = NULL;
    for (size_t i = 0; i < n; i++) {
        if (zp_str_has_suffix(objs[i].key, S3_SUM_SUFFIX))
            continue;
        bool verified = has_sum(objs, n, objs[i].key);
        if (json) {
            zp_buf_adds(&out, rows ? ",\n{\"key\":" : "\n{\"key\":");
            cli_json_str(&out, objs[i].key);
            zp_buf_addf(&out,
                        ",\"size\":%llu,\"last_modified\":", (unsigned long long)objs[i].size);
            cli_json_str(&out, objs[i].last_modified);
            zp_buf_addf(&out, ",\"checksum\":%s}", verified ? "true" : "false");
        } else {
            cells = zp_realloc(cells, (rows + 1) * 4 * sizeof(*cells));
            cells[rows * 4] = zp_asprintf("s3://%s/%s", bucket, objs[i].key);
            cells[rows * 4 + 1] = zp_asprintf("%llu", (unsigned long long)objs[i].size);
            cells[rows * 4 + 2] = zp_strdup(objs[i].last_modified);
            cells[rows * 4 + 3] = zp_strdup(verified ? "yes" : "no (not a complete upload)");
        }
        rows++;
    }
    if (json) {
        zp_buf_adds(&out, rows ? "\n]\n" : "]\n");
    } else {
        static const char *const heads[] = {"ARCHIVE", "SIZE", "MODIFIED", "CHECKSUM"};
        size_t w[4];
        cli_table_widths(heads, cells, rows, 4, w);
        cli_table_row(&out, heads, w, 4);
        for (size_t i = 0; i < rows; i++)
            cli_table_row(&out, (const char *const *)cells + i * 4, w, 4);
        for (size_t i = 0; i < rows * 4; i++)
            free(cells[i]);
        free(cells);
    }
    fwrite(out.p, 1, out.len, stdout);
    zp_buf_release(&out);
out:
    s3_objects_free(objs, n);
    s3_client_free(cl);
    free(bucket);
    free(prefix);
    return rc;
}

/* The object key for --to's PREFIX: PREFIX itself when it names an archive (.tar, .tar.gz,
 * .tgz, .tar.zst, .tzst), else PREFIX/<project>-<UTC time>.tar.zst. */
static char *s3_key_for(const char *prefix, const char *project)
{
    static const char *const exts[] = {".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst"};
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (zp_str_has_suffix(prefix, exts[i]) && strlen(prefix) > strlen(exts[i]))
            return zp_strdup(prefix);
    char *name = release_backup_default_name(project);
    size_t n = strlen(prefix);
    char *key = zp_asprintf("%s%s%s", prefix, n == 0 || prefix[n - 1] == '/' ? "" : "/", name);
    free(name);
    return key;
}

static int backup_exec(const struct cli_global *g, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "verify") == 0) {
        setlocale(LC_CTYPE, "C.UTF-8");
        return verify_exec(argc - 1, argv + 1);
    }
    if (argc > 1 && strcmp(argv[1], "list") == 0)
        return list_exec(argc - 1, argv + 1);
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"stop", no_argument, NULL, 's'},
        {"engine-api", no_argument, NULL, 'A'},
        {"to", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        CLI_S3_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    const char *to = NULL;
    struct cli_s3_opts so = {0};
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
        case 'T':
            to = optarg;
            break;
        case 'h':
            return cli_help(&cli_cmd_backup);
        default:
            if (cli_s3_opt(&so, c, optarg))
                break;
            return cli_getopt_error(&cli_cmd_backup, c, argv);
        }
    }
    struct zp_err err;
    zp_err_init(&err);
    enum backup_compression comp;
    if (output && backup_compression_for(output, &comp, &err) != 0)
        return cli_usage_error(&cli_cmd_backup, "%s", err.msg);
    if (output && to)
        return cli_usage_error(&cli_cmd_backup, "--output and --to exclude each other");
    char *bucket = NULL, *prefix = NULL, *key = NULL;
    struct s3_client *s3c = NULL;
    struct s3_object_info info;
    if (to) {
        /* flags, credentials and the bucket are checked before anything is stopped */
        if (s3_url_parse(to, &bucket, &prefix, &err) != 0 || cli_s3_client(&so, &s3c, &err) != 0) {
            free(bucket);
            free(prefix);
            return cli_usage_error(&cli_cmd_backup, "%s", err.msg);
        }
    }
    setlocale(LC_CTYPE, "C.UTF-8"); /* file names in archives are UTF-8 */
    char **services = argv + optind;
    size_t nservices = (size_t)(argc - optind);
    struct cli_session s;
    int rc =
        cli_session_open(g, &cli_cmd_backup, (const char *const *)services, nservices, true, &s);
    if (rc)
        return rc;
    char *out_owned = NULL;
    struct backup_manifest m;
    memset(&m, 0, sizeof(m));
    if (to) {
        key = s3_key_for(prefix, s.project->name);
        if (backup_compression_for(key, &comp, &err) != 0) {
            rc = cli_usage_error(&cli_cmd_backup, "%s", err.msg);
            goto out;
        }
        /* the bucket answers (and the credentials work) before anything is stopped */
        struct s3_object *objs = NULL;
        size_t nobjs = 0;
        if (s3_list(s3c, bucket, key, &objs, &nobjs, &err) != 0) {
            rc = cli_error(&err);
            goto out;
        }
        s3_objects_free(objs, nobjs);
        output = out_owned = zp_asprintf("s3://%s/%s", bucket, key);
    }
    if (output == NULL)
        output = out_owned = release_backup_default_name(s.project->name);
    struct release_backup_opts bo = {
        .s3 = s3c,
        .s3_bucket = bucket,
        .s3_key = key,
        .s3_info = &info,
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
        if (to)
            printf("  object %llu bytes, sha256:%s, verified after upload (s3://%s/%s%s)\n",
                   (unsigned long long)info.size, info.sha256, bucket, key, S3_SUM_SUFFIX);
    }
out:
    backup_manifest_release(&m);
    free(out_owned);
    cli_session_close(&s);
    s3_client_free(s3c);
    free(bucket);
    free(prefix);
    free(key);
    return rc;
}

const struct cli_cmd cli_cmd_backup = {
    .name = "backup",
    .usage = "[-o FILE | --to s3://BUCKET/PREFIX] [--stop] [--engine-api] [SERVICE...] | verify "
             "FILE|s3://BUCKET/KEY | list --from s3://BUCKET/PREFIX (" CLI_S3_USAGE ")",
    .summary = "archive volumes, bind data and files (verify: check one; list: on S3)",
    .exec = backup_exec,
};
