/*
 * c_fault_alarm: a memory alarm while publishing, on a connection with automatic recovery and
 * heartbeat 1 s: blocked is not lost.
 *
 * The broker's vm_memory_high_watermark is set to a tiny value (`scripts/broker ctl NAME ...`, NAME
 * from SWIFTAMQP_BROKER_NAME, default swiftamqp-test) and restored on every exit path: at the end,
 * and by a guardian process (in its own session, so a ctest timeout that kills this process group
 * does not kill it) that restores it when this process ends in any way.
 * - the first publish brings SWAMQP_EVENT_BLOCKED; a publish with a 1 s timeout fails with
 *   SWAMQP_ERR_TIMEOUT; a publish on another thread with a 60 s timeout waits;
 * - blocked for 6 s (6 heartbeat intervals): no RECOVERY_STARTED, no close: the broker stops reading
 *   a blocked connection, but the client keeps receiving its heartbeats;
 * - the alarm clears: SWAMQP_EVENT_UNBLOCKED, the waiting publish goes out, both are confirmed, and
 *   at no point did a recovery start.
 */
#include "broker_ctl.h"
#include "fault_util.h"

#include <fcntl.h>
#include <pthread.h>

#define T_MS 5000

static char watermark[256]; /* the original: "0.4" or "absolute 1073741824" */

static void restore_watermark(const char *who)
{
    fprintf(stderr, "%s: restoring vm_memory_high_watermark %s\n", who, watermark);
    bc_ctl(NULL, 0, "set_vm_memory_high_watermark %s", watermark);
}

static void read_watermark(void)
{
    char out[512];
    CHECK(bc_ctl(out, sizeof out, "eval 'vm_memory_monitor:get_vm_memory_high_watermark().'") == 0,
          "cannot read the broker's vm_memory_high_watermark (is SWIFTAMQP_BROKER_NAME=%s right?)", bc_node());
    double fraction;
    unsigned long long absolute;
    if (sscanf(out, "{absolute,%llu}", &absolute) == 1)
        snprintf(watermark, sizeof watermark, "absolute %llu", absolute);
    else if (sscanf(out, "%lf", &fraction) == 1 && fraction > 0.001 && fraction < 1.5)
        snprintf(watermark, sizeof watermark, "%g", fraction);
    else
        FAILF("unexpected vm_memory_high_watermark: %s (left over from an interrupted test?)", out);
}

/* A child in its own session waits for EOF on a pipe (this process ended) and restores the watermark. */
static void start_guardian(void)
{
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[1]);
        setsid();
        char c;
        for (;;) {
            ssize_t r = read(fds[0], &c, 1);
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        restore_watermark("c_fault_alarm guardian");
        _exit(0);
    }
    close(fds[0]);
}

static bool alarm_active(void)
{
    char out[4096];
    return bc_ctl(out, sizeof out, "eval 'rabbit_alarm:get_alarms().'") == 0 && strstr(out, "memory") != NULL;
}

static void wait_alarm(bool active)
{
    int64_t deadline = tu_now_ms() + 20000;
    while (alarm_active() != active) {
        CHECK(tu_now_ms() < deadline, "the memory alarm did not %s within 20 s", active ? "start" : "clear");
        tu_sleep_ms(250);
    }
}

typedef struct call {
    swamqp_connection *conn;
    uint16_t ch;
    const char *queue;
    int rc;
    uint64_t seq;
    int64_t returned_at;
    swamqp_error err;
} call;

static void *publish_thread(void *arg)
{
    call *c = arg;
    c->rc = fu_publish(c->conn, c->ch, "", c->queue, "waited through the alarm", &c->seq, 60000, &c->err);
    __atomic_store_n(&c->returned_at, tu_now_ms(), __ATOMIC_RELEASE);
    return NULL;
}

int main(void)
{
    swamqp_error err;
    (void)tu_amqp_url();
    read_watermark();
    fprintf(stderr, "original vm_memory_high_watermark: %s\n", watermark);
    start_guardian();

    char cname[200];
    tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_alarm", "conn");
    swamqp_connection_options options;
    fu_recovery_options(&options, cname);
    options.heartbeat = 1;
    swamqp_connection *conn = tu_connect_with(&options);
    fu_log log;
    fu_init(&log, conn, "conn");
    uint16_t ch = tu_channel(conn);
    char qbuf[256];
    (void)tu_temp_queue(conn, ch, qbuf);
    CHECK_OK(swamqp_confirm_select(conn, ch, T_MS, &err), &err);

    CHECK(bc_ctl(NULL, 0, "set_vm_memory_high_watermark 0.0000001") == 0, "set_vm_memory_high_watermark failed");
    wait_alarm(true);
    uint64_t seq = 0;
    CHECK_OK(fu_publish(conn, ch, "", qbuf, "first", &seq, T_MS, &err), &err);
    CHECK(seq == 1, "sequence %" PRIu64, seq);
    size_t i_blocked = fu_wait(&log, SWAMQP_EVENT_BLOCKED, 0xFFFF, 0, 15000);
    fprintf(stderr, "blocked: %s\n", log.ev[i_blocked].name);
    CHECK_STATUS(fu_publish(conn, ch, "", qbuf, "times out", &seq, 1000, &err), SWAMQP_ERR_TIMEOUT, &err);

    call pub;
    memset(&pub, 0, sizeof pub);
    pub.conn = conn;
    pub.ch = ch;
    pub.queue = qbuf;
    pthread_t pt;
    CHECK(pthread_create(&pt, NULL, publish_thread, &pub) == 0, "pthread_create");

    /* six heartbeat intervals while blocked */
    fu_settle(&log, 6000);
    if (fu_count(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0) != 0 || log.closed) {
        restore_watermark("c_fault_alarm");
        FU_CHECK(&log, false, "a recovery started (or the connection closed) while the connection was blocked");
    }
    CHECK(__atomic_load_n(&pub.returned_at, __ATOMIC_ACQUIRE) == 0, "a publish with timeout 60 s returned while "
          "blocked: %s", swamqp_status_string(pub.rc));
    CHECK(swamqp_connection_is_open(conn), "not open while blocked");

    int64_t cleared_at = tu_now_ms();
    restore_watermark("c_fault_alarm");
    wait_alarm(false);
    fu_wait(&log, SWAMQP_EVENT_UNBLOCKED, 0xFFFF, i_blocked, 15000);
    pthread_join(pt, NULL);
    tu_check_status(__FILE__, __LINE__, "publish waiting through the alarm", pub.rc, SWAMQP_OK, &pub.err);
    CHECK(pub.returned_at >= cleared_at, "the waiting publish returned before the alarm cleared");
    CHECK(pub.seq == 2, "the waiting publish got sequence %" PRIu64 ", expected 2", pub.seq);
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, 15000, &err), &err);
    WAIT_QUEUE_COUNT(conn, ch, tu_b(qbuf), 2);
    fu_settle(&log, 1500);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0) == 0, "a recovery started");
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_CONFIRM_NACK, 0) == 0, "a publish was nacked");

    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    swamqp_connection_free(conn);
    fu_free(&log);
    fprintf(stderr, "c_fault_alarm: OK\n");
    return 0;
}
