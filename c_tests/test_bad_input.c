/* Every export with bad input: dead handles, NULL pointers, lengths that
 * were negative before the cast to size_t, garbage hosts, ports out of
 * range, unknown levels and options. Each gets its documented code and a
 * message; none crashes. (Hosts used here are rejected by the resolver
 * itself, without asking any DNS server.) */
#include "harness.h"

#define HUGE_LEN ((size_t)-1)
#define NEG_LEN ((size_t)-5)

static polysock_t stale_handle(void) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    polysock_close(s);
    return s;
}

TEST(dead_handles_are_ebadf_everywhere) {
    polysock_t bad[] = {-1, 0, 3, 12345, (polysock_t)1 << 60, (polysock_t)1 << 53, stale_handle()};
    char buf[8];
    size_t n;
    int iv;
    int64_t lv;
    polysock_addr a;
    polysock_socket_info info;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        polysock_t h = bad[i];
        CHECK_ERR(polysock_bind(h, "127.0.0.1", 0), EBADF);
        CHECK_ERR(polysock_listen(h, 1), EBADF);
        CHECK_ERR(polysock_accept(h, &a), EBADF);
        CHECK_ERR(polysock_connect(h, "127.0.0.1", 1), EBADF);
        CHECK_ERR(polysock_shutdown(h, POLYSOCK_SHUT_RDWR), EBADF);
        CHECK_ERR(polysock_fileno(h), EBADF);
        CHECK_ERR(polysock_dup(h), EBADF);
        CHECK_ERR(polysock_detach(h), EBADF);
        CHECK_ERR(polysock_settimeout(h, 1), EBADF);
        CHECK_ERR(polysock_gettimeout(h, &lv), EBADF);
        CHECK_ERR(polysock_setblocking(h, 1), EBADF);
        CHECK_ERR(polysock_getblocking(h), EBADF);
        CHECK_ERR(polysock_getsockname(h, &a), EBADF);
        CHECK_ERR(polysock_getpeername(h, &a), EBADF);
        CHECK_ERR(polysock_info(h, &info), EBADF);
        CHECK_ERR(polysock_send(h, "x", 1, 0), EBADF);
        CHECK_ERR(polysock_sendall(h, "x", 1, 0, &n), EBADF);
        CHECK_ERR(polysock_recv(h, buf, sizeof buf, 0), EBADF);
        CHECK_ERR(polysock_recv_exact(h, buf, sizeof buf, 0, &n), EBADF);
        CHECK_ERR(polysock_sendto(h, "x", 1, 0, "127.0.0.1", 9), EBADF);
        CHECK_ERR(polysock_recvfrom(h, buf, sizeof buf, 0, &a), EBADF);
        CHECK_ERR(polysock_setsockopt_int(h, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_REUSEADDR, 1), EBADF);
        CHECK_ERR(polysock_getsockopt_int(h, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_REUSEADDR, &iv), EBADF);
        CHECK_ERR(polysock_setsockopt_bytes(h, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_REUSEADDR, &iv, sizeof iv), EBADF);
        CHECK_ERR(polysock_getsockopt_bytes(h, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_REUSEADDR, buf, sizeof buf, &n), EBADF);
        CHECK_ERR(polysock_setopt(h, POLYSOCK_OPT_NODELAY, 1), EBADF);
        CHECK_ERR(polysock_getopt(h, POLYSOCK_OPT_NODELAY, &lv), EBADF);
        CHECK_EQ(polysock_close(h), 0); /* harmless */
    }
    CHECK_ERR(polysock_handle_of_fd(-7), EBADF);
    CHECK_ERR(polysock_fromfd(-1), EBADF);
    CHECK_ERR(polysock_adopt_fd(-1), EBADF);
}

TEST(null_pointers_are_einval) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    polysock_t h = p[0];
    char buf[8];
    CHECK_ERR(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, NULL), EINVAL);
    CHECK_ERR(polysock_gettimeout(h, NULL), EINVAL);
    CHECK_ERR(polysock_getsockname(h, NULL), EINVAL);
    CHECK_ERR(polysock_getpeername(h, NULL), EINVAL);
    CHECK_ERR(polysock_info(h, NULL), EINVAL);
    CHECK_ERR(polysock_send(h, NULL, 4, 0), EINVAL);
    CHECK_ERR(polysock_sendall(h, NULL, 4, 0, NULL), EINVAL);
    CHECK_ERR(polysock_recv(h, NULL, 4, 0), EINVAL);
    CHECK_ERR(polysock_recv_exact(h, NULL, 4, 0, NULL), EINVAL);
    CHECK_ERR(polysock_sendto(h, NULL, 4, 0, "/x", 0), EINVAL);
    CHECK_ERR(polysock_recvfrom(h, NULL, 4, 0, NULL), EINVAL);
    CHECK_ERR(polysock_getsockopt_int(h, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_TYPE, NULL), EINVAL);
    CHECK_ERR(polysock_setsockopt_bytes(h, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_RCVBUF, NULL, 4), EINVAL);
    size_t n;
    CHECK_ERR(polysock_getsockopt_bytes(h, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_TYPE, NULL, 4, &n), EINVAL);
    CHECK_ERR(polysock_getsockopt_bytes(h, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_TYPE, buf, sizeof buf, NULL), EINVAL);
    CHECK_ERR(polysock_getopt(h, POLYSOCK_OPT_RCVBUF, NULL), EINVAL);
    const char *name;
    int64_t v;
    CHECK_ERR(polysock_constant_at(0, NULL, &v), EINVAL);
    CHECK_ERR(polysock_constant_at(0, &name, NULL), EINVAL);
    CHECK_ERR(polysock_constant_lookup(NULL, &v), EINVAL);
    CHECK_ERR(polysock_constant_lookup("AF_INET", NULL), EINVAL);
    /* NULL where documented as optional is fine. */
    CHECK_EQ(polysock_send(h, NULL, 0, 0), 0);
    CHECK_EQ(polysock_send(h, "ab", 2, 0), 2);
    CHECK_EQ(polysock_recvfrom(p[1], buf, sizeof buf, 0, NULL), 2);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(negative_and_huge_lengths_are_einval) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    polysock_t h = p[0];
    char buf[8];
    size_t n = 99;
    size_t lens[] = {HUGE_LEN, NEG_LEN, (size_t)1 << 63};
    for (int i = 0; i < 3; i++) {
        CHECK_ERR(polysock_send(h, buf, lens[i], 0), EINVAL);
        CHECK(strstr(polysock_last_error(), "too large") != NULL);
        CHECK_ERR(polysock_sendall(h, buf, lens[i], 0, &n), EINVAL);
        CHECK_ERR(polysock_recv(h, buf, lens[i], 0), EINVAL);
        CHECK_ERR(polysock_recv_exact(h, buf, lens[i], 0, &n), EINVAL);
        CHECK_ERR(polysock_sendto(h, buf, lens[i], 0, "/x", 0), EINVAL);
        CHECK_ERR(polysock_recvfrom(h, buf, lens[i], 0, NULL), EINVAL);
        CHECK_ERR(polysock_setsockopt_bytes(h, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_RCVBUF, buf, lens[i]), EINVAL);
        CHECK_ERR(polysock_getsockopt_bytes(h, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_TYPE, buf, lens[i], &n), EINVAL);
    }
    CHECK_EQ(n, 99); /* outputs untouched on bad input */
    /* A zero-length receive could not be told from end of stream. */
    CHECK_ERR(polysock_recv(h, buf, 0, 0), EINVAL);
    CHECK_ERR(polysock_recv_exact(h, buf, 0, 0, NULL), EINVAL);
    CHECK_ERR(polysock_recvfrom(h, buf, 0, 0, NULL), EINVAL);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(bad_hosts_and_ports) {
    polysock_t s4 = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    polysock_t u4 = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    int ports[] = {70000, 65536, -1, -70000};
    for (int i = 0; i < 4; i++) {
        CHECK_ERR(polysock_bind(s4, "127.0.0.1", ports[i]), EINVAL);
        CHECK(strstr(polysock_last_error(), "out of range") != NULL);
        CHECK_ERR(polysock_connect(s4, "127.0.0.1", ports[i]), EINVAL);
        CHECK_ERR(polysock_sendto(u4, "x", 1, 0, "127.0.0.1", ports[i]), EINVAL);
    }
    const char *garbage[] = {"not a host!", "bad..name", "[::1", "::1]", "1.2.3.4.5", "256.1.1.1", "-"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        CHECK_ERR(polysock_connect(s4, garbage[i], 80), POLYSOCK_EAI_NONAME);
        CHECK(strstr(polysock_last_error(), garbage[i]) != NULL);
        CHECK_ERR(polysock_bind(s4, garbage[i], 0), POLYSOCK_EAI_NONAME);
        CHECK_ERR(polysock_sendto(u4, "x", 1, 0, garbage[i], 9), POLYSOCK_EAI_NONAME);
    }
    CHECK_ERR(polysock_connect(s4, "\xff\xfe", 80), EINVAL);        /* not UTF-8 */
    CHECK_ERR(polysock_connect(s4, "::1", 80), EAFNOSUPPORT);        /* v6 on v4 */
    polysock_t s6 = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0);
    CHECK_ERR(polysock_bind(s6, "fe80::1%", 0), EINVAL);             /* empty scope */
    CHECK_ERR(polysock_bind(s6, "fe80::1%99999", 0), EINVAL);        /* no such index */
    polysock_t un = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0);
    CHECK_ERR(polysock_connect(un, "/nonexistent/polysock.sock", 0), ENOENT);
    CHECK(strstr(polysock_last_error(), "/nonexistent/polysock.sock") != NULL);
    polysock_close(s4);
    polysock_close(u4);
    polysock_close(s6);
    polysock_close(un);
}

TEST(bad_families_types_and_protocols) {
    CHECK_ERR(polysock_socket(-1, POLYSOCK_SOCK_STREAM, 0), EAFNOSUPPORT);
    CHECK_ERR(polysock_socket(4242, POLYSOCK_SOCK_STREAM, 0), EAFNOSUPPORT);
    CHECK_ERR(polysock_socket(POLYSOCK_AF_INET, 999, 0), EINVAL);
    CHECK_ERR(polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, POLYSOCK_IPPROTO_UDP), EPROTONOSUPPORT);
    CHECK_ERR(polysock_socketpair(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0, (polysock_t[2]){0, 0}), EOPNOTSUPP);
}

TEST(bad_levels_options_and_modes) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    int v;
    int64_t lv;
    CHECK_ERR(polysock_setsockopt_int(s, 9999, 1, 1), ENOPROTOOPT);
    CHECK_ERR(polysock_getsockopt_int(s, POLYSOCK_SOL_SOCKET, 9999, &v), ENOPROTOOPT);
    CHECK(strstr(polysock_last_error(), "option 9999") != NULL);
    /* SO_LINGER is a struct: reading it as an int is refused. */
    CHECK_ERR(polysock_getsockopt_int(s, POLYSOCK_SOL_SOCKET, POLYSOCK_SO_LINGER, &v), EINVAL);
    CHECK_ERR(polysock_setopt(s, 999, 1), EINVAL);
    CHECK_ERR(polysock_getopt(s, -1, &lv), EINVAL);
    CHECK_ERR(polysock_setopt(s, POLYSOCK_OPT_RCVBUF, (int64_t)1 << 40), EINVAL);
    CHECK_ERR(polysock_setopt(s, POLYSOCK_OPT_LINGER, -5), EINVAL);
    CHECK_ERR(polysock_setopt(s, POLYSOCK_OPT_LINGER, (int64_t)1 << 40), EINVAL);
    CHECK(strstr(polysock_last_error(), "setopt(SO_LINGER, 1099511627776): value out of range") != NULL);
    /* A setsockopt the kernel refuses comes back with the option's name. */
    polysock_t u = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    CHECK(polysock_setopt(u, POLYSOCK_OPT_NODELAY, 1) == -1);
    CHECK(polysock_errno() != 0);
    CHECK(strstr(polysock_last_error(), "setopt(TCP_NODELAY, 1)") != NULL);
    polysock_close(u);
    CHECK_ERR(polysock_setopt(s, POLYSOCK_OPT_RCVTIMEO_MS, -1), EINVAL);
    CHECK_ERR(polysock_shutdown(s, 7), EINVAL);
    CHECK_ERR(polysock_settimeout(s, -2), EINVAL);
    CHECK_ERR(polysock_shutdown(s, POLYSOCK_SHUT_RDWR), ENOTCONN);
    CHECK_ERR(polysock_getpeername(s, &(polysock_addr){0}), ENOTCONN);
    CHECK_ERR(polysock_accept(s, NULL), EINVAL); /* not listening */
    polysock_close(s);
    const char *name;
    CHECK_ERR(polysock_constant_at(-1, &name, &lv), EINVAL);
    CHECK_ERR(polysock_constant_at(polysock_constant_count(), &name, &lv), EINVAL);
    CHECK_ERR(polysock_constant_lookup("AF_NOT_A_THING", &lv), ENOENT);
    CHECK_ERR(polysock_constant_lookup("\xff", &lv), EINVAL);
}
