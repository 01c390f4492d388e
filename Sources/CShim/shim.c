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
