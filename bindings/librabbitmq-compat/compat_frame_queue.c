/*
 * librabbitmq compatibility layer: the per-connection queue of synthetic inbound frames (each
 * compat_frame owns its memory) and reading it. Making and freeing frames, putting replies in front
 * of the queue, finding the next frame (of a channel), reading engine events while there is none,
 * handing a frame out to the program, and amqp_simple_wait_frame / _noblock and
 * amqp_simple_wait_method on top of that. What fills the queue is in compat_events.c; messages are
 * read from it in compat_messages.c.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"

/* ---- the inbound frame queue -------------------------------------------------------------------- */
compat_frame *compat_new_frame(uint8_t type, uint16_t channel)
{
    compat_frame *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    init_amqp_pool(&f->pool, 512);
    f->frame.frame_type = type;
    f->frame.channel = channel;
    return f;
}

void compat_free_frame(compat_frame *f)
{
    if (f) {
        empty_amqp_pool(&f->pool);
        free(f);
    }
}

void compat_fl_free(compat_flist *l)
{
    compat_frame *f = l->head;
    while (f) {
        compat_frame *n = f->next;
        compat_free_frame(f);
        f = n;
    }
    l->head = l->tail = NULL;
}

void compat_enqueue_front(amqp_connection_state_t c, compat_flist *l)
{
    if (l->failed) {
        compat_fl_free(l);
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

compat_frame *compat_method_frame(uint16_t channel, amqp_method_number_t id, size_t size, void **decoded)
{
    compat_frame *f = compat_new_frame(AMQP_FRAME_METHOD, channel);
    if (f == NULL)
        return NULL;
    f->frame.payload.method.id = id;
    f->frame.payload.method.decoded = amqp_pool_alloc(&f->pool, size);
    if (f->frame.payload.method.decoded == NULL) {
        compat_free_frame(f);
        return NULL;
    }
    *decoded = f->frame.payload.method.decoded;
    return f;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first queued frame on `channel` (-1: any), waiting up to timeout_ms (-1: forever).
 * Returns it still queued (*prev is its predecessor) or NULL with *status set. */
compat_frame *compat_find_frame(amqp_connection_state_t c, int channel, int64_t timeout_ms, compat_frame **prev,
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
            compat_pump(c, 0);
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
                compat_pump(c, 0);
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
        int st = compat_pump(c, wait);
        if (st != AMQP_STATUS_OK && c->head == NULL) {
            *status = st;
            return NULL;
        }
    }
}

void compat_unlink_frame(amqp_connection_state_t c, compat_frame *f, compat_frame *prev)
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
void compat_hand_out(amqp_connection_state_t c, compat_frame *f, amqp_frame_t *out)
{
    *out = f->frame;
    if (f->frame.frame_type == AMQP_FRAME_METHOD && f->frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD)
        compat_channel_close_reported(c, f->frame.channel);
    compat_pool_take(&c->pool, &f->pool);
    free(f);
}

int compat_wait_frame(amqp_connection_state_t c, amqp_frame_t *out, int64_t timeout_ms)
{
    if (c == NULL || out == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    compat_frame *prev = NULL;
    int st;
    compat_frame *f = compat_find_frame(c, -1, timeout_ms, &prev, &st);
    if (f == NULL)
        return st;
    compat_unlink_frame(c, f, prev);
    compat_hand_out(c, f, out);
    return AMQP_STATUS_OK;
}

int64_t compat_tv_ms(const struct timeval *tv)
{
    if (tv == NULL)
        return -1;
    return (int64_t)tv->tv_sec * 1000 + tv->tv_usec / 1000;
}

int amqp_simple_wait_frame(amqp_connection_state_t c, amqp_frame_t *decoded_frame)
{
    return compat_wait_frame(c, decoded_frame, -1);
}

int amqp_simple_wait_frame_noblock(amqp_connection_state_t c, amqp_frame_t *decoded_frame, const struct timeval *tv)
{
    if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0))
        return AMQP_STATUS_INVALID_PARAMETER;
    return compat_wait_frame(c, decoded_frame, compat_tv_ms(tv));
}

int amqp_simple_wait_method(amqp_connection_state_t c, amqp_channel_t expected_channel,
                            amqp_method_number_t expected_method, amqp_method_t *output)
{
    amqp_frame_t f;
    memset(&f, 0, sizeof f);
    int st = compat_wait_frame(c, &f, -1);
    if (st)
        return st;
    if (f.channel != expected_channel || f.frame_type != AMQP_FRAME_METHOD ||
        f.payload.method.id != expected_method)
        return AMQP_STATUS_WRONG_METHOD;
    *output = f.payload.method;
    return AMQP_STATUS_OK;
}
