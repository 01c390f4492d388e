/*
 * librabbitmq compatibility layer: the socket the program sees after login. One end of a
 * socketpair that is readable exactly while frames wait in the layer or the engine has queued
 * events, kept so by a watcher thread per connection and by the program's own calls.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"

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

void compat_readiness_start(amqp_connection_state_t c)
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

void compat_readiness_stop(amqp_connection_state_t c)
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
