/*
 * example_basic.c — the vertical slice of libswiftamqp from C.
 *
 * Connects to $AMQP_URL (default amqp://guest:guest@localhost:5672/), opens a channel, declares
 * the direct exchange "test.exchange" and the queue "test.queue" (exclusive: it goes away with the
 * connection), binds them with "routing.key", publishes a JSON message with some properties,
 * fetches it back with basic.get, prints its body on a line of its own, acks it and closes.
 *
 *   cc example_basic.c -lswiftamqp -o example_basic && AMQP_URL=amqp://... ./example_basic
 *
 * Returns 0 on success; on error prints the status name and the error message to stderr and
 * returns 1.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <swiftamqp.h>

#define DEFAULT_URL "amqp://guest:guest@localhost:5672/"
#define TIMEOUT_MS 5000

/* Prints what went wrong; returns 1 so that callers can write `return fail(...)`. */
static int fail(const char *what, int status, const swamqp_error *error)
{
    fprintf(stderr, "example_basic: %s failed: %s: %s\n", what, swamqp_status_string(status),
            error->message[0] ? error->message : "(no message)");
    if (error->origin == SWAMQP_ORIGIN_BROKER)
        fprintf(stderr, "example_basic: broker reply %u (class %u, method %u)\n", error->reply_code,
                error->class_id, error->method_id);
    return 1;
}

static int run(swamqp_connection *conn, swamqp_error *error)
{
    const swamqp_bytes exchange = swamqp_cstr("test.exchange");
    const swamqp_bytes queue = swamqp_cstr("test.queue");
    const swamqp_bytes routing_key = swamqp_cstr("routing.key");
    const char *body = "{\"test_body\": \"content\"}";
    uint16_t channel = 0;
    int rc;

    if ((rc = swamqp_channel_open(conn, &channel, TIMEOUT_MS, error)) != SWAMQP_OK)
        return fail("channel.open", rc, error);

    /* Durable, as asynqp declares them by default, so the Python example can declare the same names. */
    rc = swamqp_exchange_declare(conn, channel, exchange, swamqp_cstr("direct"), SWAMQP_DURABLE, NULL, TIMEOUT_MS, error);
    if (rc != SWAMQP_OK)
        return fail("exchange.declare", rc, error);

    rc = swamqp_queue_declare(conn, channel, queue, SWAMQP_DURABLE, NULL, NULL, TIMEOUT_MS, error);
    if (rc != SWAMQP_OK)
        return fail("queue.declare", rc, error);

    rc = swamqp_queue_bind(conn, channel, queue, exchange, routing_key, 0, NULL, TIMEOUT_MS, error);
    if (rc != SWAMQP_OK)
        return fail("queue.bind", rc, error);

    /* Message properties: a flag bit says which members are set. */
    swamqp_table_entry headers[2];
    memset(headers, 0, sizeof headers);
    headers[0].key = swamqp_cstr("source");
    headers[0].value.kind = SWAMQP_FIELD_STRING;
    headers[0].value.value.bytes = swamqp_cstr("example_basic.c");
    headers[1].key = swamqp_cstr("attempt");
    headers[1].value.kind = SWAMQP_FIELD_I32;
    headers[1].value.value.i32 = 1;

    swamqp_properties props;
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_CONTENT_TYPE | SWAMQP_PROP_DELIVERY_MODE | SWAMQP_PROP_MESSAGE_ID |
                  SWAMQP_PROP_HEADERS;
    props.content_type = swamqp_cstr("application/json");
    props.delivery_mode = 2; /* persistent */
    props.message_id = swamqp_cstr("example-basic-1");
    props.headers.count = sizeof headers / sizeof headers[0];
    props.headers.entries = headers;

    rc = swamqp_basic_publish(conn, channel, exchange, routing_key, 0, &props, swamqp_cstr(body), NULL, TIMEOUT_MS,
                              error);
    if (rc != SWAMQP_OK)
        return fail("basic.publish", rc, error);

    /* basic.get answers at once, so allow the broker a moment to route the message. */
    swamqp_message *message = NULL;
    for (int attempt = 0; attempt < 50; attempt++) {
        rc = swamqp_basic_get(conn, channel, queue, 0, &message, TIMEOUT_MS, error);
        if (rc != SWAMQP_OK)
            return fail("basic.get", rc, error);
        if (message != NULL)
            break;
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (message == NULL) {
        fprintf(stderr, "example_basic: basic.get: the queue stayed empty\n");
        return 1;
    }

    printf("%.*s\n", (int)message->body.len, (const char *)message->body.bytes);
    fflush(stdout);

    rc = swamqp_basic_ack(conn, channel, message->delivery_tag, 0, error);
    swamqp_message_free(message);
    if (rc != SWAMQP_OK)
        return fail("basic.ack", rc, error);

    if ((rc = swamqp_channel_close(conn, channel, TIMEOUT_MS, error)) != SWAMQP_OK)
        return fail("channel.close", rc, error);
    return 0;
}

int main(void)
{
    const char *url = getenv("AMQP_URL");
    if (url == NULL || url[0] == '\0')
        url = DEFAULT_URL;

    swamqp_error error;
    memset(&error, 0, sizeof error);

    swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    int rc = swamqp_parse_url(url, &options, &error);
    if (rc != SWAMQP_OK)
        return fail("parsing AMQP_URL", rc, &error);
    options.connection_name = "swiftamqp example_basic";

    swamqp_connection *conn = NULL;
    if ((rc = swamqp_connect(&options, &conn, &error)) != SWAMQP_OK)
        return fail("connect", rc, &error);

    int result = run(conn, &error);

    if (result == 0 && (rc = swamqp_connection_close(conn, TIMEOUT_MS, &error)) != SWAMQP_OK)
        result = fail("connection.close", rc, &error);
    swamqp_connection_free(conn); /* also closes (bounded) when run() failed half-way */
    return result;
}
