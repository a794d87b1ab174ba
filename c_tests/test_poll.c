/* Readiness: polysock_poll over handles, the poller (level, edge, one-shot,
 * wake-ups, closing registered sockets, stale ids, 10,000 connections), and
 * non-blocking connect with connect_ex / finish_connect. Over TCP, UDP and
 * Unix sockets on loopback only. */
#define TEST_TIMEOUT_SECONDS 90
#include "harness.h"
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

/* A UDP socket bound to 127.0.0.1 on a free port. */
static polysock_t udp_bound(int *port) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(s);
    CHECK_OK(polysock_bind(s, "127.0.0.1", 0));
    polysock_addr a;
    CHECK_OK(polysock_getsockname(s, &a));
    *port = a.port;
    return s;
}

/* A 127.0.0.1 port with nothing listening on it. */
static int closed_port(void) {
    int port;
    polysock_t s = udp_bound(&port);
    polysock_close(s);
    return port;
}

static polysock_t stale_handle(void) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    polysock_close(s);
    return s;
}

static polysock_pollfd pfd(polysock_t h, int events) {
    polysock_pollfd p = {h, events, -1};
    return p;
}

/* ---- polysock_poll ---- */

TEST(poll_tcp_read_write_and_accept_readiness) {
    int port;
    polysock_t l = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_pollfd p[1] = {pfd(l, POLYSOCK_POLLIN)};
    CHECK_EQ(polysock_poll(p, 1, 0), 0);
    CHECK_EQ(p[0].revents, 0);
    polysock_t c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(c, "127.0.0.1", port));
    CHECK_EQ(polysock_poll(p, 1, 5000), 1);
    CHECK_EQ(p[0].revents, POLYSOCK_POLLIN); /* a connection to accept */
    polysock_t s = polysock_accept(l, NULL);
    CHECK_OK(s);

    polysock_pollfd q[2] = {pfd(c, POLYSOCK_POLLIN | POLYSOCK_POLLOUT), pfd(s, POLYSOCK_POLLIN)};
    CHECK_EQ(polysock_poll(q, 2, 0), 1);
    CHECK_EQ(q[0].revents, POLYSOCK_POLLOUT);
    CHECK_EQ(q[1].revents, 0);
    CHECK_EQ(polysock_send(c, "ping", 4, 0), 4);
    CHECK_EQ(polysock_poll(q, 2, 5000), 2);
    CHECK_EQ(q[1].revents, POLYSOCK_POLLIN);
    char buf[8];
    CHECK_EQ(polysock_recv(s, buf, sizeof buf, 0), 4);
    CHECK_EQ(polysock_poll(q + 1, 1, 0), 0);
    polysock_close(c);
    polysock_close(s);
    polysock_close(l);
}

TEST(poll_udp_datagrams) {
    int pa, pb;
    polysock_t a = udp_bound(&pa), b = udp_bound(&pb);
    polysock_pollfd p[2] = {pfd(a, POLYSOCK_POLLIN), pfd(b, POLYSOCK_POLLIN | POLYSOCK_POLLOUT)};
    CHECK_EQ(polysock_poll(p, 2, 0), 1);
    CHECK_EQ(p[0].revents, 0);
    CHECK_EQ(p[1].revents, POLYSOCK_POLLOUT);
    CHECK_EQ(polysock_sendto(b, "dgram", 5, 0, "127.0.0.1", pa), 5);
    p[1].events = POLYSOCK_POLLIN;
    CHECK_EQ(polysock_poll(p, 2, 5000), 1);
    CHECK_EQ(p[0].revents, POLYSOCK_POLLIN);
    CHECK_EQ(p[1].revents, 0);
    polysock_close(a);
    polysock_close(b);
}

TEST(poll_unix_stream_and_hangup) {
    const char *path = temp_socket_path("poll.sock");
    polysock_t l = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_bind(l, path, 0));
    CHECK_OK(polysock_listen(l, -1));
    polysock_t c = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(c, path, 0));
    polysock_t s = polysock_accept(l, NULL);
    CHECK_OK(s);
    polysock_pollfd p[1] = {pfd(s, POLYSOCK_POLLIN)};
    CHECK_EQ(polysock_poll(p, 1, 0), 0);
    polysock_close(c);
    CHECK_EQ(polysock_poll(p, 1, 5000), 1);
    /* Hang-up is reported without being asked for. */
    CHECK(p[0].revents & POLYSOCK_POLLHUP);
    CHECK(p[0].revents & POLYSOCK_POLLIN);
    char buf[4];
    CHECK_EQ(polysock_recv(s, buf, sizeof buf, 0), 0);
    polysock_close(s);
    polysock_close(l);
    unlink(path);
}

TEST(poll_times_out_within_its_bound) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    polysock_pollfd f[1] = {pfd(p[0], POLYSOCK_POLLIN)};
    double t0 = now_ms();
    CHECK_EQ(polysock_poll(f, 1, 150), 0);
    double took = now_ms() - t0;
    CHECK(took >= 149);
    CHECK(took < 10000);
    CHECK_EQ(f[0].revents, 0);
    /* No entries at all: a plain sleep, as poll(NULL, 0, ms). */
    t0 = now_ms();
    CHECK_EQ(polysock_poll(NULL, 0, 50), 0);
    CHECK(now_ms() - t0 >= 49);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(poll_dead_handles_are_nval_and_negative_are_skipped) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    polysock_pollfd f[4] = {
        pfd(p[0], POLYSOCK_POLLIN),
        pfd(stale_handle(), POLYSOCK_POLLIN),
        pfd(-1, POLYSOCK_POLLIN),
        pfd(12345, 0),
    };
    /* An invalid entry makes even an endless wait return at once. */
    CHECK_EQ(polysock_poll(f, 4, -1), 2);
    CHECK_EQ(f[0].revents, 0);
    CHECK_EQ(f[1].revents, POLYSOCK_POLLNVAL);
    CHECK_EQ(f[2].revents, 0);
    CHECK_EQ(f[3].revents, POLYSOCK_POLLNVAL);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

struct poll_job {
    polysock_t h;
    long long result;
    int revents;
    volatile int started;
};

static void *poll_forever(void *arg) {
    struct poll_job *j = arg;
    polysock_pollfd f[1] = {pfd(j->h, POLYSOCK_POLLIN)};
    j->started = 1;
    j->result = polysock_poll(f, 1, -1);
    j->revents = f[0].revents;
    return NULL;
}

TEST(poll_wakes_when_another_thread_closes_the_socket) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    struct poll_job j = {p[0], 0, 0, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, poll_forever, &j), 0);
    while (!j.started) usleep(1000);
    usleep(100000);
    polysock_close(p[0]);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(j.result, 1);
    CHECK_EQ(j.revents, POLYSOCK_POLLNVAL);
    polysock_close(p[1]);
}

/* More entries than the stack arrays hold, on fds above FD_SETSIZE. */
TEST(poll_has_no_fd_setsize_limit) {
    enum { PAIRS = 700 };
    static polysock_t pairs[PAIRS][2];
    static polysock_pollfd f[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, pairs[i]));
        f[i] = pfd(pairs[i][0], POLYSOCK_POLLIN);
    }
    CHECK(polysock_fileno(pairs[PAIRS - 1][0]) > 1024);
    CHECK_EQ(polysock_poll(f, PAIRS, 0), 0);
    CHECK_EQ(polysock_send(pairs[PAIRS - 1][1], "x", 1, 0), 1);
    CHECK_EQ(polysock_send(pairs[3][1], "x", 1, 0), 1);
    CHECK_EQ(polysock_poll(f, PAIRS, 5000), 2);
    for (int i = 0; i < PAIRS; i++)
        CHECK_EQ(f[i].revents, (i == 3 || i == PAIRS - 1) ? POLYSOCK_POLLIN : 0);
    for (int i = 0; i < PAIRS; i++) {
        polysock_close(pairs[i][0]);
        polysock_close(pairs[i][1]);
    }
}

/* Signals (a handler without SA_RESTART) never end a wait early: poll and
 * poller waits resume with the time that remains. */
TEST(signals_do_not_cut_poll_short) {
    pester_start(10000);
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    polysock_pollfd f[1] = {pfd(p[0], POLYSOCK_POLLIN)};
    double t0 = now_ms();
    CHECK_EQ(polysock_poll(f, 1, 200), 0);
    CHECK(now_ms() - t0 >= 199);
    polysock_poller_t pl = polysock_poller_create();
    CHECK_OK(pl);
    CHECK_OK(polysock_poller_add(pl, p[0], POLYSOCK_POLLIN, 0, 1));
    polysock_poller_event ev[4];
    t0 = now_ms();
    CHECK_EQ(polysock_poller_wait(pl, ev, 4, 200), 0);
    CHECK(now_ms() - t0 >= 199);
    pester_stop();
    polysock_poller_destroy(pl);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(poll_bad_input) {
    polysock_pollfd f[1] = {pfd(1, POLYSOCK_POLLIN)};
    CHECK_ERR(polysock_poll(NULL, 1, 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "fds is NULL") != NULL);
    CHECK_ERR(polysock_poll(f, (size_t)-1, 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "too large") != NULL);
    CHECK_ERR(polysock_poll(f, (size_t)1 << 40, 0), EINVAL);
    f[0].events = 0x4000;
    CHECK_ERR(polysock_poll(f, 1, 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "unknown event bits 0x4000") != NULL);
    CHECK_EQ(f[0].revents, -1); /* untouched on failure */
    f[0].events = POLYSOCK_POLLIN;
    CHECK_ERR(polysock_poll(f, 1, -2), EINVAL);
    CHECK(strstr(polysock_last_error(), "timeout -2 ms") != NULL);
}

/* ---- the poller ---- */

static polysock_poller_t poller(void) {
    polysock_poller_t p = polysock_poller_create();
    CHECK_OK(p);
    CHECK(p > 0 && p < ((polysock_poller_t)1 << 53));
    return p;
}

/* Waits up to `ms`, expecting exactly `n` entries. */
static void expect_events(polysock_poller_t p, polysock_poller_event *ev, int max, int ms, int n) {
    long long got = polysock_poller_wait(p, ev, (size_t)max, ms);
    CHECK_EQ(got, n);
}

TEST(poller_level_triggered_over_tcp) {
    polysock_t c, s;
    connected_tcp(&c, &s);
    polysock_poller_t p = poller();
    CHECK_OK(polysock_poller_add(p, s, POLYSOCK_POLLIN, 0, 0xfeedbeefcafeULL));
    polysock_poller_event ev[8];
    expect_events(p, ev, 8, 0, 0);
    CHECK_EQ(polysock_send(c, "abc", 3, 0), 3);
    expect_events(p, ev, 8, 5000, 1);
    CHECK_EQ(ev[0].handle, s);
    CHECK_EQ(ev[0].events, POLYSOCK_POLLIN);
    CHECK(ev[0].user == 0xfeedbeefcafeULL);
    CHECK_EQ(ev[0].reserved, 0);
    /* Level: still readable, still reported. */
    expect_events(p, ev, 8, 0, 1);
    char buf[8];
    CHECK_EQ(polysock_recv(s, buf, sizeof buf, 0), 3);
    expect_events(p, ev, 8, 0, 0);
    /* Write readiness, and both at once. */
    CHECK_OK(polysock_poller_modify(p, s, POLYSOCK_POLLIN | POLYSOCK_POLLOUT, 0, 5));
    expect_events(p, ev, 8, 5000, 1);
    CHECK_EQ(ev[0].events, POLYSOCK_POLLOUT);
    CHECK(ev[0].user == 5);
    CHECK_EQ(polysock_send(c, "d", 1, 0), 1);
    polysock_pollfd f[1] = {pfd(s, POLYSOCK_POLLIN)};
    CHECK_EQ(polysock_poll(f, 1, 5000), 1);
    expect_events(p, ev, 8, 0, 1);
    CHECK_EQ(ev[0].events, POLYSOCK_POLLIN | POLYSOCK_POLLOUT);
    CHECK_OK(polysock_poller_remove(p, s));
    expect_events(p, ev, 8, 0, 0);
    polysock_poller_destroy(p);
    polysock_close(c);
    polysock_close(s);
}

TEST(poller_reports_hangup) {
    polysock_t c, s;
    connected_tcp(&c, &s);
    polysock_poller_t p = poller();
    CHECK_OK(polysock_poller_add(p, s, 0, 0, 9)); /* no events asked */
    polysock_poller_event ev[2];
    expect_events(p, ev, 2, 0, 0);
    CHECK_OK(polysock_shutdown(s, POLYSOCK_SHUT_WR));
    polysock_close(c);
    expect_events(p, ev, 2, 5000, 1);
    CHECK(ev[0].events & POLYSOCK_POLLHUP);
    CHECK(ev[0].user == 9);
    polysock_poller_destroy(p);
    polysock_close(s);
}

TEST(poller_udp_and_unix_sockets_together) {
    int pa, pb;
    polysock_t ua = udp_bound(&pa), ub = udp_bound(&pb);
    polysock_t us[2], ud[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, us));
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_DGRAM, 0, ud));
    polysock_poller_t p = poller();
    CHECK_OK(polysock_poller_add(p, ua, POLYSOCK_POLLIN, 0, 1));
    CHECK_OK(polysock_poller_add(p, us[0], POLYSOCK_POLLIN, 0, 2));
    CHECK_OK(polysock_poller_add(p, ud[0], POLYSOCK_POLLIN, 0, 3));
    polysock_poller_event ev[8];
    expect_events(p, ev, 8, 0, 0);
    CHECK_EQ(polysock_sendto(ub, "u", 1, 0, "127.0.0.1", pa), 1);
    CHECK_EQ(polysock_send(us[1], "s", 1, 0), 1);
    CHECK_EQ(polysock_send(ud[1], "d", 1, 0), 1);
    int seen = 0;
    double t0 = now_ms();
    while (seen != 7 && now_ms() - t0 < 5000) {
        long long n = polysock_poller_wait(p, ev, 8, 1000);
        CHECK_OK(n);
        for (int i = 0; i < n; i++) {
            CHECK_EQ(ev[i].events, POLYSOCK_POLLIN);
            polysock_t want = ev[i].user == 1 ? ua : ev[i].user == 2 ? us[0] : ud[0];
            CHECK_EQ(ev[i].handle, want);
            seen |= 1 << (ev[i].user - 1);
        }
    }
    CHECK_EQ(seen, 7);
    /* maxevents smaller than what is ready: the rest come next time. */
    expect_events(p, ev, 1, 0, 1);
    expect_events(p, ev, 8, 0, 3);
    polysock_poller_destroy(p);
    polysock_close(ua);
    polysock_close(ub);
    for (int i = 0; i < 2; i++) {
        polysock_close(us[i]);
        polysock_close(ud[i]);
    }
}

TEST(poller_edge_triggered_reports_changes_once) {
    polysock_t c, s;
    connected_tcp(&c, &s);
    polysock_poller_t p = poller();
    CHECK_OK(polysock_poller_add(p, s, POLYSOCK_POLLIN, POLYSOCK_POLLER_EDGE, 1));
    polysock_poller_event ev[4];
    CHECK_EQ(polysock_send(c, "a", 1, 0), 1);
    expect_events(p, ev, 4, 5000, 1);
    CHECK_EQ(ev[0].events, POLYSOCK_POLLIN);
    /* Unread, but no new edge: nothing. */
    expect_events(p, ev, 4, 50, 0);
    CHECK_EQ(polysock_send(c, "b", 1, 0), 1);
    expect_events(p, ev, 4, 5000, 1);
    expect_events(p, ev, 4, 0, 0);
    polysock_poller_destroy(p);
    polysock_close(c);
    polysock_close(s);
}

TEST(poller_one_shot_needs_rearming) {
    polysock_t c, s;
    connected_tcp(&c, &s);
    polysock_poller_t p = poller();
    CHECK_OK(polysock_poller_add(p, s, POLYSOCK_POLLIN, POLYSOCK_POLLER_ONESHOT, 1));
    polysock_poller_event ev[4];
    CHECK_EQ(polysock_send(c, "a", 1, 0), 1);
    expect_events(p, ev, 4, 5000, 1);
    CHECK_EQ(polysock_send(c, "b", 1, 0), 1);
    expect_events(p, ev, 4, 50, 0);
    CHECK_OK(polysock_poller_modify(p, s, POLYSOCK_POLLIN, POLYSOCK_POLLER_ONESHOT, 2));
    expect_events(p, ev, 4, 5000, 1);
    CHECK(ev[0].user == 2);
    expect_events(p, ev, 4, 0, 0);
    /* Edge and one-shot together. */
    CHECK_OK(polysock_poller_modify(p, s, POLYSOCK_POLLIN,
                                    POLYSOCK_POLLER_ONESHOT | POLYSOCK_POLLER_EDGE, 3));
    expect_events(p, ev, 4, 5000, 1);
    CHECK(ev[0].user == 3);
    polysock_poller_destroy(p);
    polysock_close(c);
    polysock_close(s);
}

TEST(poller_times_out_within_its_bound) {
    polysock_poller_t p = poller();
    polysock_t s[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, s));
    CHECK_OK(polysock_poller_add(p, s[0], POLYSOCK_POLLIN, 0, 0));
    polysock_poller_event ev[4];
    double t0 = now_ms();
    expect_events(p, ev, 4, 150, 0);
    double took = now_ms() - t0;
    CHECK(took >= 149);
    CHECK(took < 10000);
    polysock_poller_destroy(p);
    polysock_close(s[0]);
    polysock_close(s[1]);
}

struct waiter {
    polysock_poller_t p;
    long long result;
    int err;
    polysock_poller_event ev[4];
    volatile int started;
};

static void *wait_forever(void *arg) {
    struct waiter *w = arg;
    w->started = 1;
    w->result = polysock_poller_wait(w->p, w->ev, 4, -1);
    w->err = polysock_errno();
    return NULL;
}

TEST(poller_wake_from_another_thread) {
    polysock_poller_t p = poller();
    struct waiter w = {p, 0, 0, {{0, 0, 0, 0}}, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, wait_forever, &w), 0);
    while (!w.started) usleep(1000);
    usleep(100000);
    CHECK_OK(polysock_poller_wake(p));
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(w.result, 1);
    CHECK_EQ(w.ev[0].handle, POLYSOCK_POLLER_WAKE);
    CHECK_EQ(w.ev[0].events, POLYSOCK_POLLIN);
    CHECK(w.ev[0].user == 0);
    /* A wake before the wait is kept for it; several coalesce. */
    CHECK_OK(polysock_poller_wake(p));
    CHECK_OK(polysock_poller_wake(p));
    polysock_poller_event ev[4];
    expect_events(p, ev, 4, -1, 1);
    CHECK_EQ(ev[0].handle, POLYSOCK_POLLER_WAKE);
    expect_events(p, ev, 4, 0, 0);
    /* With a ready socket, the wake is one more entry. */
    polysock_t s[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, s));
    CHECK_OK(polysock_poller_add(p, s[0], POLYSOCK_POLLOUT, 0, 4));
    CHECK_OK(polysock_poller_wake(p));
    expect_events(p, ev, 4, 0, 2);
    CHECK(ev[0].handle == POLYSOCK_POLLER_WAKE || ev[1].handle == POLYSOCK_POLLER_WAKE);
    CHECK(ev[0].handle == s[0] || ev[1].handle == s[0]);
    polysock_poller_destroy(p);
    polysock_close(s[0]);
    polysock_close(s[1]);
}

TEST(poller_destroy_wakes_a_waiter_with_ebadf) {
    polysock_poller_t p = poller();
    struct waiter w = {p, 0, 0, {{0, 0, 0, 0}}, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, wait_forever, &w), 0);
    while (!w.started) usleep(1000);
    usleep(100000);
    CHECK_EQ(polysock_poller_destroy(p), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(w.result, -1);
    CHECK_EQ(w.err, EBADF);
}

/* A poller's descriptors are close-on-exec, and destroying it frees them
 * all (also with sockets still registered). */
TEST(poller_fds_are_cloexec_and_freed) {
    static char before[4096];
    for (int fd = 0; fd < 4096; fd++) before[fd] = fcntl(fd, F_GETFD) != -1;
    int n0 = open_fd_count();
    polysock_poller_t p = poller();
    int added = 0;
    for (int fd = 0; fd < 4096; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags == -1 || before[fd]) continue;
        CHECK(flags & FD_CLOEXEC);
        added++;
    }
    CHECK(added >= 1);
    polysock_t s[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, s));
    CHECK_OK(polysock_poller_add(p, s[0], POLYSOCK_POLLIN, 0, 0));
    CHECK_EQ(polysock_poller_destroy(p), 0);
    polysock_close(s[0]);
    polysock_close(s[1]);
    CHECK_EQ(open_fd_count(), n0);
    for (int i = 0; i < 200; i++) CHECK_EQ(polysock_poller_destroy(poller()), 0);
    CHECK_EQ(open_fd_count(), n0);
}

/* Closing a registered socket takes it out of the poller; the fd number's
 * next owner is never reported under the old handle. */
TEST(poller_closing_a_registered_socket) {
    polysock_poller_t p = poller();
    polysock_t a[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, a));
    CHECK_OK(polysock_poller_add(p, a[0], POLYSOCK_POLLIN, 0, 1));
    int fd = polysock_fileno(a[0]);
    CHECK_EQ(polysock_send(a[1], "x", 1, 0), 1);
    polysock_close(a[0]);
    polysock_poller_event ev[4];
    expect_events(p, ev, 4, 50, 0);
    /* The kernel reuses the lowest free fd: the new socket gets a[0]'s. */
    polysock_t b[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, b));
    CHECK_EQ(polysock_fileno(b[0]), fd);
    CHECK_EQ(polysock_send(b[1], "y", 1, 0), 1);
    expect_events(p, ev, 4, 50, 0);
    CHECK_ERR(polysock_poller_remove(p, b[0]), ENOENT);
    CHECK_ERR(polysock_poller_remove(p, a[0]), EBADF);
    /* The new socket registers under its own handle. */
    CHECK_OK(polysock_poller_add(p, b[0], POLYSOCK_POLLIN, 0, 2));
    expect_events(p, ev, 4, 5000, 1);
    CHECK_EQ(ev[0].handle, b[0]);
    CHECK(ev[0].user == 2);
    polysock_poller_destroy(p);
    polysock_close(a[1]);
    polysock_close(b[0]);
    polysock_close(b[1]);
}

/* A descriptor shared with a dup (or a forked child) keeps its epoll entry
 * alive past close(); polysock removes it first, so nothing stale fires. */
TEST(poller_closing_a_dup_shared_socket_leaves_nothing_behind) {
    polysock_poller_t p = poller();
    polysock_t a[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, a));
    polysock_t d = polysock_dup(a[0]);
    CHECK_OK(d);
    CHECK_OK(polysock_poller_add(p, a[0], POLYSOCK_POLLIN, 0, 1));
    polysock_close(a[0]);
    CHECK_EQ(polysock_send(a[1], "x", 1, 0), 1);
    polysock_poller_event ev[4];
    expect_events(p, ev, 4, 50, 0);
    /* The dup is a socket of its own, free to register. */
    CHECK_OK(polysock_poller_add(p, d, POLYSOCK_POLLIN, 0, 2));
    expect_events(p, ev, 4, 5000, 1);
    CHECK_EQ(ev[0].handle, d);
    polysock_poller_destroy(p);
    polysock_close(d);
    polysock_close(a[1]);
}

struct blocked_recv {
    polysock_t h;
    volatile int started;
};

static void *recv_forever(void *arg) {
    struct blocked_recv *b = arg;
    char buf[4];
    b->started = 1;
    polysock_recv(b->h, buf, sizeof buf, 0);
    return NULL;
}

/* A socket closed while another thread is blocked on it is not reported,
 * though the kernel sees it hang up until that thread lets go. */
TEST(poller_does_not_report_a_socket_closed_while_in_use) {
    polysock_poller_t p = poller();
    polysock_t a[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, a));
    CHECK_OK(polysock_poller_add(p, a[0], POLYSOCK_POLLIN, 0, 1));
    struct blocked_recv b = {a[0], 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, recv_forever, &b), 0);
    while (!b.started) usleep(1000);
    usleep(50000);
    polysock_close(a[0]);
    polysock_poller_event ev[4];
    expect_events(p, ev, 4, 50, 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    expect_events(p, ev, 4, 50, 0);
    polysock_poller_destroy(p);
    polysock_close(a[1]);
}

TEST(poller_one_socket_in_two_pollers) {
    polysock_poller_t p = poller(), q = poller();
    CHECK(p != q);
    polysock_t a[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, a));
    CHECK_OK(polysock_poller_add(p, a[0], POLYSOCK_POLLIN, 0, 1));
    CHECK_OK(polysock_poller_add(q, a[0], POLYSOCK_POLLIN, 0, 2));
    CHECK_EQ(polysock_send(a[1], "x", 1, 0), 1);
    polysock_poller_event ev[4];
    expect_events(p, ev, 4, 5000, 1);
    CHECK(ev[0].user == 1);
    expect_events(q, ev, 4, 5000, 1);
    CHECK(ev[0].user == 2);
    polysock_poller_destroy(q);
    polysock_close(a[0]);
    expect_events(p, ev, 4, 0, 0);
    polysock_poller_destroy(p);
    polysock_close(a[1]);
}

TEST(poller_bad_input) {
    polysock_poller_t p = poller();
    polysock_t s[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, s));
    polysock_poller_event ev[4];

    /* Stale and never-issued poller ids, and socket handles used as ids. */
    polysock_poller_t stale = poller();
    CHECK_EQ(polysock_poller_destroy(stale), 0);
    CHECK_EQ(polysock_poller_destroy(stale), 0); /* harmless */
    polysock_poller_t bad[] = {stale, -1, 0, 3, 12345, (polysock_poller_t)1 << 60, s[0]};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERR(polysock_poller_add(bad[i], s[0], POLYSOCK_POLLIN, 0, 0), EBADF);
        CHECK(strstr(polysock_last_error(), "poller_add: ") != NULL);
        CHECK(strstr(polysock_last_error(), "is not an open poller") != NULL);
        CHECK_ERR(polysock_poller_modify(bad[i], s[0], POLYSOCK_POLLIN, 0, 0), EBADF);
        CHECK_ERR(polysock_poller_remove(bad[i], s[0]), EBADF);
        CHECK_ERR(polysock_poller_wait(bad[i], ev, 4, 0), EBADF);
        CHECK(strstr(polysock_last_error(), "poller_wait: ") != NULL);
        CHECK_ERR(polysock_poller_wake(bad[i]), EBADF);
        CHECK_EQ(polysock_poller_destroy(bad[i]), 0);
    }
    /* The pair is still fine (destroying a socket handle did nothing). */
    CHECK_EQ(polysock_send(s[1], "x", 1, 0), 1);
    /* A poller id is not a socket. */
    CHECK_ERR(polysock_send(p, "x", 1, 0), EBADF);
    CHECK_EQ(polysock_close(p), 0);
    CHECK_OK(polysock_poller_wake(p)); /* still alive */

    /* Bad sockets. */
    polysock_t gone = stale_handle();
    CHECK_ERR(polysock_poller_add(p, gone, POLYSOCK_POLLIN, 0, 0), EBADF);
    CHECK(strstr(polysock_last_error(), "is not an open polysock socket") != NULL);
    CHECK_ERR(polysock_poller_add(p, -1, POLYSOCK_POLLIN, 0, 0), EBADF);
    CHECK_ERR(polysock_poller_modify(p, gone, POLYSOCK_POLLIN, 0, 0), EBADF);
    CHECK_ERR(polysock_poller_remove(p, gone), EBADF);

    /* Bad events and flags. */
    CHECK_ERR(polysock_poller_add(p, s[0], 0x100, 0, 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "unknown event bits 0x100") != NULL);
    CHECK_ERR(polysock_poller_add(p, s[0], POLYSOCK_POLLIN, 0x80, 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "unknown flags 0x80") != NULL);
    CHECK_ERR(polysock_poller_add(p, s[0], POLYSOCK_POLLIN, 0xffffffffu, 0), EINVAL);

    /* Registration state. */
    CHECK_ERR(polysock_poller_modify(p, s[0], POLYSOCK_POLLIN, 0, 0), ENOENT);
    CHECK(strstr(polysock_last_error(), "not registered") != NULL);
    CHECK_ERR(polysock_poller_remove(p, s[0]), ENOENT);
    CHECK_OK(polysock_poller_add(p, s[0], POLYSOCK_POLLIN, 0, 0));
    CHECK_ERR(polysock_poller_add(p, s[0], POLYSOCK_POLLIN, 0, 0), EEXIST);
    CHECK(strstr(polysock_last_error(), "already registered") != NULL);
    CHECK_ERR(polysock_poller_modify(p, s[0], -1, 0, 0), EINVAL);

    /* Bad wait arguments. */
    CHECK_ERR(polysock_poller_wait(p, NULL, 4, 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "events is NULL") != NULL);
    CHECK_ERR(polysock_poller_wait(p, ev, 0, 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "maxevents is 0") != NULL);
    CHECK_ERR(polysock_poller_wait(p, ev, 4, -2), EINVAL);
    CHECK(strstr(polysock_last_error(), "timeout -2 ms") != NULL);

    /* After all that, it still works (and reports the wake from above). */
    expect_events(p, ev, 4, 5000, 2);
    CHECK(ev[0].handle == s[0] || ev[1].handle == s[0]);
    CHECK(ev[0].handle == POLYSOCK_POLLER_WAKE || ev[1].handle == POLYSOCK_POLLER_WAKE);
    polysock_poller_destroy(p);
    CHECK_ERR(polysock_poller_wait(p, ev, 4, 0), EBADF);
    polysock_close(s[0]);
    polysock_close(s[1]);
}

/* 10,000 TCP connections through one poller: the clients live in a child
 * process (so each process needs ~10,000 fds, not 20,000), each sends its
 * index; the parent echoes every message as the poller reports it. */
TEST(poller_ten_thousand_connections) {
    enum { N = 10000 };
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t need = N + 200;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        printf("  SKIPPED poller_ten_thousand_connections: RLIMIT_NOFILE hard limit %llu < %llu\n",
               (unsigned long long)rl.rlim_max, (unsigned long long)need);
        return;
    }
    if (rl.rlim_cur < need) {
        rl.rlim_cur = need;
        CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    int port;
    polysock_t l = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        static polysock_t c[N];
        polysock_close(l);
        for (int i = 0; i < N; i++) {
            c[i] = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
            CHECK_OK(c[i]);
            CHECK_OK(polysock_settimeout(c[i], 20000));
            CHECK_OK(polysock_connect(c[i], "127.0.0.1", port));
            CHECK_EQ(polysock_sendall(c[i], &i, sizeof i, 0, NULL), sizeof i);
        }
        for (int i = 0; i < N; i++) {
            int back = -1;
            CHECK_EQ(polysock_recv_exact(c[i], &back, sizeof back, 0, NULL), sizeof back);
            CHECK_EQ(back, i);
            polysock_close(c[i]);
        }
        _exit(0);
    }

    static polysock_t s[N];
    static unsigned char state[N]; /* 0 waiting, 1 echoed, 2 hung up */
    polysock_poller_t p = poller();
    CHECK_OK(polysock_settimeout(l, 20000));
    for (int i = 0; i < N; i++) {
        s[i] = polysock_accept(l, NULL);
        CHECK_OK(s[i]);
        CHECK_OK(polysock_settimeout(s[i], 20000));
        CHECK_OK(polysock_poller_add(p, s[i], POLYSOCK_POLLIN, 0, (uint64_t)i));
    }
    /* Each socket is reported once with the client's message (echoed),
     * then once more when the client, having read its echo, hangs up
     * (closed: that takes it out of the poller). */
    static polysock_poller_event ev[512];
    int done = 0, echoed = 0;
    double t0 = now_ms();
    while (done < N) {
        CHECK(now_ms() - t0 < 60000);
        long long n = polysock_poller_wait(p, ev, 512, 20000);
        CHECK(n > 0);
        for (long long k = 0; k < n; k++) {
            uint64_t u = ev[k].user;
            CHECK(u < N);
            CHECK_EQ(ev[k].handle, s[u]);
            CHECK(ev[k].events & POLYSOCK_POLLIN);
            int msg = -1;
            if (state[u] == 0) {
                CHECK_EQ(polysock_recv_exact(s[u], &msg, sizeof msg, 0, NULL), sizeof msg);
                CHECK(msg >= 0 && msg < N);
                CHECK_EQ(polysock_sendall(s[u], &msg, sizeof msg, 0, NULL), sizeof msg);
                state[u] = 1;
                echoed++;
            } else {
                CHECK_EQ(state[u], 1);
                CHECK_EQ(polysock_recv(s[u], &msg, sizeof msg, 0), 0);
                polysock_close(s[u]);
                state[u] = 2;
                done++;
            }
        }
    }
    CHECK_EQ(echoed, N);
    int status = 0;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    polysock_poller_event none[4];
    expect_events(p, none, 4, 0, 0);
    polysock_poller_destroy(p);
    polysock_close(l);
}

/* ---- non-blocking connect ---- */

TEST(connect_ex_returns_codes) {
    polysock_t c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_EQ(polysock_connect_ex(c, "127.0.0.1", closed_port()), ECONNREFUSED);
    CHECK_EQ(polysock_errno(), ECONNREFUSED);
    CHECK(strstr(polysock_last_error(), "connect 127.0.0.1:") != NULL);
    polysock_close(c);
    CHECK_EQ(polysock_connect_ex(stale_handle(), "127.0.0.1", 1), EBADF);
    CHECK_EQ(polysock_errno(), EBADF);
    c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_EQ(polysock_connect_ex(c, "127.0.0.1", 70000), EINVAL);
    CHECK(strstr(polysock_last_error(), "out of range") != NULL);
    CHECK_EQ(polysock_connect_ex(c, "not a host!", 80), POLYSOCK_EAI_NONAME);
    int port;
    polysock_t l = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    CHECK_EQ(polysock_connect_ex(c, "127.0.0.1", port), 0);
    CHECK_EQ(polysock_connect_ex(c, "127.0.0.1", port), EISCONN);
    polysock_close(c);
    polysock_close(l);
}

/* The whole dance: EINPROGRESS, wait for writability, finish. */
TEST(nonblocking_connect_finishes) {
    int port;
    polysock_t l = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_t c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_settimeout(c, 0));
    int rc = polysock_connect_ex(c, "127.0.0.1", port);
    CHECK(rc == 0 || rc == EINPROGRESS);
    if (rc == EINPROGRESS) {
        /* Connecting again: still under way, or done by now. */
        int again = polysock_connect(c, "127.0.0.1", port);
        CHECK(again == 0 || polysock_errno() == EALREADY);
    }
    polysock_poller_t p = poller();
    CHECK_OK(polysock_poller_add(p, c, POLYSOCK_POLLOUT, POLYSOCK_POLLER_ONESHOT, 77));
    polysock_poller_event ev[2];
    expect_events(p, ev, 2, 5000, 1);
    CHECK(ev[0].user == 77);
    CHECK_EQ(ev[0].events, POLYSOCK_POLLOUT);
    CHECK_EQ(polysock_finish_connect(c), 0);
    polysock_socket_info info;
    CHECK_OK(polysock_info(c, &info));
    CHECK_EQ(info.connected, 1);
    CHECK_EQ(info.client, 1);
    CHECK_EQ(polysock_finish_connect(c), 0); /* still connected */
    polysock_t s = polysock_accept(l, NULL);
    CHECK_OK(s);
    CHECK_EQ(polysock_send(c, "hi", 2, 0), 2);
    char buf[4];
    CHECK_EQ(polysock_recv(s, buf, sizeof buf, 0), 2);
    polysock_poller_destroy(p);
    polysock_close(s);
    polysock_close(c);
    polysock_close(l);
}

TEST(nonblocking_connect_failure_is_reported_once) {
    polysock_t c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_settimeout(c, 0));
    int rc = polysock_connect_ex(c, "127.0.0.1", closed_port());
    if (rc == EINPROGRESS) {
        polysock_pollfd f[1] = {pfd(c, POLYSOCK_POLLOUT)};
        CHECK_EQ(polysock_poll(f, 1, 5000), 1);
        CHECK(f[0].revents & (POLYSOCK_POLLOUT | POLYSOCK_POLLERR));
        CHECK_EQ(polysock_finish_connect(c), ECONNREFUSED);
        CHECK_EQ(polysock_errno(), ECONNREFUSED);
        CHECK(strstr(polysock_last_error(), "finish_connect") != NULL);
        CHECK(strstr(polysock_last_error(), "refused") != NULL);
    } else {
        CHECK_EQ(rc, ECONNREFUSED); /* refused at once: nothing to finish */
    }
    CHECK_EQ(polysock_finish_connect(c), ENOTCONN);
    CHECK(strstr(polysock_last_error(), "no connect in progress") != NULL);
    polysock_close(c);
}

/* A connect that cannot complete (a listener with a full queue drops the
 * SYN) stays in progress until finished or abandoned. */
TEST(finish_connect_while_still_in_progress) {
    polysock_t l = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_bind(l, "127.0.0.1", 0));
    CHECK_OK(polysock_listen(l, 0));
    polysock_addr a;
    CHECK_OK(polysock_getsockname(l, &a));
    polysock_t c[8];
    int pending = -1;
    for (int i = 0; i < 8 && pending < 0; i++) {
        c[i] = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
        CHECK_OK(polysock_settimeout(c[i], 0));
        int rc = polysock_connect_ex(c[i], "127.0.0.1", a.port);
        CHECK(rc == 0 || rc == EINPROGRESS);
        if (rc != EINPROGRESS) continue;
        polysock_pollfd f[1] = {pfd(c[i], POLYSOCK_POLLOUT)};
        if (polysock_poll(f, 1, 200) == 0) pending = i;
        else CHECK_EQ(polysock_finish_connect(c[i]), 0);
    }
    CHECK(pending >= 0);
    CHECK_EQ(polysock_finish_connect(c[pending]), EINPROGRESS);
    CHECK(strstr(polysock_last_error(), "still in progress") != NULL);
    for (int i = 0; i <= pending; i++) polysock_close(c[i]);
    polysock_close(l);
}

TEST(finish_connect_bad_input) {
    polysock_t c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_EQ(polysock_finish_connect(c), ENOTCONN);
    CHECK_EQ(polysock_errno(), ENOTCONN);
    polysock_close(c);
    CHECK_EQ(polysock_finish_connect(c), EBADF);
    CHECK(strstr(polysock_last_error(), "is not an open polysock socket") != NULL);
    CHECK_EQ(polysock_finish_connect(-1), EBADF);
    /* A connected datagram socket is connected at once. */
    int port;
    polysock_t u = udp_bound(&port);
    polysock_t v = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_EQ(polysock_connect_ex(v, "127.0.0.1", port), 0);
    CHECK_EQ(polysock_finish_connect(v), 0);
    polysock_close(u);
    polysock_close(v);
}
