/*
 * librabbitmq compatibility layer: swamqp events become librabbitmq frames. What the broker sends
 * on its own (deliveries and returns with their content, confirms, consumer cancels, flow,
 * blocked/unblocked, channel and connection closes) is translated into amqp_frame_t /
 * amqp_method_t at the back of the frame queue (compat_frame_queue.c), and the channel tables
 * follow the events; the completion of the request a call waits for fills c->await_* instead.
 * compat_pump / compat_pump_count are the only readers of swamqp_next_events, so every event
 * passes through this one translation whichever call is waiting.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "compat.h"

static void fl_add(compat_flist *l, compat_frame *f)
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

static void enqueue_back(amqp_connection_state_t c, compat_flist *l)
{
    if (l->failed) {
        compat_fl_free(l);
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

/* Header and body frames of a message (bodies split as the broker would, at frame_max - 8). */
static void content_frames(amqp_connection_state_t c, compat_flist *l, uint16_t channel, const swamqp_message *m)
{
    compat_frame *h = compat_new_frame(AMQP_FRAME_HEADER, channel);
    if (h == NULL) {
        l->failed = 1;
        return;
    }
    amqp_basic_properties_t *p = amqp_pool_alloc(&h->pool, sizeof *p);
    if (p == NULL || compat_props_from_sw(&m->properties, p, &h->pool) != AMQP_STATUS_OK) {
        compat_free_frame(h);
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
        compat_frame *b = compat_new_frame(AMQP_FRAME_BODY, channel);
        if (b == NULL) {
            l->failed = 1;
            return;
        }
        b->frame.payload.body_fragment = compat_pool_dup(&b->pool, body + off, n);
        if (b->frame.payload.body_fragment.bytes == NULL) {
            compat_free_frame(b);
            l->failed = 1;
            return;
        }
        fl_add(l, b);
    }
}

static void on_event(amqp_connection_state_t c, const swamqp_event *e)
{
    compat_flist l = {NULL, NULL, 0};
    void *d = NULL;
    uint16_t uch = e->channel ? c->s2u[e->channel] : 0;
    switch (e->type) {
    case SWAMQP_EVENT_DELIVERY: {
        const swamqp_message *m = e->message;
        if (m == NULL || uch == 0)
            return;
        compat_frame *f = compat_method_frame(uch, AMQP_BASIC_DELIVER_METHOD, sizeof(amqp_basic_deliver_t), &d);
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
        compat_frame *f = compat_method_frame(uch, AMQP_BASIC_RETURN_METHOD, sizeof(amqp_basic_return_t), &d);
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
        compat_frame *f = compat_method_frame(uch, AMQP_BASIC_ACK_METHOD, sizeof(amqp_basic_ack_t), &d);
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
        compat_frame *f = compat_method_frame(uch, AMQP_BASIC_NACK_METHOD, sizeof(amqp_basic_nack_t), &d);
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
                /* a get-ok whose exchange or routing key could not be copied is no get-ok */
                if ((m->exchange.len && g->exchange.bytes == NULL) ||
                    (m->routing_key.len && g->routing_key.bytes == NULL))
                    l.failed = 1;
                else
                    content_frames(c, &l, uch, m);
                if (l.failed) {
                    compat_fl_free(&l);
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
        compat_frame *f = compat_method_frame(uch, AMQP_BASIC_CANCEL_METHOD, sizeof(amqp_basic_cancel_t), &d);
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
        compat_frame *f = compat_method_frame(uch, AMQP_CHANNEL_FLOW_METHOD, sizeof(amqp_channel_flow_t), &d);
        if (f)
            ((amqp_channel_flow_t *)d)->active = (e->flags & SWAMQP_EVENT_FLAG_ACTIVE) ? 1 : 0;
        fl_add(&l, f);
        break;
    }
    case SWAMQP_EVENT_BLOCKED: {
        if (!c->cap_blocked)
            return; /* see read_capabilities; the engine still holds publishes while blocked */
        compat_frame *f = compat_method_frame(0, AMQP_CONNECTION_BLOCKED_METHOD, sizeof(amqp_connection_blocked_t), &d);
        if (f)
            ((amqp_connection_blocked_t *)d)->reason = compat_pool_dup(&f->pool, e->name.bytes, e->name.len);
        fl_add(&l, f);
        break;
    }
    case SWAMQP_EVENT_UNBLOCKED: {
        if (!c->cap_blocked)
            return;
        compat_frame *f =
            compat_method_frame(0, AMQP_CONNECTION_UNBLOCKED_METHOD, sizeof(amqp_connection_unblocked_t), &d);
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
        compat_frame *f = compat_method_frame(uch, AMQP_CHANNEL_CLOSE_METHOD, sizeof(amqp_channel_close_t), &d);
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
        compat_frame *f = compat_method_frame(0, AMQP_CONNECTION_CLOSE_METHOD, sizeof(amqp_connection_close_t), &d);
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
int compat_pump_count(amqp_connection_state_t c, uint32_t timeout_ms, size_t *handled)
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

int compat_pump(amqp_connection_state_t c, uint32_t timeout_ms)
{
    size_t n;
    return compat_pump_count(c, timeout_ms, &n);
}
