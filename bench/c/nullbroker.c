/*
 * nullbroker — a minimal AMQP 0-9-1 peer on 127.0.0.1 that costs the client nothing to talk to,
 * so a client's own limit shows without RabbitMQ.
 *
 *   nullbroker [--port P] [--preload N --preload-size S]
 *       listens on 127.0.0.1:P (0, the default: a free port); prints "PORT=<n>" on stdout once ready.
 *       With --preload, every connection starts with N messages of S bytes in its queue, so a
 *       consumer can be measured without publishing them first.
 *
 * It serves one connection at a time, then the next, until SIGTERM/SIGINT. Any client works:
 * it performs the handshake (PLAIN or AMQPLAIN accepted unchecked, heartbeat 0, frame_max 131072)
 * and answers the synchronous methods the benchmarks use (channel open/close, exchange and queue
 * declare, bind, purge, delete, basic.qos, basic.consume/cancel, confirm.select, tx) with their
 * -ok. It models one queue as a counter:
 *   - a basic.publish with no consumer is swallowed and counted (its body size remembered);
 *     queue.declare reports the count as message_count, so a client's "publish then check the
 *     count" sees its publishes arrive;
 *   - basic.consume streams every counted message as pre-encoded basic.deliver + header + body
 *     frames, as fast as the socket takes them (acks are read and ignored); later publishes are
 *     echoed at once as deliveries (round trips);
 *   - a channel in confirm mode gets one basic.ack (multiple) per read batch covering every publish
 *     read so far.
 * Everything else (heartbeats, acks, nacks, rejects) is read and ignored. Its CPU is not the
 * client's: it runs in its own process.
 *
 * Files: nullbroker.c (this one: the options, the listening socket, one connection's poll loop),
 * nullbroker_protocol.c (the frames and methods), nullbroker.h (what they share).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nullbroker.h"

static volatile sig_atomic_t stopping;
static void on_signal(int s) { (void)s; stopping = 1; }

void die(const char *what) {
    perror(what);
    exit(1);
}

static uint64_t preload_count, preload_size;

static void serve(int fd) {
    conn_state *c = calloc(1, sizeof *c);
    if (!c) die("calloc");
    c->fd = fd;
    c->stored = preload_count;
    c->last_size = preload_size;
    c->in = malloc(IN_CAP + FRAME_MAX + 16);
    if (!c->in) die("malloc");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (;;) {
        if (stopping) break;
        refill_stream(c);
        int want_out = c->out.len > c->out.off;
        if (c->closing && !want_out) break;
        struct pollfd p = {fd, POLLIN | (want_out ? POLLOUT : 0), 0};
        int n = poll(&p, 1, 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = recv(fd, c->in + c->in_len, IN_CAP + FRAME_MAX + 8 - c->in_len, MSG_DONTWAIT);
            if (got == 0) break;
            if (got < 0) {
                if (errno != EAGAIN && errno != EINTR) break;
            } else {
                c->in_len += (size_t)got;
                long used = parse(c);
                if (used < 0) {
                    fprintf(stderr, "nullbroker: protocol error, closing\n");
                    break;
                }
                memmove(c->in, c->in + used, c->in_len - (size_t)used);
                c->in_len -= (size_t)used;
                confirm_acks(c);
            }
        }
        if (c->out.len > c->out.off) {
            refill_stream(c);
            ssize_t sent = send(fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (sent < 0) {
                if (errno != EAGAIN && errno != EINTR) break;
            } else {
                c->out.off += (size_t)sent;
            }
        }
    }
    close(fd);
    free(c->in);
    free(c->out.p);
    free(c->tmpl);
    free(c);
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--preload") && i + 1 < argc) preload_count = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--preload-size") && i + 1 < argc) preload_size = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--port P] [--preload N --preload-size S]\n", argv[0]);
            return 2;
        }
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) die("socket");
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(ls, 16) < 0) die("listen");
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    printf("PORT=%u\n", ntohs(a.sin_port));
    fflush(stdout);
    while (!stopping) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            die("accept");
        }
        serve(fd);
    }
    close(ls);
    return 0;
}
