/*
 * c_fault_close_connection: automatic recovery after `rabbitmqctl close_connection` (the connection
 * found by its connection_name), with everything the recovery must restore in use at the moment.
 *
 * Before: channel 1 has an exchange, an exclusive server-named queue bound to it, qos prefetch 3
 * and a consumer with our own tag (manual acks); channel 2 is in confirm mode; channel 3 in tx
 * mode. Messages flow through all of them. Then the broker closes the connection, and:
 * - RECOVERY_STARTED (cause: the broker's 320), QUEUE_RENAMED (new name, old name as payload), then
 *   RECOVERED with 0 entities lost; the connection is open again under a new broker pid;
 * - the consumer keeps its tag and consumes from the new queue: a publish to the new name and one
 *   through the exchange with the binding's routing key are both delivered (bindings followed);
 * - confirm mode: the next publish's sequence continues where it stopped, and its ack names it;
 * - tx mode: a publish is delivered only after tx.commit, and a rolled-back one never;
 * - qos: with 5 unacked messages only 3 are delivered until an ack;
 * - delivery tags after the recovery are above every tag before it, and increase.
 */
#include "broker_ctl.h"
#include "fault_util.h"

#define T_MS 5000

static uint64_t ack_body(fu_log *log, uint16_t ch, const char *body, size_t from, uint64_t *max_tag)
{
    swamqp_error err;
    size_t i = fu_wait_body(log, body, from, 10000);
    const fu_event *e = &log->ev[i];
    FU_CHECK(log, e->channel == ch, "delivery of %s on channel %u, expected %u", body, e->channel, ch);
    FU_CHECK(log, e->delivery_tag > *max_tag, "delivery tag %" PRIu64 " of %s is not above %" PRIu64, e->delivery_tag,
             body, *max_tag);
    *max_tag = e->delivery_tag;
    CHECK_OK(swamqp_basic_ack(log->conn, ch, e->delivery_tag, 0, &err), &err);
    return e->delivery_tag;
}

int main(void)
{
    swamqp_error err;
    char cname[200], xname[200], ctag[100], reason[100];
    tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_close_connection", "conn");
    tu_unique_name(xname, sizeof xname, "swiftamqp.c_fault_close_connection", "x");
    snprintf(ctag, sizeof ctag, "c_fault_close_connection-consumer-%ld", (long)getpid());
    snprintf(reason, sizeof reason, "c_fault_close_connection %ld", (long)getpid());

    swamqp_connection_options options;
    fu_recovery_options(&options, cname);
    swamqp_connection *conn = tu_connect_with(&options);
    fu_log log;
    fu_init(&log, conn, "conn");

    /* channel 1: exchange, server-named queue, binding, qos, consumer */
    uint16_t ch1 = tu_channel(conn);
    CHECK_OK(swamqp_exchange_declare(conn, ch1, tu_b(xname), tu_b("direct"), 0, NULL, T_MS, &err), &err);
    char old_queue[256];
    const swamqp_bytes q_old = tu_temp_queue(conn, ch1, old_queue);
    CHECK_OK(swamqp_queue_bind(conn, ch1, q_old, tu_b(xname), tu_b("k1"), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_qos(conn, ch1, 0, 3, 0, T_MS, &err), &err);
    swamqp_name tag;
    CHECK_OK(swamqp_basic_consume(conn, ch1, q_old, tu_b(ctag), 0, NULL, &tag, T_MS, &err), &err);
    CHECK(strcmp(tag.name, ctag) == 0, "consumer tag %s", tag.name);
    /* channel 2: confirms; channel 3: tx */
    uint16_t ch2 = tu_channel(conn);
    CHECK_OK(swamqp_confirm_select(conn, ch2, T_MS, &err), &err);
    uint16_t ch3 = tu_channel(conn);
    CHECK_OK(swamqp_tx_select(conn, ch3, T_MS, &err), &err);

    /* traffic before */
    uint64_t seq = 0, max_tag = 0;
    char body[64];
    for (int i = 1; i <= 3; i++) {
        snprintf(body, sizeof body, "before-%d", i);
        CHECK_OK(fu_publish(conn, ch2, "", old_queue, body, &seq, T_MS, &err), &err);
        CHECK(seq == (uint64_t)i, "sequence %" PRIu64 ", expected %d", seq, i);
    }
    CHECK_OK(fu_publish(conn, ch2, xname, "k1", "before-x", &seq, T_MS, &err), &err);
    CHECK(seq == 4, "sequence %" PRIu64, seq);
    CHECK_OK(swamqp_wait_for_confirms(conn, ch2, T_MS, &err), &err);
    CHECK_OK(fu_publish(conn, ch3, "", old_queue, "before-tx", NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_tx_commit(conn, ch3, T_MS, &err), &err);
    ack_body(&log, ch1, "before-1", 0, &max_tag);
    ack_body(&log, ch1, "before-2", 0, &max_tag);
    ack_body(&log, ch1, "before-3", 0, &max_tag);
    ack_body(&log, ch1, "before-x", 0, &max_tag);
    ack_body(&log, ch1, "before-tx", 0, &max_tag);
    const uint64_t tag_before = max_tag;
    fu_settle(&log, 200);

    /* the broker closes the connection */
    char pid[256], pid_after[256];
    CHECK(bc_find_connection_pid(cname, pid, sizeof pid), "connection \"%s\" not found on broker %s", cname,
          bc_node());
    fprintf(stderr, "closing connection %s\n", pid);
    size_t mark = log.n;
    int64_t closed_at = tu_now_ms();
    CHECK(bc_ctl(NULL, 0, "close_connection '%s' '%s'", pid, reason) == 0, "close_connection failed");

    size_t i_start = fu_wait(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0, mark, 15000);
    size_t i_done = fu_wait(&log, SWAMQP_EVENT_RECOVERED, 0, i_start, 20000);
    fu_settle(&log, 200);
    const fu_event *started = &log.ev[i_start];
    FU_CHECK(&log, started->status != SWAMQP_OK, "RECOVERY_STARTED without a cause");
    FU_CHECK(&log, started->reply_code == 320, "RECOVERY_STARTED cause: reply %u (expected 320 CONNECTION_FORCED)",
             started->reply_code);
    FU_CHECK(&log, strstr(started->error, reason) != NULL, "RECOVERY_STARTED error \"%s\" lacks the reason \"%s\"",
             started->error, reason);
    long i_renamed = fu_find(&log, SWAMQP_EVENT_QUEUE_RENAMED, 0xFFFF, i_start);
    FU_CHECK(&log, i_renamed > (long)i_start && i_renamed < (long)i_done, "no QUEUE_RENAMED between RECOVERY_STARTED "
             "and RECOVERED");
    FU_CHECK(&log, log.ev[i_done].message_count == 0, "RECOVERED reports %u entities not restored",
             log.ev[i_done].message_count);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_ENTITY_FAILED, mark) == 0, "an entity failed to recover");
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_STARTED, mark) == 1, "more than one RECOVERY_STARTED");
    const fu_event *renamed = &log.ev[i_renamed];
    char new_queue[256];
    snprintf(new_queue, sizeof new_queue, "%s", renamed->name);
    FU_CHECK(&log, strcmp(renamed->payload, old_queue) == 0, "QUEUE_RENAMED payload \"%s\", expected the old name %s",
             renamed->payload, old_queue);
    FU_CHECK(&log, new_queue[0] && strcmp(new_queue, old_queue) != 0, "QUEUE_RENAMED new name \"%s\" (old %s)",
             new_queue, old_queue);
    fprintf(stderr, "recovered in %lld ms; queue %s -> %s\n", (long long)(log.ev[i_done].at_ms - closed_at), old_queue,
            new_queue);
    CHECK(swamqp_connection_is_open(conn), "not open after RECOVERED");
    CHECK(bc_find_connection_pid(cname, pid_after, sizeof pid_after), "the recovered connection is not listed");
    CHECK(strcmp(pid, pid_after) != 0, "the broker still lists the old connection pid %s", pid);

    /* the old queue is gone (it was exclusive); the new one exists */
    uint16_t probe = tu_channel(conn);
    CHECK_STATUS(swamqp_queue_declare(conn, probe, q_old, SWAMQP_PASSIVE, NULL, NULL, T_MS, &err),
                 SWAMQP_ERR_CHANNEL_CLOSED, &err);
    CHECK(err.reply_code == 404, "passive declare of the old queue: reply %u", err.reply_code);
    (void)tu_queue_count(conn, ch1, tu_b(new_queue));

    /* confirm mode restored, sequence numbers continue */
    mark = log.n;
    CHECK_OK(fu_publish(conn, ch2, "", new_queue, "after-direct", &seq, T_MS, &err), &err);
    CHECK(seq == 5, "first publish after recovery got sequence %" PRIu64 ", expected 5", seq);
    size_t i_ack = fu_wait(&log, SWAMQP_EVENT_CONFIRM_ACK, ch2, mark, 10000);
    FU_CHECK(&log, log.ev[i_ack].delivery_tag == 5, "confirm after recovery names %" PRIu64 ", expected 5",
             log.ev[i_ack].delivery_tag);
    CHECK_OK(swamqp_wait_for_confirms(conn, ch2, T_MS, &err), &err);

    /* the consumer, with its tag, consumes from the new queue; the binding followed */
    size_t i_d = fu_wait_body(&log, "after-direct", 0, 10000);
    FU_CHECK(&log, strcmp(log.ev[i_d].consumer_tag, ctag) == 0, "delivery to consumer tag \"%s\", expected \"%s\"",
             log.ev[i_d].consumer_tag, ctag);
    uint64_t first_after = ack_body(&log, ch1, "after-direct", 0, &max_tag);
    FU_CHECK(&log, first_after > tag_before, "delivery tag after recovery %" PRIu64 " <= %" PRIu64, first_after,
             tag_before);
    CHECK_OK(fu_publish(conn, ch2, xname, "k1", "after-exchange", &seq, T_MS, &err), &err);
    CHECK(seq == 6, "sequence %" PRIu64 ", expected 6", seq);
    ack_body(&log, ch1, "after-exchange", 0, &max_tag);

    /* tx mode restored: nothing is delivered before the commit, a rollback drops the message */
    CHECK_OK(fu_publish(conn, ch3, "", new_queue, "after-tx-rolled-back", NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_tx_rollback(conn, ch3, T_MS, &err), &err);
    CHECK_OK(fu_publish(conn, ch3, "", new_queue, "after-tx", NULL, T_MS, &err), &err);
    fu_settle(&log, 500);
    FU_CHECK(&log, fu_find_body(&log, "after-tx", 0) < 0, "a tx publish was delivered before tx.commit: tx mode lost");
    CHECK_OK(swamqp_tx_commit(conn, ch3, T_MS, &err), &err);
    ack_body(&log, ch1, "after-tx", 0, &max_tag);
    FU_CHECK(&log, fu_find_body(&log, "after-tx-rolled-back", 0) < 0, "a rolled-back publish was delivered");

    /* qos restored: 5 unacked messages, 3 delivered */
    mark = log.n;
    for (int i = 1; i <= 5; i++) {
        snprintf(body, sizeof body, "qos-%d", i);
        CHECK_OK(fu_publish(conn, ch2, "", new_queue, body, &seq, T_MS, &err), &err);
    }
    CHECK_OK(swamqp_wait_for_confirms(conn, ch2, T_MS, &err), &err);
    fu_settle(&log, 1000);
    size_t n_qos = fu_count(&log, SWAMQP_EVENT_DELIVERY, mark);
    FU_CHECK(&log, n_qos == 3, "prefetch 3 after recovery, but %zu of 5 unacked messages were delivered", n_qos);
    long last = -1;
    for (size_t i = mark; i < log.n; i++)
        if (log.ev[i].type == SWAMQP_EVENT_DELIVERY)
            last = (long)i;
    CHECK_OK(swamqp_basic_ack(conn, ch1, log.ev[last].delivery_tag, SWAMQP_MULTIPLE, &err), &err);
    ack_body(&log, ch1, "qos-4", mark, &(uint64_t){log.ev[last].delivery_tag});
    ack_body(&log, ch1, "qos-5", mark, &(uint64_t){log.ev[last].delivery_tag});

    /* delivery tags increase across the whole run */
    uint64_t prev = 0;
    for (size_t i = 0; i < log.n; i++) {
        if (log.ev[i].type != SWAMQP_EVENT_DELIVERY)
            continue;
        FU_CHECK(&log, log.ev[i].delivery_tag > prev, "delivery tag %" PRIu64 " after %" PRIu64, log.ev[i].delivery_tag,
                 prev);
        prev = log.ev[i].delivery_tag;
    }
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_CONNECTION_CLOSED, 0) == 0, "connection closed");

    CHECK_OK(swamqp_exchange_delete(conn, ch1, tu_b(xname), 0, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    swamqp_connection_free(conn);
    fu_free(&log);
    fprintf(stderr, "c_fault_close_connection: OK\n");
    return 0;
}
