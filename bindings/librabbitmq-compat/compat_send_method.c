/*
 * librabbitmq compatibility layer: the generic method API. amqp_send_method is a dispatcher from
 * a method struct a program builds itself onto the typed calls (compat_rpc.c, amqp_basic_get,
 * amqp_connection_close), or onto their nowait form, and turns a typed result into a synthetic
 * reply frame; amqp_simple_rpc and amqp_simple_rpc_decoded send through it and read that frame.
 * Apart from the typed calls because it only translates between the two APIs (only the nowait
 * forms call swamqp directly; before login a method goes out through amqp_send_frame).
 */
#define _GNU_SOURCE
#include <string.h>

#include "compat.h"

/* ---- generic methods ----------------------------------------------------------------------------- */
/* Replaces *b by a copy in the frame's pool; 0 when out of memory. */
static int own_copy(compat_frame *f, amqp_bytes_t *b)
{
    amqp_bytes_t copy = compat_pool_dup(&f->pool, b->bytes, b->len);
    if (b->len && copy.bytes == NULL)
        return 0;
    *b = copy;
    return 1;
}

/* amqp_send_method: the methods a librabbitmq program sends itself are mapped onto the typed
 * calls; those with a reply queue a synthetic -ok frame (or the broker's close) for
 * amqp_simple_wait_method / amqp_simple_wait_frame to read. */
static int queue_reply_frame(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t id,
                             const void *decoded, size_t size)
{
    void *d = NULL;
    compat_frame *f = compat_method_frame(ch, id, size ? size : 1, &d);
    if (f == NULL)
        return AMQP_STATUS_NO_MEMORY;
    if (size)
        memcpy(d, decoded, size);
    /* the strings of the -ok structs live in the connection pool: give the frame its own copies
       (a reply with a string missing would look like a good one, so failing to copy fails) */
    int copied = 1;
    switch (id) {
    case AMQP_QUEUE_DECLARE_OK_METHOD:
    case AMQP_BASIC_CONSUME_OK_METHOD:
    case AMQP_BASIC_CANCEL_OK_METHOD: /* their first member is the queue name / consumer tag */
        copied = own_copy(f, d);
        break;
    case AMQP_BASIC_GET_OK_METHOD: {
        amqp_basic_get_ok_t *g = d;
        copied = own_copy(f, &g->exchange) && own_copy(f, &g->routing_key);
        break;
    }
    default: break;
    }
    if (!copied) {
        compat_free_frame(f);
        return AMQP_STATUS_NO_MEMORY;
    }
    /* At the front: the reply comes before deliveries that were already queued, as with
       librabbitmq, whose RPCs set such frames aside. */
    compat_flist l = {f, f, 0};
    compat_enqueue_front(c, &l);
    return AMQP_STATUS_OK;
}

/* amqp_basic_get put its message's header and body frames at the front of the queue; when no
 * get-ok can go in front of them they are dropped, or they would be read as a message nobody
 * announced. */
static void drop_get_content(amqp_connection_state_t c, amqp_channel_t ch)
{
    compat_frame *f = c->head;
    if (f == NULL || f->frame.channel != ch || f->frame.frame_type != AMQP_FRAME_HEADER)
        return;
    uint64_t left = f->frame.payload.properties.body_size;
    compat_unlink_frame(c, f, NULL);
    compat_free_frame(f);
    while (left > 0 && (f = c->head) != NULL && f->frame.channel == ch && f->frame.frame_type == AMQP_FRAME_BODY) {
        size_t n = f->frame.payload.body_fragment.len;
        left = n < left ? left - n : 0;
        compat_unlink_frame(c, f, NULL);
        compat_free_frame(f);
    }
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
            compat_frame *f = compat_method_frame(ch, AMQP_CHANNEL_CLOSE_METHOD, sizeof x, &d);
            if (f == NULL)
                return AMQP_STATUS_NO_MEMORY;
            x.reply_text = compat_pool_dup(&f->pool, x.reply_text.bytes, x.reply_text.len);
            memcpy(d, &x, sizeof x);
            compat_flist l = {f, f, 0};
            compat_enqueue_front(c, &l);
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
    int st = compat_status_of(c, ch, &s);
    if (st)
        return st > 0 ? AMQP_STATUS_OK : st;
    compat_scratch sc = {.ok = 1};
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
    a = compat_args_of(c, &sc, *args);
    if (!sc.ok) {
        compat_args_done(&sc);
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
        rc = swamqp_queue_declare(c->sw, s, compat_sb(m->queue), f, a, NULL, t, &err);
        break;
    }
    case AMQP_QUEUE_BIND_METHOD: {
        amqp_queue_bind_t *m = decoded;
        rc = swamqp_queue_bind(c->sw, s, compat_sb(m->queue), compat_sb(m->exchange), compat_sb(m->routing_key), nw, a,
                               t, &err);
        break;
    }
    case AMQP_QUEUE_DELETE_METHOD: {
        amqp_queue_delete_t *m = decoded;
        uint32_t f = nw | (m->if_unused ? SWAMQP_IF_UNUSED : 0) | (m->if_empty ? SWAMQP_IF_EMPTY : 0);
        rc = swamqp_queue_delete(c->sw, s, compat_sb(m->queue), f, NULL, t, &err);
        break;
    }
    case AMQP_QUEUE_PURGE_METHOD:
        rc = swamqp_queue_purge(c->sw, s, compat_sb(((amqp_queue_purge_t *)decoded)->queue), nw, NULL, t, &err);
        break;
    case AMQP_EXCHANGE_DECLARE_METHOD: {
        amqp_exchange_declare_t *m = decoded;
        uint32_t f = nw | (m->passive ? SWAMQP_PASSIVE : 0) | (m->durable ? SWAMQP_DURABLE : 0) |
                     (m->auto_delete ? SWAMQP_AUTO_DELETE : 0) | (m->internal ? SWAMQP_INTERNAL : 0);
        rc = swamqp_exchange_declare(c->sw, s, compat_sb(m->exchange), compat_sb(m->type), f, a, t, &err);
        break;
    }
    case AMQP_EXCHANGE_DELETE_METHOD: {
        amqp_exchange_delete_t *m = decoded;
        rc = swamqp_exchange_delete(c->sw, s, compat_sb(m->exchange), nw | (m->if_unused ? SWAMQP_IF_UNUSED : 0), t,
                                    &err);
        break;
    }
    case AMQP_EXCHANGE_BIND_METHOD: {
        amqp_exchange_bind_t *m = decoded;
        rc = swamqp_exchange_bind(c->sw, s, compat_sb(m->destination), compat_sb(m->source), compat_sb(m->routing_key),
                                  nw, a, t, &err);
        break;
    }
    case AMQP_EXCHANGE_UNBIND_METHOD: {
        amqp_exchange_unbind_t *m = decoded;
        rc = swamqp_exchange_unbind(c->sw, s, compat_sb(m->destination), compat_sb(m->source),
                                    compat_sb(m->routing_key), nw, a, t, &err);
        break;
    }
    case AMQP_BASIC_CONSUME_METHOD: {
        amqp_basic_consume_t *m = decoded;
        uint32_t f = nw | (m->no_local ? SWAMQP_NO_LOCAL : 0) | (m->no_ack ? SWAMQP_NO_ACK : 0) |
                     (m->exclusive ? SWAMQP_EXCLUSIVE : 0);
        rc = swamqp_basic_consume(c->sw, s, compat_sb(m->queue), compat_sb(m->consumer_tag), f, a, NULL, t, &err);
        if (rc == SWAMQP_OK)
            compat_consumer_add(c, s, m->consumer_tag.bytes, m->consumer_tag.len);
        break;
    }
    case AMQP_BASIC_CANCEL_METHOD: {
        amqp_basic_cancel_t *m = decoded;
        rc = swamqp_basic_cancel(c->sw, s, compat_sb(m->consumer_tag), nw, t, &err);
        if (rc == SWAMQP_OK)
            compat_consumer_remove(c, s, m->consumer_tag.bytes, m->consumer_tag.len, 0);
        break;
    }
    default:
        rc = SWAMQP_ERR_INVALID_ARGUMENT;
        break;
    }
    compat_args_done(&sc);
    return compat_status_from(c, rc, &err);
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
        if (r.reply.id == AMQP_BASIC_GET_OK_METHOD) {
            int st = queue_reply_frame(c, ch, AMQP_BASIC_GET_OK_METHOD, r.reply.decoded, sizeof(amqp_basic_get_ok_t));
            if (st != AMQP_STATUS_OK)
                drop_get_content(c, ch);
            return st;
        }
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
        /* librabbitmq cannot encode a method it does not know; one it knows but we do not map
           is unsupported here */
        return amqp_method_name(id) == NULL ? AMQP_STATUS_UNKNOWN_METHOD : AMQP_STATUS_UNSUPPORTED;
    }
}

amqp_rpc_reply_t amqp_simple_rpc(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t request_id,
                                 amqp_method_number_t *expected_reply_ids, void *decoded_request_method)
{
    amqp_rpc_reply_t r = {AMQP_RESPONSE_LIBRARY_EXCEPTION, {0, NULL}, AMQP_STATUS_INVALID_PARAMETER};
    if (c == NULL)
        return r;
    /* A server exception in the reply after a failed send is this request's (a typed call that the
       broker's connection.close ended), never one left from an earlier call: librabbitmq returns a
       failed send as the library error it is. */
    c->reply.reply_type = AMQP_RESPONSE_NONE;
    int st = amqp_send_method(c, ch, request_id, decoded_request_method);
    if (st) {
        if (c->reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION)
            return c->reply;
        compat_reply_library(c, st);
        return c->reply;
    }
    amqp_frame_t f;
    memset(&f, 0, sizeof f);
    st = compat_wait_frame(c, &f, c->rpc_timeout_ms ? (int64_t)c->rpc_timeout_ms : -1);
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
