/*
 * The ABI fuzzer of libswiftamqp (see README.md in this folder): shared declarations of the input
 * reader, the per-input arena, the oracle hook and the scripted fake broker (peer.c).
 */
#ifndef SWIFTAMQP_ABI_FUZZ_H
#define SWIFTAMQP_ABI_FUZZ_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <swiftamqp.h>

/* ---- the input reader: every value of a run comes from the fuzz input; past its end, zeros ---- */

typedef struct af_reader {
    const uint8_t *p;
    size_t n, i;
} af_reader;

static inline uint8_t af_u8(af_reader *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static inline uint16_t af_u16(af_reader *r)
{
    uint16_t v = af_u8(r);
    return (uint16_t)(v | (uint16_t)af_u8(r) << 8);
}
static inline uint32_t af_u32(af_reader *r)
{
    uint32_t v = af_u16(r);
    return v | (uint32_t)af_u16(r) << 16;
}
static inline uint64_t af_u64(af_reader *r)
{
    uint64_t v = af_u32(r);
    return v | (uint64_t)af_u32(r) << 32;
}
static inline bool af_bool(af_reader *r) { return af_u8(r) & 1; }
static inline bool af_done(const af_reader *r) { return r->i >= r->n; }
/** A value below `n` (n > 0). */
static inline unsigned af_pick(af_reader *r, unsigned n) { return n <= 256 ? af_u8(r) % n : af_u16(r) % n; }
/** The next `len` bytes (fewer at the end) as a reader of their own. */
static inline af_reader af_sub(af_reader *r, size_t len)
{
    af_reader s = {r->p + r->i, 0, 0};
    size_t left = r->n - r->i;
    s.n = len < left ? len : left;
    r->i += s.n;
    return s;
}

/* ---- per-input memory: everything the arguments point to, freed when the input ends ---------- */

void *af_alloc(size_t size); /* zeroed; aborts when out of memory */
void af_arena_reset(void);

/* ---- oracles: a broken promise of the header ends the run like a crash ---------------------- */

/** Reports a broken promise and aborts (unless ABI_FUZZ_IGNORE names it: then it only prints). */
__attribute__((format(printf, 1, 2))) void af_violation(const char *fmt, ...);
extern int af_trace;  /* ABI_FUZZ_TRACE=1: every call and its arguments on stderr */
extern int af_oracles; /* ABI_FUZZ_ORACLES=0: only crashes and hangs count */
__attribute__((format(printf, 1, 2))) void af_log(const char *fmt, ...);

uint64_t af_now_ms(void);

/* ---- the operations of an input (abi_fuzz.c; seeds.c writes programs of them) ---------------- */

enum {
    OP_CREATE, OP_CONNECT, OP_OPEN, OP_CLOSE, OP_FREE, OP_CHANNEL, OP_RPC, OP_RPC2, OP_PUBLISH, OP_PUBLISH2,
    OP_ACK, OP_NEXT_EVENTS, OP_DISPATCH, OP_CALLBACK, OP_QUERY, OP_RAW, OP_INJECT, OP_INJECT2, OP_PEER,
    OP_MESSAGE, OP_URL, OP_MISC, OP_BG, OP_PAUSE, OP_COUNT
};

/* Every request of the header in its blocking and _async form. */
enum {
    RPC_EXCHANGE_DECLARE, RPC_QUEUE_DECLARE, RPC_QUEUE_BIND, RPC_EXCHANGE_DELETE, RPC_EXCHANGE_BIND,
    RPC_EXCHANGE_UNBIND, RPC_QUEUE_UNBIND, RPC_QUEUE_PURGE, RPC_QUEUE_DELETE, RPC_QOS, RPC_CONSUME, RPC_CANCEL,
    RPC_RECOVER, RPC_GET, RPC_TX_SELECT, RPC_TX_COMMIT, RPC_TX_ROLLBACK, RPC_CONFIRM_SELECT, RPC_WAIT_CONFIRMS,
    RPC_UPDATE_SECRET, RPC_COUNT
};

/** Writes the seed corpus (seeds.c). */
void af_write_seeds(const char *dir);

/* ---- the fake broker ------------------------------------------------------------------------- */

/** How the peer plays the handshake. */
enum {
    AF_HS_NORMAL = 0,
    AF_HS_SILENT,        /* reads the protocol header, then says nothing */
    AF_HS_EOF,           /* closes at once */
    AF_HS_BAD_HEADER,    /* answers with a protocol header of its own (version mismatch) */
    AF_HS_CLOSE_AT_START_OK, /* connection.close 403 instead of tune */
    AF_HS_SECURE,        /* connection.secure challenge instead of tune */
    AF_HS_GARBAGE,       /* bytes from the script instead of connection.start */
    AF_HS_CUT_START,     /* half of connection.start, then EOF */
    AF_HS_NO_OPEN_OK,    /* tune, then silence at connection.open */
    AF_HS_CHANNEL_MSG,   /* a basic.deliver on channel 1 before open-ok */
    AF_HS_COUNT
};

typedef struct af_peer_config {
    int mode;                /* AF_HS_* */
    uint16_t channel_max;
    uint32_t frame_max;
    uint16_t heartbeat;
    const char *mechanisms;
    uint8_t version_major, version_minor;
} af_peer_config;

typedef struct af_peer af_peer;

/** Starts a peer thread on `fd` (the broker's end of a socketpair). `script`: its decisions, one
 * or a few bytes per frame the client sends (copied). */
af_peer *af_peer_start(int fd, const af_peer_config *config, const uint8_t *script, size_t script_len);
/** Stops the thread, closes the socket, frees the peer. */
void af_peer_stop(af_peer *peer);
/** Ends the connection: shutdown(2) of the peer's socket (EOF for the client). Thread-safe. */
void af_peer_cut(af_peer *peer);
/** From now on every request is answered (for a bounded close or free). */
void af_peer_force_answers(af_peer *peer, bool on);
/** Whether the socket has ended (EOF seen, cut, or a write failed). */
bool af_peer_dead(af_peer *peer);
/** Sends something the broker may send unprompted, chosen and shaped by `r` (see peer.c). */
void af_peer_inject(af_peer *peer, af_reader *r, uint16_t channel_hint);
/** The consumer tag of the last consume-ok the peer sent ("" when none). */
void af_peer_last_consumer_tag(af_peer *peer, char out[256]);
/** Peer statistics for the figures. */
uint64_t af_peer_frames_read(af_peer *peer);

/* ---- a watchdog for calls with huge timeouts: cuts the peer when a call overstays ------------ */

void af_watchdog_arm(af_peer *peer, uint64_t after_ms);
void af_watchdog_disarm(void);

#endif
