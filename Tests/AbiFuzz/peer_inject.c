/*
 * What the ABI fuzzer's fake broker sends unprompted (af_peer_inject, from the harness's thread).
 */
#include "peer_internal.h"

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
