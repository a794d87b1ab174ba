/* TLS through the C ABI: a polysock server and client on one connection
 * (certificates made by the openssl command in a temp dir), the same
 * handle's send/recv/readline, the queries, close_notify, and bad input. */
#include "harness.h"
#include <pthread.h>
#include <sys/ioctl.h>

static char dir_[64];

/* A CA and a localhost certificate it signs, in dir_ (once per test). */
static void make_certs(void) {
    make_temp_dir(dir_, "polysock-tls");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj /CN=c-test-CA 2>/dev/null && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null && "
             "printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > ext && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-days 2 -extfile ext -out server.pem 2>/dev/null",
             dir_);
    CHECK_EQ(system(cmd), 0);
}

static const char *path(const char *name) {
    static char buf[4][128];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 128, "%s/%s", dir_, name);
    return p;
}

/* Certificates, a connected pair, and `serve` running on the server end
 * in thread *t. */
static void start(void *(*serve_fn)(void *), polysock_t *c, polysock_t *s, pthread_t *t) {
    make_certs();
    connected_tcp(c, s);
    CHECK_EQ(pthread_create(t, NULL, serve_fn, s), 0);
}

/* Wraps the server end `s` (timeout 10 s), with `alpn` unless NULL; the
 * configuration to free after. */
static polysock_tls_config_t wrap_server(polysock_t s, const char *alpn) {
    polysock_tls_config_t cfg = polysock_tls_config_new(POLYSOCK_TLS_SERVER);
    CHECK_OK(cfg);
    CHECK_OK(polysock_tls_config_cert_file(cfg, path("server.pem"), path("server.key")));
    if (alpn) CHECK_OK(polysock_tls_config_add_alpn(cfg, alpn));
    CHECK_OK(polysock_settimeout(s, 10000));
    CHECK_OK(polysock_tls_wrap_server(s, cfg));
    return cfg;
}

static void *serve(void *arg) {
    polysock_t s = *(polysock_t *)arg;
    polysock_tls_config_t cfg = wrap_server(s, "x-c");
    char line[64];
    size_t n = 0;
    CHECK_OK(polysock_readline(s, line, sizeof line, &n));
    CHECK_EQ(n, 6);
    CHECK(memcmp(line, "hello\n", 6) == 0);
    CHECK_OK(polysock_sendall(s, "HELLO\n", 6, 0, NULL));
    CHECK_OK(polysock_shutdown(s, POLYSOCK_SHUT_RDWR));
    polysock_close(s);
    polysock_tls_config_free(cfg);
    return NULL;
}

TEST(tls_echo_and_queries) {
    polysock_t c, s;
    pthread_t t;
    start(serve, &c, &s, &t);
    polysock_tls_config_t cfg = polysock_tls_config_new(POLYSOCK_TLS_CLIENT);
    CHECK_OK(cfg);
    CHECK_OK(polysock_tls_config_system_roots(cfg, 0));
    CHECK_OK(polysock_tls_config_add_ca_file(cfg, path("ca.pem")));
    CHECK_OK(polysock_tls_config_add_alpn(cfg, "x-c"));
    CHECK_OK(polysock_settimeout(c, 10000));
    CHECK_OK(polysock_tls_wrap(c, cfg, "localhost"));
    CHECK_EQ(polysock_tls_state(c), POLYSOCK_TLS_STATE_HANDSHAKE);
    CHECK_OK(polysock_tls_handshake(c));
    CHECK_EQ(polysock_tls_state(c), POLYSOCK_TLS_STATE_OPEN);
    CHECK_EQ(polysock_tls_version(c), POLYSOCK_TLS_1_3);
    char text[256];
    CHECK_OK(polysock_tls_alpn(c, text, sizeof text));
    CHECK_STR(text, "x-c");
    CHECK_OK(polysock_tls_peer_subject(c, text, sizeof text));
    CHECK(strstr(text, "CN=localhost") != NULL);
    CHECK_OK(polysock_tls_peer_issuer(c, text, sizeof text));
    CHECK(strstr(text, "CN=c-test-CA") != NULL);
    CHECK_ERR(polysock_tls_peer_subject(c, text, 3), ERANGE);
    int64_t len = polysock_tls_peer_cert(c, 0, NULL, 0);
    CHECK(len > 100);
    CHECK_ERR(polysock_tls_peer_cert(c, 5, NULL, 0), ENOENT);
    CHECK_OK(polysock_sendall(c, "hello\n", 6, 0, NULL));
    char buf[16];
    /* One record: a short receive leaves the rest decrypted in rustls. */
    CHECK_EQ(polysock_recv(c, buf, 2, 0), 2);
    CHECK_EQ(polysock_tls_pending(c), 4);
    CHECK_EQ(polysock_recv_exact(c, buf + 2, 4, 0, NULL), 4);
    CHECK(memcmp(buf, "HELLO\n", 6) == 0);
    CHECK_EQ(polysock_tls_pending(c), 0);
    /* The server's close_notify: a clean end of stream. */
    CHECK_EQ(polysock_recv(c, buf, sizeof buf, 0), 0);
    CHECK_EQ(polysock_recv(c, buf, sizeof buf, 0), 0); /* and stays ended */
    /* sendto and recvfrom would bypass the encryption. */
    CHECK_ERR(polysock_sendto(c, "x", 1, 0, "127.0.0.1", 9), EOPNOTSUPP);
    CHECK(strstr(polysock_last_error(), "sendto: not available on a TLS stream") != NULL);
    polysock_addr from;
    CHECK_ERR(polysock_recvfrom(c, buf, sizeof buf, 0, &from), EOPNOTSUPP);
    CHECK(strstr(polysock_last_error(), "recvfrom: not available on a TLS stream") != NULL);
    CHECK_ERR(polysock_recvfrom(c, buf, sizeof buf, 0, NULL), EOPNOTSUPP);
    pthread_join(t, NULL);
    polysock_close(c);
    CHECK_OK(polysock_tls_config_free(cfg));
}

/* A server whose handshake must fail (its client rejects it). */
static void *serve_failing(void *arg) {
    polysock_t s = *(polysock_t *)arg;
    polysock_tls_config_t cfg = wrap_server(s, NULL);
    CHECK_EQ(polysock_tls_handshake(s), -1);
    polysock_close(s);
    polysock_tls_config_free(cfg);
    return NULL;
}

TEST(tls_unknown_issuer_is_its_own_code) {
    polysock_t c, s;
    pthread_t t;
    start(serve_failing, &c, &s, &t);
    polysock_tls_config_t cfg = polysock_tls_config_new(POLYSOCK_TLS_CLIENT);
    CHECK_OK(polysock_settimeout(c, 10000));
    CHECK_OK(polysock_tls_wrap(c, cfg, "localhost"));
    CHECK_ERR(polysock_tls_handshake(c), POLYSOCK_ETLS_UNKNOWN_ISSUER);
    CHECK(strstr(polysock_last_error(), "tls handshake with localhost: unknown issuer") != NULL);
    CHECK_STR(polysock_errname(POLYSOCK_ETLS_UNKNOWN_ISSUER), "POLYSOCK_ETLS_UNKNOWN_ISSUER");
    CHECK_EQ(polysock_tls_state(c), POLYSOCK_TLS_STATE_FAILED);
    polysock_close(c); /* the server's handshake fails in turn */
    pthread_join(t, NULL);
    polysock_tls_config_free(cfg);
}

/* A server that sends one record and waits for the client's end. */
static void *serve_record(void *arg) {
    polysock_t s = *(polysock_t *)arg;
    polysock_tls_config_t cfg = wrap_server(s, NULL);
    CHECK_OK(polysock_sendall(s, "abcdef", 6, 0, NULL));
    char buf[8];
    CHECK_EQ(polysock_recv(s, buf, sizeof buf, 0), 0);
    polysock_close(s);
    polysock_tls_config_free(cfg);
    return NULL;
}

/* No socket of this process ever reads a line: only the TLS socket's own
 * mark can make poll's zero-timeout look see its decrypted bytes. */
TEST(tls_poll_look_sees_decrypted_bytes) {
    polysock_t c, s;
    pthread_t t;
    start(serve_record, &c, &s, &t);
    polysock_tls_config_t cfg = polysock_tls_config_new(POLYSOCK_TLS_CLIENT);
    CHECK_OK(polysock_tls_config_system_roots(cfg, 0));
    CHECK_OK(polysock_tls_config_add_ca_file(cfg, path("ca.pem")));
    CHECK_OK(polysock_settimeout(c, 10000));
    CHECK_OK(polysock_tls_wrap(c, cfg, "localhost"));
    polysock_t idle = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(idle);
    polysock_t stale = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM, 0);
    polysock_close(stale);
    char buf[8];
    /* A short read: the record is decrypted, 4 of its bytes stay in rustls. */
    CHECK_EQ(polysock_recv(c, buf, 2, 0), 2);
    CHECK_EQ(polysock_tls_pending(c), 4);
    int queued = -1;
    CHECK_EQ(ioctl((int)polysock_fileno(c), FIONREAD, &queued), 0);
    CHECK_EQ(queued, 0);
    polysock_pollfd fds[3] = {
        {.handle = idle, .events = POLYSOCK_POLLIN},
        {.handle = c, .events = POLYSOCK_POLLIN},
        {.handle = stale, .events = POLYSOCK_POLLIN},
    };
    CHECK_EQ(polysock_poll(fds, 3, 0), 2);
    CHECK_EQ(fds[0].revents, 0);
    CHECK_EQ(fds[1].revents, POLYSOCK_POLLIN);
    CHECK_EQ(fds[2].revents, POLYSOCK_POLLNVAL);
    CHECK_EQ(polysock_recv(c, buf, sizeof buf, 0), 4);
    CHECK(memcmp(buf, "cdef", 4) == 0);
    /* Nothing left: the look reports nothing for it. */
    CHECK_EQ(polysock_poll(fds, 2, 0), 0);
    CHECK_EQ(fds[1].revents, 0);
    CHECK_OK(polysock_shutdown(c, POLYSOCK_SHUT_RDWR));
    pthread_join(t, NULL);
    polysock_close(c);
    polysock_close(idle);
    CHECK_OK(polysock_tls_config_free(cfg));
}


TEST(tls_bad_input) {
    CHECK_ERR(polysock_tls_config_new(99), EINVAL);
    polysock_tls_config_t cfg = polysock_tls_config_new(POLYSOCK_TLS_CLIENT);
    CHECK_OK(cfg);
    CHECK_ERR(polysock_tls_config_add_ca_pem(cfg, "garbage", 7), POLYSOCK_ETLS_PEM);
    CHECK_ERR(polysock_tls_config_add_ca_pem(cfg, NULL, 7), EINVAL);
    CHECK_ERR(polysock_tls_config_add_ca_file(cfg, "/nonexistent/ca.pem"), ENOENT);
    CHECK_ERR(polysock_tls_config_add_alpn(cfg, ""), EINVAL);
    polysock_t u = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_ERR(polysock_tls_wrap(u, cfg, "localhost"), ENOTCONN);
    CHECK_ERR(polysock_tls_handshake(u), EINVAL);
    CHECK_EQ(polysock_tls_pending(u), 0); /* a plain socket holds none */
    CHECK_ERR(polysock_tls_unwrap(u), EINVAL);
    polysock_close(u);
    CHECK_OK(polysock_tls_config_free(cfg));
    CHECK_EQ(polysock_tls_config_free(cfg), 0); /* harmless, like close */
    CHECK_ERR(polysock_tls_config_add_alpn(cfg, "h2"), EBADF);
    CHECK_ERR(polysock_tls_handshake(-5), EBADF);
    CHECK_ERR(polysock_tls_pending(-5), EBADF);
    CHECK_ERR(polysock_tls_unwrap(-5), EBADF);
}
