/*
 * librabbitmq compatibility layer: connections, sockets, login and replies (the inbound frame
 * queue is in compat_frame_queue.c, built from swamqp events by compat_events.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"

/* librabbitmq's "no timeout" (NULL) waits forever; the typed swamqp calls take a bound, so a very
 * long one stands for "forever" and blocking waits loop in slices. */


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

uint32_t compat_rpc_timeout(amqp_connection_state_t c)
{
    return c->rpc_timeout_ms ? c->rpc_timeout_ms : COMPAT_FOREVER_MS;
}

/* ---- readiness ------------------------------------------------------------------------------- */
/* librabbitmq programs may poll the socket (amqp_get_sockfd) before reading frames, e.g. ffmpeg's
 * amqp:// reader. The engine's I/O thread reads the real socket, so its readability says nothing
 * about frames waiting here. After login the program gets one end of a socketpair instead (still
 * a socket: SOL_SOCKET options such as SO_RCVTIMEO work): it holds one byte exactly while frames
 * are queued here or the engine has queued events. A watcher thread waits for the engine's event
 * fd and puts the byte in; the program's own calls take it out when nothing is left. */
static void ready_set(amqp_connection_state_t c, int on) /* with ready_mu held */
{
    char b = 0;
    if (on && !c->ready_signalled) {
        if (write(c->ready_pair[1], &b, 1) == 1)
            c->ready_signalled = 1;
    } else if (!on && c->ready_signalled) {
        while (read(c->ready_pair[0], &b, 1) == 1) {
        }
        c->ready_signalled = 0;
        pthread_cond_signal(&c->ready_cond);
    }
}

static void *ready_watch(void *arg)
{
    amqp_connection_state_t c = arg;
    int efd = swamqp_connection_event_fd(c->sw);
    pthread_mutex_lock(&c->ready_mu);
    while (!c->ready_stop) {
        if (c->ready_signalled) {
            pthread_cond_wait(&c->ready_cond, &c->ready_mu);
            continue;
        }
        pthread_mutex_unlock(&c->ready_mu);
        struct pollfd p[2] = {{efd, POLLIN, 0}, {c->ready_wake, POLLIN, 0}};
        int n = poll(p, efd >= 0 ? 2 : 1, -1);
        uint64_t v;
        if (n > 0 && (p[1].revents & POLLIN))
            (void)read(c->ready_wake, &v, sizeof v);
        pthread_mutex_lock(&c->ready_mu);
        if (n > 0 && efd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            ready_set(c, 1);
        if (efd < 0)
            break;
    }
    pthread_mutex_unlock(&c->ready_mu);
    return NULL;
}

static void readiness_start(amqp_connection_state_t c)
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, c->ready_pair) != 0)
        return;
    c->ready_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->ready_wake < 0 || pthread_create(&c->ready_thread, NULL, ready_watch, c) != 0) {
        if (c->ready_wake >= 0)
            close(c->ready_wake);
        close(c->ready_pair[0]);
        close(c->ready_pair[1]);
        c->ready_pair[0] = c->ready_pair[1] = c->ready_wake = -1;
        return;
    }
    c->ready_running = 1;
    c->socket->ready_fd = c->ready_pair[0];
}

void compat_readiness_update(amqp_connection_state_t c)
{
    if (c == NULL || !c->ready_running)
        return;
    int pending = c->head != NULL;
    if (!pending && c->sw != NULL && !c->timed_out) {
        struct pollfd p = {swamqp_connection_event_fd(c->sw), POLLIN, 0};
        pending = p.fd >= 0 && poll(&p, 1, 0) > 0;
    }
    pthread_mutex_lock(&c->ready_mu);
    ready_set(c, pending);
    pthread_mutex_unlock(&c->ready_mu);
}

static void readiness_stop(amqp_connection_state_t c)
{
    if (!c->ready_running)
        return;
    pthread_mutex_lock(&c->ready_mu);
    c->ready_stop = 1;
    pthread_cond_signal(&c->ready_cond);
    pthread_mutex_unlock(&c->ready_mu);
    uint64_t one = 1;
    (void)write(c->ready_wake, &one, sizeof one);
    pthread_join(c->ready_thread, NULL);
    c->ready_running = 0;
    close(c->ready_wake);
    close(c->ready_pair[0]);
    close(c->ready_pair[1]);
}

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

static void free_socket(amqp_socket_t *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0 && !s->handed)
        close(s->fd);
    free(s->host);
    free(s->cacert);
    free(s->cert);
    free(s->key);
    free(s->key_password);
    if (s->key_fd >= 0)
        close(s->key_fd);
    free(s);
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
    readiness_stop(c); /* before the engine connection (and its event fd) goes */
    if (c->sw)
        swamqp_connection_free(c->sw);
    free_socket(c->socket);
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

/* The broker's connection.start properties, kept for amqp_get_server_properties. */
static void load_server_properties(amqp_connection_state_t c)
{
    size_t n = 0;
    swamqp_connection_server_properties(c->sw, NULL, 0, &n, NULL); /* asks for the size */
    void *encoded = n ? malloc(n) : NULL;
    if (encoded == NULL)
        return;
    if (swamqp_connection_server_properties(c->sw, encoded, n, &n, NULL) == SWAMQP_OK) {
        amqp_bytes_t bytes = {n, encoded};
        size_t offset = 0;
        if (amqp_decode_table(bytes, &c->server_props_pool, &c->server_properties, &offset) != AMQP_STATUS_OK)
            c->server_properties = (amqp_table_t){0, NULL};
    }
    free(encoded);
}

amqp_table_t *amqp_get_client_properties(amqp_connection_state_t c) { return &c->client_properties; }

static int tv_to_ms(const struct timeval *tv, uint32_t *ms)
{
    if (tv->tv_sec < 0 || tv->tv_usec < 0)
        return 0;
    uint64_t v = (uint64_t)tv->tv_sec * 1000u + (uint64_t)tv->tv_usec / 1000u;
    if (v == 0 && tv->tv_usec > 0)
        v = 1;
    *ms = v > COMPAT_FOREVER_MS ? COMPAT_FOREVER_MS : (uint32_t)v;
    return 1;
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
    if (!tv_to_ms(timeout, &ms))
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
    if (!tv_to_ms(timeout, &ms))
        return AMQP_STATUS_INVALID_PARAMETER;
    c->has_handshake_timeout = 1;
    c->handshake_tv = *timeout;
    return AMQP_STATUS_OK;
}

/* ---- sockets --------------------------------------------------------------------------------- */
static amqp_socket_t *new_socket(amqp_connection_state_t c, int tls)
{
    if (c == NULL)
        return NULL;
    amqp_socket_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->conn = c;
    s->tls = tls;
    s->fd = -1;
    s->ready_fd = -1;
    s->key_fd = -1;
    s->verify_peer = 1;
    s->verify_hostname = 1;
    free_socket(c->socket); /* librabbitmq: the connection owns its (latest) socket */
    c->socket = s;
    return s;
}

amqp_socket_t *amqp_tcp_socket_new(amqp_connection_state_t c) { return new_socket(c, 0); }
amqp_socket_t *amqp_ssl_socket_new(amqp_connection_state_t c)
{
    compat_tls_mark_initialized(); /* as librabbitmq's first SSL socket initializes OpenSSL */
    return new_socket(c, 1);
}

void amqp_tcp_socket_set_sockfd(amqp_socket_t *s, int sockfd)
{
    if (s == NULL)
        return;
    if (s->fd >= 0 && s->fd != sockfd && !s->handed)
        close(s->fd);
    s->handed = 0;
    s->fd = sockfd;
}

void amqp_set_sockfd(amqp_connection_state_t c, int sockfd)
{
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    if (s)
        s->fd = sockfd;
}

static int set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = NULL;
    if (src == NULL)
        return AMQP_STATUS_OK;
    *dst = strdup(src);
    return *dst ? AMQP_STATUS_OK : AMQP_STATUS_NO_MEMORY;
}

int amqp_ssl_socket_set_cacert(amqp_socket_t *s, const char *cacert)
{
    if (s == NULL || !s->tls)
        return AMQP_STATUS_INVALID_PARAMETER;
    if (access(cacert, R_OK) != 0)
        return AMQP_STATUS_SSL_ERROR;
    return set_str(&s->cacert, cacert);
}

int amqp_ssl_socket_set_key(amqp_socket_t *s, const char *cert, const char *key)
{
    if (s == NULL || !s->tls)
        return AMQP_STATUS_INVALID_PARAMETER;
    if ((cert && access(cert, R_OK) != 0) || (key && access(key, R_OK) != 0))
        return AMQP_STATUS_SSL_ERROR;
    if (s->key_fd >= 0) { /* a key given as a buffer before */
        close(s->key_fd);
        s->key_fd = -1;
    }
    int rc = set_str(&s->cert, cert);
    return rc ? rc : set_str(&s->key, key);
}

void amqp_ssl_socket_set_key_passwd(amqp_socket_t *s, const char *passwd)
{
    if (s && s->tls)
        set_str(&s->key_password, passwd);
}

void amqp_ssl_socket_set_verify_peer(amqp_socket_t *s, amqp_boolean_t verify)
{
    if (s && s->tls)
        s->verify_peer = verify ? 1 : 0;
}

void amqp_ssl_socket_set_verify_hostname(amqp_socket_t *s, amqp_boolean_t verify)
{
    if (s && s->tls)
        s->verify_hostname = verify ? 1 : 0;
}

void amqp_ssl_socket_set_verify(amqp_socket_t *s, amqp_boolean_t verify)
{
    amqp_ssl_socket_set_verify_peer(s, verify);
    amqp_ssl_socket_set_verify_hostname(s, verify);
}

int amqp_ssl_socket_set_ssl_versions(amqp_socket_t *s, amqp_tls_version_t min, amqp_tls_version_t max)
{
    if (s == NULL || !s->tls)
        return AMQP_STATUS_INVALID_PARAMETER;
    /* swiftamqp always uses TLS 1.2 or newer. */
    if (max != AMQP_TLSvLATEST && max < AMQP_TLSv1_2)
        return AMQP_STATUS_UNSUPPORTED;
    (void)min;
    return AMQP_STATUS_OK;
}

void *amqp_ssl_socket_get_context(amqp_socket_t *s)
{
    (void)s;
    return NULL; /* there is no OpenSSL SSL_CTX the application could share */
}

void amqp_set_initialize_ssl_library(amqp_boolean_t do_initialize) { (void)do_initialize; }
int amqp_initialize_ssl_library(void)
{
    compat_tls_mark_initialized();
    return AMQP_STATUS_OK;
}
int amqp_uninitialize_ssl_library(void) { return AMQP_STATUS_OK; }

/* TCP connect to host:port, trying each address; the fd is handed to swamqp at login. */
static int tcp_connect(const char *host, int port, const struct timeval *timeout, int *out)
{
    char portstr[16];
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || res == NULL)
        return AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED;
    int st = AMQP_STATUS_SOCKET_ERROR;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (timeout) {
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeout, sizeof *timeout);
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            if (timeout) {
                struct timeval zero = {0, 0};
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero);
            }
            *out = fd;
            st = AMQP_STATUS_OK;
            break;
        }
        if (errno == EINPROGRESS || errno == EAGAIN)
            st = AMQP_STATUS_TIMEOUT;
        close(fd);
    }
    freeaddrinfo(res);
    return st;
}

int amqp_socket_open_noblock(amqp_socket_t *s, const char *host, int port, const struct timeval *timeout)
{
    if (s == NULL || host == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    if (s->fd >= 0)
        return AMQP_STATUS_SOCKET_INUSE;
    if (timeout && (timeout->tv_sec < 0 || timeout->tv_usec < 0))
        return AMQP_STATUS_INVALID_PARAMETER;
    int rc = set_str(&s->host, host);
    if (rc)
        return rc;
    s->port = port;
    return tcp_connect(host, port, timeout, &s->fd);
}

int amqp_socket_open(amqp_socket_t *s, const char *host, int port)
{
    return amqp_socket_open_noblock(s, host, port, NULL);
}

int amqp_open_socket(char const *hostname, int portnumber)
{
    int fd = -1;
    int st = tcp_connect(hostname, portnumber, NULL, &fd);
    return st ? st : fd;
}

/* ---- login ---------------------------------------------------------------------------------- */
static int key_is(const amqp_bytes_t *k, const char *name)
{
    size_t n = strlen(name);
    return k->len == n && memcmp(k->bytes, name, n) == 0;
}

/* librabbitmq 0.11 advertises only the capabilities authentication_failure_close and
 * exchange_exchange_bindings, plus those the program adds in a "capabilities" table of its login
 * properties. The engine always advertises consumer_cancel_notify and connection.blocked, so the
 * broker sends basic.cancel and connection.blocked/unblocked that a librabbitmq program would
 * never get; they become frames only when the program asked for them. */
static void read_capabilities(amqp_connection_state_t c, const amqp_table_t *properties)
{
    for (int i = 0; i < properties->num_entries; i++) {
        const amqp_table_entry_t *e = &properties->entries[i];
        if (!key_is(&e->key, "capabilities") || e->value.kind != AMQP_FIELD_KIND_TABLE)
            continue;
        const amqp_table_t *caps = &e->value.value.table;
        for (int j = 0; j < caps->num_entries; j++) {
            const amqp_table_entry_t *k = &caps->entries[j];
            int on = k->value.kind == AMQP_FIELD_KIND_BOOLEAN && k->value.value.boolean;
            if (key_is(&k->key, "consumer_cancel_notify"))
                c->cap_cancel_notify = on;
            else if (key_is(&k->key, "connection.blocked"))
                c->cap_blocked = on;
        }
    }
}

static amqp_rpc_reply_t do_login(amqp_connection_state_t c, char const *vhost, int channel_max, int frame_max,
                                 int heartbeat, const amqp_table_t *properties, amqp_sasl_method_enum method,
                                 va_list ap)
{
    swamqp_connection_options o;
    swamqp_error err;
    memset(&err, 0, sizeof err);
    if (c == NULL) {
        amqp_rpc_reply_t r = {AMQP_RESPONSE_LIBRARY_EXCEPTION, {0, NULL}, AMQP_STATUS_INVALID_PARAMETER};
        return r;
    }
    amqp_socket_t *s = c->socket;
    if (s == NULL || s->fd < 0) {
        compat_reply_library(c, AMQP_STATUS_SOCKET_CLOSED);
        return c->reply;
    }
    if (c->sw != NULL) {
        compat_reply_library(c, AMQP_STATUS_UNEXPECTED_STATE);
        return c->reply;
    }
    if (channel_max < 0 || channel_max > 65535 || frame_max < 0 || heartbeat < 0 || heartbeat > 65535) {
        compat_reply_library(c, AMQP_STATUS_INVALID_PARAMETER);
        return c->reply;
    }
    swamqp_connection_options_init(&o);
    o.host = s->host;
    o.port = (uint16_t)s->port;
    o.socket_fd = s->fd;
    o.vhost = vhost ? vhost : "/";
    o.heartbeat = (uint16_t)heartbeat;
    o.channel_max = (uint16_t)channel_max; /* 0: as many as the broker allows */
    o.frame_max = frame_max == 0 ? AMQP_DEFAULT_FRAME_SIZE : (uint32_t)(frame_max < 4096 ? 4096 : frame_max);
    if (c->has_handshake_timeout) {
        uint32_t ms;
        if (tv_to_ms(&c->handshake_tv, &ms))
            o.connect_timeout_ms = ms ? ms : 1;
    }
    if (method == AMQP_SASL_METHOD_PLAIN) {
        o.user = va_arg(ap, const char *);
        o.password = va_arg(ap, const char *);
        o.auth_mechanism = SWAMQP_AUTH_PLAIN;
    } else if (method == AMQP_SASL_METHOD_EXTERNAL) {
        (void)va_arg(ap, const char *); /* the identity: RabbitMQ takes it from the certificate */
        o.auth_mechanism = SWAMQP_AUTH_EXTERNAL;
    } else {
        compat_reply_library(c, AMQP_STATUS_BROKER_UNSUPPORTED_SASL_METHOD);
        return c->reply;
    }
    char name[256];
    if (properties != NULL) {
        for (int i = 0; i < properties->num_entries; i++) {
            const amqp_table_entry_t *e = &properties->entries[i];
            if (e->key.len == 15 && memcmp(e->key.bytes, "connection_name", 15) == 0 &&
                (e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES) &&
                e->value.value.bytes.len < sizeof name) {
                memcpy(name, e->value.value.bytes.bytes, e->value.value.bytes.len);
                name[e->value.value.bytes.len] = '\0';
                o.connection_name = name;
            }
        }
        empty_amqp_pool(&c->props_pool);
        amqp_table_clone(properties, &c->client_properties, &c->props_pool);
        read_capabilities(c, properties);
    }
    if (s->tls) {
        o.tls = true;
        o.tls_ca_file = s->cacert;
        o.tls_cert_file = s->cert;
        o.tls_key_file = s->key;
        o.tls_key_password = s->key_password;
        o.tls_insecure_skip_verify = !s->verify_peer;
        o.tls_insecure_skip_hostname_check = !s->verify_hostname;
    }
    swamqp_connection *sw = NULL;
    int rc = swamqp_connection_create(&o, &sw, &err);
    if (rc == SWAMQP_OK) {
        s->handed = 1;
        rc = swamqp_connection_open(sw, &err);
        /* From here on the connection owns the socket (also on failure, it was handed over at
           create); keep the number for amqp_get_sockfd but never close it ourselves. */
        if (rc != SWAMQP_OK) {
            swamqp_connection_free(sw);
            sw = NULL;
        }
    }
    if (rc != SWAMQP_OK) {
        if (rc == SWAMQP_ERR_TLS) {
            /* librabbitmq's finer TLS statuses, from the engine's OpenSSL verify result */
            int st = AMQP_STATUS_SSL_CONNECTION_FAILED;
            if (strstr(err.message, "hostname mismatch") || strstr(err.message, "Hostname mismatch") ||
                strstr(err.message, "IP address mismatch"))
                st = AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED;
            else if (strstr(err.message, "certificate verify failed"))
                st = AMQP_STATUS_SSL_PEER_VERIFY_FAILED;
            compat_reply_library(c, st);
        } else if (rc == SWAMQP_ERR_AUTH && err.origin != SWAMQP_ORIGIN_BROKER) {
            /* librabbitmq reports a refused login as a closed connection */
            compat_reply_library(c, AMQP_STATUS_CONNECTION_CLOSED);
        } else {
            if (err.origin == SWAMQP_ORIGIN_BROKER)
                err.channel = 0;
            compat_reply_from_sw(c, rc, &err);
        }
        return c->reply;
    }
    c->sw = sw;
    readiness_start(c);
    uint16_t cm = 0, hb = 0;
    uint32_t fm = 0;
    swamqp_connection_tune(sw, &cm, &fm, &hb);
    c->channel_max = cm;
    c->frame_max = fm;
    c->heartbeat = hb;
    load_server_properties(c);
    compat_reply_ok(c, AMQP_CONNECTION_OPEN_OK_METHOD, NULL);
    return c->reply;
}

amqp_rpc_reply_t amqp_login(amqp_connection_state_t state, char const *vhost, int channel_max, int frame_max,
                            int heartbeat, amqp_sasl_method_enum sasl_method, ...)
{
    va_list ap;
    va_start(ap, sasl_method);
    amqp_rpc_reply_t r = do_login(state, vhost, channel_max, frame_max, heartbeat, NULL, sasl_method, ap);
    va_end(ap);
    return r;
}

amqp_rpc_reply_t amqp_login_with_properties(amqp_connection_state_t state, char const *vhost, int channel_max,
                                            int frame_max, int heartbeat, const amqp_table_t *properties,
                                            amqp_sasl_method_enum sasl_method, ...)
{
    va_list ap;
    va_start(ap, sasl_method);
    amqp_rpc_reply_t r = do_login(state, vhost, channel_max, frame_max, heartbeat, properties, sasl_method, ap);
    va_end(ap);
    return r;
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
