#!/usr/bin/env bash
# bench/ssh.sh: zpanel over SSH against zpanel on the local engine, and against Docker
# Compose v2 over SSH, in the same run. The "remote" server is Debian's sshd on 127.0.0.1
# at a free port (own config and host key in a temporary directory, a key-only user in the
# docker group) in front of the local engine, as in tests/e2e/test_ssh.sh: the figures
# measure the SSH transport, not a network.
#   - no-op `up -d --wait` and `ps` of the 4 x 5 health-gated chains (bench/gen_chains.py),
#     zpanel --server (SSH) vs zpanel on the local socket: the SSH overhead (goal <= 2x);
#   - `up -d --wait` of the same project from nothing, zpanel --server vs Compose v2 with
#     DOCKER_HOST=ssh:// (which runs the `ssh` binary and `docker system dial-stdio` on the
#     server for every connection; an `ssh` wrapper points it at this sshd's key and
#     known_hosts).
# Runs interleaved (the machine may be shared: medians).
#   bench/ssh.sh [RUNS]   (default 3; needs root, sshd, ssh, docker CLI, Compose v2)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-3}
zpanel=${ZPANEL:-$root/build/zpanel}
[ -x "$zpanel" ] || { echo "bench: build zpanel first (scripts/build.sh)" >&2; exit 2; }
compose=${COMPOSE:-/usr/local/bin/docker-compose-v2}
[ -x "$compose" ] || compose=$(command -v docker-compose-v2 || true)
cver=$("$compose" version --short 2>/dev/null || true)
case "$cver" in 2.* | v2.*) ;; *) echo "bench: Docker Compose v2 is needed (COMPOSE=...)" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (sshd, a user in the docker group)" >&2; exit 2; }
[ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v docker >/dev/null ||
    { echo "bench: needs sshd, ssh and the docker CLI (apt-get install openssh-server openssh-client docker.io)" >&2; exit 2; }
ZPANEL=$zpanel
. tests/e2e/lib-engine.sh
test_image

U=zpsshtest
id "$U" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh -G docker "$U"
id -nG "$U" | grep -qw docker || usermod -aG docker "$U"
usermod -p '*' "$U"
mkdir -p /run/sshd
dir=$(mktemp -d)
chmod 755 "$dir"
SSHD_PID=
trap '[ -n "$SSHD_PID" ] && kill "$SSHD_PID"; for p in zpsshb zpsshbl dcsshb; do cleanup_project $p; done; rm -rf "$dir"' EXIT
for p in zpsshb zpsshbl dcsshb; do cleanup_project $p; done
ssh-keygen -q -t ed25519 -N '' -f "$dir/host" && ssh-keygen -q -t ed25519 -N '' -f "$dir/client"
cp "$dir/client.pub" "$dir/authorized_keys" && chmod 644 "$dir/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host
PidFile none
AuthorizedKeysFile $dir/authorized_keys
AllowUsers $U
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 100
MaxStartups 100
LogLevel ERROR
EOF
/usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
SSHD_PID=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
url=ssh://$U@127.0.0.1:$port
export ZPANEL_STATE_DIR=$dir/state
fp=$(ssh-keygen -lf "$dir/host.pub" | awk '{print $2}')
"$zpanel" server add bench "$url" --identity "$dir/client" --fingerprint "$fp" >/dev/null
# the ssh binary that Compose runs: this sshd's key and host key, nothing of ~/.ssh
echo "[127.0.0.1]:$port $(cut -d' ' -f1-2 "$dir/host.pub")" >"$dir/known_hosts"
mkdir -p "$dir/bin"
cat >"$dir/bin/ssh" <<EOF
#!/bin/sh
exec /usr/bin/ssh -F none -i $dir/client -o IdentitiesOnly=yes -o UserKnownHostsFile=$dir/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes "\$@"
EOF
chmod 755 "$dir/bin/ssh"

python3 bench/gen_chains.py 4 5 "$TEST_IMAGE" "$dir/compose.yaml"
now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }
healthy() { docker ps --filter "label=$1" --filter health=healthy -q | wc -l; }
zl=("$zpanel" -p zpsshbl -f "$dir/compose.yaml")
zs=("$zpanel" --server bench -p zpsshb -f "$dir/compose.yaml")
dc=(env "PATH=$dir/bin:$PATH" "DOCKER_HOST=$url" "$compose" -p dcsshb -f "$dir/compose.yaml")

# the local project, for the no-op comparisons
"${zl[@]}" up -d --wait >/dev/null 2>"$dir/err" || { echo "bench: local up failed: $(tail -3 "$dir/err")" >&2; exit 1; }
declare -A T
timed() { # timed KEY CMD...: T[KEY,run] = ms
    local t0 t1
    t0=$(now)
    "${@:2}" >/dev/null 2>"$dir/err" || { echo "bench: $1 failed: $(tail -3 "$dir/err")" >&2; exit 1; }
    t1=$(now)
    T[$1,$run]=$(ms "$t0" "$t1")
}
for run in $(seq 1 "$runs"); do
    if [ $((run % 2)) -eq 1 ]; then order="zpanel compose"; else order="compose zpanel"; fi
    for tool in $order; do
        if [ "$tool" = zpanel ]; then
            timed zup "${zs[@]}" up -d --wait
            [ "$(healthy io.zpanel.project=zpsshb)" -eq 20 ] || { echo "bench: zpanel over SSH: not all healthy" >&2; exit 1; }
            timed znoop "${zs[@]}" up -d --wait
            timed lnoop "${zl[@]}" up -d --wait
            timed zps "${zs[@]}" ps
            timed lps "${zl[@]}" ps
            timed zdown "${zs[@]}" down
        else
            timed cup "${dc[@]}" up -d --wait
            [ "$(healthy com.docker.compose.project=dcsshb)" -eq 20 ] || { echo "bench: compose over SSH: not all healthy" >&2; exit 1; }
            timed cnoop "${dc[@]}" up -d --wait
            timed cps "${dc[@]}" ps
            timed cdown "${dc[@]}" down
        fi
    done
    echo "run $run: up over SSH ${T[zup,$run]} / ${T[cup,$run]} ms (zpanel / compose v2);" \
        "no-op up ${T[znoop,$run]} (SSH) / ${T[lnoop,$run]} (local) ms; ps ${T[zps,$run]} / ${T[lps,$run]} ms"
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
m() { local v=() r; for r in $(seq 1 "$runs"); do v+=("${T[$1,$r]}"); done; median "${v[@]}"; }
echo "medians of $runs interleaved runs; Docker Compose $cver; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$(m znoop)" "$(m lnoop)" "$(m zps)" "$(m lps)" "$(m zup)" "$(m cup)" "$(m cnoop)" "$(m cps)" \
    "$(m zdown)" "$(m cdown)" <<'PY'
import sys
zn, ln, zp, lp, zu, cu, cn, cp, zd, cd = map(int, sys.argv[1:])
print(f"zpanel no-op up -d --wait: {zn} ms over SSH, {ln} ms local: {zn / max(ln, 1):.2f}x (goal <= 2)")
print(f"zpanel ps:                 {zp} ms over SSH, {lp} ms local: {zp / max(lp, 1):.2f}x (goal <= 2)")
print(f"up -d --wait over SSH:     zpanel {zu} ms, compose v2 {cu} ms: compose / zpanel = {cu / max(zu, 1):.2f}x")
print(f"no-op up over SSH:         zpanel {zn} ms, compose v2 {cn} ms: {cn / max(zn, 1):.2f}x")
print(f"ps over SSH:               zpanel {zp} ms, compose v2 {cp} ms: {cp / max(zp, 1):.2f}x")
print(f"down over SSH:             zpanel {zd} ms, compose v2 {cd} ms: {cd / max(zd, 1):.2f}x")
PY
