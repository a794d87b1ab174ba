/* The buffered reader: polysock_readline / polysock_read_until across
 * packet boundaries, over-long lines (a clear error, nothing lost), mixing
 * with recv/recv_exact/recvfrom/recvmsg, end of stream mid-line, the
 * timeout as one deadline, and bad input. */
#include "harness.h"

#include <pthread.h>
#include <time.h>

#define HUGE_LEN ((size_t)-1)

static void msleep(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static void pair(polysock_t p[2]) {
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    CHECK_OK(polysock_settimeout(p[0], 5000));
    CHECK_OK(polysock_settimeout(p[1], 5000));
}

/* A connected TCP pair on 127.0.0.1. */
static void tcp_pair(polysock_t p[2]) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    p[0] = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(p[0], "127.0.0.1", port));
    p[1] = polysock_accept(srv, NULL);
    CHECK_OK(p[1]);
    CHECK_OK(polysock_setopt(p[0], POLYSOCK_OPT_NODELAY, 1));
    CHECK_OK(polysock_settimeout(p[1], 5000));
    polysock_close(srv);
}

static void check_msg_has(const char *part) {
    if (!strstr(polysock_last_error(), part))
        FAIL_("message \"%s\" lacks \"%s\"", polysock_last_error(), part);
}

static void send_str(polysock_t h, const char *s) {
    CHECK_EQ(polysock_sendall(h, s, strlen(s), 0, NULL), strlen(s));
}

/* readline into a NUL-terminated string; returns the length. */
static size_t line(polysock_t h, char *buf, size_t len) {
    size_t n = 12345;
    CHECK_EQ(polysock_readline(h, buf, len - 1, &n), 0);
    CHECK(n < len);
    buf[n] = 0;
    return n;
}

TEST(lines_one_by_one) {
    polysock_t p[2];
    pair(p);
    send_str(p[0], "hello\nworld\n\nlast\n");
    char buf[64];
    CHECK_EQ(line(p[1], buf, sizeof buf), 6);
    CHECK_STR(buf, "hello\n");
    CHECK_EQ(polysock_buffered(p[1]), 12);
    CHECK_EQ(line(p[1], buf, sizeof buf), 6);
    CHECK_STR(buf, "world\n");
    CHECK_EQ(line(p[1], buf, sizeof buf), 1);
    CHECK_STR(buf, "\n");
    CHECK_EQ(line(p[1], buf, sizeof buf), 5);
    CHECK_STR(buf, "last\n");
    CHECK_EQ(polysock_buffered(p[1]), 0);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

/* A sender that writes its pieces with pauses between them. */
struct trickle { polysock_t h; const char *const *pieces; int pause_ms; };

static void *trickle_thread(void *arg) {
    struct trickle *t = arg;
    for (int i = 0; t->pieces[i]; i++) {
        send_str(t->h, t->pieces[i]);
        msleep(t->pause_ms);
    }
    return NULL;
}

TEST(lines_across_packet_boundaries) {
    polysock_t p[2];
    tcp_pair(p);
    static const char *const pieces[] = {"par", "tial li", "ne\nsec", "ond\r", "\nthi", "rd\n", NULL};
    struct trickle t = {p[0], pieces, 30};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, trickle_thread, &t) == 0);
    char buf[64];
    CHECK_EQ(line(p[1], buf, sizeof buf), 13);
    CHECK_STR(buf, "partial line\n");
    /* A two-byte delimiter split between packets. */
    size_t n = 0;
    CHECK_OK(polysock_read_until(p[1], "\r\n", 2, buf, sizeof buf, &n));
    CHECK_EQ(n, 8);
    CHECK(memcmp(buf, "second\r\n", 8) == 0);
    CHECK_EQ(line(p[1], buf, sizeof buf), 6);
    CHECK_STR(buf, "third\n");
    CHECK(pthread_join(th, NULL) == 0);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(over_long_line_is_emsgsize_and_loses_nothing) {
    polysock_t p[2];
    pair(p);
    send_str(p[0], "0123456789abcdef\nnext\n");
    char buf[64] = {0};
    size_t n = 999;
    CHECK_ERR(polysock_readline(p[1], buf, 8, &n), EMSGSIZE);
    check_msg_has("readline: no '\\n' in the first 8 bytes");
    check_msg_has("nothing was consumed");
    CHECK_EQ(n, 999); /* not written on failure */
    /* Still refused, however often it is asked. */
    CHECK_ERR(polysock_readline(p[1], buf, 16, &n), EMSGSIZE);
    /* A line exactly the buffer's size fits. */
    CHECK_OK(polysock_readline(p[1], buf, 17, &n));
    CHECK_EQ(n, 17);
    CHECK(memcmp(buf, "0123456789abcdef\n", 17) == 0);
    CHECK_EQ(line(p[1], buf, sizeof buf), 5);
    CHECK_STR(buf, "next\n");

    /* Too long, then read with recv instead: every byte is there. */
    send_str(p[0], "a line far too long for eight bytes\nrest");
    CHECK_ERR(polysock_readline(p[1], buf, 8, &n), EMSGSIZE);
    CHECK(polysock_buffered(p[1]) >= 8);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(polysock_recv_exact(p[1], buf, 40, 0, NULL), 40);
    CHECK_STR(buf, "a line far too long for eight bytes\nrest");
    CHECK_EQ(polysock_buffered(p[1]), 0);

    /* read_until: the delimiter must end within the buffer. */
    send_str(p[0], "abcXYZ");
    CHECK_ERR(polysock_read_until(p[1], "XYZ", 3, buf, 5, &n), EMSGSIZE);
    check_msg_has("read_until: the delimiter does not end within the first 5 bytes");
    CHECK_OK(polysock_read_until(p[1], "XYZ", 3, buf, 6, &n));
    CHECK_EQ(n, 6);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(readline_and_every_receive_mix) {
    polysock_t p[2];
    pair(p);
    send_str(p[0], "line1\nraw-bytes");
    char buf[64] = {0};
    CHECK_EQ(line(p[1], buf, sizeof buf), 6);
    CHECK_STR(buf, "line1\n");
    /* The buffered bytes come first from recv, without waiting. */
    CHECK(polysock_buffered(p[1]) > 0);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(polysock_recv(p[1], buf, 4, POLYSOCK_MSG_PEEK), 4);
    CHECK_STR(buf, "raw-");
    CHECK_EQ(polysock_recv(p[1], buf, 4, 0), 4);
    CHECK_STR(buf, "raw-");
    polysock_addr from;
    memset(buf, 0, sizeof buf);
    CHECK_EQ(polysock_recvfrom(p[1], buf, 2, 0, &from), 2);
    CHECK_STR(buf, "by");
    CHECK_EQ(from.family, 0);
    char a[2], b[8] = {0};
    polysock_iovec v[2] = {{a, 2}, {b, 7}};
    int flags = -1;
    CHECK_EQ(polysock_recvmsg(p[1], v, 2, 0, NULL, &flags), 3);
    CHECK(memcmp(a, "te", 2) == 0);
    CHECK_STR(b, "s");
    CHECK_EQ(flags, 0);
    CHECK_EQ(polysock_buffered(p[1]), 0);
    /* Empty buffer: recv goes to the kernel as always. */
    send_str(p[0], "x");
    CHECK_EQ(polysock_recv(p[1], buf, sizeof buf, 0), 1);

    /* recv_exact takes the buffered part, then the rest from the kernel. */
    send_str(p[0], "L\n12345");
    CHECK_EQ(line(p[1], buf, sizeof buf), 2);
    send_str(p[0], "6789");
    memset(buf, 0, sizeof buf);
    CHECK_EQ(polysock_recv_exact(p[1], buf, 9, 0, NULL), 9);
    CHECK_STR(buf, "123456789");

    /* recv_handle too (with no handle). */
    send_str(p[0], "M\nhandle-less");
    CHECK_EQ(line(p[1], buf, sizeof buf), 2);
    polysock_t got = 5;
    memset(buf, 0, sizeof buf);
    CHECK_EQ(polysock_recv_handle(p[1], buf, sizeof buf, 0, &got, NULL), 11);
    CHECK_STR(buf, "handle-less");
    CHECK_EQ(got, -1);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(end_of_stream_mid_line) {
    polysock_t p[2];
    pair(p);
    send_str(p[0], "abc\npartial");
    CHECK_OK(polysock_shutdown(p[0], POLYSOCK_SHUT_WR));
    char buf[64];
    CHECK_EQ(line(p[1], buf, sizeof buf), 4);
    CHECK_STR(buf, "abc\n");
    CHECK_EQ(line(p[1], buf, sizeof buf), 7);
    CHECK_STR(buf, "partial");
    CHECK_EQ(line(p[1], buf, sizeof buf), 0);
    CHECK_EQ(line(p[1], buf, sizeof buf), 0);
    CHECK_EQ(polysock_recv(p[1], buf, sizeof buf, 0), 0);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(end_of_stream_after_an_over_long_tail) {
    polysock_t p[2];
    pair(p);
    send_str(p[0], "abcdefgh");
    polysock_close(p[0]);
    char buf[16] = {0};
    size_t n;
    CHECK_ERR(polysock_readline(p[1], buf, 4, &n), EMSGSIZE);
    CHECK_OK(polysock_readline(p[1], buf, sizeof buf, &n));
    CHECK_EQ(n, 8);
    CHECK(memcmp(buf, "abcdefgh", 8) == 0);
    CHECK_OK(polysock_readline(p[1], buf, sizeof buf, &n));
    CHECK_EQ(n, 0);
    polysock_close(p[1]);
}

TEST(timeouts_keep_what_came) {
    polysock_t p[2];
    pair(p);
    send_str(p[0], "abc");
    char buf[64];
    size_t n = 77;
    CHECK_OK(polysock_settimeout(p[1], 100));
    CHECK_ERR(polysock_readline(p[1], buf, sizeof buf, &n), ETIMEDOUT);
    check_msg_has("readline");
    CHECK_EQ(n, 77);
    CHECK_OK(polysock_settimeout(p[1], 0));
    CHECK_ERR(polysock_readline(p[1], buf, sizeof buf, &n), EAGAIN);
    CHECK_EQ(polysock_buffered(p[1]), 3);
    send_str(p[0], "def\n");
    CHECK_OK(polysock_settimeout(p[1], 5000));
    CHECK_EQ(line(p[1], buf, sizeof buf), 7);
    CHECK_STR(buf, "abcdef\n");
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(the_timeout_is_one_deadline_for_the_whole_line) {
    polysock_t p[2];
    pair(p);
    /* A byte every 30 ms, never a newline: each recv succeeds, but the
     * line as a whole must give up after the 200 ms timeout. */
    static const char *const pieces[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
                                         "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", NULL};
    struct trickle t = {p[0], pieces, 30};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, trickle_thread, &t) == 0);
    CHECK_OK(polysock_settimeout(p[1], 200));
    char buf[64];
    size_t n;
    CHECK_ERR(polysock_readline(p[1], buf, sizeof buf, &n), ETIMEDOUT);
    CHECK(pthread_join(th, NULL) == 0);
    /* Nothing lost: the 20 bytes are all still there. */
    send_str(p[0], "\n");
    CHECK_OK(polysock_settimeout(p[1], 5000));
    CHECK_EQ(line(p[1], buf, sizeof buf), 21);
    CHECK_STR(buf, "abcdefghijklmnopqrst\n");
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(long_lines_grow_the_buffer) {
    polysock_t p[2];
    tcp_pair(p);
    enum { LEN = 300000 };
    static char big[LEN + 1], got[LEN + 16];
    for (int i = 0; i < LEN - 1; i++) big[i] = 'a' + i % 26;
    big[LEN - 1] = '\n';
    struct trickle t;
    static const char *pieces[3];
    pieces[0] = big;
    pieces[1] = "tail\n";
    t.h = p[0];
    t.pieces = pieces;
    t.pause_ms = 0;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, trickle_thread, &t) == 0);
    size_t n = 0;
    CHECK_OK(polysock_readline(p[1], got, sizeof got, &n));
    CHECK_EQ(n, LEN);
    CHECK(memcmp(got, big, LEN) == 0);
    CHECK_OK(polysock_readline(p[1], got, sizeof got, &n));
    CHECK_EQ(n, 5);
    CHECK(pthread_join(th, NULL) == 0);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

static void *close_later(void *arg) {
    msleep(100);
    polysock_close(*(polysock_t *)arg);
    return NULL;
}

TEST(close_from_another_thread_wakes_a_readline) {
    polysock_t p[2];
    pair(p);
    CHECK_OK(polysock_settimeout(p[1], -1)); /* would block forever */
    send_str(p[0], "no newline yet");
    pthread_t th;
    CHECK(pthread_create(&th, NULL, close_later, &p[1]) == 0);
    char buf[64];
    size_t n;
    CHECK_ERR(polysock_readline(p[1], buf, sizeof buf, &n), EBADF);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK_ERR(polysock_readline(p[1], buf, sizeof buf, &n), EBADF);
    polysock_close(p[0]);
}

/* A line buffered by readline is readable for poll and the poller although
 * the kernel holds nothing; a partial line waits for the kernel once
 * readline found it wanting. Level, one-shot and edge registrations. */
TEST(buffered_lines_are_ready_for_poll_and_the_poller) {
    polysock_t p[2];
    pair(p);
    CHECK_OK(polysock_settimeout(p[1], 0));
    char buf[64];
    send_str(p[0], "one\ntwo\nthr");
    CHECK_EQ(line(p[1], buf, sizeof buf), 4);
    polysock_pollfd f = {.handle = p[1], .events = POLYSOCK_POLLIN};
    CHECK_EQ(polysock_poll(&f, 1, 0), 1);
    CHECK_EQ(f.revents, POLYSOCK_POLLIN);
    CHECK_EQ(polysock_poll(&f, 1, 5000), 1);
    polysock_poller_t level = polysock_poller_create(), once = polysock_poller_create(),
                      edge = polysock_poller_create();
    CHECK(level > 0 && once > 0 && edge > 0);
    CHECK_OK(polysock_poller_add(level, p[1], POLYSOCK_POLLIN, 0, 1));
    CHECK_OK(polysock_poller_add(once, p[1], POLYSOCK_POLLIN, POLYSOCK_POLLER_ONESHOT, 2));
    CHECK_OK(polysock_poller_add(edge, p[1], POLYSOCK_POLLIN, POLYSOCK_POLLER_EDGE, 3));
    polysock_poller_event ev[4];
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(polysock_poller_wait(level, ev, 4, 5000), 1);
        CHECK(ev[0].handle == p[1] && ev[0].events == POLYSOCK_POLLIN && ev[0].user == 1);
        CHECK_EQ(polysock_poller_wait(once, ev, 4, i == 0 ? 5000 : 0), i == 0 ? 1 : 0);
        CHECK_EQ(polysock_poller_wait(edge, ev, 4, 0), 0);
    }
    CHECK_EQ(line(p[1], buf, sizeof buf), 4);
    CHECK_STR(buf, "two\n");
    /* "thr": one more report, then readline finds it wanting. */
    CHECK_EQ(polysock_poll(&f, 1, 0), 1);
    size_t n;
    CHECK_EQ(polysock_readline(p[1], buf, sizeof buf, &n), -1);
    CHECK_EQ(polysock_errno(), EAGAIN);
    CHECK_EQ(polysock_buffered(p[1]), 3);
    CHECK_EQ(polysock_poll(&f, 1, 20), 0);
    CHECK_EQ(polysock_poller_wait(level, ev, 4, 20), 0);
    CHECK_OK(polysock_poller_modify(once, p[1], POLYSOCK_POLLIN, POLYSOCK_POLLER_ONESHOT, 2));
    send_str(p[0], "ee\n");
    CHECK_EQ(polysock_poll(&f, 1, 5000), 1);
    CHECK_EQ(polysock_poller_wait(once, ev, 4, 5000), 1);
    CHECK_EQ(polysock_poller_wait(edge, ev, 4, 5000), 1);
    CHECK_EQ(line(p[1], buf, sizeof buf), 6);
    CHECK_STR(buf, "three\n");
    CHECK_EQ(polysock_poll(&f, 1, 0), 0);
    CHECK_EQ(polysock_poller_wait(level, ev, 4, 0), 0);
    polysock_poller_destroy(level);
    polysock_poller_destroy(once);
    polysock_poller_destroy(edge);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(only_stream_sockets) {
    polysock_t u = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    char buf[8];
    size_t n;
    CHECK_ERR(polysock_readline(u, buf, sizeof buf, &n), EOPNOTSUPP);
    check_msg_has("SOCK_STREAM");
    CHECK_ERR(polysock_read_until(u, "x", 1, buf, sizeof buf, &n), EOPNOTSUPP);
    polysock_close(u);
}

TEST(bad_input) {
    polysock_t p[2];
    pair(p);
    char buf[8];
    size_t n = 5;
    polysock_t dead = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0);
    polysock_close(dead);
    polysock_t bad[] = {-1, 0, 12345, (polysock_t)1 << 53, dead};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERR(polysock_readline(bad[i], buf, sizeof buf, &n), EBADF);
        CHECK_ERR(polysock_read_until(bad[i], "\n", 1, buf, sizeof buf, &n), EBADF);
        CHECK_ERR(polysock_buffered(bad[i]), EBADF);
    }
    CHECK_ERR(polysock_readline(p[1], NULL, 8, &n), EINVAL);
    check_msg_has("readline: buffer is NULL");
    CHECK_ERR(polysock_readline(p[1], buf, 0, &n), EINVAL);
    check_msg_has("readline: buffer length is 0");
    CHECK_ERR(polysock_readline(p[1], buf, HUGE_LEN, &n), EINVAL);
    check_msg_has("too large");
    CHECK_ERR(polysock_readline(p[1], buf, sizeof buf, NULL), EINVAL);
    check_msg_has("out_len is NULL");
    CHECK_ERR(polysock_read_until(p[1], NULL, 1, buf, sizeof buf, &n), EINVAL);
    check_msg_has("read_until: buffer is NULL");
    CHECK_ERR(polysock_read_until(p[1], "\n", 0, buf, sizeof buf, &n), EINVAL);
    check_msg_has("delimiter is empty");
    CHECK_ERR(polysock_read_until(p[1], "\n", HUGE_LEN, buf, sizeof buf, &n), EINVAL);
    CHECK_ERR(polysock_read_until(p[1], "\n", 1, NULL, 4, &n), EINVAL);
    CHECK_ERR(polysock_read_until(p[1], "\n", 1, buf, 0, &n), EINVAL);
    CHECK_ERR(polysock_read_until(p[1], "\n", 1, buf, HUGE_LEN - 1, &n), EINVAL);
    CHECK_ERR(polysock_read_until(p[1], "\n", 1, buf, sizeof buf, NULL), EINVAL);
    CHECK_EQ(n, 5); /* never written by a failed call */
    /* Nothing was consumed by the failed calls. */
    send_str(p[0], "ok\n");
    CHECK_OK(polysock_readline(p[1], buf, sizeof buf, &n));
    CHECK_EQ(n, 3);
    polysock_close(p[0]);
    polysock_close(p[1]);
}
