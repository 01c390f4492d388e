/*
 * What the files of the c_hostile test share; they build one program (main is in c_hostile.c).
 * Header-only, like fake_broker.h: a client connected to the fake broker, frames the broker side
 * sends, a blocking call run on another thread while the test's thread plays the broker, and the
 * scenarios main runs from the other files.
 */
#ifndef SWIFTAMQP_C_HOSTILE_H
#define SWIFTAMQP_C_HOSTILE_H

#include "event_util.h"
#include "fake_broker.h"

#include <pthread.h>
#include <sys/wait.h>

#define T_MS 5000

static TU_UNUSED swamqp_connection *connect_to(fb_peer *peer, swamqp_connection_options *options, uint16_t heartbeat)
{
    swamqp_error err;
    swamqp_connection *conn = NULL;
    CHECK_OK(swamqp_connection_create(options, &conn, &err), &err);
    uint64_t rid = 0;
    CHECK_OK(swamqp_connection_open_async(conn, &rid, &err), &err);
    fb_accept(peer, 10000);
    fb_handshake(peer, 0, 131072, heartbeat, NULL);
    ev_completion(conn, rid, SWAMQP_OK, 10000);
    return conn;
}

static TU_UNUSED uint16_t open_channel(swamqp_connection *conn, fb_peer *peer)
{
    swamqp_error err;
    uint16_t ch = 0;
    uint64_t rid = 0;
    CHECK_OK(swamqp_channel_open_async(conn, &ch, &rid, &err), &err);
    fb_accept_channel(peer, ch);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);
    return ch;
}

/** Waits for EOF (or reset) on the peer's socket, skipping what the client still sends; the time
 * it took in ms, or -1 when the socket stayed open `timeout_ms`. */
static TU_UNUSED int64_t wait_eof(int fd, int timeout_ms)
{
    int64_t start = tu_now_ms(), deadline = start + timeout_ms;
    uint8_t scratch[4096];
    for (;;) {
        int64_t left = deadline - tu_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = {fd, POLLIN, 0};
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t n = recv(fd, scratch, sizeof scratch, 0);
        if (n <= 0)
            return tu_now_ms() - start;
    }
}

static TU_UNUSED void send_content_header(fb_peer *peer, uint16_t channel, uint64_t body_size)
{
    fb_buf h;
    h.len = 0;
    fb_u16(&h, 60);
    fb_u16(&h, 0);
    fb_u64(&h, body_size);
    fb_u16(&h, 0); /* no properties */
    fb_send_frame(peer, 2, channel, h.data, h.len);
}

static TU_UNUSED void send_delivery(fb_peer *peer, uint16_t channel, uint64_t tag, const char *body)
{
    fb_buf a;
    a.len = 0;
    fb_shortstr(&a, "ctag");
    fb_u64(&a, tag);
    fb_u8(&a, 0);
    fb_shortstr(&a, "");
    fb_shortstr(&a, "rk");
    fb_send_method(peer, channel, 60, 60, &a);
    send_content_header(peer, channel, strlen(body));
    fb_send_frame(peer, 3, channel, body, strlen(body));
}

/* A blocking call on another thread while the test's thread plays the broker. */
enum call_kind { CALL_GET, CALL_CLOSE, CALL_OPEN, CALL_DECLARE, CALL_PUBLISH, CALL_NEXT_EVENTS };
typedef struct blocking_call {
    swamqp_connection *conn;
    enum call_kind kind;
    uint16_t channel;
    uint32_t flags;
    uint32_t timeout_ms;
    int rc;
    swamqp_error err;
    swamqp_message *message;
    int64_t returned_at;
    volatile int done;
} blocking_call;

static TU_UNUSED void *run_call(void *arg)
{
    blocking_call *c = arg;
    switch (c->kind) {
    case CALL_GET:
        c->rc = swamqp_basic_get(c->conn, c->channel, tu_b("q"), c->flags, &c->message, c->timeout_ms, &c->err);
        break;
    case CALL_CLOSE:
        c->rc = swamqp_connection_close(c->conn, c->timeout_ms, &c->err);
        break;
    case CALL_OPEN:
        c->rc = swamqp_connection_open(c->conn, &c->err);
        break;
    case CALL_DECLARE:
        c->rc = swamqp_queue_declare(c->conn, c->channel, tu_b("q"), 0, NULL, NULL, c->timeout_ms, &c->err);
        break;
    case CALL_PUBLISH:
        c->rc = swamqp_basic_publish(c->conn, c->channel, tu_b(""), tu_b("q"), 0, NULL, tu_b("x"), NULL, c->timeout_ms,
                                     &c->err);
        break;
    case CALL_NEXT_EVENTS:
        /* Drains until the connection ends; rc is the status that ended it. */
        for (;;) {
            swamqp_event events[8];
            size_t n = 0;
            c->rc = swamqp_next_events(c->conn, events, 8, &n, c->timeout_ms);
            if (c->rc != SWAMQP_OK)
                break;
            bool closed = false;
            for (size_t i = 0; i < n; i++)
                closed |= events[i].type == SWAMQP_EVENT_CONNECTION_CLOSED;
            if (closed || n == 0)
                break;
        }
        break;
    }
    c->returned_at = tu_now_ms();
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static TU_UNUSED pthread_t start_call(blocking_call *c, swamqp_connection *conn, enum call_kind kind,
                                      uint16_t channel, uint32_t flags, uint32_t timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->conn = conn;
    c->kind = kind;
    c->channel = channel;
    c->flags = flags;
    c->timeout_ms = timeout_ms;
    c->rc = 12345;
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, run_call, c) == 0, "pthread_create");
    return thread;
}

static TU_UNUSED bool is_done(blocking_call *c) { return __atomic_load_n(&c->done, __ATOMIC_ACQUIRE) != 0; }

/* The scenarios main runs from the other files. */
void test_late_get_no_ack(void);                /* c_hostile_timeouts.c */
void test_late_get_requeued(void);              /* c_hostile_timeouts.c */
void test_close_timeout_honoured(void);         /* c_hostile_timeouts.c */
void test_close_timeout_near_max(void);         /* c_hostile_timeouts.c */
void test_connect_timeout_forever(void);        /* c_hostile_timeouts.c */
void test_paused_reading_keeps_heartbeat(void); /* c_hostile_timeouts.c */
void test_free_never_opened(void);              /* c_hostile_teardown.c */
void test_free_during_recovery(void);           /* c_hostile_teardown.c */
void test_free_other_in_callback(void);         /* c_hostile_teardown.c */

#endif /* SWIFTAMQP_C_HOSTILE_H */
