# lib-sshd.sh: Debian's sshd on 127.0.0.1 at a free high port, with its own config, host
# keys and authorized_keys in a directory of the test, for one key-only test user. Source
# it after lib.sh. Needs root (sshd, the test user) and Debian's openssh-server
# (scripts/setup.sh installs it).
#   sshd_prepare DIR USER [GROUP]   the user (made when missing, no password, in GROUP when
#                                   given), host keys DIR/host1 and DIR/host2 (ed25519)
#                                   with fingerprints $SSHD_FP1 $SSHD_FP2, a client key
#                                   DIR/client that may log in, a free port $SSHD_PORT
#   sshd_start HOSTKEY [LINE...]    sshd -D with host key DIR/HOSTKEY and extra config lines
#   sshd_stop                       the listener and every session process it forked
# Each returns non-zero with the reason on stderr when it cannot.
SSHD_DIR=
SSHD_USER=
SSHD_PORT=
SSHD_PID=
SSHD_FP1=
SSHD_FP2=

sshd_prepare() {
    SSHD_DIR=$1
    SSHD_USER=$2
    local group=${3:-}
    [ -x /usr/sbin/sshd ] || { echo "no /usr/sbin/sshd (apt-get install openssh-server, or scripts/setup.sh)" >&2; return 1; }
    command -v ssh-keygen >/dev/null || { echo "no ssh-keygen (openssh-client)" >&2; return 1; }
    [ "$(id -u)" -eq 0 ] || { echo "sshd tests need root" >&2; return 1; }
    id "$SSHD_USER" >/dev/null 2>&1 ||
        useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh \
            ${group:+-G "$group"} "$SSHD_USER" || { echo "cannot create the test user $SSHD_USER" >&2; return 1; }
    [ -z "$group" ] || id -nG "$SSHD_USER" | grep -qw "$group" || usermod -aG "$group" "$SSHD_USER"
    # sshd without PAM refuses a locked account ('!' password): no password at all instead
    usermod -p '*' "$SSHD_USER"
    mkdir -p /run/sshd "$SSHD_DIR"
    chmod 755 "$SSHD_DIR"
    ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host1" && ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host2" &&
        ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/client" || { echo "ssh-keygen failed" >&2; return 1; }
    cp "$SSHD_DIR/client.pub" "$SSHD_DIR/authorized_keys"
    chmod 644 "$SSHD_DIR/authorized_keys"
    SSHD_FP1=$(ssh-keygen -lf "$SSHD_DIR/host1.pub" | awk '{print $2}')
    SSHD_FP2=$(ssh-keygen -lf "$SSHD_DIR/host2.pub" | awk '{print $2}')
    SSHD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
}

sshd_start() {
    local key=$1 line
    shift
    {
        cat <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $SSHD_DIR/$key
PidFile none
AuthorizedKeysFile $SSHD_DIR/authorized_keys
AllowUsers $SSHD_USER
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
LogLevel ERROR
EOF
        for line in "$@"; do echo "$line"; done
    } >"$SSHD_DIR/config"
    /usr/sbin/sshd -D -e -f "$SSHD_DIR/config" 2>>"$SSHD_DIR/log" &
    SSHD_PID=$!
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "sshd did not listen on $SSHD_PORT: $(cat "$SSHD_DIR/log")" >&2
    return 1
}

sshd_stop() {
    [ -n "$SSHD_PID" ] || return 0
    local pids="$SSHD_PID" all="" next p
    while [ -n "$pids" ]; do
        all="$all $pids"
        next=""
        for p in $pids; do next="$next $(ps -o pid= --ppid "$p" 2>/dev/null)"; done
        pids=$(echo $next)
    done
    kill -9 $all 2>/dev/null
    wait "$SSHD_PID" 2>/dev/null
    SSHD_PID=
}
