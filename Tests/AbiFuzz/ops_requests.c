/*
 * The ABI fuzzer's operations that make requests on a channel: every request of the header in its
 * blocking and _async form, publish, ack/nack/reject, raw methods and content, freeing messages,
 * and requests made from background threads.
 */
#include "harness.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void op_rpc(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    unsigned which = af_pick(r, RPC_COUNT);
    bool async = af_pick(r, 3) == 0 && which != RPC_UPDATE_SECRET; /* update-secret has no _async form */
    uint16_t ch = pick_channel(r, si);
    uint32_t flags = pick_flags(r);
    uint64_t rid = 0, *prid = NULL;
    waitspec w = {0, false};
    if (async) {
        prid = af_pick(r, 8) == 7 ? NULL : &rid;
        if (prid == NULL)
            mark_bad(&x, "request_id NULL");
    } else {
        w = pick_timeout(r, slot_probe_ok(si));
    }
    /* The first string: every request but these takes one. */
    bool takes_string = which != RPC_QOS && which != RPC_RECOVER && which != RPC_TX_SELECT && which != RPC_TX_COMMIT &&
                        which != RPC_TX_ROLLBACK && which != RPC_CONFIRM_SELECT && which != RPC_WAIT_CONFIRMS;
    expect unused = {0};
    swamqp_bytes a = gen_bytes(r, R_SHORT, takes_string ? &x : &unused);
    swamqp_bytes b = {0}, c = {0};
    const swamqp_table *args = NULL;
    int rc = 0;
    const char *fn = "?";
    timing t = wait_begin(si, w);
#define BLOCKING_OR_ASYNC(name, blocking_call, async_call)                                                  \
    do {                                                                                                   \
        fn = async ? "swamqp_" name "_async" : "swamqp_" name;                                              \
        af_log("%s(slot %d, channel %u, flags 0x%x, %s, %s, %s, timeout_ms %" PRIu32 ")", fn, si, ch, flags, \
               bytes_desc(a), bytes_desc(b), bytes_desc(c), w.ms);                                          \
        rc = async ? (async_call) : (blocking_call);                                                       \
    } while (0)
    switch (which) {
    case RPC_EXCHANGE_DECLARE:
        b = gen_bytes(r, R_SHORT, &x);
        args = gen_table_ptr(r, &x);
        BLOCKING_OR_ASYNC("exchange_declare", swamqp_exchange_declare(h, ch, a, b, flags, args, w.ms, err),
                          swamqp_exchange_declare_async(h, ch, a, b, flags, args, prid, err));
        break;
    case RPC_QUEUE_DECLARE: {
        args = gen_table_ptr(r, &x);
        swamqp_queue_declare_ok ok, *pok = af_pick(r, 4) == 3 ? NULL : &ok;
        memset(&ok, 0xa5, sizeof ok);
        BLOCKING_OR_ASYNC("queue_declare", swamqp_queue_declare(h, ch, a, flags, args, pok, w.ms, err),
                          swamqp_queue_declare_async(h, ch, a, flags, args, prid, err));
        if (!async && rc == SWAMQP_OK && pok && af_oracles &&
            (ok.name_len > 255 || memchr(ok.name, 0, sizeof ok.name) == NULL || strlen(ok.name) != ok.name_len))
            af_violation("swamqp_queue_declare: result name_len %zu does not match its NUL-terminated name", ok.name_len);
        break;
    }
    case RPC_QUEUE_BIND:
        b = gen_bytes(r, R_SHORT, &x);
        c = gen_bytes(r, R_SHORT, &x);
        args = gen_table_ptr(r, &x);
        BLOCKING_OR_ASYNC("queue_bind", swamqp_queue_bind(h, ch, a, b, c, flags, args, w.ms, err),
                          swamqp_queue_bind_async(h, ch, a, b, c, flags, args, prid, err));
        break;
    case RPC_EXCHANGE_DELETE:
        BLOCKING_OR_ASYNC("exchange_delete", swamqp_exchange_delete(h, ch, a, flags, w.ms, err),
                          swamqp_exchange_delete_async(h, ch, a, flags, prid, err));
        break;
    case RPC_EXCHANGE_BIND:
    case RPC_EXCHANGE_UNBIND:
        b = gen_bytes(r, R_SHORT, &x);
        c = gen_bytes(r, R_SHORT, &x);
        args = gen_table_ptr(r, &x);
        if (which == RPC_EXCHANGE_BIND)
            BLOCKING_OR_ASYNC("exchange_bind", swamqp_exchange_bind(h, ch, a, b, c, flags, args, w.ms, err),
                              swamqp_exchange_bind_async(h, ch, a, b, c, flags, args, prid, err));
        else
            BLOCKING_OR_ASYNC("exchange_unbind", swamqp_exchange_unbind(h, ch, a, b, c, flags, args, w.ms, err),
                              swamqp_exchange_unbind_async(h, ch, a, b, c, flags, args, prid, err));
        break;
    case RPC_QUEUE_UNBIND:
        b = gen_bytes(r, R_SHORT, &x);
        c = gen_bytes(r, R_SHORT, &x);
        args = gen_table_ptr(r, &x);
        BLOCKING_OR_ASYNC("queue_unbind", swamqp_queue_unbind(h, ch, a, b, c, args, w.ms, err),
                          swamqp_queue_unbind_async(h, ch, a, b, c, args, prid, err));
        break;
    case RPC_QUEUE_PURGE:
    case RPC_QUEUE_DELETE: {
        uint32_t count = 0xa5a5a5a5, *pcount = af_bool(r) ? &count : NULL;
        if (which == RPC_QUEUE_PURGE)
            BLOCKING_OR_ASYNC("queue_purge", swamqp_queue_purge(h, ch, a, flags, pcount, w.ms, err),
                              swamqp_queue_purge_async(h, ch, a, flags, prid, err));
        else
            BLOCKING_OR_ASYNC("queue_delete", swamqp_queue_delete(h, ch, a, flags, pcount, w.ms, err),
                              swamqp_queue_delete_async(h, ch, a, flags, prid, err));
        break;
    }
    case RPC_QOS: {
        uint32_t size = af_pick(r, 4) ? 0 : af_u32(r);
        uint16_t count = af_u16(r);
        BLOCKING_OR_ASYNC("basic_qos", swamqp_basic_qos(h, ch, size, count, flags, w.ms, err),
                          swamqp_basic_qos_async(h, ch, size, count, flags, prid, err));
        break;
    }
    case RPC_CONSUME: {
        b = gen_bytes(r, R_SHORT, &x);
        args = gen_table_ptr(r, &x);
        swamqp_name tag, *ptag = af_pick(r, 4) == 3 ? NULL : &tag;
        memset(&tag, 0xa5, sizeof tag);
        BLOCKING_OR_ASYNC("basic_consume", swamqp_basic_consume(h, ch, a, b, flags, args, ptag, w.ms, err),
                          swamqp_basic_consume_async(h, ch, a, b, flags, args, prid, err));
        if (!async && rc == SWAMQP_OK && ptag && af_oracles &&
            (tag.len > 255 || memchr(tag.name, 0, sizeof tag.name) == NULL || strlen(tag.name) != tag.len))
            af_violation("swamqp_basic_consume: tag len %zu does not match its NUL-terminated name", tag.len);
        break;
    }
    case RPC_CANCEL: {
        if (si >= 0 && slot_peer(&g.s[si]) && af_pick(r, 2)) {
            static char tagbuf[256];
            af_peer_last_consumer_tag(slot_peer(&g.s[si]), tagbuf);
            a.bytes = tagbuf;
            a.len = strlen(tagbuf);
        }
        BLOCKING_OR_ASYNC("basic_cancel", swamqp_basic_cancel(h, ch, a, flags, w.ms, err),
                          swamqp_basic_cancel_async(h, ch, a, flags, prid, err));
        break;
    }
    case RPC_RECOVER:
        BLOCKING_OR_ASYNC("basic_recover", swamqp_basic_recover(h, ch, flags, w.ms, err),
                          swamqp_basic_recover_async(h, ch, flags, prid, err));
        break;
    case RPC_GET: {
        swamqp_message *m = (swamqp_message *)(uintptr_t)0x1, **pm = af_pick(r, 8) == 7 ? NULL : &m;
        if (!async && pm == NULL)
            mark_bad(&x, "message NULL");
        BLOCKING_OR_ASYNC("basic_get", swamqp_basic_get(h, ch, a, flags, pm, w.ms, err),
                          swamqp_basic_get_async(h, ch, a, flags, prid, err));
        if (!async && pm) {
            if (rc != SWAMQP_OK && m != NULL && af_oracles)
                af_violation("swamqp_basic_get failed (%s) and left *message %p", swamqp_status_string(rc), (void *)m);
            if (rc == SWAMQP_OK && m != (swamqp_message *)(uintptr_t)0x1)
                keep_message(m);
        }
        break;
    }
    case RPC_TX_SELECT:
        BLOCKING_OR_ASYNC("tx_select", swamqp_tx_select(h, ch, w.ms, err), swamqp_tx_select_async(h, ch, prid, err));
        break;
    case RPC_TX_COMMIT:
        BLOCKING_OR_ASYNC("tx_commit", swamqp_tx_commit(h, ch, w.ms, err), swamqp_tx_commit_async(h, ch, prid, err));
        break;
    case RPC_TX_ROLLBACK:
        BLOCKING_OR_ASYNC("tx_rollback", swamqp_tx_rollback(h, ch, w.ms, err),
                          swamqp_tx_rollback_async(h, ch, prid, err));
        break;
    case RPC_CONFIRM_SELECT:
        BLOCKING_OR_ASYNC("confirm_select", swamqp_confirm_select(h, ch, w.ms, err),
                          swamqp_confirm_select_async(h, ch, prid, err));
        break;
    case RPC_WAIT_CONFIRMS:
        BLOCKING_OR_ASYNC("wait_for_confirms", swamqp_wait_for_confirms(h, ch, w.ms, err),
                          swamqp_wait_for_confirms_async(h, ch, prid, err));
        break;
    case RPC_UPDATE_SECRET:
        b = gen_bytes(r, R_LONG, &x);
        fn = "swamqp_connection_update_secret";
        af_log("%s(slot %d, %s, %s, timeout_ms %" PRIu32 ")", fn, si, bytes_desc(b), bytes_desc(a), w.ms);
        rc = swamqp_connection_update_secret(h, b, a, w.ms, err);
        break;
    }
#undef BLOCKING_OR_ASYNC
    if (!async)
        wait_end(fn, &t, rc);
    else if (w.probe)
        af_watchdog_disarm();
    if (async && prid)
        af_log("  request id %" PRIu64 " (open: %d)", rid, swamqp_connection_is_open(h));
    check_rc(fn, rc, err, &x);
}

void op_publish(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    uint16_t ch = pick_channel(r, si);
    swamqp_bytes exchange = gen_bytes(r, R_SHORT, &x);
    swamqp_bytes key = gen_bytes(r, R_SHORT, &x);
    uint32_t flags = pick_flags(r);
    const swamqp_properties *props = gen_props(r, &x);
    swamqp_bytes body = gen_bytes(r, R_BODY, &x);
    uint64_t seq = 0xa5a5, *pseq = af_pick(r, 4) == 3 ? NULL : &seq;
    waitspec w = pick_timeout(r, slot_probe_ok(si));
    unsigned repeat = 1 + (af_pick(r, 8) == 7 ? af_u8(r) % 32 : 0);
    for (unsigned i = 0; i < repeat; i++) {
        af_log("swamqp_basic_publish(slot %d, channel %u, %s, %s, flags 0x%x, props %s, body %s, timeout_ms %" PRIu32 ")",
               si, ch, bytes_desc(exchange), bytes_desc(key), flags, props ? "set" : "NULL", bytes_desc(body), w.ms);
        timing t = wait_begin(si, w);
        int rc = swamqp_basic_publish(h, ch, exchange, key, flags, props, body, pseq, w.ms, err);
        wait_end("swamqp_basic_publish", &t, rc);
        check_rc("swamqp_basic_publish", rc, err, &x);
        if (af_oracles && rc != SWAMQP_OK && pseq && seq != 0 && seq != 0xa5a5)
            af_violation("swamqp_basic_publish failed (%s) and used sequence %" PRIu64, swamqp_status_string(rc), seq);
        if (w.probe)
            w.probe = false, w.ms = 0;
    }
}

void op_ack(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    uint16_t ch = pick_channel(r, si);
    static const uint64_t tags[] = {0, 1, UINT64_MAX, 1ull << 63, 2, UINT32_MAX};
    unsigned sel = af_pick(r, 8);
    uint64_t tag = sel < 4 && si >= 0 && g.s[si].ntags ? g.s[si].tags[sel % g.s[si].ntags] : tags[sel % 6];
    uint32_t flags = pick_flags(r);
    unsigned which = af_pick(r, 3);
    af_log("swamqp_basic_%s(slot %d, channel %u, tag %" PRIu64 ", flags 0x%x)", which == 0 ? "ack" : which == 1 ? "nack" : "reject",
           si, ch, tag, flags);
    int rc = which == 0 ? swamqp_basic_ack(h, ch, tag, flags, err)
             : which == 1 ? swamqp_basic_nack(h, ch, tag, flags, err)
                          : swamqp_basic_reject(h, ch, tag, flags, err);
    check_rc("swamqp_basic_ack/nack/reject", rc, err, &x);
}

void op_raw(af_reader *r)
{
    expect x = {0};
    int si;
    swamqp_connection *h = pick_handle(r, &si, &x);
    swamqp_error es, *err = pick_error(r, &es);
    uint16_t ch = pick_channel(r, si);
    unsigned what = af_pick(r, 3);
    if (what == 0) {
        bool raw = af_bool(r);
        af_log("swamqp_channel_set_raw(slot %d, channel %u, %d)", si, ch, raw);
        int rc = swamqp_channel_set_raw(h, ch, raw);
        check_rc("swamqp_channel_set_raw", rc, NULL, &x);
        return;
    }
    /* encoded arguments: well-formed ones for a few methods, or noise */
    static const uint8_t close_args[] = {0x00, 0xc8, 0x00, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t publish_args[] = {0x00, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t qos_args[] = {0, 0, 0, 0, 0, 1, 0};
    static const uint8_t deliver_args[] = {1, 't', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 'q'};
    static const struct { uint16_t c, m; const uint8_t *a; size_t n; } known[] = {
        {20, 40, close_args, sizeof close_args}, {60, 40, publish_args, sizeof publish_args},
        {60, 10, qos_args, sizeof qos_args}, {60, 60, deliver_args, sizeof deliver_args},
        {10, 50, close_args, sizeof close_args}, {60, 50, close_args, 5},
    };
    unsigned k = af_pick(r, 8);
    uint16_t cls, mth;
    swamqp_bytes args;
    if (k < 6) {
        cls = known[k].c, mth = known[k].m;
        args.bytes = known[k].a, args.len = known[k].n;
    } else {
        cls = af_pick(r, 2) ? (uint16_t)(10 * (1 + af_pick(r, 9))) : af_u16(r);
        mth = af_pick(r, 2) ? (uint16_t)(10 * af_pick(r, 13) + af_pick(r, 2)) : af_u16(r);
        args = gen_bytes(r, R_LONG, &x);
    }
    if (what == 1) {
        af_log("swamqp_send_method(slot %d, channel %u, %u.%u, %s)", si, ch, cls, mth, bytes_desc(args));
        int rc = swamqp_send_method(h, ch, cls, mth, args, err);
        check_rc("swamqp_send_method", rc, err, &x);
    } else {
        const swamqp_properties *props = gen_props(r, &x);
        swamqp_bytes body = gen_bytes(r, R_BODY, &x);
        af_log("swamqp_send_content(slot %d, channel %u, %u.%u, %s, body %s)", si, ch, cls, mth, bytes_desc(args),
               bytes_desc(body));
        int rc = swamqp_send_content(h, ch, cls, mth, args, props, body, err);
        check_rc("swamqp_send_content", rc, err, &x);
    }
}

void op_message(af_reader *r)
{
    unsigned what = af_pick(r, 6);
    if (what < 3 && g.nmsgs) {
        unsigned k = af_pick(r, g.nmsgs);
        swamqp_message *m = g.msgs[k];
        if (what == 0) {
            touch_message(m);
            return;
        }
        af_log("swamqp_message_free(%p)", (void *)m);
        int rc = swamqp_message_free(m);
        if (af_oracles && rc != SWAMQP_OK)
            af_violation("swamqp_message_free of a message from swamqp_basic_get returned %s", swamqp_status_string(rc));
        g.msgs[k] = g.msgs[--g.nmsgs];
        if (g.nfreed < 16)
            g.freed_msgs[g.nfreed++] = m;
        return;
    }
    swamqp_message *m;
    static swamqp_message on_heap_like;
    if (what == 3 && g.nfreed)
        m = g.freed_msgs[af_pick(r, g.nfreed)];
    else if (what == 4)
        m = &on_heap_like;
    else {
        const uintptr_t forged[] = {1, 0x10, UINTPTR_MAX, (uintptr_t)backing, 0xdeadbeef};
        m = (swamqp_message *)forged[af_pick(r, 5)];
    }
    af_log("swamqp_message_free(%p) (freed or forged)", (void *)m);
    int rc = swamqp_message_free(m);
    if (af_oracles && rc != SWAMQP_ERR_INVALID_HANDLE)
        af_violation("swamqp_message_free of a freed or foreign message returned %s", swamqp_status_string(rc));
}

/* ---- background calls ----------------------------------------------------------------------- */

struct bg_call {
    pthread_t thread;
    swamqp_connection *h;
    uint16_t ch;
    unsigned what;
    uint32_t timeout;
    swamqp_bytes name, body;
};

static void *bg_main(void *arg)
{
    bg_call *c = arg;
    swamqp_error err;
    uint16_t ch = 0;
    switch (c->what) {
    case 0: swamqp_queue_declare(c->h, c->ch, c->name, 0, NULL, NULL, c->timeout, &err); break;
    case 1: swamqp_basic_publish(c->h, c->ch, c->name, c->name, 0, NULL, c->body, NULL, c->timeout, &err); break;
    case 2: swamqp_wait_for_confirms(c->h, c->ch, c->timeout, &err); break;
    case 3: swamqp_channel_open(c->h, &ch, c->timeout, &err); break;
    case 4: swamqp_connection_close(c->h, c->timeout, &err); break;
    case 5: swamqp_channel_close(c->h, c->ch, c->timeout, &err); break;
    default: swamqp_basic_qos(c->h, c->ch, 0, 1, 0, c->timeout, &err); break;
    }
    return NULL;
}

void bg_join_all(void)
{
    for (int i = 0; i < 2; i++) {
        if (g.bg[i]) {
            pthread_join(g.bg[i]->thread, NULL);
            free(g.bg[i]);
            g.bg[i] = NULL;
        }
    }
}

void op_bg(af_reader *r)
{
    int k = g.bg[0] == NULL ? 0 : g.bg[1] == NULL ? 1 : -1;
    if (k < 0 || af_pick(r, 4) == 3) {
        bg_join_all();
        return;
    }
    expect x = {0};
    int si;
    bg_call *c = calloc(1, sizeof *c);
    if (c == NULL)
        abort();
    c->h = pick_handle(r, &si, &x);
    c->ch = pick_channel(r, si);
    c->what = af_pick(r, 7);
    c->timeout = (uint32_t)af_pick(r, 30);
    if ((int64_t)c->timeout > g.budget)
        c->timeout = 0;
    g.budget -= c->timeout;
    c->name.bytes = "bg";
    c->name.len = 2;
    c->body = c->name;
    af_log("background call %u on slot %d", c->what, si);
    if (pthread_create(&c->thread, NULL, bg_main, c) != 0)
        abort();
    g.bg[k] = c;
}
