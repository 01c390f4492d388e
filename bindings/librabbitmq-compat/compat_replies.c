/*
 * librabbitmq compatibility layer: what a call leaves for the program and the channel bookkeeping
 * it depends on. The reply (amqp_get_rpc_reply) of a result, a library error or a broker close
 * (a server exception whose decoded close the connection owns), swamqp statuses as librabbitmq
 * statuses, the state of a channel the broker closed until the program answers close-ok, and the
 * consumers started through this layer (amqp_channel_close cancels them first).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "compat.h"

/* ---- replies ------------------------------------------------------------------------------- */
void compat_reply_ok(amqp_connection_state_t c, amqp_method_number_t id, void *decoded)
{
    c->reply.reply_type = AMQP_RESPONSE_NORMAL;
    c->reply.reply.id = id;
    c->reply.reply.decoded = decoded;
    c->reply.library_error = 0;
}

void compat_reply_library(amqp_connection_state_t c, int status)
{
    c->reply.reply_type = AMQP_RESPONSE_LIBRARY_EXCEPTION;
    c->reply.reply.id = 0;
    c->reply.reply.decoded = NULL;
    c->reply.library_error = status;
}

int compat_status_from_sw(int rc)
{
    switch (rc) {
    case SWAMQP_OK: return AMQP_STATUS_OK;
    case SWAMQP_ERR_INVALID_ARGUMENT: return AMQP_STATUS_INVALID_PARAMETER;
    case SWAMQP_ERR_NO_MEMORY: return AMQP_STATUS_NO_MEMORY;
    case SWAMQP_ERR_TIMEOUT:
    case SWAMQP_ERR_WOULD_BLOCK: return AMQP_STATUS_TIMEOUT;
    case SWAMQP_ERR_RESOLVE: return AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED;
    case SWAMQP_ERR_CONNECT:
    case SWAMQP_ERR_IO: return AMQP_STATUS_SOCKET_ERROR;
    case SWAMQP_ERR_CONNECTION_LOST: return AMQP_STATUS_CONNECTION_CLOSED;
    case SWAMQP_ERR_HEARTBEAT_TIMEOUT: return AMQP_STATUS_HEARTBEAT_TIMEOUT;
    case SWAMQP_ERR_TLS: return AMQP_STATUS_SSL_CONNECTION_FAILED;
    case SWAMQP_ERR_PROTOCOL:
    case SWAMQP_ERR_FRAME_TOO_LARGE:
    case SWAMQP_ERR_MESSAGE_TOO_LARGE: return AMQP_STATUS_BAD_AMQP_DATA;
    case SWAMQP_ERR_UNEXPECTED_FRAME:
    case SWAMQP_ERR_BAD_STATE:
    case SWAMQP_ERR_CHANNEL_LIMIT:
    case SWAMQP_ERR_NOT_CONFIRM_MODE: return AMQP_STATUS_UNEXPECTED_STATE;
    case SWAMQP_ERR_AUTH:
    case SWAMQP_ERR_CONNECTION_CLOSED:
    case SWAMQP_ERR_CLOSED_BY_APPLICATION:
    case SWAMQP_ERR_CHANNEL_CLOSED: return AMQP_STATUS_CONNECTION_CLOSED;
    case SWAMQP_ERR_INVALID_HANDLE: return AMQP_STATUS_SOCKET_CLOSED;
    default: return AMQP_STATUS_UNEXPECTED_STATE;
    }
}

/* The program's channel of swamqp channel `sw_channel` is closed now (its number may be opened
 * again); the swamqp number keeps mapping to it until the engine's channel-closed event, which
 * follows every event queued for the channel before the close. */
void compat_channel_closing(amqp_connection_state_t c, uint16_t sw_channel, int state)
{
    if (sw_channel == 0)
        return;
    uint16_t user = c->s2u[sw_channel];
    if (user == 0)
        return; /* the channel-closed event was already handled */
    if (c->u2s[user] == sw_channel)
        c->u2s[user] = 0;
    c->s_state[sw_channel] = (uint8_t)state;
    if (state == COMPAT_CH_CLOSE_REPORTED)
        compat_channel_close_reported(c, user);
}

/* The program was told of the broker's channel.close on `user_channel` (a server exception or a
 * frame). librabbitmq sends nothing by itself then: the channel waits for the program's close-ok,
 * and an amqp_channel_close meanwhile is answered with close-ok by the broker. */
void compat_channel_close_reported(amqp_connection_state_t c, amqp_channel_t user_channel)
{
    if (user_channel != 0)
        c->u_unacked[user_channel] = 1;
}

void compat_consumer_add(amqp_connection_state_t c, uint16_t sw_channel, const void *tag, size_t len)
{
    if (len > sizeof ((compat_consumer *)0)->tag)
        return;
    compat_consumer *k = calloc(1, sizeof *k);
    if (k == NULL)
        return;
    k->sw_channel = sw_channel;
    k->len = len;
    memcpy(k->tag, tag, len);
    k->next = c->consumers;
    c->consumers = k;
}

void compat_consumer_remove(amqp_connection_state_t c, uint16_t sw_channel, const void *tag, size_t len,
                            int all_of_channel)
{
    compat_consumer **p = &c->consumers;
    while (*p) {
        compat_consumer *k = *p;
        if (k->sw_channel == sw_channel && (all_of_channel || (k->len == len && memcmp(k->tag, tag, len) == 0))) {
            *p = k->next;
            free(k);
        } else {
            p = &k->next;
        }
    }
}

/* Fills the reply from a failed swamqp call: a broker close becomes a server exception whose
 * decoded channel.close / connection.close is owned by the connection. Returns the amqp status. */
int compat_reply_from_sw(amqp_connection_state_t c, int rc, const swamqp_error *e)
{
    if (rc == SWAMQP_OK) {
        compat_reply_ok(c, 0, NULL);
        return AMQP_STATUS_OK;
    }
    if (e != NULL && e->origin == SWAMQP_ORIGIN_BROKER && e->reply_code != 0) {
        empty_amqp_pool(&c->reply_pool);
        size_t tl = strnlen(e->message, sizeof e->message);
        if (e->channel != 0) {
            amqp_channel_close_t *m = amqp_pool_alloc(&c->reply_pool, sizeof *m);
            if (m == NULL) {
                compat_reply_library(c, AMQP_STATUS_NO_MEMORY);
                return AMQP_STATUS_NO_MEMORY;
            }
            m->reply_code = e->reply_code;
            m->reply_text = compat_pool_dup(&c->reply_pool, e->message, tl);
            m->class_id = e->class_id;
            m->method_id = e->method_id;
            c->reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
            c->reply.reply.id = AMQP_CHANNEL_CLOSE_METHOD;
            c->reply.reply.decoded = m;
            c->reply.library_error = 0;
            compat_channel_closing(c, e->channel, COMPAT_CH_CLOSE_REPORTED);
        } else {
            amqp_connection_close_t *m = amqp_pool_alloc(&c->reply_pool, sizeof *m);
            if (m == NULL) {
                compat_reply_library(c, AMQP_STATUS_NO_MEMORY);
                return AMQP_STATUS_NO_MEMORY;
            }
            m->reply_code = e->reply_code;
            m->reply_text = compat_pool_dup(&c->reply_pool, e->message, tl);
            m->class_id = e->class_id;
            m->method_id = e->method_id;
            c->reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
            c->reply.reply.id = AMQP_CONNECTION_CLOSE_METHOD;
            c->reply.reply.decoded = m;
            c->reply.library_error = 0;
            c->closed = 1;
            /* librabbitmq: the broker then drops the socket, and later calls fail with a socket error */
            if (!c->dead_status)
                c->dead_status = AMQP_STATUS_SOCKET_ERROR;
        }
        return AMQP_STATUS_CONNECTION_CLOSED;
    }
    int st = compat_status_from_sw(rc);
    if (rc == SWAMQP_ERR_CONNECTION_CLOSED || rc == SWAMQP_ERR_CLOSED_BY_APPLICATION || rc == SWAMQP_ERR_CONNECTION_LOST ||
        rc == SWAMQP_ERR_HEARTBEAT_TIMEOUT || rc == SWAMQP_ERR_IO) {
        c->closed = 1;
        if (!c->dead_status)
            c->dead_status = st;
    }
    compat_reply_library(c, st);
    return st;
}
