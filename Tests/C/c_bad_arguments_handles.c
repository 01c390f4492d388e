/*
 * c_bad_arguments, invalid handles: every function that takes a connection, called with NULL,
 * made-up, freed and reused-slot handles, gives SWAMQP_ERR_INVALID_HANDLE with error.origin
 * LIBRARY (NULL is accepted by swamqp_connection_free) and does not crash.
 */
#include "c_bad_arguments.h"

#define CHECK_HANDLE(call)                                                                        \
    do {                                                                                          \
        CHECK_STATUS(call, SWAMQP_ERR_INVALID_HANDLE, &err);                                      \
        CHECK(err.origin == SWAMQP_ORIGIN_LIBRARY, "%s: error.origin %d", #call, (int)err.origin); \
    } while (0)

/** Every function that takes a connection, with handle `h` that is not a live handle. */
void check_invalid_handle(swamqp_connection *h, const char *label, bool is_null)
{
    swamqp_error err;
    uint64_t rid = 0;
    uint16_t ch = 0;
    swamqp_event events[4];
    size_t n = 99;
    const swamqp_bytes name = tu_b("x");

    fprintf(stderr, "invalid handle: %s\n", label);
    CHECK_HANDLE(swamqp_connection_open(h, &err));
    CHECK_HANDLE(swamqp_connection_open_async(h, &rid, &err));
    CHECK_HANDLE(swamqp_connection_close(h, 100, &err));
    CHECK_HANDLE(swamqp_connection_close_async(h, &rid, &err));
    CHECK(!swamqp_connection_is_open(h), "%s: is_open is true", label);
    uint16_t cm = 1, hb = 1;
    uint32_t fm = 1;
    CHECK_STATUS(swamqp_connection_tune(h, &cm, &fm, &hb), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK(swamqp_connection_event_fd(h) == -1, "%s: event_fd is %d, expected -1", label,
          swamqp_connection_event_fd(h));
    CHECK_STATUS(swamqp_next_events(h, events, 4, &n, 0), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_STATUS(swamqp_next_events(h, events, 4, &n, 50), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_HANDLE(swamqp_next_events_batch(h, events, 4, 2, 100, &n, 0, &err));
    CHECK_STATUS(swamqp_set_log_level(h, 1), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_STATUS(swamqp_events_release(h), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_STATUS(swamqp_set_event_callback(h, never_called, NULL), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_STATUS(swamqp_set_event_callback(h, NULL, NULL), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_STATUS(swamqp_dispatch_events(h, 0, &n), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_STATUS(swamqp_dispatch_events(h, 50, NULL), SWAMQP_ERR_INVALID_HANDLE, NULL);

    CHECK_HANDLE(swamqp_channel_open(h, &ch, 100, &err));
    CHECK_HANDLE(swamqp_channel_open_async(h, &ch, &rid, &err));
    CHECK_HANDLE(swamqp_channel_close(h, 1, 100, &err));
    CHECK_HANDLE(swamqp_channel_close_async(h, 1, &rid, &err));
    CHECK_HANDLE(swamqp_exchange_declare(h, 1, name, tu_b("direct"), 0, NULL, 100, &err));
    CHECK_HANDLE(swamqp_exchange_declare_async(h, 1, name, tu_b("direct"), 0, NULL, &rid, &err));
    swamqp_queue_declare_ok ok;
    CHECK_HANDLE(swamqp_queue_declare(h, 1, name, 0, NULL, &ok, 100, &err));
    CHECK_HANDLE(swamqp_queue_declare_async(h, 1, name, 0, NULL, &rid, &err));
    CHECK_HANDLE(swamqp_queue_bind(h, 1, name, name, name, 0, NULL, 100, &err));
    CHECK_HANDLE(swamqp_queue_bind_async(h, 1, name, name, name, 0, NULL, &rid, &err));
    CHECK_HANDLE(swamqp_basic_publish(h, 1, name, name, 0, NULL, tu_b("body"), NULL, 100, &err));
    swamqp_message *msg = (swamqp_message *)0x1;
    CHECK_HANDLE(swamqp_basic_get(h, 1, name, 0, &msg, 100, &err));
    CHECK(msg == NULL, "%s: basic_get failed but *message is %p (\"*message is NULL on failure\")", label,
          (void *)msg);
    CHECK_HANDLE(swamqp_basic_get_async(h, 1, name, 0, &rid, &err));
    CHECK_HANDLE(swamqp_basic_ack(h, 1, 1, 0, &err));
    CHECK_HANDLE(swamqp_basic_nack(h, 1, 1, SWAMQP_MULTIPLE, &err));
    CHECK_HANDLE(swamqp_basic_reject(h, 1, 1, SWAMQP_REQUEUE, &err));
    CHECK_HANDLE(swamqp_basic_recover(h, 1, SWAMQP_REQUEUE, 100, &err));
    CHECK_HANDLE(swamqp_basic_recover_async(h, 1, SWAMQP_REQUEUE, &rid, &err));
    CHECK_HANDLE(swamqp_basic_qos(h, 1, 0, 10, 0, 100, &err));
    CHECK_HANDLE(swamqp_basic_qos_async(h, 1, 0, 10, 0, &rid, &err));
    swamqp_name tag;
    CHECK_HANDLE(swamqp_basic_consume(h, 1, name, name, 0, NULL, &tag, 100, &err));
    CHECK_HANDLE(swamqp_basic_consume_async(h, 1, name, name, 0, NULL, &rid, &err));
    CHECK_HANDLE(swamqp_basic_cancel(h, 1, name, 0, 100, &err));
    CHECK_HANDLE(swamqp_basic_cancel_async(h, 1, name, 0, &rid, &err));
    CHECK_HANDLE(swamqp_exchange_delete(h, 1, name, 0, 100, &err));
    CHECK_HANDLE(swamqp_exchange_delete_async(h, 1, name, 0, &rid, &err));
    CHECK_HANDLE(swamqp_exchange_bind(h, 1, name, name, name, 0, NULL, 100, &err));
    CHECK_HANDLE(swamqp_exchange_bind_async(h, 1, name, name, name, 0, NULL, &rid, &err));
    CHECK_HANDLE(swamqp_exchange_unbind(h, 1, name, name, name, 0, NULL, 100, &err));
    CHECK_HANDLE(swamqp_exchange_unbind_async(h, 1, name, name, name, 0, NULL, &rid, &err));
    CHECK_HANDLE(swamqp_queue_unbind(h, 1, name, name, name, NULL, 100, &err));
    CHECK_HANDLE(swamqp_queue_unbind_async(h, 1, name, name, name, NULL, &rid, &err));
    uint32_t count = 0;
    CHECK_HANDLE(swamqp_queue_purge(h, 1, name, 0, &count, 100, &err));
    CHECK_HANDLE(swamqp_queue_purge_async(h, 1, name, 0, &rid, &err));
    CHECK_HANDLE(swamqp_queue_delete(h, 1, name, 0, &count, 100, &err));
    CHECK_HANDLE(swamqp_queue_delete_async(h, 1, name, 0, &rid, &err));
    CHECK_HANDLE(swamqp_tx_select(h, 1, 100, &err));
    CHECK_HANDLE(swamqp_tx_select_async(h, 1, &rid, &err));
    CHECK_HANDLE(swamqp_tx_commit(h, 1, 100, &err));
    CHECK_HANDLE(swamqp_tx_commit_async(h, 1, &rid, &err));
    CHECK_HANDLE(swamqp_tx_rollback(h, 1, 100, &err));
    CHECK_HANDLE(swamqp_tx_rollback_async(h, 1, &rid, &err));
    CHECK_HANDLE(swamqp_confirm_select(h, 1, 100, &err));
    CHECK_HANDLE(swamqp_confirm_select_async(h, 1, &rid, &err));
    CHECK_HANDLE(swamqp_wait_for_confirms(h, 1, 100, &err));
    CHECK_HANDLE(swamqp_wait_for_confirms_async(h, 1, &rid, &err));
    CHECK_HANDLE(swamqp_request_abandon(h, 1, &err));
    CHECK_HANDLE(swamqp_request_set_timeout(h, 1, 100, &err));
    CHECK_HANDLE(swamqp_connection_update_secret(h, name, name, 100, &err));
    CHECK_HANDLE(swamqp_connection_update_secret_async(h, name, name, &rid, &err));
    CHECK_HANDLE(swamqp_channel_flow(h, 1, true, 100, &err));
    swamqp_stats stats;
    CHECK_STATUS(swamqp_connection_stats(h, &stats), SWAMQP_ERR_INVALID_HANDLE, NULL);
    unsigned char props[64];
    size_t props_len = 1;
    CHECK_HANDLE(swamqp_connection_server_properties(h, props, sizeof props, &props_len, &err));
    CHECK(props_len == 0, "server properties of a bad handle: *written %zu", props_len);
    CHECK_STATUS(swamqp_channel_set_raw(h, 1, true), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_HANDLE(swamqp_send_method(h, 1, 20, 40, CLOSE_ARGS, &err));
    CHECK_HANDLE(swamqp_send_content(h, 1, 60, 40, PUBLISH_ARGS, NULL, name, &err));

    /* Also with error == NULL ("may be NULL"). */
    CHECK_STATUS(swamqp_channel_open(h, &ch, 100, NULL), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_STATUS(swamqp_basic_publish(h, 1, name, name, 0, NULL, tu_b("body"), NULL, 100, NULL),
                 SWAMQP_ERR_INVALID_HANDLE, NULL);

    if (is_null)
        CHECK_OK(swamqp_connection_free(h), NULL); /* "NULL is accepted" */
    else
        CHECK_STATUS(swamqp_connection_free(h), SWAMQP_ERR_INVALID_HANDLE, NULL);
}

void test_invalid_handles(void)
{
    swamqp_error err;
    check_invalid_handle(NULL, "NULL", true);
    check_invalid_handle((swamqp_connection *)0x1234, "made-up 0x1234", false);
    check_invalid_handle((swamqp_connection *)(uintptr_t)0xdeadbeefu, "made-up 0xdeadbeef", false);
    check_invalid_handle((swamqp_connection *)(uintptr_t)-1, "made-up (uintptr_t)-1", false);

    /* A freed handle, and one whose slot may have been reused by a newer handle. */
    swamqp_connection *freed = NULL, *newer = NULL;
    CHECK_OK(swamqp_connection_create(closed_port_options(), &freed, &err), &err);
    CHECK(freed != NULL, "create gave NULL");
    CHECK_OK(swamqp_connection_free(freed), NULL);
    check_invalid_handle(freed, "freed", false);
    CHECK_OK(swamqp_connection_create(closed_port_options(), &newer, &err), &err);
    check_invalid_handle(freed, "freed, after another create", false);
    CHECK(swamqp_connection_event_fd(newer) >= 0, "a live (created) handle has no event fd");
    CHECK_OK(swamqp_connection_free(newer), NULL);
    check_invalid_handle(newer, "second freed", false);
}
