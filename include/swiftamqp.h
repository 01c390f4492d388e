/*
 * swiftamqp.h — the C API of libswiftamqp, an AMQP 0-9-1 client engine (Linux only).
 *
 * ## Model
 * - Handles. A `swamqp_connection *` is an opaque token, not an address: the library never
 *   dereferences it. It encodes a slot and a generation, so a handle that was freed, or was never
 *   issued, is detected and answered with SWAMQP_ERR_INVALID_HANDLE instead of touching memory.
 *   Channels are named by their 16-bit number on a connection.
 * - Threads. Every function may be called from any thread, concurrently. Each connection owns one
 *   I/O thread that reads, writes, sends and checks heartbeats and runs timers; it never runs user
 *   code, so a slow caller never stops heartbeats.
 * - Blocking and non-blocking forms. Every request to the broker exists in a blocking form with a
 *   timeout in milliseconds and, where useful, an `_async` form that returns at once with a request
 *   id. The completion of an `_async` request arrives later as a SWAMQP_EVENT_COMPLETION event with
 *   that request id. Request ids are unique per connection and never reused; replies are matched to
 *   requests, so a request whose waiter gave up never takes another request's reply.
 * - Events. Each connection has one event queue (completions, deliveries, returns, confirms,
 *   closes, blocked/unblocked, log records) and a pollable file descriptor
 *   (swamqp_connection_event_fd) that is readable while events are queued. Drain with
 *   swamqp_next_events (an array per call), or register a callback with swamqp_set_event_callback
 *   and call swamqp_dispatch_events: callbacks run on the thread that calls dispatch, never on the
 *   I/O thread. A blocking function called from inside such a callback returns
 *   SWAMQP_ERR_IN_CALLBACK instead of deadlocking.
 * - Ordering. Events of one channel are queued in the order the broker sent the frames. A
 *   SWAMQP_EVENT_CONNECTION_CLOSED is always the last event of a connection, also after the
 *   application's own close; a completion event carries the channel its request was made on
 *   (0 for connection-level requests).
 * - Channels. A request on a channel that is not open (never opened, closed by us or by the
 *   broker, or 0) fails with SWAMQP_ERR_CHANNEL_CLOSED; an `_async` request then returns
 *   SWAMQP_OK and its completion carries that status. Argument errors (too-long strings, bad
 *   tables) are always reported at call time with SWAMQP_ERR_INVALID_ARGUMENT, nothing sent.
 *   A request on a connection that is not open yet gives SWAMQP_ERR_BAD_STATE; on a closed one,
 *   SWAMQP_ERR_CONNECTION_CLOSED. An `_async` call returns SWAMQP_OK for every error found after
 *   its arguments were checked, and its completion event carries the status.
 * - Errors. Functions return a swamqp_status. Those that can fail for a reason worth reading take a
 *   `swamqp_error *` (may be NULL) that is filled on failure: it tells a library error from a broker
 *   error and carries the broker's reply code, reply text, class id and method id.
 * - Ownership. Pointers passed in are read during the call only and never kept. Pointers handed
 *   out inside events stay valid until the next swamqp_next_events or swamqp_dispatch_events call
 *   on the same connection, or until swamqp_events_release; copy what you keep longer. Strings are
 *   length-plus-pointer byte strings (swamqp_bytes), not NUL-terminated, except where a function
 *   says "C string".
 * - Timeouts. Every `timeout_ms` is milliseconds; SWAMQP_WAIT_FOREVER (UINT32_MAX) means no limit
 *   (wait until the reply, or until the connection ends). Deadlines never wrap: no value, however
 *   large, turns into a short wait. A blocking request to the broker with timeout 0 is refused
 *   with SWAMQP_ERR_INVALID_ARGUMENT before anything is sent (it could only time out); use the
 *   `_async` form not to wait. For swamqp_basic_publish, swamqp_next_events,
 *   swamqp_dispatch_events and swamqp_wait_for_confirms, 0 means "don't wait". A blocking call
 *   that returns SWAMQP_ERR_TIMEOUT gave up waiting, but its request was sent: a late reply
 *   completes nobody and is undone as for swamqp_request_abandon (a late basic.get message is
 *   never lost, a channel opened late is closed again, a consumer started late is cancelled).
 *   An `_async` request waits for its reply without limit unless swamqp_request_set_timeout gives
 *   it a deadline, and swamqp_request_abandon stops waiting for it.
 * - Limits. Lengths and counts are size_t; any above 2^63-1, or above a limit named where the
 *   argument is documented, give SWAMQP_ERR_INVALID_ARGUMENT naming the argument, nothing sent.
 *   Short strings (names, tags, field-table keys, property strings) are at most 255 bytes, long
 *   strings and byte arrays in tables 2^32-1, a published body at most max_message_size.
 *   The event queue and the outbound buffer have byte limits (options). Past event_queue_limit
 *   the I/O thread stops reading the socket (the broker then holds deliveries) until the
 *   application drains; while a blocking call waits for its reply, reading goes on up to 4 times
 *   the limit, since the reply may sit behind deliveries not drained yet. Bytes left unread
 *   because of the limit count as a live broker for the heartbeat check. Past outbound_limit
 *   publishing waits up to its timeout, then fails.
 * - What must be drained. Every connection queues events: a program that never drains them
 *   stops reading once event_queue_limit is reached (log records, confirms and channel closes
 *   count too). A publish-only program should drain now and then (swamqp_events_release is
 *   not needed: the next drain releases the previous batch). Blocking calls produce no
 *   completion events; only `_async` calls do.
 * - NULL. `swamqp_error *error` may always be NULL. `arguments` tables and `properties` may be
 *   NULL (none). Result pointers (`result`, `tag`, `sequence`, `message_count`, `dispatched`) may
 *   be NULL: the result is then not stored. Required, or SWAMQP_ERR_INVALID_ARGUMENT: every
 *   `request_id` of an `_async` call, `channel` of swamqp_channel_open(_async), `events` and
 *   `count` of the drains, `message` of swamqp_basic_get, `options` and `out` of create, connect
 *   and the URL parsers, the outputs of swamqp_connection_tune, `stats`. A swamqp_bytes with a
 *   non-zero `len` needs non-NULL `bytes`. A NULL connection handle gives
 *   SWAMQP_ERR_INVALID_HANDLE (swamqp_connection_is_open false, swamqp_connection_event_fd -1);
 *   swamqp_connection_free and swamqp_message_free accept NULL. C strings in the options may be
 *   NULL: the default (host, vhost, user, password) or nothing (the rest).
 * - Flags. Each function names the SWAMQP_* flags it reads; any other bit gives
 *   SWAMQP_ERR_INVALID_ARGUMENT, nothing sent.
 * - Outbound order. All frames of a connection go through one outbound buffer in the order the
 *   calls queued them: a blocking request made after publishes is written after them (so, on
 *   one channel, the broker sees it after them), and swamqp_connection_close writes its
 *   connection.close after every publish, ack, nack and reject queued before it.
 * - Concurrency on one connection. Requests, publishes, acks and channel calls may run on any
 *   threads at once; frames of one thread's calls go out in call order. Draining is different:
 *   a batch of events belongs to the connection, and the next swamqp_next_events,
 *   swamqp_dispatch_events or swamqp_events_release on any thread releases it, so drain from one
 *   thread at a time (or copy what you keep). swamqp_connection_free must not race other calls on
 *   the same handle that started after it (they get SWAMQP_ERR_INVALID_HANDLE once it is freed;
 *   threads already blocked in the handle wake up with SWAMQP_ERR_CONNECTION_CLOSED).
 * - Secrets. Passwords never appear in log records, error texts or descriptions.
 * - fork(). A connection created before fork() cannot be used in the child: every call on it
 *   returns SWAMQP_ERR_FORKED there (swamqp_connection_is_open is false, swamqp_connection_event_fd
 *   -1, and swamqp_connection_free leaves the parent's connection alone).
 *
 * ## ABI versioning
 * The shared object is libswiftamqp.so.MAJOR (SONAME libswiftamqp.so.0). Within one MAJOR,
 * functions, enum values and flags are only added. Structs passed in carry no size field and are
 * never changed; swamqp_connection_options alone may grow at its end, for programs that pass
 * their sizeof to its _sized functions (see swamqp_connection_options_init_sized); other structs
 * are only ever extended through new functions. A release that removes or changes
 * anything bumps MAJOR. While MAJOR is 0, MINOR bumps may break the ABI (announced in the README).
 */
#ifndef SWIFTAMQP_H
#define SWIFTAMQP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SWAMQP_VERSION_MAJOR 0
#define SWAMQP_VERSION_MINOR 1
#define SWAMQP_VERSION_PATCH 0
#define SWAMQP_VERSION_STRING "0.1.0"
/** MAJOR * 10000 + MINOR * 100 + PATCH, as swamqp_version_number() returns it. */
#define SWAMQP_VERSION_NUMBER (SWAMQP_VERSION_MAJOR * 10000 + SWAMQP_VERSION_MINOR * 100 + SWAMQP_VERSION_PATCH)

/** A timeout_ms meaning "no limit": wait until the thing happens or the connection ends. */
#define SWAMQP_WAIT_FOREVER UINT32_MAX

/* ------------------------------------------------------------------------------------------ */
/* Status codes, grouped by subsystem. Zero is success; every error is negative.              */
/* ------------------------------------------------------------------------------------------ */
typedef enum swamqp_status {
    SWAMQP_OK = 0,

    /* Caller errors: nothing was sent. */
    SWAMQP_ERR_INVALID_ARGUMENT = -100, /**< NULL where a value is needed, out-of-range value, bad URL, string too long. */
    SWAMQP_ERR_INVALID_HANDLE = -101,   /**< NULL, freed or never-issued connection handle. */
    SWAMQP_ERR_NO_MEMORY = -102,
    SWAMQP_ERR_IN_CALLBACK = -103,      /**< a blocking call made from inside an event callback. */
    SWAMQP_ERR_FORKED = -104,           /**< the handle belongs to the parent of a fork(). */
    SWAMQP_ERR_BAD_STATE = -105,        /**< e.g. open on an open connection, a request before the
                                             connection is open, a request on a raw channel. */
    SWAMQP_ERR_CHANNEL_LIMIT = -106,    /**< no free channel number within channel_max. */
    SWAMQP_ERR_NOT_CONFIRM_MODE = -107, /**< swamqp_wait_for_confirms on a channel without confirm.select. */
    SWAMQP_ERR_STALE_DELIVERY_TAG = -108, /**< ack/nack/reject of a delivery received before an automatic
                                               recovery: not sent (it would close the channel); the
                                               broker redelivers that message. */

    /* Waiting. */
    SWAMQP_ERR_TIMEOUT = -200,          /**< the wait ended before the reply; the request may still complete. */
    SWAMQP_ERR_WOULD_BLOCK = -201,      /**< timeout 0 and the call would have to wait (blocked, buffer full). */

    /* Network and transport. */
    SWAMQP_ERR_RESOLVE = -300,          /**< the host name did not resolve. */
    SWAMQP_ERR_CONNECT = -301,          /**< no address of the host accepted the connection. */
    SWAMQP_ERR_IO = -302,               /**< a socket read or write failed (reset, broken pipe). */
    SWAMQP_ERR_CONNECTION_LOST = -303,  /**< the peer closed the socket without connection.close. */
    SWAMQP_ERR_HEARTBEAT_TIMEOUT = -304,/**< nothing received for 2 heartbeat intervals. */
    SWAMQP_ERR_TLS = -305,
    SWAMQP_ERR_RECOVERING = -306,       /**< the connection is being recovered; retry once it is back. */

    /* Protocol: the peer sent something that breaks AMQP 0-9-1; the connection is closed. */
    SWAMQP_ERR_PROTOCOL = -400,         /**< malformed frame or method, unknown ids, bad field table. */
    SWAMQP_ERR_FRAME_TOO_LARGE = -401,  /**< a frame larger than the negotiated frame_max. */
    SWAMQP_ERR_MESSAGE_TOO_LARGE = -402,/**< a body larger than max_message_size. */
    SWAMQP_ERR_UNEXPECTED_FRAME = -403, /**< a valid frame at the wrong moment. */

    /* Refused by the broker within the protocol (in the -400 range, but nothing broke: AUTH ends
     * only the handshake it refused, NACKED closes nothing). */
    SWAMQP_ERR_AUTH = -404,             /**< login refused (wrong user or password, or no access to vhost). */
    SWAMQP_ERR_NACKED = -405,           /**< the broker nacked a confirmed publish (swamqp_wait_for_confirms). */

    /* Closed on purpose: by the broker (swamqp_error has its reply code and text) or by the application. */
    SWAMQP_ERR_CHANNEL_CLOSED = -500,   /**< the channel was closed (by the broker: a channel exception). */
    SWAMQP_ERR_CONNECTION_CLOSED = -501,/**< the connection is closed (by the broker, or earlier). */
    SWAMQP_ERR_CLOSED_BY_APPLICATION = -502 /**< the clean end: the application's swamqp_connection_close
                                             or _free. The status of that CONNECTION_CLOSED event and of
                                             calls that were waiting then; later calls get
                                             SWAMQP_ERR_CONNECTION_CLOSED. */
} swamqp_status;

/** A static, NUL-terminated English name for a status ("SWAMQP_ERR_TIMEOUT"); never NULL. */
const char *swamqp_status_string(int status);

/** Where an error came from. */
typedef enum swamqp_error_origin {
    SWAMQP_ORIGIN_NONE = 0,      /**< no error. */
    SWAMQP_ORIGIN_LIBRARY = 1,   /**< detected by the library (arguments, network, timeouts, bad frames). */
    SWAMQP_ORIGIN_BROKER = 2     /**< the broker closed the channel or connection: reply_code etc. are set. */
} swamqp_error_origin;

/** Error details, filled by the callee on failure. Owned by the caller; no pointers inside. */
typedef struct swamqp_error {
    int32_t status;          /**< the swamqp_status also returned. */
    int32_t origin;          /**< swamqp_error_origin. */
    uint16_t reply_code;     /**< broker: e.g. 404 NOT_FOUND, 403 ACCESS_REFUSED; 0 for library errors. */
    uint16_t class_id;       /**< broker: the class and method that caused it, or 0. */
    uint16_t method_id;
    uint16_t channel;        /**< 0 for connection-level errors. */
    char message[512];       /**< NUL-terminated: the broker's reply text or the library's explanation. */
} swamqp_error;

/* ------------------------------------------------------------------------------------------ */
/* Version                                                                                    */
/* ------------------------------------------------------------------------------------------ */
/** The library's version as a static C string, e.g. "0.1.0". Thread-safe. */
const char *swamqp_version(void);
/** MAJOR * 10000 + MINOR * 100 + PATCH of the loaded library. Thread-safe. */
uint32_t swamqp_version_number(void);

/* ------------------------------------------------------------------------------------------ */
/* Byte strings, field tables and properties                                                  */
/* ------------------------------------------------------------------------------------------ */
/** A byte string: `len` bytes at `bytes` (need not be NUL-terminated; NULL allowed when len 0). */
typedef struct swamqp_bytes {
    const void *bytes;
    size_t len;
} swamqp_bytes;

/**
 * The bytes of the C string `text` without its NUL, as a swamqp_bytes; NULL gives {NULL, 0}. The
 * string must stay valid while the call it is passed to runs. Header-only (static inline): no
 * library symbol, any thread.
 */
static inline swamqp_bytes swamqp_cstr(const char *text)
{
    swamqp_bytes b = {text, 0};
    if (text)
        while (text[b.len])
            b.len++;
    return b;
}

/** Field value kinds, named after the AMQP tag written on the wire. */
typedef enum swamqp_field_kind {
    SWAMQP_FIELD_BOOL = 't',
    SWAMQP_FIELD_I8 = 'b',
    SWAMQP_FIELD_U8 = 'B',
    SWAMQP_FIELD_I16 = 's',
    SWAMQP_FIELD_U16 = 'u',
    SWAMQP_FIELD_I32 = 'I',
    SWAMQP_FIELD_U32 = 'i',
    SWAMQP_FIELD_I64 = 'l',
    SWAMQP_FIELD_U64 = 'L',      /**< decoded (librabbitmq's meaning); sent as 'l', so values above
                                      INT64_MAX are refused with SWAMQP_ERR_INVALID_ARGUMENT. */
    SWAMQP_FIELD_F32 = 'f',
    SWAMQP_FIELD_F64 = 'd',
    SWAMQP_FIELD_DECIMAL = 'D',
    SWAMQP_FIELD_STRING = 'S',   /**< long string (bytes). */
    SWAMQP_FIELD_BYTES = 'x',    /**< byte array. */
    SWAMQP_FIELD_ARRAY = 'A',
    SWAMQP_FIELD_TIMESTAMP = 'T',
    SWAMQP_FIELD_TABLE = 'F',
    SWAMQP_FIELD_VOID = 'V'
} swamqp_field_kind;

struct swamqp_field_value;
struct swamqp_table_entry;

/** A field table: `count` entries at `entries`. An empty table is {0, NULL}. */
typedef struct swamqp_table {
    size_t count;
    const struct swamqp_table_entry *entries;
} swamqp_table;

/** A field array: `count` values at `values`. */
typedef struct swamqp_array {
    size_t count;
    const struct swamqp_field_value *values;
} swamqp_array;

typedef struct swamqp_decimal {
    uint8_t scale;
    uint32_t value;
} swamqp_decimal;

/** One typed value. `kind` (a swamqp_field_kind) selects the member of `value`. */
typedef struct swamqp_field_value {
    uint8_t kind;
    union {
        bool boolean;
        int8_t i8;
        uint8_t u8;
        int16_t i16;
        uint16_t u16;
        int32_t i32;
        uint32_t u32;
        int64_t i64;
        uint64_t u64;       /**< also used for SWAMQP_FIELD_TIMESTAMP. */
        float f32;
        double f64;
        swamqp_decimal decimal;
        swamqp_bytes bytes; /**< SWAMQP_FIELD_STRING and SWAMQP_FIELD_BYTES. */
        swamqp_array array;
        swamqp_table table;
    } value;
} swamqp_field_value;

/** A table entry; keys are short strings of at most 255 bytes (AMQP 0-9-1 asks for 128; RabbitMQ
 * and librabbitmq accept 255). */
typedef struct swamqp_table_entry {
    swamqp_bytes key;
    swamqp_field_value value;
} swamqp_table_entry;

/** Bits of swamqp_properties.flags: which properties are present. */
enum {
    SWAMQP_PROP_CONTENT_TYPE = 1u << 0,
    SWAMQP_PROP_CONTENT_ENCODING = 1u << 1,
    SWAMQP_PROP_HEADERS = 1u << 2,
    SWAMQP_PROP_DELIVERY_MODE = 1u << 3,
    SWAMQP_PROP_PRIORITY = 1u << 4,
    SWAMQP_PROP_CORRELATION_ID = 1u << 5,
    SWAMQP_PROP_REPLY_TO = 1u << 6,
    SWAMQP_PROP_EXPIRATION = 1u << 7,
    SWAMQP_PROP_MESSAGE_ID = 1u << 8,
    SWAMQP_PROP_TIMESTAMP = 1u << 9,
    SWAMQP_PROP_TYPE = 1u << 10,
    SWAMQP_PROP_USER_ID = 1u << 11,
    SWAMQP_PROP_APP_ID = 1u << 12,
    SWAMQP_PROP_CLUSTER_ID = 1u << 13
};

/** The 14 basic properties. A property counts only when its bit is set in `flags`. */
typedef struct swamqp_properties {
    uint32_t flags;
    swamqp_bytes content_type;
    swamqp_bytes content_encoding;
    swamqp_table headers;
    uint8_t delivery_mode;   /**< 1 transient, 2 persistent. */
    uint8_t priority;
    swamqp_bytes correlation_id;
    swamqp_bytes reply_to;
    swamqp_bytes expiration;
    swamqp_bytes message_id;
    uint64_t timestamp;      /**< seconds since the epoch. */
    swamqp_bytes type;
    swamqp_bytes user_id;
    swamqp_bytes app_id;
    swamqp_bytes cluster_id;
} swamqp_properties;

/** A received message: a delivery, a basic.get result or a returned message. */
typedef struct swamqp_message {
    uint16_t channel;
    bool redelivered;
    uint64_t delivery_tag;       /**< 0 for returned messages. */
    swamqp_bytes consumer_tag;   /**< deliveries only. */
    swamqp_bytes exchange;
    swamqp_bytes routing_key;
    uint32_t message_count;      /**< basic.get only: messages left in the queue. */
    uint16_t reply_code;         /**< returns only: e.g. 312 NO_ROUTE. */
    swamqp_bytes reply_text;     /**< returns only. */
    swamqp_properties properties;
    swamqp_bytes body;
} swamqp_message;

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                */
/* ------------------------------------------------------------------------------------------ */
typedef struct swamqp_connection swamqp_connection; /**< opaque token; see "Handles" above. */

/** A host and port (C string host, read during swamqp_connection_create). */
typedef struct swamqp_endpoint {
    const char *host;
    uint16_t port;
} swamqp_endpoint;

/** SASL mechanisms. AUTO picks EXTERNAL (see below), else PLAIN when the broker offers it, else AMQPLAIN. */
typedef enum swamqp_auth_mechanism {
    SWAMQP_AUTH_AUTO = 0,
    SWAMQP_AUTH_PLAIN = 1,
    SWAMQP_AUTH_AMQPLAIN = 2,
    SWAMQP_AUTH_EXTERNAL = 3  /**< the identity is the TLS client certificate (RabbitMQ plugin
                                   rabbitmq_auth_mechanism_ssl); AUTO picks it when tls_cert_file is
                                   set and the broker offers it. */
} swamqp_auth_mechanism;

/**
 * Connection options. Initialise with swamqp_connection_options_init, then set what you need.
 * C strings are read during swamqp_connection_create only.
 */
typedef struct swamqp_connection_options {
    const char *host;              /**< C string: name, IPv4 or IPv6 literal. Default "localhost". */
    uint16_t port;                 /**< default 5672. */
    const char *vhost;             /**< C string, default "/". */
    const char *user;              /**< C string, default "guest". */
    const char *password;          /**< C string, default "guest"; never logged. */
    uint16_t heartbeat;            /**< seconds we propose; default 60. 0: no heartbeats, whatever
                                        the broker proposes (our tune-ok decides and says 0). Else
                                        the smaller of ours and the broker's (the broker's 0 keeps
                                        ours). */
    uint32_t frame_max;            /**< bytes we accept per frame (all of it: header, payload and end
                                        octet); default 131072; below 4096 is refused; 0 takes the
                                        broker's proposal, up to 4 GiB (each frame is held in memory
                                        whole while it arrives). */
    uint16_t channel_max;          /**< default 2047; 0 = 65535 (see tune rule in docs). */
    uint32_t connect_timeout_ms;   /**< bounds resolve + connect + handshake. Default 30000 (also for
                                        0); SWAMQP_WAIT_FOREVER: no bound. */
    const char *connection_name;   /**< C string or NULL: sent as client property connection_name. */
    uint64_t max_message_size;     /**< bodies announced larger than this close the connection
                                        (SWAMQP_ERR_MESSAGE_TOO_LARGE), and publishes with larger
                                        bodies are refused (SWAMQP_ERR_INVALID_ARGUMENT). Default
                                        128 MiB (also for 0); UINT64_MAX: no limit of ours. */
    uint64_t event_queue_limit;    /**< bytes of queued events before reading pauses. Default 64 MiB. */
    uint64_t outbound_limit;       /**< bytes of unsent frames before publishing waits. Default 16 MiB. */
    int auth_mechanism;            /**< swamqp_auth_mechanism; default SWAMQP_AUTH_AUTO. */
    uint32_t max_unconfirmed;      /**< per channel in confirm mode: publishing waits while this many
                                        publishes await their confirm. Default 10000; 0 = no bound. */
    int socket_fd;                 /**< -1 (default), or an already connected stream socket to use; once
                                        swamqp_connection_create succeeds the connection owns it and
                                        closes it (on failure it stays the caller's). */

    /* Automatic recovery (off by default). After an unexpected loss (not our close, not a login
       refused on the first connect) the connection reconnects with capped exponential backoff and
       jitter, trying the host and then each of `endpoints` in turn, and restores channels (same
       numbers), qos, confirm and tx modes, exchanges, queues (server-named ones get new names and
       their bindings and consumers follow), bindings and consumers (same tags). Events report
       start, entities that failed and the outcome. Requests in flight at the loss fail
       (SWAMQP_ERR_CONNECTION_LOST etc.), unconfirmed publishes fail through a CONFIRM_NACK event,
       requests during recovery fail with SWAMQP_ERR_RECOVERING, publishes wait up to their timeout.
       Delivery tags and confirm sequence numbers stay monotonic across recoveries. */
    bool automatic_recovery;
    uint32_t recovery_initial_delay_ms;    /**< first delay; doubles per attempt. Default 250. */
    uint32_t recovery_max_delay_ms;        /**< cap of the delay. Default 30000. */
    uint32_t recovery_max_attempts;        /**< 0 (default): never give up. */
    const struct swamqp_endpoint *endpoints; /**< further hosts to try after host:port, or NULL; copied at create. */
    size_t endpoint_count;                 /**< at most 1024. */

    /* TLS through the system OpenSSL. Verification of the broker's certificate chain and host name
       is ON by default; only the two loudly named flags below turn parts of it off. Minimum
       version TLS 1.2. C strings are read during swamqp_connection_create (and files loaded at
       connect time). */
    bool tls;                              /**< use TLS; an amqps:// URL sets it (and port 5671). */
    const char *tls_ca_file;               /**< PEM file of CA certificates to trust, or NULL. */
    const char *tls_ca_dir;                /**< OpenSSL hashed directory of CA certificates, or NULL. */
    const swamqp_bytes *tls_ca_certificates; /**< DER certificates to trust, copied at create; or NULL.
                                                  With no CA given at all, the system's CAs are used. */
    size_t tls_ca_certificate_count;       /**< at most 1024. */
    const char *tls_cert_file;             /**< client certificate chain (PEM) for mutual TLS / EXTERNAL. */
    const char *tls_key_file;              /**< its private key (PEM); NULL: the key is in tls_cert_file. */
    const char *tls_key_password;          /**< the key's password, or NULL; never logged. */
    const char *tls_server_name;           /**< SNI and the name the certificate must carry; NULL: host. */
    const char *tls_ciphers;               /**< OpenSSL cipher list for TLS 1.2, or NULL for OpenSSL's. */
    bool tls_insecure_skip_verify;         /**< DANGER: accept any certificate from anyone. */
    bool tls_insecure_skip_hostname_check; /**< DANGER: verify the chain but not that it names the host. */
} swamqp_connection_options;

/** Fills `options` with the defaults listed above. */
void swamqp_connection_options_init(swamqp_connection_options *options);

/*
 * Sized forms. swamqp_connection_options may grow at its end in a later release (new fields,
 * never a changed one). A program that passes its own sizeof(swamqp_connection_options) to the
 * _sized forms keeps working with such a library: the library reads (and init writes) only that
 * many bytes and gives the fields past them their defaults. The plain forms assume the size of the
 * library they run against. swamqp_parse_url and swamqp_parse_url_list write only fields of the
 * first release's struct, so they need no sized form.
 */

/**
 * The size of swamqp_connection_options that this library knows (sizeof in its own build).
 * Thread-safe.
 */
size_t swamqp_connection_options_size(void);

/**
 * As swamqp_connection_options_init for a struct of `options_size` bytes (the caller's sizeof).
 * SWAMQP_ERR_INVALID_ARGUMENT, nothing written, when `options` is NULL or `options_size` is not a
 * size the library knows: smaller than the first release's struct or larger than its own (a
 * program built against a newer header than the library). Thread-safe.
 */
int swamqp_connection_options_init_sized(swamqp_connection_options *options, size_t options_size);

/**
 * Parses an `amqp://` or `amqps://` URL (C string) into `options`, over the values already there,
 * as RabbitMQ's URI spec describes: `amqp[s]://user:password@host:port/vhost?query`. User, password,
 * host and vhost are percent-decoded; no path keeps the vhost (default "/"), while a bare "/" path
 * names the empty vhost "" (write `/%2f` for "/"); `[::1]` brackets an IPv6 address; amqps sets
 * `tls` and the default port 5671. Query parameters: heartbeat (s), connection_timeout (ms),
 * channel_max, frame_max, auth_mechanism (plain, amqplain, external), cacertfile, certfile,
 * keyfile, verify (verify_peer or verify_none, the latter setting tls_insecure_skip_verify) and
 * server_name_indication (a name, or "disable" to send none and check none). String
 * members then point into storage owned by the library that stays valid until the next call of
 * swamqp_parse_url on the same thread. SWAMQP_ERR_INVALID_ARGUMENT with `error->message` naming the
 * part that is wrong.
 */
int swamqp_parse_url(const char *url, swamqp_connection_options *options, swamqp_error *error);

/**
 * Parses a list of URLs separated by commas or spaces (a cluster's nodes): the first fills `options`
 * as swamqp_parse_url does; every further URL adds its host and port to `options->endpoints`
 * (storage as for swamqp_parse_url; credentials and vhost come from the first). Sets
 * automatic_recovery, since a list only helps a connection that reconnects.
 */
int swamqp_parse_url_list(const char *urls, swamqp_connection_options *options, swamqp_error *error);

/**
 * Creates a connection handle from `options` (copied) without connecting; starts no thread.
 * `*out` receives the handle. Free it with swamqp_connection_free. Invalid options (frame_max below
 * 4096, an empty host without socket_fd) give SWAMQP_ERR_INVALID_ARGUMENT here.
 */
int swamqp_connection_create(const swamqp_connection_options *options, swamqp_connection **out,
                             swamqp_error *error);

/**
 * As swamqp_connection_create, reading only `options_size` bytes of `options` (the caller's
 * sizeof; fields past them take their defaults). Sizes the library does not know give
 * SWAMQP_ERR_INVALID_ARGUMENT as for swamqp_connection_options_init_sized, `*out` NULL.
 */
int swamqp_connection_create_sized(const swamqp_connection_options *options, size_t options_size,
                                   swamqp_connection **out, swamqp_error *error);

/**
 * Connects and performs the AMQP handshake (resolve, TCP, TLS when configured, protocol header,
 * SASL with the options' mechanism (see swamqp_sasl_mechanism), tune, open),
 * blocking up to the connect timeout. Tries each address of the host in turn. On success the I/O
 * thread runs; on failure the handle stays valid (free it) and `error` says why: SWAMQP_ERR_RESOLVE,
 * SWAMQP_ERR_CONNECT, SWAMQP_ERR_AUTH (wrong credentials), SWAMQP_ERR_TIMEOUT, ...
 */
int swamqp_connection_open(swamqp_connection *connection, swamqp_error *error);

/** As swamqp_connection_open without waiting: a SWAMQP_EVENT_COMPLETION with `*request_id` follows. */
int swamqp_connection_open_async(swamqp_connection *connection, uint64_t *request_id, swamqp_error *error);

/** swamqp_connection_create followed by swamqp_connection_open; on failure `*out` is NULL. */
int swamqp_connect(const swamqp_connection_options *options, swamqp_connection **out, swamqp_error *error);
/** swamqp_connection_create_sized followed by swamqp_connection_open; on failure `*out` is NULL. */
int swamqp_connect_sized(const swamqp_connection_options *options, size_t options_size, swamqp_connection **out,
                         swamqp_error *error);

/**
 * Closes the connection (connection.close with reply 200, waits for close-ok up to `timeout_ms`,
 * then closes the socket regardless: the socket is closed within `timeout_ms`, whether the close
 * frame was written by the calling thread or the I/O thread). 0 sends connection.close and closes
 * at once; SWAMQP_WAIT_FOREVER waits for close-ok (or the connection's loss). Queued events stay
 * readable. Closing a closed or never-opened connection returns SWAMQP_OK.
 */
int swamqp_connection_close(swamqp_connection *connection, uint32_t timeout_ms, swamqp_error *error);

/** As swamqp_connection_close without waiting; a SWAMQP_EVENT_COMPLETION follows. Without
 * close-ok the socket is closed after 5 s (the `_async` form takes no timeout). */
int swamqp_connection_close_async(swamqp_connection *connection, uint64_t *request_id, swamqp_error *error);

/**
 * Closes (bounded by 2 s) if still open, stops the I/O thread, closes the event fd and invalidates
 * the handle: later calls with it return SWAMQP_ERR_INVALID_HANDLE. Whatever the state (never
 * opened, open, recovering), the connection ends: threads blocked in a publish, a request or a
 * drain on it wake at once (SWAMQP_ERR_CONNECTION_CLOSED), and an adopted socket_fd is closed even
 * if the connection never opened. Must not be called from inside an event callback of the same
 * connection (returns SWAMQP_ERR_IN_CALLBACK); freeing another connection there is allowed. NULL
 * is accepted.
 */
int swamqp_connection_free(swamqp_connection *connection);

/** True while the connection is open (handshake done, not closed). False for invalid handles. */
bool swamqp_connection_is_open(swamqp_connection *connection);

/** The negotiated values after open (0 before). All three out pointers are required. */
int swamqp_connection_tune(swamqp_connection *connection, uint16_t *channel_max, uint32_t *frame_max,
                           uint16_t *heartbeat);

/* ------------------------------------------------------------------------------------------ */
/* Events                                                                                     */
/* ------------------------------------------------------------------------------------------ */
typedef enum swamqp_event_type {
    SWAMQP_EVENT_NONE = 0,
    SWAMQP_EVENT_COMPLETION = 1,        /**< an _async request finished: request_id, status, error, results. */
    SWAMQP_EVENT_DELIVERY = 2,          /**< basic.deliver to a consumer: message. */
    SWAMQP_EVENT_RETURN = 3,            /**< basic.return of a mandatory publish: message; on a channel in
                                             confirm mode delivery_tag = the sequence number of the
                                             publish returned (0 when none matches): the oldest
                                             unconfirmed mandatory publish with the same exchange,
                                             routing key and body, as RabbitMQ returns a message
                                             before it confirms it. */
    SWAMQP_EVENT_CONFIRM_ACK = 4,       /**< publisher confirm: delivery_tag, multiple. */
    SWAMQP_EVENT_CONFIRM_NACK = 5,
    SWAMQP_EVENT_CHANNEL_CLOSED = 6,    /**< by the broker (error filled) or after our close;
                                             request_id = the channel's generation: the id of the
                                             request that opened it (swamqp_channel_open_async's
                                             `*request_id`), so a close of an earlier channel with
                                             the same number is told from the current one's. */
    SWAMQP_EVENT_CONNECTION_CLOSED = 7, /**< the connection ended: error says how (the last event). */
    SWAMQP_EVENT_BLOCKED = 8,           /**< connection.blocked: name = reason. */
    SWAMQP_EVENT_UNBLOCKED = 9,
    SWAMQP_EVENT_CONSUMER_CANCELLED = 10, /**< the broker cancelled a consumer: name = consumer tag. */
    SWAMQP_EVENT_LOG = 11,              /**< a log record: log_level, name = text. */
    SWAMQP_EVENT_FLOW = 12,             /**< channel.flow from the broker: flags & SWAMQP_EVENT_FLAG_ACTIVE. */
    SWAMQP_EVENT_RAW_FRAME = 13,        /**< a frame on a channel in raw mode: frame_type, class_id,
                                             method_id, payload. */
    SWAMQP_EVENT_RECOVERY_STARTED = 14, /**< automatic recovery began: error = the cause of the loss. */
    SWAMQP_EVENT_RECOVERY_ENTITY_FAILED = 15, /**< name = what could not be restored, error = why. */
    SWAMQP_EVENT_RECOVERED = 16,        /**< recovery finished; message_count = entities not restored. */
    SWAMQP_EVENT_RECOVERY_FAILED = 17,  /**< recovery gave up (error); CONNECTION_CLOSED follows. */
    SWAMQP_EVENT_QUEUE_RENAMED = 18,    /**< recovery re-declared a server-named queue: name = its new
                                             name, payload = the old one (publish to the new one). */
    SWAMQP_EVENT_LATE_GET_MESSAGE = 19  /**< a message of an abandoned request with SWAMQP_NO_ACK
                                             (the broker has forgotten it, nothing else holds it):
                                             the result of a basic.get that timed out or was
                                             abandoned, or a delivery to a consumer whose
                                             basic.consume was (see swamqp_request_abandon):
                                             request_id (that request; 0 for a blocking call's),
                                             channel, delivery_tag, message. */
} swamqp_event_type;

typedef enum swamqp_log_level {
    SWAMQP_LOG_ERROR = 1,
    SWAMQP_LOG_WARNING = 2,
    SWAMQP_LOG_INFO = 3,
    SWAMQP_LOG_DEBUG = 4
} swamqp_log_level;

/** Bits of swamqp_event.flags. */
enum {
    SWAMQP_EVENT_FLAG_MULTIPLE = 1u << 0, /**< confirm covers all tags up to delivery_tag. */
    SWAMQP_EVENT_FLAG_ACTIVE = 1u << 1,   /**< channel.flow active. */
    SWAMQP_EVENT_FLAG_EMPTY = 1u << 2     /**< basic.get completion: the queue was empty (message NULL). */
};

/**
 * One event. Which members mean something depends on `type`; the rest are zero. Pointers are owned
 * by the library and valid until the next swamqp_next_events / swamqp_dispatch_events on this
 * connection or swamqp_events_release.
 *
 * The members each type fills (`channel` is the channel concerned, 0 for the connection):
 *
 *   COMPLETION             request_id, channel, status (error when not OK), and by request:
 *                          channel.open: channel = the new channel; queue.declare: name = queue
 *                          name, message_count, consumer_count; queue.purge / queue.delete:
 *                          message_count; basic.consume / basic.cancel: name = consumer tag;
 *                          basic.get: message, or flags EMPTY
 *   DELIVERY               channel, delivery_tag, name = consumer tag, message
 *   RETURN                 channel, message (reply code and text in it), delivery_tag = the
 *                          returned publish's sequence number in confirm mode (else 0)
 *   CONFIRM_ACK / _NACK    channel, delivery_tag = sequence, flags MULTIPLE; a NACK with a status
 *                          (and error) fails every unconfirmed sequence up to delivery_tag
 *   CHANNEL_CLOSED         channel, request_id = the channel's generation, status and error when
 *                          the broker closed it (status 0, error NULL after our own close)
 *   CONNECTION_CLOSED      status, error
 *   BLOCKED                name = the broker's reason
 *   UNBLOCKED              (nothing more)
 *   CONSUMER_CANCELLED     channel, name = consumer tag
 *   LOG                    log_level, name = the text
 *   FLOW                   channel, flags ACTIVE
 *   RAW_FRAME              channel, frame_type, class_id and method_id (methods), payload
 *   RECOVERY_STARTED       status, error = the cause of the loss
 *   RECOVERY_ENTITY_FAILED channel, name = the entity, status, error = why
 *   RECOVERED              message_count = entities not restored
 *   RECOVERY_FAILED        status, error
 *   QUEUE_RENAMED          name = the queue's new name, payload = its old name
 *   LATE_GET_MESSAGE       request_id (0 for a blocking call's), channel, delivery_tag, message
 */
typedef struct swamqp_event {
    int32_t type;                   /**< swamqp_event_type. */
    int32_t status;                 /**< completion: the request's swamqp_status; closes: the cause
                                         (equal to error->status); else 0. */
    uint16_t channel;
    uint32_t flags;                 /**< SWAMQP_EVENT_FLAG_*. */
    uint64_t request_id;            /**< completion: the id the _async call returned; CHANNEL_CLOSED:
                                         the channel's generation; LATE_GET_MESSAGE: the request. */
    uint64_t delivery_tag;          /**< confirms (the sequence number; with FLAG_MULTIPLE all up to
                                         it), deliveries and LATE_GET_MESSAGE (the message's tag),
                                         RETURN (the returned publish's sequence number, or 0). */
    uint32_t message_count;         /**< queue.declare-ok, queue.purge-ok, queue.delete-ok. */
    uint32_t consumer_count;        /**< queue.declare-ok. */
    int32_t log_level;              /**< SWAMQP_EVENT_LOG: swamqp_log_level. */
    swamqp_bytes name;              /**< queue name (declare-ok), consumer tag (consume-ok, delivery,
                                         cancelled), blocked reason, log text, recovery entity. */
    const swamqp_message *message;  /**< delivery, return, basic.get result; else NULL. */
    const swamqp_error *error;      /**< failed completion, channel or connection closed; else NULL. */
    uint8_t frame_type;             /**< SWAMQP_EVENT_RAW_FRAME: 1 method, 2 content header, 3 body. */
    uint16_t class_id;              /**< raw method frames: the method's class and method ids. */
    uint16_t method_id;
    swamqp_bytes payload;           /**< raw frames: a method's encoded arguments (after the ids), or
                                         the whole payload of a header or body frame. */
} swamqp_event;

/**
 * Stops waiting for the `_async` request `request_id`: no SWAMQP_EVENT_COMPLETION comes for it
 * (one queued but not drained yet is taken back). The request was sent, so a late reply is
 * undone: a channel that opens is closed again, a consumer that starts is cancelled (until the
 * broker confirms the cancel, its deliveries go back to the queue, or with SWAMQP_NO_ACK come as
 * SWAMQP_EVENT_LATE_GET_MESSAGE events), a basic.get message goes back to the queue (or with
 * SWAMQP_NO_ACK comes as SWAMQP_EVENT_LATE_GET_MESSAGE), a swamqp_wait_for_confirms_async is
 * forgotten, a connection.close still closes the connection, an update-secret still takes effect;
 * other replies (declare-ok, bind-ok...) leave nothing to undo. This holds also for a completion
 * in the batch the application holds (drained, not yet released): the reply is undone although
 * its event was handed out. SWAMQP_ERR_INVALID_ARGUMENT when no such `_async` request awaits its
 * completion (never issued, blocking, completed in an earlier batch, or the connection's own
 * open: free the connection instead), nothing changed. Thread-safe; `error` may be NULL.
 */
int swamqp_request_abandon(swamqp_connection *connection, uint64_t request_id, swamqp_error *error);

/**
 * Gives the `_async` request `request_id` a deadline `timeout_ms` from now, replacing an earlier
 * one (SWAMQP_WAIT_FOREVER: no deadline, as every request starts): if it has not completed by
 * then, its SWAMQP_EVENT_COMPLETION comes with SWAMQP_ERR_TIMEOUT and the request is abandoned as
 * by swamqp_request_abandon (its late reply undone). A request that completed already needs no
 * deadline: SWAMQP_OK, nothing changed; the connection's own open keeps connect_timeout_ms, and an
 * abandoned connection.close still ends the connection at its own deadline. SWAMQP_ERR_INVALID_ARGUMENT when `request_id` was never issued on this
 * connection. Thread-safe; `error` may be NULL.
 */
int swamqp_request_set_timeout(swamqp_connection *connection, uint64_t request_id, uint32_t timeout_ms,
                               swamqp_error *error);

/**
 * A file descriptor that is readable while the connection has queued events (level-triggered: it
 * stays readable until the queue is drained empty). Owned by the library (never close it); valid
 * until swamqp_connection_free. -1 for an invalid handle. Usable with poll/epoll/asyncio add_reader.
 */
int swamqp_connection_event_fd(swamqp_connection *connection);

/**
 * Moves up to `capacity` queued events into `events`, waiting up to `timeout_ms` for the first one
 * (0: don't wait). `*count` receives how many were written (0 on timeout, which returns SWAMQP_OK).
 * Releases the previous batch's memory first. After SWAMQP_EVENT_CONNECTION_CLOSED, later calls
 * return SWAMQP_ERR_CONNECTION_CLOSED with count 0.
 */
int swamqp_next_events(swamqp_connection *connection, swamqp_event *events, size_t capacity,
                       size_t *count, uint32_t timeout_ms);

/**
 * As swamqp_next_events, for consumers that want fewer, larger batches: once the first event is
 * there (within `timeout_ms`), it waits up to `linger_us` microseconds more, never past
 * `timeout_ms`, until `min_count` events are queued (or the connection ends, or the queue reaches
 * event_queue_limit), then moves up to `capacity`. Against RabbitMQ each swamqp_next_events takes
 * what one socket read brought (often 10-20 deliveries); CPU per message follows the number of
 * wake-ups, so e.g. min_count 64 and linger_us 200 trade at most 0.2 ms of latency for batches.
 * With min_count <= 1 or linger_us 0 it is swamqp_next_events. `error` (may be NULL) is filled on
 * failure: SWAMQP_ERR_CONNECTION_CLOSED after the last event, SWAMQP_ERR_INVALID_ARGUMENT,
 * SWAMQP_ERR_IN_CALLBACK, SWAMQP_ERR_INVALID_HANDLE.
 */
int swamqp_next_events_batch(swamqp_connection *connection, swamqp_event *events, size_t capacity, size_t min_count,
                             uint32_t linger_us, size_t *count, uint32_t timeout_ms, swamqp_error *error);

/**
 * Which log records the connection queues as SWAMQP_EVENT_LOG: `level` 0 none, else those of
 * swamqp_log_level `level` and more severe (1 errors only ... 4 all, the default). Records not
 * queued are dropped. SWAMQP_ERR_INVALID_ARGUMENT outside 0..4.
 */
int swamqp_set_log_level(swamqp_connection *connection, int level);

/**
 * Copies the deliveries of a batch of events into one buffer, for bindings to which every read of
 * library memory costs a call (Python's ctypes: one call per batch instead of five per message).
 * `events` are `count` events of the current batch (from swamqp_next_events*, valid until the
 * next drain). For each SWAMQP_EVENT_DELIVERY event, in order, it writes one record at an 8-byte
 * aligned offset, in host byte order:
 *   offset 0 u32 record size (a multiple of 8), 4 u32 the event's index in `events`,
 *   8 u64 delivery_tag, 16 u32 message_count, 20 u32 properties.flags, 24 u16 reply_code,
 *   26 u8 redelivered, 27 u8 0, 28 u32 consumer_tag length, 32 u32 exchange length,
 *   36 u32 routing_key length, 40 u32 reply_text length, 44 u32 properties length,
 *   48 u64 body length, 56 the strings consumer_tag, exchange, routing_key, reply_text, body and
 *   properties one after the other, then zeros up to the record size.
 * The properties are the message's properties encoded as swamqp_properties_encode writes them
 * (swamqp_properties_decode reads them back), present only when properties.flags is not 0 (their
 * length is 0 otherwise), so a binding can copy a batch now and decode properties on first use.
 * It stops before the first delivery whose record does not fit in the `capacity` bytes left;
 * `*events_packed` (required) receives how many events were looked at (records were written for
 * the deliveries among them), `*written` (required) the bytes used. Any thread; no connection.
 * SWAMQP_ERR_INVALID_ARGUMENT for NULL `events` or `buffer` with a non-zero count or capacity.
 */
int swamqp_deliveries_pack(const swamqp_event *events, size_t count, void *buffer, size_t capacity,
                           size_t *events_packed, size_t *written, swamqp_error *error);

/** Releases the memory of the last batch of events now instead of at the next drain. */
int swamqp_events_release(swamqp_connection *connection);

/** An event callback; runs on the thread that called swamqp_dispatch_events. */
typedef void (*swamqp_event_callback)(swamqp_connection *connection, const swamqp_event *event, void *user_data);

/** Sets (or with NULL clears) the connection's event callback. */
int swamqp_set_event_callback(swamqp_connection *connection, swamqp_event_callback callback, void *user_data);

/**
 * Waits up to `timeout_ms` for events, then calls the callback once per queued event on this thread.
 * `*dispatched` (may be NULL) receives the count. Returns SWAMQP_ERR_IN_CALLBACK when called from a
 * callback, SWAMQP_ERR_BAD_STATE when no callback is set.
 */
int swamqp_dispatch_events(swamqp_connection *connection, uint32_t timeout_ms, size_t *dispatched);

/* ------------------------------------------------------------------------------------------ */
/* Channels                                                                                   */
/* ------------------------------------------------------------------------------------------ */
/** Opens a channel on the lowest free number and stores it in `*channel`. */
int swamqp_channel_open(swamqp_connection *connection, uint16_t *channel, uint32_t timeout_ms, swamqp_error *error);
/** `*channel` is assigned at once; the completion event follows. */
int swamqp_channel_open_async(swamqp_connection *connection, uint16_t *channel, uint64_t *request_id, swamqp_error *error);
/** Closes the channel (channel.close 200, waits for close-ok). Closing a closed or never-opened
 * channel is SWAMQP_OK. */
int swamqp_channel_close(swamqp_connection *connection, uint16_t channel, uint32_t timeout_ms, swamqp_error *error);
int swamqp_channel_close_async(swamqp_connection *connection, uint16_t channel, uint64_t *request_id, swamqp_error *error);

/** channel.flow from the client: asks the broker to stop (`active` false) or resume (true)
 * sending deliveries on the channel, and waits for flow-ok. RabbitMQ answers active=true with
 * flow-ok but does not implement active=false: it closes the connection with 540
 * NOT_IMPLEMENTED (SWAMQP_ERR_CONNECTION_CLOSED, origin BROKER). Prefer basic.qos or cancelling
 * consumers there. */
int swamqp_channel_flow(swamqp_connection *connection, uint16_t channel, bool active, uint32_t timeout_ms,
                        swamqp_error *error);

/* ------------------------------------------------------------------------------------------ */
/* Exchanges, queues and basic                                                                */
/* ------------------------------------------------------------------------------------------ */
/** Flags for the functions below; each function names the ones it reads. */
enum {
    SWAMQP_PASSIVE = 1u << 0,
    SWAMQP_DURABLE = 1u << 1,
    SWAMQP_AUTO_DELETE = 1u << 2,
    SWAMQP_INTERNAL = 1u << 3,
    SWAMQP_EXCLUSIVE = 1u << 4,
    SWAMQP_NOWAIT = 1u << 5,        /**< don't ask for a reply; the call completes once the frame is queued. */
    SWAMQP_IF_UNUSED = 1u << 6,
    SWAMQP_IF_EMPTY = 1u << 7,
    SWAMQP_NO_LOCAL = 1u << 8,
    SWAMQP_NO_ACK = 1u << 9,
    SWAMQP_MANDATORY = 1u << 10,
    SWAMQP_IMMEDIATE = 1u << 11,
    SWAMQP_MULTIPLE = 1u << 12,
    SWAMQP_REQUEUE = 1u << 13,
    SWAMQP_GLOBAL = 1u << 14
};

/**
 * exchange.declare. Flags: PASSIVE, DURABLE, AUTO_DELETE, INTERNAL, NOWAIT. `arguments` may be NULL.
 * A broker refusal (e.g. 406 PRECONDITION_FAILED, 404 on passive) returns SWAMQP_ERR_CHANNEL_CLOSED
 * with the reply in `error`; the channel is then closed, the connection stays usable.
 */
int swamqp_exchange_declare(swamqp_connection *connection, uint16_t channel, swamqp_bytes exchange,
                            swamqp_bytes type, uint32_t flags, const swamqp_table *arguments,
                            uint32_t timeout_ms, swamqp_error *error);
int swamqp_exchange_declare_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes exchange,
                                  swamqp_bytes type, uint32_t flags, const swamqp_table *arguments,
                                  uint64_t *request_id, swamqp_error *error);

/** Result of queue.declare. `name` is owned by the caller's storage: see swamqp_queue_declare. */
typedef struct swamqp_queue_declare_ok {
    char name[256];          /**< NUL-terminated queue name (at most 255 bytes). */
    size_t name_len;
    uint32_t message_count;
    uint32_t consumer_count;
} swamqp_queue_declare_ok;

/**
 * queue.declare. An empty `queue` asks the broker for a name. Flags: PASSIVE, DURABLE, EXCLUSIVE,
 * AUTO_DELETE, NOWAIT. `result` (may be NULL) receives name and counts (with NOWAIT: the name given,
 * counts 0).
 */
int swamqp_queue_declare(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue, uint32_t flags,
                         const swamqp_table *arguments, swamqp_queue_declare_ok *result,
                         uint32_t timeout_ms, swamqp_error *error);
/** Completion event: name, message_count, consumer_count. */
int swamqp_queue_declare_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue,
                               uint32_t flags, const swamqp_table *arguments, uint64_t *request_id,
                               swamqp_error *error);

/** queue.bind. Flags: NOWAIT. */
int swamqp_queue_bind(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue, swamqp_bytes exchange,
                      swamqp_bytes routing_key, uint32_t flags, const swamqp_table *arguments,
                      uint32_t timeout_ms, swamqp_error *error);
int swamqp_queue_bind_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue,
                            swamqp_bytes exchange, swamqp_bytes routing_key, uint32_t flags,
                            const swamqp_table *arguments, uint64_t *request_id, swamqp_error *error);

/**
 * basic.publish with `properties` (NULL: none) and `body` of any size (split into frames of at most
 * frame_max - 8 bytes). Flags: MANDATORY, IMMEDIATE. Never waits for the broker: returns once the
 * frames are queued for the I/O thread. It waits up to `timeout_ms` only while publishing must
 * pause — the outbound buffer is over its limit, the broker blocked the connection
 * (connection.blocked), stopped the channel (channel.flow), or `max_unconfirmed` publishes await
 * confirms — and then fails with SWAMQP_ERR_TIMEOUT (SWAMQP_ERR_WOULD_BLOCK when `timeout_ms` is 0).
 * On a channel in confirm mode `*sequence` (may be NULL) receives the publish's sequence number
 * (1, 2, ...), which confirm events name in `delivery_tag`; otherwise 0. A publish that fails uses
 * no sequence number. Publishing is allowed on a raw channel.
 */
int swamqp_basic_publish(swamqp_connection *connection, uint16_t channel, swamqp_bytes exchange,
                         swamqp_bytes routing_key, uint32_t flags, const swamqp_properties *properties,
                         swamqp_bytes body, uint64_t *sequence, uint32_t timeout_ms, swamqp_error *error);

/**
 * basic.get. Flags: NO_ACK. On success `*message` is a library-owned message (NULL when the queue
 * was empty) valid until swamqp_message_free; `*message` is NULL on failure. When the call returns
 * SWAMQP_ERR_TIMEOUT and the broker's get-ok comes later, the message is not lost: without
 * NO_ACK the library hands it back to the queue (basic.reject with requeue), with NO_ACK it is
 * queued as a SWAMQP_EVENT_LATE_GET_MESSAGE event (request_id 0).
 */
int swamqp_basic_get(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue, uint32_t flags,
                     swamqp_message **message, uint32_t timeout_ms, swamqp_error *error);
/** Completion event: `message`, or SWAMQP_EVENT_FLAG_EMPTY in `flags`. */
int swamqp_basic_get_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue, uint32_t flags,
                           uint64_t *request_id, swamqp_error *error);
/** Frees a message from swamqp_basic_get. NULL is accepted. A message not from swamqp_basic_get, or
 * freed twice, is detected and ignored (returns SWAMQP_ERR_INVALID_HANDLE). */
int swamqp_message_free(swamqp_message *message);

/** basic.ack. Flags: MULTIPLE. Queued for sending; never waits and is never refused for
 * outbound_limit (an ack frees broker memory; it goes out after what is queued before it). A tag
 * from before an automatic recovery gives SWAMQP_ERR_STALE_DELIVERY_TAG (nothing sent); likewise
 * for nack and reject. */
int swamqp_basic_ack(swamqp_connection *connection, uint16_t channel, uint64_t delivery_tag, uint32_t flags,
                     swamqp_error *error);

/** basic.nack. Flags: MULTIPLE, REQUEUE. Queued for sending; never waits. */
int swamqp_basic_nack(swamqp_connection *connection, uint16_t channel, uint64_t delivery_tag, uint32_t flags,
                      swamqp_error *error);

/** basic.reject. Flags: REQUEUE. Queued for sending; never waits. */
int swamqp_basic_reject(swamqp_connection *connection, uint16_t channel, uint64_t delivery_tag, uint32_t flags,
                        swamqp_error *error);

/** basic.recover: redeliver unacknowledged messages. Flags: REQUEUE. */
int swamqp_basic_recover(swamqp_connection *connection, uint16_t channel, uint32_t flags, uint32_t timeout_ms,
                         swamqp_error *error);
int swamqp_basic_recover_async(swamqp_connection *connection, uint16_t channel, uint32_t flags,
                               uint64_t *request_id, swamqp_error *error);

/** basic.qos. Flags: GLOBAL (RabbitMQ: the limit is shared by the channel's consumers). */
int swamqp_basic_qos(swamqp_connection *connection, uint16_t channel, uint32_t prefetch_size,
                     uint16_t prefetch_count, uint32_t flags, uint32_t timeout_ms, swamqp_error *error);
int swamqp_basic_qos_async(swamqp_connection *connection, uint16_t channel, uint32_t prefetch_size,
                           uint16_t prefetch_count, uint32_t flags, uint64_t *request_id, swamqp_error *error);

/** A short string result, such as a consumer tag. */
typedef struct swamqp_name {
    char name[256];          /**< NUL-terminated (at most 255 bytes). */
    size_t len;
} swamqp_name;

/**
 * basic.consume. An empty `consumer_tag` asks the broker for one. Flags: NO_LOCAL, NO_ACK,
 * EXCLUSIVE, NOWAIT (then a tag must be given). `tag` (may be NULL) receives the consumer tag.
 * Deliveries arrive as SWAMQP_EVENT_DELIVERY events; a consumer cancelled by the broker (its queue
 * was deleted) as SWAMQP_EVENT_CONSUMER_CANCELLED. When the call times out and the consume-ok
 * comes later, the consumer is cancelled again (see swamqp_request_abandon): no delivery reaches
 * a consumer nobody knows.
 */
int swamqp_basic_consume(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue,
                         swamqp_bytes consumer_tag, uint32_t flags, const swamqp_table *arguments,
                         swamqp_name *tag, uint32_t timeout_ms, swamqp_error *error);
/** Completion event: name = the consumer tag. */
int swamqp_basic_consume_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue,
                               swamqp_bytes consumer_tag, uint32_t flags, const swamqp_table *arguments,
                               uint64_t *request_id, swamqp_error *error);

/** basic.cancel. Flags: NOWAIT. Deliveries already queued as events stay queued. */
int swamqp_basic_cancel(swamqp_connection *connection, uint16_t channel, swamqp_bytes consumer_tag, uint32_t flags,
                        uint32_t timeout_ms, swamqp_error *error);
int swamqp_basic_cancel_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes consumer_tag,
                              uint32_t flags, uint64_t *request_id, swamqp_error *error);

/** exchange.delete. Flags: IF_UNUSED, NOWAIT. */
int swamqp_exchange_delete(swamqp_connection *connection, uint16_t channel, swamqp_bytes exchange, uint32_t flags,
                           uint32_t timeout_ms, swamqp_error *error);
int swamqp_exchange_delete_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes exchange,
                                 uint32_t flags, uint64_t *request_id, swamqp_error *error);

/** exchange.bind (RabbitMQ extension): route from `source` to `destination`. Flags: NOWAIT. */
int swamqp_exchange_bind(swamqp_connection *connection, uint16_t channel, swamqp_bytes destination,
                         swamqp_bytes source, swamqp_bytes routing_key, uint32_t flags,
                         const swamqp_table *arguments, uint32_t timeout_ms, swamqp_error *error);
int swamqp_exchange_bind_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes destination,
                               swamqp_bytes source, swamqp_bytes routing_key, uint32_t flags,
                               const swamqp_table *arguments, uint64_t *request_id, swamqp_error *error);

/** exchange.unbind. Flags: NOWAIT. */
int swamqp_exchange_unbind(swamqp_connection *connection, uint16_t channel, swamqp_bytes destination,
                           swamqp_bytes source, swamqp_bytes routing_key, uint32_t flags,
                           const swamqp_table *arguments, uint32_t timeout_ms, swamqp_error *error);
int swamqp_exchange_unbind_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes destination,
                                 swamqp_bytes source, swamqp_bytes routing_key, uint32_t flags,
                                 const swamqp_table *arguments, uint64_t *request_id, swamqp_error *error);

/** queue.unbind (AMQP has no nowait form for it). */
int swamqp_queue_unbind(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue, swamqp_bytes exchange,
                        swamqp_bytes routing_key, const swamqp_table *arguments, uint32_t timeout_ms,
                        swamqp_error *error);
int swamqp_queue_unbind_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue,
                              swamqp_bytes exchange, swamqp_bytes routing_key, const swamqp_table *arguments,
                              uint64_t *request_id, swamqp_error *error);

/** queue.purge. Flags: NOWAIT. `*message_count` (may be NULL) receives how many were purged. */
int swamqp_queue_purge(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue, uint32_t flags,
                       uint32_t *message_count, uint32_t timeout_ms, swamqp_error *error);
/** Completion event: message_count. */
int swamqp_queue_purge_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue, uint32_t flags,
                             uint64_t *request_id, swamqp_error *error);

/** queue.delete. Flags: IF_UNUSED, IF_EMPTY, NOWAIT. `*message_count` (may be NULL): messages deleted. */
int swamqp_queue_delete(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue, uint32_t flags,
                        uint32_t *message_count, uint32_t timeout_ms, swamqp_error *error);
/** Completion event: message_count. */
int swamqp_queue_delete_async(swamqp_connection *connection, uint16_t channel, swamqp_bytes queue, uint32_t flags,
                              uint64_t *request_id, swamqp_error *error);

/* ------------------------------------------------------------------------------------------ */
/* Transactions and publisher confirms                                                        */
/* ------------------------------------------------------------------------------------------ */
/** tx.select: the channel becomes transactional. */
int swamqp_tx_select(swamqp_connection *connection, uint16_t channel, uint32_t timeout_ms, swamqp_error *error);
int swamqp_tx_select_async(swamqp_connection *connection, uint16_t channel, uint64_t *request_id, swamqp_error *error);
/** tx.commit. */
int swamqp_tx_commit(swamqp_connection *connection, uint16_t channel, uint32_t timeout_ms, swamqp_error *error);
int swamqp_tx_commit_async(swamqp_connection *connection, uint16_t channel, uint64_t *request_id, swamqp_error *error);
/** tx.rollback. */
int swamqp_tx_rollback(swamqp_connection *connection, uint16_t channel, uint32_t timeout_ms, swamqp_error *error);
int swamqp_tx_rollback_async(swamqp_connection *connection, uint16_t channel, uint64_t *request_id, swamqp_error *error);

/**
 * confirm.select: from now on every publish on the channel gets a sequence number (1, 2, ...) and
 * the broker acks or nacks each, reported as SWAMQP_EVENT_CONFIRM_ACK / _NACK events whose
 * delivery_tag is the sequence (with SWAMQP_EVENT_FLAG_MULTIPLE: every sequence up to it). Nothing
 * is forgotten: when the channel or connection ends with publishes still unconfirmed, one
 * SWAMQP_EVENT_CONFIRM_NACK with a non-zero `status` (the cause, error filled), delivery_tag the
 * highest unconfirmed sequence and SWAMQP_EVENT_FLAG_MULTIPLE fails them all. A broker nack has
 * status 0.
 */
int swamqp_confirm_select(swamqp_connection *connection, uint16_t channel, uint32_t timeout_ms, swamqp_error *error);
int swamqp_confirm_select_async(swamqp_connection *connection, uint16_t channel, uint64_t *request_id,
                                swamqp_error *error);

/**
 * Waits until every publish made on the channel before the call is confirmed (later publishes do
 * not hold it up). SWAMQP_OK when all were acked; SWAMQP_ERR_NACKED when any was nacked since the
 * previous wait that returned (a wait that timed out is forgotten, so the next one reports it); SWAMQP_ERR_TIMEOUT;
 * SWAMQP_ERR_NOT_CONFIRM_MODE without confirm.select; the channel's or connection's error when it
 * ended first. Confirm events are queued as well, whichever way the application listens.
 */
int swamqp_wait_for_confirms(swamqp_connection *connection, uint16_t channel, uint32_t timeout_ms, swamqp_error *error);
/** Completion event with the same statuses. */
int swamqp_wait_for_confirms_async(swamqp_connection *connection, uint16_t channel, uint64_t *request_id,
                                   swamqp_error *error);

/* ------------------------------------------------------------------------------------------ */
/* Connection extras                                                                          */
/* ------------------------------------------------------------------------------------------ */
/** connection.update-secret (RabbitMQ: refresh an expiring token credential); `reason` is a short
 * string. Waits for update-secret-ok up to `timeout_ms`. */
int swamqp_connection_update_secret(swamqp_connection *connection, swamqp_bytes new_secret, swamqp_bytes reason,
                                    uint32_t timeout_ms, swamqp_error *error);
/** As swamqp_connection_update_secret without waiting: a SWAMQP_EVENT_COMPLETION with `*request_id`
 * follows. */
int swamqp_connection_update_secret_async(swamqp_connection *connection, swamqp_bytes new_secret, swamqp_bytes reason,
                                          uint64_t *request_id, swamqp_error *error);

/** Per-connection counters since it was created. */
typedef struct swamqp_stats {
    uint64_t frames_in;
    uint64_t frames_out;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t publishes;
    uint64_t confirms_acked;
    uint64_t confirms_nacked;
    uint64_t deliveries;       /**< basic.deliver and basic.get-ok messages. */
    uint64_t returns;
    uint64_t heartbeats_in;
    uint64_t heartbeats_out;
    uint64_t events_queued_bytes; /**< bytes currently held by the event queue (gauge). */
} swamqp_stats;

/** Fills `*stats` (required). */
int swamqp_connection_stats(swamqp_connection *connection, swamqp_stats *stats);

/** The server-properties table of the broker's connection.start (product, version, platform,
 * capabilities, cluster_name...), encoded as on the wire, as swamqp_table_encode writes it
 * (decode it with swamqp_table_decode), into `buffer` under the codec functions' rules for
 * `buffer`, `capacity` and `*written`. Before the broker's connection.start has arrived it is the
 * empty table; after a recovery it is the new broker's. Any thread. */
int swamqp_connection_server_properties(swamqp_connection *connection, void *buffer, size_t capacity,
                                        size_t *written, swamqp_error *error);

/* ------------------------------------------------------------------------------------------ */
/* Raw frames (for tools and compatibility layers)                                            */
/* ------------------------------------------------------------------------------------------ */
/**
 * Puts an open channel in raw mode (`raw` true) or back (false). In raw mode every inbound frame of
 * the channel — methods, content headers, bodies — arrives uninterpreted as a
 * SWAMQP_EVENT_RAW_FRAME event, and the application answers the broker itself (swamqp_send_method);
 * the library only notes channel.close-ok in either direction to free the channel number. The
 * request functions above return SWAMQP_ERR_BAD_STATE on a raw channel.
 */
int swamqp_channel_set_raw(swamqp_connection *connection, uint16_t channel, bool raw);

/**
 * Sends a method frame whose arguments are already encoded (`arguments`: the bytes after class id
 * and method id) on an open channel other than 0 (SWAMQP_ERR_BAD_STATE for 0: the library owns the
 * connection's own methods). Replies reach the application only on a raw channel. The arguments
 * must decode as that method, else SWAMQP_ERR_INVALID_ARGUMENT, so a malformed frame never leaves.
 * Content-carrying methods need swamqp_send_content.
 */
int swamqp_send_method(swamqp_connection *connection, uint16_t channel, uint16_t class_id, uint16_t method_id,
                       swamqp_bytes arguments, swamqp_error *error);

/**
 * Sends a content-carrying method (basic.publish, or basic.return/deliver/get-ok for test peers)
 * with its encoded arguments, `properties` and `body`, split at frame_max - 8.
 */
int swamqp_send_content(swamqp_connection *connection, uint16_t channel, uint16_t class_id, uint16_t method_id,
                        swamqp_bytes arguments, const swamqp_properties *properties, swamqp_bytes body,
                        swamqp_error *error);

/* ------------------------------------------------------------------------------------------ */
/* Codec: the library's own encoder and decoder, for programs that build or read frames       */
/* ------------------------------------------------------------------------------------------ */
/*
 * Pure functions: no connection; any thread, concurrently. Encoders write into the caller's
 * `buffer` of `capacity` bytes and set `*written` (may be NULL) to the size the encoding takes,
 * also when the buffer is too small (then SWAMQP_ERR_INVALID_ARGUMENT, nothing written): call with
 * capacity 0 to ask. Decoders copy what they decode into library memory and hand out a pointer
 * that stays valid until swamqp_decoded_free of that same pointer. Malformed input gives
 * SWAMQP_ERR_INVALID_ARGUMENT with what is wrong in `error` (may be NULL), never a crash.
 *
 * Method arguments are given as one swamqp_field_value per argument in the order of the AMQP
 * 0-9-1 specification (each bit is an argument): bit SWAMQP_FIELD_BOOL, octet SWAMQP_FIELD_U8,
 * short SWAMQP_FIELD_U16, long SWAMQP_FIELD_U32, longlong SWAMQP_FIELD_U64 (full 64-bit range),
 * timestamp SWAMQP_FIELD_TIMESTAMP, shortstr and longstr SWAMQP_FIELD_STRING, table
 * SWAMQP_FIELD_TABLE. The decoder hands them out the same way.
 */

/** Encodes the arguments of method class_id.method_id (the bytes after the two ids). `fields`:
 * `count` values (at most 64) as described above; a wrong count or kind, an unknown method or a
 * shortstr over 255 bytes gives SWAMQP_ERR_INVALID_ARGUMENT naming the argument. */
int swamqp_method_encode(uint16_t class_id, uint16_t method_id, const swamqp_field_value *fields, size_t count,
                         void *buffer, size_t capacity, size_t *written, swamqp_error *error);

/** Decodes the `len` argument bytes of method class_id.method_id; `*fields` (required) receives
 * the values; free it with swamqp_decoded_free. */
int swamqp_method_decode(uint16_t class_id, uint16_t method_id, const void *bytes, size_t len,
                         const swamqp_array **fields, swamqp_error *error);

/** Encodes a field table as on the wire: its 4-byte length, then the entries. `table` NULL is the
 * empty table. */
int swamqp_table_encode(const swamqp_table *table, void *buffer, size_t capacity, size_t *written,
                        swamqp_error *error);

/** Decodes one field table (4-byte length, entries) from the start of `bytes`; `*consumed` (may
 * be NULL) receives the bytes it took, `*table` (required) the table; free it with
 * swamqp_decoded_free. */
int swamqp_table_decode(const void *bytes, size_t len, size_t *consumed, const swamqp_table **table,
                        swamqp_error *error);

/** Encodes basic properties as a content header carries them after class, weight and body size:
 * the property flags, then the properties present. `properties` NULL: none. */
int swamqp_properties_encode(const swamqp_properties *properties, void *buffer, size_t capacity, size_t *written,
                             swamqp_error *error);

/** Decodes what swamqp_properties_encode writes (all `len` bytes); `*properties` (required)
 * receives them; free it with swamqp_decoded_free. */
int swamqp_properties_decode(const void *bytes, size_t len, const swamqp_properties **properties,
                             swamqp_error *error);

/** Frees what a decode function handed out, given that pointer. NULL is accepted; any other
 * pointer, or a second free, is detected and ignored (SWAMQP_ERR_INVALID_HANDLE). */
int swamqp_decoded_free(const void *decoded);

#ifdef __cplusplus
}
#endif
#endif /* SWIFTAMQP_H */
