/*
 * rabbitmq-c's pre-encoded table vector (its tests/test_tables.c), typed entries from its JSON
 * transcription: librabbitmq and swamqp-frame must both encode the typed entries to the golden
 * bytes and decode the golden bytes to them.
 */
#include "conformance.h"

static amqp_bytes_t cstr(const char *s) { return amqp_cstring_bytes(s); }

void vector_check(const char *dir, struct tally *t) {
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
