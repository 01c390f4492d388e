/*
 * c_cluster: failover across a three-node RabbitMQ cluster with a quorum queue.
 *
 * Needs AMQP_CLUSTER_URLS (the AMQP_URLS line of `scripts/broker cluster start NAME`) and
 * SWIFTAMQP_CLUSTER_NAME=NAME (its nodes are NAME-1..3 for `scripts/broker ctl`); without
 * AMQP_CLUSTER_URLS it exits 77 (ctest: skipped).
 *
 * The connection is made from the URL list (swamqp_parse_url_list: automatic recovery, the other
 * nodes as endpoints). It declares a quorum queue (x-queue-type: quorum), consumes from it with
 * manual acks on one channel and publishes persistent messages with confirms on another, each with
 * a unique body. The test finds the node the connection is on (the node in its broker pid, looked
 * up by connection_name), and while publishing goes on stops that node (`rabbitmqctl stop_app`):
 * - RECOVERY_STARTED, RECOVERED; the connection is now on another node;
 * - every message confirmed by the broker (CONFIRM_ACK) was delivered to the consumer at least
 *   once (publishes failed by the loss are counted, not republished); duplicates are counted.
 * The stopped node is started again at the end, also by a guardian process if the test dies.
 */
#include "broker_ctl.h"
#include "fault_util.h"

#include <fcntl.h>
#include <pthread.h>

#define T_MS 10000
#define MAX_MSGS 20000

static char cluster[100];
static char stopped_node[160]; /* NAME-i while it is stopped */

/* Points bc_ctl at node NAME-i. */
static void use_node(const char *node_name)
{
    setenv("SWIFTAMQP_BROKER_NAME", node_name, 1);
}

/* The node (NAME-i) that holds the connection named `cname`, from its pid "<NAME-i@localhost.x.y.z>". */
static bool connection_node(const char *cname, const char *ask, char *node, size_t size)
{
    char pid[256];
    use_node(ask);
    if (!bc_find_connection_pid(cname, pid, sizeof pid))
        return false;
    const char *at = strchr(pid, '@');
    if (pid[0] != '<' || at == NULL || (size_t)(at - pid - 1) >= size)
        return false;
    memcpy(node, pid + 1, (size_t)(at - pid - 1));
    node[at - pid - 1] = '\0';
    return true;
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
        use_node(stopped_node);
        bc_ctl(NULL, 0, "start_app");
        _exit(0);
    }
    close(fds[0]);
}

typedef struct stopper {
    int rc;
    int64_t done_at;
} stopper;

static void *stop_node_thread(void *arg)
{
    stopper *s = arg;
    s->rc = bc_ctl(NULL, 0, "stop_app");
    __atomic_store_n(&s->done_at, tu_now_ms(), __ATOMIC_RELEASE);
    return NULL;
}

static uint64_t seq_to_msg[MAX_MSGS + 16]; /* confirm sequence -> message number (0: none) */
static uint8_t confirmed[MAX_MSGS + 1], delivered[MAX_MSGS + 1];

int main(void)
{
    swamqp_error err;
    const char *urls = getenv("AMQP_CLUSTER_URLS");
    if (urls == NULL || urls[0] == '\0') {
        const char *required = getenv("SWIFTAMQP_REQUIRE_CLUSTER");
        if (required && strcmp(required, "1") == 0) {
            fprintf(stderr, "c_cluster: FAIL: AMQP_CLUSTER_URLS is not set but SWIFTAMQP_REQUIRE_CLUSTER=1 (did the cluster start?)\n");
            return 1;
        }
        fprintf(stderr, "c_cluster: AMQP_CLUSTER_URLS is not set (scripts/broker cluster start NAME): skipped\n");
        return 77;
    }
    const char *cn = getenv("SWIFTAMQP_CLUSTER_NAME");
    snprintf(cluster, sizeof cluster, "%s", cn && cn[0] ? cn : "swiftamqp-cluster");

    char cname[200], qname[200], first[160];
    tu_unique_name(cname, sizeof cname, "swiftamqp Tests/C c_cluster", "conn");
    tu_unique_name(qname, sizeof qname, "swiftamqp.c_cluster", "quorum");
    snprintf(first, sizeof first, "%s-1", cluster);
    swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    CHECK_OK(swamqp_parse_url_list(urls, &options, &err), &err);
    CHECK(options.automatic_recovery && options.endpoint_count == 2, "parse_url_list: recovery %d, %zu endpoints",
          options.automatic_recovery, options.endpoint_count);
    options.connection_name = cname;
    options.recovery_initial_delay_ms = 200;
    options.recovery_max_delay_ms = 1000;
    options.recovery_max_attempts = 100;
    swamqp_connection *conn = tu_connect_with(&options);
    fu_log log;
    fu_init(&log, conn, "conn");

    char node_before[160], node_after[160];
    CHECK(connection_node(cname, first, node_before, sizeof node_before), "connection %s not found in cluster %s",
          cname, cluster);
    fprintf(stderr, "connected to node %s\n", node_before);

    uint16_t pch = tu_channel(conn);
    swamqp_table_entry quorum = {tu_b("x-queue-type"), {.kind = SWAMQP_FIELD_STRING, .value.bytes = tu_b("quorum")}};
    swamqp_table args = {1, &quorum};
    CHECK_OK(swamqp_queue_declare(conn, pch, tu_b(qname), SWAMQP_DURABLE, &args, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_confirm_select(conn, pch, T_MS, &err), &err);
    uint16_t cch = tu_channel(conn);
    CHECK_OK(swamqp_basic_qos(conn, cch, 0, 200, 0, T_MS, &err), &err);
    CHECK_OK(swamqp_basic_consume(conn, cch, tu_b(qname), tu_b(""), 0, NULL, NULL, T_MS, &err), &err);
    swamqp_properties persistent;
    memset(&persistent, 0, sizeof persistent);
    persistent.flags = SWAMQP_PROP_DELIVERY_MODE;
    persistent.delivery_mode = 2;

    size_t cursor = 0;
    uint64_t published = 0, publish_failed = 0, stale_acks = 0, duplicates = 0, acked_msgs = 0, nacked_msgs = 0;
    uint64_t max_seq = 0;
    /* Takes new events: confirms mark messages, deliveries are recorded and acked. */
#define PROCESS_EVENTS()                                                                                          \
    do {                                                                                                          \
        for (; cursor < log.n; cursor++) {                                                                        \
            const fu_event *e = &log.ev[cursor];                                                                  \
            if (e->type == SWAMQP_EVENT_CONFIRM_ACK || e->type == SWAMQP_EVENT_CONFIRM_NACK) {                    \
                uint64_t lo = (e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) ? 1 : e->delivery_tag;                      \
                for (uint64_t s = lo; s <= e->delivery_tag && s <= max_seq; s++) {                                \
                    uint64_t m = seq_to_msg[s];                                                                   \
                    if (m == 0)                                                                                   \
                        continue;                                                                                 \
                    seq_to_msg[s] = 0;                                                                            \
                    if (e->type == SWAMQP_EVENT_CONFIRM_ACK) {                                                    \
                        confirmed[m] = 1;                                                                         \
                        acked_msgs++;                                                                             \
                    } else {                                                                                      \
                        nacked_msgs++;                                                                            \
                    }                                                                                             \
                }                                                                                                 \
            } else if (e->type == SWAMQP_EVENT_DELIVERY) {                                                        \
                unsigned m = 0;                                                                                   \
                FU_CHECK(&log, sscanf(e->body, "msg-%u", &m) == 1 && m >= 1 && m <= MAX_MSGS,                     \
                         "unexpected body %s", e->body);                                                          \
                if (delivered[m])                                                                                 \
                    duplicates++;                                                                                 \
                delivered[m] = 1;                                                                                 \
                int arc = swamqp_basic_ack(conn, cch, e->delivery_tag, 0, &err);                                  \
                if (arc == SWAMQP_ERR_STALE_DELIVERY_TAG || arc == SWAMQP_ERR_RECOVERING)                         \
                    stale_acks++;                                                                                 \
                else                                                                                              \
                    FU_CHECK(&log, arc == SWAMQP_OK, "ack: %s", swamqp_status_string(arc));                       \
            }                                                                                                     \
        }                                                                                                         \
    } while (0)

    /* publish until the node is gone, the connection is back and 300 more went out */
    stopper st;
    memset(&st, 0, sizeof st);
    pthread_t stop_thread;
    bool stop_started = false;
    long i_done = -1;
    uint64_t after_recovery = 0;
    int64_t deadline = tu_now_ms() + 60000;
    char body[64];
    while (published < MAX_MSGS && tu_now_ms() < deadline) {
        uint64_t m = published + 1;
        snprintf(body, sizeof body, "msg-%" PRIu64, m);
        uint64_t seq = 0;
        int rc = swamqp_basic_publish(conn, pch, tu_b(""), tu_b(qname), 0, &persistent, tu_b(body), &seq, 200, &err);
        if (rc == SWAMQP_OK) {
            CHECK(seq >= 1 && seq < MAX_MSGS + 16 && seq > max_seq, "sequence %" PRIu64 " after %" PRIu64, seq, max_seq);
            seq_to_msg[seq] = m;
            max_seq = seq;
            published = m;
            if (i_done >= 0)
                after_recovery++;
        } else {
            publish_failed++; /* not sent: the same number is tried again */
        }
        fu_pump(&log, 0);
        PROCESS_EVENTS();
        if (!stop_started && published >= 300) {
            snprintf(stopped_node, sizeof stopped_node, "%s", node_before);
            start_guardian();
            use_node(stopped_node);
            fprintf(stderr, "stopping node %s after %" PRIu64 " publishes (%" PRIu64 " confirmed)\n", stopped_node,
                    published, acked_msgs);
            CHECK(pthread_create(&stop_thread, NULL, stop_node_thread, &st) == 0, "pthread_create");
            stop_started = true;
        }
        if (i_done < 0 && stop_started)
            i_done = fu_find(&log, SWAMQP_EVENT_RECOVERED, 0, 0);
        if (i_done >= 0 && after_recovery >= 300)
            break;
        tu_sleep_ms(2);
    }
    CHECK(stop_started, "published only %" PRIu64, published);
    pthread_join(stop_thread, NULL);
    CHECK(st.rc == 0, "stop_app of %s failed", stopped_node);
    FU_CHECK(&log, i_done >= 0, "no RECOVERED within 60 s after stopping %s", stopped_node);
    long i_start = fu_find(&log, SWAMQP_EVENT_RECOVERY_STARTED, 0, 0);
    FU_CHECK(&log, i_start >= 0 && i_start < i_done, "no RECOVERY_STARTED before RECOVERED");
    FU_CHECK(&log, log.ev[i_done].message_count == 0, "RECOVERED: %u entities not restored",
             log.ev[i_done].message_count);
    fprintf(stderr, "RECOVERY_STARTED (%s: %s); RECOVERED after %lld ms\n", swamqp_status_string(log.ev[i_start].status),
            log.ev[i_start].error, (long long)(log.ev[i_done].at_ms - log.ev[i_start].at_ms));

    /* on another node now */
    char ask[160];
    snprintf(ask, sizeof ask, "%s-%d", cluster, strcmp(stopped_node, first) == 0 ? 2 : 1);
    CHECK(connection_node(cname, ask, node_after, sizeof node_after), "the recovered connection is not listed");
    fprintf(stderr, "the connection moved from %s to %s\n", node_before, node_after);
    CHECK(strcmp(node_after, node_before) != 0, "still on %s", node_before);

    /* every confirmed message is delivered */
    CHECK_OK(swamqp_wait_for_confirms(conn, pch, 30000, &err), &err);
    deadline = tu_now_ms() + 60000;
    uint64_t missing;
    for (;;) {
        fu_pump(&log, 100);
        PROCESS_EVENTS();
        missing = 0;
        for (uint64_t m = 1; m <= published; m++)
            missing += confirmed[m] && !delivered[m];
        if (missing == 0 || tu_now_ms() > deadline)
            break;
    }
    uint64_t n_confirmed = 0, n_delivered = 0;
    for (uint64_t m = 1; m <= published; m++) {
        n_confirmed += confirmed[m];
        n_delivered += delivered[m];
    }
    fprintf(stderr,
            "published %" PRIu64 " (+%" PRIu64 " publish calls failed), confirmed %" PRIu64 ", nacked %" PRIu64
            ", delivered %" PRIu64 ", duplicates %" PRIu64 ", stale acks %" PRIu64 ", missing %" PRIu64 "\n",
            published, publish_failed, n_confirmed, nacked_msgs, n_delivered, duplicates, stale_acks, missing);
    FU_CHECK(&log, missing == 0, "%" PRIu64 " confirmed messages were never delivered", missing);
    FU_CHECK(&log, n_confirmed >= published / 2, "only %" PRIu64 " of %" PRIu64 " confirmed", n_confirmed, published);
    FU_CHECK(&log, fu_count(&log, SWAMQP_EVENT_CONNECTION_CLOSED, 0) == 0, "the connection closed");

    CHECK_OK(swamqp_queue_delete(conn, pch, tu_b(qname), 0, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    swamqp_connection_free(conn);
    fu_free(&log);
    use_node(stopped_node);
    CHECK(bc_ctl(NULL, 0, "start_app") == 0, "start_app of %s failed", stopped_node);
    fprintf(stderr, "c_cluster: OK\n");
    return 0;
}
