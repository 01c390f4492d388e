/*
 * c_fault_entity_failed: an entity that cannot be restored is reported, and the rest recovers.
 *
 * Through the fault proxy, a recovering connection declares a durable queue Q (no arguments), an
 * exchange X and a server-named queue S bound to X, and consumes from S. The proxy cuts the
 * connection and refuses new ones; meanwhile another connection deletes Q and declares it again
 * with x-max-length (so the recovery's re-declaration is refused: 406 PRECONDITION_FAILED). Then
 * the proxy lets the recovery through:
 * - RECOVERY_ENTITY_FAILED names Q, with the broker's 406 in its error; RECOVERED counts at least 1
 *   entity not restored; the connection did not close;
 * - everything else was restored: S (renamed), its binding to X and its consumer: a message
 *   published to X is delivered; and the channel that saw the refusal works (it was reopened).
 */
#include "fault_util.h"
#include "faultproxy.h"

#define T_MS 5000

int main(void)
{
    swamqp_error err;
    char cname[200], qname[200], xname[200];
    tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_entity_failed", "conn");
    tu_unique_name(qname, sizeof qname, "swiftamqp.c_fault_entity_failed", "q");
    tu_unique_name(xname, sizeof xname, "swiftamqp.c_fault_entity_failed", "x");
    swamqp_connection_options options;
    fu_recovery_options(&options, cname);
    fp_proxy *proxy = fp_start(options.host, options.port);
    CHECK(proxy != NULL, "cannot start the fault proxy");
    options.host = "127.0.0.1";
    options.port = fp_port(proxy);
    swamqp_connection *conn = tu_connect_with(&options);
    fu_log log;
    fu_init(&log, conn, "conn");
    swamqp_connection *other = tu_connect();
    uint16_t och = tu_channel(other);

    uint16_t ch = tu_channel(conn);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qname), SWAMQP_DURABLE, NULL, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_exchange_declare(conn, ch, tu_b(xname), tu_b("fanout"), 0, NULL, T_MS, &err), &err);
    char sbuf[256];
    (void)tu_temp_queue(conn, ch, sbuf);
    CHECK_OK(swamqp_queue_bind(conn, ch, tu_b(sbuf), tu_b(xname), tu_b(""), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_consume(conn, ch, tu_b(sbuf), tu_b(""), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);

    CHECK(fp_refuse(proxy, true), "refuse");
    CHECK(fp_cut_all(proxy, false) == 1, "cut");
    size_t i_start = fu_wait(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0, 0, 10000);
    /* Q changes under the recovering connection */
    CHECK_OK(swamqp_queue_delete(other, och, tu_b(qname), 0, NULL, T_MS, &err), &err);
    swamqp_table_entry max_len = {tu_b("x-max-length"), {.kind = SWAMQP_FIELD_I32, .value.i32 = 10}};
    swamqp_table args = {1, &max_len};
    CHECK_OK(swamqp_queue_declare(other, och, tu_b(qname), SWAMQP_DURABLE, &args, NULL, T_MS, &err), &err);
    fp_resume(proxy);

    size_t i_done = fu_wait(&log, SWAMQP_EVENT_RECOVERED, 0, i_start, 15000);
    long i_failed = fu_find(&log, SWAMQP_EVENT_RECOVERY_ENTITY_FAILED, 0xFFFF, i_start);
    FU_CHECK(&log, i_failed > (long)i_start && i_failed < (long)i_done, "no RECOVERY_ENTITY_FAILED during the recovery");
    const fu_event *f = &log.ev[i_failed];
    fprintf(stderr, "RECOVERY_ENTITY_FAILED: name \"%s\", %s, reply %u: %s; RECOVERED: %u not restored\n", f->name,
            swamqp_status_string(f->status), f->reply_code, f->error, log.ev[i_done].message_count);
    FU_CHECK(&log, strstr(f->name, qname) != NULL, "RECOVERY_ENTITY_FAILED names \"%s\", not the queue %s", f->name,
             qname);
    FU_CHECK(&log, f->reply_code == 406, "RECOVERY_ENTITY_FAILED: reply %u, expected 406", f->reply_code);
    FU_CHECK(&log, log.ev[i_done].message_count >= 1, "RECOVERED reports %u entities not restored",
             log.ev[i_done].message_count);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_ENTITY_FAILED, i_start) == log.ev[i_done].message_count,
             "%zu RECOVERY_ENTITY_FAILED events, RECOVERED counts %u",
             fu_count(&log, SWAMQP_EVENT_RECOVERY_ENTITY_FAILED, i_start), log.ev[i_done].message_count);
    CHECK(swamqp_connection_is_open(conn), "not open after RECOVERED");

    /* the rest was restored: the binding of the renamed queue and its consumer */
    CHECK_OK(fu_publish(other, och, xname, "", "through the exchange", NULL, T_MS, &err), &err);
    fu_wait_body(&log, "through the exchange", i_done, 10000);
    /* the channel works */
    WAIT_QUEUE_COUNT(conn, ch, tu_b(qname), 0);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_CONNECTION_CLOSED, 0) == 0, "the connection closed");

    CHECK_OK(swamqp_queue_delete(other, och, tu_b(qname), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_exchange_delete(other, och, tu_b(xname), 0, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(other, T_MS, &err), &err);
    swamqp_connection_free(conn);
    swamqp_connection_free(other);
    fp_stop(proxy);
    fu_free(&log);
    fprintf(stderr, "c_fault_entity_failed: OK\n");
    return 0;
}
