"""makefile(): reading lines (text and binary), writing, and the socket's
deferred close."""

import errno
import unittest

from support import WAIT, polysock


class MakefileTest(unittest.TestCase):
    def setUp(self):
        self.a, self.b = polysock.socketpair()
        self.addCleanup(self.a.close)
        self.addCleanup(self.b.close)
        self.a.settimeout(WAIT)
        self.b.settimeout(WAIT)

    def test_text_lines_across_sends(self):
        f = self.b.makefile("r", encoding="utf-8")
        with f:
            for piece in (b"hel", b"lo\nwor", b"ld\n", "caf\u00e9\n".encode(), b"last"):
                self.a.sendall(piece)
            self.a.shutdown(polysock.SHUT_WR)
            self.assertEqual(f.readline(), "hello\n")
            self.assertEqual(f.readline(), "world\n")
            self.assertEqual(f.readline(), "caf\u00e9\n")
            self.assertEqual(f.readline(), "last")
            self.assertEqual(f.readline(), "")
            self.assertEqual(f.mode, "r")

    def test_binary_lines_and_iteration(self):
        self.a.sendall(b"one\r\ntwo\nthree\n")
        self.a.shutdown(polysock.SHUT_WR)
        with self.b.makefile("rb") as f:
            self.assertEqual(list(f), [b"one\r\n", b"two\n", b"three\n"])

    def test_readline_limit_and_read(self):
        self.a.sendall(b"abcdefgh\nrest")
        self.a.shutdown(polysock.SHUT_WR)
        with self.b.makefile("rb") as f:
            self.assertEqual(f.readline(3), b"abc")
            self.assertEqual(f.readline(), b"defgh\n")
            self.assertEqual(f.read(), b"rest")

    def test_makefile_and_recv_in_turn(self):
        # A line read through the file, then recv for what the peer sends
        # after the reader has seen everything that came before.
        with self.b.makefile("rb") as f:
            self.a.sendall(b"request\n")
            self.assertEqual(f.readline(), b"request\n")
            self.a.sendall(b"raw")
            self.assertEqual(self.b.recv(10), b"raw")

    def test_write(self):
        with self.a.makefile("w") as w:
            w.write("line one\n")
            w.write("line two\n")
            w.flush()
            with self.b.makefile("r") as r:
                self.assertEqual(r.readline(), "line one\n")
                self.assertEqual(r.readline(), "line two\n")

    def test_read_write(self):
        with self.a.makefile("rwb") as fa, self.b.makefile("rwb") as fb:
            fa.write(b"ping\n")
            fa.flush()
            self.assertEqual(fb.readline(), b"ping\n")
            fb.write(b"pong\n")
            fb.flush()
            self.assertEqual(fa.readline(), b"pong\n")

    def test_unbuffered_binary(self):
        raw = self.b.makefile("rb", buffering=0)
        with raw:
            self.assertIsInstance(raw, polysock.SocketIO)
            self.a.sendall(b"xyz")
            self.assertEqual(raw.read(3), b"xyz")
        self.assertRaises(ValueError, self.b.makefile, "r", buffering=0)

    def test_bad_mode(self):
        self.assertRaises(ValueError, self.b.makefile, "rx")

    def test_close_waits_for_the_file(self):
        f = self.b.makefile("rb")
        self.b.close()
        # The socket stays open while the file is.
        self.assertGreaterEqual(self.b.fileno(), 0)
        self.a.sendall(b"still here\n")
        self.assertEqual(f.readline(), b"still here\n")
        f.close()
        self.assertEqual(self.b.fileno(), -1)

    def test_file_closes_before_socket(self):
        f = self.b.makefile("rb")
        f.close()
        self.assertGreaterEqual(self.b.fileno(), 0)
        self.b.close()
        self.assertEqual(self.b.fileno(), -1)

    def test_timeout_in_readline(self):
        self.b.settimeout(0.05)
        with self.b.makefile("rb") as f:
            self.a.sendall(b"no newline yet")
            with self.assertRaises(TimeoutError) as cm:
                f.readline()
            self.assertEqual(cm.exception.errno, errno.ETIMEDOUT)
            # As CPython: after a timeout the file refuses to read on, since
            # part of a line may be lost.
            self.assertRaises(OSError, f.readline)

    def test_non_blocking_read_returns_none(self):
        self.b.setblocking(False)
        with self.b.makefile("rb", buffering=0) as raw:
            self.assertIsNone(raw.read(10))


if __name__ == "__main__":
    unittest.main()
