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
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_MAX 131072u
#define MAX_CHANNELS 256
#define IN_CAP (1u << 20)
#define STREAM_CHUNK (256u * 1024u) /* bytes of deliveries encoded per refill */

static volatile sig_atomic_t stopping;
static void on_signal(int s) { (void)s; stopping = 1; }

static void die(const char *what) {
    perror(what);
    exit(1);
}

/* ---- output buffer ---- */
typedef struct buf {
    unsigned char *p;
    size_t len, off, cap; /* bytes [off, len) are pending */
} buf;

static void buf_reserve(buf *b, size_t more) {
    if (b->off && b->off == b->len) b->off = b->len = 0;
    if (b->len + more <= b->cap) return;
    if (b->off) { /* compact */
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + more <= b->cap) return;
    }
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) die("realloc");
    b->cap = cap;
}
static void put(buf *b, const void *d, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}
static void put8(buf *b, uint8_t v) { put(b, &v, 1); }
static void put16(buf *b, uint16_t v) { v = htons(v); put(b, &v, 2); }
static void put32(buf *b, uint32_t v) { v = htonl(v); put(b, &v, 4); }
static void put64(buf *b, uint64_t v) { put32(b, (uint32_t)(v >> 32)); put32(b, (uint32_t)v); }
static void putshort(buf *b, const char *s, size_t n) { put8(b, (uint8_t)n); put(b, s, n); }
static void putlong(buf *b, const char *s) { size_t n = strlen(s); put32(b, (uint32_t)n); put(b, s, n); }
static void set32(unsigned char *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }
static void set64(unsigned char *p, uint64_t v) { set32(p, (uint32_t)(v >> 32)); set32(p + 4, (uint32_t)v); }

/* A method frame: begin writes the header with a placeholder size, end fills it in. */
static size_t frame_begin(buf *b, uint8_t type, uint16_t channel) {
    put8(b, type);
    put16(b, channel);
    put32(b, 0);
    return b->len;
}
static void frame_end(buf *b, size_t start) {
    set32(b->p + start - 4, (uint32_t)(b->len - start));
    put8(b, 0xCE);
}
static size_t method_begin(buf *b, uint16_t channel, uint16_t cls, uint16_t mth) {
    size_t s = frame_begin(b, 1, channel);
    put16(b, cls);
    put16(b, mth);
    return s;
}

/* ---- input parsing ---- */
typedef struct rd {
    const unsigned char *p, *end;
    int bad;
} rd;
static uint8_t get8(rd *r) { if (r->end - r->p < 1) { r->bad = 1; return 0; } return *r->p++; }
static uint16_t get16(rd *r) { uint16_t v = (uint16_t)(get8(r) << 8); return v | get8(r); }
static uint32_t get32(rd *r) { uint32_t v = (uint32_t)get16(r) << 16; return v | get16(r); }
static uint64_t get64(rd *r) { uint64_t v = (uint64_t)get32(r) << 32; return v | get32(r); }
static size_t getshort(rd *r, char *out) { /* out: 256 bytes */
    size_t n = get8(r);
    if ((size_t)(r->end - r->p) < n) { r->bad = 1; return 0; }
    memcpy(out, r->p, n);
    out[n] = 0;
    r->p += n;
    return n;
}

/* ---- per connection state ---- */
typedef struct channel_state {
    int open, confirm;
    uint64_t publish_seq, acked_seq;
    int consuming, no_ack;
    char tag[256];
    size_t tag_len;
    uint64_t delivery_tag;
} channel_state;

typedef struct conn_state {
    int fd;
    int got_header, closing;
    unsigned char *in;
    size_t in_len;
    buf out;
    channel_state ch[MAX_CHANNELS];
    /* the queue */
    char qname[256];
    uint64_t stored;       /* publishes swallowed and not yet delivered */
    uint64_t last_size;    /* body size of the last publish */
    int expect_header;     /* after a basic.publish: its content header, then body bytes */
    uint16_t pub_channel;
    uint64_t body_left;
    int echo_pending;      /* the publish being read is echoed to a consumer */
    /* streaming */
    uint64_t to_stream;    /* deliveries still to encode */
    uint16_t stream_channel;
    unsigned char *tmpl;   /* one delivery: method + header + body frames */
    size_t tmpl_len, tag_off;
    uint64_t tmpl_size;
    unsigned long gen_queue;
} conn_state;

static unsigned long counter;
static uint64_t preload_count, preload_size;

static void send_start(conn_state *c) {
    buf *b = &c->out;
    size_t s = method_begin(b, 0, 10, 10);
    put8(b, 0);
    put8(b, 9);
    /* server properties */
    buf t = {0};
    putshort(&t, "product", 7); put8(&t, 'S'); putlong(&t, "nullbroker");
    putshort(&t, "version", 7); put8(&t, 'S'); putlong(&t, "0.0");
    buf caps = {0};
    static const char *names[] = {"publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                                  "consumer_cancel_notify", "connection.blocked", "authentication_failure_close",
                                  "per_consumer_qos", "direct_reply_to"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        putshort(&caps, names[i], strlen(names[i]));
        put8(&caps, 't');
        put8(&caps, 1);
    }
    putshort(&t, "capabilities", 12);
    put8(&t, 'F');
    put32(&t, (uint32_t)caps.len);
    put(&t, caps.p, caps.len);
    put32(b, (uint32_t)t.len);
    put(b, t.p, t.len);
    free(t.p);
    free(caps.p);
    putlong(b, "PLAIN AMQPLAIN");
    putlong(b, "en_US");
    frame_end(b, s);
}

static void simple_reply(conn_state *c, uint16_t channel, uint16_t cls, uint16_t mth) {
    size_t s = method_begin(&c->out, channel, cls, mth);
    frame_end(&c->out, s);
}

/* Encodes one delivery (method, header, body frames) as the template for streaming and echoes. */
static void build_template(conn_state *c, uint16_t channel, uint64_t size) {
    channel_state *st = &c->ch[channel];
    buf b = {0};
    size_t s = method_begin(&b, channel, 60, 60);
    putshort(&b, st->tag, st->tag_len);
    c->tag_off = b.len;
    put64(&b, 0);
    put8(&b, 0);          /* redelivered */
    putshort(&b, "", 0);  /* exchange */
    putshort(&b, c->qname, strlen(c->qname));
    frame_end(&b, s);
    s = frame_begin(&b, 2, channel);
    put16(&b, 60);
    put16(&b, 0);
    put64(&b, size);
    put16(&b, 0);         /* no properties */
    frame_end(&b, s);
    uint64_t left = size;
    while (left) {
        uint64_t n = left < FRAME_MAX - 8 ? left : FRAME_MAX - 8;
        s = frame_begin(&b, 3, channel);
        buf_reserve(&b, n);
        memset(b.p + b.len, 'x', n);
        b.len += n;
        frame_end(&b, s);
        left -= n;
    }
    free(c->tmpl);
    c->tmpl = b.p;
    c->tmpl_len = b.len;
    c->tmpl_size = size;
    c->stream_channel = channel;
}

static void put_delivery(conn_state *c) {
    channel_state *st = &c->ch[c->stream_channel];
    set64(c->tmpl + c->tag_off, ++st->delivery_tag);
    put(&c->out, c->tmpl, c->tmpl_len);
}

static int consumer_channel(conn_state *c) {
    for (int i = 1; i < MAX_CHANNELS; i++)
        if (c->ch[i].open && c->ch[i].consuming) return i;
    return 0;
}

static void on_method(conn_state *c, uint16_t channel, rd *r) {
    uint16_t cls = get16(r), mth = get16(r);
    if (r->bad) return;
    if (channel >= MAX_CHANNELS) {
        fprintf(stderr, "nullbroker: channel %u beyond %d\n", channel, MAX_CHANNELS);
        c->closing = 1;
        return;
    }
    channel_state *st = &c->ch[channel];
    char s1[256], s2[256];
    uint32_t id = (uint32_t)cls << 16 | mth;
    switch (id) {
    case 10 << 16 | 11: { /* start-ok */
        size_t s = method_begin(&c->out, 0, 10, 30);
        put16(&c->out, 2047);
        put32(&c->out, FRAME_MAX);
        put16(&c->out, 0);
        frame_end(&c->out, s);
        break;
    }
    case 10 << 16 | 31: break; /* tune-ok */
    case 10 << 16 | 40: {      /* open */
        size_t s = method_begin(&c->out, 0, 10, 41);
        putshort(&c->out, "", 0);
        frame_end(&c->out, s);
        break;
    }
    case 10 << 16 | 50: /* close */
        simple_reply(c, 0, 10, 51);
        c->closing = 1;
        break;
    case 10 << 16 | 51: c->closing = 1; break;
    case 20 << 16 | 10: { /* channel.open */
        memset(st, 0, sizeof *st);
        st->open = 1;
        size_t s = method_begin(&c->out, channel, 20, 11);
        put32(&c->out, 0);
        frame_end(&c->out, s);
        break;
    }
    case 20 << 16 | 40: /* channel.close */
        simple_reply(c, channel, 20, 41);
        memset(st, 0, sizeof *st);
        if (c->stream_channel == channel) c->to_stream = 0;
        break;
    case 20 << 16 | 41: memset(st, 0, sizeof *st); break;
    case 40 << 16 | 10: { /* exchange.declare */
        get16(r); getshort(r, s1); getshort(r, s2);
        uint8_t bits = get8(r);
        if (!(bits & 16)) simple_reply(c, channel, 40, 11);
        break;
    }
    case 40 << 16 | 20: { /* exchange.delete */
        get16(r); getshort(r, s1);
        if (!(get8(r) & 4)) simple_reply(c, channel, 40, 21);
        break;
    }
    case 50 << 16 | 10: { /* queue.declare */
        get16(r);
        size_t n = getshort(r, s1);
        uint8_t bits = get8(r);
        if (n == 0) {
            snprintf(s1, sizeof s1, "nullq.%lu", ++counter);
            n = strlen(s1);
        }
        memcpy(c->qname, s1, n + 1);
        if (bits & 16) break; /* nowait */
        size_t s = method_begin(&c->out, channel, 50, 11);
        putshort(&c->out, s1, n);
        put32(&c->out, (uint32_t)c->stored);
        put32(&c->out, consumer_channel(c) ? 1 : 0);
        frame_end(&c->out, s);
        break;
    }
    case 50 << 16 | 20: { /* queue.bind */
        get16(r); getshort(r, s1); getshort(r, s1); getshort(r, s1);
        if (!(get8(r) & 1)) simple_reply(c, channel, 50, 21);
        break;
    }
    case 50 << 16 | 50: simple_reply(c, channel, 50, 51); break; /* queue.unbind */
    case 50 << 16 | 30:                                          /* queue.purge */
    case 50 << 16 | 40: { /* queue.delete */
        get16(r); getshort(r, s1);
        uint8_t bits = get8(r);
        uint64_t n = c->stored;
        c->stored = 0;
        if (bits & (id == (50 << 16 | 30) ? 1 : 4)) break;
        size_t s = method_begin(&c->out, channel, 50, id == (50 << 16 | 30) ? 31 : 41);
        put32(&c->out, (uint32_t)n);
        frame_end(&c->out, s);
        break;
    }
    case 60 << 16 | 10: simple_reply(c, channel, 60, 11); break; /* basic.qos */
    case 60 << 16 | 20: { /* basic.consume */
        get16(r); getshort(r, s1);
        size_t n = getshort(r, s2);
        uint8_t bits = get8(r);
        if (r->bad) return;
        if (n == 0) {
            snprintf(s2, sizeof s2, "nullbroker.ctag-%lu", ++counter);
            n = strlen(s2);
        }
        memcpy(st->tag, s2, n + 1);
        st->tag_len = n;
        st->consuming = 1;
        st->no_ack = (bits & 2) != 0;
        if (!(bits & 8)) {
            size_t s = method_begin(&c->out, channel, 60, 21);
            putshort(&c->out, s2, n);
            frame_end(&c->out, s);
        }
        build_template(c, channel, c->last_size);
        c->to_stream = c->stored;
        c->stored = 0;
        break;
    }
    case 60 << 16 | 30: { /* basic.cancel: consumer-tag, no-wait (no reserved short, unlike consume) */
        size_t n = getshort(r, s1);
        uint8_t bits = get8(r);
        st->consuming = 0;
        if (c->stream_channel == channel) c->to_stream = 0;
        if (!(bits & 1)) {
            size_t s = method_begin(&c->out, channel, 60, 31);
            putshort(&c->out, s1, n);
            frame_end(&c->out, s);
        }
        break;
    }
    case 60 << 16 | 40: /* basic.publish: its header and body follow */
        c->expect_header = 1;
        c->pub_channel = channel;
        break;
    case 60 << 16 | 80: case 60 << 16 | 90: case 60 << 16 | 120: break; /* ack, reject, nack */
    case 85 << 16 | 10: /* confirm.select */
        st->confirm = 1;
        if (!(get8(r) & 1)) simple_reply(c, channel, 85, 11);
        break;
    case 90 << 16 | 10: simple_reply(c, channel, 90, 11); break;
    case 90 << 16 | 20: simple_reply(c, channel, 90, 21); break;
    case 90 << 16 | 30: simple_reply(c, channel, 90, 31); break;
    default:
        fprintf(stderr, "nullbroker: ignoring method %u.%u on channel %u\n", cls, mth, channel);
    }
}

/* A whole publish was read: count it, or echo it to a consumer. */
static void on_publish_done(conn_state *c) {
    if (c->ch[c->pub_channel].confirm) c->ch[c->pub_channel].publish_seq++;
    int cc = consumer_channel(c);
    if (cc) {
        if (c->stream_channel != cc || c->tmpl_size != c->last_size || !c->tmpl) build_template(c, (uint16_t)cc, c->last_size);
        put_delivery(c);
    } else {
        c->stored++;
    }
}

/* Parses every complete frame in the input buffer; returns bytes consumed, -1 on a protocol error. */
static long parse(conn_state *c) {
    size_t off = 0;
    if (!c->got_header) {
        if (c->in_len < 8) return 0;
        if (memcmp(c->in, "AMQP", 4)) return -1;
        c->got_header = 1;
        send_start(c);
        off = 8;
    }
    while (c->in_len - off >= 7) {
        const unsigned char *f = c->in + off;
        uint8_t type = f[0];
        uint16_t channel = (uint16_t)(f[1] << 8 | f[2]);
        uint32_t size = (uint32_t)f[3] << 24 | (uint32_t)f[4] << 16 | (uint32_t)f[5] << 8 | f[6];
        if (size > FRAME_MAX) return -1;
        if (c->in_len - off < (size_t)size + 8) break;
        if (f[7 + size] != 0xCE) return -1;
        rd r = {f + 7, f + 7 + size, 0};
        switch (type) {
        case 1:
            on_method(c, channel, &r);
            break;
        case 2:
            if (c->expect_header) {
                get16(&r); get16(&r);
                c->body_left = get64(&r);
                c->last_size = c->body_left;
                c->expect_header = 0;
                if (c->body_left == 0) on_publish_done(c);
            }
            break;
        case 3:
            if (c->body_left) {
                c->body_left -= size < c->body_left ? size : c->body_left;
                if (!c->body_left) on_publish_done(c);
            }
            break;
        default: /* 8: heartbeat */
            break;
        }
        off += (size_t)size + 8;
        if (c->closing) break;
    }
    return (long)off;
}

static void confirm_acks(conn_state *c) {
    for (int i = 1; i < MAX_CHANNELS; i++) {
        channel_state *st = &c->ch[i];
        if (st->open && st->confirm && st->publish_seq > st->acked_seq) {
            size_t s = method_begin(&c->out, (uint16_t)i, 60, 80);
            put64(&c->out, st->publish_seq);
            put8(&c->out, 1);
            frame_end(&c->out, s);
            st->acked_seq = st->publish_seq;
        }
    }
}

static void refill_stream(conn_state *c) {
    size_t budget = STREAM_CHUNK;
    while (c->to_stream && c->out.len - c->out.off < budget) {
        put_delivery(c);
        c->to_stream--;
    }
}

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
