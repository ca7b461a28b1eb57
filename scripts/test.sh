#!/usr/bin/env bash
# test.sh: the whole test suite, as CI runs it. Installs what it needs (scripts/setup.sh),
# then: the gcc build with every unit, fuzz-corpus and end-to-end test (ctest); the unit
# tests again under ASan+UBSan (clang) and under valgrind; each libFuzzer target for a
# bounded time; Release builds with gcc and with clang (warning-free); clang-format and
# cppcheck on src/. Every build has -DZP_WERROR=ON; the four builds after the first run at
# the lowest CPU priority while the end-to-end tests run. Ends with one line
# "N passed, N failed, N skipped" and exits non-zero on any failure or skip: a test that
# could not run (ctest's "Skipped": exit 77 or a cmocka skip) is never counted as passed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fuzz_seconds=${ZP_FUZZ_SECONDS:-10}
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

run_ctest() { # run_ctest NAME BUILD_DIR [ctest args]: count each ctest test
    local name=$1 dir=$2
    shift 2
    local log
    log=$(mktemp)
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@" 2>&1 | tee "$log"
    local line total nfail nskip ndis t
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
    if [ -z "$line" ]; then
        failed=$((failed + 1))
        failures+=("$name: ctest printed no summary")
    else
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
    fi
    rm -f "$log"
}

configure_build() { # configure_build DIR [cmake args]: warnings are errors in every build
    local dir=$1
    shift
    cmake -S "$root" -B "$dir" -DZP_WERROR=ON "$@" >/dev/null && cmake --build "$dir" -j"$jobs" >/dev/null
}

# The other four builds (ASan+UBSan, libFuzzer, Release gcc and clang) run in the background
# at the lowest CPU priority while the end-to-end tests run: those mostly wait on the engine
# and on containers, and the builds take only the cycles they leave idle. Each build's exit
# status and output go to a file; its step is counted where the build is used below.
bg_dir=$(mktemp -d)
bg_builds() {
    local spec name dir
    for spec in "asan|build-asan|-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DZP_SANITIZE=address,undefined -DZP_E2E=OFF" \
        "fuzz|build-fuzz|-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DZP_FUZZ=ON -DZP_SANITIZE=address,undefined -DZP_E2E=OFF" \
        "release-gcc|build-release-gcc|-DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release" \
        "release-clang|build-release-clang|-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release"; do
        IFS='|' read -r name dir args <<<"$spec"
        # shellcheck disable=SC2086 # args is a list of cmake flags
        configure_build "$dir" $args >"$bg_dir/$name.log" 2>&1
        echo $? >"$bg_dir/$name.rc"
    done
}
# bg_result NAME: the background build's exit status (waiting for it), its output shown
bg_result() {
    while [ ! -f "$bg_dir/$1.rc" ] && kill -0 "$bg_pid" 2>/dev/null; do
        sleep 1
    done
    cat "$bg_dir/$1.log" 2>/dev/null
    [ -f "$bg_dir/$1.rc" ] && [ "$(cat "$bg_dir/$1.rc")" -eq 0 ]
}

# 1. the main build: every test
if step "build (gcc)" configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
    nice -n 19 bash -c "$(declare -f configure_build bg_builds); root='$root' jobs=$jobs bg_dir='$bg_dir'; bg_builds" &
    bg_pid=$!
    run_ctest "ctest (gcc)" build
else
    bg_pid=
    bg_builds # nothing else to overlap with
fi

# 2. unit tests under ASan+UBSan (clang)
if step "build (clang, ASan+UBSan)" bg_result asan; then
    ASAN_OPTIONS=detect_leaks=1 run_ctest "ctest (ASan+UBSan)" build-asan -L unit
fi

# par_run LIST_NAME NAME CMD...: run up to $jobs commands at once, each in the background
# with its output to a file; par_wait prints each one's output in order and counts it as a
# step. The valgrind and libFuzzer runs are single-threaded: two cores, two at a time.
par_names=()
par_pids=()
par_logs=()
par_run() {
    local name=$1
    shift
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n 2>/dev/null || true
    done
    local log
    log=$(mktemp)
    "$@" >"$log" 2>&1 &
    par_names+=("$name")
    par_pids+=("$!")
    par_logs+=("$log")
}
par_wait() {
    local i
    for i in "${!par_pids[@]}"; do
        echo "=== ${par_names[$i]}"
        if wait "${par_pids[$i]}"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            failures+=("${par_names[$i]}")
        fi
        cat "${par_logs[$i]}"
        rm -f "${par_logs[$i]}"
    done
    par_names=()
    par_pids=()
    par_logs=()
}

# 3. unit tests under valgrind, each test binary on its own
valgrind_unit() {
    valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        "$1" >/dev/null
}
for t in build/unit_*; do
    [ -x "$t" ] && par_run "valgrind ${t#build/}" valgrind_unit "$t"
done
par_wait

# 4. libFuzzer targets, each for a bounded time (their chatter is shown only on failure)
run_fuzzer() {
    local log
    log=$(mktemp)
    if "$1" -max_total_time="$fuzz_seconds" -max_len=65536 -rss_limit_mb=2048 "$2" >"$log" 2>&1; then
        grep -E '^Done [0-9]+ runs' "$log" || tail -1 "$log"
        rm -rf "$log" "$2"
        return 0
    fi
    tail -60 "$log"
    rm -rf "$log" "$2"
    return 1
}
if step "build (clang, libFuzzer)" bg_result fuzz; then
    for bin in build-fuzz/fuzz_*; do
        [ -x "$bin" ] || continue
        name=${bin#build-fuzz/fuzz_}
        corpus=$(mktemp -d)
        cp -r "tests/fuzz/$name/corpus/." "$corpus/"
        par_run "fuzz $name (${fuzz_seconds}s)" run_fuzzer "$bin" "$corpus"
    done
    par_wait
fi

# 5. what a packager builds: Release (-O3) with gcc and with clang, warning-free (build only)
step "build Release (gcc)" bg_result release-gcc
step "build Release (clang)" bg_result release-clang
[ -z "$bg_pid" ] || wait "$bg_pid" 2>/dev/null
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
