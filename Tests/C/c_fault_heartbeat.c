/*
 * c_fault_heartbeat: a silent peer, detected through heartbeats, then recovery.
 *
 * heartbeat = 1 s, through the fault proxy. After heartbeats have flowed for a while the proxy
 * stalls (stops forwarding; sockets stay open, so only the missing heartbeats tell). Then:
 * - RECOVERY_STARTED with SWAMQP_ERR_HEARTBEAT_TIMEOUT comes at most 2 × heartbeat + 1 s = 3 s
 *   after the last byte the proxy forwarded to the client (and not before about 2 intervals);
 * - while the proxy stays stalled the recovery cannot finish (each attempt's handshake times out,
 *   connect_timeout_ms = 1500); no RECOVERED, the connection is not open;
 * - when the proxy resumes, RECOVERED follows, and the consumer on the (renamed) server-named
 *   queue receives a message published after it.
 */
#include "fault_util.h"
#include "faultproxy.h"

#define T_MS 5000

int main(void)
{
    swamqp_error err;
    char cname[200];
    tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_heartbeat", "conn");
    swamqp_connection_options options;
    fu_recovery_options(&options, cname);
    fp_proxy *proxy = fp_start(options.host, options.port);
    CHECK(proxy != NULL, "cannot start the fault proxy");
    options.host = "127.0.0.1";
    options.port = fp_port(proxy);
    options.heartbeat = 1;
    options.connect_timeout_ms = 1500;
    swamqp_connection *conn = tu_connect_with(&options);
    uint16_t hb_ch_max = 0, hb = 0;
    uint32_t hb_frame_max = 0;
    CHECK_OK(swamqp_connection_tune(conn, &hb_ch_max, &hb_frame_max, &hb), NULL);
    CHECK(hb == 1, "negotiated heartbeat %u, expected 1", hb);
    fu_log log;
    fu_init(&log, conn, "conn");
    swamqp_connection *direct = tu_connect();
    uint16_t dch = tu_channel(direct);

    uint16_t ch = tu_channel(conn);
    char qbuf[256];
    (void)tu_temp_queue(conn, ch, qbuf);
    CHECK_OK(swamqp_basic_consume(conn, ch, tu_b(qbuf), tu_b(""), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);

    /* heartbeats flow: the connection stays up for 3 intervals with nothing else to do */
    fu_settle(&log, 3000);
    swamqp_stats st;
    CHECK_OK(swamqp_connection_stats(conn, &st), NULL);
    CHECK(st.heartbeats_in >= 1 && st.heartbeats_out >= 1, "heartbeats in %" PRIu64 " out %" PRIu64,
          st.heartbeats_in, st.heartbeats_out);
    FU_CHECK(&log, log.n == 0, "events while idle");

    /* the silent peer */
    size_t mark = log.n;
    fp_stall(proxy);
    int64_t stalled_at = tu_now_ms();
    size_t i_start = fu_wait(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0, mark, 8000);
    fp_stats ps;
    fp_get_stats(proxy, &ps);
    const fu_event *started = &log.ev[i_start];
    FU_CHECK(&log, started->status == SWAMQP_ERR_HEARTBEAT_TIMEOUT, "RECOVERY_STARTED cause %s, expected "
             "SWAMQP_ERR_HEARTBEAT_TIMEOUT", swamqp_status_string(started->status));
    int64_t silent = started->at_ms - ps.last_s2c_ms;
    fprintf(stderr, "loss detected %lld ms after the last byte received (%lld ms after the stall)\n",
            (long long)silent, (long long)(started->at_ms - stalled_at));
    FU_CHECK(&log, ps.last_s2c_ms > 0 && ps.last_s2c_ms <= stalled_at + 50, "the proxy forwarded bytes after the stall");
    FU_CHECK(&log, silent <= 3000, "the silent peer was detected %lld ms after the last byte (limit 2 x 1 s + 1 s)",
             (long long)silent);
    FU_CHECK(&log, silent >= 1500, "the peer was declared dead %lld ms after the last byte, before 2 intervals",
             (long long)silent);

    /* still stalled: attempts cannot finish */
    fu_settle(&log, 3500);
    FU_CHECK(&log, fu_find(&log, SWAMQP_EVENT_RECOVERED, 0, mark) < 0, "RECOVERED through a stalled proxy");
    CHECK(!swamqp_connection_is_open(conn), "open while the recovery cannot finish");
    fp_get_stats(proxy, &ps);
    CHECK(ps.accepted >= 2, "no reconnection attempt reached the proxy (accepted %" PRIu64 ")", ps.accepted);

    int64_t resumed_at = tu_now_ms();
    fp_resume(proxy);
    size_t i_done = fu_wait(&log, SWAMQP_EVENT_RECOVERED, 0, i_start, 15000);
    fprintf(stderr, "RECOVERED %lld ms after the proxy resumed (%" PRIu64 " connection attempts in all)\n",
            (long long)(log.ev[i_done].at_ms - resumed_at), ps.accepted);
    FU_CHECK(&log, log.ev[i_done].message_count == 0, "RECOVERED with %u entities not restored",
             log.ev[i_done].message_count);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_STARTED, mark) == 1, "more than one RECOVERY_STARTED");
    long renamed = fu_find(&log, SWAMQP_EVENT_QUEUE_RENAMED, 0xFFFF, i_start);
    FU_CHECK(&log, renamed > (long)i_start && renamed < (long)i_done, "no QUEUE_RENAMED during the recovery");
    CHECK_OK(fu_publish(direct, dch, "", log.ev[renamed].name, "after the silence", NULL, T_MS, &err), &err);
    fu_wait_body(&log, "after the silence", i_done, 10000);
    /* heartbeats flow again */
    size_t after = log.n;
    fu_settle(&log, 3000);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_STARTED, after) == 0, "a new recovery after the resume");
    CHECK(swamqp_connection_is_open(conn), "not open");

    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(direct, T_MS, &err), &err);
    swamqp_connection_free(conn);
    swamqp_connection_free(direct);
    fp_stop(proxy);
    fu_free(&log);
    fprintf(stderr, "c_fault_heartbeat: OK\n");
    return 0;
}
