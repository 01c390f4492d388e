/*
 * The operands of the ABI fuzzer's calls, read from the input through selectors that mostly
 * pick something sensible and sometimes something hostile: handles (live, NULL, freed, forged),
 * channels, timeouts (with the time checks around a call that waits), byte strings, field
 * tables and values, properties and flags.
 */
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- handles ----------------------------------------------------------------------------------- */

int slot_of(swamqp_connection *h)
{
    for (int i = 0; i < NSLOTS; i++)
        if (g.s[i].live && g.s[i].conn == h)
            return i;
    return -1;
}

/* A handle: mostly a slot's, sometimes NULL, freed or forged. `*slot_index` the slot it is live in, or -1. */
swamqp_connection *pick_handle(af_reader *r, int *slot_index, expect *x)
{
    unsigned sel = af_pick(r, 24);
    swamqp_connection *h = NULL;
    if (sel < 18) {
        h = g.s[sel % NSLOTS].conn;
        if (!g.s[sel % NSLOTS].live) {
            /* A slot never used or freed: its old (stale) handle, or NULL. */
        }
    } else {
        uintptr_t base = (uintptr_t)g.s[af_pick(r, NSLOTS)].conn;
        if (base == 0)
            base = ((uintptr_t)1 << 32) | 0x10;
        switch (sel) {
        case 18: h = NULL; break;
        case 19: h = g.ndead ? g.dead[af_pick(r, g.ndead)] : (swamqp_connection *)(uintptr_t)0x10; break;
        case 20: h = (swamqp_connection *)(base + ((uintptr_t)(1 + af_pick(r, 3)) << 32)); break; /* generation */
        case 21: h = (swamqp_connection *)(base + ((uintptr_t)(1 + af_pick(r, 4)) << 4)); break;  /* slot */
        case 22: h = (swamqp_connection *)(base | (1 + af_pick(r, 15))); break;                  /* low bits */
        default: {
            static int on_stack_marker;
            const uintptr_t forged[] = {1, 0x10, 0xf, UINTPTR_MAX, UINTPTR_MAX - 0xf, (uintptr_t)0xfffffff0,
                                        (uintptr_t)&on_stack_marker, (uintptr_t)backing, (uintptr_t)1 << 63,
                                        (uintptr_t)0xffffffff00000010ull};
            h = (swamqp_connection *)forged[af_pick(r, sizeof forged / sizeof forged[0])];
        }
        }
    }
    int s = slot_of(h);
    if (slot_index)
        *slot_index = s;
    if (x && s < 0)
        x->bad_handle = true;
    return h;
}

uint16_t pick_channel(af_reader *r, int si)
{
    unsigned sel = af_pick(r, 16);
    const slot *s = si >= 0 ? &g.s[si] : NULL;
    if (sel < 9 && s && s->nchans)
        return s->chans[(s->nchans - 1 - sel % s->nchans)];
    switch (sel % 8) {
    case 0: return 1;
    case 1: return 0;
    case 2: return 65535;
    case 3: return 2;
    case 4: return s && s->nchans ? (uint16_t)(s->chans[s->nchans - 1] + 1) : 3;
    case 5: return 2047;
    case 6: return 2048;
    default: return af_u16(r);
    }
}

/* ---- timeouts ---------------------------------------------------------------------------------- */

static const uint32_t probe_timeouts[] = {UINT32_MAX, UINT32_MAX - 1, UINT32_MAX - 999, UINT32_MAX - 1000,
                                          0x80000000u, 0x7fffffffu, 4294968u, UINT32_MAX - 500};

/* A timeout: mostly 0 or a few ms out of the budget; at most one huge probe per input, and only
 * where `probe_ok` (the call will be answered, or a watchdog can end it). */
waitspec pick_timeout(af_reader *r, bool probe_ok)
{
    waitspec w = {0, false};
    unsigned sel = af_pick(r, 16);
    if (sel < 6)
        return w;
    if (sel < 14) {
        uint32_t ms = sel < 12 ? 1 + af_u8(r) % 20 : sel == 12 ? 50 : 150;
        if ((int64_t)ms > g.budget)
            ms = 0;
        w.ms = ms;
        return w;
    }
    uint32_t t = probe_timeouts[af_pick(r, sizeof probe_timeouts / sizeof probe_timeouts[0])];
    if (!probe_ok || g.probe_used || (avoid & AVOID_PROBE))
        return w;
    g.probe_used = true;
    w.ms = t;
    w.probe = true;
    return w;
}

/* A huge timeout ends only if the watchdog's cut is noticed: not while the event queue's limit
 * keeps the I/O thread from reading (with nobody draining, that wait is the caller's choice). */
bool slot_probe_ok(int si) { return si < 0 || !g.s[si].small_event_limit; }

timing wait_begin(int si, waitspec w)
{
    timing t = {af_now_ms(), w, si};
    if (w.probe && si >= 0 && slot_peer(&g.s[si]))
        af_watchdog_arm(slot_peer(&g.s[si]), PROBE_WATCHDOG_MS);
    return t;
}

/* After a call that may wait: the time checks. */
void wait_end(const char *fn, const timing *t, int rc)
{
    if (t->w.probe)
        af_watchdog_disarm();
    uint64_t elapsed = af_now_ms() - t->t0;
    g.budget -= (int64_t)(elapsed < t->w.ms || t->w.probe ? elapsed : t->w.ms);
    if (!af_oracles)
        return;
    if (rc == SWAMQP_ERR_TIMEOUT && t->w.ms >= 100 && elapsed + 30 < t->w.ms)
        af_violation("%s returned SWAMQP_ERR_TIMEOUT after %" PRIu64 " ms although timeout_ms was %" PRIu32
                     " (a wrapped deadline?)", fn, elapsed, t->w.ms);
    if (g.in_callback && elapsed > 300)
        af_violation("%s waited %" PRIu64 " ms inside an event callback (timeout_ms %" PRIu32 ")", fn, elapsed,
                     t->w.ms);
    if (!t->w.probe && elapsed > (uint64_t)t->w.ms + OVERRUN_SLACK_MS)
        af_violation("%s took %" PRIu64 " ms with timeout_ms %" PRIu32 " (overran its timeout)", fn, elapsed, t->w.ms);
}

/* ---- hostile values --------------------------------------------------------------------------- */

/* Lengths no buffer can have: a library must refuse them before reading. */
static const uint64_t impossible_lengths[] = {1ull << 63, (1ull << 63) + 1, UINT64_MAX, UINT64_MAX - 1,
                                              UINT64_MAX - 7, UINT64_MAX - 254, (1ull << 63) + 255, 0xc000000000000000ull};
/* Lengths too long for a short string or key. A real buffer is behind every length except the
 * impossible ones: a library may read what the caller says is there, however long. */
static const uint64_t too_long_short[] = {256, 257, 300, 1000, 65536, 1u << 20, 4u << 20, 129};
static const uint64_t big_real[] = {1000, 4096, 65535, 65536, 70000, 131064, 131065, 1u << 20, 4u << 20};

static size_t role_max(int role) { return role == R_KEY ? 128 : role == R_SHORT ? 255 : SIZE_MAX; }

const char *bytes_desc(swamqp_bytes b)
{
    static char buf[8][64];
    static int k;
    char *s = buf[k++ & 7];
    snprintf(s, 64, "{%s, %zu}", b.bytes == NULL ? "NULL" : b.bytes == backing ? "buf" : "str", b.len);
    return s;
}

/* A byte string for an argument of `role`; `x` learns whether it is invalid by the rules. */
swamqp_bytes gen_bytes(af_reader *r, int role, expect *x)
{
    swamqp_bytes b = {NULL, 0};
    unsigned sel = af_pick(r, 24);
    if (sel < 14) { /* a short string from the input */
        size_t n = af_u8(r) % 24;
        uint8_t *p = af_alloc(n + 1);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)('a' + af_u8(r) % 26);
        b.bytes = n || sel & 1 ? p : NULL;
        b.len = n;
        return b;
    }
    switch (sel) {
    case 14: /* exactly at, or one past, the limit */
        b.len = role == R_KEY ? 128 + af_pick(r, 2) : role == R_SHORT ? 255 + af_pick(r, 2) : 256;
        b.bytes = backing;
        break;
    case 15: /* NULL with a length */
        b.len = af_pick(r, 2) ? 1 + af_u8(r) : impossible_lengths[af_pick(r, 8)];
        if (b.len >= (1ull << 63) && (avoid & AVOID_LENGTH))
            b.len = 1;
        b.bytes = NULL;
        mark_bad(x, "NULL bytes with a non-zero length");
        return b;
    case 16: case 17: /* a length no buffer can have */
        b.len = impossible_lengths[af_pick(r, 8)];
        b.bytes = backing;
        if (avoid & AVOID_LENGTH)
            b.len = 0;
        break;
    case 18: /* too long for a short string or a key */
        if (role == R_SHORT || role == R_KEY) {
            b.len = too_long_short[af_pick(r, 8)];
            b.bytes = backing;
            break;
        }
        /* fall through */
    case 19:
        b.len = role == R_SHORT || role == R_KEY ? af_u8(r) : big_real[af_pick(r, 9)];
        if (role == R_LONG && b.len > 70000)
            b.len = 70000;
        b.bytes = backing;
        break;
    default:
        b.len = 0;
        b.bytes = sel & 1 ? (const void *)"" : NULL;
    }
    if (b.len > role_max(role))
        mark_bad(x, role == R_KEY ? "a table key over 128 bytes" : "a short string over 255 bytes");
    if (b.len >= (1ull << 63))
        mark_bad(x, "a length of 2^63 or more");
    return b;
}

static const uint64_t hostile_counts[] = {1ull << 63, UINT64_MAX, (1ull << 63) + 1, UINT64_MAX - 1, 0xc000000000000000ull};
uint64_t hostile_count(af_reader *r)
{
    uint64_t c = hostile_counts[af_pick(r, 5)];
    return avoid & AVOID_COUNT ? 0 : c;
}

static swamqp_table gen_table(af_reader *r, int depth, expect *x);

static swamqp_field_value gen_value(af_reader *r, int depth, expect *x)
{
    static const uint8_t kinds[] = {'t', 'b', 'B', 's', 'u', 'I', 'i', 'l', 'L', 'f', 'd', 'D', 'S', 'x', 'A', 'T', 'F', 'V'};
    swamqp_field_value v;
    memset(&v, 0, sizeof v);
    unsigned sel = af_pick(r, 20);
    v.kind = sel < 18 ? kinds[sel] : af_u8(r);
    if (sel >= 18) {
        bool known = false;
        for (size_t i = 0; i < sizeof kinds; i++)
            known |= kinds[i] == v.kind;
        if (!known)
            mark_bad(x, "an unknown field kind");
    }
    v.value.u64 = af_pick(r, 2) ? af_u64(r) : 0;
    switch (v.kind) {
    case 'L':
        if (af_bool(r))
            v.value.u64 = (1ull << 63) + af_u8(r);
        if (v.value.u64 > INT64_MAX)
            mark_bad(x, "a U64 field value over INT64_MAX");
        break;
    case 'S': case 'x':
        v.value.bytes = gen_bytes(r, R_LONG, x);
        break;
    case 'F':
        v.value.table = depth < 4 ? gen_table(r, depth + 1, x) : (swamqp_table){0, NULL};
        break;
    case 'A': {
        unsigned how = af_pick(r, 6);
        if (how == 0) {
            v.value.array.count = 1 + af_u8(r);
            v.value.array.values = NULL;
            mark_bad(x, "a field array with NULL values and a count");
        } else if (how == 1) {
            v.value.array.count = hostile_count(r);
            v.value.array.values = af_alloc(sizeof(swamqp_field_value));
            if (v.value.array.count)
                mark_bad(x, "a field array count of 2^63 or more");
        } else if (depth < 4) {
            size_t n = af_pick(r, 4);
            swamqp_field_value *vals = af_alloc(sizeof *vals * (n ? n : 1));
            for (size_t i = 0; i < n; i++)
                vals[i] = gen_value(r, depth + 1, x);
            v.value.array.count = n;
            v.value.array.values = n || af_bool(r) ? vals : NULL;
        }
        break;
    }
    default:
        break;
    }
    return v;
}

/* A chain of `depth` tables (or arrays) nested in each other. */
static swamqp_table deep_table(size_t depth, bool arrays)
{
    swamqp_field_value inner;
    memset(&inner, 0, sizeof inner);
    inner.kind = 'V';
    for (size_t i = 0; i < depth; i++) {
        swamqp_field_value *slotv = af_alloc(sizeof *slotv);
        *slotv = inner;
        memset(&inner, 0, sizeof inner);
        if (arrays) {
            inner.kind = 'A';
            inner.value.array.count = 1;
            inner.value.array.values = slotv;
        } else {
            swamqp_table_entry *e = af_alloc(sizeof *e);
            e->key.bytes = "k";
            e->key.len = 1;
            e->value = *slotv;
            inner.kind = 'F';
            inner.value.table.count = 1;
            inner.value.table.entries = e;
        }
    }
    swamqp_table_entry *top = af_alloc(sizeof *top);
    top->key.bytes = "deep";
    top->key.len = 4;
    top->value = inner;
    return (swamqp_table){1, top};
}

static swamqp_table gen_table(af_reader *r, int depth, expect *x)
{
    swamqp_table t = {0, NULL};
    unsigned sel = af_pick(r, 12);
    switch (sel) {
    case 0: case 1: return t;
    case 2: t.entries = af_alloc(sizeof(swamqp_table_entry)); return t; /* count 0, entries set */
    case 3:
        t.count = af_pick(r, 2) ? 1 + af_u8(r) : hostile_count(r);
        if (t.count)
            mark_bad(x, "a field table with NULL entries and a count");
        return t;
    case 4:
        t.count = hostile_count(r);
        t.entries = af_alloc(sizeof(swamqp_table_entry));
        if (t.count)
            mark_bad(x, "a field table count of 2^63 or more");
        return t;
    case 5: {
        static const size_t depths[] = {10, 62, 63, 64, 65, 100, 5000};
        return deep_table(depths[af_pick(r, 7)], af_bool(r));
    }
    default: {
        size_t n = 1 + af_pick(r, 5);
        swamqp_table_entry *e = af_alloc(sizeof *e * n);
        for (size_t i = 0; i < n; i++) {
            e[i].key = gen_bytes(r, R_KEY, x);
            e[i].value = gen_value(r, depth, x);
        }
        t.count = n;
        t.entries = e;
        return t;
    }
    }
}

const swamqp_table *gen_table_ptr(af_reader *r, expect *x)
{
    if (af_pick(r, 3) == 0)
        return NULL;
    swamqp_table *t = af_alloc(sizeof *t);
    *t = gen_table(r, 0, x);
    return t;
}

const swamqp_properties *gen_props(af_reader *r, expect *x)
{
    unsigned sel = af_pick(r, 6);
    if (sel < 2)
        return NULL;
    swamqp_properties *p = af_alloc(sizeof *p);
    /* Fields whose bit is clear hold garbage the library must not read. */
    swamqp_bytes junk = {NULL, UINT64_MAX};
    swamqp_bytes *fields[] = {&p->content_type, &p->content_encoding, &p->correlation_id, &p->reply_to,
                              &p->expiration, &p->message_id, &p->type, &p->user_id, &p->app_id, &p->cluster_id};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        *fields[i] = junk;
    p->headers.count = UINT64_MAX;
    p->headers.entries = NULL;
    p->flags = sel == 5 ? af_u32(r) : af_u16(r) & 0x3fff;
    static const uint32_t bits[] = {SWAMQP_PROP_CONTENT_TYPE, SWAMQP_PROP_CONTENT_ENCODING, SWAMQP_PROP_CORRELATION_ID,
                                    SWAMQP_PROP_REPLY_TO, SWAMQP_PROP_EXPIRATION, SWAMQP_PROP_MESSAGE_ID,
                                    SWAMQP_PROP_TYPE, SWAMQP_PROP_USER_ID, SWAMQP_PROP_APP_ID, SWAMQP_PROP_CLUSTER_ID};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (p->flags & bits[i])
            *fields[i] = gen_bytes(r, R_SHORT, x);
    if (p->flags & SWAMQP_PROP_HEADERS)
        p->headers = gen_table(r, 0, x);
    p->delivery_mode = af_u8(r);
    p->priority = af_u8(r);
    p->timestamp = af_u64(r);
    if (af_trace) {
        char line[512];
        int at = snprintf(line, sizeof line, "  properties flags 0x%x:", p->flags);
        for (size_t i = 0; i < sizeof fields / sizeof fields[0] && at < (int)sizeof line - 40; i++)
            if (p->flags & bits[i])
                at += snprintf(line + at, sizeof line - (size_t)at, " %s", bytes_desc(*fields[i]));
        if (p->flags & SWAMQP_PROP_HEADERS)
            snprintf(line + at, sizeof line - (size_t)at, " headers count %zu", p->headers.count);
        af_log("%s", line);
    }
    return p;
}

uint32_t pick_flags(af_reader *r)
{
    unsigned sel = af_pick(r, 8);
    if (sel < 3)
        return 0;
    if (sel < 6)
        return 1u << af_pick(r, 15);
    if (sel == 6)
        return af_u16(r) & 0x7fff;
    return af_u32(r);
}
