/*
 * What the files of the c_fake_peer test share; they build one program (main is in c_fake_peer.c).
 * Header-only, like fake_broker.h: a blocking call run on another thread while the test's thread
 * plays the broker, a client connected to the fake peer, a channel opened on it, and the scenarios
 * main runs from c_fake_peer_channel.c.
 */
#ifndef SWIFTAMQP_C_FAKE_PEER_H
#define SWIFTAMQP_C_FAKE_PEER_H

#include "event_util.h"
#include "fake_broker.h"

#include <pthread.h>
#include <sys/wait.h>

#define T_MS 5000

/* A blocking call made on another thread while the test's thread plays the broker. */
enum call_kind { CALL_UPDATE_SECRET, CALL_PUBLISH };
typedef struct blocking_call {
    swamqp_connection *conn;
    enum call_kind kind;
    uint16_t channel;
    int rc;
    swamqp_error err;
    uint64_t seq;
    uint32_t timeout_ms;
    volatile int done;
} blocking_call;

static TU_UNUSED void *run_call(void *arg)
{
    blocking_call *c = arg;
    switch (c->kind) {
    case CALL_UPDATE_SECRET:
        c->rc = swamqp_connection_update_secret(c->conn, tu_b("new-token"), tu_b("rotation"), T_MS, &c->err);
        break;
    case CALL_PUBLISH:
        c->rc = swamqp_basic_publish(c->conn, c->channel, tu_b(""), tu_b("q"), 0, NULL, tu_b("waiting"), &c->seq,
                                     c->timeout_ms, &c->err);
        break;
    }
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static TU_UNUSED pthread_t start_call(blocking_call *c, swamqp_connection *conn, enum call_kind kind,
                                      uint16_t channel, uint32_t timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->conn = conn;
    c->kind = kind;
    c->channel = channel;
    c->timeout_ms = timeout_ms;
    c->rc = 12345;
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, run_call, c) == 0, "pthread_create");
    return thread;
}

/* Connects a client to `peer`: open_async, accept, handshake, completion. */
static TU_UNUSED swamqp_connection *connect_to(fb_peer *peer, swamqp_connection_options *options,
                                               const char *mechanisms, uint16_t channel_max, uint32_t frame_max,
                                               uint16_t heartbeat, fb_frame *start_ok, fb_frame *tune_ok)
{
    swamqp_error err;
    swamqp_connection *conn = NULL;
    CHECK_OK(swamqp_connection_create(options, &conn, &err), &err);
    uint64_t rid = 0;
    CHECK_OK(swamqp_connection_open_async(conn, &rid, &err), &err);
    fb_accept(peer, 10000);
    fb_handshake_mech(peer, mechanisms, channel_max, frame_max, heartbeat, start_ok, tune_ok);
    ev_completion(conn, rid, SWAMQP_OK, 10000);
    CHECK(swamqp_connection_is_open(conn), "not open after the handshake");
    return conn;
}

static TU_UNUSED uint16_t open_channel(swamqp_connection *conn, fb_peer *peer)
{
    swamqp_error err;
    uint16_t ch = 0;
    uint64_t rid = 0;
    CHECK_OK(swamqp_channel_open_async(conn, &ch, &rid, &err), &err);
    fb_accept_channel(peer, ch);
    ev_completion(conn, rid, SWAMQP_OK, T_MS);
    return ch;
}

/* The scenarios of c_fake_peer_channel.c. */
void test_flow(void);
void test_confirm_bound(void);
void test_nacked_then_ok(void);
void test_nack_after_timed_out_wait(void);
void test_wait_covers_publishes_so_far(void);
void test_unconfirmed_at_loss(void);

#endif /* SWIFTAMQP_C_FAKE_PEER_H */
