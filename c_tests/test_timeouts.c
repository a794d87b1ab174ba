/* Timeouts and modes, CPython's model: -1 blocks, 0 is non-blocking,
 * >0 bounds each blocking call with ETIMEDOUT. Signals never cut a wait
 * short. */
#include "harness.h"
#include <pthread.h>
#include <time.h>

TEST(recv_times_out_within_its_bound) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    CHECK_OK(polysock_settimeout(p[0], 200));
    char buf[8];
    double t0 = now_ms();
    CHECK_ERR(polysock_recv(p[0], buf, sizeof buf, 0), ETIMEDOUT);
    double took = now_ms() - t0;
    CHECK(took >= 199);   /* never early */
    CHECK(took < 5000);   /* and bounded (generous: a noisy CI machine) */
    CHECK(strstr(polysock_last_error(), "recv") != NULL);
    CHECK(strstr(polysock_last_error(), "200 ms") != NULL);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(eof_timeout_and_wouldblock_are_distinct) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    char buf[8];
    CHECK_OK(polysock_settimeout(p[0], 0));
    CHECK_ERR(polysock_recv(p[0], buf, sizeof buf, 0), EAGAIN);
    CHECK_OK(polysock_settimeout(p[0], 50));
    CHECK_ERR(polysock_recv(p[0], buf, sizeof buf, 0), ETIMEDOUT);
    polysock_close(p[1]);
    CHECK_EQ(polysock_recv(p[0], buf, sizeof buf, 0), 0);
    polysock_close(p[0]);
}

TEST(accept_times_out) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    CHECK_OK(polysock_settimeout(srv, 100));
    CHECK_ERR(polysock_accept(srv, NULL), ETIMEDOUT);
    CHECK(strstr(polysock_last_error(), "accept") != NULL);
    CHECK_OK(polysock_setblocking(srv, 0));
    CHECK_ERR(polysock_accept(srv, NULL), EAGAIN);
    polysock_close(srv);
}

/* A listener with a full accept queue drops new SYNs, so a connect to it
 * never completes: a deadline on loopback without any other host. */
TEST(connect_times_out) {
    int port;
    polysock_t srv = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_bind(srv, "127.0.0.1", 0));
    CHECK_OK(polysock_listen(srv, 0));
    polysock_addr a;
    CHECK_OK(polysock_getsockname(srv, &a));
    port = a.port;
    polysock_t fillers[8];
    int timed_out = 0;
    for (int i = 0; i < 8 && !timed_out; i++) {
        fillers[i] = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
        CHECK_OK(polysock_settimeout(fillers[i], 300));
        double t0 = now_ms();
        if (polysock_connect(fillers[i], "127.0.0.1", port) < 0) {
            CHECK_EQ(polysock_errno(), ETIMEDOUT);
            CHECK(now_ms() - t0 >= 299);
            CHECK(strstr(polysock_last_error(), "connect 127.0.0.1:") != NULL);
            timed_out = 1;
        }
    }
    CHECK(timed_out);
    polysock_close(srv);
}

TEST(nonblocking_connect_is_einprogress) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET6, "::1", &port);
    polysock_t cli = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_setblocking(cli, 0));
    CHECK_EQ(polysock_getblocking(cli), 0);
    int rc = polysock_connect(cli, "::1", port);
    /* Loopback may finish at once; otherwise it is in progress... */
    if (rc != 0) CHECK_EQ(polysock_errno(), EINPROGRESS);
    /* ...and either way it completes once the socket is writable. */
    polysock_pollfd f = {cli, POLYSOCK_POLLOUT, 0};
    CHECK_EQ(polysock_poll(&f, 1, 5000), 1);
    CHECK_EQ(polysock_finish_connect(cli), 0);
    polysock_socket_info info;
    CHECK_OK(polysock_info(cli, &info));
    CHECK_EQ(info.connected, 1);
    CHECK_EQ(info.peer.port, port);
    polysock_close(cli);
    polysock_close(srv);
}

TEST(modes_round_trip) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    int64_t ms = 0;
    CHECK_OK(polysock_gettimeout(s, &ms));
    CHECK_EQ(ms, -1);
    CHECK_EQ(polysock_getblocking(s), 1);
    CHECK_OK(polysock_settimeout(s, 2500));
    CHECK_EQ(polysock_getblocking(s), 1); /* timed sockets count as blocking */
    CHECK_OK(polysock_setblocking(s, 0));
    CHECK_OK(polysock_gettimeout(s, &ms));
    CHECK_EQ(ms, 0);
    CHECK_OK(polysock_setblocking(s, 1));
    CHECK_OK(polysock_gettimeout(s, &ms));
    CHECK_EQ(ms, -1);
    CHECK_ERR(polysock_settimeout(s, -2), EINVAL);
    polysock_close(s);
}

TEST(default_timeout_applies_to_new_sockets) {
    CHECK_EQ(polysock_getdefaulttimeout(), -1);
    CHECK_OK(polysock_setdefaulttimeout(750));
    CHECK_EQ(polysock_getdefaulttimeout(), 750);
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    int64_t ms;
    CHECK_OK(polysock_gettimeout(s, &ms));
    CHECK_EQ(ms, 750);
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    CHECK_OK(polysock_connect(s, "127.0.0.1", port));
    polysock_t conn = polysock_accept(srv, NULL);
    CHECK_OK(polysock_gettimeout(conn, &ms));
    CHECK_EQ(ms, 750); /* accepted sockets too */
    CHECK_ERR(polysock_setdefaulttimeout(-3), EINVAL);
    CHECK_OK(polysock_setdefaulttimeout(-1));
    polysock_close(conn);
    polysock_close(s);
    polysock_close(srv);
}

/* A signal handler installed without SA_RESTART interrupts poll/recv; the
 * call must resume and still honour its full deadline. */
TEST(signals_do_not_cut_waits_short) {
    pester_start(20000); /* SIGUSR1 every 20 ms */

    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    char buf[4];
    CHECK_OK(polysock_settimeout(p[0], 300));
    double t0 = now_ms();
    CHECK_ERR(polysock_recv(p[0], buf, sizeof buf, 0), ETIMEDOUT);
    CHECK(now_ms() - t0 >= 299);

    /* Blocking mode: a recv interrupted many times still gets its data. */
    CHECK_OK(polysock_settimeout(p[0], -1));
    pid_t child = fork();
    if (child == 0) {
        usleep(200000);
        polysock_send(p[1], "late", 4, 0);
        _exit(0);
    }
    CHECK_EQ(polysock_recv_exact(p[0], buf, 4, 0, NULL), 4);
    CHECK(memcmp(buf, "late", 4) == 0);
    waitpid(child, NULL, 0);
    pester_stop();
    polysock_close(p[0]);
    polysock_close(p[1]);
}

/* The kernel's own SO_RCVTIMEO on a blocking socket reads as ETIMEDOUT. */
TEST(kernel_rcvtimeo_is_etimedout) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    CHECK_OK(polysock_setopt(p[0], POLYSOCK_OPT_RCVTIMEO_MS, 100));
    int64_t v;
    CHECK_OK(polysock_getopt(p[0], POLYSOCK_OPT_RCVTIMEO_MS, &v));
    CHECK_EQ(v, 100);
    char buf[4];
    CHECK_ERR(polysock_recv(p[0], buf, sizeof buf, 0), ETIMEDOUT);
    polysock_close(p[0]);
    polysock_close(p[1]);
}
