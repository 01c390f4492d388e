/*
 * c_broker_close: the broker closes the connection (`rabbitmqctl close_connection`), found by its
 * connection_name through `scripts/broker ctl NAME list_connections pid client_properties`.
 *
 * While a second thread keeps publishing on a confirm channel, the test closes the connection with
 * a reason text. Then:
 * - SWAMQP_EVENT_CONNECTION_CLOSED is the last event, origin BROKER, reply 320 CONNECTION_FORCED and
 *   the reason text in the message; swamqp_connection_is_open is false; calls return
 *   SWAMQP_ERR_CONNECTION_CLOSED; swamqp_next_events after the close event too;
 * - every publish that returned SWAMQP_OK is confirmed exactly once: by a broker ack, or by a nack
 *   with a non-zero status (the connection's loss) and an error; wait_for_confirms reports failure.
 */
#include "broker_ctl.h"
#include "event_util.h"

#include <pthread.h>

#define T_MS 5000
#define MAX_PUBLISH 400000

typedef struct publisher {
    swamqp_connection *conn;
    uint16_t ch;
    swamqp_bytes queue;
    uint64_t published; /* successful publishes; their sequences are 1..published */
    int last_rc;
    swamqp_error err;
    volatile int started;
} publisher;

static void *publish_loop(void *arg)
{
    publisher *p = arg;
    for (uint64_t i = 1; i <= MAX_PUBLISH; i++) {
        uint64_t seq = 0;
        p->last_rc = swamqp_basic_publish(p->conn, p->ch, tu_b(""), p->queue, 0, NULL, tu_b("x"), &seq, 10000, &p->err);
        if (p->last_rc != SWAMQP_OK)
            break;
        CHECK(seq == i, "publish %" PRIu64 " got sequence %" PRIu64, i, seq);
        p->published = i;
        if (i == 1000)
            __atomic_store_n(&p->started, 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&p->started, 1, __ATOMIC_RELEASE);
    return NULL;
}

int main(void)
{
    swamqp_error err;
    char conn_name[200], reason[100];
    tu_unique_name(conn_name, sizeof conn_name, "swiftamqp Tests/C c_broker_close", "conn");
    snprintf(reason, sizeof reason, "closed by c_broker_close %ld", (long)getpid());

    swamqp_connection_options options;
    tu_options_from_env(&options);
    options.connection_name = conn_name;
    swamqp_connection *conn = tu_connect_with(&options);
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    CHECK_OK(swamqp_confirm_select(conn, ch, T_MS, &err), &err);

    char pid[256];
    CHECK(bc_find_connection_pid(conn_name, pid, sizeof pid),
          "connection \"%s\" not found in list_connections of broker %s", conn_name, bc_node());
    fprintf(stderr, "connection pid %s\n", pid);

    publisher p;
    memset(&p, 0, sizeof p);
    p.conn = conn;
    p.ch = ch;
    p.queue = q;
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, publish_loop, &p) == 0, "pthread_create");
    while (!__atomic_load_n(&p.started, __ATOMIC_ACQUIRE))
        tu_sleep_ms(1);

    CHECK(bc_ctl(NULL, 0, "close_connection '%s' '%s'", pid, reason) == 0, "close_connection failed");
    pthread_join(thread, NULL);
    fprintf(stderr, "published %" PRIu64 " before the close; the next publish returned %s: %s\n", p.published,
            swamqp_status_string(p.last_rc), tu_err_text(&p.err));
    CHECK(p.last_rc == SWAMQP_ERR_CONNECTION_CLOSED, "publish after the broker closed the connection returned %s",
          swamqp_status_string(p.last_rc));

    /* Every published sequence is confirmed exactly once; CONNECTION_CLOSED is the last event. */
    uint8_t *state = calloc(p.published + 2, 1);
    CHECK(state != NULL, "calloc");
    uint64_t acked = 0, nacked_by_loss = 0;
    bool closed = false;
    int64_t deadline = tu_now_ms() + 20000;
    while (!closed) {
        CHECK(tu_now_ms() < deadline, "no CONNECTION_CLOSED event within 20 s");
        const swamqp_event *e = ev_next(conn, 200);
        if (e == NULL)
            continue;
        switch (e->type) {
        case SWAMQP_EVENT_CONFIRM_ACK:
        case SWAMQP_EVENT_CONFIRM_NACK: {
            bool ack = e->type == SWAMQP_EVENT_CONFIRM_ACK;
            CHECK(e->delivery_tag >= 1 && e->delivery_tag <= p.published, "confirm of %" PRIu64 " (published %" PRIu64
                  ")", e->delivery_tag, p.published);
            if (!ack) {
                CHECK(e->status != SWAMQP_OK && e->error != NULL,
                      "a nack for %" PRIu64 " during a broker close: status %s (the broker nacks nothing here)",
                      e->delivery_tag, swamqp_status_string(e->status));
                CHECK(e->flags & SWAMQP_EVENT_FLAG_MULTIPLE, "the loss nack is not MULTIPLE");
            }
            uint64_t from = (e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) ? 1 : e->delivery_tag, newly = 0;
            for (uint64_t s = from; s <= e->delivery_tag; s++)
                if (state[s] == 0) {
                    state[s] = ack ? 1 : 2;
                    newly++;
                }
            CHECK(newly > 0, "a confirm (%s %" PRIu64 ") that covers nothing new", ack ? "ack" : "nack",
                  e->delivery_tag);
            if (ack)
                acked += newly;
            else
                nacked_by_loss += newly;
            break;
        }
        case SWAMQP_EVENT_CONNECTION_CLOSED:
            closed = true;
            CHECK(e->error != NULL, "CONNECTION_CLOSED without error");
            CHECK(e->status == SWAMQP_ERR_CONNECTION_CLOSED && e->error->status == e->status,
                  "CONNECTION_CLOSED status %s", swamqp_status_string(e->status));
            CHECK(e->error->origin == SWAMQP_ORIGIN_BROKER, "origin %d", (int)e->error->origin);
            CHECK(e->error->reply_code == 320, "reply code %u, expected 320 CONNECTION_FORCED", e->error->reply_code);
            CHECK(strstr(e->error->message, reason) != NULL, "the close reason \"%s\" is not in the message \"%s\"",
                  reason, e->error->message);
            fprintf(stderr, "closed: %s\n", e->error->message);
            break;
        case SWAMQP_EVENT_CHANNEL_CLOSED:
        case SWAMQP_EVENT_LOG:
            break;
        default:
            ev_describe("unexpected ", e);
            FAILF("unexpected event %s", ev_type_name(e->type));
        }
    }
    for (uint64_t s = 1; s <= p.published; s++)
        CHECK(state[s] != 0, "sequence %" PRIu64 " of %" PRIu64 " was never confirmed nor failed", s, p.published);
    fprintf(stderr, "%" PRIu64 " acked, %" PRIu64 " failed by the connection loss\n", acked, nacked_by_loss);

    /* After the close. */
    size_t n = 7;
    swamqp_event ev[2];
    CHECK_STATUS(swamqp_next_events(conn, ev, 2, &n, 0), SWAMQP_ERR_CONNECTION_CLOSED, NULL);
    CHECK(n == 0, "next_events after the close event wrote %zu", n);
    CHECK(!swamqp_connection_is_open(conn), "is_open after the broker closed the connection");
    uint16_t ch2;
    CHECK_STATUS(swamqp_channel_open(conn, &ch2, T_MS, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    tu_err_reset(&err);
    int rc = swamqp_wait_for_confirms(conn, ch, T_MS, &err);
    CHECK(rc != SWAMQP_OK && rc != SWAMQP_ERR_TIMEOUT, "wait_for_confirms after the loss returned %s",
          swamqp_status_string(rc));
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    free(state);
    printf("c_broker_close: OK\n");
    return 0;
}
