/*
 * faultproxy: the proxy thread. Its poll loop carries out the commands faultproxy.c posts, accepts
 * connections and connects them upstream, and pumps each direction of each connection through its
 * buffer, where stalls, rate limits and cuts apply.
 */
#include "faultproxy_internal.h"

static void fp_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int fp_listen_on(uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    socklen_t len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *bound = ntohs(addr.sin_port);
    return fd;
}

static void fp_close_conn(fp_proxy *p, fp_conn *c, bool reset)
{
    if (!c->used)
        return;
    for (int i = 0; i < 2; i++) {
        if (c->fd[i] < 0)
            continue;
        if (reset) {
            struct linger lg = {1, 0};
            setsockopt(c->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(c->fd[i]);
        c->fd[i] = -1;
    }
    c->used = false;
    if (p->stats.active > 0)
        p->stats.active--;
}

static void fp_accept_all(fp_proxy *p)
{
    for (int guard = 0; guard < FP_MAX_CONNS && p->listen_fd >= 0; guard++) {
        int cfd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        p->stats.accepted++;
        fp_conn *slot = NULL;
        for (int i = 0; i < FP_MAX_CONNS; i++) {
            if (!p->conns[i].used) {
                slot = &p->conns[i];
                break;
            }
        }
        if (slot == NULL) {
            fprintf(stderr, "faultproxy: more than %d connections; closing the new one\n", FP_MAX_CONNS);
            close(cfd);
            continue;
        }
        /* Loopback connects finish (or are refused) at once; a blocking connect is fine here. */
        int sfd = socket(p->upstream.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sfd < 0 || connect(sfd, (struct sockaddr *)&p->upstream, p->upstream_len) != 0) {
            if (sfd >= 0)
                close(sfd);
            close(cfd);
            p->stats.upstream_failed++;
            continue;
        }
        int fl = fcntl(sfd, F_GETFL);
        fcntl(sfd, F_SETFL, fl | O_NONBLOCK);
        fp_nodelay(cfd);
        fp_nodelay(sfd);
        memset(slot, 0, sizeof *slot);
        slot->used = true;
        slot->fd[0] = cfd;
        slot->fd[1] = sfd;
        p->stats.active++;
    }
}

static void fp_refill(fp_proxy *p, int64_t now)
{
    if (p->rate == 0) {
        p->tokens_at = now;
        return;
    }
    double cap = (double)p->rate / 10.0;
    if (cap < 1)
        cap = 1;
    double add = (double)p->rate * (double)(now - p->tokens_at) / 1000.0;
    p->tokens_at = now;
    for (int d = 0; d < 2; d++) {
        p->tokens[d] += add;
        if (p->tokens[d] > cap)
            p->tokens[d] = cap;
    }
}

/* How many bytes direction d may write now (before the cut budget). */
static size_t fp_allowance(fp_proxy *p, int d, size_t want)
{
    if (p->stalled)
        return 0;
    if (p->rate != 0) {
        double t = p->tokens[d];
        if (t < 1)
            return 0;
        if ((double)want > t)
            want = (size_t)t;
    }
    return want;
}

/* Moves bytes of one direction of `c`; returns false when the connection was closed. */
static bool fp_pump(fp_proxy *p, fp_conn *c, int d)
{
    fp_pipe *pp = &c->pipe[d];
    int src = c->fd[d], dst = c->fd[1 - d];
    if (src < 0 || dst < 0) {
        /* a side closed while stalled: once forwarding resumes, the other side learns of it */
        if (!p->stalled)
            fp_close_conn(p, c, false);
        return p->stalled;
    }
    /* read */
    if (!p->stalled && !pp->eof && pp->len < FP_BUF_SIZE) {
        if (pp->off + pp->len == FP_BUF_SIZE || (pp->len == 0 && pp->off != 0)) {
            memmove(pp->buf, pp->buf + pp->off, pp->len);
            pp->off = 0;
        }
        size_t room = FP_BUF_SIZE - pp->off - pp->len;
        if (room > 0) {
            ssize_t r = recv(src, pp->buf + pp->off + pp->len, room, 0);
            if (r > 0)
                pp->len += (size_t)r;
            else if (r == 0)
                pp->eof = true;
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fp_close_conn(p, c, false);
                return false;
            }
        }
    }
    /* armed cut with nothing left to forward: cut as soon as there is a byte for this direction */
    if (p->cut_armed && p->cut_dir_index == d && p->cut_left == 0 && pp->len > 0) {
        p->cut_armed = false;
        p->cut_fired = true;
        p->stats.cuts++;
        fp_close_conn(p, c, false);
        pthread_cond_broadcast(&p->cv);
        return false;
    }
    /* write */
    size_t n = fp_allowance(p, d, pp->len);
    if (p->cut_armed && p->cut_dir_index == d && n > p->cut_left)
        n = (size_t)p->cut_left;
    if (n > 0) {
        ssize_t w = send(dst, pp->buf + pp->off, n, MSG_NOSIGNAL);
        if (w > 0) {
            pp->off += (size_t)w;
            pp->len -= (size_t)w;
            if (pp->len == 0)
                pp->off = 0;
            if (p->rate != 0)
                p->tokens[d] -= (double)w;
            int64_t now = fp_now_ms();
            if (d == 0) {
                p->stats.bytes_c2s += (uint64_t)w;
                p->stats.last_c2s_ms = now;
            } else {
                p->stats.bytes_s2c += (uint64_t)w;
                p->stats.last_s2c_ms = now;
            }
            if (p->cut_armed && p->cut_dir_index == d) {
                p->cut_left -= (uint64_t)w;
                if (p->cut_left == 0) {
                    p->cut_armed = false;
                    p->cut_fired = true;
                    p->stats.cuts++;
                    fp_close_conn(p, c, false); /* FIN: the forwarded bytes arrive first */
                    pthread_cond_broadcast(&p->cv);
                    return false;
                }
            }
        } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            fp_close_conn(p, c, false);
            return false;
        }
    }
    /* the source closed and everything it sent went out: close both sides */
    if (pp->eof && pp->len == 0 && !p->stalled) {
        fp_close_conn(p, c, false);
        return false;
    }
    return true;
}

static void fp_do_commands(fp_proxy *p)
{
    if (p->cut_req != p->cut_done) {
        int n = 0;
        for (int i = 0; i < FP_MAX_CONNS; i++) {
            if (p->conns[i].used) {
                fp_close_conn(p, &p->conns[i], p->cut_reset);
                n++;
            }
        }
        p->stats.cuts += (uint64_t)n;
        p->cut_result = n;
        p->cut_done = p->cut_req;
        pthread_cond_broadcast(&p->cv);
    }
    if (p->refuse_req != p->refuse_done) {
        bool ok = true;
        if (p->refuse_wanted && p->listen_fd >= 0) {
            close(p->listen_fd);
            p->listen_fd = -1;
        } else if (!p->refuse_wanted && p->listen_fd < 0) {
            uint16_t bound = 0;
            int fd = fp_listen_on(p->port, &bound);
            if (fd < 0) {
                fprintf(stderr, "faultproxy: cannot listen again on port %u: %s\n", p->port, strerror(errno));
                ok = false;
            } else {
                p->listen_fd = fd;
            }
        }
        p->refuse_ok = ok;
        p->refuse_done = p->refuse_req;
        pthread_cond_broadcast(&p->cv);
    }
}

void *fp_thread(void *arg)
{
    fp_proxy *p = arg;
    struct pollfd *pfds = calloc(2 + 2 * FP_MAX_CONNS, sizeof *pfds);
    int *owner = calloc(2 + 2 * FP_MAX_CONNS, sizeof *owner);
    if (pfds == NULL || owner == NULL) {
        fprintf(stderr, "faultproxy: out of memory\n");
        free(pfds);
        free(owner);
        return NULL;
    }
    pthread_mutex_lock(&p->mu);
    p->tokens_at = fp_now_ms();
    while (!p->stop) {
        fp_do_commands(p);
        fp_refill(p, fp_now_ms());

        int n = 0;
        bool waiting_for_tokens = false;
        pfds[n].fd = p->wake_fd;
        pfds[n].events = POLLIN;
        owner[n++] = -1;
        if (p->listen_fd >= 0) {
            pfds[n].fd = p->listen_fd;
            pfds[n].events = POLLIN;
            owner[n++] = -2;
        }
        for (int i = 0; i < FP_MAX_CONNS; i++) {
            fp_conn *c = &p->conns[i];
            if (!c->used)
                continue;
            for (int side = 0; side < 2; side++) {
                /* fd[side] is the source of pipe[side] and the destination of pipe[1 - side] */
                short ev = 0;
                if (!p->stalled && !c->pipe[side].eof && c->pipe[side].len < FP_BUF_SIZE)
                    ev |= POLLIN;
                if (c->pipe[1 - side].len > 0) {
                    if (fp_allowance(p, 1 - side, c->pipe[1 - side].len) > 0)
                        ev |= POLLOUT;
                    else if (!p->stalled)
                        waiting_for_tokens = true;
                }
                if (c->fd[side] < 0)
                    continue;
                pfds[n].fd = c->fd[side];
                pfds[n].events = ev;
                owner[n++] = i * 2 + side;
            }
        }
        int timeout = waiting_for_tokens ? 10 : 1000;
        pthread_mutex_unlock(&p->mu);
        int r = poll(pfds, (nfds_t)n, timeout);
        pthread_mutex_lock(&p->mu);
        if (p->stop)
            break;
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "faultproxy: poll: %s\n", strerror(errno));
            break;
        }
        uint64_t drained;
        if (read(p->wake_fd, &drained, sizeof drained) < 0) {
            /* nothing to drain (EAGAIN) */
        }
        fp_do_commands(p);
        fp_refill(p, fp_now_ms());
        if (p->listen_fd >= 0)
            fp_accept_all(p);
        for (int k = 0; k < n; k++) {
            if (owner[k] < 0 || pfds[k].revents == 0)
                continue;
            fp_conn *c = &p->conns[owner[k] / 2];
            int side = owner[k] % 2;
            if (!c->used || c->fd[side] != pfds[k].fd)
                continue;
            /* A socket in error (the peer reset it), or hung up while we do not read it. Stalled,
               only that side is closed: the other peer must not learn of it (a silent network).
               Otherwise both sides are closed. */
            if ((pfds[k].revents & (POLLERR | POLLNVAL)) ||
                ((pfds[k].revents & POLLHUP) && !(pfds[k].revents & POLLIN) && p->stalled)) {
                if (p->stalled) {
                    close(c->fd[side]);
                    c->fd[side] = -1;
                } else {
                    fp_close_conn(p, c, false);
                }
            }
        }
        for (int i = 0; i < FP_MAX_CONNS; i++) {
            fp_conn *c = &p->conns[i];
            if (!c->used)
                continue;
            if (!fp_pump(p, c, 0))
                continue;
            fp_pump(p, c, 1);
        }
    }
    for (int i = 0; i < FP_MAX_CONNS; i++)
        fp_close_conn(p, &p->conns[i], false);
    pthread_mutex_unlock(&p->mu);
    free(pfds);
    free(owner);
    return NULL;
}
