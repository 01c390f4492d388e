/*
 * c_large: bodies of any size against the real broker.
 *
 * - a 16 MiB message round-trips intact through a consumer (DELIVERY) and through basic.get;
 * - bodies around frame boundaries (frame_max 4096: 0, 1, 4087, 4088, 4089, 8176, 8177, 100000
 *   bytes) arrive intact, with the body frame count the split rule implies (stats.frames_out);
 * - a consumer whose max_message_size is 1 MiB that is sent a 2 MiB message: its connection closes
 *   with SWAMQP_ERR_MESSAGE_TOO_LARGE (a library error) and the process lives.
 */
#include "event_util.h"

#define T_MS 10000
#define BIG (16u * 1024 * 1024)

static uint8_t pattern_byte(size_t i, unsigned salt)
{
    return (uint8_t)((i * 2654435761u) >> 13 ^ i ^ salt);
}

static uint8_t *make_body(size_t len, unsigned salt)
{
    uint8_t *b = malloc(len ? len : 1);
    CHECK(b != NULL, "malloc(%zu)", len);
    for (size_t i = 0; i < len; i++)
        b[i] = pattern_byte(i, salt);
    return b;
}

static void check_body(swamqp_bytes got, size_t len, unsigned salt, const char *what)
{
    CHECK(got.len == len, "%s: body of %zu bytes, expected %zu", what, got.len, len);
    CHECK(len == 0 || got.bytes != NULL, "%s: NULL body", what);
    const uint8_t *p = got.bytes;
    for (size_t i = 0; i < len; i++)
        if (p[i] != pattern_byte(i, salt))
            FAILF("%s: byte %zu of %zu is 0x%02x, expected 0x%02x", what, i, len, p[i], pattern_byte(i, salt));
}

static void test_16mib(void)
{
    swamqp_error err;
    swamqp_connection *conn = tu_connect();
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    uint8_t *body = make_body(BIG, 1);
    swamqp_properties p;
    memset(&p, 0, sizeof p);
    p.flags = SWAMQP_PROP_MESSAGE_ID;
    p.message_id = tu_b("sixteen");

    int64_t t0 = tu_now_ms();
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, &p, tu_bn(body, BIG), NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, &p, tu_bn(body, BIG), NULL, T_MS, &err), &err);

    /* through a consumer */
    uint16_t cch = tu_channel(conn);
    CHECK_OK(swamqp_basic_qos(conn, cch, 0, 1, 0, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_consume(conn, cch, q, tu_b("big"), 0, NULL, NULL, T_MS, &err), &err);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_DELIVERY, cch, 30000);
    check_body(e->message->body, BIG, 1, "16 MiB delivery");
    CHECK_BYTES(e->message->properties.message_id, "sixteen");
    uint64_t tag = e->message->delivery_tag;
    CHECK_OK(swamqp_basic_cancel(conn, cch, tu_b("big"), 0, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_ack(conn, cch, tag, 0, &err), &err);
    fprintf(stderr, "16 MiB published twice and consumed once in %lld ms\n", (long long)(tu_now_ms() - t0));
    CHECK_OK(swamqp_channel_close(conn, cch, T_MS, &err), &err);

    /* through basic.get (the second copy; the closed channel may have requeued nothing: it acked) */
    swamqp_message *m = tu_get(conn, ch, q, SWAMQP_NO_ACK, 10000);
    CHECK(m != NULL, "basic.get of the second 16 MiB message: empty");
    check_body(m->body, BIG, 1, "16 MiB basic.get");
    swamqp_message_free(m);
    free(body);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fprintf(stderr, "16 MiB: OK\n");
}

static void test_frame_boundaries(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    tu_options_from_env(&options);
    options.frame_max = 4096;
    swamqp_connection *conn = tu_connect_with(&options);
    uint16_t cm, hb;
    uint32_t fm;
    CHECK_OK(swamqp_connection_tune(conn, &cm, &fm, &hb), NULL);
    CHECK(fm == 4096, "negotiated frame_max %" PRIu32 ", expected 4096", fm);
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    CHECK_OK(swamqp_basic_consume(conn, ch, q, tu_b("sizes"), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);
    static const size_t sizes[] = {0, 1, 4087, 4088, 4089, 8176, 8177, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len = sizes[i];
        uint8_t *body = make_body(len, (unsigned)i);
        swamqp_stats before, after;
        CHECK_OK(swamqp_connection_stats(conn, &before), NULL);
        CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, NULL, tu_bn(body, len), NULL, T_MS, &err), &err);
        char what[64];
        snprintf(what, sizeof what, "%zu-byte body at frame_max 4096", len);
        const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_DELIVERY, ch, T_MS);
        check_body(e->message->body, len, (unsigned)i, what);
        /* The delivery came back, so the publish's frames were written: count them. */
        CHECK_OK(swamqp_connection_stats(conn, &after), NULL);
        uint64_t body_frames = (len + 4087) / 4088; /* frame_max - 8 per body frame; none for an empty body */
        /* frames_out may also count a heartbeat sent meanwhile: allow at most one more. */
        uint64_t frames = after.frames_out - before.frames_out;
        CHECK(frames == 2 + body_frames || frames == 3 + body_frames,
              "a %zu-byte publish at frame_max 4096 wrote %" PRIu64 " frames, expected 2 + %" PRIu64, len, frames,
              body_frames);
        uint64_t in = after.frames_in - before.frames_in;
        CHECK(in == 2 + body_frames || in == 3 + body_frames,
              "a %zu-byte delivery at frame_max 4096 read %" PRIu64 " frames, expected 2 + %" PRIu64, len, in,
              body_frames);
        free(body);
    }
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fprintf(stderr, "frame boundaries: OK\n");
}

static void test_max_message_size(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    tu_options_from_env(&options);
    options.max_message_size = 1024 * 1024;
    swamqp_connection *small = tu_connect_with(&options);
    swamqp_connection *pub = tu_connect();
    char qbuf[256];
    uint16_t ch = tu_channel(small);
    const swamqp_bytes q = tu_temp_queue(small, ch, qbuf);
    CHECK_OK(swamqp_basic_consume(small, ch, q, tu_b(""), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);
    uint16_t pch = tu_channel(pub);
    uint8_t *body = make_body(1024 * 1024, 3);
    /* exactly the limit is fine */
    CHECK_OK(swamqp_basic_publish(pub, pch, tu_b(""), q, 0, NULL, tu_bn(body, 1024 * 1024), NULL, T_MS, &err), &err);
    const swamqp_event *e = ev_wait(small, SWAMQP_EVENT_DELIVERY, ch, T_MS);
    check_body(e->message->body, 1024 * 1024, 3, "a body of exactly max_message_size");
    free(body);
    body = make_body(2 * 1024 * 1024, 4);
    CHECK_OK(swamqp_basic_publish(pub, pch, tu_b(""), q, 0, NULL, tu_bn(body, 2 * 1024 * 1024), NULL, T_MS, &err),
             &err);
    free(body);
    int64_t deadline = tu_now_ms() + T_MS;
    for (;;) {
        CHECK(tu_now_ms() < deadline, "no CONNECTION_CLOSED after a body above max_message_size");
        e = ev_next(small, 200);
        if (e == NULL || e->type == SWAMQP_EVENT_LOG || e->type == SWAMQP_EVENT_CHANNEL_CLOSED)
            continue;
        CHECK(e->type == SWAMQP_EVENT_CONNECTION_CLOSED, "got %s (a 2 MiB delivery over a 1 MiB limit?)",
              ev_type_name(e->type));
        CHECK(e->status == SWAMQP_ERR_MESSAGE_TOO_LARGE, "closed with %s, expected SWAMQP_ERR_MESSAGE_TOO_LARGE: %s",
              swamqp_status_string(e->status), e->error ? tu_err_text(e->error) : "");
        CHECK(e->error && e->error->origin == SWAMQP_ORIGIN_LIBRARY, "origin %d", e->error ? (int)e->error->origin : -1);
        fprintf(stderr, "max_message_size: %s\n", tu_err_text(e->error));
        break;
    }
    CHECK(!swamqp_connection_is_open(small), "still open after MESSAGE_TOO_LARGE");
    CHECK(swamqp_connection_is_open(pub), "the publisher's connection closed");
    CHECK_OK(swamqp_connection_free(small), NULL);
    CHECK_OK(swamqp_connection_close(pub, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(pub), NULL);
    fprintf(stderr, "max_message_size: OK\n");
}

int main(void)
{
    test_16mib();
    test_frame_boundaries();
    test_max_message_size();
    printf("c_large: OK\n");
    return 0;
}
