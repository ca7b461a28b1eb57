#!/usr/bin/env bash
# End-to-end: database dumps. Real PostgreSQL, MariaDB and Redis servers (Debian's
# packages, packed FROM scratch by scripts/db-images.sh) marked x-zpanel.database: rows
# are written, `backup` dumps each through exec (the manifest lists the dumps with their
# checksums, the database volumes are not copied), the rows are changed and dropped,
# `restore` loads the dumps back and the rows are there again, byte for byte as queried.
# A dump that fails (the password in the compose file no longer matches the server's)
# fails the backup loudly, naming the service and the server's reason, and leaves no
# archive and no temporary file.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"
require_engine

P=dumps-e2e
export ZPANEL_STATE_DIR=$TMP/state
cleanup() { cleanup_project "$P"; }
trap 'cleanup; rm -rf "$TMP"' EXIT
cleanup
"$ZP_SOURCE_DIR/scripts/db-images.sh" postgres mariadb redis ||
    { echo "FAIL: cannot build the database images (scripts/setup.sh installs the servers)"; exit 1; }

mkdir -p "$TMP/p" "$TMP/arc"
cat >"$TMP/p/compose.yaml" <<'EOF'
services:
  pg:
    image: zpanel-local/postgres:15
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: pg-secret
      POSTGRES_DB: shop
    volumes: [pgdata:/var/lib/postgresql/data]
    x-zpanel:
      database: postgres
  maria:
    image: zpanel-local/mariadb:10
    environment:
      MARIADB_ROOT_PASSWORD: maria-secret
      MARIADB_DATABASE: shop
    volumes: [mariadata:/var/lib/mysql]
    x-zpanel:
      database: {type: mariadb}
  cache:
    image: zpanel-local/redis:7
    environment:
      REDIS_PASSWORD: redis-secret
    volumes: [redisdata:/data]
    x-zpanel:
      database: redis
volumes:
  pgdata: {}
  mariadata: {}
  redisdata: {}
EOF
Z=("$ZPANEL" -p "$P" --project-directory "$TMP/p" -f "$TMP/p/compose.yaml" --progress plain)

psql_() { docker exec -e PGPASSWORD=pg-secret "$P-pg-1" psql -X -qAt -U app -d shop -c "$1"; }
maria_() { docker exec -e MYSQL_PWD=maria-secret "$P-maria-1" mariadb -N -u root shop -e "$1"; }
redis_() { docker exec -e REDISCLI_AUTH=redis-secret "$P-cache-1" redis-cli --raw "$@"; }
# wait_ready: each server answers (bounded: 30 s)
wait_ready() {
    local i
    for i in $(seq 1 60); do
        psql_ 'SELECT 1' >/dev/null 2>&1 && maria_ 'SELECT 1' >/dev/null 2>&1 &&
            [ "$(redis_ PING 2>/dev/null)" = PONG ] && return 0
        sleep 0.5
    done
    return 1
}
# state: what the three databases hold, as one text
state() {
    echo "pg: $(psql_ "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM items")"
    echo "maria: $(maria_ 'SELECT GROUP_CONCAT(id, ":", name ORDER BY id) FROM items')"
    echo "redis: $(redis_ GET greeting) $(redis_ LRANGE list 0 -1 | tr '\n' ,)"
}

run "${Z[@]}" up -d
expect_rc 0 "up"
if wait_ready; then ok; else fail "the database servers did not become ready"; fi

psql_ "CREATE TABLE items (id int PRIMARY KEY, name text);
       INSERT INTO items SELECT g, 'pg-' || g FROM generate_series(1, 500) g;" >/dev/null
maria_ "CREATE TABLE items (id INT PRIMARY KEY, name TEXT);
        INSERT INTO items VALUES (1, 'maria-1'), (2, 'maria-2'), (3, 'café');"
redis_ SET greeting "hello from redis" >/dev/null
redis_ RPUSH list a b c >/dev/null
before=$(state)
case "$before" in
*"pg: 1:pg-1,2:pg-2"*"maria: 1:maria-1,2:maria-2,3:"*"redis: hello from redis a,b,c,"*) ok ;;
*) fail "rows written: $before" ;;
esac

# backup: three dumps, no copy of the database volumes
run "${Z[@]}" backup -o "$TMP/arc/a.tar.zst"
expect_rc 0 "backup with dumps"
expect_err_has "dumping postgres database" "progress names the postgres dump"
expect_err_has "dump is archived instead" "the database volumes are not copied"
run "$ZPANEL" backup verify "$TMP/arc/a.tar.zst"
expect_rc 0 "the archive with dumps verifies"
tar --zstd -xOf "$TMP/arc/a.tar.zst" manifest.json >"$TMP/out"
json_check '[(d["service"], d["database"]) for d in m["dumps"]] == [("pg","postgres"),("maria","mariadb"),("cache","redis")] and all(len(d["sha256"]) == 64 and d["size"] > 0 for d in m["dumps"]) and m["volumes"] == []' \
    "the manifest lists the three dumps with their checksums and no database volume"
run tar --zstd -tf "$TMP/arc/a.tar.zst"
expect_out_has "dumps/pg" "the postgres dump is in the archive"
expect_out_has "dumps/cache" "the redis dump is in the archive"

# change and drop the rows
psql_ "DELETE FROM items WHERE id > 10; UPDATE items SET name = 'changed' WHERE id = 1;
       CREATE TABLE extra (x int);" >/dev/null
maria_ "DROP TABLE items;"
redis_ FLUSHALL >/dev/null
redis_ SET greeting changed >/dev/null
after=$(state 2>&1)
if [ "$after" != "$before" ]; then ok; else fail "the rows did not change"; fi

run "${Z[@]}" restore "$TMP/arc/a.tar.zst" --yes
expect_rc 0 "restore loads the dumps"
expect_err_has "loading the postgres dump into service 'pg'" "restore names the loads"
if wait_ready; then ok; else fail "the servers did not come back after the restore"; fi
restored=$(state 2>&1)
if [ "$restored" = "$before" ]; then ok; else fail "restored rows differ: '$restored' want '$before'"; fi
if [ "$(psql_ "SELECT count(*) FROM pg_tables WHERE tablename = 'extra'")" = 1 ]; then
    ok # pg_restore --clean drops what the dump holds; a table made later stays
else
    fail "the later table 'extra' should survive the restore"
fi

# a dump that fails: the server's password no longer matches the compose file's
psql_ "ALTER USER app PASSWORD 'rotated'" >/dev/null
run "${Z[@]}" backup -o "$TMP/arc/b.tar.zst"
expect_rc 1 "a failing dump fails the backup"
expect_err_has "database service 'pg' (postgres): dumping: 'pg_dump' exited with 1" \
    "the error names the service and the tool"
expect_err_has "password authentication failed" "the error gives the server's reason"
if [ -z "$(ls -A "$TMP/arc" | grep -v '^a.tar.zst$')" ]; then ok; else
    fail "a failed backup left files: $(ls -A "$TMP/arc")"
fi

# a database service that is not running cannot be dumped: loud too
docker stop "$P-cache-1" >/dev/null
run "${Z[@]}" backup -o "$TMP/arc/c.tar.zst"
expect_rc 1 "a stopped database service fails the backup"
expect_err_has "database service 'cache' is not running" "the error names the stopped service"
[ ! -e "$TMP/arc/c.tar.zst" ] && ok || fail "an archive was left"

run "${Z[@]}" down -v
expect_rc 0 "down"
finish
