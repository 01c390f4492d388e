/*
 * c_contract: what include/swiftamqp.h promises a C user, point by point, against a fake broker
 * (fake_broker.h) so each promise is checked deterministically:
 *
 * - outbound order: a blocking request made after publishes reaches the broker after them, and
 *   connection.close after the acks queued before it;
 * - SWAMQP_WAIT_FOREVER waits for a reply however late; blocking calls leave no completion event;
 * - swamqp_next_events_batch gathers min_count events within linger_us, and fills its error when
 *   the connection has ended;
 * - the application's own close ends with SWAMQP_ERR_CLOSED_BY_APPLICATION, not CONNECTION_CLOSED;
 * - flags a function does not read are refused with INVALID_ARGUMENT, nothing sent;
 * - swamqp_set_log_level(0) queues no log records;
 * - acks are neither refused nor held while publishing must wait (connection.blocked).
 */
#include "event_util.h"
#include "fake_broker.h"

#include <pthread.h>
#include <sys/wait.h>

#define T_MS 5000

static swamqp_connection *connect_to(fb_peer *peer, swamqp_connection_options *options)
{
    swamqp_error err;
    swamqp_connection *conn = NULL;
    CHECK_OK(swamqp_connection_create(options, &conn, &err), &err);
    uint64_t rid = 0;
    CHECK_OK(swamqp_connection_open_async(conn, &rid, &err), &err);
    fb_accept(peer, 10000);
    fb_handshake(peer, 0, 131072, 0, NULL);
    ev_completion(conn, rid, SWAMQP_OK, 10000);
    return conn;
}

static swamqp_connection *setup(fb_peer *peer, uint16_t *ch)
{
    fb_listen(peer, 0);
    swamqp_connection_options options;
    fb_client_options(peer, &options);
    options.heartbeat = 0;
    swamqp_connection *conn = connect_to(peer, &options);
    swamqp_error err;
    uint64_t rid = 0;
    CHECK_OK(swamqp_channel_open_async(conn, ch, &rid, &err), &err);
    fb_accept_channel(peer, *ch);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);
    return conn;
}

static void send_delivery(fb_peer *peer, uint16_t channel, uint64_t tag)
{
    fb_buf a;
    a.len = 0;
    fb_shortstr(&a, "ctag");
    fb_u64(&a, tag);
    fb_u8(&a, 0);
    fb_shortstr(&a, "");
    fb_shortstr(&a, "rk");
    fb_send_method(peer, channel, 60, 60, &a);
    fb_buf h;
    h.len = 0;
    fb_u16(&h, 60);
    fb_u16(&h, 0);
    fb_u64(&h, 2);
    fb_u16(&h, 0);
    fb_send_frame(peer, 2, channel, h.data, h.len);
    fb_send_frame(peer, 3, channel, "hi", 2);
}

static void send_declare_ok(fb_peer *peer, uint16_t channel)
{
    fb_buf a;
    a.len = 0;
    fb_shortstr(&a, "q");
    fb_u32(&a, 0);
    fb_u32(&a, 0);
    fb_send_method(peer, channel, 50, 11, &a);
}

typedef struct declare_call {
    swamqp_connection *conn;
    uint16_t channel;
    uint32_t timeout_ms;
    int rc;
    swamqp_error err;
} declare_call;

static void *run_declare(void *arg)
{
    declare_call *c = arg;
    c->rc = swamqp_queue_declare(c->conn, c->channel, tu_b("q"), 0, NULL, NULL, c->timeout_ms, &c->err);
    return NULL;
}

static void test_outbound_order(void)
{
    fb_peer peer;
    uint16_t ch = 0;
    swamqp_connection *conn = setup(&peer, &ch);
    swamqp_error err;
    for (int i = 0; i < 3; i++)
        CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("before"), NULL, T_MS, &err), &err);
    declare_call declare = {conn, ch, T_MS, 12345, {0}};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, run_declare, &declare) == 0, "pthread_create");
    for (int i = 0; i < 3; i++)
        CHECK(fb_expect_publish(&peer, ch, T_MS) == 6, "publish %d did not come before the request", i + 1);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, ch, 50, 10, T_MS);
    send_declare_ok(&peer, ch);
    pthread_join(thread, NULL);
    CHECK(declare.rc == SWAMQP_OK, "declare: %s", swamqp_status_string(declare.rc));
    /* a blocking call leaves no completion event */
    const swamqp_event *e;
    while ((e = ev_next(conn, 100)) != NULL)
        CHECK(e->type != SWAMQP_EVENT_COMPLETION, "a blocking call produced a COMPLETION event");

    /* acks queued before the close go out before connection.close */
    send_delivery(&peer, ch, 1);
    send_delivery(&peer, ch, 2);
    ev_wait(conn, SWAMQP_EVENT_DELIVERY, ch, T_MS);
    ev_wait(conn, SWAMQP_EVENT_DELIVERY, ch, T_MS);
    CHECK_OK(swamqp_basic_ack(conn, ch, 1, 0, &err), &err);
    CHECK_OK(swamqp_basic_ack(conn, ch, 2, 0, &err), &err);
    uint64_t rid = 0;
    CHECK_OK(swamqp_connection_close_async(conn, &rid, &err), &err);
    fb_expect_method(&peer, &f, ch, 60, 80, T_MS);
    CHECK(fb_get64(f.payload + 4) == 1, "first ack of tag %" PRIu64, fb_get64(f.payload + 4));
    fb_expect_method(&peer, &f, ch, 60, 80, T_MS);
    CHECK(fb_get64(f.payload + 4) == 2, "second ack of tag %" PRIu64, fb_get64(f.payload + 4));
    fb_expect_method(&peer, &f, 0, 10, 50, T_MS);
    fb_buf none;
    none.len = 0;
    fb_send_method(&peer, 0, 10, 51, &none);
    /* the application's close: SWAMQP_ERR_CLOSED_BY_APPLICATION, origin library */
    e = ev_wait(conn, SWAMQP_EVENT_CONNECTION_CLOSED, EV_ANY_CHANNEL, T_MS);
    CHECK(e->status == SWAMQP_ERR_CLOSED_BY_APPLICATION && e->error && e->error->origin == SWAMQP_ORIGIN_LIBRARY,
          "our own close ended with %s", swamqp_status_string(e->status));
    /* after the last event: the batch drain fills its error */
    swamqp_event events[4];
    size_t n = 7;
    CHECK_STATUS(swamqp_next_events_batch(conn, events, 4, 1, 0, &n, 0, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK(n == 0 && err.origin == SWAMQP_ORIGIN_LIBRARY, "count %zu origin %d", n, err.origin);
    free(f.payload);
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static void test_wait_forever(void)
{
    fb_peer peer;
    uint16_t ch = 0;
    swamqp_connection *conn = setup(&peer, &ch);
    declare_call declare = {conn, ch, SWAMQP_WAIT_FOREVER, 12345, {0}};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, run_declare, &declare) == 0, "pthread_create");
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, ch, 50, 10, T_MS);
    free(f.payload);
    tu_sleep_ms(1500);
    CHECK(declare.rc == 12345, "a SWAMQP_WAIT_FOREVER call returned %s early", swamqp_status_string(declare.rc));
    send_declare_ok(&peer, ch);
    pthread_join(thread, NULL);
    CHECK(declare.rc == SWAMQP_OK, "declare: %s %s", swamqp_status_string(declare.rc), tu_err_text(&declare.err));
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static void test_batch_linger(void)
{
    fb_peer peer;
    uint16_t ch = 0;
    swamqp_connection *conn = setup(&peer, &ch);
    CHECK_OK(swamqp_set_log_level(conn, 0), NULL);
    for (uint64_t tag = 1; tag <= 5; tag++) {
        send_delivery(&peer, ch, tag);
        tu_sleep_ms(20);
    }
    swamqp_event events[16];
    size_t n = 0;
    swamqp_error err;
    int64_t start = tu_now_ms();
    CHECK_OK(swamqp_next_events_batch(conn, events, 16, 5, 2000 * 1000, &n, T_MS, &err), &err);
    CHECK(n == 5, "the batch holds %zu events, expected the 5 deliveries", n);
    for (size_t i = 0; i < n; i++)
        CHECK(events[i].type == SWAMQP_EVENT_DELIVERY && events[i].delivery_tag == i + 1, "event %zu: type %d tag %" PRIu64,
              i, events[i].type, events[i].delivery_tag);
    CHECK(tu_now_ms() - start < 2000, "the batch took %" PRId64 " ms", tu_now_ms() - start);
    /* linger is bounded: 3 more deliveries, min_count 10, linger 300 ms */
    for (uint64_t tag = 6; tag <= 8; tag++)
        send_delivery(&peer, ch, tag);
    start = tu_now_ms();
    size_t total = 0;
    while (total < 3) {
        CHECK_OK(swamqp_next_events_batch(conn, events, 16, 10, 300 * 1000, &n, T_MS, &err), &err);
        total += n;
    }
    CHECK(total == 3, "got %zu deliveries", total);
    int64_t took = tu_now_ms() - start;
    CHECK(took >= 250 && took < 2000, "lingering for 10 events with 3 queued took %" PRId64 " ms (linger 300)", took);
    /* log level 0: the close queues no log record */
    CHECK_OK(swamqp_connection_close(conn, 0, &err), &err);
    const swamqp_event *e;
    while ((e = ev_next(conn, 200)) != NULL)
        CHECK(e->type != SWAMQP_EVENT_LOG, "a log record was queued at log level 0");
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static void test_foreign_flags(void)
{
    fb_peer peer;
    uint16_t ch = 0;
    swamqp_connection *conn = setup(&peer, &ch);
    swamqp_error err;
    uint64_t rid = 0;
    send_delivery(&peer, ch, 1);
    ev_wait(conn, SWAMQP_EVENT_DELIVERY, ch, T_MS);
    CHECK_STATUS(swamqp_basic_ack(conn, ch, 1, SWAMQP_NO_ACK, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "basic.ack") != NULL, "%s", err.message);
    CHECK_STATUS(swamqp_basic_reject(conn, ch, 1, SWAMQP_MULTIPLE, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_nack(conn, ch, 1, SWAMQP_GLOBAL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), SWAMQP_NO_ACK, NULL, tu_b("x"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_declare_async(conn, ch, tu_b("q"), SWAMQP_IF_EMPTY, NULL, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_qos(conn, ch, 0, 10, SWAMQP_REQUEUE, T_MS, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_exchange_delete_async(conn, ch, tu_b("x"), SWAMQP_IF_EMPTY, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_consume_async(conn, ch, tu_b("q"), tu_b(""), SWAMQP_MULTIPLE, NULL, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_get_async(conn, ch, tu_b("q"), SWAMQP_REQUEUE, &rid, &err), SWAMQP_ERR_INVALID_ARGUMENT,
                 &err);
    CHECK_STATUS(swamqp_queue_bind_async(conn, ch, tu_b("q"), tu_b("x"), tu_b("k"), 1u << 31, NULL, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    /* nothing of that was sent: the next frame is this ack, with its own flag */
    CHECK_OK(swamqp_basic_ack(conn, ch, 1, SWAMQP_MULTIPLE, &err), &err);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, ch, 60, 80, T_MS);
    CHECK(f.payload[12] == 1, "the ack lost its MULTIPLE bit");
    free(f.payload);
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static void test_acks_while_publishing_waits(void)
{
    fb_peer peer;
    uint16_t ch = 0;
    swamqp_connection *conn = setup(&peer, &ch);
    swamqp_error err;
    send_delivery(&peer, ch, 1);
    fb_buf a;
    a.len = 0;
    fb_shortstr(&a, "low on memory");
    fb_send_method(&peer, 0, 10, 60, &a); /* connection.blocked */
    ev_wait(conn, SWAMQP_EVENT_DELIVERY, ch, T_MS);
    ev_wait(conn, SWAMQP_EVENT_BLOCKED, EV_ANY_CHANNEL, T_MS);
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("x"), NULL, 0, &err),
                 SWAMQP_ERR_WOULD_BLOCK, &err);
    CHECK_OK(swamqp_basic_ack(conn, ch, 1, 0, &err), &err);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, ch, 60, 80, T_MS);
    free(f.payload);
    swamqp_connection_free(conn);
    fb_close(&peer);
}

int main(void)
{
    int failed = 0;
    failed += fb_run_scenario("outbound order, no completion for blocking calls, clean close status", test_outbound_order);
    failed += fb_run_scenario("SWAMQP_WAIT_FOREVER", test_wait_forever);
    failed += fb_run_scenario("next_events_batch: min_count and linger, log level 0", test_batch_linger);
    failed += fb_run_scenario("flags a call does not read are refused", test_foreign_flags);
    failed += fb_run_scenario("acks go out while publishing must wait", test_acks_while_publishing_waits);
    if (failed) {
        fprintf(stderr, "FAIL c_contract: %d scenario(s) failed\n", failed);
        return 1;
    }
    printf("c_contract: OK\n");
    return 0;
}
