/*
 * Method codecs on the librabbitmq side: librabbitmq's own, or, for the methods it lacks, the
 * suite's reference codec written from the spec descriptors.
 */
#include "conformance.h"

/* The spec's field layout, written here from the descriptors: bits packed into octets (first bit
 * lowest), strings with their length prefixes, tables through librabbitmq's amqp_encode_table. */
int ref_encode(const struct method_desc *m, const void *s, uint8_t *out, size_t cap) {
    struct buf b = {0};
    int bit = -1;
    size_t bit_at = 0;
    for (int i = 0; i < m->nfields; i++) {
        const void *p = (const uint8_t *)s + m->fields[i].offset;
        enum field_kind k = m->fields[i].kind;
        if (k == K_BIT) {
            if (bit < 0 || bit == 8) { bit_at = b.len; buf_putc(&b, 0); bit = 0; }
            if (*(const amqp_boolean_t *)p) b.data[bit_at] |= (uint8_t)(1 << bit);
            bit++;
            continue;
        }
        bit = -1;
        switch (k) {
        case K_OCTET: buf_putc(&b, *(const uint8_t *)p); break;
        case K_SHORT: put16(&b, *(const uint16_t *)p); break;
        case K_LONG: put32(&b, *(const uint32_t *)p); break;
        case K_LONGLONG:
        case K_TIMESTAMP: put64(&b, *(const uint64_t *)p); break;
        case K_SHORTSTR: {
            amqp_bytes_t v = *(const amqp_bytes_t *)p;
            if (v.len > 255) { free(b.data); return -1; }
            buf_putc(&b, (uint8_t)v.len);
            buf_put(&b, v.bytes, v.len);
            break;
        }
        case K_LONGSTR: {
            amqp_bytes_t v = *(const amqp_bytes_t *)p;
            put32(&b, (uint32_t)v.len);
            buf_put(&b, v.bytes, v.len);
            break;
        }
        case K_TABLE: {
            size_t room = 1 << 22, offset = 0;
            buf_reserve(&b, room);
            amqp_bytes_t e = {room, b.data + b.len};
            if (amqp_encode_table(e, (amqp_table_t *)p, &offset) != AMQP_STATUS_OK) { free(b.data); return -1; }
            b.len += offset;
            break;
        }
        case K_BIT: break;
        }
    }
    int n = -1;
    if (b.len <= cap) {
        memcpy(out, b.data, b.len);
        n = (int)b.len;
    }
    free(b.data);
    return n;
}

static int ref_decode(const struct method_desc *m, amqp_pool_t *pool, const uint8_t *in, size_t len, void *s) {
    size_t at = 0;
    int bit = -1;
    uint8_t bits = 0;
    for (int i = 0; i < m->nfields; i++) {
        void *p = (uint8_t *)s + m->fields[i].offset;
        enum field_kind k = m->fields[i].kind;
        if (k == K_BIT) {
            if (bit < 0 || bit == 8) {
                if (at + 1 > len) return -1;
                bits = in[at++];
                bit = 0;
            }
            *(amqp_boolean_t *)p = (bits >> bit) & 1;
            bit++;
            continue;
        }
        bit = -1;
        switch (k) {
        case K_OCTET: if (at + 1 > len) return -1; *(uint8_t *)p = in[at]; at += 1; break;
        case K_SHORT: if (at + 2 > len) return -1; *(uint16_t *)p = get16(in + at); at += 2; break;
        case K_LONG: if (at + 4 > len) return -1; *(uint32_t *)p = get32(in + at); at += 4; break;
        case K_LONGLONG:
        case K_TIMESTAMP: if (at + 8 > len) return -1; *(uint64_t *)p = get64(in + at); at += 8; break;
        case K_SHORTSTR: {
            if (at + 1 > len) return -1;
            size_t n = in[at++];
            if (n > len - at) return -1;
            amqp_bytes_t v = {n, (void *)(in + at)};
            *(amqp_bytes_t *)p = v;
            at += n;
            break;
        }
        case K_LONGSTR: {
            if (at + 4 > len) return -1;
            size_t n = get32(in + at);
            at += 4;
            if (n > len - at) return -1;
            amqp_bytes_t v = {n, (void *)(in + at)};
            *(amqp_bytes_t *)p = v;
            at += n;
            break;
        }
        case K_TABLE: {
            amqp_bytes_t e = {len, (void *)in};
            if (amqp_decode_table(e, pool, (amqp_table_t *)p, &at) != AMQP_STATUS_OK) return -1;
            break;
        }
        case K_BIT: break;
        }
    }
    return at == len ? 0 : -1;
}

static amqp_method_number_t method_number(const struct method_desc *m) {
    return (amqp_method_number_t)((uint32_t)m->class_id << 16 | m->method_id);
}

int lib_encode(const struct method_desc *m, void *s, uint8_t *out, size_t cap) {
    if (!m->in_librabbitmq) return ref_encode(m, s, out, cap);
    amqp_bytes_t e = {cap, out};
    return amqp_encode_method(method_number(m), s, e);
}

int lib_decode(const struct method_desc *m, amqp_pool_t *pool, const uint8_t *in, size_t len, void **out) {
    if (!m->in_librabbitmq) {
        *out = pool_alloc(pool, m->struct_size);
        return ref_decode(m, pool, in, len, *out);
    }
    amqp_bytes_t e = {len, (void *)in};
    return amqp_decode_method(method_number(m), pool, e, out);
}
