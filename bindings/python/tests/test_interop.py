"""polysock on one end, the standard socket module on the other; fds
passed between the two."""

import selectors
import socket as std
import unittest

from support import (
    WAIT,
    TempDirCase,
    Thread,
    echo_one,
    listener,
    polysock,
    recv_exactly,
    skip_no_ipv6,
)


class StreamInteropTest(TempDirCase):
    def test_polysock_client_standard_server(self):
        with listener(module=std) as server:
            done = Thread(echo_one, server)
            with polysock.socket() as c:
                c.settimeout(WAIT)
                c.connect(server.getsockname())
                c.sendall(b"to the standard module")
                self.assertEqual(recv_exactly(c, 22), b"to the standard module")
            self.assertEqual(done.result(), 22)

    def test_standard_client_polysock_server(self):
        with listener() as server:
            done = Thread(echo_one, server)
            with std.create_connection(server.getsockname(), timeout=WAIT) as c:
                c.sendall(b"from the standard module")
                self.assertEqual(recv_exactly(c, 24), b"from the standard module")
                # Both modules see the same addresses.
            self.assertEqual(done.result(), 24)

    def test_addresses_agree(self):
        with listener() as server:
            c = std.create_connection(server.getsockname(), timeout=WAIT)
            with c:
                conn, peer = server.accept()
                with conn:
                    self.assertEqual(peer, c.getsockname())
                    self.assertEqual(conn.getsockname(), c.getpeername())

    @skip_no_ipv6
    def test_ipv6_addresses_agree(self):
        with listener(polysock.AF_INET6, "::1") as server:
            with std.socket(std.AF_INET6) as c:
                c.settimeout(WAIT)
                c.connect(server.getsockname())
                conn, peer = server.accept()
                with conn:
                    self.assertEqual(peer, c.getsockname())
                    self.assertEqual(conn.getsockname(), c.getpeername())

    def test_unix(self):
        path = self.path("interop.sock")
        with polysock.socket(polysock.AF_UNIX) as server:
            server.settimeout(WAIT)
            server.bind(path)
            server.listen()
            done = Thread(echo_one, server)
            with std.socket(std.AF_UNIX) as c:
                c.settimeout(WAIT)
                c.connect(path)
                c.sendall(b"unix")
                self.assertEqual(recv_exactly(c, 4), b"unix")
            self.assertEqual(done.result(), 4)

    def test_standard_lines_read_by_polysock_makefile(self):
        s1, s2 = std.socketpair()
        with s1:
            p = polysock.socket(fileno=s2.detach())
            with p, p.makefile("r") as f:
                p.settimeout(WAIT)
                s1.sendall(b"alpha\nbeta\n")
                self.assertEqual(f.readline(), "alpha\n")
                self.assertEqual(f.readline(), "beta\n")


class FdInteropTest(unittest.TestCase):
    def test_standard_socket_into_polysock(self):
        s1, s2 = std.socketpair()
        with s1, s2:
            p = polysock.fromfd(s2.fileno(), std.AF_UNIX, std.SOCK_STREAM)
            with p:
                self.assertNotEqual(p.fileno(), s2.fileno())
                p.settimeout(WAIT)
                s1.sendall(b"dup")
                self.assertEqual(p.recv(10), b"dup")
            # s2 is still the caller's and works.
            s1.sendall(b"ok")
            s2.settimeout(WAIT)
            self.assertEqual(s2.recv(10), b"ok")

    def test_polysock_socket_into_the_standard_module(self):
        a, b = polysock.socketpair()
        with a:
            s = std.socket(fileno=b.detach())
            with s:
                self.assertEqual(s.family, std.AF_UNIX)
                s.settimeout(WAIT)
                a.sendall(b"handed over")
                self.assertEqual(s.recv(20), b"handed over")

    def test_constants_are_the_platform_values(self):
        for name in ("AF_INET", "AF_INET6", "AF_UNIX", "SOCK_STREAM", "SOCK_DGRAM",
                     "SOL_SOCKET", "SO_REUSEADDR", "IPPROTO_TCP", "TCP_NODELAY",
                     "MSG_PEEK", "SHUT_RDWR", "SOMAXCONN"):
            self.assertEqual(getattr(polysock, name), getattr(std, name), name)

    def test_options_set_by_one_seen_by_the_other(self):
        with polysock.socket() as p:
            p.setsockopt(polysock.SOL_SOCKET, polysock.SO_REUSEADDR, 1)
            s = std.socket(fileno=p.dup().detach())
            with s:
                self.assertEqual(s.getsockopt(std.SOL_SOCKET, std.SO_REUSEADDR), 1)


class SelectorsTest(unittest.TestCase):
    def test_polysock_sockets_in_a_selector(self):
        a, b = polysock.socketpair()
        with a, b, selectors.DefaultSelector() as sel:
            b.setblocking(False)
            sel.register(b, selectors.EVENT_READ, "b")
            self.assertEqual(sel.select(0), [])
            a.sendall(b"ready")
            events = sel.select(WAIT)
            self.assertEqual([key.data for key, _ in events], ["b"])
            self.assertEqual(b.recv(10), b"ready")


class DatagramInteropTest(unittest.TestCase):
    def test_udp_both_ways(self):
        with std.socket(std.AF_INET, std.SOCK_DGRAM) as s, \
                polysock.socket(polysock.AF_INET, polysock.SOCK_DGRAM) as p:
            s.settimeout(WAIT)
            p.settimeout(WAIT)
            s.bind(("127.0.0.1", 0))
            p.bind(("127.0.0.1", 0))
            p.sendto(b"from polysock", s.getsockname())
            self.assertEqual(s.recvfrom(100), (b"from polysock", p.getsockname()))
            s.sendto(b"from std", p.getsockname())
            self.assertEqual(p.recvfrom(100), (b"from std", s.getsockname()))

    @skip_no_ipv6
    def test_udp_ipv6(self):
        with std.socket(std.AF_INET6, std.SOCK_DGRAM) as s, \
                polysock.socket(polysock.AF_INET6, polysock.SOCK_DGRAM) as p:
            s.settimeout(WAIT)
            p.settimeout(WAIT)
            s.bind(("::1", 0))
            p.bind(("::1", 0))
            s.sendto(b"six", p.getsockname())
            self.assertEqual(p.recvfrom(10), (b"six", s.getsockname()))
            p.sendto(b"xis", s.getsockname())
            self.assertEqual(s.recvfrom(10), (b"xis", p.getsockname()))


if __name__ == "__main__":
    unittest.main()
