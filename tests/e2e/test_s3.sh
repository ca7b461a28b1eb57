#!/usr/bin/env bash
# End-to-end: backups to S3-compatible storage. A real s3rver (npm, installed by
# scripts/setup.sh into .deps/s3rver) runs on 127.0.0.1 at a free port; zpanel talks to it
# through tests/e2e/s3_proxy.py, which checks every request's SigV4 signature with
# awscli's own signer (s3rver 3.7 does not check signatures against the secret) and injects
# faults: 500s, 503 SlowDown, connections cut in the middle of a part or of a download.
# What zpanel wrote is checked independently with Debian's awscli straight against
# s3rver: size, SHA-256 of the object against the checksum zpanel printed and recorded,
# and the downloaded archive verified. Then restore from S3, tampering detected, and the
# errors: wrong credentials, missing bucket, unreachable endpoint, missing object.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"
require_engine

S3RVER=${ZP_S3RVER:-$ZP_SOURCE_DIR/.deps/s3rver/node_modules/.bin/s3rver}
AWS=${ZP_AWSCLI:-/usr/bin/aws}
[ -x "$S3RVER" ] || skip_test "s3rver is not installed at $S3RVER: run scripts/setup.sh"
[ -x "$AWS" ] || skip_test "Debian's awscli is not installed ($AWS): run scripts/setup.sh"
/usr/bin/python3 -c 'import awscli, botocore.auth' 2>/dev/null ||
    skip_test "awscli's botocore is not importable by /usr/bin/python3: run scripts/setup.sh"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
SPORT=$(free_port)
PPORT=$(free_port)
DEAD=$(free_port) # nothing listens there
BUCKET=zps3-bucket
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=
export ZPANEL_STATE_DIR=$TMP/state ZPANEL_S3_PART_SIZE=5MiB ZPANEL_S3_RETRY_MS=20
export TMPDIR=$TMP/tmpdir # where restore and verify download archives
mkdir -p "$TMPDIR"
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN AWS_S3_PATH_STYLE

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap 'cleanup; rm -rf "$TMP"' EXIT

mkdir -p "$TMP/s3data"
# --service-endpoint localhost: BUCKET.s3.localhost is virtual-host style (curl resolves
# *.localhost to the loopback itself); 127.0.0.1 stays path style
"$S3RVER" -d "$TMP/s3data" -a 127.0.0.1 -p "$SPORT" --silent --configure-bucket "$BUCKET" \
    --service-endpoint localhost \
    >"$TMP/s3rver.log" 2>&1 &
pids+=($!)
: >"$TMP/mode"
: >"$TMP/plog"
/usr/bin/python3 "$ZP_SOURCE_DIR/tests/e2e/s3_proxy.py" "$PPORT" "$SPORT" "$TMP/mode" "$TMP/plog" \
    S3RVER >"$TMP/proxy.log" 2>&1 &
pids+=($!)
for port in "$SPORT" "$PPORT"; do
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
done
(exec 3<>"/dev/tcp/127.0.0.1/$SPORT") 2>/dev/null || { cat "$TMP/s3rver.log"; skip_test "s3rver did not start"; }
(exec 3<>"/dev/tcp/127.0.0.1/$PPORT") 2>/dev/null || { cat "$TMP/proxy.log"; skip_test "the proxy did not start"; }

S3=(--s3-endpoint "http://127.0.0.1:$PPORT" --s3-path-style)
A=("$AWS" --endpoint-url "http://127.0.0.1:$SPORT")
mode() { echo "$1" >"$TMP/mode"; : >"$TMP/plog"; }

# a project of bind data only: nothing to deploy, the engine is only asked about volumes
mkdir -p "$TMP/p1/data/sub" "$TMP/p2"
cat >"$TMP/p1/compose.yaml" <<'EOF'
services:
  app:
    image: zps3-never-pulled:1
    volumes:
      - ./data:/data
EOF
cp "$TMP/p1/compose.yaml" "$TMP/p2/compose.yaml"
head -c 12000000 /dev/urandom >"$TMP/p1/data/big.bin" # random: 3 parts of 5 MiB once zstd'd
echo "hello" >"$TMP/p1/data/sub/small.txt"
Z1=("$ZPANEL" -p zps3-a --project-directory "$TMP/p1" -f "$TMP/p1/compose.yaml" --progress quiet)
Z2=("$ZPANEL" -p zps3-b --project-directory "$TMP/p2" -f "$TMP/p2/compose.yaml" --progress quiet)

# the key and the SHA-256 that backup printed
wrote_key() { sed -n "s|^wrote 's3://$BUCKET/\([^']*\)'.*|\1|p" <<<"$OUT"; }
wrote_sha() { sed -n 's/^  object [0-9]* bytes, sha256:\([0-9a-f]*\),.*/\1/p' <<<"$OUT"; }
wrote_size() { sed -n 's/^  object \([0-9]*\) bytes,.*/\1/p' <<<"$OUT"; }
# check_object KEY SHA SIZE WHAT: awscli, straight against s3rver, sees the object whole
check_object() {
    local key=$1 sha=$2 size=$3 what=$4 got
    rm -f "$TMP/dl.tar.zst"
    got=$("${A[@]}" s3api get-object --bucket "$BUCKET" --key "$key" --query ContentLength \
        --output text "$TMP/dl.tar.zst" 2>&1)
    [ "$got" = "$size" ] && ok || fail "$what: awscli sees size '$got', zpanel said $size"
    got=$(sha256sum "$TMP/dl.tar.zst" | cut -d' ' -f1)
    [ -n "$sha" ] && [ "$got" = "$sha" ] && ok || fail "$what: the object's sha256 is $got, zpanel said '$sha'"
    "${A[@]}" s3api get-object --bucket "$BUCKET" --key "$key.sha256" "$TMP/sum" >/dev/null 2>&1
    got=$(cut -d' ' -f1 "$TMP/sum" 2>/dev/null)
    [ "$got" = "$sha" ] && ok || fail "$what: $key.sha256 holds '$got', want $sha"
    run "$ZPANEL" backup verify "$TMP/dl.tar.zst"
    expect_rc 0 "$what: the downloaded archive verifies"
}
no_bad_signature() {
    if grep -q 'sig=bad' "$TMP/plog"; then fail "$1: a request had a bad signature: $(grep 'sig=bad' "$TMP/plog")"; else ok; fi
}

# 1. a clean multipart upload, every request signed right
mode ""
run "${Z1[@]}" backup --to "s3://$BUCKET/nightly/" "${S3[@]}"
expect_rc 0 "backup --to s3://"
KEY=$(wrote_key)
SHA=$(wrote_sha)
SIZE=$(wrote_size)
case "$KEY" in nightly/zps3-a-*.tar.zst) ok ;; *) fail "backup --to: key '$KEY' is not nightly/zps3-a-<time>.tar.zst" ;; esac
parts=$(grep -c 'partNumber=.* 200 sig=ok' "$TMP/plog")
[ "$parts" -ge 3 ] && ok || fail "backup --to: $parts parts uploaded, want 3 or more (multipart): $(cat "$TMP/plog")"
no_bad_signature "backup --to"
check_object "$KEY" "$SHA" "$SIZE" "backup --to"

run "$ZPANEL" backup list --from "s3://$BUCKET/nightly/" "${S3[@]}"
expect_rc 0 "backup list"
expect_out_has "s3://$BUCKET/$KEY" "backup list"
if grep -q '\.sha256' <<<"$OUT"; then fail "backup list shows checksum objects: $OUT"; else ok; fi
run "$ZPANEL" backup list --from "s3://$BUCKET/nightly/" --format json "${S3[@]}"
json_check "len(m) == 1 and m[0]['key'] == '$KEY' and m[0]['size'] == $SIZE and m[0]['checksum']" "backup list --format json"

# 2. 500s, SlowDown and connections cut in the middle of a part: retried, verified
mode "500:2,slowdown:2,drop:2"
run "${Z1[@]}" backup --to "s3://$BUCKET/faults/" "${S3[@]}"
expect_rc 0 "backup through 500s, SlowDown and cut connections"
for f in ' 500 sig=ok' ' 503 sig=ok' ' drop '; do
    n=$(grep -c -- "$f" "$TMP/plog")
    [ "$n" -eq 2 ] && ok || fail "faults: '$f' injected $n times, want 2: $(cat "$TMP/plog")"
done
no_bad_signature "faults"
check_object "$(wrote_key)" "$(wrote_sha)" "$(wrote_size)" "backup through faults"

# 3. every part cut: the backup fails loudly, the multipart upload is aborted, no object
mode "dropall"
run "${Z1[@]}" backup --to "s3://$BUCKET/failed/" "${S3[@]}"
expect_rc 1 "backup when every part upload is cut"
expect_err_has "part " "backup when every part upload is cut"
expect_err_has "after 6 attempts" "backup when every part upload is cut"
grep -q '^DELETE .*?uploadId=' "$TMP/plog" && ok || fail "no abort (DELETE ?uploadId) after the failure: $(cat "$TMP/plog")"
run "$ZPANEL" backup list --from "s3://$BUCKET/failed/" "${S3[@]}"
expect_out_eq "$(printf 'ARCHIVE   SIZE   MODIFIED   CHECKSUM')" "backup list after a failed upload"
mode ""

# 4. verify from S3 with the download cut twice: resumed with a Range, same bytes
mode "dropget:2"
run "$ZPANEL" backup verify "s3://$BUCKET/$KEY" "${S3[@]}"
expect_rc 0 "backup verify s3:// through cut downloads"
expect_out_has "sha256:$SHA as recorded at upload" "backup verify s3://"
n=$(grep -c 'range=bytes=' "$TMP/plog")
[ "$n" -eq 2 ] && ok || fail "verify: $n resumed GETs, want 2: $(cat "$TMP/plog")"
mode ""

# 5. restore from S3 into another project
run "${Z2[@]}" restore "s3://$BUCKET/$KEY" --yes "${S3[@]}"
expect_rc 0 "restore s3://"
cmp -s "$TMP/p1/data/big.bin" "$TMP/p2/data/big.bin" && cmp -s "$TMP/p1/data/sub/small.txt" "$TMP/p2/data/sub/small.txt" &&
    ok || fail "restore s3://: the restored files differ"
[ -z "$(ls -A "$TMPDIR")" ] && ok || fail "restore left its download in \$TMPDIR: $(ls -A "$TMPDIR")"

# 6. an object changed behind zpanel's back is refused, nothing restored
echo "changed" >"$TMP/p2/data/sub/small.txt"
head -c "$SIZE" /dev/urandom >"$TMP/other"
"${A[@]}" s3 cp --quiet "$TMP/other" "s3://$BUCKET/$KEY" || fail "aws s3 cp (tampering)"
run "$ZPANEL" backup verify "s3://$BUCKET/$KEY" "${S3[@]}"
expect_rc 1 "verify of a tampered object"
expect_err_has "does not match" "verify of a tampered object"
run "${Z2[@]}" restore "s3://$BUCKET/$KEY" --yes "${S3[@]}"
expect_rc 1 "restore of a tampered object"
[ "$(cat "$TMP/p2/data/sub/small.txt")" = changed ] && ok || fail "a refused restore changed files"

[ -z "$(ls -A "$TMPDIR")" ] && ok || fail "refused restores left downloads in \$TMPDIR: $(ls -A "$TMPDIR")"

# 7. virtual-host style (BUCKET.s3.localhost), and an archive smaller than a part: one PUT
mkdir -p "$TMP/p3/data"
cp "$TMP/p1/compose.yaml" "$TMP/p3/compose.yaml"
echo "small" >"$TMP/p3/data/f"
mode ""
run "$ZPANEL" -p zps3-c --project-directory "$TMP/p3" -f "$TMP/p3/compose.yaml" --progress quiet \
    backup --to "s3://$BUCKET/vhost/one.tar.gz" --s3-endpoint "http://s3.localhost:$PPORT"
expect_rc 0 "backup --to in virtual-host style"
grep -q '^PUT /vhost/one.tar.gz 200 sig=ok' "$TMP/plog" && ok || fail "virtual-host style: no single PUT of /vhost/one.tar.gz: $(cat "$TMP/plog")"
grep -q 'uploads=' "$TMP/plog" && fail "a small archive started a multipart upload" || ok
no_bad_signature "virtual-host style"
check_object "vhost/one.tar.gz" "$(wrote_sha)" "$(wrote_size)" "single PUT"
run "$ZPANEL" backup verify "s3://$BUCKET/vhost/one.tar.gz" --s3-endpoint "http://s3.localhost:$PPORT"
expect_rc 0 "backup verify in virtual-host style"

# 8. clear errors, non-zero exits
run env AWS_ACCESS_KEY_ID=zps3-nobody "${Z1[@]}" backup --to "s3://$BUCKET/x/" "${S3[@]}"
expect_rc 1 "unknown access key"
expect_err_has "InvalidAccessKeyId" "unknown access key"
expect_err_has "check AWS_ACCESS_KEY_ID" "unknown access key"
run env AWS_SECRET_ACCESS_KEY=zps3-wrong "${Z1[@]}" backup --to "s3://$BUCKET/x/" "${S3[@]}"
expect_rc 1 "wrong secret key"
expect_err_has "access denied" "wrong secret key"
expect_err_has "SignatureDoesNotMatch" "wrong secret key"
run "${Z1[@]}" backup --to "s3://zps3-nosuch/x/" "${S3[@]}"
expect_rc 1 "missing bucket"
expect_err_has "bucket 'zps3-nosuch' does not exist" "missing bucket"
run "${Z1[@]}" backup --to "s3://$BUCKET/x/" --s3-endpoint "http://127.0.0.1:$DEAD" --s3-path-style
expect_rc 1 "unreachable endpoint"
expect_err_has "cannot reach 'http://127.0.0.1:$DEAD'" "unreachable endpoint"
run "${Z2[@]}" restore "s3://$BUCKET/nightly/none.tar.zst" --yes "${S3[@]}"
expect_rc 1 "restore of a missing object"
expect_err_has "does not exist" "restore of a missing object"
run env -u AWS_ACCESS_KEY_ID "${Z1[@]}" backup --to "s3://$BUCKET/x/" "${S3[@]}"
expect_rc 2 "no credentials"
expect_err_has "no S3 credentials" "no credentials"
run "$ZPANEL" backup list --from "s3://Bad_Bucket/" "${S3[@]}"
expect_rc 2 "invalid bucket name"
# what failed left nothing (awscli, straight against s3rver)
all=$("${A[@]}" s3 ls --recursive "s3://$BUCKET/" 2>&1)
grep -q ' nightly/' <<<"$all" && ok || fail "awscli lists nothing under nightly/: $all"
left=$(grep -E ' (failed|x)/' <<<"$all")
[ -z "$left" ] && ok || fail "failed uploads left objects: $left"

finish
