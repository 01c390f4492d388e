/*
 * c_slice: the vertical slice end to end, with assertions.
 *
 * connect → channel.open → exchange.declare (direct, auto-delete) → queue.declare (exclusive) →
 * queue.bind → basic.publish with all 14 properties and a header table of every kind →
 * basic.get → compare every property, header and the body → basic.ack → basic.get on the empty
 * queue (SWAMQP_OK, NULL message) → a U64 header comes back as I64 → channel.close →
 * connection.close → free.
 */
#include "test_util.h"

#define T_MS 5000

/* ---- the header table we send ------------------------------------------------------------ */

static const unsigned char BYTES_VALUE[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 'x'};
static const char STRING_VALUE[] = "h\xc3\xa9llo w\xc3\xb6rld"; /* UTF-8 */

static swamqp_table_entry nested_entries[2];
static swamqp_field_value array_values[4];
static swamqp_table_entry header_entries[20];
static size_t header_count;

static swamqp_field_value fv(uint8_t kind)
{
    swamqp_field_value v;
    memset(&v, 0, sizeof v);
    v.kind = kind;
    return v;
}

static void add_header(const char *key, swamqp_field_value v)
{
    CHECK(header_count < sizeof header_entries / sizeof header_entries[0], "too many headers");
    header_entries[header_count].key = tu_b(key);
    header_entries[header_count].value = v;
    header_count++;
}

static void build_headers(void)
{
    swamqp_field_value v;

    v = fv(SWAMQP_FIELD_BOOL), v.value.boolean = true, add_header("bool", v);
    v = fv(SWAMQP_FIELD_BOOL), v.value.boolean = false, add_header("bool_false", v);
    v = fv(SWAMQP_FIELD_I8), v.value.i8 = -128, add_header("i8", v);
    v = fv(SWAMQP_FIELD_U8), v.value.u8 = 255, add_header("u8", v);
    v = fv(SWAMQP_FIELD_I16), v.value.i16 = -32768, add_header("i16", v);
    v = fv(SWAMQP_FIELD_U16), v.value.u16 = 65535, add_header("u16", v);
    v = fv(SWAMQP_FIELD_I32), v.value.i32 = INT32_MIN, add_header("i32", v);
    v = fv(SWAMQP_FIELD_U32), v.value.u32 = UINT32_MAX, add_header("u32", v);
    v = fv(SWAMQP_FIELD_I64), v.value.i64 = INT64_MIN + 1, add_header("i64", v);
    v = fv(SWAMQP_FIELD_F32), v.value.f32 = -1.5f, add_header("f32", v);
    v = fv(SWAMQP_FIELD_F64), v.value.f64 = 3.141592653589793, add_header("f64", v);
    v = fv(SWAMQP_FIELD_DECIMAL), v.value.decimal.scale = 3, v.value.decimal.value = 1234567,
    add_header("decimal", v);
    v = fv(SWAMQP_FIELD_STRING), v.value.bytes = tu_b(STRING_VALUE), add_header("string", v);
    v = fv(SWAMQP_FIELD_STRING), v.value.bytes = tu_bn(NULL, 0), add_header("empty_string", v);
    v = fv(SWAMQP_FIELD_BYTES), v.value.bytes = tu_bn(BYTES_VALUE, sizeof BYTES_VALUE),
    add_header("bytes", v);

    nested_entries[0].key = tu_b("inner_string");
    nested_entries[0].value = fv(SWAMQP_FIELD_STRING);
    nested_entries[0].value.value.bytes = tu_b("deep");
    nested_entries[1].key = tu_b("inner_i32");
    nested_entries[1].value = fv(SWAMQP_FIELD_I32);
    nested_entries[1].value.value.i32 = 42;
    v = fv(SWAMQP_FIELD_TABLE), v.value.table.count = 2, v.value.table.entries = nested_entries;
    add_header("table", v);

    array_values[0] = fv(SWAMQP_FIELD_I32);
    array_values[0].value.i32 = -7;
    array_values[1] = fv(SWAMQP_FIELD_STRING);
    array_values[1].value.bytes = tu_b("two");
    array_values[2] = fv(SWAMQP_FIELD_BOOL);
    array_values[2].value.boolean = true;
    array_values[3] = fv(SWAMQP_FIELD_VOID);
    v = fv(SWAMQP_FIELD_ARRAY), v.value.array.count = 4, v.value.array.values = array_values;
    add_header("array", v);

    v = fv(SWAMQP_FIELD_TIMESTAMP), v.value.u64 = 1700000000u, add_header("timestamp", v);
    v = fv(SWAMQP_FIELD_VOID), add_header("void", v);
}

/* ---- comparing what came back ------------------------------------------------------------ */

static const swamqp_table_entry *find_entry(const swamqp_table *t, const char *key, const char *where)
{
    CHECK(t->count == 0 || t->entries != NULL, "%s: count %zu but entries NULL", where, t->count);
    const swamqp_table_entry *found = NULL;
    for (size_t i = 0; i < t->count; i++) {
        if (tu_bytes_eq(t->entries[i].key, key)) {
            CHECK(found == NULL, "%s: key \"%s\" appears twice", where, key);
            found = &t->entries[i];
        }
    }
    CHECK(found != NULL, "%s: key \"%s\" missing from the received table", where, key);
    return found;
}

static void compare_value(const swamqp_field_value *sent, const swamqp_field_value *got, const char *where);

static void compare_table(const swamqp_table *sent, const swamqp_table *got, const char *where)
{
    CHECK(got->count == sent->count, "%s: received %zu entries, sent %zu", where, got->count, sent->count);
    for (size_t i = 0; i < sent->count; i++) {
        char key[160], path[512];
        snprintf(key, sizeof key, "%.*s", (int)sent->entries[i].key.len, (const char *)sent->entries[i].key.bytes);
        snprintf(path, sizeof path, "%s.%s", where, key);
        const swamqp_table_entry *e = find_entry(got, key, where);
        compare_value(&sent->entries[i].value, &e->value, path);
    }
}

static void compare_value(const swamqp_field_value *sent, const swamqp_field_value *got, const char *where)
{
    CHECK(got->kind == sent->kind, "%s: kind '%c' (%d) received, '%c' sent", where, got->kind, got->kind,
          sent->kind);
    const __typeof__(sent->value) *s = &sent->value, *g = &got->value;
    switch (sent->kind) {
    case SWAMQP_FIELD_BOOL:
        CHECK(g->boolean == s->boolean, "%s: %d received, %d sent", where, g->boolean, s->boolean);
        break;
    case SWAMQP_FIELD_I8:
        CHECK(g->i8 == s->i8, "%s: %d received, %d sent", where, g->i8, s->i8);
        break;
    case SWAMQP_FIELD_U8:
        CHECK(g->u8 == s->u8, "%s: %u received, %u sent", where, g->u8, s->u8);
        break;
    case SWAMQP_FIELD_I16:
        CHECK(g->i16 == s->i16, "%s: %d received, %d sent", where, g->i16, s->i16);
        break;
    case SWAMQP_FIELD_U16:
        CHECK(g->u16 == s->u16, "%s: %u received, %u sent", where, g->u16, s->u16);
        break;
    case SWAMQP_FIELD_I32:
        CHECK(g->i32 == s->i32, "%s: %" PRId32 " received, %" PRId32 " sent", where, g->i32, s->i32);
        break;
    case SWAMQP_FIELD_U32:
        CHECK(g->u32 == s->u32, "%s: %" PRIu32 " received, %" PRIu32 " sent", where, g->u32, s->u32);
        break;
    case SWAMQP_FIELD_I64:
        CHECK(g->i64 == s->i64, "%s: %" PRId64 " received, %" PRId64 " sent", where, g->i64, s->i64);
        break;
    case SWAMQP_FIELD_U64:
    case SWAMQP_FIELD_TIMESTAMP:
        CHECK(g->u64 == s->u64, "%s: %" PRIu64 " received, %" PRIu64 " sent", where, g->u64, s->u64);
        break;
    case SWAMQP_FIELD_F32:
        CHECK(g->f32 == s->f32, "%s: %.9g received, %.9g sent", where, (double)g->f32, (double)s->f32);
        break;
    case SWAMQP_FIELD_F64:
        CHECK(g->f64 == s->f64, "%s: %.17g received, %.17g sent", where, g->f64, s->f64);
        break;
    case SWAMQP_FIELD_DECIMAL:
        CHECK(g->decimal.scale == s->decimal.scale && g->decimal.value == s->decimal.value,
              "%s: decimal %u/%" PRIu32 " received, %u/%" PRIu32 " sent", where, g->decimal.scale,
              g->decimal.value, s->decimal.scale, s->decimal.value);
        break;
    case SWAMQP_FIELD_STRING:
    case SWAMQP_FIELD_BYTES:
        CHECK(tu_bytes_eq_n(g->bytes, s->bytes.bytes, s->bytes.len), "%s: %s received, %s sent", where,
              tu_show(g->bytes), tu_show(s->bytes));
        break;
    case SWAMQP_FIELD_ARRAY:
        CHECK(g->array.count == s->array.count, "%s: array of %zu received, %zu sent", where, g->array.count,
              s->array.count);
        CHECK(g->array.count == 0 || g->array.values != NULL, "%s: array values NULL", where);
        for (size_t i = 0; i < s->array.count; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s[%zu]", where, i);
            compare_value(&s->array.values[i], &g->array.values[i], path);
        }
        break;
    case SWAMQP_FIELD_TABLE:
        compare_table(&s->table, &g->table, where);
        break;
    case SWAMQP_FIELD_VOID:
        break;
    default:
        FAILF("%s: test sent an unexpected kind %d", where, sent->kind);
    }
}

/* ---- the slice --------------------------------------------------------------------------- */

int main(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    tu_options_from_env(&options);
    char user[256];
    snprintf(user, sizeof user, "%s", options.user ? options.user : "guest");
    options.connection_name = "swiftamqp Tests/C c_slice";

    char exchange[200], queue[200];
    tu_unique_name(exchange, sizeof exchange, "c_slice", "exchange");
    tu_unique_name(queue, sizeof queue, "c_slice", "queue");
    const char *routing_key = "routing.key";

    swamqp_connection *conn = tu_connect_with(&options);
    CHECK(swamqp_connection_is_open(conn), "is_open is false right after a successful connect");

    uint16_t ch_max = 0, hb = 0;
    uint32_t frame_max = 0;
    CHECK_OK(swamqp_connection_tune(conn, &ch_max, &frame_max, &hb), NULL);
    CHECK(frame_max >= 4096, "negotiated frame_max %" PRIu32 " < 4096", frame_max);
    CHECK(ch_max > 0, "negotiated channel_max is 0");

    uint16_t ch = 0;
    CHECK_OK(swamqp_channel_open(conn, &ch, T_MS, &err), &err);
    CHECK(ch >= 1, "channel_open gave channel %u", ch);

    CHECK_OK(swamqp_exchange_declare(conn, ch, tu_b(exchange), tu_b("direct"), SWAMQP_AUTO_DELETE, NULL, T_MS,
                                     &err),
             &err);

    swamqp_queue_declare_ok declared;
    memset(&declared, 0x5a, sizeof declared);
    CHECK_OK(swamqp_queue_declare(conn, ch, tu_b(queue), SWAMQP_EXCLUSIVE, NULL, &declared, T_MS, &err), &err);
    CHECK(declared.name_len == strlen(queue) && strcmp(declared.name, queue) == 0,
          "declare-ok name \"%.*s\" (len %zu), expected \"%s\"", 255, declared.name, declared.name_len, queue);
    CHECK(declared.message_count == 0 && declared.consumer_count == 0, "new queue has %" PRIu32
          " messages, %" PRIu32 " consumers", declared.message_count, declared.consumer_count);

    CHECK_OK(swamqp_queue_bind(conn, ch, tu_b(queue), tu_b(exchange), tu_b(routing_key), 0, NULL, T_MS, &err),
             &err);

    /* All 14 properties. */
    build_headers();
    swamqp_properties props;
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_CONTENT_TYPE | SWAMQP_PROP_CONTENT_ENCODING | SWAMQP_PROP_HEADERS |
                  SWAMQP_PROP_DELIVERY_MODE | SWAMQP_PROP_PRIORITY | SWAMQP_PROP_CORRELATION_ID |
                  SWAMQP_PROP_REPLY_TO | SWAMQP_PROP_EXPIRATION | SWAMQP_PROP_MESSAGE_ID | SWAMQP_PROP_TIMESTAMP |
                  SWAMQP_PROP_TYPE | SWAMQP_PROP_USER_ID | SWAMQP_PROP_APP_ID | SWAMQP_PROP_CLUSTER_ID;
    CHECK(props.flags == 0x3fff, "the 14 property bits are not 0..13");
    props.content_type = tu_b("application/json");
    props.content_encoding = tu_b("identity");
    props.headers.count = header_count;
    props.headers.entries = header_entries;
    props.delivery_mode = 2;
    props.priority = 7;
    props.correlation_id = tu_b("corr-\xe2\x9c\x93-1");
    props.reply_to = tu_b("c_slice.reply-to");
    props.expiration = tu_b("600000");
    props.message_id = tu_b("msg-0001");
    props.timestamp = 1700000123u;
    props.type = tu_b("test.slice");
    props.user_id = tu_b(user); /* RabbitMQ refuses a user_id other than the login user */
    props.app_id = tu_b("c_slice");
    props.cluster_id = tu_b("cluster-9");

    /* A body with a NUL and high bytes, to show it is treated as bytes. */
    static const char body[] = "{\"test_body\": \"content\"}\0\x01\xfe\xff tail";
    const size_t body_len = sizeof body - 1;

    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(exchange), tu_b(routing_key), SWAMQP_MANDATORY, &props,
                                  tu_bn(body, body_len), NULL, T_MS, &err),
             &err);

    /* basic.get answers at once; give the broker a bounded moment to route the message. */
    swamqp_message *msg = NULL;
    int64_t deadline = tu_now_ms() + 5000;
    for (;;) {
        msg = (swamqp_message *)0x1; /* must be overwritten */
        CHECK_OK(swamqp_basic_get(conn, ch, tu_b(queue), 0, &msg, T_MS, &err), &err);
        if (msg != NULL || tu_now_ms() > deadline)
            break;
        fprintf(stderr, "note: basic.get found the queue empty right after publish; retrying\n");
        tu_sleep_ms(50);
    }
    CHECK(msg != NULL, "basic.get returned no message within 5 s of the publish");
    CHECK(msg != (swamqp_message *)0x1, "basic.get returned SWAMQP_OK without setting *message");

    /* Envelope. */
    CHECK(msg->channel == ch, "message channel %u, expected %u", msg->channel, ch);
    CHECK(!msg->redelivered, "first delivery marked redelivered");
    CHECK(msg->delivery_tag >= 1, "delivery_tag %" PRIu64, msg->delivery_tag);
    CHECK(msg->consumer_tag.len == 0, "basic.get result has consumer_tag %s", tu_show(msg->consumer_tag));
    CHECK_BYTES(msg->exchange, exchange);
    CHECK_BYTES(msg->routing_key, routing_key);
    CHECK(msg->message_count == 0, "message_count %" PRIu32 " (messages left), expected 0", msg->message_count);
    CHECK(msg->reply_code == 0, "basic.get result has reply_code %u", msg->reply_code);
    CHECK(msg->reply_text.len == 0, "basic.get result has reply_text %s", tu_show(msg->reply_text));
    CHECK(tu_bytes_eq_n(msg->body, body, body_len), "body %s (%zu bytes), expected %s (%zu bytes)",
          tu_show(msg->body), msg->body.len, tu_show(tu_bn(body, body_len)), body_len);

    /* Properties. */
    const swamqp_properties *p = &msg->properties;
    CHECK(p->flags == props.flags, "property flags 0x%" PRIx32 ", sent 0x%" PRIx32, p->flags, props.flags);
    CHECK_BYTES(p->content_type, "application/json");
    CHECK_BYTES(p->content_encoding, "identity");
    CHECK(p->delivery_mode == 2, "delivery_mode %u", p->delivery_mode);
    CHECK(p->priority == 7, "priority %u", p->priority);
    CHECK_BYTES(p->correlation_id, "corr-\xe2\x9c\x93-1");
    CHECK_BYTES(p->reply_to, "c_slice.reply-to");
    CHECK_BYTES(p->expiration, "600000");
    CHECK_BYTES(p->message_id, "msg-0001");
    CHECK(p->timestamp == 1700000123u, "timestamp %" PRIu64, p->timestamp);
    CHECK_BYTES(p->type, "test.slice");
    CHECK_BYTES(p->user_id, user);
    CHECK_BYTES(p->app_id, "c_slice");
    CHECK_BYTES(p->cluster_id, "cluster-9");
    compare_table(&props.headers, &p->headers, "headers");

    CHECK_OK(swamqp_basic_ack(conn, ch, msg->delivery_tag, 0, &err), &err);
    CHECK_OK(swamqp_message_free(msg), NULL);

    /* The queue is empty now: SWAMQP_OK with a NULL message. */
    msg = (swamqp_message *)0x1;
    CHECK_OK(swamqp_basic_get(conn, ch, tu_b(queue), 0, &msg, T_MS, &err), &err);
    CHECK(msg == NULL, "basic.get on the empty queue gave message %p, expected NULL", (void *)msg);

    /* A U64 header is decoded-only: it goes out as 'l' (I64) when it fits. */
    swamqp_table_entry u64_entry;
    memset(&u64_entry, 0, sizeof u64_entry);
    u64_entry.key = tu_b("u64");
    u64_entry.value.kind = SWAMQP_FIELD_U64;
    u64_entry.value.value.u64 = (uint64_t)INT64_MAX;
    swamqp_properties props2;
    memset(&props2, 0, sizeof props2);
    props2.flags = SWAMQP_PROP_HEADERS;
    props2.headers.count = 1;
    props2.headers.entries = &u64_entry;
    CHECK_OK(swamqp_basic_publish(conn, ch, tu_b(exchange), tu_b(routing_key), 0, &props2, tu_b("u64"), NULL, T_MS,
                                  &err),
             &err);
    deadline = tu_now_ms() + 5000;
    do {
        CHECK_OK(swamqp_basic_get(conn, ch, tu_b(queue), SWAMQP_NO_ACK, &msg, T_MS, &err), &err);
    } while (msg == NULL && tu_now_ms() < deadline && (tu_sleep_ms(50), 1));
    CHECK(msg != NULL, "basic.get (U64 header) returned no message within 5 s");
    CHECK_BYTES(msg->body, "u64");
    CHECK(msg->properties.flags == SWAMQP_PROP_HEADERS, "flags 0x%" PRIx32 ", expected only HEADERS",
          msg->properties.flags);
    const swamqp_table_entry *u = find_entry(&msg->properties.headers, "u64", "headers");
    CHECK(msg->properties.headers.count == 1, "%zu headers, expected 1", msg->properties.headers.count);
    CHECK(u->value.kind == SWAMQP_FIELD_I64, "U64 header came back as kind '%c', expected 'l' (I64)",
          u->value.kind);
    CHECK(u->value.value.i64 == INT64_MAX, "U64 header came back as %" PRId64, u->value.value.i64);
    CHECK_OK(swamqp_message_free(msg), NULL);

    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK(!swamqp_connection_is_open(conn), "is_open is true after connection_close");
    CHECK_OK(swamqp_connection_free(conn), NULL);

    printf("c_slice: OK\n");
    return 0;
}
