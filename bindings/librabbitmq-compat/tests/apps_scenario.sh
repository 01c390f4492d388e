#!/usr/bin/env bash
# Real applications built by Debian against librabbitmq.so.4, run unmodified on the system's
# librabbitmq and on the compat library (LD_LIBRARY_PATH=COMPAT_DIR); each run checks with the
# dynamic loader's trace that the library it meant to test was the one loaded.
#
#   apps_scenario.sh COMPAT_DIR php     PHP's amqp extension (php8.2-amqp): php/amqp_roundtrip.php
#                                       on both libraries, stdout, stderr and exit code identical
#   apps_scenario.sh COMPAT_DIR ffmpeg  ffmpeg's amqp:// protocol: a reader (-exchange amq.direct
#                                       -routing_key KEY, -t 2) and a writer streaming 5 s of lavfi
#                                       testsrc as MPEG-2 in MPEG-TS (paced, 4 KiB messages), for
#                                       each pairing of the two
#                                       libraries (writer x reader); every received file must
#                                       decode (ffprobe) to the same frames as a local encoding
#                                       of the same source, and all four must be identical
#
# Needs AMQP_URL; ffmpeg also SWIFTAMQP_BROKER_NAME (scripts/broker ctl shows when the reader's
# queue is bound). FAILS when they, php with the amqp extension, or ffmpeg/ffprobe are missing
# (scripts/setup installs them).
set -uo pipefail
fail() { printf 'FAIL apps_scenario %s: %s\n' "${APP:-}" "$*" >&2; exit 1; }
COMPAT_DIR=${1:-}
APP=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
[ -e "$COMPAT_DIR/librabbitmq.so.4" ] && [ -n "$APP" ] || fail "usage: $0 COMPAT_DIR php|ffmpeg"
COMPAT_DIR=$(cd "$COMPAT_DIR" && pwd)
[ -n "${AMQP_URL:-}" ] || fail "AMQP_URL is not set: scripts/broker start NAME, and export what it prints"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

# runs "$@" on library $LIB (real | compat) with the loader's trace in $WORK/ld.$LIB.$TAG
on() {
    local lib=$1 tag=$2
    shift 2
    if [ "$lib" = real ]; then
        env -u LD_LIBRARY_PATH LD_DEBUG=libs LD_DEBUG_OUTPUT="$WORK/ld.$lib.$tag" "$@"
    else
        env LD_LIBRARY_PATH="$COMPAT_DIR" LD_DEBUG=libs LD_DEBUG_OUTPUT="$WORK/ld.$lib.$tag" "$@"
    fi
}
# the trace shows that librabbitmq.so.4 was initialised from the intended place
check_loaded() {
    local lib=$1 tag=$2 hits
    hits=$(cat "$WORK/ld.$lib.$tag".* 2>/dev/null | grep -E 'calling init: .*/librabbitmq\.so\.4$' | sort -u)
    [ -n "$hits" ] || fail "$tag on $lib: librabbitmq.so.4 was never loaded"
    if [ "$lib" = compat ]; then
        grep -q "calling init: $COMPAT_DIR/librabbitmq.so.4" <<<"$hits" || fail "$tag on compat loaded: $hits"
    elif grep -q "$COMPAT_DIR" <<<"$hits"; then
        fail "$tag on real loaded the compat library"
    fi
    rm -f "$WORK/ld.$lib.$tag".*
}

case $APP in
php)
    command -v php >/dev/null || fail "php not found (apt: php8.2-cli php8.2-amqp; scripts/setup)"
    [ "$(php -m | grep -cx amqp)" -ge 1 ] || fail "php has no amqp extension (apt: php8.2-amqp; scripts/setup)"
    for lib in real compat; do
        P="compat-php.$$.$lib"
        on "$lib" php timeout 120 php "$HERE/php/amqp_roundtrip.php" "$AMQP_URL" "$P" >"$WORK/$lib.raw" 2>"$WORK/$lib.err"
        echo "[exit $?]" >>"$WORK/$lib.raw"
        check_loaded "$lib" php
        sed "s|$P|PREFIX|g" "$WORK/$lib.raw" >"$WORK/$lib.out"
        sed "s|$P|PREFIX|g" "$WORK/$lib.err" >>"$WORK/$lib.out"
    done
    grep -q '^done$' "$WORK/real.out" || fail "the PHP program failed on the real librabbitmq: $(cat "$WORK/real.out")"
    diff -u "$WORK/real.out" "$WORK/compat.out" >&2 || fail "the output differs on the compat library (--- real, +++ compat)"
    echo "apps_scenario php: $(wc -l <"$WORK/real.out") lines identical on librabbitmq and the compat library"
    ;;
ffmpeg)
    command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || fail "ffmpeg/ffprobe not found (apt: ffmpeg; scripts/setup)"
    [ "$(ffmpeg -hide_banner -protocols 2>/dev/null | grep -cx '  amqp')" -ge 1 ] || fail "this ffmpeg has no amqp protocol"
    [ -n "${SWIFTAMQP_BROKER_NAME:-}" ] || fail "SWIFTAMQP_BROKER_NAME is not set (the name given to scripts/broker start)"
    rest=${AMQP_URL#*://}
    [ "${rest%%/*}" != "$rest" ] || rest="$rest/"
    URL="amqp://${rest%%/*}" # ffmpeg's amqp:// takes user:pass@host:port (default vhost)
    # The writer runs at the source's pace (-re) in AMQP messages of at most 4 KiB (-pkt_size):
    # ffmpeg's reader waits for its socket to be readable before each amqp_consume_message, so
    # with the real librabbitmq a burst of messages read in one go strands the rest of the burst
    # in librabbitmq's buffer (the socket never becomes readable again) and the reader hangs.
    # Paced, each message arrives on its own. (The compat library's socket is readable while frames
    # wait; compat_program_poll_socket tests that without pacing.)
    SRC=(-re -f lavfi -i testsrc=duration=5:size=160x120:rate=10 -c:v mpeg2video -threads 1 -q:v 4 -f mpegts)
    PKT=(-pkt_size 4096)
    FF=(ffmpeg -hide_banner -loglevel error -nostdin -y)
    "${FF[@]}" "${SRC[@]:1}" "$WORK/reference.ts" || fail "local reference encoding failed"
    ffmpeg -hide_banner -loglevel error -i "$WORK/reference.ts" -f framemd5 - | grep -v '^#' >"$WORK/reference.md5"
    [ "$(wc -l <"$WORK/reference.md5")" -ge 50 ] || fail "the reference has too few frames"
    for writer in real compat; do
        for reader in real compat; do
            pair="$writer-writer.$reader-reader"
            started=$SECONDS
            KEY="compat-ffmpeg.$$.$pair"
            on "$reader" reader timeout 60 "${FF[@]}" "${PKT[@]}" -exchange amq.direct -routing_key "$KEY" -f mpegts \
                -probesize 32768 -analyzeduration 0 -i "$URL" -t 2 -c copy -f mpegts "$WORK/$pair.ts" \
                >"$WORK/$pair.reader.log" 2>&1 &
            rpid=$!
            bound=""
            for i in $(seq 1 150); do
                bound=$("$ROOT/scripts/broker" ctl "$SWIFTAMQP_BROKER_NAME" list_bindings -q -s source_name routing_key \
                            2>/dev/null | awk -F'\t' -v k="$KEY" '$1 == "amq.direct" && $2 == k' )
                [ -n "$bound" ] && break
                kill -0 "$rpid" 2>/dev/null || break
                sleep 0.2
            done
            [ -n "$bound" ] || fail "$pair: the reader's queue was never bound: $(cat "$WORK/$pair.reader.log")"
            on "$writer" writer timeout 60 "${FF[@]}" "${SRC[@]}" "${PKT[@]}" -exchange amq.direct -routing_key "$KEY" "$URL" \
                >"$WORK/$pair.writer.log" 2>&1
            wrc=$?
            wait "$rpid"
            rrc=$?
            check_loaded "$writer" writer
            check_loaded "$reader" reader
            [ "$wrc" = 0 ] || fail "$pair: the writer failed (exit $wrc): $(cat "$WORK/$pair.writer.log")"
            [ "$rrc" = 0 ] || fail "$pair: the reader failed (exit $rrc): $(cat "$WORK/$pair.reader.log")"
            [ -s "$WORK/$pair.reader.log" ] && fail "$pair: the reader said: $(cat "$WORK/$pair.reader.log")"
            [ -s "$WORK/$pair.writer.log" ] && fail "$pair: the writer said: $(cat "$WORK/$pair.writer.log")"
            ffprobe -v error -count_frames -select_streams v:0 \
                -show_entries stream=codec_name,width,height,r_frame_rate,nb_read_frames -of compact=p=0 \
                "$WORK/$pair.ts" >"$WORK/$pair.probe.all" 2>&1 || fail "$pair: ffprobe failed: $(cat "$WORK/$pair.probe.all")"
            grep -m1 '^codec_name=' "$WORK/$pair.probe.all" >"$WORK/$pair.probe"
            frames=$(sed -n 's/.*nb_read_frames=\([0-9]*\).*/\1/p' "$WORK/$pair.probe")
            [ -n "$frames" ] && [ "$frames" -ge 20 ] || fail "$pair: $(cat "$WORK/$pair.probe")"
            ffmpeg -hide_banner -loglevel error -i "$WORK/$pair.ts" -f framemd5 - | grep -v '^#' >"$WORK/$pair.md5"
            head -n "$(wc -l <"$WORK/$pair.md5")" "$WORK/reference.md5" | cmp -s - "$WORK/$pair.md5" ||
                fail "$pair: the received frames differ from the reference encoding"
            echo "$pair: $(cat "$WORK/$pair.probe"), frames identical to the reference ($((SECONDS - started)) s)"
        done
    done
    for pair in real-writer.compat-reader compat-writer.real-reader compat-writer.compat-reader; do
        cmp -s "$WORK/real-writer.real-reader.ts" "$WORK/$pair.ts" || fail "$pair: the received stream differs from real-writer.real-reader's"
    done
    echo "apps_scenario ffmpeg: the four streams are byte-identical"
    ;;
*) fail "unknown app $APP" ;;
esac
