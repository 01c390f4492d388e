/*
 * rpc_client.c — calls rpc_server.c over RabbitMQ direct reply-to.
 *
 *   rpc_client [COUNT [QUEUE]]       (defaults: 10, "swiftamqp.example.rpc"; broker from $AMQP_URL)
 *
 * Direct reply-to needs no reply queue: the client consumes from the pseudo-queue
 * "amq.rabbitmq.reply-to" in no-ack mode — BEFORE publishing, on the same channel — and sends each
 * request with reply_to "amq.rabbitmq.reply-to"; the broker routes the server's reply straight back
 * to this consumer. The client asks fib(1) .. fib(COUNT) at once, each with its own correlation_id,
 * matches the replies (in any order) by correlation_id, checks and prints them. Requests are
 * published with `mandatory`, so without a server they come back as returns and the client says so.
 * Exits 0 when every reply arrived and was right within 10 seconds.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swiftamqp.h>

#define TIMEOUT_MS 5000
#define REPLY_TO "amq.rabbitmq.reply-to"
#define MAX_COUNT 90

static int fail(const char *what, int status, const swamqp_error *error)
{
    fprintf(stderr, "rpc_client: %s: %s: %s\n", what, swamqp_status_string(status), error ? error->message : "");
    return 1;
}

static unsigned long long fib(unsigned n)
{
    unsigned long long a = 0, b = 1;
    while (n-- > 0) {
        unsigned long long t = a + b;
        a = b;
        b = t;
    }
    return a;
}

/* Publishes the requests and collects the replies; returns 0 when all are right. */
static int call(swamqp_connection *conn, uint16_t channel, const char *queue, int count)
{
    swamqp_error error;
    /* 1. The reply consumer first: RabbitMQ refuses reply_to amq.rabbitmq.reply-to without it. */
    int rc = swamqp_basic_consume(conn, channel, swamqp_cstr(REPLY_TO), swamqp_cstr(""), SWAMQP_NO_ACK, NULL, NULL, TIMEOUT_MS,
                                  &error);
    if (rc != SWAMQP_OK)
        return fail("basic.consume " REPLY_TO, rc, &error);

    /* 2. The requests. */
    for (int n = 1; n <= count; n++) {
        char body[16], correlation_id[16];
        snprintf(body, sizeof body, "%d", n);
        snprintf(correlation_id, sizeof correlation_id, "req-%d", n);
        swamqp_properties props;
        memset(&props, 0, sizeof props);
        props.flags = SWAMQP_PROP_REPLY_TO | SWAMQP_PROP_CORRELATION_ID;
        props.reply_to = swamqp_cstr(REPLY_TO);
        props.correlation_id = swamqp_cstr(correlation_id);
        rc = swamqp_basic_publish(conn, channel, swamqp_cstr(""), swamqp_cstr(queue), SWAMQP_MANDATORY, &props, swamqp_cstr(body), NULL,
                                  TIMEOUT_MS, &error);
        if (rc != SWAMQP_OK)
            return fail("basic.publish", rc, &error);
    }

    /* 3. The replies, matched by correlation_id. */
    bool answered[MAX_COUNT + 1] = {false};
    int pending = count;
    swamqp_event events[16];
    while (pending > 0) {
        size_t n = 0;
        if ((rc = swamqp_next_events(conn, events, 16, &n, 10000)) != SWAMQP_OK)
            return fail("next_events", rc, NULL);
        if (n == 0) {
            fprintf(stderr, "rpc_client: %d replies missing after 10 s\n", pending);
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            if (e->type == SWAMQP_EVENT_RETURN) {
                fprintf(stderr, "rpc_client: no server consumes %s (request returned: %.*s)\n", queue,
                        (int)e->message->reply_text.len, (const char *)e->message->reply_text.bytes);
                return 1;
            }
            if (e->type == SWAMQP_EVENT_CHANNEL_CLOSED || e->type == SWAMQP_EVENT_CONNECTION_CLOSED)
                return fail("closed", e->status, e->error);
            if (e->type != SWAMQP_EVENT_DELIVERY)
                continue;
            const swamqp_properties *p = &e->message->properties;
            char id[32] = {0}, text[32] = {0};
            if (p->correlation_id.len >= sizeof id || e->message->body.len >= sizeof text)
                continue;
            memcpy(id, p->correlation_id.bytes, p->correlation_id.len);
            memcpy(text, e->message->body.bytes, e->message->body.len);
            int which = strncmp(id, "req-", 4) == 0 ? atoi(id + 4) : 0;
            if (which < 1 || which > count || answered[which]) {
                fprintf(stderr, "rpc_client: unexpected reply \"%s\" for \"%s\"\n", text, id);
                continue;
            }
            unsigned long long got = strtoull(text, NULL, 10);
            printf("fib(%d) = %llu\n", which, got);
            if (got != fib((unsigned)which)) {
                fprintf(stderr, "rpc_client: wrong answer for fib(%d): %llu\n", which, got);
                return 1;
            }
            answered[which] = true;
            pending--;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 10;
    const char *queue = argc > 2 ? argv[2] : "swiftamqp.example.rpc";
    const char *url = getenv("AMQP_URL") ? getenv("AMQP_URL") : "amqp://guest:guest@localhost:5672/%2f";
    if (count < 1 || count > MAX_COUNT) {
        fprintf(stderr, "rpc_client: COUNT must be 1..%d\n", MAX_COUNT);
        return 2;
    }

    swamqp_error error = {0};
    swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    int rc = swamqp_parse_url(url, &options, &error);
    if (rc != SWAMQP_OK)
        return fail("AMQP_URL", rc, &error);
    options.connection_name = "swiftamqp example rpc_client";
    swamqp_connection *conn = NULL;
    if ((rc = swamqp_connect(&options, &conn, &error)) != SWAMQP_OK)
        return fail("connect", rc, &error);

    int result = 1;
    uint16_t channel;
    if ((rc = swamqp_channel_open(conn, &channel, TIMEOUT_MS, &error)) != SWAMQP_OK)
        fail("channel.open", rc, &error);
    else
        result = call(conn, channel, queue, count);
    if ((rc = swamqp_connection_close(conn, TIMEOUT_MS, &error)) != SWAMQP_OK && result == 0)
        result = fail("connection.close", rc, &error);
    swamqp_connection_free(conn);
    return result;
}
