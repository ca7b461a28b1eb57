#!/usr/bin/env bash
# End-to-end: `backup`, `backup verify` and `restore` against the real engine. A volume
# with odd content (names with spaces, a newline, non-ASCII, 200 characters; symlinks;
# empty directories; modes 0600/0755/4755; files owned by uid 1234) is backed up and
# restored into a fresh project; both volumes' listings (find + stat + sha256sum) match.
# `--stop` restarts the services after a failed backup and leaves no partial file; damaged
# and hostile archives are refused with nothing changed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"
require_engine

P1=zpbackup-e2e-a
P2=zpbackup-e2e-b
export ZPANEL_STATE_DIR=$TMP/state
cleanup() {
    cleanup_project "$P1"
    cleanup_project "$P2"
    docker ps -aq --filter label=io.zpanel.helper=backup | xargs -r docker rm -f >/dev/null 2>&1
}
trap 'cleanup; rm -rf "$TMP"' EXIT
cleanup
test_image || { echo "cannot build $TEST_IMAGE"; exit 1; }

mkdir -p "$TMP/p1/site" "$TMP/p2" "$TMP/arc"
cat >"$TMP/p1/compose.yaml" <<EOF
services:
  app:
    image: $TEST_IMAGE
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    volumes:
      - data:/data
      - ./site:/site
volumes:
  data: {}
EOF
echo "GREETING=hi" >"$TMP/p1/.env"
echo "<h1>site</h1>" >"$TMP/p1/site/index.html"
cp "$TMP/p1/compose.yaml" "$TMP/p2/compose.yaml"
Z1=("$ZPANEL" -p "$P1" --project-directory "$TMP/p1" -f "$TMP/p1/compose.yaml" --progress plain)
Z2=("$ZPANEL" -p "$P2" --project-directory "$TMP/p2" -f "$TMP/p2/compose.yaml" --progress plain)

run "${Z1[@]}" up -d
expect_rc 0 "up"

# odd content, written by a busybox container
run docker exec "$P1-app-1" sh -c '
    set -e; cd /data
    head -c 100000 /dev/urandom >"a file with spaces"
    printf "x" >"$(printf "new\nline")"
    echo unicode >"héllo wörld ✓"
    echo long >"$(printf "%0200d" 7)"
    mkdir -p "empty dir" deep/er/still
    head -c 5000 /dev/urandom >deep/er/still/bin
    ln -s "a file with spaces" link
    ln -s ../../../link deep/er/still/uplink
    echo secret >private; chmod 0600 private
    echo run >tool; chmod 0755 tool
    echo suid >suid; chmod 4755 suid
    echo owned >owned; chown 1234:1234 owned; chown -h 1234:1234 link
    mkdir owndir; chown 1234:1234 owndir; chmod 0750 owndir
'
expect_rc 0 "write the volume's content"

listing() { # listing VOLUME: one line per entry, stable order
    docker run --rm -v "$1:/v:ro" "$TEST_IMAGE" sh -c \
        'cd /v && find . -print0 | sort -z | xargs -0 stat -c "%n|%F|%a|%u|%g|%s|%N" &&
         find . -type f -print0 | sort -z | xargs -0 sha256sum'
}
listing "${P1}_data" >"$TMP/l1"
[ -s "$TMP/l1" ] && ok || fail "listing of the source volume is empty"

# --- backup and verify
run "${Z1[@]}" backup --output "$TMP/arc/b.tar.zst"
expect_rc 0 "backup"
expect_out_has "volume data" "backup prints the volume section"
[ -f "$TMP/arc/b.tar.zst" ] && ok || fail "no archive written"
[ -z "$(ls -A "$TMP/arc" | grep -v '^b.tar.zst$')" ] && ok || fail "temporary files left: $(ls -A "$TMP/arc")"
[ -z "$(docker ps -aq --filter label=io.zpanel.helper=backup)" ] && ok || fail "helper container left behind"
run "$ZPANEL" backup verify "$TMP/arc/b.tar.zst"
expect_rc 0 "verify a good archive"
SUM1=$(grep -o 'volume data .*sha256:[0-9a-f]*' <<<"$OUT" | grep -o 'sha256:[0-9a-f]*')
[ -n "$SUM1" ] && ok || fail "verify prints no volume checksum: $OUT"
[ "$(inspect_field "$P1-app-1" '{{.State.Running}}')" = true ] && ok || fail "backup without --stop stopped the service"

# --- restore into a fresh project (other name, same files)
run "${Z2[@]}" restore "$TMP/arc/b.tar.zst"
expect_rc 2 "restore without --yes and without a terminal"
expect_err_has "--yes" "the refusal names --yes"
run "${Z2[@]}" restore --yes "$TMP/arc/b.tar.zst"
expect_rc 0 "restore into a fresh project"
listing "${P2}_data" >"$TMP/l2"
if diff "$TMP/l1" "$TMP/l2" >"$TMP/diff"; then ok; else fail "restored volume differs: $(head -20 "$TMP/diff")"; fi
[ "$(cat "$TMP/p2/site/index.html" 2>/dev/null)" = "<h1>site</h1>" ] && ok || fail "bind data not restored"
[ "$(cat "$TMP/p2/.env" 2>/dev/null)" = "GREETING=hi" ] && ok || fail ".env not restored"
[ "$(docker volume inspect -f '{{index .Labels "io.zpanel.project"}}' "${P2}_data")" = "$P2" ] && ok ||
    fail "restored volume lacks the project label: $(docker volume inspect -f "{{json .Labels}}" "${P2}_data")"
run "${Z2[@]}" backup --output "$TMP/arc/b2.tar"
expect_rc 0 "backup of the restored project"
run "$ZPANEL" backup verify "$TMP/arc/b2.tar"
SUM2=$(grep -o 'volume data .*sha256:[0-9a-f]*' <<<"$OUT" | grep -o 'sha256:[0-9a-f]*')
[ "$SUM1" = "$SUM2" ] && ok || fail "restore then backup changed the checksum: $SUM1 vs $SUM2"

# --- restore over a running project: the service comes back running
run docker exec "$P1-app-1" sh -c 'echo changed >/data/private; rm -rf /data/deep; echo new >/data/extra'
run "${Z1[@]}" restore --yes "$TMP/arc/b.tar.zst"
expect_rc 0 "restore over the running project"
listing "${P1}_data" >"$TMP/l3"
if diff "$TMP/l1" "$TMP/l3" >"$TMP/diff"; then ok; else fail "in-place restore differs: $(head -20 "$TMP/diff")"; fi
[ "$(inspect_field "$P1-app-1" '{{.State.Running}}')" = true ] && ok || fail "service not running after restore"

# --- --stop: a failing backup (output directory not writable) restarts the service
mkdir -p "$TMP/ro"
chmod 0555 "$TMP/ro"
if [ "$(id -u)" = 0 ]; then chattr +i "$TMP/ro" 2>/dev/null || mount -t tmpfs -o ro tmpfs "$TMP/ro" 2>/dev/null; fi
START1=$(inspect_field "$P1-app-1" '{{.State.StartedAt}}')
run "${Z1[@]}" backup --stop --output "$TMP/ro/b.tar"
expect_rc 1 "backup into a read-only directory fails"
[ "$(inspect_field "$P1-app-1" '{{.State.Running}}')" = true ] && ok || fail "--stop did not restart after the failure"
START2=$(inspect_field "$P1-app-1" '{{.State.StartedAt}}')
[ "$START1" != "$START2" ] && ok || fail "--stop did not stop the service"
[ -z "$(ls -A "$TMP/ro")" ] && ok || fail "partial file left: $(ls -A "$TMP/ro")"
chattr -i "$TMP/ro" 2>/dev/null; umount "$TMP/ro" 2>/dev/null
run "${Z1[@]}" backup --stop --output "$TMP/arc/c.tgz"
expect_rc 0 "backup --stop"
[ "$(inspect_field "$P1-app-1" '{{.State.Running}}')" = true ] && ok || fail "--stop did not start the service again"
run "$ZPANEL" backup verify "$TMP/arc/c.tgz"
expect_rc 0 "verify a gzip archive"

# --- damaged and hostile archives: refused, nothing changed
listing "${P2}_data" >"$TMP/before"
ID_BEFORE=$(docker volume inspect -f '{{.CreatedAt}}' "${P2}_data")
mkdir -p "$TMP/x/volumes/data/sub"
python3 - "$TMP/arc/b2.tar" "$TMP/x" <<'EOF'
import sys, tarfile, io, json, os
src, d = sys.argv[1], sys.argv[2]
data = bytearray(open(src, 'rb').read())
# one byte of file content flipped (the first 100 KB file is random)
t = tarfile.open(src)
m = [x for x in t.getmembers() if x.name.endswith('a file with spaces')][0]
data[m.offset_data + 500] ^= 0xff
open(d + '/corrupt.tar', 'wb').write(data)
open(d + '/truncated.tar', 'wb').write(open(src, 'rb').read()[: len(data) // 2])
man = t.extractfile('manifest.json').read()
def mk(name, extra):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode='w', format=tarfile.PAX_FORMAT) as o:
        for x in t.getmembers():
            if x.name == 'manifest.json':
                continue
            o.addfile(x, t.extractfile(x) if x.isfile() else None)
        for ti, body in extra:
            o.addfile(ti, io.BytesIO(body) if body is not None else None)
        mi = tarfile.TarInfo('manifest.json'); mi.size = len(man)
        o.addfile(mi, io.BytesIO(man))
    open(d + '/' + name, 'wb').write(bio.getvalue())
ti = tarfile.TarInfo('volumes/data/../../../../tmp/evil'); ti.size = 4
mk('dotdot.tar', [(ti, b'evil')])
ti = tarfile.TarInfo('volumes/data/shadow'); ti.type = tarfile.SYMTYPE; ti.linkname = '/etc/shadow'
mk('abslink.tar', [(ti, None)])
EOF
for bad in corrupt truncated dotdot abslink; do
    run "${Z2[@]}" restore --yes "$TMP/x/$bad.tar"
    expect_rc 1 "restore of the $bad archive is refused"
    run "$ZPANEL" backup verify "$TMP/x/$bad.tar"
    expect_rc 1 "verify of the $bad archive fails"
done
listing "${P2}_data" >"$TMP/after"
if diff "$TMP/before" "$TMP/after" >/dev/null; then ok; else fail "a refused restore changed the volume"; fi
[ "$(docker volume inspect -f '{{.CreatedAt}}' "${P2}_data")" = "$ID_BEFORE" ] && ok || fail "a refused restore recreated the volume"
[ ! -e /tmp/evil ] && ok || fail "../ entry escaped"

# --- --volume selects; an unknown one is a usage error
run "${Z2[@]}" restore --yes --volume nope "$TMP/arc/b.tar.zst"
expect_rc 2 "unknown --volume"
run "${Z2[@]}" restore --yes --volume data "$TMP/arc/b.tar.zst"
expect_rc 0 "restore --volume data"

cleanup
finish
