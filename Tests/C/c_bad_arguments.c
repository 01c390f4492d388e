/*
 * c_bad_arguments: every function of swiftamqp.h with NULL, made-up, freed or out-of-range
 * arguments. Each call must return its documented status and never crash. The ctest
 * c_bad_arguments_covers_header fails when a function declared in the header is not named in one
 * of the files of this test:
 *
 *   c_bad_arguments.c          main, and the functions that take no connection (status strings,
 *                              version, the codec)
 *   c_bad_arguments_handles.c  every function that takes a connection, with invalid handles
 *   c_bad_arguments_offline.c  NULL and invalid arguments without a broker
 *   c_bad_arguments_live.c     the same on a live connection, then after close and free
 *   c_bad_arguments.h          what they share
 *
 * Needs AMQP_URL only for the part that needs a live connection (open channels, shortstr limits,
 * channel numbers never opened, calls after close/free).
 */
#include "c_bad_arguments.h"

#include <limits.h>

/* ---- status strings and version ---------------------------------------------------------- */

static void test_status_strings_and_version(void)
{
#define KNOWN(s) {s, #s}
    static const struct {
        int status;
        const char *name;
    } known[] = {
        KNOWN(SWAMQP_OK),
        KNOWN(SWAMQP_ERR_INVALID_ARGUMENT),
        KNOWN(SWAMQP_ERR_INVALID_HANDLE),
        KNOWN(SWAMQP_ERR_NO_MEMORY),
        KNOWN(SWAMQP_ERR_IN_CALLBACK),
        KNOWN(SWAMQP_ERR_FORKED),
        KNOWN(SWAMQP_ERR_BAD_STATE),
        KNOWN(SWAMQP_ERR_CHANNEL_LIMIT),
        KNOWN(SWAMQP_ERR_NOT_CONFIRM_MODE),
        KNOWN(SWAMQP_ERR_STALE_DELIVERY_TAG),
        KNOWN(SWAMQP_ERR_TIMEOUT),
        KNOWN(SWAMQP_ERR_WOULD_BLOCK),
        KNOWN(SWAMQP_ERR_RESOLVE),
        KNOWN(SWAMQP_ERR_CONNECT),
        KNOWN(SWAMQP_ERR_IO),
        KNOWN(SWAMQP_ERR_CONNECTION_LOST),
        KNOWN(SWAMQP_ERR_HEARTBEAT_TIMEOUT),
        KNOWN(SWAMQP_ERR_TLS),
        KNOWN(SWAMQP_ERR_RECOVERING),
        KNOWN(SWAMQP_ERR_PROTOCOL),
        KNOWN(SWAMQP_ERR_FRAME_TOO_LARGE),
        KNOWN(SWAMQP_ERR_MESSAGE_TOO_LARGE),
        KNOWN(SWAMQP_ERR_UNEXPECTED_FRAME),
        KNOWN(SWAMQP_ERR_AUTH),
        KNOWN(SWAMQP_ERR_NACKED),
        KNOWN(SWAMQP_ERR_CHANNEL_CLOSED),
        KNOWN(SWAMQP_ERR_CONNECTION_CLOSED),
        KNOWN(SWAMQP_ERR_CLOSED_BY_APPLICATION),
    };
#undef KNOWN
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *s = swamqp_status_string(known[i].status);
        CHECK(s != NULL, "swamqp_status_string(%d) is NULL", known[i].status);
        CHECK(strcmp(s, known[i].name) == 0, "swamqp_status_string(%d) is \"%s\", expected \"%s\"",
              known[i].status, s, known[i].name);
    }
    static const int unknown[] = {1, 2, -1, -99, -150, -199, -202, -299, -350, -399, -450, -499, -503,
                                  -1000, 100, 12345, INT_MAX, INT_MIN, INT_MIN + 1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = swamqp_status_string(unknown[i]);
        CHECK(s != NULL, "swamqp_status_string(%d) (unknown status) is NULL", unknown[i]);
        CHECK(s[0] != '\0', "swamqp_status_string(%d) (unknown status) is empty", unknown[i]);
    }

    const char *v = swamqp_version();
    CHECK(v != NULL, "swamqp_version() is NULL");
    CHECK(strcmp(v, SWAMQP_VERSION_STRING) == 0, "swamqp_version() \"%s\" != SWAMQP_VERSION_STRING \"%s\"", v,
          SWAMQP_VERSION_STRING);
    CHECK(swamqp_version_number() == SWAMQP_VERSION_NUMBER, "swamqp_version_number() %" PRIu32 " != %d",
          swamqp_version_number(), SWAMQP_VERSION_NUMBER);
    CHECK(swamqp_version() == v, "swamqp_version() is not a static string");

    /* the header's C string helper: NULL is the empty string, the NUL is not counted */
    const swamqp_bytes none = swamqp_cstr(NULL), text = swamqp_cstr("queue");
    CHECK(none.bytes == NULL && none.len == 0, "swamqp_cstr(NULL) is {%p, %zu}", none.bytes, none.len);
    CHECK(text.len == 5 && memcmp(text.bytes, "queue", 5) == 0, "swamqp_cstr(\"queue\") has length %zu", text.len);
}

/* The codec functions take no connection: NULL outputs, short buffers, hostile lengths. */
static void test_codec_arguments(void)
{
    swamqp_error err;
    uint8_t buffer[256];
    size_t written = 99;
    swamqp_field_value fields[3];
    memset(fields, 0, sizeof fields);
    fields[0].kind = SWAMQP_FIELD_U16; /* queue.purge: ticket, queue, nowait */
    fields[1].kind = SWAMQP_FIELD_STRING;
    fields[1].value.bytes = tu_b("q");
    fields[2].kind = SWAMQP_FIELD_BOOL;
    CHECK_OK(swamqp_method_encode(50, 30, fields, 3, buffer, sizeof buffer, &written, &err), &err);
    CHECK(written == 5, "queue.purge arguments took %zu bytes, expected 5", written);
    CHECK_STATUS(swamqp_method_encode(50, 30, fields, 3, buffer, 4, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK(written == 5, "a too-small buffer must still report the size needed, got %zu", written);
    CHECK_STATUS(swamqp_method_encode(50, 30, fields, 3, NULL, 0, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_encode(50, 30, NULL, 3, buffer, sizeof buffer, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_encode(50, 30, fields, SIZE_MAX, buffer, sizeof buffer, &written, &err),
                 SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_encode(50, 30, fields, 2, buffer, sizeof buffer, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_encode(50, 30, fields, 3, buffer, (size_t)-1, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    const swamqp_array *decoded = NULL;
    CHECK_STATUS(swamqp_method_decode(50, 30, buffer, 5, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_decode(50, 30, NULL, 5, &decoded, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_method_decode(50, 30, buffer, SIZE_MAX, &decoded, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_OK(swamqp_method_decode(50, 30, buffer, 5, &decoded, &err), &err);
    CHECK(decoded != NULL && decoded->count == 3 && decoded->values[1].kind == SWAMQP_FIELD_STRING &&
              tu_bytes_eq(decoded->values[1].value.bytes, "q"),
          "queue.purge decoded wrongly");
    CHECK_OK(swamqp_decoded_free(decoded), NULL);
    CHECK_STATUS(swamqp_decoded_free(decoded), SWAMQP_ERR_INVALID_HANDLE, NULL);
    CHECK_OK(swamqp_decoded_free(NULL), NULL);

    CHECK_OK(swamqp_table_encode(NULL, buffer, sizeof buffer, &written, &err), &err);
    CHECK(written == 4, "the empty table took %zu bytes", written);
    const swamqp_table *table = NULL;
    CHECK_STATUS(swamqp_table_decode(buffer, 4, NULL, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_OK(swamqp_table_decode(buffer, 4, NULL, &table, &err), &err);
    CHECK(table->count == 0, "the empty table decoded with %zu entries", table->count);
    CHECK_OK(swamqp_decoded_free(table), NULL);
    swamqp_table huge = {(size_t)1 << 63, NULL};
    CHECK_STATUS(swamqp_table_encode(&huge, buffer, sizeof buffer, &written, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);

    CHECK_OK(swamqp_properties_encode(NULL, buffer, sizeof buffer, &written, &err), &err);
    CHECK(written == 2, "no properties took %zu bytes", written);
    const swamqp_properties *props = NULL;
    CHECK_STATUS(swamqp_properties_decode(buffer, 2, NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_OK(swamqp_properties_decode(buffer, 2, &props, &err), &err);
    CHECK(props->flags == 0, "flags 0x%x", props->flags);
    CHECK_OK(swamqp_decoded_free(props), NULL);
    CHECK_STATUS(swamqp_properties_decode(buffer, 1, &props, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
}

int main(void)
{
    (void)tu_amqp_url(); /* FAIL at once without a broker */
    test_status_strings_and_version();
    test_codec_arguments();
    test_invalid_handles();
    test_arguments_offline();
    test_arguments_live();
    printf("c_bad_arguments: OK\n");
    return 0;
}
