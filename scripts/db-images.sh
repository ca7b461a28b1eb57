#!/usr/bin/env bash
# db-images.sh [postgres|mariadb|redis]...: pack Debian's database servers (installed by
# setup.sh: postgresql, mariadb-server, redis-server) into local images FROM scratch, with
# the shared libraries they link, a static busybox for the entry script, and nothing
# else: zpanel-local/postgres:15, zpanel-local/mariadb:10, zpanel-local/redis:7. No
# registry and no network are needed; each image takes a second or two. Rebuilt only when
# missing (set DB_IMAGES_REBUILD=1 to force). tests/e2e/test_dumps.sh uses them.
# The entry scripts initialise an empty data directory from the official images'
# variables (POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB, MARIADB_ROOT_PASSWORD/
# MARIADB_DATABASE, REDIS_PASSWORD); the servers listen on their unix socket only
# (redis: 127.0.0.1), and run as uid 999.
set -euo pipefail
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(postgres mariadb redis)
busybox=/bin/busybox

# add_libs ROOT BIN...: the loader and every library ldd names, at the same paths
add_libs() {
    local root=$1
    shift
    local bin lib
    # one ldd for all (it prints a "FILE:" heading before each file's libraries)
    ldd "$@" 2>/dev/null | awk '/=> \//{print $3} $1 ~ /^\// && $1 !~ /:$/{print $1}' |
        sort -u | while read -r lib; do
        [ -e "$root$lib" ] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

# base ROOT NAME: busybox as /bin/sh (and a few applets), /etc/passwd with NAME as 999
base() {
    local root=$1 name=$2
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/run"
    chmod 1777 "$root/tmp"
    cp "$busybox" "$root/bin/busybox"
    for a in sh cat rm mkdir printf echo sleep ls; do ln -s busybox "$root/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:999:999:%s:/tmp:/bin/sh\n' "$name" "$name" \
        >"$root/etc/passwd"
    printf 'root:x:0:\n%s:x:999:\n' "$name" >"$root/etc/group"
}

# import ROOT TAG ENV...: the tree as an image running /entry.sh as uid 999
import() {
    local root=$1 tag=$2
    shift 2
    local changes=(-c 'USER 999' -c 'ENTRYPOINT ["/bin/sh", "/entry.sh"]')
    for e in "$@"; do changes+=(-c "ENV $e"); done
    tar --numeric-owner -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
    echo "db-images.sh: built $tag"
}

build_postgres() {
    local tag=zpanel-local/postgres:15 root=$1
    local pg=/usr/lib/postgresql/15
    [ -x $pg/bin/postgres ] || { echo "db-images.sh: $pg missing (apt install postgresql)" >&2; exit 1; }
    base "$root" postgres
    mkdir -p "$root$pg" "$root/usr/share/postgresql" "$root/usr/share/zoneinfo/Etc"
    mkdir -p "$root$pg/bin"
    for b in postgres initdb pg_dump pg_restore psql pg_isready; do cp -a $pg/bin/$b "$root$pg/bin/"; done
    # the server's own modules (PL/pgSQL, snowball dictionaries, encoding conversions,
    # replication): no contrib, no JIT (it links all of LLVM: jit is off without it)
    mkdir -p "$root$pg/lib"
    cp -a $pg/lib/plpgsql.so $pg/lib/dict_snowball.so $pg/lib/*_and_*.so \
        $pg/lib/libpqwalreceiver.so $pg/lib/pgoutput.so "$root$pg/lib/"
    cp -a /usr/share/postgresql/15 "$root/usr/share/postgresql/"
    cp -L /usr/share/zoneinfo/UTC "$root/usr/share/zoneinfo/UTC"
    cp -L /usr/share/zoneinfo/Etc/UTC "$root/usr/share/zoneinfo/Etc/UTC"
    add_libs "$root" "$root$pg"/bin/* "$root$pg"/lib/plpgsql.so "$root$pg"/lib/dict_snowball.so
    mkdir -p "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
    chown -R 999:999 "$root/var/lib/postgresql" "$root/var/run/postgresql"
    chmod 700 "$root/var/lib/postgresql/data"
    cat >"$root/entry.sh" <<'EOF'
set -e
D=/var/lib/postgresql/data
if [ ! -s "$D/PG_VERSION" ]; then
    u=${POSTGRES_USER:-postgres}
    printf '%s' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >/tmp/pw
    initdb -D "$D" -U "$u" --pwfile=/tmp/pw --auth=scram-sha-256 --locale=C -E UTF8 >/dev/null
    rm -f /tmp/pw
    db=${POSTGRES_DB:-$u}
    if [ "$db" != postgres ]; then
        echo "CREATE DATABASE \"$db\" OWNER \"$u\"" | postgres --single -D "$D" postgres >/dev/null
    fi
fi
exec postgres -D "$D" -c listen_addresses= -c unix_socket_directories=/var/run/postgresql
EOF
    import "$root" $tag "PATH=$pg/bin:/bin" TZ=UTC LANG=C
}

build_mariadb() {
    local tag=zpanel-local/mariadb:10 root=$1
    [ -x /usr/sbin/mariadbd ] || { echo "db-images.sh: mariadbd missing (apt install mariadb-server)" >&2; exit 1; }
    base "$root" mysql
    mkdir -p "$root/usr/sbin" "$root/usr/bin" "$root/usr/share" "$root/usr/lib/mysql"
    cp -L /usr/sbin/mariadbd "$root/usr/sbin/"
    cp -L /usr/bin/mariadb /usr/bin/mariadb-dump "$root/usr/bin/"
    cp -a /usr/share/mysql "$root/usr/share/"
    cp -a /usr/lib/mysql/plugin "$root/usr/lib/mysql/"
    add_libs "$root" /usr/sbin/mariadbd /usr/bin/mariadb /usr/bin/mariadb-dump
    mkdir -p "$root/var/lib/mysql" "$root/run/mysqld"
    chown -R 999:999 "$root/var/lib/mysql" "$root/run/mysqld"
    cat >"$root/entry.sh" <<'EOF'
set -e
D=/var/lib/mysql
if [ ! -d "$D/mysql" ]; then
    s=/usr/share/mysql
    {
        printf 'CREATE DATABASE IF NOT EXISTS mysql;\nUSE mysql;\nSET @auth_root_socket=NULL;\n'
        cat $s/mysql_system_tables.sql $s/mysql_system_tables_data.sql
        echo "UPDATE mysql.global_priv SET priv=json_set(priv, '\$.plugin', 'mysql_native_password', '\$.authentication_string', PASSWORD('${MARIADB_ROOT_PASSWORD:?MARIADB_ROOT_PASSWORD is required}')) WHERE User='root';"
        [ -z "${MARIADB_DATABASE:-}" ] || echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
    } | mariadbd --no-defaults --bootstrap --datadir="$D" --log-warnings=0 >/dev/null 2>&1
fi
exec mariadbd --no-defaults --datadir="$D" --skip-networking --socket=/run/mysqld/mysqld.sock \
    --pid-file=/run/mysqld/mysqld.pid --innodb-buffer-pool-size=16M --innodb-log-file-size=8M \
    --performance-schema=OFF
EOF
    import "$root" $tag PATH=/usr/sbin:/usr/bin:/bin
}

build_redis() {
    local tag=zpanel-local/redis:7 root=$1
    [ -x /usr/bin/redis-server ] || { echo "db-images.sh: redis-server missing (apt install redis-server)" >&2; exit 1; }
    base "$root" redis
    mkdir -p "$root/usr/bin" "$root/data"
    cp -L /usr/bin/redis-server /usr/bin/redis-cli "$root/usr/bin/"
    add_libs "$root" /usr/bin/redis-server /usr/bin/redis-cli
    chown 999:999 "$root/data"
    cat >"$root/entry.sh" <<'EOF'
set -e
if [ -n "${REDIS_PASSWORD:-}" ]; then
    exec redis-server --dir /data --bind 127.0.0.1 --appendonly no --requirepass "$REDIS_PASSWORD"
fi
exec redis-server --dir /data --bind 127.0.0.1 --appendonly no
EOF
    import "$root" $tag PATH=/usr/bin:/bin
}

for k in "${kinds[@]}"; do
    case "$k" in
    postgres) tag=zpanel-local/postgres:15 ;;
    mariadb) tag=zpanel-local/mariadb:10 ;;
    redis) tag=zpanel-local/redis:7 ;;
    *) echo "db-images.sh: unknown image '$k' (postgres, mariadb or redis)" >&2; exit 2 ;;
    esac
    if [ "${DB_IMAGES_REBUILD:-0}" != 1 ] && docker image inspect "$tag" >/dev/null 2>&1; then
        continue
    fi
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    "build_$k" "$root"
    rm -rf "$root"
    trap - EXIT
done
