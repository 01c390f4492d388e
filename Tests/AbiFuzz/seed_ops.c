/*
 * The emitters the ABI fuzzer's seeds are written with (seeds.h): bytes, then one function per
 * operation of the input format (abi_fuzz.c and ops_*.c), each writing exactly the bytes that
 * operation reads; and writing a seed to a file.
 */
#include "seeds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void b(seed *s, unsigned v)
{
    if (s->n < sizeof s->d)
        s->d[s->n++] = (uint8_t)v;
}
void bs(seed *s, const char *text)
{
    for (const char *p = text; *p; p++)
        b(s, (uint8_t)*p);
}

/* A short string operand (gen_bytes): selector 0, length, letters ('a' + v % 26). */
void str(seed *s, const char *text)
{
    size_t n = strlen(text);
    b(s, 0);
    b(s, (unsigned)n);
    for (size_t i = 0; i < n; i++)
        b(s, (unsigned)(text[i] - 'a'));
}

void timeout(seed *s, unsigned sel)
{
    b(s, sel);
    if (sel >= 6 && sel < 12)
        b(s, 4); /* 5 ms */
}

/* op_create (or connect): the option groups set in `opt` (bit 0: defaults written here; others:
 * the caller appends their bytes between create_begin and create_end). */
void create_begin_op(seed *s, unsigned op, unsigned slot, unsigned opt)
{
    b(s, op);
    b(s, slot);
    b(s, opt);
    if (opt & 1) {
        b(s, 0);
        b(s, 0);
        b(s, 0);
    }
    b(s, 0); /* connect timeout: 200 ms */
}
void create_begin(seed *s, unsigned slot, unsigned opt) { create_begin_op(s, OP_CREATE, slot, opt); }
void create_end(seed *s, unsigned peer_mode, unsigned tune, const uint8_t *script, size_t script_len)
{
    b(s, peer_mode);  /* handshake */
    b(s, tune);       /* channel_max, frame_max, heartbeat of the peer */
    b(s, 0);          /* mechanisms */
    b(s, 0);          /* version 0-9 */
    b(s, (unsigned)script_len);
    for (size_t i = 0; i < script_len; i++)
        b(s, script[i]);
    b(s, 0); /* socketpair */
    b(s, 0); /* error struct */
    b(s, 0); /* no NULL arguments */
}
static void create(seed *s, unsigned slot)
{
    create_begin(s, slot, 0);
    create_end(s, AF_HS_NORMAL, 0, NULL, 0);
}
void open_blocking(seed *s, unsigned slot)
{
    b(s, OP_OPEN);
    b(s, slot);
    b(s, 0);
    b(s, 0);
}
void channel_open(seed *s, unsigned slot)
{
    b(s, OP_CHANNEL);
    b(s, slot);
    b(s, 0); /* error */
    b(s, 0); /* open, blocking */
    b(s, 0); /* request id */
    b(s, 0); /* channel out */
    timeout(s, T50);
}
/* op_rpc up to and including the first string operand; blocking with 50 ms. */
void rpc(seed *s, unsigned slot, unsigned which, const char *name)
{
    b(s, OP_RPC);
    b(s, slot);
    b(s, 0);     /* error */
    b(s, which);
    b(s, 1);     /* blocking */
    b(s, 0);     /* newest channel */
    b(s, 0);     /* flags 0 */
    timeout(s, T50);
    str(s, name);
}
void rpc_async(seed *s, unsigned slot, unsigned which, const char *name)
{
    b(s, OP_RPC);
    b(s, slot);
    b(s, 0);
    b(s, which);
    b(s, 0);     /* async */
    b(s, 0);
    b(s, 0);
    b(s, 0);     /* request id */
    str(s, name);
}
void queue_declare(seed *s, unsigned slot, const char *q)
{
    rpc(s, slot, RPC_QUEUE_DECLARE, q);
    b(s, 0); /* no arguments table */
    b(s, 0); /* result */
}
void consume(seed *s, unsigned slot, const char *q)
{
    rpc(s, slot, RPC_CONSUME, q);
    str(s, "");
    b(s, 0);
    b(s, 0);
}
void publish(seed *s, unsigned slot, const char *key, const char *body, unsigned repeat)
{
    b(s, OP_PUBLISH);
    b(s, slot);
    b(s, 0);
    b(s, 0);  /* channel */
    str(s, "");
    str(s, key);
    b(s, 0);  /* flags */
    b(s, 0);  /* no properties */
    str(s, body);
    b(s, 0);  /* sequence out */
    timeout(s, T0);
    if (repeat > 1) {
        b(s, 7);
        b(s, repeat - 1);
    } else {
        b(s, 0);
    }
}
/* A delivery of `size` bytes (<= 255) in one body frame, on the slot's newest channel. */
void inject_delivery(seed *s, unsigned slot, unsigned size)
{
    b(s, OP_INJECT);
    b(s, slot);
    b(s, 0); /* a delivery */
    b(s, 0); /* on the hint channel */
    b(s, 0); /* one */
    b(s, 0); /* the consumer's tag */
    b(s, 0); /* next delivery tag */
    b(s, 0); /* not redelivered */
    b(s, 0); /* size from the next byte */
    b(s, size);
    b(s, 0); /* class 60 */
    b(s, 0); /* no properties */
    b(s, 0); /* no continuation */
    b(s, size ? 1 : 0); /* body frames */
    if (size)
        b(s, 0);
}
void inject(seed *s, unsigned slot, unsigned kind, const uint8_t *rest, size_t n)
{
    b(s, OP_INJECT);
    b(s, slot);
    b(s, kind);
    b(s, 0);
    for (size_t i = 0; i < n; i++)
        b(s, rest[i]);
}
void next_events(seed *s, unsigned slot, unsigned tsel)
{
    b(s, OP_NEXT_EVENTS);
    b(s, slot);
    b(s, 0); /* capacity 4096 */
    b(s, 0); /* events, count */
    b(s, 0); /* keep the batch */
    timeout(s, tsel);
}
void ack(seed *s, unsigned slot, unsigned which)
{
    b(s, OP_ACK);
    b(s, slot);
    b(s, 0);
    b(s, 0); /* channel */
    b(s, 0); /* a tag that was delivered */
    b(s, 0); /* flags */
    b(s, which);
}
void close_blocking(seed *s, unsigned slot)
{
    b(s, OP_CLOSE);
    b(s, slot);
    b(s, 0);
    b(s, 1); /* blocking */
    timeout(s, T50);
}
void free_slot(seed *s, unsigned slot, unsigned how)
{
    b(s, OP_FREE);
    b(s, slot);
    b(s, how);
}
void dispatch(seed *s, unsigned slot, const seed *callback_ops, unsigned tsel)
{
    b(s, OP_DISPATCH);
    b(s, slot);
    b(s, 0); /* set the callback */
    b(s, (unsigned)callback_ops->n);
    for (size_t i = 0; i < callback_ops->n; i++)
        b(s, callback_ops->d[i]);
    b(s, 0); /* dispatched out */
    timeout(s, tsel);
}

void write_seed(const char *dir, const char *name, const seed *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fwrite(s->d, 1, s->n, f);
    fclose(f);
}

/* A connection open on slot `slot` with one channel. */
void ready(seed *s, unsigned slot)
{
    create(s, slot);
    open_blocking(s, slot);
    channel_open(s, slot);
}
