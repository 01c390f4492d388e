/*
 * librabbitmq's side of bench/codec (run it through bench/codec/run, which prints both sides).
 *
 * The message (the same bytes as bench/codec/Swift/main.swift builds): basic.deliver on channel 1
 * (31-byte consumer tag, exchange "bench.exchange", routing key "bench.routing.key"), a content
 * header with content-type, delivery-mode, message-id and timestamp, and a 16-byte body; and the
 * same as a basic.publish. Operations, each timed over ITER iterations, ROUNDS times (the best round):
 *
 *   decode            amqp_decode_method(basic.deliver) + amqp_decode_properties + the body as a
 *                     pointer into the frame, the pool recycled per message
 *   decode+headers    the same with a 3-entry headers table
 *   encode-method     amqp_encode_method(basic.publish) into a reused buffer
 *   encode-frames     method, header and body frames into a reused buffer, as amqp_send_frame
 *                     lays them out (amqp_encode_method + amqp_encode_properties + frame headers)
 *
 * Prints "op ns/op allocs/op" lines, and "bytes-publish HEX" for the comparison of encodings.
 */
#define _GNU_SOURCE
#include <amqp.h>
#include <amqp_framing.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t (*alloc_count)(void);
static volatile uint64_t sink;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void w32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }
static void w64(uint8_t *p, uint64_t v) { w32(p, (uint32_t)(v >> 32)); w32(p + 4, (uint32_t)v); }
static uint16_t r16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t r32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t r64(const uint8_t *p) { return (uint64_t)r32(p) << 32 | r32(p + 4); }

static const uint8_t body16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static amqp_basic_properties_t properties(amqp_table_entry_t *headers, int nheaders) {
    amqp_basic_properties_t p;
    memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
               AMQP_BASIC_TIMESTAMP_FLAG;
    p.content_type = amqp_cstring_bytes("application/octet-stream");
    p.delivery_mode = 2;
    p.message_id = amqp_cstring_bytes("msg-00000001");
    p.timestamp = 1700000000;
    if (nheaders) {
        p._flags |= AMQP_BASIC_HEADERS_FLAG;
        p.headers.num_entries = nheaders;
        p.headers.entries = headers;
    }
    return p;
}

/* method frame + header frame + body frame, as amqp_send_frame writes them. Returns the length. */
static size_t encode_frames(uint8_t *out, uint16_t channel, amqp_method_number_t id, void *method,
                            amqp_basic_properties_t *props, const uint8_t *body, size_t body_len) {
    size_t at = 0;
    out[at] = AMQP_FRAME_METHOD;
    w16(out + at + 1, channel);
    w32(out + at + 7, id);
    amqp_bytes_t args = {65536, out + at + 11};
    int n = amqp_encode_method(id, method, args);
    if (n < 0) abort();
    w32(out + at + 3, (uint32_t)n + 4);
    out[at + 11 + n] = AMQP_FRAME_END;
    at += 12 + (size_t)n;

    out[at] = AMQP_FRAME_HEADER;
    w16(out + at + 1, channel);
    w16(out + at + 7, AMQP_BASIC_CLASS);
    w16(out + at + 9, 0);
    w64(out + at + 11, body_len);
    amqp_bytes_t pb = {65536, out + at + 19};
    n = amqp_encode_properties(AMQP_BASIC_CLASS, props, pb);
    if (n < 0) abort();
    w32(out + at + 3, (uint32_t)n + 12);
    out[at + 19 + n] = AMQP_FRAME_END;
    at += 20 + (size_t)n;

    out[at] = AMQP_FRAME_BODY;
    w16(out + at + 1, channel);
    w32(out + at + 3, (uint32_t)body_len);
    memcpy(out + at + 7, body, body_len);
    out[at + 7 + body_len] = AMQP_FRAME_END;
    at += 8 + body_len;
    return at;
}

struct stream {
    uint8_t bytes[4096];
    size_t method_at, method_len, header_at, header_len, body_at, body_len;
};

static void deliver_stream(struct stream *s, int with_headers, amqp_table_entry_t *headers) {
    amqp_basic_deliver_t d;
    memset(&d, 0, sizeof d);
    d.consumer_tag = amqp_cstring_bytes("amq.ctag-Xv3Fz8Gm1lJ4Y0kqE2pTdA");
    d.delivery_tag = 123456789;
    d.redelivered = 0;
    d.exchange = amqp_cstring_bytes("bench.exchange");
    d.routing_key = amqp_cstring_bytes("bench.routing.key");
    amqp_basic_properties_t p = properties(headers, with_headers ? 3 : 0);
    size_t total = encode_frames(s->bytes, 1, AMQP_BASIC_DELIVER_METHOD, &d, &p, body16, sizeof body16);
    size_t at = 0;
    s->method_at = at + 7;
    s->method_len = r32(s->bytes + at + 3);
    at += 8 + s->method_len;
    s->header_at = at + 7;
    s->header_len = r32(s->bytes + at + 3);
    at += 8 + s->header_len;
    s->body_at = at + 7;
    s->body_len = r32(s->bytes + at + 3);
    at += 8 + s->body_len;
    if (at != total) abort();
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#define ROUNDS 7

static void report(const char *name, uint64_t ns[ROUNDS], long iterations, uint64_t allocs) {
    qsort(ns, ROUNDS, sizeof ns[0], cmp_u64);
    printf("%s %.1f ", name, (double)ns[0] / (double)iterations); /* the best round */
    if (alloc_count) printf("%.3f\n", (double)allocs / (double)iterations / ROUNDS);
    else printf("n/a\n");
}

static uint64_t allocs_now(void) { return alloc_count ? alloc_count() : 0; }

static const char *only;
static int skip(const char *name) { return only && strcmp(only, name) != 0; }

static void bench_decode(const char *name, const struct stream *s, long iterations) {
    if (skip(name)) return;
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    uint64_t ns[ROUNDS], allocs = 0, sum = 0;
    for (int round = -1; round < ROUNDS; round++) { /* round -1 warms up */
        uint64_t a0 = allocs_now(), t0 = now_ns();
        for (long i = 0; i < iterations; i++) {
            const uint8_t *m = s->bytes + s->method_at;
            amqp_method_number_t id = r32(m);
            amqp_bytes_t args = {s->method_len - 4, (void *)(m + 4)};
            void *method = NULL;
            if (amqp_decode_method(id, &pool, args, &method) != 0) abort();
            const uint8_t *h = s->bytes + s->header_at;
            uint16_t class_id = r16(h);
            uint64_t body_size = r64(h + 4);
            amqp_bytes_t props = {s->header_len - 12, (void *)(h + 12)};
            void *decoded = NULL;
            if (amqp_decode_properties(class_id, &pool, props, &decoded) != 0) abort();
            amqp_bytes_t body = {s->body_len, (void *)(s->bytes + s->body_at)};
            sum += ((amqp_basic_deliver_t *)method)->delivery_tag + ((amqp_basic_properties_t *)decoded)->delivery_mode +
                   body.len + body_size;
            recycle_amqp_pool(&pool);
        }
        uint64_t t1 = now_ns(), a1 = allocs_now();
        if (round >= 0) {
            ns[round] = t1 - t0;
            allocs += a1 - a0;
        }
    }
    empty_amqp_pool(&pool);
    sink += sum;
    report(name, ns, iterations, allocs);
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 2000000;
    alloc_count = (uint64_t(*)(void))dlsym(RTLD_DEFAULT, "bench_alloc_count");
    only = getenv("BENCH_ONLY");

    amqp_table_entry_t headers[3];
    memset(headers, 0, sizeof headers);
    headers[0].key = amqp_cstring_bytes("x-retry");
    headers[0].value.kind = AMQP_FIELD_KIND_I32;
    headers[0].value.value.i32 = 3;
    headers[1].key = amqp_cstring_bytes("trace-id");
    headers[1].value.kind = AMQP_FIELD_KIND_UTF8;
    headers[1].value.value.bytes = amqp_cstring_bytes("4bf92f3577b34da6a3ce929d0e0e4736");
    headers[2].key = amqp_cstring_bytes("x-first-seen");
    headers[2].value.kind = AMQP_FIELD_KIND_TIMESTAMP;
    headers[2].value.value.u64 = 1700000000;

    static struct stream plain, with_headers;
    deliver_stream(&plain, 0, headers);
    deliver_stream(&with_headers, 1, headers);
    printf("version librabbitmq %s\n", amqp_version());
    printf("bytes-deliver ");
    for (size_t i = 0; i < plain.body_at + plain.body_len + 1; i++) printf("%02x", plain.bytes[i]);
    printf("\n");

    bench_decode("decode", &plain, iterations);
    bench_decode("decode+headers", &with_headers, iterations);

    amqp_basic_publish_t pub;
    memset(&pub, 0, sizeof pub);
    pub.exchange = amqp_cstring_bytes("bench.exchange");
    pub.routing_key = amqp_cstring_bytes("bench.routing.key");
    amqp_basic_properties_t props = properties(NULL, 0);
    static uint8_t out[65536 * 3];

    uint64_t ns[ROUNDS], allocs = 0, sum = 0;
    for (int round = -1; round < ROUNDS && !skip("encode-method"); round++) {
        uint64_t a0 = allocs_now(), t0 = now_ns();
        for (long i = 0; i < iterations; i++) {
            amqp_bytes_t e = {sizeof out, out};
            int n = amqp_encode_method(AMQP_BASIC_PUBLISH_METHOD, &pub, e);
            sum += (uint64_t)n + out[n - 1];
        }
        uint64_t t1 = now_ns(), a1 = allocs_now();
        if (round >= 0) { ns[round] = t1 - t0; allocs += a1 - a0; }
    }
    if (!skip("encode-method")) report("encode-method", ns, iterations, allocs);

    allocs = 0;
    for (int round = -1; round < ROUNDS && !skip("encode-frames"); round++) {
        uint64_t a0 = allocs_now(), t0 = now_ns();
        for (long i = 0; i < iterations; i++) {
            size_t n = encode_frames(out, 1, AMQP_BASIC_PUBLISH_METHOD, &pub, &props, body16, sizeof body16);
            sum += n + out[n / 2];
        }
        uint64_t t1 = now_ns(), a1 = allocs_now();
        if (round >= 0) { ns[round] = t1 - t0; allocs += a1 - a0; }
    }
    if (!skip("encode-frames")) report("encode-frames", ns, iterations, allocs);
    size_t n = encode_frames(out, 1, AMQP_BASIC_PUBLISH_METHOD, &pub, &props, body16, sizeof body16);
    printf("bytes-publish ");
    for (size_t i = 0; i < n; i++) printf("%02x", out[i]);
    printf("\n");
    sink += sum;
    return 0;
}
