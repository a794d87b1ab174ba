"""polysock's error codes become the right Python exception classes, with
polysock's message; bad arguments are Python's usual TypeError,
ValueError and OverflowError."""

import errno
import socket as std
import struct
import unittest

from support import WAIT, TempDirCase, closed_port, listener, polysock
from polysock import _abi, _errors


class ErrnoClassTest(TempDirCase):
    def test_connection_refused(self):
        port = closed_port()
        with polysock.socket() as s:
            s.settimeout(WAIT)
            with self.assertRaises(ConnectionRefusedError) as cm:
                s.connect(("127.0.0.1", port))
        e = cm.exception
        self.assertEqual(e.errno, errno.ECONNREFUSED)
        self.assertEqual(str(e), "[Errno %d] connect 127.0.0.1:%d: Connection refused"
                         % (errno.ECONNREFUSED, port))

    def test_broken_pipe_without_sigpipe(self):
        a, b = polysock.socketpair()
        b.close()
        with a:
            with self.assertRaises(BrokenPipeError) as cm:
                a.sendall(b"nobody reads this")
            self.assertEqual(cm.exception.errno, errno.EPIPE)
            self.assertRaises(BrokenPipeError, a.send, b"again")

    def test_connection_reset(self):
        with listener() as server:
            c = polysock.socket()
            c.settimeout(WAIT)
            c.connect(server.getsockname())
            conn, _ = server.accept()
            with conn:
                conn.settimeout(WAIT)
                # Linger 0: close sends a reset.
                c.setsockopt(polysock.SOL_SOCKET, polysock.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
                with self.assertRaises(ConnectionResetError) as cm:
                    conn.recv(10)
                self.assertEqual(cm.exception.errno, errno.ECONNRESET)

    def test_missing_unix_path(self):
        path = self.path("nobody-here.sock")
        with polysock.socket(polysock.AF_UNIX) as s:
            with self.assertRaises(FileNotFoundError) as cm:
                s.connect(path)
            self.assertIn(path, str(cm.exception))

    def test_address_in_use(self):
        with listener() as first, polysock.socket() as second:
            with self.assertRaises(OSError) as cm:
                second.bind(first.getsockname())
            self.assertEqual(cm.exception.errno, errno.EADDRINUSE)

    def test_unix_path_too_long(self):
        with polysock.socket(polysock.AF_UNIX) as s:
            with self.assertRaises(OSError) as cm:
                s.bind(self.path("x" * 200))
            self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG)

    def test_ipv6_literal_on_an_ipv4_socket(self):
        with polysock.socket() as s:
            with self.assertRaises(OSError) as cm:
                s.connect(("::1", 80))
            self.assertEqual(cm.exception.errno, errno.EAFNOSUPPORT)

    def test_closed_socket_is_ebadf(self):
        s = polysock.socket()
        s.close()
        for call in (lambda: s.recv(1), lambda: s.send(b"x"), lambda: s.listen(),
                     lambda: s.settimeout(1), lambda: s.getsockname(), s.accept):
            with self.assertRaises(OSError) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.EBADF)

    def test_not_connected(self):
        with polysock.socket() as s:
            with self.assertRaises(OSError) as cm:
                s.getpeername()
            self.assertEqual(cm.exception.errno, errno.ENOTCONN)

    def test_bad_option(self):
        with polysock.socket() as s:
            with self.assertRaises(OSError) as cm:
                s.setsockopt(polysock.SOL_SOCKET, 987654, 1)
            self.assertIn(cm.exception.errno, (errno.ENOPROTOOPT, errno.EINVAL))

    def test_zero_length_receives(self):
        # As CPython: b"" at once on a stream; a datagram is consumed.
        a, b = polysock.socketpair()
        with a, b:
            self.assertEqual(a.recv(0), b"")
            self.assertEqual(a.recv_into(bytearray()), 0)
            self.assertEqual(a.recvmsg(0), (b"", [], 0, None))
        a, b = polysock.socketpair(polysock.AF_UNIX, polysock.SOCK_DGRAM)
        with a, b:
            b.settimeout(WAIT)
            a.send(b"first")
            a.send(b"second")
            self.assertEqual(b.recv(0), b"")
            self.assertEqual(b.recv(10), b"second")
            a.close()
            with self.assertRaises(OSError) as cm:
                a.recv(0)
            self.assertEqual(cm.exception.errno, errno.EBADF)


class ResolverErrorTest(unittest.TestCase):
    def test_bad_names_are_gaierror(self):
        for name in ("bad..name", "not a host!"):
            with polysock.socket() as s:
                s.settimeout(WAIT)
                with self.assertRaises(polysock.gaierror) as cm:
                    s.connect((name, 80))
            e = cm.exception
            self.assertIsInstance(e, OSError)
            # CPython's errno for the same failure: the platform's EAI_*.
            self.assertIn(e.errno, (std.EAI_NONAME, std.EAI_AGAIN, std.EAI_FAIL))
            self.assertIn(name, str(e))

    def test_sendto_bad_name(self):
        with polysock.socket(polysock.AF_INET, polysock.SOCK_DGRAM) as s:
            self.assertRaises(polysock.gaierror, s.sendto, b"x", ("bad..name", 9))


class MappingTest(unittest.TestCase):
    def test_every_errno_in_the_table_maps_like_oserror(self):
        for name, value in polysock.constants.items():
            if name.startswith("E") and not name.startswith("EAI_") and hasattr(errno, name):
                e = _errors.exception_for(value, "ctx")
                self.assertIs(type(e), type(OSError(value, "x")), name)
                self.assertEqual((e.errno, e.strerror), (value, "ctx"))

    def test_resolver_codes_are_gaierror(self):
        for name, value in polysock.constants.items():
            if name.startswith("EAI_"):
                e = _errors.exception_for(value, "m")
                self.assertIs(type(e), polysock.gaierror, name)
                self.assertEqual(e.errno, getattr(std, name, value), name)
                self.assertEqual(e.errno, getattr(polysock, name), name)

    def test_polysock_codes_are_plain_oserror(self):
        e = _errors.exception_for(polysock.POLYSOCK_EPANIC, "boom")
        self.assertIs(type(e), OSError)
        self.assertEqual(_errors.errname(polysock.POLYSOCK_EPANIC), "POLYSOCK_EPANIC")

    def test_timeout_classes(self):
        e = _errors.exception_for(errno.ETIMEDOUT, "recv: timed out")
        self.assertIsInstance(e, polysock.timeout)
        self.assertIsInstance(_errors.exception_for(errno.EAGAIN, "x"), BlockingIOError)
        self.assertIsInstance(_errors.exception_for(errno.EINPROGRESS, "x"), BlockingIOError)


class ArgumentErrorTest(TempDirCase):
    def setUp(self):
        super().setUp()
        self.s = polysock.socket()
        self.addCleanup(self.s.close)

    def test_addresses(self):
        self.assertRaises(TypeError, self.s.connect, "127.0.0.1")
        self.assertRaises(TypeError, self.s.connect, ["127.0.0.1", 80])
        self.assertRaises(TypeError, self.s.connect, ("127.0.0.1",))
        self.assertRaises(TypeError, self.s.connect, ("127.0.0.1", "80"))
        self.assertRaises(TypeError, self.s.connect, (80, 80))
        self.assertRaises(OverflowError, self.s.connect, ("127.0.0.1", 70000))
        self.assertRaises(OverflowError, self.s.bind, ("127.0.0.1", -1))
        self.assertRaises(TypeError, self.s.connect, ("127.0.0.1\0evil", 80))

    def test_ipv6_addresses(self):
        with polysock.socket(polysock.AF_INET6) as s:
            self.assertRaises(TypeError, s.bind, ("::1", 0, 0, 0, 0))
            self.assertRaises(OverflowError, s.bind, ("::1", 0, 1 << 20))
            with self.assertRaises(OSError) as cm:
                s.bind(("fe80::1%nosuchif", 0))
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            self.assertIn("nosuchif", str(cm.exception))

    def test_unix_addresses(self):
        with polysock.socket(polysock.AF_UNIX) as s:
            self.assertRaises(TypeError, s.bind, ("path", 0))
            self.assertRaises(ValueError, s.bind, self.path("a\0b"))

    def test_data(self):
        self.assertRaises(TypeError, self.s.send, "str")
        self.assertRaises(TypeError, self.s.sendall, 5)
        self.assertRaises(TypeError, self.s.sendto, "str", ("127.0.0.1", 9))
        self.assertRaises(OverflowError, self.s.send, b"x", 1 << 40)


if __name__ == "__main__":
    unittest.main()
