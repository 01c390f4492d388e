/*
 * c_blocked: connection.blocked / unblocked during a real memory alarm.
 *
 * The test sets the broker's vm_memory_high_watermark to a tiny value (`scripts/broker ctl NAME
 * set_vm_memory_high_watermark 0.0000001`, NAME from SWIFTAMQP_BROKER_NAME, default swiftamqp-test)
 * and restores the original value on every exit path: explicitly at the end, and from a guardian
 * process forked first thing, which restores it when this process ends in any way (a failed CHECK
 * exits with _exit, a ctest timeout kills us).
 *
 * - the first publish during the alarm brings SWAMQP_EVENT_BLOCKED (with a reason);
 * - the next publish waits and fails at its timeout (SWAMQP_ERR_TIMEOUT after ~1 s), with timeout 0
 *   at once with SWAMQP_ERR_WOULD_BLOCK; failed publishes use no confirm sequence number;
 * - a publish made on another thread while blocked, with a long timeout, completes once the alarm
 *   clears; SWAMQP_EVENT_UNBLOCKED arrives; then every sent message is confirmed;
 * - a connection that only consumes is never blocked.
 */
#include "broker_ctl.h"
#include "event_util.h"

#include <fcntl.h>
#include <pthread.h>

#define T_MS 5000

static char restore_args[256]; /* e.g. "0.4" or "absolute 1073741824" */

static void restore_watermark(const char *who)
{
    fprintf(stderr, "%s: restoring vm_memory_high_watermark %s\n", who, restore_args);
    bc_ctl(NULL, 0, "set_vm_memory_high_watermark %s", restore_args);
}

/* Forks a process that waits for this one to end (EOF on a pipe) and then restores the watermark. */
static void start_guardian(void)
{
    int fds[2];
    /* CLOEXEC: the write end must stay open in this process only, not in rabbitmqctl children. */
    CHECK(pipe2(fds, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[1]);
        char c;
        for (;;) {
            ssize_t r = read(fds[0], &c, 1);
            if (r < 0 && errno == EINTR)
                continue;
            break; /* EOF: the test process is gone */
        }
        restore_watermark("c_blocked guardian");
        _exit(0);
    }
    close(fds[0]);
}

static void read_original_watermark(void)
{
    char out[512];
    CHECK(bc_ctl(out, sizeof out, "eval 'vm_memory_monitor:get_vm_memory_high_watermark().'") == 0,
          "cannot read the broker's vm_memory_high_watermark (is SWIFTAMQP_BROKER_NAME=%s right?)", bc_node());
    double fraction;
    unsigned long long absolute;
    if (sscanf(out, "{absolute,%llu}", &absolute) == 1)
        snprintf(restore_args, sizeof restore_args, "absolute %llu", absolute);
    else if (sscanf(out, "%lf", &fraction) == 1 && fraction > 0 && fraction < 1.5)
        snprintf(restore_args, sizeof restore_args, "%g", fraction);
    else
        FAILF("unexpected vm_memory_high_watermark: %s", out);
    fprintf(stderr, "original vm_memory_high_watermark: %s\n", restore_args);
}

static bool memory_alarm_active(void)
{
    char out[4096];
    return bc_ctl(out, sizeof out, "eval 'rabbit_alarm:get_alarms().'") == 0 && strstr(out, "memory") != NULL;
}

static void wait_alarm(bool active)
{
    int64_t deadline = tu_now_ms() + 20000;
    while (memory_alarm_active() != active) {
        CHECK(tu_now_ms() < deadline, "the memory alarm did not %s within 20 s", active ? "start" : "clear");
        tu_sleep_ms(250);
    }
}

typedef struct waiter {
    swamqp_connection *conn;
    uint16_t ch;
    swamqp_bytes queue;
    int rc;
    uint64_t seq;
    int64_t returned_at;
    swamqp_error err;
} waiter;

static void *publish_while_blocked(void *arg)
{
    waiter *w = arg;
    w->rc = swamqp_basic_publish(w->conn, w->ch, tu_b(""), w->queue, 0, NULL, tu_b("waited"), &w->seq, 60000, &w->err);
    w->returned_at = tu_now_ms();
    return NULL;
}

int main(void)
{
    swamqp_error err;
    (void)tu_amqp_url();
    read_original_watermark();
    start_guardian();

    swamqp_connection_options options;
    tu_options_from_env(&options);
    options.connection_name = "swiftamqp Tests/C c_blocked publisher";
    swamqp_connection *pub = tu_connect_with(&options);
    tu_options_from_env(&options);
    options.connection_name = "swiftamqp Tests/C c_blocked consumer";
    swamqp_connection *con = tu_connect_with(&options);

    char qbuf[256];
    uint16_t ch = tu_channel(pub);
    const swamqp_bytes q = tu_temp_queue(pub, ch, qbuf);
    CHECK_OK(swamqp_confirm_select(pub, ch, T_MS, &err), &err);
    uint16_t cch = tu_channel(con);
    char cq[256];
    const swamqp_bytes cqueue = tu_temp_queue(con, cch, cq);
    CHECK_OK(swamqp_basic_consume(con, cch, cqueue, tu_b(""), SWAMQP_NO_ACK, NULL, NULL, T_MS, &err), &err);

    /* The alarm. */
    CHECK(bc_ctl(NULL, 0, "set_vm_memory_high_watermark 0.0000001") == 0, "set_vm_memory_high_watermark failed");
    wait_alarm(true);

    /* The first publish goes out and brings connection.blocked. */
    uint64_t seq = 0;
    CHECK_OK(swamqp_basic_publish(pub, ch, tu_b(""), q, 0, NULL, tu_b("first"), &seq, T_MS, &err), &err);
    CHECK(seq == 1, "first sequence %" PRIu64, seq);
    const swamqp_event *e = ev_wait(pub, SWAMQP_EVENT_BLOCKED, EV_ANY_CHANNEL, 15000);
    CHECK(e->channel == 0, "BLOCKED on channel %u", e->channel);
    CHECK(e->name.len > 0, "BLOCKED without a reason");
    fprintf(stderr, "blocked: %s\n", tu_show(e->name));

    /* The next publish waits and fails at its timeout; with timeout 0 at once. */
    int64_t t0 = tu_now_ms();
    seq = 99;
    CHECK_STATUS(swamqp_basic_publish(pub, ch, tu_b(""), q, 0, NULL, tu_b("times out"), &seq, 1000, &err),
                 SWAMQP_ERR_TIMEOUT, &err);
    int64_t waited = tu_now_ms() - t0;
    CHECK(waited >= 900 && waited < 4000, "a blocked publish with timeout 1000 ms returned after %lld ms",
          (long long)waited);
    t0 = tu_now_ms();
    CHECK_STATUS(swamqp_basic_publish(pub, ch, tu_b(""), q, 0, NULL, tu_b("would block"), &seq, 0, &err),
                 SWAMQP_ERR_WOULD_BLOCK, &err);
    CHECK(tu_now_ms() - t0 < 500, "a blocked publish with timeout 0 took %lld ms", (long long)(tu_now_ms() - t0));

    /* A publish on another thread waits through the alarm. */
    waiter w;
    memset(&w, 0, sizeof w);
    w.conn = pub;
    w.ch = ch;
    w.queue = q;
    w.rc = 12345;
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, publish_while_blocked, &w) == 0, "pthread_create");
    tu_sleep_ms(1500);
    CHECK(w.returned_at == 0, "a publish with timeout 60 s returned during the alarm: %s", swamqp_status_string(w.rc));

    /* Clear the alarm: unblocked, the waiting publish goes out. */
    int64_t cleared = tu_now_ms();
    restore_watermark("c_blocked");
    wait_alarm(false);
    e = ev_wait(pub, SWAMQP_EVENT_UNBLOCKED, EV_ANY_CHANNEL, 15000);
    CHECK(e->channel == 0, "UNBLOCKED on channel %u", e->channel);
    pthread_join(thread, NULL);
    tu_check_status(__FILE__, __LINE__, "publish waiting through the alarm", w.rc, SWAMQP_OK, &w.err);
    CHECK(w.returned_at >= cleared, "the waiting publish returned before the alarm cleared");
    CHECK(w.seq == 2, "the publish after two failed ones got sequence %" PRIu64 ", expected 2 (failed publishes "
          "were never sent, so they take no sequence number)", w.seq);

    CHECK_OK(swamqp_wait_for_confirms(pub, ch, 15000, &err), &err);
    WAIT_QUEUE_COUNT(pub, ch, q, 2);
    swamqp_message *m = tu_get(pub, ch, q, SWAMQP_NO_ACK, 0);
    CHECK(m != NULL, "no message");
    CHECK_BYTES(m->body, "first");
    swamqp_message_free(m);
    m = tu_get(pub, ch, q, SWAMQP_NO_ACK, 0);
    CHECK(m != NULL, "no second message");
    CHECK_BYTES(m->body, "waited");
    swamqp_message_free(m);

    /* The consuming connection was never blocked. */
    for (;;) {
        e = ev_next(con, 0);
        if (e == NULL)
            break;
        CHECK(e->type != SWAMQP_EVENT_BLOCKED && e->type != SWAMQP_EVENT_UNBLOCKED,
              "a connection that only consumes got %s", ev_type_name(e->type));
    }
    /* and it still works */
    tu_publish(con, cch, "", cqueue, "after");
    e = ev_wait(con, SWAMQP_EVENT_DELIVERY, cch, T_MS);
    CHECK_BYTES(e->message->body, "after");

    CHECK_OK(swamqp_connection_close(pub, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(con, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(pub), NULL);
    CHECK_OK(swamqp_connection_free(con), NULL);
    printf("c_blocked: OK\n");
    return 0;
}
