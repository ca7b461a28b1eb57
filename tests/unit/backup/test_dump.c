/* Unit tests for backup/dump.c and the manifest's dumps: the exact commands and
 * environment of each database type and phase (passwords never on a command line), the
 * type names, and a manifest with dumps written and read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backup/backup.h"

/* argv and env of phase as one line: "a b c | K=v" */
static char *line(const struct backup_dump *d, int phase)
{
    const char *argv[16];
    char **env = NULL;
    backup_dump_command(d, phase, argv, &env);
    struct zp_buf b = ZP_BUF_INIT;
    for (size_t i = 0; argv[i]; i++)
        zp_buf_addf(&b, "%s%s", i ? " " : "", argv[i]);
    zp_buf_adds(&b, " |");
    for (size_t i = 0; env[i]; i++)
        zp_buf_addf(&b, " %s", env[i]);
    backup_dump_env_free(env);
    return zp_buf_detach(&b, NULL);
}

static void expect_line(const struct backup_dump *d, int phase, const char *want)
{
    char *got = line(d, phase);
    assert_string_equal(got, want);
    free(got);
}

static void commands(void **state)
{
    (void)state;
    struct backup_dump pg = {.key = "db",
                             .type = BACKUP_DB_POSTGRES,
                             .database = "shop",
                             .user = "app",
                             .password = "s3cret"};
    expect_line(&pg, 0, "pg_dump -Fc -U app -d shop | PGPASSWORD=s3cret");
    expect_line(&pg, 1,
                "pg_restore --clean --if-exists --single-transaction --exit-on-error "
                "-U app -d shop | PGPASSWORD=s3cret");
    expect_line(&pg, 2, "psql -X -qAt -c SELECT 1 -U app -d shop | PGPASSWORD=s3cret");
    pg.password = NULL;
    expect_line(&pg, 0, "pg_dump -Fc -U app -d shop |");

    struct backup_dump maria = {
        .key = "m", .type = BACKUP_DB_MARIADB, .user = "root", .password = "pw"};
    expect_line(&maria, 0,
                "mariadb-dump --single-transaction --routines --events --triggers -u "
                "root --all-databases | MYSQL_PWD=pw");
    maria.database = "shop";
    expect_line(&maria, 0,
                "mariadb-dump --single-transaction --routines --events --triggers -u "
                "root --databases shop | MYSQL_PWD=pw");
    expect_line(&maria, 1, "mariadb -u root | MYSQL_PWD=pw");
    expect_line(&maria, 2, "mariadb -u root -e SELECT 1 | MYSQL_PWD=pw");
    struct backup_dump my = {.key = "m", .type = BACKUP_DB_MYSQL, .user = "root"};
    expect_line(&my, 0,
                "mysqldump --single-transaction --routines --events --triggers -u root "
                "--all-databases |");
    expect_line(&my, 1, "mysql -u root |");

    struct backup_dump r = {.key = "cache", .type = BACKUP_DB_REDIS, .password = "x"};
    expect_line(&r, 0, "redis-cli --rdb - | REDISCLI_AUTH=x");
    expect_line(&r, 2, "redis-cli PING | REDISCLI_AUTH=x");
}

/* MongoDB (not in Debian: its commands are tested here, not against a server) */
static void mongodb_commands(void **state)
{
    (void)state;
    /* no auth (the official image without MONGO_INITDB_ROOT_*): every database */
    struct backup_dump m = {.key = "mongo", .type = BACKUP_DB_MONGODB};
    expect_line(&m, 0, "mongodump --archive --quiet |");
    expect_line(&m, 1, "mongorestore --archive --drop --quiet |");
    expect_line(&m, 2, "mongosh --quiet --eval db.adminCommand('ping').ok |");
    /* one database */
    m.database = "shop";
    expect_line(&m, 0, "mongodump --archive --quiet --db shop |");
    /* the archive holds that database only: restored as it is */
    expect_line(&m, 1, "mongorestore --archive --drop --quiet |");
    /* a user without a password (x-zpanel.database.user, no password_env) */
    m.user = "root";
    expect_line(&m, 0,
                "mongodump --archive --quiet --db shop --username root "
                "--authenticationDatabase admin |");
    /* with a password: a shell passes it from the environment; the engine records no
     * command with it */
    m.password = "pa ss'$x";
    const char *sh = "sh -c exec \"$0\" \"$@\" --password=\"$ZPANEL_MONGO_PASSWORD\" ";
    char *want = zp_asprintf("%smongodump --archive --quiet --db shop --username root "
                             "--authenticationDatabase admin | ZPANEL_MONGO_PASSWORD=pa ss'$x",
                             sh);
    expect_line(&m, 0, want);
    free(want);
    want = zp_asprintf("%smongorestore --archive --drop --quiet --username root "
                       "--authenticationDatabase admin | ZPANEL_MONGO_PASSWORD=pa ss'$x",
                       sh);
    expect_line(&m, 1, want);
    free(want);
    want = zp_asprintf("%smongosh --quiet --eval db.adminCommand('ping').ok --username root "
                       "--authenticationDatabase admin | ZPANEL_MONGO_PASSWORD=pa ss'$x",
                       sh);
    expect_line(&m, 2, want);
    free(want);
    /* the password is in no argument, whatever the phase */
    for (int phase = 0; phase < 3; phase++) {
        const char *argv[16];
        char **env = NULL;
        backup_dump_command(&m, phase, argv, &env);
        size_t n = 0;
        for (; argv[n]; n++)
            assert_null(strstr(argv[n], "pa ss"));
        assert_true(n < 16);
        backup_dump_env_free(env);
    }
}

static void names(void **state)
{
    (void)state;
    enum backup_db t;
    struct zp_err err;
    zp_err_init(&err);
    static const char *const all[] = {"postgres", "mariadb", "mysql", "redis", "mongodb"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(backup_db_parse(all[i], &t, &err), 0);
        assert_string_equal(backup_db_name(t), all[i]);
    }
    assert_int_equal(backup_db_parse("mongo", &t, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "unknown database type 'mongo'"));
    assert_non_null(strstr(err.msg, "redis or mongodb"));
    zp_err_init(&err);
}

static void manifest_round_trip(void **state)
{
    (void)state;
    char k1[] = "compose.yaml", k2[] = "db", pgname[] = "postgres", ver[] = "1", proj[] = "p",
         created[] = "2026-01-01T00:00:00Z";
    struct backup_section secs[2] = {
        {.kind = BACKUP_FILE, .key = k1, .size = 10, .files = 1},
        {.kind = BACKUP_DUMP, .key = k2, .name = pgname, .size = 2048, .files = 1},
    };
    memset(secs[0].sha256, 'a', 64);
    memset(secs[1].sha256, 'b', 64);
    struct backup_manifest m = {.format = BACKUP_FORMAT,
                                .zpanel_version = ver,
                                .project = proj,
                                .created = created,
                                .sections = secs,
                                .n = 2};
    struct zp_buf b = ZP_BUF_INIT;
    struct zp_err err;
    zp_err_init(&err);
    assert_int_equal(backup_manifest_to_json(&m, &b, &err), 0);
    assert_non_null(strstr(b.p, "\"dumps\": [\n    {\n      \"service\": \"db\",\n      "
                                "\"database\": \"postgres\""));
    struct backup_manifest back;
    assert_int_equal(backup_manifest_parse(b.p, b.len, &back, &err), 0);
    const struct backup_section *s = backup_manifest_find(&back, BACKUP_DUMP, "db");
    assert_non_null(s);
    assert_string_equal(s->name, "postgres");
    assert_int_equal(s->size, 2048);
    backup_manifest_release(&back);

    /* an unknown database type and a key with '/' are refused */
    char *bad = zp_strdup(b.p);
    char *p = strstr(bad, "\"postgres\"");
    memcpy(p, "\"postgrex\"", 10);
    assert_int_equal(backup_manifest_parse(bad, strlen(bad), &back, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "dumps[0].database"));
    zp_err_init(&err);
    zp_err_init(&err);
    free(bad);
    bad = zp_strdup(b.p);
    p = strstr(bad, "\"db\"");
    memcpy(p, "\"d/\"", 4);
    assert_int_equal(backup_manifest_parse(bad, strlen(bad), &back, &err), ZP_E_INPUT);
    assert_non_null(strstr(err.msg, "contains '/'"));
    free(bad);
    zp_err_init(&err);

    /* archives written before dumps existed have no "dumps" list */
    zp_buf_release(&b);
    m.n = 1;
    zp_buf_init(&b, 1 << 20);
    assert_int_equal(backup_manifest_to_json(&m, &b, &err), 0);
    char *old = zp_strdup(b.p);
    p = strstr(old, ",\n  \"dumps\": []");
    assert_non_null(p);
    memmove(p, p + strlen(",\n  \"dumps\": []"), strlen(p + strlen(",\n  \"dumps\": []")) + 1);
    assert_int_equal(backup_manifest_parse(old, strlen(old), &back, &err), 0);
    assert_int_equal(back.n, 1);
    backup_manifest_release(&back);
    free(old);
    zp_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands),
        cmocka_unit_test(mongodb_commands),
        cmocka_unit_test(names),
        cmocka_unit_test(manifest_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
