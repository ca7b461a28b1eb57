#!/usr/bin/env bash
# test.sh: the whole test suite, as CI runs it. Installs what it needs (scripts/setup.sh),
# then: the gcc build with every unit, fuzz-corpus and end-to-end test (ctest); the unit
# tests again under ASan+UBSan (clang) and under valgrind; each libFuzzer target for a
# bounded time; Release builds with gcc and with clang (warning-free); clang-format and
# cppcheck on src/. Every build has -DZP_WERROR=ON; the four builds after the first, and
# the checks that use them, run at the lowest CPU priority while the end-to-end tests run
# (a second worker joins them when those end). Ends with one line
# "N passed, N failed, N skipped" and exits non-zero on any failure or skip: a test that
# could not run (ctest's "Skipped": exit 77 or a cmocka skip) is never counted as passed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fuzz_seconds=${ZP_FUZZ_SECONDS:-6}
# ZP_FUZZ_SECONDS and ZP_CTEST_ARGS (say "-L unit") shorten a local run, ZP_CTEST_JOBS sets
# the gcc ctest's parallelism; CI sets none of them
jobs=$(nproc)

if [ "$(id -u)" -eq 0 ]; then
    scripts/setup.sh || { echo "test.sh: setup failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
fi

passed=0
failed=0
skipped=0
failures=()
skips=()

step() { # step NAME COMMAND...: one check that passes or fails as a whole
    local name=$1
    shift
    echo "=== $name (at ${SECONDS} s)"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

# the gcc ctest runs one test more than there are CPUs: most end-to-end tests spend their
# time waiting on the engine, on containers' start and health, not on a CPU
ctest_jobs=${ZP_CTEST_JOBS:-$((jobs + 1))}
run_ctest() { # run_ctest NAME BUILD_DIR [ctest args]: count each ctest test
    local name=$1 dir=$2
    shift 2
    local log
    log=$(mktemp)
    ctest --test-dir "$dir" --output-on-failure -j"$ctest_jobs" "$@" 2>&1 | tee "$log"
    count_ctest "$name" "$log"
    rm -f "$log"
}

count_ctest() { # count_ctest NAME LOG: count each test of a ctest run from its output
    local name=$1 log=$2
    local line total nfail nskip ndis t
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
    if [ -z "$line" ]; then
        failed=$((failed + 1))
        failures+=("$name: ctest printed no summary")
        return
    fi
    nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    # ctest counts a skipped test (exit 77, a skip regex) as passed in its summary and
    # lists it under "did not run" with the disabled ones, which its total leaves out
    local notrun
    notrun=$(awk '/^The following tests did not run:/ {on = 1; next} on && !NF {on = 0}
                  on' "$log")
    nskip=$(grep -cE '\(Skipped\)$' <<<"$notrun")
    ndis=$(grep -cE '\(Disabled\)$' <<<"$notrun")
    passed=$((passed + total - nfail - nskip))
    failed=$((failed + nfail))
    skipped=$((skipped + nskip + ndis))
    [ "$nfail" -eq 0 ] || failures+=("$name: $nfail of $total ctest tests")
    while read -r t; do
        [ -n "$t" ] && skips+=("$name: $t")
    done < <(grep -E '\((Skipped|Disabled)\)$' <<<"$notrun" | sed -E 's/^[[:space:]]*[0-9]+ - //')
}

configure_build() { # configure_build DIR [cmake args]: warnings are errors in every build
    local dir=$1
    shift
    cmake -S "$root" -B "$dir" -DZP_WERROR=ON "$@" >/dev/null && cmake --build "$dir" -j"$jobs" >/dev/null
}

# The other four builds (ASan+UBSan, libFuzzer, Release gcc and clang) and the checks that
# use them (the unit tests under ASan+UBSan and under valgrind, each libFuzzer target for a
# bounded time) are one queue (a file per item in $q_dir). A background worker at the
# lowest CPU priority takes its items while the end-to-end tests run: those mostly wait on
# the engine and on containers, and the background takes only the cycles they leave idle.
# When the gcc ctest is done, a second worker joins it, so at most two items run at once
# and what is left (a build, valgrind runs, fuzzers) is shared. Each item's output and exit
# status go to files; they are shown and counted at the end.
bg_dir=$(mktemp -d)
q_dir=$bg_dir/q
mkdir -p "$q_dir"
bg_pid=
bg_build() { # bg_build NAME: one of the four builds; its output and status in $bg_dir/NAME.*
    local dir args
    case $1 in
    asan) dir=build-asan args="-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DZP_SANITIZE=address,undefined -DZP_E2E=OFF" ;;
    fuzz) dir=build-fuzz args="-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DZP_FUZZ=ON -DZP_SANITIZE=address,undefined -DZP_E2E=OFF" ;;
    release-gcc) dir=build-release-gcc args="-DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release" ;;
    release-clang) dir=build-release-clang args="-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release" ;;
    esac
    # shellcheck disable=SC2086 # args is a list of cmake flags
    configure_build "$dir" $args >"$bg_dir/$1.log" 2>&1
    echo $? >"$bg_dir/$1.rc"
}
# bg_result NAME: a build's exit status (the workers are done by now), its output shown
bg_result() {
    cat "$bg_dir/$1.log" 2>/dev/null
    [ -f "$bg_dir/$1.rc" ] && [ "$(cat "$bg_dir/$1.rc")" -eq 0 ]
}

valgrind_unit() { # valgrind_unit BINARY
    valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        "$1" >/dev/null
}
run_fuzzer() { # run_fuzzer NAME: tests/fuzz/NAME for a bounded time (chatter only on failure)
    local bin=build-fuzz/fuzz_$1 log corpus rc=0
    log=$(mktemp)
    corpus=$(mktemp -d)
    cp -r "tests/fuzz/$1/corpus/." "$corpus/"
    if "$bin" -max_total_time="$fuzz_seconds" -max_len=65536 -rss_limit_mb=2048 "$corpus" >"$log" 2>&1; then
        grep -E '^Done [0-9]+ runs' "$log" || tail -1 "$log"
    else
        tail -60 "$log"
        rc=1
    fi
    rm -rf "$log" "$corpus"
    return $rc
}
# q_worker: run the queue's items, in order as far as each is ready: an item "KIND ARG" whose
# build is not done yet is passed over and come back to (a claim is an atomic mkdir). An item
# whose build failed is marked "nobuild": that failure is counted once, with the build.
q_worker() {
    local f n kind arg need pending ran
    while :; do
        pending=0
        ran=0
        for f in "$q_dir"/*.item; do
            n=${f%.item}
            [ -e "$n.claim" ] && continue
            read -r kind arg <"$f"
            case $kind in
            asan | fuzz) need=$kind ;;
            *) need= ;;
            esac
            if [ -n "$need" ] && [ ! -f "$bg_dir/$need.rc" ]; then
                # the builder is gone without a word on this build: nothing to wait for
                if [ -n "${bg_pid:-}" ] && ! kill -0 "$bg_pid" 2>/dev/null; then
                    mkdir "$n.claim" 2>/dev/null && echo nobuild >"$n.rc"
                    continue
                fi
                pending=1
                continue
            fi
            mkdir "$n.claim" 2>/dev/null || continue
            ran=1
            if [ -n "$need" ] && [ "$(cat "$bg_dir/$need.rc")" != 0 ]; then
                echo nobuild >"$n.rc"
                continue
            fi
            case $kind in
            build) bg_build "$arg" ;;
            valgrind) valgrind_unit "$arg" ;;
            asan) ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j1 -L unit ;;
            fuzz) run_fuzzer "$arg" ;;
            esac >"$n.log" 2>&1
            echo $? >"$n.rc"
        done
        [ "$pending" -eq 1 ] || break
        [ "$ran" -eq 1 ] || sleep 1
    done
}
q_n=0
q_add() { # q_add NAME KIND ARG: queue a check
    local n
    n=$q_dir/$(printf '%03d' "$q_n")
    q_n=$((q_n + 1))
    printf '%s %s\n' "$2" "$3" >"$n.item"
    printf '%s\n' "$1" >"$n.name"
}
# q_results: show each item's output in order and count it (the ASan ctest per test)
q_results() {
    local f n name kind rc
    for f in "$q_dir"/*.item; do
        n=${f%.item}
        name=$(cat "$n.name")
        read -r kind _ <"$f"
        rc=$(cat "$n.rc" 2>/dev/null || echo "did not run")
        [ "$rc" = nobuild ] || [ "$kind" = build ] && continue
        echo "=== $name"
        cat "$n.log" 2>/dev/null
        if [ "$kind" = asan ]; then
            count_ctest "$name" "$n.log"
        elif [ "$rc" = 0 ]; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            failures+=("$name")
        fi
    done
}

# 1. the main build: every test; the queue of the builds and checks that follow it (the
# Release builds last: nothing waits for them)
q_add "build (clang, ASan+UBSan)" build asan
q_add "build (clang, libFuzzer)" build fuzz
q_add "ctest (ASan+UBSan)" asan -
gcc_ok=0
if step "build (gcc)" configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
    gcc_ok=1
    for t in build/unit_*; do
        [ -x "$t" ] && q_add "valgrind ${t#build/}" valgrind "$t"
    done
fi
for d in tests/fuzz/*/; do
    d=${d%/}
    [ -f "$d/fuzz.c" ] && q_add "fuzz ${d##*/} (${fuzz_seconds}s)" fuzz "${d##*/}"
done
q_add "build Release (gcc)" build release-gcc
q_add "build Release (clang)" build release-clang
if [ "$gcc_ok" -eq 1 ]; then
    nice -n 19 bash -c "$(declare -f configure_build bg_build valgrind_unit run_fuzzer q_worker)
        root='$root' jobs=$jobs bg_dir='$bg_dir' q_dir='$q_dir' fuzz_seconds='$fuzz_seconds'
        q_worker" &
    bg_pid=$!
    # shellcheck disable=SC2086 # ZP_CTEST_ARGS: extra ctest flags for a local run (-L unit)
    run_ctest "ctest (gcc)" build ${ZP_CTEST_ARGS:-}
    echo "=== the gcc ctest ended at ${SECONDS} s; a second worker joins the background queue"
    q_worker
    wait "$bg_pid" 2>/dev/null
else
    q_worker # nothing else to overlap with
fi

# 2-4. the builds and checks of the background: the unit tests under ASan+UBSan (clang), under
# valgrind, and each libFuzzer target for a bounded time
step "build (clang, ASan+UBSan)" bg_result asan
step "build (clang, libFuzzer)" bg_result fuzz
q_results

# 5. what a packager builds: Release (-O3) with gcc and with clang, warning-free (build only)
step "build Release (gcc)" bg_result release-gcc
step "build Release (clang)" bg_result release-clang
rm -rf "$bg_dir"

# 6. style and static analysis on src/
format_check() {
    find src tests/unit tests/fuzz -name '*.[ch]' -print0 | xargs -0 clang-format --dry-run -Werror
}
step "clang-format" format_check
cppcheck_src() {
    cppcheck --quiet --error-exitcode=1 --enable=warning,portability --std=c11 \
        --inline-suppr --suppress=missingIncludeSystem -I src src
}
step "cppcheck" cppcheck_src

echo
for f in "${failures[@]}"; do
    echo "FAILED: $f"
done
for f in "${skips[@]}"; do
    echo "SKIPPED: $f"
done
echo "the whole suite took ${SECONDS} s"
echo "$passed passed, $failed failed, $skipped skipped"
# a skip is not a pass: CI fails until every test ran
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
