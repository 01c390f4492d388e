/*
 * c_bad_arguments: every function of swiftamqp.h with NULL, made-up, freed or out-of-range
 * arguments. Each call must return its documented status and never crash.
 *
 * Needs AMQP_URL only for the part that needs a live connection (open channels, shortstr limits,
 * channel numbers never opened, calls after close/free).
 */
#include "test_util.h"

#include <fcntl.h>
#include <limits.h>

#define T_MS 5000

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
        KNOWN(SWAMQP_ERR_TIMEOUT),
        KNOWN(SWAMQP_ERR_WOULD_BLOCK),
        KNOWN(SWAMQP_ERR_RESOLVE),
        KNOWN(SWAMQP_ERR_CONNECT),
        KNOWN(SWAMQP_ERR_IO),
        KNOWN(SWAMQP_ERR_CONNECTION_LOST),
        KNOWN(SWAMQP_ERR_HEARTBEAT_TIMEOUT),
        KNOWN(SWAMQP_ERR_TLS),
        KNOWN(SWAMQP_ERR_PROTOCOL),
        KNOWN(SWAMQP_ERR_FRAME_TOO_LARGE),
        KNOWN(SWAMQP_ERR_MESSAGE_TOO_LARGE),
        KNOWN(SWAMQP_ERR_UNEXPECTED_FRAME),
        KNOWN(SWAMQP_ERR_AUTH),
        KNOWN(SWAMQP_ERR_CHANNEL_CLOSED),
        KNOWN(SWAMQP_ERR_CONNECTION_CLOSED),
    };
#undef KNOWN
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *s = swamqp_status_string(known[i].status);
        CHECK(s != NULL, "swamqp_status_string(%d) is NULL", known[i].status);
        CHECK(strcmp(s, known[i].name) == 0, "swamqp_status_string(%d) is \"%s\", expected \"%s\"",
              known[i].status, s, known[i].name);
    }
    static const int unknown[] = {1, 2, -1, -99, -107, -199, -202, -299, -306, -399, -405, -499, -502,
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
    CHECK_OK(swamqp_connection_free(conn), NULL);
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
    entry.key = tu_bn(long_name, 129); /* keys are at most 128 bytes */
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
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);

    /* After free: the handle is invalid and the event fd is closed. */
    CHECK_OK(swamqp_connection_free(conn), NULL);
    check_invalid_handle(conn, "freed live connection", false);
    errno = 0;
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "event fd %d still open after free", fd);
}

int main(void)
{
    (void)tu_amqp_url(); /* FAIL at once without a broker */
    test_status_strings_and_version();
    test_invalid_handles();
    test_arguments_offline();
    test_arguments_live();
    printf("c_bad_arguments: OK\n");
    return 0;
}
