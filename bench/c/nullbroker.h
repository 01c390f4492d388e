/*
 * nullbroker.h — what the null broker's two source files share (nullbroker.c says what the
 * program does): its limits, the output buffer with the frame encoders, the input reader, the
 * state of a connection and its channels, and the calls nullbroker.c makes into
 * nullbroker_protocol.c. The encoders and the reader are static inline, so they stay inlined in
 * both files.
 */
#ifndef NULLBROKER_H
#define NULLBROKER_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MAX 131072u
#define MAX_CHANNELS 256
#define IN_CAP (1u << 20)
#define STREAM_CHUNK (256u * 1024u) /* bytes of deliveries encoded per refill */

void die(const char *what); /* perror(what), exit 1 */

/* ---- output buffer ---- */
typedef struct buf {
    unsigned char *p;
    size_t len, off, cap; /* bytes [off, len) are pending */
} buf;

static inline void buf_reserve(buf *b, size_t more) {
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
static inline void put(buf *b, const void *d, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}
static inline void put8(buf *b, uint8_t v) { put(b, &v, 1); }
static inline void put16(buf *b, uint16_t v) { v = htons(v); put(b, &v, 2); }
static inline void put32(buf *b, uint32_t v) { v = htonl(v); put(b, &v, 4); }
static inline void put64(buf *b, uint64_t v) { put32(b, (uint32_t)(v >> 32)); put32(b, (uint32_t)v); }
static inline void putshort(buf *b, const char *s, size_t n) { put8(b, (uint8_t)n); put(b, s, n); }
static inline void putlong(buf *b, const char *s) { size_t n = strlen(s); put32(b, (uint32_t)n); put(b, s, n); }
static inline void set32(unsigned char *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }
static inline void set64(unsigned char *p, uint64_t v) { set32(p, (uint32_t)(v >> 32)); set32(p + 4, (uint32_t)v); }

/* A method frame: begin writes the header with a placeholder size, end fills it in. */
static inline size_t frame_begin(buf *b, uint8_t type, uint16_t channel) {
    put8(b, type);
    put16(b, channel);
    put32(b, 0);
    return b->len;
}
static inline void frame_end(buf *b, size_t start) {
    set32(b->p + start - 4, (uint32_t)(b->len - start));
    put8(b, 0xCE);
}
static inline size_t method_begin(buf *b, uint16_t channel, uint16_t cls, uint16_t mth) {
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
static inline uint8_t get8(rd *r) { if (r->end - r->p < 1) { r->bad = 1; return 0; } return *r->p++; }
static inline uint16_t get16(rd *r) { uint16_t v = (uint16_t)(get8(r) << 8); return v | get8(r); }
static inline uint32_t get32(rd *r) { uint32_t v = (uint32_t)get16(r) << 16; return v | get16(r); }
static inline uint64_t get64(rd *r) { uint64_t v = (uint64_t)get32(r) << 32; return v | get32(r); }
static inline size_t getshort(rd *r, char *out) { /* out: 256 bytes */
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

/* ---- nullbroker_protocol.c ---- */
long parse(conn_state *c);
void confirm_acks(conn_state *c);
void refill_stream(conn_state *c);

#endif
