/*
 * faultproxy's own state, shared by its two files (not part of its interface, faultproxy.h): a
 * proxy, its connections and their buffers, and the two functions faultproxy.c calls in
 * faultproxy_loop.c.
 */
#ifndef SWIFTAMQP_FAULTPROXY_INTERNAL_H
#define SWIFTAMQP_FAULTPROXY_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "faultproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FP_MAX_CONNS 128
#define FP_BUF_SIZE (64 * 1024)

typedef struct fp_pipe {
    unsigned char buf[FP_BUF_SIZE];
    size_t off; /* first unsent byte */
    size_t len; /* unsent bytes */
    bool eof;   /* the source has closed its side */
} fp_pipe;

typedef struct fp_conn {
    bool used;
    int fd[2];       /* [0] the client's socket, [1] the upstream socket */
    fp_pipe pipe[2]; /* [0] client -> server (read fd[0], write fd[1]); [1] server -> client */
} fp_conn;

struct fp_proxy {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool thread_started;
    int listen_fd; /* -1 while refusing */
    uint16_t port;
    int wake_fd;
    struct sockaddr_storage upstream;
    socklen_t upstream_len;
    fp_conn *conns; /* FP_MAX_CONNS */

    bool stop;
    bool stalled;
    uint64_t rate;
    double tokens[2];
    int64_t tokens_at;

    uint64_t cut_req, cut_done; /* cut_all requests and how many were carried out */
    bool cut_reset;
    int cut_result;

    bool cut_armed;
    int cut_dir_index; /* 0 client -> server, 1 server -> client */
    uint64_t cut_left;
    bool cut_fired;

    bool refuse_wanted;
    uint64_t refuse_req, refuse_done;
    bool refuse_ok;

    fp_stats stats;
};

/* A non-blocking listening socket on 127.0.0.1:port (0: the kernel picks one), the port bound in
 * *bound; -1 (errno set) on failure. */
int fp_listen_on(uint16_t port, uint16_t *bound);

/* The proxy thread: pthread_create's start routine, `arg` the proxy. */
void *fp_thread(void *arg);

#endif /* SWIFTAMQP_FAULTPROXY_INTERNAL_H */
