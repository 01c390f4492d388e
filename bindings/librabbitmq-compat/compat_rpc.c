/*
 * librabbitmq compatibility layer: the typed librabbitmq methods, each mapped onto the typed
 * swamqp_* call: the RPCs (channel open/close/flow, exchanges, queues, basic.qos/consume/cancel/
 * recover, tx, confirm.select), which wait through compat_rpc_core.c and return librabbitmq's -ok
 * struct, and basic.publish/ack/nack/reject, which return a status. amqp_basic_get lives with the
 * reading of its message in compat_messages.c.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "compat.h"

/* Runs a swamqp call result: NULL and reply filled on error, else the -ok struct. */
#define RPC_RESULT(c, rc, err, ID, type)                                                           \
    ((rc) == SWAMQP_OK ? (type *)compat_rpc_result((c), (ID), sizeof(type))                        \
                       : (compat_rpc_fail((c), ch, (rc), &(err)), (type *)NULL))

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
    compat_pump(c, 0);
    if (c->u2s[ch] != 0) {
        compat_reply_library(c, AMQP_STATUS_UNEXPECTED_STATE); /* already open */
        return NULL;
    }
    swamqp_error err;
    uint16_t s = 0;
    int rc = COMPAT_AWAIT(c, err, swamqp_channel_open_async(c->sw, &s, &id_, &err));
    amqp_channel_open_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_CHANNEL_OPEN_OK_METHOD, amqp_channel_open_ok_t);
    if (rc == SWAMQP_OK) {
        /* the engine may hand out the number of a channel whose closed event is still queued:
           the events before it belong to the old channel */
        if (c->s2u[s] != 0 || c->s_state[s] != COMPAT_CH_OPEN)
            compat_settle_channel(c, s);
        c->s_state[s] = COMPAT_CH_OPEN;
        c->u2s[ch] = s;
        c->s2u[s] = ch;
        c->u_unacked[ch] = 0;
    }
    return ok;
}

amqp_rpc_reply_t amqp_channel_close(amqp_connection_state_t c, amqp_channel_t ch, int code)
{
    /* librabbitmq refuses a code that is no reply code before sending anything (and leaves the last
       RPC reply as it was). A valid one is not sent: the engine's channel.close always carries 200
       (swamqp_channel_close has no code). */
    if (code < 0 || code > UINT16_MAX) {
        amqp_rpc_reply_t r = {AMQP_RESPONSE_LIBRARY_EXCEPTION, {0, NULL}, AMQP_STATUS_INVALID_PARAMETER};
        return r;
    }
    if (c != NULL && c->sw != NULL && !c->closed && ch != 0 && c->u2s[ch] == 0 && c->u_unacked[ch]) {
        /* the broker closed it and waits for close-ok: librabbitmq's channel.close gets close-ok
           (the engine answered the broker already; the program may still send its close-ok) */
        compat_reply_ok(c, AMQP_CHANNEL_CLOSE_OK_METHOD, NULL);
        return c->reply;
    }
    uint16_t s = compat_sw_channel(c, ch);
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
                           compat_await_ex(c, id, timeout, &err, 0) != SWAMQP_OK))
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
        rc = compat_await(c, id, timeout, &err);
    if (rc == SWAMQP_OK || rc == SWAMQP_ERR_CHANNEL_CLOSED) {
        compat_settle_channel(c, s);
        /* a close the broker made first (or that crossed ours) is reported as librabbitmq would
           (it gets channel.close instead of close-ok) */
        if (!compat_report_pending_close(c, ch)) {
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
    uint16_t s = compat_sw_channel(c, ch);
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
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    compat_scratch sc;
    const swamqp_table *a = compat_args_of(c, &sc, arguments);
    if (!sc.ok)
        return compat_args_done(&sc), NULL;
    uint32_t f = (passive ? SWAMQP_PASSIVE : 0) | (durable ? SWAMQP_DURABLE : 0) |
                 (auto_delete ? SWAMQP_AUTO_DELETE : 0) | (internal ? SWAMQP_INTERNAL : 0);
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_exchange_declare_async(c->sw, s, compat_sb(exchange), compat_sb(type), f, a,
                                                                &id_, &err));
    compat_args_done(&sc);
    return RPC_RESULT(c, rc, err, AMQP_EXCHANGE_DECLARE_OK_METHOD, amqp_exchange_declare_ok_t);
}

amqp_exchange_delete_ok_t *amqp_exchange_delete(amqp_connection_state_t c, amqp_channel_t ch,
                                                amqp_bytes_t exchange, amqp_boolean_t if_unused)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_exchange_delete_async(c->sw, s, compat_sb(exchange),
                                                               if_unused ? SWAMQP_IF_UNUSED : 0, &id_, &err));
    return RPC_RESULT(c, rc, err, AMQP_EXCHANGE_DELETE_OK_METHOD, amqp_exchange_delete_ok_t);
}

amqp_exchange_bind_ok_t *amqp_exchange_bind(amqp_connection_state_t c, amqp_channel_t ch,
                                            amqp_bytes_t destination, amqp_bytes_t source,
                                            amqp_bytes_t routing_key, amqp_table_t arguments)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    compat_scratch sc;
    const swamqp_table *a = compat_args_of(c, &sc, arguments);
    if (!sc.ok)
        return compat_args_done(&sc), NULL;
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_exchange_bind_async(c->sw, s, compat_sb(destination), compat_sb(source),
                                                             compat_sb(routing_key), 0, a, &id_, &err));
    compat_args_done(&sc);
    return RPC_RESULT(c, rc, err, AMQP_EXCHANGE_BIND_OK_METHOD, amqp_exchange_bind_ok_t);
}

amqp_exchange_unbind_ok_t *amqp_exchange_unbind(amqp_connection_state_t c, amqp_channel_t ch,
                                                amqp_bytes_t destination, amqp_bytes_t source,
                                                amqp_bytes_t routing_key, amqp_table_t arguments)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    compat_scratch sc;
    const swamqp_table *a = compat_args_of(c, &sc, arguments);
    if (!sc.ok)
        return compat_args_done(&sc), NULL;
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_exchange_unbind_async(c->sw, s, compat_sb(destination), compat_sb(source),
                                                               compat_sb(routing_key), 0, a, &id_, &err));
    compat_args_done(&sc);
    return RPC_RESULT(c, rc, err, AMQP_EXCHANGE_UNBIND_OK_METHOD, amqp_exchange_unbind_ok_t);
}

amqp_queue_declare_ok_t *amqp_queue_declare(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                            amqp_boolean_t passive, amqp_boolean_t durable,
                                            amqp_boolean_t exclusive, amqp_boolean_t auto_delete,
                                            amqp_table_t arguments)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    compat_scratch sc;
    const swamqp_table *a = compat_args_of(c, &sc, arguments);
    if (!sc.ok)
        return compat_args_done(&sc), NULL;
    uint32_t f = (passive ? SWAMQP_PASSIVE : 0) | (durable ? SWAMQP_DURABLE : 0) |
                 (exclusive ? SWAMQP_EXCLUSIVE : 0) | (auto_delete ? SWAMQP_AUTO_DELETE : 0);
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_queue_declare_async(c->sw, s, compat_sb(queue), f, a, &id_, &err));
    compat_args_done(&sc);
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
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    compat_scratch sc;
    const swamqp_table *a = compat_args_of(c, &sc, arguments);
    if (!sc.ok)
        return compat_args_done(&sc), NULL;
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_queue_bind_async(c->sw, s, compat_sb(queue), compat_sb(exchange),
                                                          compat_sb(routing_key), 0, a, &id_, &err));
    compat_args_done(&sc);
    return RPC_RESULT(c, rc, err, AMQP_QUEUE_BIND_OK_METHOD, amqp_queue_bind_ok_t);
}

amqp_queue_unbind_ok_t *amqp_queue_unbind(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                          amqp_bytes_t exchange, amqp_bytes_t routing_key, amqp_table_t arguments)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    compat_scratch sc;
    const swamqp_table *a = compat_args_of(c, &sc, arguments);
    if (!sc.ok)
        return compat_args_done(&sc), NULL;
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_queue_unbind_async(c->sw, s, compat_sb(queue), compat_sb(exchange),
                                                            compat_sb(routing_key), a, &id_, &err));
    compat_args_done(&sc);
    return RPC_RESULT(c, rc, err, AMQP_QUEUE_UNBIND_OK_METHOD, amqp_queue_unbind_ok_t);
}

amqp_queue_purge_ok_t *amqp_queue_purge(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    uint32_t n = 0;
    int rc = COMPAT_AWAIT(c, err, swamqp_queue_purge_async(c->sw, s, compat_sb(queue), 0, &id_, &err));
    n = c->await_message_count;
    amqp_queue_purge_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_QUEUE_PURGE_OK_METHOD, amqp_queue_purge_ok_t);
    if (ok)
        ok->message_count = n;
    return ok;
}

amqp_queue_delete_ok_t *amqp_queue_delete(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                          amqp_boolean_t if_unused, amqp_boolean_t if_empty)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    uint32_t n = 0;
    int rc = COMPAT_AWAIT(c, err, swamqp_queue_delete_async(c->sw, s, compat_sb(queue),
                                                            (if_unused ? SWAMQP_IF_UNUSED : 0) |
                                                                (if_empty ? SWAMQP_IF_EMPTY : 0),
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
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_basic_qos_async(c->sw, s, prefetch_size, prefetch_count,
                                                         global ? SWAMQP_GLOBAL : 0, &id_, &err));
    return RPC_RESULT(c, rc, err, AMQP_BASIC_QOS_OK_METHOD, amqp_basic_qos_ok_t);
}

amqp_basic_consume_ok_t *amqp_basic_consume(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                            amqp_bytes_t consumer_tag, amqp_boolean_t no_local,
                                            amqp_boolean_t no_ack, amqp_boolean_t exclusive, amqp_table_t arguments)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    compat_scratch sc;
    const swamqp_table *a = compat_args_of(c, &sc, arguments);
    if (!sc.ok)
        return compat_args_done(&sc), NULL;
    uint32_t f = (no_local ? SWAMQP_NO_LOCAL : 0) | (no_ack ? SWAMQP_NO_ACK : 0) | (exclusive ? SWAMQP_EXCLUSIVE : 0);
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_basic_consume_async(c->sw, s, compat_sb(queue), compat_sb(consumer_tag), f, a,
                                                             &id_, &err));
    compat_args_done(&sc);
    amqp_basic_consume_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_BASIC_CONSUME_OK_METHOD, amqp_basic_consume_ok_t);
    if (ok) {
        ok->consumer_tag = compat_pool_dup(&c->pool, c->await_name, c->await_name_len);
        compat_consumer_add(c, s, c->await_name, c->await_name_len);
    }
    return ok;
}

amqp_basic_cancel_ok_t *amqp_basic_cancel(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t consumer_tag)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_basic_cancel_async(c->sw, s, compat_sb(consumer_tag), 0, &id_, &err));
    amqp_basic_cancel_ok_t *ok = RPC_RESULT(c, rc, err, AMQP_BASIC_CANCEL_OK_METHOD, amqp_basic_cancel_ok_t);
    if (ok) {
        ok->consumer_tag = compat_pool_dup(&c->pool, consumer_tag.bytes, consumer_tag.len);
        compat_consumer_remove(c, s, consumer_tag.bytes, consumer_tag.len, 0);
    }
    return ok;
}

amqp_basic_recover_ok_t *amqp_basic_recover(amqp_connection_state_t c, amqp_channel_t ch, amqp_boolean_t requeue)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return NULL;
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_basic_recover_async(c->sw, s, requeue ? SWAMQP_REQUEUE : 0, &id_, &err));
    return RPC_RESULT(c, rc, err, AMQP_BASIC_RECOVER_OK_METHOD, amqp_basic_recover_ok_t);
}

#define SIMPLE_RPC(fn, swfn, ID, type)                                                             \
    type *fn(amqp_connection_state_t c, amqp_channel_t ch)                                         \
    {                                                                                              \
        uint16_t s = compat_sw_channel(c, ch);                                                     \
        if (!s)                                                                                    \
            return NULL;                                                                           \
        swamqp_error err;                                                                          \
        int rc = COMPAT_AWAIT(c, err, swfn(c->sw, s, &id_, &err));                                 \
        return RPC_RESULT(c, rc, err, ID, type);                                                   \
    }
SIMPLE_RPC(amqp_tx_select, swamqp_tx_select_async, AMQP_TX_SELECT_OK_METHOD, amqp_tx_select_ok_t)
SIMPLE_RPC(amqp_tx_commit, swamqp_tx_commit_async, AMQP_TX_COMMIT_OK_METHOD, amqp_tx_commit_ok_t)
SIMPLE_RPC(amqp_tx_rollback, swamqp_tx_rollback_async, AMQP_TX_ROLLBACK_OK_METHOD, amqp_tx_rollback_ok_t)
SIMPLE_RPC(amqp_confirm_select, swamqp_confirm_select_async, AMQP_CONFIRM_SELECT_OK_METHOD, amqp_confirm_select_ok_t)

/* Status-returning calls (publish, ack, nack, reject) report through their return value. */
int amqp_basic_publish(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t exchange,
                       amqp_bytes_t routing_key, amqp_boolean_t mandatory, amqp_boolean_t immediate,
                       struct amqp_basic_properties_t_ const *properties, amqp_bytes_t body)
{
    uint16_t s;
    int st = compat_status_of(c, ch, &s);
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
    int rc = swamqp_basic_publish(c->sw, s, compat_sb(exchange), compat_sb(routing_key), f, pp, compat_sb(body), NULL,
                                  COMPAT_FOREVER_MS, &err);
    empty_amqp_pool(&pool);
    return compat_status_from(c, rc, &err);
}

int amqp_basic_ack(amqp_connection_state_t c, amqp_channel_t ch, uint64_t delivery_tag, amqp_boolean_t multiple)
{
    uint16_t s;
    int st = compat_status_of(c, ch, &s);
    if (st)
        return st > 0 ? AMQP_STATUS_OK : st;
    swamqp_error err;
    int rc = swamqp_basic_ack(c->sw, s, delivery_tag, multiple ? SWAMQP_MULTIPLE : 0, &err);
    return compat_status_from(c, rc, &err);
}

int amqp_basic_nack(amqp_connection_state_t c, amqp_channel_t ch, uint64_t delivery_tag, amqp_boolean_t multiple,
                    amqp_boolean_t requeue)
{
    uint16_t s;
    int st = compat_status_of(c, ch, &s);
    if (st)
        return st > 0 ? AMQP_STATUS_OK : st;
    swamqp_error err;
    int rc = swamqp_basic_nack(c->sw, s, delivery_tag,
                               (multiple ? SWAMQP_MULTIPLE : 0) | (requeue ? SWAMQP_REQUEUE : 0), &err);
    return compat_status_from(c, rc, &err);
}

int amqp_basic_reject(amqp_connection_state_t c, amqp_channel_t ch, uint64_t delivery_tag, amqp_boolean_t requeue)
{
    uint16_t s;
    int st = compat_status_of(c, ch, &s);
    if (st)
        return st > 0 ? AMQP_STATUS_OK : st;
    swamqp_error err;
    int rc = swamqp_basic_reject(c->sw, s, delivery_tag, requeue ? SWAMQP_REQUEUE : 0, &err);
    return compat_status_from(c, rc, &err);
}
