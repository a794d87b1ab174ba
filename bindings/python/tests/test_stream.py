"""Stream sockets: echo servers and clients over IPv4, IPv6 and Unix
sockets, and the socket object's lifecycle, identity and options."""

import errno
import gc
import os
import struct
import threading
import time
import unittest
import warnings

from support import (
    LINUX,
    WAIT,
    TempDirCase,
    Thread,
    echo_one,
    listener,
    polysock,
    recv_exactly,
    skip_no_ipv6,
)


def client(family, address):
    c = polysock.socket(family, polysock.SOCK_STREAM)
    c.settimeout(WAIT)
    c.connect(address)
    return c


class EchoTest(TempDirCase):
    def echo(self, server, family, address):
        done = Thread(echo_one, server)
        with client(family, address) as c:
            for message in (b"hello", b"x" * 1000, bytes(range(256))):
                c.sendall(message)
                self.assertEqual(recv_exactly(c, len(message)), message)
            c.shutdown(polysock.SHUT_WR)
            self.assertEqual(c.recv(10), b"")
        self.assertEqual(done.result(), 5 + 1000 + 256)

    def test_ipv4(self):
        with listener() as s:
            host, port = s.getsockname()
            self.assertEqual(host, "127.0.0.1")
            self.assertGreater(port, 0)
            self.echo(s, polysock.AF_INET, ("127.0.0.1", port))

    def test_ipv4_by_name_localhost(self):
        with listener() as s:
            self.echo(s, polysock.AF_INET, ("localhost", s.getsockname()[1]))

    @skip_no_ipv6
    def test_ipv6(self):
        with listener(polysock.AF_INET6, "::1") as s:
            address = s.getsockname()
            self.assertEqual(len(address), 4)
            self.assertEqual(address[0], "::1")
            self.assertEqual(address[2:], (0, 0))
            self.echo(s, polysock.AF_INET6, address)

    @skip_no_ipv6
    def test_ipv6_two_tuple(self):
        with listener(polysock.AF_INET6, "::1") as s:
            self.echo(s, polysock.AF_INET6, ("::1", s.getsockname()[1]))

    def test_unix_path(self):
        path = self.path("echo.sock")
        with polysock.socket(polysock.AF_UNIX, polysock.SOCK_STREAM) as s:
            s.settimeout(WAIT)
            s.bind(path)
            s.listen()
            self.assertEqual(s.getsockname(), path)
            self.assertIsInstance(s.getsockname(), str)
            self.echo(s, polysock.AF_UNIX, path)

    def test_unix_bytes_path(self):
        path = self.path("bytes.sock")
        with polysock.socket(polysock.AF_UNIX) as s:
            s.bind(os.fsencode(path))
            s.listen()
            s.settimeout(WAIT)
            self.echo(s, polysock.AF_UNIX, os.fsencode(path))

    @unittest.skipUnless(LINUX, "abstract Unix names are Linux's")
    def test_unix_abstract(self):
        name = b"\0polysock-py-%d" % os.getpid()
        with polysock.socket(polysock.AF_UNIX) as s:
            s.settimeout(WAIT)
            s.bind(name)
            s.listen()
            self.assertEqual(s.getsockname(), name)
            self.echo(s, polysock.AF_UNIX, name)

    def test_large_sendall_with_a_reader_thread(self):
        data = os.urandom(4 * 1024 * 1024)
        with listener() as s:
            received = Thread(lambda: self._drain(s))
            with client(polysock.AF_INET, s.getsockname()) as c:
                c.sendall(memoryview(data))
            self.assertEqual(received.result(), data)

    def _drain(self, s):
        conn, _ = s.accept()
        with conn:
            conn.settimeout(WAIT)
            chunks = []
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)


class ConnectionTest(unittest.TestCase):
    def setUp(self):
        self.server = listener()
        self.addCleanup(self.server.close)
        self.client = client(polysock.AF_INET, self.server.getsockname())
        self.addCleanup(self.client.close)
        self.conn, self.peer = self.server.accept()
        self.addCleanup(self.conn.close)
        self.conn.settimeout(WAIT)

    def test_accept_gives_the_peer_address(self):
        self.assertEqual(self.peer, self.client.getsockname())
        self.assertEqual(self.conn.getpeername(), self.client.getsockname())
        self.assertEqual(self.client.getpeername(), self.server.getsockname())
        self.assertIsInstance(self.conn, polysock.socket)

    def test_identity(self):
        self.assertEqual(self.conn.family, polysock.AF_INET)
        self.assertIsInstance(self.conn.family, polysock.AddressFamily)
        self.assertEqual(self.conn.type, polysock.SOCK_STREAM)
        self.assertIsInstance(self.conn.type, polysock.SocketKind)
        self.assertIn(self.conn.proto, (0, polysock.IPPROTO_TCP))
        self.assertGreaterEqual(self.conn.fileno(), 0)
        text = repr(self.conn)
        self.assertTrue(text.startswith("<polysock.socket fd="), text)
        self.assertIn("laddr=('127.0.0.1', %d)" % self.server.getsockname()[1], text)
        self.assertIn("raddr=", text)

    def test_recv_into_and_peek(self):
        self.client.sendall(b"abcdef")
        self.assertEqual(self.conn.recv(3, polysock.MSG_PEEK), b"abc")
        buf = bytearray(10)
        n = self.conn.recv_into(buf, 4)
        self.assertEqual((n, bytes(buf[:4])), (4, b"abcd"))
        view = memoryview(buf)[5:]
        n = self.conn.recv_into(view)
        self.assertEqual(bytes(view[:n]), b"ef"[:n])

    def test_recv_into_rejects_bad_buffers(self):
        self.assertRaises(TypeError, self.conn.recv_into, b"read-only")
        self.assertRaises(ValueError, self.conn.recv_into, bytearray(2), 5)
        self.assertRaises(ValueError, self.conn.recv_into, bytearray(2), -1)
        self.assertRaises(ValueError, self.conn.recv, -1)

    def test_send_accepts_bytes_likes(self):
        self.assertEqual(self.client.send(b"one"), 3)
        self.assertEqual(self.client.send(bytearray(b"two")), 3)
        self.assertEqual(self.client.send(memoryview(b"xthreex")[1:6]), 5)
        self.client.sendall(memoryview(bytearray(b"four")))
        self.assertEqual(recv_exactly(self.conn, 15), b"onetwothreefour")
        self.assertRaises(TypeError, self.client.send, "text")

    def test_recvfrom_on_a_stream(self):
        self.client.sendall(b"hi")
        data, address = self.conn.recvfrom(10)
        self.assertEqual(data, b"hi")
        self.assertIn(address, (None, self.client.getsockname()))

    def test_shutdown(self):
        self.client.shutdown(polysock.SHUT_WR)
        self.assertEqual(self.conn.recv(10), b"")
        self.conn.sendall(b"still open the other way")
        self.assertEqual(recv_exactly(self.client, 24), b"still open the other way")

    def test_int_and_bytes_options(self):
        self.conn.setsockopt(polysock.IPPROTO_TCP, polysock.TCP_NODELAY, 1)
        self.assertEqual(self.conn.getsockopt(polysock.IPPROTO_TCP, polysock.TCP_NODELAY), 1)
        self.conn.setsockopt(polysock.SOL_SOCKET, polysock.SO_KEEPALIVE, True)
        self.assertEqual(self.conn.getsockopt(polysock.SOL_SOCKET, polysock.SO_KEEPALIVE), 1)
        linger = struct.pack("ii", 1, 5)
        self.conn.setsockopt(polysock.SOL_SOCKET, polysock.SO_LINGER, linger)
        raw = self.conn.getsockopt(polysock.SOL_SOCKET, polysock.SO_LINGER, 8)
        self.assertEqual(struct.unpack("ii", raw), (1, 5))
        self.assertEqual(
            self.conn.getsockopt(polysock.SOL_SOCKET, polysock.SO_TYPE), polysock.SOCK_STREAM
        )
        self.assertRaises(OSError, self.conn.getsockopt, polysock.SOL_SOCKET, polysock.SO_LINGER, 0)


class LifecycleTest(TempDirCase):
    def test_close_twice_and_use_after_close(self):
        s = polysock.socket()
        s.close()
        s.close()
        self.assertEqual(s.fileno(), -1)
        with self.assertRaises(OSError) as cm:
            s.bind(("127.0.0.1", 0))
        self.assertEqual(cm.exception.errno, errno.EBADF)
        self.assertIn("[closed]", repr(s))

    def test_context_manager_closes(self):
        with polysock.socket() as s:
            self.assertGreaterEqual(s.fileno(), 0)
        self.assertEqual(s.fileno(), -1)

    def test_collection_warns_and_closes(self):
        s = polysock.socket()
        fd = s.fileno()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del s
            gc.collect()
        found = [w for w in caught if issubclass(w.category, ResourceWarning)]
        self.assertEqual(len(found), 1)
        self.assertIn("unclosed", str(found[0].message))
        # The fd was closed.
        with self.assertRaises(OSError):
            os.fstat(fd)
        self.assertEqual(polysock._abi.polysock_handle_of_fd(fd), -1)

    def test_detach_gives_the_fd(self):
        s = polysock.socket()
        fd = s.detach()
        self.assertGreaterEqual(fd, 0)
        self.assertEqual(s.fileno(), -1)
        self.assertEqual(s.detach(), -1)
        # The fd is ours now: wrap it again (socket(fileno=) takes ownership).
        t = polysock.socket(fileno=fd)
        self.assertEqual(t.fileno(), fd)
        self.assertEqual(t.family, polysock.AF_INET)
        self.assertEqual(t.type, polysock.SOCK_STREAM)
        t.close()
        self.assertRaises(OSError, os.fstat, fd)

    def test_dup_and_fromfd(self):
        with listener() as s:
            d = s.dup()
            f = polysock.fromfd(s.fileno(), polysock.AF_INET, polysock.SOCK_STREAM)
            self.assertEqual(d.gettimeout(), s.gettimeout())
            self.assertEqual(f.gettimeout(), polysock.getdefaulttimeout())
            for other in (d, f):
                with other:
                    self.assertNotEqual(other.fileno(), s.fileno())
                    self.assertEqual(other.getsockname(), s.getsockname())
            # s is still usable after its duplicates closed.
            self.assertEqual(s.getsockname()[0], "127.0.0.1")

    def test_socketpair(self):
        a, b = polysock.socketpair()
        with a, b:
            self.assertEqual(a.family, polysock.AF_UNIX)
            a.settimeout(WAIT)
            b.settimeout(WAIT)
            a.sendall(b"ping")
            self.assertEqual(recv_exactly(b, 4), b"ping")
            b.sendall(b"pong")
            self.assertEqual(recv_exactly(a, 4), b"pong")
            self.assertEqual(a.getsockname(), "")

    def test_listen_backlogs(self):
        for backlog in (None, 0, 5, -3):
            with polysock.socket() as s:
                s.bind(("127.0.0.1", 0))
                if backlog is None:
                    s.listen()
                else:
                    s.listen(backlog)
                self.assertEqual(s.getsockopt(polysock.SOL_SOCKET, polysock.SO_ACCEPTCONN), 1)

    def test_unbound_unix_names(self):
        with polysock.socket(polysock.AF_UNIX) as s:
            self.assertEqual(s.getsockname(), "")

    def test_default_arguments(self):
        with polysock.socket() as s:
            self.assertEqual((s.family, s.type, s.proto), (polysock.AF_INET, polysock.SOCK_STREAM, 0))
        with polysock.socket(polysock.AF_INET, polysock.SOCK_DGRAM) as s:
            self.assertEqual(s.type, polysock.SOCK_DGRAM)

    def test_close_wakes_a_blocked_thread(self):
        a, b = polysock.socketpair()
        with a:
            b.settimeout(WAIT)
            started = threading.Event()

            def blocked():
                started.set()
                return b.recv(10)

            waiter = Thread(blocked)
            started.wait(WAIT)
            time.sleep(0.05)  # let it block in recv (the outcome is the same if not)
            b.close()
            with self.assertRaises(OSError) as cm:
                waiter.result()
            self.assertEqual(cm.exception.errno, errno.EBADF)

    def test_cannot_pickle(self):
        import pickle

        with polysock.socket() as s:
            self.assertRaises(TypeError, pickle.dumps, s)


if __name__ == "__main__":
    unittest.main()
