/* See amqp_time.h: a stand-in for librabbitmq's private deadline helpers, linked into test_basic. */
#include "amqp_time.h"

#include <amqp.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int amqp_time_from_now(amqp_time_t *time, const struct timeval *timeout)
{
    if (timeout == NULL) {
        time->time_point_ns = UINT64_MAX;
        return AMQP_STATUS_OK;
    }
    if (timeout->tv_sec < 0 || timeout->tv_usec < 0)
        return AMQP_STATUS_INVALID_PARAMETER;
    time->time_point_ns = now_ns() + (uint64_t)timeout->tv_sec * 1000000000u + (uint64_t)timeout->tv_usec * 1000u;
    return AMQP_STATUS_OK;
}

int amqp_time_has_past(amqp_time_t time)
{
    if (time.time_point_ns == UINT64_MAX)
        return AMQP_STATUS_OK;
    return now_ns() > time.time_point_ns ? AMQP_STATUS_TIMEOUT : AMQP_STATUS_OK;
}
