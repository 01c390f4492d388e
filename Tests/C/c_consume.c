/*
 * c_consume: consumers and acknowledgements against the real broker.
 *
 * - basic.consume with our own tag and with a server tag (amq.ctag-...), NOWAIT with a tag, the
 *   _async form (completion name = tag), NO_LOCAL, EXCLUSIVE (a second consumer is refused with 403),
 *   arguments (x-priority); delivery fields (tag, exchange, routing key, redelivered, properties);
 * - basic.qos prefetch_count holds back deliveries until acks (single, then MULTIPLE); qos_async, GLOBAL;
 * - basic.nack (REQUEUE → redelivered; MULTIPLE without REQUEUE → dropped), basic.reject (REQUEUE,
 *   and without → dropped), basic.recover (REQUEUE) and recover_async redeliver unacked messages;
 * - NO_ACK consumer; basic.cancel (blocking, NOWAIT, _async): afterwards messages stay in the queue;
 * - a server-sent basic.cancel when the queue is deleted under the consumer → CONSUMER_CANCELLED;
 * - deliveries through swamqp_set_event_callback + swamqp_dispatch_events;
 * - swamqp_deliveries_pack: each record equals its delivery (fields, strings, body, encoded
 *   properties), a buffer too
 *   small for the first record packs nothing;
 * - a consumer with heartbeat 1 s survives while the application sleeps for 3.5 heartbeat intervals,
 *   and then gets every message published meanwhile.
 */
#include "event_util.h"

#define T_MS 5000

/* Waits for the next delivery on `ch`; checks its body. Returns the event (valid until the next ev_*). */
static const swamqp_event *expect_delivery(swamqp_connection *conn, uint16_t ch, const char *body)
{
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_DELIVERY, ch, T_MS);
    CHECK(e->message != NULL, "DELIVERY event without a message");
    CHECK(e->message->channel == ch, "delivery message.channel %u, expected %u", e->message->channel, ch);
    if (body)
        CHECK_BYTES(e->message->body, body);
    CHECK(e->message->delivery_tag > 0, "delivery tag 0");
    return e;
}

static void publish_n(swamqp_connection *conn, uint16_t ch, swamqp_bytes q, const char *prefix, int n)
{
    for (int i = 0; i < n; i++) {
        char body[64];
        snprintf(body, sizeof body, "%s%d", prefix, i);
        tu_publish(conn, ch, "", q, body);
    }
}

static void test_tags_and_fields(swamqp_connection *conn)
{
    swamqp_error err;
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);

    /* our own tag */
    swamqp_name tag;
    memset(&tag, 0x5a, sizeof tag);
    CHECK_OK(swamqp_basic_consume(conn, ch, q, tu_b("my-tag"), SWAMQP_NO_ACK, NULL, &tag, T_MS, &err), &err);
    CHECK(tag.len == 6 && strcmp(tag.name, "my-tag") == 0, "own consumer tag came back as \"%.*s\" (%zu)",
          (int)(tag.len < 256 ? tag.len : 0), tag.name, tag.len);

    swamqp_properties props;
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_CORRELATION_ID | SWAMQP_PROP_PRIORITY;
    props.correlation_id = tu_b("corr-1");
    props.priority = 7;
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, &props, tu_b("fields"), NULL, T_MS, &err), &err);
    const swamqp_event *e = expect_delivery(conn, ch, "fields");
    const swamqp_message *m = e->message;
    CHECK_BYTES(m->consumer_tag, "my-tag");
    CHECK_BYTES(m->exchange, "");
    CHECK_BYTES(m->routing_key, qbuf);
    CHECK(!m->redelivered, "a first delivery is marked redelivered");
    CHECK(m->properties.flags == (SWAMQP_PROP_CORRELATION_ID | SWAMQP_PROP_PRIORITY), "properties flags 0x%x",
          m->properties.flags);
    CHECK_BYTES(m->properties.correlation_id, "corr-1");
    CHECK(m->properties.priority == 7, "priority %u", m->properties.priority);
    uint64_t first_tag = m->delivery_tag;
    tu_publish(conn, ch, "", q, "second");
    e = expect_delivery(conn, ch, "second");
    CHECK(e->message->delivery_tag == first_tag + 1, "delivery tags %" PRIu64 " then %" PRIu64, first_tag,
          e->message->delivery_tag);
    CHECK_OK(swamqp_basic_cancel(conn, ch, tu_b("my-tag"), 0, T_MS, &err), &err);

    /* a server tag */
    memset(&tag, 0x5a, sizeof tag);
    CHECK_OK(swamqp_basic_consume(conn, ch, q, tu_b(""), SWAMQP_NO_ACK, NULL, &tag, T_MS, &err), &err);
    CHECK(tag.len > 9 && tag.len < 256 && strncmp(tag.name, "amq.ctag-", 9) == 0 && strlen(tag.name) == tag.len,
          "server consumer tag \"%.*s\" (%zu)", (int)(tag.len < 256 ? tag.len : 0), tag.name, tag.len);
    tu_publish(conn, ch, "", q, "server-tag");
    e = expect_delivery(conn, ch, "server-tag");
    CHECK(tu_bytes_eq_n(e->message->consumer_tag, tag.name, tag.len), "delivery consumer_tag %s, expected %s",
          tu_show(e->message->consumer_tag), tag.name);
    /* cancel with NOWAIT */
    CHECK_OK(swamqp_basic_cancel(conn, ch, tu_bn(tag.name, tag.len), SWAMQP_NOWAIT, T_MS, &err), &err);
    tu_publish(conn, ch, "", q, "after-cancel");
    WAIT_QUEUE_COUNT(conn, ch, q, 1);
    ev_expect_quiet(conn, 300);

    /* _async with NO_LOCAL (RabbitMQ accepts and ignores it) and arguments (x-priority) */
    swamqp_table_entry arg;
    memset(&arg, 0, sizeof arg);
    arg.key = tu_b("x-priority");
    arg.value.kind = SWAMQP_FIELD_I32;
    arg.value.value.i32 = 5;
    swamqp_table args = {1, &arg};
    uint64_t rid = 0;
    CHECK_OK(swamqp_basic_consume_async(conn, ch, q, tu_b(""), SWAMQP_NO_ACK | SWAMQP_NO_LOCAL, &args, &rid, &err),
             &err);
    e = ev_completion(conn, rid, SWAMQP_OK, T_MS);
    char async_tag[256];
    CHECK(e->name.len > 9 && e->name.len < 256, "consume_async completion name %s", tu_show(e->name));
    memcpy(async_tag, e->name.bytes, e->name.len);
    async_tag[e->name.len] = '\0';
    CHECK(e->channel == ch, "consume_async completion channel %u", e->channel);
    e = expect_delivery(conn, ch, "after-cancel");
    CHECK_BYTES(e->message->consumer_tag, async_tag);
    CHECK_OK(swamqp_basic_cancel_async(conn, ch, tu_b(async_tag), 0, &rid, &err), &err);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);

    /* NOWAIT consume with a tag */
    CHECK_OK(swamqp_basic_consume(conn, ch, q, tu_b("nowait-tag"), SWAMQP_NO_ACK | SWAMQP_NOWAIT, NULL, &tag, T_MS,
                                  &err),
             &err);
    CHECK(strcmp(tag.name, "nowait-tag") == 0, "NOWAIT consume tag \"%s\"", tag.name);
    tu_publish(conn, ch, "", q, "nowait");
    e = expect_delivery(conn, ch, "nowait");
    CHECK_BYTES(e->message->consumer_tag, "nowait-tag");
    CHECK_OK(swamqp_basic_cancel(conn, ch, tu_b("nowait-tag"), 0, T_MS, &err), &err);

    /* EXCLUSIVE: a second consumer on the queue (another channel) is refused with 403 */
    CHECK_OK(swamqp_basic_consume(conn, ch, q, tu_b("excl"), SWAMQP_EXCLUSIVE, NULL, NULL, T_MS, &err), &err);
    uint16_t ch2 = tu_channel(conn);
    CHECK_STATUS(swamqp_basic_consume(conn, ch2, q, tu_b("second"), 0, NULL, NULL, T_MS, &err),
                 SWAMQP_ERR_CHANNEL_CLOSED, &err);
    CHECK(err.reply_code == 403 && err.origin == SWAMQP_ORIGIN_BROKER, "second consumer on an exclusive one: reply %u",
          err.reply_code);
    e = ev_wait_broker_close(conn, ch2, T_MS);
    CHECK(e->error && e->error->reply_code == 403, "CHANNEL_CLOSED event reply %u", e->error ? e->error->reply_code : 0);
    CHECK_OK(swamqp_basic_cancel(conn, ch, tu_b("excl"), 0, T_MS, &err), &err);
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    fprintf(stderr, "tags and fields: OK\n");
}

static void test_qos_and_acks(swamqp_connection *conn)
{
    swamqp_error err;
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    publish_n(conn, ch, q, "q", 5);
    WAIT_QUEUE_COUNT(conn, ch, q, 5);

    CHECK_OK(swamqp_basic_qos(conn, ch, 0, 2, 0, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_consume(conn, ch, q, tu_b("qos"), 0, NULL, NULL, T_MS, &err), &err);
    uint64_t t0 = expect_delivery(conn, ch, "q0")->message->delivery_tag;
    uint64_t t1 = expect_delivery(conn, ch, "q1")->message->delivery_tag;
    ev_expect_quiet(conn, 400); /* prefetch 2: nothing more until an ack */
    CHECK_OK(swamqp_basic_ack(conn, ch, t0, 0, &err), &err);
    uint64_t t2 = expect_delivery(conn, ch, "q2")->message->delivery_tag;
    ev_expect_quiet(conn, 300);
    CHECK_OK(swamqp_basic_ack(conn, ch, t2, SWAMQP_MULTIPLE, &err), &err); /* acks t1 and t2 */
    uint64_t t3 = expect_delivery(conn, ch, "q3")->message->delivery_tag;
    uint64_t t4 = expect_delivery(conn, ch, "q4")->message->delivery_tag;
    (void)t1;

    /* nack with REQUEUE: redelivered (to us again) */
    CHECK_OK(swamqp_basic_nack(conn, ch, t3, SWAMQP_REQUEUE, &err), &err);
    const swamqp_event *e = expect_delivery(conn, ch, "q3");
    CHECK(e->message->redelivered, "a nack-requeued message comes back without redelivered");
    uint64_t t3b = e->message->delivery_tag;
    /* reject with REQUEUE: redelivered */
    CHECK_OK(swamqp_basic_reject(conn, ch, t4, SWAMQP_REQUEUE, &err), &err);
    e = expect_delivery(conn, ch, "q4");
    CHECK(e->message->redelivered, "a reject-requeued message comes back without redelivered");
    uint64_t t4b = e->message->delivery_tag;
    /* nack MULTIPLE without REQUEUE: both dropped */
    CHECK_OK(swamqp_basic_nack(conn, ch, t4b > t3b ? t4b : t3b, SWAMQP_MULTIPLE, &err), &err);
    ev_expect_quiet(conn, 300);
    WAIT_QUEUE_COUNT(conn, ch, q, 0);

    /* reject without requeue drops one */
    tu_publish(conn, ch, "", q, "rejected");
    e = expect_delivery(conn, ch, "rejected");
    CHECK_OK(swamqp_basic_reject(conn, ch, e->message->delivery_tag, 0, &err), &err);
    ev_expect_quiet(conn, 300);
    WAIT_QUEUE_COUNT(conn, ch, q, 0);

    /* recover REQUEUE: unacked messages come back redelivered */
    tu_publish(conn, ch, "", q, "r1");
    expect_delivery(conn, ch, "r1");
    CHECK_OK(swamqp_basic_recover(conn, ch, SWAMQP_REQUEUE, T_MS, &err), &err);
    e = expect_delivery(conn, ch, "r1");
    CHECK(e->message->redelivered, "recover: redelivered flag not set");
    uint64_t rid = 0;
    CHECK_OK(swamqp_basic_recover_async(conn, ch, SWAMQP_REQUEUE, &rid, &err), &err);
    /* The redelivery and the completion may come in either order. */
    bool got_completion = false, got_delivery = false;
    int64_t deadline = tu_now_ms() + T_MS;
    uint64_t last_tag = 0;
    while (!(got_completion && got_delivery)) {
        CHECK(tu_now_ms() < deadline, "recover_async: completion %d, redelivery %d", got_completion, got_delivery);
        e = ev_next(conn, 200);
        if (e == NULL || e->type == SWAMQP_EVENT_LOG)
            continue;
        if (e->type == SWAMQP_EVENT_COMPLETION && e->request_id == rid) {
            CHECK(e->status == SWAMQP_OK, "recover_async completion %s", swamqp_status_string(e->status));
            got_completion = true;
        } else if (e->type == SWAMQP_EVENT_DELIVERY) {
            CHECK_BYTES(e->message->body, "r1");
            CHECK(e->message->redelivered, "recover_async: redelivered flag not set");
            last_tag = e->message->delivery_tag;
            got_delivery = true;
        } else {
            ev_describe("unexpected ", e);
            FAILF("unexpected event during recover_async");
        }
    }
    CHECK_OK(swamqp_basic_ack(conn, ch, last_tag, 0, &err), &err);

    /* qos_async with GLOBAL */
    CHECK_OK(swamqp_basic_qos_async(conn, ch, 0, 10, SWAMQP_GLOBAL, &rid, &err), &err);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);
    CHECK_OK(swamqp_basic_cancel(conn, ch, tu_b("qos"), 0, T_MS, &err), &err);
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    fprintf(stderr, "qos and acks: OK\n");
}

static void test_server_cancel(swamqp_connection *conn, swamqp_connection *other)
{
    swamqp_error err;
    char q[256];
    tu_unique_name(q, sizeof q, "c_consume", "cancelled");
    uint16_t ch = tu_channel(conn);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(q), SWAMQP_DURABLE, NULL, NULL, T_MS, &err), &err);
    swamqp_name tag;
    CHECK_OK(swamqp_basic_consume(conn, ch, tu_b(q), tu_b(""), 0, NULL, &tag, T_MS, &err), &err);
    uint16_t och = tu_channel(other);
    CHECK_OK(swamqp_queue_delete(other, och, tu_b(q), 0, NULL, T_MS, &err), &err);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_CONSUMER_CANCELLED, ch, T_MS);
    CHECK(tu_bytes_eq_n(e->name, tag.name, tag.len), "CONSUMER_CANCELLED name %s, expected %s", tu_show(e->name),
          tag.name);
    /* The channel stays open. */
    char qbuf[256];
    tu_temp_queue(conn, ch, qbuf);
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    fprintf(stderr, "server-sent cancel: OK\n");
}

static int callback_deliveries;
static char callback_bodies[8][32];
static void on_event(swamqp_connection *conn, const swamqp_event *e, void *user)
{
    (void)conn;
    CHECK(user == (void *)&callback_deliveries, "callback user_data %p", user);
    if (e->type == SWAMQP_EVENT_DELIVERY && callback_deliveries < 8) {
        CHECK(e->message && e->message->body.len < 32, "callback delivery body");
        memcpy(callback_bodies[callback_deliveries], e->message->body.bytes, e->message->body.len);
        callback_bodies[callback_deliveries][e->message->body.len] = '\0';
        callback_deliveries++;
    }
}

static void test_no_ack_and_callback(swamqp_connection *conn)
{
    swamqp_error err;
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    CHECK_OK(swamqp_basic_consume(conn, ch, q, tu_b("cb"), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);
    publish_n(conn, ch, q, "cb", 3);
    CHECK_OK(swamqp_set_event_callback(conn, on_event, &callback_deliveries), NULL);
    int64_t deadline = tu_now_ms() + T_MS;
    while (callback_deliveries < 3 && tu_now_ms() < deadline) {
        size_t n = 0;
        CHECK_OK(swamqp_dispatch_events(conn, 200, &n), NULL);
    }
    CHECK(callback_deliveries == 3, "callback got %d deliveries", callback_deliveries);
    for (int i = 0; i < 3; i++) {
        char want[8];
        snprintf(want, sizeof want, "cb%d", i);
        CHECK(strcmp(callback_bodies[i], want) == 0, "callback delivery %d: %s", i, callback_bodies[i]);
    }
    CHECK_OK(swamqp_set_event_callback(conn, NULL, NULL), NULL);
    WAIT_QUEUE_COUNT(conn, ch, q, 0); /* no-ack: nothing left unacked in the queue */
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    fprintf(stderr, "no-ack and callback: OK\n");
}

/* Checks the swamqp_deliveries_pack records of `events` against their messages; returns how many
 * deliveries there were. */
static int check_packed(const swamqp_event *events, size_t n)
{
    static unsigned char buf[1 << 16];
    size_t packed = 0, written = 0;
    swamqp_error err;
    CHECK_OK(swamqp_deliveries_pack(events, n, buf, sizeof buf, &packed, &written, &err), &err);
    CHECK(packed == n, "packed %zu of %zu events", packed, n);
    size_t off = 0;
    int deliveries = 0;
    for (size_t i = 0; i < n; i++) {
        if (events[i].type != SWAMQP_EVENT_DELIVERY)
            continue;
        const swamqp_message *m = events[i].message;
        uint32_t size, index, flags, lens[4], props_len;
        uint64_t tag, body_len;
        memcpy(&size, buf + off, 4);
        memcpy(&index, buf + off + 4, 4);
        memcpy(&tag, buf + off + 8, 8);
        memcpy(&flags, buf + off + 20, 4);
        memcpy(lens, buf + off + 28, 16);
        memcpy(&props_len, buf + off + 44, 4);
        memcpy(&body_len, buf + off + 48, 8);
        CHECK(size % 8 == 0 && off + size <= written, "record %d: size %u at %zu of %zu", deliveries, size, off, written);
        CHECK(index == i && tag == m->delivery_tag && flags == m->properties.flags && buf[off + 26] == m->redelivered,
              "record %d: index %u tag %llu flags %u", deliveries, index, (unsigned long long)tag, flags);
        const swamqp_bytes strings[5] = {m->consumer_tag, m->exchange, m->routing_key, m->reply_text, m->body};
        size_t at = off + 56;
        for (int k = 0; k < 5; k++) {
            size_t len = k < 4 ? lens[k] : (size_t)body_len;
            CHECK(len == strings[k].len && (len == 0 || memcmp(buf + at, strings[k].bytes, len) == 0),
                  "record %d: string %d differs", deliveries, k);
            at += len;
        }
        /* the properties as swamqp_properties_encode writes them, only when there are any */
        unsigned char encoded[4096];
        size_t encoded_len = 0;
        if (flags)
            CHECK_OK(swamqp_properties_encode(&m->properties, encoded, sizeof encoded, &encoded_len, &err), &err);
        CHECK(props_len == encoded_len && memcmp(buf + at, encoded, encoded_len) == 0,
              "record %d: properties of %u bytes, encoded %zu", deliveries, props_len, encoded_len);
        CHECK(at + props_len <= off + size, "record %d: properties past the record", deliveries);
        off += size;
        deliveries++;
    }
    CHECK(off == written, "records end at %zu, written %zu", off, written);
    if (deliveries > 0) { /* a buffer too small for the first record stops before it */
        size_t first = 0;
        while (events[first].type != SWAMQP_EVENT_DELIVERY)
            first++;
        uint32_t size;
        memcpy(&size, buf, 4);
        CHECK_OK(swamqp_deliveries_pack(events, n, buf, size - 8, &packed, &written, &err), &err);
        CHECK(packed == first && written == 0, "a short buffer: packed %zu written %zu", packed, written);
    }
    return deliveries;
}

static void test_packed_deliveries(swamqp_connection *conn)
{
    swamqp_error err;
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    CHECK_OK(swamqp_basic_consume(conn, ch, q, tu_b("packed-consumer"), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);
    publish_n(conn, ch, q, "packed body ", 20);
    swamqp_properties props;
    memset(&props, 0, sizeof props);
    swamqp_table_entry header = {tu_b("x-kind"), {.kind = SWAMQP_FIELD_STRING}};
    header.value.value.bytes = tu_b("packed");
    props.flags = SWAMQP_PROP_CONTENT_TYPE | SWAMQP_PROP_HEADERS | SWAMQP_PROP_TIMESTAMP;
    props.content_type = tu_b("text/plain");
    props.headers.count = 1;
    props.headers.entries = &header;
    props.timestamp = 1700000000;
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, &props, tu_b("with properties"), NULL, T_MS, &err), &err);
    int got = 0;
    int64_t deadline = tu_now_ms() + T_MS;
    static swamqp_event events[64];
    while (got < 21 && tu_now_ms() < deadline) {
        size_t n = 0;
        CHECK_OK(swamqp_next_events(conn, events, 64, &n, 200), NULL);
        got += check_packed(events, n);
    }
    CHECK(got == 21, "%d deliveries packed", got);
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    fprintf(stderr, "packed deliveries: OK\n");
}

static void test_heartbeat_consumer(swamqp_connection *publisher)
{
    swamqp_error err;
    swamqp_connection_options options;
    tu_options_from_env(&options);
    options.heartbeat = 1;
    options.connection_name = "swiftamqp Tests/C c_consume heartbeat";
    swamqp_connection *conn = tu_connect_with(&options);
    uint16_t hb = 0, cm = 0;
    uint32_t fm = 0;
    CHECK_OK(swamqp_connection_tune(conn, &cm, &fm, &hb), NULL);
    CHECK(hb == 1, "negotiated heartbeat %u, expected 1", hb);
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    CHECK_OK(swamqp_basic_consume(conn, ch, q, tu_b("hb"), 0, NULL, NULL, T_MS, &err), &err);

    uint16_t pch = tu_channel(publisher);
    publish_n(publisher, pch, q, "hb", 5);
    tu_sleep_ms(3500); /* the application does not call the library for 3.5 heartbeat intervals */
    publish_n(publisher, pch, q, "late", 2);

    CHECK(swamqp_connection_is_open(conn), "the consumer's connection closed while the application slept");
    uint64_t tag = 0;
    for (int i = 0; i < 5; i++) {
        char want[16];
        snprintf(want, sizeof want, "hb%d", i);
        tag = expect_delivery(conn, ch, want)->message->delivery_tag;
    }
    expect_delivery(conn, ch, "late0");
    tag = expect_delivery(conn, ch, "late1")->message->delivery_tag;
    CHECK_OK(swamqp_basic_ack(conn, ch, tag, SWAMQP_MULTIPLE, &err), &err);
    swamqp_stats stats;
    CHECK_OK(swamqp_connection_stats(conn, &stats), NULL);
    CHECK(stats.heartbeats_out >= 3, "heartbeats_out %" PRIu64 " after 3.5 s at 1 s", stats.heartbeats_out);
    CHECK(stats.deliveries == 7, "stats.deliveries %" PRIu64 ", expected 7", stats.deliveries);
    WAIT_QUEUE_COUNT(conn, ch, q, 0);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    CHECK_OK(swamqp_channel_close(publisher, pch, T_MS, &err), &err);
    fprintf(stderr, "consumer across 3.5 heartbeat intervals: OK\n");
}

int main(void)
{
    swamqp_error err;
    swamqp_connection *conn = tu_connect();
    swamqp_connection *other = tu_connect();
    test_tags_and_fields(conn);
    test_qos_and_acks(conn);
    test_server_cancel(conn, other);
    test_no_ack_and_callback(conn);
    test_packed_deliveries(conn);
    test_heartbeat_consumer(other);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(other, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    CHECK_OK(swamqp_connection_free(other), NULL);
    printf("c_consume: OK\n");
    return 0;
}
