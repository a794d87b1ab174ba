/* The resolver, from C: getaddrinfo into a caller's array, getnameinfo,
 * host/service/protocol databases, inet_pton/ntop, interfaces.
 *
 * Never a DNS query: only numeric hosts, "localhost" (from /etc/hosts),
 * names the resolver rejects by itself ("bad..name", "not a host!"), and
 * service names from /etc/services. */
#include "harness.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

static int have_services(void) {
    if (access("/etc/services", R_OK) == 0) return 1;
    printf("  skipped part: /etc/services is missing (Debian package netbase)\n");
    return 0;
}

TEST(getaddrinfo_numeric_hosts) {
    polysock_addrinfo res[4];
    size_t n = 99;
    CHECK_EQ(polysock_getaddrinfo("127.0.0.1", "8080", 0, POLYSOCK_SOCK_STREAM, 0, 0,
                                  res, 4, &n), 1);
    CHECK_EQ(n, 1);
    CHECK_EQ(res[0].family, POLYSOCK_AF_INET);
    CHECK_EQ(res[0].socktype, POLYSOCK_SOCK_STREAM);
    CHECK_EQ(res[0].protocol, POLYSOCK_IPPROTO_TCP);
    CHECK_STR(res[0].addr.host, "127.0.0.1");
    CHECK_EQ(res[0].addr.port, 8080);
    CHECK_STR(res[0].canonname, "");
    /* IPv6, with or without brackets. */
    CHECK_EQ(polysock_getaddrinfo("[::1]", "9", 0, POLYSOCK_SOCK_STREAM, 0, 0, res, 4, &n), 1);
    CHECK_EQ(res[0].family, POLYSOCK_AF_INET6);
    CHECK_STR(res[0].addr.host, "::1");
    CHECK_EQ(res[0].addr.port, 9);
    /* Passive, no host: the any address. */
    CHECK_EQ(polysock_getaddrinfo(NULL, "5000", POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0,
                                  POLYSOCK_AI_PASSIVE, res, 4, NULL), 1);
    CHECK_STR(res[0].addr.host, "::");
    /* A v4 literal for AF_INET6 with AI_V4MAPPED. */
    CHECK_EQ(polysock_getaddrinfo("127.0.0.1", "1", POLYSOCK_AF_INET6, POLYSOCK_SOCK_STREAM, 0,
                                  POLYSOCK_AI_V4MAPPED, res, 4, NULL), 1);
    CHECK_STR(res[0].addr.host, "::ffff:127.0.0.1");
}

/* The return value is the total, so a caller can count first or retry
 * with a bigger array; only min(total, capacity) entries are written. */
TEST(getaddrinfo_counts_and_capacity) {
    size_t n = 99;
    long long total = polysock_getaddrinfo("127.0.0.1", "80", 0, 0, 0, 0, NULL, 0, &n);
    CHECK(total >= 2); /* one per socket type */
    CHECK_EQ(n, 0);
    polysock_addrinfo one[2];
    memset(one, 'X', sizeof one);
    CHECK_EQ(polysock_getaddrinfo("127.0.0.1", "80", 0, 0, 0, 0, one, 1, &n), total);
    CHECK_EQ(n, 1);
    CHECK_STR(one[0].addr.host, "127.0.0.1");
    CHECK_EQ(((unsigned char *)&one[1])[0], 'X'); /* never past capacity */
    polysock_addrinfo *all = calloc((size_t)total, sizeof *all);
    CHECK_EQ(polysock_getaddrinfo("127.0.0.1", "80", 0, 0, 0, 0, all, (size_t)total, &n), total);
    CHECK_EQ(n, (size_t)total);
    int dgram = 0;
    for (size_t i = 0; i < n; i++) dgram |= all[i].socktype == POLYSOCK_SOCK_DGRAM;
    CHECK(dgram);
    free(all);
}

TEST(getaddrinfo_localhost_and_canonname) {
    polysock_addrinfo res[8];
    size_t n;
    CHECK(polysock_getaddrinfo("localhost", NULL, POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0,
                               POLYSOCK_AI_CANONNAME, res, 8, &n) >= 1);
    CHECK_STR(res[0].addr.host, "127.0.0.1");
    CHECK_STR(res[0].canonname, "localhost");
}

TEST(getaddrinfo_service_names) {
    if (!have_services()) return;
    polysock_addrinfo res[4];
    CHECK(polysock_getaddrinfo("127.0.0.1", "http", 0, POLYSOCK_SOCK_STREAM, 0, 0, res, 4,
                               NULL) >= 1);
    CHECK_EQ(res[0].addr.port, 80);
    CHECK_ERR(polysock_getaddrinfo("127.0.0.1", "no-such-service", 0, POLYSOCK_SOCK_STREAM, 0,
                                   0, res, 4, NULL), POLYSOCK_EAI_SERVICE);
    CHECK(strstr(polysock_last_error(), "service no-such-service") != NULL);
}

TEST(getaddrinfo_errors_are_resolver_codes) {
    polysock_addrinfo res[4];
    size_t n = 77;
    CHECK_ERR(polysock_getaddrinfo("bad..name", NULL, 0, POLYSOCK_SOCK_STREAM, 0, 0, res, 4, &n),
              POLYSOCK_EAI_NONAME);
    CHECK_STR(polysock_last_error(), "getaddrinfo bad..name: Name or service not known");
    CHECK_EQ(n, 77); /* outputs untouched on failure */
    CHECK_STR(polysock_errname(POLYSOCK_EAI_NONAME), "EAI_NONAME");
    CHECK_STR(polysock_strerror(POLYSOCK_EAI_NONAME), "Name or service not known");
    CHECK_ERR(polysock_getaddrinfo("not a host!", "80", 0, 0, 0, 0, res, 4, &n),
              POLYSOCK_EAI_NONAME);
    CHECK_ERR(polysock_getaddrinfo(NULL, NULL, 0, 0, 0, 0, res, 4, &n), POLYSOCK_EAI_NONAME);
    CHECK_ERR(polysock_getaddrinfo("127.0.0.1", NULL, 12345, 0, 0, 0, res, 4, &n),
              POLYSOCK_EAI_FAMILY);
    CHECK_ERR(polysock_getaddrinfo("127.0.0.1", NULL, 0, 0, 0, 0x40000000, res, 4, &n),
              POLYSOCK_EAI_BADFLAGS);
    CHECK_ERR(polysock_getaddrinfo("localhost", NULL, 0, 0, 0, POLYSOCK_AI_NUMERICHOST, res, 4,
                                   &n), POLYSOCK_EAI_NONAME);
    CHECK_ERR(polysock_getaddrinfo("127.0.0.1", NULL, 0, 0, 0, 0, NULL, 4, &n), EINVAL);
    CHECK(strstr(polysock_last_error(), "out is NULL but capacity is 4") != NULL);
    CHECK_ERR(polysock_getaddrinfo("127.0.0.1", NULL, 0, 0, 0, 0, res, (size_t)-1, &n), EINVAL);
    CHECK_ERR(polysock_getaddrinfo("\xff\xfe", NULL, 0, 0, 0, 0, res, 4, &n), EINVAL);
}

TEST(getaddrinfo_with_a_deadline) {
    polysock_addrinfo res[4];
    size_t n;
    CHECK_EQ(polysock_getaddrinfo_timeout("::1", "7", 0, POLYSOCK_SOCK_STREAM, 0, 0, 1000, res,
                                          4, &n), 1);
    CHECK_STR(res[0].addr.host, "::1");
    CHECK(polysock_getaddrinfo_timeout("localhost", NULL, POLYSOCK_AF_INET,
                                       POLYSOCK_SOCK_STREAM, 0, 0, 5000, res, 4, &n) >= 1);
    CHECK_STR(res[0].addr.host, "127.0.0.1");
    CHECK(polysock_getaddrinfo_timeout("localhost", NULL, POLYSOCK_AF_INET,
                                       POLYSOCK_SOCK_STREAM, 0, 0, -1, res, 4, &n) >= 1);
    CHECK_ERR(polysock_getaddrinfo_timeout("bad..name", NULL, 0, 0, 0, 0, 5000, res, 4, &n),
              POLYSOCK_EAI_NONAME);
    CHECK_ERR(polysock_getaddrinfo_timeout("::1", NULL, 0, 0, 0, 0, 0, res, 4, &n), EINVAL);
    CHECK(strstr(polysock_last_error(), "timeout 0 ms is invalid") != NULL);
    CHECK_ERR(polysock_getaddrinfo_timeout("::1", NULL, 0, 0, 0, 0, -7, res, 4, &n), EINVAL);
}

static polysock_addr loopback_80(void) {
    polysock_addrinfo res[1];
    CHECK(polysock_getaddrinfo("127.0.0.1", "80", POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0, 0,
                               res, 1, NULL) >= 1);
    return res[0].addr;
}

TEST(getnameinfo_numeric_and_names) {
    polysock_addr a = loopback_80();
    char host[POLYSOCK_NI_MAXHOST], serv[32];
    CHECK_OK(polysock_getnameinfo(&a, POLYSOCK_NI_NUMERICHOST | POLYSOCK_NI_NUMERICSERV,
                                  host, sizeof host, serv, sizeof serv));
    CHECK_STR(host, "127.0.0.1");
    CHECK_STR(serv, "80");
    /* The reverse name comes from /etc/hosts. */
    CHECK_OK(polysock_getnameinfo(&a, POLYSOCK_NI_NUMERICSERV, host, sizeof host, NULL, 0));
    CHECK_STR(host, "localhost");
    if (have_services()) {
        CHECK_OK(polysock_getnameinfo(&a, POLYSOCK_NI_NUMERICHOST, NULL, 0, serv, sizeof serv));
        CHECK_STR(serv, "http");
    }
    /* An accepted peer's address goes straight in. */
    int port;
    polysock_t srv = listen_tcp(POLYSOCK_AF_INET6, "::1", &port);
    polysock_t c = polysock_create_connection("::1", port, 5000, NULL, 0);
    CHECK_OK(c);
    polysock_addr peer;
    polysock_t s = polysock_accept(srv, &peer);
    CHECK_OK(s);
    CHECK_OK(polysock_getnameinfo(&peer, POLYSOCK_NI_NUMERICHOST | POLYSOCK_NI_NUMERICSERV,
                                  host, sizeof host, serv, sizeof serv));
    CHECK_STR(host, "::1");
    CHECK_EQ(atoi(serv), peer.port);
    polysock_close(c);
    polysock_close(s);
    polysock_close(srv);
}

TEST(getnameinfo_bad_input) {
    polysock_addr a = loopback_80();
    char host[64], small[4];
    memset(small, 'X', sizeof small);
    CHECK_ERR(polysock_getnameinfo(&a, POLYSOCK_NI_NUMERICHOST, small, sizeof small, NULL, 0),
              ERANGE);
    CHECK_STR(polysock_last_error(),
              "getnameinfo: host buffer of 4 bytes is too small (10 bytes needed): "
              "Numerical result out of range");
    CHECK(memcmp(small, "XXXX", 4) == 0); /* nothing written */
    CHECK_ERR(polysock_getnameinfo(NULL, 0, host, sizeof host, NULL, 0), EINVAL);
    CHECK_ERR(polysock_getnameinfo(&a, 0, NULL, 0, NULL, 0), EINVAL);
    polysock_addr named = a;
    strcpy(named.host, "localhost");
    CHECK_ERR(polysock_getnameinfo(&named, 0, host, sizeof host, NULL, 0), POLYSOCK_EAI_NONAME);
    CHECK(strstr(polysock_last_error(), "must be a numeric address") != NULL);
    polysock_addr unix_addr = a;
    unix_addr.family = POLYSOCK_AF_UNIX;
    CHECK_ERR(polysock_getnameinfo(&unix_addr, 0, host, sizeof host, NULL, 0),
              POLYSOCK_EAI_FAMILY);
    polysock_addr unterminated = a;
    memset(unterminated.host, 'a', sizeof unterminated.host);
    CHECK_ERR(polysock_getnameinfo(&unterminated, 0, host, sizeof host, NULL, 0), EINVAL);
}

TEST(host_entries) {
    char ip[16], name[256], aliases[256], addrs[256];
    CHECK_OK(polysock_gethostbyname("localhost", ip, sizeof ip));
    CHECK_STR(ip, "127.0.0.1");
    CHECK_OK(polysock_gethostbyname("127.0.0.1", ip, sizeof ip));
    CHECK_STR(ip, "127.0.0.1");

    memset(aliases, 'X', sizeof aliases);
    CHECK_OK(polysock_gethostbyname_ex("localhost", name, sizeof name, aliases, sizeof aliases,
                                       addrs, sizeof addrs));
    CHECK_STR(name, "localhost");
    CHECK_EQ(aliases[0], '\0');                       /* an empty list: "\0" */
    CHECK(memcmp(addrs, "127.0.0.1\0\0", 11) == 0);   /* "a\0\0" */
    /* Outputs that are not wanted may be NULL. */
    CHECK_OK(polysock_gethostbyname_ex("localhost", NULL, 0, NULL, 0, addrs, sizeof addrs));

    CHECK_OK(polysock_gethostbyaddr("127.0.0.1", name, sizeof name, aliases, sizeof aliases,
                                    addrs, sizeof addrs));
    CHECK_STR(name, "localhost");
    CHECK(memcmp(addrs, "127.0.0.1\0\0", 11) == 0);

    CHECK_OK(polysock_gethostname(name, sizeof name));
    CHECK(name[0] != '\0');
    char sys[256];
    CHECK_EQ(gethostname(sys, sizeof sys), 0);
    CHECK_STR(name, sys);
    CHECK_OK(polysock_getfqdn("localhost", name, sizeof name));
    CHECK_STR(name, "localhost");
    CHECK_OK(polysock_getfqdn("127.0.0.1", name, sizeof name));
    CHECK_STR(name, "localhost");
    /* getfqdn never fails a lookup: the name comes back as it was. */
    CHECK_OK(polysock_getfqdn("bad..name", name, sizeof name));
    CHECK_STR(name, "bad..name");
}

TEST(host_entries_errors) {
    char buf[64], tiny[4];
    memset(tiny, 'X', sizeof tiny);
    CHECK_ERR(polysock_gethostbyname("localhost", tiny, sizeof tiny), ERANGE);
    CHECK(strstr(polysock_last_error(), "(10 bytes needed)") != NULL);
    CHECK(memcmp(tiny, "XXXX", 4) == 0);
    CHECK_ERR(polysock_gethostbyname("bad..name", buf, sizeof buf), POLYSOCK_EAI_NONAME);
    CHECK_STR(polysock_last_error(), "gethostbyname bad..name: Name or service not known");
    CHECK_ERR(polysock_gethostbyname(NULL, buf, sizeof buf), EINVAL);
    CHECK_ERR(polysock_gethostbyname("localhost", NULL, 16), EINVAL);
    CHECK_ERR(polysock_gethostbyname_ex("bad..name", buf, sizeof buf, NULL, 0, NULL, 0),
              POLYSOCK_EAI_NONAME);
    CHECK_ERR(polysock_gethostbyname_ex("not a host!", buf, sizeof buf, NULL, 0, NULL, 0),
              POLYSOCK_EAI_NONAME);
    memset(buf, 'X', sizeof buf);
    CHECK_ERR(polysock_gethostbyname_ex("localhost", buf, sizeof buf, NULL, 0, tiny, 4), ERANGE);
    CHECK(strstr(polysock_last_error(), "addresses buffer of 4 bytes") != NULL);
    CHECK_EQ(buf[0], 'X'); /* nothing written, not even the name that fit */
    CHECK_ERR(polysock_gethostbyaddr("bad..name", buf, sizeof buf, NULL, 0, NULL, 0),
              POLYSOCK_EAI_NONAME);
    CHECK_ERR(polysock_gethostbyaddr(NULL, buf, sizeof buf, NULL, 0, NULL, 0), EINVAL);
    CHECK_ERR(polysock_gethostname(tiny, 1), ERANGE);
    CHECK_ERR(polysock_gethostname(NULL, 10), EINVAL);
    CHECK_ERR(polysock_getfqdn("localhost", tiny, 3), ERANGE);
}

TEST(services_and_protocols) {
    CHECK_EQ(polysock_getprotobyname("tcp"), POLYSOCK_IPPROTO_TCP);
    CHECK_EQ(polysock_getprotobyname("udp"), POLYSOCK_IPPROTO_UDP);
    CHECK_ERR(polysock_getprotobyname("no-such-proto"), POLYSOCK_EAI_NONAME);
    CHECK_STR(polysock_last_error(),
              "getprotobyname no-such-proto: no such protocol: Name or service not known");
    CHECK_ERR(polysock_getprotobyname(NULL), EINVAL);
    if (!have_services()) return;
    CHECK_EQ(polysock_getservbyname("http", "tcp"), 80);
    CHECK_EQ(polysock_getservbyname("domain", NULL), 53);
    char name[32], tiny[2];
    CHECK_OK(polysock_getservbyport(80, "tcp", name, sizeof name));
    CHECK_STR(name, "http");
    CHECK_OK(polysock_getservbyport(22, NULL, name, sizeof name));
    CHECK_STR(name, "ssh");
    CHECK_ERR(polysock_getservbyname("no-such-service", "tcp"), POLYSOCK_EAI_SERVICE);
    CHECK(strstr(polysock_last_error(), "no-such-service/tcp") != NULL);
    CHECK_ERR(polysock_getservbyport(65000, "tcp", name, sizeof name), POLYSOCK_EAI_SERVICE);
    CHECK_ERR(polysock_getservbyport(70000, "tcp", name, sizeof name), EINVAL);
    CHECK_ERR(polysock_getservbyport(80, "tcp", tiny, sizeof tiny), ERANGE);
    CHECK_ERR(polysock_getservbyport(80, "tcp", NULL, 0), EINVAL);
    CHECK_ERR(polysock_getservbyname(NULL, "tcp"), EINVAL);
}

TEST(inet_pton_and_ntop) {
    unsigned char b[16], want[16];
    CHECK_EQ(polysock_inet_pton(POLYSOCK_AF_INET, "10.1.2.3", b, sizeof b), 4);
    CHECK_EQ(inet_pton(AF_INET, "10.1.2.3", want), 1);
    CHECK(memcmp(b, want, 4) == 0);
    CHECK_EQ(polysock_inet_pton(POLYSOCK_AF_INET6, "fe80::1:2", b, sizeof b), 16);
    CHECK_EQ(inet_pton(AF_INET6, "fe80::1:2", want), 1);
    CHECK(memcmp(b, want, 16) == 0);
    char text[64];
    CHECK_OK(polysock_inet_ntop(POLYSOCK_AF_INET6, b, 16, text, sizeof text));
    CHECK_STR(text, "fe80::1:2");
    CHECK_OK(polysock_inet_ntop(POLYSOCK_AF_INET, "\x7f\x00\x00\x01", 4, text, sizeof text));
    CHECK_STR(text, "127.0.0.1");
    /* Errors */
    CHECK_ERR(polysock_inet_pton(POLYSOCK_AF_INET, "1.2.3", b, sizeof b), EINVAL);
    CHECK_STR(polysock_last_error(), "inet_pton '1.2.3': not an IPv4 address: Invalid argument");
    CHECK_ERR(polysock_inet_pton(POLYSOCK_AF_INET, "::1", b, sizeof b), EINVAL);
    CHECK_ERR(polysock_inet_pton(POLYSOCK_AF_UNIX, "x", b, sizeof b), EAFNOSUPPORT);
    CHECK_ERR(polysock_inet_pton(POLYSOCK_AF_INET6, "::1", b, 4), ERANGE);
    CHECK_ERR(polysock_inet_pton(POLYSOCK_AF_INET, NULL, b, 4), EINVAL);
    CHECK_ERR(polysock_inet_ntop(POLYSOCK_AF_INET, b, 3, text, sizeof text), EINVAL);
    CHECK(strstr(polysock_last_error(), "3 bytes") != NULL);
    CHECK_ERR(polysock_inet_ntop(POLYSOCK_AF_INET6, b, 16, text, 4), ERANGE);
    CHECK_ERR(polysock_inet_ntop(POLYSOCK_AF_INET, NULL, 4, text, sizeof text), EINVAL);
    CHECK_ERR(polysock_inet_ntop(12345, b, 4, text, sizeof text), EAFNOSUPPORT);
}

TEST(has_ipv6_matches_the_system) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK_EQ(polysock_has_ipv6(), fd >= 0);
    if (fd >= 0) close(fd);
}

TEST(interfaces) {
    size_t n = 99;
    long long total = polysock_if_nameindex(NULL, 0, &n);
    CHECK(total >= 1);
    CHECK_EQ(n, 0);
    polysock_interface *all = calloc((size_t)total, sizeof *all);
    CHECK_EQ(polysock_if_nameindex(all, (size_t)total, &n), total);
    CHECK_EQ(n, (size_t)total);
    long long lo = -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].name, "lo") == 0) lo = all[i].index;
    CHECK(lo > 0);
    CHECK_EQ(polysock_if_nametoindex("lo"), lo);
    CHECK_EQ(if_nametoindex("lo"), (unsigned)lo);
    char name[POLYSOCK_IFNAME_LEN], tiny[2];
    CHECK_OK(polysock_if_indextoname((uint32_t)lo, name, sizeof name));
    CHECK_STR(name, "lo");
    CHECK_ERR(polysock_if_nametoindex("nosuchif0"), ENODEV);
    CHECK_STR(polysock_last_error(),
              "if_nametoindex nosuchif0: no interface with this name: No such device");
    CHECK_ERR(polysock_if_nametoindex(NULL), EINVAL);
    CHECK_ERR(polysock_if_indextoname(0, name, sizeof name), ENXIO);
    CHECK_ERR(polysock_if_indextoname((uint32_t)lo, tiny, sizeof tiny), ERANGE);
    CHECK_ERR(polysock_if_nameindex(NULL, 3, &n), EINVAL);
    free(all);
}
