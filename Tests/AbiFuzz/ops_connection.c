/*
 * The ABI fuzzer's operations on a connection as a whole: open, close, free, channels, the
 * queries (is_open, tune, event_fd, stats, status strings), URL parsing, and every call with a
 * freed or forged handle.
 */
#include "harness.h"

#include <inttypes.h>
#include <string.h>

void op_open(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    unsigned mode = af_pick(r, 4);
    if (mode < 3) {
        bool watched = si >= 0 && g.s[si].probe_connect && !g.in_callback;
        if (watched && slot_peer(&g.s[si]))
            af_watchdog_arm(slot_peer(&g.s[si]), PROBE_WATCHDOG_MS);
        af_log("swamqp_connection_open(slot %d)", si);
        uint64_t t0 = af_now_ms();
        int rc = swamqp_connection_open(h, err);
        if (watched)
            af_watchdog_disarm();
        check_rc("swamqp_connection_open", rc, err, &x);
        uint64_t elapsed = af_now_ms() - t0;
        if (!watched)
            g.budget -= (int64_t)elapsed;
        if (af_oracles && g.in_callback && elapsed > 300)
            af_violation("swamqp_connection_open waited %" PRIu64 " ms inside an event callback", elapsed);
        uint32_t ct = si >= 0 ? g.s[si].connect_timeout_ms : 0;
        if (af_oracles && rc == SWAMQP_ERR_TIMEOUT && ct >= 100 && elapsed + 30 < ct)
            af_violation("swamqp_connection_open returned SWAMQP_ERR_TIMEOUT after %" PRIu64 " ms with connect_timeout_ms %u",
                         elapsed, ct);
        if (rc == SWAMQP_OK && si >= 0) {
            g.s[si].opened = true;
            g.s[si].closed_event = false;
        }
    } else {
        uint64_t rid = 0, *prid = af_pick(r, 8) == 7 ? NULL : &rid;
        if (prid == NULL)
            mark_bad(&x, "request_id NULL");
        af_log("swamqp_connection_open_async(slot %d, request_id %s)", si, prid ? "&rid" : "NULL");
        int rc = swamqp_connection_open_async(h, prid, err);
        check_rc("swamqp_connection_open_async", rc, err, &x);
        if (rc == SWAMQP_OK && si >= 0) {
            g.s[si].opened = true;
            g.s[si].closed_event = false;
        }
    }
}

void op_close(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    if (af_pick(r, 3)) {
        waitspec w = pick_timeout(r, slot_probe_ok(si));
        af_log("swamqp_connection_close(slot %d, timeout_ms %" PRIu32 ")", si, w.ms);
        timing t = wait_begin(si, w);
        int rc = swamqp_connection_close(h, w.ms, err);
        wait_end("swamqp_connection_close", &t, rc);
        check_rc("swamqp_connection_close", rc, err, &x);
    } else {
        uint64_t rid = 0, *prid = af_pick(r, 8) == 7 ? NULL : &rid;
        if (prid == NULL)
            mark_bad(&x, "request_id NULL");
        af_log("swamqp_connection_close_async(slot %d)", si);
        int rc = swamqp_connection_close_async(h, prid, err);
        check_rc("swamqp_connection_close_async", rc, err, &x);
    }
}

void op_free(af_reader *r)
{
    unsigned sel = af_pick(r, 8);
    if (sel < 6) {
        int si = (int)(sel % NSLOTS);
        if (g.s[si].live) {
            free_slot_handle(si, r, false);
            return;
        }
    }
    /* NULL, stale or forged: nothing to free */
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    if (si >= 0)
        return; /* live: done above */
    af_log("swamqp_connection_free(%p) (not live)", (void *)h);
    int rc = swamqp_connection_free(h);
    check_rc("swamqp_connection_free", rc, NULL, NULL);
    if (af_oracles && h == NULL && rc != SWAMQP_OK)
        af_violation("swamqp_connection_free(NULL) returned %s", swamqp_status_string(rc));
    if (af_oracles && h != NULL && rc != SWAMQP_ERR_INVALID_HANDLE && !(g.in_callback && rc == SWAMQP_ERR_IN_CALLBACK))
        af_violation("swamqp_connection_free of a freed or forged handle returned %s", swamqp_status_string(rc));
}

void op_channel(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    unsigned what = af_pick(r, 4);
    uint64_t rid = 0, *prid = af_pick(r, 8) == 7 ? NULL : &rid;
    if (what == 0 || what == 1) {
        uint16_t ch = 0xbeef, *pch = af_pick(r, 8) == 7 ? NULL : &ch;
        if (pch == NULL)
            mark_bad(&x, "channel NULL");
        if (what == 0) {
            waitspec w = pick_timeout(r, slot_probe_ok(si));
            af_log("swamqp_channel_open(slot %d, timeout_ms %" PRIu32 ")", si, w.ms);
            timing t = wait_begin(si, w);
            int rc = swamqp_channel_open(h, pch, w.ms, err);
            wait_end("swamqp_channel_open", &t, rc);
            check_rc("swamqp_channel_open", rc, err, &x);
            if (rc == SWAMQP_OK)
                note_channel(si, ch);
        } else {
            if (prid == NULL)
                mark_bad(&x, "request_id NULL");
            af_log("swamqp_channel_open_async(slot %d)", si);
            int rc = swamqp_channel_open_async(h, pch, prid, err);
            check_rc("swamqp_channel_open_async", rc, err, &x);
            if (rc == SWAMQP_OK && pch)
                note_channel(si, ch);
        }
    } else {
        uint16_t ch = pick_channel(r, si);
        if (what == 2) {
            waitspec w = pick_timeout(r, slot_probe_ok(si));
            af_log("swamqp_channel_close(slot %d, channel %u, timeout_ms %" PRIu32 ")", si, ch, w.ms);
            timing t = wait_begin(si, w);
            int rc = swamqp_channel_close(h, ch, w.ms, err);
            wait_end("swamqp_channel_close", &t, rc);
            check_rc("swamqp_channel_close", rc, err, &x);
        } else {
            if (prid == NULL)
                mark_bad(&x, "request_id NULL");
            af_log("swamqp_channel_close_async(slot %d, channel %u)", si, ch);
            int rc = swamqp_channel_close_async(h, ch, prid, err);
            check_rc("swamqp_channel_close_async", rc, err, &x);
        }
    }
}


void op_query(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    unsigned what = af_pick(r, 5);
    if (what == 0) {
        bool open = swamqp_connection_is_open(h);
        if (af_oracles && si < 0 && open)
            af_violation("swamqp_connection_is_open is true for a freed or forged handle");
    } else if (what == 1) {
        uint16_t cm, hb;
        uint32_t fm;
        unsigned nulls = af_pick(r, 16);
        nulls = nulls < 8 ? 0 : nulls & 7; /* which out pointers are NULL */
        if (nulls)
            mark_bad(&x, "a NULL out pointer");
        int rc = swamqp_connection_tune(h, nulls & 1 ? NULL : &cm, nulls & 2 ? NULL : &fm, nulls & 4 ? NULL : &hb);
        check_rc("swamqp_connection_tune", rc, NULL, &x);
    } else if (what == 2) {
        int fd = swamqp_connection_event_fd(h);
        if (af_oracles && si < 0 && fd != -1)
            af_violation("swamqp_connection_event_fd of a freed or forged handle is %d", fd);
        if (af_oracles && si >= 0 && fd < 0)
            af_violation("swamqp_connection_event_fd of a live handle is %d", fd);
    } else if (what == 3) {
        swamqp_stats st;
        bool null = af_pick(r, 4) == 3;
        if (null)
            mark_bad(&x, "stats NULL");
        int rc = swamqp_connection_stats(h, null ? NULL : &st);
        check_rc("swamqp_connection_stats", rc, NULL, &x);
    } else {
        int status = af_pick(r, 2) ? -(int)af_u16(r) : (int)af_u32(r);
        const char *s = swamqp_status_string(status);
        if (s == NULL)
            af_violation("swamqp_status_string(%d) is NULL", status);
        touch(s, strlen(s));
        const char *v = swamqp_version();
        if (v == NULL || swamqp_version_number() != SWAMQP_VERSION_NUMBER)
            af_violation("swamqp_version/swamqp_version_number disagree with the header");
    }
}

void op_url(af_reader *r)
{
    size_t n = af_u8(r) % 96;
    char *url = af_alloc(n + 1);
    static const char *prefixes[] = {"amqp://", "amqps://", "amqp://u:p@[::1]:1/v?", "amqp://127.0.0.1:1,amqp://", "", "amqp://%"};
    unsigned p = af_pick(r, 8);
    size_t at = 0;
    if (p < 6) {
        size_t pl = strlen(prefixes[p]);
        if (pl > n)
            pl = n;
        memcpy(url, prefixes[p], pl);
        at = pl;
    }
    for (; at < n; at++) {
        uint8_t c = af_u8(r);
        url[at] = c ? (char)c : 'a';
    }
    url[n] = 0;
    swamqp_connection_options *o = af_alloc(sizeof *o);
    swamqp_connection_options_init(o);
    swamqp_error es, *err = pick_error(r, &es);
    unsigned sel = af_pick(r, 16);
    expect x = {0};
    bool list = sel & 1;
    const char *u = sel == 14 ? NULL : url;
    swamqp_connection_options *po = sel == 15 ? NULL : o;
    if (u == NULL || po == NULL)
        mark_bad(&x, "NULL url or options");
    af_log("swamqp_parse_url%s(\"%s\")", list ? "_list" : "", u ? u : "(NULL)");
    int rc = list ? swamqp_parse_url_list(u, po, err) : swamqp_parse_url(u, po, err);
    check_rc(list ? "swamqp_parse_url_list" : "swamqp_parse_url", rc, err, &x);
    if (rc != SWAMQP_OK || po == NULL)
        return;
    const char *strings[] = {o->host, o->vhost, o->user, o->password, o->tls_ca_file, o->tls_cert_file,
                             o->tls_key_file, o->tls_server_name};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (strings[i])
            touch(strings[i], strlen(strings[i]) + 1);
    if (o->endpoint_count && o->endpoints == NULL && af_oracles)
        af_violation("swamqp_parse_url_list: %zu endpoints at NULL", o->endpoint_count);
    for (size_t i = 0; i < o->endpoint_count && i < 1000 && o->endpoints; i++)
        if (o->endpoints[i].host)
            touch(o->endpoints[i].host, strlen(o->endpoints[i].host) + 1);
    if (af_pick(r, 2)) {
        /* Create (never open) a connection from what was parsed, with loopback only. */
        o->host = "127.0.0.1";
        o->port = 1;
        o->endpoints = NULL;
        o->endpoint_count = 0;
        o->tls_ca_file = o->tls_cert_file = o->tls_key_file = NULL;
        o->socket_fd = -1;
        swamqp_connection *h = NULL;
        rc = swamqp_connection_create(o, &h, err);
        check_rc("swamqp_connection_create (from a URL)", rc, err, NULL);
        if (rc == SWAMQP_OK) {
            rc = swamqp_connection_free(h);
            check_rc("swamqp_connection_free", rc, NULL, NULL);
        }
    }
}

void op_misc(af_reader *r)
{
    unsigned what = af_pick(r, 4);
    if (what == 0) {
        swamqp_connection_options_init(NULL);
    } else if (what == 1) {
        swamqp_connection *h = (swamqp_connection *)(uintptr_t)0x1;
        swamqp_error es, *err = pick_error(r, &es);
        int rc = swamqp_connection_create(NULL, af_bool(r) ? NULL : &h, err);
        check_rc("swamqp_connection_create(NULL options)", rc, err, &(expect){true, false, "options NULL"});
    } else {
        /* every call once with a freed or forged handle */
        expect x = {0};
        int si;
        swamqp_connection *h = pick_handle(r, &si, &x);
        if (si >= 0)
            return;
        x.bad_handle = true;
        swamqp_error err;
        uint64_t rid;
        uint16_t ch;
        swamqp_bytes e = {NULL, 0};
        af_log("every call with handle %p", (void *)h);
#define H(call) check_rc(#call, (call), &err, &x)
        H(swamqp_connection_open(h, &err));
        H(swamqp_connection_open_async(h, &rid, &err));
        H(swamqp_connection_close(h, 0, &err));
        H(swamqp_connection_close_async(h, &rid, &err));
        H(swamqp_channel_open(h, &ch, 0, &err));
        H(swamqp_channel_close(h, 1, 0, &err));
        H(swamqp_exchange_declare(h, 1, e, e, 0, NULL, 0, &err));
        H(swamqp_queue_declare_async(h, 1, e, 0, NULL, &rid, &err));
        H(swamqp_basic_publish(h, 1, e, e, 0, NULL, e, NULL, 0, &err));
        H(swamqp_basic_ack(h, 1, 1, 0, &err));
        H(swamqp_confirm_select(h, 1, 0, &err));
        H(swamqp_wait_for_confirms(h, 1, 0, &err));
        H(swamqp_connection_update_secret(h, e, e, 0, &err));
        H(swamqp_send_method(h, 1, 60, 10, e, &err));
#undef H
        size_t n;
        swamqp_event ev[1];
        check_rc("swamqp_next_events", swamqp_next_events(h, ev, 1, &n, 0), NULL, &x);
        check_rc("swamqp_dispatch_events", swamqp_dispatch_events(h, 0, &n), NULL, &x);
        check_rc("swamqp_events_release", swamqp_events_release(h), NULL, &x);
        check_rc("swamqp_set_event_callback", swamqp_set_event_callback(h, on_event, NULL), NULL, &x);
        check_rc("swamqp_channel_set_raw", swamqp_channel_set_raw(h, 1, true), NULL, &x);
        swamqp_stats st;
        check_rc("swamqp_connection_stats", swamqp_connection_stats(h, &st), NULL, &x);
    }
}
