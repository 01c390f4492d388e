/*
 * bench_librabbitmq — the four workloads of bench.h against librabbitmq (rabbitmq-c), the
 * reference. Same structure as bench_swiftamqp.c; librabbitmq is used the way its examples use it
 * (amqp_consume_message per delivery, amqp_simple_wait_frame for confirms, buffers released with
 * amqp_maybe_release_buffers).
 */
#include "bench.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>

static amqp_connection_state_t conn;
static const amqp_channel_t ch = 1;
static char queue_name[256];
static amqp_bytes_t queue;

static void check_reply(amqp_rpc_reply_t r, const char *what) {
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return;
    case AMQP_RESPONSE_NONE:
        bench_die("%s: missing reply", what);
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        bench_die("%s: %s", what, amqp_error_string2(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        bench_die("%s: server exception (method 0x%08x)", what, r.reply.id);
    }
    bench_die("%s: reply type %d", what, r.reply_type);
}

static void check_rpc(const char *what) { check_reply(amqp_get_rpc_reply(conn), what); }

static void check_status(int status, const char *what) {
    if (status < 0) bench_die("%s: %s", what, amqp_error_string2(status));
}

static void setup(const bench_args *a) {
    char *url = strdup(a->url);
    struct amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (!url || amqp_parse_url(url, &info) != AMQP_STATUS_OK) bench_die("bad url %s", a->url);
    conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    if (!sock) bench_die("amqp_tcp_socket_new failed");
    check_status(amqp_socket_open(sock, info.host, info.port), "socket open");
    check_reply(amqp_login(conn, info.vhost, AMQP_DEFAULT_MAX_CHANNELS, AMQP_DEFAULT_FRAME_SIZE, 0,
                           AMQP_SASL_METHOD_PLAIN, info.user, info.password),
                "login");
    amqp_channel_open(conn, ch);
    check_rpc("channel.open");
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(conn, ch, amqp_empty_bytes, 0, 0, /*exclusive*/ 1, /*auto_delete*/ 1, amqp_empty_table);
    check_rpc("queue.declare");
    if (ok->queue.len >= sizeof queue_name) bench_die("queue name too long");
    memcpy(queue_name, ok->queue.bytes, ok->queue.len);
    queue_name[ok->queue.len] = 0;
    queue = (amqp_bytes_t){ok->queue.len, queue_name};
    amqp_maybe_release_buffers(conn);
    free(url);
}

static uint32_t queue_count(void) {
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, ch, queue, /*passive*/ 1, 0, 0, 0, amqp_empty_table);
    check_rpc("queue.declare passive");
    uint32_t n = ok->message_count;
    amqp_maybe_release_buffers(conn);
    return n;
}

static void await_count(long n) {
    double deadline = bench_now() + 30;
    uint32_t c;
    while ((c = queue_count()) != (uint32_t)n) {
        if (bench_now() > deadline) bench_die("queue holds %u messages, expected %ld", c, n);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void publish(const unsigned char *body, size_t size) {
    check_status(amqp_basic_publish(conn, ch, amqp_empty_bytes, queue, 0, 0, NULL,
                                    (amqp_bytes_t){size, (void *)body}),
                 "basic.publish");
}

static void run_publish(const bench_args *a) {
    unsigned char *body = bench_body(a->size);
    bench_clock c;
    bench_start(&c);
    for (long i = 0; i < a->count; i++) publish(body, a->size);
    uint32_t seen = queue_count(); /* an RPC behind every publish */
    bench_stop(&c);
    await_count(a->count);
    char extra[64];
    snprintf(extra, sizeof extra, "\"count_at_stop\":%u", seen);
    bench_report(a, &c, a->count, NULL, 0, extra);
    free(body);
}

static void run_confirm(const bench_args *a) {
    unsigned char *body = bench_body(a->size);
    bench_confirms t;
    bench_confirms_init(&t, a->count);
    amqp_confirm_select(conn, ch);
    check_rpc("confirm.select");
    bench_clock c;
    bench_start(&c);
    long published = 0;
    while (bench_confirms_done(&t) < a->count) {
        while (published < a->count && published - bench_confirms_done(&t) < a->window) {
            publish(body, a->size);
            published++;
        }
        /* Wait for at least one confirm, then take whatever else is already buffered. */
        int first = 1;
        for (;;) {
            amqp_frame_t f;
            int rc;
            if (first) {
                rc = amqp_simple_wait_frame(conn, &f);
            } else {
                if (!amqp_frames_enqueued(conn) && !amqp_data_in_buffer(conn)) break;
                rc = amqp_simple_wait_frame(conn, &f);
            }
            check_status(rc, "wait frame");
            first = 0;
            if (f.frame_type != AMQP_FRAME_METHOD) bench_die("unexpected frame type %d", f.frame_type);
            if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
                amqp_basic_ack_t *m = f.payload.method.decoded;
                bench_confirms_mark(&t, m->delivery_tag, m->multiple, 0);
            } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
                amqp_basic_nack_t *m = f.payload.method.decoded;
                bench_confirms_mark(&t, m->delivery_tag, m->multiple, 1);
            } else {
                bench_die("unexpected method 0x%08x", f.payload.method.id);
            }
        }
        amqp_maybe_release_buffers(conn);
    }
    bench_stop(&c);
    if (t.nacked_count) bench_die("%ld publishes nacked", t.nacked_count);
    await_count(a->count);
    bench_report(a, &c, a->count, NULL, 0, NULL);
    free(body);
    free(t.acked);
}

static void consume_one(amqp_envelope_t *env, size_t size) {
    amqp_maybe_release_buffers(conn);
    check_reply(amqp_consume_message(conn, env, NULL, 0), "consume_message");
    if (env->message.body.len != size) bench_die("body of %zu bytes, expected %zu", env->message.body.len, size);
}

static void run_consume(const bench_args *a) {
    unsigned char *body = bench_body(a->size);
    if (!a->prefilled)
        for (long i = 0; i < a->count; i++) publish(body, a->size);
    await_count(a->count);
    if (!a->no_ack) {
        amqp_basic_qos(conn, ch, 0, (uint16_t)a->prefetch, 0);
        check_rpc("basic.qos");
    }

    bench_clock c;
    bench_start(&c);
    amqp_basic_consume(conn, ch, queue, amqp_empty_bytes, 0, a->no_ack ? 1 : 0, 0, amqp_empty_table);
    check_rpc("basic.consume");
    long received = 0;
    uint64_t last_tag = 0;
    while (received < a->count) {
        amqp_envelope_t env;
        consume_one(&env, a->size);
        if (env.delivery_tag <= last_tag) bench_die("delivery tags out of order");
        last_tag = env.delivery_tag;
        received++;
        if (!a->no_ack && (received % a->ack_every == 0 || received == a->count))
            check_status(amqp_basic_ack(conn, ch, env.delivery_tag, 1), "basic.ack");
        amqp_destroy_envelope(&env);
    }
    bench_stop(&c);
    bench_report(a, &c, received, NULL, 0, NULL);
    free(body);
}

static void run_roundtrip(const bench_args *a) {
    unsigned char *body = bench_body(a->size);
    amqp_basic_consume(conn, ch, queue, amqp_empty_bytes, 0, /*no_ack*/ 1, 0, amqp_empty_table);
    check_rpc("basic.consume");
    double *lat = malloc(sizeof(double) * (size_t)a->count);
    if (!lat) bench_die("out of memory");
    bench_clock c;
    for (long i = -a->warmup; i < a->count; i++) {
        if (i == 0) bench_start(&c);
        double t0 = bench_now();
        publish(body, a->size);
        amqp_envelope_t env;
        consume_one(&env, a->size);
        amqp_destroy_envelope(&env);
        if (i >= 0) lat[i] = bench_now() - t0;
    }
    bench_stop(&c);
    bench_report(a, &c, a->count, lat, (size_t)a->count, NULL);
    free(lat);
    free(body);
}

int main(int argc, char **argv) {
    bench_args a;
    bench_parse_args(&a, "librabbitmq", argc, argv);
    setup(&a);
    if (!strcmp(a.workload, "publish")) run_publish(&a);
    else if (!strcmp(a.workload, "confirm")) run_confirm(&a);
    else if (!strcmp(a.workload, "consume")) run_consume(&a);
    else if (!strcmp(a.workload, "roundtrip")) run_roundtrip(&a);
    else bench_usage(argv[0]);
    amqp_channel_close(conn, ch, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return 0;
}
