/*
 * librabbitmq compatibility layer: field tables and basic properties. Conversions between
 * librabbitmq's structs and swamqp's (copies into a pool one way, views the other way),
 * amqp_table_clone, amqp_table_entry_cmp, and the deep copy of properties that amqp_read_message
 * makes. Written for swiftamqp against the librabbitmq 0.11 headers (ABI only, no librabbitmq
 * code).
 */
#define _GNU_SOURCE
#include <string.h>

#include "compat.h"

/* ---- tables: swamqp <-> librabbitmq --------------------------------------------------------- */
static int value_from_sw(const swamqp_field_value *in, amqp_field_value_t *out, amqp_pool_t *pool);

int compat_table_from_sw(const swamqp_table *in, amqp_table_t *out, amqp_pool_t *pool)
{
    out->num_entries = 0;
    out->entries = NULL;
    if (in == NULL || in->count == 0)
        return AMQP_STATUS_OK;
    out->entries = amqp_pool_alloc(pool, in->count * sizeof(amqp_table_entry_t));
    if (out->entries == NULL)
        return AMQP_STATUS_NO_MEMORY;
    for (size_t i = 0; i < in->count; i++) {
        out->entries[i].key = compat_pool_dup(pool, in->entries[i].key.bytes, in->entries[i].key.len);
        int rc = value_from_sw(&in->entries[i].value, &out->entries[i].value, pool);
        if (rc)
            return rc;
    }
    out->num_entries = (int)in->count;
    return AMQP_STATUS_OK;
}

static int value_from_sw(const swamqp_field_value *in, amqp_field_value_t *out, amqp_pool_t *pool)
{
    memset(out, 0, sizeof *out);
    out->kind = in->kind; /* the tags are the same characters in both libraries */
    switch (in->kind) {
    case SWAMQP_FIELD_BOOL: out->value.boolean = in->value.boolean ? 1 : 0; break;
    case SWAMQP_FIELD_I8: out->value.i8 = in->value.i8; break;
    case SWAMQP_FIELD_U8: out->value.u8 = in->value.u8; break;
    case SWAMQP_FIELD_I16: out->value.i16 = in->value.i16; break;
    case SWAMQP_FIELD_U16: out->value.u16 = in->value.u16; break;
    case SWAMQP_FIELD_I32: out->value.i32 = in->value.i32; break;
    case SWAMQP_FIELD_U32: out->value.u32 = in->value.u32; break;
    case SWAMQP_FIELD_I64: out->value.i64 = in->value.i64; break;
    case SWAMQP_FIELD_U64:
    case SWAMQP_FIELD_TIMESTAMP: out->value.u64 = in->value.u64; break;
    case SWAMQP_FIELD_F32: out->value.f32 = in->value.f32; break;
    case SWAMQP_FIELD_F64: out->value.f64 = in->value.f64; break;
    case SWAMQP_FIELD_DECIMAL:
        out->value.decimal.decimals = in->value.decimal.scale;
        out->value.decimal.value = in->value.decimal.value;
        break;
    case SWAMQP_FIELD_STRING:
    case SWAMQP_FIELD_BYTES:
        out->value.bytes = compat_pool_dup(pool, in->value.bytes.bytes, in->value.bytes.len);
        break;
    case SWAMQP_FIELD_TABLE: return compat_table_from_sw(&in->value.table, &out->value.table, pool);
    case SWAMQP_FIELD_ARRAY: {
        size_t n = in->value.array.count;
        out->value.array.num_entries = 0;
        out->value.array.entries = NULL;
        if (n == 0)
            break;
        out->value.array.entries = amqp_pool_alloc(pool, n * sizeof(amqp_field_value_t));
        if (out->value.array.entries == NULL)
            return AMQP_STATUS_NO_MEMORY;
        for (size_t i = 0; i < n; i++) {
            int rc = value_from_sw(&in->value.array.values[i], &out->value.array.entries[i], pool);
            if (rc)
                return rc;
        }
        out->value.array.num_entries = (int)n;
        break;
    }
    case SWAMQP_FIELD_VOID: break;
    default: return AMQP_STATUS_BAD_AMQP_DATA;
    }
    return AMQP_STATUS_OK;
}

static int value_to_sw(const amqp_field_value_t *in, swamqp_field_value *out, amqp_pool_t *pool);

int compat_table_to_sw(const amqp_table_t *in, swamqp_table *out, amqp_pool_t *pool)
{
    out->count = 0;
    out->entries = NULL;
    if (in == NULL || in->num_entries <= 0)
        return AMQP_STATUS_OK;
    swamqp_table_entry *e = amqp_pool_alloc(pool, (size_t)in->num_entries * sizeof *e);
    if (e == NULL)
        return AMQP_STATUS_NO_MEMORY;
    for (int i = 0; i < in->num_entries; i++) {
        e[i].key.bytes = in->entries[i].key.bytes;
        e[i].key.len = in->entries[i].key.len;
        int rc = value_to_sw(&in->entries[i].value, &e[i].value, pool);
        if (rc)
            return rc;
    }
    out->entries = e;
    out->count = (size_t)in->num_entries;
    return AMQP_STATUS_OK;
}

static int value_to_sw(const amqp_field_value_t *in, swamqp_field_value *out, amqp_pool_t *pool)
{
    memset(out, 0, sizeof *out);
    out->kind = in->kind;
    switch (in->kind) {
    case AMQP_FIELD_KIND_BOOLEAN: out->value.boolean = in->value.boolean != 0; break;
    case AMQP_FIELD_KIND_I8: out->value.i8 = in->value.i8; break;
    case AMQP_FIELD_KIND_U8: out->value.u8 = in->value.u8; break;
    case AMQP_FIELD_KIND_I16: out->value.i16 = in->value.i16; break;
    case AMQP_FIELD_KIND_U16: out->value.u16 = in->value.u16; break;
    case AMQP_FIELD_KIND_I32: out->value.i32 = in->value.i32; break;
    case AMQP_FIELD_KIND_U32: out->value.u32 = in->value.u32; break;
    case AMQP_FIELD_KIND_I64: out->value.i64 = in->value.i64; break;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: out->value.u64 = in->value.u64; break;
    case AMQP_FIELD_KIND_F32: out->value.f32 = in->value.f32; break;
    case AMQP_FIELD_KIND_F64: out->value.f64 = in->value.f64; break;
    case AMQP_FIELD_KIND_DECIMAL:
        out->value.decimal.scale = in->value.decimal.decimals;
        out->value.decimal.value = in->value.decimal.value;
        break;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
        out->value.bytes.bytes = in->value.bytes.bytes;
        out->value.bytes.len = in->value.bytes.len;
        break;
    case AMQP_FIELD_KIND_TABLE: return compat_table_to_sw(&in->value.table, &out->value.table, pool);
    case AMQP_FIELD_KIND_ARRAY: {
        int n = in->value.array.num_entries;
        if (n <= 0)
            break;
        swamqp_field_value *v = amqp_pool_alloc(pool, (size_t)n * sizeof *v);
        if (v == NULL)
            return AMQP_STATUS_NO_MEMORY;
        for (int i = 0; i < n; i++) {
            int rc = value_to_sw(&in->value.array.entries[i], &v[i], pool);
            if (rc)
                return rc;
        }
        out->value.array.values = v;
        out->value.array.count = (size_t)n;
        break;
    }
    case AMQP_FIELD_KIND_VOID: break;
    default: return AMQP_STATUS_INVALID_PARAMETER;
    }
    return AMQP_STATUS_OK;
}

static int clone_value(const amqp_field_value_t *in, amqp_field_value_t *out, amqp_pool_t *pool);

int amqp_table_clone(const amqp_table_t *original, amqp_table_t *clone, amqp_pool_t *pool)
{
    if (original == NULL || clone == NULL || pool == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    clone->num_entries = 0;
    clone->entries = NULL;
    if (original->num_entries <= 0)
        return AMQP_STATUS_OK;
    clone->entries = amqp_pool_alloc(pool, (size_t)original->num_entries * sizeof(amqp_table_entry_t));
    if (clone->entries == NULL)
        return AMQP_STATUS_NO_MEMORY;
    for (int i = 0; i < original->num_entries; i++) {
        const amqp_table_entry_t *e = &original->entries[i];
        if (e->key.len == 0)
            return AMQP_STATUS_INVALID_PARAMETER;
        clone->entries[i].key = compat_pool_dup(pool, e->key.bytes, e->key.len);
        if (clone->entries[i].key.bytes == NULL)
            return AMQP_STATUS_NO_MEMORY;
        int rc = clone_value(&e->value, &clone->entries[i].value, pool);
        if (rc)
            return rc;
    }
    clone->num_entries = original->num_entries;
    return AMQP_STATUS_OK;
}

static int clone_value(const amqp_field_value_t *in, amqp_field_value_t *out, amqp_pool_t *pool)
{
    *out = *in;
    switch (in->kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
        out->value.bytes = compat_pool_dup(pool, in->value.bytes.bytes, in->value.bytes.len);
        if (in->value.bytes.len && out->value.bytes.bytes == NULL)
            return AMQP_STATUS_NO_MEMORY;
        return AMQP_STATUS_OK;
    case AMQP_FIELD_KIND_TABLE: return amqp_table_clone(&in->value.table, &out->value.table, pool);
    case AMQP_FIELD_KIND_ARRAY: {
        int n = in->value.array.num_entries;
        out->value.array.num_entries = 0;
        out->value.array.entries = NULL;
        if (n <= 0)
            return AMQP_STATUS_OK;
        out->value.array.entries = amqp_pool_alloc(pool, (size_t)n * sizeof(amqp_field_value_t));
        if (out->value.array.entries == NULL)
            return AMQP_STATUS_NO_MEMORY;
        for (int i = 0; i < n; i++) {
            int rc = clone_value(&in->value.array.entries[i], &out->value.array.entries[i], pool);
            if (rc)
                return rc;
        }
        out->value.array.num_entries = n;
        return AMQP_STATUS_OK;
    }
    default: return AMQP_STATUS_OK;
    }
}

int amqp_table_entry_cmp(void const *entry1, void const *entry2)
{
    const amqp_table_entry_t *a = entry1, *b = entry2;
    size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
    int d = n ? memcmp(a->key.bytes, b->key.bytes, n) : 0;
    if (d != 0)
        return d;
    return (a->key.len > b->key.len) - (a->key.len < b->key.len);
}

/* ---- properties ------------------------------------------------------------------------------ */
#define PROP_MAP(X)                                                                                \
    X(AMQP_BASIC_CONTENT_TYPE_FLAG, SWAMQP_PROP_CONTENT_TYPE, content_type)                        \
    X(AMQP_BASIC_CONTENT_ENCODING_FLAG, SWAMQP_PROP_CONTENT_ENCODING, content_encoding)            \
    X(AMQP_BASIC_CORRELATION_ID_FLAG, SWAMQP_PROP_CORRELATION_ID, correlation_id)                  \
    X(AMQP_BASIC_REPLY_TO_FLAG, SWAMQP_PROP_REPLY_TO, reply_to)                                    \
    X(AMQP_BASIC_EXPIRATION_FLAG, SWAMQP_PROP_EXPIRATION, expiration)                              \
    X(AMQP_BASIC_MESSAGE_ID_FLAG, SWAMQP_PROP_MESSAGE_ID, message_id)                              \
    X(AMQP_BASIC_TYPE_FLAG, SWAMQP_PROP_TYPE, type)                                                \
    X(AMQP_BASIC_USER_ID_FLAG, SWAMQP_PROP_USER_ID, user_id)                                       \
    X(AMQP_BASIC_APP_ID_FLAG, SWAMQP_PROP_APP_ID, app_id)                                          \
    X(AMQP_BASIC_CLUSTER_ID_FLAG, SWAMQP_PROP_CLUSTER_ID, cluster_id)

int compat_props_from_sw(const swamqp_properties *in, amqp_basic_properties_t *out, amqp_pool_t *pool)
{
    memset(out, 0, sizeof *out);
#define FROM_SW(AF, SF, name)                                                                      \
    if (in->flags & SF) {                                                                          \
        out->_flags |= AF;                                                                         \
        out->name = compat_pool_dup(pool, in->name.bytes, in->name.len);                           \
    }
    PROP_MAP(FROM_SW)
#undef FROM_SW
    if (in->flags & SWAMQP_PROP_HEADERS) {
        out->_flags |= AMQP_BASIC_HEADERS_FLAG;
        int rc = compat_table_from_sw(&in->headers, &out->headers, pool);
        if (rc)
            return rc;
    }
    if (in->flags & SWAMQP_PROP_DELIVERY_MODE) {
        out->_flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
        out->delivery_mode = in->delivery_mode;
    }
    if (in->flags & SWAMQP_PROP_PRIORITY) {
        out->_flags |= AMQP_BASIC_PRIORITY_FLAG;
        out->priority = in->priority;
    }
    if (in->flags & SWAMQP_PROP_TIMESTAMP) {
        out->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        out->timestamp = in->timestamp;
    }
    return AMQP_STATUS_OK;
}

int compat_props_to_sw(const amqp_basic_properties_t *in, swamqp_properties *out, amqp_pool_t *pool)
{
    memset(out, 0, sizeof *out);
#define TO_SW(AF, SF, name)                                                                        \
    if (in->_flags & AF) {                                                                         \
        out->flags |= SF;                                                                          \
        out->name.bytes = in->name.bytes;                                                          \
        out->name.len = in->name.len;                                                              \
    }
    PROP_MAP(TO_SW)
#undef TO_SW
    if (in->_flags & AMQP_BASIC_HEADERS_FLAG) {
        out->flags |= SWAMQP_PROP_HEADERS;
        int rc = compat_table_to_sw(&in->headers, &out->headers, pool);
        if (rc)
            return rc;
    }
    if (in->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG) {
        out->flags |= SWAMQP_PROP_DELIVERY_MODE;
        out->delivery_mode = in->delivery_mode;
    }
    if (in->_flags & AMQP_BASIC_PRIORITY_FLAG) {
        out->flags |= SWAMQP_PROP_PRIORITY;
        out->priority = in->priority;
    }
    if (in->_flags & AMQP_BASIC_TIMESTAMP_FLAG) {
        out->flags |= SWAMQP_PROP_TIMESTAMP;
        out->timestamp = in->timestamp;
    }
    return AMQP_STATUS_OK;
}

/* Deep copy of librabbitmq properties into `pool` (for amqp_read_message). A copy that cannot be
 * made is AMQP_STATUS_NO_MEMORY, as in librabbitmq, not a property that silently went empty. */
int compat_props_clone(const amqp_basic_properties_t *in, amqp_basic_properties_t *out, amqp_pool_t *pool)
{
    *out = *in;
#define CLONE(AF, SF, name)                                                                        \
    if (in->_flags & AF) {                                                                         \
        out->name = compat_pool_dup(pool, in->name.bytes, in->name.len);                           \
        if (in->name.len && out->name.bytes == NULL)                                               \
            return AMQP_STATUS_NO_MEMORY;                                                          \
    }
    PROP_MAP(CLONE)
#undef CLONE
    if (in->_flags & AMQP_BASIC_HEADERS_FLAG)
        return amqp_table_clone(&in->headers, &out->headers, pool);
    return AMQP_STATUS_OK;
}
