#define _GNU_SOURCE
#include "cshim.h"
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int swiftamqp_shim_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

void swiftamqp_shim_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
}

void swiftamqp_shim_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t r = read(fd, &value, sizeof value);
    (void)r;
}

uint64_t swiftamqp_shim_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void swiftamqp_shim_block_sigpipe(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

#include <pthread.h>
#include <stdatomic.h>

static atomic_uint_fast64_t fork_generation;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void on_fork_child(void) { atomic_fetch_add(&fork_generation, 1); }
static void install_fork_handler(void) { pthread_atfork(NULL, NULL, on_fork_child); }

uint64_t swiftamqp_shim_fork_generation(void) {
    pthread_once(&fork_once, install_fork_handler);
    return atomic_load_explicit(&fork_generation, memory_order_relaxed);
}

static __thread int callback_depth;
int swiftamqp_shim_callback_depth(void) { return callback_depth; }
void swiftamqp_shim_callback_enter(void) { callback_depth++; }
void swiftamqp_shim_callback_leave(void) { callback_depth--; }

static __thread void *thread_slot;
void *swiftamqp_shim_thread_slot(void) { return thread_slot; }
void swiftamqp_shim_set_thread_slot(void *pointer) { thread_slot = pointer; }

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

/* The request must outlive a timed-out lookup (the resolver thread still writes to it), so it is
 * heap-allocated and leaked on the rare timeout where cancelling fails. */
struct resolve_request {
    struct gaicb cb;
    struct addrinfo hints;
    char *host;
    char *service;
};

int swiftamqp_shim_resolve(const char *host, const char *service, int timeout_ms, struct addrinfo **result) {
    *result = NULL;
    struct resolve_request *req = calloc(1, sizeof *req);
    if (!req) return EAI_MEMORY;
    req->host = strdup(host);
    req->service = strdup(service);
    if (!req->host || !req->service) {
        free(req->host); free(req->service); free(req);
        return EAI_MEMORY;
    }
    req->hints.ai_family = AF_UNSPEC;
    req->hints.ai_socktype = SOCK_STREAM;
    req->hints.ai_flags = AI_ADDRCONFIG;
    req->cb.ar_name = req->host;
    req->cb.ar_service = req->service;
    req->cb.ar_request = &req->hints;
    struct gaicb *list[1] = { &req->cb };
    int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
    if (rc != 0) {
        free(req->host); free(req->service); free(req);
        return rc;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    uint64_t end_ns = (uint64_t)deadline.tv_sec * 1000000000ull + (uint64_t)deadline.tv_nsec + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        rc = gai_error(&req->cb);
        if (rc != EAI_INPROGRESS) break;
        uint64_t now = swiftamqp_shim_now_ns();
        if (now >= end_ns) {
            if (gai_cancel(&req->cb) == EAI_CANCELED) {
                free(req->host); free(req->service); free(req);
            }
            return EAI_AGAIN;
        }
        uint64_t left = end_ns - now;
        struct timespec wait = { (time_t)(left / 1000000000ull), (long)(left % 1000000000ull) };
        const struct gaicb *waiting[1] = { &req->cb };
        gai_suspend(waiting, 1, &wait);
    }
    if (rc == 0) *result = req->cb.ar_result;
    free(req->host); free(req->service); free(req);
    return rc;
}
