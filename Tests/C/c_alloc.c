/*
 * c_alloc: heap allocations per message in steady state, counted by an interposed allocator
 * (LD_PRELOAD of the malloc-counting shim, bench/codec/malloc_count.c), against the null broker
 * (bench/c/nullbroker.c, its own process, so its allocations are not ours).
 *
 *   c_alloc NULLBROKER_PATH [MESSAGES]
 *
 * For each workload — publish 16 B, consume 16 B with an ack per message, consume 16 B no-ack,
 * publish 16 B with confirms — it runs MESSAGES (default 10,000) messages to warm up (with a pause
 * that lets the event queue, 256 KiB here, fill to its limit once), then counts the allocations of
 * the next MESSAGES, library threads included. Allocation counts do not move
 * with machine noise, so this is a real test, not a timing: it fails when a workload allocates
 * per message (more than MESSAGES / 1000 allocations in the measured run: an occasional buffer
 * growth passes, one allocation per message does not). The loops themselves allocate nothing.
 */
#include "test_util.h"

#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>

#define T_MS 30000
#define BATCH 512

typedef uint64_t (*count_fn)(void);
static count_fn alloc_count;

static swamqp_error err;
static swamqp_event events[BATCH];
static const char *nullbroker;
static long messages = 10000;

static void check(int rc, const char *what)
{
    if (rc != SWAMQP_OK)
        FAILF("%s: %s: %s", what, swamqp_status_string(rc), err.status == rc ? err.message : "");
}

/* A null broker process; each connection gets `preload` 16-byte messages queued. Its stdout goes
 * to a file (it reports on stdout as it runs; a pipe closed after the port line would kill it). */
static pid_t start_nullbroker(long preload, uint16_t *port)
{
    char path[] = "/tmp/c_alloc-nullbroker-XXXXXX";
    int out = mkstemp(path);
    CHECK(out >= 0, "mkstemp: %s", strerror(errno));
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(out, 1);
        unsetenv("LD_PRELOAD");
        char count[32];
        snprintf(count, sizeof count, "%ld", preload);
        execl(nullbroker, nullbroker, "--preload", count, "--preload-size", "16", (char *)NULL);
        _exit(127);
    }
    unsigned p = 0;
    for (int i = 0; i < 500 && p == 0; i++) {
        char line[64] = {0};
        if (pread(out, line, sizeof line - 1, 0) > 0)
            sscanf(line, "PORT=%u", &p);
        if (p == 0)
            tu_sleep_ms(10);
    }
    close(out);
    unlink(path);
    CHECK(p != 0, "the null broker printed no PORT= line within 5 s");
    *port = (uint16_t)p;
    return pid;
}

static swamqp_connection *connect_to(uint16_t port, uint16_t *ch)
{
    swamqp_connection_options o;
    swamqp_connection_options_init(&o);
    o.host = "127.0.0.1";
    o.port = port;
    o.heartbeat = 0;
    /* A small event queue keeps the I/O thread in step with the application: without it the
     * null broker's whole stream is decoded before the measured run begins. */
    o.event_queue_limit = 256 * 1024;
    swamqp_connection *conn = NULL;
    check(swamqp_connect(&o, &conn, &err), "connect");
    check(swamqp_set_log_level(conn, 0), "set_log_level");
    check(swamqp_channel_open(conn, ch, T_MS, &err), "channel.open");
    return conn;
}

static const unsigned char body[16] = "0123456789abcdef";

/* Publishes `n` messages, then waits until the I/O thread has sent them (bytes_out stops growing
 * at the total) without making a request. */
static void publish_n(swamqp_connection *conn, uint16_t ch, long n)
{
    for (long i = 0; i < n; i++)
        check(swamqp_basic_publish(conn, ch, (swamqp_bytes){"", 0}, (swamqp_bytes){"q", 1}, 0, NULL,
                                   (swamqp_bytes){body, sizeof body}, NULL, T_MS, &err),
              "basic.publish");
}

static void wait_sent(swamqp_connection *conn)
{
    swamqp_stats before, now;
    check(swamqp_connection_stats(conn, &before), "stats");
    for (int i = 0; i < 200; i++) {
        tu_sleep_ms(10);
        check(swamqp_connection_stats(conn, &now), "stats");
        if (now.bytes_out == before.bytes_out && now.events_queued_bytes == 0)
            return;
        before = now;
    }
}

/* Drains until `n` deliveries arrived (a batch may bring a few more), acking each unless no_ack. */
static void consume_n(swamqp_connection *conn, uint16_t ch, long n, bool no_ack)
{
    long got = 0;
    while (got < n) {
        size_t k = 0;
        check(swamqp_next_events(conn, events, BATCH, &k, T_MS), "next_events");
        CHECK(k > 0, "no delivery within %d ms (%ld of %ld)", T_MS, got, n);
        for (size_t i = 0; i < k; i++) {
            if (events[i].type != SWAMQP_EVENT_DELIVERY)
                continue;
            got++;
            if (!no_ack)
                check(swamqp_basic_ack(conn, ch, events[i].delivery_tag, 0, &err), "basic.ack");
        }
    }
}

/* Publishes `n` messages in confirm mode and drains confirm events until all are confirmed. */
static void confirmed_n(swamqp_connection *conn, uint16_t ch, long n, uint64_t *confirmed)
{
    uint64_t last = 0;
    for (long i = 0; i < n; i++) {
        check(swamqp_basic_publish(conn, ch, (swamqp_bytes){"", 0}, (swamqp_bytes){"q", 1}, 0, NULL,
                                   (swamqp_bytes){body, sizeof body}, &last, T_MS, &err),
              "basic.publish");
        size_t k = 0;
        check(swamqp_next_events(conn, events, BATCH, &k, 0), "next_events");
        for (size_t j = 0; j < k; j++)
            if (events[j].type == SWAMQP_EVENT_CONFIRM_ACK && events[j].delivery_tag > *confirmed)
                *confirmed = events[j].delivery_tag;
    }
    while (*confirmed < last) {
        size_t k = 0;
        check(swamqp_next_events(conn, events, BATCH, &k, T_MS), "next_events");
        CHECK(k > 0, "confirms stopped at %" PRIu64 " of %" PRIu64, *confirmed, last);
        for (size_t j = 0; j < k; j++)
            if (events[j].type == SWAMQP_EVENT_CONFIRM_ACK && events[j].delivery_tag > *confirmed)
                *confirmed = events[j].delivery_tag;
    }
}

enum workload { PUBLISH, CONSUME_ACK, CONSUME_NO_ACK, CONFIRMS };
static const char *const workload_names[] = {"publish 16 B", "consume 16 B with acks", "consume 16 B no-ack",
                                             "publish 16 B with confirms"};

/* Allocations of the measured run (after a warm-up run of the same size). */
static uint64_t measure(enum workload w)
{
    uint16_t port = 0, ch = 0;
    pid_t broker = start_nullbroker(w == CONSUME_ACK || w == CONSUME_NO_ACK ? 3 * messages : 0, &port);
    swamqp_connection *conn = connect_to(port, &ch);
    uint64_t confirmed = 0;
    swamqp_name tag;
    if (w == CONSUME_ACK || w == CONSUME_NO_ACK)
        check(swamqp_basic_consume(conn, ch, (swamqp_bytes){"q", 1}, (swamqp_bytes){"", 0},
                                   w == CONSUME_NO_ACK ? SWAMQP_NO_ACK : 0, NULL, &tag, T_MS, &err),
              "basic.consume");
    if (w == CONFIRMS)
        check(swamqp_confirm_select(conn, ch, T_MS, &err), "confirm.select");
    uint64_t before = 0, after = 0;
    for (int run = 0; run < 2; run++) {
        if (run == 1)
            before = alloc_count();
        if (run == 0 && w != PUBLISH) {
            /* The warm-up lets the event queue fill to its limit once, so the pools of message
             * objects and read buffers grow to cover the most that can be in flight; the measured
             * run then only reuses them, however the threads are scheduled. */
            switch (w) {
            case CONSUME_ACK: consume_n(conn, ch, messages / 2, false); break;
            case CONSUME_NO_ACK: consume_n(conn, ch, messages / 2, true); break;
            default: confirmed_n(conn, ch, messages / 2, &confirmed); break;
            }
            tu_sleep_ms(300);
        }
        switch (w) {
        case PUBLISH:
            publish_n(conn, ch, messages);
            wait_sent(conn);
            break;
        case CONSUME_ACK: consume_n(conn, ch, messages, false); wait_sent(conn); break;
        case CONSUME_NO_ACK: consume_n(conn, ch, messages, true); break;
        case CONFIRMS: confirmed_n(conn, ch, messages, &confirmed); break;
        }
        if (run == 1)
            after = alloc_count();
    }
    swamqp_connection_free(conn);
    kill(broker, SIGTERM);
    waitpid(broker, NULL, 0);
    return after - before;
}

int main(int argc, char **argv)
{
    CHECK(argc >= 2, "usage: c_alloc NULLBROKER [MESSAGES]");
    nullbroker = argv[1];
    if (argc > 2)
        messages = atol(argv[2]);
    CHECK(messages > 0, "MESSAGES must be positive");
    alloc_count = (count_fn)dlsym(RTLD_DEFAULT, "bench_alloc_count");
    CHECK(alloc_count != NULL, "no allocation counter: run with LD_PRELOAD of the malloc_count shim");
    signal(SIGPIPE, SIG_IGN);
    int failed = 0;
    printf("heap allocations in steady state, %ld messages after %ld of warm-up\n", messages, messages);
    const char *only = getenv("C_ALLOC_WORKLOAD"); /* one workload by number, for profiling */
    for (int w = PUBLISH; w <= CONFIRMS; w++) {
        if (only && atoi(only) != w)
            continue;
        uint64_t n = measure((enum workload)w);
        bool ok = n <= (uint64_t)(messages / 1000);
        printf("  %-28s %8" PRIu64 " allocations  %.3f per message  %s\n", workload_names[w], n, (double)n / (double)messages,
               ok ? "ok" : "FAIL");
        failed += !ok;
    }
    if (failed) {
        printf("FAIL c_alloc: %d workload(s) allocate per message\n", failed);
        return 1;
    }
    printf("c_alloc: OK\n");
    return 0;
}
