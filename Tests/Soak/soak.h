/*
 * What the files of swamqp_soak share; they build one program (main is in soak.c, which also
 * defines the options and shared state declared here): the limits, the run's state, the publisher
 * and consumer threads' records, and the functions one file calls in another.
 */
#ifndef SWIFTAMQP_SOAK_H
#define SWIFTAMQP_SOAK_H

#include "broker_ctl.h"
#include "faultproxy.h"

#include <pthread.h>

#define MAX_PROXIES 3
#define PUBLISHERS 2
#define MAX_CONSUMERS 4
#define WINDOW 1000
#define RING 4096
#define MAX_IDS (1u << 23) /* per publisher */
#define MAX_RECOVERIES 100000

/* ---- configuration and shared state (defined in soak.c) ---- */
extern double opt_minutes, opt_max_minutes;
extern unsigned opt_disconnects, opt_rate, opt_consumers;
extern bool opt_cluster, opt_ctl, opt_verbose;
extern unsigned opt_seed;

extern swamqp_connection_options base_options;
extern fp_proxy *proxies[MAX_PROXIES];
extern int nproxies;
extern swamqp_endpoint endpoints[MAX_PROXIES];
extern char queue_name[200];

extern volatile int stop_new;   /* publishers: no new ids; finish what is pending */
extern volatile int stop_all;   /* everyone: end */
extern volatile int consumers_stop;

extern uint8_t *confirmed[PUBLISHERS]; /* per id: confirmed by the broker */
extern uint8_t *seen[PUBLISHERS];      /* per id: deliveries (saturating at 255) */
extern uint64_t next_id[PUBLISHERS];   /* ids 1..next_id-1 were handed out */

extern int64_t *recovery_ms;
extern size_t nrecoveries;
extern uint64_t recoveries_started, recoveries_failed_entities, stale_acks, deliveries_total, publish_calls_failed,
    loss_nacks, broker_nacks, republished, confirms_total, publishes_total;
extern uint64_t disconnects, cut_all_count, cut_after_count, stall_count, ctl_count;

extern char conn_names[PUBLISHERS + MAX_CONSUMERS][128];
extern int nconns;

/* ---- what the threads share (soak_util.c) ---- */
int64_t now_ms(void);
void count(uint64_t *counter, uint64_t n);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Recovery bookkeeping shared by publishers and consumers. */
typedef struct recovery_clock {
    int64_t started_at;
} recovery_clock;

void note_event(recovery_clock *rc, const swamqp_event *e, const char *who);

/* ---- publishers (soak_publisher.c) ---- */
typedef struct pending {
    uint64_t seq, id;
    bool done;
} pending;

typedef struct publisher {
    int index;
    pthread_t thread;
    swamqp_connection *conn;
    uint16_t ch;
    pending ring[RING];
    size_t head, n; /* ring entries head..head+n-1, seq increasing */
    uint64_t *retry;
    size_t nretry, cap_retry;
    unsigned seed;
    recovery_clock clock;
    bool finished;
} publisher;

void *publisher_main(void *arg);

/* ---- consumers (soak_consumer.c) ---- */
typedef struct consumer {
    int index;
    pthread_t thread;
    swamqp_connection *conn;
    uint16_t ch;
    recovery_clock clock;
} consumer;

void *consumer_main(void *arg);

/* ---- disrupter (soak_disrupter.c) ---- */
void *disrupter_main(void *arg);

#endif /* SWIFTAMQP_SOAK_H */
