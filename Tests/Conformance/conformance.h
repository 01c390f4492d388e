/*
 * What the files of the conformance suite share (see conformance.c): the spec descriptors (their
 * types here, their values in conformance_methods.h, generated at build time by gen-methods.py),
 * the byte buffer, and the functions and counters one file defines and another uses.
 */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#define _GNU_SOURCE
#include <amqp.h>
#include <amqp_framing.h>
#include <swiftamqp.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum field_kind { K_OCTET, K_SHORT, K_LONG, K_LONGLONG, K_TIMESTAMP, K_BIT, K_SHORTSTR, K_LONGSTR, K_TABLE };

struct field_desc {
    const char *name;
    enum field_kind kind;
    size_t offset;
};

struct method_desc {
    const char *class_name;
    const char *method_name;
    uint16_t class_id;
    uint16_t method_id;
    int in_librabbitmq;
    size_t struct_size;
    const struct field_desc *fields;
    int nfields;
};

struct property_desc {
    const char *name;
    enum field_kind kind;
    size_t offset;
    uint32_t lib_flag;
    uint32_t spec_flag;
};

#include "conformance_methods.h"

/* ---- support.c: the growable byte buffer, running swamqp-frame, reporting -------------------- */

struct buf {
    uint8_t *data;
    size_t len, cap;
};

void die(const char *fmt, ...);
void buf_reserve(struct buf *b, size_t extra);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_putc(struct buf *b, uint8_t c);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...);
void put16(struct buf *b, uint16_t v);
void put32(struct buf *b, uint32_t v);
void put64(struct buf *b, uint64_t v);
uint16_t get16(const uint8_t *p);
uint32_t get32(const uint8_t *p);
uint64_t get64(const uint8_t *p);

extern const char *tool_path;
extern char work_dir[4096];
extern unsigned long tool_runs;
void read_file(const char *path, struct buf *b);
int run_tool(const char *mode, const struct buf *input, struct buf *output, struct buf *errors);

struct tally {
    unsigned long passed, failed;
    int shown;
};

void show_text(const char *label, const uint8_t *p, size_t n);
void show_hex(const char *label, const uint8_t *p, size_t n);
void fail(struct tally *t, const char *what, const char *fmt, ...);
size_t split_lines(struct buf *b, uint8_t ***starts, size_t **lengths);

/* ---- random_values.c: seeded random values, biased toward edges ------------------------------ */

enum { DIR_DECODE = 0, DIR_ENCODE = 1 };

extern uint64_t rng_state;
extern const char kinds_all[];
extern unsigned long tag_counts[2][256]; /* [direction][tag]: values generated */
extern unsigned long property_present[CONF_PROPERTY_COUNT][2];
uint64_t rnd_int(int bits);
void *pool_alloc(amqp_pool_t *pool, size_t n);
void rnd_table(amqp_pool_t *pool, amqp_table_t *t, int depth, int allow_L, int dir);
void *rnd_method(amqp_pool_t *pool, const struct method_desc *m, int allow_L, int dir);
amqp_basic_properties_t *rnd_properties(amqp_pool_t *pool, int allow_L, int dir);

/* ---- canonical_json.c: docs/FRAME-JSON.md, rendered from librabbitmq's structures ------------ */

void render_table(struct buf *b, const amqp_table_t *t);
void render_method(struct buf *b, const struct method_desc *m, uint16_t channel, const void *s);
void render_header(struct buf *b, uint16_t channel, uint64_t body_size, const amqp_basic_properties_t *p);

/* ---- method_codecs.c: librabbitmq, or the reference codec for methods it lacks --------------- */

int ref_encode(const struct method_desc *m, const void *s, uint8_t *out, size_t cap);
int lib_encode(const struct method_desc *m, void *s, uint8_t *out, size_t cap);
int lib_decode(const struct method_desc *m, amqp_pool_t *pool, const uint8_t *in, size_t len, void **out);

/* ---- the checks ------------------------------------------------------------------------------ */

/* frame_tool_checks.c */
extern uint8_t scratch[1 << 23];
extern uint8_t scratch2[1 << 23];
extern unsigned long ref_crosschecks, ref_crosscheck_failures;
void method_decode_direction(const struct method_desc *m, int cases, struct tally *t);
void method_encode_direction(const struct method_desc *m, int cases, struct tally *t);
void header_decode_direction(int cases, struct tally *t);
void header_encode_direction(int cases, struct tally *t);
void uint64_difference(int cases, struct tally *fits, struct tally *refused);

/* rabbitmq_c_vector.c */
void vector_check(const char *dir, struct tally *t);

/* library_exports.c */
void library_method_check(const struct method_desc *m, int cases, struct tally *t);
void library_table_and_properties_check(int cases, struct tally *tables, struct tally *props);
void library_hostile_input_check(struct tally *t);

#endif
