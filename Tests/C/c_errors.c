/*
 * c_errors: failures a user meets, and how the library reports them.
 *
 * - a wrong password → SWAMQP_ERR_AUTH within a few seconds, a message naming the refusal, and no
 *   password in it; swamqp_connect leaves *out NULL; create+open leaves a valid handle to free;
 * - a closed local port → SWAMQP_ERR_CONNECT within the 2000 ms connect timeout;
 * - broker channel errors (404 passive exchange/queue, 406 redeclare) → SWAMQP_ERR_CHANNEL_CLOSED,
 *   origin BROKER, reply code, class and method ids; the connection stays usable;
 * - swamqp_parse_url: malformed URLs → SWAMQP_ERR_INVALID_ARGUMENT; a full URL parses correctly.
 */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#define T_MS 5000

static bool contains_ci(const char *haystack, const char *needle)
{
    return strcasestr(haystack, needle) != NULL;
}

/* ---- authentication ---------------------------------------------------------------------- */

static void test_wrong_password(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    char password[64];
    snprintf(password, sizeof password, "wrong-password-%ld", (long)getpid());

    tu_options_from_env(&options);
    options.password = password;
    options.connect_timeout_ms = 10000;

    /* swamqp_connect: the status, the time, the message, *out NULL. */
    swamqp_connection *conn = (swamqp_connection *)0x1;
    int64_t start = tu_now_ms();
    CHECK_STATUS(swamqp_connect(&options, &conn, &err), SWAMQP_ERR_AUTH, &err);
    int64_t elapsed = tu_now_ms() - start;
    CHECK(elapsed < 5000, "a refused login took %" PRId64 " ms to report (expected a few seconds at most)",
          elapsed);
    CHECK(conn == NULL, "swamqp_connect failed but *out is %p, not NULL", (void *)conn);
    CHECK(contains_ci(err.message, "ACCESS_REFUSED") || contains_ci(err.message, "refused") ||
              contains_ci(err.message, "auth") || contains_ci(err.message, "login"),
          "error message does not say the login was refused: \"%s\"", err.message);
    CHECK(strstr(err.message, password) == NULL, "the password appears in the error message: \"%s\"",
          err.message);
    if (err.origin == SWAMQP_ORIGIN_BROKER)
        CHECK(err.reply_code == 403, "broker-origin auth error with reply_code %u, expected 403", err.reply_code);
    else
        CHECK(err.origin == SWAMQP_ORIGIN_LIBRARY, "error.origin %d", (int)err.origin);
    printf("wrong password: %s in %" PRId64 " ms: %s\n", swamqp_status_string(err.status), elapsed, err.message);

    /* create + open: the handle stays valid after the failure and is freed normally. */
    CHECK_OK(swamqp_connection_create(&options, &conn, &err), &err);
    CHECK(conn != NULL, "swamqp_connection_create gave a NULL handle");
    CHECK_STATUS(swamqp_connection_open(conn, &err), SWAMQP_ERR_AUTH, &err);
    CHECK(!swamqp_connection_is_open(conn), "is_open after a refused login");
    CHECK_OK(swamqp_connection_free(conn), NULL);
    CHECK_STATUS(swamqp_connection_free(conn), SWAMQP_ERR_INVALID_HANDLE, NULL);
}

/* ---- TCP connect refused ----------------------------------------------------------------- */

/** A port on 127.0.0.1 that nobody listens on: bind to port 0, read the port, close. */
static uint16_t closed_local_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "bind: %s", strerror(errno));
    socklen_t len = sizeof addr;
    CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0, "getsockname: %s", strerror(errno));
    close(fd);
    return ntohs(addr.sin_port);
}

static void test_connect_refused(void)
{
    swamqp_error err;
    swamqp_connection_options options;
    swamqp_connection_options_init(&options);
    options.host = "127.0.0.1";
    options.port = closed_local_port();
    options.connect_timeout_ms = 2000;

    swamqp_connection *conn = (swamqp_connection *)0x1;
    int64_t start = tu_now_ms();
    CHECK_STATUS(swamqp_connect(&options, &conn, &err), SWAMQP_ERR_CONNECT, &err);
    int64_t elapsed = tu_now_ms() - start;
    /* A refused connect is immediate; the contract is "within the connect timeout" (2000 ms),
     * plus a little scheduling slack. */
    CHECK(elapsed <= 2000 + 250, "connect to closed port %u took %" PRId64 " ms with a 2000 ms timeout",
          options.port, elapsed);
    CHECK(conn == NULL, "swamqp_connect failed but *out is %p, not NULL", (void *)conn);
    CHECK(err.origin == SWAMQP_ORIGIN_LIBRARY, "connect failure has origin %d, expected LIBRARY", (int)err.origin);
    CHECK(err.message[0] != '\0', "connect failure has an empty message");
    printf("closed port %u: %s in %" PRId64 " ms: %s\n", options.port, swamqp_status_string(err.status), elapsed,
           err.message);
}

/* ---- broker channel errors --------------------------------------------------------------- */

static void check_broker_error(const swamqp_error *err, uint16_t channel, uint16_t reply_code, uint16_t class_id,
                               uint16_t method_id, const char *reply_name)
{
    CHECK(err->origin == SWAMQP_ORIGIN_BROKER, "error.origin %d, expected SWAMQP_ORIGIN_BROKER (%d)",
          (int)err->origin, SWAMQP_ORIGIN_BROKER);
    CHECK(err->reply_code == reply_code, "error.reply_code %u, expected %u (message: %s)", err->reply_code,
          reply_code, err->message);
    CHECK(err->class_id == class_id, "error.class_id %u, expected %u", err->class_id, class_id);
    CHECK(err->method_id == method_id, "error.method_id %u, expected %u", err->method_id, method_id);
    CHECK(err->channel == channel, "error.channel %u, expected %u", err->channel, channel);
    CHECK(strstr(err->message, reply_name) != NULL, "error.message \"%s\" lacks the broker's \"%s\"",
          err->message, reply_name);
}

/** After a channel exception: that channel is closed; closing it again is OK; others work. */
static void check_channel_gone(swamqp_connection *conn, uint16_t ch)
{
    swamqp_error err;
    CHECK(swamqp_connection_is_open(conn), "a channel error closed the connection");
    tu_err_reset(&err);
    int rc = swamqp_queue_declare(conn, ch, tu_b(""), SWAMQP_EXCLUSIVE, NULL, NULL, T_MS, &err);
    CHECK(rc == SWAMQP_ERR_CHANNEL_CLOSED || rc == SWAMQP_ERR_BAD_STATE,
          "using channel %u after the broker closed it returned %s (%d): %s", ch, swamqp_status_string(rc), rc,
          tu_err_text(&err));
    /* "Closing a closed channel is SWAMQP_OK." */
    CHECK_OK(swamqp_channel_close(conn, ch, T_MS, &err), &err);
}

static void test_broker_errors(void)
{
    swamqp_error err;
    swamqp_connection *conn = tu_connect();
    char missing[200], exchange[200], queue[256];
    tu_unique_name(missing, sizeof missing, "c_errors", "missing");
    tu_unique_name(exchange, sizeof exchange, "c_errors", "exchange");

    /* 404 on a passive exchange.declare (class 40, method 10). */
    uint16_t ch = 0;
    CHECK_OK(swamqp_channel_open(conn, &ch, T_MS, &err), &err);
    CHECK_STATUS(swamqp_exchange_declare(conn, ch, tu_b(missing), tu_b("direct"), SWAMQP_PASSIVE, NULL, T_MS, &err),
                 SWAMQP_ERR_CHANNEL_CLOSED, &err);
    check_broker_error(&err, ch, 404, 40, 10, "NOT_FOUND");
    printf("passive exchange.declare: %s, %u (%u, %u) on channel %u: %s\n", swamqp_status_string(err.status),
           err.reply_code, err.class_id, err.method_id, err.channel, err.message);
    check_channel_gone(conn, ch);

    /* A new channel on the same connection works. */
    uint16_t ch2 = 0;
    CHECK_OK(swamqp_channel_open(conn, &ch2, T_MS, &err), &err);
    swamqp_queue_declare_ok ok;
    memset(&ok, 0, sizeof ok);
    CHECK_OK(swamqp_queue_declare(conn, ch2, tu_b(""), SWAMQP_EXCLUSIVE, NULL, &ok, T_MS, &err), &err);
    CHECK(ok.name_len > 0 && ok.name_len == strlen(ok.name), "server-named queue: name \"%s\", name_len %zu",
          ok.name, ok.name_len);
    snprintf(queue, sizeof queue, "%s", ok.name);

    /* 406 on a redeclare with another type. */
    CHECK_OK(swamqp_exchange_declare(conn, ch2, tu_b(exchange), tu_b("direct"), SWAMQP_AUTO_DELETE, NULL, T_MS, &err),
             &err);
    CHECK_OK(swamqp_queue_bind(conn, ch2, tu_b(queue), tu_b(exchange), tu_b("k"), 0, NULL, T_MS, &err), &err);
    CHECK_STATUS(swamqp_exchange_declare(conn, ch2, tu_b(exchange), tu_b("fanout"), SWAMQP_AUTO_DELETE, NULL, T_MS,
                                         &err),
                 SWAMQP_ERR_CHANNEL_CLOSED, &err);
    check_broker_error(&err, ch2, 406, 40, 10, "PRECONDITION_FAILED");
    check_channel_gone(conn, ch2);

    /* 404 on a passive queue.declare (class 50, method 10). */
    uint16_t ch3 = 0;
    CHECK_OK(swamqp_channel_open(conn, &ch3, T_MS, &err), &err);
    CHECK_STATUS(swamqp_queue_declare(conn, ch3, tu_b(missing), SWAMQP_PASSIVE, NULL, NULL, T_MS, &err),
                 SWAMQP_ERR_CHANNEL_CLOSED, &err);
    check_broker_error(&err, ch3, 404, 50, 10, "NOT_FOUND");
    check_channel_gone(conn, ch3);

    /* The connection is still fine. */
    uint16_t ch4 = 0;
    CHECK_OK(swamqp_channel_open(conn, &ch4, T_MS, &err), &err);
    CHECK_OK(swamqp_queue_declare(conn, ch4, tu_b(queue), SWAMQP_PASSIVE, NULL, NULL, T_MS, &err), &err);
    CHECK_OK(swamqp_channel_close(conn, ch4, T_MS, &err), &err);

    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    /* "Closing a closed connection returns SWAMQP_OK." */
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
}

/* ---- URL parsing ------------------------------------------------------------------------- */

static void test_parse_url(void)
{
    static const char *const bad[] = {
        "",
        "localhost",
        "localhost:5672",
        "http://localhost/",
        "amqp:localhost",
        "amqp://localhost:notaport/",
        "amqp://localhost:65536/",
        "amqp://localhost:-1/",
        "amqp://localhost:99999999999999999999/",
        "amqp://localhost:5672:5673/",
        "amqp://[::1/",
        "amqp://guest:guest@localhost/%zz",
        "amqp://guest:guest@localhost/%",
        "amqp://localhost/a/b", /* an unescaped '/' in the vhost (RabbitMQ URI spec) */
        "amqp://localhost/?heartbeat=abc",
        "amqp://localhost/?heartbeat=70000",
        "amqp://localhost/?frame_max=-5",
        "amqp://localhost/?frame_max=12abc",
        "amqp://localhost/?channel_max=99999999999",
        "amqp://localhost/?connection_timeout=soon",
    };
    swamqp_error err;
    swamqp_connection_options options;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        swamqp_connection_options_init(&options);
        tu_err_reset(&err);
        int rc = swamqp_parse_url(bad[i], &options, &err);
        CHECK(rc == SWAMQP_ERR_INVALID_ARGUMENT, "swamqp_parse_url(\"%s\") returned %s (%d), expected "
              "SWAMQP_ERR_INVALID_ARGUMENT", bad[i], swamqp_status_string(rc), rc);
        CHECK(err.status == rc, "parse_url(\"%s\"): error.status %d", bad[i], err.status);
        CHECK(err.origin == SWAMQP_ORIGIN_LIBRARY, "parse_url(\"%s\"): error.origin %d", bad[i], (int)err.origin);
        CHECK(memchr(err.message, '\0', sizeof err.message) != NULL && err.message[0] != '\0',
              "parse_url(\"%s\"): empty error.message", bad[i]);
        /* error may be NULL */
        swamqp_connection_options_init(&options);
        CHECK(swamqp_parse_url(bad[i], &options, NULL) == SWAMQP_ERR_INVALID_ARGUMENT,
              "parse_url(\"%s\", error NULL) did not return SWAMQP_ERR_INVALID_ARGUMENT", bad[i]);
    }

    /* A full URL, with percent-escapes, parses to the right values. */
    swamqp_connection_options_init(&options);
    CHECK_OK(swamqp_parse_url("amqp://us%40er:pa%3Ass@example.com:1234/v%2Fh?heartbeat=5&frame_max=8192&"
                              "channel_max=10&connection_timeout=2500",
                              &options, &err),
             &err);
    CHECK(options.host && strcmp(options.host, "example.com") == 0, "host \"%s\"", options.host);
    CHECK(options.port == 1234, "port %u", options.port);
    CHECK(options.user && strcmp(options.user, "us@er") == 0, "user \"%s\"", options.user);
    CHECK(options.password && strcmp(options.password, "pa:ss") == 0, "password not decoded to \"pa:ss\"");
    CHECK(options.vhost && strcmp(options.vhost, "v/h") == 0, "vhost \"%s\"", options.vhost);
    CHECK(options.heartbeat == 5, "heartbeat %u", options.heartbeat);
    CHECK(options.frame_max == 8192, "frame_max %" PRIu32, options.frame_max);
    CHECK(options.channel_max == 10, "channel_max %u", options.channel_max);

    /* IPv6 literal; parsing over existing values keeps what the URL does not say. */
    swamqp_connection_options_init(&options);
    options.heartbeat = 17;
    CHECK_OK(swamqp_parse_url("amqp://[::1]:5673/%2F", &options, &err), &err);
    CHECK(options.host && strcmp(options.host, "::1") == 0, "IPv6 host \"%s\"", options.host);
    CHECK(options.port == 5673, "port %u", options.port);
    CHECK(options.vhost && strcmp(options.vhost, "/") == 0, "vhost \"%s\"", options.vhost);
    CHECK(options.heartbeat == 17, "heartbeat %u changed by a URL without heartbeat", options.heartbeat);
}

int main(void)
{
    (void)tu_amqp_url(); /* FAIL at once without a broker */
    test_parse_url();
    test_connect_refused();
    test_wrong_password();
    test_broker_errors();
    printf("c_errors: OK\n");
    return 0;
}
