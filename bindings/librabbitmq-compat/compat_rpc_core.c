/*
 * librabbitmq compatibility layer: what the calls on a channel have in common (the typed RPCs of
 * compat_rpc.c, amqp_basic_get in compat_messages.c, the nowait methods of compat_send_method.c).
 * The swamqp channel behind a user channel, where a channel the broker closed meanwhile is reported
 * as librabbitmq's next call on it would report it; waiting for an _async request while every other
 * event becomes a frame (with librabbitmq's RPC timeout, which closes the connection); the reply of
 * a result or a failure, and the status of the calls that return one. Kept in one place so that each
 * typed call reads as the swamqp call it makes.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"

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
int compat_report_pending_close(amqp_connection_state_t c, amqp_channel_t ch)
{
    compat_frame *prev = NULL, *f = ch ? pending_close(c, ch, &prev) : NULL;
    if (f == NULL)
        return 0;
    compat_unlink_frame(c, f, prev);
    compat_channel_close_reported(c, ch);
    empty_amqp_pool(&c->reply_pool);
    compat_pool_take(&c->reply_pool, &f->pool);
    c->reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
    c->reply.reply = f->frame.payload.method;
    c->reply.library_error = 0;
    free(f);
    return 1;
}

/* A call failed: a channel the broker closed before the call (its close event not handled yet) is
 * reported as that close, else the error as it is. */
void compat_rpc_fail(amqp_connection_state_t c, amqp_channel_t ch, int rc, const swamqp_error *err)
{
    if (rc == SWAMQP_ERR_CHANNEL_CLOSED && err->origin != SWAMQP_ORIGIN_BROKER) {
        compat_pump(c, 0);
        if (compat_report_pending_close(c, ch))
            return;
    }
    compat_reply_from_sw(c, rc, err);
}

/* The swamqp channel of user channel `ch`, or 0 (reply set) when it is not usable. A channel the
 * broker closed while no call was running reports that close now, as librabbitmq's next RPC on
 * the channel would (a server exception with the decoded channel.close). */
uint16_t compat_sw_channel(amqp_connection_state_t c, amqp_channel_t ch)
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
    if (compat_report_pending_close(c, ch))
        return 0;
    compat_reply_library(c, AMQP_STATUS_UNEXPECTED_STATE); /* channel not open */
    return 0;
}

void *compat_rpc_result(amqp_connection_state_t c, amqp_method_number_t id, size_t size)
{
    void *p = amqp_pool_alloc(&c->pool, size);
    if (p == NULL) {
        compat_reply_library(c, AMQP_STATUS_NO_MEMORY);
        return NULL;
    }
    compat_reply_ok(c, id, p);
    return p;
}

const swamqp_table *compat_args_of(amqp_connection_state_t c, compat_scratch *s, amqp_table_t args)
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

void compat_args_done(compat_scratch *s) { empty_amqp_pool(&s->pool); }

/* Reads events until the channel-closed event of swamqp channel `s` has been handled. The engine
 * queues that event before it completes the close (or the failed call), so it is already there;
 * the loop also ends when no event is left. */
void compat_settle_channel(amqp_connection_state_t c, uint16_t s)
{
    while (c->s_state[s] != COMPAT_CH_OPEN || (c->s2u[s] != 0 && c->u2s[c->s2u[s]] != s)) {
        size_t n = 0;
        if (compat_pump_count(c, 0, &n) != AMQP_STATUS_OK || n == 0)
            return;
    }
}

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

/* Waits for the completion of the _async request `id`, moving every other event into the frame
 * queue meanwhile (as librabbitmq keeps the frames that are not the reply it waits for, and so the
 * engine's event queue never fills up under a waiting call). Returns the request's swamqp status;
 * *err is filled on failure. */
/* `reports`: the caller reports a broker channel.close that fails the request as its own result
 * (a server exception), so the channel's closed event must not become a frame as well. */
int compat_await_ex(amqp_connection_state_t c, uint64_t id, uint32_t timeout_ms, swamqp_error *err, int reports)
{
    while (c->await_frames) { /* left over from an earlier wait that gave up */
        compat_frame *n = c->await_frames->next;
        compat_free_frame(c->await_frames);
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
        if (compat_pump(c, wait) != AMQP_STATUS_OK && !c->await_done) {
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
    return compat_await_ex(c, id, timeout_ms, err, 1);
}

/* Status-returning calls (publish, ack, nack, reject) report through their return value. As with
 * librabbitmq, which only writes these frames, they succeed on a channel the broker has closed
 * meanwhile; the close is reported by the next call on the channel (or as a frame). */
int compat_status_of(amqp_connection_state_t c, amqp_channel_t ch, uint16_t *s)
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

int compat_status_from(amqp_connection_state_t c, int rc, swamqp_error *err)
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
