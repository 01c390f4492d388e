/*
 * c_fault_broker_restart: the broker stops and starts again under a recovering connection.
 *
 * The test starts a broker of its own (`scripts/broker start NAME`, NAME from
 * SWIFTAMQP_FAULT_BROKER_NAME, default swiftamqp-fault-restart, so that stopping it disturbs no
 * other test) and stops it at the end, also from a guardian process (in its own session) when this
 * one dies. AMQP_URL is still required (like every broker test) but only this broker is used.
 *
 * A connection (automatic recovery, up to 200 attempts) declares two durable queues, publishes 20
 * persistent messages with confirms to the first and consumes from the second. Then RabbitMQ is
 * stopped (`rabbitmqctl stop_app`: the listener goes away, connections are closed with 320
 * CONNECTION_FORCED, durable queues and persistent messages stay on disk; the data folder and port
 * stay the same, unlike `scripts/broker stop`, which removes the data):
 * - RECOVERY_STARTED; while the broker is down no RECOVERED, the connection is not open, a publish
 *   with a 200 ms timeout fails with SWAMQP_ERR_TIMEOUT;
 * - `rabbitmqctl start_app`: RECOVERED; the 20 messages are still in the queue, in order; the
 *   consumer was restored and receives a message published after the restart.
 */
#include "broker_ctl.h"
#include "fault_util.h"

#include <fcntl.h>
#include <sys/wait.h>

#define T_MS 5000

static char broker_name[100];

/* Runs `scripts/broker SUBCOMMAND NAME` and returns its stdout in `out`. */
static int run_broker(const char *subcommand, char *out, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/scripts/broker' %s '%s'", bc_root(), subcommand, broker_name);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    size_t used = 0;
    if (out && size)
        out[0] = '\0';
    char tmp[1024];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, p)) > 0) {
        if (out && used + 1 < size) {
            size_t take = got < size - 1 - used ? got : size - 1 - used;
            memcpy(out + used, tmp, take);
            used += take;
            out[used] = '\0';
        }
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

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
        run_broker("stop", NULL, 0);
        _exit(0);
    }
    close(fds[0]);
}

int main(void)
{
    swamqp_error err;
    (void)tu_amqp_url();
    const char *name = getenv("SWIFTAMQP_FAULT_BROKER_NAME");
    snprintf(broker_name, sizeof broker_name, "%s", name && name[0] ? name : "swiftamqp-fault-restart");
    setenv("SWIFTAMQP_BROKER_NAME", broker_name, 1); /* for bc_ctl */
    start_guardian();
    static char out[8192];
    int64_t t0 = tu_now_ms();
    CHECK(run_broker("start", out, sizeof out) == 0, "scripts/broker start %s failed", broker_name);
    char *url = strstr(out, "AMQP_URL=");
    CHECK(url != NULL, "no AMQP_URL from scripts/broker start: %s", out);
    url += strlen("AMQP_URL=");
    url[strcspn(url, "\r\n")] = '\0';
    fprintf(stderr, "broker %s started in %lld ms: %s\n", broker_name, (long long)(tu_now_ms() - t0), url);

    char cname[200], q1[200], q2[200], body[64];
    tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_fault_broker_restart", "conn");
    tu_unique_name(q1, sizeof q1, "swiftamqp.c_fault_broker_restart", "stored");
    tu_unique_name(q2, sizeof q2, "swiftamqp.c_fault_broker_restart", "consumed");
    swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    CHECK_OK(swamqp_parse_url(url, &options, &err), &err);
    options.connection_name = cname;
    options.automatic_recovery = true;
    options.recovery_initial_delay_ms = 200;
    options.recovery_max_delay_ms = 1000;
    options.recovery_max_attempts = 200;
    swamqp_connection *conn = tu_connect_with(&options);
    fu_log log;
    fu_init(&log, conn, "conn");

    uint16_t ch = tu_channel(conn);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(q1), SWAMQP_DURABLE, NULL, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(q2), SWAMQP_DURABLE, NULL, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_confirm_select(conn, ch, T_MS, &err), &err);
    uint16_t cch = tu_channel(conn);
    CHECK_OK(swamqp_basic_consume(conn, cch, tu_b(q2), tu_b(""), 0, NULL, NULL, T_MS, &err), &err);
    swamqp_properties persistent;
    memset(&persistent, 0, sizeof persistent);
    persistent.flags = SWAMQP_PROP_DELIVERY_MODE;
    persistent.delivery_mode = 2;
    for (int i = 1; i <= 20; i++) {
        snprintf(body, sizeof body, "persistent-%d", i);
        CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b(q1), 0, &persistent, tu_b(body), NULL, T_MS, &err), &err);
    }
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);

    /* the broker goes down */
    t0 = tu_now_ms();
    CHECK(bc_ctl(NULL, 0, "stop_app") == 0, "stop_app failed");
    size_t i_start = fu_wait(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0, 0, 15000);
    fprintf(stderr, "stop_app took %lld ms; RECOVERY_STARTED: %s (%s)\n", (long long)(tu_now_ms() - t0),
            swamqp_status_string(log.ev[i_start].status), log.ev[i_start].error);
    fu_settle(&log, 2000);
    FU_CHECK(&log, fu_find(&log, SWAMQP_EVENT_RECOVERED, 0, i_start) < 0, "RECOVERED while the broker is down");
    CHECK(!swamqp_connection_is_open(conn), "open while the broker is down");
    CHECK_STATUS(swamqp_basic_publish(conn, ch, tu_b(""), tu_b(q1), 0, &persistent, tu_b("down"), NULL, 200, &err),
                 SWAMQP_ERR_TIMEOUT, &err);

    /* and up again */
    t0 = tu_now_ms();
    CHECK(bc_ctl(NULL, 0, "start_app") == 0, "start_app failed");
    size_t i_done = fu_wait(&log, SWAMQP_EVENT_RECOVERED, 0, i_start, 30000);
    fprintf(stderr, "RECOVERED %lld ms after start_app was called, %lld ms after RECOVERY_STARTED\n",
            (long long)(log.ev[i_done].at_ms - t0), (long long)(log.ev[i_done].at_ms - log.ev[i_start].at_ms));
    FU_CHECK(&log, log.ev[i_done].message_count == 0, "RECOVERED: %u entities not restored",
             log.ev[i_done].message_count);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0) == 1, "more than one RECOVERY_STARTED");

    /* the messages are still there */
    WAIT_QUEUE_COUNT(conn, ch, tu_b(q1), 20);
    for (int i = 1; i <= 20; i++) {
        snprintf(body, sizeof body, "persistent-%d", i);
        swamqp_message *m = tu_get(conn, ch, tu_b(q1), SWAMQP_NO_ACK, 2000);
        CHECK(m != NULL, "message %d of 20 missing after the restart", i);
        CHECK_BYTES(m->body, body);
        swamqp_message_free(m);
    }
    /* the consumer is back */
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(""), tu_b(q2), 0, &persistent, tu_b("after the restart"), NULL, T_MS,
                                  &err),
             &err);
    CHECK_OK(swamqp_wait_for_confirms(conn, ch, T_MS, &err), &err);
    size_t i_d = fu_wait_body(&log, "after the restart", i_done, 10000);
    CHECK_OK(swamqp_basic_ack(conn, cch, log.ev[i_d].delivery_tag, 0, &err), &err);

    CHECK_OK(swamqp_queue_delete(conn, ch, tu_b(q1), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_queue_delete(conn, ch, tu_b(q2), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    swamqp_connection_free(conn);
    fu_free(&log);
    CHECK(run_broker("stop", NULL, 0) == 0, "scripts/broker stop %s failed", broker_name);
    fprintf(stderr, "c_fault_broker_restart: OK\n");
    return 0;
}
