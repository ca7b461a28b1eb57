#!/usr/bin/env bash
# Every key that the Compose Specification's schema defines (top level, service, build,
# deploy, healthcheck, network, volume, secret, config) is known to zpanel: it is either
# supported or refused with "not supported yet", never "unknown key". Reads the schema
# from tests/data/compose-spec (the upstream file with its licence; see NOTICE there), or
# from ZP_COMPOSE_SCHEMA to try a newer one.
. "$(dirname "$0")/lib.sh"
schema=${ZP_COMPOSE_SCHEMA:-$ZP_SOURCE_DIR/tests/data/compose-spec/compose-spec.json}
if [ ! -f "$schema" ]; then
    echo "compose-spec.json not found at $schema (set ZP_COMPOSE_SCHEMA)"
    fail "schema missing"
    finish
    exit 1
fi
python3 - "$schema" "$ZPANEL" "$TMP" >"$TMP/coverage" <<'PY'
import json, subprocess, sys
schema, zpanel, tmp = sys.argv[1:]
spec = json.load(open(schema))
d = spec["$defs"]
cases = {
    "top": (spec["properties"], "{k}: null\n"),
    "service": (d["service"]["properties"], "services:\n  s:\n    image: a\n    {k}: null\n"),
    "build": (d["service"]["properties"]["build"]["oneOf"][1]["properties"],
              "services:\n  s:\n    build:\n      {k}: null\n"),
    "deploy": (d["deployment"]["properties"], "services:\n  s:\n    image: a\n    deploy:\n      {k}: null\n"),
    "healthcheck": (d["healthcheck"]["properties"], "services:\n  s:\n    image: a\n    healthcheck:\n      {k}: null\n"),
    "network": (d["network"]["properties"], "services: {{}}\nnetworks:\n  n:\n    {k}: null\n"),
    "volume": (d["volume"]["properties"], "services: {{}}\nvolumes:\n  n:\n    {k}: null\n"),
    "secret": (d["secret"]["properties"], "services: {{}}\nsecrets:\n  n:\n    {k}: null\n"),
    "config": (d["config"]["properties"], "services: {{}}\nconfigs:\n  n:\n    {k}: null\n"),
}
for kind, (props, tmpl) in cases.items():
    for k in props:
        path = f"{tmp}/cov.yaml"
        with open(path, "w") as f:
            f.write(tmpl.format(k=k))
        r = subprocess.run([zpanel, "-p", "cov", "-f", path, "config", "-q"],
                           capture_output=True, text=True, timeout=20)
        state = "unknown" if "unknown key" in r.stderr else (
            "crash" if r.returncode not in (0, 3) else "known")
        print(kind, k, state)
PY
total=$(wc -l <"$TMP/coverage")
[ "$total" -gt 150 ] && ok || fail "only $total keys read from the schema"
while read -r kind key state; do
    if [ "$state" = known ]; then ok; else fail "$kind key '$key' is $state"; fi
done <"$TMP/coverage"
finish
