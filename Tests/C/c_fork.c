/*
 * c_fork: a connection used in the child of fork() answers SWAMQP_ERR_FORKED; the parent's
 * connection keeps working.
 *
 * The parent connects, opens a channel, declares a queue and forks. The child calls every function
 * of the header that takes the parent's handle: each returns SWAMQP_ERR_FORKED (error filled, origin
 * LIBRARY), swamqp_connection_is_open is false and swamqp_connection_event_fd is -1; freeing or
 * closing the handle there is refused too, so the parent's socket is untouched. Handle-free functions
 * still work in the child. An alarm turns a hang in the child into a failure. The parent then
 * publishes, gets the message back and closes cleanly.
 */
#include "event_util.h"

#include <signal.h>
#include <sys/wait.h>

#define T_MS 5000

/* Well-formed method arguments for the raw-send calls, so that only the handle/state is wrong:
 * channel.close / connection.close (reply 200, "", 0, 0) and basic.publish (exchange "", key ""). */
static const uint8_t close_args_bytes[] = {0x00, 0xc8, 0x00, 0x00, 0x00, 0x00, 0x00};
static const uint8_t publish_args_bytes[] = {0x00, 0x00, 0x00, 0x00, 0x00};
#define CLOSE_ARGS tu_bn(close_args_bytes, sizeof close_args_bytes)
#define PUBLISH_ARGS tu_bn(publish_args_bytes, sizeof publish_args_bytes)

#define CHECK_FORKED(call)                                                                                \
    do {                                                                                                  \
        CHECK_STATUS(call, SWAMQP_ERR_FORKED, &err);                                                      \
        CHECK(err.origin == SWAMQP_ORIGIN_LIBRARY, "%s: origin %d", #call, (int)err.origin);              \
        CHECK(err.message[0] != '\0', "%s: empty error message", #call);                                  \
    } while (0)

static void child(swamqp_connection *h, uint16_t ch, swamqp_bytes q)
{
    swamqp_error err;
    uint64_t rid = 0, seq = 0;
    uint16_t c = 0, cm = 0, hb = 0;
    uint32_t fm = 0, count = 0;
    swamqp_event ev[4];
    size_t n = 0;
    swamqp_queue_declare_ok ok;
    swamqp_name tag;
    swamqp_stats stats;
    swamqp_message *msg = (swamqp_message *)0x1;
    const swamqp_bytes x = tu_b("x");
    alarm(20);

    /* functions without a handle still work */
    CHECK(strcmp(swamqp_version(), SWAMQP_VERSION_STRING) == 0, "swamqp_version in the child");
    CHECK(strcmp(swamqp_status_string(SWAMQP_ERR_FORKED), "SWAMQP_ERR_FORKED") == 0, "status string in the child");
    swamqp_connection_options o;
    swamqp_connection_options_init(&o);
    CHECK_OK(swamqp_parse_url("amqp://u:p@h:1/v", &o, &err), &err);

    CHECK(!swamqp_connection_is_open(h), "is_open is true in the child");
    CHECK(swamqp_connection_event_fd(h) == -1, "event_fd in the child is %d, expected -1", swamqp_connection_event_fd(h));
    CHECK_FORKED(swamqp_connection_open(h, &err));
    CHECK_FORKED(swamqp_connection_open_async(h, &rid, &err));
    CHECK_STATUS(swamqp_connection_tune(h, &cm, &fm, &hb), SWAMQP_ERR_FORKED, NULL);
    CHECK_STATUS(swamqp_next_events(h, ev, 4, &n, 0), SWAMQP_ERR_FORKED, NULL);
    CHECK_STATUS(swamqp_events_release(h), SWAMQP_ERR_FORKED, NULL);
    CHECK_STATUS(swamqp_set_event_callback(h, NULL, NULL), SWAMQP_ERR_FORKED, NULL);
    CHECK_STATUS(swamqp_dispatch_events(h, 0, &n), SWAMQP_ERR_FORKED, NULL);
    CHECK_STATUS(swamqp_connection_stats(h, &stats), SWAMQP_ERR_FORKED, NULL);
    CHECK_FORKED(swamqp_channel_open(h, &c, T_MS, &err));
    CHECK_FORKED(swamqp_channel_open_async(h, &c, &rid, &err));
    CHECK_FORKED(swamqp_channel_close(h, ch, T_MS, &err));
    CHECK_FORKED(swamqp_channel_close_async(h, ch, &rid, &err));
    CHECK_FORKED(swamqp_exchange_declare(h, ch, x, tu_b("direct"), 0, NULL, T_MS, &err));
    CHECK_FORKED(swamqp_exchange_declare_async(h, ch, x, tu_b("direct"), 0, NULL, &rid, &err));
    CHECK_FORKED(swamqp_exchange_delete(h, ch, x, 0, T_MS, &err));
    CHECK_FORKED(swamqp_exchange_delete_async(h, ch, x, 0, &rid, &err));
    CHECK_FORKED(swamqp_exchange_bind(h, ch, x, x, x, 0, NULL, T_MS, &err));
    CHECK_FORKED(swamqp_exchange_bind_async(h, ch, x, x, x, 0, NULL, &rid, &err));
    CHECK_FORKED(swamqp_exchange_unbind(h, ch, x, x, x, 0, NULL, T_MS, &err));
    CHECK_FORKED(swamqp_exchange_unbind_async(h, ch, x, x, x, 0, NULL, &rid, &err));
    CHECK_FORKED(swamqp_queue_declare(h, ch, q, SWAMQP_PASSIVE, NULL, &ok, T_MS, &err));
    CHECK_FORKED(swamqp_queue_declare_async(h, ch, q, SWAMQP_PASSIVE, NULL, &rid, &err));
    CHECK_FORKED(swamqp_queue_bind(h, ch, q, tu_b("amq.direct"), x, 0, NULL, T_MS, &err));
    CHECK_FORKED(swamqp_queue_bind_async(h, ch, q, tu_b("amq.direct"), x, 0, NULL, &rid, &err));
    CHECK_FORKED(swamqp_queue_unbind(h, ch, q, tu_b("amq.direct"), x, NULL, T_MS, &err));
    CHECK_FORKED(swamqp_queue_unbind_async(h, ch, q, tu_b("amq.direct"), x, NULL, &rid, &err));
    CHECK_FORKED(swamqp_queue_purge(h, ch, q, 0, &count, T_MS, &err));
    CHECK_FORKED(swamqp_queue_purge_async(h, ch, q, 0, &rid, &err));
    CHECK_FORKED(swamqp_queue_delete(h, ch, q, 0, &count, T_MS, &err));
    CHECK_FORKED(swamqp_queue_delete_async(h, ch, q, 0, &rid, &err));
    CHECK_FORKED(swamqp_basic_publish(h, ch, tu_b(""), q, 0, NULL, tu_b("from the child"), &seq, T_MS, &err));
    CHECK_FORKED(swamqp_basic_get(h, ch, q, 0, &msg, T_MS, &err));
    CHECK(msg == NULL, "basic_get failed in the child but *message is %p", (void *)msg);
    CHECK_FORKED(swamqp_basic_get_async(h, ch, q, 0, &rid, &err));
    CHECK_FORKED(swamqp_basic_ack(h, ch, 1, 0, &err));
    CHECK_FORKED(swamqp_basic_nack(h, ch, 1, 0, &err));
    CHECK_FORKED(swamqp_basic_reject(h, ch, 1, 0, &err));
    CHECK_FORKED(swamqp_basic_recover(h, ch, SWAMQP_REQUEUE, T_MS, &err));
    CHECK_FORKED(swamqp_basic_recover_async(h, ch, SWAMQP_REQUEUE, &rid, &err));
    CHECK_FORKED(swamqp_basic_qos(h, ch, 0, 1, 0, T_MS, &err));
    CHECK_FORKED(swamqp_basic_qos_async(h, ch, 0, 1, 0, &rid, &err));
    CHECK_FORKED(swamqp_basic_consume(h, ch, q, x, 0, NULL, &tag, T_MS, &err));
    CHECK_FORKED(swamqp_basic_consume_async(h, ch, q, x, 0, NULL, &rid, &err));
    CHECK_FORKED(swamqp_basic_cancel(h, ch, x, 0, T_MS, &err));
    CHECK_FORKED(swamqp_basic_cancel_async(h, ch, x, 0, &rid, &err));
    CHECK_FORKED(swamqp_tx_select(h, ch, T_MS, &err));
    CHECK_FORKED(swamqp_tx_select_async(h, ch, &rid, &err));
    CHECK_FORKED(swamqp_tx_commit(h, ch, T_MS, &err));
    CHECK_FORKED(swamqp_tx_commit_async(h, ch, &rid, &err));
    CHECK_FORKED(swamqp_tx_rollback(h, ch, T_MS, &err));
    CHECK_FORKED(swamqp_tx_rollback_async(h, ch, &rid, &err));
    CHECK_FORKED(swamqp_confirm_select(h, ch, T_MS, &err));
    CHECK_FORKED(swamqp_confirm_select_async(h, ch, &rid, &err));
    CHECK_FORKED(swamqp_wait_for_confirms(h, ch, T_MS, &err));
    CHECK_FORKED(swamqp_wait_for_confirms_async(h, ch, &rid, &err));
    CHECK_FORKED(swamqp_connection_update_secret(h, tu_b("guest"), tu_b("child"), T_MS, &err));
    CHECK_STATUS(swamqp_channel_set_raw(h, ch, true), SWAMQP_ERR_FORKED, NULL);
    CHECK_FORKED(swamqp_send_method(h, ch, 20, 40, CLOSE_ARGS, &err));
    CHECK_FORKED(swamqp_send_content(h, ch, 60, 40, PUBLISH_ARGS, NULL, tu_b("b"), &err));
    /* with error == NULL */
    CHECK_STATUS(swamqp_basic_publish(h, ch, tu_b(""), q, 0, NULL, tu_b("b"), NULL, T_MS, NULL), SWAMQP_ERR_FORKED,
                 NULL);
    /* closing or freeing the parent's connection from the child is refused too ... */
    CHECK_FORKED(swamqp_connection_close(h, T_MS, &err));
    CHECK_FORKED(swamqp_connection_close_async(h, &rid, &err));
    CHECK_STATUS(swamqp_connection_free(h), SWAMQP_ERR_FORKED, NULL);
    /* ... and leaves the handle as it was: "every call on it returns SWAMQP_ERR_FORKED there" */
    CHECK_FORKED(swamqp_channel_open(h, &c, T_MS, &err));
    CHECK_STATUS(swamqp_connection_free(h), SWAMQP_ERR_FORKED, NULL);
    fflush(NULL);
    _exit(0);
}

int main(void)
{
    swamqp_error err;
    swamqp_connection *conn = tu_connect();
    char qbuf[256];
    uint16_t ch = tu_channel(conn);
    const swamqp_bytes q = tu_temp_queue(conn, ch, qbuf);
    tu_publish(conn, ch, "", q, "before fork");

    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        child(conn, ch, q);

    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(!WIFSIGNALED(status), "the child died of signal %d%s", WTERMSIG(status),
          WTERMSIG(status) == SIGALRM ? " (SIGALRM: a call on the forked handle hung)" : "");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (exit %d)", WEXITSTATUS(status));

    /* The parent's connection is untouched. */
    CHECK(swamqp_connection_is_open(conn), "the parent's connection closed after the child ran");
    tu_publish(conn, ch, "", q, "after fork");
    WAIT_QUEUE_COUNT(conn, ch, q, 2);
    swamqp_message *m = tu_get(conn, ch, q, SWAMQP_NO_ACK, 0);
    CHECK(m != NULL, "no message");
    CHECK_BYTES(m->body, "before fork");
    swamqp_message_free(m);
    m = tu_get(conn, ch, q, SWAMQP_NO_ACK, 0);
    CHECK(m != NULL, "no second message");
    CHECK_BYTES(m->body, "after fork");
    swamqp_message_free(m);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    printf("c_fork: OK\n");
    return 0;
}
