/* The constants table agrees with the header's macros and the system
 * headers, and holds at least Blade's documented list. */
#include "harness.h"
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#ifdef __linux__
#include <linux/if_packet.h>
#include <linux/tipc.h>
#include <linux/vm_sockets.h>
#include <sys/ioctl.h>
#endif

static int64_t lookup(const char *name) {
    int64_t v = -12345;
    CHECK_OK(polysock_constant_lookup(name, &v));
    return v;
}

#define SAME(name) do { CHECK_EQ(lookup(#name), POLYSOCK_##name); CHECK_EQ(POLYSOCK_##name, name); } while (0)

TEST(macros_table_and_system_agree) {
    SAME(AF_INET); SAME(AF_INET6); SAME(AF_UNIX); SAME(AF_UNSPEC);
    SAME(SOCK_STREAM); SAME(SOCK_DGRAM); SAME(SOCK_RAW); SAME(SOCK_SEQPACKET);
    SAME(SOL_SOCKET); SAME(SO_REUSEADDR); SAME(SO_REUSEPORT); SAME(SO_BROADCAST);
    SAME(SO_KEEPALIVE); SAME(SO_LINGER); SAME(SO_RCVBUF); SAME(SO_SNDBUF); SAME(SO_ERROR);
    SAME(IPPROTO_TCP); SAME(IPPROTO_UDP); SAME(IPPROTO_IPV6); SAME(IPPROTO_IP);
    SAME(TCP_NODELAY); SAME(IPV6_V6ONLY); SAME(IP_TTL);
    SAME(MSG_PEEK); SAME(MSG_DONTWAIT); SAME(MSG_WAITALL); SAME(MSG_NOSIGNAL);
    SAME(SHUT_RD); SAME(SHUT_WR); SAME(SHUT_RDWR); SAME(SOMAXCONN);
    SAME(AI_PASSIVE); SAME(AI_CANONNAME); SAME(AI_NUMERICHOST);
    SAME(NI_NUMERICHOST); SAME(NI_NUMERICSERV);
    CHECK_EQ(lookup("ECONNREFUSED"), ECONNREFUSED);
    CHECK_EQ(lookup("EAI_NONAME"), POLYSOCK_EAI_NONAME);
    CHECK_EQ(lookup("POLYSOCK_OPT_NODELAY"), POLYSOCK_OPT_NODELAY);
}

#ifdef __linux__
/* The values constant_list.rs writes itself (libc lacks them), against the
 * kernel's and glibc's headers. */
TEST(written_values_match_the_system_headers) {
    SAME(AF_QIPCRTR); SAME(IOCTL_VM_SOCKETS_GET_LOCAL_CID);
    SAME(SO_VM_SOCKETS_BUFFER_SIZE); SAME(SO_VM_SOCKETS_BUFFER_MIN_SIZE);
    SAME(SO_VM_SOCKETS_BUFFER_MAX_SIZE); SAME(VM_SOCKETS_INVALID_VERSION);
    SAME(INADDR_ALLHOSTS_GROUP); SAME(INADDR_MAX_LOCAL_GROUP); SAME(INADDR_UNSPEC_GROUP);
    SAME(IPPORT_RESERVED); SAME(IPV6_JOIN_GROUP); SAME(IPV6_LEAVE_GROUP);
    SAME(IPV6_RTHDR_TYPE_0); SAME(IP_MAX_MEMBERSHIPS); SAME(IP_RECVRETOPTS);
    SAME(PACKET_FASTROUTE); SAME(NI_MAXSERV);
    SAME(TIPC_ADDR_ID); SAME(TIPC_ADDR_NAME); SAME(TIPC_ADDR_NAMESEQ); SAME(TIPC_CFG_SRV);
    SAME(TIPC_CONN_TIMEOUT); SAME(TIPC_CRITICAL_IMPORTANCE); SAME(TIPC_DEST_DROPPABLE);
    SAME(TIPC_HIGH_IMPORTANCE); SAME(TIPC_IMPORTANCE); SAME(TIPC_LOW_IMPORTANCE);
    SAME(TIPC_MEDIUM_IMPORTANCE); SAME(TIPC_PUBLISHED); SAME(TIPC_SRC_DROPPABLE);
    SAME(TIPC_SUBSCR_TIMEOUT); SAME(TIPC_SUB_CANCEL); SAME(TIPC_SUB_PORTS);
    SAME(TIPC_SUB_SERVICE); SAME(TIPC_TOP_SRV); SAME(TIPC_WAIT_FOREVER); SAME(TIPC_WITHDRAWN);
    SAME(TIPC_ZONE_SCOPE);
    /* And some of the new names libc has. */
    SAME(VMADDR_CID_ANY); SAME(VMADDR_CID_HOST); SAME(PACKET_HOST); SAME(PF_PACKET);
}
#endif

TEST(table_walk_is_complete_and_consistent) {
    int64_t n = polysock_constant_count();
    CHECK(n > 300);
    for (int64_t i = 0; i < n; i++) {
        const char *name;
        int64_t v, again;
        CHECK_OK(polysock_constant_at(i, &name, &v));
        CHECK(name != NULL && name[0] != '\0');
        CHECK_OK(polysock_constant_lookup(name, &again));
        CHECK_EQ(again, v); /* names are unique */
    }
}

/* Blade's socket module documents these; Linux has all but the BSD-only
 * families and SO_USELOOPBACK, which must then be absent, not faked. */
TEST(blade_list_is_covered) {
    const char *present[] = {
        "SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET", "SO_DEBUG",
        "SO_ACCEPTCONN", "SO_REUSEADDR", "SO_KEEPALIVE", "SO_DONTROUTE", "SO_BROADCAST",
        "SO_LINGER", "SO_OOBINLINE", "SO_REUSEPORT", "SO_TIMESTAMP", "SO_SNDBUF", "SO_RCVBUF",
        "SO_SNDLOWAT", "SO_RCVLOWAT", "SO_SNDTIMEO", "SO_RCVTIMEO", "SO_ERROR", "SO_TYPE",
        "SOL_SOCKET", "AF_UNSPEC", "AF_UNIX", "AF_LOCAL", "AF_INET", "AF_SNA", "AF_APPLETALK",
        "AF_INET6", "IPPROTO_IP", "IPPROTO_ICMP", "IPPROTO_IGMP", "IPPROTO_IPIP", "IPPROTO_TCP",
        "IPPROTO_EGP", "IPPROTO_PUP", "IPPROTO_UDP", "IPPROTO_IDP", "IPPROTO_TP", "IPPROTO_DCCP",
        "IPPROTO_IPV6", "IPPROTO_RSVP", "IPPROTO_GRE", "IPPROTO_ESP", "IPPROTO_AH", "IPPROTO_MTP",
        "IPPROTO_BEETPH", "IPPROTO_ENCAP", "IPPROTO_PIM", "IPPROTO_COMP", "IPPROTO_SCTP",
        "IPPROTO_UDPLITE", "IPPROTO_MPLS", "IPPROTO_RAW", "IPPROTO_MAX", "SHUT_RD", "SHUT_WR",
        "SHUT_RDWR", "SOMAXCONN", "INADDR_ANY", "INADDR_LOOPBACK",
    };
    int64_t v;
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++) {
        if (polysock_constant_lookup(present[i], &v) != 0) FAIL_("missing constant %s", present[i]);
    }
#ifdef __linux__
    const char *bsd_only[] = {"AF_IMPLINK", "AF_PUP", "AF_CHAOS", "AF_NS", "AF_ISO", "AF_OSI",
                              "AF_ECMA", "AF_DATAKIT", "AF_CCITT", "AF_DLI", "AF_LAT",
                              "AF_HYLINK", "SO_USELOOPBACK"};
    for (size_t i = 0; i < sizeof bsd_only / sizeof bsd_only[0]; i++) {
        CHECK_ERR(polysock_constant_lookup(bsd_only[i], &v), ENOENT);
    }
#endif
}
