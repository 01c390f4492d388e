/*
 * librabbitmq's codec functions (amqp_encode_method, amqp_decode_method, amqp_encode_properties,
 * amqp_decode_properties, amqp_encode_table, amqp_decode_table) on swiftamqp's own codec
 * (swamqp_method_encode and friends): this file only moves values between librabbitmq's structs
 * and swamqp_field_value lists, using the argument offsets generated from the spec
 * (generated/compat_layouts.h); it encodes and decodes nothing itself.
 *
 * Statuses are librabbitmq's: AMQP_STATUS_UNKNOWN_METHOD / _UNKNOWN_CLASS for ids it does not
 * know, AMQP_STATUS_BAD_AMQP_DATA for malformed input or a method that does not fit the buffer,
 * AMQP_STATUS_TABLE_TOO_BIG for a table that does not fit, AMQP_STATUS_NO_MEMORY. Decoded strings
 * and tables are copied into the caller's pool (librabbitmq points into the input instead; a copy
 * is valid at least as long).
 */
#include "compat.h"
#include "generated/compat_layouts.h"

#include <string.h>

#define COMPAT_MAX_ARGUMENTS 16

static const compat_method_layout *layout_of(amqp_method_number_t number)
{
    for (size_t i = 0; i < sizeof compat_method_layouts / sizeof compat_method_layouts[0]; i++)
        if (compat_method_layouts[i].number == number)
            return &compat_method_layouts[i];
    return NULL;
}

/* One argument of a librabbitmq struct as a swamqp value; tables are converted into `scratch`. */
static int argument_to_sw(const compat_argument *a, const char *base, swamqp_field_value *out, amqp_pool_t *scratch)
{
    const void *p = base + a->offset;
    memset(out, 0, sizeof *out);
    switch (a->kind) {
    case 'b': out->kind = SWAMQP_FIELD_BOOL; out->value.boolean = *(const amqp_boolean_t *)p != 0; return 0;
    case 'o': out->kind = SWAMQP_FIELD_U8; out->value.u8 = *(const uint8_t *)p; return 0;
    case 's': out->kind = SWAMQP_FIELD_U16; out->value.u16 = *(const uint16_t *)p; return 0;
    case 'l': out->kind = SWAMQP_FIELD_U32; out->value.u32 = *(const uint32_t *)p; return 0;
    case 'L': out->kind = SWAMQP_FIELD_U64; out->value.u64 = *(const uint64_t *)p; return 0;
    case 't': out->kind = SWAMQP_FIELD_TIMESTAMP; out->value.u64 = *(const uint64_t *)p; return 0;
    case 'S':
    case 'X': {
        const amqp_bytes_t *b = p;
        out->kind = SWAMQP_FIELD_STRING;
        out->value.bytes.bytes = b->bytes;
        out->value.bytes.len = b->len;
        return 0;
    }
    case 'F':
        out->kind = SWAMQP_FIELD_TABLE;
        return compat_table_to_sw(p, &out->value.table, scratch);
    default: return AMQP_STATUS_BAD_AMQP_DATA;
    }
}

/* A decoded swamqp value into the librabbitmq struct, copying strings and tables into `pool`. */
static int argument_from_sw(const compat_argument *a, char *base, const swamqp_field_value *in, amqp_pool_t *pool)
{
    void *p = base + a->offset;
    switch (a->kind) {
    case 'b': *(amqp_boolean_t *)p = in->value.boolean ? 1 : 0; return 0;
    case 'o': *(uint8_t *)p = in->value.u8; return 0;
    case 's': *(uint16_t *)p = in->value.u16; return 0;
    case 'l': *(uint32_t *)p = in->value.u32; return 0;
    case 'L':
    case 't': *(uint64_t *)p = in->value.u64; return 0;
    case 'S':
    case 'X': {
        amqp_bytes_t *b = p;
        *b = compat_pool_dup(pool, in->value.bytes.bytes, in->value.bytes.len);
        return in->value.bytes.len > 0 && b->bytes == NULL ? AMQP_STATUS_NO_MEMORY : 0;
    }
    case 'F': return compat_table_from_sw(&in->value.table, p, pool);
    default: return AMQP_STATUS_BAD_AMQP_DATA;
    }
}

int amqp_encode_method(amqp_method_number_t methodNumber, void *decoded, amqp_bytes_t encoded)
{
    const compat_method_layout *layout = layout_of(methodNumber);
    if (layout == NULL)
        return AMQP_STATUS_UNKNOWN_METHOD;
    if (decoded == NULL && layout->count > 0)
        return AMQP_STATUS_INVALID_PARAMETER;
    swamqp_field_value fields[COMPAT_MAX_ARGUMENTS];
    if (layout->count > COMPAT_MAX_ARGUMENTS)
        return AMQP_STATUS_BAD_AMQP_DATA;
    amqp_pool_t scratch;
    init_amqp_pool(&scratch, 4096);
    int res = 0;
    for (size_t i = 0; i < layout->count && res == 0; i++)
        res = argument_to_sw(&layout->arguments[i], decoded, &fields[i], &scratch);
    size_t written = 0;
    if (res == 0 &&
        swamqp_method_encode((uint16_t)(methodNumber >> 16), (uint16_t)(methodNumber & 0xFFFF), fields, layout->count,
                             encoded.bytes, encoded.len, &written, NULL) != SWAMQP_OK)
        res = AMQP_STATUS_BAD_AMQP_DATA;
    empty_amqp_pool(&scratch);
    if (res != 0)
        return res < 0 ? res : AMQP_STATUS_BAD_AMQP_DATA;
    return (int)written;
}

int amqp_decode_method(amqp_method_number_t methodNumber, amqp_pool_t *pool, amqp_bytes_t encoded, void **decoded)
{
    const compat_method_layout *layout = layout_of(methodNumber);
    if (layout == NULL)
        return AMQP_STATUS_UNKNOWN_METHOD;
    if (pool == NULL || decoded == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    const swamqp_array *fields = NULL;
    if (swamqp_method_decode((uint16_t)(methodNumber >> 16), (uint16_t)(methodNumber & 0xFFFF), encoded.bytes,
                             encoded.len, &fields, NULL) != SWAMQP_OK)
        return AMQP_STATUS_BAD_AMQP_DATA;
    int res = 0;
    char *out = amqp_pool_alloc(pool, layout->size);
    if (out == NULL || fields->count != layout->count)
        res = out == NULL ? AMQP_STATUS_NO_MEMORY : AMQP_STATUS_BAD_AMQP_DATA;
    else
        memset(out, 0, layout->size);
    for (size_t i = 0; i < layout->count && res == 0; i++)
        res = argument_from_sw(&layout->arguments[i], out, &fields->values[i], pool);
    swamqp_decoded_free(fields);
    if (res != 0)
        return res < 0 ? res : AMQP_STATUS_BAD_AMQP_DATA;
    *decoded = out;
    return AMQP_STATUS_OK;
}

/* The classes librabbitmq knows. Only basic (60) has properties; for the others the property list
 * is the flags word alone. */
static bool known_class(uint16_t class_id)
{
    switch (class_id) {
    case 10: case 20: case 30: case 40: case 50: case 60: case 85: case 90: return true;
    default: return false;
    }
}

int amqp_encode_properties(uint16_t class_id, void *decoded, amqp_bytes_t encoded)
{
    if (!known_class(class_id))
        return AMQP_STATUS_UNKNOWN_CLASS;
    if (decoded == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    swamqp_properties props;
    memset(&props, 0, sizeof props);
    amqp_pool_t scratch;
    init_amqp_pool(&scratch, 4096);
    int res = 0;
    if (class_id == 60)
        res = compat_props_to_sw(decoded, &props, &scratch);
    else if (*(const amqp_flags_t *)decoded != 0)
        res = AMQP_STATUS_BAD_AMQP_DATA; /* no property of such a class exists */
    size_t written = 0;
    if (res == 0 && swamqp_properties_encode(class_id == 60 ? &props : NULL, encoded.bytes, encoded.len, &written, NULL) !=
                        SWAMQP_OK)
        res = AMQP_STATUS_BAD_AMQP_DATA;
    empty_amqp_pool(&scratch);
    if (res != 0)
        return res < 0 ? res : AMQP_STATUS_BAD_AMQP_DATA;
    return (int)written;
}

int amqp_decode_properties(uint16_t class_id, amqp_pool_t *pool, amqp_bytes_t encoded, void **decoded)
{
    if (!known_class(class_id))
        return AMQP_STATUS_UNKNOWN_CLASS;
    if (pool == NULL || decoded == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    const swamqp_properties *props = NULL;
    if (swamqp_properties_decode(encoded.bytes, encoded.len, &props, NULL) != SWAMQP_OK)
        return AMQP_STATUS_BAD_AMQP_DATA;
    int res = 0;
    void *out = NULL;
    if (class_id == 60) {
        out = amqp_pool_alloc(pool, sizeof(amqp_basic_properties_t));
        res = out == NULL ? AMQP_STATUS_NO_MEMORY : compat_props_from_sw(props, out, pool);
    } else if (props->flags != 0) {
        res = AMQP_STATUS_BAD_AMQP_DATA;
    } else {
        /* amqp_<class>_properties_t: the flags word, then a dummy member */
        out = amqp_pool_alloc(pool, sizeof(amqp_connection_properties_t));
        if (out == NULL)
            res = AMQP_STATUS_NO_MEMORY;
        else
            memset(out, 0, sizeof(amqp_connection_properties_t));
    }
    swamqp_decoded_free(props);
    if (res != 0)
        return res < 0 ? res : AMQP_STATUS_BAD_AMQP_DATA;
    *decoded = out;
    return AMQP_STATUS_OK;
}

int amqp_encode_table(amqp_bytes_t encoded, amqp_table_t *input, size_t *offset)
{
    if (input == NULL || offset == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    if (*offset > encoded.len)
        return AMQP_STATUS_TABLE_TOO_BIG;
    swamqp_table table;
    amqp_pool_t scratch;
    init_amqp_pool(&scratch, 4096);
    int res = compat_table_to_sw(input, &table, &scratch);
    size_t room = encoded.len - *offset, written = 0;
    if (res == 0) {
        int rc = swamqp_table_encode(&table, (char *)encoded.bytes + *offset, room, &written, NULL);
        if (rc != SWAMQP_OK)
            res = written > room ? AMQP_STATUS_TABLE_TOO_BIG : AMQP_STATUS_BAD_AMQP_DATA;
    }
    empty_amqp_pool(&scratch);
    if (res != 0)
        return res < 0 ? res : AMQP_STATUS_BAD_AMQP_DATA;
    *offset += written;
    return AMQP_STATUS_OK;
}

int amqp_decode_table(amqp_bytes_t encoded, amqp_pool_t *pool, amqp_table_t *output, size_t *offset)
{
    if (pool == NULL || output == NULL || offset == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    if (*offset > encoded.len)
        return AMQP_STATUS_BAD_AMQP_DATA;
    const swamqp_table *table = NULL;
    size_t consumed = 0;
    if (swamqp_table_decode((const char *)encoded.bytes + *offset, encoded.len - *offset, &consumed, &table, NULL) !=
        SWAMQP_OK)
        return AMQP_STATUS_BAD_AMQP_DATA;
    int res = compat_table_from_sw(table, output, pool);
    swamqp_decoded_free(table);
    if (res != 0)
        return res < 0 ? res : AMQP_STATUS_BAD_AMQP_DATA;
    *offset += consumed;
    return AMQP_STATUS_OK;
}
