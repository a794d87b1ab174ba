"""Datagram sockets: UDP over IPv4 and IPv6, Unix datagrams."""

import unittest

from support import WAIT, TempDirCase, polysock, skip_no_ipv6


def udp(family=None, host="127.0.0.1"):
    family = polysock.AF_INET if family is None else family
    s = polysock.socket(family, polysock.SOCK_DGRAM)
    s.settimeout(WAIT)
    s.bind((host, 0))
    return s


class UdpTest(unittest.TestCase):
    def test_sendto_recvfrom_ipv4(self):
        with udp() as a, udp() as b:
            self.assertEqual(a.sendto(b"datagram", b.getsockname()), 8)
            data, sender = b.recvfrom(100)
            self.assertEqual((data, sender), (b"datagram", a.getsockname()))
            # The flags form, and a reply to the sender's address.
            self.assertEqual(b.sendto(b"reply", 0, sender), 5)
            self.assertEqual(a.recvfrom(100), (b"reply", b.getsockname()))

    def test_recvfrom_into(self):
        with udp() as a, udp() as b:
            a.sendto(b"0123456789", b.getsockname())
            buf = bytearray(32)
            n, sender = b.recvfrom_into(buf)
            self.assertEqual((bytes(buf[:n]), sender), (b"0123456789", a.getsockname()))
            a.sendto(b"abcdef", b.getsockname())
            n, _ = b.recvfrom_into(buf, 3)
            self.assertEqual(bytes(buf[:n]), b"abc")  # the rest of the datagram is dropped

    def test_truncated_datagram(self):
        with udp() as a, udp() as b:
            a.sendto(b"x" * 100, b.getsockname())
            data, _ = b.recvfrom(10)
            self.assertEqual(data, b"x" * 10)

    def test_connected_udp(self):
        with udp() as a, udp() as b:
            a.connect(b.getsockname())
            b.connect(a.getsockname())
            a.send(b"one")
            self.assertEqual(b.recv(10), b"one")
            b.send(b"two")
            self.assertEqual(a.recv(10), b"two")
            self.assertEqual(a.getpeername(), b.getsockname())

    def test_empty_datagram(self):
        with udp() as a, udp() as b:
            a.sendto(b"", b.getsockname())
            self.assertEqual(b.recvfrom(10), (b"", a.getsockname()))

    def test_ipv4_name_localhost(self):
        with udp() as a, udp() as b:
            a.sendto(b"hi", ("localhost", b.getsockname()[1]))
            self.assertEqual(b.recv(10), b"hi")

    @skip_no_ipv6
    def test_ipv6(self):
        with udp(polysock.AF_INET6, "::1") as a, udp(polysock.AF_INET6, "::1") as b:
            a.sendto(b"six", b.getsockname())
            data, sender = b.recvfrom(10)
            self.assertEqual(data, b"six")
            self.assertEqual(sender, a.getsockname())
            self.assertEqual(len(sender), 4)
            a.sendto(b"two-tuple", ("::1", b.getsockname()[1]))
            self.assertEqual(b.recv(20), b"two-tuple")

    def test_broadcast_option(self):
        with udp() as s:
            s.setsockopt(polysock.SOL_SOCKET, polysock.SO_BROADCAST, 1)
            self.assertEqual(s.getsockopt(polysock.SOL_SOCKET, polysock.SO_BROADCAST), 1)


class UnixDatagramTest(TempDirCase):
    def test_paths(self):
        pa, pb = self.path("a.sock"), self.path("b.sock")
        with polysock.socket(polysock.AF_UNIX, polysock.SOCK_DGRAM) as a, \
                polysock.socket(polysock.AF_UNIX, polysock.SOCK_DGRAM) as b:
            a.bind(pa)
            b.bind(pb)
            b.settimeout(WAIT)
            a.sendto(b"over unix", pb)
            self.assertEqual(b.recvfrom(100), (b"over unix", pa))

    def test_unbound_sender(self):
        pb = self.path("b.sock")
        with polysock.socket(polysock.AF_UNIX, polysock.SOCK_DGRAM) as a, \
                polysock.socket(polysock.AF_UNIX, polysock.SOCK_DGRAM) as b:
            b.bind(pb)
            b.settimeout(WAIT)
            a.sendto(b"anon", pb)
            data, sender = b.recvfrom(100)
            self.assertEqual(data, b"anon")
            self.assertIn(sender, ("", None))

    def test_socketpair_dgram(self):
        a, b = polysock.socketpair(polysock.AF_UNIX, polysock.SOCK_DGRAM)
        with a, b:
            b.settimeout(WAIT)
            a.send(b"one")
            a.send(b"two")
            self.assertEqual(b.recv(10), b"one")
            self.assertEqual(b.recv(10), b"two")


if __name__ == "__main__":
    unittest.main()
