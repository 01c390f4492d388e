/*
 * swamqp_soak, a publisher thread: publishes in confirm mode (at most WINDOW unconfirmed, at
 * opt_rate messages per second), keeps its unconfirmed publishes in a ring in sequence order, marks
 * acked ids confirmed, and publishes again the ids nacked or whose publish call failed, until every
 * id is confirmed.
 */
#include "soak.h"

static void retry_push(publisher *p, uint64_t id)
{
    if (p->nretry == p->cap_retry) {
        p->cap_retry = p->cap_retry ? p->cap_retry * 2 : 4096;
        p->retry = realloc(p->retry, p->cap_retry * sizeof *p->retry);
        if (p->retry == NULL)
            die("out of memory");
    }
    p->retry[p->nretry++] = id;
}

static pending *ring_at(publisher *p, size_t i)
{
    return &p->ring[(p->head + i) % RING];
}

static void resolve(publisher *p, pending *e, bool ack)
{
    if (e->done)
        return;
    e->done = true;
    if (ack) {
        if (e->id < MAX_IDS)
            confirmed[p->index][e->id] = 1;
        count(&confirms_total, 1);
    } else {
        retry_push(p, e->id);
        count(&republished, 1);
    }
}

static void confirm(publisher *p, uint64_t tag, bool multiple, bool ack)
{
    if (multiple) {
        for (size_t i = 0; i < p->n && ring_at(p, i)->seq <= tag; i++)
            resolve(p, ring_at(p, i), ack);
    } else {
        size_t lo = 0, hi = p->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (ring_at(p, mid)->seq < tag)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < p->n && ring_at(p, lo)->seq == tag)
            resolve(p, ring_at(p, lo), ack);
    }
    while (p->n > 0 && ring_at(p, 0)->done) {
        p->head = (p->head + 1) % RING;
        p->n--;
    }
}

static void publisher_events(publisher *p, uint32_t timeout_ms)
{
    swamqp_event ev[256];
    size_t n = 0;
    int rc = swamqp_next_events(p->conn, ev, 256, &n, timeout_ms);
    if (rc != SWAMQP_OK) {
        if (stop_all)
            return;
        die("publisher %d: next_events: %s", p->index, swamqp_status_string(rc));
    }
    for (size_t i = 0; i < n; i++) {
        const swamqp_event *e = &ev[i];
        if (e->type == SWAMQP_EVENT_CONFIRM_ACK) {
            confirm(p, e->delivery_tag, e->flags & SWAMQP_EVENT_FLAG_MULTIPLE, true);
        } else if (e->type == SWAMQP_EVENT_CONFIRM_NACK) {
            count(e->status != SWAMQP_OK ? &loss_nacks : &broker_nacks, 1);
            confirm(p, e->delivery_tag, e->flags & SWAMQP_EVENT_FLAG_MULTIPLE, false);
        } else {
            char who[32];
            snprintf(who, sizeof who, "publisher %d", p->index);
            note_event(&p->clock, e, who);
        }
    }
}

void *publisher_main(void *arg)
{
    publisher *p = arg;
    char *body = malloc(4096);
    if (body == NULL)
        die("out of memory");
    int64_t started = now_ms();
    uint64_t sent = 0;
    int64_t drain_deadline = 0;
    for (;;) {
        if (stop_new && drain_deadline == 0)
            drain_deadline = now_ms() + 180000;
        if (stop_new && p->n == 0 && p->nretry == 0)
            break;
        if (drain_deadline && now_ms() > drain_deadline)
            die("publisher %d: %zu publishes still unconfirmed and %zu to republish 180 s after the end", p->index, p->n,
                p->nretry);
        publisher_events(p, 0);
        bool rate_ok = opt_rate == 0 || (double)sent < (double)opt_rate * (double)(now_ms() - started + 1) / 1000.0;
        bool have = p->nretry > 0 || (!stop_new && next_id[p->index] < MAX_IDS);
        if (p->n >= WINDOW || !have || !rate_ok) {
            publisher_events(p, p->n >= WINDOW || !have ? 50 : 2);
            continue;
        }
        uint64_t id;
        bool is_retry = p->nretry > 0;
        id = is_retry ? p->retry[p->nretry - 1] : next_id[p->index];
        size_t len = 40 + (size_t)(rand_r(&p->seed) % 3960);
        int k = snprintf(body, 4096, "p=%d;id=%" PRIu64 ";", p->index, id);
        memset(body + k, 'a' + (int)(id % 26), len - (size_t)k);
        swamqp_properties props;
        memset(&props, 0, sizeof props);
        props.flags = SWAMQP_PROP_DELIVERY_MODE;
        props.delivery_mode = 2;
        uint64_t seq = 0;
        swamqp_error err;
        int rc = swamqp_basic_publish(p->conn, p->ch, tu_b(""), tu_b(queue_name), 0, &props, tu_bn(body, len), &seq,
                                      1000, &err);
        if (rc != SWAMQP_OK) {
            count(&publish_calls_failed, 1);
            if (rc != SWAMQP_ERR_TIMEOUT && rc != SWAMQP_ERR_RECOVERING && rc != SWAMQP_ERR_WOULD_BLOCK &&
                rc != SWAMQP_ERR_CONNECTION_LOST && rc != SWAMQP_ERR_IO && rc != SWAMQP_ERR_HEARTBEAT_TIMEOUT &&
                rc != SWAMQP_ERR_CONNECTION_CLOSED)
                die("publisher %d: publish: %s: %s", p->index, swamqp_status_string(rc), err.message);
            if (rc == SWAMQP_ERR_CONNECTION_CLOSED && !swamqp_connection_is_open(p->conn)) {
                /* during a recovery some paths may report the close; wait for the outcome */
                publisher_events(p, 100);
            }
            continue;
        }
        if (p->n > 0 && seq <= ring_at(p, p->n - 1)->seq)
            die("publisher %d: sequence %" PRIu64 " after %" PRIu64 " (not monotonic)", p->index, seq,
                ring_at(p, p->n - 1)->seq);
        if (p->n == RING)
            die("publisher %d: ring full", p->index);
        pending *e = ring_at(p, p->n++);
        e->seq = seq;
        e->id = id;
        e->done = false;
        if (is_retry)
            p->nretry--;
        else
            next_id[p->index]++;
        sent++;
        count(&publishes_total, 1);
    }
    free(body);
    p->finished = true;
    return NULL;
}
