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
 * Methods librabbitmq lacks (0.11 has no connection.update-secret/-ok) are checked against the
 * suite's descriptor-driven reference codec, itself cross-checked against librabbitmq on every
 * method librabbitmq has.
 *
 * Prints one line per method with its counts; exits 0 only when every case passed.
 *
 * This file runs the checks in turn and reports; the rest of the suite is beside it:
 *   conformance.h         what the files share; conformance_methods.h, the method and property
 *                         descriptors, is generated at build time from the spec by gen-methods.py
 *   support.c             the byte buffer, running swamqp-frame, failure reporting
 *   random_values.c       seeded random values, tables, method structures and properties
 *   canonical_json.c      the canonical JSON rendered from librabbitmq's structures
 *   method_codecs.c       librabbitmq's method codec, or the reference codec for methods it lacks
 *   frame_tool_checks.c   methods, content headers and the 'L' difference through swamqp-frame
 *   rabbitmq_c_vector.c   rabbitmq-c's pre-encoded table vector
 *   library_exports.c     libswiftamqp's codec exports (swamqp_method_encode and friends)
 */
#include "conformance.h"

static unsigned long total_cases, total_failures;

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
