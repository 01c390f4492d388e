/*
 * c_hostile, teardown: freeing a connection wakes the threads blocked on it (one never opened,
 * whose adopted socket free closes; one recovering, whose waiting publish gets CONNECTION_CLOSED),
 * and a callback may free another connection but not its own.
 */
#include "c_hostile.h"

void test_free_never_opened(void)
{
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair: %s", strerror(errno));
    swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    options.socket_fd = pair[0];
    swamqp_error err;
    swamqp_connection *conn = NULL;
    CHECK_OK(swamqp_connection_create(&options, &conn, &err), &err);
    blocking_call drain;
    pthread_t thread = start_call(&drain, conn, CALL_NEXT_EVENTS, 0, 0, SWAMQP_WAIT_FOREVER);
    tu_sleep_ms(200);
    int64_t start = tu_now_ms();
    CHECK_OK(swamqp_connection_free(conn), NULL);
    pthread_join(thread, NULL);
    CHECK(drain.returned_at - start < 1000, "a thread blocked in next_events woke %" PRId64 " ms after free",
          drain.returned_at - start);
    CHECK(drain.rc == SWAMQP_OK || drain.rc == SWAMQP_ERR_CONNECTION_CLOSED || drain.rc == SWAMQP_ERR_INVALID_HANDLE,
          "next_events ended with %s", swamqp_status_string(drain.rc));
    CHECK(wait_eof(pair[1], 1000) >= 0, "the adopted socket was not closed by free");
    close(pair[1]);
}

void test_free_during_recovery(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    options.automatic_recovery = true;
    options.recovery_initial_delay_ms = 10000; /* the next attempt is far away */
    options.recovery_max_delay_ms = 10000;
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    uint16_t ch = open_channel(conn, &peer);
    close(peer.fd); /* an unexpected loss: recovery begins */
    peer.fd = -1;
    ev_wait(conn, SWAMQP_EVENT_RECOVERY_STARTED, EV_ANY_CHANNEL, T_MS);
    blocking_call publish, drain;
    pthread_t publisher = start_call(&publish, conn, CALL_PUBLISH, ch, 0, SWAMQP_WAIT_FOREVER);
    pthread_t drainer = start_call(&drain, conn, CALL_NEXT_EVENTS, 0, 0, SWAMQP_WAIT_FOREVER);
    tu_sleep_ms(300);
    CHECK(!is_done(&publish), "the publish did not wait during recovery: %s", swamqp_status_string(publish.rc));
    int64_t start = tu_now_ms();
    CHECK_OK(swamqp_connection_free(conn), NULL);
    pthread_join(publisher, NULL);
    pthread_join(drainer, NULL);
    CHECK(publish.returned_at - start < 1500, "the waiting publish woke %" PRId64 " ms after free",
          publish.returned_at - start);
    CHECK(publish.rc == SWAMQP_ERR_CONNECTION_CLOSED, "the waiting publish returned %s",
          swamqp_status_string(publish.rc));
    CHECK(drain.returned_at - start < 1500, "the drain woke %" PRId64 " ms after free", drain.returned_at - start);
    fb_close(&peer);
}

static swamqp_connection *victim;
static int free_other_rc = 12345, free_own_rc = 12345;
static void free_in_callback(swamqp_connection *conn, const swamqp_event *event, void *user_data)
{
    (void)event;
    (void)user_data;
    if (victim != NULL) {
        free_other_rc = swamqp_connection_free(victim);
        victim = NULL;
        free_own_rc = swamqp_connection_free(conn);
    }
}

void test_free_other_in_callback(void)
{
    fb_peer peer;
    fb_listen(&peer, 0);
    swamqp_connection_options options;
    fb_client_options(&peer, &options);
    swamqp_connection *conn = connect_to(&peer, &options, 0);
    swamqp_error err;
    swamqp_connection_options other;
    swamqp_connection_options_init(&other);
    CHECK_OK(swamqp_connection_create(&other, &victim, &err), &err);
    uint16_t ch = 0;
    uint64_t rid = 0;
    CHECK_OK(swamqp_channel_open_async(conn, &ch, &rid, &err), &err);
    fb_accept_channel(&peer, ch);
    CHECK_OK(swamqp_set_event_callback(conn, free_in_callback, NULL), NULL);
    size_t dispatched = 0;
    int64_t deadline = tu_now_ms() + T_MS;
    while (free_other_rc == 12345 && tu_now_ms() < deadline)
        CHECK_OK(swamqp_dispatch_events(conn, 100, &dispatched), NULL);
    CHECK(free_other_rc == SWAMQP_OK, "freeing another connection in a callback returned %s",
          swamqp_status_string(free_other_rc));
    CHECK(free_own_rc == SWAMQP_ERR_IN_CALLBACK, "freeing the callback's own connection returned %s",
          swamqp_status_string(free_own_rc));
    swamqp_connection_free(conn);
    fb_close(&peer);
}
