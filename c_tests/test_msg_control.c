/* Control messages through polysock_sendmsg_ex / polysock_recvmsg_ex, in
 * the kernel's cmsghdr layout: many descriptors a message (SCM_RIGHTS),
 * credentials, IPv4 and IPv6 per-packet options over loopback, control and
 * data truncation; then bad input, each with its code and message. */
#include "harness.h"

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#define HUGE_LEN ((size_t)-1)

typedef union {
    struct cmsghdr align;
    char buf[256];
} control_buf;


static void check_msg_has(const char *part) {
    if (!strstr(polysock_last_error(), part))
        FAIL_("message \"%s\" lacks \"%s\"", polysock_last_error(), part);
}

/* A msghdr over a received control buffer, for the CMSG_* walkers. */
static struct msghdr over(control_buf *c, size_t len) {
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_control = c->buf;
    m.msg_controllen = len;
    return m;
}

/* Writes one control message into `c` at `*used`; returns its data. */
static unsigned char *add_cmsg(control_buf *c, size_t *used, int level, int type, size_t len) {
    struct cmsghdr *h = (struct cmsghdr *)(c->buf + *used);
    memset(h, 0, CMSG_SPACE(len));
    h->cmsg_level = level;
    h->cmsg_type = type;
    h->cmsg_len = CMSG_LEN(len);
    *used += CMSG_SPACE(len);
    return CMSG_DATA(h);
}

static int cloexec(int fd) {
    int f = fcntl(fd, F_GETFD);
    CHECK(f != -1);
    return (f & FD_CLOEXEC) != 0;
}

static void pass_three_fds(int type) {
    polysock_t p[2];
    unix_pair(type, p);
    int pipes[3][2];
    for (int i = 0; i < 3; i++) CHECK_OK(pipe(pipes[i]));
    int fds[3] = {pipes[0][1], pipes[1][1], pipes[2][1]};
    control_buf c;
    size_t used = 0;
    memcpy(add_cmsg(&c, &used, SOL_SOCKET, SCM_RIGHTS, sizeof fds), fds, sizeof fds);
    polysock_iovec out[2] = {iov("ab", 2), iov("cd", 2)};
    CHECK_EQ(polysock_sendmsg_ex(p[0], out, 2, c.buf, used, 0, NULL), 4);

    char data[8] = {0};
    polysock_iovec in = iov(data, sizeof data);
    control_buf r;
    size_t rlen = 0;
    int flags = -1;
    polysock_addr from;
    CHECK_EQ(polysock_recvmsg_ex(p[1], &in, 1, r.buf, sizeof r.buf, 0, &from, &rlen, &flags), 4);
    CHECK_STR(data, "abcd");
    CHECK_EQ(flags, 0);
    /* Linux counts the last message's padding. */
    CHECK(rlen == CMSG_LEN(sizeof fds) || rlen == CMSG_SPACE(sizeof fds));
    struct msghdr m = over(&r, rlen);
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    CHECK(h != NULL);
    CHECK_EQ(h->cmsg_level, SOL_SOCKET);
    CHECK_EQ(h->cmsg_type, SCM_RIGHTS);
    CHECK_EQ(h->cmsg_len, CMSG_LEN(sizeof fds));
    int got[3];
    memcpy(got, CMSG_DATA(h), sizeof got);
    for (int i = 0; i < 3; i++) {
        /* A new descriptor for the same pipe, close-on-exec. */
        CHECK(got[i] != fds[i]);
        CHECK(cloexec(got[i]));
        char ch = (char)('x' + i), back = 0;
        CHECK_EQ(write(got[i], &ch, 1), 1);
        CHECK_EQ(read(pipes[i][0], &back, 1), 1);
        CHECK_EQ(back, ch);
        close(got[i]);
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(three_descriptors_over_a_stream_pair) { pass_three_fds(POLYSOCK_SOCK_STREAM); }
TEST(three_descriptors_over_a_datagram_pair) { pass_three_fds(POLYSOCK_SOCK_DGRAM); }

TEST(control_that_does_not_fit_sets_msg_ctrunc) {
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_DGRAM, p);
    int pfd[2];
    CHECK_OK(pipe(pfd));
    int fds[4] = {pfd[1], pfd[1], pfd[1], pfd[1]};
    control_buf c;
    size_t used = 0;
    memcpy(add_cmsg(&c, &used, SOL_SOCKET, SCM_RIGHTS, sizeof fds), fds, sizeof fds);
    polysock_iovec out = iov("hello", 5);
    CHECK_EQ(polysock_sendmsg_ex(p[0], &out, 1, c.buf, used, 0, NULL), 5);
    /* Room for one descriptor and a cut datagram. */
    char data[2];
    polysock_iovec in = iov(data, sizeof data);
    control_buf r;
    size_t rlen = 0;
    int flags = 0;
    CHECK_EQ(polysock_recvmsg_ex(p[1], &in, 1, r.buf, CMSG_SPACE(sizeof(int)), 0, NULL, &rlen, &flags), 2);
    CHECK(flags & POLYSOCK_MSG_CTRUNC);
    CHECK(flags & POLYSOCK_MSG_TRUNC);
    CHECK(rlen <= CMSG_SPACE(sizeof(int)));
    struct msghdr m = over(&r, rlen);
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    CHECK(h != NULL);
    /* As many as fit (Linux fits two in CMSG_SPACE(sizeof(int))). */
    size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    CHECK(n >= 1 && n < 4);
    for (size_t i = 0; i < n; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(h) + i * sizeof fd, sizeof fd);
        CHECK(cloexec(fd));
        close(fd);
    }
    close(pfd[0]);
    close(pfd[1]);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(empty_buffers_receive_a_datagram_and_its_descriptor) {
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_DGRAM, p);
    int pfd[2];
    CHECK_OK(pipe(pfd));
    control_buf c;
    size_t used = 0;
    memcpy(add_cmsg(&c, &used, SOL_SOCKET, SCM_RIGHTS, sizeof(int)), &pfd[1], sizeof(int));
    CHECK_EQ(polysock_sendmsg_ex(p[0], NULL, 0, c.buf, used, 0, NULL), 0);
    control_buf r;
    size_t rlen = 0;
    int flags = -1;
    CHECK_EQ(polysock_recvmsg_ex(p[1], NULL, 0, r.buf, sizeof r.buf, 0, NULL, &rlen, &flags), 0);
    CHECK_EQ(flags, 0);
    CHECK(rlen == CMSG_LEN(sizeof(int)) || rlen == CMSG_SPACE(sizeof(int)));
    struct msghdr m = over(&r, rlen);
    int fd;
    memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
    close(fd);
    close(pfd[0]);
    close(pfd[1]);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(credentials_travel_and_are_checked) {
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_DGRAM, p);
    CHECK_OK(polysock_setsockopt_int(p[1], SOL_SOCKET, SO_PASSCRED, 1));
    struct ucred me = {getpid(), getuid(), getgid()};
    control_buf c;
    size_t used = 0;
    memcpy(add_cmsg(&c, &used, SOL_SOCKET, SCM_CREDENTIALS, sizeof me), &me, sizeof me);
    polysock_iovec out = iov("c", 1);
    CHECK_EQ(polysock_sendmsg_ex(p[0], &out, 1, c.buf, used, 0, NULL), 1);
    char data;
    polysock_iovec in = iov(&data, 1);
    control_buf r;
    size_t rlen = 0;
    CHECK_EQ(polysock_recvmsg_ex(p[1], &in, 1, r.buf, sizeof r.buf, 0, NULL, &rlen, NULL), 1);
    struct msghdr m = over(&r, rlen);
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    CHECK(h != NULL);
    CHECK_EQ(h->cmsg_type, SCM_CREDENTIALS);
    struct ucred got;
    memcpy(&got, CMSG_DATA(h), sizeof got);
    CHECK_EQ(got.pid, me.pid);
    CHECK_EQ(got.uid, me.uid);
    /* The kernel refuses a pid that is not ours (we keep CAP_SYS_ADMIN
     * out of it by naming a pid that cannot exist). */
    me.pid = 0x3ffffff0;
    used = 0;
    memcpy(add_cmsg(&c, &used, SOL_SOCKET, SCM_CREDENTIALS, sizeof me), &me, sizeof me);
    long long r_ = polysock_sendmsg_ex(p[0], &out, 1, c.buf, used, 0, NULL);
    CHECK_EQ(r_, -1);
    CHECK(polysock_errno() == ESRCH || polysock_errno() == EPERM);
    polysock_close(p[0]);
    polysock_close(p[1]);
}


TEST(ipv6_hop_limit_and_traffic_class_over_loopback) {
    int rport, sport;
    polysock_t r = udp_at(POLYSOCK_AF_INET6, "::1", &rport), s = udp_at(POLYSOCK_AF_INET6, "::1", &sport);
    CHECK_OK(polysock_setsockopt_int(r, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1));
    CHECK_OK(polysock_setsockopt_int(r, IPPROTO_IPV6, IPV6_RECVTCLASS, 1));
    CHECK_OK(polysock_setsockopt_int(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1));
    control_buf c;
    size_t used = 0;
    int hops = 7, tclass = 0x20;
    memcpy(add_cmsg(&c, &used, IPPROTO_IPV6, IPV6_HOPLIMIT, sizeof hops), &hops, sizeof hops);
    memcpy(add_cmsg(&c, &used, IPPROTO_IPV6, IPV6_TCLASS, sizeof tclass), &tclass, sizeof tclass);
    polysock_addr to;
    memset(&to, 0, sizeof to);
    to.family = POLYSOCK_AF_INET6;
    to.port = rport;
    strcpy(to.host, "::1");
    polysock_iovec out = iov("six", 3);
    CHECK_EQ(polysock_sendmsg_ex(s, &out, 1, c.buf, used, 0, &to), 3);
    char data[8] = {0};
    polysock_iovec in = iov(data, sizeof data);
    control_buf rc;
    size_t rlen = 0;
    int flags = -1;
    polysock_addr from;
    CHECK_EQ(polysock_recvmsg_ex(r, &in, 1, rc.buf, sizeof rc.buf, 0, &from, &rlen, &flags), 3);
    CHECK_STR(data, "six");
    CHECK_EQ(flags, 0);
    CHECK_EQ(from.family, POLYSOCK_AF_INET6);
    CHECK_EQ(from.port, sport);
    CHECK_STR(from.host, "::1");
    int seen = 0;
    struct msghdr m = over(&rc, rlen);
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        CHECK_EQ(h->cmsg_level, IPPROTO_IPV6);
        int v;
        if (h->cmsg_type == IPV6_HOPLIMIT) {
            memcpy(&v, CMSG_DATA(h), sizeof v);
            CHECK_EQ(v, 7);
            seen |= 1;
        } else if (h->cmsg_type == IPV6_TCLASS) {
            memcpy(&v, CMSG_DATA(h), sizeof v);
            CHECK_EQ(v, 0x20);
            seen |= 2;
        } else if (h->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(h), sizeof pi);
            CHECK(IN6_IS_ADDR_LOOPBACK(&pi.ipi6_addr));
            seen |= 4;
        }
    }
    CHECK_EQ(seen, 7);
    polysock_close(r);
    polysock_close(s);
}

TEST(ipv4_tos_over_loopback) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    CHECK_OK(polysock_setsockopt_int(r, IPPROTO_IP, IP_RECVTOS, 1));
    control_buf c;
    size_t used = 0;
    unsigned char tos = 0x10;
    memcpy(add_cmsg(&c, &used, IPPROTO_IP, IP_TOS, 1), &tos, 1);
    polysock_addr to;
    memset(&to, 0, sizeof to);
    to.family = POLYSOCK_AF_INET;
    to.port = rport;
    strcpy(to.host, "127.0.0.1");
    polysock_iovec out = iov("four", 4);
    CHECK_EQ(polysock_sendmsg_ex(s, &out, 1, c.buf, used, 0, &to), 4);
    char data[8];
    polysock_iovec in = iov(data, sizeof data);
    control_buf rc;
    size_t rlen = 0;
    CHECK_EQ(polysock_recvmsg_ex(r, &in, 1, rc.buf, sizeof rc.buf, 0, NULL, &rlen, NULL), 4);
    struct msghdr m = over(&rc, rlen);
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    CHECK(h != NULL);
    CHECK_EQ(h->cmsg_level, IPPROTO_IP);
    CHECK_EQ(h->cmsg_type, IP_TOS);
    CHECK_EQ(*(unsigned char *)CMSG_DATA(h), 0x10);
    polysock_close(r);
    polysock_close(s);
}

TEST(buffered_reader_bytes_come_first_without_control) {
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_STREAM, p);
    CHECK_EQ(polysock_send(p[0], "line\nrest", 9, 0), 9);
    char line[16];
    size_t n = 0;
    CHECK_OK(polysock_readline(p[1], line, sizeof line, &n));
    CHECK_EQ(n, 5);
    char data[16] = {0};
    polysock_iovec in = iov(data, sizeof data);
    control_buf r;
    size_t rlen = 99;
    int flags = -1;
    CHECK_EQ(polysock_recvmsg_ex(p[1], &in, 1, r.buf, sizeof r.buf, 0, NULL, &rlen, &flags), 4);
    CHECK_STR(data, "rest");
    CHECK_EQ(rlen, 0);
    CHECK_EQ(flags, 0);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(bad_control_input) {
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_DGRAM, p);
    char data[4] = {0}; /* one call below reaches the kernel (EBADF from it) */
    polysock_iovec v = iov(data, sizeof data);
    control_buf c;
    size_t len = 0;
    CHECK_ERR(polysock_sendmsg_ex(p[0], &v, 1, NULL, 16, 0, NULL), EINVAL);
    check_msg_has("sendmsg: control is NULL with controllen 16");
    CHECK_ERR(polysock_sendmsg_ex(p[0], &v, 1, c.buf, HUGE_LEN, 0, NULL), EINVAL);
    check_msg_has("too large");
    CHECK_ERR(polysock_recvmsg_ex(p[1], &v, 1, NULL, 16, 0, NULL, &len, NULL), EINVAL);
    check_msg_has("recvmsg: control is NULL with controllen 16");
    CHECK_ERR(polysock_recvmsg_ex(p[1], &v, 1, c.buf, HUGE_LEN, 0, NULL, &len, NULL), EINVAL);
    check_msg_has("too large");
    CHECK_ERR(polysock_recvmsg_ex(p[1], &v, 1, c.buf, sizeof c.buf, 0, NULL, NULL, NULL), EINVAL);
    check_msg_has("recvmsg: out_controllen is NULL with controllen");
    CHECK_ERR(polysock_recvmsg_ex(p[1], NULL, 2, c.buf, sizeof c.buf, 0, NULL, &len, NULL), EINVAL);
    check_msg_has("recvmsg: iov is NULL");
    /* A header claiming more than the buffer holds: the kernel says EINVAL. */
    size_t used = 0;
    add_cmsg(&c, &used, SOL_SOCKET, SCM_RIGHTS, sizeof(int));
    ((struct cmsghdr *)c.buf)->cmsg_len = 200;
    CHECK_ERR(polysock_sendmsg_ex(p[0], &v, 1, c.buf, used, 0, NULL), EINVAL);
    /* A descriptor that is not open. */
    used = 0;
    int bad = 1000000;
    memcpy(add_cmsg(&c, &used, SOL_SOCKET, SCM_RIGHTS, sizeof bad), &bad, sizeof bad);
    CHECK_ERR(polysock_sendmsg_ex(p[0], &v, 1, c.buf, used, 0, NULL), EBADF);
    /* Bad destinations. */
    polysock_addr to;
    memset(&to, 0, sizeof to);
    to.family = POLYSOCK_AF_INET;
    memset(to.host, 'a', sizeof to.host);
    CHECK_ERR(polysock_sendmsg_ex(p[0], &v, 1, NULL, 0, 0, &to), EINVAL);
    check_msg_has("sendmsg: addr.host is not NUL-terminated");
    /* Dead handles. */
    polysock_t dead = p[0];
    polysock_close(p[0]);
    CHECK_ERR(polysock_sendmsg_ex(dead, &v, 1, NULL, 0, 0, NULL), EBADF);
    CHECK_ERR(polysock_recvmsg_ex(dead, &v, 1, c.buf, sizeof c.buf, 0, NULL, &len, NULL), EBADF);
    /* Nothing arrived from the failed sends; with a timeout of 0: EAGAIN. */
    CHECK_OK(polysock_settimeout(p[1], 0));
    CHECK_ERR(polysock_recvmsg_ex(p[1], &v, 1, c.buf, sizeof c.buf, 0, NULL, &len, NULL), EAGAIN);
    polysock_close(p[1]);
}

TEST(recv_timeout_applies) {
    polysock_t p[2];
    unix_pair(POLYSOCK_SOCK_STREAM, p);
    CHECK_OK(polysock_settimeout(p[1], 50));
    char data[4];
    polysock_iovec v = iov(data, sizeof data);
    control_buf c;
    size_t len = 0;
    CHECK_ERR(polysock_recvmsg_ex(p[1], &v, 1, c.buf, sizeof c.buf, 0, NULL, &len, NULL), ETIMEDOUT);
    polysock_close(p[0]);
    polysock_close(p[1]);
}


