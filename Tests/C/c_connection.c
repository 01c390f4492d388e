/*
 * c_connection: connection- and channel-level behaviour against the real broker.
 *
 * - SASL: PLAIN and AMQPLAIN both log in; a wrong password with AMQPLAIN is SWAMQP_ERR_AUTH;
 * - connection_name is what the broker lists for the connection;
 * - channel_max 3 (option): negotiated 3, channels 1..3, then SWAMQP_ERR_CHANNEL_LIMIT; a closed
 *   channel's number is reused;
 * - channels close both ways: our channel.close (CHANNEL_CLOSED event with no broker error) and a
 *   broker channel exception, which closes that channel only: the other channels keep working;
 * - connection.update-secret with the current password is accepted and the connection keeps working;
 * - swamqp_connection_stats counts frames, bytes, publishes and deliveries;
 * - swamqp_connection_server_properties: the broker's connection.start table (product RabbitMQ,
 *   capabilities), after a size query;
 * - our close: close_async completes and CONNECTION_CLOSED is the last event;
 * - channel.flow from the client: active=true answered by flow-ok; active=false is connection error
 *   540 (RabbitMQ does not implement it);
 * - basic.publish with IMMEDIATE: RabbitMQ 3.x answers with connection error 540 NOT_IMPLEMENTED,
 *   reported as CONNECTION_CLOSED with origin BROKER, reply 540, class 60 method 40.
 */
#include "broker_ctl.h"
#include "event_util.h"

#define T_MS 5000

static void test_auth(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    static const int mechanisms[] = {SWAMQP_AUTH_PLAIN, SWAMQP_AUTH_AMQPLAIN, SWAMQP_AUTH_AUTO};
    for (size_t i = 0; i < 3; i++) {
        tu_options_from_env(&options);
        options.auth_mechanism = mechanisms[i];
        swamqp_connection *conn = tu_connect_with(&options);
        uint16_t ch = tu_channel(conn);
        char qbuf[256];
        tu_temp_queue(conn, ch, qbuf);
        CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
        CHECK_OK(swamqp_connection_free(conn), NULL);
    }
    tu_options_from_env(&options);
    options.auth_mechanism = SWAMQP_AUTH_AMQPLAIN;
    options.password = "wrong-password-amqplain";
    swamqp_connection *conn = (swamqp_connection *)0x1;
    CHECK_STATUS(swamqp_connect(&options, &conn, &err), SWAMQP_ERR_AUTH, &err);
    CHECK(conn == NULL, "failed connect left *out %p", (void *)conn);
    CHECK(strstr(err.message, "wrong-password-amqplain") == NULL, "the password appears in the error: %s", err.message);
    fprintf(stderr, "AMQPLAIN wrong password: %s\n", err.message);
}

static void test_channels(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    tu_options_from_env(&options);
    options.channel_max = 3;
    char name[200];
    tu_unique_name(name, sizeof name, "swiftamqp Tests/C c_connection", "channels");
    options.connection_name = name;
    swamqp_connection *conn = tu_connect_with(&options);

    char pid[256];
    CHECK(bc_find_connection_pid(name, pid, sizeof pid), "the broker does not list a connection named \"%s\"", name);

    uint16_t cm = 0, hb = 0;
    uint32_t fm = 0;
    CHECK_OK(swamqp_connection_tune(conn, &cm, &fm, &hb), NULL);
    CHECK(cm == 3, "negotiated channel_max %u, expected 3", cm);

    /* the broker's connection.start properties: product RabbitMQ, a capabilities table */
    size_t need = 0;
    CHECK_STATUS(swamqp_connection_server_properties(conn, NULL, 0, &need, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(need > 100, "server properties take %zu bytes", need);
    unsigned char *encoded = malloc(need);
    size_t written = 0;
    CHECK_OK(swamqp_connection_server_properties(conn, encoded, need, &written, &err), &err);
    CHECK(written == need, "wrote %zu of %zu", written, need);
    const swamqp_table *server = NULL;
    CHECK_OK(swamqp_table_decode(encoded, written, NULL, &server, &err), &err);
    int product = 0, capabilities = 0;
    for (size_t i = 0; i < server->count; i++) {
        const swamqp_table_entry *entry = &server->entries[i];
        if (entry->key.len == 7 && memcmp(entry->key.bytes, "product", 7) == 0)
            product = entry->value.kind == SWAMQP_FIELD_STRING && entry->value.value.bytes.len == 8 &&
                      memcmp(entry->value.value.bytes.bytes, "RabbitMQ", 8) == 0;
        if (entry->key.len == 12 && memcmp(entry->key.bytes, "capabilities", 12) == 0)
            capabilities = entry->value.kind == SWAMQP_FIELD_TABLE && entry->value.value.table.count > 3;
    }
    CHECK(product && capabilities, "server properties: product %d capabilities %d", product, capabilities);
    CHECK_OK(swamqp_decoded_free(server), NULL);
    free(encoded);
    uint16_t a = tu_channel(conn), b = tu_channel(conn), c = tu_channel(conn), d = 0;
    CHECK(a <= 3 && b <= 3 && c <= 3 && a != b && b != c && a != c, "channels %u %u %u", a, b, c);
    CHECK_STATUS(swamqp_channel_open(conn, &d, T_MS, &err), SWAMQP_ERR_CHANNEL_LIMIT, &err);

    /* our close: OK, then a CHANNEL_CLOSED event without a broker error */
    CHECK_OK(swamqp_channel_close(conn, b, T_MS, &err), &err);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_CHANNEL_CLOSED, b, T_MS);
    CHECK(e->error == NULL || e->error->origin != SWAMQP_ORIGIN_BROKER, "our own channel.close reported as a broker "
          "error: %s", e->error ? e->error->message : "");
    CHECK_OK(swamqp_channel_close(conn, b, T_MS, &err), &err); /* closing a closed channel is OK */
    CHECK_STATUS(swamqp_queue_declare(conn, b, tu_b(""), SWAMQP_EXCLUSIVE, NULL, NULL, T_MS, &err),
                 SWAMQP_ERR_CHANNEL_CLOSED, &err);
    d = tu_channel(conn);
    CHECK(d == b, "the closed channel %u was not reused (got %u)", b, d);

    /* a broker channel exception on a closes a only */
    char qbuf[256];
    const swamqp_bytes q = tu_temp_queue(conn, c, qbuf);
    char missing[256];
    tu_unique_name(missing, sizeof missing, "c_connection", "missing");
    CHECK_STATUS(swamqp_queue_declare(conn, a, tu_b(missing), SWAMQP_PASSIVE, NULL, NULL, T_MS, &err),
                 SWAMQP_ERR_CHANNEL_CLOSED, &err);
    CHECK(err.reply_code == 404 && err.channel == a, "reply %u on channel %u", err.reply_code, err.channel);
    e = ev_wait_broker_close(conn, a, T_MS);
    CHECK(e->error && e->error->origin == SWAMQP_ORIGIN_BROKER && e->error->reply_code == 404,
          "broker channel close event");
    tu_publish(conn, c, "", q, "still works");
    tu_publish(conn, d, "", q, "also works");
    WAIT_QUEUE_COUNT(conn, c, q, 2);
    CHECK(swamqp_connection_is_open(conn), "a channel exception closed the connection");

    /* connection.update-secret with the current password */
    swamqp_connection_options parsed;
    tu_options_from_env(&parsed);
    CHECK_OK(swamqp_connection_update_secret(conn, tu_b(parsed.password), tu_b("c_connection refresh"), T_MS, &err),
             &err);
    uint64_t secret_rid = 0;
    CHECK_OK(swamqp_connection_update_secret_async(conn, tu_b(parsed.password), tu_b("c_connection async refresh"),
                                                   &secret_rid, &err),
             &err);
    ev_completion(conn, secret_rid, SWAMQP_OK, T_MS);
    tu_publish(conn, c, "", q, "after update-secret");
    WAIT_QUEUE_COUNT(conn, c, q, 3);

    /* stats */
    swamqp_stats st;
    CHECK_OK(swamqp_connection_stats(conn, &st), NULL);
    CHECK(st.publishes == 3, "stats.publishes %" PRIu64 ", expected 3", st.publishes);
    CHECK(st.frames_in > 5 && st.frames_out > 5 && st.bytes_in > st.frames_in * 8 && st.bytes_out > st.frames_out * 8,
          "stats frames in %" PRIu64 " out %" PRIu64 ", bytes in %" PRIu64 " out %" PRIu64, st.frames_in,
          st.frames_out, st.bytes_in, st.bytes_out);
    CHECK(st.deliveries == 0 && st.returns == 0 && st.confirms_acked == 0, "stats: unexpected counts");
    swamqp_message *m = tu_get(conn, c, q, SWAMQP_NO_ACK, 0);
    CHECK(m != NULL, "basic.get");
    swamqp_message_free(m);
    swamqp_stats st2;
    CHECK_OK(swamqp_connection_stats(conn, &st2), NULL);
    CHECK(st2.deliveries == 1, "stats.deliveries after one basic.get: %" PRIu64, st2.deliveries);
    CHECK(st2.frames_in > st.frames_in && st2.bytes_in > st.bytes_in, "stats did not grow with a basic.get");

    /* our close: completion, then CONNECTION_CLOSED last */
    uint64_t rid = 0;
    CHECK_OK(swamqp_connection_close_async(conn, &rid, &err), &err);
    bool completed = false, closed = false;
    int64_t deadline = tu_now_ms() + T_MS;
    while (!closed) {
        CHECK(tu_now_ms() < deadline, "close_async: completion %d, closed %d", completed, closed);
        e = ev_next(conn, 100);
        if (e == NULL)
            continue;
        if (e->type == SWAMQP_EVENT_COMPLETION && e->request_id == rid) {
            CHECK(e->status == SWAMQP_OK, "close_async completed with %s", swamqp_status_string(e->status));
            completed = true;
        } else if (e->type == SWAMQP_EVENT_CONNECTION_CLOSED) {
            closed = true;
            CHECK(e->error == NULL || e->error->origin != SWAMQP_ORIGIN_BROKER || e->error->reply_code == 200,
                  "our close reported as %s", e->error ? e->error->message : "");
        }
    }
    CHECK(completed, "CONNECTION_CLOSED came before the close_async completion (it must be last)");
    CHECK(ev_next(conn, 200) == NULL, "an event after CONNECTION_CLOSED");
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fprintf(stderr, "channels: OK\n");
}

/* channel.flow from the client: RabbitMQ answers active=true, closes the connection (540) for false. */
static void test_flow(void)
{
    swamqp_error err;
    swamqp_connection *conn = tu_connect();
    uint16_t ch = tu_channel(conn);
    CHECK_OK(swamqp_channel_flow(conn, ch, true, T_MS, &err), &err);
    char qbuf[256];
    tu_temp_queue(conn, ch, qbuf); /* the channel still works */
    CHECK_STATUS(swamqp_channel_flow(conn, ch, false, T_MS, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK(err.origin == SWAMQP_ORIGIN_BROKER && err.reply_code == 540, "flow false: origin %d reply %u",
          (int)err.origin, err.reply_code);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fprintf(stderr, "flow: OK\n");
}

static void test_immediate(void)
{
    swamqp_error err;
    swamqp_connection *conn = tu_connect();
    uint16_t ch = tu_channel(conn);
    char qbuf[256];
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    tu_err_reset(&err);
    int rc = swamqp_basic_publish(conn, ch, tu_b(""), q, SWAMQP_IMMEDIATE, NULL, tu_b("immediate"), NULL, T_MS, &err);
    CHECK(rc == SWAMQP_OK || rc == SWAMQP_ERR_CONNECTION_CLOSED, "publish IMMEDIATE returned %s: %s",
          swamqp_status_string(rc), tu_err_text(&err));
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_CONNECTION_CLOSED, EV_ANY_CHANNEL, T_MS);
    CHECK(e->status == SWAMQP_ERR_CONNECTION_CLOSED && e->error != NULL, "IMMEDIATE: closed with %s",
          swamqp_status_string(e->status));
    CHECK(e->error->origin == SWAMQP_ORIGIN_BROKER && e->error->reply_code == 540 && e->error->class_id == 60 &&
              e->error->method_id == 40,
          "IMMEDIATE: origin %d reply %u class %u method %u: %s", (int)e->error->origin, e->error->reply_code,
          e->error->class_id, e->error->method_id, e->error->message);
    CHECK(strstr(e->error->message, "NOT_IMPLEMENTED") != NULL, "IMMEDIATE: message %s", e->error->message);
    fprintf(stderr, "IMMEDIATE: %s\n", e->error->message);
    CHECK(!swamqp_connection_is_open(conn), "open after a connection error");
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, NULL, tu_b("x"), NULL, T_MS, &err),
                 SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fprintf(stderr, "immediate: OK\n");
}

int main(void)
{
    test_auth();
    test_channels();
    test_flow();
    test_immediate();
    printf("c_connection: OK\n");
    return 0;
}
