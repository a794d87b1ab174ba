/* Error reporting: codes, names, texts, messages with context, the C
 * errno, per-thread state, and EPIPE instead of SIGPIPE. */
#include "harness.h"
#include <pthread.h>

/* A port on 127.0.0.1 with nothing listening: bind, read the port, close. */
static int closed_port(void) {
    int port;
    polysock_t s = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_close(s);
    return port;
}

TEST(connection_refused_has_code_name_and_message) {
    int port = closed_port();
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(s);
    errno = 0;
    CHECK_ERR(polysock_connect(s, "127.0.0.1", port), ECONNREFUSED);
    CHECK_EQ(errno, ECONNREFUSED); /* the C errno is set too */
    char expected[128];
    snprintf(expected, sizeof expected, "connect 127.0.0.1:%d: %s", port, polysock_strerror(ECONNREFUSED));
    CHECK_STR(polysock_last_error(), expected);
    CHECK_STR(polysock_errname(ECONNREFUSED), "ECONNREFUSED");
    CHECK_STR(polysock_strerror(ECONNREFUSED), "Connection refused");
    polysock_close(s);
}

TEST(refused_with_timeout_too) {
    int port = closed_port();
    polysock_t s = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_settimeout(s, 2000));
    CHECK_ERR(polysock_connect(s, "::1", port), ECONNREFUSED);
    CHECK(strstr(polysock_last_error(), "connect [::1]:") != NULL);
    polysock_close(s);
}

TEST(success_leaves_last_error_alone) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_ERR(polysock_listen(-5, 1), EBADF);
    CHECK_OK(polysock_bind(s, "127.0.0.1", 0));
    CHECK_EQ(polysock_errno(), EBADF);
    polysock_close(s);
}

TEST(every_code_has_a_name_and_text) {
    int64_t n = polysock_constant_count();
    int seen_errno = 0, seen_own = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *name;
        int64_t value;
        CHECK_OK(polysock_constant_at(i, &name, &value));
        int is_code = (name[0] == 'E' && name[1] != '\0' && strncmp(name, "EAI_", 4) != 0)
            || strncmp(name, "EAI_", 4) == 0 || strncmp(name, "POLYSOCK_E", 10) == 0;
        if (!is_code) continue;
        CHECK_STR(polysock_errname((int)value), name);
        CHECK(strcmp(polysock_strerror((int)value), "Unknown error") != 0);
        if (value >= POLYSOCK_ERR_BASE) seen_own++; else seen_errno++;
    }
    CHECK(seen_errno > 80);
    CHECK(seen_own >= 10);
    CHECK_STR(polysock_strerror(POLYSOCK_EAI_NONAME), "Name or service not known");
    CHECK_STR(polysock_errname(POLYSOCK_EAI_NONAME), "EAI_NONAME");
    CHECK_STR(polysock_errname(0), "OK");
    CHECK_STR(polysock_errname(-77), "EUNKNOWN");
    CHECK_STR(polysock_strerror(123456), "Unknown error");
}

TEST(unresolvable_name_is_a_resolver_error) {
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    /* An empty label: the resolver rejects it without asking any server. */
    CHECK_EQ(polysock_connect(s, "bad..name", 80), -1);
    CHECK(polysock_errno() >= POLYSOCK_ERR_BASE);
    CHECK(strncmp(polysock_errname(polysock_errno()), "EAI_", 4) == 0);
    CHECK(strstr(polysock_last_error(), "bad..name") != NULL);
    polysock_close(s);
}

static void *fail_with_ebadf(void *arg) {
    (void)arg;
    polysock_listen(-1, 1);
    return (void *)(long)polysock_errno();
}

TEST(errors_are_per_thread) {
    int port = closed_port();
    polysock_t s = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_ERR(polysock_connect(s, "127.0.0.1", port), ECONNREFUSED);
    pthread_t t;
    void *other;
    CHECK_EQ(pthread_create(&t, NULL, fail_with_ebadf, NULL), 0);
    CHECK_EQ(pthread_join(t, &other), 0);
    CHECK_EQ((long)other, EBADF);
    /* This thread still sees its own failure, message included. */
    CHECK_EQ(polysock_errno(), ECONNREFUSED);
    CHECK(strstr(polysock_last_error(), "Connection refused") != NULL);
    polysock_close(s);
}

/* With SIGPIPE at its default disposition (death), writing to a closed
 * peer returns EPIPE and the process lives. */
TEST(sigpipe_never_kills) {
    CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    polysock_t p[2];
    CHECK_OK(polysock_socketpair(POLYSOCK_AF_UNIX, POLYSOCK_SOCK_STREAM, 0, p));
    polysock_close(p[1]);
    CHECK_ERR(polysock_send(p[0], "x", 1, 0), EPIPE);
    size_t sent = 7;
    CHECK_ERR(polysock_sendall(p[0], "xyz", 3, 0, &sent), EPIPE);
    CHECK_EQ(sent, 0);
    polysock_close(p[0]);

    /* And over TCP, where the first write may still succeed. */
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET, "127.0.0.1", &port);
    polysock_t cli = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(polysock_connect(cli, "127.0.0.1", port));
    polysock_t conn = polysock_accept(srv, NULL);
    polysock_close(conn);
    char buf[4096] = {0};
    int got_error = 0;
    for (int i = 0; i < 100 && !got_error; i++) {
        if (polysock_send(cli, buf, sizeof buf, 0) < 0) {
            got_error = 1;
            CHECK(polysock_errno() == EPIPE || polysock_errno() == ECONNRESET);
        }
        usleep(1000);
    }
    CHECK(got_error);
    /* The library did not change the disposition behind our back. */
    struct sigaction sa;
    CHECK_EQ(sigaction(SIGPIPE, NULL, &sa), 0);
    CHECK(sa.sa_handler == SIG_DFL);
    polysock_close(cli);
    polysock_close(srv);
}

TEST(version_matches_macros) {
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", POLYSOCK_VERSION_MAJOR, POLYSOCK_VERSION_MINOR, POLYSOCK_VERSION_PATCH);
    CHECK_STR(polysock_version(), expected);
    CHECK_STR(polysock_version(), POLYSOCK_VERSION_STRING);
}
