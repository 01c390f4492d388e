/*
 * The ABI fuzzer's operations on events and on the fake broker: the event callback (which runs
 * operations of its own), swamqp_next_events, swamqp_dispatch_events, setting the callback and
 * releasing events; injecting what a broker may send unprompted, cutting the peer.
 */
#include "harness.h"

#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

void on_event(swamqp_connection *c, const swamqp_event *e, void *user_data)
{
    int si = slot_of(c);
    (void)user_data;
    af_log("  callback: event type %d status %s channel %u", e->type, swamqp_status_string(e->status), e->channel);
    touch_event(si, e);
    if (g.in_callback >= 2)
        return;
    g.in_callback++;
    unsigned n = af_pick(&g.cb, 4);
    for (unsigned i = 0; i < n && g.cb_ops < MAX_CB_OPS && !af_done(&g.cb); i++) {
        g.cb_ops++;
        run_op(&g.cb);
    }
    g.in_callback--;
}

static bool event_fd_ready(swamqp_connection *h)
{
    int fd = swamqp_connection_event_fd(h);
    if (fd < 0)
        return false;
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
}

/* A huge wait for events ends by itself: events are queued, or the watchdog will cut a live peer. */
static bool events_probe_ok(int si)
{
    if (si < 0)
        return true; /* invalid handle: answered at once */
    slot *s = &g.s[si];
    if (event_fd_ready(s->conn) || s->closed_event)
        return true;
    return s->opened && slot_peer(s) && !af_peer_dead(slot_peer(s)) && slot_probe_ok(si);
}

static const size_t hostile_capacities[] = {SIZE_MAX, SIZE_MAX >> 1, (SIZE_MAX >> 1) + 1, 1ull << 62, 1ull << 32,
                                           SIZE_MAX - 1, 1ull << 63, 0, 16, 4097, 256, (SIZE_MAX >> 1) - 1};

void op_next_events(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    /* Mostly all; often one or two (a partial drain leaves events queued); sometimes hostile. */
    unsigned csel = af_pick(r, 16);
    size_t cap = csel < 8 ? MAX_EVENTS : csel < 10 ? 1 : csel == 10 ? 2
                 : hostile_capacities[af_pick(r, sizeof hostile_capacities / sizeof hostile_capacities[0])];
    if ((avoid & AVOID_CAPACITY) && cap > MAX_EVENTS)
        cap = MAX_EVENTS;
    swamqp_event *events = malloc(sizeof *events * MAX_EVENTS);
    if (events == NULL)
        abort();
    unsigned nsel = af_pick(r, 16);
    swamqp_event *pev = nsel == 15 ? NULL : events;
    size_t count = 0xa5a5, *pcount = nsel == 14 ? NULL : &count;
    if (pcount == NULL)
        mark_bad(&x, "count NULL");
    if (pev == NULL && cap > 0)
        mark_bad(&x, "events NULL with a capacity");
    unsigned sel = af_pick(r, 2);
    waitspec w = pick_timeout(r, events_probe_ok(si));
    af_log("swamqp_next_events(slot %d, %s, capacity %zu, %s, timeout_ms %" PRIu32 ")", si, pev ? "events" : "NULL", cap,
           pcount ? "&count" : "NULL", w.ms);
    timing t = wait_begin(si, w);
    int rc = swamqp_next_events(h, pev, cap, pcount, w.ms);
    wait_end("swamqp_next_events", &t, rc);
    check_rc("swamqp_next_events", rc, NULL, &x);
    if (rc == SWAMQP_OK && pcount) {
        if (af_oracles && (count > cap || count > MAX_EVENTS))
            af_violation("swamqp_next_events wrote %zu events with capacity %zu", count, cap);
        af_log("  %zu events", count);
        for (size_t i = 0; i < count && i < MAX_EVENTS; i++)
            touch_event(si, &events[i]);
        if (sel && si >= 0 && count) {
            af_log("swamqp_events_release(slot %d)", si);
            rc = swamqp_events_release(h);
            check_rc("swamqp_events_release", rc, NULL, NULL);
        }
    } else if (rc != SWAMQP_OK && pcount && af_oracles && count != 0 && count != 0xa5a5) {
        af_violation("swamqp_next_events failed (%s) with count %zu", swamqp_status_string(rc), count);
    }
    free(events);
}

void op_dispatch(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    if (si >= 0 && !g.s[si].callback_set && af_pick(r, 4) != 3) {
        int rc = swamqp_set_event_callback(h, on_event, (void *)(intptr_t)si);
        check_rc("swamqp_set_event_callback", rc, NULL, NULL);
        if (rc == SWAMQP_OK)
            g.s[si].callback_set = true;
    }
    bool had_callback = si >= 0 && g.s[si].callback_set;
    af_reader saved = g.cb;
    g.cb = af_sub(r, af_u8(r) % 128);
    size_t n = 0xa5a5, *pn = af_pick(r, 4) == 3 ? NULL : &n;
    waitspec w = pick_timeout(r, events_probe_ok(si));
    af_log("swamqp_dispatch_events(slot %d, timeout_ms %" PRIu32 ")", si, w.ms);
    timing t = wait_begin(si, w);
    int rc = swamqp_dispatch_events(h, w.ms, pn);
    wait_end("swamqp_dispatch_events", &t, rc);
    check_rc("swamqp_dispatch_events", rc, NULL, &x);
    if (af_oracles && si >= 0 && !had_callback && rc == SWAMQP_OK && !g.in_callback)
        af_violation("swamqp_dispatch_events without a callback returned SWAMQP_OK");
    g.cb = saved;
}

void op_callback(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    unsigned sel = af_pick(r, 4);
    if (sel < 2) {
        af_log("swamqp_set_event_callback(slot %d, %s)", si, sel ? "NULL" : "on_event");
        int rc = swamqp_set_event_callback(h, sel ? NULL : on_event, (void *)(intptr_t)si);
        check_rc("swamqp_set_event_callback", rc, NULL, &x);
        if (rc == SWAMQP_OK && si >= 0)
            g.s[si].callback_set = !sel;
    } else {
        af_log("swamqp_events_release(slot %d)", si);
        int rc = swamqp_events_release(h);
        check_rc("swamqp_events_release", rc, NULL, &x);
    }
}

void op_inject(af_reader *r)
{
    int si = (int)af_pick(r, NSLOTS);
    slot *s = &g.s[si];
    uint16_t hint = s->nchans ? s->chans[s->nchans - 1] : 1;
    af_peer *peer = slot_peer(s);
    if (peer == NULL) {
        af_reader skip = af_sub(r, 8);
        (void)skip;
        return;
    }
    af_log("peer %d: inject", si);
    af_peer_inject(peer, r, hint);
    /* Give the I/O thread a moment to read it (out of the budget). */
    if (g.budget > 0) {
        usleep(1000);
        g.budget -= 1;
    }
}

void op_peer(af_reader *r)
{
    int si = (int)af_pick(r, NSLOTS);
    slot *s = &g.s[si];
    unsigned what = af_pick(r, 4);
    if (what == 0) {
        af_log("peer %d: cut", si);
        af_peer_cut(slot_peer(s));
    } else {
        af_log("peer %d: force answers %d", si, what == 1);
        af_peer_force_answers(slot_peer(s), what == 1);
    }
}
