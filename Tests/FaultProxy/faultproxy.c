/*
 * faultproxy: see faultproxy.h. One thread per proxy runs a poll loop over the listening socket,
 * an eventfd that commands use to wake it, and both sockets of every proxied connection. Each
 * direction of a connection has a buffer: bytes are read from one socket into it and written from
 * it to the other, which is where stalls, rate limits and cuts apply. The thread holds the mutex
 * except while it sleeps in poll, so commands see a consistent state; synchronous commands wait on
 * a condition variable until the thread has carried them out.
 *
 * This file has the public functions: start, the commands and stop. The proxy thread is in
 * faultproxy_loop.c, the state both share in faultproxy_internal.h.
 */
#include "faultproxy_internal.h"

int64_t fp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fp_wake(fp_proxy *p)
{
    uint64_t one = 1;
    ssize_t r = write(p->wake_fd, &one, sizeof one);
    (void)r;
}

static bool fp_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

/* Resolves host:port to a loopback address (numeric or "localhost" only; no name service). */
static bool fp_resolve(const char *host, uint16_t port, struct sockaddr_storage *out, socklen_t *out_len)
{
    memset(out, 0, sizeof *out);
    if (host == NULL || strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    struct sockaddr_in *in = (struct sockaddr_in *)out;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    const char *h = host;
    char buf[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof buf) {
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        h = buf;
    }
    if (inet_pton(AF_INET, h, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        *out_len = sizeof *in;
    } else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *out_len = sizeof *in6;
    } else {
        fprintf(stderr, "faultproxy: upstream host \"%s\" is not a numeric address or localhost\n", host);
        errno = EINVAL;
        return false;
    }
    if (!fp_is_loopback(out)) {
        fprintf(stderr, "faultproxy: upstream %s is not a loopback address; refused\n", host);
        errno = EINVAL;
        return false;
    }
    return true;
}

fp_proxy *fp_start(const char *upstream_host, uint16_t upstream_port)
{
    fp_proxy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->listen_fd = -1;
    p->wake_fd = -1;
    if (!fp_resolve(upstream_host, upstream_port, &p->upstream, &p->upstream_len))
        goto fail;
    p->conns = calloc(FP_MAX_CONNS, sizeof *p->conns);
    if (p->conns == NULL)
        goto fail;
    for (int i = 0; i < FP_MAX_CONNS; i++)
        p->conns[i].fd[0] = p->conns[i].fd[1] = -1;
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wake_fd < 0)
        goto fail;
    p->listen_fd = fp_listen_on(0, &p->port);
    if (p->listen_fd < 0) {
        fprintf(stderr, "faultproxy: cannot listen on 127.0.0.1: %s\n", strerror(errno));
        goto fail;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, fp_thread, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        goto fail;
    }
    p->thread_started = true;
    return p;
fail:
    if (p->listen_fd >= 0)
        close(p->listen_fd);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    free(p->conns);
    free(p);
    return NULL;
}

uint16_t fp_port(fp_proxy *p)
{
    return p->port;
}

bool fp_set_upstream(fp_proxy *p, const char *host, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (!fp_resolve(host, port, &ss, &len))
        return false;
    pthread_mutex_lock(&p->mu);
    p->upstream = ss;
    p->upstream_len = len;
    pthread_mutex_unlock(&p->mu);
    return true;
}

int fp_cut_all(fp_proxy *p, bool reset)
{
    pthread_mutex_lock(&p->mu);
    uint64_t mine = ++p->cut_req;
    p->cut_reset = reset;
    fp_wake(p);
    while (p->cut_done < mine && !p->stop)
        pthread_cond_wait(&p->cv, &p->mu);
    int n = p->cut_result;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void fp_cut_after(fp_proxy *p, int direction, uint64_t nbytes)
{
    pthread_mutex_lock(&p->mu);
    p->cut_armed = true;
    p->cut_fired = false;
    p->cut_dir_index = direction == FP_SERVER_TO_CLIENT ? 1 : 0;
    p->cut_left = nbytes;
    fp_wake(p);
    pthread_mutex_unlock(&p->mu);
}

bool fp_cut_fired(fp_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    bool fired = p->cut_fired;
    pthread_mutex_unlock(&p->mu);
    return fired;
}

void fp_stall(fp_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->stalled = true;
    fp_wake(p);
    pthread_mutex_unlock(&p->mu);
}

void fp_set_rate(fp_proxy *p, uint64_t bytes_per_second)
{
    pthread_mutex_lock(&p->mu);
    p->rate = bytes_per_second;
    p->tokens[0] = p->tokens[1] = 0;
    p->tokens_at = fp_now_ms();
    fp_wake(p);
    pthread_mutex_unlock(&p->mu);
}

bool fp_refuse(fp_proxy *p, bool refuse)
{
    pthread_mutex_lock(&p->mu);
    p->refuse_wanted = refuse;
    uint64_t mine = ++p->refuse_req;
    fp_wake(p);
    while (p->refuse_done < mine && !p->stop)
        pthread_cond_wait(&p->cv, &p->mu);
    bool ok = p->refuse_ok;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

void fp_resume(fp_proxy *p)
{
    fp_refuse(p, false);
    pthread_mutex_lock(&p->mu);
    p->stalled = false;
    p->rate = 0;
    p->cut_armed = false;
    fp_wake(p);
    pthread_mutex_unlock(&p->mu);
}

void fp_get_stats(fp_proxy *p, fp_stats *stats)
{
    pthread_mutex_lock(&p->mu);
    *stats = p->stats;
    pthread_mutex_unlock(&p->mu);
}

bool fp_wait_accepted(fp_proxy *p, uint64_t count, int64_t timeout_ms)
{
    int64_t deadline = fp_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        uint64_t got = p->stats.accepted;
        pthread_mutex_unlock(&p->mu);
        if (got >= count)
            return true;
        if (fp_now_ms() >= deadline)
            return false;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void fp_stop(fp_proxy *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    fp_wake(p);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->thread_started)
        pthread_join(p->thread, NULL);
    if (p->listen_fd >= 0)
        close(p->listen_fd);
    close(p->wake_fd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->conns);
    free(p);
}
