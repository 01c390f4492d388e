#define _GNU_SOURCE /* memmem */
/*
 * Small programs in the style of librabbitmq's examples, compiled once against librabbitmq-dev's
 * headers and linked to librabbitmq.so.4; compat_programs.sh runs the same binary on the real
 * library and on the compat one and compares what it prints.
 *
 *   compat_programs SCENARIO AMQP_URL QUEUE_PREFIX
 *   SCENARIO: producer_consumer | rpc | confirms | errors | tx_returns | connection_error | login | generic | close_keeps | cancel_notify | close_after_error | rpc_timeout | poll_socket | raw_frames | read_message | out_of_memory | rpc_replies | tls (AMQPS_URL)
 *
 * Output is deterministic (no queue names, tags or timings); exit 0 on success, 1 with
 * "FAIL: ..." on stderr.
 */
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <amqp_framing.h>

#include "alloc_fail.h"

static void fail(const char *fmt, ...)
{
    va_list ap;
    fputs("FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void check_reply(amqp_rpc_reply_t r, const char *what)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return;
    case AMQP_RESPONSE_NONE: fail("%s: missing RPC reply type", what); break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: fail("%s: %s", what, amqp_error_string2(r.library_error)); break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = r.reply.decoded;
            fail("%s: server connection error %u: %.*s", what, m->reply_code, (int)m->reply_text.len,
                 (char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = r.reply.decoded;
            fail("%s: server channel error %u: %.*s", what, m->reply_code, (int)m->reply_text.len,
                 (char *)m->reply_text.bytes);
        }
        fail("%s: unknown server error, method id 0x%08X", what, r.reply.id);
    }
}

static void check_status(int st, const char *what)
{
    if (st < 0)
        fail("%s: %s", what, amqp_error_string2(st));
}

static amqp_connection_state_t connect_to(const char *url)
{
    struct amqp_connection_info ci;
    char *u = strdup(url);
    check_status(amqp_parse_url(u, &ci), "amqp_parse_url");
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    if (s == NULL)
        fail("amqp_tcp_socket_new");
    check_status(amqp_socket_open(s, ci.host, ci.port), "amqp_socket_open");
    check_reply(amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password), "login");
    free(u);
    if (amqp_get_frame_max(c) < 4096 || amqp_get_sockfd(c) < 0)
        fail("frame_max %d sockfd %d", amqp_get_frame_max(c), amqp_get_sockfd(c));
    amqp_channel_open(c, 1);
    check_reply(amqp_get_rpc_reply(c), "channel.open");
    return c;
}

static void disconnect(amqp_connection_state_t c)
{
    check_reply(amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS), "channel.close");
    check_reply(amqp_connection_close(c, AMQP_REPLY_SUCCESS), "connection.close");
    check_status(amqp_destroy_connection(c), "destroy");
}

static void declare(amqp_connection_state_t c, const char *q)
{
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "queue.declare");
    printf("declared: %u messages, %u consumers\n", ok->message_count, ok->consumer_count);
}

static void delete_queue(amqp_connection_state_t c, const char *q)
{
    amqp_queue_delete_ok_t *ok = amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
    check_reply(amqp_get_rpc_reply(c), "queue.delete");
    printf("deleted: %u messages\n", ok->message_count);
}

static void print_table(const amqp_table_t *t, int depth);

static void print_value(const amqp_field_value_t *v, int depth)
{
    switch (v->kind) {
    case AMQP_FIELD_KIND_BOOLEAN: printf("bool %d", v->value.boolean); break;
    case AMQP_FIELD_KIND_I8: printf("i8 %d", v->value.i8); break;
    case AMQP_FIELD_KIND_U8: printf("u8 %u", v->value.u8); break;
    case AMQP_FIELD_KIND_I16: printf("i16 %d", v->value.i16); break;
    case AMQP_FIELD_KIND_U16: printf("u16 %u", v->value.u16); break;
    case AMQP_FIELD_KIND_I32: printf("i32 %d", v->value.i32); break;
    case AMQP_FIELD_KIND_U32: printf("u32 %u", v->value.u32); break;
    case AMQP_FIELD_KIND_I64: printf("i64 %lld", (long long)v->value.i64); break;
    case AMQP_FIELD_KIND_U64: printf("u64 %llu", (unsigned long long)v->value.u64); break;
    case AMQP_FIELD_KIND_TIMESTAMP: printf("timestamp %llu", (unsigned long long)v->value.u64); break;
    case AMQP_FIELD_KIND_F32: printf("f32 %g", v->value.f32); break;
    case AMQP_FIELD_KIND_F64: printf("f64 %g", v->value.f64); break;
    case AMQP_FIELD_KIND_DECIMAL: printf("decimal %u/%u", v->value.decimal.value, v->value.decimal.decimals); break;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
        printf("%c \"%.*s\"", v->kind, (int)v->value.bytes.len, (char *)v->value.bytes.bytes);
        break;
    case AMQP_FIELD_KIND_VOID: printf("void"); break;
    case AMQP_FIELD_KIND_TABLE: printf("table "); print_table(&v->value.table, depth + 1); break;
    case AMQP_FIELD_KIND_ARRAY:
        printf("array [");
        for (int i = 0; i < v->value.array.num_entries; i++) {
            if (i)
                printf(", ");
            print_value(&v->value.array.entries[i], depth + 1);
        }
        printf("]");
        break;
    default: printf("kind '%c'", v->kind);
    }
}

static void print_table(const amqp_table_t *t, int depth)
{
    printf("{");
    for (int i = 0; i < t->num_entries; i++) {
        printf("%s%.*s: ", i ? ", " : "", (int)t->entries[i].key.len, (char *)t->entries[i].key.bytes);
        print_value(&t->entries[i].value, depth);
    }
    printf("}");
}

static void print_props(const amqp_basic_properties_t *p)
{
#define PS(flag, name)                                                                             \
    if (p->_flags & flag)                                                                          \
        printf(" " #name "=%.*s", (int)p->name.len, (char *)p->name.bytes);
    PS(AMQP_BASIC_CONTENT_TYPE_FLAG, content_type)
    PS(AMQP_BASIC_CONTENT_ENCODING_FLAG, content_encoding)
    PS(AMQP_BASIC_CORRELATION_ID_FLAG, correlation_id)
    PS(AMQP_BASIC_EXPIRATION_FLAG, expiration)
    PS(AMQP_BASIC_MESSAGE_ID_FLAG, message_id)
    PS(AMQP_BASIC_TYPE_FLAG, type)
    PS(AMQP_BASIC_USER_ID_FLAG, user_id)
    PS(AMQP_BASIC_APP_ID_FLAG, app_id)
#undef PS
    if (p->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
        printf(" delivery_mode=%u", p->delivery_mode);
    if (p->_flags & AMQP_BASIC_PRIORITY_FLAG)
        printf(" priority=%u", p->priority);
    if (p->_flags & AMQP_BASIC_TIMESTAMP_FLAG)
        printf(" timestamp=%llu", (unsigned long long)p->timestamp);
    if (p->_flags & AMQP_BASIC_HEADERS_FLAG) {
        printf(" headers=");
        print_table(&p->headers, 0);
    }
    printf("\n");
}

/* A rich header table: every kind RabbitMQ keeps. */
static amqp_table_t rich_headers(amqp_table_entry_t *e, amqp_field_value_t *arr, amqp_table_entry_t *inner)
{
    int n = 0;
#define ENTRY(k, kindv, member, val)                                                               \
    e[n].key = amqp_cstring_bytes(k);                                                              \
    e[n].value.kind = kindv;                                                                       \
    e[n].value.value.member = val;                                                                 \
    n++;
    ENTRY("bool", AMQP_FIELD_KIND_BOOLEAN, boolean, 1)
    ENTRY("i8", AMQP_FIELD_KIND_I8, i8, -8)
    ENTRY("i16", AMQP_FIELD_KIND_I16, i16, -1600)
    ENTRY("i32", AMQP_FIELD_KIND_I32, i32, -320000)
    ENTRY("i64", AMQP_FIELD_KIND_I64, i64, -6400000000LL)
    ENTRY("f64", AMQP_FIELD_KIND_F64, f64, 2.5)
    ENTRY("ts", AMQP_FIELD_KIND_TIMESTAMP, u64, 1700000000ULL)
    ENTRY("str", AMQP_FIELD_KIND_UTF8, bytes, amqp_cstring_bytes("hello"))
    ENTRY("bin", AMQP_FIELD_KIND_BYTES, bytes, amqp_cstring_bytes("raw"))
    arr[0].kind = AMQP_FIELD_KIND_I32;
    arr[0].value.i32 = 1;
    arr[1].kind = AMQP_FIELD_KIND_UTF8;
    arr[1].value.bytes = amqp_cstring_bytes("two");
    e[n].key = amqp_cstring_bytes("arr");
    e[n].value.kind = AMQP_FIELD_KIND_ARRAY;
    e[n].value.value.array.num_entries = 2;
    e[n].value.value.array.entries = arr;
    n++;
    inner[0].key = amqp_cstring_bytes("deep");
    inner[0].value.kind = AMQP_FIELD_KIND_UTF8;
    inner[0].value.value.bytes = amqp_cstring_bytes("yes");
    e[n].key = amqp_cstring_bytes("nested");
    e[n].value.kind = AMQP_FIELD_KIND_TABLE;
    e[n].value.value.table.num_entries = 1;
    e[n].value.value.table.entries = inner;
    n++;
    ENTRY("dec", AMQP_FIELD_KIND_DECIMAL, decimal.value, 12345)
    e[n - 1].value.value.decimal.decimals = 2;
#undef ENTRY
    amqp_table_t t = {n, e};
    return t;
}

static void producer_consumer(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.work", prefix);
    amqp_connection_state_t c = connect_to(url);
    declare(c, q);
    amqp_table_entry_t e[16], inner[1];
    amqp_field_value_t arr[2];
    for (int i = 0; i < 50; i++) {
        amqp_basic_properties_t p;
        memset(&p, 0, sizeof p);
        p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG |
                   AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
                   AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG;
        p.content_type = amqp_cstring_bytes("text/plain");
        p.delivery_mode = 2;
        p.priority = (uint8_t)(i % 10);
        p.timestamp = 1700000000u + (uint64_t)i;
        p.app_id = amqp_cstring_bytes("compat_programs");
        p.type = amqp_cstring_bytes("test");
        p.correlation_id = amqp_cstring_bytes("corr");
        char mid[32], body[64];
        snprintf(mid, sizeof mid, "id-%d", i);
        p.message_id = amqp_cstring_bytes(mid);
        p.headers = rich_headers(e, arr, inner);
        snprintf(body, sizeof body, "body %d", i);
        check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, &p,
                                        amqp_cstring_bytes(body)),
                     "basic.publish");
    }
    /* a large body, split into several frames */
    size_t big = 300000;
    char *large = malloc(big);
    for (size_t i = 0; i < big; i++)
        large[i] = (char)('a' + i % 26);
    amqp_bytes_t lb = {big, large};
    check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL, lb), "publish large");
    /* basic.get + amqp_read_message */
    amqp_rpc_reply_t r = amqp_basic_get(c, 1, amqp_cstring_bytes(q), 0);
    check_reply(r, "basic.get");
    if (r.reply.id != AMQP_BASIC_GET_OK_METHOD)
        fail("basic.get: empty");
    amqp_basic_get_ok_t *g = r.reply.decoded;
    printf("get: tag %llu redelivered %d left %u\n", (unsigned long long)g->delivery_tag, g->redelivered,
           g->message_count);
    uint64_t get_tag = g->delivery_tag;
    amqp_message_t m;
    check_reply(amqp_read_message(c, 1, &m, 0), "read_message");
    printf("get body: %.*s;", (int)m.body.len, (char *)m.body.bytes);
    print_props(&m.properties);
    amqp_destroy_message(&m);
    check_status(amqp_basic_ack(c, 1, get_tag, 0), "ack get");
    amqp_maybe_release_buffers(c);

    /* consumer: amqp_consume_message */
    amqp_basic_qos(c, 1, 0, 10, 0);
    check_reply(amqp_get_rpc_reply(c), "basic.qos");
    amqp_basic_consume_ok_t *ok = amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("ctag-1"), 0,
                                                     0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "basic.consume");
    printf("consumer tag: %.*s\n", (int)ok->consumer_tag.len, (char *)ok->consumer_tag.bytes);
    for (int i = 1; i < 51; i++) {
        amqp_envelope_t env;
        amqp_maybe_release_buffers(c);
        struct timeval tv = {10, 0};
        check_reply(amqp_consume_message(c, &env, &tv, 0), "consume_message");
        if (i < 50 || env.message.body.len < 1000) {
            printf("deliver ch %u tag %llu ctag %.*s rk-matches %d body %.*s;", env.channel,
                   (unsigned long long)env.delivery_tag, (int)env.consumer_tag.len, (char *)env.consumer_tag.bytes,
                   env.routing_key.len == strlen(q) && memcmp(env.routing_key.bytes, q, strlen(q)) == 0,
                   (int)env.message.body.len, (char *)env.message.body.bytes);
            if (i < 3)
                print_props(&env.message.properties);
            else
                printf(" priority=%u\n", env.message.properties.priority);
        } else {
            int same = env.message.body.len == big && memcmp(env.message.body.bytes, large, big) == 0;
            printf("deliver large: %zu bytes, intact %d\n", env.message.body.len, same);
        }
        check_status(amqp_basic_ack(c, 1, env.delivery_tag, 0), "ack");
        amqp_destroy_envelope(&env);
    }
    /* nothing more: a short timeout */
    amqp_envelope_t env;
    struct timeval tv = {0, 200000};
    amqp_rpc_reply_t t = amqp_consume_message(c, &env, &tv, 0);
    printf("after last: type %d error %s\n", t.reply_type, amqp_error_string2(t.library_error));
    amqp_basic_cancel(c, 1, amqp_cstring_bytes("ctag-1"));
    check_reply(amqp_get_rpc_reply(c), "basic.cancel");
    free(large);
    delete_queue(c, q);
    disconnect(c);
}

static void rpc(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.rpc", prefix);
    amqp_connection_state_t server = connect_to(url);
    amqp_connection_state_t client = connect_to(url);
    declare(server, q);
    amqp_basic_consume(server, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(server), "server consume");
    amqp_queue_declare_ok_t *rq = amqp_queue_declare(client, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(client), "reply queue");
    amqp_bytes_t reply_to = amqp_bytes_malloc_dup(rq->queue);
    printf("reply queue server-named: %d\n", reply_to.len > 8 && memcmp(reply_to.bytes, "amq.gen-", 8) == 0);
    amqp_basic_consume(client, 1, reply_to, amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(client), "client consume");
    for (int i = 0; i < 5; i++) {
        char corr[32], body[32];
        snprintf(corr, sizeof corr, "req-%d", i);
        snprintf(body, sizeof body, "%d", i * 7);
        amqp_basic_properties_t p;
        memset(&p, 0, sizeof p);
        p._flags = AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
        p.reply_to = reply_to;
        p.correlation_id = amqp_cstring_bytes(corr);
        p.content_type = amqp_cstring_bytes("text/plain");
        check_status(amqp_basic_publish(client, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, &p,
                                        amqp_cstring_bytes(body)), "request");
        /* the server answers */
        amqp_envelope_t req;
        amqp_maybe_release_buffers(server);
        check_reply(amqp_consume_message(server, &req, NULL, 0), "server consume_message");
        char in[32] = {0}, out[64];
        memcpy(in, req.message.body.bytes, req.message.body.len < 31 ? req.message.body.len : 31);
        snprintf(out, sizeof out, "square(%s)=%d", in, atoi(in) * atoi(in));
        amqp_basic_properties_t rp;
        memset(&rp, 0, sizeof rp);
        rp._flags = AMQP_BASIC_CORRELATION_ID_FLAG;
        rp.correlation_id = req.message.properties.correlation_id;
        check_status(amqp_basic_publish(server, 1, amqp_empty_bytes, req.message.properties.reply_to, 0, 0, &rp,
                                        amqp_cstring_bytes(out)), "reply");
        amqp_destroy_envelope(&req);
        /* the client reads its answer */
        amqp_envelope_t ans;
        amqp_maybe_release_buffers(client);
        check_reply(amqp_consume_message(client, &ans, NULL, 0), "client consume_message");
        printf("rpc %.*s -> %.*s\n", (int)ans.message.properties.correlation_id.len,
               (char *)ans.message.properties.correlation_id.bytes, (int)ans.message.body.len,
               (char *)ans.message.body.bytes);
        amqp_destroy_envelope(&ans);
    }
    amqp_bytes_free(reply_to);
    delete_queue(server, q);
    disconnect(client);
    disconnect(server);
}

static void confirms(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.confirms", prefix);
    amqp_connection_state_t c = connect_to(url);
    declare(c, q);
    amqp_confirm_select(c, 1);
    check_reply(amqp_get_rpc_reply(c), "confirm.select");
    int n = 200;
    for (int i = 0; i < n; i++)
        check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL,
                                        amqp_cstring_bytes("confirmed")), "publish");
    uint64_t acked = 0;
    int frames = 0;
    while (acked < (uint64_t)n) {
        amqp_frame_t f;
        struct timeval tv = {10, 0};
        check_status(amqp_simple_wait_frame_noblock(c, &f, &tv), "wait ack");
        if (f.frame_type != AMQP_FRAME_METHOD || f.payload.method.id != AMQP_BASIC_ACK_METHOD)
            fail("expected basic.ack, got %s", amqp_method_name(f.payload.method.id));
        amqp_basic_ack_t *a = f.payload.method.decoded;
        if (a->delivery_tag <= acked || (!a->multiple && a->delivery_tag != acked + 1))
            fail("ack out of order: %llu after %llu", (unsigned long long)a->delivery_tag, (unsigned long long)acked);
        acked = a->delivery_tag;
        frames++;
        amqp_maybe_release_buffers(c);
    }
    printf("confirmed %llu publishes (in at least one ack frame: %d)\n", (unsigned long long)acked, frames >= 1);
    /* mandatory publish to nowhere: basic.return, then the ack */
    check_status(amqp_basic_publish(c, 1, amqp_cstring_bytes("amq.direct"), amqp_cstring_bytes("no-such-route"),
                                    1, 0, NULL, amqp_cstring_bytes("returned body")), "mandatory publish");
    amqp_frame_t f;
    check_status(amqp_simple_wait_frame(c, &f), "wait return");
    if (f.frame_type != AMQP_FRAME_METHOD || f.payload.method.id != AMQP_BASIC_RETURN_METHOD)
        fail("expected basic.return");
    amqp_basic_return_t *ret = f.payload.method.decoded;
    printf("returned: %u %.*s\n", ret->reply_code, (int)ret->reply_text.len, (char *)ret->reply_text.bytes);
    amqp_message_t m;
    check_reply(amqp_read_message(c, f.channel, &m, 0), "read returned message");
    printf("returned body: %.*s\n", (int)m.body.len, (char *)m.body.bytes);
    amqp_destroy_message(&m);
    check_status(amqp_simple_wait_frame(c, &f), "wait ack of return");
    printf("then: %s tag %llu\n", amqp_method_name(f.payload.method.id),
           (unsigned long long)((amqp_basic_ack_t *)f.payload.method.decoded)->delivery_tag);
    delete_queue(c, q);
    disconnect(c);
}

static void errors(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.missing", prefix);
    amqp_connection_state_t c = connect_to(url);
    amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 1, 0, 0, 0, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    printf("passive declare: type %d method %s", r.reply_type, amqp_method_name(r.reply.id));
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        printf(" code %u class %u method %u\n", m->reply_code, m->class_id, m->method_id);
        amqp_channel_close_ok_t close_ok;
        check_status(amqp_send_method(c, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "close-ok");
    } else {
        printf("\n");
    }
    /* the channel number is usable again */
    amqp_channel_open(c, 1);
    check_reply(amqp_get_rpc_reply(c), "reopen channel 1");
    /* a second channel with a high number */
    amqp_channel_open(c, 7);
    check_reply(amqp_get_rpc_reply(c), "open channel 7");
    amqp_exchange_declare(c, 7, amqp_cstring_bytes("amq.direct"), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                          amqp_empty_table);
    r = amqp_get_rpc_reply(c);
    printf("redeclare amq.direct as topic: type %d method %s code %u\n", r.reply_type, amqp_method_name(r.reply.id),
           r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ? ((amqp_channel_close_t *)r.reply.decoded)->reply_code : 0);
    /* channel 1 still works */
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "declare on channel 1");
    printf("channel 1 still open: %d\n", ok != NULL);
    /* an empty basic.get */
    r = amqp_basic_get(c, 1, ok->queue, 1);
    check_reply(r, "get empty");
    printf("empty get: %s\n", amqp_method_name(r.reply.id));
    printf("error strings: %s | %s | %s\n", amqp_error_string2(AMQP_STATUS_TIMEOUT),
           amqp_error_string2(AMQP_STATUS_SSL_ERROR), amqp_error_string2(AMQP_STATUS_CONNECTION_CLOSED));
    printf("version ok: %d\n", amqp_version_number() == AMQP_VERSION && strcmp(amqp_version(), AMQP_VERSION_STRING) == 0);
    /* bad URL */
    char bad[] = "http://nope";
    struct amqp_connection_info ci;
    printf("bad url: %s\n", amqp_error_string2(amqp_parse_url(bad, &ci)));
    /* table clone */
    amqp_table_entry_t e[16], inner[1];
    amqp_field_value_t arr[2];
    amqp_table_t t = rich_headers(e, arr, inner), copy;
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    check_status(amqp_table_clone(&t, &copy, &pool), "table_clone");
    printf("clone: ");
    print_table(&copy, 0);
    printf("\n");
    empty_amqp_pool(&pool);
    /* a publish to a missing exchange: the broker closes the channel asynchronously; publishing
       still "succeeds", and the next call on the channel reports the close */
    amqp_channel_open(c, 3);
    check_reply(amqp_get_rpc_reply(c), "open channel 3");
    char x[300];
    snprintf(x, sizeof x, "%s.no-such-exchange", prefix);
    printf("publish to missing exchange: %s\n",
           amqp_error_string2(amqp_basic_publish(c, 3, amqp_cstring_bytes(x), amqp_cstring_bytes("k"), 0, 0, NULL,
                                                 amqp_cstring_bytes("lost"))));
    struct timespec pause = {0, 300000000};
    nanosleep(&pause, NULL);
    printf("publish again: %s\n",
           amqp_error_string2(amqp_basic_publish(c, 3, amqp_cstring_bytes(x), amqp_cstring_bytes("k"), 0, 0, NULL,
                                                 amqp_cstring_bytes("lost"))));
    amqp_queue_declare(c, 3, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    r = amqp_get_rpc_reply(c);
    printf("next call on the channel: type %d method %s code %u\n", r.reply_type, amqp_method_name(r.reply.id),
           r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD
               ? ((amqp_channel_close_t *)r.reply.decoded)->reply_code : 0);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
        amqp_channel_close_ok_t close_ok;
        check_status(amqp_send_method(c, 3, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "close-ok 3");
    }
    disconnect(c);
}

static void tx_returns(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.tx", prefix);
    amqp_connection_state_t c = connect_to(url);
    declare(c, q);
    amqp_exchange_declare(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("fanout"), 0, 0, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "exchange.declare");
    amqp_queue_bind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(q), amqp_cstring_bytes("any"), amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "queue.bind");
    amqp_tx_select(c, 1);
    check_reply(amqp_get_rpc_reply(c), "tx.select");
    check_status(amqp_basic_publish(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("x"), 0, 0, NULL,
                                    amqp_cstring_bytes("rolled back")), "publish 1");
    amqp_tx_rollback(c, 1);
    check_reply(amqp_get_rpc_reply(c), "tx.rollback");
    check_status(amqp_basic_publish(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("x"), 0, 0, NULL,
                                    amqp_cstring_bytes("committed")), "publish 2");
    amqp_tx_commit(c, 1);
    check_reply(amqp_get_rpc_reply(c), "tx.commit");
    amqp_queue_purge_ok_t *p = amqp_queue_purge(c, 1, amqp_cstring_bytes(q));
    check_reply(amqp_get_rpc_reply(c), "queue.purge");
    printf("purged after tx: %u\n", p->message_count);
    amqp_queue_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(q), amqp_cstring_bytes("any"), amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "queue.unbind");
    amqp_exchange_bind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("amq.fanout"), amqp_empty_bytes, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "exchange.bind");
    amqp_exchange_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("amq.fanout"), amqp_empty_bytes, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "exchange.unbind");
    amqp_exchange_delete(c, 1, amqp_cstring_bytes(q), 0);
    check_reply(amqp_get_rpc_reply(c), "exchange.delete");
    amqp_basic_recover(c, 1, 1);
    check_reply(amqp_get_rpc_reply(c), "basic.recover");
    /* nack and reject through basic.get */
    amqp_tx_commit(c, 1);
    check_reply(amqp_get_rpc_reply(c), "tx.commit 2");
    delete_queue(c, q);
    printf("tx, bindings, recover: ok\n");
    disconnect(c);
}

/* A connection-level error during a call (unknown exchange type: 503 COMMAND_INVALID), then what
 * every later call reports. */
static void connection_error(const char *url, const char *prefix)
{
    char x[256];
    snprintf(x, sizeof x, "%s.badtype", prefix);
    amqp_connection_state_t c = connect_to(url);
    amqp_exchange_declare(c, 1, amqp_cstring_bytes(x), amqp_cstring_bytes("no-such-type"), 0, 0, 0, 0,
                          amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    printf("bad exchange type: type %d method %s", r.reply_type, amqp_method_name(r.reply.id));
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        printf(" code %u class %u method %u text %.*s\n", m->reply_code, m->class_id, m->method_id,
               (int)m->reply_text.len, (char *)m->reply_text.bytes);
        amqp_connection_close_ok_t close_ok;
        printf("close-ok: %s\n", amqp_error_string2(amqp_send_method(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok)));
    } else {
        printf("\n");
    }
    /* What later calls report depends, with librabbitmq, on whether the broker has dropped the
       socket yet (a publish may still "succeed"); the compat layer fails them at once. Only the
       deterministic part is compared. */
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

/* Login: negotiated limits for several heartbeat requests, a wrong password, failed socket opens. */
static void login(const char *url, const char *prefix)
{
    (void)prefix;
    int hbs[] = {0, 5, 600};
    struct amqp_connection_info ci;
    char *u = strdup(url);
    check_status(amqp_parse_url(u, &ci), "amqp_parse_url");
    for (int i = 0; i < 3; i++) {
        amqp_connection_state_t c = amqp_new_connection();
        amqp_socket_t *s = amqp_tcp_socket_new(c);
        check_status(amqp_socket_open(s, ci.host, ci.port), "socket open");
        amqp_rpc_reply_t r = amqp_login(c, ci.vhost, 0, 131072, hbs[i], AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
        printf("heartbeat %d: login %d channel_max %d frame_max %d heartbeat %d\n", hbs[i], r.reply_type,
               amqp_get_channel_max(c), amqp_get_frame_max(c), amqp_get_heartbeat(c));
        check_reply(amqp_connection_close(c, AMQP_REPLY_SUCCESS), "connection.close");
        amqp_destroy_connection(c);
    }
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    check_status(amqp_socket_open(s, ci.host, ci.port), "socket open");
    amqp_rpc_reply_t r = amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, "wrong password");
    printf("wrong password: type %d library_error %s method %s", r.reply_type, amqp_error_string2(r.library_error),
           r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ? amqp_method_name(r.reply.id) : "-");
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
        printf(" code %u", ((amqp_connection_close_t *)r.reply.decoded)->reply_code);
    printf("\n");
    amqp_destroy_connection(c);
    c = amqp_new_connection();
    s = amqp_tcp_socket_new(c);
    printf("closed port: %s\n", amqp_error_string2(amqp_socket_open(s, "127.0.0.1", 1)));
    printf("unknown host: %s\n", amqp_error_string2(amqp_socket_open(s, "no-such-host.invalid", 5672)));
    amqp_destroy_connection(c);
    free(u);
}

/* The generic method API: amqp_simple_rpc_decoded, amqp_send_method + amqp_simple_wait_method. */
static void generic(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.generic", prefix);
    amqp_connection_state_t c = connect_to(url);
    amqp_queue_declare_t qd;
    memset(&qd, 0, sizeof qd);
    qd.queue = amqp_cstring_bytes(q);
    qd.durable = 1;
    qd.arguments = amqp_empty_table;
    amqp_queue_declare_ok_t *ok = amqp_simple_rpc_decoded(c, 1, AMQP_QUEUE_DECLARE_METHOD, AMQP_QUEUE_DECLARE_OK_METHOD, &qd);
    check_reply(amqp_get_rpc_reply(c), "simple_rpc queue.declare");
    printf("declare-ok: name matches %d, %u messages\n", ok && ok->queue.len == strlen(q), ok ? ok->message_count : 0);
    for (int i = 0; i < 2; i++)
        check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL,
                                        amqp_cstring_bytes(i ? "second" : "first")), "publish");
    amqp_basic_get_t get;
    memset(&get, 0, sizeof get);
    get.queue = amqp_cstring_bytes(q);
    get.no_ack = 1;
    check_status(amqp_send_method(c, 1, AMQP_BASIC_GET_METHOD, &get), "send basic.get");
    amqp_method_t m;
    check_status(amqp_simple_wait_method(c, 1, AMQP_BASIC_GET_OK_METHOD, &m), "wait get-ok");
    amqp_basic_get_ok_t *g = m.decoded;
    printf("get-ok: tag %llu left %u\n", (unsigned long long)g->delivery_tag, g->message_count);
    amqp_message_t msg;
    check_reply(amqp_read_message(c, 1, &msg, 0), "read_message");
    printf("body: %.*s\n", (int)msg.body.len, (char *)msg.body.bytes);
    amqp_destroy_message(&msg);
    amqp_queue_purge_t pu;
    memset(&pu, 0, sizeof pu);
    pu.queue = amqp_cstring_bytes(q);
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_PURGE_METHOD, &pu), "send queue.purge");
    check_status(amqp_simple_wait_method(c, 1, AMQP_QUEUE_PURGE_OK_METHOD, &m), "wait purge-ok");
    printf("purge-ok: %u\n", ((amqp_queue_purge_ok_t *)m.decoded)->message_count);
    amqp_basic_qos_t qos;
    memset(&qos, 0, sizeof qos);
    qos.prefetch_count = 5;
    amqp_method_number_t qos_ok[] = {AMQP_BASIC_QOS_OK_METHOD, 0};
    check_reply(amqp_simple_rpc(c, 1, AMQP_BASIC_QOS_METHOD, qos_ok, &qos), "simple_rpc basic.qos");
    printf("qos-ok\n");
    /* a broker error through the generic path */
    char missing[300];
    snprintf(missing, sizeof missing, "%s.missing", q);
    memset(&qd, 0, sizeof qd);
    qd.queue = amqp_cstring_bytes(missing);
    qd.passive = 1;
    qd.arguments = amqp_empty_table;
    amqp_method_number_t decl_ok[] = {AMQP_QUEUE_DECLARE_OK_METHOD, 0};
    amqp_rpc_reply_t r = amqp_simple_rpc(c, 1, AMQP_QUEUE_DECLARE_METHOD, decl_ok, &qd);
    printf("passive declare: type %d method %s", r.reply_type, amqp_method_name(r.reply.id));
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        printf(" code %u\n", ((amqp_channel_close_t *)r.reply.decoded)->reply_code);
        amqp_channel_close_ok_t close_ok;
        check_status(amqp_send_method(c, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "close-ok");
    } else {
        printf("\n");
    }
    amqp_channel_open(c, 1);
    check_reply(amqp_get_rpc_reply(c), "reopen");
    amqp_queue_delete_t qdel;
    memset(&qdel, 0, sizeof qdel);
    qdel.queue = amqp_cstring_bytes(q);
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_DELETE_METHOD, &qdel), "send queue.delete");
    check_status(amqp_simple_wait_method(c, 1, AMQP_QUEUE_DELETE_OK_METHOD, &m), "wait delete-ok");
    printf("delete-ok: %u\n", ((amqp_queue_delete_ok_t *)m.decoded)->message_count);
    disconnect(c);
}

/* TLS (URL = AMQPS_URL, certificates in $SWIFTAMQP_TLS_DIR): PLAIN with the CA and host name
 * checks, EXTERNAL with a client certificate and a round trip, and a wrong CA refused (where it is
 * refused differs: socket open in librabbitmq, login in the compat layer; only the outcome is
 * printed). */
static int tls_try(const char *url, const char *dir, const char *ca, int external, const char *q)
{
    struct amqp_connection_info ci;
    char *u = strdup(url);
    check_status(amqp_parse_url(u, &ci), "amqp_parse_url");
    char cacert[1024], cert[1024], key[1024];
    snprintf(cacert, sizeof cacert, "%s/%s", dir, ca);
    snprintf(cert, sizeof cert, "%s/client.pem", dir);
    snprintf(key, sizeof key, "%s/client.key", dir);
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_ssl_socket_new(c);
    if (s == NULL)
        fail("amqp_ssl_socket_new");
    check_status(amqp_ssl_socket_set_cacert(s, cacert), "set_cacert");
    if (external == 1)
        check_status(amqp_ssl_socket_set_key(s, cert, key), "set_key");
    if (external == 2) { /* the key from memory */
        FILE *kf = fopen(key, "rb");
        if (kf == NULL)
            fail("cannot read %s", key);
        char pem[8192];
        size_t n = fread(pem, 1, sizeof pem, kf);
        fclose(kf);
        printf("  set_key_buffer with garbage: %s\n",
               amqp_error_string2(amqp_ssl_socket_set_key_buffer(s, cert, "not a key", 9)));
        check_status(amqp_ssl_socket_set_key_buffer(s, cert, pem, n), "set_key_buffer");
        memset(pem, 0, sizeof pem);
    }
    amqp_ssl_socket_set_verify_peer(s, 1);
    amqp_ssl_socket_set_verify_hostname(s, 1);
    int ok = 0;
    if (amqp_socket_open(s, ci.host, ci.port) == AMQP_STATUS_OK) {
        amqp_rpc_reply_t r = external ? amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_EXTERNAL, "guest")
                                      : amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user,
                                                   ci.password);
        ok = r.reply_type == AMQP_RESPONSE_NORMAL;
    }
    if (ok && q != NULL) {
        amqp_channel_open(c, 1);
        check_reply(amqp_get_rpc_reply(c), "channel.open");
        amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 0, 1, 1, amqp_empty_table);
        check_reply(amqp_get_rpc_reply(c), "queue.declare");
        check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL,
                                        amqp_cstring_bytes("over tls")), "publish");
        amqp_rpc_reply_t r = amqp_basic_get(c, 1, amqp_cstring_bytes(q), 1);
        check_reply(r, "basic.get");
        amqp_message_t m;
        check_reply(amqp_read_message(c, 1, &m, 0), "read_message");
        printf("  round trip: %.*s\n", (int)m.body.len, (char *)m.body.bytes);
        amqp_destroy_message(&m);
    }
    if (ok)
        check_reply(amqp_connection_close(c, AMQP_REPLY_SUCCESS), "connection.close");
    amqp_destroy_connection(c);
    free(u);
    return ok;
}

static void tls(const char *url, const char *prefix)
{
    const char *dir = getenv("SWIFTAMQP_TLS_DIR");
    if (dir == NULL || !*dir)
        fail("SWIFTAMQP_TLS_DIR is not set");
    char q[256];
    snprintf(q, sizeof q, "%s.tls", prefix);
    printf("plain login, CA and host name verified: %d\n", tls_try(url, dir, "ca.pem", 0, NULL));
    printf("external login with a client certificate: %d\n", tls_try(url, dir, "ca.pem", 1, q));
    printf("external login, the client key given as a buffer: %d\n", tls_try(url, dir, "ca.pem", 2, q));
    printf("another CA: connected %d\n", tls_try(url, dir, "other-ca.pem", 0, NULL));
}

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

static void close_keeps(const char *url, const char *prefix)
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
static void cancel_notify(const char *url, const char *prefix)
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
static void print_reply(const char *what, amqp_rpc_reply_t r)
{
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION)
        printf("%s: server exception %s %u\n", what, amqp_method_name(r.reply.id), *(uint16_t *)r.reply.decoded);
    else if (r.reply_type == AMQP_RESPONSE_NORMAL)
        printf("%s: normal\n", what);
    else
        printf("%s: library error %s\n", what, amqp_error_string2(r.library_error));
}

static void close_after_error(const char *url, const char *prefix)
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
static void rpc_timeout(const char *url, const char *prefix)
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
static void poll_socket(const char *url, const char *prefix)
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

/* Frame-level functions. Before login the socket is the program's: a whole handshake by hand
 * (amqp_send_header, amqp_send_frame, reading amqp_get_sockfd into amqp_handle_input). After
 * login: amqp_send_frame of a method and of a publish's method, header and body frames, a
 * heartbeat frame, and amqp_send_method with nowait set. */
static int read_method(amqp_connection_state_t c, amqp_frame_t *f)
{
    static unsigned char buf[8192];
    static size_t have = 0, at = 0;
    for (;;) {
        while (at < have) {
            amqp_bytes_t in = {have - at, buf + at};
            int n = amqp_handle_input(c, in, f);
            if (n < 0)
                fail("handle_input: %s", amqp_error_string2(n));
            at += (size_t)n;
            if (f->frame_type == AMQP_FRAME_METHOD || f->frame_type == 'A')
                return f->frame_type;
        }
        /* librabbitmq's sockets are non-blocking */
        struct pollfd p = {amqp_get_sockfd(c), POLLIN, 0};
        if (poll(&p, 1, 10000) != 1)
            fail("nothing to read from the socket in 10 s");
        ssize_t got = recv(p.fd, buf, sizeof buf, 0);
        if (got <= 0)
            fail("recv: %zd", got);
        have = (size_t)got;
        at = 0;
    }
}

static void send_method_frame(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t id, void *m)
{
    amqp_frame_t f;
    memset(&f, 0, sizeof f);
    f.frame_type = AMQP_FRAME_METHOD;
    f.channel = ch;
    f.payload.method.id = id;
    f.payload.method.decoded = m;
    check_status(amqp_send_frame(c, &f), amqp_method_name(id));
}

static void raw_frames(const char *url, const char *prefix)
{
    struct amqp_connection_info ci;
    char *u = strdup(url);
    check_status(amqp_parse_url(u, &ci), "amqp_parse_url");
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    check_status(amqp_socket_open(s, ci.host, ci.port), "amqp_socket_open");
    check_status(amqp_send_header(c), "send_header");
    amqp_frame_t f;
    printf("first frame: type %d\n", read_method(c, &f));
    amqp_connection_start_t *start = f.payload.method.decoded;
    printf("%s: %d.%d, PLAIN offered %d\n", amqp_method_name(f.payload.method.id), start->version_major,
           start->version_minor, memmem(start->mechanisms.bytes, start->mechanisms.len, "PLAIN", 5) != NULL);
    char sasl[512];
    int sl = snprintf(sasl, sizeof sasl, "%c%s%c%s", 0, ci.user, 0, ci.password);
    amqp_connection_start_ok_t start_ok = {amqp_empty_table, amqp_cstring_bytes("PLAIN"), {(size_t)sl, sasl},
                                           amqp_cstring_bytes("en_US")};
    send_method_frame(c, 0, AMQP_CONNECTION_START_OK_METHOD, &start_ok);
    read_method(c, &f);
    amqp_connection_tune_t *tune = f.payload.method.decoded;
    printf("%s: frame_max at least 4096 %d\n", amqp_method_name(f.payload.method.id), tune->frame_max >= 4096);
    amqp_connection_tune_ok_t tune_ok = {tune->channel_max, 131072, 0};
    check_status(amqp_send_method(c, 0, AMQP_CONNECTION_TUNE_OK_METHOD, &tune_ok), "send_method tune-ok");
    check_status(amqp_tune_connection(c, tune_ok.channel_max, (int)tune_ok.frame_max, 0), "tune");
    amqp_connection_open_t open = {amqp_cstring_bytes(ci.vhost), amqp_empty_bytes, 0};
    send_method_frame(c, 0, AMQP_CONNECTION_OPEN_METHOD, &open);
    read_method(c, &f);
    printf("%s\n", amqp_method_name(f.payload.method.id));
    amqp_connection_close_t close = {AMQP_REPLY_SUCCESS, amqp_cstring_bytes("bye"), 0, 0};
    send_method_frame(c, 0, AMQP_CONNECTION_CLOSE_METHOD, &close);
    read_method(c, &f);
    printf("%s\n", amqp_method_name(f.payload.method.id));
    amqp_destroy_connection(c);
    free(u);

    char q[256], q2[300];
    snprintf(q, sizeof q, "%s.raw", prefix);
    snprintf(q2, sizeof q2, "%s.nowait", prefix);
    c = connect_to(url);
    /* the broker's connection.start properties */
    amqp_table_t *server = amqp_get_server_properties(c);
    for (int i = 0; i < server->num_entries; i++) {
        amqp_table_entry_t *e = &server->entries[i];
        if (e->key.len == 7 && memcmp(e->key.bytes, "product", 7) == 0 && e->value.kind == AMQP_FIELD_KIND_UTF8)
            printf("server product: %.*s\n", (int)e->value.value.bytes.len, (char *)e->value.value.bytes.bytes);
        if (e->key.len == 12 && memcmp(e->key.bytes, "capabilities", 12) == 0 && e->value.kind == AMQP_FIELD_KIND_TABLE)
            printf("server capabilities: %d entries\n", e->value.value.table.num_entries);
    }
    amqp_queue_declare_t qd;
    memset(&qd, 0, sizeof qd);
    qd.queue = amqp_cstring_bytes(q);
    qd.arguments = amqp_empty_table;
    send_method_frame(c, 1, AMQP_QUEUE_DECLARE_METHOD, &qd);
    amqp_method_t m;
    check_status(amqp_simple_wait_method(c, 1, AMQP_QUEUE_DECLARE_OK_METHOD, &m), "wait declare-ok");
    printf("declare-ok through send_frame: %u messages\n", ((amqp_queue_declare_ok_t *)m.decoded)->message_count);
    amqp_basic_publish_t pub = {0, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0};
    check_status(amqp_send_method(c, 1, AMQP_BASIC_PUBLISH_METHOD, &pub), "send_method basic.publish");
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    props.content_type = amqp_cstring_bytes("text/x-frames");
    props.message_id = amqp_cstring_bytes("m-1");
    const char *parts[] = {"sent as ", "three ", "body frames"};
    memset(&f, 0, sizeof f);
    f.frame_type = AMQP_FRAME_HEADER;
    f.channel = 1;
    f.payload.properties.class_id = AMQP_BASIC_CLASS;
    f.payload.properties.body_size = strlen(parts[0]) + strlen(parts[1]) + strlen(parts[2]);
    f.payload.properties.decoded = &props;
    check_status(amqp_send_frame(c, &f), "header frame");
    for (int i = 0; i < 3; i++) {
        memset(&f, 0, sizeof f);
        f.frame_type = AMQP_FRAME_BODY;
        f.channel = 1;
        f.payload.body_fragment = amqp_cstring_bytes(parts[i]);
        check_status(amqp_send_frame(c, &f), "body frame");
    }
    memset(&f, 0, sizeof f);
    f.frame_type = AMQP_FRAME_HEARTBEAT;
    check_status(amqp_send_frame(c, &f), "heartbeat frame");
    amqp_rpc_reply_t r;
    for (int tries = 0; tries < 100; tries++) { /* the publish is asynchronous */
        r = amqp_basic_get(c, 1, amqp_cstring_bytes(q), 1);
        check_reply(r, "basic.get");
        if (r.reply.id == AMQP_BASIC_GET_OK_METHOD)
            break;
        usleep(20000);
    }
    if (r.reply.id != AMQP_BASIC_GET_OK_METHOD)
        fail("the message published with send_frame did not arrive");
    amqp_message_t msg;
    check_reply(amqp_read_message(c, 1, &msg, 0), "read_message");
    printf("got: '%.*s' type %.*s id %.*s\n", (int)msg.body.len, (char *)msg.body.bytes,
           (int)msg.properties.content_type.len, (char *)msg.properties.content_type.bytes,
           (int)msg.properties.message_id.len, (char *)msg.properties.message_id.bytes);
    amqp_destroy_message(&msg);
    /* nowait: nothing comes back; a passive declare shows the effect */
    memset(&qd, 0, sizeof qd);
    qd.queue = amqp_cstring_bytes(q2);
    qd.nowait = 1;
    qd.arguments = amqp_empty_table;
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_DECLARE_METHOD, &qd), "declare nowait");
    amqp_queue_bind_t qb = {0, amqp_cstring_bytes(q2), amqp_cstring_bytes("amq.direct"), amqp_cstring_bytes(q2), 1,
                            amqp_empty_table};
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_BIND_METHOD, &qb), "bind nowait");
    check_status(amqp_basic_publish(c, 1, amqp_cstring_bytes("amq.direct"), amqp_cstring_bytes(q2), 0, 0, NULL,
                                    amqp_cstring_bytes("routed")), "publish to amq.direct");
    amqp_queue_declare_ok_t *ok = NULL;
    for (int tries = 0; tries < 100; tries++) {
        ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(q2), 1, 0, 0, 0, amqp_empty_table);
        check_reply(amqp_get_rpc_reply(c), "passive declare");
        if (ok->message_count == 1)
            break;
        usleep(20000);
    }
    printf("nowait queue: %u messages\n", ok->message_count);
    amqp_queue_delete_t del;
    memset(&del, 0, sizeof del);
    del.queue = amqp_cstring_bytes(q2);
    del.nowait = 1;
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_DELETE_METHOD, &del), "delete nowait");
    del.queue = amqp_cstring_bytes(q);
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_DELETE_METHOD, &del), "delete nowait");
    amqp_queue_declare(c, 1, amqp_cstring_bytes(q2), 1, 0, 0, 0, amqp_empty_table);
    r = amqp_get_rpc_reply(c);
    printf("after the nowait delete: reply type %d", r.reply_type);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
        printf(" code %u", ((amqp_channel_close_t *)r.reply.decoded)->reply_code);
    printf("\n");
    /* the channel and connection class through send_frame / send_method */
    amqp_channel_open_t chopen = {amqp_empty_bytes};
    send_method_frame(c, 2, AMQP_CHANNEL_OPEN_METHOD, &chopen);
    check_status(amqp_simple_wait_method(c, 2, AMQP_CHANNEL_OPEN_OK_METHOD, &m), "wait channel.open-ok");
    printf("channel 2: %s\n", amqp_method_name(m.id));
    /* channel.flow active=1: flow-ok (channel 1 was closed by the 404 above) */
    amqp_channel_flow_ok_t *flow = amqp_channel_flow(c, 2, 1);
    check_reply(amqp_get_rpc_reply(c), "channel.flow");
    printf("channel.flow-ok active %d\n", flow ? flow->active : -1);
    amqp_basic_get_ok_t *none = amqp_basic_get(c, 2, amqp_cstring_bytes(q), 1).reply.decoded;
    printf("get on channel 2: %s\n", amqp_method_name(amqp_get_rpc_reply(c).reply.id));
    (void)none;
    amqp_channel_close_t chclose = {AMQP_REPLY_SUCCESS, amqp_cstring_bytes("done"), 0, 0};
    send_method_frame(c, 2, AMQP_CHANNEL_CLOSE_METHOD, &chclose);
    check_status(amqp_simple_wait_method(c, 2, AMQP_CHANNEL_CLOSE_OK_METHOD, &m), "wait channel.close-ok");
    printf("channel 2: %s\n", amqp_method_name(m.id));
    amqp_connection_close_t connclose = {AMQP_REPLY_SUCCESS, amqp_cstring_bytes("bye"), 0, 0};
    check_status(amqp_send_method(c, 0, AMQP_CONNECTION_CLOSE_METHOD, &connclose), "send connection.close");
    check_status(amqp_simple_wait_method(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &m), "wait connection.close-ok");
    printf("%s\n", amqp_method_name(m.id));
    check_status(amqp_destroy_connection(c), "destroy");

    /* channel.flow active=0: RabbitMQ does not implement it and closes the connection */
    c = connect_to(url);
    amqp_channel_flow(c, 1, 0);
    r = amqp_get_rpc_reply(c);
    printf("channel.flow active=0: reply type %d", r.reply_type);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
        printf(" connection.close %u", ((amqp_connection_close_t *)r.reply.decoded)->reply_code);
    printf("\n");
    amqp_destroy_connection(c);
}

/* ---- reading messages when something else comes, and out of memory ---------------------------- */
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
static void read_message_errors(const char *url, const char *prefix)
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
static void out_of_memory(const char *url, const char *prefix)
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
static void rpc_replies(const char *url, const char *prefix)
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

int main(int argc, char **argv)
{
    if (argc != 4)
        fail("usage: %s producer_consumer|rpc|confirms|errors|tx_returns|connection_error|login|generic|close_keeps|cancel_notify|close_after_error|rpc_timeout|poll_socket|raw_frames|read_message|out_of_memory|rpc_replies|tls AMQP_URL QUEUE_PREFIX", argv[0]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *s = argv[1];
    if (strcmp(s, "producer_consumer") == 0)
        producer_consumer(argv[2], argv[3]);
    else if (strcmp(s, "rpc") == 0)
        rpc(argv[2], argv[3]);
    else if (strcmp(s, "confirms") == 0)
        confirms(argv[2], argv[3]);
    else if (strcmp(s, "errors") == 0)
        errors(argv[2], argv[3]);
    else if (strcmp(s, "tx_returns") == 0)
        tx_returns(argv[2], argv[3]);
    else if (strcmp(s, "tls") == 0)
        tls(argv[2], argv[3]);
    else if (strcmp(s, "generic") == 0)
        generic(argv[2], argv[3]);
    else if (strcmp(s, "login") == 0)
        login(argv[2], argv[3]);
    else if (strcmp(s, "connection_error") == 0)
        connection_error(argv[2], argv[3]);
    else if (strcmp(s, "close_keeps") == 0)
        close_keeps(argv[2], argv[3]);
    else if (strcmp(s, "cancel_notify") == 0)
        cancel_notify(argv[2], argv[3]);
    else if (strcmp(s, "close_after_error") == 0)
        close_after_error(argv[2], argv[3]);
    else if (strcmp(s, "rpc_timeout") == 0)
        rpc_timeout(argv[2], argv[3]);
    else if (strcmp(s, "poll_socket") == 0)
        poll_socket(argv[2], argv[3]);
    else if (strcmp(s, "raw_frames") == 0)
        raw_frames(argv[2], argv[3]);
    else if (strcmp(s, "read_message") == 0)
        read_message_errors(argv[2], argv[3]);
    else if (strcmp(s, "out_of_memory") == 0)
        out_of_memory(argv[2], argv[3]);
    else if (strcmp(s, "rpc_replies") == 0)
        rpc_replies(argv[2], argv[3]);
    else
        fail("unknown scenario %s", s);
    printf("done\n");
    return 0;
}
