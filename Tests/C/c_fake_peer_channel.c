/*
 * c_fake_peer, a channel's scenarios: a server-sent channel.flow stops and resumes publishing, a
 * server channel.close leaves the other channels open, and publisher confirms withheld, acked,
 * nacked and failed at a connection loss (max_unconfirmed, wait_for_confirms).
 */
#include "c_fake_peer.h"

/* A client connected to a new peer, with channel `*ch` open and, if `confirms`, in confirm mode. */
static swamqp_connection *setup(fb_peer *peer, uint32_t max_unconfirmed, bool confirms, uint16_t *ch)
{
    swamqp_error err;
    fb_listen(peer, 0);
    swamqp_connection_options options;
    fb_client_options(peer, &options);
    options.max_unconfirmed = max_unconfirmed;
    swamqp_connection *conn = connect_to(peer, &options, "PLAIN", 0, 131072, 0, NULL, NULL);
    *ch = open_channel(conn, peer);
    if (confirms) {
        uint64_t rid = 0;
        fb_frame f;
        memset(&f, 0, sizeof f);
        CHECK_OK(swamqp_confirm_select_async(conn, *ch, &rid, &err), &err);
        fb_expect_method(peer, &f, *ch, 85, 10, T_MS);
        fb_send_method(peer, *ch, 85, 11, NULL);
        ev_completion(conn, rid, SWAMQP_OK, T_MS);
        free(f.payload);
    }
    return conn;
}

/* Publishes one message the peer reads; checks its sequence. */
static void publish_seq(swamqp_connection *conn, fb_peer *peer, uint16_t ch, uint64_t expected_seq)
{
    swamqp_error err;
    uint64_t seq = 0;
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("c"), &seq, T_MS, &err), &err);
    CHECK(seq == expected_seq, "sequence %" PRIu64 ", expected %" PRIu64, seq, expected_seq);
    fb_expect_publish(peer, ch, T_MS);
}

static void finish(swamqp_connection *conn, fb_peer *peer)
{
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fb_close(peer);
}

void test_flow(void)
{
    swamqp_error err;
    fb_peer peer;
    fb_frame f;
    memset(&f, 0, sizeof f);
    uint16_t ch;
    swamqp_connection *conn = setup(&peer, 0, false, &ch);

    /* channel.flow(false) from the server */
    fb_buf a;
    a.len = 0;
    fb_u8(&a, 0);
    fb_send_method(&peer, ch, 20, 20, &a);
    fb_expect_method(&peer, &f, ch, 20, 21, T_MS);
    CHECK(f.size == 5 && f.payload[4] == 0, "flow-ok does not echo active=false");
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_FLOW, ch, T_MS);
    CHECK(!(e->flags & SWAMQP_EVENT_FLAG_ACTIVE), "FLOW event for flow(false) has the ACTIVE flag");
    int64_t t0 = tu_now_ms();
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("stopped"), NULL, 300, &err),
                 SWAMQP_ERR_TIMEOUT, &err);
    CHECK(tu_now_ms() - t0 >= 250, "a publish under flow(false) returned after %lld ms", (long long)(tu_now_ms() - t0));
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("stopped"), NULL, 0, &err),
                 SWAMQP_ERR_WOULD_BLOCK, &err);
    /* a publish waiting under flow(false) goes out when flow(true) comes */
    blocking_call call;
    pthread_t thread = start_call(&call, conn, CALL_PUBLISH, ch, 10000);
    tu_sleep_ms(200);
    CHECK(!__atomic_load_n(&call.done, __ATOMIC_ACQUIRE), "a publish with a 10 s timeout returned under flow(false)");
    a.len = 0;
    fb_u8(&a, 1);
    fb_send_method(&peer, ch, 20, 20, &a);
    fb_expect_method(&peer, &f, ch, 20, 21, T_MS);
    CHECK(f.size == 5 && f.payload[4] == 1, "flow-ok does not echo active=true");
    pthread_join(thread, NULL);
    tu_check_status(__FILE__, __LINE__, "publish waiting for flow(true)", call.rc, SWAMQP_OK, &call.err);
    CHECK(fb_expect_publish(&peer, ch, T_MS) == 7, "the waiting publish");
    e = ev_wait(conn, SWAMQP_EVENT_FLOW, ch, T_MS);
    CHECK(e->flags & SWAMQP_EVENT_FLAG_ACTIVE, "FLOW event for flow(true) lacks the ACTIVE flag");

    /* a server channel.close on a second channel: close-ok, CHANNEL_CLOSED, the first one unaffected */
    uint16_t ch2 = open_channel(conn, &peer);
    a.len = 0;
    fb_u16(&a, 406);
    fb_shortstr(&a, "PRECONDITION_FAILED - fake");
    fb_u16(&a, 50);
    fb_u16(&a, 10);
    fb_send_method(&peer, ch2, 20, 40, &a);
    fb_expect_method(&peer, &f, ch2, 20, 41, T_MS);
    e = ev_wait_broker_close(conn, ch2, T_MS);
    CHECK(e->error && e->error->reply_code == 406 && e->error->class_id == 50 && e->error->method_id == 10 &&
              e->error->origin == SWAMQP_ORIGIN_BROKER && e->status == SWAMQP_ERR_CHANNEL_CLOSED,
          "server channel.close reported as %s reply %u %u.%u", swamqp_status_string(e->status),
          e->error ? e->error->reply_code : 0, e->error ? e->error->class_id : 0, e->error ? e->error->method_id : 0);
    CHECK_STATUS(swamqp_basic_publish(conn, ch2, tu_b(""), tu_b("q"), 0, NULL, tu_b("x"), NULL, T_MS, &err),
                 SWAMQP_ERR_CHANNEL_CLOSED, &err);
    CHECK(swamqp_connection_is_open(conn), "a channel close ended the connection");
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("x"), NULL, T_MS, &err), &err);
    fb_expect_publish(&peer, ch, T_MS);
    free(f.payload);
    finish(conn, &peer);
}

/* max_unconfirmed 3: the 4th publish waits; acks (MULTIPLE) and a broker nack are reported. */
void test_confirm_bound(void)
{
    swamqp_error err;
    fb_peer peer;
    uint16_t ch;
    swamqp_connection *conn = setup(&peer, 3, true, &ch);
    for (uint64_t i = 1; i <= 3; i++)
        publish_seq(conn, &peer, ch, i);
    uint64_t seq = 0;
    int64_t t0 = tu_now_ms();
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("4th"), &seq, 300, &err),
                 SWAMQP_ERR_TIMEOUT, &err);
    CHECK(tu_now_ms() - t0 >= 250, "the 4th publish with max_unconfirmed 3 returned after %lld ms",
          (long long)(tu_now_ms() - t0));
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("4th"), &seq, 0, &err),
                 SWAMQP_ERR_WOULD_BLOCK, &err);
    t0 = tu_now_ms();
    CHECK_STATUS(swamqp_wait_for_confirms(conn, ch, 300, &err), SWAMQP_ERR_TIMEOUT, &err);
    CHECK(tu_now_ms() - t0 >= 250, "wait_for_confirms(300) returned after %lld ms", (long long)(tu_now_ms() - t0));

    /* a publish waiting on the bound resumes when an ack comes */
    blocking_call call;
    pthread_t thread = start_call(&call, conn, CALL_PUBLISH, ch, 10000);
    tu_sleep_ms(200);
    CHECK(!__atomic_load_n(&call.done, __ATOMIC_ACQUIRE), "a 4th outstanding publish did not wait (max_unconfirmed 3)");
    fb_send_confirm(&peer, ch, true, 2, true);
    pthread_join(thread, NULL);
    tu_check_status(__FILE__, __LINE__, "publish waiting for a confirm", call.rc, SWAMQP_OK, &call.err);
    CHECK(call.seq == 4, "the waiting publish got sequence %" PRIu64 ", expected 4 (refused publishes take none)",
          call.seq);
    fb_expect_publish(&peer, ch, T_MS);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_CONFIRM_ACK, ch, T_MS);
    CHECK(e->delivery_tag == 2 && (e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) && e->status == SWAMQP_OK,
          "ack: tag %" PRIu64 " flags 0x%x", e->delivery_tag, e->flags);
    fb_send_confirm(&peer, ch, false, 3, false);
    e = ev_wait(conn, SWAMQP_EVENT_CONFIRM_NACK, ch, T_MS);
    CHECK(e->delivery_tag == 3 && !(e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) && e->status == SWAMQP_OK && e->error == NULL,
          "broker nack: tag %" PRIu64 " flags 0x%x status %s", e->delivery_tag, e->flags,
          swamqp_status_string(e->status));
    fb_send_confirm(&peer, ch, true, 4, false);
    e = ev_wait(conn, SWAMQP_EVENT_CONFIRM_ACK, ch, T_MS);
    CHECK(e->delivery_tag == 4 && !(e->flags & SWAMQP_EVENT_FLAG_MULTIPLE), "ack of 4: tag %" PRIu64, e->delivery_tag);
    finish(conn, &peer);
}

/* Without a timed-out wait in between: NACKED once, then OK. */
void test_nacked_then_ok(void)
{
    swamqp_error err;
    fb_peer peer;
    uint16_t ch;
    swamqp_connection *conn = setup(&peer, 0, true, &ch);
    publish_seq(conn, &peer, ch, 1);
    publish_seq(conn, &peer, ch, 2);
    fb_send_confirm(&peer, ch, false, 1, false);
    fb_send_confirm(&peer, ch, true, 2, false);
    ev_wait(conn, SWAMQP_EVENT_CONFIRM_ACK, ch, T_MS);
    CHECK_STATUS(swamqp_wait_for_confirms(conn, ch, T_MS, &err), SWAMQP_ERR_NACKED, &err);
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
    finish(conn, &peer);
}

/* A nack that arrives after a wait timed out is still reported by the next wait. */
void test_nack_after_timed_out_wait(void)
{
    swamqp_error err;
    fb_peer peer;
    uint16_t ch;
    swamqp_connection *conn = setup(&peer, 0, true, &ch);
    publish_seq(conn, &peer, ch, 1);
    publish_seq(conn, &peer, ch, 2);
    CHECK_STATUS(swamqp_wait_for_confirms(conn, ch, 200, &err), SWAMQP_ERR_TIMEOUT, &err);
    fb_send_confirm(&peer, ch, false, 1, false);
    fb_send_confirm(&peer, ch, true, 2, false);
    ev_wait(conn, SWAMQP_EVENT_CONFIRM_ACK, ch, T_MS);
    CHECK_STATUS(swamqp_wait_for_confirms(conn, ch, T_MS, &err), SWAMQP_ERR_NACKED, &err);
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
    finish(conn, &peer);
}

/* "every publish made on the channel so far": a wait is not held up by publishes made after it. */
void test_wait_covers_publishes_so_far(void)
{
    swamqp_error err;
    fb_peer peer;
    uint16_t ch;
    swamqp_connection *conn = setup(&peer, 0, true, &ch);
    publish_seq(conn, &peer, ch, 1);
    uint64_t rid = 0;
    CHECK_OK(swamqp_wait_for_confirms_async(conn, ch, &rid, &err), &err);
    publish_seq(conn, &peer, ch, 2);
    fb_send_confirm(&peer, ch, true, 1, false);
    ev_completion(conn, rid, SWAMQP_OK, T_MS); /* 2 is still unconfirmed, but was published after the wait */
    fb_send_confirm(&peer, ch, true, 2, false);
    finish(conn, &peer);
}

/* The peer goes away with publishes unconfirmed: one CONFIRM_NACK fails them, CONNECTION_CLOSED last. */
void test_unconfirmed_at_loss(void)
{
    swamqp_error err;
    fb_peer peer;
    uint16_t ch;
    swamqp_connection *conn = setup(&peer, 0, true, &ch);
    for (uint64_t i = 1; i <= 5; i++)
        publish_seq(conn, &peer, ch, i);
    fb_send_confirm(&peer, ch, true, 2, true);
    ev_wait(conn, SWAMQP_EVENT_CONFIRM_ACK, ch, T_MS);
    uint64_t rid = 0;
    CHECK_OK(swamqp_wait_for_confirms_async(conn, ch, &rid, &err), &err);
    fb_close(&peer);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_CONFIRM_NACK, ch, T_MS);
    CHECK(e->delivery_tag == 5 && (e->flags & SWAMQP_EVENT_FLAG_MULTIPLE), "loss nack: tag %" PRIu64 " flags 0x%x",
          e->delivery_tag, e->flags);
    CHECK(e->status != SWAMQP_OK && e->error != NULL && e->error->status == e->status,
          "loss nack: status %s, error %p", swamqp_status_string(e->status), (const void *)e->error);
    fprintf(stderr, "unconfirmed at loss: %s: %s\n", swamqp_status_string(e->status), tu_err_text(e->error));
    /* the waiting wait_for_confirms fails; CONNECTION_CLOSED is the last event */
    bool closed = false, completed = false;
    for (;;) {
        e = ev_next(conn, closed ? 300 : T_MS);
        if (e == NULL)
            break;
        CHECK(!closed, "an event (%s) after CONNECTION_CLOSED", ev_type_name(e->type));
        if (e->type == SWAMQP_EVENT_CONNECTION_CLOSED) {
            closed = true;
            CHECK(e->status == SWAMQP_ERR_CONNECTION_LOST, "the peer's close reported as %s",
                  swamqp_status_string(e->status));
        } else if (e->type == SWAMQP_EVENT_COMPLETION && e->request_id == rid) {
            CHECK(e->status != SWAMQP_OK && e->status != SWAMQP_ERR_TIMEOUT && e->error != NULL,
                  "wait_for_confirms_async across the loss completed with %s", swamqp_status_string(e->status));
            completed = true;
        } else {
            CHECK(e->type == SWAMQP_EVENT_CHANNEL_CLOSED || e->type == SWAMQP_EVENT_LOG, "unexpected %s",
                  ev_type_name(e->type));
        }
    }
    CHECK(closed, "no CONNECTION_CLOSED after the peer closed the socket");
    CHECK(completed, "the wait_for_confirms_async pending at the loss never completed");
    int rc = swamqp_wait_for_confirms(conn, ch, T_MS, &err);
    CHECK(rc != SWAMQP_OK && rc != SWAMQP_ERR_TIMEOUT, "wait_for_confirms after the loss returned %s",
          swamqp_status_string(rc));
    CHECK_OK(swamqp_connection_free(conn), NULL);
}
