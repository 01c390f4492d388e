/*
 * swamqp_soak: publishers and consumers with automatic recovery while the connection is cut at
 * random; at the end every message the broker confirmed must have been delivered. Run by
 * scripts/soak (not part of CI: it runs for minutes).
 *
 *   swamqp_soak [--minutes M] [--disconnects N] [--max-minutes X] [--rate R] [--consumers C]
 *               [--cluster] [--seed S] [--no-ctl] [--verbose]
 *
 * Broker: AMQP_URL (SWIFTAMQP_BROKER_NAME names it for `scripts/broker ctl`; without it no
 * close_connection), or with --cluster
 * AMQP_CLUSTER_URLS (three URLs; SWIFTAMQP_CLUSTER_NAME=NAME, nodes NAME-1..3). Every client
 * connection goes through a fault proxy (Tests/FaultProxy) per broker node, on 127.0.0.1.
 *
 * - 2 publisher threads, each on its own connection: confirm mode, at most 1000 unconfirmed, each
 *   message (persistent, 40-4000 bytes) carrying a unique id; a publish failed by a loss
 *   (CONFIRM_NACK with a status), a broker nack or a publish call that failed (timeout during a
 *   recovery) is published again with the same id.
 * - C consumer threads (default 2), each on its own connection: qos 200, manual acks, counting
 *   deliveries per id. An ack refused as stale is counted (the broker redelivers).
 * - a disrupter thread: every 1-5 s (uniform) one of: cut every connection (FIN or RST), cut one
 *   connection after a random number of bytes in a random direction (mid-frame), stall the proxies
 *   for 5 s (heartbeat 2 s: the client must notice by itself), or `rabbitmqctl close_connection`
 *   of one client connection (every 7th, unless --no-ctl or in cluster mode).
 * - it runs for at least M minutes (default 5) and until N disrupting actions (default 100), but
 *   never longer than X minutes (default 4 × M + 10); then publishers finish (republishing what
 *   failed until all is confirmed), consumers drain the queue, and the figures are printed:
 *   confirmed, delivered, missing (must be 0), duplicates, disconnects, recoveries, and the time to
 *   recover (RECOVERY_STARTED to RECOVERED, over all connections): p50, p90, max.
 * Exit status 0 when nothing confirmed is missing, the queue ended empty and the target number of
 * disconnects was reached; 1 otherwise.
 *
 * Files: soak.c (options, setup, the run and its figures), soak_publisher.c, soak_consumer.c and
 * soak_disrupter.c (the threads), soak_util.c (what the threads share: the clock, counters, die,
 * recovery bookkeeping), soak.h (the declarations they share).
 */
#include "soak.h"

#include <signal.h>

/* ---- configuration and shared state (declared in soak.h) ---- */
double opt_minutes = 5, opt_max_minutes = -1;
unsigned opt_disconnects = 100, opt_rate = 1000, opt_consumers = 2;
bool opt_cluster, opt_ctl = true, opt_verbose;
unsigned opt_seed;

swamqp_connection_options base_options;
fp_proxy *proxies[MAX_PROXIES];
int nproxies;
swamqp_endpoint endpoints[MAX_PROXIES];
char queue_name[200];
static char run_tag[64];

volatile int stop_new;   /* publishers: no new ids; finish what is pending */
volatile int stop_all;   /* everyone: end */
volatile int consumers_stop;

uint8_t *confirmed[PUBLISHERS]; /* per id: confirmed by the broker */
uint8_t *seen[PUBLISHERS];      /* per id: deliveries (saturating at 255) */
uint64_t next_id[PUBLISHERS];   /* ids 1..next_id-1 were handed out */

int64_t *recovery_ms;
size_t nrecoveries;
uint64_t recoveries_started, recoveries_failed_entities, stale_acks, deliveries_total, publish_calls_failed,
    loss_nacks, broker_nacks, republished, confirms_total, publishes_total;
uint64_t disconnects, cut_all_count, cut_after_count, stall_count, ctl_count;

char conn_names[PUBLISHERS + MAX_CONSUMERS][128];
int nconns;

static swamqp_connection *client_connect(const char *name)
{
    swamqp_connection_options o = base_options;
    o.host = "127.0.0.1";
    o.port = fp_port(proxies[0]);
    o.endpoints = nproxies > 1 ? endpoints + 1 : NULL;
    o.endpoint_count = (size_t)(nproxies - 1);
    o.connection_name = name;
    o.automatic_recovery = true;
    o.recovery_initial_delay_ms = 100;
    o.recovery_max_delay_ms = 2000;
    o.recovery_max_attempts = 0;
    o.heartbeat = 2;
    o.connect_timeout_ms = 3000;
    swamqp_connection *c = NULL;
    swamqp_error err;
    memset(&err, 0, sizeof err);
    for (int attempt = 0; attempt < 50; attempt++) {
        int rc = swamqp_connect(&o, &c, &err);
        if (rc == SWAMQP_OK)
            return c;
        /* the disrupter may be cutting already: try again */
        tu_sleep_ms(200);
    }
    die("cannot connect %s: %s", name, err.message);
}

static void declare_queue(swamqp_connection *c, uint16_t ch)
{
    swamqp_error err;
    swamqp_table_entry quorum = {tu_b("x-queue-type"), {.kind = SWAMQP_FIELD_STRING, .value.bytes = tu_b("quorum")}};
    swamqp_table args = {1, &quorum};
    int rc = swamqp_queue_declare(c, ch, tu_b(queue_name), SWAMQP_DURABLE, opt_cluster ? &args : NULL, NULL, 10000, &err);
    if (rc != SWAMQP_OK)
        die("queue.declare %s: %s: %s", queue_name, swamqp_status_string(rc), err.message);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: swamqp_soak [--minutes M] [--disconnects N] [--max-minutes X] [--rate R] "
                    "[--consumers C] [--cluster] [--seed S] [--no-ctl] [--verbose]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    opt_seed = (unsigned)time(NULL);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--minutes") == 0 && v) {
            opt_minutes = atof(v);
            i++;
        } else if (strcmp(a, "--disconnects") == 0 && v) {
            opt_disconnects = (unsigned)atoi(v);
            i++;
        } else if (strcmp(a, "--max-minutes") == 0 && v) {
            opt_max_minutes = atof(v);
            i++;
        } else if (strcmp(a, "--rate") == 0 && v) {
            opt_rate = (unsigned)atoi(v);
            i++;
        } else if (strcmp(a, "--consumers") == 0 && v) {
            opt_consumers = (unsigned)atoi(v);
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            opt_seed = (unsigned)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--cluster") == 0) {
            opt_cluster = true;
        } else if (strcmp(a, "--verbose") == 0) {
            opt_verbose = true;
        } else if (strcmp(a, "--no-ctl") == 0) {
            opt_ctl = false;
        } else {
            usage();
        }
    }
    if (opt_minutes <= 0 || opt_consumers < 1 || opt_consumers > MAX_CONSUMERS)
        usage();
    if (opt_max_minutes <= 0)
        opt_max_minutes = 4 * opt_minutes + 10;
    signal(SIGPIPE, SIG_IGN);

    swamqp_error err;
    swamqp_connection_options_init(&base_options);
    if (opt_cluster) {
        const char *urls = getenv("AMQP_CLUSTER_URLS");
        if (urls == NULL || !urls[0])
            die("--cluster needs AMQP_CLUSTER_URLS (scripts/broker cluster start NAME)");
        if (swamqp_parse_url_list(urls, &base_options, &err) != SWAMQP_OK)
            die("AMQP_CLUSTER_URLS: %s", err.message);
        if (base_options.endpoint_count + 1 > MAX_PROXIES)
            die("at most %d nodes", MAX_PROXIES);
        nproxies = 1 + (int)base_options.endpoint_count;
        proxies[0] = fp_start(base_options.host, base_options.port);
        for (int i = 1; i < nproxies; i++)
            proxies[i] = fp_start(base_options.endpoints[i - 1].host, base_options.endpoints[i - 1].port);
        const char *cn = getenv("SWIFTAMQP_CLUSTER_NAME");
        char node[160];
        snprintf(node, sizeof node, "%s-1", cn && cn[0] ? cn : "swiftamqp-cluster");
        setenv("SWIFTAMQP_BROKER_NAME", node, 1);
    } else {
        tu_options_from_env(&base_options);
        const char *bn = getenv("SWIFTAMQP_BROKER_NAME");
        if (opt_ctl && (bn == NULL || !bn[0])) {
            fprintf(stderr, "soak: SWIFTAMQP_BROKER_NAME is not set: no rabbitmqctl close_connection\n");
            opt_ctl = false;
        }
        nproxies = 1;
        proxies[0] = fp_start(base_options.host, base_options.port);
    }
    for (int i = 0; i < nproxies; i++) {
        if (proxies[i] == NULL)
            die("cannot start fault proxy %d", i);
        endpoints[i].host = "127.0.0.1";
        endpoints[i].port = fp_port(proxies[i]);
    }
    base_options.endpoints = NULL;
    base_options.endpoint_count = 0;
    recovery_ms = calloc(MAX_RECOVERIES, sizeof *recovery_ms);
    for (int p = 0; p < PUBLISHERS; p++) {
        confirmed[p] = calloc(MAX_IDS, 1);
        seen[p] = calloc(MAX_IDS, 1);
        next_id[p] = 1;
        if (!confirmed[p] || !seen[p])
            die("out of memory");
    }
    snprintf(run_tag, sizeof run_tag, "%ld.%u", (long)getpid(), opt_seed);
    snprintf(queue_name, sizeof queue_name, "swiftamqp.soak.%s", run_tag);
    fprintf(stderr, "soak: queue %s (%s), %d proxies, seed %u, at least %.1f min and %u disconnects (at most %.1f min), "
                    "%u msg/s per publisher, %u consumers\n",
            queue_name, opt_cluster ? "quorum, cluster" : "classic durable", nproxies, opt_seed, opt_minutes,
            opt_disconnects, opt_max_minutes, opt_rate, opt_consumers);

    /* a direct connection (no proxy) to set up and to check at the end */
    swamqp_connection_options direct_options = base_options;
    swamqp_connection *direct = NULL;
    if (swamqp_connect(&direct_options, &direct, &err) != SWAMQP_OK)
        die("direct connection: %s", err.message);
    uint16_t dch = 0;
    if (swamqp_channel_open(direct, &dch, 10000, &err) != SWAMQP_OK)
        die("channel: %s", err.message);
    declare_queue(direct, dch);

    consumer consumers[MAX_CONSUMERS];
    publisher *pubs = calloc(PUBLISHERS, sizeof *pubs);
    if (pubs == NULL)
        die("out of memory");
    for (unsigned i = 0; i < opt_consumers; i++) {
        consumer *c = &consumers[i];
        memset(c, 0, sizeof *c);
        c->index = (int)i;
        snprintf(conn_names[nconns], sizeof conn_names[0], "swamqp_soak %s consumer %u", run_tag, i);
        c->conn = client_connect(conn_names[nconns++]);
        if (swamqp_channel_open(c->conn, &c->ch, 10000, &err) != SWAMQP_OK)
            die("channel: %s", err.message);
        declare_queue(c->conn, c->ch);
        if (swamqp_basic_qos(c->conn, c->ch, 0, 200, 0, 10000, &err) != SWAMQP_OK ||
            swamqp_basic_consume(c->conn, c->ch, tu_b(queue_name), tu_b(""), 0, NULL, NULL, 10000, &err) != SWAMQP_OK)
            die("consume: %s", err.message);
    }
    for (int i = 0; i < PUBLISHERS; i++) {
        publisher *p = &pubs[i];
        p->index = i;
        p->seed = opt_seed + 17u * (unsigned)i;
        snprintf(conn_names[nconns], sizeof conn_names[0], "swamqp_soak %s publisher %d", run_tag, i);
        p->conn = client_connect(conn_names[nconns++]);
        if (swamqp_channel_open(p->conn, &p->ch, 10000, &err) != SWAMQP_OK)
            die("channel: %s", err.message);
        declare_queue(p->conn, p->ch);
        if (swamqp_confirm_select(p->conn, p->ch, 10000, &err) != SWAMQP_OK)
            die("confirm.select: %s", err.message);
    }
    int64_t t_start = now_ms();
    fprintf(stderr, "soak: %d connections up; publishing, consuming and disrupting\n", nconns);
    for (unsigned i = 0; i < opt_consumers; i++)
        pthread_create(&consumers[i].thread, NULL, consumer_main, &consumers[i]);
    for (int i = 0; i < PUBLISHERS; i++)
        pthread_create(&pubs[i].thread, NULL, publisher_main, &pubs[i]);
    pthread_t disrupter;
    pthread_create(&disrupter, NULL, disrupter_main, NULL);
    pthread_join(disrupter, NULL);
    int64_t t_disrupted = now_ms();
    for (int i = 0; i < nproxies; i++)
        fp_resume(proxies[i]);
    fprintf(stderr, "soak: disruption over after %.1f min; publishers finish\n", (double)(t_disrupted - t_start) / 60000.0);

    stop_new = 1;
    for (int i = 0; i < PUBLISHERS; i++)
        pthread_join(pubs[i].thread, NULL);
    int64_t t_published = now_ms();

    /* consumers drain: until every confirmed id was seen and the queue is empty (at most 180 s) */
    uint64_t missing = 0, in_queue = 0;
    int64_t drain_deadline = now_ms() + 180000;
    for (;;) {
        missing = 0;
        for (int p = 0; p < PUBLISHERS; p++)
            for (uint64_t id = 1; id < next_id[p]; id++)
                missing += confirmed[p][id] && !__atomic_load_n(&seen[p][id], __ATOMIC_RELAXED);
        swamqp_queue_declare_ok ok;
        memset(&ok, 0, sizeof ok);
        if (swamqp_queue_declare(direct, dch, tu_b(queue_name), SWAMQP_PASSIVE, NULL, &ok, 10000, &err) != SWAMQP_OK)
            die("passive declare: %s", err.message);
        in_queue = ok.message_count;
        if ((missing == 0 && in_queue == 0) || now_ms() > drain_deadline)
            break;
        tu_sleep_ms(500);
    }
    tu_sleep_ms(1000);
    consumers_stop = 1;
    stop_all = 1;
    for (unsigned i = 0; i < opt_consumers; i++)
        pthread_join(consumers[i].thread, NULL);

    uint64_t n_confirmed = 0, n_delivered = 0, duplicates = 0, unconfirmed_delivered = 0, ids = 0;
    for (int p = 0; p < PUBLISHERS; p++) {
        for (uint64_t id = 1; id < next_id[p]; id++) {
            ids++;
            n_confirmed += confirmed[p][id];
            n_delivered += seen[p][id] > 0;
            duplicates += seen[p][id] > 1 ? seen[p][id] - 1u : 0;
            unconfirmed_delivered += !confirmed[p][id] && seen[p][id];
        }
    }
    qsort(recovery_ms, nrecoveries, sizeof *recovery_ms, cmp_i64);
    int64_t p50 = nrecoveries ? recovery_ms[nrecoveries / 2] : -1;
    int64_t p90 = nrecoveries ? recovery_ms[(nrecoveries * 9) / 10] : -1;
    int64_t pmax = nrecoveries ? recovery_ms[nrecoveries - 1] : -1;

    printf("soak: duration %.1f min of disruption + %.1f s to finish publishing + %.1f s to drain\n",
           (double)(t_disrupted - t_start) / 60000.0, (double)(t_published - t_disrupted) / 1000.0,
           (double)(now_ms() - t_published) / 1000.0);
    printf("soak: messages: %" PRIu64 " ids published, %" PRIu64 " confirmed, %" PRIu64 " delivered (unique), %" PRIu64
           " deliveries, missing %" PRIu64 ", duplicates %" PRIu64 ", left in queue %" PRIu64 "\n",
           ids, n_confirmed, n_delivered, deliveries_total, missing, duplicates, in_queue);
    printf("soak: publishing: %" PRIu64 " publishes, %" PRIu64 " republished (%" PRIu64 " loss nacks, %" PRIu64
           " broker nacks), %" PRIu64 " publish calls failed (timeouts during recovery), stale acks %" PRIu64 "\n",
           publishes_total, republished, loss_nacks, broker_nacks, publish_calls_failed, stale_acks);
    printf("soak: disconnects: %" PRIu64 " (cut all %" PRIu64 ", cut after N bytes %" PRIu64 ", stall %" PRIu64
           ", rabbitmqctl close_connection %" PRIu64 "); connection recoveries %" PRIu64 " (%zu completed), entities "
           "not restored %" PRIu64 "\n",
           disconnects, cut_all_count, cut_after_count, stall_count, ctl_count, recoveries_started, nrecoveries,
           recoveries_failed_entities);
    printf("soak: time to recover (RECOVERY_STARTED to RECOVERED): p50 %" PRId64 " ms, p90 %" PRId64 " ms, max %" PRId64
           " ms\n", p50, p90, pmax);
    (void)unconfirmed_delivered;
    fflush(stdout);

    swamqp_queue_delete(direct, dch, tu_b(queue_name), 0, NULL, 10000, &err);
    for (int i = 0; i < PUBLISHERS; i++) {
        swamqp_connection_close(pubs[i].conn, 5000, NULL);
        swamqp_connection_free(pubs[i].conn);
    }
    for (unsigned i = 0; i < opt_consumers; i++) {
        swamqp_connection_close(consumers[i].conn, 5000, NULL);
        swamqp_connection_free(consumers[i].conn);
    }
    swamqp_connection_close(direct, 5000, NULL);
    swamqp_connection_free(direct);
    for (int i = 0; i < nproxies; i++)
        fp_stop(proxies[i]);
    bool ok = missing == 0 && in_queue == 0 && disconnects >= opt_disconnects;
    printf("soak: %s\n", ok ? "PASSED (no confirmed message lost)" : "FAILED");
    return ok ? 0 : 1;
}
