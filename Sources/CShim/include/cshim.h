#ifndef SWIFTAMQP_CSHIM_H
#define SWIFTAMQP_CSHIM_H
/* Wrappers for what Swift cannot import directly: eventfd (not in the Glibc module) and
 * function-like macros. */
#include <stdint.h>
#include <sys/types.h>

int swamqp_shim_eventfd(void);
/* Adds 1 to the eventfd counter; errors are ignored (the counter saturating is fine). */
void swamqp_shim_eventfd_signal(int fd);
/* Resets the counter to zero without blocking. */
void swamqp_shim_eventfd_drain(int fd);
/* A monotonic clock in nanoseconds. */
uint64_t swamqp_shim_now_ns(void);
/* Blocks SIGPIPE on the calling thread (OpenSSL writes without MSG_NOSIGNAL). */
void swamqp_shim_block_sigpipe(void);
#endif
