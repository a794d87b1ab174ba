/* Echo over every transport: TCP on IPv4 and IPv6, Unix stream (path and
 * abstract name), UDP, Unix datagram, socketpair, and half-close. */
#include "harness.h"

/* Client connects, sends, server echoes, client reads it back. */
static void echo_stream(int family, const char *bind_host, const char *connect_host) {
    polysock_t srv = polysock_socket(family, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(srv);
    int port = 0;
    CHECK_OK(polysock_bind(srv, bind_host, 0));
    CHECK_OK(polysock_listen(srv, -1));
    polysock_addr local;
    CHECK_OK(polysock_getsockname(srv, &local));
    port = local.port;
    polysock_t cli = polysock_socket(family, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(cli);
    CHECK_OK(polysock_settimeout(cli, 5000));
    CHECK_OK(polysock_connect(cli, connect_host, port));
    polysock_addr peer;
    polysock_t conn = polysock_accept(srv, &peer);
    CHECK_OK(conn);
    CHECK_EQ(peer.family, family);

    const char msg[] = "hello, polysock";
    size_t sent = 0;
    CHECK_EQ(polysock_sendall(cli, msg, sizeof msg, 0, &sent), sizeof msg);
    CHECK_EQ(sent, sizeof msg);
    char buf[64];
    CHECK_EQ(polysock_recv_exact(conn, buf, sizeof msg, 0, NULL), sizeof msg);
    CHECK_EQ(polysock_send(conn, buf, sizeof msg, 0), sizeof msg);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(polysock_recv_exact(cli, buf, sizeof msg, 0, NULL), sizeof msg);
    CHECK_STR(buf, msg);

    polysock_socket_info info;
    CHECK_OK(polysock_info(cli, &info));
    CHECK_EQ(info.connected, 1);
    CHECK_EQ(info.client, 1);
    CHECK_EQ(info.family, family);
    CHECK_EQ(info.socktype, POLYSOCK_SOCK_STREAM);
    CHECK_EQ(info.timeout_ms, 5000);
    CHECK_OK(polysock_info(srv, &info));
    CHECK_EQ(info.listening, 1);
    CHECK_EQ(info.bound, 1);
    CHECK_EQ(info.connected, 0);

    CHECK_OK(polysock_close(conn));
    CHECK_OK(polysock_close(cli));
    CHECK_OK(polysock_close(srv));
}

TEST(tcp_ipv4) { echo_stream(POLYSOCK_AF_INET, "127.0.0.1", "127.0.0.1"); }
TEST(tcp_ipv6) { echo_stream(POLYSOCK_AF_INET6, "::1", "::1"); }
TEST(tcp_ipv6_brackets) { echo_stream(POLYSOCK_AF_INET6, "[::1]", "[::1]"); }
TEST(tcp_localhost_name) { echo_stream(POLYSOCK_AF_INET, "localhost", "localhost"); }

TEST(unix_stream_path) {
    const char *path = temp_socket_path("echo.sock");
    echo_stream(POLYSOCK_AF_UNIX, path, path);
    unlink(path);
}

TEST(unix_stream_abstract) {
    char name[64];
    snprintf(name, sizeof name, "@polysock-test-%d", (int)getpid());
    echo_stream(POLYSOCK_AF_UNIX, name, name);
}

TEST(peer_addresses_are_text) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET6, "::1", &port);
    polysock_t cli = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(cli, "::1", port));
    polysock_addr a;
    CHECK_OK(polysock_getpeername(cli, &a));
    CHECK_STR(a.host, "::1");
    CHECK_EQ(a.port, port);
    CHECK_EQ(a.family, POLYSOCK_AF_INET6);
    polysock_close(cli);
    polysock_close(srv);
}

static void echo_dgram(int family, const char *host_a, const char *host_b) {
    polysock_t a = polysock_socket(family, POLYSOCK_SOCK_DGRAM, 0);
    polysock_t b = polysock_socket(family, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(a);
    CHECK_OK(b);
    CHECK_OK(polysock_settimeout(a, 5000));
    CHECK_OK(polysock_settimeout(b, 5000));
    CHECK_OK(polysock_bind(a, host_a, 0));
    CHECK_OK(polysock_bind(b, host_b, 0));
    polysock_addr addr_a, addr_b, from;
    CHECK_OK(polysock_getsockname(a, &addr_a));
    CHECK_OK(polysock_getsockname(b, &addr_b));

    CHECK_EQ(polysock_sendto(a, "ping", 4, 0, addr_b.host, addr_b.port), 4);
    char buf[16] = {0};
    CHECK_EQ(polysock_recvfrom(b, buf, sizeof buf, 0, &from), 4);
    CHECK_STR(buf, "ping");
    CHECK_STR(from.host, addr_a.host);
    CHECK_EQ(from.port, addr_a.port);
    CHECK_EQ(polysock_sendto(b, "pong", 4, 0, from.host, from.port), 4);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(polysock_recvfrom(a, buf, sizeof buf, 0, NULL), 4);
    CHECK_STR(buf, "pong");
    /* An empty datagram is a real datagram: recv returns 0 for it. */
    CHECK_EQ(polysock_sendto(a, "", 0, 0, addr_b.host, addr_b.port), 0);
    CHECK_EQ(polysock_recv(b, buf, sizeof buf, 0), 0);
    polysock_close(a);
    polysock_close(b);
}

TEST(udp_ipv4) { echo_dgram(POLYSOCK_AF_INET, "127.0.0.1", "127.0.0.1"); }
TEST(udp_ipv6) { echo_dgram(POLYSOCK_AF_INET6, "::1", "::1"); }

TEST(unix_dgram) {
    char pa[128], pb[128];
    snprintf(pa, sizeof pa, "%s", temp_socket_path("a.dgram"));
    snprintf(pb, sizeof pb, "%s", temp_socket_path("b.dgram"));
    echo_dgram(POLYSOCK_AF_UNIX, pa, pb);
    unlink(pa);
    unlink(pb);
}

TEST(socketpair_both_ways) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    CHECK(p[0] != p[1]);
    char buf[8] = {0};
    CHECK_EQ(polysock_send(p[0], "abc", 3, 0), 3);
    CHECK_EQ(polysock_recv(p[1], buf, sizeof buf, 0), 3);
    CHECK_STR(buf, "abc");
    CHECK_EQ(polysock_send(p[1], "xy", 2, 0), 2);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(polysock_recv(p[0], buf, sizeof buf, 0), 2);
    CHECK_STR(buf, "xy");
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(socketpair_seqpacket_keeps_boundaries) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_SEQPACKET, 0, p));
    CHECK_EQ(polysock_send(p[0], "one", 3, 0), 3);
    CHECK_EQ(polysock_send(p[0], "three", 5, 0), 5);
    char buf[16];
    CHECK_EQ(polysock_recv(p[1], buf, sizeof buf, 0), 3);
    CHECK_EQ(polysock_recv(p[1], buf, sizeof buf, 0), 5);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

/* shutdown(SHUT_WR) on each side in turn: the other side reads EOF while
 * still able to send. */
TEST(half_close_both_directions) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_t cli = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(cli, "127.0.0.1", port));
    polysock_t conn = polysock_accept(srv, NULL);
    CHECK_OK(conn);
    CHECK_OK(polysock_settimeout(conn, 5000));
    CHECK_OK(polysock_settimeout(cli, 5000));
    char buf[16];

    CHECK_EQ(polysock_send(cli, "req", 3, 0), 3);
    CHECK_OK(polysock_shutdown(cli, POLYSOCK_SHUT_WR));
    CHECK_EQ(polysock_recv_exact(conn, buf, 3, 0, NULL), 3);
    CHECK_EQ(polysock_recv(conn, buf, sizeof buf, 0), 0); /* EOF */
    /* The server can still answer over the other half. */
    CHECK_EQ(polysock_send(conn, "resp", 4, 0), 4);
    CHECK_EQ(polysock_recv_exact(cli, buf, 4, 0, NULL), 4);
    polysock_socket_info info;
    CHECK_OK(polysock_info(cli, &info));
    CHECK_EQ(info.shutdown, POLYSOCK_SHUT_WR);
    CHECK_OK(polysock_shutdown(conn, POLYSOCK_SHUT_WR));
    CHECK_EQ(polysock_recv(cli, buf, sizeof buf, 0), 0);
    CHECK_OK(polysock_info(conn, &info));
    CHECK_EQ(info.shutdown, POLYSOCK_SHUT_WR);
    polysock_close(conn);
    polysock_close(cli);
    polysock_close(srv);
}

/* recv_exact reports EOF before the requested count as POLYSOCK_EEOF with
 * the partial count. */
TEST(recv_exact_short_stream) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    CHECK_EQ(polysock_send(p[0], "12345", 5, 0), 5);
    CHECK_OK(polysock_close(p[0]));
    char buf[10];
    size_t got = 99;
    CHECK_ERR(polysock_recv_exact(p[1], buf, sizeof buf, 0, &got), POLYSOCK_EEOF);
    CHECK_EQ(got, 5);
    CHECK(memcmp(buf, "12345", 5) == 0);
    polysock_close(p[1]);
}

TEST(peek_leaves_data) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    CHECK_EQ(polysock_send(p[0], "peek", 4, 0), 4);
    char buf[8] = {0};
    CHECK_EQ(polysock_recv(p[1], buf, sizeof buf, POLYSOCK_MSG_PEEK), 4);
    CHECK_EQ(polysock_recv(p[1], buf, sizeof buf, 0), 4);
    CHECK_ERR(polysock_recv(p[1], buf, sizeof buf, POLYSOCK_MSG_DONTWAIT), EAGAIN);
    polysock_close(p[0]);
    polysock_close(p[1]);
}
