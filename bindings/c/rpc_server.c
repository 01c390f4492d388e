/*
 * rpc_server.c — answers requests over RabbitMQ direct reply-to.
 *
 *   rpc_server [COUNT [QUEUE]]       (defaults: 0 = serve forever, "swiftamqp.example.rpc")
 *
 * Declares the request queue QUEUE (exclusive: it lives as long as this server), takes one request
 * at a time (basic.qos 1) and prints "serving QUEUE" once its consumer is registered. A request's
 * body is a decimal number n; the reply, published through the default exchange to the request's
 * reply_to with its correlation_id, is fib(n) in decimal. rpc_client.c sends such requests. Exits 0
 * after COUNT requests, 1 on an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swiftamqp.h>

#define TIMEOUT_MS 5000

static int fail(const char *what, int status, const swamqp_error *error)
{
    fprintf(stderr, "rpc_server: %s: %s: %s\n", what, swamqp_status_string(status), error ? error->message : "");
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

/* Answers one request; returns a status. */
static int answer(swamqp_connection *conn, uint16_t channel, const swamqp_message *request, swamqp_error *error)
{
    char text[32] = {0};
    size_t len = request->body.len < sizeof text - 1 ? request->body.len : sizeof text - 1;
    memcpy(text, request->body.bytes, len);
    unsigned n = (unsigned)strtoul(text, NULL, 10);
    char reply[32];
    snprintf(reply, sizeof reply, "%llu", n <= 93 ? fib(n) : 0ULL); /* fib(93) is the last that fits */
    printf("fib(%u) = %s\n", n, reply);

    swamqp_properties props;
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_CORRELATION_ID | SWAMQP_PROP_CONTENT_TYPE;
    props.correlation_id = request->properties.correlation_id; /* read during the call only */
    props.content_type = swamqp_cstr("text/plain");
    int rc = swamqp_basic_publish(conn, channel, swamqp_cstr(""), request->properties.reply_to, 0, &props, swamqp_cstr(reply), NULL,
                                  TIMEOUT_MS, error);
    if (rc != SWAMQP_OK)
        return rc;
    return swamqp_basic_ack(conn, channel, request->delivery_tag, 0, error);
}

static int serve(swamqp_connection *conn, uint16_t channel, int count)
{
    swamqp_event events[16];
    for (int served = 0; count == 0 || served < count;) {
        size_t n = 0;
        int rc = swamqp_next_events(conn, events, 16, &n, 60000);
        if (rc != SWAMQP_OK)
            return fail("next_events", rc, NULL);
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            if (e->type == SWAMQP_EVENT_DELIVERY) {
                swamqp_error error;
                if (!(e->message->properties.flags & SWAMQP_PROP_REPLY_TO)) {
                    fprintf(stderr, "rpc_server: a request without reply_to: dropped\n");
                    rc = swamqp_basic_reject(conn, channel, e->message->delivery_tag, 0, &error);
                } else {
                    rc = answer(conn, channel, e->message, &error);
                    served++;
                }
                if (rc != SWAMQP_OK)
                    return fail("reply", rc, &error);
            } else if (e->type == SWAMQP_EVENT_CHANNEL_CLOSED || e->type == SWAMQP_EVENT_CONNECTION_CLOSED) {
                return fail("closed", e->status, e->error);
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 0;
    const char *queue = argc > 2 ? argv[2] : "swiftamqp.example.rpc";
    const char *url = getenv("AMQP_URL") ? getenv("AMQP_URL") : "amqp://guest:guest@localhost:5672/%2f";

    swamqp_error error = {0};
    swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    int rc = swamqp_parse_url(url, &options, &error);
    if (rc != SWAMQP_OK)
        return fail("AMQP_URL", rc, &error);
    options.connection_name = "swiftamqp example rpc_server";
    swamqp_connection *conn = NULL;
    if ((rc = swamqp_connect(&options, &conn, &error)) != SWAMQP_OK)
        return fail("connect", rc, &error);

    int result = 1;
    uint16_t channel;
    if ((rc = swamqp_channel_open(conn, &channel, TIMEOUT_MS, &error)) != SWAMQP_OK)
        fail("channel.open", rc, &error);
    else if ((rc = swamqp_queue_declare(conn, channel, swamqp_cstr(queue), SWAMQP_EXCLUSIVE, NULL, NULL, TIMEOUT_MS,
                                        &error)) != SWAMQP_OK)
        fail("queue.declare", rc, &error);
    else if ((rc = swamqp_basic_qos(conn, channel, 0, 1, 0, TIMEOUT_MS, &error)) != SWAMQP_OK)
        fail("basic.qos", rc, &error);
    else if ((rc = swamqp_basic_consume(conn, channel, swamqp_cstr(queue), swamqp_cstr(""), 0, NULL, NULL, TIMEOUT_MS, &error)) !=
             SWAMQP_OK)
        fail("basic.consume", rc, &error);
    else {
        printf("serving %s\n", queue);
        fflush(stdout);
        result = serve(conn, channel, count);
    }
    if ((rc = swamqp_connection_close(conn, TIMEOUT_MS, &error)) != SWAMQP_OK && result == 0)
        result = fail("connection.close", rc, &error);
    swamqp_connection_free(conn);
    return result;
}
