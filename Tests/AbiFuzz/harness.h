/*
 * What the files of the ABI fuzzer's harness share (abi_fuzz.c lists them; abi_fuzz.h is what the
 * harness shares with the fake broker and the seeds): the run settings and state, the operands'
 * types, and the functions one file defines and others call.
 */
#ifndef SWIFTAMQP_ABI_FUZZ_HARNESS_H
#define SWIFTAMQP_ABI_FUZZ_HARNESS_H

#include "abi_fuzz.h"

/* ---- run settings and basics (abi_fuzz.c) ---------------------------------------------------- */

/* ABI_FUZZ_AVOID: classes of hostile values not to generate (known bugs being fixed), by name:
 * length (byte string lengths >= 2^63), count (table/array/endpoint/certificate counts >= 2^63),
 * capacity (huge swamqp_next_events capacities), message-size (max_message_size >= 2^63),
 * probe (timeouts near UINT32_MAX), recovery-delay (huge recovery delays). */
enum { AVOID_LENGTH = 1, AVOID_COUNT = 2, AVOID_CAPACITY = 4, AVOID_MESSAGE_SIZE = 8, AVOID_PROBE = 16,
       AVOID_RECOVERY_DELAY = 32 };
extern unsigned avoid;

/* Honest byte strings point into this (its contents do not matter). */
extern uint8_t *backing;
/** Reads `n` bytes at `p` (a sanitizer reports what is not readable). */
void touch(const void *p, size_t n);
/** Runs one operation of the input (an opcode and its operands). */
void run_op(af_reader *r);

/* ---- run state ------------------------------------------------------------------------------- */

#define NSLOTS 3
#define MAX_OPS 48
#define MAX_CB_OPS 48
#define MAX_EVENTS 4096
#define WAIT_BUDGET_MS 600
#define PROBE_WATCHDOG_MS 1500
#define OVERRUN_SLACK_MS 900 /* a blocking call may return this much after its timeout */

typedef struct acceptor acceptor; /* slots.c */

typedef struct slot {
    swamqp_connection *conn;
    bool live;           /* a handle we got and have not freed */
    af_peer *peer;       /* the socketpair's broker */
    acceptor *acc;       /* brokers of loopback TCP connections (connects, reconnects) */
    int aux_fd;          /* the other end of a pipe the connection adopted, or -1 */
    bool opened;         /* an open call succeeded */
    bool closed_event;   /* SWAMQP_EVENT_CONNECTION_CLOSED was handed out */
    bool callback_set;
    bool probe_connect;  /* connect_timeout_ms is huge: watch the open */
    bool tls;
    bool small_event_limit; /* reading may pause for good: no reply arrives, no EOF is seen */
    uint32_t connect_timeout_ms;
    uint16_t chans[8];
    unsigned nchans;
    uint64_t tags[8];
    unsigned ntags;
} slot;

typedef struct bg_call bg_call; /* ops_requests.c */

/* One input's state (abi_fuzz.c defines it and clears it before each input). */
struct run_state {
    slot s[NSLOTS];
    swamqp_connection *dead[16];
    unsigned ndead;
    swamqp_message *msgs[16];
    unsigned nmsgs;
    swamqp_message *freed_msgs[16];
    unsigned nfreed;
    int64_t budget;
    bool probe_used;
    int in_callback;
    unsigned cb_ops;
    af_reader cb;
    bg_call *bg[2];
    unsigned ops;
    uint8_t settings;
};
extern struct run_state g;

/* ---- oracles.c: statuses, errors, events ----------------------------------------------------- */

/* Why a call must fail, if it must. */
typedef struct expect {
    bool bad;            /* an argument is invalid by the header's rules */
    bool bad_handle;     /* the handle is not live */
    const char *why;
} expect;

void mark_bad(expect *x, const char *why);
void check_rc(const char *fn, int rc, const swamqp_error *err, const expect *x);
swamqp_error *pick_error(af_reader *r, swamqp_error *storage);
void touch_message(const swamqp_message *m);
void touch_event(int si, const swamqp_event *e);
void note_channel(int si, uint16_t ch);
void keep_message(swamqp_message *m);

/* ---- operands.c: handles, channels, timeouts, hostile values --------------------------------- */

int slot_of(swamqp_connection *h);
swamqp_connection *pick_handle(af_reader *r, int *slot_index, expect *x);
uint16_t pick_channel(af_reader *r, int si);

typedef struct waitspec {
    uint32_t ms;
    bool probe;
} waitspec;

typedef struct timing {
    uint64_t t0;
    waitspec w;
    int si;
} timing;

waitspec pick_timeout(af_reader *r, bool probe_ok);
bool slot_probe_ok(int si);
timing wait_begin(int si, waitspec w);
void wait_end(const char *fn, const timing *t, int rc);

enum role { R_SHORT, R_KEY, R_LONG, R_BODY };

const char *bytes_desc(swamqp_bytes b);
swamqp_bytes gen_bytes(af_reader *r, int role, expect *x);
uint64_t hostile_count(af_reader *r);
const swamqp_table *gen_table_ptr(af_reader *r, expect *x);
const swamqp_properties *gen_props(af_reader *r, expect *x);
uint32_t pick_flags(af_reader *r);

/* ---- slots.c: the loopback listener, creating and freeing a slot's connection ---------------- */

af_peer *slot_peer(const slot *s);
void stop_peer(slot *s);
void op_create(af_reader *r, bool connect);
void free_slot_handle(int si, af_reader *r, bool teardown);

/* ---- the operations -------------------------------------------------------------------------- */

/* ops_connection.c */
void op_open(af_reader *r);
void op_close(af_reader *r);
void op_free(af_reader *r);
void op_channel(af_reader *r);
void op_query(af_reader *r);
void op_url(af_reader *r);
void op_misc(af_reader *r);

/* ops_requests.c */
void op_rpc(af_reader *r);
void op_publish(af_reader *r);
void op_ack(af_reader *r);
void op_raw(af_reader *r);
void op_message(af_reader *r);
void op_bg(af_reader *r);
void bg_join_all(void);

/* ops_events.c */
void on_event(swamqp_connection *c, const swamqp_event *e, void *user_data);
void op_next_events(af_reader *r);
void op_dispatch(af_reader *r);
void op_callback(af_reader *r);
void op_inject(af_reader *r);
void op_peer(af_reader *r);

#endif
