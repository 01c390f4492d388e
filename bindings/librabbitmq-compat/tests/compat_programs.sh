#!/usr/bin/env bash
# Runs one scenario of compat_programs (built against librabbitmq-dev, linked to librabbitmq.so.4)
# on the real librabbitmq and on the compat library (LD_LIBRARY_PATH=COMPAT_DIR), and compares
# stdout and the exit code. Needs AMQP_URL (the tls scenario: AMQPS_URL and SWIFTAMQP_TLS_DIR);
# FAILS when it is missing.
#
#   compat_programs.sh PROGRAM COMPAT_DIR SCENARIO
set -uo pipefail
fail() { printf 'FAIL compat_programs %s: %s\n' "${SCENARIO:-}" "$*" >&2; exit 1; }
PROGRAM=${1:-}
COMPAT_DIR=${2:-}
SCENARIO=${3:-}
[ -x "$PROGRAM" ] && [ -e "$COMPAT_DIR/librabbitmq.so.4" ] && [ -n "$SCENARIO" ] ||
    fail "usage: $0 PROGRAM COMPAT_DIR SCENARIO"
URL=${AMQP_URL:-}
if [ "$SCENARIO" = tls ]; then
    # the tls scenario: AMQPS_URL and the certificates of scripts/broker start NAME --tls
    [ -n "${AMQPS_URL:-}" ] || fail "AMQPS_URL is not set: scripts/broker start NAME --tls, and export what it prints"
    [ -n "${SWIFTAMQP_TLS_DIR:-}" ] || fail "SWIFTAMQP_TLS_DIR is not set"
    URL=$AMQPS_URL
fi
[ -n "$URL" ] || fail "AMQP_URL is not set: scripts/broker start NAME, and export what it prints"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
env -u LD_LIBRARY_PATH timeout 120 "$PROGRAM" "$SCENARIO" "$URL" "compat-programs.$$.real" \
    >"$WORK/real.out" 2>"$WORK/real.err"
echo "[exit $?]" >>"$WORK/real.out"
env LD_LIBRARY_PATH="$COMPAT_DIR" timeout 120 "$PROGRAM" "$SCENARIO" "$URL" "compat-programs.$$.compat" \
    >"$WORK/compat.out" 2>"$WORK/compat.err"
echo "[exit $?]" >>"$WORK/compat.out"
grep -q '^done$' "$WORK/real.out" || fail "the scenario failed on the real librabbitmq: $(cat "$WORK/real.err")"
if ! diff -u "$WORK/real.out" "$WORK/compat.out" >&2; then
    cat "$WORK/compat.err" >&2
    fail "the output differs on the compat library (--- real, +++ compat)"
fi
echo "compat_programs $SCENARIO: $(wc -l <"$WORK/real.out") lines identical on librabbitmq and the compat library"
