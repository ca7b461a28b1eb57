#!/usr/bin/env bash
# Render every template of the corpus (tests/data/templates) and every built-in the same
# way (project "corpus", domain example.com, fixed --set values) into OUT/<name>/ with
# `zpanel template render --env -o` (with the .env: Compose v2 reads the values from it).
# The compose files hold `${SERVICE_...}` references, not the generated values, so the
# output is the same on every run.
# usage: render.sh ZPANEL SOURCE_DIR OUT
set -euo pipefail
zpanel=$1 src=$2 out=$3
export ZPANEL_STATE_DIR=$out/.state
export ZPANEL_TEMPLATES_DIR=$out/.none
mkdir -p "$out"
names=()
for f in "$src"/tests/data/templates/*.yaml; do
    n=$(basename "$f" .yaml)
    names+=("$n")
    "$zpanel" template render "$f" -p corpus --domain example.com \
        --set ADMIN_EMAIL=admin@example.com --set DOMAIN=vpn.example.com --set EMAIL=ops@example.com --env -o "$out/$n" >/dev/null
done
for n in $("$zpanel" template list --format json | python3 -c \
    'import json,sys; print(" ".join(t["name"] for t in json.load(sys.stdin)))'); do
    names+=("builtin-$n")
    "$zpanel" template render "$n" -p corpus --domain example.com \
        --set ADMIN_EMAIL=admin@example.com --set DOMAIN=vpn.example.com --set EMAIL=ops@example.com --env -o "$out/builtin-$n" >/dev/null
done
printf '%s\n' "${names[@]}" >"$out/.names"
