"""The CPython API additions: messages, fd passing, CMSG sizes, inet_aton,
inheritable flags, the backend switch; errors included."""

import ctypes
import errno
import os
import socket as std
import struct
import subprocess
import sys
import unittest

from support import WAIT, polysock


class MessageTest(unittest.TestCase):
    def setUp(self):
        self.a, self.b = polysock.socketpair()
        self.addCleanup(self.a.close)
        self.addCleanup(self.b.close)
        self.b.settimeout(WAIT)

    def test_sendmsg_recvmsg(self):
        self.assertEqual(self.a.sendmsg([b"ab", bytearray(b"cd"), memoryview(b"e")]), 5)
        self.assertEqual(self.b.recvmsg(10), (b"abcde", [], 0, None))

    def test_recvmsg_into(self):
        self.a.sendall(b"hello world")
        x, y = bytearray(5), bytearray(10)
        n, anc, flags, addr = self.b.recvmsg_into([x, y])
        self.assertEqual((n, anc, flags), (11, [], 0))
        self.assertEqual(bytes(x) + bytes(y[:6]), b"hello world")

    def test_send_and_receive_a_descriptor(self):
        with polysock.socket() as carried:
            polysock.send_fds(self.a, [b"x"], [carried.fileno()])
            data, fds, flags, addr = polysock.recv_fds(self.b, 10, 2)
            self.assertEqual((data, len(fds)), (b"x", 1))
            with polysock.socket(fileno=fds[0]) as got:
                self.assertEqual(got.type, polysock.SOCK_STREAM)
                self.assertFalse(os.get_inheritable(got.fileno()))

    def test_bad_arguments(self):
        self.assertRaises(TypeError, self.a.sendmsg, [b"x", "str"])
        self.assertRaises(TypeError, self.a.sendmsg, 5)
        self.assertRaises(TypeError, self.a.sendmsg, [b"x"], [(1, 2)])
        self.assertRaises(TypeError, self.b.recvmsg_into, [b"read-only"])
        self.assertRaises(ValueError, self.b.recvmsg, -1)
        self.assertRaises(ValueError, self.b.recvmsg, 1, -1)
        with self.assertRaises(OSError):
            self.a.sendmsg([b"x"], [(polysock.SOL_SOCKET, 12345, b"")])

    def test_closed_socket(self):
        self.a.close()
        for call in (lambda: self.a.sendmsg([b"x"]), lambda: self.a.recvmsg(1),
                     lambda: self.a.recvmsg_into([bytearray(1)])):
            with self.assertRaises(OSError) as cm:
                call()
            self.assertEqual(cm.exception.errno, 9)


class FunctionsTest(unittest.TestCase):
    def test_cmsg_sizes_as_cpython(self):
        for n in (0, 1, 4, 8, 100):
            self.assertEqual(polysock.CMSG_LEN(n), std.CMSG_LEN(n))
            self.assertEqual(polysock.CMSG_SPACE(n), std.CMSG_SPACE(n))
        self.assertRaises(OverflowError, polysock.CMSG_LEN, -1)
        self.assertRaises(OverflowError, polysock.CMSG_SPACE, 2**40)
        self.assertRaises(TypeError, polysock.CMSG_LEN, "4")

    def test_inet_aton_ntoa_as_cpython(self):
        for text in ("1.2.3.4", "127.1", "0x7f.1", "0177.0.0.1", "10", "255.255.255.255"):
            self.assertEqual(polysock.inet_aton(text), std.inet_aton(text), text)
        for bad in ("", "1.2.3.4.5", "256.1.1.1", "a.b.c.d", "1.2.3.0x100"):
            self.assertRaises(OSError, polysock.inet_aton, bad)
        self.assertRaises(TypeError, polysock.inet_aton, b"1.2.3.4")
        self.assertEqual(polysock.inet_ntoa(b"\x7f\x00\x00\x01"), "127.0.0.1")
        self.assertRaises(OSError, polysock.inet_ntoa, b"\x01\x02\x03")
        self.assertRaises(TypeError, polysock.inet_ntoa, "1234")

    def test_close_and_dup_of_fds(self):
        with polysock.socket() as s:
            fd = polysock.dup(s.fileno())
            self.assertFalse(os.get_inheritable(fd))
            polysock.close(fd)
            self.assertRaises(OSError, os.fstat, fd)
        self.assertRaises(OSError, polysock.close, -1)
        self.assertRaises(TypeError, polysock.dup, "3")

    def test_inheritable(self):
        with polysock.socket() as s:
            self.assertFalse(s.get_inheritable())
            s.set_inheritable(True)
            self.assertTrue(s.get_inheritable())
        self.assertRaises(OSError, s.get_inheritable)

    def test_sethostname_errors(self):
        self.assertRaises(TypeError, polysock.sethostname, 5)

    def test_getnameinfo_ranges_as_cpython(self):
        self.assertRaises(OverflowError, polysock.getnameinfo, ("::1", 0, 0xFFFFFFFF), 0)
        self.assertRaises(OverflowError, polysock.getnameinfo, ("::1", 0, 0x100000), 0)
        self.assertRaises(OverflowError, polysock.getnameinfo, ("::1", 0, 0, -1), 0)
        self.assertRaises(OverflowError, polysock.getnameinfo, ("::1", 0, 0, 2**32), 0)
        self.assertEqual(polysock.getnameinfo(("::1", 80, 0xFFFFF, 0), polysock.NI_NUMERICHOST
                                              | polysock.NI_NUMERICSERV), ("::1", "80"))

    def test_ipv6_scope_is_the_tuples_not_the_hosts(self):
        if not polysock.has_ipv6:
            self.skipTest("no IPv6")
        index = polysock.if_nametoindex("lo")
        (*_, sockaddr), *_ = polysock.getaddrinfo("ff02::1de:c0:face:8d%lo", 1234,
                                                  polysock.AF_INET6, polysock.SOCK_DGRAM)
        self.assertEqual(sockaddr, ("ff02::1de:c0:face:8d", 1234, 0, index))


class SocketObjectTest(unittest.TestCase):
    def test_fileno_with_given_family_type_proto(self):
        # As CPython: with fileno=, what was given is what is reported.
        fd = polysock.socket(polysock.AF_INET, polysock.SOCK_STREAM).detach()
        with polysock.socket(200, 40, 23, fileno=fd) as s:
            self.assertEqual((s.family, s.type, s.proto), (200, 40, 23))
            self.assertIs(type(s.family), int)
        fd = polysock.socket(polysock.AF_INET, polysock.SOCK_STREAM).detach()
        with polysock.socket(fileno=fd) as s:
            self.assertIs(s.family, polysock.AF_INET)
            self.assertIs(s.type, polysock.SOCK_STREAM)

    def test_close_of_an_fd_closed_behind_polysock(self):
        s = polysock.socket()
        os.close(s.fileno())
        with self.assertRaises(OSError) as cm:
            s.close()
        self.assertEqual(cm.exception.errno, errno.EBADF)
        self.assertEqual(s.fileno(), -1)
        s.close()  # closed now: no error

    def test_sendto_arguments(self):
        with polysock.socket(polysock.AF_INET, polysock.SOCK_DGRAM) as s:
            self.assertRaises(TypeError, s.sendto, b"x")
            self.assertRaises(TypeError, s.sendto, b"x", 0, ("127.0.0.1", 9), 1)
            self.assertRaises(TypeError, s.sendto, b"x", None)
            self.assertRaises(TypeError, s.sendto, b"x", 0, None)
            self.assertRaises(TypeError, s.sendto, 5j, ("127.0.0.1", 9))
            if polysock.backend == "ctypes":
                with self.assertRaisesRegex(TypeError, r"\(1 given\)"):
                    s.sendto(b"x")
                with self.assertRaisesRegex(TypeError, "^a bytes-like object is required, "
                                                       "not 'complex'$"):
                    s.sendto(5j, ("127.0.0.1", 9))


class ControlMessageTest(unittest.TestCase):
    """The ctypes backend's ancillary data in the kernel's cmsghdr layout
    (for polysock_sendmsg_ex/recvmsg_ex), laid out and walked as CPython."""

    def setUp(self):
        from polysock import _ctypes_socket

        self.out = _ctypes_socket._control_out
        self.walk = _ctypes_socket._control_in

    def test_layout_is_cmsg_space_each(self):
        items = [(1, 1, b"\x05\x00\x00\x00"), (41, 52, b"abcde")]
        control = self.out(items)
        raw = bytes(control)
        self.assertEqual(len(raw), polysock.CMSG_SPACE(4) + polysock.CMSG_SPACE(5))
        length, level, kind = struct.unpack_from("Nii", raw, 0)
        self.assertEqual((length, level, kind), (polysock.CMSG_LEN(4), 1, 1))
        second = polysock.CMSG_SPACE(4)
        self.assertEqual(struct.unpack_from("Nii", raw, second),
                         (polysock.CMSG_LEN(5), 41, 52))
        self.assertEqual(raw[second + polysock.CMSG_LEN(5):], bytes(3))  # zero padding

    def test_round_trip(self):
        items = [(1, 1, struct.pack("3i", 7, 8, 9)), (41, 67, b""), (0, 2, b"x" * 13)]
        control = self.out(items)
        self.assertEqual(self.walk(control, ctypes.sizeof(control)), items)
        self.assertEqual(self.walk(control, 0), [])

    def test_truncated_data_warns_and_keeps_what_arrived(self):
        control = self.out([(1, 1, struct.pack("2i", 3, 4))])
        cut = polysock.CMSG_LEN(4) + 2
        with self.assertWarns(RuntimeWarning):
            got = self.walk(control, cut)
        self.assertEqual(got, [(1, 1, struct.pack("i", 3) + b"\x04\x00")])

    def test_header_cut_or_malformed_ends_the_walk(self):
        control = self.out([(1, 1, b"abcd"), (2, 2, b"efgh")])
        # A second header cut short is not there for glibc's CMSG_NXTHDR.
        got = self.walk(control, polysock.CMSG_SPACE(4) + 4)
        self.assertEqual(got, [(1, 1, b"abcd")])
        bad = self.out([(1, 1, b"abcd")])
        memoryview(bad).cast("B")[0:8] = struct.pack("N", 3)  # cmsg_len below a header
        with self.assertWarns(RuntimeWarning):
            self.assertEqual(self.walk(bad, ctypes.sizeof(bad)), [])


class EnumTest(unittest.TestCase):
    """The enum classes hold what CPython's hold: polysock's constants with
    the prefix that the interpreter's own _socket also names."""

    def test_members_are_cpythons_names(self):
        import _socket

        for enum, prefix in ((polysock.AddressFamily, "AF_"), (polysock.SocketKind, "SOCK_"),
                             (polysock.MsgFlag, "MSG_"), (polysock.AddressInfo, "AI_")):
            with self.subTest(enum=enum.__name__):
                names = set(enum.__members__)
                want = {n for n in polysock.constants
                        if n.isupper() and n.startswith(prefix) and hasattr(_socket, n)}
                self.assertEqual(names, want)
                values = [m.value for m in enum]
                self.assertEqual(values, sorted(values))

    def test_extra_constants_stay_plain(self):
        import _socket

        extra = [n for n in polysock.constants
                 if n.startswith(("AF_", "SOCK_", "MSG_")) and not hasattr(_socket, n)]
        for name in extra:
            value = getattr(polysock, name)
            self.assertIs(type(value), int, name)
            self.assertEqual(value, polysock.constants[name])

    def test_members_are_module_attributes(self):
        self.assertIs(polysock.AF_INET, polysock.AddressFamily.AF_INET)
        self.assertIs(polysock.MSG_PEEK, polysock.MsgFlag.MSG_PEEK)
        self.assertEqual(repr(polysock.SOCK_DGRAM), "<SocketKind.SOCK_DGRAM: 2>")


class BackendSwitchTest(unittest.TestCase):
    def run_with(self, value):
        env = dict(os.environ, POLYSOCK_BACKEND=value)
        code = "import sys; sys.path.insert(0, %r); import polysock; print(polysock.backend)" % (
            os.path.dirname(os.path.dirname(polysock.__file__)))
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=60)

    def test_ctypes_chosen(self):
        self.assertEqual(self.run_with("ctypes").stdout.strip(), "ctypes")

    def test_unknown_backend_refused(self):
        out = self.run_with("bogus")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("POLYSOCK_BACKEND", out.stderr)

    def test_backend_named(self):
        self.assertIn(polysock.backend, ("native", "ctypes"))


if __name__ == "__main__":
    unittest.main()
