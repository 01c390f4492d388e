#!/usr/bin/env bash
# The compat librabbitmq.so.4 defines every symbol that the system's librabbitmq.so.4 exports (so
# no librabbitmq program aborts on a missing symbol), exports nothing but librabbitmq's names, and
# has the SONAME librabbitmq.so.4.
#
#   check_symbols.sh COMPAT_LIBRARY REAL_LIBRARY
set -uo pipefail
fail() { printf 'FAIL check_symbols: %s\n' "$*" >&2; exit 1; }
COMPAT=${1:-}; REAL=${2:-}
[ -e "$COMPAT" ] && [ -e "$REAL" ] || fail "usage: $0 COMPAT_LIBRARY REAL_LIBRARY"
defined() { nm -D --defined-only "$1" | awk 'NF == 3 { print $3 }' | sed 's/@.*//' | sort -u; }
missing=$(comm -23 <(defined "$REAL") <(defined "$COMPAT"))
[ -z "$missing" ] || fail "not defined by the compat library: $missing"
extra=$(defined "$COMPAT" | grep -Ev '^(amqp_|init_amqp_pool$|empty_amqp_pool$|recycle_amqp_pool$)')
[ -z "$extra" ] || fail "the compat library exports names that are not librabbitmq's: $extra"
soname=$(objdump -p "$COMPAT" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = librabbitmq.so.4 ] || fail "SONAME is '$soname', not librabbitmq.so.4"
echo "check_symbols: $(defined "$REAL" | wc -l) librabbitmq symbols, all defined; SONAME $soname"
