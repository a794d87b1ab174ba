/* Socket options: any option as an int or bytes, and the typed options. */
#include "harness.h"
#include <sys/socket.h>

TEST(int_options_at_any_level) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    int v = -1;
    CHECK_OK(polysock_setsockopt_int(s, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_REUSEADDR, 1));
    CHECK_OK(polysock_getsockopt_int(s, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_REUSEADDR, &v));
    CHECK_EQ(v, 1);
    CHECK_OK(polysock_setsockopt_int(s, POLYSOCK_IPPROTO_TCP, POLYSOCK_TCP_NODELAY, 1));
    CHECK_OK(polysock_getsockopt_int(s, POLYSOCK_IPPROTO_TCP, POLYSOCK_TCP_NODELAY, &v));
    CHECK_EQ(v, 1);
    CHECK_OK(polysock_getsockopt_int(s, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_TYPE, &v));
    CHECK_EQ(v, POLYSOCK_SOCK_STREAM);
    CHECK_OK(polysock_setsockopt_int(s, POLYSOCK_IPPROTO_IP, POLYSOCK_IP_TTL, 33));
    CHECK_OK(polysock_getsockopt_int(s, POLYSOCK_IPPROTO_IP, POLYSOCK_IP_TTL, &v));
    CHECK_EQ(v, 33);
    polysock_close(s);
}

TEST(bytes_options_for_structs) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    struct linger l = {1, 7}, back = {0, 0};
    CHECK_OK(polysock_setsockopt_bytes(s, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_LINGER, &l, sizeof l));
    size_t n = 0;
    CHECK_OK(polysock_getsockopt_bytes(s, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_LINGER, &back, sizeof back, &n));
    CHECK_EQ(n, sizeof back);
    CHECK_EQ(back.l_onoff, 1);
    CHECK_EQ(back.l_linger, 7);
    /* A buffer shorter than the option gets only what fits. */
    char small[2];
    CHECK_OK(polysock_getsockopt_bytes(s, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_LINGER, small, sizeof small, &n));
    CHECK(n <= sizeof small);
    polysock_close(s);
}

static void roundtrip(polysock_t s, int opt, int64_t set, int64_t expect) {
    CHECK_OK(polysock_setopt(s, opt, set));
    int64_t got = -99;
    CHECK_OK(polysock_getopt(s, opt, &got));
    CHECK_EQ(got, expect);
}

TEST(typed_options_round_trip) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0);
    roundtrip(s, POLYSOCK_OPT_NODELAY, 1, 1);
    roundtrip(s, POLYSOCK_OPT_NODELAY, 0, 0);
    roundtrip(s, POLYSOCK_OPT_KEEPALIVE, 1, 1);
    roundtrip(s, POLYSOCK_OPT_KEEPIDLE, 30, 30);
    roundtrip(s, POLYSOCK_OPT_KEEPINTVL, 5, 5);
    roundtrip(s, POLYSOCK_OPT_KEEPCNT, 4, 4);
    roundtrip(s, POLYSOCK_OPT_LINGER, 3, 3);
    roundtrip(s, POLYSOCK_OPT_LINGER, -1, -1);
    roundtrip(s, POLYSOCK_OPT_LINGER, 0, 0);
    roundtrip(s, POLYSOCK_OPT_REUSEADDR, 1, 1);
    roundtrip(s, POLYSOCK_OPT_REUSEPORT, 1, 1);
    roundtrip(s, POLYSOCK_OPT_V6ONLY, 1, 1);
    roundtrip(s, POLYSOCK_OPT_V6ONLY, 0, 0);
    roundtrip(s, POLYSOCK_OPT_RCVTIMEO_MS, 1500, 1500);
    roundtrip(s, POLYSOCK_OPT_SNDTIMEO_MS, 2000, 2000); /* kernels round to their tick */
    roundtrip(s, POLYSOCK_OPT_RCVTIMEO_MS, 0, 0);
#ifdef __linux__
    CHECK_OK(polysock_setopt(s, POLYSOCK_OPT_QUICKACK, 1));
#else
    CHECK_ERR(polysock_setopt(s, POLYSOCK_OPT_QUICKACK, 1), ENOPROTOOPT);
#endif
    int64_t v;
    CHECK_OK(polysock_setopt(s, POLYSOCK_OPT_RCVBUF, 65536));
    CHECK_OK(polysock_getopt(s, POLYSOCK_OPT_RCVBUF, &v));
    CHECK(v >= 65536); /* Linux doubles it for bookkeeping */
    CHECK_OK(polysock_setopt(s, POLYSOCK_OPT_SNDBUF, 65536));
    CHECK_OK(polysock_getopt(s, POLYSOCK_OPT_SNDBUF, &v));
    CHECK(v >= 65536);
    polysock_close(s);

    polysock_t u = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    roundtrip(u, POLYSOCK_OPT_BROADCAST, 1, 1);
    /* A TCP option on a UDP socket is the kernel's clear refusal. */
    CHECK_EQ(polysock_setopt(u, POLYSOCK_OPT_NODELAY, 1), -1);
    CHECK(polysock_errno() == EOPNOTSUPP || polysock_errno() == ENOPROTOOPT);
    CHECK(strstr(polysock_last_error(), "TCP_NODELAY") != NULL);
    polysock_close(u);
}

TEST(reuseaddr_lets_a_port_be_rebound) {
    int port;
    polysock_t a = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_t c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(c, "127.0.0.1", port));
    polysock_t conn = polysock_accept(a, NULL);
    polysock_close(conn); /* server side closes first: TIME_WAIT on the port */
    polysock_close(c);
    polysock_close(a);
    polysock_t b = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_setopt(b, POLYSOCK_OPT_REUSEADDR, 1));
    CHECK_OK(polysock_bind(b, "127.0.0.1", port));
    polysock_close(b);
}

TEST(reuseport_shares_a_port) {
    polysock_t a = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    polysock_t b = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(polysock_setopt(a, POLYSOCK_OPT_REUSEPORT, 1));
    CHECK_OK(polysock_setopt(b, POLYSOCK_OPT_REUSEPORT, 1));
    CHECK_OK(polysock_bind(a, "127.0.0.1", 0));
    polysock_addr addr;
    CHECK_OK(polysock_getsockname(a, &addr));
    CHECK_OK(polysock_bind(b, "127.0.0.1", addr.port));
    polysock_t c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_ERR(polysock_bind(c, "127.0.0.1", addr.port), EADDRINUSE);
    polysock_close(a);
    polysock_close(b);
    polysock_close(c);
}

TEST(v6only_controls_mapped_ipv4) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_setopt(s, POLYSOCK_OPT_V6ONLY, 1));
    CHECK_OK(polysock_bind(s, "::", 0));
    CHECK_OK(polysock_listen(s, 4));
    polysock_addr a;
    CHECK_OK(polysock_getsockname(s, &a));
    polysock_t c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_ERR(polysock_connect(c, "127.0.0.1", a.port), ECONNREFUSED);
    polysock_close(c);
    polysock_close(s);
}
