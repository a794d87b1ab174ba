/* No fd leaks: many create/close cycles and many failing calls leave the
 * process's fd count where it was. */
#include "harness.h"

TEST(ten_thousand_create_close_cycles) {
    int before = open_fd_count();
    for (int i = 0; i < 10000; i++) {
        int family = (i % 3 == 0) ? POLYSOCK_AF_INET : (i % 3 == 1) ? POLYSOCK_AF_INET6 : POLYSOCK_AF_UNIX;
        polysock_t s = polysock_socket(family, (i & 1) ? POLYSOCK_SOCK_STREAM : POLYSOCK_SOCK_DGRAM, 0);
        CHECK_OK(s);
        CHECK_OK(polysock_close(s));
    }
    CHECK_EQ(open_fd_count(), before);
}

TEST(thousand_failing_connects_leak_nothing) {
    int port;
    polysock_t tmp = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_close(tmp); /* now nothing listens there */
    int before = open_fd_count();
    for (int i = 0; i < 1000; i++) {
        polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
        CHECK_OK(s);
        if (i & 1) CHECK_OK(polysock_settimeout(s, 1000));
        CHECK_ERR(polysock_connect(s, "127.0.0.1", port), ECONNREFUSED);
        CHECK_OK(polysock_close(s));
    }
    CHECK_EQ(open_fd_count(), before);
}

TEST(failed_creation_and_accept_leak_nothing) {
    int before = open_fd_count();
    for (int i = 0; i < 200; i++) {
        CHECK_EQ(polysock_socket(12345, POLYSOCK_SOCK_STREAM, 0), -1);
        CHECK_EQ(polysock_socketpair(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0, (polysock_t[2]){0, 0}), -1);
        polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
        CHECK_OK(polysock_setblocking(s, 0));
        CHECK_EQ(polysock_accept(s, NULL), -1); /* not listening */
        CHECK_EQ(polysock_bind(s, "no..such..host", 0), -1);
        polysock_close(s);
    }
    CHECK_EQ(open_fd_count(), before);
}

TEST(accepted_connections_are_released) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    int before = open_fd_count();
    for (int i = 0; i < 500; i++) {
        polysock_t c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
        CHECK_OK(polysock_connect(c, "127.0.0.1", port));
        polysock_t a = polysock_accept(srv, NULL);
        CHECK_OK(a);
        polysock_close(a);
        polysock_close(c);
    }
    CHECK_EQ(open_fd_count(), before);
    polysock_close(srv);
}
