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
 *
 * This file holds the entry points, the basics (violations, the trace, the per-input arena) and a
 * run; the rest of the harness is beside it (harness.h declares what they share):
 *   operands.c        handles, channels, timeouts and hostile values for the calls' arguments
 *   oracles.c         the checks of statuses, errors and events
 *   slots.c           creating (or connecting) and freeing a slot's connection; the TCP listener
 *   ops_connection.c  open, close, free, channels, queries, URLs, calls with dead handles
 *   ops_requests.c    every request, publish, ack, raw methods, messages, background calls
 *   ops_events.c      the event callback, next_events, dispatch; injections into the fake broker
 * The fake broker is peer.c and the files beside it; the seed corpus is seeds.c.
 */
#include "harness.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int af_trace;
int af_oracles = 1;

/* ABI_FUZZ_AVOID (the classes: see harness.h) */
unsigned avoid;
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
uint8_t *backing;

static volatile uint64_t sink;
void touch(const void *p, size_t n)
{
    const volatile uint8_t *b = p;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += b[i];
    sink += sum;
}

/* ---- run state (its parts: see harness.h) ---------------------------------------------------- */

struct run_state g;

/* ---- an operation ---------------------------------------------------------------------------- */

void run_op(af_reader *r)
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
