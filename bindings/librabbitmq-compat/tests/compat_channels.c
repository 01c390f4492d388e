/* compat_programs scenarios: channels closed (by the program or the broker) while deliveries are
 * queued or coming, consumers the broker cancels, RPC timeouts, and a program that polls the
 * socket. */
#include "compat_programs.h"

/* Deliveries that were queued for a channel, or on their way, when the program closes the
 * channel are not lost: librabbitmq queues every frame that is not the reply it waits for, so
 * they are read after amqp_channel_close. For no-ack consumers a lost frame is a lost message. */
static int drain_after_close(amqp_connection_state_t c, int *per_channel, uint64_t *last_tag, int n_channels)
{
    int total = 0;
    for (;;) {
        amqp_envelope_t env;
        struct timeval tv = {1, 500000};
        amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
            return total;
        check_reply(r, "consume_message after close");
        if (env.channel >= n_channels)
            fail("delivery on unexpected channel %u", env.channel);
        per_channel[env.channel]++;
        if (env.delivery_tag != last_tag[env.channel] + 1)
            fail("channel %u: tag %llu after %llu", env.channel, (unsigned long long)env.delivery_tag,
                 (unsigned long long)last_tag[env.channel]);
        last_tag[env.channel] = env.delivery_tag;
        total++;
        amqp_destroy_envelope(&env);
        amqp_maybe_release_buffers(c);
    }
}

static uint32_t passive_count(amqp_connection_state_t c, const char *q)
{
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 1, 0, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "passive queue.declare");
    return ok->message_count;
}

static void publish_n(amqp_connection_state_t c, const char *q, int n, size_t size)
{
    char *body = calloc(1, size);
    for (int i = 0; i < n; i++) {
        snprintf(body, size, "message %d", i);
        amqp_bytes_t b = {size, body};
        check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL, b), "publish");
    }
    free(body);
}

void close_keeps(const char *url, const char *prefix)
{
    char q[256], q2[256];
    snprintf(q, sizeof q, "%s.close-keeps", prefix);
    snprintf(q2, sizeof q2, "%s.close-keeps-2", prefix);
    amqp_connection_state_t c = connect_to(url);
    declare(c, q);
    declare(c, q2);
    int per[8] = {0};
    uint64_t last[8] = {0};

    /* 1. 300 no-ack deliveries already received when channel 2 is closed */
    publish_n(c, q, 300, 2000);
    amqp_channel_open(c, 2);
    check_reply(amqp_get_rpc_reply(c), "channel.open 2");
    amqp_basic_consume(c, 2, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "basic.consume no-ack");
    struct timespec pause = {1, 0};
    nanosleep(&pause, NULL); /* every message is on its way to us */
    check_reply(amqp_channel_close(c, 2, AMQP_REPLY_SUCCESS), "channel.close 2");
    /* a new channel (the engine may give it the closed channel's number) with its own consumer */
    amqp_channel_open(c, 5);
    check_reply(amqp_get_rpc_reply(c), "channel.open 5");
    publish_n(c, q2, 3, 100);
    amqp_basic_consume(c, 5, amqp_cstring_bytes(q2), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "basic.consume on 5");
    int got = drain_after_close(c, per, last, 8);
    printf("after close: %d deliveries, channel 2: %d, channel 5: %d; left in queue %u\n", got, per[2], per[5],
           passive_count(c, q));
    check_reply(amqp_channel_close(c, 5, AMQP_REPLY_SUCCESS), "channel.close 5");

    /* 2. channel 3 is closed while 2000 no-ack deliveries are still coming: every message is
       either received or still in the queue */
    publish_n(c, q, 2000, 1000);
    amqp_channel_open(c, 3);
    check_reply(amqp_get_rpc_reply(c), "channel.open 3");
    amqp_basic_consume(c, 3, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "basic.consume no-ack 3");
    check_reply(amqp_channel_close(c, 3, AMQP_REPLY_SUCCESS), "channel.close 3");
    got = drain_after_close(c, per, last, 8);
    uint32_t left = passive_count(c, q);
    printf("closed while in flight: received + left = %u\n", (unsigned)got + left);
    if (got != per[3])
        fail("deliveries on other channels: %d of %d", got - per[3], got);
    amqp_queue_purge(c, 1, amqp_cstring_bytes(q)); /* what is left depends on timing */
    check_reply(amqp_get_rpc_reply(c), "queue.purge");

    /* 3. 80 MB of no-ack deliveries arrive while the program makes no call, then an RPC: it is
       answered (librabbitmq reads and keeps the deliveries while it waits for the reply), and
       every delivery is still read afterwards */
    struct timeval rpc_tv = {30, 0};
    amqp_set_rpc_timeout(c, &rpc_tv);
    publish_n(c, q, 80, 1 << 20);
    amqp_channel_open(c, 4);
    check_reply(amqp_get_rpc_reply(c), "channel.open 4");
    amqp_basic_consume(c, 4, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "basic.consume no-ack 4");
    struct timespec pause2 = {3, 0};
    nanosleep(&pause2, NULL);
    (void)passive_count(c, q); /* the RPC is answered (the count depends on timing) */
    printf("rpc during a flood: answered\n");
    memset(per, 0, sizeof per);
    memset(last, 0, sizeof last);
    got = drain_after_close(c, per, last, 8);
    printf("flood: %d deliveries on channel 4\n", per[4]); /* the consumer goes on: all 80 */
    if (got != per[4])
        fail("flood: deliveries on other channels");
    check_reply(amqp_channel_close(c, 4, AMQP_REPLY_SUCCESS), "channel.close 4");

    /* 4. a channel with two consumers that the broker closes (an ack of an unknown tag, 406):
       amqp_channel_close reports the broker's close as a server exception */
    amqp_channel_open(c, 6);
    check_reply(amqp_get_rpc_reply(c), "channel.open 6");
    amqp_basic_consume(c, 6, amqp_cstring_bytes(q), amqp_cstring_bytes("c6-a"), 0, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "basic.consume c6-a");
    amqp_basic_consume(c, 6, amqp_cstring_bytes(q2), amqp_cstring_bytes("c6-b"), 0, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "basic.consume c6-b");
    check_status(amqp_basic_ack(c, 6, 999, 0), "ack of an unknown tag");
    nanosleep(&pause, NULL); /* the broker's channel.close has arrived */
    amqp_rpc_reply_t cr = amqp_channel_close(c, 6, AMQP_REPLY_SUCCESS);
    if (cr.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && cr.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = cr.reply.decoded;
        printf("close of a channel the broker closed: server exception %u\n", m->reply_code);
        amqp_channel_close_ok_t close_ok = {0};
        check_status(amqp_send_method(c, 6, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "channel.close-ok");
    } else {
        printf("close of a channel the broker closed: reply type %d id 0x%08X error %s\n", cr.reply_type,
               cr.reply.id, amqp_error_string2(cr.library_error));
    }
    amqp_channel_open(c, 6);
    check_reply(amqp_get_rpc_reply(c), "channel.open 6 again");
    check_reply(amqp_channel_close(c, 6, AMQP_REPLY_SUCCESS), "channel.close 6 again");
    amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
    check_reply(amqp_get_rpc_reply(c), "queue.delete");
    delete_queue(c, q2);
    disconnect(c);
}

/* A consumer whose queue is deleted: the broker sends basic.cancel only to a client that
 * advertised consumer_cancel_notify, which librabbitmq does only when the program adds it to the
 * login properties' capabilities. Without it the consumer just stops receiving. */
void cancel_notify(const char *url, const char *prefix)
{
    for (int asked = 0; asked < 2; asked++) {
        char q[256];
        snprintf(q, sizeof q, "%s.cancel-%d", prefix, asked);
        struct amqp_connection_info ci;
        char *u = strdup(url);
        check_status(amqp_parse_url(u, &ci), "amqp_parse_url");
        amqp_connection_state_t c = amqp_new_connection();
        amqp_socket_t *s = amqp_tcp_socket_new(c);
        check_status(amqp_socket_open(s, ci.host, ci.port), "amqp_socket_open");
        amqp_table_entry_t cap[1], props[2];
        cap[0].key = amqp_cstring_bytes("consumer_cancel_notify");
        cap[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
        cap[0].value.value.boolean = 1;
        props[0].key = amqp_cstring_bytes("capabilities");
        props[0].value.kind = AMQP_FIELD_KIND_TABLE;
        props[0].value.value.table.num_entries = 1;
        props[0].value.value.table.entries = cap;
        props[1].key = amqp_cstring_bytes("product");
        props[1].value.kind = AMQP_FIELD_KIND_UTF8;
        props[1].value.value.bytes = amqp_cstring_bytes("compat_programs");
        amqp_table_t pt = {asked ? 2 : 1, asked ? props : props + 1};
        check_reply(amqp_login_with_properties(c, ci.vhost, 0, 131072, 0, &pt, AMQP_SASL_METHOD_PLAIN, ci.user,
                                               ci.password),
                    "login with properties");
        free(u);
        amqp_channel_open(c, 1);
        check_reply(amqp_get_rpc_reply(c), "channel.open");
        declare(c, q);
        amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("ctag-cancel"), 0, 0, 0, amqp_empty_table);
        check_reply(amqp_get_rpc_reply(c), "basic.consume");
        amqp_channel_open(c, 2);
        check_reply(amqp_get_rpc_reply(c), "channel.open 2");
        amqp_queue_delete(c, 2, amqp_cstring_bytes(q), 0, 0);
        check_reply(amqp_get_rpc_reply(c), "queue.delete");
        amqp_envelope_t env;
        struct timeval tv = {1, 0};
        amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
        printf("capability %s: consume_message type %d, %s\n", asked ? "asked" : "not asked", r.reply_type,
               amqp_error_string2(r.library_error));
        if (r.reply_type == AMQP_RESPONSE_NORMAL)
            fail("a delivery from a deleted queue");
        if (r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            amqp_frame_t f;
            check_status(amqp_simple_wait_frame_noblock(c, &f, &tv), "wait_frame");
            if (f.frame_type != AMQP_FRAME_METHOD || f.payload.method.id != AMQP_BASIC_CANCEL_METHOD)
                fail("frame type %d method 0x%08X", f.frame_type, f.payload.method.id);
            amqp_basic_cancel_t *m = f.payload.method.decoded;
            printf("frame on channel %u: %s, tag %.*s\n", f.channel, amqp_method_name(f.payload.method.id),
                   (int)m->consumer_tag.len, (char *)m->consumer_tag.bytes);
        }
        check_reply(amqp_channel_close(c, 2, AMQP_REPLY_SUCCESS), "channel.close 2");
        disconnect(c);
    }
}

/* amqp_channel_close on a channel the broker has closed, before the program answered close-ok:
 * librabbitmq gets close-ok (the broker answers a crossing close), as often as it asks; after the
 * program's close-ok the number can be opened again. Also when the close came as a frame. */
void close_after_error(const char *url, const char *prefix)
{
    char missing[256];
    snprintf(missing, sizeof missing, "%s.missing", prefix);
    amqp_connection_state_t c = connect_to(url);
    amqp_channel_open(c, 3);
    check_reply(amqp_get_rpc_reply(c), "channel.open 3");
    amqp_queue_declare(c, 3, amqp_cstring_bytes(missing), 1, 0, 0, 0, amqp_empty_table);
    print_reply("passive declare on 3", amqp_get_rpc_reply(c));
    print_reply("channel.close 3", amqp_channel_close(c, 3, AMQP_REPLY_SUCCESS));
    print_reply("channel.close 3 again", amqp_channel_close(c, 3, AMQP_REPLY_SUCCESS));

    amqp_channel_open(c, 4);
    check_reply(amqp_get_rpc_reply(c), "channel.open 4");
    amqp_queue_declare(c, 4, amqp_cstring_bytes(missing), 1, 0, 0, 0, amqp_empty_table);
    print_reply("passive declare on 4", amqp_get_rpc_reply(c));
    amqp_channel_close_ok_t close_ok = {0};
    check_status(amqp_send_method(c, 4, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "channel.close-ok 4");
    amqp_channel_open(c, 4);
    print_reply("reopen 4 after close-ok", amqp_get_rpc_reply(c));
    print_reply("channel.close 4", amqp_channel_close(c, 4, AMQP_REPLY_SUCCESS));

    /* the broker's close as a frame: a publish to a missing exchange */
    amqp_channel_open(c, 5);
    check_reply(amqp_get_rpc_reply(c), "channel.open 5");
    check_status(amqp_basic_publish(c, 5, amqp_cstring_bytes(missing), amqp_cstring_bytes("k"), 0, 0, NULL,
                                    amqp_cstring_bytes("x")),
                 "publish to a missing exchange");
    amqp_frame_t f;
    struct timeval tv = {5, 0};
    check_status(amqp_simple_wait_frame_noblock(c, &f, &tv), "wait for the close");
    if (f.frame_type != AMQP_FRAME_METHOD)
        fail("frame type %d", f.frame_type);
    printf("frame on %u: %s %u\n", f.channel, amqp_method_name(f.payload.method.id),
           f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ? ((amqp_channel_close_t *)f.payload.method.decoded)->reply_code
                                                            : 0);
    print_reply("channel.close 5", amqp_channel_close(c, 5, AMQP_REPLY_SUCCESS));
    check_status(amqp_send_method(c, 5, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "channel.close-ok 5");
    amqp_channel_open(c, 5);
    print_reply("reopen 5 after close-ok", amqp_get_rpc_reply(c));
    print_reply("channel.close 5 again", amqp_channel_close(c, 5, AMQP_REPLY_SUCCESS));
    disconnect(c);
}

/* An RPC that times out: librabbitmq documents that the connection is closed then; later calls
 * report the closed socket. (1 us for the declare of a quorum queue, which takes the broker
 * milliseconds: a fast reply could otherwise beat even 1 us on either library.) */
void rpc_timeout(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.quorum", prefix);
    amqp_connection_state_t c = connect_to(url);
    struct timeval tv = {0, 1};
    check_status(amqp_set_rpc_timeout(c, &tv), "amqp_set_rpc_timeout");
    amqp_table_entry_t qt = {amqp_cstring_bytes("x-queue-type"), {AMQP_FIELD_KIND_UTF8, {.bytes = {6, "quorum"}}}};
    amqp_table_t args = {1, &qt};
    amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, args);
    print_reply("quorum queue declare with a 1 us timeout", amqp_get_rpc_reply(c));
    check_status(amqp_set_rpc_timeout(c, NULL), "amqp_set_rpc_timeout NULL");
    printf("sockfd after the timeout: %d\n", amqp_get_sockfd(c));
    printf("publish: %s\n", amqp_error_string2(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes("q"), 0, 0,
                                                                  NULL, amqp_cstring_bytes("x"))));
    printf("ack: %s\n", amqp_error_string2(amqp_basic_ack(c, 1, 1, 0)));
    amqp_queue_declare(c, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    print_reply("declare again", amqp_get_rpc_reply(c));
    amqp_channel_open(c, 2);
    print_reply("channel.open 2", amqp_get_rpc_reply(c));
    amqp_frame_t f;
    struct timeval w = {1, 0};
    printf("wait_frame: %s\n", amqp_error_string2(amqp_simple_wait_frame_noblock(c, &f, &w)));
    amqp_envelope_t env;
    amqp_rpc_reply_t r = amqp_consume_message(c, &env, &w, 0);
    printf("consume_message: type %d %s\n", r.reply_type, amqp_error_string2(r.library_error));
    print_reply("channel.close", amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS));
    print_reply("connection.close", amqp_connection_close(c, AMQP_REPLY_SUCCESS));
    check_status(amqp_destroy_connection(c), "destroy");
    c = connect_to(url); /* the quorum queue stays: delete it */
    amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
    check_reply(amqp_get_rpc_reply(c), "queue.delete");
    disconnect(c);
}

/* A program that waits for its socket to be readable before it reads frames (as event loops and
 * ffmpeg's amqp:// reader do), checking amqp_data_in_buffer / amqp_frames_enqueued first as
 * librabbitmq requires: every queued delivery is read, none waits for more bytes from the
 * broker. The descriptor also takes SOL_SOCKET options (php-amqp sets SO_RCVTIMEO on it). */
void poll_socket(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.poll", prefix);
    amqp_connection_state_t c = connect_to(url);
    declare(c, q);
    amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "basic.consume");
    publish_n(c, q, 30, 500); /* (no call that reads follows until the loop) */
    struct timespec pause = {1, 0};
    nanosleep(&pause, NULL); /* all 30 have arrived */
    int fd = amqp_get_sockfd(c);
    struct timeval rcv = {10, 0};
    printf("setsockopt SO_RCVTIMEO: %d\n", setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv));
    int got = 0, polls = 0;
    for (int i = 0; i < 30; i++) {
        if (!amqp_data_in_buffer(c) && !amqp_frames_enqueued(c)) {
            struct pollfd p = {fd, POLLIN, 0};
            polls++;
            if (poll(&p, 1, 3000) != 1) {
                printf("stalled: the socket is not readable with %d of 30 read\n", got);
                break;
            }
        }
        amqp_envelope_t env;
        struct timeval tv = {5, 0};
        amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            printf("consume_message: %s\n", amqp_error_string2(r.library_error));
            break;
        }
        got++;
        amqp_destroy_envelope(&env);
        amqp_maybe_release_buffers(c);
    }
    printf("read %d of 30 deliveries, waiting for the socket when nothing was buffered\n", got);
    (void)polls;
    delete_queue(c, q);
    disconnect(c);
}
