/*
 * The ABI fuzzer's watchdog for calls with huge timeouts: one thread that cuts the armed peer's
 * socket when a call overstays (see abi_fuzz.h).
 */
#include "abi_fuzz.h"

#include <stdlib.h>
#include <time.h>

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond = PTHREAD_COND_INITIALIZER;
static af_peer *wd_peer;
static uint64_t wd_deadline;
static bool wd_started;

static void *watchdog_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wd_lock);
    for (;;) {
        if (wd_peer == NULL) {
            pthread_cond_wait(&wd_cond, &wd_lock);
            continue;
        }
        uint64_t now = af_now_ms();
        if (now >= wd_deadline) {
            af_peer_cut(wd_peer);
            wd_peer = NULL;
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t wait = wd_deadline - now;
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wd_cond, &wd_lock, &ts);
    }
    return NULL;
}

void af_watchdog_arm(af_peer *peer, uint64_t after_ms)
{
    pthread_mutex_lock(&wd_lock);
    if (!wd_started) {
        pthread_t t;
        if (pthread_create(&t, NULL, watchdog_main, NULL) != 0)
            abort();
        pthread_detach(t);
        wd_started = true;
    }
    wd_peer = peer;
    wd_deadline = af_now_ms() + after_ms;
    pthread_cond_broadcast(&wd_cond);
    pthread_mutex_unlock(&wd_lock);
}

void af_watchdog_disarm(void)
{
    pthread_mutex_lock(&wd_lock);
    wd_peer = NULL;
    pthread_cond_broadcast(&wd_cond);
    pthread_mutex_unlock(&wd_lock);
}
