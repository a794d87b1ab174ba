/* UDP segmentation offload over loopback: polysock_send_segments puts
 * datagrams on the wire with the sender's boundaries and bytes (checked by
 * a checksum of each), polysock_recv_segments with polysock_udp_gro takes
 * them coalesced with their size, and every bad input fails clearly. */
#include "harness.h"

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
