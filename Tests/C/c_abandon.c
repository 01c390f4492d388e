/*
 * c_abandon: what the library undoes for an `_async` request its caller gives up on
 * (swamqp_request_abandon, swamqp_request_set_timeout), against a real broker, and the facts
 * events carry so that a binding needs no protocol logic of its own: a RETURN names the sequence
 * number of the publish it returns, a CHANNEL_CLOSED the generation of its channel.
 *
 * An abandoned consume leaves no consumer at the broker and loses no message, whether the
 * abandon comes before the consume-ok, while the completion is queued, or after it was drained
 * into the batch the application holds; an abandoned basic.get puts its message back.
 */
#include "test_util.h"
#include "event_util.h"

#define T_MS 10000

static swamqp_error err;

/* The queue's message and consumer counts, polled until they are as expected (the broker
 * handles a cancel and a requeue asynchronously) or 5 s pass. */
static void expect_queue(swamqp_connection *conn, uint16_t ch, swamqp_bytes queue, uint32_t messages, uint32_t consumers)
{
    swamqp_queue_declare_ok ok;
    int64_t deadline = tu_now_ms() + 5000;
    for (;;) {
        CHECK_OK(swamqp_queue_declare(conn, ch, queue, SWAMQP_PASSIVE, NULL, &ok, T_MS, &err), &err);
        if (ok.message_count == messages && ok.consumer_count == consumers)
            return;
        CHECK(tu_now_ms() < deadline, "queue holds %u messages and %u consumers, expected %u and %u",
              ok.message_count, ok.consumer_count, messages, consumers);
        tu_sleep_ms(20);
    }
}

/* Drains for `ms`: no COMPLETION of `rid` and no DELIVERY may come. */
static void expect_silence(swamqp_connection *conn, uint64_t rid, int64_t ms)
{
    int64_t deadline = tu_now_ms() + ms;
    while (tu_now_ms() < deadline) {
        const swamqp_event *e = ev_next(conn, 20);
        if (e == NULL)
            continue;
        CHECK(!(e->type == SWAMQP_EVENT_COMPLETION && e->request_id == rid), "abandoned request %llu completed",
              (unsigned long long)rid);
        CHECK(e->type != SWAMQP_EVENT_DELIVERY, "a delivery reached the application for an abandoned consume");
    }
}

static uint64_t start_consume(swamqp_connection *conn, uint16_t ch, swamqp_bytes queue)
{
    uint64_t rid = 0;
    CHECK_OK(swamqp_basic_consume_async(conn, ch, queue, tu_b(""), 0, NULL, &rid, &err), &err);
    return rid;
}

static void test_abandoned_consumes(swamqp_connection *conn, uint16_t ch, swamqp_bytes queue)
{
    /* before the consume-ok */
    uint64_t rid = start_consume(conn, ch, queue);
    CHECK_OK(swamqp_request_abandon(conn, rid, &err), &err);
    CHECK_STATUS(swamqp_request_abandon(conn, rid, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    expect_silence(conn, rid, 300);
    expect_queue(conn, ch, queue, 3, 0);

    /* with its completion queued, not drained */
    rid = start_consume(conn, ch, queue);
    tu_sleep_ms(300);
    CHECK_OK(swamqp_request_abandon(conn, rid, &err), &err);
    expect_silence(conn, rid, 300);
    expect_queue(conn, ch, queue, 3, 0);

    /* with its completion drained into the batch the application holds */
    rid = start_consume(conn, ch, queue);
    const swamqp_event *done = ev_wait(conn, SWAMQP_EVENT_COMPLETION, ch, T_MS);
    CHECK(done->request_id == rid && done->status == SWAMQP_OK, "consume completion");
    CHECK_OK(swamqp_request_abandon(conn, rid, &err), &err);
    CHECK_STATUS(swamqp_request_abandon(conn, rid, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    /* Deliveries may have been queued right behind the completion, before the abandon: those
     * reached the application and are its to acknowledge; later ones go back to the queue. */
    int64_t deadline = tu_now_ms() + 500;
    while (tu_now_ms() < deadline) {
        const swamqp_event *e = ev_next(conn, 20);
        if (e != NULL && e->type == SWAMQP_EVENT_DELIVERY)
            CHECK_OK(swamqp_basic_reject(conn, ch, e->delivery_tag, SWAMQP_REQUEUE, &err), &err);
    }
    expect_queue(conn, ch, queue, 3, 0);
}

static void test_abandoned_get(swamqp_connection *conn, uint16_t ch, swamqp_bytes queue)
{
    uint64_t rid = 0;
    CHECK_OK(swamqp_basic_get_async(conn, ch, queue, 0, &rid, &err), &err);
    CHECK_OK(swamqp_request_abandon(conn, rid, &err), &err);
    expect_silence(conn, rid, 300);
    expect_queue(conn, ch, queue, 3, 0);
}

static void test_deadlines(swamqp_connection *conn, uint16_t ch, swamqp_bytes queue)
{
    uint64_t rid = 0;
    CHECK_OK(swamqp_queue_declare_async(conn, ch, queue, SWAMQP_PASSIVE, NULL, &rid, &err), &err);
    CHECK_OK(swamqp_request_set_timeout(conn, rid, 5000, &err), &err);
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_COMPLETION, ch, T_MS);
    CHECK(e->request_id == rid && e->status == SWAMQP_OK, "declare within its deadline: %s",
          swamqp_status_string(e->status));
    /* completed already: nothing to bound, still OK */
    CHECK_OK(swamqp_request_set_timeout(conn, rid, 1, &err), &err);
    CHECK_OK(swamqp_request_set_timeout(conn, rid, SWAMQP_WAIT_FOREVER, &err), &err);
    expect_silence(conn, rid, 100);
}

static void test_return_names_its_publish(swamqp_connection *conn, uint16_t ch)
{
    CHECK_OK(swamqp_confirm_select(conn, ch, T_MS, &err), &err);
    uint64_t routed = 0, unroutable = 0;
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b("amq.fanout"), tu_b("x"), SWAMQP_MANDATORY, NULL, tu_b("routed?"),
                                  &routed, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b("c_abandon-no-such-queue"), SWAMQP_MANDATORY, NULL,
                                  tu_b("nowhere"), &unroutable, T_MS, &err), &err);
    CHECK(unroutable == routed + 1, "sequences %llu, %llu", (unsigned long long)routed, (unsigned long long)unroutable);
    /* amq.fanout has no queue bound here either: both come back, each naming its own publish */
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_RETURN, ch, T_MS);
    CHECK(e->delivery_tag == routed, "first return names sequence %llu, expected %llu",
          (unsigned long long)e->delivery_tag, (unsigned long long)routed);
    e = ev_wait(conn, SWAMQP_EVENT_RETURN, ch, T_MS);
    CHECK(e->delivery_tag == unroutable, "second return names sequence %llu, expected %llu",
          (unsigned long long)e->delivery_tag, (unsigned long long)unroutable);
    CHECK(e->message != NULL && e->message->body.len == 7, "returned body");
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
}

static void test_channel_generations(swamqp_connection *conn)
{
    uint16_t first = 0, second = 0;
    uint64_t open_first = 0, open_second = 0, rid = 0;
    CHECK_OK(swamqp_channel_open_async(conn, &first, &open_first, &err), &err);
    ev_wait(conn, SWAMQP_EVENT_COMPLETION, EV_ANY_CHANNEL, T_MS);
    CHECK_OK(swamqp_channel_close(conn, first, T_MS, &err), &err);
    CHECK_OK(swamqp_channel_open_async(conn, &second, &open_second, &err), &err);
    CHECK(second == first, "the number is reused (%u, %u)", first, second);
    /* the first channel's close event, then the second's (closed by the broker) */
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_CHANNEL_CLOSED, first, T_MS);
    CHECK(e->request_id == open_first && e->status == SWAMQP_OK, "first close names generation %llu, expected %llu",
          (unsigned long long)e->request_id, (unsigned long long)open_first);
    ev_wait(conn, SWAMQP_EVENT_COMPLETION, EV_ANY_CHANNEL, T_MS);
    CHECK_OK(swamqp_queue_declare_async(conn, second, tu_b("c_abandon-no-such-queue"), SWAMQP_PASSIVE, NULL, &rid, &err),
             &err);
    e = ev_wait(conn, SWAMQP_EVENT_CHANNEL_CLOSED, second, T_MS);
    CHECK(e->request_id == open_second && e->status != SWAMQP_OK, "broker close names generation %llu, expected %llu",
          (unsigned long long)e->request_id, (unsigned long long)open_second);
}

int main(void)
{
    swamqp_connection *conn = tu_connect();
    uint16_t ch = 0;
    CHECK_OK(swamqp_channel_open(conn, &ch, T_MS, &err), &err);
    char name[128];
    tu_unique_name(name, sizeof name, "c_abandon", "queue");
    swamqp_bytes queue = tu_b(name);
    CHECK_OK(swamqp_queue_declare(conn, ch, queue, SWAMQP_EXCLUSIVE, NULL, NULL, T_MS, &err), &err);
    for (int i = 0; i < 3; i++)
        CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, NULL, tu_b("kept"), NULL, T_MS, &err), &err);
    expect_queue(conn, ch, queue, 3, 0);

    test_abandoned_consumes(conn, ch, queue);
    test_abandoned_get(conn, ch, queue);
    test_deadlines(conn, ch, queue);
    test_return_names_its_publish(conn, ch);
    test_channel_generations(conn);

    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    swamqp_connection_free(conn);
    printf("c_abandon: ok\n");
    return 0;
}
