/*
 * c_events: the non-blocking path.
 *
 * connection_create + connection_open_async, then poll() on swamqp_connection_event_fd and drain
 * with swamqp_next_events until the completion of that request id; channel_open_async;
 * queue_declare_async of a server-named queue (the completion carries "amq.gen-..."); publish;
 * basic_get_async (completion with the message, then one with SWAMQP_EVENT_FLAG_EMPTY); the callback
 * form (swamqp_set_event_callback + swamqp_dispatch_events) where blocking calls made inside the
 * callback return SWAMQP_ERR_IN_CALLBACK; close_async; after free the event fd is closed; an event
 * fd first asked for while events are queued is readable at once, and not after the drain.
 */
#include "test_util.h"

#include <fcntl.h>
#include <poll.h>

#define T_MS 5000
#define WAIT_MS 10000

static const char *event_type_name(int type)
{
    static const char *const names[] = {"NONE",     "COMPLETION", "DELIVERY",   "RETURN",   "CONFIRM_ACK",
                                        "CONFIRM_NACK", "CHANNEL_CLOSED", "CONNECTION_CLOSED", "BLOCKED",
                                        "UNBLOCKED", "CONSUMER_CANCELLED", "LOG", "FLOW"};
    return type >= 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : "(unknown)";
}

static void describe(const swamqp_event *e)
{
    fprintf(stderr, "  event %s status %s channel %u flags 0x%x request %" PRIu64 " name %s%s%s\n",
            event_type_name(e->type), swamqp_status_string(e->status), e->channel, e->flags, e->request_id,
            tu_show(e->name), e->error ? " error: " : "", e->error ? tu_err_text(e->error) : "");
}

/* ---- waiting for a completion with poll() + swamqp_next_events ---------------------------- */

/** What a completion carried, copied out of the library-owned event. */
typedef struct completion {
    int32_t status;
    uint16_t channel;
    uint32_t flags;
    uint32_t message_count, consumer_count;
    char name[256];
    size_t name_len;
    bool has_message;
    uint64_t delivery_tag;
    char body[256];
    size_t body_len;
    char routing_key[256];
    size_t routing_key_len;
    bool has_error;
    swamqp_error error;
} completion;

static void copy_completion(const swamqp_event *e, completion *c)
{
    memset(c, 0, sizeof *c);
    c->status = e->status;
    c->channel = e->channel;
    c->flags = e->flags;
    c->message_count = e->message_count;
    c->consumer_count = e->consumer_count;
    CHECK(e->name.len < sizeof c->name, "completion name of %zu bytes", e->name.len);
    CHECK(e->name.len == 0 || e->name.bytes != NULL, "completion name: NULL bytes with len %zu", e->name.len);
    if (e->name.len)
        memcpy(c->name, e->name.bytes, e->name.len);
    c->name_len = e->name.len;
    if (e->message != NULL) {
        const swamqp_message *m = e->message;
        c->has_message = true;
        c->delivery_tag = m->delivery_tag;
        CHECK(m->body.len < sizeof c->body, "body of %zu bytes", m->body.len);
        if (m->body.len)
            memcpy(c->body, m->body.bytes, m->body.len);
        c->body_len = m->body.len;
        CHECK(m->routing_key.len < sizeof c->routing_key, "routing key of %zu bytes", m->routing_key.len);
        if (m->routing_key.len)
            memcpy(c->routing_key, m->routing_key.bytes, m->routing_key.len);
        c->routing_key_len = m->routing_key.len;
    }
    if (e->error != NULL) {
        c->has_error = true;
        c->error = *e->error;
    }
}

/**
 * Polls the event fd and drains events until the completion of `request_id` (copied to *out).
 * Other events are printed and must not be a CONNECTION_CLOSED unless `allow_closed`.
 * Returns true when a CONNECTION_CLOSED event was seen after the completion in the same batch.
 */
static bool wait_completion(swamqp_connection *conn, int fd, uint64_t request_id, completion *out, const char *what,
                            bool allow_closed)
{
    swamqp_event events[8];
    bool found = false, closed_after = false;
    int64_t deadline = tu_now_ms() + WAIT_MS;
    while (!found) {
        int64_t left = deadline - tu_now_ms();
        CHECK(left > 0, "%s: no completion for request %" PRIu64 " within %d ms", what, request_id, WAIT_MS);
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        CHECK(r >= 0 || errno == EINTR, "poll: %s", strerror(errno));
        if (r <= 0)
            continue;
        CHECK(!(p.revents & (POLLNVAL | POLLERR)), "%s: event fd poll revents 0x%x", what, p.revents);
        size_t n = 99;
        CHECK_OK(swamqp_next_events(conn, events, sizeof events / sizeof events[0], &n, 0), NULL);
        /* Level-triggered: readable means queued, and only this thread drains. */
        CHECK(n >= 1, "%s: the event fd was readable but swamqp_next_events returned no event", what);
        CHECK(n <= sizeof events / sizeof events[0], "next_events wrote %zu events into 8 slots", n);
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            if (e->type == SWAMQP_EVENT_COMPLETION && e->request_id == request_id) {
                CHECK(!found, "%s: two completions for request %" PRIu64, what, request_id);
                found = true;
                copy_completion(e, out);
            } else if (e->type == SWAMQP_EVENT_CONNECTION_CLOSED) {
                describe(e);
                CHECK(allow_closed, "%s: unexpected CONNECTION_CLOSED event", what);
                CHECK(found, "%s: CONNECTION_CLOSED came before the completion (it must be the last event)", what);
                CHECK(i == n - 1, "%s: events after CONNECTION_CLOSED in the same batch", what);
                closed_after = true;
            } else if (e->type == SWAMQP_EVENT_LOG) {
                fprintf(stderr, "  log %d: %s\n", e->log_level, tu_show(e->name));
            } else {
                describe(e);
                CHECK(e->type != SWAMQP_EVENT_COMPLETION, "%s: a completion for request %" PRIu64
                      " nobody is waiting for", what, e->request_id);
            }
        }
    }
    return closed_after;
}

#define EXPECT_COMPLETION_OK(c, what)                                                             \
    CHECK((c).status == SWAMQP_OK, "%s completed with %s (%d): %s", what, swamqp_status_string((c).status), \
          (c).status, (c).has_error ? (c).error.message : "(no error)")

/* ---- the callback form ------------------------------------------------------------------- */

typedef struct cb_state {
    swamqp_connection *conn;
    uint16_t channel;
    uint64_t request_id;
    bool done;   /* the completion of request_id was seen */
    bool empty;  /* ... and said the queue was empty */
    int calls;
    char body[64];
    size_t body_len;
} cb_state;

static void on_event(swamqp_connection *conn, const swamqp_event *e, void *user_data)
{
    cb_state *st = user_data;
    st->calls++;
    CHECK(conn == st->conn, "callback got connection %p, expected %p", (void *)conn, (void *)st->conn);
    CHECK(e != NULL, "callback got a NULL event");
    if (e->type == SWAMQP_EVENT_LOG) {
        fprintf(stderr, "  log %d: %s\n", e->log_level, tu_show(e->name));
        return;
    }
    if (e->type != SWAMQP_EVENT_COMPLETION || e->request_id != st->request_id) {
        describe(e);
        CHECK(e->type != SWAMQP_EVENT_CONNECTION_CLOSED, "callback: unexpected CONNECTION_CLOSED");
        return;
    }
    CHECK(!st->done, "callback: two completions for request %" PRIu64, st->request_id);
    st->done = true;
    CHECK(e->status == SWAMQP_OK, "callback: basic.get completed with %s: %s", swamqp_status_string(e->status),
          e->error ? tu_err_text(e->error) : "(no error)");
    if (e->flags & SWAMQP_EVENT_FLAG_EMPTY) {
        CHECK(e->message == NULL, "callback: EMPTY completion with a message");
        st->empty = true;
        return;
    }
    CHECK(e->message != NULL, "callback: basic.get completion without message or EMPTY flag");
    CHECK(e->message->body.len < sizeof st->body, "callback: body of %zu bytes", e->message->body.len);
    memcpy(st->body, e->message->body.bytes, e->message->body.len);
    st->body_len = e->message->body.len;

    /* Blocking calls from inside a callback return SWAMQP_ERR_IN_CALLBACK instead of deadlocking. */
    swamqp_error err;
    uint16_t ch = 0;
    int64_t start = tu_now_ms();
    CHECK_STATUS(swamqp_channel_open(conn, &ch, 3000, &err), SWAMQP_ERR_IN_CALLBACK, &err);
    CHECK(tu_now_ms() - start < 1000, "channel_open in a callback took %" PRId64 " ms to refuse",
          tu_now_ms() - start);
    CHECK_STATUS(swamqp_queue_declare(conn, st->channel, tu_b(""), SWAMQP_EXCLUSIVE, NULL, NULL, 3000, &err),
                 SWAMQP_ERR_IN_CALLBACK, &err);
    size_t n = 0;
    CHECK_STATUS(swamqp_dispatch_events(conn, 0, &n), SWAMQP_ERR_IN_CALLBACK, NULL);
    CHECK_STATUS(swamqp_connection_free(conn), SWAMQP_ERR_IN_CALLBACK, NULL);
    CHECK(swamqp_connection_is_open(conn), "connection not open after a refused free in a callback");

    /* basic.ack never waits: allowed here. */
    CHECK_OK(swamqp_basic_ack(conn, e->message->channel, e->message->delivery_tag, 0, &err), &err);
}

/* ---- the test ---------------------------------------------------------------------------- */

int main(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    tu_options_from_env(&options);
    options.connection_name = "swiftamqp Tests/C c_events";

    swamqp_connection *conn = NULL;
    CHECK_OK(swamqp_connection_create(&options, &conn, &err), &err);
    CHECK(conn != NULL, "create gave a NULL handle");
    int fd = swamqp_connection_event_fd(conn);
    CHECK(fd >= 0, "event fd %d", fd);
    CHECK(swamqp_connection_event_fd(conn) == fd, "event fd changes between calls");
    struct pollfd p0 = {fd, POLLIN, 0};
    CHECK(poll(&p0, 1, 0) == 0, "event fd readable (revents 0x%x) before anything was requested", p0.revents);

    /* connection.open */
    completion c;
    uint64_t rid_open = 0;
    CHECK_OK(swamqp_connection_open_async(conn, &rid_open, &err), &err);
    wait_completion(conn, fd, rid_open, &c, "connection_open_async", false);
    EXPECT_COMPLETION_OK(c, "connection_open_async");
    CHECK(!c.has_error, "successful completion carries an error");
    CHECK(swamqp_connection_is_open(conn), "is_open false after the open completion");
    CHECK(swamqp_connection_event_fd(conn) == fd, "event fd changed after open");

    /* An idle next_events waits about its timeout and returns OK with count 0. */
    {
        swamqp_event ev[2];
        size_t n = 99;
        int64_t start = tu_now_ms();
        CHECK_OK(swamqp_next_events(conn, ev, 2, &n, 150), NULL);
        int64_t elapsed = tu_now_ms() - start;
        if (n == 0)
            CHECK(elapsed >= 100 && elapsed < 3000, "next_events(timeout 150) returned nothing after %" PRId64 " ms",
                  elapsed);
        for (size_t i = 0; i < n; i++) {
            describe(&ev[i]);
            CHECK(ev[i].type == SWAMQP_EVENT_LOG, "unexpected event on an idle connection");
        }
    }

    /* channel.open */
    uint16_t ch = 0;
    uint64_t rid_ch = 0;
    CHECK_OK(swamqp_channel_open_async(conn, &ch, &rid_ch, &err), &err);
    CHECK(ch >= 1, "channel_open_async assigned channel %u", ch);
    CHECK(rid_ch != rid_open, "request ids repeat: %" PRIu64, rid_ch);
    wait_completion(conn, fd, rid_ch, &c, "channel_open_async", false);
    EXPECT_COMPLETION_OK(c, "channel_open_async");
    CHECK(c.channel == ch, "channel_open completion on channel %u, expected %u", c.channel, ch);

    /* queue.declare with an empty name: the completion carries the generated name. */
    uint64_t rid_q = 0;
    CHECK_OK(swamqp_queue_declare_async(conn, ch, tu_b(""), SWAMQP_EXCLUSIVE, NULL, &rid_q, &err), &err);
    CHECK(rid_q != rid_ch && rid_q != rid_open, "request ids repeat: %" PRIu64, rid_q);
    wait_completion(conn, fd, rid_q, &c, "queue_declare_async", false);
    EXPECT_COMPLETION_OK(c, "queue_declare_async");
    CHECK(c.channel == ch, "queue_declare completion on channel %u, expected %u", c.channel, ch);
    CHECK(c.name_len > 8 && strncmp(c.name, "amq.gen-", 8) == 0, "server-named queue \"%s\" (len %zu)", c.name,
          c.name_len);
    CHECK(c.message_count == 0 && c.consumer_count == 0, "new queue: %" PRIu32 " messages, %" PRIu32 " consumers",
          c.message_count, c.consumer_count);
    char queue[256];
    memcpy(queue, c.name, c.name_len + 1);

    /* publish, then basic.get through the event queue */
    const char *body1 = "event body one";
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b(queue), 0, NULL, tu_b(body1), NULL, T_MS, &err), &err);
    int64_t deadline = tu_now_ms() + 5000;
    for (;;) {
        uint64_t rid_get = 0;
        CHECK_OK(swamqp_basic_get_async(conn, ch, tu_b(queue), 0, &rid_get, &err), &err);
        wait_completion(conn, fd, rid_get, &c, "basic_get_async", false);
        EXPECT_COMPLETION_OK(c, "basic_get_async");
        if (c.has_message || tu_now_ms() > deadline)
            break;
        CHECK(c.flags & SWAMQP_EVENT_FLAG_EMPTY, "basic.get completion with neither message nor EMPTY flag");
        tu_sleep_ms(50);
    }
    CHECK(c.has_message, "basic_get_async: no message within 5 s of the publish");
    CHECK(!(c.flags & SWAMQP_EVENT_FLAG_EMPTY), "completion with a message also has FLAG_EMPTY");
    CHECK(c.body_len == strlen(body1) && memcmp(c.body, body1, c.body_len) == 0, "body \"%.*s\"", (int)c.body_len,
          c.body);
    CHECK(c.routing_key_len == strlen(queue) && memcmp(c.routing_key, queue, c.routing_key_len) == 0,
          "routing key \"%.*s\"", (int)c.routing_key_len, c.routing_key);
    CHECK(c.delivery_tag >= 1, "delivery tag %" PRIu64, c.delivery_tag);
    CHECK(c.channel == ch, "basic_get completion on channel %u, expected %u", c.channel, ch);
    CHECK_OK(swamqp_basic_ack(conn, ch, c.delivery_tag, 0, &err), &err);

    uint64_t rid_empty = 0;
    CHECK_OK(swamqp_basic_get_async(conn, ch, tu_b(queue), 0, &rid_empty, &err), &err);
    wait_completion(conn, fd, rid_empty, &c, "basic_get_async (empty)", false);
    EXPECT_COMPLETION_OK(c, "basic_get_async (empty)");
    CHECK((c.flags & SWAMQP_EVENT_FLAG_EMPTY) && !c.has_message, "get on an empty queue: flags 0x%x, message %d",
          c.flags, c.has_message);

    /* The callback form. */
    cb_state st;
    memset(&st, 0, sizeof st);
    st.conn = conn;
    st.channel = ch;
    const char *body2 = "event body two";
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b(queue), 0, NULL, tu_b(body2), NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_set_event_callback(conn, on_event, &st), NULL);
    deadline = tu_now_ms() + 5000;
    for (;;) {
        st.done = st.empty = false;
        CHECK_OK(swamqp_basic_get_async(conn, ch, tu_b(queue), 0, &st.request_id, &err), &err);
        int64_t wait_until = tu_now_ms() + WAIT_MS;
        while (!st.done) {
            CHECK(tu_now_ms() < wait_until, "dispatch: no completion for request %" PRIu64, st.request_id);
            size_t n = 99;
            int before = st.calls;
            CHECK_OK(swamqp_dispatch_events(conn, 200, &n), NULL);
            CHECK(n == (size_t)(st.calls - before), "dispatch reported %zu events but the callback ran %d times", n,
                  st.calls - before);
        }
        if (!st.empty || tu_now_ms() > deadline)
            break;
        tu_sleep_ms(50);
    }
    CHECK(!st.empty, "callback basic.get: no message within 5 s of the publish");
    CHECK(st.body_len == strlen(body2) && memcmp(st.body, body2, st.body_len) == 0, "callback body \"%.*s\"",
          (int)st.body_len, st.body);

    /* The ack sent from the callback took effect: the queue is empty and the channel is fine. */
    st.done = st.empty = false;
    CHECK_OK(swamqp_basic_get_async(conn, ch, tu_b(queue), 0, &st.request_id, &err), &err);
    for (int64_t until = tu_now_ms() + WAIT_MS; !st.done;) {
        CHECK(tu_now_ms() < until, "dispatch: no completion for the last basic.get");
        CHECK_OK(swamqp_dispatch_events(conn, 200, NULL), NULL);
    }
    CHECK(st.empty, "queue not empty after the ack sent from the callback");

    CHECK_OK(swamqp_set_event_callback(conn, NULL, NULL), NULL);
    CHECK_STATUS(swamqp_dispatch_events(conn, 0, NULL), SWAMQP_ERR_BAD_STATE, NULL);

    /* close_async: the completion, then CONNECTION_CLOSED as the last event. */
    uint64_t rid_close = 0;
    CHECK_OK(swamqp_connection_close_async(conn, &rid_close, &err), &err);
    bool closed = wait_completion(conn, fd, rid_close, &c, "connection_close_async", true);
    EXPECT_COMPLETION_OK(c, "connection_close_async");
    CHECK(!swamqp_connection_is_open(conn), "is_open after the close completion");
    for (int64_t until = tu_now_ms() + WAIT_MS; !closed;) {
        CHECK(tu_now_ms() < until, "no CONNECTION_CLOSED event within %d ms of the close completion", WAIT_MS);
        swamqp_event ev[8];
        size_t n = 0;
        int rc = swamqp_next_events(conn, ev, 8, &n, 200);
        CHECK(rc == SWAMQP_OK, "next_events before CONNECTION_CLOSED returned %s", swamqp_status_string(rc));
        for (size_t i = 0; i < n; i++) {
            if (ev[i].type == SWAMQP_EVENT_CONNECTION_CLOSED) {
                CHECK(i == n - 1, "events after CONNECTION_CLOSED");
                closed = true;
            } else {
                describe(&ev[i]);
            }
        }
    }
    {
        swamqp_event ev[2];
        size_t n = 99;
        CHECK_STATUS(swamqp_next_events(conn, ev, 2, &n, 0), SWAMQP_ERR_CONNECTION_CLOSED, NULL);
        CHECK(n == 0, "next_events after CONNECTION_CLOSED wrote %zu events", n);
    }

    CHECK_OK(swamqp_connection_free(conn), NULL);
    CHECK(swamqp_connection_event_fd(conn) == -1, "event_fd of a freed handle is not -1");
    errno = 0;
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "event fd %d still open after free", fd);
    size_t n = 0;
    CHECK_STATUS(swamqp_dispatch_events(conn, 0, &n), SWAMQP_ERR_INVALID_HANDLE, NULL);

    /* An event fd asked for only once events are queued is readable at once, and not once they
     * are drained (the library signals it only for programs that asked for it). */
    swamqp_connection *late = tu_connect();
    uint16_t late_ch = 0;
    uint64_t rid_late = 0;
    CHECK_OK(swamqp_channel_open_async(late, &late_ch, &rid_late, &err), &err);
    swamqp_stats stats;
    int64_t late_deadline = tu_now_ms() + T_MS;
    do {
        CHECK_OK(swamqp_connection_stats(late, &stats), NULL);
        CHECK(tu_now_ms() < late_deadline, "no event queued within %d ms", T_MS);
    } while (stats.events_queued_bytes == 0);
    int late_fd = swamqp_connection_event_fd(late);
    struct pollfd p1 = {late_fd, POLLIN, 0};
    CHECK(poll(&p1, 1, 0) == 1, "an event fd asked for while events are queued is not readable");
    swamqp_event batch[16];
    size_t got = 0;
    do {
        CHECK_OK(swamqp_next_events(late, batch, 16, &got, 0), NULL);
    } while (got == 16);
    p1.revents = 0;
    CHECK(poll(&p1, 1, 0) == 0, "the event fd is still readable after the queue was drained");
    CHECK_OK(swamqp_connection_close(late, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(late), NULL);

    printf("c_events: OK\n");
    return 0;
}
