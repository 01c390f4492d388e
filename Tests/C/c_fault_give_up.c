/*
 * c_fault_give_up: recovery_max_attempts = 2 against a dead port.
 *
 * The connection goes through the fault proxy; the proxy stops listening (its port is dead:
 * connections are refused) and cuts the connection. With 2 attempts allowed:
 * - RECOVERY_STARTED, then RECOVERY_FAILED with an error, then CONNECTION_CLOSED as the very last
 *   event, within a few seconds; the proxy saw no new connection;
 * - a publish that was waiting with a 30 s timeout returns as soon as the recovery gives up (not at
 *   its timeout), with an error;
 * - afterwards the connection is not open, calls return SWAMQP_ERR_CONNECTION_CLOSED, and
 *   swamqp_next_events too.
 * Then a second connection with the same options (2 attempts) is cut four times in a row through a
 * listening proxy: each recovery succeeds at its first attempt, as the attempt count and the
 * backoff delay start again for every recovery (each takes less than a 2nd attempt's delay).
 */
#include "fault_util.h"
#include "faultproxy.h"

#include <pthread.h>

#define T_MS 5000

typedef struct call {
    swamqp_connection *conn;
    uint16_t ch;
    int rc;
    int64_t returned_at;
    swamqp_error err;
} call;

static void *publish_thread(void *arg)
{
    call *c = arg;
    c->rc = fu_publish(c->conn, c->ch, "", "nowhere", "waits", NULL, 30000, &c->err);
    __atomic_store_n(&c->returned_at, tu_now_ms(), __ATOMIC_RELEASE);
    return NULL;
}

int main(void)
{
    swamqp_error err;
    char cname[200];
    tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_give_up", "conn");
    swamqp_connection_options options;
    fu_recovery_options(&options, cname);
    fp_proxy *proxy = fp_start(options.host, options.port);
    CHECK(proxy != NULL, "cannot start the fault proxy");
    options.host = "127.0.0.1";
    options.port = fp_port(proxy);
    options.recovery_max_attempts = 2;
    options.recovery_initial_delay_ms = 300;
    options.recovery_max_delay_ms = 1000;
    swamqp_connection *conn = tu_connect_with(&options);
    fu_log log;
    fu_init(&log, conn, "conn");
    uint16_t ch = tu_channel(conn);

    size_t i_first = 0;

    CHECK(fp_refuse(proxy, true), "fp_refuse");
    int64_t cut_at = tu_now_ms();
    CHECK(fp_cut_all(proxy, false) == 1, "cut");
    size_t i_start = fu_wait(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0, i_first, 10000);
    call pub;
    memset(&pub, 0, sizeof pub);
    pub.conn = conn;
    pub.ch = ch;
    pthread_t pt;
    CHECK(pthread_create(&pt, NULL, publish_thread, &pub) == 0, "pthread_create");

    size_t i_failed = fu_wait(&log, SWAMQP_EVENT_RECOVERY_FAILED, 0xFFFF, i_start, 15000);
    size_t i_closed = fu_wait(&log, SWAMQP_EVENT_CONNECTION_CLOSED, 0xFFFF, i_failed, 5000);
    int64_t gave_up = log.ev[i_failed].at_ms - cut_at;
    fprintf(stderr, "RECOVERY_FAILED %lld ms after the cut: %s (%s); CONNECTION_CLOSED: %s (%s)\n", (long long)gave_up,
            swamqp_status_string(log.ev[i_failed].status), log.ev[i_failed].error,
            swamqp_status_string(log.ev[i_closed].status), log.ev[i_closed].error);
    FU_CHECK(&log, log.ev[i_failed].status != SWAMQP_OK && log.ev[i_failed].error[0], "RECOVERY_FAILED without an error");
    FU_CHECK(&log, log.ev[i_closed].status != SWAMQP_OK, "CONNECTION_CLOSED after giving up has status OK");
    FU_CHECK(&log, gave_up < 8000, "2 attempts took %lld ms", (long long)gave_up);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERED, i_first) == 0, "RECOVERED");
    /* CONNECTION_CLOSED is the last event */
    fu_settle(&log, 300);
    FU_CHECK(&log, i_closed == log.n - 1, "events after CONNECTION_CLOSED");
    swamqp_event ev;
    size_t n = 1;
    CHECK(swamqp_next_events(conn, &ev, 1, &n, 0) == SWAMQP_ERR_CONNECTION_CLOSED && n == 0,
          "next_events after the close: %zu events", n);

    pthread_join(pt, NULL);
    CHECK(pub.rc != SWAMQP_OK, "a publish waiting for a recovery that gave up returned OK");
    CHECK(pub.returned_at - log.ev[i_failed].at_ms < 2000, "the waiting publish returned %lld ms after the give-up",
          (long long)(pub.returned_at - log.ev[i_failed].at_ms));
    fprintf(stderr, "the waiting publish: %s (%s)\n", swamqp_status_string(pub.rc), tu_err_text(&pub.err));

    CHECK(!swamqp_connection_is_open(conn), "open after giving up");
    CHECK_STATUS(fu_publish(conn, ch, "", "nowhere", "after", NULL, 100, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    uint16_t other = 0;
    CHECK_STATUS(swamqp_channel_open(conn, &other, T_MS, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    fp_stats st;
    fp_get_stats(proxy, &st);
    CHECK(st.accepted == 1, "the dead port accepted %" PRIu64 " connections", st.accepted);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    swamqp_connection_free(conn);
    fp_stop(proxy);

    /* Another connection (same options, its own proxy): four recoveries in a row, each starting
       with a fresh attempt count and the initial delay. */
    fp_proxy *proxy2 = fp_start("127.0.0.1", fu_broker_port());
    CHECK(proxy2 != NULL, "second proxy");
    options.port = fp_port(proxy2);
    options.connection_name = "swiftamqp Tests/C c_fault_give_up 2";
    swamqp_connection *conn2 = tu_connect_with(&options);
    fu_log log2;
    fu_init(&log2, conn2, "conn2");
    for (int round = 1; round <= 4; round++) {
        size_t mark = log2.n;
        CHECK(fp_cut_all(proxy2, false) == 1, "cut %d", round);
        size_t s = fu_wait(&log2, SWAMQP_EVENT_RECOVERY_STARTED, 0, mark, 10000);
        size_t d = fu_wait(&log2, SWAMQP_EVENT_RECOVERED, 0, s, 10000);
        int64_t took = log2.ev[d].at_ms - log2.ev[s].at_ms;
        fprintf(stderr, "recovery %d took %lld ms\n", round, (long long)took);
        /* attempt 1 waits at most the initial delay (300 ms); a 2nd attempt would wait up to 600 ms more */
        FU_CHECK(&log2, took < 600, "recovery %d took %lld ms: the backoff did not start again from the initial delay "
                 "(the attempt count carried over from the earlier recovery?)", round, (long long)took);
    }
    CHECK_OK(swamqp_connection_close(conn2, T_MS, &err), &err);
    swamqp_connection_free(conn2);
    fu_free(&log2);
    fp_stop(proxy2);

    fu_free(&log);
    fprintf(stderr, "c_fault_give_up: OK\n");
    return 0;
}
