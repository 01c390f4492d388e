/*
 * swamqp_soak, a consumer thread: counts each delivery per publisher and id (duplicates included)
 * and acks it; an ack refused as stale or during a recovery is counted, the broker redelivers.
 */
#include "soak.h"

void *consumer_main(void *arg)
{
    consumer *c = arg;
    swamqp_event ev[256];
    char who[32];
    snprintf(who, sizeof who, "consumer %d", c->index);
    while (!consumers_stop) {
        size_t n = 0;
        int rc = swamqp_next_events(c->conn, ev, 256, &n, 100);
        if (rc != SWAMQP_OK) {
            if (stop_all)
                break;
            die("%s: next_events: %s", who, swamqp_status_string(rc));
        }
        for (size_t i = 0; i < n; i++) {
            const swamqp_event *e = &ev[i];
            if (e->type != SWAMQP_EVENT_DELIVERY) {
                note_event(&c->clock, e, who);
                continue;
            }
            const swamqp_message *m = e->message;
            char head[64];
            size_t hl = m->body.len < sizeof head - 1 ? m->body.len : sizeof head - 1;
            memcpy(head, m->body.bytes, hl);
            head[hl] = '\0';
            int pi = -1;
            uint64_t id = 0;
            if (sscanf(head, "p=%d;id=%" SCNu64 ";", &pi, &id) != 2 || pi < 0 || pi >= PUBLISHERS || id >= MAX_IDS)
                die("%s: unexpected body \"%s\"", who, head);
            uint8_t *s = &seen[pi][id];
            if (__atomic_load_n(s, __ATOMIC_RELAXED) < 255)
                __atomic_fetch_add(s, 1, __ATOMIC_RELAXED);
            count(&deliveries_total, 1);
            swamqp_error err;
            int arc = swamqp_basic_ack(c->conn, c->ch, m->delivery_tag, 0, &err);
            if (arc == SWAMQP_ERR_STALE_DELIVERY_TAG || arc == SWAMQP_ERR_RECOVERING)
                count(&stale_acks, 1);
            else if (arc != SWAMQP_OK && !stop_all)
                die("%s: ack: %s: %s", who, swamqp_status_string(arc), err.message);
        }
    }
    return NULL;
}
