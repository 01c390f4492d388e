/*
 * libswiftamqp's codec exports (swamqp_method_encode and friends), called in process, byte for
 * byte against librabbitmq: the same generated codec the engine runs, reached through the C ABI.
 */
#include "conformance.h"

static int sw_value(const amqp_field_value_t *in, swamqp_field_value *out, amqp_pool_t *pool);

static void sw_table(const amqp_table_t *in, swamqp_table *out, amqp_pool_t *pool) {
    swamqp_table_entry *entries = pool_alloc(pool, sizeof *entries * (size_t)(in->num_entries ? in->num_entries : 1));
    for (int i = 0; i < in->num_entries; i++) {
        entries[i].key.bytes = in->entries[i].key.bytes;
        entries[i].key.len = in->entries[i].key.len;
        sw_value(&in->entries[i].value, &entries[i].value, pool);
    }
    out->count = (size_t)in->num_entries;
    out->entries = entries;
}

static int sw_value(const amqp_field_value_t *in, swamqp_field_value *out, amqp_pool_t *pool) {
    memset(out, 0, sizeof *out);
    out->kind = in->kind; /* the same tag characters */
    switch (in->kind) {
    case 't': out->value.boolean = in->value.boolean != 0; break;
    case 'b': case 'B': out->value.u8 = in->value.u8; break;
    case 's': case 'u': out->value.u16 = in->value.u16; break;
    case 'I': case 'i': case 'f': out->value.u32 = in->value.u32; break; /* floats by their bits */
    case 'l': case 'L': case 'T': case 'd': out->value.u64 = in->value.u64; break;
    case 'D': out->value.decimal.scale = in->value.decimal.decimals; out->value.decimal.value = in->value.decimal.value; break;
    case 'S': case 'x': out->value.bytes.bytes = in->value.bytes.bytes; out->value.bytes.len = in->value.bytes.len; break;
    case 'A': {
        swamqp_field_value *values = pool_alloc(pool, sizeof *values * (size_t)(in->value.array.num_entries ? in->value.array.num_entries : 1));
        for (int i = 0; i < in->value.array.num_entries; i++) sw_value(&in->value.array.entries[i], &values[i], pool);
        out->value.array.count = (size_t)in->value.array.num_entries;
        out->value.array.values = values;
        break;
    }
    case 'F': sw_table(&in->value.table, &out->value.table, pool); break;
    case 'V': break;
    default: return -1;
    }
    return 0;
}

/* A method struct's fields as swamqp argument values, in the spec's order. */
static void sw_arguments(const struct method_desc *m, const uint8_t *s, swamqp_field_value *out, amqp_pool_t *pool) {
    for (int i = 0; i < m->nfields; i++) {
        const void *p = s + m->fields[i].offset;
        swamqp_field_value *v = &out[i];
        memset(v, 0, sizeof *v);
        switch (m->fields[i].kind) {
        case K_BIT: v->kind = SWAMQP_FIELD_BOOL; v->value.boolean = *(const amqp_boolean_t *)p != 0; break;
        case K_OCTET: v->kind = SWAMQP_FIELD_U8; v->value.u8 = *(const uint8_t *)p; break;
        case K_SHORT: v->kind = SWAMQP_FIELD_U16; v->value.u16 = *(const uint16_t *)p; break;
        case K_LONG: v->kind = SWAMQP_FIELD_U32; v->value.u32 = *(const uint32_t *)p; break;
        case K_LONGLONG: v->kind = SWAMQP_FIELD_U64; v->value.u64 = *(const uint64_t *)p; break;
        case K_TIMESTAMP: v->kind = SWAMQP_FIELD_TIMESTAMP; v->value.u64 = *(const uint64_t *)p; break;
        case K_SHORTSTR:
        case K_LONGSTR: {
            const amqp_bytes_t *b = p;
            v->kind = SWAMQP_FIELD_STRING;
            v->value.bytes.bytes = b->bytes;
            v->value.bytes.len = b->len;
            break;
        }
        case K_TABLE: v->kind = SWAMQP_FIELD_TABLE; sw_table(p, &v->value.table, pool); break;
        }
    }
}

static void sw_properties(const amqp_basic_properties_t *p, swamqp_properties *out, amqp_pool_t *pool) {
    memset(out, 0, sizeof *out);
    swamqp_bytes *strings[] = {&out->content_type, &out->content_encoding, NULL, NULL, NULL, &out->correlation_id,
                               &out->reply_to, &out->expiration, &out->message_id, NULL, &out->type, &out->user_id,
                               &out->app_id, &out->cluster_id};
    for (int i = 0; i < CONF_PROPERTY_COUNT; i++) {
        const struct property_desc *d = &conf_properties[i];
        if (!(p->_flags & d->lib_flag)) continue;
        out->flags |= 1u << i; /* SWAMQP_PROP_* follow the spec's order */
        const void *v = (const uint8_t *)p + d->offset;
        if (strings[i]) {
            const amqp_bytes_t *b = v;
            strings[i]->bytes = b->bytes;
            strings[i]->len = b->len;
        }
    }
    if (p->_flags & AMQP_BASIC_HEADERS_FLAG) sw_table(&p->headers, &out->headers, pool);
    out->delivery_mode = p->delivery_mode;
    out->priority = p->priority;
    out->timestamp = p->timestamp;
}

static int same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) { return alen == blen && memcmp(a, b, alen) == 0; }

/* Re-encodes decoded method fields: the decoder must give back what librabbitmq encoded. */
void library_method_check(const struct method_desc *m, int cases, struct tally *t) {
    for (int c = 0; c < cases; c++) {
        amqp_pool_t pool;
        init_amqp_pool(&pool, 65536);
        void *s = rnd_method(&pool, m, 0, DIR_ENCODE);
        int n = lib_encode(m, s, scratch, sizeof scratch);
        if (n < 0) { fail(t, "library exports", "%s.%s: librabbitmq could not encode (%d)", m->class_name, m->method_name, n); empty_amqp_pool(&pool); continue; }
        swamqp_field_value fields[32];
        sw_arguments(m, s, fields, &pool);
        size_t written = 0;
        swamqp_error err;
        int rc = swamqp_method_encode(m->class_id, m->method_id, fields, (size_t)m->nfields, scratch2, sizeof scratch2, &written, &err);
        if (rc != SWAMQP_OK || !same(scratch, (size_t)n, scratch2, written)) {
            fail(t, "swamqp_method_encode", "%s.%s: %s", m->class_name, m->method_name, rc ? err.message : "bytes differ from librabbitmq's");
            if (rc == SWAMQP_OK) { show_hex("librabbitmq", scratch, (size_t)n); show_hex("swamqp", scratch2, written); }
            empty_amqp_pool(&pool);
            continue;
        }
        const swamqp_array *decoded = NULL;
        rc = swamqp_method_decode(m->class_id, m->method_id, scratch, (size_t)n, &decoded, &err);
        size_t again = 0;
        if (rc == SWAMQP_OK)
            rc = swamqp_method_encode(m->class_id, m->method_id, decoded->values, decoded->count, scratch2, sizeof scratch2, &again, &err);
        if (rc != SWAMQP_OK || !same(scratch, (size_t)n, scratch2, again))
            fail(t, "swamqp_method_decode", "%s.%s: %s", m->class_name, m->method_name, rc ? err.message : "decoded fields re-encode differently");
        else
            t->passed++;
        if (decoded && swamqp_decoded_free(decoded) != SWAMQP_OK) fail(t, "swamqp_decoded_free", "refused a pointer it handed out");
        empty_amqp_pool(&pool);
    }
}

void library_table_and_properties_check(int cases, struct tally *tables, struct tally *props) {
    for (int c = 0; c < cases; c++) {
        amqp_pool_t pool;
        init_amqp_pool(&pool, 65536);
        amqp_table_t table;
        rnd_table(&pool, &table, 0, 0, DIR_ENCODE);
        size_t offset = 0;
        amqp_bytes_t out = {sizeof scratch, scratch};
        int lrc = amqp_encode_table(out, &table, &offset);
        swamqp_table st;
        sw_table(&table, &st, &pool);
        size_t written = 0, consumed = 0, again = 0;
        swamqp_error err;
        int rc = swamqp_table_encode(&st, scratch2, sizeof scratch2, &written, &err);
        const swamqp_table *decoded = NULL;
        if (lrc != AMQP_STATUS_OK || rc != SWAMQP_OK || !same(scratch, offset, scratch2, written)) {
            fail(tables, "swamqp_table_encode", "%s", rc ? err.message : "bytes differ from librabbitmq's");
        } else if (swamqp_table_decode(scratch, offset, &consumed, &decoded, &err) != SWAMQP_OK || consumed != offset ||
                   swamqp_table_encode(decoded, scratch2, sizeof scratch2, &again, &err) != SWAMQP_OK ||
                   !same(scratch, offset, scratch2, again)) {
            fail(tables, "swamqp_table_decode", "%s", err.message);
        } else {
            tables->passed++;
        }
        if (decoded) swamqp_decoded_free(decoded);

        amqp_basic_properties_t *p = rnd_properties(&pool, 0, DIR_ENCODE);
        out.len = sizeof scratch;
        int n = amqp_encode_properties(AMQP_BASIC_CLASS, p, out);
        swamqp_properties sp;
        sw_properties(p, &sp, &pool);
        rc = swamqp_properties_encode(&sp, scratch2, sizeof scratch2, &written, &err);
        const swamqp_properties *dp = NULL;
        if (n < 0 || rc != SWAMQP_OK || !same(scratch, (size_t)n, scratch2, written)) {
            fail(props, "swamqp_properties_encode", "%s", rc ? err.message : "bytes differ from librabbitmq's");
        } else if (swamqp_properties_decode(scratch, (size_t)n, &dp, &err) != SWAMQP_OK ||
                   swamqp_properties_encode(dp, scratch2, sizeof scratch2, &again, &err) != SWAMQP_OK ||
                   !same(scratch, (size_t)n, scratch2, again)) {
            fail(props, "swamqp_properties_decode", "%s", err.message);
        } else {
            props->passed++;
        }
        if (dp) swamqp_decoded_free(dp);
        empty_amqp_pool(&pool);
    }
}

/* Every prefix of an encoding, and flipped bytes, must give a status, never a crash. */
void library_hostile_input_check(struct tally *t) {
    const struct method_desc *declare = NULL;
    for (int i = 0; i < CONF_METHOD_COUNT; i++)
        if (conf_methods[i].class_id == 50 && conf_methods[i].method_id == 10) declare = &conf_methods[i];
    if (!declare) { fail(t, "hostile input", "queue.declare missing from the descriptors"); return; }
    amqp_pool_t pool;
    init_amqp_pool(&pool, 65536);
    void *s = rnd_method(&pool, declare, 0, DIR_ENCODE);
    int n = lib_encode(declare, s, scratch, sizeof scratch);
    for (int len = 0; len < n; len++) {
        const swamqp_array *fields = NULL;
        const swamqp_table *table = NULL;
        const swamqp_properties *props = NULL;
        if (swamqp_method_decode(50, 10, scratch, (size_t)len, &fields, NULL) == SWAMQP_OK) { swamqp_decoded_free(fields); fail(t, "hostile input", "a %d-byte prefix of a %d-byte queue.declare decoded", len, n); }
        if (swamqp_table_decode(scratch, (size_t)len, NULL, &table, NULL) == SWAMQP_OK) swamqp_decoded_free(table);
        if (swamqp_properties_decode(scratch, (size_t)len, &props, NULL) == SWAMQP_OK) swamqp_decoded_free(props);
        t->passed++;
    }
    swamqp_field_value wrong = {0};
    wrong.kind = SWAMQP_FIELD_I32;
    size_t written = 0;
    if (swamqp_method_encode(50, 10, &wrong, 1, scratch2, sizeof scratch2, &written, NULL) != SWAMQP_ERR_INVALID_ARGUMENT)
        fail(t, "hostile input", "a wrongly typed argument was encoded");
    if (swamqp_method_encode(50, 10, &wrong, (size_t)-1, scratch2, sizeof scratch2, &written, NULL) != SWAMQP_ERR_INVALID_ARGUMENT)
        fail(t, "hostile input", "count (size_t)-1 was accepted");
    if (swamqp_method_decode(99, 99, scratch, (size_t)n, &(const swamqp_array *){NULL}, NULL) != SWAMQP_ERR_INVALID_ARGUMENT)
        fail(t, "hostile input", "an unknown method decoded");
    if (swamqp_decoded_free(scratch) != SWAMQP_ERR_INVALID_HANDLE)
        fail(t, "hostile input", "swamqp_decoded_free took a pointer it never handed out");
    empty_amqp_pool(&pool);
    t->passed += 4;
}
