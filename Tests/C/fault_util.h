/*
 * Helpers for the fault-injection tests (Tests/C/c_fault_*.c, c_cluster.c), header-only, on top of
 * test_util.h.
 *
 * Recovery tests need to see every event, in order, with the time it was taken from the queue, and
 * to look back at events that arrived while they waited for something else. So the events of a
 * connection are copied into a log (fu_log): fu_wait() drains until an event of a type appears
 * at or after a given index, and on failure the whole log is printed. Copies keep the first 255
 * bytes of names, payloads and bodies (and the full lengths).
 */
#ifndef SWIFTAMQP_FAULT_UTIL_H
#define SWIFTAMQP_FAULT_UTIL_H

#include "event_util.h"

#define FU_STR 256

typedef struct fu_event {
    int type;
    int status;
    uint16_t channel;
    uint32_t flags;
    uint64_t request_id;
    uint64_t delivery_tag;   /* confirms; deliveries: the message's tag */
    uint32_t message_count;
    bool redelivered;        /* deliveries */
    uint16_t reply_code;     /* error's, or a return's */
    char name[FU_STR];
    size_t name_len;
    char payload[FU_STR];
    char consumer_tag[FU_STR];
    char routing_key[FU_STR];
    char body[FU_STR];
    size_t body_len;
    char error[512];
    int64_t at_ms;           /* tu_now_ms() when it was drained */
} fu_event;

typedef struct fu_log {
    const char *label;
    swamqp_connection *conn;
    fu_event *ev;
    size_t n, cap;
    bool closed;             /* CONNECTION_CLOSED was drained */
} fu_log;

static TU_UNUSED const char *fu_type_name(int type)
{
    static const char *const names[] = {"NONE", "COMPLETION", "DELIVERY", "RETURN", "CONFIRM_ACK", "CONFIRM_NACK",
                                        "CHANNEL_CLOSED", "CONNECTION_CLOSED", "BLOCKED", "UNBLOCKED",
                                        "CONSUMER_CANCELLED", "LOG", "FLOW", "RAW_FRAME", "RECOVERY_STARTED",
                                        "RECOVERY_ENTITY_FAILED", "RECOVERED", "RECOVERY_FAILED",
                                        "QUEUE_RENAMED"};
    return type >= 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : "(unknown)";
}

static TU_UNUSED void fu_copy(char *dst, swamqp_bytes b, size_t *len_out)
{
    size_t n = b.len < FU_STR - 1 ? b.len : FU_STR - 1;
    if (n > 0 && b.bytes != NULL)
        memcpy(dst, b.bytes, n);
    dst[n] = '\0';
    if (len_out)
        *len_out = b.len;
}

static TU_UNUSED void fu_init(fu_log *log, swamqp_connection *conn, const char *label)
{
    memset(log, 0, sizeof *log);
    log->conn = conn;
    log->label = label;
}

static TU_UNUSED void fu_free(fu_log *log)
{
    free(log->ev);
    log->ev = NULL;
    log->n = log->cap = 0;
}

static TU_UNUSED void fu_print_event(const fu_log *log, size_t i)
{
    const fu_event *e = &log->ev[i];
    fprintf(stderr, "  [%s #%zu +%lldms] %s status %s ch %u flags 0x%x tag %" PRIu64 " count %u%s name \"%s\"",
            log->label, i, (long long)(e->at_ms - (log->n ? log->ev[0].at_ms : 0)), fu_type_name(e->type),
            swamqp_status_string(e->status), e->channel, e->flags, e->delivery_tag, e->message_count,
            e->redelivered ? " redelivered" : "", e->name);
    if (e->payload[0])
        fprintf(stderr, " payload \"%s\"", e->payload);
    if (e->type == SWAMQP_EVENT_DELIVERY || e->type == SWAMQP_EVENT_RETURN)
        fprintf(stderr, " ctag \"%s\" key \"%s\" body(%zu) \"%.60s\"", e->consumer_tag, e->routing_key, e->body_len,
                e->body);
    if (e->error[0])
        fprintf(stderr, " error [%u] %s", e->reply_code, e->error);
    fputc('\n', stderr);
}

static TU_UNUSED void fu_dump(const fu_log *log)
{
    fprintf(stderr, "events of %s (%zu):\n", log->label, log->n);
    size_t from = log->n > 400 ? log->n - 400 : 0;
    if (from)
        fprintf(stderr, "  ... %zu earlier events not shown\n", from);
    for (size_t i = from; i < log->n; i++)
        fu_print_event(log, i);
}

/* CHECK that also prints the event log first. */
#define FU_CHECK(log, cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fu_dump(log);                                                                          \
            tu_fail_check(__FILE__, __LINE__, #cond, __VA_ARGS__);                                 \
        }                                                                                          \
    } while (0)

/** Drains what is queued (waiting up to timeout_ms for the first event) into the log. Returns how many. */
static TU_UNUSED size_t fu_pump(fu_log *log, uint32_t timeout_ms)
{
    if (log->closed) {
        if (timeout_ms)
            tu_sleep_ms(timeout_ms < 50 ? timeout_ms : 50);
        return 0;
    }
    swamqp_event batch[64];
    size_t count = 0;
    int rc = swamqp_next_events(log->conn, batch, 64, &count, timeout_ms);
    if (rc == SWAMQP_ERR_CONNECTION_CLOSED && count == 0) {
        log->closed = true;
        return 0;
    }
    if (rc != SWAMQP_OK) {
        fu_dump(log);
        FAILF("%s: swamqp_next_events returned %s", log->label, swamqp_status_string(rc));
    }
    int64_t now = tu_now_ms();
    for (size_t k = 0; k < count; k++) {
        const swamqp_event *s = &batch[k];
        if (s->type == SWAMQP_EVENT_LOG)
            continue;
        if (log->n == log->cap) {
            size_t cap = log->cap ? log->cap * 2 : 256;
            fu_event *grown = realloc(log->ev, cap * sizeof *grown);
            CHECK(grown != NULL, "out of memory for the event log");
            log->ev = grown;
            log->cap = cap;
        }
        fu_event *e = &log->ev[log->n++];
        memset(e, 0, sizeof *e);
        e->type = s->type;
        e->status = s->status;
        e->channel = s->channel;
        e->flags = s->flags;
        e->request_id = s->request_id;
        e->delivery_tag = s->delivery_tag;
        e->message_count = s->message_count;
        e->at_ms = now;
        fu_copy(e->name, s->name, &e->name_len);
        fu_copy(e->payload, s->payload, NULL);
        if (s->message) {
            e->redelivered = s->message->redelivered;
            if (s->type == SWAMQP_EVENT_DELIVERY)
                e->delivery_tag = s->message->delivery_tag;
            e->reply_code = s->message->reply_code;
            fu_copy(e->consumer_tag, s->message->consumer_tag, NULL);
            fu_copy(e->routing_key, s->message->routing_key, NULL);
            fu_copy(e->body, s->message->body, &e->body_len);
        }
        if (s->error) {
            e->reply_code = s->error->reply_code;
            snprintf(e->error, sizeof e->error, "%s", s->error->message);
        }
        if (s->type == SWAMQP_EVENT_CONNECTION_CLOSED)
            log->closed = true;
    }
    return count;
}

/** Index of the first event of `type` at or after `from` (channel 0xFFFF: any), or -1. */
static TU_UNUSED long fu_find(const fu_log *log, int type, uint16_t channel, size_t from)
{
    for (size_t i = from; i < log->n; i++)
        if (log->ev[i].type == type && (channel == 0xFFFF || log->ev[i].channel == channel))
            return (long)i;
    return -1;
}

/** Index of the first delivery whose body is `body`, at or after `from`, or -1. */
static TU_UNUSED long fu_find_body(const fu_log *log, const char *body, size_t from)
{
    for (size_t i = from; i < log->n; i++)
        if (log->ev[i].type == SWAMQP_EVENT_DELIVERY && strcmp(log->ev[i].body, body) == 0)
            return (long)i;
    return -1;
}

static TU_UNUSED size_t fu_count(const fu_log *log, int type, size_t from)
{
    size_t c = 0;
    for (size_t i = from; i < log->n; i++)
        c += log->ev[i].type == type;
    return c;
}

/**
 * Waits up to timeout_ms for an event of `type` at index >= from and returns its index. FAILS (with
 * the log) on timeout, and on a CONNECTION_CLOSED unless that is the type waited for.
 */
static TU_UNUSED size_t fu_wait_at(const char *file, int line, fu_log *log, int type, uint16_t channel, size_t from,
                                   uint32_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    size_t scanned = from;
    for (;;) {
        long i = fu_find(log, type, channel, scanned);
        if (i >= 0)
            return (size_t)i;
        scanned = log->n > from ? log->n : from;
        if (type != SWAMQP_EVENT_CONNECTION_CLOSED && fu_find(log, SWAMQP_EVENT_CONNECTION_CLOSED, 0xFFFF, from) >= 0) {
            fu_dump(log);
            tu_fail(file, line, "%s: waiting for %s, the connection closed", log->label, fu_type_name(type));
        }
        int64_t left = deadline - tu_now_ms();
        if (left <= 0) {
            fu_dump(log);
            tu_fail(file, line, "%s: no %s event (channel %u) within %u ms", log->label, fu_type_name(type), channel,
                    timeout_ms);
        }
        fu_pump(log, (uint32_t)(left < 200 ? left : 200));
    }
}
#define fu_wait(log, type, channel, from, timeout_ms) fu_wait_at(__FILE__, __LINE__, log, type, channel, from, timeout_ms)

/** Waits for a delivery with this body at index >= from; returns its index (FAILS on timeout). */
static TU_UNUSED size_t fu_wait_body_at(const char *file, int line, fu_log *log, const char *body, size_t from,
                                        uint32_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    for (;;) {
        long i = fu_find_body(log, body, from);
        if (i >= 0)
            return (size_t)i;
        int64_t left = deadline - tu_now_ms();
        if (left <= 0 || log->closed) {
            fu_dump(log);
            tu_fail(file, line, "%s: no delivery of \"%s\" within %u ms%s", log->label, body, timeout_ms,
                    log->closed ? " (connection closed)" : "");
        }
        fu_pump(log, (uint32_t)(left < 200 ? left : 200));
    }
}
#define fu_wait_body(log, body, from, timeout_ms) fu_wait_body_at(__FILE__, __LINE__, log, body, from, timeout_ms)

/** Keeps draining for `ms` (collecting whatever arrives). */
static TU_UNUSED void fu_settle(fu_log *log, uint32_t ms)
{
    int64_t deadline = tu_now_ms() + ms;
    for (;;) {
        int64_t left = deadline - tu_now_ms();
        if (left <= 0)
            return;
        fu_pump(log, (uint32_t)(left < 100 ? left : 100));
    }
}

/** Options from AMQP_URL with automatic recovery on and quick retries (100 ms doubling up to 1 s). */
static TU_UNUSED void fu_recovery_options(swamqp_connection_options *options, const char *connection_name)
{
    tu_options_from_env(options);
    options->connection_name = connection_name;
    options->automatic_recovery = true;
    options->recovery_initial_delay_ms = 100;
    options->recovery_max_delay_ms = 1000;
    options->recovery_max_attempts = 0;
}

/** The port of AMQP_URL (from the parsed options). */
static TU_UNUSED uint16_t fu_broker_port(void)
{
    swamqp_connection_options o;
    tu_options_from_env(&o);
    return o.port;
}

/** Publishes body to the default exchange with routing key `queue`. */
static TU_UNUSED int fu_publish(swamqp_connection *conn, uint16_t ch, const char *exchange, const char *key,
                                const char *body, uint64_t *seq, uint32_t timeout_ms, swamqp_error *err)
{
    return swamqp_basic_publish(conn, ch, tu_b(exchange), tu_b(key), 0, NULL, tu_b(body), seq, timeout_ms, err);
}

#endif /* SWIFTAMQP_FAULT_UTIL_H */
