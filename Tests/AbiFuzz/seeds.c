/*
 * The ABI fuzzer's seed corpus: small programs (abi_fuzz.c's input format) that reach the deep
 * states quickly: a connection open with a channel, a consumer with deliveries, confirms, a
 * basic.get message, callbacks that call back into the library, every handshake variant, raw
 * channels, recovery, background calls. Each emitter below writes exactly the bytes the
 * corresponding operation reads; ABI_FUZZ_TRACE=1 shows what a seed does.
 */
#include "abi_fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seed {
    uint8_t d[8192];
    size_t n;
} seed;

static void b(seed *s, unsigned v)
{
    if (s->n < sizeof s->d)
        s->d[s->n++] = (uint8_t)v;
}
static void bs(seed *s, const char *text)
{
    for (const char *p = text; *p; p++)
        b(s, (uint8_t)*p);
}

/* A short string operand (gen_bytes): selector 0, length, letters ('a' + v % 26). */
static void str(seed *s, const char *text)
{
    size_t n = strlen(text);
    b(s, 0);
    b(s, (unsigned)n);
    for (size_t i = 0; i < n; i++)
        b(s, (unsigned)(text[i] - 'a'));
}

enum { T0 = 0, T5 = 6, T50 = 12, T150 = 13 }; /* pick_timeout selectors; T5 reads one more byte */
static void timeout(seed *s, unsigned sel)
{
    b(s, sel);
    if (sel >= 6 && sel < 12)
        b(s, 4); /* 5 ms */
}

/* op_create (or connect): the option groups set in `opt` (bit 0: defaults written here; others:
 * the caller appends their bytes between create_begin and create_end). */
static void create_begin_op(seed *s, unsigned op, unsigned slot, unsigned opt)
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
static void create_begin(seed *s, unsigned slot, unsigned opt) { create_begin_op(s, OP_CREATE, slot, opt); }
static void create_end(seed *s, unsigned peer_mode, unsigned tune, const uint8_t *script, size_t script_len)
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
static void open_blocking(seed *s, unsigned slot)
{
    b(s, OP_OPEN);
    b(s, slot);
    b(s, 0);
    b(s, 0);
}
static void channel_open(seed *s, unsigned slot)
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
static void rpc(seed *s, unsigned slot, unsigned which, const char *name)
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
static void rpc_async(seed *s, unsigned slot, unsigned which, const char *name)
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
static void queue_declare(seed *s, unsigned slot, const char *q)
{
    rpc(s, slot, RPC_QUEUE_DECLARE, q);
    b(s, 0); /* no arguments table */
    b(s, 0); /* result */
}
static void consume(seed *s, unsigned slot, const char *q)
{
    rpc(s, slot, RPC_CONSUME, q);
    str(s, "");
    b(s, 0);
    b(s, 0);
}
static void publish(seed *s, unsigned slot, const char *key, const char *body, unsigned repeat)
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
static void inject_delivery(seed *s, unsigned slot, unsigned size)
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
static void inject(seed *s, unsigned slot, unsigned kind, const uint8_t *rest, size_t n)
{
    b(s, OP_INJECT);
    b(s, slot);
    b(s, kind);
    b(s, 0);
    for (size_t i = 0; i < n; i++)
        b(s, rest[i]);
}
static void next_events(seed *s, unsigned slot, unsigned tsel)
{
    b(s, OP_NEXT_EVENTS);
    b(s, slot);
    b(s, 0); /* capacity 4096 */
    b(s, 0); /* events, count */
    b(s, 0); /* keep the batch */
    timeout(s, tsel);
}
static void ack(seed *s, unsigned slot, unsigned which)
{
    b(s, OP_ACK);
    b(s, slot);
    b(s, 0);
    b(s, 0); /* channel */
    b(s, 0); /* a tag that was delivered */
    b(s, 0); /* flags */
    b(s, which);
}
static void close_blocking(seed *s, unsigned slot)
{
    b(s, OP_CLOSE);
    b(s, slot);
    b(s, 0);
    b(s, 1); /* blocking */
    timeout(s, T50);
}
static void free_slot(seed *s, unsigned slot, unsigned how)
{
    b(s, OP_FREE);
    b(s, slot);
    b(s, how);
}
static void dispatch(seed *s, unsigned slot, const seed *callback_ops, unsigned tsel)
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

static void write_seed(const char *dir, const char *name, const seed *s)
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
static void ready(seed *s, unsigned slot)
{
    create(s, slot);
    open_blocking(s, slot);
    channel_open(s, slot);
}

void af_write_seeds(const char *dir)
{
    seed s;
    int count = 0;
#define SEED(name) for (int once_ = (memset(&s, 0, sizeof s), 1); once_; once_ = 0, write_seed(dir, name, &s), count++)

    SEED("consume") {
        b(&s, 0);
        ready(&s, 0);
        queue_declare(&s, 0, "q");
        consume(&s, 0, "q");
        inject_delivery(&s, 0, 5);
        inject_delivery(&s, 0, 0);
        next_events(&s, 0, T50);
        ack(&s, 0, 0);
        publish(&s, 0, "q", "hello", 1);
        close_blocking(&s, 0);
        next_events(&s, 0, T5);
    }
    SEED("confirms") {
        b(&s, 1);
        ready(&s, 0);
        rpc(&s, 0, RPC_CONFIRM_SELECT, "");
        publish(&s, 0, "q", "one", 3);
        rpc(&s, 0, RPC_WAIT_CONFIRMS, "");
        next_events(&s, 0, T5);
        free_slot(&s, 0, 1);
    }
    SEED("dispatch") {
        b(&s, 0);
        ready(&s, 0);
        ready(&s, 1);
        consume(&s, 0, "q");
        inject_delivery(&s, 0, 3);
        inject_delivery(&s, 0, 4);
        seed cb;
        memset(&cb, 0, sizeof cb);
        b(&cb, 3);                 /* three calls from the first callback */
        free_slot(&cb, 1, 0);      /* free another connection */
        rpc(&cb, 0, RPC_QUEUE_DECLARE, "inside");
        b(&cb, 0);
        b(&cb, 0);
        next_events(&cb, 0, T0);   /* drain from inside: IN_CALLBACK */
        b(&cb, 2);                 /* the second callback */
        ack(&cb, 0, 0);
        publish(&cb, 0, "k", "from-callback", 1);
        dispatch(&s, 0, &cb, T50);
        next_events(&s, 1, T0);
    }
    SEED("get") {
        b(&s, 0);
        ready(&s, 0);
        for (int i = 0; i < 3; i++) {
            rpc(&s, 0, RPC_GET, "q");
            b(&s, 0); /* message out */
        }
        b(&s, OP_MESSAGE); b(&s, 0); b(&s, 0); /* touch */
        b(&s, OP_MESSAGE); b(&s, 1); b(&s, 0); /* free */
        b(&s, OP_MESSAGE); b(&s, 3); b(&s, 0); /* free again */
        b(&s, OP_MESSAGE); b(&s, 5); b(&s, 1); /* a forged one */
    }
    SEED("topology") {
        b(&s, 0);
        ready(&s, 0);
        rpc(&s, 0, RPC_EXCHANGE_DECLARE, "ex"); str(&s, "direct"); b(&s, 0);
        queue_declare(&s, 0, "");
        rpc(&s, 0, RPC_QUEUE_BIND, "q"); str(&s, "ex"); str(&s, "rk"); b(&s, 0);
        rpc(&s, 0, RPC_EXCHANGE_BIND, "a"); str(&s, "b"); str(&s, "c"); b(&s, 0);
        rpc(&s, 0, RPC_EXCHANGE_UNBIND, "a"); str(&s, "b"); str(&s, "c"); b(&s, 0);
        rpc(&s, 0, RPC_QUEUE_UNBIND, "q"); str(&s, "ex"); str(&s, "rk"); b(&s, 0);
        rpc(&s, 0, RPC_QUEUE_PURGE, "q"); b(&s, 1);
        rpc(&s, 0, RPC_QUEUE_DELETE, "q"); b(&s, 1);
        rpc(&s, 0, RPC_EXCHANGE_DELETE, "ex");
        rpc(&s, 0, RPC_QOS, ""); b(&s, 1); b(&s, 10); b(&s, 0);
        rpc(&s, 0, RPC_RECOVER, "");
        rpc_async(&s, 0, RPC_QUEUE_DECLARE, "qa"); b(&s, 0); b(&s, 0);
        next_events(&s, 0, T50);
    }
    SEED("tx") {
        b(&s, 0);
        ready(&s, 0);
        rpc(&s, 0, RPC_TX_SELECT, "");
        publish(&s, 0, "q", "t", 1);
        rpc(&s, 0, RPC_TX_COMMIT, "");
        rpc(&s, 0, RPC_TX_ROLLBACK, "");
        rpc(&s, 0, RPC_UPDATE_SECRET, "reason"); str(&s, "secret");
    }
    for (unsigned mode = 1; mode < AF_HS_COUNT; mode++) {
        char name[32];
        snprintf(name, sizeof name, "handshake-%u", mode);
        SEED(name) {
            b(&s, 0);
            create_begin(&s, 0, 0);
            create_end(&s, mode, 0, NULL, 0);
            open_blocking(&s, 0);
            channel_open(&s, 0);
            next_events(&s, 0, T5);
        }
    }
    {
        static const unsigned tunes[] = {1, 2, 3, 4 << 3, 2 << 3, 5 << 3, 6 << 3, 7 << 3, 5 << 5};
        for (unsigned i = 0; i < sizeof tunes / sizeof tunes[0]; i++) {
            char name[32];
            snprintf(name, sizeof name, "tune-%u", i);
            SEED(name) {
                b(&s, 0);
                create_begin(&s, 0, 0);
                create_end(&s, AF_HS_NORMAL, tunes[i], NULL, 0);
                open_blocking(&s, 0);
                channel_open(&s, 0);
                channel_open(&s, 0);
                publish(&s, 0, "q", "body", 1);
            }
        }
    }
    SEED("peer-misbehaves") {
        /* the peer answers the channel.open, then misbehaves on each request in turn */
        static const uint8_t script[] = {0, 0, 0, 161, 162, 0, 163, 0, 164, 0, 165, 0, 166, 0, 167, 0};
        b(&s, 0);
        create_begin(&s, 0, 0);
        create_end(&s, AF_HS_NORMAL, 0, script, sizeof script);
        open_blocking(&s, 0);
        channel_open(&s, 0);
        for (int i = 0; i < 8; i++) {
            queue_declare(&s, 0, "q");
            channel_open(&s, 0);
        }
        next_events(&s, 0, T5);
    }
    SEED("server-closes") {
        b(&s, 0);
        ready(&s, 0);
        static const uint8_t flow[] = {0};
        inject(&s, 0, 7, flow, 1);
        publish(&s, 0, "q", "x", 1);
        static const uint8_t blocked[] = {1};
        inject(&s, 0, 6, blocked, 1);
        publish(&s, 0, "q", "x", 1);
        static const uint8_t chclose[] = {0, 0, 0, 0, 0};
        inject(&s, 0, 4, chclose, sizeof chclose);
        next_events(&s, 0, T5);
        static const uint8_t connclose[] = {0};
        inject(&s, 0, 5, connclose, 1);
        next_events(&s, 0, T50);
        next_events(&s, 0, T0);
    }
    SEED("recovery") {
        b(&s, 0);
        create_begin(&s, 0, 16 | 32);
        b(&s, 0); b(&s, 0); b(&s, 1);                     /* recovery: 1 ms delays, 2 attempts */
        b(&s, 2); b(&s, 2); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 1); /* two endpoints on 127.0.0.1 */
        create_end(&s, AF_HS_NORMAL, 0, NULL, 0);
        open_blocking(&s, 0);
        channel_open(&s, 0);
        consume(&s, 0, "q");
        static const uint8_t connclose[] = {0};
        inject(&s, 0, 5, connclose, 1);
        for (int i = 0; i < 8; i++)
            next_events(&s, 0, T50);
        publish(&s, 0, "q", "after", 1);
        inject_delivery(&s, 0, 3);
        next_events(&s, 0, T50);
    }
    SEED("raw") {
        b(&s, 0);
        ready(&s, 0);
        b(&s, OP_RAW); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 1);   /* set raw */
        b(&s, OP_RAW); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 1); b(&s, 2);   /* send qos */
        b(&s, OP_RAW); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 2); b(&s, 1); b(&s, 0); str(&s, "rawbody");
        inject_delivery(&s, 0, 2);
        next_events(&s, 0, T5);
        b(&s, OP_RAW); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 1); b(&s, 0);   /* channel.close */
        next_events(&s, 0, T5);
    }
    SEED("handles") {
        b(&s, 0);
        ready(&s, 0);
        free_slot(&s, 0, 1);
        for (unsigned k = 19; k < 24; k++) {
            b(&s, OP_MISC); b(&s, 2); b(&s, k); b(&s, 0); b(&s, (k - 19) % 3);
        }
        b(&s, OP_MISC); b(&s, 2); b(&s, 0); /* the freed slot's stale handle */
        b(&s, OP_MISC); b(&s, 1); b(&s, 0); b(&s, 0);
        b(&s, OP_MISC); b(&s, 0);
        b(&s, OP_QUERY); b(&s, 0); b(&s, 4); b(&s, 1); b(&s, 55); b(&s, 1);
    }
    SEED("url") {
        b(&s, 0);
        const char *url = "amqp://guest:guest@127.0.0.1:1/%2f?heartbeat=5&frame_max=8192&channel_max=3";
        b(&s, OP_URL);
        b(&s, (unsigned)strlen(url));
        b(&s, 7); /* no prefix */
        bs(&s, url);
        b(&s, 0); /* error */
        b(&s, 0); /* parse_url */
        b(&s, 1); /* create from it */
        const char *list = "amqp://127.0.0.1:1,amqp://[::1]:2,amqps://localhost:3";
        b(&s, OP_URL);
        b(&s, (unsigned)strlen(list));
        b(&s, 7);
        bs(&s, list);
        b(&s, 0);
        b(&s, 1); /* parse_url_list */
        b(&s, 1);
    }
    SEED("connect-bg") {
        b(&s, 0);
        create_begin_op(&s, OP_CONNECT, 0, 0);
        create_end(&s, AF_HS_NORMAL, 0, NULL, 0);
        channel_open(&s, 0);
        b(&s, OP_BG); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 20); /* queue.declare in the background */
        b(&s, OP_BG); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 1); b(&s, 10); /* a publish */
        free_slot(&s, 0, 1);
        b(&s, OP_BG); b(&s, 3);                                          /* join */
    }
    SEED("limits") {
        b(&s, 0);
        create_begin(&s, 0, 4);
        b(&s, 4); b(&s, 1); b(&s, 1); b(&s, 2); /* max_message 1 MiB, event limit 1, outbound 1, max_unconfirmed 1 */
        create_end(&s, AF_HS_NORMAL, 0, NULL, 0);
        open_blocking(&s, 0);
        channel_open(&s, 0);
        consume(&s, 0, "q");
        for (int i = 0; i < 4; i++)
            inject_delivery(&s, 0, 200);
        publish(&s, 0, "q", "abcdefghij", 4);
        next_events(&s, 0, T5);
        next_events(&s, 0, T5);
    }
    SEED("close-silent") {
        /* The peer ignores connection.close: the close times out (one byte from a huge timeout). */
        static const uint8_t script[] = {0, 128};
        b(&s, 0);
        create_begin(&s, 0, 0);
        create_end(&s, AF_HS_NORMAL, 0, script, sizeof script);
        open_blocking(&s, 0);
        close_blocking(&s, 0);
        s.d[s.n - 1] = T150;
        next_events(&s, 0, T5);
    }
    SEED("partial-drain") {
        /* Three deliveries drained one at a time, then the rest with a large capacity. */
        b(&s, 0);
        ready(&s, 0);
        consume(&s, 0, "q");
        for (int i = 0; i < 3; i++)
            inject_delivery(&s, 0, 1);
        b(&s, OP_NEXT_EVENTS); b(&s, 0); b(&s, 8); b(&s, 0); b(&s, 0); timeout(&s, T50); /* capacity 1 */
        b(&s, OP_NEXT_EVENTS); b(&s, 0); b(&s, 10); b(&s, 0); b(&s, 0); timeout(&s, T5); /* capacity 2 */
        next_events(&s, 0, T5);
        ack(&s, 0, 1);
    }
    SEED("big-message") {
        /* max_message_size 2^40 and a delivery announcing 2^40 bytes with one body frame. */
        b(&s, 0);
        create_begin(&s, 0, 4);
        b(&s, 7); b(&s, 0); b(&s, 0); b(&s, 0);
        create_end(&s, AF_HS_NORMAL, 0, NULL, 0);
        open_blocking(&s, 0);
        channel_open(&s, 0);
        consume(&s, 0, "q");
        b(&s, OP_INJECT); b(&s, 0);
        b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 0); b(&s, 0); /* one delivery, the consumer's tag */
        b(&s, 3); b(&s, 13);  /* body size 2^40 */
        b(&s, 0); b(&s, 0); b(&s, 0);
        b(&s, 1); b(&s, 0);   /* one body frame */
        next_events(&s, 0, T50);
        next_events(&s, 0, T5);
    }
    fprintf(stderr, "abi_fuzz: wrote %d seeds to %s\n", count, dir);
#undef SEED
}
