# lib.sh: helpers for the end-to-end shell tests. Each test script sources it, calls
# `check` / `expect_*` for each assertion, and ends with `finish`.
# A check that cannot run for want of a prerequisite calls `skip REASON`: never a pass.
# The script then exits 77 (ctest's SKIP_RETURN_CODE: shown as skipped, counted as a
# skip by scripts/test.sh, which fails CI on any skip), or 1 if a check failed.
set -uo pipefail
ZPANEL=${ZPANEL:?ZPANEL must name the zpanel binary}
ZP_SOURCE_DIR=${ZP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DATA=$ZP_SOURCE_DIR/tests/data/compose/cli
e2e_passed=0
e2e_failed=0
e2e_skipped=0
TMP=$(mktemp -d)
# wrk under tests/e2e/wrk-count.lua: a paced load (see there), not one that saturates the CPU
export ZP_WRK_PACE_MS=${ZP_WRK_PACE_MS:-20}
trap 'rm -rf "$TMP"' EXIT

ok() { e2e_passed=$((e2e_passed + 1)); }
fail() {
    e2e_failed=$((e2e_failed + 1))
    echo "FAIL: $*"
}
# skip REASON: a group of checks did not run (a missing prerequisite); finish exits 77.
skip() {
    e2e_skipped=$((e2e_skipped + 1))
    echo "SKIP: $*"
}
# skip_test REASON: nothing of this test can run; exit 77 at once.
skip_test() {
    echo "SKIP: $*"
    exit 77
}

# run CMD...: runs a command, keeping its stdout, stderr and exit code in OUT, ERR, RC.
run() {
    "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
}

expect_rc() { # expect_rc WANT DESCRIPTION
    if [ "$RC" -eq "$1" ]; then ok; else fail "$2: exit code $RC, want $1 (stderr: $ERR)"; fi
}
expect_out_has() { # expect_out_has TEXT DESCRIPTION
    if grep -qF -- "$1" <<<"$OUT"; then ok; else fail "$2: stdout lacks '$1'"; fi
}
expect_err_has() {
    if grep -qF -- "$1" <<<"$ERR"; then ok; else fail "$2: stderr lacks '$1' (stderr: $ERR)"; fi
}
expect_out_eq() { # expect_out_eq TEXT DESCRIPTION
    if [ "$OUT" = "$1" ]; then ok; else fail "$2: stdout is '$OUT', want '$1'"; fi
}
expect_err_empty() {
    if [ -z "$ERR" ]; then ok; else fail "$1: unexpected stderr: $ERR"; fi
}
# json_check PYTHON_EXPR DESCRIPTION: evaluates the expression with `m` bound to stdout
# parsed as JSON.
json_check() {
    if python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$TMP/out" "$1" 2>"$TMP/pyerr"; then
        ok
    else
        fail "$2: $1 is false $(cat "$TMP/pyerr")"
    fi
}

finish() { # the summary; returns 1 on a failure, else 77 if anything was skipped, else 0
    echo "$e2e_passed passed, $e2e_failed failed, $e2e_skipped skipped"
    [ "$e2e_failed" -eq 0 ] || return 1
    [ "$e2e_skipped" -eq 0 ] || return 77
    return 0
}
