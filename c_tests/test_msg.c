/* Vectored and ancillary I/O: sendmsg/recvmsg with arrays of buffers,
 * truncation flags, passing sockets over AF_UNIX (SCM_RIGHTS), and
 * sendmmsg/recvmmsg batches over UDP loopback; then bad input for every
 * export, each with its code and message. */
#include "harness.h"

#include <stdint.h>
#include <sys/socket.h>

#define HUGE_LEN ((size_t)-1)


static int cloexec(int fd) {
    int f = fcntl(fd, F_GETFD);
    CHECK(f != -1);
    return (f & FD_CLOEXEC) != 0;
}

static void check_msg_has(const char *part) {
    if (!strstr(polysock_last_error(), part))
        FAIL_("message \"%s\" lacks \"%s\"", polysock_last_error(), part);
}

TEST(vectored_stream_send_and_receive) {
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_STREAM, p);
    polysock_iovec out[3] = {iov("abc", 3), iov(NULL, 0), iov("defgh", 5)};
    CHECK_EQ(polysock_sendmsg(p[0], out, 3, 0, NULL, 0), 8);
    char a[3], b[16] = {0};
    polysock_iovec in[2] = {iov(a, sizeof a), iov(b, sizeof b)};
    polysock_addr from;
    int flags = -1;
    CHECK_EQ(polysock_recvmsg(p[1], in, 2, 0, &from, &flags), 8);
    CHECK(memcmp(a, "abc", 3) == 0);
    CHECK_STR(b, "defgh");
    CHECK_EQ(flags, 0);
    CHECK_EQ(from.family, 0); /* a socketpair's peer has no name */
    /* NULL outputs are allowed. */
    CHECK_EQ(polysock_sendmsg(p[0], out, 1, 0, NULL, 0), 3);
    CHECK_EQ(polysock_recvmsg(p[1], in, 2, 0, NULL, NULL), 3);
    /* End of stream is 0. */
    CHECK_OK(polysock_shutdown(p[0], POLYSOCK_SHUT_WR));
    CHECK_EQ(polysock_recvmsg(p[1], in, 2, 0, NULL, &flags), 0);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(vectored_udp_with_addresses) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    polysock_iovec out[2] = {iov("head:", 5), iov("body", 4)};
    CHECK_EQ(polysock_sendmsg(s, out, 2, 0, "127.0.0.1", rport), 9);
    char buf[32] = {0};
    polysock_iovec in[1] = {iov(buf, sizeof buf)};
    polysock_addr from;
    int flags = -1;
    CHECK_EQ(polysock_recvmsg(r, in, 1, 0, &from, &flags), 9);
    CHECK_STR(buf, "head:body");
    CHECK_EQ(flags, 0);
    CHECK_EQ(from.family, POLYSOCK_AF_INET);
    CHECK_STR(from.host, "127.0.0.1");
    CHECK_EQ(from.port, sport);
    /* Connected: no address needed. */
    CHECK_OK(polysock_connect(s, "127.0.0.1", rport));
    CHECK_EQ(polysock_sendmsg(s, out + 1, 1, 0, NULL, 0), 4);
    CHECK_EQ(polysock_recvmsg(r, in, 1, 0, NULL, NULL), 4);
    /* IPv6 too. */
    polysock_t r6 = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_DGRAM, 0);
    polysock_t s6 = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(polysock_bind(r6, "::1", 0));
    CHECK_OK(polysock_settimeout(r6, 5000));
    polysock_addr a6;
    CHECK_OK(polysock_getsockname(r6, &a6));
    CHECK_EQ(polysock_sendmsg(s6, out, 2, 0, "::1", a6.port), 9);
    CHECK_EQ(polysock_recvmsg(r6, in, 1, 0, &from, NULL), 9);
    CHECK_EQ(from.family, POLYSOCK_AF_INET6);
    CHECK_STR(from.host, "::1");
    polysock_close(r6);
    polysock_close(s6);
    polysock_close(r);
    polysock_close(s);
}

TEST(truncated_datagram_sets_msg_trunc) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    char big[100];
    memset(big, 'x', sizeof big);
    polysock_iovec out[1] = {iov(big, sizeof big)};
    char small[10];
    polysock_iovec in[1] = {iov(small, sizeof small)};
    int flags = 0;
    CHECK_EQ(polysock_sendmsg(s, out, 1, 0, "127.0.0.1", rport), 100);
    CHECK_EQ(polysock_recvmsg(r, in, 1, 0, NULL, &flags), 10);
    CHECK(flags & POLYSOCK_MSG_TRUNC);
    /* With MSG_TRUNC asked for, Linux reports the real length. */
    CHECK_EQ(polysock_sendmsg(s, out, 1, 0, "127.0.0.1", rport), 100);
    flags = 0;
    CHECK_EQ(polysock_recvmsg(r, in, 1, POLYSOCK_MSG_TRUNC, NULL, &flags), 100);
    CHECK(flags & POLYSOCK_MSG_TRUNC);
    /* A datagram that fits has no flag. */
    CHECK_EQ(polysock_sendmsg(s, out, 1, 0, "127.0.0.1", rport), 100);
    char fits[200];
    polysock_iovec in2[1] = {iov(fits, sizeof fits)};
    flags = -1;
    CHECK_EQ(polysock_recvmsg(r, in2, 1, 0, NULL, &flags), 100);
    CHECK_EQ(flags, 0);
    polysock_close(r);
    polysock_close(s);
}

TEST(handle_dropped_by_plain_recvmsg_sets_msg_ctrunc) {
    polysock_t chan[2], other[2];
    unix_pair(POLYSOCK_SOCK_STREAM, chan);
    unix_pair(POLYSOCK_SOCK_STREAM, other);
    int before = open_fd_count();
    CHECK_EQ(polysock_send_handle(chan[0], other[1], "h", 1, 0), 1);
    char c;
    polysock_iovec in[1] = {iov(&c, 1)};
    int flags = 0;
    CHECK_EQ(polysock_recvmsg(chan[1], in, 1, 0, NULL, &flags), 1);
    CHECK_EQ(c, 'h');
    CHECK(flags & POLYSOCK_MSG_CTRUNC);
    CHECK_EQ(open_fd_count(), before); /* the kernel closed it */
    for (int i = 0; i < 2; i++) { polysock_close(chan[i]); polysock_close(other[i]); }
}

/* Pass one end of another socketpair through the channel, close the
 * sender's copy, and talk through the received handle. */
static void pass_and_use(int chan_type) {
    polysock_t chan[2], other[2];
    unix_pair(chan_type, chan);
    unix_pair(POLYSOCK_SOCK_STREAM, other);
    CHECK_EQ(polysock_send_handle(chan[0], other[1], "take", 4, 0), 4);
    CHECK_OK(polysock_close(other[1]));
    char buf[16] = {0};
    polysock_t got = 0;
    int flags = -1;
    CHECK_EQ(polysock_recv_handle(chan[1], buf, sizeof buf, 0, &got, &flags), 4);
    CHECK_STR(buf, "take");
    CHECK_EQ(flags, 0);
    CHECK(got > 0);
    CHECK(got != other[1]);
    int fd = polysock_fileno(got);
    CHECK_OK(fd);
    CHECK(cloexec(fd));
    polysock_socket_info info;
    CHECK_OK(polysock_info(got, &info));
    CHECK_EQ(info.family, POLYSOCK_AF_UNIX);
    CHECK_EQ(info.socktype, POLYSOCK_SOCK_STREAM);
    CHECK_EQ(info.connected, 1);
    CHECK_OK(polysock_settimeout(got, 5000));
    CHECK_EQ(polysock_sendall(other[0], "ping", 4, 0, NULL), 4);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(polysock_recv_exact(got, buf, 4, 0, NULL), 4);
    CHECK_STR(buf, "ping");
    CHECK_EQ(polysock_sendall(got, "pong", 4, 0, NULL), 4);
    CHECK_EQ(polysock_recv_exact(other[0], buf, 4, 0, NULL), 4);
    CHECK_STR(buf, "pong");
    /* Closing the received handle ends the stream for the other end. */
    CHECK_OK(polysock_close(got));
    CHECK_EQ(polysock_recv(other[0], buf, sizeof buf, 0), 0);
    polysock_close(chan[0]);
    polysock_close(chan[1]);
    polysock_close(other[0]);
}

TEST(pass_a_socket_over_a_stream_pair) { pass_and_use(POLYSOCK_SOCK_STREAM); }
TEST(pass_a_socket_over_a_datagram_pair) { pass_and_use(POLYSOCK_SOCK_DGRAM); }

TEST(pass_a_listening_tcp_socket) {
    polysock_t chan[2];
    unix_pair(POLYSOCK_SOCK_STREAM, chan);
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    CHECK_EQ(polysock_send_handle(chan[0], srv, "L", 1, 0), 1);
    polysock_close(srv);
    char c;
    polysock_t got;
    CHECK_EQ(polysock_recv_handle(chan[1], &c, 1, 0, &got, NULL), 1);
    polysock_socket_info info;
    CHECK_OK(polysock_info(got, &info));
    CHECK_EQ(info.family, POLYSOCK_AF_INET);
    CHECK_EQ(info.listening, 1);
    CHECK_EQ(info.local.port, port);
    polysock_t cli = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(cli, "127.0.0.1", port));
    CHECK_OK(polysock_settimeout(got, 5000));
    polysock_t conn = polysock_accept(got, NULL);
    CHECK_OK(conn);
    polysock_close(conn);
    polysock_close(cli);
    polysock_close(got);
    polysock_close(chan[0]);
    polysock_close(chan[1]);
}

TEST(empty_datagram_can_carry_a_handle) {
    polysock_t chan[2], other[2];
    unix_pair(POLYSOCK_SOCK_DGRAM, chan);
    unix_pair(POLYSOCK_SOCK_STREAM, other);
    CHECK_EQ(polysock_send_handle(chan[0], other[0], NULL, 0, 0), 0);
    char c;
    polysock_t got = 0;
    CHECK_EQ(polysock_recv_handle(chan[1], &c, 1, 0, &got, NULL), 0);
    CHECK(got > 0);
    polysock_close(got);
    for (int i = 0; i < 2; i++) { polysock_close(chan[i]); polysock_close(other[i]); }
}

TEST(recv_handle_without_a_handle_gives_minus_one) {
    polysock_t chan[2];
    unix_pair(POLYSOCK_SOCK_STREAM, chan);
    CHECK_EQ(polysock_send(chan[0], "plain", 5, 0), 5);
    char buf[8];
    polysock_t got = 123;
    CHECK_EQ(polysock_recv_handle(chan[1], buf, sizeof buf, 0, &got, NULL), 5);
    CHECK_EQ(got, -1);
    /* End of stream. */
    polysock_close(chan[0]);
    got = 123;
    CHECK_EQ(polysock_recv_handle(chan[1], buf, sizeof buf, 0, &got, NULL), 0);
    CHECK_EQ(got, -1);
    polysock_close(chan[1]);
}

/* Sends `n` raw descriptors in one SCM_RIGHTS message, as a C peer might. */
static void send_raw_fds(int via, const int *fds, int n) {
    char data = 'F';
    struct iovec v = {&data, 1};
    union { struct cmsghdr align; char buf[CMSG_SPACE(8 * sizeof(int))]; } u;
    memset(&u, 0, sizeof u);
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = CMSG_SPACE(n * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    CHECK_EQ(sendmsg(via, &m, 0), 1);
}

TEST(extra_descriptors_are_closed_and_reported) {
    polysock_t chan[2], a[2], b[2], c[2];
    unix_pair(POLYSOCK_SOCK_STREAM, chan);
    unix_pair(POLYSOCK_SOCK_STREAM, a);
    unix_pair(POLYSOCK_SOCK_STREAM, b);
    unix_pair(POLYSOCK_SOCK_STREAM, c);
    int fds[3] = {polysock_fileno(a[1]), polysock_fileno(b[1]), polysock_fileno(c[1])};
    int before = open_fd_count();
    send_raw_fds(polysock_fileno(chan[0]), fds, 3);
    char ch;
    polysock_t got;
    int flags = 0;
    CHECK_EQ(polysock_recv_handle(chan[1], &ch, 1, 0, &got, &flags), 1);
    CHECK(got > 0);
    CHECK(flags & POLYSOCK_MSG_CTRUNC);
    CHECK_EQ(open_fd_count(), before + 1); /* only the adopted one */
    CHECK(cloexec(polysock_fileno(got)));
    polysock_close(got);
    CHECK_EQ(open_fd_count(), before);
    for (int i = 0; i < 2; i++) {
        polysock_close(chan[i]); polysock_close(a[i]); polysock_close(b[i]); polysock_close(c[i]);
    }
}

TEST(a_descriptor_that_is_not_a_socket_is_refused_and_closed) {
    polysock_t chan[2];
    unix_pair(POLYSOCK_SOCK_STREAM, chan);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    int before = open_fd_count();
    send_raw_fds(polysock_fileno(chan[0]), &pfd[0], 1);
    char ch;
    polysock_t got = 77;
    CHECK_ERR(polysock_recv_handle(chan[1], &ch, 1, 0, &got, NULL), ENOTSOCK);
    check_msg_has("recv_handle");
    CHECK_EQ(got, 77);
    CHECK_EQ(open_fd_count(), before);
    close(pfd[0]);
    close(pfd[1]);
    polysock_close(chan[0]);
    polysock_close(chan[1]);
}

TEST(handles_only_travel_over_unix_sockets) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_t cli = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(cli, "127.0.0.1", port));
    CHECK_ERR(polysock_send_handle(cli, srv, "x", 1, 0), EOPNOTSUPP);
    check_msg_has("AF_UNIX");
    char c;
    polysock_t got;
    CHECK_ERR(polysock_recv_handle(cli, &c, 1, 0, &got, NULL), EOPNOTSUPP);
    polysock_t chan[2];
    unix_pair(POLYSOCK_SOCK_STREAM, chan);
    CHECK_ERR(polysock_send_handle(chan[0], srv, NULL, 0, 0), EINVAL);
    check_msg_has("at least one data byte");
    polysock_close(cli);
    polysock_close(srv);
    polysock_close(chan[0]);
    polysock_close(chan[1]);
}

TEST(recv_timeouts_apply) {
    polysock_t chan[2];
    unix_pair(POLYSOCK_SOCK_STREAM, chan);
    char c;
    polysock_t got;
    polysock_iovec in[1] = {iov(&c, 1)};
    CHECK_OK(polysock_settimeout(chan[1], 50));
    CHECK_ERR(polysock_recv_handle(chan[1], &c, 1, 0, &got, NULL), ETIMEDOUT);
    CHECK_ERR(polysock_recvmsg(chan[1], in, 1, 0, NULL, NULL), ETIMEDOUT);
    CHECK_OK(polysock_settimeout(chan[1], 0));
    CHECK_ERR(polysock_recv_handle(chan[1], &c, 1, 0, &got, NULL), EAGAIN);
    CHECK_ERR(polysock_recvmsg(chan[1], in, 1, 0, NULL, NULL), EAGAIN);
    polysock_close(chan[0]);
    polysock_close(chan[1]);
}

TEST(mmsg_batches_over_udp) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    enum { N = 5 };
    char payload[N][16];
    polysock_iovec out_iov[N][2];
    polysock_mmsg out[N];
    memset(out, 0, sizeof out);
    for (int i = 0; i < N; i++) {
        snprintf(payload[i], sizeof payload[i], "dgram-%d", i);
        out_iov[i][0] = iov("#", 1);
        out_iov[i][1] = iov(payload[i], strlen(payload[i]));
        out[i].iov = out_iov[i];
        out[i].iovcnt = 2;
        out[i].addr.family = POLYSOCK_AF_INET;
        strcpy(out[i].addr.host, "127.0.0.1");
        out[i].addr.port = rport;
    }
    CHECK_EQ(polysock_sendmmsg(s, out, N, 0), N);
    for (int i = 0; i < N; i++) CHECK_EQ(out[i].len, 1 + strlen(payload[i]));

    enum { M = 8 };
    char in_buf[M][32];
    polysock_iovec in_iov[M];
    polysock_mmsg in[M];
    memset(in, 0, sizeof in);
    for (int i = 0; i < M; i++) {
        in_iov[i] = iov(in_buf[i], sizeof in_buf[i]);
        in[i].iov = &in_iov[i];
        in[i].iovcnt = 1;
    }
    int got = 0;
    while (got < N) {
        long long n = polysock_recvmmsg(r, in + got, M - got, 0);
        CHECK(n > 0);
        got += (int)n;
    }
    CHECK_EQ(got, N);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "#dgram-%d", i);
        CHECK_EQ(in[i].len, strlen(want));
        CHECK(memcmp(in_buf[i], want, in[i].len) == 0);
        CHECK_EQ(in[i].flags, 0);
        CHECK_EQ(in[i].addr.family, POLYSOCK_AF_INET);
        CHECK_STR(in[i].addr.host, "127.0.0.1");
        CHECK_EQ(in[i].addr.port, sport);
    }
    /* Nothing more waiting: timeout, then EAGAIN on a non-blocking socket. */
    CHECK_OK(polysock_settimeout(r, 50));
    CHECK_ERR(polysock_recvmmsg(r, in, M, 0), ETIMEDOUT);
    CHECK_OK(polysock_settimeout(r, 0));
    CHECK_ERR(polysock_recvmmsg(r, in, M, 0), EAGAIN);
    CHECK_OK(polysock_settimeout(r, 5000));

    /* Connected sender, family 0: no address per message; a truncated one
     * is flagged. */
    CHECK_OK(polysock_connect(s, "127.0.0.1", rport));
    char big[64];
    memset(big, 'b', sizeof big);
    polysock_iovec big_iov = iov(big, sizeof big);
    polysock_mmsg one;
    memset(&one, 0, sizeof one);
    one.iov = &big_iov;
    one.iovcnt = 1;
    CHECK_EQ(polysock_sendmmsg(s, &one, 1, 0), 1);
    CHECK_EQ(one.len, sizeof big);
    CHECK_EQ(polysock_recvmmsg(r, in, 1, 0), 1);
    CHECK_EQ(in[0].len, 32);
    CHECK(in[0].flags & POLYSOCK_MSG_TRUNC);
    /* count 0 sends nothing. */
    CHECK_EQ(polysock_sendmmsg(s, out, 0, 0), 0);
    polysock_close(r);
    polysock_close(s);
}

TEST(mmsg_counts_above_the_maximum_handle_the_first_64) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    CHECK_OK(polysock_connect(s, "127.0.0.1", rport));
    enum { N = POLYSOCK_MMSG_MAX + 6 };
    static polysock_mmsg m[N];
    polysock_iovec v = iov("x", 1);
    for (int i = 0; i < N; i++) {
        m[i].iov = &v;
        m[i].iovcnt = 1;
        m[i].addr.family = 0;
    }
    CHECK_EQ(polysock_sendmmsg(s, m, N, 0), POLYSOCK_MMSG_MAX);
    static char bufs[N][4];
    static polysock_iovec iv[N];
    for (int i = 0; i < N; i++) {
        iv[i] = iov(bufs[i], sizeof bufs[i]);
        m[i].iov = &iv[i];
    }
    int got = 0;
    while (got < POLYSOCK_MMSG_MAX) {
        long long n = polysock_recvmmsg(r, m, N, 0);
        CHECK(n > 0 && n <= POLYSOCK_MMSG_MAX);
        got += (int)n;
    }
    CHECK_EQ(got, POLYSOCK_MMSG_MAX);
    polysock_close(r);
    polysock_close(s);
}

/* One message of a batch: `text`'s bytes to host:port (family AF_INET). */
static void dest_msg(polysock_mmsg *m, polysock_iovec *v, const char *text, const char *host, int port) {
    memset(m, 0, sizeof *m);
    *v = iov(text, strlen(text));
    m->iov = v;
    m->iovcnt = 1;
    m->addr.family = POLYSOCK_AF_INET;
    strcpy(m->addr.host, host);
    m->addr.port = port;
}

/* Receives exactly `n` datagrams on `r` (a batch at a time, each call
 * waiting at most the socket's 5 s) into `in`, whose buffers `buf` and
 * addresses are first filled with garbage: what is checked was written. */
enum { RECV_MAX = 8 };
static void recv_n(polysock_t r, polysock_mmsg in[RECV_MAX], char buf[RECV_MAX][16], polysock_iovec v[RECV_MAX], int n) {
    memset(in, 0x55, sizeof(polysock_mmsg) * RECV_MAX);
    for (int i = 0; i < RECV_MAX; i++) {
        memset(buf[i], 0, 16);
        v[i] = iov(buf[i], 15);
        in[i].iov = &v[i];
        in[i].iovcnt = 1;
    }
    for (int got = 0; got < n;) {
        long long k = polysock_recvmmsg(r, in + got, (size_t)(n - got), 0);
        CHECK(k > 0);
        got += (int)k;
    }
}

TEST(mmsg_batch_to_several_destinations) {
    int p1, p2, p3, sport;
    polysock_t r1 = udp(&p1), r2 = udp(&p2), s = udp(&sport);
    /* 127.0.0.10 is loopback too (all of 127/8 on Linux). */
    polysock_t r3 = udp_at(POLYSOCK_AF_INET, "0.0.0.0", &p3);
    enum { N = 7 };
    polysock_mmsg out[N];
    polysock_iovec ov[N];
    dest_msg(&out[0], &ov[0], "m0", "127.0.0.1", p1);
    dest_msg(&out[1], &ov[1], "m1", "127.0.0.1", p2); /* the same text, another port */
    dest_msg(&out[2], &ov[2], "m2", "127.0.0.1", p1); /* back to the first */
    dest_msg(&out[3], &ov[3], "m3", "127.0.0.1", p1);
    memset(out[3].addr.host + 10, 'z', 20); /* after the NUL: not the text */
    dest_msg(&out[4], &ov[4], "m4", "127.0.0.10", p3); /* the last text and one more byte */
    dest_msg(&out[5], &ov[5], "m5", "localhost", p2); /* a name, resolved as for sendto */
    dest_msg(&out[6], &ov[6], "m6", "localhost", p2);
    CHECK_EQ(polysock_sendmmsg(s, out, N, 0), N);
    for (int i = 0; i < N; i++) CHECK_EQ(out[i].len, 2);

    polysock_mmsg in[RECV_MAX];
    char buf[RECV_MAX][16];
    polysock_iovec v[RECV_MAX];
    const char *want1[] = {"m0", "m2", "m3"}, *want2[] = {"m1", "m5", "m6"};
    recv_n(r1, in, buf, v, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_STR(buf[i], want1[i]);
        CHECK_EQ(in[i].len, 2);
        CHECK_EQ(in[i].flags, 0);
        CHECK_STR(in[i].addr.host, "127.0.0.1");
        CHECK_EQ(in[i].addr.port, sport);
    }
    recv_n(r2, in, buf, v, 3);
    for (int i = 0; i < 3; i++) CHECK_STR(buf[i], want2[i]);
    recv_n(r3, in, buf, v, 1);
    CHECK_STR(buf[0], "m4");
    /* Nothing went anywhere else. */
    CHECK_OK(polysock_settimeout(r1, 0));
    CHECK_OK(polysock_settimeout(r2, 0));
    CHECK_OK(polysock_settimeout(r3, 0));
    CHECK_ERR(polysock_recvmmsg(r1, in, 1, 0), EAGAIN);
    CHECK_ERR(polysock_recvmmsg(r2, in, 1, 0), EAGAIN);
    CHECK_ERR(polysock_recvmmsg(r3, in, 1, 0), EAGAIN);
    polysock_close(r1);
    polysock_close(r2);
    polysock_close(r3);
    polysock_close(s);
}

TEST(mmsg_a_bad_message_after_good_ones) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    polysock_mmsg out[3];
    polysock_iovec ov[3];
    for (int i = 0; i < 3; i++) dest_msg(&out[i], &ov[i], "ok", "127.0.0.1", rport);
    /* Checked before anything is sent: -1, naming the message, and none
     * of the batch went (the first two share one destination). */
    struct { const char *host; int port, code; const char *says; } bad[] = {
        {"::1", rport, EAFNOSUPPORT, "sendmmsg message 2 ::1: an IPv6 address for an AF_INET socket"},
        {"127.0.0.1", 65536, EINVAL, "sendmmsg message 2: port 65536 is out of range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(out[2].addr.host, bad[i].host);
        out[2].addr.port = bad[i].port;
        CHECK_ERR(polysock_sendmmsg(s, out, 3, 0), bad[i].code);
        check_msg_has(bad[i].says);
    }
    strcpy(out[2].addr.host, "127.0.0.1");
    CHECK_OK(polysock_settimeout(r, 0));
    char c[4];
    CHECK_ERR(polysock_recv(r, c, sizeof c, 0), EAGAIN);
    /* What only the kernel refuses (a datagram too large for UDP) ends
     * the batch there: the count sent, then that message's error. */
    out[2].addr.port = rport;
    static char big[70000];
    ov[1] = iov(big, sizeof big);
    CHECK_EQ(polysock_sendmmsg(s, out, 3, 0), 1);
    CHECK_EQ(out[0].len, 2);
    CHECK_ERR(polysock_sendmmsg(s, out + 1, 2, 0), EMSGSIZE);
    CHECK_EQ(polysock_recv(r, c, sizeof c, 0), 2);
    CHECK_ERR(polysock_recv(r, c, sizeof c, 0), EAGAIN);
    polysock_close(r);
    polysock_close(s);
}

TEST(mmsg_senders_ipv4_ipv6_and_unix) {
    polysock_mmsg in[RECV_MAX];
    char buf[RECV_MAX][16];
    polysock_iovec v[RECV_MAX];
    /* IPv4, two senders interleaved; one datagram cut to its buffer. */
    int rport, pa, pb;
    polysock_t r = udp(&rport), a = udp(&pa), b = udp(&pb);
    CHECK_EQ(polysock_sendto(a, "a0", 2, 0, "127.0.0.1", rport), 2);
    CHECK_EQ(polysock_sendto(b, "b1", 2, 0, "127.0.0.1", rport), 2);
    CHECK_EQ(polysock_sendto(a, "a2-too-long-for-4", 17, 0, "127.0.0.1", rport), 17);
    CHECK_EQ(polysock_sendto(a, "a3", 2, 0, "127.0.0.1", rport), 2);
    recv_n(r, in, buf, v, 0);
    v[2].len = 4;
    for (int got = 0; got < 4;) {
        long long k = polysock_recvmmsg(r, in + got, (size_t)(4 - got), 0);
        CHECK(k > 0);
        got += (int)k;
    }
    int ports[] = {pa, pb, pa, pa};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(in[i].addr.family, POLYSOCK_AF_INET);
        CHECK_STR(in[i].addr.host, "127.0.0.1");
        CHECK_EQ(in[i].addr.port, ports[i]);
        CHECK_EQ(in[i].addr.flowinfo, 0);
        CHECK_EQ(in[i].addr.scope_id, 0);
        CHECK_EQ(in[i].flags, i == 2 ? POLYSOCK_MSG_TRUNC : 0);
        CHECK_EQ(in[i].len, i == 2 ? 4 : 2);
    }
    CHECK(memcmp(buf[2], "a2-t", 4) == 0);
    polysock_close(r);
    polysock_close(a);
    polysock_close(b);

    /* IPv6 and IPv4-mapped senders in one batch, on a dual-stack socket. */
    int r6port, p6, p4;
    polysock_t r6 = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(r6);
    CHECK_OK(polysock_setsockopt_int(r6, POLYSOCK_IPPROTO_IPV6, POLYSOCK_IPV6_V6ONLY, 0));
    CHECK_OK(polysock_bind(r6, "::", 0));
    CHECK_OK(polysock_settimeout(r6, 5000));
    polysock_addr me;
    CHECK_OK(polysock_getsockname(r6, &me));
    r6port = me.port;
    polysock_t s6 = udp_at(POLYSOCK_AF_INET6, "::1", &p6), s4 = udp(&p4);
    CHECK_EQ(polysock_sendto(s6, "x0", 2, 0, "::1", r6port), 2);
    CHECK_EQ(polysock_sendto(s4, "x1", 2, 0, "127.0.0.1", r6port), 2);
    CHECK_EQ(polysock_sendto(s4, "x2", 2, 0, "127.0.0.1", r6port), 2);
    CHECK_EQ(polysock_sendto(s6, "x3", 2, 0, "::1", r6port), 2);
    recv_n(r6, in, buf, v, 4);
    const char *hosts6[] = {"::1", "::ffff:127.0.0.1", "::ffff:127.0.0.1", "::1"};
    int ports6[] = {p6, p4, p4, p6};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(in[i].addr.family, POLYSOCK_AF_INET6);
        CHECK_STR(in[i].addr.host, hosts6[i]);
        CHECK_EQ(in[i].addr.port, ports6[i]);
        CHECK_EQ(in[i].addr.scope_id, 0);
    }
    polysock_close(r6);
    polysock_close(s6);
    polysock_close(s4);

    /* Unix datagram senders: named by a path; unnamed (the kernel names
     * none: family 0). */
    char dir[64], rpath[96], apath[96];
    make_temp_dir(dir, "mmsg");
    snprintf(rpath, sizeof rpath, "%s/r", dir);
    snprintf(apath, sizeof apath, "%s/a", dir);
    polysock_t ur = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_DGRAM, 0);
    polysock_t ua = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_DGRAM, 0);
    polysock_t un = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(polysock_bind(ur, rpath, 0));
    CHECK_OK(polysock_bind(ua, apath, 0));
    CHECK_OK(polysock_settimeout(ur, 5000));
    CHECK_EQ(polysock_sendto(ua, "u0", 2, 0, rpath, 0), 2);
    CHECK_EQ(polysock_sendto(un, "u1", 2, 0, rpath, 0), 2);
    CHECK_EQ(polysock_sendto(ua, "u2", 2, 0, rpath, 0), 2);
    recv_n(ur, in, buf, v, 3);
    const char *upaths[] = {apath, "", apath};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(in[i].addr.family, i == 1 ? 0 : POLYSOCK_AF_UNIX);
        CHECK_STR(in[i].addr.host, upaths[i]);
        CHECK_EQ(in[i].addr.port, 0);
    }
    polysock_close(ur);
    polysock_close(ua);
    polysock_close(un);
}

/* ---- bad input ---- */

static polysock_t stale_handle(void) {
    polysock_t s = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0);
    polysock_close(s);
    return s;
}

TEST(dead_handles_are_ebadf) {
    polysock_t chan[2];
    unix_pair(POLYSOCK_SOCK_STREAM, chan);
    polysock_t bad[] = {-1, 0, 12345, (polysock_t)1 << 53, stale_handle()};
    char buf[8];
    polysock_iovec v = iov(buf, sizeof buf);
    polysock_mmsg m;
    memset(&m, 0, sizeof m);
    m.iov = &v;
    m.iovcnt = 1;
    polysock_t got;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        polysock_t h = bad[i];
        CHECK_ERR(polysock_sendmsg(h, &v, 1, 0, NULL, 0), EBADF);
        CHECK_ERR(polysock_recvmsg(h, &v, 1, 0, NULL, NULL), EBADF);
        CHECK_ERR(polysock_send_handle(h, chan[1], "x", 1, 0), EBADF);
        CHECK_ERR(polysock_recv_handle(h, buf, sizeof buf, 0, &got, NULL), EBADF);
        CHECK_ERR(polysock_sendmmsg(h, &m, 1, 0), EBADF);
        CHECK_ERR(polysock_recvmmsg(h, &m, 1, 0), EBADF);
        /* A dead handle to send, over a good channel. */
        CHECK_ERR(polysock_send_handle(chan[0], h, "x", 1, 0), EBADF);
        check_msg_has("send_handle: the handle to send");
    }
    polysock_close(chan[0]);
    polysock_close(chan[1]);
}

TEST(bad_buffer_arrays_are_einval) {
    polysock_t chan[2];
    unix_pair(POLYSOCK_SOCK_DGRAM, chan);
    /* Initialised: the EDESTADDRREQ case below reaches sendmsg(2), which
     * reads these bytes before it refuses. */
    char buf[8] = "bufbuf!";
    polysock_iovec v[2] = {iov(buf, 4), iov(NULL, 4)};
    CHECK_ERR(polysock_sendmsg(chan[0], NULL, 1, 0, NULL, 0), EINVAL);
    check_msg_has("sendmsg: iov is NULL");
    CHECK_ERR(polysock_recvmsg(chan[1], NULL, 1, 0, NULL, NULL), EINVAL);
    check_msg_has("recvmsg: iov is NULL");
    CHECK_ERR(polysock_sendmsg(chan[0], v, 2, 0, NULL, 0), EINVAL);
    check_msg_has("buffer 1 is NULL with length 4");
    CHECK_ERR(polysock_recvmsg(chan[1], v, 2, 0, NULL, NULL), EINVAL);
    check_msg_has("buffer 1 is NULL");
    /* Too many buffers: refused before the array is read. */
    CHECK_ERR(polysock_sendmsg(chan[0], v, POLYSOCK_IOV_MAX + 1, 0, NULL, 0), EINVAL);
    check_msg_has("POLYSOCK_IOV_MAX");
    CHECK_ERR(polysock_recvmsg(chan[1], v, HUGE_LEN, 0, NULL, NULL), EINVAL);
    check_msg_has("POLYSOCK_IOV_MAX");
    /* Exactly the maximum is fine. */
    static polysock_iovec many[POLYSOCK_IOV_MAX];
    for (int i = 0; i < POLYSOCK_IOV_MAX; i++) many[i] = iov(i == 0 ? "m" : NULL, i == 0);
    CHECK_EQ(polysock_sendmsg(chan[0], many, POLYSOCK_IOV_MAX, 0, NULL, 0), 1);
    many[0] = iov(buf, sizeof buf);
    CHECK_EQ(polysock_recvmsg(chan[1], many, POLYSOCK_IOV_MAX, 0, NULL, NULL), 1);
    /* Lengths that were negative, or that add up past SSIZE_MAX. */
    polysock_iovec huge[2] = {iov(buf, HUGE_LEN / 2), iov(buf, HUGE_LEN / 2 + 2)};
    CHECK_ERR(polysock_sendmsg(chan[0], huge, 2, 0, NULL, 0), EINVAL);
    check_msg_has("SSIZE_MAX");
    CHECK_ERR(polysock_recvmsg(chan[1], huge + 1, 1, 0, NULL, NULL), EINVAL);
    /* Nothing to receive into. */
    CHECK_ERR(polysock_recvmsg(chan[1], v, 0, 0, NULL, NULL), EINVAL);
    check_msg_has("0 bytes");
    polysock_iovec empty = iov(buf, 0);
    CHECK_ERR(polysock_recvmsg(chan[1], &empty, 1, 0, NULL, NULL), EINVAL);
    /* Bad destinations. */
    polysock_t u = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_ERR(polysock_sendmsg(u, v, 1, 0, "127.0.0.1", 70000), EINVAL);
    check_msg_has("port 70000");
    CHECK_ERR(polysock_sendmsg(u, v, 1, 0, "not a host!", 9), POLYSOCK_EAI_NONAME);
    CHECK_ERR(polysock_sendmsg(u, v, 1, 0, "\xff\xfe", 9), EINVAL);
    check_msg_has("UTF-8");
    CHECK_ERR(polysock_sendmsg(u, v, 1, 0, NULL, 0), EDESTADDRREQ);
    polysock_close(u);
    polysock_close(chan[0]);
    polysock_close(chan[1]);
}

TEST(bad_handle_passing_input) {
    polysock_t chan[2];
    unix_pair(POLYSOCK_SOCK_STREAM, chan);
    char buf[8];
    CHECK_ERR(polysock_send_handle(chan[0], chan[1], NULL, 4, 0), EINVAL);
    check_msg_has("buffer is NULL");
    CHECK_ERR(polysock_send_handle(chan[0], chan[1], buf, HUGE_LEN, 0), EINVAL);
    check_msg_has("too large");
    CHECK_ERR(polysock_recv_handle(chan[1], buf, sizeof buf, 0, NULL, NULL), EINVAL);
    check_msg_has("handle is NULL");
    polysock_t got;
    CHECK_ERR(polysock_recv_handle(chan[1], NULL, 4, 0, &got, NULL), EINVAL);
    CHECK_ERR(polysock_recv_handle(chan[1], buf, 0, 0, &got, NULL), EINVAL);
    check_msg_has("length is 0");
    CHECK_ERR(polysock_recv_handle(chan[1], buf, HUGE_LEN, 0, &got, NULL), EINVAL);
    polysock_close(chan[0]);
    polysock_close(chan[1]);
}

TEST(bad_mmsg_input) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    char buf[8];
    polysock_iovec v = iov(buf, sizeof buf), nullv = iov(NULL, 3);
    polysock_mmsg m[2];
    memset(m, 0, sizeof m);
    m[0].iov = &v;
    m[0].iovcnt = 1;
    m[0].addr.family = POLYSOCK_AF_INET;
    strcpy(m[0].addr.host, "127.0.0.1");
    m[0].addr.port = rport;
    m[1] = m[0];
    CHECK_ERR(polysock_sendmmsg(s, NULL, 1, 0), EINVAL);
    check_msg_has("msgs is NULL");
    CHECK_ERR(polysock_recvmmsg(r, NULL, 1, 0), EINVAL);
    CHECK_ERR(polysock_sendmmsg(s, m, HUGE_LEN, 0), EINVAL);
    check_msg_has("too large");
    CHECK_ERR(polysock_recvmmsg(r, m, HUGE_LEN, 0), EINVAL);
    CHECK_ERR(polysock_recvmmsg(r, m, 0, 0), EINVAL);
    check_msg_has("count is 0");
    /* A bad buffer in message 1. */
    m[1].iov = &nullv;
    CHECK_ERR(polysock_sendmmsg(s, m, 2, 0), EINVAL);
    check_msg_has("sendmmsg message 1: buffer 0 is NULL");
    CHECK_ERR(polysock_recvmmsg(r, m, 2, 0), EINVAL);
    check_msg_has("recvmmsg message 1: buffer 0 is NULL");
    m[1].iov = &v;
    m[1].iovcnt = POLYSOCK_IOV_MAX + 1;
    CHECK_ERR(polysock_sendmmsg(s, m, 2, 0), EINVAL);
    check_msg_has("sendmmsg message 1: 1025 buffers is more than POLYSOCK_IOV_MAX");
    m[1].iovcnt = 1;
    /* Bad destinations. */
    memset(m[1].addr.host, 'a', sizeof m[1].addr.host);
    CHECK_ERR(polysock_sendmmsg(s, m, 2, 0), EINVAL);
    check_msg_has("message 1: addr.host is not NUL-terminated");
    strcpy(m[1].addr.host, "127.0.0.1");
    m[1].addr.port = -1;
    CHECK_ERR(polysock_sendmmsg(s, m, 2, 0), EINVAL);
    check_msg_has("sendmmsg message 1: port -1 is out of range");
    strcpy(m[1].addr.host, "\xc3");
    m[1].addr.port = 9;
    CHECK_ERR(polysock_sendmmsg(s, m, 2, 0), EINVAL);
    check_msg_has("sendmmsg message 1: addr.host is not valid UTF-8");
    /* Nothing was sent by the failed calls. */
    CHECK_OK(polysock_settimeout(r, 0));
    CHECK_ERR(polysock_recv(r, buf, sizeof buf, 0), EAGAIN);
    polysock_close(r);
    polysock_close(s);
}
