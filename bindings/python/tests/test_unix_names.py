"""AF_UNIX names the text form cannot carry, as CPython's module takes and
gives them: abstract names (bytes starting with NUL) with NULs inside, and
paths that are not UTF-8 (str with surrogate escapes, or bytes)."""

import errno
import os
import sys
import unittest

from support import WAIT, TempDirCase, polysock

LINUX = sys.platform.startswith("linux")


def unix(kind=polysock.SOCK_STREAM):
    s = polysock.socket(polysock.AF_UNIX, kind)
    s.settimeout(WAIT)
    return s


@unittest.skipUnless(LINUX, "abstract names are Linux's")
class AbstractNames(unittest.TestCase):
    NAME = b"\0polysock\0py\0test\0"

    def test_stream_round_trip(self):
        with unix() as srv, unix() as cli:
            srv.bind(self.NAME)
            srv.listen()
            self.assertEqual(srv.getsockname(), self.NAME)
            cli.connect(self.NAME)
            self.assertEqual(cli.getpeername(), self.NAME)
            self.assertEqual(cli.getsockname(), "")
            conn, peer = srv.accept()
            with conn:
                self.assertEqual(peer, "")
                cli.sendall(b"ping")
                self.assertEqual(conn.recv(4), b"ping")

    def test_str_and_bytearray_names(self):
        for name in ("\0polysock\0str", bytearray(b"\0polysock\0ba")):
            with unix() as s:
                s.bind(name)
                want = name.encode() if isinstance(name, str) else bytes(name)
                self.assertEqual(s.getsockname(), want)

    def test_datagram_senders(self):
        to, frm = b"\0polysock\0to", b"\0polysock\0from\0"
        with unix(polysock.SOCK_DGRAM) as rx, unix(polysock.SOCK_DGRAM) as tx, \
                unix(polysock.SOCK_DGRAM) as anon:
            rx.bind(to)
            tx.bind(frm)
            tx.sendto(b"one", to)
            self.assertEqual(rx.recvfrom(8), (b"one", frm))
            anon.sendto(b"two", to)
            self.assertEqual(rx.recvfrom(8), (b"two", None))  # unnamed: None
            tx.sendto(b"three", 0, to)
            buf = bytearray(8)
            self.assertEqual(rx.recvfrom_into(buf), (5, frm))

    def test_longest_name_and_one_more(self):
        with unix() as s:
            s.bind(b"\0" + b"n" * 107)
            self.assertEqual(s.getsockname(), b"\0" + b"n" * 107)
        with unix() as s, self.assertRaises(OSError) as cm:
            s.bind(b"\0" + b"n" * 108)
        self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG)

    def test_connect_ex(self):
        with unix() as s:
            self.assertEqual(s.connect_ex(b"\0polysock\0nobody\0"), errno.ECONNREFUSED)


class Paths(TempDirCase):
    def test_path_that_is_not_utf8(self):
        raw = os.fsencode(self.dir) + b"/\xff\xfe-sock"
        text = os.fsdecode(raw)  # surrogate escapes, as CPython gives it
        for address in (raw, text):
            with unix() as srv, unix() as cli:
                srv.bind(address)
                srv.listen()
                self.assertEqual(srv.getsockname(), text)
                cli.connect(address)
                self.assertEqual(cli.getpeername(), text)
            os.unlink(raw)

    def test_nul_inside_a_path_is_refused(self):
        with unix() as s, self.assertRaises(ValueError):
            s.bind(b"/tmp/a\0b")

    def test_not_a_name(self):
        with unix() as s, self.assertRaises(TypeError):
            s.bind(42)


if __name__ == "__main__":
    unittest.main()
