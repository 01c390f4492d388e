/*
 * c_hostile: what a hostile-input review reproduced against the library, each kept as a regression
 * test. A fake broker (fake_broker.h) on a local socket plays the parts RabbitMQ cannot be made to
 * play; every scenario runs in its own process, so a trap (SIGILL) fails that scenario only.
 *
 * - size_t lengths and counts of 2^63 and more (body (size_t)-1, routing key, queue name, table
 *   counts, next_events capacity, endpoint and CA counts) give INVALID_ARGUMENT naming the
 *   argument, and nothing is sent; a body over max_message_size likewise;
 * - a blocking RPC with timeout 0 is refused before it is sent;
 * - max_message_size UINT64_MAX and a content header announcing 2^63 bytes: the connection is
 *   closed with MESSAGE_TOO_LARGE, the process lives;
 * - the late reply of a timed-out swamqp_basic_get is not lost: handed back to the queue
 *   (basic.reject requeue) without NO_ACK, a LATE_GET_MESSAGE event with NO_ACK;
 * - close's timeout is honoured when the calling thread wrote the close frame itself, and a
 *   timeout near UINT32_MAX does not wrap into a short one;
 * - connect_timeout_ms UINT32_MAX does not turn into a 1 s open timeout;
 * - freeing a connection never opened (adopted socket closed) or one recovering wakes every
 *   blocked thread with CONNECTION_CLOSED;
 * - reading paused over event_queue_limit does not kill the connection by heartbeat timeout, and
 *   a blocking call made without draining still gets its reply;
 * - a callback may free another connection, not its own.
 *
 * The scenarios are in three files, with what they share in c_hostile.h:
 *   c_hostile.c           main, and lengths, counts and sizes (the first three items above)
 *   c_hostile_timeouts.c  the late basic.get reply, close's and open's timeouts, paused reading
 *   c_hostile_teardown.c  freeing a connection that others wait on, freeing from a callback
 */
#include "c_hostile.h"

static void test_huge_lengths(void)
{
    swamqp_error err;
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.heartbeat = 0;
    options.max_message_size = 1000;
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    uint16_t ch = open_channel(conn, &peer);
    static const char text[] = "hello";
    const swamqp_bytes minus_one = {text, (size_t)-1}, top_bit = {text, (size_t)1 << 63};

    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, minus_one, NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "body length") != NULL, "the error does not name the body: %s", err.message);
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), top_bit, 0, NULL, tu_b("x"), NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "routing_key") != NULL, "the error does not name routing_key: %s", err.message);
    CHECK_STATUS(swamqp_basic_publish(conn, ch, minus_one, tu_b("q"), 0, NULL, tu_b("x"), NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    /* a body one byte over max_message_size */
    static char big[1001];
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_bn(big, sizeof big), NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "max_message_size") != NULL, "%s", err.message);

    /* a queue name of SIZE_MAX bytes must not declare a server-named queue */
    uint64_t rid = 0;
    const swamqp_bytes huge_name = {"q", SIZE_MAX};
    CHECK_STATUS(swamqp_queue_declare_async(conn, ch, huge_name, 0, NULL, &rid, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "queue") != NULL, "%s", err.message);

    /* table counts, a nested array count, a long string in a table */
    swamqp_table_entry entry;
    memset(&entry, 0, sizeof entry);
    entry.key = tu_b("k");
    entry.value.kind = 'S';
    entry.value.value.bytes = tu_b("v");
    swamqp_table table = {SIZE_MAX, &entry};
    swamqp_properties props;
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_HEADERS;
    props.headers = table;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, &props, tu_b("x"), NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "field table count") != NULL, "%s", err.message);
    entry.value.value.bytes = minus_one;
    props.headers.count = 1;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, &props, tu_b("x"), NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    swamqp_field_value element;
    memset(&element, 0, sizeof element);
    element.kind = 'I';
    entry.value.kind = 'A';
    entry.value.value.array.count = (size_t)1 << 63;
    entry.value.value.array.values = &element;
    CHECK_STATUS(swamqp_exchange_declare_async(conn, ch, tu_b("x"), tu_b("direct"), 0, &props.headers, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "field array count") != NULL, "%s", err.message);
    entry.key.len = SIZE_MAX;
    CHECK_STATUS(swamqp_exchange_declare_async(conn, ch, tu_b("x"), tu_b("direct"), 0, &props.headers, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);

    /* a blocking RPC with timeout 0 is refused, not sent */
    CHECK_STATUS(swamqp_queue_declare(conn, ch, tu_b("q0"), 0, NULL, NULL, 0, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "nothing was sent") != NULL, "%s", err.message);

    /* none of the above reached the broker: the next frame is this publish */
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("good"), NULL, 1000, &err), &err);
    CHECK(fb_expect_publish(&peer, ch, T_MS) == 4, "the first frame the broker saw is not the good publish");

    /* next_events with a capacity near SIZE_MAX takes what there is */
    CHECK_OK(swamqp_channel_open_async(conn, &ch, &rid, &err), &err);
    fb_accept_channel(&peer, ch);
    swamqp_event events[4];
    size_t n = 0;
    int64_t deadline = tu_now_ms() + T_MS;
    while (n == 0 && tu_now_ms() < deadline)
        CHECK_OK(swamqp_next_events(conn, events, SIZE_MAX >> 1, &n, 100), NULL);
    CHECK(n >= 1 && n <= 4, "next_events with capacity SIZE_MAX>>1 wrote %zu events", n);
    CHECK_STATUS(swamqp_next_events(conn, events, SIZE_MAX, &n, 0), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK(swamqp_connection_is_open(conn), "the connection did not survive");
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static void test_option_counts(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    swamqp_connection *conn = (swamqp_connection *)1;
    swamqp_endpoint endpoint = {"127.0.0.1", 5672};
    static const size_t huge[] = {(size_t)1 << 63, SIZE_MAX, 1025};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        swamqp_connection_options_init(&options);
        options.endpoints = &endpoint;
        options.endpoint_count = huge[i];
        CHECK_STATUS(swamqp_connection_create(&options, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
        CHECK(conn == NULL && strstr(err.message, "endpoint_count") != NULL, "%s", err.message);
        swamqp_connection_options_init(&options);
        options.tls = true;
        swamqp_bytes certificate = tu_b("not really DER");
        options.tls_ca_certificates = &certificate;
        options.tls_ca_certificate_count = huge[i];
        CHECK_STATUS(swamqp_connection_create(&options, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
        CHECK(strstr(err.message, "tls_ca_certificate_count") != NULL, "%s", err.message);
    }
    swamqp_connection_options_init(&options);
    options.tls = true;
    swamqp_bytes certificate = {"x", SIZE_MAX};
    options.tls_ca_certificates = &certificate;
    options.tls_ca_certificate_count = 1;
    CHECK_STATUS(swamqp_connection_create(&options, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
}

static void test_huge_body_size_without_limit(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.max_message_size = UINT64_MAX; /* "no limit of ours" */
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    uint16_t ch = open_channel(conn, &peer);
    fb_buf a;
    a.len = 0;
    fb_shortstr(&a, "ctag");
    fb_u64(&a, 1);
    fb_u8(&a, 0);
    fb_shortstr(&a, "");
    fb_shortstr(&a, "rk");
    fb_send_method(&peer, ch, 60, 60, &a);
    send_content_header(&peer, ch, (uint64_t)1 << 63);
    /* The client may close as soon as it has read the header: the body frame may not get through. */
    static const uint8_t body_frame[] = {3, 0, 1, 0, 0, 0, 4, 'b', 'o', 'd', 'y', 0xCE};
    (void)send(peer.fd, body_frame, sizeof body_frame, MSG_NOSIGNAL);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_CONNECTION_CLOSED, EV_ANY_CHANNEL, T_MS);
    CHECK(e->status == SWAMQP_ERR_MESSAGE_TOO_LARGE, "closed with %s", swamqp_status_string(e->status));
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, 0, 10, 50, T_MS); /* connection.close with a reason */
    free(f.payload);
    swamqp_connection_free(conn);
    fb_close(&peer);
}

int main(void)
{
    int failed = 0;
    failed += fb_run_scenario("size_t lengths and counts >= 2^63, body over max_message_size, RPC timeout 0", test_huge_lengths);
    failed += fb_run_scenario("endpoint and CA counts >= 2^63 or over 1024", test_option_counts);
    failed += fb_run_scenario("max_message_size UINT64_MAX, body size 2^63", test_huge_body_size_without_limit);
    failed += fb_run_scenario("a late no-ack basic.get message is handed out", test_late_get_no_ack);
    failed += fb_run_scenario("a late basic.get message goes back to the queue", test_late_get_requeued);
    failed += fb_run_scenario("close's timeout is honoured after a direct write", test_close_timeout_honoured);
    failed += fb_run_scenario("close(UINT32_MAX - 500) does not wrap", test_close_timeout_near_max);
    failed += fb_run_scenario("connect_timeout_ms SWAMQP_WAIT_FOREVER", test_connect_timeout_forever);
    failed += fb_run_scenario("free of a never-opened connection wakes the drain, closes the adopted socket", test_free_never_opened);
    failed += fb_run_scenario("free during recovery wakes a waiting publish and drain", test_free_during_recovery);
    failed += fb_run_scenario("paused reading: no heartbeat timeout, a blocking call still answered", test_paused_reading_keeps_heartbeat);
    failed += fb_run_scenario("a callback frees another connection, not its own", test_free_other_in_callback);
    if (failed) {
        fprintf(stderr, "FAIL c_hostile: %d scenario(s) failed\n", failed);
        return 1;
    }
    printf("c_hostile: OK\n");
    return 0;
}
