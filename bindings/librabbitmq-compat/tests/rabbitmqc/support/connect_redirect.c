/*
 * LD_PRELOAD shim for rabbitmq-c's test_basic, which always connects to localhost:5672 (its
 * AMQP_PROTOCOL_PORT): a connect() to 127.0.0.1 or ::1 on port 5672 goes to the port in
 * RABBITMQC_REDIRECT_PORT instead (the test broker, which may not be the only one on the
 * machine). Every other connect() is passed through unchanged. Both librabbitmq and the compat
 * library open their sockets with connect(), so the same shim serves both runs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static connect_fn real;
    if (real == NULL)
        real = (connect_fn)dlsym(RTLD_NEXT, "connect");
    const char *to = getenv("RABBITMQC_REDIRECT_PORT");
    int port = to ? atoi(to) : 0;
    if (port <= 0 || port > 65535 || addr == NULL)
        return real(fd, addr, len);
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof a);
        if (ntohs(a.sin_port) == 5672 && a.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
            a.sin_port = htons((uint16_t)port);
            return real(fd, (const struct sockaddr *)&a, sizeof a);
        }
    } else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 a;
        memcpy(&a, addr, sizeof a);
        if (ntohs(a.sin6_port) == 5672 && IN6_IS_ADDR_LOOPBACK(&a.sin6_addr)) {
            a.sin6_port = htons((uint16_t)port);
            return real(fd, (const struct sockaddr *)&a, sizeof a);
        }
    }
    return real(fd, addr, len);
}
