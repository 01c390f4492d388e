/*
 * c_hostile, timeouts: the late reply of a timed-out basic.get is not lost, close's timeout is
 * honoured and does not wrap near UINT32_MAX, connect_timeout_ms SWAMQP_WAIT_FOREVER waits for a
 * slow broker, and reading paused over event_queue_limit neither ends in a heartbeat timeout nor
 * keeps a blocking call from its reply.
 */
#include "c_hostile.h"

static void late_get(bool no_ack)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    uint16_t ch = open_channel(conn, &peer);
    blocking_call get;
    pthread_t thread = start_call(&get, conn, CALL_GET, ch, no_ack ? SWAMQP_NO_ACK : 0, 200);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, ch, 60, 70, T_MS);
    pthread_join(thread, NULL);
    CHECK(get.rc == SWAMQP_ERR_TIMEOUT, "the get returned %s: %s", swamqp_status_string(get.rc), tu_err_text(&get.err));
    /* the get-ok arrives after the caller gave up */
    fb_buf a;
    a.len = 0;
    fb_u64(&a, 7);
    fb_u8(&a, 0);
    fb_shortstr(&a, "");
    fb_shortstr(&a, "q");
    fb_u32(&a, 0);
    fb_send_method(&peer, ch, 60, 71, &a);
    send_content_header(&peer, ch, 4);
    fb_send_frame(&peer, 3, ch, "late", 4);
    if (no_ack) {
        const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_LATE_GET_MESSAGE, ch, T_MS);
        CHECK(e->message != NULL && tu_bytes_eq(e->message->body, "late") && e->delivery_tag == 7,
              "late message: body %s tag %" PRIu64, e->message ? tu_show(e->message->body) : "(none)", e->delivery_tag);
    } else {
        fb_expect_method(&peer, &f, ch, 60, 90, T_MS); /* basic.reject */
        CHECK(f.size == 4 + 9 && fb_get64(f.payload + 4) == 7 && f.payload[12] == 1,
              "basic.reject of tag %" PRIu64 " requeue %u", fb_get64(f.payload + 4), f.payload[12]);
    }
    free(f.payload);
    CHECK(swamqp_connection_is_open(conn), "the connection did not survive the late reply");
    swamqp_connection_free(conn);
    fb_close(&peer);
}
void test_late_get_no_ack(void) { late_get(true); }
void test_late_get_requeued(void) { late_get(false); }

void test_close_timeout_honoured(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.heartbeat = 0; /* no heartbeat timer to wake the I/O thread by chance */
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    tu_sleep_ms(100); /* sparse commands: the close frame is written by the calling thread */
    int64_t start = tu_now_ms();
    blocking_call close_call;
    pthread_t thread = start_call(&close_call, conn, CALL_CLOSE, 0, 0, 300);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, 0, 10, 50, T_MS); /* never answered */
    free(f.payload);
    int64_t eof = wait_eof(peer.fd, 5000);
    CHECK(eof >= 0, "the socket was still open 5 s after close(300) without close-ok");
    CHECK(tu_now_ms() - start < 2000, "the socket closed %" PRId64 " ms after close(300)", tu_now_ms() - start);
    pthread_join(thread, NULL);
    CHECK(close_call.returned_at - start < 2000, "close(300) returned after %" PRId64 " ms",
          close_call.returned_at - start);
    swamqp_connection_free(conn);
    fb_close(&peer);
}

void test_close_timeout_near_max(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    int64_t start = tu_now_ms();
    blocking_call close_call;
    pthread_t thread = start_call(&close_call, conn, CALL_CLOSE, 0, 0, UINT32_MAX - 500);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, 0, 10, 50, T_MS);
    free(f.payload);
    tu_sleep_ms(1500);
    CHECK(!is_done(&close_call), "close(UINT32_MAX - 500) returned after %" PRId64 " ms: %s",
          close_call.returned_at - start, swamqp_status_string(close_call.rc));
    fb_buf a;
    a.len = 0;
    fb_send_method(&peer, 0, 10, 51, &a); /* close-ok */
    pthread_join(thread, NULL);
    CHECK(close_call.rc == SWAMQP_OK, "close returned %s: %s", swamqp_status_string(close_call.rc), tu_err_text(&close_call.err));
    swamqp_connection_free(conn);
    fb_close(&peer);
}

void test_connect_timeout_forever(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.connect_timeout_ms = SWAMQP_WAIT_FOREVER;
    swamqp_error err;
    swamqp_connection *conn = NULL;
    CHECK_OK(swamqp_connection_create(&options, &conn, &err), &err);
    blocking_call open_call;
    pthread_t thread = start_call(&open_call, conn, CALL_OPEN, 0, 0, 0);
    fb_accept(&peer, 10000);
    tu_sleep_ms(1500); /* a slow broker */
    CHECK(!is_done(&open_call), "open gave up after 1.5 s: %s", swamqp_status_string(open_call.rc));
    fb_handshake(&peer, 0, 131072, 0, NULL);
    pthread_join(thread, NULL);
    CHECK(open_call.rc == SWAMQP_OK, "open returned %s: %s", swamqp_status_string(open_call.rc), tu_err_text(&open_call.err));
    swamqp_connection_free(conn);
    fb_close(&peer);
}

void test_paused_reading_keeps_heartbeat(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.heartbeat = 1;
    options.event_queue_limit = 4096;
    swamqp_connection *conn = connect_to(&peer, &options, 1);
    uint16_t ch = open_channel(conn, &peer);
    for (uint64_t tag = 1; tag <= 50; tag++)
        send_delivery(&peer, ch, tag, "0123456789abcdef");
    /* the application does not drain for 4 heartbeat intervals; the broker keeps beating */
    for (int i = 0; i < 16; i++) {
        fb_send_frame(&peer, 8, 0, NULL, 0);
        tu_sleep_ms(250);
    }
    CHECK(swamqp_connection_is_open(conn), "the connection died while reading was paused");
    /* a blocking call without draining: its reply sits behind the unread heartbeats */
    blocking_call declare;
    pthread_t thread = start_call(&declare, conn, CALL_DECLARE, ch, 0, 3000);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, ch, 50, 10, T_MS);
    free(f.payload);
    fb_buf a;
    a.len = 0;
    fb_shortstr(&a, "q");
    fb_u32(&a, 0);
    fb_u32(&a, 0);
    fb_send_method(&peer, ch, 50, 11, &a);
    pthread_join(thread, NULL);
    CHECK(declare.rc == SWAMQP_OK, "the declare returned %s: %s", swamqp_status_string(declare.rc), tu_err_text(&declare.err));
    /* every delivery is still there */
    uint64_t next_tag = 1;
    while (next_tag <= 50) {
        const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_DELIVERY, ch, T_MS);
        CHECK(e->delivery_tag == next_tag, "delivery %" PRIu64 " where %" PRIu64 " was due", e->delivery_tag, next_tag);
        next_tag++;
    }
    swamqp_connection_free(conn);
    fb_close(&peer);
}
