/*
 * c_limits: a no-ack consumer whose application stops draining keeps memory within its limit.
 *
 * A consumer connection with event_queue_limit 1 MiB consumes with NO_ACK; a second connection
 * publishes (with confirms) 300 messages of 64 KiB (about 19 MiB) to its queue. While the consumer
 * does not drain, swamqp_connection_stats().events_queued_bytes is sampled for 3 s and must stay
 * within the limit plus one message (each event counted as its body plus a fixed overhead, allowed
 * here up to 4 KiB), and the consumer stops reading: its bytes_in stays near the limit (one read
 * past it at most), the rest waiting in the kernels' socket buffers and at the broker. (Where it
 * waits is not ours to check: receive buffers autotune to tens of MiB here, and RabbitMQ's credit
 * flow lets a queue hand a no-ack consumer's channel hundreds of messages ahead, so its queue may be
 * empty.) Then the application drains: every message arrives exactly once, in order, and the
 * gauge drops back under one message.
 */
#include "event_util.h"

#define T_MS 10000
#define LIMIT (1024u * 1024)
#define MSG (64u * 1024)
#define COUNT 300
#define OVERHEAD_ALLOWANCE 4096u

int main(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    tu_options_from_env(&options);
    options.event_queue_limit = LIMIT;
    options.connection_name = "swiftamqp Tests/C c_limits consumer";
    swamqp_connection *consumer = tu_connect_with(&options);
    swamqp_connection *pub = tu_connect();

    char q[256];
    tu_unique_name(q, sizeof q, "c_limits", "q");
    /* Not exclusive: the publisher's connection must see its count (a passive declare on another
     * connection's exclusive queue is refused). x-expires removes it should the test fail. */
    swamqp_table_entry expires;
    memset(&expires, 0, sizeof expires);
    expires.key = tu_b("x-expires");
    expires.value.kind = SWAMQP_FIELD_I32;
    expires.value.value.i32 = 120000;
    swamqp_table args = {1, &expires};
    uint16_t ch = tu_channel(consumer);
    CHECK_OK(swamqp_queue_declare(consumer, ch, tu_b(q), SWAMQP_DURABLE, &args, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_consume(consumer, ch, tu_b(q), tu_b("limits"), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);

    uint16_t pch = tu_channel(pub);
    CHECK_OK(swamqp_confirm_select(pub, pch, T_MS, &err), &err);
    uint8_t *body = malloc(MSG);
    CHECK(body != NULL, "malloc");
    for (uint32_t i = 0; i < COUNT; i++) {
        memset(body, (int)(i & 0xff), MSG);
        memcpy(body, &i, sizeof i);
        CHECK_OK(swamqp_basic_publish(pub, pch, tu_b(""), tu_b(q), 0, NULL, tu_bn(body, MSG), NULL, T_MS, &err), &err);
    }
    CHECK_OK(swamqp_wait_for_confirms(pub, pch, 30000, &err), &err);

    /* The consumer application is busy: sample the gauge without draining. */
    const uint64_t bound = LIMIT + MSG + OVERHEAD_ALLOWANCE;
    uint64_t max_seen = 0;
    for (int i = 0; i < 30; i++) {
        swamqp_stats st;
        CHECK_OK(swamqp_connection_stats(consumer, &st), NULL);
        if (st.events_queued_bytes > max_seen)
            max_seen = st.events_queued_bytes;
        CHECK(st.events_queued_bytes <= bound,
              "events_queued_bytes %" PRIu64 " exceeds limit %u + one message %u (+%u overhead) while not draining",
              st.events_queued_bytes, LIMIT, MSG, OVERHEAD_ALLOWANCE);
        tu_sleep_ms(100);
    }
    fprintf(stderr, "while not draining: events_queued_bytes at most %" PRIu64 " (limit %u)\n", max_seen, LIMIT);
    CHECK(max_seen >= LIMIT / 2, "events_queued_bytes only reached %" PRIu64 ": the gauge does not count deliveries?",
          max_seen);
    swamqp_stats paused;
    CHECK_OK(swamqp_connection_stats(consumer, &paused), NULL);
    /* the limit, the message that crossed it, one read of up to 64 KiB, and the handshake */
    const uint64_t read_bound = LIMIT + 2 * MSG + 64 * 1024 + 16 * 1024;
    fprintf(stderr, "the consumer read %" PRIu64 " bytes of about %d (the broker's queue holds %" PRIu32 ")\n",
            paused.bytes_in, COUNT * MSG, tu_queue_count(pub, pch, tu_b(q)));
    CHECK(paused.bytes_in <= read_bound,
          "the consumer read %" PRIu64 " bytes (bound %" PRIu64 "): it kept reading while its application did not drain",
          paused.bytes_in, read_bound);

    /* Drain everything: each message once, in order. */
    uint32_t next = 0;
    int64_t deadline = tu_now_ms() + 60000;
    swamqp_event events[64];
    while (next < COUNT) {
        CHECK(tu_now_ms() < deadline, "drained %" PRIu32 " of %d messages in 60 s", next, COUNT);
        size_t n = 0;
        CHECK_OK(swamqp_next_events(consumer, events, 64, &n, 500), NULL);
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            if (e->type == SWAMQP_EVENT_LOG)
                continue;
            CHECK(e->type == SWAMQP_EVENT_DELIVERY, "unexpected %s while draining", ev_type_name(e->type));
            CHECK(e->message->body.len == MSG, "delivery of %zu bytes", e->message->body.len);
            uint32_t id;
            memcpy(&id, e->message->body.bytes, sizeof id);
            CHECK(id == next, "delivery %" PRIu32 " where %" PRIu32 " was expected (lost or duplicated)", id, next);
            const uint8_t *b = e->message->body.bytes;
            CHECK(b[MSG - 1] == (uint8_t)(id & 0xff), "message %" PRIu32 " corrupted", id);
            next++;
        }
        swamqp_stats st;
        CHECK_OK(swamqp_connection_stats(consumer, &st), NULL);
        CHECK(st.events_queued_bytes <= bound, "events_queued_bytes %" PRIu64 " while draining", st.events_queued_bytes);
    }
    CHECK_OK(swamqp_events_release(consumer), NULL);
    ev_expect_quiet(consumer, 300);
    swamqp_stats st;
    CHECK_OK(swamqp_connection_stats(consumer, &st), NULL);
    CHECK(st.events_queued_bytes < MSG, "events_queued_bytes %" PRIu64 " after draining everything",
          st.events_queued_bytes);
    CHECK(st.deliveries == COUNT, "stats.deliveries %" PRIu64, st.deliveries);
    CHECK(tu_queue_count(pub, pch, tu_b(q)) == 0, "messages left in the queue");
    free(body);
    CHECK_OK(swamqp_queue_delete(pub, pch, tu_b(q), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(consumer, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(pub, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(consumer), NULL);
    CHECK_OK(swamqp_connection_free(pub), NULL);
    printf("c_limits: OK\n");
    return 0;
}
