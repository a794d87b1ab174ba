/* A tiny test harness for polysock's C tests.
 *
 * Each test is a function registered with TEST(name). The runner forks one
 * child per test with an alarm() limit, so a hanging or crashing test fails
 * alone and never hangs the suite (libuv's runner does the same). A run
 * prints one line per test and a closing "N passed, N failed" line;
 * `prog name` runs a single test. */
#ifndef POLYSOCK_TEST_HARNESS_H
#define POLYSOCK_TEST_HARNESS_H

#define _GNU_SOURCE
#include "polysock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TEST_TIMEOUT_SECONDS
#define TEST_TIMEOUT_SECONDS 20
#endif
#define MAX_TESTS 128

typedef void (*test_fn)(void);
static struct { const char *name; test_fn fn; } tests_[MAX_TESTS];
static int ntests_;

#define TEST(fn_)                                                         \
    static void fn_(void);                                                \
    __attribute__((constructor)) static void register_##fn_(void) {       \
        if (ntests_ < MAX_TESTS) { tests_[ntests_].name = #fn_; tests_[ntests_++].fn = fn_; } \
    }                                                                     \
    static void fn_(void)

#define FAIL_(...)                                                        \
    do {                                                                  \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                 \
        fprintf(stderr, __VA_ARGS__);                                     \
        fprintf(stderr, "\n  last polysock error: %s (%s)\n",             \
                polysock_last_error(), polysock_errname(polysock_errno())); \
        exit(1);                                                          \
    } while (0)

/* CHECK(cond): the condition must hold. */
#define CHECK(cond) do { if (!(cond)) FAIL_("CHECK(%s) failed", #cond); } while (0)
/* CHECK_EQ(a, b) for integers, printing both values. */
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) FAIL_("CHECK_EQ(%s, %s): %lld != %lld", #a, #b, a_, b_); } while (0)
/* CHECK_OK(call): the call returned >= 0. */
#define CHECK_OK(call) do { long long r_ = (long long)(call); \
    if (r_ < 0) FAIL_("%s returned %lld", #call, r_); } while (0)
/* CHECK_ERR(call, code): the call returned -1 and recorded `code`, with a
 * non-empty message. */
#define CHECK_ERR(call, code) do { long long r_ = (long long)(call); \
    if (r_ != -1) FAIL_("%s returned %lld, expected -1", #call, r_); \
    if (polysock_errno() != (code)) FAIL_("%s: errno %s, expected %s", #call, \
        polysock_errname(polysock_errno()), polysock_errname(code)); \
    if (polysock_last_error()[0] == '\0') FAIL_("%s: empty error message", #call); \
} while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
    if (strcmp(a_, b_) != 0) FAIL_("CHECK_STR(%s, %s): \"%s\" != \"%s\"", #a, #b, a_, b_); } while (0)

static int run_one_(int i) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(TEST_TIMEOUT_SECONDS);
        tests_[i].fn();
        exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok   %s\n", tests_[i].name);
        return 1;
    }
    if (WIFSIGNALED(status))
        printf("FAIL %s (signal %d%s)\n", tests_[i].name, WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? ": timed out" : "");
    else
        printf("FAIL %s\n", tests_[i].name);
    return 0;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests_; i++) {
        if (argc > 1 && strcmp(argv[1], tests_[i].name) != 0) continue;
        if (run_one_(i)) passed++; else failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

/* ---- helpers shared by the tests ---- */

/* A listening TCP socket on `host` port 0; its port goes to *port. */
static polysock_t listen_tcp(int family, const char *host, int *port) {
    polysock_t s = polysock_socket(family, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(s);
    CHECK_OK(polysock_setopt(s, POLYSOCK_OPT_REUSEADDR, 1));
    CHECK_OK(polysock_bind(s, host, 0));
    CHECK_OK(polysock_listen(s, -1));
    polysock_addr a;
    CHECK_OK(polysock_getsockname(s, &a));
    *port = a.port;
    return s;
}

/* A connected TCP pair over 127.0.0.1: client and accepted server side. */
static void connected_tcp(polysock_t *client, polysock_t *server) {
    int port;
    polysock_t l = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    *client = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(*client);
    CHECK_OK(polysock_connect(*client, "127.0.0.1", port));
    *server = polysock_accept(l, NULL);
    CHECK_OK(*server);
    polysock_close(l);
}

/* A UDP socket of `family` bound to `host` (a loopback), with its port. */
static polysock_t udp_at(int family, const char *host, int *port) {
    polysock_t s = polysock_socket(family, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(s);
    CHECK_OK(polysock_bind(s, host, 0));
    CHECK_OK(polysock_settimeout(s, 5000));
    polysock_addr a;
    CHECK_OK(polysock_getsockname(s, &a));
    *port = a.port;
    return s;
}

/* A UDP socket bound to 127.0.0.1, with its port. */
static polysock_t udp(int *port) {
    return udp_at(POLYSOCK_AF_INET, "127.0.0.1", port);
}

/* One scatter/gather entry. */
static polysock_iovec iov(const void *base, size_t len) {
    polysock_iovec v;
    v.base = (void *)base;
    v.len = len;
    return v;
}

/* A connected AF_UNIX pair of `type`, each end with a 5 s timeout. */
static void unix_pair(int type, polysock_t p[2]) {
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, type, 0, p));
    CHECK_OK(polysock_settimeout(p[0], 5000));
    CHECK_OK(polysock_settimeout(p[1], 5000));
}

/* Private temp dirs, removed with what they hold when the process that
 * made them exits (exit() and a failed CHECK both run atexit handlers; a
 * forked child that exits leaves its parent's dirs alone). */
#define MAX_TEMP_DIRS_ 8
static char temp_dirs_[MAX_TEMP_DIRS_][64];
static pid_t temp_dirs_owner_[MAX_TEMP_DIRS_];
static int ntemp_dirs_;

static void remove_temp_dirs_(void) {
    for (int i = 0; i < ntemp_dirs_; i++) {
        if (temp_dirs_owner_[i] != getpid()) continue;
        DIR *d = opendir(temp_dirs_[i]);
        if (d) {
            struct dirent *e;
            char p[384];
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                snprintf(p, sizeof p, "%s/%s", temp_dirs_[i], e->d_name);
                unlink(p);
            }
            closedir(d);
        }
        rmdir(temp_dirs_[i]);
    }
}

/* mkdtemp("/tmp/<prefix>-XXXXXX") into `dir` (64 bytes), removed at exit. */
static void make_temp_dir(char *dir, const char *prefix) {
    snprintf(dir, 64, "/tmp/%s-XXXXXX", prefix);
    CHECK(mkdtemp(dir) != NULL);
    CHECK(ntemp_dirs_ < MAX_TEMP_DIRS_);
    if (ntemp_dirs_ == 0) atexit(remove_temp_dirs_);
    strcpy(temp_dirs_[ntemp_dirs_], dir);
    temp_dirs_owner_[ntemp_dirs_++] = getpid();
}

/* A fresh path for a Unix socket in a private temp dir. */
static const char *temp_socket_path(const char *name) {
    static char dir[64];
    static char path[128];
    if (!dir[0]) make_temp_dir(dir, "polysock-test");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    return path;
}

/* A monotonic clock in milliseconds. */
static inline double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Signals for tests that prove waits survive them: a SIGUSR1 handler
 * installed without SA_RESTART, and a thread that sends SIGUSR1 to the
 * calling thread every `every_us` until pester_stop(). */
static void pester_on_signal_(int sig) { (void)sig; }
static pthread_t pester_target_, pester_thread_;
static volatile int pester_stopping_;
static useconds_t pester_every_;

static void *pester_run_(void *arg) {
    (void)arg;
    while (!pester_stopping_) {
        pthread_kill(pester_target_, SIGUSR1);
        usleep(pester_every_);
    }
    return NULL;
}

static inline void pester_start(useconds_t every_us) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pester_on_signal_; /* no SA_RESTART */
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    pester_target_ = pthread_self();
    pester_every_ = every_us;
    pester_stopping_ = 0;
    CHECK_EQ(pthread_create(&pester_thread_, NULL, pester_run_, NULL), 0);
}

static inline void pester_stop(void) {
    pester_stopping_ = 1;
    pthread_join(pester_thread_, NULL);
}

/* The number of open fds of this process. */
static int open_fd_count(void) {
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1) n++;
    return n;
}

#endif
