#!/usr/bin/env bash
# End-to-end corpus: every file in tests/data/compose/corpus/valid must load (exit 0) and
# read back to the same output; every file in .../invalid must be refused with exit 3,
# nothing on stdout, and each of its "# expect: TEXT" lines found in the diagnostics.
. "$(dirname "$0")/lib.sh"
C=$ZP_SOURCE_DIR/tests/data/compose/corpus
export TAG=1.0 SET_EMPTY= FROM_HOST=from-the-host
unset UNSET_A UNSET_E UNSET_G REPLICAS

for f in "$C"/valid/*.yaml; do
    name=$(basename "$f")
    run "$ZPANEL" -p corpus -f "$f" config
    expect_rc 0 "valid/$name"
    expect_err_empty "valid/$name"
    echo "$OUT" >"$TMP/first.yaml"
    run "$ZPANEL" -p corpus --project-directory "$C/valid" -f - config <"$TMP/first.yaml"
    if [ "$RC" -eq 0 ] && [ "$OUT" = "$(cat "$TMP/first.yaml")" ]; then ok; else
        fail "valid/$name: round trip differs (rc $RC): $(diff <(echo "$OUT") "$TMP/first.yaml" | head -10) $ERR"
    fi
done

for f in "$C"/invalid/*.yaml; do
    name=$(basename "$f")
    run "$ZPANEL" -p corpus -f "$f" config
    expect_rc 3 "invalid/$name"
    expect_out_eq "" "invalid/$name prints nothing on stdout"
    n=0
    while IFS= read -r want; do
        n=$((n + 1))
        expect_err_has "$want" "invalid/$name"
    done < <(sed -n 's/^# expect: //p' "$f")
    [ "$n" -gt 0 ] && ok || fail "invalid/$name has no '# expect:' line"
done

# spot checks of the canonical form on the valid corpus
run "$ZPANEL" -p corpus -f "$C/valid/ports-all-forms.yaml" config --format json
json_check 'len([p for p in m["services"]["web"]["ports"] if p["target"] in (3001, 3002, 3003)]) == 3' "container port range expanded"
json_check '{"mode": "ingress", "host_ip": "::1", "target": 6001, "published": "6001", "protocol": "tcp"} in m["services"]["web"]["ports"]' "bracketed IPv6 host"
json_check '{"mode": "ingress", "host_ip": "127.0.0.1", "target": 5002, "protocol": "tcp"} in m["services"]["web"]["ports"]' "empty published port"
run "$ZPANEL" -p corpus -f "$C/valid/anchors-merge.yaml" config --format json
json_check 'm["services"]["api"]["environment"] == {"TZ": "UTC", "LANG": "C.UTF-8", "PORT": "8080"}' "merge key inside environment"
json_check 'm["services"]["worker"]["restart"] == "no" and m["services"]["api"]["restart"] == "unless-stopped"' "explicit key wins over merge key"
json_check 'm["services"]["api"]["logging"]["options"]["max-file"] == "3"' "merged logging"
run "$ZPANEL" -p corpus -f "$C/valid/interpolation-forms.yaml" config --format json
json_check 'm["services"]["app"]["environment"] == {"A": "fallback", "B": "was-empty", "C": "", "D": "tag-is-set", "E": "", "F": "$$HOME stays literal", "G": "1.0"}' "interpolation forms"
json_check 'm["services"]["app"]["deploy"]["replicas"] == 2' "interpolated integer"
run "$ZPANEL" -p corpus -f "$C/valid/depends-health.yaml" config --format json
json_check 'm["services"]["web"]["depends_on"]["cache"] == {"condition": "service_started", "required": False}' "required: false"
json_check 'm["services"]["web"]["depends_on"]["db"]["restart"] is True' "restart: true"
json_check 'm["services"]["cache"]["healthcheck"] == {"test": ["NONE"]}' "disabled health check"
run "$ZPANEL" -p corpus -f "$C/valid/resources-deploy.yaml" config --format json
json_check 'm["services"]["app"]["deploy"]["resources"]["limits"] == {"cpus": 0.5, "memory": 536870912, "pids": 100}' "deploy limits"
json_check 'm["services"]["app"]["ulimits"]["nofile"] == {"soft": 20000, "hard": 40000} and m["services"]["app"]["ulimits"]["nproc"] == 65535' "ulimits"
json_check 'm["services"]["app"]["shm_size"] == 67108864 and m["services"]["app"]["cpus"] == 0.5' "sizes and cpus"
run "$ZPANEL" -p corpus -f "$C/valid/env-and-labels.yaml" config --format json
json_check 'm["services"]["app"]["environment"]["FROM_HOST"] == "from-the-host" and m["services"]["app"]["environment"]["EMPTY"] == ""' "environment from the host"
json_check 'm["services"]["app"]["labels"]["com.example.b"] == "true"' "label values are strings"
json_check 'm["services"]["app"]["entrypoint"] == ["/entry.sh", "--flag", "two words"]' "entrypoint split"
json_check 'm["services"]["app"]["devices"] == [{"source": "/dev/fuse", "target": "/dev/fuse", "permissions": "rwm"}]' "devices"
json_check 'sorted(m["services"]["app"]["extra_hosts"]) == ["otherhost=::1", "somehost=162.242.195.82"]' "extra_hosts"
json_check 'm["services"]["app"]["dns"] == ["8.8.8.8"]' "single dns string"
run "$ZPANEL" -p corpus -f "$C/valid/reset-override.yaml" config --format json
json_check '"ports" not in m["services"]["app"] and "command" not in m["services"]["app"]' "!reset removes"
run "$ZPANEL" -p corpus -f "$C/valid/secrets-configs.yaml" config --format json
json_check 'm["services"]["app"]["secrets"][1]["mode"] == 288' "octal secret mode"
json_check 'm["secrets"]["db_password"]["file"] == "'"$C"'/valid/secrets/db.txt"' "secret file absolute"
run "$ZPANEL" -p corpus -f "$C/valid/networks.yaml" config --format json
json_check 'm["networks"]["outside"] == {"name": "shared-net", "external": True}' "external network"
json_check '"default" not in m["networks"]' "no default network when nobody uses it"
json_check 'm["services"]["proxy"]["networks"]["front"]["aliases"] == ["edge"]' "network aliases"

finish
