/*
 * faultproxy: a TCP proxy for fault-injection tests, controlled by the test that embeds it.
 *
 * It listens on 127.0.0.1 (port 0: the kernel picks one; fp_port tells which) and forwards every
 * connection it accepts to one upstream address (the broker), byte for byte, on one thread of its
 * own (poll). The test then breaks the traffic on purpose:
 *
 *   fp_cut_all        close every connection now (FIN, or RST with `reset`)
 *   fp_cut_after      forward exactly N more bytes in one direction, then close that connection:
 *                     a cut in the middle of a frame when a large frame is under way
 *   fp_stall          stop forwarding in both directions; sockets stay open (a silent peer). New
 *                     connections are accepted and connected upstream, but carry nothing either.
 *   fp_set_rate       forward at most N bytes per second in each direction (0: no limit)
 *   fp_refuse         close the listening socket (connections are refused, as by a dead port);
 *                     fp_refuse(p, false) listens again on the same port
 *   fp_resume         clear stall, rate limit, refusal and a pending cut_after
 *
 * Only loopback addresses are accepted as upstream (127.0.0.0/8 or ::1). Every function is
 * thread-safe; the cut, stall and refuse commands return once the proxy thread carried them out.
 * C only (POSIX threads and sockets), no dependency on libswiftamqp.
 */
#ifndef SWIFTAMQP_FAULTPROXY_H
#define SWIFTAMQP_FAULTPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fp_proxy fp_proxy;

enum fp_direction {
    FP_CLIENT_TO_SERVER = 1,
    FP_SERVER_TO_CLIENT = 2
};

typedef struct fp_stats {
    uint64_t accepted;       /**< connections accepted so far. */
    uint64_t active;         /**< connections open now. */
    uint64_t upstream_failed;/**< accepted connections closed because the upstream refused. */
    uint64_t cuts;           /**< connections closed by cut_all / cut_after. */
    uint64_t bytes_c2s;      /**< bytes forwarded client -> server. */
    uint64_t bytes_s2c;      /**< bytes forwarded server -> client. */
    int64_t last_c2s_ms;     /**< fp_now_ms() when a byte was last forwarded client -> server (0: never). */
    int64_t last_s2c_ms;     /**< fp_now_ms() when a byte was last forwarded server -> client (0: never). */
} fp_stats;

/**
 * Starts a proxy to upstream host:port (a numeric loopback address or "localhost"). Returns NULL
 * (errno set, and a message on stderr) when the address is not loopback or the socket fails.
 */
fp_proxy *fp_start(const char *upstream_host, uint16_t upstream_port);

/** The port the proxy listens on (127.0.0.1). */
uint16_t fp_port(fp_proxy *proxy);

/** Changes the upstream for connections accepted from now on. false when it is not loopback. */
bool fp_set_upstream(fp_proxy *proxy, const char *upstream_host, uint16_t upstream_port);

/** Closes every open connection (both sockets) now. `reset`: with RST instead of FIN. Returns how many. */
int fp_cut_all(fp_proxy *proxy, bool reset);

/**
 * Arms a cut: the next `nbytes` bytes forwarded in `direction` (an fp_direction), on any connection,
 * are forwarded, and then that connection is closed (FIN, so those bytes arrive first). One-shot.
 * nbytes 0 cuts the connection that next has a byte to forward in that direction, forwarding none.
 */
void fp_cut_after(fp_proxy *proxy, int direction, uint64_t nbytes);

/** Whether an armed cut_after has fired since it was armed. */
bool fp_cut_fired(fp_proxy *proxy);

/** Stops forwarding (both directions, every connection, also new ones); sockets stay open. */
void fp_stall(fp_proxy *proxy);

/** At most `bytes_per_second` in each direction (summed over connections); 0 = unlimited. */
void fp_set_rate(fp_proxy *proxy, uint64_t bytes_per_second);

/** true: stop listening (connections are refused); false: listen again on the same port.
 * Returns false when listening again failed (the port was taken meanwhile). */
bool fp_refuse(fp_proxy *proxy, bool refuse);

/** Clears stall, rate limit, refusal and an armed cut_after. */
void fp_resume(fp_proxy *proxy);

/** Copies the counters. */
void fp_get_stats(fp_proxy *proxy, fp_stats *stats);

/** Waits up to timeout_ms until at least `count` connections were accepted in total. */
bool fp_wait_accepted(fp_proxy *proxy, uint64_t count, int64_t timeout_ms);

/** Stops the thread, closes everything and frees the proxy. NULL is accepted. */
void fp_stop(fp_proxy *proxy);

/** CLOCK_MONOTONIC in milliseconds (the clock of fp_stats' timestamps). */
int64_t fp_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif /* SWIFTAMQP_FAULTPROXY_H */
