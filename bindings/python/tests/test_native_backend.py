"""What only the native backend (polysock._native, the C extension) has to
prove: the GIL is released while a call blocks, data goes straight to and
from the caller's buffers, and bad input or a closed socket raises, never
crashes. Skipped where the native module is not built, except when
POLYSOCK_BACKEND=native asks for it (then its absence fails)."""

import errno
import os
import signal
import sys
import threading
import time
import tracemalloc
import unittest
import warnings
from array import array
from contextlib import closing

import support  # puts this checkout's polysock first on sys.path
from support import WAIT, Thread

try:
    from polysock import _native
except ImportError as e:
    if os.environ.get("POLYSOCK_BACKEND") == "native":
        raise
    _native = None
    WHY = str(e)

needs_native = unittest.skipIf(_native is None, "polysock._native is not built")


def pair():
    a, b = _native.socketpair()
    a.settimeout(WAIT)
    b.settimeout(WAIT)
    return a, b


def tcp_pair():
    srv = _native.socket(_native_af_inet(), 1, 0)
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    c = _native.socket(_native_af_inet(), 1, 0)
    c.settimeout(WAIT)
    c.connect(srv.getsockname())
    return srv, c


def _native_af_inet():
    import socket

    return int(socket.AF_INET)


@needs_native
class GilReleased(unittest.TestCase):
    def test_another_thread_runs_while_recv_blocks(self):
        a, b = pair()
        with closing(a), closing(b):
            started = threading.Event()

            def receive():
                started.set()
                return b.recv(16)

            t = Thread(receive)
            self.assertTrue(started.wait(WAIT))
            time.sleep(0.05)  # let the thread enter recv
            # Python code runs here only if recv gave up the GIL.
            spins, start = 0, time.monotonic()
            while time.monotonic() - start < 0.2:
                spins += 1
            self.assertGreater(spins, 1000)
            self.assertLess(time.monotonic() - start, 2.0)
            self.assertTrue(t._thread.is_alive(), "recv returned without data")
            a.sendall(b"wake")
            self.assertEqual(t.result(), b"wake")

    def test_close_from_another_thread_wakes_recv(self):
        a, b = pair()
        with closing(a):
            t = Thread(b.recv, 16)
            time.sleep(0.1)
            b.close()
            with self.assertRaises(OSError) as cm:
                t.result()
            self.assertEqual(cm.exception.errno, errno.EBADF)


@needs_native
class NoCopy(unittest.TestCase):
    def test_recv_into_writes_the_callers_buffer(self):
        a, b = pair()
        with closing(a), closing(b):
            buf = bytearray(b"-" * 16)
            a.sendall(b"hello")
            self.assertEqual(b.recv_into(memoryview(buf)[4:], 5), 5)
            self.assertEqual(buf, b"----hello-------")
            arr = array("i", [0, 0])
            a.sendall(b"\x01\x00\x00\x00\x02\x00\x00\x00")
            self.assertEqual(b.recv_into(arr), 8)
            self.assertEqual(arr.tolist(), [1, 2])

    def test_recvfrom_into_writes_the_callers_buffer(self):
        a, b = pair()
        with closing(a), closing(b):
            buf = bytearray(8)
            a.sendall(b"abc")
            n, _ = b.recvfrom_into(buf, nbytes=3)
            self.assertEqual((n, bytes(buf)), (3, b"abc\0\0\0\0\0"))

    def test_recv_allocates_once_and_shrinks(self):
        a, b = pair()
        with closing(a), closing(b):
            a.sendall(b"12345")
            data = b.recv(1 << 20)
            self.assertIs(type(data), bytes)
            self.assertEqual(data, b"12345")

    def test_sendall_sends_from_the_buffer(self):
        # 8 MiB through a memoryview: a copy would show in tracemalloc.
        a, b = pair()
        size = 8 << 20
        payload = bytearray(os.urandom(1 << 16)) * (size >> 16)

        def drain():
            got, sink = 0, bytearray(1 << 16)
            while got < size:
                got += b.recv_into(sink)
            return got

        with closing(a), closing(b):
            t = Thread(drain)
            tracemalloc.start()
            try:
                a.sendall(memoryview(payload))
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            self.assertEqual(t.result(), size)
            self.assertLess(peak, 1 << 20)

    def test_recv_makes_one_object_of_its_size(self):
        a, b = pair()
        with closing(a), closing(b):
            a.sendall(b"x" * (64 << 10))
            tracemalloc.start()
            try:
                data = b.recv(1 << 20)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            self.assertGreater(len(data), 0)
            self.assertLess(peak, (1 << 20) + (1 << 16))


@needs_native
class BadInput(unittest.TestCase):
    def test_bad_types_raise_type_error(self):
        a, b = pair()
        with closing(a), closing(b):
            for call, args in [
                (b.recv, ("10",)),
                (b.recv, (1.5,)),
                (b.recv, ()),
                (b.recv_into, (b"immutable",)),
                (b.recv_into, ("str",)),
                (b.recvfrom_into, (None,)),
                (a.send, ("str",)),
                (a.sendall, (12,)),
                (a.sendall, (b"x", "flags")),
                (b.settimeout, ("1",)),
                (a.setsockopt, (1, 2, "x")),
                (a.shutdown, ("x",)),
            ]:
                with self.subTest(call=call.__name__, args=args):
                    self.assertRaises(TypeError, call, *args)
            self.assertRaises(TypeError, b.recv_into, bytearray(4), bogus=1)
            self.assertRaises(TypeError, b.recv_into, bytearray(4), 2, buffer=bytearray(2))

    def test_bad_values(self):
        a, b = pair()
        with closing(a), closing(b):
            self.assertRaises(ValueError, b.recv, -1)
            self.assertRaises(ValueError, b.recv_into, bytearray(4), 5)
            self.assertRaises(ValueError, b.recv_into, bytearray(4), -1)
            self.assertRaises(ValueError, b.settimeout, -1)
            self.assertRaises(OverflowError, b.recv, 1 << 70)

    def test_bad_addresses(self):
        srv, c = tcp_pair()
        with closing(srv), closing(c):
            s = _native.socket()
            with closing(s):
                self.assertRaises(TypeError, s.connect, "127.0.0.1")
                self.assertRaises(TypeError, s.connect, ("127.0.0.1",))
                self.assertRaises(TypeError, s.connect, ("127.0.0.1", "80"))
                self.assertRaises(TypeError, s.connect, (12, 80))
                self.assertRaises(TypeError, s.connect, ("127.0.0.1\0", 80))
                self.assertRaises(OverflowError, s.connect, ("127.0.0.1", 65536))
                self.assertRaises(OverflowError, s.connect, ("127.0.0.1", -1))
                self.assertRaises(TypeError, s.sendto, b"x", "nowhere")

    def test_closed_socket_raises_ebadf(self):
        a, b = pair()
        a.close()
        b.close()
        a.close()  # twice is harmless
        for call, args in [
            (a.recv, (4,)),
            (a.recv_into, (bytearray(4),)),
            (a.recvfrom, (4,)),
            (a.recvfrom_into, (bytearray(4),)),
            (a.send, (b"x",)),
            (a.sendall, (b"x",)),
            (a.listen, ()),
            (a.getsockname, ()),
            (a.getpeername, ()),
            (a.settimeout, (1.0,)),
            (a.gettimeout, ()),
            (a.setblocking, (False,)),
            (a.shutdown, (2,)),
            (a.getsockopt, (1, 2)),
            (a.setsockopt, (1, 2, 1)),
            (a._accept, ()),
        ]:
            with self.subTest(call=call.__name__):
                with self.assertRaises(OSError) as cm:
                    call(*args)
                self.assertEqual(cm.exception.errno, errno.EBADF)
        self.assertEqual(a.fileno(), -1)
        self.assertEqual(a.detach(), -1)

    def test_unclosed_socket_warns(self):
        s = _native.socket()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del s
        self.assertTrue(any(issubclass(w.category, ResourceWarning) for w in caught))


@needs_native
class Addresses(unittest.TestCase):
    def test_udp_sendto_recvfrom(self):
        import socket

        a = _native.socket(int(socket.AF_INET), int(socket.SOCK_DGRAM), 0)
        b = _native.socket(int(socket.AF_INET), int(socket.SOCK_DGRAM), 0)
        with closing(a), closing(b):
            b.settimeout(WAIT)
            b.bind(("127.0.0.1", 0))
            a.bind(("127.0.0.1", 0))
            self.assertEqual(a.sendto(b"one", b.getsockname()), 3)
            self.assertEqual(a.sendto(b"two", 0, b.getsockname()), 3)
            self.assertEqual(b.recvfrom(64), (b"one", a.getsockname()))
            buf = bytearray(8)
            self.assertEqual(b.recvfrom_into(buf), (3, a.getsockname()))
            self.assertEqual(buf[:3], b"two")

    @unittest.skipUnless(support.HAVE_IPV6, "::1 is not available here")
    def test_ipv6_four_tuple(self):
        import socket

        s = _native.socket(int(socket.AF_INET6), int(socket.SOCK_STREAM), 0)
        with closing(s):
            s.bind(("::1", 0, 0, 0))
            host, port, flowinfo, scope_id = s.getsockname()
            self.assertEqual((host, flowinfo, scope_id), ("::1", 0, 0))
            self.assertGreater(port, 0)

    @unittest.skipUnless(support.LINUX, "abstract names are Linux's")
    def test_unix_abstract_and_path(self):
        import socket

        name = b"\0polysock-native-%d" % os.getpid()
        s = _native.socket(int(socket.AF_UNIX), int(socket.SOCK_STREAM), 0)
        with closing(s):
            s.bind(name)
            self.assertEqual(s.getsockname(), name)
        s = _native.socket(int(socket.AF_UNIX), int(socket.SOCK_STREAM), 0)
        with closing(s):
            self.assertRaises(ValueError, s.bind, "/tmp/a\0b")
            self.assertRaises(TypeError, s.bind, 12)
        a, b = pair()
        with closing(a), closing(b):
            self.assertEqual(a.getsockname(), "")


@needs_native
@unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
class Signals(unittest.TestCase):
    def test_timed_wait_stays_bounded_when_a_signal_arrives(self):
        # polysock resumes after the signal with the time that remains: the
        # call ends at its timeout, and the handler has run by then.
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signals are handled in the main thread")
        seen = []
        old = signal.signal(signal.SIGALRM, lambda *_: seen.append(1))
        a, b = pair()
        try:
            with closing(a), closing(b):
                b.settimeout(0.5)
                signal.setitimer(signal.ITIMER_REAL, 0.05)
                start = time.monotonic()
                with self.assertRaises(TimeoutError):
                    b.recv(4)
                elapsed = time.monotonic() - start
                for _ in range(100):  # the handler runs between bytecodes
                    if seen:
                        break
                    time.sleep(0.01)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 5.0)
        self.assertEqual(seen, [1])


if __name__ == "__main__":
    unittest.main()
