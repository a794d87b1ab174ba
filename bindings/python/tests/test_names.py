"""Names and connections: the resolver functions, create_connection,
create_server, connect_ex and sendfile. Only numeric hosts, names from
/etc/hosts ("localhost"), names the resolver rejects locally and the
local services/protocols databases: never a DNS query."""

import errno
import io
import os
import socket as std
import sys
import tempfile
import unittest

from support import (
    HAVE_IPV6,
    WAIT,
    TempDirCase,
    Thread,
    closed_port,
    echo_one,
    listener,
    polysock,
    recv_exactly,
    skip_no_ipv6,
)


def have_file(path):
    return unittest.skipUnless(os.path.exists(path), "%s is missing here" % path)


class ResolverTest(unittest.TestCase):
    def test_getaddrinfo_numeric(self):
        got = polysock.getaddrinfo("127.0.0.1", 80, polysock.AF_INET, polysock.SOCK_STREAM)
        self.assertEqual(
            got, [(polysock.AF_INET, polysock.SOCK_STREAM, polysock.IPPROTO_TCP, "", ("127.0.0.1", 80))]
        )
        self.assertIsInstance(got[0][0], polysock.AddressFamily)
        self.assertIsInstance(got[0][1], polysock.SocketKind)

    def test_getaddrinfo_agrees_with_the_standard_module(self):
        cases = [
            ("127.0.0.1", 80, 0, 0, 0, 0),
            ("localhost", 8080, polysock.AF_INET, 0, 0, 0),
            ("localhost", "http", polysock.AF_INET, polysock.SOCK_STREAM, 0, 0),
            ("localhost", None, polysock.AF_INET, polysock.SOCK_DGRAM, 0, polysock.AI_CANONNAME),
            (None, 0, polysock.AF_INET, polysock.SOCK_STREAM, 0, polysock.AI_PASSIVE),
            (b"127.0.0.1", b"443", 0, polysock.SOCK_DGRAM, 0, 0),
        ]
        if HAVE_IPV6:
            cases.append(("::1", 22, polysock.AF_INET6, polysock.SOCK_STREAM, 0, 0))
        for args in cases:
            self.assertEqual(polysock.getaddrinfo(*args), std.getaddrinfo(*args), args)

    def test_getaddrinfo_errors(self):
        with self.assertRaises(polysock.gaierror) as cm:
            polysock.getaddrinfo("bad..name", 80)
        self.assertEqual(cm.exception.errno, polysock.EAI_NONAME)
        self.assertIn("bad..name", str(cm.exception))
        with self.assertRaises(polysock.gaierror) as cm:
            polysock.getaddrinfo(None, None)
        self.assertEqual(cm.exception.errno, polysock.EAI_NONAME)
        with self.assertRaises(polysock.gaierror):
            polysock.getaddrinfo("127.0.0.1", "no-such-service-here")
        with self.assertRaises(polysock.gaierror):
            polysock.getaddrinfo("localhost", 80, 0, 0, 0, polysock.AI_NUMERICHOST)
        self.assertRaises(TypeError, polysock.getaddrinfo, 127, 80)
        self.assertRaises(OSError, polysock.getaddrinfo, "127.0.0.1", 80.5)
        self.assertRaises(ValueError, polysock.getaddrinfo, "127.0.0.1\0x", 80)

    def test_getnameinfo(self):
        flags = polysock.NI_NUMERICHOST | polysock.NI_NUMERICSERV
        self.assertEqual(polysock.getnameinfo(("127.0.0.1", 80), flags), ("127.0.0.1", "80"))
        for args in ((("127.0.0.1", 80), flags), (("127.0.0.1", 80), polysock.NI_NUMERICHOST)):
            self.assertEqual(polysock.getnameinfo(*args), std.getnameinfo(*args), args)
        if HAVE_IPV6:
            self.assertEqual(polysock.getnameinfo(("::1", 8080, 0, 0), flags), ("::1", "8080"))
        self.assertRaises(TypeError, polysock.getnameinfo, "127.0.0.1", 0)
        self.assertRaises(polysock.gaierror, polysock.getnameinfo, ("localhost", 80), 0)

    def test_gethostbyname(self):
        self.assertEqual(polysock.gethostbyname("127.0.0.1"), "127.0.0.1")
        self.assertEqual(polysock.gethostbyname("localhost"), std.gethostbyname("localhost"))
        self.assertRaises(polysock.gaierror, polysock.gethostbyname, "bad..name")

    def test_gethostbyname_ex_and_gethostbyaddr(self):
        name, aliases, addresses = polysock.gethostbyname_ex("localhost")
        self.assertEqual((name, aliases, addresses), std.gethostbyname_ex("localhost"))
        self.assertIn("127.0.0.1", addresses)
        self.assertIsInstance(aliases, list)
        self.assertEqual(polysock.gethostbyaddr("127.0.0.1"), std.gethostbyaddr("127.0.0.1"))
        with self.assertRaises(OSError):
            polysock.gethostbyname_ex("bad..name")

    def test_hostname_and_fqdn(self):
        self.assertEqual(polysock.gethostname(), std.gethostname())
        self.assertEqual(polysock.getfqdn("localhost"), std.getfqdn("localhost"))

    @have_file("/etc/services")
    def test_services(self):
        self.assertEqual(polysock.getservbyname("http", "tcp"), 80)
        self.assertEqual(polysock.getservbyname("domain"), std.getservbyname("domain"))
        self.assertEqual(polysock.getservbyport(443, "tcp"), "https")
        self.assertEqual(polysock.getservbyport(22), std.getservbyport(22))
        self.assertRaises(OSError, polysock.getservbyname, "no-such-service-here", "tcp")
        self.assertRaises(OverflowError, polysock.getservbyport, 70000)

    @have_file("/etc/protocols")
    def test_protocols(self):
        self.assertEqual(polysock.getprotobyname("tcp"), polysock.IPPROTO_TCP)
        self.assertEqual(polysock.getprotobyname("udp"), std.getprotobyname("udp"))
        self.assertRaises(OSError, polysock.getprotobyname, "no-such-protocol")

    def test_inet_pton_ntop(self):
        for family, text in ((polysock.AF_INET, "192.0.2.33"), (polysock.AF_INET6, "2001:db8::1"),
                             (polysock.AF_INET6, "::ffff:127.0.0.1")):
            packed = polysock.inet_pton(family, text)
            self.assertEqual(packed, std.inet_pton(family, text))
            self.assertEqual(polysock.inet_ntop(family, packed), std.inet_ntop(family, packed))
        self.assertEqual(polysock.inet_ntop(polysock.AF_INET, bytearray(b"\x7f\0\0\1")), "127.0.0.1")
        with self.assertRaises(OSError) as cm:
            polysock.inet_pton(polysock.AF_INET, "300.1.1.1")
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertRaises(OSError, polysock.inet_pton, polysock.AF_INET, "::1")
        self.assertRaises(ValueError, polysock.inet_ntop, polysock.AF_INET, b"\0\0\0")
        self.assertRaises(ValueError, polysock.inet_ntop, polysock.AF_INET6, b"\0" * 4)

    def test_interfaces(self):
        interfaces = polysock.if_nameindex()
        self.assertEqual(interfaces, std.if_nameindex())
        for index, name in interfaces:
            self.assertEqual(polysock.if_nametoindex(name), index)
            self.assertEqual(polysock.if_indextoname(index), name)
        with self.assertRaises(OSError) as cm:
            polysock.if_nametoindex("nosuchif0")
        self.assertEqual(cm.exception.errno, errno.ENODEV)
        self.assertRaises(OSError, polysock.if_indextoname, 999999)
        self.assertRaises(TypeError, polysock.if_nametoindex, 1)
        self.assertRaises(OverflowError, polysock.if_indextoname, -1)

    def test_has_ipv6(self):
        self.assertIsInstance(polysock.has_ipv6, bool)
        self.assertIsInstance(polysock.has_dualstack_ipv6(), bool)


class CreateConnectionTest(unittest.TestCase):
    def test_connects_and_applies_the_timeout(self):
        with listener() as server:
            done = Thread(echo_one, server)
            with polysock.create_connection(server.getsockname(), timeout=WAIT) as c:
                self.assertEqual(c.gettimeout(), WAIT)
                self.assertEqual(c.getpeername(), server.getsockname())
                c.sendall(b"hello")
                self.assertEqual(recv_exactly(c, 5), b"hello")
            self.assertEqual(done.result(), 5)

    def test_by_name_and_default_timeout(self):
        with listener() as server:
            port = server.getsockname()[1]
            with polysock.create_connection(("localhost", port)) as c:
                self.assertIsNone(c.gettimeout())  # the default
                conn, _ = server.accept()
                conn.close()
            with polysock.create_connection(("localhost", str(port)), None) as c:
                self.assertIsNone(c.gettimeout())
                server.accept()[0].close()

    def test_source_address(self):
        with listener() as server:
            with polysock.create_connection(server.getsockname(), WAIT,
                                            source_address=("127.0.0.1", 0)) as c:
                conn, peer = server.accept()
                conn.close()
                self.assertEqual(peer, c.getsockname())

    def test_refused_names_every_attempt(self):
        port = closed_port()
        with self.assertRaises(ConnectionRefusedError) as cm:
            polysock.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.assertIn("127.0.0.1:%d" % port, str(cm.exception))
        self.assertIn("create_connection", str(cm.exception))

    @unittest.skipUnless(sys.version_info >= (3, 11), "ExceptionGroup is Python 3.11's")
    def test_all_errors(self):
        with self.assertRaises(ExceptionGroup) as cm:  # noqa: F821
            polysock.create_connection(("127.0.0.1", closed_port()), WAIT, all_errors=True)
        self.assertIsInstance(cm.exception.exceptions[0], ConnectionRefusedError)

    def test_bad_name(self):
        with self.assertRaises(polysock.gaierror):
            polysock.create_connection(("bad..name", 80), timeout=WAIT)

    def test_bad_arguments(self):
        self.assertRaises(OverflowError, polysock.create_connection, ("127.0.0.1", 70000))
        self.assertRaises(ValueError, polysock.create_connection, ("127.0.0.1", 80), -1)
        self.assertRaises(ValueError, polysock.create_connection, ("127.0.0.1",))


class ReplacedSocketClassTest(unittest.TestCase):
    """create_connection through a replacement of polysock.socket (a mock, a
    monkeypatch) uses that class, as CPython's does (_connect_through)."""

    def replaced(self, cls):
        saved = polysock.socket
        polysock.socket = cls
        self.addCleanup(setattr, polysock, "socket", saved)

    def test_a_mock_connect_is_what_the_caller_sees(self):
        calls = []

        class TimesOut(polysock.socket):
            def connect(self, address):
                calls.append(address)
                raise TimeoutError("timed out")

        self.replaced(TimesOut)
        port = closed_port()
        with self.assertRaises(TimeoutError):
            polysock.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.assertEqual(calls, [("127.0.0.1", port)])

    def test_a_subclass_connects_with_timeout_and_source(self):
        class Counted(polysock.socket):
            made = 0

            def __init__(self, *args):
                super().__init__(*args)
                Counted.made += 1

        with listener() as server:
            self.replaced(Counted)
            with polysock.create_connection(server.getsockname(), WAIT,
                                            source_address=("127.0.0.1", 0)) as c:
                self.assertIsInstance(c, Counted)
                self.assertEqual(c.gettimeout(), WAIT)
                conn, peer = server.accept()
                conn.close()
                self.assertEqual(peer, c.getsockname())
        self.assertEqual(Counted.made, 1)

    @unittest.skipUnless(sys.version_info >= (3, 11), "ExceptionGroup is Python 3.11's")
    def test_errors_first_or_all(self):
        class Plain(polysock.socket):
            pass

        self.replaced(Plain)
        port = closed_port()
        with self.assertRaises(ConnectionRefusedError):
            polysock.create_connection(("127.0.0.1", port), WAIT)
        with self.assertRaises(ExceptionGroup) as cm:  # noqa: F821
            polysock.create_connection(("127.0.0.1", port), WAIT, all_errors=True)
        self.assertIsInstance(cm.exception.exceptions[0], ConnectionRefusedError)

    def test_the_own_class_back_takes_polysocks_path(self):
        with self.assertRaises(ConnectionRefusedError) as cm:
            polysock.create_connection(("127.0.0.1", closed_port()), timeout=WAIT)
        self.assertIn("create_connection", str(cm.exception))  # polysock's message


class CreateServerTest(TempDirCase):
    def test_ipv4(self):
        with polysock.create_server(("127.0.0.1", 0)) as server:
            self.assertEqual(server.family, polysock.AF_INET)
            self.assertEqual(server.getsockopt(polysock.SOL_SOCKET, polysock.SO_REUSEADDR), 1)
            self.assertEqual(server.getsockopt(polysock.SOL_SOCKET, polysock.SO_ACCEPTCONN), 1)
            server.settimeout(WAIT)
            done = Thread(echo_one, server)
            with std.create_connection(server.getsockname(), timeout=WAIT) as c:
                c.sendall(b"standard client")
                self.assertEqual(recv_exactly(c, 15), b"standard client")
            self.assertEqual(done.result(), 15)

    def test_reuse_port(self):
        with polysock.create_server(("127.0.0.1", 0), reuse_port=True, backlog=5) as a:
            self.assertEqual(a.getsockopt(polysock.SOL_SOCKET, polysock.SO_REUSEPORT), 1)
            with polysock.create_server(a.getsockname(), reuse_port=True) as b:
                self.assertEqual(b.getsockname(), a.getsockname())

    def test_address_in_use(self):
        with polysock.create_server(("127.0.0.1", 0)) as a:
            with self.assertRaises(OSError) as cm:
                polysock.create_server(a.getsockname())
            self.assertEqual(cm.exception.errno, errno.EADDRINUSE)

    @skip_no_ipv6
    def test_dualstack(self):
        if not polysock.has_dualstack_ipv6():
            self.skipTest("no dual-stack sockets here")
        with polysock.create_server(("", 0), family=polysock.AF_INET6,
                                    dualstack_ipv6=True) as server:
            server.settimeout(WAIT)
            port = server.getsockname()[1]
            for host, family in (("127.0.0.1", std.AF_INET), ("::1", std.AF_INET6)):
                with std.socket(family) as c:
                    c.settimeout(WAIT)
                    c.connect((host, port))
                    conn, peer = server.accept()
                    with conn:
                        self.assertEqual(peer[0], "::ffff:127.0.0.1" if host == "127.0.0.1" else "::1")

    def test_dualstack_needs_ipv6(self):
        self.assertRaises(ValueError, polysock.create_server, ("", 0), dualstack_ipv6=True)

    def test_unix(self):
        path = self.path("server.sock")
        with polysock.create_server(path, family=polysock.AF_UNIX) as server:
            self.assertEqual(server.getsockname(), path)
            with std.socket(std.AF_UNIX) as c:
                c.settimeout(WAIT)
                c.connect(path)


class ConnectExTest(unittest.TestCase):
    def test_codes(self):
        with listener() as server:
            with polysock.socket() as c:
                c.settimeout(WAIT)
                self.assertEqual(c.connect_ex(server.getsockname()), 0)
            with polysock.socket() as c:
                # Blocking (no timeout): a second connect is EISCONN, as in
                # CPython (which, like polysock, accepts it with a timeout).
                self.assertEqual(c.connect_ex(server.getsockname()), 0)
                self.assertEqual(c.connect_ex(server.getsockname()), errno.EISCONN)
            with polysock.socket() as c:
                c.settimeout(WAIT)
                self.assertEqual(c.connect_ex(("127.0.0.1", closed_port())), errno.ECONNREFUSED)
            with polysock.socket() as c:
                c.setblocking(False)
                self.assertIn(c.connect_ex(server.getsockname()), (0, errno.EINPROGRESS))

    def test_names_still_raise(self):
        with polysock.socket() as c:
            self.assertRaises(polysock.gaierror, c.connect_ex, ("bad..name", 80))
            self.assertRaises(TypeError, c.connect_ex, "127.0.0.1")


class SendfileTest(unittest.TestCase):
    def setUp(self):
        self.a, self.b = polysock.socketpair()
        self.addCleanup(self.a.close)
        self.addCleanup(self.b.close)
        self.a.settimeout(WAIT)
        self.b.settimeout(WAIT)
        self.data = os.urandom(300 * 1024)
        self.file = tempfile.TemporaryFile()
        self.addCleanup(self.file.close)
        self.file.write(self.data)
        self.file.flush()

    def receive(self, n):
        box = Thread(recv_exactly, self.b, n)
        return box

    def test_whole_file(self):
        reader = self.receive(len(self.data))
        self.assertEqual(self.a.sendfile(self.file), len(self.data))
        self.assertEqual(reader.result(), self.data)
        self.assertEqual(self.file.tell(), len(self.data))

    def test_range(self):
        reader = self.receive(5000)
        self.assertEqual(self.a.sendfile(self.file, 1000, 5000), 5000)
        self.assertEqual(reader.result(), self.data[1000:6000])
        self.assertEqual(self.file.tell(), 6000)

    def test_past_the_end(self):
        self.assertEqual(self.a.sendfile(self.file, len(self.data) + 10), 0)

    def test_file_objects_without_an_fd(self):
        reader = self.receive(6)
        self.assertEqual(self.a.sendfile(io.BytesIO(b"xxabcdef"), 2), 6)
        self.assertEqual(reader.result(), b"abcdef")

    def test_pipe_sends_nothing(self):
        # As CPython: a file whose fstat size is 0 sends 0 bytes.
        r, w = os.pipe()
        with open(r, "rb") as rf:
            with open(w, "wb") as wf:
                wf.write(b"through a pipe")
            self.assertEqual(self.a.sendfile(rf), 0)

    def test_send_fallback_and_sendfile_hook(self):
        # The two halves CPython's sendfile is made of.
        reader = self.receive(6)
        self.assertEqual(self.a._sendfile_use_send(io.BytesIO(b"xxabcdef"), 2), 6)
        self.assertEqual(reader.result(), b"abcdef")
        with self.assertRaises(polysock._GiveupOnSendfile):
            self.a._sendfile_use_sendfile(io.BytesIO(b"x"))
        self.a.settimeout(0)
        self.assertRaises(ValueError, self.a._sendfile_use_send, self.file)
        self.assertRaises(ValueError, self.a.sendfile, self.file)

    def test_bad_arguments(self):
        with tempfile.TemporaryFile("w+") as text:
            self.assertRaises(ValueError, self.a.sendfile, text)
        # As CPython: sendfile(2) refuses it, the fallback's seek too.
        self.assertRaises(OSError, self.a.sendfile, self.file, -1)
        self.assertRaises(ValueError, self.a.sendfile, self.file, 0, 0)
        with polysock.socket(polysock.AF_INET, polysock.SOCK_DGRAM) as u:
            self.assertRaises(ValueError, u.sendfile, self.file)

    def test_closed_peer(self):
        self.b.close()
        with self.assertRaises((BrokenPipeError, ConnectionResetError)):
            for _ in range(100):
                self.file.seek(0)
                self.a.sendfile(self.file)


if __name__ == "__main__":
    unittest.main()
