#define _GNU_SOURCE
#include "cshim.h"
#include <poll.h>
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
static __thread const void *callback_connection;
int swiftamqp_shim_callback_depth(void) { return callback_depth; }
const void *swiftamqp_shim_callback_connection(void) { return callback_connection; }
void swiftamqp_shim_callback_enter(const void *connection) {
    callback_depth++;
    callback_connection = connection;
}
void swiftamqp_shim_callback_leave(void) {
    if (--callback_depth == 0) callback_connection = 0;
}

static __thread void *thread_slot;
void *swiftamqp_shim_thread_slot(void) { return thread_slot; }
void swiftamqp_shim_set_thread_slot(void *pointer) { thread_slot = pointer; }

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

/* A lookup runs on a thread of its own so the caller can stop waiting at its deadline; whichever of
 * the two finishes last frees the job (and a result nobody took). Plain getaddrinfo on our own
 * thread, rather than getaddrinfo_a, whose internal threads ThreadSanitizer cannot follow. */
struct resolve_job {
    pthread_mutex_t mutex;
    pthread_cond_t done_cond;
    int done;
    int refs;
    int rc;
    char *host;
    char *service;
    struct addrinfo *result;
};

static void resolve_job_release(struct resolve_job *job) {
    /* called with the mutex held; unlocks */
    int last = --job->refs == 0;
    pthread_mutex_unlock(&job->mutex);
    if (!last) return;
    if (job->result) freeaddrinfo(job->result);
    pthread_mutex_destroy(&job->mutex);
    pthread_cond_destroy(&job->done_cond);
    free(job->host);
    free(job->service);
    free(job);
}

static void *resolve_thread(void *arg) {
    struct resolve_job *job = arg;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    struct addrinfo *result = NULL;
    int rc = getaddrinfo(job->host, job->service, &hints, &result);
    pthread_mutex_lock(&job->mutex);
    job->rc = rc;
    job->result = rc == 0 ? result : NULL;
    job->done = 1;
    pthread_cond_signal(&job->done_cond);
    resolve_job_release(job);
    return NULL;
}

int swiftamqp_shim_resolve(const char *host, const char *service, int timeout_ms, struct addrinfo **result) {
    *result = NULL;
    /* Numeric addresses resolve at once, without a thread. */
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, service, &hints, result) == 0) return 0;
    *result = NULL;

    struct resolve_job *job = calloc(1, sizeof *job);
    if (!job) return EAI_MEMORY;
    job->host = strdup(host);
    job->service = strdup(service);
    if (!job->host || !job->service) {
        free(job->host); free(job->service); free(job);
        return EAI_MEMORY;
    }
    pthread_mutex_init(&job->mutex, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&job->done_cond, &attributes);
    pthread_condattr_destroy(&attributes);
    job->refs = 2;
    pthread_t thread;
    pthread_attr_t thread_attributes;
    pthread_attr_init(&thread_attributes);
    pthread_attr_setdetachstate(&thread_attributes, PTHREAD_CREATE_DETACHED);
    int created = pthread_create(&thread, &thread_attributes, resolve_thread, job);
    pthread_attr_destroy(&thread_attributes);
    if (created != 0) {
        pthread_mutex_lock(&job->mutex);
        job->refs = 1;
        resolve_job_release(job);
        return EAI_SYSTEM;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec += 1; deadline.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&job->mutex);
    while (!job->done) {
        if (pthread_cond_timedwait(&job->done_cond, &job->mutex, &deadline) == ETIMEDOUT) break;
    }
    int rc = EAI_AGAIN;
    if (job->done) {
        rc = job->rc;
        *result = job->result;
        job->result = NULL;
    }
    resolve_job_release(job);
    return rc;
}

int swiftamqp_shim_poll_ns(struct pollfd *fds, unsigned long count, long timeout_ns) {
    struct timespec wait = {timeout_ns / 1000000000L, timeout_ns % 1000000000L};
    return ppoll(fds, (nfds_t)count, &wait, NULL);
}
