/*
 * The ABI fuzzer's connection slots: creating (or connecting) one with hostile options against a
 * fake broker on a socketpair or a loopback listener, and freeing one.
 */
#include "harness.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the loopback listener ------------------------------------------------------------------- */

/* A loopback listener that plays a fresh fake broker on every connection it accepts: the target of
 * TCP connects and of automatic recovery's reconnects. */
typedef struct acceptor {
    int lfd;
    pthread_t thread;
    atomic_bool stop;
    af_peer_config cfg;
    uint8_t script[64];
    size_t script_len;
    pthread_mutex_t lock;
    af_peer *peers[4];
    int n;
} acceptor;

static void *acceptor_main(void *arg)
{
    acceptor *a = arg;
    while (!atomic_load(&a->stop)) {
        struct pollfd p = {a->lfd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&a->lock);
        if (a->n < 4) {
            a->peers[a->n++] = af_peer_start(fd, &a->cfg, a->script, a->script_len);
            af_log("  acceptor: connection %d accepted", a->n);
        } else {
            close(fd);
        }
        pthread_mutex_unlock(&a->lock);
    }
    return NULL;
}

static acceptor *acceptor_start(const af_peer_config *cfg, const uint8_t *script, size_t script_len, uint16_t *port)
{
    acceptor *a = calloc(1, sizeof *a);
    if (a == NULL)
        abort();
    a->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (a->lfd < 0 || bind(a->lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(a->lfd, 4) != 0 ||
        getsockname(a->lfd, (struct sockaddr *)&addr, &len) != 0)
        abort();
    *port = ntohs(addr.sin_port);
    a->cfg = *cfg;
    a->script_len = script_len < sizeof a->script ? script_len : sizeof a->script;
    if (a->script_len)
        memcpy(a->script, script, a->script_len);
    pthread_mutex_init(&a->lock, NULL);
    if (pthread_create(&a->thread, NULL, acceptor_main, a) != 0)
        abort();
    return a;
}

static void acceptor_stop(acceptor *a)
{
    if (a == NULL)
        return;
    atomic_store(&a->stop, true);
    pthread_join(a->thread, NULL);
    close(a->lfd);
    for (int i = 0; i < a->n; i++)
        af_peer_stop(a->peers[i]);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* The broker the slot's connection talks to now: the newest accepted one, else the socketpair's. */
af_peer *slot_peer(const slot *s)
{
    af_peer *p = s->peer;
    if (s->acc) {
        pthread_mutex_lock(&s->acc->lock);
        if (s->acc->n)
            p = s->acc->peers[s->acc->n - 1];
        pthread_mutex_unlock(&s->acc->lock);
    }
    return p;
}

/* ---- slots: create and free ------------------------------------------------------------------ */

static const char *pick_cstring(af_reader *r, bool allow_null)
{
    unsigned sel = af_pick(r, 8);
    switch (sel) {
    case 0: return allow_null ? NULL : "";
    case 1: return "";
    case 2: {
        static const size_t lens[] = {255, 256, 1000, 70000};
        size_t n = lens[af_pick(r, 4)];
        char *s = af_alloc(n + 1);
        memset(s, 'v', n);
        return s;
    }
    case 3: return "\xff\xfe\xc0\x80 not utf-8";
    default: {
        size_t n = af_u8(r) % 16;
        char *s = af_alloc(n + 1);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)('a' + af_u8(r) % 26);
        return s;
    }
    }
}

void stop_peer(slot *s)
{
    acceptor_stop(s->acc);
    s->acc = NULL;
    if (s->peer) {
        af_peer_stop(s->peer);
        s->peer = NULL;
    }
    if (s->aux_fd >= 0) {
        close(s->aux_fd);
        s->aux_fd = -1;
    }
}

static void forget_slot(int si, swamqp_connection *h)
{
    slot *s = &g.s[si];
    stop_peer(s);
    if (g.ndead < 16)
        g.dead[g.ndead++] = h;
    memset(s, 0, sizeof *s);
    s->aux_fd = -1;
    s->conn = h; /* stale from now on */
}

static void build_options(af_reader *r, swamqp_connection_options *o, expect *x, slot *s)
{
    swamqp_connection_options_init(o);
    o->host = "127.0.0.1";
    o->port = 1; /* nothing listens: reconnects fail at once */
    static const uint16_t heartbeats[] = {0, 0, 0, 0, 1, 60, 65535, 2};
    static const uint32_t frame_maxes[] = {131072, 4096, 8192, 4095, 0, UINT32_MAX, 0x80000000u, 1u << 20};
    static const uint16_t channel_maxes[] = {2047, 0, 1, 2, 5, 65535, 3, 2048};
    static const uint64_t sizes[] = {0, 1, 100, 4096, 1u << 20, 128u << 20, 1ull << 32, 1ull << 40, (1ull << 63) - 1,
                                     1ull << 63, UINT64_MAX, (1ull << 63) + 1};
    static const uint64_t limits[] = {0, 1, 100, 4096, 1u << 20, UINT64_MAX, 1ull << 63, 65536};
    static const int mechs[] = {0, 1, 2, 3, -1, 4, INT_MAX, INT_MIN};
    static const uint32_t unconfirmed[] = {10000, 0, 1, 3, UINT32_MAX, 2};
    unsigned opt = af_u8(r); /* which groups of options are set at all */
    if (opt & 1) {
        o->heartbeat = heartbeats[af_pick(r, 8)];
        o->frame_max = frame_maxes[af_pick(r, 8)];
        o->channel_max = channel_maxes[af_pick(r, 8)];
    }
    {
        static const uint32_t normal[] = {200, 100, 50, 300, 20, 500};
        unsigned sel = af_pick(r, 8);
        o->connect_timeout_ms = normal[sel % 6];
        if (sel >= 6) {
            static const uint32_t huge[] = {0 /* the 30 s default */, UINT32_MAX, UINT32_MAX - 999, 0x80000000u};
            uint32_t t = huge[af_pick(r, 4)];
            if (!g.probe_used && !(avoid & AVOID_PROBE)) {
                g.probe_used = true;
                s->probe_connect = true;
                o->connect_timeout_ms = t;
            }
        }
    }
    if (opt & 2) {
        o->vhost = pick_cstring(r, true);
        o->user = pick_cstring(r, true);
        o->password = pick_cstring(r, true);
        o->connection_name = pick_cstring(r, true);
    }
    if (opt & 4) {
        o->max_message_size = sizes[af_pick(r, 12)];
        if ((avoid & AVOID_MESSAGE_SIZE) && o->max_message_size >= (1ull << 63))
            o->max_message_size = 1ull << 40;
        o->event_queue_limit = limits[af_pick(r, 8)];
        o->outbound_limit = limits[af_pick(r, 8)];
        o->max_unconfirmed = unconfirmed[af_pick(r, 6)];
    }
    if (opt & 8) {
        o->auth_mechanism = mechs[af_pick(r, 8)];
        if (o->auth_mechanism < 0 || o->auth_mechanism > 3)
            mark_bad(x, "an auth_mechanism that is no swamqp_auth_mechanism");
    }
    if (opt & 16) {
        static const uint32_t delays[] = {1, 0, 5, UINT32_MAX, 0x80000000u, 2};
        static const uint32_t attempts[] = {1, 2, 3, 0, UINT32_MAX};
        o->automatic_recovery = true;
        o->recovery_initial_delay_ms = delays[af_pick(r, 6)];
        o->recovery_max_delay_ms = delays[af_pick(r, 6)];
        if (avoid & AVOID_RECOVERY_DELAY)
            o->recovery_initial_delay_ms %= 10, o->recovery_max_delay_ms %= 10;
        o->recovery_max_attempts = attempts[af_pick(r, 5)];
    }
    if (opt & 32) { /* endpoints: loopback hosts on ports where nothing listens */
        unsigned sel = af_pick(r, 6);
        if (sel == 0) {
            o->endpoint_count = 1 + af_u8(r);
            o->endpoints = NULL;
            mark_bad(x, "endpoints NULL with a count");
        } else if (sel == 1) {
            o->endpoint_count = hostile_count(r);
            o->endpoints = af_alloc(sizeof(swamqp_endpoint));
            ((swamqp_endpoint *)o->endpoints)->host = "127.0.0.1";
            ((swamqp_endpoint *)o->endpoints)->port = 1;
            if (o->endpoint_count)
                mark_bad(x, "an endpoint_count of 2^63 or more");
        } else {
            size_t n = af_pick(r, 5);
            swamqp_endpoint *e = af_alloc(sizeof *e * (n ? n : 1));
            static const char *hosts[] = {"127.0.0.1", "::1", "127.0.0.1", NULL, "", "localhost"};
            for (size_t i = 0; i < n; i++) {
                e[i].host = hosts[af_pick(r, 6)];
                e[i].port = (uint16_t)(1 + af_pick(r, 2));
                if (e[i].host == NULL)
                    mark_bad(x, "an endpoint with a NULL host");
            }
            o->endpoints = e;
            o->endpoint_count = n;
        }
    }
    if (opt & 64) { /* TLS: the peer speaks no TLS, so the handshake fails */
        o->tls = af_pick(r, 4) != 0;
        s->tls = o->tls;
        unsigned sel = af_pick(r, 6);
        if (sel == 0) {
            o->tls_ca_certificate_count = 1 + af_u8(r);
            mark_bad(x, "tls_ca_certificates NULL with a count");
        } else if (sel == 1) {
            o->tls_ca_certificate_count = hostile_count(r);
            swamqp_bytes *blob = af_alloc(sizeof *blob);
            blob->bytes = backing;
            blob->len = 16;
            o->tls_ca_certificates = blob;
            if (o->tls && o->tls_ca_certificate_count) /* without TLS the list is never read */
                mark_bad(x, "a tls_ca_certificate_count of 2^63 or more");
        } else if (sel == 2) {
            size_t n = 1 + af_pick(r, 3);
            swamqp_bytes *blobs = af_alloc(sizeof *blobs * n);
            for (size_t i = 0; i < n; i++) {
                blobs[i] = gen_bytes(r, R_LONG, x);
                if (blobs[i].len == 0)
                    mark_bad(x, "an empty tls_ca_certificates entry");
            }
            o->tls_ca_certificates = blobs;
            o->tls_ca_certificate_count = n;
        }
        static const char *files[] = {NULL, "abi-fuzz-missing.pem", "", NULL};
        o->tls_ca_file = files[af_pick(r, 4)];
        o->tls_cert_file = files[af_pick(r, 4)];
        o->tls_key_file = files[af_pick(r, 4)];
        o->tls_ciphers = af_bool(r) ? "NOT-A-CIPHER" : NULL;
        o->tls_server_name = pick_cstring(r, true);
        o->tls_insecure_skip_verify = af_bool(r);
        o->tls_insecure_skip_hostname_check = af_bool(r);
    }
    if (o->frame_max != 0 && o->frame_max < 4096)
        mark_bad(x, "frame_max below 4096");
}

static void peer_config(af_reader *r, af_peer_config *c)
{
    static const uint16_t channel_maxes[] = {0, 2047, 1, 2, 5, 65535, 3, 0};
    static const uint32_t frame_maxes[] = {131072, 0, 4096, 8192, UINT32_MAX, 4095, 8, 1u << 20};
    static const uint16_t heartbeats[] = {0, 0, 0, 0, 0, 1, 60, 65535};
    static const char *mechanisms[] = {"PLAIN AMQPLAIN", "PLAIN", "AMQPLAIN", "EXTERNAL", "", "PLAIN EXTERNAL AMQPLAIN"};
    memset(c, 0, sizeof *c);
    unsigned mode = af_pick(r, 32);
    c->mode = mode < AF_HS_COUNT ? (int)mode : AF_HS_NORMAL;
    if (c->mode == AF_HS_NORMAL && mode != 0)
        c->mode = AF_HS_NORMAL;
    unsigned tune = af_u8(r);
    c->channel_max = channel_maxes[tune & 7];
    c->frame_max = frame_maxes[(tune >> 3) & 7];
    c->heartbeat = heartbeats[(tune >> 5) & 7];
    unsigned m = af_pick(r, 16);
    c->mechanisms = mechanisms[m < 10 ? 0 : m - 10];
    unsigned v = af_pick(r, 16);
    c->version_major = v == 15 ? 9 : 0;
    c->version_minor = v == 14 ? 8 : 9;
}

/* create (mode 0) or connect (mode 1) a slot */
void op_create(af_reader *r, bool connect)
{
    int si = (int)af_pick(r, NSLOTS);
    slot *s = &g.s[si];
    if (s->live)
        return;
    swamqp_connection_options *o = af_alloc(sizeof *o);
    expect x = {0};
    memset(s, 0, sizeof *s);
    s->aux_fd = -1;
    build_options(r, o, &x, s);
    af_peer_config pc;
    peer_config(r, &pc);
    af_reader script = af_sub(r, af_u8(r) % 48);

    int sv[2] = {-1, -1};
    unsigned fdmode = af_pick(r, 16);
    int pipefd[2] = {-1, -1};
    if (fdmode < 12) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            abort();
        o->socket_fd = sv[0];
    } else if (fdmode == 12) {
        o->socket_fd = -1; /* a TCP connect to our own listener on 127.0.0.1 */
    } else if (fdmode == 13) {
        o->socket_fd = af_bool(r) ? INT_MAX : -2;
    } else if (fdmode == 14) {
        if (pipe2(pipefd, O_CLOEXEC) != 0)
            abort();
        o->socket_fd = pipefd[0];
    } else {
        o->socket_fd = -1;
        o->host = af_bool(r) ? "" : NULL;
        if (o->host && o->host[0] == 0)
            mark_bad(&x, "an empty host without socket_fd");
    }
    if (fdmode == 12 || (fdmode < 12 && o->automatic_recovery)) {
        uint16_t port = 1;
        s->acc = acceptor_start(&pc, script.p, script.n, &port);
        o->host = "127.0.0.1";
        o->port = port;
    }
    if (s->probe_connect && o->event_queue_limit != 0 && o->event_queue_limit < (1ull << 63)) {
        o->connect_timeout_ms = 200; /* see slot_probe_ok */
        s->probe_connect = false;
    }
    if (s->probe_connect && fdmode >= 12) {
        /* No peer to cut: a huge connect timeout could only be waited out. */
        o->connect_timeout_ms = 300;
        s->probe_connect = false;
    }

    swamqp_error err_storage, *err = pick_error(r, &err_storage);
    unsigned nulls = af_pick(r, 32);
    const swamqp_connection_options *opts = nulls == 31 ? NULL : o;
    swamqp_connection *h = (swamqp_connection *)(uintptr_t)0x1234, **out = nulls == 30 ? NULL : &h;
    if (opts == NULL)
        mark_bad(&x, "options NULL");
    if (out == NULL)
        mark_bad(&x, "out NULL");
    int rc;
    timing t = {af_now_ms(), {0, false}, -1};
    if (!connect) {
        af_log("swamqp_connection_create(slot %d, fd %d, frame_max %u, max_message_size %" PRIu64 ", endpoints %zu, tls %d)",
               si, o->socket_fd, o->frame_max, o->max_message_size, o->endpoint_count, o->tls);
        rc = swamqp_connection_create(opts, out, err);
        check_rc("swamqp_connection_create", rc, err, &x);
    } else {
        /* The peer must run while swamqp_connect blocks in the handshake. */
        if (sv[1] >= 0)
            s->peer = af_peer_start(sv[1], &pc, script.p, script.n), sv[1] = -1;
        if (s->probe_connect && slot_peer(s))
            af_watchdog_arm(slot_peer(s), PROBE_WATCHDOG_MS);
        af_log("swamqp_connect(slot %d, fd %d, connect_timeout_ms %u, frame_max %u, max_message_size %" PRIu64 ", tls %d)",
               si, o->socket_fd, o->connect_timeout_ms, o->frame_max, o->max_message_size, o->tls);
        rc = swamqp_connect(opts, out, err);
        if (s->probe_connect)
            af_watchdog_disarm();
        check_rc("swamqp_connect", rc, err, &x);
        uint64_t elapsed = af_now_ms() - t.t0;
        if (af_oracles && rc == SWAMQP_ERR_TIMEOUT && opts && opts->connect_timeout_ms >= 100 && elapsed + 30 < opts->connect_timeout_ms)
            af_violation("swamqp_connect returned SWAMQP_ERR_TIMEOUT after %" PRIu64 " ms with connect_timeout_ms %u",
                         elapsed, opts->connect_timeout_ms);
        if (rc != SWAMQP_OK && out && h != NULL && af_oracles)
            af_violation("swamqp_connect failed (%s) but *out is not NULL", swamqp_status_string(rc));
    }
    if (af_oracles && rc != SWAMQP_OK && out && h != NULL && !connect)
        af_violation("swamqp_connection_create failed (%s) but *out is not NULL", swamqp_status_string(rc));
    bool created = rc == SWAMQP_OK || (connect && rc != SWAMQP_ERR_INVALID_ARGUMENT && rc != SWAMQP_ERR_NO_MEMORY);
    if (rc != SWAMQP_OK) {
        /* The socket stays ours when create failed; after a failed connect it is the library's. */
        if (!created && o->socket_fd == sv[0] && sv[0] >= 0)
            close(sv[0]);
        if (!created && pipefd[0] >= 0)
            close(pipefd[0]);
        if (sv[1] >= 0)
            close(sv[1]);
        if (pipefd[1] >= 0)
            close(pipefd[1]);
        stop_peer(s);
        memset(s, 0, sizeof *s);
        s->aux_fd = -1;
        return;
    }
    if (af_oracles && h == NULL)
        af_violation("%s succeeded with a NULL handle", connect ? "swamqp_connect" : "swamqp_connection_create");
    s->conn = h;
    s->live = true;
    s->opened = connect;
    s->connect_timeout_ms = o->connect_timeout_ms;
    s->small_event_limit = o->event_queue_limit != 0 && o->event_queue_limit < (1ull << 63);
    s->aux_fd = pipefd[1];
    if (sv[1] >= 0)
        s->peer = af_peer_start(sv[1], &pc, script.p, script.n);
    af_log("  slot %d = %p", si, (void *)h);
}

void free_slot_handle(int si, af_reader *r, bool teardown)
{
    slot *s = &g.s[si];
    unsigned how = r ? af_pick(r, 4) : (g.settings & 1) ? 1 : 0;
    /* A free waits up to 2 s for close-ok: the peer answers, or is cut, unless budget allows silence. */
    af_peer *peer = slot_peer(s);
    if (how == 1 || teardown)
        af_peer_force_answers(peer, true);
    if (how == 2 || (teardown && (g.settings & 1)))
        af_peer_cut(peer);
    if (how == 3 && g.budget < 2600)
        af_peer_force_answers(peer, true);
    uint64_t t0 = af_now_ms();
    af_log("swamqp_connection_free(slot %d)", si);
    int rc = swamqp_connection_free(s->conn);
    check_rc("swamqp_connection_free", rc, NULL, NULL);
    uint64_t elapsed = af_now_ms() - t0;
    if (how == 3)
        g.budget -= (int64_t)elapsed;
    if (af_oracles && elapsed > 6000)
        af_violation("swamqp_connection_free took %" PRIu64 " ms (bounded by 2 s)", elapsed);
    if (rc == SWAMQP_OK) {
        forget_slot(si, s->conn);
    } else if (af_oracles && !g.in_callback) {
        af_violation("swamqp_connection_free of a live handle returned %s", swamqp_status_string(rc));
    }
}
