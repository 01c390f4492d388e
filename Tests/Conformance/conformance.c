/*
 * Wire conformance of swiftamqp's codec against librabbitmq (rabbitmq-c), byte for byte.
 *
 *   conformance TOOL VECTORS_DIR [CASES]
 *
 * TOOL is the swamqp-frame executable (our codec, docs/FRAME-JSON.md); the library's own codec
 * exports (swamqp_method_encode and friends) are checked in process, against librabbitmq's
 * encodings of the same random structures. VECTORS_DIR holds
 * rabbitmq-c's pre-encoded table vector. For every method of the spec, the 14 basic properties
 * and every field-table type, with CASES (default 1000) seeded random cases per method and
 * direction (seed: CONFORMANCE_SEED in the environment, else a fixed one):
 *
 *   decode direction: librabbitmq encodes a random structure -> swamqp-frame decode -> its JSON
 *     must equal the structure's canonical JSON, rendered here (the same fields);
 *   encode direction: the canonical JSON of a random structure -> swamqp-frame encode -> the frame
 *     must be well formed, librabbitmq must decode it to the same fields, and both librabbitmq's
 *     re-encoding and its encoding of the original structure must equal our bytes exactly.
 *
 * Differences by design (docs/FRAME-JSON.md, design.md), kept out of byte equality and checked
 * separately: table tag 'L' (uint64) is generated in the decode direction only; our encoder sends
 * an 'L' value as 'l' when it fits int64 and refuses it otherwise (RabbitMQ rejects 'L').
 * Methods librabbitmq lacks (0.11 has no connection.update-secret/-ok) are checked against this
 * file's descriptor-driven reference codec, itself cross-checked against librabbitmq on every
 * method librabbitmq has.
 *
 * Prints one line per method with its counts; exits 0 only when every case passed.
 */
#define _GNU_SOURCE
#include <amqp.h>
#include <amqp_framing.h>
#include <swiftamqp.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum field_kind { K_OCTET, K_SHORT, K_LONG, K_LONGLONG, K_TIMESTAMP, K_BIT, K_SHORTSTR, K_LONGSTR, K_TABLE };

struct field_desc {
    const char *name;
    enum field_kind kind;
    size_t offset;
};

struct method_desc {
    const char *class_name;
    const char *method_name;
    uint16_t class_id;
    uint16_t method_id;
    int in_librabbitmq;
    size_t struct_size;
    const struct field_desc *fields;
    int nfields;
};

struct property_desc {
    const char *name;
    enum field_kind kind;
    size_t offset;
    uint32_t lib_flag;
    uint32_t spec_flag;
};

#include "conformance_methods.h"

/* ------------------------------------------------------------------------------------------ */
/* Growable byte buffer                                                                         */

struct buf {
    uint8_t *data;
    size_t len, cap;
};

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "conformance: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void buf_reserve(struct buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) die("out of memory");
    b->data = p;
    b->cap = cap;
}

static void buf_put(struct buf *b, const void *p, size_t n) {
    if (n == 0) return;
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_putc(struct buf *b, uint8_t c) { buf_put(b, &c, 1); }
static void buf_puts(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

static void buf_printf(struct buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) die("buf_printf overflow");
    buf_put(b, tmp, (size_t)n);
}

static void put16(struct buf *b, uint16_t v) { uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v}; buf_put(b, x, 2); }
static void put32(struct buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buf_put(b, x, 4);
}
static void put64(struct buf *b, uint64_t v) { put32(b, (uint32_t)(v >> 32)); put32(b, (uint32_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

/* ------------------------------------------------------------------------------------------ */
/* Seeded random values, biased toward edges                                                    */

static uint64_t rng_state;

static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static int chance(unsigned percent) { return below(100) < percent; }

/* An unsigned value of `bits` bits: 0, 1, the maximum, the signed extremes, small, or random. */
static uint64_t rnd_int(int bits) {
    uint64_t max = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    switch (below(9)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return max;
    case 3: return max >> 1;       /* signed maximum */
    case 4: return (max >> 1) + 1; /* signed minimum */
    case 5: return max - 1;
    case 6: return below(300) & max;
    default: return rnd() & max;
    }
}

static void *pool_alloc(amqp_pool_t *pool, size_t n) {
    void *p = amqp_pool_alloc(pool, n ? n : 1);
    if (!p) die("pool allocation of %zu bytes failed", n);
    memset(p, 0, n ? n : 1);
    return p;
}

static size_t put_utf8(uint8_t *p, uint32_t c) {
    if (c < 0x80) { p[0] = (uint8_t)c; return 1; }
    if (c < 0x800) { p[0] = (uint8_t)(0xC0 | c >> 6); p[1] = (uint8_t)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        p[0] = (uint8_t)(0xE0 | c >> 12); p[1] = (uint8_t)(0x80 | (c >> 6 & 0x3F)); p[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    p[0] = (uint8_t)(0xF0 | c >> 18); p[1] = (uint8_t)(0x80 | (c >> 12 & 0x3F));
    p[2] = (uint8_t)(0x80 | (c >> 6 & 0x3F)); p[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

/* Sequences at and just past the edges of well-formed UTF-8 (Unicode table 3-7). */
static const char *const utf8_edges[] = {
    "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF",
    "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", /* valid */
    "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xED\xBF\xBF",
    "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFE", "\xFF",
    "\x80", "\xBF", "\xE2\x82", "\xF0\x9F\x98", "\xC3", /* invalid */
};

/* Random bytes of at most `maxlen`: ASCII, JSON escapes, UTF-8 text, edge sequences, noise. */
static amqp_bytes_t rnd_bytes(amqp_pool_t *pool, size_t maxlen) {
    size_t len;
    switch (below(10)) {
    case 0: len = 0; break;
    case 1: len = maxlen; break;
    case 2: len = maxlen < 1 ? maxlen : 1; break;
    case 3: len = (size_t)below(maxlen + 1); break;
    default: len = (size_t)below((maxlen < 24 ? maxlen : 24) + 1); break;
    }
    amqp_bytes_t b;
    b.len = len;
    b.bytes = pool_alloc(pool, len);
    uint8_t *p = b.bytes;
    unsigned flavor = (unsigned)below(6);
    size_t i = 0;
    while (i < len) {
        size_t room = len - i;
        switch (flavor) {
        case 0: p[i++] = (uint8_t)(0x20 + below(95)); break;
        case 1: {
            static const char special[] = "\"\\/\b\f\n\r\t\x01\x1f\x7f a";
            p[i++] = chance(10) ? 0 : (uint8_t)special[below(sizeof special - 1)];
            break;
        }
        case 2: {
            uint32_t c;
            do {
                switch (below(4)) {
                case 0: c = (uint32_t)below(0x80); break;
                case 1: c = 0x80 + (uint32_t)below(0x800 - 0x80); break;
                case 2: c = 0x800 + (uint32_t)below(0x10000 - 0x800); break;
                default: c = 0x10000 + (uint32_t)below(0x110000 - 0x10000); break;
                }
            } while (c >= 0xD800 && c <= 0xDFFF);
            uint8_t tmp[4];
            size_t n = put_utf8(tmp, c);
            if (n > room) { p[i++] = 'z'; break; }
            memcpy(p + i, tmp, n);
            i += n;
            break;
        }
        case 3: p[i++] = (uint8_t)rnd(); break;
        default: {
            if (chance(70)) { p[i++] = (uint8_t)(0x61 + below(26)); break; }
            const char *e = utf8_edges[below(sizeof utf8_edges / sizeof utf8_edges[0])];
            size_t n = strlen(e);
            if (n > room) { p[i++] = 'y'; break; }
            memcpy(p + i, e, n);
            i += n;
            break;
        }
        }
    }
    return b;
}

/* ------------------------------------------------------------------------------------------ */
/* Random field tables with every librabbitmq field kind                                        */

static const char kinds_all[] = "tbBsuIilLfdDSxATFV";
static unsigned long tag_counts[2][256]; /* [direction][tag]: values generated */
enum { DIR_DECODE = 0, DIR_ENCODE = 1 };

static void rnd_table(amqp_pool_t *pool, amqp_table_t *t, int depth, int allow_L, int dir);

static void rnd_value(amqp_pool_t *pool, amqp_field_value_t *v, int depth, int allow_L, int dir) {
    char kind;
    do {
        kind = kinds_all[below(sizeof kinds_all - 1)];
    } while ((kind == 'L' && !allow_L) || ((kind == 'A' || kind == 'F') && depth >= 4));
    memset(v, 0, sizeof *v);
    v->kind = (uint8_t)kind;
    tag_counts[dir][(uint8_t)kind]++;
    switch (kind) {
    case 't': v->value.boolean = (amqp_boolean_t)below(2); break;
    case 'b': v->value.i8 = (int8_t)rnd_int(8); break;
    case 'B': v->value.u8 = (uint8_t)rnd_int(8); break;
    case 's': v->value.i16 = (int16_t)rnd_int(16); break;
    case 'u': v->value.u16 = (uint16_t)rnd_int(16); break;
    case 'I': v->value.i32 = (int32_t)rnd_int(32); break;
    case 'i': v->value.u32 = (uint32_t)rnd_int(32); break;
    case 'l': v->value.i64 = (int64_t)rnd_int(64); break;
    case 'L': v->value.u64 = rnd_int(64); break;
    case 'T': v->value.u64 = rnd_int(64); break;
    case 'f': { /* raw bits, NaN payloads and -0 included */
        static const uint32_t edges[] = {0, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffffffffu, 0x40490fdbu};
        v->value.u32 = chance(30) ? edges[below(8)] : (uint32_t)rnd();
        break;
    }
    case 'd': {
        static const uint64_t edges[] = {0, 0x8000000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
                                         0x7ff8000000000000ull, 0x7ff0000000000001ull, UINT64_MAX, 0x400921fb54442d18ull};
        v->value.u64 = chance(30) ? edges[below(8)] : rnd();
        break;
    }
    case 'D':
        v->value.decimal.decimals = (uint8_t)rnd_int(8);
        v->value.decimal.value = (uint32_t)rnd_int(32);
        break;
    case 'S':
    case 'x': v->value.bytes = rnd_bytes(pool, chance(3) ? 5000 : 300); break;
    case 'A': {
        int n = chance(15) ? 0 : (int)below(6);
        v->value.array.num_entries = n;
        v->value.array.entries = pool_alloc(pool, sizeof(amqp_field_value_t) * (size_t)n);
        for (int i = 0; i < n; i++) rnd_value(pool, &v->value.array.entries[i], depth + 1, allow_L, dir);
        break;
    }
    case 'F': rnd_table(pool, &v->value.table, depth + 1, allow_L, dir); break;
    case 'V': break;
    default: die("kind %c", kind);
    }
}

static void rnd_table(amqp_pool_t *pool, amqp_table_t *t, int depth, int allow_L, int dir) {
    int n = chance(15) ? 0 : (int)below(depth == 0 ? 12 : 6);
    t->num_entries = n;
    t->entries = pool_alloc(pool, sizeof(amqp_table_entry_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        t->entries[i].key = rnd_bytes(pool, chance(5) ? 255 : 40);
        rnd_value(pool, &t->entries[i].value, depth, allow_L, dir);
    }
}

/* A random value for one spec field. */
static void rnd_field(amqp_pool_t *pool, enum field_kind kind, void *p, int allow_L, int dir) {
    switch (kind) {
    case K_OCTET: *(uint8_t *)p = (uint8_t)rnd_int(8); break;
    case K_SHORT: *(uint16_t *)p = (uint16_t)rnd_int(16); break;
    case K_LONG: *(uint32_t *)p = (uint32_t)rnd_int(32); break;
    case K_LONGLONG:
    case K_TIMESTAMP: *(uint64_t *)p = rnd_int(64); break;
    case K_BIT: *(amqp_boolean_t *)p = (amqp_boolean_t)below(2); break;
    case K_SHORTSTR: *(amqp_bytes_t *)p = rnd_bytes(pool, 255); break;
    case K_LONGSTR: *(amqp_bytes_t *)p = rnd_bytes(pool, chance(2) ? 70000 : 600); break;
    case K_TABLE: rnd_table(pool, (amqp_table_t *)p, 0, allow_L, dir); break;
    }
}

static void *rnd_method(amqp_pool_t *pool, const struct method_desc *m, int allow_L, int dir) {
    uint8_t *s = pool_alloc(pool, m->struct_size);
    for (int i = 0; i < m->nfields; i++) rnd_field(pool, m->fields[i].kind, s + m->fields[i].offset, allow_L, dir);
    return s;
}

static unsigned long property_present[CONF_PROPERTY_COUNT][2];

static amqp_basic_properties_t *rnd_properties(amqp_pool_t *pool, int allow_L, int dir) {
    amqp_basic_properties_t *p = pool_alloc(pool, sizeof *p);
    unsigned mode = (unsigned)below(20);
    for (int i = 0; i < CONF_PROPERTY_COUNT; i++) {
        const struct property_desc *d = &conf_properties[i];
        int present = mode == 0 ? 0 : mode == 1 ? 1 : (int)below(2);
        if (!present) continue;
        p->_flags |= d->lib_flag;
        property_present[i][dir]++;
        rnd_field(pool, d->kind, (uint8_t *)p + d->offset, allow_L, dir);
    }
    return p;
}

/* ------------------------------------------------------------------------------------------ */
/* Canonical JSON (docs/FRAME-JSON.md), rendered from librabbitmq's structures                  */

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

static void render_table(struct buf *b, const amqp_table_t *t);

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

static void render_table(struct buf *b, const amqp_table_t *t) {
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

static void render_method(struct buf *b, const struct method_desc *m, uint16_t channel, const void *s) {
    buf_printf(b, "{\"type\":\"method\",\"channel\":%u,\"class\":\"%s\",\"method\":\"%s\",\"fields\":{", channel,
               m->class_name, m->method_name);
    for (int i = 0; i < m->nfields; i++) {
        if (i) buf_putc(b, ',');
        buf_printf(b, "\"%s\":", m->fields[i].name);
        render_field(b, m->fields[i].kind, (const uint8_t *)s + m->fields[i].offset);
    }
    buf_puts(b, "}}");
}

static void render_header(struct buf *b, uint16_t channel, uint64_t body_size, const amqp_basic_properties_t *p) {
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

/* ------------------------------------------------------------------------------------------ */
/* Method codecs: librabbitmq, or the reference codec for methods it lacks                      */

/* The spec's field layout, written here from the descriptors: bits packed into octets (first bit
 * lowest), strings with their length prefixes, tables through librabbitmq's amqp_encode_table. */
static int ref_encode(const struct method_desc *m, const void *s, uint8_t *out, size_t cap) {
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

static int lib_encode(const struct method_desc *m, void *s, uint8_t *out, size_t cap) {
    if (!m->in_librabbitmq) return ref_encode(m, s, out, cap);
    amqp_bytes_t e = {cap, out};
    return amqp_encode_method(method_number(m), s, e);
}

static int lib_decode(const struct method_desc *m, amqp_pool_t *pool, const uint8_t *in, size_t len, void **out) {
    if (!m->in_librabbitmq) {
        *out = pool_alloc(pool, m->struct_size);
        return ref_decode(m, pool, in, len, *out);
    }
    amqp_bytes_t e = {len, (void *)in};
    return amqp_decode_method(method_number(m), pool, e, out);
}

/* ------------------------------------------------------------------------------------------ */
/* Running swamqp-frame                                                                         */

static const char *tool_path;
static char work_dir[4096];
static unsigned long tool_runs;

static void write_file(const char *path, const struct buf *b) {
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write %s: %s", path, strerror(errno));
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len) die("short write to %s", path);
    if (fclose(f) != 0) die("cannot write %s", path);
}

static void read_file(const char *path, struct buf *b) {
    b->len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot read %s: %s", path, strerror(errno));
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_put(b, tmp, n);
    fclose(f);
}

/* Runs `swamqp-frame MODE < input > output`; returns its exit status (-1 when it did not exit). */
static int run_tool(const char *mode, const struct buf *input, struct buf *output, struct buf *errors) {
    char in_path[4200], out_path[4200], err_path[4200];
    snprintf(in_path, sizeof in_path, "%s/in", work_dir);
    snprintf(out_path, sizeof out_path, "%s/out", work_dir);
    snprintf(err_path, sizeof err_path, "%s/err", work_dir);
    write_file(in_path, input);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *argv[] = {(char *)tool_path, (char *)mode, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, tool_path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) die("cannot run %s: %s", tool_path, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) die("waitpid: %s", strerror(errno));
    }
    tool_runs++;
    read_file(out_path, output);
    read_file(err_path, errors);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Reporting                                                                                    */

static unsigned long total_cases, total_failures;

struct tally {
    unsigned long passed, failed;
    int shown;
};

static void show_text(const char *label, const uint8_t *p, size_t n) {
    fprintf(stderr, "      %s (%zu bytes): %.*s%s\n", label, n, (int)(n > 600 ? 600 : n), (const char *)p, n > 600 ? "..." : "");
}

static void show_hex(const char *label, const uint8_t *p, size_t n) {
    fprintf(stderr, "      %s (%zu bytes): ", label, n);
    for (size_t i = 0; i < n && i < 300; i++) fprintf(stderr, "%02x", p[i]);
    fprintf(stderr, "%s\n", n > 300 ? "..." : "");
}

static void fail(struct tally *t, const char *what, const char *fmt, ...) {
    t->failed++;
    if (t->shown >= 3) return;
    t->shown++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  FAIL %s: ", what);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* Splits `b` into lines (in place); returns the count and fills starts/lengths. */
static size_t split_lines(struct buf *b, uint8_t ***starts, size_t **lengths) {
    size_t count = 0, cap = 1024;
    *starts = malloc(cap * sizeof **starts);
    *lengths = malloc(cap * sizeof **lengths);
    size_t i = 0;
    while (i < b->len) {
        size_t j = i;
        while (j < b->len && b->data[j] != '\n') j++;
        if (count == cap) {
            cap *= 2;
            *starts = realloc(*starts, cap * sizeof **starts);
            *lengths = realloc(*lengths, cap * sizeof **lengths);
            if (!*starts || !*lengths) die("out of memory");
        }
        (*starts)[count] = b->data + i;
        (*lengths)[count] = j - i;
        count++;
        i = j + 1;
    }
    return count;
}

/* ------------------------------------------------------------------------------------------ */
/* Methods, both directions                                                                     */

static uint8_t scratch[1 << 23];
static uint8_t scratch2[1 << 23];
static unsigned long ref_crosschecks, ref_crosscheck_failures;

/* librabbitmq encodes -> we decode -> the same fields. */
static void method_decode_direction(const struct method_desc *m, int cases, struct tally *t) {
    amqp_pool_t gen, dec;
    init_amqp_pool(&gen, 65536);
    init_amqp_pool(&dec, 65536);
    struct buf frames = {0}, expected = {0}, out = {0}, err = {0}, one = {0};
    char what[128];
    snprintf(what, sizeof what, "%s.%s decode", m->class_name, m->method_name);
    int built = 0;
    for (int i = 0; i < cases; i++) {
        void *s = rnd_method(&gen, m, 1, DIR_DECODE);
        uint16_t channel = (uint16_t)rnd_int(16);
        int n = lib_encode(m, s, scratch, sizeof scratch);
        if (n < 0) { fail(t, what, "case %d: librabbitmq could not encode it (%d)", i, n); continue; }
        /* The reference codec agrees with librabbitmq wherever librabbitmq has the method. */
        if (m->in_librabbitmq) {
            int r = ref_encode(m, s, scratch2, sizeof scratch2);
            ref_crosschecks++;
            if (r != n || memcmp(scratch, scratch2, (size_t)n) != 0) {
                ref_crosscheck_failures++;
                fail(t, what, "case %d: the reference codec disagrees with librabbitmq", i);
            }
        }
        /* librabbitmq reads its own bytes back to the same fields (so the rendering is fair). */
        void *back = NULL;
        one.len = 0;
        render_method(&one, m, channel, s);
        struct buf again = {0};
        if (lib_decode(m, &dec, scratch, (size_t)n, &back) != 0) {
            fail(t, what, "case %d: librabbitmq cannot decode its own encoding", i);
        } else {
            render_method(&again, m, channel, back);
            if (again.len != one.len || memcmp(again.data, one.data, one.len) != 0)
                fail(t, what, "case %d: librabbitmq's decode of its own encoding differs", i);
        }
        free(again.data);
        recycle_amqp_pool(&dec);
        buf_putc(&frames, AMQP_FRAME_METHOD);
        put16(&frames, channel);
        put32(&frames, (uint32_t)n + 4);
        put16(&frames, m->class_id);
        put16(&frames, m->method_id);
        buf_put(&frames, scratch, (size_t)n);
        buf_putc(&frames, AMQP_FRAME_END);
        buf_put(&expected, one.data, one.len);
        buf_putc(&expected, '\n');
        built++;
    }
    int rc = run_tool("decode", &frames, &out, &err);
    if (rc != 0) fail(t, what, "swamqp-frame decode exited with %d: %.*s", rc, (int)(err.len > 500 ? 500 : err.len), (char *)err.data);
    uint8_t **es, **gs;
    size_t *el, *gl;
    size_t ne = split_lines(&expected, &es, &el), ng = split_lines(&out, &gs, &gl);
    if (ng != ne) fail(t, what, "swamqp-frame decode printed %zu lines for %zu frames", ng, ne);
    for (size_t i = 0; i < ne; i++) {
        if (i < ng && gl[i] == el[i] && memcmp(gs[i], es[i], el[i]) == 0) {
            t->passed++;
        } else {
            fail(t, what, "case %zu: our decoding differs from librabbitmq's fields", i);
            if (t->shown <= 3 && t->failed <= 3) {
                show_text("expected", es[i], el[i]);
                if (i < ng) show_text("swamqp-frame", gs[i], gl[i]);
            }
        }
    }
    free(es); free(el); free(gs); free(gl);
    free(frames.data); free(expected.data); free(out.data); free(err.data); free(one.data);
    empty_amqp_pool(&gen);
    empty_amqp_pool(&dec);
    (void)built;
}

/* We encode -> librabbitmq decodes -> the same fields, and re-encodes to identical bytes. */
static void method_encode_direction(const struct method_desc *m, int cases, struct tally *t) {
    amqp_pool_t gen, dec;
    init_amqp_pool(&gen, 65536);
    init_amqp_pool(&dec, 65536);
    struct buf lines = {0}, out = {0}, err = {0}, again = {0};
    char what[128];
    snprintf(what, sizeof what, "%s.%s encode", m->class_name, m->method_name);
    void **structs = calloc((size_t)cases, sizeof *structs);
    uint16_t *channels = calloc((size_t)cases, sizeof *channels);
    if (!structs || !channels) die("out of memory");
    for (int i = 0; i < cases; i++) {
        structs[i] = rnd_method(&gen, m, 0, DIR_ENCODE);
        channels[i] = (uint16_t)rnd_int(16);
        render_method(&lines, m, channels[i], structs[i]);
        buf_putc(&lines, '\n');
    }
    int rc = run_tool("encode", &lines, &out, &err);
    if (rc != 0) fail(t, what, "swamqp-frame encode exited with %d: %.*s", rc, (int)(err.len > 500 ? 500 : err.len), (char *)err.data);
    uint8_t **ls;
    size_t *ll;
    size_t nl = split_lines(&lines, &ls, &ll);
    size_t at = 0;
    for (int i = 0; i < cases; i++) {
        if (out.len - at < 12) { fail(t, what, "case %d: no frame (output ends)", i); continue; }
        const uint8_t *f = out.data + at;
        uint32_t size = get32(f + 3);
        if (size > out.len - at - 8) { fail(t, what, "case %d: frame size %u runs past the output", i, size); t->failed += (unsigned long)(cases - i - 1); break; }
        at += 8 + (size_t)size;
        if (f[0] != AMQP_FRAME_METHOD || get16(f + 1) != channels[i] || f[7 + size] != AMQP_FRAME_END || size < 4 ||
            get16(f + 7) != m->class_id || get16(f + 9) != m->method_id) {
            fail(t, what, "case %d: bad frame envelope", i);
            show_hex("frame", f, 8 + (size_t)size);
            continue;
        }
        const uint8_t *args = f + 11;
        size_t nargs = size - 4;
        void *back = NULL;
        if (lib_decode(m, &dec, args, nargs, &back) != 0) {
            fail(t, what, "case %d: librabbitmq cannot decode our bytes", i);
            show_hex("args", args, nargs);
            recycle_amqp_pool(&dec);
            continue;
        }
        again.len = 0;
        render_method(&again, m, channels[i], back);
        int same_fields = (size_t)i < nl && again.len == ll[i] && memcmp(again.data, ls[i], ll[i]) == 0;
        int n1 = lib_encode(m, back, scratch, sizeof scratch);
        int same_reencoding = n1 >= 0 && (size_t)n1 == nargs && memcmp(scratch, args, nargs) == 0;
        int n2 = lib_encode(m, structs[i], scratch2, sizeof scratch2);
        int same_as_lib = n2 >= 0 && (size_t)n2 == nargs && memcmp(scratch2, args, nargs) == 0;
        if (same_fields && same_reencoding && same_as_lib) {
            t->passed++;
        } else {
            fail(t, what, "case %d: fields %s, librabbitmq re-encoding %s, librabbitmq encoding %s", i,
                 same_fields ? "same" : "DIFFER", same_reencoding ? "same" : "DIFFERS", same_as_lib ? "same" : "DIFFERS");
            if (t->shown <= 3 && t->failed <= 3) {
                if ((size_t)i < nl) show_text("json", ls[i], ll[i]);
                show_text("librabbitmq", again.data, again.len);
                show_hex("ours", args, nargs);
                if (n2 >= 0) show_hex("librabbitmq", scratch2, (size_t)n2);
            }
        }
        recycle_amqp_pool(&dec);
    }
    if (at != out.len) fail(t, what, "%zu bytes of output after the last frame", out.len - at);
    free(ls); free(ll); free(structs); free(channels);
    free(lines.data); free(out.data); free(err.data); free(again.data);
    empty_amqp_pool(&gen);
    empty_amqp_pool(&dec);
}

/* ------------------------------------------------------------------------------------------ */
/* Content headers (the 14 basic properties)                                                    */

static int lib_encode_header(amqp_basic_properties_t *p, uint64_t body_size, struct buf *payload) {
    amqp_bytes_t e = {sizeof scratch, scratch};
    int n = amqp_encode_properties(AMQP_BASIC_CLASS, p, e);
    if (n < 0) return n;
    put16(payload, AMQP_BASIC_CLASS);
    put16(payload, 0);
    put64(payload, body_size);
    buf_put(payload, scratch, (size_t)n);
    return 0;
}

static void header_decode_direction(int cases, struct tally *t) {
    amqp_pool_t gen, dec;
    init_amqp_pool(&gen, 65536);
    init_amqp_pool(&dec, 65536);
    struct buf frames = {0}, expected = {0}, out = {0}, err = {0}, payload = {0};
    const char *what = "basic properties decode";
    for (int i = 0; i < cases; i++) {
        amqp_basic_properties_t *p = rnd_properties(&gen, 1, DIR_DECODE);
        uint16_t channel = (uint16_t)rnd_int(16);
        uint64_t body_size = rnd_int(64);
        payload.len = 0;
        if (lib_encode_header(p, body_size, &payload) != 0) { fail(t, what, "case %d: librabbitmq cannot encode", i); continue; }
        buf_putc(&frames, AMQP_FRAME_HEADER);
        put16(&frames, channel);
        put32(&frames, (uint32_t)payload.len);
        buf_put(&frames, payload.data, payload.len);
        buf_putc(&frames, AMQP_FRAME_END);
        render_header(&expected, channel, body_size, p);
        buf_putc(&expected, '\n');
    }
    int rc = run_tool("decode", &frames, &out, &err);
    if (rc != 0) fail(t, what, "swamqp-frame decode exited with %d: %.*s", rc, (int)(err.len > 500 ? 500 : err.len), (char *)err.data);
    uint8_t **es, **gs;
    size_t *el, *gl;
    size_t ne = split_lines(&expected, &es, &el), ng = split_lines(&out, &gs, &gl);
    if (ng != ne) fail(t, what, "swamqp-frame decode printed %zu lines for %zu frames", ng, ne);
    for (size_t i = 0; i < ne; i++) {
        if (i < ng && gl[i] == el[i] && memcmp(gs[i], es[i], el[i]) == 0) {
            t->passed++;
        } else {
            fail(t, what, "case %zu: our decoding differs from librabbitmq's fields", i);
            if (t->shown <= 3 && t->failed <= 3) {
                show_text("expected", es[i], el[i]);
                if (i < ng) show_text("swamqp-frame", gs[i], gl[i]);
            }
        }
    }
    free(es); free(el); free(gs); free(gl);
    free(frames.data); free(expected.data); free(out.data); free(err.data); free(payload.data);
    empty_amqp_pool(&gen);
    empty_amqp_pool(&dec);
}

static void header_encode_direction(int cases, struct tally *t) {
    amqp_pool_t gen, dec;
    init_amqp_pool(&gen, 65536);
    init_amqp_pool(&dec, 65536);
    struct buf lines = {0}, out = {0}, err = {0}, again = {0}, payload = {0};
    const char *what = "basic properties encode";
    amqp_basic_properties_t **props = calloc((size_t)cases, sizeof *props);
    uint16_t *channels = calloc((size_t)cases, sizeof *channels);
    uint64_t *sizes = calloc((size_t)cases, sizeof *sizes);
    if (!props || !channels || !sizes) die("out of memory");
    for (int i = 0; i < cases; i++) {
        props[i] = rnd_properties(&gen, 0, DIR_ENCODE);
        channels[i] = (uint16_t)rnd_int(16);
        sizes[i] = rnd_int(64);
        render_header(&lines, channels[i], sizes[i], props[i]);
        buf_putc(&lines, '\n');
    }
    int rc = run_tool("encode", &lines, &out, &err);
    if (rc != 0) fail(t, what, "swamqp-frame encode exited with %d: %.*s", rc, (int)(err.len > 500 ? 500 : err.len), (char *)err.data);
    uint8_t **ls;
    size_t *ll;
    size_t nl = split_lines(&lines, &ls, &ll);
    size_t at = 0;
    for (int i = 0; i < cases; i++) {
        if (out.len - at < 22) { fail(t, what, "case %d: no frame (output ends)", i); continue; }
        const uint8_t *f = out.data + at;
        uint32_t size = get32(f + 3);
        if (size > out.len - at - 8) { fail(t, what, "case %d: frame size %u runs past the output", i, size); t->failed += (unsigned long)(cases - i - 1); break; }
        at += 8 + (size_t)size;
        if (f[0] != AMQP_FRAME_HEADER || get16(f + 1) != channels[i] || f[7 + size] != AMQP_FRAME_END || size < 14 ||
            get16(f + 7) != AMQP_BASIC_CLASS || get16(f + 9) != 0 || get64(f + 11) != sizes[i]) {
            fail(t, what, "case %d: bad header frame envelope", i);
            show_hex("frame", f, 8 + (size_t)size);
            continue;
        }
        const uint8_t *pp = f + 19;
        size_t np = size - 12;
        void *back = NULL;
        amqp_bytes_t e = {np, (void *)pp};
        if (amqp_decode_properties(AMQP_BASIC_CLASS, &dec, e, &back) != 0) {
            fail(t, what, "case %d: librabbitmq cannot decode our properties", i);
            show_hex("properties", pp, np);
            recycle_amqp_pool(&dec);
            continue;
        }
        again.len = 0;
        render_header(&again, channels[i], sizes[i], back);
        int same_fields = (size_t)i < nl && again.len == ll[i] && memcmp(again.data, ls[i], ll[i]) == 0;
        amqp_bytes_t s1 = {sizeof scratch, scratch};
        int n1 = amqp_encode_properties(AMQP_BASIC_CLASS, back, s1);
        int same_reencoding = n1 >= 0 && (size_t)n1 == np && memcmp(scratch, pp, np) == 0;
        amqp_bytes_t s2 = {sizeof scratch2, scratch2};
        int n2 = amqp_encode_properties(AMQP_BASIC_CLASS, props[i], s2);
        int same_as_lib = n2 >= 0 && (size_t)n2 == np && memcmp(scratch2, pp, np) == 0;
        if (same_fields && same_reencoding && same_as_lib) {
            t->passed++;
        } else {
            fail(t, what, "case %d: fields %s, librabbitmq re-encoding %s, librabbitmq encoding %s", i,
                 same_fields ? "same" : "DIFFER", same_reencoding ? "same" : "DIFFERS", same_as_lib ? "same" : "DIFFERS");
            if (t->shown <= 3 && t->failed <= 3) {
                if ((size_t)i < nl) show_text("json", ls[i], ll[i]);
                show_text("librabbitmq", again.data, again.len);
                show_hex("ours", pp, np);
            }
        }
        recycle_amqp_pool(&dec);
    }
    if (at != out.len) fail(t, what, "%zu bytes of output after the last frame", out.len - at);
    free(ls); free(ll); free(props); free(channels); free(sizes);
    free(lines.data); free(out.data); free(err.data); free(again.data); free(payload.data);
    empty_amqp_pool(&gen);
    empty_amqp_pool(&dec);
}

/* ------------------------------------------------------------------------------------------ */
/* 'L' (uint64): the documented difference                                                      */


/* A headers table {"v": L value} as JSON: we send 'l' when the value fits int64 (librabbitmq then
 * reads the same number as I64) and refuse the frame otherwise. */
static void uint64_difference(int cases, struct tally *fits, struct tally *refused) {
    struct buf lines = {0}, big = {0}, out = {0}, err = {0};
    uint64_t *values = calloc((size_t)cases, sizeof *values);
    if (!values) die("out of memory");
    int nfit = 0, nbig = 0;
    for (int i = 0; i < cases; i++) {
        uint64_t v = rnd_int(64);
        if (v <= INT64_MAX) {
            values[nfit++] = v;
            buf_printf(&lines, "{\"type\":\"header\",\"channel\":1,\"body-size\":\"0\",\"properties\":{\"headers\":[[\"v\",\"L\",\"%" PRIu64 "\"]]}}\n", v);
        } else {
            nbig++;
            buf_printf(&big, "{\"type\":\"header\",\"channel\":1,\"body-size\":\"0\",\"properties\":{\"headers\":[[\"v\",\"L\",\"%" PRIu64 "\"]]}}\n", v);
        }
    }
    int rc = run_tool("encode", &lines, &out, &err);
    if (rc != 0) fail(fits, "'L' within int64", "swamqp-frame encode exited with %d", rc);
    amqp_pool_t dec;
    init_amqp_pool(&dec, 4096);
    size_t at = 0;
    for (int i = 0; i < nfit; i++) {
        if (out.len - at < 8) { fail(fits, "'L' within int64", "case %d: no frame", i); continue; }
        uint32_t size = get32(out.data + at + 3);
        if (size > out.len - at - 8 || size < 14) { fail(fits, "'L' within int64", "case %d: bad frame", i); break; }
        amqp_bytes_t e = {size - 12, out.data + at + 19};
        at += 8 + (size_t)size;
        amqp_basic_properties_t *p = NULL;
        if (amqp_decode_properties(AMQP_BASIC_CLASS, &dec, e, (void **)&p) != 0 || !(p->_flags & AMQP_BASIC_HEADERS_FLAG) ||
            p->headers.num_entries != 1 || p->headers.entries[0].value.kind != AMQP_FIELD_KIND_I64 ||
            (uint64_t)p->headers.entries[0].value.value.i64 != values[i]) {
            fail(fits, "'L' within int64", "case %d: librabbitmq did not read I64 %" PRIu64, i, values[i]);
        } else {
            fits->passed++;
        }
        recycle_amqp_pool(&dec);
    }
    empty_amqp_pool(&dec);
    rc = run_tool("encode", &big, &out, &err);
    size_t error_lines = 0;
    for (size_t i = 0; i < err.len; i++) error_lines += err.data[i] == '\n';
    if (nbig > 0 && (rc != 1 || out.len != 0 || error_lines != (size_t)nbig)) {
        fail(refused, "'L' above int64", "expected %d refusals, got exit %d, %zu output bytes, %zu error lines", nbig, rc, out.len, error_lines);
    } else {
        refused->passed += (unsigned long)nbig;
    }
    free(values); free(lines.data); free(big.data); free(out.data); free(err.data);
}

/* ------------------------------------------------------------------------------------------ */
/* rabbitmq-c's pre-encoded table (tests/test_tables.c), typed entries from its JSON transcription */

static amqp_bytes_t cstr(const char *s) { return amqp_cstring_bytes(s); }

static void vector_check(const char *dir, struct tally *t) {
    char path[4200];
    snprintf(path, sizeof path, "%s/test_tables.pre_encoded_table.bin", dir);
    struct buf golden = {0}, frames = {0}, out = {0}, err = {0}, expected = {0}, line = {0};
    read_file(path, &golden);

    /* The 14 entries of test_tables.pre_encoded_table.json, in wire order. */
    amqp_field_value_t inner_array[2], entries_f[2];
    amqp_table_entry_t inner_entries[2];
    amqp_table_entry_t e[14];
    memset(e, 0, sizeof e);
    memset(inner_array, 0, sizeof inner_array);
    memset(entries_f, 0, sizeof entries_f);
    memset(inner_entries, 0, sizeof inner_entries);
    inner_entries[0].key = cstr("one");
    inner_entries[0].value.kind = AMQP_FIELD_KIND_I32;
    inner_entries[0].value.value.i32 = 54321;
    inner_entries[1].key = cstr("two");
    inner_entries[1].value.kind = AMQP_FIELD_KIND_UTF8;
    inner_entries[1].value.value.bytes = cstr("A long string");
    inner_array[0].kind = AMQP_FIELD_KIND_I32;
    inner_array[0].value.i32 = 54321;
    inner_array[1].kind = AMQP_FIELD_KIND_UTF8;
    inner_array[1].value.bytes = cstr("A long string");
    int k = 0;
    e[k].key = cstr("longstr"); e[k].value.kind = AMQP_FIELD_KIND_UTF8; e[k++].value.value.bytes = cstr("Here is a long string");
    e[k].key = cstr("signedint"); e[k].value.kind = AMQP_FIELD_KIND_I32; e[k++].value.value.i32 = 12345;
    e[k].key = cstr("decimal"); e[k].value.kind = AMQP_FIELD_KIND_DECIMAL;
    e[k].value.value.decimal.decimals = 3; e[k++].value.value.decimal.value = 123456;
    e[k].key = cstr("timestamp"); e[k].value.kind = AMQP_FIELD_KIND_TIMESTAMP; e[k++].value.value.u64 = 109876543209876ULL;
    e[k].key = cstr("table"); e[k].value.kind = AMQP_FIELD_KIND_TABLE;
    e[k].value.value.table.num_entries = 2; e[k++].value.value.table.entries = inner_entries;
    e[k].key = cstr("byte"); e[k].value.kind = AMQP_FIELD_KIND_I8; e[k++].value.value.i8 = -1;
    e[k].key = cstr("long"); e[k].value.kind = AMQP_FIELD_KIND_I64; e[k++].value.value.i64 = 1234567890;
    e[k].key = cstr("short"); e[k].value.kind = AMQP_FIELD_KIND_I16; e[k++].value.value.i16 = 655;
    e[k].key = cstr("bool"); e[k].value.kind = AMQP_FIELD_KIND_BOOLEAN; e[k++].value.value.boolean = 1;
    e[k].key = cstr("binary"); e[k].value.kind = AMQP_FIELD_KIND_BYTES; e[k++].value.value.bytes = cstr("a binary string");
    e[k].key = cstr("void"); e[k++].value.kind = AMQP_FIELD_KIND_VOID;
    e[k].key = cstr("array"); e[k].value.kind = AMQP_FIELD_KIND_ARRAY;
    e[k].value.value.array.num_entries = 2; e[k++].value.value.array.entries = inner_array;
    e[k].key = cstr("float"); e[k].value.kind = AMQP_FIELD_KIND_F32; e[k++].value.value.u32 = 0x40490fdbu;
    e[k].key = cstr("double"); e[k].value.kind = AMQP_FIELD_KIND_F64; e[k++].value.value.u64 = 0x400921fb54442d18ULL;
    amqp_table_t table = {14, e};

    /* 1. The transcription is right: librabbitmq encodes it to the golden bytes (its own test). */
    uint8_t enc[1024];
    size_t offset = 0;
    amqp_bytes_t eb = {sizeof enc, enc};
    if (amqp_encode_table(eb, &table, &offset) != AMQP_STATUS_OK || offset != golden.len || memcmp(enc, golden.data, golden.len) != 0)
        fail(t, "rabbitmq-c vector", "librabbitmq's encoding of the typed entries is not the golden .bin");
    else t->passed++;

    /* 2. librabbitmq decodes the golden bytes to the typed entries. */
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_table_t decoded;
    offset = 0;
    amqp_bytes_t gb = {golden.len, golden.data};
    struct buf a = {0}, b = {0};
    render_table(&a, &table);
    if (amqp_decode_table(gb, &pool, &decoded, &offset) != AMQP_STATUS_OK) {
        fail(t, "rabbitmq-c vector", "librabbitmq cannot decode the golden .bin");
    } else {
        render_table(&b, &decoded);
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) fail(t, "rabbitmq-c vector", "librabbitmq decodes other entries");
        else t->passed++;
    }
    empty_amqp_pool(&pool);

    /* 3. We decode the golden bytes (as a headers property) to the typed entries. */
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_HEADERS_FLAG;
    props.headers = table;
    buf_putc(&frames, AMQP_FRAME_HEADER);
    put16(&frames, 1);
    put32(&frames, (uint32_t)(14 + golden.len));
    put16(&frames, AMQP_BASIC_CLASS);
    put16(&frames, 0);
    put64(&frames, 0);
    put16(&frames, AMQP_BASIC_HEADERS_FLAG);
    buf_put(&frames, golden.data, golden.len);
    buf_putc(&frames, AMQP_FRAME_END);
    render_header(&expected, 1, 0, &props);
    int rc = run_tool("decode", &frames, &out, &err);
    if (rc != 0 || out.len != expected.len + 1 || memcmp(out.data, expected.data, expected.len) != 0) {
        fail(t, "rabbitmq-c vector", "our decoding of the golden bytes differs");
        show_text("expected", expected.data, expected.len);
        show_text("swamqp-frame", out.data, out.len);
    } else t->passed++;

    /* 4. We encode the typed entries to the golden bytes. */
    buf_put(&line, expected.data, expected.len);
    buf_putc(&line, '\n');
    rc = run_tool("encode", &line, &out, &err);
    if (rc != 0 || out.len != frames.len || memcmp(out.data, frames.data, frames.len) != 0) {
        fail(t, "rabbitmq-c vector", "our encoding of the typed entries is not the golden .bin");
        show_hex("ours", out.data, out.len);
    } else t->passed++;
    free(golden.data); free(frames.data); free(out.data); free(err.data); free(expected.data); free(line.data);
    free(a.data); free(b.data);
}

/* ------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------ */
/* libswiftamqp's codec exports (swamqp_method_encode and friends), byte for byte against         */
/* librabbitmq: the same generated codec the engine runs, reached through the C ABI.              */

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
static void library_method_check(const struct method_desc *m, int cases, struct tally *t) {
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

static void library_table_and_properties_check(int cases, struct tally *tables, struct tally *props) {
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
static void library_hostile_input_check(struct tally *t) {
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

static void report(const char *name, const struct tally *dec, const struct tally *enc, const char *reference) {
    printf("%-30s  decode %5lu/%-5lu  encode %5lu/%-5lu  %s\n", name, dec->passed, dec->passed + dec->failed, enc->passed,
           enc->passed + enc->failed, reference);
    total_cases += dec->passed + dec->failed + enc->passed + enc->failed;
    total_failures += dec->failed + enc->failed;
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: conformance SWAMQP_FRAME VECTORS_DIR [CASES]\n");
        return 2;
    }
    tool_path = argv[1];
    const char *vectors = argv[2];
    int cases = argc > 3 ? atoi(argv[3]) : 1000;
    if (cases < 1) die("CASES must be positive");
    if (access(tool_path, X_OK) != 0) die("%s is not an executable: %s", tool_path, strerror(errno));
    uint64_t seed = 0x5A4D5150C0DEC091ULL;
    const char *seed_env = getenv("CONFORMANCE_SEED");
    if (seed_env && *seed_env) seed = strtoull(seed_env, NULL, 0);
    rng_state = seed;

    const char *tmp = getenv("TMPDIR");
    snprintf(work_dir, sizeof work_dir, "%s/swamqp-conformance-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work_dir)) die("mkdtemp: %s", strerror(errno));

    for (int i = 0; i < CONF_PROPERTY_COUNT; i++)
        if (conf_properties[i].lib_flag != conf_properties[i].spec_flag) die("property %s: flag differs from the spec", conf_properties[i].name);

    printf("swiftamqp wire conformance against librabbitmq %s\n", amqp_version());
    printf("seed 0x%016" PRIx64 " (CONFORMANCE_SEED), %d random cases per method and direction\n", seed, cases);
    printf("decode: librabbitmq encodes -> swamqp-frame decodes -> same fields\n");
    printf("encode: swamqp-frame encodes -> librabbitmq decodes -> same fields, re-encodes to identical bytes\n\n");
    printf("%-30s  %-19s %-19s %s\n", "method", "decode", "encode", "reference");

    int methods_checked = 0, methods_librabbitmq = 0;
    for (int i = 0; i < CONF_METHOD_COUNT; i++) {
        const struct method_desc *m = &conf_methods[i];
        struct tally dec = {0, 0, 0}, enc = {0, 0, 0};
        method_decode_direction(m, cases, &dec);
        method_encode_direction(m, cases, &enc);
        char name[96];
        snprintf(name, sizeof name, "%s.%s", m->class_name, m->method_name);
        report(name, &dec, &enc, m->in_librabbitmq ? "librabbitmq" : "reference codec (librabbitmq lacks this method)");
        methods_checked++;
        methods_librabbitmq += m->in_librabbitmq;
    }

    struct tally hdec = {0, 0, 0}, henc = {0, 0, 0};
    header_decode_direction(cases, &hdec);
    header_encode_direction(cases, &henc);
    report("content header (properties)", &hdec, &henc, "librabbitmq amqp_encode/decode_properties");
    printf("\n%-30s  %-19s %s\n", "basic property", "cases present", "");
    for (int i = 0; i < CONF_PROPERTY_COUNT; i++)
        printf("  %-28s  decode %5lu  encode %5lu\n", conf_properties[i].name, property_present[i][DIR_DECODE],
               property_present[i][DIR_ENCODE]);

    printf("\nfield-table values generated per type tag (in tables of methods and headers, nested included)\n");
    static const char *const kind_names[256] = {
        ['t'] = "boolean", ['b'] = "int8", ['B'] = "uint8", ['s'] = "int16", ['u'] = "uint16", ['I'] = "int32",
        ['i'] = "uint32", ['l'] = "int64", ['L'] = "uint64", ['f'] = "float32", ['d'] = "float64", ['D'] = "decimal",
        ['S'] = "long string", ['x'] = "byte array", ['A'] = "array", ['T'] = "timestamp", ['F'] = "table", ['V'] = "void",
    };
    int tag_failures = 0;
    for (const char *k = kinds_all; *k; k++) {
        unsigned long d = tag_counts[DIR_DECODE][(uint8_t)*k], e = tag_counts[DIR_ENCODE][(uint8_t)*k];
        printf("  '%c' %-12s  decode %7lu  encode %7lu%s\n", *k, kind_names[(uint8_t)*k], d, e,
               *k == 'L' ? "  (decode only: RabbitMQ rejects 'L'; see below)" : "");
        if (d < 1000 || (*k != 'L' && e < 1000)) tag_failures++;
    }
    if (tag_failures) {
        printf("  FAIL: a type tag got fewer than 1000 values in a direction\n");
        total_failures += (unsigned long)tag_failures;
    }

    printf("\ndocumented differences (excluded from byte equality above, checked here)\n");
    struct tally lfit = {0, 0, 0}, lbig = {0, 0, 0};
    uint64_difference(cases, &lfit, &lbig);
    printf("  'L' value <= INT64_MAX sent as 'l', librabbitmq reads the same I64: %lu/%lu\n", lfit.passed, lfit.passed + lfit.failed);
    printf("  'L' value >  INT64_MAX refused by our encoder:                      %lu/%lu\n", lbig.passed, lbig.passed + lbig.failed);
    total_cases += lfit.passed + lfit.failed + lbig.passed + lbig.failed;
    total_failures += lfit.failed + lbig.failed;

    struct tally lib_methods = {0, 0, 0}, lib_tables = {0, 0, 0}, lib_props = {0, 0, 0}, lib_hostile = {0, 0, 0};
    for (int i = 0; i < CONF_METHOD_COUNT; i++) library_method_check(&conf_methods[i], cases / 4 > 0 ? cases / 4 : 1, &lib_methods);
    library_table_and_properties_check(cases, &lib_tables, &lib_props);
    library_hostile_input_check(&lib_hostile);
    printf("\nlibswiftamqp codec exports against librabbitmq (encode: same bytes; decode: re-encodes to them)\n");
    printf("  swamqp_method_encode/decode, every method:  %lu/%lu\n", lib_methods.passed, lib_methods.passed + lib_methods.failed);
    printf("  swamqp_table_encode/decode:                 %lu/%lu\n", lib_tables.passed, lib_tables.passed + lib_tables.failed);
    printf("  swamqp_properties_encode/decode:            %lu/%lu\n", lib_props.passed, lib_props.passed + lib_props.failed);
    printf("  truncated, mistyped and foreign input:       %lu/%lu\n", lib_hostile.passed, lib_hostile.passed + lib_hostile.failed);
    total_cases += lib_methods.passed + lib_methods.failed + lib_tables.passed + lib_tables.failed + lib_props.passed +
                   lib_props.failed + lib_hostile.passed + lib_hostile.failed;
    total_failures += lib_methods.failed + lib_tables.failed + lib_props.failed + lib_hostile.failed;

    struct tally vec = {0, 0, 0};
    vector_check(vectors, &vec);
    printf("\nrabbitmq-c pre-encoded table vector (tests/test_tables.c): %lu/%lu checks "
           "(librabbitmq encodes the typed entries to the .bin, decodes it back; we decode it, we encode it)\n",
           vec.passed, vec.passed + vec.failed);
    total_cases += vec.passed + vec.failed;
    total_failures += vec.failed;

    printf("reference codec cross-checked against librabbitmq on %lu encodings: %lu disagreements\n", ref_crosschecks,
           ref_crosscheck_failures);
    printf("\n%d methods (%d through librabbitmq, %d through the reference codec), %lu cases, %lu failures, %lu swamqp-frame runs\n",
           methods_checked, methods_librabbitmq, methods_checked - methods_librabbitmq, total_cases, total_failures, tool_runs);

    char cmd_in[4200], cmd_out[4200], cmd_err[4200];
    snprintf(cmd_in, sizeof cmd_in, "%s/in", work_dir);
    snprintf(cmd_out, sizeof cmd_out, "%s/out", work_dir);
    snprintf(cmd_err, sizeof cmd_err, "%s/err", work_dir);
    if (total_failures == 0) {
        unlink(cmd_in); unlink(cmd_out); unlink(cmd_err);
        rmdir(work_dir);
        printf("PASS\n");
        return 0;
    }
    printf("FAIL (the last tool input and output are in %s)\n", work_dir);
    return 1;
}
