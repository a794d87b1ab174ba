/* A polysock echo server: one connection at a time, each line echoed back.
 *   cc examples/echo_server.c -Iinclude -Ltarget/release -lpolysock \
 *      -Wl,-rpath,$PWD/target/release -o echo_server && ./echo_server 127.0.0.1 4000 */
#include <stdio.h>
#include <stdlib.h>
#include "polysock.h"

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 4000;
    polysock_t srv = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    if (srv < 0 || polysock_setopt(srv, POLYSOCK_OPT_REUSEADDR, 1) < 0 ||
        polysock_bind(srv, host, port) < 0 || polysock_listen(srv, -1) < 0) {
        fprintf(stderr, "echo_server: %s\n", polysock_last_error());
        return 1;
    }
    printf("listening on %s:%d\n", host, port);
    fflush(stdout);
    for (;;) {
        polysock_addr peer;
        polysock_t conn = polysock_accept(srv, &peer);
        if (conn < 0) {
            fprintf(stderr, "accept: %s\n", polysock_last_error());
            continue;
        }
        polysock_settimeout(conn, 30000); /* an idle client cannot hold us forever */
        char buf[4096];
        int64_t n;
        while ((n = polysock_recv(conn, buf, sizeof buf, 0)) > 0) {
            if (polysock_sendall(conn, buf, (size_t)n, 0, NULL) < 0) break;
        }
        if (n < 0) fprintf(stderr, "%s:%d: %s\n", peer.host, peer.port, polysock_last_error());
        polysock_close(conn);
    }
}
