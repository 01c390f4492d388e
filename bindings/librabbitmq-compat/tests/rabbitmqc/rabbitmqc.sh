#!/usr/bin/env bash
# Runs rabbitmq-c 0.11's own tests and example programs (unmodified, built against
# librabbitmq-dev's headers and linked to librabbitmq.so.4) once on the system's librabbitmq and
# once on the compat library (LD_LIBRARY_PATH=COMPAT_DIR), and compares what they print (stdout,
# stderr, exit codes) after normalising the per-run names. The differences that are by design are
# listed below, each with its reason; everything else must be identical.
#
#   rabbitmqc.sh COMPAT_DIR BIN_DIR VECTORS_DIR BROKER_SCRIPT CASE
#
# CASE: test_parse_url | test_status_enum | test_tables | test_basic | examples_bind |
#       examples_listen | examples_rpc | examples_producer_consumer | examples_connect_timeout |
#       examples_ssl_connect (AMQPS_URL and SWIFTAMQP_TLS_DIR: scripts/broker start NAME --tls)
# The broker cases need AMQP_URL (guest/guest, vhost "/": the examples log in so); examples_listen
# and examples_producer_consumer also SWIFTAMQP_BROKER_NAME (scripts/broker ctl finds the queues the
# examples declared with server-generated names). They FAIL when these are missing.
#
# By-design differences (normalised before comparing):
# - amqp_producer prints its timing ("N ms: Sent ...", total milliseconds, messages per second)
#   and amqp_consumer its rate every second ("N ms: Received ..."): wall-clock numbers, not
#   library behaviour. The producer's numbers are replaced by N; the consumer's rate lines are
#   dropped.
# - amqp_ssl_connect (examples_ssl_connect): the compat library makes the TLS handshake inside
#   amqp_login (the engine does it with the AMQP handshake), so a certificate that does not verify
#   is reported as "Logging in: SSL peer cert verification failed" where librabbitmq says "opening
#   SSL/TLS connection: ..."; the context is normalised. And librabbitmq 0.11's host name check
#   fails for every IP address, while the compat library (OpenSSL's check) accepts 127.0.0.1
#   against the test certificate's IP subjectAltName: that run is not compared but checked to be
#   exactly this difference.
set -uo pipefail
fail() { printf 'FAIL rabbitmqc %s: %s\n' "${CASE:-}" "$*" >&2; exit 1; }
COMPAT_DIR=${1:-}
BIN=${2:-}
VECTORS=${3:-}
BROKER_SCRIPT=${4:-}
CASE=${5:-}
[ -e "$COMPAT_DIR/librabbitmq.so.4" ] && [ -d "$BIN" ] && [ -d "$VECTORS/tests" ] && [ -n "$CASE" ] ||
    fail "usage: $0 COMPAT_DIR BIN_DIR VECTORS_DIR BROKER_SCRIPT CASE"
COMPAT_DIR=$(cd "$COMPAT_DIR" && pwd)
HOST=unset
PORT=unset
TLSDIR=unset
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

need_broker() {
    [ -n "${AMQP_URL:-}" ] || fail "AMQP_URL is not set: scripts/broker start NAME, and export what it prints"
    local hp=${AMQP_URL#*://}
    hp=${hp#*@}
    hp=${hp%%/*}
    HOST=${hp%:*}
    PORT=${hp##*:}
    [ "$HOST" != "$hp" ] || PORT=5672
    case $PORT in '' | *[!0-9]*) fail "cannot read the port of AMQP_URL" ;; esac
}
need_ctl() {
    [ -n "${SWIFTAMQP_BROKER_NAME:-}" ] || fail "SWIFTAMQP_BROKER_NAME is not set (the name given to scripts/broker start)"
    [ -x "$BROKER_SCRIPT" ] || fail "$BROKER_SCRIPT not found"
}
peer() { env -u LD_LIBRARY_PATH timeout 90 "$BIN/rabbitmqc_peer" "$AMQP_URL" "$@"; }

# the queue bound from exchange $1 with routing key $2 (its name was made by the broker)
bound_queue() {
    local i q
    for i in $(seq 1 100); do
        q=$("$BROKER_SCRIPT" ctl "$SWIFTAMQP_BROKER_NAME" list_bindings -q -s source_name routing_key destination_name \
                2>/dev/null | awk -F'\t' -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3; exit }')
        [ -n "$q" ] && { echo "$q"; return 0; }
        sleep 0.2
    done
    return 1
}
# deletes queue $1 once every message in it was delivered (if-empty fails while messages wait)
delete_when_empty() {
    local i
    for i in $(seq 1 150); do
        env -u LD_LIBRARY_PATH timeout 30 "$BIN/rabbitmqc_peer" "$AMQP_URL" delete-queue-if-empty "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# t LABEL PROGRAM ARGS...: one program run on the library of this pass ($LIBENV), appended to
# the transcript as the command, its stdout, stderr (prefixed) and exit code
t() {
    local rc
    "${LIBENV[@]}" timeout 60 "$BIN/$1" "${@:2}" >"$WORK/stdout" 2>"$WORK/stderr"
    rc=$?
    printf '$ %s\n' "$*"
    cat "$WORK/stdout"
    [ -s "$WORK/stderr" ] && sed 's|^|stderr: |' "$WORK/stderr"
    echo "[exit $rc]"
}
# background form: bg_start PROGRAM ARGS... (stdout line-buffered, so what it printed before it is
# stopped is all there); bg_stop_after N: once it has printed N message dumps (amqp_dump ends each
# with an offset line such as "0000001A:") or, with N = 0, at once, it is stopped with SIGTERM (the
# listening examples never end by themselves: librabbitmq gets no basic.cancel, see above).
bg_start() {
    BG_CMD="$*"
    "${LIBENV[@]}" stdbuf -oL timeout 90 "$BIN/$1" "${@:2}" >"$WORK/bg.stdout" 2>"$WORK/bg.stderr" &
    BG_PID=$!
}
bg_stop_after() {
    local i rc
    for i in $(seq 1 300); do
        [ "$(grep -Ec '^[0-9A-F]{8}:$' "$WORK/bg.stdout")" -ge "$1" ] && break
        sleep 0.1
    done
    kill -TERM "$BG_PID" 2>/dev/null
    wait "$BG_PID"
    rc=$?
    printf '$ %s\n' "$BG_CMD"
    cat "$WORK/bg.stdout"
    [ -s "$WORK/bg.stderr" ] && sed 's|^|stderr: |' "$WORK/bg.stderr"
    echo "[exit $rc]"
}

scenario() { # the case's steps on one library; $N is this pass's name prefix
    case $CASE in
    test_parse_url | test_status_enum)
        t "$CASE" ;;
    test_tables)
        # it compares its output with tests/test_tables.expected under $srcdir
        LIBENV+=(srcdir="$VECTORS")
        t test_tables ;;
    test_basic)
        # test_basic connects to localhost:5672 itself; the shim sends that to the test broker
        LIBENV+=(LD_PRELOAD="$BIN/librabbitmqc_connect_redirect.so" RABBITMQC_REDIRECT_PORT="$PORT")
        t test_basic ;;
    examples_bind)
        t amqp_exchange_declare "$HOST" "$PORT" "$N.x" direct
        t amqp_bind "$HOST" "$PORT" "$N.x" key "$N.q" # no such queue yet: the broker's 404
        peer declare-queue "$N.q" || fail "declare-queue"
        t amqp_bind "$HOST" "$PORT" "$N.x" key "$N.q"
        t amqp_sendstring "$HOST" "$PORT" "$N.x" key "hello from amqp_sendstring"
        t amqp_sendstring "$HOST" "$PORT" "$N.x" key "$(printf 'second\tmessage, with a tab and more than sixteen bytes')"
        t amqp_unbind "$HOST" "$PORT" "$N.x" key "$N.q"
        t amqp_sendstring "$HOST" "$PORT" "$N.x" key "not routed: the binding is gone"
        t amqp_sendstring "$HOST" "$PORT" "$N.no-such-exchange" key "to a missing exchange"
        # amqp_listenq reads the two messages
        bg_start amqp_listenq "$HOST" "$PORT" "$N.q"
        bg_stop_after 2
        peer delete-queue "$N.q" || fail "delete-queue"
        peer delete-exchange "$N.x" || fail "delete-exchange" ;;
    examples_listen)
        t amqp_exchange_declare "$HOST" "$PORT" "$N.x" fanout
        bg_start amqp_listen "$HOST" "$PORT" "$N.x" anykey
        local q
        q=$(bound_queue "$N.x" anykey) || fail "amqp_listen's queue did not appear"
        t amqp_sendstring "$HOST" "$PORT" "$N.x" other "fanout ignores the key"
        t amqp_sendstring "$HOST" "$PORT" "$N.x" anykey "$(head -c 300 /dev/zero | tr '\0' 'z')"
        t amqp_sendstring "$HOST" "$PORT" "$N.x" anykey ""
        bg_stop_after 3
        peer delete-exchange "$N.x" || fail "delete-exchange" ;;
    examples_rpc)
        rm -f "$WORK/ready"
        env -u LD_LIBRARY_PATH timeout 90 "$BIN/rabbitmqc_peer" "$AMQP_URL" rpc-serve "$N.rpc" "$WORK/ready" \
            >"$WORK/peer.out" 2>&1 &
        local server=$! i
        for i in $(seq 1 100); do [ -e "$WORK/ready" ] && break; sleep 0.1; done
        [ -e "$WORK/ready" ] || fail "the RPC server did not start: $(cat "$WORK/peer.out")"
        t amqp_rpc_sendstring_client "$HOST" "$PORT" "" "$N.rpc" "what time is it?"
        wait "$server" || fail "the RPC server failed: $(cat "$WORK/peer.out")" ;;
    examples_producer_consumer)
        # amqp_consumer binds a server-named queue to amq.direct with "test queue", which is
        # where amqp_producer publishes
        bg_start amqp_consumer "$HOST" "$PORT"
        local q
        q=$(bound_queue amq.direct "test queue") || fail "amqp_consumer's queue did not appear"
        t amqp_producer "$HOST" "$PORT" 2000 500
        delete_when_empty "$q" || fail "amqp_consumer did not take the messages"
        bg_stop_after 0 ;;
    examples_connect_timeout)
        t amqp_connect_timeout "$HOST" "$PORT" 5 0
        t amqp_connect_timeout "$HOST" "$PORT"
        local closed
        closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        t amqp_connect_timeout 127.0.0.1 "$closed" 2 0
        t amqp_connect_timeout no-such-host.invalid "$PORT" 2 0 ;;
    examples_ssl_connect)
        local T=$SWIFTAMQP_TLS_DIR
        t amqp_ssl_connect "$HOST" "$PORT" 5 # no verification
        t amqp_ssl_connect "$HOST" "$PORT" 5 "$T/ca.pem" verifypeer verifyhostname
        t amqp_ssl_connect "$HOST" "$PORT" 5 "$T/ca.pem" verifypeer verifyhostname "$T/client.key" "$T/client.pem"
        t amqp_ssl_connect "$HOST" "$PORT" 5 "$T/other-ca.pem" verifypeer verifyhostname
        t amqp_ssl_connect "$HOST" "$PORT" 5 "$T/missing-ca.pem" verifypeer
        # by design (see above): an IP address against the certificate's IP subjectAltName
        "${LIBENV[@]}" timeout 60 "$BIN/amqp_ssl_connect" 127.0.0.1 "$PORT" 5 "$T/ca.pem" verifypeer verifyhostname \
            >"$WORK/ip.$PASS" 2>&1
        echo "[exit $?]" >>"$WORK/ip.$PASS" ;;
    *) fail "unknown case $CASE" ;;
    esac
}

normalise() { # by-design differences (see the top of this file) and the per-pass names
    sed -e "s|$1|NAME|g" -e 's|amq\.gen-[A-Za-z0-9_-]*|amq.gen-NAME|g' \
        -e 's|^[0-9]* ms: Sent [0-9]* - [0-9]* since last report ([0-9]* Hz)$|N ms: Sent N - N since last report (N Hz)|' \
        -e 's|^Total time, milliseconds: [0-9]*$|Total time, milliseconds: N|' \
        -e 's|^Overall messages-per-second: .*$|Overall messages-per-second: N|' \
        -e '/^[0-9]* ms: Received [0-9]* - [0-9]* since last report ([0-9]* Hz)$/d' \
        -e "s#^\\\$ \\([a-z_]*\\) $HOST $PORT\\( \\|\$\\)#\$ \\1 HOST PORT\\2#" \
        -e 's|^\$ amqp_connect_timeout 127.0.0.1 [0-9]* |$ amqp_connect_timeout 127.0.0.1 CLOSED_PORT |' \
        -e "s|$TLSDIR/|TLS/|g" \
        -e 's|^stderr: Logging in: SSL peer cert verification failed$|stderr: opening SSL/TLS connection: SSL peer cert verification failed|'
}

case $CASE in
test_basic | examples_*) need_broker ;;
esac
case $CASE in
examples_listen | examples_producer_consumer) need_ctl ;;
examples_ssl_connect)
    [ -n "${AMQPS_URL:-}" ] || fail "AMQPS_URL is not set: scripts/broker start NAME --tls, and export what it prints"
    [ -n "${SWIFTAMQP_TLS_DIR:-}" ] || fail "SWIFTAMQP_TLS_DIR is not set"
    TLSDIR=$SWIFTAMQP_TLS_DIR
    AMQP_URL=$AMQPS_URL need_broker ;;
esac

for pass in real compat; do
    PASS=$pass
    N="rabbitmqc.$$.$pass"
    if [ "$pass" = real ]; then LIBENV=(env -u LD_LIBRARY_PATH); else LIBENV=(env LD_LIBRARY_PATH="$COMPAT_DIR"); fi
    scenario >"$WORK/$pass.raw"
    normalise "$N" <"$WORK/$pass.raw" >"$WORK/$pass.out"
done
grep -q '^\[exit ' "$WORK/real.out" || fail "nothing ran"
if [ "$CASE" = test_parse_url ] || [ "$CASE" = test_status_enum ] || [ "$CASE" = test_tables ] ||
    [ "$CASE" = test_basic ]; then
    grep -qx '\[exit 0\]' "$WORK/real.out" || fail "$CASE fails on the real librabbitmq: $(cat "$WORK/real.out")"
fi
if ! diff -u "$WORK/real.out" "$WORK/compat.out" >&2; then
    fail "the output differs on the compat library (--- real, +++ compat)"
fi
if [ "$CASE" = examples_ssl_connect ]; then
    printf 'opening SSL/TLS connection: SSL hostname verification failed\n[exit 1]\n' | cmp -s - "$WORK/ip.real" ||
        fail "amqp_ssl_connect to 127.0.0.1 on librabbitmq: $(cat "$WORK/ip.real")"
    printf 'Done\n[exit 0]\n' | cmp -s - "$WORK/ip.compat" ||
        fail "amqp_ssl_connect to 127.0.0.1 on the compat library: $(cat "$WORK/ip.compat")"
    echo "amqp_ssl_connect to 127.0.0.1 with verifyhostname: librabbitmq refuses (every IP), the compat library accepts (IP subjectAltName), as documented"
fi
echo "rabbitmqc $CASE: $(grep -c '^\[exit ' "$WORK/real.out") program runs, $(wc -l <"$WORK/real.out") lines identical on librabbitmq and the compat library"
[ -n "${RABBITMQC_SHOW:-}" ] && cat "$WORK/real.out"
exit 0
