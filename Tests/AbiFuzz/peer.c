/*
 * The ABI fuzzer's fake broker: one thread per connection, on the broker's end of a socketpair
 * whose other end the client adopted (swamqp_connection_options.socket_fd).
 *
 * It plays the handshake as its configuration says (af_peer_config.mode), then answers every
 * synchronous request the client sends. How it answers is read from its script, one byte per
 * request (more for details): mostly the right reply, sometimes silence, a channel.close or
 * connection.close instead, a reply that belongs to another request, a reply on another channel,
 * a frame cut in the middle followed by EOF, or the reply plus an unrequested delivery. Past the
 * script's end, and while forced (af_peer_force_answers), it answers right. Publishes on a channel
 * in confirm mode are acked, nacked (singly or with multiple) or left unconfirmed the same way.
 *
 * Injections (af_peer_inject, from the harness's thread) send what a broker may send unprompted:
 * deliveries and returns whose content headers announce huge bodies, confirms with made-up tags,
 * channel.close, connection.close, connection.blocked, channel.flow, consumer cancels, heartbeats
 * on the wrong channel, frames whose size field is absurd, bare content frames, noise, EOF.
 *
 * It also checks what the client sends (an oracle): the protocol header, frame types, the frame
 * end byte, sizes within the negotiated frame_max, heartbeats on channel 0, and content frames only
 * where content is due with the size the header announced. A broken rule is a violation.
 */
#include "abi_fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a growable frame buffer ------------------------------------------------------------------ */

typedef struct fbuf {
    uint8_t *d;
    size_t len, cap;
} fbuf;

static void fb_reserve(fbuf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *d = realloc(b->d, cap);
    if (d == NULL)
        abort();
    b->d = d;
    b->cap = cap;
}
static void fb_put(fbuf *b, const void *p, size_t n)
{
    fb_reserve(b, n);
    if (n)
        memcpy(b->d + b->len, p, n);
    b->len += n;
}
static void fb_zero(fbuf *b, size_t n)
{
    fb_reserve(b, n);
    memset(b->d + b->len, 0x5a, n);
    b->len += n;
}
static void fb_u8(fbuf *b, uint8_t v) { fb_put(b, &v, 1); }
static void fb_u16(fbuf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    fb_put(b, x, 2);
}
static void fb_u32(fbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    fb_put(b, x, 4);
}
static void fb_u64(fbuf *b, uint64_t v)
{
    fb_u32(b, (uint32_t)(v >> 32));
    fb_u32(b, (uint32_t)v);
}
static void fb_ss(fbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > 255)
        n = 255;
    fb_u8(b, (uint8_t)n);
    fb_put(b, s, n);
}
static void fb_ls(fbuf *b, const void *p, size_t n)
{
    fb_u32(b, (uint32_t)n);
    fb_put(b, p, n);
}
static void fb_free(fbuf *b)
{
    free(b->d);
    b->d = NULL;
    b->len = b->cap = 0;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* Frame envelope around a payload written by `fill` into `b` after a reserved 7-byte header. */
static size_t frame_begin(fbuf *b, uint8_t type, uint16_t channel)
{
    size_t at = b->len;
    fb_u8(b, type);
    fb_u16(b, channel);
    fb_u32(b, 0);
    return at;
}
static void frame_end(fbuf *b, size_t at)
{
    uint32_t size = (uint32_t)(b->len - at - 7);
    uint8_t *p = b->d + at + 3;
    p[0] = (uint8_t)(size >> 24), p[1] = (uint8_t)(size >> 16), p[2] = (uint8_t)(size >> 8), p[3] = (uint8_t)size;
    fb_u8(b, 0xCE);
}
static size_t method_begin(fbuf *b, uint16_t channel, uint16_t cls, uint16_t mth)
{
    size_t at = frame_begin(b, 1, channel);
    fb_u16(b, cls);
    fb_u16(b, mth);
    return at;
}

/* ---- the peer ---------------------------------------------------------------------------------- */

#define AF_PEER_CHANNELS 32
#define AF_MAX_CLIENT_FRAME (64u << 20)

typedef struct chan_state {
    bool used;
    uint16_t number;
    bool confirm;
    uint64_t published;   /* publishes whose content completed (the confirm sequence) */
    int content;          /* 0 none, 1 header due, 2 body due */
    uint64_t body_left;
    bool content_is_publish;
} chan_state;

struct af_peer {
    int fd;
    pthread_t thread;
    pthread_mutex_t wlock; /* one writer at a time; also guards the protocol state below */
    af_peer_config cfg;
    uint8_t *script;
    size_t script_len, script_pos;
    atomic_bool stop, dead, force, cut;
    atomic_uint frame_max;   /* from the client's tune-ok; 0 before */
    atomic_ullong frames;
    bool header_seen;
    chan_state chans[AF_PEER_CHANNELS];
    char ctag[256];
    uint64_t next_tag;
    unsigned gen;
    uint8_t *rbuf;
    size_t rlen, rcap;
};

static chan_state *chan(af_peer *p, uint16_t number, bool create)
{
    chan_state *free_slot = NULL;
    for (int i = 0; i < AF_PEER_CHANNELS; i++) {
        if (p->chans[i].used && p->chans[i].number == number)
            return &p->chans[i];
        if (!p->chans[i].used && free_slot == NULL)
            free_slot = &p->chans[i];
    }
    if (!create || free_slot == NULL)
        return NULL;
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->used = true;
    free_slot->number = number;
    return free_slot;
}

void af_peer_cut(af_peer *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->cut, true);
    atomic_store(&p->dead, true);
    shutdown(p->fd, SHUT_RDWR);
}

bool af_peer_dead(af_peer *p) { return p == NULL || atomic_load(&p->dead); }
void af_peer_force_answers(af_peer *p, bool on)
{
    if (p)
        atomic_store(&p->force, on);
}
uint64_t af_peer_frames_read(af_peer *p) { return p ? atomic_load(&p->frames) : 0; }

void af_peer_last_consumer_tag(af_peer *p, char out[256])
{
    out[0] = 0;
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->wlock);
    memcpy(out, p->ctag, 256);
    pthread_mutex_unlock(&p->wlock);
}

/* Writes all of `n` bytes within a bounded time (the client may have stopped reading: its event
 * queue is full). Caller holds wlock. A write that cannot finish ends the connection. */
static bool raw_write(af_peer *p, const uint8_t *d, size_t n)
{
    if (atomic_load(&p->dead))
        return false;
    uint64_t deadline = af_now_ms() + 200;
    while (n > 0) {
        ssize_t w = send(p->fd, d, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            d += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int64_t left = (int64_t)(deadline - af_now_ms());
            if (left > 0 && !atomic_load(&p->stop)) {
                struct pollfd pf = {p->fd, POLLOUT, 0};
                poll(&pf, 1, (int)(left < 20 ? left : 20));
                continue;
            }
        }
        af_peer_cut(p);
        return false;
    }
    return true;
}

static void flush(af_peer *p, fbuf *b)
{
    if (b->len)
        raw_write(p, b->d, b->len);
    b->len = 0;
}

/* Writes the first `keep` bytes of `b` (at least 1, fewer than all) and ends the connection. */
static void flush_cut(af_peer *p, fbuf *b, size_t keep)
{
    if (b->len > 1) {
        keep = 1 + keep % (b->len - 1);
        raw_write(p, b->d, keep);
    }
    b->len = 0;
    af_peer_cut(p);
}

/* ---- content: a content header and body frames -------------------------------------------- */

static const uint64_t hostile_body_sizes[] = {
    0, 1, 5, 100, 4088, 4089, 131064, 131065, 1u << 20, 0x7fffffffu, 0x80000000u, 0xffffffffu,
    0x100000000ull, 1ull << 40, 1ull << 62, (1ull << 63) - 1, 1ull << 63, (1ull << 63) + 1,
    UINT64_MAX - 1, UINT64_MAX, 128u << 20, (128u << 20) + 1,
};

/* The 14 basic properties for the bits of `flags` (bit 15 content-type ... bit 2 cluster-id). */
static void put_properties(fbuf *b, uint16_t flags, af_reader *r)
{
    fb_u16(b, flags);
    for (int bit = 15; bit >= 2; bit--) {
        if (!(flags & (1u << bit)))
            continue;
        switch (bit) {
        case 13: { /* headers: a small table, sometimes broken */
            unsigned how = af_pick(r, 4);
            fbuf t = {0};
            if (how == 0) {
                fb_ss(&t, "x-int");
                fb_u8(&t, 'I');
                fb_u32(&t, af_u32(r));
                fb_ss(&t, "x-str");
                fb_u8(&t, 'S');
                fb_ls(&t, "value", 5);
                fb_ss(&t, "x-arr");
                fb_u8(&t, 'A');
                fb_u32(&t, 2 + 9);
                fb_u8(&t, 't');
                fb_u8(&t, 1);
                fb_u8(&t, 'l');
                fb_u64(&t, af_u64(r));
            } else if (how == 1) {
                fb_ss(&t, "k");
                fb_u8(&t, af_u8(r)); /* any tag */
                fb_u64(&t, af_u64(r));
            }
            uint32_t len = (uint32_t)t.len;
            if (how == 3)
                len = af_u32(r); /* a length that lies */
            fb_u32(b, len);
            fb_put(b, t.d, t.len);
            fb_free(&t);
            break;
        }
        case 12: case 11: fb_u8(b, af_u8(r)); break;
        case 6: fb_u64(b, af_u64(r)); break;
        default: {
            uint8_t n = af_u8(r);
            n = n > 200 ? 255 : n % 16;
            fb_u8(b, n);
            fb_zero(b, n);
        }
        }
    }
}

/* Appends a content header announcing a body size, then body frames. */
static void put_content(af_peer *p, fbuf *b, uint16_t channel, af_reader *r)
{
    unsigned sel = af_pick(r, 8);
    uint64_t size = sel < 3 ? af_u8(r) : sel < 7 ? hostile_body_sizes[af_pick(r, sizeof hostile_body_sizes / sizeof hostile_body_sizes[0])]
                                                : af_u64(r);
    size_t at = frame_begin(b, 2, channel);
    fb_u16(b, af_pick(r, 16) == 15 ? af_u16(r) : 60); /* class id */
    fb_u16(b, 0);
    fb_u64(b, size);
    uint16_t flags = af_pick(r, 3) == 0 ? 0 : (uint16_t)(af_u16(r) & 0xfffc);
    if (af_pick(r, 16) == 15)
        flags |= 1; /* a continuation flag word follows: ours is garbage */
    put_properties(b, flags, r);
    frame_end(b, at);
    uint32_t fm = atomic_load(&p->frame_max);
    uint64_t max_payload = fm >= 4096 ? fm - 8 : 131064;
    unsigned frames = af_pick(r, 4);
    uint64_t left = size;
    for (unsigned i = 0; i < frames && left > 0; i++) {
        uint64_t n = left < max_payload ? left : max_payload;
        if (n > (1u << 20))
            n = 1u << 20; /* a part of a huge body: the rest never comes */
        if (af_pick(r, 8) == 7)
            n = max_payload + 1 + af_u8(r); /* a body frame over frame_max */
        at = frame_begin(b, 3, channel);
        fb_zero(b, (size_t)n);
        frame_end(b, at);
        left -= n < left ? n : left;
    }
}

/* ---- replies -------------------------------------------------------------------------------- */

typedef struct args_reader {
    const uint8_t *p;
    size_t n, i;
    bool bad;
} args_reader;

static uint8_t ar_u8(args_reader *a)
{
    if (a->i + 1 > a->n) {
        a->bad = true;
        return 0;
    }
    return a->p[a->i++];
}
static void ar_skip(args_reader *a, size_t n)
{
    if (a->i + n > a->n) {
        a->bad = true;
        a->i = a->n;
    } else
        a->i += n;
}
static void ar_ss(args_reader *a, char out[256])
{
    uint8_t n = ar_u8(a);
    if (a->i + n > a->n) {
        a->bad = true;
        out[0] = 0;
        return;
    }
    memcpy(out, a->p + a->i, n);
    out[n] = 0;
    a->i += n;
}

static const uint16_t reply_methods[][2] = {
    {20, 11}, {20, 41}, {40, 11}, {40, 21}, {40, 31}, {40, 51}, {50, 11}, {50, 21}, {50, 31}, {50, 41},
    {50, 51}, {60, 11}, {60, 21}, {60, 31}, {60, 72}, {60, 111}, {85, 11}, {90, 11}, {90, 21}, {90, 31},
    {10, 71}, {10, 41}, {20, 21},
};

/* A well-formed reply method (with content for basic.get-ok). */
static void put_reply(af_peer *p, fbuf *b, uint16_t ch, uint16_t cls, uint16_t mth, const char *name, bool flag_arg,
                      af_reader *r)
{
    size_t at = method_begin(b, ch, cls, mth);
    switch (cls * 1000 + mth) {
    case 20011: fb_u32(b, 0); break;
    case 20021: fb_u8(b, flag_arg); break;
    case 50011: {
        char q[64];
        if (name && name[0])
            fb_ss(b, name);
        else {
            snprintf(q, sizeof q, "amq.gen-fuzz-%u", p->gen++);
            fb_ss(b, q);
        }
        fb_u32(b, af_pick(r, 4) == 3 ? af_u32(r) : 0);
        fb_u32(b, af_pick(r, 4) == 3 ? af_u32(r) : 0);
        break;
    }
    case 50031: case 50041: fb_u32(b, af_pick(r, 4) == 3 ? af_u32(r) : 3); break;
    case 60021: case 60031: {
        char t[64];
        if (name && name[0]) {
            fb_ss(b, name);
            if (mth == 21)
                snprintf(p->ctag, sizeof p->ctag, "%s", name);
        } else {
            snprintf(t, sizeof t, "amq.ctag-fuzz-%u", p->gen++);
            fb_ss(b, t);
            if (mth == 21)
                snprintf(p->ctag, sizeof p->ctag, "%s", t);
        }
        break;
    }
    case 60071:
        fb_u64(b, ++p->next_tag);
        fb_u8(b, 0);
        fb_ss(b, "");
        fb_ss(b, name ? name : "q");
        fb_u32(b, 0);
        frame_end(b, at);
        put_content(p, b, ch, r);
        return;
    case 60072: fb_ss(b, ""); break;
    case 10041: fb_ss(b, ""); break;
    default: break;
    }
    frame_end(b, at);
}

static void put_channel_close(fbuf *b, uint16_t ch, uint16_t cls, uint16_t mth, af_reader *r)
{
    static const uint16_t codes[] = {404, 406, 403, 405, 530, 541, 540, 0, 65535, 200};
    size_t at = method_begin(b, ch, ch == 0 ? 10 : 20, ch == 0 ? 50 : 40);
    fb_u16(b, codes[af_pick(r, sizeof codes / sizeof codes[0])]);
    fb_ss(b, af_bool(r) ? "" : "FUZZ - the fake broker closed it");
    fb_u16(b, cls);
    fb_u16(b, mth);
    frame_end(b, at);
}

static void put_connection_close(fbuf *b, af_reader *r)
{
    static const uint16_t codes[] = {320, 501, 503, 505, 530, 541, 0, 200, 403};
    size_t at = method_begin(b, 0, 10, 50);
    fb_u16(b, codes[af_pick(r, sizeof codes / sizeof codes[0])]);
    fb_ss(b, "CONNECTION_FORCED - fuzz");
    fb_u16(b, 0);
    fb_u16(b, 0);
    frame_end(b, at);
}

static void put_deliver(af_peer *p, fbuf *b, uint16_t ch, af_reader *r)
{
    size_t at = method_begin(b, ch, 60, 60);
    fb_ss(b, af_pick(r, 4) != 3 ? p->ctag : "amq.ctag-unknown");
    static const uint64_t tags[] = {0, 1, 2, UINT64_MAX, 1ull << 63, UINT32_MAX};
    fb_u64(b, af_pick(r, 3) != 2 ? ++p->next_tag : tags[af_pick(r, 6)]);
    fb_u8(b, af_u8(r) & 1);
    fb_ss(b, "");
    fb_ss(b, "rk");
    frame_end(b, at);
    put_content(p, b, ch, r);
}

/* The script's reader: decisions and their details come from the peer's own bytes. */
static af_reader script_reader(af_peer *p)
{
    if (atomic_load(&p->force) || p->script_pos >= p->script_len) {
        af_reader empty = {NULL, 0, 0};
        return empty;
    }
    af_reader r = {p->script + p->script_pos, p->script_len - p->script_pos, 0};
    return r;
}
static void script_consumed(af_peer *p, const af_reader *r)
{
    if (r->p != NULL)
        p->script_pos += r->i;
}

enum { ACT_ANSWER, ACT_SILENT, ACT_CHCLOSE, ACT_CONNCLOSE, ACT_WRONG, ACT_WRONG_CHANNEL, ACT_CUT, ACT_EXTRA };

static int decide(af_reader *r)
{
    uint8_t d = af_u8(r);
    if (d < 160)
        return ACT_ANSWER;
    return 1 + (d - 160) % 7;
}

/* Answers a synchronous request per the script. `reply` is its right reply method. */
static void respond(af_peer *p, uint16_t ch, uint16_t cls, uint16_t mth, uint16_t rcls, uint16_t rmth, const char *name,
                    bool flag_arg)
{
    af_reader r = script_reader(p);
    fbuf b = {0};
    int act = decide(&r);
    switch (act) {
    case ACT_ANSWER:
        put_reply(p, &b, ch, rcls, rmth, name, flag_arg, &r);
        break;
    case ACT_SILENT:
        break;
    case ACT_CHCLOSE:
        put_channel_close(&b, ch, cls, mth, &r);
        break;
    case ACT_CONNCLOSE:
        put_connection_close(&b, &r);
        break;
    case ACT_WRONG: {
        unsigned k = af_pick(&r, sizeof reply_methods / sizeof reply_methods[0]);
        put_reply(p, &b, ch, reply_methods[k][0], reply_methods[k][1], name, flag_arg, &r);
        break;
    }
    case ACT_WRONG_CHANNEL: {
        static const uint16_t others[] = {0, 1, 2, 65535};
        uint16_t other = af_pick(&r, 2) ? (uint16_t)(ch + 1) : others[af_pick(&r, 4)];
        put_reply(p, &b, other, rcls, rmth, name, flag_arg, &r);
        break;
    }
    case ACT_CUT:
        put_reply(p, &b, ch, rcls, rmth, name, flag_arg, &r);
        flush_cut(p, &b, af_u16(&r));
        break;
    case ACT_EXTRA:
        put_reply(p, &b, ch, rcls, rmth, name, flag_arg, &r);
        if (af_bool(&r))
            put_reply(p, &b, ch, rcls, rmth, name, flag_arg, &r);
        else
            put_deliver(p, &b, ch == 0 ? 1 : ch, &r);
        break;
    }
    script_consumed(p, &r);
    flush(p, &b);
    fb_free(&b);
}

/* ---- the handshake -------------------------------------------------------------------------- */

static void send_start(af_peer *p)
{
    fbuf b = {0};
    size_t at = method_begin(&b, 0, 10, 10);
    fb_u8(&b, p->cfg.version_major);
    fb_u8(&b, p->cfg.version_minor);
    fbuf t = {0}, caps = {0};
    static const char *names[] = {"publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                                  "consumer_cancel_notify", "connection.blocked", "authentication_failure_close"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        fb_ss(&caps, names[i]);
        fb_u8(&caps, 't');
        fb_u8(&caps, 1);
    }
    fb_ss(&t, "capabilities");
    fb_u8(&t, 'F');
    fb_ls(&t, caps.d, caps.len);
    fb_ss(&t, "product");
    fb_u8(&t, 'S');
    fb_ls(&t, "abi-fuzz peer", 13);
    fb_ls(&b, t.d, t.len);
    fb_ls(&b, p->cfg.mechanisms, strlen(p->cfg.mechanisms));
    fb_ls(&b, "en_US", 5);
    frame_end(&b, at);
    fb_free(&t);
    fb_free(&caps);
    if (p->cfg.mode == AF_HS_CUT_START)
        flush_cut(p, &b, b.len / 2);
    else
        flush(p, &b);
    fb_free(&b);
}

static void on_protocol_header(af_peer *p, const uint8_t *h)
{
    if (memcmp(h, "AMQP\x00\x00\x09\x01", 8) != 0) {
        /* TLS: the client says hello; we are no TLS server. */
        if (h[0] == 0x16) {
            af_peer_cut(p);
            return;
        }
        if (af_oracles)
            af_violation("the client sent protocol header %02x %02x %02x %02x %02x %02x %02x %02x", h[0], h[1],
                         h[2], h[3], h[4], h[5], h[6], h[7]);
    }
    fbuf b = {0};
    switch (p->cfg.mode) {
    case AF_HS_SILENT:
        break;
    case AF_HS_EOF:
        af_peer_cut(p);
        break;
    case AF_HS_BAD_HEADER:
        fb_put(&b, "AMQP\x00\x00\x09\x01", 8);
        flush(p, &b);
        af_peer_cut(p);
        break;
    case AF_HS_GARBAGE: {
        af_reader r = script_reader(p);
        uint8_t n = af_u8(&r);
        for (unsigned i = 0; i < n; i++)
            fb_u8(&b, af_u8(&r));
        script_consumed(p, &r);
        flush(p, &b);
        break;
    }
    default:
        send_start(p);
    }
    fb_free(&b);
}

/* ---- frames from the client ----------------------------------------------------------------- */

static void on_method(af_peer *p, uint16_t ch, const uint8_t *payload, uint32_t size)
{
    uint16_t cls = be16(payload), mth = be16(payload + 2);
    args_reader a = {payload + 4, size - 4, 0, false};
    char s1[256] = "", s2[256] = "";
    uint8_t bits = 0;
    chan_state *c = chan(p, ch, false);
    if (c && c->content != 0 && af_oracles)
        af_violation("the client sent method %u.%u on channel %u in the middle of a content (%s due)", cls, mth, ch,
                     c->content == 1 ? "header" : "body");
    switch (cls * 1000 + mth) {
    /* connection */
    case 10011: { /* start-ok */
        fbuf b = {0};
        af_reader r = script_reader(p);
        if (p->cfg.mode == AF_HS_CLOSE_AT_START_OK) {
            size_t at = method_begin(&b, 0, 10, 50);
            fb_u16(&b, 403);
            fb_ss(&b, "ACCESS_REFUSED - fuzz");
            fb_u16(&b, 10);
            fb_u16(&b, 11);
            frame_end(&b, at);
        } else if (p->cfg.mode == AF_HS_SECURE) {
            size_t at = method_begin(&b, 0, 10, 20);
            fb_ls(&b, "challenge", 9);
            frame_end(&b, at);
        } else {
            size_t at = method_begin(&b, 0, 10, 30);
            fb_u16(&b, p->cfg.channel_max);
            fb_u32(&b, p->cfg.frame_max);
            fb_u16(&b, p->cfg.heartbeat);
            frame_end(&b, at);
        }
        script_consumed(p, &r);
        flush(p, &b);
        fb_free(&b);
        return;
    }
    case 10031: /* tune-ok */
        if (size >= 4 + 8)
            atomic_store(&p->frame_max, be32(payload + 6));
        return;
    case 10040: /* open */
        if (p->cfg.mode == AF_HS_NO_OPEN_OK)
            return;
        if (p->cfg.mode == AF_HS_CHANNEL_MSG) {
            fbuf b = {0};
            af_reader r = script_reader(p);
            put_deliver(p, &b, 1, &r);
            script_consumed(p, &r);
            flush(p, &b);
            fb_free(&b);
        }
        respond(p, 0, cls, mth, 10, 41, NULL, false);
        return;
    case 10050: { /* close: close-ok, then EOF; often silence (the close must end at its timeout) */
        af_reader r = script_reader(p);
        uint8_t d = af_u8(&r);
        int act = d < 128 ? ACT_ANSWER : d < 224 ? ACT_SILENT : ACT_CUT;
        script_consumed(p, &r);
        if (act == ACT_SILENT)
            return;
        fbuf b = {0};
        size_t at = method_begin(&b, 0, 10, 51);
        frame_end(&b, at);
        if (act == ACT_CUT)
            flush_cut(p, &b, 3);
        else
            flush(p, &b);
        fb_free(&b);
        af_peer_cut(p);
        return;
    }
    case 10051: /* close-ok of our close */
        af_peer_cut(p);
        return;
    case 10070: respond(p, 0, cls, mth, 10, 71, NULL, false); return;
    case 10060: case 10061: return;
    /* channel */
    case 20010:
        c = chan(p, ch, true);
        if (c) {
            c->confirm = false;
            c->published = 0;
            c->content = 0;
        }
        respond(p, ch, cls, mth, 20, 11, NULL, false);
        return;
    case 20020: respond(p, ch, cls, mth, 20, 21, NULL, a.n > 0 ? (a.p[0] & 1) : false); return;
    case 20021: return;
    case 20040:
        if (c)
            c->used = false;
        respond(p, ch, cls, mth, 20, 41, NULL, false);
        return;
    case 20041:
        if (c)
            c->used = false;
        return;
    /* exchange */
    case 40010: ar_skip(&a, 2); ar_ss(&a, s1); ar_ss(&a, s2); bits = ar_u8(&a); if (bits & 16) return;
        respond(p, ch, cls, mth, 40, 11, NULL, false); return;
    case 40020: ar_skip(&a, 2); ar_ss(&a, s1); bits = ar_u8(&a); if (bits & 2) return;
        respond(p, ch, cls, mth, 40, 21, NULL, false); return;
    case 40030: case 40040: ar_skip(&a, 2); ar_ss(&a, s1); ar_ss(&a, s2); ar_ss(&a, s2); bits = ar_u8(&a);
        if (bits & 1) return;
        respond(p, ch, cls, mth, 40, mth == 30 ? 31 : 51, NULL, false); return;
    /* queue */
    case 50010: ar_skip(&a, 2); ar_ss(&a, s1); bits = ar_u8(&a); if (bits & 16) return;
        respond(p, ch, cls, mth, 50, 11, s1, false); return;
    case 50020: ar_skip(&a, 2); ar_ss(&a, s1); ar_ss(&a, s2); ar_ss(&a, s2); bits = ar_u8(&a); if (bits & 1) return;
        respond(p, ch, cls, mth, 50, 21, NULL, false); return;
    case 50030: ar_skip(&a, 2); ar_ss(&a, s1); bits = ar_u8(&a); if (bits & 1) return;
        respond(p, ch, cls, mth, 50, 31, NULL, false); return;
    case 50040: ar_skip(&a, 2); ar_ss(&a, s1); bits = ar_u8(&a); if (bits & 4) return;
        respond(p, ch, cls, mth, 50, 41, NULL, false); return;
    case 50050: respond(p, ch, cls, mth, 50, 51, NULL, false); return;
    /* basic */
    case 60010: respond(p, ch, cls, mth, 60, 11, NULL, false); return;
    case 60020: ar_skip(&a, 2); ar_ss(&a, s1); ar_ss(&a, s2); bits = ar_u8(&a); if (bits & 8) {
            snprintf(p->ctag, sizeof p->ctag, "%s", s2); /* nowait: the client named it */
            return;
        }
        respond(p, ch, cls, mth, 60, 21, s2, false); return;
    case 60030: ar_ss(&a, s1); bits = ar_u8(&a); if (bits & 1) return;
        respond(p, ch, cls, mth, 60, 31, s1, false); return;
    case 60070: { ar_skip(&a, 2); ar_ss(&a, s1);
        af_reader r = script_reader(p);
        bool empty = af_pick(&r, 3) == 2;
        script_consumed(p, &r);
        respond(p, ch, cls, mth, 60, empty ? 72 : 71, s1, false);
        return;
    }
    case 60110: respond(p, ch, cls, mth, 60, 111, NULL, false); return;
    case 60040: case 60050: case 60060: case 60071: /* content follows */
        c = chan(p, ch, true);
        if (c) {
            c->content = 1;
            c->content_is_publish = mth == 40;
        }
        return;
    /* confirm, tx */
    case 85010:
        bits = ar_u8(&a);
        if (c)
            c->confirm = true;
        if (bits & 1)
            return;
        respond(p, ch, cls, mth, 85, 11, NULL, false);
        return;
    case 90010: case 90020: case 90030: respond(p, ch, cls, mth, 90, mth + 1, NULL, false); return;
    default:
        return; /* acks, rejects, recover-async, raw methods: no reply */
    }
}

/* A publish's content is complete: confirm it per the script. */
static void on_published(af_peer *p, chan_state *c)
{
    c->published++;
    if (!c->confirm)
        return;
    af_reader r = script_reader(p);
    uint8_t d = af_u8(&r);
    fbuf b = {0};
    if (d < 128 || d >= 224) { /* ack (or nack), this one or all so far */
        bool nack = d >= 224;
        bool multiple = d & 1;
        uint64_t tag = c->published;
        if ((d & 0x0e) == 0x0e)
            tag = af_u64(&r); /* a made-up tag */
        size_t at = method_begin(&b, c->number, 60, nack ? 120 : 80);
        fb_u64(&b, tag);
        fb_u8(&b, multiple ? 1 : 0);
        if (nack)
            b.d[b.len - 1] |= 2; /* requeue bit; ignored by clients */
        frame_end(&b, at);
    } /* else: never confirmed */
    script_consumed(p, &r);
    flush(p, &b);
    fb_free(&b);
}

static void on_frame(af_peer *p, uint8_t type, uint16_t ch, const uint8_t *payload, uint32_t size)
{
    atomic_fetch_add(&p->frames, 1);
    uint32_t fm = atomic_load(&p->frame_max);
    if (af_oracles) {
        if (type != 1 && type != 2 && type != 3 && type != 8)
            af_violation("the client sent a frame of type %u (channel %u, %u bytes)", type, ch, size);
        if (fm >= 4096 && size > fm - 8)
            af_violation("the client sent a frame of %u payload bytes over frame_max %u (type %u, channel %u)", size, fm,
                         type, ch);
        if (type == 8 && (ch != 0 || size != 0))
            af_violation("the client sent a heartbeat on channel %u with %u bytes", ch, size);
        if (type == 1 && size < 4)
            af_violation("the client sent a method frame of %u bytes", size);
    }
    chan_state *c = chan(p, ch, false);
    switch (type) {
    case 1:
        if (size >= 4)
            on_method(p, ch, payload, size);
        break;
    case 2:
        if (c == NULL || c->content != 1) {
            if (af_oracles)
                af_violation("the client sent a content header on channel %u without a content method", ch);
            break;
        }
        if (size < 14) {
            if (af_oracles)
                af_violation("the client sent a content header of %u bytes", size);
            break;
        }
        c->body_left = be64(payload + 4);
        c->content = c->body_left ? 2 : 0;
        if (c->content == 0 && c->content_is_publish)
            on_published(p, c);
        break;
    case 3:
        if (c == NULL || c->content != 2) {
            if (af_oracles)
                af_violation("the client sent a body frame on channel %u where no body was due", ch);
            break;
        }
        if (size > c->body_left) {
            if (af_oracles)
                af_violation("the client sent %u body bytes on channel %u where %llu were due", size, ch,
                             (unsigned long long)c->body_left);
            c->body_left = size;
        }
        if (size == 0 && af_oracles)
            af_violation("the client sent an empty body frame on channel %u", ch);
        c->body_left -= size;
        if (c->body_left == 0) {
            c->content = 0;
            if (c->content_is_publish)
                on_published(p, c);
        }
        break;
    default:
        break;
    }
}

/* Parses what arrived; false when the stream is unusable. */
static bool parse(af_peer *p)
{
    size_t at = 0;
    if (!p->header_seen) {
        if (p->rlen < 8)
            return true;
        p->header_seen = true;
        pthread_mutex_lock(&p->wlock);
        on_protocol_header(p, p->rbuf);
        pthread_mutex_unlock(&p->wlock);
        at = 8;
    }
    while (p->rlen - at >= 7 && !atomic_load(&p->cut)) {
        const uint8_t *h = p->rbuf + at;
        uint32_t size = be32(h + 3);
        if (size > AF_MAX_CLIENT_FRAME) {
            if (af_oracles)
                af_violation("the client sent a frame header announcing %u bytes", size);
            return false;
        }
        if (p->rlen - at < (size_t)size + 8)
            break;
        if (h[7 + size] != 0xCE && af_oracles)
            af_violation("the client sent frame end byte 0x%02x (type %u, channel %u, %u bytes)", h[7 + size], h[0],
                         be16(h + 1), size);
        pthread_mutex_lock(&p->wlock);
        on_frame(p, h[0], be16(h + 1), h + 7, size);
        pthread_mutex_unlock(&p->wlock);
        at += (size_t)size + 8;
    }
    memmove(p->rbuf, p->rbuf + at, p->rlen - at);
    p->rlen -= at;
    return true;
}

static void *peer_main(void *arg)
{
    af_peer *p = arg;
    while (!atomic_load(&p->stop)) {
        if (atomic_load(&p->cut))
            break;
        struct pollfd pf = {p->fd, POLLIN, 0};
        int rc = poll(&pf, 1, 20);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0)
            continue;
        if (p->rcap - p->rlen < 65536) {
            size_t cap = p->rcap ? p->rcap * 2 : 131072;
            if (cap > AF_MAX_CLIENT_FRAME + 65536 + 16)
                cap = AF_MAX_CLIENT_FRAME + 65536 + 16;
            if (cap <= p->rcap)
                break;
            uint8_t *d = realloc(p->rbuf, cap);
            if (d == NULL)
                break;
            p->rbuf = d;
            p->rcap = cap;
        }
        ssize_t got = recv(p->fd, p->rbuf + p->rlen, p->rcap - p->rlen, MSG_DONTWAIT);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            break;
        p->rlen += (size_t)got;
        if (!parse(p))
            break;
    }
    atomic_store(&p->dead, true);
    return NULL;
}

af_peer *af_peer_start(int fd, const af_peer_config *config, const uint8_t *script, size_t script_len)
{
    af_peer *p = calloc(1, sizeof *p);
    if (p == NULL)
        abort();
    p->fd = fd;
    p->cfg = *config;
    if (p->cfg.mechanisms == NULL)
        p->cfg.mechanisms = "PLAIN AMQPLAIN";
    p->script = malloc(script_len ? script_len : 1);
    if (p->script == NULL)
        abort();
    if (script_len)
        memcpy(p->script, script, script_len);
    p->script_len = script_len;
    pthread_mutex_init(&p->wlock, NULL);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (pthread_create(&p->thread, NULL, peer_main, p) != 0)
        abort();
    return p;
}

void af_peer_stop(af_peer *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, true);
    shutdown(p->fd, SHUT_RDWR);
    pthread_join(p->thread, NULL);
    close(p->fd);
    pthread_mutex_destroy(&p->wlock);
    free(p->script);
    free(p->rbuf);
    free(p);
}

/* ---- injections ------------------------------------------------------------------------------ */

void af_peer_inject(af_peer *p, af_reader *r, uint16_t hint)
{
    if (p == NULL || af_peer_dead(p))
        return;
    static const uint16_t channels[] = {0, 1, 2, 3, 65535};
    unsigned kind = af_pick(r, 17);
    unsigned csel = af_pick(r, 8);
    uint16_t ch = csel < 5 ? hint : channels[csel - 3];
    fbuf b = {0};
    size_t at;
    pthread_mutex_lock(&p->wlock);
    switch (kind) {
    case 0: case 1: /* a delivery */
        for (unsigned n = 1 + af_pick(r, 4), i = 0; i < n; i++)
            put_deliver(p, &b, ch, r);
        break;
    case 2: /* basic.return */
        at = method_begin(&b, ch, 60, 50);
        fb_u16(&b, 312);
        fb_ss(&b, "NO_ROUTE");
        fb_ss(&b, "");
        fb_ss(&b, "rk");
        frame_end(&b, at);
        put_content(p, &b, ch, r);
        break;
    case 3: { /* a confirm with a made-up tag */
        static const uint64_t tags[] = {0, 1, 2, 100, UINT64_MAX, 1ull << 63};
        at = method_begin(&b, ch, 60, af_bool(r) ? 80 : 120);
        fb_u64(&b, af_pick(r, 2) ? tags[af_pick(r, 6)] : af_u64(r));
        fb_u8(&b, af_u8(r) & 3);
        frame_end(&b, at);
        break;
    }
    case 4: put_channel_close(&b, ch, af_u16(r), af_u16(r), r); break;
    case 5: put_connection_close(&b, r); break;
    case 6: /* blocked / unblocked */
        at = method_begin(&b, 0, 10, af_bool(r) ? 60 : 61);
        if (b.d[b.len - 1] == 60)
            fb_ss(&b, "low on memory");
        frame_end(&b, at);
        break;
    case 7: /* channel.flow */
        at = method_begin(&b, ch, 20, 20);
        fb_u8(&b, af_u8(r) & 1);
        frame_end(&b, at);
        break;
    case 8: /* the broker cancels a consumer */
        at = method_begin(&b, ch, 60, 30);
        fb_ss(&b, af_bool(r) ? p->ctag : "amq.ctag-unknown");
        fb_u8(&b, af_u8(r) & 1);
        frame_end(&b, at);
        break;
    case 9: /* a heartbeat, sometimes where none belongs */
        at = frame_begin(&b, 8, af_pick(r, 4) ? 0 : ch);
        if (af_pick(r, 4) == 0)
            fb_zero(&b, af_u8(r));
        frame_end(&b, at);
        break;
    case 10: { /* noise */
        unsigned n = af_u8(r);
        for (unsigned i = 0; i < n; i++)
            fb_u8(&b, af_u8(r));
        break;
    }
    case 11: { /* a frame header with an absurd size and a few bytes */
        static const uint32_t sizes[] = {0xffffffffu, 0x7fffffffu, 0x80000000u, 131065, 4097, 0};
        uint8_t type = af_pick(r, 2) ? (uint8_t)(1 + af_pick(r, 3)) : af_u8(r);
        fb_u8(&b, type);
        fb_u16(&b, ch);
        uint32_t fm = atomic_load(&p->frame_max);
        fb_u32(&b, af_pick(r, 3) ? sizes[af_pick(r, 6)] : fm + 1 - 8 + af_u8(r));
        fb_zero(&b, af_u8(r));
        break;
    }
    case 12: /* a content header and body without a method */
        put_content(p, &b, ch, r);
        break;
    case 13: /* a cut in the middle of a delivery */
        put_deliver(p, &b, ch, r);
        flush_cut(p, &b, af_u16(r));
        break;
    case 14: /* EOF */
        af_peer_cut(p);
        break;
    case 15: { /* any method id with noise for arguments */
        at = method_begin(&b, ch, af_pick(r, 2) ? (uint16_t)(10 * (1 + af_pick(r, 9))) : af_u16(r),
                          af_pick(r, 2) ? (uint16_t)(10 * af_pick(r, 13) + af_pick(r, 2)) : af_u16(r));
        unsigned n = af_pick(r, 32);
        for (unsigned i = 0; i < n; i++)
            fb_u8(&b, af_u8(r));
        frame_end(&b, at);
        break;
    }
    case 16: { /* a right reply nobody asked for */
        unsigned k = af_pick(r, sizeof reply_methods / sizeof reply_methods[0]);
        put_reply(p, &b, ch, reply_methods[k][0], reply_methods[k][1], NULL, af_bool(r), r);
        break;
    }
    }
    flush(p, &b);
    pthread_mutex_unlock(&p->wlock);
    fb_free(&b);
}

/* ---- the watchdog ---------------------------------------------------------------------------- */

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond = PTHREAD_COND_INITIALIZER;
static af_peer *wd_peer;
static uint64_t wd_deadline;
static bool wd_started;

static void *watchdog_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wd_lock);
    for (;;) {
        if (wd_peer == NULL) {
            pthread_cond_wait(&wd_cond, &wd_lock);
            continue;
        }
        uint64_t now = af_now_ms();
        if (now >= wd_deadline) {
            af_peer_cut(wd_peer);
            wd_peer = NULL;
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t wait = wd_deadline - now;
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wd_cond, &wd_lock, &ts);
    }
    return NULL;
}

void af_watchdog_arm(af_peer *peer, uint64_t after_ms)
{
    pthread_mutex_lock(&wd_lock);
    if (!wd_started) {
        pthread_t t;
        if (pthread_create(&t, NULL, watchdog_main, NULL) != 0)
            abort();
        pthread_detach(t);
        wd_started = true;
    }
    wd_peer = peer;
    wd_deadline = af_now_ms() + after_ms;
    pthread_cond_broadcast(&wd_cond);
    pthread_mutex_unlock(&wd_lock);
}

void af_watchdog_disarm(void)
{
    pthread_mutex_lock(&wd_lock);
    wd_peer = NULL;
    pthread_cond_broadcast(&wd_cond);
    pthread_mutex_unlock(&wd_lock);
}
