/* The clients of the 10,000-connection echo cases (bench.c's poller10k,
 * ring.c's echo10k), one copy for both: raw libc whatever the server, in a
 * forked child (each process then needs CONNS fds, not twice that),
 * CLIENTS threads each sending one message on all its connections, then
 * reading every echo and checking it, `echo_rounds` times. The includer
 * defines die(const char *). */
#ifndef POLYSOCK_BENCH_ECHO_CLIENTS_H
#define POLYSOCK_BENCH_ECHO_CLIENTS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { CONNS = 10000, CLIENTS = 4, MSG = 64 };

static long echo_rounds;
static int echo_port;
static int client_fd[CONNS];

static void *client_thread(void *arg) {
    long first = (long)arg * (CONNS / CLIENTS), last = first + CONNS / CLIENTS;
    char msg[MSG], back[MSG];
    for (long r = 0; r < echo_rounds; r++) {
        memset(msg, (int)(r & 0x7f), sizeof msg);
        for (long i = first; i < last; i++)
            if (send(client_fd[i], msg, sizeof msg, MSG_NOSIGNAL) != sizeof msg) die("client send");
        for (long i = first; i < last; i++) {
            for (size_t got = 0; got < sizeof msg;) {
                ssize_t n = recv(client_fd[i], back + got, sizeof msg - got, 0);
                if (n <= 0 && !(n < 0 && errno == EINTR)) die("client recv");
                if (n > 0) got += (size_t)n;
            }
            if (memcmp(back, msg, sizeof msg) != 0) die("client: the echo differs");
        }
    }
    return NULL;
}

static void clients(int go) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)echo_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct linger lg = {1, 0}; /* no TIME_WAIT left behind */
    int one = 1;
    for (int i = 0; i < CONNS; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("client connect");
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        client_fd[i] = fd;
    }
    char c;
    if (read(go, &c, 1) != 1) die("wait for the server");
    pthread_t t[CLIENTS];
    for (long k = 0; k < CLIENTS; k++) pthread_create(&t[k], NULL, client_thread, (void *)k);
    for (int k = 0; k < CLIENTS; k++) pthread_join(t[k], NULL);
    for (int i = 0; i < CONNS; i++) close(client_fd[i]);
}

static int echo_go_fd;
static pid_t echo_child;

/* Puts the clients (child) and the server (parent) on CPUs of their own,
 * the first two this process may use, unless POLYSOCK_BENCH_PIN=0 or
 * there is one CPU. Why: when the server shares both CPUs with its
 * clients, the scheduler's clock of the server (CLOCK_PROCESS_CPUTIME_ID,
 * the per-CPU-second figures) and perf's task-clock over the same section
 * part by 20-26% for the ring server (about 5% for raw epoll's), so a
 * per-CPU-second ratio would be one clock's artefact; apart, the two agree
 * within 5% (benches/instructions.md, "Two clocks"). */
static void pin_apart(int child) {
    const char *pin = getenv("POLYSOCK_BENCH_PIN");
    if (pin && strcmp(pin, "0") == 0) return;
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed) < 0 || CPU_COUNT(&allowed) < 2) return;
    int seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (seen++ == (child ? 0 : 1)) {
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            if (sched_setaffinity(0, sizeof one, &one) < 0) die("sched_setaffinity");
            return;
        }
    }
}

/* Forks the clients: they connect to echo_port at once (the server
 * accepts them meanwhile) and start on release_clients(). The child runs
 * close_listener first. */
static void start_clients(void (*close_listener)(void)) {
    int go[2];
    if (pipe2(go, O_CLOEXEC) < 0) die("pipe");
    fflush(stdout);
    fflush(stderr);
    echo_child = fork();
    if (echo_child < 0) die("fork");
    pin_apart(echo_child == 0);
    if (echo_child == 0) {
        close(go[1]);
        close_listener();
        clients(go[0]);
        _exit(0);
    }
    close(go[0]);
    echo_go_fd = go[1];
}

static void release_clients(void) {
    if (write(echo_go_fd, "g", 1) != 1) die("start the clients");
}

/* Waits for the clients to finish (they checked every echo). */
static void wait_clients(void) {
    int status;
    if (waitpid(echo_child, &status, 0) != echo_child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("clients");
    close(echo_go_fd);
}

#endif
