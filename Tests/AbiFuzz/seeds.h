/*
 * The seed corpus's emitters (seed_ops.c), used by the seed programs (seeds.c): a seed is the
 * bytes of one input; each emitter appends what one operation reads.
 */
#ifndef SWIFTAMQP_ABI_FUZZ_SEEDS_H
#define SWIFTAMQP_ABI_FUZZ_SEEDS_H

#include "abi_fuzz.h"

typedef struct seed {
    uint8_t d[8192];
    size_t n;
} seed;

enum { T0 = 0, T5 = 6, T50 = 12, T150 = 13 }; /* pick_timeout selectors; T5 reads one more byte */

/* bytes and operands */
void b(seed *s, unsigned v);
void bs(seed *s, const char *text);
void str(seed *s, const char *text);
void timeout(seed *s, unsigned sel);

/* operations */
void create_begin_op(seed *s, unsigned op, unsigned slot, unsigned opt);
void create_begin(seed *s, unsigned slot, unsigned opt);
void create_end(seed *s, unsigned peer_mode, unsigned tune, const uint8_t *script, size_t script_len);
void open_blocking(seed *s, unsigned slot);
void channel_open(seed *s, unsigned slot);
void rpc(seed *s, unsigned slot, unsigned which, const char *name);
void rpc_async(seed *s, unsigned slot, unsigned which, const char *name);
void queue_declare(seed *s, unsigned slot, const char *q);
void consume(seed *s, unsigned slot, const char *q);
void publish(seed *s, unsigned slot, const char *key, const char *body, unsigned repeat);
void inject_delivery(seed *s, unsigned slot, unsigned size);
void inject(seed *s, unsigned slot, unsigned kind, const uint8_t *rest, size_t n);
void next_events(seed *s, unsigned slot, unsigned tsel);
void ack(seed *s, unsigned slot, unsigned which);
void close_blocking(seed *s, unsigned slot);
void free_slot(seed *s, unsigned slot, unsigned how);
void dispatch(seed *s, unsigned slot, const seed *callback_ops, unsigned tsel);
/* A connection open on slot `slot` with one channel. */
void ready(seed *s, unsigned slot);

void write_seed(const char *dir, const char *name, const seed *s);

#endif
