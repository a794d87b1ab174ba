/* AF_UNIX names as counted bytes (polysock_*_unix): abstract names with
 * NULs inside and paths that are not UTF-8, which the text forms cannot
 * carry; the kernel's own form comes back, byte for byte. */
#include "harness.h"

#include <sys/stat.h>

static const char ABSTRACT[] = "\0polysock\0test\0"; /* NULs inside and at the end */
#define ABSTRACT_LEN (sizeof ABSTRACT - 1)

static polysock_t unix_socket(int type) {
    polysock_t s = polysock_socket(POLYSOCK_AF_UNIX, type, 0);
    CHECK(s >= 0);
    CHECK_OK(polysock_settimeout(s, 5000));
    return s;
}

/* Its own name equals the `len` bytes at `want`. */
static void check_own_name(polysock_t s, const void *want, size_t len) {
    unsigned char name[POLYSOCK_UNIX_NAME_MAX];
    size_t n = 0;
    CHECK_OK(polysock_getsockname_unix(s, name, sizeof name, &n));
    CHECK_EQ(n, len);
    CHECK(memcmp(name, want, len) == 0);
}

TEST(abstract_name_with_nuls_round_trips_over_a_stream) {
    polysock_t srv = unix_socket(POLYSOCK_SOCK_STREAM);
    CHECK_OK(polysock_bind_unix(srv, ABSTRACT, ABSTRACT_LEN));
    CHECK_OK(polysock_listen(srv, 1));
    check_own_name(srv, ABSTRACT, ABSTRACT_LEN);
    /* The text form is unchanged: cut at the first NUL after '@'. */
    polysock_addr a;
    CHECK_OK(polysock_getsockname(srv, &a));
    CHECK_STR(a.host, "@polysock");
    polysock_t cli = unix_socket(POLYSOCK_SOCK_STREAM);
    CHECK_OK(polysock_connect_unix(cli, ABSTRACT, ABSTRACT_LEN));
    unsigned char name[POLYSOCK_UNIX_NAME_MAX];
    size_t n = 99;
    CHECK_OK(polysock_getpeername_unix(cli, name, sizeof name, &n));
    CHECK_EQ(n, ABSTRACT_LEN);
    CHECK(memcmp(name, ABSTRACT, ABSTRACT_LEN) == 0);
    n = 99;
    polysock_t conn = polysock_accept_unix(srv, name, sizeof name, &n);
    CHECK(conn >= 0);
    CHECK_EQ(n, 0); /* the connecting socket has no name */
    CHECK_EQ(polysock_send(cli, "hi", 2, 0), 2);
    char buf[4];
    CHECK_EQ(polysock_recv(conn, buf, sizeof buf, 0), 2);
    /* The same name differs from the one cut at its first inner NUL. */
    polysock_t other = unix_socket(POLYSOCK_SOCK_STREAM);
    CHECK_ERR(polysock_connect(other, "@polysock", 0), ECONNREFUSED);
    polysock_close(other);
    polysock_close(conn);
    polysock_close(cli);
    polysock_close(srv);
}

TEST(path_that_is_not_utf8) {
    char dir[64], path[128];
    make_temp_dir(dir, "polysock-names");
    int n = snprintf(path, sizeof path, "%s/\xff\xfe-sock", dir);
    polysock_t srv = unix_socket(POLYSOCK_SOCK_STREAM);
    CHECK_ERR(polysock_bind(srv, path, 0), EINVAL); /* text must be UTF-8 */
    CHECK_OK(polysock_bind_unix(srv, path, (size_t)n));
    CHECK_OK(polysock_listen(srv, 1));
    check_own_name(srv, path, (size_t)n);
    struct stat st;
    CHECK_OK(stat(path, &st));
    CHECK(S_ISSOCK(st.st_mode));
    polysock_t cli = unix_socket(POLYSOCK_SOCK_STREAM);
    CHECK_OK(polysock_connect_unix(cli, path, (size_t)n));
    polysock_close(cli);
    polysock_close(srv);
    unlink(path);
}

TEST(datagrams_carry_the_sender_name) {
    static const char to[] = "\0polysock\0dgram-to", from[] = "\0polysock\0dgram-from";
    polysock_t rx = unix_socket(POLYSOCK_SOCK_DGRAM), tx = unix_socket(POLYSOCK_SOCK_DGRAM);
    CHECK_OK(polysock_bind_unix(rx, to, sizeof to - 1));
    CHECK_OK(polysock_bind_unix(tx, from, sizeof from - 1));
    CHECK_EQ(polysock_sendto_unix(tx, "one", 3, 0, to, sizeof to - 1), 3);
    CHECK_EQ(polysock_sendto_unix(tx, "two", 3, 0, to, sizeof to - 1), 3);
    char buf[8];
    unsigned char name[POLYSOCK_UNIX_NAME_MAX];
    size_t n = 0;
    CHECK_EQ(polysock_recvfrom_unix(rx, buf, sizeof buf, 0, name, sizeof name, &n), 3);
    CHECK_EQ(n, sizeof from - 1);
    CHECK(memcmp(name, from, n) == 0);
    /* A short buffer gets the name's first bytes and its whole length. */
    memset(name, 'x', sizeof name);
    CHECK_EQ(polysock_recvfrom_unix(rx, buf, sizeof buf, 0, name, 4, &n), 3);
    CHECK_EQ(n, sizeof from - 1);
    CHECK(memcmp(name, from, 4) == 0 && name[4] == 'x');
    /* An unnamed sender; no name wanted. */
    polysock_t anon = unix_socket(POLYSOCK_SOCK_DGRAM);
    CHECK_EQ(polysock_sendto_unix(anon, "3", 1, 0, to, sizeof to - 1), 1);
    CHECK_EQ(polysock_recvfrom_unix(rx, buf, sizeof buf, 0, name, sizeof name, &n), 1);
    CHECK_EQ(n, 0);
    CHECK_EQ(polysock_sendto_unix(anon, "4", 1, 0, to, sizeof to - 1), 1);
    CHECK_EQ(polysock_recvfrom_unix(rx, buf, sizeof buf, 0, NULL, 0, NULL), 1);
    polysock_close(anon);
    polysock_close(tx);
    polysock_close(rx);
}

TEST(empty_name_autobinds) {
    polysock_t s = unix_socket(POLYSOCK_SOCK_DGRAM);
    CHECK_OK(polysock_bind_unix(s, NULL, 0));
    unsigned char name[POLYSOCK_UNIX_NAME_MAX];
    size_t n = 0;
    CHECK_OK(polysock_getsockname_unix(s, name, sizeof name, &n));
    CHECK(n > 1 && name[0] == 0);
    polysock_close(s);
}

TEST(longest_names) {
    unsigned char name[POLYSOCK_UNIX_NAME_MAX + 1];
    memset(name, 'n', sizeof name);
    name[0] = 0;
    polysock_t s = unix_socket(POLYSOCK_SOCK_DGRAM);
    CHECK_ERR(polysock_bind_unix(s, name, POLYSOCK_UNIX_NAME_MAX + 1), ENAMETOOLONG);
    CHECK(strstr(polysock_last_error(), "at most 108 bytes") != NULL);
    CHECK_OK(polysock_bind_unix(s, name, POLYSOCK_UNIX_NAME_MAX));
    check_own_name(s, name, POLYSOCK_UNIX_NAME_MAX);
    polysock_close(s);
    name[0] = '/';
    s = unix_socket(POLYSOCK_SOCK_DGRAM);
    CHECK_ERR(polysock_bind_unix(s, name, POLYSOCK_UNIX_NAME_MAX), ENAMETOOLONG);
    CHECK(strstr(polysock_last_error(), "at most 107 bytes") != NULL);
    polysock_close(s);
}

TEST(bad_names_are_clear_errors) {
    polysock_t s = unix_socket(POLYSOCK_SOCK_STREAM);
    CHECK_ERR(polysock_bind_unix(s, "/tmp/a\0b", 8), EINVAL);
    CHECK(strstr(polysock_last_error(), "cannot hold a NUL") != NULL);
    CHECK(strstr(polysock_last_error(), "/tmp/a\\x00b") != NULL);
    CHECK_ERR(polysock_bind_unix(s, NULL, 3), EINVAL);
    CHECK_ERR(polysock_connect_unix(s, "", 0), EINVAL);
    CHECK_ERR(polysock_sendto_unix(s, "x", 1, 0, NULL, 0), EINVAL);
    unsigned char name[8];
    size_t n;
    CHECK_ERR(polysock_getsockname_unix(s, name, sizeof name, NULL), EINVAL);
    CHECK_ERR(polysock_getsockname_unix(s, NULL, 8, &n), EINVAL);
    CHECK_ERR(polysock_getpeername_unix(s, name, sizeof name, &n), ENOTCONN);
    CHECK_ERR(polysock_accept_unix(s, NULL, 4, &n), EINVAL);
    char buf[4];
    CHECK_ERR(polysock_recvfrom_unix(s, buf, 0, 0, name, sizeof name, &n), EINVAL);
    polysock_close(s);
    CHECK_ERR(polysock_bind_unix(s, ABSTRACT, ABSTRACT_LEN), EBADF);
    CHECK_ERR(polysock_getsockname_unix(s, name, sizeof name, &n), EBADF);
    polysock_t tcp = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_ERR(polysock_bind_unix(tcp, ABSTRACT, ABSTRACT_LEN), EAFNOSUPPORT);
    CHECK_ERR(polysock_connect_unix(tcp, ABSTRACT, ABSTRACT_LEN), EAFNOSUPPORT);
    CHECK_ERR(polysock_sendto_unix(tcp, "x", 1, 0, ABSTRACT, ABSTRACT_LEN), EAFNOSUPPORT);
    CHECK_ERR(polysock_getsockname_unix(tcp, name, sizeof name, &n), EAFNOSUPPORT);
    CHECK_ERR(polysock_getpeername_unix(tcp, name, sizeof name, &n), EAFNOSUPPORT);
    CHECK_ERR(polysock_accept_unix(tcp, name, sizeof name, &n), EAFNOSUPPORT);
    CHECK_ERR(polysock_recvfrom_unix(tcp, buf, sizeof buf, 0, name, sizeof name, &n),
              EAFNOSUPPORT);
    polysock_close(tcp);
}
