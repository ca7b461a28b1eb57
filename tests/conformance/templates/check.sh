#!/usr/bin/env bash
# The ctest of generate.sh's record: every template renders to exactly the compose file
# Compose v2 accepted when it was recorded (expected/<name>.yaml), and every template has
# a record.
# usage: check.sh ZPANEL SOURCE_DIR
set -euo pipefail
zpanel=$1 src=$2
here=$src/tests/conformance/templates
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$here/render.sh" "$zpanel" "$src" "$tmp"
fail=0 n=0
while read -r name; do
    n=$((n + 1))
    if [ ! -f "$here/expected/$name.yaml" ]; then
        echo "FAIL $name: no record (run tests/conformance/templates/generate.sh)"
        fail=1
    elif ! diff -u "$here/expected/$name.yaml" "$tmp/$name/compose.yaml"; then
        echo "FAIL $name: differs from what Compose v2 accepted"
        fail=1
    fi
done <"$tmp/.names"
[ "$n" -ge 8 ] || { echo "FAIL: only $n templates rendered"; exit 1; }
echo "$n templates render to what Compose v2 accepted"
exit $fail
