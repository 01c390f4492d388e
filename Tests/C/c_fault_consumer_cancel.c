/*
 * c_fault_consumer_cancel: a consumer cancelled by the broker (its queue deleted) and a later
 * automatic recovery.
 *
 * The recovering connection declares a durable queue and consumes from it (tag T), and consumes
 * from an exclusive server-named queue as well (tag U). Another connection deletes the durable
 * queue:
 * - SWAMQP_EVENT_CONSUMER_CANCELLED with name = T arrives; the channel stays open.
 * Then the broker closes the connection (`rabbitmqctl close_connection`); after RECOVERED:
 * - no entity failed, and consumer T was not registered again: with the queue declared again and
 *   a message published to it, nothing is delivered to the connection, and `list_consumers`
 *   shows no consumer T; consumer U was restored and receives from its renamed queue.
 */
#include "broker_ctl.h"
#include "fault_util.h"

#define T_MS 5000

int main(void)
{
    swamqp_error err;
    char cname[200], qname[200], tag_t[100], tag_u[100], reason[100];
    tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_consumer_cancel", "conn");
    tu_unique_name(qname, sizeof qname, "swiftamqp.c_fault_consumer_cancel", "q");
    snprintf(tag_t, sizeof tag_t, "c_fault_consumer_cancel-T-%ld", (long)getpid());
    snprintf(tag_u, sizeof tag_u, "c_fault_consumer_cancel-U-%ld", (long)getpid());
    snprintf(reason, sizeof reason, "c_fault_consumer_cancel %ld", (long)getpid());

    swamqp_connection_options options;
    fu_recovery_options(&options, cname);
    swamqp_connection *conn = tu_connect_with(&options);
    fu_log log;
    fu_init(&log, conn, "conn");
    swamqp_connection *other = tu_connect();
    uint16_t och = tu_channel(other);

    uint16_t ch = tu_channel(conn);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(qname), SWAMQP_DURABLE, NULL, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_consume(conn, ch, tu_b(qname), tu_b(tag_t), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);
    uint16_t ch2 = tu_channel(conn);
    char ubuf[256];
    (void)tu_temp_queue(conn, ch2, ubuf);
    CHECK_OK(swamqp_basic_consume(conn, ch2, tu_b(ubuf), tu_b(tag_u), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);
    CHECK_OK(fu_publish(other, och, "", qname, "before", NULL, T_MS, &err), &err);
    fu_wait_body(&log, "before", 0, 10000);

    /* the queue goes away under the consumer */
    size_t mark = log.n;
    CHECK_OK(swamqp_queue_delete(other, och, tu_b(qname), 0, NULL, T_MS, &err), &err);
    size_t i_cancel = fu_wait(&log, SWAMQP_EVENT_CONSUMER_CANCELLED, ch, mark, 10000);
    FU_CHECK(&log, strcmp(log.ev[i_cancel].name, tag_t) == 0, "CONSUMER_CANCELLED names \"%s\", expected \"%s\"",
             log.ev[i_cancel].name, tag_t);
    fu_settle(&log, 300);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_CHANNEL_CLOSED, mark) == 0, "a channel closed");
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0) == 0, "a recovery started");

    /* a recovery */
    char pid[256];
    CHECK(bc_find_connection_pid(cname, pid, sizeof pid), "connection \"%s\" not found on broker %s", cname, bc_node());
    mark = log.n;
    CHECK(bc_ctl(NULL, 0, "close_connection '%s' '%s'", pid, reason) == 0, "close_connection failed");
    size_t i_start = fu_wait(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0, mark, 15000);
    size_t i_done = fu_wait(&log, SWAMQP_EVENT_RECOVERED, 0, i_start, 20000);
    FU_CHECK(&log, log.ev[i_done].message_count == 0, "RECOVERED: %u entities not restored",
             log.ev[i_done].message_count);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_ENTITY_FAILED, mark) == 0, "an entity failed");
    long renamed = fu_find(&log, SWAMQP_EVENT_QUEUE_RENAMED, 0xFFFF, i_start);
    FU_CHECK(&log, renamed > (long)i_start && renamed < (long)i_done, "no QUEUE_RENAMED for U's queue");

    /* T stays cancelled; U works */
    CHECK_OK(swamqp_queue_declare(other, och, tu_b(qname), SWAMQP_DURABLE, NULL, NULL, T_MS, &err), &err);
    CHECK_OK(fu_publish(other, och, "", qname, "after, for T", NULL, T_MS, &err), &err);
    CHECK_OK(fu_publish(other, och, "", log.ev[renamed].name, "after, for U", NULL, T_MS, &err), &err);
    size_t i_u = fu_wait_body(&log, "after, for U", i_done, 10000);
    FU_CHECK(&log, strcmp(log.ev[i_u].consumer_tag, tag_u) == 0, "delivered to \"%s\"", log.ev[i_u].consumer_tag);
    fu_settle(&log, 1000);
    FU_CHECK(&log, fu_find_body(&log, "after, for T", 0) < 0, "the cancelled consumer was registered again");
    WAIT_QUEUE_COUNT(other, och, tu_b(qname), 1);
    static char consumers[1 << 16];
    CHECK(bc_ctl(consumers, sizeof consumers, "-q list_consumers --no-table-headers queue_name consumer_tag") == 0,
          "list_consumers");
    CHECK(strstr(consumers, tag_t) == NULL, "the broker lists the cancelled consumer %s:\n%s", tag_t, consumers);
    CHECK(strstr(consumers, tag_u) != NULL, "the broker does not list consumer %s:\n%s", tag_u, consumers);

    CHECK_OK(swamqp_queue_delete(other, och, tu_b(qname), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(other, T_MS, &err), &err);
    swamqp_connection_free(conn);
    swamqp_connection_free(other);
    fu_free(&log);
    fprintf(stderr, "c_fault_consumer_cancel: OK\n");
    return 0;
}
