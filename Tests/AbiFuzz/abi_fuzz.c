/*
 * abi_fuzz: a libFuzzer target that drives random sequences of swamqp_* calls with hostile
 * arguments against scripted fake brokers (peer.c) in the same process. See README.md here.
 *
 * An input is a program: a first byte of run settings, then operations, each an opcode byte and
 * its operands. Every operand is read through a selector that mostly picks something sensible
 * (a live handle, an open channel, a short string) and sometimes something hostile (a freed or
 * forged handle, channel 0 or 65535, NULL with a length, a length of 2^63 or SIZE_MAX, a count
 * of 2^63, a nested table, a timeout near UINT32_MAX). A selector reading past the input's end
 * reads zeros, and zero always means the sensible choice.
 *
 * Crashes (a Swift trap is SIGILL/SIGTRAP, a sanitizer report, SIGSEGV) and hangs (an input that
 * outlives libFuzzer's -timeout) are what we look for. On top, oracles check the header's promises
 * and end the run with "ABI-FUZZ VIOLATION" (abort): statuses are known values, a failing call
 * fills its swamqp_error, invalid handles answer SWAMQP_ERR_INVALID_HANDLE, arguments that are
 * invalid by the header's rules are refused at call time, TIMEOUT does not come before the
 * timeout, blocking calls inside callbacks do not wait, CONNECTION_CLOSED is the last event, every
 * pointer in an event is readable for its length, the frames the client sends are well-formed
 * (peer.c) and a run leaves no descriptor open.
 *
 * Waiting is bounded: small timeouts come out of a per-input budget; at most one "probe" per input
 * uses a huge timeout (0x7fffffff ... UINT32_MAX) and then a watchdog cuts the peer's socket after
 * 1.5 s, so a correct library returns at once with the connection lost.
 *
 * Environment: ABI_FUZZ_TRACE=1 prints every call (to turn an input into a C reproducer);
 * ABI_FUZZ_ORACLES=0 looks for crashes and hangs only; ABI_FUZZ_IGNORE='text|text' only prints the
 * violations whose message contains one of the texts; ABI_FUZZ_AVOID='length,count,...' does not
 * generate those classes of hostile values (see parse_avoid); ABI_FUZZ_WRITE_SEEDS=DIR writes the seed
 * corpus into DIR at start-up and exits.
 */
#include "abi_fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int af_trace;
int af_oracles = 1;

/* ABI_FUZZ_AVOID: classes of hostile values not to generate (known bugs being fixed), by name:
 * length (byte string lengths >= 2^63), count (table/array/endpoint/certificate counts >= 2^63),
 * capacity (huge swamqp_next_events capacities), message-size (max_message_size >= 2^63),
 * probe (timeouts near UINT32_MAX), recovery-delay (huge recovery delays). */
enum { AVOID_LENGTH = 1, AVOID_COUNT = 2, AVOID_CAPACITY = 4, AVOID_MESSAGE_SIZE = 8, AVOID_PROBE = 16,
       AVOID_RECOVERY_DELAY = 32 };
static unsigned avoid;
static unsigned parse_avoid(const char *s)
{
    static const struct { const char *name; unsigned bit; } names[] = {
        {"length", AVOID_LENGTH}, {"count", AVOID_COUNT}, {"capacity", AVOID_CAPACITY},
        {"message-size", AVOID_MESSAGE_SIZE}, {"probe", AVOID_PROBE}, {"recovery-delay", AVOID_RECOVERY_DELAY}};
    unsigned bits = 0;
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (strstr(s, names[i].name))
            bits |= names[i].bit;
    return bits;
}

/* ---- basics ---------------------------------------------------------------------------------- */

uint64_t af_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ABI_FUZZ_IGNORE: violations whose text contains one of these '|'-separated parts only print
 * (to fuzz on past a known bug that is being fixed). */
static const char *ignore_list;

void af_violation(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (ignore_list && *ignore_list) {
        const char *p = ignore_list;
        while (*p) {
            const char *end = strchr(p, '|');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            if (n > 0 && n < 256) {
                char part[256];
                memcpy(part, p, n);
                part[n] = 0;
                if (strstr(text, part)) {
                    af_log("ignored violation: %s", text);
                    return;
                }
            }
            p += n + (end ? 1 : 0);
        }
    }
    fprintf(stderr, "\n==ABI-FUZZ VIOLATION== %s\n", text);
    fflush(stderr);
    abort();
}

void af_log(const char *fmt, ...)
{
    if (!af_trace)
        return;
    va_list ap;
    static uint64_t t0;
    if (t0 == 0)
        t0 = af_now_ms();
    fprintf(stderr, "[abi-fuzz %5" PRIu64 "] ", af_now_ms() - t0);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

typedef struct ablock {
    struct ablock *next;
    max_align_t align[];
} ablock;
static ablock *arena;

void *af_alloc(size_t size)
{
    ablock *b = calloc(1, sizeof(ablock) + (size ? size : 1));
    if (b == NULL)
        abort();
    b->next = arena;
    arena = b;
    return b->align;
}

void af_arena_reset(void)
{
    while (arena) {
        ablock *next = arena->next;
        free(arena);
        arena = next;
    }
}

/* Honest byte strings point into this (its contents do not matter). */
#define BACKING_SIZE (4u << 20)
static uint8_t *backing;

static volatile uint64_t sink;
static void touch(const void *p, size_t n)
{
    const volatile uint8_t *b = p;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += b[i];
    sink += sum;
}

/* ---- run state ------------------------------------------------------------------------------- */

#define NSLOTS 3
#define MAX_OPS 48
#define MAX_CB_OPS 48
#define MAX_EVENTS 4096
#define WAIT_BUDGET_MS 600
#define PROBE_WATCHDOG_MS 1500
#define OVERRUN_SLACK_MS 900 /* a blocking call may return this much after its timeout */

/* A loopback listener that plays a fresh fake broker on every connection it accepts: the target of
 * TCP connects and of automatic recovery's reconnects. */
typedef struct acceptor {
    int lfd;
    pthread_t thread;
    atomic_bool stop;
    af_peer_config cfg;
    uint8_t script[64];
    size_t script_len;
    pthread_mutex_t lock;
    af_peer *peers[4];
    int n;
} acceptor;

static void *acceptor_main(void *arg)
{
    acceptor *a = arg;
    while (!atomic_load(&a->stop)) {
        struct pollfd p = {a->lfd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&a->lock);
        if (a->n < 4) {
            a->peers[a->n++] = af_peer_start(fd, &a->cfg, a->script, a->script_len);
            af_log("  acceptor: connection %d accepted", a->n);
        } else {
            close(fd);
        }
        pthread_mutex_unlock(&a->lock);
    }
    return NULL;
}

static acceptor *acceptor_start(const af_peer_config *cfg, const uint8_t *script, size_t script_len, uint16_t *port)
{
    acceptor *a = calloc(1, sizeof *a);
    if (a == NULL)
        abort();
    a->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (a->lfd < 0 || bind(a->lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(a->lfd, 4) != 0 ||
        getsockname(a->lfd, (struct sockaddr *)&addr, &len) != 0)
        abort();
    *port = ntohs(addr.sin_port);
    a->cfg = *cfg;
    a->script_len = script_len < sizeof a->script ? script_len : sizeof a->script;
    if (a->script_len)
        memcpy(a->script, script, a->script_len);
    pthread_mutex_init(&a->lock, NULL);
    if (pthread_create(&a->thread, NULL, acceptor_main, a) != 0)
        abort();
    return a;
}

static void acceptor_stop(acceptor *a)
{
    if (a == NULL)
        return;
    atomic_store(&a->stop, true);
    pthread_join(a->thread, NULL);
    close(a->lfd);
    for (int i = 0; i < a->n; i++)
        af_peer_stop(a->peers[i]);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

typedef struct slot {
    swamqp_connection *conn;
    bool live;           /* a handle we got and have not freed */
    af_peer *peer;       /* the socketpair's broker */
    acceptor *acc;       /* brokers of loopback TCP connections (connects, reconnects) */
    int aux_fd;          /* the other end of a pipe the connection adopted, or -1 */
    bool opened;         /* an open call succeeded */
    bool closed_event;   /* SWAMQP_EVENT_CONNECTION_CLOSED was handed out */
    bool callback_set;
    bool probe_connect;  /* connect_timeout_ms is huge: watch the open */
    bool tls;
    bool small_event_limit; /* reading may pause for good: no reply arrives, no EOF is seen */
    uint32_t connect_timeout_ms;
    uint16_t chans[8];
    unsigned nchans;
    uint64_t tags[8];
    unsigned ntags;
} slot;

typedef struct bg_call bg_call;

/* The broker the slot's connection talks to now: the newest accepted one, else the socketpair's. */
static af_peer *slot_peer(const slot *s)
{
    af_peer *p = s->peer;
    if (s->acc) {
        pthread_mutex_lock(&s->acc->lock);
        if (s->acc->n)
            p = s->acc->peers[s->acc->n - 1];
        pthread_mutex_unlock(&s->acc->lock);
    }
    return p;
}

static struct {
    slot s[NSLOTS];
    swamqp_connection *dead[16];
    unsigned ndead;
    swamqp_message *msgs[16];
    unsigned nmsgs;
    swamqp_message *freed_msgs[16];
    unsigned nfreed;
    int64_t budget;
    bool probe_used;
    int in_callback;
    unsigned cb_ops;
    af_reader cb;
    bg_call *bg[2];
    unsigned ops;
    uint8_t settings;
} g;

/* ---- statuses and errors --------------------------------------------------------------------- */

static bool known_status(int rc)
{
    switch (rc) {
    case SWAMQP_OK:
    case SWAMQP_ERR_INVALID_ARGUMENT: case SWAMQP_ERR_INVALID_HANDLE: case SWAMQP_ERR_NO_MEMORY:
    case SWAMQP_ERR_IN_CALLBACK: case SWAMQP_ERR_FORKED: case SWAMQP_ERR_BAD_STATE: case SWAMQP_ERR_CHANNEL_LIMIT:
    case SWAMQP_ERR_NOT_CONFIRM_MODE: case SWAMQP_ERR_STALE_DELIVERY_TAG:
    case SWAMQP_ERR_TIMEOUT: case SWAMQP_ERR_WOULD_BLOCK:
    case SWAMQP_ERR_RESOLVE: case SWAMQP_ERR_CONNECT: case SWAMQP_ERR_IO: case SWAMQP_ERR_CONNECTION_LOST:
    case SWAMQP_ERR_HEARTBEAT_TIMEOUT: case SWAMQP_ERR_TLS: case SWAMQP_ERR_RECOVERING:
    case SWAMQP_ERR_PROTOCOL: case SWAMQP_ERR_FRAME_TOO_LARGE: case SWAMQP_ERR_MESSAGE_TOO_LARGE:
    case SWAMQP_ERR_UNEXPECTED_FRAME: case SWAMQP_ERR_AUTH: case SWAMQP_ERR_NACKED:
    case SWAMQP_ERR_CHANNEL_CLOSED: case SWAMQP_ERR_CONNECTION_CLOSED: case SWAMQP_ERR_CLOSED_BY_APPLICATION:
        return true;
    default:
        return false;
    }
}

static void check_error_struct(const char *fn, const swamqp_error *err, int status)
{
    if (memchr(err->message, 0, sizeof err->message) == NULL)
        af_violation("%s: swamqp_error.message is not NUL-terminated", fn);
    if (err->status != status)
        af_violation("%s returned %s but filled swamqp_error.status %d", fn, swamqp_status_string(status), err->status);
    if (err->origin != SWAMQP_ORIGIN_LIBRARY && err->origin != SWAMQP_ORIGIN_BROKER)
        af_violation("%s: swamqp_error.origin %d on failure", fn, err->origin);
}

/* Why a call must fail, if it must. */
typedef struct expect {
    bool bad;            /* an argument is invalid by the header's rules */
    bool bad_handle;     /* the handle is not live */
    const char *why;
} expect;

static void mark_bad(expect *x, const char *why)
{
    if (!x->bad)
        x->why = why;
    x->bad = true;
}

/* The common checks after a call. `err` NULL when the function takes none or got NULL. */
static void check_rc(const char *fn, int rc, const swamqp_error *err, const expect *x)
{
    af_log("  -> %s%s%s", swamqp_status_string(rc), x && x->bad ? " (expected a failure: " : "",
           x && x->bad ? x->why : "");
    if (!af_oracles)
        return;
    if (!known_status(rc))
        af_violation("%s returned %d, which is no swamqp_status", fn, rc);
    if (err && rc != SWAMQP_OK)
        check_error_struct(fn, err, rc);
    if (x && x->bad && rc == SWAMQP_OK)
        af_violation("%s accepted an invalid argument (%s)", fn, x->why ? x->why : "?");
    if (x && x->bad_handle && !x->bad && rc != SWAMQP_ERR_INVALID_HANDLE)
        af_violation("%s with a freed or forged handle returned %s, not SWAMQP_ERR_INVALID_HANDLE", fn,
                     swamqp_status_string(rc));
}

static swamqp_error *pick_error(af_reader *r, swamqp_error *storage)
{
    memset(storage, 0xa5, sizeof *storage);
    return af_pick(r, 8) == 7 ? NULL : storage;
}

/* ---- handles ----------------------------------------------------------------------------------- */

static int slot_of(swamqp_connection *h)
{
    for (int i = 0; i < NSLOTS; i++)
        if (g.s[i].live && g.s[i].conn == h)
            return i;
    return -1;
}

/* A handle: mostly a slot's, sometimes NULL, freed or forged. `*slot_index` the slot it is live in, or -1. */
static swamqp_connection *pick_handle(af_reader *r, int *slot_index, expect *x)
{
    unsigned sel = af_pick(r, 24);
    swamqp_connection *h = NULL;
    if (sel < 18) {
        h = g.s[sel % NSLOTS].conn;
        if (!g.s[sel % NSLOTS].live) {
            /* A slot never used or freed: its old (stale) handle, or NULL. */
        }
    } else {
        uintptr_t base = (uintptr_t)g.s[af_pick(r, NSLOTS)].conn;
        if (base == 0)
            base = ((uintptr_t)1 << 32) | 0x10;
        switch (sel) {
        case 18: h = NULL; break;
        case 19: h = g.ndead ? g.dead[af_pick(r, g.ndead)] : (swamqp_connection *)(uintptr_t)0x10; break;
        case 20: h = (swamqp_connection *)(base + ((uintptr_t)(1 + af_pick(r, 3)) << 32)); break; /* generation */
        case 21: h = (swamqp_connection *)(base + ((uintptr_t)(1 + af_pick(r, 4)) << 4)); break;  /* slot */
        case 22: h = (swamqp_connection *)(base | (1 + af_pick(r, 15))); break;                  /* low bits */
        default: {
            static int on_stack_marker;
            const uintptr_t forged[] = {1, 0x10, 0xf, UINTPTR_MAX, UINTPTR_MAX - 0xf, (uintptr_t)0xfffffff0,
                                        (uintptr_t)&on_stack_marker, (uintptr_t)backing, (uintptr_t)1 << 63,
                                        (uintptr_t)0xffffffff00000010ull};
            h = (swamqp_connection *)forged[af_pick(r, sizeof forged / sizeof forged[0])];
        }
        }
    }
    int s = slot_of(h);
    if (slot_index)
        *slot_index = s;
    if (x && s < 0)
        x->bad_handle = true;
    return h;
}

static uint16_t pick_channel(af_reader *r, int si)
{
    unsigned sel = af_pick(r, 16);
    const slot *s = si >= 0 ? &g.s[si] : NULL;
    if (sel < 9 && s && s->nchans)
        return s->chans[(s->nchans - 1 - sel % s->nchans)];
    switch (sel % 8) {
    case 0: return 1;
    case 1: return 0;
    case 2: return 65535;
    case 3: return 2;
    case 4: return s && s->nchans ? (uint16_t)(s->chans[s->nchans - 1] + 1) : 3;
    case 5: return 2047;
    case 6: return 2048;
    default: return af_u16(r);
    }
}

/* ---- timeouts ---------------------------------------------------------------------------------- */

typedef struct waitspec {
    uint32_t ms;
    bool probe;
} waitspec;

static const uint32_t probe_timeouts[] = {UINT32_MAX, UINT32_MAX - 1, UINT32_MAX - 999, UINT32_MAX - 1000,
                                          0x80000000u, 0x7fffffffu, 4294968u, UINT32_MAX - 500};

/* A timeout: mostly 0 or a few ms out of the budget; at most one huge probe per input, and only
 * where `probe_ok` (the call will be answered, or a watchdog can end it). */
static waitspec pick_timeout(af_reader *r, bool probe_ok)
{
    waitspec w = {0, false};
    unsigned sel = af_pick(r, 16);
    if (sel < 6)
        return w;
    if (sel < 14) {
        uint32_t ms = sel < 12 ? 1 + af_u8(r) % 20 : sel == 12 ? 50 : 150;
        if ((int64_t)ms > g.budget)
            ms = 0;
        w.ms = ms;
        return w;
    }
    uint32_t t = probe_timeouts[af_pick(r, sizeof probe_timeouts / sizeof probe_timeouts[0])];
    if (!probe_ok || g.probe_used || (avoid & AVOID_PROBE))
        return w;
    g.probe_used = true;
    w.ms = t;
    w.probe = true;
    return w;
}

/* A huge timeout ends only if the watchdog's cut is noticed: not while the event queue's limit
 * keeps the I/O thread from reading (with nobody draining, that wait is the caller's choice). */
static bool slot_probe_ok(int si) { return si < 0 || !g.s[si].small_event_limit; }

typedef struct timing {
    uint64_t t0;
    waitspec w;
    int si;
} timing;

static timing wait_begin(int si, waitspec w)
{
    timing t = {af_now_ms(), w, si};
    if (w.probe && si >= 0 && slot_peer(&g.s[si]))
        af_watchdog_arm(slot_peer(&g.s[si]), PROBE_WATCHDOG_MS);
    return t;
}

/* After a call that may wait: the time checks. */
static void wait_end(const char *fn, const timing *t, int rc)
{
    if (t->w.probe)
        af_watchdog_disarm();
    uint64_t elapsed = af_now_ms() - t->t0;
    g.budget -= (int64_t)(elapsed < t->w.ms || t->w.probe ? elapsed : t->w.ms);
    if (!af_oracles)
        return;
    if (rc == SWAMQP_ERR_TIMEOUT && t->w.ms >= 100 && elapsed + 30 < t->w.ms)
        af_violation("%s returned SWAMQP_ERR_TIMEOUT after %" PRIu64 " ms although timeout_ms was %" PRIu32
                     " (a wrapped deadline?)", fn, elapsed, t->w.ms);
    if (g.in_callback && elapsed > 300)
        af_violation("%s waited %" PRIu64 " ms inside an event callback (timeout_ms %" PRIu32 ")", fn, elapsed,
                     t->w.ms);
    if (!t->w.probe && elapsed > (uint64_t)t->w.ms + OVERRUN_SLACK_MS)
        af_violation("%s took %" PRIu64 " ms with timeout_ms %" PRIu32 " (overran its timeout)", fn, elapsed, t->w.ms);
}

/* ---- hostile values --------------------------------------------------------------------------- */

enum role { R_SHORT, R_KEY, R_LONG, R_BODY };

/* Lengths no buffer can have: a library must refuse them before reading. */
static const uint64_t impossible_lengths[] = {1ull << 63, (1ull << 63) + 1, UINT64_MAX, UINT64_MAX - 1,
                                              UINT64_MAX - 7, UINT64_MAX - 254, (1ull << 63) + 255, 0xc000000000000000ull};
/* Lengths too long for a short string or key. A real buffer is behind every length except the
 * impossible ones: a library may read what the caller says is there, however long. */
static const uint64_t too_long_short[] = {256, 257, 300, 1000, 65536, 1u << 20, 4u << 20, 129};
static const uint64_t big_real[] = {1000, 4096, 65535, 65536, 70000, 131064, 131065, 1u << 20, 4u << 20};

static size_t role_max(int role) { return role == R_KEY ? 128 : role == R_SHORT ? 255 : SIZE_MAX; }

static const char *bytes_desc(swamqp_bytes b)
{
    static char buf[8][64];
    static int k;
    char *s = buf[k++ & 7];
    snprintf(s, 64, "{%s, %zu}", b.bytes == NULL ? "NULL" : b.bytes == backing ? "buf" : "str", b.len);
    return s;
}

/* A byte string for an argument of `role`; `x` learns whether it is invalid by the rules. */
static swamqp_bytes gen_bytes(af_reader *r, int role, expect *x)
{
    swamqp_bytes b = {NULL, 0};
    unsigned sel = af_pick(r, 24);
    if (sel < 14) { /* a short string from the input */
        size_t n = af_u8(r) % 24;
        uint8_t *p = af_alloc(n + 1);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)('a' + af_u8(r) % 26);
        b.bytes = n || sel & 1 ? p : NULL;
        b.len = n;
        return b;
    }
    switch (sel) {
    case 14: /* exactly at, or one past, the limit */
        b.len = role == R_KEY ? 128 + af_pick(r, 2) : role == R_SHORT ? 255 + af_pick(r, 2) : 256;
        b.bytes = backing;
        break;
    case 15: /* NULL with a length */
        b.len = af_pick(r, 2) ? 1 + af_u8(r) : impossible_lengths[af_pick(r, 8)];
        if (b.len >= (1ull << 63) && (avoid & AVOID_LENGTH))
            b.len = 1;
        b.bytes = NULL;
        mark_bad(x, "NULL bytes with a non-zero length");
        return b;
    case 16: case 17: /* a length no buffer can have */
        b.len = impossible_lengths[af_pick(r, 8)];
        b.bytes = backing;
        if (avoid & AVOID_LENGTH)
            b.len = 0;
        break;
    case 18: /* too long for a short string or a key */
        if (role == R_SHORT || role == R_KEY) {
            b.len = too_long_short[af_pick(r, 8)];
            b.bytes = backing;
            break;
        }
        /* fall through */
    case 19:
        b.len = role == R_SHORT || role == R_KEY ? af_u8(r) : big_real[af_pick(r, 9)];
        if (role == R_LONG && b.len > 70000)
            b.len = 70000;
        b.bytes = backing;
        break;
    default:
        b.len = 0;
        b.bytes = sel & 1 ? (const void *)"" : NULL;
    }
    if (b.len > role_max(role))
        mark_bad(x, role == R_KEY ? "a table key over 128 bytes" : "a short string over 255 bytes");
    if (b.len >= (1ull << 63))
        mark_bad(x, "a length of 2^63 or more");
    return b;
}

static const uint64_t hostile_counts[] = {1ull << 63, UINT64_MAX, (1ull << 63) + 1, UINT64_MAX - 1, 0xc000000000000000ull};
static uint64_t hostile_count(af_reader *r)
{
    uint64_t c = hostile_counts[af_pick(r, 5)];
    return avoid & AVOID_COUNT ? 0 : c;
}

static swamqp_table gen_table(af_reader *r, int depth, expect *x);

static swamqp_field_value gen_value(af_reader *r, int depth, expect *x)
{
    static const uint8_t kinds[] = {'t', 'b', 'B', 's', 'u', 'I', 'i', 'l', 'L', 'f', 'd', 'D', 'S', 'x', 'A', 'T', 'F', 'V'};
    swamqp_field_value v;
    memset(&v, 0, sizeof v);
    unsigned sel = af_pick(r, 20);
    v.kind = sel < 18 ? kinds[sel] : af_u8(r);
    if (sel >= 18) {
        bool known = false;
        for (size_t i = 0; i < sizeof kinds; i++)
            known |= kinds[i] == v.kind;
        if (!known)
            mark_bad(x, "an unknown field kind");
    }
    v.value.u64 = af_pick(r, 2) ? af_u64(r) : 0;
    switch (v.kind) {
    case 'L':
        if (af_bool(r))
            v.value.u64 = (1ull << 63) + af_u8(r);
        if (v.value.u64 > INT64_MAX)
            mark_bad(x, "a U64 field value over INT64_MAX");
        break;
    case 'S': case 'x':
        v.value.bytes = gen_bytes(r, R_LONG, x);
        break;
    case 'F':
        v.value.table = depth < 4 ? gen_table(r, depth + 1, x) : (swamqp_table){0, NULL};
        break;
    case 'A': {
        unsigned how = af_pick(r, 6);
        if (how == 0) {
            v.value.array.count = 1 + af_u8(r);
            v.value.array.values = NULL;
            mark_bad(x, "a field array with NULL values and a count");
        } else if (how == 1) {
            v.value.array.count = hostile_count(r);
            v.value.array.values = af_alloc(sizeof(swamqp_field_value));
            if (v.value.array.count)
                mark_bad(x, "a field array count of 2^63 or more");
        } else if (depth < 4) {
            size_t n = af_pick(r, 4);
            swamqp_field_value *vals = af_alloc(sizeof *vals * (n ? n : 1));
            for (size_t i = 0; i < n; i++)
                vals[i] = gen_value(r, depth + 1, x);
            v.value.array.count = n;
            v.value.array.values = n || af_bool(r) ? vals : NULL;
        }
        break;
    }
    default:
        break;
    }
    return v;
}

/* A chain of `depth` tables (or arrays) nested in each other. */
static swamqp_table deep_table(size_t depth, bool arrays)
{
    swamqp_field_value inner;
    memset(&inner, 0, sizeof inner);
    inner.kind = 'V';
    for (size_t i = 0; i < depth; i++) {
        swamqp_field_value *slotv = af_alloc(sizeof *slotv);
        *slotv = inner;
        memset(&inner, 0, sizeof inner);
        if (arrays) {
            inner.kind = 'A';
            inner.value.array.count = 1;
            inner.value.array.values = slotv;
        } else {
            swamqp_table_entry *e = af_alloc(sizeof *e);
            e->key.bytes = "k";
            e->key.len = 1;
            e->value = *slotv;
            inner.kind = 'F';
            inner.value.table.count = 1;
            inner.value.table.entries = e;
        }
    }
    swamqp_table_entry *top = af_alloc(sizeof *top);
    top->key.bytes = "deep";
    top->key.len = 4;
    top->value = inner;
    return (swamqp_table){1, top};
}

static swamqp_table gen_table(af_reader *r, int depth, expect *x)
{
    swamqp_table t = {0, NULL};
    unsigned sel = af_pick(r, 12);
    switch (sel) {
    case 0: case 1: return t;
    case 2: t.entries = af_alloc(sizeof(swamqp_table_entry)); return t; /* count 0, entries set */
    case 3:
        t.count = af_pick(r, 2) ? 1 + af_u8(r) : hostile_count(r);
        if (t.count)
            mark_bad(x, "a field table with NULL entries and a count");
        return t;
    case 4:
        t.count = hostile_count(r);
        t.entries = af_alloc(sizeof(swamqp_table_entry));
        if (t.count)
            mark_bad(x, "a field table count of 2^63 or more");
        return t;
    case 5: {
        static const size_t depths[] = {10, 62, 63, 64, 65, 100, 5000};
        return deep_table(depths[af_pick(r, 7)], af_bool(r));
    }
    default: {
        size_t n = 1 + af_pick(r, 5);
        swamqp_table_entry *e = af_alloc(sizeof *e * n);
        for (size_t i = 0; i < n; i++) {
            e[i].key = gen_bytes(r, R_KEY, x);
            e[i].value = gen_value(r, depth, x);
        }
        t.count = n;
        t.entries = e;
        return t;
    }
    }
}

static const swamqp_table *gen_table_ptr(af_reader *r, expect *x)
{
    if (af_pick(r, 3) == 0)
        return NULL;
    swamqp_table *t = af_alloc(sizeof *t);
    *t = gen_table(r, 0, x);
    return t;
}

static const swamqp_properties *gen_props(af_reader *r, expect *x)
{
    unsigned sel = af_pick(r, 6);
    if (sel < 2)
        return NULL;
    swamqp_properties *p = af_alloc(sizeof *p);
    /* Fields whose bit is clear hold garbage the library must not read. */
    swamqp_bytes junk = {NULL, UINT64_MAX};
    swamqp_bytes *fields[] = {&p->content_type, &p->content_encoding, &p->correlation_id, &p->reply_to,
                              &p->expiration, &p->message_id, &p->type, &p->user_id, &p->app_id, &p->cluster_id};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        *fields[i] = junk;
    p->headers.count = UINT64_MAX;
    p->headers.entries = NULL;
    p->flags = sel == 5 ? af_u32(r) : af_u16(r) & 0x3fff;
    static const uint32_t bits[] = {SWAMQP_PROP_CONTENT_TYPE, SWAMQP_PROP_CONTENT_ENCODING, SWAMQP_PROP_CORRELATION_ID,
                                    SWAMQP_PROP_REPLY_TO, SWAMQP_PROP_EXPIRATION, SWAMQP_PROP_MESSAGE_ID,
                                    SWAMQP_PROP_TYPE, SWAMQP_PROP_USER_ID, SWAMQP_PROP_APP_ID, SWAMQP_PROP_CLUSTER_ID};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (p->flags & bits[i])
            *fields[i] = gen_bytes(r, R_SHORT, x);
    if (p->flags & SWAMQP_PROP_HEADERS)
        p->headers = gen_table(r, 0, x);
    p->delivery_mode = af_u8(r);
    p->priority = af_u8(r);
    p->timestamp = af_u64(r);
    if (af_trace) {
        char line[512];
        int at = snprintf(line, sizeof line, "  properties flags 0x%x:", p->flags);
        for (size_t i = 0; i < sizeof fields / sizeof fields[0] && at < (int)sizeof line - 40; i++)
            if (p->flags & bits[i])
                at += snprintf(line + at, sizeof line - (size_t)at, " %s", bytes_desc(*fields[i]));
        if (p->flags & SWAMQP_PROP_HEADERS)
            snprintf(line + at, sizeof line - (size_t)at, " headers count %zu", p->headers.count);
        af_log("%s", line);
    }
    return p;
}

static uint32_t pick_flags(af_reader *r)
{
    unsigned sel = af_pick(r, 8);
    if (sel < 3)
        return 0;
    if (sel < 6)
        return 1u << af_pick(r, 15);
    if (sel == 6)
        return af_u16(r) & 0x7fff;
    return af_u32(r);
}

/* ---- events ----------------------------------------------------------------------------------- */

static void touch_bytes(const char *what, swamqp_bytes b)
{
    if (b.len == 0)
        return;
    if (b.bytes == NULL) {
        if (af_oracles)
            af_violation("an event's %s has %zu bytes at NULL", what, b.len);
        return;
    }
    if (b.len > (1ull << 40)) {
        if (af_oracles)
            af_violation("an event's %s claims %zu bytes", what, b.len);
        return;
    }
    touch(b.bytes, b.len);
}

static void touch_table(const swamqp_table *t, int depth);

static void touch_value(const swamqp_field_value *v, int depth)
{
    switch (v->kind) {
    case 'S': case 'x': touch_bytes("field value", v->value.bytes); break;
    case 'F': touch_table(&v->value.table, depth + 1); break;
    case 'A':
        if (v->value.array.count && v->value.array.values == NULL && af_oracles)
            af_violation("an event's field array has %zu values at NULL", v->value.array.count);
        if (depth < 70 && v->value.array.values)
            for (size_t i = 0; i < v->value.array.count && i < 100000; i++)
                touch_value(&v->value.array.values[i], depth + 1);
        break;
    default: break;
    }
}

static void touch_table(const swamqp_table *t, int depth)
{
    if (t->count == 0)
        return;
    if (t->entries == NULL) {
        if (af_oracles)
            af_violation("an event's field table has %zu entries at NULL", t->count);
        return;
    }
    if (depth > 70)
        return;
    for (size_t i = 0; i < t->count && i < 100000; i++) {
        touch_bytes("table key", t->entries[i].key);
        touch_value(&t->entries[i].value, depth);
    }
}

static void touch_message(const swamqp_message *m)
{
    touch_bytes("consumer_tag", m->consumer_tag);
    touch_bytes("exchange", m->exchange);
    touch_bytes("routing_key", m->routing_key);
    touch_bytes("reply_text", m->reply_text);
    const swamqp_properties *p = &m->properties;
    touch_bytes("content_type", p->content_type);
    touch_bytes("content_encoding", p->content_encoding);
    touch_table(&p->headers, 0);
    touch_bytes("correlation_id", p->correlation_id);
    touch_bytes("reply_to", p->reply_to);
    touch_bytes("expiration", p->expiration);
    touch_bytes("message_id", p->message_id);
    touch_bytes("type", p->type);
    touch_bytes("user_id", p->user_id);
    touch_bytes("app_id", p->app_id);
    touch_bytes("cluster_id", p->cluster_id);
    touch_bytes("body", m->body);
}

static void touch_event(int si, const swamqp_event *e)
{
    slot *s = si >= 0 ? &g.s[si] : NULL;
    af_log("    event type %d status %s channel %u request %" PRIu64 " %.*s%s%s", e->type, swamqp_status_string(e->status),
           e->channel, e->request_id, e->name.bytes && e->name.len < 200 ? (int)e->name.len : 0,
           e->name.bytes ? (const char *)e->name.bytes : "", e->error ? ": " : "", e->error ? e->error->message : "");
    if (af_oracles) {
        if (e->type < SWAMQP_EVENT_COMPLETION || e->type > SWAMQP_EVENT_LATE_GET_MESSAGE)
            af_violation("an event of type %d", e->type);
        if (!known_status(e->status))
            af_violation("an event (type %d) with status %d", e->type, e->status);
        /* Completions are exempt: an _async request made after the close still completes with
         * a status (the header promises both that and CONNECTION_CLOSED being last). */
        if (s && s->closed_event && e->type != SWAMQP_EVENT_COMPLETION)
            af_violation("an event (type %d) after SWAMQP_EVENT_CONNECTION_CLOSED", e->type);
    }
    touch_bytes("name", e->name);
    touch_bytes("payload", e->payload);
    if (e->message)
        touch_message(e->message);
    if (e->error) {
        if (memchr(e->error->message, 0, sizeof e->error->message) == NULL && af_oracles)
            af_violation("an event's error message is not NUL-terminated");
        if (af_oracles && e->status != 0 && e->error->status != e->status &&
            (e->type == SWAMQP_EVENT_COMPLETION || e->type == SWAMQP_EVENT_CHANNEL_CLOSED ||
             e->type == SWAMQP_EVENT_CONNECTION_CLOSED))
            af_violation("an event of type %d has status %s but error->status %d", e->type,
                         swamqp_status_string(e->status), e->error->status);
    }
    if (s == NULL)
        return;
    if (e->type == SWAMQP_EVENT_CONNECTION_CLOSED)
        s->closed_event = true;
    if ((e->type == SWAMQP_EVENT_DELIVERY) && e->message && s->ntags < 8)
        s->tags[s->ntags++] = e->message->delivery_tag;
    else if (e->type == SWAMQP_EVENT_DELIVERY && e->message)
        s->tags[e->message->delivery_tag % 8] = e->message->delivery_tag;
}

static void note_channel(int si, uint16_t ch)
{
    if (si < 0)
        return;
    slot *s = &g.s[si];
    for (unsigned i = 0; i < s->nchans; i++)
        if (s->chans[i] == ch)
            return;
    if (s->nchans < 8)
        s->chans[s->nchans++] = ch;
    else
        s->chans[ch % 8] = ch;
}

static void keep_message(swamqp_message *m)
{
    if (m == NULL)
        return;
    touch_message(m);
    if (g.nmsgs < 16) {
        g.msgs[g.nmsgs++] = m;
    } else {
        swamqp_message_free(m);
    }
}

/* ---- background calls ----------------------------------------------------------------------- */

struct bg_call {
    pthread_t thread;
    swamqp_connection *h;
    uint16_t ch;
    unsigned what;
    uint32_t timeout;
    swamqp_bytes name, body;
};

static void *bg_main(void *arg)
{
    bg_call *c = arg;
    swamqp_error err;
    uint16_t ch = 0;
    switch (c->what) {
    case 0: swamqp_queue_declare(c->h, c->ch, c->name, 0, NULL, NULL, c->timeout, &err); break;
    case 1: swamqp_basic_publish(c->h, c->ch, c->name, c->name, 0, NULL, c->body, NULL, c->timeout, &err); break;
    case 2: swamqp_wait_for_confirms(c->h, c->ch, c->timeout, &err); break;
    case 3: swamqp_channel_open(c->h, &ch, c->timeout, &err); break;
    case 4: swamqp_connection_close(c->h, c->timeout, &err); break;
    case 5: swamqp_channel_close(c->h, c->ch, c->timeout, &err); break;
    default: swamqp_basic_qos(c->h, c->ch, 0, 1, 0, c->timeout, &err); break;
    }
    return NULL;
}

static void bg_join_all(void)
{
    for (int i = 0; i < 2; i++) {
        if (g.bg[i]) {
            pthread_join(g.bg[i]->thread, NULL);
            free(g.bg[i]);
            g.bg[i] = NULL;
        }
    }
}

/* ---- slots: create and free ------------------------------------------------------------------ */

static const char *pick_cstring(af_reader *r, bool allow_null)
{
    unsigned sel = af_pick(r, 8);
    switch (sel) {
    case 0: return allow_null ? NULL : "";
    case 1: return "";
    case 2: {
        static const size_t lens[] = {255, 256, 1000, 70000};
        size_t n = lens[af_pick(r, 4)];
        char *s = af_alloc(n + 1);
        memset(s, 'v', n);
        return s;
    }
    case 3: return "\xff\xfe\xc0\x80 not utf-8";
    default: {
        size_t n = af_u8(r) % 16;
        char *s = af_alloc(n + 1);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)('a' + af_u8(r) % 26);
        return s;
    }
    }
}

static void stop_peer(slot *s)
{
    acceptor_stop(s->acc);
    s->acc = NULL;
    if (s->peer) {
        af_peer_stop(s->peer);
        s->peer = NULL;
    }
    if (s->aux_fd >= 0) {
        close(s->aux_fd);
        s->aux_fd = -1;
    }
}

static void forget_slot(int si, swamqp_connection *h)
{
    slot *s = &g.s[si];
    stop_peer(s);
    if (g.ndead < 16)
        g.dead[g.ndead++] = h;
    memset(s, 0, sizeof *s);
    s->aux_fd = -1;
    s->conn = h; /* stale from now on */
}

static void build_options(af_reader *r, swamqp_connection_options *o, expect *x, slot *s)
{
    swamqp_connection_options_init(o);
    o->host = "127.0.0.1";
    o->port = 1; /* nothing listens: reconnects fail at once */
    static const uint16_t heartbeats[] = {0, 0, 0, 0, 1, 60, 65535, 2};
    static const uint32_t frame_maxes[] = {131072, 4096, 8192, 4095, 0, UINT32_MAX, 0x80000000u, 1u << 20};
    static const uint16_t channel_maxes[] = {2047, 0, 1, 2, 5, 65535, 3, 2048};
    static const uint64_t sizes[] = {0, 1, 100, 4096, 1u << 20, 128u << 20, 1ull << 32, 1ull << 40, (1ull << 63) - 1,
                                     1ull << 63, UINT64_MAX, (1ull << 63) + 1};
    static const uint64_t limits[] = {0, 1, 100, 4096, 1u << 20, UINT64_MAX, 1ull << 63, 65536};
    static const int mechs[] = {0, 1, 2, 3, -1, 4, INT_MAX, INT_MIN};
    static const uint32_t unconfirmed[] = {10000, 0, 1, 3, UINT32_MAX, 2};
    unsigned opt = af_u8(r); /* which groups of options are set at all */
    if (opt & 1) {
        o->heartbeat = heartbeats[af_pick(r, 8)];
        o->frame_max = frame_maxes[af_pick(r, 8)];
        o->channel_max = channel_maxes[af_pick(r, 8)];
    }
    {
        static const uint32_t normal[] = {200, 100, 50, 300, 20, 500};
        unsigned sel = af_pick(r, 8);
        o->connect_timeout_ms = normal[sel % 6];
        if (sel >= 6) {
            static const uint32_t huge[] = {0 /* the 30 s default */, UINT32_MAX, UINT32_MAX - 999, 0x80000000u};
            uint32_t t = huge[af_pick(r, 4)];
            if (!g.probe_used && !(avoid & AVOID_PROBE)) {
                g.probe_used = true;
                s->probe_connect = true;
                o->connect_timeout_ms = t;
            }
        }
    }
    if (opt & 2) {
        o->vhost = pick_cstring(r, true);
        o->user = pick_cstring(r, true);
        o->password = pick_cstring(r, true);
        o->connection_name = pick_cstring(r, true);
    }
    if (opt & 4) {
        o->max_message_size = sizes[af_pick(r, 12)];
        if ((avoid & AVOID_MESSAGE_SIZE) && o->max_message_size >= (1ull << 63))
            o->max_message_size = 1ull << 40;
        o->event_queue_limit = limits[af_pick(r, 8)];
        o->outbound_limit = limits[af_pick(r, 8)];
        o->max_unconfirmed = unconfirmed[af_pick(r, 6)];
    }
    if (opt & 8) {
        o->auth_mechanism = mechs[af_pick(r, 8)];
        if (o->auth_mechanism < 0 || o->auth_mechanism > 3)
            mark_bad(x, "an auth_mechanism that is no swamqp_auth_mechanism");
    }
    if (opt & 16) {
        static const uint32_t delays[] = {1, 0, 5, UINT32_MAX, 0x80000000u, 2};
        static const uint32_t attempts[] = {1, 2, 3, 0, UINT32_MAX};
        o->automatic_recovery = true;
        o->recovery_initial_delay_ms = delays[af_pick(r, 6)];
        o->recovery_max_delay_ms = delays[af_pick(r, 6)];
        if (avoid & AVOID_RECOVERY_DELAY)
            o->recovery_initial_delay_ms %= 10, o->recovery_max_delay_ms %= 10;
        o->recovery_max_attempts = attempts[af_pick(r, 5)];
    }
    if (opt & 32) { /* endpoints: loopback hosts on ports where nothing listens */
        unsigned sel = af_pick(r, 6);
        if (sel == 0) {
            o->endpoint_count = 1 + af_u8(r);
            o->endpoints = NULL;
            mark_bad(x, "endpoints NULL with a count");
        } else if (sel == 1) {
            o->endpoint_count = hostile_count(r);
            o->endpoints = af_alloc(sizeof(swamqp_endpoint));
            ((swamqp_endpoint *)o->endpoints)->host = "127.0.0.1";
            ((swamqp_endpoint *)o->endpoints)->port = 1;
            if (o->endpoint_count)
                mark_bad(x, "an endpoint_count of 2^63 or more");
        } else {
            size_t n = af_pick(r, 5);
            swamqp_endpoint *e = af_alloc(sizeof *e * (n ? n : 1));
            static const char *hosts[] = {"127.0.0.1", "::1", "127.0.0.1", NULL, "", "localhost"};
            for (size_t i = 0; i < n; i++) {
                e[i].host = hosts[af_pick(r, 6)];
                e[i].port = (uint16_t)(1 + af_pick(r, 2));
                if (e[i].host == NULL)
                    mark_bad(x, "an endpoint with a NULL host");
            }
            o->endpoints = e;
            o->endpoint_count = n;
        }
    }
    if (opt & 64) { /* TLS: the peer speaks no TLS, so the handshake fails */
        o->tls = af_pick(r, 4) != 0;
        s->tls = o->tls;
        unsigned sel = af_pick(r, 6);
        if (sel == 0) {
            o->tls_ca_certificate_count = 1 + af_u8(r);
            mark_bad(x, "tls_ca_certificates NULL with a count");
        } else if (sel == 1) {
            o->tls_ca_certificate_count = hostile_count(r);
            swamqp_bytes *blob = af_alloc(sizeof *blob);
            blob->bytes = backing;
            blob->len = 16;
            o->tls_ca_certificates = blob;
            if (o->tls && o->tls_ca_certificate_count) /* without TLS the list is never read */
                mark_bad(x, "a tls_ca_certificate_count of 2^63 or more");
        } else if (sel == 2) {
            size_t n = 1 + af_pick(r, 3);
            swamqp_bytes *blobs = af_alloc(sizeof *blobs * n);
            for (size_t i = 0; i < n; i++) {
                blobs[i] = gen_bytes(r, R_LONG, x);
                if (blobs[i].len == 0)
                    mark_bad(x, "an empty tls_ca_certificates entry");
            }
            o->tls_ca_certificates = blobs;
            o->tls_ca_certificate_count = n;
        }
        static const char *files[] = {NULL, "abi-fuzz-missing.pem", "", NULL};
        o->tls_ca_file = files[af_pick(r, 4)];
        o->tls_cert_file = files[af_pick(r, 4)];
        o->tls_key_file = files[af_pick(r, 4)];
        o->tls_ciphers = af_bool(r) ? "NOT-A-CIPHER" : NULL;
        o->tls_server_name = pick_cstring(r, true);
        o->tls_insecure_skip_verify = af_bool(r);
        o->tls_insecure_skip_hostname_check = af_bool(r);
    }
    if (o->frame_max != 0 && o->frame_max < 4096)
        mark_bad(x, "frame_max below 4096");
}

static void peer_config(af_reader *r, af_peer_config *c)
{
    static const uint16_t channel_maxes[] = {0, 2047, 1, 2, 5, 65535, 3, 0};
    static const uint32_t frame_maxes[] = {131072, 0, 4096, 8192, UINT32_MAX, 4095, 8, 1u << 20};
    static const uint16_t heartbeats[] = {0, 0, 0, 0, 0, 1, 60, 65535};
    static const char *mechanisms[] = {"PLAIN AMQPLAIN", "PLAIN", "AMQPLAIN", "EXTERNAL", "", "PLAIN EXTERNAL AMQPLAIN"};
    memset(c, 0, sizeof *c);
    unsigned mode = af_pick(r, 32);
    c->mode = mode < AF_HS_COUNT ? (int)mode : AF_HS_NORMAL;
    if (c->mode == AF_HS_NORMAL && mode != 0)
        c->mode = AF_HS_NORMAL;
    unsigned tune = af_u8(r);
    c->channel_max = channel_maxes[tune & 7];
    c->frame_max = frame_maxes[(tune >> 3) & 7];
    c->heartbeat = heartbeats[(tune >> 5) & 7];
    unsigned m = af_pick(r, 16);
    c->mechanisms = mechanisms[m < 10 ? 0 : m - 10];
    unsigned v = af_pick(r, 16);
    c->version_major = v == 15 ? 9 : 0;
    c->version_minor = v == 14 ? 8 : 9;
}

/* create (mode 0) or connect (mode 1) a slot */
static void op_create(af_reader *r, bool connect)
{
    int si = (int)af_pick(r, NSLOTS);
    slot *s = &g.s[si];
    if (s->live)
        return;
    swamqp_connection_options *o = af_alloc(sizeof *o);
    expect x = {0};
    memset(s, 0, sizeof *s);
    s->aux_fd = -1;
    build_options(r, o, &x, s);
    af_peer_config pc;
    peer_config(r, &pc);
    af_reader script = af_sub(r, af_u8(r) % 48);

    int sv[2] = {-1, -1};
    unsigned fdmode = af_pick(r, 16);
    int pipefd[2] = {-1, -1};
    if (fdmode < 12) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            abort();
        o->socket_fd = sv[0];
    } else if (fdmode == 12) {
        o->socket_fd = -1; /* a TCP connect to our own listener on 127.0.0.1 */
    } else if (fdmode == 13) {
        o->socket_fd = af_bool(r) ? INT_MAX : -2;
    } else if (fdmode == 14) {
        if (pipe2(pipefd, O_CLOEXEC) != 0)
            abort();
        o->socket_fd = pipefd[0];
    } else {
        o->socket_fd = -1;
        o->host = af_bool(r) ? "" : NULL;
        if (o->host && o->host[0] == 0)
            mark_bad(&x, "an empty host without socket_fd");
    }
    if (fdmode == 12 || (fdmode < 12 && o->automatic_recovery)) {
        uint16_t port = 1;
        s->acc = acceptor_start(&pc, script.p, script.n, &port);
        o->host = "127.0.0.1";
        o->port = port;
    }
    if (s->probe_connect && o->event_queue_limit != 0 && o->event_queue_limit < (1ull << 63)) {
        o->connect_timeout_ms = 200; /* see slot_probe_ok */
        s->probe_connect = false;
    }
    if (s->probe_connect && fdmode >= 12) {
        /* No peer to cut: a huge connect timeout could only be waited out. */
        o->connect_timeout_ms = 300;
        s->probe_connect = false;
    }

    swamqp_error err_storage, *err = pick_error(r, &err_storage);
    unsigned nulls = af_pick(r, 32);
    const swamqp_connection_options *opts = nulls == 31 ? NULL : o;
    swamqp_connection *h = (swamqp_connection *)(uintptr_t)0x1234, **out = nulls == 30 ? NULL : &h;
    if (opts == NULL)
        mark_bad(&x, "options NULL");
    if (out == NULL)
        mark_bad(&x, "out NULL");
    int rc;
    timing t = {af_now_ms(), {0, false}, -1};
    if (!connect) {
        af_log("swamqp_connection_create(slot %d, fd %d, frame_max %u, max_message_size %" PRIu64 ", endpoints %zu, tls %d)",
               si, o->socket_fd, o->frame_max, o->max_message_size, o->endpoint_count, o->tls);
        rc = swamqp_connection_create(opts, out, err);
        check_rc("swamqp_connection_create", rc, err, &x);
    } else {
        /* The peer must run while swamqp_connect blocks in the handshake. */
        if (sv[1] >= 0)
            s->peer = af_peer_start(sv[1], &pc, script.p, script.n), sv[1] = -1;
        if (s->probe_connect && slot_peer(s))
            af_watchdog_arm(slot_peer(s), PROBE_WATCHDOG_MS);
        af_log("swamqp_connect(slot %d, fd %d, connect_timeout_ms %u, frame_max %u, max_message_size %" PRIu64 ", tls %d)",
               si, o->socket_fd, o->connect_timeout_ms, o->frame_max, o->max_message_size, o->tls);
        rc = swamqp_connect(opts, out, err);
        if (s->probe_connect)
            af_watchdog_disarm();
        check_rc("swamqp_connect", rc, err, &x);
        uint64_t elapsed = af_now_ms() - t.t0;
        if (af_oracles && rc == SWAMQP_ERR_TIMEOUT && opts && opts->connect_timeout_ms >= 100 && elapsed + 30 < opts->connect_timeout_ms)
            af_violation("swamqp_connect returned SWAMQP_ERR_TIMEOUT after %" PRIu64 " ms with connect_timeout_ms %u",
                         elapsed, opts->connect_timeout_ms);
        if (rc != SWAMQP_OK && out && h != NULL && af_oracles)
            af_violation("swamqp_connect failed (%s) but *out is not NULL", swamqp_status_string(rc));
    }
    if (af_oracles && rc != SWAMQP_OK && out && h != NULL && !connect)
        af_violation("swamqp_connection_create failed (%s) but *out is not NULL", swamqp_status_string(rc));
    bool created = rc == SWAMQP_OK || (connect && rc != SWAMQP_ERR_INVALID_ARGUMENT && rc != SWAMQP_ERR_NO_MEMORY);
    if (rc != SWAMQP_OK) {
        /* The socket stays ours when create failed; after a failed connect it is the library's. */
        if (!created && o->socket_fd == sv[0] && sv[0] >= 0)
            close(sv[0]);
        if (!created && pipefd[0] >= 0)
            close(pipefd[0]);
        if (sv[1] >= 0)
            close(sv[1]);
        if (pipefd[1] >= 0)
            close(pipefd[1]);
        stop_peer(s);
        memset(s, 0, sizeof *s);
        s->aux_fd = -1;
        return;
    }
    if (af_oracles && h == NULL)
        af_violation("%s succeeded with a NULL handle", connect ? "swamqp_connect" : "swamqp_connection_create");
    s->conn = h;
    s->live = true;
    s->opened = connect;
    s->connect_timeout_ms = o->connect_timeout_ms;
    s->small_event_limit = o->event_queue_limit != 0 && o->event_queue_limit < (1ull << 63);
    s->aux_fd = pipefd[1];
    if (sv[1] >= 0)
        s->peer = af_peer_start(sv[1], &pc, script.p, script.n);
    af_log("  slot %d = %p", si, (void *)h);
}

static void free_slot_handle(int si, af_reader *r, bool teardown)
{
    slot *s = &g.s[si];
    unsigned how = r ? af_pick(r, 4) : (g.settings & 1) ? 1 : 0;
    /* A free waits up to 2 s for close-ok: the peer answers, or is cut, unless budget allows silence. */
    af_peer *peer = slot_peer(s);
    if (how == 1 || teardown)
        af_peer_force_answers(peer, true);
    if (how == 2 || (teardown && (g.settings & 1)))
        af_peer_cut(peer);
    if (how == 3 && g.budget < 2600)
        af_peer_force_answers(peer, true);
    uint64_t t0 = af_now_ms();
    af_log("swamqp_connection_free(slot %d)", si);
    int rc = swamqp_connection_free(s->conn);
    check_rc("swamqp_connection_free", rc, NULL, NULL);
    uint64_t elapsed = af_now_ms() - t0;
    if (how == 3)
        g.budget -= (int64_t)elapsed;
    if (af_oracles && elapsed > 6000)
        af_violation("swamqp_connection_free took %" PRIu64 " ms (bounded by 2 s)", elapsed);
    if (rc == SWAMQP_OK) {
        forget_slot(si, s->conn);
    } else if (af_oracles && !g.in_callback) {
        af_violation("swamqp_connection_free of a live handle returned %s", swamqp_status_string(rc));
    }
}

/* ---- the operations ----------------------------------------------------------------------------- */


static void run_op(af_reader *r);

static void on_event(swamqp_connection *c, const swamqp_event *e, void *user_data)
{
    int si = slot_of(c);
    (void)user_data;
    af_log("  callback: event type %d status %s channel %u", e->type, swamqp_status_string(e->status), e->channel);
    touch_event(si, e);
    if (g.in_callback >= 2)
        return;
    g.in_callback++;
    unsigned n = af_pick(&g.cb, 4);
    for (unsigned i = 0; i < n && g.cb_ops < MAX_CB_OPS && !af_done(&g.cb); i++) {
        g.cb_ops++;
        run_op(&g.cb);
    }
    g.in_callback--;
}

static void op_open(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    unsigned mode = af_pick(r, 4);
    if (mode < 3) {
        bool watched = si >= 0 && g.s[si].probe_connect && !g.in_callback;
        if (watched && slot_peer(&g.s[si]))
            af_watchdog_arm(slot_peer(&g.s[si]), PROBE_WATCHDOG_MS);
        af_log("swamqp_connection_open(slot %d)", si);
        uint64_t t0 = af_now_ms();
        int rc = swamqp_connection_open(h, err);
        if (watched)
            af_watchdog_disarm();
        check_rc("swamqp_connection_open", rc, err, &x);
        uint64_t elapsed = af_now_ms() - t0;
        if (!watched)
            g.budget -= (int64_t)elapsed;
        if (af_oracles && g.in_callback && elapsed > 300)
            af_violation("swamqp_connection_open waited %" PRIu64 " ms inside an event callback", elapsed);
        uint32_t ct = si >= 0 ? g.s[si].connect_timeout_ms : 0;
        if (af_oracles && rc == SWAMQP_ERR_TIMEOUT && ct >= 100 && elapsed + 30 < ct)
            af_violation("swamqp_connection_open returned SWAMQP_ERR_TIMEOUT after %" PRIu64 " ms with connect_timeout_ms %u",
                         elapsed, ct);
        if (rc == SWAMQP_OK && si >= 0) {
            g.s[si].opened = true;
            g.s[si].closed_event = false;
        }
    } else {
        uint64_t rid = 0, *prid = af_pick(r, 8) == 7 ? NULL : &rid;
        if (prid == NULL)
            mark_bad(&x, "request_id NULL");
        af_log("swamqp_connection_open_async(slot %d, request_id %s)", si, prid ? "&rid" : "NULL");
        int rc = swamqp_connection_open_async(h, prid, err);
        check_rc("swamqp_connection_open_async", rc, err, &x);
        if (rc == SWAMQP_OK && si >= 0) {
            g.s[si].opened = true;
            g.s[si].closed_event = false;
        }
    }
}

static void op_close(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    if (af_pick(r, 3)) {
        waitspec w = pick_timeout(r, slot_probe_ok(si));
        af_log("swamqp_connection_close(slot %d, timeout_ms %" PRIu32 ")", si, w.ms);
        timing t = wait_begin(si, w);
        int rc = swamqp_connection_close(h, w.ms, err);
        wait_end("swamqp_connection_close", &t, rc);
        check_rc("swamqp_connection_close", rc, err, &x);
    } else {
        uint64_t rid = 0, *prid = af_pick(r, 8) == 7 ? NULL : &rid;
        if (prid == NULL)
            mark_bad(&x, "request_id NULL");
        af_log("swamqp_connection_close_async(slot %d)", si);
        int rc = swamqp_connection_close_async(h, prid, err);
        check_rc("swamqp_connection_close_async", rc, err, &x);
    }
}

static void op_free(af_reader *r)
{
    unsigned sel = af_pick(r, 8);
    if (sel < 6) {
        int si = (int)(sel % NSLOTS);
        if (g.s[si].live) {
            free_slot_handle(si, r, false);
            return;
        }
    }
    /* NULL, stale or forged: nothing to free */
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    if (si >= 0)
        return; /* live: done above */
    af_log("swamqp_connection_free(%p) (not live)", (void *)h);
    int rc = swamqp_connection_free(h);
    check_rc("swamqp_connection_free", rc, NULL, NULL);
    if (af_oracles && h == NULL && rc != SWAMQP_OK)
        af_violation("swamqp_connection_free(NULL) returned %s", swamqp_status_string(rc));
    if (af_oracles && h != NULL && rc != SWAMQP_ERR_INVALID_HANDLE && !(g.in_callback && rc == SWAMQP_ERR_IN_CALLBACK))
        af_violation("swamqp_connection_free of a freed or forged handle returned %s", swamqp_status_string(rc));
}

static void op_channel(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    unsigned what = af_pick(r, 4);
    uint64_t rid = 0, *prid = af_pick(r, 8) == 7 ? NULL : &rid;
    if (what == 0 || what == 1) {
        uint16_t ch = 0xbeef, *pch = af_pick(r, 8) == 7 ? NULL : &ch;
        if (pch == NULL)
            mark_bad(&x, "channel NULL");
        if (what == 0) {
            waitspec w = pick_timeout(r, slot_probe_ok(si));
            af_log("swamqp_channel_open(slot %d, timeout_ms %" PRIu32 ")", si, w.ms);
            timing t = wait_begin(si, w);
            int rc = swamqp_channel_open(h, pch, w.ms, err);
            wait_end("swamqp_channel_open", &t, rc);
            check_rc("swamqp_channel_open", rc, err, &x);
            if (rc == SWAMQP_OK)
                note_channel(si, ch);
        } else {
            if (prid == NULL)
                mark_bad(&x, "request_id NULL");
            af_log("swamqp_channel_open_async(slot %d)", si);
            int rc = swamqp_channel_open_async(h, pch, prid, err);
            check_rc("swamqp_channel_open_async", rc, err, &x);
            if (rc == SWAMQP_OK && pch)
                note_channel(si, ch);
        }
    } else {
        uint16_t ch = pick_channel(r, si);
        if (what == 2) {
            waitspec w = pick_timeout(r, slot_probe_ok(si));
            af_log("swamqp_channel_close(slot %d, channel %u, timeout_ms %" PRIu32 ")", si, ch, w.ms);
            timing t = wait_begin(si, w);
            int rc = swamqp_channel_close(h, ch, w.ms, err);
            wait_end("swamqp_channel_close", &t, rc);
            check_rc("swamqp_channel_close", rc, err, &x);
        } else {
            if (prid == NULL)
                mark_bad(&x, "request_id NULL");
            af_log("swamqp_channel_close_async(slot %d, channel %u)", si, ch);
            int rc = swamqp_channel_close_async(h, ch, prid, err);
            check_rc("swamqp_channel_close_async", rc, err, &x);
        }
    }
}


static void op_rpc(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    unsigned which = af_pick(r, RPC_COUNT);
    bool async = af_pick(r, 3) == 0 && which != RPC_UPDATE_SECRET; /* update-secret has no _async form */
    uint16_t ch = pick_channel(r, si);
    uint32_t flags = pick_flags(r);
    uint64_t rid = 0, *prid = NULL;
    waitspec w = {0, false};
    if (async) {
        prid = af_pick(r, 8) == 7 ? NULL : &rid;
        if (prid == NULL)
            mark_bad(&x, "request_id NULL");
    } else {
        w = pick_timeout(r, slot_probe_ok(si));
    }
    /* The first string: every request but these takes one. */
    bool takes_string = which != RPC_QOS && which != RPC_RECOVER && which != RPC_TX_SELECT && which != RPC_TX_COMMIT &&
                        which != RPC_TX_ROLLBACK && which != RPC_CONFIRM_SELECT && which != RPC_WAIT_CONFIRMS;
    expect unused = {0};
    swamqp_bytes a = gen_bytes(r, R_SHORT, takes_string ? &x : &unused);
    swamqp_bytes b = {0}, c = {0};
    const swamqp_table *args = NULL;
    int rc = 0;
    const char *fn = "?";
    timing t = wait_begin(si, w);
#define BLOCKING_OR_ASYNC(name, blocking_call, async_call)                                                  \
    do {                                                                                                   \
        fn = async ? "swamqp_" name "_async" : "swamqp_" name;                                              \
        af_log("%s(slot %d, channel %u, flags 0x%x, %s, %s, %s, timeout_ms %" PRIu32 ")", fn, si, ch, flags, \
               bytes_desc(a), bytes_desc(b), bytes_desc(c), w.ms);                                          \
        rc = async ? (async_call) : (blocking_call);                                                       \
    } while (0)
    switch (which) {
    case RPC_EXCHANGE_DECLARE:
        b = gen_bytes(r, R_SHORT, &x);
        args = gen_table_ptr(r, &x);
        BLOCKING_OR_ASYNC("exchange_declare", swamqp_exchange_declare(h, ch, a, b, flags, args, w.ms, err),
                          swamqp_exchange_declare_async(h, ch, a, b, flags, args, prid, err));
        break;
    case RPC_QUEUE_DECLARE: {
        args = gen_table_ptr(r, &x);
        swamqp_queue_declare_ok ok, *pok = af_pick(r, 4) == 3 ? NULL : &ok;
        memset(&ok, 0xa5, sizeof ok);
        BLOCKING_OR_ASYNC("queue_declare", swamqp_queue_declare(h, ch, a, flags, args, pok, w.ms, err),
                          swamqp_queue_declare_async(h, ch, a, flags, args, prid, err));
        if (!async && rc == SWAMQP_OK && pok && af_oracles &&
            (ok.name_len > 255 || memchr(ok.name, 0, sizeof ok.name) == NULL || strlen(ok.name) != ok.name_len))
            af_violation("swamqp_queue_declare: result name_len %zu does not match its NUL-terminated name", ok.name_len);
        break;
    }
    case RPC_QUEUE_BIND:
        b = gen_bytes(r, R_SHORT, &x);
        c = gen_bytes(r, R_SHORT, &x);
        args = gen_table_ptr(r, &x);
        BLOCKING_OR_ASYNC("queue_bind", swamqp_queue_bind(h, ch, a, b, c, flags, args, w.ms, err),
                          swamqp_queue_bind_async(h, ch, a, b, c, flags, args, prid, err));
        break;
    case RPC_EXCHANGE_DELETE:
        BLOCKING_OR_ASYNC("exchange_delete", swamqp_exchange_delete(h, ch, a, flags, w.ms, err),
                          swamqp_exchange_delete_async(h, ch, a, flags, prid, err));
        break;
    case RPC_EXCHANGE_BIND:
    case RPC_EXCHANGE_UNBIND:
        b = gen_bytes(r, R_SHORT, &x);
        c = gen_bytes(r, R_SHORT, &x);
        args = gen_table_ptr(r, &x);
        if (which == RPC_EXCHANGE_BIND)
            BLOCKING_OR_ASYNC("exchange_bind", swamqp_exchange_bind(h, ch, a, b, c, flags, args, w.ms, err),
                              swamqp_exchange_bind_async(h, ch, a, b, c, flags, args, prid, err));
        else
            BLOCKING_OR_ASYNC("exchange_unbind", swamqp_exchange_unbind(h, ch, a, b, c, flags, args, w.ms, err),
                              swamqp_exchange_unbind_async(h, ch, a, b, c, flags, args, prid, err));
        break;
    case RPC_QUEUE_UNBIND:
        b = gen_bytes(r, R_SHORT, &x);
        c = gen_bytes(r, R_SHORT, &x);
        args = gen_table_ptr(r, &x);
        BLOCKING_OR_ASYNC("queue_unbind", swamqp_queue_unbind(h, ch, a, b, c, args, w.ms, err),
                          swamqp_queue_unbind_async(h, ch, a, b, c, args, prid, err));
        break;
    case RPC_QUEUE_PURGE:
    case RPC_QUEUE_DELETE: {
        uint32_t count = 0xa5a5a5a5, *pcount = af_bool(r) ? &count : NULL;
        if (which == RPC_QUEUE_PURGE)
            BLOCKING_OR_ASYNC("queue_purge", swamqp_queue_purge(h, ch, a, flags, pcount, w.ms, err),
                              swamqp_queue_purge_async(h, ch, a, flags, prid, err));
        else
            BLOCKING_OR_ASYNC("queue_delete", swamqp_queue_delete(h, ch, a, flags, pcount, w.ms, err),
                              swamqp_queue_delete_async(h, ch, a, flags, prid, err));
        break;
    }
    case RPC_QOS: {
        uint32_t size = af_pick(r, 4) ? 0 : af_u32(r);
        uint16_t count = af_u16(r);
        BLOCKING_OR_ASYNC("basic_qos", swamqp_basic_qos(h, ch, size, count, flags, w.ms, err),
                          swamqp_basic_qos_async(h, ch, size, count, flags, prid, err));
        break;
    }
    case RPC_CONSUME: {
        b = gen_bytes(r, R_SHORT, &x);
        args = gen_table_ptr(r, &x);
        swamqp_name tag, *ptag = af_pick(r, 4) == 3 ? NULL : &tag;
        memset(&tag, 0xa5, sizeof tag);
        BLOCKING_OR_ASYNC("basic_consume", swamqp_basic_consume(h, ch, a, b, flags, args, ptag, w.ms, err),
                          swamqp_basic_consume_async(h, ch, a, b, flags, args, prid, err));
        if (!async && rc == SWAMQP_OK && ptag && af_oracles &&
            (tag.len > 255 || memchr(tag.name, 0, sizeof tag.name) == NULL || strlen(tag.name) != tag.len))
            af_violation("swamqp_basic_consume: tag len %zu does not match its NUL-terminated name", tag.len);
        break;
    }
    case RPC_CANCEL: {
        if (si >= 0 && slot_peer(&g.s[si]) && af_pick(r, 2)) {
            static char tagbuf[256];
            af_peer_last_consumer_tag(slot_peer(&g.s[si]), tagbuf);
            a.bytes = tagbuf;
            a.len = strlen(tagbuf);
        }
        BLOCKING_OR_ASYNC("basic_cancel", swamqp_basic_cancel(h, ch, a, flags, w.ms, err),
                          swamqp_basic_cancel_async(h, ch, a, flags, prid, err));
        break;
    }
    case RPC_RECOVER:
        BLOCKING_OR_ASYNC("basic_recover", swamqp_basic_recover(h, ch, flags, w.ms, err),
                          swamqp_basic_recover_async(h, ch, flags, prid, err));
        break;
    case RPC_GET: {
        swamqp_message *m = (swamqp_message *)(uintptr_t)0x1, **pm = af_pick(r, 8) == 7 ? NULL : &m;
        if (!async && pm == NULL)
            mark_bad(&x, "message NULL");
        BLOCKING_OR_ASYNC("basic_get", swamqp_basic_get(h, ch, a, flags, pm, w.ms, err),
                          swamqp_basic_get_async(h, ch, a, flags, prid, err));
        if (!async && pm) {
            if (rc != SWAMQP_OK && m != NULL && af_oracles)
                af_violation("swamqp_basic_get failed (%s) and left *message %p", swamqp_status_string(rc), (void *)m);
            if (rc == SWAMQP_OK && m != (swamqp_message *)(uintptr_t)0x1)
                keep_message(m);
        }
        break;
    }
    case RPC_TX_SELECT:
        BLOCKING_OR_ASYNC("tx_select", swamqp_tx_select(h, ch, w.ms, err), swamqp_tx_select_async(h, ch, prid, err));
        break;
    case RPC_TX_COMMIT:
        BLOCKING_OR_ASYNC("tx_commit", swamqp_tx_commit(h, ch, w.ms, err), swamqp_tx_commit_async(h, ch, prid, err));
        break;
    case RPC_TX_ROLLBACK:
        BLOCKING_OR_ASYNC("tx_rollback", swamqp_tx_rollback(h, ch, w.ms, err),
                          swamqp_tx_rollback_async(h, ch, prid, err));
        break;
    case RPC_CONFIRM_SELECT:
        BLOCKING_OR_ASYNC("confirm_select", swamqp_confirm_select(h, ch, w.ms, err),
                          swamqp_confirm_select_async(h, ch, prid, err));
        break;
    case RPC_WAIT_CONFIRMS:
        BLOCKING_OR_ASYNC("wait_for_confirms", swamqp_wait_for_confirms(h, ch, w.ms, err),
                          swamqp_wait_for_confirms_async(h, ch, prid, err));
        break;
    case RPC_UPDATE_SECRET:
        b = gen_bytes(r, R_LONG, &x);
        fn = "swamqp_connection_update_secret";
        af_log("%s(slot %d, %s, %s, timeout_ms %" PRIu32 ")", fn, si, bytes_desc(b), bytes_desc(a), w.ms);
        rc = swamqp_connection_update_secret(h, b, a, w.ms, err);
        break;
    }
#undef BLOCKING_OR_ASYNC
    if (!async)
        wait_end(fn, &t, rc);
    else if (w.probe)
        af_watchdog_disarm();
    if (async && prid)
        af_log("  request id %" PRIu64 " (open: %d)", rid, swamqp_connection_is_open(h));
    check_rc(fn, rc, err, &x);
}

static void op_publish(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    uint16_t ch = pick_channel(r, si);
    swamqp_bytes exchange = gen_bytes(r, R_SHORT, &x);
    swamqp_bytes key = gen_bytes(r, R_SHORT, &x);
    uint32_t flags = pick_flags(r);
    const swamqp_properties *props = gen_props(r, &x);
    swamqp_bytes body = gen_bytes(r, R_BODY, &x);
    uint64_t seq = 0xa5a5, *pseq = af_pick(r, 4) == 3 ? NULL : &seq;
    waitspec w = pick_timeout(r, slot_probe_ok(si));
    unsigned repeat = 1 + (af_pick(r, 8) == 7 ? af_u8(r) % 32 : 0);
    for (unsigned i = 0; i < repeat; i++) {
        af_log("swamqp_basic_publish(slot %d, channel %u, %s, %s, flags 0x%x, props %s, body %s, timeout_ms %" PRIu32 ")",
               si, ch, bytes_desc(exchange), bytes_desc(key), flags, props ? "set" : "NULL", bytes_desc(body), w.ms);
        timing t = wait_begin(si, w);
        int rc = swamqp_basic_publish(h, ch, exchange, key, flags, props, body, pseq, w.ms, err);
        wait_end("swamqp_basic_publish", &t, rc);
        check_rc("swamqp_basic_publish", rc, err, &x);
        if (af_oracles && rc != SWAMQP_OK && pseq && seq != 0 && seq != 0xa5a5)
            af_violation("swamqp_basic_publish failed (%s) and used sequence %" PRIu64, swamqp_status_string(rc), seq);
        if (w.probe)
            w.probe = false, w.ms = 0;
    }
}

static void op_ack(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    uint16_t ch = pick_channel(r, si);
    static const uint64_t tags[] = {0, 1, UINT64_MAX, 1ull << 63, 2, UINT32_MAX};
    unsigned sel = af_pick(r, 8);
    uint64_t tag = sel < 4 && si >= 0 && g.s[si].ntags ? g.s[si].tags[sel % g.s[si].ntags] : tags[sel % 6];
    uint32_t flags = pick_flags(r);
    unsigned which = af_pick(r, 3);
    af_log("swamqp_basic_%s(slot %d, channel %u, tag %" PRIu64 ", flags 0x%x)", which == 0 ? "ack" : which == 1 ? "nack" : "reject",
           si, ch, tag, flags);
    int rc = which == 0 ? swamqp_basic_ack(h, ch, tag, flags, err)
             : which == 1 ? swamqp_basic_nack(h, ch, tag, flags, err)
                          : swamqp_basic_reject(h, ch, tag, flags, err);
    check_rc("swamqp_basic_ack/nack/reject", rc, err, &x);
}

static bool event_fd_ready(swamqp_connection *h)
{
    int fd = swamqp_connection_event_fd(h);
    if (fd < 0)
        return false;
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
}

/* A huge wait for events ends by itself: events are queued, or the watchdog will cut a live peer. */
static bool events_probe_ok(int si)
{
    if (si < 0)
        return true; /* invalid handle: answered at once */
    slot *s = &g.s[si];
    if (event_fd_ready(s->conn) || s->closed_event)
        return true;
    return s->opened && slot_peer(s) && !af_peer_dead(slot_peer(s)) && slot_probe_ok(si);
}

static const size_t hostile_capacities[] = {SIZE_MAX, SIZE_MAX >> 1, (SIZE_MAX >> 1) + 1, 1ull << 62, 1ull << 32,
                                           SIZE_MAX - 1, 1ull << 63, 0, 16, 4097, 256, (SIZE_MAX >> 1) - 1};

static void op_next_events(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    /* Mostly all; often one or two (a partial drain leaves events queued); sometimes hostile. */
    unsigned csel = af_pick(r, 16);
    size_t cap = csel < 8 ? MAX_EVENTS : csel < 10 ? 1 : csel == 10 ? 2
                 : hostile_capacities[af_pick(r, sizeof hostile_capacities / sizeof hostile_capacities[0])];
    if ((avoid & AVOID_CAPACITY) && cap > MAX_EVENTS)
        cap = MAX_EVENTS;
    swamqp_event *events = malloc(sizeof *events * MAX_EVENTS);
    if (events == NULL)
        abort();
    unsigned nsel = af_pick(r, 16);
    swamqp_event *pev = nsel == 15 ? NULL : events;
    size_t count = 0xa5a5, *pcount = nsel == 14 ? NULL : &count;
    if (pcount == NULL)
        mark_bad(&x, "count NULL");
    if (pev == NULL && cap > 0)
        mark_bad(&x, "events NULL with a capacity");
    unsigned sel = af_pick(r, 2);
    waitspec w = pick_timeout(r, events_probe_ok(si));
    af_log("swamqp_next_events(slot %d, %s, capacity %zu, %s, timeout_ms %" PRIu32 ")", si, pev ? "events" : "NULL", cap,
           pcount ? "&count" : "NULL", w.ms);
    timing t = wait_begin(si, w);
    int rc = swamqp_next_events(h, pev, cap, pcount, w.ms);
    wait_end("swamqp_next_events", &t, rc);
    check_rc("swamqp_next_events", rc, NULL, &x);
    if (rc == SWAMQP_OK && pcount) {
        if (af_oracles && (count > cap || count > MAX_EVENTS))
            af_violation("swamqp_next_events wrote %zu events with capacity %zu", count, cap);
        af_log("  %zu events", count);
        for (size_t i = 0; i < count && i < MAX_EVENTS; i++)
            touch_event(si, &events[i]);
        if (sel && si >= 0 && count) {
            af_log("swamqp_events_release(slot %d)", si);
            rc = swamqp_events_release(h);
            check_rc("swamqp_events_release", rc, NULL, NULL);
        }
    } else if (rc != SWAMQP_OK && pcount && af_oracles && count != 0 && count != 0xa5a5) {
        af_violation("swamqp_next_events failed (%s) with count %zu", swamqp_status_string(rc), count);
    }
    free(events);
}

static void op_dispatch(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    if (si >= 0 && !g.s[si].callback_set && af_pick(r, 4) != 3) {
        int rc = swamqp_set_event_callback(h, on_event, (void *)(intptr_t)si);
        check_rc("swamqp_set_event_callback", rc, NULL, NULL);
        if (rc == SWAMQP_OK)
            g.s[si].callback_set = true;
    }
    bool had_callback = si >= 0 && g.s[si].callback_set;
    af_reader saved = g.cb;
    g.cb = af_sub(r, af_u8(r) % 128);
    size_t n = 0xa5a5, *pn = af_pick(r, 4) == 3 ? NULL : &n;
    waitspec w = pick_timeout(r, events_probe_ok(si));
    af_log("swamqp_dispatch_events(slot %d, timeout_ms %" PRIu32 ")", si, w.ms);
    timing t = wait_begin(si, w);
    int rc = swamqp_dispatch_events(h, w.ms, pn);
    wait_end("swamqp_dispatch_events", &t, rc);
    check_rc("swamqp_dispatch_events", rc, NULL, &x);
    if (af_oracles && si >= 0 && !had_callback && rc == SWAMQP_OK && !g.in_callback)
        af_violation("swamqp_dispatch_events without a callback returned SWAMQP_OK");
    g.cb = saved;
}

static void op_callback(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    unsigned sel = af_pick(r, 4);
    if (sel < 2) {
        af_log("swamqp_set_event_callback(slot %d, %s)", si, sel ? "NULL" : "on_event");
        int rc = swamqp_set_event_callback(h, sel ? NULL : on_event, (void *)(intptr_t)si);
        check_rc("swamqp_set_event_callback", rc, NULL, &x);
        if (rc == SWAMQP_OK && si >= 0)
            g.s[si].callback_set = !sel;
    } else {
        af_log("swamqp_events_release(slot %d)", si);
        int rc = swamqp_events_release(h);
        check_rc("swamqp_events_release", rc, NULL, &x);
    }
}

static void op_query(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    unsigned what = af_pick(r, 5);
    if (what == 0) {
        bool open = swamqp_connection_is_open(h);
        if (af_oracles && si < 0 && open)
            af_violation("swamqp_connection_is_open is true for a freed or forged handle");
    } else if (what == 1) {
        uint16_t cm, hb;
        uint32_t fm;
        unsigned nulls = af_pick(r, 16);
        nulls = nulls < 8 ? 0 : nulls & 7; /* which out pointers are NULL */
        if (nulls)
            mark_bad(&x, "a NULL out pointer");
        int rc = swamqp_connection_tune(h, nulls & 1 ? NULL : &cm, nulls & 2 ? NULL : &fm, nulls & 4 ? NULL : &hb);
        check_rc("swamqp_connection_tune", rc, NULL, &x);
    } else if (what == 2) {
        int fd = swamqp_connection_event_fd(h);
        if (af_oracles && si < 0 && fd != -1)
            af_violation("swamqp_connection_event_fd of a freed or forged handle is %d", fd);
        if (af_oracles && si >= 0 && fd < 0)
            af_violation("swamqp_connection_event_fd of a live handle is %d", fd);
    } else if (what == 3) {
        swamqp_stats st;
        bool null = af_pick(r, 4) == 3;
        if (null)
            mark_bad(&x, "stats NULL");
        int rc = swamqp_connection_stats(h, null ? NULL : &st);
        check_rc("swamqp_connection_stats", rc, NULL, &x);
    } else {
        int status = af_pick(r, 2) ? -(int)af_u16(r) : (int)af_u32(r);
        const char *s = swamqp_status_string(status);
        if (s == NULL)
            af_violation("swamqp_status_string(%d) is NULL", status);
        touch(s, strlen(s));
        const char *v = swamqp_version();
        if (v == NULL || swamqp_version_number() != SWAMQP_VERSION_NUMBER)
            af_violation("swamqp_version/swamqp_version_number disagree with the header");
    }
}

static void op_raw(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    uint16_t ch = pick_channel(r, si);
    unsigned what = af_pick(r, 3);
    if (what == 0) {
        bool raw = af_bool(r);
        af_log("swamqp_channel_set_raw(slot %d, channel %u, %d)", si, ch, raw);
        int rc = swamqp_channel_set_raw(h, ch, raw);
        check_rc("swamqp_channel_set_raw", rc, NULL, &x);
        return;
    }
    /* encoded arguments: well-formed ones for a few methods, or noise */
    static const uint8_t close_args[] = {0x00, 0xc8, 0x00, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t publish_args[] = {0x00, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t qos_args[] = {0, 0, 0, 0, 0, 1, 0};
    static const uint8_t deliver_args[] = {1, 't', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 'q'};
    static const struct { uint16_t c, m; const uint8_t *a; size_t n; } known[] = {
        {20, 40, close_args, sizeof close_args}, {60, 40, publish_args, sizeof publish_args},
        {60, 10, qos_args, sizeof qos_args}, {60, 60, deliver_args, sizeof deliver_args},
        {10, 50, close_args, sizeof close_args}, {60, 50, close_args, 5},
    };
    unsigned k = af_pick(r, 8);
    uint16_t cls, mth;
    swamqp_bytes args;
    if (k < 6) {
        cls = known[k].c, mth = known[k].m;
        args.bytes = known[k].a, args.len = known[k].n;
    } else {
        cls = af_pick(r, 2) ? (uint16_t)(10 * (1 + af_pick(r, 9))) : af_u16(r);
        mth = af_pick(r, 2) ? (uint16_t)(10 * af_pick(r, 13) + af_pick(r, 2)) : af_u16(r);
        args = gen_bytes(r, R_LONG, &x);
    }
    if (what == 1) {
        af_log("swamqp_send_method(slot %d, channel %u, %u.%u, %s)", si, ch, cls, mth, bytes_desc(args));
        int rc = swamqp_send_method(h, ch, cls, mth, args, err);
        check_rc("swamqp_send_method", rc, err, &x);
    } else {
        const swamqp_properties *props = gen_props(r, &x);
        swamqp_bytes body = gen_bytes(r, R_BODY, &x);
        af_log("swamqp_send_content(slot %d, channel %u, %u.%u, %s, body %s)", si, ch, cls, mth, bytes_desc(args),
               bytes_desc(body));
        int rc = swamqp_send_content(h, ch, cls, mth, args, props, body, err);
        check_rc("swamqp_send_content", rc, err, &x);
    }
}

static void op_inject(af_reader *r)
{
    int si = (int)af_pick(r, NSLOTS);
    slot *s = &g.s[si];
    uint16_t hint = s->nchans ? s->chans[s->nchans - 1] : 1;
    af_peer *peer = slot_peer(s);
    if (peer == NULL) {
        af_reader skip = af_sub(r, 8);
        (void)skip;
        return;
    }
    af_log("peer %d: inject", si);
    af_peer_inject(peer, r, hint);
    /* Give the I/O thread a moment to read it (out of the budget). */
    if (g.budget > 0) {
        usleep(1000);
        g.budget -= 1;
    }
}

static void op_peer(af_reader *r)
{
    int si = (int)af_pick(r, NSLOTS);
    slot *s = &g.s[si];
    unsigned what = af_pick(r, 4);
    if (what == 0) {
        af_log("peer %d: cut", si);
        af_peer_cut(slot_peer(s));
    } else {
        af_log("peer %d: force answers %d", si, what == 1);
        af_peer_force_answers(slot_peer(s), what == 1);
    }
}

static void op_message(af_reader *r)
{
    unsigned what = af_pick(r, 6);
    if (what < 3 && g.nmsgs) {
        unsigned k = af_pick(r, g.nmsgs);
        swamqp_message *m = g.msgs[k];
        if (what == 0) {
            touch_message(m);
            return;
        }
        af_log("swamqp_message_free(%p)", (void *)m);
        int rc = swamqp_message_free(m);
        if (af_oracles && rc != SWAMQP_OK)
            af_violation("swamqp_message_free of a message from swamqp_basic_get returned %s", swamqp_status_string(rc));
        g.msgs[k] = g.msgs[--g.nmsgs];
        if (g.nfreed < 16)
            g.freed_msgs[g.nfreed++] = m;
        return;
    }
    swamqp_message *m;
    static swamqp_message on_heap_like;
    if (what == 3 && g.nfreed)
        m = g.freed_msgs[af_pick(r, g.nfreed)];
    else if (what == 4)
        m = &on_heap_like;
    else {
        const uintptr_t forged[] = {1, 0x10, UINTPTR_MAX, (uintptr_t)backing, 0xdeadbeef};
        m = (swamqp_message *)forged[af_pick(r, 5)];
    }
    af_log("swamqp_message_free(%p) (freed or forged)", (void *)m);
    int rc = swamqp_message_free(m);
    if (af_oracles && rc != SWAMQP_ERR_INVALID_HANDLE)
        af_violation("swamqp_message_free of a freed or foreign message returned %s", swamqp_status_string(rc));
}

static void op_url(af_reader *r)
{
    size_t n = af_u8(r) % 96;
    char *url = af_alloc(n + 1);
    static const char *prefixes[] = {"amqp://", "amqps://", "amqp://u:p@[::1]:1/v?", "amqp://127.0.0.1:1,amqp://", "", "amqp://%"};
    unsigned p = af_pick(r, 8);
    size_t at = 0;
    if (p < 6) {
        size_t pl = strlen(prefixes[p]);
        if (pl > n)
            pl = n;
        memcpy(url, prefixes[p], pl);
        at = pl;
    }
    for (; at < n; at++) {
        uint8_t c = af_u8(r);
        url[at] = c ? (char)c : 'a';
    }
    url[n] = 0;
    swamqp_connection_options *o = af_alloc(sizeof *o);
    swamqp_connection_options_init(o);
    swamqp_error es, *err = pick_error(r, &es);
    unsigned sel = af_pick(r, 16);
    expect x = {0};
    bool list = sel & 1;
    const char *u = sel == 14 ? NULL : url;
    swamqp_connection_options *po = sel == 15 ? NULL : o;
    if (u == NULL || po == NULL)
        mark_bad(&x, "NULL url or options");
    af_log("swamqp_parse_url%s(\"%s\")", list ? "_list" : "", u ? u : "(NULL)");
    int rc = list ? swamqp_parse_url_list(u, po, err) : swamqp_parse_url(u, po, err);
    check_rc(list ? "swamqp_parse_url_list" : "swamqp_parse_url", rc, err, &x);
    if (rc != SWAMQP_OK || po == NULL)
        return;
    const char *strings[] = {o->host, o->vhost, o->user, o->password, o->tls_ca_file, o->tls_cert_file,
                             o->tls_key_file, o->tls_server_name};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (strings[i])
            touch(strings[i], strlen(strings[i]) + 1);
    if (o->endpoint_count && o->endpoints == NULL && af_oracles)
        af_violation("swamqp_parse_url_list: %zu endpoints at NULL", o->endpoint_count);
    for (size_t i = 0; i < o->endpoint_count && i < 1000 && o->endpoints; i++)
        if (o->endpoints[i].host)
            touch(o->endpoints[i].host, strlen(o->endpoints[i].host) + 1);
    if (af_pick(r, 2)) {
        /* Create (never open) a connection from what was parsed, with loopback only. */
        o->host = "127.0.0.1";
        o->port = 1;
        o->endpoints = NULL;
        o->endpoint_count = 0;
        o->tls_ca_file = o->tls_cert_file = o->tls_key_file = NULL;
        o->socket_fd = -1;
        swamqp_connection *h = NULL;
        rc = swamqp_connection_create(o, &h, err);
        check_rc("swamqp_connection_create (from a URL)", rc, err, NULL);
        if (rc == SWAMQP_OK) {
            rc = swamqp_connection_free(h);
            check_rc("swamqp_connection_free", rc, NULL, NULL);
        }
    }
}

static void op_misc(af_reader *r)
{
    unsigned what = af_pick(r, 4);
    if (what == 0) {
        swamqp_connection_options_init(NULL);
    } else if (what == 1) {
        swamqp_connection *h = (swamqp_connection *)(uintptr_t)0x1;
        swamqp_error es, *err = pick_error(r, &es);
        int rc = swamqp_connection_create(NULL, af_bool(r) ? NULL : &h, err);
        check_rc("swamqp_connection_create(NULL options)", rc, err, &(expect){true, false, "options NULL"});
    } else {
        /* every call once with a freed or forged handle */
        expect x = {0};
        int si;
        swamqp_connection *h = pick_handle(r, &si, &x);
        if (si >= 0)
            return;
        x.bad_handle = true;
        swamqp_error err;
        uint64_t rid;
        uint16_t ch;
        swamqp_bytes e = {NULL, 0};
        af_log("every call with handle %p", (void *)h);
#define H(call) check_rc(#call, (call), &err, &x)
        H(swamqp_connection_open(h, &err));
        H(swamqp_connection_open_async(h, &rid, &err));
        H(swamqp_connection_close(h, 0, &err));
        H(swamqp_connection_close_async(h, &rid, &err));
        H(swamqp_channel_open(h, &ch, 0, &err));
        H(swamqp_channel_close(h, 1, 0, &err));
        H(swamqp_exchange_declare(h, 1, e, e, 0, NULL, 0, &err));
        H(swamqp_queue_declare_async(h, 1, e, 0, NULL, &rid, &err));
        H(swamqp_basic_publish(h, 1, e, e, 0, NULL, e, NULL, 0, &err));
        H(swamqp_basic_ack(h, 1, 1, 0, &err));
        H(swamqp_confirm_select(h, 1, 0, &err));
        H(swamqp_wait_for_confirms(h, 1, 0, &err));
        H(swamqp_connection_update_secret(h, e, e, 0, &err));
        H(swamqp_send_method(h, 1, 60, 10, e, &err));
#undef H
        size_t n;
        swamqp_event ev[1];
        check_rc("swamqp_next_events", swamqp_next_events(h, ev, 1, &n, 0), NULL, &x);
        check_rc("swamqp_dispatch_events", swamqp_dispatch_events(h, 0, &n), NULL, &x);
        check_rc("swamqp_events_release", swamqp_events_release(h), NULL, &x);
        check_rc("swamqp_set_event_callback", swamqp_set_event_callback(h, on_event, NULL), NULL, &x);
        check_rc("swamqp_channel_set_raw", swamqp_channel_set_raw(h, 1, true), NULL, &x);
        swamqp_stats st;
        check_rc("swamqp_connection_stats", swamqp_connection_stats(h, &st), NULL, &x);
    }
}

static void op_bg(af_reader *r)
{
    int k = g.bg[0] == NULL ? 0 : g.bg[1] == NULL ? 1 : -1;
    if (k < 0 || af_pick(r, 4) == 3) {
        bg_join_all();
        return;
    }
    expect x = {0};
    int si;
    bg_call *c = calloc(1, sizeof *c);
    if (c == NULL)
        abort();
    c->h = pick_handle(r, &si, &x);
    c->ch = pick_channel(r, si);
    c->what = af_pick(r, 7);
    c->timeout = (uint32_t)af_pick(r, 30);
    if ((int64_t)c->timeout > g.budget)
        c->timeout = 0;
    g.budget -= c->timeout;
    c->name.bytes = "bg";
    c->name.len = 2;
    c->body = c->name;
    af_log("background call %u on slot %d", c->what, si);
    if (pthread_create(&c->thread, NULL, bg_main, c) != 0)
        abort();
    g.bg[k] = c;
}

static void run_op(af_reader *r)
{
    unsigned op = af_pick(r, OP_COUNT);
    switch (op) {
    case OP_CREATE: op_create(r, false); break;
    case OP_CONNECT: op_create(r, true); break;
    case OP_OPEN: op_open(r); break;
    case OP_CLOSE: op_close(r); break;
    case OP_FREE: op_free(r); break;
    case OP_CHANNEL: op_channel(r); break;
    case OP_RPC: case OP_RPC2: op_rpc(r); break;
    case OP_PUBLISH: case OP_PUBLISH2: op_publish(r); break;
    case OP_ACK: op_ack(r); break;
    case OP_NEXT_EVENTS: op_next_events(r); break;
    case OP_DISPATCH: op_dispatch(r); break;
    case OP_CALLBACK: op_callback(r); break;
    case OP_QUERY: op_query(r); break;
    case OP_RAW: op_raw(r); break;
    case OP_INJECT: case OP_INJECT2: op_inject(r); break;
    case OP_PEER: op_peer(r); break;
    case OP_MESSAGE: op_message(r); break;
    case OP_URL: op_url(r); break;
    case OP_MISC: op_misc(r); break;
    case OP_BG: op_bg(r); break;
    case OP_PAUSE: {
        unsigned ms = af_u8(r) % 10;
        if ((int64_t)ms <= g.budget) {
            usleep(ms * 1000);
            g.budget -= ms;
        }
        break;
    }
    }
}

/* ---- a run ------------------------------------------------------------------------------------- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void teardown(void)
{
    bg_join_all();
    for (int i = 0; i < NSLOTS; i++)
        if (g.s[i].live)
            free_slot_handle(i, NULL, true);
    for (int i = 0; i < NSLOTS; i++)
        stop_peer(&g.s[i]);
    for (unsigned i = 0; i < g.nmsgs; i++)
        swamqp_message_free(g.msgs[i]);
    af_arena_reset();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *t = getenv("ABI_FUZZ_TRACE");
    af_trace = t && *t && *t != '0';
    const char *o = getenv("ABI_FUZZ_ORACLES");
    af_oracles = !(o && *o == '0');
    ignore_list = getenv("ABI_FUZZ_IGNORE");
    avoid = parse_avoid(getenv("ABI_FUZZ_AVOID"));
    backing = malloc(BACKING_SIZE);
    if (backing == NULL)
        abort();
    for (size_t i = 0; i < BACKING_SIZE; i++)
        backing[i] = (uint8_t)('a' + i % 26);
    const char *seeds = getenv("ABI_FUZZ_WRITE_SEEDS");
    if (seeds && *seeds) {
        af_write_seeds(seeds);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (backing == NULL)
        LLVMFuzzerInitialize(NULL, NULL);
    af_reader r = {data, size, 0};
    memset(&g, 0, sizeof g);
    for (int i = 0; i < NSLOTS; i++)
        g.s[i].aux_fd = -1;
    g.budget = WAIT_BUDGET_MS;
    int fds_before = af_oracles ? count_fds() : -1;
    g.settings = af_u8(&r);
    while (!af_done(&r) && g.ops < MAX_OPS) {
        g.ops++;
        run_op(&r);
    }
    teardown();
    af_log("teardown done");
    if (fds_before >= 0) {
        int after = count_fds();
        for (int tries = 0; after > fds_before && tries < 5; tries++) {
            usleep(5000);
            after = count_fds();
        }
        af_log("fd check done (%d before, %d after)", fds_before, after);
        if (after > fds_before)
            af_violation("the run left %d file descriptors open (%d before, %d after)", after - fds_before,
                         fds_before, after);
    }
    return 0;
}
