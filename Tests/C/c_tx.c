/*
 * c_tx: transactions against the real broker.
 *
 * - tx.select, then publishes are invisible until tx.commit; tx.rollback discards them;
 * - acks inside a transaction: rolled back, the messages stay unacked (back in the queue when the
 *   channel closes); committed, they are gone;
 * - the _async forms of select, commit and rollback complete with SWAMQP_OK;
 * - tx.commit without tx.select, and confirm.select on a transactional channel, are refused with
 *   406 PRECONDITION_FAILED on that channel only.
 */
#include "event_util.h"

#define T_MS 5000

int main(void)
{
    swamqp_error err;
    uint64_t rid = 0;
    swamqp_connection *conn = tu_connect();
    char q[256];
    tu_unique_name(q, sizeof q, "c_tx", "q");
    const swamqp_bytes queue = tu_b(q);
    uint16_t obs = tu_channel(conn); /* observer channel, not transactional */
    CHECK_OK(swamqp_queue_declare(conn, obs, queue, SWAMQP_EXCLUSIVE, NULL, NULL, T_MS, &err), &err);

    uint16_t ch = tu_channel(conn);
    CHECK_OK(swamqp_tx_select(conn, ch, T_MS, &err), &err);

    /* rollback discards publishes */
    for (int i = 0; i < 3; i++)
        tu_publish(conn, ch, "", queue, "rolled-back");
    tu_sleep_ms(200);
    CHECK(tu_queue_count(conn, obs, queue) == 0, "uncommitted publishes are visible");
    CHECK_OK(swamqp_tx_rollback(conn, ch, T_MS, &err), &err);
    tu_sleep_ms(200);
    CHECK(tu_queue_count(conn, obs, queue) == 0, "rolled-back publishes reached the queue");

    /* commit makes them visible */
    tu_publish(conn, ch, "", queue, "c1");
    tu_publish(conn, ch, "", queue, "c2");
    CHECK(tu_queue_count(conn, obs, queue) == 0, "uncommitted publishes are visible");
    CHECK_OK(swamqp_tx_commit(conn, ch, T_MS, &err), &err);
    WAIT_QUEUE_COUNT(conn, obs, queue, 2);

    /* acks in a transaction: rolled back, the messages come back when the channel closes */
    swamqp_message *m1 = tu_get(conn, ch, queue, 0, 0), *m2 = tu_get(conn, ch, queue, 0, 0);
    CHECK(m1 && m2, "basic.get in a transaction: %p %p", (void *)m1, (void *)m2);
    CHECK_BYTES(m1->body, "c1");
    CHECK_BYTES(m2->body, "c2");
    CHECK_OK(swamqp_basic_ack(conn, ch, m2->delivery_tag, SWAMQP_MULTIPLE, &err), &err);
    swamqp_message_free(m1);
    swamqp_message_free(m2);
    CHECK_OK(swamqp_tx_rollback_async(conn, ch, &rid, &err), &err);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    WAIT_QUEUE_COUNT(conn, obs, queue, 2);

    /* the _async forms; committed acks remove the messages */
    ch = tu_channel(conn);
    CHECK_OK(swamqp_tx_select_async(conn, ch, &rid, &err), &err);
    const swamqp_event *e = ev_completion(conn, rid, SWAMQP_OK, T_MS);
    CHECK(e->channel == ch, "tx_select_async completion channel %u", e->channel);
    m1 = tu_get(conn, ch, queue, 0, 0);
    m2 = tu_get(conn, ch, queue, 0, 0);
    CHECK(m1 && m2, "basic.get after requeue: %p %p", (void *)m1, (void *)m2);
    CHECK(m1->redelivered && m2->redelivered, "requeued messages not marked redelivered");
    CHECK_OK(swamqp_basic_ack(conn, ch, m1->delivery_tag, 0, &err), &err);
    CHECK_OK(swamqp_basic_ack(conn, ch, m2->delivery_tag, 0, &err), &err);
    swamqp_message_free(m1);
    swamqp_message_free(m2);
    tu_publish(conn, ch, "", queue, "c3");
    CHECK_OK(swamqp_tx_commit_async(conn, ch, &rid, &err), &err);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    WAIT_QUEUE_COUNT(conn, obs, queue, 1);
    m1 = tu_get(conn, obs, queue, SWAMQP_NO_ACK, 0);
    CHECK(m1 != NULL, "the committed message is missing");
    CHECK_BYTES(m1->body, "c3");
    swamqp_message_free(m1);

    /* tx.commit without tx.select: 406 on that channel only */
    ch = tu_channel(conn);
    CHECK_STATUS(swamqp_tx_commit(conn, ch, T_MS, &err), SWAMQP_ERR_CHANNEL_CLOSED, &err);
    CHECK(err.reply_code == 406 && err.origin == SWAMQP_ORIGIN_BROKER && err.class_id == 90 && err.method_id == 20,
          "tx.commit without select: reply %u class %u method %u", err.reply_code, err.class_id, err.method_id);
    ev_wait_broker_close(conn, ch, T_MS);

    /* confirm.select on a transactional channel: 406 */
    ch = tu_channel(conn);
    CHECK_OK(swamqp_tx_select(conn, ch, T_MS, &err), &err);
    CHECK_STATUS(swamqp_confirm_select(conn, ch, T_MS, &err), SWAMQP_ERR_CHANNEL_CLOSED, &err);
    CHECK(err.reply_code == 406, "confirm.select in tx mode: reply %u", err.reply_code);
    ev_wait_broker_close(conn, ch, T_MS);

    CHECK(swamqp_connection_is_open(conn), "connection closed by channel errors");
    CHECK(tu_queue_count(conn, obs, queue) == 0, "queue not empty at the end");
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    printf("c_tx: OK\n");
    return 0;
}
