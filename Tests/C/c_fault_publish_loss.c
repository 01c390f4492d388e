/*
 * c_fault_publish_loss: publishes and requests around a connection loss, through the fault proxy.
 *
 * A confirm channel publishes 5 messages (confirmed). The proxy stalls, 10 more are published
 * (they sit in socket buffers, unconfirmed, never reaching the broker), a thread waits for their
 * confirms, and the proxy cuts the connection and refuses new ones, so the recovery keeps trying:
 * - RECOVERY_STARTED (cause SWAMQP_ERR_CONNECTION_LOST), and one CONFIRM_NACK with a non-zero
 *   status and an error, delivery_tag 15 with MULTIPLE: the 10 unconfirmed publishes fail back;
 *   the waiting wait_for_confirms returns an error;
 * - during the recovery, requests fail at once with SWAMQP_ERR_RECOVERING; a publish with a 300 ms
 *   timeout fails with SWAMQP_ERR_TIMEOUT after about that long, with timeout 0 with
 *   SWAMQP_ERR_WOULD_BLOCK;
 * - a publish with a long timeout made during the recovery waits, and succeeds once the proxy lets
 *   the recovery through: sequence 16 (numbers continue), then its CONFIRM_ACK;
 * - republishing the 10 failed ones: the queue holds exactly 5 + 1 + 10 messages (the failed ones
 *   had not reached the broker).
 */
#include "fault_util.h"
#include "faultproxy.h"

#include <pthread.h>

#define T_MS 5000

typedef struct call {
    swamqp_connection *conn;
    uint16_t ch;
    const char *queue;
    int rc;
    uint64_t seq;
    int64_t started_at, returned_at;
    swamqp_error err;
} call;

static void *wait_confirms_thread(void *arg)
{
    call *c = arg;
    c->started_at = tu_now_ms();
    c->rc = swamqp_wait_for_confirms(c->conn, c->ch, 30000, &c->err);
    __atomic_store_n(&c->returned_at, tu_now_ms(), __ATOMIC_RELEASE);
    return NULL;
}

static void *publish_thread(void *arg)
{
    call *c = arg;
    c->started_at = tu_now_ms();
    c->rc = fu_publish(c->conn, c->ch, "", c->queue, "published during recovery", &c->seq, 30000, &c->err);
    __atomic_store_n(&c->returned_at, tu_now_ms(), __ATOMIC_RELEASE);
    return NULL;
}

int main(void)
{
    swamqp_error err;
    char cname[200], qname[200], body[64];
    tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_publish_loss", "conn");
    tu_unique_name(qname, sizeof qname, "swiftamqp.c_fault_publish_loss", "q");

    swamqp_connection_options options;
    fu_recovery_options(&options, cname);
    fp_proxy *proxy = fp_start(options.host, options.port);
    CHECK(proxy != NULL, "cannot start the fault proxy to %s:%u", options.host, options.port);
    options.host = "127.0.0.1";
    options.port = fp_port(proxy);
    options.recovery_max_delay_ms = 500;
    swamqp_connection *conn = tu_connect_with(&options);
    fu_log log;
    fu_init(&log, conn, "conn");
    /* a second, direct connection to look at the queue */
    swamqp_connection *direct = tu_connect();
    uint16_t dch = tu_channel(direct);

    uint16_t ch = tu_channel(conn);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qname), SWAMQP_DURABLE, NULL, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_confirm_select(conn, ch, T_MS, &err), &err);
    uint64_t seq = 0;
    for (int i = 1; i <= 5; i++) {
        snprintf(body, sizeof body, "confirmed-%d", i);
        CHECK_OK(fu_publish(conn, ch, "", qname, body, &seq, T_MS, &err), &err);
    }
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
    fu_settle(&log, 100);

    /* 10 publishes that cannot be confirmed */
    fp_stall(proxy);
    for (int i = 1; i <= 10; i++) {
        snprintf(body, sizeof body, "unconfirmed-%d", i);
        CHECK_OK(fu_publish(conn, ch, "", qname, body, &seq, T_MS, &err), &err);
        CHECK(seq == (uint64_t)(5 + i), "sequence %" PRIu64, seq);
    }
    call waiter;
    memset(&waiter, 0, sizeof waiter);
    waiter.conn = conn;
    waiter.ch = ch;
    pthread_t wt;
    CHECK(pthread_create(&wt, NULL, wait_confirms_thread, &waiter) == 0, "pthread_create");
    tu_sleep_ms(300);
    CHECK(__atomic_load_n(&waiter.returned_at, __ATOMIC_ACQUIRE) == 0, "wait_for_confirms returned while stalled: %s",
          swamqp_status_string(waiter.rc));

    /* the loss; the proxy refuses new connections, so the recovery keeps trying */
    size_t mark = log.n;
    CHECK(fp_refuse(proxy, true), "fp_refuse");
    int cut = fp_cut_all(proxy, false);
    CHECK(cut == 1, "the proxy cut %d connections, expected 1", cut);
    int64_t cut_at = tu_now_ms();
    size_t i_start = fu_wait(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0, mark, 10000);
    FU_CHECK(&log, log.ev[i_start].status == SWAMQP_ERR_CONNECTION_LOST || log.ev[i_start].status == SWAMQP_ERR_IO,
             "RECOVERY_STARTED cause %s, expected SWAMQP_ERR_CONNECTION_LOST", swamqp_status_string(log.ev[i_start].status));
    size_t i_nack = fu_wait(&log, SWAMQP_EVENT_CONFIRM_NACK, ch, mark, 10000);
    const fu_event *nack = &log.ev[i_nack];
    FU_CHECK(&log, nack->status != SWAMQP_OK, "the CONFIRM_NACK of publishes lost with the connection has status 0");
    FU_CHECK(&log, nack->error[0] != '\0', "the CONFIRM_NACK of lost publishes carries no error");
    FU_CHECK(&log, nack->delivery_tag == 15 && (nack->flags & SWAMQP_EVENT_FLAG_MULTIPLE),
             "the CONFIRM_NACK names %" PRIu64 " (flags 0x%x), expected 15 with MULTIPLE", nack->delivery_tag, nack->flags);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_CONFIRM_NACK, mark) == 1, "more than one CONFIRM_NACK");
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_CONFIRM_ACK, mark) == 0, "a CONFIRM_ACK for a publish that never "
             "reached the broker");
    pthread_join(wt, NULL);
    CHECK(waiter.rc != SWAMQP_OK, "wait_for_confirms in flight at the loss returned OK");
    CHECK(waiter.returned_at - cut_at < 3000, "wait_for_confirms returned %lld ms after the loss",
          (long long)(waiter.returned_at - cut_at));
    fprintf(stderr, "wait_for_confirms in flight: %s (%s)\n", swamqp_status_string(waiter.rc), tu_err_text(&waiter.err));
    FU_CHECK(&log, fu_find(&log, SWAMQP_EVENT_RECOVERED, 0, mark) < 0, "recovered while the proxy refuses");

    /* during the recovery */
    CHECK_STATUS(swamqp_queue_declare(conn, ch, tu_b(qname), SWAMQP_PASSIVE, NULL, NULL, T_MS, &err),
                 SWAMQP_ERR_RECOVERING, &err);
    uint16_t newch = 0;
    CHECK_STATUS(swamqp_channel_open(conn, &newch, T_MS, &err), SWAMQP_ERR_RECOVERING, &err);
    CHECK_STATUS(swamqp_connection_update_secret(conn, tu_b("guest"), tu_b("c_fault_publish_loss"), T_MS, &err),
                 SWAMQP_ERR_RECOVERING, &err);
    int64_t t0 = tu_now_ms();
    seq = 0;
    CHECK_STATUS(fu_publish(conn, ch, "", qname, "times out", &seq, 300, &err), SWAMQP_ERR_TIMEOUT, &err);
    int64_t waited = tu_now_ms() - t0;
    CHECK(waited >= 250 && waited < 2000, "a publish with timeout 300 ms during recovery returned after %lld ms",
          (long long)waited);
    t0 = tu_now_ms();
    CHECK_STATUS(fu_publish(conn, ch, "", qname, "would block", &seq, 0, &err), SWAMQP_ERR_WOULD_BLOCK, &err);
    CHECK(tu_now_ms() - t0 < 500, "a publish with timeout 0 during recovery took %lld ms", (long long)(tu_now_ms() - t0));

    call pub;
    memset(&pub, 0, sizeof pub);
    pub.conn = conn;
    pub.ch = ch;
    pub.queue = qname;
    pthread_t pt;
    CHECK(pthread_create(&pt, NULL, publish_thread, &pub) == 0, "pthread_create");
    tu_sleep_ms(1500);
    CHECK(__atomic_load_n(&pub.returned_at, __ATOMIC_ACQUIRE) == 0,
          "a publish with timeout 30 s returned during the recovery: %s", swamqp_status_string(pub.rc));
    fu_pump(&log, 0);
    FU_CHECK(&log, fu_find(&log, SWAMQP_EVENT_RECOVERED, 0, mark) < 0, "recovered while the proxy refuses");

    /* let it through */
    int64_t opened_at = tu_now_ms();
    fp_resume(proxy); /* no more stall, listening again */
    size_t i_done = fu_wait(&log, SWAMQP_EVENT_RECOVERED, 0, i_start, 15000);
    pthread_join(pt, NULL);
    tu_check_status(__FILE__, __LINE__, "publish waiting through the recovery", pub.rc, SWAMQP_OK, &pub.err);
    CHECK(pub.returned_at >= opened_at, "the waiting publish returned before the proxy let the recovery through");
    CHECK(pub.seq == 16, "the publish during recovery got sequence %" PRIu64 ", expected 16", pub.seq);
    fprintf(stderr, "recovered %lld ms after the proxy opened; the waiting publish returned after %lld ms\n",
            (long long)(log.ev[i_done].at_ms - opened_at), (long long)(pub.returned_at - pub.started_at));
    size_t i_ack = fu_wait(&log, SWAMQP_EVENT_CONFIRM_ACK, ch, i_done, 10000);
    FU_CHECK(&log, log.ev[i_ack].delivery_tag == 16, "confirm names %" PRIu64 ", expected 16", log.ev[i_ack].delivery_tag);

    /* the application republishes what failed */
    for (int i = 1; i <= 10; i++) {
        snprintf(body, sizeof body, "unconfirmed-%d", i);
        CHECK_OK(fu_publish(conn, ch, "", qname, body, &seq, T_MS, &err), &err);
        CHECK(seq == (uint64_t)(16 + i), "sequence %" PRIu64, seq);
    }
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
    WAIT_QUEUE_COUNT(direct, dch, tu_b(qname), 16);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0) == 1, "more than one recovery");

    CHECK_OK(swamqp_queue_delete(direct, dch, tu_b(qname), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(direct, T_MS, &err), &err);
    swamqp_connection_free(conn);
    swamqp_connection_free(direct);
    fp_stop(proxy);
    fu_free(&log);
    fprintf(stderr, "c_fault_publish_loss: OK\n");
    return 0;
}
