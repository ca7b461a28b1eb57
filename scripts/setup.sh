#!/usr/bin/env bash
# setup.sh: install zpanel's build and runtime dependencies from Debian packages and make
# sure a Docker engine answers on its socket. Idempotent; run as root on Debian 12 or newer.
#   scripts/setup.sh            install packages and start dockerd when needed
#   scripts/setup.sh --no-engine  install packages only
set -euo pipefail

want_engine=1
for arg in "$@"; do
    case "$arg" in
    --no-engine) want_engine=0 ;;
    *) echo "setup.sh: unknown flag '$arg'" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs Debian packages and starts dockerd)" >&2
    exit 2
fi

packages=(
    # build
    build-essential cmake pkg-config clang libclang-rt-14-dev llvm
    # libraries
    libfyaml-dev libjansson-dev libcurl4-openssl-dev libsqlite3-dev libsodium-dev libssl-dev libarchive-dev
    # remote engines over SSH (libssh); the e2e test's "remote" server
    libssh-dev openssh-server
    # apps from git: libgit2 (clone and fetch without a git binary); git makes the tests' repos
    # and serves one over smart HTTP (git http-backend, which Debian's git ships)
    libgit2-dev git
    # zpanel serve: the HTTP server; the SMTP sink of the notification tests
    libmicrohttpd-dev python3-aiosmtpd
    # tests and checks
    libcmocka-dev valgrind clang-format cppcheck python3 procps time curl
    # runtime: the engine, and a static busybox to build test images without a registry
    docker.io busybox-static
    # the reverse proxy (packed into a local image), load generation
    caddy wrk
    # the ACME test server of test_acme (packed into a local image by pebble-image.sh)
    pebble
    # test_swarm's local image registry (x-zpanel.registry: built images pushed for workers)
    docker-registry
    # test_swarm's second node: a dockerd in a network namespace (iproute2), the registry
    # relayed into it (socat)
    iproute2 socat
    # the peer that the benchmarks compare against
    docker-compose
    # S3 tests: awscli checks what zpanel uploaded (s3rver, on node, below)
    awscli
    # the dashboard's browser test (tests/e2e/test_dashboard.sh): Debian's chromium
    chromium
    # database dump tests: the servers packed into local images by db-images.sh
    postgresql mariadb-server redis-server
    # Debian base images for tests (scripts/debian-image.sh)
    debootstrap
)
# node and npm for s3rver, unless a node (say NodeSource's, which bundles npm) is there
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# apps from git: shallow fetches need libgit2 1.7 or later. Debian 12 has 1.5.1 (zpanel
# builds with it and fetches the history); its bookworm-backports has 1.8.4, installed
# here so that test_apps checks the shallow checkout. Newer Debian releases have 1.7+.
if [ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" = bookworm ] &&
    ! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libgit2-dev 2>/dev/null)" ge 1.7; then
    echo "setup.sh: installing libgit2-dev from bookworm-backports (shallow fetches)"
    backports=/etc/apt/sources.list.d/zpanel-bookworm-backports.list
    [ -e "$backports" ] || echo "deb http://deb.debian.org/debian bookworm-backports main" >"$backports"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends libgit2-dev/bookworm-backports >/dev/null
fi

# s3rver (npm), the S3-compatible server of tests/e2e/test_s3.sh and bench/s3.sh, into the
# repository's .deps/ (git-ignored) where they look for it
s3rver_dir="$(cd "$(dirname "$0")/.." && pwd)/.deps/s3rver"
if [ ! -x "$s3rver_dir/node_modules/.bin/s3rver" ]; then
    echo "setup.sh: installing s3rver into $s3rver_dir"
    mkdir -p "$s3rver_dir"
    npm install --prefix "$s3rver_dir" --no-audit --no-fund --silent s3rver@3.7.1 >/dev/null
fi

# playwright-core and axe-core (tests/browser's lockfile) for the dashboard's browser test,
# into .deps/browser (git-ignored) where tests/e2e/test_dashboard.sh looks for them
browser_dir="$(cd "$(dirname "$0")/.." && pwd)/.deps/browser"
browser_src="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
if ! cmp -s "$browser_src/package-lock.json" "$browser_dir/package-lock.json" ||
    [ ! -d "$browser_dir/node_modules/playwright-core" ]; then
    echo "setup.sh: installing playwright-core and axe-core into $browser_dir"
    mkdir -p "$browser_dir"
    cp "$browser_src/package.json" "$browser_src/package-lock.json" "$browser_dir/"
    (cd "$browser_dir" && npm ci --no-audit --no-fund --silent >/dev/null)
fi

[ "$want_engine" = 1 ] || exit 0

engine_answers() {
    curl -sf --max-time 2 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1
}

if engine_answers; then
    exit 0
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl start docker || true
fi
if ! engine_answers; then
    echo "setup.sh: starting dockerd in the background (log: /var/log/zpanel-dockerd.log)"
    nohup dockerd >/var/log/zpanel-dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
    engine_answers && exit 0
    sleep 0.5
done
echo "setup.sh: dockerd did not answer on /var/run/docker.sock within 30 s; see /var/log/zpanel-dockerd.log" >&2
tail -20 /var/log/zpanel-dockerd.log >&2 || true
exit 1
