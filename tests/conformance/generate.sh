#!/usr/bin/env bash
# tests/conformance/generate.sh: record what Docker Compose v2 prints for each case, as the
# expectation the conformance test (run.py) compares zpanel with.
#   tests/conformance/generate.sh [CASE_DIR...]   (default: every case of cases/ and loader/)
# For each case directory: runs `docker compose [args] config --format json` in it with a
# clean environment (PATH, HOME and the case's `env` file only), replaces the case
# directory's absolute path with @CASE@, and writes expected.json, or expected.err (its
# stderr) when Compose rejects the case. Cases holding a HANDWRITTEN file (fields Compose
# 2.26 predates) are left alone: their expectation is written by hand from the current
# specification. COMPOSE=/path/to/compose overrides the binary (default: docker-compose-v2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
compose=${COMPOSE:-/usr/local/bin/docker-compose-v2}
[ -x "$compose" ] || { echo "generate: $compose missing (scripts/compose-v2.sh)" >&2; exit 2; }
echo "generate: $("$compose" version)" >&2
if [ $# -eq 0 ]; then set -- "$here"/cases/*/ "$here"/loader/*/; fi
n=0
for dir in "$@"; do
    dir=$(cd "$dir" && pwd)
    [ -e "$dir/HANDWRITTEN" ] && continue
    args=()
    if [ -f "$dir/args" ]; then mapfile -t args <"$dir/args"; fi
    envs=()
    if [ -f "$dir/env" ]; then mapfile -t envs <"$dir/env"; fi
    rm -f "$dir/expected.json" "$dir/expected.err"
    set +e
    out=$(cd "$dir" && env -i PATH="$PATH" HOME=/nonexistent "${envs[@]}" \
        "$compose" "${args[@]}" config --format json 2>"$dir/.stderr")
    rc=$?
    set -e
    if [ $rc -eq 0 ]; then
        printf '%s\n' "$out" | sed "s|$dir|@CASE@|g" >"$dir/expected.json"
        rm -f "$dir/.stderr"
    else
        sed "s|$dir|@CASE@|g" "$dir/.stderr" >"$dir/expected.err"
        rm -f "$dir/.stderr"
    fi
    n=$((n + 1))
done
echo "generate: $n cases recorded" >&2
