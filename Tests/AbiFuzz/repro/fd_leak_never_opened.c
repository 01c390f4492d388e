/* swamqp_connection_free of a connection created with socket_fd but never opened leaves the
 * adopted socket open, although the header says the connection owns it once create succeeds. */
#include <swiftamqp.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 2;
    swamqp_connection_options o;
    swamqp_connection_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 1;
    o.socket_fd = sv[0];
    swamqp_connection *c = NULL;
    swamqp_error err;
    if (swamqp_connection_create(&o, &c, &err) != SWAMQP_OK)
        return 2;
    swamqp_connection_free(c);
    close(sv[1]);
    if (fcntl(sv[0], F_GETFD) != -1) {
        printf("BUG: the adopted socket %d is still open after swamqp_connection_free\n", sv[0]);
        return 1;
    }
    printf("ok: the adopted socket was closed\n");
    return 0;
}
