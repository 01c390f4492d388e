/*
 * Test support for rabbitmq-c's test_basic.c, which includes librabbitmq's private amqp_time.h
 * (not shipped by librabbitmq-dev). Only what test_basic uses: a deadline type, "deadline = now +
 * timeout" and "has the deadline passed". Our own minimal version, on CLOCK_MONOTONIC.
 */
#ifndef SWAMQP_RABBITMQC_AMQP_TIME_H
#define SWAMQP_RABBITMQC_AMQP_TIME_H

#include <stdint.h>
#include <sys/time.h>

typedef struct amqp_time_t_ {
    uint64_t time_point_ns; /* monotonic nanoseconds; UINT64_MAX: never */
} amqp_time_t;

/* AMQP_STATUS_OK, or AMQP_STATUS_INVALID_PARAMETER for a negative timeout. NULL: never. */
int amqp_time_from_now(amqp_time_t *time, const struct timeval *timeout);
/* AMQP_STATUS_OK while the deadline is ahead, AMQP_STATUS_TIMEOUT once it has passed. */
int amqp_time_has_past(amqp_time_t time);

#endif
