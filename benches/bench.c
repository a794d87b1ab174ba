/* polysock against raw libc, doing the same work with the same structure.
 *
 *   bench <case> <impl> [n]
 *     case: pingpong | bulk | connect | sendfile | poller10k
 *           | sendto | recvfrom | mmsg | mmsgraw | poll
 *     impl: raw | polysock
 * Prints one line: "<case> <impl> <rate> <unit> <rate per CPU-second>"
 * (higher is better). Both sides of each exchange run in this process (a
 * server thread and the measured client), over loopback only, and the CPU
 * time is the whole process's; poller10k's clients run in a forked child
 * (raw libc for both implementations: only the server differs), and its
 * CPU time is the server thread's (on a small machine the clients bound
 * the wall-clock rate, which would hide the server's cost);
 * POLYSOCK_BENCH_VERBOSE=1 adds the events per wait on stderr.
 *
 * The per-call cases (sendto, recvfrom, poll) time only the calls they
 * measure, in sections of SECTION calls (the other end of each datagram
 * is raw libc for both, outside the sections). mmsg sends and receives
 * 64-byte datagrams in batches of 32: polysock's sendmmsg/recvmmsg against
 * a raw sendto/recvfrom loop; mmsgraw is the same batches against raw
 * sendmmsg/recvmmsg.
 *
 * sendfile sends the file $POLYSOCK_BENCH_FILE, which it (re)creates with n
 * MiB when its size differs (cargo bench makes it once and deletes it
 * after); without that variable, an unlinked temporary file in $TMPDIR. */
#define _GNU_SOURCE
#include "polysock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread (user + system). */
static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (every thread, user + system). */
static double process_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The measured section of a case: wall time, and the process's CPU time,
 * which two noisy cores disturb far less than wall time. */
static double begin_wall, begin_cpu, measured_wall, measured_cpu;
static void measure_begin(void) {
    begin_wall = now();
    begin_cpu = process_cpu();
}
static double measure_end(void) {
    measured_wall = now() - begin_wall;
    measured_cpu = process_cpu() - begin_cpu;
    return measured_wall;
}

/* Sections of a per-call case, added up into measured_wall/measured_cpu
 * (single-threaded cases: the thread's CPU time). */
static double section_wall, section_cpu;
static void section_begin(void) {
    section_cpu = thread_cpu();
    section_wall = now();
}
static void section_end(void) {
    measured_wall += now() - section_wall;
    measured_cpu += thread_cpu() - section_cpu;
}

static void die(const char *what) {
    fprintf(stderr, "bench: %s: %s / %s\n", what, strerror(errno), polysock_last_error());
    exit(1);
}

/* ---- the two implementations of the few calls the cases need ---- */

static int use_polysock;

typedef int64_t sock_t; /* a polysock handle or a raw fd */

static sock_t s_listen(int *port) {
    if (use_polysock) {
        polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
        if (s < 0 || polysock_setopt(s, POLYSOCK_OPT_REUSEADDR, 1) < 0 || polysock_bind(s, "127.0.0.1", 0) < 0 ||
            polysock_listen(s, 4096) < 0)
            die("listen");
        polysock_addr a;
        polysock_getsockname(s, &a);
        *port = a.port;
        return s;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0) die("listen");
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    return fd;
}

static sock_t s_connect(int port) {
    if (use_polysock) {
        polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
        if (s < 0 || polysock_connect(s, "127.0.0.1", port) < 0) die("connect");
        return s;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* The same work polysock does: parse the text address, then connect. */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    return fd;
}

static sock_t s_accept(sock_t l) {
    if (use_polysock) {
        polysock_t s = polysock_accept(l, NULL);
        if (s < 0) die("accept");
        return s;
    }
    int fd = accept4((int)l, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) die("accept");
    return fd;
}

static void s_nodelay(sock_t s) {
    int one = 1;
    if (use_polysock) polysock_setopt(s, POLYSOCK_OPT_NODELAY, 1);
    else setsockopt((int)s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* No TIME_WAIT left behind, so 50,000 connections do not run out of ports. */
static void s_abort_on_close(sock_t s) {
    struct linger l = {1, 0};
    if (use_polysock) polysock_setopt(s, POLYSOCK_OPT_LINGER, 0);
    else setsockopt((int)s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

static int64_t s_send(sock_t s, const void *buf, size_t len) {
    if (use_polysock) return polysock_send(s, buf, len, 0);
    ssize_t n;
    do n = send((int)s, buf, len, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
    return n;
}

static int64_t s_recv(sock_t s, void *buf, size_t len) {
    if (use_polysock) return polysock_recv(s, buf, len, 0);
    ssize_t n;
    do n = recv((int)s, buf, len, 0); while (n < 0 && errno == EINTR);
    return n;
}

static void s_close(sock_t s) {
    if (use_polysock) polysock_close(s);
    else close((int)s);
}

/* Sends the whole file from offset 0: polysock with sendfile(2), raw as a
 * program without it does, copying through a 64 KiB user-space buffer. */
static int64_t s_sendfile(sock_t s, int fd) {
    if (use_polysock) {
        size_t sent = 0;
        return polysock_sendfile(s, fd, 0, 0, &sent);
    }
    static char buf[1 << 16];
    int64_t total = 0;
    for (;;) {
        ssize_t n;
        do n = read(fd, buf, sizeof buf); while (n < 0 && errno == EINTR);
        if (n < 0) return -1;
        if (n == 0) return total;
        for (ssize_t off = 0; off < n;) {
            int64_t m = s_send(s, buf + off, (size_t)(n - off));
            if (m <= 0) return -1;
            off += m;
        }
        total += n;
    }
}

static void s_nonblocking(sock_t s) {
    if (use_polysock) {
        if (polysock_settimeout(s, 0) < 0) die("settimeout");
    } else if (fcntl((int)s, F_SETFL, fcntl((int)s, F_GETFL) | O_NONBLOCK) < 0) {
        die("fcntl");
    }
}

static int s_would_block(void) {
    return (use_polysock ? polysock_errno() : errno) == EAGAIN;
}

enum { BATCH = 1024 }; /* events per wait: POLYSOCK_POLLER_MAX_BATCH */

typedef union {
    polysock_poller_event ps[BATCH];
    struct epoll_event raw[BATCH];
} events_t;

static sock_t s_poller(void) {
    if (use_polysock) {
        polysock_poller_t p = polysock_poller_create();
        if (p < 0) die("poller_create");
        return p;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    return ep;
}

/* Level-triggered, readable. */
static void s_watch(sock_t p, sock_t s) {
    if (use_polysock) {
        if (polysock_poller_add(p, s, POLYSOCK_POLLIN, 0, 0) < 0) die("poller_add");
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = (int)s};
    if (epoll_ctl((int)p, EPOLL_CTL_ADD, (int)s, &ev) < 0) die("epoll_ctl");
}

static int64_t s_wait(sock_t p, events_t *ev, int ms) {
    if (use_polysock) return polysock_poller_wait(p, ev->ps, BATCH, ms);
    int n;
    do n = epoll_wait((int)p, ev->raw, BATCH, ms); while (n < 0 && errno == EINTR);
    return n;
}

static sock_t s_ready(const events_t *ev, int64_t k) {
    return use_polysock ? ev->ps[k].handle : ev->raw[k].data.fd;
}

static void s_poller_close(sock_t p) {
    if (use_polysock) polysock_poller_destroy(p);
    else close((int)p);
}

/* UDP on 127.0.0.1: a socket bound to an ephemeral port, with room for
 * SECTION queued datagrams. */
static sock_t s_udp(int *port) {
    if (use_polysock) {
        polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
        polysock_addr a;
        if (s < 0 || polysock_setopt(s, POLYSOCK_OPT_RCVBUF, 1 << 20) < 0 || polysock_bind(s, "127.0.0.1", 0) < 0 ||
            polysock_getsockname(s, &a) < 0)
            die("udp socket");
        *port = a.port;
        return s;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int big = 1 << 20;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        die("udp socket");
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Raw libc's end of a per-call case, the same for both implementations. */
static int raw_udp(int *port) {
    int keep = use_polysock;
    use_polysock = 0;
    int fd = (int)s_udp(port);
    use_polysock = keep;
    return fd;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

/* Each side as its users write it: polysock names the destination as
 * text; a raw program fills its sockaddr once (`to`) and reuses it. */
static int64_t s_sendto(sock_t s, const void *buf, size_t len, int port, const struct sockaddr_in *to) {
    if (use_polysock) return polysock_sendto(s, buf, len, 0, "127.0.0.1", port);
    ssize_t n;
    do n = sendto((int)s, buf, len, MSG_NOSIGNAL, (const struct sockaddr *)to, sizeof *to);
    while (n < 0 && errno == EINTR);
    return n;
}

/* With the sender's address, as each side's users get it. */
static int64_t s_recvfrom(sock_t s, void *buf, size_t len) {
    if (use_polysock) {
        polysock_addr from;
        return polysock_recvfrom(s, buf, len, 0, &from);
    }
    struct sockaddr_storage from;
    socklen_t flen;
    ssize_t n;
    do {
        flen = sizeof from;
        n = recvfrom((int)s, buf, len, 0, (struct sockaddr *)&from, &flen);
    } while (n < 0 && errno == EINTR);
    return n;
}

/* Raw batches of MMSG datagrams, for the untimed ends and for mmsgraw. */
/* SECTION: the calls a per-call case times between two clock reads (the
 * thread's CPU clock is a system call: a larger section dilutes it). */
enum { MMSG = 32, DGRAM = 64, SECTION = 128 };

struct raw_batch {
    struct mmsghdr h[MMSG];
    struct iovec iov[MMSG];
    struct sockaddr_storage name[MMSG];
    struct sockaddr_in to;
    char buf[MMSG][DGRAM];
};

static void raw_batch_init(struct raw_batch *b, int port) {
    memset(b, 0, sizeof *b);
    b->to = loopback(port);
    for (int i = 0; i < MMSG; i++) {
        b->buf[i][0] = (char)i;
        b->iov[i] = (struct iovec){b->buf[i], DGRAM};
        b->h[i].msg_hdr.msg_iov = &b->iov[i];
        b->h[i].msg_hdr.msg_iovlen = 1;
    }
}

/* Sends n <= MMSG datagrams to the batch's port. */
static void raw_send_batch(int fd, struct raw_batch *b, int n) {
    for (int i = 0; i < n; i++) {
        b->h[i].msg_hdr.msg_name = &b->to;
        b->h[i].msg_hdr.msg_namelen = sizeof b->to;
    }
    for (int sent = 0; sent < n;) {
        int k = sendmmsg(fd, b->h + sent, (unsigned)(n - sent), MSG_NOSIGNAL);
        if (k < 0 && errno != EINTR) die("sendmmsg");
        if (k > 0) sent += k;
    }
}

/* Receives n <= MMSG datagrams, with their senders. */
static void raw_recv_batch(int fd, struct raw_batch *b, int n) {
    for (int got = 0; got < n;) {
        for (int i = got; i < n; i++) {
            b->h[i].msg_hdr.msg_name = &b->name[i];
            b->h[i].msg_hdr.msg_namelen = sizeof b->name[i];
        }
        int k = recvmmsg(fd, b->h + got, (unsigned)(n - got), MSG_WAITFORONE, NULL);
        if (k < 0 && errno != EINTR) die("recvmmsg");
        if (k > 0) got += k;
    }
}

/* What a new process may open: raised to the hard limit, `need` at least. */
static void raise_nofile(long need, const char *why) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) die("getrlimit");
    rl.rlim_cur = rl.rlim_max;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)need) {
        fprintf(stderr, "bench: %s needs RLIMIT_NOFILE >= %ld (hard limit %llu)\n", why, need,
                (unsigned long long)rl.rlim_max);
        exit(1);
    }
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit");
}

/* ---- cases ---- */

static long n_ops;
static sock_t listener;

static void *echo_server(void *arg) {
    (void)arg;
    sock_t c = s_accept(listener);
    s_nodelay(c);
    char buf[64];
    for (;;) {
        int64_t n = s_recv(c, buf, sizeof buf);
        if (n <= 0) break;
        if (s_send(c, buf, (size_t)n) != n) break;
    }
    s_close(c);
    return NULL;
}

static double pingpong(void) {
    int port;
    listener = s_listen(&port);
    pthread_t t;
    pthread_create(&t, NULL, echo_server, NULL);
    sock_t c = s_connect(port);
    s_nodelay(c);
    char msg[64] = {1}, back[64];
    measure_begin();
    for (long i = 0; i < n_ops; i++) {
        if (s_send(c, msg, sizeof msg) != sizeof msg) die("send");
        size_t got = 0;
        while (got < sizeof msg) {
            int64_t n = s_recv(c, back + got, sizeof msg - got);
            if (n <= 0) die("recv");
            got += (size_t)n;
        }
    }
    double took = measure_end();
    s_close(c);
    pthread_join(t, NULL);
    s_close(listener);
    return n_ops / took;
}

static void *sink_server(void *arg) {
    (void)arg;
    sock_t c = s_accept(listener);
    static char buf[1 << 16];
    while (s_recv(c, buf, sizeof buf) > 0) {
    }
    s_close(c);
    return NULL;
}

static double bulk(void) {
    int port;
    listener = s_listen(&port);
    pthread_t t;
    pthread_create(&t, NULL, sink_server, NULL);
    sock_t c = s_connect(port);
    static char buf[1 << 16];
    memset(buf, 'x', sizeof buf);
    long long total = (long long)n_ops << 16;
    measure_begin();
    for (long i = 0; i < n_ops; i++) {
        size_t off = 0;
        while (off < sizeof buf) {
            int64_t n = s_send(c, buf + off, sizeof buf - off);
            if (n <= 0) die("send");
            off += (size_t)n;
        }
    }
    s_close(c);
    pthread_join(t, NULL); /* the sink has read everything */
    double took = measure_end();
    s_close(listener);
    return total / took / (1 << 20);
}

static void *accept_server(void *arg) {
    (void)arg;
    for (long i = 0; i < n_ops; i++) s_close(s_accept(listener));
    return NULL;
}

static double connects(void) {
    int port;
    listener = s_listen(&port);
    pthread_t t;
    pthread_create(&t, NULL, accept_server, NULL);
    measure_begin();
    for (long i = 0; i < n_ops; i++) {
        sock_t c = s_connect(port);
        s_abort_on_close(c);
        s_close(c);
    }
    pthread_join(t, NULL);
    double took = measure_end();
    s_close(listener);
    return n_ops / took;
}

/* The n MiB file to send (see the top of this file), open at offset 0. */
static int data_file(long mib) {
    const char *path = getenv("POLYSOCK_BENCH_FILE");
    off_t size = (off_t)mib << 20;
    struct stat st;
    if (path && stat(path, &st) == 0 && st.st_size == size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die(path);
        return fd;
    }
    char part[4096];
    int fd;
    if (path) {
        snprintf(part, sizeof part, "%s.part", path);
        fd = open(part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    } else {
        const char *dir = getenv("TMPDIR");
        snprintf(part, sizeof part, "%s/polysock-bench-XXXXXX", dir ? dir : "/tmp");
        fd = mkostemp(part, O_CLOEXEC);
        if (fd >= 0) unlink(part);
    }
    if (fd < 0) die(part);
    static char buf[1 << 16];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(i * 131 + 7);
    for (long i = 0; i < mib * 16; i++)
        for (size_t off = 0; off < sizeof buf;) {
            ssize_t n = write(fd, buf + off, sizeof buf - off);
            if (n < 0 && errno != EINTR) die("write the file to send");
            if (n > 0) off += (size_t)n;
        }
    if (path && rename(part, path) < 0) die(path);
    if (lseek(fd, 0, SEEK_SET) < 0) die("lseek");
    return fd;
}

static double sendfile_case(void) {
    int fd = data_file(n_ops);
    int port;
    listener = s_listen(&port);
    pthread_t t;
    pthread_create(&t, NULL, sink_server, NULL);
    sock_t c = s_connect(port);
    long long total = (long long)n_ops << 20;
    measure_begin();
    if (s_sendfile(c, fd) != total) die("sendfile");
    s_close(c);
    pthread_join(t, NULL); /* the sink has read everything */
    double took = measure_end();
    s_close(listener);
    close(fd);
    return total / took / (1 << 20);
}

/* poller10k: CONNS connections, each echoing n 64-byte messages one at a
 * time through a single-threaded level-triggered server on the poller (or
 * epoll); the clients are echo10k's (benches/echo_clients.h). */
#include "echo_clients.h"

static void close_listener(void) { s_close(listener); }

static double poller10k(void) {
    raise_nofile(CONNS + 64, "poller10k");
    listener = s_listen(&echo_port);
    echo_rounds = n_ops;
    start_clients(close_listener);
    static sock_t conn[CONNS];
    sock_t p = s_poller();
    for (int i = 0; i < CONNS; i++) {
        conn[i] = s_accept(listener);
        s_nodelay(conn[i]);
        s_nonblocking(conn[i]);
        s_watch(p, conn[i]);
    }
    static events_t ev;
    static char buf[4096];
    long long total = (long long)CONNS * n_ops * MSG, echoed = 0, waits = 0, events = 0;
    double t0 = now(), cpu0 = thread_cpu();
    release_clients();
    while (echoed < total) {
        int64_t n = s_wait(p, &ev, 10000);
        if (n <= 0) die(n == 0 ? "poller wait: no event in 10 s" : "poller wait");
        waits++;
        events += n;
        for (int64_t k = 0; k < n; k++) {
            sock_t c = s_ready(&ev, k);
            int64_t got = s_recv(c, buf, sizeof buf);
            if (got > 0) {
                /* One message in flight per connection: always room. */
                if (s_send(c, buf, (size_t)got) != got) die("echo");
                echoed += got;
            } else if (got == 0 || !s_would_block()) {
                die(got == 0 ? "server recv: a client hung up early" : "server recv");
            }
        }
    }
    measured_cpu = thread_cpu() - cpu0;
    measured_wall = now() - t0;
    if (getenv("POLYSOCK_BENCH_VERBOSE"))
        fprintf(stderr, "server cpu %.2f s of %.2f s wall, %lld waits, %.1f events each\n", measured_cpu,
                measured_wall, waits, (double)events / waits);
    wait_clients();
    for (int i = 0; i < CONNS; i++) s_close(conn[i]);
    s_poller_close(p);
    s_close(listener);
    return (double)total / MSG / measured_wall;
}

/* sendto: n 64-byte datagrams to 127.0.0.1, timed in sections of SECTION
 * sends; raw libc takes them off the queue between sections. */
static double sendto_case(void) {
    int port, from_port;
    int sink = raw_udp(&port);
    sock_t s = s_udp(&from_port);
    struct sockaddr_in to = loopback(port);
    static struct raw_batch b;
    raw_batch_init(&b, port);
    char msg[DGRAM] = {1};
    for (long done = 0; done < n_ops; done += SECTION) {
        section_begin();
        for (int i = 0; i < SECTION; i++)
            if (s_sendto(s, msg, sizeof msg, port, &to) != sizeof msg) die("sendto");
        section_end();
        for (int i = 0; i < SECTION; i += MMSG) raw_recv_batch(sink, &b, MMSG);
    }
    s_close(s);
    close(sink);
    return n_ops / measured_wall;
}

/* recvfrom: n 64-byte datagrams, with their senders, timed in sections
 * of SECTION receives; raw libc queues each section's datagrams first. */
static double recvfrom_case(void) {
    int port, from_port;
    sock_t s = s_udp(&port);
    int src = raw_udp(&from_port);
    static struct raw_batch b;
    raw_batch_init(&b, port);
    char buf[DGRAM];
    for (long done = 0; done < n_ops; done += SECTION) {
        for (int i = 0; i < SECTION; i += MMSG) raw_send_batch(src, &b, MMSG);
        section_begin();
        for (int i = 0; i < SECTION; i++)
            if (s_recvfrom(s, buf, sizeof buf) != sizeof buf) die("recvfrom");
        section_end();
    }
    s_close(s);
    close(src);
    return n_ops / measured_wall;
}

/* mmsg: n 64-byte datagrams from one socket to another, in batches of
 * MMSG. polysock: one sendmmsg and one recvmmsg per batch; raw: a sendto
 * loop and a recvfrom loop (`batched` 0), or sendmmsg/recvmmsg
 * (`batched` 1, mmsgraw). */
static double mmsg_case(int batched) {
    int port, from_port;
    sock_t dst = s_udp(&port), src = s_udp(&from_port);
    struct sockaddr_in to = loopback(port);
    static struct raw_batch b;
    raw_batch_init(&b, port);
    static polysock_mmsg out[MMSG], in[MMSG];
    static polysock_iovec iov[MMSG];
    for (int i = 0; i < MMSG; i++) {
        iov[i] = (polysock_iovec){b.buf[i], DGRAM};
        out[i] = (polysock_mmsg){.iov = &iov[i], .iovcnt = 1};
        out[i].addr.family = POLYSOCK_AF_INET;
        out[i].addr.port = port;
        strcpy(out[i].addr.host, "127.0.0.1");
        in[i] = (polysock_mmsg){.iov = &iov[i], .iovcnt = 1};
    }
    measure_begin();
    for (long done = 0; done < n_ops; done += MMSG) {
        if (use_polysock) {
            for (int sent = 0; sent < MMSG;) {
                int64_t k = polysock_sendmmsg(src, out + sent, (size_t)(MMSG - sent), 0);
                if (k <= 0) die("polysock_sendmmsg");
                sent += (int)k;
            }
            for (int got = 0; got < MMSG;) {
                int64_t k = polysock_recvmmsg(dst, in + got, (size_t)(MMSG - got), 0);
                if (k <= 0) die("polysock_recvmmsg");
                got += (int)k;
            }
        } else if (batched) {
            raw_send_batch((int)src, &b, MMSG);
            raw_recv_batch((int)dst, &b, MMSG);
        } else {
            for (int i = 0; i < MMSG; i++)
                if (s_sendto(src, b.buf[i], DGRAM, port, &to) != DGRAM) die("sendto");
            for (int i = 0; i < MMSG; i++)
                if (s_recvfrom(dst, b.buf[i], DGRAM) != DGRAM) die("recvfrom");
        }
    }
    measure_end();
    s_close(src);
    s_close(dst);
    return n_ops / measured_wall;
}

/* poll: n polls over POLL_IDLE idle UDP sockets and one with a datagram
 * waiting, in the middle, timeout 1 s: each returns at once with that
 * one. (Where it sits matters to poll(2): with a timeout, the kernel
 * enqueues a wait entry on every socket it scans until it finds one
 * ready.) */
enum { POLL_IDLE = 1000, POLL_READY = POLL_IDLE / 2 };

static double poll_case(void) {
    raise_nofile(POLL_IDLE + 64, "poll");
    static sock_t socks[POLL_IDLE + 1];
    /* socks[POLL_IDLE] is the ready one, polled at POLL_READY. */
    static polysock_pollfd pfds[POLL_IDLE + 1];
    static struct pollfd fds[POLL_IDLE + 1];
    int port;
    for (int i = 0; i <= POLL_IDLE; i++) {
        socks[i] = s_udp(&port);
        int at = i == POLL_IDLE ? POLL_READY : i == POLL_READY ? POLL_IDLE : i;
        pfds[at] = (polysock_pollfd){.handle = socks[i], .events = POLYSOCK_POLLIN};
        fds[at] = (struct pollfd){.fd = (int)socks[i], .events = POLLIN};
    }
    int src = raw_udp(&port);
    port = 0;
    if (use_polysock) {
        polysock_addr a;
        if (polysock_getsockname(socks[POLL_IDLE], &a) < 0) die("getsockname");
        port = a.port;
    } else {
        struct sockaddr_in sa;
        socklen_t len = sizeof sa;
        if (getsockname((int)socks[POLL_IDLE], (struct sockaddr *)&sa, &len) < 0) die("getsockname");
        port = ntohs(sa.sin_port);
    }
    struct sockaddr_in to = loopback(port);
    if (sendto(src, "x", 1, 0, (struct sockaddr *)&to, sizeof to) != 1) die("sendto");
    /* POLYSOCK_BENCH_POLL_READER=1: a socket outside the polled set has
     * read a line (the process has a reader set up) while polling; =in:
     * that socket (its buffer empty) replaces the first idle one. */
    polysock_t pair[2] = {-1, -1};
    const char *reader = getenv("POLYSOCK_BENCH_POLL_READER");
    if (use_polysock && reader) {
        char line[16];
        size_t got;
        if (polysock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0) die("socketpair");
        if (polysock_send(pair[0], "a\n", 2, 0) != 2) die("send");
        if (polysock_readline(pair[1], line, sizeof line, &got) < 0 || got != 2) die("readline");
        if (strcmp(reader, "in") == 0) pfds[0].handle = pair[1];
    }
    for (long i = 0; i < n_ops; i += SECTION) {
        section_begin();
        for (int k = 0; k < SECTION; k++) {
            int64_t n;
            if (use_polysock) {
                n = polysock_poll(pfds, POLL_IDLE + 1, 1000);
            } else {
                do n = poll(fds, POLL_IDLE + 1, 1000); while (n < 0 && errno == EINTR);
            }
            if (n != 1) die("poll");
        }
        section_end();
    }
    for (int i = 0; i <= POLL_IDLE; i++) s_close(socks[i]);
    if (pair[0] >= 0) {
        polysock_close(pair[0]);
        polysock_close(pair[1]);
    }
    close(src);
    return n_ops / measured_wall;
}

static long round_up(long n, long unit) {
    return n < unit ? unit : (n + unit - 1) / unit * unit;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench pingpong|bulk|connect|sendfile|poller10k|sendto|recvfrom|mmsg|mmsgraw|poll "
                        "raw|polysock [n]\n");
        return 2;
    }
    use_polysock = strcmp(argv[2], "polysock") == 0;
    /* The batched cases count whole sections and batches. */
    long unit_ops = strcmp(argv[1], "mmsg") == 0 || strcmp(argv[1], "mmsgraw") == 0 ? MMSG : SECTION;
    const char *c = argv[1];
    double v;
    const char *unit;
    if (strcmp(c, "pingpong") == 0) {
        n_ops = argc > 3 ? atol(argv[3]) : 50000;
        v = pingpong();
        unit = "round-trips/s";
    } else if (strcmp(c, "bulk") == 0) {
        n_ops = argc > 3 ? atol(argv[3]) : 65536; /* 4 GiB in 64 KiB writes */
        v = bulk();
        unit = "MiB/s";
    } else if (strcmp(c, "connect") == 0) {
        n_ops = argc > 3 ? atol(argv[3]) : 50000;
        v = connects();
        unit = "connections/s";
    } else if (strcmp(c, "sendfile") == 0) {
        n_ops = argc > 3 ? atol(argv[3]) : 1024; /* MiB: 1 GiB */
        v = sendfile_case();
        unit = "MiB/s";
    } else if (strcmp(c, "poller10k") == 0) {
        n_ops = argc > 3 ? atol(argv[3]) : 20; /* messages per connection */
        v = poller10k();
        unit = "messages/server-CPU-s";
    } else if (strcmp(c, "sendto") == 0 || strcmp(c, "recvfrom") == 0) {
        n_ops = round_up(argc > 3 ? atol(argv[3]) : 200000, unit_ops);
        v = c[0] == 's' ? sendto_case() : recvfrom_case();
        unit = "calls/s";
    } else if (strcmp(c, "mmsg") == 0 || strcmp(c, "mmsgraw") == 0) {
        n_ops = round_up(argc > 3 ? atol(argv[3]) : 200000, unit_ops);
        v = mmsg_case(c[4] == 'r');
        unit = "datagrams/s";
    } else if (strcmp(c, "poll") == 0) {
        n_ops = round_up(argc > 3 ? atol(argv[3]) : 20000, unit_ops);
        v = poll_case();
        unit = "polls/s";
    } else {
        fprintf(stderr, "bench: unknown case %s\n", c);
        return 2;
    }
    /* The same work per CPU-second (of the process; poller10k's server
     * thread; the per-call cases' measured sections). */
    double per_cpu = measured_cpu > 0 ? v * measured_wall / measured_cpu : 0;
    printf("%s %s %.1f %s %.1f\n", c, argv[2], v, unit, per_cpu);
    return 0;
}
