/*
 * c_tls: publishing and consuming over TLS against the real broker (scripts/broker start --tls).
 *
 * - AMQPS_URL with the test CA: the connection verifies the broker (chain and host name "localhost")
 *   and a message round-trips;
 * - the IP address 127.0.0.1 as host verifies against the certificate's IP SAN;
 * - an amqps:// URL carrying cacertfile, server_name_indication, heartbeat and channel_max in its
 *   query connects and negotiates those values;
 * - 2000 messages published with confirms on one channel while a consumer on another receives them,
 *   in order and intact;
 * - a 16 MiB message round-trips through a consumer and through basic.get (TLS records are at most
 *   16 KiB, so this drives partial writes and many reads per frame), and 1 MiB at frame_max 4096;
 * - heartbeat = 1 s: the application sleeps 4 s and the connection still works (heartbeats flow
 *   over TLS in both directions without the caller).
 * Needs AMQPS_URL and SWIFTAMQP_TLS_DIR (FAILS without them).
 */
#include "tls_util.h"

#define BIG (16u * 1024 * 1024)

static uint8_t pattern_byte(size_t i, unsigned salt)
{
    return (uint8_t)(((i * 2654435761u) >> 13) ^ i ^ (salt * 131u));
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

static uint16_t open_channel(swamqp_connection *conn)
{
    swamqp_error err;
    uint16_t ch = 0;
    CHECK_OK(swamqp_channel_open(conn, &ch, TLS_T_MS, &err), &err);
    return ch;
}

/** A server-named exclusive queue; its name goes into `buf` (256 bytes). */
static swamqp_bytes temp_queue(swamqp_connection *conn, uint16_t ch, char *buf)
{
    swamqp_error err;
    swamqp_queue_declare_ok ok;
    memset(&ok, 0, sizeof ok);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(""), SWAMQP_EXCLUSIVE, NULL, &ok, TLS_T_MS, &err), &err);
    CHECK(ok.name_len > 0 && ok.name_len < 256, "server-named queue of length %zu", ok.name_len);
    memcpy(buf, ok.name, ok.name_len + 1);
    return tu_bn(buf, ok.name_len);
}

/** Fails on a CONNECTION_CLOSED or CHANNEL_CLOSED event. */
static void refuse_close_event(const swamqp_event *e, const char *what)
{
    if (e->type == SWAMQP_EVENT_CONNECTION_CLOSED || e->type == SWAMQP_EVENT_CHANNEL_CLOSED)
        FAILF("%s: %s event (channel %u): %s", what,
              e->type == SWAMQP_EVENT_CONNECTION_CLOSED ? "CONNECTION_CLOSED" : "CHANNEL_CLOSED", e->channel,
              e->error ? tu_err_text(e->error) : "(no error)");
}

/* ---- connecting ------------------------------------------------------------------------- */

static void test_connect_and_tune(void)
{
    swamqp_error err;
    swamqp_connection_options o;
    tls_options(&o);
    o.connection_name = "swiftamqp Tests/C c_tls";
    CHECK(o.port != 5672, "AMQPS_URL gave port %u, the plain AMQP port", o.port);
    swamqp_connection *conn = tu_connect_with(&o);
    uint16_t cm = 0, hb = 0;
    uint32_t fm = 0;
    CHECK_OK(swamqp_connection_tune(conn, &cm, &fm, &hb), NULL);
    CHECK(fm >= 4096 && cm >= 1, "tune over TLS: channel_max %u frame_max %" PRIu32, cm, fm);
    TLS_ROUND_TRIP(conn, "AMQPS_URL with the test CA");
    CHECK_OK(swamqp_connection_close(conn, TLS_T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    printf("connect over TLS: OK\n");

    /* The certificate names IP:127.0.0.1 as well: an IP literal host verifies against it. */
    tls_options(&o);
    o.host = "127.0.0.1";
    TLS_EXPECT_SUCCESS("host 127.0.0.1 (the certificate's IP SAN)", &o);
}

static void test_url_query(void)
{
    swamqp_error err;
    /* AMQPS_URL plus TLS and tuning parameters in the query, as RabbitMQ's URI parameters spell them. */
    const char *base = tls_amqps_url();
    CHECK(strchr(base, '?') == NULL, "AMQPS_URL already has a query: %s", base);
    char url[2048];
    snprintf(url, sizeof url, "%s?cacertfile=%s&server_name_indication=localhost&heartbeat=7&channel_max=100"
             "&connection_timeout=%d&verify=verify_peer",
             base, tls_file("ca.pem"), TLS_CONNECT_TIMEOUT_MS);
    swamqp_connection_options o;
    swamqp_connection_options_init(&o);
    CHECK_OK(swamqp_parse_url(url, &o, &err), &err);
    CHECK(o.tls && o.tls_ca_file != NULL && strcmp(o.tls_ca_file, tls_file("ca.pem")) == 0,
          "cacertfile not taken from %s", url);
    CHECK(o.connect_timeout_ms == TLS_CONNECT_TIMEOUT_MS, "connection_timeout: %u", o.connect_timeout_ms);
    swamqp_connection *conn = tu_connect_with(&o);
    uint16_t cm = 0, hb = 0;
    uint32_t fm = 0;
    CHECK_OK(swamqp_connection_tune(conn, &cm, &fm, &hb), NULL);
    CHECK(hb == 7, "heartbeat=7 in the URL negotiated %u", hb);
    CHECK(cm == 100, "channel_max=100 in the URL negotiated %u", cm);
    TLS_ROUND_TRIP(conn, "URL with cacertfile & co.");
    CHECK_OK(swamqp_connection_close(conn, TLS_T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    printf("amqps:// URL with query parameters: OK\n");
}

/* ---- many messages: publish with confirms while consuming ----------------------------------- */

#define MANY 2000

static void test_many_messages(void)
{
    swamqp_error err;
    swamqp_connection_options o;
    tls_options(&o);
    swamqp_connection *conn = tu_connect_with(&o);
    char qbuf[256];
    uint16_t pch = open_channel(conn), cch = open_channel(conn);
    swamqp_bytes q = temp_queue(conn, pch, qbuf);
    CHECK_OK(swamqp_basic_consume(conn, cch, q, tu_b("many"), SWAMQP_NO_ACK, NULL, NULL, TLS_T_MS, &err), &err);
    CHECK_OK(swamqp_confirm_select(conn, pch, TLS_T_MS, &err), &err);

    int64_t t0 = tu_now_ms();
    for (unsigned i = 0; i < MANY; i++) {
        char body[64];
        int n = snprintf(body, sizeof body, "message %u over TLS", i);
        CHECK_OK(swamqp_basic_publish(conn, pch, tu_b(""), q, 0, NULL, tu_bn(body, (size_t)n), NULL, TLS_T_MS, &err),
                 &err);
    }
    CHECK_OK(swamqp_wait_for_confirms(conn, pch, 30000, &err), &err);

    unsigned next = 0;
    swamqp_event ev[64];
    int64_t deadline = tu_now_ms() + 30000;
    while (next < MANY && tu_now_ms() < deadline) {
        size_t n = 0;
        CHECK_OK(swamqp_next_events(conn, ev, 64, &n, 1000), NULL);
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &ev[i];
            refuse_close_event(e, "many messages");
            if (e->type == SWAMQP_EVENT_CONFIRM_NACK)
                FAILF("many messages: the broker nacked publish %" PRIu64, e->delivery_tag);
            if (e->type != SWAMQP_EVENT_DELIVERY)
                continue;
            char expect[64];
            snprintf(expect, sizeof expect, "message %u over TLS", next);
            CHECK(e->channel == cch, "delivery on channel %u, expected %u", e->channel, cch);
            CHECK(tu_bytes_eq(e->message->body, expect), "delivery %u is %s, expected \"%s\"", next,
                  tu_show(e->message->body), expect);
            next++;
        }
    }
    CHECK(next == MANY, "only %u of %u messages were delivered within 30 s", next, MANY);
    printf("%u messages published with confirms and consumed over TLS in %" PRId64 " ms\n", MANY,
           tu_now_ms() - t0);
    CHECK_OK(swamqp_connection_close(conn, TLS_T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
}

/* ---- large messages ----------------------------------------------------------------------- */

/** Publishes `len` bytes twice; receives the first through a consumer and the second by basic.get. */
static void large_round_trip(uint32_t frame_max, size_t len, unsigned salt)
{
    swamqp_error err;
    swamqp_connection_options o;
    tls_options(&o);
    if (frame_max)
        o.frame_max = frame_max;
    swamqp_connection *conn = tu_connect_with(&o);
    char what[128];
    snprintf(what, sizeof what, "%zu-byte message at frame_max %" PRIu32 " over TLS", len, o.frame_max);

    char qbuf[256];
    uint16_t ch = open_channel(conn);
    swamqp_bytes q = temp_queue(conn, ch, qbuf);
    uint8_t *body = make_body(len, salt);
    swamqp_properties p;
    memset(&p, 0, sizeof p);
    p.flags = SWAMQP_PROP_MESSAGE_ID;
    p.message_id = tu_b("large-over-tls");

    int64_t t0 = tu_now_ms();
    CHECK_OK(swamqp_confirm_select(conn, ch, TLS_T_MS, &err), &err);
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, &p, tu_bn(body, len), NULL, 30000, &err), &err);
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, &p, tu_bn(body, len), NULL, 30000, &err), &err);
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, 30000, &err), &err);

    /* through a consumer, with prefetch 1 so that only the first copy is delivered */
    uint16_t cch = open_channel(conn);
    CHECK_OK(swamqp_basic_qos(conn, cch, 0, 1, 0, TLS_T_MS, &err), &err);
    CHECK_OK(swamqp_basic_consume(conn, cch, q, tu_b("large"), 0, NULL, NULL, TLS_T_MS, &err), &err);
    bool got = false;
    uint64_t tag = 0;
    int64_t deadline = tu_now_ms() + 30000;
    swamqp_event ev[16];
    while (!got && tu_now_ms() < deadline) {
        size_t n = 0;
        CHECK_OK(swamqp_next_events(conn, ev, 16, &n, 1000), NULL);
        for (size_t i = 0; i < n; i++) {
            refuse_close_event(&ev[i], what);
            if (ev[i].type == SWAMQP_EVENT_DELIVERY && !got) {
                check_body(ev[i].message->body, len, salt, what);
                CHECK_BYTES(ev[i].message->properties.message_id, "large-over-tls");
                tag = ev[i].message->delivery_tag;
                got = true;
            }
        }
    }
    CHECK(got, "%s: no delivery within 30 s", what);
    CHECK_OK(swamqp_basic_cancel(conn, cch, tu_b("large"), 0, TLS_T_MS, &err), &err);
    CHECK_OK(swamqp_basic_ack(conn, cch, tag, 0, &err), &err);
    CHECK_OK(swamqp_channel_close(conn, cch, TLS_T_MS, &err), &err);

    /* the second copy through basic.get */
    swamqp_message *m = NULL;
    deadline = tu_now_ms() + 10000;
    do {
        CHECK_OK(swamqp_basic_get(conn, ch, q, SWAMQP_NO_ACK, &m, 30000, &err), &err);
        if (m == NULL)
            tu_sleep_ms(50);
    } while (m == NULL && tu_now_ms() < deadline);
    CHECK(m != NULL, "%s: basic.get found the queue empty", what);
    check_body(m->body, len, salt, what);
    swamqp_message_free(m);
    free(body);
    printf("%s: published twice, consumed and got in %" PRId64 " ms\n", what, tu_now_ms() - t0);
    CHECK_OK(swamqp_connection_close(conn, TLS_T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
}

/* ---- heartbeats --------------------------------------------------------------------------- */

static void test_heartbeat(void)
{
    swamqp_error err;
    swamqp_connection_options o;
    tls_options(&o);
    o.heartbeat = 1;
    swamqp_connection *conn = tu_connect_with(&o);
    uint16_t cm = 0, hb = 0;
    uint32_t fm = 0;
    CHECK_OK(swamqp_connection_tune(conn, &cm, &fm, &hb), NULL);
    CHECK(hb == 1, "negotiated heartbeat %u, expected 1", hb);

    swamqp_stats before, after;
    CHECK_OK(swamqp_connection_stats(conn, &before), NULL);
    tu_sleep_ms(4000); /* four heartbeat intervals without a call into the library */
    CHECK(swamqp_connection_is_open(conn), "the TLS connection closed while the application slept 4 s");
    CHECK_OK(swamqp_connection_stats(conn, &after), NULL);
    CHECK(after.heartbeats_out - before.heartbeats_out >= 2,
          "only %" PRIu64 " heartbeats sent over TLS in 4 s at heartbeat 1", after.heartbeats_out - before.heartbeats_out);
    CHECK(after.heartbeats_in - before.heartbeats_in >= 2,
          "only %" PRIu64 " heartbeats received over TLS in 4 s at heartbeat 1",
          after.heartbeats_in - before.heartbeats_in);

    swamqp_event ev[16];
    size_t n = 0;
    do {
        CHECK_OK(swamqp_next_events(conn, ev, 16, &n, 0), NULL);
        for (size_t i = 0; i < n; i++)
            refuse_close_event(&ev[i], "heartbeat 1 over TLS");
    } while (n == 16);
    TLS_ROUND_TRIP(conn, "after 4 s of silence at heartbeat 1");
    CHECK_OK(swamqp_connection_close(conn, TLS_T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    printf("heartbeat 1 over TLS: %" PRIu64 " sent, %" PRIu64 " received in 4 s: OK\n",
           after.heartbeats_out - before.heartbeats_out, after.heartbeats_in - before.heartbeats_in);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_connect_and_tune();
    test_url_query();
    test_many_messages();
    large_round_trip(0, BIG, 1);
    large_round_trip(4096, 1024 * 1024 + 17, 2);
    test_heartbeat();
    printf("c_tls: OK\n");
    return 0;
}
