/* compat_programs scenarios: reading messages when something else comes, out of memory while a
 * message is read, and RPC replies to calls refused before sending. */
#include "compat_programs.h"

/* A queue only this connection uses (exclusive: the broker deletes it with the connection). */
static void private_queue(amqp_connection_state_t c, const char *q)
{
    amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "queue.declare");
}

static void consume_no_ack(amqp_connection_state_t c, amqp_channel_t ch, const char *q)
{
    amqp_basic_consume(c, ch, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "basic.consume");
}

static void publish_to(amqp_connection_state_t c, const char *q, const amqp_basic_properties_t *p, amqp_bytes_t body)
{
    check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, p, body), "basic.publish");
}

static void pause_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Reads the next frame (any channel, 5 s at most) and says what it is. */
static amqp_frame_t next_frame(amqp_connection_state_t c, const char *what)
{
    amqp_frame_t f;
    struct timeval tv = {5, 0};
    check_status(amqp_simple_wait_frame_noblock(c, &f, &tv), what);
    if (f.frame_type == AMQP_FRAME_METHOD)
        printf("%s: channel %u %s\n", what, f.channel, amqp_method_name(f.payload.method.id));
    else if (f.frame_type == AMQP_FRAME_HEADER)
        printf("%s: channel %u content header, body size %llu\n", what, f.channel,
               (unsigned long long)f.payload.properties.body_size);
    else if (f.frame_type == AMQP_FRAME_BODY)
        printf("%s: channel %u body frame, %zu bytes\n", what, f.channel, f.payload.body_fragment.len);
    else
        printf("%s: frame type %d\n", what, f.frame_type);
    return f;
}

/* A queue name of exactly `len` characters (its deliveries' routing key), made from the prefix. */
static void name_of_length(char *out, size_t len, const char *prefix, const char *what)
{
    int n = snprintf(out, len + 1, "%s.%s.", prefix, what);
    if (n < 0 || (size_t)n >= len)
        fail("prefix too long for a %zu-character name", len);
    memset(out + n, 'k', len - (size_t)n);
    out[len] = '\0';
}

/* amqp_read_message when the next frame on its channel is no content header: a basic.deliver (the
 * program skipped it) goes back to the front of the queue, ahead of another channel's frames that
 * came before it, and the call returns AMQP_STATUS_UNEXPECTED_STATE; the broker's channel.close is
 * read and returned as a server exception. Afterwards the channel reopens and both messages read
 * as usual. */
void read_message_errors(const char *url, const char *prefix)
{
    char q1[256], q2[256], missing[256];
    snprintf(q1, sizeof q1, "%s.read-1", prefix);
    snprintf(q2, sizeof q2, "%s.read-2", prefix);
    snprintf(missing, sizeof missing, "%s.missing", prefix);
    amqp_connection_state_t c = connect_to(url);
    amqp_message_t m;

    /* the broker closes the channel (a publish to a missing exchange) while read_message waits */
    amqp_channel_open(c, 3);
    check_reply(amqp_get_rpc_reply(c), "channel.open 3");
    check_status(amqp_basic_publish(c, 3, amqp_cstring_bytes(missing), amqp_cstring_bytes("k"), 0, 0, NULL,
                                    amqp_cstring_bytes("x")),
                 "publish to a missing exchange");
    print_reply("read_message on a channel the broker closes", amqp_read_message(c, 3, &m, 0));
    amqp_channel_close_ok_t close_ok = {0};
    check_status(amqp_send_method(c, 3, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "channel.close-ok 3");
    amqp_channel_open(c, 3);
    print_reply("reopen 3 after close-ok", amqp_get_rpc_reply(c));
    print_reply("channel.close 3", amqp_channel_close(c, 3, AMQP_REPLY_SUCCESS));

    /* a basic.deliver the program did not read: channel 2's delivery first, then channel 1's (both
       arrived before the reads) */
    amqp_channel_open(c, 2);
    check_reply(amqp_get_rpc_reply(c), "channel.open 2");
    private_queue(c, q1);
    private_queue(c, q2);
    consume_no_ack(c, 2, q2);
    consume_no_ack(c, 1, q1);
    publish_to(c, q2, NULL, amqp_cstring_bytes("for channel 2"));
    pause_ms(300);
    publish_to(c, q1, NULL, amqp_cstring_bytes("for channel 1"));
    pause_ms(300);
    print_reply("read_message on 1 with its basic.deliver unread", amqp_read_message(c, 1, &m, 0));
    amqp_frame_t f = next_frame(c, "the next frame");
    if (f.frame_type != AMQP_FRAME_METHOD || f.payload.method.id != AMQP_BASIC_DELIVER_METHOD)
        fail("expected a basic.deliver");
    check_reply(amqp_read_message(c, f.channel, &m, 0), "read_message");
    printf("its message: %.*s\n", (int)m.body.len, (char *)m.body.bytes);
    amqp_destroy_message(&m);
    amqp_envelope_t env;
    struct timeval tv = {5, 0};
    check_reply(amqp_consume_message(c, &env, &tv, 0), "consume_message");
    printf("then consume_message: channel %u, %.*s\n", env.channel, (int)env.message.body.len,
           (char *)env.message.body.bytes);
    amqp_destroy_envelope(&env);
    amqp_maybe_release_buffers(c);
    check_reply(amqp_channel_close(c, 2, AMQP_REPLY_SUCCESS), "channel.close 2");
    disconnect(c);
}

/* Out of memory while a message is read (alloc_fail.c makes one allocation of librabbitmq.so.4
 * fail). Where both libraries allocate the same copy the outcome is compared as is: the
 * properties' copy (the failed read keeps nothing: its pool is empty) and the body's buffer
 * (AMQP_STATUS_NO_MEMORY; compat_valgrind sees whether anything leaked) in amqp_read_message, the
 * routing key's copy in amqp_consume_message (AMQP_STATUS_NO_MEMORY, the content frames stay).
 * Where only the compat library makes a copy (a short property string; the get-ok's routing key of
 * amqp_basic_get and of amqp_send_method(BASIC_GET)), the real library just succeeds: the line says
 * whether the result is right or an out-of-memory error, never a result with a string missing. */
void out_of_memory(const char *url, const char *prefix)
{
    char q[256], q_consume[202], q_get[204];
    snprintf(q, sizeof q, "%s.oom", prefix);
    name_of_length(q_consume, 201, prefix, "oom-consume");
    name_of_length(q_get, 203, prefix, "oom-get");
    amqp_connection_state_t c = connect_to(url);
    private_queue(c, q);
    private_queue(c, q_consume);
    private_queue(c, q_get);
    consume_no_ack(c, 1, q);
    amqp_message_t m;
    amqp_rpc_reply_t r;
    int failed;

    /* the properties' copy: a header value of 40000 bytes (a large block in both pools) */
    char *value = malloc(40000);
    memset(value, 'v', 40000);
    amqp_table_entry_t he = {amqp_cstring_bytes("big"), {AMQP_FIELD_KIND_UTF8, {.bytes = {40000, value}}}};
    amqp_basic_properties_t p;
    memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_HEADERS_FLAG;
    p.headers = (amqp_table_t){1, &he};
    publish_to(c, q, &p, amqp_cstring_bytes("small"));
    next_frame(c, "delivery");
    if (alloc_fail_arm(ALLOC_FAIL_CALLOC, 40000, 0, 1) != 0)
        fail("librabbitmq.so.4 not found");
    r = amqp_read_message(c, 1, &m, 0);
    failed = alloc_fail_disarm();
    print_reply("read_message, the properties' copy failing", r);
    printf("failed allocations %d; the message keeps %d pool blocks, %s body\n", failed,
           m.pool.pages.num_blocks + m.pool.large_blocks.num_blocks, m.body.bytes ? "a" : "no");
    next_frame(c, "then");
    free(value);

    /* the body's buffer: 48000 bytes, with properties already copied */
    size_t big = 48000;
    char *body = calloc(1, big);
    memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    p.content_type = amqp_cstring_bytes("application/octet-stream");
    p.message_id = amqp_cstring_bytes("oom-body");
    publish_to(c, q, &p, (amqp_bytes_t){big, body});
    next_frame(c, "delivery");
    alloc_fail_arm(ALLOC_FAIL_MALLOC, big, 0, 1);
    r = amqp_read_message(c, 1, &m, 0);
    failed = alloc_fail_disarm();
    print_reply("read_message, the body's buffer failing", r);
    printf("failed allocations %d; %s body\n", failed, m.body.bytes ? "a" : "no");
    memset(&m, 0, sizeof m); /* a failed read leaves nothing to destroy: a leak would be lost now */
    next_frame(c, "then");
    free(body);

    /* a short property string (216 bytes: the compat pool allocates it alone, librabbitmq in a page) */
    char ct[217];
    memset(ct, 't', 216);
    ct[216] = '\0';
    memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG;
    p.content_type = amqp_cstring_bytes(ct);
    publish_to(c, q, &p, amqp_cstring_bytes("typed"));
    next_frame(c, "delivery");
    alloc_fail_arm(ALLOC_FAIL_CALLOC, 216, 0, 1);
    r = amqp_read_message(c, 1, &m, 0);
    alloc_fail_disarm();
    int intact = r.reply_type == AMQP_RESPONSE_NORMAL && m.properties.content_type.len == 216 &&
                 memcmp(m.properties.content_type.bytes, ct, 216) == 0;
    int no_memory = r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_NO_MEMORY;
    printf("read_message, a property's copy failing where made: %s\n",
           intact || no_memory ? "intact, or out of memory" : "WRONG, a property missing");
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        amqp_destroy_message(&m);
    } else {
        amqp_frame_t f;
        check_status(amqp_simple_wait_frame(c, &f), "the body frame left");
    }

    /* amqp_consume_message: the routing key's copy (201 bytes, nothing else has that length) */
    consume_no_ack(c, 1, q_consume);
    publish_to(c, q_consume, NULL, amqp_cstring_bytes("routed"));
    pause_ms(300);
    amqp_envelope_t env;
    struct timeval tv = {5, 0};
    alloc_fail_arm(ALLOC_FAIL_MALLOC, 201, 0, 1);
    r = amqp_consume_message(c, &env, &tv, 0);
    failed = alloc_fail_disarm();
    print_reply("consume_message, the routing key's copy failing", r);
    printf("failed allocations %d\n", failed);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        printf("the message was read (its routing key %s)\n", env.routing_key.bytes ? "copied" : "missing");
        amqp_destroy_envelope(&env);
    } else {
        next_frame(c, "then");
        next_frame(c, "then");
    }

    /* amqp_basic_get: the get-ok's routing key (203 bytes), copied only by the compat library */
    publish_to(c, q_get, NULL, amqp_cstring_bytes("got"));
    pause_ms(300);
    alloc_fail_arm(ALLOC_FAIL_CALLOC, 203, 0, 1);
    r = amqp_basic_get(c, 1, amqp_cstring_bytes(q_get), 1);
    alloc_fail_disarm();
    amqp_basic_get_ok_t *g = r.reply_type == AMQP_RESPONSE_NORMAL && r.reply.id == AMQP_BASIC_GET_OK_METHOD
                                 ? r.reply.decoded : NULL;
    intact = g && g->routing_key.len == 203 && memcmp(g->routing_key.bytes, q_get, 203) == 0;
    no_memory = r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_NO_MEMORY;
    printf("basic.get, the routing key's copy failing where made: %s\n",
           intact || no_memory ? "intact, or out of memory" : "WRONG, a routing key missing");
    if (g) {
        check_reply(amqp_read_message(c, 1, &m, 0), "read_message after basic.get");
        amqp_destroy_message(&m);
    }

    /* the same through amqp_send_method: its get-ok frame's own copy (the second) */
    publish_to(c, q_get, NULL, amqp_cstring_bytes("got again"));
    pause_ms(300);
    amqp_basic_get_t get = {0, amqp_cstring_bytes(q_get), 1};
    amqp_method_t reply = {0, NULL};
    alloc_fail_arm(ALLOC_FAIL_CALLOC, 203, 1, 1);
    int st = amqp_send_method(c, 1, AMQP_BASIC_GET_METHOD, &get);
    if (st == AMQP_STATUS_OK)
        check_status(amqp_simple_wait_method(c, 1, AMQP_BASIC_GET_OK_METHOD, &reply), "wait for get-ok");
    alloc_fail_disarm();
    g = reply.decoded;
    intact = g && g->routing_key.len == 203 && memcmp(g->routing_key.bytes, q_get, 203) == 0;
    printf("send_method(BASIC_GET), the routing key's copy failing where made: %s\n",
           intact || st == AMQP_STATUS_NO_MEMORY ? "intact, or out of memory" : "WRONG, a routing key missing");
    if (g) {
        check_reply(amqp_read_message(c, 1, &m, 0), "read_message after send_method(BASIC_GET)");
        amqp_destroy_message(&m);
    }
    /* nothing is left over (no content frames of a get-ok that was not returned) */
    struct timeval brief = {0, 300000};
    r = amqp_consume_message(c, &env, &brief, 0);
    print_reply("finally consume_message", r);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        amqp_destroy_envelope(&env);
    disconnect(c);
}

/* amqp_channel_close / amqp_connection_close refuse a code that is no reply code before sending
 * anything (the channel and connection stay usable); amqp_simple_rpc / _decoded of a method that
 * cannot be sent return that library error, not the server exception of an earlier call. */
void rpc_replies(const char *url, const char *prefix)
{
    char missing[256];
    snprintf(missing, sizeof missing, "%s.missing", prefix);
    amqp_connection_state_t c = connect_to(url);
    print_reply("channel.close with code -1", amqp_channel_close(c, 1, -1));
    print_reply("channel.close with code 65536", amqp_channel_close(c, 1, 65536));
    print_reply("connection.close with code 70000", amqp_connection_close(c, 70000));
    amqp_queue_declare(c, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    print_reply("a declare on channel 1 then", amqp_get_rpc_reply(c));
    print_reply("channel.close 1", amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS));
    print_reply("connection.close", amqp_connection_close(c, AMQP_REPLY_SUCCESS));
    check_status(amqp_destroy_connection(c), "destroy");

    c = connect_to(url);
    amqp_queue_declare(c, 1, amqp_cstring_bytes(missing), 1, 0, 0, 0, amqp_empty_table);
    print_reply("passive declare of a missing queue", amqp_get_rpc_reply(c));
    amqp_channel_close_ok_t close_ok = {0};
    check_status(amqp_send_method(c, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "channel.close-ok");
    const amqp_method_number_t unknown = 0x00DE00AD;
    uint64_t any[8] = {0};
    amqp_method_number_t replies[] = {AMQP_QUEUE_DECLARE_OK_METHOD, 0};
    print_reply("then simple_rpc of an unknown method", amqp_simple_rpc(c, 1, unknown, replies, any));
    void *d = amqp_simple_rpc_decoded(c, 1, unknown, AMQP_QUEUE_DECLARE_OK_METHOD, any);
    printf("simple_rpc_decoded of it: %s\n", d ? "a result" : "NULL");
    print_reply("and the rpc reply", amqp_get_rpc_reply(c));
    printf("send_method of it: %s\n", amqp_error_string2(amqp_send_method(c, 1, unknown, any)));
    amqp_channel_open(c, 1);
    check_reply(amqp_get_rpc_reply(c), "reopen channel 1");
    disconnect(c);
}
