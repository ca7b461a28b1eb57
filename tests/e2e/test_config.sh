#!/usr/bin/env bash
# End-to-end tests of `zpanel config`: the real binary on project directories, checking
# outputs, diagnostics (file:line:col), exit codes and round-trip stability.
. "$(dirname "$0")/lib.sh"
cd "$TMP"

# --- a project with an override file and .env: discovery, merge, interpolation
B=$DATA/basic
run env -u TAG -u MODE "$ZPANEL" --project-directory "$B" -f "$B/compose.yaml" \
    -f "$B/compose.override.yaml" config --format json
expect_rc 0 "basic config"
json_check 'm["name"] == "basic"' "project name from the directory"
json_check 'm["services"]["web"]["image"] == "nginx:1.27"' ".env interpolation"
json_check 'm["services"]["web"]["environment"]["MODE"] == "production"' "list environment"
# a literal '$' is printed as '$$' so that the output reads back to the same value
json_check 'm["services"]["web"]["environment"]["PRICE"] == "$$5"' "\$\$ escape"
json_check 'm["services"]["web"]["environment"]["EXTRA"] == "from-override"' "override merged"
json_check 'len(m["services"]["web"]["ports"]) == 4' "ports: range expanded and override appended"
json_check '{"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080", "protocol": "tcp"} in m["services"]["web"]["ports"]' "long port syntax"
json_check 'any(p["target"] == 9001 and p["published"] == "9001" and p["protocol"] == "udp" for p in m["services"]["web"]["ports"])' "udp range"
json_check 'm["services"]["web"]["volumes"][0] == {"type": "bind", "source": "'"$B"'/html", "target": "/usr/share/nginx/html", "read_only": True, "bind": {"create_host_path": True}}' "bind volume made absolute"
json_check 'm["services"]["web"]["volumes"][1]["type"] == "volume" and m["services"]["web"]["volumes"][1]["source"] == "cache"' "named volume"
json_check 'm["services"]["web"]["depends_on"] == {"db": {"condition": "service_started", "required": True}}' "depends_on list to map"
json_check 'm["services"]["web"]["healthcheck"]["test"] == ["CMD-SHELL", "curl -f http://localhost/"]' "healthcheck test string"
json_check 'm["services"]["web"]["healthcheck"]["interval"] == "1m30s"' "duration normalised"
json_check 'm["services"]["web"]["mem_limit"] == 536870912' "size in bytes"
json_check 'm["services"]["web"]["command"] == ["nginx", "-g", "daemon off;"]' "command split like a shell"
json_check 'm["networks"]["default"]["name"] == "basic_default"' "implicit default network"
json_check 'm["volumes"]["dbdata"]["name"] == "basic_dbdata"' "volume name"

# the process environment wins over .env
run env TAG=9 "$ZPANEL" --project-directory "$B" -f "$B/compose.yaml" config --format json
json_check 'm["services"]["web"]["image"] == "nginx:9"' "process env wins over .env"

# discovery from a subdirectory finds compose.yaml and its override, and reads .env
cp -r "$B" "$TMP/basic-copy" && mkdir -p "$TMP/basic-copy/sub/deeper" && cd "$TMP/basic-copy/sub/deeper"
run env -u TAG -u MODE "$ZPANEL" config --format json
cd "$TMP"
expect_rc 0 "discovery from a subdirectory"
json_check 'm["services"]["web"]["environment"]["EXTRA"] == "from-override"' "override discovered"

# YAML output reads back to the same output (round trip), through stdin too
run env -u TAG -u MODE "$ZPANEL" --project-directory "$B" config
expect_rc 0 "yaml output"
echo "$OUT" >"$TMP/first.yaml"
expect_out_has 'published: "8080"' "published ports are strings"
run "$ZPANEL" --project-directory "$B" -f - config <"$TMP/first.yaml"
expect_rc 0 "config of its own output"
if [ "$OUT" = "$(cat "$TMP/first.yaml")" ]; then ok; else
    fail "round trip differs: $(diff <(echo "$OUT") "$TMP/first.yaml" | head -20)"
fi

# --- listing flags, hashes, quiet
run env -u TAG "$ZPANEL" --project-directory "$B" config --services
expect_out_eq $'db\nweb' "--services"
run env -u TAG "$ZPANEL" --project-directory "$B" config --volumes
expect_out_eq $'cache\ndbdata' "--volumes"
run env -u TAG "$ZPANEL" --project-directory "$B" config --images
expect_out_eq $'postgres:16\nnginx:1.27' "--images"
run env -u TAG "$ZPANEL" --project-directory "$B" config -q
expect_rc 0 "-q"
expect_out_eq "" "-q prints nothing"
run env -u TAG "$ZPANEL" --project-directory "$B" config --hash '*'
h1=$OUT
[ "$(wc -l <<<"$h1")" -eq 2 ] && grep -qE '^db [0-9a-f]{64}$' <<<"$h1" && ok || fail "--hash lines: $h1"
run env TAG=2 "$ZPANEL" --project-directory "$B" config --hash web
[ "$OUT" != "$(grep '^web ' <<<"$h1")" ] && ok || fail "hash changes with the image"
run env -u TAG "$ZPANEL" --project-directory "$B" config --hash db
[ "$OUT" = "$(grep '^db ' <<<"$h1")" ] && ok || fail "hash of an unchanged service is stable"

# --- profiles
P=$DATA/profiles
run "$ZPANEL" --project-directory "$P" config --services
expect_out_eq "app" "no profile: only unprofiled services"
run "$ZPANEL" --project-directory "$P" --profile debug config --services
expect_out_eq $'app\ndebug' "--profile debug"
run env COMPOSE_PROFILES=ops,debug "$ZPANEL" --project-directory "$P" config --services
expect_out_eq $'app\ndebug\nmetrics' "COMPOSE_PROFILES"
run "$ZPANEL" --project-directory "$P" config --profiles
expect_out_eq $'debug\nmonitoring\nops' "--profiles"
run "$ZPANEL" --project-directory "$P" config --services metrics
expect_out_has "metrics" "a service named on the command line enables its profile"

# --- COMPOSE_FILE and COMPOSE_PROJECT_NAME
run env -u TAG COMPOSE_FILE="$B/compose.yaml:$B/compose.override.yaml" COMPOSE_PROJECT_NAME=demo \
    "$ZPANEL" config --format json
json_check 'm["name"] == "demo" and "EXTRA" in m["services"]["web"]["environment"]' "COMPOSE_FILE and COMPOSE_PROJECT_NAME"
run "$ZPANEL" -p demo2 --project-directory "$P" config --format json
json_check 'm["name"] == "demo2" and m["networks"]["default"]["name"] == "demo2_default"' "-p"

# --- env files, extends, include, warnings, --no-interpolate
PR=$ZP_SOURCE_DIR/tests/data/compose/projects
run env -u TAG -u PNAME -u ONLY_DOTENV "$ZPANEL" --project-directory "$PR/envfiles" --env-file "$PR/envfiles/alt.env" config --format json
expect_rc 0 "--env-file"
json_check 'm["services"]["app"]["image"] == "app:alt" and m["services"]["app"]["environment"]["ONLY_DOTENV"] == "unset"' "--env-file replaces .env"
run "$ZPANEL" --project-directory "$PR/extends" config --format json
expect_rc 0 "extends"
json_check 'm["services"]["cli"]["environment"] == {"TZ": "utc", "PORT": "8080"} and m["services"]["cli"]["user"] == "root"' "extends in the same file, two levels"
json_check 'm["services"]["cli"]["security_opt"] == ["label:role:ROLE", "label:user:USER"]' "extends merges sequences"
json_check 'm["services"]["remote"]["command"] == ["make", "test"] and m["services"]["remote"]["build"]["context"] == "'"$PR"'/extends/common/ctx"' "extends from another file, paths relative to it"
json_check '"extends" not in m["services"]["remote"]' "extends resolved"
run env -u API_TAG "$ZPANEL" --project-directory "$PR/include" config --format json
expect_rc 0 "include"
json_check 'm["services"]["api"]["image"] == "api:fromsub" and "backend" in m["networks"]' "include brings services, networks and its own .env"
printf 'services:\n  web:\n    image: "web:${NOT_SET_ANYWHERE}"\n' >"$TMP/warn.yaml"
run env -u NOT_SET_ANYWHERE "$ZPANEL" -f "$TMP/warn.yaml" config --images
expect_rc 0 "unset variable is not an error"
expect_out_eq "web:" "unset variable becomes empty"
expect_err_has "warn.yaml:3:12" "warning has a position"
expect_err_has "NOT_SET_ANYWHERE" "warning names the variable"
run env TAG=5 "$ZPANEL" -f "$TMP/warn.yaml" config --no-interpolate --format json
json_check 'm["services"]["web"]["image"] == "web:${NOT_SET_ANYWHERE}"' "--no-interpolate keeps references"
expect_err_empty "--no-interpolate gives no warning"
run "$ZPANEL" -H unix:///nonexistent.sock -f "$TMP/warn.yaml" config -q
expect_rc 0 "-H accepted (config does not contact the engine)"

# --- invalid files: every problem, with file:line:col, exit 3
I=$DATA/invalid
run "$ZPANEL" --project-directory "$I" config
expect_rc 3 "invalid project"
expect_out_eq "" "nothing on stdout for an invalid project"
expect_err_has "compose.yaml:3:5: services.web.imagee: unknown key 'imagee'" "unknown key with position"
expect_err_has "did you mean 'image'?" "suggestion"
expect_err_has "compose.yaml:5:9: services.web.ports[0]" "bad port position"
expect_err_has "compose.yaml:6:14: services.web.restart" "bad restart policy"
expect_err_has "compose.yaml:8:17: services.web.healthcheck.interval" "bad duration"
expect_err_has "compose.yaml:15:16: services.worker.mem_limit" "bad size"
n=$(grep -c 'compose.yaml:[0-9]*:[0-9]*:' <<<"$ERR")
[ "$n" -ge 5 ] && ok || fail "expected every problem reported, got $n lines: $ERR"

run "$ZPANEL" --project-directory "$DATA/cycle" config
expect_rc 3 "cycle"
expect_err_has "dependency cycle: a -> b -> c -> a" "cycle named"

run env -u DB_PASSWORD "$ZPANEL" --project-directory "$DATA/required" config
expect_rc 3 "required variable"
expect_err_has "compose.yaml:5:26: services.db.environment.POSTGRES_PASSWORD" "required variable position"
expect_err_has "DB_PASSWORD" "required variable named"
expect_err_has "set DB_PASSWORD in .env" "required variable message"

printf 'services:\n  web:\n    image: a\n    image: b\n' >"$TMP/dup.yaml"
run "$ZPANEL" -f "$TMP/dup.yaml" config
expect_rc 3 "duplicate key"
expect_err_has "dup.yaml:4:5" "duplicate key position"
printf 'services:\n  web:\n    image: [unclosed\n' >"$TMP/syntax.yaml"
run "$ZPANEL" -f "$TMP/syntax.yaml" config
expect_rc 3 "yaml syntax error"
expect_err_has "syntax.yaml:" "syntax error names the file"

# an alias bomb is refused quickly, not expanded
python3 - "$TMP/bomb.yaml" <<'PY'
import sys
lines = ['x-a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
for i in range(1, 12):
    lines.append(f'x-a{i}: &a{i} [' + ", ".join([f"*a{i-1}"] * 9) + ']')
lines.append("services: {}")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
run timeout 20 "$ZPANEL" -f "$TMP/bomb.yaml" config -q
expect_rc 3 "alias bomb"

# --- usage errors: exit 2
run "$ZPANEL" config --format xml
expect_rc 2 "bad --format"
expect_err_has "--format" "bad --format named"
run "$ZPANEL" --bogus config
expect_rc 2 "unknown global flag"
run "$ZPANEL" frobnicate
expect_rc 2 "unknown command"
run "$ZPANEL" -f "$TMP/does-not-exist.yaml" config
expect_rc 3 "missing file"
expect_err_has "does-not-exist.yaml" "missing file named"
mkdir -p "$TMP/empty" && cd "$TMP/empty"
run "$ZPANEL" config
expect_rc 3 "no compose file"
expect_err_has "no compose file found" "discovery failure explained"
cd "$TMP"

# --- the bundled example and a large generated project
run "$ZPANEL" --project-directory "$ZP_SOURCE_DIR/examples/hello" config --format json
expect_rc 0 "examples/hello"
json_check 'sorted(m["services"]) == ["db", "web", "worker"]' "example services (debug is a profile)"
json_check 'm["services"]["web"]["depends_on"]["db"]["condition"] == "service_healthy"' "example health gate"
python3 "$ZP_SOURCE_DIR/bench/gen_compose.py" 2000 "$TMP/big"
run "$ZPANEL" --project-directory "$TMP/big" config --format json
expect_rc 0 "2000 generated services"
json_check 'len(m["services"]) == 2000 and m["services"]["svc7"]["environment"]["LOG_LEVEL"] == "debug"' "generated project content"

finish
