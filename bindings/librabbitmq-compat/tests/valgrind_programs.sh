#!/usr/bin/env bash
# Valgrind memcheck on the compat library: every compat_programs scenario runs on
# COMPAT_DIR/librabbitmq.so.4 under memcheck and must finish ("done") with no memcheck error
# (invalid reads or writes, uninitialised values, bad frees) and no definitely lost block. What is
# still allocated at exit must not grow with the number of messages: close_keeps (about 2400
# messages, 83 MB) may hold at most 2 KB more at exit than login (no message at all).
#
#   valgrind_programs.sh PROGRAM COMPAT_DIR [SCENARIO...]
# Needs AMQP_URL, and for the tls scenario AMQPS_URL and SWIFTAMQP_TLS_DIR.
set -uo pipefail
fail() { printf 'FAIL valgrind_programs: %s\n' "$*" >&2; exit 1; }
PROGRAM=${1:-}
COMPAT_DIR=${2:-}
shift 2 || true
[ -x "$PROGRAM" ] && [ -e "$COMPAT_DIR/librabbitmq.so.4" ] || fail "usage: $0 PROGRAM COMPAT_DIR [SCENARIO...]"
command -v valgrind >/dev/null || fail "valgrind not found (apt: valgrind)"
[ -n "${AMQP_URL:-}" ] || fail "AMQP_URL is not set: scripts/broker start NAME, and export what it prints"
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(login producer_consumer rpc confirms errors tx_returns connection_error generic
                                          cancel_notify close_after_error rpc_timeout poll_socket raw_frames read_message
                                          out_of_memory rpc_replies close_keeps tls)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
declare -A in_use
for s in "${SCENARIOS[@]}"; do
    url=$AMQP_URL
    if [ "$s" = tls ]; then
        [ -n "${AMQPS_URL:-}" ] && [ -n "${SWIFTAMQP_TLS_DIR:-}" ] || fail "tls: AMQPS_URL / SWIFTAMQP_TLS_DIR not set"
        url=$AMQPS_URL
    fi
    # nouserintercepts: memcheck keeps the program's own malloc/calloc (alloc_fail.c, which fails
    # chosen allocations for out_of_memory) and tracks the glibc functions they forward to
    env LD_LIBRARY_PATH="$COMPAT_DIR" timeout 900 valgrind --error-exitcode=99 --leak-check=full \
        --soname-synonyms=somalloc=nouserintercepts \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=40 \
        "$PROGRAM" "$s" "$url" "valgrind.$$.$s" >"$WORK/$s.out" 2>"$WORK/$s.err"
    rc=$?
    if [ "$rc" != 0 ] || ! grep -qx done "$WORK/$s.out"; then
        cat "$WORK/$s.err" >&2
        fail "$s: exit $rc under memcheck"
    fi
    bytes=$(sed -n 's/.*in use at exit: \([0-9,]*\) bytes.*/\1/p' "$WORK/$s.err" | tr -d ,)
    [ -n "$bytes" ] || fail "$s: no heap summary"
    in_use[$s]=$bytes
    echo "$s: no memcheck error, nothing definitely lost, $bytes bytes in use at exit"
done
if [ -n "${in_use[login]:-}" ] && [ -n "${in_use[close_keeps]:-}" ]; then
    growth=$((in_use[close_keeps] - in_use[login]))
    [ "$growth" -le 2048 ] || fail "close_keeps holds $growth bytes more at exit than login: memory kept per message"
    echo "close_keeps holds $growth bytes more at exit than login"
fi
