#!/usr/bin/env bash
# Runs Debian's amqp-tools (amqp-declare-queue, amqp-publish, amqp-get, amqp-consume,
# amqp-delete-queue), unmodified, through one scenario twice: on the real librabbitmq and on the
# compat librabbitmq.so.4 (LD_LIBRARY_PATH=COMPAT_DIR), and compares what they print (stdout,
# stderr and exit codes), with broker-generated queue names and the per-run prefix normalised.
#
#   amqp_tools_scenario.sh COMPAT_DIR [tls]
#
# Needs AMQP_URL (plain) or, with `tls`, AMQPS_URL and SWIFTAMQP_TLS_DIR (scripts/broker start
# NAME --tls); FAILS when they are missing. Scenario: declare a durable queue, publish 1000 messages with headers and properties in one amqp-publish -l plus 5 single
# ones with -b, get 10 with amqp-get, consume the remaining 995 with amqp-consume -c, check the
# queue is empty, publish 3 more and delete the queue (prints 3), an amqp-get on a missing queue
# (the broker's 404 on stderr, exit 1), and publishes to a missing exchange (the 404 that closes the
# channel is reported when amqp-publish closes it).
set -uo pipefail

fail() { printf 'FAIL amqp_tools_scenario: %s\n' "$*" >&2; exit 1; }

COMPAT_DIR=${1:-}
MODE=${2:-plain}
[ -n "$COMPAT_DIR" ] && [ -e "$COMPAT_DIR/librabbitmq.so.4" ] || fail "usage: $0 COMPAT_DIR [tls] (COMPAT_DIR holds librabbitmq.so.4)"
COMPAT_DIR=$(cd "$COMPAT_DIR" && pwd)
for tool in amqp-declare-queue amqp-publish amqp-get amqp-consume amqp-delete-queue; do
    command -v "$tool" >/dev/null || fail "$tool not found (apt: amqp-tools)"
done

CONN=()
if [ "$MODE" = tls ]; then
    [ -n "${AMQPS_URL:-}" ] || fail "AMQPS_URL is not set: scripts/broker start NAME --tls, and export what it prints"
    [ -n "${SWIFTAMQP_TLS_DIR:-}" ] || fail "SWIFTAMQP_TLS_DIR is not set"
    CONN=(-u "$AMQPS_URL" --cacert="$SWIFTAMQP_TLS_DIR/ca.pem")
else
    [ -n "${AMQP_URL:-}" ] || fail "AMQP_URL is not set: scripts/broker start NAME, and export what it prints"
    CONN=(-u "$AMQP_URL")
fi

WORK=$(mktemp -d)
[ -n "${AMQP_TOOLS_SCENARIO_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT

# run LABEL LIBDIR: the scenario; everything it prints goes to $WORK/LABEL.out
run() {
    local label=$1 libdir=$2 out="$WORK/$1.out"
    local Q="compat-scenario.$$.$label"
    local env_cmd=(env -u LD_LIBRARY_PATH)
    [ -n "$libdir" ] && env_cmd=(env LD_LIBRARY_PATH="$libdir")
    t() { # a tool call: its stdout, stderr and exit code, in order
        local rc
        "${env_cmd[@]}" timeout 60 "$@" >"$WORK/stdout" 2>"$WORK/stderr"
        rc=$?
        printf '$ %s\n' "$*" | sed -e "s|$Q|QUEUE|g" -e 's|-u [^ ]*|-u URL|' -e 's|--cacert=[^ ]*|--cacert=CA|'
        sed -e "s|$Q|QUEUE|g" -e 's|amq\.gen-[A-Za-z0-9_-]*|amq.gen-NAME|g' "$WORK/stdout"
        [ -s "$WORK/stderr" ] && sed -e "s|$Q|QUEUE|g" -e 's|^|stderr: |' "$WORK/stderr"
        echo "[exit $rc]"
    }
    {
        t amqp-declare-queue "${CONN[@]}" -q "$Q" -d
        # 1000 messages in one connection, with headers and properties
        seq -f 'message %04g' 1 1000 >"$WORK/bodies"
        t amqp-publish "${CONN[@]}" -l -r "$Q" -C text/plain -E utf-8 -p -t reply.queue \
            -H "x-scenario: amqp-tools" -H "x-number: 42" <"$WORK/bodies"
        for i in 1 2 3 4 5; do
            t amqp-publish "${CONN[@]}" -r "$Q" -C application/json -H "x-single: $i" -b "{\"single\": $i}"
        done
        for i in $(seq 1 10); do
            t amqp-get "${CONN[@]}" -q "$Q"
        done
        t amqp-consume "${CONN[@]}" -q "$Q" -c 995 -- sh -c 'cat; echo'
        t amqp-get "${CONN[@]}" -q "$Q"
        for i in 1 2 3; do
            t amqp-publish "${CONN[@]}" -r "$Q" -b "leftover $i"
        done
        t amqp-delete-queue "${CONN[@]}" -q "$Q"
        t amqp-get "${CONN[@]}" -q "$Q.missing"
        # a missing exchange: the broker closes the channel after the publish; reported at close
        t amqp-publish "${CONN[@]}" -e "$Q.no-such-exchange" -r x -b lost
        (echo first; sleep 0.5; echo second) | t amqp-publish "${CONN[@]}" -e "$Q.no-such-exchange" -r x -l
    } >"$out" 2>&1
}

run real "" || fail "scenario on the real librabbitmq did not run"
run compat "$COMPAT_DIR" || fail "scenario on the compat library did not run"

# Sanity: the real run is the scenario we think it is.
grep -q '^message 1000$' "$WORK/real.out" || fail "the real librabbitmq run lacks 'message 1000':
$(head -50 "$WORK/real.out")"
[ "$(grep -c '^message ' "$WORK/real.out")" -eq 1000 ] || fail "the real run did not print 1000 messages"

if ! diff -u "$WORK/real.out" "$WORK/compat.out" >"$WORK/diff"; then
    head -80 "$WORK/diff" >&2
    fail "amqp-tools print differently on the compat library ($MODE); diff above (--- real, +++ compat)"
fi
echo "amqp_tools_scenario ($MODE): $(wc -l <"$WORK/real.out") lines identical on librabbitmq and the compat library"
