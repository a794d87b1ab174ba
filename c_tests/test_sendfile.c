/* polysock_sendfile and polysock_sendfile_path: byte-exact (checksums) for
 * whole files and ranges, offsets at and past the end, a file of several
 * MiB (larger than the socket buffers) over TCP and Unix sockets, the
 * timeout as one deadline with progress reported, and bad input. */
#include "harness.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#define HUGE_LEN ((size_t)-1)
#define BIG (8u << 20) /* 8 MiB: far beyond the default socket buffers */

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ull; }
    return h;
}
#define FNV0 14695981039346656037ull

static char dir_[64];

/* A file of `size` pseudo-random bytes in a private temp dir. */
static const char *make_file(const char *name, size_t size) {
    static char path[128];
    if (!dir_[0]) make_temp_dir(dir_, "polysock-sendfile");
    snprintf(path, sizeof path, "%s/%s", dir_, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    uint64_t x = 88172645463325252ull ^ size;
    unsigned char block[4096];
    size_t left = size;
    while (left > 0) {
        for (size_t i = 0; i < sizeof block; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            block[i] = (unsigned char)x;
        }
        size_t n = left < sizeof block ? left : sizeof block;
        CHECK_EQ(fwrite(block, 1, n, f), n);
        left -= n;
    }
    CHECK(fclose(f) == 0);
    return path;
}

/* The checksum of `count` bytes of `fd` from `offset` (fewer at EOF). */
static uint64_t file_sum(uint64_t h, int fd, off_t offset, size_t count, size_t *got) {
    unsigned char buf[65536];
    *got = 0;
    while (*got < count) {
        size_t want = count - *got < sizeof buf ? count - *got : sizeof buf;
        ssize_t n = pread(fd, buf, want, offset + (off_t)*got);
        CHECK(n >= 0);
        if (n == 0) break;
        h = fnv(h, buf, (size_t)n);
        *got += (size_t)n;
    }
    return h;
}

/* A thread that reads a socket to its end, summing what it gets. */
struct sink { polysock_t h; uint64_t sum; size_t count; pthread_t t; };

static void *drain(void *arg) {
    struct sink *s = arg;
    static __thread unsigned char buf[65536];
    s->sum = FNV0;
    s->count = 0;
    for (;;) {
        long long n = polysock_recv(s->h, buf, sizeof buf, 0);
        CHECK(n >= 0);
        if (n == 0) break;
        s->sum = fnv(s->sum, buf, (size_t)n);
        s->count += (size_t)n;
    }
    return NULL;
}

static void start_sink(struct sink *s, polysock_t h) {
    s->h = h;
    CHECK(pthread_create(&s->t, NULL, drain, s) == 0);
}

static void finish_sink(struct sink *s) { CHECK(pthread_join(s->t, NULL) == 0); }

/* A connected TCP pair on 127.0.0.1: p[0] sends, p[1] receives. */
static void tcp_pair(polysock_t p[2]) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    p[0] = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(p[0], "127.0.0.1", port));
    p[1] = polysock_accept(srv, NULL);
    CHECK_OK(p[1]);
    polysock_close(srv);
}

static void check_msg_has(const char *part) {
    if (!strstr(polysock_last_error(), part))
        FAIL_("message \"%s\" lacks \"%s\"", polysock_last_error(), part);
}

/* Sends the whole file over p[0] and checks what p[1] got. */
static void send_whole(polysock_t p[2], const char *path, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    struct sink s;
    start_sink(&s, p[1]);
    size_t sent = 0;
    CHECK_EQ(polysock_sendfile(p[0], fd, 0, 0, &sent), size);
    CHECK_EQ(sent, size);
    CHECK_OK(polysock_shutdown(p[0], POLYSOCK_SHUT_WR));
    finish_sink(&s);
    size_t got;
    CHECK_EQ(s.count, size);
    CHECK(s.sum == file_sum(FNV0, fd, 0, size, &got));
    close(fd);
}

TEST(small_file_over_tcp) {
    polysock_t p[2];
    tcp_pair(p);
    send_whole(p, make_file("small", 1000), 1000);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(empty_file_sends_nothing) {
    polysock_t p[2];
    tcp_pair(p);
    send_whole(p, make_file("empty", 0), 0);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(large_file_over_tcp_with_a_timeout) {
    polysock_t p[2];
    tcp_pair(p);
    /* A timeout makes the socket non-blocking: sendfile meets EAGAIN and
     * waits many times within the one deadline. */
    CHECK_OK(polysock_settimeout(p[0], 15000));
    send_whole(p, make_file("big-tcp", BIG + 12345), BIG + 12345);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(large_file_over_a_blocking_unix_pair) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    send_whole(p, make_file("big-unix", BIG), BIG);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(ranges_and_offsets_at_and_past_the_end) {
    const size_t size = 100000;
    const char *path = make_file("ranges", size);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    polysock_t p[2];
    tcp_pair(p);
    CHECK_OK(polysock_settimeout(p[0], 10000));
    struct sink s;
    start_sink(&s, p[1]);
    struct { int64_t off; size_t count; size_t want; } cases[] = {
        {0, 10, 10},
        {100, 300, 300},
        {size - 10, 100, 10},     /* cut at the end of the file */
        {12345, 0, size - 12345}, /* count 0: to the end */
        {size, 5, 0},             /* offset at the end */
        {size, 0, 0},
        {size + 4096, 10, 0},     /* past the end */
        {99999, 1, 1},
        {0, 0, size},             /* the whole file again */
    };
    uint64_t want = FNV0;
    size_t total = 0;
    off_t before = lseek(fd, 0, SEEK_CUR);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t sent = 777, got;
        CHECK_EQ(polysock_sendfile(p[0], fd, cases[i].off, cases[i].count, &sent), cases[i].want);
        CHECK_EQ(sent, cases[i].want);
        want = file_sum(want, fd, cases[i].off, cases[i].want, &got);
        CHECK_EQ(got, cases[i].want);
        total += cases[i].want;
    }
    /* The file's own offset never moved. */
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), before);
    CHECK_OK(polysock_shutdown(p[0], POLYSOCK_SHUT_WR));
    finish_sink(&s);
    CHECK_EQ(s.count, total);
    CHECK(s.sum == want);
    /* sent may be NULL. */
    close(fd);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(sendfile_path_streams_a_file_and_ranges) {
    const size_t size = BIG / 2 + 7;
    const char *made = make_file("by-path", size);
    char path[128];
    strcpy(path, made);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    int fds_before = open_fd_count();
    struct sink s;
    start_sink(&s, p[1]);
    size_t sent = 0, got;
    CHECK_EQ(polysock_sendfile_path(p[0], path, 0, 0, &sent), size);
    CHECK_EQ(sent, size);
    CHECK_EQ(polysock_sendfile_path(p[0], path, 1000, 2000, NULL), 2000);
    CHECK_EQ(polysock_sendfile_path(p[0], path, (int64_t)size, 0, &sent), 0);
    CHECK_EQ(sent, 0);
    CHECK_OK(polysock_shutdown(p[0], POLYSOCK_SHUT_WR));
    finish_sink(&s);
    uint64_t want = file_sum(FNV0, fd, 0, size, &got);
    want = file_sum(want, fd, 1000, 2000, &got);
    CHECK_EQ(s.count, size + 2000);
    CHECK(s.sum == want);
    /* The file was closed each time (the sink thread's fds are gone too). */
    CHECK_EQ(open_fd_count(), fds_before);
    close(fd);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(path_errors_name_the_path) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    size_t sent = 99;
    CHECK_ERR(polysock_sendfile_path(p[0], "/nonexistent/polysock-file", 0, 0, &sent), ENOENT);
    check_msg_has("sendfile_path /nonexistent/polysock-file");
    CHECK_EQ(sent, 0);
    make_file("x", 1);
    CHECK_ERR(polysock_sendfile_path(p[0], dir_, 0, 0, NULL), EISDIR);
    check_msg_has(dir_);
    CHECK_ERR(polysock_sendfile_path(p[0], NULL, 0, 0, NULL), EINVAL);
    check_msg_has("path is NULL");
    CHECK_ERR(polysock_sendfile_path(p[0], "\xff\xfe", 0, 0, NULL), EINVAL);
    check_msg_has("UTF-8");
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(descriptors_that_are_not_files) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    CHECK(write(pfd[1], "data", 4) == 4);
    size_t sent = 99;
    CHECK_ERR(polysock_sendfile(p[0], pfd[0], 0, 4, &sent), ESPIPE);
    check_msg_has("not a regular file");
    CHECK_EQ(sent, 0);
    CHECK_ERR(polysock_sendfile(p[0], polysock_fileno(p[1]), 0, 0, NULL), ESPIPE);
    CHECK_ERR(polysock_sendfile(p[0], -1, 0, 0, NULL), EBADF);
    check_msg_has("sendfile fd -1");
    CHECK_ERR(polysock_sendfile(p[0], 9999, 0, 0, NULL), EBADF);
    check_msg_has("sendfile fd 9999");
    make_file("w", 1);
    int dfd = open(dir_, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dfd >= 0);
    CHECK_ERR(polysock_sendfile(p[0], dfd, 0, 0, NULL), EISDIR);
    close(dfd);
    /* Open for writing only: not readable. */
    char path[128];
    snprintf(path, sizeof path, "%s/w", dir_);
    int wfd = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(wfd >= 0);
    CHECK_ERR(polysock_sendfile(p[0], wfd, 0, 0, &sent), EBADF);
    close(wfd);
    close(pfd[0]);
    close(pfd[1]);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(timeout_is_one_deadline_and_progress_is_reported) {
    const char *path = make_file("stuck", BIG);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    polysock_t p[2];
    /* A Unix pair: its buffers (about 200 KiB) are far smaller than the
     * file, whatever TCP's autotuning would allow. */
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    /* Nobody reads p[1]: the buffers fill, then the deadline passes. */
    CHECK_OK(polysock_settimeout(p[0], 200));
    size_t sent = 0;
    CHECK_ERR(polysock_sendfile(p[0], fd, 0, 0, &sent), ETIMEDOUT);
    CHECK(sent > 0 && sent < BIG);
    check_msg_has("after");
    /* Non-blocking: EAGAIN, again with progress (possibly 0 now that the
     * buffers are full). */
    CHECK_OK(polysock_settimeout(p[0], 0));
    size_t more = 12345;
    CHECK_ERR(polysock_sendfile(p[0], fd, (int64_t)sent, 0, &more), EAGAIN);
    CHECK(more < BIG - sent);
    close(fd);
    polysock_close(p[0]);
    polysock_close(p[1]);
}

TEST(a_vanished_peer_is_an_error_not_sigpipe) {
    const char *path = make_file("peerless", BIG);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    polysock_t p[2];
    tcp_pair(p);
    polysock_close(p[1]);
    CHECK_OK(polysock_settimeout(p[0], 5000));
    size_t sent = 0;
    sigset_t before, after;
    CHECK(pthread_sigmask(SIG_BLOCK, NULL, &before) == 0);
    long long r = polysock_sendfile(p[0], fd, 0, 0, &sent);
    CHECK_EQ(r, -1);
    CHECK(polysock_errno() == EPIPE || polysock_errno() == ECONNRESET);
    /* The thread's signal mask is as it was, and no SIGPIPE waits. */
    CHECK(pthread_sigmask(SIG_BLOCK, NULL, &after) == 0);
    CHECK(!sigismember(&after, SIGPIPE));
    CHECK_EQ(sigismember(&before, SIGPIPE), sigismember(&after, SIGPIPE));
    sigset_t pending;
    CHECK(sigpending(&pending) == 0);
    CHECK(!sigismember(&pending, SIGPIPE));
    close(fd);
    polysock_close(p[0]);
}

TEST(bad_input) {
    const char *path = make_file("bad", 10);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    polysock_t dead = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    polysock_close(dead);
    polysock_t bad[] = {-1, 0, 12345, dead};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERR(polysock_sendfile(bad[i], fd, 0, 0, NULL), EBADF);
        CHECK_ERR(polysock_sendfile_path(bad[i], path, 0, 0, NULL), EBADF);
    }
    size_t sent = 99;
    CHECK_ERR(polysock_sendfile(p[0], fd, -1, 0, &sent), EINVAL);
    check_msg_has("offset -1 is negative");
    CHECK_EQ(sent, 0);
    CHECK_ERR(polysock_sendfile_path(p[0], path, -5, 0, NULL), EINVAL);
    check_msg_has("offset -5");
    CHECK_ERR(polysock_sendfile(p[0], fd, 0, HUGE_LEN, NULL), EINVAL);
    check_msg_has("too large");
    CHECK_ERR(polysock_sendfile_path(p[0], path, 0, HUGE_LEN - 3, NULL), EINVAL);
    /* A listening socket cannot send. */
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    CHECK_EQ(polysock_sendfile(srv, fd, 0, 0, NULL), -1);
    CHECK(polysock_last_error()[0] != '\0');
    polysock_close(srv);
    close(fd);
    polysock_close(p[0]);
    polysock_close(p[1]);
}
