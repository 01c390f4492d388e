/*
 * publisher.c — publishes persistent messages to a durable work queue.
 *
 *   publisher [COUNT [QUEUE]]        (defaults: 10, "swiftamqp.example.tasks"; broker from $AMQP_URL)
 *
 * Declares the durable queue QUEUE (with x-expires: it goes away after 10 minutes without
 * consumers, so demo queues do not pile up; consumer.c declares it the same way), then publishes
 * COUNT persistent text messages "task 1" .. "task COUNT" through the default exchange. Run
 * consumer.c with the same arguments to receive them. Exits 0 on success; on error prints the status
 * and the message and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swiftamqp.h>

#define TIMEOUT_MS 5000

static int fail(const char *what, int status, const swamqp_error *error)
{
    fprintf(stderr, "publisher: %s: %s: %s\n", what, swamqp_status_string(status), error->message);
    return 1;
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
    options.connection_name = "swiftamqp example publisher";

    swamqp_connection *conn = NULL;
    if ((rc = swamqp_connect(&options, &conn, &error)) != SWAMQP_OK)
        return fail("connect", rc, &error);
    int result = 1;
    uint16_t channel;
    if ((rc = swamqp_channel_open(conn, &channel, TIMEOUT_MS, &error)) != SWAMQP_OK) {
        fail("channel.open", rc, &error);
        goto out;
    }

    /* A durable queue that expires after 10 minutes unused. */
    swamqp_table_entry expires = {swamqp_cstr("x-expires"), {.kind = SWAMQP_FIELD_I32, .value.i32 = 600000}};
    swamqp_table arguments = {1, &expires};
    rc = swamqp_queue_declare(conn, channel, swamqp_cstr(queue), SWAMQP_DURABLE, &arguments, NULL, TIMEOUT_MS, &error);
    if (rc != SWAMQP_OK) {
        fail("queue.declare", rc, &error);
        goto out;
    }

    swamqp_properties props;
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_CONTENT_TYPE | SWAMQP_PROP_DELIVERY_MODE;
    props.content_type = swamqp_cstr("text/plain");
    props.delivery_mode = 2; /* persistent */
    for (int i = 1; i <= count; i++) {
        char body[64];
        snprintf(body, sizeof body, "task %d", i);
        /* Returns once the frames are queued; waits (up to the timeout) only if publishing must pause. */
        rc = swamqp_basic_publish(conn, channel, swamqp_cstr(""), swamqp_cstr(queue), 0, &props, swamqp_cstr(body), NULL, TIMEOUT_MS,
                                  &error);
        if (rc != SWAMQP_OK) {
            fail("basic.publish", rc, &error);
            goto out;
        }
    }
    printf("published %d messages to %s\n", count, queue);
    result = 0;

out:
    /* A clean close also waits until everything queued has been written. */
    if ((rc = swamqp_connection_close(conn, TIMEOUT_MS, &error)) != SWAMQP_OK && result == 0)
        result = fail("connection.close", rc, &error);
    swamqp_connection_free(conn);
    return result;
}
