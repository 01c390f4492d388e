/*
 * c_fault_stale_ack: acks, nacks and rejects of deliveries from before an automatic recovery.
 *
 * A consumer (manual acks) on a durable named queue receives three messages and acks only the
 * first. The broker closes the connection (`rabbitmqctl close_connection`); after RECOVERED:
 * - ack, ack(multiple), nack and reject of the two unacked tags return
 *   SWAMQP_ERR_STALE_DELIVERY_TAG (error filled) and send nothing: the channel stays open;
 * - the broker redelivers both messages with the redelivered flag, under new tags above the old
 *   ones, and acking those works; the acked message is not redelivered; the queue ends empty.
 */
#include "broker_ctl.h"
#include "fault_util.h"

#define T_MS 5000

int main(void)
{
    swamqp_error err;
    char cname[200], qname[200], reason[100];
    tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_stale_ack", "conn");
    tu_unique_name(qname, sizeof qname, "swiftamqp.c_fault_stale_ack", "q");
    snprintf(reason, sizeof reason, "c_fault_stale_ack %ld", (long)getpid());

    swamqp_connection_options options;
    fu_recovery_options(&options, cname);
    swamqp_connection *conn = tu_connect_with(&options);
    fu_log log;
    fu_init(&log, conn, "conn");

    uint16_t ch = tu_channel(conn);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qname), SWAMQP_DURABLE, NULL, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_qos(conn, ch, 0, 10, 0, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_consume(conn, ch, tu_b(qname), tu_b(""), 0, NULL, NULL, T_MS, &err), &err);
    uint16_t pch = tu_channel(conn);
    CHECK_OK(swamqp_confirm_select(conn, pch, T_MS, &err), &err);
    const char *bodies[3] = {"m1", "m2", "m3"};
    for (int i = 0; i < 3; i++)
        CHECK_OK(fu_publish(conn, pch, "", qname, bodies[i], NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_wait_for_confirms(conn, pch, T_MS, &err), &err);
    uint64_t tags[3];
    for (int i = 0; i < 3; i++) {
        size_t k = fu_wait_body(&log, bodies[i], 0, 10000);
        FU_CHECK(&log, !log.ev[k].redelivered, "%s redelivered on first delivery", bodies[i]);
        tags[i] = log.ev[k].delivery_tag;
    }
    CHECK_OK(swamqp_basic_ack(conn, ch, tags[0], 0, &err), &err);
    fu_settle(&log, 300);

    char pid[256];
    CHECK(bc_find_connection_pid(cname, pid, sizeof pid), "connection \"%s\" not found on broker %s", cname,
          bc_node());
    size_t mark = log.n;
    CHECK(bc_ctl(NULL, 0, "close_connection '%s' '%s'", pid, reason) == 0, "close_connection failed");
    size_t i_start = fu_wait(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0, mark, 15000);
    size_t i_done = fu_wait(&log, SWAMQP_EVENT_RECOVERED, 0, i_start, 20000);
    FU_CHECK(&log, log.ev[i_done].message_count == 0, "RECOVERED: %u entities not restored",
             log.ev[i_done].message_count);

    /* stale: nothing is sent */
    CHECK_STATUS(swamqp_basic_ack(conn, ch, tags[1], 0, &err), SWAMQP_ERR_STALE_DELIVERY_TAG, &err);
    CHECK_STATUS(swamqp_basic_ack(conn, ch, tags[2], SWAMQP_MULTIPLE, &err), SWAMQP_ERR_STALE_DELIVERY_TAG, &err);
    CHECK_STATUS(swamqp_basic_nack(conn, ch, tags[2], SWAMQP_REQUEUE, &err), SWAMQP_ERR_STALE_DELIVERY_TAG, &err);
    CHECK_STATUS(swamqp_basic_reject(conn, ch, tags[1], SWAMQP_REQUEUE, &err), SWAMQP_ERR_STALE_DELIVERY_TAG, &err);
    CHECK_STATUS(swamqp_basic_reject(conn, ch, tags[0], 0, &err), SWAMQP_ERR_STALE_DELIVERY_TAG, &err);

    /* redelivered under new tags */
    uint64_t new_tags[2];
    for (int i = 1; i < 3; i++) {
        size_t k = fu_wait_body(&log, bodies[i], i_done, 10000);
        const fu_event *e = &log.ev[k];
        FU_CHECK(&log, e->redelivered, "%s came again without the redelivered flag", bodies[i]);
        FU_CHECK(&log, e->delivery_tag > tags[2], "%s redelivered with tag %" PRIu64 " (old tags up to %" PRIu64 ")",
                 bodies[i], e->delivery_tag, tags[2]);
        new_tags[i - 1] = e->delivery_tag;
    }
    FU_CHECK(&log, new_tags[1] > new_tags[0], "redelivery tags %" PRIu64 ", %" PRIu64 " do not increase", new_tags[0],
             new_tags[1]);
    CHECK_OK(swamqp_basic_ack(conn, ch, new_tags[0], 0, &err), &err);
    CHECK_OK(swamqp_basic_ack(conn, ch, new_tags[1], 0, &err), &err);
    fu_settle(&log, 700);
    FU_CHECK(&log, fu_find_body(&log, "m1", i_done) < 0, "m1 was acked before the loss but delivered again");
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_CHANNEL_CLOSED, mark) == 0, "a channel closed (was a stale ack sent?)");
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_DELIVERY, i_done) == 2, "%zu deliveries after recovery, expected 2",
             fu_count(&log, SWAMQP_EVENT_DELIVERY, i_done));

    /* the queue is empty: every message was acked once, on the new connection */
    uint16_t ch2 = tu_channel(conn);
    WAIT_QUEUE_COUNT(conn, ch2, tu_b(qname), 0);
    CHECK_OK(swamqp_queue_delete(conn, ch2, tu_b(qname), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    swamqp_connection_free(conn);
    fu_free(&log);
    fprintf(stderr, "c_fault_stale_ack: OK\n");
    return 0;
}
