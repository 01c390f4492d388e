/*
 * What the files of the c_bad_arguments test share; they build one program (main is in
 * c_bad_arguments.c). Header-only, like test_util.h: the timeout, well-formed raw-send arguments,
 * the helpers more than one file calls, and the test functions main runs from the other files.
 */
#ifndef SWIFTAMQP_C_BAD_ARGUMENTS_H
#define SWIFTAMQP_C_BAD_ARGUMENTS_H

#include "test_util.h"

#define T_MS 5000

/* Well-formed method arguments for the raw-send calls, so that only the handle/state is wrong:
 * channel.close / connection.close (reply 200, "", 0, 0) and basic.publish (exchange "", key ""). */
static TU_UNUSED const uint8_t close_args_bytes[] = {0x00, 0xc8, 0x00, 0x00, 0x00, 0x00, 0x00};
static TU_UNUSED const uint8_t publish_args_bytes[] = {0x00, 0x00, 0x00, 0x00, 0x00};
#define CLOSE_ARGS tu_bn(close_args_bytes, sizeof close_args_bytes)
#define PUBLISH_ARGS tu_bn(publish_args_bytes, sizeof publish_args_bytes)

static TU_UNUSED const swamqp_connection_options *closed_port_options(void)
{
    /* Port 1 on 127.0.0.1: nothing listens; used where a call must fail before connecting. */
    static swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    options.host = "127.0.0.1";
    options.port = 1;
    options.connect_timeout_ms = 2000;
    return &options;
}

static TU_UNUSED void never_called(swamqp_connection *c, const swamqp_event *e, void *u)
{
    (void)c, (void)e, (void)u;
    FAILF("an event callback ran although it was never dispatched");
}

/**
 * An _async request that must fail with `expected` (or, for expected == SWAMQP_OK, succeed): either
 * at once (rc == expected, error filled) or with rc == SWAMQP_OK and a completion carrying it.
 */
static TU_UNUSED void expect_async_failure(swamqp_connection *conn, int rc, uint64_t rid, int expected,
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

/** Every function that takes a connection, with handle `h` that is not a live handle
 * (c_bad_arguments_handles.c; c_bad_arguments_live.c also runs it on a freed live connection). */
void check_invalid_handle(swamqp_connection *h, const char *label, bool is_null);

/* The parts main runs after the calls that take no connection. */
void test_invalid_handles(void);   /* c_bad_arguments_handles.c */
void test_arguments_offline(void); /* c_bad_arguments_offline.c */
void test_arguments_live(void);    /* c_bad_arguments_live.c */

#endif /* SWIFTAMQP_C_BAD_ARGUMENTS_H */
