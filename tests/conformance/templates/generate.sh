#!/usr/bin/env bash
# Record that Docker Compose v2 accepts what each template renders to: render them all
# (render.sh), run `docker-compose-v2 config -q` in each project directory (it must accept
# it), and keep the rendered compose file as expected/<name>.yaml. check.sh then renders
# again and compares byte for byte, without Compose v2.
# usage: generate.sh [ZPANEL]   (run from anywhere; needs docker-compose-v2 on PATH)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
zpanel=${1:-$src/build/zpanel}
compose=${COMPOSE_V2:-docker-compose-v2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$here/render.sh" "$zpanel" "$src" "$tmp"
rm -rf "$here/expected"
mkdir -p "$here/expected"
while read -r n; do
    (cd "$tmp/$n" && "$compose" config -q) || { echo "Compose v2 rejects $n" >&2; exit 1; }
    cp "$tmp/$n/compose.yaml" "$here/expected/$n.yaml"
    echo "accepted: $n"
done <"$tmp/.names"
"$compose" version >"$here/expected/COMPOSE_VERSION"
