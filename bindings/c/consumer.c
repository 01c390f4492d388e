/*
 * consumer.c — consumes a work queue with acknowledgements.
 *
 *   consumer [COUNT [QUEUE]]         (defaults: 10, "swiftamqp.example.tasks"; broker from $AMQP_URL)
 *
 * Declares the same durable queue as publisher.c, limits unacknowledged deliveries to 10
 * (basic.qos), starts a consumer and prints "consuming QUEUE" once it is registered. Then it drains
 * events with swamqp_next_events: each delivery's body is printed and acked. It exits 0 after COUNT
 * messages, and 1 on an error, when the broker cancels the consumer, or when nothing arrives for
 * 30 seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swiftamqp.h>

#define TIMEOUT_MS 5000
#define IDLE_MS 30000

static int fail(const char *what, int status, const swamqp_error *error)
{
    fprintf(stderr, "consumer: %s: %s: %s\n", what, swamqp_status_string(status), error ? error->message : "");
    return 1;
}

/* Receives `count` messages; returns 0 on success. */
static int consume(swamqp_connection *conn, uint16_t channel, int count)
{
    swamqp_event events[32];
    int received = 0;
    while (received < count) {
        size_t n = 0;
        int rc = swamqp_next_events(conn, events, 32, &n, IDLE_MS);
        if (rc != SWAMQP_OK)
            return fail("next_events", rc, NULL);
        if (n == 0) {
            fprintf(stderr, "consumer: nothing arrived for %d s\n", IDLE_MS / 1000);
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            switch (e->type) {
            case SWAMQP_EVENT_DELIVERY: {
                /* The body belongs to the library until the next next_events call: use it now. */
                const swamqp_message *m = e->message;
                printf("received: %.*s\n", (int)m->body.len, (const char *)m->body.bytes);
                swamqp_error error;
                if ((rc = swamqp_basic_ack(conn, channel, m->delivery_tag, 0, &error)) != SWAMQP_OK)
                    return fail("basic.ack", rc, &error);
                received++;
                break;
            }
            case SWAMQP_EVENT_CONSUMER_CANCELLED:
                fprintf(stderr, "consumer: the broker cancelled the consumer (queue deleted?)\n");
                return 1;
            case SWAMQP_EVENT_CHANNEL_CLOSED:
            case SWAMQP_EVENT_CONNECTION_CLOSED:
                return fail("closed", e->status, e->error);
            default: /* log records and others: not needed here */
                break;
            }
        }
    }
    printf("received %d messages\n", received);
    return 0;
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 10;
    const char *queue = argc > 2 ? argv[2] : "swiftamqp.example.tasks";
    const char *url = getenv("AMQP_URL") ? getenv("AMQP_URL") : "amqp://guest:guest@localhost:5672/%2f";

    swamqp_error error = {0};
    swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    int rc = swamqp_parse_url(url, &options, &error);
    if (rc != SWAMQP_OK)
        return fail("AMQP_URL", rc, &error);
    options.connection_name = "swiftamqp example consumer";

    swamqp_connection *conn = NULL;
    if ((rc = swamqp_connect(&options, &conn, &error)) != SWAMQP_OK)
        return fail("connect", rc, &error);
    int result = 1;
    uint16_t channel;
    swamqp_table_entry expires = {swamqp_cstr("x-expires"), {.kind = SWAMQP_FIELD_I32, .value.i32 = 600000}};
    swamqp_table arguments = {1, &expires};
    swamqp_name tag;
    if ((rc = swamqp_channel_open(conn, &channel, TIMEOUT_MS, &error)) != SWAMQP_OK)
        fail("channel.open", rc, &error);
    else if ((rc = swamqp_queue_declare(conn, channel, swamqp_cstr(queue), SWAMQP_DURABLE, &arguments, NULL, TIMEOUT_MS,
                                        &error)) != SWAMQP_OK)
        fail("queue.declare", rc, &error);
    else if ((rc = swamqp_basic_qos(conn, channel, 0, 10, 0, TIMEOUT_MS, &error)) != SWAMQP_OK)
        fail("basic.qos", rc, &error);
    else if ((rc = swamqp_basic_consume(conn, channel, swamqp_cstr(queue), swamqp_cstr(""), 0, NULL, &tag, TIMEOUT_MS, &error)) !=
             SWAMQP_OK)
        fail("basic.consume", rc, &error);
    else {
        printf("consuming %s (consumer tag %s)\n", queue, tag.name);
        fflush(stdout);
        result = consume(conn, channel, count);
    }

    if ((rc = swamqp_connection_close(conn, TIMEOUT_MS, &error)) != SWAMQP_OK && result == 0)
        result = fail("connection.close", rc, &error);
    swamqp_connection_free(conn);
    return result;
}
