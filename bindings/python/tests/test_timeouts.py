"""Timeouts in seconds (float or None) over polysock's milliseconds."""

import errno
import unittest

from support import WAIT, listener, polysock


class TimeoutValueTest(unittest.TestCase):
    def setUp(self):
        self.s = polysock.socket()
        self.addCleanup(self.s.close)

    def test_round_trips(self):
        for value in (None, 0.0, 0.3, 2.5, 1, 3600):
            self.s.settimeout(value)
            got = self.s.gettimeout()
            self.assertEqual(got, None if value is None else float(value), value)
            self.assertEqual(self.s.timeout, got)

    def test_tiny_timeouts_round_up(self):
        self.s.settimeout(1e-9)
        self.assertEqual(self.s.gettimeout(), 0.001)
        self.assertTrue(self.s.getblocking())
        self.s.settimeout(0.0015)
        self.assertEqual(self.s.gettimeout(), 0.002)

    def test_bad_values(self):
        self.assertRaises(ValueError, self.s.settimeout, -1)
        self.assertRaises(ValueError, self.s.settimeout, float("nan"))
        self.assertRaises(OverflowError, self.s.settimeout, float("inf"))
        self.assertRaises(TypeError, self.s.settimeout, "1")
        self.assertEqual(self.s.gettimeout(), None)

    def test_setblocking(self):
        self.s.setblocking(False)
        self.assertEqual(self.s.gettimeout(), 0.0)
        self.assertFalse(self.s.getblocking())
        self.s.setblocking(True)
        self.assertEqual(self.s.gettimeout(), None)
        self.assertTrue(self.s.getblocking())
        self.s.settimeout(1.5)
        self.assertTrue(self.s.getblocking())

    def test_default_timeout(self):
        self.assertIsNone(polysock.getdefaulttimeout())
        try:
            polysock.setdefaulttimeout(2.5)
            self.assertEqual(polysock.getdefaulttimeout(), 2.5)
            with polysock.socket() as s:
                self.assertEqual(s.gettimeout(), 2.5)
            a, b = polysock.socketpair()
            with a, b:
                self.assertEqual(a.gettimeout(), 2.5)
            with listener() as server:
                with polysock.socket() as c:
                    c.connect(server.getsockname())
                    conn, _ = server.accept()
                    with conn:
                        self.assertEqual(conn.gettimeout(), 2.5)
            self.assertRaises(ValueError, polysock.setdefaulttimeout, -2)
        finally:
            polysock.setdefaulttimeout(None)
        self.assertIsNone(polysock.getdefaulttimeout())
        with polysock.socket() as s:
            self.assertIsNone(s.gettimeout())


class TimeoutBehaviourTest(unittest.TestCase):
    def setUp(self):
        self.server = listener()
        self.addCleanup(self.server.close)
        self.client = polysock.socket()
        self.addCleanup(self.client.close)
        self.client.settimeout(WAIT)
        self.client.connect(self.server.getsockname())
        self.conn, _ = self.server.accept()
        self.addCleanup(self.conn.close)

    def test_recv_times_out(self):
        self.conn.settimeout(0.05)
        with self.assertRaises(polysock.timeout) as cm:
            self.conn.recv(10)
        e = cm.exception
        self.assertIsInstance(e, TimeoutError)
        self.assertIsInstance(e, OSError)
        self.assertEqual(e.errno, errno.ETIMEDOUT)
        self.assertIn("recv", str(e))
        # The socket still works afterwards.
        self.client.sendall(b"late")
        self.conn.settimeout(WAIT)
        self.assertEqual(self.conn.recv(10), b"late")

    def test_recvfrom_and_recv_into_time_out(self):
        self.conn.settimeout(0.05)
        self.assertRaises(TimeoutError, self.conn.recvfrom, 10)
        self.assertRaises(TimeoutError, self.conn.recv_into, bytearray(10))

    def test_accept_times_out(self):
        self.server.settimeout(0.05)
        self.assertRaises(polysock.timeout, self.server.accept)

    def test_non_blocking(self):
        self.conn.setblocking(False)
        with self.assertRaises(BlockingIOError) as cm:
            self.conn.recv(10)
        self.assertIn(cm.exception.errno, (errno.EAGAIN, errno.EWOULDBLOCK))
        self.server.setblocking(False)
        self.assertRaises(BlockingIOError, self.server.accept)
        self.conn.settimeout(0)
        self.assertRaises(BlockingIOError, self.conn.recv_into, bytearray(4))

    def test_msg_dontwait(self):
        self.assertRaises(BlockingIOError, self.conn.recv, 10, polysock.MSG_DONTWAIT)

    def test_non_blocking_connect(self):
        with polysock.socket() as c:
            c.setblocking(False)
            try:
                c.connect(self.server.getsockname())
            except BlockingIOError as e:
                self.assertEqual(e.errno, errno.EINPROGRESS)

    def test_sendall_times_out_when_the_peer_does_not_read(self):
        self.client.settimeout(0.2)
        chunk = b"x" * (1 << 20)
        with self.assertRaises(TimeoutError):
            for _ in range(256):  # far more than the socket buffers hold
                self.client.sendall(chunk)


if __name__ == "__main__":
    unittest.main()
