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
 *
 * This file holds the peer's thread, the handshake and the parsing of what the client sends; the
 * rest is beside it (peer_internal.h declares what they share):
 *   peer_frames.c    the frame buffer and what the peer writes: content, replies, closes, deliveries
 *   peer_requests.c  the script, and the answers to the client's methods (and publishes' confirms)
 *   peer_inject.c    what the peer sends unprompted
 * The watchdog that cuts a peer when a call overstays is watchdog.c.
 */
#include "peer_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the peer ---------------------------------------------------------------------------------- */

chan_state *chan(af_peer *p, uint16_t number, bool create)
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
