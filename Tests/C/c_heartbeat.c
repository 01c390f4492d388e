/*
 * c_heartbeat: heartbeats do not depend on the caller.
 *
 * Connects with heartbeat = 1 s, opens a channel, then sleeps 4 s without calling the library.
 * RabbitMQ drops a connection that sends nothing for about two heartbeat intervals, so the
 * connection survives only if the library's I/O thread sent heartbeats on its own (and it must not
 * itself give up on the broker's heartbeats). Afterwards a queue.declare succeeds, no
 * CONNECTION_CLOSED event is queued, and swamqp_connection_tune reports heartbeat 1.
 */
#include "test_util.h"

#define T_MS 5000

int main(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    tu_options_from_env(&options);
    options.heartbeat = 1;
    options.connection_name = "swiftamqp Tests/C c_heartbeat";

    swamqp_connection *conn = tu_connect_with(&options);

    uint16_t channel_max = 0, heartbeat = 0;
    uint32_t frame_max = 0;
    CHECK_OK(swamqp_connection_tune(conn, &channel_max, &frame_max, &heartbeat), NULL);
    CHECK(heartbeat == 1, "negotiated heartbeat %u, expected 1 (we proposed 1, RabbitMQ proposes 60)", heartbeat);
    CHECK(frame_max >= 4096 && channel_max >= 1, "tune: channel_max %u, frame_max %" PRIu32, channel_max, frame_max);

    uint16_t ch = 0;
    CHECK_OK(swamqp_channel_open(conn, &ch, T_MS, &err), &err);

    /* 4 s of silence from the application: four heartbeat intervals. */
    tu_sleep_ms(4000);

    CHECK(swamqp_connection_is_open(conn), "the connection closed while the application slept");
    swamqp_queue_declare_ok ok;
    memset(&ok, 0, sizeof ok);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(""), SWAMQP_EXCLUSIVE, NULL, &ok, T_MS, &err), &err);
    CHECK(ok.name_len > 0, "server-named queue has an empty name");

    /* Whatever was queued meanwhile, it is not the end of the connection. */
    swamqp_event events[16];
    size_t n = 0;
    do {
        CHECK_OK(swamqp_next_events(conn, events, 16, &n, 0), NULL);
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &events[i];
            CHECK(e->type != SWAMQP_EVENT_CONNECTION_CLOSED && e->type != SWAMQP_EVENT_CHANNEL_CLOSED,
                  "a %s event was queued during the sleep: %s",
                  e->type == SWAMQP_EVENT_CONNECTION_CLOSED ? "CONNECTION_CLOSED" : "CHANNEL_CLOSED",
                  e->error ? tu_err_text(e->error) : "(no error)");
        }
    } while (n == 16);

    /* Once more, past a further two intervals, to show it was not a lucky moment. */
    tu_sleep_ms(2500);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(ok.name), SWAMQP_PASSIVE, NULL, NULL, T_MS, &err), &err);

    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    printf("c_heartbeat: OK\n");
    return 0;
}
