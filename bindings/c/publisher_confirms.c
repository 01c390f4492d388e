/*
 * publisher_confirms.c — publishes with publisher confirms and tracks every message.
 *
 *   publisher_confirms [COUNT]       (default 1000; broker from $AMQP_URL)
 *
 * Puts a channel in confirm mode (confirm.select). Each publish then returns its sequence number;
 * the broker acknowledges publishes with CONFIRM_ACK / CONFIRM_NACK events whose delivery_tag is
 * a sequence number (with SWAMQP_EVENT_FLAG_MULTIPLE: every sequence up to it). The program keeps
 * the outstanding sequences in a table, handles confirms as they arrive (without waiting between
 * publishes), and at the end waits for the rest with swamqp_wait_for_confirms. Messages go to a
 * server-named exclusive queue, so nothing is left behind. Prints how many were acked and nacked;
 * exits 0 when all were acked.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swiftamqp.h>

#define TIMEOUT_MS 5000

static int fail(const char *what, int status, const swamqp_error *error)
{
    fprintf(stderr, "publisher_confirms: %s: %s: %s\n", what, swamqp_status_string(status),
            error ? error->message : "");
    return 1;
}

typedef struct outstanding {
    bool *waiting; /* waiting[seq]: published, not yet confirmed */
    uint64_t published, acked, nacked;
} outstanding;

/* Applies the confirm events queued so far (timeout 0: never waits). */
static int handle_confirms(swamqp_connection *conn, outstanding *o, uint32_t timeout_ms)
{
    swamqp_event events[64];
    size_t n = 0;
    do {
        int rc = swamqp_next_events(conn, events, 64, &n, timeout_ms);
        if (rc != SWAMQP_OK)
            return fail("next_events", rc, NULL);
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            if (e->type == SWAMQP_EVENT_CHANNEL_CLOSED || e->type == SWAMQP_EVENT_CONNECTION_CLOSED)
                return fail("closed", e->status, e->error);
            if (e->type != SWAMQP_EVENT_CONFIRM_ACK && e->type != SWAMQP_EVENT_CONFIRM_NACK)
                continue;
            uint64_t first = (e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) ? 1 : e->delivery_tag;
            for (uint64_t seq = first; seq <= e->delivery_tag && seq <= o->published; seq++) {
                if (!o->waiting[seq])
                    continue;
                o->waiting[seq] = false;
                if (e->type == SWAMQP_EVENT_CONFIRM_ACK)
                    o->acked++;
                else
                    o->nacked++; /* a real application would republish or log message `seq` */
            }
        }
        timeout_ms = 0;
    } while (n == 64);
    return 0;
}

static int run(swamqp_connection *conn, int count)
{
    swamqp_error error;
    uint16_t channel;
    int rc = swamqp_channel_open(conn, &channel, TIMEOUT_MS, &error);
    if (rc != SWAMQP_OK)
        return fail("channel.open", rc, &error);
    swamqp_queue_declare_ok queue;
    rc = swamqp_queue_declare(conn, channel, swamqp_cstr(""), SWAMQP_EXCLUSIVE, NULL, &queue, TIMEOUT_MS, &error);
    if (rc != SWAMQP_OK)
        return fail("queue.declare", rc, &error);
    const swamqp_bytes queue_name = {queue.name, queue.name_len};
    if ((rc = swamqp_confirm_select(conn, channel, TIMEOUT_MS, &error)) != SWAMQP_OK)
        return fail("confirm.select", rc, &error);

    outstanding o = {calloc((size_t)count + 1, sizeof(bool)), 0, 0, 0};
    if (o.waiting == NULL)
        return fail("calloc", SWAMQP_ERR_NO_MEMORY, NULL);
    int result = 0;
    for (int i = 1; i <= count && result == 0; i++) {
        char body[32];
        snprintf(body, sizeof body, "message %d", i);
        uint64_t seq = 0;
        /* Waits only when max_unconfirmed (default 10000) publishes are still unconfirmed. */
        rc = swamqp_basic_publish(conn, channel, swamqp_cstr(""), queue_name, 0, NULL, swamqp_cstr(body), &seq,
                                  TIMEOUT_MS, &error);
        if (rc != SWAMQP_OK) {
            result = fail("basic.publish", rc, &error);
            break;
        }
        o.waiting[seq] = true;
        o.published = seq;
        if (i % 100 == 0)
            result = handle_confirms(conn, &o, 0);
    }
    if (result == 0) {
        /* SWAMQP_OK: all acked; SWAMQP_ERR_NACKED: some were nacked (the events say which). */
        rc = swamqp_wait_for_confirms(conn, channel, TIMEOUT_MS, &error);
        if (rc != SWAMQP_OK && rc != SWAMQP_ERR_NACKED)
            result = fail("wait_for_confirms", rc, &error);
    }
    /* The confirm events are queued too, whichever way one waits: account for all of them. */
    while (result == 0 && o.acked + o.nacked < o.published)
        result = handle_confirms(conn, &o, 1000);
    printf("%" PRIu64 " published, %" PRIu64 " acked, %" PRIu64 " nacked\n", o.published, o.acked, o.nacked);
    free(o.waiting);
    if (result == 0 && o.acked != (uint64_t)count)
        result = 1;
    return result;
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 1000;
    const char *url = getenv("AMQP_URL") ? getenv("AMQP_URL") : "amqp://guest:guest@localhost:5672/%2f";
    if (count < 1) {
        fprintf(stderr, "publisher_confirms: COUNT must be at least 1\n");
        return 2;
    }
    swamqp_error error = {0};
    swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    int rc = swamqp_parse_url(url, &options, &error);
    if (rc != SWAMQP_OK)
        return fail("AMQP_URL", rc, &error);
    options.connection_name = "swiftamqp example publisher_confirms";
    swamqp_connection *conn = NULL;
    if ((rc = swamqp_connect(&options, &conn, &error)) != SWAMQP_OK)
        return fail("connect", rc, &error);
    int result = run(conn, count);
    if ((rc = swamqp_connection_close(conn, TIMEOUT_MS, &error)) != SWAMQP_OK && result == 0)
        result = fail("connection.close", rc, &error);
    swamqp_connection_free(conn);
    return result;
}
