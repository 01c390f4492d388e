/*
 * The ABI fuzzer's seed corpus: small programs (abi_fuzz.c's input format) that reach the deep
 * states quickly: a connection open with a channel, a consumer with deliveries, confirms, a
 * basic.get message, callbacks that call back into the library, every handshake variant, raw
 * channels, recovery, background calls. Each emitter (seed_ops.c) writes exactly the bytes the
 * corresponding operation reads; ABI_FUZZ_TRACE=1 shows what a seed does.
 */
#include "seeds.h"

#include <stdio.h>
#include <string.h>

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
