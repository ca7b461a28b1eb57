#!/usr/bin/env bash
# test_acme.sh: automatic HTTPS against a real ACME server. Pebble (Let's Encrypt's test
# server, Debian's package packed into a local image by scripts/pebble-image.sh) runs on
# the proxy's network with an HTTPS listener whose certificate this test makes (a test CA
# and a leaf for the container's name); PEBBLE_VA_ALWAYS_VALID: no DNS needed.
# `proxy up --acme-ca https://<pebble>:14000/dir --acme-ca-root <test CA>`: a routed
# service with `tls: auto` answers over HTTPS on 127.0.0.1 with a certificate pebble
# issued (verified against pebble's root), HTTP redirects to HTTPS, `tls: internal` is
# served with Caddy's internal CA, `tls: off` over plain HTTP, `proxy certs` and
# `proxy status` list the hosts; pebble stopped, a new host: `up` warns naming it and the
# ACME error, `proxy certs` and `health` report it, the other hosts keep serving; the
# settings survive `proxy up` again, and after the proxy is recreated its certificate
# comes back from its data directory without a new order.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"
source "$(dirname "$0")/lib-proxy.sh"

require_engine
command -v pebble >/dev/null || skip_test "Debian's pebble is not installed (scripts/setup.sh installs it)"
command -v openssl >/dev/null || skip_test "openssl is not installed"
test_image || fail "building $TEST_IMAGE"
proxy_image || fail "building $PROXY_IMAGE"
PEBBLE_IMAGE=${PEBBLE_IMAGE:-zpanel-test/pebble:2}
DOCKER_BUILDKIT=0 bash "$ZP_SOURCE_DIR/scripts/pebble-image.sh" "$PEBBLE_IMAGE" >/dev/null 2>&1 ||
    fail "building $PEBBLE_IMAGE"

P=zpacme
PEBBLE=zpacme-pebble
export ZPANEL_STATE_DIR=$TMP/state
HP=$(free_port)
SP=$(free_port)
F=$TMP/compose.yaml
zp() { run timeout 120 "$ZPANEL" "$@"; }
teardown() {
    cleanup_routed $P
    docker rm -f $PEBBLE >/dev/null 2>&1
    timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
    # the release tags up gave the project's images
    docker images --format '{{.Repository}}:{{.Tag}}' | grep "^zpanel-release/$P-" |
        xargs -r docker rmi >/dev/null 2>&1
    rm -rf "$TMP"
}
cleanup_routed $P
docker rm -f $PEBBLE >/dev/null 2>&1
timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
trap teardown EXIT

# --- the test CA, and pebble's HTTPS certificate for its container name ---
PB=$TMP/pebble
mkdir -p "$PB"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$TMP/ca.key" -out "$TMP/ca.pem" -subj "/CN=zpacme test CA" >/dev/null 2>&1 &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PB/key.pem" \
        -out "$TMP/leaf.csr" -subj "/CN=$PEBBLE" >/dev/null 2>&1 &&
    printf 'subjectAltName=DNS:%s,IP:127.0.0.1\n' $PEBBLE >"$TMP/ext.cnf" &&
    openssl x509 -req -in "$TMP/leaf.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
        -CAcreateserial -days 1 -extfile "$TMP/ext.cnf" -out "$PB/cert.pem" >/dev/null 2>&1 &&
    ok || fail "making the test CA"
chmod 644 "$PB"/*.pem
cat >"$PB/config.json" <<JSON
{"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
 "certificate": "/pebble/cert.pem", "privateKey": "/pebble/key.pem",
 "httpPort": 5002, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON

# --- bad ACME flags: refused, nothing created ---
zp proxy up --image "$PROXY_IMAGE" --http-port "$HP" --https-port "$SP" --acme-ca http://plain/dir
expect_rc 2 "--acme-ca http://"
expect_err_has "--acme-ca: 'http://plain/dir' is not an https:// URL" "--acme-ca message"
zp proxy up --image "$PROXY_IMAGE" --http-port "$HP" --https-port "$SP" --acme-email nobody
expect_rc 2 "--acme-email without @"
zp proxy up --image "$PROXY_IMAGE" --http-port "$HP" --https-port "$SP" --acme-ca-root "$F"
expect_rc 2 "--acme-ca-root missing file"
expect_err_has "--acme-ca-root:" "--acme-ca-root message"
[ -z "$(docker ps -aq --filter name='^zpanel-proxy$')" ] && ok || fail "a refused proxy up created the edge"

# --- the proxy with pebble as its ACME server ---
CA_URL=https://$PEBBLE:14000/dir
zp proxy up --image "$PROXY_IMAGE" --http-port "$HP" --https-port "$SP" --bind 127.0.0.1 \
    --acme-email ops@zpacme.test --acme-ca "$CA_URL" --acme-ca-root "$TMP/ca.pem"
expect_rc 0 "proxy up with ACME settings"
[ "$(stat -c %a "$ZPANEL_STATE_DIR/proxy/acme.json")" = 600 ] && ok || fail "acme.json is not 0600"
inspect_field zpanel-proxy '{{range .HostConfig.Binds}}{{.}} {{end}}' |
    grep -q "acme-ca-root.pem:/zpanel-acme-ca-root.pem:ro" && ok ||
    fail "the CA root is not mounted read-only: $(inspect_field zpanel-proxy '{{.HostConfig.Binds}}')"
docker run -d --name $PEBBLE --network zpanel -p 127.0.0.1::15000 \
    -e PEBBLE_VA_ALWAYS_VALID=1 -e PEBBLE_VA_NOSLEEP=1 -e PEBBLE_WFE_NONCEREJECT=0 \
    -v "$PB:/pebble:ro" "$PEBBLE_IMAGE" -config /pebble/config.json >/dev/null ||
    fail "starting pebble"
MP=$(docker port $PEBBLE 15000/tcp | head -1 | sed 's/.*://')
for ((i = 0; i < 50; i++)); do
    curl -sf -m 2 --cacert "$TMP/ca.pem" "https://127.0.0.1:$MP/roots/0" >"$TMP/pebble-root.pem" && break
    sleep 0.2
done
grep -q "BEGIN CERTIFICATE" "$TMP/pebble-root.pem" && ok || fail "pebble's root over its HTTPS (test CA)"

cat >"$F" <<YAML
name: $P
services:
  web:
    image: $TEST_IMAGE
    command: ["sh", "-c", "echo web-page > /www.html && exec httpd -f -p 8080 -h /"]
    x-zpanel:
      routes:
        - host: a.zpacme.test
          port: 8080
      tls: auto
  int:
    image: $TEST_IMAGE
    command: ["sh", "-c", "echo int-page > /www.html && exec httpd -f -p 8080 -h /"]
    x-zpanel:
      routes:
        - host: i.zpacme.test
          port: 8080
      tls: internal
  plain:
    image: $TEST_IMAGE
    command: ["sh", "-c", "echo plain-page > /www.html && exec httpd -f -p 8080 -h /"]
    x-zpanel:
      routes:
        - host: p.zpacme.test
          port: 8080
      tls: "off"
YAML
zp -f "$F" up -d
expect_rc 0 "up of the routed project"
[ -z "$(grep -i 'certificate' <<<"$ERR")" ] && ok || fail "up warned about certificates: $ERR"

https_get() { # https_get HOST [CURL ARGS]: the body over HTTPS on 127.0.0.1:$SP
    local h=$1
    shift
    curl -s -m 5 --resolve "$h:$SP:127.0.0.1" "$@" "https://$h:$SP/www.html"
}
issuer_of() { # issuer_of HOST: the issuer of the certificate the edge serves for HOST
    openssl s_client -connect "127.0.0.1:$SP" -servername "$1" </dev/null 2>/dev/null |
        openssl x509 -noout -issuer 2>/dev/null
}
fingerprint_of() {
    openssl s_client -connect "127.0.0.1:$SP" -servername "$1" </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
wait_body 20 web-page https_get a.zpacme.test --cacert "$TMP/pebble-root.pem" && ok ||
    fail "a.zpacme.test over HTTPS, verified against pebble's root: $(https_get a.zpacme.test --cacert "$TMP/pebble-root.pem" -v 2>&1 | tail -5)"
issuer_of a.zpacme.test | grep -q "Pebble Intermediate CA" && ok ||
    fail "a.zpacme.test issuer: $(issuer_of a.zpacme.test)"
FP=$(fingerprint_of a.zpacme.test)
[ -n "$FP" ] && ok || fail "no certificate fingerprint"
# HTTP redirects to HTTPS on the published port
[ "$(curl -s -o /dev/null -m 5 -w '%{http_code} %{redirect_url}' -H 'Host: a.zpacme.test' "http://127.0.0.1:$HP/x?y=1")" = "308 https://a.zpacme.test:$SP/x?y=1" ] &&
    ok || fail "HTTP does not redirect to HTTPS"
# tls: internal, Caddy's own CA; tls: off, plain HTTP only
wait_body 10 int-page https_get i.zpacme.test -k && ok || fail "i.zpacme.test over HTTPS"
issuer_of i.zpacme.test | grep -q "Caddy Local Authority" && ok ||
    fail "i.zpacme.test issuer: $(issuer_of i.zpacme.test)"
[ "$(proxy_get "$HP" p.zpacme.test /www.html)" = plain-page ] && ok || fail "p.zpacme.test over HTTP"
[ -z "$(https_get p.zpacme.test -k)" ] && ok || fail "p.zpacme.test (tls off) is served over HTTPS"

zp proxy certs
expect_rc 0 "proxy certs"
expect_out_has "a.zpacme.test  auto  issuer 'Pebble Intermediate CA" "certs lists a.zpacme.test"
expect_out_has "i.zpacme.test  internal  issuer 'Caddy Local Authority" "certs lists i.zpacme.test"
grep -q p.zpacme.test <<<"$OUT" && fail "certs lists the plain HTTP host" || ok
zp proxy certs --format json
json_check '[c["host"] for c in m] == ["a.zpacme.test", "i.zpacme.test"] and m[0]["expires"] and m[0]["error"] is None' \
    "certs json"
zp proxy status
expect_rc 0 "proxy status"
expect_out_has "https:      a.zpacme.test  auto  issuer 'Pebble Intermediate CA" "status shows the issuer"
grep -q "a.zpacme.test.*expires 20[0-9][0-9]-" <<<"$OUT" && ok || fail "status shows no expiry: $OUT"
# certificates and account keys stay in the data directory, never readable by others
data=$ZPANEL_STATE_DIR/proxy/data/edge/caddy
ls "$data"/certificates/*/a.zpacme.test/a.zpacme.test.key >/dev/null 2>&1 && ok ||
    fail "no key in the data directory"
ls "$data"/acme/*/users/ops@zpacme.test/*.key >/dev/null 2>&1 && ok || fail "no ACME account key"
[ "$(stat -c %a "$ZPANEL_STATE_DIR/proxy")" = 700 ] && ok || fail "the proxy's directory is not 0700"
! grep -rq "PRIVATE KEY" <<<"$OUT" && ok || fail "a key was printed"

# --- ACME server gone, a new host: up warns, the others keep serving ---
docker stop -t 1 $PEBBLE >/dev/null
cat >>"$F" <<YAML
  web2:
    image: $TEST_IMAGE
    command: ["sh", "-c", "echo web2-page > /www.html && exec httpd -f -p 8080 -h /"]
    x-zpanel:
      routes:
        - host: b.zpacme.test
          port: 8080
      tls: auto
YAML
zp -f "$F" up -d
expect_rc 0 "up with the ACME server gone"
expect_err_has "host 'b.zpacme.test': no certificate: " "up warns naming the host"
expect_err_has "$PEBBLE" "up's warning gives the ACME error"
[ "$(https_get a.zpacme.test --cacert "$TMP/pebble-root.pem")" = web-page ] && ok ||
    fail "a.zpacme.test stopped serving"
[ "$(proxy_get "$HP" p.zpacme.test /www.html)" = plain-page ] && ok || fail "p.zpacme.test stopped serving"
zp proxy certs
expect_rc 1 "proxy certs with a failed issuance"
grep "b.zpacme.test" <<<"$OUT" | grep -q "no certificate  last error: .*$PEBBLE" && ok ||
    fail "certs lacks b.zpacme.test's error: $OUT"
zp -f "$F" health
expect_rc 1 "health with a failed issuance"
expect_out_has "certificate for host 'b.zpacme.test'" "health names the host"
# the control plane's /metrics shows it too
echo 'acme-e2e-password' | "$ZPANEL" user add root --role admin --password-stdin >/dev/null ||
    fail "user add"
TOKEN=$("$ZPANEL" token create --user root --scope read | tail -1)
MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$ZPANEL" serve --listen "127.0.0.1:$MPORT" >"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
metrics=
for _ in $(seq 1 100); do
    metrics=$(curl -s -m 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MPORT/metrics") &&
        [ -n "$metrics" ] && break
    sleep 0.1
done
kill $SERVE_PID 2>/dev/null
wait $SERVE_PID 2>/dev/null
grep -qx 'zpanel_proxy_certificate_error{host="b.zpacme.test"} 1' <<<"$metrics" && ok ||
    fail "/metrics lacks b's failed issuance: $metrics $(cat "$TMP/serve.log")"
grep -qx 'zpanel_proxy_certificate{host="a.zpacme.test"} 1' <<<"$metrics" && ok ||
    fail "/metrics lacks a's certificate: $metrics"
grep -qx 'zpanel_proxy_certificate_error{host="a.zpacme.test"} 0' <<<"$metrics" && ok ||
    fail "/metrics shows an error for a: $metrics"

# --- the settings survive proxy up again; the certificate survives a new edge ---
zp proxy up --image "$PROXY_IMAGE" --http-port "$HP" --https-port "$SP" --bind 127.0.0.1
expect_rc 0 "proxy up again, no ACME flags"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); sys.exit(0 if a["ca"]==sys.argv[2] and a["email"]=="ops@zpacme.test" and a["ca_root_sha256"] else 1)' \
    "$ZPANEL_STATE_DIR/proxy/acme.json" "$CA_URL" && ok || fail "acme.json lost settings"
curl -s -m 3 -H 'Host;' --unix-socket "$ZPANEL_STATE_DIR/proxy/edge.sock" http://x/config/apps/tls/automation/policies |
    grep -q "\"ca\":\"$CA_URL\"" && ok || fail "the edge's issuer is not pebble after proxy up again"
timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
zp proxy up --image "$PROXY_IMAGE" --http-port "$HP" --https-port "$SP" --bind 127.0.0.1
expect_rc 0 "proxy up after proxy down"
expect_err_has "host 'b.zpacme.test': no certificate" "proxy up warns about b.zpacme.test"
wait_body 10 web-page https_get a.zpacme.test --cacert "$TMP/pebble-root.pem" && ok ||
    fail "a.zpacme.test after the proxy was recreated"
[ "$(fingerprint_of a.zpacme.test)" = "$FP" ] && ok || fail "a.zpacme.test has a new certificate"
docker logs zpanel-proxy 2>&1 | grep '"obtaining certificate"' | grep -q '"a.zpacme.test"' &&
    fail "the new edge ordered a.zpacme.test again" || ok

# --- proxy backup / restore: the certificates and settings come back from the archive
# (pebble is still stopped: a new order could not succeed) ---
zp proxy backup -o "$TMP/proxy.tar.zst"
expect_rc 0 "proxy backup"
expect_out_has "acme.json" "the archive holds the ACME settings"
zp proxy restore "$TMP/proxy.tar.zst"
expect_rc 1 "proxy restore while the proxy runs"
expect_err_has "zpanel proxy down" "restore says to stop the proxy first"
timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
rm -rf "$ZPANEL_STATE_DIR/proxy/data" "$ZPANEL_STATE_DIR/proxy/acme.json"
zp proxy restore "$TMP/proxy.tar.zst"
expect_rc 0 "proxy restore"
[ "$(stat -c %a "$ZPANEL_STATE_DIR/proxy/acme.json")" = 600 ] && ok || fail "restored acme.json is not 0600"
zp proxy up --image "$PROXY_IMAGE" --http-port "$HP" --https-port "$SP" --bind 127.0.0.1
expect_rc 0 "proxy up after the restore"
wait_body 10 web-page https_get a.zpacme.test --cacert "$TMP/pebble-root.pem" && ok ||
    fail "a.zpacme.test after the restore"
[ "$(fingerprint_of a.zpacme.test)" = "$FP" ] && ok || fail "a.zpacme.test has a new certificate after the restore"
docker logs zpanel-proxy 2>&1 | grep '"obtaining certificate"' | grep -q '"a.zpacme.test"' &&
    fail "the restored edge ordered a.zpacme.test again" || ok

finish
