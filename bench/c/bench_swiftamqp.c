/*
 * bench_swiftamqp — the four workloads of bench.h against libswiftamqp's C API.
 * Same structure as bench_librabbitmq.c; each function uses the library the way its documentation
 * suggests (events drained in batches with swamqp_next_events).
 */
#include "bench.h"

#include <swiftamqp.h>

#define TIMEOUT_MS 30000
#define BATCH 512

static swamqp_connection *conn;
static uint16_t ch;
static swamqp_error err;
static swamqp_event events[BATCH];
static char queue_name[256];
static swamqp_bytes queue;

static swamqp_bytes B(const char *s) { return (swamqp_bytes){s, strlen(s)}; }

static void check(int rc, const char *what) {
    if (rc != SWAMQP_OK)
        bench_die("%s: %s: %s", what, swamqp_status_string(rc), err.status == rc ? err.message : "");
}

static void setup(const bench_args *a) {
    swamqp_connection_options o;
    swamqp_connection_options_init(&o);
    check(swamqp_parse_url(a->url, &o, &err), "parse url");
    o.heartbeat = 0;
    o.connection_name = "bench-swiftamqp";
    check(swamqp_connect(&o, &conn, &err), "connect");
    check(swamqp_channel_open(conn, &ch, TIMEOUT_MS, &err), "channel.open");
    swamqp_queue_declare_ok ok;
    check(swamqp_queue_declare(conn, ch, B(""), SWAMQP_EXCLUSIVE | SWAMQP_AUTO_DELETE, NULL, &ok, TIMEOUT_MS, &err),
          "queue.declare");
    memcpy(queue_name, ok.name, ok.name_len);
    queue_name[ok.name_len] = 0;
    queue = (swamqp_bytes){queue_name, ok.name_len};
}

static uint32_t queue_count(void) {
    swamqp_queue_declare_ok ok;
    check(swamqp_queue_declare(conn, ch, queue, SWAMQP_PASSIVE, NULL, &ok, TIMEOUT_MS, &err), "queue.declare passive");
    return ok.message_count;
}

/* Waits (not timed) until the broker's queue holds `n` messages. */
static void await_count(long n) {
    double deadline = bench_now() + 30;
    uint32_t c;
    while ((c = queue_count()) != (uint32_t)n) {
        if (bench_now() > deadline) bench_die("queue holds %u messages, expected %ld", c, n);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void publish(const unsigned char *body, size_t size, uint64_t *seq) {
    check(swamqp_basic_publish(conn, ch, B(""), queue, 0, NULL, (swamqp_bytes){body, size}, seq, TIMEOUT_MS, &err),
          "basic.publish");
}

/* Events other than the expected kinds end the benchmark. */
static void unexpected(const swamqp_event *e) {
    if (e->type == SWAMQP_EVENT_LOG) return;
    bench_die("unexpected event type %d (status %s: %s)", e->type, swamqp_status_string(e->status),
              e->error ? e->error->message : "");
}

static void run_publish(const bench_args *a) {
    unsigned char *body = bench_body(a->size);
    bench_clock c;
    bench_start(&c);
    for (long i = 0; i < a->count; i++) publish(body, a->size, NULL);
    uint32_t seen = queue_count(); /* an RPC behind every publish: all of them reached the broker */
    bench_stop(&c);
    await_count(a->count);
    char extra[64];
    snprintf(extra, sizeof extra, "\"count_at_stop\":%u", seen);
    bench_report(a, &c, a->count, NULL, 0, extra);
    free(body);
}

static void run_confirm(const bench_args *a) {
    unsigned char *body = bench_body(a->size);
    bench_confirms t;
    bench_confirms_init(&t, a->count);
    check(swamqp_confirm_select(conn, ch, TIMEOUT_MS, &err), "confirm.select");
    bench_clock c;
    bench_start(&c);
    long published = 0;
    while (bench_confirms_done(&t) < a->count) {
        while (published < a->count && published - bench_confirms_done(&t) < a->window) {
            uint64_t seq = 0;
            publish(body, a->size, &seq);
            published++;
            if (seq != (uint64_t)published) bench_die("publish sequence %llu, expected %ld", (unsigned long long)seq, published);
        }
        size_t n = 0;
        check(swamqp_next_events(conn, events, BATCH, &n, TIMEOUT_MS), "next_events");
        if (!n) bench_die("no confirm within %d ms", TIMEOUT_MS);
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            if (e->type == SWAMQP_EVENT_CONFIRM_ACK || e->type == SWAMQP_EVENT_CONFIRM_NACK) {
                if (e->status) bench_die("confirms failed: %s", e->error ? e->error->message : "");
                bench_confirms_mark(&t, e->delivery_tag, (e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) != 0,
                                    e->type == SWAMQP_EVENT_CONFIRM_NACK);
            } else {
                unexpected(e);
            }
        }
    }
    bench_stop(&c);
    if (t.nacked_count) bench_die("%ld publishes nacked", t.nacked_count);
    await_count(a->count);
    bench_report(a, &c, a->count, NULL, 0, NULL);
    free(body);
    free(t.acked);
}

static void run_consume(const bench_args *a) {
    unsigned char *body = bench_body(a->size);
    if (!a->prefilled)
        for (long i = 0; i < a->count; i++) publish(body, a->size, NULL);
    await_count(a->count);
    if (!a->no_ack) check(swamqp_basic_qos(conn, ch, 0, (uint16_t)a->prefetch, 0, TIMEOUT_MS, &err), "basic.qos");

    bench_clock c;
    bench_start(&c);
    check(swamqp_basic_consume(conn, ch, queue, B(""), a->no_ack ? SWAMQP_NO_ACK : 0, NULL, NULL, TIMEOUT_MS, &err),
          "basic.consume");
    long received = 0;
    uint64_t last_tag = 0;
    while (received < a->count) {
        size_t n = 0;
        check(swamqp_next_events(conn, events, BATCH, &n, TIMEOUT_MS), "next_events");
        if (!n) bench_die("no delivery within %d ms after %ld", TIMEOUT_MS, received);
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            if (e->type != SWAMQP_EVENT_DELIVERY) {
                unexpected(e);
                continue;
            }
            const swamqp_message *m = e->message;
            if (m->body.len != a->size) bench_die("body of %zu bytes, expected %zu", m->body.len, a->size);
            if (m->delivery_tag <= last_tag) bench_die("delivery tags out of order");
            last_tag = m->delivery_tag;
            received++;
            if (!a->no_ack && (received % a->ack_every == 0 || received == a->count))
                check(swamqp_basic_ack(conn, ch, m->delivery_tag, SWAMQP_MULTIPLE, &err), "basic.ack");
        }
    }
    bench_stop(&c);
    bench_report(a, &c, received, NULL, 0, NULL);
    free(body);
}

static void run_roundtrip(const bench_args *a) {
    unsigned char *body = bench_body(a->size);
    check(swamqp_basic_consume(conn, ch, queue, B(""), SWAMQP_NO_ACK, NULL, NULL, TIMEOUT_MS, &err), "basic.consume");
    double *lat = malloc(sizeof(double) * (size_t)a->count);
    if (!lat) bench_die("out of memory");
    bench_clock c;
    for (long i = -a->warmup; i < a->count; i++) {
        if (i == 0) bench_start(&c);
        double t0 = bench_now();
        publish(body, a->size, NULL);
        int got = 0;
        while (!got) {
            size_t n = 0;
            check(swamqp_next_events(conn, events, BATCH, &n, TIMEOUT_MS), "next_events");
            if (!n) bench_die("no delivery within %d ms", TIMEOUT_MS);
            for (size_t k = 0; k < n; k++) {
                if (events[k].type != SWAMQP_EVENT_DELIVERY) {
                    unexpected(&events[k]);
                    continue;
                }
                if (events[k].message->body.len != a->size) bench_die("body of %zu bytes", events[k].message->body.len);
                got++;
            }
        }
        if (got != 1) bench_die("%d deliveries for one publish", got);
        if (i >= 0) lat[i] = bench_now() - t0;
    }
    bench_stop(&c);
    bench_report(a, &c, a->count, lat, (size_t)a->count, NULL);
    free(lat);
    free(body);
}

int main(int argc, char **argv) {
    bench_args a;
    bench_parse_args(&a, "swiftamqp-c", argc, argv);
    setup(&a);
    if (!strcmp(a.workload, "publish")) run_publish(&a);
    else if (!strcmp(a.workload, "confirm")) run_confirm(&a);
    else if (!strcmp(a.workload, "consume")) run_consume(&a);
    else if (!strcmp(a.workload, "roundtrip")) run_roundtrip(&a);
    else bench_usage(argv[0]);
    swamqp_connection_close(conn, 5000, NULL);
    swamqp_connection_free(conn);
    return 0;
}
