/*
 * swamqp_soak: what the publisher and consumer threads and main share: the clock, the counters,
 * dying with a message, and the bookkeeping of recovery events (time to recover, fatal events).
 */
#include "soak.h"

int64_t now_ms(void)
{
    return tu_now_ms();
}

static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;

static void add_recovery(int64_t ms)
{
    pthread_mutex_lock(&stats_mu);
    if (nrecoveries < MAX_RECOVERIES)
        recovery_ms[nrecoveries++] = ms;
    pthread_mutex_unlock(&stats_mu);
}

void count(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "soak: FAILED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    _exit(1);
}

void note_event(recovery_clock *rc, const swamqp_event *e, const char *who)
{
    switch (e->type) {
    case SWAMQP_EVENT_RECOVERY_STARTED:
        rc->started_at = now_ms();
        count(&recoveries_started, 1);
        if (opt_verbose)
            fprintf(stderr, "soak: %s: RECOVERY_STARTED %s: %s\n", who, swamqp_status_string(e->status),
                    e->error ? e->error->message : "");
        break;
    case SWAMQP_EVENT_RECOVERED:
        if (rc->started_at)
            add_recovery(now_ms() - rc->started_at);
        if (opt_verbose)
            fprintf(stderr, "soak: %s: RECOVERED after %lld ms\n", who,
                    (long long)(rc->started_at ? now_ms() - rc->started_at : -1));
        rc->started_at = 0;
        if (e->message_count)
            count(&recoveries_failed_entities, e->message_count);
        break;
    case SWAMQP_EVENT_RECOVERY_ENTITY_FAILED:
        fprintf(stderr, "soak: %s: entity not restored: %.*s: %s\n", who, (int)e->name.len, (const char *)e->name.bytes,
                e->error ? e->error->message : "");
        break;
    case SWAMQP_EVENT_RECOVERY_FAILED:
    case SWAMQP_EVENT_CONNECTION_CLOSED:
        if (!stop_all)
            die("%s: %s: %s", who, e->type == SWAMQP_EVENT_RECOVERY_FAILED ? "RECOVERY_FAILED" : "CONNECTION_CLOSED",
                e->error ? e->error->message : "(no error)");
        break;
    case SWAMQP_EVENT_CHANNEL_CLOSED:
        if (!stop_all)
            die("%s: channel %u closed: %s", who, e->channel, e->error ? e->error->message : "(no error)");
        break;
    case SWAMQP_EVENT_CONSUMER_CANCELLED:
        die("%s: consumer cancelled by the broker", who);
    case SWAMQP_EVENT_LOG:
        if (opt_verbose && e->log_level <= SWAMQP_LOG_INFO)
            fprintf(stderr, "soak: %s: log: %.*s\n", who, (int)e->name.len, (const char *)e->name.bytes);
        break;
    default:
        break;
    }
}
