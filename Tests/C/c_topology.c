/*
 * c_topology: exchanges, queues and bindings against the real broker.
 *
 * - exchange.declare/delete, exchange.bind/unbind (a message routed E1 -> E2 -> queue, then not),
 *   an INTERNAL exchange refuses direct publishes (403), delete IF_UNUSED on a bound exchange (406);
 * - queue.declare: server-named, named exclusive, durable, auto_delete (goes away with its last
 *   consumer), NOWAIT (result = the given name, counts 0), arguments (x-max-length keeps 2 of 5),
 *   passive declare returning message and consumer counts, a 404 on a passive declare closes that
 *   channel only (CHANNEL_CLOSED event with the reply) and leaves the connection usable;
 * - queue.bind/unbind (after the unbind a mandatory publish comes back as a return), queue.purge and
 *   queue.delete returning counts, delete IF_EMPTY / IF_UNUSED refusals (406);
 * - the _async form of each of these, with the counts carried by the completion event.
 */
#include "event_util.h"

#define T_MS 5000

static char prefix[128];

static void name(char *buf, const char *what)
{
    snprintf(buf, 256, "%s.%s", prefix, what);
}

/* A broker refusal on `ch`: the status, the reply code, then the CHANNEL_CLOSED event with the same. */
static void expect_channel_refusal(swamqp_connection *conn, uint16_t ch, int rc, const swamqp_error *err,
                                   uint16_t reply_code, const char *what)
{
    tu_check_status(__FILE__, __LINE__, what, rc, SWAMQP_ERR_CHANNEL_CLOSED, err);
    CHECK(err->origin == SWAMQP_ORIGIN_BROKER, "%s: origin %d", what, (int)err->origin);
    CHECK(err->reply_code == reply_code, "%s: reply %u (%s), expected %u", what, err->reply_code, err->message,
          reply_code);
    CHECK(err->channel == ch, "%s: error.channel %u, expected %u", what, err->channel, ch);
    const swamqp_event *e = ev_wait_broker_close(conn, ch, T_MS);
    CHECK(e->error != NULL && e->error->reply_code == reply_code, "%s: CHANNEL_CLOSED event reply %u",
          what, e->error ? e->error->reply_code : 0);
    CHECK(e->status == SWAMQP_ERR_CHANNEL_CLOSED && e->error->status == e->status,
          "%s: CHANNEL_CLOSED event status %s, error.status %s", what, swamqp_status_string(e->status),
          swamqp_status_string(e->error->status));
    CHECK(swamqp_connection_is_open(conn), "%s: the connection closed after a channel error", what);
}

static void test_exchanges(swamqp_connection *conn)
{
    swamqp_error err;
    char e1[256], e2[256], e3[256], qbuf[256];
    name(e1, "e1");
    name(e2, "e2");
    name(e3, "internal");
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);

    /* e1 is not auto-delete: RabbitMQ deletes an auto-delete exchange when its last binding goes,
     * which the exchange.unbind below does. */
    CHECK_OK(swamqp_exchange_declare(conn, ch, tu_b(e1), tu_b("direct"), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_exchange_declare(conn, ch, tu_b(e2), tu_b("fanout"), SWAMQP_AUTO_DELETE, NULL, T_MS, &err), &err);
    /* passive declare of an existing exchange */
    CHECK_OK(swamqp_exchange_declare(conn, ch, tu_b(e1), tu_b("direct"), SWAMQP_PASSIVE, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_queue_bind(conn, ch, q, tu_b(e2), tu_b(""), 0, NULL, T_MS, &err), &err);

    /* e1 --rk--> e2 --> q */
    CHECK_OK(swamqp_exchange_bind(conn, ch, tu_b(e2), tu_b(e1), tu_b("rk"), 0, NULL, T_MS, &err), &err);
    tu_publish(conn, ch, e1, tu_b("rk"), "via-e2");
    tu_publish(conn, ch, e1, tu_b("other"), "not-routed");
    swamqp_message *m = tu_get(conn, ch, q, SWAMQP_NO_ACK, 5000);
    CHECK(m != NULL, "exchange-to-exchange binding: nothing arrived");
    CHECK_BYTES(m->body, "via-e2");
    CHECK_BYTES(m->exchange, e1);
    CHECK_BYTES(m->routing_key, "rk");
    swamqp_message_free(m);

    /* exchange.unbind: a mandatory publish to e1 now comes back. */
    CHECK_OK(swamqp_exchange_unbind(conn, ch, tu_b(e2), tu_b(e1), tu_b("rk"), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(e1), tu_b("rk"), SWAMQP_MANDATORY, NULL, tu_b("after-unbind"), NULL,
                                  T_MS, &err),
             &err);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_RETURN, ch, T_MS);
    CHECK(e->message != NULL && e->message->reply_code == 312, "return after exchange.unbind: reply %u",
          e->message ? e->message->reply_code : 0);
    CHECK_BYTES(e->message->body, "after-unbind");
    CHECK(tu_get(conn, ch, q, SWAMQP_NO_ACK, 0) == NULL, "the queue got a message after exchange.unbind");

    /* NOWAIT forms: bind, unbind (completing at once), then a round trip proves the channel is fine. */
    CHECK_OK(swamqp_exchange_bind(conn, ch, tu_b(e2), tu_b(e1), tu_b("nw"), SWAMQP_NOWAIT, NULL, T_MS, &err), &err);
    tu_publish(conn, ch, e1, tu_b("nw"), "nowait-bind");
    m = tu_get(conn, ch, q, SWAMQP_NO_ACK, 5000);
    CHECK(m != NULL, "exchange_bind NOWAIT: nothing arrived");
    CHECK_BYTES(m->body, "nowait-bind");
    swamqp_message_free(m);
    CHECK_OK(swamqp_exchange_unbind(conn, ch, tu_b(e2), tu_b(e1), tu_b("nw"), SWAMQP_NOWAIT, NULL, T_MS, &err), &err);

    /* _async forms, with completions. */
    uint64_t rid = 0;
    CHECK_OK(swamqp_exchange_bind_async(conn, ch, tu_b(e2), tu_b(e1), tu_b("a"), 0, NULL, &rid, &err), &err);
    e = ev_completion(conn, rid, SWAMQP_OK, T_MS);
    CHECK(e->channel == ch, "exchange_bind_async completion on channel %u", e->channel);
    tu_publish(conn, ch, e1, tu_b("a"), "async-bind");
    m = tu_get(conn, ch, q, SWAMQP_NO_ACK, 5000);
    CHECK(m != NULL, "exchange_bind_async: nothing arrived");
    CHECK_BYTES(m->body, "async-bind");
    swamqp_message_free(m);
    CHECK_OK(swamqp_exchange_unbind_async(conn, ch, tu_b(e2), tu_b(e1), tu_b("a"), 0, NULL, &rid, &err), &err);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);

    /* exchange.delete IF_UNUSED on e2 (q is bound to it) is refused: 406, this channel only. */
    int rc;
    tu_err_reset(&err);
    rc = swamqp_exchange_delete(conn, ch, tu_b(e2), SWAMQP_IF_UNUSED, T_MS, &err);
    expect_channel_refusal(conn, ch, rc, &err, 406, "exchange_delete IF_UNUSED of a bound exchange");
    CHECK_STATUS(swamqp_exchange_declare(conn, ch, tu_b(e1), tu_b("direct"), SWAMQP_PASSIVE, NULL, T_MS, &err),
                 SWAMQP_ERR_CHANNEL_CLOSED, &err);

    ch = tu_channel(conn);
    /* exchange.delete; afterwards a passive declare is 404. */
    CHECK_OK(swamqp_exchange_delete(conn, ch, tu_b(e1), 0, T_MS, &err), &err);
    tu_err_reset(&err);
    rc = swamqp_exchange_declare(conn, ch, tu_b(e1), tu_b("direct"), SWAMQP_PASSIVE, NULL, T_MS, &err);
    expect_channel_refusal(conn, ch, rc, &err, 404, "passive declare of a deleted exchange");

    ch = tu_channel(conn);
    CHECK_OK(swamqp_exchange_delete_async(conn, ch, tu_b(e2), 0, &rid, &err), &err);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);
    tu_err_reset(&err);
    rc = swamqp_exchange_declare(conn, ch, tu_b(e2), tu_b("fanout"), SWAMQP_PASSIVE, NULL, T_MS, &err);
    expect_channel_refusal(conn, ch, rc, &err, 404, "passive declare after exchange_delete_async");

    /* NOWAIT declare and delete. */
    ch = tu_channel(conn);
    CHECK_OK(swamqp_exchange_declare(conn, ch, tu_b(e1), tu_b("topic"), SWAMQP_AUTO_DELETE | SWAMQP_NOWAIT, NULL,
                                     T_MS, &err),
             &err);
    CHECK_OK(swamqp_exchange_declare(conn, ch, tu_b(e1), tu_b("topic"), SWAMQP_PASSIVE, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_exchange_delete(conn, ch, tu_b(e1), SWAMQP_NOWAIT, T_MS, &err), &err);
    tu_err_reset(&err);
    rc = swamqp_exchange_declare(conn, ch, tu_b(e1), tu_b("topic"), SWAMQP_PASSIVE, NULL, T_MS, &err);
    expect_channel_refusal(conn, ch, rc, &err, 404, "passive declare after a NOWAIT exchange_delete");

    /* An internal exchange cannot be published to directly: 403 ACCESS_REFUSED closes the channel. */
    ch = tu_channel(conn);
    CHECK_OK(swamqp_exchange_declare(conn, ch, tu_b(e3), tu_b("fanout"), SWAMQP_AUTO_DELETE | SWAMQP_INTERNAL, NULL,
                                     T_MS, &err),
             &err);
    tu_publish(conn, ch, e3, tu_b(""), "to-internal");
    e = ev_wait_broker_close(conn, ch, T_MS);
    CHECK(e->error != NULL && e->error->reply_code == 403 && e->error->origin == SWAMQP_ORIGIN_BROKER,
          "publish to an internal exchange: CHANNEL_CLOSED reply %u", e->error ? e->error->reply_code : 0);
    CHECK(e->error->class_id == 60 && e->error->method_id == 40, "internal exchange: class.method %u.%u, expected 60.40",
          e->error->class_id, e->error->method_id);
    ch = tu_channel(conn);
    CHECK_OK(swamqp_exchange_delete(conn, ch, tu_b(e3), 0, T_MS, &err), &err);
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    fprintf(stderr, "exchanges: OK\n");
}

static void test_queues(swamqp_connection *conn, swamqp_connection *other)
{
    swamqp_error err;
    swamqp_queue_declare_ok ok;
    char qn[256], qd[256], qa[256], qx[256], qbuf[256];
    int rc;
    uint16_t ch = tu_channel(conn);

    /* server-named */
    memset(&ok, 0x5a, sizeof ok);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(""), SWAMQP_EXCLUSIVE | SWAMQP_AUTO_DELETE, NULL, &ok, T_MS, &err),
             &err);
    CHECK(ok.name_len > 8 && ok.name_len < 256 && strncmp(ok.name, "amq.gen-", 8) == 0 && ok.name[ok.name_len] == '\0'
              && strlen(ok.name) == ok.name_len,
          "server-named queue: \"%.*s\" (%zu)", (int)(ok.name_len < 256 ? ok.name_len : 0), ok.name, ok.name_len);
    CHECK(ok.message_count == 0 && ok.consumer_count == 0, "new queue counts %" PRIu32 "/%" PRIu32, ok.message_count,
          ok.consumer_count);

    /* named, exclusive, with arguments: x-max-length 2 keeps the last 2 of 5 */
    name(qn, "maxlen");
    swamqp_table_entry args[1];
    memset(args, 0, sizeof args);
    args[0].key = tu_b("x-max-length");
    args[0].value.kind = SWAMQP_FIELD_I32;
    args[0].value.value.i32 = 2;
    swamqp_table table = {1, args};
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qn), SWAMQP_EXCLUSIVE, &table, &ok, T_MS, &err), &err);
    CHECK(ok.name_len == strlen(qn) && strcmp(ok.name, qn) == 0, "declare-ok name %s", ok.name);
    for (int i = 1; i <= 5; i++) {
        char body[16];
        snprintf(body, sizeof body, "m%d", i);
        tu_publish(conn, ch, "", tu_b(qn), body);
    }
    WAIT_QUEUE_COUNT(conn, ch, tu_b(qn), 2);
    swamqp_message *m = tu_get(conn, ch, tu_b(qn), SWAMQP_NO_ACK, 0);
    CHECK(m != NULL, "x-max-length queue is empty");
    CHECK_BYTES(m->body, "m4");
    CHECK(m->message_count == 1, "basic.get message_count %" PRIu32 ", expected 1 left", m->message_count);
    swamqp_message_free(m);

    /* A redeclare with different arguments is 406 on this channel only. */
    tu_err_reset(&err);
    rc = swamqp_queue_declare(conn, ch, tu_b(qn), SWAMQP_EXCLUSIVE, NULL, &ok, T_MS, &err);
    expect_channel_refusal(conn, ch, rc, &err, 406, "redeclare with other arguments");

    /* 404 on a passive declare: the channel closes, the connection stays usable. */
    ch = tu_channel(conn);
    char missing[256];
    name(missing, "does-not-exist");
    tu_err_reset(&err);
    memset(&ok, 0x5a, sizeof ok);
    rc = swamqp_queue_declare(conn, ch, tu_b(missing), SWAMQP_PASSIVE, NULL, &ok, T_MS, &err);
    expect_channel_refusal(conn, ch, rc, &err, 404, "passive declare of a missing queue");
    CHECK(err.class_id == 50 && err.method_id == 10, "404: class.method %u.%u, expected 50.10", err.class_id,
          err.method_id);
    CHECK(strstr(err.message, "NOT_FOUND") != NULL, "404 message: %s", err.message);
    CHECK_STATUS(swamqp_queue_declare(conn, ch, tu_b(qn), SWAMQP_PASSIVE, NULL, NULL, T_MS, &err),
                 SWAMQP_ERR_CHANNEL_CLOSED, &err);
    uint16_t ch2 = tu_channel(conn);
    CHECK_OK(swamqp_queue_declare(conn, ch2, tu_b(qn), SWAMQP_PASSIVE, NULL, &ok, T_MS, &err), &err);
    CHECK(ok.message_count == 1, "after the 404 the queue reports %" PRIu32 " messages", ok.message_count);
    ch = ch2;

    /* durable, non-exclusive: seen from another connection, deleted with its message count */
    name(qd, "durable");
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qd), SWAMQP_DURABLE, NULL, &ok, T_MS, &err), &err);
    for (int i = 0; i < 4; i++)
        tu_publish(conn, ch, "", tu_b(qd), "d");
    uint16_t och = tu_channel(other);
    WAIT_QUEUE_COUNT(other, och, tu_b(qd), 4);
    tu_err_reset(&err);
    rc = swamqp_queue_delete(conn, ch, tu_b(qd), SWAMQP_IF_EMPTY, NULL, T_MS, &err);
    expect_channel_refusal(conn, ch, rc, &err, 406, "queue_delete IF_EMPTY of a queue with 4 messages");
    ch = tu_channel(conn);
    uint32_t count = 12345;
    CHECK_OK(swamqp_queue_delete(conn, ch, tu_b(qd), 0, &count, T_MS, &err), &err);
    CHECK(count == 4, "queue_delete reported %" PRIu32 " messages, expected 4", count);

    /* auto_delete: goes away when its last consumer is cancelled */
    name(qa, "autodelete");
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qa), SWAMQP_DURABLE | SWAMQP_AUTO_DELETE, NULL, &ok, T_MS, &err),
             &err);
    swamqp_name tag;
    CHECK_OK(swamqp_basic_consume(conn, ch, tu_b(qa), tu_b(""), 0, NULL, &tag, T_MS, &err), &err);
    CHECK_OK(swamqp_queue_declare(other, och, tu_b(qa), SWAMQP_PASSIVE, NULL, &ok, T_MS, &err), &err);
    CHECK(ok.consumer_count == 1, "auto-delete queue consumer_count %" PRIu32, ok.consumer_count);
    tu_err_reset(&err);
    rc = swamqp_queue_delete(other, och, tu_b(qa), SWAMQP_IF_UNUSED, NULL, T_MS, &err);
    expect_channel_refusal(other, och, rc, &err, 406, "queue_delete IF_UNUSED of a queue with a consumer");
    och = tu_channel(other);
    CHECK_OK(swamqp_basic_cancel(conn, ch, tu_bn(tag.name, tag.len), 0, T_MS, &err), &err);
    int64_t deadline = tu_now_ms() + 5000;
    for (;;) {
        tu_err_reset(&err);
        rc = swamqp_queue_declare(other, och, tu_b(qa), SWAMQP_PASSIVE, NULL, NULL, T_MS, &err);
        if (rc != SWAMQP_OK)
            break;
        CHECK(tu_now_ms() < deadline, "the auto-delete queue still exists 5 s after its consumer was cancelled");
        tu_sleep_ms(50);
    }
    expect_channel_refusal(other, och, rc, &err, 404, "auto-delete queue after its last consumer");
    och = tu_channel(other);

    /* NOWAIT: the result names the given queue, counts 0; the queue exists afterwards. */
    name(qx, "nowait");
    memset(&ok, 0x5a, sizeof ok);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qx), SWAMQP_EXCLUSIVE | SWAMQP_NOWAIT, NULL, &ok, T_MS, &err), &err);
    CHECK(ok.name_len == strlen(qx) && strcmp(ok.name, qx) == 0 && ok.message_count == 0 && ok.consumer_count == 0,
          "NOWAIT declare result: \"%s\" %" PRIu32 "/%" PRIu32, ok.name, ok.message_count, ok.consumer_count);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qx), SWAMQP_PASSIVE, NULL, &ok, T_MS, &err), &err);

    /* queue.bind / unbind: after unbind a mandatory publish returns (312 NO_ROUTE). */
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    char rk[256];
    name(rk, "rk");
    CHECK_OK(swamqp_queue_bind(conn, ch, q, tu_b("amq.direct"), tu_b(rk), 0, NULL, T_MS, &err), &err);
    tu_publish(conn, ch, "amq.direct", tu_b(rk), "bound");
    m = tu_get(conn, ch, q, SWAMQP_NO_ACK, 5000);
    CHECK(m != NULL, "queue.bind: nothing arrived");
    CHECK_BYTES(m->body, "bound");
    swamqp_message_free(m);
    CHECK_OK(swamqp_queue_unbind(conn, ch, q, tu_b("amq.direct"), tu_b(rk), NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b("amq.direct"), tu_b(rk), SWAMQP_MANDATORY, NULL, tu_b("unbound"),
                                  NULL, T_MS, &err),
             &err);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_RETURN, ch, T_MS);
    CHECK(e->message && e->message->reply_code == 312, "return after queue.unbind: reply %u",
          e->message ? e->message->reply_code : 0);
    CHECK_BYTES(e->message->routing_key, rk);
    CHECK_BYTES(e->message->exchange, "amq.direct");

    /* the same with the _async forms and a NOWAIT bind */
    CHECK_OK(swamqp_queue_bind(conn, ch, q, tu_b("amq.direct"), tu_b(rk), SWAMQP_NOWAIT, NULL, T_MS, &err), &err);
    uint64_t rid = 0;
    CHECK_OK(swamqp_queue_unbind_async(conn, ch, q, tu_b("amq.direct"), tu_b(rk), NULL, &rid, &err), &err);
    e = ev_completion(conn, rid, SWAMQP_OK, T_MS);
    CHECK(e->channel == ch, "queue_unbind_async completion channel %u", e->channel);
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b("amq.direct"), tu_b(rk), SWAMQP_MANDATORY, NULL, tu_b("unbound2"),
                                  NULL, T_MS, &err),
             &err);
    e = ev_wait(conn, SWAMQP_EVENT_RETURN, ch, T_MS);
    CHECK_BYTES(e->message->body, "unbound2");

    /* queue.purge with its count, blocking and async */
    for (int i = 0; i < 3; i++)
        tu_publish(conn, ch, "", q, "p");
    WAIT_QUEUE_COUNT(conn, ch, q, 3);
    count = 999;
    CHECK_OK(swamqp_queue_purge(conn, ch, q, 0, &count, T_MS, &err), &err);
    CHECK(count == 3, "queue_purge reported %" PRIu32 ", expected 3", count);
    CHECK(tu_queue_count(conn, ch, q) == 0, "queue not empty after purge");
    for (int i = 0; i < 2; i++)
        tu_publish(conn, ch, "", q, "p");
    WAIT_QUEUE_COUNT(conn, ch, q, 2);
    CHECK_OK(swamqp_queue_purge_async(conn, ch, q, 0, &rid, &err), &err);
    e = ev_completion(conn, rid, SWAMQP_OK, T_MS);
    CHECK(e->message_count == 2, "queue_purge_async completion message_count %" PRIu32, e->message_count);
    tu_publish(conn, ch, "", q, "p");
    WAIT_QUEUE_COUNT(conn, ch, q, 1);
    CHECK_OK(swamqp_queue_purge(conn, ch, q, SWAMQP_NOWAIT, NULL, T_MS, &err), &err);
    WAIT_QUEUE_COUNT(conn, ch, q, 0);

    /* queue.delete async with its count; then a NOWAIT delete */
    for (int i = 0; i < 5; i++)
        tu_publish(conn, ch, "", q, "x");
    WAIT_QUEUE_COUNT(conn, ch, q, 5);
    CHECK_OK(swamqp_queue_delete_async(conn, ch, q, 0, &rid, &err), &err);
    e = ev_completion(conn, rid, SWAMQP_OK, T_MS);
    CHECK(e->message_count == 5, "queue_delete_async completion message_count %" PRIu32, e->message_count);
    CHECK_OK(swamqp_queue_delete(conn, ch, tu_b(qx), SWAMQP_NOWAIT, NULL, T_MS, &err), &err);
    tu_err_reset(&err);
    rc = swamqp_queue_declare(conn, ch, tu_b(qx), SWAMQP_PASSIVE, NULL, NULL, T_MS, &err);
    expect_channel_refusal(conn, ch, rc, &err, 404, "passive declare after a NOWAIT queue_delete");

    /* queue_declare_async: completion carries name and counts */
    ch = tu_channel(conn);
    CHECK_OK(swamqp_queue_declare_async(conn, ch, tu_b(qn), SWAMQP_PASSIVE, NULL, &rid, &err), &err);
    e = ev_completion(conn, rid, SWAMQP_OK, T_MS);
    CHECK_BYTES(e->name, qn);
    CHECK(e->message_count == 1 && e->consumer_count == 0, "queue_declare_async counts %" PRIu32 "/%" PRIu32,
          e->message_count, e->consumer_count);
    CHECK_OK(swamqp_queue_delete(conn, ch, tu_b(qn), 0, &count, T_MS, &err), &err);
    CHECK(count == 1, "queue_delete of the max-length queue reported %" PRIu32, count);
    fprintf(stderr, "queues: OK\n");
}

int main(void)
{
    swamqp_error err;
    tu_unique_name(prefix, sizeof prefix, "c_topology", "t");
    swamqp_connection *conn = tu_connect();
    swamqp_connection *other = tu_connect();
    test_exchanges(conn);
    test_queues(conn, other);
    CHECK(swamqp_connection_is_open(conn) && swamqp_connection_is_open(other), "a connection closed");
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(other, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    CHECK_OK(swamqp_connection_free(other), NULL);
    printf("c_topology: OK\n");
    return 0;
}
