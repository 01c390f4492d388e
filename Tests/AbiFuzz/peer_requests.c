/*
 * How the ABI fuzzer's fake broker answers what the client asks, as its script says: the right
 * reply, silence, a close, a wrong reply or channel, a cut, or an extra frame; and the confirms
 * of publishes on a channel in confirm mode.
 */
#include "peer_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- answering a request --------------------------------------------------------------------- */

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

/* The script's reader: decisions and their details come from the peer's own bytes. */
af_reader script_reader(af_peer *p)
{
    if (atomic_load(&p->force) || p->script_pos >= p->script_len) {
        af_reader empty = {NULL, 0, 0};
        return empty;
    }
    af_reader r = {p->script + p->script_pos, p->script_len - p->script_pos, 0};
    return r;
}
void script_consumed(af_peer *p, const af_reader *r)
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

/* ---- the client's methods ------------------------------------------------------------------- */

void on_method(af_peer *p, uint16_t ch, const uint8_t *payload, uint32_t size)
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
void on_published(af_peer *p, chan_state *c)
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
