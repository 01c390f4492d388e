/*
 * c_bad_arguments: every function of swiftamqp.h with NULL, made-up, freed or out-of-range
 * arguments. Each call must return its documented status and never crash. The ctest
 * c_bad_arguments_covers_header fails when a function declared in the header is not named here.
 *
 * Needs AMQP_URL only for the part that needs a live connection (open channels, shortstr limits,
 * channel numbers never opened, calls after close/free).
 */
#include "test_util.h"

#include <fcntl.h>
#include <limits.h>

#define T_MS 5000

/* Well-formed method arguments for the raw-send calls, so that only the handle/state is wrong:
 * channel.close / connection.close (reply 200, "", 0, 0) and basic.publish (exchange "", key ""). */
static const uint8_t close_args_bytes[] = {0x00, 0xc8, 0x00, 0x00, 0x00, 0x00, 0x00};
static const uint8_t publish_args_bytes[] = {0x00, 0x00, 0x00, 0x00, 0x00};
#define CLOSE_ARGS tu_bn(close_args_bytes, sizeof close_args_bytes)
#define PUBLISH_ARGS tu_bn(publish_args_bytes, sizeof publish_args_bytes)

static const swamqp_connection_options *closed_port_options(void)
{
    /* Port 1 on 127.0.0.1: nothing listens; used where a call must fail before connecting. */
    static swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    options.host = "127.0.0.1";
    options.port = 1;
    options.connect_timeout_ms = 2000;
    return &options;
}

static void never_called(swamqp_connection *c, const swamqp_event *e, void *u)
{
    (void)c, (void)e, (void)u;
    FAILF("an event callback ran although it was never dispatched");
}

/* ---- status strings and version ---------------------------------------------------------- */

static void test_status_strings_and_version(void)
{
#define KNOWN(s) {s, #s}
    static const struct {
        int status;
        const char *name;
    } known[] = {
        KNOWN(SWAMQP_OK),
        KNOWN(SWAMQP_ERR_INVALID_ARGUMENT),
        KNOWN(SWAMQP_ERR_INVALID_HANDLE),
        KNOWN(SWAMQP_ERR_NO_MEMORY),
        KNOWN(SWAMQP_ERR_IN_CALLBACK),
        KNOWN(SWAMQP_ERR_FORKED),
        KNOWN(SWAMQP_ERR_BAD_STATE),
        KNOWN(SWAMQP_ERR_CHANNEL_LIMIT),
        KNOWN(SWAMQP_ERR_NOT_CONFIRM_MODE),
        KNOWN(SWAMQP_ERR_STALE_DELIVERY_TAG),
        KNOWN(SWAMQP_ERR_TIMEOUT),
        KNOWN(SWAMQP_ERR_WOULD_BLOCK),
        KNOWN(SWAMQP_ERR_RESOLVE),
        KNOWN(SWAMQP_ERR_CONNECT),
        KNOWN(SWAMQP_ERR_IO),
        KNOWN(SWAMQP_ERR_CONNECTION_LOST),
        KNOWN(SWAMQP_ERR_HEARTBEAT_TIMEOUT),
        KNOWN(SWAMQP_ERR_TLS),
        KNOWN(SWAMQP_ERR_RECOVERING),
        KNOWN(SWAMQP_ERR_PROTOCOL),
        KNOWN(SWAMQP_ERR_FRAME_TOO_LARGE),
        KNOWN(SWAMQP_ERR_MESSAGE_TOO_LARGE),
        KNOWN(SWAMQP_ERR_UNEXPECTED_FRAME),
        KNOWN(SWAMQP_ERR_AUTH),
        KNOWN(SWAMQP_ERR_NACKED),
        KNOWN(SWAMQP_ERR_CHANNEL_CLOSED),
        KNOWN(SWAMQP_ERR_CONNECTION_CLOSED),
        KNOWN(SWAMQP_ERR_CLOSED_BY_APPLICATION),
    };
#undef KNOWN
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *s = swamqp_status_string(known[i].status);
        CHECK(s != NULL, "swamqp_status_string(%d) is NULL", known[i].status);
        CHECK(strcmp(s, known[i].name) == 0, "swamqp_status_string(%d) is \"%s\", expected \"%s\"",
              known[i].status, s, known[i].name);
    }
    static const int unknown[] = {1, 2, -1, -99, -150, -199, -202, -299, -350, -399, -450, -499, -503,
                                  -1000, 100, 12345, INT_MAX, INT_MIN, INT_MIN + 1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = swamqp_status_string(unknown[i]);
        CHECK(s != NULL, "swamqp_status_string(%d) (unknown status) is NULL", unknown[i]);
        CHECK(s[0] != '\0', "swamqp_status_string(%d) (unknown status) is empty", unknown[i]);
    }

    const char *v = swamqp_version();
    CHECK(v != NULL, "swamqp_version() is NULL");
    CHECK(strcmp(v, SWAMQP_VERSION_STRING) == 0, "swamqp_version() \"%s\" != SWAMQP_VERSION_STRING \"%s\"", v,
          SWAMQP_VERSION_STRING);
    CHECK(swamqp_version_number() == SWAMQP_VERSION_NUMBER, "swamqp_version_number() %" PRIu32 " != %d",
          swamqp_version_number(), SWAMQP_VERSION_NUMBER);
    CHECK(swamqp_version() == v, "swamqp_version() is not a static string");

    /* the header's C string helper: NULL is the empty string, the NUL is not counted */
    const swamqp_bytes none = swamqp_cstr(NULL), text = swamqp_cstr("queue");
    CHECK(none.bytes == NULL && none.len == 0, "swamqp_cstr(NULL) is {%p, %zu}", none.bytes, none.len);
    CHECK(text.len == 5 && memcmp(text.bytes, "queue", 5) == 0, "swamqp_cstr(\"queue\") has length %zu", text.len);
}

/* ---- invalid handles --------------------------------------------------------------------- */

#define CHECK_HANDLE(call)                                                                        \
    do {                                                                                          \
        CHECK_STATUS(call, SWAMQP_ERR_INVALID_HANDLE, &err);                                      \
        CHECK(err.origin == SWAMQP_ORIGIN_LIBRARY, "%s: error.origin %d", #call, (int)err.origin); \
    } while (0)

/** Every function that takes a connection, with handle `h` that is not a live handle. */
static void check_invalid_handle(swamqp_connection *h, const char *label, bool is_null)
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

static void test_invalid_handles(void)
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

static void expect_async_failure(swamqp_connection *conn, int rc, uint64_t rid, int expected,
                                 const swamqp_error *err, const char *what);

/* ---- NULL and invalid arguments without a broker ------------------------------------------ */

static void test_arguments_offline(void)
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

/* ---- with a live connection -------------------------------------------------------------- */

/**
 * An _async request that must fail with `expected` (or, for expected == SWAMQP_OK, succeed): either
 * at once (rc == expected, error filled) or with rc == SWAMQP_OK and a completion carrying it.
 */
static void expect_async_failure(swamqp_connection *conn, int rc, uint64_t rid, int expected,
                                 const swamqp_error *err, const char *what)
{
    if (rc != SWAMQP_OK || expected == SWAMQP_OK) {
        tu_check_status(__FILE__, __LINE__, what, rc, expected, err);
        if (rc != SWAMQP_OK)
            return;
    }
    swamqp_event events[8];
    int64_t deadline = tu_now_ms() + 10000;
    for (;;) {
        CHECK(tu_now_ms() < deadline, "%s: returned OK (request %" PRIu64 ") but no completion came within 10 s",
              what, rid);
        size_t n = 0;
        CHECK_OK(swamqp_next_events(conn, events, 8, &n, 200), NULL);
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            CHECK(e->type != SWAMQP_EVENT_CONNECTION_CLOSED, "%s: the connection closed: %s", what,
                  e->error ? tu_err_text(e->error) : "(no error)");
            if (e->type != SWAMQP_EVENT_COMPLETION || e->request_id != rid)
                continue;
            tu_check_status(__FILE__, __LINE__, what, e->status, expected, e->error);
            if (expected != SWAMQP_OK)
                CHECK(e->error != NULL, "%s: failed completion without error", what);
            return;
        }
    }
}


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

static void test_arguments_live(void)
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

/* The codec functions take no connection: NULL outputs, short buffers, hostile lengths. */
static void test_codec_arguments(void)
{
    swamqp_error err;
    uint8_t buffer[256];
    size_t written = 99;
    swamqp_field_value fields[3];
    memset(fields, 0, sizeof fields);
    fields[0].kind = SWAMQP_FIELD_U16; /* queue.purge: ticket, queue, nowait */
    fields[1].kind = SWAMQP_FIELD_STRING;
    fields[1].value.bytes = tu_b("q");
    fields[2].kind = SWAMQP_FIELD_BOOL;
    CHECK_OK(swamqp_method_encode(50, 30, fields, 3, buffer, sizeof buffer, &written, &err), &err);
    CHECK(written == 5, "queue.purge arguments took %zu bytes, expected 5", written);
    CHECK_STATUS(swamqp_method_encode(50, 30, fields, 3, buffer, 4, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(written == 5, "a too-small buffer must still report the size needed, got %zu", written);
    CHECK_STATUS(swamqp_method_encode(50, 30, fields, 3, NULL, 0, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_encode(50, 30, NULL, 3, buffer, sizeof buffer, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_encode(50, 30, fields, SIZE_MAX, buffer, sizeof buffer, &written, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_encode(50, 30, fields, 2, buffer, sizeof buffer, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_encode(50, 30, fields, 3, buffer, (size_t)-1, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    const swamqp_array *decoded = NULL;
    CHECK_STATUS(swamqp_method_decode(50, 30, buffer, 5, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_decode(50, 30, NULL, 5, &decoded, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_decode(50, 30, buffer, SIZE_MAX, &decoded, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_OK(swamqp_method_decode(50, 30, buffer, 5, &decoded, &err), &err);
    CHECK(decoded != NULL && decoded->count == 3 && decoded->values[1].kind == SWAMQP_FIELD_STRING &&
              tu_bytes_eq(decoded->values[1].value.bytes, "q"),
          "queue.purge decoded wrongly");
    CHECK_OK(swamqp_decoded_free(decoded), NULL);
    CHECK_STATUS(swamqp_decoded_free(decoded), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_OK(swamqp_decoded_free(NULL), NULL);

    CHECK_OK(swamqp_table_encode(NULL, buffer, sizeof buffer, &written, &err), &err);
    CHECK(written == 4, "the empty table took %zu bytes", written);
    const swamqp_table *table = NULL;
    CHECK_STATUS(swamqp_table_decode(buffer, 4, NULL, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_OK(swamqp_table_decode(buffer, 4, NULL, &table, &err), &err);
    CHECK(table->count == 0, "the empty table decoded with %zu entries", table->count);
    CHECK_OK(swamqp_decoded_free(table), NULL);
    swamqp_table huge = {(size_t)1 << 63, NULL};
    CHECK_STATUS(swamqp_table_encode(&huge, buffer, sizeof buffer, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);

    CHECK_OK(swamqp_properties_encode(NULL, buffer, sizeof buffer, &written, &err), &err);
    CHECK(written == 2, "no properties took %zu bytes", written);
    const swamqp_properties *props = NULL;
    CHECK_STATUS(swamqp_properties_decode(buffer, 2, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_OK(swamqp_properties_decode(buffer, 2, &props, &err), &err);
    CHECK(props->flags == 0, "flags 0x%x", props->flags);
    CHECK_OK(swamqp_decoded_free(props), NULL);
    CHECK_STATUS(swamqp_properties_decode(buffer, 1, &props, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
}

int main(void)
{
    (void)tu_amqp_url(); /* FAIL at once without a broker */
    test_status_strings_and_version();
    test_codec_arguments();
    test_invalid_handles();
    test_arguments_offline();
    test_arguments_live();
    printf("c_bad_arguments: OK\n");
    return 0;
}
