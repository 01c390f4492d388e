/*
 * bench.h — what every C benchmark client shares: arguments, the clock, getrusage, latency
 * percentiles and the one-line JSON result. Each client (bench_swiftamqp.c, bench_librabbitmq.c)
 * implements the same four workloads with the same structure:
 *
 *   publish   N publishes of SIZE bytes to an exclusive queue, then one RPC (queue.declare passive)
 *             on the same channel: the clock stops when the broker answered it, so every publish
 *             has left the client and been taken by the broker, whatever the library buffers.
 *   confirm   the same in confirm mode, at most WINDOW (1000) publishes unconfirmed; the clock
 *             stops when the last confirm arrived.
 *   consume   fill the queue with N messages (not timed; skipped with --prefilled, when the null
 *             broker was started with --preload), then basic.qos PREFETCH (1000),
 *             basic.consume and receive N deliveries, acking with `multiple` every ACK_EVERY (100);
 *             with --no-ack the consumer is no-ack and nothing is acked.
 *   roundtrip a no-ack consumer on the queue; N times: publish one message, wait for its delivery.
 *             Latency p50/p99 per round trip.
 *
 * The timed part is bracketed by clock_gettime(CLOCK_MONOTONIC) and getrusage(RUSAGE_SELF)
 * (user + system time of every thread of the process, the library's I/O thread included).
 * Every workload checks what it got (counts, body sizes, confirms) and fails loudly otherwise.
 */
#ifndef BENCH_H
#define BENCH_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct bench_args {
    const char *client;   /* name written into the result */
    const char *url;      /* amqp://user:pass@host:port/vhost */
    const char *workload; /* publish | confirm | consume | roundtrip */
    size_t size;          /* body bytes */
    long count;           /* messages (round trips) */
    int no_ack;           /* consume: no-ack consumer */
    int window;           /* confirm: most unconfirmed publishes */
    int prefetch;         /* consume: basic.qos prefetch_count */
    int ack_every;        /* consume: ack (multiple) every this many deliveries */
    long warmup;          /* roundtrip: untimed round trips first */
    int prefilled;        /* consume: the queue already holds COUNT messages (null broker --preload) */
} bench_args;

static inline void bench_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static inline void bench_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static inline void bench_usage(const char *prog) {
    fprintf(stderr,
            "usage: %s --url URL --workload publish|confirm|consume|roundtrip [--size BYTES]\n"
            "          [--count N] [--no-ack] [--window N] [--prefetch N] [--ack-every N] [--warmup N]\n"
            "          [--prefilled]\n",
            prog);
    exit(2);
}

static inline long bench_long(const char *s, const char *what) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || v < 0) bench_die("bad %s: %s", what, s);
    return v;
}

static inline void bench_parse_args(bench_args *a, const char *client, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->client = client;
    a->url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    a->workload = "publish";
    a->size = 16;
    a->count = 100000;
    a->window = 1000;
    a->prefetch = 1000;
    a->ack_every = 100;
    a->warmup = 200;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--no-ack")) { a->no_ack = 1; continue; }
        if (!strcmp(k, "--prefilled")) { a->prefilled = 1; continue; }
        if (!v) bench_usage(argv[0]);
        if (!strcmp(k, "--url")) a->url = v;
        else if (!strcmp(k, "--workload")) a->workload = v;
        else if (!strcmp(k, "--size")) a->size = (size_t)bench_long(v, k);
        else if (!strcmp(k, "--count")) a->count = bench_long(v, k);
        else if (!strcmp(k, "--window")) a->window = (int)bench_long(v, k);
        else if (!strcmp(k, "--prefetch")) a->prefetch = (int)bench_long(v, k);
        else if (!strcmp(k, "--ack-every")) a->ack_every = (int)bench_long(v, k);
        else if (!strcmp(k, "--warmup")) a->warmup = bench_long(v, k);
        else if (!strcmp(k, "--client")) a->client = v;
        else bench_usage(argv[0]);
        i++;
    }
    if (a->count <= 0 || a->window <= 0 || a->ack_every <= 0 || a->prefetch < 0 || a->prefetch > 65535)
        bench_die("count, window and ack-every must be positive, prefetch 0..65535");
}

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double bench_tv(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6; }

typedef struct bench_clock {
    double t0, t1;
    struct rusage r0, r1;
} bench_clock;

static inline void bench_start(bench_clock *c) {
    getrusage(RUSAGE_SELF, &c->r0);
    c->t0 = bench_now();
}

static inline void bench_stop(bench_clock *c) {
    c->t1 = bench_now();
    getrusage(RUSAGE_SELF, &c->r1);
}

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values. */
static inline double bench_percentile(const double *sorted, size_t n, double p) {
    if (!n) return 0;
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

/* Prints the result line: {"client":..,"workload":..,...}. `lat` (seconds, may be NULL) is sorted here. */
static inline void bench_report(const bench_args *a, const bench_clock *c, long messages, double *lat, size_t nlat,
                                const char *extra) {
    double wall = c->t1 - c->t0;
    double user = bench_tv(c->r1.ru_utime) - bench_tv(c->r0.ru_utime);
    double sys = bench_tv(c->r1.ru_stime) - bench_tv(c->r0.ru_stime);
    printf("{\"client\":\"%s\",\"workload\":\"%s\",\"size\":%zu,\"count\":%ld,\"no_ack\":%s,"
           "\"messages\":%ld,\"wall_s\":%.6f,\"user_s\":%.6f,\"sys_s\":%.6f,"
           "\"msgs_per_s\":%.1f,\"cpu_us_per_msg\":%.4f,\"vcsw\":%ld,\"ivcsw\":%ld",
           a->client, a->workload, a->size, a->count, a->no_ack ? "true" : "false", messages, wall, user, sys,
           wall > 0 ? (double)messages / wall : 0.0, messages ? (user + sys) * 1e6 / (double)messages : 0.0,
           c->r1.ru_nvcsw - c->r0.ru_nvcsw, c->r1.ru_nivcsw - c->r0.ru_nivcsw);
    if (lat && nlat) {
        qsort(lat, nlat, sizeof *lat, bench_cmp_double);
        printf(",\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f", bench_percentile(lat, nlat, 50) * 1e6,
               bench_percentile(lat, nlat, 99) * 1e6, lat[nlat - 1] * 1e6);
    }
    if (extra && *extra) printf(",%s", extra);
    printf("}\n");
    fflush(stdout);
}

/* A body of `size` bytes; the first 8 carry a counter so bodies are not all equal. */
static inline unsigned char *bench_body(size_t size) {
    unsigned char *b = malloc(size ? size : 1);
    if (!b) bench_die("out of memory");
    for (size_t i = 0; i < size; i++) b[i] = (unsigned char)('a' + i % 26);
    return b;
}

/* Tracks publisher confirms (single or multiple, in any order) for N publishes numbered 1..N. */
typedef struct bench_confirms {
    unsigned char *acked; /* acked[seq] */
    long n, low;          /* every seq <= low is acked */
    long acked_count, nacked_count;
} bench_confirms;

static inline void bench_confirms_init(bench_confirms *t, long n) {
    t->acked = calloc((size_t)n + 2, 1);
    if (!t->acked) bench_die("out of memory");
    t->n = n;
    t->low = 0;
    t->acked_count = t->nacked_count = 0;
}

static inline void bench_confirms_mark(bench_confirms *t, uint64_t tag, int multiple, int nack) {
    if (tag > (uint64_t)t->n) bench_die("confirm for sequence %llu beyond %ld", (unsigned long long)tag, t->n);
    long from = multiple ? t->low + 1 : (long)tag;
    for (long s = from; s <= (long)tag; s++) {
        if (!t->acked[s]) {
            t->acked[s] = 1;
            if (nack) t->nacked_count++;
            else t->acked_count++;
        }
    }
    while (t->low < t->n && t->acked[t->low + 1]) t->low++;
}

static inline long bench_confirms_done(const bench_confirms *t) { return t->acked_count + t->nacked_count; }

#endif
