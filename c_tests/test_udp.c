/* UDP segmentation offload over loopback: polysock_send_segments puts
 * datagrams on the wire with the sender's boundaries and bytes (checked by
 * a checksum of each), polysock_recv_segments with polysock_udp_gro takes
 * them coalesced with their size, and every bad input fails clearly. */
#include "harness.h"
#include <sys/mman.h>

enum { SEG = 1200 };

/* FNV-1a over one datagram. */
static uint64_t fnv(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 131 + i / SEG + seed);
}

TEST(segments_keep_boundaries_and_contents) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    static unsigned char data[40 * SEG + 99], buf[2 * SEG];
    fill(data, sizeof data, 7);
    CHECK_EQ(polysock_send_segments(s, data, sizeof data, SEG, 0, "127.0.0.1", rport), sizeof data);
    for (size_t off = 0, i = 0; off < sizeof data; off += SEG, i++) {
        size_t want = sizeof data - off < SEG ? sizeof data - off : SEG;
        polysock_addr from;
        int64_t n = polysock_recvfrom(r, buf, sizeof buf, 0, &from);
        if (n != (int64_t)want) FAIL_("datagram %zu: %lld bytes, expected %zu", i, (long long)n, want);
        CHECK_EQ(fnv(buf, (size_t)n), fnv(data + off, want));
        CHECK_EQ(from.port, sport);
    }
    /* Nothing more: exactly the datagrams that were cut. */
    CHECK_ERR(polysock_recvfrom(r, buf, sizeof buf, POLYSOCK_MSG_DONTWAIT, NULL), EAGAIN);
    polysock_close(r);
    polysock_close(s);
}

TEST(gro_receives_them_coalesced_with_their_size) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    CHECK_OK(polysock_udp_gro(r, 1));
    CHECK_OK(polysock_connect(s, "127.0.0.1", rport));
    enum { PER = 54, BATCHES = 4 };
    static unsigned char data[BATCHES][PER * SEG], buf[POLYSOCK_UDP_GRO_BUFFER];
    int got = 0, receives = 0;
    /* One batch at a time: four would overflow the default receive buffer. */
    for (int b = 0; b < BATCHES; b++) {
        fill(data[b], sizeof data[b], (unsigned)b);
        CHECK_EQ(polysock_send_segments(s, data[b], sizeof data[b], SEG, 0, NULL, 0), sizeof data[b]);
        while (got < PER * (b + 1)) {
            size_t seg = 0;
            int flags = -1;
            polysock_addr from;
            int64_t n = polysock_recv_segments(r, buf, sizeof buf, 0, &seg, &flags, &from);
            CHECK_OK(n);
            CHECK_EQ(seg, SEG);
            CHECK_EQ(flags & POLYSOCK_MSG_TRUNC, 0);
            CHECK_EQ(from.port, sport);
            CHECK_EQ(n % SEG, 0);
            receives++;
            for (int64_t off = 0; off < n; off += SEG, got++) {
                const unsigned char *want = data[got / PER] + (size_t)(got % PER) * SEG;
                if (fnv(buf + off, SEG) != fnv(want, SEG)) FAIL_("datagram %d differs", got);
            }
        }
    }
    CHECK_EQ(got, PER * BATCHES);
    CHECK(receives < got); /* coalesced, not one by one */
    polysock_close(r);
    polysock_close(s);
}

TEST(plain_datagrams_are_one_segment_each) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    unsigned char buf[64];
    size_t seg = 0;
    CHECK_EQ(polysock_send_segments(s, "hello", 5, SEG, 0, "127.0.0.1", rport), 5);
    CHECK_EQ(polysock_send_segments(s, "", 0, 1, 0, "127.0.0.1", rport), 0);
    CHECK_EQ(polysock_recv_segments(r, buf, sizeof buf, 0, &seg, NULL, NULL), 5);
    CHECK_EQ(seg, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(polysock_recv_segments(r, buf, sizeof buf, 0, &seg, NULL, NULL), 0);
    CHECK_EQ(seg, 0);
    /* A buffer too short: cut, and said so. */
    int flags = 0;
    CHECK_EQ(polysock_sendto(s, "0123456789", 10, 0, "127.0.0.1", rport), 10);
    CHECK_EQ(polysock_recv_segments(r, buf, 4, 0, &seg, &flags, NULL), 4);
    CHECK(flags & POLYSOCK_MSG_TRUNC);
    polysock_close(r);
    polysock_close(s);
}

TEST(bad_input_fails_clearly) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    static unsigned char big[POLYSOCK_UDP_MAX_PAYLOAD + 1];
    const char *lo = "127.0.0.1";
    CHECK_ERR(polysock_send_segments(s, big, 100, 0, 0, lo, rport), EINVAL);
    CHECK(strstr(polysock_last_error(), "segment size is 0"));
    CHECK_ERR(polysock_send_segments(s, big, 100, POLYSOCK_UDP_MAX_PAYLOAD + 1, 0, lo, rport), EMSGSIZE);
    CHECK_ERR(polysock_send_segments(s, big, sizeof big, SEG, 0, lo, rport), EMSGSIZE);
    CHECK_ERR(polysock_send_segments(s, big, (POLYSOCK_UDP_MAX_SEGMENTS + 1) * 10, 10, 0, lo, rport), EINVAL);
    CHECK(strstr(polysock_last_error(), "65 datagrams"));
    CHECK_ERR(polysock_send_segments(s, NULL, 10, 5, 0, lo, rport), EINVAL);
    CHECK_ERR(polysock_send_segments(s, big, (size_t)-1, 5, 0, lo, rport), EINVAL);
    CHECK_ERR(polysock_send_segments(s, big, 10, 5, 0, lo, 70000), EINVAL);
    CHECK_ERR(polysock_send_segments(s, big, 10, 5, 0, NULL, 0), EDESTADDRREQ);
    CHECK_ERR(polysock_send_segments(-5, big, 10, 5, 0, lo, rport), EBADF);
    /* The exact limits themselves are fine. */
    CHECK_EQ(polysock_send_segments(s, big, POLYSOCK_UDP_MAX_SEGMENTS * 10, 10, 0, lo, rport),
             POLYSOCK_UDP_MAX_SEGMENTS * 10);
    CHECK_EQ(polysock_send_segments(s, big, POLYSOCK_UDP_MAX_PAYLOAD, POLYSOCK_UDP_MAX_PAYLOAD, 0, lo, rport),
             POLYSOCK_UDP_MAX_PAYLOAD);

    size_t seg;
    unsigned char buf[16];
    CHECK_ERR(polysock_recv_segments(r, buf, sizeof buf, 0, NULL, NULL, NULL), EINVAL);
    CHECK_ERR(polysock_recv_segments(r, buf, 0, 0, &seg, NULL, NULL), EINVAL);
    CHECK_ERR(polysock_recv_segments(r, NULL, 16, 0, &seg, NULL, NULL), EINVAL);
    CHECK_ERR(polysock_recv_segments(-5, buf, sizeof buf, 0, &seg, NULL, NULL), EBADF);
    polysock_close(r);
    r = udp(&rport);
    CHECK_OK(polysock_settimeout(r, 0));
    CHECK_ERR(polysock_recv_segments(r, buf, sizeof buf, 0, &seg, NULL, NULL), EAGAIN);

    polysock_t t = polysock_socket(POLYSOCK_AF_INET, POLYSOCK_SOCK_STREAM, 0);
    CHECK_OK(t);
    CHECK_ERR(polysock_send_segments(t, big, 10, 5, 0, NULL, 0), EOPNOTSUPP);
    CHECK_ERR(polysock_recv_segments(t, buf, sizeof buf, 0, &seg, NULL, NULL), EOPNOTSUPP);
    CHECK_ERR(polysock_udp_gro(t, 1), EOPNOTSUPP);
    CHECK_ERR(polysock_udp_gro(-5, 1), EBADF);
    polysock_close(t);
    polysock_close(r);
    polysock_close(s);
}

/* ---- polysock_sendto's IPv4-literal path (remembered literal, own parser) ---- */

/* One datagram on `r` from `s`'s port, or -1 when none comes within `ms`. */
static int64_t recv_tag(polysock_t r, int ms, int from_port) {
    unsigned char buf[8];
    polysock_pollfd p = {r, POLYSOCK_POLLIN, 0};
    if (polysock_poll(&p, 1, ms) != 1) return -1;
    polysock_addr from;
    int64_t n = polysock_recvfrom(r, buf, sizeof buf, 0, &from);
    CHECK_EQ(n, 1);
    CHECK_EQ(from.port, from_port);
    return buf[0];
}

TEST(sendto_literals_reach_their_own_address) {
    /* Receivers on four loopback addresses whose texts are 9, 10 and 15
     * bytes long (the parser's word compares: 8 + 8 overlapping bytes). */
    static const char *hosts[] = {"127.0.0.2", "127.0.0.3", "127.0.0.12", "127.255.255.254"};
    enum { N = 4 };
    polysock_t r[N];
    int port[N], sport, s2port;
    for (int i = 0; i < N; i++) r[i] = udp_at(POLYSOCK_AF_INET, hosts[i], &port[i]);
    polysock_t s = udp(&sport), s2 = udp(&s2port);
    /* The same literal twice, then others, then the first again; texts
     * that share their first 8 bytes ("127.0.0.") and their length; a
     * second socket in between (a remembered literal is not another's). */
    static const int order[] = {0, 0, 1, 0, 2, 3, 3, 1, 2, 0};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        int i = order[k];
        unsigned char tag = (unsigned char)(k + 1);
        CHECK_EQ(polysock_sendto(s, &tag, 1, 0, hosts[i], port[i]), 1);
        CHECK_EQ(recv_tag(r[i], 2000, sport), tag);
        /* The other socket to another address. */
        int j = (i + 1) % N;
        CHECK_EQ(polysock_sendto(s2, &tag, 1, 0, hosts[j], port[j]), 1);
        CHECK_EQ(recv_tag(r[j], 2000, s2port), tag);
    }
    /* The port is taken each time, not remembered with the address. */
    int other;
    polysock_t r2 = udp_at(POLYSOCK_AF_INET, "127.0.0.2", &other);
    CHECK_EQ(polysock_sendto(s, "x", 1, 0, "127.0.0.2", other), 1);
    CHECK_EQ(recv_tag(r2, 2000, sport), 'x');
    CHECK_EQ(polysock_sendto(s, "y", 1, 0, "127.0.0.2", port[0]), 1);
    CHECK_EQ(recv_tag(r[0], 2000, sport), 'y');
    /* A name that is not a literal is resolved, between literals. */
    int lport;
    polysock_t lr = udp(&lport);
    CHECK_EQ(polysock_sendto(s, "n", 1, 0, "localhost", lport), 1);
    CHECK_EQ(recv_tag(lr, 2000, sport), 'n');
    CHECK_EQ(polysock_sendto(s, "z", 1, 0, hosts[1], port[1]), 1);
    CHECK_EQ(recv_tag(r[1], 2000, sport), 'z');
    /* Nothing arrived anywhere twice or astray. */
    for (int i = 0; i < N; i++) CHECK_EQ(recv_tag(r[i], 0, sport), -1);
    CHECK_EQ(recv_tag(r2, 0, sport), -1);
    CHECK_EQ(recv_tag(lr, 0, sport), -1);
    for (int i = 0; i < N; i++) polysock_close(r[i]);
    polysock_close(r2);
    polysock_close(lr);
    polysock_close(s);
    polysock_close(s2);
}

TEST(sendto_texts_that_are_not_literals) {
    int rport, r10port, sport;
    polysock_t r = udp(&rport), r10 = udp_at(POLYSOCK_AF_INET, "127.0.0.10", &r10port);
    polysock_t s = udp(&sport);
    /* Out of range, too many or too few parts, trailing junk, a stray
     * NUL's worth of length (16 bytes): no literal, and the resolver
     * rejects each without a query. */
    static const char *bad[] = {
        "127.0.0.256", "127.0.0.1.1", "127.0.0.1!", "127.0.0.1..", "256.0.0.1",
        "127.255.255.2540", "1277.0.0.1", "127.0..1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (polysock_sendto(s, "b", 1, 0, bad[i], rport) != -1)
            FAIL_("sendto %s was sent", bad[i]);
        if (polysock_errno() != POLYSOCK_EAI_NONAME)
            FAIL_("sendto %s: %s, expected EAI_NONAME", bad[i], polysock_errname(polysock_errno()));
        CHECK(strstr(polysock_last_error(), bad[i]) != NULL);
    }
    /* A literal right after a rejected text (the remembered one intact). */
    CHECK_EQ(polysock_sendto(s, "a", 1, 0, "127.0.0.1", rport), 1);
    CHECK_EQ(recv_tag(r, 2000, sport), 'a');
    /* Leading zeros are not decimal octets: "127.0.0.010" is never
     * 127.0.0.10 (the system resolver, which reads it, decides where it
     * goes: polysock_getaddrinfo says the same as sendto). */
    polysock_addrinfo ai[2];
    size_t n = 0;
    int64_t g = polysock_getaddrinfo("127.0.0.010", NULL, POLYSOCK_AF_INET, POLYSOCK_SOCK_DGRAM,
                                     0, 0, ai, 2, &n);
    int64_t sent = polysock_sendto(s, "0", 1, 0, "127.0.0.010", r10port);
    if (g < 0) {
        CHECK_EQ(sent, -1);
    } else {
        CHECK(strcmp(ai[0].addr.host, "127.0.0.10") != 0);
    }
    CHECK_EQ(recv_tag(r10, 200, sport), -1);
    CHECK_EQ(polysock_sendto(s, "c", 1, 0, "127.0.0.10", r10port), 1);
    CHECK_EQ(recv_tag(r10, 2000, sport), 'c');
    /* Other bad arguments on the same path. */
    CHECK_ERR(polysock_sendto(s, "d", 1, 0, "127.0.0.1", 65536), EINVAL);
    CHECK_ERR(polysock_sendto(s, "d", 1, 0, "127.0.0.1", -1), EINVAL);
    CHECK_ERR(polysock_sendto(s, "d", 1, 0, "\xff.0.0.1", rport), EINVAL);
    CHECK_ERR(polysock_sendto(s, NULL, 1, 0, "127.0.0.1", rport), EINVAL);
    CHECK_ERR(polysock_sendto(s, "d", 1, 0, "::1", rport), EAFNOSUPPORT);
    CHECK_ERR(polysock_sendto(-5, "d", 1, 0, "127.0.0.1", rport), EBADF);
    /* An empty datagram goes too. */
    CHECK_EQ(polysock_sendto(s, NULL, 0, 0, "127.0.0.1", rport), 0);
    unsigned char buf[4];
    CHECK_EQ(polysock_recvfrom(r, buf, sizeof buf, 0, NULL), 0);
    polysock_close(r);
    polysock_close(r10);
    polysock_close(s);
}

TEST(sendto_an_ipv4_literal_from_an_ipv6_socket) {
    int rport;
    polysock_t r = udp(&rport);
    polysock_t s6 = polysock_socket(POLYSOCK_AF_INET6, POLYSOCK_SOCK_DGRAM, 0);
    CHECK_OK(s6);
    CHECK_OK(polysock_setopt(s6, POLYSOCK_OPT_V6ONLY, 0));
    CHECK_OK(polysock_bind(s6, "::", 0));
    polysock_addr me;
    CHECK_OK(polysock_getsockname(s6, &me));
    /* Twice: the literal remembered from the first send goes mapped too. */
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(polysock_sendto(s6, "6", 1, 0, "127.0.0.1", rport), 1);
        CHECK_EQ(recv_tag(r, 2000, me.port), '6');
    }
    /* Then from an AF_INET socket to the same literal, and back. */
    int sport;
    polysock_t s = udp(&sport);
    CHECK_EQ(polysock_sendto(s, "4", 1, 0, "127.0.0.1", rport), 1);
    CHECK_EQ(recv_tag(r, 2000, sport), '4');
    CHECK_EQ(polysock_sendto(s6, "6", 1, 0, "127.0.0.1", rport), 1);
    CHECK_EQ(recv_tag(r, 2000, me.port), '6');
    /* The reply comes from a mapped address. */
    CHECK_EQ(polysock_sendto(r, "r", 1, 0, "127.0.0.1", me.port), 1);
    unsigned char buf[4];
    polysock_addr from;
    CHECK_EQ(polysock_recvfrom(s6, buf, sizeof buf, 0, &from), 1);
    CHECK_STR(from.host, "::ffff:127.0.0.1");
    CHECK_EQ(from.port, rport);
    polysock_close(r);
    polysock_close(s);
    polysock_close(s6);
}

/* A host text that ends right at the end of a readable page (the next
 * one is unmapped): no read past its NUL, at 15 and 16 bytes. */
TEST(sendto_host_at_the_end_of_a_page) {
    long page = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    CHECK_EQ(mprotect(mem + page, (size_t)page, PROT_NONE), 0);
    int rport, sport;
    polysock_t r = udp_at(POLYSOCK_AF_INET, "127.255.255.254", &rport), s = udp(&sport);
    static const char *texts[] = {"127.255.255.254", "127.255.255.2540", "127.0.0.1"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t len = strlen(texts[i]) + 1;
        char *at = mem + page - len;
        memcpy(at, texts[i], len);
        for (int k = 0; k < 2; k++) {
            int64_t n = polysock_sendto(s, "p", 1, 0, at, rport);
            if (i == 0) {
                CHECK_EQ(n, 1);
                CHECK_EQ(recv_tag(r, 2000, sport), 'p');
            } else if (i == 1) {
                CHECK_ERR(n, POLYSOCK_EAI_NONAME);
            } else {
                CHECK_EQ(n, 1); /* to 127.0.0.1, where nobody listens on rport */
            }
        }
    }
    CHECK_EQ(recv_tag(r, 0, sport), -1);
    munmap(mem, (size_t)page * 2);
    polysock_close(r);
    polysock_close(s);
}

/* ---- recvfrom and sendto after a first system call that moved nothing ---- */

struct late_send { polysock_t s; int port; const char *data; size_t len; };

/* Sends one datagram 100 ms from now, while the receiver waits. */
static void *send_late(void *arg) {
    struct late_send *l = arg;
    usleep(100 * 1000);
    CHECK_EQ(polysock_sendto(l->s, l->data, l->len, 0, "127.0.0.1", l->port), (int64_t)l->len);
    return NULL;
}

/* An Addr nobody wrote: every byte 0xAB. */
static int untouched(const polysock_addr *a) {
    const unsigned char *p = (const unsigned char *)a;
    for (size_t i = 0; i < sizeof *a; i++)
        if (p[i] != 0xAB) return 0;
    return 1;
}

TEST(recvfrom_after_nothing_came_at_first) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    unsigned char buf[16];
    polysock_addr from;
    /* The first recvfrom(2) finds nothing (EAGAIN), the call waits for
     * the datagram that comes meanwhile and takes it, with its sender. */
    for (int want_from = 1; want_from >= 0; want_from--) {
        struct late_send l = {s, rport, "late", 4};
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, send_late, &l), 0);
        memset(&from, 0xAB, sizeof from);
        CHECK_EQ(polysock_recvfrom(r, buf, sizeof buf, 0, want_from ? &from : NULL), 4);
        CHECK(memcmp(buf, "late", 4) == 0);
        if (want_from) {
            CHECK_EQ(from.family, POLYSOCK_AF_INET);
            CHECK_STR(from.host, "127.0.0.1");
            CHECK_EQ(from.port, sport);
        } else {
            CHECK(untouched(&from));
        }
        CHECK_EQ(pthread_join(t, NULL), 0);
    }
    /* An empty datagram: the first call moves no bytes and yet succeeds;
     * its sender is still written. */
    struct late_send e = {s, rport, "", 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, send_late, &e), 0);
    memset(&from, 0xAB, sizeof from);
    CHECK_EQ(polysock_recvfrom(r, buf, sizeof buf, 0, &from), 0);
    CHECK_STR(from.host, "127.0.0.1");
    CHECK_EQ(from.port, sport);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(polysock_sendto(s, NULL, 0, 0, "127.0.0.1", rport), 0);
    memset(&from, 0xAB, sizeof from);
    CHECK_EQ(polysock_recvfrom(r, buf, sizeof buf, 0, &from), 0);
    CHECK_EQ(from.port, sport);
    /* Nothing comes: the timeout, EAGAIN at timeout 0 and with
     * MSG_DONTWAIT; `from` is written only on success. */
    CHECK_OK(polysock_settimeout(r, 50));
    memset(&from, 0xAB, sizeof from);
    CHECK_ERR(polysock_recvfrom(r, buf, sizeof buf, 0, &from), ETIMEDOUT);
    CHECK(strstr(polysock_last_error(), "recvfrom") != NULL);
    CHECK(untouched(&from));
    CHECK_ERR(polysock_recvfrom(r, buf, sizeof buf, POLYSOCK_MSG_DONTWAIT, &from), EAGAIN);
    CHECK(untouched(&from));
    CHECK_OK(polysock_settimeout(r, 0));
    CHECK_ERR(polysock_recvfrom(r, buf, sizeof buf, 0, &from), EAGAIN);
    CHECK(untouched(&from));
    /* And after those failures the next datagram is taken at once. */
    CHECK_EQ(polysock_sendto(s, "again", 5, 0, "127.0.0.1", rport), 5);
    CHECK_OK(polysock_settimeout(r, 2000));
    CHECK_EQ(polysock_recvfrom(r, buf, sizeof buf, 0, &from), 5);
    CHECK(memcmp(buf, "again", 5) == 0);
    CHECK_EQ(from.port, sport);
    polysock_close(r);
    polysock_close(s);
}

TEST(sendto_a_literal_the_kernel_refuses) {
    int rport, sport;
    polysock_t r = udp(&rport), s = udp(&sport);
    /* The first sendto(2) fails: its error comes back with the
     * destination, and the next send goes as usual. */
    CHECK_ERR(polysock_sendto(s, "x", 1, 0, "127.0.0.1", 0), EINVAL);
    CHECK(strstr(polysock_last_error(), "sendto 127.0.0.1:0") != NULL);
    static unsigned char big[70000];
    CHECK_ERR(polysock_sendto(s, big, sizeof big, 0, "127.0.0.1", rport), EMSGSIZE);
    char want[64];
    snprintf(want, sizeof want, "sendto 127.0.0.1:%d", rport);
    CHECK(strstr(polysock_last_error(), want) != NULL);
    CHECK_EQ(polysock_sendto(s, "y", 1, 0, "127.0.0.1", rport), 1);
    CHECK_EQ(recv_tag(r, 2000, sport), 'y');
    polysock_close(r);
    polysock_close(s);
}
