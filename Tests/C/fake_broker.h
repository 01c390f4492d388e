/*
 * A scripted AMQP 0-9-1 peer for the C tests (header-only): the test plays the broker on a local TCP
 * socket, so it can do what a real RabbitMQ never does on demand (withhold confirms, send
 * channel.flow, reset the socket in the middle of a write).
 *
 * The peer is driven from the test's own thread, step by step: the library side is used through
 * calls that never wait for the broker (the _async forms, publish, next_events), and between them
 * the test reads the frames the client sent (fb_expect_method) and writes the replies (fb_send_*).
 * Every read has a deadline; a missing or unexpected frame FAILS the test with what came instead.
 */
#ifndef SWIFTAMQP_FAKE_BROKER_H
#define SWIFTAMQP_FAKE_BROKER_H

#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* ---- an encoder for method arguments --------------------------------------------------------- */

typedef struct fb_buf {
    uint8_t data[4096];
    size_t len;
} fb_buf;

static TU_UNUSED void fb_put(fb_buf *b, const void *p, size_t n)
{
    CHECK(b->len + n <= sizeof b->data, "fake broker: encoder buffer overflow (%zu + %zu)", b->len, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
static TU_UNUSED void fb_u8(fb_buf *b, uint8_t v) { fb_put(b, &v, 1); }
static TU_UNUSED void fb_u16(fb_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    fb_put(b, x, 2);
}
static TU_UNUSED void fb_u32(fb_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    fb_put(b, x, 4);
}
static TU_UNUSED void fb_u64(fb_buf *b, uint64_t v)
{
    fb_u32(b, (uint32_t)(v >> 32));
    fb_u32(b, (uint32_t)v);
}
static TU_UNUSED void fb_shortstr(fb_buf *b, const char *s)
{
    size_t n = strlen(s);
    CHECK(n < 256, "shortstr of %zu bytes", n);
    fb_u8(b, (uint8_t)n);
    fb_put(b, s, n);
}
static TU_UNUSED void fb_longstr(fb_buf *b, const void *p, size_t n)
{
    fb_u32(b, (uint32_t)n);
    fb_put(b, p, n);
}

static TU_UNUSED uint16_t fb_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static TU_UNUSED uint32_t fb_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static TU_UNUSED uint64_t fb_get64(const uint8_t *p) { return (uint64_t)fb_get32(p) << 32 | fb_get32(p + 4); }

/* ---- the peer ---------------------------------------------------------------------------------- */

typedef struct fb_peer {
    int listen_fd;
    int fd;
    uint16_t port;
} fb_peer;

typedef struct fb_frame {
    uint8_t type; /* 1 method, 2 header, 3 body, 8 heartbeat */
    uint16_t channel;
    uint32_t size;
    uint8_t *payload; /* malloc'd, `size` bytes; freed by the next read into this frame */
    uint16_t class_id, method_id;
} fb_frame;

/** Listens on 127.0.0.1 on a free port. `rcvbuf` > 0 sets SO_RCVBUF on the listener (inherited). */
static TU_UNUSED void fb_listen(fb_peer *peer, int rcvbuf)
{
    memset(peer, 0, sizeof *peer);
    peer->fd = -1;
    peer->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(peer->listen_fd >= 0, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(peer->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rcvbuf > 0)
        CHECK(setsockopt(peer->listen_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0, "SO_RCVBUF: %s",
              strerror(errno));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    CHECK(bind(peer->listen_fd, (struct sockaddr *)&addr, sizeof addr) == 0, "bind: %s", strerror(errno));
    CHECK(listen(peer->listen_fd, 4) == 0, "listen: %s", strerror(errno));
    socklen_t alen = sizeof addr;
    CHECK(getsockname(peer->listen_fd, (struct sockaddr *)&addr, &alen) == 0, "getsockname: %s", strerror(errno));
    peer->port = ntohs(addr.sin_port);
}

/** Connection options for a client of this peer (no URL needed). */
static TU_UNUSED void fb_client_options(const fb_peer *peer, swamqp_connection_options *options)
{
    swamqp_connection_options_init(options);
    options->host = "127.0.0.1";
    options->port = peer->port;
    options->connect_timeout_ms = 10000;
}

static TU_UNUSED void fb_accept(fb_peer *peer, int timeout_ms)
{
    struct pollfd p = {peer->listen_fd, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);
    CHECK(rc == 1, "fake broker: no client connected within %d ms", timeout_ms);
    peer->fd = accept4(peer->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    CHECK(peer->fd >= 0, "accept: %s", strerror(errno));
    int one = 1;
    setsockopt(peer->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/** Closes the client socket with an RST (SO_LINGER 0) instead of a FIN. */
static TU_UNUSED void fb_reset(fb_peer *peer)
{
    struct linger lg = {1, 0};
    CHECK(setsockopt(peer->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0, "SO_LINGER: %s", strerror(errno));
    close(peer->fd);
    peer->fd = -1;
}

static TU_UNUSED void fb_close(fb_peer *peer)
{
    if (peer->fd >= 0)
        close(peer->fd);
    if (peer->listen_fd >= 0)
        close(peer->listen_fd);
    peer->fd = peer->listen_fd = -1;
}

/** Reads exactly n bytes before the deadline; false on EOF/reset/timeout. */
static TU_UNUSED bool fb_read_exact(fb_peer *peer, void *dst, size_t n, int64_t deadline)
{
    uint8_t *p = dst;
    while (n > 0) {
        int64_t left = deadline - tu_now_ms();
        if (left <= 0)
            return false;
        struct pollfd pf = {peer->fd, POLLIN, 0};
        int rc = poll(&pf, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        ssize_t got = recv(peer->fd, p, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        p += got;
        n -= (size_t)got;
    }
    return true;
}

static TU_UNUSED void fb_write_all(fb_peer *peer, const void *src, size_t n)
{
    const uint8_t *p = src;
    while (n > 0) {
        ssize_t w = send(peer->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0, "fake broker: send failed: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

/** Reads one frame; false on EOF or timeout. FAILS on a malformed frame. */
static TU_UNUSED bool fb_read_frame(fb_peer *peer, fb_frame *f, int timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    uint8_t head[7];
    free(f->payload);
    memset(f, 0, sizeof *f);
    if (!fb_read_exact(peer, head, 7, deadline))
        return false;
    f->type = head[0];
    f->channel = fb_get16(head + 1);
    f->size = fb_get32(head + 3);
    CHECK(f->size <= 16u * 1024 * 1024, "fake broker: client sent a frame of %" PRIu32 " bytes", f->size);
    f->payload = malloc(f->size + 1);
    CHECK(f->payload != NULL, "malloc");
    uint8_t end = 0;
    CHECK(fb_read_exact(peer, f->payload, f->size, deadline + 5000) && fb_read_exact(peer, &end, 1, deadline + 5000),
          "fake broker: a frame header arrived but not its payload");
    CHECK(end == 0xCE, "fake broker: frame end 0x%02x, expected 0xCE", end);
    if (f->type == 1) {
        CHECK(f->size >= 4, "fake broker: method frame of %" PRIu32 " bytes", f->size);
        f->class_id = fb_get16(f->payload);
        f->method_id = fb_get16(f->payload + 2);
    }
    return true;
}

/** Reads frames, skipping heartbeats, until a method frame; FAILS unless it is (channel, class, method). */
static TU_UNUSED void fb_expect_method_at(const char *file, int line, fb_peer *peer, fb_frame *f, uint16_t channel,
                                          uint16_t class_id, uint16_t method_id, int timeout_ms)
{
    for (;;) {
        if (!fb_read_frame(peer, f, timeout_ms))
            tu_fail(file, line, "fake broker: expected method %u.%u on channel %u; the client sent nothing "
                    "within %d ms (or closed the socket)", class_id, method_id, channel, timeout_ms);
        if (f->type == 8)
            continue;
        if (f->type != 1 || f->channel != channel || f->class_id != class_id || f->method_id != method_id)
            tu_fail(file, line, "fake broker: expected method %u.%u on channel %u, got frame type %u channel %u "
                    "method %u.%u (%" PRIu32 " bytes)", class_id, method_id, channel, f->type, f->channel,
                    f->class_id, f->method_id, f->size);
        return;
    }
}
#define fb_expect_method(peer, f, channel, class_id, method_id, timeout_ms)                                 \
    fb_expect_method_at(__FILE__, __LINE__, peer, f, channel, class_id, method_id, timeout_ms)

static TU_UNUSED void fb_send_frame(fb_peer *peer, uint8_t type, uint16_t channel, const void *payload, size_t len)
{
    uint8_t head[7] = {type, (uint8_t)(channel >> 8), (uint8_t)channel, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                       (uint8_t)(len >> 8), (uint8_t)len};
    fb_write_all(peer, head, 7);
    if (len)
        fb_write_all(peer, payload, len);
    uint8_t end = 0xCE;
    fb_write_all(peer, &end, 1);
}

static TU_UNUSED void fb_send_method(fb_peer *peer, uint16_t channel, uint16_t class_id, uint16_t method_id,
                                     const fb_buf *args)
{
    fb_buf b;
    b.len = 0;
    fb_u16(&b, class_id);
    fb_u16(&b, method_id);
    if (args)
        fb_put(&b, args->data, args->len);
    fb_send_frame(peer, 1, channel, b.data, b.len);
}

/** Whether the n bytes at `needle` occur in the frame's payload (to look into tables without decoding). */
static TU_UNUSED bool fb_payload_contains_n(const fb_frame *f, const void *needle, size_t n)
{
    if (n == 0 || f->size < n)
        return n == 0;
    return memmem(f->payload, f->size, needle, n) != NULL;
}

static TU_UNUSED bool fb_payload_contains(const fb_frame *f, const char *needle)
{
    return fb_payload_contains_n(f, needle, strlen(needle));
}

/**
 * The server side of the handshake: protocol header, start/start-ok, tune/tune-ok, open/open-ok,
 * offering the SASL `mechanisms` (space-separated). `start_ok` and `tune_ok` (may be NULL) receive
 * the client's connection.start-ok and tune-ok frames for inspection (free their payloads).
 */
static TU_UNUSED void fb_handshake_mech(fb_peer *peer, const char *mechanisms, uint16_t channel_max,
                                        uint32_t frame_max, uint16_t heartbeat, fb_frame *start_ok,
                                        fb_frame *tune_ok)
{
    uint8_t header[8];
    CHECK(fb_read_exact(peer, header, 8, tu_now_ms() + 10000), "fake broker: no protocol header from the client");
    CHECK(memcmp(header, "AMQP\x00\x00\x09\x01", 8) == 0, "fake broker: protocol header %02x %02x %02x %02x "
          "%02x %02x %02x %02x", header[0], header[1], header[2], header[3], header[4], header[5], header[6], header[7]);

    fb_buf a;
    a.len = 0;
    fb_u8(&a, 0);
    fb_u8(&a, 9);
    /* server-properties: {product: "fake_broker"} */
    fb_buf t;
    t.len = 0;
    fb_shortstr(&t, "product");
    fb_u8(&t, 'S');
    fb_longstr(&t, "fake_broker", 11);
    fb_longstr(&a, t.data, t.len);
    fb_longstr(&a, mechanisms, strlen(mechanisms));
    fb_longstr(&a, "en_US", 5);
    fb_send_method(peer, 0, 10, 10, &a);

    fb_frame local;
    memset(&local, 0, sizeof local);
    fb_frame *f = start_ok ? start_ok : &local;
    fb_expect_method(peer, f, 0, 10, 11, 10000);

    a.len = 0;
    fb_u16(&a, channel_max);
    fb_u32(&a, frame_max);
    fb_u16(&a, heartbeat);
    fb_send_method(peer, 0, 10, 30, &a);

    fb_frame g;
    memset(&g, 0, sizeof g);
    fb_expect_method(peer, tune_ok ? tune_ok : &g, 0, 10, 31, 10000);
    fb_expect_method(peer, &g, 0, 10, 40, 10000);
    a.len = 0;
    fb_shortstr(&a, "");
    fb_send_method(peer, 0, 10, 41, &a);
    free(g.payload);
    if (f == &local)
        free(local.payload);
}

static TU_UNUSED void fb_handshake(fb_peer *peer, uint16_t channel_max, uint32_t frame_max, uint16_t heartbeat,
                                   fb_frame *start_ok)
{
    fb_handshake_mech(peer, "PLAIN AMQPLAIN", channel_max, frame_max, heartbeat, start_ok, NULL);
}

/** Answers the client's channel.open on `channel`. */
static TU_UNUSED void fb_accept_channel(fb_peer *peer, uint16_t channel)
{
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(peer, &f, channel, 20, 10, 10000);
    fb_buf a;
    a.len = 0;
    fb_longstr(&a, "", 0);
    fb_send_method(peer, channel, 20, 11, &a);
    free(f.payload);
}

/** Reads one basic.publish with its header and body frames; returns the body size. */
static TU_UNUSED uint64_t fb_expect_publish(fb_peer *peer, uint16_t channel, int timeout_ms)
{
    fb_frame f;
    memset(&f, 0, sizeof f);
    fb_expect_method(peer, &f, channel, 60, 40, timeout_ms);
    for (;;) {
        CHECK(fb_read_frame(peer, &f, timeout_ms), "fake broker: no content header after basic.publish");
        if (f.type != 8)
            break;
    }
    CHECK(f.type == 2 && f.channel == channel && f.size >= 14, "fake broker: expected a content header, got "
          "type %u channel %u size %" PRIu32, f.type, f.channel, f.size);
    uint64_t size = fb_get64(f.payload + 4), got = 0;
    while (got < size) {
        CHECK(fb_read_frame(peer, &f, timeout_ms), "fake broker: body frames missing (%" PRIu64 " of %" PRIu64 ")",
              got, size);
        if (f.type == 8)
            continue;
        CHECK(f.type == 3 && f.channel == channel, "fake broker: expected a body frame, got type %u", f.type);
        got += f.size;
    }
    CHECK(got == size, "fake broker: body frames carry %" PRIu64 " bytes, header said %" PRIu64, got, size);
    free(f.payload);
    return size;
}

/** basic.ack (multiple) or basic.nack from the "broker" for a confirm-mode channel. */
static TU_UNUSED void fb_send_confirm(fb_peer *peer, uint16_t channel, bool ack, uint64_t tag, bool multiple)
{
    fb_buf a;
    a.len = 0;
    fb_u64(&a, tag);
    fb_u8(&a, multiple ? 1 : 0);
    fb_send_method(peer, channel, 60, ack ? 80 : 120, &a);
}

/**
 * Runs one scenario `fn` in a child process with a 60 s alarm, so a trap, a hang or a failed CHECK
 * fails that scenario only; prints PASS/FAILED and returns 1 on failure.
 */
static TU_UNUSED int fb_run_scenario(const char *name, void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(60);
        fn();
        fflush(NULL);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "  %s died of signal %d\n", name, WTERMSIG(status));
    fprintf(stderr, "%s %s\n", ok ? "PASS" : "FAILED", name);
    return ok ? 0 : 1;
}

#endif /* SWIFTAMQP_FAKE_BROKER_H */
