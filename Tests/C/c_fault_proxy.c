/*
 * c_fault_proxy: network faults made by the fault proxy (Tests/FaultProxy), each followed by an
 * automatic recovery.
 *
 * 1. Server -> client cut in the middle of a frame: a consumer (manual acks, through the proxy)
 *    receives a 200 000-byte message and the proxy closes the connection after 50 000 bytes of it.
 *    No partial delivery reaches the application; RECOVERY_STARTED (connection lost), RECOVERED,
 *    and the message arrives again, whole, with the redelivered flag.
 * 2. Client -> server cut in the middle of a frame: a 200 000-byte publish on a confirm channel is
 *    cut after 30 000 bytes. The publish fails back through a CONFIRM_NACK with a non-zero status;
 *    after RECOVERED the application republishes it; the queue then holds it exactly once.
 * 3. A reset (RST) of an idle connection: recovery.
 * 4. A slow link (2000 bytes/s) with heartbeat 2 s while a 10 000-byte publish crawls through:
 *    confirmed, and no recovery (a slow peer is not a dead one).
 * 5. A list of hosts: host = proxy A, endpoints = {proxy B}. A refuses and cuts: the recovery goes on
 *    to B (RECOVERED, B accepted the connection) and the consumer works there.
 */
#include "fault_util.h"
#include "faultproxy.h"

#define T_MS 5000
#define BIG 200000

static char *big_body(char tag)
{
    char *b = malloc(BIG);
    CHECK(b != NULL, "malloc");
    for (size_t i = 0; i < BIG; i++)
        b[i] = (char)('a' + (i * 7 + (size_t)tag) % 26);
    return b;
}

static bool body_is(const swamqp_message *m, const char *body)
{
    return m->body.len == BIG && memcmp(m->body.bytes, body, BIG) == 0;
}

/* Waits for a delivery of the big body (checking the whole body), copying tag and flag. FAILS on
 * a partial or wrong body. The log gets the delivery too. */
static void wait_big_delivery(fu_log *log, const char *body, uint64_t *tag, bool *redelivered, uint32_t timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    for (;;) {
        swamqp_event ev[16];
        size_t n = 0;
        int64_t left = deadline - tu_now_ms();
        if (left <= 0) {
            fu_dump(log);
            FAILF("no delivery of the %d-byte message within %u ms", BIG, timeout_ms);
        }
        /* look at the event before fu_pump's copy: the body is checked whole here */
        int rc = swamqp_next_events(log->conn, ev, 1, &n, (uint32_t)(left < 200 ? left : 200));
        CHECK(rc == SWAMQP_OK, "next_events: %s", swamqp_status_string(rc));
        if (n == 0)
            continue;
        bool is_big = ev[0].type == SWAMQP_EVENT_DELIVERY && ev[0].message && ev[0].message->body.len >= 1000;
        if (is_big) {
            FU_CHECK(log, body_is(ev[0].message, body), "a delivery of %zu bytes that is not the whole message",
                     ev[0].message->body.len);
            *tag = ev[0].message->delivery_tag;
            *redelivered = ev[0].message->redelivered;
        }
        /* record it in the log as well (a copy of the first bytes) */
        if (log->n == log->cap) {
            size_t cap = log->cap ? log->cap * 2 : 256;
            log->ev = realloc(log->ev, cap * sizeof *log->ev);
            CHECK(log->ev != NULL, "realloc");
            log->cap = cap;
        }
        fu_event *e = &log->ev[log->n++];
        memset(e, 0, sizeof *e);
        e->type = ev[0].type;
        e->status = ev[0].status;
        e->channel = ev[0].channel;
        e->flags = ev[0].flags;
        e->delivery_tag = ev[0].message ? ev[0].message->delivery_tag : ev[0].delivery_tag;
        e->message_count = ev[0].message_count;
        e->at_ms = tu_now_ms();
        fu_copy(e->name, ev[0].name, &e->name_len);
        if (ev[0].message) {
            e->redelivered = ev[0].message->redelivered;
            fu_copy(e->body, ev[0].message->body, &e->body_len);
        }
        if (ev[0].error)
            snprintf(e->error, sizeof e->error, "%s", ev[0].error->message);
        if (ev[0].type == SWAMQP_EVENT_CONNECTION_CLOSED) {
            log->closed = true;
            fu_dump(log);
            FAILF("the connection closed");
        }
        if (is_big)
            return;
    }
}

static swamqp_connection *connect_via(fp_proxy *proxy, const char *name, uint16_t heartbeat,
                                      const swamqp_endpoint *endpoints, size_t endpoint_count)
{
    swamqp_connection_options o;
    fu_recovery_options(&o, name);
    o.host = "127.0.0.1";
    o.port = fp_port(proxy);
    o.heartbeat = heartbeat;
    o.endpoints = endpoints;
    o.endpoint_count = endpoint_count;
    return tu_connect_with(&o);
}

/* Waits for RECOVERY_STARTED then RECOVERED after `mark`; returns the RECOVERED index. */
static size_t expect_recovery(fu_log *log, size_t mark, const char *what)
{
    size_t s = fu_wait(log, SWAMQP_EVENT_RECOVERY_STARTED, 0, mark, 10000);
    size_t d = fu_wait(log, SWAMQP_EVENT_RECOVERED, 0, s, 15000);
    FU_CHECK(log, log->ev[d].message_count == 0, "%s: RECOVERED with %u entities not restored", what,
             log->ev[d].message_count);
    fprintf(stderr, "%s: RECOVERY_STARTED (%s: %s), RECOVERED after %lld ms\n", what,
            swamqp_status_string(log->ev[s].status), log->ev[s].error, (long long)(log->ev[d].at_ms - log->ev[s].at_ms));
    return d;
}

int main(void)
{
    swamqp_error err;
    swamqp_connection_options direct_options;
    tu_options_from_env(&direct_options);
    fp_proxy *proxy = fp_start(direct_options.host, direct_options.port);
    CHECK(proxy != NULL, "cannot start the fault proxy");
    swamqp_connection *direct = tu_connect();
    uint16_t dch = tu_channel(direct);
    CHECK_OK(swamqp_confirm_select(direct, dch, T_MS, &err), &err);

    /* ---- 1. server -> client, mid-frame ---- */
    {
        char cname[200], qname[200];
        tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_proxy s2c", "conn");
        tu_unique_name(qname, sizeof qname, "swiftamqp.c_fault_proxy", "s2c");
        swamqp_connection *conn = connect_via(proxy, cname, 60, NULL, 0);
        fu_log log;
        fu_init(&log, conn, "s2c");
        uint16_t ch = tu_channel(conn);
        CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qname), SWAMQP_DURABLE, NULL, NULL, T_MS, &err), &err);
        CHECK_OK(swamqp_basic_consume(conn, ch, tu_b(qname), tu_b(""), 0, NULL, NULL, T_MS, &err), &err);
        fu_settle(&log, 100);
        char *body = big_body('s');
        fp_stats before;
        fp_get_stats(proxy, &before);
        fp_cut_after(proxy, FP_SERVER_TO_CLIENT, 50000);
        CHECK_OK(swamqp_basic_publish(direct, dch, tu_b(""), tu_b(qname), 0, NULL, tu_bn(body, BIG), NULL, T_MS, &err),
                 &err);
        CHECK_OK(swamqp_wait_for_confirms(direct, dch, T_MS, &err), &err);
        /* every event is looked at whole here: a delivery must carry the whole body */
        size_t mark = log.n;
        uint64_t tag = 0;
        bool redelivered = false;
        wait_big_delivery(&log, body, &tag, &redelivered, 20000);
        long i_start = fu_find(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0, mark);
        long i_done = fu_find(&log, SWAMQP_EVENT_RECOVERED, 0, mark);
        FU_CHECK(&log, i_start >= 0 && i_done > i_start, "no RECOVERY_STARTED, RECOVERED before the redelivery");
        FU_CHECK(&log, log.ev[i_start].status != SWAMQP_OK, "RECOVERY_STARTED without a cause");
        FU_CHECK(&log, log.ev[i_done].message_count == 0, "RECOVERED with %u entities not restored",
                 log.ev[i_done].message_count);
        FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_DELIVERY, mark) == 1, "more than one delivery (a partial one?)");
        fprintf(stderr, "server->client cut after 50000 bytes: RECOVERY_STARTED (%s: %s), RECOVERED after %lld ms\n",
                swamqp_status_string(log.ev[i_start].status), log.ev[i_start].error,
                (long long)(log.ev[i_done].at_ms - log.ev[i_start].at_ms));
        CHECK(fp_cut_fired(proxy), "the proxy's cut did not fire");
        fp_stats after;
        fp_get_stats(proxy, &after);
        CHECK(after.bytes_s2c - before.bytes_s2c >= 50000, "only %" PRIu64 " bytes went to the client",
              after.bytes_s2c - before.bytes_s2c);
        CHECK(redelivered, "the message cut in the middle came again without the redelivered flag");
        CHECK_OK(swamqp_basic_ack(conn, ch, tag, 0, &err), &err);
        WAIT_QUEUE_COUNT(direct, dch, tu_b(qname), 0);
        CHECK_OK(swamqp_queue_delete(conn, ch, tu_b(qname), 0, NULL, T_MS, &err), &err);
        CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
        swamqp_connection_free(conn);
        fu_free(&log);
        free(body);
    }

    /* ---- 2. client -> server, mid-frame ---- */
    {
        char cname[200], qname[200];
        tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_proxy c2s", "conn");
        tu_unique_name(qname, sizeof qname, "swiftamqp.c_fault_proxy", "c2s");
        swamqp_connection *conn = connect_via(proxy, cname, 60, NULL, 0);
        fu_log log;
        fu_init(&log, conn, "c2s");
        uint16_t ch = tu_channel(conn);
        CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qname), SWAMQP_DURABLE, NULL, NULL, T_MS, &err), &err);
        CHECK_OK(swamqp_confirm_select(conn, ch, T_MS, &err), &err);
        CHECK_OK(fu_publish(conn, ch, "", qname, "small", NULL, T_MS, &err), &err);
        CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
        char *body = big_body('c');
        fp_cut_after(proxy, FP_CLIENT_TO_SERVER, 30000);
        uint64_t seq = 0;
        size_t mark = log.n;
        CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b(qname), 0, NULL, tu_bn(body, BIG), &seq, T_MS, &err),
                 &err);
        CHECK(seq == 2, "sequence %" PRIu64, seq);
        size_t i_nack = fu_wait(&log, SWAMQP_EVENT_CONFIRM_NACK, ch, mark, 10000);
        FU_CHECK(&log, log.ev[i_nack].status != SWAMQP_OK && log.ev[i_nack].delivery_tag == 2,
                 "the cut publish failed back with status %s tag %" PRIu64, swamqp_status_string(log.ev[i_nack].status),
                 log.ev[i_nack].delivery_tag);
        CHECK(fp_cut_fired(proxy), "the proxy's cut did not fire");
        expect_recovery(&log, mark, "client->server cut after 30000 bytes");
        /* the half-sent message never reached the queue */
        WAIT_QUEUE_COUNT(direct, dch, tu_b(qname), 1);
        CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b(qname), 0, NULL, tu_bn(body, BIG), &seq, T_MS, &err),
                 &err);
        CHECK(seq == 3, "sequence after recovery %" PRIu64 ", expected 3", seq);
        CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
        WAIT_QUEUE_COUNT(direct, dch, tu_b(qname), 2);
        swamqp_message *m = tu_get(direct, dch, tu_b(qname), SWAMQP_NO_ACK, 2000);
        CHECK(m && tu_bytes_eq(m->body, "small"), "first message");
        swamqp_message_free(m);
        m = tu_get(direct, dch, tu_b(qname), SWAMQP_NO_ACK, 2000);
        CHECK(m && body_is(m, body), "the republished message is not whole");
        swamqp_message_free(m);
        CHECK_OK(swamqp_queue_delete(conn, ch, tu_b(qname), 0, NULL, T_MS, &err), &err);
        CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
        swamqp_connection_free(conn);
        fu_free(&log);
        free(body);
    }

    /* ---- 3. reset of an idle connection; 4. a slow link ---- */
    {
        char cname[200];
        tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_proxy rst+slow", "conn");
        swamqp_connection *conn = connect_via(proxy, cname, 2, NULL, 0);
        fu_log log;
        fu_init(&log, conn, "rst+slow");
        uint16_t ch = tu_channel(conn);
        char qbuf[256];
        swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
        CHECK_OK(swamqp_confirm_select(conn, ch, T_MS, &err), &err);
        size_t mark = log.n;
        CHECK(fp_cut_all(proxy, true) == 1, "cut_all with RST");
        size_t done = expect_recovery(&log, mark, "RST");
        long renamed = fu_find(&log, SWAMQP_EVENT_QUEUE_RENAMED, 0xFFFF, mark);
        FU_CHECK(&log, renamed >= 0 && (size_t)renamed < done, "no QUEUE_RENAMED");
        snprintf(qbuf, sizeof qbuf, "%s", log.ev[renamed].name);
        q = tu_b(qbuf);

        char *body = malloc(10000);
        CHECK(body != NULL, "malloc");
        memset(body, 'z', 10000);
        mark = log.n;
        fp_set_rate(proxy, 2000);
        int64_t t0 = tu_now_ms();
        CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), q, 0, NULL, tu_bn(body, 10000), NULL, T_MS, &err), &err);
        CHECK_OK(swamqp_wait_for_confirms(conn, ch, 20000, &err), &err);
        int64_t took = tu_now_ms() - t0;
        fp_resume(proxy);
        fprintf(stderr, "slow link: a 10000-byte publish confirmed after %lld ms\n", (long long)took);
        CHECK(took >= 3000, "the rate limit did not slow the publish (%lld ms)", (long long)took);
        fu_settle(&log, 200);
        FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_STARTED, mark) == 0, "a slow link caused a recovery");
        WAIT_QUEUE_COUNT(conn, ch, q, 1);
        CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
        swamqp_connection_free(conn);
        fu_free(&log);
        free(body);
    }

    /* ---- 5. a list of hosts ---- */
    {
        fp_proxy *other = fp_start(direct_options.host, direct_options.port);
        CHECK(other != NULL, "second proxy");
        swamqp_endpoint endpoints[1] = {{"127.0.0.1", fp_port(other)}};
        char cname[200];
        tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_proxy endpoints", "conn");
        swamqp_connection *conn = connect_via(proxy, cname, 60, endpoints, 1);
        fu_log log;
        fu_init(&log, conn, "endpoints");
        uint16_t ch = tu_channel(conn);
        char qbuf[256];
        (void)tu_temp_queue(conn, ch, qbuf);
        CHECK_OK(swamqp_basic_consume(conn, ch, tu_b(qbuf), tu_b(""), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);
        size_t mark = log.n;
        CHECK(fp_refuse(proxy, true), "refuse");
        CHECK(fp_cut_all(proxy, false) == 1, "cut");
        size_t done = expect_recovery(&log, mark, "host refused, endpoint next");
        fp_stats st;
        fp_get_stats(other, &st);
        CHECK(st.accepted >= 1 && st.active == 1, "the endpoint proxy accepted %" PRIu64 " (active %" PRIu64 ")",
              st.accepted, st.active);
        long renamed = fu_find(&log, SWAMQP_EVENT_QUEUE_RENAMED, 0xFFFF, mark);
        FU_CHECK(&log, renamed >= 0 && (size_t)renamed < done, "no QUEUE_RENAMED");
        CHECK_OK(fu_publish(direct, dch, "", log.ev[renamed].name, "via endpoint", NULL, T_MS, &err), &err);
        fu_wait_body(&log, "via endpoint", done, 10000);
        CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
        swamqp_connection_free(conn);
        fu_free(&log);
        fp_resume(proxy);
        fp_stop(other);
    }

    CHECK_OK(swamqp_connection_close(direct, T_MS, &err), &err);
    swamqp_connection_free(direct);
    fp_stop(proxy);
    fprintf(stderr, "c_fault_proxy: OK\n");
    return 0;
}
