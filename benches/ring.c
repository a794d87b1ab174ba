/* The ring against the event loops a runtime would otherwise write, and
 * UDP segmentation offload against the calls it replaces.
 *
 *   ring-bench echo10k <impl> [rounds]   impl: ring | poller | epoll | libuv
 *   ring-bench udp <impl> [datagrams]    impl: gso | mmsg | sendto
 * Prints one line: "<case> <impl> <rate> <unit> <rate per CPU-second>".
 *
 * echo10k: CONNS TCP connections over loopback, each echoing `rounds`
 * 64-byte messages one at a time through a single-threaded server: the
 * ring (io_uring, a multishot receive per connection into provided
 * buffers, the echo sent from the buffer itself), the polysock poller
 * (level-triggered, recv + send), raw epoll (the same loop on libc), or
 * libuv (uv_read_start + uv_try_write, as its echo examples). The clients,
 * raw libc for every server, run in a forked child (CLIENTS threads, each
 * sending one message on all its connections, then reading every echo),
 * so the server process's CPU time is the server's alone (io_uring's
 * kernel workers, if any, included). Built without libuv (no uv.h), the
 * libuv server says so and exits 2.
 *
 * udp: `datagrams` 1,200-byte datagrams over loopback from one thread to
 * another, each side with its own method: gso sends 54 at a time with
 * polysock_send_segments to a receiver with polysock_udp_gro on that takes
 * them with polysock_recv_segments; mmsg sends and receives batches of 54
 * with polysock_sendmmsg/polysock_recvmmsg; sendto is a raw libc
 * sendto/recvfrom loop. The rate is datagrams received, with their
 * contents checked, per second of wall time and per CPU-second of the
 * process (both threads); datagrams the receiver could not keep up with
 * are dropped by the kernel and not counted. */
#define _GNU_SOURCE
#include "polysock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBUV
#include <uv.h>
#endif

enum { DGRAM = 1200, BATCH = 54 };

static double clock_s(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static void die(const char *what) {
    fprintf(stderr, "ring-bench: %s: %s (polysock: %s)\n", what, strerror(errno), polysock_last_error());
    exit(1);
}

static void raise_nofile(rlim_t need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) die("getrlimit");
    if (rl.rlim_cur >= need) return;
    rl.rlim_cur = need;
    if (rl.rlim_max < need) rl.rlim_max = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("echo10k needs 10,100 fds: setrlimit");
}

/* ---- echo10k: the clients (raw libc, in a forked child) ---- */

#include "echo_clients.h"

static double t0, cpu0, wall_s, cpu_s;
static long long total;

/* POLYSOCK_BENCH_PERF_CTL=<ctl fifo>,<ack fifo>: profile only the measured
 * section, under `perf record -D -1 --control=fifo:<ctl fifo>,<ack fifo>`
 * (perf creates neither fifo: mkfifo them first). */
static void perf_ctl(const char *cmd) {
    const char *spec = getenv("POLYSOCK_BENCH_PERF_CTL");
    if (!spec) return;
    char ctl[256], ack[256];
    const char *comma = strchr(spec, ',');
    if (!comma || (size_t)(comma - spec) >= sizeof ctl || strlen(comma + 1) >= sizeof ack) die("POLYSOCK_BENCH_PERF_CTL");
    memcpy(ctl, spec, (size_t)(comma - spec));
    ctl[comma - spec] = 0;
    strcpy(ack, comma + 1);
    int c = open(ctl, O_WRONLY | O_CLOEXEC), a = open(ack, O_RDONLY | O_CLOEXEC);
    char buf[16];
    if (c < 0 || a < 0 || write(c, cmd, strlen(cmd)) < 0 || read(a, buf, sizeof buf) <= 0) die("perf control fifo");
    close(c);
    close(a);
}

static void go_clients(void) {
    total = (long long)CONNS * echo_rounds * MSG;
    perf_ctl("enable");
    t0 = now();
    cpu0 = cpu();
    release_clients();
}

static void echoed_all(void) {
    cpu_s = cpu() - cpu0;
    wall_s = now() - t0;
    perf_ctl("disable");
}

/* ---- the polysock servers: the ring and the poller ---- */

static polysock_t ps_listener, ps_conn[CONNS];

static void ps_close_listener(void) { polysock_close(ps_listener); }

static void ps_accept_all(void) {
    raise_nofile(CONNS + 100);
    ps_listener = polysock_create_server("127.0.0.1", 0, POLYSOCK_AF_INET, SOMAXCONN, 0);
    if (ps_listener < 0) die("create_server");
    polysock_addr a;
    if (polysock_getsockname(ps_listener, &a) < 0) die("getsockname");
    echo_port = a.port;
    start_clients(ps_close_listener);
    for (int i = 0; i < CONNS; i++) {
        ps_conn[i] = polysock_accept(ps_listener, NULL);
        if (ps_conn[i] < 0) die("accept");
        if (polysock_setopt(ps_conn[i], POLYSOCK_OPT_NODELAY, 1) < 0) die("nodelay");
    }
}

static void ps_close_all(void) {
    wait_clients();
    for (int i = 0; i < CONNS; i++) polysock_close(ps_conn[i]);
    polysock_close(ps_listener);
}

/* User values: a receive is (conn << 1); a send also carries its buffer. */
#define SEND_BIT 1u

static void ring_server(void) {
    ps_accept_all();
    polysock_ring_t r = polysock_ring_create(4 * CONNS, POLYSOCK_RING_SINGLE_THREAD);
    if (r < 0) die("ring_create");
    if (getenv("POLYSOCK_BENCH_VERBOSE"))
        fprintf(stderr, "ring backend: %s\n", polysock_ring_backend(r) == POLYSOCK_RING_IO_URING ? "io_uring" : "epoll");
    /* One message in flight per connection: CONNS buffers are enough. */
    if (polysock_ring_buffers(r, 0, 16384, 256) < 0) die("ring_buffers");
    for (int i = 0; i < CONNS; i++)
        if (polysock_ring_recv_multishot(r, ps_conn[i], 0, 0, (uint64_t)i << 1) < 0) die("recv_multishot");
    static polysock_ring_completion out[1024];
    long long echoed = 0;
    go_clients();
    while (echoed < total) {
        int64_t n = polysock_ring_reap(r, out, 1024, 10000);
        if (n <= 0) die(n == 0 ? "ring: no completion in 10 s" : "ring_reap");
        /* Once every echo is in, the clients hang up: their resets may
         * follow in the same batch. */
        for (int64_t k = 0; k < n && echoed < total; k++) {
            const polysock_ring_completion *c = &out[k];
            uint32_t conn = (uint32_t)(c->user >> 1) & 0xffff;
            if (c->user & SEND_BIT) {
                if (c->result != MSG) die("ring send");
                polysock_ring_buffer_return(r, 0, (uint32_t)(c->user >> 32));
                echoed += c->result;
                continue;
            }
            if (c->result > 0 && (c->flags & POLYSOCK_RING_BUFFER)) {
                uint64_t user = ((uint64_t)c->buffer << 32) | ((uint64_t)conn << 1) | SEND_BIT;
                if (polysock_ring_send(r, ps_conn[conn], c->data, (size_t)c->result, 0, user) < 0) die("ring_send");
            } else if (c->result != -ENOBUFS) {
                errno = (int)-c->result;
                die(c->result == 0 ? "ring: a client hung up early" : "ring recv");
            }
            if (!(c->flags & POLYSOCK_RING_MORE) &&
                polysock_ring_recv_multishot(r, ps_conn[conn], 0, 0, (uint64_t)conn << 1) < 0)
                die("recv_multishot again");
        }
    }
    echoed_all();
    ps_close_all();
    polysock_ring_destroy(r);
}

static void poller_server(void) {
    ps_accept_all();
    polysock_poller_t p = polysock_poller_create();
    if (p < 0) die("poller_create");
    for (int i = 0; i < CONNS; i++) {
        if (polysock_settimeout(ps_conn[i], 0) < 0) die("settimeout");
        if (polysock_poller_add(p, ps_conn[i], POLYSOCK_POLLIN, 0, (uint64_t)i) < 0) die("poller_add");
    }
    static polysock_poller_event ev[1024];
    static char buf[4096];
    long long echoed = 0;
    go_clients();
    while (echoed < total) {
        int64_t n = polysock_poller_wait(p, ev, 1024, 10000);
        if (n <= 0) die(n == 0 ? "poller: no event in 10 s" : "poller_wait");
        for (int64_t k = 0; k < n; k++) {
            polysock_t c = ev[k].handle;
            int64_t got = polysock_recv(c, buf, sizeof buf, 0);
            if (got > 0) {
                if (polysock_send(c, buf, (size_t)got, 0) != got) die("poller echo");
                echoed += got;
            } else if (got == 0 || polysock_errno() != EAGAIN) {
                die(got == 0 ? "poller: a client hung up early" : "poller recv");
            }
        }
    }
    echoed_all();
    ps_close_all();
    polysock_poller_destroy(p);
}

/* ---- raw epoll ---- */

static int raw_listener;
static void raw_close_listener(void) { close(raw_listener); }

static void epoll_server(void) {
    raise_nofile(CONNS + 100);
    raw_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (raw_listener < 0 || bind(raw_listener, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(raw_listener, SOMAXCONN) < 0 || getsockname(raw_listener, (struct sockaddr *)&sa, &len) < 0)
        die("listen");
    echo_port = ntohs(sa.sin_port);
    start_clients(raw_close_listener);
    static int conn[CONNS];
    int ep = epoll_create1(EPOLL_CLOEXEC), one = 1;
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < CONNS; i++) {
        conn[i] = accept4(raw_listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (conn[i] < 0) die("accept");
        setsockopt(conn[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event e = {.events = EPOLLIN, .data.fd = conn[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conn[i], &e) < 0) die("epoll_ctl");
    }
    static struct epoll_event ev[1024];
    static char buf[4096];
    long long echoed = 0;
    go_clients();
    while (echoed < total) {
        int n = epoll_wait(ep, ev, 1024, 10000);
        if (n <= 0 && !(n < 0 && errno == EINTR)) die(n == 0 ? "epoll: no event in 10 s" : "epoll_wait");
        for (int k = 0; k < n; k++) {
            int fd = ev[k].data.fd;
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got > 0) {
                if (send(fd, buf, (size_t)got, MSG_NOSIGNAL) != got) die("epoll echo");
                echoed += got;
            } else if (got == 0 || errno != EAGAIN) {
                die(got == 0 ? "epoll: a client hung up early" : "epoll recv");
            }
        }
    }
    echoed_all();
    wait_clients();
    for (int i = 0; i < CONNS; i++) close(conn[i]);
    close(ep);
    close(raw_listener);
}

/* ---- libuv ---- */

#ifdef HAVE_LIBUV
static uv_loop_t loop;
static uv_tcp_t uv_listener, uv_conn[CONNS];
static int uv_accepted;
static long long uv_echoed;
static char uv_buf[4096];

static void uv_close_listener(void) { close(raw_listener); }

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *b) {
    (void)h;
    (void)size;
    *b = uv_buf_init(uv_buf, sizeof uv_buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    if (n < 0) {
        fprintf(stderr, "ring-bench: libuv read: %s\n", uv_strerror((int)n));
        exit(1);
    }
    if (n == 0) return;
    uv_buf_t w = uv_buf_init(b->base, (unsigned)n);
    if (uv_try_write(s, &w, 1) != n) die("libuv echo");
    uv_echoed += n;
    if (uv_echoed >= total) uv_stop(&loop);
}

static void on_connection(uv_stream_t *srv, int status) {
    if (status < 0 || uv_accepted == CONNS) die("libuv connection");
    uv_tcp_t *c = &uv_conn[uv_accepted++];
    if (uv_tcp_init(&loop, c) < 0 || uv_accept(srv, (uv_stream_t *)c) < 0) die("libuv accept");
    uv_tcp_nodelay(c, 1);
    if (uv_read_start((uv_stream_t *)c, on_alloc, on_read) < 0) die("uv_read_start");
    if (uv_accepted == CONNS) uv_stop(&loop);
}

static void libuv_server(void) {
    raise_nofile(CONNS + 100);
    if (uv_loop_init(&loop) < 0 || uv_tcp_init(&loop, &uv_listener) < 0) die("uv_loop_init");
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    int len = sizeof sa;
    if (uv_tcp_bind(&uv_listener, (struct sockaddr *)&sa, 0) < 0 ||
        uv_listen((uv_stream_t *)&uv_listener, SOMAXCONN, on_connection) < 0 ||
        uv_tcp_getsockname(&uv_listener, (struct sockaddr *)&sa, &len) < 0)
        die("libuv listen");
    echo_port = ntohs(sa.sin_port);
    uv_os_fd_t fd;
    uv_fileno((uv_handle_t *)&uv_listener, &fd);
    raw_listener = fd;
    start_clients(uv_close_listener);
    uv_run(&loop, UV_RUN_DEFAULT); /* until every connection is accepted */
    go_clients();
    uv_run(&loop, UV_RUN_DEFAULT); /* until every message is echoed */
    if (uv_echoed < total) die("libuv: the loop ended early");
    echoed_all();
    wait_clients();
}
#endif

/* ---- udp ---- */

static long datagrams;
static polysock_t udp_rx, udp_tx;
static int udp_port;
static atomic_int sender_done;
static long received;
static double last_rx;

/* Datagram i's bytes: its number, then a pattern of it. */
static void stamp(unsigned char *p, long i) {
    memcpy(p, &i, sizeof i);
    memset(p + sizeof i, (int)(i & 0xff), DGRAM - sizeof i);
}

static void check(const unsigned char *p, size_t n) {
    long i;
    if (n != DGRAM) die("udp: a datagram of the wrong size");
    memcpy(&i, p, sizeof i);
    if (p[DGRAM - 1] != (unsigned char)(i & 0xff) || i < 0 || i >= datagrams) die("udp: a datagram's bytes differ");
}

static polysock_t udp_socket(void) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    if (s < 0 || polysock_bind(s, "127.0.0.1", 0) < 0) die("udp socket");
    /* A deep queue (root may exceed rmem_max), the same for every method. */
    int fd = polysock_fileno(s), size = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
    return s;
}

static const char *udp_impl;

static void *udp_receiver(void *arg) {
    (void)arg;
    static unsigned char buf[POLYSOCK_UDP_GRO_BUFFER];
    static unsigned char bufs[BATCH][DGRAM + 1];
    int fd = polysock_fileno(udp_rx);
    /* Stops 100 ms after the last datagram once the sender is done. */
    if (polysock_settimeout(udp_rx, 100) < 0) die("settimeout");
    struct timeval tv = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        if (!strcmp(udp_impl, "gso")) {
            size_t seg;
            int64_t n = polysock_recv_segments(udp_rx, buf, sizeof buf, 0, &seg, NULL, NULL);
            if (n < 0 && polysock_errno() != ETIMEDOUT) die("recv_segments");
            if (n < 0) goto quiet;
            for (int64_t off = 0; off < n; off += (int64_t)seg, received++) check(buf + off, seg);
        } else if (!strcmp(udp_impl, "mmsg")) {
            polysock_iovec iov[BATCH];
            polysock_mmsg m[BATCH];
            memset(m, 0, sizeof m);
            for (int k = 0; k < BATCH; k++) {
                iov[k] = (polysock_iovec){bufs[k], sizeof bufs[k]};
                m[k].iov = &iov[k];
                m[k].iovcnt = 1;
            }
            int64_t n = polysock_recvmmsg(udp_rx, m, BATCH, 0);
            if (n < 0 && polysock_errno() != ETIMEDOUT) die("recvmmsg");
            if (n < 0) goto quiet;
            for (int64_t k = 0; k < n; k++, received++) check(bufs[k], m[k].len);
        } else {
            ssize_t n = recvfrom(fd, bufs[0], sizeof bufs[0], 0, NULL, NULL);
            if (n < 0 && errno != EAGAIN) die("recvfrom");
            if (n < 0) goto quiet;
            check(bufs[0], (size_t)n);
            received++;
        }
        last_rx = now();
        continue;
    quiet:
        if (atomic_load(&sender_done)) break;
    }
    return NULL;
}

static void udp_case(const char *impl) {
    udp_impl = impl;
    udp_rx = udp_socket();
    udp_tx = udp_socket();
    polysock_addr a;
    if (polysock_getsockname(udp_rx, &a) < 0) die("getsockname");
    udp_port = a.port;
    if (polysock_connect(udp_tx, "127.0.0.1", udp_port) < 0) die("connect");
    if (!strcmp(impl, "gso") && polysock_udp_gro(udp_rx, 1) < 0) die("udp_gro");
    static unsigned char out[BATCH * DGRAM];
    polysock_iovec iov[BATCH];
    polysock_mmsg m[BATCH];
    memset(m, 0, sizeof m);
    for (int k = 0; k < BATCH; k++) {
        iov[k] = (polysock_iovec){out + k * DGRAM, DGRAM};
        m[k].iov = &iov[k];
        m[k].iovcnt = 1;
    }
    int fd = polysock_fileno(udp_tx);
    pthread_t rx;
    t0 = now();
    cpu0 = cpu();
    pthread_create(&rx, NULL, udp_receiver, NULL);
    for (long i = 0; i < datagrams; i += BATCH) {
        long n = datagrams - i < BATCH ? datagrams - i : BATCH;
        for (long k = 0; k < n; k++) stamp(out + k * DGRAM, i + k);
        if (!strcmp(impl, "gso")) {
            if (polysock_send_segments(udp_tx, out, (size_t)n * DGRAM, DGRAM, 0, NULL, 0) != n * DGRAM) die("send_segments");
        } else if (!strcmp(impl, "mmsg")) {
            for (long done = 0; done < n;) {
                int64_t k = polysock_sendmmsg(udp_tx, m + done, (size_t)(n - done), 0);
                if (k <= 0) die("sendmmsg");
                done += k;
            }
        } else {
            for (long k = 0; k < n; k++)
                if (send(fd, out + k * DGRAM, DGRAM, 0) != DGRAM) die("send");
        }
    }
    atomic_store(&sender_done, 1);
    pthread_join(rx, NULL);
    cpu_s = cpu() - cpu0;
    wall_s = last_rx - t0;
    if (received == 0) die("udp: nothing arrived");
    if (getenv("POLYSOCK_BENCH_VERBOSE"))
        fprintf(stderr, "udp %s: %ld of %ld datagrams arrived\n", impl, received, datagrams);
    polysock_close(udp_rx);
    polysock_close(udp_tx);
    printf("udp %s %.0f datagrams/s %.0f\n", impl, received / wall_s, received / cpu_s);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ring-bench echo10k ring|poller|epoll|libuv [rounds]\n"
                        "       ring-bench udp gso|mmsg|sendto [datagrams]\n");
        return 2;
    }
    const char *c = argv[1], *impl = argv[2];
    long size = argc > 3 ? atol(argv[3]) : 0;
    if (!strcmp(c, "udp")) {
        datagrams = size > 0 ? size : 1000000;
        udp_case(impl);
        return 0;
    }
    if (strcmp(c, "echo10k") != 0) {
        fprintf(stderr, "ring-bench: unknown case %s\n", c);
        return 2;
    }
    echo_rounds = size > 0 ? size : 20;
    if (!strcmp(impl, "ring")) ring_server();
    else if (!strcmp(impl, "poller")) poller_server();
    else if (!strcmp(impl, "epoll")) epoll_server();
    else if (!strcmp(impl, "libuv")) {
#ifdef HAVE_LIBUV
        libuv_server();
#else
        fprintf(stderr, "ring-bench: built without libuv (apt-get install libuv1-dev)\n");
        return 2;
#endif
    } else {
        fprintf(stderr, "ring-bench: unknown implementation %s\n", impl);
        return 2;
    }
    double msgs = (double)total / MSG;
    printf("echo10k %s %.0f messages/s %.0f\n", impl, msgs / wall_s, msgs / cpu_s);
    return 0;
}
