/*
 * c_tls_verify: how the broker's certificate is checked, against the real TLS broker.
 *
 * Failures must be SWAMQP_ERR_TLS with a message that says why, reported as they happen (well
 * within the connect timeout), with *out NULL:
 * - trusting only another CA (PEM file, in-memory DER, hashed directory) → "certificate verify failed";
 * - trusting nothing but the system's CAs (the test CA is not among them) → "certificate verify failed";
 * - the right CA but another name (tls_server_name "wrong.example", or an IP the certificate does
 *   not carry) → "hostname mismatch" / "IP address mismatch";
 * - a missing CA file, an unparsable in-memory certificate, an invalid cipher list → said so;
 * - TLS to the plain AMQP port (AMQP_URL) → a TLS error, not a hang; plain AMQP to the TLS port → an
 *   error, not a hang.
 * And what must work: the test CA as PEM file, as in-memory DER and as an `openssl rehash`ed
 * directory; tls_insecure_skip_verify (with no CA, and with the other CA); tls_insecure_skip_hostname_check
 * with a wrong name (but still not with a wrong CA); server_name_indication=disable; a TLS 1.2 cipher list.
 * SNI: against `openssl s_server` that answers with the test CA's certificate only when the client
 * sent SNI "localhost" (else with the other CA's), the default SNI is the host name, an explicit
 * tls_server_name is sent, and an IP literal host sends none.
 * Needs AMQPS_URL, SWIFTAMQP_TLS_DIR and AMQP_URL (FAILS without them), and the openssl command.
 */
#include "tls_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define VERIFY_FAILED "certificate verify failed"

static void test_wrong_ca(void)
{
    swamqp_error err;
    swamqp_connection_options o;

    tls_options(&o);
    o.tls_ca_file = tls_file("other-ca.pem");
    TLS_EXPECT_FAILURE("trusting only another CA (PEM file)", &o, SWAMQP_ERR_TLS, VERIFY_FAILED, &err);

    /* No CA at all: the system's CAs, which do not include the test CA. */
    tls_options(&o);
    o.tls_ca_file = NULL;
    TLS_EXPECT_FAILURE("trusting the system's CAs only", &o, SWAMQP_ERR_TLS, VERIFY_FAILED, &err);

    /* The right CA does not help a wrong one: skip_hostname_check still verifies the chain. */
    tls_options(&o);
    o.tls_ca_file = tls_file("other-ca.pem");
    o.tls_insecure_skip_hostname_check = true;
    TLS_EXPECT_FAILURE("another CA with skip_hostname_check", &o, SWAMQP_ERR_TLS, VERIFY_FAILED, &err);

    /* The URL's verify=verify_peer with another CA's file. */
    char url[2048];
    snprintf(url, sizeof url, "%s?cacertfile=%s&verify=verify_peer&connection_timeout=%d", tls_amqps_url(),
             tls_file("other-ca.pem"), TLS_CONNECT_TIMEOUT_MS);
    swamqp_connection_options_init(&o);
    CHECK_OK(swamqp_parse_url(url, &o, &err), &err);
    TLS_EXPECT_FAILURE("URL with cacertfile of another CA", &o, SWAMQP_ERR_TLS, VERIFY_FAILED, &err);
}

static void test_hostname(void)
{
    swamqp_error err;
    swamqp_connection_options o;

    tls_options(&o);
    o.host = "127.0.0.1";
    o.tls_server_name = "wrong.example";
    TLS_EXPECT_FAILURE("127.0.0.1 as wrong.example", &o, SWAMQP_ERR_TLS, "hostname mismatch", &err);
    CHECK(tls_contains_ci(err.message, VERIFY_FAILED), "hostname mismatch without \"%s\": %s", VERIFY_FAILED,
          err.message);

    /* A name the certificate does not carry, given as an IP address (it carries IP 127.0.0.1 only). */
    tls_options(&o);
    o.tls_server_name = "127.0.0.2";
    TLS_EXPECT_FAILURE("localhost verified as 127.0.0.2", &o, SWAMQP_ERR_TLS, "IP address mismatch|mismatch", &err);

    /* Wildcards and partial names do not match either. */
    tls_options(&o);
    o.tls_server_name = "localhost.example";
    TLS_EXPECT_FAILURE("localhost verified as localhost.example", &o, SWAMQP_ERR_TLS, "hostname mismatch", &err);

    /* The loud switch: the chain is still checked (the right CA), the name is not. */
    tls_options(&o);
    o.host = "127.0.0.1";
    o.tls_server_name = "wrong.example";
    o.tls_insecure_skip_hostname_check = true;
    TLS_EXPECT_SUCCESS("wrong.example with tls_insecure_skip_hostname_check", &o);

    /* tls_server_name overrides the host for the check: 127.0.0.1 verified as localhost. */
    tls_options(&o);
    o.host = "127.0.0.1";
    o.tls_server_name = "localhost";
    TLS_EXPECT_SUCCESS("127.0.0.1 verified as localhost", &o);

    /* server_name_indication=disable in a URL: no SNI, no name check. */
    char url[2048];
    snprintf(url, sizeof url, "%s?cacertfile=%s&server_name_indication=disable", tls_amqps_url(),
             tls_file("ca.pem"));
    swamqp_connection_options_init(&o);
    CHECK_OK(swamqp_parse_url(url, &o, &err), &err);
    o.host = "127.0.0.1";
    o.connect_timeout_ms = TLS_CONNECT_TIMEOUT_MS;
    TLS_EXPECT_SUCCESS("URL with server_name_indication=disable", &o);
    /* ...while a named one is checked. */
    snprintf(url, sizeof url, "%s?cacertfile=%s&server_name_indication=wrong.example&connection_timeout=%d",
             tls_amqps_url(), tls_file("ca.pem"), TLS_CONNECT_TIMEOUT_MS);
    swamqp_connection_options_init(&o);
    CHECK_OK(swamqp_parse_url(url, &o, &err), &err);
    TLS_EXPECT_FAILURE("URL with server_name_indication=wrong.example", &o, SWAMQP_ERR_TLS, "hostname mismatch", &err);
}

static void test_skip_verify(void)
{
    swamqp_connection_options o;

    /* With the system's CAs verification fails (test_wrong_ca); the loud switch accepts anything. */
    tls_options(&o);
    o.tls_ca_file = NULL;
    o.tls_insecure_skip_verify = true;
    TLS_EXPECT_SUCCESS("no CA with tls_insecure_skip_verify", &o);

    tls_options(&o);
    o.tls_ca_file = tls_file("other-ca.pem");
    o.tls_server_name = "wrong.example";
    o.tls_insecure_skip_verify = true;
    TLS_EXPECT_SUCCESS("other CA and wrong name with tls_insecure_skip_verify", &o);

    /* verify=verify_none in a URL. */
    char url[2048];
    swamqp_error err;
    snprintf(url, sizeof url, "%s?verify=verify_none&connection_timeout=%d", tls_amqps_url(), TLS_CONNECT_TIMEOUT_MS);
    swamqp_connection_options_init(&o);
    CHECK_OK(swamqp_parse_url(url, &o, &err), &err);
    CHECK(o.tls_insecure_skip_verify, "verify=verify_none did not set tls_insecure_skip_verify");
    TLS_EXPECT_SUCCESS("URL with verify=verify_none", &o);
}

static void test_ca_forms(void)
{
    swamqp_error err;
    swamqp_connection_options o;
    size_t len = 0;

    /* In-memory DER: the test CA works, another CA fails, garbage is refused clearly. */
    char *der = tls_read_file(tls_file("ca.der"), &len);
    CHECK(len > 100 && (unsigned char)der[0] == 0x30, "ca.der does not look like DER (%zu bytes)", len);
    swamqp_bytes certs[1] = {tu_bn(der, len)};
    tls_options(&o);
    o.tls_ca_file = NULL;
    o.tls_ca_certificates = certs;
    o.tls_ca_certificate_count = 1;
    TLS_EXPECT_SUCCESS("the test CA as in-memory DER", &o);

    /* The array and its bytes are copied at create: scribbling over them afterwards changes nothing. */
    swamqp_connection *conn = NULL;
    char *copy = malloc(len);
    CHECK(copy != NULL, "malloc");
    memcpy(copy, der, len);
    swamqp_bytes scratch[1] = {tu_bn(copy, len)};
    o.tls_ca_certificates = scratch;
    CHECK_OK(swamqp_connection_create(&o, &conn, &err), &err);
    memset(copy, 0, len);
    scratch[0] = tu_bn(NULL, 0);
    CHECK_OK(swamqp_connection_open(conn, &err), &err);
    TLS_ROUND_TRIP(conn, "in-memory DER copied at create");
    CHECK_OK(swamqp_connection_close(conn, TLS_T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    free(copy);
    printf("in-memory DER copied at create: OK\n");

    /* Another CA as in-memory DER. */
    size_t other_len = 0;
    char *other = tls_read_file(tls_file("other-ca.der"), &other_len);
    swamqp_bytes others[1] = {tu_bn(other, other_len)};
    tls_options(&o);
    o.tls_ca_file = NULL;
    o.tls_ca_certificates = others;
    o.tls_ca_certificate_count = 1;
    TLS_EXPECT_FAILURE("another CA as in-memory DER", &o, SWAMQP_ERR_TLS, VERIFY_FAILED, &err);
    /* Both: any one trusted CA is enough. */
    swamqp_bytes both[2] = {tu_bn(other, other_len), tu_bn(der, len)};
    o.tls_ca_certificates = both;
    o.tls_ca_certificate_count = 2;
    TLS_EXPECT_SUCCESS("another CA and the test CA as in-memory DER", &o);
    free(other);

    /* Bytes that are no certificate. */
    char garbage[64];
    memset(garbage, 0x42, sizeof garbage);
    swamqp_bytes bad[1] = {tu_bn(garbage, sizeof garbage)};
    tls_options(&o);
    o.tls_ca_file = NULL;
    o.tls_ca_certificates = bad;
    o.tls_ca_certificate_count = 1;
    {
        swamqp_connection *c = (swamqp_connection *)0x1;
        tu_err_reset(&err);
        int64_t t0 = tu_now_ms();
        int rc = swamqp_connect(&o, &c, &err);
        int64_t elapsed = tu_now_ms() - t0;
        CHECK(rc == SWAMQP_ERR_TLS || rc == SWAMQP_ERR_INVALID_ARGUMENT,
              "an unparsable in-memory CA certificate: swamqp_connect returned %s: %s", swamqp_status_string(rc),
              tu_err_text(&err));
        CHECK(c == NULL, "failed connect left *out non-NULL");
        CHECK(elapsed < TLS_FAIL_WITHIN_MS, "took %" PRId64 " ms", elapsed);
        CHECK(tls_contains_ci(err.message, "certificate"), "message does not name the certificate: %s", err.message);
        printf("unparsable in-memory CA: %s in %" PRId64 " ms: %s\n", swamqp_status_string(rc), elapsed, err.message);
    }
    free(der);

    /* A hashed CA directory (openssl rehash), and an empty one. */
    tls_options(&o);
    o.tls_ca_file = NULL;
    o.tls_ca_dir = tls_file("cadir");
    TLS_EXPECT_SUCCESS("the test CA through tls_ca_dir", &o);

    char empty[] = "/tmp/swiftamqp-c-tls-empty-cadir.XXXXXX";
    CHECK(mkdtemp(empty) != NULL, "mkdtemp: %s", strerror(errno));
    tls_options(&o);
    o.tls_ca_file = NULL;
    o.tls_ca_dir = empty;
    TLS_EXPECT_FAILURE("an empty tls_ca_dir", &o, SWAMQP_ERR_TLS, VERIFY_FAILED, &err);
    rmdir(empty);

    /* A CA file that does not exist. */
    tls_options(&o);
    o.tls_ca_file = "/nonexistent/swiftamqp-test/ca.pem";
    TLS_EXPECT_FAILURE("a missing CA file", &o, SWAMQP_ERR_TLS, "CA|ca.pem|No such file", &err);
}

static void test_ciphers(void)
{
    swamqp_error err;
    swamqp_connection_options o;

    tls_options(&o);
    o.tls_ciphers = "NOT-A-REAL-CIPHER";
    int64_t t0 = tu_now_ms();
    swamqp_connection *conn = (swamqp_connection *)0x1;
    tu_err_reset(&err);
    int rc = swamqp_connect(&o, &conn, &err);
    int64_t elapsed = tu_now_ms() - t0;
    CHECK(rc == SWAMQP_ERR_TLS || rc == SWAMQP_ERR_INVALID_ARGUMENT,
          "an invalid cipher list: swamqp_connect returned %s: %s", swamqp_status_string(rc), tu_err_text(&err));
    CHECK(conn == NULL, "failed connect left *out non-NULL");
    CHECK(elapsed < TLS_FAIL_WITHIN_MS, "an invalid cipher list took %" PRId64 " ms to report", elapsed);
    CHECK(tls_contains_ci(err.message, "cipher"), "the message does not name the cipher list: %s", err.message);
    printf("invalid cipher list: %s in %" PRId64 " ms: %s\n", swamqp_status_string(rc), elapsed, err.message);

    /* A valid TLS 1.2 list (TLS 1.3 suites are not governed by it) still connects. */
    tls_options(&o);
    o.tls_ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";
    TLS_EXPECT_SUCCESS("a TLS 1.2 cipher list", &o);
}

static void test_wrong_protocol(void)
{
    swamqp_error err;
    swamqp_connection_options o, plain;

    /* TLS to the plain AMQP port: the broker answers the ClientHello with "AMQP\0\0\x09\x01". */
    swamqp_connection_options_init(&plain);
    CHECK_OK(swamqp_parse_url(tu_amqp_url(), &plain, &err), &err);
    uint16_t plain_port = plain.port;
    tls_options(&o);
    o.port = plain_port;
    o.host = "127.0.0.1";
    o.tls_server_name = "localhost";
    TLS_EXPECT_FAILURE("TLS to the plain AMQP port", &o, SWAMQP_ERR_TLS, "TLS|SSL|wrong version|packet length|record",
                       &err);

    /* Plain AMQP to the TLS port: the broker's TLS side gets "AMQP" and drops the connection. */
    tls_options(&o);
    o.tls = false;
    swamqp_connection *conn = (swamqp_connection *)0x1;
    tu_err_reset(&err);
    int64_t t0 = tu_now_ms();
    int rc = swamqp_connect(&o, &conn, &err);
    int64_t elapsed = tu_now_ms() - t0;
    CHECK(rc != SWAMQP_OK && rc != SWAMQP_ERR_TIMEOUT,
          "plain AMQP to the TLS port: swamqp_connect returned %s after %" PRId64 " ms: %s", swamqp_status_string(rc),
          elapsed, tu_err_text(&err));
    CHECK(conn == NULL, "failed connect left *out non-NULL");
    CHECK(elapsed < TLS_FAIL_WITHIN_MS, "plain AMQP to the TLS port took %" PRId64 " ms to fail", elapsed);
    printf("plain AMQP to the TLS port: %s in %" PRId64 " ms: %s\n", swamqp_status_string(rc), elapsed, err.message);
}

/* ---- SNI against openssl s_server -------------------------------------------------------- */

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0, "getsockname: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_accepts(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* openssl s_server: the other CA's certificate by default, the test CA's one (server.pem) to a
 * client whose SNI is "localhost". It speaks no AMQP, so a client that accepts its certificate then
 * waits for connection.start until its connect timeout. */
static pid_t start_sni_server(uint16_t port, int *stdin_fd)
{
    char accept_arg[64];
    snprintf(accept_arg, sizeof accept_arg, "127.0.0.1:%u", port);
    /* s_server ends a connection when its stdin ends: give it a pipe that stays open. */
    int in[2];
    CHECK(pipe(in) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(in[0], 0);
        close(in[0]);
        close(in[1]);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept_arg, "-cert",
               tls_file("other-server.pem"), "-key", tls_file("other-server.key"), "-servername", "localhost",
               "-cert2", tls_file("server.pem"), "-key2", tls_file("server.key"), (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    *stdin_fd = in[1];
    int64_t deadline = tu_now_ms() + 10000;
    while (!port_accepts(port)) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            FAILF("openssl s_server exited (status 0x%x) before accepting on %s", status, accept_arg);
        if (tu_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            FAILF("openssl s_server did not accept on %s within 10 s", accept_arg);
        }
        tu_sleep_ms(50);
    }
    return pid;
}

/* Connects to s_server; returns the status. TIMEOUT means the TLS handshake and verification passed
 * (s_server speaks no AMQP); TLS means the certificate it chose was refused. */
static int sni_attempt(uint16_t port, const char *host, const char *server_name, swamqp_error *err)
{
    swamqp_connection_options o;
    tls_options(&o);
    o.host = host;
    o.port = port;
    o.tls_server_name = server_name;
    o.connect_timeout_ms = 1500;
    swamqp_connection *conn = NULL;
    tu_err_reset(err);
    int rc = swamqp_connect(&o, &conn, err);
    if (conn)
        swamqp_connection_free(conn);
    printf("SNI: host %s, tls_server_name %s: %s: %s\n", host, server_name ? server_name : "(NULL)",
           swamqp_status_string(rc), rc == SWAMQP_OK ? "" : err->message);
    return rc;
}

static void test_sni(void)
{
    swamqp_error err;
    uint16_t port = free_port();
    int server_stdin = -1;
    pid_t server = start_sni_server(port, &server_stdin);

    /* Default SNI is the host: s_server sees "localhost", answers with the test CA's certificate. */
    int rc = sni_attempt(port, "localhost", NULL, &err);
    CHECK(rc == SWAMQP_ERR_TIMEOUT, "host localhost: expected the handshake to pass and AMQP to time out, got %s: %s",
          swamqp_status_string(rc), err.message);
    /* An explicit tls_server_name is sent (and checked) instead of the IP host. */
    rc = sni_attempt(port, "127.0.0.1", "localhost", &err);
    CHECK(rc == SWAMQP_ERR_TIMEOUT,
          "host 127.0.0.1 with tls_server_name localhost: expected the handshake to pass, got %s: %s",
          swamqp_status_string(rc), err.message);
    /* An IP literal sends no SNI: s_server answers with the other CA's certificate. */
    rc = sni_attempt(port, "127.0.0.1", NULL, &err);
    CHECK(rc == SWAMQP_ERR_TLS && tls_contains_ci(err.message, VERIFY_FAILED),
          "host 127.0.0.1 (no SNI): expected the other CA's certificate to be refused, got %s: %s",
          swamqp_status_string(rc), err.message);

    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    close(server_stdin);
    printf("SNI: OK\n");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    (void)tls_amqps_url();
    (void)tls_dir();
    (void)tu_amqp_url();
    test_wrong_ca();
    test_hostname();
    test_skip_verify();
    test_ca_forms();
    test_ciphers();
    test_wrong_protocol();
    test_sni();
    printf("c_tls_verify: OK\n");
    return 0;
}
