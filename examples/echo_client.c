/* A polysock echo client: sends its arguments, prints the echo.
 *   cc examples/echo_client.c -Iinclude -Ltarget/release -lpolysock \
 *      -Wl,-rpath,$PWD/target/release -o echo_client && ./echo_client 127.0.0.1 4000 hello */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "polysock.h"

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 4000;
    const char *msg = argc > 3 ? argv[3] : "hello, polysock";
    polysock_t s = polysock_socket(strchr(host, ':') ? POLYSOCK_AF_INET6 : POLYSOCK_AF_INET,
                                   POLYSOCK_SOCK_STREAM, 0);
    if (s < 0 || polysock_settimeout(s, 5000) < 0 || polysock_connect(s, host, port) < 0) {
        /* e.g. "connect 127.0.0.1:4000: Connection refused" (ECONNREFUSED) */
        fprintf(stderr, "echo_client: %s (%s)\n", polysock_last_error(), polysock_errname(polysock_errno()));
        return 1;
    }
    size_t len = strlen(msg);
    char reply[4096];
    if (len >= sizeof reply || polysock_sendall(s, msg, len, 0, NULL) < 0 ||
        polysock_recv_exact(s, reply, len, 0, NULL) < 0) {
        fprintf(stderr, "echo_client: %s\n", polysock_last_error());
        return 1;
    }
    printf("%.*s\n", (int)len, reply);
    polysock_close(s);
    return 0;
}
