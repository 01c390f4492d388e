/*
 * Internal declarations of the librabbitmq 0.11 compatibility layer (librabbitmq.so.4 on top of
 * libswiftamqp). Compiled against librabbitmq-dev's own headers so every struct and enum matches
 * the ABI that existing programs were built with.
 */
#ifndef SWAMQP_COMPAT_INTERNAL_H
#define SWAMQP_COMPAT_INTERNAL_H

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <pthread.h>
#include <swiftamqp.h>
#include <sys/time.h>

/* One synthetic inbound frame, built from a swamqp event; it owns its memory (pool). */
typedef struct compat_frame {
    amqp_frame_t frame;
    amqp_pool_t pool;
    struct compat_frame *next;
} compat_frame;

struct amqp_socket_t_ {
    struct amqp_connection_state_t_ *conn;
    int tls;
    int fd;                 /* connected by amqp_socket_open, handed to swamqp at login */
    int handed;             /* the swamqp connection owns fd now */
    int ready_fd;           /* after login: what amqp_get_sockfd returns (see compat_readiness_*) */
    char *host;
    int port;
    char *cacert, *cert, *key, *key_password;
    int verify_peer, verify_hostname;
    int key_fd;             /* memfd holding a key given as a buffer or loaded by an engine; -1 */
};

struct amqp_connection_state_t_ {
    swamqp_connection *sw;
    amqp_socket_t *socket;
    int closed;                    /* our close, or the connection ended */
    int timed_out;                 /* an RPC timed out: librabbitmq closes the connection then */
    int dead_status;               /* amqp_status_enum once the connection ended (0 while alive) */
    uint16_t channel_max, heartbeat;
    uint32_t frame_max;
    uint16_t *u2s;                 /* user channel -> swamqp channel (0: not open) */
    uint16_t *s2u;                 /* swamqp channel -> user channel of its events; kept after a
                                      close until the engine's channel-closed event, so events
                                      queued before it still reach the program's channel */
    uint8_t *s_state;              /* per swamqp channel: COMPAT_CH_* */
    uint8_t *u_unacked;            /* per user channel: the broker's channel.close was handed to the
                                      program, which has not answered close-ok (nor reopened it) */
    struct compat_consumer *consumers; /* consumers started through this layer, for channel close */
    uint64_t await_id;             /* an _async request whose completion compat_pump() is looking for */
    int await_done;
    int await_status;
    int await_reports;
    swamqp_error await_err;
    char await_name[256];          /* its results: queue name / consumer tag, counts */
    size_t await_name_len;
    uint32_t await_message_count, await_consumer_count;
    int await_has_message;         /* basic.get: get-ok below, content frames at await_frames */
    amqp_basic_get_ok_t await_get;
    compat_frame *await_frames;
    compat_frame *head, *tail;     /* inbound frames not yet read */
    amqp_pool_t pool;              /* RPC results and frames handed out; freed by release_buffers */
    amqp_pool_t reply_pool;        /* the decoded method of the last server exception */
    amqp_rpc_reply_t reply;
    uint32_t rpc_timeout_ms;       /* 0: no timeout (librabbitmq's NULL) */
    int has_rpc_timeout;
    struct timeval rpc_timeout_tv;
    struct timeval handshake_tv;
    int has_handshake_timeout;
    int cap_cancel_notify;         /* the program asked for consumer_cancel_notify (login properties) */
    int cap_blocked;               /* ... and for connection.blocked */
    /* readiness: a socketpair whose first end the program gets as "the socket"; it is readable
       exactly while frames are queued or the engine has events (a watcher thread notices the
       engine's events), so programs that poll the socket before reading keep working */
    int ready_pair[2];
    int ready_wake;                /* eventfd: wakes the watcher */
    int ready_signalled;           /* a byte sits in the pair */
    int ready_stop;
    int ready_running;
    pthread_t ready_thread;
    pthread_mutex_t ready_mu;
    pthread_cond_t ready_cond;
    amqp_table_t client_properties;
    amqp_pool_t props_pool;
    amqp_table_t server_properties;  /* the broker's connection.start table, from login on */
    amqp_pool_t server_props_pool;
    /* amqp_handle_input's decoder (compat_wire.c): librabbitmq's states, the first 8 bytes of
       what is being read, and the whole frame once its size is known */
    int in_state;
    unsigned char in_header[8];
    unsigned char *in_frame;       /* in in_pool, which joins `pool` when the frame is handed out */
    amqp_pool_t in_pool;
    size_t in_offset, in_target;
    struct compat_content *contents; /* amqp_send_frame: publishes whose content is still coming */
};

/* swamqp channel states (s_state): a close is under way whose channel-closed event is still to
 * be read from the engine */
enum {
    COMPAT_CH_OPEN = 0,
    COMPAT_CH_CLOSING = 1,        /* amqp_channel_close runs: a broker close still becomes a frame */
    COMPAT_CH_CLOSE_REPORTED = 2  /* a call already reported the broker's channel.close */
};

/* A consumer on a swamqp channel (amqp_channel_close cancels them before closing, see there). */
typedef struct compat_consumer {
    uint16_t sw_channel;
    size_t len;
    char tag[256];
    struct compat_consumer *next;
} compat_consumer;

/* compat_replies.c: replies, statuses, channel and consumer bookkeeping */
void compat_reply_ok(amqp_connection_state_t c, amqp_method_number_t id, void *decoded);
void compat_reply_library(amqp_connection_state_t c, int status);
int compat_status_from_sw(int rc);
int compat_reply_from_sw(amqp_connection_state_t c, int rc, const swamqp_error *e);
void compat_channel_closing(amqp_connection_state_t c, uint16_t sw_channel, int state);
void compat_channel_close_reported(amqp_connection_state_t c, amqp_channel_t user_channel);
void compat_consumer_add(amqp_connection_state_t c, uint16_t sw_channel, const void *tag, size_t len);
void compat_consumer_remove(amqp_connection_state_t c, uint16_t sw_channel, const void *tag, size_t len,
                            int all_of_channel);

/* compat_connection.c */
uint32_t compat_rpc_timeout(amqp_connection_state_t c);
/* A timeval timeout in *ms (at most COMPAT_FOREVER_MS, 1 for a positive one under a ms); returns 0
 * for a negative one, *ms untouched. */
int compat_timeout_to_ms(const struct timeval *tv, uint32_t *ms);
#define COMPAT_FOREVER_MS 86400000u

/* compat_readiness.c: the socket the program polls after login */
void compat_readiness_start(amqp_connection_state_t c);
void compat_readiness_update(amqp_connection_state_t c);
void compat_readiness_stop(amqp_connection_state_t c);

/* compat_socket.c */
void compat_free_socket(amqp_socket_t *s);

/* librabbitmq bytes as swamqp bytes (no bytes: length 0). */
static inline swamqp_bytes compat_sb(amqp_bytes_t b)
{
    swamqp_bytes r;
    r.bytes = b.bytes;
    r.len = b.bytes ? b.len : 0;
    return r;
}

/* compat_rpc_core.c: what the calls on a channel share */
/* swamqp tables built from librabbitmq tables live in a scratch pool for one call. */
typedef struct compat_scratch {
    amqp_pool_t pool;
    swamqp_table table;
    int ok;
} compat_scratch;
int compat_report_pending_close(amqp_connection_state_t c, amqp_channel_t ch);
void compat_rpc_fail(amqp_connection_state_t c, amqp_channel_t ch, int rc, const swamqp_error *err);
uint16_t compat_sw_channel(amqp_connection_state_t c, amqp_channel_t ch);
void *compat_rpc_result(amqp_connection_state_t c, amqp_method_number_t id, size_t size);
const swamqp_table *compat_args_of(amqp_connection_state_t c, compat_scratch *s, amqp_table_t args);
void compat_args_done(compat_scratch *s);
void compat_settle_channel(amqp_connection_state_t c, uint16_t s);
int compat_await_ex(amqp_connection_state_t c, uint64_t id, uint32_t timeout_ms, swamqp_error *err, int reports);
int compat_await(amqp_connection_state_t c, uint64_t id, uint32_t timeout_ms, swamqp_error *err);
int compat_status_of(amqp_connection_state_t c, amqp_channel_t ch, uint16_t *s);
int compat_status_from(amqp_connection_state_t c, int rc, swamqp_error *err);
/* Runs the _async form of a request and waits for its completion while reading other events:
 * `call` is the swamqp_*_async call, writing its request id to `id_`. */
#define COMPAT_AWAIT(c, err, call)                                                                 \
    __extension__({                                                                                \
        uint64_t id_ = 0;                                                                          \
        int rc_ = (call);                                                                          \
        rc_ == SWAMQP_OK ? compat_await((c), id_, compat_rpc_timeout(c), &(err)) : rc_;            \
    })

/* compat_frame_queue.c: the inbound frame queue */
/* A list of frames under construction (one message's method, header and bodies). */
typedef struct compat_flist {
    compat_frame *head, *tail;
    int failed;
} compat_flist;
compat_frame *compat_new_frame(uint8_t type, uint16_t channel);
void compat_free_frame(compat_frame *f);
void compat_fl_free(compat_flist *l);
void compat_enqueue_front(amqp_connection_state_t c, compat_flist *l);
compat_frame *compat_method_frame(uint16_t channel, amqp_method_number_t id, size_t size, void **decoded);
compat_frame *compat_find_frame(amqp_connection_state_t c, int channel, int64_t timeout_ms, compat_frame **prev,
                                int *status);
void compat_unlink_frame(amqp_connection_state_t c, compat_frame *f, compat_frame *prev);
void compat_hand_out(amqp_connection_state_t c, compat_frame *f, amqp_frame_t *out);
int compat_wait_frame(amqp_connection_state_t c, amqp_frame_t *out, int64_t timeout_ms);
int64_t compat_tv_ms(const struct timeval *tv);

/* compat_events.c */
/* Handles inbound events now (without waiting) so their effects on channels are seen. */
int compat_pump(amqp_connection_state_t c, uint32_t timeout_ms);
int compat_pump_count(amqp_connection_state_t c, uint32_t timeout_ms, size_t *handled);

/* compat_tls_keys.c */
void compat_tls_mark_initialized(void);

/* compat_wire.c */
typedef struct compat_content compat_content;
void compat_wire_init(amqp_connection_state_t c);
void compat_wire_free(amqp_connection_state_t c);
/* A basic.publish whose header and body frames amqp_send_frame is to collect (after login). */
int compat_wire_start_publish(amqp_connection_state_t c, amqp_channel_t ch, const amqp_basic_publish_t *m);

/* compat_util.c */
/* Moves src's blocks into dst; returns how many it had to free instead (out of memory). */
int compat_pool_take(amqp_pool_t *dst, amqp_pool_t *src);
amqp_bytes_t compat_pool_dup(amqp_pool_t *pool, const void *bytes, size_t len);

/* compat_tables.c */
int compat_table_from_sw(const swamqp_table *in, amqp_table_t *out, amqp_pool_t *pool);
int compat_table_to_sw(const amqp_table_t *in, swamqp_table *out, amqp_pool_t *pool);
int compat_props_from_sw(const swamqp_properties *in, amqp_basic_properties_t *out, amqp_pool_t *pool);
int compat_props_to_sw(const amqp_basic_properties_t *in, swamqp_properties *out, amqp_pool_t *pool);
int compat_props_clone(const amqp_basic_properties_t *in, amqp_basic_properties_t *out, amqp_pool_t *pool);

#endif
