/*
 * Test support for compat_programs: makes one chosen allocation of librabbitmq.so.4 fail, to run
 * its out-of-memory paths on the real library and on the compat one alike.
 *
 * The program defines malloc and calloc itself (they forward to glibc's __libc_malloc /
 * __libc_calloc), so the calls that librabbitmq.so.4 makes come here. While armed, the first
 * call(s) of the armed function with exactly the armed size whose caller is inside
 * librabbitmq.so.4 (its executable segment) fail; everything else, the engine's allocations
 * included, is untouched. Both libraries allocate the copies compat_programs aims at with that
 * function and size (a body: malloc(body size); a long string value in a pool: calloc(1, len), len
 * a multiple of 8), and the tests pick sizes nothing else in the library uses meanwhile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

#include "alloc_fail.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);

static volatile int armed;            /* ALLOC_FAIL_MALLOC / ALLOC_FAIL_CALLOC, 0: off */
static volatile size_t armed_size;
static volatile int to_skip, to_fail; /* matching calls still to let through / to fail */
static volatile int failed;
static uintptr_t lib_lo, lib_hi;      /* librabbitmq.so.4's executable segment */

static int find_library(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "librabbitmq.so") == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type == PT_LOAD && (p->p_flags & PF_X)) {
            lib_lo = info->dlpi_addr + p->p_vaddr;
            lib_hi = lib_lo + p->p_memsz;
            return 1;
        }
    }
    return 0;
}

static int should_fail(int fn, size_t size, void *caller)
{
    if (armed != fn || size != armed_size || (uintptr_t)caller < lib_lo || (uintptr_t)caller >= lib_hi)
        return 0;
    if (to_skip > 0) {
        to_skip--;
        return 0;
    }
    if (to_fail <= 0)
        return 0;
    to_fail--;
    failed++;
    return 1;
}

void *malloc(size_t size)
{
    if (armed && should_fail(ALLOC_FAIL_MALLOC, size, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    if (armed && (size == 0 || n <= SIZE_MAX / size) &&
        should_fail(ALLOC_FAIL_CALLOC, n * size, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(n, size);
}

int alloc_fail_arm(int fn, size_t size, int skip, int count)
{
    if (lib_hi == 0)
        dl_iterate_phdr(find_library, NULL);
    if (lib_hi == 0)
        return -1;
    armed = 0;
    armed_size = size;
    to_skip = skip;
    to_fail = count;
    failed = 0;
    armed = fn;
    return 0;
}

int alloc_fail_disarm(void)
{
    armed = 0;
    return failed;
}
