/* backup/dump: logical dumps of database services through exec in their container, and
 * loading them back (see backup.h for the commands). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup-int.h"

#include "../util/banned.h"

#define ERR_TAIL 2048            /* bytes of a tool's error output kept for the message */
#define PROBE_OUT ((size_t)4096) /* bytes of a probe's or a query's output kept */

static const char *const db_names[] = {"postgres", "mariadb", "mysql", "redis", "mongodb"};

const char *backup_db_name(enum backup_db db)
{
    return db_names[db];
}

int backup_db_parse(const char *s, enum backup_db *ret, struct zp_err *err)
{
    for (size_t i = 0; i < sizeof(db_names) / sizeof(*db_names); i++) {
        if (strcmp(s, db_names[i]) == 0) {
            *ret = (enum backup_db)i;
            return 0;
        }
    }
    return zp_err_set(err, ZP_E_INPUT, NULL,
                      "unknown database type '%s' (use postgres, mariadb, mysql, redis or mongodb)",
                      s);
}

static void push_env(char ***env, size_t *n, char *kv)
{
    *env = zp_realloc(*env, (*n + 2) * sizeof(**env));
    (*env)[(*n)++] = kv;
    (*env)[*n] = NULL;
}

void backup_dump_command(const struct backup_dump *d, int phase, const char *argv[16],
                         char ***ret_env)
{
    size_t n = 0, ne = 0;
    char **env = zp_calloc(1, sizeof(*env));
    const char *pw = d->password;
    switch (d->type) {
    case BACKUP_DB_POSTGRES:
        if (pw)
            push_env(&env, &ne, zp_asprintf("PGPASSWORD=%s", pw));
        if (phase == 0) {
            argv[n++] = "pg_dump";
            argv[n++] = "-Fc";
        } else if (phase == 1) {
            argv[n++] = "pg_restore";
            argv[n++] = "--clean";
            argv[n++] = "--if-exists";
            argv[n++] = "--single-transaction";
            argv[n++] = "--exit-on-error";
        } else {
            argv[n++] = "psql";
            argv[n++] = "-X";
            argv[n++] = "-qAt";
            argv[n++] = "-c";
            argv[n++] = "SELECT 1";
        }
        argv[n++] = "-U";
        argv[n++] = d->user;
        argv[n++] = "-d";
        argv[n++] = d->database;
        break;
    case BACKUP_DB_MARIADB:
    case BACKUP_DB_MYSQL: {
        bool maria = d->type == BACKUP_DB_MARIADB;
        if (pw)
            push_env(&env, &ne, zp_asprintf("MYSQL_PWD=%s", pw));
        if (phase == 0) {
            argv[n++] = maria ? "mariadb-dump" : "mysqldump";
            argv[n++] = "--single-transaction";
            argv[n++] = "--routines";
            argv[n++] = "--events";
            argv[n++] = "--triggers";
        } else {
            argv[n++] = maria ? "mariadb" : "mysql";
        }
        argv[n++] = "-u";
        argv[n++] = d->user;
        if (phase == 0 && d->database) {
            argv[n++] = "--databases";
            argv[n++] = d->database;
        } else if (phase == 0) {
            argv[n++] = "--all-databases";
        } else if (phase == 2) {
            argv[n++] = "-e";
            argv[n++] = "SELECT 1";
        }
        break;
    }
    case BACKUP_DB_MONGODB:
        /* the MongoDB tools read a password from a flag only: a shell puts it there from
         * the exec's environment, so that it is in no command the engine records */
        if (pw) {
            push_env(&env, &ne, zp_asprintf("ZPANEL_MONGO_PASSWORD=%s", pw));
            argv[n++] = "sh";
            argv[n++] = "-c";
            argv[n++] = "exec \"$0\" \"$@\" --password=\"$ZPANEL_MONGO_PASSWORD\"";
        }
        if (phase == 0) {
            argv[n++] = "mongodump";
            argv[n++] = "--archive";
            argv[n++] = "--quiet";
            if (d->database) {
                argv[n++] = "--db";
                argv[n++] = d->database;
            }
        } else if (phase == 1) {
            /* the archive holds what was dumped (one database or all): replace it */
            argv[n++] = "mongorestore";
            argv[n++] = "--archive";
            argv[n++] = "--drop";
            argv[n++] = "--quiet";
        } else {
            argv[n++] = "mongosh";
            argv[n++] = "--quiet";
            argv[n++] = "--eval";
            argv[n++] = "db.adminCommand('ping').ok";
        }
        if (d->user) {
            argv[n++] = "--username";
            argv[n++] = d->user;
            argv[n++] = "--authenticationDatabase";
            argv[n++] = "admin";
        }
        break;
    case BACKUP_DB_REDIS:
        if (pw)
            push_env(&env, &ne, zp_asprintf("REDISCLI_AUTH=%s", pw));
        argv[n++] = "redis-cli";
        if (phase == 0) {
            argv[n++] = "--rdb";
            argv[n++] = "-";
        } else {
            argv[n++] = "PING";
        }
        break;
    }
    argv[n] = NULL;
    *ret_env = env;
}

void backup_dump_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++) {
        explicit_bzero(env[i], strlen(env[i])); /* passwords */
        free(env[i]);
    }
    free(env);
}

/* ---- running a tool in the container ---- */

struct run {
    int out_fd;          /* stdout goes here, or into out */
    struct zp_buf out;   /* capped */
    char tail[ERR_TAIL]; /* the last bytes of stderr (a ring) */
    size_t tail_len, tail_pos;
    uint64_t written;
};

static int on_output(void *ctx, enum engine_stream stream, const char *data, size_t len,
                     struct zp_err *err)
{
    struct run *r = ctx;
    if (stream == ENGINE_STREAM_STDOUT && r->out_fd >= 0) {
        if (zp_write_all(r->out_fd, data, len) != 0)
            return zp_err_sys(err, "writing the dump");
        r->written += len;
        return 0;
    }
    if (stream == ENGINE_STREAM_STDOUT) {
        size_t room = PROBE_OUT - r->out.len;
        zp_buf_add(&r->out, data, len < room ? len : room);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        r->tail[r->tail_pos] = data[i];
        r->tail_pos = (r->tail_pos + 1) % ERR_TAIL;
        if (r->tail_len < ERR_TAIL)
            r->tail_len++;
    }
    return 0;
}

/* The error output kept, as one line ("; " between lines), without control bytes. */
static char *tail_text(const struct run *r)
{
    struct zp_buf b = ZP_BUF_INIT;
    size_t start = r->tail_len < ERR_TAIL ? 0 : r->tail_pos;
    for (size_t i = 0; i < r->tail_len; i++) {
        unsigned char c = (unsigned char)r->tail[(start + i) % ERR_TAIL];
        if (c == '\n') {
            if (b.len && i + 1 < r->tail_len)
                zp_buf_adds(&b, "; ");
        } else if (c >= ' ' && c != 0x7f) {
            zp_buf_addc(&b, (char)c);
        }
    }
    return zp_buf_detach(&b, NULL);
}

/* Run argv with env in container: stdin from in_fd (-1: none), stdout into out_fd or
 * r->out. *ret_code gets the exit code. */
/* The tool argv runs (argv[3] when a shell passes it a password: see MongoDB above). */
static const char *tool_of(const char *const *argv)
{
    return strcmp(argv[0], "sh") == 0 && argv[1] && argv[2] && argv[3] ? argv[3] : argv[0];
}

static int run_tool(struct engine *e, const char *container, const char *const *argv, char **env,
                    int in_fd, struct run *r, int64_t *ret_code, struct zp_err *err)
{
    char *id = NULL;
    struct engine_exec_opts o = {
        .argv = argv, .env = (const char *const *)env, .attach_stdin = in_fd >= 0};
    int rc = engine_exec_create_opts(e, container, &o, &id, err);
    if (rc)
        return rc;
    struct engine_stream_io io = {
        .tty = false, .stdin_fd = in_fd, .on_output = on_output, .ctx = r};
    if ((rc = engine_exec_start(e, id, &io, err)) == 0) {
        struct engine_exec_state st = {0};
        /* the stream ends when the process does; the engine may take a moment to say so */
        for (int i = 0; i < 100 && rc == 0; i++) {
            if ((rc = engine_exec_inspect(e, id, &st, err)) != 0 || !st.running)
                break;
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (rc == 0 && st.running)
            rc = zp_err_set(err, ZP_E_ENGINE, NULL, "'%s' still runs after its output ended",
                            tool_of(argv));
        if (rc == 0)
            *ret_code = st.exit_code;
    }
    free(id);
    return rc;
}

static int tool_failed(const struct backup_dump *d, const char *what, const char *tool,
                       int64_t code, const struct run *r, struct zp_err *err)
{
    char *t = tail_text(r);
    int rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "database service '%s' (%s): %s: '%s' exited with %lld%s%s", d->key,
                        backup_db_name(d->type), what, tool, (long long)code, *t ? ": " : "", t);
    free(t);
    return rc;
}

int backup_dump_run(struct engine *e, const struct backup_dump *d, int fd, struct zp_err *err)
{
    const char *argv[16];
    char **env = NULL;
    backup_dump_command(d, 0, argv, &env);
    struct run r;
    memset(&r, 0, sizeof(r));
    r.out_fd = fd;
    zp_buf_init(&r.out, PROBE_OUT + 1);
    int64_t code = 0;
    int rc = run_tool(e, d->container, argv, env, -1, &r, &code, err);
    if (rc)
        zp_err_prefix(err, "database service '%s': dumping with '%s'", d->key, tool_of(argv));
    else if (code != 0)
        rc = tool_failed(d, "dumping", tool_of(argv), code, &r, err);
    else if (r.written == 0)
        rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "database service '%s' (%s): dumping: '%s' wrote nothing", d->key,
                        backup_db_name(d->type), tool_of(argv));
    zp_buf_release(&r.out);
    backup_dump_env_free(env);
    return rc;
}

/* ---- loading ---- */

/* Copy the dump section of key out of the archive at path into fd. */
static int extract_dump(const char *path, const char *key, int fd, struct zp_err *err)
{
    struct arc_reader *ar = NULL;
    int rc = arc_reader_open_file(path, &ar, err);
    if (rc)
        return rc;
    char *want = backup__section_dir(BACKUP_DUMP, key);
    unsigned char *chunk = zp_malloc(BACKUP__CHUNK);
    bool found = false;
    for (;;) {
        const struct arc_entry *en = NULL;
        if ((rc = arc_reader_next(ar, &en, err)) != 0 || en == NULL)
            break;
        if (strcmp(en->path, want) != 0)
            continue;
        found = true;
        for (;;) {
            size_t n = 0;
            if ((rc = arc_reader_data(ar, chunk, BACKUP__CHUNK, &n, err)) != 0 || n == 0)
                break;
            if (zp_write_all(fd, chunk, n) != 0) {
                rc = zp_err_sys(err, "writing a temporary copy of the dump");
                break;
            }
        }
        break;
    }
    if (rc == 0 && !found)
        rc = zp_err_set(err, ZP_E_NOTFOUND, NULL, "archive '%s' has no dump of service '%s'", path,
                        key);
    free(chunk);
    free(want);
    arc_reader_free(ar);
    return rc;
}

/* Wait until the server answers the probe (phase 2), up to timeout_s. */
static int wait_ready(struct engine *e, const struct backup_dump *d, int timeout_s,
                      struct zp_err *err)
{
    const char *argv[16];
    char **env = NULL;
    backup_dump_command(d, 2, argv, &env);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int rc = 0;
    for (;;) {
        struct run r;
        memset(&r, 0, sizeof(r));
        r.out_fd = -1;
        zp_buf_init(&r.out, PROBE_OUT + 1);
        int64_t code = -1;
        struct zp_err perr;
        zp_err_init(&perr);
        int prc = run_tool(e, d->container, argv, env, -1, &r, &code, &perr);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        bool late = now.tv_sec - start.tv_sec >= timeout_s;
        if (prc == 0 && code == 0) {
            zp_buf_release(&r.out);
            break;
        }
        if (late) {
            if (prc != 0) {
                *err = perr;
                rc = prc;
            } else {
                rc = tool_failed(d, "waiting for the server", tool_of(argv), code, &r, err);
            }
            zp_buf_release(&r.out);
            break;
        }
        zp_buf_release(&r.out);
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    backup_dump_env_free(env);
    return rc;
}

/* redis: "CONFIG GET name" answers "name\nvalue\n". */
static int redis_config(struct engine *e, const struct backup_dump *d, const char *name, char **ret,
                        struct zp_err *err)
{
    const char *argv[] = {"redis-cli", "--raw", "CONFIG", "GET", name, NULL};
    char **env = NULL;
    const char *pargv[16];
    backup_dump_command(d, 2, pargv, &env); /* for REDISCLI_AUTH */
    struct run r;
    memset(&r, 0, sizeof(r));
    r.out_fd = -1;
    zp_buf_init(&r.out, PROBE_OUT + 1);
    int64_t code = 0;
    int rc = run_tool(e, d->container, argv, env, -1, &r, &code, err);
    if (rc == 0 && code != 0)
        rc = tool_failed(d, "reading its configuration", "redis-cli", code, &r, err);
    if (rc == 0) {
        const char *s = zp_buf_cstr(&r.out);
        const char *nl = strchr(s, '\n');
        const char *v = nl ? nl + 1 : NULL;
        size_t n = v ? strcspn(v, "\r\n") : 0;
        if (v == NULL || n == 0)
            rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                            "database service '%s': redis gives no '%s' setting", d->key, name);
        else
            *ret = zp_strndup(v, n);
    }
    zp_buf_release(&r.out);
    backup_dump_env_free(env);
    return rc;
}

struct tar_src {
    int fd;
};

static int read_fd(void *ctx, char *buf, size_t cap, size_t *ret_len, struct zp_err *err)
{
    struct tar_src *s = ctx;
    for (;;) {
        ssize_t n = read(s->fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return zp_err_sys(err, "reading the RDB archive");
        *ret_len = (size_t)n;
        return 0;
    }
}

/* A tar holding the RDB file of dump_fd as name, into a new temporary file *ret_fd. */
static int rdb_tar(int dump_fd, const char *name, int *ret_fd, struct zp_err *err)
{
    char tmpl[] = "/tmp/zpanel-rdb-XXXXXX";
    int fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0)
        return zp_err_sys(err, "creating a temporary file");
    unlink(tmpl);
    struct stat st;
    struct arc_writer *w = NULL;
    int rc = 0;
    if (fstat(dump_fd, &st) != 0 || lseek(dump_fd, 0, SEEK_SET) != 0) {
        rc = zp_err_sys(err, "reading the dump");
        goto out;
    }
    if ((rc = arc_writer_open_fd(fd, ARC_PLAIN, &w, err)) != 0)
        goto out;
    struct arc_entry en = {.path = name,
                           .type = ARC_FILE,
                           .mode = 0644,
                           .uid = 999, /* the redis user of Debian's and the official images */
                           .gid = 999,
                           .size = (int64_t)st.st_size,
                           .mtime = (int64_t)time(NULL)};
    if ((rc = arc_writer_header(w, &en, err)) != 0)
        goto out;
    char *chunk = zp_malloc(BACKUP__CHUNK);
    for (;;) {
        ssize_t n = read(dump_fd, chunk, BACKUP__CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = zp_err_sys(err, "reading the dump");
            break;
        }
        if (n == 0 || (rc = arc_writer_data(w, chunk, (size_t)n, err)) != 0)
            break;
    }
    free(chunk);
    if (rc == 0)
        rc = arc_writer_close(w, err);
    if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0)
        rc = zp_err_sys(err, "rewinding a temporary file");
out:
    arc_writer_free(w);
    if (rc) {
        close(fd);
        return rc;
    }
    *ret_fd = fd;
    return 0;
}

static int redis_swap(struct engine *e, const struct backup_dump *d, int dump_fd,
                      struct zp_err *err)
{
    char *dir = NULL, *file = NULL, *aof = NULL;
    int tfd = -1;
    int rc = redis_config(e, d, "dir", &dir, err);
    if (rc == 0)
        rc = redis_config(e, d, "dbfilename", &file, err);
    if (rc == 0)
        rc = redis_config(e, d, "appendonly", &aof, err);
    if (rc)
        goto out;
    if (strcmp(aof, "yes") == 0) {
        rc = zp_err_set(err, ZP_E_CONFLICT, NULL,
                        "database service '%s': redis runs with appendonly yes, so it would "
                        "load its append-only file and not the restored RDB; restore with "
                        "appendonly no, then turn it on again",
                        d->key);
        goto out;
    }
    if (strchr(file, '/') != NULL) {
        rc = zp_err_set(err, ZP_E_ENGINE, NULL,
                        "database service '%s': redis dbfilename '%s' is not a plain name", d->key,
                        file);
        goto out;
    }
    if ((rc = rdb_tar(dump_fd, file, &tfd, err)) != 0)
        goto out;
    /* a server stopped saves its dataset first: the file is put afterwards */
    if ((rc = engine_container_stop(e, d->container, -1, err)) != 0)
        goto out;
    struct tar_src src = {tfd};
    rc = engine_container_archive_put(e, d->container, dir, read_fd, &src, err);
    struct zp_err serr;
    zp_err_init(&serr);
    int src_rc = engine_container_start(e, d->container, &serr);
    if (rc == 0 && src_rc != 0) {
        *err = serr;
        rc = src_rc;
    }
    if (rc)
        zp_err_prefix(err, "database service '%s': swapping the RDB file in", d->key);
out:
    if (tfd >= 0)
        close(tfd);
    free(dir);
    free(file);
    free(aof);
    return rc;
}

int backup_dump_load(struct engine *e, const char *path, const struct backup_dump *d, int timeout_s,
                     struct zp_err *err)
{
    char tmpl[] = "/tmp/zpanel-dump-XXXXXX";
    int fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0)
        return zp_err_sys(err, "creating a temporary file");
    unlink(tmpl);
    int rc = extract_dump(path, d->key, fd, err);
    if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0)
        rc = zp_err_sys(err, "rewinding a temporary file");
    if (rc == 0)
        rc = wait_ready(e, d, timeout_s, err);
    if (rc == 0 && d->type == BACKUP_DB_REDIS) {
        rc = redis_swap(e, d, fd, err);
        if (rc == 0)
            rc = wait_ready(e, d, timeout_s, err);
    } else if (rc == 0) {
        const char *argv[16];
        char **env = NULL;
        backup_dump_command(d, 1, argv, &env);
        struct run r;
        memset(&r, 0, sizeof(r));
        r.out_fd = -1;
        zp_buf_init(&r.out, PROBE_OUT + 1);
        int64_t code = 0;
        rc = run_tool(e, d->container, argv, env, fd, &r, &code, err);
        if (rc)
            zp_err_prefix(err, "database service '%s': loading with '%s'", d->key, tool_of(argv));
        else if (code != 0)
            rc = tool_failed(d, "loading", tool_of(argv), code, &r, err);
        zp_buf_release(&r.out);
        backup_dump_env_free(env);
    }
    close(fd);
    return rc;
}
