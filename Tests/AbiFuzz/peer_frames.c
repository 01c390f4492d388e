/*
 * The frames the ABI fuzzer's fake broker writes: a growable frame buffer, frame and method
 * envelopes, bounded writes to the client, content (a header and body frames, with hostile body
 * sizes and properties), and well-formed replies, closes and deliveries.
 */
#include "peer_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---- a growable frame buffer ------------------------------------------------------------------ */

void fb_reserve(fbuf *b, size_t extra)
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
void fb_put(fbuf *b, const void *p, size_t n)
{
    fb_reserve(b, n);
    if (n)
        memcpy(b->d + b->len, p, n);
    b->len += n;
}
void fb_zero(fbuf *b, size_t n)
{
    fb_reserve(b, n);
    memset(b->d + b->len, 0x5a, n);
    b->len += n;
}
void fb_u8(fbuf *b, uint8_t v) { fb_put(b, &v, 1); }
void fb_u16(fbuf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    fb_put(b, x, 2);
}
void fb_u32(fbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    fb_put(b, x, 4);
}
void fb_u64(fbuf *b, uint64_t v)
{
    fb_u32(b, (uint32_t)(v >> 32));
    fb_u32(b, (uint32_t)v);
}
void fb_ss(fbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > 255)
        n = 255;
    fb_u8(b, (uint8_t)n);
    fb_put(b, s, n);
}
void fb_ls(fbuf *b, const void *p, size_t n)
{
    fb_u32(b, (uint32_t)n);
    fb_put(b, p, n);
}
void fb_free(fbuf *b)
{
    free(b->d);
    b->d = NULL;
    b->len = b->cap = 0;
}

uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* Frame envelope around a payload written by `fill` into `b` after a reserved 7-byte header. */
size_t frame_begin(fbuf *b, uint8_t type, uint16_t channel)
{
    size_t at = b->len;
    fb_u8(b, type);
    fb_u16(b, channel);
    fb_u32(b, 0);
    return at;
}
void frame_end(fbuf *b, size_t at)
{
    uint32_t size = (uint32_t)(b->len - at - 7);
    uint8_t *p = b->d + at + 3;
    p[0] = (uint8_t)(size >> 24), p[1] = (uint8_t)(size >> 16), p[2] = (uint8_t)(size >> 8), p[3] = (uint8_t)size;
    fb_u8(b, 0xCE);
}
size_t method_begin(fbuf *b, uint16_t channel, uint16_t cls, uint16_t mth)
{
    size_t at = frame_begin(b, 1, channel);
    fb_u16(b, cls);
    fb_u16(b, mth);
    return at;
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

void flush(af_peer *p, fbuf *b)
{
    if (b->len)
        raw_write(p, b->d, b->len);
    b->len = 0;
}

/* Writes the first `keep` bytes of `b` (at least 1, fewer than all) and ends the connection. */
void flush_cut(af_peer *p, fbuf *b, size_t keep)
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
void put_content(af_peer *p, fbuf *b, uint16_t channel, af_reader *r)
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

const uint16_t reply_methods[][2] = {
    {20, 11}, {20, 41}, {40, 11}, {40, 21}, {40, 31}, {40, 51}, {50, 11}, {50, 21}, {50, 31}, {50, 41},
    {50, 51}, {60, 11}, {60, 21}, {60, 31}, {60, 72}, {60, 111}, {85, 11}, {90, 11}, {90, 21}, {90, 31},
    {10, 71}, {10, 41}, {20, 21},
};

/* A well-formed reply method (with content for basic.get-ok). */
void put_reply(af_peer *p, fbuf *b, uint16_t ch, uint16_t cls, uint16_t mth, const char *name, bool flag_arg,
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

void put_channel_close(fbuf *b, uint16_t ch, uint16_t cls, uint16_t mth, af_reader *r)
{
    static const uint16_t codes[] = {404, 406, 403, 405, 530, 541, 540, 0, 65535, 200};
    size_t at = method_begin(b, ch, ch == 0 ? 10 : 20, ch == 0 ? 50 : 40);
    fb_u16(b, codes[af_pick(r, sizeof codes / sizeof codes[0])]);
    fb_ss(b, af_bool(r) ? "" : "FUZZ - the fake broker closed it");
    fb_u16(b, cls);
    fb_u16(b, mth);
    frame_end(b, at);
}

void put_connection_close(fbuf *b, af_reader *r)
{
    static const uint16_t codes[] = {320, 501, 503, 505, 530, 541, 0, 200, 403};
    size_t at = method_begin(b, 0, 10, 50);
    fb_u16(b, codes[af_pick(r, sizeof codes / sizeof codes[0])]);
    fb_ss(b, "CONNECTION_FORCED - fuzz");
    fb_u16(b, 0);
    fb_u16(b, 0);
    frame_end(b, at);
}

void put_deliver(af_peer *p, fbuf *b, uint16_t ch, af_reader *r)
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
