/*
 * What the files of the ABI fuzzer's fake broker share (peer.c lists them; abi_fuzz.h is what the
 * harness sees of it): the peer's state, the frame buffer, and the writers and the script reader
 * one file defines and others call.
 */
#ifndef SWIFTAMQP_ABI_FUZZ_PEER_INTERNAL_H
#define SWIFTAMQP_ABI_FUZZ_PEER_INTERNAL_H

#include "abi_fuzz.h"

/* ---- the peer's state ------------------------------------------------------------------------ */

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

/* The channel's state; `create`: a free one for it when it has none (NULL when none is free). */
chan_state *chan(af_peer *p, uint16_t number, bool create);

/* ---- peer_frames.c: the frame buffer and what the peer writes -------------------------------- */

typedef struct fbuf {
    uint8_t *d;
    size_t len, cap;
} fbuf;

void fb_reserve(fbuf *b, size_t extra);
void fb_put(fbuf *b, const void *p, size_t n);
void fb_zero(fbuf *b, size_t n);
void fb_u8(fbuf *b, uint8_t v);
void fb_u16(fbuf *b, uint16_t v);
void fb_u32(fbuf *b, uint32_t v);
void fb_u64(fbuf *b, uint64_t v);
void fb_ss(fbuf *b, const char *s);
void fb_ls(fbuf *b, const void *p, size_t n);
void fb_free(fbuf *b);
uint16_t be16(const uint8_t *p);
uint32_t be32(const uint8_t *p);
uint64_t be64(const uint8_t *p);
size_t frame_begin(fbuf *b, uint8_t type, uint16_t channel);
void frame_end(fbuf *b, size_t at);
size_t method_begin(fbuf *b, uint16_t channel, uint16_t cls, uint16_t mth);

/* Writing (the caller holds wlock): all of `b`, or a part of it and then the end of the connection. */
void flush(af_peer *p, fbuf *b);
void flush_cut(af_peer *p, fbuf *b, size_t keep);

void put_content(af_peer *p, fbuf *b, uint16_t channel, af_reader *r);
/* The reply methods of the synchronous requests (its size is checked where it is defined). */
extern const uint16_t reply_methods[23][2];
void put_reply(af_peer *p, fbuf *b, uint16_t ch, uint16_t cls, uint16_t mth, const char *name, bool flag_arg,
               af_reader *r);
void put_channel_close(fbuf *b, uint16_t ch, uint16_t cls, uint16_t mth, af_reader *r);
void put_connection_close(fbuf *b, af_reader *r);
void put_deliver(af_peer *p, fbuf *b, uint16_t ch, af_reader *r);

/* ---- peer_requests.c: the script, and the answers to the client's methods -------------------- */

af_reader script_reader(af_peer *p);
void script_consumed(af_peer *p, const af_reader *r);
void on_method(af_peer *p, uint16_t ch, const uint8_t *payload, uint32_t size);
void on_published(af_peer *p, chan_state *c);

#endif
