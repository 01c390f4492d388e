/*
 * librabbitmq compatibility layer: messages. amqp_basic_get (its header and body frames go in
 * front of the frame queue), amqp_read_message (a header frame and its body frames become an
 * amqp_message_t), amqp_consume_message (a basic.deliver frame and its message become an
 * envelope), and amqp_destroy_message / amqp_destroy_envelope. Apart from compat_frame_queue.c
 * because these assemble whole messages out of the frames it hands out.
 */
#define _GNU_SOURCE
#include <string.h>

#include "compat.h"

/* ---- basic.get and messages -------------------------------------------------------------------- */
amqp_rpc_reply_t amqp_basic_get(amqp_connection_state_t c, amqp_channel_t ch, amqp_bytes_t queue,
                                amqp_boolean_t no_ack)
{
    uint16_t s = compat_sw_channel(c, ch);
    if (!s)
        return c->reply;
    swamqp_error err;
    int rc = COMPAT_AWAIT(c, err, swamqp_basic_get_async(c->sw, s, compat_sb(queue), no_ack ? SWAMQP_NO_ACK : 0,
                                                         &id_, &err));
    if (rc != SWAMQP_OK) {
        compat_rpc_fail(c, ch, rc, &err);
        return c->reply;
    }
    if (!c->await_has_message) {
        amqp_basic_get_empty_t *e = compat_rpc_result(c, AMQP_BASIC_GET_EMPTY_METHOD, sizeof *e);
        (void)e;
        return c->reply;
    }
    /* the message's header and body frames go in front of the queue, for amqp_read_message */
    compat_flist l = {c->await_frames, NULL, 0};
    c->await_frames = NULL;
    for (compat_frame *f = l.head; f; f = f->next)
        l.tail = f;
    c->await_has_message = 0;
    amqp_basic_get_ok_t *ok = compat_rpc_result(c, AMQP_BASIC_GET_OK_METHOD, sizeof *ok);
    if (ok == NULL) {
        compat_fl_free(&l);
        return c->reply;
    }
    *ok = c->await_get;
    compat_enqueue_front(c, &l);
    return c->reply;
}

/* A channel.close or connection.close met where amqp_read_message wants content: reported as the
 * server exception it is, as librabbitmq does (the frame is read, not put back). The frame is
 * handed out, so the decoded method stays valid until amqp_release_buffers and a channel.close
 * counts as told to the program (its close-ok is still to come). */
static int close_reply(amqp_connection_state_t c, compat_frame *f, amqp_rpc_reply_t *r)
{
    if (f->frame.frame_type != AMQP_FRAME_METHOD || (f->frame.payload.method.id != AMQP_CHANNEL_CLOSE_METHOD &&
                                                     f->frame.payload.method.id != AMQP_CONNECTION_CLOSE_METHOD))
        return 0;
    amqp_frame_t out;
    compat_hand_out(c, f, &out);
    r->reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
    r->reply = out.payload.method;
    r->library_error = 0;
    return 1;
}

/* A read that failed part-way keeps nothing: the program gets no message to destroy (librabbitmq
 * frees it too), and amqp_destroy_message on it afterwards is harmless. */
static void discard_message(amqp_message_t *message)
{
    empty_amqp_pool(&message->pool);
    amqp_bytes_free(message->body);
    message->body = amqp_empty_bytes;
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
    compat_frame *f = compat_find_frame(c, channel, -1, &prev, &st);
    if (f == NULL) {
        r.library_error = st;
        return r;
    }
    compat_unlink_frame(c, f, prev);
    if (f->frame.frame_type != AMQP_FRAME_HEADER) {
        if (close_reply(c, f, &r))
            return r;
        /* Anything else goes back to the very front of the queue, where librabbitmq puts it
           back: the next read, on any channel, returns it. */
        compat_flist l = {f, f, 0};
        compat_enqueue_front(c, &l);
        r.library_error = AMQP_STATUS_UNEXPECTED_STATE;
        return r;
    }
    uint64_t size = f->frame.payload.properties.body_size;
    st = compat_props_clone(f->frame.payload.properties.decoded, &message->properties, &message->pool);
    compat_free_frame(f);
    if (st) {
        r.library_error = st;
        discard_message(message);
        return r;
    }
    if (size > 0) {
        message->body = amqp_bytes_malloc((size_t)size);
        if (message->body.bytes == NULL) {
            r.library_error = AMQP_STATUS_NO_MEMORY;
            discard_message(message);
            return r;
        }
    }
    uint64_t got = 0;
    while (got < size) {
        f = compat_find_frame(c, channel, -1, &prev, &st);
        if (f == NULL) {
            r.library_error = st;
            discard_message(message);
            return r;
        }
        compat_unlink_frame(c, f, prev);
        if (f->frame.frame_type != AMQP_FRAME_BODY || got + f->frame.payload.body_fragment.len > size) {
            if (!close_reply(c, f, &r)) {
                compat_free_frame(f);
                r.library_error = AMQP_STATUS_BAD_AMQP_DATA;
            }
            discard_message(message);
            return r;
        }
        memcpy((char *)message->body.bytes + got, f->frame.payload.body_fragment.bytes,
               f->frame.payload.body_fragment.len);
        got += f->frame.payload.body_fragment.len;
        compat_free_frame(f);
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
    compat_frame *f = compat_find_frame(c, -1, compat_tv_ms(timeout), &prev, &st);
    if (f == NULL) {
        r.library_error = st;
        return r;
    }
    if (f->frame.frame_type != AMQP_FRAME_METHOD || f->frame.payload.method.id != AMQP_BASIC_DELIVER_METHOD) {
        /* left queued: the next amqp_simple_wait_frame returns it */
        r.library_error = AMQP_STATUS_UNEXPECTED_STATE;
        return r;
    }
    compat_unlink_frame(c, f, prev);
    amqp_basic_deliver_t *d = f->frame.payload.method.decoded;
    envelope->channel = f->frame.channel;
    envelope->consumer_tag = amqp_bytes_malloc_dup(d->consumer_tag);
    envelope->delivery_tag = d->delivery_tag;
    envelope->redelivered = d->redelivered;
    envelope->exchange = amqp_bytes_malloc_dup(d->exchange);
    envelope->routing_key = amqp_bytes_malloc_dup(d->routing_key);
    compat_free_frame(f);
    /* (amqp_bytes_malloc gives at least one byte, so no bytes means out of memory) */
    if (envelope->consumer_tag.bytes == NULL || envelope->exchange.bytes == NULL ||
        envelope->routing_key.bytes == NULL) {
        /* as librabbitmq: the basic.deliver is read, its content frames stay queued */
        amqp_destroy_envelope(envelope);
        r.library_error = AMQP_STATUS_NO_MEMORY;
        return r;
    }
    r = amqp_read_message(c, envelope->channel, &envelope->message, flags);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        amqp_destroy_envelope(envelope);
    return r;
}
