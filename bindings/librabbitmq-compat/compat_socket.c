/*
 * librabbitmq compatibility layer: sockets before login. amqp_tcp_socket_new / amqp_ssl_socket_new,
 * the TLS settings that are kept for amqp_login (the engine does the handshake then), and the TCP
 * connect of amqp_socket_open, whose descriptor is handed to swamqp at login.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"

/* ---- sockets --------------------------------------------------------------------------------- */
void compat_free_socket(amqp_socket_t *s)
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
    compat_free_socket(c->socket); /* librabbitmq: the connection owns its (latest) socket */
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
