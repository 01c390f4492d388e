/*
 * Seeded random values for the conformance suite, biased toward edges: integers, byte strings
 * (JSON escapes, UTF-8 at and past its edges, noise), field tables with every librabbitmq field
 * kind, method structures and basic properties; with the counts of what was generated.
 */
#include "conformance.h"

/* ------------------------------------------------------------------------------------------ */
/* Seeded random values, biased toward edges                                                    */

uint64_t rng_state;

static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static int chance(unsigned percent) { return below(100) < percent; }

/* An unsigned value of `bits` bits: 0, 1, the maximum, the signed extremes, small, or random. */
uint64_t rnd_int(int bits) {
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

void *pool_alloc(amqp_pool_t *pool, size_t n) {
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

const char kinds_all[] = "tbBsuIilLfdDSxATFV";
unsigned long tag_counts[2][256]; /* [direction][tag]: values generated */

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

void rnd_table(amqp_pool_t *pool, amqp_table_t *t, int depth, int allow_L, int dir) {
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

void *rnd_method(amqp_pool_t *pool, const struct method_desc *m, int allow_L, int dir) {
    uint8_t *s = pool_alloc(pool, m->struct_size);
    for (int i = 0; i < m->nfields; i++) rnd_field(pool, m->fields[i].kind, s + m->fields[i].offset, allow_L, dir);
    return s;
}

unsigned long property_present[CONF_PROPERTY_COUNT][2];

amqp_basic_properties_t *rnd_properties(amqp_pool_t *pool, int allow_L, int dir) {
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
