/*
 * The ABI fuzzer's oracles on what calls return and hand out: statuses are known values, a
 * failing call fills its swamqp_error, an invalid argument or handle is refused; every pointer in
 * an event is readable for its length and CONNECTION_CLOSED is the last event. Also what the run
 * keeps from results (open channels, delivery tags, messages from swamqp_basic_get).
 */
#include "harness.h"

#include <inttypes.h>
#include <string.h>

/* ---- statuses and errors --------------------------------------------------------------------- */

static bool known_status(int rc)
{
    switch (rc) {
    case SWAMQP_OK:
    case SWAMQP_ERR_INVALID_ARGUMENT: case SWAMQP_ERR_INVALID_HANDLE: case SWAMQP_ERR_NO_MEMORY:
    case SWAMQP_ERR_IN_CALLBACK: case SWAMQP_ERR_FORKED: case SWAMQP_ERR_BAD_STATE: case SWAMQP_ERR_CHANNEL_LIMIT:
    case SWAMQP_ERR_NOT_CONFIRM_MODE: case SWAMQP_ERR_STALE_DELIVERY_TAG:
    case SWAMQP_ERR_TIMEOUT: case SWAMQP_ERR_WOULD_BLOCK:
    case SWAMQP_ERR_RESOLVE: case SWAMQP_ERR_CONNECT: case SWAMQP_ERR_IO: case SWAMQP_ERR_CONNECTION_LOST:
    case SWAMQP_ERR_HEARTBEAT_TIMEOUT: case SWAMQP_ERR_TLS: case SWAMQP_ERR_RECOVERING:
    case SWAMQP_ERR_PROTOCOL: case SWAMQP_ERR_FRAME_TOO_LARGE: case SWAMQP_ERR_MESSAGE_TOO_LARGE:
    case SWAMQP_ERR_UNEXPECTED_FRAME: case SWAMQP_ERR_AUTH: case SWAMQP_ERR_NACKED:
    case SWAMQP_ERR_CHANNEL_CLOSED: case SWAMQP_ERR_CONNECTION_CLOSED: case SWAMQP_ERR_CLOSED_BY_APPLICATION:
        return true;
    default:
        return false;
    }
}

static void check_error_struct(const char *fn, const swamqp_error *err, int status)
{
    if (memchr(err->message, 0, sizeof err->message) == NULL)
        af_violation("%s: swamqp_error.message is not NUL-terminated", fn);
    if (err->status != status)
        af_violation("%s returned %s but filled swamqp_error.status %d", fn, swamqp_status_string(status), err->status);
    if (err->origin != SWAMQP_ORIGIN_LIBRARY && err->origin != SWAMQP_ORIGIN_BROKER)
        af_violation("%s: swamqp_error.origin %d on failure", fn, err->origin);
}

void mark_bad(expect *x, const char *why)
{
    if (!x->bad)
        x->why = why;
    x->bad = true;
}

/* The common checks after a call. `err` NULL when the function takes none or got NULL. */
void check_rc(const char *fn, int rc, const swamqp_error *err, const expect *x)
{
    af_log("  -> %s%s%s", swamqp_status_string(rc), x && x->bad ? " (expected a failure: " : "",
           x && x->bad ? x->why : "");
    if (!af_oracles)
        return;
    if (!known_status(rc))
        af_violation("%s returned %d, which is no swamqp_status", fn, rc);
    if (err && rc != SWAMQP_OK)
        check_error_struct(fn, err, rc);
    if (x && x->bad && rc == SWAMQP_OK)
        af_violation("%s accepted an invalid argument (%s)", fn, x->why ? x->why : "?");
    if (x && x->bad_handle && !x->bad && rc != SWAMQP_ERR_INVALID_HANDLE)
        af_violation("%s with a freed or forged handle returned %s, not SWAMQP_ERR_INVALID_HANDLE", fn,
                     swamqp_status_string(rc));
}

swamqp_error *pick_error(af_reader *r, swamqp_error *storage)
{
    memset(storage, 0xa5, sizeof *storage);
    return af_pick(r, 8) == 7 ? NULL : storage;
}

/* ---- events ----------------------------------------------------------------------------------- */

static void touch_bytes(const char *what, swamqp_bytes b)
{
    if (b.len == 0)
        return;
    if (b.bytes == NULL) {
        if (af_oracles)
            af_violation("an event's %s has %zu bytes at NULL", what, b.len);
        return;
    }
    if (b.len > (1ull << 40)) {
        if (af_oracles)
            af_violation("an event's %s claims %zu bytes", what, b.len);
        return;
    }
    touch(b.bytes, b.len);
}

static void touch_table(const swamqp_table *t, int depth);

static void touch_value(const swamqp_field_value *v, int depth)
{
    switch (v->kind) {
    case 'S': case 'x': touch_bytes("field value", v->value.bytes); break;
    case 'F': touch_table(&v->value.table, depth + 1); break;
    case 'A':
        if (v->value.array.count && v->value.array.values == NULL && af_oracles)
            af_violation("an event's field array has %zu values at NULL", v->value.array.count);
        if (depth < 70 && v->value.array.values)
            for (size_t i = 0; i < v->value.array.count && i < 100000; i++)
                touch_value(&v->value.array.values[i], depth + 1);
        break;
    default: break;
    }
}

static void touch_table(const swamqp_table *t, int depth)
{
    if (t->count == 0)
        return;
    if (t->entries == NULL) {
        if (af_oracles)
            af_violation("an event's field table has %zu entries at NULL", t->count);
        return;
    }
    if (depth > 70)
        return;
    for (size_t i = 0; i < t->count && i < 100000; i++) {
        touch_bytes("table key", t->entries[i].key);
        touch_value(&t->entries[i].value, depth);
    }
}

void touch_message(const swamqp_message *m)
{
    touch_bytes("consumer_tag", m->consumer_tag);
    touch_bytes("exchange", m->exchange);
    touch_bytes("routing_key", m->routing_key);
    touch_bytes("reply_text", m->reply_text);
    const swamqp_properties *p = &m->properties;
    touch_bytes("content_type", p->content_type);
    touch_bytes("content_encoding", p->content_encoding);
    touch_table(&p->headers, 0);
    touch_bytes("correlation_id", p->correlation_id);
    touch_bytes("reply_to", p->reply_to);
    touch_bytes("expiration", p->expiration);
    touch_bytes("message_id", p->message_id);
    touch_bytes("type", p->type);
    touch_bytes("user_id", p->user_id);
    touch_bytes("app_id", p->app_id);
    touch_bytes("cluster_id", p->cluster_id);
    touch_bytes("body", m->body);
}

void touch_event(int si, const swamqp_event *e)
{
    slot *s = si >= 0 ? &g.s[si] : NULL;
    af_log("    event type %d status %s channel %u request %" PRIu64 " %.*s%s%s", e->type, swamqp_status_string(e->status),
           e->channel, e->request_id, e->name.bytes && e->name.len < 200 ? (int)e->name.len : 0,
           e->name.bytes ? (const char *)e->name.bytes : "", e->error ? ": " : "", e->error ? e->error->message : "");
    if (af_oracles) {
        if (e->type < SWAMQP_EVENT_COMPLETION || e->type > SWAMQP_EVENT_LATE_GET_MESSAGE)
            af_violation("an event of type %d", e->type);
        if (!known_status(e->status))
            af_violation("an event (type %d) with status %d", e->type, e->status);
        /* Completions are exempt: an _async request made after the close still completes with
         * a status (the header promises both that and CONNECTION_CLOSED being last). */
        if (s && s->closed_event && e->type != SWAMQP_EVENT_COMPLETION)
            af_violation("an event (type %d) after SWAMQP_EVENT_CONNECTION_CLOSED", e->type);
    }
    touch_bytes("name", e->name);
    touch_bytes("payload", e->payload);
    if (e->message)
        touch_message(e->message);
    if (e->error) {
        if (memchr(e->error->message, 0, sizeof e->error->message) == NULL && af_oracles)
            af_violation("an event's error message is not NUL-terminated");
        if (af_oracles && e->status != 0 && e->error->status != e->status &&
            (e->type == SWAMQP_EVENT_COMPLETION || e->type == SWAMQP_EVENT_CHANNEL_CLOSED ||
             e->type == SWAMQP_EVENT_CONNECTION_CLOSED))
            af_violation("an event of type %d has status %s but error->status %d", e->type,
                         swamqp_status_string(e->status), e->error->status);
    }
    if (s == NULL)
        return;
    if (e->type == SWAMQP_EVENT_CONNECTION_CLOSED)
        s->closed_event = true;
    if ((e->type == SWAMQP_EVENT_DELIVERY) && e->message && s->ntags < 8)
        s->tags[s->ntags++] = e->message->delivery_tag;
    else if (e->type == SWAMQP_EVENT_DELIVERY && e->message)
        s->tags[e->message->delivery_tag % 8] = e->message->delivery_tag;
}

void note_channel(int si, uint16_t ch)
{
    if (si < 0)
        return;
    slot *s = &g.s[si];
    for (unsigned i = 0; i < s->nchans; i++)
        if (s->chans[i] == ch)
            return;
    if (s->nchans < 8)
        s->chans[s->nchans++] = ch;
    else
        s->chans[ch % 8] = ch;
}

void keep_message(swamqp_message *m)
{
    if (m == NULL)
        return;
    touch_message(m);
    if (g.nmsgs < 16) {
        g.msgs[g.nmsgs++] = m;
    } else {
        swamqp_message_free(m);
    }
}
