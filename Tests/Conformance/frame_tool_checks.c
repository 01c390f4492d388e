/*
 * The checks through the swamqp-frame tool, both directions: every method, the content header
 * with the 14 basic properties, and the documented 'L' (uint64) difference.
 */
#include "conformance.h"

/* ------------------------------------------------------------------------------------------ */
/* Methods, both directions                                                                     */

uint8_t scratch[1 << 23];
uint8_t scratch2[1 << 23];
unsigned long ref_crosschecks, ref_crosscheck_failures;

/* librabbitmq encodes -> we decode -> the same fields. */
void method_decode_direction(const struct method_desc *m, int cases, struct tally *t) {
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
void method_encode_direction(const struct method_desc *m, int cases, struct tally *t) {
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

void header_decode_direction(int cases, struct tally *t) {
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

void header_encode_direction(int cases, struct tally *t) {
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
void uint64_difference(int cases, struct tally *fits, struct tally *refused) {
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
