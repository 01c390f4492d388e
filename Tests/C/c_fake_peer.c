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
 */
#include "event_util.h"
#include "fake_broker.h"

#include <pthread.h>
#include <sys/wait.h>

#define T_MS 5000

/* A blocking call made on another thread while the test's thread plays the broker. */
enum call_kind { CALL_UPDATE_SECRET, CALL_PUBLISH };
typedef struct blocking_call {
    swamqp_connection *conn;
    enum call_kind kind;
    uint16_t channel;
    int rc;
    swamqp_error err;
    uint64_t seq;
    uint32_t timeout_ms;
    volatile int done;
} blocking_call;

static void *run_call(void *arg)
{
    blocking_call *c = arg;
    switch (c->kind) {
    case CALL_UPDATE_SECRET:
        c->rc = swamqp_connection_update_secret(c->conn, tu_b("new-token"), tu_b("rotation"), T_MS, &c->err);
        break;
    case CALL_PUBLISH:
        c->rc = swamqp_basic_publish(c->conn, c->channel, tu_b(""), tu_b("q"), 0, NULL, tu_b("waiting"), &c->seq,
                                     c->timeout_ms, &c->err);
        break;
    }
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static pthread_t start_call(blocking_call *c, swamqp_connection *conn, enum call_kind kind, uint16_t channel,
                            uint32_t timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->conn = conn;
    c->kind = kind;
    c->channel = channel;
    c->timeout_ms = timeout_ms;
    c->rc = 12345;
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, run_call, c) == 0, "pthread_create");
    return thread;
}

/* Connects a client to `peer`: open_async, accept, handshake, completion. */
static swamqp_connection *connect_to(fb_peer *peer, swamqp_connection_options *options, const char *mechanisms,
                                     uint16_t channel_max, uint32_t frame_max, uint16_t heartbeat, fb_frame *start_ok,
                                     fb_frame *tune_ok)
{
    swamqp_error err;
    swamqp_connection *conn = NULL;
    CHECK_OK(swamqp_connection_create(options, &conn, &err), &err);
    uint64_t rid = 0;
    CHECK_OK(swamqp_connection_open_async(conn, &rid, &err), &err);
    fb_accept(peer, 10000);
    fb_handshake_mech(peer, mechanisms, channel_max, frame_max, heartbeat, start_ok, tune_ok);
    ev_completion(conn, rid, SWAMQP_OK, 10000);
    CHECK(swamqp_connection_is_open(conn), "not open after the handshake");
    return conn;
}

static uint16_t open_channel(swamqp_connection *conn, fb_peer *peer)
{
    swamqp_error err;
    uint16_t ch = 0;
    uint64_t rid = 0;
    CHECK_OK(swamqp_channel_open_async(conn, &ch, &rid, &err), &err);
    fb_accept_channel(peer, ch);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);
    return ch;
}

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

static void test_flow(void)
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
static void test_confirm_bound(void)
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
static void test_nacked_then_ok(void)
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
static void test_nack_after_timed_out_wait(void)
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
static void test_wait_covers_publishes_so_far(void)
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
static void test_unconfirmed_at_loss(void)
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
