/* polysock against raw libc, doing the same work with the same structure.
 *
 *   bench <case> <impl> [n]
 *     case: pingpong | bulk | connect
 *     impl: raw | polysock
 * Prints one line: "<case> <impl> <value> <unit>" where value is a rate
 * (higher is better). Both sides of each exchange run in this process (a
 * server thread and the measured client), over loopback only. */
#define _GNU_SOURCE
#include "polysock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
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
    double t0 = now();
    for (long i = 0; i < n_ops; i++) {
        if (s_send(c, msg, sizeof msg) != sizeof msg) die("send");
        size_t got = 0;
        while (got < sizeof msg) {
            int64_t n = s_recv(c, back + got, sizeof msg - got);
            if (n <= 0) die("recv");
            got += (size_t)n;
        }
    }
    double took = now() - t0;
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
    double t0 = now();
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
    double took = now() - t0;
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
    double t0 = now();
    for (long i = 0; i < n_ops; i++) {
        sock_t c = s_connect(port);
        s_abort_on_close(c);
        s_close(c);
    }
    pthread_join(t, NULL);
    double took = now() - t0;
    s_close(listener);
    return n_ops / took;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench pingpong|bulk|connect raw|polysock [n]\n");
        return 2;
    }
    use_polysock = strcmp(argv[2], "polysock") == 0;
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
    } else {
        fprintf(stderr, "bench: unknown case %s\n", c);
        return 2;
    }
    printf("%s %s %.1f %s\n", c, argv[2], v, unit);
    return 0;
}
