/* create_connection (Happy Eyeballs v2) and create_server, from C.
 *
 * Never a DNS query and never a packet off loopback. The Happy Eyeballs
 * cases need a name with two addresses and an address that never answers;
 * they run in a private network namespace (unshare, as root) with a private
 * /etc/hosts bind-mounted in a private mount namespace, and are skipped
 * with a message where that is not possible. Each test runs in its own
 * forked process (harness.h), so the namespaces end with it. */
#include "harness.h"
#include <sched.h>
#include <sys/mount.h>
#include <time.h>

/* A port nothing listens on: a bound socket that does not listen refuses
 * connections, and keeps the port from being taken meanwhile. */
static polysock_t refusing_port(int family, const char *host, int *port) {
    polysock_t s = polysock_socket(family, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(s);
    CHECK_OK(polysock_bind(s, host, 0));
    polysock_addr a;
    CHECK_OK(polysock_getsockname(s, &a));
    *port = a.port;
    return s;
}

/* A listener on `host`:`port` whose accept queue is full, so new SYNs are
 * dropped: an address that never answers, on loopback. */
static polysock_t silent_listener(int family, const char *host, int *port) {
    polysock_t srv = polysock_socket(family, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(srv);
    CHECK_OK(polysock_setopt(srv, POLYSOCK_OPT_REUSEADDR, 1));
    if (family == POLYSOCK_AF_INET6) CHECK_OK(polysock_setopt(srv, POLYSOCK_OPT_V6ONLY, 1));
    CHECK_OK(polysock_bind(srv, host, *port));
    CHECK_OK(polysock_listen(srv, 0));
    polysock_addr a;
    CHECK_OK(polysock_getsockname(srv, &a));
    *port = a.port;
    for (int i = 0; i < 8; i++) {
        polysock_t c = polysock_socket(family, POLYSOCK_SOCK_STREAM, 0);
        CHECK_OK(polysock_settimeout(c, 200));
        if (polysock_connect(c, host, *port) < 0) {
            CHECK_EQ(polysock_errno(), ETIMEDOUT);
            polysock_close(c);
            return srv; /* the fillers stay open until the test ends */
        }
    }
    FAIL_("the accept queue of %s never filled", host);
    return -1;
}

/* Moves this test process into a private network namespace (lo up, and a
 * route that swallows TEST-NET-2, 198.51.100.0/24: its packets loop back
 * to a stack that owns no such address and drops them, so a SYN to it is
 * never answered; a `blackhole` route would fail connect() at once
 * instead). With `hosts`, also a private mount namespace whose /etc/hosts
 * holds `hosts`. Returns 0, or -1 after printing why the test is skipped. */
static int enter_private_net(const char *hosts) {
    if (geteuid() != 0) {
        printf("  skipped: a private network namespace needs root\n");
        return -1;
    }
    if (unshare(CLONE_NEWNET | (hosts ? CLONE_NEWNS : 0)) != 0) {
        printf("  skipped: unshare(CLONE_NEWNET%s): %s\n", hosts ? "|CLONE_NEWNS" : "",
               strerror(errno));
        return -1;
    }
    if (system("PATH=/usr/sbin:/sbin:$PATH; ip link set lo up && "
               "ip route add 198.51.100.0/24 dev lo") != 0) {
        printf("  skipped: `ip` (iproute2) could not set up the namespace\n");
        return -1;
    }
    if (hosts) {
        /* The kernel ignores the type for a propagation change and a bind
         * mount (mount(2)); it is a string all the same, since valgrind
         * reads it as one. */
        if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
            printf("  skipped: making mounts private: %s\n", strerror(errno));
            return -1;
        }
        char path[] = "/tmp/polysock-hosts-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        CHECK_EQ(write(fd, hosts, strlen(hosts)), (long long)strlen(hosts));
        close(fd);
        int rc = mount(path, "/etc/hosts", "none", MS_BIND, NULL);
        unlink(path);
        if (rc != 0) {
            printf("  skipped: bind-mounting a private /etc/hosts: %s\n", strerror(errno));
            return -1;
        }
    }
    return 0;
}

#define HE_HOSTS "::1 polysock-he.test\n127.0.0.1 polysock-he.test\n"

/* The private /etc/hosts is in effect: the name has both addresses, IPv6
 * first (RFC 6724 ranks ::1 above IPv4 loopback). */
static void check_two_addresses(void) {
    polysock_addrinfo res[4];
    size_t n;
    CHECK_EQ(polysock_getaddrinfo("polysock-he.test", "1", 0, POLYSOCK_SOCK_STREAM, 0, 0, res,
                                  4, &n), 2);
    CHECK_STR(res[0].addr.host, "::1");
    CHECK_STR(res[1].addr.host, "127.0.0.1");
}

TEST(connects_to_numeric_hosts_and_localhost) {
    int port, port6;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_t c = polysock_create_connection("127.0.0.1", port, 5000, NULL, 0);
    CHECK_OK(c);
    polysock_addr peer;
    CHECK_OK(polysock_getpeername(c, &peer));
    CHECK_STR(peer.host, "127.0.0.1");
    CHECK_EQ(peer.port, port);
    polysock_t s = polysock_accept(srv, NULL);
    CHECK_OK(s);
    CHECK_EQ(polysock_sendall(c, "hi", 2, 0, NULL), 2);
    char buf[2];
    CHECK_EQ(polysock_recv(s, buf, 2, 0), 2);
    polysock_socket_info info;
    CHECK_OK(polysock_info(c, &info));
    CHECK_EQ(info.connected, 1);
    CHECK_EQ(info.client, 1);
    CHECK_EQ(info.family, POLYSOCK_AF_INET);
    polysock_close(c);
    polysock_close(s);

    c = polysock_create_connection("localhost", port, -1, NULL, 0);
    CHECK_OK(c);
    polysock_close(c);
    polysock_close(polysock_accept(srv, NULL));
    polysock_close(srv);

    srv = listen_tcp(POLYSOCK_AF_INET6, "::1", &port6);
    c = polysock_create_connection("::1", port6, 5000, NULL, 0);
    CHECK_OK(c);
    CHECK_OK(polysock_getpeername(c, &peer));
    CHECK_STR(peer.host, "::1");
    polysock_close(c);
    c = polysock_create_connection("[::1]", port6, 5000, NULL, 0);
    CHECK_OK(c);
    polysock_close(c);
    polysock_close(srv);
}

/* The winner behaves as any new socket: the process default timeout. */
TEST(winner_gets_the_default_timeout) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    int64_t t = 0;
    polysock_t c = polysock_create_connection("127.0.0.1", port, 300, NULL, 0);
    CHECK_OK(polysock_gettimeout(c, &t));
    CHECK_EQ(t, -1);
    CHECK_EQ(polysock_getblocking(c), 1);
    polysock_close(c);
    CHECK_OK(polysock_setdefaulttimeout(750));
    c = polysock_create_connection("127.0.0.1", port, 300, NULL, 0);
    CHECK_OK(polysock_gettimeout(c, &t));
    CHECK_EQ(t, 750);
    polysock_close(c);
    polysock_close(srv);
}

TEST(source_address_is_bound_first) {
    int port, src_port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_t probe = refusing_port(POLYSOCK_AF_INET, "127.0.0.1", &src_port);
    polysock_close(probe); /* never connected: the port is free again at once */
    polysock_t c = polysock_create_connection("127.0.0.1", port, 5000, "127.0.0.1", src_port);
    CHECK_OK(c);
    polysock_addr from;
    polysock_t s = polysock_accept(srv, &from);
    CHECK_OK(s);
    CHECK_STR(from.host, "127.0.0.1");
    CHECK_EQ(from.port, src_port);
    /* The same source port again is taken: every attempt fails to bind. */
    CHECK_ERR(polysock_create_connection("127.0.0.1", port, 5000, "127.0.0.1", src_port),
              EADDRINUSE);
    CHECK(strstr(polysock_last_error(), "Address already in use") != NULL);
    polysock_close(c);
    polysock_close(s);
    polysock_close(srv);
}

TEST(refused_names_the_address_and_leaks_nothing) {
    int port;
    polysock_t hold = refusing_port(POLYSOCK_AF_INET, "127.0.0.1", &port);
    int fds = open_fd_count();
    CHECK_ERR(polysock_create_connection("127.0.0.1", port, 5000, NULL, 0), ECONNREFUSED);
    char want[160];
    snprintf(want, sizeof want,
             "create_connection 127.0.0.1:%d (1 address: 127.0.0.1:%d Connection refused): "
             "Connection refused", port, port);
    CHECK_STR(polysock_last_error(), want);
    CHECK_EQ(open_fd_count(), fds);
    polysock_close(hold);
}

TEST(bad_input_is_a_clear_error) {
    CHECK_ERR(polysock_create_connection(NULL, 80, 1000, NULL, 0), EINVAL);
    CHECK_STR(polysock_last_error(), "create_connection: host is NULL: Invalid argument");
    CHECK_ERR(polysock_create_connection("", 80, 1000, NULL, 0), EINVAL);
    CHECK_ERR(polysock_create_connection("127.0.0.1", 70000, 1000, NULL, 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "port 70000 is out of range") != NULL);
    CHECK_ERR(polysock_create_connection("127.0.0.1", -1, 1000, NULL, 0), EINVAL);
    CHECK_ERR(polysock_create_connection("127.0.0.1", 80, 0, NULL, 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "timeout 0 ms is invalid") != NULL);
    CHECK_ERR(polysock_create_connection("127.0.0.1", 80, -2, NULL, 0), EINVAL);
    CHECK_ERR(polysock_create_connection("127.0.0.1", 80, 1000, NULL, 70000), EINVAL);
    CHECK_ERR(polysock_create_connection_ex("127.0.0.1", 80, 1000, NULL, 0, -5), EINVAL);
    CHECK(strstr(polysock_last_error(), "stagger delay -5 ms is invalid") != NULL);
    CHECK_ERR(polysock_create_connection("bad..name", 80, 1000, NULL, 0), POLYSOCK_EAI_NONAME);
    CHECK_STR(polysock_last_error(),
              "create_connection bad..name service 80: Name or service not known");
    CHECK_ERR(polysock_create_connection("not a host!", 80, -1, NULL, 0), POLYSOCK_EAI_NONAME);
    CHECK_ERR(polysock_create_connection("127.0.0.1", 80, 1000, "bad..name", 0),
              POLYSOCK_EAI_NONAME);
}

/* One deadline for the whole call, against an address that never answers
 * (a full accept queue on loopback: runs everywhere). */
TEST(deadline_against_a_silent_listener) {
    int port = 0;
    polysock_t srv = silent_listener(POLYSOCK_AF_INET, "127.0.0.1", &port);
    double t0 = now_ms();
    CHECK_ERR(polysock_create_connection("127.0.0.1", port, 300, NULL, 0), ETIMEDOUT);
    double took = now_ms() - t0;
    CHECK(took >= 299);
    CHECK(took < 10000);
    CHECK(strstr(polysock_last_error(), "timed out after 300 ms") != NULL);
    polysock_close(srv);
}

/* The same against an address whose SYNs vanish: a route in a private
 * network namespace. */
TEST(deadline_against_a_blackholed_address) {
    if (enter_private_net(NULL) != 0) return;
    int fds = open_fd_count();
    double t0 = now_ms();
    CHECK_ERR(polysock_create_connection("198.51.100.1", 80, 300, NULL, 0), ETIMEDOUT);
    double took = now_ms() - t0;
    CHECK(took >= 299);
    CHECK(took < 10000);
    CHECK_STR(polysock_last_error(),
              "create_connection 198.51.100.1:80 (1 address: 198.51.100.1:80 timed out after "
              "300 ms): Connection timed out");
    CHECK_EQ(open_fd_count(), fds);
}

/* RFC 8305: the first address (::1) refuses, so the second (127.0.0.1) is
 * tried at once and wins. */
TEST(happy_eyeballs_first_refuses_second_accepts) {
    if (enter_private_net(HE_HOSTS) != 0) return;
    check_two_addresses();
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    int fds = open_fd_count();
    double t0 = now_ms();
    polysock_t c = polysock_create_connection_ex("polysock-he.test", port, 10000, NULL, 0, 5000);
    CHECK_OK(c);
    CHECK(now_ms() - t0 < 5000); /* did not wait for the stagger after a refusal */
    polysock_addr peer;
    CHECK_OK(polysock_getpeername(c, &peer));
    CHECK_STR(peer.host, "127.0.0.1");
    CHECK_EQ(open_fd_count(), fds + 1); /* the refused attempt's socket is closed */
    polysock_close(c);
    polysock_close(srv);
}

/* RFC 8305: the first address (::1) never answers; after the stagger delay
 * the second (127.0.0.1) starts, wins, and the pending first attempt is
 * closed before the call returns. */
TEST(happy_eyeballs_slow_first_loses_after_the_stagger) {
    if (enter_private_net(HE_HOSTS) != 0) return;
    check_two_addresses();
    int port;
    polysock_t srv4 = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    int port6 = port;
    polysock_t srv6 = silent_listener(POLYSOCK_AF_INET6, "::1", &port6);
    CHECK_EQ(port6, port);
    int fds = open_fd_count();
    double t0 = now_ms();
    polysock_t c = polysock_create_connection_ex("polysock-he.test", port, 10000, NULL, 0, 200);
    double took = now_ms() - t0;
    CHECK_OK(c);
    CHECK(took >= 199); /* the second attempt waited for the stagger */
    CHECK(took < 10000);
    polysock_addr peer;
    CHECK_OK(polysock_getpeername(c, &peer));
    CHECK_STR(peer.host, "127.0.0.1");
    CHECK_EQ(open_fd_count(), fds + 1); /* only the winner is left open */
    polysock_close(c);
    polysock_close(srv4);
    polysock_close(srv6);
}

/* Every attempt fails: the message names each address and its error (as
 * CPython's all_errors), and the code is the most telling. */
TEST(happy_eyeballs_reports_every_attempt) {
    if (enter_private_net(HE_HOSTS) != 0) return;
    check_two_addresses();
    int port;
    polysock_t hold = refusing_port(POLYSOCK_AF_INET, "127.0.0.1", &port);
    int fds = open_fd_count();
    CHECK_ERR(polysock_create_connection("polysock-he.test", port, 5000, NULL, 0), ECONNREFUSED);
    char want[256];
    snprintf(want, sizeof want,
             "create_connection polysock-he.test:%d (2 addresses: [::1]:%d Connection refused; "
             "127.0.0.1:%d Connection refused): Connection refused", port, port, port);
    CHECK_STR(polysock_last_error(), want);
    CHECK_EQ(open_fd_count(), fds);
    polysock_close(hold);
}

/* Both addresses silent: one deadline covers both attempts. */
TEST(happy_eyeballs_deadline_covers_all_attempts) {
    if (enter_private_net("198.51.100.1 polysock-slow.test\n198.51.100.2 polysock-slow.test\n")
        != 0)
        return;
    double t0 = now_ms();
    CHECK_ERR(polysock_create_connection_ex("polysock-slow.test", 80, 400, NULL, 0, 100),
              ETIMEDOUT);
    double took = now_ms() - t0;
    CHECK(took >= 399);
    CHECK(took < 10000);
    CHECK(strstr(polysock_last_error(), "(2 addresses: 198.51.100.") != NULL);
    CHECK(strstr(polysock_last_error(), "timed out after 400 ms; 198.51.100.") != NULL);
}

TEST(server_defaults) {
    polysock_t srv = polysock_create_server("127.0.0.1", 0, POLYSOCK_AF_INET, -1, 0);
    CHECK_OK(srv);
    int v = 0;
    CHECK_OK(polysock_getsockopt_int(srv, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_REUSEADDR, &v));
    CHECK(v != 0);
    polysock_socket_info info;
    CHECK_OK(polysock_info(srv, &info));
    CHECK_EQ(info.listening, 1);
    CHECK_STR(info.local.host, "127.0.0.1");
    polysock_t c = polysock_create_connection("127.0.0.1", info.local.port, 5000, NULL, 0);
    CHECK_OK(c);
    polysock_t s = polysock_accept(srv, NULL);
    CHECK_OK(s);
    polysock_close(s);
    polysock_close(c);
    polysock_close(srv);
    /* No host: the any address; no family: AF_INET. */
    srv = polysock_create_server(NULL, 0, 0, 5, 0);
    CHECK_OK(srv);
    CHECK_OK(polysock_info(srv, &info));
    CHECK_STR(info.local.host, "0.0.0.0");
    polysock_close(srv);
    /* AF_INET6 without dual-stack is IPv6 only, as in CPython. */
    srv = polysock_create_server("::1", 0, POLYSOCK_AF_INET6, -1, 0);
    CHECK_OK(srv);
    CHECK_OK(polysock_getsockopt_int(srv, POLYSOCK_IPPROTO_IPV6, POLYSOCK_IPV6_V6ONLY, &v));
    CHECK_EQ(v, 1);
    polysock_close(srv);
}

/* An IPv4 client and an IPv6 client reach the same dual-stack socket; the
 * IPv4 peer shows as ::ffff:127.0.0.1. */
TEST(dual_stack_server_accepts_both_families) {
    if (!polysock_has_ipv6()) {
        printf("  skipped: no IPv6 on this machine\n");
        return;
    }
    polysock_t srv = polysock_create_server(NULL, 0, POLYSOCK_AF_INET6, -1,
                                            POLYSOCK_SERVER_DUALSTACK);
    CHECK_OK(srv);
    int v = 1;
    CHECK_OK(polysock_getsockopt_int(srv, POLYSOCK_IPPROTO_IPV6, POLYSOCK_IPV6_V6ONLY, &v));
    CHECK_EQ(v, 0);
    polysock_addr local;
    CHECK_OK(polysock_getsockname(srv, &local));
    CHECK_STR(local.host, "::");

    polysock_t c4 = polysock_create_connection("127.0.0.1", local.port, 5000, NULL, 0);
    CHECK_OK(c4);
    polysock_addr from;
    polysock_t s4 = polysock_accept(srv, &from);
    CHECK_OK(s4);
    CHECK_STR(from.host, "::ffff:127.0.0.1");
    polysock_addr peer;
    CHECK_OK(polysock_getpeername(s4, &peer));
    CHECK_STR(peer.host, "::ffff:127.0.0.1");
    polysock_addr c4_local;
    CHECK_OK(polysock_getsockname(c4, &c4_local));
    CHECK_EQ(peer.port, c4_local.port);

    polysock_t c6 = polysock_create_connection("::1", local.port, 5000, NULL, 0);
    CHECK_OK(c6);
    polysock_t s6 = polysock_accept(srv, &from);
    CHECK_OK(s6);
    CHECK_STR(from.host, "::1");

    /* Both reach the same socket, and talk. */
    CHECK_EQ(polysock_sendall(c4, "4", 1, 0, NULL), 1);
    CHECK_EQ(polysock_sendall(c6, "6", 1, 0, NULL), 1);
    char b4, b6;
    CHECK_EQ(polysock_recv(s4, &b4, 1, 0), 1);
    CHECK_EQ(polysock_recv(s6, &b6, 1, 0), 1);
    CHECK_EQ(b4, '4');
    CHECK_EQ(b6, '6');
    polysock_close(c4);
    polysock_close(c6);
    polysock_close(s4);
    polysock_close(s6);
    polysock_close(srv);
    /* AF_UNSPEC with dual-stack means AF_INET6. */
    srv = polysock_create_server(NULL, 0, 0, -1, POLYSOCK_SERVER_DUALSTACK);
    CHECK_OK(srv);
    polysock_socket_info info;
    CHECK_OK(polysock_info(srv, &info));
    CHECK_EQ(info.family, POLYSOCK_AF_INET6);
    polysock_close(srv);
}

TEST(server_reuseport) {
    polysock_t a = polysock_create_server("127.0.0.1", 0, POLYSOCK_AF_INET, -1, 0);
    CHECK_OK(a);
    polysock_addr la;
    CHECK_OK(polysock_getsockname(a, &la));
    CHECK_ERR(polysock_create_server("127.0.0.1", la.port, POLYSOCK_AF_INET, -1, 0),
              EADDRINUSE);
    char want[96];
    snprintf(want, sizeof want, "bind 127.0.0.1:%d: Address already in use", la.port);
    CHECK_STR(polysock_last_error(), want);
    polysock_close(a);

    a = polysock_create_server("127.0.0.1", 0, POLYSOCK_AF_INET, -1, POLYSOCK_SERVER_REUSEPORT);
    CHECK_OK(a);
    CHECK_OK(polysock_getsockname(a, &la));
    polysock_t b = polysock_create_server("127.0.0.1", la.port, POLYSOCK_AF_INET, -1,
                                          POLYSOCK_SERVER_REUSEPORT);
    CHECK_OK(b);
    int v = 0;
    CHECK_OK(polysock_getsockopt_int(b, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_REUSEPORT, &v));
    CHECK(v != 0);
    polysock_close(a);
    polysock_close(b);
}

TEST(server_bad_input) {
    CHECK_ERR(polysock_create_server(NULL, 0, POLYSOCK_AF_INET, -1, 8), EINVAL);
    CHECK(strstr(polysock_last_error(), "unknown flags 0x8") != NULL);
    CHECK_ERR(polysock_create_server(NULL, 0, POLYSOCK_AF_INET, -1, POLYSOCK_SERVER_DUALSTACK),
              EINVAL);
    CHECK(strstr(polysock_last_error(), "needs an AF_INET6 socket") != NULL);
    CHECK_ERR(polysock_create_server(NULL, 0, POLYSOCK_AF_UNIX, -1, 0), EAFNOSUPPORT);
    CHECK_ERR(polysock_create_server(NULL, 70000, POLYSOCK_AF_INET, -1, 0), EINVAL);
    CHECK_ERR(polysock_create_server("bad..name", 0, 0, -1, 0), POLYSOCK_EAI_NONAME);
    CHECK_ERR(polysock_create_server("::1", 0, POLYSOCK_AF_INET, -1, 0), EAFNOSUPPORT);
}
