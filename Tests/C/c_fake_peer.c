/*
 * c_fake_peer: what a real RabbitMQ does not do on demand, played by the test (fake_broker.h) on a
 * local socket, deterministically.
 *
 * - the handshake: client properties carry connection_name and the eight capabilities; PLAIN by
 *   default, AMQPLAIN when asked and when AUTO meets a broker that offers only AMQPLAIN;
 * - tune: the smaller frame_max, the broker's channel_max, a broker heartbeat 0 keeps ours, as
 *   reported by swamqp_connection_tune and sent in tune-ok; channel_max bounds channel numbers
 *   (SWAMQP_ERR_CHANNEL_LIMIT);
 * - a server-sent channel.flow(false): FLOW event, flow-ok, publishing waits (TIMEOUT, WOULD_BLOCK);
 *   flow(true) resumes it;
 * - confirms withheld: max_unconfirmed 3 makes the 4th publish wait (TIMEOUT / WOULD_BLOCK, and a
 *   waiting publish resumes on the ack), wait_for_confirms times out, acks (MULTIPLE) and nacks are
 *   reported, NACKED once then OK;
 * - connection.update-secret is sent as 10.70 and completes on update-secret-ok;
 * - server channel.close → close-ok and CHANNEL_CLOSED with the reply; our channel.close;
 * - the peer closes the socket with publishes unconfirmed: one CONFIRM_NACK (MULTIPLE, highest
 *   sequence, non-zero status, error) fails them, then CONNECTION_CLOSED (CONNECTION_LOST) is last;
 * - a server connection.close → close-ok and CONNECTION_CLOSED with the reply;
 * - a silent peer with heartbeat 1 s → SWAMQP_ERR_HEARTBEAT_TIMEOUT within a few seconds.
 *
 * This file holds main and the connection's scenarios (handshake, tune, channel_max, update-secret,
 * server connection.close, auth mechanisms, heartbeat timeout); c_fake_peer_channel.c those of a
 * channel (flow, server channel.close, publisher confirms); c_fake_peer.h what they share.
 */
#include "c_fake_peer.h"

static void test_handshake_and_tune(void)
{
    static const char *const caps[] = {"publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                                       "consumer_cancel_notify", "connection.blocked", "authentication_failure_close",
                                       "per_consumer_qos", "direct_reply_to"};
    swamqp_error err;
    fb_peer peer;
    fb_frame start_ok, tune_ok;
    memset(&start_ok, 0, sizeof start_ok);
    memset(&tune_ok, 0, sizeof tune_ok);
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.connection_name = "fake-peer-connection-name";
    options.user = "alice";
    options.password = "s3cret";
    swamqp_connection *conn = connect_to(&peer, &options, "PLAIN AMQPLAIN", 5, 65536, 0, &start_ok, &tune_ok);
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        CHECK(fb_payload_contains(&start_ok, caps[i]), "start-ok client properties lack capability %s", caps[i]);
    CHECK(fb_payload_contains(&start_ok, "connection_name") && fb_payload_contains(&start_ok, "fake-peer-connection-name"),
          "start-ok lacks connection_name");
    CHECK(fb_payload_contains(&start_ok, "\x05PLAIN"), "default mechanism is not PLAIN");
    static const char plain[] = "\x00" "alice" "\x00" "s3cret";
    CHECK(fb_payload_contains_n(&start_ok, plain, sizeof plain - 1), "PLAIN response is not \\0alice\\0s3cret");
    /* tune-ok: channel_max 5 (the broker's), frame_max 65536 (the smaller), heartbeat 60 (ours; broker said 0) */
    CHECK(tune_ok.size == 12, "tune-ok of %" PRIu32 " bytes", tune_ok.size);
    CHECK(fb_get16(tune_ok.payload + 4) == 5 && fb_get32(tune_ok.payload + 6) == 65536 &&
              fb_get16(tune_ok.payload + 10) == 60,
          "tune-ok sent channel_max %u frame_max %" PRIu32 " heartbeat %u", fb_get16(tune_ok.payload + 4),
          fb_get32(tune_ok.payload + 6), fb_get16(tune_ok.payload + 10));
    uint16_t cm = 0, hb = 0;
    uint32_t fm = 0;
    CHECK_OK(swamqp_connection_tune(conn, &cm, &fm, &hb), NULL);
    CHECK(cm == 5 && fm == 65536 && hb == 60, "tune reports %u/%" PRIu32 "/%u, expected 5/65536/60", cm, fm, hb);

    /* channel_max 5: channels 1..5, then SWAMQP_ERR_CHANNEL_LIMIT; a closed one frees its number */
    uint16_t chans[5];
    for (int i = 0; i < 5; i++) {
        chans[i] = open_channel(conn, &peer);
        CHECK(chans[i] >= 1 && chans[i] <= 5, "channel number %u beyond channel_max 5", chans[i]);
    }
    uint16_t extra = 0;
    uint64_t rid = 0;
    tu_err_reset(&err);
    int rc = swamqp_channel_open_async(conn, &extra, &rid, &err);
    ev_expect_async(conn, rc, rid, SWAMQP_ERR_CHANNEL_LIMIT, &err, "channel_open_async beyond channel_max");
    CHECK_STATUS(swamqp_channel_open(conn, &extra, T_MS, &err), SWAMQP_ERR_CHANNEL_LIMIT, &err);
    CHECK_OK(swamqp_channel_close_async(conn, chans[2], &rid, &err), &err);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, chans[2], 20, 40, T_MS);
    CHECK(fb_get16(f.payload + 4) == 200, "our channel.close has reply code %u", fb_get16(f.payload + 4));
    fb_send_method(&peer, chans[2], 20, 41, NULL);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);
    CHECK(open_channel(conn, &peer) == chans[2], "the freed channel number was not reused");

    /* connection.update-secret: the blocking call runs on another thread while we answer */
    blocking_call call;
    pthread_t thread = start_call(&call, conn, CALL_UPDATE_SECRET, 0, T_MS);
    fb_expect_method(&peer, &f, 0, 10, 70, T_MS);
    CHECK(f.size == 4 + 4 + 9 + 1 + 8 && fb_get32(f.payload + 4) == 9 && memcmp(f.payload + 8, "new-token", 9) == 0 &&
              f.payload[17] == 8 && memcmp(f.payload + 18, "rotation", 8) == 0,
          "update-secret arguments (%" PRIu32 " bytes) are not longstr \"new-token\", shortstr \"rotation\"", f.size);
    fb_send_method(&peer, 0, 10, 71, NULL);
    pthread_join(thread, NULL);
    tu_check_status(__FILE__, __LINE__, "swamqp_connection_update_secret", call.rc, SWAMQP_OK, &call.err);

    /* a server connection.close: close-ok, CONNECTION_CLOSED with the reply */
    fb_buf a;
    a.len = 0;
    fb_u16(&a, 320);
    fb_shortstr(&a, "CONNECTION_FORCED - fake shutdown");
    fb_u16(&a, 0);
    fb_u16(&a, 0);
    fb_send_method(&peer, 0, 10, 50, &a);
    fb_expect_method(&peer, &f, 0, 10, 51, T_MS);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_CONNECTION_CLOSED, EV_ANY_CHANNEL, T_MS);
    CHECK(e->status == SWAMQP_ERR_CONNECTION_CLOSED && e->error && e->error->origin == SWAMQP_ORIGIN_BROKER &&
              e->error->reply_code == 320 && strstr(e->error->message, "fake shutdown") != NULL,
          "server connection.close reported as %s origin %d reply %u: %s", swamqp_status_string(e->status),
          e->error ? (int)e->error->origin : -1, e->error ? e->error->reply_code : 0,
          e->error ? e->error->message : "");
    CHECK(!swamqp_connection_is_open(conn), "open after the server's connection.close");
    free(start_ok.payload);
    free(tune_ok.payload);
    free(f.payload);
    fb_close(&peer);
    CHECK_OK(swamqp_connection_free(conn), NULL);
}

static void test_auth_mechanisms(void)
{
    fb_peer peer;
    fb_frame start_ok;
    memset(&start_ok, 0, sizeof start_ok);
    swamqp_connection_options options;

    /* asked for AMQPLAIN */
    fb_listen(&peer, 0);
    fb_client_options(&peer, &options);
    options.auth_mechanism = SWAMQP_AUTH_AMQPLAIN;
    options.user = "bob";
    options.password = "pw-amqplain";
    swamqp_connection *conn = connect_to(&peer, &options, "PLAIN AMQPLAIN", 0, 131072, 0, &start_ok, NULL);
    CHECK(fb_payload_contains(&start_ok, "\x08" "AMQPLAIN"), "start-ok mechanism is not AMQPLAIN");
    CHECK(fb_payload_contains(&start_ok, "LOGIN") && fb_payload_contains(&start_ok, "PASSWORD") &&
              fb_payload_contains(&start_ok, "bob") && fb_payload_contains(&start_ok, "pw-amqplain"),
          "AMQPLAIN response lacks LOGIN/PASSWORD");
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fb_close(&peer);

    /* AUTO against a broker that offers only AMQPLAIN */
    fb_listen(&peer, 0);
    fb_client_options(&peer, &options);
    conn = connect_to(&peer, &options, "AMQPLAIN", 0, 131072, 0, &start_ok, NULL);
    CHECK(fb_payload_contains(&start_ok, "\x08" "AMQPLAIN"), "AUTO did not pick AMQPLAIN when PLAIN is not offered");
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fb_close(&peer);

    /* asked for PLAIN against a broker without it: the connect fails with a status */
    fb_listen(&peer, 0);
    fb_client_options(&peer, &options);
    options.auth_mechanism = SWAMQP_AUTH_PLAIN;
    swamqp_error err;
    CHECK_OK(swamqp_connection_create(&options, &conn, &err), &err);
    uint64_t rid = 0;
    CHECK_OK(swamqp_connection_open_async(conn, &rid, &err), &err);
    fb_accept(&peer, 10000);
    uint8_t header[8];
    CHECK(fb_read_exact(&peer, header, 8, tu_now_ms() + 10000), "no protocol header");
    fb_buf a;
    a.len = 0;
    fb_u8(&a, 0);
    fb_u8(&a, 9);
    fb_longstr(&a, "", 0); /* an empty table */
    fb_longstr(&a, "AMQPLAIN", 8);
    fb_longstr(&a, "en_US", 5);
    fb_send_method(&peer, 0, 10, 10, &a);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_COMPLETION, EV_ANY_CHANNEL, 10000);
    CHECK(e->request_id == rid && e->status != SWAMQP_OK, "PLAIN required, broker offers AMQPLAIN only: open "
          "completed with %s", swamqp_status_string(e->status));
    fprintf(stderr, "PLAIN not offered: %s: %s\n", swamqp_status_string(e->status), e->error ? e->error->message : "");
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fb_close(&peer);
    free(start_ok.payload);
    fprintf(stderr, "auth mechanisms: OK\n");
}

static void test_heartbeat_timeout(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.heartbeat = 1;
    swamqp_connection *conn = connect_to(&peer, &options, "PLAIN", 0, 131072, 1, NULL, NULL);
    int64_t t0 = tu_now_ms();
    /* the peer says nothing from now on (and does not read either) */
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_CONNECTION_CLOSED, EV_ANY_CHANNEL, 10000);
    int64_t took = tu_now_ms() - t0;
    CHECK(e->status == SWAMQP_ERR_HEARTBEAT_TIMEOUT, "a silent peer closed the connection with %s",
          swamqp_status_string(e->status));
    CHECK(took >= 1500 && took <= 4500, "heartbeat timeout after %lld ms with heartbeat 1 s (2 intervals expected)",
          (long long)took);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fb_close(&peer);
    fprintf(stderr, "heartbeat timeout after %lld ms: OK\n", (long long)took);
}

/* Each scenario runs in a child process so that one failure does not hide the others. */
int main(void)
{
    int failed = 0;
    failed += fb_run_scenario("handshake, tune, channel_max, update-secret, server close", test_handshake_and_tune);
    failed += fb_run_scenario("auth mechanisms", test_auth_mechanisms);
    failed += fb_run_scenario("channel.flow, server channel.close", test_flow);
    failed += fb_run_scenario("max_unconfirmed bound, acks, broker nack", test_confirm_bound);
    failed += fb_run_scenario("NACKED then OK", test_nacked_then_ok);
    failed += fb_run_scenario("a nack after a timed-out wait is still reported", test_nack_after_timed_out_wait);
    failed += fb_run_scenario("wait_for_confirms covers the publishes made so far", test_wait_covers_publishes_so_far);
    failed += fb_run_scenario("unconfirmed publishes failed at connection loss", test_unconfirmed_at_loss);
    failed += fb_run_scenario("heartbeat timeout", test_heartbeat_timeout);
    if (failed) {
        fprintf(stderr, "FAIL c_fake_peer: %d scenario(s) failed\n", failed);
        return 1;
    }
    printf("c_fake_peer: OK\n");
    return 0;
}
