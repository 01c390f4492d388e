/* The helpers every compat_programs scenario uses (declared in compat_programs.h): failing with
 * a message, checking replies and statuses, connecting and disconnecting, declaring and deleting
 * a queue, printing tables, properties and replies, and a rich header table. */
#include "compat_programs.h"

void fail(const char *fmt, ...)
{
    va_list ap;
    fputs("FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void check_reply(amqp_rpc_reply_t r, const char *what)
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

void check_status(int st, const char *what)
{
    if (st < 0)
        fail("%s: %s", what, amqp_error_string2(st));
}

amqp_connection_state_t connect_to(const char *url)
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

void disconnect(amqp_connection_state_t c)
{
    check_reply(amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS), "channel.close");
    check_reply(amqp_connection_close(c, AMQP_REPLY_SUCCESS), "connection.close");
    check_status(amqp_destroy_connection(c), "destroy");
}

void declare(amqp_connection_state_t c, const char *q)
{
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "queue.declare");
    printf("declared: %u messages, %u consumers\n", ok->message_count, ok->consumer_count);
}

void delete_queue(amqp_connection_state_t c, const char *q)
{
    amqp_queue_delete_ok_t *ok = amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
    check_reply(amqp_get_rpc_reply(c), "queue.delete");
    printf("deleted: %u messages\n", ok->message_count);
}

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

void print_table(const amqp_table_t *t, int depth)
{
    printf("{");
    for (int i = 0; i < t->num_entries; i++) {
        printf("%s%.*s: ", i ? ", " : "", (int)t->entries[i].key.len, (char *)t->entries[i].key.bytes);
        print_value(&t->entries[i].value, depth);
    }
    printf("}");
}

void print_props(const amqp_basic_properties_t *p)
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
amqp_table_t rich_headers(amqp_table_entry_t *e, amqp_field_value_t *arr, amqp_table_entry_t *inner)
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

void print_reply(const char *what, amqp_rpc_reply_t r)
{
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION)
        printf("%s: server exception %s %u\n", what, amqp_method_name(r.reply.id), *(uint16_t *)r.reply.decoded);
    else if (r.reply_type == AMQP_RESPONSE_NORMAL)
        printf("%s: normal\n", what);
    else
        printf("%s: library error %s\n", what, amqp_error_string2(r.library_error));
}
