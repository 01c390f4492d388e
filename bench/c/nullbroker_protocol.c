/*
 * nullbroker_protocol.c — the null broker's AMQP side (nullbroker.c says what the program does):
 * parsing the frames a client sends, the replies to its methods (connection.start first), the
 * queue modelled as a counter, the delivery template streamed to a consumer or echoed on publish,
 * and the confirms.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "nullbroker.h"

static unsigned long counter;

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
long parse(conn_state *c) {
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

void confirm_acks(conn_state *c) {
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

void refill_stream(conn_state *c) {
    size_t budget = STREAM_CHUNK;
    while (c->to_stream && c->out.len - c->out.off < budget) {
        put_delivery(c);
        c->to_stream--;
    }
}
