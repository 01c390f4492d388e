/*
 * librabbitmq compatibility layer: the connection object. amqp_new_connection /
 * amqp_destroy_connection, its getters, buffers, RPC and handshake timeouts, and
 * amqp_connection_close. Sockets are in compat_socket.c, login in compat_login.c, the replies the
 * calls leave in compat_replies.c and the readable socket the program polls in
 * compat_readiness.c; the inbound frame queue is compat_frame_queue.c's, built from swamqp events
 * by compat_events.c.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "compat.h"

/* ---- connection ------------------------------------------------------------------------------ */
amqp_connection_state_t amqp_new_connection(void)
{
    amqp_connection_state_t c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->u2s = calloc(65536, sizeof(uint16_t));
    c->s2u = calloc(65536, sizeof(uint16_t));
    c->s_state = calloc(65536, 1);
    c->u_unacked = calloc(65536, 1);
    if (c->u2s == NULL || c->s2u == NULL || c->s_state == NULL || c->u_unacked == NULL) {
        free(c->u2s);
        free(c->s2u);
        free(c->s_state);
        free(c->u_unacked);
        free(c);
        return NULL;
    }
    c->ready_pair[0] = c->ready_pair[1] = c->ready_wake = -1;
    pthread_mutex_init(&c->ready_mu, NULL);
    pthread_cond_init(&c->ready_cond, NULL);
    init_amqp_pool(&c->pool, 4096);
    init_amqp_pool(&c->reply_pool, 512);
    init_amqp_pool(&c->props_pool, 512);
    init_amqp_pool(&c->server_props_pool, 512);
    c->channel_max = 0;
    c->frame_max = 65536; /* librabbitmq's until amqp_login (it limits amqp_handle_input) */
    compat_wire_init(c);
    c->reply.reply_type = AMQP_RESPONSE_NONE;
    return c;
}

static void free_frames(amqp_connection_state_t c)
{
    compat_frame *f = c->head;
    while (f) {
        compat_frame *n = f->next;
        empty_amqp_pool(&f->pool);
        free(f);
        f = n;
    }
    c->head = c->tail = NULL;
}

int amqp_destroy_connection(amqp_connection_state_t c)
{
    if (c == NULL)
        return AMQP_STATUS_OK;
    compat_readiness_stop(c); /* before the engine connection (and its event fd) goes */
    if (c->sw)
        swamqp_connection_free(c->sw);
    compat_free_socket(c->socket);
    free_frames(c);
    compat_wire_free(c);
    empty_amqp_pool(&c->pool);
    empty_amqp_pool(&c->reply_pool);
    empty_amqp_pool(&c->props_pool);
    empty_amqp_pool(&c->server_props_pool);
    free(c->u2s);
    free(c->s2u);
    free(c->s_state);
    free(c->u_unacked);
    pthread_mutex_destroy(&c->ready_mu);
    pthread_cond_destroy(&c->ready_cond);
    while (c->await_frames) {
        compat_frame *n = c->await_frames->next;
        empty_amqp_pool(&c->await_frames->pool);
        free(c->await_frames);
        c->await_frames = n;
    }
    while (c->consumers) {
        compat_consumer *k = c->consumers;
        c->consumers = k->next;
        free(k);
    }
    free(c);
    return AMQP_STATUS_OK;
}

int amqp_get_channel_max(amqp_connection_state_t c) { return c ? c->channel_max : 0; }
int amqp_get_frame_max(amqp_connection_state_t c) { return c ? (int)c->frame_max : 0; }
int amqp_get_heartbeat(amqp_connection_state_t c) { return c ? c->heartbeat : 0; }
int amqp_socket_get_sockfd(amqp_socket_t *s)
{
    if (s == NULL || s->fd < 0)
        return -1;
    return s->ready_fd >= 0 ? s->ready_fd : s->fd;
}
int amqp_get_sockfd(amqp_connection_state_t c) { return c ? amqp_socket_get_sockfd(c->socket) : -1; }
amqp_socket_t *amqp_get_socket(amqp_connection_state_t c) { return c ? c->socket : NULL; }

amqp_rpc_reply_t amqp_get_rpc_reply(amqp_connection_state_t c) { return c->reply; }

void amqp_release_buffers(amqp_connection_state_t c)
{
    if (c)
        empty_amqp_pool(&c->pool);
}
/* Frames still queued own their memory, so releasing is always safe. */
amqp_boolean_t amqp_release_buffers_ok(amqp_connection_state_t c) { (void)c; return 1; }
void amqp_maybe_release_buffers(amqp_connection_state_t c) { amqp_release_buffers(c); }
void amqp_maybe_release_buffers_on_channel(amqp_connection_state_t c, amqp_channel_t ch)
{
    (void)ch;
    amqp_release_buffers(c);
}
amqp_boolean_t amqp_frames_enqueued(amqp_connection_state_t c) { return c && c->head != NULL; }
amqp_boolean_t amqp_data_in_buffer(amqp_connection_state_t c) { return c && c->head != NULL; }

amqp_table_t *amqp_get_server_properties(amqp_connection_state_t c)
{
    static amqp_table_t none = {0, NULL};
    return c ? &c->server_properties : &none;
}

amqp_table_t *amqp_get_client_properties(amqp_connection_state_t c) { return &c->client_properties; }

int compat_timeout_to_ms(const struct timeval *tv, uint32_t *ms)
{
    if (tv->tv_sec < 0 || tv->tv_usec < 0)
        return 0;
    uint64_t v = (uint64_t)tv->tv_sec * 1000u + (uint64_t)tv->tv_usec / 1000u;
    if (v == 0 && tv->tv_usec > 0)
        v = 1;
    *ms = v > COMPAT_FOREVER_MS ? COMPAT_FOREVER_MS : (uint32_t)v;
    return 1;
}

/* librabbitmq's "no timeout" (NULL) waits forever; the typed swamqp calls take a bound, so a very
 * long one stands for "forever" and blocking waits loop in slices. */
uint32_t compat_rpc_timeout(amqp_connection_state_t c)
{
    return c->rpc_timeout_ms ? c->rpc_timeout_ms : COMPAT_FOREVER_MS;
}

struct timeval *amqp_get_rpc_timeout(amqp_connection_state_t c)
{
    return c->has_rpc_timeout ? &c->rpc_timeout_tv : NULL;
}

int amqp_set_rpc_timeout(amqp_connection_state_t c, const struct timeval *timeout)
{
    if (timeout == NULL) {
        c->has_rpc_timeout = 0;
        c->rpc_timeout_ms = 0;
        return AMQP_STATUS_OK;
    }
    uint32_t ms;
    if (!compat_timeout_to_ms(timeout, &ms))
        return AMQP_STATUS_INVALID_PARAMETER;
    c->has_rpc_timeout = 1;
    c->rpc_timeout_tv = *timeout;
    c->rpc_timeout_ms = ms ? ms : 1;
    return AMQP_STATUS_OK;
}

struct timeval *amqp_get_handshake_timeout(amqp_connection_state_t c)
{
    return c->has_handshake_timeout ? &c->handshake_tv : NULL;
}

int amqp_set_handshake_timeout(amqp_connection_state_t c, const struct timeval *timeout)
{
    if (timeout == NULL) {
        c->has_handshake_timeout = 0;
        return AMQP_STATUS_OK;
    }
    uint32_t ms;
    if (!compat_timeout_to_ms(timeout, &ms))
        return AMQP_STATUS_INVALID_PARAMETER;
    c->has_handshake_timeout = 1;
    c->handshake_tv = *timeout;
    return AMQP_STATUS_OK;
}

/* ---- closing --------------------------------------------------------------------------------- */
amqp_rpc_reply_t amqp_connection_close(amqp_connection_state_t c, int code)
{
    /* as amqp_channel_close: an impossible code is refused before anything is sent; a valid one is
       not sent (swamqp_connection_close always closes with 200) */
    if (code < 0 || code > UINT16_MAX) {
        amqp_rpc_reply_t r = {AMQP_RESPONSE_LIBRARY_EXCEPTION, {0, NULL}, AMQP_STATUS_INVALID_PARAMETER};
        return r;
    }
    if (c->sw == NULL) {
        compat_reply_library(c, AMQP_STATUS_SOCKET_CLOSED);
        return c->reply;
    }
    if (c->closed) {
        compat_reply_library(c, c->dead_status ? c->dead_status : AMQP_STATUS_CONNECTION_CLOSED);
        return c->reply;
    }
    swamqp_error err;
    c->closed = 1;
    /* the async form, so events are still read (the event queue cannot fill up and stall the
       close-ok) */
    uint64_t id = 0;
    int rc = swamqp_connection_close_async(c->sw, &id, &err);
    if (rc == SWAMQP_OK)
        rc = compat_await(c, id, compat_rpc_timeout(c), &err);
    if (rc == SWAMQP_OK)
        compat_reply_ok(c, AMQP_CONNECTION_CLOSE_OK_METHOD, NULL);
    else
        compat_reply_from_sw(c, rc, &err);
    return c->reply;
}
