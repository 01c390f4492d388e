/*
 * c_hostile: what a hostile-input review reproduced against the library, each kept as a regression
 * test. A fake broker (fake_broker.h) on a local socket plays the parts RabbitMQ cannot be made to
 * play; every scenario runs in its own process, so a trap (SIGILL) fails that scenario only.
 *
 * - size_t lengths and counts of 2^63 and more (body (size_t)-1, routing key, queue name, table
 *   counts, next_events capacity, endpoint and CA counts) give INVALID_ARGUMENT naming the
 *   argument, and nothing is sent; a body over max_message_size likewise;
 * - a blocking RPC with timeout 0 is refused before it is sent;
 * - max_message_size UINT64_MAX and a content header announcing 2^63 bytes: the connection is
 *   closed with MESSAGE_TOO_LARGE, the process lives;
 * - the late reply of a timed-out swamqp_basic_get is not lost: handed back to the queue
 *   (basic.reject requeue) without NO_ACK, a LATE_GET_MESSAGE event with NO_ACK;
 * - close's timeout is honoured when the calling thread wrote the close frame itself, and a
 *   timeout near UINT32_MAX does not wrap into a short one;
 * - connect_timeout_ms UINT32_MAX does not turn into a 1 s open timeout;
 * - freeing a connection never opened (adopted socket closed) or one recovering wakes every
 *   blocked thread with CONNECTION_CLOSED;
 * - reading paused over event_queue_limit does not kill the connection by heartbeat timeout, and
 *   a blocking call made without draining still gets its reply;
 * - a callback may free another connection, not its own.
 */
#include "event_util.h"
#include "fake_broker.h"

#include <pthread.h>
#include <sys/wait.h>

#define T_MS 5000

/* ---- helpers ---------------------------------------------------------------------------------- */

static swamqp_connection *connect_to(fb_peer *peer, swamqp_connection_options *options, uint16_t heartbeat)
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

static uint16_t open_channel(swamqp_connection *conn, fb_peer *peer)
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
static int64_t wait_eof(int fd, int timeout_ms)
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

static void send_content_header(fb_peer *peer, uint16_t channel, uint64_t body_size)
{
    fb_buf h;
    h.len = 0;
    fb_u16(&h, 60);
    fb_u16(&h, 0);
    fb_u64(&h, body_size);
    fb_u16(&h, 0); /* no properties */
    fb_send_frame(peer, 2, channel, h.data, h.len);
}

static void send_delivery(fb_peer *peer, uint16_t channel, uint64_t tag, const char *body)
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

static void *run_call(void *arg)
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

static pthread_t start_call(blocking_call *c, swamqp_connection *conn, enum call_kind kind, uint16_t channel,
                            uint32_t flags, uint32_t timeout_ms)
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

static bool is_done(blocking_call *c) { return __atomic_load_n(&c->done, __ATOMIC_ACQUIRE) != 0; }

/* ---- scenarios -------------------------------------------------------------------------------- */

static void test_huge_lengths(void)
{
    swamqp_error err;
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.heartbeat = 0;
    options.max_message_size = 1000;
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    uint16_t ch = open_channel(conn, &peer);
    static const char text[] = "hello";
    const swamqp_bytes minus_one = {text, (size_t)-1}, top_bit = {text, (size_t)1 << 63};

    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, minus_one, NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "body length") != NULL, "the error does not name the body: %s", err.message);
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), top_bit, 0, NULL, tu_b("x"), NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "routing_key") != NULL, "the error does not name routing_key: %s", err.message);
    CHECK_STATUS(swamqp_basic_publish(conn, ch, minus_one, tu_b("q"), 0, NULL, tu_b("x"), NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    /* a body one byte over max_message_size */
    static char big[1001];
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_bn(big, sizeof big), NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "max_message_size") != NULL, "%s", err.message);

    /* a queue name of SIZE_MAX bytes must not declare a server-named queue */
    uint64_t rid = 0;
    const swamqp_bytes huge_name = {"q", SIZE_MAX};
    CHECK_STATUS(swamqp_queue_declare_async(conn, ch, huge_name, 0, NULL, &rid, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "queue") != NULL, "%s", err.message);

    /* table counts, a nested array count, a long string in a table */
    swamqp_table_entry entry;
    memset(&entry, 0, sizeof entry);
    entry.key = tu_b("k");
    entry.value.kind = 'S';
    entry.value.value.bytes = tu_b("v");
    swamqp_table table = {SIZE_MAX, &entry};
    swamqp_properties props;
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_HEADERS;
    props.headers = table;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, &props, tu_b("x"), NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "field table count") != NULL, "%s", err.message);
    entry.value.value.bytes = minus_one;
    props.headers.count = 1;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, &props, tu_b("x"), NULL, 1000, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    swamqp_field_value element;
    memset(&element, 0, sizeof element);
    element.kind = 'I';
    entry.value.kind = 'A';
    entry.value.value.array.count = (size_t)1 << 63;
    entry.value.value.array.values = &element;
    CHECK_STATUS(swamqp_exchange_declare_async(conn, ch, tu_b("x"), tu_b("direct"), 0, &props.headers, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "field array count") != NULL, "%s", err.message);
    entry.key.len = SIZE_MAX;
    CHECK_STATUS(swamqp_exchange_declare_async(conn, ch, tu_b("x"), tu_b("direct"), 0, &props.headers, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);

    /* a blocking RPC with timeout 0 is refused, not sent */
    CHECK_STATUS(swamqp_queue_declare(conn, ch, tu_b("q0"), 0, NULL, NULL, 0, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(strstr(err.message, "nothing was sent") != NULL, "%s", err.message);

    /* none of the above reached the broker: the next frame is this publish */
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("good"), NULL, 1000, &err), &err);
    CHECK(fb_expect_publish(&peer, ch, T_MS) == 4, "the first frame the broker saw is not the good publish");

    /* next_events with a capacity near SIZE_MAX takes what there is */
    CHECK_OK(swamqp_channel_open_async(conn, &ch, &rid, &err), &err);
    fb_accept_channel(&peer, ch);
    swamqp_event events[4];
    size_t n = 0;
    int64_t deadline = tu_now_ms() + T_MS;
    while (n == 0 && tu_now_ms() < deadline)
        CHECK_OK(swamqp_next_events(conn, events, SIZE_MAX >> 1, &n, 100), NULL);
    CHECK(n >= 1 && n <= 4, "next_events with capacity SIZE_MAX>>1 wrote %zu events", n);
    CHECK_STATUS(swamqp_next_events(conn, events, SIZE_MAX, &n, 0), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK(swamqp_connection_is_open(conn), "the connection did not survive");
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static void test_option_counts(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    swamqp_connection *conn = (swamqp_connection *)1;
    swamqp_endpoint endpoint = {"127.0.0.1", 5672};
    static const size_t huge[] = {(size_t)1 << 63, SIZE_MAX, 1025};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        swamqp_connection_options_init(&options);
        options.endpoints = &endpoint;
        options.endpoint_count = huge[i];
        CHECK_STATUS(swamqp_connection_create(&options, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
        CHECK(conn == NULL && strstr(err.message, "endpoint_count") != NULL, "%s", err.message);
        swamqp_connection_options_init(&options);
        options.tls = true;
        swamqp_bytes certificate = tu_b("not really DER");
        options.tls_ca_certificates = &certificate;
        options.tls_ca_certificate_count = huge[i];
        CHECK_STATUS(swamqp_connection_create(&options, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
        CHECK(strstr(err.message, "tls_ca_certificate_count") != NULL, "%s", err.message);
    }
    swamqp_connection_options_init(&options);
    options.tls = true;
    swamqp_bytes certificate = {"x", SIZE_MAX};
    options.tls_ca_certificates = &certificate;
    options.tls_ca_certificate_count = 1;
    CHECK_STATUS(swamqp_connection_create(&options, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
}

static void test_huge_body_size_without_limit(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.max_message_size = UINT64_MAX; /* "no limit of ours" */
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    uint16_t ch = open_channel(conn, &peer);
    fb_buf a;
    a.len = 0;
    fb_shortstr(&a, "ctag");
    fb_u64(&a, 1);
    fb_u8(&a, 0);
    fb_shortstr(&a, "");
    fb_shortstr(&a, "rk");
    fb_send_method(&peer, ch, 60, 60, &a);
    send_content_header(&peer, ch, (uint64_t)1 << 63);
    /* The client may close as soon as it has read the header: the body frame may not get through. */
    static const uint8_t body_frame[] = {3, 0, 1, 0, 0, 0, 4, 'b', 'o', 'd', 'y', 0xCE};
    (void)send(peer.fd, body_frame, sizeof body_frame, MSG_NOSIGNAL);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_CONNECTION_CLOSED, EV_ANY_CHANNEL, T_MS);
    CHECK(e->status == SWAMQP_ERR_MESSAGE_TOO_LARGE, "closed with %s", swamqp_status_string(e->status));
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, 0, 10, 50, T_MS); /* connection.close with a reason */
    free(f.payload);
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static void late_get(bool no_ack)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    uint16_t ch = open_channel(conn, &peer);
    blocking_call get;
    pthread_t thread = start_call(&get, conn, CALL_GET, ch, no_ack ? SWAMQP_NO_ACK : 0, 200);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, ch, 60, 70, T_MS);
    pthread_join(thread, NULL);
    CHECK(get.rc == SWAMQP_ERR_TIMEOUT, "the get returned %s: %s", swamqp_status_string(get.rc), tu_err_text(&get.err));
    /* the get-ok arrives after the caller gave up */
    fb_buf a;
    a.len = 0;
    fb_u64(&a, 7);
    fb_u8(&a, 0);
    fb_shortstr(&a, "");
    fb_shortstr(&a, "q");
    fb_u32(&a, 0);
    fb_send_method(&peer, ch, 60, 71, &a);
    send_content_header(&peer, ch, 4);
    fb_send_frame(&peer, 3, ch, "late", 4);
    if (no_ack) {
        const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_LATE_GET_MESSAGE, ch, T_MS);
        CHECK(e->message != NULL && tu_bytes_eq(e->message->body, "late") && e->delivery_tag == 7,
              "late message: body %s tag %" PRIu64, e->message ? tu_show(e->message->body) : "(none)", e->delivery_tag);
    } else {
        fb_expect_method(&peer, &f, ch, 60, 90, T_MS); /* basic.reject */
        CHECK(f.size == 4 + 9 && fb_get64(f.payload + 4) == 7 && f.payload[12] == 1,
              "basic.reject of tag %" PRIu64 " requeue %u", fb_get64(f.payload + 4), f.payload[12]);
    }
    free(f.payload);
    CHECK(swamqp_connection_is_open(conn), "the connection did not survive the late reply");
    swamqp_connection_free(conn);
    fb_close(&peer);
}
static void test_late_get_no_ack(void) { late_get(true); }
static void test_late_get_requeued(void) { late_get(false); }

static void test_close_timeout_honoured(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.heartbeat = 0; /* no heartbeat timer to wake the I/O thread by chance */
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    tu_sleep_ms(100); /* sparse commands: the close frame is written by the calling thread */
    int64_t start = tu_now_ms();
    blocking_call close_call;
    pthread_t thread = start_call(&close_call, conn, CALL_CLOSE, 0, 0, 300);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, 0, 10, 50, T_MS); /* never answered */
    free(f.payload);
    int64_t eof = wait_eof(peer.fd, 5000);
    CHECK(eof >= 0, "the socket was still open 5 s after close(300) without close-ok");
    CHECK(tu_now_ms() - start < 2000, "the socket closed %" PRId64 " ms after close(300)", tu_now_ms() - start);
    pthread_join(thread, NULL);
    CHECK(close_call.returned_at - start < 2000, "close(300) returned after %" PRId64 " ms",
          close_call.returned_at - start);
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static void test_close_timeout_near_max(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    int64_t start = tu_now_ms();
    blocking_call close_call;
    pthread_t thread = start_call(&close_call, conn, CALL_CLOSE, 0, 0, UINT32_MAX - 500);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, 0, 10, 50, T_MS);
    free(f.payload);
    tu_sleep_ms(1500);
    CHECK(!is_done(&close_call), "close(UINT32_MAX - 500) returned after %" PRId64 " ms: %s",
          close_call.returned_at - start, swamqp_status_string(close_call.rc));
    fb_buf a;
    a.len = 0;
    fb_send_method(&peer, 0, 10, 51, &a); /* close-ok */
    pthread_join(thread, NULL);
    CHECK(close_call.rc == SWAMQP_OK, "close returned %s: %s", swamqp_status_string(close_call.rc), tu_err_text(&close_call.err));
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static void test_connect_timeout_forever(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.connect_timeout_ms = SWAMQP_WAIT_FOREVER;
    swamqp_error err;
    swamqp_connection *conn = NULL;
    CHECK_OK(swamqp_connection_create(&options, &conn, &err), &err);
    blocking_call open_call;
    pthread_t thread = start_call(&open_call, conn, CALL_OPEN, 0, 0, 0);
    fb_accept(&peer, 10000);
    tu_sleep_ms(1500); /* a slow broker */
    CHECK(!is_done(&open_call), "open gave up after 1.5 s: %s", swamqp_status_string(open_call.rc));
    fb_handshake(&peer, 0, 131072, 0, NULL);
    pthread_join(thread, NULL);
    CHECK(open_call.rc == SWAMQP_OK, "open returned %s: %s", swamqp_status_string(open_call.rc), tu_err_text(&open_call.err));
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static void test_free_never_opened(void)
{
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair: %s", strerror(errno));
    swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    options.socket_fd = pair[0];
    swamqp_error err;
    swamqp_connection *conn = NULL;
    CHECK_OK(swamqp_connection_create(&options, &conn, &err), &err);
    blocking_call drain;
    pthread_t thread = start_call(&drain, conn, CALL_NEXT_EVENTS, 0, 0, SWAMQP_WAIT_FOREVER);
    tu_sleep_ms(200);
    int64_t start = tu_now_ms();
    CHECK_OK(swamqp_connection_free(conn), NULL);
    pthread_join(thread, NULL);
    CHECK(drain.returned_at - start < 1000, "a thread blocked in next_events woke %" PRId64 " ms after free",
          drain.returned_at - start);
    CHECK(drain.rc == SWAMQP_OK || drain.rc == SWAMQP_ERR_CONNECTION_CLOSED || drain.rc == SWAMQP_ERR_INVALID_HANDLE,
          "next_events ended with %s", swamqp_status_string(drain.rc));
    CHECK(wait_eof(pair[1], 1000) >= 0, "the adopted socket was not closed by free");
    close(pair[1]);
}

static void test_free_during_recovery(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.automatic_recovery = true;
    options.recovery_initial_delay_ms = 10000; /* the next attempt is far away */
    options.recovery_max_delay_ms = 10000;
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    uint16_t ch = open_channel(conn, &peer);
    close(peer.fd); /* an unexpected loss: recovery begins */
    peer.fd = -1;
    ev_wait(conn, SWAMQP_EVENT_RECOVERY_STARTED, EV_ANY_CHANNEL, T_MS);
    blocking_call publish, drain;
    pthread_t publisher = start_call(&publish, conn, CALL_PUBLISH, ch, 0, SWAMQP_WAIT_FOREVER);
    pthread_t drainer = start_call(&drain, conn, CALL_NEXT_EVENTS, 0, 0, SWAMQP_WAIT_FOREVER);
    tu_sleep_ms(300);
    CHECK(!is_done(&publish), "the publish did not wait during recovery: %s", swamqp_status_string(publish.rc));
    int64_t start = tu_now_ms();
    CHECK_OK(swamqp_connection_free(conn), NULL);
    pthread_join(publisher, NULL);
    pthread_join(drainer, NULL);
    CHECK(publish.returned_at - start < 1500, "the waiting publish woke %" PRId64 " ms after free",
          publish.returned_at - start);
    CHECK(publish.rc == SWAMQP_ERR_CONNECTION_CLOSED, "the waiting publish returned %s",
          swamqp_status_string(publish.rc));
    CHECK(drain.returned_at - start < 1500, "the drain woke %" PRId64 " ms after free", drain.returned_at - start);
    fb_close(&peer);
}

static void test_paused_reading_keeps_heartbeat(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.heartbeat = 1;
    options.event_queue_limit = 4096;
    swamqp_connection *conn = connect_to(&peer, &options, 1);
    uint16_t ch = open_channel(conn, &peer);
    for (uint64_t tag = 1; tag <= 50; tag++)
        send_delivery(&peer, ch, tag, "0123456789abcdef");
    /* the application does not drain for 4 heartbeat intervals; the broker keeps beating */
    for (int i = 0; i < 16; i++) {
        fb_send_frame(&peer, 8, 0, NULL, 0);
        tu_sleep_ms(250);
    }
    CHECK(swamqp_connection_is_open(conn), "the connection died while reading was paused");
    /* a blocking call without draining: its reply sits behind the unread heartbeats */
    blocking_call declare;
    pthread_t thread = start_call(&declare, conn, CALL_DECLARE, ch, 0, 3000);
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(&peer, &f, ch, 50, 10, T_MS);
    free(f.payload);
    fb_buf a;
    a.len = 0;
    fb_shortstr(&a, "q");
    fb_u32(&a, 0);
    fb_u32(&a, 0);
    fb_send_method(&peer, ch, 50, 11, &a);
    pthread_join(thread, NULL);
    CHECK(declare.rc == SWAMQP_OK, "the declare returned %s: %s", swamqp_status_string(declare.rc), tu_err_text(&declare.err));
    /* every delivery is still there */
    uint64_t next_tag = 1;
    while (next_tag <= 50) {
        const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_DELIVERY, ch, T_MS);
        CHECK(e->delivery_tag == next_tag, "delivery %" PRIu64 " where %" PRIu64 " was due", e->delivery_tag, next_tag);
        next_tag++;
    }
    swamqp_connection_free(conn);
    fb_close(&peer);
}

static swamqp_connection *victim;
static int free_other_rc = 12345, free_own_rc = 12345;
static void free_in_callback(swamqp_connection *conn, const swamqp_event *event, void *user_data)
{
    (void)event;
    (void)user_data;
    if (victim != NULL) {
        free_other_rc = swamqp_connection_free(victim);
        victim = NULL;
        free_own_rc = swamqp_connection_free(conn);
    }
}

static void test_free_other_in_callback(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    swamqp_error err;
    swamqp_connection_options other;
    swamqp_connection_options_init(&other);
    CHECK_OK(swamqp_connection_create(&other, &victim, &err), &err);
    uint16_t ch = 0;
    uint64_t rid = 0;
    CHECK_OK(swamqp_channel_open_async(conn, &ch, &rid, &err), &err);
    fb_accept_channel(&peer, ch);
    CHECK_OK(swamqp_set_event_callback(conn, free_in_callback, NULL), NULL);
    size_t dispatched = 0;
    int64_t deadline = tu_now_ms() + T_MS;
    while (free_other_rc == 12345 && tu_now_ms() < deadline)
        CHECK_OK(swamqp_dispatch_events(conn, 100, &dispatched), NULL);
    CHECK(free_other_rc == SWAMQP_OK, "freeing another connection in a callback returned %s",
          swamqp_status_string(free_other_rc));
    CHECK(free_own_rc == SWAMQP_ERR_IN_CALLBACK, "freeing the callback's own connection returned %s",
          swamqp_status_string(free_own_rc));
    swamqp_connection_free(conn);
    fb_close(&peer);
}

int main(void)
{
    int failed = 0;
    failed += fb_run_scenario("size_t lengths and counts >= 2^63, body over max_message_size, RPC timeout 0", test_huge_lengths);
    failed += fb_run_scenario("endpoint and CA counts >= 2^63 or over 1024", test_option_counts);
    failed += fb_run_scenario("max_message_size UINT64_MAX, body size 2^63", test_huge_body_size_without_limit);
    failed += fb_run_scenario("a late no-ack basic.get message is handed out", test_late_get_no_ack);
    failed += fb_run_scenario("a late basic.get message goes back to the queue", test_late_get_requeued);
    failed += fb_run_scenario("close's timeout is honoured after a direct write", test_close_timeout_honoured);
    failed += fb_run_scenario("close(UINT32_MAX - 500) does not wrap", test_close_timeout_near_max);
    failed += fb_run_scenario("connect_timeout_ms SWAMQP_WAIT_FOREVER", test_connect_timeout_forever);
    failed += fb_run_scenario("free of a never-opened connection wakes the drain, closes the adopted socket", test_free_never_opened);
    failed += fb_run_scenario("free during recovery wakes a waiting publish and drain", test_free_during_recovery);
    failed += fb_run_scenario("paused reading: no heartbeat timeout, a blocking call still answered", test_paused_reading_keeps_heartbeat);
    failed += fb_run_scenario("a callback frees another connection, not its own", test_free_other_in_callback);
    if (failed) {
        fprintf(stderr, "FAIL c_hostile: %d scenario(s) failed\n", failed);
        return 1;
    }
    printf("c_hostile: OK\n");
    return 0;
}
