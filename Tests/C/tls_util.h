/*
 * Helpers for the TLS tests of Tests/C (c_tls, c_tls_verify, c_tls_auth). Header-only.
 *
 * The tests run against a broker started with `scripts/broker start NAME --tls`, which prints
 *   AMQPS_URL=amqps://guest:guest@localhost:PORT/%2f
 *   SWIFTAMQP_TLS_DIR=DIR        (ca.pem, client.pem, client.key, other-ca.pem, ... see scripts/broker)
 * Both must be in the environment; a test FAILS (never skips) when one is missing.
 */
#ifndef SWIFTAMQP_TLS_UTIL_H
#define SWIFTAMQP_TLS_UTIL_H

#include "test_util.h"

#include <strings.h>
#include <sys/stat.h>

/** Generous enough for a loaded 2-core machine, short enough that "did not hang" means something. */
#define TLS_CONNECT_TIMEOUT_MS 10000
/** A failure must be reported well before the connect timeout would have ended the attempt. */
#define TLS_FAIL_WITHIN_MS 5000
#define TLS_T_MS 10000

static TU_UNUSED const char *tls_env(const char *name, const char *hint)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        FAILF("%s is not set: %s", name, hint);
    return v;
}

static TU_UNUSED const char *tls_amqps_url(void)
{
    return tls_env("AMQPS_URL", "start a TLS broker (scripts/broker start NAME --tls) and export the "
                                "AMQPS_URL and SWIFTAMQP_TLS_DIR it prints");
}

static TU_UNUSED const char *tls_dir(void)
{
    return tls_env("SWIFTAMQP_TLS_DIR", "start a TLS broker (scripts/broker start NAME --tls) and export "
                                        "the AMQPS_URL and SWIFTAMQP_TLS_DIR it prints");
}

/** DIR/name in one of 16 rotating static buffers; FAILS when the file does not exist. */
static TU_UNUSED const char *tls_file(const char *name)
{
    static char buf[16][1024];
    static unsigned which;
    char *out = buf[which++ & 15];
    snprintf(out, sizeof buf[0], "%s/%s", tls_dir(), name);
    struct stat st;
    if (stat(out, &st) != 0)
        FAILF("%s is missing (%s): is SWIFTAMQP_TLS_DIR the folder scripts/broker --tls printed?", out,
              strerror(errno));
    return out;
}

/** Reads a whole file (for DER certificates, the key password); FAILS on error. NUL-terminated. */
static TU_UNUSED char *tls_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        FAILF("cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *data = malloc(cap + 1);
    CHECK(data != NULL, "malloc");
    size_t got;
    while ((got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            data = realloc(data, cap + 1);
            CHECK(data != NULL, "realloc");
        }
    }
    CHECK(!ferror(f), "reading %s: %s", path, strerror(errno));
    fclose(f);
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}

/**
 * Defaults, then AMQPS_URL, then the test CA (ca.pem) as the only trusted CA and the TLS test
 * timeout. Strings point into library storage valid until the next swamqp_parse_url on this thread,
 * or into static buffers.
 */
static TU_UNUSED void tls_options(swamqp_connection_options *o)
{
    swamqp_error err;
    const char *url = tls_amqps_url();
    swamqp_connection_options_init(o);
    tu_err_reset(&err);
    int rc = swamqp_parse_url(url, o, &err);
    if (rc != SWAMQP_OK)
        FAILF("swamqp_parse_url(AMQPS_URL=\"%s\") returned %s: %s", url, swamqp_status_string(rc),
              tu_err_text(&err));
    CHECK(o->tls, "AMQPS_URL=\"%s\" did not set options.tls", url);
    o->tls_ca_file = tls_file("ca.pem");
    o->connect_timeout_ms = TLS_CONNECT_TIMEOUT_MS;
}

static TU_UNUSED bool tls_contains_ci(const char *haystack, const char *needle)
{
    return strcasestr(haystack, needle) != NULL;
}

/**
 * Connects with `o`, which must fail with `expected` within TLS_FAIL_WITHIN_MS, leaving *out NULL,
 * with an error message containing (case-insensitively) at least one of the `|`-separated words of
 * `any_of`. Prints the outcome; returns the elapsed time. `what` names the case in messages.
 */
static TU_UNUSED int64_t tls_expect_failure(const char *file, int line, const char *what,
                                           const swamqp_connection_options *o, int expected,
                                           const char *any_of, swamqp_error *err)
{
    swamqp_connection *conn = (swamqp_connection *)0x1;
    tu_err_reset(err);
    int64_t t0 = tu_now_ms();
    int rc = swamqp_connect(o, &conn, err);
    int64_t elapsed = tu_now_ms() - t0;
    if (rc == SWAMQP_OK) {
        swamqp_connection_free(conn);
        tu_fail(file, line, "%s: swamqp_connect succeeded, expected %s", what, swamqp_status_string(expected));
    }
    if (rc != expected)
        tu_fail(file, line, "%s: swamqp_connect returned %s (%d) after %" PRId64 " ms, expected %s: %s", what,
                swamqp_status_string(rc), rc, elapsed, swamqp_status_string(expected), tu_err_text(err));
    tu_check_status(file, line, what, rc, expected, err);
    if (conn != NULL)
        tu_fail(file, line, "%s: swamqp_connect failed but *out is %p, not NULL", what, (void *)conn);
    if (elapsed >= TLS_FAIL_WITHIN_MS)
        tu_fail(file, line, "%s: the failure took %" PRId64 " ms (connect timeout %u ms): it should be reported "
                "as soon as it happens, not at a timeout", what, elapsed, o->connect_timeout_ms);
    char words[256];
    snprintf(words, sizeof words, "%s", any_of);
    bool found = false;
    for (char *save = NULL, *w = strtok_r(words, "|", &save); w != NULL; w = strtok_r(NULL, "|", &save))
        if (tls_contains_ci(err->message, w))
            found = true;
    if (!found)
        tu_fail(file, line, "%s: the error message does not say why (expected one of \"%s\"): \"%s\"", what, any_of,
                tu_err_text(err));
    if (o->password != NULL && strlen(o->password) >= 4 && strstr(err->message, o->password) != NULL)
        tu_fail(file, line, "%s: the password appears in the error message: \"%s\"", what, err->message);
    if (o->tls_key_password != NULL && strlen(o->tls_key_password) >= 4 &&
        strstr(err->message, o->tls_key_password) != NULL)
        tu_fail(file, line, "%s: the key password appears in the error message: \"%s\"", what, err->message);
    printf("%s: %s in %" PRId64 " ms: %s\n", what, swamqp_status_string(rc), elapsed, err->message);
    fflush(stdout);
    return elapsed;
}

#define TLS_EXPECT_FAILURE(what, options, expected, any_of, errp)                                          \
    tls_expect_failure(__FILE__, __LINE__, (what), (options), (expected), (any_of), (errp))

/**
 * Proves a connection works: a channel, a server-named exclusive queue, a publish to it and a
 * basic.get of that very message. Closes the channel (not the connection).
 */
static TU_UNUSED void tls_round_trip(const char *file, int line, swamqp_connection *conn, const char *what)
{
    swamqp_error err;
    uint16_t ch = 0;
    tu_err_reset(&err);
    int rc = swamqp_channel_open(conn, &ch, TLS_T_MS, &err);
    if (rc != SWAMQP_OK)
        tu_fail(file, line, "%s: channel.open: %s: %s", what, swamqp_status_string(rc), tu_err_text(&err));
    swamqp_queue_declare_ok ok;
    memset(&ok, 0, sizeof ok);
    rc = swamqp_queue_declare(conn, ch, tu_b(""), SWAMQP_EXCLUSIVE, NULL, &ok, TLS_T_MS, &err);
    if (rc != SWAMQP_OK)
        tu_fail(file, line, "%s: queue.declare: %s: %s", what, swamqp_status_string(rc), tu_err_text(&err));
    char body[128];
    snprintf(body, sizeof body, "round trip over TLS: %s", what);
    rc = swamqp_basic_publish(conn, ch, tu_b(""), tu_bn(ok.name, ok.name_len), 0, NULL, tu_b(body), NULL, TLS_T_MS,
                              &err);
    if (rc != SWAMQP_OK)
        tu_fail(file, line, "%s: basic.publish: %s: %s", what, swamqp_status_string(rc), tu_err_text(&err));
    swamqp_message *m = NULL;
    int64_t deadline = tu_now_ms() + TLS_T_MS;
    do { /* the publish is asynchronous: the message may need a moment to reach the queue */
        rc = swamqp_basic_get(conn, ch, tu_bn(ok.name, ok.name_len), SWAMQP_NO_ACK, &m, TLS_T_MS, &err);
        if (rc != SWAMQP_OK)
            tu_fail(file, line, "%s: basic.get: %s: %s", what, swamqp_status_string(rc), tu_err_text(&err));
        if (m == NULL)
            tu_sleep_ms(20);
    } while (m == NULL && tu_now_ms() < deadline);
    if (m == NULL)
        tu_fail(file, line, "%s: the published message never arrived in its queue", what);
    if (!tu_bytes_eq(m->body, body))
        tu_fail(file, line, "%s: basic.get returned %s, expected \"%s\"", what, tu_show(m->body), body);
    swamqp_message_free(m);
    rc = swamqp_channel_close(conn, ch, TLS_T_MS, &err);
    if (rc != SWAMQP_OK)
        tu_fail(file, line, "%s: channel.close: %s: %s", what, swamqp_status_string(rc), tu_err_text(&err));
}

#define TLS_ROUND_TRIP(conn, what) tls_round_trip(__FILE__, __LINE__, (conn), (what))

/** Connects with `o` (must succeed), proves the connection works, closes and frees it. */
static TU_UNUSED void tls_expect_success(const char *file, int line, const char *what,
                                         const swamqp_connection_options *o)
{
    swamqp_error err;
    swamqp_connection *conn = NULL;
    tu_err_reset(&err);
    int64_t t0 = tu_now_ms();
    int rc = swamqp_connect(o, &conn, &err);
    if (rc != SWAMQP_OK || conn == NULL)
        tu_fail(file, line, "%s: swamqp_connect returned %s after %" PRId64 " ms: %s", what,
                swamqp_status_string(rc), tu_now_ms() - t0, tu_err_text(&err));
    tls_round_trip(file, line, conn, what);
    rc = swamqp_connection_close(conn, TLS_T_MS, &err);
    if (rc != SWAMQP_OK)
        tu_fail(file, line, "%s: connection.close: %s: %s", what, swamqp_status_string(rc), tu_err_text(&err));
    swamqp_connection_free(conn);
    printf("%s: OK (%" PRId64 " ms)\n", what, tu_now_ms() - t0);
    fflush(stdout);
}

#define TLS_EXPECT_SUCCESS(what, options) tls_expect_success(__FILE__, __LINE__, (what), (options))

#endif /* SWIFTAMQP_TLS_UTIL_H */
