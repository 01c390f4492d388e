/*
 * c_confirms: publisher confirms against the real broker.
 *
 * - confirm.select (blocking and _async); publish returns sequence numbers 1, 2, ... on a confirm
 *   channel and 0 elsewhere; wait_for_confirms on a channel without confirm.select gives
 *   SWAMQP_ERR_NOT_CONFIRM_MODE (blocking and _async);
 * - 10,000 confirmed publishes: every sequence is acknowledged exactly once (single or MULTIPLE
 *   acks matched against the outstanding set), then wait_for_confirms is OK and the stats agree;
 * - a mandatory publish to nowhere comes back as a RETURN with the whole message (properties,
 *   headers, body, 312 NO_ROUTE) before the CONFIRM_ACK of its sequence;
 * - broker nacks (a queue with x-max-length 1 and x-overflow reject-publish): CONFIRM_NACK events
 *   with status 0, wait_for_confirms gives SWAMQP_ERR_NACKED once, then OK.
 */
#include "event_util.h"

#define T_MS 5000
#define N_CONFIRMS 10000

/* ---- tracking confirms ----------------------------------------------------------------------- */

typedef struct tracker {
    uint8_t *state; /* per sequence: 0 unpublished, 1 outstanding, 2 acked, 3 nacked */
    uint64_t published, acked, nacked;
    uint16_t channel;
} tracker;

static void track_publish(tracker *t, uint64_t seq)
{
    CHECK(seq == t->published + 1, "publish got sequence %" PRIu64 ", expected %" PRIu64, seq, t->published + 1);
    t->state[seq] = 1;
    t->published = seq;
}

/* Applies a confirm event; FAILS on one that names no outstanding sequence. */
static void track_confirm(tracker *t, const swamqp_event *e)
{
    bool ack = e->type == SWAMQP_EVENT_CONFIRM_ACK;
    uint64_t tag = e->delivery_tag;
    CHECK(e->channel == t->channel, "confirm on channel %u, expected %u", e->channel, t->channel);
    CHECK(tag >= 1 && tag <= t->published, "confirm for sequence %" PRIu64 " (published %" PRIu64 ")", tag,
          t->published);
    CHECK(ack || e->status == SWAMQP_OK, "a broker nack carries status %s", swamqp_status_string(e->status));
    uint64_t from = (e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) ? 1 : tag, newly = 0;
    for (uint64_t s = from; s <= tag; s++) {
        if (t->state[s] != 1)
            continue;
        t->state[s] = ack ? 2 : 3;
        newly++;
    }
    CHECK(newly > 0, "%s %s%" PRIu64 " confirms nothing outstanding (a duplicate)", ack ? "ack" : "nack",
          (e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) ? "multiple up to " : "", tag);
    CHECK((e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) || newly == 1, "single confirm of %" PRIu64 " covered %" PRIu64, tag,
          newly);
    if (ack)
        t->acked += newly;
    else
        t->nacked += newly;
}

/* Drains confirm events (others FAIL) for up to timeout_ms or until all published are confirmed. */
static void drain_confirms(swamqp_connection *conn, tracker *t, uint32_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    swamqp_event events[256];
    while (t->acked + t->nacked < t->published) {
        int64_t left = deadline - tu_now_ms();
        if (left <= 0)
            return;
        size_t n = 0;
        CHECK_OK(swamqp_next_events(conn, events, 256, &n, timeout_ms ? (uint32_t)(left < 100 ? left : 100) : 0),
                 NULL);
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            if (e->type == SWAMQP_EVENT_LOG)
                continue;
            if (e->type == SWAMQP_EVENT_CHANNEL_CLOSED && e->status == SWAMQP_OK && e->error == NULL)
                continue; /* our own close of an earlier channel */
            if (e->type != SWAMQP_EVENT_CONFIRM_ACK && e->type != SWAMQP_EVENT_CONFIRM_NACK) {
                ev_describe("unexpected ", e);
                FAILF("unexpected %s event among confirms", ev_type_name(e->type));
            }
            track_confirm(t, e);
        }
        if (timeout_ms == 0 && n < 256)
            return;
    }
}

static void test_ten_thousand(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    tu_options_from_env(&options);
    options.connection_name = "swiftamqp Tests/C c_confirms 10k";
    swamqp_connection *conn = tu_connect_with(&options);
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    CHECK_OK(swamqp_confirm_select(conn, ch, T_MS, &err), &err);

    tracker t;
    memset(&t, 0, sizeof t);
    t.channel = ch;
    t.state = calloc(N_CONFIRMS + 1, 1);
    CHECK(t.state != NULL, "calloc");
    int64_t start = tu_now_ms();
    for (int i = 1; i <= N_CONFIRMS; i++) {
        char body[32];
        snprintf(body, sizeof body, "confirm-%d", i);
        uint64_t seq = 0;
        CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, NULL, tu_b(body), &seq, T_MS, &err), &err);
        track_publish(&t, seq);
        if (i % 500 == 0)
            drain_confirms(conn, &t, 0);
    }
    drain_confirms(conn, &t, 30000);
    CHECK(t.acked == N_CONFIRMS && t.nacked == 0, "%" PRIu64 " acked, %" PRIu64 " nacked of %d", t.acked, t.nacked,
          N_CONFIRMS);
    for (uint64_t s = 1; s <= N_CONFIRMS; s++)
        CHECK(t.state[s] == 2, "sequence %" PRIu64 " state %u", s, t.state[s]);
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
    fprintf(stderr, "10k confirms in %lld ms\n", (long long)(tu_now_ms() - start));

    swamqp_stats st;
    CHECK_OK(swamqp_connection_stats(conn, &st), NULL);
    CHECK(st.publishes == N_CONFIRMS && st.confirms_acked == N_CONFIRMS && st.confirms_nacked == 0,
          "stats: publishes %" PRIu64 " acked %" PRIu64 " nacked %" PRIu64, st.publishes, st.confirms_acked,
          st.confirms_nacked);
    CHECK(st.frames_out >= 3 * N_CONFIRMS && st.bytes_out > st.frames_out * 8 && st.frames_in > 0 && st.bytes_in > 0,
          "stats: frames out %" PRIu64 " in %" PRIu64 ", bytes out %" PRIu64 " in %" PRIu64, st.frames_out,
          st.frames_in, st.bytes_out, st.bytes_in);
    WAIT_QUEUE_COUNT(conn, ch, q, N_CONFIRMS);
    free(t.state);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    fprintf(stderr, "10,000 confirms: OK\n");
}

static void test_return_before_confirm(swamqp_connection *conn)
{
    swamqp_error err;
    uint16_t ch = tu_channel(conn);
    uint64_t rid = 0;
    CHECK_OK(swamqp_confirm_select_async(conn, ch, &rid, &err), &err);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);

    char nowhere[256];
    tu_unique_name(nowhere, sizeof nowhere, "c_confirms", "nowhere");
    swamqp_table_entry h[2];
    memset(h, 0, sizeof h);
    h[0].key = tu_b("x-test");
    h[0].value.kind = SWAMQP_FIELD_STRING;
    h[0].value.value.bytes = tu_b("header-value");
    h[1].key = tu_b("n");
    h[1].value.kind = SWAMQP_FIELD_I64;
    h[1].value.value.i64 = -42;
    swamqp_properties p;
    memset(&p, 0, sizeof p);
    p.flags = SWAMQP_PROP_CONTENT_TYPE | SWAMQP_PROP_HEADERS | SWAMQP_PROP_DELIVERY_MODE | SWAMQP_PROP_MESSAGE_ID |
              SWAMQP_PROP_TIMESTAMP | SWAMQP_PROP_APP_ID;
    p.content_type = tu_b("text/plain");
    p.headers.count = 2;
    p.headers.entries = h;
    p.delivery_mode = 2;
    p.message_id = tu_b("msg-nowhere");
    p.timestamp = 1700000000;
    p.app_id = tu_b("c_confirms");

    uint64_t seq = 0;
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b(nowhere), SWAMQP_MANDATORY, &p, tu_b("to nowhere"), &seq,
                                  T_MS, &err),
             &err);
    CHECK(seq == 1, "first publish on a new confirm channel got sequence %" PRIu64, seq);

    bool returned = false;
    int64_t deadline = tu_now_ms() + T_MS;
    for (;;) {
        CHECK(tu_now_ms() < deadline, "no CONFIRM_ACK within %d ms (returned: %d)", T_MS, returned);
        const swamqp_event *e = ev_next(conn, 200);
        if (e == NULL || e->type == SWAMQP_EVENT_LOG)
            continue;
        if (e->type == SWAMQP_EVENT_RETURN) {
            CHECK(!returned, "two returns for one publish");
            const swamqp_message *m = e->message;
            CHECK(m != NULL && e->channel == ch && m->channel == ch, "return without message or on channel %u",
                  e->channel);
            CHECK(m->reply_code == 312, "return reply_code %u, expected 312", m->reply_code);
            CHECK_BYTES(m->reply_text, "NO_ROUTE");
            CHECK_BYTES(m->exchange, "");
            CHECK_BYTES(m->routing_key, nowhere);
            CHECK_BYTES(m->body, "to nowhere");
            CHECK(m->delivery_tag == 0, "returned message has delivery_tag %" PRIu64, m->delivery_tag);
            CHECK(m->properties.flags == p.flags, "returned properties flags 0x%x, sent 0x%x", m->properties.flags,
                  p.flags);
            CHECK_BYTES(m->properties.content_type, "text/plain");
            CHECK_BYTES(m->properties.message_id, "msg-nowhere");
            CHECK_BYTES(m->properties.app_id, "c_confirms");
            CHECK(m->properties.delivery_mode == 2 && m->properties.timestamp == 1700000000,
                  "returned delivery_mode %u timestamp %" PRIu64, m->properties.delivery_mode, m->properties.timestamp);
            CHECK(m->properties.headers.count == 2 && m->properties.headers.entries != NULL, "returned headers: %zu",
                  m->properties.headers.count);
            bool saw_s = false, saw_n = false;
            for (size_t i = 0; i < 2; i++) {
                const swamqp_table_entry *x = &m->properties.headers.entries[i];
                if (tu_bytes_eq(x->key, "x-test")) {
                    CHECK(x->value.kind == SWAMQP_FIELD_STRING, "x-test kind %c", x->value.kind);
                    CHECK_BYTES(x->value.value.bytes, "header-value");
                    saw_s = true;
                } else if (tu_bytes_eq(x->key, "n")) {
                    CHECK(x->value.kind == SWAMQP_FIELD_I64 && x->value.value.i64 == -42, "n: kind %c",
                          x->value.kind);
                    saw_n = true;
                }
            }
            CHECK(saw_s && saw_n, "returned headers lack x-test (%d) or n (%d)", saw_s, saw_n);
            returned = true;
            continue;
        }
        if (e->type == SWAMQP_EVENT_CONFIRM_ACK) {
            CHECK(e->delivery_tag == 1 && e->channel == ch, "ack of %" PRIu64 " on channel %u", e->delivery_tag,
                  e->channel);
            CHECK(returned, "the CONFIRM_ACK came before the RETURN of the same mandatory publish");
            break;
        }
        ev_describe("unexpected ", e);
        FAILF("unexpected %s while waiting for return + ack", ev_type_name(e->type));
    }
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
    CHECK_OK(swamqp_wait_for_confirms_async(conn, ch, &rid, &err), &err);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);
    swamqp_stats st;
    CHECK_OK(swamqp_connection_stats(conn, &st), NULL);
    CHECK(st.returns == 1, "stats.returns %" PRIu64 ", expected 1", st.returns);
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    fprintf(stderr, "return before confirm: OK\n");
}

static void test_not_confirm_mode(swamqp_connection *conn)
{
    swamqp_error err;
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    uint64_t seq = 77;
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, NULL, tu_b("plain"), &seq, T_MS, &err), &err);
    CHECK(seq == 0, "publish on a channel without confirms set *sequence to %" PRIu64 ", expected 0", seq);
    CHECK_STATUS(swamqp_wait_for_confirms(conn, ch, T_MS, &err), SWAMQP_ERR_NOT_CONFIRM_MODE, &err);
    CHECK(err.origin == SWAMQP_ORIGIN_LIBRARY, "NOT_CONFIRM_MODE origin %d", (int)err.origin);
    uint64_t rid = 0;
    tu_err_reset(&err);
    int rc = swamqp_wait_for_confirms_async(conn, ch, &rid, &err);
    if (rc == SWAMQP_OK)
        ev_completion(conn, rid, SWAMQP_ERR_NOT_CONFIRM_MODE, T_MS);
    else
        tu_check_status(__FILE__, __LINE__, "wait_for_confirms_async without confirm.select", rc,
                        SWAMQP_ERR_NOT_CONFIRM_MODE, &err);
    CHECK(swamqp_connection_is_open(conn), "connection closed");
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    fprintf(stderr, "not confirm mode: OK\n");
}

static void test_nacks(swamqp_connection *conn)
{
    swamqp_error err;
    uint16_t ch = tu_channel(conn);
    char q[256];
    tu_unique_name(q, sizeof q, "c_confirms", "reject-publish");
    swamqp_table_entry a[2];
    memset(a, 0, sizeof a);
    a[0].key = tu_b("x-max-length");
    a[0].value.kind = SWAMQP_FIELD_I32;
    a[0].value.value.i32 = 1;
    a[1].key = tu_b("x-overflow");
    a[1].value.kind = SWAMQP_FIELD_STRING;
    a[1].value.value.bytes = tu_b("reject-publish");
    swamqp_table args = {2, a};
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(q), SWAMQP_EXCLUSIVE, &args, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_confirm_select(conn, ch, T_MS, &err), &err);
    swamqp_stats before;
    CHECK_OK(swamqp_connection_stats(conn, &before), NULL);

    tracker t;
    memset(&t, 0, sizeof t);
    t.channel = ch;
    t.state = calloc(8, 1);
    for (int i = 0; i < 3; i++) {
        uint64_t seq = 0;
        CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b(q), 0, NULL, tu_b("n"), &seq, T_MS, &err), &err);
        track_publish(&t, seq);
    }
    CHECK_STATUS(swamqp_wait_for_confirms(conn, ch, T_MS, &err), SWAMQP_ERR_NACKED, &err);
    drain_confirms(conn, &t, T_MS);
    CHECK(t.state[1] == 2 && t.state[2] == 3 && t.state[3] == 3, "states %u %u %u, expected ack nack nack",
          t.state[1], t.state[2], t.state[3]);
    /* "nacked since the previous wait": a second wait has nothing new to report. */
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
    swamqp_stats after;
    CHECK_OK(swamqp_connection_stats(conn, &after), NULL);
    CHECK(after.confirms_nacked - before.confirms_nacked == 2 && after.confirms_acked - before.confirms_acked == 1,
          "stats: +%" PRIu64 " acked, +%" PRIu64 " nacked", after.confirms_acked - before.confirms_acked,
          after.confirms_nacked - before.confirms_nacked);
    free(t.state);
    CHECK_OK(swamqp_queue_delete(conn, ch, tu_b(q), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    fprintf(stderr, "nacks: OK\n");
}

int main(void)
{
    swamqp_error err;
    test_ten_thousand();
    swamqp_connection *conn = tu_connect();
    test_return_before_confirm(conn);
    test_not_confirm_mode(conn);
    test_nacks(conn);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    printf("c_confirms: OK\n");
    return 0;
}
