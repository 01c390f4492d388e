/*
 * c_bad_arguments without a broker: NULL and invalid arguments to parse_url(_list), create,
 * connect, message_free and deliveries_pack, and every call on a connection that was created but
 * never opened (it fails without sending; the newer functions give SWAMQP_ERR_BAD_STATE).
 */
#include "c_bad_arguments.h"

#include <fcntl.h>

void test_arguments_offline(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    swamqp_connection *conn = (swamqp_connection *)0x1;

    swamqp_connection_options_init(NULL); /* must not crash */

    /* parse_url */
    swamqp_connection_options_init(&options);
    CHECK_STATUS(swamqp_parse_url(NULL, &options, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_parse_url("amqp://localhost/", NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_parse_url(NULL, NULL, NULL), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    /* parse_url_list: NULLs, a bad member, and a good list (hosts beyond the first become endpoints) */
    CHECK_STATUS(swamqp_parse_url_list(NULL, &options, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_parse_url_list("amqp://a", NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_parse_url_list("", &options, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_parse_url_list("amqp://a:1,http://b:2", &options, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_parse_url_list("amqp://a:1,amqp://b:99999", &options, &err), SWAMQP_ERR_INVALID_ARGUMENT,
                 &err);
    swamqp_connection_options_init(&options);
    CHECK_OK(swamqp_parse_url_list("amqp://u:p@a:1/v,amqp://b:2 amqp://c:3", &options, &err), &err);
    CHECK(strcmp(options.host, "a") == 0 && options.port == 1 && options.endpoint_count == 2 &&
              options.endpoints != NULL && strcmp(options.endpoints[0].host, "b") == 0 &&
              options.endpoints[0].port == 2 && strcmp(options.endpoints[1].host, "c") == 0 &&
              options.endpoints[1].port == 3 && options.automatic_recovery,
          "parse_url_list: host %s:%u, %zu endpoints, recovery %d", options.host, options.port,
          options.endpoint_count, options.automatic_recovery);
    /* an endpoint with a NULL host is refused at create */
    swamqp_connection_options with_endpoint = *closed_port_options();
    swamqp_endpoint bad_endpoint = {NULL, 5672};
    with_endpoint.endpoints = &bad_endpoint;
    with_endpoint.endpoint_count = 1;
    CHECK_STATUS(swamqp_connection_create(&with_endpoint, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    with_endpoint.endpoints = NULL; /* a count without an array */
    CHECK_STATUS(swamqp_connection_create(&with_endpoint, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);

    /* create / connect */
    CHECK_STATUS(swamqp_connection_create(NULL, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_connection_create(closed_port_options(), NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    conn = (swamqp_connection *)0x1;
    CHECK_STATUS(swamqp_connect(NULL, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(conn == NULL, "swamqp_connect failed but *out is %p (\"on failure *out is NULL\")", (void *)conn);
    CHECK_STATUS(swamqp_connect(closed_port_options(), NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);

    /* sized forms: this library's size works, others are refused with nothing written */
    size_t size = sizeof(swamqp_connection_options);
    CHECK(swamqp_connection_options_size() == size, "swamqp_connection_options_size() %zu, sizeof %zu",
          swamqp_connection_options_size(), size);
    memset(&options, 0xAB, sizeof options);
    CHECK_OK(swamqp_connection_options_init_sized(&options, size), NULL);
    CHECK(options.port == 5672 && strcmp(options.host, "localhost") == 0, "init_sized wrote the defaults");
    memset(&options, 0xAB, sizeof options);
    CHECK_STATUS(swamqp_connection_options_init_sized(&options, size - 1), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(swamqp_connection_options_init_sized(&options, size + 8), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(swamqp_connection_options_init_sized(&options, (size_t)1 << 63), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK(options.port == 0xABAB, "a refused init_sized wrote into the struct");
    CHECK_STATUS(swamqp_connection_options_init_sized(NULL, size), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    conn = (swamqp_connection *)0x1;
    CHECK_STATUS(swamqp_connection_create_sized(closed_port_options(), size + 8, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT,
                 &err);
    CHECK(conn == NULL, "create_sized failed but *out is %p", (void *)conn);
    CHECK_STATUS(swamqp_connection_create_sized(closed_port_options(), 16, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_connection_create_sized(NULL, size, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_OK(swamqp_connection_create_sized(closed_port_options(), size, &conn, &err), &err);
    swamqp_connection_free(conn);
    conn = (swamqp_connection *)0x1;
    CHECK_STATUS(swamqp_connect_sized(closed_port_options(), (size_t)-1, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(conn == NULL, "connect_sized failed but *out is %p", (void *)conn);
    CHECK_STATUS(swamqp_connect_sized(closed_port_options(), size, &conn, &err), SWAMQP_ERR_CONNECT, &err);
    CHECK(conn == NULL, "connect_sized failed but *out is %p", (void *)conn);

    /* frame_max below 4096 is refused; 4096 is fine. */
    swamqp_connection_options small = *closed_port_options();
    small.frame_max = 4095;
    CHECK_STATUS(swamqp_connection_create(&small, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    small.frame_max = 100;
    CHECK_STATUS(swamqp_connection_create(&small, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    small.frame_max = 4096;
    CHECK_OK(swamqp_connection_create(&small, &conn, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);

    /* message_free */
    CHECK_OK(swamqp_message_free(NULL), NULL);
    swamqp_message fake;
    memset(&fake, 0, sizeof fake);
    CHECK_STATUS(swamqp_message_free(&fake), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_STATUS(swamqp_message_free((swamqp_message *)0x1234), SWAMQP_ERR_INVALID_HANDLE, NULL);

    /* A created, never opened handle: NULL out-pointers, and state. */
    CHECK_OK(swamqp_connection_create(closed_port_options(), &conn, &err), &err);
    CHECK(!swamqp_connection_is_open(conn), "a never-opened connection is_open");
    CHECK(swamqp_connection_event_fd(conn) >= 0, "a created handle has no event fd");
    CHECK_STATUS(swamqp_connection_open_async(conn, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_connection_close_async(conn, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    uint16_t cm = 7, hb = 7;
    uint32_t fm = 7;
    /* Out-pointers not marked "may be NULL" in the header are required. */
    CHECK_STATUS(swamqp_connection_tune(conn, NULL, &fm, &hb), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(swamqp_connection_tune(conn, &cm, NULL, &hb), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(swamqp_connection_tune(conn, &cm, &fm, NULL), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK_OK(swamqp_connection_tune(conn, &cm, &fm, &hb), NULL);
    CHECK(cm == 0 && fm == 0 && hb == 0, "tune before open gave %u/%" PRIu32 "/%u, expected 0/0/0", cm, fm, hb);
    swamqp_event events[4];
    size_t n = 0;
    CHECK_STATUS(swamqp_next_events(conn, NULL, 4, &n, 0), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(swamqp_next_events(conn, events, 4, NULL, 0), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(swamqp_next_events_batch(conn, NULL, 4, 2, 100, &n, 0, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_next_events_batch(conn, events, 4, 2, 100, NULL, 0, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_next_events_batch(conn, events, 0, 2, 100, &n, 0, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_next_events_batch(conn, events, 4, SIZE_MAX, 100, &n, 0, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_OK(swamqp_next_events_batch(conn, events, 4, 2, 100, &n, 0, &err), &err);
    CHECK(n == 0, "a never-opened connection drained %zu events", n);
    CHECK_STATUS(swamqp_set_log_level(conn, 5), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(swamqp_set_log_level(conn, -1), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    CHECK_OK(swamqp_set_log_level(conn, 0), NULL);
    CHECK_OK(swamqp_set_log_level(conn, 4), NULL);
    CHECK_OK(swamqp_events_release(conn), NULL);
    CHECK_STATUS(swamqp_dispatch_events(conn, 0, NULL), SWAMQP_ERR_BAD_STATE, NULL); /* no callback set */
    CHECK_OK(swamqp_set_event_callback(conn, never_called, NULL), NULL);
    CHECK_OK(swamqp_set_event_callback(conn, NULL, NULL), NULL);
    CHECK_STATUS(swamqp_dispatch_events(conn, 0, &n), SWAMQP_ERR_BAD_STATE, NULL); /* cleared again */

    /* Requests on a connection that was never opened fail without sending. Which status the header
     * implies is not spelled out: "not open" (BAD_STATE) or "closed" (CONNECTION_CLOSED). */
    uint16_t ch = 0;
    tu_err_reset(&err);
    int rc = swamqp_channel_open(conn, &ch, 100, &err);
    CHECK(rc == SWAMQP_ERR_BAD_STATE || rc == SWAMQP_ERR_CONNECTION_CLOSED,
          "channel_open on a never-opened connection returned %s (%d): %s", swamqp_status_string(rc), rc,
          tu_err_text(&err));
    tu_err_reset(&err);
    rc = swamqp_basic_publish(conn, 1, tu_b(""), tu_b("k"), 0, NULL, tu_b("b"), NULL, 100, &err);
    CHECK(rc == SWAMQP_ERR_BAD_STATE || rc == SWAMQP_ERR_CONNECTION_CLOSED,
          "basic_publish on a never-opened connection returned %s (%d): %s", swamqp_status_string(rc), rc,
          tu_err_text(&err));

    /* The newer functions on the never-opened connection: "a connection that is not open yet gives
     * SWAMQP_ERR_BAD_STATE". */
    const swamqp_bytes x = tu_b("x");
    uint64_t rid = 0;
    CHECK_STATUS(swamqp_exchange_delete(conn, 1, x, 0, 100, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK_STATUS(swamqp_exchange_bind(conn, 1, x, x, x, 0, NULL, 100, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK_STATUS(swamqp_queue_purge(conn, 1, x, 0, NULL, 100, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK_STATUS(swamqp_basic_consume(conn, 1, x, x, 0, NULL, NULL, 100, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK_STATUS(swamqp_basic_nack(conn, 1, 1, 0, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK_STATUS(swamqp_tx_select(conn, 1, 100, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK_STATUS(swamqp_confirm_select(conn, 1, 100, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK_STATUS(swamqp_wait_for_confirms(conn, 1, 100, &err), SWAMQP_ERR_BAD_STATE, &err);
    /* an _async request may refuse at once or complete with the status (as for channels) */
    tu_err_reset(&err);
    rc = swamqp_confirm_select_async(conn, 1, &rid, &err);
    expect_async_failure(conn, rc, rid, SWAMQP_ERR_BAD_STATE, &err, "confirm_select_async before open");
    CHECK_STATUS(swamqp_connection_update_secret(conn, x, x, 100, &err), SWAMQP_ERR_BAD_STATE, &err);
    tu_err_reset(&err);
    rc = swamqp_connection_update_secret_async(conn, x, x, &rid, &err);
    expect_async_failure(conn, rc, rid, SWAMQP_ERR_BAD_STATE, &err, "update_secret_async before open");
    CHECK_STATUS(swamqp_send_method(conn, 1, 20, 40, CLOSE_ARGS, &err), SWAMQP_ERR_BAD_STATE, &err);
    CHECK_STATUS(swamqp_channel_set_raw(conn, 1, true), SWAMQP_ERR_BAD_STATE, NULL);

    /* stats: required out-pointer; zeros before open */
    swamqp_stats stats;
    CHECK_STATUS(swamqp_connection_stats(conn, NULL), SWAMQP_ERR_INVALID_ARGUMENT, NULL);
    memset(&stats, 0x5a, sizeof stats);
    CHECK_OK(swamqp_connection_stats(conn, &stats), NULL);
    CHECK(stats.frames_in == 0 && stats.frames_out == 0 && stats.bytes_in == 0 && stats.bytes_out == 0 &&
              stats.publishes == 0 && stats.deliveries == 0 && stats.events_queued_bytes == 0,
          "stats of a never-opened connection are not zero");

    /* deliveries_pack: required out-pointers, NULL events or buffer with a count or capacity */
    size_t packed_events = 7, packed_bytes = 7;
    unsigned char pack_buffer[8];
    CHECK_OK(swamqp_deliveries_pack(NULL, 0, NULL, 0, &packed_events, &packed_bytes, &err), &err);
    CHECK(packed_events == 0 && packed_bytes == 0, "nothing to pack: %zu %zu", packed_events, packed_bytes);
    CHECK_STATUS(swamqp_deliveries_pack(NULL, 1, pack_buffer, 8, &packed_events, &packed_bytes, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    swamqp_event no_message;
    memset(&no_message, 0, sizeof no_message);
    no_message.type = SWAMQP_EVENT_DELIVERY;
    CHECK_STATUS(swamqp_deliveries_pack(&no_message, 1, NULL, 8, &packed_events, &packed_bytes, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_deliveries_pack(&no_message, 1, pack_buffer, 8, NULL, &packed_bytes, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_deliveries_pack(&no_message, (size_t)-1, pack_buffer, 8, &packed_events, &packed_bytes, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_OK(swamqp_deliveries_pack(&no_message, 1, pack_buffer, 8, &packed_events, &packed_bytes, &err), &err);
    CHECK(packed_events == 1 && packed_bytes == 0, "an event without a message: %zu %zu", packed_events, packed_bytes);

    /* server properties before open: the empty table (4 zero bytes); a short buffer is refused */
    unsigned char table_bytes[8];
    size_t table_len = 0;
    memset(table_bytes, 0x5a, sizeof table_bytes);
    CHECK_STATUS(swamqp_connection_server_properties(conn, table_bytes, 3, &table_len, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(table_len == 4 && table_bytes[0] == 0x5a, "a 3-byte buffer: *written %zu, written into", table_len);
    CHECK_OK(swamqp_connection_server_properties(conn, table_bytes, sizeof table_bytes, &table_len, &err), &err);
    CHECK(table_len == 4 && memcmp(table_bytes, "\0\0\0\0", 4) == 0, "the empty table before open");
    CHECK_STATUS(swamqp_connection_server_properties(conn, NULL, 8, &table_len, &err), SWAMQP_ERR_INVALID_ARGUMENT,
                 &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);

    /* Options: an unknown auth mechanism is refused at create. */
    swamqp_connection_options bad = *closed_port_options();
    bad.auth_mechanism = 4; /* past SWAMQP_AUTH_EXTERNAL */
    CHECK_STATUS(swamqp_connection_create(&bad, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    bad.auth_mechanism = -1;
    CHECK_STATUS(swamqp_connection_create(&bad, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    conn = (swamqp_connection *)0x1;
    CHECK_STATUS(swamqp_connect(&bad, &conn, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(conn == NULL, "swamqp_connect failed but *out is %p", (void *)conn);
    /* A socket_fd that is not a socket (a pipe): refused at create or at open, never a crash. */
    int pfd[2];
    CHECK(pipe(pfd) == 0, "pipe");
    bad = *closed_port_options();
    bad.socket_fd = pfd[0];
    tu_err_reset(&err);
    rc = swamqp_connection_create(&bad, &conn, &err);
    if (rc == SWAMQP_OK) {
        tu_err_reset(&err);
        rc = swamqp_connection_open(conn, &err);
        CHECK(rc != SWAMQP_OK, "a connection over a pipe opened");
        CHECK_OK(swamqp_connection_free(conn), NULL);
    } else {
        tu_check_status(__FILE__, __LINE__, "create with a pipe as socket_fd", rc, SWAMQP_ERR_INVALID_ARGUMENT, &err);
        CHECK(fcntl(pfd[0], F_GETFD) != -1, "a refused create closed the caller's socket_fd");
        close(pfd[0]);
    }
    fprintf(stderr, "socket_fd = a pipe: %s: %s\n", swamqp_status_string(rc), tu_err_text(&err));
    close(pfd[1]);
}
