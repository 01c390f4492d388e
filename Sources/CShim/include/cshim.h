#ifndef SWIFTAMQP_CSHIM_H
#define SWIFTAMQP_CSHIM_H
/* Wrappers for what Swift cannot import directly: eventfd (not in the Glibc module) and
 * function-like macros. */
#include <stdint.h>
#include <sys/types.h>
#include "tls.h"

int swiftamqp_shim_eventfd(void);
/* Adds 1 to the eventfd counter; errors are ignored (the counter saturating is fine). */
void swiftamqp_shim_eventfd_signal(int fd);
/* Resets the counter to zero without blocking. */
void swiftamqp_shim_eventfd_drain(int fd);
/* A monotonic clock in nanoseconds. */
uint64_t swiftamqp_shim_now_ns(void);
/* poll() with a timeout in nanoseconds (ppoll, which the Glibc module does not import). */
struct pollfd;
int swiftamqp_shim_poll_ns(struct pollfd *fds, unsigned long count, long timeout_ns);
/* Blocks SIGPIPE on the calling thread (OpenSSL writes without MSG_NOSIGNAL). */
void swiftamqp_shim_block_sigpipe(void);
#endif

/* A counter bumped in the child after fork(); a handle made under another value is the parent's. */
uint64_t swiftamqp_shim_fork_generation(void);
/* Per-thread depth of event callbacks being run (a blocking call inside one must not wait). */
int swiftamqp_shim_callback_depth(void);
/* The handle whose events the thread's callbacks are dispatching (one at a time: dispatching
 * from a callback is refused), or NULL outside callbacks. */
const void *swiftamqp_shim_callback_connection(void);
void swiftamqp_shim_callback_enter(const void *connection);
void swiftamqp_shim_callback_leave(void);
/* A per-thread slot for storage handed out until the thread's next call of the same function. */
void *swiftamqp_shim_thread_slot(void);
void swiftamqp_shim_set_thread_slot(void *pointer);

struct addrinfo;
/* getaddrinfo bounded by `timeout_ms`: numeric hosts at once, names on a helper thread the caller
 * stops waiting for at the deadline. 0 and *result on success, an EAI_* code on failure, EAI_AGAIN
 * on timeout. Free *result with freeaddrinfo. */
int swiftamqp_shim_resolve(const char *host, const char *service, int timeout_ms, struct addrinfo **result);
