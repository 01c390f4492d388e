/*
 * c_raw: raw channel mode (swamqp_channel_set_raw, swamqp_send_method, swamqp_send_content) against
 * the real broker.
 *
 * On a raw channel the application speaks AMQP itself:
 * - queue.declare (server-named, exclusive) → a RAW_FRAME method event 50.11 whose payload carries
 *   the name and counts; basic.publish through swamqp_send_content; basic.get → RAW_FRAME 60.71,
 *   then the content header frame (type 2, body size) and the body frame (type 3) as raw events;
 * - request functions on a raw channel return SWAMQP_ERR_BAD_STATE; arguments that do not decode as
 *   the method, an unknown method, and a content method through swamqp_send_method are refused
 *   with SWAMQP_ERR_INVALID_ARGUMENT (nothing sent: the channel keeps working);
 * - a broker channel.close (404 on a passive declare) arrives raw and the application answers
 *   close-ok; channel.close sent by the application gets close-ok raw; either way the number is free
 *   again (the next swamqp_channel_open gets it);
 * - a channel put back to normal mode (raw false) works with the ordinary functions.
 */
#include "event_util.h"
#include "fake_broker.h"

#define T_MS 5000

static const swamqp_event *expect_raw(swamqp_connection *conn, uint16_t ch, uint8_t type, uint16_t class_id,
                                      uint16_t method_id)
{
    const swamqp_event *e = ev_wait(conn, SWAMQP_EVENT_RAW_FRAME, ch, T_MS);
    CHECK(e->frame_type == type, "raw frame type %u, expected %u", e->frame_type, type);
    if (type == 1)
        CHECK(e->class_id == class_id && e->method_id == method_id, "raw method %u.%u, expected %u.%u", e->class_id,
              e->method_id, class_id, method_id);
    CHECK(e->payload.len == 0 || e->payload.bytes != NULL, "raw frame payload NULL with len %zu", e->payload.len);
    return e;
}

static swamqp_bytes args_of(const fb_buf *b)
{
    return tu_bn(b->data, b->len);
}

static void queue_declare_args(fb_buf *b, const char *queue, uint8_t bits)
{
    b->len = 0;
    fb_u16(b, 0); /* reserved-1 */
    fb_shortstr(b, queue);
    fb_u8(b, bits); /* passive 1, durable 2, exclusive 4, auto-delete 8, no-wait 16 */
    fb_u32(b, 0);   /* empty arguments table */
}

static void close_args(fb_buf *b, uint16_t code, const char *text)
{
    b->len = 0;
    fb_u16(b, code);
    fb_shortstr(b, text);
    fb_u16(b, 0);
    fb_u16(b, 0);
}

int main(void)
{
    swamqp_error err;
    fb_buf a;
    swamqp_connection *conn = tu_connect();
    uint16_t ch = tu_channel(conn);
    CHECK_OK(swamqp_channel_set_raw(conn, ch, true), NULL);

    /* the ordinary request functions refuse a raw channel */
    CHECK_STATUS(swamqp_queue_declare(conn, ch, tu_b(""), SWAMQP_EXCLUSIVE, NULL, NULL, T_MS, &err),
                 SWAMQP_ERR_BAD_STATE, &err);
    /* basic.publish awaits no reply: whether it is one of "the request functions" is not said; it
     * may be refused (BAD_STATE) or sent as is (to a queue that does not exist: dropped). */
    tu_err_reset(&err);
    int prc = swamqp_basic_publish(conn, ch, tu_b(""), tu_b("q"), 0, NULL, tu_b("b"), NULL, T_MS, &err);
    CHECK(prc == SWAMQP_OK || prc == SWAMQP_ERR_BAD_STATE, "publish on a raw channel returned %s",
          swamqp_status_string(prc));
    CHECK_STATUS(swamqp_basic_consume(conn, ch, tu_b("q"), tu_b(""), 0, NULL, NULL, T_MS, &err), SWAMQP_ERR_BAD_STATE,
                 &err);
    CHECK_STATUS(swamqp_confirm_select(conn, ch, T_MS, &err), SWAMQP_ERR_BAD_STATE, &err);

    /* queue.declare, raw */
    queue_declare_args(&a, "", 4);
    CHECK_OK(swamqp_send_method(conn, ch, 50, 10, args_of(&a), &err), &err);
    const swamqp_event *e = expect_raw(conn, ch, 1, 50, 11);
    const uint8_t *p = e->payload.bytes;
    CHECK(e->payload.len >= 1 && e->payload.len == 1u + p[0] + 8, "declare-ok payload of %zu bytes", e->payload.len);
    char q[256];
    memcpy(q, p + 1, p[0]);
    q[p[0]] = '\0';
    CHECK(strncmp(q, "amq.gen-", 8) == 0, "raw declare-ok queue name \"%s\"", q);
    CHECK(fb_get32(p + 1 + p[0]) == 0 && fb_get32(p + 5 + p[0]) == 0, "raw declare-ok counts");

    /* refused before sending: malformed arguments, unknown method, content method via send_method */
    CHECK_STATUS(swamqp_send_method(conn, ch, 50, 10, tu_bn("\x00", 1), &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    a.len = 0;
    fb_u16(&a, 0);
    fb_u8(&a, 200); /* shortstr length beyond the end */
    CHECK_STATUS(swamqp_send_method(conn, ch, 50, 10, args_of(&a), &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_send_method(conn, ch, 999, 1, tu_b(""), &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    a.len = 0;
    fb_u16(&a, 0);
    fb_shortstr(&a, "");
    fb_shortstr(&a, q);
    fb_u8(&a, 0);
    CHECK_STATUS(swamqp_send_method(conn, ch, 60, 40, args_of(&a), &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_send_content(conn, ch, 50, 10, args_of(&a), NULL, tu_b("x"), &err), SWAMQP_ERR_INVALID_ARGUMENT,
                 &err);

    /* basic.publish through send_content, with properties */
    swamqp_properties props;
    memset(&props, 0, sizeof props);
    props.flags = SWAMQP_PROP_CONTENT_TYPE;
    props.content_type = tu_b("text/raw");
    CHECK_OK(swamqp_send_content(conn, ch, 60, 40, args_of(&a), &props, tu_b("raw body"), &err), &err);

    /* basic.get (no-ack) → get-ok, header, body as raw frames */
    a.len = 0;
    fb_u16(&a, 0);
    fb_shortstr(&a, q);
    fb_u8(&a, 1);
    int64_t deadline = tu_now_ms() + T_MS;
    for (;;) {
        CHECK(tu_now_ms() < deadline, "raw basic.get stayed empty");
        CHECK_OK(swamqp_send_method(conn, ch, 60, 70, args_of(&a), &err), &err);
        e = ev_wait(conn, SWAMQP_EVENT_RAW_FRAME, ch, T_MS);
        CHECK(e->frame_type == 1 && e->class_id == 60 && (e->method_id == 71 || e->method_id == 72),
              "raw basic.get answered with %u.%u", e->class_id, e->method_id);
        if (e->method_id == 71)
            break;
        tu_sleep_ms(20);
    }
    e = expect_raw(conn, ch, 2, 0, 0);
    CHECK(e->payload.len >= 14, "raw content header of %zu bytes", e->payload.len);
    p = e->payload.bytes;
    CHECK(fb_get16(p) == 60 && fb_get64(p + 4) == 8, "raw content header: class %u body size %" PRIu64, fb_get16(p),
          fb_get64(p + 4));
    CHECK(fb_get16(p + 12) == 0x8000, "raw content header property flags 0x%04x, expected content-type only",
          fb_get16(p + 12));
    e = expect_raw(conn, ch, 3, 0, 0);
    CHECK_BYTES(e->payload, "raw body");

    /* a broker channel.close arrives raw; the application answers close-ok */
    char missing[256];
    tu_unique_name(missing, sizeof missing, "c_raw", "missing");
    queue_declare_args(&a, missing, 1);
    CHECK_OK(swamqp_send_method(conn, ch, 50, 10, args_of(&a), &err), &err);
    e = expect_raw(conn, ch, 1, 20, 40);
    CHECK(e->payload.len >= 2 && fb_get16(e->payload.bytes) == 404, "raw channel.close reply %u",
          e->payload.len >= 2 ? fb_get16(e->payload.bytes) : 0);
    CHECK_OK(swamqp_send_method(conn, ch, 20, 41, tu_b(""), &err), &err);
    tu_sleep_ms(100);
    uint16_t again = tu_channel(conn);
    CHECK(again == ch, "after the raw close-ok, channel_open gave %u, expected the freed %u", again, ch);

    /* set_raw(false): the ordinary functions work again */
    CHECK_OK(swamqp_channel_set_raw(conn, again, true), NULL);
    CHECK_OK(swamqp_channel_set_raw(conn, again, false), NULL);
    char qbuf[256];
    tu_temp_queue(conn, again, qbuf);

    /* channel.close sent raw by the application; close-ok comes back raw; the number is free */
    CHECK_OK(swamqp_channel_set_raw(conn, again, true), NULL);
    close_args(&a, 200, "raw bye");
    CHECK_OK(swamqp_send_method(conn, again, 20, 40, args_of(&a), &err), &err);
    expect_raw(conn, again, 1, 20, 41);
    tu_sleep_ms(100);
    uint16_t third = tu_channel(conn);
    CHECK(third == again, "after a raw channel.close, channel_open gave %u, expected %u", third, again);

    /* raw on a channel that is not open */
    /* (the header names both BAD_STATE and CHANNEL_CLOSED for "a channel not open") */
    int rc = swamqp_channel_set_raw(conn, 999, true);
    CHECK(rc == SWAMQP_ERR_BAD_STATE || rc == SWAMQP_ERR_CHANNEL_CLOSED, "set_raw on channel 999 returned %s",
          swamqp_status_string(rc));
    CHECK(swamqp_connection_is_open(conn), "the connection closed");
    CHECK_OK(swamqp_connection_close(conn, T_MS, &err), &err);
    CHECK_OK(swamqp_connection_free(conn), NULL);
    printf("c_raw: OK\n");
    return 0;
}
