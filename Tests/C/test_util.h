/*
 * Shared helpers for the C tests of libswiftamqp (Tests/C). Header-only.
 *
 * Every test is a standalone program: it returns 0 on success and, on the first failed check,
 * prints "FAIL file:line: ..." (with the status name and the error message when there is one) and
 * exits with status 1. Tests that need a broker read AMQP_URL from the environment and FAIL when
 * it is missing: a missing broker is a broken test setup, not a reason to skip.
 */
#ifndef SWIFTAMQP_TEST_UTIL_H
#define SWIFTAMQP_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <swiftamqp.h>

#define TU_UNUSED __attribute__((unused))

/* ---- failing ---------------------------------------------------------------------------- */

/* Prints the failure and ends the process at once. _exit skips atexit handlers so that a
 * connection's I/O thread that is still running can never make a failing test hang. */
static TU_UNUSED __attribute__((noreturn, format(printf, 3, 4))) void
tu_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    _exit(1);
}

static TU_UNUSED __attribute__((noreturn, format(printf, 4, 5))) void
tu_fail_check(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s:%d: check failed: %s\n    ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    _exit(1);
}

#define FAILF(...) tu_fail(__FILE__, __LINE__, __VA_ARGS__)

/** CHECK(cond, "printf-like explanation", ...): fails the test when cond is false. */
#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (!(cond))                                                                              \
            tu_fail_check(__FILE__, __LINE__, #cond, __VA_ARGS__);                                \
    } while (0)

static TU_UNUSED const char *tu_err_text(const swamqp_error *err)
{
    if (err == NULL)
        return "(no swamqp_error passed)";
    /* The library promises NUL termination; don't trust it blindly in a test. */
    if (memchr(err->message, '\0', sizeof err->message) == NULL)
        return "(error.message is not NUL-terminated!)";
    return err->message[0] ? err->message : "(empty error.message)";
}

static TU_UNUSED void tu_check_status(const char *file, int line, const char *expr, int got,
                                      int expected, const swamqp_error *err)
{
    if (got != expected) {
        tu_fail(file, line, "%s\n    returned %s (%d), expected %s (%d)\n    error: origin %d reply %u "
                "class %u method %u channel %u: %s",
                expr, swamqp_status_string(got), got, swamqp_status_string(expected), expected,
                err ? (int)err->origin : -1, err ? err->reply_code : 0, err ? err->class_id : 0,
                err ? err->method_id : 0, err ? err->channel : 0, tu_err_text(err));
    }
    if (expected != SWAMQP_OK && err != NULL) {
        /* "filled by the callee on failure": status mirrors the return value. */
        if (err->status != got)
            tu_fail(file, line, "%s\n    returned %s but error.status is %s (%d)", expr,
                    swamqp_status_string(got), swamqp_status_string(err->status), err->status);
        if (memchr(err->message, '\0', sizeof err->message) == NULL)
            tu_fail(file, line, "%s\n    error.message is not NUL-terminated", expr);
    }
}

/** Resets the error struct to a recognisable garbage pattern so "was it filled?" is visible. */
static TU_UNUSED swamqp_error *tu_err_reset(swamqp_error *err)
{
    memset(err, 0x5a, sizeof *err);
    err->message[sizeof err->message - 1] = '\0';
    return err;
}

/** CHECK_STATUS(call, expected, &err): runs call (with err reset first), compares its status. */
#define CHECK_STATUS(call, expected, errp)                                                        \
    do {                                                                                          \
        swamqp_error *tu_errp_ = (errp);                                                          \
        if (tu_errp_ != NULL)                                                                     \
            tu_err_reset(tu_errp_);                                                               \
        int tu_rc_ = (call);                                                                      \
        tu_check_status(__FILE__, __LINE__, #call, tu_rc_, (expected), tu_errp_);                 \
    } while (0)

#define CHECK_OK(call, errp) CHECK_STATUS(call, SWAMQP_OK, errp)

/* ---- environment, names, time ------------------------------------------------------------- */

/** AMQP_URL from the environment; FAILS the test when it is not set. */
static TU_UNUSED const char *tu_amqp_url(void)
{
    const char *url = getenv("AMQP_URL");
    if (url == NULL || url[0] == '\0')
        FAILF("AMQP_URL is not set: start a broker (scripts/broker start) and export the "
              "AMQP_URL it prints");
    return url;
}

/** Fills `options` with defaults and then with AMQP_URL. Strings point into library storage
 * valid until the next swamqp_parse_url on this thread. */
static TU_UNUSED void tu_options_from_env(swamqp_connection_options *options)
{
    swamqp_error err;
    swamqp_connection_options_init(options);
    const char *url = tu_amqp_url();
    tu_err_reset(&err);
    int rc = swamqp_parse_url(url, options, &err);
    if (rc != SWAMQP_OK)
        FAILF("swamqp_parse_url(AMQP_URL=\"%s\") returned %s: %s", url, swamqp_status_string(rc),
              tu_err_text(&err));
}

/** Connects with `options`; fails the test on error. */
static TU_UNUSED swamqp_connection *tu_connect_with(const swamqp_connection_options *options)
{
    swamqp_error err;
    swamqp_connection *conn = NULL;
    tu_err_reset(&err);
    int rc = swamqp_connect(options, &conn, &err);
    if (rc != SWAMQP_OK)
        FAILF("swamqp_connect to %s:%u returned %s: %s", options->host ? options->host : "(null)",
              options->port, swamqp_status_string(rc), tu_err_text(&err));
    if (conn == NULL)
        FAILF("swamqp_connect returned SWAMQP_OK but *out is NULL");
    return conn;
}

/** Connects to AMQP_URL with default options. */
static TU_UNUSED swamqp_connection *tu_connect(void)
{
    swamqp_connection_options options;
    tu_options_from_env(&options);
    return tu_connect_with(&options);
}

/** A name unique to this process and moment: "<prefix>.<pid>.<seconds>.<counter>.<what>". */
static TU_UNUSED void tu_unique_name(char *buf, size_t size, const char *prefix, const char *what)
{
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, size, "%s.%ld.%lld.%09ld.%u.%s", prefix, (long)getpid(), (long long)ts.tv_sec,
             ts.tv_nsec, ++counter, what);
}

static TU_UNUSED int64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/** Sleeps the full `ms`, resuming after signals. */
static TU_UNUSED void tu_sleep_ms(int64_t ms)
{
    struct timespec req = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L}, rem;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

/* ---- byte strings ------------------------------------------------------------------------ */

/** A swamqp_bytes over a C string (without its NUL). */
static TU_UNUSED swamqp_bytes tu_b(const char *s)
{
    swamqp_bytes b;
    b.bytes = s;
    b.len = s ? strlen(s) : 0;
    return b;
}

static TU_UNUSED swamqp_bytes tu_bn(const void *p, size_t len)
{
    swamqp_bytes b;
    b.bytes = p;
    b.len = len;
    return b;
}

static TU_UNUSED bool tu_bytes_eq_n(swamqp_bytes b, const void *p, size_t len)
{
    if (b.len != len)
        return false;
    if (len == 0)
        return true;
    return b.bytes != NULL && memcmp(b.bytes, p, len) == 0;
}

static TU_UNUSED bool tu_bytes_eq(swamqp_bytes b, const char *s)
{
    return tu_bytes_eq_n(b, s, strlen(s));
}

/** For messages: prints at most 200 bytes of `b` into a static buffer, escaping non-printables. */
static TU_UNUSED const char *tu_show(swamqp_bytes b)
{
    static char buf[4][1024];
    static int which;
    char *out = buf[which++ & 3];
    size_t o = 0;
    const unsigned char *p = b.bytes;
    if (p == NULL && b.len != 0)
        return "(NULL with non-zero len!)";
    out[o++] = '"';
    for (size_t i = 0; i < b.len && i < 200 && o < sizeof buf[0] - 8; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            out[o++] = (char)p[i];
        else
            o += (size_t)snprintf(out + o, sizeof buf[0] - o, "\\x%02x", p[i]);
    }
    if (b.len > 200)
        o += (size_t)snprintf(out + o, sizeof buf[0] - o, "...(%zu bytes)", b.len);
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

#define CHECK_BYTES(b, s)                                                                         \
    CHECK(tu_bytes_eq((b), (s)), "%s is %s, expected \"%s\"", #b, tu_show(b), (s))

#endif /* SWIFTAMQP_TEST_UTIL_H */
