/* Test support: failing one chosen allocation of librabbitmq.so.4 (see alloc_fail.c). */
#ifndef COMPAT_TESTS_ALLOC_FAIL_H
#define COMPAT_TESTS_ALLOC_FAIL_H

#include <stddef.h>

enum { ALLOC_FAIL_MALLOC = 1, ALLOC_FAIL_CALLOC = 2 };

/* From now on, after `skip` matching calls, the next `count` calls of `fn` (malloc, or calloc with
 * that product) for exactly `size` bytes made by librabbitmq.so.4 return NULL. -1 when
 * librabbitmq.so.4 is not loaded. */
int alloc_fail_arm(int fn, size_t size, int skip, int count);
/* Stops failing; returns how many calls failed since alloc_fail_arm. */
int alloc_fail_disarm(void);

#endif
