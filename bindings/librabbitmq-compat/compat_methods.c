/*
 * librabbitmq compatibility layer: channels, the typed AMQP methods (mapped onto the typed
 * swamqp_* calls), and the inbound frame queue (deliveries, returns, confirms, closes) that
 * amqp_simple_wait_frame, amqp_consume_message and amqp_read_message read.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"

/* ---- helpers --------------------------------------------------------------------------------- */
static swamqp_bytes sb(amqp_bytes_t b)
{
    swamqp_bytes r;
    r.bytes = b.bytes;
    r.len = b.bytes ? b.len : 0;
    return r;
}

static void unlink_frame(amqp_connection_state_t c, compat_frame *f, compat_frame *prev);

/* A channel.close the broker sent for user channel `ch` that no call has reported yet (queued as
 * a frame), or NULL. */
static compat_frame *pending_close(amqp_connection_state_t c, amqp_channel_t ch, compat_frame **prev)
{
    compat_frame *p = NULL;
    for (compat_frame *f = c->head; f; p = f, f = f->next) {
        if (f->frame.channel == ch && f->frame.frame_type == AMQP_FRAME_METHOD &&
            f->frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
            *prev = p;
            return f;
        }
    }
    return NULL;
}

/* Reports a pending broker close of user channel `ch` as the reply (a server exception); 1 if so. */
static int report_pending_close(amqp_connection_state_t c, amqp_channel_t ch)
{
    compat_frame *prev = NULL, *f = ch ? pending_close(c, ch, &prev) : NULL;
    if (f == NULL)
        return 0;
    unlink_frame(c, f, prev);
    compat_channel_close_reported(c, ch);
    empty_amqp_pool(&c->reply_pool);
    compat_pool_take(&c->reply_pool, &f->pool);
    c->reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
    c->reply.reply = f->frame.payload.method;
    c->reply.library_error = 0;
    free(f);
    return 1;
}

static int pump(amqp_connection_state_t c, uint32_t timeout_ms);

/* A call failed: a channel the broker closed before the call (its close event not handled yet) is
 * reported as that close, else the error as it is. */
static void rpc_fail(amqp_connection_state_t c, amqp_channel_t ch, int rc, const swamqp_error *err)
{
    if (rc == SWAMQP_ERR_CHANNEL_CLOSED && err->origin != SWAMQP_ORIGIN_BROKER) {
        pump(c, 0);
        if (report_pending_close(c, ch))
            return;
    }
    compat_reply_from_sw(c, rc, err);
}

/* The swamqp channel of user channel `ch`, or 0 (reply set) when it is not usable. A channel the
 * broker closed while no call was running reports that close now, as librabbitmq's next RPC on
 * the channel would (a server exception with the decoded channel.close). */
static uint16_t sw_channel(amqp_connection_state_t c, amqp_channel_t ch)
{
    if (c == NULL)
        return 0;
    if (c->sw == NULL || c->closed) {
        compat_reply_library(c, c->dead_status ? c->dead_status : AMQP_STATUS_CONNECTION_CLOSED);
        return 0;
    }
    uint16_t s = ch ? c->u2s[ch] : 0;
    if (s != 0)
        return s;
    if (report_pending_close(c, ch))
        return 0;
    compat_reply_library(c, AMQP_STATUS_UNEXPECTED_STATE); /* channel not open */
    return 0;
}

static void *result(amqp_connection_state_t c, amqp_method_number_t id, size_t size)
{
    void *p = amqp_pool_alloc(&c->pool, size);
    if (p == NULL) {
        compat_reply_library(c, AMQP_STATUS_NO_MEMORY);
        return NULL;
    }
    compat_reply_ok(c, id, p);
    return p;
}

/* Runs a swamqp call result: NULL and reply filled on error, else the -ok struct. */
#define RPC_RESULT(c, rc, err, ID, type)                                                           \
    ((rc) == SWAMQP_OK ? (type *)result((c), (ID), sizeof(type))                                   \
                       : (rpc_fail((c), ch, (rc), &(err)), (type *)NULL))

/* swamqp tables built from librabbitmq tables live in a scratch pool for one call. */
typedef struct scratch {
    amqp_pool_t pool;
    swamqp_table table;
    int ok;
} scratch;

static const swamqp_table *args_of(amqp_connection_state_t c, scratch *s, amqp_table_t args)
{
    init_amqp_pool(&s->pool, 1024);
    s->ok = 1;
    int rc = compat_table_to_sw(&args, &s->table, &s->pool);
    if (rc) {
        s->ok = 0;
        compat_reply_library(c, rc);
        return NULL;
    }
    return &s->table;
}

static void done(scratch *s) { empty_amqp_pool(&s->pool); }

/* Handles inbound events now (without waiting) so their effects on channels are seen. */
static int pump(amqp_connection_state_t c, uint32_t timeout_ms);
static int pump_count(amqp_connection_state_t c, uint32_t timeout_ms, size_t *handled);
static int64_t now_ms(void);

/* Reads events until the channel-closed event of swamqp channel `s` has been handled. The engine
 * queues that event before it completes the close (or the failed call), so it is already there;
 * the loop also ends when no event is left. */
static void settle_channel(amqp_connection_state_t c, uint16_t s)
{
    while (c->s_state[s] != COMPAT_CH_OPEN || (c->s2u[s] != 0 && c->u2s[c->s2u[s]] != s)) {
        size_t n = 0;
        if (pump_count(c, 0, &n) != AMQP_STATUS_OK || n == 0)
            return;
    }
}

/* Waits for the completion of the _async request `id`, moving every other event into the frame
 * queue meanwhile (as librabbitmq keeps the frames that are not the reply it waits for, and so the
 * engine's event queue never fills up under a waiting call). Returns the request's swamqp status;
 * *err is filled on failure. */
static void free_frame(struct compat_frame *f);

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* librabbitmq's contract: "When an RPC times out, the function will return an error
 * AMQP_STATUS_TIMEOUT, and the connection will be closed." The socket is dropped (the engine
 * closes the connection), later calls fail with AMQP_STATUS_SOCKET_CLOSED, and waiting for frames
 * returns what was already queued, then AMQP_STATUS_CONNECTION_CLOSED. */
static void rpc_timed_out(amqp_connection_state_t c)
{
    uint64_t id = 0;
    c->timed_out = 1;
    c->closed = 1;
    c->dead_status = AMQP_STATUS_SOCKET_CLOSED;
    swamqp_connection_close_async(c->sw, &id, NULL);
    if (c->socket)
        c->socket->fd = -1; /* the engine closes it */
}

static int await_request_ex(amqp_connection_state_t c, uint64_t id, uint32_t timeout_ms, swamqp_error *err,
                            int reports);

static int await_request(amqp_connection_state_t c, uint64_t id, uint32_t timeout_ms, swamqp_error *err)
{
    return await_request_ex(c, id, timeout_ms, err, 1);
}

/* `reports`: the caller reports a broker channel.close that fails the request as its own result
 * (a server exception), so the channel's closed event must not become a frame as well. */
static int await_request_ex(amqp_connection_state_t c, uint64_t id, uint32_t timeout_ms, swamqp_error *err,
                            int reports)
{
    while (c->await_frames) { /* left over from an earlier wait that gave up */
        compat_frame *n = c->await_frames->next;
        free_frame(c->await_frames);
        c->await_frames = n;
    }
    c->await_id = id;
    c->await_done = 0;
    c->await_reports = reports;
    c->await_has_message = 0;
    c->await_name_len = 0;
    c->await_message_count = c->await_consumer_count = 0;
    /* the program's rpc timeout to the microsecond (as librabbitmq: a reply must be there before
       it passes, so 1 us always times out), else timeout_ms */
    int64_t deadline = now_us() + (c->has_rpc_timeout ? (int64_t)c->rpc_timeout_tv.tv_sec * 1000000 +
                                                            c->rpc_timeout_tv.tv_usec
                                                      : (int64_t)timeout_ms * 1000);
    int rc = SWAMQP_OK;
    while (!c->await_done) {
        int64_t left = deadline - now_us();
        if (left <= 0) {
            rc = SWAMQP_ERR_TIMEOUT;
            break;
        }
        uint32_t wait = left >= 1000000 ? 1000 : (uint32_t)((left + 999) / 1000);
        if (pump(c, wait) != AMQP_STATUS_OK && !c->await_done) {
            rc = SWAMQP_ERR_CONNECTION_CLOSED;
            break;
        }
    }
    if (!c->await_done && rc == SWAMQP_ERR_TIMEOUT)
        rpc_timed_out(c);
    if (c->await_done) {
        rc = c->await_status;
        if (rc != SWAMQP_OK)
            *err = c->await_err;
    } else {
        memset(err, 0, sizeof *err);
        err->status = rc;
        err->origin = SWAMQP_ORIGIN_LIBRARY;
        snprintf(err->message, sizeof err->message, "%s", rc == SWAMQP_ERR_TIMEOUT ? "timed out" : "connection closed");
    }
    c->await_id = 0;
    c->await_done = 0;
    return rc;
}

int compat_await(amqp_connection_state_t c, uint64_t id, uint32_t timeout_ms, swamqp_error *err)
{
    return await_request(c, id, timeout_ms, err);
}

/* Runs the _async form of a request and waits for its completion while reading other events:
 * `call` is the swamqp_*_async call, writing its request id to `id_`. */
#define AWAIT(c, err, call)                                                                        \
    __extension__({                                                                                \
        uint64_t id_ = 0;                                                                          \
        int rc_ = (call);                                                                          \
        rc_ == SWAMQP_OK ? await_request((c), id_, compat_rpc_timeout(c), &(err)) : rc_;           \
    })

/* ---- channels ---------------------------------------------------------------------------------- */
amqp_channel_open_ok_t *amqp_channel_open(amqp_connection_state_t c, amqp_channel_t ch)
{
    if (c == NULL)
        return NULL;
    if (c->sw == NULL || c->closed) {
        compat_reply_library(c, c->dead_status ? c->dead_status : AMQP_STATUS_CONNECTION_CLOSED);
        return NULL;
    }
    if (ch == 0 || (c->channel_max && ch > c->channel_max)) {
        compat_reply_library(c, AMQP_STATUS_INVALID_PARAMETER);
        return NULL;
    }
    pump(c, 0);
    if (c->u2s[ch] != 0) {
        compat_reply_library(c, AMQP_STATUS_UNEXPECTED_STATE); /* already open */
        return NULL;
    }
    swamqp_error err;
    uint16_t s = 0;
    int rc = AWAIT(c, err, swamqp_channel_open_async(c->sw, &s, &id_, &err));
    amqp_channel_open_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_CHANNEL_OPEN_OK_METHOD, amqp_channel_open_ok_t);
    if (rc == SWAMQP_OK) {
        /* the engine may hand out the number of a channel whose closed event is still queued:
           the events before it belong to the old channel */
        if (c->s2u[s] != 0 || c->s_state[s] != COMPAT_CH_OPEN)
            settle_channel(c, s);
        c->s_state[s] = COMPAT_CH_OPEN;
        c->u2s[ch] = s;
        c->s2u[s] = ch;
        c->u_unacked[ch] = 0;
    }
    return ok;
}

amqp_rpc_reply_t amqp_channel_close(amqp_connection_state_t c, amqp_channel_t ch, int code)
{
    (void)code;
    if (c != NULL && c->sw != NULL && !c->closed && ch != 0 && c->u2s[ch] == 0 && c->u_unacked[ch]) {
        /* the broker closed it and waits for close-ok: librabbitmq's channel.close gets close-ok
           (the engine answered the broker already; the program may still send its close-ok) */
        compat_reply_ok(c, AMQP_CHANNEL_CLOSE_OK_METHOD, NULL);
        return c->reply;
    }
    uint16_t s = sw_channel(c, ch);
    if (s == 0)
        return c->reply;
    swamqp_error err;
    uint64_t id = 0;
    uint32_t timeout = compat_rpc_timeout(c);
    /* The engine discards what arrives on a channel between channel.close and close-ok, where
       librabbitmq hands those frames out afterwards. So the channel's consumers are cancelled
       first: deliveries up to basic.cancel-ok are kept (in the frame queue), and none come after
       it, so no message that the broker counts as delivered (no-ack) is lost. */
    /* (taken off the list first: events read while waiting may change the list) */
    compat_consumer *mine = NULL, **p = &c->consumers;
    while (*p) {
        compat_consumer *k = *p;
        if (k->sw_channel == s) {
            *p = k->next;
            k->next = mine;
            mine = k;
        } else {
            p = &k->next;
        }
    }
    int cancelling = 1;
    while (mine) {
        compat_consumer *k = mine;
        mine = k->next;
        swamqp_bytes tag = {k->tag, k->len};
        if (cancelling && (swamqp_basic_cancel_async(c->sw, s, tag, 0, &id, &err) != SWAMQP_OK ||
                           await_request_ex(c, id, timeout, &err, 0) != SWAMQP_OK))
            cancelling = 0; /* the channel or connection ended: the close below reports it */
        free(k);
    }
    /* the program's number is free from now on; events of the swamqp channel up to its closed
       event still map to it */
    c->u2s[ch] = 0;
    if (c->s2u[s] == ch)
        c->s_state[s] = COMPAT_CH_CLOSING; /* else its closed event was read during a cancel */
    int rc = swamqp_channel_close_async(c->sw, s, &id, &err);
    if (rc == SWAMQP_OK)
        rc = await_request(c, id, timeout, &err);
    if (rc == SWAMQP_OK || rc == SWAMQP_ERR_CHANNEL_CLOSED) {
        settle_channel(c, s);
        /* a close the broker made first (or that crossed ours) is reported as librabbitmq would
           (it gets channel.close instead of close-ok) */
        if (!report_pending_close(c, ch)) {
            if (rc == SWAMQP_OK)
                compat_reply_ok(c, AMQP_CHANNEL_CLOSE_OK_METHOD, NULL);
            else
                compat_reply_from_sw(c, rc, &err);
        }
    } else {
        compat_reply_from_sw(c, rc, &err);
    }
    return c->reply;
}

amqp_channel_flow_ok_t *amqp_channel_flow(amqp_connection_state_t c, amqp_channel_t ch, amqp_boolean_t active)
{
    /* RabbitMQ answers active=1; active=0 makes it close the connection (540 NOT_IMPLEMENTED),
       reported as the server exception librabbitmq reports. */
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    int rc = swamqp_channel_flow(c->sw, s, active != 0, compat_rpc_timeout(c), &err);
    amqp_channel_flow_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_CHANNEL_FLOW_OK_METHOD, amqp_channel_flow_ok_t);
    if (ok)
        ok->active = active ? 1 : 0;
    return ok;
}

/* ---- exchanges and queues ---------------------------------------------------------------------- */
amqp_exchange_declare_ok_t *amqp_exchange_declare(amqp_connection_state_t c, amqp_channel_t ch,
                                                  amqp_bytes_t exchange, amqp_bytes_t type,
                                                  amqp_boolean_t passive, amqp_boolean_t durable,
                                                  amqp_boolean_t auto_delete, amqp_boolean_t internal,
                                                  amqp_table_t arguments)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    scratch sc;
    const swamqp_table *a = args_of(c, &sc, arguments);
    if (!sc.ok)
        return done(&sc), NULL;
    uint32_t f = (passive ? SWAMQP_PASSIVE : 0) | (durable ? SWAMQP_DURABLE : 0) |
                 (auto_delete ? SWAMQP_AUTO_DELETE : 0) | (internal ? SWAMQP_INTERNAL : 0);
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_exchange_declare_async(c->sw, s, sb(exchange), sb(type), f, a, &id_, &err));
    done(&sc);
    return RPC_RESULT(c, rc, err, AMQP_EXCHANGE_DECLARE_OK_METHOD, amqp_exchange_declare_ok_t);
}

amqp_exchange_delete_ok_t *amqp_exchange_delete(amqp_connection_state_t c, amqp_channel_t ch,
                                                amqp_bytes_t exchange, amqp_boolean_t if_unused)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_exchange_delete_async(c->sw, s, sb(exchange), if_unused ? SWAMQP_IF_UNUSED : 0,
                                                         &id_, &err));
    return RPC_RESULT(c, rc, err, AMQP_EXCHANGE_DELETE_OK_METHOD, amqp_exchange_delete_ok_t);
}

amqp_exchange_bind_ok_t *amqp_exchange_bind(amqp_connection_state_t c, amqp_channel_t ch,
                                            amqp_bytes_t destination, amqp_bytes_t source,
                                            amqp_bytes_t routing_key, amqp_table_t arguments)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    scratch sc;
    const swamqp_table *a = args_of(c, &sc, arguments);
    if (!sc.ok)
        return done(&sc), NULL;
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_exchange_bind_async(c->sw, s, sb(destination), sb(source), sb(routing_key), 0, a,
                                                       &id_, &err));
    done(&sc);
    return RPC_RESULT(c, rc, err, AMQP_EXCHANGE_BIND_OK_METHOD, amqp_exchange_bind_ok_t);
}

amqp_exchange_unbind_ok_t *amqp_exchange_unbind(amqp_connection_state_t c, amqp_channel_t ch,
                                                amqp_bytes_t destination, amqp_bytes_t source,
                                                amqp_bytes_t routing_key, amqp_table_t arguments)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    scratch sc;
    const swamqp_table *a = args_of(c, &sc, arguments);
    if (!sc.ok)
        return done(&sc), NULL;
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_exchange_unbind_async(c->sw, s, sb(destination), sb(source), sb(routing_key), 0,
                                                         a, &id_, &err));
    done(&sc);
    return RPC_RESULT(c, rc, err, AMQP_EXCHANGE_UNBIND_OK_METHOD, amqp_exchange_unbind_ok_t);
}

amqp_queue_declare_ok_t *amqp_queue_declare(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                            amqp_boolean_t passive, amqp_boolean_t durable,
                                            amqp_boolean_t exclusive, amqp_boolean_t auto_delete,
                                            amqp_table_t arguments)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    scratch sc;
    const swamqp_table *a = args_of(c, &sc, arguments);
    if (!sc.ok)
        return done(&sc), NULL;
    uint32_t f = (passive ? SWAMQP_PASSIVE : 0) | (durable ? SWAMQP_DURABLE : 0) |
                 (exclusive ? SWAMQP_EXCLUSIVE : 0) | (auto_delete ? SWAMQP_AUTO_DELETE : 0);
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_queue_declare_async(c->sw, s, sb(queue), f, a, &id_, &err));
    done(&sc);
    amqp_queue_declare_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_QUEUE_DECLARE_OK_METHOD, amqp_queue_declare_ok_t);
    if (ok) {
        ok->queue = compat_pool_dup(&c->pool, c->await_name, c->await_name_len);
        ok->message_count = c->await_message_count;
        ok->consumer_count = c->await_consumer_count;
    }
    return ok;
}

amqp_queue_bind_ok_t *amqp_queue_bind(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                      amqp_bytes_t exchange, amqp_bytes_t routing_key, amqp_table_t arguments)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    scratch sc;
    const swamqp_table *a = args_of(c, &sc, arguments);
    if (!sc.ok)
        return done(&sc), NULL;
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_queue_bind_async(c->sw, s, sb(queue), sb(exchange), sb(routing_key), 0, a, &id_, &err));
    done(&sc);
    return RPC_RESULT(c, rc, err, AMQP_QUEUE_BIND_OK_METHOD, amqp_queue_bind_ok_t);
}

amqp_queue_unbind_ok_t *amqp_queue_unbind(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                          amqp_bytes_t exchange, amqp_bytes_t routing_key, amqp_table_t arguments)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    scratch sc;
    const swamqp_table *a = args_of(c, &sc, arguments);
    if (!sc.ok)
        return done(&sc), NULL;
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_queue_unbind_async(c->sw, s, sb(queue), sb(exchange), sb(routing_key), a, &id_, &err));
    done(&sc);
    return RPC_RESULT(c, rc, err, AMQP_QUEUE_UNBIND_OK_METHOD, amqp_queue_unbind_ok_t);
}

amqp_queue_purge_ok_t *amqp_queue_purge(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    uint32_t n = 0;
    int rc = AWAIT(c, err, swamqp_queue_purge_async(c->sw, s, sb(queue), 0, &id_, &err));
    n = c->await_message_count;
    amqp_queue_purge_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_QUEUE_PURGE_OK_METHOD, amqp_queue_purge_ok_t);
    if (ok)
        ok->message_count = n;
    return ok;
}

amqp_queue_delete_ok_t *amqp_queue_delete(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                          amqp_boolean_t if_unused, amqp_boolean_t if_empty)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    uint32_t n = 0;
    int rc = AWAIT(c, err, swamqp_queue_delete_async(c->sw, s, sb(queue), (if_unused ? SWAMQP_IF_UNUSED : 0) | (if_empty ? SWAMQP_IF_EMPTY : 0),
                                 &id_, &err));
    n = c->await_message_count;
    amqp_queue_delete_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_QUEUE_DELETE_OK_METHOD, amqp_queue_delete_ok_t);
    if (ok)
        ok->message_count = n;
    return ok;
}

/* ---- basic ------------------------------------------------------------------------------------- */
amqp_basic_qos_ok_t *amqp_basic_qos(amqp_connection_state_t c, amqp_channel_t ch, uint32_t prefetch_size,
                                    uint16_t prefetch_count, amqp_boolean_t global)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_basic_qos_async(c->sw, s, prefetch_size, prefetch_count, global ? SWAMQP_GLOBAL : 0,
                                                   &id_, &err));
    return RPC_RESULT(c, rc, err, AMQP_BASIC_QOS_OK_METHOD, amqp_basic_qos_ok_t);
}

amqp_basic_consume_ok_t *amqp_basic_consume(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                            amqp_bytes_t consumer_tag, amqp_boolean_t no_local,
                                            amqp_boolean_t no_ack, amqp_boolean_t exclusive, amqp_table_t arguments)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    scratch sc;
    const swamqp_table *a = args_of(c, &sc, arguments);
    if (!sc.ok)
        return done(&sc), NULL;
    uint32_t f = (no_local ? SWAMQP_NO_LOCAL : 0) | (no_ack ? SWAMQP_NO_ACK : 0) | (exclusive ? SWAMQP_EXCLUSIVE : 0);
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_basic_consume_async(c->sw, s, sb(queue), sb(consumer_tag), f, a, &id_, &err));
    done(&sc);
    amqp_basic_consume_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_BASIC_CONSUME_OK_METHOD, amqp_basic_consume_ok_t);
    if (ok) {
        ok->consumer_tag = compat_pool_dup(&c->pool, c->await_name, c->await_name_len);
        compat_consumer_add(c, s, c->await_name, c->await_name_len);
    }
    return ok;
}

amqp_basic_cancel_ok_t *amqp_basic_cancel(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t consumer_tag)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_basic_cancel_async(c->sw, s, sb(consumer_tag), 0, &id_, &err));
    amqp_basic_cancel_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_BASIC_CANCEL_OK_METHOD, amqp_basic_cancel_ok_t);
    if (ok) {
        ok->consumer_tag = compat_pool_dup(&c->pool, consumer_tag.bytes, consumer_tag.len);
        compat_consumer_remove(c, s, consumer_tag.bytes, consumer_tag.len, 0);
    }
    return ok;
}

amqp_basic_recover_ok_t *amqp_basic_recover(amqp_connection_state_t c, amqp_channel_t ch, amqp_boolean_t requeue)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_basic_recover_async(c->sw, s, requeue ? SWAMQP_REQUEUE : 0, &id_, &err));
    return RPC_RESULT(c, rc, err, AMQP_BASIC_RECOVER_OK_METHOD, amqp_basic_recover_ok_t);
}

#define SIMPLE_RPC(fn, swfn, ID, type)                                                             \
    type *fn(amqp_connection_state_t c, amqp_channel_t ch)                                         \
    {                                                                                              \
        uint16_t s = sw_channel(c, ch);                                                            \
        if (!s)                                                                                    \
            return NULL;                                                                           \
        swamqp_error err;                                                                          \
        int rc = AWAIT(c, err, swfn(c->sw, s, &id_, &err));                                         \
        return RPC_RESULT(c, rc, err, ID, type);                                                   \
    }
SIMPLE_RPC(amqp_tx_select, swamqp_tx_select_async, AMQP_TX_SELECT_OK_METHOD, amqp_tx_select_ok_t)
SIMPLE_RPC(amqp_tx_commit, swamqp_tx_commit_async, AMQP_TX_COMMIT_OK_METHOD, amqp_tx_commit_ok_t)
SIMPLE_RPC(amqp_tx_rollback, swamqp_tx_rollback_async, AMQP_TX_ROLLBACK_OK_METHOD, amqp_tx_rollback_ok_t)
SIMPLE_RPC(amqp_confirm_select, swamqp_confirm_select_async, AMQP_CONFIRM_SELECT_OK_METHOD, amqp_confirm_select_ok_t)

/* Status-returning calls (publish, ack, nack, reject) report through their return value. */
/* Status-returning calls (publish, ack, nack, reject) report through their return value. As with
 * librabbitmq, which only writes these frames, they succeed on a channel the broker has closed
 * meanwhile; the close is reported by the next call on the channel (or as a frame). */
static int status_of(amqp_connection_state_t c, amqp_channel_t ch, uint16_t *s)
{
    *s = 0;
    if (c == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    if (c->sw == NULL || c->closed)
        return c->dead_status ? c->dead_status : AMQP_STATUS_CONNECTION_CLOSED;
    *s = ch ? c->u2s[ch] : 0;
    if (*s)
        return AMQP_STATUS_OK;
    compat_frame *prev = NULL;
    if (ch && pending_close(c, ch, &prev))
        return 1; /* "done, nothing sent" */
    return AMQP_STATUS_UNEXPECTED_STATE;
}

static int status_from(amqp_connection_state_t c, int rc, swamqp_error *err)
{
    if (rc == SWAMQP_OK)
        return AMQP_STATUS_OK;
    if (rc == SWAMQP_ERR_CHANNEL_CLOSED)
        return AMQP_STATUS_OK; /* the broker closed the channel; its close event reports it */
    int st = compat_status_from_sw(rc);
    if (rc == SWAMQP_ERR_CONNECTION_CLOSED || rc == SWAMQP_ERR_CLOSED_BY_APPLICATION || rc == SWAMQP_ERR_CONNECTION_LOST || rc == SWAMQP_ERR_IO ||
        rc == SWAMQP_ERR_HEARTBEAT_TIMEOUT) {
        c->closed = 1;
        if (!c->dead_status)
            c->dead_status = st;
    }
    return st;
}

int amqp_basic_publish(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t exchange,
                       amqp_bytes_t routing_key, amqp_boolean_t mandatory, amqp_boolean_t immediate,
                       struct amqp_basic_properties_t_ const *properties, amqp_bytes_t body)
{
    uint16_t s;
    int st = status_of(c, ch, &s);
    if (st)
        return st > 0 ? AMQP_STATUS_OK : st;
    amqp_pool_t pool;
    init_amqp_pool(&pool, 1024);
    swamqp_properties p;
    const swamqp_properties *pp = NULL;
    if (properties != NULL) {
        st = compat_props_to_sw(properties, &p, &pool);
        if (st) {
            empty_amqp_pool(&pool);
            return st;
        }
        pp = &p;
    }
    swamqp_error err;
    uint32_t f = (mandatory ? SWAMQP_MANDATORY : 0) | (immediate ? SWAMQP_IMMEDIATE : 0);
    int rc = swamqp_basic_publish(c->sw, s, sb(exchange), sb(routing_key), f, pp, sb(body), NULL,
                                  COMPAT_FOREVER_MS, &err);
    empty_amqp_pool(&pool);
    return status_from(c, rc, &err);
}

int amqp_basic_ack(amqp_connection_state_t c, amqp_channel_t ch, uint64_t delivery_tag, amqp_boolean_t multiple)
{
    uint16_t s;
    int st = status_of(c, ch, &s);
    if (st)
        return st > 0 ? AMQP_STATUS_OK : st;
    swamqp_error err;
    int rc = swamqp_basic_ack(c->sw, s, delivery_tag, multiple ? SWAMQP_MULTIPLE : 0, &err);
    return status_from(c, rc, &err);
}

int amqp_basic_nack(amqp_connection_state_t c, amqp_channel_t ch, uint64_t delivery_tag, amqp_boolean_t multiple,
                    amqp_boolean_t requeue)
{
    uint16_t s;
    int st = status_of(c, ch, &s);
    if (st)
        return st > 0 ? AMQP_STATUS_OK : st;
    swamqp_error err;
    int rc = swamqp_basic_nack(c->sw, s, delivery_tag,
                               (multiple ? SWAMQP_MULTIPLE : 0) | (requeue ? SWAMQP_REQUEUE : 0), &err);
    return status_from(c, rc, &err);
}

int amqp_basic_reject(amqp_connection_state_t c, amqp_channel_t ch, uint64_t delivery_tag, amqp_boolean_t requeue)
{
    uint16_t s;
    int st = status_of(c, ch, &s);
    if (st)
        return st > 0 ? AMQP_STATUS_OK : st;
    swamqp_error err;
    int rc = swamqp_basic_reject(c->sw, s, delivery_tag, requeue ? SWAMQP_REQUEUE : 0, &err);
    return status_from(c, rc, &err);
}

/* ---- the inbound frame queue -------------------------------------------------------------------- */
static compat_frame *new_frame(uint8_t type, uint16_t channel)
{
    compat_frame *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    init_amqp_pool(&f->pool, 512);
    f->frame.frame_type = type;
    f->frame.channel = channel;
    return f;
}

static void free_frame(compat_frame *f)
{
    if (f) {
        empty_amqp_pool(&f->pool);
        free(f);
    }
}

/* A list of frames under construction (one message's method, header and bodies). */
typedef struct flist {
    compat_frame *head, *tail;
    int failed;
} flist;

static void fl_add(flist *l, compat_frame *f)
{
    if (f == NULL) {
        l->failed = 1;
        return;
    }
    if (l->tail)
        l->tail->next = f;
    else
        l->head = f;
    l->tail = f;
}

static void fl_free(flist *l)
{
    compat_frame *f = l->head;
    while (f) {
        compat_frame *n = f->next;
        free_frame(f);
        f = n;
    }
    l->head = l->tail = NULL;
}

static void enqueue_back(amqp_connection_state_t c, flist *l)
{
    if (l->failed) {
        fl_free(l);
        return;
    }
    if (l->head == NULL)
        return;
    if (c->tail)
        c->tail->next = l->head;
    else
        c->head = l->head;
    c->tail = l->tail;
    compat_readiness_update(c);
}

static void enqueue_front(amqp_connection_state_t c, flist *l)
{
    if (l->failed) {
        fl_free(l);
        return;
    }
    if (l->head == NULL)
        return;
    l->tail->next = c->head;
    c->head = l->head;
    if (c->tail == NULL)
        c->tail = l->tail;
    compat_readiness_update(c);
}

static compat_frame *method_frame(uint16_t channel, amqp_method_number_t id, size_t size, void **decoded)
{
    compat_frame *f = new_frame(AMQP_FRAME_METHOD, channel);
    if (f == NULL)
        return NULL;
    f->frame.payload.method.id = id;
    f->frame.payload.method.decoded = amqp_pool_alloc(&f->pool, size);
    if (f->frame.payload.method.decoded == NULL) {
        free_frame(f);
        return NULL;
    }
    *decoded = f->frame.payload.method.decoded;
    return f;
}

/* Header and body frames of a message (bodies split as the broker would, at frame_max - 8). */
static void content_frames(amqp_connection_state_t c, flist *l, uint16_t channel, const swamqp_message *m)
{
    compat_frame *h = new_frame(AMQP_FRAME_HEADER, channel);
    if (h == NULL) {
        l->failed = 1;
        return;
    }
    amqp_basic_properties_t *p = amqp_pool_alloc(&h->pool, sizeof *p);
    if (p == NULL || compat_props_from_sw(&m->properties, p, &h->pool) != AMQP_STATUS_OK) {
        free_frame(h);
        l->failed = 1;
        return;
    }
    h->frame.payload.properties.class_id = AMQP_BASIC_CLASS;
    h->frame.payload.properties.body_size = m->body.len;
    h->frame.payload.properties.decoded = p;
    fl_add(l, h);
    size_t chunk = c->frame_max > 8 ? c->frame_max - 8 : 4088;
    const char *body = m->body.bytes;
    for (size_t off = 0; off < m->body.len; off += chunk) {
        size_t n = m->body.len - off < chunk ? m->body.len - off : chunk;
        compat_frame *b = new_frame(AMQP_FRAME_BODY, channel);
        if (b == NULL) {
            l->failed = 1;
            return;
        }
        b->frame.payload.body_fragment = compat_pool_dup(&b->pool, body + off, n);
        if (b->frame.payload.body_fragment.bytes == NULL) {
            free_frame(b);
            l->failed = 1;
            return;
        }
        fl_add(l, b);
    }
}

static void on_event(amqp_connection_state_t c, const swamqp_event *e)
{
    flist l = {NULL, NULL, 0};
    void *d = NULL;
    uint16_t uch = e->channel ? c->s2u[e->channel] : 0;
    switch (e->type) {
    case SWAMQP_EVENT_DELIVERY: {
        const swamqp_message *m = e->message;
        if (m == NULL || uch == 0)
            return;
        compat_frame *f = method_frame(uch, AMQP_BASIC_DELIVER_METHOD, sizeof(amqp_basic_deliver_t), &d);
        if (f) {
            amqp_basic_deliver_t *x = d;
            x->consumer_tag = compat_pool_dup(&f->pool, m->consumer_tag.bytes, m->consumer_tag.len);
            x->delivery_tag = m->delivery_tag;
            x->redelivered = m->redelivered;
            x->exchange = compat_pool_dup(&f->pool, m->exchange.bytes, m->exchange.len);
            x->routing_key = compat_pool_dup(&f->pool, m->routing_key.bytes, m->routing_key.len);
        }
        fl_add(&l, f);
        content_frames(c, &l, uch, m);
        break;
    }
    case SWAMQP_EVENT_RETURN: {
        const swamqp_message *m = e->message;
        if (m == NULL || uch == 0)
            return;
        compat_frame *f = method_frame(uch, AMQP_BASIC_RETURN_METHOD, sizeof(amqp_basic_return_t), &d);
        if (f) {
            amqp_basic_return_t *x = d;
            x->reply_code = m->reply_code;
            x->reply_text = compat_pool_dup(&f->pool, m->reply_text.bytes, m->reply_text.len);
            x->exchange = compat_pool_dup(&f->pool, m->exchange.bytes, m->exchange.len);
            x->routing_key = compat_pool_dup(&f->pool, m->routing_key.bytes, m->routing_key.len);
        }
        fl_add(&l, f);
        content_frames(c, &l, uch, m);
        break;
    }
    case SWAMQP_EVENT_CONFIRM_ACK: {
        if (uch == 0)
            return;
        compat_frame *f = method_frame(uch, AMQP_BASIC_ACK_METHOD, sizeof(amqp_basic_ack_t), &d);
        if (f) {
            amqp_basic_ack_t *x = d;
            x->delivery_tag = e->delivery_tag;
            x->multiple = (e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) ? 1 : 0;
        }
        fl_add(&l, f);
        break;
    }
    case SWAMQP_EVENT_CONFIRM_NACK: {
        /* A nack the library made up because the channel ended is not a broker frame: the
           channel.close (or connection loss) reports that. */
        if (uch == 0 || e->status != 0)
            return;
        compat_frame *f = method_frame(uch, AMQP_BASIC_NACK_METHOD, sizeof(amqp_basic_nack_t), &d);
        if (f) {
            amqp_basic_nack_t *x = d;
            x->delivery_tag = e->delivery_tag;
            x->multiple = (e->flags & SWAMQP_EVENT_FLAG_MULTIPLE) ? 1 : 0;
            x->requeue = 0;
        }
        fl_add(&l, f);
        break;
    }
    case SWAMQP_EVENT_COMPLETION:
        if (c->await_id != 0 && e->request_id == c->await_id) {
            c->await_done = 1;
            c->await_status = e->status;
            if (e->error != NULL)
                c->await_err = *e->error;
            else
                memset(&c->await_err, 0, sizeof c->await_err);
            /* the broker closed the channel: the waiting call reports it, not a frame (the
               channel's closed event follows in this batch) */
            if (e->error != NULL && e->error->origin == SWAMQP_ORIGIN_BROKER && e->error->channel != 0 &&
                c->await_reports && c->s_state[e->channel] != COMPAT_CH_CLOSING)
                compat_channel_closing(c, e->channel, COMPAT_CH_CLOSE_REPORTED);
            size_t nl = e->name.len < sizeof c->await_name ? e->name.len : sizeof c->await_name;
            if (nl)
                memcpy(c->await_name, e->name.bytes, nl);
            c->await_name_len = nl;
            c->await_message_count = e->message_count;
            c->await_consumer_count = e->consumer_count;
            const swamqp_message *m = e->message;
            if (e->status == SWAMQP_OK && m != NULL) {
                /* basic.get-ok: copy it out now (the event's memory goes with the batch) */
                amqp_basic_get_ok_t *g = &c->await_get;
                g->delivery_tag = m->delivery_tag;
                g->redelivered = m->redelivered;
                g->exchange = compat_pool_dup(&c->pool, m->exchange.bytes, m->exchange.len);
                g->routing_key = compat_pool_dup(&c->pool, m->routing_key.bytes, m->routing_key.len);
                g->message_count = m->message_count;
                content_frames(c, &l, uch, m);
                if (l.failed) {
                    fl_free(&l);
                    c->await_status = SWAMQP_ERR_NO_MEMORY;
                    snprintf(c->await_err.message, sizeof c->await_err.message, "out of memory");
                    c->await_err.status = SWAMQP_ERR_NO_MEMORY;
                    c->await_err.origin = SWAMQP_ORIGIN_LIBRARY;
                } else {
                    c->await_has_message = 1;
                    c->await_frames = l.head;
                }
            }
            return;
        }
        return; /* a reply whose call gave up: the connection was closed then (rpc_timed_out) */
    case SWAMQP_EVENT_CONSUMER_CANCELLED: {
        compat_consumer_remove(c, e->channel, e->name.bytes, e->name.len, 0);
        if (uch == 0 || !c->cap_cancel_notify)
            return; /* librabbitmq's broker would not have sent it (see read_capabilities) */
        compat_frame *f = method_frame(uch, AMQP_BASIC_CANCEL_METHOD, sizeof(amqp_basic_cancel_t), &d);
        if (f) {
            amqp_basic_cancel_t *x = d;
            x->consumer_tag = compat_pool_dup(&f->pool, e->name.bytes, e->name.len);
            x->nowait = 1;
        }
        fl_add(&l, f);
        break;
    }
    case SWAMQP_EVENT_FLOW: {
        if (uch == 0)
            return;
        compat_frame *f = method_frame(uch, AMQP_CHANNEL_FLOW_METHOD, sizeof(amqp_channel_flow_t), &d);
        if (f)
            ((amqp_channel_flow_t *)d)->active = (e->flags & SWAMQP_EVENT_FLAG_ACTIVE) ? 1 : 0;
        fl_add(&l, f);
        break;
    }
    case SWAMQP_EVENT_BLOCKED: {
        if (!c->cap_blocked)
            return; /* see read_capabilities; the engine still holds publishes while blocked */
        compat_frame *f = method_frame(0, AMQP_CONNECTION_BLOCKED_METHOD, sizeof(amqp_connection_blocked_t), &d);
        if (f)
            ((amqp_connection_blocked_t *)d)->reason = compat_pool_dup(&f->pool, e->name.bytes, e->name.len);
        fl_add(&l, f);
        break;
    }
    case SWAMQP_EVENT_UNBLOCKED: {
        if (!c->cap_blocked)
            return;
        compat_frame *f = method_frame(0, AMQP_CONNECTION_UNBLOCKED_METHOD, sizeof(amqp_connection_unblocked_t), &d);
        fl_add(&l, f);
        break;
    }
    case SWAMQP_EVENT_CHANNEL_CLOSED: {
        /* every event of the channel came before this one: its number is free now */
        int state = c->s_state[e->channel];
        c->s_state[e->channel] = COMPAT_CH_OPEN;
        c->s2u[e->channel] = 0;
        compat_consumer_remove(c, e->channel, NULL, 0, 1);
        if (uch == 0)
            return;
        if (state == COMPAT_CH_OPEN && c->u2s[uch] == e->channel)
            c->u2s[uch] = 0;
        if (state == COMPAT_CH_CLOSE_REPORTED)
            return; /* a failed call reported the broker's close already */
        const swamqp_error *er = e->error;
        if (er == NULL || er->origin != SWAMQP_ORIGIN_BROKER)
            return; /* our own close */
        compat_frame *f = method_frame(uch, AMQP_CHANNEL_CLOSE_METHOD, sizeof(amqp_channel_close_t), &d);
        if (f) {
            amqp_channel_close_t *x = d;
            x->reply_code = er->reply_code;
            x->reply_text = compat_pool_dup(&f->pool, er->message, strnlen(er->message, sizeof er->message));
            x->class_id = er->class_id;
            x->method_id = er->method_id;
        }
        fl_add(&l, f);
        break;
    }
    case SWAMQP_EVENT_CONNECTION_CLOSED: {
        int was_closed = c->closed;
        const swamqp_error *er = e->error;
        c->closed = 1;
        if (!c->dead_status)
            c->dead_status = er && er->origin == SWAMQP_ORIGIN_BROKER ? AMQP_STATUS_SOCKET_ERROR
                             : er && er->status ? compat_status_from_sw(er->status)
                                                : AMQP_STATUS_CONNECTION_CLOSED;
        if (was_closed || er == NULL || er->origin != SWAMQP_ORIGIN_BROKER)
            return;
        compat_frame *f = method_frame(0, AMQP_CONNECTION_CLOSE_METHOD, sizeof(amqp_connection_close_t), &d);
        if (f) {
            amqp_connection_close_t *x = d;
            x->reply_code = er->reply_code;
            x->reply_text = compat_pool_dup(&f->pool, er->message, strnlen(er->message, sizeof er->message));
            x->class_id = er->class_id;
            x->method_id = er->method_id;
        }
        fl_add(&l, f);
        break;
    }
    default:
        return;
    }
    enqueue_back(c, &l);
}

/* Moves queued swamqp events into the frame queue, waiting up to timeout_ms for the first. */
static int pump_count(amqp_connection_state_t c, uint32_t timeout_ms, size_t *handled)
{
    *handled = 0;
    if (c->sw == NULL)
        return AMQP_STATUS_SOCKET_CLOSED;
    swamqp_event ev[64];
    size_t n = 0;
    int rc = swamqp_next_events(c->sw, ev, 64, &n, timeout_ms);
    if (rc != SWAMQP_OK) {
        c->closed = 1;
        if (!c->dead_status)
            c->dead_status = AMQP_STATUS_CONNECTION_CLOSED;
        return c->dead_status;
    }
    for (size_t i = 0; i < n; i++)
        on_event(c, &ev[i]);
    swamqp_events_release(c->sw);
    *handled = n;
    compat_readiness_update(c);
    return AMQP_STATUS_OK;
}

static int pump(amqp_connection_state_t c, uint32_t timeout_ms)
{
    size_t n;
    return pump_count(c, timeout_ms, &n);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first queued frame on `channel` (-1: any), waiting up to timeout_ms (-1: forever).
 * Returns it still queued (*prev is its predecessor) or NULL with *status set. */
static compat_frame *find_frame(amqp_connection_state_t c, int channel, int64_t timeout_ms, compat_frame **prev,
                                int *status)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        compat_frame *p = NULL;
        for (compat_frame *f = c->head; f; p = f, f = f->next) {
            if (channel < 0 || f->frame.channel == channel) {
                *prev = p;
                *status = AMQP_STATUS_OK;
                return f;
            }
        }
        if (c->sw == NULL) {
            *status = AMQP_STATUS_SOCKET_CLOSED;
            return NULL;
        }
        if (c->timed_out) {
            *status = AMQP_STATUS_CONNECTION_CLOSED; /* see rpc_timed_out */
            return NULL;
        }
        if (c->closed && c->dead_status) {
            /* drain what is still queued, then report the end */
            size_t before = 0;
            for (compat_frame *f = c->head; f; f = f->next)
                before++;
            pump(c, 0);
            size_t after = 0;
            for (compat_frame *f = c->head; f; f = f->next)
                after++;
            if (after == before) {
                *status = c->dead_status;
                return NULL;
            }
            continue;
        }
        uint32_t wait;
        if (deadline < 0) {
            wait = 1000;
        } else {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                pump(c, 0);
                if (c->head && channel < 0)
                    continue;
                int found = 0;
                for (compat_frame *f = c->head; f && !found; f = f->next)
                    found = channel < 0 || f->frame.channel == channel;
                if (found)
                    continue;
                *status = AMQP_STATUS_TIMEOUT;
                return NULL;
            }
            wait = left > 1000 ? 1000 : (uint32_t)left;
        }
        int st = pump(c, wait);
        if (st != AMQP_STATUS_OK && c->head == NULL) {
            *status = st;
            return NULL;
        }
    }
}

static void unlink_frame(amqp_connection_state_t c, compat_frame *f, compat_frame *prev)
{
    if (prev)
        prev->next = f->next;
    else
        c->head = f->next;
    if (c->tail == f)
        c->tail = prev;
    f->next = NULL;
    if (c->head == NULL)
        compat_readiness_update(c);
}

/* Hands a frame out: its memory joins the connection pool (freed by amqp_release_buffers). */
static void hand_out(amqp_connection_state_t c, compat_frame *f, amqp_frame_t *out)
{
    *out = f->frame;
    if (f->frame.frame_type == AMQP_FRAME_METHOD && f->frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD)
        compat_channel_close_reported(c, f->frame.channel);
    compat_pool_take(&c->pool, &f->pool);
    free(f);
}

static int wait_frame(amqp_connection_state_t c, amqp_frame_t *out, int64_t timeout_ms)
{
    if (c == NULL || out == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    compat_frame *prev = NULL;
    int st;
    compat_frame *f = find_frame(c, -1, timeout_ms, &prev, &st);
    if (f == NULL)
        return st;
    unlink_frame(c, f, prev);
    hand_out(c, f, out);
    return AMQP_STATUS_OK;
}

static int64_t tv_ms(const struct timeval *tv)
{
    if (tv == NULL)
        return -1;
    return (int64_t)tv->tv_sec * 1000 + tv->tv_usec / 1000;
}

int amqp_simple_wait_frame(amqp_connection_state_t c, amqp_frame_t *decoded_frame)
{
    return wait_frame(c, decoded_frame, -1);
}

int amqp_simple_wait_frame_noblock(amqp_connection_state_t c, amqp_frame_t *decoded_frame, const struct timeval *tv)
{
    if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0))
        return AMQP_STATUS_INVALID_PARAMETER;
    return wait_frame(c, decoded_frame, tv_ms(tv));
}

int amqp_simple_wait_method(amqp_connection_state_t c, amqp_channel_t expected_channel,
                            amqp_method_number_t expected_method, amqp_method_t *output)
{
    amqp_frame_t f;
    memset(&f, 0, sizeof f);
    int st = wait_frame(c, &f, -1);
    if (st)
        return st;
    if (f.channel != expected_channel || f.frame_type != AMQP_FRAME_METHOD ||
        f.payload.method.id != expected_method)
        return AMQP_STATUS_WRONG_METHOD;
    *output = f.payload.method;
    return AMQP_STATUS_OK;
}

/* ---- basic.get and messages -------------------------------------------------------------------- */
amqp_rpc_reply_t amqp_basic_get(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                amqp_boolean_t no_ack)
{
    uint16_t s = sw_channel(c, ch);
    if (!s)
        return c->reply;
    swamqp_error err;
    int rc = AWAIT(c, err, swamqp_basic_get_async(c->sw, s, sb(queue), no_ack ? SWAMQP_NO_ACK : 0, &id_, &err));
    if (rc != SWAMQP_OK) {
        rpc_fail(c, ch, rc, &err);
        return c->reply;
    }
    if (!c->await_has_message) {
        amqp_basic_get_empty_t *e = result(c, AMQP_BASIC_GET_EMPTY_METHOD, sizeof *e);
        (void)e;
        return c->reply;
    }
    /* the message's header and body frames go in front of the queue, for amqp_read_message */
    flist l = {c->await_frames, NULL, 0};
    c->await_frames = NULL;
    for (compat_frame *f = l.head; f; f = f->next)
        l.tail = f;
    c->await_has_message = 0;
    amqp_basic_get_ok_t *ok = result(c, AMQP_BASIC_GET_OK_METHOD, sizeof *ok);
    if (ok == NULL) {
        fl_free(&l);
        return c->reply;
    }
    *ok = c->await_get;
    enqueue_front(c, &l);
    return c->reply;
}

amqp_rpc_reply_t amqp_read_message(amqp_connection_state_t c, amqp_channel_t channel, amqp_message_t *message,
                                   int flags)
{
    (void)flags;
    amqp_rpc_reply_t r = {AMQP_RESPONSE_LIBRARY_EXCEPTION, {0, NULL}, AMQP_STATUS_INVALID_PARAMETER};
    if (c == NULL || message == NULL)
        return r;
    memset(message, 0, sizeof *message);
    init_amqp_pool(&message->pool, 4096);
    compat_frame *prev = NULL;
    int st;
    compat_frame *f = find_frame(c, channel, -1, &prev, &st);
    if (f == NULL) {
        r.library_error = st;
        return r;
    }
    if (f->frame.frame_type != AMQP_FRAME_HEADER) {
        /* librabbitmq leaves the unexpected frame read; so do we (it is handed out). */
        amqp_frame_t tmp;
        unlink_frame(c, f, prev);
        hand_out(c, f, &tmp);
        r.library_error = AMQP_STATUS_UNEXPECTED_STATE;
        return r;
    }
    unlink_frame(c, f, prev);
    uint64_t size = f->frame.payload.properties.body_size;
    st = compat_props_clone(f->frame.payload.properties.decoded, &message->properties, &message->pool);
    free_frame(f);
    if (st) {
        r.library_error = st;
        return r;
    }
    if (size > 0) {
        message->body = amqp_bytes_malloc((size_t)size);
        if (message->body.bytes == NULL) {
            r.library_error = AMQP_STATUS_NO_MEMORY;
            return r;
        }
    }
    uint64_t got = 0;
    while (got < size) {
        f = find_frame(c, channel, -1, &prev, &st);
        if (f == NULL) {
            r.library_error = st;
            return r;
        }
        unlink_frame(c, f, prev);
        if (f->frame.frame_type != AMQP_FRAME_BODY || got + f->frame.payload.body_fragment.len > size) {
            free_frame(f);
            r.library_error = AMQP_STATUS_BAD_AMQP_DATA;
            return r;
        }
        memcpy((char *)message->body.bytes + got, f->frame.payload.body_fragment.bytes,
               f->frame.payload.body_fragment.len);
        got += f->frame.payload.body_fragment.len;
        free_frame(f);
    }
    r.reply_type = AMQP_RESPONSE_NORMAL;
    r.library_error = 0;
    return r;
}

void amqp_destroy_message(amqp_message_t *message)
{
    if (message == NULL)
        return;
    empty_amqp_pool(&message->pool);
    amqp_bytes_free(message->body);
    message->body.bytes = NULL;
    message->body.len = 0;
}

void amqp_destroy_envelope(amqp_envelope_t *envelope)
{
    if (envelope == NULL)
        return;
    amqp_destroy_message(&envelope->message);
    amqp_bytes_free(envelope->routing_key);
    amqp_bytes_free(envelope->exchange);
    amqp_bytes_free(envelope->consumer_tag);
    envelope->routing_key.bytes = envelope->exchange.bytes = envelope->consumer_tag.bytes = NULL;
}

amqp_rpc_reply_t amqp_consume_message(amqp_connection_state_t c, amqp_envelope_t *envelope,
                                      const struct timeval *timeout, int flags)
{
    amqp_rpc_reply_t r = {AMQP_RESPONSE_LIBRARY_EXCEPTION, {0, NULL}, AMQP_STATUS_INVALID_PARAMETER};
    if (c == NULL || envelope == NULL)
        return r;
    memset(envelope, 0, sizeof *envelope);
    if (timeout && (timeout->tv_sec < 0 || timeout->tv_usec < 0))
        return r;
    compat_frame *prev = NULL;
    int st;
    compat_frame *f = find_frame(c, -1, tv_ms(timeout), &prev, &st);
    if (f == NULL) {
        r.library_error = st;
        return r;
    }
    if (f->frame.frame_type != AMQP_FRAME_METHOD || f->frame.payload.method.id != AMQP_BASIC_DELIVER_METHOD) {
        /* left queued: the next amqp_simple_wait_frame returns it */
        r.library_error = AMQP_STATUS_UNEXPECTED_STATE;
        return r;
    }
    unlink_frame(c, f, prev);
    amqp_basic_deliver_t *d = f->frame.payload.method.decoded;
    envelope->channel = f->frame.channel;
    envelope->consumer_tag = amqp_bytes_malloc_dup(d->consumer_tag);
    envelope->delivery_tag = d->delivery_tag;
    envelope->redelivered = d->redelivered;
    envelope->exchange = amqp_bytes_malloc_dup(d->exchange);
    envelope->routing_key = amqp_bytes_malloc_dup(d->routing_key);
    free_frame(f);
    r = amqp_read_message(c, envelope->channel, &envelope->message, flags);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        amqp_destroy_envelope(envelope);
    return r;
}

/* ---- generic methods ----------------------------------------------------------------------------- */
/* amqp_send_method: the methods a librabbitmq program sends itself are mapped onto the typed
 * calls; those with a reply queue a synthetic -ok frame (or the broker's close) for
 * amqp_simple_wait_method / amqp_simple_wait_frame to read. */
static int queue_reply_frame(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t id,
                             const void *decoded, size_t size)
{
    void *d = NULL;
    compat_frame *f = method_frame(ch, id, size ? size : 1, &d);
    if (f == NULL)
        return AMQP_STATUS_NO_MEMORY;
    if (size)
        memcpy(d, decoded, size);
    /* the strings of the -ok structs live in the connection pool: give the frame its own copies */
    switch (id) {
    case AMQP_QUEUE_DECLARE_OK_METHOD:
    case AMQP_BASIC_CONSUME_OK_METHOD:
    case AMQP_BASIC_CANCEL_OK_METHOD: { /* their first member is the queue name / consumer tag */
        amqp_bytes_t *b = d;
        *b = compat_pool_dup(&f->pool, b->bytes, b->len);
        break;
    }
    case AMQP_BASIC_GET_OK_METHOD: {
        amqp_basic_get_ok_t *g = d;
        g->exchange = compat_pool_dup(&f->pool, g->exchange.bytes, g->exchange.len);
        g->routing_key = compat_pool_dup(&f->pool, g->routing_key.bytes, g->routing_key.len);
        break;
    }
    default: break;
    }
    /* At the front: the reply comes before deliveries that were already queued, as with
       librabbitmq, whose RPCs set such frames aside. */
    flist l = {f, f, 0};
    enqueue_front(c, &l);
    return AMQP_STATUS_OK;
}

static int reply_as_frame(amqp_connection_state_t c, amqp_channel_t ch, void *ok, amqp_method_number_t id,
                          size_t size)
{
    if (ok != NULL)
        return queue_reply_frame(c, ch, id, ok, size);
    if (c->reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
        if (c->reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t x = *(amqp_channel_close_t *)c->reply.reply.decoded;
            void *d = NULL;
            compat_frame *f = method_frame(ch, AMQP_CHANNEL_CLOSE_METHOD, sizeof x, &d);
            if (f == NULL)
                return AMQP_STATUS_NO_MEMORY;
            x.reply_text = compat_pool_dup(&f->pool, x.reply_text.bytes, x.reply_text.len);
            memcpy(d, &x, sizeof x);
            flist l = {f, f, 0};
            enqueue_front(c, &l);
            return AMQP_STATUS_OK;
        }
        return AMQP_STATUS_CONNECTION_CLOSED;
    }
    return c->reply.library_error ? c->reply.library_error : AMQP_STATUS_UNEXPECTED_STATE;
}

/* A method with nowait set: sent with SWAMQP_NOWAIT (queued, no reply frame), as librabbitmq
 * sends it and reads nothing back. */
static int send_nowait(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t id, void *decoded)
{
    uint16_t s;
    int st = status_of(c, ch, &s);
    if (st)
        return st > 0 ? AMQP_STATUS_OK : st;
    scratch sc = {.ok = 1};
    const swamqp_table *a = NULL;
    amqp_table_t none = amqp_empty_table;
    amqp_table_t *args = &none;
    switch (id) {
    case AMQP_QUEUE_DECLARE_METHOD: args = &((amqp_queue_declare_t *)decoded)->arguments; break;
    case AMQP_QUEUE_BIND_METHOD: args = &((amqp_queue_bind_t *)decoded)->arguments; break;
    case AMQP_EXCHANGE_DECLARE_METHOD: args = &((amqp_exchange_declare_t *)decoded)->arguments; break;
    case AMQP_EXCHANGE_BIND_METHOD: args = &((amqp_exchange_bind_t *)decoded)->arguments; break;
    case AMQP_EXCHANGE_UNBIND_METHOD: args = &((amqp_exchange_unbind_t *)decoded)->arguments; break;
    case AMQP_BASIC_CONSUME_METHOD: args = &((amqp_basic_consume_t *)decoded)->arguments; break;
    default: break;
    }
    a = args_of(c, &sc, *args);
    if (!sc.ok) {
        done(&sc);
        return c->reply.library_error;
    }
    const uint32_t nw = SWAMQP_NOWAIT, t = COMPAT_FOREVER_MS;
    swamqp_error err;
    int rc;
    switch (id) {
    case AMQP_QUEUE_DECLARE_METHOD: {
        amqp_queue_declare_t *m = decoded;
        uint32_t f = nw | (m->passive ? SWAMQP_PASSIVE : 0) | (m->durable ? SWAMQP_DURABLE : 0) |
                     (m->exclusive ? SWAMQP_EXCLUSIVE : 0) | (m->auto_delete ? SWAMQP_AUTO_DELETE : 0);
        rc = swamqp_queue_declare(c->sw, s, sb(m->queue), f, a, NULL, t, &err);
        break;
    }
    case AMQP_QUEUE_BIND_METHOD: {
        amqp_queue_bind_t *m = decoded;
        rc = swamqp_queue_bind(c->sw, s, sb(m->queue), sb(m->exchange), sb(m->routing_key), nw, a, t, &err);
        break;
    }
    case AMQP_QUEUE_DELETE_METHOD: {
        amqp_queue_delete_t *m = decoded;
        uint32_t f = nw | (m->if_unused ? SWAMQP_IF_UNUSED : 0) | (m->if_empty ? SWAMQP_IF_EMPTY : 0);
        rc = swamqp_queue_delete(c->sw, s, sb(m->queue), f, NULL, t, &err);
        break;
    }
    case AMQP_QUEUE_PURGE_METHOD:
        rc = swamqp_queue_purge(c->sw, s, sb(((amqp_queue_purge_t *)decoded)->queue), nw, NULL, t, &err);
        break;
    case AMQP_EXCHANGE_DECLARE_METHOD: {
        amqp_exchange_declare_t *m = decoded;
        uint32_t f = nw | (m->passive ? SWAMQP_PASSIVE : 0) | (m->durable ? SWAMQP_DURABLE : 0) |
                     (m->auto_delete ? SWAMQP_AUTO_DELETE : 0) | (m->internal ? SWAMQP_INTERNAL : 0);
        rc = swamqp_exchange_declare(c->sw, s, sb(m->exchange), sb(m->type), f, a, t, &err);
        break;
    }
    case AMQP_EXCHANGE_DELETE_METHOD: {
        amqp_exchange_delete_t *m = decoded;
        rc = swamqp_exchange_delete(c->sw, s, sb(m->exchange), nw | (m->if_unused ? SWAMQP_IF_UNUSED : 0), t, &err);
        break;
    }
    case AMQP_EXCHANGE_BIND_METHOD: {
        amqp_exchange_bind_t *m = decoded;
        rc = swamqp_exchange_bind(c->sw, s, sb(m->destination), sb(m->source), sb(m->routing_key), nw, a, t, &err);
        break;
    }
    case AMQP_EXCHANGE_UNBIND_METHOD: {
        amqp_exchange_unbind_t *m = decoded;
        rc = swamqp_exchange_unbind(c->sw, s, sb(m->destination), sb(m->source), sb(m->routing_key), nw, a, t, &err);
        break;
    }
    case AMQP_BASIC_CONSUME_METHOD: {
        amqp_basic_consume_t *m = decoded;
        uint32_t f = nw | (m->no_local ? SWAMQP_NO_LOCAL : 0) | (m->no_ack ? SWAMQP_NO_ACK : 0) |
                     (m->exclusive ? SWAMQP_EXCLUSIVE : 0);
        rc = swamqp_basic_consume(c->sw, s, sb(m->queue), sb(m->consumer_tag), f, a, NULL, t, &err);
        if (rc == SWAMQP_OK)
            compat_consumer_add(c, s, m->consumer_tag.bytes, m->consumer_tag.len);
        break;
    }
    case AMQP_BASIC_CANCEL_METHOD: {
        amqp_basic_cancel_t *m = decoded;
        rc = swamqp_basic_cancel(c->sw, s, sb(m->consumer_tag), nw, t, &err);
        if (rc == SWAMQP_OK)
            compat_consumer_remove(c, s, m->consumer_tag.bytes, m->consumer_tag.len, 0);
        break;
    }
    default:
        rc = SWAMQP_ERR_INVALID_ARGUMENT;
        break;
    }
    done(&sc);
    return status_from(c, rc, &err);
}

int amqp_send_method(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t id, void *decoded)
{
    if (c == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    if (c->sw == NULL && decoded != NULL) {
        /* before login the socket is the program's: the method goes out as a frame, as it does
           with librabbitmq (a handshake by hand) */
        amqp_frame_t f;
        memset(&f, 0, sizeof f);
        f.frame_type = AMQP_FRAME_METHOD;
        f.channel = ch;
        f.payload.method.id = id;
        f.payload.method.decoded = decoded;
        return amqp_send_frame(c, &f);
    }
    switch (id) {
    case AMQP_CHANNEL_CLOSE_OK_METHOD:
        if (ch != 0)
            c->u_unacked[ch] = 0;
        return AMQP_STATUS_OK; /* swiftamqp answers the broker itself */
    case AMQP_CONNECTION_CLOSE_OK_METHOD:
    case AMQP_CHANNEL_FLOW_OK_METHOD:
        return AMQP_STATUS_OK; /* swiftamqp answers the broker itself */
    default: break;
    }
    if (decoded == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    switch (id) {
    case AMQP_BASIC_PUBLISH_METHOD: /* its header and body frames follow through amqp_send_frame */
        return compat_wire_start_publish(c, ch, decoded);
    case AMQP_CHANNEL_FLOW_METHOD:
        return reply_as_frame(c, ch, amqp_channel_flow(c, ch, ((amqp_channel_flow_t *)decoded)->active),
                              AMQP_CHANNEL_FLOW_OK_METHOD, sizeof(amqp_channel_flow_ok_t));
    case AMQP_CHANNEL_OPEN_METHOD:
        return reply_as_frame(c, ch, amqp_channel_open(c, ch), AMQP_CHANNEL_OPEN_OK_METHOD,
                              sizeof(amqp_channel_open_ok_t));
    case AMQP_CHANNEL_CLOSE_METHOD: {
        amqp_rpc_reply_t r = amqp_channel_close(c, ch, ((amqp_channel_close_t *)decoded)->reply_code);
        amqp_channel_close_ok_t ok = {0};
        return reply_as_frame(c, ch, r.reply_type == AMQP_RESPONSE_NORMAL ? &ok : NULL, AMQP_CHANNEL_CLOSE_OK_METHOD,
                              sizeof ok);
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
        if (ch != 0)
            return AMQP_STATUS_INVALID_PARAMETER;
        amqp_rpc_reply_t r = amqp_connection_close(c, ((amqp_connection_close_t *)decoded)->reply_code);
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
            return r.library_error ? r.library_error : AMQP_STATUS_CONNECTION_CLOSED;
        amqp_connection_close_ok_t ok = {0};
        return queue_reply_frame(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok, sizeof ok);
    }
    case AMQP_BASIC_ACK_METHOD: {
        amqp_basic_ack_t *m = decoded;
        return amqp_basic_ack(c, ch, m->delivery_tag, m->multiple);
    }
    case AMQP_BASIC_NACK_METHOD: {
        amqp_basic_nack_t *m = decoded;
        return amqp_basic_nack(c, ch, m->delivery_tag, m->multiple, m->requeue);
    }
    case AMQP_BASIC_REJECT_METHOD: {
        amqp_basic_reject_t *m = decoded;
        return amqp_basic_reject(c, ch, m->delivery_tag, m->requeue);
    }
    case AMQP_QUEUE_DECLARE_METHOD: {
        amqp_queue_declare_t *m = decoded;
        if (m->nowait)
            return send_nowait(c, ch, id, m);
        void *ok = amqp_queue_declare(c, ch, m->queue, m->passive, m->durable, m->exclusive, m->auto_delete,
                                      m->arguments);
        return reply_as_frame(c, ch, ok, AMQP_QUEUE_DECLARE_OK_METHOD, sizeof(amqp_queue_declare_ok_t));
    }
    case AMQP_QUEUE_BIND_METHOD: {
        amqp_queue_bind_t *m = decoded;
        if (m->nowait)
            return send_nowait(c, ch, id, m);
        void *ok = amqp_queue_bind(c, ch, m->queue, m->exchange, m->routing_key, m->arguments);
        return reply_as_frame(c, ch, ok, AMQP_QUEUE_BIND_OK_METHOD, sizeof(amqp_queue_bind_ok_t));
    }
    case AMQP_QUEUE_DELETE_METHOD: {
        amqp_queue_delete_t *m = decoded;
        if (m->nowait)
            return send_nowait(c, ch, id, m);
        void *ok = amqp_queue_delete(c, ch, m->queue, m->if_unused, m->if_empty);
        return reply_as_frame(c, ch, ok, AMQP_QUEUE_DELETE_OK_METHOD, sizeof(amqp_queue_delete_ok_t));
    }
    case AMQP_EXCHANGE_DECLARE_METHOD: {
        amqp_exchange_declare_t *m = decoded;
        if (m->nowait)
            return send_nowait(c, ch, id, m);
        void *ok = amqp_exchange_declare(c, ch, m->exchange, m->type, m->passive, m->durable, m->auto_delete,
                                         m->internal, m->arguments);
        return reply_as_frame(c, ch, ok, AMQP_EXCHANGE_DECLARE_OK_METHOD, sizeof(amqp_exchange_declare_ok_t));
    }
    case AMQP_EXCHANGE_DELETE_METHOD: {
        amqp_exchange_delete_t *m = decoded;
        if (m->nowait)
            return send_nowait(c, ch, id, m);
        void *ok = amqp_exchange_delete(c, ch, m->exchange, m->if_unused);
        return reply_as_frame(c, ch, ok, AMQP_EXCHANGE_DELETE_OK_METHOD, sizeof(amqp_exchange_delete_ok_t));
    }
    case AMQP_EXCHANGE_BIND_METHOD: {
        amqp_exchange_bind_t *m = decoded;
        if (m->nowait)
            return send_nowait(c, ch, id, m);
        void *ok = amqp_exchange_bind(c, ch, m->destination, m->source, m->routing_key, m->arguments);
        return reply_as_frame(c, ch, ok, AMQP_EXCHANGE_BIND_OK_METHOD, sizeof(amqp_exchange_bind_ok_t));
    }
    case AMQP_EXCHANGE_UNBIND_METHOD: {
        amqp_exchange_unbind_t *m = decoded;
        if (m->nowait)
            return send_nowait(c, ch, id, m);
        void *ok = amqp_exchange_unbind(c, ch, m->destination, m->source, m->routing_key, m->arguments);
        return reply_as_frame(c, ch, ok, AMQP_EXCHANGE_UNBIND_OK_METHOD, sizeof(amqp_exchange_unbind_ok_t));
    }
    case AMQP_QUEUE_UNBIND_METHOD: {
        amqp_queue_unbind_t *m = decoded;
        void *ok = amqp_queue_unbind(c, ch, m->queue, m->exchange, m->routing_key, m->arguments);
        return reply_as_frame(c, ch, ok, AMQP_QUEUE_UNBIND_OK_METHOD, sizeof(amqp_queue_unbind_ok_t));
    }
    case AMQP_QUEUE_PURGE_METHOD: {
        amqp_queue_purge_t *m = decoded;
        if (m->nowait)
            return send_nowait(c, ch, id, m);
        void *ok = amqp_queue_purge(c, ch, m->queue);
        return reply_as_frame(c, ch, ok, AMQP_QUEUE_PURGE_OK_METHOD, sizeof(amqp_queue_purge_ok_t));
    }
    case AMQP_BASIC_CONSUME_METHOD: {
        amqp_basic_consume_t *m = decoded;
        if (m->nowait)
            return send_nowait(c, ch, id, m);
        void *ok = amqp_basic_consume(c, ch, m->queue, m->consumer_tag, m->no_local, m->no_ack, m->exclusive,
                                      m->arguments);
        return reply_as_frame(c, ch, ok, AMQP_BASIC_CONSUME_OK_METHOD, sizeof(amqp_basic_consume_ok_t));
    }
    case AMQP_BASIC_RECOVER_METHOD: {
        amqp_basic_recover_t *m = decoded;
        void *ok = amqp_basic_recover(c, ch, m->requeue);
        return reply_as_frame(c, ch, ok, AMQP_BASIC_RECOVER_OK_METHOD, sizeof(amqp_basic_recover_ok_t));
    }
    case AMQP_BASIC_GET_METHOD: {
        /* get-ok (then its header and body frames, already queued in front) or get-empty */
        amqp_basic_get_t *m = decoded;
        amqp_rpc_reply_t r = amqp_basic_get(c, ch, m->queue, m->no_ack);
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
            return reply_as_frame(c, ch, NULL, 0, 0);
        if (r.reply.id == AMQP_BASIC_GET_OK_METHOD)
            return queue_reply_frame(c, ch, AMQP_BASIC_GET_OK_METHOD, r.reply.decoded, sizeof(amqp_basic_get_ok_t));
        return queue_reply_frame(c, ch, AMQP_BASIC_GET_EMPTY_METHOD, r.reply.decoded, sizeof(amqp_basic_get_empty_t));
    }
    case AMQP_BASIC_QOS_METHOD: {
        amqp_basic_qos_t *m = decoded;
        void *ok = amqp_basic_qos(c, ch, m->prefetch_size, m->prefetch_count, m->global);
        return reply_as_frame(c, ch, ok, AMQP_BASIC_QOS_OK_METHOD, sizeof(amqp_basic_qos_ok_t));
    }
    case AMQP_BASIC_CANCEL_METHOD: {
        amqp_basic_cancel_t *m = decoded;
        if (m->nowait)
            return send_nowait(c, ch, id, m);
        amqp_basic_cancel_ok_t *ok = amqp_basic_cancel(c, ch, m->consumer_tag);
        return reply_as_frame(c, ch, ok, AMQP_BASIC_CANCEL_OK_METHOD, sizeof(amqp_basic_cancel_ok_t));
    }
    case AMQP_CONFIRM_SELECT_METHOD: {
        void *ok = amqp_confirm_select(c, ch);
        return reply_as_frame(c, ch, ok, AMQP_CONFIRM_SELECT_OK_METHOD, sizeof(amqp_confirm_select_ok_t));
    }
    case AMQP_TX_SELECT_METHOD:
        return reply_as_frame(c, ch, amqp_tx_select(c, ch), AMQP_TX_SELECT_OK_METHOD, sizeof(amqp_tx_select_ok_t));
    case AMQP_TX_COMMIT_METHOD:
        return reply_as_frame(c, ch, amqp_tx_commit(c, ch), AMQP_TX_COMMIT_OK_METHOD, sizeof(amqp_tx_commit_ok_t));
    case AMQP_TX_ROLLBACK_METHOD:
        return reply_as_frame(c, ch, amqp_tx_rollback(c, ch), AMQP_TX_ROLLBACK_OK_METHOD,
                              sizeof(amqp_tx_rollback_ok_t));
    default:
        return AMQP_STATUS_UNSUPPORTED;
    }
}

amqp_rpc_reply_t amqp_simple_rpc(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t request_id,
                                 amqp_method_number_t *expected_reply_ids, void *decoded_request_method)
{
    amqp_rpc_reply_t r = {AMQP_RESPONSE_LIBRARY_EXCEPTION, {0, NULL}, AMQP_STATUS_INVALID_PARAMETER};
    if (c == NULL)
        return r;
    int st = amqp_send_method(c, ch, request_id, decoded_request_method);
    if (st) {
        if (c->reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION)
            return c->reply;
        compat_reply_library(c, st);
        return c->reply;
    }
    amqp_frame_t f;
    memset(&f, 0, sizeof f);
    st = wait_frame(c, &f, c->rpc_timeout_ms ? (int64_t)c->rpc_timeout_ms : -1);
    if (st) {
        compat_reply_library(c, st);
        return c->reply;
    }
    if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
        c->reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
        c->reply.reply = f.payload.method;
        c->reply.library_error = 0;
        return c->reply;
    }
    for (amqp_method_number_t *e = expected_reply_ids; e && *e; e++) {
        if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == *e) {
            c->reply.reply_type = AMQP_RESPONSE_NORMAL;
            c->reply.reply = f.payload.method;
            c->reply.library_error = 0;
            return c->reply;
        }
    }
    compat_reply_library(c, AMQP_STATUS_WRONG_METHOD);
    return c->reply;
}

void *amqp_simple_rpc_decoded(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t request_id,
                              amqp_method_number_t reply_id, void *decoded_request_method)
{
    amqp_method_number_t ids[2] = {reply_id, 0};
    amqp_rpc_reply_t r = amqp_simple_rpc(c, ch, request_id, ids, decoded_request_method);
    return r.reply_type == AMQP_RESPONSE_NORMAL ? r.reply.decoded : NULL;
}
