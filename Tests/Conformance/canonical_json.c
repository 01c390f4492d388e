/*
 * The canonical JSON of docs/FRAME-JSON.md, rendered from librabbitmq's structures: what
 * swamqp-frame must print for a frame, and what it is given to encode.
 */
#include "conformance.h"

/* Length of the well-formed UTF-8 sequence at p[i], 0 if none (Unicode table 3-7). */
static size_t utf8_len(const uint8_t *p, size_t n, size_t i) {
    size_t left = n - i;
    uint8_t b = p[i];
#define CONT(k, lo, hi) ((k) < left && p[i + (k)] >= (lo) && p[i + (k)] <= (hi))
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return CONT(1, 0x80, 0xBF) ? 2 : 0;
    if (b == 0xE0) return CONT(1, 0xA0, 0xBF) && CONT(2, 0x80, 0xBF) ? 3 : 0;
    if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return CONT(1, 0x80, 0xBF) && CONT(2, 0x80, 0xBF) ? 3 : 0;
    if (b == 0xED) return CONT(1, 0x80, 0x9F) && CONT(2, 0x80, 0xBF) ? 3 : 0;
    if (b == 0xF0) return CONT(1, 0x90, 0xBF) && CONT(2, 0x80, 0xBF) && CONT(3, 0x80, 0xBF) ? 4 : 0;
    if (b >= 0xF1 && b <= 0xF3) return CONT(1, 0x80, 0xBF) && CONT(2, 0x80, 0xBF) && CONT(3, 0x80, 0xBF) ? 4 : 0;
    if (b == 0xF4) return CONT(1, 0x80, 0x8F) && CONT(2, 0x80, 0xBF) && CONT(3, 0x80, 0xBF) ? 4 : 0;
#undef CONT
    return 0;
}

static void render_hex(struct buf *b, const uint8_t *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    buf_reserve(b, 2 * n + 2);
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        b->data[b->len++] = (uint8_t)digits[p[i] >> 4];
        b->data[b->len++] = (uint8_t)digits[p[i] & 15];
    }
    buf_putc(b, '"');
}

static void render_bytes(struct buf *b, amqp_bytes_t s) {
    const uint8_t *p = s.bytes;
    size_t i = 0;
    while (i < s.len) {
        size_t k = utf8_len(p, s.len, i);
        if (!k) break;
        i += k;
    }
    if (i < s.len) {
        buf_puts(b, "{\"hex\":");
        render_hex(b, p, s.len);
        buf_putc(b, '}');
        return;
    }
    buf_putc(b, '"');
    for (i = 0; i < s.len; i++) {
        uint8_t c = p[i];
        switch (c) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\b': buf_puts(b, "\\b"); break;
        case '\f': buf_puts(b, "\\f"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        default:
            if (c < 0x20) buf_printf(b, "\\u%04x", c);
            else buf_putc(b, c);
        }
    }
    buf_putc(b, '"');
}

/* `"tag",value` of one field value (the caller adds the brackets). */
static void render_value(struct buf *b, const amqp_field_value_t *v) {
    buf_printf(b, "\"%c\",", v->kind);
    switch (v->kind) {
    case 't': buf_puts(b, v->value.boolean ? "true" : "false"); break;
    case 'b': buf_printf(b, "%d", v->value.i8); break;
    case 'B': buf_printf(b, "%u", v->value.u8); break;
    case 's': buf_printf(b, "%d", v->value.i16); break;
    case 'u': buf_printf(b, "%u", v->value.u16); break;
    case 'I': buf_printf(b, "%" PRId32, v->value.i32); break;
    case 'i': buf_printf(b, "%" PRIu32, v->value.u32); break;
    case 'l': buf_printf(b, "\"%" PRId64 "\"", v->value.i64); break;
    case 'L':
    case 'T': buf_printf(b, "\"%" PRIu64 "\"", v->value.u64); break;
    case 'f': buf_printf(b, "\"%08" PRIx32 "\"", v->value.u32); break;
    case 'd': buf_printf(b, "\"%016" PRIx64 "\"", v->value.u64); break;
    case 'D': buf_printf(b, "{\"scale\":%u,\"value\":%" PRIu32 "}", v->value.decimal.decimals, v->value.decimal.value); break;
    case 'S':
    case 'x': render_bytes(b, v->value.bytes); break;
    case 'A':
        buf_putc(b, '[');
        for (int i = 0; i < v->value.array.num_entries; i++) {
            if (i) buf_putc(b, ',');
            buf_putc(b, '[');
            render_value(b, &v->value.array.entries[i]);
            buf_putc(b, ']');
        }
        buf_putc(b, ']');
        break;
    case 'F': render_table(b, &v->value.table); break;
    case 'V': buf_puts(b, "null"); break;
    default: buf_printf(b, "\"unknown kind %d\"", v->kind);
    }
}

void render_table(struct buf *b, const amqp_table_t *t) {
    buf_putc(b, '[');
    for (int i = 0; i < t->num_entries; i++) {
        if (i) buf_putc(b, ',');
        buf_putc(b, '[');
        render_bytes(b, t->entries[i].key);
        buf_putc(b, ',');
        render_value(b, &t->entries[i].value);
        buf_putc(b, ']');
    }
    buf_putc(b, ']');
}

static void render_field(struct buf *b, enum field_kind kind, const void *p) {
    switch (kind) {
    case K_OCTET: buf_printf(b, "%u", *(const uint8_t *)p); break;
    case K_SHORT: buf_printf(b, "%u", *(const uint16_t *)p); break;
    case K_LONG: buf_printf(b, "%" PRIu32, *(const uint32_t *)p); break;
    case K_LONGLONG:
    case K_TIMESTAMP: buf_printf(b, "\"%" PRIu64 "\"", *(const uint64_t *)p); break;
    case K_BIT: buf_puts(b, *(const amqp_boolean_t *)p ? "true" : "false"); break;
    case K_SHORTSTR:
    case K_LONGSTR: render_bytes(b, *(const amqp_bytes_t *)p); break;
    case K_TABLE: render_table(b, (const amqp_table_t *)p); break;
    }
}

void render_method(struct buf *b, const struct method_desc *m, uint16_t channel, const void *s) {
    buf_printf(b, "{\"type\":\"method\",\"channel\":%u,\"class\":\"%s\",\"method\":\"%s\",\"fields\":{", channel,
               m->class_name, m->method_name);
    for (int i = 0; i < m->nfields; i++) {
        if (i) buf_putc(b, ',');
        buf_printf(b, "\"%s\":", m->fields[i].name);
        render_field(b, m->fields[i].kind, (const uint8_t *)s + m->fields[i].offset);
    }
    buf_puts(b, "}}");
}

void render_header(struct buf *b, uint16_t channel, uint64_t body_size, const amqp_basic_properties_t *p) {
    buf_printf(b, "{\"type\":\"header\",\"channel\":%u,\"class\":\"basic\",\"body-size\":\"%" PRIu64 "\",\"properties\":{",
               channel, body_size);
    int first = 1;
    for (int i = 0; i < CONF_PROPERTY_COUNT; i++) {
        const struct property_desc *d = &conf_properties[i];
        if (!(p->_flags & d->lib_flag)) continue;
        if (!first) buf_putc(b, ',');
        first = 0;
        buf_printf(b, "\"%s\":", d->name);
        render_field(b, d->kind, (const uint8_t *)p + d->offset);
    }
    buf_puts(b, "}}");
}
