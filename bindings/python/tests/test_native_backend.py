"""What only the native backend (polysock._native, the C extension) has to
prove: the GIL is released while a call blocks, data goes straight to and
from the caller's buffers, and bad input or a closed socket raises, never
crashes. Skipped where the native module is not built, except when
POLYSOCK_BACKEND=native asks for it (then its absence fails)."""

import contextlib
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
        a.settimeout(2.5)
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
        # The timeout stays readable, as CPython's.
        self.assertEqual((a.gettimeout(), a.timeout, a.getblocking()), (2.5, 2.5, True))
        c, d = pair()
        d.close()
        c.setblocking(False)
        os.close(c.detach())
        self.assertEqual((c.gettimeout(), c.getblocking(), c.handle), (0.0, False, -1))

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
    def test_ipv6_scope_is_scope_id_not_the_hosts_suffix(self):
        import socket

        # A link-scope multicast group bound on lo: a scoped address with no
        # traffic (CPython >= 3.7 reports the scope only in scope_id).
        index = socket.if_nametoindex("lo")
        with closing(_native.socket(int(socket.AF_INET6), int(socket.SOCK_DGRAM), 0)) as s:
            s.bind(("ff02::1de:c0:face:8d", 0, 0, index))
            host, port, flowinfo, scope_id = s.getsockname()
            self.assertEqual((host, flowinfo, scope_id), ("ff02::1de:c0:face:8d", 0, index))

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
def raise_from_handler(*_):
    signal.setitimer(signal.ITIMER_REAL, 0)
    raise ZeroDivisionError("from the handler")


@contextlib.contextmanager
def sigalrm_handler(handler):
    """A connected pair while `handler` handles SIGALRM; the old handler
    is back and the timer off afterwards."""
    old = signal.signal(signal.SIGALRM, handler)
    a, b = pair()
    try:
        with closing(a), closing(b):
            yield a, b
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


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

    def test_a_handlers_exception_replaces_the_calls_error(self):
        # As CPython's module ends an interrupted call (PEP 475): the
        # exception raised by the handler, not the call's TimeoutError.
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signals are handled in the main thread")

        with sigalrm_handler(raise_from_handler) as (_, b):
            b.settimeout(0.3)
            for call in (lambda: b.recv(4), lambda: b.recvmsg(4, 64),
                         lambda: b.recv_into(bytearray(4))):
                signal.setitimer(signal.ITIMER_REAL, 0.05)
                with self.assertRaises(ZeroDivisionError):
                    call()
            # No signal: the call's own error.
            with self.assertRaises(TimeoutError):
                b.recv(4)

    def test_a_raising_handler_ends_the_wait_at_once(self):
        # The module's interrupt hook runs the handler during the wait: a
        # 5 s recv ends with the handler's exception when the signal comes
        # (0.1 s), not when the timeout passes.
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signals are handled in the main thread")

        with sigalrm_handler(raise_from_handler) as (_, b):
            b.settimeout(5)
            # Repeated until handled: a signal landing between system calls
            # (a loaded machine) interrupts nothing; the next one does.
            signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
            start = time.monotonic()
            with self.assertRaises(ZeroDivisionError):
                b.recv(4)
            self.assertLess(time.monotonic() - start, 2.5)
            # A handler that returns lets the call resume to its timeout.
            signal.signal(signal.SIGALRM, lambda *_: None)
            b.settimeout(0.4)
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            with self.assertRaises(TimeoutError):
                b.recv(4)


def udp_pair():
    import socket

    a = _native.socket(int(socket.AF_INET), int(socket.SOCK_DGRAM), 0)
    b = _native.socket(int(socket.AF_INET), int(socket.SOCK_DGRAM), 0)
    for s in (a, b):
        s.settimeout(WAIT)
        s.bind(("127.0.0.1", 0))
    return a, b


def rights(*fds):
    import socket

    return [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array("i", fds))]


@needs_native
class Messages(unittest.TestCase):
    def test_sendmsg_gathers_and_recvmsg_returns_cpythons_tuple(self):
        a, b = pair()
        with closing(a), closing(b):
            self.assertEqual(a.sendmsg([b"ab", bytearray(b"cd"), memoryview(b"ef")]), 6)
            self.assertEqual(b.recvmsg(16), (b"abcdef", [], 0, None))
            self.assertEqual(a.sendmsg(iter([b"gen"]), [], 0, None), 3)
            self.assertEqual(b.recvmsg(16, 0, 0)[0], b"gen")

    def test_recvmsg_into_scatters_into_the_callers_buffers(self):
        a, b = pair()
        with closing(a), closing(b):
            first, second = bytearray(2), bytearray(b"------")
            a.sendall(b"hello")
            self.assertEqual(b.recvmsg_into([first, memoryview(second)[1:]]), (5, [], 0, None))
            self.assertEqual((first, second), (b"he", b"-llo--"))

    def test_many_buffers(self):
        a, b = pair()
        with closing(a), closing(b):
            self.assertEqual(a.sendmsg([bytes([i]) for i in range(40)]), 40)
            bufs = [bytearray(1) for _ in range(40)]
            self.assertEqual(b.recvmsg_into(bufs)[0], 40)
            self.assertEqual(b"".join(bufs), bytes(range(40)))

    def test_datagram_address_and_truncation(self):
        import socket

        a, b = udp_pair()
        with closing(a), closing(b):
            self.assertEqual(a.sendmsg([b"hello ", b"world"], [], 0, b.getsockname()), 11)
            data, anc, flags, addr = b.recvmsg(5)
            self.assertEqual((data, anc, addr), (b"hello", [], a.getsockname()))
            self.assertTrue(flags & socket.MSG_TRUNC)
            a.sendmsg([b"1234"], [], 0, b.getsockname())
            n, _, flags, addr = b.recvmsg_into([bytearray(8)])
            self.assertEqual((n, flags, addr), (4, 0, a.getsockname()))

    def test_zero_length_receives(self):
        import socket

        a, b = udp_pair()
        with closing(a), closing(b):
            # A datagram socket consumes one datagram, as the system call does.
            for receive in (lambda: b.recvmsg(0), lambda: b.recvmsg_into([bytearray()])):
                a.sendto(b"gone", b.getsockname())
                got, _, flags, addr = receive()
                self.assertIn(got, (b"", 0))
                self.assertTrue(flags & socket.MSG_TRUNC)
                self.assertEqual(addr, a.getsockname())
            a.sendto(b"x", b.getsockname())
            self.assertEqual(b.recv(0), b"")
            a.sendto(b"y", b.getsockname())
            self.assertEqual(b.recvfrom(0), (b"", a.getsockname()))
            a.sendto(b"next", b.getsockname())
            self.assertEqual(b.recv(16), b"next")
        c, d = pair()
        with closing(c), closing(d):
            # A stream returns at once and keeps its bytes.
            c.sendall(b"kept")
            self.assertEqual(d.recvmsg(0), (b"", [], 0, None))
            self.assertEqual(d.recvmsg_into([]), (0, [], 0, None))
            self.assertEqual(d.recv(16), b"kept")


@needs_native
class FdPassing(unittest.TestCase):
    def test_scm_rights_passes_a_socket(self):
        import socket

        a, b = pair()
        x, y = pair()
        with closing(a), closing(b), closing(x), closing(y):
            self.assertEqual(a.sendmsg([b"fd"], rights(x.fileno())), 2)
            data, anc, flags, addr = b.recvmsg(16, socket.CMSG_SPACE(4))
            self.assertEqual((data, flags, addr, len(anc)), (b"fd", 0, None, 1))
            level, kind, raw = anc[0]
            self.assertEqual((level, kind, len(raw)), (socket.SOL_SOCKET, socket.SCM_RIGHTS, 4))
            fd = array("i", raw)[0]
            self.assertNotEqual(fd, x.fileno())
            with closing(_native.socket(fileno=fd)) as passed:
                passed.sendall(b"through the copy")
                self.assertEqual(y.recv(64), b"through the copy")

    def test_a_standard_modules_socket_and_scattered_buffers(self):
        import socket

        a, b = pair()
        x, y = socket.socketpair()
        with closing(a), closing(b), x, y:
            y.settimeout(WAIT)
            self.assertEqual(a.sendmsg([b"ab", b"", b"cd"], rights(x.fileno())), 4)
            first, second = bytearray(1), bytearray(8)
            n, anc, flags, _ = b.recvmsg_into([first, second], socket.CMSG_SPACE(4))
            self.assertEqual((n, first, second[:3], flags), (4, b"a", b"bcd", 0))
            fd = array("i", anc[0][2])[0]
            with socket.socket(fileno=fd) as passed:
                passed.sendall(b"std")
                self.assertEqual(y.recv(8), b"std")

    def test_no_room_for_the_descriptor_sets_msg_ctrunc(self):
        import socket

        a, b = pair()
        x, y = pair()
        with closing(a), closing(b), closing(x), closing(y):
            before = len(os.listdir("/proc/self/fd"))
            for room in (0, socket.CMSG_LEN(4) - 1):
                a.sendmsg([b"q"], rights(x.fileno()))
                data, anc, flags, _ = b.recvmsg(16, room)
                self.assertEqual((data, anc), (b"q", []))
                self.assertTrue(flags & socket.MSG_CTRUNC)
            # The dropped descriptors were closed, not leaked.
            self.assertEqual(len(os.listdir("/proc/self/fd")), before)

    def test_many_descriptors_of_any_kind_in_several_items(self):
        import socket

        a, b = pair()
        x, y = pair()
        r, w = os.pipe()
        with closing(a), closing(b), closing(x), closing(y), open(__file__, "rb") as f:
            try:
                anc = rights(x.fileno(), r) + rights(w, f.fileno())
                self.assertEqual(a.sendmsg([b"four"], anc), 4)
                data, got, flags, _ = b.recvmsg(16, socket.CMSG_SPACE(4 * 4))
                self.assertEqual((data, flags), (b"four", 0))
                fds = [fd for level, kind, raw in got for fd in array("i", raw)]
                self.assertEqual(len(fds), 4)
                try:
                    for fd in fds:
                        self.assertTrue(os.get_inheritable(fd) is False)  # close-on-exec
                    os.write(fds[2], b"pipe")
                    self.assertEqual(os.read(fds[1], 8), b"pipe")
                    self.assertEqual(os.pread(fds[3], 3, 0), b'"""')
                finally:
                    for fd in fds:
                        os.close(fd)
            finally:
                os.close(r)
                os.close(w)

    def test_room_for_fewer_descriptors_keeps_what_fits(self):
        import socket

        a, b = pair()
        x, y = pair()
        with closing(a), closing(b), closing(x), closing(y):
            before = len(os.listdir("/proc/self/fd"))
            a.sendmsg([b"3"], rights(x.fileno(), y.fileno(), a.fileno()))
            data, anc, flags, _ = b.recvmsg(16, socket.CMSG_LEN(4))
            self.assertTrue(flags & socket.MSG_CTRUNC)
            self.assertEqual([(lv, k, len(raw)) for lv, k, raw in anc],
                             [(socket.SOL_SOCKET, socket.SCM_RIGHTS, 4)])
            os.close(array("i", anc[0][2])[0])
            # The two that did not fit were closed by the kernel.
            self.assertEqual(len(os.listdir("/proc/self/fd")), before)

    def test_credentials_and_an_unconnected_datagram_sender(self):
        import socket
        import struct
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            a = _native.socket(int(socket.AF_UNIX), int(socket.SOCK_DGRAM), 0)
            b = _native.socket(int(socket.AF_UNIX), int(socket.SOCK_DGRAM), 0)
            with closing(a), closing(b):
                for s, name in ((a, "a"), (b, "b")):
                    s.settimeout(WAIT)
                    s.bind(os.path.join(d, name))
                b.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
                creds = struct.pack("iII", os.getpid(), os.getuid(), os.getgid())
                anc = [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)]
                self.assertEqual(a.sendmsg([b"who"], anc, 0, os.path.join(d, "b")), 3)
                data, got, flags, addr = b.recvmsg(8, socket.CMSG_SPACE(len(creds)))
                self.assertEqual((data, flags, addr), (b"who", 0, os.path.join(d, "a")))
                self.assertEqual(got, [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)])

    def test_what_the_kernel_refuses_raises_its_error(self):
        import socket

        a, b = pair()
        x, y = pair()
        with closing(a), closing(b), closing(y):
            r, w = os.pipe()
            os.close(r)
            os.close(w)
            cases = [
                (rights(r), errno.EBADF),  # closed above
                ([(socket.SOL_SOCKET, 12345, b"")], errno.EINVAL),
            ]
            for anc, code in cases:
                with self.assertRaises(OSError) as cm:
                    a.sendmsg([b"x"], anc)
                self.assertEqual(cm.exception.errno, code, anc)
            b.settimeout(0)
            with self.assertRaises(BlockingIOError):
                b.recvmsg(1, 64)  # nothing was sent by the refused calls
        u, v = udp_pair()
        with closing(u), closing(v), closing(x):
            # IP sockets ignore SCM_RIGHTS (the kernel's choice): the
            # datagram goes, without the descriptor.
            u.connect(v.getsockname())
            self.assertEqual(u.sendmsg([b"x"], rights(x.fileno())), 1)
            self.assertEqual(v.recvmsg(4, 64)[:3], (b"x", [], 0))


@needs_native
class MessageBadInput(unittest.TestCase):
    def test_bad_types_raise_type_error(self):
        a, b = pair()
        with closing(a), closing(b):
            for args in [(), (b"not in an iterable",), (object(),), ([object()],),
                         ([b"x"], [b"abc"]), ([b"x"], [(0, 0, b""), object()]),
                         ([b"x"], [(0, 0, "str")]),
                         ([b"x", "str"],), ([b"x"], object()), ([b"x"], [], object()),
                         ([b"x"], [], 0, object()), ([b"x"], [object()]),
                         ([b"x"], [(object(), 0, b"")]), ([b"x"], [(0, object(), b"")]),
                         ([b"x"], [(0, 0, object())]), ([b"x"], [(0, 0)]),
                         ([b"x"], [(0, 0, b"", 42)]), ([b"x"], [0, 0, b""]),
                         ([b"x"], [], 0, None, 1)]:
                with self.assertRaises(TypeError, msg=args):
                    a.sendmsg(*args)
            for args in [(), ([bytearray(1)],), (object(),), (1, object()), (1, 0, object()),
                         (1, 0, 0, 0)]:
                with self.assertRaises(TypeError, msg=args):
                    b.recvmsg(*args)
            buf = bytearray(4)
            for args in [(), (4,), (buf,), ([object()],), ([b"read-only"],),
                         ([buf, object()],), ([buf], object()), ([buf], 0, object())]:
                with self.assertRaises(TypeError, msg=args):
                    b.recvmsg_into(*args)
            b.settimeout(0)
            with self.assertRaises(BlockingIOError):
                b.recvmsg(1)  # nothing was sent

    def test_bad_values(self):
        a, b = pair()
        with closing(a), closing(b):
            for call in (lambda: b.recvmsg(-1), lambda: b.recvmsg(1, -1),
                         lambda: b.recvmsg_into([bytearray(1)], -1)):
                self.assertRaises(ValueError, call)
            self.assertRaises(OverflowError, b.recvmsg, 1, 0, 1 << 40)
            with self.assertRaises(OSError) as cm:
                a.sendmsg([b"x"] * 1025)
            self.assertEqual(cm.exception.errno, errno.EMSGSIZE)
            with self.assertRaises(OSError) as cm:
                b.recvmsg_into([bytearray(1)] * 1025)
            self.assertEqual(cm.exception.errno, errno.EMSGSIZE)

    def test_bad_addresses(self):
        u, v = udp_pair()
        with closing(u), closing(v):
            self.assertRaises(TypeError, u.sendmsg, [b"x"], [], 0, "127.0.0.1")
            self.assertRaises(TypeError, u.sendmsg, [b"x"], [], 0, ("127.0.0.1",))
            self.assertRaises(OverflowError, u.sendmsg, [b"x"], [], 0, ("127.0.0.1", 70000))
            self.assertRaises(TypeError, u.sendmsg, [b"x"], [], 0, ("127.0.0.\0" "1", 9))
            with self.assertRaises(OSError) as cm:
                u.sendmsg([b"x"])  # no destination
            self.assertEqual(cm.exception.errno, errno.EDESTADDRREQ)

    def test_closed_socket_raises_ebadf(self):
        a, b = pair()
        a.settimeout(2.5)
        a.close()
        b.close()
        for call in (lambda: a.sendmsg([b"x"]), lambda: a.recvmsg(1), lambda: a.recvmsg(0),
                     lambda: a.recvmsg_into([bytearray(1)]), lambda: a.recvmsg_into([]),
                     lambda: a.recvmsg(1, 64), a.dup):
            with self.assertRaises(OSError) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.EBADF)


@needs_native
class HandlesAndDefaults(unittest.TestCase):
    def test_dup_and_from_handle(self):
        a, b = pair()
        with closing(a), closing(b):
            a.settimeout(3.5)
            self.assertGreaterEqual(a.handle, 0)

            class Sub(_native.socket):
                pass

            d = Sub._from_handle(a.dup())
            with closing(d):
                self.assertIs(type(d), Sub)
                self.assertNotEqual(d.fileno(), a.fileno())
                self.assertEqual((d.family, d.type, d.timeout), (a.family, a.type, 3.5))
                d.sendall(b"dup")
                self.assertEqual(b.recv(8), b"dup")
            self.assertEqual(d.handle, -1)
            with self.assertRaises(OSError) as cm:
                _native.socket._from_handle(d.handle)
            self.assertEqual(cm.exception.errno, errno.EBADF)
            self.assertRaises(TypeError, _native.socket._from_handle, "1")

    def test_from_handle_like(self):
        srv, c = tcp_pair()
        with closing(srv), closing(c):
            h, _ = srv._accept()
            s = _native.socket._from_handle(h, srv)  # as accept() does
            with closing(s):
                self.assertEqual((s.family, s.type, s.proto), (srv.family, srv.type, srv.proto))
                c.sendall(b"x")
                s.settimeout(WAIT)
                self.assertEqual(s.recv(1), b"x")
            h = _native.socket.dup(c)
            self.assertRaises(TypeError, _native.socket._from_handle, h, "socket")
            # The handle was closed with the failure.
            with self.assertRaises(OSError) as cm:
                _native.socket._from_handle(h)
            self.assertEqual(cm.exception.errno, errno.EBADF)
            self.assertRaises(TypeError, _native.socket._from_handle)
            self.assertRaises(TypeError, _native.socket._from_handle, 1, None, None)

    def test_kind_read_when_needed_and_kept_after_close(self):
        srv, c = tcp_pair()
        with closing(srv), closing(c):
            # A handle of unknown kind: its family/type/proto come from the
            # kernel, also when first asked after close().
            for ask_first in (True, False):
                s = _native.socket._from_handle(_native.socket.dup(c))
                if ask_first:
                    self.assertEqual(s.family, c.family)
                s.close()
                # The kernel's protocol (c, made with 0, reports 0 as CPython's).
                self.assertEqual((s.family, s.type, s.proto), (c.family, c.type, 6))
                self.assertIn("family=%d" % c.family, repr(s))
            t = _native.socket._from_handle(_native.socket.dup(c))
            os.close(t.detach())
            self.assertEqual((t.family, t.type), (c.family, c.type))

    def test_close_reports_a_closed_fd(self):
        a, b = pair()
        with closing(b):
            os.close(a.fileno())  # behind the socket's back
            with self.assertRaises(OSError) as cm:
                a.close()
            self.assertEqual(cm.exception.errno, errno.EBADF)
            self.assertEqual(a.fileno(), -1)
            a.close()  # twice: harmless

    def test_create_connection(self):
        srv = _native.socket(_native_af_inet(), 1, 0)
        with closing(srv):
            srv.bind(("127.0.0.1", 0))
            srv.listen()
            port = srv.getsockname()[1]
            h = _native.create_connection(b"127.0.0.1", port, int(WAIT * 1000), None, 0)
            c = _native.socket._from_handle(h)
            with closing(c):
                self.assertEqual((c.family, c.type), (_native_af_inet(), 1))
                self.assertEqual(c.getpeername(), ("127.0.0.1", port))
            h = _native.create_connection(b"127.0.0.1", port, -1, b"127.0.0.1", 0)
            with closing(_native.socket._from_handle(h)) as c:
                self.assertEqual(c.getsockname()[0], "127.0.0.1")
        # Nobody listens there now.
        with self.assertRaises(ConnectionRefusedError):
            _native.create_connection(b"127.0.0.1", port, int(WAIT * 1000), None, 0)
        for bad in (("127.0.0.1", port, -1, None, 0), (b"127.0.0.1", "1", -1, None, 0),
                    (b"127.0.0.1", port, -1, "127.0.0.1", 0), (b"127.0.0.1", port)):
            self.assertRaises(TypeError, _native.create_connection, *bad)
        with self.assertRaises(OSError) as cm:
            _native.create_connection(b"127.0.0.1", 70000, -1, None, 0)
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_default_timeout(self):
        self.assertIsNone(_native.getdefaulttimeout())
        try:
            _native.setdefaulttimeout(2.5)
            self.assertEqual(_native.getdefaulttimeout(), 2.5)
            with closing(_native.socket()) as s:
                self.assertEqual(s.timeout, 2.5)
            for value, exc in ((-1, ValueError), (float("nan"), ValueError),
                               (float("inf"), OverflowError), ("1", TypeError)):
                self.assertRaises(exc, _native.setdefaulttimeout, value)
            self.assertEqual(_native.getdefaulttimeout(), 2.5)
        finally:
            _native.setdefaulttimeout(None)
        with closing(_native.socket()) as s:
            self.assertIsNone(s.timeout)


if __name__ == "__main__":
    unittest.main()
