/*
 * c_bad_arguments with a live connection (AMQP_URL): required out-pointers, over-long short
 * strings, NULL bytes with a length, bad properties and tables, a channel number never opened,
 * and the calls after close and after free. Nothing refused is sent: the channel stays open.
 */
#include "c_bad_arguments.h"

#include <fcntl.h>

static char long_name[257]; /* 256 bytes */

/**
 * The functions added with consume/confirms/tx/raw: NULL out-pointers that are required, over-long
 * short strings, NULL bytes with a length, bad tables, NOWAIT consume without a tag, and a channel
 * that was never opened (status `not_open`, as for the older functions). Nothing of this is sent:
 * the channel stays open (checked by the caller).
 */
static void test_newer_functions_live(swamqp_connection *conn, uint16_t ch, swamqp_bytes queue, int not_open)
{
    swamqp_error err;
    uint64_t rid = 0;
    uint32_t count = 0;
    const swamqp_bytes too_long = tu_bn(long_name, 256);
    const swamqp_bytes null_bytes = tu_bn(NULL, 5);
    const swamqp_bytes x = tu_b("c_bad_arguments.x");
    const swamqp_bytes direct = tu_b("amq.direct");
    swamqp_table bad_table = {2, NULL};
    const int IA = SWAMQP_ERR_INVALID_ARGUMENT;

    /* required request ids */
    CHECK_STATUS(swamqp_basic_recover_async(conn, ch, SWAMQP_REQUEUE, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_basic_qos_async(conn, ch, 0, 1, 0, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_basic_consume_async(conn, ch, queue, x, 0, NULL, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_basic_cancel_async(conn, ch, x, 0, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_delete_async(conn, ch, x, 0, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_bind_async(conn, ch, x, direct, x, 0, NULL, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_unbind_async(conn, ch, x, direct, x, 0, NULL, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_queue_unbind_async(conn, ch, queue, direct, x, NULL, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_queue_purge_async(conn, ch, queue, 0, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_queue_delete_async(conn, ch, queue, 0, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_tx_select_async(conn, ch, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_tx_commit_async(conn, ch, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_tx_rollback_async(conn, ch, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_confirm_select_async(conn, ch, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_wait_for_confirms_async(conn, ch, NULL, &err), IA, &err);
    CHECK_STATUS(swamqp_connection_stats(conn, NULL), IA, NULL);

    /* request ids never issued, and an abandon of one that completed in an earlier batch */
    CHECK_STATUS(swamqp_request_abandon(conn, 0, &err), IA, &err);
    CHECK_STATUS(swamqp_request_abandon(conn, UINT64_MAX, &err), IA, &err);
    CHECK_STATUS(swamqp_request_set_timeout(conn, 0, 100, &err), IA, &err);
    CHECK_STATUS(swamqp_request_set_timeout(conn, UINT64_MAX, SWAMQP_WAIT_FOREVER, &err), IA, &err);

    /* over-long short strings and NULL bytes */
    CHECK_STATUS(swamqp_exchange_delete(conn, ch, too_long, 0, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_delete(conn, ch, null_bytes, 0, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_delete_async(conn, ch, too_long, 0, &rid, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_bind(conn, ch, too_long, direct, x, 0, NULL, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_bind(conn, ch, x, too_long, x, 0, NULL, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_bind(conn, ch, x, direct, too_long, 0, NULL, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_bind(conn, ch, x, direct, x, 0, &bad_table, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_bind_async(conn, ch, x, direct, null_bytes, 0, NULL, &rid, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_unbind(conn, ch, x, direct, too_long, 0, NULL, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_unbind(conn, ch, x, direct, x, 0, &bad_table, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_exchange_unbind_async(conn, ch, too_long, direct, x, 0, NULL, &rid, &err), IA, &err);
    CHECK_STATUS(swamqp_queue_unbind(conn, ch, too_long, direct, x, NULL, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_queue_unbind(conn, ch, queue, direct, x, &bad_table, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_queue_unbind_async(conn, ch, queue, null_bytes, x, NULL, &rid, &err), IA, &err);
    CHECK_STATUS(swamqp_queue_purge(conn, ch, too_long, 0, &count, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_queue_purge_async(conn, ch, null_bytes, 0, &rid, &err), IA, &err);
    CHECK_STATUS(swamqp_queue_delete(conn, ch, too_long, 0, &count, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_queue_delete_async(conn, ch, null_bytes, 0, &rid, &err), IA, &err);
    CHECK_STATUS(swamqp_basic_consume(conn, ch, too_long, x, 0, NULL, NULL, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_basic_consume(conn, ch, queue, too_long, 0, NULL, NULL, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_basic_consume(conn, ch, queue, x, 0, &bad_table, NULL, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_basic_consume_async(conn, ch, queue, null_bytes, 0, NULL, &rid, &err), IA, &err);
    /* NOWAIT needs a tag */
    CHECK_STATUS(swamqp_basic_consume(conn, ch, queue, tu_b(""), SWAMQP_NOWAIT, NULL, NULL, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_basic_cancel(conn, ch, too_long, 0, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_basic_cancel_async(conn, ch, null_bytes, 0, &rid, &err), IA, &err);
    CHECK_STATUS(swamqp_connection_update_secret(conn, null_bytes, x, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_connection_update_secret(conn, x, too_long, T_MS, &err), IA, &err);
    CHECK_STATUS(swamqp_connection_update_secret_async(conn, null_bytes, x, &rid, &err), IA, &err);
    CHECK_STATUS(swamqp_connection_update_secret_async(conn, x, too_long, &rid, &err), IA, &err);
    CHECK_STATUS(swamqp_connection_update_secret_async(conn, x, x, NULL, &err), IA, &err);
    /* raw sends: arguments that do not decode, NULL bytes, bad properties, a non-content method */
    CHECK_STATUS(swamqp_send_method(conn, ch, 50, 10, null_bytes, &err), IA, &err);
    CHECK_STATUS(swamqp_send_method(conn, ch, 50, 10, tu_bn("\x00", 1), &err), IA, &err);
    CHECK_STATUS(swamqp_send_method(conn, ch, 0, 0, tu_b(""), &err), IA, &err);
    /* channel 0 belongs to the library: "SWAMQP_ERR_BAD_STATE for 0" */
    CHECK_STATUS(swamqp_send_method(conn, 0, 10, 50, CLOSE_ARGS, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK_STATUS(swamqp_send_method(conn, ch, 65535, 65535, tu_b(""), &err), IA, &err);
    CHECK_STATUS(swamqp_send_content(conn, ch, 60, 40, null_bytes, NULL, tu_b("b"), &err), IA, &err);
    CHECK_STATUS(swamqp_send_content(conn, ch, 60, 40, tu_bn("\x00", 1), NULL, tu_b("b"), &err), IA, &err);
    static const uint8_t publish_args[] = {0, 0, 0, 0, 0}; /* reserved, exchange "", key "", bits */
    CHECK_STATUS(swamqp_send_content(conn, ch, 60, 40, tu_bn(publish_args, 5), NULL, null_bytes, &err), IA, &err);
    swamqp_properties props;
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_HEADERS;
    props.headers = bad_table;
    CHECK_STATUS(swamqp_send_content(conn, ch, 60, 40, tu_bn(publish_args, 5), &props, tu_b("b"), &err), IA, &err);
    CHECK_STATUS(swamqp_send_content(conn, ch, 50, 10, tu_bn(publish_args, 5), NULL, tu_b("b"), &err), IA, &err);

    /* a channel never opened: the same status as the older functions */
    const uint16_t never = 999;
    CHECK_STATUS(swamqp_exchange_delete(conn, never, x, 0, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_exchange_bind(conn, never, x, direct, x, 0, NULL, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_exchange_unbind(conn, never, x, direct, x, 0, NULL, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_queue_unbind(conn, never, queue, direct, x, NULL, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_queue_purge(conn, never, queue, 0, &count, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_queue_delete(conn, never, queue, 0, &count, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_basic_consume(conn, never, queue, x, 0, NULL, NULL, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_basic_cancel(conn, never, x, 0, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_basic_qos(conn, never, 0, 1, 0, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_basic_recover(conn, never, SWAMQP_REQUEUE, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_basic_nack(conn, never, 1, 0, &err), not_open, &err);
    CHECK_STATUS(swamqp_basic_reject(conn, never, 1, 0, &err), not_open, &err);
    CHECK_STATUS(swamqp_tx_select(conn, never, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_tx_commit(conn, never, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_tx_rollback(conn, never, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_confirm_select(conn, never, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_channel_set_raw(conn, never, true), not_open, NULL);
    CHECK_STATUS(swamqp_send_method(conn, never, 20, 40, CLOSE_ARGS, &err), not_open, &err);
    /* "NOT_CONFIRM_MODE: a channel without confirm.select" — on a channel that is not open at all
     * the header does not say which comes first; either is accepted. */
    tu_err_reset(&err);
    int rc = swamqp_wait_for_confirms(conn, never, T_MS, &err);
    CHECK(rc == not_open || rc == SWAMQP_ERR_NOT_CONFIRM_MODE, "wait_for_confirms on channel 999 returned %s",
          swamqp_status_string(rc));
    int arc;
    tu_err_reset(&err);
    arc = swamqp_basic_consume_async(conn, never, queue, x, 0, NULL, &rid, &err);
    expect_async_failure(conn, arc, rid, not_open, &err, "basic_consume_async on channel 999");
    tu_err_reset(&err);
    arc = swamqp_queue_purge_async(conn, never, queue, 0, &rid, &err);
    expect_async_failure(conn, arc, rid, not_open, &err, "queue_purge_async on channel 999");
    tu_err_reset(&err);
    arc = swamqp_tx_select_async(conn, never, &rid, &err);
    expect_async_failure(conn, arc, rid, not_open, &err, "tx_select_async on channel 999");
    tu_err_reset(&err);
    arc = swamqp_confirm_select_async(conn, never, &rid, &err);
    expect_async_failure(conn, arc, rid, not_open, &err, "confirm_select_async on channel 999");
    tu_err_reset(&err);
    arc = swamqp_exchange_bind_async(conn, never, x, direct, x, 0, NULL, &rid, &err);
    expect_async_failure(conn, arc, rid, not_open, &err, "exchange_bind_async on channel 999");
    CHECK(swamqp_connection_is_open(conn), "the connection closed during the argument checks");

    /* The channel still works: every refused call above sent nothing. */
    CHECK_OK(swamqp_queue_declare(conn, ch, queue, SWAMQP_PASSIVE, NULL, NULL, T_MS, &err), &err);
}
static char max_name[256];  /* 255 bytes */

void test_arguments_live(void)
{
    swamqp_error err;
    uint64_t rid = 0;
    swamqp_connection *conn = tu_connect();
    memset(long_name, 'x', 256);
    /* unique (an exclusive queue of another run would be locked), padded to 255 bytes */
    tu_unique_name(max_name, sizeof max_name, "c_bad_arguments", "max");
    memset(max_name + strlen(max_name), 'q', 255 - strlen(max_name));
    max_name[255] = '\0';
    const swamqp_bytes too_long = tu_bn(long_name, 256);
    const swamqp_bytes null_bytes = tu_bn(NULL, 5);
    const swamqp_bytes ok_name = tu_b("c_bad_arguments");
    const swamqp_bytes direct = tu_b("direct");

    uint16_t cm = 0, hb = 0;
    uint32_t fm = 0;
    CHECK_OK(swamqp_connection_tune(conn, &cm, &fm, &hb), NULL);
    CHECK(cm >= 1000, "negotiated channel_max %u; this test needs at least 1000", cm);

    /* open on an open connection */
    CHECK_STATUS(swamqp_connection_open(conn, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK_STATUS(swamqp_connection_open_async(conn, &rid, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK(swamqp_connection_is_open(conn), "connection no longer open after a refused second open");

    /* NULL out-pointers */
    uint16_t ch = 0;
    CHECK_STATUS(swamqp_channel_open(conn, NULL, T_MS, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_channel_open_async(conn, NULL, &rid, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_channel_open_async(conn, &ch, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);

    CHECK_OK(swamqp_channel_open(conn, &ch, T_MS, &err), &err);
    CHECK(ch >= 1, "channel %u", ch);
    swamqp_queue_declare_ok ok;
    memset(&ok, 0, sizeof ok);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(""), SWAMQP_EXCLUSIVE, NULL, &ok, T_MS, &err), &err);
    static char qname[256];
    CHECK(ok.name_len > 0 && ok.name_len < sizeof qname, "server-named queue name_len %zu", ok.name_len);
    memcpy(qname, ok.name, ok.name_len);
    const swamqp_bytes queue = tu_bn(qname, ok.name_len);

    CHECK_STATUS(swamqp_channel_close_async(conn, ch, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_exchange_declare_async(conn, ch, ok_name, direct, 0, NULL, NULL, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_declare_async(conn, ch, ok_name, SWAMQP_EXCLUSIVE, NULL, NULL, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_bind_async(conn, ch, queue, tu_b("amq.direct"), ok_name, 0, NULL, NULL, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_get(conn, ch, queue, 0, NULL, T_MS, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_get_async(conn, ch, queue, 0, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);

    /* Over-long short strings (256 bytes) and NULL bytes with a length. */
    swamqp_message *msg = (swamqp_message *)0x1;
    CHECK_STATUS(swamqp_exchange_declare(conn, ch, too_long, direct, SWAMQP_PASSIVE, NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_exchange_declare(conn, ch, too_long, direct, SWAMQP_PASSIVE, NULL, T_MS, NULL),
                 SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(swamqp_exchange_declare(conn, ch, ok_name, too_long, SWAMQP_PASSIVE, NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_exchange_declare(conn, ch, null_bytes, direct, SWAMQP_PASSIVE, NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_exchange_declare_async(conn, ch, too_long, direct, SWAMQP_PASSIVE, NULL, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_declare(conn, ch, too_long, SWAMQP_EXCLUSIVE, NULL, &ok, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_declare(conn, ch, null_bytes, SWAMQP_EXCLUSIVE, NULL, &ok, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_declare_async(conn, ch, too_long, SWAMQP_EXCLUSIVE, NULL, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_bind(conn, ch, too_long, tu_b("amq.direct"), ok_name, 0, NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_bind(conn, ch, queue, too_long, ok_name, 0, NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_bind(conn, ch, queue, tu_b("amq.direct"), too_long, 0, NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_bind_async(conn, ch, queue, tu_b("amq.direct"), too_long, 0, NULL, &rid, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_publish(conn, ch, too_long, ok_name, 0, NULL, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), too_long, 0, NULL, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, NULL, null_bytes, NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_basic_get(conn, ch, too_long, 0, &msg, T_MS, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(msg == NULL, "basic_get failed but *message is %p", (void *)msg);
    CHECK_STATUS(swamqp_basic_get_async(conn, ch, too_long, 0, &rid, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);

    /* Invalid properties and tables. */
    swamqp_properties props;
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_CONTENT_TYPE;
    props.content_type = too_long;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, &props, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);

    swamqp_table_entry entry;
    memset(&entry, 0, sizeof entry);
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_HEADERS;
    props.headers.count = 1;
    props.headers.entries = NULL; /* count 1, no entries */
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, &props, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    props.headers.entries = &entry;
    entry.key = tu_bn(long_name, 256); /* keys are short strings: at most 255 bytes */
    entry.value.kind = SWAMQP_FIELD_I32;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, &props, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    entry.key = tu_b("k");
    entry.value.kind = 'z'; /* not a field kind */
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, &props, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    entry.value.kind = 0;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, &props, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    entry.value.kind = SWAMQP_FIELD_STRING;
    entry.value.value.bytes = null_bytes;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, &props, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    entry.value.kind = SWAMQP_FIELD_ARRAY;
    entry.value.value.array.count = 3;
    entry.value.value.array.values = NULL;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, &props, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    entry.value.kind = SWAMQP_FIELD_TABLE;
    entry.value.value.table.count = 2;
    entry.value.value.table.entries = NULL;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, &props, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    /* U64 is "sent as 'l' when it fits": one that does not fit cannot be sent. */
    entry.value.kind = SWAMQP_FIELD_U64;
    entry.value.value.u64 = UINT64_MAX;
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, &props, tu_b("b"), NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    /* The same bad table as declare arguments. */
    swamqp_table bad_table = {2, NULL};
    CHECK_STATUS(swamqp_exchange_declare(conn, ch, ok_name, direct, SWAMQP_PASSIVE, &bad_table, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_declare(conn, ch, queue, SWAMQP_PASSIVE, &bad_table, NULL, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_queue_bind(conn, ch, queue, tu_b("amq.direct"), ok_name, 0, &bad_table, T_MS, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);

    /* Nothing above was sent: the channel is still open and fine; a 255-byte name is allowed. */
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(max_name), SWAMQP_EXCLUSIVE | SWAMQP_AUTO_DELETE, NULL, &ok, T_MS,
                                  &err),
             &err);
    CHECK(ok.name_len == 255 && memcmp(ok.name, max_name, 255) == 0 && ok.name[255] == '\0',
          "255-byte queue: declare-ok name_len %zu", ok.name_len);

    /* A channel number never opened (999). The header names BAD_STATE for "a channel not open";
     * CHANNEL_CLOSED ("the channel was closed") is the other reading. Either is accepted, but every
     * call must give the same one. An _async form may refuse at once or return a request id whose
     * completion carries that status. */
    const uint16_t never = 999;
    tu_err_reset(&err);
    const int not_open = swamqp_exchange_declare(conn, never, ok_name, direct, SWAMQP_PASSIVE, NULL, T_MS, &err);
    CHECK(not_open == SWAMQP_ERR_BAD_STATE || not_open == SWAMQP_ERR_CHANNEL_CLOSED,
          "exchange_declare on never-opened channel 999 returned %s (%d): %s", swamqp_status_string(not_open),
          not_open, tu_err_text(&err));
    tu_check_status(__FILE__, __LINE__, "exchange_declare on channel 999", not_open, not_open, &err);
    CHECK(err.origin == SWAMQP_ORIGIN_LIBRARY, "error.origin %d for a channel never opened", (int)err.origin);
    fprintf(stderr, "channel never opened: %s: %s\n", swamqp_status_string(not_open), err.message);
    CHECK_STATUS(swamqp_queue_declare(conn, never, queue, SWAMQP_PASSIVE, NULL, NULL, T_MS, &err), not_open, &err);
    CHECK_STATUS(swamqp_queue_bind(conn, never, queue, tu_b("amq.direct"), ok_name, 0, NULL, T_MS, &err), not_open,
                 &err);
    CHECK_STATUS(swamqp_basic_publish(conn, never, tu_b(""), queue, 0, NULL, tu_b("b"), NULL, T_MS, &err), not_open, &err);
    msg = (swamqp_message *)0x1;
    CHECK_STATUS(swamqp_basic_get(conn, never, queue, 0, &msg, T_MS, &err), not_open, &err);
    CHECK(msg == NULL, "basic_get failed but *message is %p", (void *)msg);
    CHECK_STATUS(swamqp_basic_ack(conn, never, 1, 0, &err), not_open, &err);
    /* (the request id is read only after the call has written it) */
    int arc;
    tu_err_reset(&err);
    arc = swamqp_exchange_declare_async(conn, never, ok_name, direct, SWAMQP_PASSIVE, NULL, &rid, &err);
    expect_async_failure(conn, arc, rid, not_open, &err, "exchange_declare_async on channel 999");
    tu_err_reset(&err);
    arc = swamqp_queue_declare_async(conn, never, queue, SWAMQP_PASSIVE, NULL, &rid, &err);
    expect_async_failure(conn, arc, rid, not_open, &err, "queue_declare_async on channel 999");
    tu_err_reset(&err);
    arc = swamqp_queue_bind_async(conn, never, queue, tu_b("amq.direct"), ok_name, 0, NULL, &rid, &err);
    expect_async_failure(conn, arc, rid, not_open, &err, "queue_bind_async on channel 999");
    tu_err_reset(&err);
    arc = swamqp_basic_get_async(conn, never, queue, 0, &rid, &err);
    expect_async_failure(conn, arc, rid, not_open, &err, "basic_get_async on channel 999");
    static const uint16_t odd[] = {0, 65535};
    for (size_t i = 0; i < 2; i++) {
        tu_err_reset(&err);
        int rc = swamqp_queue_declare(conn, odd[i], queue, SWAMQP_PASSIVE, NULL, NULL, T_MS, &err);
        CHECK(rc == SWAMQP_ERR_INVALID_ARGUMENT || rc == not_open,
              "queue_declare on channel %u returned %s (%d): %s", odd[i], swamqp_status_string(rc), rc,
              tu_err_text(&err));
        tu_err_reset(&err);
        rc = swamqp_basic_publish(conn, odd[i], tu_b(""), queue, 0, NULL, tu_b("b"), NULL, T_MS, &err);
        CHECK(rc == SWAMQP_ERR_INVALID_ARGUMENT || rc == not_open,
              "basic_publish on channel %u returned %s (%d): %s", odd[i], swamqp_status_string(rc), rc,
              tu_err_text(&err));
    }
    CHECK(swamqp_connection_is_open(conn), "connection closed by the calls on unopened channels");

    test_newer_functions_live(conn, ch, queue, not_open);

    /* None of the refused publishes reached the queue. */
    msg = (swamqp_message *)0x1;
    CHECK_OK(swamqp_basic_get(conn, ch, queue, SWAMQP_NO_ACK, &msg, T_MS, &err), &err);
    CHECK(msg == NULL, "a publish that returned an error was sent anyway: the queue holds body %s",
          tu_show(msg->body));

    /* A real message freed twice: the second free is detected. */
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, NULL, tu_b("twice"), NULL, T_MS, &err), &err);
    int64_t deadline = tu_now_ms() + 5000;
    do {
        CHECK_OK(swamqp_basic_get(conn, ch, queue, SWAMQP_NO_ACK, &msg, T_MS, &err), &err);
    } while (msg == NULL && tu_now_ms() < deadline && (tu_sleep_ms(50), 1));
    CHECK(msg != NULL, "basic_get returned no message within 5 s");
    CHECK_BYTES(msg->body, "twice");
    CHECK_OK(swamqp_message_free(msg), NULL);
    CHECK_STATUS(swamqp_message_free(msg), SWAMQP_ERR_INVALID_HANDLE, NULL);

    /* After close: requests fail with CONNECTION_CLOSED; a second close is OK. */
    int fd = swamqp_connection_event_fd(conn);
    CHECK(fd >= 0, "live connection has event fd %d", fd);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK(!swamqp_connection_is_open(conn), "is_open after close");
    uint16_t ch_after = 0;
    CHECK_STATUS(swamqp_channel_open(conn, &ch_after, T_MS, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), queue, 0, NULL, tu_b("late"), NULL, T_MS, &err),
                 SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK_STATUS(swamqp_basic_consume(conn, ch, queue, tu_b(""), 0, NULL, NULL, T_MS, &err),
                 SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK_STATUS(swamqp_confirm_select(conn, ch, T_MS, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK_STATUS(swamqp_tx_commit(conn, ch, T_MS, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK_STATUS(swamqp_queue_delete(conn, ch, queue, 0, NULL, T_MS, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK_STATUS(swamqp_basic_reject(conn, ch, 1, 0, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK_STATUS(swamqp_connection_update_secret(conn, tu_b("s"), tu_b("r"), T_MS, &err),
                 SWAMQP_ERR_CONNECTION_CLOSED, &err);
    CHECK_STATUS(swamqp_send_method(conn, ch, 20, 40, CLOSE_ARGS, &err), SWAMQP_ERR_CONNECTION_CLOSED, &err);
    swamqp_stats closed_stats;
    CHECK_OK(swamqp_connection_stats(conn, &closed_stats), NULL); /* counters stay readable */
    CHECK(closed_stats.frames_out > 0, "stats after close lost their counts");
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);

    /* After free: the handle is invalid and the event fd is closed. */
    CHECK_OK(swamqp_connection_free(conn), NULL);
    check_invalid_handle(conn, "freed live connection", false);
    errno = 0;
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "event fd %d still open after free", fd);
}
