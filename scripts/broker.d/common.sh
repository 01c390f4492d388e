# shellcheck shell=bash
# Sourced by scripts/broker: the helpers every command uses. A node's state folder and name check,
# rabbitmqctl as the node's user, free and open ports on 127.0.0.1, the printed KEY=value lines,
# and the lock per broker name. Uses TMP_BASE, TIMEOUT, AS and RMQ_BIN from scripts/broker.

state_dir() { printf '%s/swiftamqp-broker-%s' "$TMP_BASE" "$1"; }

check_name() {
    [[ "$1" =~ ^[A-Za-z0-9_-]+$ ]] || die "bad broker name '$1' (letters, digits, _ and - only)"
}

# rabbitmqctl as the node's user, from a folder that user can read.
rmqctl() {
    local node=$1
    shift
    # ERL_EPMD_ADDRESS: rabbitmqctl starts epmd when none runs, and it must listen on loopback only.
    # 9>&-: never hand the start/stop lock to an epmd that rabbitmqctl may start.
    (cd / && "${AS[@]}" env ERL_EPMD_ADDRESS=127.0.0.1 "$RMQ_BIN/rabbitmqctl" -n "$node" "$@" 9>&-)
}

node_up() { rmqctl "$1" status >/dev/null 2>&1; }

# Prints N free TCP ports on 127.0.0.1 (distinct), preferring ports below the ephemeral range
# so that outgoing connections cannot take them while the node boots.
free_ports() {
    python3 - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
try:
    lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
except OSError:
    lo, hi = 32768, 60999
avoid = {4369, 5671, 5672, 15672, 25672, 61613, 1883}
ranges = [(10000, lo - 1)] if lo > 12000 else [(hi + 1, 65535)] if hi < 63000 else []
held, ports = [], []
for _ in range(2000):
    if len(ports) == n or not ranges:
        break
    a, b = random.choice(ranges)
    p = random.randint(a, b)
    if p in avoid or p in ports:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        continue
    held.append(s)
    ports.append(p)
while len(ports) < n:  # fall back to kernel-chosen ports
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
    ports.append(s.getsockname()[1])
print(" ".join(map(str, ports)))
for s in held:
    s.close()
EOF
}

port_free() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

port_open() {
    python3 - "$1" <<'EOF'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
except OSError:
    sys.exit(1)
EOF
}

print_urls() {
    local d=$1
    cat "$d/urls"
}

# --- lock per name, so two concurrent starts/stops of one name serialise ---
with_lock() {
    local name=$1
    mkdir -p "$TMP_BASE/swiftamqp-broker-locks"
    exec 9>"$TMP_BASE/swiftamqp-broker-locks/$name.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w $((TIMEOUT + 30)) 9 || die "timed out waiting for the lock of broker '$name'"
    fi
}
