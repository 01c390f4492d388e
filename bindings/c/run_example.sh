#!/usr/bin/env bash
# Runs the C examples against the broker in $AMQP_URL, as ctest does (bindings/c/CMakeLists.txt),
# so they cannot rot. Each scenario uses queue names of its own, so runs never see each other's
# messages.
#
#   run_example.sh BINDIR publisher    publisher, then consumer on the same queue
#   run_example.sh BINDIR consumer     consumer first (waits), then publisher
#   run_example.sh BINDIR rpc          rpc_server in the background, then rpc_client
#   run_example.sh BINDIR confirms     publisher_confirms
#   run_example.sh BINDIR basic        example_basic
set -euo pipefail

bin=${1:?usage: run_example.sh BINDIR SCENARIO}
scenario=${2:?usage: run_example.sh BINDIR SCENARIO}
: "${AMQP_URL:?AMQP_URL is not set: start a broker (scripts/broker start) and export the AMQP_URL it prints}"
export AMQP_URL

suffix="$$.$(date +%s%N)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }

# Starts a program in the background and waits (up to 15 s) for its "ready" line on stdout.
start_and_wait_for() { # LOG PATTERN PROGRAM ARGS...
    local log=$1 pattern=$2
    shift 2
    "$@" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 150); do
        grep -q "$pattern" "$log" && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || { cat "$log"; echo "run_example: $1 exited early" >&2; return 1; }
        sleep 0.1
    done
    cat "$log"
    echo "run_example: $1 never printed '$pattern'" >&2
    return 1
}

# Waits for the last background program and shows its output.
wait_last() { # LOG
    local rc=0
    wait "${pids[-1]}" || rc=$?
    unset 'pids[-1]'
    cat "$1"
    return "$rc"
}

tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT

case "$scenario" in
publisher)
    queue="swiftamqp.example.tasks.$suffix"
    "$bin/publisher" 20 "$queue" | tee "$tmp/pub"
    grep -q "published 20 messages" "$tmp/pub"
    "$bin/consumer" 20 "$queue" | tee "$tmp/con"
    grep -q "received 20 messages" "$tmp/con"
    grep -q "received: task 20" "$tmp/con"
    ;;
consumer)
    queue="swiftamqp.example.tasks.$suffix"
    start_and_wait_for "$tmp/con" "consuming" "$bin/consumer" 20 "$queue"
    "$bin/publisher" 20 "$queue"
    wait_last "$tmp/con"
    grep -q "received 20 messages" "$tmp/con"
    ;;
rpc)
    queue="swiftamqp.example.rpc.$suffix"
    start_and_wait_for "$tmp/server" "serving" "$bin/rpc_server" 10 "$queue"
    "$bin/rpc_client" 10 "$queue" | tee "$tmp/client"
    grep -q "fib(10) = 55" "$tmp/client"
    wait_last "$tmp/server"
    ;;
confirms)
    "$bin/publisher_confirms" 5000 | tee "$tmp/out"
    grep -q "5000 published, 5000 acked, 0 nacked" "$tmp/out"
    ;;
basic)
    "$bin/example_basic"
    ;;
*)
    echo "run_example: unknown scenario '$scenario'" >&2
    exit 2
    ;;
esac
echo "run_example: $scenario OK"
