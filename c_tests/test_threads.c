/* Closing a socket that another thread is blocked on wakes that thread
 * promptly with EBADF; concurrent use of different sockets is safe. */
#include "harness.h"
#include <pthread.h>
#include <time.h>

struct blocked {
    polysock_t h;
    int op; /* 0 accept, 1 recv, 2 recvfrom, 3 connect (to port `port`) */
    int port;
    long long result;
    int err;
    volatile int started;
};

static void *block_on(void *arg) {
    struct blocked *b = arg;
    char buf[16];
    b->started = 1;
    if (b->op == 0) b->result = polysock_accept(b->h, NULL);
    else if (b->op == 1) b->result = polysock_recv(b->h, buf, sizeof buf, 0);
    else if (b->op == 3) b->result = polysock_connect(b->h, "127.0.0.1", b->port);
    else b->result = polysock_recvfrom(b->h, buf, sizeof buf, 0, NULL);
    b->err = polysock_errno();
    return NULL;
}

/* Starts a thread blocked on `h`, closes `h` from here, and checks that the
 * thread returns EBADF (its join is bounded by the harness alarm). */
static void close_wakes_port(polysock_t h, int op, int port) {
    struct blocked b = {h, op, port, 0, 0, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, block_on, &b), 0);
    while (!b.started) usleep(1000);
    usleep(100000); /* let it block in the kernel */
    int fd = polysock_fileno(h);
    CHECK_OK(polysock_close(h));
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(b.result, -1);
    CHECK_EQ(b.err, EBADF);
    /* After the woken call returned, the fd is really closed. */
    CHECK(fcntl(fd, F_GETFD) == -1);
}

static void close_wakes(polysock_t h, int op) { close_wakes_port(h, op, 0); }

TEST(close_wakes_blocked_accept) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    close_wakes(srv, 0);
}

TEST(close_wakes_blocked_accept_with_timeout) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET6, "::1", &port);
    CHECK_OK(polysock_settimeout(srv, 10000));
    close_wakes(srv, 0);
}

TEST(close_wakes_blocked_unix_accept) {
    polysock_t srv = polysock_socket(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0);
    const char *path = temp_socket_path("wake.sock");
    CHECK_OK(polysock_bind(srv, path, 0));
    CHECK_OK(polysock_listen(srv, 4));
    close_wakes(srv, 0);
    unlink(path);
}

TEST(close_wakes_blocked_recv) {
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_t cli = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(cli, "127.0.0.1", port));
    polysock_t conn = polysock_accept(srv, NULL);
    close_wakes(cli, 1);
    polysock_close(conn);
    polysock_close(srv);
}

TEST(close_wakes_blocked_recv_with_timeout) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    CHECK_OK(polysock_settimeout(p[0], 10000));
    close_wakes(p[0], 1);
    polysock_close(p[1]);
}

TEST(close_wakes_blocked_udp_recvfrom) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(polysock_bind(s, "127.0.0.1", 0));
    close_wakes(s, 2);
}

/* A listener whose accept queue is full drops new SYNs: a connect to it
 * blocks until closed from here. */
TEST(close_wakes_blocked_connect) {
    polysock_t srv = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_bind(srv, "127.0.0.1", 0));
    CHECK_OK(polysock_listen(srv, 0));
    polysock_addr a;
    CHECK_OK(polysock_getsockname(srv, &a));
    /* Fill the queue: connects that complete at once, until one would not. */
    for (int i = 0; i < 8; i++) {
        polysock_t f = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
        CHECK_OK(polysock_settimeout(f, 200));
        if (polysock_connect(f, "127.0.0.1", a.port) < 0) break;
    }
    polysock_t c = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    close_wakes_port(c, 3, a.port);
    polysock_close(srv);
}

/* Closing a socket nobody else uses must not shut the connection down: a
 * forked child that shares it keeps talking. */
TEST(close_without_waiters_does_not_shutdown) {
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    pid_t child = fork();
    if (child == 0) {
        char buf[4];
        polysock_settimeout(p[1], 5000);
        if (polysock_recv_exact(p[1], buf, 2, 0, NULL) != 2) _exit(1);
        _exit(polysock_send(p[1], "ok", 2, 0) == 2 ? 0 : 2);
    }
    CHECK_OK(polysock_close(p[1])); /* parent's copy only */
    CHECK_EQ(polysock_send(p[0], "hi", 2, 0), 2);
    char buf[4];
    CHECK_OK(polysock_settimeout(p[0], 5000));
    CHECK_EQ(polysock_recv_exact(p[0], buf, 2, 0, NULL), 2);
    int status;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    polysock_close(p[0]);
}

#define WORKERS 8
static int echo_port;

static void *echo_client(void *arg) {
    long id = (long)arg;
    for (int round = 0; round < 50; round++) {
        polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
        if (s < 0) return (void *)1;
        polysock_settimeout(s, 5000);
        if (polysock_connect(s, "127.0.0.1", echo_port) < 0) return (void *)2;
        char msg[32], back[32];
        int n = snprintf(msg, sizeof msg, "w%ld-r%d", id, round);
        if (polysock_sendall(s, msg, (size_t)n, 0, NULL) != n) return (void *)3;
        if (polysock_recv_exact(s, back, (size_t)n, 0, NULL) != n) return (void *)4;
        if (memcmp(msg, back, (size_t)n) != 0) return (void *)5;
        polysock_close(s);
    }
    return NULL;
}

static void *echo_server(void *arg) {
    polysock_t srv = *(polysock_t *)arg;
    for (;;) {
        polysock_t c = polysock_accept(srv, NULL);
        if (c < 0) return NULL; /* closed: done */
        char buf[64];
        polysock_settimeout(c, 5000);
        long long n = polysock_recv(c, buf, sizeof buf, 0);
        if (n > 0) polysock_sendall(c, buf, (size_t)n, 0, NULL);
        polysock_close(c);
    }
}

TEST(many_threads_many_sockets) {
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &echo_port);
    pthread_t server, clients[WORKERS];
    CHECK_EQ(pthread_create(&server, NULL, echo_server, &srv), 0);
    for (long i = 0; i < WORKERS; i++) CHECK_EQ(pthread_create(&clients[i], NULL, echo_client, (void *)i), 0);
    for (int i = 0; i < WORKERS; i++) {
        void *r;
        CHECK_EQ(pthread_join(clients[i], &r), 0);
        CHECK_EQ((long)r, 0);
    }
    polysock_close(srv); /* wakes the server's accept */
    CHECK_EQ(pthread_join(server, NULL), 0);
}

static void *on_small_stack(void *arg) {
    (void)arg;
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    if (s < 0) return (void *)1;
    if (polysock_handle_of_fd(999999) != -1) return (void *)2; /* a page never used */
    if (polysock_errno() != EBADF) return (void *)3;
    polysock_close(s);
    return NULL;
}

/* Some VMs run native code on small thread stacks (Blade: 64 KiB, part of
 * it used by the VM itself); 32 KiB must be plenty for any polysock
 * call, debug builds included. */
TEST(works_on_small_thread_stacks) {
    pthread_attr_t attr;
    CHECK_EQ(pthread_attr_init(&attr), 0);
    CHECK_EQ(pthread_attr_setstacksize(&attr, 32 * 1024), 0);
    pthread_t t;
    void *r;
    CHECK_EQ(pthread_create(&t, &attr, on_small_stack, NULL), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ((long)r, 0);
}
