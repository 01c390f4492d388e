#!/usr/bin/env bash
# Runs one program (built against librabbitmq-dev, linked to librabbitmq.so.4) on the real
# librabbitmq and on the compat library (LD_LIBRARY_PATH=COMPAT_DIR) and fails unless stdout,
# stderr and the exit code are identical. No broker needed unless the program needs one.
#
#   same_on_both.sh COMPAT_DIR PROGRAM [ARGS...]
set -uo pipefail
COMPAT_DIR=${1:-}
shift || true
[ -e "$COMPAT_DIR/librabbitmq.so.4" ] && [ $# -ge 1 ] && [ -x "$1" ] ||
    { echo "usage: $0 COMPAT_DIR PROGRAM [ARGS...]" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
env -u LD_LIBRARY_PATH timeout 120 "$@" >"$WORK/real.out" 2>"$WORK/real.err"
echo "[exit $?]" >>"$WORK/real.out"
env LD_LIBRARY_PATH="$COMPAT_DIR" timeout 120 "$@" >"$WORK/compat.out" 2>"$WORK/compat.err"
echo "[exit $?]" >>"$WORK/compat.out"
rc=0
diff -u "$WORK/real.out" "$WORK/compat.out" >&2 || rc=1
diff -u "$WORK/real.err" "$WORK/compat.err" >&2 || rc=1
if [ "$rc" != 0 ]; then
    echo "FAIL $(basename "$1"): output differs on the compat library (--- real, +++ compat)" >&2
    exit 1
fi
echo "$(basename "$1"): $(wc -l <"$WORK/real.out") lines of output identical on librabbitmq and the compat library"
