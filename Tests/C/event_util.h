/*
 * Event helpers for the C tests (header-only), on top of test_util.h.
 *
 * ev_next() drains one event at a time (swamqp_next_events with capacity 1), so the event it returns,
 * and the memory it points to, stay valid until the next ev_* call on that connection, exactly as
 * the header promises for a batch. ev_wait() waits for an event of one type and FAILS on a
 * connection close it did not ask for.
 */
#ifndef SWIFTAMQP_EVENT_UTIL_H
#define SWIFTAMQP_EVENT_UTIL_H

#include "test_util.h"

static TU_UNUSED const char *ev_type_name(int type)
{
    static const char *const names[] = {"NONE",      "COMPLETION",         "DELIVERY", "RETURN", "CONFIRM_ACK",
                                        "CONFIRM_NACK", "CHANNEL_CLOSED", "CONNECTION_CLOSED", "BLOCKED",
                                        "UNBLOCKED", "CONSUMER_CANCELLED", "LOG",      "FLOW",   "RAW_FRAME"};
    return type >= 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : "(unknown)";
}

static TU_UNUSED void ev_describe(const char *prefix, const swamqp_event *e)
{
    fprintf(stderr, "%s%s status %s channel %u flags 0x%x request %" PRIu64 " tag %" PRIu64 " name %s%s%s\n",
            prefix, ev_type_name(e->type), swamqp_status_string(e->status), e->channel, e->flags, e->request_id,
            e->delivery_tag, tu_show(e->name), e->error ? " error: " : "", e->error ? tu_err_text(e->error) : "");
}

/** The next event within timeout_ms, or NULL. Valid until the next ev_* / swamqp_next_events call. */
static TU_UNUSED const swamqp_event *ev_next(swamqp_connection *conn, uint32_t timeout_ms)
{
    static swamqp_event one;
    size_t n = 0;
    memset(&one, 0, sizeof one);
    int rc = swamqp_next_events(conn, &one, 1, &n, timeout_ms);
    if (rc == SWAMQP_ERR_CONNECTION_CLOSED && n == 0)
        return NULL;
    CHECK(rc == SWAMQP_OK, "swamqp_next_events returned %s (%d)", swamqp_status_string(rc), rc);
    CHECK(n <= 1, "swamqp_next_events wrote %zu events into an array of 1", n);
    return n == 1 ? &one : NULL;
}

/**
 * Waits up to timeout_ms for an event of `type` (on `channel`, unless channel is 0xFFFF) and returns
 * it. LOG events are skipped silently; other events are printed and skipped. FAILS on timeout and on
 * a CONNECTION_CLOSED that was not the awaited type.
 */
static TU_UNUSED const swamqp_event *ev_wait_at(const char *file, int line, swamqp_connection *conn, int type,
                                                uint16_t channel, uint32_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - tu_now_ms();
        if (left < 0)
            left = 0;
        const swamqp_event *e = ev_next(conn, (uint32_t)left);
        if (e == NULL) {
            if (tu_now_ms() >= deadline)
                tu_fail(file, line, "no %s event (channel %u) within %u ms", ev_type_name(type), channel,
                        timeout_ms);
            continue;
        }
        if (e->type == type && (channel == 0xFFFF || e->channel == channel))
            return e;
        if (e->type == SWAMQP_EVENT_LOG)
            continue;
        if (e->type == SWAMQP_EVENT_CONNECTION_CLOSED)
            tu_fail(file, line, "waiting for %s: the connection closed: %s %s", ev_type_name(type),
                    swamqp_status_string(e->status), e->error ? tu_err_text(e->error) : "(no error)");
        ev_describe("  (skipped while waiting) ", e);
    }
}
#define ev_wait(conn, type, channel, timeout_ms) ev_wait_at(__FILE__, __LINE__, conn, type, channel, timeout_ms)
#define EV_ANY_CHANNEL 0xFFFF

/**
 * Waits for a CHANNEL_CLOSED on `channel` that the broker caused (status not OK). A CHANNEL_CLOSED
 * with status OK and no error is the event of our own earlier close of a channel that had the same
 * number (numbers are reused): it is skipped.
 */
static TU_UNUSED const swamqp_event *ev_wait_broker_close_at(const char *file, int line, swamqp_connection *conn,
                                                             uint16_t channel, uint32_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - tu_now_ms();
        const swamqp_event *e = ev_wait_at(file, line, conn, SWAMQP_EVENT_CHANNEL_CLOSED, channel,
                                           (uint32_t)(left > 0 ? left : 0));
        if (e->status == SWAMQP_OK && e->error == NULL)
            continue;
        return e;
    }
}
#define ev_wait_broker_close(conn, channel, timeout_ms) ev_wait_broker_close_at(__FILE__, __LINE__, conn, channel, timeout_ms)

/** Waits for the completion of request `rid` and checks its status. Returns the event. */
static TU_UNUSED const swamqp_event *ev_completion_at(const char *file, int line, swamqp_connection *conn,
                                                      uint64_t rid, int expected, uint32_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - tu_now_ms();
        const swamqp_event *e = ev_wait_at(file, line, conn, SWAMQP_EVENT_COMPLETION, EV_ANY_CHANNEL,
                                           (uint32_t)(left > 0 ? left : 0));
        if (e->request_id != rid) {
            ev_describe("  (other completion) ", e);
            continue;
        }
        tu_check_status(file, line, "completion status", e->status, expected, e->error);
        if (expected != SWAMQP_OK && e->error == NULL)
            tu_fail(file, line, "failed completion of request %" PRIu64 " carries no error", rid);
        return e;
    }
}
#define ev_completion(conn, rid, expected, timeout_ms)                                                      \
    ev_completion_at(__FILE__, __LINE__, conn, rid, expected, timeout_ms)

/**
 * An _async call that must end with `expected`: either at once (rc == expected) or with rc == OK and
 * a completion of `rid` carrying `expected`.
 */
static TU_UNUSED void ev_expect_async_at(const char *file, int line, swamqp_connection *conn, int rc, uint64_t rid,
                                         int expected, const swamqp_error *err, const char *what)
{
    if (rc != SWAMQP_OK || expected == SWAMQP_OK) {
        tu_check_status(file, line, what, rc, expected, err);
        if (rc != SWAMQP_OK)
            return;
    }
    ev_completion_at(file, line, conn, rid, expected, 10000);
}
#define ev_expect_async(conn, rc, rid, expected, err, what)                                                 \
    ev_expect_async_at(__FILE__, __LINE__, conn, rc, rid, expected, err, what)

/** No event but LOG within `ms`: FAILS on anything else (printing it). */
static TU_UNUSED void ev_expect_quiet_at(const char *file, int line, swamqp_connection *conn, uint32_t ms)
{
    int64_t deadline = tu_now_ms() + ms;
    for (;;) {
        int64_t left = deadline - tu_now_ms();
        if (left <= 0)
            return;
        const swamqp_event *e = ev_next(conn, (uint32_t)left);
        if (e == NULL || e->type == SWAMQP_EVENT_LOG)
            continue;
        ev_describe("  unexpected: ", e);
        tu_fail(file, line, "expected no event for %u ms, got %s", ms, ev_type_name(e->type));
    }
}
#define ev_expect_quiet(conn, ms) ev_expect_quiet_at(__FILE__, __LINE__, conn, ms)

/** A channel's queue: message_count from a passive declare (FAILS when the declare fails). */
static TU_UNUSED uint32_t tu_queue_count(swamqp_connection *conn, uint16_t ch, swamqp_bytes queue)
{
    swamqp_error err;
    swamqp_queue_declare_ok ok;
    memset(&ok, 0, sizeof ok);
    CHECK_OK(swamqp_queue_declare(conn, ch, queue, SWAMQP_PASSIVE, NULL, &ok, 5000, &err), &err);
    return ok.message_count;
}

/** Polls the queue's message_count until it equals `expected` (up to 10 s). */
#define WAIT_QUEUE_COUNT(conn, ch, queue, expected)                                                         \
    do {                                                                                                    \
        int64_t wq_deadline_ = tu_now_ms() + 10000;                                                         \
        uint32_t wq_count_;                                                                                 \
        while ((wq_count_ = tu_queue_count((conn), (ch), (queue))) != (uint32_t)(expected) &&               \
               tu_now_ms() < wq_deadline_)                                                                  \
            tu_sleep_ms(20);                                                                                \
        CHECK(wq_count_ == (uint32_t)(expected), "queue %s holds %" PRIu32 " messages, expected %u",        \
              tu_show(queue), wq_count_, (unsigned)(expected));                                             \
    } while (0)

/** Opens a channel (FAILS on error). */
static TU_UNUSED uint16_t tu_channel(swamqp_connection *conn)
{
    swamqp_error err;
    uint16_t ch = 0;
    CHECK_OK(swamqp_channel_open(conn, &ch, 5000, &err), &err);
    CHECK(ch >= 1, "channel_open gave channel %u", ch);
    return ch;
}

/** Declares an exclusive server-named queue; its name goes to `name` (256 bytes). */
static TU_UNUSED swamqp_bytes tu_temp_queue(swamqp_connection *conn, uint16_t ch, char *name)
{
    swamqp_error err;
    swamqp_queue_declare_ok ok;
    memset(&ok, 0, sizeof ok);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(""), SWAMQP_EXCLUSIVE, NULL, &ok, 5000, &err), &err);
    CHECK(ok.name_len > 0 && ok.name_len < 256, "server-named queue: name_len %zu", ok.name_len);
    memcpy(name, ok.name, ok.name_len);
    name[ok.name_len] = '\0';
    return tu_bn(name, ok.name_len);
}

/** Publishes a short body (FAILS on error). */
static TU_UNUSED void tu_publish(swamqp_connection *conn, uint16_t ch, const char *exchange, swamqp_bytes key,
                                 const char *body)
{
    swamqp_error err;
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(exchange), key, 0, NULL, tu_b(body), NULL, 5000, &err), &err);
}

/** basic.get with no_ack, retrying for up to `wait_ms` while the queue is empty. NULL when it stays empty. */
static TU_UNUSED swamqp_message *tu_get(swamqp_connection *conn, uint16_t ch, swamqp_bytes queue, uint32_t flags,
                                        int wait_ms)
{
    swamqp_error err;
    swamqp_message *msg = NULL;
    int64_t deadline = tu_now_ms() + wait_ms;
    for (;;) {
        CHECK_OK(swamqp_basic_get(conn, ch, queue, flags, &msg, 5000, &err), &err);
        if (msg != NULL || tu_now_ms() >= deadline)
            return msg;
        tu_sleep_ms(20);
    }
}

#endif /* SWIFTAMQP_EVENT_UTIL_H */
