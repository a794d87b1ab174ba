/* Handles: creation, close, stale handles, fds, adopt/dup/detach. */
#include "harness.h"
#include <sys/socket.h>

TEST(handles_are_large_and_exact_in_doubles) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(s);
    CHECK(s > 0xffffffffLL);               /* never a bare fd number */
    CHECK(s < (1LL << 53));                /* exact as a double */
    CHECK_EQ((polysock_t)(double)s, s);
    polysock_close(s);
}

TEST(double_close_is_harmless) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_EQ(polysock_close(s), 0);
    CHECK_EQ(polysock_close(s), 0);
    CHECK_EQ(polysock_close(12345), 0);
    CHECK_ERR(polysock_fileno(s), EBADF);
}

/* The fd closed behind polysock's back (CPython's socket.close(fd) then
 * sock.close()): polysock_close reports EBADF, once, instead of aborting a
 * debug build in std's I/O-safety check; the handle is closed all the same. */
TEST(close_after_the_fd_was_closed_elsewhere) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(s);
    CHECK_OK(close(polysock_fileno(s)));
    CHECK_ERR(polysock_close(s), EBADF);
    CHECK(strstr(polysock_last_error(), "already closed") != NULL);
    CHECK_EQ(polysock_close(s), 0);
    CHECK_ERR(polysock_fileno(s), EBADF);
    /* A plain close still reports success, even right after. */
    polysock_t t = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(t);
    CHECK_EQ(polysock_close(t), 0);
}

/* After close, the OS reuses the fd number for the next socket; the old
 * handle must not reach the new socket. */
TEST(stale_handle_after_fd_reuse) {
    polysock_t old = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    int fd = polysock_fileno(old);
    CHECK_OK(polysock_close(old));
    polysock_t fresh = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_EQ(polysock_fileno(fresh), fd);  /* same fd number ... */
    CHECK(fresh != old);                   /* ... different handle */
    CHECK_ERR(polysock_bind(old, "127.0.0.1", 0), EBADF);
    CHECK(strstr(polysock_last_error(), "not an open polysock socket") != NULL);
    CHECK_ERR(polysock_send(old, "x", 1, 0), EBADF);
    CHECK_EQ(polysock_close(old), 0);      /* closing the stale handle ... */
    polysock_socket_info info;
    CHECK_OK(polysock_info(fresh, &info)); /* ... leaves the new socket alone */
    CHECK_EQ(info.socktype, POLYSOCK_SOCK_DGRAM);
    CHECK_EQ(info.fd, fd);
    polysock_close(fresh);
}

TEST(fileno_and_handle_of_fd_agree) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0);
    int fd = polysock_fileno(s);
    CHECK(fd >= 0);
    CHECK_EQ(polysock_handle_of_fd(fd), s);
    polysock_close(s);
    CHECK_ERR(polysock_handle_of_fd(fd), EBADF);
    CHECK_ERR(polysock_handle_of_fd(-1), EBADF);
}

TEST(every_fd_is_close_on_exec) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_t cli = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(cli, "127.0.0.1", port));
    polysock_t conn = polysock_accept(srv, NULL);
    polysock_t pair[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, pair));
    polysock_t dup = polysock_dup(cli);
    int raw = socket(AF_INET, SOCK_STREAM, 0); /* no CLOEXEC */
    polysock_t from = polysock_fromfd(raw);
    polysock_t adopted = polysock_adopt_fd(socket(AF_INET, SOCK_DGRAM, 0));
    polysock_t all[] = {srv, cli, conn, pair[0], pair[1], dup, from, adopted};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        CHECK_OK(all[i]);
        int flags = fcntl(polysock_fileno(all[i]), F_GETFD);
        CHECK(flags & FD_CLOEXEC);
        polysock_close(all[i]);
    }
    close(raw);
}

TEST(fromfd_dups_and_learns_the_socket) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    int fd = polysock_fileno(srv);
    polysock_t copy = polysock_fromfd(fd);
    CHECK_OK(copy);
    CHECK(polysock_fileno(copy) != fd);
    polysock_socket_info info;
    CHECK_OK(polysock_info(copy, &info));
    CHECK_EQ(info.family, POLYSOCK_AF_INET);
    CHECK_EQ(info.socktype, POLYSOCK_SOCK_STREAM);
    CHECK_EQ(info.listening, 1);
    CHECK_EQ(info.bound, 1);
    CHECK_EQ(info.local.port, port);
    polysock_close(copy);
    /* The original is untouched. */
    CHECK_OK(polysock_info(srv, &info));
    polysock_close(srv);
    CHECK_ERR(polysock_fromfd(0x7fff0000), EBADF);
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    CHECK_ERR(polysock_fromfd(fds[0]), ENOTSOCK);
    CHECK_ERR(polysock_adopt_fd(fds[0]), ENOTSOCK);
    CHECK(fcntl(fds[0], F_GETFD) != -1); /* a refused fd is left open */
    close(fds[0]);
    close(fds[1]);
}

TEST(adopt_refuses_an_fd_polysock_owns) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_ERR(polysock_adopt_fd(polysock_fileno(s)), EEXIST);
    CHECK_OK(polysock_bind(s, "127.0.0.1", 0)); /* still fine */
    polysock_close(s);
}

TEST(detach_hands_the_fd_over) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    int fd = polysock_fileno(s);
    CHECK_EQ(polysock_detach(s), fd);
    CHECK_ERR(polysock_fileno(s), EBADF);
    CHECK_ERR(polysock_detach(s), EBADF);
    CHECK(fcntl(fd, F_GETFD) != -1); /* still open: ours now */
    polysock_close(s);               /* a no-op on a detached handle */
    CHECK(fcntl(fd, F_GETFD) != -1);
    polysock_t again = polysock_adopt_fd(fd);
    CHECK_OK(again);
    CHECK(again != s);
    polysock_close(again);
    CHECK(fcntl(fd, F_GETFD) == -1); /* closed with the handle */
}

TEST(dup_is_independent) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    CHECK_OK(polysock_settimeout(p[0], 1234));
    polysock_t d = polysock_dup(p[0]);
    CHECK_OK(d);
    int64_t ms;
    CHECK_OK(polysock_gettimeout(d, &ms));
    CHECK_EQ(ms, 1234);
    polysock_close(p[0]);
    CHECK_EQ(polysock_send(d, "ok", 2, 0), 2); /* the dup still works */
    char buf[4];
    CHECK_EQ(polysock_recv(p[1], buf, sizeof buf, 0), 2);
    polysock_close(d);
    polysock_close(p[1]);
}

TEST(every_family_and_type) {
    int families[] = {POLYSOCK_AF_INET, POLYSOCK_AF_INET6, POLYSOCK_AF_UNIX};
    int types[] = {POLYSOCK_SOCK_STREAM, POLYSOCK_SOCK_DGRAM, POLYSOCK_SOCK_SEQPACKET};
    for (int f = 0; f < 3; f++)
        for (int t = 0; t < 3; t++) {
            polysock_t s = polysock_socket(families[f], types[t], 0);
            if (types[t] == POLYSOCK_SOCK_SEQPACKET && families[f] != POLYSOCK_AF_UNIX) {
                /* SCTP is what would give inet SEQPACKET; often absent. */
                if (s < 0) continue;
            }
            CHECK_OK(s);
            polysock_socket_info info;
            CHECK_OK(polysock_info(s, &info));
            CHECK_EQ(info.family, families[f]);
            CHECK_EQ(info.socktype, types[t]);
            polysock_close(s);
        }
}

/* SOCK_RAW needs CAP_NET_RAW. As root it works; as nobody it is EPERM
 * with a message that says why. */
TEST(raw_sockets_need_privilege) {
    if (geteuid() == 0) {
        polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_RAW, POLYSOCK_IPPROTO_ICMP);
        if (s >= 0) polysock_close(s);
        CHECK(setuid(65534) == 0); /* drop every capability: this child only */
    }
    CHECK_ERR(polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_RAW, POLYSOCK_IPPROTO_ICMP), EPERM);
    CHECK(strstr(polysock_last_error(), "CAP_NET_RAW") != NULL);
    CHECK(strstr(polysock_last_error(), "AF_INET") != NULL);
}

TEST(bind_any_and_listen_default_backlog) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_bind(s, NULL, 0));
    polysock_addr a;
    CHECK_OK(polysock_getsockname(s, &a));
    CHECK_STR(a.host, "0.0.0.0");
    CHECK(a.port > 0);
    CHECK_OK(polysock_listen(s, -1));
    polysock_close(s);
    s = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_bind(s, "", 0));
    CHECK_OK(polysock_getsockname(s, &a));
    CHECK_STR(a.host, "::");
    polysock_close(s);
}

TEST(ipv6_scope_and_mapped_ipv4) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_DGRAM, 0);
    /* Link-local on the loopback interface, by name and by index. */
    CHECK_OK(polysock_bind(s, "::1%lo", 0));
    polysock_close(s);
    s = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_ERR(polysock_bind(s, "fe80::1%no-such-if0", 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "no-such-if0") != NULL);
    polysock_close(s);
    /* An IPv4 literal on an AF_INET6 socket means the mapped address. */
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET6, "::", &port);
    polysock_t cli = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(cli, "127.0.0.1", port));
    polysock_addr peer;
    polysock_t conn = polysock_accept(srv, &peer);
    CHECK_OK(conn);
    CHECK_STR(peer.host, "::ffff:127.0.0.1");
    polysock_close(conn);
    polysock_close(cli);
    polysock_close(srv);
}

TEST(unix_autobind_and_long_paths) {
    polysock_t s = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(polysock_bind(s, "", 0)); /* Linux autobind: an abstract name */
    polysock_addr a;
    CHECK_OK(polysock_getsockname(s, &a));
    CHECK_EQ(a.host[0], '@');
    polysock_close(s);
    char path[200];
    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = 0;
    s = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0);
    CHECK_ERR(polysock_bind(s, path, 0), ENAMETOOLONG);
    polysock_close(s);
}
