/* Shared by the sources of compat_programs (see compat_programs.c): the headers they use, the
 * helpers of compat_common.c and the scenarios, one function each. */
#ifndef COMPAT_TESTS_COMPAT_PROGRAMS_H
#define COMPAT_TESTS_COMPAT_PROGRAMS_H

#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <amqp_framing.h>

#include "alloc_fail.h"

/* Hidden: the program is linked with its symbols exported (ENABLE_EXPORTS, for alloc_fail.c's
 * malloc and calloc), and these names must not interpose on a library's. */
#pragma GCC visibility push(hidden)

/* compat_common.c */
__attribute__((noreturn)) void fail(const char *fmt, ...);
void check_reply(amqp_rpc_reply_t r, const char *what);
void check_status(int st, const char *what);
amqp_connection_state_t connect_to(const char *url); /* logged in, channel 1 open */
void disconnect(amqp_connection_state_t c);
void declare(amqp_connection_state_t c, const char *q);
void delete_queue(amqp_connection_state_t c, const char *q);
void print_table(const amqp_table_t *t, int depth);
void print_props(const amqp_basic_properties_t *p);
amqp_table_t rich_headers(amqp_table_entry_t *e, amqp_field_value_t *arr, amqp_table_entry_t *inner);
void print_reply(const char *what, amqp_rpc_reply_t r);

/* The scenarios: SCENARIO AMQP_URL QUEUE_PREFIX. */
/* compat_messaging.c */
void producer_consumer(const char *url, const char *prefix);
void rpc(const char *url, const char *prefix);
void confirms(const char *url, const char *prefix);
void tx_returns(const char *url, const char *prefix);
void generic(const char *url, const char *prefix);
/* compat_errors.c */
void errors(const char *url, const char *prefix);
void connection_error(const char *url, const char *prefix);
void login(const char *url, const char *prefix);
void tls(const char *url, const char *prefix);
/* compat_channels.c */
void close_keeps(const char *url, const char *prefix);
void cancel_notify(const char *url, const char *prefix);
void close_after_error(const char *url, const char *prefix);
void rpc_timeout(const char *url, const char *prefix);
void poll_socket(const char *url, const char *prefix);
/* compat_frames.c */
void raw_frames(const char *url, const char *prefix);
/* compat_read_message.c */
void read_message_errors(const char *url, const char *prefix);
void out_of_memory(const char *url, const char *prefix);
void rpc_replies(const char *url, const char *prefix);

#pragma GCC visibility pop

#endif
